/* test-imap-search: imap/search.c with the date and flag helpers it uses
 * (imap/imap-date.c, imap/flags.c). Every search key against three
 * messages through the callback interface (flags, keywords, sizes,
 * internal and sent dates, header fields, body and text, sequence and UID
 * sets with "*"), OR/NOT/lists, case folding beyond ASCII, evaluation
 * order (cheap keys first), callback failure, every parse error with its
 * text and BADCHARSET; IMAP dates and date-times, INTERNALDATE output,
 * RFC 5322 Date: days; flag lists read and written. Runs with TZ=UTC. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/flags.h"
#include "imap/imap-date.h"
#include "imap/parse.h"
#include "imap/search.h"
#include "lib/buf.h"
#include "lib/pool.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }
#define NMSG		3

struct field {
	const char	*name;
	const char	*value;
};

struct fake {
	struct field	 fields[6];
	const char	*body;
	const char	*keyword;
	bool		 fail;		/* callbacks return -1 */
	unsigned	 text_calls;
};

struct prog_case {
	const char	*program;
	const char	*matches;	/* sequence numbers, "1 3" */
};

struct error_case {
	const char	*program;
	const char	*error;
	int		 r;
};

static struct fake fakes[NMSG] = {
	{ { { "From", "Alice <alice@example.org>" },
	    { "To", "bob@example.net" },
	    { "Subject", "Hello World" },
	    { "Date", "Fri, 1 Mar 2024 09:00:00 +0000" } },
	  "the quick brown fox", "$Label1", false, 0 },
	{ { { "From", "\xc3\x9cn\xc3\xaf\x63\xc3\xb6\x64\xc3\xa9 <u@example.org>" },
	    { "Subject", "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln" },
	    { "Cc", "carol@example.com" },
	    { "Date", "2 Mar 2024 23:59:59 -1200" } },
	  "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8"
	  "\xd1\x80", NULL, false, 0 },
	{ { { "Subject", "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f"
	      "\xce\xa3" },
	    { "X-Tag", "one" },
	    { "X-Tag", "two" },
	    { "Date", "not a date" } },
	  "", NULL, false, 0 },
};

static struct imap_search_msg msgs[NMSG];

static bool	 fake_keyword(void *ctx, const char *kw);
static int	 fake_header(void *ctx, const char *name,
		    imap_search_visit visit, void *vctx);
static int	 fake_text(void *ctx, bool whole, imap_search_visit visit,
		    void *vctx);
static void	 setup_msgs(void);
static int	 program(struct imap_parser *p, struct pool *pool,
		    const char *text, struct imap_search **s_r,
		    const char **error_r);
static void	 test_programs(void **state);
static void	 test_errors(void **state);
static void	 test_order_and_failure(void **state);
static void	 test_fold(void **state);
static void	 test_dates(void **state);
static void	 test_flags(void **state);

static bool
fake_keyword(void *ctx, const char *kw)
{
	const struct fake *f = ctx;

	return f->keyword != NULL && strcasecmp(f->keyword, kw) == 0;
}

static int
fake_header(void *ctx, const char *name, imap_search_visit visit, void *vctx)
{
	struct fake *f = ctx;
	size_t i;

	if (f->fail)
		return -1;
	for (i = 0; i < 6 && f->fields[i].name != NULL; i++)
		if (strcasecmp(f->fields[i].name, name) == 0 &&
		    visit(vctx, f->fields[i].value,
		    strlen(f->fields[i].value)) == 1)
			break;
	return 0;
}

static int
fake_text(void *ctx, bool whole, imap_search_visit visit, void *vctx)
{
	struct fake *f = ctx;
	size_t i;

	f->text_calls++;
	if (f->fail)
		return -1;
	if (whole)
		for (i = 0; i < 6 && f->fields[i].name != NULL; i++)
			if (visit(vctx, f->fields[i].value,
			    strlen(f->fields[i].value)) == 1)
				return 0;
	(void)visit(vctx, f->body, strlen(f->body));
	return 0;
}

