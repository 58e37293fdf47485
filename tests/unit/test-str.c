/* test-str: lib/str.c. Bounded number parsing (sizes, durations, booleans),
 * their human output forms, string vectors, and the checks on mail
 * addresses (domain, local part, addr_split/addr_normalize). Every parser
 * here takes a whole C string, so each case is fed whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"

/* A named test whose name states the behaviour. */
#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

struct num_case {
	const char	*name;
	const char	*in;
	uint64_t	 max;		/* str_to_u64 only */
	int		 rc;
	uint64_t	 want;
};

static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 cases_done(int nfail);
static char	*repeat(char c, size_t n);
static char	*domain_of_length(size_t len);
static void	 run_num_cases(const struct num_case *cases, size_t n,
		    int (*fn)(const char *, uint64_t *), bool use_max);
static void	 test_u64(void **state);
static void	 test_size(void **state);
static void	 test_duration(void **state);
static void	 test_bool(void **state);
static void	 test_from_size(void **state);
static void	 test_from_duration(void **state);
static void	 test_strv_split(void **state);
static void	 test_strv_split_appends(void **state);
static void	 test_strv_join(void **state);
static void	 test_strv_contains(void **state);
static void	 test_strv_free_twice(void **state);
static void	 test_trim_lower(void **state);
static void	 test_valid_domain(void **state);
static void	 test_domain_lengths(void **state);
static void	 test_valid_local_part(void **state);
static void	 test_addr_split(void **state);
static void	 test_addr_lengths(void **state);
static void	 test_addr_normalize(void **state);

/* Report one failing table case and go on with the others. */
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

