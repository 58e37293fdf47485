/* test-mail-header: mail/header*.c. Tables for the end of the header
 * section, field iteration, unfolding, RFC 2047 decoding and charsets,
 * dates, and address lists as ENVELOPE needs them. Every input is parsed
 * from a heap copy of exactly its length, so ASan catches a read past
 * the end, and where it matters also with garbage after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "mail/header.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

static char	*copy(const char *s, size_t len);
static void	test_section_len(void **state);
static void	test_fields(void **state);
static void	test_find_and_unfold(void **state);
static void	test_decode(void **state);
static void	test_charsets(void **state);
static void	test_dates(void **state);
static void	test_addresses(void **state);
static void	test_address_limits(void **state);

/* A heap copy of exactly len octets: reading past it is an ASan error. */
static char *
copy(const char *s, size_t len)
{
	char *p = xmalloc(len > 0 ? len : 1);

	memcpy(p, s, len);
	return p;
}

static void
test_section_len(void **state)
{
	static const struct {
		const char	*msg;
		size_t		 want;
	} cases[] = {
		{ "", 0 },
		{ "\r\n", 2 },
		{ "\n", 1 },
		{ "\r\nbody", 2 },
		{ "A: b\r\n\r\nbody", 8 },
		{ "A: b\n\nbody\n\n", 6 },
		{ "A: b\r\n c\r\n\r\n", 12 },
		{ "A: b", 4 },
		{ "A: b\r\n", 6 },
		{ "A: b\r\nB: c\r\n", 12 },
		/* A lone CR at the very end is an empty last line. */
		{ "A: b\r\n\r", 7 },
		/* A line of white space is not empty. */
		{ "A: b\r\n \r\nC: d\r\n\r\nx", 17 },
		/* A CR inside a line does not end it. */
		{ "A: b\r\rC\r\n\r\n", 11 },
		{ "A: b\n\r\nbody", 7 },
	};
	size_t i;
	char *m;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = copy(cases[i].msg, strlen(cases[i].msg));
		if (header_section_len(m, strlen(cases[i].msg)) !=
		    cases[i].want)
			fail_msg("case %zu: %zu, want %zu", i,
			    header_section_len(m, strlen(cases[i].msg)),
			    cases[i].want);
		free(m);
	}
}

/* Fields as "name=value|" (value raw), invalid ones as "!raw|". */
static void
test_fields(void **state)
{
	static const struct {
		const char	*hdr;
		const char	*want;
	} cases[] = {
		{ "Subject: hi\r\nFrom: a@b\r\n\r\nbody",
		  "Subject= hi|From= a@b|" },
		{ "Subject: a\r\n\tb\r\n c\r\nX:\r\n\r\n",
		  "Subject= a\r\n\tb\r\n c|X=|" },
		{ "Subject : obsolete\nbare: lf\n\n",
		  "Subject= obsolete|bare= lf|" },
		{ "no colon here\r\nA: b\r\n", "!no colon here|A= b|" },
		{ " leading fold\r\nA: b\r\n", "! leading fold|A= b|" },
		{ "Bad Name: x\r\n:empty\r\n", "!Bad Name: x|!:empty|" },
		{ "A: no line end", "A= no line end|" },
		{ "A: 8bit \xc3\xa9\r\n", "A= 8bit \xc3\xa9|" },
		{ "", "" },
		{ "\r\nA: after the end\r\n", "" },
	};
	struct header_iter it;
	struct header_field f;
	struct buf got;
	size_t i;
	char *h;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = copy(cases[i].hdr, strlen(cases[i].hdr));
		buf_init(&got, 4096);
		header_iter_init(&it, h, strlen(cases[i].hdr));
		while (header_iter_next(&it, &f)) {
			assert_true(f.off + f.len <= strlen(cases[i].hdr));
			if (f.valid)
				assert_int_equal(buf_printf(&got, "%.*s=%.*s|",
				    (int)f.name_len, f.name, (int)f.value_len,
				    f.value), 0);
			else
				assert_int_equal(buf_printf(&got, "!%.*s|",
				    (int)f.name_len, f.name), 0);
		}
		if (strcmp(buf_cstr(&got), cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, buf_cstr(&got));
		buf_deinit(&got);
		free(h);
	}
}

