/* box: the process-wide registry of loaded mailboxes and the data
 * structures of one (store-private.h): the message array sorted by UID,
 * the arena of file names, the base-name hash tables and the change log
 * the views report from. Called by every other file of the store.
 *
 * A box no view holds any more stays loaded, with its inotify watch, on
 * an idle list of at most IDLE_BOXES_MAX boxes and IDLE_MSGS_MAX
 * messages (least recently used first out): a client's next SELECT or
 * STATUS of it costs a sync, not a load (stat, read postie-index, scan
 * cur/ and new/). It is freed when it is evicted, or found replaced.
 *
 * Memory per message is one struct smsg (40 octets) plus its file name in
 * the arena and a hash slot, whatever the number of sessions. Renamed
 * files leave garbage in the arena, compacted when it is over half. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/watch.h"

#define REG_BUCKETS_MIN	64
#define ARENA_MIN	4096
#define IDLE_BOXES_MAX	64
#define IDLE_MSGS_MAX	(512 * 1024)	/* about 20 MiB of struct smsg */

struct registry {
	struct box	**bucket;
	size_t		 nbuckets;
	size_t		 count;
};

static struct registry reg;

/* Boxes without holders, most recently used first. */
static struct {
	struct box	*head;
	struct box	*tail;
	unsigned	 n;
	uint64_t	 msgs;
} idle;

static uint32_t	 hash_bytes(const char *s, size_t len);
static struct box **reg_slot(const char *path);
static void	 reg_add(struct box *b);
static void	 reg_remove(struct box *b);
static void	 box_free(struct box *b);
static void	 idle_remove(struct box *b);
static void	 idle_add(struct box *b);
static uint32_t	 arena_add(struct box *b, const char *s, size_t len);
static void	 arena_compact(struct box *b);
static void	 tab_insert(struct nametab *t, uint32_t h, uint32_t idx);
static void	 tab_reset(struct nametab *t, uint32_t entries);
static const char *pend_name(const struct box *b, uint32_t i, size_t *len_r);
static int	 cmp_uid(const void *a, const void *b);

static uint32_t
hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261U;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619U;
	}
	return h;
}

static struct box **
reg_slot(const char *path)
{
	return &reg.bucket[hash_bytes(path, strlen(path)) &
	    (reg.nbuckets - 1)];
}

static void
reg_add(struct box *b)
{
	struct box **old, *e, *next;
	size_t oldn, i;

	if (reg.nbuckets == 0 || reg.count >= reg.nbuckets) {
		old = reg.bucket;
		oldn = reg.nbuckets;
		reg.nbuckets = oldn == 0 ? REG_BUCKETS_MIN : oldn * 2;
		reg.bucket = xcalloc(reg.nbuckets, sizeof(*reg.bucket));
		for (i = 0; i < oldn; i++) {
			for (e = old[i]; e != NULL; e = next) {
				next = e->hnext;
				e->hnext = *reg_slot(e->path);
				*reg_slot(e->path) = e;
			}
		}
		free(old);
	}
	b->hnext = *reg_slot(b->path);
	*reg_slot(b->path) = b;
	reg.count++;
}

static void
reg_remove(struct box *b)
{
	struct box **pp;

	if (reg.nbuckets == 0)
		return;
	for (pp = reg_slot(b->path); *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == b) {
			*pp = b->hnext;
			b->hnext = NULL;
			reg.count--;
			break;
		}
	}
	if (reg.count == 0) {
		free(reg.bucket);
		reg.bucket = NULL;
		reg.nbuckets = 0;
	}
}

/* The loaded box for path, if it is still the same mailbox; one that was
 * replaced (deleted, renamed, created anew) leaves the registry. */
struct box *
box_lookup(const char *path, dev_t dev, ino_t ino)
{
	struct box *b;

	if (reg.nbuckets == 0)
		return NULL;
	for (b = *reg_slot(path); b != NULL; b = b->hnext) {
		if (strcmp(b->path, path) != 0)
			continue;
		if (!b->gone && b->cur_dev == dev && b->cur_ino == ino)
			return b;
		b->gone = true;
		reg_remove(b);
		if (b->idle) {
			idle_remove(b);
			box_free(b);
		}
		return NULL;
	}
	return NULL;
}

