/* test-smtp-client-reply: the outbound client's protocol pieces
 * (smtp/client-reply.c, smtp/client-data.c): the reply reader (single and
 * multi-line replies, enhanced codes, bare "ddd", sanitised text, the line
 * and line-count limits, malformed lines, pipelined replies back to back),
 * the EHLO keyword parser, and the DATA encoder (dot-stuffing, line-end
 * normalisation, the end marker). Every reader input is fed whole, then one
 * byte at a time, and must give the same result; the encoder is fed split
 * at every position. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client-proto.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

struct reply_case {
	const char	*name;
	const char	*in;
	int		 rc;		/* PARSE_DONE, PARSE_MORE, PARSE_ERROR */
	unsigned	 code;
	const char	*enh;
	const char	*text;
	unsigned	 nlines;
	size_t		 used;		/* 0: strlen(in) */
};

static void	 test_reply_table(void **state);
static void	 test_reply_limits(void **state);
static void	 test_reply_pipelined(void **state);
static void	 test_ehlo(void **state);
static void	 test_stuff_table(void **state);
static void	 test_stuff_splits(void **state);
static int	 feed(struct smtp_reply_parser *p, const char *in, size_t len,
		    size_t step, size_t *used_r);
static char	*stuff_all(const char *in, size_t len, size_t split,
		    size_t *outlen_r);

static const struct reply_case reply_cases[] = {
	{ "a one-line reply parses", "250 2.1.0 Ok\r\n", PARSE_DONE, 250,
	  "2.1.0", "Ok", 1, 0 },
	{ "a reply without an enhanced code has none", "220 mx ESMTP\r\n",
	  PARSE_DONE, 220, "", "mx ESMTP", 1, 0 },
	{ "a bare code is a whole reply", "250\r\n", PARSE_DONE, 250, "", "",
	  1, 0 },
	{ "a multi-line reply joins its lines and drops repeated codes",
	  "550-5.1.1 No such\r\n550-5.1.1 user\r\n550 5.1.1 here\r\n",
	  PARSE_DONE, 550, "5.1.1", "No such user here", 3, 0 },
	{ "a bare LF ends a line too", "250-a\n250 b\n", PARSE_DONE, 250, "",
	  "a b", 2, 0 },
	{ "an enhanced code of another class is text",
	  "550 2.1.0 odd\r\n", PARSE_DONE, 550, "", "2.1.0 odd", 1, 0 },
	{ "an enhanced code needs a space after it",
	  "250 2.1.0x\r\n", PARSE_DONE, 250, "", "2.1.0x", 1, 0 },
	{ "a 4-digit enhanced part is text", "451 4.1234.1 x\r\n", PARSE_DONE,
	  451, "", "4.1234.1 x", 1, 0 },
	{ "control and 8-bit octets become '?'",
	  "250 a\x01" "b\xc3\xa9\tc\r\n", PARSE_DONE, 250, "", "a?b?? c", 1,
	  0 },
	{ "an incomplete reply wants more", "250-first\r\n250 sec",
	  PARSE_MORE, 0, NULL, NULL, 0, 0 },
	{ "a code starting with 1 is refused", "150 x\r\n", PARSE_ERROR, 0,
	  NULL, NULL, 0, 0 },
	{ "a code with a 6 in the middle is refused", "260 x\r\n",
	  PARSE_ERROR, 0, NULL, NULL, 0, 0 },
	{ "letters in the code are refused", "2a0 x\r\n", PARSE_ERROR, 0,
	  NULL, NULL, 0, 0 },
	{ "a short line is refused", "25\r\n", PARSE_ERROR, 0, NULL, NULL, 0,
	  0 },
	{ "a bad separator is refused", "250_x\r\n", PARSE_ERROR, 0, NULL,
	  NULL, 0, 0 },
	{ "a code change inside a reply is refused",
	  "250-a\r\n550 b\r\n", PARSE_ERROR, 0, NULL, NULL, 0, 0 },
	{ "a bare CR in a line is refused", "250 a\rb\r\n", PARSE_ERROR, 0,
	  NULL, NULL, 0, 0 },
	{ "an empty line is refused", "\r\n", PARSE_ERROR, 0, NULL, NULL, 0,
	  0 },
};