static void
test_find_and_unfold(void **state)
{
	static const char hdr[] = "X-A: 1\r\nsubject:  \t Hello\r\n"
	    "  folded\r\n world \r\nSubject: second\r\nEmpty:\r\n\r\n"
	    "Body: not a field\r\n";
	struct pool *pool = pool_new(NULL);
	struct header_field f;
	size_t n;
	char *h, *v;

	(void)state;
	h = copy(hdr, sizeof(hdr) - 1);
	assert_true(header_find(h, sizeof(hdr) - 1, "SUBJECT", &f));
	v = header_unfold(pool, f.value, f.value_len, &n);
	assert_string_equal(v, "Hello  folded world");
	assert_int_equal(n, strlen(v));
	assert_true(header_find(h, sizeof(hdr) - 1, "empty", &f));
	assert_string_equal(header_unfold(pool, f.value, f.value_len, NULL),
	    "");
	assert_false(header_find(h, sizeof(hdr) - 1, "body", &f));
	assert_false(header_find(h, sizeof(hdr) - 1, "x-a:", &f));
	assert_false(header_find(h, sizeof(hdr) - 1, "X", &f));
	/* NUL octets are dropped. */
	assert_string_equal(header_unfold(pool, "a\0b", 3, NULL), "ab");
	free(h);
	pool_free(&pool);
}

static void
test_decode(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "plain text stays", "Hello world", "Hello world" },
		{ "B word", "=?UTF-8?B?w6lt?=", "\xc3\xa9m" },
		{ "Q word with underscore and hex",
		  "=?iso-8859-1?q?caf=E9_au_lait?=", "caf\xc3\xa9 au lait" },
		{ "adjacent words join without the space",
		  "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab" },
		{ "adjacent words across a fold join",
		  "=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab" },
		{ "text between words keeps its spaces",
		  "=?utf-8?q?a?= and =?utf-8?q?b?=", "a and b" },
		{ "text before a word keeps its space",
		  "Re: =?utf-8?q?x?= y", "Re: x y" },
		{ "a character split over two words",
		  "=?utf-8?b?w6k=?= =?utf-8?b?qQ==?=", "\xc3\xa9\xef\xbf\xbd" },
		{ "UTF-8 split in the middle of a character joins",
		  "=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9" },
		{ "base64 without padding", "=?utf-8?b?w6lt?=", "\xc3\xa9m" },
		{ "different charsets side by side",
		  "=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=",
		  "\xc3\xa9\xc3\xa9" },
		{ "windows-1252 euro", "=?windows-1252?q?=80?=",
		  "\xe2\x82\xac" },
		{ "RFC 2231 language in the charset",
		  "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
		{ "unknown charset is kept",
		  "=?x-unknown?q?abc?= x", "=?x-unknown?q?abc?= x" },
		{ "bad base64 is kept", "=?utf-8?b?w6*t?=", "=?utf-8?b?w6*t?=" },
		{ "unterminated word is text", "=?utf-8?q?abc", "=?utf-8?q?abc" },
		{ "bad encoding letter", "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
		{ "space inside a word ends it", "=?utf-8?q?a b?=",
		  "=?utf-8?q?a b?=" },
		{ "word glued to text is decoded", "x=?utf-8?q?y?=z", "xyz" },
		{ "invalid UTF-8 octets become U+FFFD", "a\xe9z",
		  "a\xef\xbf\xbdz" },
		{ "raw UTF-8 stays", "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "overlong UTF-8 is refused", "\xc0\xaf", "\xef\xbf\xbd"
		  "\xef\xbf\xbd" },
		{ "decoded invalid UTF-8 becomes U+FFFD",
		  "=?utf-8?q?=FF?=", "\xef\xbf\xbd" },
		{ "empty", "", "" },
		{ "white space only", " \t ", "" },
		{ "charset name with a path is refused",
		  "=?../x?q?a?=", "=?../x?q?a?=" },
		{ "iconv options are refused",
		  "=?utf-7//TRANSLIT?q?a?=", "=?utf-7//TRANSLIT?q?a?=" },
		{ "stateful charset", "=?iso-2022-jp?b?GyRCJCIbKEI=?=",
		  "\xe3\x81\x82" },
	};
	struct pool *pool = pool_new(NULL);
	size_t i;
	char *in, *got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = copy(cases[i].in, strlen(cases[i].in));
		got = header_decode(pool, in, strlen(cases[i].in));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got \"%s\"", cases[i].name, got);
		free(in);
	}
	pool_free(&pool);
}

