/* dir-thread: one directory handle per offload thread (SQLite connections
 * are per thread), opened on first use. Used as the thread context of the
 * offload pools of workers and the queue manager. */
#include <stdlib.h>

#include "directory/dir.h"
#include "lib/xalloc.h"

struct dir_thread {
	const struct config	*cfg;	/* borrowed */
	struct dir		*dir;
};

void *
dir_thread_init(void *cfg)
{
	struct dir_thread *t = xmalloc(sizeof(*t));

	t->cfg = cfg;
	return t;
}

void
dir_thread_deinit(void *thread_ctx)
{
	struct dir_thread *t = thread_ctx;

	dir_close(&t->dir);
	free(t);
}

struct dir *
dir_thread_get(void *thread_ctx, const char **error_r)
{
	struct dir_thread *t = thread_ctx;

	if (t->dir == NULL && dir_open(t->cfg, &t->dir, error_r) == -1)
		return NULL;
	return t->dir;
}
