"""Helpers shared by the SMTP integration tests (test_smtp_*.py).

They build on conftest.py (instances, port slots, the Server class) and add
what the SMTP tests need: module-scoped servers with users and aliases set
up, a raw SMTP client for byte-exact and bad-input tests, and readers for
queue files and log lines. The queue manager takes a message out of
incoming/ at once; servers started with keep_queued=True defer every
delivery, so the file stays, unchanged, in deferred/ for read_queue.

Only the standard library (and pytest) is used.
"""

import base64
import contextlib
import os
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path


import conftest as cf

HOSTNAME = cf.HOSTNAME
DOMAIN = "example.test"
CATCHALL = "catchall.test"
ALICE = "alice@example.test"
ALICE_PW = "secret"
BOB = "bob@example.test"
BOB_PW = "bob-pw-2"
INFO = "info@example.test"          # alias of alice

QID_RE = re.compile(r"queued as ([0-9A-Fa-f]{16})\b")
ENH_RE = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |$)")
IO_TIMEOUT = 15.0


# ---------------------------------------------------------------- servers

# One slot allocator for the whole suite: conftest's.
reserved_port_base = cf.reserved_port_base


class SmtpServer(cf.Server):
    """A `postie serve` whose SMTP service is expected to work (220)."""

    def wait_ready(self, timeout=cf.READY_TIMEOUT):
        port = self.inst.port("smtp")
        last = {}

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            line = cf.try_greeting(port, timeout=1.0)
            last["line"] = line
            return "ready" if line else None

        state = cf.wait_until(ready, timeout)
        assert state == "ready", (
            f"postie serve not answering on SMTP port {port} within "
            f"{timeout}s (state {state}, exit {self.proc.poll()})\n"
            f"log:\n{self.log()}")
        line = last["line"]
        assert line.startswith("220 "), (
            f"SMTP greeting on port {port} is {line!r}, expected 220 "
            f"(is the SMTP server built?)")
        return self


class SmtpEnv:
    """One instance with a running server, users and aliases."""

    def __init__(self, inst, server, keep_queued=False):
        self.inst = inst
        self.server = server
        self.keep_queued = keep_queued
        self.dir = inst.dir
        self.smtp = inst.port("smtp")
        self.submission = inst.port("submission")
        self.submissions = inst.port("submissions")
        self.cert = inst.dir / "tls" / "cert.pem"

    def log(self):
        return self.server.log()

    def queue_dir(self, name):
        return self.dir / "queue" / name

    def connect(self, port=None, **kw):
        return Conn(port or self.smtp, **kw)


def populate(inst):
    """The standard directory: example.test with alice (+ alias info) and
    bob, and catchall.test whose every address goes to alice."""
    inst.ok("domain", "add", DOMAIN)
    inst.ok("user", "add", ALICE, input=ALICE_PW + "\n")
    inst.ok("user", "add", BOB, input=BOB_PW + "\n")
    inst.ok("alias", "add", INFO, ALICE)
    inst.ok("domain", "add", CATCHALL)
    inst.ok("alias", "add", "@" + CATCHALL, ALICE)


# With this, the queue manager takes every message (incoming/ -> active/)
# but defers all its recipients: the queue file ends up, unchanged, in
# deferred/<ID> (next attempt minutes away), where read_queue finds it.
KEEP_QUEUED = {"defer_transports": "local, remote"}


@contextlib.contextmanager
def smtp_env(tmpdir, conf=None, workers=2, keep_queued=False):
    """Init an instance in TMPDIR on a free port base, set CONF (dict), add
    the standard users, start the server, and stop it at the end.
    KEEP_QUEUED: defer every delivery, so that tests can read the queue
    files of accepted messages (read_queue); leave it off where a test
    checks delivery."""
    tmpdir = Path(tmpdir)
    with reserved_port_base() as base:
        inst = cf.init_instance(tmpdir / "inst", base)
        inst.set("worker_processes", str(workers))
        for k, v in {**(KEEP_QUEUED if keep_queued else {}),
                     **(conf or {})}.items():
            inst.set(k, v)
        populate(inst)
        server = SmtpServer(inst, tmpdir / "serve.log")
        server.start()
        try:
            server.wait_ready()
            yield SmtpEnv(inst, server, keep_queued=keep_queued)
        finally:
            server.stop()


# ---------------------------------------------------------------- client

