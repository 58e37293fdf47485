"""Crash safety of the queue: while ten SMTP sessions send small messages,
the queue manager and the protocol workers are killed with SIGKILL at
random moments (the master restarts them). Afterwards every message that
got a 250 must be in the Maildir: none lost. Duplicates are possible only
when the queue manager dies between the Maildir fsync and the removal of
the queue file, so there may be at most one per kill of the queue manager
(the target is zero; the exact number is printed).

Sessions on a killed worker fail; their message did not get a 250 and is
sent again under a new token (a new message), so a token is never sent
twice and any second copy of a token is the server's duplicate."""

import os
import random
import re
import signal
import smtplib
import threading
import time
from collections import Counter

import conftest as cf
from delivery_helpers import delivery_env, maildir_files
from smtp_helpers import assert_serves

RCPT = "crash@example.test"
SENDER = "load@client.example.org"
MESSAGES = 1000         # distinct messages to get accepted
SESSIONS = 10
ATTEMPTS = 3            # per message, each under a new token
QMGR_KILLS = 4
WORKER_KILLS = 4
SEND_DEADLINE = 60.0    # seconds for the sending phase
DRAIN_TIMEOUT = 30.0    # seconds for the queue to empty afterwards

TOKEN_RE = re.compile(rb"^Subject: crash (m\d+a\d+)\r$", re.M)


