/* folder: the folders of one user root (Maildir++): LIST/LSUB, CREATE,
 * DELETE, RENAME, SUBSCRIBE and the special-use folders made at the first
 * login. Folder "A.B" is the directory ".A.B" in the root; a name whose
 * directory does not exist but which has children is \Noselect.
 *
 * A folder appears and disappears atomically: CREATE builds it under a
 * hidden name ("..postie-new-*", never a valid mailbox name) and renames
 * it into place; DELETE renames it to "..postie-trash-*" and then removes
 * it. Views open on a deleted or renamed folder see STORE_RESET at their
 * next sync (box-sync.c compares the inode of cur/). Limits: a root of at
 * most LIST_MAX folders is listed; names as store_name_check(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store/maildir.h"
#include "store/store-private.h"
#include "store/uidlist.h"

#define LIST_MAX	10000
#define HIDDEN_NEW	"..postie-new-"
#define HIDDEN_TRASH	"..postie-trash-"

struct entry {
	char		*name;
	unsigned	 attrs;
	bool		 exists;	/* a mailbox (cur/ exists) */
};

struct entries {
	struct entry	*v;
	size_t		 n;
	size_t		 cap;
};

static void	 ent_add(struct entries *e, const char *name, bool exists);
static void	 ent_free(struct entries *e);
static int	 cmp_entry(const void *a, const void *b);
static int	 read_folders(const char *root, struct entries *e,
		    const char **error_r);
static bool	 dir_exists(const char *path);
static bool	 has_children(const char *root, const char *canon);
static bool	 children_in(const struct entries *e, const char *name,
		    size_t len);
static int	 hidden_path(const char *root, const char *prefix, char *out,
		    size_t outlen);
static enum store_result make_folder(const char *root, const char *canon,
		    const char **error_r);
static enum store_result make_parents(const char *root, const char *canon,
		    const char **error_r);
static enum store_result rename_inbox(struct store_user *u,
		    const char *to, const char **error_r);

static void
ent_add(struct entries *e, const char *name, bool exists)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		if (strcmp(e->v[i].name, name) == 0) {
			e->v[i].exists |= exists;
			return;
		}
	}
	if (e->n == e->cap) {
		e->cap = e->cap == 0 ? 32 : e->cap * 2;
		e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
	}
	e->v[e->n].name = xstrdup(name);
	e->v[e->n].attrs = 0;
	e->v[e->n].exists = exists;
	e->n++;
}

static void
ent_free(struct entries *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i].name);
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

/* INBOX first, then byte order. */
static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0;
	bool yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool
dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every ".name" directory of the root whose name is valid and canonical. */
static int
read_folders(const char *root, struct entries *e, const char **error_r)
{
	char canon[STORE_NAME_MAX + 1], cur[STORE_PATH_MAX];
	const char *error;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(root)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = errno_text(errno);
		return -1;
	}
	while ((de = readdir(d)) != NULL && e->n < LIST_MAX) {
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    de->d_name[1] == '.')
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    de->d_type != DT_LNK)
			continue;
		if (!store_name_check(de->d_name + 1, canon, sizeof(canon),
		    &error) || strcmp(canon, de->d_name + 1) != 0 ||
		    strcmp(canon, "INBOX") == 0)
			continue;
		if (snprintf(cur, sizeof(cur), "%s/%s/cur", root,
		    de->d_name) >= (int)sizeof(cur))
			continue;
		if (de->d_type != DT_DIR) {
			char dir[STORE_PATH_MAX];

			if (snprintf(dir, sizeof(dir), "%s/%s", root,
			    de->d_name) >= (int)sizeof(dir) ||
			    !dir_exists(dir))
				continue;
		}
		ent_add(e, canon, dir_exists(cur));
	}
	(void)closedir(d);
	return 0;
}

enum store_result
store_list(struct store_user *u, struct pool *pool, bool subscribed,
    struct store_folder **folders_r, size_t *n_r, const char **error_r)
{
	struct entries e = { NULL, 0, 0 }, all = { NULL, 0, 0 };
	struct strv subs = { NULL, 0 };
	struct store_folder *out;
	char *p, *name;
	size_t i, j, len, n;
	int version;
	bool exists;

