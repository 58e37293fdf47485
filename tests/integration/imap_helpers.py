"""Helpers shared by the IMAP integration tests (test_imap_*.py).

They build on conftest.py (instances, port slots, the Server class) and
smtp_helpers.py (an SMTP client to deliver mail), and add what the IMAP
tests need:

- imap_env(): an instance with users and a running server whose IMAP
  service greets (module-scoped in each test file, so the suite stays fast);
- Raw: a raw IMAP client that sends exactly the bytes a test gives
  (synchronizing and non-synchronizing literals, IDLE, bad input) and
  returns every untagged response with the tagged one;
- parse(): the IMAP data syntax (atoms, quoted strings, literals, NIL,
  parenthesised lists) into Python values, and readers for FETCH, LIST,
  STATUS, SEARCH, EXPUNGE and EXISTS responses;
- norm_body()/norm_envelope(): BODYSTRUCTURE and ENVELOPE in a form where
  what RFC 3501 leaves to the server (case of MIME type names and
  parameter names, omitted trailing extension fields that are NIL) does
  not matter, so that a test can compare with a structure derived by hand.

Python's imaplib is used where a real client is the point (env.lib()).
Values from parse(): atoms are str, quoted strings and literals are bytes,
NIL is None, lists are Python lists.

Only the standard library (and pytest) is used.
"""

import contextlib
import datetime
import imaplib
import os
import re
import socket
import ssl
import time
from pathlib import Path

import conftest as cf
import smtp_helpers as sh

HOSTNAME = cf.HOSTNAME
DOMAIN = sh.DOMAIN
ALICE, ALICE_PW = sh.ALICE, sh.ALICE_PW
BOB, BOB_PW = sh.BOB, sh.BOB_PW
PROBE = "probe@example.test"        # used only to check that a server serves
PROBE_PW = "probe-pw"

IO_TIMEOUT = 15.0
# Folders every user gets on first login, with their SPECIAL-USE attribute.
SPECIAL = {"Sent": "\\sent", "Drafts": "\\drafts", "Junk": "\\junk",
           "Trash": "\\trash", "Archive": "\\archive"}
# Lines of a server log that mean a process crashed: sanitizer reports,
# and the master's notes on a child that died while the server ran.
CRASH_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
               "ERROR: UndefinedBehaviorSanitizer", ") killed by signal ",
               ") exited with status ")


def password(address):
    """The password imap_env gives each extra user."""
    return "pw-" + address.split("@")[0]


def addr(user):
    """USER as a full address (a bare local part is in example.test)."""
    return user if "@" in user else f"{user}@{DOMAIN}"


# ---------------------------------------------------------------- servers

class ImapServer(cf.Server):
    """A `postie serve` whose SMTP and IMAP services are expected to work."""

    def wait_ready(self, timeout=cf.READY_TIMEOUT):
        smtp = self.inst.port("smtp")
        imap = self.inst.port("imap")
        last = {}

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            s = cf.try_greeting(smtp, timeout=1.0)
            i = cf.try_greeting(imap, timeout=1.0)
            last.update(smtp=s, imap=i)
            return "ready" if s and i else None

        state = cf.wait_until(ready, timeout)
        assert state == "ready", (
            f"postie serve not answering on SMTP {smtp} and IMAP {imap} "
            f"within {timeout}s (state {state}, exit {self.proc.poll()}, "
            f"last {last})\nlog:\n{self.log()[-4000:]}")
        assert last["smtp"].startswith("220 "), (
            f"SMTP greeting is {last['smtp']!r}, expected 220")
        assert last["imap"].startswith("* OK"), (
            f"IMAP greeting on port {imap} is {last['imap']!r}, expected "
            f"'* OK ...' (is the IMAP server built?)")
        return self


def crash_reports(text):
    return [ln for ln in text.splitlines()
            if any(m in ln for m in CRASH_MARKS)]


