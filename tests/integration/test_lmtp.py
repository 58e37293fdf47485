"""LMTP (RFC 2033) into postie's mailboxes, over TCP and over a unix socket.

An MTA in front of postie (Postfix's `virtual_transport = lmtp:...`, see
test_postfix_lmtp.py) talks LHLO/MAIL/RCPT/DATA and gets, after the data,
one reply per accepted recipient, each sent once that recipient's message
is in its Maildir: so every check of a Maildir below is made right after
the reply, without waiting. The tests check each reply code (delivered,
unknown user, full mailbox, non-local domain, a directory that cannot
answer), the Maildir bytes (Return-Path and Delivered-To, then postie's
Received header, then the message as sent), aliases (local targets
delivered at once, remote ones handed to postie's queue), pipelining, BDAT,
and that bad input gets precise errors while the server keeps serving.

Clients: Python's smtplib.LMTP (which reads one reply after DATA: the
others are read with getreply()) and a raw connection for byte-level
tests."""

import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import shutil
from pathlib import Path

import pytest

import conftest as cf
import smtp_helpers as sh
from delivery_helpers import (MaildirMessage, delivery_env, files_with,
                              message, token)
from smtp_helpers import ALICE, BOB, HOSTNAME, INFO

SENDER = "sender@client.example.org"
FULL = "full@example.test"              # quota 1K
TEAM = "team@example.test"              # alias: alice, bob
FWD = "fwd@example.test"                # alias: alice, a remote address
REMOTE = "someone@remote.test"
NOBODY = "nobody@example.test"
OTHER = "rcpt@elsewhere.test"           # not a local domain

RECEIVED_TCP = re.compile(
    rb"\AReceived: from (?P<helo>\S+) \(\[127\.0\.0\.1\]\)\r\n"
    rb"\tby " + re.escape(HOSTNAME.encode()) +
    rb" \(postie\) with LMTP id (?P<id>[0-9A-F]{16})"
    rb"(?:\r\n\tfor <[^>]+>)?; [^\r\n]+\r\n")
RECEIVED_UNIX = re.compile(
    rb"\AReceived: from (?P<helo>\S+)\r\n"
    rb"\tby " + re.escape(HOSTNAME.encode()) +
    rb" \(postie\) with LMTP id (?P<id>[0-9A-F]{16})"
    rb"(?:\r\n\tfor <[^>]+>)?; [^\r\n]+\r\n")


def socket_dir():
    """A directory for the unix socket that every user may traverse (an
    MTA runs as a user of its own), with a path short enough for
    sun_path."""
    d = tempfile.mkdtemp(prefix="postie-lmtp-")
    os.chmod(d, 0o755)
    return Path(d)


def setup_lmtp(sock):
    def setup(inst):
        inst.set("lmtp_listen", f"127.0.0.1:{inst.port('lmtp')}, unix:{sock}")
        inst.ok("user", "add", FULL, "--quota", "1K", input="pw\n")
        inst.ok("alias", "add", TEAM, f"{ALICE},{BOB}")
        inst.ok("alias", "add", FWD, f"{ALICE},{REMOTE}")
        # No DNS here: remote mail waits in the queue, where the test
        # can read it.
        (inst.dir / "transport").write_text(
            "remote.test  retry:4.4.1 remote.test is down in this test\n")
        inst.set("transport_file", "transport")
    return setup


class LmtpEnv:
    def __init__(self, denv, sock):
        self.d = denv
        self.sock = sock
        self.port = denv.inst.port("lmtp")

    def __getattr__(self, name):
        return getattr(self.d, name)

    def client(self, transport):
        """smtplib.LMTP over TRANSPORT ("tcp" or "unix"), LHLO done."""
        if transport == "unix":
            c = sh_lmtp(str(self.sock))
        else:
            c = sh_lmtp("127.0.0.1", self.port)
        code, _ = c.ehlo("mx.example.org")      # LMTP.ehlo sends LHLO
        assert code == 250
        return c

    def raw(self, transport="tcp"):
        return RawLmtp(self.sock if transport == "unix" else self.port)


def sh_lmtp(host, port=None):
    import smtplib
    if port is None:
        return smtplib.LMTP(host, timeout=sh.IO_TIMEOUT)
    return smtplib.LMTP(host, port, timeout=sh.IO_TIMEOUT)