	*folders_r = NULL;
	*n_r = 0;
	if (read_folders(u->root, &all, error_r) == -1)
		return STORE_TEMPFAIL;
	ent_add(&all, "INBOX", true);
	if (subs_read(u->root, &subs, &version, &exists) == -1) {
		ent_free(&all);
		*error_r = errno_text(errno);
		return STORE_TEMPFAIL;
	}
	if (subscribed) {
		for (i = 0; i < subs.n; i++)
			ent_add(&e, subs.v[i], false);
	} else {
		for (i = 0; i < all.n; i++)
			ent_add(&e, all.v[i].name, all.v[i].exists);
	}
	/* Intermediate names. */
	n = e.n;
	for (i = 0; i < n && e.n < LIST_MAX; i++) {
		name = xstrdup(e.v[i].name);
		for (p = name; (p = strchr(p, '.')) != NULL; p++) {
			*p = '\0';
			ent_add(&e, name, false);
			*p = '.';
		}
		free(name);
	}
	qsort(e.v, e.n, sizeof(*e.v), cmp_entry);
	for (i = 0; i < e.n; i++) {
		/* Existence from the disk, in both modes. */
		for (j = 0; j < all.n; j++)
			if (strcmp(all.v[j].name, e.v[i].name) == 0 &&
			    all.v[j].exists)
				e.v[i].exists = true;
		len = strlen(e.v[i].name);
		e.v[i].attrs = store_name_special_use(e.v[i].name);
		if (!e.v[i].exists)
			e.v[i].attrs |= STORE_LA_NOSELECT;
		e.v[i].attrs |= children_in(&all, e.v[i].name, len) ||
		    children_in(&e, e.v[i].name, len) ?
		    STORE_LA_HASCHILDREN : STORE_LA_HASNOCHILDREN;
		for (j = 0; j < subs.n; j++)
			if (strcmp(subs.v[j], e.v[i].name) == 0)
				e.v[i].attrs |= STORE_LA_SUBSCRIBED;
	}
	out = pool_alloc(pool, (e.n > 0 ? e.n : 1) * sizeof(*out));
	for (i = 0; i < e.n; i++) {
		out[i].name = pool_strdup(pool, e.v[i].name);
		out[i].attrs = e.v[i].attrs;
	}
	*folders_r = out;
	*n_r = e.n;
	ent_free(&e);
	ent_free(&all);
	strv_free(&subs);
	return STORE_OK;
}

static bool
children_in(const struct entries *e, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i].name, name, len) == 0 &&
		    e->v[i].name[len] == '.')
			return true;
	return false;
}

