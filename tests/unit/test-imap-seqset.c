/* test-imap-seqset: imap/seqset.c. Parsing (every error text), "*" kept
 * until resolved, resolving (n:m turned around, sorted, merged, "*" of an
 * empty mailbox, UID ranges above the highest UID), membership, counting,
 * iteration, the range limit, building uid-sets for COPYUID in order, and
 * formatting, with sets in a pool and on the heap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"
#include "lib/buf.h"
#include "lib/pool.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

struct parse_case {
	const char	*in;
	const char	*out;		/* formatted as parsed; NULL: error */
	const char	*error;
};

struct resolve_case {
	const char	*in;
	uint32_t	 max;
	const char	*out;		/* formatted after resolving */
	uint64_t	 count;
};

static void	 format_is(const struct imap_seqset *set, const char *want);
static void	 test_parse(void **state);
static void	 test_resolve(void **state);
static void	 test_contains(void **state);
static void	 test_iterate(void **state);
static void	 test_range_limit(void **state);
static void	 test_build(void **state);
static void	 test_heap(void **state);

static void
format_is(const struct imap_seqset *set, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(imap_seqset_format(set, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_deinit(&b);
}

static const struct parse_case parse_cases[] = {
	{ "1", "1", NULL },
	{ "1,3:5,7:*", "1,3:5,7:*", NULL },
	{ "*", "*", NULL },
	{ "*:4", "*:4", NULL },
	{ "5:3", "5:3", NULL },
	{ "4294967295", "4294967295", NULL },
	{ "1:4294967295", "1:4294967295", NULL },
	{ "2,2,2", "2,2,2", NULL },
	{ "", NULL, "Invalid sequence set: empty" },
	{ "0", NULL, "Invalid sequence set: numbers start at 1" },
	{ "1:0", NULL, "Invalid sequence set: numbers start at 1" },
	{ "01", NULL, "Invalid sequence set: numbers start at 1" },
	{ "4294967296", NULL, "Invalid sequence set: number too large" },
	{ "99999999999999999999999", NULL,
	  "Invalid sequence set: number too large" },
	{ "$", NULL, "Invalid sequence set: $ (SEARCHRES) is not supported" },
	{ "1,$", NULL,
	  "Invalid sequence set: $ (SEARCHRES) is not supported" },
	{ "1,", NULL, "Invalid sequence set" },
	{ ",1", NULL, "Invalid sequence set" },
	{ "1:", NULL, "Invalid sequence set" },
	{ ":1", NULL, "Invalid sequence set" },
	{ "1:2:3", NULL, "Invalid sequence set" },
	{ "1;2", NULL, "Invalid sequence set" },
	{ "1 2", NULL, "Invalid sequence set" },
	{ "a", NULL, "Invalid sequence set" },
	{ "**", NULL, "Invalid sequence set" },
	{ "-1", NULL, "Invalid sequence set" },
	{ "+1", NULL, "Invalid sequence set" },
};

static void
test_parse(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct imap_seqset set;
	const char *error;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		imap_seqset_init(&set, pool, 0);
		error = NULL;
		r = imap_seqset_parse(&set, c->in, strlen(c->in), &error);
		if (c->out != NULL) {
			if (r != 0)
				print_error("\"%s\": %s\n", c->in, error);
			assert_int_equal(r, 0);
			format_is(&set, c->out);
			assert_true(imap_seqset_syntax_ok(c->in,
			    strlen(c->in)));
			assert_int_equal(imap_seqset_has_star(&set),
			    strchr(c->in, '*') != NULL);
		} else {
			if (r != -1)
				print_error("\"%s\" parsed\n", c->in);
			assert_int_equal(r, -1);
			assert_string_equal(error, c->error);
			assert_false(imap_seqset_syntax_ok(c->in,
			    strlen(c->in)));
		}
	}
	/* ALL, a search key, is not a set. */
	assert_false(imap_seqset_syntax_ok("ALL", 3));
	/* Not NUL-terminated: only len octets count. */
	imap_seqset_init(&set, pool, 0);
	assert_int_equal(imap_seqset_parse(&set, "12,x", 2, &error), 0);
	format_is(&set, "12");
	pool_free(&pool);
}

static const struct resolve_case resolve_cases[] = {
	{ "1", 10, "1", 1 },
	{ "1,3:5,7:*", 10, "1,3:5,7:10", 8 },
	{ "*", 10, "10", 1 },
	{ "*:4", 10, "4:10", 7 },
	{ "5:3", 10, "3:5", 3 },
	{ "7,1,3", 10, "1,3,7", 3 },
	{ "1:3,2:6", 10, "1:6", 6 },
	{ "1:3,4:6", 10, "1:6", 6 },
	{ "1:3,5:6", 10, "1:3,5:6", 5 },
	{ "2,2,2", 10, "2", 1 },
	{ "8:9,1:2,*", 10, "1:2,8:10", 5 },
	/* RFC 3501: "559:*" includes the last UID even below 559. */
	{ "559:*", 400, "400:559", 160 },
	{ "20", 10, "20", 1 },
	/* An empty mailbox. */
	{ "*", 0, "", 0 },
	{ "5:*", 0, "1:5", 5 },
	{ "1:4294967295,7", 5, "1:4294967295", 4294967295ull },
	{ "4294967295,1:4294967294", 5, "1:4294967295", 4294967295ull },
	{ "4294967295:*", 4294967295u, "4294967295", 1 },
};

static void
test_resolve(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct imap_seqset set, res;
	const char *error;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]);
	    i++) {
		const struct resolve_case *c = &resolve_cases[i];

		imap_seqset_init(&set, pool, 0);
		imap_seqset_init(&res, pool, 0);
		assert_int_equal(imap_seqset_parse(&set, c->in, strlen(c->in),
		    &error), 0);
		imap_seqset_resolve(&set, c->max, &res);
		assert_true(res.resolved);
		format_is(&res, c->out);
		assert_int_equal(imap_seqset_count(&res), c->count);
		/* The source keeps its star; resolving in place works. */
		assert_false(set.resolved);
		imap_seqset_resolve(&set, c->max, &set);
		format_is(&set, c->out);
	}
	pool_free(&pool);
}

