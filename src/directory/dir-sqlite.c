/* dir-sqlite: the embedded directory backend, one SQLite file (sqlite_path)
 * opened at the same time by every server process (one connection per
 * offload thread) and by the admin commands of the CLI.
 *
 * Concurrency rests on WAL mode (readers never wait for the writer) and a
 * busy timeout of SQ_BUSY_TIMEOUT_MS for writers and schema changes. Each
 * admin change is one BEGIN IMMEDIATE transaction, so its checks ("already
 * exists", "still has users") and its write see the same state. The schema
 * is created on first use and versioned with PRAGMA user_version; a newer
 * version than this code knows is refused.
 *
 * Every query is a prepared statement with bound parameters, named in
 * sq_queries[] (the table a PostgreSQL or MySQL backend fills with its own
 * SQL). Lookups and single-row statements are prepared once and kept; lists
 * are prepared per call so that a list callback may use the directory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "directory/dir-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define SQ_SCHEMA_VERSION	1
#define SQ_BUSY_TIMEOUT_MS	5000
#define SQ_FILE_MODE		0640

enum sq_query {
	Q_DOMAIN_BY_NAME,
	Q_USER_BY_ADDRESS,
	Q_ALIAS_TARGETS,
	Q_DOMAIN_EXISTS,
	Q_DOMAIN_INSERT,
	Q_DOMAIN_DELETE,
	Q_DOMAIN_SET_ACTIVE,
	Q_DOMAIN_USERS,
	Q_DOMAIN_ALIASES,
	Q_DOMAIN_LIST,
	Q_USER_EXISTS,
	Q_USER_INSERT,
	Q_USER_DELETE,
	Q_USER_SET_PASSWORD,
	Q_USER_SET_QUOTA,
	Q_USER_SET_ACTIVE,
	Q_USER_LIST,
	Q_USER_LIST_DOMAIN,
	Q_ALIAS_EXISTS,
	Q_ALIAS_INSERT,
	Q_ALIAS_DELETE,
	Q_ALIAS_DELETE_SOURCE,
	Q_ALIAS_LIST,
	Q_ALIAS_LIST_DOMAIN,
	Q_COUNT
};

struct sq_query_def {
	const char	*name;	/* in error messages */
	const char	*sql;
};

struct sq {
	sqlite3		*db;
	sqlite3_stmt	*stmts[Q_COUNT];	/* prepared on first use */
};

static int	 sq_open(struct dir *dir, const char **error_r);
static void	 sq_close(struct dir *dir);
static int	 sq_domain_lookup(struct dir *dir, const char *domain,
		    struct pool *pool, struct dir_domain *out,
		    const char **error_r);
static int	 sq_user_lookup(struct dir *dir, const struct dir_addr *a,
		    struct pool *pool, struct dir_user *out,
		    const char **error_r);
static int	 sq_alias_lookup(struct dir *dir, const struct dir_addr *source,
		    struct pool *pool, const char ***dests_r, size_t *ndests_r,
		    const char **error_r);
static int	 sq_domain_add(struct dir *dir, const char *domain,
		    uint64_t max_message_size, const char **error_r);
static int	 sq_domain_del(struct dir *dir, const char *domain,
		    const char **error_r);
static int	 sq_domain_set_active(struct dir *dir, const char *domain,
		    bool active, const char **error_r);
static int	 sq_domain_list(struct dir *dir, dir_domain_cb cb, void *ctx,
		    const char **error_r);
static int	 sq_user_add(struct dir *dir, const struct dir_addr *a,
		    const char *hash, uint64_t quota_bytes,
		    const char **error_r);
static int	 sq_user_del(struct dir *dir, const struct dir_addr *a,
		    const char **error_r);
static int	 sq_user_set_password(struct dir *dir, const struct dir_addr *a,
		    const char *hash, const char **error_r);
static int	 sq_user_set_quota(struct dir *dir, const struct dir_addr *a,
		    uint64_t quota_bytes, const char **error_r);
static int	 sq_user_set_active(struct dir *dir, const struct dir_addr *a,
		    bool active, const char **error_r);
static int	 sq_user_list(struct dir *dir, const char *domain,
		    dir_user_cb cb, void *ctx, const char **error_r);
static int	 sq_alias_add(struct dir *dir, const struct dir_addr *source,
		    const char *destination, const char **error_r);
