"""The outbound SMTP client engine (src/smtp/client.c), driven by the test
driver build/smtp-client-send against a real `postie serve` (the peer) and,
for what postie never does (no SMTPUTF8, a refusing or silent greeting,
EHLO refused, a malformed reply), a small scripted peer in this file.

The driver reads queue files written here in the format of
src/queue/queue.h, sends them over one connection and prints one line per
recipient ("<rcpt> <code> <enh> <text>") and one per message ("message
<code> <enh> <text> tls=<info|none>"); a connection failure before a
message prints "error stage=<n> <code> <enh> <text>". Delivery is checked
in the peer's Maildir after its queue manager delivers.

Only the standard library (and pytest) is used."""

import os
import re
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import conftest as cf
from delivery_helpers import delivery_env, files_with, message, sized_body, token, wait_files
from smtp_helpers import ALICE, ALICE_PW, BOB, HOSTNAME

DRIVER = os.environ.get("SMTP_CLIENT_SEND") or str(cf.REPO / "build" / "smtp-client-send")
RUN_TIMEOUT = 60

# stages of enum smtp_client_stage
STAGE_GREETING, STAGE_HELO, STAGE_TLS, STAGE_AUTH = 1, 2, 3, 4


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with delivery_env(tmp_path_factory.mktemp("smtp-client")) as e:
        yield e


def queue_file(directory, sender, rcpts, msg, extra=()):
    """A queue file (envelope, empty line, message) in DIRECTORY."""
    qid = uuid.uuid4().hex[:16].upper()
    recs = ["V 1", f"I {qid}", f"T {int(time.time())}", f"S {sender}"]
    recs += [f"R {r}" for r in rcpts]
    recs += list(extra)
    path = Path(directory) / qid
    path.write_bytes(("\n".join(recs) + "\n\n").encode() + msg)
    return path


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.lines = proc.stdout.splitlines()

    def rcpt(self, address):
        for ln in self.lines:
            if ln.startswith(address + " "):
                parts = ln.split(" ", 3)
                return int(parts[1]), parts[2], parts[3] if len(parts) > 3 else ""
        raise AssertionError(f"no line for {address} in {self.out!r} ({self.err!r})")

    def messages(self):
        return [ln for ln in self.lines if ln.startswith("message ")]

    def __repr__(self):
        return f"rc={self.rc} out={self.out!r} err={self.err[-2000:]!r}"


def send(port, *files, args=()):
    if not os.access(DRIVER, os.X_OK):
        pytest.fail(f"driver not built: {DRIVER}")
    proc = subprocess.run([DRIVER, f"127.0.0.1:{port}", *map(str, files), *args],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return Result(proc)


def delivered(env, address, tok, n=1):
    files = wait_files(env.maildir(address), tok, n=n)
    assert len(files) == n, f"{tok}: {len(files)} copies in {address}'s Maildir"
    return files[0].read_bytes()


# ---------------------------------------------------------------- postie as the peer

def test_plain_message_is_delivered(env, tmp_path):
    tok = token()
    msg = message(tok)
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], msg)
    r = send(env.smtp, q)
    assert r.rc == 0, r
    code, enh, _ = r.rcpt(ALICE)
    assert (code, enh) == (250, "2.0.0"), r
    assert r.messages()[0].endswith("tls=none"), r
    assert delivered(env, ALICE, tok).endswith(msg)


def test_unknown_recipient_fails_alone(env, tmp_path):
    tok = token()
    q = queue_file(tmp_path, "sender@client.example.org",
                   ["nobody@example.test", BOB], message(tok, to=BOB))
    r = send(env.smtp, q)
    assert r.rc == 1, r
    code, enh, text = r.rcpt("nobody@example.test")
    assert code == 550 and enh.startswith("5.1."), r
    code, enh, _ = r.rcpt(BOB)
    assert code == 250, r
    delivered(env, BOB, tok)
    assert not files_with(env.maildir(ALICE), tok)


def test_all_recipients_refused_sends_no_data(env, tmp_path):
    q = queue_file(tmp_path, "sender@client.example.org",
                   ["nobody1@example.test", "nobody2@example.test"], message(token()))
    r = send(env.smtp, q)
    assert r.rc == 1, r
    assert r.rcpt("nobody1@example.test")[0] == 550
    assert r.rcpt("nobody2@example.test")[0] == 550
    assert r.messages()[0].split()[1] == "550", r


