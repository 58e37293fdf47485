/* store: the user handle, loading a mailbox into the process (box_get),
 * STATUS and the POP3 UIDL. See store.h for the contract.
 *
 * A mailbox is loaded once per process and shared: box_get() returns the
 * loaded box when its cur/ directory is still the same inode (a mailbox
 * deleted and created again is another box), else loads it: the keyword
 * names, postie-index, then a full sync (uidlist and both directories). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/xalloc.h"
#include "store/store-private.h"

struct store_user *
store_user_new(const char *root, const char *hostname)
{
	struct store_user *u = xcalloc(1, sizeof(*u));

	u->root = xstrdup(root);
	u->hostname = hostname != NULL && *hostname != '\0' ?
	    xstrdup(hostname) : NULL;
	return u;
}

void
store_user_free(struct store_user **up)
{
	struct store_user *u = *up;

	*up = NULL;
	if (u == NULL)
		return;
	free(u->root);
	free(u->hostname);
	free(u);
}

const char *
store_user_root(const struct store_user *u)
{
	return u->root;
}

enum store_result
box_get(const struct store_user *u, const char *canon, unsigned flags,
    struct box **box_r, const char **error_r)
{
	char path[STORE_PATH_MAX], cur[STORE_PATH_MAX];
	enum store_result res;
	struct stat st;
	struct box *b;

	*box_r = NULL;
	if (name_path(u->root, canon, path, sizeof(path)) == -1 ||
	    snprintf(cur, sizeof(cur), "%s/cur", path) >= (int)sizeof(cur)) {
		*error_r = "mailbox path too long";
		return STORE_BADNAME;
	}
	if (stat(cur, &st) == -1) {
		if (errno != ENOENT) {
			*error_r = errno_text(errno);
			return STORE_TEMPFAIL;
		}
		if (strcmp(canon, "INBOX") != 0) {
			*error_r = "mailbox does not exist";
			return STORE_NONEXISTENT;
		}
		/* INBOX always exists. */
		if (mkdir_parents(path) == -1 || mkdir_maildir(path) == -1 ||
		    stat(cur, &st) == -1) {
			*error_r = errno_text(errno);
			return STORE_TEMPFAIL;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = "mailbox does not exist";
		return STORE_NONEXISTENT;
	}
	/* new/ or tmp/ removed by someone: put them back. */
	if (mkdir_maildir(path) == -1) {
		*error_r = errno_text(errno);
		return STORE_TEMPFAIL;
	}
	if ((b = box_lookup(path, st.st_dev, st.st_ino)) != NULL) {
		box_hold(b);
		if ((res = box_sync(b, flags, error_r)) != STORE_OK) {
			box_put(&b);
			return res == STORE_RESET ? STORE_NONEXISTENT : res;
		}
		*box_r = b;
		return STORE_OK;
	}
	b = box_new(path, canon, u->root, u->hostname, st.st_dev, st.st_ino);
	tmp_cleanup(path);
	box_keywords_refresh(b, true);
	box_index_load(b);
	if ((res = box_sync(b, BOX_SYNC_FORCE | flags, error_r)) != STORE_OK) {
		box_forget(b);
		box_put(&b);
		return res == STORE_RESET ? STORE_NONEXISTENT : res;
	}
	box_index_apply(b);
	*box_r = b;
	return STORE_OK;
}

enum store_result
store_status(struct store_user *u, const char *name, unsigned items,
    struct store_status *st, const char **error_r)
{
	char canon[STORE_NAME_MAX + 1];
	enum store_result res = STORE_OK;
	struct boxlock l;
	struct box *b;
	uint64_t v;
	uint32_t k, uid, first_recent;

	memset(st, 0, sizeof(*st));
	if (!store_name_check(name, canon, sizeof(canon), error_r))
		return STORE_BADNAME;
	if ((res = box_get(u, canon, 0, &b, error_r)) != STORE_OK)
		return res;
	lock_peek(b->path, &l);
	first_recent = l.uidvalidity == b->uidvalidity && l.first_recent > 0 ?
	    l.first_recent : 1;
	if (l.modseq > b->highest_modseq)
		b->highest_modseq = l.modseq;
	st->messages = b->nmsgs;
	st->uidnext = b->next_uid;
	st->uidvalidity = b->uidvalidity;
	st->highest_modseq = b->highest_modseq;
	for (k = 0; k < b->nmsgs; k++) {
		if (!(b->msgs[k].flags & STORE_F_SEEN))
			st->unseen++;
		if (b->msgs[k].uid >= first_recent)
			st->recent++;
	}
	/* By UID: reading a size may find a file gone and resync. */
	for (k = 0; (items & STORE_ST_SIZE) && k < b->nmsgs;
	    k = box_lower_bound(b, uid + 1)) {
		uid = b->msgs[k].uid;
		res = msg_vsize(b, k, &v, error_r);
		if (res == STORE_EXPUNGED) {
			res = STORE_OK;
			continue;
		}
		if (res != STORE_OK)
			break;
		st->size += v;
	}
	box_put(&b);
	return res;
}

void
store_pop3_uidl(uint32_t uidvalidity, uint32_t uid, char *out,
    size_t outlen)
{
	(void)snprintf(out, outlen, "%08X%08X", uid, uidvalidity);
}
