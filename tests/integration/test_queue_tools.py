"""The queue tools and the sendmail interface: `postie queue list|show|
flush|delete|hold|release|requeue`, `mailq` and `sendmail` through links,
and `postie sendmail` into the maildrop, with the server running and
stopped, as root and as an ordinary user."""

import contextlib
import os
import pwd
import re
import shutil
import smtplib
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import conftest as cf
import smtp_helpers as sh
from conftest import POSTIE_BIN, assert_error, assert_ok, init_instance

HOSTNAME = cf.HOSTNAME
REMOTE = "someone@elsewhere.example"
REMOTE2 = "other@faraway.example"
STATES = ("incoming", "active", "deferred", "hold", "maildrop", "corrupt")
SETTLE = 20          # seconds for the queue manager to move a message

HEAD_RE = re.compile(
    r"^([0-9A-F]{16})([ *!M#]) +(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d)  (\S+)$")


# ---------------------------------------------------------------- helpers

def parse_list(text):
    """`queue list` output as {id: {mark, size, sender, rcpts, reasons}},
    after checking its frame (header, blank lines, the total)."""
    lines = text.splitlines()
    if lines == ["Mail queue is empty"]:
        return {}
    assert lines[0] == ("-Queue ID-  --Size-- ----Arrival Time---- "
                        "-Sender/Recipient-------"), text
    m = re.fullmatch(r"-- (\d+) Kbytes in (\d+) Requests?\.", lines[-1])
    assert m and lines[-2] == "", f"bad total line: {text!r}"
    out, cur, total = {}, None, 0
    for ln in lines[1:-2]:
        if ln == "":
            cur = None
            continue
        h = HEAD_RE.match(ln)
        if h:
            assert cur is None, f"no blank line before {ln!r}: {text!r}"
            cur = out[h.group(1)] = {"mark": h.group(2), "size": int(h.group(3)),
                                     "sender": h.group(5), "rcpts": [],
                                     "reasons": []}
            total += int(h.group(3))
            continue
        assert cur is not None and ln.startswith("  "), f"stray line {ln!r}"
        s = ln.strip()
        if s.startswith("(") and s.endswith(")"):
            cur["reasons"].append(s[1:-1])
        else:
            cur["rcpts"].append(s)
    assert int(m.group(2)) == len(out), text
    assert int(m.group(1)) == (total + 1023) // 1024, text
    return out


def qlist(inst):
    res = assert_ok(inst.cli("queue", "list"))
    return parse_list(res.stdout)


def where(inst, qid):
    """The state folders that hold QID."""
    q = inst.dir / "queue"
    return [s for s in STATES if (q / s / qid).exists()]


def files_in(inst, state):
    d = inst.dir / "queue" / state
    return sorted(n for n in os.listdir(d) if not n.startswith("."))


def send_smtp(inst, sender, rcpts, subject="queued"):
    """One message over SMTP from 127.0.0.1 (trusted: may relay); its ID."""
    msg = sh.make_message(subject, sender=sender or "mailer-daemon@x.example",
                          to=rcpts[0])
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=15) as s:
        s.ehlo("client.example.org")
        s.mail(sender)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(msg)
        assert code == 250, (code, text)
    m = sh.QID_RE.search(text.decode())
    assert m, text
    return m.group(1)


def wait_state(inst, qid, state, timeout=SETTLE, log=None):
    ok = cf.wait_until(lambda: where(inst, qid) == [state], timeout)
    assert ok, (f"{qid} is in {where(inst, qid)}, expected {state}/ within "
                f"{timeout}s (is the queue manager running?)\n"
                + (log() if log else ""))


def defer_count(log_text, qid):
    return len(re.findall(re.escape(qid) + r": to=<[^>]*>, status=deferred",
                          log_text))


def sendmail(inst, args, data, env=None, argv0=None, prefix=()):
    """Run `postie sendmail ARGS` (or ARGV0 ARGS) with DATA on stdin."""
    full_env = dict(os.environ)
    full_env["POSTIE_CONFIG"] = str(inst.conf)
    full_env.update(env or {})
    argv = list(prefix) + ([str(argv0)] if argv0 else
                           [POSTIE_BIN, "sendmail"]) + list(args)
    return subprocess.run(argv, input=data if isinstance(data, bytes)
                          else data.encode(), capture_output=True,
                          env=full_env, timeout=cf.CMD_TIMEOUT)


