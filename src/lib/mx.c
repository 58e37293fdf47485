/* mx: MX routing (see mx.h). The records are sorted by preference (ties
 * by position, so that only the random source decides the final order),
 * deduplicated, cut before the first local name, shuffled within each
 * preference and copied into the caller's pool. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/mx.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* A record while it is being ordered: pos keeps the sort deterministic. */
struct entry {
	uint16_t	 preference;
	size_t		 pos;
	const char	*host;		/* borrowed from the caller's records */
};

static size_t	name_len(const char *s);
static bool	name_eq(const char *a, const char *b);
static bool	is_self(const char *host, const char *const *self,
		    size_t nself);
static int	entry_cmp(const void *a, const void *b);
static void	shuffle(struct entry *v, size_t n, mx_random_fn rnd,
		    void *rnd_ctx);

/* Length without one trailing dot: "a.example." and "a.example" match. */
static size_t
name_len(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && s[len - 1] == '.' ? len - 1 : len;
}

static bool
name_eq(const char *a, const char *b)
{
	size_t la = name_len(a);

	return la == name_len(b) && strncasecmp(a, b, la) == 0;
}

static bool
is_self(const char *host, const char *const *self, size_t nself)
{
	size_t i;

	for (i = 0; i < nself; i++)
		if (self[i] != NULL && name_len(self[i]) > 0 &&
		    name_eq(host, self[i]))
			return true;
	return false;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Fisher-Yates: with a uniform rnd, every permutation is equally likely. */
static void
shuffle(struct entry *v, size_t n, mx_random_fn rnd, void *rnd_ctx)
{
	struct entry tmp;
	size_t i, j;

	for (i = n; i > 1; i--) {
		j = rnd(rnd_ctx, (uint32_t)i);
		ASSERT(j < i);
		tmp = v[i - 1];
		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

enum mx_result
mx_route(struct pool *pool, const char *domain, const struct mx_record *mx,
    size_t n, const char *const *self, size_t nself, mx_random_fn rnd,
    void *rnd_ctx, struct mx_record **hosts_r, size_t *nhosts_r)
{
	struct entry *v;
	struct mx_record *out;
	size_t i, j, nv = 0, keep, run;
	uint32_t self_pref = UINT32_MAX;
	char *h;

	ASSERT(pool != NULL && domain != NULL && rnd != NULL);
	ASSERT(n == 0 || mx != NULL);
	*hosts_r = NULL;
	*nhosts_r = 0;

	/* RFC 7505: "." anywhere in the set means no mail at all. */
	for (i = 0; i < n; i++) {
		ASSERT(mx[i].host != NULL);
		if (name_len(mx[i].host) == 0)
			return MX_NULL;
	}

	v = xcalloc(n > 0 ? n : 1, sizeof(*v));
	if (n == 0) {
		/* RFC 5321 5.1: no MX, the domain is its own (implicit) MX. */
		v[0].host = domain;
		nv = 1;
	} else {
		for (i = 0; i < n; i++) {
			v[i].preference = mx[i].preference;
			v[i].pos = i;
			v[i].host = mx[i].host;
		}
		qsort(v, n, sizeof(*v), entry_cmp);
		/* Sorted, so the first occurrence is the best preference. */
		for (i = 0; i < n; i++) {
			for (j = 0; j < nv; j++)
				if (name_eq(v[j].host, v[i].host))
					break;
			if (j == nv)
				v[nv++] = v[i];
		}
	}

	/* Only hosts more preferred than ourselves: a backup MX relays to
	 * the primary, never to another backup or to itself. */
	for (i = 0; i < nv; i++)
		if (is_self(v[i].host, self, nself)) {
			self_pref = v[i].preference;
			break;
		}
	for (keep = 0; keep < nv && v[keep].preference < self_pref; keep++)
		;
	if (keep == 0) {
		xfree(&v);
		return MX_LOOP;
	}

	for (i = 0; i < keep; i += run) {
		for (run = 1; i + run < keep &&
		    v[i + run].preference == v[i].preference; run++)
			;
		shuffle(v + i, run, rnd, rnd_ctx);
	}
	if (keep > MX_MAX_HOSTS)
		keep = MX_MAX_HOSTS;

	out = pool_alloc(pool, keep * sizeof(*out));
	for (i = 0; i < keep; i++) {
		h = pool_strndup(pool, v[i].host, name_len(v[i].host));
		str_lower(h);
		out[i].preference = v[i].preference;
		out[i].host = h;
	}
	xfree(&v);
	*hosts_r = out;
	*nhosts_r = keep;
	return MX_OK;
}

uint32_t
mx_random(void *ctx, uint32_t bound)
{
	(void)ctx;
	return arc4random_uniform(bound);
}

const char *
mx_result_str(enum mx_result r)
{
	switch (r) {
	case MX_OK:
		return "ok";
	case MX_NULL:
		return "null MX";
	case MX_LOOP:
		return "loop";
	}
	return "unknown";
}
