/* smtp/data: the DATA reader. An incremental state machine over the raw
 * stream that follows "354" (RFC 5321 section 4.5.2), fed chunks split at
 * any octet. It removes dot-stuffing, streams the message to a sink (it is
 * never buffered whole), and stops at the end marker. Called by the
 * session's DATA step; pure, no I/O.
 *
 * The end of the message is CRLF "." CRLF and nothing else: the "." must
 * be the first octet of a line that began after a CRLF (or of the message)
 * and must be followed by CRLF. A bare LF (not after CR) or a bare CR (not
 * before LF) never ends the message and never starts a line: "\n.\n",
 * "\r\n.\n", "\n.\r\n" and "\r.\r\n" are message data. No SMTP smuggling.
 *
 * Nothing here ends the exchange early: the client sends its whole message
 * before it listens, so every problem is recorded in d->flags, reading
 * goes on to the real CRLF.CRLF, and the session answers after it:
 *   SMTP_DATA_BARE_LF, SMTP_DATA_BARE_CR  refuse the message with
 *                        550 5.6.11 (Postfix smtpd_forbid_bare_newline)
 *   SMTP_DATA_LINE_TOO_LONG  a line above line_max (CRLF not counted, the
 *                        stuffing dot counted): 500 5.5.2 or 552
 *   SMTP_DATA_TOO_BIG    unstuffed size above message_max; the sink got
 *                        exactly the first message_max octets and is not
 *                        called any more: 552 5.3.4
 *   SMTP_DATA_NUL        a NUL octet: the session decides
 *   SMTP_DATA_8BIT       an octet above 127 (for BODY=7BIT checks)
 *   SMTP_DATA_SINK_FAILED  the sink returned -1; it is not called again:
 *                        451 4.3.0
 *
 * Output lines end in CRLF exactly as received: the CRLF before the end
 * marker belongs to the message, and ".\r\n" right away is an empty
 * message. A line that starts with "." and is not the end marker loses
 * that dot (RFC 5321 section 4.5.2, as Postfix does): ".." gives ".", and
 * the rare ".x" from a client that forgot to stuff gives "x".
 *
 * The Received: header fields of the header section (up to the first
 * empty line) are counted for loop detection. The counter also works on
 * its own over raw octets (BDAT chunks): smtp_received_*.
 */
#ifndef POSTIE_SMTP_DATA_H
#define POSTIE_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/parse.h"

#define SMTP_DATA_LINE_MAX	65536	/* DESIGN: "line 64 KiB" */

/* Receives unstuffed message octets in order; -1 stops the output. */
typedef int (*smtp_data_sink)(void *ctx, const uint8_t *p, size_t n);

enum smtp_data_flag {
	SMTP_DATA_BARE_LF	= 1 << 0,
	SMTP_DATA_BARE_CR	= 1 << 1,
	SMTP_DATA_LINE_TOO_LONG	= 1 << 2,
	SMTP_DATA_TOO_BIG	= 1 << 3,
	SMTP_DATA_NUL		= 1 << 4,
	SMTP_DATA_8BIT		= 1 << 5,
	SMTP_DATA_SINK_FAILED	= 1 << 6,
};

/*
 * Received: counting over message octets. A header field starts a line;
 * its name is matched case-insensitively, white space before the colon is
 * allowed (RFC 5322 obs-syntax). The header section ends at the first empty
 * line; LF ends a line with or without a CR before it. Saturates at
 * UINT_MAX.
 */
struct smtp_received {
	unsigned	 count;		/* Received: fields seen */
	bool		 header_ended;	/* the empty line was seen */
	uint8_t		 state;		/* private */
	uint8_t		 match;		/* private */
};

void	smtp_received_init(struct smtp_received *r);
void	smtp_received_feed(struct smtp_received *r, const uint8_t *p,
	    size_t n);

struct smtp_data {
	/* Results, valid at any time, final after PARSE_DONE. */
	unsigned	 flags;		/* enum smtp_data_flag */
	uint64_t	 size;		/* unstuffed octets, all of them, also
					   those past message_max */
	struct smtp_received received;

	/* Private. */
	uint8_t		 state;
	size_t		 line_len;	/* octets of this line so far */
	size_t		 line_max;
	uint64_t	 message_max;
	smtp_data_sink	 sink;
	void		*sink_ctx;	/* borrowed */
};

/* line_max 0: SMTP_DATA_LINE_MAX; message_max 0: no limit. sink may be
 * NULL (count and check only). */
void	smtp_data_init(struct smtp_data *d, size_t line_max,
	    uint64_t message_max, smtp_data_sink sink, void *sink_ctx);
/*
 * Feed p[0..len). PARSE_MORE: all of it was consumed, the end was not
 * seen. PARSE_DONE: the end marker was seen; *consumed_r is the number of
 * octets of p used, up to and including its final LF, and the rest of p
 * belongs to the session (pipelined commands). Never PARSE_ERROR: see the
 * flags. Feeding again after PARSE_DONE is a bug.
 */
enum parse_result smtp_data_feed(struct smtp_data *d, const uint8_t *p,
	    size_t len, size_t *consumed_r)
	    __attribute__((warn_unused_result));

#endif