def test_dot_lines_arrive_byte_exact(env, tmp_path):
    tok = token()
    body = (b".leading dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n"
            b". \r\n...\r\nlast line\r\n")
    msg = message(tok, body=body)
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], msg)
    r = send(env.smtp, q)
    assert r.rc == 0, r
    assert delivered(env, ALICE, tok).endswith(msg)


def test_message_without_final_crlf_gets_one(env, tmp_path):
    tok = token()
    msg = message(tok, body=b"no end of line")
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], msg)
    r = send(env.smtp, q)
    assert r.rc == 0, r
    assert delivered(env, ALICE, tok).endswith(msg + b"\r\n")


def test_starttls_encrypt(env, tmp_path):
    tok = token()
    msg = message(tok)
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], msg)
    r = send(env.smtp, q, args=["--tls", "encrypt"])
    assert r.rc == 0, r
    assert re.search(r"tls=TLSv1\.[23] \S+$", r.messages()[0]), r
    data = delivered(env, ALICE, tok)
    head = data[:data.index(msg)]
    assert re.search(rb"Received: from client\.postie\.test .*\(TLSv1\.[23] ", head,
                     re.S), head


def test_starttls_may_uses_tls_when_offered(env, tmp_path):
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], message(token()))
    r = send(env.smtp, q, args=["--tls", "may"])
    assert r.rc == 0, r
    assert "tls=TLSv1" in r.messages()[0], r


def test_tls_verify_refuses_a_self_signed_certificate(env, tmp_path):
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], message(token()))
    r = send(env.smtp, q, args=["--tls", "verify", "--host", HOSTNAME])
    assert r.rc == 1, r
    assert r.lines[0].startswith(f"error stage={STAGE_TLS} 421 4.7.0 TLS handshake"), r
    assert "certificate verify failed" in r.out, r


def test_tls_verify_with_the_right_ca_and_name(env, tmp_path):
    tok = token()
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], message(tok))
    r = send(env.smtp, q, args=["--tls", "verify", "--host", HOSTNAME,
                                "--cafile", str(env.cert)])
    assert r.rc == 0, r
    delivered(env, ALICE, tok)
    # The same CA, but the wrong name.
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], message(token()))
    r = send(env.smtp, q, args=["--tls", "verify", "--host", "other.example.test",
                                "--cafile", str(env.cert)])
    assert r.rc == 1 and r.lines[0].startswith(f"error stage={STAGE_TLS}"), r


def test_auth_on_submission_with_tls(env, tmp_path):
    tok = token()
    q = queue_file(tmp_path, ALICE, [BOB], message(tok, sender=ALICE, to=BOB))
    r = send(env.submission, q, args=["--tls", "encrypt", "--auth", ALICE, ALICE_PW])
    assert r.rc == 0, r
    delivered(env, BOB, tok)


def test_auth_with_a_wrong_password_fails_the_connection(env, tmp_path):
    q = queue_file(tmp_path, ALICE, [BOB], message(token(), sender=ALICE, to=BOB))
    r = send(env.submission, q, args=["--tls", "encrypt", "--auth", ALICE, "wrong"])
    assert r.rc == 1, r
    assert r.lines[0].startswith(f"error stage={STAGE_AUTH} 535 5.7.8"), r


def test_no_credentials_without_tls(env, tmp_path):
    q = queue_file(tmp_path, ALICE, [BOB], message(token(), sender=ALICE, to=BOB))
    r = send(env.submission, q, args=["--tls", "none", "--auth", ALICE, ALICE_PW])
    assert r.rc == 1, r
    assert r.lines[0].startswith(f"error stage={STAGE_AUTH} 421 4.7.0"), r
    assert "without TLS" in r.lines[0], r


def test_five_megabytes(env, tmp_path):
    tok = token()
    msg = message(tok, body=sized_body(5 * 1024 * 1024))
    q = queue_file(tmp_path, "sender@client.example.org", [ALICE], msg)
    r = send(env.smtp, q, args=["--tls", "encrypt"])
    assert r.rc == 0, r
    data = delivered(env, ALICE, tok)
    assert data.endswith(msg)


