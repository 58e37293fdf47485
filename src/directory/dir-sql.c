/* dir-sql: the part of the PostgreSQL and MySQL backends that does not
 * depend on the client library: the queries of a handle, its connection,
 * and the lookups with their cache (admin changes are in dir-sql-admin.c).
 * Called through struct dir_backend (dir-pgsql.c, dir-mysql.c) on the
 * offload threads of workers and of the queue manager, one handle per
 * thread, and by the CLI.
 *
 * Connection: dir_open() never fails because the database is down (only
 * on a bad configuration), so each thread keeps its handle and its
 * back-off. A handle connects at its first query. When a connection is
 * lost, the next call reconnects at once; if that fails, attempts wait
 * 1 s, then twice as long each time up to sql_reconnect_max_delay, and
 * calls in between fail at once without touching the network. A lookup
 * that finds its connection dead (the server restarted since the last
 * query) reconnects and runs again within the same call.
 *
 * Cache: one per process, shared by its threads (dir-cache.c), keyed by
 * kind and the lower-cased key. While the database cannot answer, found
 * entries younger than sql_cache_stale_ttl still answer; otherwise the
 * lookup fails with -1, which the protocols turn into a temporary error
 * (451 4.3.0 at RCPT), never a refusal.
 *
 * Addresses are bound lower-cased (%s, %u; dir.c lower-cases domains), as
 * Postfix folds the keys of its SQL tables. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/dir-cache.h"
#include "directory/dir-sql.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define SQL_BACKOFF_FIRST_MS	1000

static int	 compile_queries(struct sql_handle *h, char *err,
		    size_t errlen);
static int	 connect_now(struct sql_handle *h, char *err, size_t errlen);
static void	 drop_conn(struct sql_handle *h, const char *why);
static enum sql_rc run_once(struct sql_handle *h, enum sql_q q,
		    const struct sql_vals *vals, size_t max_rows,
		    struct pool *pool, struct sql_result *res, char *err,
		    size_t errlen);
static struct dir_cache *cache_get(const struct config *cfg);
static uint64_t	 col_u64(const char *v);
static char	*lower_dup(struct pool *pool, const char *s);
static void	 fill_domain(struct dir_domain *out, const char *const *v,
		    struct pool *pool);
static void	 fill_user(struct dir_user *out, const char *const *v,
		    struct pool *pool);
static int	 cached(const struct sql_handle *h, const char *key,
		    bool stale, struct pool *pool, bool *found_r,
		    const char ***vals_r, size_t *nvals_r);
static void	 cache_put(const struct sql_handle *h, const char *key,
		    bool found, const char *const *vals, size_t nvals);

static pthread_mutex_t sql_cache_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct dir_cache *sql_cache;	/* the process's; never freed */

/* Opening */

int
dir__sql_open(struct dir *dir, const struct sql_driver *drv,
    const char **error_r)
{
	const struct config *cfg = dir->cfg;
	struct sql_handle *h;
	char err[SQL_ERR_MAX];

	h = xmalloc(sizeof(*h));
	h->drv = drv;
	h->cfg = cfg;
	if (sql_hosts_parse(&cfg->sql_hosts, &h->hosts, &h->nhosts, err,
	    sizeof(err)) == -1 || compile_queries(h, err, sizeof(err)) == -1) {
		*error_r = dir__error("%s directory: %s", drv->name, err);
		dir->priv = h;
		dir__sql_close(dir);
		return -1;
	}
	h->args.hosts = h->hosts;
	h->args.nhosts = h->nhosts;
	h->args.dbname = cfg->sql_dbname != NULL ? cfg->sql_dbname : "";
	h->args.user = cfg->sql_user != NULL ? cfg->sql_user : "";
	h->args.password = cfg->sql_password != NULL ? cfg->sql_password : "";
	h->args.connect_timeout = (unsigned)cfg->sql_connect_timeout;
	h->args.query_timeout = (unsigned)cfg->sql_query_timeout;
	dir->priv = h;
	(void)cache_get(cfg);
	return 0;
}

