"""IMAP FETCH (RFC 3501 6.4.5, 7.4.2) on four real messages from
data/imap/: a plain text one with a folded header (plain.eml), a
multipart/mixed holding a multipart/alternative and a PDF attachment
(multipart.eml), a forward with a message/rfc822 inside (forward.eml) and
one with encoded-word headers and a quoted-printable body (encoded.eml).

The ENVELOPE and BODYSTRUCTURE strings below are derived by hand from RFC
3501 7.4.2 and the messages (sizes in octets, lines counted as CRLFs; the
CRLF before a boundary belongs to the boundary, RFC 2046 5.1.1). They are
compared after imap_helpers.norm_body/norm_envelope, which only forgive
what RFC 3501 leaves open (case of type and parameter names, strings sent
as literals, trailing NIL extension fields left out).
"""

from pathlib import Path

import pytest

import imap_helpers as ih

DATA = Path(__file__).resolve().parent / "data" / "imap"
NAMES = ("plain", "multipart", "forward", "encoded")
MSG = {n: (DATA / f"{n}.eml").read_bytes() for n in NAMES}
SEQ = {n: i + 1 for i, n in enumerate(NAMES)}       # order of APPEND
DATES = {"plain": "01-Jul-2025 10:20:31 +0200",
         "multipart": "02-Jul-2025 08:00:05 -0500",
         "forward": "04-Jul-2025 00:00:10 +0000",
         "encoded": "04-Jul-2025 09:15:02 +0200"}
BOX = "Fetch"


def header_of(m):
    return m[:m.index(b"\r\n\r\n") + 4]


def text_of(m):
    return m[m.index(b"\r\n\r\n") + 4:]


ENVELOPE = {
    "plain": '("Tue, 01 Jul 2025 10:20:30 +0200" "Plain hello" '
             '(("Alice Example" NIL "alice" "example.test")) '
             '(("Alice Example" NIL "alice" "example.test")) '
             '(("Alice Example" NIL "alice" "example.test")) '
             '(("Bob" NIL "bob" "example.test")(NIL NIL "carol" "example.org")) '
             '(("Doe, John" NIL "john.doe" "example.net")) NIL '
             '"<parent.0@example.test>" "<plain.1@example.test>")',
    # Sender and Reply-To given: not copied from From
    "multipart": '("Wed, 02 Jul 2025 08:00:00 -0500" "Report attached" '
                 '(("Carol Q. Sender" NIL "carol" "example.org")) '
                 '((NIL NIL "secretary" "example.org")) '
                 '((NIL NIL "replies" "example.org")) '
                 '((NIL NIL "alice" "example.test")) NIL '
                 '((NIL NIL "hidden" "example.net")) NIL "<multi.2@example.org>")',
    # an empty group: start (group name in the mailbox field, host NIL),
    # then the end marker
    "forward": '("Thu, 03 Jul 2025 23:59:59 +0000" "Fwd: Original" '
               '(("Dave" NIL "dave" "example.net")) '
               '(("Dave" NIL "dave" "example.net")) '
               '(("Dave" NIL "dave" "example.net")) '
               '((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL)) '
               'NIL NIL NIL "<fwd.3@example.net>")',
    # encoded words are returned as they are, not decoded
    "encoded": '("Fri, 04 Jul 2025 09:15:00 +0200" '
               '"=?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=" '
               '(("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=" NIL "juergen" "example.de")) '
               '(("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=" NIL "juergen" "example.de")) '
               '(("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=" NIL "juergen" "example.de")) '
               '(("=?ISO-8859-1?Q?Andr=E9?=" NIL "andre" "example.fr")) '
               'NIL NIL NIL "<enc.4@example.de>")',
}

INNER_ENVELOPE = ('("Mon, 30 Jun 2025 12:00:00 +0100" "Original" '
                  '(("Erin" NIL "erin" "example.com")) '
                  '(("Erin" NIL "erin" "example.com")) '
                  '(("Erin" NIL "erin" "example.com")) '
                  '((NIL NIL "dave" "example.net")) NIL NIL NIL '
                  '"<orig.0@example.com>")')

