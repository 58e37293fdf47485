"""postie on an existing PostgreSQL or MariaDB mail database.

One private PostgreSQL and one private MariaDB server run for the whole
session (sql_servers.py), each holding the tutorial and the PostfixAdmin
schema filled with plain SQL (sql_schemas.py). For each of the four
database/schema pairs a postie server runs with directory_backend pgsql or
mysql and the matching sql_query_set, and the tests check what a site
moving from Postfix + Dovecot expects: mail to users and aliases lands in
the right Maildir, logins work with the hashes already in the database, an
inactive mailbox or domain is refused, alias domains resolve, addresses
full of SQL are refused normally and change nothing, the admin commands
work (or say clearly why not), and a database that goes away makes RCPT
answer 451 until it is back, after which mail flows again without
restarting postie.
"""

import hashlib
import imaplib
import poplib
import smtplib
import uuid

import pytest

import conftest as cf
import delivery_helpers as dh
import smtp_helpers as sh
import sql_schemas as S
import sql_servers

PAIRS = [("pgsql", "tutorial"), ("pgsql", "postfixadmin"),
         ("mysql", "tutorial"), ("mysql", "postfixadmin")]
PFA_PAIRS = [p for p in PAIRS if p[1] == "postfixadmin"]


def ids(p):
    return f"{p[0]}-{p[1]}"


# ---------------------------------------------------------------- databases

def _load(srv):
    for schema in S.SCHEMAS:
        srv.create_db(schema)
        srv.sql(schema, S.seed_sql(schema, srv.kind))


@pytest.fixture(scope="session")
def pg_server():
    srv = sql_servers.PgServer()
    try:
        srv.start()
        _load(srv)
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="session")
def my_server():
    # A port of a slot that this session holds: nobody else uses it.
    with cf.reserved_port_base() as base:
        port = base + 306
        assert cf.port_is_free(port), f"port {port} is taken"
        srv = sql_servers.MariaServer(port)
        try:
            srv.start()
            _load(srv)
            yield srv
        finally:
            srv.close()


def db_server(request, kind):
    return request.getfixturevalue("pg_server" if kind == "pgsql"
                                   else "my_server")


# ---------------------------------------------------------------- postie

class SqlEnv(dh.DeliveryEnv):
    def __init__(self, inst, server, tmpdir, db, schema):
        super().__init__(inst, server, tmpdir)
        self.db = db
        self.schema = schema
        self.kind = db.kind

    def sql(self, text):
        return self.db.sql(self.schema, text)

    def snapshot(self):
        """Every row of every table of the schema, as a digest."""
        h = hashlib.sha256()
        for t in S.tables(self.schema):
            rows = self.sql(f"SELECT * FROM {t} ORDER BY 1")
            h.update(repr((t, rows)).encode())
        return h.hexdigest()

    def add_user_sql(self, address, password, active=True):
        self.sql(S.user_sql(self.schema, address, password, active))


def start_env(tmpdir, db, schema, conf=None):
    base_cm = sh.reserved_port_base()
    base = base_cm.__enter__()
    inst = cf.init_instance(tmpdir / "inst", base)
    settings = {"worker_processes": "1", "offload_threads": "2",
                "sql_query_set": schema, "sql_cache_ttl": "1s",
                "smtp_max_errors": "100",
                "sql_cache_negative_ttl": "1s",
                "sql_reconnect_max_delay": "1s",
                "queue_minimal_backoff": "1s", "queue_maximal_backoff": "2s",
                **db.postie_conf(schema), **(conf or {})}
    for k, v in settings.items():
        inst.set(k, v)
    server = sh.SmtpServer(inst, tmpdir / "serve1.log")
    env = SqlEnv(inst, server, tmpdir, db, schema)
    env.port_cm = base_cm
    server.start()
    try:
        server.wait_ready()
    except BaseException:
        stop_env(env)
        raise
    return env


def stop_env(env):
    for s in env.servers:
        s.stop()
    env.port_cm.__exit__(None, None, None)