class RawLmtp(sh.Conn):
    """smtp_helpers.Conn over TCP (a port) or a unix socket (a path)."""

    def __init__(self, where, timeout=sh.IO_TIMEOUT):
        if isinstance(where, int):
            super().__init__(where, timeout=timeout)
            return
        self.port = None
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(where))
        self.buf = b""
        self.tls = False
        self.last_cmd = None
        self.greeting = self.reply(check_enh=False)

    def lhlo(self, name="mx.example.org"):
        r = self.cmd("LHLO " + name, check_enh=False)
        assert r.code == 250, f"LHLO: {r}"
        return r

    def replies(self, n):
        return [self.reply() for _ in range(n)]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sdir = socket_dir()
    sock = sdir / "lmtp.sock"
    try:
        with delivery_env(tmp_path_factory.mktemp("lmtp"),
                          setup=setup_lmtp(sock)) as e:
            yield LmtpEnv(e, sock)
    finally:
        shutil.rmtree(sdir, ignore_errors=True)


def only_file(maildir, tok):
    files = files_with(maildir, tok)
    assert len(files) == 1, (f"expected one message with {tok} in {maildir} "
                             f"right after the reply, found {files}")
    return MaildirMessage(files[0])


def assert_exact(mm, msg, rcpt_mailbox, transport, sender=SENDER,
                 helo=b"mx.example.org"):
    """Return-Path, Delivered-To, postie's LMTP Received header, then MSG
    byte for byte; returns the LMTP id of the Received header."""
    assert mm.return_path == sender, mm.raw[:200]
    assert mm.delivered_to == rcpt_mailbox, mm.raw[:200]
    rx = RECEIVED_UNIX if transport == "unix" else RECEIVED_TCP
    m = rx.match(mm.queued)
    assert m, f"no LMTP Received header: {mm.queued[:300]!r}"
    assert m.group("helo") == helo
    assert mm.queued[m.end():] == msg, (
        f"message not byte-exact: {mm.queued[m.end():][:300]!r}")
    return m.group("id").decode()


# ---------------------------------------------------------------- session

def test_greeting_and_lhlo_capabilities(env):
    with env.raw() as c:
        assert c.greeting.code == 220 and " LMTP " in c.greeting.text, c.greeting
        r = c.lhlo()
        kw = r.keywords
        for want in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                     "CHUNKING", "SMTPUTF8"):
            assert want in kw, (want, kw)
        assert "SIZE 26214400" in kw, kw
        # The MTA in front does TLS, AUTH and DSN; LMTP offers none.
        for absent in ("STARTTLS", "DSN"):
            assert absent not in kw, (absent, kw)
        assert not any(k.startswith("AUTH") for k in kw), kw
        c.quit()


def test_ehlo_helo_refused_and_lhlo_required(env):
    with env.raw() as c:
        sh.check(c.cmd("EHLO mx.example.org"), 500, "5.5.1", "LHLO")
        sh.check(c.cmd("HELO mx.example.org"), 500, "5.5.1", "LHLO")
        sh.check(c.cmd(f"MAIL FROM:<{SENDER}>"), 503, "5.5.1", "LHLO")
        sh.check(c.cmd("STARTTLS"), 500, "5.5.2")
        sh.check(c.cmd("AUTH PLAIN AGJvYgBwdw=="), 500, "5.5.2")
        c.lhlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
        c.quit()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_one_reply_per_recipient(env, transport):
    """Valid, unknown, over quota and non-local recipients: RCPT refuses
    the unknown and the non-local one; after DATA the two accepted ones get
    a reply each, in RCPT order: delivered, then mailbox full."""
    tok = token("multi")
    msg = message(tok, sender=SENDER, to=ALICE, body=b"x" * 2000 + b"\r\n")
    c = env.client(transport)
    try:
        assert c.mail(SENDER)[0] == 250
        code, text = c.rcpt(ALICE)
        assert code == 250, text
        code, text = c.rcpt(NOBODY)
        assert (code, text[:5]) == (550, b"5.1.1"), text
        code, text = c.rcpt(FULL)
        assert code == 250, text
        code, text = c.rcpt(OTHER)
        assert (code, text[:5]) == (550, b"5.7.1"), text
        code, first = c.data(msg)
        assert (code, first[:5]) == (250, b"2.0.0"), first
        assert f"<{ALICE}>".encode() in first, first
        # Delivered before the reply: the file is there now.
        mm = only_file(env.maildir(ALICE), tok)
        code, text = c.getreply()
        assert (code, text[:5]) == (552, b"5.2.2"), text
        assert f"<{FULL}>".encode() in text, text
        c.quit()
    finally:
        c.close()
    lid = assert_exact(mm, msg, ALICE, transport)
    assert lid.encode() in first, (lid, first)
    assert files_with(env.maildir(FULL), tok) == []
    # Direct delivery: nothing went through the queue.
    assert not any(tok.encode() in p.read_bytes()
                   for st in ("incoming", "active", "deferred")
                   for p in (env.queue_dir(st)).glob("*"))
    sh.wait_log(env, rf"{lid}: to=<{re.escape(ALICE)}>, orig_to=<{re.escape(ALICE)}>, "
                r"relay=local, delay=\d+, status=sent")


