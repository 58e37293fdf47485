"""The two existing-database schemas postie runs on unchanged, for MySQL
and PostgreSQL, and the data the SQL directory tests load into them with
plain SQL (no postie involved).

- tutorial: the virtual_domains / virtual_users / virtual_aliases tables of
  the common Postfix + Dovecot + MySQL tutorials; passwords are
  "{SHA512-CRYPT}$6$..." as `doveadm pw -s SHA512-CRYPT` writes them; one
  row per alias destination; no active flags, no quotas.
- postfixadmin: the tables of PostfixAdmin 3 that mail delivery reads
  (domain, mailbox, alias, alias_domain), with their active flags; alias
  destinations are one comma-separated goto per address, and each mailbox
  has the alias row to itself that PostfixAdmin creates.
"""

import subprocess

SCHEMAS = ("tutorial", "postfixadmin")

DOMAIN = "example.test"
ALIAS_DOMAIN = "alias.test"      # postfixadmin: alias domain of example.test
OFF_DOMAIN = "off.test"          # postfixadmin: inactive domain
ALICE = "alice@example.test"
BOB = "bob@example.test"
IVY = "ivy@example.test"         # postfixadmin: inactive mailbox
OTTO = "otto@off.test"           # postfixadmin: mailbox of an inactive domain
INFO = "info@example.test"       # alias -> alice
TEAM = "team@example.test"       # alias -> alice, bob
ALICE_PW = "alice pass 1"
BOB_PW = "bob-pass-2"


def sha512_crypt(password):
    """A $6$ hash made by `openssl passwd -6`, as an admin would."""
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                          input=password + "\n", capture_output=True,
                          text=True, check=True).stdout.strip()


TUTORIAL_DDL = {
    "mysql": """
CREATE TABLE virtual_domains (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE virtual_users (
  id INT NOT NULL AUTO_INCREMENT,
  domain_id INT NOT NULL,
  password VARCHAR(150) NOT NULL,
  email VARCHAR(100) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY email (email),
  FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE virtual_aliases (
  id INT NOT NULL AUTO_INCREMENT,
  domain_id INT NOT NULL,
  source VARCHAR(100) NOT NULL,
  destination VARCHAR(100) NOT NULL,
  PRIMARY KEY (id),
  FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
""",
    "pgsql": """
CREATE TABLE virtual_domains (
  id SERIAL PRIMARY KEY,
  name VARCHAR(50) NOT NULL
);
CREATE TABLE virtual_users (
  id SERIAL PRIMARY KEY,
  domain_id INT NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  password VARCHAR(150) NOT NULL,
  email VARCHAR(100) NOT NULL UNIQUE
);
CREATE TABLE virtual_aliases (
  id SERIAL PRIMARY KEY,
  domain_id INT NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  source VARCHAR(100) NOT NULL,
  destination VARCHAR(100) NOT NULL
);
""",
}

POSTFIXADMIN_DDL = {
    "mysql": """
CREATE TABLE domain (
  domain VARCHAR(255) NOT NULL,
  description VARCHAR(255) NOT NULL DEFAULT '',
  aliases INT NOT NULL DEFAULT 0,
  mailboxes INT NOT NULL DEFAULT 0,
  maxquota BIGINT NOT NULL DEFAULT 0,
  quota BIGINT NOT NULL DEFAULT 0,
  transport VARCHAR(255) NOT NULL DEFAULT '',
  backupmx TINYINT(1) NOT NULL DEFAULT 0,
  created DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  modified DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  active TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE mailbox (
  username VARCHAR(255) NOT NULL,
  password VARCHAR(255) NOT NULL,
  name VARCHAR(255) NOT NULL DEFAULT '',
  maildir VARCHAR(255) NOT NULL,
  quota BIGINT NOT NULL DEFAULT 0,
  local_part VARCHAR(255) NOT NULL,
  domain VARCHAR(255) NOT NULL,
  created DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  modified DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  active TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (username),
  KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE alias (
  address VARCHAR(255) NOT NULL,
  goto TEXT NOT NULL,
  domain VARCHAR(255) NOT NULL,
  created DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  modified DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  active TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (address),
  KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE alias_domain (
  alias_domain VARCHAR(255) NOT NULL,
  target_domain VARCHAR(255) NOT NULL,
  created DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  modified DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00',
  active TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (alias_domain),
  KEY target_domain (target_domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
""",
    "pgsql": """
CREATE TABLE domain (
  domain VARCHAR(255) PRIMARY KEY,
  description VARCHAR(255) NOT NULL DEFAULT '',
  aliases INTEGER NOT NULL DEFAULT 0,
  mailboxes INTEGER NOT NULL DEFAULT 0,
  maxquota BIGINT NOT NULL DEFAULT 0,
  quota BIGINT NOT NULL DEFAULT 0,
  transport VARCHAR(255) DEFAULT NULL,
  backupmx BOOLEAN NOT NULL DEFAULT false,
  created TIMESTAMP WITH TIME ZONE DEFAULT now(),
  modified TIMESTAMP WITH TIME ZONE DEFAULT now(),
  active BOOLEAN NOT NULL DEFAULT true
);
CREATE TABLE mailbox (
  username VARCHAR(255) PRIMARY KEY,
  password VARCHAR(255) NOT NULL DEFAULT '',
  name VARCHAR(255) NOT NULL DEFAULT '',
  maildir VARCHAR(255) NOT NULL DEFAULT '',
  quota BIGINT NOT NULL DEFAULT 0,
  local_part VARCHAR(255) NOT NULL DEFAULT '',
  domain VARCHAR(255) REFERENCES domain ON DELETE CASCADE,
  created TIMESTAMP WITH TIME ZONE DEFAULT now(),
  modified TIMESTAMP WITH TIME ZONE DEFAULT now(),
  active BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX mailbox_domain_idx ON mailbox(domain);
CREATE TABLE alias (
  address VARCHAR(255) PRIMARY KEY,
  goto TEXT NOT NULL,
  domain VARCHAR(255) NOT NULL REFERENCES domain ON DELETE CASCADE,
  created TIMESTAMP WITH TIME ZONE DEFAULT now(),
  modified TIMESTAMP WITH TIME ZONE DEFAULT now(),
  active BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX alias_domain_idx ON alias(domain);
CREATE TABLE alias_domain (
  alias_domain VARCHAR(255) PRIMARY KEY
    REFERENCES domain(domain) ON DELETE CASCADE,
  target_domain VARCHAR(255) NOT NULL
    REFERENCES domain(domain) ON DELETE CASCADE,
  created TIMESTAMP WITH TIME ZONE DEFAULT now(),
  modified TIMESTAMP WITH TIME ZONE DEFAULT now(),
  active BOOLEAN NOT NULL DEFAULT true
);
""",
}


