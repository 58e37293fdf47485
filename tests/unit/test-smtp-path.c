/* test-smtp-path: smtp/path.c. RFC 5321 paths (null path, source routes,
 * quoted local parts and their normal form, address literals, domain and
 * length limits, UTF-8 with and without SMTPUTF8, <Postmaster>), the
 * route-character check, the domain parser EHLO uses and the UTF-8
 * sequence check. The parser takes a whole path, so "one byte at a time"
 * becomes: each input is parsed from an exact-size heap copy (ASan sees any
 * read past the end), then every proper prefix of it is parsed too and
 * must be refused, since a path is only complete at its '>'. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pool.h"
#include "smtp/path.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

/* Expected booleans of struct smtp_path. */
#define P_NULL		(1 << 0)
#define P_ROUTE		(1 << 1)
#define P_QUOTED	(1 << 2)
#define P_LITERAL	(1 << 3)
#define P_UTF8		(1 << 4)
#define P_POSTMASTER	(1 << 5)
#define P_ROUTECHARS	(1 << 6)	/* smtp_path_local_has_route_chars */

#define F_NULL		SMTP_PATH_ALLOW_NULL
#define F_UTF8		SMTP_PATH_ALLOW_UTF8
#define F_PM		SMTP_PATH_ALLOW_POSTMASTER

struct path_case {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	unsigned	 flags;
	int		 rc;
	const char	*address;	/* when rc == 0 */
	const char	*local;
	const char	*local_raw;	/* NULL: same as local */
	const char	*domain;
	unsigned	 bits;
};

static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static unsigned	 path_bits(const struct smtp_path *p);
static int	 parse_copy(const char *in, size_t len, unsigned flags,
		    struct pool *pool, struct smtp_path *out, const char **err);
static char	*make_path(size_t local, size_t domain, bool quoted);
static void	 test_path_table(void **state);
static void	 test_prefix_stops_at_bracket(void **state);
static void	 test_lengths(void **state);
static void	 test_domain_parse(void **state);
static void	 test_utf8_seq(void **state);

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

