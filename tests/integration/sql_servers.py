"""Private PostgreSQL and MariaDB servers for the SQL directory tests.

Each server lives in a fresh directory under /tmp, listens only there or
on loopback, and is stopped and removed at the end. Nothing depends on the
system's own database services (Debian may have tried to start them when
the packages were installed). As root, every database process runs as the
unprivileged user "nobody" (neither server runs as root).

- PostgreSQL: initdb + pg_ctl from /usr/lib/postgresql/*/bin, a unix
  socket only (listen_addresses = ''), trust authentication on it.
- MariaDB: mariadb-install-db + mariadbd on 127.0.0.1:<port> and a unix
  socket; postie connects over TCP with a user and a password.

Both can be stopped and started again (the outage test). SQL is run with
the real command-line clients (psql, mariadb).
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60
PG_PORT = 5432          # names the socket file only: nothing listens on TCP
DB_USER = "postie"
DB_PASSWORD = "db-secret-7"


def _as_db_user():
    """subprocess arguments that run a database process unprivileged."""
    if os.geteuid() != 0:
        return {}
    return {"user": "nobody", "group": "nogroup", "extra_groups": []}


def _own(path):
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(path):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


def _run(argv, *, as_db=False, input=None, timeout=START_TIMEOUT, env=None,
         check=True):
    kw = _as_db_user() if as_db else {}
    res = subprocess.run(argv, input=input, capture_output=True, text=True,
                         timeout=timeout, env=env, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{argv} exited {res.returncode}\n"
                             f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class PgServer:
    """A private PostgreSQL cluster reachable on a unix socket."""

    kind = "pgsql"

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        assert bins, ("PostgreSQL server not installed "
                      "(scripts/deps.sh installs postgresql)")
        self.bin = Path(bins[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="postie-pg-"))
        os.chmod(self.dir, 0o755)
        self.data = self.dir / "data"
        self.sock = self.dir / "sock"
        self.sock.mkdir(mode=0o755)
        self.logfile = self.dir / "pg.log"
        _own(self.dir)
        env = dict(os.environ, LC_ALL="C")
        _run([str(self.bin / "initdb"), "-D", str(self.data), "-U",
              "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
              "--no-sync"], as_db=True, env=env)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("listen_addresses = ''\n"
                    f"unix_socket_directories = '{self.sock}'\n"
                    f"port = {PG_PORT}\n"
                    "fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\nshared_buffers = 16MB\n"
                    "max_connections = 100\n")
        self.running = False

    @property
    def socket_file(self):
        return self.sock / f".s.PGSQL.{PG_PORT}"

    def start(self):
        _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
              str(self.logfile), "-w", "-t", str(START_TIMEOUT), "start"],
             as_db=True)
        self.running = True

    def stop(self):
        if self.running:
            _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                  "fast", "-w", "stop"], as_db=True, check=False)
            self.running = False

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_db(self, name):
        self.sql("postgres", f"CREATE ROLE {DB_USER} LOGIN PASSWORD "
                 f"'{DB_PASSWORD}'", check=False)
        self.sql("postgres", f"CREATE DATABASE {name} OWNER {DB_USER}")

    def sql(self, db, text, check=True):
        """Run TEXT (one or more statements) as the database's owner;
        the rows of the last one as lists of strings."""
        res = _run(["psql", "-X", "-q", "-A", "-t", "-F", "\t",
                    "-v", "ON_ERROR_STOP=1", "-h", str(self.sock), "-p",
                    str(PG_PORT), "-U", DB_USER if db != "postgres"
                    else "postgres", "-d", db],
                   input=text, check=check)
        return [ln.split("\t") for ln in res.stdout.splitlines() if ln]

    def postie_conf(self, db):
        return {"directory_backend": "pgsql",
                "sql_hosts": f"unix:{self.socket_file}",
                "sql_dbname": db, "sql_user": DB_USER}


class MariaServer:
    """A private MariaDB server on 127.0.0.1:PORT and a unix socket."""

    kind = "mysql"

    def __init__(self, port):
        for b in ("mariadbd", "mariadb-install-db", "mariadb"):
            assert shutil.which(b) or os.path.exists(f"/usr/sbin/{b}"), (
                f"{b} not installed (scripts/deps.sh installs "
                f"mariadb-server)")
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="postie-my-"))
        os.chmod(self.dir, 0o755)
        self.data = self.dir / "data"
        self.sock = self.dir / "mysqld.sock"
        self.logfile = self.dir / "mariadb.log"
        self.data.mkdir()
        _own(self.dir)
        user = ["--user=nobody"] if os.geteuid() == 0 else []
        _run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
              "--auth-root-authentication-method=normal", "--skip-test-db",
              "--skip-name-resolve"] + user, as_db=True)
        self.proc = None

    def start(self):
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            [mariadbd, "--no-defaults", f"--datadir={self.data}",
             f"--socket={self.sock}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--pid-file={self.dir}/pid",
             f"--log-error={self.logfile}", "--skip-name-resolve",
             "--skip-log-bin", "--innodb-buffer-pool-size=32M",
             "--innodb-flush-log-at-trx-commit=0",
             "--loose-performance-schema=OFF", "--max-connections=200"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True, **_as_db_user())

        def up():
            assert self.proc.poll() is None, (
                f"mariadbd exited {self.proc.returncode}:\n"
                f"{self.logfile.read_text(errors='replace')[-3000:]}")
            return _run(["mariadb-admin", "--no-defaults", "-S",
                         str(self.sock), "-u", "root", "ping"],
                        check=False, timeout=10).returncode == 0
        _wait(up, START_TIMEOUT, "mariadbd")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_db(self, name):
        self.sql(None, f"CREATE DATABASE {name} CHARACTER SET utf8mb4;"
                 f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' "
                 f"IDENTIFIED BY '{DB_PASSWORD}';"
                 f"GRANT ALL ON {name}.* TO '{DB_USER}'@'127.0.0.1';")

    def sql(self, db, text, check=True):
        """Run TEXT as root; the rows of its result as lists of strings."""
        argv = ["mariadb", "--no-defaults", "-S", str(self.sock), "-u",
                "root", "-B", "-N", "--raw"]
        if db:
            argv.append(db)
        res = _run(argv, input=text, check=check)
        return [ln.split("\t") for ln in res.stdout.splitlines() if ln]

    def postie_conf(self, db):
        return {"directory_backend": "mysql",
                "sql_hosts": f"127.0.0.1:{self.port}",
                "sql_dbname": db, "sql_user": DB_USER,
                "sql_password": DB_PASSWORD}