static void
cases_done(int nfail)
{
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* "aaa...a.aaa...a" of exactly len bytes, labels of at most 63. */
static char *
domain_of_length(size_t len)
{
	char *s = repeat('a', len);
	size_t i;

	for (i = 63; i < len - 1; i += 64)
		s[i] = '.';
	return s;
}

/* --- numbers --------------------------------------------------------- */


static const struct num_case u64_cases[] = {
	{ "zero parses", "0", UINT64_MAX, 0, 0 },
	{ "leading zeros are decimal, not octal", "0017", UINT64_MAX, 0, 17 },
	{ "UINT64_MAX itself parses", "18446744073709551615", UINT64_MAX, 0,
	  UINT64_MAX },
	{ "UINT64_MAX plus one overflows", "18446744073709551616", UINT64_MAX,
	  -1, 0 },
	{ "UINT64_MAX times ten overflows", "184467440737095516150",
	  UINT64_MAX, -1, 0 },
	{ "twenty nines overflow", "99999999999999999999", UINT64_MAX, -1, 0 },
	{ "the bound itself is allowed", "65535", 65535, 0, 65535 },
	{ "one past the bound is refused", "65536", 65535, -1, 0 },
	{ "a digit above a bound below ten is refused", "7", 5, -1, 0 },
	{ "a bound of zero allows zero", "0", 0, 0, 0 },
	{ "a bound of zero refuses one", "1", 0, -1, 0 },
	{ "empty string is refused", "", UINT64_MAX, -1, 0 },
	{ "trailing garbage is refused", "12x", UINT64_MAX, -1, 0 },
	{ "trailing space is refused", "12 ", UINT64_MAX, -1, 0 },
	{ "leading space is refused", " 12", UINT64_MAX, -1, 0 },
	{ "plus sign is refused", "+1", UINT64_MAX, -1, 0 },
	{ "minus sign is refused", "-1", UINT64_MAX, -1, 0 },
	{ "hex is refused", "0x10", UINT64_MAX, -1, 0 },
	{ "a fraction is refused", "1.5", UINT64_MAX, -1, 0 },
};

static const struct num_case size_cases[] = {
	{ "plain bytes", "1024", 0, 0, 1024 },
	{ "zero", "0", 0, 0, 0 },
	{ "B suffix is bytes", "10B", 0, 0, 10 },
	{ "k is 1024", "512k", 0, 0, 512 * 1024 },
	{ "K is 1024", "512K", 0, 0, 512 * 1024 },
	{ "KB is 1024", "1KB", 0, 0, 1024 },
	{ "10M", "10M", 0, 0, 10 * 1024 * 1024 },
	{ "10m is 10M", "10m", 0, 0, 10 * 1024 * 1024 },
	{ "10MB is 10M", "10MB", 0, 0, 10 * 1024 * 1024 },
	{ "10mb is 10M", "10mb", 0, 0, 10 * 1024 * 1024 },
	{ "1G", "1G", 0, 0, 1024 * 1024 * 1024 },
	{ "1GB is 1G", "1GB", 0, 0, 1024 * 1024 * 1024 },
	{ "1T", "1T", 0, 0, 1024ULL * 1024 * 1024 * 1024 },
	{ "largest T that fits", "16777215T", 0, 0, 16777215ULL << 40 },
	{ "T overflow is refused", "16777216T", 0, -1, 0 },
	{ "largest G that fits", "17179869183G", 0, 0, 17179869183ULL << 30 },
	{ "G overflow is refused", "17179869184G", 0, -1, 0 },
	{ "UINT64_MAX bytes parses", "18446744073709551615", 0, 0, UINT64_MAX },
	{ "UINT64_MAX plus one bytes overflows", "18446744073709551616", 0,
	  -1, 0 },
	{ "empty string is refused", "", 0, -1, 0 },
	{ "a unit alone is refused", "M", 0, -1, 0 },
	{ "MB alone is refused", "MB", 0, -1, 0 },
	{ "unknown unit is refused", "10X", 0, -1, 0 },
	{ "two units are refused", "10MBB", 0, -1, 0 },
	{ "unit then number is refused", "M10", 0, -1, 0 },
	{ "space before the unit is refused", "10 M", 0, -1, 0 },
	{ "a fraction is refused", "1.5G", 0, -1, 0 },
	{ "a negative size is refused", "-1M", 0, -1, 0 },
	{ "a duration unit is refused", "5h", 0, -1, 0 },
	{ "forty digits are refused",
	  "1234567890123456789012345678901234567890", 0, -1, 0 },
};

static const struct num_case duration_cases[] = {
	{ "plain seconds", "300", 0, 0, 300 },
	{ "zero", "0", 0, 0, 0 },
	{ "30s", "30s", 0, 0, 30 },
	{ "5m is 300 seconds", "5m", 0, 0, 300 },
	{ "5M is minutes too", "5M", 0, 0, 300 },
	{ "4h", "4h", 0, 0, 4 * 3600 },
	{ "5d", "5d", 0, 0, 5 * 86400 },
	{ "1w", "1w", 0, 0, 604800 },
	{ "largest w that fits", "30500568904943w", 0, 0,
	  30500568904943ULL * 604800 },
	{ "w overflow is refused", "30500568904944w", 0, -1, 0 },
	{ "d overflow is refused", "213503982334602d", 0, -1, 0 },
	{ "empty string is refused", "", 0, -1, 0 },
	{ "a unit alone is refused", "m", 0, -1, 0 },
	{ "unknown unit is refused", "5x", 0, -1, 0 },
	{ "two units are refused", "5mm", 0, -1, 0 },
	{ "combined units are refused", "1h30m", 0, -1, 0 },
	{ "a fraction is refused", "1.5h", 0, -1, 0 },
	{ "a size unit is refused", "5k", 0, -1, 0 },
	{ "a space before the unit is refused", "5 m", 0, -1, 0 },
};

static void
run_num_cases(const struct num_case *cases, size_t n,
    int (*fn)(const char *, uint64_t *), bool use_max)
{
	uint64_t v;
	size_t i;
	int rc, nfail = 0;

	for (i = 0; i < n; i++) {
		const struct num_case *c = &cases[i];

		v = 12345;
		rc = use_max ? str_to_u64(c->in, c->max, &v) : fn(c->in, &v);
		if (rc != c->rc)
			case_fail(&nfail, c->name, "\"%s\": rc %d, want %d",
			    c->in, rc, c->rc);
		else if (rc == 0 && v != c->want)
			case_fail(&nfail, c->name, "\"%s\": %llu, want %llu",
			    c->in, (unsigned long long)v,
			    (unsigned long long)c->want);
		else if (rc == -1 && v != 12345)
			case_fail(&nfail, c->name, "\"%s\": failure wrote "
			    "the result", c->in);
	}
	cases_done(nfail);
}

static void
test_u64(void **state)
{
	(void)state;
	run_num_cases(u64_cases, sizeof(u64_cases) / sizeof(u64_cases[0]),
	    NULL, true);
}

static void
test_size(void **state)
{
	(void)state;
	run_num_cases(size_cases, sizeof(size_cases) / sizeof(size_cases[0]),
	    str_to_size, false);
}

static void
test_duration(void **state)
{
	(void)state;
	run_num_cases(duration_cases,
	    sizeof(duration_cases) / sizeof(duration_cases[0]),
	    str_to_duration, false);
}

static void
test_bool(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
		bool		 want;
	} cases[] = {
		{ "yes", 0, true }, { "no", 0, false },
		{ "on", 0, true }, { "off", 0, false },
		{ "true", 0, true }, { "false", 0, false },
		{ "1", 0, true }, { "0", 0, false },
		{ "YES", 0, true }, { "Off", 0, false },
		{ "", -1, false }, { "y", -1, false }, { "n", -1, false },
		{ "2", -1, false }, { "yes ", -1, false }, { " no", -1, false },
		{ "yess", -1, false }, { "enabled", -1, false },
	};
	size_t i;
	bool b;
	int rc, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = !cases[i].want;
		rc = str_to_bool(cases[i].in, &b);
		if (rc != cases[i].rc || (rc == 0 && b != cases[i].want))
			case_fail(&nfail, cases[i].in, "rc %d value %d", rc, b);
	}
	cases_done(nfail);
}

