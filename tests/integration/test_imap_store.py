"""IMAP message commands in one session: SELECT/EXAMINE responses, STORE
(+FLAGS, -FLAGS, FLAGS, .SILENT, keywords), COPY and MOVE with COPYUID
(UIDPLUS RFC 4315, MOVE RFC 6851), EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT,
CHECK; flags in the Maildir file names; UIDs and UIDVALIDITY stable
across logout/login and a server restart, never reused after an expunge,
and kept in dovecot-uidlist.
"""

import os

import pytest

import imap_helpers as ih
from imap_helpers import quote

SYSTEM = {"\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft"}
# Maildir info letters of the system flags
LETTER = {"\\draft": "D", "\\flagged": "F", "\\answered": "R", "\\seen": "S",
          "\\deleted": "T"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-store"),
                     users=["store"]) as e:
        yield e


def msg(n):
    return (f"From: a@example.org\r\nSubject: message {n}\r\n"
            f"Date: Mon, 07 Jul 2025 10:00:0{n % 10} +0000\r\n\r\nbody {n}\r\n").encode()


def fill(c, box, n, flags=None):
    """CREATE BOX with N messages; SELECT it; returns the UIDs."""
    c.ok(f"CREATE {quote(box)}")
    for i in range(n):
        c.append(box, msg(i), flags=(flags or {}).get(i))
    sel = c.select(box)
    assert sel.exists == n
    return c.uids()


def flags_of(c, seq):
    return ih.flagset(c.fetch(seq, "FLAGS")[seq]["FLAGS"]) - {"\\recent"}


def store(c, line):
    """STORE LINE; {seq: flags without \\Recent} of its FETCH responses."""
    r = c.cmd(f"STORE {line}")
    assert r.status == "OK", f"STORE {line}: {r}"
    return {seq: ih.flagset(d["FLAGS"]) - {"\\recent"}
            for seq, d in r.fetches() if "FLAGS" in d}


