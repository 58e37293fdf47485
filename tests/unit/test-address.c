/* test-address: mail/address.c, address_list_parse(). One table: simple
 * lists, display names, quoted local parts and quoted names with commas,
 * nested comments, groups, angle addresses and source routes, bad input
 * and both limits. Each case is parsed three times and must give the
 * same result: from a heap copy of exactly len octets (ASan catches a
 * read past the end), and twice followed by garbage beyond len (a NUL,
 * then text that would change the result if it were read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "mail/address.h"

#define MAX_ADDRS	100
#define MAX_LEN		1024

struct address_case {
	const char	*name;
	const char	*input;
	size_t		 len;		/* 0: strlen(input) */
	size_t		 max_addrs;	/* 0: MAX_ADDRS */
	size_t		 max_len;	/* 0: MAX_LEN */
	const char	*want;		/* addresses joined by "|", or NULL */
	const char	*error;		/* NULL: success expected */
};

static const struct address_case cases[] = {
	/* simple lists */
	{ "one address", "a@b.c", 0, 0, 0, "a@b.c", NULL },
	{ "a list", "a@b.c, d@e.f,g@h.i", 0, 0, 0, "a@b.c|d@e.f|g@h.i",
	  NULL },
	{ "white space and empty items yield nothing",
	  " , a@b.c ,, \t d@e.f , ", 0, 0, 0, "a@b.c|d@e.f", NULL },
	{ "an empty list is no address", "", 0, 0, 0, "", NULL },
	{ "only white space is no address", " \t ", 0, 0, 0, "", NULL },
	{ "a bare name is kept for the caller", "root", 0, 0, 0, "root",
	  NULL },
	{ "words without an angle address are joined", "John Doe", 0, 0, 0,
	  "JohnDoe", NULL },

	/* display names and angle addresses */
	{ "display name", "Plain <p1@example.test>", 0, 0, 0,
	  "p1@example.test", NULL },
	{ "quoted display name with a comma",
	  "\"Last, First\" <p2@example.test>, x@y.z", 0, 0, 0,
	  "p2@example.test|x@y.z", NULL },
	{ "quoted display name with escapes and parentheses",
	  "\"a \\\"b\\\" (c) <d>\" <d@e.f>", 0, 0, 0, "d@e.f", NULL },
	{ "white space inside angle brackets is dropped", "< a@b.c >", 0, 0,
	  0, "a@b.c", NULL },
	{ "source route keeps the last part",
	  "<@r1.example,@r2.example:a@b.c>", 0, 0, 0, "a@b.c", NULL },
	{ "angle address without a name", "<a@b.c>,<d@e.f>", 0, 0, 0,
	  "a@b.c|d@e.f", NULL },
	{ "text after the angle address is dropped", "<a@b.c> trailing", 0,
	  0, 0, "a@b.c", NULL },

	/* quoted local parts */
	{ "quoted local part", "\"john doe\"@example.com", 0, 0, 0,
	  "\"john doe\"@example.com", NULL },
	{ "quoted local part with a comma and an escape",
	  "\"a,b\\\"c\"@x.y, z@x.y", 0, 0, 0, "\"a,b\\\"c\"@x.y|z@x.y",
	  NULL },
	{ "quoted local part inside angle brackets",
	  "Name <\"x y\"@b.c>", 0, 0, 0, "\"x y\"@b.c", NULL },

	/* comments */
	{ "comment after the address", "p3@example.test (a comment)", 0, 0,
	  0, "p3@example.test", NULL },
	{ "nested comment with an escaped parenthesis",
	  "a@b.c (x (y \\) z) w), d@e.f", 0, 0, 0, "a@b.c|d@e.f", NULL },
	{ "comment inside an address", "a(c)@b.c", 0, 0, 0, "a@b.c", NULL },
	{ "comment with specials", "a@b.c (<\"x\":;,)", 0, 0, 0, "a@b.c",
	  NULL },
	{ "comment inside angle brackets", "<a@b.c (home)>", 0, 0, 0,
	  "a@b.c", NULL },

	/* groups */
	{ "empty group", "undisclosed-recipients:;", 0, 0, 0, "", NULL },
	{ "group with members",
	  "team: t1@example.test,    t2@example.test;, "
	  "undisclosed-recipients:;", 0, 0, 0,
	  "t1@example.test|t2@example.test", NULL },
	{ "address after a group", "g: a@b.c; d@e.f", 0, 0, 0,
	  "a@b.c|d@e.f", NULL },
	{ "group with display names", "g: A <a@b.c>, \"B, b\" <d@e.f>;", 0,
	  0, 0, "a@b.c|d@e.f", NULL },
	{ "unterminated group ends with the list", "g: a@b.c", 0, 0, 0,
	  "a@b.c", NULL },
	{ "two groups", "g: a@b.c; h: d@e.f;", 0, 0, 0, "a@b.c|d@e.f",
	  NULL },

	/* bad input */
	{ "unterminated angle address", "<broken@example.test", 0, 0, 0,
	  NULL, "unterminated <" },
	{ "semicolon inside angle brackets", "<a@b.c;>", 0, 0, 0, NULL,
	  "unterminated <" },
	{ "second angle address in an item", "<a@b.c> <d@e.f>", 0, 0, 0,
	  NULL, "unexpected <" },
	{ "nested angle brackets", "<<a@b.c>>", 0, 0, 0, NULL,
	  "unexpected <" },
	{ "stray >", "a@b.c>", 0, 0, 0, NULL, "unexpected >" },
	{ "unterminated quoted string", "\"abc@d.e", 0, 0, 0, NULL,
	  "unterminated quoted string" },
	{ "backslash at the end of a quoted string", "\"abc\\", 0, 0, 0,
	  NULL, "unterminated quoted string" },
	{ "unterminated comment", "a@b.c (x (y)", 0, 0, 0, NULL,
	  "unterminated comment" },
	{ "stray )", "a@b.c)", 0, 0, 0, NULL, "unexpected character" },
	{ "group inside a group", "g: h: a@b.c;", 0, 0, 0, NULL,
	  "unexpected character" },
	{ "NUL", "a@b\0.c", 6, 0, 0, NULL, "NUL in an address" },
	{ "NUL in a quoted string", "\"a\0\"@b.c", 8, 0, 0, NULL,
	  "NUL in an address" },
	{ "escaped NUL in a quoted string", "\"a\\\0\"@b.c", 9, 0, 0, NULL,
	  "NUL in an address" },
	{ "NUL in a comment", "a@b.c (\0)", 9, 0, 0, NULL,
	  "NUL in an address" },
	{ "NUL in angle brackets", "<a@b\0.c>", 8, 0, 0, NULL,
	  "NUL in an address" },

	/* limits */
	{ "as many addresses as allowed", "a@b.c, d@e.f", 0, 2, 0,
	  "a@b.c|d@e.f", NULL },
	{ "one address more is too many", "a@b.c, d@e.f, g@h.i", 0, 2, 0,
	  NULL, "too many addresses" },
	{ "empty items and groups do not count", ",,g:;a@b.c,,;", 0, 1, 0,
	  "a@b.c", NULL },
	{ "an address as long as allowed", "a@b.c", 0, 0, 5, "a@b.c",
	  NULL },
	{ "an address one octet too long", "a@b.c", 0, 0, 4, NULL,
	  "address too long" },
	{ "an angle address one octet too long", "N <a@b.c>", 0, 0, 4, NULL,
	  "address too long" },
	{ "quotes count in the length", "\"abc\"", 0, 0, 4, NULL,
	  "address too long" },
	{ "a display name counts in the length", "Abcdef <a@b>", 0, 0, 5,
	  NULL, "address too long" },
	{ "the limit is per address", "abcd, efgh, ijkl", 0, 0, 4,
	  "abcd|efgh|ijkl", NULL },
};