def ok_quiet(res):
    assert res.returncode == 0 and res.stdout == b"" and res.stderr == b"", (
        f"{res.args} exited {res.returncode}\nstdout {res.stdout!r}\n"
        f"stderr {res.stderr!r}")


def error_line(res, *needles):
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.decode()
    assert len(err.splitlines()) == 1 and err.startswith("postie: "), err
    for n in needles:
        assert n in err, (n, err)
    return err


def maildrop_files(inst):
    d = inst.dir / "queue" / "maildrop"
    return sorted(os.listdir(d))


def only_maildrop_file(inst):
    names = maildrop_files(inst)
    assert len(names) == 1, f"maildrop/ holds {names}"
    assert re.fullmatch(r"[0-9A-F]{16}", names[0]), names
    return sh.QueueFile(inst.dir / "queue" / "maildrop" / names[0])


def header_block(qf):
    return qf.message.split(b"\r\n\r\n", 1)[0].decode()


def assert_crlf(data):
    assert b"\n" not in data.replace(b"\r\n", b""), f"bare LF in {data!r}"
    assert data.endswith(b"\r\n"), data[-50:]


@contextlib.contextmanager
def stopped_then_started(tmp_path):
    """An instance with the standard users whose server is not running
    yet; yields (inst, start) where start() starts it and waits."""
    with sh.reserved_port_base() as base:
        inst = init_instance(tmp_path / "inst", base)
        inst.set("worker_processes", "1")
        sh.populate(inst)
        servers = []

        def start():
            s = sh.SmtpServer(inst, tmp_path / "serve.log")
            servers.append(s)
            s.start()
            s.wait_ready()
            return s

        try:
            yield inst, start
        finally:
            for s in servers:
                s.stop()


def maildir_messages(inst, address):
    new = inst.maildir(address) / "new"
    if not new.is_dir():
        return []
    return [p.read_bytes() for p in sorted(new.iterdir())]


# ---------------------------------------------------------------- queue, no server

def test_list_empty_queue(instance):
    res = assert_ok(instance.cli("queue", "list"))
    assert res.stdout == "Mail queue is empty\n" and res.stderr == ""


def test_mailq_link_lists_the_queue(instance, tmp_path):
    link = tmp_path / "mailq"
    link.symlink_to(POSTIE_BIN)
    res = subprocess.run([str(link)], capture_output=True, text=True,
                         env=dict(os.environ, POSTIE_CONFIG=str(instance.conf)),
                         timeout=cf.CMD_TIMEOUT)
    assert res.returncode == 0 and res.stdout == "Mail queue is empty\n", res


def test_queue_usage_and_help(instance):
    res = instance.cli("queue")
    assert res.returncode == 1 and "usage: postie" in res.stderr
    res = instance.cli("queue", "frobnicate")
    assert res.returncode == 1 and "usage: postie" in res.stderr
    res = instance.cli("queue", "show")
    assert res.returncode == 1 and "usage: postie" in res.stderr
    res = assert_ok(instance.cli("queue", "--help"))
    for word in ("list", "show", "flush", "delete", "hold", "release",
                 "requeue"):
        assert word in res.stdout


@pytest.mark.parametrize("bad", ["../../etc/passwd", "0123456789abcdef",
                                 "0123456789ABCDE", "0123456789ABCDEF0",
                                 "ALL/../x", "", "deferred/0123456789ABCDEF"])
def test_invalid_ids_rejected(instance, bad):
    before = {s: files_in(instance, s) for s in STATES}
    for op in ("show", "delete", "hold", "release", "requeue"):
        assert_error(instance.cli("queue", op, bad), "not a queue ID")
    assert {s: files_in(instance, s) for s in STATES} == before


def test_unknown_id_is_an_error(instance):
    qid = "0123456789ABCDEF"
    for op in ("show", "delete", "hold", "release", "requeue"):
        assert_error(instance.cli("queue", op, qid), qid, "no such message")