static void
setup_msgs(void)
{
	static const unsigned flags[NMSG] = {
		IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED,
		IMAP_FLAG_FLAGGED | IMAP_FLAG_RECENT,
		IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT | IMAP_FLAG_RECENT |
		    IMAP_FLAG_SEEN,
	};
	static const uint64_t sizes[NMSG] = { 1000, 5000, 300 };
	static const time_t dates[NMSG] = {
		1709287200,	/* 2024-03-01 10:00 */
		1709422200,	/* 2024-03-02 23:30 */
		1709078400,	/* 2024-02-28 00:00 */
	};
	size_t i;

	for (i = 0; i < NMSG; i++) {
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].seq = (uint32_t)i + 1;
		msgs[i].uid = (uint32_t)(i + 1) * 10;
		msgs[i].flags = flags[i];
		msgs[i].size = sizes[i];
		msgs[i].internal_date = dates[i];
		msgs[i].ctx = &fakes[i];
		msgs[i].has_keyword = fake_keyword;
		msgs[i].header = fake_header;
		msgs[i].text = fake_text;
		fakes[i].fail = false;
	}
}

/* "t SEARCH <text>" through the command parser, then the search parser. */
static int
program(struct imap_parser *p, struct pool *pool, const char *text,
    struct imap_search **s_r, const char **error_r)
{
	char line[1024];
	const struct imap_cmd *cmd;
	const struct imap_literal *lit;
	enum parse_result r;
	size_t used, off = 0, len;
	int n;

	n = snprintf(line, sizeof(line), "t SEARCH %s\r\n", text);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	len = (size_t)n;
	for (;;) {
		r = imap_parser_feed(p, (const uint8_t *)line + off,
		    len - off, &used);
		off += used;
		if (r != PARSE_DONE) {
			print_error("\"%s\": parser %d\n", text, (int)r);
			fail();
		}
		if ((lit = imap_parser_literal(p)) != NULL) {
			assert_int_equal(imap_parser_literal_accept(p), 0);
			continue;
		}
		cmd = imap_parser_cmd(p);
		assert_non_null(cmd);
		return imap_search_parse(cmd->args, cmd->count, pool, s_r,
		    error_r);
	}
}

