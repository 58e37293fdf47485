/* test-mx: lib/mx.c, MX routing without DNS. A table of record sets with
 * the hosts expected in order (ties keep their position under a random
 * source that never swaps), then the random order of ties with a seeded
 * source (every permutation is reached, preferences are never mixed), the
 * cap on the number of hosts, and that the result borrows nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mx.h"
#include "lib/pool.h"

/* A named test whose name states the behaviour. */
#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

#define MAXREC		8
#define SELF		"mail.self.example"
#define ALIAS		"mx.alias.example"

struct route_case {
	const char		*name;
	const char		*domain;
	struct mx_record	 mx[MAXREC];
	size_t			 n;
	enum mx_result		 want;
	/* "pref host" in the order to try, NULL-terminated */
	const char		*hosts[MAXREC + 1];
};

static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static uint32_t	 rnd_keep(void *ctx, uint32_t bound);
static uint32_t	 rnd_xorshift(void *ctx, uint32_t bound);
static int	 perm_index(const struct mx_record *h, size_t n,
		    const char *const *names);
static void	 test_table(void **state);
static void	 test_ties_random(void **state);
static void	 test_same_seed_same_order(void **state);
static void	 test_cap(void **state);
static void	 test_no_borrow(void **state);
static void	 test_production_random(void **state);

static const char *const self_names[] = { SELF, ALIAS };

static const struct route_case cases[] = {
	{ "hosts are sorted by preference ascending", "example.org",
	  { { 30, "c.example.org" }, { 10, "a.example.org" },
	    { 20, "b.example.org" } }, 3, MX_OK,
	  { "10 a.example.org", "20 b.example.org", "30 c.example.org" } },
	{ "preference 0 comes first and 65535 last", "example.org",
	  { { 65535, "z.example.org" }, { 0, "a.example.org" },
	    { 1, "b.example.org" } }, 3, MX_OK,
	  { "0 a.example.org", "1 b.example.org", "65535 z.example.org" } },
	{ "a single record is the only host", "example.org",
	  { { 5, "mx.example.org" } }, 1, MX_OK, { "5 mx.example.org" } },
	{ "null MX alone is MX_NULL", "example.org",
	  { { 0, "." } }, 1, MX_NULL, { NULL } },
	{ "null MX as empty name is MX_NULL", "example.org",
	  { { 0, "" } }, 1, MX_NULL, { NULL } },
	{ "null MX among other records is still MX_NULL", "example.org",
	  { { 10, "a.example.org" }, { 20, "." } }, 2, MX_NULL, { NULL } },
	{ "null MX wins over the local host being listed", "example.org",
	  { { 10, SELF }, { 0, "." } }, 2, MX_NULL, { NULL } },
	{ "no records is the implicit MX: the domain itself at 0",
	  "Example.ORG.", { { 0, NULL } }, 0, MX_OK, { "0 example.org" } },
	{ "implicit MX to the local host is a loop", SELF,
	  { { 0, NULL } }, 0, MX_LOOP, { NULL } },
	{ "implicit MX to a local alias is a loop", "MX.Alias.Example.",
	  { { 0, NULL } }, 0, MX_LOOP, { NULL } },
	{ "backup MX drops itself and every less preferred host",
	  "example.org",
	  { { 10, "primary.example.org" }, { 20, SELF },
	    { 30, "other.example.org" }, { 20, "peer.example.org" } }, 4,
	  MX_OK, { "10 primary.example.org" } },
	{ "backup MX keeps every more preferred host in order",
	  "example.org",
	  { { 10, "a.example.org" }, { 5, "b.example.org" }, { 20, SELF },
	    { 10, "c.example.org" } }, 4, MX_OK,
	  { "5 b.example.org", "10 a.example.org", "10 c.example.org" } },
	{ "local host as the most preferred is a loop", "example.org",
	  { { 10, SELF }, { 20, "backup.example.org" } }, 2, MX_LOOP,
	  { NULL } },
	{ "local host tied with the most preferred is a loop", "example.org",
	  { { 10, "other.example.org" }, { 10, SELF } }, 2, MX_LOOP,
	  { NULL } },
	{ "local host alone is a loop", "example.org",
	  { { 10, SELF } }, 1, MX_LOOP, { NULL } },
	{ "a local alias counts as the local host", "example.org",
	  { { 10, "a.example.org" }, { 20, ALIAS } }, 2, MX_OK,
	  { "10 a.example.org" } },
	{ "the local host listed twice counts at its best preference",
	  "example.org",
	  { { 10, "a.example.org" }, { 30, SELF }, { 5, "MAIL.self.example." },
	    { 20, "b.example.org" } }, 4, MX_LOOP, { NULL } },
	{ "local host compared case-insensitively, final dot ignored",
	  "example.org",
	  { { 10, "a.example.org" }, { 20, "Mail.SELF.example." } }, 2, MX_OK,
	  { "10 a.example.org" } },
	{ "a local name as suffix of a host is not the local host",
	  "example.org",
	  { { 10, "x" SELF }, { 20, "b.example.org" } }, 2, MX_OK,
	  { "10 x" SELF, "20 b.example.org" } },
	{ "a duplicate host appears once, at its best preference",
	  "example.org",
	  { { 30, "a.example.org" }, { 10, "b.example.org" },
	    { 20, "a.example.org" } }, 3, MX_OK,
	  { "10 b.example.org", "20 a.example.org" } },
	{ "duplicates differing in case and final dot are one host",
	  "example.org",
	  { { 20, "mx.example.org" }, { 10, "MX.Example.org." } }, 2, MX_OK,
	  { "10 mx.example.org" } },
	{ "host names come out lower-case without the final dot",
	  "example.org",
	  { { 10, "MX1.Example.COM." } }, 1, MX_OK, { "10 mx1.example.com" } },
	{ "equal preferences stay together around other preferences",
	  "example.org",
	  { { 20, "c.example.org" }, { 10, "a.example.org" },
	    { 20, "d.example.org" }, { 10, "b.example.org" } }, 4, MX_OK,
	  { "10 a.example.org", "10 b.example.org", "20 c.example.org",
	    "20 d.example.org" } },
};

