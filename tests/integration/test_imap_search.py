"""IMAP SEARCH and UID SEARCH (RFC 3501 6.4.4): every search key, OR/NOT
and parenthesised nesting, CHARSET UTF-8 with a non-ASCII subject in a
literal, dates (internal and Date: header, disregarding time and zone),
sizes, header and body text matched case-insensitively, sequence sets
with *, UID sets; BADCHARSET and syntax errors.

The mailbox holds five messages after a sixth was expunged, so sequence
numbers and UIDs differ by one: message n has UID n + 1 (checked).
"""

import pytest

import imap_helpers as ih
from imap_helpers import Lit

BOX = "Searchable"

MESSAGES = [
    # 1
    (b"From: Alice Smith <alice.smith@example.com>\r\n"
     b"To: bob@example.net\r\nCc: carol@example.org\r\n"
     b"Subject: Quarterly Report\r\nDate: Fri, 01 Mar 2024 12:00:00 +0000\r\n"
     b"Message-ID: <s1@example.com>\r\n\r\n"
     b"The numbers look GOOD this quarter.\r\n",
     ["\\Seen", "\\Answered"], "02-Mar-2024 12:00:00 +0000"),
    # 2: the large one
    (b"From: bob@example.net\r\nTo: Alice Smith <alice.smith@example.com>\r\n"
     b"Subject: Re: Quarterly Report\r\nDate: Tue, 05 Mar 2024 12:00:00 +0000\r\n"
     b"X-Priority: 1\r\nMessage-ID: <s2@example.net>\r\n\r\n"
     b"Agreed, the numbers are good.\r\n" + b"padding line\r\n" * 200,
     ["\\Flagged"], "06-Mar-2024 12:00:00 +0000"),
    # 3
    (b"From: news@lists.example.org\r\nTo: alice.smith@example.com\r\n"
     b"Bcc: hidden@example.org\r\nSubject: Weekly newsletter\r\n"
     b"Date: Sun, 10 Mar 2024 12:00:00 +0000\r\nMessage-ID: <s3@example.org>\r\n\r\n"
     b"Unsubscribe here.\r\n",
     ["\\Deleted", "$Newsletter"], "11-Mar-2024 12:00:00 +0000"),
    # 4: "Grüße aus München", body "Schöne Grüße!" in quoted-printable
    (b"From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>\r\nTo: alice@example.test\r\n"
     b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\n"
     b"Date: Fri, 15 Mar 2024 12:00:00 +0000\r\nMessage-ID: <s4@example.de>\r\n"
     b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
     b"Sch=C3=B6ne Gr=C3=BC=C3=9Fe!\r\n",
     ["\\Draft"], "16-Mar-2024 12:00:00 +0000"),
    # 5
    (b"From: carol@example.org\r\nTo: alice@example.test\r\nSubject: Lunch?\r\n"
     b"Date: Wed, 20 Mar 2024 12:00:00 +0000\r\nMessage-ID: <s5@example.org>\r\n\r\n"
     b"Pizza at noon?\r\n",
     ["Work"], "21-Mar-2024 12:00:00 +0000"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-search"),
                     users=["search"]) as e:
        yield e


@pytest.fixture(scope="module")
def filled(env):
    """{"u0": UID of the expunged message, "u1".."u5": UIDs of messages
    1..5}."""
    uids = {}
    with env.raw("search") as c:
        c.ok(f"CREATE {BOX}")
        r = c.append(BOX, b"Subject: expunged\r\n\r\nx\r\n", flags=["\\Deleted"])
        uids["u0"] = int(r.code.split()[2])
        for i, (data, flags, date) in enumerate(MESSAGES, 1):
            r = c.append(BOX, data, flags=flags, date=date)
            uids[f"u{i}"] = int(r.code.split()[2])
        c.select(BOX)
        r = c.ok(f"UID EXPUNGE {uids['u0']}")
        assert r.numbered("EXPUNGE") == [1], r
    assert [uids[f"u{i}"] for i in range(6)] == sorted(uids.values())
    return uids


@pytest.fixture(scope="module")
def reused(env, filled):
    def make():
        c = env.raw("search")
        sel = c.select(BOX)
        assert sel.exists == 5
        return c
    r = ih.Reused(make)
    yield r
    r.close()


@pytest.fixture
def c(reused):
    """A session with the test mailbox selected (shared by the tests)."""
    return reused.get()


def search(c, criteria, uid=False):
    r = c.cmd(f"{'UID ' if uid else ''}SEARCH {criteria}")
    assert r.status == "OK", f"SEARCH {criteria}: {r}"
    return sorted(r.search())


def test_uids_differ_from_sequence_numbers(c, filled):
    assert c.uids() == [filled[f"u{i}"] for i in range(1, 6)]


CASES = [
    ("ALL", [1, 2, 3, 4, 5]),
    # flags
    ("ANSWERED", [1]), ("UNANSWERED", [2, 3, 4, 5]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4, 5]),
    ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]),
    ("FLAGGED", [2]), ("UNFLAGGED", [1, 3, 4, 5]),
    ("SEEN", [1]), ("UNSEEN", [2, 3, 4, 5]),
    ("KEYWORD $Newsletter", [3]), ("KEYWORD Work", [5]),
    ("KEYWORD NotUsedAnywhere", []), ("UNKEYWORD Work", [1, 2, 3, 4]),
    # internal date, disregarding time and zone
    ("BEFORE 06-Mar-2024", [1]), ("ON 06-Mar-2024", [2]),
    ("SINCE 11-Mar-2024", [3, 4, 5]), ("SINCE 22-Mar-2024", []),
    ("BEFORE 1-Jan-2000", []), ("ON 7-Mar-2024", []),
    # Date: header
    ("SENTBEFORE 05-Mar-2024", [1]), ("SENTON 05-Mar-2024", [2]),
    ("SENTSINCE 15-Mar-2024", [4, 5]), ("SENTON 06-Mar-2024", []),
    # sizes (RFC822.SIZE)
    ("LARGER 2000", [2]), ("SMALLER 2000", [1, 3, 4, 5]),
    ("LARGER 100000", []),
    # addresses and subjects, case-insensitive substrings
    ("FROM alice.smith", [1]), ('FROM "SMITH"', [1]), ("FROM bob", [2]),
    ("TO alice.smith@example.com", [2, 3]), ("TO ALICE", [2, 3, 4, 5]),
    ("CC carol", [1]), ("BCC hidden", [3]), ("BCC nobody", []),
    ("SUBJECT quarterly", [1, 2]), ('SUBJECT "re: quarterly"', [2]),
    ('SUBJECT "lunch?"', [5]),
    # any header
    ("HEADER X-Priority 1", [2]), ('HEADER X-Priority ""', [2]),
    ('HEADER x-priority ""', [2]), ("HEADER Message-ID s3@", [3]),
    ("HEADER X-Missing foo", []),
    # body and whole text
    ("BODY numbers", [1, 2]), ("BODY good", [1, 2]), ("BODY GOOD", [1, 2]),
    ("BODY newsletter", []), ("TEXT newsletter", [3]),
    ("TEXT unsubscribe", [3]), ("TEXT PIZZA", [5]),
    # sequence sets
    ("1", [1]), ("2:4", [2, 3, 4]), ("4:*", [4, 5]), ("*", [5]),
    ("*:4", [4, 5]), ("1,3,5", [1, 3, 5]), ("1,3,5 SEEN", [1]),
    # UID sets ({uN}: the UID of message N, u0 expunged)
    ("UID {u1}", [1]), ("UID {u3}:*", [3, 4, 5]), ("UID {u0}", []),
    ("UID {u0},{u2}", [2]), ("UID 100000:*", [5]), ("NOT UID {u2}:{u4}", [1, 5]),
    # implicit AND, OR, NOT, parentheses, nesting
    ("FROM bob FLAGGED", [2]), ("FROM bob SEEN", []),
    ("OR FLAGGED DRAFT", [2, 4]), ("NOT SEEN", [2, 3, 4, 5]),
    ("NOT NOT SEEN", [1]), ("OR SEEN OR FLAGGED DRAFT", [1, 2, 4]),
    ("(FROM alice.smith SUBJECT report)", [1]),
    ("OR (FROM bob SUBJECT lunch) NOT (OR SEEN FLAGGED)", [3, 4, 5]),
    ("OR FROM bob SUBJECT lunch NOT (OR SEEN FLAGGED)", [5]),
    ("NOT (OR (OR SEEN FLAGGED) DELETED)", [4, 5]),
    ("OR (SINCE 15-Mar-2024 KEYWORD Work) (BEFORE 3-Mar-2024 ANSWERED)", [1, 5]),
    ("((((SEEN))))", [1]),
    ("NOT 2:4", [1, 5]), ("OR 1 5 UNSEEN", [5]),
    ("CHARSET US-ASCII SUBJECT report", [1, 2]),
    ("CHARSET UTF-8 SUBJECT report", [1, 2]),
]


