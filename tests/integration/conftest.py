"""Shared fixtures for the postie integration tests.

The binary under test is $POSTIE_BIN (default: <repo>/build/postie). Every
test gets its own instance directory (made by `postie init`), and every test
that runs `postie serve` gets its own port base: a slot of 1000 ports in
20000-60000, reserved with a lock file so that concurrent runs of this suite
never collide, and checked free by binding every port the server will use.
Servers listen on 127.0.0.1 only and are always stopped at teardown.

Only the standard library and pytest are used.
"""

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import random
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POSTIE_BIN = os.environ.get("POSTIE_BIN") or str(REPO / "build" / "postie")

HOSTNAME = "mail.example.test"

# service name -> (standard port, implicit TLS, protocol)
SERVICES = {
    "smtp": (25, False, "smtp"),
    "submission": (587, False, "smtp"),
    "submissions": (465, True, "smtp"),
    "lmtp": (24, False, "smtp"),
    "imap": (143, False, "imap"),
    "imaps": (993, True, "imap"),
    "pop3": (110, False, "pop3"),
    "pop3s": (995, True, "pop3"),
}

# What a listener may say first. In the foundation every service answers
# "not available" and closes; once a protocol is implemented it greets
# instead. Either is a protocol-correct first line; nothing else is.
PROTOCOLS = {
    "smtp": {"unavailable": "421 ", "greeting": ("220 ",), "quit": b"QUIT\r\n"},
    "imap": {"unavailable": "* BYE", "greeting": ("* OK", "* PREAUTH"),
             "quit": b"a1 LOGOUT\r\n"},
    "pop3": {"unavailable": "-ERR", "greeting": ("+OK",), "quit": b"QUIT\r\n"},
}


def first_line_ok(service, line):
    """LINE is a protocol-correct first line for SERVICE."""
    proto = PROTOCOLS[SERVICES[service][2]]
    return bool(line) and line.startswith((proto["unavailable"],) + proto["greeting"])


def is_unavailable(service, line):
    return bool(line) and line.startswith(
        PROTOCOLS[SERVICES[service][2]]["unavailable"])


# Spare offsets inside a reserved slot, for tests that move a listener.
SPARE_OFFSETS = (200, 201, 202, 203)

CMD_TIMEOUT = 30        # seconds for any one CLI command
READY_TIMEOUT = 15      # seconds for `postie serve` to answer on SMTP
STOP_GRACE = 10         # seconds between SIGTERM and SIGKILL at teardown


def is_root():
    return os.geteuid() == 0


# ---------------------------------------------------------------- commands

def run_postie(args, *, config=None, input=None, env=None, timeout=CMD_TIMEOUT):
    """Run postie with ARGS (and -c CONFIG when given); return the result.

    stdin is always a pipe (never a terminal), so password prompts read it.
    """
    if not os.access(POSTIE_BIN, os.X_OK):
        pytest.fail(f"postie binary not found or not executable: {POSTIE_BIN}")
    argv = [POSTIE_BIN]
    if config is not None:
        argv += ["-c", str(config)]
    argv += [str(a) for a in args]
    full_env = dict(os.environ)
    full_env.pop("POSTIE_CONFIG", None)
    if env:
        full_env.update(env)
    return subprocess.run(argv, input=input if input is not None else "",
                          capture_output=True, text=True, env=full_env,
                          timeout=timeout)


def assert_ok(res, *, quiet=False):
    """The command succeeded (and printed nothing, when QUIET)."""
    assert res.returncode == 0, (
        f"{res.args} exited {res.returncode}\nstdout: {res.stdout!r}\n"
        f"stderr: {res.stderr!r}")
    if quiet:
        assert res.stdout == "", f"{res.args}: unexpected stdout {res.stdout!r}"
        assert res.stderr == "", f"{res.args}: unexpected stderr {res.stderr!r}"
    return res


