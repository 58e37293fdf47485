"""SMTP under bad input and abuse: smuggling, NUL bytes, long lines,
STARTTLS command injection, error limits, 10 000 recipients, garbage,
per-address connection limits, timeouts and AUTH brute force. After every
bad-input test the server must still serve a fresh connection. The module's
main server defers every delivery (defer_transports), so accepted messages
stay, unchanged, in queue/deferred/ for read_queue."""

import base64
import random
import socket
import threading
import time

import pytest

from smtp_helpers import (ALICE, ALICE_PW, CATCHALL, HOSTNAME, Conn,
                          assert_serves, check, make_message, nothing_queued,
                          plain_b64, qid_of, read_queue, smtp_env)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with smtp_env(tmp_path_factory.mktemp("smtp-abuse"), keep_queued=True) as e:
        yield e


def session(env, port=None):
    c = Conn(port or env.smtp)
    c.ehlo("abuser.example")
    return c


def open_transaction(c):
    c.expect("MAIL FROM:<m@outside.example>", 250, "2.1.0")
    c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
    c.expect("DATA", 354)


# ---------------------------------------------------------------- smuggling

SMUGGLED = (b"MAIL FROM:<evil@outside.example>\r\n"
            b"RCPT TO:<bob@example.test>\r\n"
            b"DATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled body\r\n")


@pytest.mark.parametrize("seq", [b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n",
                                 b"\r\n.\r"],
                         ids=["LF.LF", "LF.CRLF", "CR.CRLF", "CRLF.LF", "CRLF.CR"])
def test_smuggling_is_one_rejected_message(env, seq):
    head = b"From: <m@outside.example>\r\nSubject: carrier\r\n\r\nbody"
    with session(env) as c:
        with nothing_queued(env):
            open_transaction(c)
            c.send(head + seq + SMUGGLED + b".\r\n")
            check(c.reply(), 550, "5.6.11", what="end of a DATA with " + repr(seq))
            # Nothing else was answered: the next reply is NOOP's.
            assert c.pending(0.5) == b"", f"extra replies: {c.buf!r}"
            c.expect("NOOP", 250, "2.0.0")
        # and a clean message goes through afterwards
        qid = qid_of(c.mail_transaction("m@outside.example", [ALICE],
                                        make_message("clean")))
        c.quit()
    q = read_queue(env, qid)
    assert b"smuggled" not in q.message
    assert_serves(env.smtp)


@pytest.mark.parametrize("body", [b"bare\nLF inside\r\n", b"bare\rCR inside\r\n",
                                  b"ends with bare CR\r"],
                         ids=["LF", "CR", "CR-at-end"])
def test_bare_cr_or_lf_in_message_rejected(env, body):
    with nothing_queued(env), session(env) as c:
        open_transaction(c)
        c.send(b"Subject: bare\r\n\r\n" + body + b"\r\n.\r\n")
        check(c.reply(), 550, "5.6.11", what="end of DATA")
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


# ---------------------------------------------------------------- bad commands

@pytest.mark.parametrize("line", [b"NO\x00OP", b"\x00", b"MAIL FROM:<a\x00b@outside.example>",
                                  b"EHLO abuser\x00.example"])
def test_nul_in_command(env, line):
    with session(env) as c:
        c.send(line + b"\r\n")
        check(c.reply(), 500, "5.5.2", what=line)
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")  # no MAIL happened
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


@pytest.mark.parametrize("line", [
    b"NOOP " + b"x" * 5000,
    b"MAIL FROM:<" + b"a" * 5000 + b"@outside.example>",
    b"RSET" + b" " * 4100,
    b"Q" * (1024 * 1024),
], ids=["noop-5000", "mail-5000", "rset-spaces", "1MB"])
def test_long_line_gets_500_and_session_continues(env, line):
    with session(env) as c:
        c.send(line + b"\r\n")
        check(c.reply(), 500, "5.5.2", what=line[:20] + b"...")
        assert c.pending(0.3) == b"", f"more than one reply: {c.buf!r}"
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.expect("MAIL FROM:<m@outside.example>", 250, "2.1.0")
        c.quit()
    assert_serves(env.smtp)