class Envs:
    """The postie servers of this module, one per database/schema pair,
    started at first use and kept until the module ends (whatever order
    pytest runs the parametrized tests in)."""

    def __init__(self, request, tmp_path_factory):
        self.request = request
        self.tmp = tmp_path_factory
        self.envs = {}

    def get(self, kind, schema):
        if (kind, schema) not in self.envs:
            db = db_server(self.request, kind)
            self.envs[kind, schema] = start_env(
                self.tmp.mktemp(f"{kind}-{schema}"), db, schema)
        return self.envs[kind, schema]

    def close(self):
        logs = []
        for e in self.envs.values():
            stop_env(e)
            logs.append(e.log())
        return logs


@pytest.fixture(scope="module")
def envs(request, tmp_path_factory):
    e = Envs(request, tmp_path_factory)
    yield e
    for log in e.close():
        assert "ERROR: AddressSanitizer" not in log


@pytest.fixture
def env(request, envs):
    kind, schema = request.param
    return envs.get(kind, schema)


def tok():
    return "t" + uuid.uuid4().hex[:12]


def rcpt(env, address, port=None):
    """The reply to RCPT TO:<ADDRESS> (raw: bytes allowed) in a fresh
    transaction."""
    with sh.Conn(port or env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<sender@client.example.org>", 250)
        line = b"RCPT TO:<" + (address if isinstance(address, bytes)
                               else address.encode()) + b">"
        r = c.cmd(line)
        c.quit()
    return r


# ---------------------------------------------------------------- delivery

@pytest.mark.parametrize("env", PAIRS, indirect=True, ids=ids)
def test_mail_to_users_and_aliases_lands_in_their_maildirs(env):
    sent = {}
    for rcpt_to in (S.ALICE, S.INFO, S.TEAM, "Bob@Example.TEST"):
        t = tok()
        sent[rcpt_to] = t
        env.wait_gone(env.send("sender@client.example.org", [rcpt_to],
                               dh.message(t)))
    # A user, an alias, an alias with two destinations (one row each in
    # the tutorial schema, one list in PostfixAdmin's), and any case (as
    # Postfix folds its keys).
    dh.wait_files(env.maildir(S.ALICE), sent[S.ALICE], env=env)
    dh.wait_files(env.maildir(S.ALICE), sent[S.INFO], env=env)
    dh.wait_files(env.maildir(S.ALICE), sent[S.TEAM], env=env)
    dh.wait_files(env.maildir(S.BOB), sent[S.TEAM], env=env)
    dh.wait_files(env.maildir(S.BOB), sent["Bob@Example.TEST"], env=env)
    assert not dh.files_with(env.maildir(S.BOB), sent[S.INFO])
    assert "bounced" not in env.log()


@pytest.mark.parametrize("env", PAIRS, indirect=True, ids=ids)
def test_unknown_user_is_refused_and_wildcards_match_nothing(env):
    r = rcpt(env, "nobody@example.test")
    assert (r.code, r.enh) == (550, "5.1.1"), r
    # LIKE wildcards are no wildcards: a bound parameter is compared as is.
    for addr in ("_lice@example.test", "%@example.test", "al%@example.test"):
        r = rcpt(env, addr)
        assert (r.code, r.enh) == (550, "5.1.1"), (addr, r)


@pytest.mark.parametrize("env", PAIRS, indirect=True, ids=ids)
def test_login_with_a_hash_inserted_by_plain_sql(env):
    carol = f"carol{tok()}@example.test"
    env.add_user_sql(carol, "carol pw 9")
    for user, pw in ((carol, "carol pw 9"), (S.ALICE, S.ALICE_PW)):
        with sh.Conn(env.submission) as c:
            c.ehlo()
            c.starttls()
            c.ehlo()
            r = c.auth_plain(user, pw)
            assert (r.code, r.enh) == (235, "2.7.0"), (user, r)
            # The login may send as itself.
            t = tok()
            c.mail_transaction(user, [S.BOB], dh.message(t, sender=user))
            c.quit()
        dh.wait_files(env.maildir(S.BOB), t, env=env)
    with sh.Conn(env.submission) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.auth_plain(carol, "wrong password")
        assert (r.code, r.enh) == (535, "5.7.8"), r


@pytest.mark.parametrize("env", PFA_PAIRS, indirect=True, ids=ids)
def test_inactive_mailbox_or_domain_is_refused(env):
    for addr in (S.IVY, S.OTTO, "anyone@off.test"):
        r = rcpt(env, addr)
        assert (r.code, r.enh) == (550, "5.1.1"), (addr, r)
    with sh.Conn(env.submission) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.auth_plain(S.IVY, "ivy-pw")
        assert r.code == 535, r
    # Switched on by plain SQL, the mailbox works once the cache expired.
    env.sql(f"UPDATE mailbox SET active = '1' WHERE username = '{S.IVY}'")
    try:
        ok = cf.wait_until(lambda: rcpt(env, S.IVY).code == 250, 10,
                           interval=0.5)
        assert ok, rcpt(env, S.IVY)
    finally:
        env.sql(f"UPDATE mailbox SET active = '0' "
                f"WHERE username = '{S.IVY}'")


@pytest.mark.parametrize("env", PFA_PAIRS, indirect=True, ids=ids)
def test_alias_domain_resolves(env):
    t = tok()
    qid = env.send("x@client.example.org",
                   ["alice@alias.test", "team+tag@alias.test"],
                   dh.message(t))
    env.wait_gone(qid)
    dh.wait_files(env.maildir(S.ALICE), t, env=env)
    dh.wait_files(env.maildir(S.BOB), t, env=env)
    r = rcpt(env, "nobody@alias.test")
    assert (r.code, r.enh) == (550, "5.1.1"), r
    res = env.cli("lookup", "alice@alias.test")
    assert res.returncode == 0 and "example.test/alice" in res.stdout, res


# ---------------------------------------------------------------- hostile input

HOSTILE = [
    "x'; DROP TABLE mailbox; --@example.test",
    "x'; DROP TABLE virtual_users; --@example.test",
    "\"x'; DROP TABLE mailbox; --\"@example.test",
    "\"x' OR '1'='1\"@example.test",
    "\"a\\\"b\"@example.test",
    "\"back\\\\slash\"@example.test",
    "a\\b@example.test",
    "'@example.test",
    "x'--@example.test",
    "%s@example.test",
    "%u%d@example.test",
    "_@example.test",
    "%@example.test",
    "alice@example.test' OR '1'='1",
    "alice@example.test';DELETE FROM alias;--",
    "a" * 1000 + "@example.test",
    "\"" + "'" * 60 + "\"@example.test",
]


@pytest.mark.parametrize("env", PAIRS, indirect=True, ids=ids)
def test_addresses_full_of_sql_are_refused_and_change_nothing(env):
    before = env.snapshot()
    with sh.Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<sender@client.example.org>", 250)
        for addr in HOSTILE:
            r = c.cmd("RCPT TO:<" + addr + ">")
            assert r.code in (550, 501), (addr, r)
        # A NUL never reaches the directory.
        r = c.cmd(b"RCPT TO:<a\x00b@example.test>")
        assert r.code in (500, 501), r
        c.expect(f"RCPT TO:<{S.ALICE}>", 250)
        c.quit()
    # Such strings straight into the directory, past the SMTP parser.
    for addr in (HOSTILE[0], HOSTILE[2], HOSTILE[9]):
        res = env.cli("lookup", addr)
        assert res.returncode == 1, (addr, res)
        assert "unknown" in res.stdout or "invalid" in res.stderr, res
    assert env.snapshot() == before, "the database changed"
    # Still serving, and still finding real users.
    assert rcpt(env, S.ALICE).code == 250
    sh.assert_serves(env.smtp)


# ---------------------------------------------------------------- admin CLI

# Both databases and both schemas, in two runs.
@pytest.mark.parametrize("env", [PAIRS[0], PAIRS[3]], indirect=True, ids=ids)
def test_admin_commands_work_on_the_database(env):
    d = f"{tok()}.test"
    u = f"dan@{d}"
    env.ok("domain", "add", d)
    res = env.cli("domain", "add", d)
    cf.assert_error(res, "already exists")
    env.ok("user", "add", u, input="dan pw 1\n")
    cf.assert_error(env.cli("user", "add", u, input="x\n"), "already exists")
    env.ok("alias", "add", f"info@{d}", u)
    env.ok("alias", "add", f"info@{d}", S.BOB)
    assert env.ok("user", "list", d).stdout.split() == [u]
    out = env.ok("lookup", f"info@{d}").stdout
    assert f"{d}/dan" in out and "example.test/bob" in out, out
    cf.assert_error(env.cli("domain", "del", d), "still has")
    # What postie wrote is what the schema expects: check with plain SQL.
    if env.schema == "tutorial":
        rows = env.sql(f"SELECT password FROM virtual_users "
                       f"WHERE email = '{u}'")
    else:
        rows = env.sql(f"SELECT password FROM mailbox WHERE username = '{u}'")
    assert len(rows) == 1 and cf.crypt_verify("dan pw 1", rows[0][0]), rows
    # Mail reaches the new user through the new alias.
    t = tok()
    env.wait_gone(env.send("x@client.example.org", [f"info@{d}"],
                           dh.message(t)))
    dh.wait_files(env.maildir(u), t, env=env)
    dh.wait_files(env.maildir(S.BOB), t, env=env)
    # What the query set cannot do is said clearly.
    if env.schema == "tutorial":
        cf.assert_error(env.cli("domain", "disable", d),
                        "cannot enable or disable domains",
                        "sql_domain_active_query")
        cf.assert_error(env.cli("user", "quota", u, "1G"),
                        "cannot set quotas")
    else:
        env.ok("user", "disable", u)
        assert "inactive" in env.ok("user", "list", d).stdout
        env.ok("user", "enable", u)
        env.ok("user", "quota", u, "1G")
    env.ok("alias", "del", f"info@{d}", S.BOB)
    env.ok("alias", "del", f"info@{d}")
    cf.assert_error(env.cli("alias", "del", f"info@{d}"), "no such alias")
    env.ok("user", "del", u)
    env.ok("domain", "del", d)
    cf.assert_error(env.cli("domain", "del", d), "unknown domain")


@pytest.mark.parametrize("env", PAIRS[:1], indirect=True, ids=ids)
def test_a_read_only_directory_says_so(env, tmp_path):
    inst = cf.init_instance(tmp_path / "ro", 40000)
    for k, v in {"sql_query_set": env.schema, "sql_read_only": "yes",
                 **env.db.postie_conf(env.schema)}.items():
        inst.set(k, v)
    cf.assert_error(inst.cli("domain", "add", "ro.test"), "read-only",
                    "sql_read_only")
    cf.assert_error(inst.cli("user", "add", "x@example.test", input="p\n"),
                    "read-only")
    # Reading still works.
    assert S.ALICE in cf.assert_ok(inst.cli("user", "list",
                                            "example.test")).stdout
    # A custom set without queries is refused when opened, by key name.
    inst.set("sql_read_only", "no")
    inst.set("sql_query_set", "custom")
    cf.assert_error(inst.cli("lookup", S.ALICE), "sql_user_query")
    inst.set("sql_domain_query", "SELECT name FROM virtual_domains "
             "WHERE name = %d")
    inst.set("sql_user_query", "SELECT email AS address, password "
             "FROM virtual_users WHERE email = '%s'")
    res = inst.cli("lookup", S.ALICE)
    assert res.returncode == 0 and "mailbox" in res.stdout, res
    cf.assert_error(inst.cli("domain", "add", "x.test"),
                    "cannot add domains", "sql_domain_add_query")
    inst.set("sql_user_query", "SELECT 1 WHERE email = '%s@%d'")
    cf.assert_error(inst.cli("lookup", S.ALICE), "sql_user_query",
                    "string literal")


# ---------------------------------------------------------------- outage

@pytest.mark.parametrize("env", [PAIRS[1], PAIRS[2]], indirect=True,
                         ids=ids)
def test_database_outage_gives_451_and_mail_flows_again(env):
    try:
        _outage(env, env.db)
    finally:
        if not env.db.running:
            env.db.start()


def _outage(env, db):
    dora = f"dora{tok()}@example.test"      # never looked up before the stop
    env.add_user_sql(dora, "dora pw")
    # Warm up: alice is delivered (known to the queue manager), bob only
    # looked up at RCPT (known to the SMTP worker).
    t = tok()
    env.wait_gone(env.send("x@client.example.org", [S.ALICE], dh.message(t)))
    dh.wait_files(env.maildir(S.ALICE), t, env=env)
    with sh.Conn(env.smtp) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@client.example.org>", 250)
        c.expect(f"RCPT TO:<{S.BOB}>", 250)
        c.expect("RSET", 250)
        c.quit()

    db.stop()
    # Nothing known: temporary failure, never 550.
    for _ in range(3):
        r = rcpt(env, dora)
        assert (r.code, r.enh) == (451, "4.3.0"), r
    r = rcpt(env, "nobody-at-all@example.test")
    assert (r.code, r.enh) == (451, "4.3.0"), r
    # IMAP login: a temporary failure, not "wrong password".
    with imaplib.IMAP4("127.0.0.1", env.inst.port("imap")) as im:
        with pytest.raises(imaplib.IMAP4.error) as e:
            im.login(dora, "dora pw")
        assert "[UNAVAILABLE]" in str(e.value), e.value
    # POP3 login: -ERR [SYS/TEMP]; LMTP RCPT: 451, as SMTP.
    p = poplib.POP3("127.0.0.1", env.inst.port("pop3"), timeout=30)
    try:
        p.user(dora)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_("dora pw")
        assert b"[SYS/TEMP]" in e.value.args[0], e.value
    finally:
        p.close()
    with smtplib.LMTP("127.0.0.1", env.inst.port("lmtp")) as lm:
        lm.ehlo_or_helo_if_needed()
        assert lm.mail("x@client.example.org")[0] == 250
        code, text = lm.rcpt(dora)
        assert (code, text[:5]) == (451, b"4.3.0"), (code, text)
    # Known addresses are still accepted, and their mail is kept.
    t_alice, t_bob = tok(), tok()
    env.send("x@client.example.org", [S.ALICE], dh.message(t_alice))
    qid_bob = env.send("x@client.example.org", [S.BOB], dh.message(t_bob))
    dh.wait_files(env.maildir(S.ALICE), t_alice, env=env)
    # The queue manager never saw bob: his message waits.
    env.wait_deferred(qid_bob)
    assert "4.3.0" in env.defer_log(qid_bob), env.defer_log(qid_bob)

    db.start()
    # Within seconds, without restarting postie: new lookups work again.
    ok = cf.wait_until(lambda: rcpt(env, dora).code == 250, 15,
                       interval=0.25)
    assert ok, (rcpt(env, dora), env.log()[-3000:])
    t_dora = tok()
    env.wait_gone(env.send("x@client.example.org", [dora],
                           dh.message(t_dora)))
    dh.wait_files(env.maildir(dora), t_dora, env=env)
    # The deferred message is delivered; nothing bounced.
    env.flush()
    env.wait_gone(qid_bob, timeout=20)
    dh.wait_files(env.maildir(S.BOB), t_bob, env=env)
    log = env.log()
    assert "status=bounced" not in log, log[-3000:]
    assert "connection lost" in log or "cannot reconnect" in log, log[-3000:]
    assert not (env.dir / "queue" / "bounce" / qid_bob).exists()
