/* dir-sql-admin: the admin changes of the SQL backends (`postie domain`,
 * `user`, `alias`), each in one transaction with the checks that give the
 * same messages as the SQLite backend: "already exists" (from a lookup
 * before the insert, or a unique key the database reports), "unknown
 * domain", "no such user", "still has users". A change that the query set
 * has no query for never gets here: dir.c asks dir__sql_read_only() first.
 * A successful change empties the lookup cache of this process; other
 * processes see it when their entries expire (sql_cache_ttl).
 *
 * Lists read everything first and call back afterwards, so a callback may
 * use the directory. A list of every user or alias goes domain by domain. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/dir-sql.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static int	 tx_begin(struct sql_handle *h, const char **error_r);
static int	 tx_end(struct sql_handle *h, int rc, const char **error_r);
static int	 change(struct sql_handle *h, enum sql_q q,
		    const struct sql_vals *v, struct pool *pool,
		    const char *dup_msg, uint64_t *changes_r,
		    const char **error_r);
static int	 change_one(struct sql_handle *h, enum sql_q q,
		    const struct sql_vals *v, const char *missing,
		    const char *dup_msg, const char **error_r);
static int	 domain_known(struct sql_handle *h, const char *domain,
		    struct pool *pool, const char **error_r);
static int	 count_rows(struct sql_handle *h, enum sql_q q,
		    const char *domain, struct pool *pool, uint64_t *n_r,
		    const char **error_r);
static int	 list(struct sql_handle *h, enum sql_q q,
		    const struct sql_vals *v, struct pool *pool,
		    struct sql_result *r, const char **error_r);
static int	 domains(struct sql_handle *h, struct pool *pool,
		    const char ***names_r, size_t *n_r, const char **error_r);
static bool	 dests_contain(const char **dests, size_t n, const char *dest);
static const char *num(struct pool *pool, uint64_t n);

/* Domains */

int
dir__sql_domain_add(struct dir *dir, const char *domain,
    uint64_t max_message_size, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v = { { NULL } };
	struct dir_domain d;
	uint64_t n;
	int rc;

	v.v[SQL_P_DOMAIN] = domain;
	v.v[SQL_P_SIZE] = num(pool, max_message_size);
	if ((rc = tx_begin(h, error_r)) == 0) {
		rc = sql__domain_get(h, domain, false, pool, &d, error_r);
		if (rc == 1) {
			*error_r = dir__error("domain %s already exists",
			    domain);
			rc = -1;
		} else if (rc == 0)
			rc = change(h, SQL_Q_DOMAIN_ADD, &v, pool,
			    pool_printf(pool, "domain %s already exists",
			    domain), &n, error_r);
		else
			*error_r = dir__error("%s", *error_r);
		rc = tx_end(h, rc, error_r);
	}
	pool_free(&pool);
	return rc;
}

int
dir__sql_domain_del(struct dir *dir, const char *domain, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v = { { NULL } };
	uint64_t users = 0, aliases = 0, n;
	int rc;

	v.v[SQL_P_DOMAIN] = domain;
	if ((rc = tx_begin(h, error_r)) == 0) {
		rc = domain_known(h, domain, pool, error_r);
		if (rc == 0 && h->queries[SQL_Q_USER_LIST].nstmts > 0)
			rc = count_rows(h, SQL_Q_USER_LIST, domain, pool,
			    &users, error_r);
		if (rc == 0 && h->queries[SQL_Q_ALIAS_LIST].nstmts > 0)
			rc = count_rows(h, SQL_Q_ALIAS_LIST, domain, pool,
			    &aliases, error_r);
		if (rc == 0 && users > 0 && aliases > 0) {
			*error_r = dir__error("domain %s still has %" PRIu64
			    " user%s and %" PRIu64 " alias%s; delete them "
			    "first", domain, users, users == 1 ? "" : "s",
			    aliases, aliases == 1 ? "" : "es");
			rc = -1;
		} else if (rc == 0 && (users > 0 || aliases > 0)) {
			*error_r = dir__error("domain %s still has %" PRIu64
			    " %s; delete %s first", domain, users + aliases,
			    users > 0 ? (users == 1 ? "user" : "users") :
			    (aliases == 1 ? "alias" : "aliases"),
			    users + aliases == 1 ? "it" : "them");
			rc = -1;
		}
		if (rc == 0)
			rc = change(h, SQL_Q_DOMAIN_DEL, &v, pool, NULL, &n,
			    error_r);
		if (rc == 0 && n == 0) {
			*error_r = dir__error("unknown domain %s", domain);
			rc = -1;
		}
		rc = tx_end(h, rc, error_r);
	}
	pool_free(&pool);
	return rc;
}

