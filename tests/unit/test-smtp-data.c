/* test-smtp-data: smtp/data.c. The end marker (CRLF.CRLF only: every SMTP
 * smuggling variant is data), dot-unstuffing, the empty message, bare CR
 * and bare LF, NUL, 8-bit, line and message limits, the sink failing,
 * pipelined octets after the end (the consumed count), and Received:
 * counting, in DATA and on raw chunks.
 *
 * The Received: counter ends a line at any LF (data.h), so a bare LF
 * right after a line end ends the header section; such a message is
 * refused for its bare LF anyway.
 *
 * Every case is fed whole, one octet at a time, split in two at every
 * octet boundary (so CRLF.CRLF is split everywhere), and in pseudo-random
 * pieces; every way must give the same output, flags, size, count and
 * consumed length. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/data.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

#define BARE_LF		SMTP_DATA_BARE_LF
#define BARE_CR		SMTP_DATA_BARE_CR
#define TOO_LONG	SMTP_DATA_LINE_TOO_LONG
#define TOO_BIG		SMTP_DATA_TOO_BIG
#define NUL		SMTP_DATA_NUL
#define EIGHTBIT	SMTP_DATA_8BIT
#define ALL		((size_t)-1)	/* consumed: the whole input */
#define NOT_DONE	((size_t)-2)	/* PARSE_MORE at the end */

struct data_case {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	size_t		 consumed;	/* ALL, NOT_DONE or a count */
	const char	*out;
	size_t		 outlen;	/* 0: strlen(out) */
	unsigned	 flags;
	unsigned	 received;
	bool		 header_ended;
	size_t		 line_max;	/* 0: default */
	uint64_t	 message_max;	/* 0: none */
};

/* What one run produced. */
struct result {
	struct buf	 out;
	unsigned	 flags;
	uint64_t	 size;
	unsigned	 received;
	bool		 header_ended;
	size_t		 consumed;	/* or NOT_DONE */
	size_t		 calls;		/* sink calls */
	size_t		 fail_after;	/* sink fails from this call on; 0:
					   never */
};

static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 sink(void *ctx, const uint8_t *p, size_t n);
static void	 run(const struct data_case *c, const size_t *cuts,
		    size_t ncuts, struct result *r);
static int	 compare(const struct data_case *c, const struct result *r,
		    const char *how, int *nfail);
static void	 run_case(const struct data_case *c, int *nfail);
static void	 test_table(void **state);
static void	 test_sink_failure(void **state);
static void	 test_large_message(void **state);
static void	 test_received_raw(void **state);
static void	 test_received_saturates(void **state);

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

static int
sink(void *ctx, const uint8_t *p, size_t n)
{
	struct result *r = ctx;

	assert_true(n > 0);
	r->calls++;
	if (r->fail_after != 0 && r->calls >= r->fail_after)
		return -1;
	assert_int_equal(buf_append(&r->out, p, n), 0);
	return 0;
}

/* Feed c->in cut at the given offsets (increasing, inside the input),
 * each piece from its own exact-size heap copy. */
static void
run(const struct data_case *c, const size_t *cuts, size_t ncuts,
    struct result *r)
{
	size_t len = c->len != 0 ? c->len : strlen(c->in);
	size_t start = 0, end, k, used;
	struct smtp_data d;
	enum parse_result pr = PARSE_MORE;
	uint8_t *piece;

	buf_init(&r->out, 1 << 24);
	r->consumed = NOT_DONE;
	smtp_data_init(&d, c->line_max, c->message_max, sink, r);
	for (k = 0; k <= ncuts && pr == PARSE_MORE; k++) {
		end = k < ncuts ? cuts[k] : len;
		piece = malloc(end - start + 1);
		assert_non_null(piece);
		memcpy(piece, c->in + start, end - start);
		used = (size_t)-1;
		pr = smtp_data_feed(&d, piece, end - start, &used);
		free(piece);
		assert_int_not_equal(pr, PARSE_ERROR);
		if (pr == PARSE_DONE) {
			assert_true(used <= end - start);
			r->consumed = start + used;
		}
		start = end;
	}
	r->flags = d.flags;
	r->size = d.size;
	r->received = d.received.count;
	r->header_ended = d.received.header_ended;
}