def test_all_on_an_empty_queue(instance):
    for op, verb in (("delete", "deleted"), ("hold", "held"),
                     ("release", "released"), ("requeue", "requeued")):
        res = assert_ok(instance.cli("queue", op, "ALL"))
        assert res.stdout == "" and res.stderr == f"postie: {verb} 0 messages\n"
    res = assert_ok(instance.cli("queue", "flush"))
    assert res.stdout == "" and res.stderr == ""


def test_show_refuses_a_symlink_in_the_maildrop(instance):
    """maildrop/ is writable by every user: a link planted there must not
    make `queue show` (run by root) print the file it points to."""
    qid = "00000000DEADBEEF"
    os.symlink("/etc/passwd", instance.dir / "queue" / "maildrop" / qid)
    res = instance.cli("queue", "show", qid)
    assert res.returncode == 1 and "root:" not in res.stdout, res
    res = assert_ok(instance.cli("queue", "list"))
    assert "root:" not in res.stdout
    res = assert_ok(instance.cli("queue", "delete", qid))
    assert not os.path.lexists(instance.dir / "queue" / "maildrop" / qid)


def test_list_skips_a_malformed_maildrop_file(instance):
    good = sendmail(instance, ["-f", "a@x.test", "b@example.test"],
                    "Subject: ok\n\nbody\n")
    ok_quiet(good)
    (instance.dir / "queue" / "maildrop" / "00000000BADBAD00").write_bytes(
        b"this is not a queue file\n\n")
    res = instance.cli("queue", "list")
    assert res.returncode == 0, res
    assert "00000000BADBAD00" in res.stderr
    q = parse_list(res.stdout)
    assert len(q) == 1 and list(q.values())[0]["sender"] == "a@x.test"


# ---------------------------------------------------------------- queue, live server

def test_queue_tools_with_the_server_running(tmp_path):
    # Remote mail stays deferred (defer_transports): no DNS needed.
    with sh.smtp_env(tmp_path, keep_queued=True) as env:
        inst = env.inst
        q1 = send_smtp(inst, "a@client.example", [REMOTE, REMOTE2], "first")
        q2 = send_smtp(inst, "", [REMOTE], "bounce-like")
        for q in (q1, q2):
            wait_state(inst, q, "deferred", log=env.log)

        # list: sender (MAILER-DAEMON for <>), recipients, the reason
        res = assert_ok(inst.cli("queue", "list"))
        assert res.stderr == ""
        listing = parse_list(res.stdout)
        assert set(listing) == {q1, q2}, res.stdout
        assert listing[q1]["mark"] == " " and listing[q1]["sender"] == \
            "a@client.example"
        assert listing[q1]["rcpts"] == [REMOTE, REMOTE2]
        assert listing[q2]["sender"] == "MAILER-DAEMON"
        assert listing[q2]["rcpts"] == [REMOTE]
        assert listing[q1]["reasons"], f"no deferral reason:\n{res.stdout}"
        size = sh.QueueFile(inst.dir / "queue" / "deferred" / q1).message
        assert listing[q1]["size"] == len(size)

        # show: envelope and message
        res = assert_ok(inst.cli("queue", "show", q1))
        out = res.stdout
        assert out.startswith(f"*** ENVELOPE RECORDS deferred/{q1} ***\n"), out
        assert f"queue_id: {q1}\n" in out and "sender: a@client.example\n" in out
        assert f"recipient: {REMOTE}\n" in out and f"recipient: {REMOTE2}\n" in out
        assert "client: 127.0.0.1\n" in out and "helo: client.example.org\n" in out
        assert "\n*** MESSAGE CONTENTS ***\n" in out
        assert "Subject: first" in out and "hello" in out
        assert out.endswith("*** END OF MESSAGE ***\n")
        assert "sender: <>\n" in assert_ok(inst.cli("queue", "show", q2)).stdout

        # hold: set aside, and the manager leaves it there
        res = assert_ok(inst.cli("queue", "hold", q1))
        assert res.stderr == "postie: held 1 message\n"
        assert where(inst, q1) == ["hold"]
        assert parse_list(assert_ok(inst.cli("queue", "list")).stdout)[q1][
            "mark"] == "!"
        assert_ok(inst.cli("queue", "flush"))
        time.sleep(1.5)
        assert where(inst, q1) == ["hold"]

        # release: back to deferred/, due now, and tried again at once
        n = defer_count(env.log(), q1)
        res = assert_ok(inst.cli("queue", "release", q1))
        assert res.stderr == "postie: released 1 message\n"
        assert cf.wait_until(lambda: defer_count(env.log(), q1) > n, SETTLE), \
            env.log()
        wait_state(inst, q1, "deferred", log=env.log)

        # requeue: through incoming/ again, tried again at once
        n1, n2 = defer_count(env.log(), q1), defer_count(env.log(), q2)
        res = assert_ok(inst.cli("queue", "requeue", "ALL"))
        assert res.stderr == "postie: requeued 2 messages\n"
        assert cf.wait_until(lambda: defer_count(env.log(), q1) > n1 and
                             defer_count(env.log(), q2) > n2, SETTLE), env.log()
        for q in (q1, q2):
            wait_state(inst, q, "deferred", log=env.log)

        # flush: every deferred message is tried again now
        n1, n2 = defer_count(env.log(), q1), defer_count(env.log(), q2)
        ok = assert_ok(inst.cli("queue", "flush"))
        assert ok.stdout == "" and ok.stderr == ""
        assert cf.wait_until(lambda: defer_count(env.log(), q1) > n1 and
                             defer_count(env.log(), q2) > n2, SETTLE), env.log()
        for q in (q1, q2):
            wait_state(inst, q, "deferred", log=env.log)

        # delete: the file and its logs
        assert (inst.dir / "queue" / "defer" / q2).exists()
        res = assert_ok(inst.cli("queue", "delete", q2))
        assert res.stderr == "postie: deleted 1 message\n"
        assert where(inst, q2) == []
        assert not (inst.dir / "queue" / "defer" / q2).exists()
        assert_error(inst.cli("queue", "show", q2), "no such message")
        res = assert_ok(inst.cli("queue", "delete", "ALL"))
        assert res.stderr == "postie: deleted 1 message\n"
        assert where(inst, q1) == []
        assert assert_ok(inst.cli("queue", "list")).stdout == \
            "Mail queue is empty\n"
        sh.assert_serves(inst.port("smtp"))