static const struct prog_case prog_cases[] = {
	{ "ALL", "1 2 3" },
	{ "all", "1 2 3" },
	{ "SEEN", "1 3" },
	{ "UNSEEN", "2" },
	{ "NEW", "2" },
	{ "OLD", "1" },
	{ "RECENT", "2 3" },
	{ "ANSWERED", "1" },
	{ "UNANSWERED", "2 3" },
	{ "DELETED", "3" },
	{ "UNDELETED", "1 2" },
	{ "DRAFT", "3" },
	{ "UNDRAFT", "1 2" },
	{ "FLAGGED", "2" },
	{ "UNFLAGGED", "1 3" },
	{ "KEYWORD $Label1", "1" },
	{ "UNKEYWORD $label1", "2 3" },
	{ "FROM alice", "1" },
	{ "FROM \"ALICE <\"", "1" },
	{ "FROM \"\xc3\xbcN\xc3\x8f\"", "2" },
	{ "FROM example.org", "1 2" },
	{ "FROM \"\"", "1 2" },
	{ "TO bob", "1" },
	{ "CC CAROL", "2" },
	{ "BCC x", "" },
	{ "SUBJECT \"hello world\"", "1" },
	{ "SUBJECT \"gr\xc3\xbc\xe1\xba\x9e\x65\"", "2" },	/* capital sharp s */
	{ "SUBJECT \"gr\xc3\xbcsse\"", "" },		/* no full folding */
	{ "SUBJECT \"\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82\"",
	  "3" },					/* final sigma */
	{ "SUBJECT {5}\r\nWORLD", "1" },
	{ "HEADER X-Tag two", "3" },
	{ "HEADER x-tag \"\"", "3" },
	{ "HEADER Subject \"\"", "1 2 3" },
	{ "HEADER X-None \"\"", "" },
	{ "HEADER \"Subject\" AUS", "2" },
	{ "BODY fox", "1" },
	{ "BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\x9c\"",
	  "2" },
	{ "BODY \"\"", "1 2 3" },
	{ "BODY hello", "" },
	{ "TEXT hello", "1" },
	{ "TEXT fox", "1" },
	{ "TEXT zebra", "" },
	{ "BEFORE 1-Mar-2024", "3" },
	{ "BEFORE 28-Feb-2024", "" },
	{ "ON 1-Mar-2024", "1" },
	{ "ON \"2-Mar-2024\"", "2" },
	{ "ON 02-mar-2024", "2" },
	{ "SINCE 1-Mar-2024", "1 2" },
	{ "SINCE 3-Mar-2024", "" },
	{ "SENTON 2-Mar-2024", "2" },			/* its own zone */
	{ "SENTBEFORE 1-Mar-2024", "3" },		/* internal date */
	{ "SENTSINCE 1-Mar-2024", "1 2" },
	{ "SENTON 28-Feb-2024", "3" },
	{ "LARGER 999", "1 2" },
	{ "LARGER 1000", "2" },
	{ "SMALLER 1000", "3" },
	{ "SMALLER 300", "" },
	{ "1", "1" },
	{ "2:*", "2 3" },
	{ "*", "3" },
	{ "3:1", "1 2 3" },
	{ "1,3", "1 3" },
	{ "4", "" },
	{ "UID 20:*", "2 3" },
	{ "UID 25", "" },
	{ "UID 1:15", "1" },
	{ "UID *", "3" },
	{ "UID 31:*", "3" },
	{ "OR SEEN FLAGGED", "1 2 3" },
	{ "NOT SEEN", "2" },
	{ "NOT NOT SEEN", "1 3" },
	{ "(SEEN DELETED)", "3" },
	{ "SEEN DELETED", "3" },
	{ "OR (FROM alice) (CC carol)", "1 2" },
	{ "NOT (OR 1 2)", "3" },
	{ "OR OR 1 2 3", "1 2 3" },
	{ "OR 1 OR 2 UID 30", "1 2 3" },
	{ "((((ALL))))", "1 2 3" },
	{ "CHARSET UTF-8 SUBJECT hello", "1" },
	{ "charset us-ascii all", "1 2 3" },
	{ "CHARSET \"utf-8\" ALL", "1 2 3" },
	{ "UNSEEN UNDELETED NOT FROM alice", "2" },
};

static void
test_programs(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	struct imap_search *s;
	const char *error;
	char got[64];
	size_t i, k;
	int r;

	(void)state;
	setup_msgs();
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	for (i = 0; i < sizeof(prog_cases) / sizeof(prog_cases[0]); i++) {
		error = NULL;
		if (program(p, pool, prog_cases[i].program, &s, &error) != 0) {
			print_error("\"%s\": %s\n", prog_cases[i].program,
			    error);
			fail();
		}
		imap_search_prepare(s, NMSG, 30);
		got[0] = '\0';
		for (k = 0; k < NMSG; k++) {
			r = imap_search_match(s, &msgs[k]);
			assert_int_not_equal(r, -1);
			if (r == 1)
				snprintf(got + strlen(got),
				    sizeof(got) - strlen(got), "%s%zu",
				    got[0] ? " " : "", k + 1);
		}
		if (strcmp(got, prog_cases[i].matches) != 0) {
			print_error("\"%s\": matched \"%s\", want \"%s\"\n",
			    prog_cases[i].program, got,
			    prog_cases[i].matches);
			fail();
		}
	}
	imap_parser_free(&p);
	pool_free(&pool);
}

