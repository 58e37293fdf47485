"""IMAP sessions: greeting, CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE,
STARTTLS, implicit TLS (993), ID (RFC 2971), ENABLE (RFC 5161), NAMESPACE
(RFC 2342), which commands each state allows (RFC 3501 3, 6), syntax
errors, LOGINDISABLED before TLS when plaintext_auth_from_loopback = no,
and wrong passwords: answered NO late, and locked out after repeated
failures from one address.
"""

import base64
import concurrent.futures
import time

import pytest

import imap_helpers as ih
from imap_helpers import ALICE, quote

EXTENSIONS = ("IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE",
              "SPECIAL-USE", "LITERAL+", "ID", "UNSELECT", "ENABLE",
              "CHILDREN", "LIST-STATUS")
ODD_USER = "odd@example.test"
ODD_PW = 'p w "q" \\ x'           # a space, quotes and a backslash


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-session"),
                     users=[(ALICE, ih.ALICE_PW), (ODD_USER, ODD_PW),
                            "sess1"]) as e:
        yield e


def caps(r):
    """The capability names (upper case) of a Resp's untagged CAPABILITY."""
    got = r.untagged_named("CAPABILITY")
    assert len(got) == 1, f"expected one untagged CAPABILITY: {r}"
    return set(got[0].decode().upper().split()[2:])


def b64(b):
    return base64.b64encode(b).decode()


def each_on_new_connection(env, lines, user=None, select=None):
    """{line: Resp} for each command LINE, each sent on a new connection
    (a server may close the connection after a few errors before login)."""
    out = {}
    for line in lines:
        with env.raw(user, select=select) as c:
            out[line] = c.cmd(line)
            c.ok("NOOP")
    return out


# ---------------------------------------------------------------- basics

def test_greeting_and_capability_before_login(env):
    with env.raw() as c:
        assert c.greeting.startswith(b"* OK"), c.greeting
        r = c.cmd("CAPABILITY")
        assert r.status == "OK", r
        got = caps(r)
        assert "IMAP4REV1" in got, got
        assert "STARTTLS" in got, got
        assert "AUTH=PLAIN" in got, got
        # plaintext_auth_from_loopback defaults to yes: LOGIN is allowed
        assert "LOGINDISABLED" not in got, got


def test_capability_after_login_lists_every_extension(env):
    with env.raw("sess1") as c:
        got = caps(c.ok("CAPABILITY"))
        missing = [x for x in EXTENSIONS if x not in got]
        assert not missing, f"missing capabilities {missing}; have {sorted(got)}"


def test_arguments_to_commands_that_take_none_are_bad(env):
    lines = ["CAPABILITY IMAP4rev1", "NOOP now", "LOGOUT please"]
    for line, r in each_on_new_connection(env, lines).items():
        assert r.status == "BAD", f"{line!r}: {r}"


def test_noop_in_every_state(env):
    with env.raw() as c:
        c.ok("NOOP")
        c.login(ih.addr("sess1"), ih.password(ih.addr("sess1")))
        c.ok("NOOP")
        c.select("INBOX")
        c.ok("NOOP")
        c.logout()


@pytest.mark.parametrize("state", ["not-authenticated", "authenticated", "selected"])
def test_logout_says_bye_then_ok_then_closes(env, state):
    with env.raw("sess1" if state != "not-authenticated" else None,
                 select="INBOX" if state == "selected" else None) as c:
        r = c.cmd("LOGOUT")
        assert r.status == "OK", r
        assert [u for u in r.untagged if u.upper().startswith(b"* BYE")], r
        assert c.closed_by_peer(5), "connection still open after LOGOUT"


def test_unknown_command_is_bad(env):
    for line, r in each_on_new_connection(env, ["XYZZY", "XYZZY a b"]).items():
        assert r.status == "BAD", f"{line!r}: {r}"


