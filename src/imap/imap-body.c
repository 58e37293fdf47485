/* imap-body: BODY and BODYSTRUCTURE (RFC 3501 section 7.4.2, the "body"
 * grammar of section 9), and the IMAP strings every FETCH item uses (see
 * imap-body.h).
 *
 * Called by FETCH for each message, on the tree mime_parse() built. The
 * recursion follows the tree, whose depth mime.c bounds; the output is
 * bounded by the caller's buf. Every string comes from a hostile message
 * and goes out through imap_append_nstring(), which picks quoted or
 * literal form and drops NUL octets. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-body.h"
#include "lib/buf.h"
#include "mail/mime.h"

static int	append_params(struct buf *b, const struct mime_params *params,
		    bool add_charset);
static int	append_disposition(struct buf *b, const struct mime_part *p);
static int	append_languages(struct buf *b, const struct mime_part *p);
static int	append_body(struct buf *b, struct pool *pool, const char *msg,
		    const struct mime_part *p, bool ext);
static int	append_multipart(struct buf *b, struct pool *pool,
		    const char *msg, const struct mime_part *p, bool ext);
static int	append_leaf(struct buf *b, struct pool *pool, const char *msg,
		    const struct mime_part *p, bool ext);

int
imap_append_nstring(struct buf *b, const char *s, size_t len)
{
	size_t i, n = 0, start;
	bool literal = false;

	if (s == NULL)
		return buf_append(b, "NIL", 3);
	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			continue;
		n++;
		if (s[i] == '\r' || s[i] == '\n' || (unsigned char)s[i] >= 0x80)
			literal = true;
	}
	if (n > IMAP_QUOTED_MAX)
		literal = true;
	if (literal) {
		if (buf_printf(b, "{%zu}\r\n", n) == -1)
			return -1;
	} else if (buf_append(b, "\"", 1) == -1)
		return -1;
	/* Copy runs of octets that need no escape or removal. */
	for (i = start = 0; i < len; i++) {
		if (s[i] != '\0' && (literal || (s[i] != '"' && s[i] != '\\')))
			continue;
		if (buf_append(b, s + start, i - start) == -1)
			return -1;
		if (s[i] != '\0' && (buf_append(b, "\\", 1) == -1 ||
		    buf_append(b, &s[i], 1) == -1))
			return -1;
		start = i + 1;
	}
	if (buf_append(b, s + start, len - start) == -1)
		return -1;
	return literal ? 0 : buf_append(b, "\"", 1);
}

int
imap_append_cstring(struct buf *b, const char *s)
{
	return imap_append_nstring(b, s, s != NULL ? strlen(s) : 0);
}

/* body-fld-param: NIL or ("name" "value" ...). A text part without a
 * charset gets charset us-ascii, the default of RFC 2045 (as Dovecot). */
