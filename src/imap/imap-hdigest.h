/* imap-hdigest: the header digest the store keeps per message for IMAP
 * (see imap-hdigest.c): the header fields ENVELOPE, HEADER.FIELDS and
 * header SEARCH keys need most, as a header section of its own. */
#ifndef POSTIE_IMAP_HDIGEST_H
#define POSTIE_IMAP_HDIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-body.h"
#include "store/store.h"

struct buf;

#define IMAP_HDIGEST_MAX	STORE_DIGEST_MAX

/* The kinds of store digest IMAP keeps. */
enum imap_digest_kind {
	IMAP_DIGEST_HEADER,		/* the header digest */
	IMAP_DIGEST_BODY,		/* FETCH BODY's value */
	IMAP_DIGEST_BODYSTRUCTURE,	/* FETCH BODYSTRUCTURE's value */
	IMAP_DIGEST_ENVELOPE,		/* FETCH ENVELOPE's value */
};
_Static_assert(IMAP_DIGEST_ENVELOPE < STORE_DIGEST_KINDS, "digest kinds");

/* Whether the digest keeps the fields called name (any case). */
bool	imap_hdigest_keeps(const char *name, size_t len);

/* The digest of the header section hdr[0..len) into b (reset first; its
 * max should be IMAP_HDIGEST_MAX): 0, or -1 when it would be longer. */
int	imap_hdigest_make(struct buf *b, const char *hdr, size_t len)
	    __attribute__((warn_unused_result));

/* Whether the digest answers sec exactly: HEADER.FIELDS of the top level
 * naming only kept fields. */
bool	imap_hdigest_serves_section(const struct imap_section *sec);

/* seq's digest from the store into d (data, len, no file): false when
 * the store has none. */
bool	imap_hdigest_load(struct store_view *v, uint32_t seq,
	    struct store_msg_data *d);
/* The digest of the header that d starts with, into the store. */
void	imap_hdigest_save(struct store_view *v, uint32_t seq,
	    const struct store_msg_data *d);

#endif
