/* dir-sql: what the SQL directory backends share (dir-pgsql.c, dir-mysql.c
 * on top of dir-sql.c). Nothing outside src/directory/ includes this file.
 *
 * Every lookup and admin change is a configurable query (sql_*_query, or
 * the one the query set sql_query_set provides). A query is compiled once
 * per handle: its placeholders (%s address, %u local part, %d domain, and
 * for admin changes %p hash, %q quota, %a active, %m size, %t destination)
 * become the driver's parameter markers ($1 or ?), so every value is a
 * bound parameter of a prepared statement and never part of the SQL text.
 * A query may hold several statements separated by ';', which an admin
 * change runs in one transaction.
 *
 * A driver connects, prepares, binds, runs and returns whole result sets;
 * dir-sql.c does the rest (reconnection with back-off, the lookup cache,
 * the admin logic and its messages). */
#ifndef POSTIE_DIR_SQL_H
#define POSTIE_DIR_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory/dir-private.h"

#define SQL_QUERY_MAX		4096	/* bytes of query text */
#define SQL_MAX_STMTS		8	/* statements in one query */
#define SQL_MAX_PARAMS		16	/* placeholders in one statement */
#define SQL_LOOKUP_MAX_ROWS	10000	/* rows of one lookup */
#define SQL_LIST_MAX_ROWS	1000000	/* rows of one list */
#define SQL_VALUE_MAX		65536	/* bytes of one returned value */
#define SQL_ERR_MAX		512

/* Placeholders. */
enum sql_param {
	SQL_P_ADDRESS,	/* %s */
	SQL_P_LOCAL,	/* %u */
	SQL_P_DOMAIN,	/* %d */
	SQL_P_HASH,	/* %p */
	SQL_P_QUOTA,	/* %q: decimal bytes */
	SQL_P_ACTIVE,	/* %a: 1 or 0 */
	SQL_P_SIZE,	/* %m: decimal bytes */
	SQL_P_TARGET,	/* %t: an alias destination */
	SQL_P_COUNT
};

#define SQL_PBIT(p)	(1u << (p))
#define SQL_PARAMS_LOOKUP \
	(SQL_PBIT(SQL_P_ADDRESS) | SQL_PBIT(SQL_P_LOCAL) | SQL_PBIT(SQL_P_DOMAIN))

/* Parameter markers of the driver. */
enum sql_marker {
	SQL_MARK_DOLLAR,	/* PostgreSQL: $1, $2, ... */
	SQL_MARK_QMARK,		/* MySQL: ? */
};

struct sql_stmt {
	char		*sql;				/* heap */
	enum sql_param	 params[SQL_MAX_PARAMS];	/* marker order */
	size_t		 nparams;
};

struct sql_query {
	struct sql_stmt	 stmts[SQL_MAX_STMTS];
	size_t		 nstmts;	/* 0: not configured */
};

/* Compile text into q. allowed: SQL_PBIT()s of the placeholders this query
 * may use. Rules: "%%" is a '%'; a placeholder may stand alone inside
 * quotes ('%s', as Postfix queries write it) but not inside a longer
 * string literal; the driver's own markers ($n, ?) are refused outside
 * literals; ';' outside literals and comments separates statements.
 * backslash: a backslash escapes the next character in literals (MySQL).
 * -1 with a message in errbuf. */
int	sql_query_compile(const char *text, enum sql_marker marker,
	    bool backslash, unsigned allowed, struct sql_query *q,
	    char *errbuf, size_t errlen);
void	sql_query_free(struct sql_query *q);

/* The named queries. */
enum sql_q {
	SQL_Q_DOMAIN,
	SQL_Q_USER,
	SQL_Q_ALIAS,
	SQL_Q_DOMAIN_ADD,
	SQL_Q_DOMAIN_DEL,
	SQL_Q_DOMAIN_ACTIVE,
	SQL_Q_DOMAIN_LIST,
	SQL_Q_USER_ADD,
	SQL_Q_USER_DEL,
	SQL_Q_USER_PASSWORD,
	SQL_Q_USER_QUOTA,
	SQL_Q_USER_ACTIVE,
	SQL_Q_USER_LIST,
	SQL_Q_ALIAS_ADD,
	SQL_Q_ALIAS_DEL,
	SQL_Q_ALIAS_LIST,
	SQL_Q_COUNT
};

