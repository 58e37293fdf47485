"""A private Postfix (Debian package postfix) for interoperability tests.

    pf = PostfixPeer(port=..., domains={"postfix.test": ["carol"]},
                     relayhost=f"[127.0.0.1]:{postie_smtp_port}")
    pf.start()          # waits for its 220
    ... pf.maildir("carol@postfix.test"), pf.log(), pf.queue() ...
    pf.stop()           # also removes its directory

Everything of it lives in one directory of its own (a fresh one under
/tmp, 0755 so that Postfix's unprivileged daemons can reach it, not under
pytest's 0700 tmp tree): config_directory (main.cf, master.cf, texthash
maps, a self-signed certificate), queue_directory, data_directory, the
virtual mailboxes and maillog_file. It never reads /etc/postfix/main.cf
and never touches the system's queue, so it runs beside a system Postfix
or the shared peer stack. It is started with `postfix -c DIR start` and
stopped at teardown (SIGKILL to its master's process group if `postfix
stop` does not end it).

Postfix here:
- smtpd listens on LISTEN:PORT only (a host:port service in master.cf),
  with STARTTLS offered (smtpd_tls_security_level = may), TLS logged
  (loglevel 1) and recorded in the Received header;
- mail for DOMAINS goes by virtual(8) into Maildirs under mail/<domain>/
  <user>/ (users listed in a texthash map; others are refused with 550),
  or, with LMTP="unix:/path" or "inet:host:port", by LMTP to that server
  (virtual_transport = lmtp:...; the map still says who exists);
- other mail goes to RELAYHOST or through TRANSPORT entries, never
  anywhere else: DNS lookups are off, and with neither, other mail bounces;
- the smtp client offers STARTTLS opportunistically (may).

Needs root (postfix start): tests that use it skip otherwise.
Only the standard library (and pytest) is used."""

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# The daemons master.cf must run for smtpd, cleanup, the queue manager,
# the smtp/lmtp clients, virtual delivery and bounces; none chrooted.
# (service, type, private, unpriv, chroot, wakeup, maxproc, command)
MASTER_SERVICES = [
    ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
    ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
    ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
    ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
    ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
    ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
    ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
    ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
    ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
    ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
    ("error", "unix", "-", "-", "n", "-", "-", "error"),
    ("retry", "unix", "-", "-", "n", "-", "-", "error"),
    ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
    ("local", "unix", "-", "n", "n", "-", "-", "local"),
    ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
    ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
    ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
    ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
    ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
]

# queue_directory's folders: (name, group, mode); owner postfix except pid.
QUEUE_DIRS = [(d, "root", 0o700) for d in (
    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
    "incoming", "private", "saved", "trace")] + [
    ("maildrop", "postdrop", 0o730), ("public", "postdrop", 0o710),
    ("pid", "root", 0o755)]


def available():
    """None when a private Postfix can run here, else why not."""
    if os.geteuid() != 0:
        return "a private Postfix needs root (postfix start); CI runs as root"
    if not os.access(POSTFIX, os.X_OK):
        return (f"{POSTFIX} not found: install the Debian package postfix "
                f"(scripts/deps.sh does)")
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return "the postfix user or the postdrop group is missing"
    return None


def make_cert(directory, cn):
    """A self-signed certificate and key (cert.pem, key.pem) for CN."""
    directory = Path(directory)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
         "-keyout", str(directory / "key.pem"),
         "-out", str(directory / "cert.pem")],
        check=True, capture_output=True, timeout=30)
    os.chmod(directory / "key.pem", 0o600)


