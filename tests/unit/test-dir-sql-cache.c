/* test-dir-sql-cache: the lookup cache of the SQL backends (dir-cache.c):
 * fresh and negative lifetimes, stale entries only on demand and only for
 * found ones, replacement, least-recently-used eviction at the size
 * limit, oversized entries, clearing, a disabled cache, and threads
 * sharing one cache. Times are passed in, so nothing sleeps. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "directory/dir-cache.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

#define TTL	60000
#define NEG	10000
#define STALE	3600000

struct got {
	enum dir_cache_hit	 hit;
	bool			 found;
	const char		**vals;
	size_t			 nvals;
};

static struct got
get(struct dir_cache *c, const char *key, uint64_t now, bool stale,
    struct pool *pool)
{
	struct got g;

	g.hit = dir_cache_get(c, key, now, stale, pool, &g.found, &g.vals,
	    &g.nvals);
	return g;
}

static void
test_found_entries_are_fresh_for_ttl_then_stale(void **state)
{
	struct dir_cache *c = dir_cache_new(100, TTL, NEG, STALE);
	const char *vals[] = { "alice@example.test", "$6$x", "0", "1", "" };
	struct pool *pool = pool_new(NULL);
	struct got g;

	(void)state;
	assert_int_equal(get(c, "u:alice@example.test", 1000, true,
	    pool).hit, DIR_CACHE_MISS);
	dir_cache_put(c, "u:alice@example.test", 1000, true, vals, 5);
	g = get(c, "u:alice@example.test", 1000 + TTL - 1, false, pool);
	assert_int_equal(g.hit, DIR_CACHE_FRESH);
	assert_true(g.found);
	assert_int_equal(g.nvals, 5);
	assert_string_equal(g.vals[0], "alice@example.test");
	assert_string_equal(g.vals[1], "$6$x");
	assert_string_equal(g.vals[4], "");
	/* Expired: a miss unless the caller asks for stale answers (the
	 * database failed), and then only until STALE. */
	assert_int_equal(get(c, "u:alice@example.test", 1000 + TTL, false,
	    pool).hit, DIR_CACHE_MISS);
	g = get(c, "u:alice@example.test", 1000 + TTL, true, pool);
	assert_int_equal(g.hit, DIR_CACHE_STALE);
	assert_string_equal(g.vals[0], "alice@example.test");
	assert_int_equal(get(c, "u:alice@example.test", 1000 + STALE, true,
	    pool).hit, DIR_CACHE_MISS);
	assert_int_equal(dir_cache_count(c), 0);
	pool_free(&pool);
	dir_cache_free(&c);
	assert_null(c);
}

static void
test_not_found_is_fresh_for_negative_ttl_and_never_stale(void **state)
{
	struct dir_cache *c = dir_cache_new(100, TTL, NEG, STALE);
	struct pool *pool = pool_new(NULL);
	struct got g;

	(void)state;
	dir_cache_put(c, "u:nobody@example.test", 0, false, NULL, 0);
	g = get(c, "u:nobody@example.test", NEG - 1, false, pool);
	assert_int_equal(g.hit, DIR_CACHE_FRESH);
	assert_false(g.found);
	assert_int_equal(g.nvals, 0);
	/* "Unknown" from the past must never answer for a database that
	 * is down: that would refuse mail (550) instead of deferring it. */
	assert_int_equal(get(c, "u:nobody@example.test", NEG, true,
	    pool).hit, DIR_CACHE_MISS);
	pool_free(&pool);
	dir_cache_free(&c);
}

static void
test_put_replaces_and_keys_are_exact(void **state)
{
	struct dir_cache *c = dir_cache_new(100, TTL, NEG, STALE);
	const char *a[] = { "a@x" }, *b[] = { "b@x", "c@x" };
	struct pool *pool = pool_new(NULL);
	struct got g;

	(void)state;
	dir_cache_put(c, "a:info@x", 0, true, a, 1);
	dir_cache_put(c, "a:info@x", 5, true, b, 2);
	assert_int_equal(dir_cache_count(c), 1);
	g = get(c, "a:info@x", 10, false, pool);
	assert_int_equal(g.nvals, 2);
	assert_string_equal(g.vals[1], "c@x");
	/* The kind is part of the key; nothing is folded here. */
	assert_int_equal(get(c, "u:info@x", 10, false, pool).hit,
	    DIR_CACHE_MISS);
	assert_int_equal(get(c, "a:INFO@x", 10, false, pool).hit,
	    DIR_CACHE_MISS);
	/* A clock that goes back is age 0, not a huge age. */
	assert_int_equal(get(c, "a:info@x", 1, false, pool).hit,
	    DIR_CACHE_FRESH);
	pool_free(&pool);
	dir_cache_free(&c);
}

