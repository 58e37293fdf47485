#!/usr/bin/python3
"""Memory of K idle IMAP connections (in IDLE) and IDLE wake-up latency, postie vs Dovecot.

For every K (5000 and 10000 by default), every repetition and every server (postie, then
the Dovecot variants; the order turns every repetition), on a freshly started server:

  1. warm-up: every user logs in, selects INBOX and logs out once (indexes exist);
  2. memory before: the sum of PSS (/proc/PID/smaps_rollup) of every process of the
     server (postie: master, workers, queue manager; Dovecot: master, anvil, log, config,
     stats, auth, imap-login, imap, imap-hibernate, ...: the master and all descendants);
  3. K connections over plain TCP from 127.0.0.1 (50 being set up at a time), spread
     round-robin over U users (100 by default): LOGIN, SELECT INBOX, IDLE; after
     --settle seconds, the memory again: total MB and (after - before) / K per connection;
  4. wake-up latency, mail dropped the way a delivery agent does it: the message is
     written to the user's Maildir tmp/ (owned by the server's mail user) and renamed
     into new/; t0 is taken just before rename(). Latency is t0 to the client reading
     "* n EXISTS" on each connection that has that user's INBOX selected:
       one:   --rounds deliveries to user u000 (K/U sessions), one second apart;
       burst: one message to every user at once (all K sessions);
     sessions that see nothing within --wait seconds are counted as missed;
  5. DONE and LOGOUT on every connection, the memory once more, the server stopped.

Servers (same users, same {SHA512-CRYPT} passwords, same 20 messages in every INBOX,
by APPEND; see imap_ops.py for the instances):
  postie          `postie init` instance, imap_max_connections(_per_ip) = 30000
  dovecot         the peer's configuration (Debian 2.3.19.1): one imap process per
                  connection (service imap client_limit = 1, Dovecot's default)
  dovecot-cl      the same with service imap { client_limit = 1000, service_count = 0 }:
                  many sessions per imap process (--dovecot-variants)
  dovecot-hib     the same as dovecot plus imap_hibernate_timeout = 5s: sessions in IDLE
                  move into one imap-hibernate process (--dovecot-variants)

Usage (as root; the peer stack's up.sh has installed Dovecot; build as for imap_ops.py):
  /usr/bin/python3 bench/imap_idle.py
  --conns 5000 10000  --runs 2  --users 100  --rounds 10  --settle 15  --wait 40
  --dovecot-variants dovecot dovecot-cl dovecot-hib  --inotify-instances N|0
  --no-postie  --keep  --out FILE

fs.inotify.max_user_instances (128 by default) limits the inotify instances of one user
id: Dovecot opens one per imap process, all as the mail user, and past the limit it logs
a warning and falls back to checking the mailbox every mailbox_idle_check_interval
(30 s), and cannot hibernate. The script raises it for the run (--inotify-instances,
25000) and puts the old value back at the end; postie needs one per worker.
"""
import argparse
import json
import os
import re
import selectors
import socket
import statistics
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import imap_ops as io  # noqa: E402
import smtp_accept as sa  # noqa: E402

EXISTS_RE = re.compile(rb"^\* (\d+) EXISTS")


def log(msg):
    print(f"[imapidle] {msg}", file=sys.stderr, flush=True)


def meminfo():
    d = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            d[k] = int(v.split()[0])
    return d


# ---------------------------------------------------------------- the IDLE clients

# Linux: the kernel's receive time of each segment (CLOCK_REALTIME), so a client that
# reads late (one thread, thousands of sockets) still measures when the data arrived.
SO_TIMESTAMPNS = 35
TS = struct.Struct("qq")


