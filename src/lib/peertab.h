/* peertab: per-client-address counters shared by every worker process.
 *
 * The master creates the table in shared memory before forking. Open
 * connections are counted per worker slot, so a worker that dies is simply
 * zeroed when its replacement starts and no count leaks. Failure counters
 * (AUTH brute force) are shared and expire after a window. Addresses are
 * hashed into PEERTAB_BUCKETS buckets; a collision can only make a limit
 * stricter, never looser. Connections are counted per class (SMTP, IMAP,
 * POP3), so thousands of idle IMAP sessions do not use up SMTP's limits;
 * the failure counters are shared by every protocol. */
#ifndef POSTIE_PEERTAB_H
#define POSTIE_PEERTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define PEERTAB_BUCKETS		4096
#define PEERTAB_MAX_SLOTS	256

struct peertab;

/* Which limits a connection counts against. */
enum peertab_class {
	PEERTAB_SMTP,		/* SMTP, submission, LMTP */
	PEERTAB_IMAP,
	PEERTAB_POP3,
	PEERTAB_CLASSES
};

struct peertab	*peertab_create(unsigned nslots);
void		 peertab_destroy(struct peertab **pt);
/* A new worker in slot forgets what its predecessor counted. */
void		 peertab_reset_slot(struct peertab *pt, unsigned slot);

/* Count a connection unless the address already has max_per_peer or the
 * server max_total; returns false (nothing counted) when over a limit. */
bool		 peertab_conn_enter(struct peertab *pt, unsigned slot,
		    const struct sockaddr *peer, unsigned max_per_peer,
		    unsigned max_total);
void		 peertab_conn_leave(struct peertab *pt, unsigned slot,
		    const struct sockaddr *peer);
unsigned	 peertab_conn_count(struct peertab *pt, const struct sockaddr *peer);
/* The same for one class (the three above count PEERTAB_SMTP). */
bool		 peertab_class_enter(struct peertab *pt, enum peertab_class cls,
		    unsigned slot, const struct sockaddr *peer,
		    unsigned max_per_peer, unsigned max_total);
void		 peertab_class_leave(struct peertab *pt, enum peertab_class cls,
		    unsigned slot, const struct sockaddr *peer);
unsigned	 peertab_class_count(struct peertab *pt, enum peertab_class cls,
		    const struct sockaddr *peer);

/* Record a failure; returns the failures of the address in the window. */
unsigned	 peertab_fail(struct peertab *pt, const struct sockaddr *peer,
		    time_t now, unsigned window_secs);
/* Failures of the address in the window (0 once it has passed). */
unsigned	 peertab_failures(struct peertab *pt, const struct sockaddr *peer,
		    time_t now, unsigned window_secs);

#endif
