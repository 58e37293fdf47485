/* offload: thread pool whose completions come back to a libevent loop.
 * Jobs wait in a FIFO guarded by a mutex; finished jobs move to a second
 * FIFO and an eventfd wakes the loop, which runs their done callbacks. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/offload.h"
#include "lib/xalloc.h"

struct offload_job {
	struct offload_job	*next;
	offload_work_fn		 work;
	offload_done_fn		 done;
	void			*arg;
};

struct job_fifo {
	struct offload_job	*head;
	struct offload_job	*tail;
};

struct offload {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct job_fifo		 todo;
	struct job_fifo		 finished;
	bool			 stopping;
	pthread_t		*threads;
	unsigned		 nthreads;
	unsigned		 pending;	/* loop thread only */
	int			 efd;
	struct event		*ev;
	offload_thread_init_fn	 thread_init;
	offload_thread_deinit_fn thread_deinit;
	void			*ctx;
};

static void		 fifo_push(struct job_fifo *f, struct offload_job *j);
static struct offload_job *fifo_pop(struct job_fifo *f);
static void		*thread_main(void *arg);
static void		 on_wakeup(evutil_socket_t fd, short what, void *arg);

static void
fifo_push(struct job_fifo *f, struct offload_job *j)
{
	j->next = NULL;
	if (f->tail != NULL)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
}

static struct offload_job *
fifo_pop(struct job_fifo *f)
{
	struct offload_job *j = f->head;

	if (j != NULL) {
		f->head = j->next;
		if (f->head == NULL)
			f->tail = NULL;
	}
	return j;
}

static void *
thread_main(void *arg)
{
	struct offload *o = arg;
	struct offload_job *j;
	void *tctx = o->thread_init != NULL ? o->thread_init(o->ctx) : NULL;
	uint64_t one = 1;

	for (;;) {
		pthread_mutex_lock(&o->lock);
		while ((j = fifo_pop(&o->todo)) == NULL && !o->stopping)
			pthread_cond_wait(&o->cond, &o->lock);
		pthread_mutex_unlock(&o->lock);
		if (j == NULL)
			break;
		j->work(tctx, j->arg);
		pthread_mutex_lock(&o->lock);
		fifo_push(&o->finished, j);
		pthread_mutex_unlock(&o->lock);
		if (write(o->efd, &one, sizeof(one)) != sizeof(one) &&
		    errno != EAGAIN)
			fatal("offload: eventfd write");
	}
	if (o->thread_deinit != NULL)
		o->thread_deinit(tctx);
	return NULL;
}

static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct offload *o = arg;
	struct job_fifo done;
	struct offload_job *j;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		fatal("offload: eventfd read");
	pthread_mutex_lock(&o->lock);
	done = o->finished;
	o->finished.head = o->finished.tail = NULL;
	pthread_mutex_unlock(&o->lock);
	while ((j = fifo_pop(&done)) != NULL) {
		o->pending--;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

struct offload *
offload_new(struct event_base *base, unsigned nthreads,
    offload_thread_init_fn init, offload_thread_deinit_fn deinit, void *ctx)
{
	struct offload *o = xmalloc(sizeof(*o));
	unsigned i;

	ASSERT(nthreads > 0);
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->thread_init = init;
	o->thread_deinit = deinit;
	o->ctx = ctx;
	if ((o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("offload: eventfd");
	o->ev = event_new(base, o->efd, EV_READ | EV_PERSIST, on_wakeup, o);
	if (o->ev == NULL || event_add(o->ev, NULL) == -1)
		fatalx("offload: cannot add event");
	o->threads = xcalloc(nthreads, sizeof(*o->threads));
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&o->threads[i], NULL, thread_main, o) != 0)
			fatalx("offload: cannot start thread");
	o->nthreads = nthreads;
	return o;
}

void
offload_free(struct offload **op)
{
	struct offload *o = *op;
	struct offload_job *j;
	unsigned i;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	for (i = 0; i < o->nthreads; i++)
		pthread_join(o->threads[i], NULL);
	while ((j = fifo_pop(&o->todo)) != NULL)
		free(j);
	while ((j = fifo_pop(&o->finished)) != NULL)
		free(j);
	event_free(o->ev);
	close(o->efd);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o->threads);
	free(o);
	*op = NULL;
}

void
offload_submit(struct offload *o, offload_work_fn work, offload_done_fn done,
    void *arg)
{
	struct offload_job *j = xmalloc(sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	o->pending++;
	pthread_mutex_lock(&o->lock);
	fifo_push(&o->todo, j);
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

unsigned
offload_pending(const struct offload *o)
{
	return o->pending;
}
