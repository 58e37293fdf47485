/* test-queue: queue files are complete and durable only after commit, an
 * abort leaves nothing, bad envelope values are refused, and concurrent
 * commits share directory fsyncs. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/xalloc.h"
#include "queue/queue.h"

#define NTHREADS	8
#define PER_THREAD	25

static char qdir[256];

static int
count_files(const char *sub)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *data = xmalloc(1 << 20);
	size_t n;

	assert_non_null(fp);
	n = fread(data, 1, (1 << 20) - 1, fp);
	data[n] = '\0';
	fclose(fp);
	return data;
}

static int
setup(void **state)
{
	const char *error;

	(void)state;
	snprintf(qdir, sizeof(qdir), "/tmp/postie-test-queue-XXXXXX");
	assert_non_null(mkdtemp(qdir));
	assert_int_equal(queue_init_dirs(qdir, &error), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct queue_rcpt two_rcpts[] = {
	{ "a@example.org", "SUCCESS,FAILURE", "rfc822;a@example.org" },
	{ "b@example.net", NULL, NULL },
};

static void
test_committed_file_holds_envelope_then_message(void **state)
{
	struct queue_envelope env = {
		.sender = "s@example.com", .rcpts = two_rcpts, .nrcpts = 2,
		.envid = "xyz", .ret = "HDRS", .body = "8BITMIME",
		.smtputf8 = true, .client = "127.0.0.1", .helo = "client.test",
		.protocol = "ESMTP",
	};
	struct queue_file *qf;
	const char *error;
	char path[512], id[QUEUE_ID_LEN + 1], *data;

	(void)state;
	assert_int_equal(queue_file_create(qdir, &env, &qf, &error), 0);
	snprintf(id, sizeof(id), "%s", queue_file_id(qf));
	assert_int_equal(strlen(id), QUEUE_ID_LEN);
	assert_int_equal(queue_file_write(qf, "Subject: x\r\n\r\n", 14), 0);
	assert_int_equal(queue_file_write(qf, "body\r\n", 6), 0);
	assert_int_equal(queue_file_size(qf), 20);
	/* Not visible to the manager before the commit. */
	assert_int_equal(count_files("incoming"), 0);
	assert_int_equal(count_files("tmp"), 1);
	assert_int_equal(queue_file_commit(&qf, &error), 0);
	assert_null(qf);
	assert_int_equal(count_files("incoming"), 1);
	assert_int_equal(count_files("tmp"), 0);

	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	data = slurp(path);
	assert_non_null(strstr(data, "V 1\nI "));
	assert_non_null(strstr(data, "\nS s@example.com\nR a@example.org\n"
	    "N SUCCESS,FAILURE\nO rfc822;a@example.org\nR b@example.net\n"
	    "E xyz\nD HDRS\nB 8BITMIME\nU \nC 127.0.0.1\nH client.test\n"
	    "P ESMTP\n\nSubject: x\r\n\r\nbody\r\n"));
	free(data);
}

static void
test_abort_leaves_nothing_behind(void **state)
{
	struct queue_envelope env = { .sender = "", .rcpts = two_rcpts,
	    .nrcpts = 1 };
	struct queue_file *qf;
	const char *error;

	(void)state;
	assert_int_equal(queue_file_create(qdir, &env, &qf, &error), 0);
	assert_int_equal(queue_file_write(qf, "x\r\n", 3), 0);
	queue_file_abort(&qf);
	assert_null(qf);
	assert_int_equal(count_files("tmp"), 0);
	assert_int_equal(count_files("incoming"), 0);
}

static void
test_envelope_value_with_line_break_is_refused(void **state)
{
	struct queue_rcpt bad = { "a@example.org\nR evil@example.net", NULL,
	    NULL };
	struct queue_envelope env = { .sender = "", .rcpts = &bad,
	    .nrcpts = 1 };
	struct queue_file *qf = NULL;
	const char *error = NULL;

	(void)state;
	assert_int_equal(queue_file_create(qdir, &env, &qf, &error), -1);
	assert_null(qf);
	assert_non_null(error);
	assert_int_equal(count_files("tmp"), 0);
}

static void
test_large_message_is_written_whole(void **state)
{
	struct queue_envelope env = { .sender = "", .rcpts = two_rcpts,
	    .nrcpts = 1 };
	struct queue_file *qf;
	const char *error;
	char chunk[1000];
	int i;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(queue_file_create(qdir, &env, &qf, &error), 0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(queue_file_write(qf, chunk, sizeof(chunk)), 0);
	assert_int_equal(queue_file_size(qf), 3000000);
	assert_int_equal(queue_file_commit(&qf, &error), 0);
	assert_int_equal(count_files("incoming"), 1);
}

static void *
commit_many(void *arg)
{
	struct queue_envelope env = { .sender = "x@example.org",
	    .rcpts = two_rcpts, .nrcpts = 2 };
	struct queue_file *qf;
	const char *error;
	int i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++) {
		if (queue_file_create(qdir, &env, &qf, &error) == -1 ||
		    queue_file_write(qf, "a\r\n", 3) == -1 ||
		    queue_file_commit(&qf, &error) == -1)
			return (void *)1;
	}
	return NULL;
}

static void
test_concurrent_commits_all_land(void **state)
{
	pthread_t t[NTHREADS];
	uint64_t before = queue_dir_syncs();
	void *r;
	int i;

	(void)state;
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, commit_many, NULL), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
	assert_int_equal(count_files("incoming"), NTHREADS * PER_THREAD);
	assert_int_equal(count_files("tmp"), 0);
	/* At most one directory fsync per commit; how many are shared
	 * depends on timing, which bench/ measures. */
	assert_true(queue_dir_syncs() - before <= NTHREADS * PER_THREAD);
	assert_true(queue_dir_syncs() - before > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_committed_file_holds_envelope_then_message, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_abort_leaves_nothing_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_envelope_value_with_line_break_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_large_message_is_written_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_commits_all_land, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
