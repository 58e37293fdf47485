/* fuzz-smtp-data: the DATA reader on arbitrary bytes. The first byte picks
 * the piece sizes (and a small message limit); the rest is the stream,
 * fed in those pieces and then again whole. Both runs must agree on the
 * output, flags, size, Received: count and consumed length, the output
 * must be exactly what a simple reference unstuffer computes, and the
 * sink must never see more than the message limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "smtp/data.h"

#define OUT_MAX	(1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct buf	 out;
	unsigned	 flags;
	uint64_t	 size;
	unsigned	 received;
	bool		 done;
	size_t		 consumed;
};

static int	 sink(void *ctx, const uint8_t *p, size_t n);
static void	 feed(const uint8_t *p, size_t len, size_t piece,
		    uint64_t message_max, struct run *r);
static size_t	 reference(const uint8_t *p, size_t len, struct buf *out);

static int
sink(void *ctx, const uint8_t *p, size_t n)
{
	struct buf *b = ctx;

	ASSERT(n > 0);
	ASSERT(buf_append(b, p, n) == 0);
	return 0;
}

/* piece 0: pieces of 1, 2, 3, ... octets, growing. */
static void
feed(const uint8_t *p, size_t len, size_t piece, uint64_t message_max,
    struct run *r)
{
	struct smtp_data d;
	size_t off = 0, n, used, grow = 1;
	enum parse_result pr = PARSE_MORE;

	buf_init(&r->out, OUT_MAX);
	smtp_data_init(&d, 64, message_max, sink, &r->out);
	r->done = false;
	while (pr == PARSE_MORE && off <= len) {
		n = piece != 0 ? piece : grow++;
		if (n > len - off)
			n = len - off;
		pr = smtp_data_feed(&d, p + off, n, &used);
		ASSERT(pr != PARSE_ERROR);
		if (pr == PARSE_DONE) {
			ASSERT(used >= 1 && used <= n);
			r->done = true;
			r->consumed = off + used;
		}
		off += n;
		if (off == len)
			break;
	}
	r->flags = d.flags;
	r->size = d.size;
	r->received = d.received.count;
	if (message_max != 0)
		ASSERT(r->out.len <= message_max);
}

/* The obvious unstuffer: lines end at CRLF only; returns the consumed
 * length, or 0 if there is no end marker. */
static size_t
reference(const uint8_t *p, size_t len, struct buf *out)
{
	size_t start = 0, i;

	while (start < len) {
		for (i = start; i + 1 < len; i++)
			if (p[i] == '\r' && p[i + 1] == '\n')
				break;
		if (i + 1 >= len)
			break;
		/* p[start..i) is one line, CRLF at i. */
		if (i - start == 1 && p[start] == '.')
			return i + 2;
		if (p[start] == '.')
			start++;
		ASSERT(buf_append(out, p + start, i + 2 - start) == 0);
		start = i + 2;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;
	struct buf ref;
	size_t piece, consumed;
	uint64_t max;

	if (size == 0)
		return 0;
	piece = data[0] & 0x0f;			/* 0: growing pieces */
	max = (data[0] & 0x10) ? (uint64_t)(data[0] >> 5) * 7 : 0;
	data++;
	size--;

	feed(data, size, piece, max, &a);
	feed(data, size, size > 0 ? size : 1, max, &b);
	ASSERT(a.done == b.done);
	ASSERT(!a.done || a.consumed == b.consumed);
	ASSERT(a.flags == b.flags && a.size == b.size &&
	    a.received == b.received);
	ASSERT(a.out.len == b.out.len &&
	    (a.out.len == 0 || memcmp(a.out.data, b.out.data, a.out.len) == 0));

	buf_init(&ref, OUT_MAX);
	consumed = reference(data, size, &ref);
	ASSERT(a.done == (consumed != 0));
	if (a.done) {
		ASSERT(a.consumed == consumed);
		ASSERT(a.size == ref.len);
		if (max == 0 || ref.len <= max) {
			ASSERT(a.out.len == ref.len);
			ASSERT(ref.len == 0 ||
			    memcmp(a.out.data, ref.data, ref.len) == 0);
		} else
			ASSERT(a.flags & SMTP_DATA_TOO_BIG);
	}
	buf_deinit(&ref);
	buf_deinit(&a.out);
	buf_deinit(&b.out);
	return 0;
}
