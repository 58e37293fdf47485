/* pop3-maildrop: the maildrop of a logged-in POP3 session (RFC 1939
 * sections 4 to 6).
 *
 * Exclusive access: flock(LOCK_EX | LOCK_NB) on POP3_LOCK_FILE in the
 * user's Maildir root, held until the session ends. A second POP3 session
 * on the same maildrop, in any worker process, gets "-ERR [IN-USE]"
 * (flock conflicts between separate open()s even inside one process).
 * IMAP never takes this lock, so it keeps working on the same mailbox.
 *
 * The message list is INBOX's view (store/store.h) opened with
 * STORE_OPEN_NORECENT, so POP3 takes no \Recent from IMAP sessions. The
 * view is never synced: its sequence numbers are the message numbers and
 * stay fixed for the session, new mail shows up at the next login, and a
 * message another session expunges meanwhile keeps its number (RETR then
 * fails). Sizes (octets with CRLF line ends, RFC 1939 section 11) are
 * read once at login.
 *
 * DELE and RETR only set bits here. The UPDATE state (QUIT) turns them
 * into store changes: \Seen for the retrieved messages (as IMAP clients
 * would see after reading them), \Deleted and an expunge of exactly the
 * marked UIDs (store_view_expunge with UID ranges), so a message an IMAP
 * client marked \Deleted is not expunged by POP3. A session that ends any
 * other way changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3-private.h"
#include "store/store.h"

#define REPLY_TEMP	"[SYS/TEMP] Mailbox not available, try again later"
#define REPLY_IN_USE	"[IN-USE] Mailbox is in use by another POP3 session"

static bool	bit_get(const uint8_t *bits, uint32_t msg);
static void	bit_set(uint8_t *bits, uint32_t msg, bool on);
static int	lock_root(struct store_user *u, int *fd_r,
		    const char **error_r);
static size_t	runs(const struct pop3_maildrop *md, const uint8_t *bits,
		    const uint8_t *except, struct store_range *out);

static bool
bit_get(const uint8_t *bits, uint32_t msg)
{
	return (bits[(msg - 1) / 8] >> ((msg - 1) % 8)) & 1;
}

static void
bit_set(uint8_t *bits, uint32_t msg, bool on)
{
	if (on)
		bits[(msg - 1) / 8] |= (uint8_t)(1u << ((msg - 1) % 8));
	else
		bits[(msg - 1) / 8] &= (uint8_t)~(1u << ((msg - 1) % 8));
}

/* 0 with the locked descriptor; -2 when locked by another session. */
static int
lock_root(struct store_user *u, int *fd_r, const char **error_r)
{
	char path[PATH_MAX];
	int n, fd;

	n = snprintf(path, sizeof(path), "%s/%s", store_user_root(u),
	    POP3_LOCK_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		*error_r = "path too long";
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		*error_r = strerror(errno);
		n = errno == EWOULDBLOCK ? -2 : -1;
		(void)close(fd);
		return n;
	}
	*fd_r = fd;
	return 0;
}

int
pop3_maildrop_open(struct store_user *u, struct pop3_maildrop **md_r,
    const char **reply_r, const char **error_r)
{
	struct store_view_info info;
	struct pop3_maildrop *md;
	enum store_result r;
	uint64_t size;
	uint32_t i;
	int fd, lr;

	*md_r = NULL;
	*reply_r = REPLY_TEMP;
	if ((lr = lock_root(u, &fd, error_r)) != 0) {
		store_user_free(&u);
		if (lr == -2)
			*reply_r = REPLY_IN_USE;
		return lr;
	}
	md = xcalloc(1, sizeof(*md));
	md->store = u;
	md->lock_fd = fd;
	if (store_view_open(u, "INBOX", STORE_OPEN_NORECENT, &md->view,
	    error_r) != STORE_OK)
		goto fail;
	store_view_info(md->view, &info);
	md->uidvalidity = info.uidvalidity;
	md->count = store_view_count(md->view);
	md->sizes = xcalloc(md->count > 0 ? md->count : 1,
	    sizeof(*md->sizes));
	md->deleted = xcalloc(md->count / 8 + 1, 1);
	md->retrieved = xcalloc(md->count / 8 + 1, 1);
	for (i = 1; i <= md->count; i++) {
		r = store_msg_size(md->view, i, &size, error_r);
		if (r == STORE_EXPUNGED)
			size = 0;	/* gone since the open: RETR says so */
		else if (r != STORE_OK)
			goto fail;
		/* Beyond 4 GiB nothing could be retrieved anyway
		 * (STORE_MESSAGE_MAX); keep the list small. */
		md->sizes[i - 1] = size > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)size;
		md->octets += md->sizes[i - 1];
	}
	*md_r = md;
	return 0;
