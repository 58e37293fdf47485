#!/usr/bin/python3
"""IMAP operations per second of postie and of Dovecot, on this machine, same content.

N client processes (1, 10, 50 by default), each logged in with INBOX selected, run for a
fixed time against a server; postie and Dovecot blocks alternate (interleaved, the order
swapped every repetition), several repetitions. Every client sends one command, waits for
its tagged reply, and sends the next (closed loop), over plain TCP on 127.0.0.1.

Phases of one block (each client keeps its connection through all of them):

  mix            the loop: SELECT INBOX / FETCH 1:* (FLAGS UID RFC822.SIZE) /
                 FETCH r BODY.PEEK[] (r random) / STORE s +FLAGS (\\Seen), STORE s -FLAGS
                 (\\Seen) (s random among the unseen messages, so the pair leaves it as it
                 was) / UID SEARCH SUBJECT "w" (w random from the subject words) /
                 UID SEARCH UNSEEN / APPEND of a 1.5 KB message (LITERAL+), then
                 UID STORE u +FLAGS.SILENT (\\Deleted) and UID EXPUNGE u of the message it
                 appended, so the mailbox keeps its size: 10 commands per loop.
  mix_no_hsearch the same loop without the UID SEARCH SUBJECT (9 commands).
  select, fetch_list, fetch_body, store, search_header, search_unseen, append
                 one command type alone (append: with its two clean-up commands).

  ops/s          commands answered OK within the phase window, by type and overall,
                 divided by the window; latency per command type (median, p95).
  CPU            server: utime+stime of the master and every child from /proc (exact,
                 as in smtp_accept.py); clients: their utime+stime. Per operation.

Mailboxes: U users (u000..u009@example.test by default) on both servers, each INBOX
filled by APPEND with the same generated 2000 messages (sizes 0.5 KB to 500 KB, a
fixed seed, fixed flags and internal dates); client i works on user i mod U. Before
the first block the content is checked identical (every message's size, flags and
internal date for every user; sha256 of every BODY[] for the first user), and after
every block every INBOX must hold its 2000 messages with the initial number unseen.

postie: a fresh instance (`postie init DIR --port-base N`, /var/tmp, data_dir owned by
nobody when run as root), built by `meson setup build-imapbench -Dbuildtype=release`
(--postie to use another binary); imap_max_connections(_per_ip) raised (the clients all
come from 127.0.0.1).
Dovecot: its own instance of the Debian package (not the peer's running one: the
benchmark fills, appends and expunges, and must not touch other people's mailboxes),
configured as /etc/dovecot-peer/dovecot.conf is (same SQL passdb/userdb on SQLite, Maildir,
namespace, mail_fsync, plaintext auth, TLS certificate of the peer) but with its own
base_dir, mail root, users and port, and higher connection limits. See bench/README.md.
Passwords are {SHA512-CRYPT} on both (postie accepts Dovecot's scheme prefixes).

Usage (as root, Dovecot installed by the peer's up.sh):
  nice meson setup build-imapbench -Dbuildtype=release && nice ninja -C build-imapbench
  /usr/bin/python3 bench/imap_ops.py
  --sessions 1 10 50  --runs 3  --mix-seconds 20  --phase-seconds 8  --users 10
  --msgs 2000  --phases mix select ...  --no-postie / --no-dovecot  --keep  --out FILE
"""
import argparse
import base64
import calendar
import hashlib
import json
import multiprocessing
import os
import pwd
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import smtp_accept as sa  # noqa: E402  machine facts, /proc CPU accounting, helpers

REPO = os.path.dirname(HERE)
POSTIE = os.path.join(REPO, "build-imapbench", "postie")
DOMAIN = "example.test"
PEER_DC_CONF = "/etc/dovecot-peer/dovecot.conf"
PEER_TLS = "/etc/peer-mail/tls"
OUT_DIR = "/var/tmp/postie-bench"
NOFILE = 200000          # RLIMIT_NOFILE given to both servers and to the clients

PHASES = ("mix", "mix_no_hsearch", "select", "fetch_list", "fetch_body", "store",
          "search_header", "search_unseen", "append")
# command types as reported (the append unit's clean-up has two of its own)
CMD_TYPES = ("select", "fetch_list", "fetch_body", "store", "search_header", "search_unseen",
             "append", "store_deleted", "uid_expunge")


def log(msg):
    print(f"[imapbench] {msg}", file=sys.stderr, flush=True)


def user_name(i):
    return f"u{i:03d}@{DOMAIN}"


def user_pass(i):
    return f"bench-pw-{i:03d}"


# ---------------------------------------------------------------- IMAP client

LIT_RE = re.compile(rb"\{(\d+)\}\r\n")


class ImapError(Exception):
    pass


