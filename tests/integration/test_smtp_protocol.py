"""SMTP protocol: greeting, EHLO, command replies and sequencing, message
reception byte for byte, BDAT, DSN, SMTPUTF8, TLS and AUTH, and real
clients (smtplib, swaks, curl). One server serves the whole module; the
client is 127.0.0.1, trusted by the default mynetworks. The server defers
every delivery (defer_transports), so accepted messages stay, unchanged, in
queue/deferred/ for read_queue."""

import email.message
import email.utils
import re
import smtplib
import time

import pytest

from smtp_helpers import (ALICE, ALICE_PW, BOB, CATCHALL, HOSTNAME, INFO,
                          accepted_log, assert_serves, b64, check, Conn,
                          expect_data_refused, make_message, plain_b64, qid_of,
                          read_queue, run_tool, smtp_env, tls_ctx, wait_log)

MAX_SIZE = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with smtp_env(tmp_path_factory.mktemp("smtp-protocol"),
                  {"max_message_size": "8M"}, keep_queued=True) as e:
        yield e


def ehlo_keywords(r):
    return {kw.split(" ", 1)[0].upper(): kw for kw in r.keywords}


# ---------------------------------------------------------------- greeting, EHLO

def test_greeting_names_host_and_postie(env):
    with Conn(env.smtp) as c:
        assert c.greeting.lines == [f"220 {HOSTNAME} ESMTP postie"]
        c.quit()


def test_ehlo_on_port_25_lists_extensions_without_auth(env):
    with Conn(env.smtp) as c:
        r = c.ehlo()
        assert r.lines[0].startswith(f"250-{HOSTNAME}"), r
        kw = ehlo_keywords(r)
        for k in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS",
                  "SMTPUTF8", "CHUNKING", "DSN"):
            assert k in kw, f"{k} missing from EHLO: {r}"
        assert kw.get("SIZE") == f"SIZE {MAX_SIZE}", r
        assert "AUTH" not in kw, f"AUTH offered on port 25 by default: {r}"
        c.starttls()
        r = c.ehlo()
        kw = ehlo_keywords(r)
        assert "STARTTLS" not in kw, f"STARTTLS offered again after TLS: {r}"
        assert "AUTH" not in kw, f"AUTH on port 25 with smtp_auth_on_port_25=no: {r}"
        assert "PIPELINING" in kw and "SIZE" in kw, r
        c.quit()


def test_ehlo_on_submission_offers_auth_only_after_starttls(env):
    with Conn(env.submission) as c:
        assert c.greeting.code == 220
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" in kw and "AUTH" not in kw, kw
        c.starttls()
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" not in kw, kw
        assert set(kw["AUTH"].upper().split()[1:]) >= {"PLAIN", "LOGIN"}, kw
        c.quit()


def test_ehlo_on_submissions_465_is_tls_and_offers_auth(env):
    with Conn(env.submissions, tls=True) as c:
        assert c.greeting.lines == [f"220 {HOSTNAME} ESMTP postie"]
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" not in kw, kw
        assert set(kw["AUTH"].upper().split()[1:]) >= {"PLAIN", "LOGIN"}, kw
        c.quit()


# ---------------------------------------------------------------- simple commands

