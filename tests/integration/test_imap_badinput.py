"""Hostile and broken input to the IMAP server: overlong lines, huge
literals ({4294967295}), deep parentheses, huge sequence sets, garbage,
connections dropped halfway, mailbox names that try to leave the user's
directory (.., /, absolute paths, NUL), and one user reaching for another
user's mail. Every test ends by checking that the server still serves: a
new connection logs in and selects INBOX, and no process crashed.
"""

import base64
import os
import time

import pytest

import imap_helpers as ih
from imap_helpers import Lit, quote

BOB_MARK = b"bob's private message"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-badinput"),
                     users=["mallory", "victim"]) as e:
        with e.raw("victim") as c:
            c.ok("CREATE Private")
            c.append("INBOX", b"Subject: secret\r\n\r\n" + BOB_MARK + b"\r\n")
            c.append("Private", b"Subject: secret 2\r\n\r\n" + BOB_MARK + b"\r\n")
        with e.raw("mallory") as c:
            c.ok("CREATE Box")
            c.append("Box", b"Subject: mine\r\n\r\nmallory's\r\n")
        yield e


def send_all(c, data, chunk=1 << 16):
    """Send DATA; False when the server closed the connection first."""
    try:
        for i in range(0, len(data), chunk):
            c.send(data[i:i + chunk])
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def refused_or_closed(c, tag, timeout=5.0):
    """The server answered TAG's command with a tagged NO/BAD (or an
    untagged BAD), or said BYE / closed the connection, within TIMEOUT;
    it never asked for a literal. Returns "answered" or "closed"."""
    deadline = time.monotonic() + timeout
    t = tag.encode() + b" "
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no answer within {timeout}s (buffer {c.buf[:200]!r})"
        try:
            r = c.read_response(timeout=left)
        except (ih.PeerClosed, OSError):
            return "closed"
        assert r is not None, f"no answer within {timeout}s"
        assert not r.startswith(b"+"), f"continuation {r!r}: the server asked for the data"
        if r.startswith(t):
            assert r[len(t):].startswith((b"NO", b"BAD")), f"accepted: {r!r}"
            return "answered"
        if r.startswith(b"* BAD"):
            return "answered"
        if r.startswith(b"* BYE"):
            return "closed"
        # other untagged data: keep reading


def usable_or_closed(c):
    """After a refused command, the connection works (NOOP) or is closed."""
    try:
        r = c.cmd("NOOP", tag="z1")
    except (ih.PeerClosed, OSError):
        return "closed"
    assert r.status == "OK", r
    return "usable"


# ---------------------------------------------------------------- lines and literals

@pytest.mark.parametrize("size", [20000, 1 << 20])
def test_overlong_command_line(env, size):
    with env.raw("mallory") as c:
        # too long a line, or too long a name: refused either way
        if send_all(c, b"t1 SELECT " + b"x" * size + b"\r\n"):
            refused_or_closed(c, "t1", timeout=10)
            usable_or_closed(c)
    env.assert_serves()


def test_endless_line_without_crlf(env):
    with env.raw() as c:
        sent = send_all(c, b"t1 LOGIN " + b"a" * (4 << 20))
        if sent:
            try:
                c.send(b"\r\n")
            except OSError:
                pass
            try:
                refused_or_closed(c, "t1", timeout=10)
            except ih.PeerClosed:
                pass
    env.assert_serves()


@pytest.mark.parametrize("line", [
    "APPEND Box {4294967295}",
    "APPEND Box (\\Seen) {4294967296}",
    "APPEND Box {99999999999999999999999}",
    "CREATE {4294967295}",
    "SEARCH SUBJECT {4294967295}",
    "APPEND Box {-1}",
])
def test_huge_literal_refused_at_once(env, line):
    with env.raw("mallory") as c:
        c.send(f"t1 {line}\r\n")
        if refused_or_closed(c, "t1", timeout=2.0) == "answered":
            usable_or_closed(c)
    env.assert_serves()


