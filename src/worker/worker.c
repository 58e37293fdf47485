/* worker: the protocol worker process (see worker.h). It accepts on every
 * inherited listener and hands each connection to the protocol module of
 * the listener's service. On SIGTERM it stops accepting at once, asks the
 * tracked connections (IMAP sessions) to end, and exits when its
 * connections are gone, or after WORKER_DRAIN_SECS. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "directory/dir.h"
#include "imap/imap.h"
#include "lib/log.h"
#include "lib/offload.h"
#include "lib/xalloc.h"
#include "pop3/pop3.h"
#include "smtp/smtp.h"
#include "worker/worker.h"

#define WORKER_DRAIN_SECS	3

struct accept_ctx {
	struct worker		*w;		/* borrowed */
	const struct listener	*l;		/* borrowed from the master set */
	struct event		*ev;
};

static void	on_accept(evutil_socket_t fd, short what, void *arg);
static void	on_sigterm(evutil_socket_t fd, short what, void *arg);
static void	raise_nofile(void);

/* Which module serves each protocol; filled in as protocols land. */
static const worker_accept_fn proto_accept[] = {
	[PROTO_SMTP] = smtp_accept,
	[PROTO_LMTP] = smtp_accept,
	[PROTO_IMAP] = imap_accept,
	[PROTO_POP3] = pop3_accept,
};

static struct accept_ctx *accepts;
static size_t naccepts;

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct accept_ctx *a = arg;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd, one = 1;

	/* Several workers share the socket: losing the race is normal. */
	fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			log_warn("accept on %s", a->l->addr.text);
		return;
	}
	/* Replies go out as soon as they are written: without this, a
	 * reply over one segment waits for the client's delayed ACK. */
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	a->w->nconns++;
	proto_accept[services[a->l->svc].proto](a->w, a->l, fd,
	    (struct sockaddr *)&ss, sslen);
}

void
worker_conn_closed(struct worker *w)
{
	ASSERT(w->nconns > 0);
	w->nconns--;
	if (w->stopping && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

void
worker_conn_track(struct worker *w, struct worker_conn *c,
    void (*stop)(struct worker_conn *c))
{
	c->stop = stop;
	c->prev = NULL;
	c->next = w->tracked;
	if (w->tracked != NULL)
		w->tracked->prev = c;
	w->tracked = c;
	if (w->stopping)
		c->stop(c);
}

void
worker_conn_untrack(struct worker *w, struct worker_conn *c)
{
	if (c->stop == NULL)
		return;		/* never tracked */
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->tracked = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->stop = NULL;
}

static void
on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_conn *c, *next;
	size_t i;

	if (w->stopping)
		return;
	w->stopping = true;
	for (i = 0; i < naccepts; i++)
		event_del(accepts[i].ev);
	for (c = w->tracked; c != NULL; c = next) {
		next = c->next;
		c->stop(c);
	}
	if (w->nconns == 0)
		event_base_loopexit(w->base, NULL);
	else
		event_base_loopexit(w->base,
		    &(struct timeval){ WORKER_DRAIN_SECS, 0 });
}

/* Thousands of idle IMAP connections need more descriptors than the
 * usual soft limit of 1024: take what the hard limit allows. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

int
worker_main(const struct config *cfg, const struct listener_set *ls,
    SSL_CTX *tls, struct peertab *peers, unsigned slot)
{
	struct worker w = { .cfg = cfg, .tls = tls, .peers = peers,
	    .slot = slot };
	struct event *sigterm;
	size_t i;

	log_set_role("worker");
	prctl(PR_SET_NAME, "postie-worker");
	raise_nofile();
	if ((w.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	w.offload = offload_new(w.base, (unsigned)cfg->offload_threads,
	    dir_thread_init, dir_thread_deinit, (void *)cfg);
	sigterm = evsignal_new(w.base, SIGTERM, on_sigterm, &w);
	if (sigterm == NULL || event_add(sigterm, NULL) == -1)
		fatalx("cannot install the signal handler");

	naccepts = ls->n;
	accepts = xcalloc(ls->n, sizeof(*accepts));
	for (i = 0; i < ls->n; i++) {
		accepts[i].w = &w;
		accepts[i].l = &ls->v[i];
		accepts[i].ev = event_new(w.base, ls->v[i].fd,
		    EV_READ | EV_PERSIST, on_accept, &accepts[i]);
		if (accepts[i].ev == NULL || event_add(accepts[i].ev, NULL) == -1)
			fatalx("cannot watch listener %s", ls->v[i].addr.text);
	}
	log_debug(LOG_CAT_MAIN, "worker %u serving %zu listeners", slot, ls->n);

	event_base_dispatch(w.base);

	for (i = 0; i < naccepts; i++)
		event_free(accepts[i].ev);
	xfree(&accepts);
	event_free(sigterm);
	offload_free(&w.offload);
	event_base_free(w.base);
	return 0;
}
