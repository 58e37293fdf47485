"""The POP3 maildrop against the store and IMAP: UIDLs equal to Dovecot's
format of IMAP's UID and UIDVALIDITY, RETR byte-exact (dot-stuffed on the
wire, CRLF line ends, as many octets as LIST says) against IMAP BODY[] and
the delivered file, deletions only at QUIT (a dropped connection or a
timeout deletes nothing), \\Seen for retrieved messages, one POP3 session
per maildrop ([IN-USE]) while IMAP keeps working on it, a message list
fixed at login, \\Recent left to IMAP, and large messages streamed.
"""

import contextlib
import re
import time

import pytest

import delivery_helpers as dh
import imap_helpers as ih
import pop3_helpers as ph
import smtp_helpers as sh


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ph.pop3_env(tmp_path_factory.mktemp("pop3-maildrop"),
                     users=["uidl1", "exact1", "drop1", "seen1", "inuse1",
                            "fixed1", "recent1", "big1", "gone1",
                            "keep1"]) as e:
        yield e


def deliver(env, user, body, subject="m"):
    needle = f"n{time.time_ns()}".encode()
    msg = sh.make_message(subject=subject, to=ih.addr(user),
                          body=body + needle + b"\r\n")
    return env.deliver_wait(user, msg, needle)


@contextlib.contextmanager
def imap(env, user):
    """imaplib logged in as USER; logged out at the end."""
    m = env.env.lib(user)
    try:
        yield m
    finally:
        try:
            m.logout()
        except Exception:
            pass


def imap_uids(env, user):
    """(UIDVALIDITY, [UID of each message in sequence order]) from IMAP."""
    with imap(env, user) as m:
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        n = int(data[0])
        validity = int(m.response("UIDVALIDITY")[1][0])
        uids = []
        if n > 0:
            typ, data = m.fetch("1:*", "(UID)")
            assert typ == "OK", data
            uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    return validity, uids


def imap_body(env, user, uid):
    with imap(env, user) as m:
        assert m.select("INBOX", readonly=True)[0] == "OK"
        typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert typ == "OK", data
    return data[0][1]


# ---------------------------------------------------------------- UIDL

def test_uidl_matches_imap_uid_and_uidvalidity(env):
    files = [deliver(env, "uidl1", b"body %d\r\n" % i) for i in range(3)]
    validity, uids = imap_uids(env, "uidl1")
    assert len(uids) == 3
    want = [f"{uid:08X}{validity:08X}" for uid in uids]
    with env.raw("uidl1") as c:
        r, body = c.multi("UIDL")
        got = [ln.split(b" ")[1].decode() for ln in body.splitlines()]
        assert got == want
        # The dovecot-uidlist agrees (what Dovecot would give).
        assert got == [ph.expected_uidl(env.maildir("uidl1"),
                                        ph.base_name(f)) for f in files]
        c.ok("DELE 2")
        c.quit()
    # Stable: the same values in a new session, after a restart too.
    with env.raw("uidl1") as c:
        r, body = c.multi("UIDL")
        assert [ln.split(b" ")[1].decode() for ln in body.splitlines()] == \
            [want[0], want[2]]
        c.quit()
    env.restart()
    with env.raw("uidl1") as c:
        assert c.ok("UIDL 2") == f"+OK 2 {want[2]}".encode()
        c.quit()


# ---------------------------------------------------------------- RETR

TRICKY = (b".starts with a dot\r\n"
          b"..two dots\r\n"
          b".\r\n"
          b"a line\r\n"
          b"\r\n"
          b"...\r\n"
          b" . not at the start\r\n"
          + b"8-bit: \xc3\xa9\xff\r\n"
          + b"x" * 5000 + b"\r\n"
          + b".\r\n.\r\n")


def test_retr_is_byte_exact(env):
    path = deliver(env, "exact1", TRICKY, subject="tricky")
    delivered = path.read_bytes()
    assert b"\r\n.starts with a dot\r\n" in delivered
    validity, uids = imap_uids(env, "exact1")
    imap = imap_body(env, "exact1", uids[0])
    with env.raw("exact1") as c:
        size = int(c.ok("LIST 1").split()[2])
        r = c.ok("RETR 1")
        assert r == f"+OK {size} octets".encode(), r
        body, wire = c.multiline()
        assert body == delivered == imap
        assert len(body) == size
        # Every line that starts with "." went out with another one.
        assert b"\r\n..starts with a dot\r\n" in wire
        assert b"\r\n...two dots\r\n" in wire
        assert b"\r\n..\r\n" in wire
        assert b"\r\n....\r\n" in wire
        assert b"\r\n . not at the start\r\n" in wire
        # TOP: the header and blank line, then n body lines, stuffed too.
        r, top = c.multi("TOP 1 3")
        head, rest = delivered.split(b"\r\n\r\n", 1)
        want = head + b"\r\n\r\n" + b"".join(
            ln + b"\r\n" for ln in rest.split(b"\r\n")[:3])
        assert top == want
        r, top = c.multi("TOP 1 100000")
        assert top == delivered
        c.quit()


