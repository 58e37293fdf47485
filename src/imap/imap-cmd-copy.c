/* imap-cmd-copy: COPY and UID COPY (RFC 3501 6.4.7, 6.4.8), MOVE and UID
 * MOVE (RFC 6851), with UIDPLUS's COPYUID (RFC 4315).
 *
 * The store copies (hard links) or moves (renames) the whole set in one
 * call and returns the source and destination UIDs in sequence order;
 * COPYUID shows them as two uid-sets built in that order (imap/seqset.h),
 * so the n-th UID of one set matches the n-th of the other.
 *
 * COPY answers "OK [COPYUID v src dst] Copy completed". The tagged text is
 * bounded (imap_done()), so a COPYUID too long for it goes out as an
 * untagged "* OK [COPYUID ...]" just before the tagged OK. MOVE sends
 * "* OK [COPYUID ...]" first, then the EXPUNGE responses (from
 * imap_done(), which reports the moved messages as expunged), then the
 * tagged OK (RFC 6851 4.3 and 4.4). Nothing copied, nothing to say: no
 * COPYUID.
 *
 * Errors: a destination that does not exist is NO [TRYCREATE], a name
 * that cannot be a mailbox NO [CANNOT]; MOVE out
 * of a read-only mailbox is NO [CANNOT]; when some messages of the set
 * were expunged meanwhile the others are copied and the reply is OK (the
 * EXPUNGE responses come with it), and when all were, NO [EXPUNGEISSUE]. */
#include <string.h>

#include "imap/imap-private.h"
#include "imap/seqset.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"

#define COPYUID_MAX		(16 * 1024 * 1024)	/* both sets */
#define COPYUID_TAGGED_MAX	1500	/* fits imap_done()'s text */

static void	copy_or_move(struct imap_session *s,
		    const struct imap_cmd *cmd, bool move);
static int	copyuid_format(struct pool *pool, uint32_t uidvalidity,
		    const uint32_t *src, const uint32_t *dst, size_t n,
		    struct buf *out);

/* "v src-set dst-set", or -1 when it does not fit COPYUID_MAX. */
static int
copyuid_format(struct pool *pool, uint32_t uidvalidity, const uint32_t *src,
    const uint32_t *dst, size_t n, struct buf *out)
{
	struct imap_seqset ss, ds;
	size_t i;

	/* Up to n ranges each, not the parser's bound. */
	imap_seqset_init(&ss, pool, n);
	imap_seqset_init(&ds, pool, n);
	for (i = 0; i < n; i++)
		if (imap_seqset_add(&ss, src[i]) == -1 ||
		    imap_seqset_add(&ds, dst[i]) == -1)
			return -1;
	if (buf_printf(out, "%u ", uidvalidity) == -1 ||
	    imap_seqset_format(&ss, out) == -1 ||
	    buf_append(out, " ", 1) == -1 ||
	    imap_seqset_format(&ds, out) == -1)
		return -1;
	return 0;
}

static void
copy_or_move(struct imap_session *s, const struct imap_cmd *cmd, bool move)
{
	char canon[STORE_NAME_MAX + 1];
	struct store_range *ranges;
	uint32_t *src, *dst, uidvalidity;
	enum store_result r;
	const char *set, *error, *what = move ? "MOVE" : "COPY";
	struct buf cu;
	size_t n, ncopied;
	int rc;

	if (cmd->count != 2 || !imap_arg_atom(&cmd->args[0], &set)) {
		imap_done(s, "BAD", "%s%s takes a sequence set and a mailbox",
		    cmd->uid ? "UID " : "", what);
		return;
	}
	if ((rc = imap_mailbox_arg(&cmd->args[1], canon, sizeof(canon),
	    &error)) != 0) {
		if (rc == -1)
			imap_done(s, "BAD", "%s", error);
		else
			imap_done(s, "NO", "[CANNOT] %s", error);
		return;
	}
	if (imap_seq_resolve(s, set, cmd->uid, cmd->pool, &ranges, &n,
	    &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if (move && s->readonly) {
		imap_done(s, "NO", "[CANNOT] The mailbox is read-only");
		return;
	}
	/* An empty UID set still checks the destination. */
	r = store_view_copy(s->view, ranges, n, canon, move, cmd->pool,
	    &uidvalidity, &src, &dst, &ncopied, &error);
	if (r != STORE_OK && !(r == STORE_EXPUNGED && ncopied > 0)) {
		imap_done_store(s, r, error, true);
		return;
	}
	if (ncopied == 0) {
		imap_done(s, "OK", "%s completed, no messages", move ?
		    "Move" : "Copy");
		return;
	}
	buf_init(&cu, COPYUID_MAX);
	if (copyuid_format(cmd->pool, uidvalidity, src, dst, ncopied,
	    &cu) == -1) {
		/* Copied all the same; the client finds them by a search. */
		log_warnx("%016llx imap %s: COPYUID too long user=%s",
		    (unsigned long long)s->id, what, s->user);
		buf_deinit(&cu);
		imap_done(s, "OK", "%s completed", move ? "Move" : "Copy");
		return;
	}
	if (move || cu.len > COPYUID_TAGGED_MAX) {
		imap_untagged(s, "OK [COPYUID %s] %s", buf_cstr(&cu),
		    move ? "Moved" : "Copied");
		buf_deinit(&cu);
		imap_done(s, "OK", "%s completed", move ? "Move" : "Copy");
		return;
	}
	imap_done(s, "OK", "[COPYUID %s] Copy completed", buf_cstr(&cu));
	buf_deinit(&cu);
}

void
imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd)
{
	copy_or_move(s, cmd, false);
}

void
imap_cmd_move(struct imap_session *s, const struct imap_cmd *cmd)
{
	copy_or_move(s, cmd, true);
}