def answered_bad_or_closed(c, tag):
    """The server answered the line just sent with BAD (tagged with TAG or
    untagged), or said BYE and closed the connection (RFC 3501 7.1.5: a
    server that closes the connection on its own says BYE first)."""
    try:
        r = c.read_response()
    except ih.PeerClosed:
        raise AssertionError("connection closed without BAD or BYE") from None
    if r.startswith((tag + b" BAD", b"* BAD")):
        more = c.pending(0.5)
        if not any(m.startswith(b"* BYE") for m in more):
            return "bad"
        r = b"* BYE"
    assert r.startswith(b"* BYE"), f"expected BAD or BYE, got {r!r}"
    assert c.closed_by_peer(5), "BYE without closing"
    return "closed"


def test_line_without_command_or_tag(env):
    # a tag and nothing else
    with env.raw() as c:
        c.send(b"t900\r\n")
        if answered_bad_or_closed(c, b"t900") == "bad":
            c.ok("NOOP")
    # no tag at all (RFC 3501 7.1.3: an untagged BAD)
    with env.raw() as c:
        c.send(b"*\r\n")
        if answered_bad_or_closed(c, b"*") == "bad":
            c.ok("NOOP")
    env.assert_serves()


# ---------------------------------------------------------------- LOGIN

def test_login_quoted_strings_and_literals(env):
    # quoted with escapes
    with env.raw() as c:
        c.login(ODD_USER, ODD_PW)
        c.ok("SELECT INBOX")
    # the password as a synchronizing literal
    with env.raw() as c:
        r = c.cmd_lit([f"LOGIN {quote(ODD_USER)} ", ih.Lit(ODD_PW)])
        assert r.status == "OK", r
        c.ok("NOOP")
    # both as non-synchronizing literals (LITERAL+)
    with env.raw() as c:
        r = c.cmd_lit(["LOGIN ", ih.Lit(ODD_USER, sync=False), " ",
                       ih.Lit(ODD_PW, sync=False)])
        assert r.status == "OK", r
        c.ok("NOOP")
    # the user name as an atom
    with env.raw() as c:
        r = c.cmd(f"LOGIN sess1@example.test {quote(ih.password(ih.addr('sess1')))}")
        assert r.status == "OK", r


def test_login_syntax_errors_are_bad(env):
    lines = ["LOGIN", f"LOGIN {quote(ALICE)}",
             f"LOGIN {quote(ALICE)} {quote('x')} extra", "LOGIN (alice) (pw)"]
    for line, r in each_on_new_connection(env, lines).items():
        assert r.status == "BAD", f"{line!r}: {r}"
    # an unterminated quoted string: BAD, or BYE if the server gives up
    with env.raw() as c:
        c.send(b't1 LOGIN "unterminated\r\n')
        if answered_bad_or_closed(c, b"t1") == "bad":
            c.ok("NOOP")


def test_login_when_already_authenticated_is_bad(env):
    with env.raw("sess1") as c:
        r = c.cmd(f"LOGIN {quote(ALICE)} {quote(ih.ALICE_PW)}")
        assert r.status == "BAD", r
        r = c.cmd("AUTHENTICATE PLAIN")
        assert r.status == "BAD", r
        c.ok("NOOP")


def test_imaplib_login_select_logout(env):
    m = env.lib()
    try:
        typ, data = m.capability()
        assert typ == "OK" and b"IMAP4rev1" in data[0], data
        typ, data = m.login(ODD_USER, ODD_PW)
        assert typ == "OK", data
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        typ, data = m.noop()
        assert typ == "OK", data
    finally:
        typ, data = m.logout()
    assert typ == "BYE", (typ, data)


# ---------------------------------------------------------------- AUTHENTICATE