def test_too_many_errors_disconnects(env):
    max_errors = 10     # the default smtp_max_errors
    with session(env) as c:
        codes = []
        for i in range(max_errors + 3):
            try:
                r = c.cmd(f"BOGUS{i}")
            except AssertionError as e:
                if "closed the connection" in str(e):
                    break
                raise
            codes.append((r.code, r.enh))
            if r.code == 421:
                break
        assert codes[-1] == (421, "4.7.0"), codes
        errors = codes[:-1]
        assert all(x == (500, "5.5.2") for x in errors), codes
        assert len(errors) == max_errors, (
            f"421 after {len(errors)} errors with smtp_max_errors={max_errors}")
        assert c.closed_by_peer(3), "connection not closed after 421"
    assert_serves(env.smtp)


def test_errors_counted_per_session_not_reset_by_rset(env):
    with session(env) as c:
        for i in range(6):
            c.expect(f"XYZZY{i}", 500, "5.5.2")
        c.expect("RSET", 250, "2.0.0")
        codes = []
        for i in range(6):
            try:
                codes.append(c.cmd(f"PLUGH{i}").code)
            except AssertionError:
                break
            if codes[-1] == 421:
                break
        assert 421 in codes, f"12 errors in one session did not end it: {codes}"
    assert_serves(env.smtp)


