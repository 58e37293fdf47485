/* dir-cache: the lookup cache of the SQL backends (see dir-cache.h). A hash
 * table of chained entries (a power of two of buckets, at least twice the
 * entry limit, so chains stay short) and one LRU list, both under one
 * mutex: a lookup holds it for a hash, a compare and a copy. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory/dir-cache.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct entry {
	struct entry	*next;		/* hash chain */
	struct entry	*lru_prev, *lru_next;
	uint64_t	 hash;
	uint64_t	 created;
	bool		 found;
	size_t		 nvals;
	char		*key;		/* in blob */
	char		**vals;		/* nvals pointers into blob */
	char		*blob;		/* key, then each value, NUL-ended */
};

struct dir_cache {
	pthread_mutex_t	  mtx;
	struct entry	**buckets;
	size_t		  nbuckets;	/* a power of two */
	size_t		  count, max;
	uint64_t	  ttl, negative_ttl, stale_ttl;
	struct entry	 *lru_head;	/* most recently used */
	struct entry	 *lru_tail;
};

static uint64_t	 key_hash(const char *key);
static struct entry **find(struct dir_cache *c, const char *key, uint64_t h);
static void	 lru_unlink(struct dir_cache *c, struct entry *e);
static void	 lru_push(struct dir_cache *c, struct entry *e);
static void	 remove_entry(struct dir_cache *c, struct entry **pe);
static void	 entry_free(struct entry *e);

struct dir_cache *
dir_cache_new(size_t max_entries, uint64_t ttl_ms, uint64_t negative_ttl_ms,
    uint64_t stale_ttl_ms)
{
	struct dir_cache *c = xmalloc(sizeof(*c));
	size_t n = 16;

	while (n < max_entries * 2 && n < ((size_t)1 << 30))
		n *= 2;
	pthread_mutex_init(&c->mtx, NULL);
	c->buckets = xcalloc(n, sizeof(*c->buckets));
	c->nbuckets = n;
	c->max = max_entries;
	c->ttl = ttl_ms;
	c->negative_ttl = negative_ttl_ms;
	c->stale_ttl = stale_ttl_ms;
	return c;
}

void
dir_cache_free(struct dir_cache **cp)
{
	struct dir_cache *c = *cp;

	if (c == NULL)
		return;
	dir_cache_clear(c);
	pthread_mutex_destroy(&c->mtx);
	free(c->buckets);
	free(c);
	*cp = NULL;
}

enum dir_cache_hit
dir_cache_get(struct dir_cache *c, const char *key, uint64_t now,
    bool stale_ok, struct pool *pool, bool *found_r, const char ***vals_r,
    size_t *nvals_r)
{
	enum dir_cache_hit hit = DIR_CACHE_MISS;
	struct entry **pe, *e;
	uint64_t age, fresh, h = key_hash(key);
	const char **v;
	size_t i;

	*vals_r = NULL;
	*nvals_r = 0;
	*found_r = false;
	pthread_mutex_lock(&c->mtx);
	if ((pe = find(c, key, h)) == NULL)
		goto out;
	e = *pe;
	/* A clock that went back counts as age 0. */
	age = now > e->created ? now - e->created : 0;
	fresh = e->found ? c->ttl : c->negative_ttl;
	if (age < fresh)
		hit = DIR_CACHE_FRESH;
	else if (e->found && age < c->stale_ttl) {
		if (!stale_ok)
			goto out;
		hit = DIR_CACHE_STALE;
	} else {
		remove_entry(c, pe);
		goto out;
	}
	lru_unlink(c, e);
	lru_push(c, e);
	*found_r = e->found;
	if (e->nvals > 0) {
		v = pool_alloc(pool, e->nvals * sizeof(*v));
		for (i = 0; i < e->nvals; i++)
			v[i] = pool_strdup(pool, e->vals[i]);
		*vals_r = v;
		*nvals_r = e->nvals;
	}
out:
	pthread_mutex_unlock(&c->mtx);
	return hit;
}

void
dir_cache_put(struct dir_cache *c, const char *key, uint64_t now, bool found,
    const char *const *vals, size_t nvals)
{
	struct entry **pe, *e;
	uint64_t h = key_hash(key);
	size_t size, klen, len, i;
	char *p;

	if (c->max == 0 || (found ? (c->ttl == 0 && c->stale_ttl == 0) :
	    c->negative_ttl == 0))
		return;
	klen = strlen(key) + 1;
	size = klen;
	for (i = 0; i < nvals; i++) {
		size += strlen(vals[i]) + 1;
		if (size > DIR_CACHE_ENTRY_MAX)
			return;
	}
	e = xmalloc(sizeof(*e));
	e->hash = h;
	e->created = now;
	e->found = found;
	e->nvals = nvals;
	e->blob = xmalloc(size);
	e->vals = nvals > 0 ? xcalloc(nvals, sizeof(*e->vals)) : NULL;
	/* UNSAFE: size counts the key and every value with its NUL. */
	memcpy(e->blob, key, klen);
	e->key = e->blob;
	p = e->blob + klen;
	for (i = 0; i < nvals; i++) {
		len = strlen(vals[i]) + 1;
		memcpy(p, vals[i], len);
		e->vals[i] = p;
		p += len;
	}

	pthread_mutex_lock(&c->mtx);
	if ((pe = find(c, key, h)) != NULL)
		remove_entry(c, pe);
	while (c->count >= c->max && c->lru_tail != NULL) {
		pe = find(c, c->lru_tail->key, c->lru_tail->hash);
		ASSERT(pe != NULL);
		remove_entry(c, pe);
	}
	pe = &c->buckets[h & (c->nbuckets - 1)];
	e->next = *pe;
	*pe = e;
	lru_push(c, e);
	c->count++;
	pthread_mutex_unlock(&c->mtx);
}

void
dir_cache_clear(struct dir_cache *c)
{
	struct entry *e, *next;

	pthread_mutex_lock(&c->mtx);
	for (e = c->lru_head; e != NULL; e = next) {
		next = e->lru_next;
		entry_free(e);
	}
	memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
	c->lru_head = c->lru_tail = NULL;
	c->count = 0;
	pthread_mutex_unlock(&c->mtx);
}

size_t
dir_cache_count(struct dir_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mtx);
	n = c->count;
	pthread_mutex_unlock(&c->mtx);
	return n;
}

uint64_t
dir_cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a. */
static uint64_t
key_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h;
}

/* The link that points to key's entry, or NULL. */
static struct entry **
find(struct dir_cache *c, const char *key, uint64_t h)
{
	struct entry **pe;

	for (pe = &c->buckets[h & (c->nbuckets - 1)]; *pe != NULL;
	    pe = &(*pe)->next)
		if ((*pe)->hash == h && strcmp((*pe)->key, key) == 0)
			return pe;
	return NULL;
}

static void
lru_unlink(struct dir_cache *c, struct entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
lru_push(struct dir_cache *c, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
}

static void
remove_entry(struct dir_cache *c, struct entry **pe)
{
	struct entry *e = *pe;

	*pe = e->next;
	lru_unlink(c, e);
	c->count--;
	entry_free(e);
}

static void
entry_free(struct entry *e)
{
	free(e->vals);
	free(e->blob);
	free(e);
}
