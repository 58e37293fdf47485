"""POP3 sessions: greeting, CAPA (RFC 2449), every RFC 1939 command
through poplib (plain from loopback, STLS, POP3_SSL on pop3s), AUTH PLAIN
(RFC 5034) with an initial response and after "+ ", which commands each
state allows, USER/PASS/AUTH refused before TLS when
plaintext_auth_from_loopback = no, wrong passwords (answered -ERR [AUTH]
late) and the lockout after repeated failures, pipelining, STLS dropping
what was pipelined behind it, bad input (long lines, garbage, numbers out
of range) with the server still serving, the autologout timer, a
directory failure (-ERR [SYS/TEMP]), and curl's pop3:// and pop3s:// URLs.
"""

import base64
import imaplib
import poplib
import subprocess
import time

import pytest

import imap_helpers as ih
import pop3_helpers as ph
import smtp_helpers as sh

CAPS_ALWAYS = {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ph.pop3_env(tmp_path_factory.mktemp("pop3"),
                     users=["lib1", "lib2", "tls1", "ssl1", "auth1", "pipe1",
                            "bad1", "curl1", "state1", "wrong1"]) as e:
        yield e


def capa(p):
    """{capability name: its arguments} of poplib's capa()."""
    return {k.upper(): v for k, v in p.capa().items()}


def deliver_n(env, user, n, tag):
    """Deliver N messages to USER (subjects "<tag> 1".."<tag> N"); return
    their files in delivery order."""
    files = []
    for i in range(1, n + 1):
        needle = f"{tag}-{i}-{time.time_ns()}".encode()
        msg = sh.make_message(subject=f"{tag} {i}", to=ih.addr(user),
                              body=b"line one\r\n" + needle + b"\r\n")
        files.append(env.deliver_wait(user, msg, needle))
    return files


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


# ---------------------------------------------------------------- basics

def test_greeting_and_capa_before_login(env):
    p = env.lib()
    try:
        welcome = p.getwelcome()
        assert welcome.startswith(b"+OK"), welcome
        # No APOP: the greeting carries no <timestamp>.
        assert b"<" not in welcome, welcome
        got = capa(p)
        assert CAPS_ALWAYS <= set(got), got
        assert "USER" in got and "STLS" in got, got
        assert got.get("SASL") == ["PLAIN"], got
        assert got.get("IMPLEMENTATION") == ["postie"], got
        assert "APOP" not in got and "EXPIRE" not in got, got
        p.quit()
    finally:
        p.close()


def test_capa_after_login_drops_login_capabilities(env):
    p = env.lib("lib1")
    try:
        got = capa(p)
        assert CAPS_ALWAYS <= set(got), got
        assert not {"USER", "STLS", "SASL"} & set(got), got
        p.quit()
    finally:
        p.close()


def test_every_command_through_poplib(env):
    files = deliver_n(env, "lib1", 3, "poplib")
    raws = [ph.crlf(f.read_bytes()) for f in files]
    p = env.lib("lib1")
    try:
        assert p.stat() == (3, sum(len(r) for r in raws))
        resp, listing, _ = p.list()
        assert resp.startswith(b"+OK"), resp
        assert listing == [f"{i} {len(r)}".encode()
                           for i, r in enumerate(raws, 1)]
        assert p.list(2) == f"+OK 2 {len(raws[1])}".encode()
        resp, uidls, _ = p.uidl()
        want = [f"{i} {ph.expected_uidl(env.maildir('lib1'), ph.base_name(f))}"
                .encode() for i, f in enumerate(files, 1)]
        assert uidls == want
        assert p.uidl(3) == b"+OK " + want[2]
        # RETR: poplib gives the lines, dot-stuffing undone.
        resp, lines, octets = p.retr(1)
        assert resp == f"+OK {len(raws[0])} octets".encode(), resp
        assert b"".join(ln + b"\r\n" for ln in lines) == raws[0]
        # TOP n 0: the header and the blank line; TOP n 1: one more line.
        head = raws[1].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        resp, lines, _ = p.top(2, 0)
        assert b"".join(ln + b"\r\n" for ln in lines) == head
        resp, lines, _ = p.top(2, 1)
        assert b"".join(ln + b"\r\n" for ln in lines) == head + b"line one\r\n"
        assert p.noop().startswith(b"+OK")
        assert p.dele(1).startswith(b"+OK")
        assert p.stat() == (2, len(raws[1]) + len(raws[2]))
        for bad in (lambda: p.list(1), lambda: p.retr(1), lambda: p.dele(1),
                    lambda: p.uidl(1), lambda: p.top(1, 0)):
            with pytest.raises(poplib.error_proto):
                bad()
        resp, listing, _ = p.list()
        assert [ln.split()[0] for ln in listing] == [b"2", b"3"]
        assert p.rset().startswith(b"+OK")
        assert p.stat()[0] == 3
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    # RSET undid the DELE: everything is still there.
    assert len(ih.maildir_names(env.maildir("lib1"))) == 3


def test_retr_past_the_last_message_and_of_nothing(env):
    with env.raw("lib2") as c:
        assert c.ok("STAT") == b"+OK 0 0"
        r, body = c.multi("LIST")
        assert body == b"", body
        r, body = c.multi("UIDL")
        assert body == b""
        for line in ("RETR 1", "LIST 1", "DELE 1", "TOP 1 0", "UIDL 1",
                     "RETR 2147483647"):
            assert c.cmd(line).startswith(b"-ERR "), line
        c.quit()


def test_stls_then_login(env):
    deliver_n(env, "tls1", 1, "stls")
    p = env.lib()
    try:
        p.stls(context=ih.insecure_context())
        got = capa(p)
        assert "STLS" not in got and "USER" in got, got
        p.user(ih.addr("tls1"))
        p.pass_(env.pw("tls1"))
        assert p.stat()[0] == 1
        resp, lines, _ = p.retr(1)
        assert resp.startswith(b"+OK")
        p.quit()
    finally:
        p.close()
    assert "tls=TLSv1" in env.log(), env.log()[-3000:]


def test_pop3s_implicit_tls(env):
    deliver_n(env, "ssl1", 2, "pop3s")
    p = env.lib_ssl()
    try:
        assert p.getwelcome().startswith(b"+OK")
        got = capa(p)
        assert "STLS" not in got and "USER" in got, got
        p.user(ih.addr("ssl1"))
        p.pass_(env.pw("ssl1"))
        assert p.stat()[0] == 2
        resp, uidls, _ = p.uidl()
        assert len(uidls) == 2
        p.quit()
    finally:
        p.close()
    with env.raw(tls=True) as c:
        assert c.cmd("STLS").startswith(b"-ERR"), "STLS inside TLS"
        c.login(ih.addr("ssl1"), env.pw("ssl1"))
        c.quit()


# ---------------------------------------------------------------- AUTH

def test_auth_plain_with_initial_response(env):
    deliver_n(env, "auth1", 1, "authir")
    with env.raw() as c:
        r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("auth1"),
                                               env.pw("auth1")))
        assert r.startswith(b"+OK"), r
        assert c.ok("STAT").startswith(b"+OK 1 ")
        c.quit()


