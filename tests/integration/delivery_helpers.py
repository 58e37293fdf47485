"""Helpers for the queue manager and local delivery tests
(test_delivery.py, test_crash_safety.py).

They build on conftest.py and smtp_helpers.py: an instance with a running
server that can be stopped and started again, readers for Maildir files
(the Return-Path / Delivered-To prefix, postie's Received header, the
message), DSN parsing, and waits on Maildirs, queue directories and logs.
Every wait polls with a deadline; nothing sleeps a fixed time.

Only the standard library (and pytest) is used.
"""

import contextlib
import email
import email.policy
import os
import re
import uuid
from pathlib import Path

import conftest as cf
import smtp_helpers as sh

DELIVERY_TIMEOUT = 10.0     # seconds for a message to reach a Maildir
QUEUE_STATES = ("incoming", "active", "deferred")

# "<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>" (Dovecot's form), with
# optional Maildir info (":2,FLAGS") once moved to cur/.
MAILDIR_NAME_RE = re.compile(
    r"^(?P<secs>\d+)\.M(?P<usecs>\d+)P(?P<pid>\d+)Q(?P<q>\d+)\."
    r"(?P<host>[^,/:]+),S=(?P<size>\d+)(?::2,[A-Za-z]*)?$")


def token(prefix="t"):
    """A unique word to find one test's message among others."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


# ---------------------------------------------------------------- environment

class DeliveryEnv(sh.SmtpEnv):
    """An instance with a server that tests may stop and start again."""

    def __init__(self, inst, server, tmpdir):
        super().__init__(inst, server)
        self.tmpdir = Path(tmpdir)
        self.servers = [server]

    # lifecycle
    def stop(self):
        """SIGTERM the server and wait for it to exit (kill at teardown)."""
        self.server.stop()

    def start(self):
        """Start a new server on the same instance (new log file) and wait
        until SMTP answers 220."""
        n = len(self.servers) + 1
        s = sh.SmtpServer(self.inst, self.tmpdir / f"serve{n}.log")
        self.servers.append(s)
        self.server = s
        s.start()
        s.wait_ready()
        return s

    def log(self):
        """Every server's log, in order of start."""
        return "".join(s.log() for s in self.servers)

    # CLI
    def cli(self, *args, input=None):
        return self.inst.cli(*args, input=input)

    def ok(self, *args, input=None):
        return cf.assert_ok(self.inst.cli(*args, input=input))

    def add_user(self, address, quota=None, pw="pw-" + "x" * 8):
        args = ["user", "add", address]
        if quota is not None:
            args += ["--quota", quota]
        self.inst.ok(*args, input=pw + "\n")

    def add_alias(self, source, dest):
        self.inst.ok("alias", "add", source, dest)

    def flush(self):
        """`postie queue flush`: retry deferred mail now."""
        return cf.assert_ok(self.inst.cli("queue", "flush"))

    def sendmail(self, *args, input=""):
        return cf.run_postie(["sendmail", *args], config=self.inst.conf,
                             input=input)

    # SMTP
    def send(self, sender, rcpts, message, port=None):
        """One transaction on a new connection; returns the queue ID."""
        with sh.Conn(port or self.smtp) as c:
            c.ehlo("client.example.org")
            qid = sh.qid_of(c.mail_transaction(sender, rcpts, message))
            c.quit()
        return qid

    # queue
    def queue_ids(self, state):
        d = self.queue_dir(state)
        if not d.is_dir():
            return set()
        return {f for f in os.listdir(d) if not f.startswith(".")}

    def queued(self):
        """{state: ids} for incoming/, active/, deferred/ (non-empty only)."""
        out = {}
        for st in QUEUE_STATES:
            ids = self.queue_ids(st)
            if ids:
                out[st] = ids
        return out

    def where(self, qid):
        """The states whose directory holds QID."""
        return [st for st in QUEUE_STATES + ("hold", "corrupt")
                if (self.queue_dir(st) / qid).exists()]

    def all_queued_ids(self):
        out = set()
        for ids in self.queued().values():
            out |= ids
        return out

    def wait_gone(self, qid, timeout=DELIVERY_TIMEOUT):
        """Wait until QID is in none of incoming/ active/ deferred/."""
        ok = cf.wait_until(lambda: not any(
            (self.queue_dir(st) / qid).exists() for st in QUEUE_STATES),
            timeout)
        assert ok, (f"{qid} still queued after {timeout}s: in {self.where(qid)}"
                    f"\nlog:\n{self.log()[-4000:]}")

    def wait_deferred(self, qid, timeout=DELIVERY_TIMEOUT):
        """Wait until QID sits in deferred/ (and not in active/)."""
        ok = cf.wait_until(
            lambda: self.where(qid) == ["deferred"], timeout)
        assert ok, (f"{qid} not deferred after {timeout}s: in {self.where(qid)}"
                    f"\nlog:\n{self.log()[-4000:]}")

    def wait_queue_settled(self, before=frozenset(), timeout=DELIVERY_TIMEOUT):
        """Wait until incoming/ and active/ are empty and deferred/ holds
        nothing but the IDs in BEFORE: everything new was finished."""
        def settled():
            q = self.queued()
            return (not q.get("incoming") and not q.get("active") and
                    q.get("deferred", set()) <= set(before))
        ok = cf.wait_until(settled, timeout)
        assert ok, (f"queue not settled after {timeout}s: {self.queued()} "
                    f"(deferred before: {sorted(before)})\n"
                    f"log:\n{self.log()[-4000:]}")

    def defer_log(self, qid):
        p = self.queue_dir("defer") / qid
        return p.read_text(errors="replace") if p.exists() else ""

    def maildir(self, address):
        return self.inst.maildir(address)


