"""Edges of the IMAP message commands (FETCH, STORE, COPY, MOVE, SEARCH)
that the per-command test files do not reach:

- FETCH of big messages to a client that reads slowly: the server stops
  producing while its output is full and goes on when it drains; every
  octet arrives, in order (literals sent from the mapped file);
- a message with bare LF line ends is served with CRLF, RFC822.SIZE
  counting the CRs;
- FETCH of thousands of messages in one command;
- \\Seen set by a body fetch comes with FLAGS in the same response;
- messages expunged by another session while this one still numbers
  them: FETCH answers the others and ends NO [EXPUNGEISSUE], UID FETCH
  ends OK with the EXPUNGE before its tagged reply, STORE likewise,
  SEARCH never matches them;
- COPYUID too long for the tagged reply goes out untagged before it;
- MOVE: "* OK [COPYUID ...]", then the EXPUNGEs, then the tagged OK
  (RFC 6851 4.3);
- SEARCH BODY and TEXT over thousands of messages, in base64 and
  quoted-printable text parts and encoded headers, but not inside
  attachments that are not text.
"""

import os
import re
import time

import pytest

import imap_helpers as ih

USER = "edges"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-edges"),
                     users=[USER, "edges2"]) as e:
        yield e


def big_message(i, size):
    """A message of about SIZE octets whose lines say where they are."""
    head = (f"From: a@example.org\r\nSubject: big {i}\r\n"
            f"Message-ID: <big{i}@example.org>\r\n\r\n").encode()
    lines = []
    n = 0
    while n < size:
        line = f"message {i} line {len(lines):07d} " + "x" * 40 + "\r\n"
        lines.append(line)
        n += len(line)
    return head + "".join(lines).encode()


def fill_by_drop(env, box, messages):
    """Put MESSAGES into BOX's new/ directly (as another delivery agent
    would); the server gives them UIDs in file name order."""
    root = env.maildir(USER, box)
    for i, m in enumerate(messages):
        ih.drop_into_new(root, m, name=f"1700000000.M{i:06d}P1.drop")


def read_slowly(c, tag, pause=1.0):
    """Wait PAUSE seconds before reading anything (the server's output
    fills), then read TAG's reply."""
    time.sleep(pause)
    return c.wait(tag)


# ---------------------------------------------------------------- FETCH

@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_big_literals_to_a_slow_reader_arrive_whole(env, tls):
    msgs = [big_message(i, 2 << 20) for i in range(4)]
    box = "BigTLS" if tls else "Big"
    with env.raw(USER, tls=tls) as c:
        c.ok(f"CREATE {box}")
        for m in msgs:
            c.append(box, m)
        c.select(box, examine=True)
        tag = c.next_tag()
        c.send(f"{tag} FETCH 1:* (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT]<5.100000>)\r\n")
        r = read_slowly(c, tag)
        assert r.status == "OK", r
        got = dict(r.fetches())
        assert sorted(got) == [1, 2, 3, 4]
        for i, m in enumerate(msgs, 1):
            assert got[i]["BODY[]"] == m, f"message {i} differs"
            text = m[m.index(b"\r\n\r\n") + 4:]
            assert got[i]["BODY[TEXT]<5>"] == text[5:100005]
            assert int(got[i]["RFC822.SIZE"]) == len(m)
    env.assert_serves()


def open_message_files(env, box):
    """Open file descriptors of the server's processes on files of BOX
    (the mailbox's cur/ and new/)."""
    import conftest as cf
    root = str(env.maildir(USER, box))
    procs = [env.server.proc.pid]
    i = 0
    while i < len(procs):
        procs += cf.children_of(procs[i])
        i += 1
    n = 0
    for p in procs:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(root + "/cur/") or \
                    target.startswith(root + "/new/"):
                n += 1
    return n


def test_client_gone_in_the_middle_of_a_big_fetch(env):
    """The session ends while FETCH waits for its output to drain: the
    messages the output still refers to are released (each holds its
    file open until then)."""
    msgs = [big_message(i, 1 << 20) for i in range(6)]
    with env.raw(USER) as c:
        c.ok("CREATE BigGone")
        for m in msgs:
            c.append("BigGone", m)
    clients = []
    for _ in range(3):
        c = env.raw(USER)
        c.select("BigGone", examine=True)
        c.send("t1 FETCH 1:* BODY.PEEK[]\r\n")
        clients.append(c)
    time.sleep(0.5)
    # waiting for the clients to read: the output holds messages
    assert open_message_files(env, "BigGone") > 0
    for c in clients:
        c.sock.recv(1000)
        c.close()
    deadline = time.monotonic() + 5
    while open_message_files(env, "BigGone") > 0 and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_message_files(env, "BigGone") == 0
    env.assert_serves()


