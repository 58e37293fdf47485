/* box-sync: bring a loaded box up to date with its Maildir. Called by
 * views (store_view_sync), STATUS, and whenever a file is not where the
 * box thought (refind); box_add_files() gives UIDs to files the store just
 * put into cur/ (append, copy, move).
 *
 * Order of one sync: stat cur/ (is it still the same mailbox?), read what
 * was appended to dovecot-uidlist, scan new/ (if its stamp changed), move
 * new/ to cur/ (read-write views only), scan cur/ (if its stamp changed),
 * then under the lock: read the uidlist again, give UIDs to unknown files
 * in delivery order (the time at the start of their names), take one
 * modseq for everything observed. A directory is read until two fstat(2)
 * around the readdir agree (a rename during readdir can hide a file), at
 * most SCAN_TRIES times; messages are declared expunged only from a
 * stable scan. A record read from the uidlist whose file no scan has seen
 * yet is resolved under the lock by a rescan before any higher UID is
 * given out, so UIDs appear in ascending order in every process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/watch.h"

#define SCAN_TRIES	3
#define INDEX_SAVE_DIRTY 4096	/* changed values before postie-index */

struct ent {
	uint32_t	 off;		/* in the context's arena */
	uint16_t	 len;
	bool		 in_new;
};

struct u32vec {
	uint32_t	*v;
	size_t		 n;
	size_t		 cap;
};

struct sync_ctx {
	char		*arena;
	size_t		 alen;
	size_t		 acap;
	struct ent	*ents;		/* directory entries of this round */
	size_t		 nents;
	size_t		 capents;
	struct ent	*unknown;	/* files without a UID */
	size_t		 nunknown;
	size_t		 capunknown;
	size_t		 given;		/* unknown[0..given): the caller's */
	struct u32vec	 changed;	/* UIDs whose flags changed */
	struct u32vec	 added;		/* UIDs that became known */
	struct u32vec	 expunged;	/* UIDs that are gone */
	uint32_t	 origin;
};

static uint64_t	 watch_generation(struct box *b, int which);
static void	 vec_push(struct u32vec *v, uint32_t x);
static uint32_t	 ctx_add(struct sync_ctx *ctx, const char *s, size_t len);
static void	 ctx_free(struct sync_ctx *ctx);
static void	 ent_push(struct ent **v, size_t *n, size_t *cap,
		    const struct ent *e);
static int	 scan_dir(struct box *b, struct sync_ctx *ctx, bool is_new,
		    struct stamp *st_r, bool *stable_r, bool *settled_r,
		    const char **error_r);
static void	 move_new(struct box *b, struct sync_ctx *ctx);
static void	 merge(struct box *b, struct sync_ctx *ctx, bool scanned_new,
		    bool scanned_cur, bool stable);
static void	 update_msg(struct box *b, struct sync_ctx *ctx, uint32_t i,
		    const char *name, size_t len, bool in_new);
static enum store_result scan_round(struct box *b, struct sync_ctx *ctx,
		    bool scan_new, bool scan_cur, bool move,
		    const char **error_r);
static void	 resolve_unknown(struct box *b, struct sync_ctx *ctx);
static int	 cmp_fname(const char *x, const char *y);
static int	 cmp_ent_name(const void *a, const void *b);
static struct sync_ctx *sort_ctx;
static enum store_result assign(struct box *b, struct sync_ctx *ctx,
		    struct u32vec *newidx, const char **error_r);
static enum store_result commit(struct box *b, struct sync_ctx *ctx,
		    const char **error_r);

/* The inotify event count of new/ or cur/ (0: not watched), after taking
 * in what the kernel queued. */
static uint64_t
watch_generation(struct box *b, int which)
{
	return b->pwatch != NULL ? store_watch_generation(b->pwatch, which) :
	    0;
}

static void
vec_push(struct u32vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 16 : v->cap * 2;
		v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	v->v[v->n++] = x;
}

static uint32_t
ctx_add(struct sync_ctx *ctx, const char *s, size_t len)
{
	uint32_t off;

	if (ctx->alen + len + 1 > ctx->acap) {
		while (ctx->alen + len + 1 > ctx->acap)
			ctx->acap = ctx->acap == 0 ? 4096 : ctx->acap * 2;
		ctx->arena = xreallocarray(ctx->arena, ctx->acap, 1);
	}
	if (ctx->alen + len + 1 > UINT32_MAX)
		fatalx("store: directory listing too large");
	off = (uint32_t)ctx->alen;
	memcpy(ctx->arena + off, s, len);	/* UNSAFE: grown above */
	ctx->arena[off + len] = '\0';
	ctx->alen += len + 1;
	return off;
}

