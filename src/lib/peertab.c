/* peertab: shared per-address counters (see peertab.h). Lock-free: every
 * counter is a C11 atomic in a MAP_SHARED anonymous mapping inherited by
 * the workers. */
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/log.h"
#include "lib/peertab.h"

struct fail_bucket {
	_Atomic uint32_t	count;
	_Atomic int64_t		since;	/* start of the current window */
};

struct peertab {
	unsigned		 nslots;
	size_t			 mapsize;
	_Atomic uint32_t	 total[PEERTAB_CLASSES][PEERTAB_MAX_SLOTS];
	struct fail_bucket	 fails[PEERTAB_BUCKETS];
	_Atomic uint16_t	 conns[];	/* [class][slot][bucket] */
};

static unsigned	bucket_of(const struct sockaddr *sa);
static _Atomic uint16_t *conn_counter(struct peertab *pt,
		    enum peertab_class cls, unsigned slot, unsigned bucket);

/* FNV-1a over the address bytes (IPv4-mapped IPv6 hashes as IPv4). */
static unsigned
bucket_of(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *p;
	size_t n, i;
	uint32_t h = 2166136261u;

	if (sa->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		p = sin6->sin6_addr.s6_addr;
		n = 16;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			p += 12;
			n = 4;
		}
	} else
		return 0;
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % PEERTAB_BUCKETS;
}

static _Atomic uint16_t *
conn_counter(struct peertab *pt, enum peertab_class cls, unsigned slot,
    unsigned bucket)
{
	ASSERT(cls < PEERTAB_CLASSES && slot < pt->nslots);
	return &pt->conns[((size_t)cls * pt->nslots + slot) * PEERTAB_BUCKETS +
	    bucket];
}

struct peertab *
peertab_create(unsigned nslots)
{
	struct peertab *pt;
	size_t size;

	ASSERT(nslots > 0 && nslots <= PEERTAB_MAX_SLOTS);
	size = sizeof(*pt) + (size_t)PEERTAB_CLASSES * nslots *
	    PEERTAB_BUCKETS * sizeof(pt->conns[0]);
	pt = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pt == MAP_FAILED)
		fatal("peertab: mmap %zu bytes", size);
	pt->nslots = nslots;
	pt->mapsize = size;
	return pt;
}

void
peertab_destroy(struct peertab **ptp)
{
	if (*ptp != NULL)
		munmap(*ptp, (*ptp)->mapsize);
	*ptp = NULL;
}

void
peertab_reset_slot(struct peertab *pt, unsigned slot)
{
	unsigned b, c;

	ASSERT(slot < pt->nslots);
	for (c = 0; c < PEERTAB_CLASSES; c++) {
		for (b = 0; b < PEERTAB_BUCKETS; b++)
			atomic_store(conn_counter(pt, c, slot, b), 0);
		atomic_store(&pt->total[c][slot], 0);
	}
}

unsigned
peertab_class_count(struct peertab *pt, enum peertab_class cls,
    const struct sockaddr *peer)
{
	unsigned b = bucket_of(peer), s, n = 0;

	for (s = 0; s < pt->nslots; s++)
		n += atomic_load(conn_counter(pt, cls, s, b));
	return n;
}

bool
peertab_class_enter(struct peertab *pt, enum peertab_class cls,
    unsigned slot, const struct sockaddr *peer, unsigned max_per_peer,
    unsigned max_total)
{
	unsigned b = bucket_of(peer), s, total = 0;

	ASSERT(cls < PEERTAB_CLASSES && slot < pt->nslots);
	for (s = 0; s < pt->nslots; s++)
		total += atomic_load(&pt->total[cls][s]);
	/* Racy between workers by at most one connection each: fine. */
	if (total >= max_total ||
	    peertab_class_count(pt, cls, peer) >= max_per_peer)
		return false;
	atomic_fetch_add(conn_counter(pt, cls, slot, b), 1);
	atomic_fetch_add(&pt->total[cls][slot], 1);
	return true;
}

void
peertab_class_leave(struct peertab *pt, enum peertab_class cls,
    unsigned slot, const struct sockaddr *peer)
{
	_Atomic uint16_t *c = conn_counter(pt, cls, slot, bucket_of(peer));

	ASSERT(atomic_load(c) > 0);
	atomic_fetch_sub(c, 1);
	atomic_fetch_sub(&pt->total[cls][slot], 1);
}

unsigned
peertab_conn_count(struct peertab *pt, const struct sockaddr *peer)
{
	return peertab_class_count(pt, PEERTAB_SMTP, peer);
}

bool
peertab_conn_enter(struct peertab *pt, unsigned slot,
    const struct sockaddr *peer, unsigned max_per_peer, unsigned max_total)
{
	return peertab_class_enter(pt, PEERTAB_SMTP, slot, peer, max_per_peer,
	    max_total);
}

void
peertab_conn_leave(struct peertab *pt, unsigned slot,
    const struct sockaddr *peer)
{
	peertab_class_leave(pt, PEERTAB_SMTP, slot, peer);
}

unsigned
peertab_fail(struct peertab *pt, const struct sockaddr *peer, time_t now,
    unsigned window_secs)
{
	struct fail_bucket *fb = &pt->fails[bucket_of(peer)];
	int64_t since = atomic_load(&fb->since);

	if (now - since >= (int64_t)window_secs) {
		/* A new window; a lost race only restarts it twice. */
		atomic_store(&fb->since, (int64_t)now);
		atomic_store(&fb->count, 0);
	}
	return atomic_fetch_add(&fb->count, 1) + 1;
}

unsigned
peertab_failures(struct peertab *pt, const struct sockaddr *peer, time_t now,
    unsigned window_secs)
{
	struct fail_bucket *fb = &pt->fails[bucket_of(peer)];

	if (now - atomic_load(&fb->since) >= (int64_t)window_secs)
		return 0;
	return atomic_load(&fb->count);
}
