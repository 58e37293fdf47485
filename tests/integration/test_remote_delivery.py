"""Remote delivery (issue 5): mail for other domains leaves through the
SMTP client to the right MX host, found through a private dnsmasq.

Every receiver is a real postie where postie can play the part: MX hosts
on 127.0.0.2, 127.0.0.3, ... all on the same port (the senders'
smtp_remote_port), a backup MX that holds mail for its primary, a relay
host with AUTH on its submission port. A scripted peer (remote_helpers.Sink)
plays what postie never does: a 451 on RCPT, a server without SMTPUTF8 or
without STARTTLS, and LMTP servers (TCP and unix socket) that refuse one
recipient after the data.

The sending instance "out" (127.0.0.1, hostname out.example.test) has the
local user bob, who sends every test message, so that DSNs land in a
Maildir. Each message carries a unique token in its Subject and
Message-ID. Retries never come by themselves (queue_minimal_backoff = 1h):
a test that wants one runs `postie queue flush`.

Address plan (port base B of one slot; SMTP on B+25 everywhere):
  127.0.0.1  out (sender); also host A's second listener on B+202, the
             LMTP sink on B+201, dnsmasq on B+200
  127.0.0.2  host A  mxa.pref.test    127.0.0.3  host B  mxb.pref.test
  127.0.0.4  nothing (a dead MX)      127.0.0.5  scripted SMTP sink
  127.0.0.6  relay host R             127.0.0.7  host C (reuse.test)
  127.0.0.8  primary MX of prim.test  127.0.0.9  its backup MX
  127.0.0.10 ... senders of single tests (relay host, transport re-read)
"""

import contextlib
import re
import shutil
import time

import pytest

import conftest as cf
import delivery_helpers as dh
import remote_helpers as rh
from delivery_helpers import assert_dsn, files_with, message, token, wait_files
from dns_helpers import Dnsmasq

BOB = "bob@example.test"
BOB_PW = "bob-pw-remote"
OUT_NAME = "out.example.test"
TEMPFAIL_TEXT = "sink is busy, try again"
RELAY_USER = "sub@relay.test"
RELAY_PW = "relay-pw-1"
LMTP_REFUSAL = "no such mailbox here (lmtp sink)"
ERROR_TEXT = "error.test takes no mail"
RETRY_TEXT = "retry.test says come back later"

A_ADDR, B_ADDR, DEAD_ADDR, SINK_ADDR = ("127.0.0.2", "127.0.0.3",
                                        "127.0.0.4", "127.0.0.5")
R_ADDR, C_ADDR, PRIM_ADDR, BACKUP_ADDR = ("127.0.0.6", "127.0.0.7",
                                          "127.0.0.8", "127.0.0.9")


def sink_rcpt(address):
    domain = address.rsplit("@", 1)[-1].lower()
    if domain == "tempfail.test":
        return f"451 4.3.0 <{address}>: {TEMPFAIL_TEXT}"
    return None


def lmtp_reply(address):
    if address.lower().startswith("refuse"):
        return f"550 5.1.1 <{address}>: {LMTP_REFUSAL}"
    return None


def dns_records(dns):
    (dns.mx("pref.test", "mxb.pref.test", 20)      # listed first on purpose
        .mx("pref.test", "mxa.pref.test", 10)
        .a("mxa.pref.test", A_ADDR).a("mxb.pref.test", B_ADDR)
        .mx("fallback.test", "dead.fallback.test", 10)
        .mx("fallback.test", "mxa.pref.test", 20)
        .a("dead.fallback.test", DEAD_ADDR)
        .a("implicit.test", B_ADDR)
        .null_mx("nullmx.test")
        .mx("tempfail.test", "sink.test", 10)
        .mx("noutf8.test", "sink.test", 10)
        .mx("tlsreq.test", "sink.test", 10)
        .a("sink.test", SINK_ADDR)
        # The sender's own name: a host that delivered here would be
        # caught by the sink.
        .mx("selfmx.test", OUT_NAME, 10)
        .a(OUT_NAME, SINK_ADDR)
        .mx("reuse.test", "mxc.reuse.test", 10)
        .a("mxc.reuse.test", C_ADDR)
        .mx("prim.test", "mx1.prim.test", 10)
        .mx("prim.test", "mx2.prim.test", 20)
        .a("mx1.prim.test", PRIM_ADDR).a("mx2.prim.test", BACKUP_ADDR)
        .a("relay.test", R_ADDR))