@contextlib.contextmanager
def delivery_env(tmpdir, conf=None, users=(), setup=None, workers=2):
    """Init an instance on a free port base with the standard users
    (smtp_helpers.populate) plus USERS ((address, quota or None), ...),
    set CONF, call SETUP(inst) for more directory entries, start the
    server; stop every server at the end. The directory is filled before
    the server starts, so that these tests do not depend on the server
    seeing changes made while it runs (test_delivery tests that apart)."""
    tmpdir = Path(tmpdir)
    with sh.reserved_port_base() as base:
        inst = cf.init_instance(tmpdir / "inst", base)
        inst.set("worker_processes", str(workers))
        for k, v in (conf or {}).items():
            inst.set(k, v)
        sh.populate(inst)
        for address, quota in users:
            args = ["user", "add", address]
            if quota is not None:
                args += ["--quota", quota]
            inst.ok(*args, input="pw-secret\n")
        if setup is not None:
            setup(inst)
        server = sh.SmtpServer(inst, tmpdir / "serve1.log")
        env = DeliveryEnv(inst, server, tmpdir)
        server.start()
        try:
            server.wait_ready()
            yield env
        finally:
            for s in env.servers:
                s.stop()


# ---------------------------------------------------------------- Maildir

def maildir_files(maildir, folder=None, subdirs=("new", "cur")):
    """Paths of the messages in MAILDIR (or its Maildir++ FOLDER)."""
    box = Path(maildir) / ("." + folder if folder else "")
    out = []
    for sub in subdirs:
        d = box / sub
        if d.is_dir():
            out += [d / f for f in sorted(os.listdir(d)) if not f.startswith(".")]
    return out


def files_with(maildir, needle, folder=None):
    """Messages in MAILDIR whose bytes contain NEEDLE (str or bytes)."""
    if isinstance(needle, str):
        needle = needle.encode()
    out = []
    for p in maildir_files(maildir, folder):
        try:
            if needle in p.read_bytes():
                out.append(p)
        except FileNotFoundError:
            pass
    return out


def wait_files(maildir, needle, n=1, folder=None, timeout=DELIVERY_TIMEOUT,
               env=None):
    """Wait until at least N messages with NEEDLE are in MAILDIR; return
    them (all of them, which may be more than N)."""
    got = cf.wait_until(
        lambda: len(files_with(maildir, needle, folder)) >= n, timeout)
    files = files_with(maildir, needle, folder)
    assert got, (
        f"expected {n} message(s) with {needle!r} in {maildir}"
        f"{'/.' + folder if folder else ''} within {timeout}s, found "
        f"{len(files)}; queue: {env.queued() if env else '?'}"
        + (f"\nlog:\n{env.log()[-4000:]}" if env else ""))
    return files


class MaildirMessage:
    """A delivered file: "Return-Path: <s>\\r\\nDelivered-To: a\\r\\n",
    then the queued message (postie's Received header, then the client's
    message)."""

    PREFIX_RE = re.compile(
        rb"\AReturn-Path: <(?P<rp>[^>\r\n]*)>\r\nDelivered-To: (?P<dt>[^\r\n]*)\r\n")

    def __init__(self, path):
        self.path = Path(path)
        self.raw = self.path.read_bytes()
        m = self.PREFIX_RE.match(self.raw)
        assert m, (f"{path}: does not start with Return-Path and "
                   f"Delivered-To: {self.raw[:300]!r}")
        self.return_path = m.group("rp").decode()
        self.delivered_to = m.group("dt").decode()
        self.queued = self.raw[m.end():]        # what the queue file held

    def received_and_rest(self):
        """(postie's Received header, the message after it)."""
        m = self.queued
        assert m.startswith(b"Received: "), (
            f"{self.path}: no Received header after the prefix: {m[:300]!r}")
        pos = 0
        while True:
            nl = m.index(b"\r\n", pos)
            pos = nl + 2
            if m[pos:pos + 1] not in (b" ", b"\t"):
                break
        return m[:pos], m[pos:]

    def email(self):
        return email.message_from_bytes(self.raw, policy=email.policy.compat32)


def assert_crlf_only(data, what=""):
    """Every LF is preceded by CR and every CR followed by LF."""
    bare_lf = re.search(rb"(?<!\r)\n", data)
    bare_cr = re.search(rb"\r(?!\n)", data)
    assert bare_lf is None and bare_cr is None, (
        f"{what}: bare line end at "
        f"{(bare_lf or bare_cr).start()}: "
        f"{data[max(0, (bare_lf or bare_cr).start() - 40):(bare_lf or bare_cr).start() + 40]!r}")


