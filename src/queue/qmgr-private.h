/* qmgr-private: what the queue manager's files share. */
#ifndef POSTIE_QMGR_PRIVATE_H
#define POSTIE_QMGR_PRIVATE_H

#include <stdbool.h>

#include "lib/conf.h"
#include "queue/queue.h"

/* One message to deliver, from active/. Filled on the loop, run on an
 * offload thread (qmgr_deliver), then handed back (qmgr_delivered). */
struct qmgr_job {
	void			*owner;		/* the manager (loop only) */
	const struct config	*cfg;		/* borrowed */
	const char		*queue_dir;	/* borrowed */
	char			 id[QUEUE_ID_LEN + 1];
	/* results */
	bool			 deferred;	/* moved to deferred/ */
	bool			 corrupt;	/* moved to corrupt/ */
};

/* deliver.c, on an offload thread: deliver what can be delivered, then
 * remove the message, or move it to deferred/ (or corrupt/). */
void	qmgr_deliver(void *thread_ctx, void *arg);

/* pickup.c, on an offload thread: turn maildrop/ files into queue files
 * in incoming/; returns how many were queued. */
unsigned qmgr_pickup(const struct config *cfg, const char *queue_dir);

#endif
