/* imap-hdigest: the header digest, what the store keeps in memory per
 * message for IMAP (store_msg_digest()): the fields of the header section
 * that ENVELOPE needs and that clients list in HEADER.FIELDS and search
 * for, each copied as it stands (folds and all) with its line end, in
 * their order, then the empty line. It is itself a header section, so
 * the same code reads it: ENVELOPE, HEADER.FIELDS of kept fields and the
 * header SEARCH keys on kept fields give from it exactly what they give
 * from the message (fuzz-hdigest checks that). FETCH and SEARCH load a
 * message's digest from the store, or make it from the header they read
 * and save it there. */
#include <string.h>
#include <strings.h>

#include "imap/imap-hdigest.h"
#include "lib/buf.h"
#include "store/store.h"
#include "mail/header.h"

/* ENVELOPE's fields, then what Thunderbird, Apple Mail, K-9 and
 * Roundcube ask for in their message lists. */
static const char *const kept[] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
	"references", "content-type", "priority", "x-priority", "importance",
	"newsgroups", "list-post", "list-id", "disposition-notification-to",
	"mail-reply-to", "mail-followup-to", "return-path", "x-draft-info",
	"x-spam-flag", "x-spam-status", "content-transfer-encoding",
	"mime-version",
};

bool
imap_hdigest_keeps(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strlen(kept[i]) == len && strncasecmp(kept[i], name,
		    len) == 0)
			return true;
	return false;
}

int
imap_hdigest_make(struct buf *b, const char *hdr, size_t len)
{
	struct header_iter it;
	struct header_field f;

	buf_reset(b);
	header_iter_init(&it, hdr, len);
	while (header_iter_next(&it, &f)) {
		if (!f.valid || !imap_hdigest_keeps(f.name, f.name_len))
			continue;
		/* A last field without its line end (a message that ends
		 * in its header) reads differently once it has one. */
		if (hdr[f.off + f.len - 1] != '\n' ||
		    buf_append(b, hdr + f.off, f.len) == -1)
			return -1;
	}
	if (buf_append(b, "\r\n", 2) == -1 || b->len > IMAP_HDIGEST_MAX)
		return -1;
	return 0;
}

bool
imap_hdigest_serves_section(const struct imap_section *sec)
{
	size_t i;

	if (sec->nparts > 0 || sec->text != IMAP_SECTION_HEADER_FIELDS)
		return false;
	for (i = 0; i < sec->nfields; i++)
		if (!imap_hdigest_keeps(sec->fields[i],
		    strlen(sec->fields[i])))
			return false;
	return true;
}

bool
imap_hdigest_load(struct store_view *v, uint32_t seq,
    struct store_msg_data *d)
{
	const char *data;
	size_t len;

	if (!store_msg_digest(v, seq, IMAP_DIGEST_HEADER, &data, &len))
		return false;
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->data = (const uint8_t *)data;
	d->len = len;
	d->header_only = true;
	return true;
}

void
imap_hdigest_save(struct store_view *v, uint32_t seq,
    const struct store_msg_data *d)
{
	const char *hdr = (const char *)d->data;
	struct buf b;

	buf_init(&b, IMAP_HDIGEST_MAX);
	if (imap_hdigest_make(&b, hdr, header_section_len(hdr, d->len)) == 0)
		store_msg_set_digest(v, seq, IMAP_DIGEST_HEADER,
		    (const char *)b.data, b.len);
	buf_deinit(&b);
}
