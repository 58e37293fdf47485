"""IMAP mailbox commands: CREATE, DELETE, RENAME (INBOX too), SUBSCRIBE,
UNSUBSCRIBE, LIST (% and *, references, CHILDREN, SPECIAL-USE), LSUB,
STATUS of every item, LIST RETURN (STATUS ...) (LIST-STATUS), modified
UTF-7 names, and the Maildir++ layout on disk: the hierarchy separator is
".", a folder "A.B" is the directory ".A.B" beside INBOX's cur/new/tmp.
"""

import os

import pytest

import imap_helpers as ih
from imap_helpers import quote

# "first" is never used before its test, "reninbox" has its INBOX renamed;
# every other test works in its own folders of "mbox".
USERS = ["first", "reninbox", "mbox"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-mailbox"), users=USERS) as e:
        yield e


def list_all(c, ref="", pat="*"):
    r = c.cmd(f"LIST {quote(ref)} {quote(pat)}")
    assert r.status == "OK", r
    return r.lists()


def lsub_all(c, ref="", pat="*"):
    r = c.cmd(f"LSUB {quote(ref)} {quote(pat)}")
    assert r.status == "OK", r
    return r.lists("LSUB")


def msg(subject, body="hello\r\n"):
    return (f"From: a@example.org\r\nTo: b@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Jul 2025 10:00:00 +0000\r\n\r\n{body}").encode()


def is_maildir(path):
    return all((path / d).is_dir() for d in ("cur", "new", "tmp"))


# ---------------------------------------------------------------- first login

def test_first_login_creates_and_subscribes_special_use_folders(env):
    root = env.maildir("first")
    with env.raw("first") as c:
        boxes = list_all(c)
        assert "INBOX" in boxes, boxes
        for name, attr in ih.SPECIAL.items():
            assert name in boxes, f"{name} not listed: {boxes}"
            attrs, delim = boxes[name]
            assert attr in attrs, f"{name} lacks {attr}: {attrs}"
            assert delim == "."
            assert "\\noselect" not in attrs, (name, attrs)
            assert is_maildir(root / ("." + name)), f"no Maildir++ folder .{name} in {root}"
        # exactly one folder per special use
        for name, attr in ih.SPECIAL.items():
            holders = [n for n, (a, _) in boxes.items() if attr in a]
            assert holders == [name], f"{attr} on {holders}"
        assert not (boxes["INBOX"][0] & set(ih.SPECIAL.values())), boxes["INBOX"]
        subs = lsub_all(c)
        for name in ih.SPECIAL:
            assert name in subs, f"{name} not subscribed: {subs}"
        for name in ih.SPECIAL:
            r = c.cmd(f"SELECT {name}")
            assert r.status == "OK", r
    assert is_maildir(root), f"INBOX is not a Maildir at {root}"
    # a second login changes nothing
    with env.raw("first") as c:
        assert set(list_all(c)) == set(boxes)


def test_hierarchy_delimiter_query(env):
    with env.raw("mbox") as c:
        r = c.ok('LIST "" ""')
        got = r.untagged_named("LIST")
        assert len(got) == 1, r
        v = ih.parse(got[0][7:])
        assert ih.flagset(v[0]) == {"\\noselect"}, v
        assert v[1] == b"." and v[2] == b"", v


# ---------------------------------------------------------------- CREATE / DELETE

def test_create_select_delete(env):
    root = env.maildir("mbox")
    with env.raw("mbox") as c:
        c.ok("CREATE Projects")
        assert "Projects" in list_all(c)
        assert is_maildir(root / ".Projects"), os.listdir(root)
        sel = c.select("Projects")
        assert sel.exists == 0 and sel.recent == 0
        c.ok("UNSELECT")
        c.ok("DELETE Projects")
        assert "Projects" not in list_all(c)
        assert not (root / ".Projects").exists(), os.listdir(root)
        r = c.cmd("SELECT Projects")
        assert r.status == "NO" and r.codename == "NONEXISTENT", r


def test_create_errors(env):
    with env.raw("mbox") as c:
        c.ok("CREATE Twice")
        r = c.cmd("CREATE Twice")
        assert r.status == "NO" and r.codename == "ALREADYEXISTS", r
        for inbox in ("INBOX", "inbox", "InBox"):
            r = c.cmd(f"CREATE {inbox}")
            assert r.status == "NO", f"CREATE {inbox}: {r}"
        assert c.cmd("CREATE").status == "BAD"
        assert c.cmd("CREATE a b").status == "BAD"
        assert c.cmd('CREATE ""').status in ("NO", "BAD")


def test_create_with_trailing_separator(env):
    """RFC 3501 6.3.3: a trailing separator declares the intent to create
    children; a server that needs no such declaration ignores it."""
    with env.raw("mbox") as c:
        c.ok('CREATE "Trail."')
        boxes = list_all(c, pat="Trail*")
        assert "Trail" in boxes, boxes
        assert "Trail." not in boxes, boxes
        c.ok('CREATE "Trail.Kid"')
        assert "Trail.Kid" in list_all(c, pat="Trail*")


def test_inbox_is_case_insensitive(env):
    with env.raw("mbox") as c:
        c.append("INBOX", msg("inbox case"))
        for name in ("inbox", "Inbox", "INBOX"):
            sel = c.select(name)
            assert sel.exists >= 1, name
        boxes = list_all(c, pat="inbox")
        assert list(boxes) == ["INBOX"], boxes
        st = c.ok('STATUS "iNbOx" (MESSAGES)').statuses()
        assert list(st.values())[0]["MESSAGES"] >= 1, st


def test_nested_create_and_list_wildcards(env):
    with env.raw("mbox") as c:
        c.ok("CREATE Work.2025.Q1")
        c.ok("CREATE Work.2025.Q2")
        c.ok("CREATE Workshop")
        every = list_all(c)
        for n in ("Work.2025.Q1", "Work.2025.Q2", "Workshop"):
            assert n in every, (n, every)
        # RFC 3501 6.3.8: % does not match the separator; levels that are
        # not mailboxes come back with \Noselect
        top = list_all(c, pat="%")
        assert "Work" in top and "Workshop" in top and "INBOX" in top, top
        assert not [n for n in top if "." in n], top
        if "Work" not in every or "\\noselect" in every["Work"][0]:
            assert "\\noselect" in top["Work"][0] or "\\nonexistent" in top["Work"][0], top
        level2 = list_all(c, pat="Work.%")
        assert set(level2) == {"Work.2025"}, level2
        level3 = list_all(c, pat="Work.2025.%")
        assert set(level3) == {"Work.2025.Q1", "Work.2025.Q2"}, level3
        # the reference is prefixed to the pattern
        assert set(list_all(c, ref="Work.2025.", pat="%")) == set(level3)
        assert set(list_all(c, ref="Work.", pat="*")) == {
            "Work.2025", "Work.2025.Q1", "Work.2025.Q2"}
        star = list_all(c, pat="Work*")
        assert {"Work.2025.Q1", "Work.2025.Q2", "Workshop"} <= set(star), star
        assert set(list_all(c, pat="*Q1")) == {"Work.2025.Q1"}
        assert list_all(c, pat="No-such-*") == {}
        # CHILDREN (RFC 3348)
        assert "\\haschildren" in level2["Work.2025"][0], level2
        assert "\\hasnochildren" in level3["Work.2025.Q1"][0], level3
        assert "\\hasnochildren" in top["Workshop"][0], top
        assert "\\haschildren" in top["Work"][0], top
        for n, (attrs, _) in every.items():
            assert not {"\\haschildren", "\\hasnochildren"} <= attrs, (n, attrs)
        # the deepest level is a real mailbox
        c.select("Work.2025.Q1")


def test_list_syntax_errors(env):
    with env.raw("mbox") as c:
        assert c.cmd("LIST").status == "BAD"
        assert c.cmd('LIST ""').status == "BAD"
        assert c.cmd('LSUB ""').status == "BAD"


def test_delete_with_children_keeps_them_and_becomes_noselect(env):
    """RFC 3501 6.3.4: deleting a mailbox with inferiors removes its
    messages, keeps the inferiors and leaves the name \\Noselect; deleting
    a \\Noselect name with inferiors is an error."""
    root = env.maildir("mbox")
    with env.raw("mbox") as c:
        c.ok("CREATE Parent")
        c.ok("CREATE Parent.Child")
        c.append("Parent", msg("in parent"))
        c.append("Parent.Child", msg("in child"))
        c.ok("DELETE Parent")
        boxes = list_all(c, pat="Parent*")
        assert "Parent.Child" in boxes, boxes
        assert "Parent" in boxes, f"Parent vanished although it has a child: {boxes}"
        assert "\\noselect" in boxes["Parent"][0], boxes
        r = c.cmd("SELECT Parent")
        assert r.status == "NO", r
        st = c.ok("STATUS Parent.Child (MESSAGES)").statuses()
        assert st["Parent.Child"]["MESSAGES"] == 1, st
        r = c.cmd("DELETE Parent")
        assert r.status == "NO", f"DELETE of a \\Noselect name with children: {r}"
        assert is_maildir(root / ".Parent.Child")
        # no message of Parent is left on disk
        for sub in ("cur", "new"):
            d = root / ".Parent" / sub
            assert not d.is_dir() or not os.listdir(d), os.listdir(d)
        c.ok("DELETE Parent.Child")
        assert "Parent.Child" not in list_all(c, pat="Parent*")


def test_delete_errors(env):
    with env.raw("mbox") as c:
        r = c.cmd("DELETE Never-Created")
        assert r.status == "NO" and r.codename == "NONEXISTENT", r
        for inbox in ("INBOX", "inbox"):
            r = c.cmd(f"DELETE {inbox}")
            assert r.status == "NO", f"DELETE {inbox}: {r}"
        assert "INBOX" in list_all(c)
        assert c.cmd("DELETE").status == "BAD"


def test_delete_selected_mailbox_from_another_session(env):
    with env.raw("mbox") as a, env.raw("mbox") as b:
        a.ok("CREATE Doomed")
        a.append("Doomed", msg("doomed"))
        b.select("Doomed")
        r = a.cmd("DELETE Doomed")
        assert r.status in ("OK", "NO"), r
        # the other session gets an answer, or BYE and a closed connection
        try:
            r = b.cmd("NOOP")
            assert r.status in ("OK", "NO", "BAD"), r
        except ih.PeerClosed:
            pass
    env.assert_serves()


# ---------------------------------------------------------------- RENAME

def test_rename_moves_messages_and_children(env):
    root = env.maildir("mbox")
    with env.raw("mbox") as c:
        c.ok("CREATE Old")
        c.ok("CREATE Old.Sub")
        c.append("Old", msg("one"))
        c.append("Old", msg("two"))
        c.append("Old.Sub", msg("three"))
        c.ok("RENAME Old New")
        boxes = list_all(c)
        assert "New" in boxes and "New.Sub" in boxes, boxes
        assert "Old" not in boxes and "Old.Sub" not in boxes, boxes
        st = c.ok("STATUS New (MESSAGES)").statuses()
        assert st["New"]["MESSAGES"] == 2, st
        st = c.ok("STATUS New.Sub (MESSAGES)").statuses()
        assert st["New.Sub"]["MESSAGES"] == 1, st
        assert is_maildir(root / ".New") and is_maildir(root / ".New.Sub")
        assert not (root / ".Old").exists() and not (root / ".Old.Sub").exists()
        c.select("New")
        r = c.fetch("1:*", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        subjects = sorted(v["BODY[HEADER.FIELDS (SUBJECT)]"] for v in r.values())
        assert subjects == [b"Subject: one\r\n\r\n", b"Subject: two\r\n\r\n"], subjects


def test_rename_into_a_new_hierarchy(env):
    with env.raw("mbox") as c:
        c.ok("CREATE Flat")
        c.append("Flat", msg("flat"))
        c.ok("RENAME Flat Deep.Er.Flat")
        st = c.ok("STATUS Deep.Er.Flat (MESSAGES)").statuses()
        assert st["Deep.Er.Flat"]["MESSAGES"] == 1, st
        assert "Deep" in list_all(c, pat="%")


def test_rename_errors(env):
    with env.raw("mbox") as c:
        r = c.cmd("RENAME Not-There Anything")
        assert r.status == "NO" and r.codename == "NONEXISTENT", r
        c.ok("CREATE Taken1")
        c.ok("CREATE Taken2")
        r = c.cmd("RENAME Taken1 Taken2")
        assert r.status == "NO" and r.codename == "ALREADYEXISTS", r
        r = c.cmd("RENAME Taken1 INBOX")
        assert r.status == "NO", r
        assert c.cmd("RENAME Taken1").status == "BAD"
        assert {"Taken1", "Taken2"} <= set(list_all(c))


def test_rename_inbox_moves_its_messages_and_leaves_it_empty(env):
    """RFC 3501 6.3.5: renaming INBOX moves all its messages to a new
    mailbox with the given name, leaving INBOX empty."""
    with env.raw("reninbox") as c:
        c.ok("CREATE INBOX.Kid")    # an inferior of INBOX is not moved
        for i in range(3):
            c.append("INBOX", msg(f"inbox {i}"), flags=["\\Flagged"] if i == 1 else None)
        c.ok("RENAME INBOX Saved")
        boxes = list_all(c)
        assert "INBOX" in boxes and "Saved" in boxes, boxes
        assert "INBOX.Kid" in boxes, boxes
        st = c.ok("STATUS Saved (MESSAGES)").statuses()["Saved"]
        assert st["MESSAGES"] == 3, st
        sel = c.select("INBOX")
        assert sel.exists == 0, "INBOX not empty after RENAME INBOX"
        c.select("Saved")
        got = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = sorted(v["BODY[HEADER.FIELDS (SUBJECT)]"] for v in got.values())
        assert subjects == [f"Subject: inbox {i}\r\n\r\n".encode() for i in range(3)]
        flagged = [v for v in got.values() if "\\flagged" in ih.flagset(v["FLAGS"])]
        assert len(flagged) == 1, got
        # new mail still goes to INBOX
        c.append("INBOX", msg("after rename"))
        st = c.ok("STATUS INBOX (MESSAGES)").statuses()["INBOX"]
        assert st["MESSAGES"] == 1, st


# ---------------------------------------------------------------- SUBSCRIBE / LSUB

def test_subscribe_unsubscribe_lsub(env):
    with env.raw("mbox") as c:
        c.ok("CREATE S1")
        c.ok("CREATE S1.Kid")
        c.ok("SUBSCRIBE S1.Kid")
        subs = lsub_all(c)
        assert "S1.Kid" in subs and "S1" not in subs, subs
        # RFC 3501 6.3.9: % returns the unsubscribed parent, \Noselect
        top = lsub_all(c, pat="%")
        assert "S1" in top, top
        assert "\\noselect" in top["S1"][0], top
        assert "S1.Kid" not in top, top
        assert set(lsub_all(c, ref="S1.", pat="%")) == {"S1.Kid"}
        c.ok("UNSUBSCRIBE S1.Kid")
        assert "S1.Kid" not in lsub_all(c)
        assert "S1" not in lsub_all(c, pat="%")
        assert c.cmd("SUBSCRIBE").status == "BAD"
        assert c.cmd("UNSUBSCRIBE").status == "BAD"


def test_subscription_outlives_delete(env):
    """RFC 3501 6.3.9: the server must not remove a subscription on its
    own, even when the mailbox no longer exists."""
    with env.raw("mbox") as c:
        c.ok("CREATE Fleeting")
        c.ok("SUBSCRIBE Fleeting")
        c.ok("DELETE Fleeting")
        assert "Fleeting" in lsub_all(c), "subscription removed by DELETE"
        assert "Fleeting" not in list_all(c)
        c.ok("UNSUBSCRIBE Fleeting")
        assert "Fleeting" not in lsub_all(c)


# ---------------------------------------------------------------- STATUS

def test_status_every_item(env):
    with env.raw("mbox") as c:
        c.ok("CREATE St")
        uids = []
        validity = None
        for i, flags in enumerate((["\\Seen"], None, ["\\Flagged"])):
            r = c.append("St", msg(f"status {i}"), flags=flags)
            assert r.codename == "APPENDUID", f"APPEND without APPENDUID: {r}"
            v, u = (int(x) for x in r.code.split()[1:3])
            validity = validity or v
            assert v == validity
            uids.append(u)
        st = c.ok("STATUS St (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)").statuses()
        assert st == {"St": {"MESSAGES": 3, "RECENT": 3, "UIDNEXT": uids[-1] + 1,
                             "UIDVALIDITY": validity, "UNSEEN": 2}}, st
        assert uids == sorted(uids) and len(set(uids)) == 3, uids
        # one item alone, and in another order
        st = c.ok("STATUS St (UNSEEN MESSAGES)").statuses()["St"]
        assert st == {"UNSEEN": 2, "MESSAGES": 3}, st
        # another session selects St: the messages are no longer recent
        # for anyone else
        with env.raw("mbox") as d:
            sel = d.select("St")
            assert sel.recent == 3 and sel.exists == 3
            assert sel.uidvalidity == validity and sel.uidnext == uids[-1] + 1
        st = c.ok("STATUS St (RECENT MESSAGES)").statuses()["St"]
        assert st == {"RECENT": 0, "MESSAGES": 3}, st


def test_status_errors(env):
    with env.raw("mbox") as c:
        r = c.cmd("STATUS Nowhere (MESSAGES)")
        assert r.status == "NO" and r.codename == "NONEXISTENT", r
        assert c.cmd("STATUS INBOX (NOT-AN-ITEM)").status == "BAD"
        assert c.cmd("STATUS INBOX MESSAGES").status == "BAD"
        assert c.cmd("STATUS INBOX ()").status == "BAD"
        assert c.cmd("STATUS INBOX").status == "BAD"


# ---------------------------------------------------------------- LIST-STATUS, SPECIAL-USE

def test_list_return_status(env):
    """RFC 5819: LIST ... RETURN (STATUS (...)) adds a STATUS response for
    every selectable mailbox listed, and none for \\Noselect ones."""
    with env.raw("mbox") as c:
        c.ok("CREATE Ls.A")             # Ls itself is not created
        c.ok("CREATE Ls.B")
        c.append("Ls.A", msg("a1"), flags=["\\Seen"])
        c.append("Ls.A", msg("a2"))
        inbox = c.ok("STATUS INBOX (MESSAGES UNSEEN)").statuses()["INBOX"]
        c.append("INBOX", msg("i1"))
        r = c.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
        boxes = r.lists()
        st = r.statuses()
        assert {"INBOX", "Ls.A", "Ls.B"} <= set(boxes), boxes
        assert st["Ls.A"] == {"MESSAGES": 2, "UNSEEN": 1}, st
        assert st["Ls.B"] == {"MESSAGES": 0, "UNSEEN": 0}, st
        assert st["INBOX"] == {"MESSAGES": inbox["MESSAGES"] + 1,
                               "UNSEEN": inbox["UNSEEN"] + 1}, st
        for name, (attrs, _) in boxes.items():
            if "\\noselect" in attrs or "\\nonexistent" in attrs:
                assert name not in st, f"STATUS for \\Noselect {name}: {st}"
            else:
                assert name in st, f"no STATUS for {name}: {st}"
        # each STATUS comes after the LIST response of its mailbox
        seen = []
        for u in r.untagged:
            if u[2:7].upper() == b"LIST ":
                seen += list(ih.lists([u]))
            elif u[2:9].upper() == b"STATUS ":
                name = list(ih.statuses([u]))[0]
                assert name in seen, f"STATUS {name} before its LIST: {r}"
        r = c.ok('LIST "" "Ls.%" RETURN (STATUS (UIDNEXT))')
        assert set(r.statuses()) == {"Ls.A", "Ls.B"}, r


def test_list_shows_special_use_for_any_pattern(env):
    with env.raw("mbox") as c:
        c.ok("CREATE Plain")
        boxes = list_all(c, pat="%")
        for name, attr in ih.SPECIAL.items():
            assert attr in boxes[name][0], (name, boxes[name])
        assert not (boxes["Plain"][0] & set(ih.SPECIAL.values())), boxes["Plain"]
        one = list_all(c, pat="Trash")
        assert "\\trash" in one["Trash"][0], one


def test_list_return_special_use_when_list_extended(env):
    """RFC 6154 2: with LIST-EXTENDED, RETURN (SPECIAL-USE) and the
    SPECIAL-USE selection option."""
    with env.raw("mbox") as c:
        caps = c.ok("CAPABILITY").untagged_named("CAPABILITY")[0].upper().split()
        if b"LIST-EXTENDED" not in caps:
            pytest.skip("no LIST-EXTENDED: RETURN (SPECIAL-USE) is not offered")
        r = c.ok('LIST "" "*" RETURN (SPECIAL-USE)')
        boxes = r.lists()
        for name, attr in ih.SPECIAL.items():
            assert attr in boxes[name][0], (name, boxes)
        r = c.ok('LIST (SPECIAL-USE) "" "*"')
        assert set(r.lists()) == set(ih.SPECIAL), r


# ---------------------------------------------------------------- modified UTF-7

def test_modified_utf7_names(env):
    root = env.maildir("mbox")
    with env.raw("mbox") as c:
        c.ok('CREATE "Entw&APw-rfe"')          # "Entwürfe"
        boxes = list_all(c, pat="Entw*")
        assert list(boxes) == ["Entw&APw-rfe"], boxes
        assert is_maildir(root / ".Entw&APw-rfe"), os.listdir(root)
        c.append("Entw&APw-rfe", msg("draft"))
        sel = c.select("Entw&APw-rfe")
        assert sel.exists == 1
        c.ok("UNSELECT")
        c.ok('CREATE "Tom &- Jerry"')           # "Tom & Jerry"
        assert "Tom &- Jerry" in list_all(c, pat="Tom*")
        c.ok('CREATE "&ZeVnLIqe-.&U,BTFw-"')     # "日本語.台北"
        assert "&ZeVnLIqe-.&U,BTFw-" in list_all(c)
        c.ok('RENAME "Entw&APw-rfe" "&AMk-t&AOk-"')   # "Été"
        boxes = list_all(c)
        assert "&AMk-t&AOk-" in boxes and "Entw&APw-rfe" not in boxes, boxes


@pytest.mark.parametrize("name", [
    "Bad&name",             # "&" must start a shift or be "&-"
    "Bad&APw",              # unterminated shift
    "Bad&AGE-",             # "a" encoded: printable ASCII must not be
])
def test_invalid_modified_utf7_refused(env, name):
    with env.raw("mbox") as c:
        r = c.cmd(f"CREATE {quote(name)}")
        assert r.status in ("NO", "BAD"), f"CREATE {name!r}: {r}"
        assert name not in list_all(c, pat="Bad*")


def test_eight_bit_mailbox_name_refused(env):
    with env.raw("mbox") as c:
        r = c.cmd_lit(["CREATE ", ih.Lit("Entwürfe".encode())])
        assert r.status in ("NO", "BAD"), r
        assert not [n for n in list_all(c) if "rfe" in n and "&" not in n]


# ---------------------------------------------------------------- imaplib

def test_imaplib_mailbox_commands(env):
    m = env.lib("mbox")
    try:
        assert m.create("Lib")[0] == "OK"
        assert m.create("Lib.Sub")[0] == "OK"
        typ, data = m.list('""', "Lib*")
        assert typ == "OK"
        names = sorted(d.decode().rsplit(" ", 1)[1].strip('"') for d in data)
        assert names == ["Lib", "Lib.Sub"], data
        assert m.subscribe("Lib.Sub")[0] == "OK"
        typ, data = m.lsub('""', "Lib*")
        assert typ == "OK" and len(data) == 1 and data[0].endswith(b"Lib.Sub"), data
        assert m.rename("Lib", "Book")[0] == "OK"
        typ, data = m.status("Book", "(MESSAGES UIDNEXT)")
        assert typ == "OK" and b"MESSAGES 0" in data[0], data
        assert m.unsubscribe("Book.Sub")[0] == "OK"
        assert m.delete("Book.Sub")[0] == "OK"
        assert m.delete("Book")[0] == "OK"
        typ, data = m.list('""', "Book*")
        assert typ == "OK" and data == [None], data
    finally:
        m.logout()