static void
ent_push(struct ent **v, size_t *n, size_t *cap, const struct ent *e)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = *e;
}

static void
ctx_free(struct sync_ctx *ctx)
{
	free(ctx->arena);
	free(ctx->ents);
	free(ctx->unknown);
	free(ctx->changed.v);
	free(ctx->added.v);
	free(ctx->expunged.v);
}

/* Read one directory into ctx->ents. -1 with error_r; ENOENT means the
 * mailbox is gone (error_r NULL). */
static int
scan_dir(struct box *b, struct sync_ctx *ctx, bool is_new,
    struct stamp *st_r, bool *stable_r, bool *settled_r,
    const char **error_r)
{
	struct timespec now;
	char path[STORE_PATH_MAX];
	struct stat s1, s2;
	struct dirent *de;
	struct ent e;
	size_t mark = ctx->nents, amark = ctx->alen, len;
	int attempt;
	DIR *d;

	*stable_r = false;
	if (box_subpath(b, is_new ? "new" : "cur", path, sizeof(path)) == -1) {
		*error_r = "path too long";
		return -1;
	}
	for (attempt = 0; attempt < SCAN_TRIES; attempt++) {
		ctx->nents = mark;
		ctx->alen = amark;
		if ((d = opendir(path)) == NULL) {
			*error_r = errno == ENOENT ? NULL : errno_text(errno);
			return -1;
		}
		if (clock_gettime(CLOCK_REALTIME_COARSE, &now) == -1)
			now.tv_sec = now.tv_nsec = 0;
		if (fstat(dirfd(d), &s1) == -1) {
			*error_r = errno_text(errno);
			(void)closedir(d);
			return -1;
		}
		while ((errno = 0, de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' || de->d_type == DT_DIR)
				continue;
			len = strlen(de->d_name);
			if (len > STORE_FILE_NAME_MAX)
				continue;
			e.off = ctx_add(ctx, de->d_name, len);
			e.len = (uint16_t)len;
			e.in_new = is_new;
			ent_push(&ctx->ents, &ctx->nents, &ctx->capents, &e);
		}
		if (errno != 0 || fstat(dirfd(d), &s2) == -1) {
			*error_r = errno_text(errno);
			(void)closedir(d);
			return -1;
		}
		(void)closedir(d);
		st_r->dev = s1.st_dev;
		st_r->ino = s1.st_ino;
		st_r->size = s1.st_size;
		st_r->mtime = s1.st_mtim;
		st_r->ctime = s1.st_ctim;
		st_r->valid = true;
		*settled_r = stamp_settled(st_r, &now);
		if (s1.st_mtim.tv_sec == s2.st_mtim.tv_sec &&
		    s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec &&
		    s1.st_ctim.tv_sec == s2.st_ctim.tv_sec &&
		    s1.st_ctim.tv_nsec == s2.st_ctim.tv_nsec) {
			*stable_r = true;
			break;
		}
	}
	return 0;
}

/* Read-write views take delivered mail from new/ into cur/ (with an empty
 * flag part), as every IMAP server does; the cur/ scan then finds it. */
static void
move_new(struct box *b, struct sync_ctx *ctx)
{
	char from[STORE_PATH_MAX], to[STORE_PATH_MAX];
	char name[STORE_FILE_NAME_MAX + 1];
	const char *n;
	size_t i, w = 0;
	uint32_t k;
	uint8_t fl;
	uint32_t kw;

	for (i = 0; i < ctx->nents; i++) {
		struct ent *e = &ctx->ents[i];

		n = ctx->arena + e->off;
		if (!e->in_new || !fname_acceptable(n, e->len)) {
			ctx->ents[w++] = *e;
			continue;
		}
		fname_flags(n, e->len, &fl, &kw);
		if (fname_with_flags(n, e->len, fl, kw, name,
		    sizeof(name)) == -1 ||
		    snprintf(from, sizeof(from), "%s/new/%s", b->path, n) >=
		    (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/cur/%s", b->path, name) >=
		    (int)sizeof(to) ||
		    (renameat2(AT_FDCWD, from, AT_FDCWD, to,
		    RENAME_NOREPLACE) == -1 && errno != ENOENT)) {
			ctx->ents[w++] = *e;	/* stays in new/ */
			continue;
		}
		/* Moved (or moved by someone else): cur/ will show it. */
	}
	ctx->nents = w;
	/* Known messages still in new/ from a read-only sync. */
	for (k = 0; k < b->nmsgs; k++) {
		struct smsg *m = &b->msgs[k];

		if (!(m->st & SM_NEW))
			continue;
		n = box_name_of(b, m);
		if (fname_with_flags(n, m->namelen, m->flags, m->keywords,
		    name, sizeof(name)) == -1 ||
		    snprintf(from, sizeof(from), "%s/new/%s", b->path, n) >=
		    (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/cur/%s", b->path, name) >=
		    (int)sizeof(to))
			continue;
		(void)renameat2(AT_FDCWD, from, AT_FDCWD, to,
		    RENAME_NOREPLACE);
	}
	b->has_new = false;
}

/* A known message seen in a directory: take its current name and flags. */
static void
update_msg(struct box *b, struct sync_ctx *ctx, uint32_t i,
    const char *name, size_t len, bool in_new)
{
	struct smsg *m = &b->msgs[i];
	uint8_t fl;
	uint32_t kw;

	m->st |= SM_MARK;
	if (((m->st & SM_NEW) != 0) == in_new && len == m->namelen &&
	    memcmp(box_name_of(b, m), name, len) == 0)
		return;
	if (in_new) {
		m->st |= SM_NEW;
		b->has_new = true;
	} else
		m->st &= ~SM_NEW;
	(void)box_set_name(b, &b->msgs[i], name, len);
	m = &b->msgs[i];
	fname_flags(name, len, &fl, &kw);
	if (fl != m->flags || kw != m->keywords) {
		m->flags = fl;
		m->keywords = kw;
		m->st &= ~SM_INDEXED;
		b->index_dirty++;
		vec_push(&ctx->changed, m->uid);
	}
}

/* Match the entries of this round against the box. Files named by a
 * uidlist record are collected first and added in one sorted batch, so
 * loading a large mailbox is not quadratic. */
static void
merge(struct box *b, struct sync_ctx *ctx, bool scanned_new,
    bool scanned_cur, bool stable)
{
	struct u32vec gone = { NULL, 0, 0 };
	struct ent *found = NULL;	/* found[j]: the file of pend j */
	const struct ent *e, *f;
	struct smsg m;
	const char *n;
	size_t i, blen;
	uint32_t k, p;
	bool was_new, any = false;

	for (k = 0; k < b->nmsgs; k++)
		b->msgs[k].st &= ~SM_MARK;
	if (b->npend > 0)
		found = xcalloc(b->npend, sizeof(*found));
	/* Entries of new/ come first: a file moved to cur/ during the
	 * scan is seen twice and its cur/ name wins. */
	for (i = 0; i < ctx->nents; i++) {
		e = &ctx->ents[i];
		n = ctx->arena + e->off;
		if (!fname_acceptable(n, e->len))
			continue;
		blen = box_base_len(n, e->len);
		if ((k = box_lookup_base(b, n, blen)) != UINT32_MAX) {
			if ((b->msgs[k].st & SM_MARK) &&
			    (!(b->msgs[k].st & SM_NEW) || e->in_new))
				continue;	/* same base twice */
			update_msg(b, ctx, k, n, e->len, e->in_new);
			continue;
		}
		if ((p = box_lookup_pend(b, n, blen)) != UINT32_MAX) {
			if (found[p].len == 0 || !e->in_new)
				found[p] = *e;
			any = true;
			continue;
		}
		ent_push(&ctx->unknown, &ctx->nunknown, &ctx->capunknown, e);
	}
	ctx->nents = 0;
	for (p = 0; any && p < b->npend; p++) {
		f = &found[p];
		if (f->len == 0)
			continue;
		n = ctx->arena + f->off;
		memset(&m, 0, sizeof(m));
		m.uid = b->pend[p].uid;
		m.vsize = b->pend[p].vsize;
		if (m.vsize == STORE_SIZE_UNKNOWN &&
		    !fname_field(n, f->len, 'W', &m.vsize))
			m.vsize = STORE_SIZE_UNKNOWN;
		m.date = STORE_DATE_UNKNOWN;
		fname_flags(n, f->len, &m.flags, &m.keywords);
		m.st = SM_MARK | (f->in_new ? SM_NEW : 0);
		if (f->in_new)
			b->has_new = true;
		b->pend[p].uid = 0;
		box_append_unsorted(b, &m, n, f->len);
		vec_push(&ctx->added, m.uid);
		b->index_dirty++;
	}
	if (any)
		box_finish_appends(b);
	free(found);
	if (!stable)
		return;
	for (k = 0; k < b->nmsgs; k++) {
		was_new = (b->msgs[k].st & SM_NEW) != 0;
		if (!(b->msgs[k].st & SM_MARK) &&
		    (was_new ? scanned_new : scanned_cur)) {
			vec_push(&gone, k);
			vec_push(&ctx->expunged, b->msgs[k].uid);
		}
	}
	box_remove_msgs(b, gone.v, gone.n);
	free(gone.v);
}

static enum store_result
scan_round(struct box *b, struct sync_ctx *ctx, bool scan_new, bool scan_cur,
    bool move, const char **error_r)
{
	struct stamp nst, cst;
	bool stable_new = true, stable_cur = true, settled;

	if (scan_new) {
		b->new_gen = watch_generation(b, STORE_WATCH_NEW);
		if (scan_dir(b, ctx, true, &nst, &stable_new, &settled,
		    error_r) == -1)
			goto fail;
		b->new_st = nst;
		b->new_dirty = !stable_new || !settled;
	}
	if (move && (scan_new || b->has_new)) {
		move_new(b, ctx);
		scan_cur = true;
	}
	if (scan_cur) {
		b->cur_gen = watch_generation(b, STORE_WATCH_CUR);
		if (scan_dir(b, ctx, false, &cst, &stable_cur, &settled,
		    error_r) == -1)
			goto fail;
		b->cur_st = cst;
		b->cur_dirty = !stable_cur || !settled;
	}
	/* A letter may name a keyword another process just added. */
	box_keywords_refresh(b, false);
	merge(b, ctx, scan_new, scan_cur, stable_new && stable_cur);
	if (stable_new && stable_cur)
		box_clear_pend(b);	/* records of files no longer there */
	return STORE_OK;
fail:
	if (*error_r == NULL) {
		*error_r = "mailbox was deleted";
		box_forget(b);
		return STORE_RESET;
	}
	return STORE_TEMPFAIL;
}

/* Unknown files for which a record has appeared meanwhile. */
static void
resolve_unknown(struct box *b, struct sync_ctx *ctx)
{
	size_t i;

	ctx->nents = 0;
	for (i = 0; i < ctx->nunknown; i++)
		ent_push(&ctx->ents, &ctx->nents, &ctx->capents,
		    &ctx->unknown[i]);
	/* merge() puts back into unknown what still has no record. */
	ctx->nunknown = 0;
	merge(b, ctx, false, false, false);
}

/* Delivery order: names begin "<secs>.M<usecs>", numbers compared as
 * numbers (the microseconds are not zero-padded), then the rest. */
static int
cmp_fname(const char *x, const char *y)
{
	unsigned long long a, b;
	char *ex, *ey;

	a = strtoull(x, &ex, 10);
	b = strtoull(y, &ey, 10);
	if (ex != x && ey != y) {
		if (a != b)
			return a < b ? -1 : 1;
		if (ex[0] == '.' && ex[1] == 'M' && ey[0] == '.' &&
		    ey[1] == 'M') {
			a = strtoull(ex + 2, NULL, 10);
			b = strtoull(ey + 2, NULL, 10);
			if (a != b)
				return a < b ? -1 : 1;
		}
	}
	return strcmp(x, y);
}

static int
cmp_ent_name(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return cmp_fname(sort_ctx->arena + x->off, sort_ctx->arena + y->off);
}

/* UIDs for the unknown files: the caller's first, in its order, then the
 * others by name; a base seen twice gets one UID. */
static enum store_result
assign(struct box *b, struct sync_ctx *ctx, struct u32vec *newidx,
    const char **error_r)
{
	struct smsg m;
	const char *n;
	size_t i, blen;
	uint32_t k;

	if (ctx->nunknown > ctx->given + 1) {
		sort_ctx = ctx;
		qsort(ctx->unknown + ctx->given, ctx->nunknown - ctx->given,
		    sizeof(*ctx->unknown), cmp_ent_name);
		sort_ctx = NULL;
	}
	for (i = 0; i < ctx->nunknown; i++) {
		const struct ent *e = &ctx->unknown[i];

		n = ctx->arena + e->off;
		blen = box_base_len(n, e->len);
		if (box_lookup_base(b, n, blen) != UINT32_MAX)
			continue;
		if (b->next_uid > STORE_UID_MAX) {
			*error_r = "no UIDs left in this mailbox";
			return STORE_LIMIT;
		}
		memset(&m, 0, sizeof(m));
		m.uid = b->next_uid++;
		if (!fname_field(n, e->len, 'W', &m.vsize))
			m.vsize = STORE_SIZE_UNKNOWN;
		m.date = STORE_DATE_UNKNOWN;
		fname_flags(n, e->len, &m.flags, &m.keywords);
		m.st = e->in_new ? SM_NEW : 0;
		if (e->in_new)
			b->has_new = true;
		k = box_insert_msg(b, &m, n, e->len);
		vec_push(newidx, k);
		vec_push(&ctx->added, m.uid);
		b->index_dirty++;
	}
	return STORE_OK;
}

/* Everything observed gets one modseq; unknown files get UIDs. */
static enum store_result
commit(struct box *b, struct sync_ctx *ctx, const char **error_r)
{
	struct u32vec newidx = { NULL, 0, 0 };
	enum store_result res;
	struct boxlock l;
	uint32_t old_next = b->next_uid, k;
	uint64_t modseq = 0;
	size_t i;
	bool need_ul, reset;
	int sync_fd = -1;

	need_ul = ctx->nunknown > 0 || b->ul_rewrite || !box_uidlist_exists(b);
	if (!need_ul && ctx->changed.n == 0 && ctx->added.n == 0 &&
	    ctx->expunged.n == 0)
		return STORE_OK;
	res = lock_take(b->path, need_ul ? "dovecot-uidlist" : NULL, &l,
	    error_r);
	if (res != STORE_OK) {
		if (res == STORE_RESET)
			box_forget(b);
		goto report;
	}
	if (need_ul) {
		if (box_uidlist_refresh(b, &reset, error_r) == -1) {
			res = STORE_TEMPFAIL;
			goto out;
		}
		if (reset) {
			box_forget(b);
			res = STORE_RESET;
			goto out;
		}
		resolve_unknown(b, ctx);
		if (b->npend > 0) {
			/* Records for files this process has not seen:
			 * find them before handing out higher UIDs. */
			res = scan_round(b, ctx, true, true, false, error_r);
			if (res != STORE_OK)
				goto out;
		}
		box_clear_pend(b);
		if (b->uidvalidity == 0) {
			if (lock_uidvalidity_next(b->root, b->index_uv == 0 ?
			    0 : b->index_uv + 1, &b->uidvalidity) == -1) {
				*error_r = errno_text(errno);
				res = STORE_TEMPFAIL;
				goto out;
			}
			b->next_uid = 1;
			b->guid[0] = '\0';
			b->ul_rewrite = true;
			old_next = 1;
		}
		if ((res = assign(b, ctx, &newidx, error_r)) != STORE_OK)
			goto undo;
		if (b->ul_rewrite || !box_uidlist_exists(b) ||
		    box_uidlist_append(b, newidx.v, newidx.n, &sync_fd,
		    error_r) == -1) {
			if (box_uidlist_write(b, error_r) == -1) {
				res = STORE_TEMPFAIL;
				goto undo;
			}
		}
	}
	box_lock_sync_counters(b, &l);
	modseq = lock_next_modseq(&l, b->highest_modseq);
	b->highest_modseq = modseq;
	res = STORE_OK;
	goto out;
undo:
	/* Nothing was written: the new UIDs were never seen. */
	for (i = newidx.n; i > 0; i--) {
		k = newidx.v[i - 1];
		box_remove_msgs(b, &k, 1);
	}
	b->next_uid = old_next;
out:
	lock_release(&l);
	if (sync_fd != -1) {
		(void)fdatasync(sync_fd);
		(void)close(sync_fd);
	}
report:
	free(newidx.v);
	/* What the scans saw has happened whatever failed here: the views
	 * must hear of it, or their numbering would drift. */
	if (res != STORE_OK)
		modseq = b->highest_modseq;
	for (i = 0; i < ctx->added.n; i++)
		if ((k = box_find_uid(b, ctx->added.v[i])) != UINT32_MAX)
			b->msgs[k].modseq = modseq;
	for (i = 0; i < ctx->changed.n; i++) {
		if ((k = box_find_uid(b, ctx->changed.v[i])) == UINT32_MAX)
			continue;
		b->msgs[k].modseq = modseq;
		box_log(b, ctx->changed.v[i], CH_FLAGS, ctx->origin);
	}
	for (i = 0; i < ctx->expunged.n; i++)
		box_log(b, ctx->expunged.v[i], CH_EXPUNGE, 0);
	ctx->added.n = ctx->changed.n = ctx->expunged.n = 0;
	return res;
}

enum store_result
box_sync(struct box *b, unsigned flags, const char **error_r)
{
	struct sync_ctx ctx;
	struct stamp cur, nw;
	enum store_result res;
	bool scan_new, scan_cur, reset;

	if (b->gone) {
		*error_r = "mailbox was deleted or renamed";
		return STORE_RESET;
	}
	ASSERT(!b->in_sync);
	{
		char path[STORE_PATH_MAX];

		if (box_subpath(b, "cur", path, sizeof(path)) == -1 ||
		    stamp_get(path, &cur) == -1 || cur.ino != b->cur_ino ||
		    cur.dev != b->cur_dev) {
			box_forget(b);
			*error_r = "mailbox was deleted or renamed";
			return STORE_RESET;
		}
		memset(&nw, 0, sizeof(nw));
		if (b->pwatch == NULL && (box_subpath(b, "new", path,
		    sizeof(path)) == -1 || stamp_get(path, &nw) == -1)) {
			box_forget(b);
			*error_r = "mailbox was deleted or renamed";
			return STORE_RESET;
		}
	}
	b->in_sync = true;
	memset(&ctx, 0, sizeof(ctx));
	if (box_uidlist_refresh(b, &reset, error_r) == -1) {
		res = STORE_TEMPFAIL;
		goto out;
	}
	if (reset) {
		box_forget(b);
		res = STORE_RESET;
		goto out;
	}
	if (b->pwatch != NULL) {
		/* inotify counts every change: no stamps needed. */
		scan_new = watch_generation(b, STORE_WATCH_NEW) != b->new_gen;
		scan_cur = watch_generation(b, STORE_WATCH_CUR) != b->cur_gen;
	} else {
		/* A stamp from the tick of the last change proves nothing. */
		scan_new = b->new_dirty || !stamp_same(&nw, &b->new_st);
		scan_cur = b->cur_dirty || !stamp_same(&cur, &b->cur_st);
	}
	if ((flags & BOX_SYNC_FORCE) || b->npend > 0)
		scan_new = scan_cur = true;
	if (scan_new || scan_cur || ((flags & BOX_SYNC_MOVE) && b->has_new)) {
		res = scan_round(b, &ctx, scan_new, scan_cur,
		    (flags & BOX_SYNC_MOVE) != 0, error_r);
		if (res != STORE_OK)
			goto out;
	}
	res = commit(b, &ctx, error_r);
out:
	b->in_sync = false;
	ctx_free(&ctx);
	/* A mailbox that stays loaded for days writes its cache now and
	 * then, not only when the last view goes. */
	if (res == STORE_OK && b->index_dirty >= INDEX_SAVE_DIRTY)
		box_index_save(b);
	return res;
}

/* Files the store just put into cur/ (names[i], lens[i]) get UIDs, in
 * this order; *uids_r[i] is 0 for a file that vanished meanwhile. */
enum store_result
box_add_files(struct box *b, const char *const *names, const size_t *lens,
    size_t n, uint32_t *uids_r, const char **error_r)
{
	struct sync_ctx ctx;
	enum store_result res;
	struct ent e;
	size_t i;
	uint32_t k;

	if (b->gone) {
		*error_r = "mailbox was deleted or renamed";
		return STORE_RESET;
	}
	ASSERT(!b->in_sync);
	b->in_sync = true;
	memset(&ctx, 0, sizeof(ctx));
	for (i = 0; i < n; i++) {
		e.off = ctx_add(&ctx, names[i], lens[i]);
		e.len = (uint16_t)lens[i];
		e.in_new = false;
		ent_push(&ctx.unknown, &ctx.nunknown, &ctx.capunknown, &e);
	}
	ctx.given = n;
	res = commit(b, &ctx, error_r);
	b->in_sync = false;
	ctx_free(&ctx);
	for (i = 0; i < n; i++) {
		k = box_lookup_base(b, names[i], box_base_len(names[i],
		    lens[i]));
		uids_r[i] = res == STORE_OK && k != UINT32_MAX ?
		    b->msgs[k].uid : 0;
	}
	return res;
}
