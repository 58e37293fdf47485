/* remote-private: what the files of remote delivery share (remote.c:
 * messages, routing and destinations; remote-resolve.c: a destination's
 * addresses; remote-conn.c: connections). See remote.h. */
#ifndef POSTIE_REMOTE_PRIVATE_H
#define POSTIE_REMOTE_PRIVATE_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "lib/dns.h"
#include "queue/remote.h"
#include "queue/route.h"

struct event;
struct smtp_client;

#define DEST_BUCKETS	256

struct target {
	char			 host[DNS_NAME_MAX + 1];
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

/* One transaction: up to REMOTE_RCPTS_MAX recipients of one message. */
struct xact {
	TAILQ_ENTRY(xact)	 entry;
	struct remote_msg	*msg;
	size_t			 rcpts[REMOTE_RCPTS_MAX];	/* indices */
	size_t			 n;
};
TAILQ_HEAD(xact_list, xact);

enum resolve_state {
	RES_NONE,
	RES_RUNNING,
	RES_DONE,
};

struct dest {
	struct dest		*next;		/* hash chain */
	struct remote		*r;
	struct pool		*pool;
	char			*key;
	/* the route, copied */
	enum route_kind		 kind;
	char			*host;		/* name, address or NULL */
	bool			 mx;
	uint16_t		 port;
	char			*unix_path;
	enum route_tls		 tls;
	bool			 auth;		/* relay host credentials */

	struct xact_list	 queue;
	size_t			 nqueued;
	TAILQ_HEAD(, conn)	 conns;
	unsigned		 nconns;
	unsigned		 nconnecting;

	/* addresses (remote-resolve.c) */
	enum resolve_state	 res;
	time_t			 resolved_at;
	struct target		*targets;
	size_t			 ntargets;
	enum remote_outcome	 res_outcome;	/* SENT: usable */
	char			 res_status[12];
	char			*res_text;	/* from pool */
	struct dns_query	*mx_query;
	struct resolve_host	*hosts;
	size_t			 nhosts;
	size_t			 hosts_pending;

	/* after every address failed */
	time_t			 dead_until;
	enum remote_outcome	 dead_outcome;
	char			 dead_status[12];
	char			 dead_text[512];
};

struct remote {
	struct event_base	*base;
	const struct config	*cfg;		/* borrowed */
	struct dns		*dns;
	SSL_CTX			*ssl_ctx;	/* NULL: no TLS possible */
	struct dest		*dests[DEST_BUCKETS];
	unsigned		 nconns;
	struct event		*sweep_ev;
	bool			 closing;	/* in remote_free() */
	/* transport map, re-read when the file changes */
	char			*map_path;	/* NULL: none */
	struct pool		*map_pool;
	struct route_map	*map;
	time_t			 map_mtime;
	long			 map_mtime_ns;
	off_t			 map_size;
	ino_t			 map_ino;
	struct timespec		 map_checked;	/* monotonic */
	/* relay host */
	struct pool		*pool;
	struct route		 relay;
	bool			 have_relay;
	const char		*self[32];	/* names of this host for MX */
	size_t			 nself;
};

/* remote.c */
void	remote__kick(struct dest *d);
/* Give every transaction waiting at d this outcome. */
void	remote__settle_queue(struct dest *d, enum remote_outcome o,
	    const char *status, const char *text);
/* One recipient's result; finishes the message when it was the last. */
void	remote__rcpt_result(struct remote_msg *m, size_t i,
	    enum remote_outcome o, const char *status, const char *text,
	    const char *relay, bool relayed);
void	remote__xact_done(struct xact *x);
/* Another connection may open now: look at every waiting destination. */
void	remote__kick_all(struct remote *r);

/* remote-resolve.c */
void	remote__resolve(struct dest *d);
void	remote__resolve_cancel(struct dest *d);

/* remote-conn.c */
void	remote__conn_open(struct dest *d);
/* Hand the next queued transaction to an idle connection; false if
 * there is none idle. */
bool	remote__conn_take(struct dest *d);
void	remote__conn_close_all(struct dest *d);

#endif