static void
test_charsets(void **state)
{
	struct pool *pool = pool_new(NULL);
	size_t n;
	char *s;

	(void)state;
	s = charset_to_utf8(pool, "ISO-8859-1", "\xe9t\xe9", 3, &n);
	assert_string_equal(s, "\xc3\xa9t\xc3\xa9");
	assert_int_equal(n, 5);
	assert_null(charset_to_utf8(pool, "no-such-charset", "a", 1, &n));
	assert_null(charset_to_utf8(pool, "", "a", 1, &n));
	assert_null(charset_to_utf8(pool, "*en", "a", 1, &n));
	s = charset_to_utf8(pool, "utf-8*en", "a\xff", 2, &n);
	assert_string_equal(s, "a\xef\xbf\xbd");
	/* A sequence cut at the end becomes U+FFFD. */
	s = charset_to_utf8(pool, "UTF-16BE", "\x00" "A\xd8", 3, &n);
	assert_string_equal(s, "A\xef\xbf\xbd");
	s = charset_to_utf8(pool, "shift_jis", "\x82\xa0", 2, &n);
	assert_string_equal(s, "\xe3\x81\x82");
	s = utf8_sanitize(pool, "a\0b\xed\xa0\x80", 6, &n);
	/* A surrogate is not UTF-8; NUL goes. */
	assert_string_equal(s, "ab\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	pool_free(&pool);
}

static void
test_dates(void **state)
{
	static const struct {
		const char	*in;
		long long	 t;	/* -1: not a date */
		int		 tz;
	} cases[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 1057049557, 120 },
		{ "1 Jul 2003 10:52:37 +0200", 1057049557, 120 },
		{ "Tue, 01 Jul 2003 08:52:37 GMT", 1057049557, 0 },
		{ "Tue,1 Jul 2003 10:52:37 +0200", 1057049557, 120 },
		{ "Tue, 1 Jul 2003 04:52:37 EDT", 1057049557, -240 },
		{ "Tue, 1 Jul 2003 03:52:37 -0500 (CDT)", 1057049557, -300 },
		{ "Tue, 1 Jul 03 10:52:37 +0200", 1057049557, 120 },
		{ "Tue, 1 Jul 103 10:52:37 +0200", 1057049557, 120 },
		{ "Thu, 1 Jan 70 00:00:00 +0000", 0, 0 },
		{ "Tue, 1 Jul 2003 10:52 +0200", 1057049520, 120 },
		{ "Tue, 1 Jul 2003 08:52:37", 1057049557, 0 },
		{ "Tue, 1 Jul 2003 08:52:37 Z", 1057049557, 0 },
		{ "Tue, 1 Jul 2003 08:52:37 A", 1057049557, 0 },
		{ "Tue, 1 Jul 2003 08:52:37 bogus", 1057049557, 0 },
		{ "(comment) Tue, 1 (x) Jul 2003 08:52:37 +0000",
		  1057049557, 0 },
		{ "Tue Jul  1 08:52:37 2003", 1057049557, 0 },
		{ "  Tue, 1 July 2003 08:52:37 +0000  ", 1057049557, 0 },
		{ "Sat, 29 Feb 2020 00:00:00 +0000", 1582934400, 0 },
		{ "Sat, 31 Dec 2016 23:59:60 +0000", 1483228799, 0 },
		{ "Fri, 31 Dec 9999 23:59:59 +1400", 253402250399, 840 },
		{ "Fri, 29 Feb 2019 00:00:00 +0000", -1, 0 },
		{ "Mon, 31 Apr 2003 00:00:00 +0000", -1, 0 },
		{ "Tue, 1 Jul 2003 24:00:00 +0000", -1, 0 },
		{ "Tue, 1 Jul 2003 10:60:00 +0000", -1, 0 },
		{ "Tue, 1 Jul 2003 10:00:00 +0070", 1057053600, 0 },
		{ "Tue, 1 Foo 2003 10:00:00 +0000", -1, 0 },
		{ "Tue, 0 Jul 2003 10:00:00 +0000", -1, 0 },
		{ "Tue, 1 Jul 1899 10:00:00 +0000", -1, 0 },
		{ "Tue, 1 Jul 20030 10:00:00 +0000", -1, 0 },
		{ "Tue, 1 Jul 2003 1:2:3:4 +0000", -1, 0 },
		{ "Tue, 1 Jul 2003 100:00 +0000", -1, 0 },
		{ "", -1, 0 },
		{ "garbage", -1, 0 },
		{ "1 2 3 4 5 6 7 8 9 10 11", -1, 0 },
		{ "Tue, 1 Jul 2003 10:00:00 +000000000000000000000", -1, 0 },
		{ "(unterminated comment", -1, 0 },
	};
	size_t i;
	time_t t;
	int tz, rc;
	char *in;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = copy(cases[i].in, strlen(cases[i].in));
		t = 12345;
		tz = 777;
		rc = header_date_parse(in, strlen(cases[i].in), &t, &tz);
		free(in);
		if (cases[i].t == -1) {
			if (rc != -1)
				fail_msg("\"%s\" parsed", cases[i].in);
			continue;
		}
		if (rc != 0 || (long long)t != cases[i].t ||
		    tz != cases[i].tz)
			fail_msg("\"%s\": rc %d t %lld tz %d", cases[i].in, rc,
			    (long long)t, tz);
	}
}

