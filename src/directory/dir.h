/* dir: the directory of domains, users and aliases.
 *
 * A struct dir is one connection to a backend (SQLite, PostgreSQL or
 * MySQL/MariaDB) and is used by one thread at a time: protocol processes run
 * lookups on their offload threads, each with its own handle. Every call is
 * blocking. Lookups return 1 (found), 0 (not found) or -1 (temporary
 * failure, reason in *error_r); admin calls return 0 or -1.
 *
 * Addresses: the domain compares case-insensitively and is stored lower-case;
 * the local part keeps its case but matches case-insensitively. A source of
 * "@domain" is a catch-all alias. Strings returned by lookups (and their
 * *error_r) are allocated from the pool the caller passes; strings passed
 * to list callbacks live during the callback only. The *error_r of
 * dir_open() and of admin calls stays valid until the next failing
 * directory call on the same thread (it outlives dir_close()). */
#ifndef POSTIE_DIR_H
#define POSTIE_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/conf.h"
#include "lib/pool.h"

struct dir;

struct dir_domain {
	const char	*name;
	bool		 active;
	uint64_t	 max_message_size;	/* 0: the global limit */
};

struct dir_user {
	const char	*address;	/* as stored: the canonical case */
	const char	*password_hash;	/* crypt(3) string, maybe {SCHEME} */
	uint64_t	 quota_bytes;	/* 0: unlimited */
	bool		 active;
	const char	*maildir;	/* under mail_root, or NULL: the
					 * default <domain>/<localpart> */
};

struct dir_alias {
	const char	*source;
	const char	*destination;
};

typedef void (*dir_domain_cb)(const struct dir_domain *d, void *ctx);
typedef void (*dir_user_cb)(const struct dir_user *u, void *ctx);
typedef void (*dir_alias_cb)(const struct dir_alias *a, void *ctx);

/* Open the backend named by cfg->directory_backend; the SQLite file and its
 * schema are created when missing. */
int	dir_open(const struct config *cfg, struct dir **dir_r,
	    const char **error_r) __attribute__((warn_unused_result));
void	dir_close(struct dir **dir);

/* Lookups used by the protocols. */
int	dir_domain_lookup(struct dir *dir, const char *domain,
	    struct pool *pool, struct dir_domain *out, const char **error_r);
int	dir_user_lookup(struct dir *dir, const char *address,
	    struct pool *pool, struct dir_user *out, const char **error_r);
/* Destinations of one alias source (exact match, no expansion). Each entry
 * may itself hold a comma-separated list (as PostfixAdmin stores it). */
int	dir_alias_lookup(struct dir *dir, const char *source,
	    struct pool *pool, const char ***dests_r, size_t *ndests_r,
	    const char **error_r);

/* Admin changes, one transaction each. Errors are one line for people:
 * "domain already exists", "unknown domain example.org", ... */
int	dir_domain_add(struct dir *dir, const char *domain,
	    uint64_t max_message_size, const char **error_r);
int	dir_domain_del(struct dir *dir, const char *domain, const char **error_r);
int	dir_domain_set_active(struct dir *dir, const char *domain, bool active,
	    const char **error_r);
int	dir_domain_list(struct dir *dir, dir_domain_cb cb, void *ctx,
	    const char **error_r);
int	dir_user_add(struct dir *dir, const char *address, const char *hash,
	    uint64_t quota_bytes, const char **error_r);
int	dir_user_del(struct dir *dir, const char *address, const char **error_r);
int	dir_user_set_password(struct dir *dir, const char *address,
	    const char *hash, const char **error_r);
int	dir_user_set_quota(struct dir *dir, const char *address,
	    uint64_t quota_bytes, const char **error_r);
int	dir_user_set_active(struct dir *dir, const char *address, bool active,
	    const char **error_r);
/* domain NULL: every user. */
int	dir_user_list(struct dir *dir, const char *domain, dir_user_cb cb,
	    void *ctx, const char **error_r);
int	dir_alias_add(struct dir *dir, const char *source,
	    const char *destination, const char **error_r);
/* destination NULL: every destination of source. */
int	dir_alias_del(struct dir *dir, const char *source,
	    const char *destination, const char **error_r);
/* domain NULL: every alias. */
int	dir_alias_list(struct dir *dir, const char *domain, dir_alias_cb cb,
	    void *ctx, const char **error_r);

/*
 * Resolution: what an envelope recipient means. Order, for local domains:
 * an alias of the exact address, then a user; then, for user+ext@domain,
 * the same for user@domain; then the catch-all alias @domain. Alias targets
 * are expanded again (nested aliases) up to cfg->alias_max_depth; an alias
 * that names its own source, when that source is also a user, delivers to
 * that user's mailbox (the "keep a copy" idiom). A target of "@other" in a
 * catch-all maps local@domain to local@other. Inactive users and domains
 * are unknown.
 */
enum dir_status {
	DIR_OK,		/* targets[] holds at least one destination */
	DIR_UNKNOWN,	/* local domain, no such user: 550 5.1.1 */
	DIR_LOOP,	/* alias loop or depth exceeded: 5.4.6 */
	DIR_TOO_MANY,	/* more than alias_max_targets destinations */
	DIR_TEMPFAIL,	/* backend failure: try again later */
};

enum dir_target_kind {
	DIR_TARGET_MAILBOX,	/* a local user: deliver into its Maildir */
	DIR_TARGET_REMOTE,	/* a non-local address: relay */
};

struct dir_target {
	enum dir_target_kind	 kind;
	const char		*address;	/* user's canonical address or the remote one */
	const char		*extension;	/* "tag" of user+tag, or NULL */
};

struct dir_resolution {
	enum dir_status		 status;
	bool			 local_domain;	/* the input's domain is ours */
	bool			 aliased;	/* an alias was expanded */
	struct dir_target	*targets;	/* from the pool */
	size_t			 ntargets;
	const char		*error;		/* for DIR_TEMPFAIL / DIR_LOOP */
};

/* 0 with res->status set; -1 when address is not an address (res->error
 * says why, status DIR_UNKNOWN). */
int	dir_resolve(struct dir *dir, const struct config *cfg,
	    const char *address, struct pool *pool,
	    struct dir_resolution *res);

/* The thread context of an offload pool whose threads use the directory:
 * offload_new(base, n, dir_thread_init, dir_thread_deinit, cfg). Each
 * thread opens its own handle on first use; NULL and *error_r when that
 * fails (the next call tries again). */
void	*dir_thread_init(void *cfg);
void	 dir_thread_deinit(void *thread_ctx);
struct dir *dir_thread_get(void *thread_ctx, const char **error_r);

/* <mail_root>/<domain>/<localpart> of a user's canonical address; NULL if
 * the address could leave mail_root. */
char	*dir_maildir_path(const struct config *cfg, const char *address,
	    struct pool *pool);
/* The Maildir of a user found by dir_user_lookup(): its own maildir
 * (relative to mail_root, as PostfixAdmin stores "domain/user/") when the
 * directory has one, else dir_maildir_path(); NULL if either could leave
 * mail_root. */
char	*dir_user_maildir(const struct config *cfg, const struct dir_user *u,
	    struct pool *pool);

#endif