def authenticate(c, mech, *responses):
    """AUTHENTICATE MECH, answering each continuation with the next of
    RESPONSES (str lines); returns (Resp, [continuation lines])."""
    tag = c.next_tag()
    c.send(f"{tag} AUTHENTICATE {mech}\r\n")
    conts = []
    answers = list(responses)
    while True:
        r = c.read_response()
        if r.startswith(b"+"):
            conts.append(r)
            assert answers, f"more continuations than expected: {conts}"
            c.send(answers.pop(0) + "\r\n")
            continue
        if r.startswith(tag.encode() + b" "):
            return ih.Resp(tag, r, []), conts


def test_authenticate_plain(env):
    with env.raw() as c:
        r, conts = authenticate(c, "PLAIN", b64(f"\0{ALICE}\0{ih.ALICE_PW}".encode()))
        assert r.status == "OK", r
        assert len(conts) == 1 and conts[0] in (b"+", b"+ "), conts
        c.ok("SELECT INBOX")


def test_authenticate_plain_with_authzid_of_the_same_user(env):
    with env.raw() as c:
        r, _ = authenticate(c, "PLAIN",
                            b64(f"{ALICE}\0{ALICE}\0{ih.ALICE_PW}".encode()))
        assert r.status == "OK", r


def test_authenticate_login(env):
    with env.raw() as c:
        r, conts = authenticate(c, "LOGIN", b64(ODD_USER.encode()),
                                b64(ODD_PW.encode()))
        assert r.status == "OK", r
        assert len(conts) == 2, conts
        c.ok("SELECT INBOX")


def test_authenticate_cancelled_with_star_is_bad(env):
    with env.raw() as c:
        r, _ = authenticate(c, "PLAIN", "*")
        assert r.status == "BAD", r
        c.login(ALICE, ih.ALICE_PW)


def test_authenticate_invalid_base64_is_refused(env):
    with env.raw() as c:
        r, _ = authenticate(c, "PLAIN", "!!!not base64!!!")
        assert r.status in ("BAD", "NO"), r
        c.login(ALICE, ih.ALICE_PW)


def test_authenticate_unknown_mechanism_is_no(env):
    with env.raw() as c:
        r = c.cmd("AUTHENTICATE X-UNKNOWN-MECH")
        assert r.status == "NO", r
        assert c.cmd("AUTHENTICATE").status == "BAD"
        c.login(ALICE, ih.ALICE_PW)


# ---------------------------------------------------------------- states

NEED_AUTH = [
    "SELECT INBOX", "EXAMINE INBOX", "CREATE Foo", "DELETE Foo",
    "RENAME Foo Bar", "SUBSCRIBE INBOX", "UNSUBSCRIBE INBOX",
    'LIST "" "*"', 'LSUB "" "*"', "STATUS INBOX (MESSAGES)", "NAMESPACE",
    "ENABLE IMAP4rev2", "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE",
    "UID EXPUNGE 1", "SEARCH ALL", "FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)",
    "COPY 1 INBOX", "MOVE 1 INBOX", "UID FETCH 1 FLAGS", "UID SEARCH ALL",
    "UID STORE 1 +FLAGS (\\Seen)", "UID COPY 1 INBOX", "UID MOVE 1 INBOX",
]

NEED_SELECTED = [
    "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE 1", "SEARCH ALL",
    "FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "COPY 1 INBOX",
    "MOVE 1 INBOX", "UID FETCH 1 FLAGS", "UID SEARCH ALL",
    "UID STORE 1 +FLAGS (\\Seen)", "UID COPY 1 INBOX", "UID MOVE 1 INBOX",
]


def test_commands_refused_before_login(env):
    for line, r in each_on_new_connection(env, NEED_AUTH).items():
        assert r.status == "BAD", f"{line!r} before login: {r}"
    # APPEND: refused, whether or not the literal was asked for
    with env.raw() as c:
        r = c.cmd_lit(["APPEND INBOX ", ih.Lit(b"Subject: x\r\n\r\nx\r\n")])
        assert r.status == "BAD", f"APPEND before login: {r}"
        c.login(ALICE, ih.ALICE_PW)
        c.ok("NOOP")


