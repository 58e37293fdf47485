/* client-proto: the pure protocol pieces of the outbound SMTP client
 * (client.c), kept apart so that unit tests and fuzz targets reach them
 * without a connection:
 *
 *   - the reply reader (client-reply.c): RFC 5321 4.2 replies, "ddd-text"
 *     continuation lines and a final "ddd text" (or bare "ddd") line, fed
 *     in pieces split at any byte. Lines end at LF with an optional CR
 *     before it; a line holds at most SMTP_REPLY_LINE_MAX octets without
 *     its end, a reply at most SMTP_REPLY_LINES_MAX lines; NUL, a bare CR,
 *     a bad code or a code that changes between lines are errors (the
 *     caller fails the connection as a protocol error). Other control and
 *     non-ASCII octets in the text become '?', so a reply cannot forge log
 *     lines or DSN fields.
 *   - the EHLO keyword parser (client-reply.c).
 *   - the DATA encoder (client-data.c): dot-stuffing and line-end
 *     normalisation of a message streamed in chunks.
 */
#ifndef POSTIE_SMTP_CLIENT_PROTO_H
#define POSTIE_SMTP_CLIENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/parse.h"

#define SMTP_REPLY_LINE_MAX	2048	/* octets, without CRLF */
#define SMTP_REPLY_LINES_MAX	100
#define SMTP_REPLY_ENH_MAX	12	/* "5.999.999" and the NUL */

struct smtp_reply {
	unsigned	 code;		/* 200..599 */
	char		 enh[SMTP_REPLY_ENH_MAX]; /* of the first line; "" */
	struct buf	 text;		/* the lines' texts without their
					   enhanced codes, joined with ' ' */
	struct buf	 lines;		/* each line's whole text, each
					   followed by a NUL (for EHLO) */
	unsigned	 nlines;
};

struct smtp_reply_parser {
	struct smtp_reply reply;
	struct buf	 line;		/* the line being read */
	bool		 done;		/* reply complete: next feed resets */
};

void	smtp_reply_parser_init(struct smtp_reply_parser *p);
void	smtp_reply_parser_deinit(struct smtp_reply_parser *p);
/* Forget any partial reply (the next feed starts a new one). */
void	smtp_reply_parser_reset(struct smtp_reply_parser *p);
/* Feed len octets. PARSE_DONE: p->reply is complete and *used_r octets
 * were taken (the rest belongs to the next reply); PARSE_MORE: all were
 * taken; PARSE_ERROR: *error_r says why, the parser must be reset. */
enum parse_result smtp_reply_parse(struct smtp_reply_parser *p,
	    const uint8_t *data, size_t len, size_t *used_r,
	    const char **error_r);

/* EHLO extensions (RFC 5321 4.1.1.1 and the extensions' RFCs). */
#define SMTP_EXT_PIPELINING	(1u << 0)
#define SMTP_EXT_SIZE		(1u << 1)
#define SMTP_EXT_8BITMIME	(1u << 2)
#define SMTP_EXT_SMTPUTF8	(1u << 3)
#define SMTP_EXT_DSN		(1u << 4)
#define SMTP_EXT_STARTTLS	(1u << 5)
#define SMTP_EXT_AUTH		(1u << 6)
#define SMTP_EXT_CHUNKING	(1u << 7)
#define SMTP_EXT_ENHANCEDSTATUSCODES (1u << 8)

#define SMTP_AUTH_PLAIN		(1u << 0)
#define SMTP_AUTH_LOGIN		(1u << 1)

struct smtp_ehlo {
	unsigned	 ext;		/* SMTP_EXT_* */
	uint64_t	 size;		/* SIZE n; 0: no limit declared */
	unsigned	 auth;		/* SMTP_AUTH_* offered */
};

/* The keywords of a 250 EHLO reply (every line but the first). Unknown
 * keywords and bad parameters are ignored: an extension we cannot
 * understand is an extension we do not use. */
void	smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e);

/* DATA encoder. Every line of the output ends with CRLF: a bare LF or a
 * bare CR in the input becomes CRLF (so no CR or LF ever leaves on its
 * own: no SMTP smuggling through us), a line starting with '.' gets
 * another '.', and the end adds CRLF if the message did not end with one,
 * then ".\r\n". */
struct smtp_stuff {
	bool	 bol;		/* at the beginning of a line */
	bool	 cr;		/* a CR was seen, not yet written */
};

#define SMTP_STUFF_OUT_MAX(n)	(2 * (n) + 2)
#define SMTP_STUFF_END_MAX	5

void	smtp_stuff_init(struct smtp_stuff *st);
/* Encode len octets into out (room for SMTP_STUFF_OUT_MAX(len)); returns
 * the octets written. */
size_t	smtp_stuff(struct smtp_stuff *st, const uint8_t *in, size_t len,
	    uint8_t *out);
/* The end of the message (room for SMTP_STUFF_END_MAX). */
size_t	smtp_stuff_end(struct smtp_stuff *st, uint8_t *out);

#endif
