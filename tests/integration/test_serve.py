"""`postie serve`: listeners, the process model, restarts, reload, shutdown
and privilege separation."""

import fcntl
import os
import pwd
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (HOSTNAME, PROTOCOLS, SERVICES, SPARE_OFFSETS,
                      first_line_ok, init_instance, is_unavailable,
                      is_root, pid_alive, port_is_free, proc_uids, read_greeting,
                      try_greeting, wait_until)


def assert_serves(srv, service="smtp", timeout=5.0):
    """SERVICE answers with a protocol-correct first line (polling until
    TIMEOUT): its "not available" line, or its greeting once implemented."""
    tls = SERVICES[service][1]
    port = srv.inst.port(service)
    line = wait_until(lambda: try_greeting(port, tls=tls), timeout)
    assert first_line_ok(service, line), (
        f"{service} on port {port}: got {line!r}\nlog:\n{srv.log()}")


def tls_client(sock):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock, server_hostname=HOSTNAME)


def read_until_closed(sock, timeout=5.0):
    """Everything the peer sends until it closes; None if it stays open."""
    data = b""
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except (ssl.SSLError, ConnectionResetError):
            return data
        except socket.timeout:
            return None
        if not chunk:
            return data
        data += chunk
    return None


# ------------------------------------------------------------------ listeners

@pytest.mark.parametrize("service", list(SERVICES))
def test_listener_answers_then_closes(server, service):
    """The first line is "not available" (then the server closes), or, for
    a protocol implemented since the foundation, its greeting (and the
    server closes after the client's QUIT/LOGOUT)."""
    tls = SERVICES[service][1]
    sock = socket.create_connection(("127.0.0.1", server.inst.port(service)),
                                    timeout=5)
    try:
        if tls:
            sock = tls_client(sock)
        sock.settimeout(5)
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        first = data.split(b"\n", 1)[0]
        assert b"\n" in data and first.endswith(b"\r"), \
            f"{service}: no CRLF-terminated first line: {data!r}"
        line = first.decode("utf-8", "replace")
        assert first_line_ok(service, line), f"{service}: {line!r}"
        if not is_unavailable(service, line):
            sock.sendall(PROTOCOLS[SERVICES[service][2]]["quit"])
        rest = read_until_closed(sock)
        assert rest is not None, f"{service}: connection still open after {line!r}"
        assert rest == b"" or rest.endswith(b"\r\n"), f"{service}: {rest!r}"
    finally:
        sock.close()


@pytest.mark.parametrize("service", [s for s, v in SERVICES.items() if v[1]])
def test_implicit_tls_uses_instance_certificate(server, service):
    pem = (server.inst.dir / "tls" / "cert.pem").read_text()
    want = ssl.PEM_cert_to_DER_cert(pem)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", server.inst.port(service)),
                                  timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOSTNAME) as tls:
            assert tls.getpeercert(binary_form=True) == want


def local_ipv4_addrs():
    """The IPv4 addresses of this host's interfaces (SIOCGIFADDR)."""
    out = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                res = fcntl.ioctl(s.fileno(), 0x8915, req)   # SIOCGIFADDR
            except OSError:
                continue
            out.add(socket.inet_ntoa(res[20:24]))
    return out


def test_listens_on_loopback_only(server):
    """Nothing of ours answers on a non-loopback address of this host."""
    addrs = {a for a in local_ipv4_addrs() if not a.startswith("127.")}
    if not addrs:
        pytest.skip("this host has no non-loopback IPv4 address")
    for a in sorted(addrs):
        for svc in ("smtp", "imap", "pop3s"):
            with pytest.raises(OSError):
                socket.create_connection((a, server.inst.port(svc)),
                                         timeout=1).close()


def test_survives_abrupt_and_garbage_clients(server):
    server.wait_children(workers=2)     # both up before we count them
    workers = server.workers()
    for i in range(30):
        s = socket.create_connection(("127.0.0.1", server.inst.port("smtp")),
                                     timeout=5)
        if i % 3 == 0:
            s.sendall(b"\x00\xff garbage\r\n" * 100)
        elif i % 3 == 1:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")   # RST on close
        s.close()
    # A TLS listener fed plain text.
    with socket.create_connection(("127.0.0.1", server.inst.port("imaps")),
                                  timeout=5) as s:
        s.sendall(b"a001 CAPABILITY\r\n")
        s.settimeout(5)
        try:
            s.recv(100)
        except OSError:
            pass
    for svc in SERVICES:
        assert_serves(server, svc)
    assert server.workers() == workers, "a worker died on bad input"
    assert server.proc.poll() is None


# ------------------------------------------------------------------ processes

def test_process_model(server):
    server.wait_children(workers=2, qmgrs=1)
    kids = server.children()
    assert sorted(kids.values()) == ["postie-qmgr", "postie-worker",
                                     "postie-worker"], kids


