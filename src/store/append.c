/* append: new messages in a mailbox: APPEND (streamed into tmp/, fsynced,
 * renamed into cur/ with its flags), COPY (hard links, else copies) and
 * MOVE (rename, else copy and unlink). Every new file gets a fresh unique
 * base name of the delivery form with ",S=<octets>,W=<RFC822.SIZE>" when
 * known, then a UID through box_add_files() (under the destination's lock,
 * after the file is durable: the destination directory is fsynced once
 * per call). Limits: none of its own; the caller bounds sizes and quota. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "store/maildir.h"
#include "store/store-private.h"

#define COPY_BUF	(64 * 1024)

struct store_append {
	struct store_user *user;	/* borrowed: outlives the handle */
	char		 canon[STORE_NAME_MAX + 1];
	char		 dir[STORE_PATH_MAX];
	char		 tmp[STORE_PATH_MAX];
	int		 fd;
	uint64_t	 size;
	uint64_t	 bare_lf;
	char		 last;		/* the previous octet written */
	bool		 synced;
	bool		 failed;
};

static int	 new_name(const char *host, uint64_t size, uint64_t vsize,
		    uint8_t flags, uint32_t kw, char *out, size_t outlen);
static int	 copy_data(const char *src, const char *dir, const char *host,
		    const char *final, const char **error_r);
static int	 cmp_index(const void *a, const void *b);
static void	 undo_copies(struct box *sb, struct box *db, char **names,
		    const uint32_t *suids, size_t cnt, bool move);
static enum store_result keyword_bits(struct box *b,
		    const char *const *names, size_t n, uint32_t *bits_r,
		    const char **error_r);

/* "<unique>,S=<size>[,W=<vsize>]:2,<flags>" */
static int
new_name(const char *host, uint64_t size, uint64_t vsize, uint8_t flags,
    uint32_t kw, char *out, size_t outlen)
{
	char base[STORE_FILE_NAME_MAX + 1];
	size_t len;

	if (maildir_unique_name(host, size, base, sizeof(base)) == -1)
		return -1;
	len = strlen(base);
	if (vsize != STORE_SIZE_UNKNOWN &&
	    snprintf(base + len, sizeof(base) - len, ",W=%llu",
	    (unsigned long long)vsize) >= (int)(sizeof(base) - len))
		return -1;
	return fname_with_flags(base, strlen(base), flags, kw, out, outlen);
}

enum store_result
store_append_begin(struct store_user *u, const char *name,
    struct store_append **ap_r, const char **error_r)
{
	char cur[STORE_PATH_MAX], uniq[STORE_FILE_NAME_MAX + 1];
	struct store_append *ap;
	struct stat st;

	*ap_r = NULL;
	ap = xcalloc(1, sizeof(*ap));
	ap->fd = -1;
	ap->user = u;
	if (!store_name_check(name, ap->canon, sizeof(ap->canon), error_r)) {
		free(ap);
		return STORE_BADNAME;
	}
	if (name_path(u->root, ap->canon, ap->dir, sizeof(ap->dir)) == -1 ||
	    snprintf(cur, sizeof(cur), "%s/cur", ap->dir) >= (int)sizeof(cur)) {
		free(ap);
		*error_r = "mailbox path too long";
		return STORE_BADNAME;
	}
	if (stat(cur, &st) == -1) {
		if (strcmp(ap->canon, "INBOX") != 0 || mkdir_parents(ap->dir) ==
		    -1 || mkdir_maildir(ap->dir) == -1) {
			free(ap);
			*error_r = "mailbox does not exist";
			return STORE_NONEXISTENT;
		}
	}
	if (mkdir_maildir(ap->dir) == -1 ||
	    maildir_unique_name(u->hostname, 0, uniq, sizeof(uniq)) == -1 ||
	    snprintf(ap->tmp, sizeof(ap->tmp), "%s/tmp/%s", ap->dir, uniq) >=
	    (int)sizeof(ap->tmp)) {
		free(ap);
		*error_r = "cannot create a temporary file";
		return STORE_TEMPFAIL;
	}
	ap->fd = open(ap->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ap->fd == -1) {
		*error_r = errno_text(errno);
		free(ap);
		return STORE_TEMPFAIL;
	}
	*ap_r = ap;
	return STORE_OK;
}