def assert_error(res, *needles):
    """The contract's error form: exit 1, nothing on stdout, exactly one
    line on stderr starting with "postie: ", containing every NEEDLE."""
    assert res.returncode == 1, (
        f"{res.args} exited {res.returncode}, expected 1\n"
        f"stdout: {res.stdout!r}\nstderr: {res.stderr!r}")
    lines = res.stderr.splitlines()
    assert len(lines) == 1, f"{res.args}: stderr is not one line: {res.stderr!r}"
    assert lines[0].startswith("postie: "), f"{res.args}: stderr {res.stderr!r}"
    for n in needles:
        assert n in lines[0], f"{res.args}: {n!r} not in stderr {res.stderr!r}"
    return lines[0]


def set_conf(path, key, value):
    """Set KEY = VALUE in the config file PATH: replace the first assignment
    of KEY (and its continuation lines), or append one."""
    path = Path(path)
    lines = path.read_text().splitlines()
    out, done, skipping = [], False, False
    pat = re.compile(r"^" + re.escape(key) + r"\s*=")
    for line in lines:
        if skipping and line[:1] in (" ", "\t") and line.strip():
            continue
        skipping = False
        if not done and pat.match(line):
            out.append(f"{key} = {value}")
            done = skipping = True
            continue
        out.append(line)
    if not done:
        out.append(f"{key} = {value}")
    path.write_text("\n".join(out) + "\n")


def crypt_verify(password, hashed):
    """True when libcrypt's crypt(PASSWORD, HASHED) gives HASHED back."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), hashed.encode())
    return out is not None and out.decode() == hashed


# ---------------------------------------------------------------- instances

class Instance:
    """A directory made by `postie init`, with helpers to run commands on it."""

    def __init__(self, path, port_base):
        self.dir = Path(path)
        self.conf = self.dir / "postie.conf"
        self.db = self.dir / "postie.db"
        self.port_base = port_base

    def port(self, service):
        return self.port_base + SERVICES[service][0]

    def cli(self, *args, input=None, env=None):
        return run_postie(args, config=self.conf, input=input, env=env)

    def ok(self, *args, input=None):
        """Run a command that must succeed silently."""
        return assert_ok(self.cli(*args, input=input), quiet=True)

    def set(self, key, value):
        set_conf(self.conf, key, value)

    def sql(self, query, params=()):
        con = sqlite3.connect(str(self.db), timeout=10)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def maildir(self, address):
        local, domain = address.split("@")
        return self.dir / "mail" / domain / local


def init_instance(path, port_base, hostname=HOSTNAME):
    res = run_postie(["init", str(path), "--hostname", hostname,
                      "--port-base", str(port_base)])
    assert_ok(res)
    return Instance(path, port_base)


@pytest.fixture
def instance(tmp_path):
    """An instance for CLI tests; nothing listens, so any port base will do."""
    return init_instance(tmp_path / "inst", 40000)


# ---------------------------------------------------------------- ports

def _lock_dir():
    d = Path(tempfile.gettempdir()) / "postie-itest-ports"
    try:
        d.mkdir(mode=0o1777, exist_ok=True)
        os.chmod(d, 0o1777)
    except OSError:
        pass
    return d


def _ports_free(ports):
    socks = []
    try:
        for p in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def port_is_free(port):
    return _ports_free([port])


@contextlib.contextmanager
def reserved_port_base():
    """A free port base: N+25, N+587, ... (and the spare offsets) are free
    on 127.0.0.1. The slot stays locked (a lock file shared by concurrent
    runs of this suite) until the block ends. Usable from any fixture
    scope."""
    slots = list(range(20000, 60000, 1000))
    random.shuffle(slots)
    lockdir = _lock_dir()
    for base in slots:
        path = lockdir / f"{base}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        ports = [base + p for p, _, _ in SERVICES.values()]
        ports += [base + o for o in SPARE_OFFSETS]
        if not _ports_free(ports):
            os.close(fd)
            continue
        try:
            yield base
        finally:
            os.close(fd)
        return
    pytest.fail("no free port base in 20000-60000")


@pytest.fixture
def port_base():
    """A free port base for one test (see reserved_port_base)."""
    with reserved_port_base() as base:
        yield base


# ---------------------------------------------------------------- clients

def read_greeting(port, *, tls=False, timeout=5.0):
    """Connect to 127.0.0.1:PORT (TLS with no verification when TLS), read
    one line and return it decoded (without CRLF). Raises OSError when the
    connection fails; returns the partial text when the peer closes early."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=HOSTNAME)
        data = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    finally:
        sock.close()