struct out_case {
	uint64_t	 v;
	const char	*want;
};

static void
test_from_size(void **state)
{
	static const struct out_case cases[] = {
		{ 0, "0" }, { 1, "1" }, { 1023, "1023" }, { 1024, "1K" },
		{ 1536, "1536" }, { 10 * 1024 * 1024, "10M" },
		{ 1024 * 1024 * 1024, "1G" }, { 3ULL << 40, "3T" },
		{ 1ULL << 50, "1024T" }, { (1ULL << 30) + 1024, "1048577K" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	char out[32];
	uint64_t back;
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		str_from_size(cases[i].v, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			case_fail(&nfail, cases[i].want, "got \"%s\"", out);
		if (str_to_size(out, &back) == -1 || back != cases[i].v)
			case_fail(&nfail, cases[i].want, "\"%s\" does not "
			    "parse back to %llu", out,
			    (unsigned long long)cases[i].v);
	}
	cases_done(nfail);

	/* A short output buffer truncates but stays terminated. */
	str_from_size(123456, out, 4);
	assert_string_equal(out, "123");
}

static void
test_from_duration(void **state)
{
	static const struct out_case cases[] = {
		{ 0, "0s" }, { 1, "1s" }, { 30, "30s" }, { 90, "90s" },
		{ 300, "5m" }, { 5400, "90m" }, { 14400, "4h" },
		{ 86400, "1d" }, { 604800, "7d" }, { 90000, "25h" },
		{ UINT64_MAX, "18446744073709551615s" },
	};
	char out[32];
	uint64_t back;
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		str_from_duration(cases[i].v, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			case_fail(&nfail, cases[i].want, "got \"%s\"", out);
		if (str_to_duration(out, &back) == -1 || back != cases[i].v)
			case_fail(&nfail, cases[i].want, "\"%s\" does not "
			    "parse back to %llu", out,
			    (unsigned long long)cases[i].v);
	}
	cases_done(nfail);
}

/* --- string vectors -------------------------------------------------- */

static void
test_strv_split(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		const char	*want;	/* items joined with "|" */
		size_t		 n;
	} cases[] = {
		{ "empty string gives no items", "", "", 0 },
		{ "only separators give no items", " ,, ,\t\n", "", 0 },
		{ "one word", "smtp", "smtp", 1 },
		{ "comma separated", "a,b", "a|b", 2 },
		{ "comma and space separated", "a, b", "a|b", 2 },
		{ "space separated", "a b", "a|b", 2 },
		{ "tabs and newlines separate", "a\tb\n c", "a|b|c", 3 },
		{ "empty items are dropped", ",a,,b,", "a|b", 2 },
		{ "listener addresses keep their colons", "*:25, [::1]:25",
		  "*:25|[::1]:25", 2 },
	};
	struct strv sv;
	size_t i;
	char *joined;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&sv, 0, sizeof(sv));
		strv_split(&sv, cases[i].in);
		joined = strv_join(&sv, "|");
		if (sv.n != cases[i].n || strcmp(joined, cases[i].want) != 0)
			case_fail(&nfail, cases[i].name, "%zu items \"%s\"",
			    sv.n, joined);
		if (sv.n > 0 && sv.v[sv.n] != NULL)
			case_fail(&nfail, cases[i].name, "not NULL-terminated");
		free(joined);
		strv_free(&sv);
	}
	cases_done(nfail);
}