def test_simple_command_replies(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("NOOP", 250, "2.0.0")
        c.expect("RSET", 250, "2.0.0")
        v1 = c.expect(f"VRFY {ALICE}", 252, "2.5.2")
        v2 = c.expect("VRFY nobody-here@example.test", 252, "2.5.2")
        c.expect("VRFY alice", 252, "2.5.2")
        # VRFY never discloses users: same text for a user and a non-user.
        assert v1.text.replace(ALICE, "X") == v2.text.replace(
            "nobody-here@example.test", "X"), (v1, v2)
        c.expect("EXPN staff", 502)
        r = c.cmd("HELP")
        assert r.code == 214, r
        c.expect("FROBNICATE now", 500, "5.5.2")
        c.expect("noop", 250, "2.0.0")      # commands are case-insensitive
        c.expect("QUIT", 221, "2.0.0")
        assert c.closed_by_peer(5), "connection still open after QUIT"


def test_helo_works_and_records_protocol_smtp(env):
    with Conn(env.smtp) as c:
        r = c.cmd("HELO old.client.example", check_enh=False)
        assert r.code == 250 and HOSTNAME in r.text, r
        qid = qid_of(c.mail_transaction("old@client.example", [ALICE],
                                        make_message("helo")))
        c.quit()
    q = read_queue(env, qid)
    assert q.get("P") == "SMTP", q.records
    assert q.get("H") == "old.client.example", q.records


def test_data_354_has_enhanced_code(env):
    """The contract: every reply but the greeting, EHLO and 334 has one."""
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@client.example>", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        r = c.cmd("DATA", check_enh=False)
        assert r.code == 354, r
        assert r.enh.startswith("2."), f"354 without an enhanced status code: {r.text!r}"
        c.send(make_message("354") + b".\r\n")
        qid_of(c.reply())
        c.quit()


@pytest.mark.parametrize("steps", [
    pytest.param([("MAIL FROM:<a@client.example>", 503, "5.5.1")], id="mail-before-ehlo"),
    pytest.param(["EHLO c", ("RCPT TO:<alice@example.test>", 503, "5.5.1")],
                 id="rcpt-before-mail"),
    pytest.param(["EHLO c", ("DATA", 503, "5.5.1")], id="data-before-mail"),
    pytest.param(["EHLO c", ("MAIL FROM:<a@client.example>", 250, "2.1.0"),
                  ("DATA", 503, "5.5.1")], id="data-before-rcpt"),
    pytest.param(["EHLO c", ("MAIL FROM:<a@client.example>", 250, "2.1.0"),
                  ("MAIL FROM:<b@client.example>", 503, "5.5.1")], id="nested-mail"),
    pytest.param(["EHLO c", ("MAIL FROM:<a@client.example>", 250, "2.1.0"),
                  ("RCPT TO:<alice@example.test>", 250, "2.1.5"),
                  ("RSET", 250, "2.0.0"),
                  ("RCPT TO:<alice@example.test>", 503, "5.5.1")],
                 id="rset-clears-transaction"),
])
def test_command_sequence_errors(env, steps):
    with Conn(env.smtp) as c:
        for st in steps:
            if isinstance(st, str):
                c.ehlo(st.split()[1])
            else:
                c.expect(*st)
        # the session goes on
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


@pytest.mark.parametrize("line,code,enh", [
    ("MAIL", 501, "5.5.4"),
    ("MAIL FROM:alice@example.test", 501, "5.1.7"),
    ("MAIL FROM:<alice@example.test", 501, "5.1.7"),
    ("MAIL FROM:<a@client.example> FOO=bar", 555, "5.5.4"),
])
def test_mail_syntax_errors(env, line, code, enh):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect(line, code, enh)
        # no transaction was started
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.expect("MAIL FROM:<a@client.example>", 250, "2.1.0")
        c.quit()
    assert_serves(env.smtp)


@pytest.mark.parametrize("line,code,enh", [
    ("RCPT", 501, "5.5.4"),
    ("RCPT TO:<not an address>", 501, "5.1.3"),
    ("RCPT TO:<>", 501, "5.1.3"),
    ("RCPT TO:<alice@>", 501, "5.1.3"),
    ("RCPT TO:<alice@example.test> FOO=bar", 555, "5.5.4"),
])
def test_rcpt_syntax_errors(env, line, code, enh):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@client.example>", 250, "2.1.0")
        c.expect(line, code, enh)
        expect_data_refused(c)      # still no recipient
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.quit()
    assert_serves(env.smtp)


# ---------------------------------------------------------------- receiving

def test_message_queued_with_envelope_and_received(env):
    sender = "carol@client.example.org"
    msg = make_message("envelope", "line one\r\nline two\r\n", sender=sender)
    with Conn(env.smtp) as c:
        c.ehlo("client.example.org")
        t0 = int(time.time())
        r = c.mail_transaction(sender, [ALICE, INFO, f"anyone@{CATCHALL}", BOB], msg)
        qid = qid_of(r)
        assert r.text.startswith("250 2.0.0 Ok: queued as "), r
        c.quit()
    q = read_queue(env, qid)
    assert q.records[0] == ("V", "1"), q.records
    assert q.get("I") == qid
    assert t0 - 2 <= int(q.get("T")) <= time.time() + 2, q.records
    assert q.get("S") == sender
    assert q.rcpts() == [ALICE, INFO, f"anyone@{CATCHALL}", BOB]
    assert q.get("C") == "127.0.0.1"
    assert q.get("H") == "client.example.org"
    assert q.get("P") == "ESMTP"
    assert not q.has("A"), q.records
    received, rest = q.received_and_rest()
    assert f"by {HOSTNAME}".encode() in received, received
    assert b"with ESMTP" in received, received
    assert b"TLSv" not in received, received
    assert rest == msg, "message bytes differ from what was sent"
    assert not (env.queue_dir("tmp") / qid).exists()
    m = accepted_log(env, qid=qid)
    ln = m.string
    for needle in (f"from=<{sender}>", "size=", "nrcpt=4"):
        assert needle in ln, f"{needle!r} not in log line {ln!r}"


def test_null_sender_accepted(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        qid = qid_of(c.mail_transaction("", [ALICE], make_message("bounce")))
        c.quit()
    q = read_queue(env, qid)
    assert q.get("S") == "", q.records


def test_message_bytes_exact_with_dots_and_8bit(env):
    body = (b"first line\r\n"
            b".starts with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"                           # a lone dot, stuffed on the wire
            b"trailing spaces   \r\n"
            b"\r\n"
            b"\tTab and 8-bit: \xc3\xa9\xe2\x82\xac \xff\xfe\x80\r\n"
            b"x" * 998 + b"\r\n"
            b". final\r\n")
    msg = make_message("bytes", body)
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@client.example> BODY=8BITMIME", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.expect("DATA", 354)
        wire = msg.replace(b"\r\n.", b"\r\n..")
        assert b"\r\n..\r\n" in wire and b"\r\n...two" in wire
        c.send(wire + b".\r\n")
        qid = qid_of(c.reply())
        c.quit()
    q = read_queue(env, qid)
    assert q.get("B") == "8BITMIME", q.records
    _, rest = q.received_and_rest()
    assert rest == msg


def test_five_megabyte_message_exact(env):
    line = bytes(range(33, 127)) + b"\xe9\xa0"     # 96 bytes + CRLF
    body = b"".join(line + b"%06d\r\n" % i for i in range(5 * 1024 * 1024 // 104))
    msg = make_message("big", body)
    assert len(msg) > 5_000_000
    with Conn(env.smtp, timeout=60) as c:
        c.ehlo()
        qid = qid_of(c.mail_transaction("big@client.example", [ALICE], msg,
                                        mail_params=f"SIZE={len(msg)}"))
        c.quit()
    q = read_queue(env, qid)
    _, rest = q.received_and_rest()
    assert len(rest) == len(msg) and rest == msg
    m = wait_log(env, r"\b" + qid + r": client=.*size=(\d+)")
    assert int(m.group(1)) >= len(msg), m.string


def test_two_transactions_in_one_session(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        q1 = qid_of(c.mail_transaction("a@client.example", [ALICE], make_message("one")))
        q2 = qid_of(c.mail_transaction("b@client.example", [BOB], make_message("two")))
        c.quit()
    assert q1 != q2
    assert read_queue(env, q1).rcpts() == [ALICE]
    assert read_queue(env, q2).rcpts() == [BOB]
    assert read_queue(env, q2).get("S") == "b@client.example"


def test_unknown_local_user_rejected(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@client.example>", 250, "2.1.0")
        c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.quit()


def test_trusted_client_may_relay(env):
    """127.0.0.1 is in the default mynetworks."""
    with Conn(env.smtp) as c:
        c.ehlo()
        qid = qid_of(c.mail_transaction("a@client.example", ["someone@elsewhere.example"],
                                        make_message("relay")))
        c.quit()
    assert read_queue(env, qid).rcpts() == ["someone@elsewhere.example"]


def test_pipelined_transaction_replies_in_order(env):
    msg = make_message("pipelined")
    with Conn(env.smtp) as c:
        c.send(b"EHLO pipe.example\r\nMAIL FROM:<p@client.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
        r = c.reply(check_enh=False)
        assert r.code == 250 and len(r.lines) > 1, r
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 550, "5.1.1")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 354)
        c.send(msg + b".\r\nQUIT\r\n")
        qid = qid_of(c.reply())
        check(c.reply(), 221, "2.0.0")
    q = read_queue(env, qid)
    assert q.rcpts() == [ALICE, BOB]
    assert q.received_and_rest()[1] == msg


# ---------------------------------------------------------------- BDAT, DSN, SMTPUTF8

def test_bdat_chunks(env):
    part1 = make_message("bdat", b"")
    part2 = b"..not unstuffed in BDAT\r\n.\r\n8-bit \xc3\xa9\xff ok\r\n"
    part3 = b"last chunk\r\n"
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<b@client.example> BODY=8BITMIME", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        check(c.reply(), 250, "2.0.0", what="BDAT 1")
        # second chunk and the last one pipelined in one write
        c.send(b"BDAT %d\r\n" % len(part2) + part2 +
               b"BDAT %d LAST\r\n" % len(part3) + part3)
        check(c.reply(), 250, "2.0.0", what="BDAT 2")
        qid = qid_of(c.reply())
        c.quit()
    q = read_queue(env, qid)
    assert q.get("B") == "8BITMIME", q.records
    assert q.received_and_rest()[1] == part1 + part2 + part3


def test_bdat_zero_last(env):
    msg = make_message("bdat0", "body\r\n")
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<b@client.example>", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.send(b"BDAT %d\r\n" % len(msg) + msg)
        check(c.reply(), 250, "2.0.0")
        qid = qid_of(c.cmd("BDAT 0 LAST"))
        c.quit()
    assert read_queue(env, qid).received_and_rest()[1] == msg


def test_data_after_bdat_refused(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<b@client.example>", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.send(b"BDAT 10\r\nSubject: x")
        check(c.reply(), 250, "2.0.0")
        c.expect("DATA", 503, "5.5.1")
        rest = b"\r\n\r\nbody\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        qid = qid_of(c.reply())
        c.quit()
    assert read_queue(env, qid).received_and_rest()[1] == b"Subject: x\r\n\r\nbody\r\n"


def test_dsn_parameters_kept_in_queue_file(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<d@client.example> RET=HDRS ENVID=env-42", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b",
                 250, "2.1.5")
        c.expect(f"RCPT TO:<{BOB}> NOTIFY=NEVER", 250, "2.1.5")
        c.expect(f"RCPT TO:<{INFO}>", 250, "2.1.5")
        qid = qid_of(c.data(make_message("dsn")))
        c.quit()
    q = read_queue(env, qid)
    assert q.get("E") == "env-42"
    assert q.get("D") == "HDRS"
    recs = [(k, v) for k, v in q.records if k in ("R", "N", "O")]
    assert recs == [("R", ALICE), ("N", "SUCCESS,FAILURE"), ("O", "rfc822;a@b"),
                    ("R", BOB), ("N", "NEVER"), ("R", INFO)], q.records


@pytest.mark.parametrize("sender,rcpt,options", [
    # smtplib adds SMTPUTF8 (and BODY=8BITMIME) itself for UTF-8 addresses
    ("josé@client.example", f"jürgen.ünïcödé@{CATCHALL}", []),
    # ASCII envelope, UTF-8 headers: the client asks for SMTPUTF8 itself
    ("ascii.utf8@client.example", ALICE, ["SMTPUTF8"]),
], ids=["utf8-addresses", "utf8-headers"])
def test_smtputf8_with_smtplib(env, sender, rcpt, options):
    msg = email.message.EmailMessage()
    msg["From"] = f"José <{sender}>"
    msg["To"] = rcpt
    msg["Subject"] = "Grüße"
    msg.set_content("Schöne Grüße\n")
    with smtplib.SMTP("127.0.0.1", env.smtp, timeout=15) as s:
        s.ehlo("utf8.client.example")
        refused = s.send_message(msg, from_addr=sender, to_addrs=[rcpt],
                                 mail_options=options)
        assert refused == {}
    m = accepted_log(env, sender=sender)
    q = read_queue(env, m.group(1))
    assert q.has("U"), q.records
    assert q.get("S") == sender
    assert q.rcpts() == [rcpt]
    assert "Grüße".encode() in q.message


@pytest.mark.parametrize("mail,rcpt", [
    ("MAIL FROM:<josé@client.example>", None),
    ("MAIL FROM:<a@client.example>", f"RCPT TO:<jürgen@{CATCHALL}>"),
])
def test_utf8_address_without_smtputf8_refused(env, mail, rcpt):
    with Conn(env.smtp) as c:
        c.ehlo()
        if rcpt is None:
            c.expect(mail, 553, "5.6.7")
        else:
            c.expect(mail, 250, "2.1.0")
            c.expect(rcpt, 553, "5.6.7")
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


# ---------------------------------------------------------------- TLS and AUTH

def test_starttls_on_port_25_records_esmtps_and_tls_version(env):
    with Conn(env.smtp) as c:
        c.ehlo()
        c.starttls()
        version = c.sock.version()
        c.ehlo("tls.client.example")
        qid = qid_of(c.mail_transaction("t@client.example", [ALICE], make_message("tls")))
        c.quit()
    q = read_queue(env, qid)
    assert q.get("P") == "ESMTPS"
    received, _ = q.received_and_rest()
    assert version.encode() in received, (version, received)
    assert b"with ESMTPS" in received, received


def test_submission_requires_auth_and_tls(env):
    with Conn(env.submission) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
        c.expect("AUTH PLAIN " + plain_b64(ALICE, ALICE_PW), 530, "5.7.0",
                 contains="Must issue a STARTTLS command first")
        c.starttls()
        c.ehlo()
        c.expect(f"MAIL FROM:<{ALICE}>", 530, "5.7.0")
        c.login()
        c.expect(f"MAIL FROM:<{ALICE}>", 250, "2.1.0")
        c.quit()


def test_auth_plain_without_initial_response(env):
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN")
        assert r.code == 334, r
        check(c.cmd(plain_b64(ALICE, ALICE_PW)), 235, "2.7.0")
        c.quit()


def test_auth_login(env):
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334, r
        r = c.cmd(b64(ALICE))
        assert r.code == 334, r
        check(c.cmd(b64(ALICE_PW)), 235, "2.7.0")
        c.expect("AUTH PLAIN " + plain_b64(ALICE, ALICE_PW), 503, "5.5.1")
        c.quit()


def test_auth_wrong_password_gets_535_after_delay(env):
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        t0 = time.monotonic()
        c.expect("AUTH PLAIN " + plain_b64(ALICE, "wrong"), 535, "5.7.8")
        assert time.monotonic() - t0 >= 0.8, "no delay before 535"
        c.expect(f"MAIL FROM:<{ALICE}>", 530, "5.7.0")
        c.quit()
    assert_serves(env.submissions, tls=True)


def test_smtp_ssl_465_login_adds_date_and_message_id(env):
    raw = (f"From: <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: no date\r\n\r\n"
           f"hello bob\r\n").encode()
    with smtplib.SMTP_SSL("127.0.0.1", env.submissions, context=tls_ctx(),
                          timeout=15) as s:
        s.ehlo("mua.example")
        s.login(ALICE, ALICE_PW)
        s.mail(ALICE)
        s.rcpt(BOB)
        code, resp = s.data(raw)
        assert code == 250, resp
        version = s.sock.version()
    text = resp.decode()
    assert text.startswith("2.0.0 Ok: queued as "), text
    qid = _last_qid(text)
    q = read_queue(env, qid)
    assert q.get("P") == "ESMTPSA"
    assert q.get("A") == ALICE
    received, rest = q.received_and_rest()
    assert version.encode() in received, received
    assert b"with ESMTPSA" in received, received
    head, _, body = rest.partition(b"\r\n\r\n")
    names = [ln.split(b":", 1)[0].lower() for ln in head.split(b"\r\n")
             if ln and ln[:1] not in (b" ", b"\t")]
    assert names.count(b"date") == 1, head
    assert names.count(b"message-id") == 1, head
    fields = {ln.split(b":", 1)[0].lower(): ln.split(b":", 1)[1].strip()
              for ln in head.split(b"\r\n") if b":" in ln}
    assert email.utils.parsedate_to_datetime(fields[b"date"].decode()), head
    assert re.fullmatch(rb"<[^<>@\s]+@[^<>@\s]+>", fields[b"message-id"]), head
    assert b"Subject: no date\r\n" in head + b"\r\n"
    assert body == b"hello bob\r\n"


def test_submission_keeps_existing_date_and_message_id(env):
    msg = make_message("has headers", sender=ALICE, to=BOB)
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        c.login()
        qid = qid_of(c.mail_transaction(ALICE, [BOB], msg))
        c.quit()
    assert read_queue(env, qid).received_and_rest()[1] == msg


def test_port_25_does_not_add_date_or_message_id(env):
    msg = (b"From: <x@client.example>\r\nTo: <alice@example.test>\r\n"
           b"Subject: bare headers\r\n\r\nno date here\r\n")
    with Conn(env.smtp) as c:
        c.ehlo()
        qid = qid_of(c.mail_transaction("x@client.example", [ALICE], msg))
        c.quit()
    assert read_queue(env, qid).received_and_rest()[1] == msg


def test_smtplib_starttls_on_587_and_relay_when_authenticated(env):
    msg = email.message.EmailMessage()
    msg["From"] = ALICE
    msg["To"] = "friend@elsewhere.example"
    msg["Subject"] = "via 587"
    msg.set_content("hi\n")
    with smtplib.SMTP("127.0.0.1", env.submission, timeout=15) as s:
        s.starttls(context=tls_ctx())
        s.login(ALICE, ALICE_PW)
        assert s.send_message(msg) == {}
    m = accepted_log(env, sender=ALICE)
    assert "nrcpt=1" in m.string, m.string
    q = read_queue(env, m.group(1))
    assert q.rcpts() == ["friend@elsewhere.example"] and q.get("A") == ALICE


# ---------------------------------------------------------------- real clients

def _last_qid(text):
    ids = re.findall(r"queued as ([0-9A-Fa-f]{16})", text)
    assert ids, text
    return ids[-1]


def test_swaks_pipelining(env):
    res = run_tool(["swaks", "--server", f"127.0.0.1:{env.smtp}", "--to", ALICE,
                    "--from", "swaks@client.example", "--pipeline",
                    "--header", "Subject: swaks pipeline", "--body", "piped body"])
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out + res.stderr.decode(errors="replace")
    q = read_queue(env, _last_qid(out))
    assert q.rcpts() == [ALICE] and b"piped body" in q.message


def test_swaks_starttls(env):
    res = run_tool(["swaks", "--server", f"127.0.0.1:{env.smtp}", "--to", ALICE,
                    "--from", "swaks@client.example", "--tls",
                    "--body", "tls body"])
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out + res.stderr.decode(errors="replace")
    q = read_queue(env, _last_qid(out))
    assert q.get("P") == "ESMTPS"


def test_swaks_auth_on_465(env):
    res = run_tool(["swaks", "--server", f"127.0.0.1:{env.submissions}", "-tlsc",
                    "--to", BOB, "--from", ALICE, "--auth", "PLAIN",
                    "--auth-user", ALICE, "--auth-password", ALICE_PW,
                    "--body", "swaks auth"])
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out + res.stderr.decode(errors="replace")
    q = read_queue(env, _last_qid(out))
    assert q.get("A") == ALICE and q.get("P") == "ESMTPSA"


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_curl_upload(env, tmp_path, tls):
    msg = make_message(f"curl {tls}", "curl body\r\n.dot line\r\n",
                       sender="c@client.example")
    f = tmp_path / "msg.txt"
    f.write_bytes(msg)
    argv = ["curl", "-s", "-S", "-v", "--url", f"smtp://127.0.0.1:{env.smtp}",
            "--mail-from", "c@client.example", "--mail-rcpt", ALICE,
            "--upload-file", str(f)]
    if tls:
        argv += ["--ssl-reqd", "-k"]
    res = run_tool(argv)
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 0, err
    q = read_queue(env, _last_qid(err))
    assert q.received_and_rest()[1] == msg
    assert q.get("P") == ("ESMTPS" if tls else "ESMTP")
