"""The admin command line: help, init, config, domain, user, alias, lookup,
and `make install`."""

import hashlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import (HOSTNAME, REPO, SERVICES, assert_error,
                      assert_ok, crypt_verify, init_instance, run_postie)

COMMANDS = ["init", "serve", "config", "domain", "user", "alias", "lookup"]

LISTEN_KEYS = {f"{svc}_listen": v[0] for svc, v in SERVICES.items()}


def show(inst, *keys):
    """`config show KEYS` as a dict of key -> value."""
    res = assert_ok(inst.cli("config", "show", *keys))
    return parse_show(res.stdout)


def parse_show(text):
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r"^([a-z][a-z0-9_]*) =(?: (.*))?$", line)
        assert m, f"config show line is not 'key = value': {line!r}"
        out[m.group(1)] = m.group(2) or ""
    return out


def lines(res):
    return res.stdout.splitlines()


def first_words(res):
    return [ln.split()[0] for ln in res.stdout.splitlines() if ln.strip()]


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------ help

def test_help_lists_every_command():
    res = assert_ok(run_postie(["--help"]))
    assert res.stdout.strip(), "postie --help printed nothing on stdout"
    for cmd in COMMANDS:
        assert re.search(rf"\b{cmd}\b", res.stdout), f"{cmd} missing in --help"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_goes_to_stdout(cmd):
    res = assert_ok(run_postie([cmd, "--help"]))
    assert cmd in res.stdout, f"`postie {cmd} --help` does not name {cmd}"


def test_unknown_command_is_one_line_error():
    res = run_postie(["frobnicate"])
    assert_error(res)
    assert res.stdout == ""


def test_missing_config_file_is_an_error(tmp_path):
    res = run_postie(["config", "check"], config=tmp_path / "nope.conf")
    assert_error(res)


# ------------------------------------------------------------------ init

def test_init_creates_instance(tmp_path):
    d = tmp_path / "inst"
    init_instance(d, 40000)
    assert (d / "postie.conf").is_file()
    assert (d / "queue").is_dir()
    assert (d / "mail").is_dir()

    con = sqlite3.connect(str(d / "postie.db"))
    try:
        tables = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"domains", "users", "aliases"} <= tables, tables
        for t in ("domains", "users", "aliases"):
            assert con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()

    cert, key = d / "tls" / "cert.pem", d / "tls" / "key.pem"
    assert cert.is_file() and key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) & 0o007 == 0, \
        f"key.pem is world-accessible: {oct(key.stat().st_mode)}"
    out = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-ext",
         "subjectAltName"], capture_output=True, text=True, check=True).stdout
    assert HOSTNAME in out, f"certificate is not for {HOSTNAME}: {out}"
    # The key matches the certificate.
    pub_cert = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
        capture_output=True, text=True, check=True).stdout
    pub_key = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout"],
        capture_output=True, text=True, check=True).stdout
    assert pub_cert == pub_key


def test_init_port_base_puts_listeners_on_loopback(tmp_path):
    inst = init_instance(tmp_path / "inst", 31000)
    cfg = show(inst, *LISTEN_KEYS)
    assert cfg == {k: f"127.0.0.1:{31000 + p}" for k, p in LISTEN_KEYS.items()}


def test_init_without_port_base_uses_standard_ports(tmp_path):
    d = tmp_path / "inst"
    assert_ok(run_postie(["init", str(d), "--hostname", HOSTNAME]))
    res = assert_ok(run_postie(["config", "show", *LISTEN_KEYS],
                               config=d / "postie.conf"))
    cfg = parse_show(res.stdout)
    for k, p in LISTEN_KEYS.items():
        if k == "lmtp_listen":
            # LMTP has no authentication: loopback is accepted as well.
            assert cfg[k] in (f"*:{p}", f"127.0.0.1:{p}"), (k, cfg[k])
        else:
            assert cfg[k] == f"*:{p}", (k, cfg[k])