struct box *
box_new(const char *path, const char *name, const char *root,
    const char *hostname, dev_t dev, ino_t ino)
{
	struct box *b = xcalloc(1, sizeof(*b));
	const char *error;

	b->path = xstrdup(path);
	b->name = xstrdup(name);
	b->root = xstrdup(root);
	b->hostname = hostname != NULL ? xstrdup(hostname) : NULL;
	b->cur_dev = dev;
	b->cur_ino = ino;
	b->refs = 1;
	b->next_uid = 1;
	b->log_base = 1;
	b->gen = 1;
	reg_add(b);
	/* Without inotify (limit reached), stat stamps do the job. */
	b->pwatch = store_watch_add(NULL, path, NULL, NULL, &error);
	return b;
}

/* The mailbox at path is gone (deleted): its directories' inode numbers
 * may come back with a new one, so the box must not be found again. */
void
box_forget_path(const char *path)
{
	struct box *b;

	if (reg.nbuckets == 0)
		return;
	for (b = *reg_slot(path); b != NULL; b = b->hnext)
		if (strcmp(b->path, path) == 0)
			break;
	if (b == NULL)
		return;
	box_forget(b);
	if (b->idle) {
		idle_remove(b);
		box_free(b);
	}
}

void
box_forget(struct box *b)
{
	if (!b->gone) {
		b->gone = true;
		reg_remove(b);
	}
}

static void
box_free(struct box *b)
{
	unsigned i;

	ASSERT(b->views == NULL);
	if (!b->gone)
		reg_remove(b);
	store_watch_remove(&b->pwatch);
	box_digests_clear(b);
	for (i = 0; i < STORE_KEYWORDS_MAX; i++)
		free(b->kw[i]);
	free(b->msgs);
	free(b->mtab.slot);
	free(b->ptab.slot);
	free(b->names);
	free(b->pend);
	free(b->log);
	free(b->hdr_ext);
	free(b->path);
	free(b->name);
	free(b->root);
	free(b->hostname);
	free(b);
}

static void
idle_remove(struct box *b)
{
	ASSERT(b->idle);
	if (b->idle_prev != NULL)
		b->idle_prev->idle_next = b->idle_next;
	else
		idle.head = b->idle_next;
	if (b->idle_next != NULL)
		b->idle_next->idle_prev = b->idle_prev;
	else
		idle.tail = b->idle_prev;
	b->idle_next = b->idle_prev = NULL;
	b->idle = false;
	idle.n--;
	idle.msgs -= b->idle_msgs;
}

/* At the head; the least recently used go over the limits. */
static void
idle_add(struct box *b)
{
	struct box *old;

	b->idle = true;
	b->idle_prev = NULL;
	b->idle_next = idle.head;
	if (idle.head != NULL)
		idle.head->idle_prev = b;
	else
		idle.tail = b;
	idle.head = b;
	idle.n++;
	b->idle_msgs = b->nmsgs;
	idle.msgs += b->idle_msgs;
	while (idle.n > IDLE_BOXES_MAX || (idle.msgs > IDLE_MSGS_MAX &&
	    idle.tail != NULL)) {
		old = idle.tail;
		idle_remove(old);
		box_free(old);
	}
}

struct box *
box_idle_oldest(void)
{
	return idle.tail;
}

void
box_hold(struct box *b)
{
	if (b->idle)
		idle_remove(b);
	b->refs++;
}

void
box_put(struct box **bp)
{
	struct box *b = *bp;

	*bp = NULL;
	if (b == NULL)
		return;
	ASSERT(b->refs > 0);
	if (--b->refs > 0)
		return;
	if (b->index_dirty > 0 && !b->gone)
		box_index_save(b);
	if (b->gone)
		box_free(b);
	else
		idle_add(b);
}

void
store_drop_idle(void)
{
	struct box *b;

	while ((b = idle.tail) != NULL) {
		idle_remove(b);
		box_free(b);
	}
}

/*
 * Names.
 */

static uint32_t
arena_add(struct box *b, const char *s, size_t len)
{
	uint32_t off;

	if (b->nameslen + len + 1 > b->namescap) {
		if (b->namesgarbage > b->nameslen / 2)
			arena_compact(b);
		while (b->nameslen + len + 1 > b->namescap)
			b->namescap = b->namescap < ARENA_MIN ? ARENA_MIN :
			    b->namescap * 2;
		b->names = xreallocarray(b->names, b->namescap, 1);
	}
	if (b->nameslen + len + 1 > UINT32_MAX)
		fatalx("store: name arena of %s too large", b->path);
	off = (uint32_t)b->nameslen;
	memcpy(b->names + off, s, len);	/* UNSAFE: checked above */
	b->names[off + len] = '\0';
	b->nameslen += len + 1;
	return off;
}