class ImapEnv:
    """One instance with a running server and users (see imap_env)."""

    def __init__(self, inst, server, tmpdir, users):
        self.inst = inst
        self.server = server
        self.servers = [server]
        self.tmpdir = Path(tmpdir)
        self.users = dict(users)           # address -> password
        self.dir = inst.dir
        self.imap = inst.port("imap")
        self.imaps = inst.port("imaps")
        self.smtp = inst.port("smtp")
        self.cert = inst.dir / "tls" / "cert.pem"

    # lifecycle
    def log(self):
        return "".join(s.log() for s in self.servers)

    def restart(self):
        """Stop the server (SIGTERM, wait) and start a new one on the same
        instance; wait until SMTP and IMAP greet."""
        self.server.stop()
        s = ImapServer(self.inst, self.tmpdir / f"serve{len(self.servers) + 1}.log")
        self.servers.append(s)
        self.server = s
        s.start()
        s.wait_ready()
        return s

    def check_crashes(self):
        bad = crash_reports(self.log())
        assert not bad, ("a crash in the server log:\n" +
                         "\n".join(bad[:20]) + "\n" + self.log()[-6000:])

    # clients
    def pw(self, user):
        return self.users[addr(user)]

    def raw(self, user=None, *, tls=False, port=None, select=None,
            timeout=IO_TIMEOUT):
        """A Raw connection (to imaps when TLS), logged in as USER when
        given, with SELECT when given."""
        c = Raw(port or (self.imaps if tls else self.imap), tls=tls,
                timeout=timeout)
        assert c.greeting.startswith(b"* OK"), f"greeting {c.greeting!r}"
        if user is not None:
            c.login(addr(user), self.pw(user))
        if select is not None:
            c.select(select)
        return c

    def lib(self, user=None, *, tls=False):
        """An imaplib client (IMAP4, or IMAP4_SSL when TLS), logged in as
        USER when given."""
        if tls:
            m = imaplib.IMAP4_SSL("127.0.0.1", self.imaps,
                                  ssl_context=insecure_context(),
                                  timeout=IO_TIMEOUT)
        else:
            m = imaplib.IMAP4("127.0.0.1", self.imap, timeout=IO_TIMEOUT)
        if user is not None:
            typ, data = m.login(addr(user), self.pw(user))
            assert typ == "OK", (typ, data)
        return m

    def assert_serves(self):
        """The server still serves: its master runs, a new connection gets
        a greeting, logs in and selects INBOX, and no process crashed."""
        assert self.server.proc.poll() is None, (
            f"postie serve exited with {self.server.proc.poll()}\n"
            f"log:\n{self.log()[-4000:]}")
        with self.raw(PROBE) as c:
            r = c.cmd("SELECT INBOX")
            assert r.status == "OK", r
            c.logout()
        self.check_crashes()

    # mail
    def maildir(self, user, folder=None):
        root = self.inst.maildir(addr(user))
        return root / ("." + folder) if folder else root

    def deliver(self, rcpt, message, sender="sender@client.example.org"):
        """Send MESSAGE to RCPT over SMTP (port 25); returns the time the
        server's 250 for the message arrived (time.monotonic())."""
        with sh.Conn(self.smtp) as c:
            c.ehlo("client.example.org")
            r = c.mail_transaction(sender, [addr(rcpt)], message)
            t = time.monotonic()
            sh.qid_of(r)
            c.quit()
        return t


@contextlib.contextmanager
def imap_env(tmpdir, conf=None, users=(), workers=2):
    """Init an instance in TMPDIR on a free port base, set CONF (dict), add
    the domain example.test with the probe user and USERS (local parts or
    addresses, with password(address), or (address, password) pairs),
    start the server and wait until SMTP and IMAP greet; stop it at the
    end and fail on any crash (a sanitizer report, a child that died) in
    its log.

    Failed logins are counted per client address across all protocols, so
    auth_max_failures is raised unless CONF sets it: only the lockout tests
    run into it."""
    tmpdir = Path(tmpdir)
    settings = {"auth_max_failures": "1000"}
    settings.update(conf or {})
    with cf.reserved_port_base() as base:
        inst = cf.init_instance(tmpdir / "inst", base)
        inst.set("worker_processes", str(workers))
        for k, v in settings.items():
            inst.set(k, v)
        inst.ok("domain", "add", DOMAIN)
        all_users = {}
        for u in [(PROBE, PROBE_PW)] + list(users):
            a, pw = (addr(u[0]), u[1]) if isinstance(u, tuple) else \
                (addr(u), password(addr(u)))
            inst.ok("user", "add", a, input=pw + "\n")
            all_users[a] = pw
        server = ImapServer(inst, tmpdir / "serve1.log")
        env = ImapEnv(inst, server, tmpdir, all_users)
        server.start()
        try:
            server.wait_ready()
            yield env
        finally:
            for s in env.servers:
                s.stop()
        env.check_crashes()


