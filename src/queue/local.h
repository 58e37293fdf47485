/* local: delivery of one message to one local target, the only local
 * delivery there is. The queue manager (deliver.c) and the LMTP server
 * (smtp/lmtp.c) both call it, on offload threads: it blocks (directory
 * lookup, write, fsync).
 *
 * What it does for a target: refuse a message whose header section already
 * has "Delivered-To: <target>" (a loop), look the user up (unknown or
 * inactive: failed; directory down: deferred), put "Return-Path: <sender>"
 * and "Delivered-To: <user>" first, and write the message into the user's
 * Maildir through maildir_deliver() (tmp/, fsync, rename into new/, fsync
 * new/), with the user's quota. A success is durable when it returns. */
#ifndef POSTIE_LOCAL_H
#define POSTIE_LOCAL_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "directory/dir.h"
#include "lib/conf.h"
#include "lib/pool.h"

enum local_result {
	LOCAL_DELIVERED,
	LOCAL_DEFERRED,		/* try again later: status 4.x.x */
	LOCAL_FAILED,		/* never: status 5.x.x */
};

/* The message: size octets at offset in fd, as received (with the
 * receiver's Received header). */
struct local_msg {
	const char	*id;		/* queue or LMTP ID, for the log */
	int		 fd;
	off_t		 offset;
	uint64_t	 size;
	const char	*sender;	/* "" for <> */
	const char	*headers;	/* from local_read_headers() */
	time_t		 arrival;
	/* maildir_deliver()'s hook (see maildir.h); may be NULL. */
	void		(*before_rename)(void *ctx, const char *path);
	void		*ctx;
};

/* The header section of the message, lower-cased, for the loop check (at
 * most the first 256 KiB). From pool. */
char	*local_read_headers(int fd, off_t offset, uint64_t size,
	    struct pool *pool);

/* Deliver m to the mailbox target t (a DIR_TARGET_MAILBOX of the
 * resolution of orig_to). On anything but LOCAL_DELIVERED, *status_r (an
 * RFC 3463 code) and *text_r (from pool) say why. Logs the delivery. */
enum local_result local_deliver(struct dir *dir, const struct config *cfg,
	    const struct local_msg *m, const struct dir_target *t,
	    const char *orig_to, struct pool *pool, const char **status_r,
	    const char **text_r);

#endif
