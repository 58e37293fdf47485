"""Several sessions on one mailbox (RFC 3501 5.2, 7.4.1) and IDLE (RFC
2177): one session's STORE shows up in the other as FETCH FLAGS at its
next command, an EXPUNGE as EXPUNGE (never while the other runs FETCH,
STORE or SEARCH), an APPEND as EXISTS; IDLE gets EXISTS when mail arrives
over SMTP, when another session APPENDs and when another program drops a
file into new/. The server runs two workers, so two sessions may well be
in two processes.
"""

import time

import pytest

import imap_helpers as ih

IDLE_LIMIT = 2.0        # seconds for an IDLE session to hear of new mail


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-concurrent"),
                     users=["pair", "inboxer"]) as e:
        yield e


def msg(n, extra=""):
    return (f"From: a@example.org\r\nTo: pair@example.test\r\n"
            f"Subject: concurrent {n}{extra}\r\n\r\nbody {n}\r\n").encode()


def fill(c, box, n):
    c.ok(f"CREATE {box}")
    for i in range(n):
        c.append(box, msg(i))


def is_exists(n=None):
    def pred(r):
        got = ih.numbered([r], "EXISTS")
        return bool(got) and (n is None or got[0] == n)
    return pred


def test_store_seen_by_other_session_at_next_command(env):
    with env.raw("pair") as a, env.raw("pair") as b:
        fill(a, "Flags", 3)
        a.select("Flags")
        b.select("Flags")
        a.ok("STORE 2 +FLAGS (\\Flagged)")
        r = b.ok("NOOP")
        got = dict(r.fetches())
        assert 2 in got, f"no FETCH for message 2 in the other session: {r}"
        assert "\\flagged" in ih.flagset(got[2]["FLAGS"]), r
        a.ok("STORE 1 FLAGS.SILENT (\\Seen $Label1)")
        r = b.ok("CHECK")
        got = dict(r.fetches())
        assert ih.flagset(got[1]["FLAGS"]) - {"\\recent"} == {"\\seen", "$label1"}, r
        # and the other way round
        b.ok("STORE 3 +FLAGS.SILENT (\\Answered)")
        r = a.ok("NOOP")
        got = dict(r.fetches())
        assert "\\answered" in ih.flagset(got[3]["FLAGS"]), r
        # a session sees nothing more once it is in sync
        r = b.ok("NOOP")
        assert not r.fetches() and not r.numbered("EXISTS"), r