def test_queue_moves_with_the_server_stopped(tmp_path):
    """With no queue manager to move things on, each command's effect on
    the folders is exact."""
    with sh.smtp_env(tmp_path, keep_queued=True) as env:
        inst = env.inst
        ids = [send_smtp(inst, "a@client.example", [REMOTE], f"m{i}")
               for i in range(3)]
        for q in ids:
            wait_state(inst, q, "deferred", log=env.log)
        env.server.stop()
        assert env.server.proc.poll() is not None
        a, b, c = ids
        deferred = inst.dir / "queue" / "deferred"
        future = time.time() + 3600
        os.utime(deferred / a, (future, future))

        # hold one, then all (incoming, active and deferred)
        assert_ok(inst.cli("queue", "hold", a))
        assert where(inst, a) == ["hold"]
        assert_error(inst.cli("queue", "hold", a), a, "hold/")
        os.rename(deferred / b, inst.dir / "queue" / "incoming" / b)
        os.rename(deferred / c, inst.dir / "queue" / "active" / c)
        res = assert_ok(inst.cli("queue", "hold", "ALL"))
        assert res.stderr == "postie: held 2 messages\n"
        assert files_in(inst, "hold") == sorted(ids)

        # release: hold/ -> deferred/, due now
        assert_error(inst.cli("queue", "release", "0123456789ABCDEF"),
                     "no such message")
        t0 = time.time()
        assert_ok(inst.cli("queue", "release", a))
        assert where(inst, a) == ["deferred"]
        assert abs((deferred / a).stat().st_mtime - t0) < 5
        assert_error(inst.cli("queue", "release", a), "not in hold/",
                     "deferred/")

        # requeue: deferred/ and hold/ -> incoming/
        assert_ok(inst.cli("queue", "requeue", a))
        assert where(inst, a) == ["incoming"]
        assert_error(inst.cli("queue", "requeue", a), "not in")
        res = assert_ok(inst.cli("queue", "requeue", "ALL"))
        assert res.stderr == "postie: requeued 2 messages\n"
        assert files_in(inst, "incoming") == sorted(ids)

        # flush: every deferred file is due now
        for q in ids:
            os.rename(inst.dir / "queue" / "incoming" / q, deferred / q)
            os.utime(deferred / q, (future, future))
        t0 = time.time()
        assert_ok(inst.cli("queue", "flush"))
        for q in ids:
            assert abs((deferred / q).stat().st_mtime - t0) < 5

        # delete deferred: only deferred ones
        assert_ok(inst.cli("queue", "hold", c))
        res = assert_ok(inst.cli("queue", "delete", "deferred"))
        assert res.stderr == "postie: deleted 2 messages\n"
        assert files_in(inst, "deferred") == [] and files_in(inst, "hold") == [c]
        for q in (a, b):
            assert not (inst.dir / "queue" / "defer" / q).exists()
        listing = qlist(inst)
        assert list(listing) == [c] and listing[c]["mark"] == "!"
        assert_ok(inst.cli("queue", "delete", "ALL"))
        assert qlist(inst) == {}