void
dir__sql_close(struct dir *dir)
{
	struct sql_handle *h = dir->priv;
	size_t i;

	if (h == NULL)
		return;
	if (h->conn != NULL)
		h->drv->close(h->conn);
	for (i = 0; i < SQL_Q_COUNT; i++)
		sql_query_free(&h->queries[i]);
	sql_hosts_free(h->hosts, h->nhosts);
	free(h);
	dir->priv = NULL;
}

static int
compile_queries(struct sql_handle *h, char *err, size_t errlen)
{
	const char *texts[SQL_Q_COUNT];
	char why[SQL_ERR_MAX / 2];
	size_t i;

	if (sql_queries_select(h->cfg, h->drv->name, texts, err,
	    errlen) == -1)
		return -1;
	for (i = 0; i < SQL_Q_COUNT; i++) {
		if (texts[i] == NULL)
			continue;
		if (sql_query_compile(texts[i], h->drv->marker,
		    h->drv->backslash, sql_q_allowed(i), &h->queries[i], why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", sql_q_key(i), why);
			return -1;
		}
	}
	return 0;
}

/* Connection */

static int
connect_now(struct sql_handle *h, char *err, size_t errlen)
{
	uint64_t now = dir_cache_now(), max;

	if (h->conn != NULL)
		return 0;
	if (now < h->next_try) {
		snprintf(err, errlen, "database unavailable (%.160s); next "
		    "attempt in %" PRIu64 " ms", h->error, h->next_try - now);
		return -1;
	}
	if (h->drv->connect(&h->args, &h->conn, h->error,
	    sizeof(h->error)) == -1) {
		h->conn = NULL;
		max = h->cfg->sql_reconnect_max_delay * 1000;
		h->backoff = h->backoff == 0 ? SQL_BACKOFF_FIRST_MS :
		    h->backoff * 2;
		if (h->backoff > max)
			h->backoff = max;
		h->next_try = now + h->backoff;
		if (h->lost && h->failures++ == 0)
			log_warnx("sql %s: cannot reconnect: %s; retrying "
			    "with back-off", h->drv->name, h->error);
		snprintf(err, errlen, "cannot connect: %.200s", h->error);
		return -1;
	}
	if (h->lost && h->failures == 0)
		log_info("sql %s: reconnected", h->drv->name);
	else if (h->lost)
		log_info("sql %s: connected again after %u failed "
		    "attempt%s", h->drv->name, h->failures,
		    h->failures == 1 ? "" : "s");
	h->lost = false;
	h->failures = 0;
	h->backoff = 0;
	h->next_try = 0;
	return 0;
}

/* The connection is gone: close it; the next call reconnects at once. */
static void
drop_conn(struct sql_handle *h, const char *why)
{
	if (h->conn == NULL)
		return;
	log_warnx("sql %s: connection lost: %s", h->drv->name, why);
	h->drv->close(h->conn);
	h->conn = NULL;
	h->lost = true;
	h->failures = 0;
	snprintf(h->error, sizeof(h->error), "%s", why);
}

enum sql_rc
sql__command(struct sql_handle *h, const char *sql, char *err, size_t errlen)
{
	enum sql_rc rc;

	if (connect_now(h, err, errlen) == -1)
		return SQL_ERR_CONN;
	rc = h->drv->command(h->conn, sql, err, errlen);
	if (rc == SQL_ERR_CONN)
		drop_conn(h, err);
	return rc;
}

enum sql_rc
sql__run(struct sql_handle *h, enum sql_q q, const struct sql_vals *vals,
    size_t max_rows, bool retry, struct pool *pool, struct sql_result *res,
    char *err, size_t errlen)
{
	bool had_conn = h->conn != NULL;
	char why[SQL_ERR_MAX / 2];
	enum sql_rc rc;

	ASSERT(h->queries[q].nstmts > 0);
	rc = run_once(h, q, vals, max_rows, pool, res, why, sizeof(why));
	/* A connection that worked before may have died in between (a
	 * server restart): one more try on a new one. */
	if (rc == SQL_ERR_CONN && retry && had_conn)
		rc = run_once(h, q, vals, max_rows, pool, res, why,
		    sizeof(why));
	/* A query's own failure names its key; a connection's does not. */
	if (rc == SQL_ERR_CONN && h->conn == NULL)
		snprintf(err, errlen, "%s", why);
	else if (rc != SQL_OK)
		snprintf(err, errlen, "%s: %s", sql_q_key(q), why);
	return rc;
}

static enum sql_rc
run_once(struct sql_handle *h, enum sql_q q, const struct sql_vals *vals,
    size_t max_rows, struct pool *pool, struct sql_result *res, char *err,
    size_t errlen)
{
	const struct sql_query *sq = &h->queries[q];
	const char *params[SQL_MAX_PARAMS];
	struct sql_result r;
	uint64_t changes = 0;
	enum sql_rc rc;
	size_t i, j;

	memset(res, 0, sizeof(*res));
	if (connect_now(h, err, errlen) == -1)
		return SQL_ERR_CONN;
	for (i = 0; i < sq->nstmts; i++) {
		for (j = 0; j < sq->stmts[i].nparams; j++) {
			params[j] = vals->v[sq->stmts[i].params[j]];
			ASSERT(params[j] != NULL);
		}
		memset(&r, 0, sizeof(r));
		rc = h->drv->run(h->conn, (unsigned)(q * SQL_MAX_STMTS + i),
		    &sq->stmts[i], params, max_rows, pool, &r, err, errlen);
		if (rc == SQL_ERR_CONN)
			drop_conn(h, err);
		if (rc != SQL_OK)
			return rc;
		changes += r.changes;
		*res = r;
	}
	res->changes = changes;
	return SQL_OK;
}

/* Read-only reasons */

struct sql_op {
	const char	*op;		/* dir_backend field */
	enum sql_q	 q;
	bool		 write;
	const char	*what;		/* "cannot <what>" */
};

static const struct sql_op sql_ops[] = {
	{ "domain_add",		SQL_Q_DOMAIN_ADD,	true,  "add domains" },
	{ "domain_del",		SQL_Q_DOMAIN_DEL,	true,  "delete domains" },
	{ "domain_set_active",	SQL_Q_DOMAIN_ACTIVE,	true,
	  "enable or disable domains" },
	{ "domain_list",	SQL_Q_DOMAIN_LIST,	false, "list domains" },
	{ "user_add",		SQL_Q_USER_ADD,		true,  "add users" },
	{ "user_del",		SQL_Q_USER_DEL,		true,  "delete users" },
	{ "user_set_password",	SQL_Q_USER_PASSWORD,	true,
	  "change passwords" },
	{ "user_set_quota",	SQL_Q_USER_QUOTA,	true,  "set quotas" },
	{ "user_set_active",	SQL_Q_USER_ACTIVE,	true,
	  "enable or disable users" },
	{ "user_list",		SQL_Q_USER_LIST,	false, "list users" },
	{ "alias_add",		SQL_Q_ALIAS_ADD,	true,  "add aliases" },
	{ "alias_del",		SQL_Q_ALIAS_DEL,	true,  "delete aliases" },
	{ "alias_list",		SQL_Q_ALIAS_LIST,	false, "list aliases" },
};

const char *
dir__sql_read_only(struct dir *dir, const char *op)
{
	const struct sql_handle *h = dir->priv;
	const struct sql_op *o = NULL;
	size_t i;

	for (i = 0; i < sizeof(sql_ops) / sizeof(sql_ops[0]); i++)
		if (strcmp(sql_ops[i].op, op) == 0)
			o = &sql_ops[i];
	ASSERT(o != NULL);
	if (o->write && h->cfg->sql_read_only)
		return dir__error("the %s directory is read-only here "
		    "(sql_read_only = yes): change it with the tool that "
		    "manages the database", h->drv->name);
	if (h->queries[o->q].nstmts == 0)
		return dir__error("the %s directory cannot %s: "
		    "sql_query_set %s has no %s (set one, or change the "
		    "database with the tool that manages it)", h->drv->name,
		    o->what, h->cfg->sql_query_set, sql_q_key(o->q));
	return NULL;
}

/* Lookups */

int
dir__sql_domain_lookup(struct dir *dir, const char *domain,
    struct pool *pool, struct dir_domain *out, const char **error_r)
{
	return sql__domain_get(dir->priv, domain, true, pool, out, error_r);
}

int
dir__sql_user_lookup(struct dir *dir, const struct dir_addr *a,
    struct pool *pool, struct dir_user *out, const char **error_r)
{
	return sql__user_get(dir->priv, a, true, pool, out, error_r);
}

int
dir__sql_alias_lookup(struct dir *dir, const struct dir_addr *source,
    struct pool *pool, const char ***dests_r, size_t *ndests_r,
    const char **error_r)
{
	return sql__alias_get(dir->priv, source, true, pool, dests_r,
	    ndests_r, error_r);
}

int
sql__domain_get(struct sql_handle *h, const char *domain, bool use_cache,
    struct pool *pool, struct dir_domain *out, const char **error_r)
{
	struct pool *tmp;
	struct sql_result r;
	struct sql_vals vals = { { NULL } };
	const char *key, **cv, *v[3], *name, *act;
	char err[SQL_ERR_MAX], size[32];
	bool found, present;
	size_t ncv;

	key = pool_printf(pool, "d:%s", domain);
	if (use_cache && cached(h, key, false, pool, &found, &cv,
	    &ncv) == 1) {
		if (found)
			fill_domain(out, cv, pool);
		return found ? 1 : 0;
	}
	vals.v[SQL_P_DOMAIN] = domain;
	tmp = pool_new(NULL);
	if (sql__run(h, SQL_Q_DOMAIN, &vals, SQL_LOOKUP_MAX_ROWS, true, tmp,
	    &r, err, sizeof(err)) != SQL_OK) {
		pool_free(&tmp);
		if (use_cache && cached(h, key, true, pool, &found, &cv,
		    &ncv) == 1 && found) {
			log_debug(LOG_CAT_DIR, "sql: %s: stale answer", key);
			fill_domain(out, cv, pool);
			return 1;
		}
		*error_r = pool_printf(pool, "%s directory: %s", h->drv->name,
		    err);
		return -1;
	}
	if (r.nrows == 0) {
		pool_free(&tmp);
		if (use_cache)
			cache_put(h, key, false, NULL, 0);
		return 0;
	}
	name = sql__col(&r, 0, "name", 0, &present);
	act = sql__col(&r, 0, "active", -1, &present);
	v[0] = name != NULL ? name : domain;
	v[1] = !present || sql_value_true(act) ? "1" : "0";
	snprintf(size, sizeof(size), "%" PRIu64,
	    col_u64(sql__col(&r, 0, "max_message_size", -1, &present)));
	v[2] = size;
	fill_domain(out, v, pool);
	if (use_cache)
		cache_put(h, key, true, v, 3);
	pool_free(&tmp);
	return 1;
}

int
sql__user_get(struct sql_handle *h, const struct dir_addr *a,
    bool use_cache, struct pool *pool, struct dir_user *out,
    const char **error_r)
{
	struct pool *tmp;
	struct sql_result r;
	struct sql_vals vals;
	const char *key, **cv, *v[5], *s, *act;
	char err[SQL_ERR_MAX], quota[32];
	bool found, present;
	size_t ncv;

	sql__addr_vals(&vals, a, pool);
	key = pool_printf(pool, "u:%s", vals.v[SQL_P_ADDRESS]);
	if (use_cache && cached(h, key, false, pool, &found, &cv,
	    &ncv) == 1) {
		if (found)
			fill_user(out, cv, pool);
		return found ? 1 : 0;
	}
	tmp = pool_new(NULL);
	if (sql__run(h, SQL_Q_USER, &vals, SQL_LOOKUP_MAX_ROWS, true, tmp,
	    &r, err, sizeof(err)) != SQL_OK) {
		pool_free(&tmp);
		if (use_cache && cached(h, key, true, pool, &found, &cv,
		    &ncv) == 1 && found) {
			log_debug(LOG_CAT_DIR, "sql: %s: stale answer", key);
			fill_user(out, cv, pool);
			return 1;
		}
		*error_r = pool_printf(pool, "%s directory: %s", h->drv->name,
		    err);
		return -1;
	}
	if (r.nrows == 0) {
		pool_free(&tmp);
		if (use_cache)
			cache_put(h, key, false, NULL, 0);
		return 0;
	}
	s = sql__col(&r, 0, "address", -1, &present);
	v[0] = s != NULL && *s != '\0' ? s : vals.v[SQL_P_ADDRESS];
	s = sql__col(&r, 0, "password", -1, &present);
	v[1] = s != NULL ? s : "";
	snprintf(quota, sizeof(quota), "%" PRIu64,
	    col_u64(sql__col(&r, 0, "quota", -1, &present)));
	v[2] = quota;
	act = sql__col(&r, 0, "active", -1, &present);
	v[3] = !present || sql_value_true(act) ? "1" : "0";
	s = sql__col(&r, 0, "maildir", -1, &present);
	v[4] = s != NULL ? s : "";
	fill_user(out, v, pool);
	if (use_cache)
		cache_put(h, key, true, v, 5);
	pool_free(&tmp);
	return 1;
}

int
sql__alias_get(struct sql_handle *h, const struct dir_addr *a,
    bool use_cache, struct pool *pool, const char ***dests_r,
    size_t *ndests_r, const char **error_r)
{
	struct pool *tmp;
	struct sql_result r;
	struct sql_vals vals;
	const char *key, **cv, **d;
	char err[SQL_ERR_MAX];
	size_t ncv, i, n;
	bool found;

	*dests_r = NULL;
	*ndests_r = 0;
	if (h->queries[SQL_Q_ALIAS].nstmts == 0)
		return 0;
	sql__addr_vals(&vals, a, pool);
	key = pool_printf(pool, "a:%s", vals.v[SQL_P_ADDRESS]);
	if (use_cache && cached(h, key, false, pool, &found, &cv,
	    &ncv) == 1) {
		*dests_r = cv;
		*ndests_r = ncv;
		return found ? 1 : 0;
	}
	tmp = pool_new(NULL);
	if (sql__run(h, SQL_Q_ALIAS, &vals, SQL_LOOKUP_MAX_ROWS, true, tmp,
	    &r, err, sizeof(err)) != SQL_OK) {
		pool_free(&tmp);
		if (use_cache && cached(h, key, true, pool, &found, &cv,
		    &ncv) == 1 && found) {
			log_debug(LOG_CAT_DIR, "sql: %s: stale answer", key);
			*dests_r = cv;
			*ndests_r = ncv;
			return 1;
		}
		*error_r = pool_printf(pool, "%s directory: %s", h->drv->name,
		    err);
		return -1;
	}
	d = pool_alloc(pool, (r.nrows + 1) * sizeof(*d));
	for (i = n = 0; i < r.nrows && r.ncols > 0; i++) {
		/* NULL and empty destinations are no destination. */
		if (r.cells[i * r.ncols] == NULL ||
		    *r.cells[i * r.ncols] == '\0')
			continue;
		d[n++] = pool_strdup(pool, r.cells[i * r.ncols]);
	}
	pool_free(&tmp);
	if (use_cache)
		cache_put(h, key, n > 0, d, n);
	*dests_r = n > 0 ? d : NULL;
	*ndests_r = n;
	return n > 0 ? 1 : 0;
}

/* Helpers */

void
sql__addr_vals(struct sql_vals *v, const struct dir_addr *a,
    struct pool *pool)
{
	memset(v, 0, sizeof(*v));
	v->v[SQL_P_ADDRESS] = lower_dup(pool, a->address);
	v->v[SQL_P_LOCAL] = lower_dup(pool, a->local);
	v->v[SQL_P_DOMAIN] = lower_dup(pool, a->domain);
}

const char *
sql__col(const struct sql_result *r, size_t row, const char *name,
    int fallback, bool *present_r)
{
	size_t i;

	*present_r = false;
	if (row >= r->nrows)
		return NULL;
	for (i = 0; i < r->ncols; i++) {
		if (strcasecmp(r->names[i], name) == 0) {
			*present_r = true;
			return r->cells[row * r->ncols + i];
		}
	}
	if (fallback >= 0 && (size_t)fallback < r->ncols) {
		*present_r = true;
		return r->cells[row * r->ncols + (size_t)fallback];
	}
	return NULL;
}

void
sql__cache_clear(void)
{
	pthread_mutex_lock(&sql_cache_mtx);
	if (sql_cache != NULL)
		dir_cache_clear(sql_cache);
	pthread_mutex_unlock(&sql_cache_mtx);
}

/* The process's cache, made at the first open; NULL when disabled. */
static struct dir_cache *
cache_get(const struct config *cfg)
{
	struct dir_cache *c;

	pthread_mutex_lock(&sql_cache_mtx);
	if (sql_cache == NULL && cfg->sql_cache_size > 0)
		sql_cache = dir_cache_new(cfg->sql_cache_size,
		    cfg->sql_cache_ttl * 1000,
		    cfg->sql_cache_negative_ttl * 1000,
		    cfg->sql_cache_stale_ttl * 1000);
	c = sql_cache;
	pthread_mutex_unlock(&sql_cache_mtx);
	return c;
}

/* 1 on a usable hit (fresh, or stale when stale is true), else 0. */
static int
cached(const struct sql_handle *h, const char *key, bool stale,
    struct pool *pool, bool *found_r, const char ***vals_r,
    size_t *nvals_r)
{
	struct dir_cache *c = cache_get(h->cfg);
	enum dir_cache_hit hit;

	if (c == NULL)
		return 0;
	hit = dir_cache_get(c, key, dir_cache_now(), stale, pool, found_r,
	    vals_r, nvals_r);
	return hit == DIR_CACHE_FRESH || (stale && hit == DIR_CACHE_STALE);
}

static void
cache_put(const struct sql_handle *h, const char *key, bool found,
    const char *const *vals, size_t nvals)
{
	struct dir_cache *c = cache_get(h->cfg);

	if (c != NULL)
		dir_cache_put(c, key, dir_cache_now(), found, vals, nvals);
}

/* A size or quota column: NULL, garbage and negative numbers are 0. */
static uint64_t
col_u64(const char *v)
{
	uint64_t n;

	if (v == NULL || str_to_u64(v, INT64_MAX, &n) == -1)
		return 0;
	return n;
}

static char *
lower_dup(struct pool *pool, const char *s)
{
	char *d = pool_strdup(pool, s);

	str_lower(d);
	return d;
}

/* v: name, active, max_message_size. */
static void
fill_domain(struct dir_domain *out, const char *const *v, struct pool *pool)
{
	out->name = pool_strdup(pool, v[0]);
	out->active = strcmp(v[1], "1") == 0;
	out->max_message_size = col_u64(v[2]);
}

/* v: address, password, quota, active, maildir. */
static void
fill_user(struct dir_user *out, const char *const *v, struct pool *pool)
{
	out->address = pool_strdup(pool, v[0]);
	out->password_hash = pool_strdup(pool, v[1]);
	out->quota_bytes = col_u64(v[2]);
	out->active = strcmp(v[3], "1") == 0;
	out->maildir = *v[4] != '\0' ? pool_strdup(pool, v[4]) : NULL;
}