def test_bare_lf_message_is_served_with_crlf(env):
    lf = (b"From: lf@example.org\nSubject: bare LF\n\n" +
          b"line with a bare LF\n" * 5000)
    crlf = lf.replace(b"\n", b"\r\n")
    with env.raw(USER) as c:
        c.ok("CREATE BareLF")
        fill_by_drop(env, "BareLF", [lf])
        c.select("BareLF", examine=True)
        got = c.fetch(1, "(RFC822.SIZE BODY.PEEK[] BODY.PEEK[HEADER] RFC822.TEXT)")[1]
        assert got["BODY[]"] == crlf
        assert int(got["RFC822.SIZE"]) == len(crlf)
        assert got["BODY[HEADER]"] == b"From: lf@example.org\r\nSubject: bare LF\r\n\r\n"
        assert got["RFC822.TEXT"] == b"line with a bare LF\r\n" * 5000


def test_fetch_thousands_of_messages_in_one_command(env):
    n = 3000
    msgs = [(f"From: n{i}@example.org\r\nSubject: number {i}\r\n\r\n"
             f"body {i}\r\n").encode() for i in range(n)]
    with env.raw(USER) as c:
        c.ok("CREATE Many")
        fill_by_drop(env, "Many", msgs)
        sel = c.select("Many", examine=True)
        assert sel.exists == n
        tag = c.next_tag()
        c.send(f"{tag} FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE "
               f"BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)\r\n")
        r = read_slowly(c, tag, pause=0.5)
        assert r.status == "OK", r
        got = r.fetches()
        assert [s for s, _ in got] == list(range(1, n + 1))
        for s, d in got:
            m = msgs[s - 1]
            assert int(d["RFC822.SIZE"]) == len(m)
            assert d["BODY[HEADER.FIELDS (SUBJECT)]"] == \
                f"Subject: number {s - 1}\r\n\r\n".encode()
            assert ih.s(d["ENVELOPE"][1]) == f"number {s - 1}"
        uids = [int(d["UID"]) for _, d in got]
        assert uids == sorted(uids) and len(set(uids)) == n


def test_seen_from_a_body_fetch_comes_with_flags(env):
    m = b"From: a@example.org\r\nSubject: seen\r\n\r\nbody\r\n"
    with env.raw(USER) as c:
        c.ok("CREATE SeenFlags")
        c.append("SeenFlags", m)
        c.append("SeenFlags", m)
        c.append("SeenFlags", m, flags=["\\Seen"])
        c.select("SeenFlags")
        r = c.ok("FETCH 1:3 BODY[TEXT]")
        got = dict(r.fetches())
        # \Seen newly set: FLAGS without being asked (RFC 3501 6.4.5)
        for s in (1, 2):
            assert "\\seen" in ih.flagset(got[s].get("FLAGS")), r
            assert got[s]["BODY[TEXT]"] == b"body\r\n"
        # already \Seen: nothing changed, no FLAGS
        assert "FLAGS" not in got[3], r
        # the second time nothing changes
        r = c.ok("FETCH 1 RFC822")
        assert "FLAGS" not in dict(r.fetches())[1], r
        # asked for FLAGS as well: once, with \Seen
        c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
        r = c.ok("UID FETCH 1:* (FLAGS BODY[HEADER])")
        for u in r.untagged:
            assert u.count(b"FLAGS") == 1, u
        got = dict(r.fetches())
        assert "\\seen" in ih.flagset(got[1]["FLAGS"]) and "UID" in got[1]


# ---------------------------------------------------------------- expunged meanwhile

