"""Helpers for the remote delivery tests (test_remote_delivery.py,
test_postfix_interop.py): several postie instances on one port slot, each
on its own loopback address, and small scripted peers.

The address plan. One slot of the suite's allocator (conftest) gives a
port base B. Every postie here uses the ports of B, each on its own
address: the sending instance on 127.0.0.1, "MX hosts" on 127.0.0.2,
127.0.0.3, ... All of them listen for SMTP on B+25, which is also the
senders' smtp_remote_port, and dnsmasq (dns_helpers) maps host names to
these addresses, so one DNS answer plus one port reaches any of them. The
slot's spare ports hold the rest: dnsmasq (B+200), scripted peers that
must not be on the MX port (B+201), a second SMTP listener (B+202).

A scripted peer (Sink) speaks just enough SMTP or LMTP to produce what a
real postie never does: a 451 on RCPT, no SMTPUTF8, AUTH without
STARTTLS, LMTP replies per recipient (postie's own LMTP server is not
there yet). It counts connections and records every command.

Only the standard library (and pytest) is used."""

import contextlib
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import conftest as cf
import delivery_helpers as dh
import smtp_helpers as sh

DNS_OFFSET = 200            # dnsmasq, UDP and TCP
PEER_OFFSET = 201           # a scripted peer beside the MX port
ALT_SMTP_OFFSET = 202       # a second SMTP listener of an MX host

LISTEN_KEYS = ("smtp_listen", "submission_listen", "submissions_listen",
               "lmtp_listen", "imap_listen", "imaps_listen", "pop3_listen",
               "pop3s_listen")
SERVICE_OF_KEY = {k: k[:-len("_listen")] for k in LISTEN_KEYS}


# ---------------------------------------------------------------- postie hosts

def greeting_at(addr, port, timeout=1.0):
    """The first line from ADDR:PORT, or None."""
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            data = b""
            deadline = time.monotonic() + timeout
            while b"\n" not in data and time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    return line or None


class AddrServer(cf.Server):
    """`postie serve` whose SMTP listener is on ADDR (not 127.0.0.1)."""

    def __init__(self, inst, log_path, addr):
        super().__init__(inst, log_path)
        self.addr = addr

    def wait_ready(self, timeout=cf.READY_TIMEOUT):
        port = self.inst.port("smtp")
        last = {}

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            last["line"] = greeting_at(self.addr, port)
            return "ready" if last["line"] else None

        state = cf.wait_until(ready, timeout)
        assert state == "ready", (
            f"postie serve not answering on {self.addr}:{port} within "
            f"{timeout}s (state {state}, exit {self.proc.poll()})\n"
            f"log:\n{self.log()}")
        assert last["line"].startswith("220 "), (
            f"greeting on {self.addr}:{port} is {last['line']!r}")
        return self


class AddrConn(sh.Conn):
    """smtp_helpers.Conn to ADDR:PORT instead of 127.0.0.1:PORT."""

    def __init__(self, addr, port, *, timeout=sh.IO_TIMEOUT, greet=True):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((addr, port), timeout=timeout)
        self.buf = b""
        self.tls = False
        self.last_cmd = None
        self.greeting = self.reply(check_enh=False) if greet else None