static int	 sq_alias_del(struct dir *dir, const struct dir_addr *source,
		    const char *destination, const char **error_r);
static int	 sq_alias_list(struct dir *dir, const char *domain,
		    dir_alias_cb cb, void *ctx, const char **error_r);

static int	 set_wal(struct sq *sq, const char **error_r);
static int	 pragma_int(struct sq *sq, const char *sql, int *r,
		    const char **error_r);
static int	 schema_check(struct sq *sq, const char *path,
		    const char **error_r);
static int	 run_sql(struct sq *sq, const char *sql, const char **error_r);
static int	 tx_begin(struct sq *sq, const char **error_r);
static int	 tx_end(struct sq *sq, int rc, const char **error_r);
static const char *sq_error(struct sq *sq, struct pool *pool,
		    const char *what);
static int	 bind_args(sqlite3_stmt *st, const char *types, va_list ap);
static sqlite3_stmt *vquery(struct sq *sq, enum sq_query q, bool fresh,
		    struct pool *pool, const char **error_r,
		    const char *types, va_list ap);
static sqlite3_stmt *query(struct sq *sq, enum sq_query q, bool fresh,
		    struct pool *pool, const char **error_r,
		    const char *types, ...);
static void	 query_done(struct sq *sq, enum sq_query q, sqlite3_stmt *st);
static int	 vexec(struct sq *sq, enum sq_query q, int *changes_r,
		    const char **error_r, const char *types, va_list ap);
static int	 exec(struct sq *sq, enum sq_query q, const char **error_r,
		    const char *types, ...);
static int	 change_one(struct sq *sq, const char *missing,
		    const char *subject, const char **error_r,
		    enum sq_query q, const char *types, ...);
static int	 count(struct sq *sq, enum sq_query q, int64_t *n_r,
		    const char **error_r, const char *types, ...);
static int	 domain_known(struct sq *sq, const char *domain,
		    const char **error_r);
static const char *col_text(sqlite3_stmt *st, int col);
static uint64_t	 col_u64(sqlite3_stmt *st, int col);
static void	 row_domain(sqlite3_stmt *st, struct dir_domain *d);
static void	 row_user(sqlite3_stmt *st, struct dir_user *u);

const struct dir_backend dir__backend_sqlite = {
	.name			= "sqlite",
	.open			= sq_open,
	.close			= sq_close,
	.domain_lookup		= sq_domain_lookup,
	.user_lookup		= sq_user_lookup,
	.alias_lookup		= sq_alias_lookup,
	.domain_add		= sq_domain_add,
	.domain_del		= sq_domain_del,
	.domain_set_active	= sq_domain_set_active,
	.domain_list		= sq_domain_list,
	.user_add		= sq_user_add,
	.user_del		= sq_user_del,
	.user_set_password	= sq_user_set_password,
	.user_set_quota		= sq_user_set_quota,
	.user_set_active	= sq_user_set_active,
	.user_list		= sq_user_list,
	.alias_add		= sq_alias_add,
	.alias_del		= sq_alias_del,
	.alias_list		= sq_alias_list,
};

#define NOW	"strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