/* The config key of a query ("sql_user_query") and the placeholders it may
 * use. */
const char *sql_q_key(enum sql_q q);
unsigned    sql_q_allowed(enum sql_q q);

/* The text of every query for this configuration and driver ("pgsql",
 * "mysql"): a non-empty sql_*_query key, else the query set's; NULL for
 * none. -1 with a message when a needed query is missing. */
int	sql_queries_select(const struct config *cfg, const char *driver,
	    const char *texts[SQL_Q_COUNT], char *errbuf, size_t errlen);

/* A result set, copied into a pool by the driver. */
struct sql_result {
	size_t		  nrows, ncols;
	const char	**names;	/* ncols column names */
	const char	**cells;	/* row-major; NULL for SQL NULL */
	uint64_t	  changes;	/* rows an INSERT/UPDATE/DELETE matched */
};

enum sql_rc {
	SQL_OK,
	SQL_ERR_QUERY,	/* the statement failed; the connection is fine */
	SQL_ERR_DUP,	/* a unique key was violated */
	SQL_ERR_CONN,	/* the connection is gone (or timed out): close it */
};

/* Where and how to connect, from the configuration. */
struct sql_host {
	char		*host;		/* NULL for a unix socket */
	char		*socket;	/* path, or NULL */
	unsigned	 port;		/* 0: the driver's default */
};

struct sql_conn_args {
	const struct sql_host	*hosts;
	size_t			 nhosts;
	const char		*dbname;	/* "" for the default */
	const char		*user;
	const char		*password;
	unsigned		 connect_timeout;	/* seconds */
	unsigned		 query_timeout;		/* seconds */
};

struct sql_driver {
	const char	*name;		/* "pgsql", "mysql" */
	enum sql_marker	 marker;
	bool		 backslash;	/* backslash escapes in literals */

	/* Connect to the first host that answers. */
	int		(*connect)(const struct sql_conn_args *a,
			    void **conn_r, char *err, size_t errlen);
	void		(*close)(void *conn);
	/* Run statement id (prepared on this connection at its first use)
	 * with its parameters; rows go to res from pool (at most max_rows). */
	enum sql_rc	(*run)(void *conn, unsigned id,
			    const struct sql_stmt *st,
			    const char *const *values, size_t max_rows,
			    struct pool *pool, struct sql_result *res,
			    char *err, size_t errlen);
	/* BEGIN, COMMIT, ROLLBACK. */
	enum sql_rc	(*command)(void *conn, const char *sql, char *err,
			    size_t errlen);
};

extern const struct sql_driver sql_driver_pgsql;
extern const struct sql_driver sql_driver_mysql;

/* dir-sql.c: the backend operations for a driver. A driver's file fills
 * its struct dir_backend with these and an open() that calls
 * dir__sql_open(). */
int	dir__sql_open(struct dir *dir, const struct sql_driver *drv,
	    const char **error_r);
void	dir__sql_close(struct dir *dir);
const char *dir__sql_read_only(struct dir *dir, const char *op);
int	dir__sql_domain_lookup(struct dir *dir, const char *domain,
	    struct pool *pool, struct dir_domain *out, const char **error_r);
int	dir__sql_user_lookup(struct dir *dir, const struct dir_addr *a,
	    struct pool *pool, struct dir_user *out, const char **error_r);
int	dir__sql_alias_lookup(struct dir *dir, const struct dir_addr *source,
	    struct pool *pool, const char ***dests_r, size_t *ndests_r,
	    const char **error_r);
int	dir__sql_domain_add(struct dir *dir, const char *domain,
	    uint64_t max_message_size, const char **error_r);
int	dir__sql_domain_del(struct dir *dir, const char *domain,
	    const char **error_r);
int	dir__sql_domain_set_active(struct dir *dir, const char *domain,
	    bool active, const char **error_r);
int	dir__sql_domain_list(struct dir *dir, dir_domain_cb cb, void *ctx,
	    const char **error_r);
int	dir__sql_user_add(struct dir *dir, const struct dir_addr *a,
	    const char *hash, uint64_t quota_bytes, const char **error_r);
