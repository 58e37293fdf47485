#!/usr/bin/python3
"""SMTP accept rate of postie and of the peer Postfix, on this machine, with fsync on.

Driven by Postfix's own load generator, /usr/sbin/smtp-source (Debian package postfix).
For every session count (1, 10, 50) and repetition, one postie run and then one Postfix run
(interleaved, so slow drifts of the machine hit both alike), each:

    smtp-source -s SESSIONS -m MSGS -l SIZE -f alice@example.test -t bob@example.test \
                -S "<run tag>" 127.0.0.1:PORT          (plus -d with --reuse)

By default every message uses a new connection (HELO, MAIL, RCPT, DATA, QUIT); --reuse
(smtp-source -d) sends all of a session's messages over one connection.

  accept_s    wall time from starting smtp-source until it exits: it has read the 250 reply
              to every DATA, and both servers say 250 only once the queue file is fsync'ed.
  deliver_s   wall time until bob's Maildir holds all MSGS messages (both servers deliver
              while they accept: postie's queue manager, Postfix qmgr -> lmtp -> Dovecot).
  CPU         utime+stime of every process of the server's tree from /proc (exact: live
              processes plus the master's cutime/cstime for reaped children), split by
              process name by sampling every 0.1 s; measured over the accept window and
              over the whole run (until delivered).

postie: a fresh instance (`postie init DIR --port-base N`, worker_processes default) in
/var/tmp, domain example.test, user bob@example.test, `postie -c DIR/postie.conf serve`.
smtp_max_connections_per_ip is raised to 1000 (see --postie-ip-limit): Postfix exempts
$mynetworks (here 127.0.0.0/8) from its per-client connection limit, postie does not, and
at 45-50 sessions postie's default of 50 answers 421 (see bench/README.md).
Postfix: the peer stack (/work/shared/peers/postfix-dovecot, `up.sh` as root) on
127.0.0.1:10025, unchanged. Between runs the script waits for each server's queue to be
empty, then removes the run's messages (postie: the Maildir files; Postfix: `doveadm
expunge` of the run's Subject tag), so every run starts from an empty queue and mailbox.

Checks (a failed check is reported per run and in the summary):
  - smtp-source exit status 0 and no output (it aborts on any reply other than 2xx/3xx);
  - postie, at the moment smtp-source exits: files in queue/{incoming,active,deferred}
    plus messages already in the Maildir == MSGS (every 250 is on disk), and at the end
    the Maildir holds exactly MSGS and the queue is empty;
  - Postfix: `doveadm search` finds exactly MSGS messages with the run's tag;
  - postie's log has no line other than the normal per-session and per-message lines,
    and no worker or queue manager was restarted.

Usage (as root, peer stack up):  make build && /usr/bin/python3 bench/smtp_accept.py
  --msgs N (5000)  --size BYTES (4096)  --sessions 1 10 50  --runs 3  --reuse
  --no-postfix / --no-postie   --postfix-port 10025   --postie-ip-limit N|default
  --out FILE (JSON lines, default /var/tmp/postie-bench/smtp_accept-<time>.jsonl)
  --keep (keep the postie instance)   --timeout SECONDS per run (300)
"""
import argparse
import hashlib
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSTIE = os.path.join(REPO, "build", "postie")
SMTP_SOURCE = "/usr/sbin/smtp-source"
HZ = os.sysconf("SC_CLK_TCK")

PF_PID = "/var/spool/postfix/pid/master.pid"
PF_QUEUE_DIRS = ["/var/spool/postfix/" + d for d in ("maildrop", "incoming", "active", "deferred", "hold")]
PF_MAILDIR = "/var/tmp/peer-mail/example.test/bob/Maildir"
PF_LOG = "/var/log/peer-postfix.log"
DC_PID = "/run/dovecot-peer/master.pid"
DC_CONF = "/etc/dovecot-peer/dovecot.conf"

SENDER, RCPT = "alice@example.test", "bob@example.test"
# Processes on Postfix's receiving side (smtpd -> cleanup, address rewriting; qmgr is
# notified of every new message).
PF_ACCEPT_COMMS = ("smtpd", "cleanup", "qmgr", "trivial-rewrite")


