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

struct worker {
	struct event_base	*base;
	const struct config	*cfg;		/* borrowed from the master */
	SSL_CTX			*tls;		/* borrowed from the master */
	struct offload		*offload;
	struct peertab		*peers;		/* shared, from the master */
	unsigned		 slot;
	unsigned		 nconns;	/* open client connections */
	bool			 stopping;
};

/* A protocol module takes over an accepted, non-blocking socket; with
 * implicit TLS it must complete the handshake first. It calls
 * worker_conn_closed() when the connection is gone. */
typedef void (*worker_accept_fn)(struct worker *w, const struct listener *l,
    int fd, const struct sockaddr *peer, socklen_t peerlen);

void	worker_conn_closed(struct worker *w);

/* Process entry points (they return the exit status). */
int	worker_main(const struct config *cfg, const struct listener_set *ls,
	    SSL_CTX *tls, struct peertab *peers, unsigned slot);
int	qmgr_main(const struct config *cfg);

#endif
