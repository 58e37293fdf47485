/* queue: the durable hand-over point between receiving and delivering.
 *
 * Layout under <data_dir>/queue:
 *   tmp/       files being written (never looked at by the queue manager
 *              except to delete leftovers older than a day)
 *   incoming/  complete, fsync'ed messages not yet seen by the manager
 *   active/    taken by the manager, being delivered
 *   deferred/  waiting for a retry; a file's mtime is its next attempt
 *   hold/      set aside by an admin (`postie queue hold`)
 *   corrupt/   unreadable queue files, kept for a person to look at
 *   bounce/ defer/  per-message logs of recipient outcomes (bounce.h)
 *   done/      targets of multi-target recipients already delivered
 *   maildrop/  mode 1733: `postie sendmail` drops messages here, even when
 *              the server is down; the manager validates and queues them
 *   qmgr.fifo  writing 'W' (new mail) or 'F' (flush deferred) wakes the
 *              queue manager; best effort, a periodic scan catches up
 *
 * A queue file holds the envelope (text records, one per line, ending with
 * an empty line) followed by the message exactly as received (CRLF line
 * ends). Its name is the queue ID. The file is written in tmp/, fsync'ed,
 * renamed into incoming/, and incoming/ is fsync'ed; only then may the
 * receiver say 250. Directory fsyncs are shared by concurrent commits in a
 * process (group commit).
 *
 * Envelope records (version 1):
 *   V 1                 format version, first line
 *   I <queue id>
 *   T <arrival, seconds since the epoch>
 *   S <sender>          empty for the null sender <>
 *   R <recipient>       one per recipient, in RCPT order
 *   N <notify>          DSN NOTIFY of the preceding R (NEVER or a list)
 *   O <orcpt>           DSN ORCPT of the preceding R (type;decoded-value)
 *   E <envid>           DSN ENVID
 *   D <ret>             DSN RET: FULL or HDRS
 *   B <body>            7BIT, 8BITMIME or BINARYMIME
 *   U                   SMTPUTF8 requested
 *   C <client address>  H <helo name>  A <authenticated user>
 *   P <protocol>        SMTP, ESMTP, ESMTPS, ESMTPSA, LMTP, LOCAL
 *   K <kind>            "bounce" or "2bounce" for postie's own notices
 * A recipient record becomes "X <recipient>" once it is done (delivered,
 * bounced or dropped): see envelope.h.
 * Values are printable; a value with CR, LF or NUL is refused. */
#ifndef POSTIE_QUEUE_H
#define POSTIE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/conf.h"

#define QUEUE_ID_LEN	16

struct queue_rcpt {
	const char	*address;	/* borrowed */
	const char	*notify;	/* NULL: not given */
	const char	*orcpt;		/* NULL: not given */
};

struct queue_envelope {
	const char		*sender;	/* "" for <> */
	const struct queue_rcpt	*rcpts;
	size_t			 nrcpts;
	const char		*envid;
	const char		*ret;
	const char		*body;
	bool			 smtputf8;
	const char		*client;
	const char		*helo;
	const char		*auth_user;
	const char		*protocol;
	const char		*kind;		/* NULL, "bounce", "2bounce" */
};

struct queue_file;

/* Create the queue directories when missing. */
int	queue_init_dirs(const char *queue_dir, const char **error_r)
	    __attribute__((warn_unused_result));

/* Start a new queue file in tmp/ and write the envelope. Blocking (small
 * write, no fsync). */
int	queue_file_create(const char *queue_dir, const struct queue_envelope *env,
	    struct queue_file **qf_r, const char **error_r)
	    __attribute__((warn_unused_result));
const char *queue_file_id(const struct queue_file *qf);
/* Append message bytes (buffered; blocking when the buffer flushes). */
int	queue_file_write(struct queue_file *qf, const void *data, size_t len)
	    __attribute__((warn_unused_result));
uint64_t queue_file_size(const struct queue_file *qf);
/* Flush, fsync, rename into incoming/, fsync incoming/ (shared with other
 * commits). Blocking: run it on an offload thread. Frees qf either way;
 * on failure nothing is left behind and *error_r says why (ENOSPC gives
 * "disk full"). */
int	queue_file_commit(struct queue_file **qf, const char **error_r)
	    __attribute__((warn_unused_result));
/* Drop the file being written. */
void	queue_file_abort(struct queue_file **qf);

/* Wake the queue manager ('W' new mail, 'F' retry deferred now). Never
 * blocks, never fails: without a reader the scan timer catches up. */
void	queue_notify(const char *queue_dir, char what);

/* A queue ID as the manager names files: QUEUE_ID_LEN hex digits. */
bool	queue_valid_id(const char *id);

/* For tests and benchmarks: how many directory fsyncs were done. */
uint64_t queue_dir_syncs(void);

#endif
