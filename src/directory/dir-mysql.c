/* dir-mysql: the MySQL/MariaDB directory backend (directory_backend =
 * mysql), a driver for dir-sql.c on libmariadb. Every statement is a
 * server-side prepared statement (mysql_stmt_prepare) kept for the life of
 * the connection, its parameters bound as strings: values never enter the
 * SQL text. Results are fetched whole (mysql_stmt_store_result) and each
 * column is read as a string of its actual length.
 *
 * The connection uses utf8mb4 and CLIENT_FOUND_ROWS, so an UPDATE that
 * sets a value it already has still counts its row (as PostgreSQL does).
 * Limits: connect, read and write timeouts on the socket (a query that
 * takes longer than sql_query_timeout loses its connection, which is then
 * reconnected), MariaDB's max_statement_time on the server, the caller's
 * row limit, and SQL_VALUE_MAX bytes per value. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "directory/dir-sql.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define MY_DEFAULT_PORT		3306

struct my_conn {
	MYSQL		*my;
	MYSQL_STMT	*stmts[SQL_Q_COUNT * SQL_MAX_STMTS];
};

static int	 my_connect(const struct sql_conn_args *a, void **conn_r,
		    char *err, size_t errlen);
static void	 my_close(void *conn);
static enum sql_rc my_run(void *conn, unsigned id, const struct sql_stmt *st,
		    const char *const *values, size_t max_rows,
		    struct pool *pool, struct sql_result *res, char *err,
		    size_t errlen);
static enum sql_rc my_command(void *conn, const char *sql, char *err,
		    size_t errlen);
static int	 my_open(struct dir *dir, const char **error_r);
static void	 library_init(void);
static MYSQL	*connect_host(const struct sql_conn_args *a,
		    const struct sql_host *h, char *err, size_t errlen);
static enum sql_rc classify(unsigned code);
static enum sql_rc stmt_failure(struct my_conn *c, unsigned id, char *err,
		    size_t errlen);
static enum sql_rc fetch_rows(MYSQL_STMT *stmt, MYSQL_RES *meta,
		    size_t max_rows, struct pool *pool, struct sql_result *res,
		    char *err, size_t errlen);

static pthread_once_t my_once = PTHREAD_ONCE_INIT;
static int my_init_rc;

const struct sql_driver sql_driver_mysql = {
	.name		= "mysql",
	.marker		= SQL_MARK_QMARK,
	.backslash	= true,
	.connect	= my_connect,
	.close		= my_close,
	.run		= my_run,
	.command	= my_command,
};

const struct dir_backend dir__backend_mysql = {
	.name			= "mysql",
	.open			= my_open,
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
my_open(struct dir *dir, const char **error_r)
{
	return dir__sql_open(dir, &sql_driver_mysql, error_r);
}

/* mysql_library_init() is not thread-safe: once per process. */
static void
library_init(void)
{
	my_init_rc = mysql_library_init(0, NULL, NULL);
}

static int
my_connect(const struct sql_conn_args *a, void **conn_r, char *err,
    size_t errlen)
{
	struct my_conn *c;
	MYSQL *my = NULL;
	size_t i;

	pthread_once(&my_once, library_init);
	if (my_init_rc != 0) {
		snprintf(err, errlen, "cannot initialize the client library");
		return -1;
	}
	for (i = 0; i < a->nhosts && my == NULL; i++)
		my = connect_host(a, &a->hosts[i], err, errlen);
	if (my == NULL)
		return -1;
	c = xmalloc(sizeof(*c));
	c->my = my;
	*conn_r = c;
	return 0;
}