/* Is there any ".canon.*" directory? */
static bool
has_children(const char *root, const char *canon)
{
	struct dirent *de;
	size_t len = strlen(canon);
	bool found = false;
	DIR *d;

	if ((d = opendir(root)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			continue;
		found = strncmp(de->d_name + 1, canon, len) == 0 &&
		    de->d_name[1 + len] == '.' && de->d_name[2 + len] != '\0';
	}
	(void)closedir(d);
	return found;
}

static int
hidden_path(const char *root, const char *prefix, char *out, size_t outlen)
{
	char uniq[STORE_FILE_NAME_MAX + 1];

	if (maildir_unique_name(NULL, 0, uniq, sizeof(uniq)) == -1)
		return -1;
	return snprintf(out, outlen, "%s/%s%s", root, prefix, uniq) >=
	    (int)outlen ? -1 : 0;
}

/* One folder, built out of sight and renamed into place. */
static enum store_result
make_folder(const char *root, const char *canon, const char **error_r)
{
	char tmp[STORE_PATH_MAX], dst[STORE_PATH_MAX], mf[STORE_PATH_MAX];
	int fd;

	if (hidden_path(root, HIDDEN_NEW, tmp, sizeof(tmp)) == -1 ||
	    name_path(root, canon, dst, sizeof(dst)) == -1 ||
	    snprintf(mf, sizeof(mf), "%s/maildirfolder", tmp) >=
	    (int)sizeof(mf)) {
		*error_r = "mailbox name too long";
		return STORE_BADNAME;
	}
	if (mkdir_maildir(tmp) == -1) {
		*error_r = errno_text(errno);
		(void)remove_tree(tmp);
		return STORE_TEMPFAIL;
	}
	/* The Maildir++ marker that tells delivery agents this is a
	 * folder. */
	if ((fd = open(mf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) != -1)
		(void)close(fd);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == -1) {
		int saved = errno;

		(void)remove_tree(tmp);
		if (saved == EEXIST || saved == ENOTEMPTY) {
			*error_r = "mailbox already exists";
			return STORE_EXISTS;
		}
		*error_r = errno_text(saved);
		return STORE_TEMPFAIL;
	}
	(void)fsync_path(root);
	return STORE_OK;
}

/* Every superior name of canon that is not a mailbox becomes one. */
static enum store_result
make_parents(const char *root, const char *canon, const char **error_r)
{
	char name[STORE_NAME_MAX + 1], path[STORE_PATH_MAX];
	enum store_result res;
	char *p;

	if (snprintf(name, sizeof(name), "%s", canon) >= (int)sizeof(name))
		return STORE_BADNAME;
	for (p = name; (p = strchr(p, '.')) != NULL; p++) {
		*p = '\0';
		if (strcmp(name, "INBOX") != 0) {
			if (name_path(root, name, path, sizeof(path)) == -1) {
				*error_r = "mailbox name too long";
				return STORE_BADNAME;
			}
			if (!dir_exists(path) && (res = make_folder(root, name,
			    error_r)) != STORE_OK && res != STORE_EXISTS)
				return res;
		}
		*p = '.';
	}
	return STORE_OK;
}

enum store_result
store_create(struct store_user *u, const char *name, const char **error_r)
{
	char canon[STORE_NAME_MAX + 1], path[STORE_PATH_MAX];
	enum store_result res;

	if (!store_name_check(name, canon, sizeof(canon), error_r))
		return STORE_BADNAME;
	if (strcmp(canon, "INBOX") == 0) {
		*error_r = "INBOX always exists";
		return STORE_EXISTS;
	}
	if (mkdir_parents(u->root) == -1 || mkdir_maildir(u->root) == -1) {
		*error_r = errno_text(errno);
		return STORE_TEMPFAIL;
	}
	if (name_path(u->root, canon, path, sizeof(path)) == -1) {
		*error_r = "mailbox name too long";
		return STORE_BADNAME;
	}
	if (dir_exists(path)) {
		*error_r = "mailbox already exists";
		return STORE_EXISTS;
	}
	if ((res = make_parents(u->root, canon, error_r)) != STORE_OK)
		return res;
	return make_folder(u->root, canon, error_r);
}

enum store_result
store_delete(struct store_user *u, const char *name, const char **error_r)
{
	char canon[STORE_NAME_MAX + 1], path[STORE_PATH_MAX];
	char trash[STORE_PATH_MAX];

	if (!store_name_check(name, canon, sizeof(canon), error_r))
		return STORE_BADNAME;
	if (strcmp(canon, "INBOX") == 0) {
		*error_r = "INBOX cannot be deleted";
		return STORE_CANNOT;
	}
	if (name_path(u->root, canon, path, sizeof(path)) == -1 ||
	    hidden_path(u->root, HIDDEN_TRASH, trash, sizeof(trash)) == -1) {
		*error_r = "mailbox name too long";
		return STORE_BADNAME;
	}
	if (!dir_exists(path)) {
		if (has_children(u->root, canon)) {
			*error_r = "name has children and is no mailbox";
			return STORE_CANNOT;
		}
		*error_r = "mailbox does not exist";
		return STORE_NONEXISTENT;
	}
	if (rename(path, trash) == -1) {
		*error_r = errno == ENOENT ? "mailbox does not exist" :
		    errno_text(errno);
		return errno == ENOENT ? STORE_NONEXISTENT : STORE_TEMPFAIL;
	}
	box_forget_path(path);
	if (remove_tree(trash) == -1) {
		/* Out of sight already; a later delete may finish it. */
		*error_r = errno_text(errno);
	}
	return STORE_OK;
}

enum store_result
store_rename(struct store_user *u, const char *from, const char *to,
    const char **error_r)
{
	char cf[STORE_NAME_MAX + 1], ct[STORE_NAME_MAX + 1];
	char src[STORE_PATH_MAX], dst[STORE_PATH_MAX];
	struct entries all = { NULL, 0, 0 };
	enum store_result res = STORE_OK;
	size_t i, flen, tlen, moved = 0;
	const char *n;

	if (!store_name_check(from, cf, sizeof(cf), error_r) ||
	    !store_name_check(to, ct, sizeof(ct), error_r))
		return STORE_BADNAME;
	flen = strlen(cf);
	tlen = strlen(ct);
	if (strcmp(ct, "INBOX") == 0 || strcmp(cf, ct) == 0) {
		*error_r = "mailbox already exists";
		return STORE_EXISTS;
	}
	/* INBOX's children stay where they are, so INBOX may become one. */
	if (strcmp(cf, "INBOX") == 0)
		return rename_inbox(u, ct, error_r);
	if (strncmp(ct, cf, flen) == 0 && ct[flen] == '.') {
		*error_r = "cannot rename a mailbox into itself";
		return STORE_CANNOT;
	}
	if (read_folders(u->root, &all, error_r) == -1)
		return STORE_TEMPFAIL;
	/* The target and its would-be children must be free. */
	for (i = 0; i < all.n; i++) {
		n = all.v[i].name;
		if (strcmp(n, ct) == 0) {
			*error_r = "mailbox already exists";
			res = STORE_EXISTS;
			goto out;
		}
		if (strncmp(n, cf, flen) == 0 && (n[flen] == '\0' ||
		    n[flen] == '.')) {
			if (tlen + strlen(n) - flen > STORE_NAME_MAX) {
				*error_r = "new name too long";
				res = STORE_BADNAME;
				goto out;
			}
			moved++;
		}
	}
	/* No child may land on an existing name: check before moving any,
	 * so a refusal leaves everything where it was. */
	for (i = 0; moved > 0 && i < all.n; i++) {
		n = all.v[i].name;
		if (strncmp(n, cf, flen) != 0 || n[flen] != '.')
			continue;
		if (snprintf(dst, sizeof(dst), "%s/.%s%s", u->root, ct,
		    n + flen) >= (int)sizeof(dst)) {
			*error_r = "mailbox name too long";
			res = STORE_BADNAME;
			goto out;
		}
		if (access(dst, F_OK) == 0) {
			*error_r = "a child's new name exists already";
			res = STORE_EXISTS;
			goto out;
		}
	}
	if (moved == 0) {
		*error_r = "mailbox does not exist";
		res = STORE_NONEXISTENT;
		goto out;
	}
	if ((res = make_parents(u->root, ct, error_r)) != STORE_OK)
		goto out;
	for (i = 0; i < all.n; i++) {
		n = all.v[i].name;
		if (strncmp(n, cf, flen) != 0 || (n[flen] != '\0' &&
		    n[flen] != '.'))
			continue;
		if (snprintf(src, sizeof(src), "%s/.%s", u->root, n) >=
		    (int)sizeof(src) ||
		    snprintf(dst, sizeof(dst), "%s/.%s%s", u->root, ct,
		    n + flen) >= (int)sizeof(dst)) {
			*error_r = "mailbox name too long";
			res = STORE_BADNAME;
			goto out;
		}
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dst,
		    RENAME_NOREPLACE) == -1) {
			*error_r = errno == EEXIST ? "mailbox already exists" :
			    errno_text(errno);
			res = errno == EEXIST ? STORE_EXISTS : STORE_TEMPFAIL;
			goto out;
		}
	}
	(void)fsync_path(u->root);