def test_garbage_bytes(env):
    rnd = random.Random(1234)
    junk = bytes(rnd.getrandbits(8) for _ in range(200_000))
    with Conn(env.smtp) as c:
        try:
            c.send(junk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        codes = []
        while True:
            try:
                codes.append(c.reply(check_enh=False).code)
            except (AssertionError, OSError):
                break
        assert codes, "no reply at all to 200 KB of garbage"
        assert all(code >= 500 or code == 421 for code in codes), codes
    assert_serves(env.smtp)


@pytest.mark.parametrize("partial", [
    b"Subject: cut\r\n\r\nhalf a mess",
    b"Subject: cut\r\n\r\nall but the final dot\r\n",
    b"Subject: cut\r\n\r\nall but the final CRLF\r\n.",
], ids=["mid-line", "before-dot", "before-last-crlf"])
def test_disconnect_during_data_queues_nothing(env, partial):
    with nothing_queued(env):
        c = session(env)
        open_transaction(c)
        c.send(partial)
        time.sleep(0.2)
        c.close()
        time.sleep(0.5)
    assert_serves(env.smtp)


def test_disconnect_during_bdat_queues_nothing(env):
    with nothing_queued(env):
        c = session(env)
        c.expect("MAIL FROM:<m@outside.example>", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.send(b"BDAT 1000 LAST\r\nSubject: short\r\n\r\nonly part")
        time.sleep(0.2)
        c.close()
        time.sleep(0.5)
    assert_serves(env.smtp)


def test_plaintext_to_implicit_tls_port(env):
    s = socket.create_connection(("127.0.0.1", env.submissions), timeout=10)
    try:
        s.sendall(b"EHLO plain.example\r\nMAIL FROM:<a@b.example>\r\n")
        s.settimeout(10)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert b"250" not in data, f"plaintext SMTP answered on 465: {data!r}"
    finally:
        s.close()
    assert_serves(env.submissions, tls=True)


# ---------------------------------------------------------------- STARTTLS injection

@pytest.mark.parametrize("service", ["smtp", "submission"])
def test_commands_pipelined_with_starttls_are_discarded(env, service):
    port = env.smtp if service == "smtp" else env.submission
    with session(env, port) as c:
        c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@outside.example>\r\n")
        r = c.reply()
        check(r, 220, "2.0.0", what="STARTTLS")
        assert c.buf == b"", f"plaintext after the 220: {c.buf!r}"
        c._wrap()
        assert c.pending(0.7) == b"", (
            f"server answered injected commands after TLS: {c.buf!r}")
        r = c.ehlo("after.tls.example")
        assert r.lines[0].startswith(f"250-{HOSTNAME}"), (
            f"first reply after TLS is not EHLO's: {r}")
        # the injected MAIL did not start a transaction
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.quit()
    assert_serves(port)


def test_starttls_twice_refused(env):
    with session(env) as c:
        c.starttls()
        c.ehlo()
        r = c.cmd("STARTTLS")
        assert r.code in (503, 554, 502), r
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


# ---------------------------------------------------------------- recipients

def test_ten_thousand_pipelined_recipients(env):
    n, limit = 10_000, 1000
    rcpts = [f"u{i}@{CATCHALL}" for i in range(n)]
    with Conn(env.smtp, timeout=60) as c:
        c.ehlo()
        c.expect("MAIL FROM:<many@outside.example>", 250, "2.1.0")
        payload = b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts)
        err = []

        def writer():
            try:
                c.sock.sendall(payload)
            except OSError as e:
                err.append(e)

        t0 = time.monotonic()
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        c.last_cmd = "10000 pipelined RCPTs"
        replies = [c.reply() for _ in range(n)]
        th.join(30)
        elapsed = time.monotonic() - t0
        assert not err, err
        ok = [i for i, r in enumerate(replies) if (r.code, r.enh) == (250, "2.1.5")]
        full = [i for i, r in enumerate(replies) if (r.code, r.enh) == (452, "4.5.3")]
        assert ok == list(range(limit)), (
            f"{len(ok)} accepted; first replies {replies[:2]}, "
            f"reply {limit}: {replies[limit]}")
        assert full == list(range(limit, n)), replies[limit]
        assert elapsed < 30, f"10000 RCPTs took {elapsed:.1f}s"
        t1 = time.monotonic()
        c.expect("NOOP", 250, "2.0.0")
        assert time.monotonic() - t1 < 2, "server slow after 10000 RCPTs"
        qid = qid_of(c.data(make_message("many")))
        c.quit()
    # A thousand recipients are a thousand deferrals to record.
    q = read_queue(env, qid, timeout=30)
    assert q.rcpts() == rcpts[:limit]
    assert_serves(env.smtp)


def test_huge_header_line_in_data(env):
    """2 MB without a line end inside DATA: any clean answer, no crash."""
    with session(env) as c:
        open_transaction(c)
        c.send(b"Subject: " + b"h" * (2 * 1024 * 1024) + b"\r\n\r\nbody\r\n.\r\n")
        r = c.reply()
        assert r.code in (250, 552, 554, 550, 500), r
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


# ---------------------------------------------------------------- connection limits

@pytest.fixture
def limited(tmp_path):
    with smtp_env(tmp_path, {"smtp_max_connections_per_ip": "3"}) as e:
        yield e


def test_per_ip_connection_limit(limited):
    env = limited
    conns = []
    try:
        # The readiness probe's connection may take a moment to be released.
        deadline = time.monotonic() + 5
        while len(conns) < 3:
            c = Conn(env.smtp)
            if c.greeting.code == 220:
                conns.append(c)
                continue
            c.close()
            assert time.monotonic() < deadline, (
                f"only {len(conns)} connections accepted: {c.greeting}")
            time.sleep(0.2)
        # The limit covers all SMTP ports of the address.
        fourth = Conn(env.submission)
        check(fourth.greeting, 421, "4.7.0", contains="Too many connections",
              what="4th connection")
        assert fourth.closed_by_peer(3), "4th connection left open"
        fourth.close()
        conns.pop().quit()

        def accepted():
            c = Conn(env.smtp)
            if c.greeting.code == 220:
                return c
            c.close()
            return None

        deadline = time.monotonic() + 5
        c = None
        while c is None and time.monotonic() < deadline:
            c = accepted()
            if c is None:
                time.sleep(0.2)
        assert c is not None, "no connection accepted after one closed"
        c.ehlo()
        conns.append(c)
    finally:
        for c in conns:
            c.close()


def test_connection_churn_does_not_leak_the_per_ip_count(limited):
    env = limited
    for _ in range(150):
        s = socket.create_connection(("127.0.0.1", env.smtp), timeout=5)
        s.close()
    for _ in range(20):     # half-way sessions closed without QUIT
        c = Conn(env.smtp, greet=False)
        c.send(b"EHLO x\r\nMAIL FROM:<a@b.example>\r\n")
        c.close()
    deadline = time.monotonic() + 10
    while True:
        conns = [Conn(env.smtp) for _ in range(3)]
        codes = [c.greeting.code for c in conns]
        for c in conns:
            c.close()
        if codes == [220, 220, 220] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert codes == [220, 220, 220], (
        f"after closed connections, 3 new ones got {codes}: the per-address "
        f"count leaks")


# ---------------------------------------------------------------- timeouts

@pytest.fixture(scope="module")
def short_timeouts(tmp_path_factory):
    with smtp_env(tmp_path_factory.mktemp("smtp-timeouts"),
                  {"smtp_timeout": "2s", "smtp_data_timeout": "2s"}) as e:
        yield e


def test_idle_connection_times_out(short_timeouts):
    env = short_timeouts
    with Conn(env.smtp) as c:
        c.ehlo()
        t0 = time.monotonic()
        c.sock.settimeout(10)
        r = c.reply()
        elapsed = time.monotonic() - t0
        check(r, 421, "4.4.2", contains="Timeout", what="<idle>")
        assert 1.5 <= elapsed <= 6, f"timeout after {elapsed:.1f}s, configured 2s"
        assert c.closed_by_peer(3)
    assert_serves(env.smtp)


def test_idle_during_data_times_out_and_queues_nothing(short_timeouts):
    env = short_timeouts
    with nothing_queued(env), Conn(env.smtp) as c:
        c.ehlo()
        open_transaction(c)
        c.send(b"Subject: half a message\r\n\r\nstill typing")
        c.sock.settimeout(10)
        t0 = time.monotonic()
        r = c.reply()
        check(r, 421, "4.4.2", what="<idle in DATA>")
        assert time.monotonic() - t0 <= 6
        assert c.closed_by_peer(3)
    assert_serves(env.smtp)


def test_slow_but_active_client_is_not_cut(short_timeouts):
    """The timeout is per read, not per session: a command every second for
    5 seconds keeps the session."""
    env = short_timeouts
    with Conn(env.smtp) as c:
        c.ehlo()
        for _ in range(5):
            time.sleep(1.0)
            c.expect("NOOP", 250, "2.0.0")
        c.quit()


# ---------------------------------------------------------------- AUTH brute force

@pytest.fixture
def lockout(tmp_path):
    with smtp_env(tmp_path, {"auth_max_failures": "2",
                             "auth_failure_window": "10s"}) as e:
        yield e


def test_auth_brute_force_lockout(lockout):
    env = lockout
    window = 10
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        t0 = time.monotonic()
        c.expect("AUTH PLAIN " + plain_b64(ALICE, "guess1"), 535, "5.7.8")
        d1 = time.monotonic() - t0
        t0 = time.monotonic()
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334, r
        r = c.cmd(base64.b64encode(ALICE.encode()).decode())
        assert r.code == 334, r
        r = c.cmd(base64.b64encode(b"guess2").decode())
        check(r, 535, "5.7.8", what="AUTH LOGIN with a wrong password")
        d2 = time.monotonic() - t0
        last_failure = time.monotonic()
        assert d1 >= 0.8, f"first failure answered after {d1:.2f}s, expected ~1s"
        assert d2 >= 1.8, f"second failure answered after {d2:.2f}s, expected ~2s"
        # locked out: even the right password is refused
        c.expect("AUTH PLAIN " + plain_b64(ALICE, ALICE_PW), 454, "4.7.0")
        c.quit()
    # on a fresh connection and on another port too
    with Conn(env.submission) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.expect("AUTH PLAIN " + plain_b64(ALICE, ALICE_PW), 454, "4.7.0")
        c.quit()
    assert_serves(env.smtp)
    # after the window, the right password works again
    time.sleep(max(0, last_failure + window + 1 - time.monotonic()))
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        r = c.auth_plain(ALICE, ALICE_PW)
        check(r, 235, "2.7.0", what="AUTH after the failure window passed")
        c.quit()