/* Copy the live names into a new arena. */
static void
arena_compact(struct box *b)
{
	char *old = b->names;
	size_t need = 0;
	uint32_t i;

	for (i = 0; i < b->nmsgs; i++)
		need += (size_t)b->msgs[i].namelen + 1;
	for (i = 0; i < b->npend; i++)
		need += (size_t)b->pend[i].namelen + 1;
	b->namescap = need < ARENA_MIN ? ARENA_MIN : need * 2;
	b->names = xmalloc(b->namescap);
	b->nameslen = 0;
	b->namesgarbage = 0;
	for (i = 0; i < b->nmsgs; i++)
		b->msgs[i].name = arena_add(b, old + b->msgs[i].name,
		    b->msgs[i].namelen);
	for (i = 0; i < b->npend; i++)
		b->pend[i].name = arena_add(b, old + b->pend[i].name,
		    b->pend[i].namelen);
	free(old);
}

const char *
box_name_of(const struct box *b, const struct smsg *m)
{
	return b->names + m->name;
}

/* Octets of the base name: up to the first ':'. */
size_t
box_base_len(const char *name, size_t len)
{
	const char *colon = memchr(name, ':', len);

	return colon != NULL ? (size_t)(colon - name) : len;
}

int
box_set_name(struct box *b, struct smsg *m, const char *name, size_t len)
{
	uint32_t off;

	if (len > STORE_FILE_NAME_MAX)
		return -1;
	if (len == m->namelen &&
	    memcmp(b->names + m->name, name, len) == 0)
		return 0;
	/* The base does not change, so the hash slot stays valid; the
	 * arena may move, so take the offset before touching m again. */
	off = arena_add(b, name, len);
	b->namesgarbage += (size_t)m->namelen + 1;
	m->name = off;
	m->namelen = (uint16_t)len;
	return 0;
}

/*
 * Hash tables: slot values are index + 1, 0 is empty.
 */

static void
tab_reset(struct nametab *t, uint32_t entries)
{
	uint32_t cap = 16;

	while (cap < entries * 2 + 2)
		cap *= 2;
	if (cap != t->cap) {
		free(t->slot);
		t->slot = xcalloc(cap, sizeof(*t->slot));
		t->cap = cap;
	} else
		memset(t->slot, 0, cap * sizeof(*t->slot));
	t->used = 0;
}

static void
tab_insert(struct nametab *t, uint32_t h, uint32_t idx)
{
	uint32_t i = h & (t->cap - 1);

	while (t->slot[i] != 0)
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = idx + 1;
	t->used++;
}

static const char *
pend_name(const struct box *b, uint32_t i, size_t *len_r)
{
	*len_r = b->pend[i].namelen;
	return b->names + b->pend[i].name;
}

void
box_tab_rebuild(struct box *b)
{
	const char *n;
	size_t len;
	uint32_t i;

	tab_reset(&b->mtab, b->nmsgs);
	for (i = 0; i < b->nmsgs; i++) {
		n = b->names + b->msgs[i].name;
		len = box_base_len(n, b->msgs[i].namelen);
		tab_insert(&b->mtab, hash_bytes(n, len), i);
	}
	tab_reset(&b->ptab, b->npend);
	for (i = 0; i < b->npend; i++) {
		n = pend_name(b, i, &len);
		tab_insert(&b->ptab, hash_bytes(n, len), i);
	}
}

/* msgs index of the message with this base name, or UINT32_MAX. */
uint32_t
box_lookup_base(const struct box *b, const char *base, size_t len)
{
	const struct smsg *m;
	uint32_t i, v;

	if (b->mtab.cap == 0)
		return UINT32_MAX;
	for (i = hash_bytes(base, len) & (b->mtab.cap - 1);
	    (v = b->mtab.slot[i]) != 0; i = (i + 1) & (b->mtab.cap - 1)) {
		m = &b->msgs[v - 1];
		if (box_base_len(b->names + m->name, m->namelen) == len &&
		    memcmp(b->names + m->name, base, len) == 0)
			return v - 1;
	}
	return UINT32_MAX;
}