class Reused:
    """One connection shared by the tests of a module (each login costs a
    password hash): get() returns it once a NOOP shows that it still
    works, else a new one from MAKE() (after a test that broke or closed
    it)."""

    def __init__(self, make):
        self.make = make
        self.conn = None

    def get(self):
        if self.conn is not None:
            try:
                if self.conn.buf == b"" and self.conn.cmd("NOOP").status == "OK":
                    return self.conn
            except (AssertionError, OSError):
                pass
            self.conn.close()
        self.conn = self.make()
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------- raw client

class PeerClosed(AssertionError):
    pass


class Lit:
    """A literal argument for Raw.cmd_lit: synchronizing ({n}, wait for the
    server's "+") unless SYNC is false ({n+}, LITERAL+)."""

    def __init__(self, data, sync=True):
        self.data = data.encode() if isinstance(data, str) else data
        self.sync = sync


class Resp:
    """The tagged completion of one command and the untagged responses
    (raw bytes, literals included) that came before it."""

    def __init__(self, tag, line, untagged):
        self.tag = tag
        self.line = line
        self.untagged = untagged
        parts = line.split(b" ", 2)
        self.status = parts[1].decode("ascii", "replace").upper() if len(parts) > 1 else ""
        self.text = parts[2].decode("utf-8", "replace") if len(parts) > 2 else ""
        m = re.match(r"\[([^\]]*)\]", self.text)
        self.code = m.group(1) if m else ""

    @property
    def codename(self):
        return self.code.split(" ")[0].upper() if self.code else ""

    def __repr__(self):
        u = [x[:300] for x in self.untagged[:40]]
        return f"Resp({self.line!r}, untagged={u!r})"

    # readers of the untagged responses
    def numbered(self, kind):
        """N of every "* N KIND" (EXISTS, RECENT, EXPUNGE), in order."""
        return numbered(self.untagged, kind)

    def fetches(self):
        return fetches(self.untagged)

    def search(self):
        return search_result(self.untagged)

    def lists(self, kind="LIST"):
        return lists(self.untagged, kind)

    def statuses(self):
        return statuses(self.untagged)

    def untagged_named(self, kind):
        """The untagged "* KIND ..." responses (KIND after the star)."""
        k = kind.upper().encode()
        return [u for u in self.untagged
                if u[2:].split(b" ", 1)[0].upper() == k]

    def codes(self):
        """Response codes of every untagged OK/NO/BAD and the tagged line."""
        out = []
        for u in self.untagged + [b"x " + self.line.split(b" ", 1)[1]]:
            m = re.match(rb"\S+ (OK|NO|BAD) \[([^\]]*)\]", u, re.I)
            if m:
                out.append(m.group(2).decode("utf-8", "replace"))
        return out


