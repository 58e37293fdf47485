/* qmgr: the queue manager process. It owns scheduling and every delivery.
 *
 * It learns of new mail at once through queue/qmgr.fifo (workers, the CLI
 * and `postie sendmail` write a byte to it) and, as a safety net, from a
 * scan every QMGR_SCAN_SECS. A scan picks up maildrop/ (local submissions),
 * takes incoming/ messages into active/ by rename, and brings back deferred/
 * messages whose next attempt (their mtime) has come. At start, messages
 * left in active/ by a crash are attempted again first. Each message is one
 * job on the offload pool (delivery_concurrency threads); at most
 * QMGR_INFLIGHT_PER_THREAD jobs per thread are queued at once, the rest
 * waiting in incoming/ for the next scan. A job with remote recipients
 * comes back to the loop, which sends them (remote.h; at most
 * QMGR_REMOTE_MAX messages at a time), then goes to a thread again to
 * record the outcomes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "directory/dir.h"
#include "lib/log.h"
#include "lib/offload.h"
#include "lib/xalloc.h"
#include "queue/qmgr-private.h"
#include "queue/remote.h"
#include "worker/worker.h"

#define QMGR_SCAN_SECS			10
#define QMGR_INFLIGHT_PER_THREAD	16
#define QMGR_REMOTE_MAX			5000

struct qmgr {
	struct event_base	*base;
	const struct config	*cfg;		/* borrowed */
	char			*queue_dir;
	struct offload		*offload;
	unsigned		 inflight;	/* jobs on threads */
	unsigned		 max_inflight;
	unsigned		 remote_jobs;	/* messages out remotely */
	struct remote		*remote;
	bool			 stopping;
	bool			 rescan;	/* work was left for later */
	bool			 flush;		/* retry deferred now */
	bool			 pickup_running;
	int			 fifo_fd;
	struct event		*fifo_ev;
	struct event		*scan_ev;
	struct strv		 scheduled;	/* ids in flight */
};

struct pickup_job {
	struct qmgr	*q;
	unsigned	 queued;
};

static void	scan(struct qmgr *q);
static void	take(struct qmgr *q, const char *from, bool due_only);
static void	submit(struct qmgr *q, const char *id);
static void	job_done(void *arg);
static void	remote_done(struct remote_msg *m, void *arg);
static void	pickup_work(void *tctx, void *arg);
static void	pickup_done(void *arg);
static void	on_fifo(evutil_socket_t fd, short what, void *arg);
static void	on_scan(evutil_socket_t fd, short what, void *arg);
static void	on_sigterm(evutil_socket_t fd, short what, void *arg);
static bool	in_flight(struct qmgr *q, const char *id);
static void	forget(struct qmgr *q, const char *id);

static bool
in_flight(struct qmgr *q, const char *id)
{
	size_t i;

	for (i = 0; i < q->scheduled.n; i++)
		if (strcmp(q->scheduled.v[i], id) == 0)
			return true;
	return false;
}

static void
forget(struct qmgr *q, const char *id)
{
	size_t i;

	for (i = 0; i < q->scheduled.n; i++) {
		if (strcmp(q->scheduled.v[i], id) == 0) {
			free(q->scheduled.v[i]);
			q->scheduled.v[i] = q->scheduled.v[--q->scheduled.n];
			q->scheduled.v[q->scheduled.n] = NULL;
			return;
		}
	}
}

static void
submit(struct qmgr *q, const char *id)
{
	struct qmgr_job *j = xmalloc(sizeof(*j));

	j->owner = q;
	j->cfg = q->cfg;
	j->queue_dir = q->queue_dir;
	ASSERT(queue_valid_id(id));
	memcpy(j->id, id, QUEUE_ID_LEN + 1);
	strv_push(&q->scheduled, id);
	q->inflight++;
	offload_submit(q->offload, qmgr_deliver, job_done, j);
}

/* Move due messages from "from" into active/ and schedule them. */
static void
take(struct qmgr *q, const char *from, bool due_only)
{
	char src[4096], dst[4096];
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(src, sizeof(src), "%s/%s", q->queue_dir, from);
	if ((d = opendir(src)) == NULL) {
		log_warn("%s", src);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!queue_valid_id(de->d_name) || in_flight(q, de->d_name))
			continue;
		if (q->inflight >= q->max_inflight ||
		    q->remote_jobs >= QMGR_REMOTE_MAX) {
			q->rescan = true;
			break;
		}
		if (snprintf(src, sizeof(src), "%s/%s/%s", q->queue_dir, from,
		    de->d_name) >= (int)sizeof(src) ||
		    snprintf(dst, sizeof(dst), "%s/active/%s", q->queue_dir,
		    de->d_name) >= (int)sizeof(dst))
			continue;
		if (due_only && !q->flush &&
		    (stat(src, &st) == -1 || st.st_mtime > now))
			continue;
		if (strcmp(from, "active") != 0 && rename(src, dst) == -1) {
			if (errno != ENOENT)
				log_warn("cannot activate %s", de->d_name);
			continue;
		}
		submit(q, de->d_name);
	}
	closedir(d);
}