class Host(dh.DeliveryEnv):
    """A postie instance whose every listener is on ADDR (ports of the
    slot), with the helpers of delivery_helpers.DeliveryEnv (queue states,
    defer logs, Maildirs). Not started until start()."""

    def __init__(self, inst, addr, tmpdir, name):
        self.addr = addr
        self.name = name
        self.inst = inst
        self.dir = inst.dir
        self.smtp = inst.port("smtp")
        self.submission = inst.port("submission")
        self.submissions = inst.port("submissions")
        self.cert = inst.dir / "tls" / "cert.pem"
        self.keep_queued = False
        self.tmpdir = Path(tmpdir)
        self.servers = []
        self.server = None

    def start(self):
        n = len(self.servers) + 1
        s = AddrServer(self.inst, self.tmpdir / f"{self.name}-serve{n}.log",
                       self.addr)
        self.servers.append(s)
        self.server = s
        s.start()
        s.wait_ready()
        return s

    def stop(self):
        if self.server is not None:
            self.server.stop()

    def stop_all(self):
        for s in self.servers:
            s.stop()

    def connect(self, port=None, **kw):
        return AddrConn(self.addr, port or self.smtp, **kw)

    def send(self, sender, rcpts, message, port=None, mail_params=""):
        """One transaction on a new connection to this host's SMTP port;
        returns the queue ID."""
        with self.connect(port) as c:
            c.ehlo("client.example.org")
            qid = sh.qid_of(c.mail_transaction(sender, rcpts, message,
                                               mail_params=mail_params))
            c.quit()
        return qid

    def queue_list(self):
        """The output of `postie queue list`."""
        return cf.assert_ok(self.inst.cli("queue", "list")).stdout

    def connections(self, service="smtp"):
        """Connections this host's servers logged on SERVICE so far."""
        return self.log().count(f"smtp connect service={service} ")


def make_host(tmpdir, name, addr, base, *, hostname, conf=None,
              domains=(), users=(), aliases=(), extra_smtp=()):
    """Init an instance NAME in TMPDIR whose listeners are ADDR:<B+port>
    (EXTRA_SMTP: more SMTP listener addresses, "host:port"), with one
    worker, CONF (dict) set, DOMAINS, USERS ((address, password), ...)
    and ALIASES ((source, dest), ...). Returns a Host, not started."""
    inst = cf.init_instance(Path(tmpdir) / name, base, hostname=hostname)
    for key in LISTEN_KEYS:
        port = inst.port(SERVICE_OF_KEY[key])
        value = f"{addr}:{port}"
        if key == "smtp_listen" and extra_smtp:
            value = ", ".join([value, *extra_smtp])
        inst.set(key, value)
    inst.set("worker_processes", "1")
    for k, v in (conf or {}).items():
        inst.set(k, v)
    for d in domains:
        inst.ok("domain", "add", d)
    for address, pw in users:
        inst.ok("user", "add", address, input=pw + "\n")
    for src, dst in aliases:
        inst.ok("alias", "add", src, dst)
    return Host(inst, addr, tmpdir, name)


def sender_conf(base, dns, **more):
    """What every sending instance sets: the test DNS server, the MX port
    of the slot, and no retry before a test asks for one (flush)."""
    conf = {"dns_server": dns.server,
            "smtp_remote_port": str(base + 25),
            "smtp_connect_timeout": "5s",
            "queue_minimal_backoff": "1h",
            "queue_maximal_backoff": "1h"}
    conf.update(more)
    return conf


# ---------------------------------------------------------------- waiting

def wait_queue_text(host, needle, timeout=dh.DELIVERY_TIMEOUT):
    """Wait until `postie queue list` on HOST shows NEEDLE; return it."""
    out = {}

    def seen():
        out["text"] = host.queue_list()
        return needle in out["text"]

    ok = cf.wait_until(seen, timeout, interval=0.2)
    assert ok, (f"{needle!r} not in `postie queue list` of {host.name} "
                f"within {timeout}s:\n{out.get('text')}\n"
                f"log:\n{host.log()[-4000:]}")
    return out["text"]


def no_more_files(maildir, needle, n, settle=1.0):
    """After SETTLE seconds MAILDIR still holds exactly N messages with
    NEEDLE (nothing arrives twice)."""
    time.sleep(settle)
    files = dh.files_with(maildir, needle)
    assert len(files) == n, (f"{len(files)} messages with {needle!r} in "
                             f"{maildir}, expected {n}: {files}")
    return files


# ---------------------------------------------------------------- scripted peers

