"""A full disk: the message that does not fit gets 452 4.3.1, nothing
half-written stays in the queue, and the server goes on serving.

The instance lives on a small tmpfs, so this needs root (mount); it is
skipped otherwise."""

import os
import smtplib
import subprocess

import pytest

from conftest import init_instance, is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root to mount")


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                          str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def queue_files(inst):
    names = []
    for state in ("tmp", "incoming", "active", "deferred"):
        names += os.listdir(inst.dir / "queue" / state)
    return names


def test_message_larger_than_the_free_space_gets_452(small_disk, port_base,
                                                      make_server):
    inst = init_instance(small_disk / "inst", port_base)
    inst.set("worker_processes", "1")
    inst.set("max_message_size", "20M")
    inst.set("defer_transports", "local")
    inst.ok("domain", "add", "example.test")
    inst.ok("user", "add", "alice@example.test", input="secret\n")
    make_server(inst).wait_ready()

    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 5000   # 5 MB
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30) as s:
        s.ehlo()
        s.mail("bob@sender.test")
        s.rcpt("alice@example.test")
        code, msg = s.data(big)
        assert (code, msg[:5]) == (452, b"4.3.1"), (code, msg)
        # nothing of it is left behind, and the session goes on
        assert queue_files(inst) == []
        assert s.noop()[0] == 250

        # a message that fits is still accepted and queued
        assert s.mail("bob@sender.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, msg = s.data(b"Subject: small\r\n\r\nhello\r\n")
        assert code == 250, (code, msg)
    assert len(queue_files(inst)) == 1