/* step 0: whole; otherwise pieces of step octets. Stops at DONE/ERROR. */
static int
feed(struct smtp_reply_parser *p, const char *in, size_t len, size_t step,
    size_t *used_r)
{
	enum parse_result pr = PARSE_MORE;
	const char *error;
	size_t off = 0, n, used;

	*used_r = 0;
	while (off < len) {
		n = step == 0 || step > len - off ? len - off : step;
		pr = smtp_reply_parse(p, (const uint8_t *)in + off, n, &used,
		    &error);
		if (pr == PARSE_ERROR)
			return pr;
		off += used;
		if (pr == PARSE_DONE)
			break;
	}
	*used_r = off;
	return pr;
}

static void
test_reply_table(void **state)
{
	struct smtp_reply_parser p;
	size_t i, step, used, len;
	int rc, nfail = 0;
	const struct reply_case *t;

	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		t = &reply_cases[i];
		len = strlen(t->in);
		for (step = 0; step <= 1; step++) {
			smtp_reply_parser_init(&p);
			rc = feed(&p, t->in, len, step, &used);
			if (rc != t->rc) {
				print_error("case \"%s\" (step %zu): rc %d, "
				    "want %d\n", t->name, step, rc, t->rc);
				nfail++;
			} else if (rc == PARSE_DONE &&
			    (p.reply.code != t->code ||
			    strcmp(p.reply.enh, t->enh) != 0 ||
			    strcmp(buf_cstr(&p.reply.text), t->text) != 0 ||
			    p.reply.nlines != t->nlines ||
			    used != (t->used ? t->used : len))) {
				print_error("case \"%s\" (step %zu): got %u "
				    "[%s] \"%s\" %u lines, used %zu\n",
				    t->name, step, p.reply.code, p.reply.enh,
				    buf_cstr(&p.reply.text), p.reply.nlines,
				    used);
				nfail++;
			}
			smtp_reply_parser_deinit(&p);
		}
	}
	assert_int_equal(nfail, 0);
}

static void
test_reply_limits(void **state)
{
	struct smtp_reply_parser p;
	char *in;
	size_t used, i, n;

	/* A line of exactly SMTP_REPLY_LINE_MAX octets is fine, one more
	 * is an error even before its end arrives. */
	in = malloc(SMTP_REPLY_LINE_MAX + 16);
	assert_non_null(in);
	memset(in, 'x', SMTP_REPLY_LINE_MAX + 16);
	memcpy(in, "250 ", 4);
	memcpy(in + SMTP_REPLY_LINE_MAX, "\r\n", 2);
	smtp_reply_parser_init(&p);
	assert_int_equal(feed(&p, in, SMTP_REPLY_LINE_MAX + 2, 0, &used),
	    PARSE_DONE);
	smtp_reply_parser_reset(&p);
	assert_int_equal(feed(&p, in, SMTP_REPLY_LINE_MAX + 1, 1, &used),
	    PARSE_MORE);
	smtp_reply_parser_reset(&p);
	in[SMTP_REPLY_LINE_MAX] = 'x';
	assert_int_equal(feed(&p, in, SMTP_REPLY_LINE_MAX + 2, 1, &used),
	    PARSE_ERROR);
	smtp_reply_parser_deinit(&p);
	free(in);

	/* SMTP_REPLY_LINES_MAX lines are a reply, one more is not. */
	n = (SMTP_REPLY_LINES_MAX + 1) * 6;
	in = malloc(n + 1);
	assert_non_null(in);
	for (i = 0; i < SMTP_REPLY_LINES_MAX + 1; i++)
		memcpy(in + i * 6, "250-a\n", 6);
	in[(SMTP_REPLY_LINES_MAX - 1) * 6 + 3] = ' ';
	smtp_reply_parser_init(&p);
	assert_int_equal(feed(&p, in, n, 0, &used), PARSE_DONE);
	assert_int_equal(p.reply.nlines, SMTP_REPLY_LINES_MAX);
	assert_int_equal(used, SMTP_REPLY_LINES_MAX * 6);
	smtp_reply_parser_reset(&p);
	in[(SMTP_REPLY_LINES_MAX - 1) * 6 + 3] = '-';
	assert_int_equal(feed(&p, in, n, 0, &used), PARSE_ERROR);
	smtp_reply_parser_deinit(&p);
	free(in);
}

