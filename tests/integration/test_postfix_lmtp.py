"""postie behind a real Postfix (Debian's), over LMTP: the set-up of
docs/migration.md, "postie behind an existing Postfix".

A private Postfix (postfix_peer.py) takes mail for example.test on a
loopback port and hands it to postie with `virtual_transport =
lmtp:unix:<postie's socket>`; one address goes by a transport map entry
`lmtp:inet:127.0.0.1:<postie's LMTP port>` instead, so both transports
are used. Mail goes in with swaks, lands in postie's Maildirs with
postie's LMTP Received header on top of Postfix's, and is read back over
postie's IMAP. Postfix runs its lmtp client as the postfix user, so the
unix socket must let another user connect (lmtp_socket_mode). Refusals
per recipient (an address postie does not know, a full mailbox) make
Postfix bounce exactly those recipients, and its bounce comes back to the
sender in postie through LMTP as well.

A private Postfix needs root (postfix start): without it the module is
skipped. See postfix_peer.py for the instance."""

import imaplib
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

import conftest as cf
import postfix_peer
import smtp_helpers as sh
from delivery_helpers import MaildirMessage, delivery_env, files_with, token
from smtp_helpers import ALICE, ALICE_PW, BOB, BOB_PW, HOSTNAME

_why = postfix_peer.available()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

PF_NAME = "pf.postfix.test"
FULL = "full@example.test"          # quota 1K in postie
GHOST = "ghost@example.test"        # Postfix lists it, postie does not
TIMEOUT = 30.0


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sdir = Path(tempfile.mkdtemp(prefix="postie-lmtp-"))
    os.chmod(sdir, 0o755)           # the postfix user must reach the socket
    sock = sdir / "lmtp.sock"

    def setup(inst):
        inst.set("lmtp_listen",
                 f"127.0.0.1:{inst.port('lmtp')}, unix:{sock}")
        inst.ok("user", "add", FULL, "--quota", "1K", input="pw\n")

    try:
        with delivery_env(tmp_path_factory.mktemp("pf-lmtp"),
                          setup=setup) as d:
            e = Env()
            e.d = d
            e.sock = sock
            e.lmtp_port = d.inst.port("lmtp")
            e.pf = postfix_peer.PostfixPeer(
                port=d.inst.port_base + cf.SPARE_OFFSETS[0],
                listen="127.0.0.1", hostname=PF_NAME,
                domains={"example.test": ["alice", "bob", "full", "ghost"]},
                lmtp=f"unix:{sock}",
                transport=[f"{BOB} lmtp:inet:127.0.0.1:{e.lmtp_port}"])
            try:
                e.pf.start()
                yield e
            finally:
                e.pf.stop()
    finally:
        shutil.rmtree(sdir, ignore_errors=True)


def swaks(env, sender, rcpts, tok, body="hello from swaks"):
    res = sh.run_tool(["swaks", "--server", f"127.0.0.1:{env.pf.port}",
                       "--helo", "client.example.org",
                       "--from", sender, "--to", ",".join(rcpts),
                       "--header", f"Subject: {tok}", "--body", body])
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out + res.stderr.decode(errors="replace")
    assert re.search(r"<-\s+250 2\.0\.0 Ok: queued as", out), out


def diagnose(env):
    return (f"\nPostfix queue:\n{env.pf.queue()}\nPostfix log:\n"
            f"{env.pf.log()[-3000:]}\npostie log:\n{env.d.log()[-3000:]}")


def wait_pf_log(env, pattern):
    rx = re.compile(pattern)
    ok = cf.wait_until(lambda: rx.search(env.pf.log()), TIMEOUT, 0.1)
    assert ok, f"no Postfix log line matches {pattern!r}" + diagnose(env)
    return ok


def delivered(env, address, tok):
    files = cf.wait_until(lambda: files_with(env.d.maildir(address), tok),
                          TIMEOUT, 0.1)
    assert files, f"{tok} not delivered to {address}" + diagnose(env)
    assert len(files) == 1, files
    return MaildirMessage(files[0])