out:
	ent_free(&all);
	return res;
}

/* RENAME INBOX: a new folder gets INBOX's messages with their UIDs (and a
 * new UIDVALIDITY); INBOX stays, empty, with its own UIDVALIDITY and next
 * UID, so no UID is ever reused there. */
static enum store_result
rename_inbox(struct store_user *u, const char *to, const char **error_r)
{
	char dst[STORE_PATH_MAX], from[STORE_PATH_MAX], path[STORE_PATH_MAX];
	char name[STORE_FILE_NAME_MAX + 1], kwsrc[STORE_PATH_MAX];
	char guid[33];
	struct boxlock dl, il;
	enum store_result res;
	struct box *b = NULL;
	struct buf out;
	const struct smsg *m;
	const char *nm;
	uint32_t *gone = NULL, *gidx = NULL, uidvalidity, k;
	size_t ngone = 0, klen;
	char *kw = NULL;
	int len;

	if ((res = box_get(u, "INBOX", 0, &b, error_r)) != STORE_OK)
		return res;
	if (name_path(u->root, to, dst, sizeof(dst)) == -1) {
		box_put(&b);
		*error_r = "mailbox name too long";
		return STORE_BADNAME;
	}
	if ((res = make_parents(u->root, to, error_r)) != STORE_OK) {
		box_put(&b);
		return res;
	}
	if (mkdir(dst, 0700) == -1) {
		box_put(&b);
		*error_r = errno == EEXIST ? "mailbox already exists" :
		    errno_text(errno);
		return errno == EEXIST ? STORE_EXISTS : STORE_TEMPFAIL;
	}
	if (mkdir_maildir(dst) == -1 ||
	    lock_uidvalidity_next(u->root, 0, &uidvalidity) == -1) {
		*error_r = errno_text(errno);
		box_put(&b);
		return STORE_TEMPFAIL;
	}
	/* The new folder is locked before its uidlist exists, so nobody
	 * gives its files other UIDs; INBOX is locked so no sync of
	 * it runs while the files leave. */
	if ((res = lock_take(dst, "dovecot-uidlist", &dl, error_r)) !=
	    STORE_OK) {
		box_put(&b);
		return res;
	}
	if ((res = lock_take(b->path, "dovecot-uidlist", &il, error_r)) !=
	    STORE_OK) {
		lock_release(&dl);
		box_put(&b);
		return res;
	}
	buf_init(&out, (size_t)1 << 30);
	/* Dovecot wants a mailbox GUID in the header. */
	snprintf(guid, sizeof(guid), "%08x%08x%08x%08x",
	    (unsigned)uidvalidity, (unsigned)getpid(), (unsigned)b->next_uid,
	    (unsigned)time(NULL));
	if (uidlist_write_header(&out, uidvalidity, b->next_uid, guid,
	    NULL) == -1)
		goto fail_write;
	for (k = 0; k < b->nmsgs; k++) {
		m = &b->msgs[k];
		nm = box_name_of(b, m);
		if (uidlist_write_record(&out, m->uid, m->vsize, nm,
		    box_base_len(nm, m->namelen)) == -1)
			goto fail_write;
	}
	if (snprintf(path, sizeof(path), "%s/dovecot-uidlist", dst) >=
	    (int)sizeof(path) || snprintf(from, sizeof(from),
	    "%s/dovecot-uidlist.tmp", dst) >= (int)sizeof(from) ||
	    write_file_atomic(path, from, out.data, out.len, true) == -1)
		goto fail_write;
	buf_deinit(&out);
	/* Same letters, same keywords. */
	if (snprintf(kwsrc, sizeof(kwsrc), "%s/dovecot-keywords",
	    b->path) < (int)sizeof(kwsrc) &&
	    read_file(kwsrc, (size_t)64 << 10, &kw, &klen) == 0) {
		if (snprintf(path, sizeof(path), "%s/dovecot-keywords", dst) <
		    (int)sizeof(path) && snprintf(from, sizeof(from),
		    "%s/dovecot-keywords.tmp", dst) < (int)sizeof(from))
			(void)write_file_atomic(path, from, kw, klen, true);
		free(kw);
	}
	gone = xcalloc(b->nmsgs + 1, sizeof(*gone));
	gidx = xcalloc(b->nmsgs + 1, sizeof(*gidx));
	for (k = 0; k < b->nmsgs; k++) {
		m = &b->msgs[k];
		nm = box_name_of(b, m);
		len = fname_with_flags(nm, m->namelen, m->flags, m->keywords,
		    name, sizeof(name));
		if (len == -1 || box_path(b, m, from, sizeof(from)) == -1 ||
		    snprintf(path, sizeof(path), "%s/cur/%s", dst, name) >=
		    (int)sizeof(path))
			continue;
		if (rename(from, path) == 0) {
			gidx[ngone] = k;
			gone[ngone++] = m->uid;
		}
	}
	(void)fsync_path(dst);
	lock_release(&il);
	lock_release(&dl);
	box_remove_msgs(b, gidx, ngone);
	box_stamp_changes(b, gone, ngone, 0, CH_EXPUNGE);
	free(gone);
	free(gidx);
	box_put(&b);
	return STORE_OK;
fail_write:
	*error_r = "cannot write the new mailbox's uidlist";
	buf_deinit(&out);
	lock_release(&il);
	lock_release(&dl);
	(void)remove_tree(dst);
	box_put(&b);
	return STORE_TEMPFAIL;
}

