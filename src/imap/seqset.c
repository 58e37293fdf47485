/* imap/seqset: sequence sets and uid-sets (see seqset.h). Ranges are kept
 * in a growable array that lives in the command's pool or on the heap; a
 * resolved set is sorted and merged so membership is a binary search. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

static int	 grow(struct imap_seqset *set, size_t want);
static int	 push(struct imap_seqset *set, uint32_t lo, uint32_t hi);
static int	 parse_number(const char *s, size_t len, size_t *pos,
		    uint32_t *n_r, const char **error_r);
static int	 range_cmp(const void *a, const void *b);

void
imap_seqset_init(struct imap_seqset *set, struct pool *pool,
    size_t max_ranges)
{
	memset(set, 0, sizeof(*set));
	set->pool = pool;
	set->max = max_ranges != 0 ? max_ranges : IMAP_SEQSET_RANGES_MAX;
}

void
imap_seqset_deinit(struct imap_seqset *set)
{
	if (set->pool == NULL)
		free(set->r);
	memset(set, 0, sizeof(*set));
}

/* Room for want ranges; the array doubles, in the pool or on the heap. */
static int
grow(struct imap_seqset *set, size_t want)
{
	struct imap_seq_range *r;
	size_t ncap;

	if (want <= set->cap)
		return 0;
	ncap = set->cap < 8 ? 8 : set->cap;
	while (ncap < want)
		ncap *= 2;
	if (set->pool != NULL) {
		r = pool_alloc(set->pool, ncap * sizeof(*r));
		if (set->n > 0)
			memcpy(r, set->r, set->n * sizeof(*r));
	} else
		r = xreallocarray(set->r, ncap, sizeof(*r));
	set->r = r;
	set->cap = ncap;
	return 0;
}

static int
push(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->n >= set->max)
		return -1;
	if (grow(set, set->n + 1) == -1)
		return -1;
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
	return 0;
}

/* nz-number or "*" at s[*pos]. */
static int
parse_number(const char *s, size_t len, size_t *pos, uint32_t *n_r,
    const char **error_r)
{
	uint64_t n = 0;
	size_t i = *pos;

	if (i < len && s[i] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*pos = i + 1;
		return 0;
	}
	if (i < len && s[i] == '$') {
		*error_r = "Invalid sequence set: $ (SEARCHRES) is not "
		    "supported";
		return -1;
	}
	if (i >= len || s[i] < '0' || s[i] > '9') {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (s[i] == '0') {
		*error_r = "Invalid sequence set: numbers start at 1";
		return -1;
	}
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > UINT32_MAX) {
			*error_r = "Invalid sequence set: number too large";
			return -1;
		}
		i++;
	}
	*n_r = (uint32_t)n;
	*pos = i;
	return 0;
}

int
imap_seqset_parse(struct imap_seqset *set, const char *s, size_t len,
    const char **error_r)
{
	size_t pos = 0;
	uint32_t lo, hi;

	set->n = 0;
	set->resolved = false;
	if (len == 0) {
		*error_r = "Invalid sequence set: empty";
		return -1;
	}
	for (;;) {
		if (parse_number(s, len, &pos, &lo, error_r) == -1)
			return -1;
		hi = lo;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (parse_number(s, len, &pos, &hi, error_r) == -1)
				return -1;
		}
		if (push(set, lo, hi) == -1) {
			*error_r = "Sequence set has too many ranges";
			return -1;
		}
		if (pos == len)
			return 0;
		if (s[pos] != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		pos++;
	}
}

bool
imap_seqset_syntax_ok(const char *s, size_t len)
{
	size_t pos = 0;
	uint32_t n;
	const char *error;

	if (len == 0)
		return false;
	for (;;) {
		if (parse_number(s, len, &pos, &n, &error) == -1)
			return false;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (parse_number(s, len, &pos, &n, &error) == -1)
				return false;
		}
		if (pos == len)
			return true;
		if (s[pos++] != ',')
			return false;
	}
}