class Net:
    """Everything the module's tests share."""

    def __init__(self, tmp, base, stack):
        self.tmp = tmp
        self.base = base
        self.stack = stack
        self.mx_port = base + 25
        self.alt_port = base + rh.ALT_SMTP_OFFSET
        self.lmtp_port = base + rh.PEER_OFFSET
        self.next_addr = 10

    def host(self, name, addr, *, start=True, **kw):
        h = rh.make_host(self.tmp, name, addr, self.base, **kw)
        self.stack.callback(h.stop_all)
        if start:
            h.start()
        return h

    def sender(self, name, conf=None, transport=None, start=True):
        """A new sending instance on the next free 127.0.0.N, with bob."""
        addr = f"127.0.0.{self.next_addr}"
        self.next_addr += 1
        c = rh.sender_conf(self.base, self.dns, **(conf or {}))
        if transport is not None:
            c["transport_file"] = "transport"
        h = self.host(name, addr, start=False, hostname=f"{name}.example.test",
                      conf=c, domains=["example.test"], users=[(BOB, BOB_PW)])
        if transport is not None:
            rh.write_transport(h, transport)
        if start:
            h.start()
        return h


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("remote")
    with cf.reserved_port_base() as base, contextlib.ExitStack() as stack:
        n = Net(tmp, base, stack)
        n.dns = Dnsmasq(base + rh.DNS_OFFSET, tmp)
        dns_records(n.dns)
        n.dns.start()
        stack.callback(n.dns.stop)

        n.sink = rh.Sink(SINK_ADDR, n.mx_port, rcpt=sink_rcpt,
                         extensions=("PIPELINING", "8BITMIME", "SIZE 10240000",
                                     "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"))
        stack.callback(n.sink.close)
        n.lmtp = rh.Sink("127.0.0.1", n.lmtp_port, lmtp=True,
                         name="lmtp.sink.test", lmtp_reply=lmtp_reply)
        stack.callback(n.lmtp.close)
        sockdir = rh.unix_socket_dir()
        stack.callback(shutil.rmtree, sockdir, True)
        n.lmtp_path = sockdir / "lmtp.sock"
        n.lmtpu = rh.Sink(path=n.lmtp_path, lmtp=True, name="lmtpu.sink.test",
                          lmtp_reply=lmtp_reply)
        stack.callback(n.lmtpu.close)

        n.a = n.host("mxa", A_ADDR, hostname="mxa.pref.test",
                     domains=["pref.test", "fallback.test", "tmsmtp.test",
                              "x.tmsub.test"],
                     users=[("u@pref.test", "pw-a"), ("u@fallback.test", "pw-a"),
                            ("u@tmsmtp.test", "pw-a"), ("u@x.tmsub.test", "pw-a")],
                     extra_smtp=[f"127.0.0.1:{n.alt_port}"])
        n.b = n.host("mxb", B_ADDR, hostname="mxb.pref.test",
                     domains=["pref.test", "implicit.test", "tmmx.test"],
                     users=[("u@pref.test", "pw-b"), ("u@implicit.test", "pw-b"),
                            ("u@tmmx.test", "pw-b")])
        n.transport = [
            f"tmsmtp.test      smtp:[127.0.0.1]:{n.alt_port}",
            f".tmsub.test      smtp:[127.0.0.1]:{n.alt_port}",
            "tmmx.test        smtp:mxb.pref.test",
            "discard.test     discard",
            f"error.test       error:5.7.1 {ERROR_TEXT}",
            "errdefault.test  error:nothing for errdefault.test",
            f"retry.test       retry:4.4.5 {RETRY_TEXT}",
            "retrydefault.test retry:",
            f"lmtp.test        lmtp:127.0.0.1:{n.lmtp_port}",
            f"lmtpb.test       lmtp:[127.0.0.1]:{n.lmtp_port}",
            f"lmtpunix.test    lmtp:unix:{n.lmtp_path}",
        ]
        # The sender: no listener may clash with the MX hosts' (other
        # addresses, same ports), so it is made like them, on 127.0.0.1.
        n.out = n.host(
            "out", "127.0.0.1", start=False, hostname=OUT_NAME,
            conf=rh.sender_conf(base, n.dns, transport_file="transport",
                                smtp_destination_concurrency_limit="2",
                                smtp_tls_policy="tlsreq.test=encrypt"),
            domains=["example.test"], users=[(BOB, BOB_PW)])
        rh.write_transport(n.out, n.transport)
        n.out.start()
        yield n
        assert not n.sink.errors and not n.lmtp.errors and not n.lmtpu.errors, (
            n.sink.errors + n.lmtp.errors + n.lmtpu.errors)