/* Entries as "name|route|mailbox|domain;", NULL as "-", groups as
 * "[name;" and "];". */
static void
test_addresses(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "a@b.c", "-|-|a|b.c;" },
		{ "Joe Q. Public <john.q.public@example.com>",
		  "Joe Q. Public|-|john.q.public|example.com;" },
		{ "\"Giant; \\\"Big\\\" Box\" <sys@example.net>",
		  "Giant; \"Big\" Box|-|sys|example.net;" },
		{ "=?utf-8?q?J=C3=A9?= <j@x>", "=?utf-8?q?J=C3=A9?=|-|j|x;" },
		{ "Mary Smith <mary@x.test>, jdoe@example.org",
		  "Mary Smith|-|mary|x.test;-|-|jdoe|example.org;" },
		{ "A Group:Ed Jones <c@a.test>,joe@where.test;",
		  "[A Group;Ed Jones|-|c|a.test;-|-|joe|where.test;];" },
		{ "Undisclosed recipients:;", "[Undisclosed recipients;];" },
		{ "g: a@b", "[g;-|-|a|b;];" },
		{ "g: a@b;, h@i", "[g;-|-|a|b;];-|-|h|i;" },
		{ ":;", "[-;];" },
		{ "<@r1,@r2:x@y.z>", "-|@r1,@r2|x|y.z;" },
		{ "\"john doe\"@example.com", "-|-|john doe|example.com;" },
		{ "a . b @ c . d", "-|-|a.b|c.d;" },
		{ "x@[1.2.3.4]", "-|-|x|[1.2.3.4];" },
		{ "a@b (Comment Name)", "Comment Name|-|a|b;" },
		{ "Name <a@b> (comment)", "Name|-|a|b;" },
		{ "John (middle) Smith <a@b>", "John Smith|-|a|b;" },
		{ "<>", "-|-|-|-;" },
		{ "\"\" <e@f>", "-|-|e|f;" },
		{ "foo", "-|-|foo|-;" },
		{ "@bar.com", "-|-|-|bar.com;" },
		{ "a@", "-|-|a|-;" },
		{ "\"quoted only\"", "quoted only|-|-|-;" },
		{ "John Doe", "John Doe|-|-|-;" },
		{ "(comment only), a@b", "-|-|a|b;" },
		{ "<a@b", "-|-|a|b;" },
		{ "\"unterminated <u@v>", "unterminated <u@v>|-|-|-;" },
		{ "a@b, (unterminated", "-|-|a|b;" },
		{ ",,, ,", "" },
		{ "", "" },
		{ "a\r\n\t@b", "-|-|a|b;" },
		{ "caf\xc3\xa9 <c@x>", "caf\xc3\xa9|-|c|x;" },
	};
	struct pool *pool = pool_new(NULL);
	const struct header_address *a;
	struct buf got;
	size_t i;
	char *in;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = copy(cases[i].in, strlen(cases[i].in));
		buf_init(&got, 4096);
		for (a = header_address_parse(pool, in, strlen(cases[i].in),
		    100); a != NULL; a = a->next) {
			if (a->kind == HEADER_ADDR_GROUP_START)
				assert_int_equal(buf_printf(&got, "[%s;",
				    a->name != NULL ? a->name : "-"), 0);
			else if (a->kind == HEADER_ADDR_GROUP_END)
				assert_int_equal(buf_append_str(&got, "];"), 0);
			else
				assert_int_equal(buf_printf(&got,
				    "%s|%s|%s|%s;",
				    a->name != NULL ? a->name : "-",
				    a->route != NULL ? a->route : "-",
				    a->mailbox != NULL ? a->mailbox : "-",
				    a->domain != NULL ? a->domain : "-"), 0);
		}
		if (strcmp(buf_cstr(&got), cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\"", cases[i].in,
			    buf_cstr(&got));
		buf_deinit(&got);
		free(in);
	}
	pool_free(&pool);
}