static void
test_strv_split_appends(void **state)
{
	struct strv sv = { NULL, 0 };

	(void)state;
	strv_push(&sv, "first");
	strv_split(&sv, "second, third");
	assert_int_equal(sv.n, 3);
	assert_string_equal(sv.v[0], "first");
	assert_string_equal(sv.v[2], "third");
	assert_null(sv.v[3]);
	strv_free(&sv);
}

static void
test_strv_join(void **state)
{
	struct strv sv = { NULL, 0 };
	char *s;

	(void)state;
	s = strv_join(&sv, ", ");
	assert_string_equal(s, "");
	free(s);

	strv_push(&sv, "a");
	s = strv_join(&sv, ", ");
	assert_string_equal(s, "a");
	free(s);

	strv_push(&sv, "bb");
	strv_push(&sv, "");
	strv_push(&sv, "ccc");
	s = strv_join(&sv, ", ");
	assert_string_equal(s, "a, bb, , ccc");
	free(s);
	s = strv_join(&sv, "");
	assert_string_equal(s, "abbccc");
	free(s);
	strv_free(&sv);
}

static void
test_strv_contains(void **state)
{
	struct strv sv = { NULL, 0 };

	(void)state;
	assert_false(strv_contains_nocase(&sv, "smtp"));
	strv_split(&sv, "smtp, IMAP");
	assert_true(strv_contains_nocase(&sv, "smtp"));
	assert_true(strv_contains_nocase(&sv, "SMTP"));
	assert_true(strv_contains_nocase(&sv, "imap"));
	assert_false(strv_contains_nocase(&sv, "pop3"));
	assert_false(strv_contains_nocase(&sv, "smt"));
	assert_false(strv_contains_nocase(&sv, ""));
	strv_free(&sv);
}

static void
test_strv_free_twice(void **state)
{
	struct strv sv = { NULL, 0 };

	(void)state;
	strv_push(&sv, "x");
	strv_free(&sv);
	assert_null(sv.v);
	assert_int_equal(sv.n, 0);
	strv_free(&sv);
}

static void
test_trim_lower(void **state)
{
	char a[] = " \t value with  inner space \r\n";
	char b[] = " \t ";
	char c[] = "MiXeD.Example\xc3\x84";

	(void)state;
	assert_string_equal(str_trim(a), "value with  inner space");
	assert_string_equal(str_trim(b), "");
	str_lower(c);
	assert_string_equal(c, "mixed.example\xc3\x84");
}

/* --- addresses ------------------------------------------------------- */

struct valid_case {
	const char	*name;
	const char	*in;
	bool		 want;
};

static void
test_valid_domain(void **state)
{
	static const struct valid_case cases[] = {
		{ "a plain domain", "example.com", true },
		{ "one label", "localhost", true },
		{ "upper case", "EXAMPLE.COM", true },
		{ "inner hyphen", "mail-1.example.com", true },
		{ "punycode double hyphen", "xn--bcher-kva.example", true },
		{ "digits only", "1.2.3.4", true },
		{ "underscore", "_dmarc.example.com", true },
		{ "UTF-8 bytes", "b\xc3\xbc" "cher.example", true },
		{ "UTF-8 CJK", "\xe4\xbe\x8b\xe3\x81\x88.jp", true },
		{ "empty", "", false },
		{ "only a dot", ".", false },
		{ "leading dot", ".example.com", false },
		{ "trailing dot", "example.com.", false },
		{ "empty label", "example..com", false },
		{ "leading hyphen", "-example.com", false },
		{ "trailing hyphen", "example.com-", false },
		{ "hyphen before a dot", "example-.com", false },
		{ "hyphen after a dot", "example.-com", false },
		{ "only a hyphen", "-", false },
		{ "space", "exa mple.com", false },
		{ "at sign", "user@example.com", false },
		{ "address literal", "[192.0.2.1]", false },
		{ "colon", "example.com:25", false },
		{ "slash", "example.com/x", false },
		{ "control byte", "exa\x01mple.com", false },
	};
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (valid_domain(cases[i].in) != cases[i].want)
			case_fail(&nfail, cases[i].name, "\"%s\" is %s",
			    cases[i].in, cases[i].want ? "refused" :
			    "accepted");
	cases_done(nfail);
}