static const struct error_case error_cases[] = {
	{ "CHARSET", "CHARSET needs a charset name", -1 },
	{ "CHARSET (x) ALL", "CHARSET needs a charset name", -1 },
	{ "CHARSET KOI8-R ALL", "Unsupported charset",
	  IMAP_SEARCH_BADCHARSET },
	{ "CHARSET utf-8", "Missing search criteria", -1 },
	{ "FOO", "Unknown search key FOO", -1 },
	{ "ALL CHARSET UTF-8", "Unknown search key CHARSET", -1 },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKL",
	  "Unknown search key ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", -1 },
	{ "FROM", "FROM needs a string", -1 },
	{ "SUBJECT (a)", "SUBJECT needs a string", -1 },
	{ "BODY", "BODY needs a string", -1 },
	{ "BEFORE", "BEFORE needs a date", -1 },
	{ "BEFORE 32-Jan-2020", "Invalid date for BEFORE (d-Mon-yyyy)", -1 },
	{ "SENTON 1-Jan-20", "Invalid date for SENTON (d-Mon-yyyy)", -1 },
	{ "SINCE \"1-Jan-2020 \"", "Invalid date for SINCE (d-Mon-yyyy)", -1 },
	{ "LARGER", "LARGER needs a number", -1 },
	{ "SMALLER x", "SMALLER needs a number", -1 },
	{ "LARGER 9223372036854775808", "LARGER needs a number", -1 },
	{ "UID", "UID needs a sequence set", -1 },
	{ "UID \"1\"", "UID needs a sequence set", -1 },
	{ "UID x", "Invalid sequence set", -1 },
	{ "UID $", "Invalid sequence set: $ (SEARCHRES) is not supported",
	  -1 },
	{ "$", "Invalid sequence set: $ (SEARCHRES) is not supported", -1 },
	{ "0", "Invalid sequence set: numbers start at 1", -1 },
	{ "1:x", "Invalid sequence set", -1 },
	{ "KEYWORD", "KEYWORD needs a keyword", -1 },
	{ "KEYWORD \\Seen", "Invalid keyword for KEYWORD", -1 },
	{ "UNKEYWORD a%b", "Invalid keyword for UNKEYWORD", -1 },
	{ "KEYWORD \"x\"", "KEYWORD needs a keyword", -1 },
	{ "HEADER X", "HEADER needs a field name and a string", -1 },
	{ "HEADER", "HEADER needs a field name and a string", -1 },
	{ "HEADER \"a:b\" x", "Invalid header field name", -1 },
	{ "HEADER \"\" x", "Invalid header field name", -1 },
	{ "HEADER \"a b\" x", "Invalid header field name", -1 },
	{ "NOT", "NOT needs a search key", -1 },
	{ "OR ALL", "OR needs two search keys", -1 },
	{ "OR", "OR needs two search keys", -1 },
	{ "()", "Empty list in search program", -1 },
	{ "(ALL ())", "Empty list in search program", -1 },
	{ "\"ALL\"", "Search keys must be atoms", -1 },
	{ "ALL NIL", "Unknown search key NIL", -1 },
	{ "BODY[1]", "Search keys must be atoms", -1 },
	{ "(FROM)", "FROM needs a string", -1 },
	{ "OR (FROM) ALL", "FROM needs a string", -1 },
};

static void
test_errors(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	struct imap_search *s;
	struct buf deep;
	const char *error;
	size_t i;
	int r;

	(void)state;
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		error = NULL;
		r = program(p, pool, error_cases[i].program, &s, &error);
		if (r != error_cases[i].r || error == NULL ||
		    strcmp(error, error_cases[i].error) != 0) {
			print_error("\"%s\": %d \"%s\", want %d \"%s\"\n",
			    error_cases[i].program, r,
			    error != NULL ? error : "(null)",
			    error_cases[i].r, error_cases[i].error);
			fail();
		}
	}
	/* No arguments at all. */
	assert_int_equal(imap_search_parse(NULL, 0, pool, &s, &error), -1);
	assert_string_equal(error, "Missing search criteria");

	/* 64 NOTs are fine, 65 are too deep. */
	buf_init(&deep, 1024);
	for (i = 0; i < IMAP_SEARCH_DEPTH_MAX - 1; i++)
		assert_int_equal(buf_append_str(&deep, "NOT "), 0);
	assert_int_equal(buf_append_str(&deep, "SEEN"), 0);
	assert_int_equal(program(p, pool, buf_cstr(&deep), &s, &error), 0);
	setup_msgs();
	imap_search_prepare(s, NMSG, 30);
	assert_int_equal(imap_search_match(s, &msgs[0]), 0);
	buf_reset(&deep);
	for (i = 0; i < IMAP_SEARCH_DEPTH_MAX; i++)
		assert_int_equal(buf_append_str(&deep, "NOT "), 0);
	assert_int_equal(buf_append_str(&deep, "SEEN"), 0);
	assert_int_equal(program(p, pool, buf_cstr(&deep), &s, &error), -1);
	assert_string_equal(error, "Search program too deeply nested");
	buf_deinit(&deep);
	imap_parser_free(&p);
	pool_free(&pool);
}