def test_commands_refused_without_a_selected_mailbox(env):
    with env.raw("sess1") as c:
        for line in NEED_SELECTED:
            r = c.cmd(line)
            assert r.status == "BAD", f"{line!r} with nothing selected: {r}"
        c.select("INBOX")
        c.ok("CHECK")
        c.ok("UNSELECT")
        r = c.cmd("FETCH 1 FLAGS")
        assert r.status == "BAD", f"FETCH after UNSELECT: {r}"


def test_failed_select_leaves_no_mailbox_selected(env):
    """RFC 3501 6.3.1: a failed SELECT deselects the previous mailbox."""
    with env.raw("sess1") as c:
        c.select("INBOX")
        r = c.cmd("SELECT No-Such-Mailbox")
        assert r.status == "NO", r
        r = c.cmd("SEARCH ALL")
        assert r.status == "BAD", f"SEARCH after a failed SELECT: {r}"


# ---------------------------------------------------------------- ID, ENABLE, NAMESPACE

def test_id(env):
    with env.raw() as c:
        r = c.cmd('ID ("name" "pytest" "version" "1.0")')
        assert r.status == "OK", r
        ids = r.untagged_named("ID")
        assert len(ids) == 1, r
        v = ih.parse(ids[0][5:])
        assert len(v) == 1, ids
        assert v[0] is None or (isinstance(v[0], list) and len(v[0]) % 2 == 0), ids
        c.ok("ID NIL")
        c.login(ALICE, ih.ALICE_PW)
        c.ok('ID ("name" "pytest")')
    # RFC 2971 4: a list of field-value pairs, or NIL
    for line, r in each_on_new_connection(env, ['ID ("name")', "ID", "ID foo"]).items():
        assert r.status == "BAD", f"{line!r}: {r}"


def test_enable(env):
    # RFC 5161 3.1: only in the authenticated state
    r = each_on_new_connection(env, ["ENABLE X-NOTHING"])["ENABLE X-NOTHING"]
    assert r.status == "BAD", f"ENABLE before login: {r}"
    with env.raw("sess1") as c:
        r = c.cmd("ENABLE X-UNKNOWN-EXTENSION")
        assert r.status == "OK", r
        for e in r.untagged_named("ENABLED"):
            assert b"X-UNKNOWN-EXTENSION" not in e.upper(), r
        assert c.cmd("ENABLE").status == "BAD"


def test_namespace(env):
    with env.raw("sess1") as c:
        r = c.ok("NAMESPACE")
        ns = r.untagged_named("NAMESPACE")
        assert len(ns) == 1, r
        v = ih.parse(ns[0][12:])
        assert len(v) == 3, ns
        personal, other, shared = v
        assert personal == [[b"", b"."]], f"personal namespace {personal!r}"
        assert other is None and shared is None, ns
        assert c.cmd("NAMESPACE extra").status == "BAD"


def test_idle_in_authenticated_state(env):
    with env.raw("sess1") as c:
        c.idle()
        r = c.idle_done()
        assert r.status == "OK"
        c.ok("NOOP")


# ---------------------------------------------------------------- TLS

def test_starttls_then_login(env):
    with env.raw() as c:
        c.starttls()
        r = c.ok("CAPABILITY")
        got = caps(r)
        assert "STARTTLS" not in got, f"STARTTLS offered again inside TLS: {got}"
        assert "LOGINDISABLED" not in got, got
        assert c.cmd("STARTTLS").status in ("BAD", "NO"), "second STARTTLS accepted"
        c.login(ALICE, ih.ALICE_PW)
        c.select("INBOX")
        c.logout()


