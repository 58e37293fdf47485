/* bounce: delivery status notifications (RFC 3464) and the per-message
 * logs they are made from.
 *
 * While a message is in the queue, the outcome of each recipient that the
 * sender must hear about is appended to queue/bounce/<ID> (failed, or
 * delivered when NOTIFY=SUCCESS asked for it), and the last reason a
 * recipient was deferred to queue/defer/<ID> (for `postie queue list` and
 * delay warnings). Each line is "<rcpt index> <action> <status> <text>",
 * text being one line. When every recipient is done, bounce_send() turns
 * the bounce log into one DSN message, queued like any other (null sender,
 * From MAILER-DAEMON), and the caller removes the logs with the message.
 *
 * A DSN is never sent for a message with a null sender: a failed bounce
 * goes to the postmaster once, as a "2bounce", and a failed 2bounce is
 * dropped (logged). */
#ifndef POSTIE_BOUNCE_H
#define POSTIE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/conf.h"
#include "queue/envelope.h"

enum bounce_action {
	BOUNCE_FAILED,
	BOUNCE_DELAYED,
	BOUNCE_DELIVERED,
	BOUNCE_RELAYED,		/* to a server without DSN (RFC 3461 5.2.2) */
};

struct bounce_entry {
	size_t			 rcpt;		/* index in the envelope */
	enum bounce_action	 action;
	const char		*status;	/* "5.1.1" */
	const char		*text;		/* diagnostic, one line */
};

/* Append to queue/bounce/<id> (log "bounce") or queue/defer/<id> (log
 * "defer"). The bounce log is fdatasync'ed; the defer log, only the latest
 * reasons, is not. */
int	bounce_log_append(const char *queue_dir, const char *log,
	    const char *id, const struct bounce_entry *e, const char **error_r)
	    __attribute__((warn_unused_result));
/* Read a log; missing is empty. Strings from the pool. */
int	bounce_log_read(const char *queue_dir, const char *log, const char *id,
	    struct pool *pool, struct bounce_entry **entries_r, size_t *n_r,
	    const char **error_r) __attribute__((warn_unused_result));
void	bounce_log_remove(const char *queue_dir, const char *id);

/*
 * Queue the DSN for a message from the entries given (only those the
 * recipients' NOTIFY allows are reported; nothing to report: nothing is
 * queued and *id_r is ""). msg_fd is the original queue file, for the
 * returned content (RET=HDRS: headers; FULL: whole; default: whole up to
 * cfg->bounce_size_limit, else headers). The new message's ID goes to
 * id_r (QUEUE_ID_LEN + 1). Blocking.
 */
int	bounce_send(const struct config *cfg, const char *queue_dir,
	    const struct envelope *env, int msg_fd,
	    const struct bounce_entry *entries, size_t n, char *id_r,
	    const char **error_r) __attribute__((warn_unused_result));

#endif
