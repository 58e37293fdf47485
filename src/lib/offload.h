/* offload: a small pool of threads for blocking work (password hashing,
 * database queries, fsync batches). A job's work function runs on a pool
 * thread with that thread's own context (e.g. its directory handle); its
 * done function then runs on the event loop thread. Work functions never
 * touch loop state. */
#ifndef POSTIE_OFFLOAD_H
#define POSTIE_OFFLOAD_H

struct event_base;
struct offload;

/* Runs on a pool thread; thread_ctx is what thread_init returned. */
typedef void (*offload_work_fn)(void *thread_ctx, void *arg);
/* Runs on the loop thread after the work. */
typedef void (*offload_done_fn)(void *arg);
/* Per-thread set-up and tear-down, on the thread itself (may be NULL). */
typedef void *(*offload_thread_init_fn)(void *ctx);
typedef void (*offload_thread_deinit_fn)(void *thread_ctx);

struct offload	*offload_new(struct event_base *base, unsigned nthreads,
		    offload_thread_init_fn init, offload_thread_deinit_fn deinit,
		    void *ctx);
/* Waits for queued work to finish; pending done callbacks are dropped. */
void		 offload_free(struct offload **op);
void		 offload_submit(struct offload *o, offload_work_fn work,
		    offload_done_fn done, void *arg);
/* Jobs submitted and not yet completed on the loop (for tests/metrics). */
unsigned	 offload_pending(const struct offload *o);

#endif