def test_init_twice_fails_and_changes_nothing(tmp_path):
    d = tmp_path / "inst"
    inst = init_instance(d, 40000)
    inst.ok("domain", "add", "example.org")
    files = [d / "postie.conf", d / "postie.db", d / "tls" / "cert.pem",
             d / "tls" / "key.pem"]
    before = {f: (file_digest(f), f.stat().st_mtime_ns) for f in files}
    res = run_postie(["init", str(d), "--hostname", "other.example.test",
                      "--port-base", "41000"])
    msg = assert_error(res)
    # "mentions it exists": the word, or "already ..." (e.g. "already holds
    # a postie instance").
    assert re.search(r"exist|already", msg), msg
    after = {f: (file_digest(f), f.stat().st_mtime_ns) for f in files}
    assert before == after
    assert first_words(inst.cli("domain", "list")) == ["example.org"]


# ------------------------------------------------------------------ config

def test_config_check_valid_is_silent(instance):
    assert_ok(instance.cli("config", "check"), quiet=True)


def test_config_from_environment(instance, tmp_path):
    res = run_postie(["config", "show", "hostname"],
                     env={"POSTIE_CONFIG": str(instance.conf)})
    assert_ok(res)
    assert res.stdout == f"hostname = {HOSTNAME}\n"