int
dir__sql_domain_set_active(struct dir *dir, const char *domain, bool active,
    const char **error_r)
{
	struct sql_vals v = { { NULL } };

	v.v[SQL_P_DOMAIN] = domain;
	v.v[SQL_P_ACTIVE] = active ? "1" : "0";
	return change_one(dir->priv, SQL_Q_DOMAIN_ACTIVE, &v,
	    dir__error("unknown domain %s", domain), NULL, error_r);
}

int
dir__sql_domain_list(struct dir *dir, dir_domain_cb cb, void *ctx,
    const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v = { { NULL } };
	struct sql_result r;
	struct dir_domain d;
	const char *act, *name;
	bool present;
	uint64_t size;
	size_t i;
	int rc;

	if ((rc = list(h, SQL_Q_DOMAIN_LIST, &v, pool, &r, error_r)) == 0) {
		for (i = 0; i < r.nrows; i++) {
			name = sql__col(&r, i, "name", 0, &present);
			if (name == NULL)
				continue;
			d.name = name;
			act = sql__col(&r, i, "active", -1, &present);
			d.active = !present || sql_value_true(act);
			act = sql__col(&r, i, "max_message_size", -1,
			    &present);
			d.max_message_size = act != NULL &&
			    str_to_u64(act, INT64_MAX, &size) == 0 ? size : 0;
			cb(&d, ctx);
		}
	}
	pool_free(&pool);
	return rc;
}

/* Users */

int
dir__sql_user_add(struct dir *dir, const struct dir_addr *a,
    const char *hash, uint64_t quota_bytes, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	struct dir_user u;
	uint64_t n;
	int rc;

	sql__addr_vals(&v, a, pool);
	v.v[SQL_P_HASH] = hash;
	v.v[SQL_P_QUOTA] = num(pool, quota_bytes);
	if ((rc = tx_begin(h, error_r)) == 0) {
		rc = domain_known(h, a->domain, pool, error_r);
		if (rc == 0) {
			rc = sql__user_get(h, a, false, pool, &u, error_r);
			if (rc == 1) {
				*error_r = dir__error("user %s already exists",
				    v.v[SQL_P_ADDRESS]);
				rc = -1;
			} else if (rc == -1)
				*error_r = dir__error("%s", *error_r);
		}
		if (rc == 0)
			rc = change(h, SQL_Q_USER_ADD, &v, pool,
			    pool_printf(pool, "user %s already exists",
			    v.v[SQL_P_ADDRESS]), &n, error_r);
		if (rc == 0 && n == 0) {
			*error_r = dir__error("unknown domain %s", a->domain);
			rc = -1;
		}
		rc = tx_end(h, rc, error_r);
	}
	pool_free(&pool);
	return rc;
}

int
dir__sql_user_del(struct dir *dir, const struct dir_addr *a,
    const char **error_r)
{
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	int rc;

	sql__addr_vals(&v, a, pool);
	rc = change_one(dir->priv, SQL_Q_USER_DEL, &v,
	    dir__error("no such user %s", v.v[SQL_P_ADDRESS]), NULL, error_r);
	pool_free(&pool);
	return rc;
}

int
dir__sql_user_set_password(struct dir *dir, const struct dir_addr *a,
    const char *hash, const char **error_r)
{
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	int rc;

	sql__addr_vals(&v, a, pool);
	v.v[SQL_P_HASH] = hash;
	rc = change_one(dir->priv, SQL_Q_USER_PASSWORD, &v,
	    dir__error("no such user %s", v.v[SQL_P_ADDRESS]), NULL, error_r);
	pool_free(&pool);
	return rc;
}