def log(msg):
    print(f"[smtp_accept] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc accounting

def read_stat(pid):
    """(comm, starttime, utime+stime, cutime+cstime) in ticks, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    r = s.rfind(")")
    comm = s[s.find("(") + 1:r]
    x = s[r + 2:].split()
    return comm, x[19], int(x[11]) + int(x[12]), int(x[13]) + int(x[14])


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Tree:
    """CPU of a master process and its direct children (postie, Postfix and Dovecot all
    fork their workers from one master)."""

    def __init__(self, name, root):
        self.name, self.root = name, root
        self.seen = {}          # (pid, starttime) -> [comm, cpu ticks], last values seen

    def sample(self):
        st = read_stat(self.root)
        if st is None:
            return None
        self.seen[(self.root, st[1])] = [st[0], st[2]]
        live = st[2] + st[3]   # the root's own CPU + its reaped children's
        for c in children(self.root):
            cs = read_stat(c)
            if cs is None:
                continue
            self.seen[(c, cs[1])] = [cs[0], cs[2]]
            live += cs[2]
        return live

    def snapshot(self):
        exact = self.sample()
        return {"exact": exact, "seen": {k: tuple(v) for k, v in self.seen.items()}}


def cpu_delta(a, b):
    """Seconds between two snapshots: exact total, by process name, and what the sampling
    could not attribute (CPU of processes that exited between two samples)."""
    by = {}
    for k, (comm, t) in b["seen"].items():
        d = t - a["seen"].get(k, (comm, 0))[1]
        if d > 0:
            by[comm] = by.get(comm, 0) + d
    total = (b["exact"] - a["exact"]) / HZ if a["exact"] is not None and b["exact"] is not None else None
    by = {k: v / HZ for k, v in sorted(by.items(), key=lambda x: -x[1])}
    res = {"total_s": round(total, 3) if total is not None else None,
           "by_comm_s": {k: round(v, 3) for k, v in by.items()}}
    if total is not None:
        res["unattributed_s"] = round(total - sum(by.values()), 3)
    return res


class Sampler:
    """Samples trees every interval so processes that exit mid-run are still counted."""

    def __init__(self, trees, interval=0.1):
        self.trees, self.interval = trees, interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            with self._lock:
                for t in self.trees:
                    t.sample()

    def start(self):
        self._th.start()

    def snapshot(self):
        with self._lock:
            return {t.name: t.snapshot() for t in self.trees}

    def stop(self):
        self._stop.set()
        self._th.join()


def all_procs_cpu():
    """(pid, starttime) -> (comm, utime+stime) for every process on the machine."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st is not None:
                out[(int(d), st[1])] = (st[0], st[2])
    return out


def top_others(a, b, exclude, n=5):
    """The n processes outside the measured trees that used the most CPU between two
    all_procs_cpu() scans (processes that started and ended in between are missed)."""
    tot = {}
    for k, (comm, t) in b.items():
        if k[0] in exclude:
            continue
        d = (t - a.get(k, (comm, 0))[1]) / HZ
        if d > 0.05:
            tot[f"{comm}[{k[0]}]"] = round(d, 2)
    return dict(sorted(tot.items(), key=lambda x: -x[1])[:n])


def proc_stat_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v  # user nice system idle iowait irq softirq steal


def busy_pct(a, b):
    d = [y - x for x, y in zip(a, b)]
    tot = sum(d) or 1
    return round(100.0 * (tot - d[3] - d[4]) / tot, 1), round(100.0 * d[4] / tot, 1), \
        (tot - d[3] - d[4]) / HZ


# ---------------------------------------------------------------- helpers

def count_files(dirs):
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_file(follow_symlinks=False):
                        n += 1
                    elif e.is_dir(follow_symlinks=False):
                        n += count_files([e.path])
        except FileNotFoundError:
            pass
    return n


def maildir_count(md):
    return count_files([os.path.join(md, "new"), os.path.join(md, "cur")])


def file_size(p):
    try:
        return os.path.getsize(p)
    except OSError:
        return 0


def read_from(p, off):
    try:
        with open(p, "rb") as f:
            f.seek(off)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def smtp_banner(port, timeout=5.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            line = s.recv(512)
            s.sendall(b"QUIT\r\n")
            try:
                s.recv(512)
            except OSError:
                pass
            return line.decode("ascii", "replace").strip()
    except OSError:
        return None


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_base():
    offsets = (24, 25, 110, 143, 465, 587, 993, 995)
    # below the ephemeral port range (32768-60999), away from the test suites' 30000+
    for base in list(range(24000, 30000, 1000)) + list(range(21000, 24000, 1000)):
        if all(port_free(base + o) for o in offsets):
            return base
    raise SystemExit("no free port base found on 127.0.0.1")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


QUIET = {"busy_pct": 35.0, "max_wait_s": 120.0}


def wait_quiet():
    """Wait until the machine is quiet (busy < QUIET busy_pct over one second), at most
    max_wait_s: other users of the machine would take CPU and disk from the server under
    test. Returns (busy % of the last second, seconds waited)."""
    t0 = time.monotonic()
    while True:
        a = proc_stat_cpu()
        time.sleep(1.0)
        b = busy_pct(a, proc_stat_cpu())[0]
        waited = time.monotonic() - t0
        if b < QUIET["busy_pct"] or waited >= QUIET["max_wait_s"]:
            return b, round(waited, 1)


def wait_until(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


# ---------------------------------------------------------------- machine facts

def fsync_probe(base_dir, seconds=1.5, writers=(1, 16), size=4096):
    """Durable small-file creates per second, the way both queues write: create tmp/N,
    write SIZE bytes, fsync, rename into new/, fsync new/. Threads release the GIL in
    fsync, so several writers show how the journal batches concurrent commits."""
    out = {}
    payload = b"x" * size
    for nw in writers:
        root = tempfile.mkdtemp(prefix="fsync-probe.", dir=base_dir)
        counts = [0] * nw
        stop = time.monotonic() + seconds

        def writer(i):
            d = os.path.join(root, f"w{i}")
            os.makedirs(os.path.join(d, "tmp"))
            os.makedirs(os.path.join(d, "new"))
            dfd = os.open(os.path.join(d, "new"), os.O_RDONLY | os.O_DIRECTORY)
            n = 0
            while time.monotonic() < stop:
                a, b = os.path.join(d, "tmp", str(n)), os.path.join(d, "new", str(n))
                fd = os.open(a, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, payload)
                os.fsync(fd)
                os.close(fd)
                os.rename(a, b)
                os.fsync(dfd)
                n += 1
            os.close(dfd)
            counts[i] = n

        ths = [threading.Thread(target=writer, args=(i,)) for i in range(nw)]
        t0 = time.monotonic()
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        el = time.monotonic() - t0
        out[f"{nw}_writer{'s' if nw > 1 else ''}_files_per_s"] = round(sum(counts) / el)
        shutil.rmtree(root, ignore_errors=True)
    return out


def machine_info(base_dir):
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    st = os.statvfs(base_dir)
    fs = ""
    try:
        fs = run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--target", base_dir]).stdout.strip()
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_total_mib": mem // 1024,
            "kernel": platform.release(), "bench_fs": fs,
            "bench_fs_free_gib": round(st.f_bavail * st.f_frsize / 2**30, 1)}


def versions():
    v = {}
    g = run(["git", "-C", REPO, "rev-parse", "HEAD"])
    v["postie_commit"] = g.stdout.strip() if g.returncode == 0 else None
    g = run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
    v["postie_worktree_modified"] = [ln[3:] for ln in g.stdout.splitlines()] if g.returncode == 0 else None
    v["postie_version"] = run([POSTIE, "--version"]).stdout.strip()
    with open(POSTIE, "rb") as f:
        v["postie_binary_sha256"] = hashlib.sha256(f.read()).hexdigest()[:16]
    v["postie_binary_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(POSTIE)))
    try:
        v["postfix"] = run(["postconf", "-h", "mail_version"]).stdout.strip()
        v["dovecot"] = run(["dovecot", "--version"]).stdout.strip()
    except OSError:
        pass
    v["python"] = platform.python_version()
    return v


# ---------------------------------------------------------------- postie instance

class Postie:
    def __init__(self, ip_limit, keep):
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="postie-bench.", dir="/var/tmp")
        os.rmdir(self.dir)   # init creates it and refuses an existing postie.conf only
        self.base = free_port_base()
        self.port = self.base + 25
        self.conf = os.path.join(self.dir, "postie.conf")
        r = run([POSTIE, "init", self.dir, "--port-base", str(self.base)])
        if r.returncode != 0:
            raise SystemExit(f"postie init failed: {r.stderr}")
        if ip_limit != "default":
            with open(self.conf, "a") as f:
                f.write("\n# bench/smtp_accept.py: Postfix exempts $mynetworks from its per-client"
                        "\n# connection limit; the benchmark's single client address needs the same.\n"
                        f"smtp_max_connections_per_ip = {int(ip_limit)}\n")
        for cmd, stdin in ((["domain", "add", "example.test"], None),
                           (["user", "add", RCPT], "bench-secret-bob\n")):
            r = subprocess.run([POSTIE, "-c", self.conf, *cmd], input=stdin, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"postie {' '.join(cmd)} failed: {r.stderr}")
        if os.geteuid() == 0:
            # as in production: children run as the data_dir owner, not root
            try:
                pw = pwd.getpwnam("nobody")
                for dp, dns, fns in os.walk(self.dir):
                    for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
                        os.lchown(n, pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass
        self.maildir = os.path.join(self.dir, "mail", "example.test", "bob")
        self.queue = os.path.join(self.dir, "queue")
        self.log = os.path.join(self.dir, "serve.log")
        self.proc = None

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([POSTIE, "-c", self.conf, "serve"], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        if not wait_until(lambda: (smtp_banner(self.port, 1) or "").startswith("220")
                          or self.proc.poll() is not None, 20, 0.2) or self.proc.poll() is not None:
            raise SystemExit(f"postie serve did not come up; see {self.log}")
        self.tree = Tree("postie", self.proc.pid)
        self.child_pids = sorted(children(self.proc.pid))
        log(f"postie serving on 127.0.0.1:{self.port} from {self.dir} "
            f"(master {self.proc.pid}, children {self.child_pids})")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def queue_count(self):
        return count_files([os.path.join(self.queue, d) for d in ("incoming", "active", "deferred", "hold")])

    def delivered(self):
        return maildir_count(self.maildir)

    def clean(self):
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            try:
                with os.scandir(d) as it:
                    for e in it:
                        os.unlink(e.path)
            except FileNotFoundError:
                pass


NORMAL_POSTIE_LINE = (" smtp connect ", " smtp disconnect ", " smtp rcpt ", ": removed",
                      ", relay=local, ", ": client=")


def postie_log_anomalies(text):
    odd = [ln for ln in text.splitlines() if ln and not any(p in ln for p in NORMAL_POSTIE_LINE)]
    return len(odd), odd[:10]


# ---------------------------------------------------------------- one run

def smtp_source_cmd(port, sessions, msgs, size, tag, reuse):
    cmd = [SMTP_SOURCE, "-s", str(sessions), "-m", str(msgs), "-l", str(size),
           "-f", SENDER, "-t", RCPT, "-S", tag]
    if reuse:
        cmd.append("-d")
    return cmd + [f"127.0.0.1:{port}"]


def timed_run(server, cmd, msgs, trees, delivered, queued, timeout):
    """Start smtp-source; return timings, CPU snapshots and smtp-source's result."""
    sampler = Sampler(trees)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    all0 = all_procs_cpu()
    cpu0 = proc_stat_cpu()
    snap0 = sampler.snapshot()
    sampler.start()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = {}

    def waiter():
        out = proc.communicate()[0]
        done["t"] = time.monotonic() - t0
        done["out"] = out.decode("utf-8", "replace")

    th = threading.Thread(target=waiter, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        proc.kill()
        th.join()
        done["timed_out"] = True
    t_accept = done["t"]
    snap_a = sampler.snapshot()
    cpu_a = proc_stat_cpu()
    all_a = all_procs_cpu()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # queue first, then mailbox: a message moves from the queue to the mailbox and is
    # briefly in both, so this order can count one twice but never miss one.
    q = queued()
    at_accept = {"queued": q, "delivered": delivered()}
    t_deliver = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if delivered() >= msgs:
            t_deliver = time.monotonic() - t0
            break
        if proc.returncode != 0 and queued() == 0:
            break   # a failed run: nothing more is coming
        time.sleep(0.05)
    snap_d = sampler.snapshot()
    cpu_d = proc_stat_cpu()
    sampler.stop()
    busy_a = busy_pct(cpu0, cpu_a)
    busy_d = busy_pct(cpu0, cpu_d)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res = {
        "accept_s": round(t_accept, 3),
        "accept_msgs_per_s": round(msgs / t_accept, 1) if t_accept else None,
        "deliver_s": round(t_deliver, 3) if t_deliver else None,
        "deliver_msgs_per_s": round(msgs / t_deliver, 1) if t_deliver else None,
        "smtp_source_rc": proc.returncode,
        "smtp_source_output": done.get("out", "").strip()[-400:],
        "timed_out": done.get("timed_out", False),
        "at_accept": at_accept,
        "cpu_accept": {t.name: cpu_delta(snap0[t.name], snap_a[t.name]) for t in trees},
        "cpu_until_delivered": {t.name: cpu_delta(snap0[t.name], snap_d[t.name]) for t in trees},
        "smtp_source_cpu_s": round(client_cpu, 3),
        "machine_busy_pct_accept": busy_a[0], "machine_iowait_pct_accept": busy_a[1],
        "machine_busy_cpu_s_accept": round(busy_a[2], 2),
        "machine_busy_pct_until_delivered": busy_d[0],
    }
    # CPU used on the machine during the accept window by anything but the server trees
    # and smtp-source (other users of the machine; the sampler itself):
    known = sum(v["total_s"] or 0 for v in res["cpu_accept"].values()) + client_cpu
    res["other_cpu_s_accept"] = round(busy_a[2] - known, 2)
    mine = {os.getpid(), proc.pid}
    for t in trees:
        mine.add(t.root)
        mine.update(pid for pid, _ in t.seen)
    res["top_other_procs_accept"] = top_others(all0, all_a, mine)
    return res


def run_postie(p, sessions, msgs, size, reuse, tag, timeout):
    wait_until(lambda: p.queue_count() == 0, 120)
    p.clean()
    os.sync()
    quiet = wait_quiet()
    off = file_size(p.log)
    cmd = smtp_source_cmd(p.port, sessions, msgs, size, tag, reuse)
    res = timed_run("postie", cmd, msgs, [p.tree], p.delivered, p.queue_count, timeout)
    wait_until(lambda: p.queue_count() == 0, 30)
    time.sleep(0.2)
    logtext = read_from(p.log, off)
    n_odd, odd = postie_log_anomalies(logtext)
    aa = res["at_accept"]
    res.update({
        "server": "postie", "port": p.port,
        "busy_pct_before": quiet[0], "waited_for_quiet_s": quiet[1],
        "on_disk_at_accept": aa["delivered"] + aa["queued"],
        "delivered_final": p.delivered(), "queue_left": p.queue_count(),
        "log_accepted": logtext.count(": client="),
        "log_delivered": logtext.count(", relay=local, "),
        "log_421_too_many_connections": logtext.count("reason=too-many-connections"),
        "log_unexpected_lines": n_odd, "log_unexpected_sample": odd,
        "children_restarted": sorted(children(p.proc.pid)) != p.child_pids or p.proc.poll() is not None,
    })
    # postie's CPU by role
    by = res["cpu_accept"]["postie"]["by_comm_s"]
    res["postie_worker_cpu_s_accept"] = round(by.get("postie-worker", 0), 3)
    res["postie_qmgr_cpu_s_accept"] = round(by.get("postie-qmgr", 0), 3)
    checks = []
    if res["smtp_source_rc"] != 0 or res["smtp_source_output"]:
        checks.append("smtp-source failed")
    if res["on_disk_at_accept"] < msgs:
        checks.append(f"on disk at accept {res['on_disk_at_accept']} < {msgs}")
    if res["log_accepted"] != msgs:
        checks.append(f"log shows {res['log_accepted']} accepted, not {msgs}")
    if res["delivered_final"] != msgs or res["queue_left"] != 0:
        checks.append(f"delivered {res['delivered_final']}, queue left {res['queue_left']}")
    if n_odd:
        checks.append(f"{n_odd} unexpected log lines")
    if res["children_restarted"]:
        checks.append("a postie child was restarted")
    res["checks_failed"] = checks
    p.clean()
    return res


def postfix_queue_count():
    return count_files(PF_QUEUE_DIRS)


def doveadm(*args):
    return run(["doveadm", "-c", DC_CONF, *args])


def run_postfix(port, sessions, msgs, size, reuse, tag, timeout):
    wait_until(lambda: postfix_queue_count() == 0, 300)
    os.sync()
    quiet = wait_quiet()
    base = maildir_count(PF_MAILDIR)
    off = file_size(PF_LOG)
    trees = [Tree("postfix", read_pidfile(PF_PID)), Tree("dovecot", read_pidfile(DC_PID))]
    cmd = smtp_source_cmd(port, sessions, msgs, size, tag, reuse)
    res = timed_run("postfix", cmd, msgs, trees, lambda: maildir_count(PF_MAILDIR) - base,
                    postfix_queue_count, timeout)
    wait_until(lambda: postfix_queue_count() == 0, 60)
    time.sleep(0.3)
    r = doveadm("search", "-u", RCPT, "mailbox", "INBOX", "header", "Subject", tag)
    found = len([ln for ln in r.stdout.splitlines() if ln.strip()])
    doveadm("expunge", "-u", RCPT, "mailbox", "INBOX", "header", "Subject", tag)
    pf = read_from(PF_LOG, off)
    res.update({
        "server": "postfix", "port": port,
        "busy_pct_before": quiet[0], "waited_for_quiet_s": quiet[1],
        "found_in_inbox": found,
        "queue_left": postfix_queue_count(),
        "pf_deferred_or_bounced": sum(1 for ln in pf.splitlines()
                                      if "status=deferred" in ln or "status=bounced" in ln),
        "pf_warnings": sum(1 for ln in pf.splitlines() if "warning:" in ln or "fatal:" in ln),
    })
    by = res["cpu_accept"]["postfix"]["by_comm_s"]
    res["pf_accept_comms_cpu_s_accept"] = round(sum(by.get(c, 0) for c in PF_ACCEPT_COMMS), 3)
    checks = []
    if res["smtp_source_rc"] != 0 or res["smtp_source_output"]:
        checks.append("smtp-source failed")
    if found != msgs:
        checks.append(f"found {found} of {msgs} in INBOX")
    if res["pf_deferred_or_bounced"]:
        checks.append(f"{res['pf_deferred_or_bounced']} deferred/bounced")
    res["checks_failed"] = checks
    return res


# ---------------------------------------------------------------- summary

def med(rs, key):
    v = [key(r) for r in rs]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt(x, nd=0):
    if x is None:
        return "n/a"
    return f"{x:.{nd}f}"


def summarize(results, msgs):
    lines = []
    for mode in sorted({r["reuse"] for r in results}):
        for s in sorted({r["sessions"] for r in results if r["reuse"] == mode}):
            rs = [r for r in results if r["sessions"] == s and r["reuse"] == mode]
            # failed runs (see "Failed checks") are left out of the figures
            po = [r for r in rs if r["server"] == "postie" and not r["checks_failed"]]
            pf = [r for r in rs if r["server"] == "postfix" and not r["checks_failed"]]
            npo = sum(1 for r in rs if r["server"] == "postie")
            npf = sum(1 for r in rs if r["server"] == "postfix")
            conn = "one connection per session (-d)" if mode else "new connection per message"
            lines.append(f"\n### {s} session{'s' if s > 1 else ''}, {conn}, {msgs} messages; "
                         f"good runs: postie {len(po)}/{npo}, Postfix {len(pf)}/{npf} (median, min-max)\n")
            lines.append("| | postie | Postfix | postie / Postfix |")
            lines.append("|---|---|---|---|")

            def rate(runs, k):
                v = [r[k] for r in runs if r.get(k)]
                if not v:
                    return None, "n/a"
                return statistics.median(v), f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})"

            for k, label in (("accept_msgs_per_s", "accepted msgs/s"),
                             ("deliver_msgs_per_s", "delivered into Maildir msgs/s (end to end)")):
                a, sa = rate(po, k)
                b, sb = rate(pf, k)
                ratio = f"{a / b:.2f}" if a and b else "n/a"
                lines.append(f"| {label} | {sa} | {sb} | {ratio} |")

            def ms(runs, f):
                m = med(runs, f)
                return m * 1000.0 / msgs if m is not None else None

            rows = (
                ("CPU ms/msg, accept window: postie all processes / Postfix smtpd+cleanup+qmgr+trivial-rewrite",
                 lambda r: r["cpu_accept"]["postie"]["total_s"],
                 lambda r: r["pf_accept_comms_cpu_s_accept"]),
                ("CPU ms/msg, accept window: postie-worker / smtpd+cleanup+trivial-rewrite",
                 lambda r: r["postie_worker_cpu_s_accept"],
                 lambda r: sum(r["cpu_accept"]["postfix"]["by_comm_s"].get(c, 0)
                               for c in ("smtpd", "cleanup", "trivial-rewrite"))),
                ("CPU ms/msg, start to all delivered: postie all / Postfix all + Dovecot all",
                 lambda r: r["cpu_until_delivered"]["postie"]["total_s"],
                 lambda r: (r["cpu_until_delivered"]["postfix"]["total_s"] or 0)
                 + (r["cpu_until_delivered"]["dovecot"]["total_s"] or 0)),
                ("smtp-source CPU ms/msg (the client)",
                 lambda r: r["smtp_source_cpu_s"], lambda r: r["smtp_source_cpu_s"]),
            )
            for label, fa, fb in rows:
                a, b = ms(po, fa), ms(pf, fb)
                ratio = f"{a / b:.2f}" if a and b else "n/a"
                lines.append(f"| {label} | {fmt(a, 2)} | {fmt(b, 2)} | {ratio} |")
            lines.append(f"| machine busy % before the run (other users) | "
                         f"{fmt(med(po, lambda r: r['busy_pct_before']))} | {fmt(med(pf, lambda r: r['busy_pct_before']))} | |")
            lines.append(f"| machine busy %, accept window | {fmt(med(po, lambda r: r['machine_busy_pct_accept']))} "
                         f"| {fmt(med(pf, lambda r: r['machine_busy_pct_accept']))} | |")
            bad = [(r["server"], r["run"], r["checks_failed"]) for r in rs if r["checks_failed"]]
            if bad:
                lines.append("\nFailed checks: " + "; ".join(f"{a} run {b}: {', '.join(c)}" for a, b, c in bad))
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--msgs", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="smtp-source -d: all messages of a session on one connection")
    ap.add_argument("--both-modes", action="store_true", help="new connection per message, then -d")
    ap.add_argument("--no-postfix", action="store_true")
    ap.add_argument("--no-postie", action="store_true")
    ap.add_argument("--postfix-port", type=int, default=10025)
    ap.add_argument("--postie-ip-limit", default="1000",
                    help="smtp_max_connections_per_ip for the instance ('default' keeps postie's 50)")
    ap.add_argument("--warmup", type=int, default=300, help="messages in an unrecorded warm-up run per server")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run (accept, then delivery)")
    ap.add_argument("--no-fsync-probe", action="store_true")
    ap.add_argument("--quiet-busy", type=float, default=35.0,
                    help="before each run, wait until the machine is less busy than this (%%)")
    ap.add_argument("--quiet-wait", type=float, default=120.0, help="... but at most this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the postie instance directory")
    ap.add_argument("--out")
    a = ap.parse_args()

    if not os.access(POSTIE, os.X_OK):
        raise SystemExit(f"{POSTIE} missing: run `make build` first")
    if not os.access(SMTP_SOURCE, os.X_OK):
        raise SystemExit(f"{SMTP_SOURCE} missing: apt-get install postfix (or run the peer's up.sh)")
    do_pf = not a.no_postfix
    if do_pf:
        if os.geteuid() != 0:
            raise SystemExit("the Postfix runs need root (queue directories, doveadm); or use --no-postfix")
        b = smtp_banner(a.postfix_port)
        if not b or not b.startswith("220"):
            raise SystemExit(f"no SMTP server on 127.0.0.1:{a.postfix_port}: start the peer stack "
                             "(bash /work/shared/peers/postfix-dovecot/up.sh) or use --no-postfix")
    QUIET.update(busy_pct=a.quiet_busy, max_wait_s=a.quiet_wait)
    modes = [False, True] if a.both_modes else [a.reuse]
    os.makedirs("/var/tmp/postie-bench", exist_ok=True)
    out_path = a.out or time.strftime("/var/tmp/postie-bench/smtp_accept-%Y%m%d-%H%M%S.jsonl")
    outf = open(out_path, "a")

    def emit(obj):
        outf.write(json.dumps(obj) + "\n")
        outf.flush()

    info = {"kind": "setup", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "args": vars(a),
            "machine": machine_info("/var/tmp"), "versions": versions()}
    t0, c0 = time.monotonic(), proc_stat_cpu()
    time.sleep(1.0)
    info["machine"]["idle_busy_pct_before"] = busy_pct(c0, proc_stat_cpu())[0]
    if not a.no_fsync_probe:
        info["machine"]["fsync_probe"] = fsync_probe("/var/tmp", size=a.size)
    log(json.dumps(info))
    emit(info)

    p = None
    results = []
    try:
        if not a.no_postie:
            p = Postie(a.postie_ip_limit, a.keep)
            p.start()
            emit({"kind": "postie_instance", "dir": p.dir, "port": p.port, "ip_limit": a.postie_ip_limit})
        stamp = int(time.time())
        if a.warmup:
            if p:
                run_postie(p, 10, a.warmup, a.size, False, f"warmup-{stamp}", a.timeout)
            if do_pf:
                run_postfix(a.postfix_port, 10, a.warmup, a.size, False, f"warmup-{stamp}", a.timeout)
        for reuse in modes:
            for s in a.sessions:
                for i in range(a.runs):
                    for server in ("postie", "postfix"):
                        if server == "postie" and not p or server == "postfix" and not do_pf:
                            continue
                        tag = f"bench-{stamp}-{'d' if reuse else 'n'}-s{s}-r{i}"
                        if server == "postie":
                            r = run_postie(p, s, a.msgs, a.size, reuse, tag, a.timeout)
                        else:
                            r = run_postfix(a.postfix_port, s, a.msgs, a.size, reuse, tag, a.timeout)
                        r.update({"kind": "run", "sessions": s, "msgs": a.msgs, "size": a.size,
                                  "reuse": reuse, "run": i, "tag": tag})
                        results.append(r)
                        emit(r)
                        log(f"{server:7s} s={s:<3d} {'-d ' if reuse else ''}run {i}: "
                            f"accept {r['accept_msgs_per_s']} msgs/s ({r['accept_s']} s), "
                            f"delivered {r['deliver_msgs_per_s']} msgs/s, "
                            f"cpu(accept) {json.dumps(r['cpu_accept'])} "
                            f"{'FAILED: ' + '; '.join(r['checks_failed']) if r['checks_failed'] else 'ok'}")
    finally:
        if p:
            p.stop()
        outf.close()
    print(f"# smtp_accept.py results ({out_path})\n")
    print(f"machine: {json.dumps(info['machine'])}")
    print(f"versions: {json.dumps(info['versions'])}")
    print(summarize(results, a.msgs))
    return 1 if any(r["checks_failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
