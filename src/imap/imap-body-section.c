/* imap-body-section: BODY[section]<partial> (RFC 3501 section 6.4.5; see
 * imap-body.h): the section specifier, and the octets it names.
 *
 * Part numbers: a multipart's parts are numbered from 1; a message that
 * is not multipart has one part, 1, its body; after a message/rfc822
 * part the numbers go on inside the embedded message. HEADER, TEXT and
 * HEADER.FIELDS apply to the message, or to the embedded message of a
 * message/rfc822 part; MIME to the part's own header. What does not exist
 * is empty (as Dovecot answers).
 *
 * Bounded: IMAP_SECTION_MAX_PARTS numbers of at most 9 digits,
 * IMAP_SECTION_MAX_FIELDS names of at most IMAP_SECTION_FIELD_MAX
 * octets. HEADER.FIELDS builds its result in the pool, at most the size
 * of the header plus two octets per field. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-body.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

static bool	field_name_ok(const char *s);
static bool	field_listed(const struct imap_section *sec,
		    const struct header_field *f);
static void	header_fields(struct pool *pool, const char *hdr, size_t len,
		    const struct imap_section *sec,
		    struct imap_section_data *r);

/* header-fld-name: an astring; as a field name, printable ASCII without
 * ':' or white space. */
static bool
field_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] >= 0x7f || s[i] == ':')
			return false;
	return i > 0 && i <= IMAP_SECTION_FIELD_MAX;
}

