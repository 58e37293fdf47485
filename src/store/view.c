/* view: one session's selected mailbox (store.h, "Views"). A view holds no
 * per-message data: its messages are the box's messages with UIDs up to
 * the highest it was told about, plus the expunged ones it has not been
 * told about yet, found in the box's change log. Sequence numbers come
 * from that rule, so they change only in store_view_sync().
 *
 * \Recent: a read-write view claims the messages it reports first, if no
 * session anywhere has (the shared first-recent UID in postie-lock moves
 * past them); its claims are a short list of UID ranges. */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/watch.h"

static uint32_t	 next_view_id;

static void	 view_refresh(struct store_view *v);
static int	 cmp_u32(const void *a, const void *b);
static void	 claim_recent(struct store_view *v, uint32_t from,
		    uint32_t to);
static uint32_t	 view_recent(struct store_view *v);
static bool	 msg_recent(const struct store_view *v, uint32_t uid);
static uint32_t	 pexp_below(const struct store_view *v, uint32_t uid,
		    bool inclusive);

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* live and pexp for the box's current state. */
static void
view_refresh(struct store_view *v)
{
	struct box *b = v->box;
	const struct schange *c;
	size_t i, w;

	if (v->pexp_gen == b->gen)
		return;
	v->live = v->uid_last == UINT32_MAX ? b->nmsgs :
	    box_lower_bound(b, v->uid_last + 1);
	v->npexp = 0;
	for (i = (size_t)(v->log_pos - b->log_base); i < b->nlog; i++) {
		c = &b->log[i];
		if (c->kind != CH_EXPUNGE || c->uid > v->uid_last)
			continue;
		if (v->npexp == v->cappexp) {
			v->cappexp = v->cappexp == 0 ? 16 : v->cappexp * 2;
			v->pexp = xreallocarray(v->pexp, v->cappexp,
			    sizeof(*v->pexp));
		}
		v->pexp[v->npexp++] = c->uid;
	}
	if (v->npexp > 1) {
		qsort(v->pexp, v->npexp, sizeof(*v->pexp), cmp_u32);
		for (i = 1, w = 1; i < v->npexp; i++)
			if (v->pexp[i] != v->pexp[w - 1])
				v->pexp[w++] = v->pexp[i];
		v->npexp = w;
	}
	v->pexp_gen = b->gen;
}