static void
test_order_and_failure(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	struct imap_search *s;
	const char *error;

	(void)state;
	setup_msgs();
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	assert_int_equal(program(p, pool, "BODY fox FROM x SEEN 1:*", &s,
	    &error), 0);
	assert_int_equal(s->root.nkids, 4);
	assert_int_equal(s->root.kids[0].op, IMAP_SK_FLAGS);
	assert_int_equal(s->root.kids[1].op, IMAP_SK_SEQSET);
	assert_int_equal(s->root.kids[2].op, IMAP_SK_HEADER);
	assert_int_equal(s->root.kids[3].op, IMAP_SK_BODY);
	assert_true(s->uses_seqset);
	assert_true(s->uses_text);
	imap_search_prepare(s, NMSG, 30);
	fakes[1].text_calls = 0;
	assert_int_equal(imap_search_match(s, &msgs[1]), 0);
	assert_int_equal(fakes[1].text_calls, 0);

	/* A failing callback fails the evaluation, unless not needed. */
	assert_int_equal(program(p, pool, "OR SEEN BODY x", &s, &error), 0);
	imap_search_prepare(s, NMSG, 30);
	fakes[0].fail = true;
	fakes[1].fail = true;
	assert_int_equal(imap_search_match(s, &msgs[0]), 1);
	assert_int_equal(imap_search_match(s, &msgs[1]), -1);
	assert_int_equal(program(p, pool, "NOT HEADER a b", &s, &error), 0);
	assert_int_equal(imap_search_match(s, &msgs[1]), -1);
	assert_int_equal(program(p, pool, "SENTON 1-Jan-2000", &s, &error),
	    0);
	assert_int_equal(imap_search_match(s, &msgs[1]), -1);
	assert_int_equal(program(p, pool, "FLAGGED ALL", &s, &error), 0);
	assert_false(s->uses_text);
	assert_false(s->uses_seqset);
	assert_int_equal(imap_search_match(s, &msgs[1]), 1);
	setup_msgs();

	/* "*" follows the mailbox: prepare again after it grew. */
	assert_int_equal(program(p, pool, "*", &s, &error), 0);
	imap_search_prepare(s, 2, 20);
	assert_int_equal(imap_search_match(s, &msgs[1]), 1);
	assert_int_equal(imap_search_match(s, &msgs[2]), 0);
	imap_search_prepare(s, 3, 30);
	assert_int_equal(imap_search_match(s, &msgs[1]), 0);
	assert_int_equal(imap_search_match(s, &msgs[2]), 1);
	imap_parser_free(&p);
	pool_free(&pool);
}