def test_starttls_discards_commands_pipelined_behind_it(env):
    """Bytes sent in the clear after STARTTLS must never be executed inside
    TLS (the command injection of CVE-2011-0411): the server discards them,
    or gives up on the connection."""
    with env.raw() as c:
        c.send(b"t1 STARTTLS\r\nt2 LOGIN " + quote(ALICE).encode() + b" " +
               quote(ih.ALICE_PW).encode() + b"\r\n")
        r = c.read_response()
        assert r.startswith(b"t1 OK"), r
        assert c.buf == b"", f"answered the pipelined command in the clear: {c.buf!r}"
        try:
            c._wrap()
            r = c.cmd("NOOP", tag="t3")
        except (ih.PeerClosed, OSError):
            r = None                    # gave up on the connection: safe
        if r is not None:
            assert r.status == "OK", r
            assert not any(u.startswith(b"t2") for u in r.untagged), r
            # the pipelined LOGIN did not happen: SELECT needs a login
            r = c.cmd("SELECT INBOX")
            assert r.status == "BAD", f"pipelined LOGIN took effect: {r}"
    env.assert_serves()


def test_starttls_after_login_is_bad(env):
    with env.raw("sess1") as c:
        r = c.cmd("STARTTLS")
        assert r.status == "BAD", r
        c.ok("NOOP")


def test_starttls_with_imaplib(env):
    m = env.lib()
    try:
        typ, data = m.starttls(ssl_context=ih.insecure_context())
        assert typ == "OK", data
        typ, data = m.login(ALICE, ih.ALICE_PW)
        assert typ == "OK", data
        typ, data = m.select("INBOX")
        assert typ == "OK", data
    finally:
        m.logout()


def test_imaps_implicit_tls(env):
    with env.raw(tls=True) as c:
        assert c.tls
        got = caps(c.ok("CAPABILITY"))
        assert "STARTTLS" not in got, got
        assert "LOGINDISABLED" not in got, got
        c.login(ALICE, ih.ALICE_PW)
        c.select("INBOX")
        c.logout()
    m = env.lib(ih.ALICE, tls=True)
    try:
        typ, data = m.list()
        assert typ == "OK" and data, data
    finally:
        m.logout()


# ---------------------------------------------------------------- no plaintext login

STRICT_TIMEOUT = 3


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """No plaintext login even from loopback, and a short autologout."""
    with ih.imap_env(tmp_path_factory.mktemp("imap-strict"),
                     conf={"plaintext_auth_from_loopback": "no",
                           "imap_timeout": f"{STRICT_TIMEOUT}s"},
                     users=[(ALICE, ih.ALICE_PW)]) as e:
        yield e


def test_logindisabled_before_tls(strict):
    with strict.raw() as c:
        got = caps(c.ok("CAPABILITY"))
        assert "LOGINDISABLED" in got, got
        assert "STARTTLS" in got, got
        r = c.cmd(f"LOGIN {quote(ALICE)} {quote(ih.ALICE_PW)}")
        assert r.status == "NO", f"LOGIN in the clear with LOGINDISABLED: {r}"
        # AUTHENTICATE must not even ask for credentials in the clear
        tag = c.next_tag()
        c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
        r = c.read_response()
        assert not r.startswith(b"+"), "AUTHENTICATE PLAIN asked for credentials in the clear"
        assert r.startswith(f"{tag} NO".encode()) or r.startswith(f"{tag} BAD".encode()), r
        assert c.cmd("SELECT INBOX").status == "BAD"


def test_logindisabled_gone_after_starttls(strict):
    with strict.raw() as c:
        c.starttls()
        got = caps(c.ok("CAPABILITY"))
        assert "LOGINDISABLED" not in got, got
        c.login(ALICE, ih.ALICE_PW)
        c.select("INBOX")
    with strict.raw() as c:
        c.starttls()
        r, _ = authenticate(c, "PLAIN", b64(f"\0{ALICE}\0{ih.ALICE_PW}".encode()))
        assert r.status == "OK", r


def test_logindisabled_imaps_login(strict):
    with strict.raw(tls=True) as c:
        got = caps(c.ok("CAPABILITY"))
        assert "LOGINDISABLED" not in got, got
        c.login(ALICE, ih.ALICE_PW)
        c.select("INBOX")