/* At most max entries, and a group that was started is ended. */
static void
test_address_limits(void **state)
{
	struct pool *pool = pool_new(NULL);
	const struct header_address *a;
	size_t n, i;
	char *big;

	(void)state;
	n = 0;
	for (a = header_address_parse(pool, "a@b, c@d, e@f", 13, 2);
	    a != NULL; a = a->next)
		n++;
	assert_int_equal(n, 2);
	n = 0;
	for (a = header_address_parse(pool, "g: a@b, c@d, e@f;", 17, 3);
	    a != NULL; a = a->next) {
		if (++n == 3)
			assert_int_equal(a->kind, HEADER_ADDR_GROUP_END);
	}
	assert_int_equal(n, 3);
	assert_null(header_address_parse(pool, "g: a@b;", 7, 1));
	assert_null(header_address_parse(pool, "a@b", 3, 0));
	/* A huge list costs what the addresses wanted cost. */
	big = xmalloc(4 << 20);
	for (i = 0; i < (4 << 20) / 4; i++)
		memcpy(big + i * 4, "a@b,", 4);
	n = 0;
	for (a = header_address_parse(pool, big, 4 << 20, 10); a != NULL;
	    a = a->next)
		n++;
	assert_int_equal(n, 10);
	free(big);
	pool_free(&pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("the header section ends at the first empty line",
		    test_section_len),
		T("fields are split at unfolded line starts",
		    test_fields),
		T("fields are found by name and unfolded", test_find_and_unfold),
		T("encoded words decode to UTF-8", test_decode),
		T("charsets convert through iconv", test_charsets),
		T("RFC 5322 dates with obsolete forms", test_dates),
		T("address lists keep names, routes and groups",
		    test_addresses),
		T("address lists stop at their limit", test_address_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