/* Replies back to back (PIPELINING) come out one by one, and a reply
 * after DONE starts afresh. */
static void
test_reply_pipelined(void **state)
{
	static const char in[] = "250 2.1.0 Ok\r\n550 5.1.1 No\r\n"
	    "354 Go\r\n";
	static const unsigned codes[] = { 250, 550, 354 };
	struct smtp_reply_parser p;
	size_t off = 0, used, k = 0;
	const char *error;

	smtp_reply_parser_init(&p);
	while (off < sizeof(in) - 1) {
		assert_int_equal(smtp_reply_parse(&p, (const uint8_t *)in + off,
		    sizeof(in) - 1 - off, &used, &error), PARSE_DONE);
		assert_int_equal(p.reply.code, codes[k]);
		k++;
		off += used;
	}
	assert_int_equal(k, 3);
	assert_string_equal(buf_cstr(&p.reply.text), "Go");
	smtp_reply_parser_deinit(&p);
}

static void
test_ehlo(void **state)
{
	static const char in[] = "250-mx.example Hello\r\n"
	    "250-pipelining\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
	    "250-SMTPUTF8\r\n250-DSN\r\n250-STARTTLS\r\n"
	    "250-AUTH SCRAM-SHA-256 LOGIN PLAIN\r\n250-CHUNKING\r\n"
	    "250-XFOO bar\r\n250 ENHANCEDSTATUSCODES\r\n";
	struct smtp_reply_parser p;
	struct smtp_ehlo e;
	const char *in2;
	size_t used;

	smtp_reply_parser_init(&p);
	assert_int_equal(feed(&p, in, sizeof(in) - 1, 1, &used), PARSE_DONE);
	smtp_ehlo_parse(&p.reply, &e);
	assert_int_equal(e.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
	    SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN |
	    SMTP_EXT_STARTTLS | SMTP_EXT_AUTH | SMTP_EXT_CHUNKING |
	    SMTP_EXT_ENHANCEDSTATUSCODES);
	assert_int_equal(e.size, 10240000);
	assert_int_equal(e.auth, SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN);

	/* The first line is the greeting, not a keyword; SIZE without a
	 * number or with garbage has no limit; AUTH= is the old form. */
	smtp_reply_parser_reset(&p);
	in2 = "250-STARTTLS\r\n250-SIZE\r\n250-AUTH=LOGIN\r\n250 SIZE 12x\r\n";
	assert_int_equal(feed(&p, in2, strlen(in2), 0, &used), PARSE_DONE);
	smtp_ehlo_parse(&p.reply, &e);
	assert_int_equal(e.ext, SMTP_EXT_SIZE | SMTP_EXT_AUTH);
	assert_int_equal(e.size, 0);
	assert_int_equal(e.auth, SMTP_AUTH_LOGIN);

	/* A SIZE that overflows 64 bits is no limit. */
	smtp_reply_parser_reset(&p);
	in2 = "250-x\r\n250 SIZE 99999999999999999999999\r\n";
	assert_int_equal(feed(&p, in2, strlen(in2), 0, &used), PARSE_DONE);
	smtp_ehlo_parse(&p.reply, &e);
	assert_int_equal(e.ext, SMTP_EXT_SIZE);
	assert_int_equal(e.size, 0);

	/* A one-line EHLO reply has no extensions. */
	smtp_reply_parser_reset(&p);
	assert_int_equal(feed(&p, "250 mx\r\n", 8, 0, &used), PARSE_DONE);
	smtp_ehlo_parse(&p.reply, &e);
	assert_int_equal(e.ext, 0);
	smtp_reply_parser_deinit(&p);
}