def test_quota_temporary_gives_452(tmp_path):
    sdir = socket_dir()
    try:
        with delivery_env(tmp_path, {"quota_exceeded_temporary": "yes"},
                          setup=setup_lmtp(sdir / "s")) as e:
            env = LmtpEnv(e, sdir / "s")
            tok = token("tq")
            c = env.client("unix")
            c.mail(SENDER)
            assert c.rcpt(FULL)[0] == 250
            assert c.rcpt(BOB)[0] == 250
            code, text = c.data(message(tok, body=b"y" * 3000 + b"\r\n"))
            assert (code, text[:5]) == (452, b"4.2.2"), text
            code, text = c.getreply()
            assert code == 250, text
            only_file(env.maildir(BOB), tok)
            c.quit()
    finally:
        shutil.rmtree(sdir, ignore_errors=True)


def test_single_recipient_received_names_it(env):
    tok = token("one")
    msg = message(tok)
    c = env.client("tcp")
    c.mail(SENDER)
    c.rcpt(BOB)
    code, text = c.data(msg)
    assert code == 250, text
    c.quit()
    mm = only_file(env.maildir(BOB), tok)
    assert_exact(mm, msg, BOB, "tcp")
    assert f"\tfor <{BOB}>;".encode() in mm.queued.split(b"\r\n\r\n")[0]


# ---------------------------------------------------------------- aliases

def test_alias_to_one_user(env):
    tok = token("info")
    msg = message(tok, to=INFO)
    c = env.client("unix")
    c.mail(SENDER)
    c.rcpt(INFO)
    code, text = c.data(msg)
    assert (code, text[:5]) == (250, b"2.0.0"), text
    c.quit()
    assert_exact(only_file(env.maildir(ALICE), tok), msg, ALICE, "unix")


def test_alias_to_several_users(env):
    tok = token("team")
    msg = message(tok, to=TEAM)
    c = env.client("tcp")
    c.mail(SENDER)
    c.rcpt(TEAM)
    code, text = c.data(msg)
    assert (code, text[:5]) == (250, b"2.0.0"), text
    assert b"2 mailboxes" in text, text
    c.quit()
    assert_exact(only_file(env.maildir(ALICE), tok), msg, ALICE, "tcp")
    assert_exact(only_file(env.maildir(BOB), tok), msg, BOB, "tcp")


def test_alias_with_remote_target_queues_it(env):
    """The local target is delivered at once; the remote one goes into
    postie's queue (the same queue files SMTP writes), with the LMTP
    recipient as ORCPT, and waits there for its (unreachable) MX."""
    tok = token("fwd")
    msg = message(tok, to=FWD)
    c = env.client("unix")
    c.mail(SENDER)
    c.rcpt(FWD)
    code, text = c.data(msg)
    c.quit()
    assert (code, text[:5]) == (250, b"2.0.0"), text
    m = re.search(rb"queued as ([0-9A-F]{16})", text)
    assert m, text
    qid = m.group(1).decode()
    assert_exact(only_file(env.maildir(ALICE), tok), msg, ALICE, "unix")
    env.d.wait_deferred(qid)
    qf = sh.QueueFile(env.queue_dir("deferred") / qid)
    assert qf.rcpts() == [REMOTE], qf.records
    assert qf.get("O") == f"rfc822;{FWD}", qf.records
    assert qf.get("S") == SENDER
    assert qf.get("P") == "LMTP"
    rx = RECEIVED_UNIX.match(qf.message)
    assert rx and qf.message[rx.end():] == msg, qf.message[:300]
    assert "remote.test is down" in env.d.defer_log(qid)
    # Only once in alice's mailbox: the queue did not deliver her again.
    assert len(files_with(env.maildir(ALICE), tok)) == 1


# ---------------------------------------------------------------- pipelining, BDAT

