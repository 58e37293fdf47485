/* mime: the MIME structure of a message (RFC 2045, 2046, 2231; RFC 5322
 * for the headers), as IMAP BODYSTRUCTURE, BODY[section] and SEARCH need
 * it. A pure function over a message held in memory: no I/O, no
 * allocation outside the caller's pool, nothing read past len.
 *
 *   mime.c          the tree: headers, boundaries, nesting, limits
 *   mime-param.c    Content-Type and Content-Disposition values, with
 *                   RFC 2231 continuations and charsets
 *   mime-decode.c   a part's body as text (base64, quoted-printable,
 *                   charset), for SEARCH BODY and TEXT
 *
 * Every message parses, however malformed: a missing or wrong boundary, a
 * missing final boundary, unterminated quotes or bad encodings give the
 * structure RFC 2045 and 2046 call for (the default text/plain; charset=
 * us-ascii for an invalid Content-Type, message/rfc822 inside
 * multipart/digest) or what Dovecot shows for the same message. Nesting
 * deeper than max_depth and parts beyond max_parts are not split: such a
 * multipart or message/rfc822 part is kept whole as an opaque
 * application/octet-stream leaf. Memory is proportional to the input.
 *
 * Offsets and sizes are octets of msg as given; lines are its LF octets.
 * A message with bare LF line ends is parsed as well, but IMAP sizes are
 * those of the CRLF form, so the server should hand in that form. */
#ifndef POSTIE_MIME_H
#define POSTIE_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct pool;

#define MIME_MAX_DEPTH		32
#define MIME_MAX_PARTS		10000
#define MIME_MAX_PARAMS		64	/* per header field; more are dropped */
#define MIME_MAX_BOUNDARY	200	/* octets (RFC 2046 allows 70) */

struct mime_limits {
	unsigned	max_depth;	/* 0: MIME_MAX_DEPTH */
	unsigned	max_parts;	/* 0: MIME_MAX_PARTS */
};

/* A parameter of Content-Type or Content-Disposition. */
struct mime_param {
	const char	*name;		/* as written, without RFC 2231's
					   "*0*" or "*" */
	const char	*value;		/* for programs: unquoted, RFC 2231
					   sections joined and decoded, or
					   RFC 2047 words decoded; UTF-8 */
	/* For BODYSTRUCTURE, as Dovecot shows it: the sections of an RFC
	 * 2231 parameter are joined; when any was extended the name gets a
	 * trailing '*' and the value stays "charset'lang'%XX" encoded.
	 * Otherwise the name and the unquoted value as written. */
	const char	*wire_name;
	const char	*wire_value;
};

struct mime_params {
	struct mime_param	*v;
	size_t			 n;
};

enum mime_part_flag {
	MIME_PART_MULTIPART	= 1 << 0,	/* children: the body parts */
	MIME_PART_MESSAGE	= 1 << 1,	/* message/rfc822: the one
						   child is the message */
	MIME_PART_TEXT		= 1 << 2,	/* text/ *: lines are shown */
	MIME_PART_DEFAULT_TYPE	= 1 << 3,	/* no valid Content-Type */
	MIME_PART_OPAQUE	= 1 << 4,	/* not split: a limit */
};

struct mime_part {
	struct mime_part	*parent;
	struct mime_part	*children;	/* the first */
	struct mime_part	*next;		/* the next sibling */
	unsigned		 nchildren;
	unsigned		 depth;		/* 0: the message */
	unsigned		 flags;		/* enum mime_part_flag */

	/* In msg. The header includes the empty line that ends it; the
	 * body runs up to the line end before the next boundary. For the
	 * message and for an embedded message the header is the message
	 * header; for a body part of a multipart it is its MIME header. */
	size_t			 hdr_off;
	size_t			 hdr_len;
	size_t			 body_off;
	size_t			 body_len;
	size_t			 body_lines;	/* LF octets in the body */

	/* Content-Type, as written ("text" "plain" by default; case kept
	 * as Dovecot keeps it). Compare with strcasecmp(). */
	const char		*type;
	const char		*subtype;
	struct mime_params	 params;
	/* The other Content-* fields, unfolded and trimmed; NULL when
	 * absent. encoding is as written (ENVELOPE shows "7bit" for NULL). */
	const char		*encoding;
	const char		*id;
	const char		*description;
	const char		*md5;
	const char		*location;
	const char		*disposition;	/* its type; NULL: none */
	struct mime_params	 disp_params;
	const char		**languages;	/* Content-Language tags */
	size_t			 nlanguages;
};

/*
 * The structure of msg[0..len). Never fails; limits may be NULL for the
 * defaults. Everything, including the strings, is allocated from pool and
 * lives as long as it; the offsets refer to msg, which the caller keeps.
 */
struct mime_part *mime_parse(struct pool *pool, const char *msg, size_t len,
	    const struct mime_limits *limits);

/* The value of the first parameter called name (case-insensitive), as
 * its .value, or NULL. */
const char	*mime_param_get(const struct mime_params *params,
		    const char *name);

/* Whether the part is type/subtype (case-insensitive; subtype NULL: any). */
bool		 mime_part_is(const struct mime_part *part, const char *type,
		    const char *subtype);

/* The n-th child (1-based), or NULL. */
struct mime_part *mime_part_child(const struct mime_part *part, unsigned n);

/* Parse a Content-Type (with_subtype) or Content-Disposition value; -1
 * when it is not valid (no type, or no subtype for a Content-Type).
 * Parameters that are malformed are dropped, as are those after an
 * unterminated quoted string. For mime.c; exported for the tests. */
int	mime_content_parse(struct pool *pool, const char *value, size_t len,
	    bool with_subtype, const char **type_r, const char **subtype_r,
	    struct mime_params *params_r) __attribute__((warn_unused_result));

/*
 * The body of a leaf part as text for SEARCH: the transfer encoding
 * (base64, quoted-printable) undone and, for text/ *, the charset
 * converted to UTF-8 (an unknown charset is read as UTF-8, with U+FFFD
 * for what is not). Other types are returned transfer-decoded, as they
 * are. Allocated from pool, NUL-terminated, *len_r octets.
 */
char	*mime_part_text(struct pool *pool, const char *msg,
	    const struct mime_part *part, size_t *len_r);

#endif