int
dir__sql_user_set_quota(struct dir *dir, const struct dir_addr *a,
    uint64_t quota_bytes, const char **error_r)
{
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	int rc;

	sql__addr_vals(&v, a, pool);
	v.v[SQL_P_QUOTA] = num(pool, quota_bytes);
	rc = change_one(dir->priv, SQL_Q_USER_QUOTA, &v,
	    dir__error("no such user %s", v.v[SQL_P_ADDRESS]), NULL, error_r);
	pool_free(&pool);
	return rc;
}

int
dir__sql_user_set_active(struct dir *dir, const struct dir_addr *a,
    bool active, const char **error_r)
{
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	int rc;

	sql__addr_vals(&v, a, pool);
	v.v[SQL_P_ACTIVE] = active ? "1" : "0";
	rc = change_one(dir->priv, SQL_Q_USER_ACTIVE, &v,
	    dir__error("no such user %s", v.v[SQL_P_ADDRESS]), NULL, error_r);
	pool_free(&pool);
	return rc;
}

int
dir__sql_user_list(struct dir *dir, const char *domain, dir_user_cb cb,
    void *ctx, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v = { { NULL } };
	struct sql_result r;
	struct dir_user u;
	const char **names, *s;
	size_t nnames = 1, i, k;
	uint64_t quota;
	bool present;
	int rc = 0;

	if (domain != NULL) {
		names = &domain;
		rc = domain_known(h, domain, pool, error_r);
	} else
		rc = domains(h, pool, &names, &nnames, error_r);
	for (k = 0; rc == 0 && k < nnames; k++) {
		v.v[SQL_P_DOMAIN] = names[k];
		if ((rc = list(h, SQL_Q_USER_LIST, &v, pool, &r,
		    error_r)) == -1)
			break;
		for (i = 0; i < r.nrows; i++) {
			memset(&u, 0, sizeof(u));
			if ((u.address = sql__col(&r, i, "address", 0,
			    &present)) == NULL)
				continue;
			s = sql__col(&r, i, "password", -1, &present);
			u.password_hash = s != NULL ? s : "";
			s = sql__col(&r, i, "quota", -1, &present);
			u.quota_bytes = s != NULL &&
			    str_to_u64(s, INT64_MAX, &quota) == 0 ? quota : 0;
			s = sql__col(&r, i, "active", -1, &present);
			u.active = !present || sql_value_true(s);
			cb(&u, ctx);
		}
	}
	pool_free(&pool);
	return rc;
}

/* Aliases */

int
dir__sql_alias_add(struct dir *dir, const struct dir_addr *source,
    const char *destination, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	const char **dests;
	size_t ndests;
	uint64_t n;
	int rc;

	sql__addr_vals(&v, source, pool);
	v.v[SQL_P_TARGET] = destination;
	if ((rc = tx_begin(h, error_r)) == 0) {
		rc = domain_known(h, source->domain, pool, error_r);
		if (rc == 0) {
			rc = sql__alias_get(h, source, false, pool, &dests,
			    &ndests, error_r);
			if (rc == -1)
				*error_r = dir__error("%s", *error_r);
			else if (dests_contain(dests, ndests, destination)) {
				*error_r = dir__error("alias %s -> %s already "
				    "exists", v.v[SQL_P_ADDRESS], destination);
				rc = -1;
			} else
				rc = 0;
		}
		if (rc == 0)
			rc = change(h, SQL_Q_ALIAS_ADD, &v, pool,
			    pool_printf(pool, "alias %s -> %s already exists",
			    v.v[SQL_P_ADDRESS], destination), &n, error_r);
		if (rc == 0 && n == 0) {
			*error_r = dir__error("unknown domain %s",
			    source->domain);
			rc = -1;
		}
		rc = tx_end(h, rc, error_r);
	}
	pool_free(&pool);
	return rc;
}