def test_auth_plain_after_continuation(env):
    with env.raw() as c:
        c.send("AUTH PLAIN\r\n")
        assert c.line() == b"+ "
        r = c.cmd(sh.plain_b64(ih.addr("auth1"), env.pw("auth1"),
                               authz=ih.addr("auth1")))
        assert r.startswith(b"+OK"), r
        assert c.ok("STAT").startswith(b"+OK 1 ")
        c.quit()


def test_auth_list_cancel_and_bad_responses(env):
    with env.raw() as c:
        r, body = c.multi("AUTH")
        assert body == b"PLAIN\r\n", body
        c.send("auth plain\r\n")
        assert c.line() == b"+ "
        assert c.cmd("*").startswith(b"-ERR"), "cancel"
        c.send("AUTH PLAIN\r\n")
        assert c.line() == b"+ "
        assert c.cmd("!!not base64!!").startswith(b"-ERR")
        r = c.cmd("AUTH PLAIN " + b64("no nuls here"))
        assert r.startswith(b"-ERR"), r
        r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("auth1"),
                                               env.pw("auth1"),
                                               authz=ih.addr("lib1")))
        assert r.startswith(b"-ERR [AUTH]"), r
        assert c.cmd("AUTH CRAM-MD5").startswith(b"-ERR")
        assert c.cmd("AUTH LOGIN").startswith(b"-ERR")
        # Still in AUTHORIZATION, and a good AUTH works.
        assert c.cmd("STAT").startswith(b"-ERR")
        c.ok("AUTH PLAIN " + sh.plain_b64(ih.addr("auth1"), env.pw("auth1")))
        c.quit()


def test_wrong_password_is_auth_error_answered_late(env):
    with env.raw() as c:
        c.ok("USER " + ih.addr("wrong1"))
        t = time.monotonic()
        r = c.cmd("PASS not-the-password")
        took = time.monotonic() - t
        assert r.startswith(b"-ERR [AUTH]"), r
        assert took >= 0.9, f"failure answered after {took:.2f}s"
        # An unknown user gets the same answer.
        c.ok("USER nobody@" + ih.DOMAIN)
        r = c.cmd("PASS whatever")
        assert r.startswith(b"-ERR [AUTH]"), r
        r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("wrong1"), "nope"))
        assert r.startswith(b"-ERR [AUTH]"), r
        # PASS without USER, and USER/PASS after a failure, work as they
        # should.
        assert c.cmd("PASS " + env.pw("wrong1")).startswith(b"-ERR")
        c.login(ih.addr("wrong1"), env.pw("wrong1"))
        c.quit()
    log = env.log()
    assert "pop3 login failed" in log and "user=wrong1@example.test" in log
    assert "not-the-password" not in log