class Idler:
    """One connection: LOGIN, SELECT INBOX, IDLE; then the kernel's receive time of
    every untagged EXISTS it reads."""
    __slots__ = ("sock", "u", "user", "pw", "buf", "state", "events", "error", "t_start")

    def __init__(self, u):
        self.u, self.user, self.pw = u, io.user_name(u), io.user_pass(u)
        self.buf = b""
        self.state = "greet"
        self.events = []          # (receive time, n) of each EXISTS while idling
        self.error = None
        self.sock = None

    def lines(self, data, ts):
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            self.line(line, ts)

    def line(self, line, ts):
        st = self.state
        if st == "idling":
            m = EXISTS_RE.match(line)
            if m:
                self.events.append((ts, int(m.group(1))))
        elif st == "greet":
            if line.startswith(b"* OK"):
                self.sock.send(b'a LOGIN "%s" "%s"\r\n' % (self.user.encode(), self.pw.encode()))
                self.state = "login"
            else:
                self.error = line[:120]
        elif st == "login":
            if line.startswith(b"a OK"):
                self.sock.send(b"b SELECT INBOX\r\n")
                self.state = "select"
            elif line.startswith(b"a "):
                self.error = line[:120]
        elif st == "select":
            if line.startswith(b"b OK"):
                self.sock.send(b"c IDLE\r\n")
                self.state = "idle"
            elif line.startswith(b"b "):
                self.error = line[:120]
        elif st == "idle":
            if line.startswith(b"+"):
                self.state = "idling"
            elif line.startswith(b"c "):
                self.error = line[:120]
        elif st == "done":
            if line.startswith(b"d "):
                self.state = "closed"


class Pool:
    """K IDLE connections on one epoll loop in this thread."""

    def __init__(self, port, nusers):
        self.port, self.nusers = port, nusers
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.errors = []

    def _open(self, i):
        c = Idler(i % self.nusers)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        c.sock = s
        c.t_start = time.monotonic()
        self.sel.register(s, selectors.EVENT_READ, c)
        return c

    def _drop(self, c, why):
        self.errors.append(why)
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        c.state = "failed"

    def pump(self, timeout):
        """Read whatever has arrived, waiting at most timeout seconds for it."""
        for key, _ in self.sel.select(timeout):
            c = key.data
            try:
                data, anc, _, _ = c.sock.recvmsg(65536, socket.CMSG_SPACE(TS.size))
            except BlockingIOError:
                continue
            except OSError as e:
                self._drop(c, f"{c.state}: {e!r}")
                continue
            if not data:
                if c.state not in ("done", "closed"):
                    self._drop(c, f"closed by the server in state {c.state}")
                else:
                    self.sel.unregister(c.sock)
                    c.sock.close()
                    c.state = "closed"
                continue
            ts = None
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = TS.unpack(val[:TS.size])
                    ts = sec + nsec / 1e9
            c.lines(data, ts if ts is not None else time.time())
            if c.error:
                self._drop(c, f"{c.state}: {c.error!r}")

    def open(self, k, parallel, timeout=300):
        t0 = time.monotonic()
        nxt, setting_up = 0, []
        while nxt < k or setting_up:
            while nxt < k and len(setting_up) < parallel:
                try:
                    setting_up.append(self._open(nxt))
                except OSError as e:
                    self.errors.append(f"connect: {e!r}")
                nxt += 1
            self.pump(0.5)
            now = time.monotonic()
            still = []
            for c in setting_up:
                if c.state == "idling":
                    self.conns.append(c)
                elif c.state == "failed":
                    pass
                elif now - c.t_start > timeout:
                    self._drop(c, f"timeout in state {c.state}")
                else:
                    still.append(c)
            setting_up = still
        return time.monotonic() - t0

    def alive(self):
        return [c for c in self.conns if c.state == "idling"]

    def close(self, timeout=60):
        for c in self.alive():
            c.state = "done"
            try:
                c.sock.send(b"DONE\r\nd LOGOUT\r\n")
            except OSError:
                pass
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(c.state == "done" for c in self.conns):
            self.pump(0.2)
        for c in self.conns:
            if c.state != "closed" and c.state != "failed":
                try:
                    self.sel.unregister(c.sock)
                except (KeyError, ValueError):
                    pass
                c.sock.close()
        self.sel.close()


# ---------------------------------------------------------------- delivery by file

_seq = [0]