def test_retr_of_a_message_with_bare_lf(env):
    """Another program's file with LF line ends: RETR sends CRLF, and LIST
    counts those octets."""
    root = env.maildir("exact1")
    raw = (b"From: other@example.org\nSubject: lf\n\n.dot line\nplain\n"
           b"no newline at the end")
    ih.drop_into_new(root, raw)
    with env.raw("exact1") as c:
        n = int(c.ok("STAT").split()[1])
        size = int(c.ok(f"LIST {n}").split()[2])
        c.ok(f"RETR {n}")
        body, wire = c.multiline()
        # The missing CRLF at the end is added on the wire only.
        assert body == ph.crlf(raw) + b"\r\n"
        assert size == len(ph.crlf(raw))
        assert b"\r\n..dot line\r\n" in wire
        c.quit()


def test_large_message_is_streamed(env):
    line = b".%06d " + b"y" * 90 + b"\r\n"
    body = b"".join(line % i for i in range(40000))      # ~4 MB
    path = deliver(env, "big1", body, subject="big")
    delivered = path.read_bytes()
    with env.raw("big1") as c:
        size = int(c.ok("LIST 1").split()[2])
        assert size == len(delivered)
        c.send("RETR 1\r\nNOOP\r\n")
        time.sleep(0.5)                  # the server waits on our reading
        assert c.line() == f"+OK {size} octets".encode()
        got, wire = c.multiline()
        assert got == delivered
        assert len(wire) == len(delivered) + 40000
        assert c.line() == b"+OK NOOP"
        c.quit()


# ---------------------------------------------------------------- deletion

def test_deletion_only_at_quit(env):
    files = [deliver(env, "drop1", b"d %d\r\n" % i) for i in range(3)]
    root = env.maildir("drop1")
    # DELE, then the connection drops: nothing is deleted.
    c = env.raw("drop1")
    c.ok("DELE 1")
    c.ok("DELE 3")
    assert c.ok("STAT").startswith(b"+OK 1 ")
    c.close()
    assert wait_unlocked(env, "drop1")
    assert len(ih.maildir_names(root)) == 3
    # DELE, RSET, QUIT: nothing either.
    with env.raw("drop1") as c:
        assert c.ok("STAT").startswith(b"+OK 3 ")
        c.ok("DELE 2")
        c.ok("RSET")
        c.quit()
    assert len(ih.maildir_names(root)) == 3
    # DELE, QUIT: gone, from IMAP's view too.
    with env.raw("drop1") as c:
        c.ok("DELE 1")
        c.ok("DELE 3")
        assert c.cmd("DELE 3") == b"-ERR Message 3 already deleted"
        r = c.quit()
        assert r.startswith(b"+OK"), r
        assert b"2 messages removed" in r, r
    names = ih.maildir_names(root)
    assert list(names) == [ph.base_name(files[1])], names
    validity, uids = imap_uids(env, "drop1")
    assert len(uids) == 1
    assert "deleted=2" in env.log()


def wait_unlocked(env, user, timeout=5):
    """A new POP3 login of USER succeeds (the last session's end has been
    noticed and its lock released)."""
    def try_login():
        with env.raw() as c:
            c.ok("USER " + ih.addr(user))
            r = c.cmd("PASS " + env.pw(user))
            if r.startswith(b"+OK"):
                c.quit()
                return True
            assert ph.status_code(r) == "IN-USE", r
            return False
    return dh.cf.wait_until(try_login, timeout, interval=0.1)


def test_retrieved_messages_get_seen_at_quit(env):
    for i in range(3):
        deliver(env, "seen1", b"s %d\r\n" % i)
    root = env.maildir("seen1")
    with env.raw("seen1") as c:
        c.multi("RETR 1")
        c.multi("TOP 2 5")               # TOP is no reading
        c.multi("RETR 3")
        c.ok("DELE 3")
        c.close()                        # dropped: no flags either
    assert wait_unlocked(env, "seen1")
    assert all("S" not in f for f in ih.maildir_names(root).values())
    with env.raw("seen1") as c:
        c.multi("RETR 1")
        c.multi("TOP 2 5")
        c.multi("RETR 3")
        c.ok("DELE 3")
        c.quit()
    with imap(env, "seen1") as m:
        assert m.select("INBOX")[0] == "OK"
        typ, data = m.fetch("1:*", "(FLAGS)")
        flags = [d.decode() for d in data]
    assert len(flags) == 2, flags
    assert "\\Seen" in flags[0] and "\\Seen" not in flags[1], flags