def test_imap_timeout_logs_out_silent_clients_only(strict):
    """imap_timeout: a silent logged-in client, in IDLE too, gets BYE and
    is disconnected; one that sends a command now and then is not."""
    env = strict
    silent = env.raw(tls=True)
    silent.login(ALICE, ih.ALICE_PW)
    idler = env.raw(tls=True)
    idler.login(ALICE, ih.ALICE_PW)
    idler.select("INBOX")
    idler.idle()
    active = env.raw(tls=True)
    active.login(ALICE, ih.ALICE_PW)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < STRICT_TIMEOUT + 1.5:
            time.sleep(0.7)
            active.ok("NOOP")
        for name, c in (("silent", silent), ("idle", idler)):
            assert c.closed_by_peer(STRICT_TIMEOUT + 3), f"{name} client not logged out"
            elapsed = time.monotonic() - t0
            assert elapsed >= STRICT_TIMEOUT - 0.5, f"{name} client cut after {elapsed:.1f}s"
            assert b"* BYE" in c.buf, f"{name} client closed without BYE: {c.buf!r}"
        active.ok("NOOP")
        active.logout()
    finally:
        for c in (silent, idler, active):
            c.close()


# ---------------------------------------------------------------- wrong passwords

LOCK_WINDOW = 4


@pytest.fixture(scope="module")
def lockout(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-lockout"),
                     conf={"auth_max_failures": "3",
                           "auth_failure_window": f"{LOCK_WINDOW}s"},
                     users=[(ALICE, ih.ALICE_PW), (ih.BOB, ih.BOB_PW)]) as e:
        yield e


def failed_login(env, how):
    """One failed login on a new connection: (Resp, seconds to answer)."""
    with env.raw() as c:
        t0 = time.monotonic()
        if how == "login":
            r = c.cmd(f"LOGIN {quote(ALICE)} {quote('guess-1')}")
        elif how == "unknown":
            r = c.cmd(f"LOGIN {quote('nobody@example.test')} {quote('guess-2')}")
        else:
            r, _ = authenticate(c, "PLAIN", b64(f"\0{ALICE}\0guess-3".encode()))
        elapsed = time.monotonic() - t0
        c.ok("NOOP")                    # the session is still usable
        return r, elapsed


def test_wrong_passwords_delayed_then_locked_out(lockout):
    """Three failures from 127.0.0.1 (in parallel, as a brute force would
    try) are each answered NO after a delay; then logins from that address
    are refused, even with the right password, for every user and on every
    port, until auth_failure_window has passed."""
    env = lockout
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda how: (how, failed_login(env, how)),
                                ("login", "unknown", "authenticate")))
    for how, (r, elapsed) in results:
        assert r.status == "NO", f"{how}: {r}"
        assert elapsed >= 0.5, f"{how} failure answered after {elapsed:.2f}s, expected a delay"
    with env.raw() as c:
        r = c.cmd(f"LOGIN {quote(ALICE)} {quote(ih.ALICE_PW)}")
        assert r.status == "NO", f"right password accepted while locked out: {r}"
        r = c.cmd(f"LOGIN {quote(ih.BOB)} {quote(ih.BOB_PW)}")
        assert r.status == "NO", f"other user accepted while locked out: {r}"
    with env.raw(tls=True) as c:
        r = c.cmd(f"LOGIN {quote(ALICE)} {quote(ih.ALICE_PW)}")
        assert r.status == "NO", f"imaps accepted while locked out: {r}"
    # (whether refused attempts count as failures is the server's choice:
    # wait for the window from the last attempt)
    last = time.monotonic()
    time.sleep(max(0.0, last + LOCK_WINDOW + 1.5 - time.monotonic()))
    with env.raw() as c:
        c.login(ALICE, ih.ALICE_PW)
        c.select("INBOX")