def test_pipelined_session(env):
    """Everything up to DATA in one write, then the message, the next
    transaction and QUIT in another: replies come in order, one per
    accepted recipient after each message."""
    t1, t2 = token("pipe1"), token("pipe2")
    m1, m2 = message(t1), message(t2, body=b".dot line\r\n..two\r\n")
    with env.raw("unix") as c:
        c.send(f"LHLO mx.example.org\r\nMAIL FROM:<{SENDER}>\r\n"
               f"RCPT TO:<{ALICE}>\r\nRCPT TO:<{NOBODY}>\r\n"
               f"RCPT TO:<{BOB}>\r\nDATA\r\n")
        assert c.reply(check_enh=False).code == 250      # LHLO
        codes = [r.code for r in c.replies(4)]
        assert codes == [250, 250, 550, 250], codes
        assert c.reply().code == 354
        c.send(sh.dotstuff(m1) + b".\r\n" +
               f"MAIL FROM:<>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode())
        r_alice, r_bob = c.replies(2)
        assert (r_alice.code, r_bob.code) == (250, 250)
        assert f"<{ALICE}>" in r_alice.text and f"<{BOB}>" in r_bob.text
        assert [r.code for r in c.replies(3)] == [250, 250, 354]
        c.send(sh.dotstuff(m2) + b".\r\nQUIT\r\n")
        r = c.reply()
        assert r.code == 250 and f"<{BOB}>" in r.text, r
        assert c.reply().code == 221
    assert_exact(only_file(env.maildir(ALICE), t1), m1, ALICE, "unix")
    assert_exact(only_file(env.maildir(BOB), t1), m1, BOB, "unix")
    assert_exact(only_file(env.maildir(BOB), t2), m2, BOB, "unix", sender="")


def test_bdat_chunks(env):
    tok = token("bdat")
    msg = message(tok, body=b"line one\r\n.starts with a dot\r\nbare\nlf\r\n" +
                  b"z" * 1500 + b"\r\n")
    a, b = msg[:57], msg[57:]
    with env.raw() as c:
        c.lhlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<{FULL}>", 250)
        c.send(f"BDAT {len(a)}\r\n".encode() + a)
        r = c.reply()
        assert r.code == 250, r
        c.send(f"BDAT {len(b)} LAST\r\n".encode() + b)
        r1, r2 = c.replies(2)
        assert (r1.code, r2.code, r2.enh) == (250, 552, "5.2.2"), (r1, r2)
        c.quit()
    # BDAT is raw: the dot and the bare LF arrive as sent.
    assert_exact(only_file(env.maildir(ALICE), tok), msg, ALICE, "tcp")


def test_bdat_without_recipient_is_503(env):
    with env.raw() as c:
        c.lhlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{NOBODY}>", 550)
        c.send(b"BDAT 5 LAST\r\nhello")
        sh.check(c.reply(), 503, "5.5.1")
        sh.check(c.cmd("DATA"), 503, "5.5.1")
        c.expect("NOOP", 250)
        c.quit()


# ---------------------------------------------------------------- refusals

def test_bad_message_refused_once_per_recipient(env):
    """Bare LF in DATA (SMTP smuggling) is refused after the data, with one
    reply for each accepted recipient, and nothing is delivered."""
    tok = token("barelf")
    with env.raw() as c:
        c.lhlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<{BOB}>", 250)
        c.expect("DATA", 354)
        c.send(f"Subject: {tok}\r\n\r\nbad\n.\nline\r\n.\r\n".encode())
        for r in c.replies(2):
            sh.check(r, 550, "5.6.11")
        c.expect("NOOP", 250)
        c.quit()
    assert files_with(env.maildir(ALICE), tok) == []
    assert files_with(env.maildir(BOB), tok) == []


def test_size_limits(env):
    with env.raw() as c:
        c.lhlo()
        sh.check(c.cmd(f"MAIL FROM:<{SENDER}> SIZE=999999999"), 552, "5.3.4")
        c.expect(f"MAIL FROM:<{SENDER}> SIZE=1000", 250)
        c.quit()


def test_user_removed_after_rcpt_is_550(env):
    gone = f"gone{token('')}@example.test"
    env.d.add_user(gone)
    tok = token("gone")
    c = env.client("tcp")
    c.mail(SENDER)
    assert c.rcpt(gone)[0] == 250
    assert c.rcpt(ALICE)[0] == 250
    env.d.ok("user", "del", gone)
    code, text = c.data(message(tok))
    assert (code, text[:5]) == (550, b"5.1.1"), text
    assert c.getreply()[0] == 250
    c.quit()
    only_file(env.maildir(ALICE), tok)


def test_maildir_failure_is_451(env):
    """A mailbox that cannot be written (its path is a file) is a
    temporary failure: the MTA keeps the message and retries."""
    user = f"blocked{token('')}@example.test"
    env.d.add_user(user)
    box = env.maildir(user)
    box.parent.mkdir(parents=True, exist_ok=True)
    box.write_text("not a directory\n")
    tok = token("blocked")
    c = env.client("unix")
    c.mail(SENDER)
    c.rcpt(user)
    c.rcpt(BOB)
    code, text = c.data(message(tok))
    assert (code, text[:5]) == (451, b"4.3.0"), text
    assert c.getreply()[0] == 250
    c.quit()
    only_file(env.maildir(BOB), tok)


def test_directory_down_is_451(tmp_path):
    """A directory that cannot answer gives 451 4.3.0 at RCPT (never 550);
    once it is back, the same session delivers."""
    sdir = socket_dir()
    try:
        with delivery_env(tmp_path, setup=setup_lmtp(sdir / "s")) as e:
            env = LmtpEnv(e, sdir / "s")
            db = env.inst.db
            good = db.read_bytes()
            for ext in ("-wal", "-shm"):
                Path(str(db) + ext).unlink(missing_ok=True)
            c = env.client("tcp")
            c.mail(SENDER)
            try:
                # Nothing in the server has opened the database yet.
                db.write_bytes(b"not a database " * 500)
                code, text = c.rcpt(ALICE)
                assert (code, text[:5]) == (451, b"4.3.0"), text
            finally:
                db.write_bytes(good)
            tok = token("back")
            assert cf.wait_until(lambda: c.rcpt(ALICE)[0] == 250, 10, 0.2)
            code, text = c.data(message(tok))
            assert code == 250, text
            c.quit()
            only_file(env.maildir(ALICE), tok)
    finally:
        shutil.rmtree(sdir, ignore_errors=True)


def test_bad_input_then_still_serving(env):
    with env.raw() as c:
        c.lhlo()
        sh.check(c.cmd("X" * 5000), 500, "5.5.2")
        sh.check(c.cmd(b"NOOP \x00"), 500, "5.5.2")
        sh.check(c.cmd(f"RCPT TO:<{ALICE}>"), 503, "5.5.1")
        sh.check(c.cmd("MAIL FROM:no-brackets@example.org"), 501)
        # The error limit (smtp_max_errors, 10) ends the session.
        for _ in range(6):
            sh.check(c.cmd("BOGUS"), 500, "5.5.2")
        sh.check(c.reply(), 421, "4.7.0")
        assert c.closed_by_peer()
    # A BDAT whose size cannot be parsed cannot be skipped: closed.
    with env.raw("unix") as c:
        c.lhlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        r = c.cmd("BDAT 99999999999999999999999 LAST")
        assert r.code >= 500, r
        assert c.closed_by_peer()
    # A client that leaves in the middle of the data delivers nothing.
    tok = token("half")
    with env.raw() as c:
        c.lhlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(f"Subject: {tok}\r\n\r\nhalf a message\r\n")
    # Still serving, on both transports.
    for transport in ("tcp", "unix"):
        tok = token("after")
        c = env.client(transport)
        c.mail(SENDER)
        c.rcpt(ALICE)
        assert c.data(message(tok))[0] == 250
        c.quit()
        only_file(env.maildir(ALICE), tok)
    assert files_with(env.maildir(ALICE), "half a message") == []


# ---------------------------------------------------------------- the socket

def test_unix_socket_reachable_by_another_user(env):
    """The socket is 0666 (lmtp_socket_mode), so an MTA running as its own
    user connects; as root the check runs as nobody."""
    st = os.stat(env.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666, oct(st.st_mode)
    if not cf.is_root():
        pytest.skip("connecting as another user needs root")
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
            f"s.connect({str(env.sock)!r}); "
            "sys.stdout.write(s.recv(512).decode())")
    res = subprocess.run([sys.executable, "-c", code], user="nobody",
                         capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("220 ") and "LMTP" in res.stdout, res.stdout


def test_socket_mode_setting(tmp_path):
    sdir = socket_dir()
    try:
        with delivery_env(tmp_path, {"lmtp_socket_mode": "0660"},
                          setup=setup_lmtp(sdir / "s")) as e:
            st = os.stat(sdir / "s")
            assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
            env = LmtpEnv(e, sdir / "s")
            with env.raw("unix") as c:
                c.lhlo()
                c.quit()
        res = cf.run_postie(["config", "check"], config=e.inst.conf)
        assert res.returncode == 0, res
        e.inst.set("lmtp_socket_mode", "0777")
        res = cf.run_postie(["config", "check"], config=e.inst.conf)
        assert res.returncode != 0 and "lmtp_socket_mode" in res.stderr, res
    finally:
        shutil.rmtree(sdir, ignore_errors=True)