def test_sigterm_stops_everything(server):
    server.wait_children(workers=2)
    kids = list(server.children())
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        rc = server.proc.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"master still running 5 s after SIGTERM\nlog:\n{server.log()}")
    assert rc == 0, f"exit status {rc}\nlog:\n{server.log()}"
    left = wait_until(lambda: not [p for p in kids if pid_alive(p)],
                      max(0.1, 5 - (time.monotonic() - t0)))
    assert left, f"children still alive after SIGTERM: " \
        f"{[p for p in kids if pid_alive(p)]}"
    assert try_greeting(server.inst.port("smtp"), timeout=1) is None


@pytest.mark.parametrize("kind", ["worker", "qmgr"])
def test_killed_child_is_replaced(server, kind):
    server.wait_children(workers=2)
    before = server.workers() if kind == "worker" else server.qmgrs()
    victim = before[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = server.workers() if kind == "worker" else server.qmgrs()
        want = 2 if kind == "worker" else 1
        return victim not in now and len(now) == want and now

    now = wait_until(replaced, 10)
    assert now, (f"no new postie-{kind} within 10 s after killing {victim}: "
                 f"{server.children()}\nlog:\n{server.log()}")
    assert set(now) - set(before), now
    assert not pid_alive(victim)
    assert server.proc.poll() is None
    server.wait_children(workers=2, qmgrs=1)
    assert_serves(server, "smtp")
    assert_serves(server, "imap")


def test_sighup_with_broken_config_keeps_serving(server):
    server.wait_children(workers=2)
    kids = server.children()
    with open(server.inst.conf, "a") as f:
        f.write("bogus_key = 1\n")
    server.proc.send_signal(signal.SIGHUP)

    def logged():
        return [ln for ln in server.log().splitlines()
                if "reload" in ln.lower() and "bogus_key" in ln]

    lines = wait_until(logged, 10)
    assert lines, f"no reload error in the log:\n{server.log()}"
    assert "unknown key" in lines[0], lines
    assert server.proc.poll() is None, "master exited after a bad reload"
    for svc in SERVICES:
        assert_serves(server, svc)
    assert server.children() == kids


def test_sighup_moves_a_listener(server):
    server.wait_children(workers=2)
    old = server.inst.port("imap")
    new = server.inst.port_base + SPARE_OFFSETS[0]
    assert port_is_free(new)
    server.inst.set("imap_listen", f"127.0.0.1:{new}")
    server.proc.send_signal(signal.SIGHUP)

    line = wait_until(lambda: try_greeting(new, timeout=1), 10)
    assert first_line_ok("imap", line), (
        f"new IMAP port {new} answers {line!r}\nlog:\n{server.log()}")
    gone = wait_until(lambda: try_greeting(old, timeout=1) is None, 10)
    assert gone, f"old IMAP port {old} still answers after reload"
    assert server.proc.poll() is None
    assert_serves(server, "smtp")
    assert_serves(server, "pop3")


# ------------------------------------------------------------------ startup

def test_serve_with_broken_config_fails_at_once(server_instance, make_server):
    n = len(server_instance.conf.read_text().splitlines()) + 1
    with open(server_instance.conf, "a") as f:
        f.write("bogus_key = 1\n")
    srv = make_server(server_instance)
    try:
        rc = srv.proc.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail("serve with a broken config is still running after 5 s")
    assert rc != 0
    assert f"postie.conf:{n}: bogus_key: unknown key" in srv.log(), srv.log()
    assert try_greeting(server_instance.port("smtp"), timeout=1) is None


def test_second_serve_on_same_instance_fails(server, make_server):
    server.wait_children(workers=2)
    second = make_server(server.inst, log_name="serve2.log")
    try:
        rc = second.proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("a second serve on the same instance is still running")
    assert rc != 0
    log = second.log()
    assert log.strip(), "the second serve failed without a message"
    assert any(w in log.lower() for w in
               ("in use", "lock", "running", "already")), log
    assert server.proc.poll() is None
    server.wait_children(workers=2)
    assert_serves(server, "smtp")
    assert_serves(server, "imaps")


# ------------------------------------------------------------------ privileges

@pytest.mark.skipif(not is_root(), reason="needs root")
def test_children_drop_to_data_dir_owner(port_base, make_server):
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    # pytest's tmp_path lives under a 0700 directory that nobody cannot
    # enter; use a world-traversable directory instead.
    top = Path(tempfile.mkdtemp(prefix="postie-itest-"))
    try:
        os.chmod(top, 0o755)
        inst = init_instance(top / "inst", port_base)
        inst.set("worker_processes", "2")
        for root, dirs, files in os.walk(inst.dir):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.lchown(n, nobody.pw_uid, nobody.pw_gid)
        srv = make_server(inst).wait_ready()
        srv.wait_children(workers=2, qmgrs=1)
        assert proc_uids(srv.pid)[0] == 0, "master is not root"
        for pid, comm in srv.children().items():
            uids = proc_uids(pid)
            assert uids == [nobody.pw_uid] * 4, f"{comm} {pid} runs as {uids}"
        assert_serves(srv, "smtp")
        assert_serves(srv, "imaps")
        srv.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)