int	dir__sql_user_del(struct dir *dir, const struct dir_addr *a,
	    const char **error_r);
int	dir__sql_user_set_password(struct dir *dir, const struct dir_addr *a,
	    const char *hash, const char **error_r);
int	dir__sql_user_set_quota(struct dir *dir, const struct dir_addr *a,
	    uint64_t quota_bytes, const char **error_r);
int	dir__sql_user_set_active(struct dir *dir, const struct dir_addr *a,
	    bool active, const char **error_r);
int	dir__sql_user_list(struct dir *dir, const char *domain,
	    dir_user_cb cb, void *ctx, const char **error_r);
int	dir__sql_alias_add(struct dir *dir, const struct dir_addr *source,
	    const char *destination, const char **error_r);
int	dir__sql_alias_del(struct dir *dir, const struct dir_addr *source,
	    const char *destination, const char **error_r);
int	dir__sql_alias_list(struct dir *dir, const char *domain,
	    dir_alias_cb cb, void *ctx, const char **error_r);

/* dir-sql.c internals, shared with dir-sql-admin.c. */
struct sql_handle {
	const struct sql_driver	*drv;
	const struct config	*cfg;	/* borrowed: outlives the handle */
	struct sql_host		*hosts;
	size_t			 nhosts;
	struct sql_conn_args	 args;	/* points into cfg and hosts */
	/* nstmts 0: the query set has none */
	struct sql_query	 queries[SQL_Q_COUNT];
	void			*conn;	/* NULL: not connected */
	uint64_t		 next_try;	/* ms: no attempt before */
	uint64_t		 backoff;	/* ms; 0: attempts are free */
	unsigned		 failures;	/* failed since the loss */
	bool			 lost;	/* a working connection went away */
	char			 error[SQL_ERR_MAX];	/* why connecting failed */
};

/* The bound values of one query: SQL_P_* -> text (NULL: not given). */
struct sql_vals {
	const char	*v[SQL_P_COUNT];
};

/* Run query q (every statement; the result of the last one, changes
 * added up). retry: after a lost connection, reconnect and run it once
 * more (read-only queries only). err gets "<key>: <reason>". */
enum sql_rc sql__run(struct sql_handle *h, enum sql_q q,
	    const struct sql_vals *vals, size_t max_rows, bool retry,
	    struct pool *pool, struct sql_result *res, char *err,
	    size_t errlen);
/* BEGIN, COMMIT, ROLLBACK on the connection (BEGIN connects first). */
enum sql_rc sql__command(struct sql_handle *h, const char *sql, char *err,
	    size_t errlen);
/* %s, %u, %d of an address, lower-cased, from pool. */
void	sql__addr_vals(struct sql_vals *v, const struct dir_addr *a,
	    struct pool *pool);
/* The value of column name of row (or of column fallback when there is
 * no such column; fallback -1: none); *present_r: a column was found. */
const char *sql__col(const struct sql_result *r, size_t row,
	    const char *name, int fallback, bool *present_r);
/* Lookups with or without the cache (admin checks read the database). */
int	sql__domain_get(struct sql_handle *h, const char *domain, bool cached,
	    struct pool *pool, struct dir_domain *out, const char **error_r);
int	sql__user_get(struct sql_handle *h, const struct dir_addr *a,
	    bool cached, struct pool *pool, struct dir_user *out,
	    const char **error_r);
int	sql__alias_get(struct sql_handle *h, const struct dir_addr *a,
	    bool cached, struct pool *pool, const char ***dests_r,
	    size_t *ndests_r, const char **error_r);
/* Forget every cached lookup of this process (after an admin change). */
void	sql__cache_clear(void);

/* Parse sql_hosts entries: "host", "host:port", "[v6]:port",
 * "unix:/path". -1 with a message. */
int	sql_hosts_parse(const struct strv *in, struct sql_host **hosts_r,
	    size_t *nhosts_r, char *errbuf, size_t errlen);
void	sql_hosts_free(struct sql_host *hosts, size_t nhosts);

/* "1", "t", "true", "y", "yes", "on" (any case) are true; anything else,
 * and SQL NULL, is false. */
bool	sql_value_true(const char *v);

#endif