class Raw:
    """A raw IMAP connection to 127.0.0.1:PORT."""

    MAX_BUFFER = 64 << 20

    def __init__(self, port, *, tls=False, timeout=IO_TIMEOUT, greet=True):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.n = 0
        self.tls = False
        self.idle_tag = None
        self.idle_seen = []
        if tls:
            self._wrap()
        self.greeting = self.read_response() if greet else None

    # io
    def _wrap(self):
        self.sock = insecure_context().wrap_socket(self.sock,
                                                    server_hostname=HOSTNAME)
        self.tls = True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 16)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise PeerClosed(f"server closed the connection; unread {self.buf[:500]!r}")
        self.buf += chunk
        if len(self.buf) > self.MAX_BUFFER:
            raise AssertionError(f"response too long: {self.buf[:300]!r}")

    def _complete(self):
        """Length of the first complete response in buf (literals
        included, CRLF excluded from the count returned as END), or None."""
        pos = 0
        while True:
            nl = self.buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            m = re.search(rb"\{(\d+)\}$", self.buf[pos:nl])
            if not m:
                return nl
            n = int(m.group(1))
            if len(self.buf) < nl + 2 + n:
                return None
            pos = nl + 2 + n

    def read_response(self, timeout=None):
        """One response line with its literals (bytes, without the final
        CRLF). With TIMEOUT, None when nothing complete arrived in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            end = self._complete()
            if end is not None:
                r, self.buf = self.buf[:end], self.buf[end + 2:]
                return r
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    self._fill()
                except (socket.timeout, ssl.SSLWantReadError):
                    return None
                finally:
                    self.sock.settimeout(self.timeout)
            else:
                self._fill()

    def pending(self, wait=0.5):
        """Every response the server sends within WAIT seconds (up to the
        end of the connection, if it comes first)."""
        out = []
        deadline = time.monotonic() + wait
        while True:
            try:
                r = self.read_response(timeout=max(0.0, deadline - time.monotonic()))
            except PeerClosed:
                return out
            if r is None:
                return out
            out.append(r)

    def closed_by_peer(self, wait=5.0):
        """True when the server closes the connection within WAIT seconds
        (what it sends before is kept in buf)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return False
            except (OSError, ssl.SSLError):
                return True
            finally:
                self.sock.settimeout(self.timeout)
            if not chunk:
                return True
            self.buf += chunk
        return False

    # commands
    def next_tag(self):
        self.n += 1
        return f"t{self.n}"

    def wait(self, tag, untagged=None):
        """Read until TAG's completion; untagged responses are collected."""
        untagged = [] if untagged is None else untagged
        t = tag.encode() + b" "
        while True:
            r = self.read_response()
            if r.startswith(t):
                return Resp(tag, r, untagged)
            if r.startswith(b"+"):
                raise AssertionError(f"unexpected continuation {r!r} "
                                     f"while waiting for {tag}")
            untagged.append(r)

    def cmd(self, line, tag=None):
        """Send TAG LINE (str or bytes) and return its Resp."""
        tag = tag or self.next_tag()
        if isinstance(line, str):
            line = line.encode()
        self.send(tag.encode() + b" " + line + b"\r\n")
        return self.wait(tag)

    def cmd_lit(self, parts, tag=None):
        """A command made of PARTS (str/bytes, and Lit for literals). A
        synchronizing literal waits for the continuation; when the server
        answers with the tagged completion instead (the literal refused),
        that is returned at once and the rest is not sent."""
        tag = tag or self.next_tag()
        untagged = []
        out = tag.encode() + b" "
        for p in parts:
            if isinstance(p, Lit):
                if p.sync:
                    self.send(out + b"{%d}\r\n" % len(p.data))
                    out = b""
                    while True:
                        r = self.read_response()
                        if r.startswith(b"+"):
                            break
                        if r.startswith(tag.encode() + b" "):
                            return Resp(tag, r, untagged)
                        untagged.append(r)
                    self.send(p.data)
                else:
                    out += b"{%d+}\r\n" % len(p.data) + p.data
            else:
                out += p.encode() if isinstance(p, str) else p
        self.send(out + b"\r\n")
        return self.wait(tag, untagged)

    def ok(self, line):
        r = self.cmd(line)
        assert r.status == "OK", f"{line!r}: {r}"
        return r

    def login(self, user, pw):
        r = self.cmd(f"LOGIN {quote(user)} {quote(pw)}")
        assert r.status == "OK", f"LOGIN {user}: {r}"
        return r

    def select(self, box, examine=False):
        """SELECT (or EXAMINE) BOX; must succeed. Returns a Selected."""
        r = self.cmd(f"{'EXAMINE' if examine else 'SELECT'} {quote(box)}")
        assert r.status == "OK", f"SELECT {box}: {r}"
        return Selected(r)

    def append(self, box, message, flags=None, date=None, sync=True):
        """APPEND MESSAGE to BOX; must succeed. Returns the Resp."""
        parts = [f"APPEND {quote(box)}"]
        if flags is not None:
            parts.append(f" ({' '.join(flags)})")
        if date is not None:
            parts.append(f' "{date}"')
        parts += [" ", Lit(message, sync=sync)]
        r = self.cmd_lit(parts)
        assert r.status == "OK", f"APPEND to {box}: {r}"
        return r

    def fetch(self, seqs, items, uid=False):
        """FETCH (or UID FETCH); must succeed; {seq: {ITEM: value}} with
        the items of every FETCH response for the same message merged."""
        r = self.cmd(f"{'UID ' if uid else ''}FETCH {seqs} {items}")
        assert r.status == "OK", f"FETCH {seqs} {items}: {r}"
        out = {}
        for seq, d in r.fetches():
            out.setdefault(seq, {}).update(d)
        return out

    def uids(self):
        """The UIDs of the selected mailbox, in sequence order."""
        r = self.cmd("FETCH 1:* UID")
        if r.status != "OK":
            return []
        got = {}
        for seq, d in r.fetches():
            if "UID" in d:
                got[seq] = int(d["UID"])
        return [got[k] for k in sorted(got)]

    def logout(self):
        r = self.cmd("LOGOUT")
        assert r.status == "OK", r
        assert any(u.upper().startswith(b"* BYE") for u in r.untagged), (
            f"LOGOUT without an untagged BYE: {r}")
        return r

    # IDLE (RFC 2177)
    def idle(self):
        tag = self.next_tag()
        self.send(f"{tag} IDLE\r\n")
        self.idle_seen = []
        while True:
            r = self.read_response()
            if r.startswith(b"+"):
                break
            assert not r.startswith(tag.encode() + b" "), f"IDLE refused: {r!r}"
            self.idle_seen.append(r)
        self.idle_tag = tag

    def idle_wait(self, pred, timeout):
        """Read untagged responses during IDLE until PRED(response) is true;
        return it, or None after TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        for r in self.idle_seen:
            if pred(r):
                return r
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r = self.read_response(timeout=left)
            if r is None:
                return None
            self.idle_seen.append(r)
            if pred(r):
                return r

    def idle_done(self):
        self.send(b"DONE\r\n")
        tag, self.idle_tag = self.idle_tag, None
        r = self.wait(tag, list(self.idle_seen))
        assert r.status == "OK", f"IDLE ... DONE: {r}"
        return r

    # STARTTLS (RFC 3501 6.2.1)
    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.status == "OK", f"STARTTLS: {r}"
        assert self.buf == b"", f"data after the STARTTLS reply: {self.buf!r}"
        self._wrap()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Selected:
    """What SELECT/EXAMINE reported."""

    def __init__(self, r):
        self.resp = r
        ex = r.numbered("EXISTS")
        rc = r.numbered("RECENT")
        assert ex and rc, f"SELECT without EXISTS or RECENT: {r}"
        self.exists = ex[-1]
        self.recent = rc[-1]
        codes = {c.split(" ", 1)[0].upper(): c for c in r.codes()}
        self.codes = codes
        assert "UIDVALIDITY" in codes, f"SELECT without [UIDVALIDITY]: {r}"
        assert "UIDNEXT" in codes, f"SELECT without [UIDNEXT]: {r}"
        self.uidvalidity = int(codes["UIDVALIDITY"].split()[1])
        self.uidnext = int(codes["UIDNEXT"].split()[1])
        self.unseen = int(codes["UNSEEN"].split()[1]) if "UNSEEN" in codes else None
        self.read_only = r.codename == "READ-ONLY"
        self.read_write = r.codename == "READ-WRITE"
        flags = r.untagged_named("FLAGS")
        assert flags, f"SELECT without an untagged FLAGS: {r}"
        self.flags = flagset(parse(flags[-1][2:])[1])
        self.permanentflags = None
        if "PERMANENTFLAGS" in codes:
            self.permanentflags = flagset(
                parse(codes["PERMANENTFLAGS"].split(" ", 1)[1].encode())[0])


def quote(s):
    """S as an IMAP quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- parser