def drop_message(maildir, owner, user, tag):
    """Write a message into tmp/ as the server's mail user, rename it into new/; returns
    the time (CLOCK_REALTIME, as the receive timestamps) just before the rename."""
    _seq[0] += 1
    name = f"{int(time.time())}.M{_seq[0]}P{os.getpid()}.imapbench"
    body = (f"From: Bench <bench@{io.DOMAIN}>\r\nTo: {user}\r\nSubject: idle probe {tag}\r\n"
            f"Message-ID: <{name}@{io.DOMAIN}>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"wake up {tag}\r\n").encode()
    tmp = os.path.join(maildir, "tmp", name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, body)
    os.close(fd)
    if owner:
        os.chown(tmp, *owner)
    t0 = time.time()
    os.rename(tmp, os.path.join(maildir, "new", name))
    return t0


def wake_latency(server, pool, nusers, targets, wait, tag):
    """Deliver one message to each user in targets; returns the latencies (ms) of every
    session of those users and how many saw nothing within wait seconds."""
    watch = []
    tset = set(targets)
    for c in pool.conns:
        if c.u in tset and c.state == "idling":
            c.events.clear()
            watch.append((c.u, c))
    pool.pump(0)
    t0s = {}
    for u in targets:
        t0s[u] = drop_message(server.maildir(u), server.owner, io.user_name(u), tag)
    end = time.monotonic() + wait
    while time.monotonic() < end and not all(c.events for _, c in watch):
        pool.pump(0.01)
    lat = [(c.events[0][0] - t0s[u]) * 1000.0 for u, c in watch if c.events]
    return lat, sum(1 for _, c in watch if not c.events)


def lat_summary(v):
    if not v:
        return {"n": 0}
    v = sorted(v)
    return {"n": len(v), "min_ms": round(v[0], 2), "median_ms": round(statistics.median(v), 2),
            "p90_ms": round(v[min(len(v) - 1, int(0.9 * len(v)))], 2), "max_ms": round(v[-1], 2)}


# ---------------------------------------------------------------- one measurement

def warm(server, nusers):
    for i in range(nusers):
        c = io.Conn(server.port)
        c.login(io.user_name(i), io.user_pass(i))
        c.cmd(b"SELECT INBOX")
        c.close()


def measure(server, k, nusers, a):
    server.start()
    off = server.log_offset()
    try:
        warm(server, nusers)
        time.sleep(2)
        before = io.tree_memory(server.root)
        mi0 = meminfo()
        st0 = sa.proc_stat_cpu()

        pool = Pool(server.port, nusers)
        t_open = pool.open(k, a.parallel)
        n_ok = len(pool.alive())
        log(f"  {server.label}: {n_ok}/{k} in IDLE after {t_open:.1f} s "
            f"({len(pool.errors)} errors{': ' + pool.errors[0] if pool.errors else ''})")
        end = time.monotonic() + a.settle
        while time.monotonic() < end:
            pool.pump(0.2)
        during = io.tree_memory(server.root)
        mi1 = meminfo()
        alive = len(pool.alive())
        one, one_missed, rounds = [], 0, []
        for r in range(a.rounds):
            lat, missed = wake_latency(server, pool, nusers, [0], a.wait, f"one-{r}")
            one.extend(lat)
            one_missed += missed
            rounds.append(lat_summary(lat))
            end = time.monotonic() + a.pause
            while time.monotonic() < end:
                pool.pump(0.05)
        burst, burst_missed = wake_latency(server, pool, nusers, list(range(nusers)), a.wait, "burst")
        end = time.monotonic() + 1
        while time.monotonic() < end:
            pool.pump(0.05)
        after_wake = io.tree_memory(server.root)
        still = len(pool.alive())
        t1 = time.monotonic()
        pool.close()
        t_close = time.monotonic() - t1
        res = {"opened": n_ok, "open_errors": len(pool.errors), "open_error_sample": pool.errors[:3],
               "open_s": round(t_open, 2), "logins_per_s": round(n_ok / t_open, 1) if t_open else None,
               "alive_at_measure": alive, "alive_after_latency": still,
               "during": during, "after_wakeups": after_wake,
               "memavailable_drop_kib": mi0["MemAvailable"] - mi1["MemAvailable"],
               "slab_growth_kib": mi1["Slab"] - mi0["Slab"],
               "one": lat_summary(one), "one_missed": one_missed, "one_rounds": rounds,
               "burst": lat_summary(burst), "burst_missed": burst_missed,
               "close_s": round(t_close, 2)}
        time.sleep(3)
        after_close = io.tree_memory(server.root)
        st1 = sa.proc_stat_cpu()
        n_bad, bad = server.log_problems(off)
        res.update({"before": before, "after_close": after_close,
                    "machine_busy_pct": sa.busy_pct(st0, st1)[0],
                    "log_problem_lines": n_bad, "log_problem_sample": bad})
        n = max(res["opened"], 1)
        res["total_mib"] = round(res["during"]["pss_kib"] / 1024, 1)
        res["before_mib"] = round(before["pss_kib"] / 1024, 1)
        res["kib_per_conn"] = round((res["during"]["pss_kib"] - before["pss_kib"]) / n, 2)
        res["after_wakeups_mib"] = round(res["after_wakeups"]["pss_kib"] / 1024, 1)
        res["after_close_mib"] = round(after_close["pss_kib"] / 1024, 1)
        return res
    finally:
        server.halt()


# ---------------------------------------------------------------- summary

def summarize(results):
    lines = []
    labels = []
    for r in results:
        if r["server"] not in labels:
            labels.append(r["server"])
    for k in sorted({r["conns"] for r in results}):
        lines.append(f"\n### {k} connections in IDLE (median of the runs, min-max)\n")
        lines.append("| | " + " | ".join(labels) + " |")
        lines.append("|---|" + "---|" * len(labels))

        def row(label, f, nd=1):
            cells = []
            for s in labels:
                v = [f(r) for r in results if r["server"] == s and r["conns"] == k]
                v = [x for x in v if x is not None]
                if not v:
                    cells.append("n/a")
                elif len(v) == 1:
                    cells.append(f"{v[0]:.{nd}f}")
                else:
                    cells.append(f"{statistics.median(v):.{nd}f} ({min(v):.{nd}f}-{max(v):.{nd}f})")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

        row("connections in IDLE", lambda r: r["opened"], 0)
        row("server processes", lambda r: r["during"]["procs"], 0)
        row("memory before, MiB (sum of PSS)", lambda r: r["before_mib"])
        row("memory with the connections in IDLE, MiB", lambda r: r["total_mib"])
        row("KiB per connection ((with - before) / K)", lambda r: r["kib_per_conn"], 2)
        row("memory after the wake-ups, MiB", lambda r: r["after_wakeups_mib"])
        row("memory after they logged out, MiB", lambda r: r["after_close_mib"])
        row("MemAvailable drop, MiB (whole machine, noisy)", lambda r: r["memavailable_drop_kib"] / 1024)
        row("kernel slab growth, MiB (whole machine, noisy)", lambda r: r["slab_growth_kib"] / 1024)
        row("setting up: logins/s (LOGIN+SELECT+IDLE)", lambda r: r["logins_per_s"], 0)
        row("wake-up, one mailbox: median ms", lambda r: r["one"].get("median_ms"), 1)
        row("wake-up, one mailbox: p90 ms", lambda r: r["one"].get("p90_ms"), 1)
        row("wake-up, one mailbox: max ms", lambda r: r["one"].get("max_ms"), 1)
        row("wake-up, one mailbox: missed", lambda r: r["one_missed"], 0)
        row("wake-up, every mailbox at once: median ms", lambda r: r["burst"].get("median_ms"), 1)
        row("wake-up, every mailbox at once: max ms", lambda r: r["burst"].get("max_ms"), 1)
        row("wake-up, every mailbox at once: missed", lambda r: r["burst_missed"], 0)
        row("log lines with warnings/errors", lambda r: r["log_problem_lines"], 0)
    return "\n".join(lines)


# ---------------------------------------------------------------- main

VARIANTS = {"dovecot": dict(imap_client_limit=1),
            "dovecot-cl": dict(imap_client_limit=1000, imap_service_count=0),
            "dovecot-hib": dict(imap_client_limit=1, hibernate="5s")}
INOTIFY = "/proc/sys/fs/inotify/max_user_instances"


def set_inotify(n):
    with open(INOTIFY) as f:
        old = int(f.read())
    with open(INOTIFY, "w") as f:
        f.write(f"{n}\n")
    return old


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, nargs="+", default=[5000, 10000])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--msgs", type=int, default=20, help="messages in every INBOX")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--settle", type=float, default=15, help="seconds in IDLE before measuring")
    ap.add_argument("--wait", type=float, default=40, help="seconds to wait for an EXISTS")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between deliveries")
    ap.add_argument("--parallel", type=int, default=50, help="connections being set up at once")
    ap.add_argument("--dovecot-variants", nargs="*", default=["dovecot"], choices=list(VARIANTS))
    ap.add_argument("--inotify-instances", type=int, default=25000,
                    help="raise fs.inotify.max_user_instances to this during the run and restore it "
                         "afterwards (Dovecot needs one per imap process; 0: leave it)")
    ap.add_argument("--no-postie", action="store_true")
    ap.add_argument("--postie", default=io.POSTIE)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    a.quiet_busy, a.quiet_wait = 35.0, 60.0
    io.setup_common(a)
    need = max(a.conns) + 200
    if io.resource.getrlimit(io.resource.RLIMIT_NOFILE)[0] < need:
        raise SystemExit(f"descriptor limit {io.resource.getrlimit(io.resource.RLIMIT_NOFILE)} "
                         f"is below {need}")
    out_path = a.out or time.strftime(f"{io.OUT_DIR}/imap_idle-%Y%m%d-%H%M%S.jsonl")
    outf = open(out_path, "a")

    def emit(o):
        outf.write(json.dumps(o) + "\n")
        outf.flush()

    info = {"kind": "setup", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "args": vars(a)}
    info.update(io.machine_and_versions())
    with open("/proc/sys/kernel/pid_max") as f:
        info["machine"]["pid_max"] = int(f.read())
    info["machine"]["nofile"] = io.resource.getrlimit(io.resource.RLIMIT_NOFILE)
    log(json.dumps(info))
    emit(info)
    # small messages only: the INBOX of an idle user, not a FETCH workload
    corpus = [m for m in io.make_corpus(200) if len(m["data"]) < 12000][:a.msgs]

    servers = []
    results = []
    old_inotify = None
    try:
        with open(INOTIFY) as f:
            cur = int(f.read())
        if a.inotify_instances and cur < a.inotify_instances:
            old_inotify = set_inotify(a.inotify_instances)
            log(f"fs.inotify.max_user_instances {old_inotify} -> {a.inotify_instances} for this run")
        emit({"kind": "inotify", "max_user_instances_before": cur,
              "during_run": a.inotify_instances if old_inotify is not None else cur})
        if not a.no_postie:
            servers.append(io.Postie(a.users, a.keep, a.postie))
        for v in a.dovecot_variants:
            servers.append(io.Dovecot(a.users, a.keep, label=v, **VARIANTS[v]))
        for s in servers:
            s.label = getattr(s, "label", s.name)
            s.start()
            secs = io.fill(s, a.users, corpus)
            log(f"{s.label}: filled {a.users} INBOXes with {len(corpus)} messages in {secs} s")
            emit({"kind": "instance", "server": s.label, "fill_s": secs, **s.describe()})
            s.halt()
        for rep in range(a.runs):
            for k in a.conns:
                order = servers if rep % 2 == 0 else list(reversed(servers))
                for s in order:
                    os.sync()
                    quiet = sa.wait_quiet()
                    with open("/proc/loadavg") as f:
                        load = f.read().split()[:3]
                    log(f"{s.label} K={k} run {rep} (busy before {quiet[0]} %, load {load})")
                    r = measure(s, k, a.users, a)
                    r.update({"kind": "run", "server": s.label, "conns": k, "run": rep,
                              "busy_pct_before": quiet[0], "loadavg_before": load})
                    results.append(r)
                    emit(r)
                    log(f"  {s.label} K={k}: {r['opened']} open, {r['total_mib']} MiB "
                        f"(before {r['before_mib']} MiB, {r['kib_per_conn']} KiB/conn, "
                        f"{r['during']['procs']} processes); wake-up one mailbox median "
                        f"{r['one'].get('median_ms')} ms max {r['one'].get('max_ms')} ms "
                        f"missed {r['one_missed']}; burst median {r['burst'].get('median_ms')} ms "
                        f"max {r['burst'].get('max_ms')} ms missed {r['burst_missed']}; "
                        f"log problems {r['log_problem_lines']}")
    finally:
        for s in servers:
            s.stop()
        if old_inotify is not None:
            set_inotify(old_inotify)
            log(f"fs.inotify.max_user_instances restored to {old_inotify}")
        outf.close()
    print(f"# imap_idle.py results ({out_path})\n")
    print(f"machine: {json.dumps(info['machine'])}")
    print(f"versions: {json.dumps(info['versions'])}")
    print(summarize(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
