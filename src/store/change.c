/* change: STORE and EXPUNGE. Flags live in file names, so a change is a
 * rename within cur/ (a message still in new/ moves to cur/ with it); an
 * expunge is an unlink. When the file is not under the name the box knew,
 * a forced sync finds it again by its base name and the change is applied
 * to what the file says now (another process may have changed it too);
 * a message that is gone is skipped and reported as expunged by the next
 * sync. One modseq covers every message a call changed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/store-private.h"

#define REFIND_TRIES	3
#define COMPACT_MIN	100	/* dead uidlist lines before a rewrite */

static uint8_t	 apply_op(enum store_flag_op op, uint8_t cur, unsigned flags);
static uint32_t	 apply_kw(enum store_flag_op op, uint32_t cur, uint32_t kw);
static enum store_result change_one(struct box *b, uint32_t uid,
		    enum store_flag_op op, unsigned flags, uint32_t keywords,
		    bool *changed_r, unsigned *dnew, unsigned *dcur,
		    const char **error_r);
static void	 maybe_compact(struct box *b);
static bool	 in_ranges(const struct store_range *r, size_t n,
		    uint32_t uid);

static uint8_t
apply_op(enum store_flag_op op, uint8_t cur, unsigned flags)
{
	flags &= STORE_F_ALL;
	switch (op) {
	case STORE_FLAGS_SET:
		return (uint8_t)flags;
	case STORE_FLAGS_ADD:
		return (uint8_t)(cur | flags);
	case STORE_FLAGS_REMOVE:
	default:
		return (uint8_t)(cur & ~flags);
	}
}

static uint32_t
apply_kw(enum store_flag_op op, uint32_t cur, uint32_t kw)
{
	kw &= (1U << STORE_KEYWORDS_MAX) - 1;
	switch (op) {
	case STORE_FLAGS_SET:
		return kw;
	case STORE_FLAGS_ADD:
		return cur | kw;
	case STORE_FLAGS_REMOVE:
	default:
		return cur & ~kw;
	}
}

/* Rename one message's file to carry its new flags. */
static enum store_result
change_one(struct box *b, uint32_t uid, enum store_flag_op op, unsigned flags,
    uint32_t keywords, bool *changed_r, unsigned *dnew, unsigned *dcur,
    const char **error_r)
{
	char from[STORE_PATH_MAX], to[STORE_PATH_MAX];
	char name[STORE_FILE_NAME_MAX + 1];
	enum store_result res;
	struct smsg *m;
	uint32_t i, kw;
	uint8_t fl;
	int tries, len;

	*changed_r = false;
	for (tries = 0; tries < REFIND_TRIES; tries++) {
		if ((i = box_find_uid(b, uid)) == UINT32_MAX)
			return STORE_EXPUNGED;
		m = &b->msgs[i];
		fl = apply_op(op, m->flags, flags);
		kw = apply_kw(op, m->keywords, keywords);
		if (fl == m->flags && kw == m->keywords)
			return STORE_OK;
		len = fname_with_flags(box_name_of(b, m), m->namelen, fl, kw,
		    name, sizeof(name));
		if (len == -1) {
			*error_r = "file name too long";
			return STORE_LIMIT;
		}
		if (box_path(b, m, from, sizeof(from)) == -1 ||
		    snprintf(to, sizeof(to), "%s/cur/%s", b->path, name) >=
		    (int)sizeof(to)) {
			*error_r = "path too long";
			return STORE_TEMPFAIL;
		}
		if (rename(from, to) == 0) {
			/* inotify: out of new/ and into cur/, or two in cur/ */
			if (m->st & SM_NEW) {
				(*dnew)++;
				(*dcur)++;
			} else
				*dcur += 2;
			(void)box_set_name(b, &b->msgs[i], name, (size_t)len);
			m = &b->msgs[i];
			m->st &= ~(SM_NEW | SM_INDEXED);
			m->flags = fl;
			m->keywords = kw;
			b->index_dirty++;
			*changed_r = true;
			return STORE_OK;
		}
		if (errno != ENOENT) {
			*error_r = errno_text(errno);
			return STORE_TEMPFAIL;
		}
		/* Renamed or expunged by someone else: look again. */
		if ((res = box_sync(b, BOX_SYNC_FORCE, error_r)) != STORE_OK)
			return res;
	}
	*error_r = "message keeps changing";
	return STORE_TEMPFAIL;
}

/* One new modseq for uids, and a log entry each. */
void
box_stamp_changes(struct box *b, const uint32_t *uids, size_t n,
    uint32_t origin, uint8_t kind)
{
	const char *error;
	struct boxlock l;
	uint64_t modseq;
	uint32_t k;
	size_t i;

	if (n == 0)
		return;
	if (lock_take(b->path, NULL, &l, &error) == STORE_OK) {
		box_lock_sync_counters(b, &l);
		modseq = lock_next_modseq(&l, b->highest_modseq);
		lock_release(&l);
	} else
		modseq = b->highest_modseq + 1;	/* advisory: go on */
	b->highest_modseq = modseq;
	for (i = 0; i < n; i++) {
		if (kind == CH_FLAGS &&
		    (k = box_find_uid(b, uids[i])) != UINT32_MAX)
			b->msgs[k].modseq = modseq;
		box_log(b, uids[i], kind, origin);
	}
}