static void
test_contains(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct imap_seqset set;
	const char *error;
	uint32_t n;

	(void)state;
	imap_seqset_init(&set, pool, 0);
	assert_int_equal(imap_seqset_parse(&set, "9:7,1,3:4,20:*,100", 18,
	    &error), 0);
	imap_seqset_resolve(&set, 30, &set);
	format_is(&set, "1,3:4,7:9,20:30,100");
	for (n = 0; n < 120; n++)
		assert_int_equal(imap_seqset_contains(&set, n),
		    n == 1 || n == 3 || n == 4 || (n >= 7 && n <= 9) ||
		    (n >= 20 && n <= 30) || n == 100);
	assert_false(imap_seqset_contains(&set, UINT32_MAX));
	assert_int_equal(imap_seqset_first(&set), 1);
	assert_int_equal(imap_seqset_last(&set), 100);

	imap_seqset_init(&set, pool, 0);
	imap_seqset_resolve(&set, 10, &set);
	assert_false(imap_seqset_contains(&set, 1));
	assert_int_equal(imap_seqset_first(&set), 0);
	assert_int_equal(imap_seqset_last(&set), 0);
	assert_int_equal(imap_seqset_count(&set), 0);
	pool_free(&pool);
}

static void
test_iterate(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct imap_seqset set;
	const char *error;
	uint64_t cursor = 0;
	uint32_t n, seen[16];
	size_t k = 0;

	(void)state;
	imap_seqset_init(&set, pool, 0);
	assert_int_equal(imap_seqset_parse(&set, "9:7,1,3:4", 9, &error), 0);
	imap_seqset_resolve(&set, 10, &set);
	while (imap_seqset_next(&set, &cursor, &n)) {
		assert_true(k < 16);
		seen[k++] = n;
	}
	assert_int_equal(k, 6);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[2], 4);
	assert_int_equal(seen[3], 7);
	assert_int_equal(seen[4], 8);
	assert_int_equal(seen[5], 9);
	assert_false(imap_seqset_next(&set, &cursor, &n));

	/* The top of the number space does not wrap. */
	imap_seqset_init(&set, pool, 0);
	assert_int_equal(imap_seqset_parse(&set, "4294967294:*", 12, &error),
	    0);
	imap_seqset_resolve(&set, UINT32_MAX, &set);
	cursor = 0;
	assert_true(imap_seqset_next(&set, &cursor, &n));
	assert_int_equal(n, 4294967294u);
	assert_true(imap_seqset_next(&set, &cursor, &n));
	assert_int_equal(n, 4294967295u);
	assert_false(imap_seqset_next(&set, &cursor, &n));
	pool_free(&pool);
}

