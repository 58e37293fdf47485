/* imap-cmd-idle: IDLE (RFC 2177). The session keeps only the tag of the
 * command (imap_cmd_detach), subscribes to the selected mailbox's changes
 * through the store's inotify watch (store/watch.h), and reports them
 * with imap_notify() as soon as any process delivers, flags or expunges;
 * expunges are allowed during IDLE. When the kernel refuses a watch the
 * mailbox is polled every IMAP_IDLE_POLL seconds instead. "* OK Still
 * here" goes out every IMAP_IDLE_KEEPALIVE seconds, as Dovecot does, so
 * that NAT boxes keep the connection; imap_timeout still ends an IDLE
 * that the client never renews (RFC 2177: clients re-issue it within 29
 * minutes). The session reads raw lines meanwhile: "DONE" ends it,
 * anything else is BAD. */
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "worker/worker.h"

static void	on_change(void *arg);
static void	on_timer(evutil_socket_t fd, short what, void *arg);

static void
on_change(void *arg)
{
	struct imap_session *s = arg;

	if (s->idling)
		(void)imap_notify(s, true);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;

	if (!s->idling || s->closing)
		return;
	s->idle_ticks++;
	if (!s->idle_watch && imap_notify(s, true) == -1)
		return;
	if (s->idle_watch ||
	    s->idle_ticks % (IMAP_IDLE_KEEPALIVE / IMAP_IDLE_POLL) == 0)
		imap_untagged(s, "OK Still here");
}

void
imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct timeval tv = { IMAP_IDLE_KEEPALIVE, 0 };
	const char *error;

	if (cmd->count != 0) {
		imap_done(s, "BAD", "IDLE takes no arguments");
		return;
	}
	imap_cmd_detach(s);
	s->idling = true;
	s->idle_ticks = 0;
	evbuffer_add(imap_output(s), "+ idling\r\n", 10);
	if (s->view != NULL) {
		/* What happened before IDLE, then what happens during it. */
		if (imap_notify(s, true) == -1)
			return;
		if (store_view_watch(s->view, s->w->base, on_change, s,
		    &error) == STORE_OK)
			s->idle_watch = true;
		else {
			log_debug(LOG_CAT_IMAP, "%016llx imap IDLE polls: %s",
			    (unsigned long long)s->id, error);
			tv.tv_sec = IMAP_IDLE_POLL;
		}
	}
	s->timer = event_new(s->w->base, -1, EV_PERSIST, on_timer, s);
	event_add(s->timer, &tv);
}

void
imap_idle_line(struct imap_session *s, const uint8_t *line, size_t len)
{
	imap_idle_stop(s);
	if (len == 4 && strncasecmp((const char *)line, "DONE", 4) == 0)
		imap_done(s, "OK", "Idle completed");
	else
		imap_done(s, "BAD", "Expected DONE");
}

void
imap_idle_stop(struct imap_session *s)
{
	if (s->timer != NULL) {
		event_free(s->timer);
		s->timer = NULL;
	}
	if (s->idle_watch && s->view != NULL)
		store_view_unwatch(s->view);
	s->idle_watch = false;
}