int
store_append_write(struct store_append *ap, const void *data, size_t len,
    const char **error_r)
{
	const char *p = data;
	size_t i;

	if (ap->failed) {
		*error_r = "earlier write failed";
		return -1;
	}
	if (write_all(ap->fd, data, len) == -1) {
		ap->failed = true;
		*error_r = errno_text(errno);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (i > 0 ? p[i - 1] : ap->last) != '\r')
			ap->bare_lf++;
	}
	if (len > 0)
		ap->last = p[len - 1];
	ap->size += len;
	ap->synced = false;
	return 0;
}

int
store_append_write_fd(struct store_append *ap, int fd, off_t offset,
    uint64_t len, const char **error_r)
{
	char *buf = xmalloc(COPY_BUF);
	size_t want;
	ssize_t n;
	int ret = 0;

	while (len > 0) {
		want = len > COPY_BUF ? COPY_BUF : (size_t)len;
		n = pread(fd, buf, want, offset);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ? "source file truncated" :
			    errno_text(errno);
			ap->failed = true;
			ret = -1;
			break;
		}
		if ((ret = store_append_write(ap, buf, (size_t)n,
		    error_r)) == -1)
			break;
		offset += n;
		len -= (uint64_t)n;
	}
	free(buf);
	return ret;
}

int
store_append_fsync(struct store_append *ap, const char **error_r)
{
	if (ap->failed || fsync(ap->fd) == -1) {
		ap->failed = true;
		*error_r = errno_text(errno);
		return -1;
	}
	ap->synced = true;
	return 0;
}

uint64_t
store_append_size(const struct store_append *ap)
{
	return ap->size;
}

void
store_append_abort(struct store_append **app)
{
	struct store_append *ap = *app;

	*app = NULL;
	if (ap == NULL)
		return;
	if (ap->fd != -1)
		(void)close(ap->fd);
	(void)unlink(ap->tmp);
	free(ap);
}

/* Keyword names to the box's bits, adding the missing ones. */
static enum store_result
keyword_bits(struct box *b, const char *const *names, size_t n,
    uint32_t *bits_r, const char **error_r)
{
	enum store_result res;
	unsigned idx;
	size_t i;

	*bits_r = 0;
	for (i = 0; i < n; i++) {
		if ((res = box_keyword_add(b, names[i], &idx, error_r)) !=
		    STORE_OK)
			return res;
		*bits_r |= 1U << idx;
	}
	return STORE_OK;
}

enum store_result
store_append_commit(struct store_append **app, unsigned flags,
    const char *const *keywords, size_t nkw, time_t date,
    uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r)
{
	struct store_append *ap = *app;
	char name[STORE_FILE_NAME_MAX + 1], dst[STORE_PATH_MAX];
	char cur[STORE_PATH_MAX];
	struct timespec ts[2];
	enum store_result res;
	struct box_own own;
	const char *np;
	struct box *b = NULL;
	uint64_t vsize = ap->size + ap->bare_lf;
	uint32_t kw, uid, k;
	size_t len;
	int n;

	*uid_r = 0;
	*uidvalidity_r = 0;
	if (ap->failed) {
		*error_r = "writing the message failed";
		res = STORE_TEMPFAIL;
		goto fail;
	}
	if ((res = box_get(ap->user, ap->canon, 0, &b, error_r)) != STORE_OK)
		goto fail;
	if ((res = keyword_bits(b, keywords, nkw, &kw, error_r)) != STORE_OK)
		goto fail;
	if (!ap->synced && store_append_fsync(ap, error_r) == -1) {
		res = STORE_TEMPFAIL;
		goto fail;
	}
	if (date > 0) {
		ts[0].tv_sec = ts[1].tv_sec = date;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		(void)futimens(ap->fd, ts);
	}
	if (close(ap->fd) == -1) {
		ap->fd = -1;
		*error_r = errno_text(errno);
		res = STORE_TEMPFAIL;
		goto fail;
	}
	ap->fd = -1;
	n = new_name(b->hostname, ap->size, vsize, (uint8_t)(flags &
	    STORE_F_ALL), kw, name, sizeof(name));
	if (n == -1 || snprintf(dst, sizeof(dst), "%s/cur/%s", b->path,
	    name) >= (int)sizeof(dst) || box_subpath(b, "cur", cur,
	    sizeof(cur)) == -1) {
		*error_r = "file name too long";
		res = STORE_TEMPFAIL;
		goto fail;
	}
	box_own_begin(b, &own);
	if (renameat2(AT_FDCWD, ap->tmp, AT_FDCWD, dst,
	    RENAME_NOREPLACE) == -1) {
		*error_r = errno_text(errno);
		res = STORE_TEMPFAIL;
		goto fail;
	}
	if (fsync_path(cur) == -1) {
		*error_r = errno_text(errno);
		(void)unlink(dst);
		res = STORE_TEMPFAIL;
		goto fail;
	}
	np = name;
	len = (size_t)n;
	if ((res = box_add_files(b, &np, &len, 1, &uid, error_r)) !=
	    STORE_OK || uid == 0) {
		(void)unlink(dst);
		if (res == STORE_OK) {
			*error_r = "message vanished";
			res = STORE_TEMPFAIL;
		}
		goto fail;
	}
	box_own_end(b, &own, 0, 1);
	if ((k = box_find_uid(b, uid)) != UINT32_MAX) {
		b->msgs[k].vsize = vsize;
		b->msgs[k].date = date > 0 ? date : time(NULL);
	}
	*uid_r = uid;
	*uidvalidity_r = b->uidvalidity;
	box_put(&b);
	free(ap);
	*app = NULL;
	return STORE_OK;
fail:
	if (b != NULL)
		box_put(&b);
	store_append_abort(app);
	return res;
}