enum store_result
store_subscribe(struct store_user *u, const char *name, bool on,
    const char **error_r)
{
	char canon[STORE_NAME_MAX + 1];

	if (!store_name_check(name, canon, sizeof(canon), error_r))
		return STORE_BADNAME;
	return subs_change(u->root, canon, on, error_r);
}

enum store_result
store_user_prepare(struct store_user *u, const char **error_r)
{
	static const char *const special[] = {
		"Drafts", "Sent", "Junk", "Trash", "Archive",
	};
	char path[STORE_PATH_MAX];
	enum store_result res;
	size_t i;

	if (mkdir_parents(u->root) == -1 || mkdir_maildir(u->root) == -1) {
		*error_r = errno_text(errno);
		return STORE_TEMPFAIL;
	}
	if (snprintf(path, sizeof(path), "%s/subscriptions", u->root) >=
	    (int)sizeof(path)) {
		*error_r = "path too long";
		return STORE_TEMPFAIL;
	}
	if (access(path, F_OK) == 0)
		return STORE_OK;	/* not the first login */
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		res = store_create(u, special[i], error_r);
		if (res != STORE_OK && res != STORE_EXISTS)
			return res;
		if ((res = subs_change(u->root, special[i], true,
		    error_r)) != STORE_OK)
			return res;
	}
	return subs_change(u->root, "INBOX", true, error_r);
}
