/* worker: a protocol worker process. One event loop serves every listener;
 * each accepted connection is handed to its protocol module. */
#ifndef POSTIE_WORKER_H
#define POSTIE_WORKER_H

#include <sys/socket.h>

#include <openssl/ssl.h>

#include "lib/conf.h"
#include "master/listen.h"

struct event_base;
struct offload;
struct peertab;

/* A long-lived connection the worker asks to end when it stops: IMAP
 * sessions, which would otherwise idle through the drain and then lose
 * their connection without a word. */
struct worker_conn {
	struct worker_conn	*prev;
	struct worker_conn	*next;
	void			(*stop)(struct worker_conn *c);
};

struct worker {
	struct event_base	*base;
	const struct config	*cfg;		/* borrowed from the master */
	SSL_CTX			*tls;		/* borrowed from the master */
	struct offload		*offload;
	struct peertab		*peers;		/* shared, from the master */
	unsigned		 slot;
	unsigned		 nconns;	/* open client connections */
	struct worker_conn	*tracked;	/* told when stopping */
	bool			 stopping;
};

/* A protocol module takes over an accepted, non-blocking socket; with
 * implicit TLS it must complete the handshake first. It calls
 * worker_conn_closed() when the connection is gone. */
typedef void (*worker_accept_fn)(struct worker *w, const struct listener *l,
    int fd, const struct sockaddr *peer, socklen_t peerlen);

void	worker_conn_closed(struct worker *w);

/* Have c->stop(c) called when the worker stops (at once when it already
 * is), until worker_conn_untrack(). stop must not free other tracked
 * connections. */
void	worker_conn_track(struct worker *w, struct worker_conn *c,
	    void (*stop)(struct worker_conn *c));
void	worker_conn_untrack(struct worker *w, struct worker_conn *c);

/* Process entry points (they return the exit status). */
int	worker_main(const struct config *cfg, const struct listener_set *ls,
	    SSL_CTX *tls, struct peertab *peers, unsigned slot);
int	qmgr_main(const struct config *cfg);

#endif
