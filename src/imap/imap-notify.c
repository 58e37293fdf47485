/* imap-notify: untagged updates about the selected mailbox (RFC 3501
 * 7.3.1, 7.4.1, 7.3.2): EXPUNGE, FETCH FLAGS for changes made by other
 * sessions, EXISTS and RECENT. The store's view keeps the session's
 * sequence numbers until store_view_sync() is called, and this file calls
 * it only at the moments the RFC allows: at the end of a command (from
 * imap_done(), with expunges held back during FETCH, STORE and SEARCH)
 * and during IDLE. */
#include <event2/buffer.h>

#include "imap/imap-private.h"
#include "lib/log.h"

static void	on_expunge(void *arg, uint32_t seq, uint32_t uid);
static void	on_flags(void *arg, uint32_t seq, uint32_t uid);
static void	on_exists(void *arg, uint32_t exists, uint32_t recent);

static const struct store_sync_cb notify_cb = {
	.expunge = on_expunge,
	.flags = on_flags,
	.exists = on_exists,
};

static void
on_expunge(void *arg, uint32_t seq, uint32_t uid)
{
	struct imap_session *s = arg;

	imap_untagged(s, "%u EXPUNGE", seq);
	s->stats.expunged++;
}

static void
on_flags(void *arg, uint32_t seq, uint32_t uid)
{
	struct imap_session *s = arg;
	struct store_msg_info info;
	struct evbuffer *out = imap_output(s);

	if (store_view_msg(s->view, seq, &info) == -1 || info.expunged)
		return;
	/* A UID command's client may number by UID only (RFC 3501 7.4.2). */
	if (s->cmd != NULL && s->cmd->uid)
		evbuffer_add_printf(out, "* %u FETCH (UID %u FLAGS ", seq,
		    info.uid);
	else
		evbuffer_add_printf(out, "* %u FETCH (FLAGS ", seq);
	imap_reply_flags(out, info.flags, info.keywords, s->view);
	evbuffer_add(out, ")\r\n", 3);
}

static void
on_exists(void *arg, uint32_t exists, uint32_t recent)
{
	struct imap_session *s = arg;

	imap_untagged(s, "%u EXISTS", exists);
	imap_untagged(s, "%u RECENT", recent);
}

int
imap_notify(struct imap_session *s, bool allow_expunge)
{
	enum store_result r;
	const char *error;

	if (s->view == NULL || s->closing)
		return 0;
	r = store_view_sync(s->view, allow_expunge ? 0 :
	    STORE_SYNC_NO_EXPUNGE, &notify_cb, s, &error);
	switch (r) {
	case STORE_OK:
		return 0;
	case STORE_RESET:
		log_info("%016llx imap mailbox reset user=%s: %s",
		    (unsigned long long)s->id, s->user != NULL ? s->user : "-",
		    error);
		imap_unselect(s);
		s->reason = "mailbox-reset";
		imap_bye(s, "Selected mailbox was deleted or changed, "
		    "reconnect");
		return -1;
	default:
		/* The view stays as it was; the next sync tries again. */
		log_warnx("%016llx imap sync failed user=%s: %s",
		    (unsigned long long)s->id, s->user != NULL ? s->user : "-",
		    error);
		return 0;
	}
}