static const struct sq_query_def sq_queries[Q_COUNT] = {
	[Q_DOMAIN_BY_NAME] = { "domain_by_name",
	    "SELECT name, active, max_message_size FROM domains"
	    " WHERE name = ?1" },
	/* The user is inactive when its domain is. */
	[Q_USER_BY_ADDRESS] = { "user_by_address",
	    "SELECT u.address, u.password, u.quota_bytes,"
	    " u.active AND d.active"
	    " FROM users u JOIN domains d ON d.name = u.domain"
	    " WHERE u.address = ?1" },
	[Q_ALIAS_TARGETS] = { "alias_targets",
	    "SELECT destination FROM aliases"
	    " WHERE source = ?1 AND active = 1 ORDER BY destination" },
	[Q_DOMAIN_EXISTS] = { "domain_exists",
	    "SELECT COUNT(*) FROM domains WHERE name = ?1" },
	[Q_DOMAIN_INSERT] = { "domain_insert",
	    "INSERT INTO domains (name, max_message_size, created)"
	    " VALUES (?1, ?2, " NOW ")" },
	[Q_DOMAIN_DELETE] = { "domain_delete",
	    "DELETE FROM domains WHERE name = ?1" },
	[Q_DOMAIN_SET_ACTIVE] = { "domain_set_active",
	    "UPDATE domains SET active = ?2 WHERE name = ?1" },
	[Q_DOMAIN_USERS] = { "domain_users",
	    "SELECT COUNT(*) FROM users WHERE domain = ?1" },
	[Q_DOMAIN_ALIASES] = { "domain_aliases",
	    "SELECT COUNT(*) FROM aliases WHERE domain = ?1" },
	[Q_DOMAIN_LIST] = { "domain_list",
	    "SELECT name, active, max_message_size FROM domains"
	    " ORDER BY name" },
	[Q_USER_EXISTS] = { "user_exists",
	    "SELECT COUNT(*) FROM users WHERE address = ?1" },
	[Q_USER_INSERT] = { "user_insert",
	    "INSERT INTO users (address, domain, password, quota_bytes,"
	    " created) VALUES (?1, ?2, ?3, ?4, " NOW ")" },
	[Q_USER_DELETE] = { "user_delete",
	    "DELETE FROM users WHERE address = ?1" },
	[Q_USER_SET_PASSWORD] = { "user_set_password",
	    "UPDATE users SET password = ?2 WHERE address = ?1" },
	[Q_USER_SET_QUOTA] = { "user_set_quota",
	    "UPDATE users SET quota_bytes = ?2 WHERE address = ?1" },
	[Q_USER_SET_ACTIVE] = { "user_set_active",
	    "UPDATE users SET active = ?2 WHERE address = ?1" },
	[Q_USER_LIST] = { "user_list",
	    "SELECT address, password, quota_bytes, active FROM users"
	    " ORDER BY address" },
	[Q_USER_LIST_DOMAIN] = { "user_list_domain",
	    "SELECT address, password, quota_bytes, active FROM users"
	    " WHERE domain = ?1 ORDER BY address" },
	[Q_ALIAS_EXISTS] = { "alias_exists",
	    "SELECT COUNT(*) FROM aliases"
	    " WHERE source = ?1 AND destination = ?2" },
	[Q_ALIAS_INSERT] = { "alias_insert",
	    "INSERT INTO aliases (source, destination, domain)"
	    " VALUES (?1, ?2, ?3)" },
	[Q_ALIAS_DELETE] = { "alias_delete",
	    "DELETE FROM aliases WHERE source = ?1 AND destination = ?2" },
	[Q_ALIAS_DELETE_SOURCE] = { "alias_delete_source",
	    "DELETE FROM aliases WHERE source = ?1" },
	[Q_ALIAS_LIST] = { "alias_list",
	    "SELECT source, destination FROM aliases"
	    " ORDER BY source, destination" },
	[Q_ALIAS_LIST_DOMAIN] = { "alias_list_domain",
	    "SELECT source, destination FROM aliases"
	    " WHERE domain = ?1 ORDER BY source, destination" },
};

/* Version 1. Domains are stored lower-case, so the plain comparisons on
 * users.domain and aliases.domain match. */
static const char sq_schema[] =
	"CREATE TABLE IF NOT EXISTS domains ("
	" name TEXT PRIMARY KEY COLLATE NOCASE,"
	" active INTEGER NOT NULL DEFAULT 1,"
	" max_message_size INTEGER NOT NULL DEFAULT 0,"
	" created TEXT);"
	"CREATE TABLE IF NOT EXISTS users ("
	" address TEXT PRIMARY KEY COLLATE NOCASE,"
	" domain TEXT NOT NULL REFERENCES domains(name),"
	" password TEXT NOT NULL,"
	" quota_bytes INTEGER NOT NULL DEFAULT 0,"
	" active INTEGER NOT NULL DEFAULT 1,"
	" created TEXT);"
	"CREATE INDEX IF NOT EXISTS users_domain ON users(domain);"
	"CREATE TABLE IF NOT EXISTS aliases ("
	" source TEXT NOT NULL COLLATE NOCASE,"
	" destination TEXT NOT NULL COLLATE NOCASE,"
	" domain TEXT NOT NULL REFERENCES domains(name),"
	" active INTEGER NOT NULL DEFAULT 1,"
	" PRIMARY KEY (source, destination));"
	"CREATE INDEX IF NOT EXISTS aliases_domain ON aliases(domain);"
	"PRAGMA user_version = 1;";