def test_expunge_not_during_fetch_store_search_but_at_noop(env):
    """RFC 3501 7.4.1: no EXPUNGE while responding to FETCH, STORE or
    SEARCH; the other session hears of it at a later command."""
    with env.raw("pair") as a, env.raw("pair") as b:
        fill(a, "Expunges", 4)
        a.select("Expunges")
        b.select("Expunges")
        uids = b.uids()
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        r = a.ok("EXPUNGE")
        assert r.numbered("EXPUNGE") == [2]
        for line in ("FETCH 1 FLAGS", "FETCH 3:4 (UID FLAGS)",
                     "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "SEARCH UNSEEN"):
            r = b.cmd(line)
            assert r.status in ("OK", "NO"), f"{line}: {r}"
            assert not r.numbered("EXPUNGE"), f"EXPUNGE during {line}: {r}"
        # FETCH still counts the old sequence numbers
        r = b.cmd("FETCH 4 UID")
        assert not r.numbered("EXPUNGE"), r
        if r.status == "OK":
            assert [int(d["UID"]) for _, d in r.fetches()] == [uids[3]], r
        r = b.ok("NOOP")
        assert ih.numbered(r.untagged, "EXPUNGE") == [2], f"EXPUNGE not reported at NOOP: {r}"
        assert b.uids() == [uids[0], uids[2], uids[3]]


def test_expunge_of_several_and_exists_count(env):
    with env.raw("pair") as a, env.raw("pair") as b:
        fill(a, "Many", 6)
        a.select("Many")
        b.select("Many")
        uids = b.uids()
        a.ok("STORE 1,3,6 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        a.append("Many", msg(99))
        r = b.ok("NOOP")
        left = list(uids)
        for n in r.numbered("EXPUNGE"):
            del left[n - 1]
        assert left == [uids[i] for i in (1, 3, 4)], f"EXPUNGE responses: {r}"
        exists = r.numbered("EXISTS")
        assert exists and exists[-1] == 4, f"EXISTS after 3 expunges and 1 append: {r}"
        assert len(b.uids()) == 4


def test_append_seen_as_exists(env):
    with env.raw("pair") as a, env.raw("pair") as b:
        fill(a, "Appends", 1)
        b.select("Appends")
        a.append("Appends", msg(1))
        a.append("Appends", msg(2))
        r = b.ok("NOOP")
        assert r.numbered("EXISTS")[-1:] == [3], f"no EXISTS 3: {r}"
        assert r.numbered("RECENT"), f"no RECENT with the new messages: {r}"
        got = b.fetch("2:3", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert [got[n]["BODY[HEADER.FIELDS (SUBJECT)]"] for n in (2, 3)] == [
            b"Subject: concurrent 1\r\n\r\n", b"Subject: concurrent 2\r\n\r\n"]


def test_recent_claimed_by_one_session_only(env):
    with env.raw("pair") as a, env.raw("pair") as b:
        a.ok("CREATE Recent")
        a.select("Recent")
        b.select("Recent")
        with env.raw("pair") as c:
            c.append("Recent", msg(1))
        ra = a.ok("NOOP")
        rb = b.ok("NOOP")
        assert ra.numbered("EXISTS") == [1] and rb.numbered("EXISTS") == [1], (ra, rb)
        # no RECENT response: the count stayed what SELECT said (0)
        recent = [(r.numbered("RECENT") or [0])[-1] for r in (ra, rb)]
        assert sorted(recent) == [0, 1], f"RECENT counts {recent}: {ra}, {rb}"


# ---------------------------------------------------------------- IDLE

def test_idle_exists_on_append_from_other_session(env):
    with env.raw("pair") as a, env.raw("pair") as b:
        fill(a, "Idle", 1)
        b.select("Idle")
        b.idle()
        t0 = time.monotonic()
        a.append("Idle", msg(1))
        r = b.idle_wait(is_exists(2), IDLE_LIMIT)
        latency = time.monotonic() - t0
        print(f"IDLE EXISTS after APPEND in another session: {latency * 1000:.0f} ms")
        assert r is not None, f"no EXISTS within {IDLE_LIMIT}s; saw {b.idle_seen}"
        # flag changes are reported during IDLE too
        a.select("Idle")
        a.ok("STORE 1 +FLAGS (\\Flagged)")
        r = b.idle_wait(lambda x: b" FETCH " in x.upper(), IDLE_LIMIT)
        assert r is not None, f"no FETCH FLAGS during IDLE; saw {b.idle_seen}"
        b.idle_done()
        assert b.fetch(2, "UID")


def test_idle_expunge_from_other_session(env):
    with env.raw("pair") as a, env.raw("pair") as b:
        fill(a, "IdleExp", 3)
        a.select("IdleExp")
        b.select("IdleExp")
        b.idle()
        a.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        r = b.idle_wait(lambda x: ih.numbered([x], "EXPUNGE") == [3], IDLE_LIMIT)
        done = b.idle_done()
        if r is None:   # a server may keep it for after IDLE
            assert ih.numbered(done.untagged, "EXPUNGE") == [3] or \
                b.ok("NOOP").numbered("EXPUNGE") == [3], done
        assert len(b.uids()) == 2


def test_idle_exists_on_smtp_delivery(env):
    with env.raw("inboxer", select="INBOX") as b:
        n = len(b.uids())
        b.idle()
        tok = f"idle-smtp-{time.time_ns()}"
        data = (f"From: a@example.org\r\nTo: inboxer@example.test\r\n"
                f"Subject: {tok}\r\n\r\nover SMTP\r\n").encode()
        t_250 = env.deliver("inboxer", data)
        r = b.idle_wait(is_exists(n + 1), IDLE_LIMIT + 5)
        latency = time.monotonic() - t_250
        print(f"IDLE EXISTS after SMTP delivery: {latency * 1000:.0f} ms after the 250")
        assert r is not None, f"no EXISTS after SMTP delivery; saw {b.idle_seen}"
        assert latency <= IDLE_LIMIT, f"EXISTS {latency:.2f}s after the 250"
        b.idle_done()
        got = b.fetch(n + 1, "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert tok.encode() in got[n + 1]["BODY[HEADER.FIELDS (SUBJECT)]"]


def test_file_dropped_into_new_is_picked_up(env):
    maildir = env.maildir("inboxer")
    data = (b"From: other-mta@example.org\r\nSubject: dropped in\r\n\r\n"
            b"written by another program\r\n")
    with env.raw("inboxer", select="INBOX") as b:
        n = len(b.uids())
        # seen at the next command
        ih.drop_into_new(maildir, data)
        r = b.ok("NOOP")
        if not r.numbered("EXISTS"):
            time.sleep(0.5)
            r = b.ok("NOOP")
        assert r.numbered("EXISTS")[-1:] == [n + 1], f"dropped file not seen: {r}"
        got = b.fetch(n + 1, "(UID BODY.PEEK[] RFC822.SIZE)")[n + 1]
        assert got["BODY[]"] == data and int(got["RFC822.SIZE"]) == len(data)
        first_uid = int(got["UID"])
        # and during IDLE
        b.idle()
        t0 = time.monotonic()
        ih.drop_into_new(maildir, data.replace(b"dropped in", b"dropped again"))
        r = b.idle_wait(is_exists(n + 2), IDLE_LIMIT)
        print(f"IDLE EXISTS after a file dropped into new/: "
              f"{(time.monotonic() - t0) * 1000:.0f} ms")
        assert r is not None, f"no EXISTS for a file dropped into new/; saw {b.idle_seen}"
        b.idle_done()
        got = b.fetch(n + 2, "(UID BODY.PEEK[])")[n + 2]
        assert int(got["UID"]) > first_uid
        assert b"dropped again" in got["BODY[]"]
    # a new session sees both, with the same UIDs
    with env.raw("inboxer", select="INBOX") as c:
        assert c.uids()[-2] == first_uid
