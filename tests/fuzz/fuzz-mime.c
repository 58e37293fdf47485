/* fuzz-mime: the MIME parser and what FETCH makes of it, on arbitrary
 * bytes. The first byte picks the limits (bit 0: small ones, so the depth
 * and part limits are reached often); the rest is the message.
 *
 * Checks: every part lies inside its parent and the message; the limits
 * hold; ENVELOPE, BODY and BODYSTRUCTURE are well-formed IMAP (balanced
 * parentheses, quoted strings without CR, LF or 8-bit, literals of the
 * announced length); every part's sections (n, n.MIME, n.HEADER, n.TEXT,
 * n.HEADER.FIELDS) stay inside the message; the same message followed by
 * garbage gives the same BODYSTRUCTURE; the header decoders run on the
 * fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-body.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "mail/header.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	struct pool		*pool;
	const char		*msg;
	size_t			 len;
	const struct mime_part	*root;
	unsigned		 parts[IMAP_SECTION_MAX_PARTS];
	unsigned		 count;
};

static void	check_syntax(const struct buf *b);
static void	check_part(struct walk *w, const struct mime_part *p,
		    size_t depth);
static void	fetch_sections(struct walk *w, size_t nparts);

/* The output is a sequence of IMAP tokens with balanced parentheses. */
static void
check_syntax(const struct buf *b)
{
	const char *s = (const char *)b->data;
	size_t i = 0, n = b->len, lit;
	long depth = 0;

	while (i < n) {
		switch (s[i]) {
		case '(':
			depth++;
			i++;
			break;
		case ')':
			ASSERT(--depth >= 0);
			i++;
			break;
		case ' ':
			i++;
			break;
		case '"':
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\')
					i++;
				ASSERT(i < n && s[i] != '\r' && s[i] != '\n' &&
				    (unsigned char)s[i] < 0x80 && s[i] != '\0');
			}
			ASSERT(i < n);
			i++;
			break;
		case '{':
			for (lit = 0, i++; i < n && s[i] >= '0' && s[i] <= '9';
			    i++)
				lit = lit * 10 + (size_t)(s[i] - '0');
			ASSERT(n - i >= 3 && memcmp(s + i, "}\r\n", 3) == 0);
			i += 3;
			ASSERT(n - i >= lit);
			ASSERT(memchr(s + i, '\0', lit) == NULL);
			i += lit;
			break;
		default:
			/* NIL or a number */
			if (n - i >= 3 && memcmp(s + i, "NIL", 3) == 0) {
				i += 3;
				break;
			}
			ASSERT(s[i] >= '0' && s[i] <= '9');
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			break;
		}
	}
	ASSERT(depth == 0);
}

static void
check_part(struct walk *w, const struct mime_part *p, size_t depth)
{
	const struct mime_part *c;
	size_t n = 0, i;
	char *text;

	w->count++;
	ASSERT(p->hdr_off + p->hdr_len == p->body_off);
	ASSERT(p->body_off <= w->len && p->body_len <= w->len - p->body_off);
	ASSERT(p->type != NULL && p->subtype != NULL);
	ASSERT(p->depth == depth);
	for (c = p->children; c != NULL; c = c->next, n++) {
		ASSERT(c->parent == p);
		ASSERT(c->hdr_off >= p->body_off);
		ASSERT(c->body_off + c->body_len <= p->body_off + p->body_len);
		if (depth < IMAP_SECTION_MAX_PARTS)
			w->parts[depth] = (unsigned)n + 1;
		check_part(w, c, depth + 1);
	}
	ASSERT(n == p->nchildren);
	if ((p->flags & MIME_PART_MULTIPART) != 0)
		ASSERT(n >= 1);
	if ((p->flags & MIME_PART_MESSAGE) != 0)
		ASSERT(n == 1);
	if (n == 0) {
		text = mime_part_text(w->pool, w->msg, p, &i);
		ASSERT(text[i] == '\0');
	}
	if (depth > 0 && depth <= IMAP_SECTION_MAX_PARTS)
		fetch_sections(w, depth);
}