static char	*join(const struct strv *sv);
static void	 run(const struct address_case *c, const char *s,
		    size_t len);

static char *
join(const struct strv *sv)
{
	return sv->n == 0 ? xstrdup("") : strv_join(sv, "|");
}

static void
run(const struct address_case *c, const char *s, size_t len)
{
	struct strv sv;
	const char *error = NULL;
	size_t max_addrs = c->max_addrs != 0 ? c->max_addrs : MAX_ADDRS;
	size_t max_len = c->max_len != 0 ? c->max_len : MAX_LEN;
	size_t i;
	char *got;
	int rc;

	/* Poison: a result must come from the parser, not the caller. */
	memset(&sv, 0xa5, sizeof(sv));
	rc = address_list_parse(s, len, max_addrs, max_len, &sv, &error);
	if (c->error != NULL) {
		assert_int_equal(rc, -1);
		assert_non_null(error);
		assert_string_equal(error, c->error);
		assert_int_equal(sv.n, 0);
		assert_null(sv.v);
		return;
	}
	if (rc != 0)
		fail_msg("%s: %s", c->name, error);
	assert_true(sv.n <= max_addrs);
	for (i = 0; i < sv.n; i++)
		assert_true(strlen(sv.v[i]) <= max_len);
	got = join(&sv);
	assert_string_equal(got, c->want);
	free(got);
	strv_free(&sv);
}

static void
test_address_lists(void **state)
{
	static const char garbage[] = "\0, x@evil.test, \"(<";
	const struct address_case *c;
	size_t i, len;
	char *exact, *more;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		len = c->len != 0 ? c->len : strlen(c->input);
		print_message("%s\n", c->name);

		/* Exactly len octets on the heap, no terminator. */
		exact = xmalloc(len > 0 ? len : 1);
		memcpy(exact, c->input, len);
		run(c, exact, len);
		free(exact);

		/* Garbage past len: a NUL first, then without it. */
		more = xmalloc(len + sizeof(garbage));
		memcpy(more, c->input, len);
		memcpy(more + len, garbage, sizeof(garbage));
		run(c, more, len);
		memcpy(more + len, garbage + 1, sizeof(garbage) - 1);
		run(c, more, len);
		free(more);
	}
}

/* With no room for one address, only an empty list parses. */
static void
test_zero_addresses_allowed(void **state)
{
	struct strv sv;
	const char *error;

	(void)state;
	assert_int_equal(address_list_parse("g:;, ,", 6, 0, MAX_LEN, &sv,
	    &error), 0);
	assert_int_equal(sv.n, 0);
	assert_int_equal(address_list_parse("a@b.c", 5, 0, MAX_LEN, &sv,
	    &error), -1);
	assert_string_equal(error, "too many addresses");
}

/* Failing late frees what was already found. */
static void
test_error_after_addresses_leaves_nothing(void **state)
{
	static const char in[] = "a@b.c, d@e.f, g@h.i, \"unterminated";
	struct strv sv;
	const char *error;

	(void)state;
	assert_int_equal(address_list_parse(in, sizeof(in) - 1, MAX_ADDRS,
	    MAX_LEN, &sv, &error), -1);
	assert_string_equal(error, "unterminated quoted string");
	assert_int_equal(sv.n, 0);
	assert_null(sv.v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_lists),
		cmocka_unit_test(test_zero_addresses_allowed),
		cmocka_unit_test(test_error_after_addresses_leaves_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