def test_config_option_beats_environment(instance, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("bogus_key = 1\n")
    res = instance.cli("config", "show", "hostname",
                       env={"POSTIE_CONFIG": str(bad)})
    assert_ok(res)
    assert res.stdout == f"hostname = {HOSTNAME}\n"


def test_config_check_unknown_key_names_file_and_line(instance):
    text = instance.conf.read_text()
    instance.conf.write_text("# one\n# two\n#three\n\nbogus_key = 1\n" + text)
    res = instance.cli("config", "check")
    assert_error(res, "postie.conf:5: bogus_key: unknown key")


def test_config_check_bad_number(instance):
    instance.set("worker_processes", "lots")
    n = next(i for i, ln in enumerate(instance.conf.read_text().splitlines(), 1)
             if ln.startswith("worker_processes"))
    res = instance.cli("config", "check")
    assert_error(res, f"postie.conf:{n}: worker_processes: not a number")


def test_config_show_prints_every_key_with_defaults(instance):
    res = assert_ok(instance.cli("config", "show"))
    cfg = parse_show(res.stdout)
    assert any(ln.startswith("#") for ln in lines(res)), "no section comments"
    assert cfg["hostname"] == HOSTNAME
    assert cfg["recipient_delimiter"] == "+"
    for key in ("data_dir", "mail_root", "worker_processes", "offload_threads",
                "log_debug", "mail_user", *LISTEN_KEYS):
        assert key in cfg, f"{key} missing from config show"


def test_config_show_n_prints_only_changed_keys(instance):
    full = show(instance)
    instance.set("recipient_delimiter", "+")   # explicitly the default
    instance.set("offload_threads", "3")
    res = assert_ok(instance.cli("config", "show", "-n"))
    changed = parse_show(res.stdout)
    assert changed["hostname"] == HOSTNAME
    assert changed["offload_threads"] == "3"
    assert changed["smtp_listen"] == "127.0.0.1:40025"
    assert "recipient_delimiter" not in changed
    assert "alias_max_depth" not in changed
    assert len(changed) < len(full)


def test_config_show_selected_keys(instance):
    instance.set("worker_processes", "3")
    res = assert_ok(instance.cli("config", "show", "hostname",
                                 "worker_processes"))
    assert lines(res) == [f"hostname = {HOSTNAME}", "worker_processes = 3"]


def test_config_show_unknown_key_is_an_error(instance):
    assert_error(instance.cli("config", "show", "no_such_key"), "no_such_key")


def test_config_doc_documents_every_key(instance):
    keys = show(instance).keys()
    res = assert_ok(instance.cli("config", "doc"))
    assert re.search(r"^#+ ", res.stdout, re.M), "no Markdown heading"
    for key in keys:
        assert key in res.stdout, f"{key} not documented by config doc"


def test_config_continuation_lines_and_comments(instance):
    text = instance.conf.read_text()
    text = re.sub(r"^smtp_listen = .*$",
                  "# a comment line\n"
                  "smtp_listen = 127.0.0.1:40025,\n"
                  "\t127.0.0.1:40026", text, flags=re.M)
    instance.conf.write_text(text)
    assert_ok(instance.cli("config", "check"), quiet=True)
    value = show(instance, "smtp_listen")["smtp_listen"]
    assert re.fullmatch(r"127\.0\.0\.1:40025,\s*127\.0\.0\.1:40026", value), value


def test_config_empty_listener_disables_it(instance):
    instance.set("lmtp_listen", "")
    assert_ok(instance.cli("config", "check"), quiet=True)
    assert show(instance, "lmtp_listen") == {"lmtp_listen": ""}


# ------------------------------------------------------------------ domains

def test_domain_add_and_list(instance):
    instance.ok("domain", "add", "example.org")
    instance.ok("domain", "add", "example.net")
    res = assert_ok(instance.cli("domain", "list"))
    assert sorted(first_words(res)) == ["example.net", "example.org"]
    assert "inactive" not in res.stdout
    assert sorted(r[0] for r in instance.sql("SELECT name FROM domains")) == \
        ["example.net", "example.org"]


def test_domain_duplicate(instance):
    instance.ok("domain", "add", "example.org")
    res = instance.cli("domain", "add", "example.org")
    assert res.returncode == 1
    assert res.stderr == "postie: domain example.org already exists\n"


@pytest.mark.parametrize("name", [
    "", "bad..org", "-bad.org", "bad-.org", "exa mple.org", "a@b.org",
    "bad_domain!.org", "x" * 64 + ".org", ".example.org",
])
def test_domain_bad_name(instance, name):
    assert_error(instance.cli("domain", "add", name))
    assert assert_ok(instance.cli("domain", "list")).stdout == ""


def test_domain_disable_enable(instance):
    instance.ok("domain", "add", "example.org")
    instance.ok("domain", "add", "example.net")
    instance.ok("domain", "disable", "example.org")
    ls = {ln.split()[0]: ln for ln in lines(instance.cli("domain", "list"))}
    assert "inactive" in ls["example.org"]
    assert "inactive" not in ls["example.net"]
    instance.ok("domain", "enable", "example.org")
    ls = {ln.split()[0]: ln for ln in lines(instance.cli("domain", "list"))}
    assert "inactive" not in ls["example.org"]


def test_domain_del(instance):
    instance.ok("domain", "add", "example.org")
    instance.ok("domain", "add", "example.net")
    instance.ok("domain", "del", "example.org")
    assert first_words(instance.cli("domain", "list")) == ["example.net"]


def test_domain_del_with_user_is_refused(instance):
    instance.ok("domain", "add", "example.org")
    instance.ok("user", "add", "u@example.org", input="pw\n")
    assert_error(instance.cli("domain", "del", "example.org"))
    assert first_words(instance.cli("domain", "list")) == ["example.org"]
    assert first_words(instance.cli("user", "list")) == ["u@example.org"]


def test_domain_del_with_alias_is_refused(instance):
    instance.ok("domain", "add", "example.org")
    instance.ok("alias", "add", "info@example.org", "x@remote.test")
    assert_error(instance.cli("domain", "del", "example.org"))
    assert first_words(instance.cli("domain", "list")) == ["example.org"]


# ------------------------------------------------------------------ users

@pytest.fixture
def dom(instance):
    instance.ok("domain", "add", "example.org")
    instance.ok("domain", "add", "example.net")
    return instance


def stored_hash(inst, address):
    rows = inst.sql("SELECT password FROM users WHERE address = ?", (address,))
    assert len(rows) == 1, f"{address}: {rows}"
    return rows[0][0]


def test_user_add_stores_yescrypt_of_first_line(dom):
    dom.ok("user", "add", "alice@example.org", input="s3cret pass\nsecond\n")
    h = stored_hash(dom, "alice@example.org")
    assert h.startswith("$y$"), h
    assert crypt_verify("s3cret pass", h)
    assert not crypt_verify("s3cret pass\nsecond", h)
    assert first_words(dom.cli("user", "list")) == ["alice@example.org"]


def test_user_add_password_without_newline(dom):
    dom.ok("user", "add", "bob@example.org", input="nonewline")
    assert crypt_verify("nonewline", stored_hash(dom, "bob@example.org"))


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_user_add_empty_password(dom, stdin):
    assert_error(dom.cli("user", "add", "alice@example.org", input=stdin))
    assert dom.sql("SELECT count(*) FROM users") == [(0,)]


def test_user_add_unknown_domain(dom):
    assert_error(dom.cli("user", "add", "a@nowhere.test", input="pw\n"),
                 "unknown domain")
    assert dom.sql("SELECT count(*) FROM users") == [(0,)]


@pytest.mark.parametrize("address", [
    "alice", "@example.org", "alice@", "alice@bad..org", "alice@@example.org",
    "al ice@example.org",
])
def test_user_add_bad_address(dom, address):
    assert_error(dom.cli("user", "add", address, input="pw\n"))
    assert dom.sql("SELECT count(*) FROM users") == [(0,)]


def test_user_add_duplicate(dom):
    dom.ok("user", "add", "alice@example.org", input="pw\n")
    h = stored_hash(dom, "alice@example.org")
    assert_error(dom.cli("user", "add", "alice@example.org", input="other\n"),
                 "already exists")
    assert stored_hash(dom, "alice@example.org") == h


def test_user_list_quota_and_domain_filter(dom):
    dom.ok("user", "add", "a@example.org", "--quota", "1G", input="pw\n")
    dom.ok("user", "add", "b@example.org", "--quota", "500M", input="pw\n")
    dom.ok("user", "add", "c@example.net", input="pw\n")
    ls = {ln.split()[0]: ln for ln in lines(dom.cli("user", "list"))}
    assert sorted(ls) == ["a@example.org", "b@example.org", "c@example.net"]
    assert "quota=1G" in ls["a@example.org"]
    assert "quota=500M" in ls["b@example.org"]
    assert "quota=" not in ls["c@example.net"]
    assert sorted(first_words(dom.cli("user", "list", "example.org"))) == \
        ["a@example.org", "b@example.org"]
    assert first_words(dom.cli("user", "list", "example.net")) == \
        ["c@example.net"]


def test_user_bad_quota(dom):
    assert_error(dom.cli("user", "add", "a@example.org", "--quota", "lots",
                         input="pw\n"))
    assert dom.sql("SELECT count(*) FROM users") == [(0,)]


def test_user_disable_enable(dom):
    dom.ok("user", "add", "a@example.org", input="pw\n")
    dom.ok("user", "disable", "a@example.org")
    assert "inactive" in dom.cli("user", "list").stdout
    dom.ok("user", "enable", "a@example.org")
    res = assert_ok(dom.cli("user", "list"))
    assert first_words(res) == ["a@example.org"]
    assert "inactive" not in res.stdout


def test_user_passwd_changes_hash(dom):
    dom.ok("user", "add", "a@example.org", input="old\n")
    old = stored_hash(dom, "a@example.org")
    dom.ok("user", "passwd", "a@example.org", input="new password\n")
    new = stored_hash(dom, "a@example.org")
    assert new != old and new.startswith("$y$")
    assert crypt_verify("new password", new)
    assert not crypt_verify("old", new)


def test_user_passwd_unknown_user(dom):
    assert_error(dom.cli("user", "passwd", "ghost@example.org", input="pw\n"))


def test_user_passwd_replaces_foreign_hash(dom):
    """A hash made elsewhere (openssl passwd -6) is a valid stored hash;
    `user passwd` replaces it with yescrypt."""
    dom.ok("user", "add", "a@example.org", input="pw\n")
    sha = subprocess.run(["openssl", "passwd", "-6", "secret"],
                         capture_output=True, text=True, check=True).stdout.strip()
    con = sqlite3.connect(str(dom.db))
    with con:
        con.execute("UPDATE users SET password = ? WHERE address = ?",
                    (sha, "a@example.org"))
    con.close()
    assert crypt_verify("secret", sha)
    dom.ok("user", "passwd", "a@example.org", input="fresh\n")
    assert crypt_verify("fresh", stored_hash(dom, "a@example.org"))
    assert stored_hash(dom, "a@example.org").startswith("$y$")


def test_user_del(dom):
    dom.ok("user", "add", "a@example.org", input="pw\n")
    dom.ok("user", "add", "b@example.org", input="pw\n")
    dom.ok("user", "del", "a@example.org")
    assert first_words(dom.cli("user", "list")) == ["b@example.org"]
    assert dom.sql("SELECT address FROM users") == [("b@example.org",)]


# ------------------------------------------------------------------ aliases

def alias_map(inst, *args):
    res = assert_ok(inst.cli("alias", "list", *args))
    out = {}
    for ln in lines(res):
        m = re.fullmatch(r"(\S+) -> (.+)", ln)
        assert m, f"alias list line is not 'SOURCE -> DESTS': {ln!r}"
        out[m.group(1)] = sorted(d.strip() for d in m.group(2).split(","))
    return out


def test_alias_add_and_list(dom):
    dom.ok("alias", "add", "info@example.org", "a@example.org,b@remote.test")
    dom.ok("alias", "add", "@example.net", "catch@example.org")
    assert alias_map(dom) == {
        "info@example.org": ["a@example.org", "b@remote.test"],
        "@example.net": ["catch@example.org"],
    }
    res = assert_ok(dom.cli("alias", "list"))
    assert "info@example.org -> a@example.org, b@remote.test" in lines(res) or \
        "info@example.org -> b@remote.test, a@example.org" in lines(res)
    assert alias_map(dom, "example.net") == {"@example.net": ["catch@example.org"]}


def test_alias_source_domain_must_exist(dom):
    assert_error(dom.cli("alias", "add", "info@nowhere.test", "a@example.org"))
    assert_error(dom.cli("alias", "add", "@nowhere.test", "a@example.org"))
    assert alias_map(dom) == {}


def test_alias_del_one_destination_then_all(dom):
    dom.ok("alias", "add", "info@example.org", "a@example.org,b@remote.test")
    dom.ok("alias", "add", "sales@example.org", "a@example.org")
    dom.ok("alias", "del", "info@example.org", "b@remote.test")
    assert alias_map(dom) == {"info@example.org": ["a@example.org"],
                              "sales@example.org": ["a@example.org"]}
    dom.ok("alias", "add", "info@example.org", "c@remote.test")
    dom.ok("alias", "del", "info@example.org")
    assert alias_map(dom) == {"sales@example.org": ["a@example.org"]}


# ------------------------------------------------------------------ lookup

@pytest.fixture
def world(dom):
    """example.org with users and aliases; example.net with one user."""
    dom.ok("user", "add", "user@example.org", input="pw\n")
    dom.ok("user", "add", "other@example.org", input="pw\n")
    dom.ok("user", "add", "n@example.net", input="pw\n")
    dom.ok("alias", "add", "info@example.org", "user@example.org,friend@remote.test")
    return dom


def mailbox(inst, address):
    """The accepted spellings of ADDRESS's mailbox path."""
    local, domain = address.split("@")
    return {f"{d}/mail/{domain}/{local}"
            for d in (str(inst.dir), os.path.realpath(inst.dir))}


def lookup(inst, address, rc):
    res = inst.cli("lookup", address)
    assert res.returncode == rc, (
        f"lookup {address}: exit {res.returncode}, expected {rc}\n"
        f"stdout: {res.stdout!r}\nstderr: {res.stderr!r}")
    return lines(res)


def test_lookup_user(world):
    out = lookup(world, "user@example.org", 0)
    assert out in [[f"user@example.org: mailbox {p}"]
                   for p in mailbox(world, "user@example.org")]


def test_lookup_plus_extension(world):
    out = lookup(world, "user+tag@example.org", 0)
    assert out in [[f"user+tag@example.org: mailbox {p} (extension tag)"]
                   for p in mailbox(world, "user@example.org")]


def test_lookup_alias_lists_final_targets(world):
    out = lookup(world, "info@example.org", 0)
    assert out[0] == "info@example.org: alias"
    assert sorted(out[1:]) in [sorted([f"  user@example.org: mailbox {p}",
                                       "  friend@remote.test: remote"])
                               for p in mailbox(world, "user@example.org")]


def test_lookup_nested_alias(world):
    world.ok("alias", "add", "team@example.org", "info@example.org,other@example.org")
    out = lookup(world, "team@example.org", 0)
    assert out[0] == "team@example.org: alias"
    expected = [sorted([f"  user@example.org: mailbox {d}/mail/example.org/user",
                        f"  other@example.org: mailbox {d}/mail/example.org/other",
                        "  friend@remote.test: remote"])
                for d in (str(world.dir), os.path.realpath(world.dir))]
    assert sorted(out[1:]) in expected


def test_lookup_remote(world):
    assert lookup(world, "x@remote.test", 0) == ["x@remote.test: remote"]


def test_lookup_unknown_local(world):
    assert lookup(world, "nobody@example.org", 1) == ["nobody@example.org: unknown"]


def test_lookup_loop(world):
    world.ok("alias", "add", "a@example.org", "b@example.org")
    world.ok("alias", "add", "b@example.org", "a@example.org")
    out = lookup(world, "a@example.org", 1)
    assert out and out[0].startswith("a@example.org: loop"), out


def test_lookup_alias_beats_user(world):
    world.ok("alias", "add", "other@example.org", "friend@remote.test")
    out = lookup(world, "other@example.org", 0)
    assert out == ["other@example.org: alias", "  friend@remote.test: remote"]


def test_lookup_catch_all_only_when_nothing_else_matches(world):
    world.ok("alias", "add", "@example.org", "friend@remote.test")
    assert lookup(world, "stranger@example.org", 0) == [
        "stranger@example.org: alias", "  friend@remote.test: remote"]
    out = lookup(world, "user@example.org", 0)
    assert len(out) == 1 and out[0].startswith("user@example.org: mailbox ")
    out = lookup(world, "user+tag@example.org", 0)
    assert len(out) == 1 and out[0].startswith("user+tag@example.org: mailbox ")
    out = lookup(world, "info@example.org", 0)
    assert "  user@example.org: mailbox" in "\n".join(out)


def test_lookup_case_insensitive(world):
    out = lookup(world, "User@EXAMPLE.Org", 0)
    assert len(out) == 1
    assert out[0].split(": ", 1)[1] in {f"mailbox {p}" for p in
                                        mailbox(world, "user@example.org")}


def test_lookup_inactive_user_is_unknown(world):
    world.ok("user", "disable", "user@example.org")
    assert lookup(world, "user@example.org", 1) == ["user@example.org: unknown"]
    world.ok("user", "enable", "user@example.org")
    lookup(world, "user@example.org", 0)


def test_lookup_inactive_domain_is_unknown(world):
    world.ok("domain", "disable", "example.net")
    assert lookup(world, "n@example.net", 1) == ["n@example.net: unknown"]


def test_lookup_recipient_delimiter_setting(world):
    world.set("recipient_delimiter", "-")
    out = lookup(world, "user-tag@example.org", 0)
    assert out in [[f"user-tag@example.org: mailbox {p} (extension tag)"]
                   for p in mailbox(world, "user@example.org")]
    assert lookup(world, "user+tag@example.org", 1) == \
        ["user+tag@example.org: unknown"]


# ------------------------------------------------------------------ install

@pytest.mark.install
def test_make_install(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not (REPO / "build" / "build.ninja").exists():
        pytest.skip("no configured build directory in the repository")
    if not os.access(REPO / "build", os.W_OK):
        pytest.skip("the build directory is not writable by this user")
    dest = tmp_path / "dest"
    res = subprocess.run(["make", "-C", str(REPO), "install",
                          f"DESTDIR={dest}", "PREFIX=/usr"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"make install failed:\n{res.stdout}\n{res.stderr}"
    sbin = dest / "usr" / "sbin"
    postie = sbin / "postie"
    assert postie.is_file() and os.access(postie, os.X_OK), \
        f"{postie} missing; installed: {sorted(str(p) for p in dest.rglob('*'))}"
    for link in ("sendmail", "mailq"):
        p = sbin / link
        assert p.is_symlink(), f"{p} is not a symlink"
        assert p.resolve() == postie.resolve(), f"{p} -> {os.readlink(p)}"
    unit = dest / "lib" / "systemd" / "system" / "postie.service"
    assert unit.is_file(), f"{unit} missing"
    text = unit.read_text()
    assert re.search(r"^ExecStart=/usr/sbin/postie\b.*\bserve\b", text, re.M), text
    assert "@SBINDIR@" not in text
    res = subprocess.run([str(postie), "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "serve" in res.stdout