@pytest.mark.parametrize("criteria,want", CASES, ids=[x for x, _ in CASES])
def test_search(c, filled, criteria, want):
    assert search(c, criteria.format(**filled)) == want


@pytest.mark.parametrize("criteria,want", [
    ("ALL", [1, 2, 3, 4, 5]), ("SEEN", [1]), ("UID {u3}:*", [3, 4, 5]),
    ("2:3", [2, 3]), ("*", [5]), ("SUBJECT quarterly", [1, 2]),
    ("NOT UID {u2}:{u4}", [1, 5]),
])
def test_uid_search_returns_uids(c, filled, criteria, want):
    """WANT in sequence numbers; UID SEARCH answers with their UIDs."""
    assert search(c, criteria.format(**filled), uid=True) == \
        [filled[f"u{n}"] for n in want]


def test_charset_utf8_non_ascii_subject(c):
    for text in ("Grüße", "München", "münchen", "aus Mü"):
        r = c.cmd_lit(["SEARCH CHARSET UTF-8 SUBJECT ", Lit(text.encode())])
        assert r.status == "OK", r
        assert r.search() == [4], f"SUBJECT {text!r}: {r}"
    r = c.cmd_lit(["UID SEARCH CHARSET UTF-8 SUBJECT ", Lit("Grüße".encode(), sync=False)])
    assert r.status == "OK" and r.search() == [c.uids()[3]], r
    r = c.cmd_lit(["SEARCH CHARSET UTF-8 SUBJECT ", Lit("Grüßli".encode())])
    assert r.status == "OK" and r.search() == [], r