class ParseError(AssertionError):
    pass


def parse(data):
    """The IMAP values in DATA (bytes) as a list: atoms as str (NIL as
    None), quoted strings and literals as bytes, lists as lists. An atom
    may hold a bracketed section with spaces (BODY[HEADER.FIELDS (A B)])
    and a <partial> suffix."""
    if isinstance(data, str):
        data = data.encode()
    pos = 0
    n = len(data)
    stack = [[]]
    while pos < n:
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            if len(stack) < 2:
                raise ParseError(f"unbalanced ')' at {pos} in {data[:300]!r}")
            lst = stack.pop()
            stack[-1].append(lst)
            pos += 1
        elif c == b'"':
            pos += 1
            out = bytearray()
            while True:
                if pos >= n:
                    raise ParseError(f"unterminated string in {data[:300]!r}")
                ch = data[pos]
                if ch == 0x5c:
                    out.append(data[pos + 1])
                    pos += 2
                elif ch == 0x22:
                    pos += 1
                    break
                else:
                    out.append(ch)
                    pos += 1
            stack[-1].append(bytes(out))
        elif c == b"{" or (c == b"~" and data[pos + 1:pos + 2] == b"{"):
            m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(data, pos)
            if not m:
                raise ParseError(f"bad literal at {pos} in {data[:300]!r}")
            ln = int(m.group(1))
            stack[-1].append(data[m.end():m.end() + ln])
            pos = m.end() + ln
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                pos += 1
            atom = data[start:pos].decode("utf-8", "replace")
            stack[-1].append(None if atom.upper() == "NIL" else atom)
    if len(stack) != 1:
        raise ParseError(f"unbalanced '(' in {data[:300]!r}")
    return stack[0]