fail:
	pop3_maildrop_free(&md);
	return -1;
}

void
pop3_maildrop_free(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;

	*mdp = NULL;
	if (md == NULL)
		return;
	store_view_close(&md->view);
	store_user_free(&md->store);
	/* Last: the lock covers everything above. */
	(void)close(md->lock_fd);
	free(md->sizes);
	free(md->deleted);
	free(md->retrieved);
	free(md);
}

bool
pop3_maildrop_valid(const struct pop3_maildrop *md, uint32_t msg)
{
	return msg >= 1 && msg <= md->count && !bit_get(md->deleted, msg);
}

void
pop3_maildrop_mark(struct pop3_maildrop *md, uint32_t msg)
{
	ASSERT(pop3_maildrop_valid(md, msg));
	bit_set(md->deleted, msg, true);
	md->ndeleted++;
	md->deleted_octets += md->sizes[msg - 1];
}

void
pop3_maildrop_reset(struct pop3_maildrop *md)
{
	memset(md->deleted, 0, md->count / 8 + 1);
	memset(md->retrieved, 0, md->count / 8 + 1);
	md->ndeleted = 0;
	md->deleted_octets = 0;
}

void
pop3_maildrop_retrieved(struct pop3_maildrop *md, uint32_t msg)
{
	ASSERT(msg >= 1 && msg <= md->count);
	bit_set(md->retrieved, msg, true);
}

void
pop3_maildrop_uidl(struct pop3_maildrop *md, uint32_t msg, char *out,
    size_t outlen)
{
	store_pop3_uidl(md->uidvalidity, store_view_uid(md->view, msg), out,
	    outlen);
}

/* The messages with a bit in bits and none in except (may be NULL) as
 * ranges of message numbers; out has room for count / 2 + 1. */
static size_t
runs(const struct pop3_maildrop *md, const uint8_t *bits,
    const uint8_t *except, struct store_range *out)
{
	size_t n = 0;
	uint32_t i;
	bool in;

	for (i = 1; i <= md->count; i++) {
		in = bit_get(bits, i) &&
		    (except == NULL || !bit_get(except, i));
		if (!in)
			continue;
		if (n > 0 && out[n - 1].last == i - 1)
			out[n - 1].last = i;
		else
			out[n++] = (struct store_range){ i, i };
	}
	return n;
}

int
pop3_maildrop_update(struct pop3_maildrop *md, unsigned *removed_r,
    const char **error_r)
{
	struct store_range *seqs, *uids;
	enum store_result r;
	size_t n, k;

	*removed_r = 0;
	seqs = xcalloc(md->count / 2 + 1, sizeof(*seqs));
	uids = xcalloc(md->count / 2 + 1, sizeof(*uids));
	/* STORE_EXPUNGED: some are gone already; the others are done. */
	if ((n = runs(md, md->retrieved, md->deleted, seqs)) > 0 &&
	    (r = store_view_update_flags(md->view, seqs, n, STORE_FLAGS_ADD,
	    STORE_F_SEEN, 0, error_r)) != STORE_OK && r != STORE_EXPUNGED)
		goto fail;
	if ((n = runs(md, md->deleted, NULL, seqs)) == 0)
		goto done;
	if ((r = store_view_update_flags(md->view, seqs, n, STORE_FLAGS_ADD,
	    STORE_F_DELETED, 0, error_r)) != STORE_OK && r != STORE_EXPUNGED)
		goto fail;
	/* UIDs only grow with sequence numbers and the view never synced,
	 * so a run of marked numbers is a run of UIDs holding no message
	 * that was not marked. */
	for (k = 0; k < n; k++) {
		uids[k].first = store_view_uid(md->view, seqs[k].first);
		uids[k].last = store_view_uid(md->view, seqs[k].last);
		ASSERT(uids[k].first != 0 && uids[k].first <= uids[k].last);
	}
	if (store_view_expunge(md->view, uids, n, error_r) != STORE_OK)
		goto fail;
	*removed_r = md->ndeleted;
done:
	free(seqs);
	free(uids);
	return 0;
fail:
	free(seqs);
	free(uids);
	return -1;
}