static const struct path_case path_cases[] = {
	{ "a plain mailbox parses", "<user@example.org>", 0, 0, 0,
	  "user@example.org", "user", NULL, "example.org", 0 },
	{ "the domain is lower-cased, the local part is not",
	  "<User.Name@EXAMPLE.Org>", 0, 0, 0, "User.Name@example.org",
	  "User.Name", NULL, "example.org", 0 },
	{ "atext specials are a dot-atom",
	  "<a!#$%&'*+-/=?^_`{|}~b@x.example>", 0, 0, 0,
	  "a!#$%&'*+-/=?^_`{|}~b@x.example", "a!#$%&'*+-/=?^_`{|}~b", NULL,
	  "x.example", P_ROUTECHARS },
	{ "the null path is allowed with ALLOW_NULL", "<>", 0, F_NULL, 0,
	  "", "", NULL, "", P_NULL },
	{ "the null path is refused without ALLOW_NULL", "<>", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "a source route is accepted and dropped",
	  "<@a.example,@b.example:user@d.example>", 0, 0, 0,
	  "user@d.example", "user", NULL, "d.example", P_ROUTE },
	{ "a one-hop source route is accepted",
	  "<@relay.example:user@d.example>", 0, 0, 0, "user@d.example",
	  "user", NULL, "d.example", P_ROUTE },
	{ "a source route without ':' is refused",
	  "<@a.example,user@d.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a source route with an empty domain is refused",
	  "<@:user@d.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a source route with a bad domain is refused",
	  "<@a..example:user@d.example>", 0, 0, -1, NULL, NULL, NULL, NULL,
	  0 },
	{ "a source route hop without '@' is refused",
	  "<@a.example,b.example:user@d.example>", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "a quoted local part with a space stays quoted",
	  "<\"john doe\"@example.org>", 0, 0, 0, "\"john doe\"@example.org",
	  "\"john doe\"", NULL, "example.org", P_QUOTED },
	{ "a quoted dot-atom is unquoted", "<\"abc\"@x.example>", 0, 0, 0,
	  "abc@x.example", "abc", "\"abc\"", "x.example", 0 },
	{ "a quoted dotted dot-atom is unquoted", "<\"a.b\"@x.example>", 0, 0,
	  0, "a.b@x.example", "a.b", "\"a.b\"", "x.example", 0 },
	{ "a needless quoted-pair is dropped when unquoting",
	  "<\"a\\bc\"@x.example>", 0, 0, 0, "abc@x.example", "abc",
	  "\"a\\bc\"", "x.example", 0 },
	{ "a quoted local part with a double dot stays quoted",
	  "<\"a..b\"@x.example>", 0, 0, 0, "\"a..b\"@x.example", "\"a..b\"",
	  NULL, "x.example", P_QUOTED },
	{ "an escaped quote is kept escaped",
	  "<\"a\\\"b\"@x.example>", 0, 0, 0, "\"a\\\"b\"@x.example",
	  "\"a\\\"b\"", NULL, "x.example", P_QUOTED },
	{ "needless escapes are removed in the canonical quoted form",
	  "<\"a\\ b\"@x.example>", 0, 0, 0, "\"a b\"@x.example", "\"a b\"",
	  "\"a\\ b\"", "x.example", P_QUOTED },
	{ "an escaped backslash is kept escaped",
	  "<\"a\\\\b\"@x.example>", 0, 0, 0, "\"a\\\\b\"@x.example",
	  "\"a\\\\b\"", NULL, "x.example", P_QUOTED },
	{ "a quoted '@' is flagged as a route character",
	  "<\"user@other.example\"@x.example>", 0, 0, 0,
	  "\"user@other.example\"@x.example", "\"user@other.example\"", NULL,
	  "x.example", P_QUOTED | P_ROUTECHARS },
	{ "'%' in a dot-atom is flagged as a route character",
	  "<user%other.example@x.example>", 0, 0, 0,
	  "user%other.example@x.example", "user%other.example", NULL,
	  "x.example", P_ROUTECHARS },
	{ "'!' in a dot-atom is flagged as a route character",
	  "<other!user@x.example>", 0, 0, 0, "other!user@x.example",
	  "other!user", NULL, "x.example", P_ROUTECHARS },
	{ "a '>' inside quotes does not end the path",
	  "<\"a>b\"@x.example>", 0, 0, 0, "\"a>b\"@x.example", "\"a>b\"", NULL,
	  "x.example", P_QUOTED },
	{ "an empty quoted local part is refused", "<\"\"@x.example>", 0, 0,
	  -1, NULL, NULL, NULL, NULL, 0 },
	{ "an unterminated quoted local part is refused",
	  "<\"abc@x.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a tab in a quoted local part is refused", "<\"a\tb\"@x.example>",
	  0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a quoted-pair of a control character is refused",
	  "<\"a\\\tb\"@x.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a quoted local part followed by text is refused",
	  "<\"a\"b@x.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a leading dot is refused", "<.a@x.example>", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "a trailing dot in the local part is refused", "<a.@x.example>", 0,
	  0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a double dot in the local part is refused", "<a..b@x.example>", 0,
	  0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a space in the local part is refused", "<a b@x.example>", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "an empty local part is refused", "<@x.example>", 0, 0, -1, NULL,
	  NULL, NULL, NULL, 0 },
	{ "two '@' are refused", "<a@b@x.example>", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "an IPv4 literal parses", "<user@[192.0.2.1]>", 0, 0, 0,
	  "user@[192.0.2.1]", "user", NULL, "[192.0.2.1]", P_LITERAL },
	{ "an IPv6 literal parses", "<user@[IPv6:::1]>", 0, 0, 0,
	  "user@[IPv6:::1]", "user", NULL, "[IPv6:::1]", P_LITERAL },
	{ "an IPv6 literal is written canonically",
	  "<user@[ipv6:2001:DB8:0:0:0:0:0:1]>", 0, 0, 0,
	  "user@[IPv6:2001:db8::1]", "user", NULL, "[IPv6:2001:db8::1]",
	  P_LITERAL },
	{ "an IPv4-mapped IPv6 literal parses",
	  "<user@[IPv6:::ffff:192.0.2.1]>", 0, 0, 0,
	  "user@[IPv6:::ffff:192.0.2.1]", "user", NULL,
	  "[IPv6:::ffff:192.0.2.1]", P_LITERAL },
	{ "an IPv4 literal out of range is refused", "<user@[256.0.0.1]>", 0,
	  0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a short IPv4 literal is refused", "<user@[192.0.2]>", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "an IPv6 literal without its tag is refused", "<user@[::1]>", 0, 0,
	  -1, NULL, NULL, NULL, NULL, 0 },
	{ "an IPv4 address under the IPv6 tag is refused",
	  "<user@[IPv6:192.0.2.1]>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a general address literal is refused", "<user@[x400:abc]>", 0, 0,
	  -1, NULL, NULL, NULL, NULL, 0 },
	{ "an empty address literal is refused", "<user@[]>", 0, 0, -1, NULL,
	  NULL, NULL, NULL, 0 },
	{ "an unterminated address literal is refused", "<user@[192.0.2.1>",
	  0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a space in an address literal is refused", "<user@[192.0.2.1 ]>",
	  0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a NUL in an address literal is refused", "<u@[1.2.3.4\0x]>", 15,
	  0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "an underscore in a domain is tolerated", "<u@my_host.example>", 0,
	  0, 0, "u@my_host.example", "u", NULL, "my_host.example", 0 },
	{ "a label starting with '-' is refused", "<u@-x.example>", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "a label ending with '-' is refused", "<u@x-.example>", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "a hyphen inside a label is fine", "<u@x-y.example>", 0, 0, 0,
	  "u@x-y.example", "u", NULL, "x-y.example", 0 },
	{ "an empty label is refused", "<u@x..example>", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "a trailing dot in the domain is refused", "<u@x.example.>", 0, 0,
	  -1, NULL, NULL, NULL, NULL, 0 },
	{ "a leading dot in the domain is refused", "<u@.x.example>", 0, 0,
	  -1, NULL, NULL, NULL, NULL, 0 },
	{ "an empty domain is refused", "<u@>", 0, 0, -1, NULL, NULL, NULL,
	  NULL, 0 },
	{ "a bare local part is refused", "<user>", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "a single-label domain is accepted", "<u@localhost>", 0, 0, 0,
	  "u@localhost", "u", NULL, "localhost", 0 },
	{ "<Postmaster> is accepted with ALLOW_POSTMASTER", "<Postmaster>", 0,
	  F_PM, 0, "Postmaster", "Postmaster", NULL, "", P_POSTMASTER },
	{ "<postmaster> is case-insensitive", "<POSTMASTER>", 0, F_PM, 0,
	  "POSTMASTER", "POSTMASTER", NULL, "", P_POSTMASTER },
	{ "<Postmaster> is refused without ALLOW_POSTMASTER", "<Postmaster>",
	  0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a routed <Postmaster> is refused", "<@a.example:Postmaster>", 0,
	  F_PM, -1, NULL, NULL, NULL, NULL, 0 },
	{ "postmaster with a domain is an ordinary mailbox",
	  "<postmaster@x.example>", 0, F_PM, 0, "postmaster@x.example",
	  "postmaster", NULL, "x.example", 0 },
	{ "no angle brackets is refused", "user@x.example", 0, 0, -1, NULL,
	  NULL, NULL, NULL, 0 },
	{ "a missing '>' is refused", "<user@x.example", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "a space after '<' is refused", "< user@x.example>", 0, 0, -1, NULL,
	  NULL, NULL, NULL, 0 },
	{ "a space before '>' is refused", "<user@x.example >", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "text after '>' is refused by smtp_path_parse",
	  "<user@x.example> ", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "empty input is refused", "", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a NUL in the local part is refused", "<a\0b@x.example>", 16, 0,
	  -1, NULL, NULL, NULL, NULL, 0 },
	{ "a CR in the local part is refused", "<a\rb@x.example>", 0, 0, -1,
	  NULL, NULL, NULL, NULL, 0 },
	{ "UTF-8 is accepted with ALLOW_UTF8",
	  "<\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@"
	  "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3"
	  "\xce\xbc\xce\xb1.EXAMPLE>", 0, F_UTF8, 0,
	  "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@"
	  "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3"
	  "\xce\xbc\xce\xb1.example",
	  "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae", NULL,
	  "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3"
	  "\xce\xbc\xce\xb1.example", P_UTF8 },
	{ "a UTF-8 local part is refused without ALLOW_UTF8",
	  "<\xc3\xa9t\xc3\xa9@x.example>", 0, 0, -1, NULL, NULL, NULL, NULL,
	  0 },
	{ "a UTF-8 domain is refused without ALLOW_UTF8",
	  "<u@b\xc3\xbc" "cher.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a UTF-8 quoted local part needs ALLOW_UTF8",
	  "<\"\xc3\xa9 t\"@x.example>", 0, 0, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a UTF-8 quoted local part is accepted with ALLOW_UTF8",
	  "<\"\xc3\xa9 t\"@x.example>", 0, F_UTF8, 0,
	  "\"\xc3\xa9 t\"@x.example", "\"\xc3\xa9 t\"", NULL, "x.example",
	  P_QUOTED | P_UTF8 },
	{ "a UTF-8 source route needs ALLOW_UTF8",
	  "<@b\xc3\xbc" "cher.example:u@x.example>", 0, 0, -1, NULL, NULL,
	  NULL, NULL, 0 },
	{ "a UTF-8 source route sets utf8",
	  "<@b\xc3\xbc" "cher.example:u@x.example>", 0, F_UTF8, 0,
	  "u@x.example", "u", NULL, "x.example", P_ROUTE | P_UTF8 },
	{ "an overlong UTF-8 sequence is refused", "<\xc0\xaf@x.example>", 0,
	  F_UTF8, -1, NULL, NULL, NULL, NULL, 0 },
	{ "an overlong three-octet sequence is refused",
	  "<\xe0\x80\xaf@x.example>", 0, F_UTF8, -1, NULL, NULL, NULL, NULL,
	  0 },
	{ "a UTF-8 surrogate is refused", "<\xed\xa0\x80@x.example>", 0,
	  F_UTF8, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a code point above U+10FFFF is refused",
	  "<\xf4\x90\x80\x80@x.example>", 0, F_UTF8, -1, NULL, NULL, NULL,
	  NULL, 0 },
	{ "a truncated UTF-8 sequence is refused", "<a\xe2\x82@x.example>", 0,
	  F_UTF8, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a lone continuation octet is refused", "<a\x80@x.example>", 0,
	  F_UTF8, -1, NULL, NULL, NULL, NULL, 0 },
	{ "a four-octet sequence is accepted", "<\xf0\x9f\x93\xa7@x.example>",
	  0, F_UTF8, 0, "\xf0\x9f\x93\xa7@x.example", "\xf0\x9f\x93\xa7",
	  NULL, "x.example", P_UTF8 },
};