/* The sections of the part that w->parts[0..nparts) names, as a client
 * would ask for them (numbers through a message/rfc822 are not quite a
 * tree walk, so some of these are empty; none may leave the message). */
static void
fetch_sections(struct walk *w, size_t nparts)
{
	static const char *const texts[] = { "", "MIME", "HEADER", "TEXT",
	    "HEADER.FIELDS" };
	static const char *const fields[] = { "From", "Content-Type" };
	struct imap_section_data d;
	struct imap_section sec;
	const char *error;
	struct buf spec;
	size_t i, k;

	for (k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		buf_init(&spec, 1024);
		for (i = 0; i < nparts; i++)
			ASSERT(buf_printf(&spec, "%s%u", i > 0 ? "." : "",
			    w->parts[i]) == 0);
		if (texts[k][0] != '\0')
			ASSERT(buf_printf(&spec, ".%s", texts[k]) == 0);
		ASSERT(imap_section_parse(w->pool, buf_cstr(&spec), spec.len,
		    fields, k == 4 ? 2 : 0, &sec, &error) == 0);
		imap_section_fetch(w->pool, w->msg, w->len, w->root, &sec,
		    k, 1000, &d);
		ASSERT(d.len <= 1000);
		if (d.off != SIZE_MAX)
			ASSERT(d.data == w->msg + d.off && d.off <= w->len &&
			    d.len <= w->len - d.off);
		buf_deinit(&spec);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char garbage[] = "\r\n--b\r\n--\r\n\r\nContent-Type: x";
	struct mime_limits small = { .max_depth = 4, .max_parts = 8 };
	const struct mime_limits *lim = NULL;
	const struct mime_part *root;
	struct imap_section_data d;
	struct header_field f;
	struct imap_section sec;
	struct buf b, again;
	struct pool *pool;
	struct walk w;
	const char *msg, *error;
	char *more;
	size_t len;
	time_t t;
	int tz;

	if (size == 0)
		return 0;
	if (data[0] & 1)
		lim = &small;
	msg = (const char *)data + 1;
	len = size - 1;
	pool = pool_new(NULL);

	root = mime_parse(pool, msg, len, lim);
	memset(&w, 0, sizeof(w));
	w.pool = pool;
	w.msg = msg;
	w.len = len;
	w.root = root;
	check_part(&w, root, 0);
	ASSERT(w.count <= (lim != NULL ? lim->max_parts : MIME_MAX_PARTS));

	buf_init(&b, 1 << 26);
	ASSERT(imap_envelope_append(&b, pool, msg + root->hdr_off,
	    root->hdr_len) == 0);
	check_syntax(&b);
	buf_reset(&b);
	ASSERT(imap_bodystructure_append(&b, pool, msg, root, false) == 0);
	check_syntax(&b);
	buf_reset(&b);
	ASSERT(imap_bodystructure_append(&b, pool, msg, root, true) == 0);
	check_syntax(&b);

	/* Octets past len change nothing. */
	more = xmalloc(len + sizeof(garbage));
	memcpy(more, msg, len);
	memcpy(more + len, garbage, sizeof(garbage));
	buf_init(&again, 1 << 26);
	ASSERT(imap_bodystructure_append(&again, pool, more,
	    mime_parse(pool, more, len, lim), true) == 0);
	ASSERT(again.len == b.len && memcmp(again.data, b.data, b.len) == 0);
	buf_deinit(&again);
	free(more);
	buf_deinit(&b);

	ASSERT(imap_section_parse(pool, "", 0, NULL, 0, &sec, &error) == 0);
	imap_section_fetch(pool, msg, len, root, &sec, 0, UINT64_MAX, &d);
	ASSERT(d.len == len);

	if (header_find(msg, root->hdr_len, "subject", &f))
		(void)header_decode(pool, f.value, f.value_len);
	if (header_find(msg, root->hdr_len, "date", &f))
		(void)!header_date_parse(f.value, f.value_len, &t, &tz);
	pool_free(&pool);
	return 0;
}