def q(s):
    """A SQL string literal (test data only: the tests' own constants)."""
    return "'" + s.replace("'", "''") + "'"


def tutorial_user_sql(address, password):
    local, domain = address.split("@")
    return (f"INSERT INTO virtual_users (domain_id, password, email) "
            f"SELECT id, {q('{SHA512-CRYPT}' + sha512_crypt(password))}, "
            f"{q(address)} FROM virtual_domains WHERE name = {q(domain)};\n")


def postfixadmin_user_sql(address, password, active=True):
    local, domain = address.split("@")
    act = "'1'" if active else "'0'"
    return (f"INSERT INTO mailbox (username, password, name, maildir, quota,"
            f" local_part, domain, active) VALUES ({q(address)}, "
            f"{q('{SHA512-CRYPT}' + sha512_crypt(password))}, '', "
            f"{q(domain + '/' + local + '/')}, 0, {q(local)}, {q(domain)}, "
            f"{act});\n"
            f"INSERT INTO alias (address, goto, domain, active) VALUES "
            f"({q(address)}, {q(address)}, {q(domain)}, '1');\n")


def user_sql(schema, address, password, active=True):
    if schema == "tutorial":
        return tutorial_user_sql(address, password)
    return postfixadmin_user_sql(address, password, active)


def seed_sql(schema, kind):
    """DDL and the standard data of SCHEMA for database KIND."""
    if schema == "tutorial":
        out = TUTORIAL_DDL[kind]
        out += f"INSERT INTO virtual_domains (name) VALUES ({q(DOMAIN)});\n"
        out += user_sql(schema, ALICE, ALICE_PW)
        out += user_sql(schema, BOB, BOB_PW)
        for src, dst in ((INFO, ALICE), (TEAM, ALICE), (TEAM, BOB)):
            out += (f"INSERT INTO virtual_aliases (domain_id, source, "
                    f"destination) SELECT id, {q(src)}, {q(dst)} FROM "
                    f"virtual_domains WHERE name = {q(DOMAIN)};\n")
        return out
    out = POSTFIXADMIN_DDL[kind]
    out += ("INSERT INTO domain (domain, description, transport, active) "
            "VALUES ('ALL', '', '', '1');\n")
    for d, act in ((DOMAIN, "1"), (ALIAS_DOMAIN, "1"), (OFF_DOMAIN, "0")):
        out += (f"INSERT INTO domain (domain, description, transport, "
                f"active) VALUES ({q(d)}, '', 'virtual', '{act}');\n")
    out += (f"INSERT INTO alias_domain (alias_domain, target_domain, active)"
            f" VALUES ({q(ALIAS_DOMAIN)}, {q(DOMAIN)}, '1');\n")
    out += user_sql(schema, ALICE, ALICE_PW)
    out += user_sql(schema, BOB, BOB_PW)
    out += user_sql(schema, IVY, "ivy-pw", active=False)
    out += user_sql(schema, OTTO, "otto-pw")
    for src, dst in ((INFO, ALICE), (TEAM, f"{ALICE},{BOB}")):
        out += (f"INSERT INTO alias (address, goto, domain, active) VALUES "
                f"({q(src)}, {q(dst)}, {q(DOMAIN)}, '1');\n")
    return out


def tables(schema):
    if schema == "tutorial":
        return ("virtual_domains", "virtual_users", "virtual_aliases")
    return ("domain", "mailbox", "alias", "alias_domain")