def test_smtputf8_sender_to_a_peer_that_offers_it(env, tmp_path):
    tok = token()
    sender = "jörg@client.example.org"
    msg = message(tok, sender="sender@client.example.org")
    q = queue_file(tmp_path, sender, [ALICE], msg, extra=["U"])
    r = send(env.smtp, q)
    assert r.rc == 0, r
    data = delivered(env, ALICE, tok)
    assert f"<{sender}>".encode() in data[:data.index(msg)]


def test_connection_reuse(env, tmp_path):
    toks = [token(), token()]
    qs = [queue_file(tmp_path, "sender@client.example.org", [ALICE], message(t))
          for t in toks]
    before = env.log().count("smtp connect service=smtp")
    r = send(env.smtp, *qs)
    assert r.rc == 0, r
    assert len(r.messages()) == 2, r
    for t in toks:
        delivered(env, ALICE, t)
    assert env.log().count("smtp connect service=smtp") == before + 1


# ---------------------------------------------------------------- a scripted peer

EHLO_FULL = ["250-fake.example", "250-PIPELINING", "250-8BITMIME",
             "250 ENHANCEDSTATUSCODES"]


class FakePeer:
    """A one-connection SMTP peer on 127.0.0.1 run by a thread. SCRIPT maps
    a command verb (upper case; "GREETING" for the start, "DATA-END" for
    the end of data) to the raw reply lines to send, or None to say
    nothing. Everything received is kept in self.received."""

    def __init__(self, script):
        self.script = {"GREETING": ["220 fake.example ESMTP"],
                       "EHLO": EHLO_FULL, "HELO": ["250 fake.example"],
                       "MAIL": ["250 2.1.0 Ok"], "RCPT": ["250 2.1.5 Ok"],
                       "DATA": ["354 go"], "DATA-END": ["250 2.0.0 queued"],
                       "RSET": ["250 2.0.0 Ok"], "QUIT": ["221 2.0.0 Bye"],
                       **script}
        self.received = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _say(self, conn, key):
        lines = self.script.get(key)
        if lines is None:
            return
        conn.sendall(b"".join(ln.encode() + b"\r\n" for ln in lines))

    def _run(self):
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(30)
        buf, in_data = b"", False
        try:
            self._say(conn, "GREETING")
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while True:
                    if in_data:
                        end = buf.find(b"\r\n.\r\n")
                        if end == -1 and not buf.startswith(b".\r\n"):
                            break
                        cut = 3 if buf.startswith(b".\r\n") else end + 5
                        self.received.append(("DATA-BODY", buf[:cut]))
                        buf, in_data = buf[cut:], False
                        self._say(conn, "DATA-END")
                        continue
                    if b"\r\n" not in buf:
                        break
                    line, buf = buf.split(b"\r\n", 1)
                    verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper().decode()
                    self.received.append((verb, line))
                    self._say(conn, verb)
                    if verb == "DATA" and (self.script["DATA"] or [""])[0].startswith("354"):
                        in_data = True
                    if verb == "QUIT":
                        return
        except OSError:
            pass
        finally:
            conn.close()

    def verbs(self):
        return [v for v, _ in self.received]

    def close(self):
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def peer():
    made = []

    def make(**script):
        p = FakePeer(script)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


def test_smtputf8_to_a_peer_without_it_fails_with_5_6_7(peer, tmp_path):
    p = peer()
    q = queue_file(tmp_path, "jörg@client.example.org", ["x@fake.example"],
                   message(token()), extra=["U"])
    r = send(p.port, q)
    assert r.rc == 1, r
    assert r.rcpt("x@fake.example")[:2] == (554, "5.6.7"), r
    assert "MAIL" not in p.verbs(), p.received
    assert p.verbs()[-1] == "QUIT", p.received


def test_helo_fallback_and_no_pipelining(peer, tmp_path):
    p = peer(EHLO=["502 5.5.1 no EHLO here"])
    msg = b"Subject: x\r\n\r\n.dot\r\n"
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], msg,
                   extra=["B 8BITMIME"])
    r = send(p.port, q)
    assert r.rc == 0, r
    verbs = p.verbs()
    assert verbs[:6] == ["EHLO", "HELO", "MAIL", "RCPT", "DATA", "DATA-BODY"], p.received
    # After HELO no ESMTP parameters at all.
    assert dict(p.received)["MAIL"] == b"MAIL FROM:<s@client.example.org>"
    assert dict(p.received)["DATA-BODY"] == b"Subject: x\r\n\r\n..dot\r\n.\r\n"


