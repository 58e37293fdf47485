"""Queue manager and local delivery: after a 250, mail lands in the Maildir
of each local target (aliases, catch-all, plus-addressing, any case of the
local part) with Return-Path and Delivered-To first and the queued message
byte for byte after them, and leaves the queue. Failures come back to the
sender as DSNs (quota, unknown user, Delivered-To loop), a bounce never
bounces again, deferred mail survives a restart, remote targets of an alias
stay deferred without the local ones being delivered twice, and `postie
sendmail` delivers through maildrop/, with or without a running server.

Senders are local users (bob) when a DSN must land in a Maildir; every
message carries a unique token in its Subject and Message-ID, so tests that
share a server find their own mail."""

import contextlib
import os
import random
import re
import time

import pytest

import conftest as cf
from delivery_helpers import (DELIVERY_TIMEOUT, MAILDIR_NAME_RE, MaildirMessage,
                              assert_crlf_only, assert_dsn, delivery_env,
                              files_with, log_count, maildir_files, message,
                              sized_body, token, wait_files, wait_log_count)
from smtp_helpers import ALICE, BOB, CATCHALL, HOSTNAME, INFO, Conn, qid_of

PM = "pm@example.test"
BIG_TIMEOUT = 60.0      # the 20 MB message, under ASan


TEAM = ("al1@example.test", "al2@example.test", "al3@example.test")
QUOTA_USER = "q@example.test"
MIX_LOCAL = "mix1@example.test"


def setup_main(inst):
    for u in TEAM + (MIX_LOCAL, PM):
        inst.ok("user", "add", u, input="pw\n")
    inst.ok("user", "add", QUOTA_USER, "--quota", "10K", input="pw\n")
    inst.ok("alias", "add", "team@example.test", f"{TEAM[0]},sub@example.test")
    inst.ok("alias", "add", "sub@example.test",
            f"{TEAM[1]},deep@example.test,{TEAM[0]}")
    inst.ok("alias", "add", "deep@example.test", TEAM[2])
    inst.ok("alias", "add", "mixed@example.test",
            f"{MIX_LOCAL},someone@remote.invalid")
    inst.ok("domain", "add", "ca.test")
    for u in ("real@ca.test", "sink@ca.test"):
        inst.ok("user", "add", u, input="pw\n")
    inst.ok("alias", "add", "@ca.test", "sink@ca.test")
    # No DNS here: the remote target waits, as if its MX were down.
    (inst.dir / "transport").write_text(
        "remote.invalid  retry:4.4.1 remote.invalid is down in this test\n")
    inst.set("transport_file", "transport")