static int
compare(const struct data_case *c, const struct result *r, const char *how,
    int *nfail)
{
	size_t len = c->len != 0 ? c->len : strlen(c->in);
	size_t outlen = c->outlen != 0 ? c->outlen : strlen(c->out);
	size_t want = c->consumed == ALL ? len : c->consumed;
	int before = *nfail;

	if (r->consumed != want)
		case_fail(nfail, c->name, "%s: consumed %zu, want %zu", how,
		    r->consumed, want);
	if (r->out.len != outlen ||
	    (outlen > 0 && memcmp(r->out.data, c->out, outlen) != 0))
		case_fail(nfail, c->name, "%s: output \"%.*s\" (%zu octets), "
		    "want %zu octets", how, (int)r->out.len,
		    r->out.len > 0 ? (const char *)r->out.data : "",
		    r->out.len, outlen);
	if (r->flags != c->flags)
		case_fail(nfail, c->name, "%s: flags 0x%x, want 0x%x", how,
		    r->flags, c->flags);
	if (r->received != c->received ||
	    r->header_ended != c->header_ended)
		case_fail(nfail, c->name, "%s: received %u ended %d, want %u "
		    "%d", how, r->received, r->header_ended, c->received,
		    c->header_ended);
	return *nfail == before ? 0 : -1;
}

static void
run_case(const struct data_case *c, int *nfail)
{
	size_t len = c->len != 0 ? c->len : strlen(c->in);
	size_t *cuts = calloc(len + 1, sizeof(*cuts));
	struct result whole, r;
	size_t k, n, pos;
	unsigned seed;
	char how[64];
	int bad;

	assert_non_null(cuts);
	memset(&whole, 0, sizeof(whole));
	run(c, NULL, 0, &whole);
	if (compare(c, &whole, "whole", nfail) == -1)
		goto out;

	/* One octet at a time. */
	for (k = 1; k < len; k++)
		cuts[k - 1] = k;
	memset(&r, 0, sizeof(r));
	run(c, cuts, len > 0 ? len - 1 : 0, &r);
	if (r.size != whole.size)
		case_fail(nfail, c->name, "size differs one octet at a time");
	bad = compare(c, &r, "one octet at a time", nfail);
	buf_deinit(&r.out);
	if (bad)
		goto out;

	/* Two pieces, cut at every boundary. */
	for (k = 1; k < len; k++) {
		memset(&r, 0, sizeof(r));
		cuts[0] = k;
		run(c, cuts, 1, &r);
		snprintf(how, sizeof(how), "cut at %zu", k);
		bad = compare(c, &r, how, nfail);
		buf_deinit(&r.out);
		if (bad)
			goto out;
	}

	/* Pseudo-random pieces of 1 to 7 octets, a few seeds. */
	for (seed = 1; seed <= 4; seed++) {
		srand(seed);
		for (n = 0, pos = 0;; n++) {
			pos += 1 + (size_t)(rand() % 7);
			if (pos >= len)
				break;
			cuts[n] = pos;
		}
		memset(&r, 0, sizeof(r));
		run(c, cuts, n, &r);
		snprintf(how, sizeof(how), "random pieces, seed %u", seed);
		bad = compare(c, &r, how, nfail);
		buf_deinit(&r.out);
		if (bad)
			goto out;
	}
out:
	buf_deinit(&whole.out);
	free(cuts);
}