static void
test_domain_lengths(void **state)
{
	char *s, *label;

	(void)state;
	label = repeat('a', 63);
	assert_true(valid_domain(label));
	s = malloc(63 + 5);
	assert_non_null(s);
	snprintf(s, 63 + 5, "%s.com", label);
	assert_true(valid_domain(s));
	free(label);
	free(s);

	label = repeat('a', 64);
	assert_false(valid_domain(label));
	s = malloc(64 + 5);
	assert_non_null(s);
	snprintf(s, 64 + 5, "x.%s", label);
	assert_false(valid_domain(s));
	free(label);
	free(s);

	/* 253 bytes is the longest name that fits in DNS. */
	s = domain_of_length(253);
	assert_true(valid_domain(s));
	free(s);
	s = domain_of_length(254);
	assert_false(valid_domain(s));
	free(s);
}

static void
test_valid_local_part(void **state)
{
	static const struct valid_case cases[] = {
		{ "a plain word", "user", true },
		{ "one character", "a", true },
		{ "dot inside", "first.last", true },
		{ "plus tag", "user+tag", true },
		{ "every atext special", "!#$%&'*+-/=?^_`{|}~", true },
		{ "case is allowed", "John.Doe", true },
		{ "UTF-8 bytes", "j\xc3\xb6rg", true },
		{ "empty", "", false },
		{ "only a dot", ".", false },
		{ "leading dot", ".user", false },
		{ "trailing dot", "user.", false },
		{ "two dots", "a..b", false },
		{ "space", "a b", false },
		{ "at sign", "a@b", false },
		{ "quoted string", "\"quoted\"", false },
		{ "parentheses", "a(b)", false },
		{ "comma", "a,b", false },
		{ "backslash", "a\\b", false },
		{ "colon", "a:b", false },
		{ "semicolon", "a;b", false },
		{ "angle bracket", "a<b", false },
		{ "square bracket", "a[b", false },
		{ "control byte", "a\x7f", false },
	};
	size_t i;
	char *s;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (valid_local_part(cases[i].in) != cases[i].want)
			case_fail(&nfail, cases[i].name, "\"%s\" is %s",
			    cases[i].in, cases[i].want ? "refused" :
			    "accepted");
	cases_done(nfail);

	s = repeat('a', 64);
	assert_true(valid_local_part(s));
	free(s);
	s = repeat('a', 65);
	assert_false(valid_local_part(s));
	free(s);
}

static void
test_addr_split(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		const char	*local;		/* NULL: an error */
		const char	*domain;	/* or the error */
	} cases[] = {
		{ "domain is lower-cased, local part keeps its case",
		  "John.Doe@Example.COM", "John.Doe", "example.com" },
		{ "plus tag stays in the local part", "user+tag@example.com",
		  "user+tag", "example.com" },
		{ "catch-all form gives an empty local part", "@Example.org",
		  "", "example.org" },
		{ "UTF-8 on both sides", "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
		  "j\xc3\xb6rg", "b\xc3\xbc" "cher.example" },
		{ "no @ is refused", "user.example.com", NULL,
		  "not an address (no @)" },
		{ "empty string is refused", "", NULL,
		  "not an address (no @)" },
		{ "empty domain is refused", "user@", NULL, "invalid domain" },
		{ "a lone @ is refused", "@", NULL, "invalid domain" },
		{ "bad domain is refused", "user@-bad.example", NULL,
		  "invalid domain" },
		{ "trailing dot in the domain is refused", "user@example.com.",
		  NULL, "invalid domain" },
		{ "domain literal is refused", "user@[192.0.2.1]", NULL,
		  "invalid domain" },
		{ "two @ are refused", "a@b@example.com", NULL,
		  "invalid local part" },
		{ "leading dot in the local part is refused",
		  ".user@example.com", NULL, "invalid local part" },
		{ "quoted local part is refused", "\"a b\"@example.com", NULL,
		  "invalid local part" },
	};
	char *local, *domain;
	const char *error;
	size_t i;
	int rc, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		local = domain = NULL;
		error = NULL;
		rc = addr_split(cases[i].in, &local, &domain, &error);
		if (cases[i].local != NULL) {
			if (rc != 0)
				case_fail(&nfail, cases[i].name, "error \"%s\"",
				    error);
			else if (strcmp(local, cases[i].local) != 0 ||
			    strcmp(domain, cases[i].domain) != 0)
				case_fail(&nfail, cases[i].name,
				    "\"%s\" @ \"%s\"", local, domain);
		} else {
			if (rc != -1)
				case_fail(&nfail, cases[i].name, "accepted");
			else if (error == NULL ||
			    strcmp(error, cases[i].domain) != 0)
				case_fail(&nfail, cases[i].name, "error \"%s\"",
				    error != NULL ? error : "(null)");
		}
		free(local);
		free(domain);
	}
	cases_done(nfail);
}

