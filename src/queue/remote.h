/* remote: delivery to other servers, on the queue manager's event loop.
 *
 * The queue manager hands over the remote recipients of one message at a
 * time (remote_deliver). Each recipient's domain is routed (route.h: the
 * transport map, else the relay host, else the domain's MX hosts), and
 * recipients with the same route form one destination. A destination
 * resolves its hosts once (c-ares, lib/dns.h; MX order and backup-MX rules
 * of lib/mx.h), keeps a queue of transactions (at most REMOTE_RCPTS_MAX
 * recipients each) and opens connections to serve it: at most one being
 * set up at a time (so a dead host costs one timeout, not twenty), at most
 * smtp_destination_concurrency_limit open, smtp_concurrency_limit in all.
 * A connection tries the destination's addresses in order until one
 * greets; it sends transaction after transaction, and waits
 * REMOTE_IDLE_SECS for more before it says QUIT (connection reuse).
 *
 * When no address of a destination can be reached, its queued
 * transactions are deferred with the last error, and so is new mail for
 * it during REMOTE_DEAD_SECS (remote_flush() forgets that). Per-recipient
 * outcomes: 2xx sent, 4xx deferred, 5xx failed, each with the remote
 * reply and who gave it in the text.
 *
 * Ownership: the caller owns the message and its strings until done runs
 * (always from its own loop iteration, exactly once per remote_deliver);
 * result strings are allocated from msg->pool, which is used only on the
 * loop meanwhile. */
#ifndef POSTIE_REMOTE_H
#define POSTIE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/conf.h"

struct event_base;
struct pool;
struct remote;
struct route_map;

#define REMOTE_RCPTS_MAX	50	/* recipients per transaction */
#define REMOTE_TARGETS_MAX	10	/* addresses tried per connection */
#define REMOTE_MX_HOSTS_MAX	10	/* MX hosts resolved */
#define REMOTE_IDLE_SECS	2	/* an idle connection waits for more */
#define REMOTE_DEAD_SECS	60	/* an unreachable destination rests */
#define REMOTE_CACHE_SECS	300	/* a destination's resolved hosts */

enum remote_outcome {
	REMOTE_SENT,
	REMOTE_DEFERRED,
	REMOTE_FAILED,
};

struct remote_rcpt {
	/* in */
	size_t		 idx;		/* the caller's: envelope recipient */
	const char	*address;
	const char	*notify;	/* DSN NOTIFY or NULL */
	const char	*orcpt;		/* "type;addr" or NULL */
	/* out */
	enum remote_outcome outcome;
	bool		 relayed;	/* the peer had no DSN: RFC 3461 */
	const char	*status;	/* "2.0.0", "4.4.1", "5.1.1" */
	const char	*text;		/* reply and where it came from */
	const char	*relay;		/* "host[addr]:port" or "none" */
};

struct remote_msg {
	const char		*id;		/* queue ID, for logs */
	struct pool		*pool;
	int			 fd;		/* the queue file */
	off_t			 offset;	/* of the content */
	uint64_t		 size;
	time_t			 arrival;
	const char		*sender;	/* "" for <> */
	const char		*envid;
	const char		*ret;
	const char		*body;
	bool			 smtputf8;
	struct remote_rcpt	*rcpts;
	size_t			 nrcpts;
	void			(*done)(struct remote_msg *m, void *arg);
	/* Optional: each recipient as it is sent (before done). */
	void			(*sent)(struct remote_msg *m, size_t i,
				    void *arg);
	void			*arg;
	/* the module's */
	struct remote		*owner;
	size_t			 unfinished;	/* transactions */
};

/* NULL (logged) only when nothing can be delivered at all. */
struct remote	*remote_new(struct event_base *base,
		    const struct config *cfg);
/* Cancels everything: each message in progress gets its done call with
 * its unfinished recipients deferred ("shutting down"), before return. */
void		 remote_free(struct remote **r);

void		 remote_deliver(struct remote *r, struct remote_msg *m);
/* Forget unreachable destinations (postie queue flush). */
void		 remote_flush(struct remote *r);
/* Open connections and transactions waiting (for tests, logs). */
unsigned	 remote_connections(const struct remote *r);

#endif