enum store_result
store_append_buf(struct store_user *u, const char *name, const void *data,
    size_t len, unsigned flags, const char *const *keywords, size_t nkw,
    time_t date, uint32_t *uidvalidity_r, uint32_t *uid_r,
    const char **error_r)
{
	struct store_append *ap;
	enum store_result res;

	*uid_r = 0;
	*uidvalidity_r = 0;
	if ((res = store_append_begin(u, name, &ap, error_r)) != STORE_OK)
		return res;
	if (store_append_write(ap, data, len, error_r) == -1) {
		store_append_abort(&ap);
		return STORE_TEMPFAIL;
	}
	return store_append_commit(&ap, flags, keywords, nkw, date,
	    uidvalidity_r, uid_r, error_r);
}

/* A copy of src as dir/cur/final, through dir/tmp/ and fsync. */
static int
copy_data(const char *src, const char *dir, const char *host,
    const char *final, const char **error_r)
{
	char tmp[STORE_PATH_MAX], dst[STORE_PATH_MAX];
	char uniq[STORE_FILE_NAME_MAX + 1], *buf;
	struct stat st;
	ssize_t n;
	int in, out, ret = -1;

	if (maildir_unique_name(host, 0, uniq, sizeof(uniq)) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, uniq) >=
	    (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/cur/%s", dir, final) >=
	    (int)sizeof(dst)) {
		*error_r = "path too long";
		return -1;
	}
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		*error_r = errno_text(errno);
		return -1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1) {
		*error_r = errno_text(errno);
		(void)close(in);
		return -1;
	}
	buf = xmalloc(COPY_BUF);
	for (;;) {
		n = read(in, buf, COPY_BUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(out, buf, (size_t)n) == -1) {
			n = -1;
			break;
		}
	}
	free(buf);
	if (n == 0 && fstat(in, &st) == 0) {
		struct timespec ts[2] = { st.st_mtim, st.st_mtim };

		(void)futimens(out, ts);	/* keep INTERNALDATE */
	}
	if (n == 0 && fsync(out) == 0 && close(out) == 0) {
		out = -1;
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst,
		    RENAME_NOREPLACE) == 0)
			ret = 0;
	}
	if (ret == -1) {
		*error_r = errno_text(errno);
		(void)unlink(tmp);
	}
	if (out != -1)
		(void)close(out);
	(void)close(in);
	return ret;
}