static void
test_addr_lengths(void **state)
{
	char *local, *domain, *l64, *l65, *d253, *addr;
	const char *error = NULL;

	(void)state;
	l64 = repeat('a', 64);
	l65 = repeat('a', 65);
	d253 = domain_of_length(253);

	/* 64 + 1 + 253 = 318: the longest address that is valid. */
	addr = malloc(400);
	assert_non_null(addr);
	snprintf(addr, 400, "%s@%s", l64, d253);
	assert_int_equal(addr_split(addr, &local, &domain, &error), 0);
	assert_string_equal(local, l64);
	assert_string_equal(domain, d253);
	free(local);
	free(domain);

	snprintf(addr, 400, "%s@example.com", l65);
	assert_int_equal(addr_split(addr, &local, &domain, &error), -1);
	assert_string_equal(error, "invalid local part");

	/* Past 320 bytes the address is refused before any other check. */
	memset(addr, 'a', 321);
	addr[10] = '@';
	addr[321] = '\0';
	assert_int_equal(addr_split(addr, &local, &domain, &error), -1);
	assert_string_equal(error, "address too long");

	free(addr);
	free(l64);
	free(l65);
	free(d253);
}

static void
test_addr_normalize(void **state)
{
	const char *error = NULL;
	char *s;

	(void)state;
	s = addr_normalize("John.Doe@Example.COM", &error);
	assert_non_null(s);
	assert_string_equal(s, "John.Doe@example.com");
	free(s);

	s = addr_normalize("@EXAMPLE.org", &error);
	assert_non_null(s);
	assert_string_equal(s, "@example.org");
	free(s);

	assert_null(addr_normalize("no-at-sign", &error));
	assert_string_equal(error, "not an address (no @)");
	assert_null(addr_normalize("user@bad..example", &error));
	assert_string_equal(error, "invalid domain");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("str_to_u64 keeps bounds, catches overflow, refuses garbage",
		    test_u64),
		T("str_to_size takes units K M G T with optional B", test_size),
		T("str_to_duration takes units s m h d w", test_duration),
		T("str_to_bool takes yes/no on/off true/false 1/0", test_bool),
		T("str_from_size picks the largest exact unit and parses back",
		    test_from_size),
		T("str_from_duration picks the largest exact unit and parses "
		    "back", test_from_duration),
		T("strv_split splits on commas and white space",
		    test_strv_split),
		T("strv_split appends to an existing vector",
		    test_strv_split_appends),
		T("strv_join puts the separator between items only",
		    test_strv_join),
		T("strv_contains_nocase ignores case, matches whole items",
		    test_strv_contains),
		T("strv_free leaves an empty vector that can be freed again",
		    test_strv_free_twice),
		T("str_trim strips both ends, str_lower only ASCII",
		    test_trim_lower),
		T("valid_domain checks labels, hyphens and dots, allows UTF-8",
		    test_valid_domain),
		T("valid_domain allows labels of 63 and names of 253 bytes",
		    test_domain_lengths),
		T("valid_local_part checks dots and atext, allows 64 bytes",
		    test_valid_local_part),
		T("addr_split lower-cases the domain and names the error",
		    test_addr_split),
		T("addr_split takes 318 bytes and refuses over 320",
		    test_addr_lengths),
		T("addr_normalize lower-cases only the domain",
		    test_addr_normalize),
	};

	return cmocka_run_group_tests_name("str", tests, NULL, NULL);
}
