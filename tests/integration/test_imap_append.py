"""IMAP APPEND (RFC 3501 6.3.11, UIDPLUS RFC 4315, LITERAL+ RFC 7888):
byte-exact round trips through synchronizing and non-synchronizing
literals, flags and internal dates as given, APPENDUID, [TRYCREATE], the
size limit, and EXISTS for a session that has the mailbox selected.
"""

import datetime
import imaplib
import time

import pytest

import imap_helpers as ih
from imap_helpers import Lit

BOX = "Appended"


def _big():
    line = b"".join(bytes([0x21 + (i % 90)]) for i in range(76)) + b"\r\n"
    return (b"From: big@example.org\r\nSubject: one megabyte\r\n\r\n" +
            line * (1024 * 1024 // len(line)))


# Messages whose octets must come back unchanged.
ROUND_TRIP = {
    "eight-bit": (b"From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\n"
                  b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin1\r\n"
                  b"Content-Transfer-Encoding: 8bit\r\n\r\n"
                  b"Gr\xfc\xdfe, \xe9t\xe9 \xa4\r\nUTF-8 too: \xc3\xa9\xe2\x82\xac\r\n"),
    "dots-and-from": (b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n"
                      b"From the start of a line\r\n>From quoted\r\n"),
    "no-final-crlf": b"Subject: no newline at the end\r\n\r\nlast line",
    "header-only": b"Subject: only a header\r\nX-Empty:\r\n",
    "whitespace": (b"Subject:   spaced  \r\nX-Tab:\tvalue\t\r\n\r\n"
                   b"trailing spaces   \r\n\t\r\n   \r\n\r\n\r\n"),
    "long-line": b"Subject: long\r\n\r\n" + b"x" * 5000 + b"\r\n",
    "controls": b"Subject: controls\r\n\r\nbell \x07 esc \x1b del \x7f soh \x01\r\n",
    "one-megabyte": _big(),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-append"),
                     users=["app"]) as e:
        with e.raw("app") as c:
            c.ok(f"CREATE {BOX}")
        yield e


def appenduid(r):
    assert r.codename == "APPENDUID", f"APPEND without [APPENDUID]: {r}"
    v, u = r.code.split()[1:3]
    return int(v), int(u)


def fetch_uid(c, uid, items):
    got = c.fetch(uid, items, uid=True)
    assert len(got) == 1, got
    return list(got.values())[0]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "literal-plus"])
@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_round_trip_byte_exact(env, name, sync):
    data = ROUND_TRIP[name]
    with env.raw("app") as c:
        r = c.cmd_lit([f"APPEND {BOX} ", Lit(data, sync=sync)])
        assert r.status == "OK", r
        validity, uid = appenduid(r)
        sel = c.select(BOX)
        assert sel.uidvalidity == validity
        got = fetch_uid(c, uid, "(BODY.PEEK[] RFC822.SIZE)")
        assert got["BODY[]"] == data, (
            f"{name}: {len(got['BODY[]'])} octets back for {len(data)}; first "
            f"difference at {next((i for i, (a, b) in enumerate(zip(got['BODY[]'], data)) if a != b), min(len(data), len(got['BODY[]'])))}")
        assert int(got["RFC822.SIZE"]) == len(data)


def test_flags_and_internal_date_as_given(env):
    flags = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted",
             "$Forwarded", "Work"]
    cases = ["14-Jul-2025 02:44:25 +0200", "01-Jan-2000 00:00:00 -0800",
             " 5-Mar-2024 23:59:59 +0530", "29-Feb-2024 12:00:00 +0000"]
    with env.raw("app") as c:
        uids = []
        for date in cases:
            r = c.append(BOX, b"Subject: dated\r\n\r\nx\r\n", flags=flags, date=date)
            uids.append(appenduid(r)[1])
        c.select(BOX)
        for date, uid in zip(cases, uids):
            got = fetch_uid(c, uid, "(FLAGS INTERNALDATE)")
            assert ih.flagset(got["FLAGS"]) - {"\\recent"} == {f.lower() for f in flags}, got
            assert ih.parse_internaldate(got["INTERNALDATE"]) == \
                ih.parse_internaldate(date), (date, got["INTERNALDATE"])


def test_internal_date_defaults_to_now(env):
    with env.raw("app") as c:
        before = datetime.datetime.now(datetime.timezone.utc)
        r = c.append(BOX, b"Subject: now\r\n\r\nx\r\n")
        after = datetime.datetime.now(datetime.timezone.utc)
        uid = appenduid(r)[1]
        c.select(BOX)
        got = fetch_uid(c, uid, "(FLAGS INTERNALDATE)")
        d = ih.parse_internaldate(got["INTERNALDATE"])
        slack = datetime.timedelta(seconds=2)
        assert before - slack <= d <= after + slack, (before, d, after)
        assert not ih.flagset(got["FLAGS"]) - {"\\recent"}, got


def test_empty_flag_list_and_mailbox_as_literal(env):
    with env.raw("app") as c:
        r = c.cmd_lit(["APPEND ", Lit(BOX), " () ", Lit(b"Subject: lit\r\n\r\nx\r\n")])
        assert r.status == "OK", r
        r = c.cmd_lit(["APPEND ", Lit(BOX, sync=False), " ",
                       Lit(b"Subject: lit+\r\n\r\nx\r\n", sync=False)])
        assert r.status == "OK", r