static int
cmp_index(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A COPY that fails leaves the destination as it was; a MOVE puts the
 * files back. */
static void
undo_copies(struct box *sb, struct box *db, char **names,
    const uint32_t *suids, size_t cnt, bool move)
{
	char from[STORE_PATH_MAX], to[STORE_PATH_MAX];
	uint32_t i;
	size_t k;

	for (k = 0; k < cnt; k++) {
		if (snprintf(to, sizeof(to), "%s/cur/%s", db->path,
		    names[k]) >= (int)sizeof(to))
			continue;
		if (!move) {
			(void)unlink(to);
			continue;
		}
		if ((i = box_find_uid(sb, suids[k])) == UINT32_MAX ||
		    box_path(sb, &sb->msgs[i], from, sizeof(from)) == -1 ||
		    rename(to, from) == -1)
			continue;	/* stays moved: found by a sync */
	}
}

enum store_result
store_view_copy(struct store_view *v, const struct store_range *seqs,
    size_t n, const char *dst, bool move, struct pool *pool,
    uint32_t *uidvalidity_r, uint32_t **src_uids_r, uint32_t **dst_uids_r,
    size_t *n_r, const char **error_r)
{
	char canon[STORE_NAME_MAX + 1], from[STORE_PATH_MAX];
	char to[STORE_PATH_MAX], dcurp[STORE_PATH_MAX], scurp[STORE_PATH_MAX];
	struct box *sb = v->box, *db = NULL;
	struct box_own sown, down;
	struct store_user du;
	enum store_result res;
	struct stat st;
	char **names = NULL;
	size_t *lens = NULL, cnt = 0, cap = 0, cnt_done = 0, k, j;
	uint32_t *suids = NULL, *duids = NULL, *idx = NULL, kwmap[32];
	uint32_t seq, uid, i, kw, used;
	uint64_t psize;
	unsigned bit, snew = 0, scur = 0, dcur = 0;
	bool expunged, any_expunged = false, linked;
	int len, tries;

	*n_r = 0;
	*src_uids_r = *dst_uids_r = NULL;
	*uidvalidity_r = 0;
	if (!store_name_check(dst, canon, sizeof(canon), error_r))
		return STORE_BADNAME;
	if (move && v->readonly) {
		*error_r = "mailbox is read-only";
		return STORE_CANNOT;
	}
	if (sb->gone) {
		*error_r = "mailbox was deleted or renamed";
		return STORE_RESET;
	}
	du.root = sb->root;
	du.hostname = sb->hostname;
	if ((res = box_get(&du, canon, 0, &db, error_r)) != STORE_OK)
		return res;
	/* Keyword letters differ between mailboxes: map by name the ones
	 * the messages carry. */
	for (k = 0, used = 0; k < n; k++) {
		for (seq = seqs[k].first; seq != 0 && seq <= seqs[k].last;
		    seq++) {
			i = view_seq_to_index(v, seq, &expunged, &uid);
			if (uid == 0)
				break;
			if (i != UINT32_MAX)
				used |= sb->msgs[i].keywords;
			if (seq == UINT32_MAX)
				break;
		}
	}
	for (bit = 0; bit < STORE_KEYWORDS_MAX; bit++) {
		kwmap[bit] = 0;
		if ((used & (1U << bit)) && sb->kw[bit] != NULL &&
		    box_keyword_add(db, sb->kw[bit], &i, error_r) == STORE_OK)
			kwmap[bit] = 1U << i;
	}
	box_own_begin(db, &down);
	if (sb != db)
		box_own_begin(sb, &sown);
	if (box_subpath(db, "cur", dcurp, sizeof(dcurp)) == -1 ||
	    box_subpath(sb, "cur", scurp, sizeof(scurp)) == -1) {
		*error_r = "path too long";
		res = STORE_TEMPFAIL;
		goto out;
	}
	for (k = 0; k < n; k++) {
		for (seq = seqs[k].first; seq != 0 && seq <= seqs[k].last;
		    seq++) {
			i = view_seq_to_index(v, seq, &expunged, &uid);
			if (uid == 0)
				break;
			if (expunged) {
				any_expunged = true;
				continue;
			}
			for (tries = 0; tries < 3; tries++) {
				const struct smsg *m = &sb->msgs[i];

				kw = 0;
				for (bit = 0; bit < STORE_KEYWORDS_MAX; bit++)
					if (m->keywords & (1U << bit))
						kw |= kwmap[bit];
				if (box_path(sb, m, from, sizeof(from)) == -1) {
					*error_r = "path too long";
					res = STORE_TEMPFAIL;
					goto out;
				}
				if (!fname_field(box_name_of(sb, m), m->namelen,
				    'S', &psize))
					psize = stat(from, &st) == 0 ?
					    (uint64_t)st.st_size : 0;
				if (cnt == cap) {
					cap = cap == 0 ? 16 : cap * 2;
					names = xreallocarray(names, cap,
					    sizeof(*names));
					lens = xreallocarray(lens, cap,
					    sizeof(*lens));
					suids = xreallocarray(suids, cap,
					    sizeof(*suids));
				}
				names[cnt] = xmalloc(STORE_FILE_NAME_MAX + 1);
				len = new_name(db->hostname, psize, m->vsize,
				    m->flags, kw, names[cnt],
				    STORE_FILE_NAME_MAX + 1);
				if (len == -1 || snprintf(to, sizeof(to),
				    "%s/%s", dcurp, names[cnt]) >=
				    (int)sizeof(to)) {
					free(names[cnt]);
					*error_r = "file name too long";
					res = STORE_TEMPFAIL;
					goto out;
				}
				linked = move ? rename(from, to) == 0 :
				    link(from, to) == 0;
				if (!linked && errno != ENOENT) {
					/* Another file system, no links. */
					if (copy_data(from, db->path,
					    db->hostname, names[cnt],
					    error_r) == -1) {
						free(names[cnt]);
						res = STORE_TEMPFAIL;
						goto out;
					}
					if (move)
						(void)unlink(from);
					linked = true;
				}
				if (linked) {
					/* inotify: one in, one out if moved */
					dcur++;
					if (move && (m->st & SM_NEW))
						snew++;
					else if (move)
						scur++;
					lens[cnt] = (size_t)len;
					suids[cnt++] = uid;
					break;
				}
				free(names[cnt]);
				/* The source moved: find it again. */
				if ((res = box_sync(sb, BOX_SYNC_FORCE,
				    error_r)) != STORE_OK)
					goto out;
				if ((i = box_find_uid(sb, uid)) ==
				    UINT32_MAX) {
					any_expunged = true;
					break;
				}
			}
			if (seq == UINT32_MAX)
				break;
		}
	}
	if (cnt == 0) {
		res = any_expunged ? STORE_EXPUNGED : STORE_OK;
		if (any_expunged)
			*error_r = "the messages were expunged";
		goto out;
	}
	if (fsync_path(dcurp) == -1 || (move && sb != db &&
	    fsync_path(scurp) == -1)) {
		*error_r = errno_text(errno);
		res = STORE_TEMPFAIL;
		goto out;
	}
	duids = xcalloc(cnt, sizeof(*duids));
	res = box_add_files(db, (const char *const *)names, lens, cnt, duids,
	    error_r);
	if (res != STORE_OK)
		goto out;
	cnt_done = cnt;
	if (move) {
		/* Gone from the source: the next sync reports them. */
		idx = xcalloc(cnt, sizeof(*idx));
		for (k = 0, j = 0; k < cnt; k++)
			if ((idx[j] = box_find_uid(sb, suids[k])) !=
			    UINT32_MAX)
				j++;
		if (j > 1)
			qsort(idx, j, sizeof(*idx), cmp_index);
		box_remove_msgs(sb, idx, j);
		box_stamp_changes(sb, suids, cnt, 0, CH_EXPUNGE);
	}
	if (sb == db)
		box_own_end(db, &down, snew, scur + dcur);
	else {
		box_own_end(db, &down, 0, dcur);
		box_own_end(sb, &sown, snew, scur);
	}
	*src_uids_r = pool_alloc(pool, cnt * sizeof(uint32_t));
	*dst_uids_r = pool_alloc(pool, cnt * sizeof(uint32_t));
	for (k = 0, j = 0; k < cnt; k++) {
		if (duids[k] == 0)
			continue;
		(*src_uids_r)[j] = suids[k];
		(*dst_uids_r)[j++] = duids[k];
	}
	*n_r = j;
	*uidvalidity_r = db->uidvalidity;
	if (any_expunged) {
		*error_r = "some messages were expunged";
		res = STORE_EXPUNGED;
	}
out:
	if (res != STORE_OK && res != STORE_EXPUNGED && cnt_done == 0 &&
	    cnt > 0 && db != NULL)
		undo_copies(sb, db, names, suids, cnt, move);
	for (k = 0; k < cnt; k++)
		free(names[k]);
	free(names);
	free(lens);
	free(suids);
	free(duids);
	free(idx);
	box_put(&db);
	return res;
}