bool
imap_seqset_has_star(const struct imap_seqset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->r[i].lo == IMAP_SEQ_STAR ||
		    set->r[i].hi == IMAP_SEQ_STAR)
			return true;
	return false;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void
imap_seqset_resolve(const struct imap_seqset *src, uint32_t max,
    struct imap_seqset *dst)
{
	struct imap_seq_range *r;
	size_t i, n, out;
	uint32_t lo, hi;

	n = src->n;
	if (dst != src) {
		(void)grow(dst, n);
		if (n > 0)
			memcpy(dst->r, src->r, n * sizeof(*dst->r));
		dst->n = n;
	}
	r = dst->r;
	out = 0;
	for (i = 0; i < n; i++) {
		lo = r[i].lo == IMAP_SEQ_STAR ? max : r[i].lo;
		hi = r[i].hi == IMAP_SEQ_STAR ? max : r[i].hi;
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (hi == 0)		/* "*" of an empty mailbox */
			continue;
		if (lo == 0)
			lo = 1;
		r[out].lo = lo;
		r[out].hi = hi;
		out++;
	}
	if (out > 1)
		qsort(r, out, sizeof(*r), range_cmp);
	n = out;
	out = 0;
	for (i = 0; i < n; i++) {
		if (out > 0 && (r[out - 1].hi == UINT32_MAX ||
		    r[i].lo <= r[out - 1].hi + 1)) {
			if (r[i].hi > r[out - 1].hi)
				r[out - 1].hi = r[i].hi;
			continue;
		}
		r[out++] = r[i];
	}
	dst->n = out;
	dst->resolved = true;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < set->n; i++)
		total += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return total;
}

uint32_t
imap_seqset_first(const struct imap_seqset *set)
{
	return set->n > 0 ? set->r[0].lo : 0;
}

uint32_t
imap_seqset_last(const struct imap_seqset *set)
{
	return set->n > 0 ? set->r[set->n - 1].hi : 0;
}

/* The cursor is the range index in the high half, the offset into that
 * range in the low half. */
bool
imap_seqset_next(const struct imap_seqset *set, uint64_t *cursor_r,
    uint32_t *n_r)
{
	uint64_t idx = *cursor_r >> 32;
	uint32_t off = (uint32_t)(*cursor_r & UINT32_MAX);
	const struct imap_seq_range *r;

	if (idx >= set->n)
		return false;
	r = &set->r[idx];
	*n_r = r->lo + off;
	if (*n_r == r->hi)
		*cursor_r = (idx + 1) << 32;
	else
		*cursor_r = idx << 32 | (uint64_t)(off + 1);
	return true;
}

int
imap_seqset_add(struct imap_seqset *set, uint32_t n)
{
	return imap_seqset_add_range(set, n, n);
}

int
imap_seqset_add_range(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	struct imap_seq_range *last;

	if (lo == 0 || hi < lo)
		return -1;
	if (set->n > 0) {
		last = &set->r[set->n - 1];
		if (last->hi != UINT32_MAX && last->hi != IMAP_SEQ_STAR &&
		    lo == last->hi + 1) {
			last->hi = hi;
			return 0;
		}
	}
	return push(set, lo, hi);
}

int
imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	const struct imap_seq_range *r;
	size_t i;
	int e = 0;

	for (i = 0; i < set->n && e == 0; i++) {
		r = &set->r[i];
		if (i > 0)
			e = buf_append(out, ",", 1);
		if (e == 0 && r->lo == IMAP_SEQ_STAR)
			e = buf_append(out, "*", 1);
		else if (e == 0)
			e = buf_printf(out, "%u", (unsigned)r->lo);
		if (e == 0 && r->hi != r->lo) {
			if (r->hi == IMAP_SEQ_STAR)
				e = buf_append(out, ":*", 2);
			else
				e = buf_printf(out, ":%u", (unsigned)r->hi);
		}
	}
	return e;
}