static void
test_fold(void **state)
{
	(void)state;
	assert_int_equal(imap_search_fold('A'), 'a');
	assert_int_equal(imap_search_fold('z'), 'z');
	assert_int_equal(imap_search_fold('@'), '@');
	assert_int_equal(imap_search_fold(0xc9), 0xe9);	/* É */
	assert_int_equal(imap_search_fold(0xd7), 0xd7);	/* × */
	assert_int_equal(imap_search_fold(0xdf), 0xdf);	/* ß */
	assert_int_equal(imap_search_fold(0x100), 0x101);
	assert_int_equal(imap_search_fold(0x101), 0x101);
	assert_int_equal(imap_search_fold(0x130), 0x130);	/* İ */
	assert_int_equal(imap_search_fold(0x139), 0x13a);
	assert_int_equal(imap_search_fold(0x14a), 0x14b);
	assert_int_equal(imap_search_fold(0x178), 0xff);
	assert_int_equal(imap_search_fold(0x17d), 0x17e);
	assert_int_equal(imap_search_fold(0x17f), 's');
	assert_int_equal(imap_search_fold(0x391), 0x3b1);
	assert_int_equal(imap_search_fold(0x3a2), 0x3a2);
	assert_int_equal(imap_search_fold(0x3c2), 0x3c3);
	assert_int_equal(imap_search_fold(0x386), 0x3ac);
	assert_int_equal(imap_search_fold(0x38f), 0x3ce);
	assert_int_equal(imap_search_fold(0x410), 0x430);
	assert_int_equal(imap_search_fold(0x401), 0x451);
	assert_int_equal(imap_search_fold(0x1e9e), 0xdf);
	assert_int_equal(imap_search_fold(0xb5), 0x3bc);
	assert_int_equal(imap_search_fold(0x10ffff), 0x10ffff);

	assert_true(imap_search_contains("Hello", 5, "", 0));
	assert_true(imap_search_contains("Hello", 5, "LLO", 3));
	assert_false(imap_search_contains("Hello", 5, "lloo", 4));
	assert_true(imap_search_contains("aaab", 4, "aab", 3));
	assert_true(imap_search_contains("abababc", 7, "ababc", 5));
	assert_false(imap_search_contains("", 0, "a", 1));
	/* Invalid octets are U+FFFD on both sides, never overread. */
	assert_true(imap_search_contains("a\xc3", 2, "\xc3", 1));
	assert_true(imap_search_contains("x\xff\xfey", 4, "\xfe", 1));
	assert_false(imap_search_contains("\xc3\xa9", 2, "\xc3", 1));
	assert_true(imap_search_contains("\xc3\x89t\xc3\x89", 5,
	    "\xc3\xa9T\xc3\xa9", 5));
}