class Reply:
    def __init__(self, lines):
        self.lines = lines                      # decoded, without CRLF
        self.code = int(lines[-1][:3])

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enh(self):
        """The enhanced status code of the last line ("" when none)."""
        parts = self.lines[-1][4:].split(" ", 1)
        return parts[0] if re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", parts[0]) else ""

    @property
    def keywords(self):
        """EHLO keywords (upper case), excluding the first line."""
        return [ln[4:] for ln in self.lines[1:]]

    def __repr__(self):
        return f"Reply({self.text!r})"


class PeerClosed(AssertionError):
    pass


class Conn:
    """A raw SMTP connection to 127.0.0.1:PORT that checks that every reply
    except the greeting, EHLO/HELO and 334 carries an enhanced status code."""

    def __init__(self, port, *, tls=False, timeout=IO_TIMEOUT, greet=True):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.tls = False
        self.last_cmd = None
        if tls:
            self._wrap()
        self.greeting = self.reply(check_enh=False) if greet else None

    # io
    def _wrap(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise PeerClosed(
                f"server closed the connection (after {self.last_cmd!r}); "
                f"unread {self.buf!r}")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError(f"reply line too long: {self.buf[:200]!r}")
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("utf-8", "replace")

    def reply(self, check_enh=True):
        lines = []
        while True:
            ln = self.line()
            assert re.match(r"^\d{3}[ -]", ln), f"malformed reply line {ln!r}"
            lines.append(ln)
            if ln[3] == " ":
                break
        r = Reply(lines)
        if check_enh and r.code != 334:
            for ln in lines:
                assert ENH_RE.match(ln), (
                    f"reply to {self.last_cmd!r} lacks an enhanced status "
                    f"code: {ln!r}")
        return r

    def cmd(self, line, check_enh=True):
        self.last_cmd = line
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply(check_enh=check_enh)

    def expect(self, line, code, enh=None, contains=None):
        r = self.cmd(line)
        check(r, code, enh, contains, what=line)
        return r

    def ehlo(self, name="client.example.org"):
        self.last_cmd = "EHLO " + name
        r = self.cmd("EHLO " + name, check_enh=False)
        assert r.code == 250, f"EHLO {name}: {r}"
        return r

    def starttls(self):
        r = self.cmd("STARTTLS")
        check(r, 220, "2.0.0", what="STARTTLS")
        assert self.buf == b"", f"data after the STARTTLS reply: {self.buf!r}"
        self._wrap()
        return r

    def auth_plain(self, user, pw):
        return self.cmd("AUTH PLAIN " + plain_b64(user, pw))

    def login(self, user=ALICE, pw=ALICE_PW):
        r = self.auth_plain(user, pw)
        check(r, 235, "2.7.0", what=f"AUTH PLAIN {user}")
        return r

    def mail_transaction(self, sender, rcpts, message, mail_params=""):
        """MAIL, RCPTs, DATA with MESSAGE (bytes, CRLF, dot-stuffed here).
        Every step must succeed; returns the final reply."""
        p = (" " + mail_params) if mail_params else ""
        self.expect(f"MAIL FROM:<{sender}>{p}", 250, "2.1.0")
        for rc in rcpts:
            self.expect(f"RCPT TO:<{rc}>", 250, "2.1.5")
        return self.data(message)

    def data(self, message):
        self.expect("DATA", 354)
        self.last_cmd = "<end of data>"
        self.send(dotstuff(message) + b".\r\n")
        return self.reply()

    def pending(self, wait=0.5):
        """Bytes the server sends within WAIT seconds (b"" when none)."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            chunk = b""
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        self.buf += chunk
        return self.buf

    def closed_by_peer(self, wait=5.0):
        """True when the server closes the connection within WAIT seconds
        (any unread data is kept in buf)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                return True
            except OSError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def quit(self):
        try:
            self.expect("QUIT", 221, "2.0.0")
        finally:
            self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check(r, code, enh=None, contains=None, what=""):
    assert r.code == code, f"{what!r}: expected {code}, got {r.text!r}"
    if enh is not None:
        assert r.enh == enh, f"{what!r}: expected {code} {enh}, got {r.text!r}"
    if contains is not None:
        assert contains.lower() in r.text.lower(), (
            f"{what!r}: expected {contains!r} in {r.text!r}")


def plain_b64(user, pw, authz=""):
    return base64.b64encode(f"{authz}\0{user}\0{pw}".encode()).decode()


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def dotstuff(message):
    """Dot-stuff MESSAGE (bytes with CRLF line ends) and make sure it ends
    with CRLF."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    out = []
    for ln in message.split(b"\r\n")[:-1]:
        out.append(b"." + ln if ln.startswith(b".") else ln)
    return b"\r\n".join(out) + b"\r\n"


def make_message(subject="test", body="hello\r\n", sender="sender@client.example.org",
                 to=ALICE, extra=b""):
    if isinstance(body, str):
        body = body.encode()
    hdr = (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
           f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
           f"Message-ID: <{subject.replace(' ', '.')}.{time.time_ns()}@client.example.org>\r\n"
           ).encode() + extra + b"\r\n"
    return hdr + body


def qid_of(r):
    m = QID_RE.search(r.text)
    assert r.code == 250 and r.enh == "2.0.0" and m, (
        f"expected '250 2.0.0 Ok: queued as <16 hex>', got {r.text!r}")
    return m.group(1)


def assert_serves(port, tls=False):
    """A fresh connection gets 220 and EHLO works."""
    with Conn(port, tls=tls) as c:
        assert c.greeting.code == 220, f"greeting {c.greeting}"
        c.ehlo()
        c.quit()


# ---------------------------------------------------------------- queue

class QueueFile:
    def __init__(self, path, raw=None):
        self.path = Path(path)
        self.raw = self.path.read_bytes() if raw is None else raw
        self.records = []
        rest = self.raw
        while True:
            nl = rest.find(b"\n")
            assert nl >= 0, f"{path}: no end of envelope: {self.raw[:500]!r}"
            ln, rest = rest[:nl], rest[nl + 1:]
            ln = ln.rstrip(b"\r")
            if ln == b"":
                break
            key, _, val = ln.decode("utf-8", "replace").partition(" ")
            self.records.append((key, val))
        self.message = rest

    def get(self, key):
        vals = self.all(key)
        assert len(vals) == 1, f"{self.path}: {key} records {vals}: {self.records}"
        return vals[0]

    def all(self, key):
        return [v for k, v in self.records if k == key]

    def has(self, key):
        return any(k == key for k, _ in self.records)

    def rcpts(self):
        return self.all("R")

    def received_and_rest(self):
        """(the prepended Received header, the message after it)."""
        m = self.message
        assert m.startswith(b"Received: from "), (
            f"{self.path}: message does not start with postie's Received: "
            f"{m[:300]!r}")
        pos = 0
        while True:
            nl = m.index(b"\r\n", pos)
            pos = nl + 2
            if m[pos:pos + 1] not in (b" ", b"\t"):
                break
        return m[:pos], m[pos:]


QUEUE_TIMEOUT = 5.0             # seconds for a queue file to settle
QID_NAME_RE = re.compile(r"[0-9A-Fa-f]{16}")
# Where a message can be between its 250 and its delivery.
MESSAGE_DIRS = ("tmp", "incoming", "active", "deferred", "hold", "corrupt",
                "maildrop")


def _listing(d):
    try:
        return sorted(os.listdir(d))
    except OSError:
        return "nothing"


def _stat_key(st):
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def wait_queue_file(env, qid, timeout=QUEUE_TIMEOUT):
    """Wait for the queue file of QID to settle; return (path, bytes).

    After the 250 the file is in incoming/; the queue manager renames it to
    active/ at once and, with defer_transports (KEEP_QUEUED), to deferred/
    without changing its content. It is returned once in deferred/, or, if
    the queue manager has not taken it by the deadline, when it is still in
    incoming/ unchanged since first seen there. The renames race with the
    reads: a file gone between listing and reading is looked for again."""
    incoming = env.queue_dir("incoming") / qid
    active = env.queue_dir("active") / qid
    deferred = env.queue_dir("deferred") / qid
    deadline = time.monotonic() + timeout
    seen_incoming = None            # (stat key, bytes) when first seen there
    where = "nowhere"
    while True:
        # In the order a message moves, so a moving file is not missed.
        try:
            st = os.stat(incoming)
            if seen_incoming is None:
                raw = incoming.read_bytes()
                if _stat_key(os.stat(incoming)) == _stat_key(st):
                    seen_incoming = (_stat_key(st), raw)
            elif (time.monotonic() >= deadline and
                  _stat_key(st) == seen_incoming[0]):
                return incoming, seen_incoming[1]
            where = "incoming/"
        except FileNotFoundError:
            if active.exists():
                where = "active/"
            else:
                try:
                    return deferred, deferred.read_bytes()
                except FileNotFoundError:
                    pass
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    hint = ("" if env.keep_queued else
            " (the server was started without defer_transports = local, "
            "remote, so the message may have been delivered and removed)")
    raise AssertionError(
        f"queue file {qid} did not settle in deferred/ within {timeout}s "
        f"(last seen: {where}){hint}; " +
        "; ".join(f"{d}/ has {_listing(env.queue_dir(d))}"
                  for d in ("tmp", "incoming", "active", "deferred")) +
        f"\nlog:\n{env.log()[-3000:]}")


def read_queue(env, qid, timeout=QUEUE_TIMEOUT):
    """The queue file of an accepted message (see wait_queue_file)."""
    path, raw = wait_queue_file(env, qid, timeout)
    tmp = env.queue_dir("tmp")
    if tmp.is_dir():
        assert qid not in os.listdir(tmp), f"{qid} still in {tmp}"
    return QueueFile(path, raw)


def queue_ids(env, dirs=MESSAGE_DIRS):
    """The queue ids of the messages in DIRS under queue/."""
    out = set()
    for d in dirs:
        try:
            names = os.listdir(env.queue_dir(d))
        except FileNotFoundError:
            continue
        out.update(n for n in names if QID_NAME_RE.fullmatch(n))
    return out


def queue_snapshot(env):
    """Every message the server holds: the queue files under queue/, by
    queue id (a message moving between incoming/, active/ and deferred/
    keeps its id), any other file under queue/ by path, and every file in
    the Maildirs (tmp/, new/ and cur/; a name without its ":2," info).
    Queue before Maildirs: a message being delivered is seen in one or the
    other."""
    root = env.dir / "queue"
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            if QID_NAME_RE.fullmatch(f):
                out.add("queue id " + f)
            else:
                out.add(os.path.relpath(os.path.join(d, f), root))
    mail = env.dir / "mail"
    for d, _, files in os.walk(mail):
        for f in files:
            rel = os.path.relpath(d, mail)
            if os.path.basename(rel) in ("tmp", "new", "cur"):
                rel = os.path.dirname(rel)
            out.add(f"mail/{rel}/{f.split(':', 1)[0]}")
    return out


def settle_queue(env, timeout=QUEUE_TIMEOUT):
    """Wait until the queue manager is done with what was accepted so far:
    nothing left in incoming/ or active/."""
    cf.wait_until(lambda: not queue_ids(env, ("incoming", "active")), timeout)


@contextlib.contextmanager
def nothing_queued(env):
    """Assert that the block adds no message anywhere: not in queue/ (tmp/,
    incoming/, active/, deferred/, ...) and not in a Maildir."""
    settle_queue(env)
    before = queue_snapshot(env)
    yield
    time.sleep(0.2)
    after = queue_snapshot(env)
    assert after <= before, f"files appeared in the queue: {sorted(after - before)}"


# ---------------------------------------------------------------- logs

def wait_log(env, pattern, timeout=5.0):
    """Wait until a log line matches the regex PATTERN; return the match in
    the last such line."""
    rx = re.compile(pattern)

    def find():
        for ln in reversed(env.log().splitlines()):
            m = rx.search(ln)
            if m:
                return m
        return None

    m = cf.wait_until(find, timeout)
    assert m, f"no log line matches {pattern!r}; log:\n{env.log()[-4000:]}"
    return m


def accepted_log(env, sender=None, qid=None, timeout=5.0):
    """The log line of an accepted message ("<qid>: client=..., from=<..>,
    size=.., nrcpt=.."), by sender or queue id; returns the match (group 1:
    the queue id)."""
    q = re.escape(qid) if qid else "[0-9A-Fa-f]{16}"
    f = re.escape(sender) if sender is not None else "[^>]*"
    return wait_log(env, r"\b(" + q + r"): client=\S+ from=<" + f + ">", timeout)


# ---------------------------------------------------------------- tools

def run_tool(argv, input=None, timeout=60):
    return subprocess.run(argv, input=input, capture_output=True,
                          timeout=timeout)


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def expect_data_refused(c):
    """DATA without an accepted recipient: RFC 5321 3.3 allows 503 (out of
    sequence) or 554 (no valid recipients), both with 5.5.1."""
    r = c.cmd("DATA")
    assert r.code in (503, 554) and r.enh == "5.5.1", (
        f"DATA without a valid recipient: expected 503/554 5.5.1, got {r.text!r}")
    return r
