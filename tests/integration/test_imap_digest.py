"""What the IMAP server keeps in memory must answer exactly as the files do.

A worker keeps, per message, a header digest (the fields ENVELOPE and
clients' HEADER.FIELDS and SEARCH keys need), and the ENVELOPE, BODY and
BODYSTRUCTURE strings it made; and it keeps a mailbox loaded after its last
session closed it. The first FETCH or SEARCH over a mailbox reads the files
(and fills the digests), the next ones read the digests. Each test runs in a
folder of its own, filled by COPY (new UIDs: nothing cached yet), so its
first command is served from the files; every later answer must be byte for
byte the same. One worker, so that every session meets the same memory.
"""

import os
import time
from pathlib import Path

import pytest

import imap_helpers as ih

DATA = Path(__file__).resolve().parent / "data" / "imap"
USER = "digest"
SRC = "Source"


def generated():
    """Messages with the header shapes the digest must keep right."""
    out = []
    refs = " ".join(f"<ref.{i}.{'x' * 40}@example.test>" for i in range(200))
    out.append(("References: " + refs + "\r\nSubject: long references\r\n"
                "From: Long <long@example.test>\r\nMessage-ID: <long@x>\r\n"
                "\r\nbody\r\n").encode())            # digest over 8 KiB
    out.append(b"From: a@example.test\r\nSubject: first\r\nSubject: second\r\n"
               b"X-Custom: custom value\r\nCC: \"Grp\" <g@example.org>\r\n"
               b"subject: third lower\r\n\r\ntext\r\n")   # repeated fields
    out.append(b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus\r\n =?ISO-8859-1?Q?K=F6ln?=\r\n"
               b"From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.de>\r\n"
               b"Date: Mon, 23 Nov 2026 08:00:00 +0100\r\n"
               b"To: undisclosed-recipients:;\r\n\r\nHallo\r\n")
    out.append(b"Subject: header only, no body\r\nFrom: h@example.test\r\n")
    out.append(b"From: x@example.test\r\nBad line without colon\r\n"
               b"Subject: after a bad line\r\n\r\n")
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-digest"), users=[USER],
                     workers=1) as e:
        yield e


@pytest.fixture(scope="module")
def source(env):
    """SRC with the four test messages and the generated ones."""
    msgs = [(DATA / f"{n}.eml").read_bytes()
            for n in ("plain", "multipart", "forward", "encoded")]
    msgs += generated()
    with env.raw(USER) as c:
        c.ok(f"CREATE {SRC}")
        for m in msgs:
            c.append(SRC, m)
        c.logout()
    return len(msgs)


_folders = [0]


def fresh_copy(c, n):
    """A new folder holding copies of SRC's messages, selected in C."""
    _folders[0] += 1
    name = f"D{_folders[0]}"
    c.ok(f"CREATE {name}")
    c.select(SRC, examine=True)
    c.ok(f"COPY 1:* {name}")
    assert c.select(name, examine=True).exists == n
    return name


ITEMS = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "(ENVELOPE BODYSTRUCTURE)",
    "(BODY BODYSTRUCTURE ENVELOPE)",
    "ALL",
    "FULL",
    "(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])",
    "(BODY.PEEK[HEADER.FIELDS (subject References)] ENVELOPE)",
    "(BODY.PEEK[HEADER.FIELDS (X-Custom Subject)])",      # X-Custom: not kept
    "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])",
    "(BODY.PEEK[HEADER] ENVELOPE)",
    "(BODYSTRUCTURE BODY.PEEK[1])",
    "(ENVELOPE BODY.PEEK[TEXT])",
    "(BODY.PEEK[HEADER.FIELDS (TO)]<2.10>)",
    "RFC822.HEADER",
]


@pytest.mark.parametrize("items", ITEMS)
def test_fetch_from_memory_is_byte_exact(env, source, items):
    with env.raw(USER) as c:
        fresh_copy(c, source)
        cold = c.cmd(f"FETCH 1:* {items}")
        assert cold.status == "OK", cold
        assert len(cold.fetches()) == source
        for _ in range(2):
            warm = c.cmd(f"FETCH 1:* {items}")
            assert warm.status == "OK", warm
            assert warm.untagged == cold.untagged
        # another session, after this one let the folder go
        name = f"D{_folders[0]}"
        c.logout()
    with env.raw(USER) as c2:
        c2.select(name, examine=True)
        again = c2.cmd(f"FETCH 1:* {items}")
        assert again.untagged == cold.untagged
    env.assert_serves()


