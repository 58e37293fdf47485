/* digest: small summaries of each message, kept in memory per mailbox
 * for the layer above (IMAP keeps the header fields clients ask for
 * most, BODY and BODYSTRUCTURE, so that ENVELOPE, HEADER.FIELDS, header
 * SEARCH and BODYSTRUCTURE over a whole mailbox open no file). A
 * message's content never changes under its UID, so a digest never goes
 * stale; it goes with its box (or when memory runs short), and the
 * caller makes it again from the file.
 *
 * A message has at most one digest of each of STORE_DIGEST_KINDS kinds.
 * Per box: an open-addressing table (UID, kind) -> (offset, length) into
 * one arena, doubled as it fills. All boxes of the process share about
 * DIGEST_TOTAL_MAX arena octets; past it, the digests of idle boxes go
 * first, then those of the box being added to. Digests of expunged
 * messages stay until their box's go. */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/store-private.h"

#define DIGEST_TOTAL_MAX	(64 * 1024 * 1024)
#define DIGEST_SLOTS_MIN	64
#define ARENA_FIRST		(16 * 1024)

static size_t	total;		/* arena octets of every box */

static struct digest_slot *slot_of(const struct box_digests *d,
		    uint32_t uid, unsigned kind);
static void	grow_table(struct box_digests *d);
static void	make_room(struct box *b, size_t len);

void
box_digests_clear(struct box *b)
{
	struct box_digests *d = &b->digests;

	total -= d->cap;
	free(d->slot);
	free(d->arena);
	memset(d, 0, sizeof(*d));
}

/* The slot of (uid, kind), or the empty one where it would go. */
static struct digest_slot *
slot_of(const struct box_digests *d, uint32_t uid, unsigned kind)
{
	uint32_t i = ((uid * 4 + kind) * 2654435761U) & (d->nslots - 1);

	while (d->slot[i].uid != 0 && (d->slot[i].uid != uid ||
	    d->slot[i].kind != kind))
		i = (i + 1) & (d->nslots - 1);
	return &d->slot[i];
}

static void
grow_table(struct box_digests *d)
{
	struct digest_slot *old = d->slot, *s;
	uint32_t oldn = d->nslots, i;

	d->nslots = oldn == 0 ? DIGEST_SLOTS_MIN : oldn * 2;
	d->slot = xcalloc(d->nslots, sizeof(*d->slot));
	for (i = 0; i < oldn; i++) {
		if (old[i].uid == 0)
			continue;
		s = slot_of(d, old[i].uid, old[i].kind);
		*s = old[i];
	}
	free(old);
}

/* Keep the process within DIGEST_TOTAL_MAX with len more octets in b. */
static void
make_room(struct box *b, size_t len)
{
	struct box *o;

	for (o = box_idle_oldest(); o != NULL && total + len >
	    DIGEST_TOTAL_MAX; o = o->idle_prev)
		if (o != b && o->digests.cap > 0)
			box_digests_clear(o);
	if (total + len > DIGEST_TOTAL_MAX)
		box_digests_clear(b);
}

bool
store_msg_digest(struct store_view *v, uint32_t seq, unsigned kind,
    const char **data_r, size_t *len_r)
{
	struct box_digests *d = &v->box->digests;
	struct digest_slot *s;
	uint32_t uid;

	if (d->n == 0 || (uid = store_view_uid(v, seq)) == 0)
		return false;
	s = slot_of(d, uid, kind);
	if (s->uid == 0)
		return false;
	*data_r = d->arena + s->off;
	*len_r = s->len;
	return true;
}

void
store_msg_set_digest(struct store_view *v, uint32_t seq, unsigned kind,
    const char *data, size_t len)
{
	struct box *b = v->box;
	struct box_digests *d = &b->digests;
	struct digest_slot *s;
	size_t ncap;
	uint32_t uid;

	if (len > STORE_DIGEST_MAX || kind >= STORE_DIGEST_KINDS ||
	    (uid = store_view_uid(v, seq)) == 0)
		return;
	if (d->nslots > 0 && slot_of(d, uid, kind)->uid != 0)
		return;		/* made twice: the same octets */
	if (d->used + len > d->cap) {
		/* may empty d (then d->cap is 0) */
		make_room(b, d->cap == 0 ? ARENA_FIRST : d->cap);
		ncap = d->cap == 0 ? ARENA_FIRST : d->cap * 2;
		while (ncap < d->used + len)
			ncap *= 2;
		d->arena = xreallocarray(d->arena, ncap, 1);
		total += ncap - d->cap;
		d->cap = ncap;
	}
	if ((d->n + 1) * 4 > d->nslots * 3)
		grow_table(d);
	s = slot_of(d, uid, kind);
	memcpy(d->arena + d->used, data, len);	/* UNSAFE: room made above */
	s->uid = uid;
	s->kind = (uint8_t)kind;
	s->off = d->used;
	s->len = (uint32_t)len;
	d->used += len;
	d->n++;
}