class PostfixPeer:
    """One private Postfix instance (see the module docstring)."""

    def __init__(self, *, port, listen="127.0.0.1", hostname="pf.postfix.test",
                 domains=None, relayhost=None, transport=(), main=None,
                 master_extra=(), lmtp=None):
        self.port = port
        self.listen = listen
        self.hostname = hostname
        self.domains = domains if domains is not None else {
            "postfix.test": ["carol"]}
        self.relayhost = relayhost
        self.lmtp = lmtp
        self.transport = list(transport)
        self.main_extra = dict(main or {})
        self.master_extra = list(master_extra)
        self.dir = None
        self.started = False

    # paths
    @property
    def conf_dir(self):
        return self.dir / "conf"

    @property
    def queue_dir(self):
        return self.dir / "queue"

    @property
    def mail_dir(self):
        return self.dir / "mail"

    @property
    def log_path(self):
        return self.dir / "maillog"

    def maildir(self, address):
        local, domain = address.split("@")
        return self.mail_dir / domain / local

    # configuration
    def main_cf(self):
        pf = pwd.getpwnam("postfix")
        d = self.dir
        conf = {
            "compatibility_level": "3.6",
            "config_directory": str(self.conf_dir),
            "queue_directory": str(self.queue_dir),
            "data_directory": str(d / "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": self.hostname.split(".", 1)[-1],
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "smtpd_recipient_restrictions": "reject_unlisted_recipient",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.dir),
            # nothing ever leaves the machine
            "disable_dns_lookups": "yes",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "virtual_mailbox_domains": ", ".join(self.domains) or "",
            "virtual_mailbox_base": str(self.mail_dir),
            "virtual_mailbox_maps": f"texthash:{self.conf_dir}/vmailbox",
            "virtual_uid_maps": f"static:{pf.pw_uid}",
            "virtual_gid_maps": f"static:{pf.pw_gid}",
            "virtual_minimum_uid": "1",
            "smtpd_tls_cert_file": str(self.conf_dir / "cert.pem"),
            "smtpd_tls_key_file": str(self.conf_dir / "key.pem"),
            "smtpd_tls_security_level": "may",
            "smtpd_tls_received_header": "yes",
            "smtpd_tls_loglevel": "1",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            "smtp_tls_CAfile": "",
            "smtp_tls_CApath": "",
            # quick retries: a test never waits for a Postfix timer
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connect_timeout": "5s",
            "delay_warning_time": "0h",
        }
        if self.relayhost:
            conf["relayhost"] = self.relayhost
        else:
            conf["default_transport"] = "error:no relay host in this test"
            conf["relay_transport"] = "error:no relay host in this test"
        if self.transport:
            conf["transport_maps"] = f"texthash:{self.conf_dir}/transport"
        if self.lmtp:
            conf["virtual_transport"] = f"lmtp:{self.lmtp}"
            # quick retries and no DNS for the lmtp client either
            conf["lmtp_connect_timeout"] = "5s"
            conf["lmtp_host_lookup"] = "native"
        conf.update(self.main_extra)
        return "".join(f"{k} = {v}\n" for k, v in conf.items())

    def master_cf(self):
        lines = [f"{self.listen}:{self.port} inet n - n - - smtpd"]
        lines += ["{:<12} {:<10} {} {} {} {} {} {}".format(*s)
                  for s in MASTER_SERVICES]
        lines += list(self.master_extra)
        return "\n".join(lines) + "\n"

    def _write(self):
        pf = pwd.getpwnam("postfix")
        self.dir = Path(tempfile.mkdtemp(prefix="postie-pf-"))
        os.chmod(self.dir, 0o755)
        self.conf_dir.mkdir(mode=0o755)
        self.queue_dir.mkdir(mode=0o755)
        for sub in ("data", "mail"):
            p = self.dir / sub
            p.mkdir(mode=0o700)
            os.chown(p, pf.pw_uid, pf.pw_gid)
        (self.conf_dir / "main.cf").write_text(self.main_cf())
        (self.conf_dir / "master.cf").write_text(self.master_cf())
        (self.conf_dir / "vmailbox").write_text("".join(
            f"{u}@{dom} {dom}/{u}/\n"
            for dom, users in self.domains.items() for u in users))
        (self.conf_dir / "transport").write_text(
            "".join(ln + "\n" for ln in self.transport))
        self.log_path.touch(mode=0o600)
        # The queue folders with the owners and modes that `postfix check`
        # would give them (it takes seconds; this takes nothing).
        postdrop = grp.getgrnam("postdrop").gr_gid
        for sub, gid, mode in QUEUE_DIRS:
            p = self.queue_dir / sub
            p.mkdir()
            if sub != "pid":
                os.chown(p, pf.pw_uid, postdrop if gid == "postdrop" else 0)
            os.chmod(p, mode)
        make_cert(self.conf_dir, self.hostname)

    # lifecycle
    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", str(self.conf_dir), *args],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def start(self):
        why = available()
        if why:
            raise RuntimeError(why)
        self._write()
        res = self.postfix("start")
        if res.returncode != 0:
            raise RuntimeError(f"postfix start: {res.stdout}{res.stderr}\n"
                               f"{self.log()}")
        self.started = True
        deadline = time.monotonic() + READY_TIMEOUT
        line = None
        while time.monotonic() < deadline:
            line = self.greeting()
            if line:
                break
            time.sleep(0.1)
        if not line or not line.startswith("220 "):
            self.stop()
            raise RuntimeError(f"Postfix on {self.listen}:{self.port} did "
                               f"not greet (got {line!r})\n{self.log()}")
        return self

    def greeting(self, timeout=1.0):
        try:
            with socket.create_connection((self.listen, self.port),
                                          timeout=timeout) as s:
                data = s.recv(4096)
        except OSError:
            return None
        return data.split(b"\r\n", 1)[0].decode("utf-8", "replace") or None

    def master_pid(self):
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self, keep=False):
        """Stop Postfix and (unless KEEP) remove its directory."""
        if self.dir is None:
            return
        pid = self.master_pid()
        if self.started:
            self.postfix("stop", timeout=30)
            deadline = time.monotonic() + STOP_TIMEOUT
            while pid and _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid and _alive(pid):
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.started = False
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # observation
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, TypeError):
            return ""

    def queue(self):
        """`postqueue -p` of this instance."""
        res = subprocess.run([POSTQUEUE, "-c", str(self.conf_dir), "-p"],
                             capture_output=True, text=True, timeout=30)
        return res.stdout + res.stderr

    def flush(self):
        subprocess.run([POSTQUEUE, "-c", str(self.conf_dir), "-f"],
                       capture_output=True, text=True, timeout=30)

    def files(self, address):
        box = self.maildir(address)
        out = []
        for sub in ("new", "cur"):
            d = box / sub
            if d.is_dir():
                out += sorted(d / f for f in os.listdir(d))
        return out

    def files_with(self, address, needle):
        if isinstance(needle, str):
            needle = needle.encode()
        return [p for p in self.files(address) if needle in p.read_bytes()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
