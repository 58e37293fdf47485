"""SMTP policy lines that come from the directory: a per-domain message
size limit (552 5.3.4 at RCPT for a declared SIZE, and after DATA), and
inactive users and domains refused at RCPT like unknown ones (550 5.1.1)."""

import smtplib

import pytest


@pytest.fixture
def env(server_instance, make_server):
    inst = server_instance
    inst.ok("domain", "add", "big.test")
    inst.ok("domain", "add", "small.test", "--max-message-size", "20K")
    inst.ok("domain", "add", "off.test")
    for addr in ("ann@big.test", "sam@small.test", "otto@off.test",
                 "ivy@big.test"):
        inst.ok("user", "add", addr, input="secret\n")
    inst.ok("user", "disable", "ivy@big.test")
    inst.ok("domain", "disable", "off.test")
    inst.set("defer_transports", "local, remote")
    make_server(inst).wait_ready()
    return inst


def rcpt(inst, to, size=None):
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10) as s:
        s.ehlo()
        opts = [f"SIZE={size}"] if size is not None else []
        assert s.mail("x@sender.test", opts)[0] == 250
        return s.rcpt(to)


def send(inst, to, body):
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30) as s:
        s.ehlo()
        assert s.mail("x@sender.test")[0] == 250
        assert s.rcpt(to)[0] == 250
        return s.data(body)


def test_declared_size_over_the_domain_limit_is_refused_at_rcpt(env):
    code, msg = rcpt(env, "sam@small.test", size=30000)
    assert (code, msg[:5]) == (552, b"5.3.4"), (code, msg)
    # the same size is fine for a domain without its own limit
    assert rcpt(env, "ann@big.test", size=30000)[0] == 250


def test_message_over_the_domain_limit_is_refused_after_data(env):
    body = b"Subject: big\r\n\r\n" + b"y" * 30000 + b"\r\n"
    code, msg = send(env, "sam@small.test", body)
    assert (code, msg[:5]) == (552, b"5.3.4"), (code, msg)
    assert send(env, "ann@big.test", body)[0] == 250
    assert send(env, "sam@small.test", b"Subject: s\r\n\r\nsmall\r\n")[0] == 250


@pytest.mark.parametrize("to", ["ivy@big.test", "otto@off.test"])
def test_inactive_user_or_domain_is_unknown_at_rcpt(env, to):
    code, msg = rcpt(env, to)
    assert (code, msg[:5]) == (550, b"5.1.1"), (to, code, msg)


def test_disabled_domain_is_not_relayed_even_for_trusted_clients(env):
    # 127.0.0.1 is in mynetworks and may relay; a disabled domain is still
    # ours, so its mail is refused rather than sent elsewhere.
    code, msg = rcpt(env, "anyone@off.test")
    assert (code, msg[:5]) == (550, b"5.1.1"), (code, msg)
