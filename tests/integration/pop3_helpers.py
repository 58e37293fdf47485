"""Helpers shared by the POP3 integration tests (test_pop3*.py).

They build on imap_helpers.py (an instance with users and a running
server, delivery over SMTP, the Maildir readers) and add:

- pop3_env(): the same environment, waiting until POP3 greets too;
- Pop: a raw POP3 client that sends exactly the bytes a test gives and
  reads status lines and multi-line responses (dot-stuffing undone), so
  byte counts can be checked;
- lib()/lib_ssl(): Python's poplib where a real client is the point;
- expected_uidl(): the UIDL Dovecot's default format gives a message,
  from the mailbox's dovecot-uidlist.

Only the standard library (and pytest) is used.
"""

import contextlib
import poplib
import re
import socket
import ssl
import time
from pathlib import Path

import conftest as cf
import delivery_helpers as dh
import imap_helpers as ih
import smtp_helpers as sh

IO_TIMEOUT = 15.0
DOMAIN = ih.DOMAIN


class PeerClosed(AssertionError):
    pass


# ---------------------------------------------------------------- servers

class PopEnv:
    """An ImapEnv (see imap_helpers) with the POP3 ports."""

    def __init__(self, env):
        self.env = env
        self.inst = env.inst
        self.pop3 = env.inst.port("pop3")
        self.pop3s = env.inst.port("pop3s")

    def __getattr__(self, name):
        return getattr(self.env, name)

    def raw(self, user=None, *, tls=False, timeout=IO_TIMEOUT):
        """A Pop connection (to pop3s when TLS), logged in with USER/PASS
        when USER is given."""
        c = Pop(self.pop3s if tls else self.pop3, tls=tls, timeout=timeout)
        assert c.greeting.startswith(b"+OK"), f"greeting {c.greeting!r}"
        if user is not None:
            c.login(ih.addr(user), self.pw(user))
        return c

    def lib(self, user=None):
        """poplib.POP3 on the plain port, logged in when USER is given."""
        p = poplib.POP3("127.0.0.1", self.pop3, timeout=IO_TIMEOUT)
        if user is not None:
            p.user(ih.addr(user))
            p.pass_(self.pw(user))
        return p

    def lib_ssl(self, user=None):
        p = poplib.POP3_SSL("127.0.0.1", self.pop3s,
                            context=ih.insecure_context(), timeout=IO_TIMEOUT)
        if user is not None:
            p.user(ih.addr(user))
            p.pass_(self.pw(user))
        return p

    def deliver_wait(self, user, message, needle):
        """Deliver MESSAGE to USER over SMTP and wait until it is in the
        Maildir; returns the file's path."""
        self.env.deliver(user, message)
        files = dh.wait_files(self.maildir(user), needle)
        assert len(files) == 1, files
        return files[0]

    def assert_serves(self):
        """POP3 still serves: a new connection logs in and STATs; IMAP
        too; no sanitizer spoke."""
        with self.raw(ih.PROBE) as c:
            assert c.cmd("STAT").startswith(b"+OK "), c
            c.quit()
        self.env.assert_serves()


@contextlib.contextmanager
def pop3_env(tmpdir, conf=None, users=(), workers=2):
    """imap_env (see imap_helpers) that also waits for POP3's greeting."""
    with ih.imap_env(tmpdir, conf=conf, users=users, workers=workers) as env:
        port = env.inst.port("pop3")
        line = cf.wait_until(lambda: cf.try_greeting(port, timeout=1.0), 10)
        assert line and line.startswith("+OK"), (
            f"POP3 greeting on port {port} is {line!r}, expected '+OK ...'")
        yield PopEnv(env)


# ---------------------------------------------------------------- raw client

class Pop:
    """A raw POP3 connection to 127.0.0.1:PORT."""

    MAX_BUFFER = 64 << 20

    def __init__(self, port, *, tls=False, timeout=IO_TIMEOUT, greet=True):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.tls = False
        if tls:
            self._wrap()
        self.greeting = self.line() if greet else None

    def _wrap(self):
        self.sock = ih.insecure_context().wrap_socket(
            self.sock, server_hostname=cf.HOSTNAME)
        self.tls = True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 16)
        except (ConnectionResetError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise PeerClosed(f"server closed the connection; unread "
                             f"{self.buf[:500]!r}")
        self.buf += chunk
        if len(self.buf) > self.MAX_BUFFER:
            raise AssertionError(f"response too long: {self.buf[:300]!r}")

    def line(self):
        """One line, without its CRLF (which must be there)."""
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        assert b"\n" not in ln and b"\r" not in ln, f"bare CR/LF in {ln!r}"
        return ln

    def multiline(self):
        """The body of a multi-line response, dot-stuffing undone, as
        bytes with CRLF line ends; and the raw octets on the wire."""
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            self._fill()
        i = (b"\r\n" + self.buf).index(b"\r\n.\r\n")
        raw, self.buf = self.buf[:i], self.buf[i + 3:]
        lines = raw.split(b"\r\n")[:-1] if raw else []
        for ln in lines:
            assert not (ln.startswith(b".") and not ln.startswith(b"..")), (
                f"line not dot-stuffed: {ln[:80]!r}")
        body = b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n"
                        for ln in lines)
        return body, raw

    def cmd(self, line):
        """Send LINE with CRLF; return the status line."""
        self.send(line + ("\r\n" if isinstance(line, str) else b"\r\n"))
        return self.line()

    def ok(self, line):
        r = self.cmd(line)
        assert r.startswith(b"+OK"), f"{line!r}: {r!r}"
        return r

    def multi(self, line):
        """A command with a multi-line answer: (status line, body)."""
        r = self.ok(line)
        body, _ = self.multiline()
        return r, body

    def login(self, user, pw):
        self.ok(f"USER {user}")
        r = self.cmd(f"PASS {pw}")
        assert r.startswith(b"+OK"), f"login {user}: {r!r}"
        return r

    def quit(self):
        r = self.cmd("QUIT")
        assert self.closed_by_peer(), "still open after QUIT"
        return r

    def pending(self, wait=0.5):
        """What the server sends within WAIT seconds (raw bytes)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                self._fill()
            except (socket.timeout, ssl.SSLWantReadError):
                break
            except PeerClosed:
                break
            finally:
                self.sock.settimeout(self.timeout)
        out, self.buf = self.buf, b""
        return out

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

    def stls(self):
        r = self.ok("STLS")
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


# ---------------------------------------------------------------- values

def expected_uidl(maildir, base):
    """Dovecot's default UIDL of the message with base file name BASE:
    UID and UIDVALIDITY as %08X%08X, from dovecot-uidlist."""
    uids, fields = ih.uidlist(maildir)
    validity = int(fields["V"])
    for uid, name in uids.items():
        if name == base or name.split(":")[0] == base:
            return f"{uid:08X}{validity:08X}"
    raise AssertionError(f"{base} not in dovecot-uidlist of {maildir}: {uids}")


def base_name(path):
    """The base name of a Maildir file (without ":2,flags")."""
    return Path(path).name.split(":2,")[0]


def crlf(data):
    """DATA with every bare LF made CRLF (what RETR sends)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def status_code(line):
    """The RFC 2449 response code of a status line ("IN-USE"), or ""."""
    m = re.match(rb"[+-](?:OK|ERR) \[([^\]]*)\]", line)
    return m.group(1).decode() if m else ""