def test_search_string_as_literal(c):
    r = c.cmd_lit(["SEARCH SUBJECT ", Lit(b"Quarterly"), " FROM ", Lit(b"bob")])
    assert r.status == "OK" and r.search() == [2], r


def test_unknown_charset_is_no_badcharset(c):
    r = c.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT report")
    assert r.status == "NO", f"unknown charset: {r}"
    assert r.codename == "BADCHARSET", f"no [BADCHARSET]: {r}"
    c.ok("NOOP")


@pytest.mark.parametrize("criteria", [
    "", "NOT-A-KEY", "FROM", "OR SEEN", "NOT", "BEFORE",
    "BEFORE 2024-03-01", "SINCE 1-Foo-2024", "LARGER", "LARGER big",
    "SMALLER -5", "HEADER X-Priority", "KEYWORD", "UID", "UID x",
    "(SEEN", "SEEN)", "()", "0", "1:x", "CHARSET", "SEEN extra-garbage",
])
def test_search_syntax_errors_are_bad(c, criteria):
    r = c.cmd(f"SEARCH {criteria}".rstrip())
    assert r.status == "BAD", f"SEARCH {criteria!r}: {r}"


def test_search_in_examined_mailbox(env, filled):
    with env.raw("search") as c:
        c.select(BOX, examine=True)
        assert search(c, "OR SEEN DRAFT") == [1, 4]


def test_recent_new_old(env):
    with env.raw("search") as a:
        a.ok("CREATE Fresh")
        a.append("Fresh", b"Subject: r1\r\n\r\nx\r\n", flags=["\\Seen"])
        a.append("Fresh", b"Subject: r2\r\n\r\nx\r\n")
        sel = a.select("Fresh")
        assert sel.recent == 2
        assert search(a, "RECENT") == [1, 2]
        assert search(a, "NEW") == [2]            # RECENT UNSEEN
        assert search(a, "OLD") == []
        with env.raw("search") as b:
            sel = b.select("Fresh")
            assert sel.recent == 0, "\\Recent given to a second session"
            assert search(b, "RECENT") == []
            assert search(b, "NEW") == []
            assert search(b, "OLD") == [1, 2]
        assert search(a, "RECENT") == [1, 2]


def test_imaplib_search(env, filled):
    m = env.lib("search")
    try:
        typ, _ = m.select(BOX, readonly=True)
        assert typ == "OK"
        typ, data = m.search(None, "OR", "FLAGGED", "DRAFT")
        assert typ == "OK" and sorted(int(x) for x in data[0].split()) == [2, 4], data
        typ, data = m.uid("SEARCH", "SUBJECT", "quarterly")
        assert typ == "OK" and sorted(int(x) for x in data[0].split()) == [2, 3], data
        m.literal = "Grüße".encode()
        typ, data = m.search("UTF-8", "SUBJECT")
        assert typ == "OK" and data[0].split() == [b"4"], data
    finally:
        m.logout()
