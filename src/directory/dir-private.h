/* dir-private: what dir.c shares with the backends (dir-sqlite.c,
 * dir-pgsql.c and dir-mysql.c). Nothing outside src/directory/ includes
 * this file.
 *
 * dir.c checks and normalizes every argument before it calls a backend:
 * domains are valid and lower-case, addresses are split (struct dir_addr),
 * numbers fit in an SQL BIGINT. A backend only runs its queries and turns
 * "no row" into a message for people. An admin operation left NULL makes
 * dir.c answer that the backend is read-only (an external PostfixAdmin
 * database, say). */
#ifndef POSTIE_DIR_PRIVATE_H
#define POSTIE_DIR_PRIVATE_H

#include "directory/dir.h"

#define DIR_ERROR_MAX	1024

/* A checked address. For SQL backends with configurable queries these are
 * %s, %u and %d. */
struct dir_addr {
	const char	*address;	/* local@domain; "@domain": catch-all */
	const char	*local;		/* case as given; "" for a catch-all */
	const char	*domain;	/* valid, lower-case */
};

struct dir_backend {
	const char	*name;	/* the directory_backend value */

	/* open() sets dir->priv; close() frees it. */
	int	(*open)(struct dir *dir, const char **error_r);
	void	(*close)(struct dir *dir);
	/* Optional, for backends whose admin operations depend on their
	 * configuration: NULL when this handle can run op (the name of its
	 * field below, "user_add"), else why not, from dir__error(). */
	const char *(*read_only)(struct dir *dir, const char *op);

	/* Lookups: 1 found, 0 not found, -1 failure with *error_r from pool. */
	int	(*domain_lookup)(struct dir *dir, const char *domain,
		    struct pool *pool, struct dir_domain *out,
		    const char **error_r);
	/* out->active is false when the user or its domain is inactive. */
	int	(*user_lookup)(struct dir *dir, const struct dir_addr *a,
		    struct pool *pool, struct dir_user *out,
		    const char **error_r);
	/* Active rows only, ordered by destination. */
	int	(*alias_lookup)(struct dir *dir, const struct dir_addr *source,
		    struct pool *pool, const char ***dests_r, size_t *ndests_r,
		    const char **error_r);

	/* Admin: one transaction each; 0 or -1 with *error_r from
	 * dir__error(). */
	int	(*domain_add)(struct dir *dir, const char *domain,
		    uint64_t max_message_size, const char **error_r);
	int	(*domain_del)(struct dir *dir, const char *domain,
		    const char **error_r);
	int	(*domain_set_active)(struct dir *dir, const char *domain,
		    bool active, const char **error_r);
	int	(*domain_list)(struct dir *dir, dir_domain_cb cb, void *ctx,
		    const char **error_r);
	int	(*user_add)(struct dir *dir, const struct dir_addr *a,
		    const char *hash, uint64_t quota_bytes,
		    const char **error_r);
	int	(*user_del)(struct dir *dir, const struct dir_addr *a,
		    const char **error_r);
	int	(*user_set_password)(struct dir *dir, const struct dir_addr *a,
		    const char *hash, const char **error_r);
	int	(*user_set_quota)(struct dir *dir, const struct dir_addr *a,
		    uint64_t quota_bytes, const char **error_r);
	int	(*user_set_active)(struct dir *dir, const struct dir_addr *a,
		    bool active, const char **error_r);
	/* domain NULL: every user. */
	int	(*user_list)(struct dir *dir, const char *domain,
		    dir_user_cb cb, void *ctx, const char **error_r);
	/* destination: a checked address or "@domain". */
	int	(*alias_add)(struct dir *dir, const struct dir_addr *source,
		    const char *destination, const char **error_r);
	/* destination NULL: every row of source. */
	int	(*alias_del)(struct dir *dir, const struct dir_addr *source,
		    const char *destination, const char **error_r);
	/* domain NULL: every alias. */
	int	(*alias_list)(struct dir *dir, const char *domain,
		    dir_alias_cb cb, void *ctx, const char **error_r);
};

struct dir {
	const struct dir_backend *backend;
	void			*priv;	/* the backend's connection */
	const struct config	*cfg;	/* borrowed: outlives the handle */
};

extern const struct dir_backend dir__backend_sqlite;
extern const struct dir_backend dir__backend_pgsql;
extern const struct dir_backend dir__backend_mysql;

/* Format a message for people into this thread's error buffer and return
 * it. It stays valid until the next failing directory call on the same
 * thread, so it outlives dir_close(). */
const char *dir__error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