def test_states_allow_only_their_commands(env):
    with env.raw() as c:
        for line in ("STAT", "LIST", "UIDL", "RETR 1", "DELE 1", "RSET",
                     "NOOP", "TOP 1 1"):
            assert c.cmd(line) == b"-ERR Log in first", line
        # PASS only right after USER (RFC 1939 7).
        c.ok("USER " + ih.addr("state1"))
        assert c.cmd("STAT") == b"-ERR Log in first"
        assert c.cmd("PASS " + env.pw("state1")) == b"-ERR Send USER first"
    with env.raw("state1") as c:
        for line in ("USER x", "PASS y", "AUTH PLAIN", "STLS"):
            assert c.cmd(line) == b"-ERR Already logged in", line
        c.ok("NOOP")
        c.quit()


def test_pipelined_commands_are_answered_in_order(env):
    deliver_n(env, "pipe1", 2, "pipe")
    with env.raw() as c:
        c.send(f"USER {ih.addr('pipe1')}\r\nPASS {env.pw('pipe1')}\r\n"
               "STAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\nTOP 2 0\r\nNOOP\r\n"
               "DELE 9\r\nQUIT\r\n")
        assert c.line().startswith(b"+OK")            # USER
        assert c.line().startswith(b"+OK")            # PASS
        assert c.line().startswith(b"+OK 2 ")         # STAT
        assert c.line().startswith(b"+OK")            # LIST
        body, _ = c.multiline()
        assert body.count(b"\r\n") == 2
        assert c.line().startswith(b"+OK 2 ")         # UIDL 2
        assert c.line().endswith(b" octets")          # RETR 1
        body, _ = c.multiline()
        assert b"pipe 1" in body
        assert c.line().startswith(b"+OK")            # TOP 2 0
        body, _ = c.multiline()
        assert b"pipe 2" in body and b"line one" not in body
        assert c.line() == b"+OK NOOP"
        assert c.line().startswith(b"-ERR")           # DELE 9
        assert c.line().startswith(b"+OK")            # QUIT
        assert c.closed_by_peer()


def test_stls_drops_pipelined_commands(env):
    with env.raw() as c:
        c.send(f"STLS\r\nUSER {ih.addr('pipe1')}\r\n")
        assert c.line().startswith(b"+OK")
        c._wrap()
        # The USER sent in the clear was dropped: PASS finds no USER.
        assert c.cmd("PASS " + env.pw("pipe1")) == b"-ERR Send USER first"
        c.login(ih.addr("pipe1"), env.pw("pipe1"))
        c.quit()


# ---------------------------------------------------------------- bad input

def test_long_lines_garbage_and_bad_numbers(env):
    with env.raw("bad1") as c:
        assert c.cmd("NOOP " + "x" * 300) == b"-ERR Line too long"
        c.ok("NOOP")
        # 253 octets and CRLF is the most RFC 2449 allows.
        assert c.cmd("LIST" + " " * 249).startswith(b"+OK")
        c.multiline()
        assert c.cmd("LIST" + " " * 250) == b"-ERR Line too long"
        # Far past the limit without a line end: refused at once.
        c.send(b"A" * 20000)
        assert c.line() == b"-ERR Line too long"
        c.send(b"B" * 1000 + b"\r\n")
        c.ok("NOOP")
        for line in (b"\x00\xff\xfe garbage", b"RETR 99999999999",
                     b"RETR 0", b"DELE -1", b"TOP 1 x", b"LIST 1 2"):
            assert c.cmd(line).startswith(b"-ERR "), line
        c.ok("NOOP")
        c.quit()
    with env.raw() as c:
        # Too many errors end the session.
        for _ in range(10):
            c.send(b"GARBAGE\r\n")
        replies = [c.line() for _ in range(11)]
        assert all(r.startswith(b"-ERR") for r in replies), replies
        assert replies[-1] == b"-ERR Too many invalid commands"
        assert c.closed_by_peer()
    env.assert_serves()


def test_auth_continuation_line_too_long(env):
    with env.raw() as c:
        c.send("AUTH PLAIN\r\n")
        assert c.line() == b"+ "
        c.send(b"A" * 20000 + b"\r\n")
        assert c.line().startswith(b"-ERR Line too long")
        c.login(ih.addr("bad1"), env.pw("bad1"))
        c.quit()


# ---------------------------------------------------------------- curl

def curl(args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "20"] + args,
                          capture_output=True, timeout=timeout)


