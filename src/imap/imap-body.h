/* imap-body: what FETCH shows of a message's structure (RFC 3501 sections
 * 6.4.5 and 7.4.2): ENVELOPE, BODY, BODYSTRUCTURE and BODY[section]<partial>,
 * on top of the MIME tree of mail/mime.h. Pure functions: they append to a
 * struct buf (an append past its max fails with -1, for the caller to turn
 * into a NO) or return ranges of the message; no I/O.
 *
 *   imap-body.c           BODY and BODYSTRUCTURE, IMAP strings
 *   imap-envelope.c       ENVELOPE
 *   imap-body-section.c   section specifiers and their content
 *
 * Where RFC 3501 leaves room, this does what Dovecot does: header values
 * are shown raw (encoded words and all), unfolded; a missing local part or
 * domain shows as "MISSING_MAILBOX" / "MISSING_DOMAIN"; text parts without
 * a charset get ("charset" "us-ascii"); a section that does not exist is
 * empty rather than NIL. */
#ifndef POSTIE_IMAP_BODY_H
#define POSTIE_IMAP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct pool;
struct mime_part;

/* Strings longer than this go as literals even when they could be
 * quoted. */
#define IMAP_QUOTED_MAX		1024
/* Addresses shown per ENVELOPE address list (group markers count). */
#define IMAP_ENVELOPE_MAX_ADDRS	10000

/*
 * An nstring (RFC 3501 section 4.3, 4.5): NIL for s NULL, else a quoted
 * string with \" and \\ escaped, or a literal {n}CRLF... when s holds CR,
 * LF or 8-bit octets (which a quoted string cannot) or is longer than
 * IMAP_QUOTED_MAX. NUL octets are dropped (no IMAP string holds one).
 */
int	imap_append_nstring(struct buf *b, const char *s, size_t len)
	    __attribute__((warn_unused_result));
/* The same for a C string (NULL: NIL). */
int	imap_append_cstring(struct buf *b, const char *s)
	    __attribute__((warn_unused_result));

/*
 * "(date subject from sender reply-to to cc bcc in-reply-to message-id)"
 * for the header section hdr[0..len) (the message's, or an embedded
 * message's: msg + part->hdr_off, part->hdr_len). pool holds temporary
 * strings. The first of each field counts; Sender and Reply-To default to
 * From when absent or empty.
 */
int	imap_envelope_append(struct buf *b, struct pool *pool, const char *hdr,
	    size_t len) __attribute__((warn_unused_result));

/*
 * BODY (extended false) or BODYSTRUCTURE (extended true) of part (usually
 * the root from mime_parse(msg, ...)), as RFC 3501's "body". pool holds
 * temporary strings.
 */
int	imap_bodystructure_append(struct buf *b, struct pool *pool,
	    const char *msg, const struct mime_part *part, bool extended)
	    __attribute__((warn_unused_result));

/* BODY[section]: section = [part *("." part)] ["." text], RFC 3501 6.4.5. */
#define IMAP_SECTION_MAX_PARTS	64	/* "1.2.3...": deeper is BAD */
#define IMAP_SECTION_MAX_FIELDS	1000	/* HEADER.FIELDS names */
#define IMAP_SECTION_FIELD_MAX	998	/* octets of one name */

enum imap_section_text {
	IMAP_SECTION_BODY,		/* nothing: the whole part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part number */
};

struct imap_section {
	unsigned		 parts[IMAP_SECTION_MAX_PARTS];
	size_t			 nparts;
	enum imap_section_text	 text;
	const char		**fields;	/* HEADER.FIELDS (.NOT) */
	size_t			 nfields;
};

/*
 * The section as the client wrote it: spec is what precedes the field
 * list ("", "1.2", "HEADER", "3.HEADER.FIELDS.NOT", "2.MIME"; any case),
 * fields the names in the list (only for HEADER.FIELDS and .NOT, which
 * need at least one). The names are copied into pool. -1 with *error_r
 * for a syntax error (for "tag BAD").
 */
int	imap_section_parse(struct pool *pool, const char *spec, size_t len,
	    const char *const *fields, size_t nfields,
	    struct imap_section *sec_r, const char **error_r)
	    __attribute__((warn_unused_result));

/* "<origin.count>" (or "" for none: *count_r = UINT64_MAX, origin 0).
 * -1 for anything else, a count of 0 included (RFC 3501 nz-number). */
int	imap_section_partial_parse(const char *s, uint64_t *origin_r,
	    uint64_t *count_r) __attribute__((warn_unused_result));

/* The section's name for the FETCH response, canonical and upper-cased:
 * "1.2.HEADER.FIELDS (FROM TO)"; the caller adds "BODY[", "]" and, for a
 * partial fetch, "<origin>". */
int	imap_section_append_name(struct buf *b, const struct imap_section *sec)
	    __attribute__((warn_unused_result));

/* What a section holds: len octets at data, either inside msg (off is
 * data - msg) or produced into the pool (HEADER.FIELDS; off is SIZE_MAX).
 * Send it as a literal of len octets. */
struct imap_section_data {
	const char	*data;
	size_t		 len;
	size_t		 off;
};

/*
 * The content of sec in msg[0..len), whose structure is root, cut to
 * <origin.count> (count UINT64_MAX: to the end). A part that does not
 * exist, or a HEADER/TEXT of a part that is not a message, is empty.
 */
void	imap_section_fetch(struct pool *pool, const char *msg, size_t len,
	    const struct mime_part *root, const struct imap_section *sec,
	    uint64_t origin, uint64_t count, struct imap_section_data *r);

/* The part that sec's part numbers name, or NULL; for nparts == 0 the
 * root. For BINARY and the like. */
const struct mime_part *imap_section_part(const struct mime_part *root,
	    const struct imap_section *sec);

#endif