# ---------------------------------------------------------------- sendmail, server stopped

def test_sendmail_writes_a_maildrop_file(instance):
    t0 = int(time.time())
    res = sendmail(instance, ["-f", "a@x.test", "b@example.test"],
                   "Subject: hello\nX-Test: 1\n\nline one\nline two\n")
    ok_quiet(res)
    qf = only_maildrop_file(instance)
    name = qf.path.name
    assert [k for k, _ in qf.records] == ["V", "I", "T", "S", "R", "P", "C"]
    assert qf.get("V") == "1" and qf.get("I") == name
    assert t0 - 1 <= int(qf.get("T")) <= time.time() + 1
    assert qf.get("S") == "a@x.test" and qf.rcpts() == ["b@example.test"]
    assert qf.get("P") == "LOCAL" and qf.get("C") == "localhost"
    assert_crlf(qf.message)
    head, body = qf.message.split(b"\r\n\r\n", 1)
    assert body == b"line one\r\nline two\r\n"
    h = head.decode().split("\r\n")
    assert h[:2] == ["Subject: hello", "X-Test: 1"]
    assert "From: a@x.test" in h
    assert any(re.fullmatch(r"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", x)
               for x in h), h
    assert any(re.fullmatch(r"Message-ID: <[^@>]+@" + re.escape(HOSTNAME) + ">", x)
               for x in h), h
    st = qf.path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o644
    # listed as a maildrop message, shown like any other
    listing = qlist(instance)
    assert listing[name]["mark"] == "M" and listing[name]["sender"] == "a@x.test"
    assert listing[name]["rcpts"] == ["b@example.test"]
    assert listing[name]["size"] == len(qf.message)
    out = assert_ok(instance.cli("queue", "show", name)).stdout
    assert out.startswith(f"*** ENVELOPE RECORDS maildrop/{name} ***\n")
    assert "protocol: LOCAL\n" in out and "line two" in out


def test_sendmail_keeps_crlf_and_existing_headers(instance):
    msg = (b"From: Me <me@x.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <given@x.test>\r\nSubject: crlf\r\n\r\n"
           b"a\r\nb\nc\r\n")
    ok_quiet(sendmail(instance, ["-f", "me@x.test", "b@example.test"], msg))
    qf = only_maildrop_file(instance)
    assert qf.message == msg.replace(b"b\nc", b"b\r\nc")


def test_sendmail_t_takes_to_cc_bcc_and_removes_bcc(instance):
    msg = ("From: sender@x.test\n"
           "To: Plain <p1@example.test>, \"Last, First\" <p2@example.test>\n"
           "Cc: p3@example.test (a comment), team: t1@example.test,\n"
           "    t2@example.test;, undisclosed-recipients:;\n"
           "Bcc: hidden@example.test,\n"
           " hidden2@example.test\n"
           "Subject: -t\n\nbody\n")
    ok_quiet(sendmail(instance, ["-t", "-f", "sender@x.test", "extra@example.test"],
                      msg))
    qf = only_maildrop_file(instance)
    assert sorted(qf.rcpts()) == sorted([
        "extra@example.test", "p1@example.test", "p2@example.test",
        "p3@example.test", "t1@example.test", "t2@example.test",
        "hidden@example.test", "hidden2@example.test"])
    head = header_block(qf)
    assert "Bcc" not in head and "hidden" not in head
    assert "To: Plain <p1@example.test>" in head and "Subject: -t" in head
    assert qf.message.endswith(b"\r\n\r\nbody\r\n")