static const struct data_case cases[] = {
	/* name, in, len, consumed, out, outlen, flags, received, ended,
	 * line_max, message_max */
	{ "an immediate .CRLF is an empty message", ".\r\n", 0, ALL, "", 0,
	  0, 0, false, 0, 0 },
	{ "a one-line message keeps its CRLF", "hello\r\n.\r\n", 0, ALL,
	  "hello\r\n", 0, 0, 0, false, 0, 0 },
	{ "headers and body stream through",
	  "Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\nmore\r\n.\r\n", 0, ALL,
	  "Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\nmore\r\n", 0, 0, 0, true,
	  0, 0 },
	{ "empty lines are kept", "\r\n\r\n\r\n.\r\n", 0, ALL, "\r\n\r\n\r\n",
	  0, 0, 0, true, 0, 0 },
	{ "pipelined commands after the end are not consumed",
	  "a\r\n.\r\nQUIT\r\n", 0, 6, "a\r\n", 0, 0, 0, false, 0, 0 },
	{ "a pipelined second transaction is left alone",
	  ".\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
	  0, 3, "", 0, 0, 0, false, 0, 0 },
	{ "a second end marker after the first is not consumed",
	  "x\r\n.\r\n.\r\n", 0, 6, "x\r\n", 0, 0, 0, false, 0, 0 },
	{ "without the end marker the reader wants more", "abc\r\n", 0,
	  NOT_DONE, "abc\r\n", 0, 0, 0, false, 0, 0 },
	{ "a dot without its CRLF is not the end yet", "abc\r\n.", 0,
	  NOT_DONE, "abc\r\n", 0, 0, 0, false, 0, 0 },
	{ "a dot and CR without LF is not the end yet", "abc\r\n.\r", 0,
	  NOT_DONE, "abc\r\n", 0, 0, 0, false, 0, 0 },
	{ "no input at all wants more", "", 0, NOT_DONE, "", 0, 0, 0, false,
	  0, 0 },
	{ "a stuffed dot line loses one dot", "..\r\n.\r\n", 0, ALL,
	  ".\r\n", 0, 0, 0, false, 0, 0 },
	{ "a stuffed line loses its first dot", "..hidden\r\n.\r\n", 0, ALL,
	  ".hidden\r\n", 0, 0, 0, false, 0, 0 },
	{ "three dots become two", "...\r\n.\r\n", 0, ALL, "..\r\n", 0, 0, 0,
	  false, 0, 0 },
	{ "a stuffed line in the middle is unstuffed",
	  "a\r\n..\r\nb\r\n.\r\n", 0, ALL, "a\r\n.\r\nb\r\n", 0, 0, 0, false,
	  0, 0 },
	{ "an unstuffed leading dot is dropped (RFC 5321 4.5.2)",
	  "a\r\n.b\r\n.\r\n", 0, ALL, "a\r\nb\r\n", 0, 0, 0, false, 0, 0 },
	{ "a dot inside a line is kept", "a.b\r\nc.\r\n.\r\n", 0, ALL,
	  "a.b\r\nc.\r\n", 0, 0, 0, false, 0, 0 },
	{ "a dot followed by a space is not the end", "a\r\n. \r\n.\r\n", 0,
	  ALL, "a\r\n \r\n", 0, 0, 0, false, 0, 0 },
	{ "smuggling: LF.LF is data", "a\n.\nMAIL FROM:<x@y.example>\r\n.\r\n",
	  0, ALL, "a\n.\nMAIL FROM:<x@y.example>\r\n", 0, BARE_LF, 0, false,
	  0, 0 },
	{ "smuggling: CRLF.LF is data", "a\r\n.\nb\r\n.\r\n", 0, ALL,
	  "a\r\n\nb\r\n", 0, BARE_LF, 0, true, 0, 0 },
	{ "smuggling: LF.CRLF is data", "a\n.\r\nb\r\n.\r\n", 0, ALL,
	  "a\n.\r\nb\r\n", 0, BARE_LF, 0, false, 0, 0 },
	{ "smuggling: CR.CRLF is data", "a\r.\r\nb\r\n.\r\n", 0, ALL,
	  "a\r.\r\nb\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "smuggling: CRLF.CR is data", "a\r\n.\rb\r\n.\r\n", 0, ALL,
	  "a\r\n\rb\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "smuggling: CRLF.CRCRLF is data", "a\r\n.\r\r\n.\r\n", 0, ALL,
	  "a\r\n\r\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "smuggling: LF.LF alone never ends", "a\n.\n", 0, NOT_DONE,
	  "a\n.\n", 0, BARE_LF, 0, false, 0, 0 },
	{ "smuggling: CRLF.LF alone never ends", "a\r\n.\n", 0, NOT_DONE,
	  "a\r\n\n", 0, BARE_LF, 0, true, 0, 0 },
	{ "smuggling: LF.CRLF alone never ends", "a\n.\r\n", 0, NOT_DONE,
	  "a\n.\r\n", 0, BARE_LF, 0, false, 0, 0 },
	{ "smuggling: CR.CRLF alone never ends", "a\r.\r\n", 0, NOT_DONE,
	  "a\r.\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "smuggling: a message starting LF.CRLF does not end",
	  "\n.\r\n", 0, NOT_DONE, "\n.\r\n", 0, BARE_LF, 0, true, 0, 0 },
	{ "smuggling: CRCRLF.CRLF: the line after CRLF ends it",
	  "a\r\r\n.\r\n", 0, ALL, "a\r\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "smuggling: LFCRLF.CRLF: the line after CRLF ends it",
	  "a\n\r\n.\r\n", 0, ALL, "a\n\r\n", 0, BARE_LF, 0, true, 0, 0 },
	{ "a bare LF in a line is flagged", "a\nb\r\n.\r\n", 0, ALL,
	  "a\nb\r\n", 0, BARE_LF, 0, false, 0, 0 },
	{ "a bare CR in a line is flagged", "a\rb\r\n.\r\n", 0, ALL,
	  "a\rb\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "CR CR LF is a bare CR then CRLF", "a\r\r\nb\r\n.\r\n", 0, ALL,
	  "a\r\r\nb\r\n", 0, BARE_CR, 0, false, 0, 0 },
	{ "LF CR is a bare LF then a bare CR", "a\n\rb\r\n.\r\n", 0, ALL,
	  "a\n\rb\r\n", 0, BARE_LF | BARE_CR, 0, false, 0, 0 },
	{ "a NUL is flagged and passed on", "a\0b\r\n.\r\n", 8, ALL,
	  "a\0b\r\n", 5, NUL, 0, false, 0, 0 },
	{ "8-bit octets are flagged", "caf\xc3\xa9\r\n.\r\n", 0, ALL,
	  "caf\xc3\xa9\r\n", 0, EIGHTBIT, 0, false, 0, 0 },
	{ "a line of exactly line_max octets is fine",
	  "0123456789\r\n.\r\n", 0, ALL, "0123456789\r\n", 0, 0, 0, false, 10,
	  0 },
	{ "a line of line_max + 1 octets is flagged and kept",
	  "0123456789A\r\nb\r\n.\r\n", 0, ALL, "0123456789A\r\nb\r\n", 0,
	  TOO_LONG, 0, false, 10, 0 },
	{ "the stuffing dot counts in the line length",
	  "..23456789A\r\n.\r\n", 0, ALL, ".23456789A\r\n", 0, TOO_LONG, 0,
	  false, 10, 0 },
	{ "a stuffed line of line_max octets is fine",
	  "..23456789\r\n.\r\n", 0, ALL, ".23456789\r\n", 0, 0, 0, false, 10,
	  0 },
	{ "a bare LF does not reset the line length",
	  "01234\n56789\r\n.\r\n", 0, ALL, "01234\n56789\r\n", 0,
	  BARE_LF | TOO_LONG, 0, false, 10, 0 },
	{ "a long line still ends at CRLF.CRLF",
	  "0123456789012345678901234567890\r\n.\r\nQUIT\r\n", 0, 36,
	  "0123456789012345678901234567890\r\n", 0, TOO_LONG, 0, false, 10, 0 },
	{ "a message of exactly message_max octets is fine",
	  "abc\r\n.\r\n", 0, ALL, "abc\r\n", 0, 0, 0, false, 0, 5 },
	{ "a message over message_max: the sink gets message_max octets",
	  "abcd\r\nefgh\r\n.\r\nQUIT\r\n", 0, 15, "abcd\r", 0, TOO_BIG, 0,
	  false, 0, 5 },
	{ "too big still ends at CRLF.CRLF, not inside",
	  "abcdefgh\r\n.x\r\n.\r\n", 0, ALL, "ab", 0, TOO_BIG, 0, false, 0, 2 },
	{ "Received: fields are counted case-insensitively",
	  "Received: a\r\nreceived: b\r\nRECEIVED:c\r\nSubject: x\r\n\r\n"
	  "Received: in the body\r\n.\r\n", 0, ALL,
	  "Received: a\r\nreceived: b\r\nRECEIVED:c\r\nSubject: x\r\n\r\n"
	  "Received: in the body\r\n", 0, 0, 3, true, 0, 0 },
	{ "white space before the colon still counts",
	  "Received : a\r\nReceived\t: b\r\n\r\n.\r\n", 0, ALL,
	  "Received : a\r\nReceived\t: b\r\n\r\n", 0, 0, 2, true, 0, 0 },
	{ "other fields ending in Received do not count",
	  "X-Received: a\r\nReceivedX: b\r\nReceive: c\r\n\r\n.\r\n", 0, ALL,
	  "X-Received: a\r\nReceivedX: b\r\nReceive: c\r\n\r\n", 0, 0, 0,
	  true, 0, 0 },
	{ "a folded Received: counts once",
	  "Received: from a\r\n\tby b\r\n Received: c\r\n\r\n.\r\n", 0, ALL,
	  "Received: from a\r\n\tby b\r\n Received: c\r\n\r\n", 0, 0, 1, true,
	  0, 0 },
	{ "Received: without an empty line is counted, header not ended",
	  "Received: a\r\nReceived: b\r\n.\r\n", 0, ALL,
	  "Received: a\r\nReceived: b\r\n", 0, 0, 2, false, 0, 0 },
	{ "a stuffed .Received: does not count",
	  "..Received: a\r\n\r\n.\r\n", 0, ALL, ".Received: a\r\n\r\n", 0, 0, 0,
	  true, 0, 0 },
	{ "Received: counting goes on past message_max",
	  "Received: a\r\nReceived: b\r\n\r\n.\r\n", 0, ALL, "Recei", 0,
	  TOO_BIG, 2, true, 0, 5 },
	{ "an empty header section ends at once",
	  "\r\nReceived: body\r\n.\r\n", 0, ALL, "\r\nReceived: body\r\n", 0,
	  0, 0, true, 0, 0 },
};