def s(v):
    """A parsed string value as str (None stays None)."""
    if v is None or isinstance(v, str):
        return v
    return v.decode("utf-8", "replace")


def flagset(v):
    """A parsed flag list as a set of lower-case names (flags and mailbox
    attributes are case-insensitive)."""
    return {s(f).lower() for f in (v or [])}


def numbered(untagged, kind):
    k = kind.upper().encode()
    out = []
    for u in untagged:
        m = re.match(rb"\* (\d+) (\S+)", u)
        if m and m.group(2).upper() == k:
            out.append(int(m.group(1)))
    return out


def item_key(name):
    """A FETCH item name in one spelling: upper case, single spaces, and
    no space after '(' or before ')'."""
    k = re.sub(r"\s+", " ", name.upper())
    return k.replace("( ", "(").replace(" )", ")")


def fetch_dict(items):
    if not isinstance(items, list) or len(items) % 2:
        raise ParseError(f"bad FETCH item list {items!r}")
    return {item_key(items[i]): items[i + 1] for i in range(0, len(items), 2)}


def fetches(untagged):
    """[(seq, {ITEM: value})] of the untagged FETCH responses."""
    out = []
    for u in untagged:
        m = re.match(rb"\* (\d+) FETCH ", u, re.I)
        if m:
            v = parse(u[m.end():])
            assert len(v) == 1, f"FETCH response with trailing data: {u[:300]!r}"
            out.append((int(m.group(1)), fetch_dict(v[0])))
    return out


def search_result(untagged):
    """The numbers of the untagged SEARCH response(s)."""
    out = None
    for u in untagged:
        m = re.match(rb"\* SEARCH\b(.*)$", u, re.I | re.S)
        if m:
            out = (out or []) + [int(x) for x in m.group(1).split()]
    assert out is not None, f"no untagged SEARCH in {untagged!r}"
    return out


def lists(untagged, kind="LIST"):
    """{name: (attributes, delimiter)} of the untagged LIST/LSUB responses
    (name as str, attributes lower case)."""
    out = {}
    k = kind.upper().encode()
    for u in untagged:
        if u[2:].split(b" ", 1)[0].upper() != k:
            continue
        v = parse(u[2 + len(k):])
        attrs, delim, name = v[0], v[1], v[2]
        out[s(name)] = (flagset(attrs), s(delim))
    return out


def statuses(untagged):
    """{mailbox: {ITEM: int}} of the untagged STATUS responses."""
    out = {}
    for u in untagged:
        if u[2:9].upper() != b"STATUS ":
            continue
        v = parse(u[9:])
        name, items = s(v[0]), v[1]
        out[name] = {items[i].upper(): int(items[i + 1])
                     for i in range(0, len(items), 2)}
    return out


# ---------------------------------------------------------------- structures

def _ci(v):
    """Upper case of a string value (for names RFC 2045 makes
    case-insensitive)."""
    return s(v).upper() if v is not None else None


def _params(v):
    """A body parameter list as a list of (NAME, value): names upper case,
    values as given except CHARSET (case-insensitive), order kept."""
    if v is None:
        return None
    out = []
    for i in range(0, len(v), 2):
        name = _ci(v[i])
        val = s(v[i + 1])
        if name == "CHARSET" and val is not None:
            val = val.upper()
        out.append((name, val))
    return out


def _disposition(v):
    if v is None:
        return None
    return (_ci(v[0]), _params(v[1]))


def _trim_ext(ext):
    """Extension fields may be left out from the end when NIL (RFC 3501
    body-ext-1part / body-ext-mpart are optional from the left)."""
    ext = list(ext)
    while ext and ext[-1] is None:
        ext.pop()
    return ext