def try_greeting(port, *, tls=False, timeout=2.0):
    """Like read_greeting, but None when nothing could be read."""
    try:
        line = read_greeting(port, tls=tls, timeout=timeout)
    except (OSError, ssl.SSLError):
        return None
    return line or None


def wait_until(pred, timeout, interval=0.05):
    """Poll PRED until it returns a true value or TIMEOUT passes; return the
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """(comm, state, ppid) of PID, or None when it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    lpar, rpar = data.index("("), data.rindex(")")
    comm = data[lpar + 1:rpar]
    rest = data[rpar + 2:].split()
    return comm, rest[0], int(rest[1])


def pid_alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] not in ("Z", "X")


def children_of(ppid):
    """{pid: comm} of the live children of PPID."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st is not None and st[2] == ppid and st[1] not in ("Z", "X"):
            out[int(entry)] = st[0]
    return out


def proc_uids(pid):
    """The four Uid values of /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no Uid line for {pid}")


class Server:
    """A running `postie serve` on an instance."""

    def __init__(self, inst, log_path):
        self.inst = inst
        self.log_path = Path(log_path)
        self.proc = None
        self.pgid = None

    # lifecycle
    def start(self):
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("POSTIE_CONFIG", None)
        self.proc = subprocess.Popen(
            [POSTIE_BIN, "-c", str(self.inst.conf), "serve"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            start_new_session=True, env=env)
        self.pgid = self.proc.pid
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Poll until the SMTP port answers with a 421 (foundation) or 220."""
        port = self.inst.port("smtp")

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            line = try_greeting(port, timeout=1.0)
            return "ready" if first_line_ok("smtp", line) else None

        state = wait_until(ready, timeout)
        assert state == "ready", (
            f"postie serve not ready on SMTP port {port} within {timeout}s "
            f"(state {state}, exit {self.proc.poll()})\nlog:\n{self.log()}")
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # Kill anything left in the session (children that outlived the
        # master, or that it never reaped).
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()

    # observation
    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def children(self):
        return children_of(self.proc.pid)

    def workers(self):
        return sorted(p for p, c in self.children().items()
                      if c == "postie-worker")

    def qmgrs(self):
        return sorted(p for p, c in self.children().items()
                      if c == "postie-qmgr")

    def greeting(self, service, timeout=5.0):
        _, tls, _ = SERVICES[service]
        return read_greeting(self.inst.port(service), tls=tls, timeout=timeout)

    def wait_children(self, workers, qmgrs=1, timeout=10):
        """Wait until the master has WORKERS workers and QMGRS queue managers."""
        def ok():
            return len(self.workers()) == workers and len(self.qmgrs()) == qmgrs
        assert wait_until(ok, timeout), (
            f"expected {workers} postie-worker and {qmgrs} postie-qmgr "
            f"children of {self.pid}, got {self.children()}\nlog:\n{self.log()}")


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(inst) starts `postie serve` on INST (not yet
    waited for); every server made is stopped at teardown."""
    servers = []

    def make(inst, log_name="serve.log"):
        s = Server(inst, tmp_path / log_name)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def server_instance(tmp_path, port_base):
    """An instance on a free port base with two worker processes."""
    inst = init_instance(tmp_path / "inst", port_base)
    inst.set("worker_processes", "2")
    return inst


@pytest.fixture
def server(server_instance, make_server):
    """A running, ready `postie serve` with two workers."""
    return make_server(server_instance).wait_ready()
