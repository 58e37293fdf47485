/* test-route: queue/route.c, where remote mail goes before any DNS:
 * transports and next hops as Postfix writes them, the transport map file
 * (patterns, comments, errors with line numbers, lookup order) and the
 * per-domain TLS policy list. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/pool.h"
#include "lib/str.h"
#include "queue/route.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

static struct route
transport(struct pool *pool, const char *s)
{
	struct route r;
	const char *error = NULL;

	if (route_parse_transport(s, pool, &r, &error) == -1)
		fail_msg("%s: %s", s, error);
	return r;
}

static void
transport_bad(struct pool *pool, const char *s, const char *why)
{
	struct route r;
	const char *error = NULL;

	if (route_parse_transport(s, pool, &r, &error) == 0)
		fail_msg("%s was accepted", s);
	if (strstr(error, why) == NULL)
		fail_msg("%s: error %s lacks %s", s, error, why);
}

static void
smtp_next_hops(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct route r;

	r = transport(pool, "smtp:[10.1.2.3]:2525");
	assert_int_equal(r.kind, ROUTE_SMTP);
	assert_string_equal(r.host, "10.1.2.3");
	assert_false(r.mx);
	assert_int_equal(r.port, 2525);

	r = transport(pool, "smtp:Relay.Example.NET");
	assert_string_equal(r.host, "relay.example.net");
	assert_true(r.mx);
	assert_int_equal(r.port, 0);

	r = transport(pool, "smtp:mx.example.net:587");
	assert_true(r.mx);
	assert_int_equal(r.port, 587);

	r = transport(pool, "smtp:[IPv6:2001:db8::1]:25");
	assert_string_equal(r.host, "2001:db8::1");
	assert_false(r.mx);

	r = transport(pool, "smtp:[::1]");
	assert_string_equal(r.host, "::1");
	assert_int_equal(r.port, 0);

	r = transport(pool, "smtp:");
	assert_null(r.host);		/* the recipient's own domain */
	assert_true(r.mx);
	pool_free(&pool);
}

static void
lmtp_next_hops(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct route r;

	r = transport(pool, "lmtp:unix:/run/postie/lmtp.sock");
	assert_int_equal(r.kind, ROUTE_LMTP);
	assert_string_equal(r.unix_path, "/run/postie/lmtp.sock");
	assert_null(r.host);

	r = transport(pool, "lmtp:mailstore.internal:24");
	assert_string_equal(r.host, "mailstore.internal");
	assert_false(r.mx);		/* LMTP never looks up MX */
	assert_int_equal(r.port, 24);

	r = transport(pool, "lmtp:[127.0.0.1]:2424");
	assert_string_equal(r.host, "127.0.0.1");
	pool_free(&pool);
}

static void
final_transports(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct route r;

	r = transport(pool, "discard");
	assert_int_equal(r.kind, ROUTE_DISCARD);
	assert_string_equal(r.status, "2.0.0");

	r = transport(pool, "error:5.7.1 no mail for this domain");
	assert_int_equal(r.kind, ROUTE_ERROR);
	assert_string_equal(r.status, "5.7.1");
	assert_string_equal(r.text, "no mail for this domain");

	r = transport(pool, "error:mailbox moved");
	assert_string_equal(r.status, "5.0.0");
	assert_string_equal(r.text, "mailbox moved");

	r = transport(pool, "retry:4.4.1 down for maintenance");
	assert_int_equal(r.kind, ROUTE_RETRY);
	assert_string_equal(r.status, "4.4.1");
	assert_string_equal(r.text, "down for maintenance");

	r = transport(pool, "retry:");
	assert_string_equal(r.status, "4.0.0");
	assert_string_equal(r.text, "");

	/* a number that is not a status code stays text */
	r = transport(pool, "error:5.1234.1 odd");
	assert_string_equal(r.status, "5.0.0");
	pool_free(&pool);
}

static void
bad_transports(void **state)
{
	struct pool *pool = pool_new(NULL);

	transport_bad(pool, "uucp:host", "unknown transport");
	transport_bad(pool, "smtp:[10.0.0.1", "missing ]");
	transport_bad(pool, "smtp:[10.0.0.1]x", "junk");
	transport_bad(pool, "smtp:host:0", "bad port");
	transport_bad(pool, "smtp:host:65536", "bad port");
	transport_bad(pool, "smtp:host:2x", "bad port");
	transport_bad(pool, "smtp:bad_host!", "bad host");
	transport_bad(pool, "smtp:unix:/tmp/s", "lmtp only");
	transport_bad(pool, "lmtp:", "needs a next hop");
	transport_bad(pool, "lmtp:unix:relative", "absolute path");
	transport_bad(pool, "error:4.1.1 soft", "5.x.x");
	transport_bad(pool, "retry:5.1.1 hard", "4.x.x");
	pool_free(&pool);
}