def test_huge_literal_before_login(env):
    with env.raw() as c:
        c.send(b"t1 LOGIN {4294967295}\r\n")
        if refused_or_closed(c, "t1", timeout=2.0) == "answered":
            usable_or_closed(c)
    with env.raw() as c:
        # LITERAL+ before login: the client sends at once; a server bounds
        # what it reads before authentication
        c.send(b"t1 LOGIN {1000000+}\r\n")
        if send_all(c, b"a" * 1000000 + b" {3+}\r\npw\r\n"):
            try:
                refused_or_closed(c, "t1", timeout=5.0)
            except ih.PeerClosed:
                pass
    env.assert_serves()


def test_huge_non_synchronizing_literal(env):
    with env.raw("mallory") as c:
        c.send(b"t1 APPEND Box {4294967295+}\r\n")
        refused_or_closed(c, "t1", timeout=2.0)
    env.assert_serves()
    with env.raw("mallory") as c:
        before = c.ok("STATUS Box (MESSAGES)").statuses()["Box"]["MESSAGES"]
    assert before == 1


def test_connection_dropped_inside_a_literal(env):
    root = env.maildir("mallory", "Box")
    with env.raw("mallory") as c:
        c.send(b"t1 APPEND Box {200000}\r\n")
        r = c.read_response()
        assert r.startswith(b"+"), r
        c.send(b"Subject: half\r\n\r\n" + b"y" * 100000)
    # and one that stops inside a LOGIN literal
    with env.raw() as c:
        c.send(b"t1 LOGIN {20}\r\n")
        r = c.read_response()
        assert r.startswith(b"+"), r
        c.send(b"mallo")
    time.sleep(0.5)
    env.assert_serves()
    with env.raw("mallory") as c:
        st = c.ok("STATUS Box (MESSAGES)").statuses()["Box"]
        assert st["MESSAGES"] == 1, "a half-received APPEND was stored"
    for sub in ("new", "cur"):
        for p in (root / sub).iterdir():
            assert b"y" * 1000 not in p.read_bytes(), f"partial message kept in {p}"


def test_nul_and_garbage_lines(env):
    junk = [b"\x00\x00\x00", b"t1 NOOP\x00", b"\xff\xfe\xfd garbage",
            b"t2 SELECT \"IN\x00BOX\"", b"\x16\x03\x01\x02\x00\x01\x00",
            b"t3 " + bytes(range(1, 32)).replace(b"\r", b"").replace(b"\n", b""),
            b"GET / HTTP/1.1", b"(((((", b")))))", b"t4 \"", b"t5 {", b"t6 {1"]
    for line in junk:
        with env.raw("mallory") as c:
            if send_all(c, line + b"\r\n"):
                try:
                    r = c.read_response(timeout=5)
                except ih.PeerClosed:
                    continue
                assert r is not None, f"no answer to {line!r}"
                assert b" BAD" in r[:12] or r.startswith(b"* BYE"), f"{line!r}: {r!r}"
    env.assert_serves()


def test_deep_parentheses(env):
    with env.raw("mallory", select="Box") as c:
        for depth in (100, 1000):
            r = c.cmd(f"SEARCH {'(' * depth}ALL{')' * depth}")
            assert r.status in ("OK", "NO", "BAD"), r
        # far beyond any sensible bound: refused (or the line is too long)
        tag = c.next_tag()
        depth = 100000
        if send_all(c, f"{tag} SEARCH {'(' * depth}ALL{')' * depth}\r\n".encode()):
            refused_or_closed(c, tag, timeout=10)
        if usable_or_closed(c) == "usable":
            for line in ("FETCH 1 " + "(" * 500 + "FLAGS" + ")" * 500,
                         "STORE 1 +FLAGS " + "(" * 500 + "\\Seen" + ")" * 500):
                r = c.cmd(line)
                assert r.status == "BAD", f"{line[:40]}...: {r}"
    with env.raw("mallory", select="Box") as c:
        # deep nesting without parentheses
        for line in ("SEARCH " + "NOT " * 5000 + "ALL",
                     "SEARCH " + "OR ALL " * 3000 + "ALL"):
            r = c.cmd(line)
            assert r.status in ("BAD", "NO", "OK"), r
    env.assert_serves()