def three(env, c, box):
    c.ok(f"CREATE {box}")
    for i in range(3):
        c.append(box, f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
    return c.select(box)


def expunge_second(env, box):
    with env.raw(USER) as d:
        d.select(box)
        d.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        assert d.ok("EXPUNGE").numbered("EXPUNGE") == [2]


def test_fetch_of_expunged_message(env):
    with env.raw(USER) as c:
        three(env, c, "GoneFetch")
        uids = c.uids()
        expunge_second(env, "GoneFetch")
        r = c.cmd("FETCH 1:3 (UID BODY.PEEK[TEXT])")
        assert r.status == "NO" and r.codename == "EXPUNGEISSUE", r
        got = dict(r.fetches())
        assert sorted(got) == [1, 3], r
        assert got[3]["BODY[TEXT]"] == b"body 2\r\n"
        assert not r.numbered("EXPUNGE"), r
        # UID FETCH may report the expunge, and so ends OK
        r = c.cmd("UID FETCH 1:* (BODY.PEEK[TEXT])")
        assert r.status == "OK", r
        assert sorted(int(d["UID"]) for _, d in r.fetches()) == [uids[0], uids[2]]
        assert r.numbered("EXPUNGE") == [2], r
        assert r.untagged[-1] == b"* 2 EXPUNGE", r
        assert c.uids() == [uids[0], uids[2]]


def test_store_and_search_of_expunged_message(env):
    with env.raw(USER) as c:
        three(env, c, "GoneStore")
        expunge_second(env, "GoneStore")
        r = c.cmd("STORE 1:3 +FLAGS (\\Flagged)")
        assert r.status == "NO" and r.codename == "EXPUNGEISSUE", r
        assert sorted(s for s, _ in r.fetches()) == [1, 3], r
        assert not r.numbered("EXPUNGE"), r
        r = c.ok("SEARCH ALL")
        assert r.search() == [1, 3] and not r.numbered("EXPUNGE"), r
        r = c.ok("SEARCH FLAGGED")
        assert r.search() == [1, 3], r
        r = c.ok("NOOP")
        assert r.numbered("EXPUNGE") == [2], r
        assert c.ok("SEARCH FLAGGED").search() == [1, 2]


# ---------------------------------------------------------------- COPY / MOVE

def copyuid_of(text):
    m = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", text)
    assert m, text
    return int(m.group(1)), expand(m.group(2)), expand(m.group(3))


def expand(s):
    out = []
    for part in s.decode().split(","):
        a, _, b = part.partition(":")
        out += list(range(int(a), int(b or a) + 1))
    return out


def test_long_copyuid_goes_untagged(env):
    n = 900
    msgs = [f"Subject: c{i}\r\n\r\nx\r\n".encode() for i in range(n)]
    with env.raw(USER) as c:
        c.ok("CREATE CopyMany")
        c.ok("CREATE CopyManyDest")
        fill_by_drop(env, "CopyMany", msgs)
        c.select("CopyMany")
        uids = c.uids()
        odd = ",".join(str(s) for s in range(1, n + 1, 2))
        r = c.cmd(f"COPY {odd} CopyManyDest")
        assert r.status == "OK", r
        assert b"COPYUID" not in r.line, r.line
        lines = [u for u in r.untagged if b"[COPYUID" in u]
        assert len(lines) == 1 and lines[0].startswith(b"* OK [COPYUID"), r
        _, src, dst = copyuid_of(lines[0])
        assert src == uids[0::2]
        assert len(dst) == len(src) == n // 2 and dst == sorted(dst)
        # a short one stays in the tagged reply
        r = c.cmd("COPY 2 CopyManyDest")
        assert r.status == "OK" and b"[COPYUID" in r.line, r
        assert copyuid_of(r.line)[1] == [uids[1]]
        st = c.ok("STATUS CopyManyDest (MESSAGES)").statuses()["CopyManyDest"]
        assert st["MESSAGES"] == n // 2 + 1


def test_move_response_order(env):
    with env.raw(USER) as c:
        c.ok("CREATE MoveOrderDest")
        three(env, c, "MoveOrder")
        uids = c.uids()
        r = c.cmd("MOVE 1:2 MoveOrderDest")
        assert r.status == "OK", r
        assert r.untagged[0].startswith(b"* OK [COPYUID "), r
        assert r.untagged[1:] == [b"* 1 EXPUNGE", b"* 1 EXPUNGE"], r
        assert copyuid_of(r.untagged[0])[1] == uids[:2]
        # nothing to move: no COPYUID, no EXPUNGE
        r = c.cmd(f"UID MOVE {uids[0]} MoveOrderDest")
        assert r.status == "OK" and not r.untagged, r
        assert b"COPYUID" not in r.line


# ---------------------------------------------------------------- SEARCH

N_SEARCH = 2500


@pytest.fixture(scope="module")
def search_many(env):
    """Folder SearchMany: N_SEARCH small messages, with a MIME one at
    index 1234 (base64 and quoted-printable text, an encoded subject) and
    one with a PDF attachment at 2222."""
    import base64
    n = N_SEARCH
    plain = [(f"From: s{i}@example.org\r\nSubject: filler {i}\r\n\r\n"
              f"nothing to see in {i}\r\n").encode() for i in range(n)]
    b64 = base64.b64encode("Der Zauberlehrling kehrt.\r\n".encode()).decode()
    pdf = base64.b64encode(b"%PDF-1.4 Zauberlehrling inside a PDF").decode()
    plain[1234] = (
        "From: x@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_Ulme?=\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        "--zz\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        "--zz\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nK=E4sekuchen\r\n"
        "--zz--\r\n").encode()
    plain[2222] = (
        "From: y@example.org\r\nSubject: attachment\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        "--zz\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--zz\r\nContent-Type: application/pdf\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--zz--\r\n").encode()
    with env.raw(USER) as c:
        c.ok("CREATE SearchMany")
        fill_by_drop(env, "SearchMany", plain)
        assert c.select("SearchMany", examine=True).exists == n
    return "SearchMany"


def test_search_text_over_thousands_of_messages(env, search_many):
    n = N_SEARCH
    with env.raw(USER) as c:
        c.select(search_many, examine=True)
        uids = c.uids()
        assert c.ok("SEARCH BODY zauberlehrling").search() == [1235]
        assert c.ok('SEARCH CHARSET UTF-8 BODY "käsekuchen"').search() == [1235]
        assert c.ok("SEARCH TEXT ulme").search() == [1235]
        assert c.ok('SEARCH CHARSET UTF-8 SUBJECT "GRÜßE"').search() == [1235]
        assert c.ok("SEARCH BODY ulme").search() == []
        assert c.ok('SEARCH BODY "see attached"').search() == [2223]
        assert c.ok("SEARCH TEXT 1.4").search() == []
        assert c.ok("SEARCH TEXT nothing").search() == \
            [i + 1 for i in range(n) if i not in (1234, 2222)]
        r = c.ok(f"UID SEARCH UID {uids[1000]}:{uids[1300]} BODY zauberlehrling")
        assert r.search() == [uids[1234]]
        r = c.ok(f"UID SEARCH UID {uids[0]}:{uids[1000]} BODY zauberlehrling")
        assert r.search() == []
        assert c.ok("SEARCH 1236:* BODY zauberlehrling").search() == []
    env.assert_serves()


def test_other_session_served_during_a_long_search(env, search_many):
    """A long text search gives the loop back, so another session on
    the same worker gets its answers meanwhile (here only checked to be
    answered at all and correctly; both share the process when the
    server runs one worker per core)."""
    with env.raw(USER) as c, env.raw(USER) as d:
        c.select("SearchMany", examine=True)
        d.select("SearchMany", examine=True)
        tag = c.next_tag()
        c.send(f"{tag} SEARCH TEXT zauberlehrling\r\n")
        for _ in range(5):
            d.ok("NOOP")
            assert d.ok("FETCH 1 UID").fetches()
        r = c.wait(tag)
        assert r.status == "OK" and r.search() == [1235], r


# ---------------------------------------------------------------- STORE

def test_store_of_a_new_keyword_announces_the_flags(env):
    with env.raw(USER) as c:
        three(env, c, "NewKeyword")
        r = c.ok("STORE 1 +FLAGS ($Fresh)")
        flags = r.untagged_named("FLAGS")
        assert len(flags) == 1, r
        assert "$fresh" in ih.flagset(ih.parse(flags[0][2:])[1]), r
        perm = [code for code in r.codes() if code.upper().startswith("PERMANENTFLAGS")]
        assert len(perm) == 1 and "$Fresh" in perm[0] and "\\*" in perm[0], r
        assert "$fresh" in ih.flagset(dict(r.fetches())[1]["FLAGS"])
        # a keyword the mailbox knows, or one removed: nothing new
        for line in ("STORE 2 +FLAGS ($fresh)", "STORE 1 -FLAGS ($Unknown)"):
            r = c.ok(line)
            assert not r.untagged_named("FLAGS"), r
            assert not any(u.startswith(b"* OK [PERMANENTFLAGS") for u in r.untagged), r
        # the next SELECT lists it
        assert "$fresh" in c.select("NewKeyword").flags