/* Opening */

static int
sq_open(struct dir *dir, const char **error_r)
{
	const char *path = dir->cfg->sqlite_path;
	struct sq *sq;
	int fd;

	/* Create the file here to choose its mode; SQLite gives the -wal and
	 * -shm files the mode of the database. Only when it does not exist
	 * yet: closing any descriptor of a file drops every POSIX lock the
	 * process holds on it, including the locks of this process's other
	 * SQLite connections, after which another process may believe it is
	 * alone and delete the live WAL. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, SQ_FILE_MODE);
	if (fd == -1 && errno != EEXIST) {
		*error_r = dir__error("cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fd != -1)
		close(fd);
	sq = xmalloc(sizeof(*sq));
	/* One thread at a time per handle (dir.h): no mutex needed. */
	if (sqlite3_open_v2(path, &sq->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*error_r = dir__error("cannot open %s: %s", path,
		    sq->db != NULL ? sqlite3_errmsg(sq->db) : "out of memory");
		sqlite3_close(sq->db);
		free(sq);
		return -1;
	}
	sqlite3_extended_result_codes(sq->db, 1);
	sqlite3_busy_timeout(sq->db, SQ_BUSY_TIMEOUT_MS);
	dir->priv = sq;
	if (set_wal(sq, error_r) == -1 ||
	    run_sql(sq, "PRAGMA foreign_keys = ON", error_r) == -1 ||
	    schema_check(sq, path, error_r) == -1) {
		sq_close(dir);
		return -1;
	}
	return 0;
}

static void
sq_close(struct dir *dir)
{
	struct sq *sq = dir->priv;
	size_t i;

	if (sq == NULL)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(sq->stmts[i]);
	if (sqlite3_close(sq->db) != SQLITE_OK)
		log_warnx("sqlite close: %s", sqlite3_errmsg(sq->db));
	free(sq);
	dir->priv = NULL;
}

static int
set_wal(struct sq *sq, const char **error_r)
{
	sqlite3_stmt *st;
	bool wal;

	if (sqlite3_prepare_v2(sq->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		*error_r = sq_error(sq, NULL, "journal_mode");
		return -1;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		*error_r = sq_error(sq, NULL, "journal_mode");
		sqlite3_finalize(st);
		return -1;
	}
	wal = strcasecmp(col_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!wal) {
		*error_r = dir__error("sqlite: cannot switch to WAL mode");
		return -1;
	}
	return 0;
}

static int
pragma_int(struct sq *sq, const char *sql, int *r, const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(sq->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*error_r = sq_error(sq, NULL, sql);
		return -1;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		*error_r = sq_error(sq, NULL, sql);
		sqlite3_finalize(st);
		return -1;
	}
	*r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Create the schema of a new file, refuse one from a newer postie. */
static int
schema_check(struct sq *sq, const char *path, const char **error_r)
{
	int v, rc = 0;

	if (pragma_int(sq, "PRAGMA user_version", &v, error_r) == -1)
		return -1;
	if (v == SQ_SCHEMA_VERSION)
		return 0;
	if (v == 0) {
		if (tx_begin(sq, error_r) == -1)
			return -1;
		/* Another process may have created it while we waited. */
		rc = pragma_int(sq, "PRAGMA user_version", &v, error_r);
		if (rc == 0 && v == 0)
			rc = run_sql(sq, sq_schema, error_r);
		if (tx_end(sq, rc, error_r) == -1)
			return -1;
		if (pragma_int(sq, "PRAGMA user_version", &v, error_r) == -1)
			return -1;
	}
	if (v != SQ_SCHEMA_VERSION) {
		*error_r = dir__error("%s: schema version %d, this postie "
		    "knows version %d", path, v, SQ_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/* Lookups */

static int
sq_domain_lookup(struct dir *dir, const char *domain, struct pool *pool,
    struct dir_domain *out, const char **error_r)
{
	struct sq *sq = dir->priv;
	sqlite3_stmt *st;
	int rc;

	if ((st = query(sq, Q_DOMAIN_BY_NAME, false, pool, error_r, "t",
	    domain)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_domain(st, out);
		out->name = pool_strdup(pool, out->name);
		rc = 1;
	} else if (rc == SQLITE_DONE)
		rc = 0;
	else {
		*error_r = sq_error(sq, pool,
		    sq_queries[Q_DOMAIN_BY_NAME].name);
		rc = -1;
	}
	query_done(sq, Q_DOMAIN_BY_NAME, st);
	return rc;
}

static int
sq_user_lookup(struct dir *dir, const struct dir_addr *a, struct pool *pool,
    struct dir_user *out, const char **error_r)
{
	struct sq *sq = dir->priv;
	sqlite3_stmt *st;
	int rc;

	if ((st = query(sq, Q_USER_BY_ADDRESS, false, pool, error_r, "t",
	    a->address)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_user(st, out);
		out->address = pool_strdup(pool, out->address);
		out->password_hash = pool_strdup(pool, out->password_hash);
		rc = 1;
	} else if (rc == SQLITE_DONE)
		rc = 0;
	else {
		*error_r = sq_error(sq, pool,
		    sq_queries[Q_USER_BY_ADDRESS].name);
		rc = -1;
	}
	query_done(sq, Q_USER_BY_ADDRESS, st);
	return rc;
}

static int
sq_alias_lookup(struct dir *dir, const struct dir_addr *source,
    struct pool *pool, const char ***dests_r, size_t *ndests_r,
    const char **error_r)
{
	struct sq *sq = dir->priv;
	sqlite3_stmt *st;
	const char **v = NULL, **nv;
	size_t n = 0, cap = 0, i;
	int rc;

	if ((st = query(sq, Q_ALIAS_TARGETS, false, pool, error_r, "t",
	    source->address)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			/* The old array stays in the pool: a few pointers. */
			cap = cap == 0 ? 4 : cap * 2;
			nv = pool_alloc(pool, cap * sizeof(*nv));
			for (i = 0; i < n; i++)
				nv[i] = v[i];
			v = nv;
		}
		v[n++] = pool_strdup(pool, col_text(st, 0));
	}
	if (rc != SQLITE_DONE) {
		*error_r = sq_error(sq, pool, sq_queries[Q_ALIAS_TARGETS].name);
		query_done(sq, Q_ALIAS_TARGETS, st);
		return -1;
	}
	query_done(sq, Q_ALIAS_TARGETS, st);
	*dests_r = v;
	*ndests_r = n;
	return n > 0 ? 1 : 0;
}

/* Admin: domains */

static int
sq_domain_add(struct dir *dir, const char *domain, uint64_t max_message_size,
    const char **error_r)
{
	struct sq *sq = dir->priv;
	int64_t n;
	int rc;

	if (tx_begin(sq, error_r) == -1)
		return -1;
	if ((rc = count(sq, Q_DOMAIN_EXISTS, &n, error_r, "t", domain)) == 0 &&
	    n > 0) {
		*error_r = dir__error("domain %s already exists", domain);
		rc = -1;
	}
	if (rc == 0)
		rc = exec(sq, Q_DOMAIN_INSERT, error_r, "ti",
		    domain, (int64_t)max_message_size);
	return tx_end(sq, rc, error_r);
}

static int
sq_domain_del(struct dir *dir, const char *domain, const char **error_r)
{
	struct sq *sq = dir->priv;
	int64_t users = 0, aliases = 0;
	int rc;

	if (tx_begin(sq, error_r) == -1)
		return -1;
	rc = domain_known(sq, domain, error_r);
	if (rc == 0)
		rc = count(sq, Q_DOMAIN_USERS, &users, error_r, "t", domain);
	if (rc == 0)
		rc = count(sq, Q_DOMAIN_ALIASES, &aliases, error_r, "t",
		    domain);
	if (rc == 0 && users > 0 && aliases > 0) {
		*error_r = dir__error("domain %s still has %" PRId64 " user%s "
		    "and %" PRId64 " alias%s; delete them first", domain,
		    users, users == 1 ? "" : "s",
		    aliases, aliases == 1 ? "" : "es");
		rc = -1;
	} else if (rc == 0 && (users > 0 || aliases > 0)) {
		*error_r = dir__error("domain %s still has %" PRId64 " %s; "
		    "delete %s first", domain, users + aliases,
		    users > 0 ? (users == 1 ? "user" : "users") :
		    (aliases == 1 ? "alias" : "aliases"),
		    users + aliases == 1 ? "it" : "them");
		rc = -1;
	}
	if (rc == 0)
		rc = exec(sq, Q_DOMAIN_DELETE, error_r, "t",
		    domain);
	return tx_end(sq, rc, error_r);
}

static int
sq_domain_set_active(struct dir *dir, const char *domain, bool active,
    const char **error_r)
{
	return change_one(dir->priv, "unknown domain", domain, error_r,
	    Q_DOMAIN_SET_ACTIVE, "ti", domain, (int64_t)active);
}

static int
sq_domain_list(struct dir *dir, dir_domain_cb cb, void *ctx,
    const char **error_r)
{
	struct sq *sq = dir->priv;
	struct dir_domain d;
	sqlite3_stmt *st;
	int rc;

	if ((st = query(sq, Q_DOMAIN_LIST, true, NULL, error_r, "")) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_domain(st, &d);
		cb(&d, ctx);
	}
	if (rc != SQLITE_DONE)
		*error_r = sq_error(sq, NULL, sq_queries[Q_DOMAIN_LIST].name);
	query_done(sq, Q_DOMAIN_LIST, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Admin: users */

static int
sq_user_add(struct dir *dir, const struct dir_addr *a, const char *hash,
    uint64_t quota_bytes, const char **error_r)
{
	struct sq *sq = dir->priv;
	int64_t n;
	int rc;

	if (tx_begin(sq, error_r) == -1)
		return -1;
	rc = domain_known(sq, a->domain, error_r);
	if (rc == 0 && (rc = count(sq, Q_USER_EXISTS, &n, error_r, "t",
	    a->address)) == 0 && n > 0) {
		*error_r = dir__error("user %s already exists", a->address);
		rc = -1;
	}
	if (rc == 0)
		rc = exec(sq, Q_USER_INSERT, error_r, "ttti",
		    a->address, a->domain, hash, (int64_t)quota_bytes);
	return tx_end(sq, rc, error_r);
}

static int
sq_user_del(struct dir *dir, const struct dir_addr *a, const char **error_r)
{
	return change_one(dir->priv, "no such user", a->address, error_r,
	    Q_USER_DELETE, "t", a->address);
}

static int
sq_user_set_password(struct dir *dir, const struct dir_addr *a,
    const char *hash, const char **error_r)
{
	return change_one(dir->priv, "no such user", a->address, error_r,
	    Q_USER_SET_PASSWORD, "tt", a->address, hash);
}

static int
sq_user_set_quota(struct dir *dir, const struct dir_addr *a,
    uint64_t quota_bytes, const char **error_r)
{
	return change_one(dir->priv, "no such user", a->address, error_r,
	    Q_USER_SET_QUOTA, "ti", a->address, (int64_t)quota_bytes);
}

static int
sq_user_set_active(struct dir *dir, const struct dir_addr *a, bool active,
    const char **error_r)
{
	return change_one(dir->priv, "no such user", a->address, error_r,
	    Q_USER_SET_ACTIVE, "ti", a->address, (int64_t)active);
}

static int
sq_user_list(struct dir *dir, const char *domain, dir_user_cb cb, void *ctx,
    const char **error_r)
{
	struct sq *sq = dir->priv;
	enum sq_query q = domain != NULL ? Q_USER_LIST_DOMAIN : Q_USER_LIST;
	struct dir_user u;
	sqlite3_stmt *st;
	int rc;

	if (domain != NULL) {
		if (domain_known(sq, domain, error_r) == -1)
			return -1;
		st = query(sq, q, true, NULL, error_r, "t", domain);
	} else
		st = query(sq, q, true, NULL, error_r, "");
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_user(st, &u);
		cb(&u, ctx);
	}
	if (rc != SQLITE_DONE)
		*error_r = sq_error(sq, NULL, sq_queries[q].name);
	query_done(sq, q, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Admin: aliases */

static int
sq_alias_add(struct dir *dir, const struct dir_addr *source,
    const char *destination, const char **error_r)
{
	struct sq *sq = dir->priv;
	int64_t n;
	int rc;

	if (tx_begin(sq, error_r) == -1)
		return -1;
	rc = domain_known(sq, source->domain, error_r);
	if (rc == 0 && (rc = count(sq, Q_ALIAS_EXISTS, &n, error_r, "tt",
	    source->address, destination)) == 0 && n > 0) {
		*error_r = dir__error("alias %s -> %s already exists",
		    source->address, destination);
		rc = -1;
	}
	if (rc == 0)
		rc = exec(sq, Q_ALIAS_INSERT, error_r, "ttt",
		    source->address, destination, source->domain);
	return tx_end(sq, rc, error_r);
}

static int
sq_alias_del(struct dir *dir, const struct dir_addr *source,
    const char *destination, const char **error_r)
{
	char pair[DIR_ERROR_MAX];
	int n;

	if (destination == NULL)
		return change_one(dir->priv, "no such alias", source->address,
		    error_r, Q_ALIAS_DELETE_SOURCE, "t", source->address);
	n = snprintf(pair, sizeof(pair), "%s -> %s", source->address,
	    destination);
	/* dir.c bounds both: an address is at most 320 bytes. */
	ASSERT(n >= 0 && (size_t)n < sizeof(pair));
	return change_one(dir->priv, "no such alias", pair, error_r,
	    Q_ALIAS_DELETE, "tt", source->address, destination);
}

static int
sq_alias_list(struct dir *dir, const char *domain, dir_alias_cb cb, void *ctx,
    const char **error_r)
{
	struct sq *sq = dir->priv;
	enum sq_query q = domain != NULL ? Q_ALIAS_LIST_DOMAIN : Q_ALIAS_LIST;
	struct dir_alias a;
	sqlite3_stmt *st;
	int rc;

	if (domain != NULL) {
		if (domain_known(sq, domain, error_r) == -1)
			return -1;
		st = query(sq, q, true, NULL, error_r, "t", domain);
	} else
		st = query(sq, q, true, NULL, error_r, "");
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a.source = col_text(st, 0);
		a.destination = col_text(st, 1);
		cb(&a, ctx);
	}
	if (rc != SQLITE_DONE)
		*error_r = sq_error(sq, NULL, sq_queries[q].name);
	query_done(sq, q, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Statements and transactions */

static int
run_sql(struct sq *sq, const char *sql, const char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(sq->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = dir__error("sqlite: %s",
		    msg != NULL ? msg : sqlite3_errmsg(sq->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* IMMEDIATE takes the write lock now, under the busy timeout: a deferred
 * transaction that upgrades later fails at once with SQLITE_BUSY. */
static int
tx_begin(struct sq *sq, const char **error_r)
{
	return run_sql(sq, "BEGIN IMMEDIATE", error_r);
}

/* Commit if rc is 0, else roll back; the result of the change. */
static int
tx_end(struct sq *sq, int rc, const char **error_r)
{
	if (rc == 0 && run_sql(sq, "COMMIT", error_r) == 0)
		return 0;
	/* After a failed COMMIT the transaction may still be open. */
	if (!sqlite3_get_autocommit(sq->db))
		(void)sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* "sqlite <what>: <reason>" for the last failure, from pool if given. */
static const char *
sq_error(struct sq *sq, struct pool *pool, const char *what)
{
	if (pool != NULL)
		return pool_printf(pool, "sqlite %s: %s", what,
		    sqlite3_errmsg(sq->db));
	return dir__error("sqlite %s: %s", what, sqlite3_errmsg(sq->db));
}

/* One character of types per parameter: 't' text (borrowed until the
 * statement is reset), 'i' int64_t. */
static int
bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
	int i, rc = SQLITE_OK;

	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 't':
			rc = sqlite3_bind_text(st, i + 1,
			    va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i + 1,
			    va_arg(ap, int64_t));
			break;
		default:
			panic("bind_args: bad type '%c'", types[i]);
		}
	}
	ASSERT(rc != SQLITE_OK ||
	    i == sqlite3_bind_parameter_count(st));
	return rc;
}

/* The statement for q with its parameters bound, ready to step; fresh:
 * prepared for this call only (lists, so that callbacks may query). */
static sqlite3_stmt *
vquery(struct sq *sq, enum sq_query q, bool fresh, struct pool *pool,
    const char **error_r, const char *types, va_list ap)
{
	sqlite3_stmt *st = fresh ? NULL : sq->stmts[q];

	if (st == NULL) {
		if (sqlite3_prepare_v3(sq->db, sq_queries[q].sql, -1,
		    fresh ? 0 : SQLITE_PREPARE_PERSISTENT, &st,
		    NULL) != SQLITE_OK) {
			*error_r = sq_error(sq, pool, sq_queries[q].name);
			return NULL;
		}
		if (!fresh)
			sq->stmts[q] = st;
	}
	if (bind_args(st, types, ap) != SQLITE_OK) {
		*error_r = sq_error(sq, pool, sq_queries[q].name);
		query_done(sq, q, st);
		return NULL;
	}
	return st;
}

static sqlite3_stmt *
query(struct sq *sq, enum sq_query q, bool fresh, struct pool *pool,
    const char **error_r, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = vquery(sq, q, fresh, pool, error_r, types, ap);
	va_end(ap);
	return st;
}

static void
query_done(struct sq *sq, enum sq_query q, sqlite3_stmt *st)
{
	if (st == sq->stmts[q]) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else
		sqlite3_finalize(st);
}

/* Run a statement that returns no rows; *changes_r: rows it changed. */
static int
vexec(struct sq *sq, enum sq_query q, int *changes_r, const char **error_r,
    const char *types, va_list ap)
{
	sqlite3_stmt *st;

	if ((st = vquery(sq, q, false, NULL, error_r, types, ap)) == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_DONE) {
		*error_r = sq_error(sq, NULL, sq_queries[q].name);
		query_done(sq, q, st);
		return -1;
	}
	if (changes_r != NULL)
		*changes_r = sqlite3_changes(sq->db);
	query_done(sq, q, st);
	return 0;
}

static int
exec(struct sq *sq, enum sq_query q, const char **error_r,
    const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = vexec(sq, q, NULL, error_r, types, ap);
	va_end(ap);
	return rc;
}

/* One UPDATE or DELETE in its own transaction; when it finds no row it
 * fails with "<missing> <subject>". */
static int
change_one(struct sq *sq, const char *missing, const char *subject,
    const char **error_r, enum sq_query q, const char *types, ...)
{
	va_list ap;
	int changes, rc;

	if (tx_begin(sq, error_r) == -1)
		return -1;
	va_start(ap, types);
	rc = vexec(sq, q, &changes, error_r, types, ap);
	va_end(ap);
	if (rc == 0 && changes == 0) {
		*error_r = dir__error("%s %s", missing, subject);
		rc = -1;
	}
	return tx_end(sq, rc, error_r);
}

/* Run a SELECT COUNT(*). */
static int
count(struct sq *sq, enum sq_query q, int64_t *n_r, const char **error_r,
    const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, types);
	st = vquery(sq, q, false, NULL, error_r, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		*error_r = sq_error(sq, NULL, sq_queries[q].name);
		query_done(sq, q, st);
		return -1;
	}
	*n_r = sqlite3_column_int64(st, 0);
	query_done(sq, q, st);
	return 0;
}

/* 0 if the domain exists, else -1 with "unknown domain". */
static int
domain_known(struct sq *sq, const char *domain, const char **error_r)
{
	int64_t n;

	if (count(sq, Q_DOMAIN_EXISTS, &n, error_r, "t", domain) == -1)
		return -1;
	if (n == 0) {
		*error_r = dir__error("unknown domain %s", domain);
		return -1;
	}
	return 0;
}

/* Rows */

static const char *
col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t != NULL ? (const char *)t : "";
}

/* Negative numbers can only come from outside postie: read them as 0. */
static uint64_t
col_u64(sqlite3_stmt *st, int col)
{
	sqlite3_int64 v = sqlite3_column_int64(st, col);

	return v > 0 ? (uint64_t)v : 0;
}

/* Strings borrowed from the statement until its next step. */
static void
row_domain(sqlite3_stmt *st, struct dir_domain *d)
{
	d->name = col_text(st, 0);
	d->active = sqlite3_column_int(st, 1) != 0;
	d->max_message_size = col_u64(st, 2);
}

/* Strings borrowed from the statement until its next step. */
static void
row_user(sqlite3_stmt *st, struct dir_user *u)
{
	u->address = col_text(st, 0);
	u->password_hash = col_text(st, 1);
	u->quota_bytes = col_u64(st, 2);
	u->active = sqlite3_column_int(st, 3) != 0;
	u->maildir = NULL;
}