def test_message_expunged_by_imap_meanwhile(env):
    for i in range(2):
        deliver(env, "gone1", b"g %d\r\n" % i)
    with env.raw("gone1") as c:
        assert c.ok("STAT").startswith(b"+OK 2 ")
        with imap(env, "gone1") as m:
            assert m.select("INBOX")[0] == "OK"
            m.store("1", "+FLAGS", "\\Deleted")
            m.expunge()
        # The numbers stay; the message is gone.
        assert c.ok("STAT").startswith(b"+OK 2 ")
        assert c.cmd("RETR 1") == b"-ERR Message 1 was removed by another session"
        c.multi("RETR 2")
        c.ok("DELE 1")
        c.ok("DELE 2")
        c.quit()
    assert ih.maildir_names(env.maildir("gone1")) == {}


def test_imap_deleted_flag_is_not_expunged_by_pop3(env):
    """A message an IMAP client marked \\Deleted stays unless POP3
    deleted it."""
    for i in range(3):
        deliver(env, "keep1", b"k %d\r\n" % i)
    with imap(env, "keep1") as m:
        assert m.select("INBOX")[0] == "OK"
        m.store("2", "+FLAGS", "\\Deleted")
    with env.raw("keep1") as c:
        c.ok("DELE 1")
        c.ok("DELE 3")
        c.quit()
    names = ih.maildir_names(env.maildir("keep1"))
    assert len(names) == 1 and "T" in list(names.values())[0], names


# ---------------------------------------------------------------- IN-USE

def test_second_session_is_in_use_while_imap_works(env):
    deliver(env, "inuse1", b"u\r\n")
    with env.raw("inuse1") as first:
        # Several tries: with two workers they land on either.
        for _ in range(4):
            with env.raw() as c:
                c.ok("USER " + ih.addr("inuse1"))
                r = c.cmd("PASS " + env.pw("inuse1"))
                assert r.startswith(b"-ERR [IN-USE]"), r
                # Still in AUTHORIZATION.
                assert c.cmd("STAT") == b"-ERR Log in first"
                r = c.cmd("AUTH PLAIN " + sh.plain_b64(ih.addr("inuse1"),
                                                       env.pw("inuse1")))
                assert r.startswith(b"-ERR [IN-USE]"), r
        # IMAP works on the same mailbox meanwhile, and can change it.
        with imap(env, "inuse1") as m:
            typ, data = m.select("INBOX")
            assert typ == "OK" and data == [b"1"], data
            typ, data = m.fetch("1", "(BODY.PEEK[])")
            assert typ == "OK"
            assert m.append("INBOX", None, None,
                            sh.make_message(subject="appended"))[0] == "OK"
        assert first.ok("STAT").startswith(b"+OK 1 ")
        first.quit()
    # Free again after QUIT, at once.
    with env.raw("inuse1") as c:
        assert c.ok("STAT").startswith(b"+OK 2 ")
        c.quit()
    assert "reason=in-use" in env.log()


# ---------------------------------------------------------------- the list

def test_new_mail_shows_at_the_next_login(env):
    deliver(env, "fixed1", b"f1\r\n")
    with env.raw("fixed1") as c:
        stat = c.ok("STAT")
        assert stat.startswith(b"+OK 1 ")
        deliver(env, "fixed1", b"f2\r\n")
        assert c.ok("STAT") == stat
        r, body = c.multi("LIST")
        assert body.count(b"\r\n") == 1
        assert c.cmd("RETR 2").startswith(b"-ERR")
        c.quit()
    with env.raw("fixed1") as c:
        assert c.ok("STAT").startswith(b"+OK 2 ")
        c.quit()


def test_pop3_takes_no_recent_from_imap(env):
    deliver(env, "recent1", b"r\r\n")
    with env.raw("recent1") as c:
        c.multi("RETR 1")
        c.ok("QUIT")
    with imap(env, "recent1") as m:
        typ, data = m.select("INBOX")
        assert typ == "OK"
        typ, data = m.response("RECENT")
        assert data == [b"1"], data
