/* header: the header section of a message (RFC 5322), as IMAP FETCH and
 * SEARCH and the MIME parser need it. Pure functions over (data, len):
 * nothing is read past len, no NUL terminator is assumed, and NUL octets
 * in the input are tolerated (dropped from produced strings).
 *
 *   header.c          end of the header section, fields, unfolding
 *   header-decode.c   RFC 2047 encoded words and charsets (iconv) to UTF-8
 *   header-date.c     RFC 5322 dates, with the obsolete forms
 *   header-address.c  address lists with display names and groups
 *
 * Messages with bare LF line ends are accepted everywhere a CRLF is. */
#ifndef POSTIE_HEADER_H
#define POSTIE_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct pool;

/*
 * The length of the header section at the start of msg, the empty line
 * that ends it included: the body starts there. A message that starts
 * with an empty line has a header section of just that line; one with no
 * empty line at all is all header.
 */
size_t	header_section_len(const char *msg, size_t len);

/* One field of a header section. The pointers are into the section. */
struct header_field {
	const char	*name;		/* trailing white space dropped */
	size_t		 name_len;
	const char	*value;		/* after the colon; folds kept, the
					   last line end not */
	size_t		 value_len;
	size_t		 off;		/* the whole field, line end */
	size_t		 len;		/* included, from the section start */
	bool		 valid;		/* false: a line without a colon, a
					   bad name, or a continuation with
					   no field; name is then all of its
					   text and value empty */
};

struct header_iter {
	const char	*hdr;
	size_t		 len;
	size_t		 pos;
};

/* Iterate over the fields of hdr[0..len); the iteration stops at the
 * empty line that ends the section, or at len. */
void	header_iter_init(struct header_iter *it, const char *hdr, size_t len);
bool	header_iter_next(struct header_iter *it, struct header_field *f_r);
/* Whether f is a valid field called name (case-insensitive). */
bool	header_field_is(const struct header_field *f, const char *name);
/* The first field called name; false when there is none. */
bool	header_find(const char *hdr, size_t len, const char *name,
	    struct header_field *f_r);

/*
 * The value unfolded: CR and LF removed, NUL octets dropped, white space
 * at both ends trimmed. Allocated from pool, NUL-terminated; the length
 * in *len_r when len_r is not NULL.
 */
char	*header_unfold(struct pool *pool, const char *value, size_t len,
	    size_t *len_r);

/*
 * The value as text: unfolded, RFC 2047 encoded words decoded (B and Q,
 * any charset iconv knows; white space between adjacent encoded words
 * dropped; a word split in the middle of a character is joined with its
 * neighbour of the same charset first), and the result in valid UTF-8:
 * an octet that is not becomes U+FFFD. An encoded word in an unknown
 * charset is kept as it is.
 */
char	*header_decode(struct pool *pool, const char *value, size_t len);

/*
 * in[0..len) in the named charset (a MIME charset name; RFC 2231's
 * "*language" suffix is ignored) converted to UTF-8, with U+FFFD for what
 * does not convert and NUL octets dropped. NULL when the charset is not
 * known (or not a plausible name); the caller then decides.
 */
char	*charset_to_utf8(struct pool *pool, const char *charset,
	    const char *in, size_t len, size_t *len_r);
/* in[0..len) as valid UTF-8 (invalid octets become U+FFFD, NUL dropped). */
char	*utf8_sanitize(struct pool *pool, const char *in, size_t len,
	    size_t *len_r);

/*
 * An RFC 5322 date-time ("Tue, 1 Jul 2003 10:52:37 +0200"), with the
 * obsolete forms (no day name, two-digit years, named zones, comments,
 * missing seconds) and the asctime() form. *t_r is the instant (UTC) and
 * *tz_min_r the zone offset in minutes (east positive), so t + tz*60 is
 * the sender's local time, which SEARCH SENTBEFORE and friends compare.
 */
int	header_date_parse(const char *s, size_t len, time_t *t_r,
	    int *tz_min_r) __attribute__((warn_unused_result));

/*
 * Address lists for the IMAP ENVELOPE: each mailbox with its display
 * name, source route, local part and domain, and the start and end of
 * each group. Lenient: it never fails; what is missing is NULL (ENVELOPE
 * prints placeholders). Display names and local parts are unquoted, with
 * encoded words kept as they are (ENVELOPE shows them raw). A mailbox
 * with no display name takes its comment as one ("a@b (Name)").
 */
enum header_addr_kind {
	HEADER_ADDR_MAILBOX,
	HEADER_ADDR_GROUP_START,	/* name: the group's name */
	HEADER_ADDR_GROUP_END,
};

struct header_address {
	struct header_address	*next;
	enum header_addr_kind	 kind;
	const char		*name;		/* NULL: none */
	const char		*route;		/* "@a,@b", NULL: none */
	const char		*mailbox;	/* NULL: missing */
	const char		*domain;	/* NULL: missing */
};

/* At most max_addrs entries (group markers counted); the rest is
 * ignored. NULL for an empty list. Allocated from pool. */
struct header_address *header_address_parse(struct pool *pool,
	    const char *value, size_t len, size_t max_addrs);

#endif