def setup_temp(inst):
    for u in ("pf@example.test", PM):
        inst.ok("user", "add", u, input="pw\n")
    inst.ok("user", "add", "tq@example.test", "--quota", "10K", input="pw\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Defaults for delivery (quota failures are permanent, no plus
    folders), 30 MB messages, and a postmaster that exists."""
    with delivery_env(tmp_path_factory.mktemp("delivery"),
                      {"max_message_size": "30M", "postmaster_address": PM},
                      setup=setup_main) as e:
        yield e


@pytest.fixture(scope="module")
def tenv(tmp_path_factory):
    """quota_exceeded_temporary = yes, plus_folder_delivery = yes."""
    with delivery_env(tmp_path_factory.mktemp("delivery-temp"),
                      {"quota_exceeded_temporary": "yes",
                       "plus_folder_delivery": "yes",
                       "postmaster_address": PM},
                      setup=setup_temp) as e:
        yield e


def one_copy(env, address, tok, folder=None):
    """Wait for the message with TOK in ADDRESS's Maildir and return it;
    there must be exactly one."""
    files = wait_files(env.maildir(address), tok, folder=folder, env=env)
    assert len(files) == 1, f"{len(files)} copies of {tok} for {address}: {files}"
    return MaildirMessage(files[0])


def no_copy(env, address, tok, folder=None):
    files = files_with(env.maildir(address), tok, folder)
    assert files == [], f"{address} got {tok}: {files}"


def make_folder(maildir, name):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(maildir / f".{name}" / sub, mode=0o700, exist_ok=True)


# ---------------------------------------------------------------- basic delivery

def test_delivered_to_maildir_with_prefix_and_exact_bytes(env):
    tok = token()
    sender = "carol@client.example.org"
    msg = message(tok, b"line one\r\nline two\r\n", sender=sender)
    t0 = time.time()
    qid = env.send(sender, [ALICE], msg)
    m = one_copy(env, ALICE, tok)
    assert m.path.parent.name == "new", m.path
    assert m.path.parent.parent == env.maildir(ALICE), m.path

    # name: <secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>
    nm = MAILDIR_NAME_RE.match(m.path.name)
    assert nm, f"Maildir file name {m.path.name!r} is not Dovecot's form"
    assert int(t0) - 1 <= int(nm["secs"]) <= time.time() + 1, m.path.name
    assert 0 <= int(nm["usecs"]) < 1_000_000, m.path.name
    assert nm["host"] == HOSTNAME, m.path.name
    assert int(nm["size"]) == len(m.raw) == m.path.stat().st_size, (
        f"S= of {m.path.name} vs file size {len(m.raw)}")
    assert int(nm["pid"]) in env.server.qmgrs(), (
        f"P{nm['pid']} is not the queue manager {env.server.qmgrs()}")

    # content: prefix, postie's Received, the client's bytes
    assert m.raw.startswith(
        f"Return-Path: <{sender}>\r\nDelivered-To: {ALICE}\r\n".encode()), m.raw[:200]
    received, rest = m.received_and_rest()
    assert received.startswith(b"Received: from "), received
    assert f"by {HOSTNAME}".encode() in received, received
    assert qid.encode() in received, f"queue id {qid} not in {received!r}"
    assert rest == msg, "delivered message differs from what was sent"
    assert os.listdir(env.maildir(ALICE) / "tmp") == [], "leftovers in tmp/"

    env.wait_gone(qid)
    assert not (env.queue_dir("defer") / qid).exists()
    assert not (env.queue_dir("bounce") / qid).exists()
    log = env.log()
    assert re.search(rf"{qid}: to=<{re.escape(ALICE)}>.*relay=local.*status=sent",
                     log), log[-3000:]


def test_several_recipients_one_copy_each(env):
    tok = token()
    msg = message(tok)
    qid = env.send("x@client.example.org", [ALICE, BOB], msg)
    a = one_copy(env, ALICE, tok)
    b = one_copy(env, BOB, tok)
    assert a.delivered_to == ALICE and b.delivered_to == BOB
    assert a.queued == b.queued
    assert a.received_and_rest()[1] == msg
    env.wait_gone(qid)


def test_alias_to_several_nested_destinations(env):
    """team -> al1, sub; sub -> al2, deep, al1; deep -> al3."""
    u1, u2, u3 = TEAM
    tok = token()
    msg = message(tok, to="team@example.test")
    qid = env.send("x@client.example.org", ["team@example.test"], msg)
    for u in (u1, u2, u3):
        m = one_copy(env, u, tok)
        assert m.delivered_to == u, m.raw[:200]
        assert m.return_path == "x@client.example.org"
        assert m.received_and_rest()[1] == msg
    env.wait_gone(qid)
    # and still one copy each once the queue is done
    for u in (u1, u2, u3):
        assert len(files_with(env.maildir(u), tok)) == 1, u


def test_alias_info_and_catchall_reach_alice(env):
    t1, t2 = token(), token()
    env.send("x@client.example.org", [INFO], message(t1, to=INFO))
    env.send("x@client.example.org", [f"nobody.{t2}@{CATCHALL}"],
             message(t2, to=f"nobody@{CATCHALL}"))
    for t in (t1, t2):
        assert one_copy(env, ALICE, t).delivered_to == ALICE
    # the catch-all never created a mailbox of its own
    assert not (env.dir / "mail" / CATCHALL).exists() or not any(
        (env.dir / "mail" / CATCHALL).iterdir())


def test_catchall_does_not_take_existing_users(env):
    """ca.test has users real and sink, and @ca.test -> sink."""
    tok = token()
    env.send("x@client.example.org", ["real@ca.test", "other@ca.test"],
             message(tok, to="real@ca.test"))
    assert one_copy(env, "real@ca.test", tok).delivered_to == "real@ca.test"
    assert one_copy(env, "sink@ca.test", tok).delivered_to == "sink@ca.test"


@pytest.mark.parametrize("rcpt", ["ALICE@EXAMPLE.TEST", "Alice@Example.Test"])
def test_local_part_case_insensitive(env, rcpt):
    tok = token()
    env.send("x@client.example.org", [rcpt], message(tok, to=rcpt))
    m = one_copy(env, ALICE, tok)
    assert m.delivered_to == ALICE, m.raw[:200]
    # no mailbox under another spelling
    mail = env.dir / "mail"
    assert sorted(os.listdir(mail)) == [d.lower() for d in sorted(os.listdir(mail))]
    names = os.listdir(mail / "example.test")
    assert all(n == n.lower() for n in names), f"mailboxes: {names}"


def test_plus_address_goes_to_inbox_by_default(env):
    make_folder(env.maildir(ALICE), "news")
    tok = token()
    env.send("x@client.example.org", ["alice+news@example.test"],
             message(tok, to="alice+news@example.test"))
    m = one_copy(env, ALICE, tok)
    assert m.path.parent == env.maildir(ALICE) / "new", (
        f"plus_folder_delivery = no, yet delivered to {m.path}")
    assert m.delivered_to == ALICE
    no_copy(env, ALICE, tok, folder="news")


def test_plus_folder_delivery(tenv):
    user = "pf@example.test"
    md = tenv.maildir(user)
    make_folder(md, "tag")
    t1, t2, t3 = token(), token(), token()
    tenv.send("x@client.example.org", ["pf+tag@example.test"],
              message(t1, to="pf+tag@example.test"))
    tenv.send("x@client.example.org", ["pf+nofolder@example.test"],
              message(t2, to="pf+nofolder@example.test"))
    tenv.send("x@client.example.org", ["PF+Tag@example.test"],
              message(t3, to="PF+Tag@example.test"))
    m = one_copy(tenv, user, t1, folder="tag")
    assert m.path.parent == md / ".tag" / "new", m.path
    assert m.delivered_to == user
    files_inbox = [p for p in files_with(md, t1) if p.parent.parent == md]
    assert files_inbox == [], f"also in INBOX: {files_inbox}"
    # no such folder: INBOX, and no folder is created for it
    m2 = one_copy(tenv, user, t2)
    assert m2.path.parent == md / "new", m2.path
    assert not (md / ".nofolder").exists(), "a folder was created"
    # PF+Tag: the same user; whichever of INBOX and .tag it reaches (the
    # folder name's case is the implementation's choice), one copy
    def copies():
        return files_with(md, t3) + files_with(md, t3, folder="tag")
    assert cf.wait_until(copies, DELIVERY_TIMEOUT), (
        f"PF+Tag@example.test not delivered; queue {tenv.queued()}")
    tenv.wait_queue_settled(before=tenv.queue_ids("deferred"))
    assert len(copies()) == 1, copies()


# ---------------------------------------------------------------- byte exactness

def test_8bit_and_dot_lines_byte_exact(env):
    tok = token()
    body = (b".\r\n..\r\n.leading dot\r\n...three\r\n"
            b"caf\xc3\xa9 na\xefve \xff\xfe\x80\x81 raw 8-bit\r\n"
            + bytes(range(0x80, 0x100)) + b"\r\n"
            + b"tab\tand trailing space \r\n"
            + b"x" * 990 + b"\r\n"
            + b"\r\n\r\n.\r\nlast\r\n")
    msg = message(tok, body, extra=b"X-8bit: \xe2\x82\xac\r\n")
    qid = env.send("x@client.example.org", [ALICE], msg)
    m = one_copy(env, ALICE, tok)
    assert m.received_and_rest()[1] == msg
    env.wait_gone(qid)


def test_twenty_megabyte_message_byte_exact(env):
    tok = token()
    rnd = random.Random(7)
    lines = []
    size = 0
    while size < 20 * 1024 * 1024:
        n = rnd.randint(0, 200)
        ln = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz .\xe9\xff") for _ in range(n)) \
            if n < 40 else (b"." if rnd.random() < 0.1 else b"") + \
            b"0123456789abcdef" * (n // 16)
        lines.append(ln)
        size += len(ln) + 2
    body = b"\r\n".join(lines) + b"\r\n"
    msg = message(tok, body)
    with Conn(env.smtp, timeout=120) as c:
        c.ehlo()
        qid = qid_of(c.mail_transaction("x@client.example.org", [ALICE], msg))
        c.quit()
    files = wait_files(env.maildir(ALICE), tok, timeout=BIG_TIMEOUT, env=env)
    assert len(files) == 1, files
    m = MaildirMessage(files[0])
    rest = m.received_and_rest()[1]
    assert len(rest) == len(msg), f"{len(rest)} octets delivered, {len(msg)} sent"
    assert rest == msg, "20 MB message differs from what was sent"
    env.wait_gone(qid, timeout=BIG_TIMEOUT)


# ---------------------------------------------------------------- failures and DSNs

def test_over_quota_bounces_with_5_2_2(env):
    q = QUOTA_USER            # quota 10K
    small = token()
    env.send(BOB, [q], message(small, sized_body(2000), sender=BOB, to=q))
    one_copy(env, q, small)

    tok = token()
    msg = message(tok, sized_body(20 * 1024), sender=BOB, to=q)
    qid = env.send(BOB, [q, ALICE], msg)
    # alice, the other recipient, gets it
    one_copy(env, ALICE, tok)
    # bob gets one DSN naming q only
    dsns = wait_files(env.maildir(BOB), tok, env=env)
    assert len(dsns) == 1, dsns
    assert_dsn(dsns[0], failed=q, status="5.2.2", returned_token=tok,
               not_listed=[ALICE])
    no_copy(env, q, tok)
    env.wait_gone(qid)
    assert not (env.queue_dir("bounce") / qid).exists()
    assert re.search(rf"{qid}: to=<{re.escape(q)}>.*status=bounced.*5\.2\.2",
                     env.log()), env.log()[-3000:]


def test_delivered_to_loop_bounces_with_5_4_6(env):
    tok = token()
    msg = message(tok, sender=BOB,
                  extra=f"Delivered-To: {ALICE}\r\n".encode())
    qid = env.send(BOB, [ALICE], msg)
    dsns = wait_files(env.maildir(BOB), tok, env=env)
    assert len(dsns) == 1, dsns
    assert_dsn(dsns[0], failed=ALICE, status="5.4.6")
    no_copy(env, ALICE, tok)
    env.wait_gone(qid)


def test_delivered_to_in_body_is_no_loop(env):
    tok = token()
    msg = message(tok, f"Delivered-To: {ALICE}\r\n".encode(), sender=BOB)
    env.send(BOB, [ALICE], msg)
    assert one_copy(env, ALICE, tok).received_and_rest()[1] == msg


def test_alias_with_remote_target_delivers_local_once(env):
    """mixed -> mix1 (local), someone@remote.invalid."""
    local = MIX_LOCAL
    tok = token()
    qid = env.send(BOB, ["mixed@example.test"], message(tok, sender=BOB))
    m = one_copy(env, local, tok)
    assert m.delivered_to == local
    env.wait_deferred(qid)
    reason = env.defer_log(qid)
    assert re.search(r"4\.4\.1 .*remote\.invalid is down", reason), (
        f"defer log of {qid}: {reason!r}")
    pattern = rf"{qid}: to=<mixed@example\.test>.*status=deferred"
    attempts = log_count(env, pattern)
    assert attempts >= 1, env.log()[-3000:]
    # a forced retry: another attempt, still one copy for the local target
    env.flush()
    wait_log_count(env, pattern, attempts + 1)
    env.wait_deferred(qid)
    env.flush()
    wait_log_count(env, pattern, attempts + 2)
    env.wait_deferred(qid)
    time.sleep(1)       # let any stray second delivery land
    files = files_with(env.maildir(local), tok)
    assert len(files) == 1, f"{len(files)} copies after retries: {files}"
    problems = [ln for ln in env.log().splitlines()
                if re.search(rf"{qid}: cannot", ln)]
    assert problems == [], problems
    # no DSN for a deferral (delay warnings are off by default)
    assert files_with(env.maildir(BOB), tok) == []


def deferred_then_user_deleted(tmp_path, sender, tok):
    """An env where a message from SENDER to golist@ (an alias of gone@,
    whose mailbox is full; quota failures are temporary) waits in
    deferred/, then gone@ is deleted (server stopped meanwhile, so that
    this does not depend on a running server seeing the change), the server
    started again and the queue flushed. Yields (env, qid)."""
    def setup(inst):
        inst.ok("user", "add", PM, input="pw\n")
        inst.ok("user", "add", "gone@example.test", "--quota", "10K",
                input="pw\n")
        inst.ok("alias", "add", "golist@example.test", "gone@example.test")

    @contextlib.contextmanager
    def cm():
        with delivery_env(tmp_path, {"quota_exceeded_temporary": "yes",
                                     "postmaster_address": PM},
                          setup=setup) as env:
            qid = env.send(sender, ["golist@example.test"],
                           message(tok, sized_body(20 * 1024),
                                   sender=sender or "daemon@client.example.org"))
            env.wait_deferred(qid)
            assert "4.2.2" in env.defer_log(qid), env.defer_log(qid)
            env.stop()
            env.ok("user", "del", "gone@example.test")
            env.start()
            env.flush()
            yield env, qid
    return cm()


def test_unknown_user_through_alias_bounces_with_5_1_1(tmp_path):
    """The alias's only target is deleted while the message waits in
    deferred/: on the retry the recipient is unknown, and the sender (a
    local user) gets a 5.1.1 DSN."""
    tok = token()
    with deferred_then_user_deleted(tmp_path, BOB, tok) as (env, qid):
        dsns = wait_files(env.maildir(BOB), tok, env=env)
        assert len(dsns) == 1, dsns
        d = assert_dsn(dsns[0], failed="golist@example.test", status="5.1.1",
                       returned_token=tok)
        assert d.mm.delivered_to == BOB
        env.wait_gone(qid)
        assert not (env.queue_dir("defer") / qid).exists()
        env.wait_queue_settled()
        assert maildir_files(env.maildir(PM)) == [], "postmaster was told too"


def test_quota_temporary_defers_without_dsn(tenv):
    q = "tq@example.test"     # quota 10K
    tok = token()
    qid = tenv.send(BOB, [q], message(tok, sized_body(20 * 1024), sender=BOB))
    tenv.wait_deferred(qid)
    reason = tenv.defer_log(qid)
    assert "4.2.2" in reason, f"defer log {reason!r}"
    tenv.wait_queue_settled(before=tenv.queue_ids("deferred"))
    assert files_with(tenv.maildir(BOB), tok) == [], "DSN for a deferral"
    assert files_with(tenv.maildir(q), tok) == []
    assert re.search(rf"{qid}: to=<{re.escape(q)}>.*status=deferred.*4\.2\.2",
                     tenv.log()), tenv.log()[-3000:]


def test_bounce_of_a_bounce_goes_to_postmaster_once(tmp_path):
    """A null-sender message whose recipient fails: no DSN (there is no one
    to send it to), at most one notice to the postmaster, and nothing keeps
    circulating."""
    tok = token()
    with deferred_then_user_deleted(tmp_path, "", tok) as (env, qid):
        env.wait_gone(qid)
        cf.wait_until(lambda: maildir_files(env.maildir(PM)), DELIVERY_TIMEOUT)
        env.wait_queue_settled()
        pm = maildir_files(env.maildir(PM))
        assert len(pm) == 1, (
            f"{len(pm)} messages reached the postmaster, expected exactly 1\n"
            f"log:\n{env.log()[-4000:]}")
        notice = MaildirMessage(pm[0])
        assert notice.return_path == "", notice.raw[:300]
        assert notice.delivered_to == PM
        assert tok.encode() in notice.raw, "the notice does not name the message"
        # nobody else heard of it
        for u in (ALICE, BOB):
            assert maildir_files(env.maildir(u)) == [], u
        # nothing still circulating a scan (10 s) later: one file, empty queue
        env.flush()
        time.sleep(2)
        env.wait_queue_settled()
        assert len(maildir_files(env.maildir(PM))) == 1
        assert env.queued() == {}


def test_directory_changes_seen_while_running(tmp_path):
    """Users added and deleted with the CLI while the server runs take
    effect at once, for SMTP and for delivery, however many threads have
    opened the directory."""
    with delivery_env(tmp_path) as env:
        for i in range(8):
            # exercise the directory from several threads of each process
            for _ in range(4):
                env.send("x@client.example.org", [ALICE], message(token()))
            u = f"new{i}@example.test"
            env.add_user(u)
            tok = token()
            env.send("x@client.example.org", [u], message(tok, to=u))
            one_copy(env, u, tok)
        env.ok("user", "del", "new0@example.test")
        with Conn(env.smtp) as c:
            c.ehlo()
            c.expect("MAIL FROM:<x@client.example.org>", 250)
            c.expect("RCPT TO:<new0@example.test>", 550, "5.1.1")
            c.quit()


# ---------------------------------------------------------------- restart

def test_deferred_mail_resumes_after_restart(tmp_path):
    q = "q@example.test"
    with delivery_env(tmp_path, {"quota_exceeded_temporary": "yes"},
                      users=[(q, "10K")]) as env:
        tok = token()
        msg = message(tok, sized_body(20 * 1024), sender=BOB, to=q)
        qid = env.send(BOB, [q], msg)
        env.wait_deferred(qid)
        env.stop()
        assert env.server.proc.returncode == 0, (
            f"serve exited {env.server.proc.returncode} on SIGTERM")
        assert env.where(qid) == ["deferred"], (
            f"after SIGTERM {qid} is in {env.where(qid)}")
        env.ok("user", "quota", q, "1M")
        env.start()
        env.flush()
        m = one_copy(env, q, tok)
        assert m.received_and_rest()[1] == msg
        assert m.return_path == BOB
        env.wait_gone(qid)
        assert not (env.queue_dir("defer") / qid).exists()
        assert files_with(env.maildir(BOB), tok) == [], "a DSN was sent"


# ---------------------------------------------------------------- sendmail

def check_sendmail_delivery(env, tok):
    m = one_copy(env, ALICE, tok)
    assert m.delivered_to == ALICE
    assert_crlf_only(m.raw, str(m.path))
    received, rest = m.received_and_rest()
    assert f"{HOSTNAME}".encode() in received, received
    assert f"Subject: x {tok}\r\n".encode() in rest, rest[:500]
    assert rest.endswith(b"\r\n\r\nhello\r\n"), rest[-200:]
    return m


def test_sendmail_with_server_running(tmp_path):
    with delivery_env(tmp_path) as env:
        tok = token()
        res = env.sendmail(ALICE, input=f"Subject: x {tok}\n\nhello\n")
        cf.assert_ok(res)
        check_sendmail_delivery(env, tok)
        cf.wait_until(lambda: not env.queue_ids("maildrop"), DELIVERY_TIMEOUT)
        assert env.queue_ids("maildrop") == set()
        env.wait_queue_settled()


def test_sendmail_with_server_stopped_is_delivered_after_start(tmp_path):
    with delivery_env(tmp_path) as env:
        env.stop()
        tok = token()
        res = env.sendmail(ALICE, input=f"Subject: x {tok}\n\nhello\n")
        cf.assert_ok(res)
        assert len(env.queue_ids("maildrop")) == 1, (
            f"maildrop/ holds {env.queue_ids('maildrop')}")
        assert files_with(env.maildir(ALICE), tok) == []
        env.start()
        check_sendmail_delivery(env, tok)
        cf.wait_until(lambda: not env.queue_ids("maildrop"), DELIVERY_TIMEOUT)
        assert env.queue_ids("maildrop") == set()
        env.wait_queue_settled()