static void
test_least_recently_used_goes_first(void **state)
{
	struct dir_cache *c = dir_cache_new(3, TTL, NEG, STALE);
	struct pool *pool = pool_new(NULL);
	const char *v[] = { "1" };

	(void)state;
	dir_cache_put(c, "d:a", 0, true, v, 1);
	dir_cache_put(c, "d:b", 1, true, v, 1);
	dir_cache_put(c, "d:c", 2, true, v, 1);
	/* a is used again; b is now the oldest in use. */
	assert_int_equal(get(c, "d:a", 3, false, pool).hit, DIR_CACHE_FRESH);
	dir_cache_put(c, "d:d", 4, true, v, 1);
	assert_int_equal(dir_cache_count(c), 3);
	assert_int_equal(get(c, "d:b", 5, false, pool).hit, DIR_CACHE_MISS);
	assert_int_equal(get(c, "d:a", 5, false, pool).hit, DIR_CACHE_FRESH);
	assert_int_equal(get(c, "d:c", 5, false, pool).hit, DIR_CACHE_FRESH);
	assert_int_equal(get(c, "d:d", 5, false, pool).hit, DIR_CACHE_FRESH);
	dir_cache_clear(c);
	assert_int_equal(dir_cache_count(c), 0);
	assert_int_equal(get(c, "d:a", 5, false, pool).hit, DIR_CACHE_MISS);
	pool_free(&pool);
	dir_cache_free(&c);
}

static void
test_oversized_entries_and_disabled_caches_keep_nothing(void **state)
{
	struct dir_cache *c = dir_cache_new(10, TTL, NEG, STALE);
	struct pool *pool = pool_new(NULL);
	char *big = xmalloc(DIR_CACHE_ENTRY_MAX + 1);
	const char *v[] = { big };

	(void)state;
	memset(big, 'x', DIR_CACHE_ENTRY_MAX);
	dir_cache_put(c, "a:big@x", 0, true, v, 1);
	assert_int_equal(dir_cache_count(c), 0);
	dir_cache_free(&c);

	c = dir_cache_new(0, TTL, NEG, STALE);
	dir_cache_put(c, "d:x", 0, true, NULL, 0);
	assert_int_equal(dir_cache_count(c), 0);
	dir_cache_free(&c);

	/* No negative lifetime: not-found is not kept, found is. */
	c = dir_cache_new(10, TTL, 0, 0);
	dir_cache_put(c, "d:x", 0, false, NULL, 0);
	assert_int_equal(dir_cache_count(c), 0);
	dir_cache_put(c, "d:y", 0, true, NULL, 0);
	assert_int_equal(dir_cache_count(c), 1);
	assert_int_equal(get(c, "d:y", TTL, true, pool).hit, DIR_CACHE_MISS);
	dir_cache_free(&c);
	free(big);
	pool_free(&pool);
}

#define NTHREADS	4
#define PER_THREAD	2000

static void *
hammer(void *arg)
{
	struct dir_cache *c = arg;
	struct pool *pool = pool_new(NULL);
	const char *v[2];
	char key[32], val[32];
	bool found;
	const char **vals;
	size_t n, i;

	for (i = 0; i < PER_THREAD; i++) {
		snprintf(key, sizeof(key), "u:%zu", i % 300);
		snprintf(val, sizeof(val), "%zu", i % 300);
		v[0] = val;
		v[1] = key;
		dir_cache_put(c, key, i, true, v, 2);
		if (dir_cache_get(c, key, i, false, pool, &found, &vals,
		    &n) != DIR_CACHE_MISS) {
			/* Whoever wrote it last, it is whole. */
			if (n != 2 || strcmp(vals[1], key) != 0 ||
			    strcmp(vals[0], val) != 0)
				abort();
		}
	}
	pool_free(&pool);
	return NULL;
}

static void
test_threads_share_one_cache(void **state)
{
	struct dir_cache *c = dir_cache_new(100, TTL, NEG, STALE);
	pthread_t t[NTHREADS];
	size_t i;

	(void)state;
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, c), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	assert_true(dir_cache_count(c) <= 100);
	dir_cache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_found_entries_are_fresh_for_ttl_then_stale),
		cmocka_unit_test(
		    test_not_found_is_fresh_for_negative_ttl_and_never_stale),
		cmocka_unit_test(test_put_replaces_and_keys_are_exact),
		cmocka_unit_test(test_least_recently_used_goes_first),
		cmocka_unit_test(
		    test_oversized_entries_and_disabled_caches_keep_nothing),
		cmocka_unit_test(test_threads_share_one_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
