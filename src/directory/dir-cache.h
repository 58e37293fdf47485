/* dir-cache: a lookup cache with time limits, shared by the threads of a
 * process (it has its own mutex). The SQL backends keep their lookups in
 * it, so that every RCPT and login does not cost a query, and so that a
 * database that is restarting does not refuse mail that it knew about.
 *
 * An entry is a key (a kind letter and the bound values: "u:a@b.example")
 * and either "not found" or a short list of strings. It is fresh for ttl
 * seconds (negative_ttl when not found); a found entry then stays usable
 * as stale for stale_ttl seconds from its creation, for when the database
 * cannot answer. At most max_entries are kept (the least recently used
 * goes first), and an entry larger than DIR_CACHE_ENTRY_MAX bytes is not
 * kept at all. Times are milliseconds of a monotonic clock, passed in so
 * that tests can move them. */
#ifndef POSTIE_DIR_CACHE_H
#define POSTIE_DIR_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/pool.h"

#define DIR_CACHE_ENTRY_MAX	(64 * 1024)

struct dir_cache;

enum dir_cache_hit {
	DIR_CACHE_MISS,
	DIR_CACHE_FRESH,
	DIR_CACHE_STALE,	/* expired, usable only when the source fails */
};

struct dir_cache *dir_cache_new(size_t max_entries, uint64_t ttl_ms,
		    uint64_t negative_ttl_ms, uint64_t stale_ttl_ms);
void		 dir_cache_free(struct dir_cache **c);

/* Look key up at time now. On a hit, *found_r and, when found, the values
 * copied into pool. stale_ok: also return a stale entry. */
enum dir_cache_hit dir_cache_get(struct dir_cache *c, const char *key,
		    uint64_t now, bool stale_ok, struct pool *pool,
		    bool *found_r, const char ***vals_r, size_t *nvals_r);
/* Store (or replace) key: found with its values, or not found. */
void		 dir_cache_put(struct dir_cache *c, const char *key,
		    uint64_t now, bool found, const char *const *vals,
		    size_t nvals);
/* Forget everything (after an admin change). */
void		 dir_cache_clear(struct dir_cache *c);
size_t		 dir_cache_count(struct dir_cache *c);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t	 dir_cache_now(void);

#endif