static char *
stuff_all(const char *in, size_t len, size_t split, size_t *outlen_r)
{
	struct smtp_stuff st;
	uint8_t *out = malloc(SMTP_STUFF_OUT_MAX(len) + SMTP_STUFF_END_MAX + 1);
	size_t o;

	assert_non_null(out);
	smtp_stuff_init(&st);
	o = smtp_stuff(&st, (const uint8_t *)in, split, out);
	o += smtp_stuff(&st, (const uint8_t *)in + split, len - split,
	    out + o);
	o += smtp_stuff_end(&st, out + o);
	out[o] = '\0';
	*outlen_r = o;
	return (char *)out;
}

static const struct {
	const char	*name;
	const char	*in;
	const char	*out;
} stuff_cases[] = {
	{ "an empty message is just the end", "", ".\r\n" },
	{ "a CRLF message gets the end marker", "a\r\nb\r\n",
	  "a\r\nb\r\n.\r\n" },
	{ "a missing last CRLF is added", "a\r\nb", "a\r\nb\r\n.\r\n" },
	{ "a leading dot is doubled", ".a\r\n", "..a\r\n.\r\n" },
	{ "a dot line is doubled", "a\r\n.\r\nb\r\n",
	  "a\r\n..\r\nb\r\n.\r\n" },
	{ "a dot inside a line is kept", "a.b\r\n", "a.b\r\n.\r\n" },
	{ "a bare LF becomes CRLF", "a\nb\n", "a\r\nb\r\n.\r\n" },
	{ "a bare CR becomes CRLF", "a\rb", "a\r\nb\r\n.\r\n" },
	{ "a dot after a bare LF is doubled", "a\n.b", "a\r\n..b\r\n.\r\n" },
	{ "a trailing CR ends the line", "a\r", "a\r\n.\r\n" },
	{ "CR CR LF is two line ends", "a\r\r\n", "a\r\n\r\n.\r\n" },
	{ "a lone dot body is stuffed", ".", "..\r\n.\r\n" },
};

static void
test_stuff_table(void **state)
{
	size_t i, n, len;
	char *out;

	for (i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		len = strlen(stuff_cases[i].in);
		out = stuff_all(stuff_cases[i].in, len, len, &n);
		if (strcmp(out, stuff_cases[i].out) != 0)
			print_error("case \"%s\": got \"%s\"\n",
			    stuff_cases[i].name, out);
		assert_string_equal(out, stuff_cases[i].out);
		free(out);
	}
}

/* Any split gives the whole-input output. */
static void
test_stuff_splits(void **state)
{
	static const char in[] = ".a\r\n..\r\n\r\r\n.\n\r.x\rb.\r\n.";
	size_t len = sizeof(in) - 1, split, n0, n;
	char *whole, *part;

	whole = stuff_all(in, len, len, &n0);
	for (split = 0; split <= len; split++) {
		part = stuff_all(in, len, split, &n);
		assert_int_equal(n, n0);
		assert_memory_equal(part, whole, n0);
		free(part);
	}
	free(whole);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("reply lines parse whole and byte by byte", test_reply_table),
		T("reply line and line-count limits hold", test_reply_limits),
		T("pipelined replies come out one by one",
		    test_reply_pipelined),
		T("EHLO keywords and parameters are recognised", test_ehlo),
		T("DATA is dot-stuffed and CRLF-normalised", test_stuff_table),
		T("DATA encoding does not depend on chunk splits",
		    test_stuff_splits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
