"""SMTP policy: relaying, local recipients, sender login check, message
size, Received loop limit. The module's server does NOT trust 127.0.0.1
(mynetworks = 192.0.2.0/24), relays for relay.test, offers AUTH on port 25
after STARTTLS, takes messages up to 200K and at most 10 Received headers.
It defers every delivery (defer_transports), so accepted messages stay,
unchanged, in queue/deferred/ for read_queue."""

import pytest

from smtp_helpers import (ALICE, ALICE_PW, BOB, BOB_PW, CATCHALL, INFO,
                          assert_serves, check, Conn, expect_data_refused,
                          make_message, nothing_queued, plain_b64, qid_of,
                          read_queue, smtp_env, wait_log)

MAX_SIZE = 200 * 1024
MAX_RECEIVED = 10


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with smtp_env(tmp_path_factory.mktemp("smtp-policy"), {
            "mynetworks": "192.0.2.0/24",
            "relay_domains": "relay.test",
            "smtp_auth_on_port_25": "yes",
            "max_message_size": "200K",
            "max_received_headers": str(MAX_RECEIVED),
    }, keep_queued=True) as e:
        yield e


def mx_session(env):
    c = Conn(env.smtp)
    c.ehlo("stranger.example")
    return c


# ---------------------------------------------------------------- relay

@pytest.mark.parametrize("sender", ["stranger@outside.example", ALICE, ""])
def test_relay_denied_for_untrusted_unauthenticated(env, sender):
    with mx_session(env) as c:
        c.expect(f"MAIL FROM:<{sender}>", 250, "2.1.0")
        c.expect("RCPT TO:<victim@elsewhere.example>", 554, "5.7.1",
                 contains="Relay access denied")
        expect_data_refused(c)
        c.quit()
    wait_log(env, r"smtp rcpt client=127\.0\.0\.1 from=<" + sender.replace(".", r"\.")
             + r"> to=<victim@elsewhere\.example> result=relay-denied code=554")
    assert_serves(env.smtp)


@pytest.mark.parametrize("rcpt", [
    "victim%elsewhere.example@example.test",
    "elsewhere.example!victim@example.test",
    "@example.test:victim@elsewhere.example",
    "\"victim@elsewhere.example\"@example.test",
    "victim@[192.0.2.7]",
    "victim@elsewhere.example.",
    "victim@example.test.elsewhere.example",
])
def test_relay_tricks_are_not_relayed(env, rcpt):
    """Address forms that old MTAs routed onward must not open a relay."""
    with nothing_queued(env), mx_session(env) as c:
        c.expect("MAIL FROM:<stranger@outside.example>", 250, "2.1.0")
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code >= 500, f"RCPT TO:<{rcpt}> from an untrusted client: {r}"
        expect_data_refused(c)
        c.quit()
    assert_serves(env.smtp)


def test_relay_domain_accepted_from_anyone(env):
    with mx_session(env) as c:
        qid = qid_of(c.mail_transaction("stranger@outside.example",
                                        ["someone@relay.test"], make_message("backup mx")))
        c.quit()
    assert read_queue(env, qid).rcpts() == ["someone@relay.test"]


def test_local_recipients_from_untrusted(env):
    with mx_session(env) as c:
        c.expect("MAIL FROM:<stranger@outside.example>", 250, "2.1.0")
        c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.expect(f"RCPT TO:<{INFO}>", 250, "2.1.5")
        c.expect(f"RCPT TO:<whatever@{CATCHALL}>", 250, "2.1.5")
        c.expect("RCPT TO:<bob@EXAMPLE.TEST>", 250, "2.1.5")
        qid = qid_of(c.data(make_message("locals")))
        c.quit()
    q = read_queue(env, qid)
    rc = q.rcpts()
    assert rc[:3] == [ALICE, INFO, f"whatever@{CATCHALL}"], rc
    assert len(rc) == 4 and rc[3].lower() == BOB, rc
    assert q.get("P") == "ESMTP" and not q.has("A")


def test_authenticated_on_submission_may_relay(env):
    with Conn(env.submission) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        qid = qid_of(c.mail_transaction(ALICE, ["friend@elsewhere.example"],
                                        make_message("relay auth", sender=ALICE)))
        c.quit()
    q = read_queue(env, qid)
    assert q.rcpts() == ["friend@elsewhere.example"]
    assert q.get("A") == ALICE and q.get("P") == "ESMTPSA"