static MYSQL *
connect_host(const struct sql_conn_args *a, const struct sql_host *h,
    char *err, size_t errlen)
{
	unsigned ctimeout = a->connect_timeout, qtimeout = a->query_timeout;
	unsigned protocol = h->socket != NULL ? MYSQL_PROTOCOL_SOCKET :
	    MYSQL_PROTOCOL_TCP;
	char set[64];
	my_bool no = 0;
	MYSQL *my;

	if ((my = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &ctimeout);
	mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &qtimeout);
	mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &qtimeout);
	mysql_options(my, MYSQL_OPT_PROTOCOL, &protocol);
	mysql_options(my, MYSQL_OPT_RECONNECT, &no);
	mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(my, MYSQL_OPT_LOCAL_INFILE, &no);
	if (mysql_real_connect(my, h->host,
	    *a->user != '\0' ? a->user : NULL,
	    *a->password != '\0' ? a->password : NULL,
	    *a->dbname != '\0' ? a->dbname : NULL,
	    h->port != 0 ? h->port : (h->socket != NULL ? 0 : MY_DEFAULT_PORT),
	    h->socket, CLIENT_FOUND_ROWS) == NULL) {
		snprintf(err, errlen, "%s", mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	/* MariaDB stops a statement on the server too; MySQL has no such
	 * variable for every statement, and the socket timeouts remain. */
	snprintf(set, sizeof(set), "SET SESSION max_statement_time = %u",
	    qtimeout);
	(void)mysql_query(my, set);
	return my;
}

static void
my_close(void *conn)
{
	struct my_conn *c = conn;
	size_t i;

	for (i = 0; i < SQL_Q_COUNT * SQL_MAX_STMTS; i++)
		if (c->stmts[i] != NULL)
			mysql_stmt_close(c->stmts[i]);
	mysql_close(c->my);
	free(c);
}

static enum sql_rc
my_run(void *conn, unsigned id, const struct sql_stmt *st,
    const char *const *values, size_t max_rows, struct pool *pool,
    struct sql_result *res, char *err, size_t errlen)
{
	struct my_conn *c = conn;
	MYSQL_BIND bind[SQL_MAX_PARAMS];
	unsigned long lens[SQL_MAX_PARAMS];
	MYSQL_STMT *stmt;
	MYSQL_RES *meta;
	my_ulonglong changes;
	enum sql_rc rc;
	size_t i;

	ASSERT(id < SQL_Q_COUNT * SQL_MAX_STMTS);
	memset(res, 0, sizeof(*res));
	if ((stmt = c->stmts[id]) == NULL) {
		if ((stmt = mysql_stmt_init(c->my)) == NULL) {
			snprintf(err, errlen, "%s", mysql_error(c->my));
			return classify(mysql_errno(c->my));
		}
		c->stmts[id] = stmt;
		if (mysql_stmt_prepare(stmt, st->sql, strlen(st->sql)) != 0)
			return stmt_failure(c, id, err, errlen);
		if (mysql_stmt_param_count(stmt) != st->nparams) {
			snprintf(err, errlen, "the statement has %lu "
			    "parameters, not %zu",
			    mysql_stmt_param_count(stmt), st->nparams);
			mysql_stmt_close(stmt);
			c->stmts[id] = NULL;
			return SQL_ERR_QUERY;
		}
	}
	memset(bind, 0, sizeof(bind));
	for (i = 0; i < st->nparams; i++) {
		lens[i] = (unsigned long)strlen(values[i]);
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = (void *)(uintptr_t)values[i];
		bind[i].buffer_length = lens[i];
		bind[i].length = &lens[i];
	}
	if ((st->nparams > 0 && mysql_stmt_bind_param(stmt, bind) != 0) ||
	    mysql_stmt_execute(stmt) != 0)
		return stmt_failure(c, id, err, errlen);
	if ((meta = mysql_stmt_result_metadata(stmt)) == NULL) {
		if (mysql_stmt_errno(stmt) != 0)
			return stmt_failure(c, id, err, errlen);
		changes = mysql_stmt_affected_rows(stmt);
		res->changes = changes == (my_ulonglong)-1 ? 0 :
		    (uint64_t)changes;
		return SQL_OK;
	}
	rc = fetch_rows(stmt, meta, max_rows, pool, res, err, errlen);
	mysql_free_result(meta);
	if (rc == SQL_ERR_CONN || mysql_stmt_free_result(stmt) != 0)
		return rc == SQL_OK ? stmt_failure(c, id, err, errlen) : rc;
	return rc;
}

/* Every row of the result that meta describes (the caller frees meta). */
static enum sql_rc
fetch_rows(MYSQL_STMT *stmt, MYSQL_RES *meta, size_t max_rows,
    struct pool *pool, struct sql_result *res, char *err, size_t errlen)
{
	MYSQL_FIELD *fields;
	MYSQL_BIND *bind;
	unsigned long *lens;
	my_bool *nulls;
	size_t ncols, nrows, i, j;
	char *cell;
	int frc;

	if (mysql_stmt_store_result(stmt) != 0) {
		snprintf(err, errlen, "%s", mysql_stmt_error(stmt));
		return classify(mysql_stmt_errno(stmt));
	}
	ncols = mysql_num_fields(meta);
	nrows = (size_t)mysql_stmt_num_rows(stmt);
	if (nrows > max_rows) {
		snprintf(err, errlen, "more than %zu rows", max_rows);
		return SQL_ERR_QUERY;
	}
	res->ncols = ncols;
	res->names = pool_alloc(pool, (ncols + 1) * sizeof(*res->names));
	fields = mysql_fetch_fields(meta);
	for (j = 0; j < ncols; j++)
		res->names[j] = pool_strdup(pool, fields[j].name);
	if (nrows == 0 || ncols == 0)
		return SQL_OK;
	res->cells = pool_alloc(pool, nrows * ncols * sizeof(*res->cells));
	bind = xcalloc(ncols, sizeof(*bind));
	lens = xcalloc(ncols, sizeof(*lens));
	nulls = xcalloc(ncols, sizeof(*nulls));
	/* No buffers: each fetch reports lengths, and every non-empty
	 * column is then read into a buffer of its own length. */
	for (j = 0; j < ncols; j++) {
		bind[j].buffer_type = MYSQL_TYPE_STRING;
		bind[j].length = &lens[j];
		bind[j].is_null = &nulls[j];
	}
	if (mysql_stmt_bind_result(stmt, bind) != 0) {
		snprintf(err, errlen, "%s", mysql_stmt_error(stmt));
		goto fail;
	}
	for (i = 0; i < nrows; i++) {
		frc = mysql_stmt_fetch(stmt);
		if (frc == MYSQL_NO_DATA)
			break;
		if (frc != 0 && frc != MYSQL_DATA_TRUNCATED) {
			snprintf(err, errlen, "%s", mysql_stmt_error(stmt));
			goto fail;
		}
		for (j = 0; j < ncols; j++) {
			if (nulls[j])
				continue;
			if (lens[j] > SQL_VALUE_MAX) {
				snprintf(err, errlen, "a value is longer "
				    "than %d bytes", SQL_VALUE_MAX);
				goto fail;
			}
			cell = pool_alloc(pool, lens[j] + 1);
			if (lens[j] > 0) {
				bind[j].buffer = cell;
				bind[j].buffer_length = lens[j] + 1;
				frc = mysql_stmt_fetch_column(stmt, &bind[j],
				    (unsigned)j, 0);
				bind[j].buffer = NULL;
				bind[j].buffer_length = 0;
				if (frc != 0) {
					snprintf(err, errlen, "%s",
					    mysql_stmt_error(stmt));
					goto fail;
				}
			}
			cell[lens[j]] = '\0';
			res->cells[i * ncols + j] = cell;
		}
	}
	res->nrows = i;
	free(bind);
	free(lens);
	free(nulls);
	return SQL_OK;
fail:
	free(bind);
	free(lens);
	free(nulls);
	return classify(mysql_stmt_errno(stmt));
}

static enum sql_rc
my_command(void *conn, const char *sql, char *err, size_t errlen)
{
	struct my_conn *c = conn;

	if (mysql_query(c->my, sql) != 0) {
		snprintf(err, errlen, "%s", mysql_error(c->my));
		return classify(mysql_errno(c->my));
	}
	return SQL_OK;
}

/* Client errors (2000-2999) and a server going down or killing the
 * session mean the connection is gone. */
static enum sql_rc
classify(unsigned code)
{
	if (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR)
		return SQL_ERR_CONN;
	switch (code) {
	case ER_DUP_ENTRY:
		return SQL_ERR_DUP;
	case ER_SERVER_SHUTDOWN:
	case ER_CONNECTION_KILLED:
	case ER_CON_COUNT_ERROR:
		return SQL_ERR_CONN;
	default:
		return SQL_ERR_QUERY;
	}
}

/* A failed statement: the reason, and a statement that may be broken is
 * closed (it is prepared again at its next use). */
static enum sql_rc
stmt_failure(struct my_conn *c, unsigned id, char *err, size_t errlen)
{
	MYSQL_STMT *stmt = c->stmts[id];
	unsigned code = mysql_stmt_errno(stmt);
	enum sql_rc rc;

	snprintf(err, errlen, "%s", *mysql_stmt_error(stmt) != '\0' ?
	    mysql_stmt_error(stmt) : "unknown error");
	rc = classify(code);
	mysql_stmt_close(stmt);
	c->stmts[id] = NULL;
	return rc;
}
