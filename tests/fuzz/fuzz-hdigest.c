/* fuzz-hdigest: the header digest (imap/imap-hdigest.c) answers what it
 * claims to answer exactly as the message does. The input is a message
 * (CRLF line ends made from LF, as the store sends it). From the message
 * and from its digest: ENVELOPE, HEADER.FIELDS of several lists of kept
 * fields (one field, all of them, mixed case, repeated), and the decoded
 * values of every kept field, in order, must be equal; the digest must
 * itself end with its empty line and be no longer than the header. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-body.h"
#include "imap/imap-hdigest.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

#define INPUT_MAX	(64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lists[][6] = {
	{ "SUBJECT", NULL },
	{ "From", "To", "Cc", "Date", "Subject", NULL },
	{ "message-id", "REFERENCES", "In-Reply-To", NULL },
	{ "content-type", "x-priority", "Priority", "importance", NULL },
	{ "DATE", "date", NULL },
	{ "list-post", "return-path", "bcc", "sender", "reply-to", NULL },
};

static void	same(const struct buf *a, const struct buf *b);
static void	same_fields(struct pool *pool, const char *hdr, size_t len,
		    const char *dg, size_t dlen);
static void	same_section(struct pool *pool, const char *msg, size_t len,
		    const char *dg, size_t dlen, const char *const *fields);

static void
same(const struct buf *a, const struct buf *b)
{
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
		abort();
}

/* Every kept field, decoded, in the same order. */
static void
same_fields(struct pool *pool, const char *hdr, size_t len, const char *dg,
    size_t dlen)
{
	struct header_iter a, b;
	struct header_field fa, fb;
	const char *va, *vb;

	header_iter_init(&a, hdr, len);
	header_iter_init(&b, dg, dlen);
	while (header_iter_next(&a, &fa)) {
		if (!fa.valid || !imap_hdigest_keeps(fa.name, fa.name_len))
			continue;
		if (!header_iter_next(&b, &fb) || !fb.valid ||
		    fb.name_len != fa.name_len ||
		    memcmp(fb.name, fa.name, fa.name_len) != 0)
			abort();
		va = header_decode(pool, fa.value, fa.value_len);
		vb = header_decode(pool, fb.value, fb.value_len);
		if (strcmp(va, vb) != 0)
			abort();
	}
	if (header_iter_next(&b, &fb))
		abort();
}

static void
same_section(struct pool *pool, const char *msg, size_t len, const char *dg,
    size_t dlen, const char *const *fields)
{
	struct imap_section_data x, y;
	struct imap_section sec;
	struct mime_part top, dtop;
	const char *error;
	size_t n = 0;

	while (fields[n] != NULL)
		n++;
	if (imap_section_parse(pool, "HEADER.FIELDS", 13, fields, n, &sec,
	    &error) != 0 || !imap_hdigest_serves_section(&sec))
		abort();
	memset(&top, 0, sizeof(top));
	top.hdr_len = header_section_len(msg, len);
	top.body_off = top.hdr_len;
	top.body_len = len - top.hdr_len;
	memset(&dtop, 0, sizeof(dtop));
	dtop.hdr_len = header_section_len(dg, dlen);
	dtop.body_off = dtop.hdr_len;
	imap_section_fetch(pool, msg, len, &top, &sec, 0, UINT64_MAX, &x);
	imap_section_fetch(pool, dg, dlen, &dtop, &sec, 0, UINT64_MAX, &y);
	if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf msg, dg, ea, eb;
	struct pool *pool;
	size_t i, hlen;

	if (size > INPUT_MAX)
		return 0;
	buf_init(&msg, 2 * INPUT_MAX + 16);
	for (i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r') &&
		    buf_append(&msg, "\r", 1) == -1)
			abort();
		if (buf_append(&msg, &data[i], 1) == -1)
			abort();
	}
	pool = pool_new(NULL);
	hlen = header_section_len((const char *)msg.data, msg.len);
	buf_init(&dg, IMAP_HDIGEST_MAX);
	if (imap_hdigest_make(&dg, (const char *)msg.data, hlen) == 0) {
		if (dg.len < 2 || memcmp(dg.data + dg.len - 2, "\r\n", 2) ||
		    header_section_len((const char *)dg.data, dg.len) !=
		    dg.len || dg.len > hlen + 2)
			abort();
		buf_init(&ea, 1024 * 1024);
		buf_init(&eb, 1024 * 1024);
		if (imap_envelope_append(&ea, pool, (const char *)msg.data,
		    hlen) == 0 && imap_envelope_append(&eb, pool,
		    (const char *)dg.data, dg.len) == 0)
			same(&ea, &eb);
		buf_deinit(&ea);
		buf_deinit(&eb);
		same_fields(pool, (const char *)msg.data, hlen,
		    (const char *)dg.data, dg.len);
		for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
			same_section(pool, (const char *)msg.data, msg.len,
			    (const char *)dg.data, dg.len, lists[i]);
	}
	buf_deinit(&dg);
	buf_deinit(&msg);
	pool_free(&pool);
	return 0;
}