int
imap_section_parse(struct pool *pool, const char *spec, size_t len,
    const char *const *fields, size_t nfields, struct imap_section *sec,
    const char **error_r)
{
	static const struct {
		const char		*name;
		enum imap_section_text	 text;
	} texts[] = {
		{ "HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT },
		{ "HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS },
		{ "HEADER", IMAP_SECTION_HEADER },
		{ "TEXT", IMAP_SECTION_TEXT },
		{ "MIME", IMAP_SECTION_MIME },
	};
	size_t i = 0, k, digits;
	unsigned v;

	memset(sec, 0, sizeof(*sec));
	*error_r = "invalid section";
	/* section-part: nz-number *("." nz-number) */
	while (i < len && spec[i] >= '0' && spec[i] <= '9') {
		if (spec[i] == '0' || sec->nparts >= IMAP_SECTION_MAX_PARTS)
			return -1;
		for (v = 0, digits = 0; i < len && spec[i] >= '0' &&
		    spec[i] <= '9'; i++, digits++) {
			if (digits >= 9)
				return -1;
			v = v * 10 + (unsigned)(spec[i] - '0');
		}
		sec->parts[sec->nparts++] = v;
		if (i == len)
			break;
		if (spec[i] != '.' || ++i == len)
			return -1;
	}
	if (i < len) {
		for (k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
			if (len - i == strlen(texts[k].name) &&
			    strncasecmp(spec + i, texts[k].name, len - i) == 0)
				break;
		if (k == sizeof(texts) / sizeof(texts[0]))
			return -1;
		sec->text = texts[k].text;
		if (sec->text == IMAP_SECTION_MIME && sec->nparts == 0)
			return -1;
	}
	if (sec->text != IMAP_SECTION_HEADER_FIELDS &&
	    sec->text != IMAP_SECTION_HEADER_FIELDS_NOT)
		return nfields == 0 ? 0 : -1;
	if (nfields == 0 || nfields > IMAP_SECTION_MAX_FIELDS) {
		*error_r = "invalid header field list";
		return -1;
	}
	sec->fields = pool_alloc(pool, nfields * sizeof(*sec->fields));
	for (k = 0; k < nfields; k++) {
		if (!field_name_ok(fields[k])) {
			*error_r = "invalid header field name";
			return -1;
		}
		sec->fields[k] = pool_strdup(pool, fields[k]);
	}
	sec->nfields = nfields;
	return 0;
}

int
imap_section_partial_parse(const char *s, uint64_t *origin_r,
    uint64_t *count_r)
{
	uint64_t n[2] = { 0, 0 };
	size_t i, k = 0, digits = 0;

	*origin_r = 0;
	*count_r = UINT64_MAX;
	if (s[0] == '\0')
		return 0;
	if (s[0] != '<')
		return -1;
	for (i = 1; s[i] != '\0'; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			/* number: up to 2^32 - 1 (RFC 3501), so 10 digits */
			if (++digits > 10)
				return -1;
			n[k] = n[k] * 10 + (uint64_t)(s[i] - '0');
		} else if (s[i] == '.' && k == 0 && digits > 0) {
			k = 1;
			digits = 0;
		} else if (s[i] == '>' && k == 1 && digits > 0 &&
		    s[i + 1] == '\0')
			break;
		else
			return -1;
	}
	if (s[i] != '>' || n[0] > UINT32_MAX || n[1] > UINT32_MAX ||
	    n[1] == 0)
		return -1;
	*origin_r = n[0];
	*count_r = n[1];
	return 0;
}

int
imap_section_append_name(struct buf *b, const struct imap_section *sec)
{
	static const char *const names[] = {
		[IMAP_SECTION_BODY] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	size_t i, k;
	char c;

	for (i = 0; i < sec->nparts; i++)
		if (buf_printf(b, "%s%u", i > 0 ? "." : "",
		    sec->parts[i]) == -1)
			return -1;
	if (sec->text == IMAP_SECTION_BODY)
		return 0;
	if (buf_printf(b, "%s%s", sec->nparts > 0 ? "." : "",
	    names[sec->text]) == -1)
		return -1;
	if (sec->nfields == 0)
		return 0;
	if (buf_append(b, " (", 2) == -1)
		return -1;
	for (i = 0; i < sec->nfields; i++) {
		if (i > 0 && buf_append(b, " ", 1) == -1)
			return -1;
		/* Field names are atoms or quoted: quote what is not an
		 * atom. */
		if (strpbrk(sec->fields[i], "(){%*\"\\]") != NULL) {
			if (imap_append_cstring(b, sec->fields[i]) == -1)
				return -1;
			continue;
		}
		for (k = 0; sec->fields[i][k] != '\0'; k++) {
			c = sec->fields[i][k];
			if (c >= 'a' && c <= 'z')
				c -= 'a' - 'A';
			if (buf_append(b, &c, 1) == -1)
				return -1;
		}
	}
	return buf_append(b, ")", 1);
}

const struct mime_part *
imap_section_part(const struct mime_part *root,
    const struct imap_section *sec)
{
	const struct mime_part *cur = root;
	bool entered = true;	/* cur is a message no number went into */
	size_t i;

	for (i = 0; i < sec->nparts && cur != NULL; i++) {
		/* Numbers after a message/rfc822 part go into it. */
		if (i > 0 && (cur->flags & MIME_PART_MESSAGE) != 0) {
			cur = cur->children;
			entered = true;
		}
		if ((cur->flags & MIME_PART_MULTIPART) != 0)
			cur = mime_part_child(cur, sec->parts[i]);
		else if (sec->parts[i] != 1 || !entered)
			cur = NULL;
		/* else: part 1 of a non-multipart message is its body. */
		entered = false;
	}
	return cur;
}

static bool
field_listed(const struct imap_section *sec, const struct header_field *f)
{
	size_t i;

	for (i = 0; i < sec->nfields; i++)
		if (header_field_is(f, sec->fields[i]))
			return true;
	return false;
}

/* HEADER.FIELDS and HEADER.FIELDS.NOT: the fields kept, each with its
 * line end, then the empty line. */
static void
header_fields(struct pool *pool, const char *hdr, size_t len,
    const struct imap_section *sec, struct imap_section_data *r)
{
	struct header_iter it;
	struct header_field f;
	char *out;
	size_t n = 0, cap = 2;
	bool keep;

	header_iter_init(&it, hdr, len);
	while (header_iter_next(&it, &f))
		cap += f.len + 2;
	out = pool_alloc(pool, cap);
	header_iter_init(&it, hdr, len);
	while (header_iter_next(&it, &f)) {
		keep = field_listed(sec, &f);
		if (sec->text == IMAP_SECTION_HEADER_FIELDS_NOT)
			keep = !keep;
		if (!keep)
			continue;
		/* UNSAFE: cap counts every field plus 2, and the end 2 */
		memcpy(out + n, hdr + f.off, f.len);
		n += f.len;
		if (hdr[f.off + f.len - 1] != '\n') {
			memcpy(out + n, "\r\n", 2);
			n += 2;
		}
	}
	memcpy(out + n, "\r\n", 2);	/* UNSAFE: as above */
	r->data = out;
	r->len = n + 2;
	r->off = SIZE_MAX;
}

void
imap_section_fetch(struct pool *pool, const char *msg, size_t len,
    const struct mime_part *root, const struct imap_section *sec,
    uint64_t origin, uint64_t count, struct imap_section_data *r)
{
	const struct mime_part *p;

	r->data = msg;
	r->len = 0;
	r->off = 0;
	p = imap_section_part(root, sec);
	if (p != NULL && sec->nparts > 0 && sec->text != IMAP_SECTION_BODY &&
	    sec->text != IMAP_SECTION_MIME) {
		/* HEADER, TEXT, HEADER.FIELDS of a part: its message. */
		p = (p->flags & MIME_PART_MESSAGE) != 0 ? p->children : NULL;
	}
	if (p == NULL)
		return;
	switch (sec->text) {
	case IMAP_SECTION_BODY:
		if (sec->nparts == 0) {
			r->len = len;
		} else {
			r->off = p->body_off;
			r->len = p->body_len;
		}
		break;
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_MIME:
		r->off = p->hdr_off;
		r->len = p->hdr_len;
		break;
	case IMAP_SECTION_TEXT:
		r->off = p->body_off;
		r->len = p->body_len;
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		header_fields(pool, msg + p->hdr_off, p->hdr_len, sec, r);
		break;
	}
	if (r->off != SIZE_MAX)
		r->data = msg + r->off;
	/* <origin.count> */
	if (origin >= r->len) {
		r->data += r->len;
		if (r->off != SIZE_MAX)
			r->off += r->len;
		r->len = 0;
		return;
	}
	r->data += origin;
	if (r->off != SIZE_MAX)
		r->off += (size_t)origin;
	r->len -= (size_t)origin;
	if (count < r->len)
		r->len = (size_t)count;
}