static unsigned
path_bits(const struct smtp_path *p)
{
	return (p->null ? P_NULL : 0) | (p->has_route ? P_ROUTE : 0) |
	    (p->quoted_local ? P_QUOTED : 0) |
	    (p->domain_literal ? P_LITERAL : 0) | (p->utf8 ? P_UTF8 : 0) |
	    (p->postmaster ? P_POSTMASTER : 0) |
	    (smtp_path_local_has_route_chars(p) ? P_ROUTECHARS : 0);
}

/* Parse from an exact-size heap copy, so that ASan catches a read past
 * the end. */
static int
parse_copy(const char *in, size_t len, unsigned flags, struct pool *pool,
    struct smtp_path *out, const char **err)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, in, len);
	rc = smtp_path_parse(copy, len, flags, pool, out, err);
	free(copy);
	return rc;
}

static void
test_path_table(void **state)
{
	struct smtp_path p;
	struct pool *pool;
	const char *err;
	size_t i, len, k;
	int rc, nfail = 0;

	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];

		len = c->len != 0 ? c->len : strlen(c->in);
		pool = pool_new(NULL);
		err = NULL;
		rc = parse_copy(c->in, len, c->flags, pool, &p, &err);
		if (rc != c->rc) {
			case_fail(&nfail, c->name, "rc %d, want %d (%s)", rc,
			    c->rc, err != NULL ? err : "no error");
		} else if (rc == -1 && err == NULL) {
			case_fail(&nfail, c->name, "no reason given");
		} else if (rc == 0) {
			const char *raw = c->local_raw != NULL ?
			    c->local_raw : c->local;

			if (strcmp(p.address, c->address) != 0 ||
			    strcmp(p.local, c->local) != 0 ||
			    strcmp(p.local_raw, raw) != 0 ||
			    strcmp(p.domain, c->domain) != 0)
				case_fail(&nfail, c->name, "got address "
				    "\"%s\" local \"%s\" raw \"%s\" domain "
				    "\"%s\"", p.address, p.local, p.local_raw,
				    p.domain);
			if (path_bits(&p) != c->bits)
				case_fail(&nfail, c->name, "flags 0x%x, want "
				    "0x%x", path_bits(&p), c->bits);
		}
		/* A path is complete only at its '>': no proper prefix of
		 * a valid path may parse. Prefixes of refused inputs are
		 * parsed too, for the bounds checks. */
		for (k = 0; k < len; k++) {
			if (parse_copy(c->in, k, c->flags, pool, &p,
			    &err) == 0 && c->rc == 0) {
				case_fail(&nfail, c->name, "prefix of %zu "
				    "octets parsed", k);
				break;
			}
		}
		pool_free(&pool);
	}
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static void
test_prefix_stops_at_bracket(void **state)
{
	static const char in[] = "<\"a>b\"@x.example> SIZE=10";
	struct pool *pool = pool_new(NULL);
	struct smtp_path p;
	const char *err;
	size_t n = 0;

	assert_int_equal(smtp_path_parse_prefix((const uint8_t *)in,
	    sizeof(in) - 1, 0, pool, &p, &n, &err), 0);
	assert_int_equal(n, strlen("<\"a>b\"@x.example>"));
	assert_int_equal(smtp_path_parse_prefix((const uint8_t *)"<>x", 3,
	    SMTP_PATH_ALLOW_NULL, pool, &p, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true(p.null);
	pool_free(&pool);
}

/* Builds "<" local "@" domain ">" with the given lengths. */
static char *
make_path(size_t local, size_t domain, bool quoted)
{
	char *s = malloc(local + domain + 8);
	size_t i, n = 0;

	assert_non_null(s);
	s[n++] = '<';
	for (i = 0; i < local; i++)
		s[n++] = (quoted && (i == 0 || i == local - 1)) ? '"' : 'l';
	s[n++] = '@';
	for (i = 0; i < domain; i++)
		s[n++] = (i % 64 == 63 && i != domain - 1) ? '.' : 'd';
	s[n++] = '>';
	s[n] = '\0';
	return s;
}

static void
test_lengths(void **state)
{
	static const struct {
		const char	*name;
		size_t		 local, domain;
		bool		 quoted;
		int		 rc;
	} cases[] = {
		{ "a 64-octet local part fits", 64, 10, false, 0 },
		{ "a 65-octet local part is refused", 65, 10, false, -1 },
		{ "a 64-octet quoted local part fits", 64, 10, true, 0 },
		{ "a 65-octet quoted local part is refused", 65, 10, true, -1 },
		{ "a 63-octet label fits", 1, 63, false, 0 },
		{ "a 64-octet label is refused", 1, 64, false, -1 },
		{ "a 252-octet domain fills the 256-octet path", 1, 252,
		  false, 0 },
		{ "a 253-octet domain makes the path too long", 1, 253, false,
		  -1 },
		{ "a 256-octet domain is refused", 1, 256, false, -1 },
		{ "a 64-octet local part and a 189-octet domain fit", 64, 189,
		  false, 0 },
		{ "a 64-octet local part and a 190-octet domain do not", 64,
		  190, false, -1 },
	};
	struct smtp_path p;
	struct pool *pool;
	const char *err;
	size_t i;
	char *s;
	int rc, nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = make_path(cases[i].local, cases[i].domain, cases[i].quoted);
		pool = pool_new(NULL);
		rc = parse_copy(s, strlen(s), 0, pool, &p, &err);
		if (rc != cases[i].rc)
			case_fail(&nfail, cases[i].name, "rc %d (%s)", rc,
			    rc == -1 ? err : "ok");
		pool_free(&pool);
		free(s);
	}
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static void
test_domain_parse(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		int		 rc;
		const char	*want;
		bool		 literal;
	} cases[] = {
		{ "a domain is lower-cased", "Mail.Example.ORG", 0,
		  "mail.example.org", false },
		{ "an IPv4 literal is a literal", "[192.0.2.1]", 0,
		  "[192.0.2.1]", true },
		{ "an IPv6 literal is canonical", "[IPv6:0::1]", 0,
		  "[IPv6:::1]", true },
		{ "a bare IPv4 address is a syntactically valid domain",
		  "192.0.2.1", 0, "192.0.2.1", false },
		{ "text after a domain is refused", "x.example foo", -1, NULL,
		  false },
		{ "text after a literal is refused", "[192.0.2.1]x", -1, NULL,
		  false },
		{ "an empty domain is refused", "", -1, NULL, false },
		{ "UTF-8 is refused without ALLOW_UTF8", "b\xc3\xbc" "cher.de",
		  -1, NULL, false },
	};
	struct pool *pool = pool_new(NULL);
	const char *d, *err;
	bool lit;
	size_t i;
	int rc, nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = smtp_domain_parse((const uint8_t *)cases[i].in,
		    strlen(cases[i].in), 0, pool, &d, &lit, &err);
		if (rc != cases[i].rc)
			case_fail(&nfail, cases[i].name, "rc %d", rc);
		else if (rc == 0 && (strcmp(d, cases[i].want) != 0 ||
		    lit != cases[i].literal))
			case_fail(&nfail, cases[i].name, "got \"%s\" %d", d,
			    lit);
	}
	pool_free(&pool);
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static void
test_utf8_seq(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 want;
	} cases[] = {
		{ "ASCII is not a sequence", "a", 0 },
		{ "U+0080 is two octets", "\xc2\x80", 2 },
		{ "U+07FF is two octets", "\xdf\xbf", 2 },
		{ "C0 and C1 leads are overlong", "\xc1\xbf", 0 },
		{ "U+0800 is three octets", "\xe0\xa0\x80", 3 },
		{ "an overlong three-octet form is refused", "\xe0\x9f\xbf", 0 },
		{ "U+D7FF is fine", "\xed\x9f\xbf", 3 },
		{ "U+D800 is a surrogate", "\xed\xa0\x80", 0 },
		{ "U+DFFF is a surrogate", "\xed\xbf\xbf", 0 },
		{ "U+FFFF is three octets", "\xef\xbf\xbf", 3 },
		{ "U+10000 is four octets", "\xf0\x90\x80\x80", 4 },
		{ "an overlong four-octet form is refused", "\xf0\x8f\xbf\xbf",
		  0 },
		{ "U+10FFFF is four octets", "\xf4\x8f\xbf\xbf", 4 },
		{ "above U+10FFFF is refused", "\xf4\x90\x80\x80", 0 },
		{ "F5 is never a lead", "\xf5\x80\x80\x80", 0 },
		{ "a continuation alone is refused", "\x80", 0 },
		{ "a truncated sequence is refused", "\xe2\x82", 0 },
		{ "a bad continuation is refused", "\xe2\x28\xa1", 0 },
	};
	size_t i;
	int nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = smtp_utf8_seq_len((const uint8_t *)cases[i].in,
		    strlen(cases[i].in));

		if (got != cases[i].want)
			case_fail(&nfail, cases[i].name, "%zu, want %zu", got,
			    cases[i].want);
	}
	assert_int_equal(smtp_utf8_seq_len((const uint8_t *)"", 0), 0);
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("paths: null, routes, quoting, literals, domains, UTF-8, "
		    "Postmaster; no prefix of a valid path parses", test_path_table),
		T("the prefix parser stops at the closing '>' outside quotes",
		    test_prefix_stops_at_bracket),
		T("local part 64, label 63 and path 256 octets are enforced",
		    test_lengths),
		T("smtp_domain_parse takes a domain or a literal, nothing more",
		    test_domain_parse),
		T("smtp_utf8_seq_len refuses overlongs, surrogates and "
		    "truncation", test_utf8_seq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