def uid_set(text):
    """A UID set ("3:5,9") as a list, in order."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = int(a), int(b or a)
        step = 1 if hi >= lo else -1
        out += list(range(lo, hi + step, step))
    return out


def copyuid(codes):
    """(validity, source UIDs, destination UIDs) of the COPYUID among
    CODES (strings)."""
    got = [c for c in codes if c.upper().startswith("COPYUID ")]
    assert len(got) == 1, f"expected one [COPYUID]: {codes}"
    _, v, src, dst = got[0].split()
    return int(v), uid_set(src), uid_set(dst)


def apply_expunges(uids, expunged):
    """UIDS after EXPUNGE responses with sequence numbers EXPUNGED."""
    uids = list(uids)
    for n in expunged:
        assert 1 <= n <= len(uids), f"EXPUNGE {n} with {len(uids)} messages"
        del uids[n - 1]
    return uids


# ---------------------------------------------------------------- SELECT

def test_select_and_examine_responses(env):
    with env.raw("store") as c:
        fill(c, "Sel", 3, flags={0: ["\\Seen"], 1: ["\\Seen"]})
        c.ok("UNSELECT")
        sel = c.select("Sel")
        assert sel.read_write, f"SELECT without [READ-WRITE]: {sel.resp}"
        assert sel.exists == 3
        assert SYSTEM <= sel.flags, sel.flags
        assert sel.permanentflags is not None, "no [PERMANENTFLAGS]"
        assert SYSTEM | {"\\*"} <= sel.permanentflags, sel.permanentflags
        assert "\\recent" not in sel.permanentflags
        assert sel.unseen == 3, f"[UNSEEN] is the first unseen message: {sel.resp}"
        assert sel.uidnext > max(c.uids())
        ex = c.select("Sel", examine=True)
        assert ex.read_only, f"EXAMINE without [READ-ONLY]: {ex.resp}"
        assert (ex.exists, ex.uidvalidity, ex.uidnext) == \
            (sel.exists, sel.uidvalidity, sel.uidnext)
        empty = c.select("Drafts")
        assert empty.exists == 0 and empty.unseen is None


def test_check(env):
    with env.raw("store") as c:
        c.select("INBOX")
        c.ok("CHECK")
        assert c.cmd("CHECK now").status == "BAD"


# ---------------------------------------------------------------- STORE

def test_store_flags(env):
    with env.raw("store") as c:
        fill(c, "Flags", 3)
        assert store(c, "1 +FLAGS (\\Flagged)") == {1: {"\\flagged"}}
        # .SILENT: no FETCH response for the change
        assert store(c, "1 +FLAGS.SILENT (\\Seen)") == {}
        assert flags_of(c, 1) == {"\\flagged", "\\seen"}
        assert store(c, "1 -FLAGS (\\Flagged)") == {1: {"\\seen"}}
        assert store(c, "1 FLAGS (\\Answered \\Draft)") == {1: {"\\answered", "\\draft"}}
        assert store(c, "1 FLAGS.SILENT ()") == {}
        assert flags_of(c, 1) == set()
        # a flag list without parentheses (RFC 3501 store-att-flags)
        assert store(c, "1:* +FLAGS \\Deleted \\Seen") == {
            n: {"\\deleted", "\\seen"} for n in (1, 2, 3)}
        assert store(c, "2,3 -FLAGS.SILENT (\\Deleted)") == {}
        assert [flags_of(c, n) for n in (1, 2, 3)] == [
            {"\\deleted", "\\seen"}, {"\\seen"}, {"\\seen"}]
        # adding a flag that is set, removing one that is not: no change
        assert store(c, "2 +FLAGS (\\Seen)") in ({}, {2: {"\\seen"}})
        assert flags_of(c, 2) == {"\\seen"}
        c.ok("STORE 2 -FLAGS (\\Flagged)")
        assert flags_of(c, 2) == {"\\seen"}


def test_store_keywords(env):
    with env.raw("store") as c:
        fill(c, "Keywords", 2)
        assert store(c, "1 +FLAGS (Work $Label1 $Forwarded)") == {
            1: {"work", "$label1", "$forwarded"}}
        assert store(c, "1 -FLAGS (Work)") == {1: {"$label1", "$forwarded"}}
        assert store(c, "2 FLAGS (\\Seen Personal)") == {2: {"\\seen", "personal"}}
        # keywords survive a new session and are offered as flags
        with env.raw("store") as d:
            sel = d.select("Keywords")
            assert {"$label1", "$forwarded", "personal"} <= sel.flags, sel.flags
            assert flags_of(d, 1) == {"$label1", "$forwarded"}
            assert flags_of(d, 2) == {"\\seen", "personal"}
        r = c.cmd("SEARCH KEYWORD $Label1")
        assert r.search() == [1], r


def test_store_responses_of_uid_store_carry_the_uid(env):
    with env.raw("store") as c:
        uids = fill(c, "UidStore", 3)
        r = c.cmd(f"UID STORE {uids[1]} +FLAGS (\\Flagged)")
        assert r.status == "OK", r
        got = r.fetches()
        assert [s for s, _ in got] == [2], r
        assert int(got[0][1]["UID"]) == uids[1], f"no UID in a UID STORE response: {r}"
        r = c.cmd(f"UID STORE {uids[2] + 100} +FLAGS (\\Flagged)")
        assert r.status == "OK" and not r.fetches(), r


def test_flags_in_maildir_file_names(env):
    root = env.maildir("store", "Disk")
    with env.raw("store") as c:
        uids = fill(c, "Disk", 2)
        c.ok("STORE 1 FLAGS (\\Seen \\Flagged \\Answered \\Draft \\Deleted)")
        c.ok("STORE 2 FLAGS (\\Seen)")
        c.ok("CHECK")
    files, header = ih.uidlist(root)
    names = ih.maildir_names(root)
    for uid, want in ((uids[0], "DFRST"), (uids[1], "S")):
        base = files[uid]
        assert base in names, f"UID {uid} -> {base!r} not in {root}: {names}"
        letters = "".join(ch for ch in names[base] if ch.isupper())
        assert letters == want, f"UID {uid}: {names[base]!r}, expected {want}"


@pytest.mark.parametrize("line", [
    "1 NOT-AN-ITEM (\\Seen)", "1 +FLAGS", "1 FLAGS (\\Seen", "0 +FLAGS (\\Seen)",
    "x +FLAGS (\\Seen)", "1", "1 +FLAGS.LOUD (\\Seen)",
])
def test_store_syntax_errors_are_bad(env, line):
    with env.raw("store") as c:
        if c.cmd("CREATE StoreBad").status == "OK":
            c.append("StoreBad", msg(1))
        c.select("StoreBad")
        r = c.cmd(f"STORE {line}")
        assert r.status == "BAD", f"STORE {line!r}: {r}"


def test_store_refused_flags(env):
    with env.raw("store") as c:
        fill(c, "Refused", 1)
        for flag in ("\\Recent", "\\NotASystemFlag"):
            r = c.cmd(f"STORE 1 +FLAGS ({flag})")
            assert r.status in ("BAD", "NO"), f"STORE {flag}: {r}"
            assert flags_of(c, 1) == set()


def test_store_in_examined_mailbox_is_no(env):
    with env.raw("store") as c:
        fill(c, "ReadOnly", 1)
        c.select("ReadOnly", examine=True)
        r = c.cmd("STORE 1 +FLAGS (\\Seen)")
        assert r.status == "NO", r
        assert flags_of(c, 1) == set()


# ---------------------------------------------------------------- COPY / MOVE

def test_copy_with_copyuid(env):
    with env.raw("store") as c:
        c.ok("CREATE Dest")
        src = fill(c, "Src", 3, flags={0: ["\\Flagged", "Work"], 1: ["\\Seen"]})
        dates = {s: d["INTERNALDATE"] for s, d in c.fetch("1:*", "INTERNALDATE").items()}
        r = c.cmd("COPY 1:2 Dest")
        assert r.status == "OK", r
        validity, from_uids, to_uids = copyuid(r.codes())
        assert from_uids == src[:2], (from_uids, src)
        assert len(to_uids) == 2 and to_uids == sorted(to_uids), to_uids
        st = c.ok("STATUS Dest (MESSAGES UIDVALIDITY UIDNEXT)").statuses()["Dest"]
        assert st["MESSAGES"] == 2 and st["UIDVALIDITY"] == validity, st
        assert st["UIDNEXT"] > to_uids[-1]
        # UID COPY too
        r = c.cmd(f"UID COPY {src[2]} Dest")
        assert r.status == "OK", r
        _, f3, t3 = copyuid(r.codes())
        assert f3 == [src[2]] and t3[0] > to_uids[-1], (f3, t3)
        assert c.select("Src").exists == 3          # the source keeps them
        c.select("Dest")
        got = c.fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        assert [int(got[s]["UID"]) for s in sorted(got)] == to_uids + t3
        for i, s in enumerate(sorted(got)):
            d = got[s]
            assert d["BODY[]"] == msg(i)
            assert ih.parse_internaldate(d["INTERNALDATE"]) == \
                ih.parse_internaldate(dates[i + 1])
        assert ih.flagset(got[1]["FLAGS"]) - {"\\recent"} == {"\\flagged", "work"}
        assert ih.flagset(got[2]["FLAGS"]) - {"\\recent"} == {"\\seen"}


def test_copy_and_move_to_missing_mailbox_are_trycreate(env):
    with env.raw("store") as c:
        fill(c, "Keep", 2)
        for cmd in ("COPY 1 Nowhere", "MOVE 1 Nowhere", "UID COPY 1:* Nowhere",
                    "UID MOVE 1:* Nowhere"):
            r = c.cmd(cmd)
            assert r.status == "NO" and r.codename == "TRYCREATE", f"{cmd}: {r}"
            assert not r.numbered("EXPUNGE"), r
        assert len(c.uids()) == 2
        assert c.cmd('LIST "" "Nowhere"').lists() == {}


def test_copy_syntax_errors_are_bad(env):
    with env.raw("store") as c:
        fill(c, "CopyBad", 1)
        for line in ("COPY 1", "COPY Dest", "COPY 0 INBOX", "COPY 1 INBOX extra",
                     "MOVE 1", "MOVE x INBOX", "UID COPY 1", "UID MOVE"):
            r = c.cmd(line)
            assert r.status == "BAD", f"{line!r}: {r}"


def test_move(env):
    with env.raw("store") as c:
        c.ok("CREATE Moved")
        src = fill(c, "MoveSrc", 4, flags={1: ["\\Seen", "$Label1"]})
        r = c.cmd("MOVE 2:3 Moved")
        assert r.status == "OK", r
        validity, from_uids, to_uids = copyuid(r.codes())
        assert from_uids == src[1:3], (from_uids, src)
        left = apply_expunges(src, r.numbered("EXPUNGE"))
        assert left == [src[0], src[3]], f"expunges after MOVE: {r}"
        assert c.uids() == left
        # UID MOVE: EXPUNGE carries the sequence number
        r = c.cmd(f"UID MOVE {src[3]} Moved")
        assert r.status == "OK", r
        assert r.numbered("EXPUNGE") == [2], r
        _, f2, t2 = copyuid(r.codes())
        assert f2 == [src[3]]
        assert c.uids() == [src[0]]
        with env.raw("store") as d:
            sel = d.select("Moved")
            assert sel.exists == 3 and sel.uidvalidity == validity
            got = d.fetch("1:*", "(UID FLAGS BODY.PEEK[])")
            assert [int(got[s]["UID"]) for s in sorted(got)] == to_uids + t2
            assert [got[s]["BODY[]"] for s in sorted(got)] == [msg(1), msg(2), msg(3)]
            assert ih.flagset(got[1]["FLAGS"]) - {"\\recent"} == {"\\seen", "$label1"}


def test_move_from_examined_mailbox_is_no(env):
    with env.raw("store") as c:
        c.ok("CREATE MoveRoDest")
        fill(c, "MoveRo", 1)
        c.select("MoveRo", examine=True)
        r = c.cmd("MOVE 1 MoveRoDest")
        assert r.status == "NO", r
        st = c.ok("STATUS MoveRo (MESSAGES)").statuses()["MoveRo"]
        assert st["MESSAGES"] == 1
        # COPY from a read-only mailbox is fine
        c.ok("COPY 1 MoveRoDest")


# ---------------------------------------------------------------- EXPUNGE / CLOSE / UNSELECT

def test_expunge(env):
    with env.raw("store") as c:
        uids = fill(c, "Exp", 5)
        c.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("EXPUNGE")
        left = apply_expunges(uids, r.numbered("EXPUNGE"))
        assert left == [uids[0], uids[2], uids[4]], r
        assert c.uids() == left
        r = c.ok("EXPUNGE")
        assert not r.numbered("EXPUNGE"), r


def test_uid_expunge_only_the_given_uids(env):
    with env.raw("store") as c:
        uids = fill(c, "UidExp", 4)
        c.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
        r = c.ok(f"UID EXPUNGE {uids[1]}:{uids[3]}")
        assert r.numbered("EXPUNGE") in ([2, 2], [3, 2]), r
        assert c.uids() == [uids[0], uids[3]]
        assert flags_of(c, 1) == {"\\deleted"}
        assert c.cmd("UID EXPUNGE").status == "BAD"
        assert c.cmd("UID EXPUNGE x").status == "BAD"


def test_close_expunges_silently(env):
    with env.raw("store") as c:
        fill(c, "Closing", 3)
        c.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("CLOSE")
        assert not r.numbered("EXPUNGE"), f"EXPUNGE responses from CLOSE: {r}"
        assert c.cmd("FETCH 1 FLAGS").status == "BAD", "still selected after CLOSE"
        st = c.ok("STATUS Closing (MESSAGES)").statuses()["Closing"]
        assert st["MESSAGES"] == 1, st


def test_close_after_examine_and_unselect_expunge_nothing(env):
    with env.raw("store") as c:
        fill(c, "Keeping", 2)
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.select("Keeping", examine=True)
        c.ok("CLOSE")
        assert c.ok("STATUS Keeping (MESSAGES)").statuses()["Keeping"]["MESSAGES"] == 2
        c.select("Keeping")
        r = c.ok("UNSELECT")
        assert not r.numbered("EXPUNGE"), r
        assert c.cmd("FETCH 1 FLAGS").status == "BAD", "still selected after UNSELECT"
        assert c.ok("STATUS Keeping (MESSAGES)").statuses()["Keeping"]["MESSAGES"] == 2
        # EXPUNGE in a read-only mailbox removes nothing
        c.select("Keeping", examine=True)
        r = c.cmd("EXPUNGE")
        assert not r.numbered("EXPUNGE"), r
        assert c.ok("STATUS Keeping (MESSAGES)").statuses()["Keeping"]["MESSAGES"] == 2


# ---------------------------------------------------------------- UIDs

def test_uids_never_reused_after_expunge(env):
    with env.raw("store") as c:
        uids = fill(c, "NoReuse", 3)
        c.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        r = c.append("NoReuse", msg(9))
        new = int(r.code.split()[2])
        assert new > uids[2], f"UID {new} reused after expunging {uids[2]}"
        c.ok("NOOP")
        assert c.uids() == uids[:2] + [new]
        old_validity = c.select("NoReuse").uidvalidity
        c.ok("UNSELECT")
        # RFC 3501 2.3.1.1: a mailbox deleted and created again under the
        # same name gets a new UIDVALIDITY, or UIDs that go on ascending
        c.ok("DELETE NoReuse")
        c.ok("CREATE NoReuse")
        r = c.append("NoReuse", msg(10))
        v, u = (int(x) for x in r.code.split()[1:3])
        assert v != old_validity or u > new, (old_validity, v, new, u)


def state(c, box):
    """(UIDVALIDITY, [(UID, flags)], UIDNEXT) of BOX."""
    sel = c.select(box)
    got = c.fetch("1:*", "(UID FLAGS)")
    msgs = [(int(got[s]["UID"]), ih.flagset(got[s]["FLAGS"]) - {"\\recent"})
            for s in sorted(got)]
    return sel.uidvalidity, msgs, sel.uidnext


def test_uids_stable_across_logout_restart_and_index_loss(env):
    root = env.maildir("store", "Stable")
    with env.raw("store") as c:
        uids = fill(c, "Stable", 4)
        c.ok(f"UID STORE {uids[1]} +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Flagged $Label1)")
        before = state(c, "Stable")
        assert [u for u, _ in before[1]] == [uids[0], uids[2], uids[3]]
        c.logout()
    with env.raw("store") as c:
        assert state(c, "Stable") == before, "UIDs or flags changed across logout/login"
    # dovecot-uidlist: the UIDVALIDITY, and every UID naming its file (a
    # line of an expunged message may stay until the file is rewritten,
    # but not its file)
    files, header = ih.uidlist(root)
    names = ih.maildir_names(root)
    assert int(header["V"]) == before[0], (header, before)
    live = [u for u, _ in before[1]]
    assert set(live) <= set(files), files
    assert all(files[u] in names for u in live), (files, names)
    assert files.get(uids[1]) not in names, "the expunged message's file is still there"
    env.restart()
    with env.raw("store") as c:
        after = state(c, "Stable")
        assert after == before, f"after a restart: {after}, before: {before}"
    # postie-index may be lost at any time: rebuilt, UIDs and flags kept
    env.server.stop()
    index = list(root.glob("postie-index*"))
    assert index, f"no postie-index in {root}: {sorted(os.listdir(root))}"
    for p in index:
        p.unlink()
    env.restart()
    with env.raw("store") as c:
        after = state(c, "Stable")
        assert after == before, f"without postie-index: {after}, before: {before}"
        r = c.append("Stable", msg(7))
        v, u = (int(x) for x in r.code.split()[1:3])
        assert v == before[0] and u >= before[2] and u > uids[3], (v, u, before)
    env.assert_serves()