static void
test_range_limit(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct imap_seqset set;
	struct buf in;
	const char *error;
	size_t i;

	(void)state;
	buf_init(&in, 1 << 20);
	for (i = 0; i < IMAP_SEQSET_RANGES_MAX; i++)
		assert_int_equal(buf_printf(&in, "%s%zu", i ? "," : "",
		    2 * i + 1), 0);
	imap_seqset_init(&set, pool, 0);
	assert_int_equal(imap_seqset_parse(&set, (const char *)in.data,
	    in.len, &error), 0);
	assert_int_equal(set.n, IMAP_SEQSET_RANGES_MAX);
	assert_int_equal(buf_append_str(&in, ",99999"), 0);
	assert_int_equal(imap_seqset_parse(&set, (const char *)in.data,
	    in.len, &error), -1);
	assert_string_equal(error, "Sequence set has too many ranges");

	imap_seqset_init(&set, pool, 3);
	assert_int_equal(imap_seqset_parse(&set, "1,2,3", 5, &error), 0);
	assert_int_equal(imap_seqset_parse(&set, "1,2,3,4", 7, &error), -1);
	assert_string_equal(error, "Sequence set has too many ranges");
	buf_deinit(&in);
	pool_free(&pool);
}

/* COPYUID: source and destination in the order of copying. */
static void
test_build(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct imap_seqset src, dst;
	uint32_t s[] = { 3, 4, 5, 9, 11, 12 };
	size_t i;

	(void)state;
	imap_seqset_init(&src, pool, 0);
	imap_seqset_init(&dst, pool, 0);
	for (i = 0; i < 6; i++) {
		assert_int_equal(imap_seqset_add(&src, s[i]), 0);
		assert_int_equal(imap_seqset_add(&dst, (uint32_t)(100 + i)),
		    0);
	}
	format_is(&src, "3:5,9,11:12");
	format_is(&dst, "100:105");
	assert_int_equal(imap_seqset_add(&src, 0), -1);
	assert_int_equal(imap_seqset_add_range(&src, 5, 4), -1);
	assert_int_equal(imap_seqset_add_range(&src, 13, 20), 0);
	format_is(&src, "3:5,9,11:20");
	/* Order is kept, not sorted. */
	assert_int_equal(imap_seqset_add(&src, 1), 0);
	format_is(&src, "3:5,9,11:20,1");
	assert_int_equal(imap_seqset_add(&src, UINT32_MAX), 0);
	assert_int_equal(imap_seqset_add(&src, 1), 0);
	format_is(&src, "3:5,9,11:20,1,4294967295,1");

	imap_seqset_init(&src, pool, 2);
	assert_int_equal(imap_seqset_add(&src, 1), 0);
	assert_int_equal(imap_seqset_add(&src, 3), 0);
	assert_int_equal(imap_seqset_add(&src, 4), 0);
	assert_int_equal(imap_seqset_add(&src, 6), -1);
	format_is(&src, "1,3:4");
	pool_free(&pool);
}

static void
test_heap(void **state)
{
	struct imap_seqset set, res;
	const char *error;
	struct buf small;
	size_t i;

	(void)state;
	imap_seqset_init(&set, NULL, 0);
	imap_seqset_init(&res, NULL, 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(imap_seqset_add(&set, (uint32_t)(3 * i + 1)),
		    0);
	imap_seqset_resolve(&set, 10, &res);
	assert_int_equal(imap_seqset_count(&res), 100);
	assert_int_equal(imap_seqset_parse(&set, "1:*", 3, &error), 0);
	buf_init(&small, 2);
	assert_int_equal(imap_seqset_format(&set, &small), -1);
	buf_deinit(&small);
	imap_seqset_deinit(&set);
	imap_seqset_deinit(&res);
	assert_null(set.r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("parse: sets, stars and every error", test_parse),
		T("resolve: star, order, merge, empty mailbox", test_resolve),
		T("membership, first and last", test_contains),
		T("iteration in ascending order", test_iterate),
		T("at most 10 000 ranges", test_range_limit),
		T("uid-sets built in copy order", test_build),
		T("heap sets and a full output buffer", test_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