# ---------------------------------------------------------------- DSN

class Dsn:
    """A delivery status notification (RFC 3464) found in a Maildir."""

    def __init__(self, path):
        self.mm = MaildirMessage(path)
        self.msg = self.mm.email()
        self.status_text = ""
        self.recipient_fields = []      # one dict per recipient block
        self.per_message = {}
        self.returned = b""
        for part in self.msg.walk():
            ct = part.get_content_type()
            if ct == "message/delivery-status":
                payload = part.get_payload()
                if isinstance(payload, list):       # parsed as messages
                    blocks = [str(p) for p in payload]
                else:
                    blocks = re.split(r"\r?\n\r?\n", payload.strip())
                self.status_text = "\n\n".join(blocks)
                parsed = [self._fields(b) for b in blocks if b.strip()]
                if parsed:
                    self.per_message = parsed[0]
                    self.recipient_fields = [
                        f for f in parsed[1:] if "final-recipient" in f]
            elif ct in ("message/rfc822", "text/rfc822-headers",
                        "message/global", "message/global-headers"):
                raw = part.as_bytes() if ct.startswith("message/") else \
                    (part.get_payload(decode=True) or b"")
                self.returned += raw

    @staticmethod
    def _fields(block):
        out = {}
        lines = block.replace("\r\n", "\n").split("\n")
        cur = None
        for ln in lines:
            if ln[:1] in (" ", "\t") and cur:
                out[cur] += " " + ln.strip()
                continue
            k, sep, v = ln.partition(":")
            if sep:
                cur = k.strip().lower()
                out[cur] = v.strip()
        return out

    def recipient(self, address):
        """The recipient block whose Final-Recipient is ADDRESS."""
        for f in self.recipient_fields:
            fr = re.sub(r"\s+", "", f.get("final-recipient", "")).lower()
            if fr == "rfc822;" + address.lower():
                return f
        return None

    def describe(self):
        return (f"{self.mm.path}:\n"
                + self.mm.raw[:3000].decode("utf-8", "replace"))


def assert_dsn(path, *, failed, status, returned_token=None, not_listed=()):
    """PATH is a DSN from MAILER-DAEMON with the null Return-Path: a
    multipart/report (report-type=delivery-status) whose recipient block for
    FAILED says Action: failed and Status: STATUS. Returns the Dsn."""
    d = Dsn(path)
    msg = d.msg
    assert d.mm.return_path == "", (
        f"DSN with Return-Path <{d.mm.return_path}>, expected <>\n{d.describe()}")
    assert "mailer-daemon" in (msg.get("From") or "").lower(), (
        f"DSN From is {msg.get('From')!r}, expected MAILER-DAEMON\n{d.describe()}")
    assert msg.get_content_type() == "multipart/report", (
        f"DSN Content-Type {msg.get('Content-Type')!r}\n{d.describe()}")
    assert (msg.get_param("report-type") or "").lower() == "delivery-status", (
        f"DSN report-type {msg.get('Content-Type')!r}\n{d.describe()}")
    assert d.status_text, f"no message/delivery-status part\n{d.describe()}"
    block = d.recipient(failed)
    assert block is not None, (
        f"no Final-Recipient: rfc822; {failed} in the DSN; recipient blocks "
        f"{d.recipient_fields}\n{d.describe()}")
    assert block.get("action", "").lower() == "failed", (
        f"Action {block.get('action')!r} for {failed}\n{d.describe()}")
    assert block.get("status", "").split()[0:1] == [status], (
        f"Status {block.get('status')!r} for {failed}, expected {status}\n"
        f"{d.describe()}")
    for other in not_listed:
        assert d.recipient(other) is None, (
            f"{other} listed in the DSN but was delivered\n{d.describe()}")
    if returned_token is not None:
        assert returned_token.encode() in d.returned, (
            f"the returned message (or headers) lacks {returned_token!r}\n"
            f"{d.describe()}")
    return d


# ---------------------------------------------------------------- logs

def log_count(env, pattern):
    rx = re.compile(pattern)
    return sum(1 for ln in env.log().splitlines() if rx.search(ln))


def wait_log_count(env, pattern, n, timeout=DELIVERY_TIMEOUT):
    ok = cf.wait_until(lambda: log_count(env, pattern) >= n, timeout)
    assert ok, (f"expected {n} log line(s) matching {pattern!r} within "
                f"{timeout}s, found {log_count(env, pattern)}\n"
                f"log:\n{env.log()[-4000:]}")


def message(tok, body=b"hello\r\n", sender="sender@client.example.org",
            to=sh.ALICE, extra=b""):
    """A message whose Subject and Message-ID carry TOK."""
    if isinstance(body, str):
        body = body.encode()
    hdr = (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {tok}\r\n"
           f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
           f"Message-ID: <{tok}@client.example.org>\r\n").encode()
    return hdr + extra + b"\r\n" + body


def sized_body(size):
    """About SIZE octets of 76-character lines."""
    line = b"x" * 76 + b"\r\n"
    return line * (size // len(line) + 1)