def test_sendmail_dot_line_ends_input_unless_i(instance):
    ok_quiet(sendmail(instance, ["-f", "a@x.test", "b@example.test"],
                      "Subject: dot\n\nbefore\n..two\n.\nafter\n"))
    qf = only_maildrop_file(instance)
    assert qf.message.endswith(b"\r\n\r\nbefore\r\n..two\r\n")
    os.unlink(qf.path)
    for opt in ("-i", "-oi"):
        ok_quiet(sendmail(instance, [opt, "-f", "a@x.test", "b@example.test"],
                          "Subject: dot\n\nbefore\n.\nafter\n"))
        qf = only_maildrop_file(instance)
        assert qf.message.endswith(b"\r\n\r\nbefore\r\n.\r\nafter\r\n")
        os.unlink(qf.path)


def test_sendmail_full_name_default_sender_and_bare_names(instance):
    login = pwd.getpwuid(os.getuid()).pw_name
    ok_quiet(sendmail(instance, ["-F", "Jane Q. Doe", "root", "b@Example.TEST"],
                      "Subject: names\n\nx\n"))
    qf = only_maildrop_file(instance)
    assert qf.get("S") == f"{login}@{HOSTNAME}"
    assert qf.rcpts() == [f"root@{HOSTNAME}", "b@example.test"]
    assert f'From: "Jane Q. Doe" <{login}@{HOSTNAME}>' in header_block(qf)
    os.unlink(qf.path)
    # -F never replaces a From: the message has
    ok_quiet(sendmail(instance, ["-F", "Jane", "-f", "j@x.test", "b@example.test"],
                      "From: Real <real@x.test>\nSubject: s\n\nx\n"))
    head = header_block(only_maildrop_file(instance))
    assert head.count("From:") == 1 and "From: Real <real@x.test>" in head


def test_sendmail_message_without_header(instance):
    ok_quiet(sendmail(instance, ["-f", "a@x.test", "b@example.test"],
                      "just a body line\nsecond"))
    qf = only_maildrop_file(instance)
    head, body = qf.message.split(b"\r\n\r\n", 1)
    assert body == b"just a body line\r\nsecond\r\n"
    assert b"From: a@x.test" in head and b"Date: " in head


def test_sendmail_common_caller_options(instance):
    """What cron, mutt, mail(1), PHP and git send-email pass."""
    calls = [
        ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"],
        ["-oem", "-oi", "-B8BITMIME", "-N", "success,failure", "--",
         "b@example.test"],
        ["-t", "-i"],
        ["-i", "-f", "git@x.test", "b@example.test"],
        ["-v", "-bm", "-em", "-odb", "-Nnever", "-R", "hdrs", "b@example.test"],
    ]
    for args in calls:
        ok_quiet(sendmail(instance, args,
                          "To: b@example.test\nSubject: caller\n\nx\n"))
        qf = only_maildrop_file(instance)
        assert qf.rcpts() == ["b@example.test"], args
        os.unlink(qf.path)


@pytest.mark.parametrize("args,data,needle", [
    ([], "Subject: x\n\nbody\n", "no recipients"),
    (["-t"], "Subject: no to\n\nbody\n", "no recipients"),
    (["@example.test"], "x\n", "@example.test"),
    (["a@"], "x\n", "a@"),
    (["-t"], "To: <broken@example.test\n\nx\n", "To:"),
    (["-bs"], "", "-bs"),
    (["-bd"], "", "-bd"),
    (["-q"], "", "-q"),
    (["-Z", "b@example.test"], "x\n", "-Z"),
    (["-f"], "", "-f"),
    (["-f", "not an address", "b@example.test"], "x\n", "not an address"),
])
def test_sendmail_errors(instance, args, data, needle):
    error_line(sendmail(instance, args, data), needle)
    assert maildrop_files(instance) == []