int
dir__sql_alias_del(struct dir *dir, const struct dir_addr *source,
    const char *destination, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v;
	const char **dests;
	struct strv sv;
	uint64_t n, total = 0;
	size_t ndests, i, j;
	int rc;

	sql__addr_vals(&v, source, pool);
	if ((rc = tx_begin(h, error_r)) != 0) {
		pool_free(&pool);
		return rc;
	}
	if (destination != NULL) {
		v.v[SQL_P_TARGET] = destination;
		rc = change(h, SQL_Q_ALIAS_DEL, &v, pool, NULL, &total,
		    error_r);
	} else if ((rc = sql__alias_get(h, source, false, pool, &dests,
	    &ndests, error_r)) == -1)
		*error_r = dir__error("%s", *error_r);
	else {
		/* Every destination, one at a time: a row may hold a list. */
		rc = 0;
		for (i = 0; rc == 0 && i < ndests; i++) {
			memset(&sv, 0, sizeof(sv));
			strv_split(&sv, dests[i]);
			for (j = 0; rc == 0 && j < sv.n; j++) {
				v.v[SQL_P_TARGET] = sv.v[j];
				rc = change(h, SQL_Q_ALIAS_DEL, &v, pool, NULL,
				    &n, error_r);
				total += n;
			}
			strv_free(&sv);
		}
	}
	if (rc == 0 && total == 0) {
		if (destination != NULL)
			*error_r = dir__error("no such alias %s -> %s",
			    v.v[SQL_P_ADDRESS], destination);
		else
			*error_r = dir__error("no such alias %s",
			    v.v[SQL_P_ADDRESS]);
		rc = -1;
	}
	rc = tx_end(h, rc, error_r);
	pool_free(&pool);
	return rc;
}

int
dir__sql_alias_list(struct dir *dir, const char *domain, dir_alias_cb cb,
    void *ctx, const char **error_r)
{
	struct sql_handle *h = dir->priv;
	struct pool *pool = pool_new(NULL);
	struct sql_vals v = { { NULL } };
	struct sql_result r;
	struct dir_alias a;
	const char **names;
	size_t nnames = 1, i, k;
	bool present;
	int rc = 0;

	if (domain != NULL) {
		names = &domain;
		rc = domain_known(h, domain, pool, error_r);
	} else
		rc = domains(h, pool, &names, &nnames, error_r);
	for (k = 0; rc == 0 && k < nnames; k++) {
		v.v[SQL_P_DOMAIN] = names[k];
		if ((rc = list(h, SQL_Q_ALIAS_LIST, &v, pool, &r,
		    error_r)) == -1)
			break;
		for (i = 0; i < r.nrows; i++) {
			a.source = sql__col(&r, i, "source", 0, &present);
			a.destination = sql__col(&r, i, "destination", 1,
			    &present);
			if (a.source == NULL || a.destination == NULL)
				continue;
			cb(&a, ctx);
		}
	}
	pool_free(&pool);
	return rc;
}

/* Helpers */

static int
tx_begin(struct sql_handle *h, const char **error_r)
{
	char err[SQL_ERR_MAX];

	if (sql__command(h, "BEGIN", err, sizeof(err)) != SQL_OK) {
		*error_r = dir__error("%s directory: %s", h->drv->name, err);
		return -1;
	}
	return 0;
}

/* Commit if rc is 0, else roll back; the result of the change. A change
 * that committed empties this process's cache. */
static int
tx_end(struct sql_handle *h, int rc, const char **error_r)
{
	char err[SQL_ERR_MAX];

	if (rc == 0) {
		if (sql__command(h, "COMMIT", err, sizeof(err)) == SQL_OK) {
			sql__cache_clear();
			return 0;
		}
		*error_r = dir__error("%s directory: %s", h->drv->name, err);
	}
	if (h->conn != NULL)
		(void)sql__command(h, "ROLLBACK", err, sizeof(err));
	return -1;
}

/* Run an admin query; *changes_r: rows it changed. dup_msg: the message
 * when a unique key refuses it (NULL: the database's). */
static int
change(struct sql_handle *h, enum sql_q q, const struct sql_vals *v,
    struct pool *pool, const char *dup_msg, uint64_t *changes_r,
    const char **error_r)
{
	struct sql_result r;
	char err[SQL_ERR_MAX];
	enum sql_rc rc;

	rc = sql__run(h, q, v, SQL_LOOKUP_MAX_ROWS, false, pool, &r, err,
	    sizeof(err));
	if (rc == SQL_ERR_DUP && dup_msg != NULL) {
		*error_r = dir__error("%s", dup_msg);
		return -1;
	}
	if (rc != SQL_OK) {
		*error_r = dir__error("%s directory: %s", h->drv->name, err);
		return -1;
	}
	*changes_r = r.changes;
	return 0;
}