static void
map_lookup_order(void **state)
{
	static const char text[] =
	    "# pattern   transport\n"
	    "\n"
	    "example.com        smtp:[10.0.0.1]:25\n"
	    "  .example.com     smtp:[10.0.0.2]:25   \n"
	    ".deep.example.com  smtp:[10.0.0.3]:25\r\n"
	    "Void.Test\tdiscard\n"
	    "*                  smtp:smarthost.example.net\n";
	struct pool *pool = pool_new(NULL);
	struct route_map *map;
	const struct route *r;
	const char *error = NULL;

	assert_int_equal(route_map_parse(text, strlen(text), pool, &map,
	    &error), 0);
	assert_int_equal(route_map_size(map), 5);
	r = route_map_lookup(map, "example.com");
	assert_string_equal(r->host, "10.0.0.1");
	r = route_map_lookup(map, "a.example.com");
	assert_string_equal(r->host, "10.0.0.2");
	r = route_map_lookup(map, "x.deep.example.com");
	assert_string_equal(r->host, "10.0.0.3");
	/* ".deep..." is for subdomains only; deep.example.com is one of
	 * example.com's */
	r = route_map_lookup(map, "deep.example.com");
	assert_string_equal(r->host, "10.0.0.2");
	r = route_map_lookup(map, "void.test");
	assert_int_equal(r->kind, ROUTE_DISCARD);
	r = route_map_lookup(map, "notexample.com");
	assert_string_equal(r->host, "smarthost.example.net");
	assert_null(route_map_lookup(NULL, "example.com"));
	pool_free(&pool);
}

static void
map_without_star(void **state)
{
	static const char text[] = "a.test retry:\n";
	struct pool *pool = pool_new(NULL);
	struct route_map *map;
	const char *error = NULL;

	assert_int_equal(route_map_parse(text, strlen(text), pool, &map,
	    &error), 0);
	assert_null(route_map_lookup(map, "b.test"));
	assert_null(route_map_lookup(map, "x.a.test"));
	pool_free(&pool);
}

static void
map_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		{ "a.test\n", "line 1: a pattern needs a transport" },
		{ "# c\na.test smtp:\nb..test smtp:\n", "line 3: bad pattern" },
		{ "a.test nonsense\n", "line 1: nonsense: unknown transport" },
		{ "a.test smtp:[x\n", "line 1: smtp:[x: missing ]" },
		{ "*.test smtp:\n", "line 1: bad pattern" },
	};
	struct pool *pool = pool_new(NULL);
	struct route_map *map;
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error = NULL;
		if (route_map_parse(cases[i].text, strlen(cases[i].text), pool,
		    &map, &error) == 0)
			fail_msg("case %zu accepted", i);
		if (strstr(error, cases[i].want) == NULL)
			fail_msg("case %zu: %s lacks %s", i, error,
			    cases[i].want);
	}
	/* an embedded NUL is an error, not a shorter line */
	error = NULL;
	assert_int_equal(route_map_parse("a.test smtp:\0x\n", 15, pool, &map,
	    &error), -1);
	assert_non_null(strstr(error, "NUL"));
	pool_free(&pool);
}

static void
tls_policy(void **state)
{
	struct strv p = { 0 };

	strv_split(&p, "bank.example=verify, .corp.example=encrypt "
	    "Legacy.Example=none broken");
	assert_int_equal(route_tls_lookup(&p, "bank.example", ROUTE_TLS_MAY),
	    ROUTE_TLS_VERIFY);
	assert_int_equal(route_tls_lookup(&p, "mx.corp.example",
	    ROUTE_TLS_MAY), ROUTE_TLS_ENCRYPT);
	assert_int_equal(route_tls_lookup(&p, "corp.example", ROUTE_TLS_MAY),
	    ROUTE_TLS_MAY);
	assert_int_equal(route_tls_lookup(&p, "legacy.example",
	    ROUTE_TLS_MAY), ROUTE_TLS_NONE);
	assert_int_equal(route_tls_lookup(&p, "other.example",
	    ROUTE_TLS_ENCRYPT), ROUTE_TLS_ENCRYPT);
	assert_string_equal(route_tls_policy_check(&p), "broken");
	strv_free(&p);
	strv_split(&p, "a.example=verify .b.example=may");
	assert_null(route_tls_policy_check(&p));
	strv_free(&p);
	strv_split(&p, "a.example=sometimes");
	assert_string_equal(route_tls_policy_check(&p), "a.example=sometimes");
	strv_free(&p);
	assert_int_equal(route_tls_parse("VERIFY"), ROUTE_TLS_VERIFY);
	assert_int_equal(route_tls_parse("maybe"), -1);
	assert_string_equal(route_tls_name(ROUTE_TLS_ENCRYPT), "encrypt");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("smtp next hops: brackets skip MX, ports, IPv6, empty",
		    smtp_next_hops),
		T("lmtp next hops: unix sockets and hosts, never MX",
		    lmtp_next_hops),
		T("discard, error and retry carry a status and text",
		    final_transports),
		T("bad transports are refused with a reason", bad_transports),
		T("map lookup: exact, nearest .parent, then *",
		    map_lookup_order),
		T("map without * has no default", map_without_star),
		T("map errors name the line", map_errors),
		T("TLS policy per domain and subdomain", tls_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