static void
test_dates(void **state)
{
	int64_t day;
	time_t t;
	int zone;
	char out[IMAP_DATETIME_LEN + 1], small[8];

	(void)state;
	assert_int_equal(imap_date_parse("1-Feb-1994", 10, &day), 0);
	assert_int_equal(day, 8797);
	assert_int_equal(imap_date_parse("01-feb-1994", 11, &day), 0);
	assert_int_equal(day, 8797);
	assert_int_equal(imap_date_parse("29-Feb-2024", 11, &day), 0);
	assert_int_equal(day, 19782);
	assert_int_equal(imap_date_parse("1-Jan-0001", 10, &day), 0);
	assert_int_equal(day, -719162);
	assert_int_equal(imap_date_parse("31-Dec-9999", 11, &day), 0);
	assert_int_equal(day, 2932896);
	assert_int_equal(imap_date_parse("29-Feb-2023", 11, &day), -1);
	assert_int_equal(imap_date_parse("29-Feb-1900", 11, &day), -1);
	assert_int_equal(imap_date_parse("29-Feb-2000", 11, &day), 0);
	assert_int_equal(imap_date_parse("31-Apr-2024", 11, &day), -1);
	assert_int_equal(imap_date_parse("0-Apr-2024", 10, &day), -1);
	assert_int_equal(imap_date_parse("1-Foo-1994", 10, &day), -1);
	assert_int_equal(imap_date_parse("1-Feb-94", 8, &day), -1);
	assert_int_equal(imap_date_parse("1-Feb-19944", 11, &day), -1);
	assert_int_equal(imap_date_parse("1-Feb-0000", 10, &day), -1);
	assert_int_equal(imap_date_parse("001-Feb-1994", 12, &day), -1);
	assert_int_equal(imap_date_parse("1 Feb 1994", 10, &day), -1);
	assert_int_equal(imap_date_parse("", 0, &day), -1);
	assert_int_equal(imap_date_parse("1-Feb-1994", 9, &day), -1);

	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", 26,
	    &t, &zone), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(zone, -420);
	assert_int_equal(imap_datetime_parse(" 7-Jul-1996 02:44:25 +0000", 26,
	    &t, NULL), 0);
	assert_int_equal(imap_datetime_parse("07-Jul-1996 02:44:25 +0000", 26,
	    &t, NULL), 0);
	assert_int_equal(imap_datetime_parse("01-Jan-1970 00:00:00 +0100", 26,
	    &t, &zone), 0);
	assert_int_equal(t, -3600);
	assert_int_equal(zone, 60);
	assert_int_equal(imap_datetime_parse("31-Dec-2016 23:59:60 +0000", 26,
	    &t, NULL), 0);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 24:00:00 -0700", 26,
	    &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:60:00 -0700", 26,
	    &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 +0060", 26,
	    &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25", 20, &t,
	    NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 2:44:25 -0700", 25,
	    &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 0700", 25,
	    &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 -07000",
	    27, &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996  02:44:25 -0700",
	    27, &t, NULL), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", 25,
	    &t, NULL), -1);

	imap_datetime_format(837596665, out, sizeof(out));
	assert_string_equal(out, "17-Jul-1996 09:44:25 +0000");
	imap_datetime_format(0, out, sizeof(out));
	assert_string_equal(out, "01-Jan-1970 00:00:00 +0000");
	imap_datetime_format(0, small, sizeof(small));
	assert_string_equal(small, "");
	setenv("TZ", "XYZ+07:30", 1);
	tzset();
	imap_datetime_format(837596665, out, sizeof(out));
	assert_string_equal(out, "17-Jul-1996 02:14:25 -0730");
	assert_int_equal(imap_local_day(3600), -1);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(imap_local_day(3600), 0);
	assert_int_equal(imap_local_day(86400 * 2 - 1), 1);

	assert_int_equal(imap_rfc5322_day("Tue, 1 Jul 2003 10:52:37 +0200",
	    30, &day), 0);
	assert_int_equal(day, 12234);
	assert_int_equal(imap_rfc5322_day("1 Jul 03 10:52 EST", 18, &day), 0);
	assert_int_equal(day, 12234);
	assert_int_equal(imap_rfc5322_day("1 Jul 99", 8, &day), 0);
	assert_int_equal(day, 10773);
	assert_int_equal(imap_rfc5322_day("Tue,1 Jul 103", 13, &day), 0);
	assert_int_equal(day, 12234);
	assert_int_equal(imap_rfc5322_day("(x (y)) Tue , 01\t(z)jul 2003",
	    28, &day), 0);
	assert_int_equal(day, 12234);
	assert_int_equal(imap_rfc5322_day("", 0, &day), -1);
	assert_int_equal(imap_rfc5322_day("Jul 1 2003", 10, &day), -1);
	assert_int_equal(imap_rfc5322_day("32 Jul 2003", 11, &day), -1);
	assert_int_equal(imap_rfc5322_day("1 July 2003", 11, &day), -1);
	assert_int_equal(imap_rfc5322_day("1 Jul 20031", 11, &day), -1);
	assert_int_equal(imap_rfc5322_day("1 Jul", 5, &day), -1);
	assert_int_equal(imap_rfc5322_day("(unclosed", 9, &day), -1);
}