BODYSTRUCTURE = {
    # no Content-Type: text/plain; charset=us-ascii, 7bit (RFC 2045 5.2)
    "plain": '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 38 2 NIL NIL NIL NIL)',
    "multipart":
        '((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 25 1 NIL NIL NIL NIL)'
        '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 39 1 NIL NIL NIL NIL)'
        ' "ALTERNATIVE" ("BOUNDARY" "inner-b") NIL NIL NIL)'
        '("APPLICATION" "PDF" ("NAME" "report.pdf") "<part3.pdf@example.org>" '
        '"Quarterly report" "BASE64" 74 NIL ("ATTACHMENT" ("FILENAME" "report.pdf")) NIL NIL)'
        ' "MIXED" ("BOUNDARY" "outer-b") NIL NIL NIL)',
    "forward":
        '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)'
        '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 175 ' + INNER_ENVELOPE +
        ' ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 28 2 NIL NIL NIL NIL)'
        ' 8 NIL ("INLINE" NIL) NIL NIL)'
        ' "MIXED" ("BOUNDARY" "fwd") NIL NIL NIL)',
    "encoded": '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 30 1 NIL NIL NIL NIL)',
}

# BODY: the same without extension data
BODY = {
    "plain": '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 38 2)',
    "multipart":
        '((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 25 1)'
        '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 39 1) "ALTERNATIVE")'
        '("APPLICATION" "PDF" ("NAME" "report.pdf") "<part3.pdf@example.org>" '
        '"Quarterly report" "BASE64" 74) "MIXED")',
    "forward":
        '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 1)'
        '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 175 ' + INNER_ENVELOPE +
        ' ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 28 2) 8) "MIXED")',
    "encoded": '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 30 1)',
}


def _between(m, start, end):
    i = m.index(start) + len(start)
    return m[i:m.index(end, i)]


M, F = MSG["multipart"], MSG["forward"]
INNER = _between(F, b"Content-Disposition: inline\r\n\r\n", b"\r\n--fwd--")