static void
scan(struct qmgr *q)
{
	q->rescan = false;
	if (!q->pickup_running) {
		struct pickup_job *p = xmalloc(sizeof(*p));

		p->q = q;
		q->pickup_running = true;
		offload_submit(q->offload, pickup_work, pickup_done, p);
	}
	take(q, "incoming", false);
	take(q, "deferred", true);
	q->flush = false;
}

static void
job_done(void *arg)
{
	struct qmgr_job *j = arg;
	struct qmgr *q = j->owner;

	q->inflight--;
	if (j->remote != NULL) {
		if (q->remote == NULL || q->stopping) {
			qmgr_deliver_abandon(j);
		} else {
			q->remote_jobs++;
			j->remote->done = remote_done;
			remote_deliver(q->remote, j->remote);
			if (q->rescan)
				scan(q);
			return;
		}
	}
	forget(q, j->id);
	free(j);
	if (q->rescan)
		scan(q);
}

/* The remote recipients of a job have their outcomes: record them on a
 * thread (job_done follows). */
static void
remote_done(struct remote_msg *m, void *arg)
{
	struct qmgr_job *j = arg;
	struct qmgr *q = j->owner;

	q->remote_jobs--;
	if (q->stopping) {
		qmgr_deliver_abandon(j);
		forget(q, j->id);
		free(j);
		return;
	}
	q->inflight++;
	offload_submit(q->offload, qmgr_deliver_finish, job_done, j);
}

static void
pickup_work(void *tctx, void *arg)
{
	struct pickup_job *p = arg;

	p->queued = qmgr_pickup(p->q->cfg, p->q->queue_dir);
}

static void
pickup_done(void *arg)
{
	struct pickup_job *p = arg;
	struct qmgr *q = p->q;

	q->pickup_running = false;
	if (p->queued > 0)
		take(q, "incoming", false);
	free(p);
}

static void
on_fifo(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr *q = arg;
	char buf[256];
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			if (buf[i] == 'F') {
				q->flush = true;
				if (q->remote != NULL)
					remote_flush(q->remote);
			}
	scan(q);
}

static void
on_scan(evutil_socket_t fd, short what, void *arg)
{
	scan(arg);
}

static void
on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int
qmgr_main(const struct config *cfg)
{
	static const struct timeval every = { QMGR_SCAN_SECS, 0 };
	struct qmgr q = { .cfg = cfg, .fifo_fd = -1 };
	struct event *sigterm;
	char *fifo;

	log_set_role("qmgr");
	prctl(PR_SET_NAME, "postie-qmgr");
	if ((q.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	q.queue_dir = xasprintf("%s/queue", cfg->data_dir);
	q.max_inflight = (unsigned)cfg->delivery_concurrency *
	    QMGR_INFLIGHT_PER_THREAD;
	q.offload = offload_new(q.base, (unsigned)cfg->delivery_concurrency,
	    dir_thread_init, dir_thread_deinit, (void *)cfg);
	q.remote = remote_new(q.base, cfg);

	/* O_RDWR: the FIFO never reports end-of-file between writers. */
	fifo = xasprintf("%s/qmgr.fifo", q.queue_dir);
	if ((q.fifo_fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		log_warn("%s: new mail is noticed by the periodic scan only",
		    fifo);
	free(fifo);
	if (q.fifo_fd != -1) {
		q.fifo_ev = event_new(q.base, q.fifo_fd, EV_READ | EV_PERSIST,
		    on_fifo, &q);
		event_add(q.fifo_ev, NULL);
	}
	q.scan_ev = event_new(q.base, -1, EV_PERSIST, on_scan, &q);
	sigterm = evsignal_new(q.base, SIGTERM, on_sigterm, q.base);
	if (q.scan_ev == NULL || sigterm == NULL ||
	    event_add(sigterm, NULL) == -1 || event_add(q.scan_ev, &every) == -1)
		fatalx("cannot set up the queue manager loop");

	/* What a crash left in active/ goes first. */
	take(&q, "active", false);
	scan(&q);
	event_base_dispatch(q.base);

	/* Remote deliveries stop; running local ones finish; what was not
	 * done stays in active/. */
	q.stopping = true;
	remote_free(&q.remote);
	offload_free(&q.offload);
	if (q.fifo_ev != NULL)
		event_free(q.fifo_ev);
	if (q.fifo_fd != -1)
		close(q.fifo_fd);
	event_free(q.scan_ev);
	event_free(sigterm);
	strv_free(&q.scheduled);
	free(q.queue_dir);
	event_base_free(q.base);
	return 0;
}
