/* imap-cmd-select: SELECT and EXAMINE (RFC 3501 6.3.1, 6.3.2), CLOSE,
 * UNSELECT (RFC 3691), CHECK, EXPUNGE and UID EXPUNGE (RFC 4315). A
 * session has at most one view (store_view_open()); selecting again
 * closes the previous one first, so a failed SELECT leaves the session in
 * the authenticated state as RFC 3501 says. EXPUNGE removes the messages
 * and imap_done() reports them with the other changes (imap-notify.c);
 * CLOSE expunges silently. */
#include <event2/buffer.h>

#include "imap/imap-private.h"
#include "lib/log.h"

static void	select_box(struct imap_session *s, const struct imap_cmd *cmd,
		    bool readonly);
static void	flag_list(struct imap_session *s, bool permanent);

/* "(\Answered ... kw...)" with every keyword the mailbox knows, and for
 * PERMANENTFLAGS "\*" while new keywords can be made. */
static void
flag_list(struct imap_session *s, bool permanent)
{
	struct evbuffer *out = imap_output(s);
	struct store_view_info info;
	const char *const *kw;
	size_t n, i;

	if (permanent && s->readonly) {
		imap_untagged(s, "OK [PERMANENTFLAGS ()] Read-only mailbox");
		return;
	}
	store_view_info(s->view, &info);
	kw = store_view_keywords(s->view, &n);
	evbuffer_add_printf(out, "%s(\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft", permanent ? "* OK [PERMANENTFLAGS " :
	    "* FLAGS ");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(out, " %s", kw[i]);
	if (permanent && !info.keywords_full)
		evbuffer_add_printf(out, " \\*");
	evbuffer_add_printf(out, "%s\r\n", permanent ?
	    ")] Flags permitted" : ")");
}

static void
select_box(struct imap_session *s, const struct imap_cmd *cmd, bool readonly)
{
	char canon[STORE_NAME_MAX + 1];
	struct store_view_info info;
	struct store_view *v;
	enum store_result r;
	const char *error;
	int rc;

	if (cmd->count != 1) {
		imap_done(s, "BAD", "%s takes one mailbox name", cmd->name);
		return;
	}
	if ((rc = imap_mailbox_arg(&cmd->args[0], canon, sizeof(canon),
	    &error)) != 0) {
		if (s->view != NULL)
			imap_unselect(s);
		if (rc == -1)
			imap_done(s, "BAD", "%s", error);
		else
			imap_done(s, "NO", "[NONEXISTENT] %s", error);
		return;
	}
	if (s->view != NULL)
		imap_unselect(s);
	if ((r = store_view_open(s->store, canon, readonly, &v, &error)) !=
	    STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	s->view = v;
	s->readonly = readonly;
	s->state = IMAP_SELECTED;
	store_view_info(v, &info);
	flag_list(s, false);
	flag_list(s, true);
	imap_untagged(s, "%u EXISTS", info.exists);
	imap_untagged(s, "%u RECENT", info.recent);
	if (info.first_unseen != 0)
		imap_untagged(s, "OK [UNSEEN %u] First unseen",
		    info.first_unseen);
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", info.uidvalidity);
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", info.uidnext);
	if (readonly)
		imap_done(s, "OK", "[READ-ONLY] Examine completed");
	else
		imap_done(s, "OK", "[READ-WRITE] Select completed");
}

void
imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd)
{
	select_box(s, cmd, false);
}

void
imap_cmd_examine(struct imap_session *s, const struct imap_cmd *cmd)
{
	select_box(s, cmd, true);
}

/* CLOSE: expunge without EXPUNGE responses (RFC 3501 6.4.2), unselect. */
void
imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd)
{
	enum store_result r;
	const char *error;

	if (cmd->count != 0) {
		imap_done(s, "BAD", "CLOSE takes no arguments");
		return;
	}
	if (!s->readonly && (r = store_view_expunge(s->view, NULL, 0,
	    &error)) != STORE_OK && r != STORE_EXPUNGED)
		log_warnx("%016llx imap CLOSE: expunge failed user=%s: %s",
		    (unsigned long long)s->id, s->user, error);
	imap_unselect(s);
	imap_done(s, "OK", "Close completed");
}

void
imap_cmd_unselect(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "UNSELECT takes no arguments");
		return;
	}
	imap_unselect(s);
	imap_done(s, "OK", "Unselect completed");
}

/* Nothing is buffered: every change is on disk when its command ends. */
void
imap_cmd_check(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "CHECK takes no arguments");
		return;
	}
	imap_done(s, "OK", "Check completed");
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct store_range *uids = NULL;
	const char *error, *set;
	enum store_result r;
	size_t n = 0;

	if (cmd->uid ? cmd->count != 1 ||
	    !imap_arg_atom(&cmd->args[0], &set) : cmd->count != 0) {
		imap_done(s, "BAD", cmd->uid ? "UID EXPUNGE takes a UID set" :
		    "EXPUNGE takes no arguments");
		return;
	}
	if (cmd->uid && imap_uid_ranges(s, set, cmd->pool, &uids, &n,
	    &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if (s->readonly) {
		imap_done(s, "NO", "[CANNOT] The mailbox is read-only");
		return;
	}
	/* An empty UID set expunges nothing (n 0 would mean all). */
	if (cmd->uid && n == 0) {
		imap_done(s, "OK", "Expunge completed");
		return;
	}
	if ((r = store_view_expunge(s->view, uids, n, &error)) != STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	imap_done(s, "OK", "Expunge completed");
}