def test_auth_on_port_25_after_starttls_when_enabled(env):
    with Conn(env.smtp) as c:
        kw = [k.split()[0].upper() for k in c.ehlo().keywords]
        assert "AUTH" not in kw, "AUTH offered before STARTTLS on port 25"
        c.expect("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 530, "5.7.0")
        c.starttls()
        kw = [k.upper() for k in c.ehlo().keywords]
        auth = [k for k in kw if k.startswith("AUTH ")]
        assert auth and {"PLAIN", "LOGIN"} <= set(auth[0].split()[1:]), kw
        c.login(BOB, BOB_PW)
        qid = qid_of(c.mail_transaction(BOB, ["far@elsewhere.example"],
                                        make_message("25 auth", sender=BOB)))
        c.quit()
    q = read_queue(env, qid)
    assert q.get("A") == BOB and q.get("P") == "ESMTPSA"


# ---------------------------------------------------------------- sender login check

@pytest.mark.parametrize("sender,ok", [
    (ALICE, True),
    (INFO, True),
    (BOB, False),
    ("alice@elsewhere.example", False),
])
def test_sender_login_check(env, sender, ok):
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        if ok:
            c.expect(f"MAIL FROM:<{sender}>", 250, "2.1.0")
        else:
            c.expect(f"MAIL FROM:<{sender}>", 553, "5.7.1")
            c.expect(f"RCPT TO:<{BOB}>", 503, "5.5.1")
            c.expect(f"MAIL FROM:<{ALICE}>", 250, "2.1.0")
        c.quit()


def test_auth_plain_authzid_cannot_impersonate(env):
    """alice's password with authzid bob must not make the session bob's."""
    with Conn(env.submissions, tls=True) as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN " + plain_b64(ALICE, ALICE_PW, authz=BOB))
        assert r.code in (235, 535), r
        if r.code == 235:
            c.expect(f"MAIL FROM:<{BOB}>", 553, "5.7.1")
            c.expect(f"MAIL FROM:<{ALICE}>", 250, "2.1.0")
            c.expect(f"RCPT TO:<{BOB}>", 250, "2.1.5")
            qid = qid_of(c.data(make_message("authzid", sender=ALICE)))
            assert read_queue(env, qid).get("A") == ALICE
        else:
            c.expect(f"MAIL FROM:<{BOB}>", 530, "5.7.0")
        c.quit()


# ---------------------------------------------------------------- size

def test_ehlo_advertises_configured_size(env):
    with mx_session(env) as c:
        sizes = [k for k in c.ehlo().keywords if k.upper().startswith("SIZE")]
        assert sizes == [f"SIZE {MAX_SIZE}"], sizes
        c.quit()


def test_size_parameter_over_limit_rejected_at_mail(env):
    with mx_session(env) as c:
        c.expect(f"MAIL FROM:<s@outside.example> SIZE={MAX_SIZE + 1}", 552, "5.3.4")
        c.expect(f"MAIL FROM:<s@outside.example> SIZE={MAX_SIZE}", 250, "2.1.0")
        c.quit()


def test_message_over_limit_rejected_after_data(env):
    big = make_message("too big", (b"y" * 76 + b"\r\n") * (MAX_SIZE // 78 + 100))
    assert len(big) > MAX_SIZE
    with mx_session(env) as c:
        with nothing_queued(env):
            c.expect("MAIL FROM:<s@outside.example>", 250, "2.1.0")
            c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
            check(c.data(big), 552, "5.3.4", what="end of an oversized DATA")
        # the session goes on with a message that fits
        qid = qid_of(c.mail_transaction("s@outside.example", [ALICE],
                                        make_message("fits", "small\r\n")))
        c.quit()
    read_queue(env, qid)
    assert_serves(env.smtp)


def test_message_over_limit_rejected_with_bdat(env):
    chunk = b"z" * 100_000 + b"\r\n"
    with nothing_queued(env), mx_session(env) as c:
        c.expect("MAIL FROM:<s@outside.example>", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk +
               b"BDAT %d\r\n" % len(chunk) + chunk +
               b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        replies = [c.reply(), c.reply(), c.reply()]
        assert replies[-1].code == 552 and replies[-1].enh == "5.3.4", replies
        assert all(r.code in (250, 552) for r in replies), replies
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


# ---------------------------------------------------------------- loops

def received_headers(n):
    return b"".join(b"Received: from hop%d.example by hop%d.example; "
                    b"Mon, 23 Nov 2026 10:00:00 +0000\r\n" % (i, i + 1)
                    for i in range(n))


def test_too_many_received_headers_rejected(env):
    msg = received_headers(MAX_RECEIVED + 1) + make_message("loop")
    with nothing_queued(env), mx_session(env) as c:
        c.expect("MAIL FROM:<s@outside.example>", 250, "2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "2.1.5")
        check(c.data(msg), 554, "5.4.6", what="end of DATA of a looping message")
        c.expect("NOOP", 250, "2.0.0")
        c.quit()
    assert_serves(env.smtp)


def test_received_headers_at_limit_accepted(env):
    msg = received_headers(MAX_RECEIVED) + make_message("no loop")
    with mx_session(env) as c:
        qid = qid_of(c.mail_transaction("s@outside.example", [ALICE], msg))
        c.quit()
    assert read_queue(env, qid).received_and_rest()[1] == msg


def test_received_in_body_does_not_count(env):
    body = received_headers(MAX_RECEIVED + 5)       # in the body: not headers
    msg = make_message("quoted loop", body)
    with mx_session(env) as c:
        qid = qid_of(c.mail_transaction("s@outside.example", [ALICE], msg))
        c.quit()
    assert read_queue(env, qid).received_and_rest()[1] == msg