@pytest.mark.parametrize("form", ["singles", "ranges", "uid-ranges", "search"])
def test_ten_thousand_ranges(env, form):
    if form == "singles":
        line = "FETCH " + ",".join(str(i) for i in range(1, 20001, 2)) + " FLAGS"
    elif form == "ranges":
        line = "FETCH " + ",".join(f"{i}:{i + 1}" for i in range(1, 40001, 4)) + " FLAGS"
    elif form == "uid-ranges":
        line = "UID FETCH " + ",".join(f"{i}:{i + 1}" for i in range(1, 40001, 4)) + " FLAGS"
    else:
        line = "SEARCH " + ",".join(str(i) for i in range(1, 20001, 2))
    with env.raw("mallory", select="Box") as c:
        tag = c.next_tag()
        if send_all(c, f"{tag} {line}\r\n".encode()):
            try:
                r = c.wait(tag)
                assert r.status in ("OK", "NO", "BAD"), r
            except ih.PeerClosed:
                pass
            usable_or_closed(c)
    env.assert_serves()


def test_sequence_number_bounds(env):
    with env.raw("mallory", select="Box") as c:
        r = c.cmd("UID FETCH 1:4294967295 UID")
        assert r.status == "OK" and len(r.fetches()) == 1, r
        for line in ("UID FETCH 1:4294967296 UID", "FETCH 4294967296 FLAGS",
                     "UID FETCH 99999999999999999999 UID", "FETCH 1:-1 FLAGS"):
            r = c.cmd(line)
            assert r.status == "BAD", f"{line}: {r}"
    env.assert_serves()


def test_starttls_then_garbage_instead_of_a_handshake(env):
    with env.raw() as c:
        c.ok("STARTTLS")
        send_all(c, b"this is not a TLS ClientHello\r\n" * 20)
        assert c.closed_by_peer(10), "server kept a connection with a failed handshake"
    env.assert_serves()


# ---------------------------------------------------------------- mailbox names

ESCAPES = [
    "..", "../victim", "../../example.test/victim", "..Private", "Box/..",
    "a/b", "/etc", "/tmp/imaptests-evil", ".hidden",
    "a..b", "Box..", ".", "..Box", "INBOX/../../victim",
    "&Ly4u-",              # "/.." in modified UTF-7
    "&AC4ALg-",            # ".." in modified UTF-7
    "x" * 1000,
]


def tree(path):
    out = set()
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), path))
    return out


def outside_snapshot(env):
    """Everything under mail/ except mallory's own Maildir, and whatever
    exists at the absolute paths the tests try."""
    mail = env.dir / "mail"
    skip = [os.path.relpath(env.maildir(u), mail) for u in ("mallory", ih.PROBE)]
    snap = {p for p in tree(mail)
            if not any(p == s or p.startswith(s + os.sep) for s in skip)}
    snap |= {p for p in ("/tmp/imaptests-evil", "/etc/x") if os.path.exists(p)}
    return snap


@pytest.mark.parametrize("name", ESCAPES)
def test_mailbox_name_cannot_leave_the_users_directory(env, name):
    before = outside_snapshot(env)
    q = quote(name)
    with env.raw("mallory") as c:
        for line in (f"CREATE {q}", f"SELECT {q}", f"EXAMINE {q}",
                     f"STATUS {q} (MESSAGES)", f"DELETE {q}", f"RENAME Box {q}",
                     f"SUBSCRIBE {q}"):
            r = c.cmd(line)
            if line.startswith("SUBSCRIBE") and r.status == "OK":
                # a subscription is only a name; it must not reach a mailbox
                c.ok(f"UNSUBSCRIBE {q}")
                continue
            assert r.status in ("NO", "BAD"), f"{line}: {r}"
        r = c.cmd_lit([f"APPEND {q} ", Lit(b"Subject: escape\r\n\r\nx\r\n")])
        assert r.status in ("NO", "BAD"), f"APPEND {name}: {r}"
        c.select("Box")
        for line in (f"COPY 1 {q}", f"MOVE 1 {q}"):
            r = c.cmd(line)
            assert r.status in ("NO", "BAD"), f"{line}: {r}"
        assert c.ok("STATUS Box (MESSAGES)").statuses()["Box"]["MESSAGES"] == 1
        assert "Box" in c.ok('LIST "" "*"').lists()
    assert outside_snapshot(env) == before, "something changed outside mallory's Maildir"
    assert not os.path.exists("/tmp/imaptests-evil")
    env.assert_serves()