def test_items_cached_one_by_one_combine(env, source):
    """Digests made by separate commands serve a command that asks for
    all of them, and the other way round."""
    with env.raw(USER) as c:
        fresh_copy(c, source)
        whole = c.cmd("FETCH 1:* (ENVELOPE BODY BODYSTRUCTURE)")
        fresh_copy(c, source)
        for item in ("BODYSTRUCTURE", "ENVELOPE", "BODY"):
            assert c.cmd(f"FETCH 1:* {item}").status == "OK"
        assert c.cmd("FETCH 1:* (ENVELOPE BODY BODYSTRUCTURE)").untagged == \
            whole.untagged
        fresh_copy(c, source)
        c.cmd("FETCH 1:* (ENVELOPE BODY BODYSTRUCTURE)")
        parts = {i: c.cmd(f"FETCH 1:* {i}").untagged
                 for i in ("ENVELOPE", "BODY", "BODYSTRUCTURE")}
        fresh_copy(c, source)
        for i, want in parts.items():
            assert c.cmd(f"FETCH 1:* {i}").untagged == want


SEARCHES = {
    'SUBJECT "second"': None,
    'SUBJECT "third"': None,            # a later Subject field
    'SUBJECT "grüße aus köln"': None,   # encoded words, folded
    'FROM "jürgen"': None,
    'FROM "long@"': None,
    'CC "grp"': None,
    'TO "bob"': None,
    'HEADER X-Custom "custom"': None,   # not in the digest: from the file
    'HEADER Message-ID "long@x"': None,
    'HEADER References "ref.199"': None,
    'OR SUBJECT "report" FROM "dave"': None,
    'NOT SUBJECT "e"': None,
    'SENTSINCE 23-Nov-2026': None,
    'SENTBEFORE 01-Jan-2026': None,
    'SUBJECT "bad line"': None,
    'SUBJECT "no body"': None,
}


def test_search_from_memory_matches_files(env, source):
    with env.raw(USER) as c:
        fresh_copy(c, source)
        cold = {}
        for q in SEARCHES:
            r = c.cmd(f"SEARCH CHARSET UTF-8 {q}")
            assert r.status == "OK", (q, r)
            cold[q] = r.search()
        for q in SEARCHES:
            assert c.cmd(f"SEARCH CHARSET UTF-8 {q}").search() == cold[q], q
    # what the messages hold, for a few of them
    assert cold['SUBJECT "second"'] == [6]
    assert cold['SUBJECT "third"'] == [6]
    assert cold['SUBJECT "grüße aus köln"'] == [7]
    assert cold['FROM "jürgen"'] == [4, 7]
    assert cold['FROM "long@"'] == [5]
    assert cold['HEADER X-Custom "custom"'] == [6]
    assert cold['HEADER References "ref.199"'] == [5]
    # without a Date field, the internal date (today) counts
    assert cold['SENTSINCE 23-Nov-2026'] == [5, 6, 7, 8, 9]
    assert cold['SUBJECT "bad line"'] == [9]
    assert cold['SUBJECT "no body"'] == [8]


def test_folder_let_go_sees_what_others_did_meanwhile(env, source):
    """A worker keeps a folder loaded after its last session left; what
    happens meanwhile (a file dropped into new/ by another program, flags
    changed on disk, another session's APPEND) shows at the next SELECT."""
    with env.raw(USER) as c:
        name = fresh_copy(c, source)
        c.select(name)
        c.cmd("FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
        c.logout()
    md = env.maildir(USER, name)
    cur = sorted(os.listdir(md / "cur"))
    owner = os.stat(md / "cur")
    first = cur[0]
    base = first.split(":2,")[0]
    os.rename(md / "cur" / first, md / "cur" / (base + ":2,F"))
    dropped = md / "new" / f"{int(time.time())}.M1P1.dropped"
    dropped.write_bytes(b"Subject: dropped meanwhile\r\n\r\nhi\r\n")
    os.chown(dropped, owner.st_uid, owner.st_gid)
    with env.raw(USER) as c:
        sel = c.select(name)
        assert sel.exists == source + 1
        got = c.fetch("1", "FLAGS")[1]["FLAGS"]
        assert "\\Flagged" in got, got
        env_new = c.fetch(str(source + 1), "ENVELOPE")[source + 1]["ENVELOPE"]
        assert env_new[1] == b"dropped meanwhile", env_new
        c.logout()


def test_deleted_and_created_again_is_a_new_folder(env, source):
    with env.raw(USER) as c:
        name = fresh_copy(c, source)
        uv = c.select(name).uidvalidity
        c.cmd("FETCH 1:* ENVELOPE")
        c.ok("UNSELECT")
        c.ok(f"DELETE {name}")
        c.ok(f"CREATE {name}")
        sel = c.select(name)
        assert sel.exists == 0
        assert sel.uidvalidity != uv
        c.append(name, b"Subject: new one\r\n\r\nx\r\n")
        got = c.fetch("1", "ENVELOPE")[1]["ENVELOPE"]
        assert got[1] == b"new one", got
