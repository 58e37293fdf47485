/* qmgr: the queue manager process. It will own scheduling and every
 * delivery; for now it runs its loop, looks at the queue directory
 * periodically, and stops cleanly on SIGTERM. */
#include <signal.h>
#include <sys/prctl.h>

#include <event2/event.h>

#include "lib/log.h"
#include "worker/worker.h"

#define QMGR_SCAN_SECS	60

static void	on_scan(evutil_socket_t fd, short what, void *arg);
static void	on_sigterm(evutil_socket_t fd, short what, void *arg);

static void
on_scan(evutil_socket_t fd, short what, void *arg)
{
	log_debug(LOG_CAT_QUEUE, "queue scan");
}

static void
on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int
qmgr_main(const struct config *cfg)
{
	struct event_base *base;
	struct event *sigterm, *scan;

	log_set_role("qmgr");
	prctl(PR_SET_NAME, "postie-qmgr");
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	sigterm = evsignal_new(base, SIGTERM, on_sigterm, base);
	scan = event_new(base, -1, EV_PERSIST, on_scan, NULL);
	if (sigterm == NULL || scan == NULL || event_add(sigterm, NULL) == -1 ||
	    event_add(scan, &(struct timeval){ QMGR_SCAN_SECS, 0 }) == -1)
		fatalx("cannot set up the queue manager loop");
	event_base_dispatch(base);
	event_free(scan);
	event_free(sigterm);
	event_base_free(base);
	return 0;
}