@pytest.mark.parametrize("data", [b"ab\x00cd", b"ab\r\ncd", b"ab\ncd", b"ab\rcd",
                                  b"\x00", b"Box\x00../victim"])
def test_mailbox_name_with_nul_or_line_ends(env, data):
    before = outside_snapshot(env)
    with env.raw("mallory") as c:
        for cmd in ("CREATE ", "SELECT ", "STATUS "):
            parts = [cmd, Lit(data)] + ([" (MESSAGES)"] if cmd == "STATUS " else [])
            r = c.cmd_lit(parts)
            assert r.status in ("NO", "BAD"), f"{cmd}{data!r}: {r}"
        names = c.ok('LIST "" "*"').lists()
        assert not [n for n in names if "cd" in n or "\x00" in n], names
    assert outside_snapshot(env) == before
    env.assert_serves()


def test_list_patterns_stay_inside(env):
    with env.raw("mallory") as c:
        mine = set(c.ok('LIST "" "*"').lists())
        for ref, pat in (("", "../*"), ("..", "*"), ("/", "*"), ("", "/*"),
                         ("~victim", "*"), ("", "~victim*"), ("../victim", "%"),
                         ("", "*/*"), ("", "%/%")):
            r = c.cmd(f"LIST {quote(ref)} {quote(pat)}")
            assert r.status in ("OK", "NO", "BAD"), r
            got = set(r.lists())
            assert got <= mine, f"LIST {ref!r} {pat!r} showed {got - mine}"
            assert not any(b"victim" in u or b"Private" in u for u in r.untagged), r
    env.assert_serves()


# ---------------------------------------------------------------- other users

def victim_state(env):
    root = env.maildir("victim")
    return {p: os.path.getsize(root / p) for p in tree(root)
            if (root / p).is_file() and "/tmp/" not in "/" + p + "/"}


OTHER_NAMES = ["../victim", "../victim/Private", "../../example.test/victim",
               "victim", "victim@example.test", "~victim", "~victim/INBOX",
               "#user/victim", "#shared/victim", "Other Users.victim",
               "user.victim", "Private"]


def test_one_user_cannot_reach_another_users_mail(env):
    before = victim_state(env)
    with env.raw("mallory") as c:
        for name in OTHER_NAMES:
            q = quote(name)
            for line in (f"SELECT {q}", f"EXAMINE {q}", f"STATUS {q} (MESSAGES)"):
                r = c.cmd(line)
                assert r.status in ("NO", "BAD"), f"{line}: {r}"
                assert not any(BOB_MARK in u for u in r.untagged), r
            r = c.cmd_lit([f"APPEND {q} ", Lit(b"Subject: planted\r\n\r\nx\r\n")])
            assert r.status in ("NO", "BAD"), f"APPEND {name}: {r}"
        c.select("Box")
        for name in OTHER_NAMES:
            for line in (f"COPY 1 {quote(name)}", f"MOVE 1 {quote(name)}"):
                r = c.cmd(line)
                assert r.status in ("NO", "BAD"), f"{line}: {r}"
        assert c.ok("SEARCH TEXT secret").search() == []
        names = c.ok('LIST "" "*"').lists()
        assert "Private" not in names, names
    assert victim_state(env) == before, "the other user's Maildir changed"
    with env.raw("victim") as c:
        assert c.ok("STATUS INBOX (MESSAGES)").statuses()["INBOX"]["MESSAGES"] == 1
        assert c.ok("STATUS Private (MESSAGES)").statuses()["Private"]["MESSAGES"] == 1
    env.assert_serves()


def test_login_as_another_user_with_own_password_fails(env):
    with env.raw() as c:
        r = c.cmd(f"LOGIN {quote(ih.addr('victim'))} {quote(env.pw('mallory'))}")
        assert r.status == "NO", r
        # authorization identity of another user (PLAIN authzid)
        tag = c.next_tag()
        cred = f"{ih.addr('victim')}\0{ih.addr('mallory')}\0{env.pw('mallory')}"
        c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
        r = c.read_response()
        assert r.startswith(b"+"), r
        c.send(base64.b64encode(cred.encode()) + b"\r\n")
        r = c.wait(tag)
        assert r.status == "NO", f"logged in as another user through authzid: {r}"
    env.assert_serves()