# ---------------------------------------------------------------- helpers

def send_out(net, rcpts, tok, host=None, sender=BOB, mail_params=""):
    """Send a message with TOK from SENDER through HOST (default: out)."""
    host = host or net.out
    rcpts = [rcpts] if isinstance(rcpts, str) else rcpts
    msg = message(tok, sender=sender, to=rcpts[0])
    qid = host.send(sender, rcpts, msg, mail_params=mail_params)
    return qid, msg


def one_file(host, address, tok, env=None):
    files = wait_files(host.maildir(address), tok, env=env or host)
    assert len(files) == 1, f"{len(files)} copies of {tok} for {address}"
    return dh.MaildirMessage(files[0])


def dsn_for(net, tok, host=None):
    """The DSN about TOK in bob's Maildir on HOST (default: out)."""
    host = host or net.out
    files = wait_files(host.maildir(BOB), tok, env=host)
    dsns = [f for f in files if b"multipart/report" in f.read_bytes()]
    assert len(dsns) == 1, f"{len(dsns)} DSNs for {tok}: {files}"
    return dsns[0]


def assert_no_dsn(host, tok, settle=1.0):
    time.sleep(settle)
    got = files_with(host.maildir(BOB), tok)
    assert got == [], f"bob got mail about {tok}: {[p.read_bytes()[:2000] for p in got]}"


def received_with(mm):
    """The "with" words of every Received header of a delivered file."""
    return re.findall(rb"\bwith (\w+)", mm.raw.split(b"\r\n\r\n", 1)[0])


# ---------------------------------------------------------------- MX routing

def test_fixture_records(net):
    """The DNS the tests rely on, asked directly."""
    assert net.dns.query("pref.test", "MX") == (
        0, ["10 mxa.pref.test", "20 mxb.pref.test"])
    assert net.dns.query("nullmx.test", "MX") == (0, ["0 ."])
    assert net.dns.query("implicit.test", "MX") == (0, [])
    assert net.dns.query("implicit.test", "A") == (0, [B_ADDR])
    assert net.dns.query("nowhere.test", "MX")[0] == 3      # NXDOMAIN


def test_mx_preference_order(net):
    """Three messages to pref.test all go to the preference-10 host."""
    toks = [token("pref") for _ in range(3)]
    for t in toks:
        send_out(net, "u@pref.test", t)
    for t in toks:
        mm = one_file(net.a, "u@pref.test", t, env=net.out)
        assert mm.return_path == BOB
        # smtp_tls_security_level = may: A offers STARTTLS, so it is used.
        assert b"ESMTPS" in received_with(mm), mm.raw[:1500]
    for t in toks:
        assert files_with(net.b.maildir("u@pref.test"), t) == []
    net.out.wait_queue_settled()


def test_delivered_message_is_byte_exact(net):
    tok = token("exact")
    body = b".leading dot\r\n..two\r\n\r\nline with trailing space \r\nend\r\n"
    msg = message(tok, body=body, sender=BOB, to="u@pref.test")
    net.out.send(BOB, ["u@pref.test"], msg)
    mm = one_file(net.a, "u@pref.test", tok, env=net.out)
    assert mm.raw.endswith(msg), mm.raw[-600:]
    # A's Received header, then out's, then the message.
    assert mm.queued.count(b"Received: ") >= 2


def test_fallback_to_second_mx_when_first_refuses(net):
    """dead.fallback.test (10) has nothing listening; mxa (20) takes it."""
    tok = token("fallback")
    qid, _ = send_out(net, "u@fallback.test", tok)
    one_file(net.a, "u@fallback.test", tok, env=net.out)
    net.out.wait_gone(qid)


def test_implicit_mx_uses_the_domain_address(net):
    tok = token("implicit")
    qid, _ = send_out(net, "u@implicit.test", tok)
    one_file(net.b, "u@implicit.test", tok, env=net.out)
    net.out.wait_gone(qid)