def build(tok):
    return (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: crash {tok}\r\n"
            f"Message-ID: <{tok}@client.example.org>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"body of {tok}\r\n.leading dot\r\n").encode()


class Load:
    """The messages to send, handed out by index to the sessions. A
    session waits at index hold_at until the killer has moved it on, so
    that every planned kill happens while messages are flowing, however
    fast the server is."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.next = 0
        self.hold_at = MESSAGES
        self.acked = set()          # tokens that got 250
        self.failed = []            # (token, error)
        self.stop = threading.Event()

    def take(self):
        with self.cond:
            while (self.hold_at <= self.next < MESSAGES and
                   not self.stop.is_set()):
                self.cond.wait(0.1)
            if self.next >= MESSAGES or self.stop.is_set():
                return None
            self.next += 1
            return self.next - 1

    def hold(self, at):
        with self.cond:
            self.hold_at = at
            self.cond.notify_all()

    def handed_out(self):
        with self.lock:
            return self.next

    def connect(self):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=15)
        s.ehlo("load.example.org")
        return s

    def session(self):
        smtp = None
        while True:
            i = self.take()
            if i is None:
                break
            for attempt in range(ATTEMPTS):
                tok = f"m{i:04d}a{attempt}"
                try:
                    if smtp is None:
                        smtp = self.connect()
                    smtp.sendmail(SENDER, [RCPT], build(tok))
                except (smtplib.SMTPException, OSError) as e:
                    with self.lock:
                        self.failed.append((tok, repr(e)))
                    try:
                        if smtp is not None:
                            smtp.close()
                    except OSError:
                        pass
                    smtp = None
                    if self.stop.is_set():
                        break
                    continue
                with self.lock:
                    self.acked.add(tok)
                break
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass


def kill_one(server, which):
    """SIGKILL one child of kind WHICH ("qmgr"/"worker"), then wait until
    the master has replaced it. Returns the killed pid or None."""
    pids = server.qmgrs() if which == "qmgr" else server.workers()
    if not pids:
        return None
    pid = random.choice(pids)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    want = 1 if which == "qmgr" else 2
    cf.wait_until(lambda: pid not in server.children() and len(
        server.qmgrs() if which == "qmgr" else server.workers()) == want, 10)
    return pid


def killer(server, load, plan, kills):
    """Carry out PLAN: (message index at which to kill, kind), in order."""
    for n, (at, which) in enumerate(plan):
        while load.handed_out() < at and not load.stop.is_set():
            time.sleep(0.002)
        if load.stop.is_set():
            return
        # let the sessions go on to the next kill point, and kill at a
        # random moment within the next transactions
        load.hold(plan[n + 1][0] if n + 1 < len(plan) else MESSAGES)
        time.sleep(random.uniform(0, 0.03))
        if kill_one(server, which) is not None:
            kills[which] += 1


def test_kill_qmgr_and_workers_while_sending_loses_nothing(tmp_path):
    seed = int(time.time())
    random.seed(seed)
    print(f"random seed {seed}")
    with delivery_env(tmp_path, {}, users=[(RCPT, None)], workers=2) as env:
        server = env.server
        server.wait_children(workers=2, qmgrs=1)
        load = Load(env.smtp)
        points = sorted(random.sample(range(int(MESSAGES * 0.05),
                                            int(MESSAGES * 0.9)),
                                      QMGR_KILLS + WORKER_KILLS))
        kinds = ["qmgr"] * QMGR_KILLS + ["worker"] * WORKER_KILLS
        random.shuffle(kinds)
        plan = list(zip(points, kinds))
        kills = Counter()
        load.hold(plan[0][0])

        t0 = time.monotonic()
        senders = [threading.Thread(target=load.session, daemon=True)
                   for _ in range(SESSIONS)]
        kt = threading.Thread(target=killer, args=(server, load, plan, kills),
                              daemon=True)
        for t in senders:
            t.start()
        kt.start()
        for t in senders:
            t.join(max(0.1, SEND_DEADLINE - (time.monotonic() - t0)))
        timed_out = any(t.is_alive() for t in senders)
        load.stop.set()
        for t in senders:
            t.join(20)
        kt.join(15)
        send_secs = time.monotonic() - t0
        print(f"sent: {len(load.acked)} accepted, {len(load.failed)} failed "
              f"attempts in {send_secs:.1f}s; kills {dict(kills)} "
              f"(plan {plan})")
        assert not timed_out, (
            f"sending did not finish within {SEND_DEADLINE}s: "
            f"{len(load.acked)} accepted")
        assert kills["qmgr"] == QMGR_KILLS and kills["worker"] == WORKER_KILLS, (
            f"kills done {dict(kills)}, planned {plan}")
        assert len(load.acked) >= MESSAGES * 0.95, (
            f"only {len(load.acked)} of {MESSAGES} accepted; failures: "
            f"{load.failed[:20]}")

        # the queue drains: nothing left in incoming/, active/, deferred/
        drained = cf.wait_until(lambda: not env.queued(), DRAIN_TIMEOUT,
                                interval=0.2)
        assert drained, (
            f"queue not empty {DRAIN_TIMEOUT}s after sending: "
            f"{ {k: len(v) for k, v in env.queued().items()} }; defer reasons: "
            f"{[env.defer_log(i) for i in list(env.queue_ids('deferred'))[:5]]}"
            f"\nlog:\n{env.log()[-4000:]}")
        corrupt = os.listdir(env.queue_dir("corrupt"))
        assert corrupt == [], f"queue files moved to corrupt/: {corrupt}"

        delivered = Counter()
        for p in maildir_files(env.maildir(RCPT)):
            data = p.read_bytes()
            m = TOKEN_RE.search(data)
            assert m, f"{p}: no token: {data[:300]!r}"
            delivered[m.group(1).decode()] += 1
        missing = sorted(load.acked - set(delivered))
        dups = {t: n for t, n in delivered.items() if n > 1}
        extra = sum(n - 1 for n in dups.values())
        unacked = sorted(set(delivered) - load.acked)
        print(f"delivered {len(delivered)} distinct, missing {len(missing)}, "
              f"duplicate copies {extra} ({sorted(dups.items())}), "
              f"delivered without a 250 (fine): {len(unacked)}")
        assert missing == [], (
            f"{len(missing)} accepted messages were lost: {missing[:50]}")
        # The done log records each Maildir file before its rename, so a
        # killed queue manager's retry can tell what it already delivered.
        assert extra == 0, (
            f"{extra} duplicate copies ({dups}) after {kills['qmgr']} "
            f"kills of the queue manager")

        # the master is still there with all its children, and serves
        server.wait_children(workers=2, qmgrs=1)
        assert server.proc.poll() is None, "the master died"
        assert_serves(env.smtp)