static int
append_params(struct buf *b, const struct mime_params *params,
    bool add_charset)
{
	size_t i;

	for (i = 0; i < params->n && add_charset; i++)
		if (strcasecmp(params->v[i].wire_name, "charset") == 0)
			add_charset = false;
	if (params->n == 0 && !add_charset)
		return buf_append(b, "NIL", 3);
	if (buf_append(b, "(", 1) == -1)
		return -1;
	for (i = 0; i < params->n; i++)
		if ((i > 0 && buf_append(b, " ", 1) == -1) ||
		    imap_append_cstring(b, params->v[i].wire_name) == -1 ||
		    buf_append(b, " ", 1) == -1 ||
		    imap_append_cstring(b, params->v[i].wire_value) == -1)
			return -1;
	if (add_charset && buf_append_str(b, params->n > 0 ?
	    " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"") == -1)
		return -1;
	return buf_append(b, ")", 1);
}

/* body-fld-dsp: NIL or ("type" params). */
static int
append_disposition(struct buf *b, const struct mime_part *p)
{
	if (p->disposition == NULL)
		return buf_append(b, "NIL", 3);
	if (buf_append(b, "(", 1) == -1 ||
	    imap_append_cstring(b, p->disposition) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    append_params(b, &p->disp_params, false) == -1)
		return -1;
	return buf_append(b, ")", 1);
}

/* body-fld-lang: NIL or a list, also of one (as Dovecot). */
static int
append_languages(struct buf *b, const struct mime_part *p)
{
	size_t i;

	if (p->nlanguages == 0)
		return buf_append(b, "NIL", 3);
	if (buf_append(b, "(", 1) == -1)
		return -1;
	for (i = 0; i < p->nlanguages; i++)
		if ((i > 0 && buf_append(b, " ", 1) == -1) ||
		    imap_append_cstring(b, p->languages[i]) == -1)
			return -1;
	return buf_append(b, ")", 1);
}

/* body-type-mpart: 1*body SP subtype [SP body-ext-mpart]. */
static int
append_multipart(struct buf *b, struct pool *pool, const char *msg,
    const struct mime_part *p, bool ext)
{
	const struct mime_part *c;

	if (buf_append(b, "(", 1) == -1)
		return -1;
	for (c = p->children; c != NULL; c = c->next)
		if (append_body(b, pool, msg, c, ext) == -1)
			return -1;
	if (buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->subtype) == -1)
		return -1;
	if (ext && (buf_append(b, " ", 1) == -1 ||
	    append_params(b, &p->params, false) == -1 ||
	    buf_append(b, " ", 1) == -1 || append_disposition(b, p) == -1 ||
	    buf_append(b, " ", 1) == -1 || append_languages(b, p) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->location) == -1))
		return -1;
	return buf_append(b, ")", 1);
}

/* body-type-basic, -msg or -text, with body-ext-1part when ext. */
static int
append_leaf(struct buf *b, struct pool *pool, const char *msg,
    const struct mime_part *p, bool ext)
{
	const char *enc;
	bool text = (p->flags & MIME_PART_TEXT) != 0;

	enc = p->encoding != NULL && p->encoding[0] != '\0' ? p->encoding :
	    "7bit";
	if (buf_append(b, "(", 1) == -1 ||
	    imap_append_cstring(b, p->type) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->subtype) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    append_params(b, &p->params, text) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->id) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->description) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, enc) == -1 ||
	    buf_printf(b, " %zu", p->body_len) == -1)
		return -1;
	if ((p->flags & MIME_PART_MESSAGE) != 0 && p->children != NULL) {
		const struct mime_part *m = p->children;

		if (buf_append(b, " ", 1) == -1 ||
		    imap_envelope_append(b, pool, msg + m->hdr_off,
		    m->hdr_len) == -1 ||
		    buf_append(b, " ", 1) == -1 ||
		    append_body(b, pool, msg, m, ext) == -1 ||
		    buf_printf(b, " %zu", p->body_lines) == -1)
			return -1;
	} else if (text && buf_printf(b, " %zu", p->body_lines) == -1)
		return -1;
	if (ext && (buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->md5) == -1 ||
	    buf_append(b, " ", 1) == -1 || append_disposition(b, p) == -1 ||
	    buf_append(b, " ", 1) == -1 || append_languages(b, p) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    imap_append_cstring(b, p->location) == -1))
		return -1;
	return buf_append(b, ")", 1);
}

static int
append_body(struct buf *b, struct pool *pool, const char *msg,
    const struct mime_part *p, bool ext)
{
	if ((p->flags & MIME_PART_MULTIPART) != 0 && p->children != NULL)
		return append_multipart(b, pool, msg, p, ext);
	return append_leaf(b, pool, msg, p, ext);
}

int
imap_bodystructure_append(struct buf *b, struct pool *pool, const char *msg,
    const struct mime_part *part, bool extended)
{
	return append_body(b, pool, msg, part, extended);
}