/* pend index of a uidlist record with this base name, or UINT32_MAX. */
uint32_t
box_lookup_pend(const struct box *b, const char *base, size_t len)
{
	const char *n;
	size_t nlen;
	uint32_t i, v;

	if (b->ptab.cap == 0 || b->npend == 0)
		return UINT32_MAX;
	for (i = hash_bytes(base, len) & (b->ptab.cap - 1);
	    (v = b->ptab.slot[i]) != 0; i = (i + 1) & (b->ptab.cap - 1)) {
		n = pend_name(b, v - 1, &nlen);
		if (b->pend[v - 1].uid != 0 && nlen == len &&
		    memcmp(n, base, len) == 0)
			return v - 1;
	}
	return UINT32_MAX;
}

/* A record for a file not seen yet; a later record for the same base
 * replaces an earlier one (as Dovecot reads it). */
void
box_add_pend(struct box *b, uint32_t uid, const char *base, size_t len,
    uint64_t vsize)
{
	struct spend *p;
	uint32_t i;

	if ((i = box_lookup_pend(b, base, len)) != UINT32_MAX) {
		b->pend[i].uid = uid;
		b->pend[i].vsize = vsize;
		return;
	}
	if (b->npend == b->cappend) {
		b->cappend = b->cappend == 0 ? 64 : b->cappend * 2;
		b->pend = xreallocarray(b->pend, b->cappend, sizeof(*b->pend));
	}
	p = &b->pend[b->npend];
	p->uid = uid;
	p->vsize = vsize;
	p->namelen = (uint16_t)len;
	p->name = arena_add(b, base, len);	/* may compact: p first */
	if (b->ptab.cap == 0 || (b->npend + 1) * 2 + 2 > b->ptab.cap) {
		b->npend++;
		box_tab_rebuild(b);
		return;
	}
	tab_insert(&b->ptab, hash_bytes(base, len), b->npend);
	b->npend++;
}

void
box_clear_pend(struct box *b)
{
	uint32_t i;

	for (i = 0; i < b->npend; i++)
		b->namesgarbage += (size_t)b->pend[i].namelen + 1;
	b->npend = 0;
	if (b->ptab.cap > 0)
		tab_reset(&b->ptab, 0);
}

/*
 * Messages.
 */