static void
test_table(void **state)
{
	size_t i;
	int nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], &nfail);
	if (nfail > 0)
		fail_msg("%d case check(s) failed", nfail);
}

static void
test_sink_failure(void **state)
{
	static const char in[] = "a\r\nb\r\nc\r\n.\r\nQUIT\r\n";
	struct smtp_data d;
	struct result r;
	size_t i, used = 0;
	enum parse_result pr = PARSE_MORE;

	/* One octet at a time: the sink fails on its second call and is
	 * never called again, and the end is still found. */
	memset(&r, 0, sizeof(r));
	buf_init(&r.out, 1024);
	r.fail_after = 2;
	smtp_data_init(&d, 0, 0, sink, &r);
	for (i = 0; i < sizeof(in) - 1 && pr == PARSE_MORE; i++)
		pr = smtp_data_feed(&d, (const uint8_t *)in + i, 1, &used);
	assert_int_equal(pr, PARSE_DONE);
	assert_int_equal(i, 12);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.out.len, 1);
	assert_true(d.flags & SMTP_DATA_SINK_FAILED);
	assert_int_equal(d.size, 9);
	buf_deinit(&r.out);

	/* No sink at all: counts only. */
	smtp_data_init(&d, 0, 0, NULL, NULL);
	assert_int_equal(smtp_data_feed(&d, (const uint8_t *)in,
	    sizeof(in) - 1, &used), PARSE_DONE);
	assert_int_equal(used, 12);
	assert_int_equal(d.size, 9);
	assert_int_equal(d.flags, 0);
}

