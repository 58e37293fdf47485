/* test-offload: jobs run on pool threads with their thread context and
 * complete on the loop thread, in any number, and freeing the pool waits
 * for queued work. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/offload.h"

#define NJOBS	2000

struct job {
	int		 input;
	int		 output;
	void		*seen_ctx;
	pthread_t	 worker;
};

struct state {
	struct event_base	*base;
	int			 done;
	int			 inits;
	pthread_mutex_t		 lock;
};

static struct state st;
static pthread_t loop_thread;

static void *
thread_init(void *ctx)
{
	struct state *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->inits++;
	pthread_mutex_unlock(&s->lock);
	return s;
}

static void
thread_deinit(void *tctx)
{
	(void)tctx;
}

static void
work(void *tctx, void *arg)
{
	struct job *j = arg;

	j->output = j->input * 2;
	j->seen_ctx = tctx;
	j->worker = pthread_self();
}

static void
done(void *arg)
{
	struct job *j = arg;

	/* Completions run on the loop thread, never on a worker. */
	assert_true(pthread_equal(pthread_self(), loop_thread));
	assert_false(pthread_equal(j->worker, loop_thread));
	if (++st.done == NJOBS)
		event_base_loopexit(st.base, NULL);
}

static void
test_every_job_completes_on_the_loop_thread(void **unused)
{
	struct offload *o;
	struct job *jobs = calloc(NJOBS, sizeof(*jobs));
	int i;

	(void)unused;
	pthread_mutex_init(&st.lock, NULL);
	loop_thread = pthread_self();
	st.base = event_base_new();
	o = offload_new(st.base, 4, thread_init, thread_deinit, &st);
	for (i = 0; i < NJOBS; i++) {
		jobs[i].input = i;
		offload_submit(o, work, done, &jobs[i]);
	}
	assert_int_equal(offload_pending(o), NJOBS);
	event_base_dispatch(st.base);
	assert_int_equal(st.done, NJOBS);
	assert_int_equal(offload_pending(o), 0);
	for (i = 0; i < NJOBS; i++) {
		assert_int_equal(jobs[i].output, 2 * i);
		assert_ptr_equal(jobs[i].seen_ctx, &st);
	}
	offload_free(&o);
	assert_null(o);
	/* Every thread ran its init (joined by offload_free). */
	assert_int_equal(st.inits, 4);
	event_base_free(st.base);
	free(jobs);
	pthread_mutex_destroy(&st.lock);
}

static void
test_free_waits_for_queued_work(void **unused)
{
	struct event_base *base = event_base_new();
	struct offload *o = offload_new(base, 1, NULL, NULL, NULL);
	struct job jobs[50] = { 0 };
	int i;

	(void)unused;
	for (i = 0; i < 50; i++) {
		jobs[i].input = i + 1;
		offload_submit(o, work, NULL, &jobs[i]);
	}
	offload_free(&o);
	for (i = 0; i < 50; i++)
		assert_int_equal(jobs[i].output, 2 * (i + 1));
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_completes_on_the_loop_thread),
		cmocka_unit_test(test_free_waits_for_queued_work),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
