"""postie and a real Postfix (Debian's) exchanging mail, both ways.

- postie -> Postfix: postfix.test's MX (from the test's dnsmasq) is a
  private Postfix on 127.0.0.20 at the slot's MX port, offering STARTTLS
  with a self-signed certificate; postie's policy for postfix.test is
  encrypt. The message lands in Postfix's Maildir, and Postfix recorded
  the TLS session (its log and its Received header).
- Postfix -> postie: the same Postfix relays everything that is not its
  own to relayhost = [127.0.0.1]:<postie's SMTP port>; a message handed to
  Postfix lands in postie's Maildir, sent over STARTTLS (postie's Received
  header says ESMTPS).

A private Postfix needs root (postfix start): without it the module is
skipped. See postfix_peer.py for the instance."""

import contextlib
import re
import smtplib
import time

import pytest

import conftest as cf
import delivery_helpers as dh
import postfix_peer
import remote_helpers as rh
from delivery_helpers import message, token, wait_files
from dns_helpers import Dnsmasq

_why = postfix_peer.available()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

BOB = "bob@example.test"
CAROL = "carol@postfix.test"
PF_ADDR = "127.0.0.20"
PF_NAME = "pf.postfix.test"
TIMEOUT = 20.0


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("postfix-interop")
    with cf.reserved_port_base() as base, contextlib.ExitStack() as stack:
        e = Env()
        e.dns = Dnsmasq(base + rh.DNS_OFFSET, tmp)
        e.dns.mx("postfix.test", PF_NAME, 10).a(PF_NAME, PF_ADDR)
        e.dns.start()
        stack.callback(e.dns.stop)

        e.out = rh.make_host(
            tmp, "out", "127.0.0.1", base, hostname="out.example.test",
            conf=rh.sender_conf(base, e.dns,
                                smtp_tls_policy="postfix.test=encrypt"),
            domains=["example.test"], users=[(BOB, "bob-pw")])
        stack.callback(e.out.stop_all)
        e.out.start()

        e.pf = postfix_peer.PostfixPeer(
            port=base + 25, listen=PF_ADDR, hostname=PF_NAME,
            domains={"postfix.test": ["carol"]},
            relayhost=f"[127.0.0.1]:{e.out.smtp}")
        stack.callback(e.pf.stop)
        e.pf.start()
        yield e


def wait_pf_file(env, address, tok):
    pf = env.pf
    ok = cf.wait_until(lambda: pf.files_with(address, tok), TIMEOUT, 0.1)
    assert ok, (f"{tok} not in Postfix's Maildir of {address} within "
                f"{TIMEOUT}s\nPostfix queue:\n{pf.queue()}\n"
                f"Postfix log:\n{pf.log()[-3000:]}\n"
                f"postie log:\n{env.out.log()[-3000:]}")
    files = pf.files_with(address, tok)
    assert len(files) == 1, files
    return files[0].read_bytes()


def test_postie_delivers_to_postfix_over_starttls(env):
    tok = token("topf")
    msg = message(tok, sender=BOB, to=CAROL)
    qid = env.out.send(BOB, [CAROL], msg)
    data = wait_pf_file(env, CAROL, tok)
    env.out.wait_gone(qid)
    head = data.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in data else \
        data.split(b"\n\n", 1)[0]
    # Postfix's Received header (its first) names the TLS session.
    first = re.split(rb"\n(?=Received: )", head, maxsplit=2)
    pf_received = [h for h in first if h.startswith(b"Received: ") and
                   b"by " + PF_NAME.encode() in h]
    assert pf_received, head.decode(errors="replace")
    assert b"using TLS" in pf_received[0] and b"with ESMTPS" in pf_received[0], (
        pf_received[0].decode(errors="replace"))
    assert re.search(r"TLS connection established from \S+\[127\.0\.0\.1\]",
                     env.pf.log()), env.pf.log()[-3000:]
    assert re.search(rf"to=<{re.escape(CAROL)}>, relay=virtual.*status=sent",
                     env.pf.log())
    # Postfix stores LF line ends; the message came through whole.
    assert data.replace(b"\r\n", b"\n").endswith(msg.replace(b"\r\n", b"\n"))
    assert f"Return-Path: <{BOB}>".encode() in data


def test_postfix_delivers_to_postie(env):
    tok = token("frompf")
    sender = "someone@postfix.test"
    msg = message(tok, sender=sender, to=BOB)
    with smtplib.SMTP(PF_ADDR, env.pf.port, timeout=30) as c:
        c.ehlo("client.example.org")
        refused = c.sendmail(sender, [BOB], msg)
        assert refused == {}, refused
    files = wait_files(env.out.maildir(BOB), tok, timeout=TIMEOUT, env=env.out)
    assert len(files) == 1, files
    mm = dh.MaildirMessage(files[0])
    assert mm.return_path == sender
    assert mm.delivered_to == BOB
    # postie's Received header first: Postfix came over STARTTLS.
    received, _ = mm.received_and_rest()
    assert b"with ESMTPS" in received, received
    assert PF_NAME.encode() in received, received
    assert re.search(r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]",
                     env.pf.log()), env.pf.log()[-3000:]
    assert re.search(rf"to=<{re.escape(BOB)}>, relay=127\.0\.0\.1.*status=sent",
                     env.pf.log()), env.pf.log()[-3000:]
    # The body arrived as sent.
    assert mm.raw.endswith(msg.split(b"\r\n\r\n", 1)[1])
    time.sleep(0.5)
    assert len(dh.files_with(env.out.maildir(BOB), tok)) == 1