/* Pending expunged UIDs below uid (or up to it). */
static uint32_t
pexp_below(const struct store_view *v, uint32_t uid, bool inclusive)
{
	size_t lo = 0, hi = v->npexp, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->pexp[mid] < uid || (inclusive && v->pexp[mid] == uid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

/* The box index of seq, or UINT32_MAX with *expunged_r and *uid_r set
 * for a pending expunge (uid 0: out of range). */
uint32_t
view_seq_to_index(struct store_view *v, uint32_t seq, bool *expunged_r,
    uint32_t *uid_r)
{
	struct box *b = v->box;
	uint32_t pos;
	size_t k;

	view_refresh(v);
	*expunged_r = false;
	*uid_r = 0;
	if (seq == 0 || seq > v->live + v->npexp)
		return UINT32_MAX;
	for (k = 0; k < v->npexp; k++) {
		pos = box_lower_bound(b, v->pexp[k]) + (uint32_t)k + 1;
		if (pos == seq) {
			*expunged_r = true;
			*uid_r = v->pexp[k];
			return UINT32_MAX;
		}
		if (pos > seq)
			break;
	}
	*uid_r = b->msgs[seq - 1 - k].uid;
	return seq - 1 - (uint32_t)k;
}

static void
claim_recent(struct store_view *v, uint32_t from, uint32_t to)
{
	struct box *b = v->box;
	struct store_range *r;
	const char *error;
	struct boxlock l;

	if (from > to || b->first_recent > to)
		return;		/* claimed already, by someone */
	if (lock_take(b->path, NULL, &l, &error) != STORE_OK)
		return;		/* \Recent is advisory: go without */
	box_lock_sync_counters(b, &l);
	if (l.first_recent <= to) {
		if (from < l.first_recent)
			from = l.first_recent;
		l.first_recent = to + 1;
		l.dirty = true;
		b->first_recent = to + 1;
		r = v->nrecent > 0 ? &v->recent[v->nrecent - 1] : NULL;
		if (r != NULL && r->last + 1 >= from) {
			r->last = to;
		} else {
			v->recent = xreallocarray(v->recent, v->nrecent + 1,
			    sizeof(*v->recent));
			v->recent[v->nrecent].first = from;
			v->recent[v->nrecent].last = to;
			v->nrecent++;
		}
	}
	lock_release(&l);
}

static uint32_t
view_recent(struct store_view *v)
{
	struct box *b = v->box;
	uint32_t n = 0, hi;
	size_t i;

	view_refresh(v);
	if (!v->claims)
		return v->ro_recent > v->uid_last ? 0 :
		    v->live - box_lower_bound(b, v->ro_recent);
	for (i = 0; i < v->nrecent; i++) {
		hi = v->recent[i].last > v->uid_last ? v->uid_last :
		    v->recent[i].last;
		if (hi < v->recent[i].first)
			continue;
		n += box_lower_bound(b, hi + 1) -
		    box_lower_bound(b, v->recent[i].first);
	}
	return n;
}

static bool
msg_recent(const struct store_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->nrecent, mid;

	if (!v->claims)
		return uid >= v->ro_recent;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->recent[mid].last < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->nrecent && v->recent[lo].first <= uid;
}

enum store_result
store_view_open(struct store_user *u, const char *name, unsigned flags,
    struct store_view **view_r, const char **error_r)
{
	bool readonly = (flags & STORE_OPEN_READONLY) != 0;
	char canon[STORE_NAME_MAX + 1];
	enum store_result res;
	struct store_view *v;
	struct boxlock l;
	struct box *b;

	*view_r = NULL;
	if (!store_name_check(name, canon, sizeof(canon), error_r))
		return STORE_BADNAME;
	if ((res = box_get(u, canon, readonly ? 0 : BOX_SYNC_MOVE, &b,
	    error_r)) != STORE_OK)
		return res;
	v = xcalloc(1, sizeof(*v));
	v->box = b;
	v->id = ++next_view_id == 0 ? ++next_view_id : next_view_id;
	v->readonly = readonly;
	v->claims = !readonly && !(flags & STORE_OPEN_NORECENT);
	v->uid_last = b->nmsgs > 0 ? b->msgs[b->nmsgs - 1].uid : 0;
	v->log_pos = b->log_base + b->nlog;
	v->modseq_seen = b->highest_modseq;
	v->next = b->views;
	b->views = v;
	if (!v->claims) {
		lock_peek(b->path, &l);
		v->ro_recent = l.uidvalidity == b->uidvalidity &&
		    l.first_recent > 0 ? l.first_recent : 1;
	} else
		claim_recent(v, 1, v->uid_last);
	*view_r = v;
	return STORE_OK;
}

void
store_view_close(struct store_view **vp)
{
	struct store_view *v = *vp, **pp;
	struct box *b;

	*vp = NULL;
	if (v == NULL)
		return;
	b = v->box;
	store_view_unwatch(v);
	for (pp = &b->views; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	box_log_trim(b);
	free(v->pexp);
	free(v->recent);
	free(v);
	box_put(&b);
}

void
store_view_info(struct store_view *v, struct store_view_info *info)
{
	struct box *b = v->box;
	uint32_t seq, n, i, uid;
	bool expunged;

	view_refresh(v);
	memset(info, 0, sizeof(*info));
	info->name = b->name;
	info->exists = n = v->live + (uint32_t)v->npexp;
	info->recent = view_recent(v);
	info->uidvalidity = b->uidvalidity;
	info->uidnext = b->next_uid;
	info->highest_modseq = b->highest_modseq;
	info->readonly = v->readonly;
	info->keywords_full = true;
	for (i = 0; i < STORE_KEYWORDS_MAX; i++)
		if (b->kw[i] == NULL)
			info->keywords_full = false;
	for (seq = 1; seq <= n; seq++) {
		i = view_seq_to_index(v, seq, &expunged, &uid);
		if (i != UINT32_MAX && !(b->msgs[i].flags & STORE_F_SEEN)) {
			info->first_unseen = seq;
			break;
		}
	}
}

enum store_result
store_view_sync(struct store_view *v, unsigned flags,
    const struct store_sync_cb *cb, void *arg, const char **error_r)
{
	struct box *b = v->box;
	const struct schange *c;
	enum store_result res;
	struct boxlock l;
	uint32_t *fl = NULL, max_uid, seq;
	size_t nfl = 0, i, w;

	if (!(flags & STORE_SYNC_NO_DISK)) {
		res = box_sync(b, v->readonly ? 0 : BOX_SYNC_MOVE, error_r);
		if (res != STORE_OK)
			return res;
	}
	if (b->gone) {
		*error_r = "mailbox was deleted or renamed";
		return STORE_RESET;
	}
	view_refresh(v);
	/* Flag changes by others to messages the session knows. */
	for (i = (size_t)(v->log_pos - b->log_base); i < b->nlog; i++) {
		c = &b->log[i];
		if (c->kind != CH_FLAGS || c->origin == v->id ||
		    c->uid > v->uid_last || box_find_uid(b, c->uid) ==
		    UINT32_MAX)
			continue;
		fl = xreallocarray(fl, nfl + 1, sizeof(*fl));
		fl[nfl++] = c->uid;
	}
	if (!(flags & STORE_SYNC_NO_EXPUNGE)) {
		/* Ascending: each seq is valid after the ones before. */
		for (i = 0; i < v->npexp; i++)
			if (cb != NULL && cb->expunge != NULL)
				cb->expunge(arg, box_lower_bound(b,
				    v->pexp[i]) + 1, v->pexp[i]);
		v->log_pos = b->log_base + b->nlog;
		v->pexp_gen = 0;
	} else if (v->npexp == 0) {
		v->log_pos = b->log_base + b->nlog;
		v->pexp_gen = 0;
	}
	if (nfl > 1) {
		qsort(fl, nfl, sizeof(*fl), cmp_u32);
		for (i = 1, w = 1; i < nfl; i++)
			if (fl[i] != fl[w - 1])
				fl[w++] = fl[i];
		nfl = w;
	}
	for (i = 0; i < nfl; i++) {
		seq = store_view_seq(v, fl[i]);
		if (seq != 0 && cb != NULL && cb->flags != NULL)
			cb->flags(arg, seq, fl[i]);
	}
	free(fl);
	max_uid = b->nmsgs > 0 ? b->msgs[b->nmsgs - 1].uid : 0;
	if (max_uid > v->uid_last) {
		if (v->claims)
			claim_recent(v, v->uid_last + 1, max_uid);
		else {
			lock_peek(b->path, &l);
			if (l.uidvalidity == b->uidvalidity &&
			    l.first_recent > v->ro_recent)
				v->ro_recent = l.first_recent;
		}
		v->uid_last = max_uid;
		v->pexp_gen = 0;
		view_refresh(v);
		if (cb != NULL && cb->exists != NULL)
			cb->exists(arg, v->live + (uint32_t)v->npexp,
			    view_recent(v));
	}
	v->modseq_seen = b->highest_modseq;
	box_log_trim(b);
	return STORE_OK;
}

uint32_t
store_view_count(struct store_view *v)
{
	view_refresh(v);
	return v->live + (uint32_t)v->npexp;
}

uint32_t
store_view_uid(struct store_view *v, uint32_t seq)
{
	bool expunged;
	uint32_t uid;

	(void)view_seq_to_index(v, seq, &expunged, &uid);
	return uid;
}

uint32_t
store_view_seq(struct store_view *v, uint32_t uid)
{
	struct box *b = v->box;
	uint32_t i, k;

	view_refresh(v);
	if (uid == 0 || uid > v->uid_last)
		return 0;
	if ((i = box_find_uid(b, uid)) != UINT32_MAX)
		return i + 1 + pexp_below(v, uid, false);
	k = pexp_below(v, uid, false);
	if (k < v->npexp && v->pexp[k] == uid)
		return box_lower_bound(b, uid) + k + 1;
	return 0;
}

uint32_t
store_view_seq_ge(struct store_view *v, uint32_t uid)
{
	uint32_t below, n;

	view_refresh(v);
	n = v->live + (uint32_t)v->npexp;
	if (uid == 0)
		uid = 1;
	if (uid > v->uid_last)
		return 0;
	below = box_lower_bound(v->box, uid) + pexp_below(v, uid, false);
	return below < n ? below + 1 : 0;
}

uint32_t
store_view_seq_le(struct store_view *v, uint32_t uid)
{
	uint32_t upto, lb;

	view_refresh(v);
	if (uid >= v->uid_last)
		return v->live + (uint32_t)v->npexp;
	lb = box_lower_bound(v->box, uid + 1);
	upto = lb + pexp_below(v, uid, true);
	return upto;
}

const char *const *
store_view_keywords(struct store_view *v, size_t *n_r)
{
	*n_r = v->box->nkw;
	return (const char *const *)v->box->kw;
}

enum store_result
store_view_keyword(struct store_view *v, const char *name, bool create,
    unsigned *index_r, const char **error_r)
{
	int k;

	box_keywords_refresh(v->box, false);
	if ((k = box_keyword_find(v->box, name)) >= 0) {
		*index_r = (unsigned)k;
		return STORE_OK;
	}
	if (!create) {
		*error_r = "no such keyword";
		return STORE_NONEXISTENT;
	}
	return box_keyword_add(v->box, name, index_r, error_r);
}

int
store_view_msg(struct store_view *v, uint32_t seq,
    struct store_msg_info *info_r)
{
	struct box *b = v->box;
	const struct smsg *m;
	bool expunged;
	uint32_t i, uid;

	memset(info_r, 0, sizeof(*info_r));
	i = view_seq_to_index(v, seq, &expunged, &uid);
	if (uid == 0)
		return -1;
	info_r->uid = uid;
	if (expunged) {
		info_r->expunged = true;
		return 0;
	}
	m = &b->msgs[i];
	info_r->flags = m->flags;
	if (msg_recent(v, uid))
		info_r->flags |= STORE_F_RECENT;
	info_r->keywords = m->keywords;
	info_r->modseq = m->modseq;
	return 0;
}

enum store_result
store_view_watch(struct store_view *v, struct event_base *base,
    void (*cb)(void *arg), void *arg, const char **error_r)
{
	store_view_unwatch(v);
	v->watch = store_watch_add(base, v->box->path, cb, arg, error_r);
	return v->watch != NULL ? STORE_OK : STORE_TEMPFAIL;
}

void
store_view_unwatch(struct store_view *v)
{
	store_watch_remove(&v->watch);
}