static void
test_flags(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	const struct imap_cmd *cmd;
	struct imap_flags f;
	const char *error, *kw[] = { "$A", "Junk" };
	struct buf out;
	size_t used;
	const char *line =
	    "t STORE 1 FLAGS (\\Seen \\answered $Label1 $label1 Junk) "
	    "\\Seen \\Deleted (\\Recent) (\\Foo) (\"q\") (a%b) () "
	    "(a (b)) \\Draft\r\n";

	(void)state;
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)line,
	    strlen(line), &used), PARSE_DONE);
	cmd = imap_parser_cmd(p);
	assert_non_null(cmd);
	assert_int_equal(cmd->count, 12);

	assert_int_equal(imap_flags_parse_list(&cmd->args[2], pool, &f,
	    &error), 0);
	assert_int_equal(f.system, IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED);
	assert_int_equal(f.nkeywords, 2);
	assert_string_equal(f.keywords[0], "$Label1");
	assert_string_equal(f.keywords[1], "Junk");
	assert_int_equal(imap_flags_parse_args(&cmd->args[2], 1, pool, &f,
	    &error), 0);
	assert_int_equal(f.nkeywords, 2);

	assert_int_equal(imap_flags_parse_args(&cmd->args[3], 2, pool, &f,
	    &error), 0);
	assert_int_equal(f.system, IMAP_FLAG_SEEN | IMAP_FLAG_DELETED);
	assert_int_equal(f.nkeywords, 0);
	assert_int_equal(imap_flags_parse_args(&cmd->args[11], 1, pool, &f,
	    &error), 0);
	assert_int_equal(f.system, IMAP_FLAG_DRAFT);

	assert_int_equal(imap_flags_parse_list(&cmd->args[5], pool, &f,
	    &error), -1);
	assert_string_equal(error, "\\Recent cannot be set");
	assert_int_equal(imap_flags_parse_list(&cmd->args[6], pool, &f,
	    &error), -1);
	assert_string_equal(error, "Invalid system flag");
	assert_int_equal(imap_flags_parse_list(&cmd->args[7], pool, &f,
	    &error), -1);
	assert_string_equal(error, "Flags must be atoms");
	assert_int_equal(imap_flags_parse_list(&cmd->args[8], pool, &f,
	    &error), -1);
	assert_string_equal(error, "Invalid keyword");
	assert_int_equal(imap_flags_parse_list(&cmd->args[9], pool, &f,
	    &error), 0);
	assert_int_equal(f.system, 0);
	assert_int_equal(f.nkeywords, 0);
	assert_int_equal(imap_flags_parse_list(&cmd->args[10], pool, &f,
	    &error), -1);
	assert_string_equal(error, "Flags must be atoms");
	assert_int_equal(imap_flags_parse_list(&cmd->args[3], pool, &f,
	    &error), -1);
	assert_string_equal(error, "Flags must be a parenthesized list");
	assert_int_equal(imap_flags_parse_args(&cmd->args[2], 2, pool, &f,
	    &error), -1);
	assert_string_equal(error, "Flags must be atoms");

	assert_true(imap_keyword_valid("$Forwarded", 10));
	assert_false(imap_keyword_valid("", 0));
	assert_false(imap_keyword_valid("a]", 2));
	assert_false(imap_keyword_valid("a*", 2));
	assert_false(imap_keyword_valid("\\Seen", 5));
	assert_false(imap_keyword_valid("\xc3\xa9", 2));
	assert_int_equal(imap_flag_from_name("\\SEEN", 5), IMAP_FLAG_SEEN);
	assert_int_equal(imap_flag_from_name("\\Seen2", 6), 0);
	assert_string_equal(imap_flag_name(IMAP_FLAG_DRAFT), "\\Draft");
	assert_null(imap_flag_name(IMAP_FLAG_DRAFT | IMAP_FLAG_SEEN));

	buf_init(&out, 1024);
	assert_int_equal(imap_flags_format(0, NULL, 0, &out), 0);
	assert_string_equal(buf_cstr(&out), "()");
	buf_reset(&out);
	assert_int_equal(imap_flags_format(IMAP_FLAGS_SETTABLE |
	    IMAP_FLAG_RECENT, kw, 2, &out), 0);
	assert_string_equal(buf_cstr(&out), "(\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft \\Recent $A Junk)");
	buf_reset(&out);
	assert_int_equal(imap_flags_format(0, kw, 1, &out), 0);
	assert_string_equal(buf_cstr(&out), "($A)");
	buf_deinit(&out);
	buf_init(&out, 5);
	assert_int_equal(imap_flags_format(IMAP_FLAG_SEEN, NULL, 0, &out), -1);
	buf_deinit(&out);
	imap_parser_free(&p);
	pool_free(&pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("every search key against three messages", test_programs),
		T("every parse error, BADCHARSET, depth", test_errors),
		T("cheap keys first; callback failure; star re-resolved",
		    test_order_and_failure),
		T("case folding and substring matching", test_fold),
		T("IMAP dates, date-times, INTERNALDATE, Date: days",
		    test_dates),
		T("flag lists read and written", test_flags),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