static void
case_fail(int *nfail, const char *name, const char *fmt, ...)
{
	va_list ap;

	print_error("case \"%s\": ", name);
	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
	print_error("\n");
	(*nfail)++;
}

/* Fisher-Yates with j = i - 1 swaps nothing: ties keep their position. */
static uint32_t
rnd_keep(void *ctx, uint32_t bound)
{
	(void)ctx;
	return bound - 1;
}

/* xorshift32, seeded through ctx: deterministic, and good enough to reach
 * every permutation of a few elements. */
static uint32_t
rnd_xorshift(void *ctx, uint32_t bound)
{
	uint32_t *x = ctx;

	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x % bound;
}

static void
test_table(void **state)
{
	const struct route_case *c;
	struct mx_record *hosts;
	struct pool *pool;
	enum mx_result r;
	char got[300];
	size_t i, k, nhosts, nwant;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		pool = pool_new(NULL);
		r = mx_route(pool, c->domain, c->n > 0 ? c->mx : NULL, c->n,
		    self_names, 2, rnd_keep, NULL, &hosts, &nhosts);
		for (nwant = 0; c->hosts[nwant] != NULL; nwant++)
			;
		if (r != c->want)
			case_fail(&nfail, c->name, "result %s, want %s",
			    mx_result_str(r), mx_result_str(c->want));
		else if (nhosts != nwant)
			case_fail(&nfail, c->name, "%zu hosts, want %zu",
			    nhosts, nwant);
		else if (r != MX_OK && hosts != NULL)
			case_fail(&nfail, c->name, "hosts set on failure");
		else
			for (k = 0; k < nhosts; k++) {
				snprintf(got, sizeof(got), "%u %s",
				    hosts[k].preference, hosts[k].host);
				if (strcmp(got, c->hosts[k]) != 0) {
					case_fail(&nfail, c->name,
					    "host %zu is \"%s\", want \"%s\"",
					    k, got, c->hosts[k]);
					break;
				}
			}
		pool_free(&pool);
	}
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

/* Index of the order of h[0..n) among the permutations of names, in
 * lexicographic order of positions (n <= 3). */
static int
perm_index(const struct mx_record *h, size_t n, const char *const *names)
{
	int idx = 0;
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < n; k++)
			if (strcmp(h[i].host, names[k]) == 0)
				break;
		assert_true(k < n);
		idx = idx * (int)n + (int)k;
	}
	return idx;
}

static void
test_ties_random(void **state)
{
	static const char *const first[] = {
		"a.example.org", "b.example.org", "c.example.org" };
	static const char *const second[] = {
		"d.example.org", "e.example.org" };
	const struct mx_record mx[] = {
		{ 20, "d.example.org" }, { 10, "a.example.org" },
		{ 10, "b.example.org" }, { 20, "e.example.org" },
		{ 10, "c.example.org" },
	};
	int seen_first[27] = { 0 }, seen_second[4] = { 0 };
	int distinct_first = 0, distinct_second = 0, i, idx;
	struct mx_record *hosts;
	struct pool *pool;
	uint32_t seed = 0x9e3779b9;
	size_t nhosts;

	(void)state;
	for (i = 0; i < 600; i++) {
		pool = pool_new(NULL);
		assert_int_equal(mx_route(pool, "example.org", mx, 5, NULL, 0,
		    rnd_xorshift, &seed, &hosts, &nhosts), MX_OK);
		assert_int_equal(nhosts, 5);
		/* Preference 10 first, then 20, whatever the draw. */
		assert_int_equal(hosts[0].preference, 10);
		assert_int_equal(hosts[2].preference, 10);
		assert_int_equal(hosts[3].preference, 20);
		assert_int_equal(hosts[4].preference, 20);
		idx = perm_index(hosts, 3, first);
		if (seen_first[idx]++ == 0)
			distinct_first++;
		idx = perm_index(hosts + 3, 2, second);
		if (seen_second[idx]++ == 0)
			distinct_second++;
		pool_free(&pool);
	}
	/* 3! and 2! orders, each drawn a fair share of the time. */
	assert_int_equal(distinct_first, 6);
	assert_int_equal(distinct_second, 2);
	for (i = 0; i < 27; i++)
		assert_true(seen_first[i] == 0 || seen_first[i] > 600 / 6 / 2);
	for (i = 0; i < 4; i++)
		assert_true(seen_second[i] == 0 ||
		    seen_second[i] > 600 / 2 / 2);
}