def test_sendmail_message_too_large(instance):
    instance.set("max_message_size", "2K")
    res = sendmail(instance, ["b@example.test"], "x" * 4000 + "\n")
    error_line(res, "message too large")
    assert maildrop_files(instance) == []
    ok_quiet(sendmail(instance, ["b@example.test"], "x" * 1000 + "\n"))


def test_sendmail_and_mailq_through_links(instance, tmp_path):
    for name in ("sendmail", "mailq"):
        (tmp_path / name).symlink_to(POSTIE_BIN)
    ok_quiet(sendmail(instance, ["-t", "-f", "a@x.test"],
                      "To: b@example.test\nBcc: c@example.test\n\nx\n",
                      argv0=tmp_path / "sendmail"))
    qf = only_maildrop_file(instance)
    assert sorted(qf.rcpts()) == ["b@example.test", "c@example.test"]
    env = dict(os.environ, POSTIE_CONFIG=str(instance.conf))
    for argv in ([str(tmp_path / "mailq")], [str(tmp_path / "sendmail"), "-bp"]):
        res = subprocess.run(argv, capture_output=True, text=True, env=env,
                             timeout=cf.CMD_TIMEOUT)
        assert res.returncode == 0, res
        listing = parse_list(res.stdout)
        assert listing[qf.path.name]["mark"] == "M"


def test_sendmail_as_an_ordinary_user(tmp_path):
    """Any local user may submit: the maildrop is 1733, and nothing else
    in the queue needs to be writable by them."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not installed")
    nobody = pwd.getpwnam("nobody")
    # An instance ordinary users can reach (pytest's tmp_path is 0700).
    top = Path(tempfile.mkdtemp(prefix="postie-qt-"))
    try:
        os.chmod(top, 0o755)
        inst = init_instance(top / "inst", 40000)
        res = sendmail(inst, ["-F", "No Body", "b@example.test"],
                       "Subject: from nobody\n\nhi\n",
                       prefix=["setpriv", f"--reuid={nobody.pw_uid}",
                               f"--regid={nobody.pw_gid}", "--clear-groups"])
        ok_quiet(res)
        qf = only_maildrop_file(inst)
        assert qf.path.stat().st_uid == nobody.pw_uid
        assert qf.get("S") == f"nobody@{HOSTNAME}"
        assert f"From: No Body <nobody@{HOSTNAME}>" in header_block(qf)
        assert [n for n in os.listdir(inst.dir / "queue" / "maildrop")
                if n.startswith(".")] == []
    finally:
        shutil.rmtree(top, ignore_errors=True)


# ---------------------------------------------------------------- sendmail to delivery

def test_maildrop_picked_up_when_the_server_starts(tmp_path):
    with stopped_then_started(tmp_path) as (inst, start):
        ok_quiet(sendmail(inst, ["-t", "-f", "a@x.test"],
                          "To: alice@example.test\nBcc: bob@example.test\n"
                          "Subject: while down\n\nwritten while down\n"))
        qf = only_maildrop_file(inst)
        start()
        assert cf.wait_until(lambda: maildrop_files(inst) == [], SETTLE), \
            maildrop_files(inst)
        for user in (sh.ALICE, sh.BOB):
            msgs = cf.wait_until(lambda: maildir_messages(inst, user), SETTLE)
            assert msgs and len(msgs) == 1, f"nothing delivered to {user}"
            m = msgs[0]
            assert b"written while down" in m and b"Subject: while down" in m
            assert b"Bcc:" not in m.split(b"\r\n\r\n", 1)[0]
        assert qf.get("S") == "a@x.test"


def test_sendmail_while_the_server_runs(tmp_path):
    with stopped_then_started(tmp_path) as (inst, start):
        start()
        ok_quiet(sendmail(inst, ["-f", "a@x.test", "alice@example.test"],
                          "Subject: live\n\nlive body\n"))
        msgs = cf.wait_until(lambda: maildir_messages(inst, sh.ALICE), SETTLE)
        assert msgs and b"live body\r\n" in msgs[0]
        assert maildrop_files(inst) == []