/* 4 MiB of stuffed lines in 4 KiB chunks: streamed, unstuffed, and the
 * sink is called per chunk, not per line. */
static void
test_large_message(void **state)
{
	static const char line[] = "..0123456789abcdefghijklmnopqrstuvwxyz\r\n";
	const size_t nlines = (4u << 20) / (sizeof(line) - 1);
	struct smtp_data d;
	struct result r;
	struct buf in;
	size_t i, off, n = 0, used = 0;
	enum parse_result pr = PARSE_MORE;

	buf_init(&in, 8u << 20);
	for (i = 0; i < nlines; i++)
		assert_int_equal(buf_append(&in, line, sizeof(line) - 1), 0);
	assert_int_equal(buf_append(&in, ".\r\n", 3), 0);
	memset(&r, 0, sizeof(r));
	buf_init(&r.out, 8u << 20);
	smtp_data_init(&d, 0, 0, sink, &r);
	for (off = 0; off < in.len && pr == PARSE_MORE; off += n) {
		n = in.len - off < 4096 ? in.len - off : 4096;
		pr = smtp_data_feed(&d, in.data + off, n, &used);
	}
	assert_int_equal(pr, PARSE_DONE);
	assert_int_equal(off - n + used, in.len);
	assert_int_equal(d.size, nlines * (sizeof(line) - 2));
	assert_int_equal(r.out.len, d.size);
	assert_int_equal(d.flags, 0);
	assert_memory_equal(r.out.data, line + 1, sizeof(line) - 2);
	/* Each chunk gives at most one call per line plus one. */
	assert_true(r.calls <= nlines + in.len / 4096 + 1);
	buf_deinit(&in);
	buf_deinit(&r.out);
}