def test_null_mx_bounces_at_once(net):
    tok = token("nullmx")
    qid, _ = send_out(net, "x@nullmx.test", tok)
    assert_dsn(dsn_for(net, tok), failed="x@nullmx.test", status="5.1.10",
               returned_token=tok)
    net.out.wait_gone(qid)


def test_unknown_domain_bounces(net):
    """NXDOMAIN for the recipient's domain is permanent (the exact status
    is not part of the contract: any 5.x.x)."""
    tok = token("nxdomain")
    qid, _ = send_out(net, "x@nowhere.test", tok)
    d = dh.Dsn(dsn_for(net, tok))
    block = d.recipient("x@nowhere.test")
    assert block is not None and block.get("action", "").lower() == "failed", (
        d.describe())
    assert block.get("status", "").startswith("5."), d.describe()
    net.out.wait_gone(qid)


def test_remote_5xx_returns_a_dsn_quoting_the_reply(net):
    """mxa answers 550 5.1.1 for an unknown user; one of two recipients."""
    tok = token("r5xx")
    qid, _ = send_out(net, ["nobody@pref.test", "u@pref.test"], tok)
    one_file(net.a, "u@pref.test", tok, env=net.out)
    d = assert_dsn(dsn_for(net, tok), failed="nobody@pref.test",
                   status="5.1.1", returned_token=tok,
                   not_listed=["u@pref.test"])
    diag = d.recipient("nobody@pref.test").get("diagnostic-code", "")
    assert "550" in diag and "Recipient address rejected: User unknown" in diag, (
        f"Diagnostic-Code {diag!r}\n{d.describe()}")
    net.out.wait_gone(qid)


def test_remote_4xx_defers_with_the_reply_in_queue_list(net):
    tok = token("r4xx")
    qid, _ = send_out(net, "x@tempfail.test", tok)
    net.out.wait_deferred(qid)
    listing = rh.wait_queue_text(net.out, qid)
    # The remote's words, and the code they came with.
    assert TEMPFAIL_TEXT in listing and "451" in listing, listing
    assert any("tempfail.test" in r for r in net.sink.rcpts_seen())
    assert net.sink.received(tok) == []
    assert_no_dsn(net.out, tok)
    # a forced retry meets the same answer and stays deferred
    before = len([r for r in net.sink.rcpts_seen() if "tempfail.test" in r])
    net.out.flush()
    cf.wait_until(lambda: len([r for r in net.sink.rcpts_seen()
                               if "tempfail.test" in r]) > before, 10)
    net.out.wait_deferred(qid)
    assert TEMPFAIL_TEXT in rh.wait_queue_text(net.out, qid)
    net.out.ok("queue", "delete", qid)


def test_best_mx_is_self_and_domain_not_local_bounces_5_4_6(net):
    tok = token("selfmx")
    qid, _ = send_out(net, "x@selfmx.test", tok)
    assert_dsn(dsn_for(net, tok), failed="x@selfmx.test", status="5.4.6",
               returned_token=tok)
    net.out.wait_gone(qid)
    assert not [r for r in net.sink.rcpts_seen() if "selfmx.test" in r]


def test_smtputf8_to_a_peer_without_it_bounces_5_6_7(net):
    tok = token("utf8no")
    rcpt = "jörg@noutf8.test"
    qid, _ = send_out(net, rcpt, tok, mail_params="SMTPUTF8")
    # A UTF-8 recipient makes it an RFC 6533 report:
    # message/global-delivery-status, Final-Recipient: utf-8; ...
    raw = dh.MaildirMessage(dsn_for(net, tok)).raw.decode("utf-8", "replace")
    m = re.search(r"(?ims)^Content-Type: message/global-delivery-status"
                  r".*?\r?\n\r?\n(.*?)(?=^--)", raw)
    assert m, raw[:4000]
    block = [b for b in re.split(r"\r?\n\r?\n", m.group(1))
             if re.search(rf"(?im)^Final-Recipient:\s*utf-8;\s*{rcpt}\s*$", b)]
    assert block, raw[:4000]
    assert re.search(r"(?im)^Action:\s*failed\s*$", block[0]), block[0]
    assert re.search(r"(?im)^Status:\s*5\.6\.7\s*$", block[0]), block[0]
    net.out.wait_gone(qid)
    assert not [r for r in net.sink.rcpts_seen() if "noutf8.test" in r]
    assert net.sink.received(tok) == []


