/* smtp/data: the DATA reader (see data.h). One pass over each chunk; the
 * only octets ever held back between chunks are a "." or ".\r" at the start
 * of a line, which are constants, so nothing is copied: output goes to the
 * sink as spans of the caller's chunk. Line length and message size are
 * bounded by counters, never by buffers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>

#include "lib/log.h"
#include "smtp/data.h"

enum data_state {
	ST_BOL,		/* at the start of a line (after CRLF or first) */
	ST_DOT,		/* "." at the start of a line, held back */
	ST_DOT_CR,	/* ".\r" at the start of a line, held back */
	ST_TEXT,	/* inside a line */
	ST_CR,		/* after a CR inside a line (already output) */
	ST_DONE,
};

enum received_state {
	RS_BOL,		/* at the start of a line */
	RS_BOL_CR,	/* a CR at the start of a line */
	RS_NAME,	/* matching "received" */
	RS_WSP,		/* after "received", before the colon */
	RS_SKIP,	/* rest of the line */
};

static void	 line_add(struct smtp_data *d, size_t n);
static void	 emit(struct smtp_data *d, const uint8_t *p, size_t n);

void
smtp_received_init(struct smtp_received *r)
{
	memset(r, 0, sizeof(*r));
	r->state = RS_BOL;
}

void
smtp_received_feed(struct smtp_received *r, const uint8_t *p, size_t n)
{
	static const char name[] = "received";
	const uint8_t *lf;
	size_t i = 0;
	uint8_t c;

	while (i < n && !r->header_ended) {
		c = p[i];
		switch (r->state) {
		case RS_BOL:
			if (c == '\r') {
				r->state = RS_BOL_CR;
				i++;
			} else if (c == '\n')
				r->header_ended = true;
			else {
				r->state = RS_NAME;
				r->match = 0;
			}
			break;
		case RS_BOL_CR:
			if (c == '\n')
				r->header_ended = true;
			else
				r->state = RS_SKIP;
			break;
		case RS_NAME:
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			/* UNSAFE: match < 8 = strlen(name) in this state. */
			if (c != (uint8_t)name[r->match]) {
				r->state = RS_SKIP;
				break;
			}
			i++;
			if (++r->match == sizeof(name) - 1)
				r->state = RS_WSP;
			break;
		case RS_WSP:
			if (c == ':') {
				if (r->count < UINT_MAX)
					r->count++;
				r->state = RS_SKIP;
				i++;
			} else if (c == ' ' || c == '\t')
				i++;
			else
				r->state = RS_SKIP;
			break;
		case RS_SKIP:
			if ((lf = memchr(p + i, '\n', n - i)) == NULL)
				return;
			/* UNSAFE: lf is inside p[i..n). */
			i = (size_t)(lf - p) + 1;
			r->state = RS_BOL;
			break;
		default:
			panic("received counter in state %d", r->state);
		}
	}
}

void
smtp_data_init(struct smtp_data *d, size_t line_max, uint64_t message_max,
    smtp_data_sink sink, void *sink_ctx)
{
	memset(d, 0, sizeof(*d));
	smtp_received_init(&d->received);
	d->state = ST_BOL;
	d->line_max = line_max != 0 ? line_max : SMTP_DATA_LINE_MAX;
	d->message_max = message_max;
	d->sink = sink;
	d->sink_ctx = sink_ctx;
}

/* Count n more octets of the current line; saturates past the limit. */
static void
line_add(struct smtp_data *d, size_t n)
{
	if (d->line_len > d->line_max)
		return;
	d->line_len += n;
	if (d->line_len > d->line_max)
		d->flags |= SMTP_DATA_LINE_TOO_LONG;
}

/* Unstuffed message octets: count them, then hand them on while the
 * message is within its size and the sink is healthy. The sink gets exactly
 * the first message_max octets however the input was split. */
static void
emit(struct smtp_data *d, const uint8_t *p, size_t n)
{
	uint64_t before = d->size, room;

	if (n == 0)
		return;
	d->size = n > UINT64_MAX - d->size ? UINT64_MAX : d->size + n;
	if (!d->received.header_ended)
		smtp_received_feed(&d->received, p, n);
	if (d->flags & (SMTP_DATA_TOO_BIG | SMTP_DATA_SINK_FAILED))
		return;
	if (d->message_max != 0 && d->size > d->message_max) {
		d->flags |= SMTP_DATA_TOO_BIG;
		room = d->message_max - before;
		if (room == 0)
			return;
		n = (size_t)room;	/* < n, so it fits a size_t */
	}
	if (d->sink != NULL && d->sink(d->sink_ctx, p, n) == -1)
		d->flags |= SMTP_DATA_SINK_FAILED;
}

enum parse_result
smtp_data_feed(struct smtp_data *d, const uint8_t *p, size_t len,
    size_t *consumed_r)
{
	size_t i = 0, span = 0;	/* p[span..i): output not emitted yet */
	uint8_t c;

	ASSERT(d->state != ST_DONE);
	while (i < len) {
		c = p[i];
		switch (d->state) {
		case ST_BOL:
			d->line_len = 0;
			if (c != '.') {
				d->state = ST_TEXT;
				break;
			}
			/* Hold the dot back until the next octets tell
			 * stuffing, end marker and data apart. */
			emit(d, p + span, i - span);
			line_add(d, 1);
			span = ++i;
			d->state = ST_DOT;
			break;
		case ST_DOT:
			ASSERT(span == i);
			if (c == '\r') {
				span = ++i;
				d->state = ST_DOT_CR;
				break;
			}
			/* Not the end marker: the held dot is dropped
			 * (RFC 5321 4.5.2), so ".." gives "." and ".x" gives
			 * "x"; this octet starts the output again. */
			d->state = ST_TEXT;
			break;
		case ST_DOT_CR:
			ASSERT(span == i);
			if (c == '\n') {
				d->state = ST_DONE;
				*consumed_r = i + 1;
				return PARSE_DONE;
			}
			/* ".\r" and no LF: the dot goes as above, the CR is
			 * a bare CR, data like any other. */
			emit(d, (const uint8_t *)"\r", 1);
			d->flags |= SMTP_DATA_BARE_CR;
			line_add(d, 1);
			d->state = ST_TEXT;
			break;
		case ST_TEXT:
			for (; i < len && p[i] != '\r'; i++) {
				if (p[i] == '\n')
					d->flags |= SMTP_DATA_BARE_LF;
				else if (p[i] == '\0')
					d->flags |= SMTP_DATA_NUL;
				else if (p[i] >= 0x80)
					d->flags |= SMTP_DATA_8BIT;
				line_add(d, 1);
			}
			if (i < len) {
				/* The CR is output either way; only the next
				 * octet says whether it ends the line. */
				i++;
				d->state = ST_CR;
			}
			break;
		case ST_CR:
			if (c == '\n') {
				i++;
				d->state = ST_BOL;
			} else {
				d->flags |= SMTP_DATA_BARE_CR;
				line_add(d, 1);
				d->state = ST_TEXT;
			}
			break;
		default:
			panic("DATA reader in state %d", d->state);
		}
	}
	emit(d, p + span, len - span);
	return PARSE_MORE;
}
