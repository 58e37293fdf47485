/* qmgr-private: what the queue manager's files share. */
#ifndef POSTIE_QMGR_PRIVATE_H
#define POSTIE_QMGR_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/conf.h"
#include "queue/queue.h"

struct attempt;
struct remote_msg;

/* One message to deliver, from active/. Filled on the loop, run on an
 * offload thread (qmgr_deliver), then handed back. When it has remote
 * recipients, job->remote is set: the loop sends them (remote.h), then
 * qmgr_deliver_finish() records their outcomes on a thread. */
struct qmgr_job {
	void			*owner;		/* the manager (loop only) */
	const struct config	*cfg;		/* borrowed */
	const char		*queue_dir;	/* borrowed */
	char			 id[QUEUE_ID_LEN + 1];
	/* results */
	bool			 deferred;	/* moved to deferred/ */
	bool			 corrupt;	/* moved to corrupt/ */
	struct attempt		*attempt;	/* between the halves */
	struct remote_msg	*remote;	/* remote recipients wait */
};

/* deliver.c, on an offload thread: deliver what can be delivered, then
 * remove the message, or move it to deferred/ (or corrupt/). */
void	qmgr_deliver(void *thread_ctx, void *arg);
/* After remote delivery (job->remote done), on an offload thread: record
 * the outcomes, then as qmgr_deliver. job->remote is NULL after. */
void	qmgr_deliver_finish(void *thread_ctx, void *arg);
/* On the loop, as each remote recipient is sent: remember it at once, so
 * that a crash before qmgr_deliver_finish() does not send it again. */
void	qmgr_remote_sent(struct remote_msg *m, size_t i, void *arg);
/* Shutting down between the halves: drop the attempt; the message stays
 * in active/ for the next start. */
void	qmgr_deliver_abandon(struct qmgr_job *job);

/* pickup.c, on an offload thread: turn maildrop/ files into queue files
 * in incoming/; returns how many were queued. */
unsigned qmgr_pickup(const struct config *cfg, const char *queue_dir);

#endif