# (message, section, expected octets)
SECTIONS = [
    ("plain", "", MSG["plain"]),
    ("plain", "HEADER", header_of(MSG["plain"])),
    ("plain", "TEXT", b"Hello Bob,\r\nthis is a plain message.\r\n"),
    ("plain", "1", b"Hello Bob,\r\nthis is a plain message.\r\n"),
    ("plain", "HEADER.FIELDS (FROM SUBJECT)",
     b"From: Alice Example <alice@example.test>\r\nSubject: Plain hello\r\n\r\n"),
    ("plain", "HEADER.FIELDS (subject from)",
     b"From: Alice Example <alice@example.test>\r\nSubject: Plain hello\r\n\r\n"),
    ("plain", "HEADER.FIELDS (X-FOLDED)",
     b"X-Folded: first part\r\n second part\r\n\tthird part\r\n\r\n"),
    ("plain", "HEADER.FIELDS (X-NOT-THERE)", b"\r\n"),
    ("plain", "HEADER.FIELDS.NOT (FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO)",
     b"X-Folded: first part\r\n second part\r\n\tthird part\r\n\r\n"),
    ("multipart", "TEXT", text_of(M)),
    ("multipart", "HEADER.FIELDS (CONTENT-TYPE MIME-VERSION)",
     b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer-b"\r\n\r\n'),
    ("multipart", "1", _between(M, b'boundary="inner-b"\r\n\r\n', b"\r\n--outer-b")),
    ("multipart", "1.MIME", b'Content-Type: multipart/alternative; boundary="inner-b"\r\n\r\n'),
    ("multipart", "1.1", b"The report is attached.\r\n"),
    ("multipart", "1.1.MIME",
     b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"),
    ("multipart", "1.2", b"<p>The report is <b>attached</b>.</p>\r\n"),
    ("multipart", "1.2.MIME",
     b"Content-Type: text/html; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"),
    ("multipart", "2",
     b"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\r\n"),
    ("multipart", "2.MIME",
     b'Content-Type: application/pdf; name="report.pdf"\r\n'
     b'Content-Disposition: attachment; filename="report.pdf"\r\n'
     b"Content-Transfer-Encoding: base64\r\n"
     b"Content-ID: <part3.pdf@example.org>\r\n"
     b"Content-Description: Quarterly report\r\n\r\n"),
    ("forward", "1", b"See below.\r\n"),
    ("forward", "2", INNER),
    ("forward", "2.MIME", b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"),
    ("forward", "2.HEADER", header_of(INNER)),
    ("forward", "2.TEXT", b"Original text,\r\ntwo lines.\r\n"),
    ("forward", "2.1", b"Original text,\r\ntwo lines.\r\n"),
    ("forward", "2.HEADER.FIELDS (SUBJECT)", b"Subject: Original\r\n\r\n"),
    ("forward", "2.HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID)", b"Subject: Original\r\n\r\n"),
    ("encoded", "TEXT", b"Sch=C3=B6ne Gr=C3=BC=C3=9Fe!\r\n"),
    ("encoded", "1", b"Sch=C3=B6ne Gr=C3=BC=C3=9Fe!\r\n"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-fetch"), users=["fetch"]) as e:
        yield e


@pytest.fixture(scope="module")
def box(env):
    """Folder Fetch with the four messages in NAMES order; {name: uid}."""
    for n, m in MSG.items():
        assert b"\n" not in m.replace(b"\r\n", b""), f"{n}.eml lost its CRLFs"
    uids = {}
    with env.raw("fetch") as c:
        c.ok(f"CREATE {BOX}")
        for n in NAMES:
            r = c.append(BOX, MSG[n], date=DATES[n])
            assert r.codename == "APPENDUID", r
            uids[n] = int(r.code.split()[2])
    return uids


@pytest.fixture(scope="module")
def reused(env, box):
    def make():
        c = env.raw("fetch")
        sel = c.select(BOX, examine=True)
        assert sel.exists == len(NAMES)
        return c
    r = ih.Reused(make)
    yield r
    r.close()


@pytest.fixture
def ro(reused):
    """A session with Fetch EXAMINEd (read-only: nothing gets \\Seen)."""
    return reused.get()


def one(c, name, items):
    got = c.fetch(SEQ[name], items)
    assert list(got) == [SEQ[name]], got
    return got[SEQ[name]]


def expect_structure(actual, text, norm):
    want = ih.parse(text)
    assert len(want) == 1
    assert norm(actual) == norm(want[0]), (
        f"\n got:  {norm(actual)!r}\n want: {norm(want[0])!r}")


# ---------------------------------------------------------------- structures

@pytest.mark.parametrize("name", NAMES)
def test_envelope(ro, name):
    got = one(ro, name, "ENVELOPE")
    expect_structure(got["ENVELOPE"], ENVELOPE[name], ih.norm_envelope)


@pytest.mark.parametrize("name", NAMES)
def test_bodystructure(ro, name):
    got = one(ro, name, "BODYSTRUCTURE")
    expect_structure(got["BODYSTRUCTURE"], BODYSTRUCTURE[name], ih.norm_body)


@pytest.mark.parametrize("name", NAMES)
def test_body_without_extension_data(ro, name):
    got = one(ro, name, "BODY")
    expect_structure(got["BODY"], BODY[name], ih.norm_body)


# ---------------------------------------------------------------- sections

@pytest.mark.parametrize("name,section,want", SECTIONS,
                         ids=[f"{n}-{s or 'all'}" for n, s, _ in SECTIONS])
def test_body_section(ro, name, section, want):
    got = one(ro, name, f"BODY.PEEK[{section}]")
    key = ih.item_key(f"BODY[{section}]")
    assert key in got, f"no {key} in {list(got)}"
    assert got[key] == want, f"BODY[{section}] of {name}:\n got {got[key]!r}\nwant {want!r}"


def test_several_sections_in_one_fetch(ro):
    got = one(ro, "multipart", "(UID BODY.PEEK[1.1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert got["BODY[1.1]"] == b"The report is attached.\r\n"
    assert got["BODY[2.MIME]"].startswith(b"Content-Type: application/pdf")
    assert got["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: Report attached\r\n\r\n"
    assert "UID" in got


@pytest.mark.parametrize("item,key,want", [
    ("BODY.PEEK[]<0.20>", "BODY[]<0>", MSG["plain"][:20]),
    ("BODY.PEEK[TEXT]<6.3>", "BODY[TEXT]<6>", b"Bob"),
    ("BODY.PEEK[]<340.100>", "BODY[]<340>", MSG["plain"][340:]),
    ("BODY.PEEK[]<353.10>", "BODY[]<353>", b""),
    ("BODY.PEEK[]<100000.10>", "BODY[]<100000>", b""),
    ("BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.7>", "BODY[HEADER.FIELDS (SUBJECT)]<0>", b"Subject"),
    ("BODY.PEEK[1]<0.5>", "BODY[1]<0>", b"Hello"),
])
def test_partial(ro, item, key, want):
    got = one(ro, "plain", item)
    assert key in got, f"no {key} in {list(got)}"
    assert got[key] == want, (item, got[key])


def test_partial_of_a_nested_part(ro):
    got = one(ro, "multipart", "BODY.PEEK[1.1]<4.6>")
    assert got["BODY[1.1]<4>"] == b"report"


def test_missing_part_is_not_a_syntax_error(ro, env):
    r = ro.cmd(f"FETCH {SEQ['plain']} BODY.PEEK[7.3]")
    assert r.status in ("OK", "NO"), r
    if r.status == "OK":
        for _, d in r.fetches():
            v = d.get("BODY[7.3]")
            assert v in (None, b""), d
    env.assert_serves()


# ---------------------------------------------------------------- other items

@pytest.mark.parametrize("name", NAMES)
def test_rfc822_items_and_size(ro, name):
    got = one(ro, name, "(RFC822.SIZE RFC822.HEADER RFC822.TEXT RFC822 BODY.PEEK[])")
    m = MSG[name]
    assert got["RFC822"] == m
    assert got["BODY[]"] == m
    assert got["RFC822.HEADER"] == header_of(m)
    assert got["RFC822.TEXT"] == text_of(m)
    assert int(got["RFC822.SIZE"]) == len(m) == len(got["BODY[]"])


@pytest.mark.parametrize("name", NAMES)
def test_internaldate_as_appended(ro, name):
    got = one(ro, name, "INTERNALDATE")
    assert ih.parse_internaldate(got["INTERNALDATE"]) == \
        ih.parse_internaldate(DATES[name]), got


def test_macros(ro):
    seq = SEQ["plain"]
    all_ = ro.fetch(seq, "ALL")[seq]
    assert set(all_) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}, all_
    fast = ro.fetch(seq, "FAST")[seq]
    assert set(fast) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}, fast
    full = ro.fetch(seq, "FULL")[seq]
    assert set(full) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}, full
    expect_structure(full["BODY"], BODY["plain"], ih.norm_body)
    expect_structure(all_["ENVELOPE"], ENVELOPE["plain"], ih.norm_envelope)
    assert int(fast["RFC822.SIZE"]) == len(MSG["plain"])


def test_fetch_all_messages_and_flags_item(ro, box):
    got = ro.fetch("1:*", "(UID FLAGS RFC822.SIZE)")
    assert sorted(got) == [1, 2, 3, 4], got
    for n in NAMES:
        d = got[SEQ[n]]
        assert int(d["UID"]) == box[n]
        assert int(d["RFC822.SIZE"]) == len(MSG[n])
        assert "\\seen" not in ih.flagset(d["FLAGS"])


# ---------------------------------------------------------------- sequence sets, UID FETCH

def test_sequence_sets_with_star(ro):
    assert sorted(ro.fetch("*", "UID")) == [4]
    assert sorted(ro.fetch("3:*", "UID")) == [3, 4]
    assert sorted(ro.fetch("*:3", "UID")) == [3, 4]
    assert sorted(ro.fetch("1,3", "UID")) == [1, 3]
    assert sorted(ro.fetch("1:2,4", "UID")) == [1, 2, 4]
    assert sorted(ro.fetch("2,1:2,2", "UID")) == [1, 2]


def test_uid_fetch(ro, box):
    uid = box["forward"]
    got = ro.fetch(uid, "FLAGS", uid=True)
    assert list(got) == [SEQ["forward"]], got
    # RFC 3501 6.4.8: UID is in every FETCH response of a UID command
    assert int(got[SEQ["forward"]]["UID"]) == uid, got
    # UIDs that do not exist are ignored without an error
    big = max(box.values())
    r = ro.cmd(f"UID FETCH {big + 100},{big + 200} FLAGS")
    assert r.status == "OK" and r.fetches() == [], r
    # n:* with n above the highest UID still means the last message
    got = ro.fetch(f"{big + 100}:*", "UID", uid=True)
    assert list(got) == [len(NAMES)], got
    assert int(got[len(NAMES)]["UID"]) == big
    got = ro.fetch(f"{box['multipart']}:{box['forward']}", "RFC822.SIZE", uid=True)
    assert sorted(got) == [2, 3] and all("UID" in v for v in got.values()), got


@pytest.mark.parametrize("line", [
    "FETCH 0 FLAGS",
    "FETCH 1 NOT-AN-ITEM",
    "FETCH 1 (FLAGS",
    "FETCH 1 FLAGS)",
    "FETCH 1",
    "FETCH FLAGS",
    "FETCH 1:x FLAGS",
    "FETCH 1 BODY[HEADER.FIELDS]",
    "FETCH 1 BODY[HEADER.FIELDS ()]",
    "FETCH 1 BODY[NOT-A-SECTION]",
    "FETCH 1 BODY[]<5.>",
    "FETCH 1 BODY[]<x.5>",
    "FETCH 1 BODY.PEEK",
    "UID FETCH 0 FLAGS",
    "UID FETCH x FLAGS",
])
def test_fetch_syntax_errors_are_bad(ro, line):
    r = ro.cmd(line)
    assert r.status == "BAD", f"{line!r}: {r}"


# ---------------------------------------------------------------- \Seen

def fresh_folder(c, name, messages=("plain",)):
    c.ok(f"CREATE {name}")
    for m in messages:
        c.append(name, MSG[m])
    sel = c.select(name)
    assert sel.exists == len(messages)


def seen(c, seq=1):
    return "\\seen" in ih.flagset(c.fetch(seq, "FLAGS")[seq]["FLAGS"])


def test_peek_items_do_not_set_seen(env, box):
    with env.raw("fetch") as c:
        fresh_folder(c, "Peek")
        for item in ("BODY.PEEK[]", "BODY.PEEK[TEXT]", "BODY.PEEK[HEADER]",
                     "BODY.PEEK[1]", "BODY.PEEK[]<0.10>", "RFC822.HEADER",
                     "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY",
                     "INTERNALDATE", "ALL", "FULL"):
            c.fetch(1, item)
            assert not seen(c), f"FETCH {item} set \\Seen"


@pytest.mark.parametrize("item", ["BODY[]", "BODY[HEADER]", "BODY[TEXT]",
                                  "BODY[1]", "BODY[]<0.10>", "RFC822",
                                  "RFC822.TEXT"])
def test_non_peek_items_set_seen(env, box, item):
    folder = "Seen" + "".join(ch for ch in item if ch.isalnum())
    with env.raw("fetch") as c:
        fresh_folder(c, folder)
        assert not seen(c)
        r = c.cmd(f"FETCH 1 {item}")
        assert r.status == "OK", r
        assert seen(c), f"FETCH {item} did not set \\Seen"
        # and it stays set in another session
        with env.raw("fetch") as d:
            st = d.ok(f"STATUS {folder} (UNSEEN)").statuses()[folder]
            assert st["UNSEEN"] == 0, st


def test_examine_never_sets_seen(env, box):
    with env.raw("fetch") as c:
        c.ok("CREATE Examined")
        c.append("Examined", MSG["plain"])
        c.select("Examined", examine=True)
        got = c.fetch(1, "(BODY[] RFC822.TEXT FLAGS)")[1]
        assert got["BODY[]"] == MSG["plain"]
        assert not seen(c)
        st = c.ok("STATUS Examined (UNSEEN)").statuses()["Examined"]
        assert st["UNSEEN"] == 1, st


# ---------------------------------------------------------------- imaplib

def test_imaplib_fetch(env, box):
    m = env.lib("fetch")
    try:
        typ, data = m.select(BOX, readonly=True)
        assert typ == "OK" and data == [b"4"], data
        typ, data = m.fetch("1:4", "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        bodies = [d[1] for d in data if isinstance(d, tuple)]
        assert bodies == [MSG[n] for n in NAMES]
        typ, data = m.uid("FETCH", str(box["encoded"]), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and data[0][1] == \
            b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\n\r\n", data
    finally:
        m.logout()