def imap_fetch(env, user, pw, tok):
    """The message with TOK in its Subject, as postie's IMAP sends it."""
    m = imaplib.IMAP4("127.0.0.1", env.d.inst.port("imap"),
                      timeout=sh.IO_TIMEOUT)
    try:
        m.login(user, pw)
        typ, _ = m.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, data = m.search(None, "SUBJECT", tok)
        assert typ == "OK"
        nums = data[0].split()
        assert len(nums) == 1, (tok, data)
        typ, data = m.fetch(nums[0], "(BODY.PEEK[])")
        assert typ == "OK"
        return data[0][1]
    finally:
        m.logout()


def test_swaks_postfix_lmtp_maildir_imap(env):
    """swaks -> Postfix -> postie LMTP (unix socket for alice, TCP for
    bob) -> Maildir -> IMAP."""
    tok = token("pflmtp")
    sender = "someone@client.example.org"
    swaks(env, sender, [ALICE, BOB], tok)
    for rcpt, sock in ((ALICE, r"[^,]*lmtp\.sock[^,]*"),
                       (BOB, rf"[^,]*127\.0\.0\.1\]:{env.lmtp_port}")):
        wait_pf_log(env, rf"to=<{re.escape(rcpt)}>, relay={sock}, .*"
                    rf"status=sent \(250 2\.0\.0 <{re.escape(rcpt)}> Ok: "
                    r"delivered")
    for rcpt, pw, unix in ((ALICE, ALICE_PW, True), (BOB, BOB_PW, False)):
        mm = delivered(env, rcpt, tok)
        assert mm.return_path == sender
        assert mm.delivered_to == rcpt
        received, rest = mm.received_and_rest()
        # postie's header on top, naming Postfix, then Postfix's own.
        want = (rf"Received: from {re.escape(PF_NAME)}"
                + ("" if unix else r" \(\[127\.0\.0\.1\]\)") +
                rf"\r\n\tby {re.escape(HOSTNAME)} \(postie\) with LMTP id "
                r"[0-9A-F]{16}")
        assert re.match(want.encode(), received), received
        assert rest.startswith(b"Received: from client.example.org"), rest[:300]
        assert f"by {PF_NAME} (Postfix) with ESMTP".encode() in rest[:400]
        assert f"Subject: {tok}\r\n".encode() in rest
        # swaks ends its body with empty lines
        assert re.search(rb"\r\n\r\nhello from swaks\r\n(\r\n)*\Z", rest), \
            rest[-200:]
        # The same bytes over IMAP.
        assert imap_fetch(env, rcpt, pw, tok) == mm.raw


def test_refusals_per_recipient_bounce_through_postfix(env):
    """One message to alice (delivered), a full mailbox (552 5.2.2 after
    DATA) and an address Postfix knows but postie does not (550 5.1.1 at
    RCPT): Postfix delivers the first and bounces the two others to the
    sender, bob, whose bounce comes back into postie by LMTP."""
    tok = token("pfmix")
    swaks(env, BOB, [ALICE, FULL, GHOST], tok, body="x" * 3000)
    delivered(env, ALICE, tok)
    wait_pf_log(env, rf"to=<{re.escape(FULL)}>, relay=[^,]*lmtp\.sock.*"
                r"status=bounced \([^)]*552 5\.2\.2 .*end of DATA")
    wait_pf_log(env, rf"to=<{re.escape(GHOST)}>, relay=[^,]*lmtp\.sock.*"
                r"status=bounced \([^)]*550 5\.1\.1 .*RCPT TO")
    assert files_with(env.d.maildir(FULL), tok) == []
    # Postfix's notice to bob (null sender), through LMTP over TCP.
    def notices():
        got = [MaildirMessage(f) for f in
               files_with(env.d.maildir(BOB), tok)]
        text = b"".join(m.raw for m in got)
        if FULL.encode() in text and GHOST.encode() in text:
            return got
        return None
    got = cf.wait_until(notices, TIMEOUT, 0.1)
    assert got, "no bounce for both recipients in bob's Maildir" + \
        diagnose(env)
    for mm in got:
        assert mm.return_path == "", mm.raw[:300]
        assert b"MAILER-DAEMON" in mm.raw[:2000]
    text = b"".join(m.raw for m in got)
    assert b"552 5.2.2" in text and b"550 5.1.1" in text, text[:3000]