/* The counter on raw octets (BDAT): LF ends a line, CR before it or not;
 * pieces of any size give the same count. */
static void
test_received_raw(void **state)
{
	static const char in[] = "Received: a\nRECEIVED: b\r\nX: y\n"
	    "received:c\n\nReceived: body\n";
	struct smtp_received r;
	size_t i;

	smtp_received_init(&r);
	smtp_received_feed(&r, (const uint8_t *)in, sizeof(in) - 1);
	assert_int_equal(r.count, 3);
	assert_true(r.header_ended);

	smtp_received_init(&r);
	for (i = 0; i < sizeof(in) - 1; i++)
		smtp_received_feed(&r, (const uint8_t *)in + i, 1);
	assert_int_equal(r.count, 3);
	assert_true(r.header_ended);

	smtp_received_init(&r);
	smtp_received_feed(&r, (const uint8_t *)"Rec", 3);
	smtp_received_feed(&r, (const uint8_t *)"eived", 5);
	assert_int_equal(r.count, 0);
	smtp_received_feed(&r, (const uint8_t *)":", 1);
	assert_int_equal(r.count, 1);
	assert_false(r.header_ended);
}

static void
test_received_saturates(void **state)
{
	static const char f[] = "Received: x\r\n";
	struct smtp_received r;

	smtp_received_init(&r);
	r.count = UINT_MAX - 1;
	smtp_received_feed(&r, (const uint8_t *)f, sizeof(f) - 1);
	smtp_received_feed(&r, (const uint8_t *)f, sizeof(f) - 1);
	smtp_received_feed(&r, (const uint8_t *)f, sizeof(f) - 1);
	assert_int_equal(r.count, UINT_MAX);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("end marker, smuggling variants, stuffing, limits, flags "
		    "and Received: fed whole, per octet and split everywhere",
		    test_table),
		T("a failing sink is not called again and the end is found",
		    test_sink_failure),
		T("a 4 MiB message streams through in chunks",
		    test_large_message),
		T("Received: counting works on raw chunks",
		    test_received_raw),
		T("the Received: count saturates", test_received_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