static void
test_same_seed_same_order(void **state)
{
	const struct mx_record mx[] = {
		{ 10, "a.example.org" }, { 10, "b.example.org" },
		{ 10, "c.example.org" }, { 10, "d.example.org" },
	};
	struct mx_record *h1, *h2;
	struct pool *pool = pool_new(NULL);
	uint32_t s1 = 42, s2 = 42;
	size_t n1, n2, i;

	(void)state;
	assert_int_equal(mx_route(pool, "example.org", mx, 4, NULL, 0,
	    rnd_xorshift, &s1, &h1, &n1), MX_OK);
	assert_int_equal(mx_route(pool, "example.org", mx, 4, NULL, 0,
	    rnd_xorshift, &s2, &h2, &n2), MX_OK);
	assert_int_equal(n1, n2);
	for (i = 0; i < n1; i++)
		assert_string_equal(h1[i].host, h2[i].host);
	pool_free(&pool);
}

/* More records than MX_MAX_HOSTS: the most preferred come out, and the
 * local host is looked for among all of them. */
static void
test_cap(void **state)
{
	struct mx_record mx[MX_MAX_HOSTS + 50];
	char names[MX_MAX_HOSTS + 50][32];
	struct mx_record *hosts;
	struct pool *pool = pool_new(NULL);
	const char *self = "h149.example.org";
	size_t i, nhosts;

	(void)state;
	for (i = 0; i < MX_MAX_HOSTS + 50; i++) {
		snprintf(names[i], sizeof(names[i]), "h%zu.example.org", i);
		/* Reverse order, so the cut is not just a prefix. */
		mx[i].preference = (uint16_t)(1000 - i);
		mx[i].host = names[i];
	}
	assert_int_equal(mx_route(pool, "example.org", mx, MX_MAX_HOSTS + 50,
	    NULL, 0, rnd_keep, NULL, &hosts, &nhosts), MX_OK);
	assert_int_equal(nhosts, MX_MAX_HOSTS);
	assert_string_equal(hosts[0].host, "h149.example.org");
	assert_int_equal(hosts[0].preference, 1000 - 149);
	assert_string_equal(hosts[MX_MAX_HOSTS - 1].host, "h50.example.org");
	/* h149 is the most preferred: listing it as ourselves loops. */
	assert_int_equal(mx_route(pool, "example.org", mx, MX_MAX_HOSTS + 50,
	    &self, 1, rnd_keep, NULL, &hosts, &nhosts), MX_LOOP);
	pool_free(&pool);
}

/* The DNS result is freed after its callback: the hosts must be copies. */
static void
test_no_borrow(void **state)
{
	char host[] = "mx.example.org", domain[] = "example.org";
	struct mx_record mx = { 10, host }, *hosts;
	struct pool *pool = pool_new(NULL);
	size_t nhosts;

	(void)state;
	assert_int_equal(mx_route(pool, domain, &mx, 1, NULL, 0, rnd_keep,
	    NULL, &hosts, &nhosts), MX_OK);
	memset(host, 'x', sizeof(host) - 1);
	assert_string_equal(hosts[0].host, "mx.example.org");
	assert_int_equal(mx_route(pool, domain, NULL, 0, NULL, 0, rnd_keep,
	    NULL, &hosts, &nhosts), MX_OK);
	memset(domain, 'x', sizeof(domain) - 1);
	assert_string_equal(hosts[0].host, "example.org");
	pool_free(&pool);
}

static void
test_production_random(void **state)
{
	int i, seen[3] = { 0 };
	uint32_t v;

	(void)state;
	for (i = 0; i < 300; i++) {
		v = mx_random(NULL, 3);
		assert_true(v < 3);
		seen[v]++;
	}
	assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
	assert_int_equal(mx_random(NULL, 1), 0);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("routing table: sort, null MX, implicit MX, backup MX, loop, "
		    "duplicates, case and dots", test_table),
		T("equal preferences come in random order, every permutation "
		    "reachable, never mixed with other preferences",
		    test_ties_random),
		T("the same seed gives the same order", test_same_seed_same_order),
		T("at most MX_MAX_HOSTS hosts come out, the most preferred; "
		    "the most preferred as the local host loops", test_cap),
		T("the hosts are copied into the pool, not borrowed",
		    test_no_borrow),
		T("mx_random stays below its bound", test_production_random),
	};

	return cmocka_run_group_tests_name("mx", tests, NULL, NULL);
}
