/* dir-pgsql: the PostgreSQL directory backend (directory_backend = pgsql),
 * a driver for dir-sql.c on libpq. Every statement is prepared once per
 * connection (PQprepare) and run with its parameters passed separately
 * (PQexecPrepared, text format): values never enter the SQL text. Text
 * placeholders are declared as text; numbers (%q, %a, %m) are left for the
 * server to type from the context, so "quota = %q" works on a bigint
 * column and "active = %a" on a boolean one.
 *
 * Limits: connect_timeout per host, statement_timeout on the server for
 * every statement, and tcp_user_timeout so that a server that vanished
 * from the network cannot hold a thread forever. A result larger than the
 * caller's row limit, or a value longer than SQL_VALUE_MAX, is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "directory/dir-sql.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define PG_DEFAULT_PORT		5432
#define PG_OID_TEXT		25
#define PG_SOCKET_PREFIX	".s.PGSQL."

struct pg_conn {
	PGconn	*pg;
	bool	 prepared[SQL_Q_COUNT * SQL_MAX_STMTS];
};

static int	 pg_connect(const struct sql_conn_args *a, void **conn_r,
		    char *err, size_t errlen);
static void	 pg_close(void *conn);
static enum sql_rc pg_run(void *conn, unsigned id, const struct sql_stmt *st,
		    const char *const *values, size_t max_rows,
		    struct pool *pool, struct sql_result *res, char *err,
		    size_t errlen);
static enum sql_rc pg_command(void *conn, const char *sql, char *err,
		    size_t errlen);
static int	 pg_open(struct dir *dir, const char **error_r);
static PGconn	*connect_host(const struct sql_conn_args *a,
		    const struct sql_host *h, char *err, size_t errlen);
static enum sql_rc failure(struct pg_conn *c, PGresult *res, char *err,
		    size_t errlen);
static void	 message(const char *msg, char *err, size_t errlen);
static enum sql_rc copy_result(PGresult *pr, size_t max_rows,
		    struct pool *pool, struct sql_result *res, char *err,
		    size_t errlen);

const struct sql_driver sql_driver_pgsql = {
	.name		= "pgsql",
	.marker		= SQL_MARK_DOLLAR,
	.backslash	= false,
	.connect	= pg_connect,
	.close		= pg_close,
	.run		= pg_run,
	.command	= pg_command,
};

const struct dir_backend dir__backend_pgsql = {
	.name			= "pgsql",
	.open			= pg_open,
	.close			= dir__sql_close,
	.read_only		= dir__sql_read_only,
	.domain_lookup		= dir__sql_domain_lookup,
	.user_lookup		= dir__sql_user_lookup,
	.alias_lookup		= dir__sql_alias_lookup,
	.domain_add		= dir__sql_domain_add,
	.domain_del		= dir__sql_domain_del,
	.domain_set_active	= dir__sql_domain_set_active,
	.domain_list		= dir__sql_domain_list,
	.user_add		= dir__sql_user_add,
	.user_del		= dir__sql_user_del,
	.user_set_password	= dir__sql_user_set_password,
	.user_set_quota		= dir__sql_user_set_quota,
	.user_set_active	= dir__sql_user_set_active,
	.user_list		= dir__sql_user_list,
	.alias_add		= dir__sql_alias_add,
	.alias_del		= dir__sql_alias_del,
	.alias_list		= dir__sql_alias_list,
};

static int
pg_open(struct dir *dir, const char **error_r)
{
	return dir__sql_open(dir, &sql_driver_pgsql, error_r);
}

static int
pg_connect(const struct sql_conn_args *a, void **conn_r, char *err,
    size_t errlen)
{
	struct pg_conn *c;
	PGconn *pg = NULL;
	size_t i;

	for (i = 0; i < a->nhosts && pg == NULL; i++)
		pg = connect_host(a, &a->hosts[i], err, errlen);
	if (pg == NULL)
		return -1;
	c = xmalloc(sizeof(*c));
	c->pg = pg;
	*conn_r = c;
	return 0;
}

/* One host; NULL with the reason in err. */
static PGconn *
connect_host(const struct sql_conn_args *a, const struct sql_host *h,
    char *err, size_t errlen)
{
	const char *keys[16], *vals[16];
	char port[16], ctimeout[16], options[64], tcp_timeout[32];
	char *dir = NULL;
	const char *base, *p;
	unsigned portnum = h->port != 0 ? h->port : PG_DEFAULT_PORT;
	size_t n = 0;
	PGconn *pg;
	uint64_t v;

	if (h->socket != NULL) {
		/* A socket file (".../.s.PGSQL.5432") names its directory
		 * and port; anything else is the directory. */
		base = strrchr(h->socket, '/') + 1;
		if (strncmp(base, PG_SOCKET_PREFIX,
		    strlen(PG_SOCKET_PREFIX)) == 0 &&
		    str_to_u64(base + strlen(PG_SOCKET_PREFIX), 65535,
		    &v) == 0) {
			portnum = (unsigned)v;
			p = base - 1;
			dir = xstrndup(h->socket, p == h->socket ? 1 :
			    (size_t)(p - h->socket));
		} else
			dir = xstrdup(h->socket);
	}
	snprintf(port, sizeof(port), "%u", portnum);
	snprintf(ctimeout, sizeof(ctimeout), "%u", a->connect_timeout);
	snprintf(options, sizeof(options), "-c statement_timeout=%u",
	    a->query_timeout * 1000);
	snprintf(tcp_timeout, sizeof(tcp_timeout), "%u",
	    (a->query_timeout + a->connect_timeout) * 1000);
#define KV(k, v) do { keys[n] = (k); vals[n] = (v); n++; } while (0)
	KV("host", dir != NULL ? dir : h->host);
	KV("port", port);
	if (*a->dbname != '\0')
		KV("dbname", a->dbname);
	if (*a->user != '\0')
		KV("user", a->user);
	if (*a->password != '\0')
		KV("password", a->password);
	KV("connect_timeout", ctimeout);
	KV("options", options);
	KV("client_encoding", "UTF8");
	KV("application_name", "postie");
	if (dir == NULL)
		KV("tcp_user_timeout", tcp_timeout);
	KV(NULL, NULL);
#undef KV
	pg = PQconnectdbParams(keys, vals, 0);
	free(dir);
	if (pg == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		message(PQerrorMessage(pg), err, errlen);
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

static void
pg_close(void *conn)
{
	struct pg_conn *c = conn;

	PQfinish(c->pg);
	free(c);
}

static enum sql_rc
pg_run(void *conn, unsigned id, const struct sql_stmt *st,
    const char *const *values, size_t max_rows, struct pool *pool,
    struct sql_result *res, char *err, size_t errlen)
{
	struct pg_conn *c = conn;
	Oid types[SQL_MAX_PARAMS];
	char name[32];
	PGresult *pr;
	enum sql_rc rc;
	size_t i;

	ASSERT(id < SQL_Q_COUNT * SQL_MAX_STMTS);
	snprintf(name, sizeof(name), "postie_%u", id);
	if (!c->prepared[id]) {
		for (i = 0; i < st->nparams; i++)
			types[i] = st->params[i] == SQL_P_QUOTA ||
			    st->params[i] == SQL_P_ACTIVE ||
			    st->params[i] == SQL_P_SIZE ? 0 : PG_OID_TEXT;
		pr = PQprepare(c->pg, name, st->sql, (int)st->nparams, types);
		if (pr == NULL || PQresultStatus(pr) != PGRES_COMMAND_OK)
			return failure(c, pr, err, errlen);
		PQclear(pr);
		c->prepared[id] = true;
	}
	pr = PQexecPrepared(c->pg, name, (int)st->nparams, values, NULL, NULL,
	    0);
	if (pr == NULL || (PQresultStatus(pr) != PGRES_TUPLES_OK &&
	    PQresultStatus(pr) != PGRES_COMMAND_OK))
		return failure(c, pr, err, errlen);
	rc = copy_result(pr, max_rows, pool, res, err, errlen);
	PQclear(pr);
	return rc;
}

static enum sql_rc
pg_command(void *conn, const char *sql, char *err, size_t errlen)
{
	struct pg_conn *c = conn;
	PGresult *pr;

	pr = PQexec(c->pg, sql);
	if (pr == NULL || PQresultStatus(pr) != PGRES_COMMAND_OK)
		return failure(c, pr, err, errlen);
	PQclear(pr);
	return SQL_OK;
}

/* Classify a failed call and free its result. */
static enum sql_rc
failure(struct pg_conn *c, PGresult *pr, char *err, size_t errlen)
{
	const char *state = pr != NULL ?
	    PQresultErrorField(pr, PG_DIAG_SQLSTATE) : NULL;
	enum sql_rc rc = SQL_ERR_QUERY;

	message(pr != NULL && *PQresultErrorMessage(pr) != '\0' ?
	    PQresultErrorMessage(pr) : PQerrorMessage(c->pg), err, errlen);
	if (PQstatus(c->pg) != CONNECTION_OK)
		rc = SQL_ERR_CONN;
	else if (state != NULL && strcmp(state, "23505") == 0)
		rc = SQL_ERR_DUP;
	/* 08: connection exception; 57P0x: the server is shutting down
	 * or not accepting connections; 53: out of resources. */
	else if (state != NULL && (strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0))
		rc = SQL_ERR_CONN;
	PQclear(pr);
	return rc;
}

/* libpq's message on one line, without its trailing newline. */
static void
message(const char *msg, char *err, size_t errlen)
{
	char *p;

	snprintf(err, errlen, "%s", msg != NULL && *msg != '\0' ? msg :
	    "unknown error");
	for (p = err; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	while (p > err && p[-1] == ' ')
		*--p = '\0';
}

static enum sql_rc
copy_result(PGresult *pr, size_t max_rows, struct pool *pool,
    struct sql_result *res, char *err, size_t errlen)
{
	const char *cmd;
	size_t nrows, ncols, i, j;
	uint64_t changes;

	memset(res, 0, sizeof(*res));
	cmd = PQcmdTuples(pr);
	if (cmd != NULL && *cmd != '\0' &&
	    str_to_u64(cmd, UINT64_MAX, &changes) == 0)
		res->changes = changes;
	if (PQresultStatus(pr) != PGRES_TUPLES_OK)
		return SQL_OK;
	nrows = (size_t)PQntuples(pr);
	ncols = (size_t)PQnfields(pr);
	if (nrows > max_rows) {
		snprintf(err, errlen, "more than %zu rows", max_rows);
		return SQL_ERR_QUERY;
	}
	res->nrows = nrows;
	res->ncols = ncols;
	res->names = pool_alloc(pool, (ncols + 1) * sizeof(*res->names));
	for (j = 0; j < ncols; j++)
		res->names[j] = pool_strdup(pool, PQfname(pr, (int)j));
	if (nrows == 0 || ncols == 0)
		return SQL_OK;
	res->cells = pool_alloc(pool, nrows * ncols * sizeof(*res->cells));
	for (i = 0; i < nrows; i++) {
		for (j = 0; j < ncols; j++) {
			if (PQgetisnull(pr, (int)i, (int)j))
				continue;
			if ((size_t)PQgetlength(pr, (int)i, (int)j) >
			    SQL_VALUE_MAX) {
				snprintf(err, errlen, "a value is longer "
				    "than %d bytes", SQL_VALUE_MAX);
				return SQL_ERR_QUERY;
			}
			res->cells[i * ncols + j] = pool_strdup(pool,
			    PQgetvalue(pr, (int)i, (int)j));
		}
	}
	return SQL_OK;
}