class PeerSession:
    """What one connection to a Sink did."""

    def __init__(self, peer):
        self.peer = peer            # (addr, port) or the socket path
        self.helo = None            # the EHLO/HELO/LHLO argument
        self.commands = []          # every command line, decoded
        self.transactions = []      # dicts: mail, rcpts (accepted), data, replies

    def verbs(self):
        return [c.split(" ", 1)[0].split(":", 1)[0].upper()
                for c in self.commands]


class Sink:
    """A scripted SMTP (or LMTP) server on ADDR:PORT, or on the unix
    socket PATH, run by threads of the test process until close().

    - EXTENSIONS: the EHLO/LHLO keywords (no SMTPUTF8, no STARTTLS unless
      listed; a STARTTLS command always gets 454, this peer has no TLS).
    - rcpt(address) -> reply line or None (250 2.1.5).
    - data_reply(transaction) -> reply line or None (250 2.0.0), for SMTP.
    - lmtp_reply(address) -> reply line or None (250 2.0.0): LMTP's reply
      per accepted recipient after the data.
    - AUTH, when offered and used, always gets 535 5.7.8.
    Lines are bounded (64 KiB) and so is the data (32 MiB)."""

    MAX_LINE = 65536
    MAX_DATA = 32 << 20

    def __init__(self, addr=None, port=None, *, path=None, lmtp=False,
                 name="sink.test", extensions=("PIPELINING", "8BITMIME",
                                               "ENHANCEDSTATUSCODES"),
                 rcpt=None, data_reply=None, lmtp_reply=None):
        self.lmtp = lmtp
        self.name = name
        self.extensions = list(extensions)
        self.rcpt = rcpt or (lambda a: None)
        self.data_reply = data_reply or (lambda t: None)
        self.lmtp_reply = lmtp_reply or (lambda a: None)
        self.sessions = []
        self.errors = []
        self.lock = threading.Lock()
        self.closing = False
        self.path = path
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(path))
            os.chmod(path, 0o777)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((addr, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.threads = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    # observation
    @property
    def connections(self):
        with self.lock:
            return len(self.sessions)

    def transactions(self):
        with self.lock:
            return [t for s in self.sessions for t in s.transactions]

    def sessions_with(self, helo):
        with self.lock:
            return [s for s in self.sessions if s.helo == helo]

    def received(self, needle):
        """Transactions whose data holds NEEDLE."""
        if isinstance(needle, str):
            needle = needle.encode()
        return [t for t in self.transactions()
                if t.get("data") is not None and needle in t["data"]]

    def rcpts_seen(self):
        """Every RCPT argument any session sent, accepted or not."""
        with self.lock:
            return [c for s in self.sessions for c in s.commands
                    if c.upper().startswith("RCPT TO:")]

    def close(self):
        self.closing = True
        self.thread.join(5)
        self.sock.close()
        for t in self.threads:
            t.join(5)
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    # serving
    def _accept(self):
        while not self.closing:
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sess = PeerSession(peer)
            with self.lock:
                self.sessions.append(sess)
            t = threading.Thread(target=self._serve, args=(conn, sess),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn, sess):
        conn.settimeout(30)
        reader = _LineReader(conn, self.MAX_LINE)
        try:
            self._session(conn, reader, sess)
        except (OSError, _Closed):
            pass
        except Exception as e:          # a bug here must fail the test
            self.errors.append(repr(e))
        finally:
            conn.close()

    def _say(self, conn, *lines):
        conn.sendall(b"".join(ln.encode("utf-8") + b"\r\n" for ln in lines))

    def _session(self, conn, rd, sess):
        self._say(conn, f"220 {self.name} {'LMTP' if self.lmtp else 'ESMTP'}"
                  f" scripted peer")
        tx = None
        hello = "LHLO" if self.lmtp else "EHLO"
        while not self.closing:
            line = rd.line().decode("utf-8", "replace")
            with self.lock:
                sess.commands.append(line)
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == hello or (verb == "HELO" and not self.lmtp):
                sess.helo = arg.strip()
                if verb == "HELO":
                    self._say(conn, f"250 {self.name}")
                else:
                    ext = [self.name] + self.extensions
                    self._say(conn, *[f"250-{e}" for e in ext[:-1]],
                              f"250 {ext[-1]}")
            elif sess.helo is None and verb not in ("QUIT", "NOOP", "RSET"):
                self._say(conn, "503 5.5.1 say hello first")
            elif verb == "STARTTLS":
                self._say(conn, "454 4.7.0 TLS not available")
            elif verb == "AUTH":
                self._say(conn, "535 5.7.8 authentication failed")
            elif verb == "MAIL":
                tx = {"mail": arg, "rcpts": [], "data": None, "replies": []}
                self._say(conn, "250 2.1.0 Ok")
            elif verb == "RCPT":
                if tx is None:
                    self._say(conn, "503 5.5.1 MAIL first")
                    continue
                m = re.match(r"(?i)TO:<([^>]*)>", arg)
                address = m.group(1) if m else arg
                reply = self.rcpt(address) or "250 2.1.5 Ok"
                if reply.startswith("2"):
                    tx["rcpts"].append(address)
                self._say(conn, reply)
            elif verb == "DATA":
                if tx is None or not tx["rcpts"]:
                    self._say(conn, "554 5.5.1 no valid recipients")
                    continue
                self._say(conn, "354 go ahead")
                tx["data"] = rd.data(self.MAX_DATA)
                with self.lock:
                    sess.transactions.append(tx)
                if self.lmtp:
                    replies = [self.lmtp_reply(r) or "250 2.0.0 Ok"
                               for r in tx["rcpts"]]
                else:
                    replies = [self.data_reply(tx) or "250 2.0.0 Ok queued"]
                tx["replies"] = replies
                self._say(conn, *replies)
                tx = None
            elif verb == "RSET":
                tx = None
                self._say(conn, "250 2.0.0 Ok")
            elif verb == "NOOP":
                self._say(conn, "250 2.0.0 Ok")
            elif verb == "QUIT":
                self._say(conn, "221 2.0.0 Bye")
                return
            else:
                self._say(conn, "502 5.5.2 command not implemented")


class _Closed(Exception):
    pass


class _LineReader:
    def __init__(self, conn, max_line):
        self.conn = conn
        self.max_line = max_line
        self.buf = b""

    def _fill(self):
        chunk = self.conn.recv(65536)
        if not chunk:
            raise _Closed()
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > self.max_line:
                raise _Closed()
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def data(self, limit):
        """The message up to CRLF.CRLF, dot-unstuffed."""
        lines = []
        size = 0
        while True:
            ln = self.line()
            if ln == b".":
                break
            if ln.startswith(b"."):
                ln = ln[1:]
            size += len(ln) + 2
            if size > limit:
                raise _Closed()
            lines.append(ln)
        return b"".join(ln + b"\r\n" for ln in lines)


# ---------------------------------------------------------------- misc

def unix_socket_dir():
    """A short directory for unix sockets (sun_path holds 108 bytes, and
    pytest's tmp paths can be long); removed by the caller."""
    d = tempfile.mkdtemp(prefix="postie-rt-")
    os.chmod(d, 0o755)
    return Path(d)


def write_transport(host, lines):
    """Write HOST's transport file (transport_file = transport) anew: a
    new file renamed over the old one, with an mtime a few seconds ahead
    of the old one, so that any change check notices it."""
    path = host.dir / "transport"
    old = path.stat().st_mtime if path.exists() else time.time()
    tmp = host.dir / "transport.new"
    tmp.write_text("".join(ln + "\n" for ln in lines))
    t = max(time.time(), old + 2)
    os.utime(tmp, (t, t))
    os.replace(tmp, path)
    return path