enum store_result
store_view_update_flags(struct store_view *v, const struct store_range *seqs,
    size_t n, enum store_flag_op op, unsigned flags, uint32_t keywords,
    const char **error_r)
{
	struct box *b = v->box;
	enum store_result res = STORE_OK, r;
	struct box_own own;
	uint32_t *uids = NULL, *done = NULL, seq, uid;
	size_t nuids = 0, ndone = 0, k, cap = 0;
	unsigned dnew = 0, dcur = 0;
	bool expunged, any_expunged = false, changed;

	if (b->gone) {
		*error_r = "mailbox was deleted or renamed";
		return STORE_RESET;
	}
	if (v->readonly) {
		*error_r = "mailbox is read-only";
		return STORE_CANNOT;
	}
	/* UIDs first: a resync moves indexes, never UIDs. */
	for (k = 0; k < n; k++) {
		for (seq = seqs[k].first; seq != 0 && seq <= seqs[k].last;
		    seq++) {
			(void)view_seq_to_index(v, seq, &expunged, &uid);
			if (uid == 0)
				break;
			if (expunged) {
				any_expunged = true;
				continue;
			}
			if (nuids == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				uids = xreallocarray(uids, cap, sizeof(*uids));
			}
			uids[nuids++] = uid;
			if (seq == UINT32_MAX)
				break;
		}
	}
	if (nuids > 0)
		done = xcalloc(nuids, sizeof(*done));
	box_own_begin(b, &own);
	for (k = 0; k < nuids; k++) {
		r = change_one(b, uids[k], op, flags, keywords, &changed,
		    &dnew, &dcur, error_r);
		if (r == STORE_EXPUNGED) {
			any_expunged = true;
			continue;
		}
		if (r != STORE_OK) {
			res = r;
			break;
		}
		if (changed)
			done[ndone++] = uids[k];
	}
	box_own_end(b, &own, dnew, dcur);
	box_stamp_changes(b, done, ndone, v->id, CH_FLAGS);
	free(uids);
	free(done);
	if (res == STORE_OK && any_expunged) {
		*error_r = "some messages were expunged";
		res = STORE_EXPUNGED;
	}
	return res;
}

static bool
in_ranges(const struct store_range *r, size_t n, uint32_t uid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (uid >= r[i].first && uid <= r[i].last)
			return true;
	return false;
}

/* Rewrite dovecot-uidlist when most of it names expunged files. */
static void
maybe_compact(struct box *b)
{
	const char *error;
	struct boxlock l;
	bool reset;

	if (b->ul_lines < COMPACT_MIN + b->nmsgs ||
	    b->ul_lines - b->nmsgs < b->ul_lines / 4)
		return;
	if (lock_take(b->path, "dovecot-uidlist", &l, &error) != STORE_OK)
		return;
	if (box_uidlist_refresh(b, &reset, &error) == 0 && !reset &&
	    b->npend == 0)
		(void)box_uidlist_write(b, &error);
	box_clear_pend(b);
	lock_release(&l);
}

enum store_result
store_view_expunge(struct store_view *v, const struct store_range *uids,
    size_t n, const char **error_r)
{
	char path[STORE_PATH_MAX];
	struct box *b = v->box;
	enum store_result res;
	struct box_own own;
	uint32_t *gone = NULL, *idx = NULL, uid, i;
	size_t ngone = 0, cap = 0, k;
	unsigned dnew = 0, dcur = 0;
	int tries;

	if (v->readonly) {
		*error_r = "mailbox is read-only";
		return STORE_CANNOT;
	}
	if ((res = box_sync(b, BOX_SYNC_MOVE, error_r)) != STORE_OK)
		return res;
	box_own_begin(b, &own);
	for (i = 0; i < b->nmsgs && b->msgs[i].uid <= v->uid_last;
	    i = box_lower_bound(b, uid + 1)) {
		uid = b->msgs[i].uid;
		if (!(b->msgs[i].flags & STORE_F_DELETED) ||
		    (n > 0 && !in_ranges(uids, n, uid)))
			continue;
		for (tries = 0; tries < REFIND_TRIES; tries++) {
			if (box_path(b, &b->msgs[i], path, sizeof(path)) == -1)
				break;
			if (unlink(path) == 0) {
				if (b->msgs[i].st & SM_NEW)
					dnew++;
				else
					dcur++;
				if (ngone == cap) {
					cap = cap == 0 ? 64 : cap * 2;
					gone = xreallocarray(gone, cap,
					    sizeof(*gone));
				}
				gone[ngone++] = uid;
				break;
			}
			if (errno != ENOENT) {
				*error_r = errno_text(errno);
				res = STORE_TEMPFAIL;
				goto out;
			}
			/* Its name changed: still \Deleted? */
			if ((res = box_sync(b, BOX_SYNC_FORCE, error_r)) !=
			    STORE_OK)
				goto out;
			if ((i = box_find_uid(b, uid)) == UINT32_MAX ||
			    !(b->msgs[i].flags & STORE_F_DELETED))
				break;
		}
	}
out:
	if (ngone > 0) {
		idx = xcalloc(ngone, sizeof(*idx));
		for (k = 0, i = 0; k < ngone; k++)
			if ((idx[i] = box_find_uid(b, gone[k])) != UINT32_MAX)
				i++;
		box_remove_msgs(b, idx, i);
		box_own_end(b, &own, dnew, dcur);
		/* Origin 0: the session reports its own expunges. */
		box_stamp_changes(b, gone, ngone, 0, CH_EXPUNGE);
		free(idx);
		maybe_compact(b);
	}
	free(gone);
	return res;
}