def test_esmtp_parameters_follow_the_extensions(peer, tmp_path):
    p = peer(EHLO=["250-fake.example", "250-SIZE 1000000", "250-8BITMIME",
                   "250-DSN", "250 PIPELINING"])
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"],
                   b"Subject: x\r\n\r\nhi\r\n",
                   extra=["N SUCCESS,FAILURE", "O rfc822;x+y@fake.example",
                          "E id=1 2", "D HDRS", "B 8BITMIME"])
    r = send(p.port, q)
    assert r.rc == 0, r
    rec = dict(p.received)
    assert rec["MAIL"] == (b"MAIL FROM:<s@client.example.org> SIZE=18 "
                           b"BODY=8BITMIME RET=HDRS ENVID=id+3D1+202"), rec
    assert rec["RCPT"] == (b"RCPT TO:<x@fake.example> NOTIFY=SUCCESS,FAILURE "
                           b"ORCPT=rfc822;x+2By@fake.example"), rec


def test_bigger_than_the_peer_size_is_not_sent(peer, tmp_path):
    p = peer(EHLO=["250-fake.example", "250 SIZE 100"])
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"],
                   b"x" * 200 + b"\r\n")
    r = send(p.port, q)
    assert r.rc == 1 and r.rcpt("x@fake.example")[:2] == (552, "5.3.4"), r
    assert "MAIL" not in p.verbs()


def test_a_refusing_greeting_fails_the_host(peer, tmp_path):
    p = peer(GREETING=["554 5.3.2 go away"])
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], b"x\r\n")
    r = send(p.port, q)
    assert r.rc == 1, r
    assert r.lines[0] == f"error stage={STAGE_GREETING} 554 5.3.2 go away", r


def test_a_silent_greeting_times_out(peer, tmp_path):
    p = peer(GREETING=None)
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], b"x\r\n")
    t0 = time.monotonic()
    r = send(p.port, q, args=["--timeout", "500"])
    assert r.rc == 1, r
    assert r.lines[0].startswith(f"error stage={STAGE_GREETING} 421 4.4.2"), r
    assert time.monotonic() - t0 < 10


def test_a_malformed_reply_is_a_protocol_error(peer, tmp_path):
    p = peer(MAIL=["250 2.1.0 Ok", "25x broken"])
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], b"x\r\n")
    r = send(p.port, q)
    assert r.rc == 1, r
    assert "protocol error" in r.out, r


def test_a_reply_line_too_long_is_a_protocol_error(peer, tmp_path):
    p = peer(EHLO=["250-fake.example", "250 " + "x" * 5000])
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], b"x\r\n")
    r = send(p.port, q)
    assert r.rc == 1, r
    assert r.lines[0].startswith(f"error stage={STAGE_HELO} 421 4.5.0 protocol error"), r


def test_encrypt_without_starttls_offered_fails(peer, tmp_path):
    p = peer()
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], b"x\r\n")
    r = send(p.port, q, args=["--tls", "encrypt"])
    assert r.rc == 1, r
    assert r.lines[0].startswith(f"error stage={STAGE_TLS} 421 4.7.4"), r


def test_may_without_starttls_continues_in_the_clear(peer, tmp_path):
    p = peer()
    q = queue_file(tmp_path, "s@client.example.org", ["x@fake.example"], b"x\r\n")
    r = send(p.port, q, args=["--tls", "may"])
    assert r.rc == 0, r
    assert r.messages()[0].endswith("tls=none"), r


def test_pipelined_rejections_then_rset_and_reuse(peer, tmp_path):
    p = peer(RCPT=["550 5.1.1 no such user"], DATA=["554 5.5.1 no valid recipients"])
    q1 = queue_file(tmp_path, "s@client.example.org", ["a@fake.example"], b"x\r\n")
    q2 = queue_file(tmp_path, "s@client.example.org", ["b@fake.example"], b"y\r\n")
    r = send(p.port, q1, q2)
    assert r.rc == 1, r
    assert r.rcpt("a@fake.example")[:2] == (550, "5.1.1"), r
    assert r.rcpt("b@fake.example")[:2] == (550, "5.1.1"), r
    assert p.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "RSET",
                         "MAIL", "RCPT", "DATA", "RSET", "QUIT"], p.received