def test_smtputf8_to_a_peer_with_it_is_delivered(net):
    tok = token("utf8yes")
    sender = "jörg@client.example.org"
    msg = message(tok, sender="sender@client.example.org", to="u@pref.test")
    net.out.send(sender, ["u@pref.test"], msg, mail_params="SMTPUTF8")
    mm = one_file(net.a, "u@pref.test", tok, env=net.out)
    assert mm.return_path == sender


def test_tls_policy_encrypt_without_starttls_defers(net):
    """smtp_tls_policy = tlsreq.test=encrypt; its MX (the sink) offers no
    STARTTLS: nothing is sent in the clear."""
    tok = token("tlsreq")
    before = net.sink.connections
    qid, _ = send_out(net, "x@tlsreq.test", tok)
    net.out.wait_deferred(qid)
    # postie did go there (and said why it went no further)
    assert net.sink.connections > before, "no connection to tlsreq.test's MX"
    assert "tls" in rh.wait_queue_text(net.out, qid).lower()
    new = net.sink.sessions[before:]
    assert all("MAIL" not in s.verbs() for s in new), [s.commands for s in new]
    assert net.sink.received(tok) == []
    assert_no_dsn(net.out, tok, settle=0)
    net.out.ok("queue", "delete", qid)


def test_several_messages_reuse_connections(net):
    """Six messages wait for reuse.test (its MX is down), then go out at
    once: smtp_destination_concurrency_limit = 2 allows two connections,
    and every message after the first on each must reuse it."""
    c = net.host("mxc", C_ADDR, start=False, hostname="mxc.reuse.test",
                 domains=["reuse.test"], users=[("u@reuse.test", "pw-c")])
    toks = [token("reuse") for _ in range(6)]
    qids = [send_out(net, "u@reuse.test", t)[0] for t in toks]
    for q in qids:
        net.out.wait_deferred(q)
    c.start()
    before = c.connections()
    net.out.flush()
    for t in toks:
        one_file(c, "u@reuse.test", t, env=net.out)
    for q in qids:
        net.out.wait_gone(q)
    used = c.connections() - before
    assert 1 <= used <= 2, (
        f"6 messages took {used} connections\nmxc log:\n{c.log()[-4000:]}")


# ---------------------------------------------------------------- backup MX

def test_backup_mx_holds_mail_until_the_primary_is_back(net):
    prim = net.host("prim", PRIM_ADDR, start=False, hostname="mx1.prim.test",
                    domains=["prim.test"], users=[("pat@prim.test", "pw-p")])
    backup = net.host(
        "backup", BACKUP_ADDR, hostname="backup.other.test",
        conf=rh.sender_conf(net.base, net.dns, relay_domains="prim.test",
                            mx_self_names="mx2.prim.test",
                            relay_recipients="pat@prim.test @list.test",
                            # the test's client is a stranger here
                            mynetworks="127.0.0.99/32"))
    # Only the valid recipients of the relay domain are accepted.
    with backup.connect() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<someone@far.test>").code == 250
        r = c.cmd("RCPT TO:<nobody@prim.test>")
        assert r.code == 550 and "5.1.1" in r.text, r.lines
        assert c.cmd("RCPT TO:<PAT@prim.test>").code == 250
    tok = token("backup")
    sender = "someone@far.test"
    msg = message(tok, sender=sender, to="pat@prim.test")
    qid = backup.send(sender, ["pat@prim.test"], msg)
    backup.wait_deferred(qid)
    assert qid in rh.wait_queue_text(backup, qid)
    # Seeing itself at 20, the backup tries only mx1, never itself.
    time.sleep(0.5)
    assert backup.where(qid) == ["deferred"]
    assert not (backup.dir / "mail" / "prim.test").exists()

    prim.start()
    backup.flush()
    files = wait_files(prim.maildir("pat@prim.test"), tok, env=backup)
    backup.wait_gone(qid)
    files = rh.no_more_files(prim.maildir("pat@prim.test"), tok, 1)
    mm = dh.MaildirMessage(files[0])
    assert mm.return_path == sender
    assert mm.raw.endswith(msg)
    assert mm.queued.count(b"Received: ") >= 2      # prim's and backup's
    assert "Mail queue is empty" in backup.queue_list()


# ---------------------------------------------------------------- relay host

