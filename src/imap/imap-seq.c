/* imap-seq: a command's sequence set or UID set against the selected
 * view. imap/seqset.h parses the set (bounded to IMAP_SEQSET_RANGES_MAX
 * ranges) and resolves "*"; this file maps it onto the view's numbering:
 * message sequence numbers must exist (RFC 3501 6.4.8: a number above the
 * message count is an error), UIDs that are not in the view are skipped
 * (RFC 3501 6.4.8: "a non-existent unique identifier is ignored"). */
#include <string.h>

#include "imap/imap-private.h"
#include "imap/seqset.h"
#include "lib/log.h"
#include "lib/pool.h"

static int	parse_set(struct imap_seqset *set, const char *s,
		    struct pool *pool, const char **error_r);
static uint32_t	max_uid(struct store_view *v);

static int
parse_set(struct imap_seqset *set, const char *s, struct pool *pool,
    const char **error_r)
{
	imap_seqset_init(set, pool, 0);
	return imap_seqset_parse(set, s, strlen(s), error_r);
}

static uint32_t
max_uid(struct store_view *v)
{
	uint32_t n = store_view_count(v);

	return n > 0 ? store_view_uid(v, n) : 0;
}

int
imap_seq_resolve(struct imap_session *s, const char *set, bool uid,
    struct pool *pool, struct store_range **ranges_r, size_t *n_r,
    const char **error_r)
{
	struct store_view *v = s->view;
	struct imap_seqset ps;
	struct store_range *r;
	uint32_t count, first, last;
	size_t i, n = 0;

	*ranges_r = NULL;
	*n_r = 0;
	ASSERT(v != NULL);
	if (parse_set(&ps, set, pool, error_r) == -1)
		return -1;
	count = store_view_count(v);
	imap_seqset_resolve(&ps, uid ? max_uid(v) : count, &ps);
	if (!uid && imap_seqset_last(&ps) > count) {
		*error_r = "Invalid message sequence number";
		return -1;
	}
	r = pool_alloc(pool, (ps.n > 0 ? ps.n : 1) * sizeof(*r));
	for (i = 0; i < ps.n; i++) {
		if (!uid) {
			first = ps.r[i].lo;
			last = ps.r[i].hi;
		} else {
			first = store_view_seq_ge(v, ps.r[i].lo);
			last = store_view_seq_le(v, ps.r[i].hi);
			if (first == 0 || last == 0 || first > last)
				continue;
		}
		/* Resolved ranges are sorted; UIDs may map next to each
		 * other. */
		if (n > 0 && r[n - 1].last >= first - 1) {
			if (last > r[n - 1].last)
				r[n - 1].last = last;
			continue;
		}
		r[n].first = first;
		r[n].last = last;
		n++;
	}
	*ranges_r = r;
	*n_r = n;
	return 0;
}

int
imap_uid_ranges(struct imap_session *s, const char *set, struct pool *pool,
    struct store_range **ranges_r, size_t *n_r, const char **error_r)
{
	struct imap_seqset ps;
	struct store_range *r;
	size_t i;

	*ranges_r = NULL;
	*n_r = 0;
	ASSERT(s->view != NULL);
	if (parse_set(&ps, set, pool, error_r) == -1)
		return -1;
	imap_seqset_resolve(&ps, max_uid(s->view), &ps);
	r = pool_alloc(pool, (ps.n > 0 ? ps.n : 1) * sizeof(*r));
	for (i = 0; i < ps.n; i++) {
		r[i].first = ps.r[i].lo;
		r[i].last = ps.r[i].hi;
	}
	*ranges_r = r;
	*n_r = ps.n;
	return 0;
}