def test_appenduids_ascend(env):
    with env.raw("app") as c:
        got = [appenduid(c.append(BOX, b"Subject: n\r\n\r\nx\r\n")) for _ in range(5)]
        validities = {v for v, _ in got}
        uids = [u for _, u in got]
        assert len(validities) == 1, got
        assert uids == sorted(uids) and len(set(uids)) == 5, uids
        st = c.ok(f"STATUS {BOX} (UIDNEXT UIDVALIDITY)").statuses()[BOX]
        assert st["UIDNEXT"] > uids[-1] and st["UIDVALIDITY"] == validities.pop(), st


def test_append_to_inbox_in_any_case(env):
    with env.raw("app") as c:
        before = list(c.ok("STATUS INBOX (MESSAGES)").statuses().values())[0]
        appenduid(c.append("inbox", b"Subject: lower\r\n\r\nx\r\n"))
        appenduid(c.append("INBOX", b"Subject: upper\r\n\r\nx\r\n"))
        st = c.ok("STATUS INBOX (MESSAGES)").statuses()
        assert list(st.values())[0]["MESSAGES"] == before["MESSAGES"] + 2, st


def test_append_to_missing_mailbox_is_trycreate(env):
    with env.raw("app") as c:
        r = c.cmd_lit(["APPEND No-Such-Box ", Lit(b"Subject: x\r\n\r\nx\r\n")])
        assert r.status == "NO" and r.codename == "TRYCREATE", r
        r = c.cmd_lit(["APPEND No-Such-Box ", Lit(b"Subject: x\r\n\r\nx\r\n", sync=False)])
        assert r.status == "NO" and r.codename == "TRYCREATE", r
        assert c.cmd('LIST "" "No-Such-Box"').lists() == {}
        c.ok("NOOP")


@pytest.mark.parametrize("parts", [
    [f"APPEND {BOX}"],
    [f"APPEND {BOX} (\\Seen)"],
    [f"APPEND {BOX} \\Seen ", Lit(b"Subject: x\r\n\r\nx\r\n")],
    [f'APPEND {BOX} "yesterday" ', Lit(b"Subject: x\r\n\r\nx\r\n")],
    [f'APPEND {BOX} "14-Jul-2025 02:44:25" ', Lit(b"Subject: x\r\n\r\nx\r\n")],
    [f'APPEND {BOX} "14-Foo-2025 02:44:25 +0200" ', Lit(b"Subject: x\r\n\r\nx\r\n")],
    [f"APPEND {BOX} ", Lit(b"Subject: x\r\n\r\nx\r\n"), " trailing"],
], ids=["no-message", "flags-no-message", "flags-not-a-list", "bad-date",
        "date-without-zone", "bad-month", "trailing-garbage"])
def test_append_syntax_errors_are_bad(env, parts):
    with env.raw("app") as c:
        before = c.ok(f"STATUS {BOX} (MESSAGES)").statuses()[BOX]["MESSAGES"]
        r = c.cmd_lit(parts)
        assert r.status == "BAD", f"{parts!r}: {r}"
        c.ok("NOOP")
        after = c.ok(f"STATUS {BOX} (MESSAGES)").statuses()[BOX]["MESSAGES"]
        assert after == before, "a refused APPEND stored a message"


def test_append_over_the_size_limit_refused_before_the_literal(env):
    """max_message_size defaults to 25M: a larger APPEND is refused at once,
    without a continuation request, and the session goes on."""
    with env.raw("app") as c:
        c.send(f"t1 APPEND {BOX} {{{26 * 1024 * 1024}}}\r\n")
        r = c.read_response(timeout=5)
        assert r is not None, "no answer to an oversized APPEND within 5s"
        assert not r.startswith(b"+"), "continuation for an oversized APPEND"
        assert r.startswith((b"t1 NO", b"t1 BAD")), r
        c.ok("NOOP")
    env.assert_serves()


def test_append_to_selected_mailbox_reports_exists(env):
    with env.raw("app") as c:
        c.ok("CREATE SelAppend")
        c.append("SelAppend", b"Subject: one\r\n\r\nx\r\n")
        sel = c.select("SelAppend")
        assert sel.exists == 1
        r = c.append("SelAppend", b"Subject: two\r\n\r\nx\r\n")
        exists = r.numbered("EXISTS") or c.ok("NOOP").numbered("EXISTS")
        assert exists and exists[-1] == 2, f"no EXISTS 2 after APPEND: {r}"
        got = c.fetch("2", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert got[2]["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: two\r\n\r\n"


def test_imaplib_append(env):
    m = env.lib("app")
    try:
        assert m.create("LibBox")[0] == "OK"
        data = ROUND_TRIP["eight-bit"]
        when = datetime.datetime(2025, 7, 14, 2, 44, 25,
                                 tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
        typ, resp = m.append("LibBox", "(\\Flagged)", imaplib.Time2Internaldate(when), data)
        assert typ == "OK", resp
        assert b"APPENDUID" in resp[0].upper(), resp
        typ, _ = m.select("LibBox")
        assert typ == "OK"
        typ, got = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert typ == "OK"
        assert got[0][1] == data
        assert b"\\Flagged" in got[0][0]
        when_back = imaplib.Internaldate2tuple(got[0][0])
        assert time.mktime(when_back) == time.mktime(when.astimezone().timetuple()), got[0][0]
    finally:
        m.logout()