@pytest.fixture(scope="module")
def relay(net):
    return net.host(
        "relay", R_ADDR, hostname="relay.test",
        conf={"auth_max_failures": "100",
              # a smarthost: its user sends for the whole example.test
              "smtp_sender_login_check": "no"},
        domains=["viarelay.test", "relay.test"],
        users=[("dest@viarelay.test", "pw-d"), (RELAY_USER, RELAY_PW)])


def relay_conf(net, relay, **more):
    conf = {"relayhost": f"[relay.test]:{relay.submission}",
            "relayhost_username": RELAY_USER,
            "relayhost_password": RELAY_PW,
            "relayhost_tls": "encrypt"}
    conf.update(more)
    return conf


def test_relayhost_with_auth_and_tls(net, relay):
    """viarelay.test has no DNS records at all: only the relay host can
    deliver it. It arrives through submission, over TLS, authenticated."""
    s = net.sender("s-relay-ok", relay_conf(net, relay))
    tok = token("relay")
    qid, msg = send_out(net, "dest@viarelay.test", tok, host=s)
    mm = one_file(relay, "dest@viarelay.test", tok, env=s)
    assert mm.raw.endswith(msg)
    assert b"ESMTPSA" in received_with(mm), mm.raw[:1500]
    s.wait_gone(qid)


def test_relayhost_wrong_password_defers(net, relay):
    s = net.sender("s-relay-badpw",
                   relay_conf(net, relay, relayhost_password="wrong-pw"))
    tok = token("relaybad")
    qid, _ = send_out(net, "dest@viarelay.test", tok, host=s)
    s.wait_deferred(qid)
    text = rh.wait_queue_text(s, qid)
    assert "535" in text or "auth" in text.lower(), text
    assert files_with(relay.maildir("dest@viarelay.test"), tok) == []
    assert_no_dsn(s, tok)


def test_relayhost_without_starttls_sends_no_credentials(net):
    """The relay (the sink) offers AUTH but no STARTTLS: with
    relayhost_tls = encrypt nothing is sent, not even AUTH."""
    helo = "s-relay-notls.example.test"
    s = net.sender("s-relay-notls", {
        "relayhost": f"[{SINK_ADDR}]:{net.mx_port}",
        "relayhost_username": RELAY_USER, "relayhost_password": RELAY_PW,
        "relayhost_tls": "encrypt", "smtp_helo_name": helo})
    tok = token("relaynotls")
    qid, _ = send_out(net, "dest@viarelay.test", tok, host=s)
    s.wait_deferred(qid)
    sessions = net.sink.sessions_with(helo)
    assert sessions, (f"no session with EHLO {helo} at the sink; "
                      f"log:\n{s.log()[-3000:]}")
    for sess in sessions:
        assert "AUTH" not in sess.verbs() and "MAIL" not in sess.verbs(), (
            sess.commands)
    assert_no_dsn(s, tok, settle=0)


# ---------------------------------------------------------------- transport map

def test_transport_smtp_bracket_host_and_port(net):
    """tmsmtp.test -> smtp:[127.0.0.1]:<alt port>: host A's second
    listener; no DNS record exists for tmsmtp.test."""
    tok = token("tmsmtp")
    qid, _ = send_out(net, "u@tmsmtp.test", tok)
    one_file(net.a, "u@tmsmtp.test", tok, env=net.out)
    net.out.wait_gone(qid)


def test_transport_subdomain_pattern(net):
    tok = token("tmsub")
    qid, _ = send_out(net, "u@x.tmsub.test", tok)
    one_file(net.a, "u@x.tmsub.test", tok, env=net.out)
    net.out.wait_gone(qid)


def test_transport_smtp_host_gets_an_mx_lookup(net):
    """tmmx.test -> smtp:mxb.pref.test: that name has no MX, so its A."""
    tok = token("tmmx")
    qid, _ = send_out(net, "u@tmmx.test", tok)
    one_file(net.b, "u@tmmx.test", tok, env=net.out)
    net.out.wait_gone(qid)


def test_transport_discard(net):
    tok = token("discard")
    before = (net.sink.connections, net.a.connections(), net.b.connections())
    qid, _ = send_out(net, "x@discard.test", tok)
    net.out.wait_gone(qid)
    assert_no_dsn(net.out, tok)
    assert (net.sink.connections, net.a.connections(),
            net.b.connections()) == before


