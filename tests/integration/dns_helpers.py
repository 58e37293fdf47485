"""A private DNS server for the remote delivery tests: dnsmasq (Debian
package dnsmasq-base) on 127.0.0.1 at a port of the suite's slot,
answering only from the records a test gives it.

    dns = Dnsmasq(port, tmpdir)
    dns.mx("example.test", "mx1.example.test", 10)
    dns.a("mx1.example.test", "127.0.0.2")
    dns.null_mx("nullmx.test")
    dns.start()                 # waits until it answers
    ... postie: dns_server = dns.server ...
    dns.stop()

--local=/test/ makes every unknown name under .test NXDOMAIN (and a name
that exists without the asked type NODATA), so nothing is ever forwarded:
with --no-resolv there is no upstream at all. Records cannot change while
dnsmasq runs (it rereads only hosts files on SIGHUP): a test that needs
other records restarts it (stop, add, start).

Only the standard library (and pytest) is used."""

import os
import random
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

DNSMASQ = "/usr/sbin/dnsmasq"
READY_TIMEOUT = 10.0

QTYPE = {"A": 1, "MX": 15, "AAAA": 28}


def have_dnsmasq():
    return os.access(DNSMASQ, os.X_OK)


class Dnsmasq:
    """One dnsmasq process on 127.0.0.1:PORT (UDP and TCP)."""

    def __init__(self, port, tmpdir, listen="127.0.0.1"):
        self.port = port
        self.listen = listen
        self.tmpdir = Path(tmpdir)
        self.records = []           # dnsmasq options, in order
        self.proc = None
        self.log_path = self.tmpdir / f"dnsmasq-{port}.log"
        self._log = None

    @property
    def server(self):
        """The value for postie's dns_server."""
        return f"{self.listen}:{self.port}"

    # records (before start)
    def mx(self, domain, host, pref):
        self.records.append(f"--mx-host={domain},{host},{pref}")
        return self

    def null_mx(self, domain):
        """RFC 7505: "MX 0 ." (the domain accepts no mail)."""
        self.records.append(f"--mx-host={domain},.,0")
        return self

    def a(self, name, *addrs):
        """A (and AAAA, for addresses with a colon) records of NAME."""
        self.records.append(f"--host-record={name},{','.join(addrs)}")
        return self

    # lifecycle
    def argv(self):
        return [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts",
                "--pid-file=", f"--listen-address={self.listen}",
                "--bind-interfaces", f"--port={self.port}",
                "--local=/test/", "--log-queries", "--log-facility=-",
                # Root would otherwise switch to "nobody"; nothing here
                # needs privileges after the bind.
                *(["--user=root"] if os.geteuid() == 0 else []),
                *self.records]

    def start(self):
        if not have_dnsmasq():
            pytest.fail(f"{DNSMASQ} not found: install dnsmasq-base "
                        f"(scripts/deps.sh does)")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                self.query("dnsmasq-ready.test", "A", timeout=0.2)
                return self
            except (OSError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"dnsmasq did not answer on {self.server} within "
                    f"{READY_TIMEOUT}s (exit {self.proc.returncode})\n"
                    f"{self.log()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # a tiny resolver, to check the records themselves
    def query(self, name, qtype, timeout=2.0):
        """Ask dnsmasq NAME/QTYPE over UDP; return (rcode, answers) where
        answers are "PREF HOST" for MX and the address text for A/AAAA."""
        qid = random.randrange(65536)
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        for label in name.rstrip(".").split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack(">HH", QTYPE[qtype], 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(q, (self.listen, self.port))
            while True:
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    raise TimeoutError(f"no DNS answer for {name}") from None
                if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                    break
        finally:
            s.close()
        return _parse_answer(data)


def _name(data, pos):
    """A (possibly compressed) name at POS; returns (name, next pos)."""
    labels, jumped, end = [], False, pos
    for _ in range(128):
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = pos + 2
            pos = struct.unpack(">H", data[pos:pos + 2])[0] & 0x3FFF
            jumped = True
            continue
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels), (end if jumped else pos)


def _parse_answer(data):
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    pos = 12
    for _ in range(qd):
        _, pos = _name(data, pos)
        pos += 4
    out = []
    for _ in range(an):
        _, pos = _name(data, pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        rdata = data[pos:pos + rdlen]
        if rtype == QTYPE["MX"]:
            host, _ = _name(data, pos + 2)
            out.append(f"{struct.unpack('>H', rdata[:2])[0]} {host or '.'}")
        elif rtype == QTYPE["A"]:
            out.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == QTYPE["AAAA"]:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
        pos += rdlen
    return flags & 0xF, sorted(out)