/* First index whose UID is >= uid. */
uint32_t
box_lower_bound(const struct box *b, uint32_t uid)
{
	uint32_t lo = 0, hi = b->nmsgs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (b->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of uid, or UINT32_MAX. */
uint32_t
box_find_uid(const struct box *b, uint32_t uid)
{
	uint32_t i = box_lower_bound(b, uid);

	return i < b->nmsgs && b->msgs[i].uid == uid ? i : UINT32_MAX;
}

/* Insert a copy of m (its name is given; m->name is ignored) at its UID's
 * place. */
uint32_t
box_insert_msg(struct box *b, const struct smsg *m, const char *name,
    size_t len)
{
	uint32_t i = box_lower_bound(b, m->uid), off;
	const char *base;
	size_t blen;

	ASSERT(i == b->nmsgs || b->msgs[i].uid != m->uid);
	off = arena_add(b, name, len);
	if (b->nmsgs == b->capmsgs) {
		b->capmsgs = b->capmsgs == 0 ? 64 : b->capmsgs * 2;
		b->msgs = xreallocarray(b->msgs, b->capmsgs, sizeof(*b->msgs));
	}
	if (i < b->nmsgs)
		memmove(&b->msgs[i + 1], &b->msgs[i],
		    (b->nmsgs - i) * sizeof(*b->msgs));
	b->msgs[i] = *m;
	b->msgs[i].name = off;
	b->msgs[i].namelen = (uint16_t)len;
	b->nmsgs++;
	b->gen++;
	base = b->names + off;
	blen = box_base_len(base, len);
	if (i + 1 == b->nmsgs && b->mtab.cap > 0 &&
	    b->nmsgs * 2 + 2 <= b->mtab.cap)
		tab_insert(&b->mtab, hash_bytes(base, blen), i);
	else
		box_tab_rebuild(b);
	return i;
}

/* Add m at the end whatever its UID; box_finish_appends() sorts. */
void
box_append_unsorted(struct box *b, const struct smsg *m, const char *name,
    size_t len)
{
	uint32_t off = arena_add(b, name, len);

	if (b->nmsgs == b->capmsgs) {
		b->capmsgs = b->capmsgs == 0 ? 64 : b->capmsgs * 2;
		b->msgs = xreallocarray(b->msgs, b->capmsgs, sizeof(*b->msgs));
	}
	b->msgs[b->nmsgs] = *m;
	b->msgs[b->nmsgs].name = off;
	b->msgs[b->nmsgs].namelen = (uint16_t)len;
	b->nmsgs++;
}

static int
cmp_uid(const void *a, const void *b)
{
	const struct smsg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

void
box_finish_appends(struct box *b)
{
	qsort(b->msgs, b->nmsgs, sizeof(*b->msgs), cmp_uid);
	b->gen++;
	box_tab_rebuild(b);
}

/* Drop the messages at the sorted indexes idx[0..n). */
void
box_remove_msgs(struct box *b, const uint32_t *idx, size_t n)
{
	uint32_t r, w = 0;
	size_t k = 0;

	if (n == 0)
		return;
	for (r = 0; r < b->nmsgs; r++) {
		if (k < n && idx[k] == r) {
			b->namesgarbage += (size_t)b->msgs[r].namelen + 1;
			k++;
			continue;
		}
		if (w != r)
			b->msgs[w] = b->msgs[r];
		w++;
	}
	b->nmsgs = w;
	b->gen++;
	box_tab_rebuild(b);
}

int
box_subpath(const struct box *b, const char *sub, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", b->path, sub);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
box_path(const struct box *b, const struct smsg *m, char *out,
    size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s/%s", b->path,
	    (m->st & SM_NEW) ? "new" : "cur", b->names + m->name);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * The change log.
 */

void
box_log(struct box *b, uint32_t uid, uint8_t kind, uint32_t origin)
{
	struct schange *c;

	if (b->views == NULL) {
		/* Nobody to tell: keep the log empty. */
		b->log_base += b->nlog;
		b->nlog = 0;
		b->gen++;
		return;
	}
	if (b->nlog == b->caplog) {
		b->caplog = b->caplog == 0 ? 64 : b->caplog * 2;
		b->log = xreallocarray(b->log, b->caplog, sizeof(*b->log));
	}
	c = &b->log[b->nlog++];
	c->uid = uid;
	c->kind = kind;
	c->origin = origin;
	b->gen++;
}

/* Drop the entries every view has reported. */
void
box_log_trim(struct box *b)
{
	const struct store_view *v;
	uint64_t min = b->log_base + b->nlog;
	size_t drop;

	for (v = b->views; v != NULL; v = v->next)
		if (v->log_pos < min)
			min = v->log_pos;
	drop = (size_t)(min - b->log_base);
	if (drop == 0)
		return;
	memmove(b->log, b->log + drop, (b->nlog - drop) * sizeof(*b->log));
	b->nlog -= drop;
	b->log_base = min;
	if (b->nlog == 0 && b->caplog > 1024) {
		free(b->log);
		b->log = NULL;
		b->caplog = 0;
	}
}

void
box_own_begin(struct box *b, struct box_own *o)
{
	o->ok = false;
	if (b->pwatch == NULL)
		return;
	o->gen[0] = store_watch_generation(b->pwatch, STORE_WATCH_NEW);
	o->gen[1] = store_watch_generation(b->pwatch, STORE_WATCH_CUR);
	o->ok = o->gen[0] == b->new_gen && o->gen[1] == b->cur_gen;
}

/* dnew, dcur: the events our changes made in new/ and cur/ (a rename
 * within a directory makes two, across or in or out one, an unlink one). */
void
box_own_end(struct box *b, const struct box_own *o, unsigned dnew,
    unsigned dcur)
{
	uint64_t gn, gc;

	if (!o->ok || b->pwatch == NULL)
		return;
	gn = store_watch_generation(b->pwatch, STORE_WATCH_NEW);
	gc = store_watch_generation(b->pwatch, STORE_WATCH_CUR);
	if (gn == o->gen[0] + dnew && gc == o->gen[1] + dcur) {
		b->new_gen = gn;
		b->cur_gen = gc;
	}
}