/* One change in its own transaction that fails with missing when it finds
 * no row. */
static int
change_one(struct sql_handle *h, enum sql_q q, const struct sql_vals *v,
    const char *missing, const char *dup_msg, const char **error_r)
{
	struct pool *pool;
	char *msg;
	uint64_t n;
	int rc;

	/* missing lives in the thread's error buffer: keep a copy. */
	msg = xstrdup(missing);
	if (tx_begin(h, error_r) == -1) {
		free(msg);
		return -1;
	}
	pool = pool_new(NULL);
	rc = change(h, q, v, pool, dup_msg, &n, error_r);
	if (rc == 0 && n == 0) {
		*error_r = dir__error("%s", msg);
		rc = -1;
	}
	pool_free(&pool);
	free(msg);
	return tx_end(h, rc, error_r);
}

/* 0 when the domain exists, else -1 with "unknown domain". */
static int
domain_known(struct sql_handle *h, const char *domain, struct pool *pool,
    const char **error_r)
{
	struct dir_domain d;
	int rc;

	rc = sql__domain_get(h, domain, false, pool, &d, error_r);
	if (rc == -1) {
		*error_r = dir__error("%s", *error_r);
		return -1;
	}
	if (rc == 0) {
		*error_r = dir__error("unknown domain %s", domain);
		return -1;
	}
	return 0;
}

static int
count_rows(struct sql_handle *h, enum sql_q q, const char *domain,
    struct pool *pool, uint64_t *n_r, const char **error_r)
{
	struct sql_vals v = { { NULL } };
	struct sql_result r;

	v.v[SQL_P_DOMAIN] = domain;
	if (list(h, q, &v, pool, &r, error_r) == -1)
		return -1;
	*n_r = r.nrows;
	return 0;
}

static int
list(struct sql_handle *h, enum sql_q q, const struct sql_vals *v,
    struct pool *pool, struct sql_result *r, const char **error_r)
{
	char err[SQL_ERR_MAX];

	if (sql__run(h, q, v, SQL_LIST_MAX_ROWS, true, pool, r, err,
	    sizeof(err)) != SQL_OK) {
		*error_r = dir__error("%s directory: %s", h->drv->name, err);
		return -1;
	}
	return 0;
}

/* The names of every domain, for lists of everything. */
static int
domains(struct sql_handle *h, struct pool *pool, const char ***names_r,
    size_t *n_r, const char **error_r)
{
	struct sql_vals v = { { NULL } };
	struct sql_result r;
	const char **names, *s;
	size_t i, n = 0;
	bool present;

	if (h->queries[SQL_Q_DOMAIN_LIST].nstmts == 0) {
		*error_r = dir__error("the %s directory cannot list every "
		    "domain: sql_query_set %s has no sql_domain_list_query; "
		    "name a domain", h->drv->name, h->cfg->sql_query_set);
		return -1;
	}
	if (list(h, SQL_Q_DOMAIN_LIST, &v, pool, &r, error_r) == -1)
		return -1;
	names = pool_alloc(pool, (r.nrows + 1) * sizeof(*names));
	for (i = 0; i < r.nrows; i++)
		if ((s = sql__col(&r, i, "name", 0, &present)) != NULL)
			names[n++] = s;
	*names_r = names;
	*n_r = n;
	return 0;
}

/* Is dest one of the destinations (each maybe a comma-separated list)? */
static bool
dests_contain(const char **dests, size_t n, const char *dest)
{
	struct strv sv;
	size_t i, j;
	bool found = false;

	for (i = 0; i < n && !found; i++) {
		memset(&sv, 0, sizeof(sv));
		strv_split(&sv, dests[i]);
		for (j = 0; j < sv.n && !found; j++)
			found = strcasecmp(sv.v[j], dest) == 0;
		strv_free(&sv);
	}
	return found;
}

static const char *
num(struct pool *pool, uint64_t n)
{
	return pool_printf(pool, "%" PRIu64, n);
}