class Conn:
    """A minimal IMAP client on a raw socket: one command at a time, the reply read up
    to its tagged line, literals skipped by their announced length (so no text inside a
    message can be mistaken for a reply)."""

    def __init__(self, port, host="127.0.0.1", timeout=120.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.n = 0
        greet = self._line()
        if not greet.startswith(b"* OK"):
            raise ImapError(f"greeting {greet[:100]!r}")

    def _recv(self):
        d = self.sock.recv(1 << 18)
        if not d:
            raise ImapError("connection closed")
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            self._recv()

    def read_reply(self, tag):
        """Read through the tagged reply; returns (tagged line, bytes of reply)."""
        tagsp = tag + b" "
        pos = 0          # scanned up to here; always a line start unless after_lit
        after_lit = False
        while True:
            buf = self.buf
            m = LIT_RE.search(buf, pos)
            seg_end = m.start() if m else len(buf)
            # a tagged line starting inside [pos, seg_end)
            if not after_lit and buf.startswith(tagsp, pos):
                t = pos
            else:
                t = buf.find(b"\r\n" + tagsp, pos, seg_end)
                t = t + 2 if t >= 0 else -1
            if t >= 0:
                e = buf.find(b"\r\n", t)
                if e >= 0:
                    line = bytes(buf[t:e])
                    size = e + 2
                    del buf[:size]
                    return line, size
                self._recv()
                continue
            if m:
                need = m.end() + int(m.group(1))
                while len(self.buf) < need:
                    self._recv()
                pos = need
                after_lit = True
                continue
            # no literal, no tag yet: keep the last incomplete line for the next scan
            last = buf.rfind(b"\r\n", pos)
            if last >= 0:
                pos = last + 2
                after_lit = False
            self._recv()

    def cmd(self, text, check=True):
        self.n += 1
        tag = b"T%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        line, size = self.read_reply(tag)
        ok = line.startswith(tag + b" OK")
        if check and not ok:
            raise ImapError(f"{text[:60]!r}: {line[:200]!r}")
        return ok, line, size

    def cmd_data(self, text):
        """Like cmd, but returns the whole reply (for setup and checks, not for timing)."""
        self.n += 1
        tag = b"T%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        out = bytearray()
        while True:
            # read line by line, literals included, until the tagged line
            ln = self._line()
            out += ln + b"\r\n"
            m = re.search(rb"\{(\d+)\}$", ln)
            if m:
                n = int(m.group(1))
                while len(self.buf) < n:
                    self._recv()
                out += self.buf[:n]
                del self.buf[:n]
                continue
            if ln.startswith(tag + b" "):
                if not ln.startswith(tag + b" OK"):
                    raise ImapError(f"{text[:60]!r}: {ln[:200]!r}")
                return bytes(out)

    def append(self, mailbox, flags, date, msg, check=True):
        """APPEND with a non-synchronizing literal (LITERAL+, RFC 7888)."""
        self.n += 1
        tag = b"T%d" % self.n
        head = tag + b" APPEND " + mailbox
        if flags:
            head += b" (" + flags + b")"
        if date:
            head += b' "' + date + b'"'
        self.sock.sendall(head + b" {%d+}\r\n" % len(msg) + msg + b"\r\n")
        line, size = self.read_reply(tag)
        ok = line.startswith(tag + b" OK")
        if check and not ok:
            raise ImapError(f"APPEND: {line[:200]!r}")
        return ok, line, size

    def login(self, user, pw):
        self.cmd(b'LOGIN "%s" "%s"' % (user.encode(), pw.encode()))

    def close(self):
        try:
            self.sock.settimeout(5)
            self.cmd(b"LOGOUT", check=False)
        except (OSError, ImapError):
            pass
        self.sock.close()


# ---------------------------------------------------------------- the messages

NAMES = ("Alice Archer", "Bob Baker", "Carol Cooper", "Dave Dyer", "Erin Evans", "Frank Fisher",
         "Grace Gardner", "Heidi Hunter", "Ivan Ingram", "Judy Jones", "Mallory Mason",
         "Niaj Nolan", "Olivia Owens", "Peggy Parker", "Rupert Reed", "Sybil Stone",
         "Trent Turner", "Victor Vance", "Walter Webb", "Zoe Young")
ORGS = ("example.org", "example.net", "mail.example.com", "lists.example.org")
SUBJECT_WORDS = ("invoice", "meeting", "report", "budget", "review", "release", "holiday",
                 "contract", "schedule", "update", "question", "proposal", "minutes",
                 "deadline", "travel", "lunch", "quarterly", "backup", "server", "outage",
                 "design", "draft", "photos", "tickets", "renewal", "feedback", "agenda",
                 "password", "delivery", "newsletter")
BODY_WORDS = ("the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with",
              "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at",
              "which", "but", "have", "an", "had", "they", "you", "were", "their", "one",
              "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will",
              "would", "who", "so", "no", "mail", "server", "queue", "message", "folder",
              "account", "please", "thanks", "regards", "tomorrow", "attached", "version")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _text(rng, size):
    lines, n = [], 0
    while n < size:
        words, w = [], 0
        while w < 66:
            x = rng.choice(BODY_WORDS)
            words.append(x)
            w += len(x) + 1
        ln = " ".join(words)
        lines.append(ln)
        n += len(ln) + 2
    return "\r\n".join(lines) + "\r\n"


def _body_size(rng):
    r = rng.random()
    if r < 0.70:
        return rng.randint(300, 10000)
    if r < 0.95:
        return rng.randint(10000, 60000)
    return rng.randint(100000, 500000)


def make_corpus(n, seed=20261124):
    """n messages (CRLF, 7-bit), flags and internal dates, from a fixed seed: the same
    bytes on every run and for every user. About 70 % are seen, 10 % flagged,
    5 % answered; about 5 % carry an attachment of 100-500 KB."""
    rng = random.Random(seed)
    msgs = []
    t0 = 1767225600   # 2026-01-01 00:00:00 UTC
    for i in range(n):
        t = t0 + i * 3517 + rng.randint(0, 3000)
        tm = time.gmtime(t)
        hdate = (f"{DAYS[tm.tm_wday]}, {tm.tm_mday} {MONTHS[tm.tm_mon - 1]} {tm.tm_year} "
                 f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000")
        idate = (f"{tm.tm_mday:2d}-{MONTHS[tm.tm_mon - 1]}-{tm.tm_year} "
                 f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000")
        name = rng.choice(NAMES)
        addr = name.split()[0].lower() + "@" + rng.choice(ORGS)
        words = rng.sample(SUBJECT_WORDS, rng.randint(2, 4))
        subject = ("Re: " if rng.random() < 0.3 else "") + " ".join(words).capitalize() + f" #{i}"
        size = _body_size(rng)
        hdr = (f"Return-Path: <{addr}>\r\n"
               f"Received: from mx.{addr.split('@')[1]} (mx.{addr.split('@')[1]} [192.0.2.{i % 250 + 1}])\r\n"
               f"\tby mail.{DOMAIN} with ESMTPS id b{i:06x}; {hdate}\r\n"
               f"From: {name} <{addr}>\r\n"
               f"To: Bench User <bench@{DOMAIN}>\r\n"
               f"Subject: {subject}\r\n"
               f"Date: {hdate}\r\n"
               f"Message-ID: <{i}.{seed}@{addr.split('@')[1]}>\r\n"
               f"MIME-Version: 1.0\r\n")
        if size > 60000:
            bnd = f"=_bench_{i}_{seed}"
            att = base64.encodebytes(rng.randbytes(size * 3 // 4)).decode().replace("\n", "\r\n")
            body = (f"This is a multi-part message in MIME format.\r\n\r\n--{bnd}\r\n"
                    f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{_text(rng, 800)}\r\n"
                    f"--{bnd}\r\nContent-Type: application/octet-stream; name=\"file{i}.bin\"\r\n"
                    f"Content-Transfer-Encoding: base64\r\n"
                    f"Content-Disposition: attachment; filename=\"file{i}.bin\"\r\n\r\n"
                    f"{att}--{bnd}--\r\n")
            hdr += f"Content-Type: multipart/mixed; boundary=\"{bnd}\"\r\n"
        else:
            body = _text(rng, size)
            hdr += "Content-Type: text/plain; charset=us-ascii\r\n"
        flags = []
        r = rng.random()
        if r < 0.70:
            flags.append("\\Seen")
        if rng.random() < 0.10:
            flags.append("\\Flagged")
        if rng.random() < 0.05:
            flags.append("\\Answered")
        msgs.append({"data": (hdr + "\r\n" + body).encode(), "flags": " ".join(flags),
                     "idate": idate, "words": words})
    return msgs


def small_message(i, pid):
    body = _text(random.Random(i), 1200)
    return (f"From: Bench Client <client@{DOMAIN}>\r\nTo: Bench User <bench@{DOMAIN}>\r\n"
            f"Subject: appended {pid}.{i}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <append.{pid}.{i}@{DOMAIN}>\r\n\r\n{body}").encode()


# ---------------------------------------------------------------- /proc: memory, trees

def proc_table():
    """pid -> (ppid, comm) for every process."""
    t = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        r = s.rfind(")")
        t[int(d)] = (int(s[r + 2:].split()[1]), s[s.find("(") + 1:r])
    return t


def tree_pids(root):
    """root and all its descendants."""
    t = proc_table()
    kids = {}
    for pid, (ppid, _) in t.items():
        kids.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        if p in t:
            out.append(p)
            stack.extend(kids.get(p, []))
    return out, t


def pss_kib(pid):
    """(Pss, Rss) in KiB from smaps_rollup, or None for a process that is gone."""
    pss = rss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        return None
    return pss, rss


def tree_memory(root):
    """Sum of PSS (and RSS) over a process tree, with a breakdown by process name."""
    pids, t = tree_pids(root)
    tot_pss = tot_rss = 0
    by = {}
    for p in pids:
        m = pss_kib(p)
        if m is None or m[0] is None:
            continue
        tot_pss += m[0]
        tot_rss += m[1] or 0
        c = by.setdefault(t[p][1], [0, 0, 0])
        c[0] += 1
        c[1] += m[0]
        c[2] += m[1] or 0
    return {"procs": sum(v[0] for v in by.values()), "pss_kib": tot_pss, "rss_kib": tot_rss,
            "by_comm": {k: {"n": v[0], "pss_kib": v[1], "rss_kib": v[2]}
                        for k, v in sorted(by.items(), key=lambda x: -x[1][1])}}


def raise_nofile(n=NOFILE):
    """Descriptor limit up to n, or to the hard limit where raising the hard limit is
    not allowed (no CAP_SYS_RESOURCE in a container)."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def sha512_crypt(passwords):
    """$6$ hashes from openssl (one line per password on stdin)."""
    r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input="\n".join(passwords) + "\n",
                       capture_output=True, text=True, check=True)
    out = r.stdout.split()
    if len(out) != len(passwords):
        raise SystemExit("openssl passwd -6 gave an unexpected answer")
    return out


def port_free_range(start, count=1):
    for p in range(start, start + 5000):
        if all(sa.port_free(p + k) for k in range(count)):
            return p
    raise SystemExit("no free port")


# ---------------------------------------------------------------- the servers

class Postie:
    name = "postie"

    def __init__(self, nusers, keep, binary=POSTIE, extra_conf=""):
        self.keep, self.bin = keep, binary
        self.dir = tempfile.mkdtemp(prefix="imapbench-postie.", dir="/var/tmp")
        os.rmdir(self.dir)
        base = sa.free_port_base()
        self.port = base + 143
        self.smtp_port = base + 25
        self.conf = os.path.join(self.dir, "postie.conf")
        r = sa.run([self.bin, "init", self.dir, "--port-base", str(base)])
        if r.returncode != 0:
            raise SystemExit(f"postie init failed: {r.stderr}")
        with open(self.conf, "a") as f:
            f.write("\n# bench/imap_ops.py: every client connects from 127.0.0.1; Dovecot's\n"
                    "# instance gets mail_max_userip_connections raised the same way.\n"
                    "imap_max_connections = 30000\n"
                    "imap_max_connections_per_ip = 30000\n" + extra_conf)
        r = sa.run([self.bin, "-c", self.conf, "domain", "add", DOMAIN])
        if r.returncode != 0:
            raise SystemExit(f"postie domain add: {r.stderr}")
        # Users: `postie user add` stores yescrypt; the same {SHA512-CRYPT} hash as
        # Dovecot's is written over it so that logins cost the same on both servers.
        hashes = sha512_crypt([user_pass(i) for i in range(nusers)])
        for i in range(nusers):
            r = subprocess.run([self.bin, "-c", self.conf, "user", "add", user_name(i)],
                               input=user_pass(i) + "\n", capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"postie user add: {r.stderr}")
        db = sqlite3.connect(os.path.join(self.dir, "postie.db"))
        with db:
            for i in range(nusers):
                db.execute("UPDATE users SET password = ? WHERE address = ?",
                           ("{SHA512-CRYPT}" + hashes[i], user_name(i)))
        db.close()
        self.owner = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            self.owner = (pw.pw_uid, pw.pw_gid)
            for dp, dns, fns in os.walk(self.dir):
                for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
                    os.lchown(n, *self.owner)
        self.log = os.path.join(self.dir, "serve.log")
        self.proc = None

    def maildir(self, i):
        return os.path.join(self.dir, "mail", DOMAIN, user_name(i).split("@")[0])

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.bin, "-c", self.conf, "serve"], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     preexec_fn=raise_nofile)
        ok = sa.wait_until(lambda: self.proc.poll() is not None or imap_greets(self.port), 20, 0.2)
        if not ok or self.proc.poll() is not None:
            raise SystemExit(f"postie serve did not come up; see {self.log}")
        self.root = self.proc.pid
        self.child_pids = sorted(sa.children(self.root))
        log(f"postie on 127.0.0.1:{self.port} from {self.dir} (master {self.root}, "
            f"children {self.child_pids})")

    def restarted(self):
        return self.proc.poll() is not None or sorted(sa.children(self.root)) != self.child_pids

    def log_offset(self):
        return sa.file_size(self.log)

    def halt(self):
        """Stop the server, keep its data (imap_idle.py restarts it)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        self.proc = None

    def stop(self):
        self.halt()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    NORMAL = re.compile(r" (imap connect|imap login|imap logout|imap disconnect) | master: "
                        r"(listening for|postie .* ready|stopping|stopped)")

    def log_problems(self, off=0):
        """Lines of the log other than the per-session and start/stop ones (postie's log
        has no severity in its lines)."""
        txt = sa.read_from(self.log, off)
        bad = [ln for ln in txt.splitlines() if ln and not self.NORMAL.search(ln)]
        return len(bad), bad[:10]

    def describe(self):
        return {"dir": self.dir, "port": self.port, "binary": self.bin}


DOVECOT_CONF = """\
# Written by bench/imap_ops.py for one benchmark run. Modeled on the peer stack's
# {peer_conf} (same passdb/userdb driver, Maildir layout, namespace, mail_fsync,
# plaintext auth, TLS certificate); own base_dir, mail root, users, port, limits.
instance_name = imapbench-{stamp}
base_dir = {dir}/run
state_dir = {dir}/state
protocols = imap
listen = 127.0.0.1
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log

ssl = yes
ssl_cert = <{tls}/cert.pem
ssl_key = <{tls}/key.pem
ssl_min_protocol = TLSv1.2

disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu

passdb {{
  driver = sql
  args = {dir}/sql.conf.ext
}}
userdb {{
  driver = sql
  args = {dir}/sql.conf.ext
}}

mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{mail}/%d/%n/Maildir
mail_privileged_group =
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}
postmaster_address = postmaster@{domain}
hostname = mail.{domain}

# Limits (bench/README.md says why): every client connects from 127.0.0.1 with few
# users; stock mail_max_userip_connections = 10, process_limit = 100, client_limit = 1000.
mail_max_userip_connections = 30000
default_process_limit = 200
default_client_limit = {client_limit}
service imap {{
  process_limit = 12000
  client_limit = {imap_client_limit}
  service_count = {imap_service_count}
{imap_extra}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  process_limit = 1024
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0600
  }}
}}
{extra}"""

SQL_CONF = """\
driver = sqlite
connect = {db}
default_pass_scheme = SHA512-CRYPT
password_query = SELECT email AS user, password FROM users WHERE email = '%u' AND active = 1
user_query = SELECT '{mail}/' || domain || '/' || localpart AS home FROM users WHERE email = '%u' AND active = 1
iterate_query = SELECT email AS user FROM users WHERE active = 1
"""

HIBERNATE_CONF = """\
# Dovecot's own answer to many idle connections: IDLE sessions move into one
# imap-hibernate process after imap_hibernate_timeout.
imap_hibernate_timeout = {timeout}
service imap-hibernate {{
  unix_listener imap-hibernate {{
    mode = 0660
    group = $default_internal_group
  }}
  # one process holds every hibernated session: the default 256 MB of
  # address space is not enough for thousands
  vsz_limit = 4G
}}
"""


class Dovecot:
    name = "dovecot"

    def __init__(self, nusers, keep, imap_client_limit=1, hibernate=None, label="dovecot",
                 imap_service_count=1):
        self.keep, self.label = keep, label
        self.imap_client_limit, self.hibernate = imap_client_limit, hibernate
        self.imap_service_count = imap_service_count
        if not os.path.exists(PEER_DC_CONF) or not os.path.exists(PEER_TLS + "/cert.pem"):
            raise SystemExit("the peer stack is not set up: sudo bash "
                             "/work/shared/peers/postfix-dovecot/up.sh")
        self.dir = tempfile.mkdtemp(prefix="imapbench-dovecot.", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.mail = os.path.join(self.dir, "mail")
        vm = pwd.getpwnam("vmail")
        self.owner = (vm.pw_uid, vm.pw_gid)
        os.makedirs(self.mail)
        os.chown(self.mail, *self.owner)
        self.port = port_free_range(23143)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        db = os.path.join(self.dir, "users.sqlite")
        con = sqlite3.connect(db)
        with con:
            con.execute("CREATE TABLE users (email TEXT PRIMARY KEY, localpart TEXT NOT NULL, "
                        "domain TEXT NOT NULL, password TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1)")
            hashes = sha512_crypt([user_pass(i) for i in range(nusers)])
            for i in range(nusers):
                con.execute("INSERT INTO users VALUES (?, ?, ?, ?, 1)",
                            (user_name(i), user_name(i).split("@")[0], DOMAIN,
                             "{SHA512-CRYPT}" + hashes[i]))
        con.close()
        os.chmod(db, 0o600)
        with open(os.path.join(self.dir, "sql.conf.ext"), "w") as f:
            f.write(SQL_CONF.format(db=db, mail=self.mail))
        os.chmod(os.path.join(self.dir, "sql.conf.ext"), 0o600)
        imap_extra = ""
        extra = ""
        if imap_client_limit > 1:
            # many sessions per imap process: the default vsz_limit (256 MB)
            # ends them with "Out of memory" at a few hundred (Dovecot's
            # documentation says to raise it with client_limit)
            imap_extra += "  vsz_limit = 4G\n"
        if hibernate:
            # the imap process hands the session to imap-hibernate and back
            imap_extra += "  unix_listener imap-master {\n    user = $default_internal_user\n  }\n"
            extra = HIBERNATE_CONF.format(timeout=hibernate)
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(peer_conf=PEER_DC_CONF, stamp=os.path.basename(self.dir)[-8:],
                                        dir=self.dir, tls=PEER_TLS, uid=vm.pw_uid, gid=vm.pw_gid,
                                        mail=self.mail, domain=DOMAIN, port=self.port,
                                        imap_client_limit=imap_client_limit,
                                        imap_service_count=imap_service_count,
                                        imap_extra=imap_extra, extra=extra,
                                        client_limit=dovecot_client_limit()))
        r = sa.run(["doveconf", "-c", self.conf, "-n"])
        if r.returncode != 0:
            raise SystemExit(f"doveconf: {r.stderr}")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.root = None

    def maildir(self, i):
        u = user_name(i).split("@")[0]
        return os.path.join(self.mail, DOMAIN, u, "Maildir")

    def start(self):
        # dovecot daemonizes: its output goes to a file, not to a pipe nobody closes
        with open(os.path.join(self.dir, "start.out"), "wb") as out:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL, stdout=out,
                               stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        if r.returncode != 0:
            raise SystemExit(f"dovecot did not start: {sa.read_from(out.name, 0)}")
        pidf = os.path.join(self.dir, "run", "master.pid")
        if not sa.wait_until(lambda: sa.read_pidfile(pidf) and imap_greets(self.port), 20, 0.2):
            raise SystemExit(f"dovecot did not come up; see {self.log}")
        self.root = sa.read_pidfile(pidf)
        log(f"{self.label} on 127.0.0.1:{self.port} from {self.dir} (master {self.root}, "
            f"imap client_limit {self.imap_client_limit}, hibernate {self.hibernate})")

    def restarted(self):
        return False

    def log_offset(self):
        return sa.file_size(self.log)

    def halt(self):
        if self.root:
            sa.run(["dovecot", "-c", self.conf, "stop"])
            sa.wait_until(lambda: not os.path.exists(f"/proc/{self.root}"), 120, 0.2)
        self.root = None

    def stop(self):
        self.halt()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_problems(self, off=0):
        txt = sa.read_from(self.log, off)
        bad = [ln for ln in txt.splitlines()
               if re.search(r"(Warning|Error|Fatal|Panic):", ln)]
        return len(bad), bad[:10]

    def describe(self):
        return {"dir": self.dir, "port": self.port, "imap_client_limit": self.imap_client_limit,
                "imap_service_count": self.imap_service_count, "hibernate": self.hibernate}


def dovecot_client_limit():
    """default_client_limit: room for every connection of the benchmark, but under the
    descriptor limit Dovecot's master can give its services."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return max(1000, min(40000, hard - 1000))


def imap_greets(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(200).startswith(b"* OK")
    except OSError:
        return False


# ---------------------------------------------------------------- filling and checks

def fill_user(port, i, corpus):
    c = Conn(port)
    c.login(user_name(i), user_pass(i))
    st = c.cmd_data(b"STATUS INBOX (MESSAGES)")
    have = int(re.search(rb"MESSAGES (\d+)", st).group(1))
    if have not in (0, len(corpus)):
        raise SystemExit(f"user {i}: INBOX holds {have} messages, neither 0 nor {len(corpus)}")
    if have == 0:
        for m in corpus:
            c.append(b"INBOX", m["flags"].encode(), m["idate"].encode(), m["data"])
    c.close()


def fill(server, nusers, corpus, threads=4):
    """APPEND the corpus to every user's INBOX, a few users at a time."""
    t0 = time.monotonic()
    errs = []

    def work(ids):
        try:
            for i in ids:
                fill_user(server.port, i, corpus)
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))

    ths = [threading.Thread(target=work, args=(list(range(k, nusers, threads)),)) for k in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errs:
        raise SystemExit(f"filling {server.name} failed: {errs[:3]}")
    return round(time.monotonic() - t0, 1)


FETCH_META_RE = re.compile(rb"\* (\d+) FETCH \((.*)\)\r\n")


def imap_date_epoch(s):
    """IMAP date-time ("dd-Mon-yyyy hh:mm:ss +zzzz") as seconds since the epoch."""
    m = re.match(r"\s*(\d+)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$", s)
    if not m:
        return s
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    t = calendar.timegm((int(y), MONTHS.index(mon) + 1, int(d), int(hh), int(mm), int(ss)))
    off = (int(zh) * 3600 + int(zm) * 60) * (1 if sign == "+" else -1)
    return t - off


def mailbox_signature(port, i, bodies):
    """Per message: size, flags, internal date (and sha256 of BODY[] if bodies)."""
    c = Conn(port)
    c.login(user_name(i), user_pass(i))
    c.cmd(b"EXAMINE INBOX")
    data = c.cmd_data(b"FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE)")
    sig = []
    for m in FETCH_META_RE.finditer(data):
        body = m.group(2)
        size = int(re.search(rb"RFC822.SIZE (\d+)", body).group(1))
        flags = sorted(f for f in re.search(rb"FLAGS \(([^)]*)\)", body).group(1).split()
                       if f != b"\\Recent")
        idate = re.search(rb'INTERNALDATE "([^"]*)"', body).group(1)
        sig.append((int(m.group(1)), size, b" ".join(flags).decode(), imap_date_epoch(idate.decode())))
    digests = []
    if bodies:
        for seq in range(1, len(sig) + 1):
            d = c.cmd_data(b"FETCH %d BODY.PEEK[]" % seq)
            k = d.index(b"}\r\n") + 3
            n = int(d[d.rindex(b"{", 0, k):k - 3][1:])
            digests.append(hashlib.sha256(d[k:k + n]).hexdigest()[:16])
    c.close()
    return sig, digests


def check_identical(servers, nusers, corpus):
    """Both servers hold the corpus, message for message."""
    exp = [(k + 1, len(m["data"]), " ".join(sorted(m["flags"].split())), imap_date_epoch(m["idate"]))
           for k, m in enumerate(corpus)]
    exp_digests = [hashlib.sha256(m["data"]).hexdigest()[:16] for m in corpus]
    problems = []
    for s in servers:
        for i in range(nusers):
            sig, dig = mailbox_signature(s.port, i, bodies=(i == 0))
            if sig != exp:
                bad = [(a, b) for a, b in zip(sig, exp) if a != b][:3]
                problems.append(f"{s.name} user {i}: {len(sig)} messages, first differences {bad}")
            if i == 0 and dig != exp_digests:
                problems.append(f"{s.name} user 0: BODY[] differs from what was appended")
    return problems


def inbox_status(port, nusers):
    out = {}
    for i in range(nusers):
        c = Conn(port)
        c.login(user_name(i), user_pass(i))
        st = c.cmd_data(b"STATUS INBOX (MESSAGES UNSEEN)")
        c.close()
        out[i] = (int(re.search(rb"MESSAGES (\d+)", st).group(1)),
                  int(re.search(rb"UNSEEN (\d+)", st).group(1)))
    return out


# ---------------------------------------------------------------- the client processes

class Workload:
    def __init__(self, corpus, rng, pid):
        self.n = len(corpus)
        self.unseen = [k + 1 for k, m in enumerate(corpus) if "\\Seen" not in m["flags"]]
        self.rng = rng
        self.pid = pid
        self.k = 0

    # each unit returns [(type, seconds, tagged line or None if OK, t_done), ...]
    def select(self, c):
        t = time.perf_counter()
        bad = res(c.cmd(b"SELECT INBOX", check=False))
        return [("select", time.perf_counter() - t, bad, time.monotonic())]

    def fetch_list(self, c):
        t = time.perf_counter()
        bad = res(c.cmd(b"FETCH 1:* (FLAGS UID RFC822.SIZE)", check=False))
        return [("fetch_list", time.perf_counter() - t, bad, time.monotonic())]

    def fetch_body(self, c):
        seq = self.rng.randint(1, self.n)
        t = time.perf_counter()
        bad = res(c.cmd(b"FETCH %d BODY.PEEK[]" % seq, check=False))
        return [("fetch_body", time.perf_counter() - t, bad, time.monotonic())]

    def store(self, c):
        seq = self.rng.choice(self.unseen)
        out = []
        for op in (b"+", b"-"):
            t = time.perf_counter()
            bad = res(c.cmd(b"STORE %d %sFLAGS (\\Seen)" % (seq, op), check=False))
            out.append(("store", time.perf_counter() - t, bad, time.monotonic()))
        return out

    def search_header(self, c):
        w = self.rng.choice(SUBJECT_WORDS).encode()
        t = time.perf_counter()
        bad = res(c.cmd(b'UID SEARCH SUBJECT "%s"' % w, check=False))
        return [("search_header", time.perf_counter() - t, bad, time.monotonic())]

    def search_unseen(self, c):
        t = time.perf_counter()
        bad = res(c.cmd(b"UID SEARCH UNSEEN", check=False))
        return [("search_unseen", time.perf_counter() - t, bad, time.monotonic())]

    def append(self, c):
        self.k += 1
        msg = small_message(self.k, self.pid)
        t = time.perf_counter()
        r = c.append(b"INBOX", b"\\Seen", None, msg, check=False)
        out = [("append", time.perf_counter() - t, res(r), time.monotonic())]
        m = re.search(rb"APPENDUID \d+ (\d+)", r[1])
        if not r[0] or not m:
            return out + [("append_no_uid", 0.0, r[1], time.monotonic())]
        uid = int(m.group(1))
        t = time.perf_counter()
        bad = res(c.cmd(b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid, check=False))
        out.append(("store_deleted", time.perf_counter() - t, bad, time.monotonic()))
        t = time.perf_counter()
        bad = res(c.cmd(b"UID EXPUNGE %d" % uid, check=False))
        out.append(("uid_expunge", time.perf_counter() - t, bad, time.monotonic()))
        return out

    def units(self, phase):
        if phase == "mix":
            return [self.select, self.fetch_list, self.fetch_body, self.store,
                    self.search_header, self.search_unseen, self.append]
        if phase == "mix_no_hsearch":
            return [self.select, self.fetch_list, self.fetch_body, self.store,
                    self.search_unseen, self.append]
        return [getattr(self, phase)]


def res(r):
    """None for a tagged OK, else the tagged line."""
    return None if r[0] else r[1]


def client_main(idx, port, user, pw, corpus_meta, conn):
    """One client process: log in, select INBOX, then run the phases it is told to."""
    try:
        raise_nofile(4096)
        c = Conn(port)
        c.login(user, pw)
        c.cmd(b"SELECT INBOX")
        wl = Workload(corpus_meta, random.Random(idx * 7919 + os.getpid()), os.getpid())
        conn.send(("ready", os.getpid()))
        while True:
            msg = conn.recv()
            if msg[0] == "quit":
                c.close()
                conn.send(("bye",))
                return
            _, phase, t_start, t_end = msg
            units = wl.units(phase)
            while time.monotonic() < t_start:
                time.sleep(min(0.01, t_start - time.monotonic()))
            lat, errs, samples, late = {}, {}, {}, 0
            k = 0
            while time.monotonic() < t_end:
                for typ, dt, bad, done in units[k % len(units)](c):
                    if done > t_end:
                        late += 1
                        continue
                    if bad is None:
                        lat.setdefault(typ, []).append(dt)
                        continue
                    # NO [EXPUNGEISSUE] (RFC 5530): a message of the set was expunged by
                    # another session meanwhile; an answer, counted apart
                    kind = typ + ("_expungeissue" if b"[EXPUNGEISSUE]" in bad else "_failed")
                    errs[kind] = errs.get(kind, 0) + 1
                    smp = samples.setdefault(kind, [])
                    if len(smp) < 3:
                        smp.append(bad[:160].decode("ascii", "replace"))
                k += 1
            conn.send(("done", {"lat": lat, "errors": errs, "samples": samples, "late": late}))
    except Exception as e:  # noqa: BLE001
        try:
            conn.send(("error", repr(e)[:300]))
        except OSError:
            pass


def proc_cpu_s(pids):
    tot = 0
    for p in pids:
        st = sa.read_stat(p)
        if st:
            tot += st[2]
    return tot / sa.HZ


def run_block(server, nclients, nusers, corpus_meta, phases, mix_s, phase_s, timeout=600):
    """One server, N clients, every phase. Returns per-phase results."""
    ctx = multiprocessing.get_context("fork")
    procs, pipes = [], []
    for i in range(nclients):
        a, b = ctx.Pipe()
        u = i % nusers
        p = ctx.Process(target=client_main, args=(i, server.port, user_name(u), user_pass(u),
                                                  corpus_meta, b), daemon=True)
        p.start()
        procs.append(p)
        pipes.append(a)
    cpids = []
    try:
        for a in pipes:
            if not a.poll(120):
                raise SystemExit(f"{server.name}: a client did not log in within 120 s")
            m = a.recv()
            if m[0] != "ready":
                raise SystemExit(f"{server.name}: client failed: {m}")
            cpids.append(m[1])
        results = {}
        tree = sa.Tree(server.name, server.root)
        for ph in phases:
            dur = mix_s if ph.startswith("mix") else phase_s
            t_start = time.monotonic() + 0.3
            t_end = t_start + dur
            for a in pipes:
                a.send(("run", ph, t_start, t_end))
            sampler = sa.Sampler([tree])
            while time.monotonic() < t_start:
                time.sleep(0.005)
            snap0 = sampler.snapshot()
            st0 = sa.proc_stat_cpu()
            all0 = sa.all_procs_cpu()
            ccpu0 = proc_cpu_s(cpids)
            sampler.start()
            while time.monotonic() < t_end:
                time.sleep(min(0.05, max(0.0, t_end - time.monotonic())))
            snap1 = sampler.snapshot()
            st1 = sa.proc_stat_cpu()
            all1 = sa.all_procs_cpu()
            ccpu1 = proc_cpu_s(cpids)
            sampler.stop()
            outs = []
            for a in pipes:
                if not a.poll(timeout):
                    raise SystemExit(f"{server.name}: a client did not finish phase {ph}")
                m = a.recv()
                if m[0] != "done":
                    raise SystemExit(f"{server.name}: client failed in {ph}: {m}")
                outs.append(m[1])
            results[ph] = summarize_phase(outs, dur, tree, snap0, snap1, st0, st1, ccpu1 - ccpu0,
                                          all0, all1, set(cpids) | {server.root, os.getpid()})
            log(f"  {server.name:7s} N={nclients:<3d} {ph:13s} {results[ph]['ops_per_s']:8.1f} ops/s "
                f"(server cpu {results[ph]['server_cpu_ms_per_op']:.3f} ms/op, "
                f"busy {results[ph]['machine_busy_pct']} %, errors {results[ph]['errors']})")
        for a in pipes:
            a.send(("quit",))
        for a in pipes:
            if a.poll(30):
                a.recv()
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
    return results


def pct(v, q):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def summarize_phase(outs, dur, tree, snap0, snap1, st0, st1, client_cpu, all0, all1, mine):
    by = {}
    errors = {}
    samples = {}
    late = 0
    for o in outs:
        for typ, v in o["lat"].items():
            by.setdefault(typ, []).extend(v)
        for typ, n in o["errors"].items():
            errors[typ] = errors.get(typ, 0) + n
        for typ, v in o["samples"].items():
            samples.setdefault(typ, []).extend(v[:3 - len(samples.get(typ, []))])
        late += o["late"]
    total = sum(len(v) for v in by.values())
    cpu = sa.cpu_delta(snap0[tree.name], snap1[tree.name])
    busy = sa.busy_pct(st0, st1)
    types = {}
    for typ, v in by.items():
        types[typ] = {"n": len(v), "ops_per_s": round(len(v) / dur, 1),
                      "median_ms": round(statistics.median(v) * 1000, 3),
                      "p95_ms": round(pct(v, 0.95) * 1000, 3),
                      "mean_ms": round(sum(v) / len(v) * 1000, 3)}
    scpu = cpu["total_s"] or 0.0
    others = busy[2] - scpu - client_cpu
    return {"seconds": dur, "ops": total, "ops_per_s": round(total / dur, 1), "types": types,
            "errors": sum(n for k, n in errors.items() if k.endswith("_failed")),
            "not_ok_by_type": errors, "not_ok_samples": samples, "late": late,
            "server_cpu_s": round(scpu, 3), "server_cpu_by_comm_s": cpu["by_comm_s"],
            "server_cpu_ms_per_op": round(scpu * 1000 / total, 4) if total else 0.0,
            "client_cpu_s": round(client_cpu, 3),
            "client_cpu_ms_per_op": round(client_cpu * 1000 / total, 4) if total else 0.0,
            "machine_busy_pct": busy[0], "machine_iowait_pct": busy[1],
            "other_cpu_s": round(others, 2),
            "top_other_procs": sa.top_others(all0, all1, mine | set(pid for pid, _ in tree.seen))}


# ---------------------------------------------------------------- summary

def fmt(x, nd=0):
    return "n/a" if x is None else f"{x:.{nd}f}"


def med_range(v, nd=0):
    v = [x for x in v if x is not None]
    if not v:
        return None, "n/a"
    m = statistics.median(v)
    return m, f"{m:.{nd}f} ({min(v):.{nd}f}-{max(v):.{nd}f})"


def summarize(results, phases):
    lines = []
    names = []
    for r in results:
        if r["server"] not in names:
            names.append(r["server"])
    a_name = names[0] if names else "postie"
    b_name = names[1] if len(names) > 1 else None
    for n in sorted({r["sessions"] for r in results}):
        rs = [r for r in results if r["sessions"] == n]
        ra = [r for r in rs if r["server"] == a_name and not r["checks_failed"]]
        rb = [r for r in rs if r["server"] == b_name and not r["checks_failed"]]
        lines.append(f"\n### {n} client{'s' if n > 1 else ''}: good blocks {a_name} {len(ra)}, "
                     f"{b_name} {len(rb)} (median, min-max)\n")
        lines.append(f"| | {a_name} | {b_name} | {a_name} / {b_name} |")
        lines.append("|---|---|---|---|")

        def row(label, f, nd=0):
            ma, sa_ = med_range([f(r) for r in ra], nd)
            mb, sb = med_range([f(r) for r in rb], nd)
            ratio = f"{ma / mb:.2f}" if ma and mb else "n/a"
            lines.append(f"| {label} | {sa_} | {sb} | {ratio} |")

        if "mix_no_hsearch" in phases:
            row("mix without SEARCH SUBJECT: all commands/s", lambda r: r["phases"]["mix_no_hsearch"]["ops_per_s"])
            row("mix without SEARCH SUBJECT: server CPU ms/command",
                lambda r: r["phases"]["mix_no_hsearch"]["server_cpu_ms_per_op"], 3)
        if "mix" in phases:
            row("mix: all commands/s", lambda r: r["phases"]["mix"]["ops_per_s"])
            for t in CMD_TYPES:
                row(f"mix: {t} /s", lambda r, t=t: r["phases"]["mix"]["types"].get(t, {}).get("ops_per_s"), 1)
            for t in CMD_TYPES[:7]:
                row(f"mix: {t} median ms", lambda r, t=t: r["phases"]["mix"]["types"].get(t, {}).get("median_ms"), 2)
            row("mix: server CPU ms/command", lambda r: r["phases"]["mix"]["server_cpu_ms_per_op"], 3)
            row("mix: client CPU ms/command", lambda r: r["phases"]["mix"]["client_cpu_ms_per_op"], 3)
            row("mix: machine busy %", lambda r: r["phases"]["mix"]["machine_busy_pct"])
            row("mix: NO [EXPUNGEISSUE] answers /s",
                lambda r: sum(n for k, n in r["phases"]["mix"]["not_ok_by_type"].items()
                              if k.endswith("_expungeissue")) / r["phases"]["mix"]["seconds"], 1)
        for ph in phases:
            if ph.startswith("mix"):
                continue
            t = ph
            row(f"alone: {t} /s", lambda r, ph=ph, t=t: r["phases"][ph]["types"].get(t, {}).get("ops_per_s"), 1)
            row(f"alone: {t} server CPU ms/command", lambda r, ph=ph: r["phases"][ph]["server_cpu_ms_per_op"], 3)
        bad = [(r["server"], r["run"], r["checks_failed"]) for r in rs if r["checks_failed"]]
        if bad:
            lines.append("\nFailed checks: " + "; ".join(f"{a} run {b}: {c}" for a, b, c in bad))
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def setup_common(a):
    if os.geteuid() != 0:
        raise SystemExit("run as root: Dovecot's instance needs it (and postie drops to nobody)")
    if not os.access(a.postie, os.X_OK):
        raise SystemExit(f"{a.postie} missing: nice meson setup build-imapbench -Dbuildtype=release "
                         "&& nice ninja -C build-imapbench")
    raise_nofile()
    sa.POSTIE = a.postie
    sa.QUIET.update(busy_pct=a.quiet_busy, max_wait_s=a.quiet_wait)
    os.makedirs(OUT_DIR, exist_ok=True)


def machine_and_versions():
    info = {"machine": sa.machine_info("/var/tmp"), "versions": sa.versions()}
    c0 = sa.proc_stat_cpu()
    time.sleep(1.0)
    info["machine"]["busy_pct_at_start"] = sa.busy_pct(c0, sa.proc_stat_cpu())[0]
    with open("/proc/loadavg") as f:
        info["machine"]["loadavg_at_start"] = f.read().split()[:3]
    try:
        with open("/proc/sys/fs/inotify/max_user_instances") as f:
            info["machine"]["inotify_max_user_instances"] = int(f.read())
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--mix-seconds", type=float, default=20)
    ap.add_argument("--phase-seconds", type=float, default=8)
    ap.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    ap.add_argument("--no-postie", action="store_true")
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--postie", default=POSTIE, help="the postie binary")
    ap.add_argument("--warmup", type=float, default=5, help="seconds of mix per server before the runs")
    ap.add_argument("--quiet-busy", type=float, default=35.0)
    ap.add_argument("--quiet-wait", type=float, default=60.0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    setup_common(a)
    out_path = a.out or time.strftime(f"{OUT_DIR}/imap_ops-%Y%m%d-%H%M%S.jsonl")
    outf = open(out_path, "a")

    def emit(o):
        outf.write(json.dumps(o) + "\n")
        outf.flush()

    info = {"kind": "setup", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "args": vars(a)}
    info.update(machine_and_versions())
    log(json.dumps(info))
    emit(info)

    t0 = time.monotonic()
    corpus = make_corpus(a.msgs)
    sizes = [len(m["data"]) for m in corpus]
    cinfo = {"kind": "corpus", "msgs": len(corpus), "bytes": sum(sizes),
             "median_size": statistics.median(sizes), "max_size": max(sizes),
             "unseen": sum(1 for m in corpus if "\\Seen" not in m["flags"]),
             "gen_s": round(time.monotonic() - t0, 1)}
    log(json.dumps(cinfo))
    emit(cinfo)
    corpus_meta = [{"flags": m["flags"]} for m in corpus]

    servers = []
    results = []
    try:
        if not a.no_postie:
            servers.append(Postie(a.users, a.keep, a.postie))
        if not a.no_dovecot:
            servers.append(Dovecot(a.users, a.keep))
        for s in servers:
            s.start()
            secs = fill(s, a.users, corpus)
            log(f"{s.name}: filled {a.users} INBOXes with {len(corpus)} messages in {secs} s")
            emit({"kind": "instance", "server": s.name, "fill_s": secs, **s.describe()})
        problems = check_identical(servers, a.users, corpus)
        emit({"kind": "content_check", "problems": problems})
        if problems:
            raise SystemExit("content differs: " + "; ".join(problems[:5]))
        log("content identical on both servers")
        del corpus
        initial = {s.name: inbox_status(s.port, a.users) for s in servers}
        if a.warmup:
            for s in servers:
                run_block(s, min(10, max(a.sessions)), a.users, corpus_meta, ["mix"], a.warmup, a.warmup)
        for n in a.sessions:
            for rep in range(a.runs):
                order = servers if rep % 2 == 0 else list(reversed(servers))
                for s in order:
                    os.sync()
                    quiet = sa.wait_quiet()
                    with open("/proc/loadavg") as f:
                        load = f.read().split()[:3]
                    log(f"{s.name} N={n} run {rep} (busy before {quiet[0]} %, waited {quiet[1]} s, load {load})")
                    ph = run_block(s, n, a.users, corpus_meta, a.phases, a.mix_seconds, a.phase_seconds)
                    checks = []
                    st = inbox_status(s.port, a.users)
                    if st != initial[s.name]:
                        checks.append(f"INBOX (messages, unseen) {st} != {initial[s.name]}")
                    errs = sum(p["errors"] for p in ph.values())
                    if errs:
                        checks.append(f"{errs} commands not answered OK")
                    if s.restarted():
                        checks.append("a server process was restarted")
                    r = {"kind": "block", "server": s.name, "sessions": n, "run": rep,
                         "busy_pct_before": quiet[0], "waited_for_quiet_s": quiet[1],
                         "loadavg_before": load, "phases": ph, "checks_failed": checks}
                    results.append(r)
                    emit(r)
                    if checks:
                        log(f"{s.name} N={n} run {rep}: FAILED {checks}")
        for s in servers:
            n_bad, bad = s.log_problems()
            emit({"kind": "server_log", "server": s.name, "problem_lines": n_bad, "sample": bad})
            if n_bad:
                log(f"{s.name} log: {n_bad} warning/error lines, e.g. {bad[:3]}")
    finally:
        for s in servers:
            s.stop()
        outf.close()
    print(f"# imap_ops.py results ({out_path})\n")
    print(f"machine: {json.dumps(info['machine'])}")
    print(f"versions: {json.dumps(info['versions'])}")
    print(f"corpus: {json.dumps(cinfo)}")
    print(summarize(results, a.phases))
    return 1 if any(r["checks_failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