def test_curl_list_and_retr(env):
    files = deliver_n(env, "curl1", 2, "curl")
    raws = [ph.crlf(f.read_bytes()) for f in files]
    user = ih.addr("curl1").replace("@", "%40")
    url = f"pop3://{user}:{env.pw('curl1')}@127.0.0.1:{env.pop3}/"
    r = curl([url])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{i} {len(raw)}".encode()
                                     for i, raw in enumerate(raws, 1)]
    r = curl([url + "2"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == raws[1]
    # pop3s:// and STLS through curl too.
    surl = f"pop3s://{user}:{env.pw('curl1')}@127.0.0.1:{env.pop3s}/1"
    r = curl(["-k", surl])
    assert r.returncode == 0, r.stderr
    assert r.stdout == raws[0]
    r = curl(["-k", "--ssl-reqd", url + "1"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == raws[0]
    # curl never sent DELE: both are still there.
    assert len(ih.maildir_names(env.maildir("curl1"))) == 2


# ---------------------------------------------------------------- policies

def test_plaintext_refused_before_tls_when_configured(tmp_path):
    with ph.pop3_env(tmp_path, conf={"plaintext_auth_from_loopback": "no"},
                     users=["plain1"], workers=1) as env:
        p = env.lib()
        try:
            got = capa(p)
            assert "STLS" in got, got
            assert "USER" not in got and "SASL" not in got, got
        finally:
            p.close()
        with env.raw() as c:
            r = c.cmd("USER " + ih.addr("plain1"))
            assert r.startswith(b"-ERR [AUTH]"), r
            assert c.cmd("PASS x").startswith(b"-ERR")
            r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("plain1"),
                                                   env.pw("plain1")))
            assert r.startswith(b"-ERR [AUTH]"), r
            r, body = c.multi("AUTH")
            assert body == b""
            c.stls()
            r, body = c.multi("AUTH")
            assert body == b"PLAIN\r\n"
            c.login(ih.addr("plain1"), env.pw("plain1"))
            c.quit()
        p = env.lib_ssl("plain1")
        try:
            assert p.stat() == (0, 0)
            p.quit()
        finally:
            p.close()


def test_lockout_and_autologout(tmp_path):
    conf = {"auth_max_failures": "3", "pop3_timeout": "3s"}
    with ph.pop3_env(tmp_path, conf=conf, users=["lock1", "idle1"],
                     workers=1) as env:
        # Autologout: no reply, no UPDATE state (the DELE is not done).
        deliver_n(env, "idle1", 1, "idle")
        with env.raw("idle1") as c:
            c.ok("DELE 1")
            t = time.monotonic()
            assert c.closed_by_peer(wait=10), "no autologout"
            assert time.monotonic() - t >= 2.5
            assert c.buf == b"", c.buf
        assert len(ih.maildir_names(env.maildir("idle1"))) == 1
        assert "pop3 timeout" in env.log()
        with env.raw("idle1") as c:
            assert c.ok("STAT").startswith(b"+OK 1 ")
            c.quit()

        # Lockout, counted with IMAP's and SMTP's failures.
        with env.raw() as c:
            for _ in range(3):
                c.ok("USER " + ih.addr("lock1"))
                assert c.cmd("PASS wrong").startswith(b"-ERR [AUTH]")
        with env.raw() as c:
            c.ok("USER " + ih.addr("lock1"))
            r = c.cmd("PASS " + env.pw("lock1"))
            assert r.startswith(b"-ERR [SYS/TEMP]"), r
            r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("lock1"),
                                                   env.pw("lock1")))
            assert r.startswith(b"-ERR [SYS/TEMP]"), r
        m = env.env.lib()                   # imaplib
        try:
            with pytest.raises(imaplib.IMAP4.error):
                m.login(ih.addr("lock1"), env.pw("lock1"))
        finally:
            m.shutdown()
        assert "pop3 login refused" in env.log()


def test_directory_failure_is_sys_temp(tmp_path):
    """A directory that cannot answer is a temporary failure, never a
    wrong password."""
    with ph.pop3_env(tmp_path, users=["dir1"], workers=1) as env:
        # No worker thread has opened the database yet: make it garbage.
        for suffix in ("-wal", "-shm"):
            p = env.inst.db.with_name(env.inst.db.name + suffix)
            if p.exists():
                p.unlink()
        env.inst.db.write_bytes(b"this is not a database\n" * 512)
        with env.raw() as c:
            c.ok("USER " + ih.addr("dir1"))
            t = time.monotonic()
            r = c.cmd("PASS " + env.pw("dir1"))
            assert r.startswith(b"-ERR [SYS/TEMP]"), r
            assert time.monotonic() - t < 0.9, "answered with a delay"
            r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("dir1"), "x"))
            assert r.startswith(b"-ERR [SYS/TEMP]"), r
        assert "pop3 login: directory:" in env.log()
        assert "pop3 login failed" not in env.log()