def norm_body(b):
    """A parsed BODY or BODYSTRUCTURE in a comparable form."""
    assert isinstance(b, list) and b, f"bad body {b!r}"
    if isinstance(b[0], list):
        parts = []
        i = 0
        while i < len(b) and isinstance(b[i], list):
            parts.append(norm_body(b[i]))
            i += 1
        subtype = _ci(b[i])
        return ("multipart", parts, subtype, _ext(b[i + 1:], _params))
    typ, sub = _ci(b[0]), _ci(b[1])
    basic = [typ, sub, _params(b[2]), s(b[3]), s(b[4]), _ci(b[5]), int(b[6])]
    rest = b[7:]
    if typ == "TEXT":
        basic.append(int(rest[0]))
        rest = rest[1:]
    elif typ == "MESSAGE" and sub in ("RFC822", "GLOBAL"):
        basic += [norm_envelope(rest[0]), norm_body(rest[1]), int(rest[2])]
        rest = rest[3:]
    return ("part", basic, _ext(rest, s))


def _ext(rest, first):
    """Extension data: FIRST(md5 or parameters), disposition, language,
    location and anything after, with trailing NILs dropped."""
    out = []
    for j, x in enumerate(rest):
        if j == 0:
            out.append(first(x))
        elif j == 1:
            out.append(_disposition(x))
        elif j == 2:
            out.append(_lang(x))
        else:
            out.append(x if isinstance(x, list) else s(x))
    return _trim_ext(out)


def _lang(v):
    if v is None:
        return None
    if isinstance(v, list):
        return [s(x).lower() for x in v]
    return [s(v).lower()]


def _addresses(v):
    if v is None:
        return None
    return [tuple(s(x) for x in a) for a in v]


def norm_envelope(e):
    """A parsed ENVELOPE as a tuple of str/None and address tuples."""
    assert isinstance(e, list) and len(e) == 10, f"bad envelope {e!r}"
    return (s(e[0]), s(e[1])) + tuple(_addresses(x) for x in e[2:8]) + \
        (s(e[8]), s(e[9]))


# ---------------------------------------------------------------- dates

IMAP_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
               "Sep", "Oct", "Nov", "Dec"]


def parse_internaldate(v):
    """An INTERNALDATE value ("dd-Mon-yyyy hh:mm:ss +zzzz") as an aware
    datetime."""
    txt = s(v).strip()
    m = re.fullmatch(r"\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", txt)
    assert m, f"bad INTERNALDATE {txt!r}"
    mon = [x.lower() for x in IMAP_MONTHS].index(m.group(2).lower()) + 1
    off = datetime.timedelta(hours=int(m.group(8)), minutes=int(m.group(9)))
    if m.group(7) == "-":
        off = -off
    return datetime.datetime(int(m.group(3)), mon, int(m.group(1)),
                             int(m.group(4)), int(m.group(5)), int(m.group(6)),
                             tzinfo=datetime.timezone(off))


# ---------------------------------------------------------------- Maildir

def drop_into_new(maildir, data, name=None):
    """Put DATA into MAILDIR/new the way another delivery agent would:
    written in tmp/, then renamed; owned like the Maildir. Returns the
    path."""
    maildir = Path(maildir)
    st = os.stat(maildir)
    name = name or f"{int(time.time())}.M{time.time_ns() % 1000000}P{os.getpid()}.dropper"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(data)
    os.chown(tmp, st.st_uid, st.st_gid)
    dest = maildir / "new" / name
    os.rename(tmp, dest)
    return dest


def uidlist(maildir):
    """{uid: base file name} and the header fields of MAILDIR's
    dovecot-uidlist (version 3: "3 V<validity> N<next> ..." then
    "<uid> [:key ...]:<file name>" lines)."""
    text = (Path(maildir) / "dovecot-uidlist").read_text()
    lines = text.splitlines()
    head = lines[0].split()
    assert head[0] == "3", f"dovecot-uidlist version {head[0]!r}: {lines[0]!r}"
    fields = {h[0]: h[1:] for h in head[1:]}
    out = {}
    for ln in lines[1:]:
        if not ln.strip():
            continue
        m = re.match(r"(\d+)(?: [^:]*)?:(.*)$", ln)
        assert m, f"bad dovecot-uidlist line {ln!r}"
        out[int(m.group(1))] = m.group(2)
    return out, fields


def maildir_names(maildir):
    """{base name: info (the letters after ":2,")} of the messages in
    MAILDIR's new/ and cur/."""
    out = {}
    for sub in ("new", "cur"):
        d = Path(maildir) / sub
        if not d.is_dir():
            continue
        for f in os.listdir(d):
            if f.startswith("."):
                continue
            base, _, info = f.partition(":2,")
            out[base] = info
    return out