def test_transport_error_bounces_with_its_text(net):
    tok = token("error")
    qid, _ = send_out(net, "x@error.test", tok)
    d = assert_dsn(dsn_for(net, tok), failed="x@error.test", status="5.7.1",
                   returned_token=tok)
    assert ERROR_TEXT in d.status_text, d.describe()
    net.out.wait_gone(qid)


def test_transport_error_default_status(net):
    tok = token("errdef")
    qid, _ = send_out(net, "x@errdefault.test", tok)
    d = assert_dsn(dsn_for(net, tok), failed="x@errdefault.test",
                   status="5.0.0")
    assert "nothing for errdefault.test" in d.status_text, d.describe()
    net.out.wait_gone(qid)


def test_transport_retry_defers(net):
    tok = token("retry")
    qid, _ = send_out(net, "x@retry.test", tok)
    net.out.wait_deferred(qid)
    assert RETRY_TEXT in rh.wait_queue_text(net.out, qid)
    assert "4.4.5" in net.out.defer_log(qid)
    assert_no_dsn(net.out, tok, settle=0)
    net.out.ok("queue", "delete", qid)


def test_transport_retry_default_status(net):
    tok = token("retrydef")
    qid, _ = send_out(net, "x@retrydefault.test", tok)
    net.out.wait_deferred(qid)
    assert cf.wait_until(lambda: "4.0.0" in net.out.defer_log(qid), 5), (
        net.out.defer_log(qid))
    net.out.ok("queue", "delete", qid)


@pytest.mark.parametrize("domain", ["lmtp.test", "lmtpb.test", "lmtpunix.test"])
def test_transport_lmtp_replies_per_recipient(net, domain):
    """The LMTP peer accepts ok@ and refuses refuse@ after the data: one
    is delivered, the other bounces with the peer's reply."""
    peer = net.lmtpu if domain == "lmtpunix.test" else net.lmtp
    ok, bad = f"ok@{domain}", f"refuse@{domain}"
    tok = token("lmtp")
    qid, msg = send_out(net, [ok, bad], tok)
    d = assert_dsn(dsn_for(net, tok), failed=bad, status="5.1.1",
                   returned_token=tok, not_listed=[ok])
    assert LMTP_REFUSAL in d.recipient(bad).get("diagnostic-code", ""), (
        d.describe())
    got = peer.received(tok)
    assert len(got) == 1, got
    assert sorted(got[0]["rcpts"]) == sorted([ok, bad])
    assert got[0]["data"].endswith(msg)
    net.out.wait_gone(qid)
    sess = [s for s in peer.sessions
            if any(t is got[0] for t in s.transactions)]
    assert sess and sess[0].verbs()[0] == "LHLO", sess and sess[0].commands


def test_transport_map_is_reread_and_star_matches(net):
    """A sender whose map first bounces reread.test, then (file replaced)
    sends it to host A's second listener; "*" catches everything else
    non-local, and local mail stays local."""
    s = net.sender("s-reread", transport=[
        "reread.test error:5.7.1 first version"])
    tok1 = token("reread1")
    q1, _ = send_out(net, "u@reread.test", tok1, host=s)
    assert_dsn(dsn_for(net, tok1, host=s), failed="u@reread.test",
               status="5.7.1")
    s.wait_gone(q1)

    rh.write_transport(s, [
        f"reread.test smtp:[127.0.0.1]:{net.alt_port}",
        "*           error:5.7.1 star says no"])
    time.sleep(0.5)     # the map is checked for changes every 0.1 s at most
    net.a.ok("domain", "add", "reread.test")
    net.a.ok("user", "add", "u@reread.test", input="pw\n")
    tok2 = token("reread2")
    send_out(net, "u@reread.test", tok2, host=s)
    one_file(net.a, "u@reread.test", tok2, env=s)

    tok3 = token("star")
    send_out(net, "u@pref.test", tok3, host=s)
    d = assert_dsn(dsn_for(net, tok3, host=s), failed="u@pref.test",
                   status="5.7.1")
    assert "star says no" in d.status_text
    assert files_with(net.a.maildir("u@pref.test"), tok3) == []

    tok4 = token("local")
    msg = message(tok4, sender="x@client.example.org", to=BOB)
    s.send("x@client.example.org", [BOB], msg)
    wait_files(s.maildir(BOB), tok4, env=s)
