/* test-envelope: queue/envelope.c. Envelopes written by queue_file_create()
 * read back with every record; X marks read as done; the end of the
 * envelope is found across read chunks; malformed files (bad version,
 * missing fields, N/O before R, unknown records, NUL or CR in a value, no
 * end, too many recipients, too large) are refused with a reason; and
 * envelope_mark_done() changes exactly one byte, durably, once.
 *
 * Well-formed files come from queue_file_create() in a temporary queue
 * directory; hand-made ones (what a local user may leave in maildrop/)
 * are written to a memfd. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "queue/envelope.h"
#include "queue/queue.h"

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

static char qdir[256];

static int	 setup(void **state);
static int	 teardown(void **state);
static int	 commit(const struct queue_envelope *qe, const char *msg,
		    char id_r[QUEUE_ID_LEN + 1]);
static int	 mem_fd(const void *data, size_t len);
static uint8_t	*file_bytes(int fd, size_t *len_r);
static void	 expect_error(const char *input, size_t len,
		    const char *error);
static void	 rcpt_file(struct buf *b, size_t n, const char *last);

static int
setup(void **state)
{
	const char *error;

	(void)state;
	snprintf(qdir, sizeof(qdir), "/tmp/postie-test-envelope-XXXXXX");
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

/* Queue a message; returns the committed file opened read-write. */
static int
commit(const struct queue_envelope *qe, const char *msg,
    char id_r[QUEUE_ID_LEN + 1])
{
	struct queue_file *qf;
	const char *error;
	char path[512];
	int fd;

	assert_int_equal(queue_file_create(qdir, qe, &qf, &error), 0);
	snprintf(id_r, QUEUE_ID_LEN + 1, "%s", queue_file_id(qf));
	assert_int_equal(queue_file_write(qf, msg, strlen(msg)), 0);
	assert_int_equal(queue_file_commit(&qf, &error), 0);
	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id_r);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd != -1);
	return fd;
}

static int
mem_fd(const void *data, size_t len)
{
	int fd = memfd_create("test-envelope", MFD_CLOEXEC);

	assert_true(fd != -1);
	assert_true(len == 0 || pwrite(fd, data, len, 0) == (ssize_t)len);
	return fd;
}

static uint8_t *
file_bytes(int fd, size_t *len_r)
{
	struct stat st;
	uint8_t *p;

	assert_int_equal(fstat(fd, &st), 0);
	p = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
	*len_r = (size_t)st.st_size;
	return p;
}

static void
expect_error(const char *input, size_t len, const char *error)
{
	struct pool *pool = pool_new(NULL);
	struct envelope env;
	const char *got = NULL;
	int fd = mem_fd(input, len);

	assert_int_equal(envelope_read(fd, pool, &env, &got), -1);
	assert_non_null(got);
	assert_string_equal(got, error);
	close(fd);
	pool_free(&pool);
}

static void
test_written_envelope_reads_back_with_every_record(void **state)
{
	static const struct queue_rcpt rcpts[] = {
		{ "a@example.org", "SUCCESS,FAILURE", "rfc822;a@example.org" },
		{ "b@example.net", NULL, NULL },
		{ "c@example.net", "NEVER", NULL },
		{ "d@example.net", NULL, "utf-8;d@example.net" },
	};
	const struct queue_envelope qe = {
		.sender = "s@example.com", .rcpts = rcpts, .nrcpts = 4,
		.envid = "env-1", .ret = "HDRS", .body = "8BITMIME",
		.smtputf8 = true, .client = "192.0.2.1", .helo = "client.test",
		.auth_user = "alice", .protocol = "ESMTPSA", .kind = "bounce",
	};
	const char *msg = "Subject: x\r\n\r\nbody\r\n", *error;
	struct pool *pool = pool_new(NULL);
	struct envelope env;
	char id[QUEUE_ID_LEN + 1];
	size_t len, i;
	uint8_t *bytes;
	time_t before = time(NULL);
	int fd;

	(void)state;
	fd = commit(&qe, msg, id);
	assert_int_equal(envelope_read(fd, pool, &env, &error), 0);
	assert_string_equal(env.id, id);
	assert_true(env.arrival >= before && env.arrival <= time(NULL));
	assert_string_equal(env.sender, "s@example.com");
	assert_int_equal(env.nrcpts, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(env.rcpts[i].address, rcpts[i].address);
		if (rcpts[i].notify == NULL)
			assert_null(env.rcpts[i].notify);
		else
			assert_string_equal(env.rcpts[i].notify,
			    rcpts[i].notify);
		if (rcpts[i].orcpt == NULL)
			assert_null(env.rcpts[i].orcpt);
		else
			assert_string_equal(env.rcpts[i].orcpt,
			    rcpts[i].orcpt);
		assert_false(env.rcpts[i].done);
	}
	assert_string_equal(env.envid, "env-1");
	assert_string_equal(env.ret, "HDRS");
	assert_string_equal(env.body, "8BITMIME");
	assert_true(env.smtputf8);
	assert_string_equal(env.client, "192.0.2.1");
	assert_string_equal(env.helo, "client.test");
	assert_string_equal(env.auth_user, "alice");
	assert_string_equal(env.protocol, "ESMTPSA");
	assert_string_equal(env.kind, "bounce");
	assert_int_equal(envelope_pending(&env), 4);

	/* The content is the message exactly; marks sit on 'R' bytes. */
	bytes = file_bytes(fd, &len);
	assert_int_equal(env.content_size, strlen(msg));
	assert_int_equal((size_t)env.content_offset + strlen(msg), len);
	assert_memory_equal(bytes + env.content_offset, msg, strlen(msg));
	assert_memory_equal(bytes + env.content_offset - 2, "\n\n", 2);
	for (i = 0; i < 4; i++) {
		assert_int_equal(bytes[env.rcpts[i].mark_offset], 'R');
		assert_int_equal(bytes[env.rcpts[i].mark_offset - 1], '\n');
	}
	free(bytes);
	close(fd);
	pool_free(&pool);
}

static void
test_null_sender_is_empty_and_optional_records_are_null(void **state)
{
	static const struct queue_rcpt rcpt = { "b@example.net", NULL, NULL };
	const struct queue_envelope qe = {
		.sender = "", .rcpts = &rcpt, .nrcpts = 1,
	};
	struct pool *pool = pool_new(NULL);
	struct envelope env;
	const char *error;
	char id[QUEUE_ID_LEN + 1];
	int fd;

	(void)state;
	fd = commit(&qe, "", id);
	assert_int_equal(envelope_read(fd, pool, &env, &error), 0);
	assert_string_equal(env.sender, "");
	assert_null(env.envid);
	assert_null(env.ret);
	assert_null(env.body);
	assert_false(env.smtputf8);
	assert_null(env.client);
	assert_null(env.helo);
	assert_null(env.auth_user);
	assert_null(env.protocol);
	assert_null(env.kind);
	assert_int_equal(env.content_size, 0);
	close(fd);
	pool_free(&pool);
}

static void
test_x_records_read_as_done_and_are_not_pending(void **state)
{
	static const char in[] = "V 1\nI 0123456789ABCDEF\nT 1700000000\n"
	    "S a@example.org\nX done@example.net\nN NEVER\n"
	    "R todo@example.net\nO rfc822;todo@example.net\n"
	    "X done2@example.net\n\nbody\r\n";
	struct pool *pool = pool_new(NULL);
	struct envelope env;
	const char *error;
	int fd = mem_fd(in, sizeof(in) - 1);

	(void)state;
	assert_int_equal(envelope_read(fd, pool, &env, &error), 0);
	assert_int_equal(env.arrival, 1700000000);
	assert_int_equal(env.nrcpts, 3);
	assert_true(env.rcpts[0].done);
	assert_string_equal(env.rcpts[0].address, "done@example.net");
	assert_string_equal(env.rcpts[0].notify, "NEVER");
	assert_false(env.rcpts[1].done);
	assert_string_equal(env.rcpts[1].orcpt, "rfc822;todo@example.net");
	assert_true(env.rcpts[2].done);
	assert_int_equal(envelope_pending(&env), 1);
	assert_int_equal(env.content_size, 6);
	close(fd);
	pool_free(&pool);
}

static void
test_mark_done_changes_one_byte_and_is_idempotent(void **state)
{
	static const struct queue_rcpt rcpts[] = {
		{ "a@example.org", NULL, NULL },
		{ "b@example.net", "FAILURE", NULL },
		{ "c@example.net", NULL, NULL },
	};
	const struct queue_envelope qe = {
		.sender = "s@example.com", .rcpts = rcpts, .nrcpts = 3,
	};
	struct pool *pool = pool_new(NULL);
	struct envelope env, again;
	const char *error;
	char id[QUEUE_ID_LEN + 1], path[512];
	uint8_t *before, *after;
	size_t len, len2, i, diffs = 0;
	off_t at;
	int fd;

	(void)state;
	fd = commit(&qe, "Subject: m\r\n\r\nR X\r\n", id);
	assert_int_equal(envelope_read(fd, pool, &env, &error), 0);
	before = file_bytes(fd, &len);
	at = env.rcpts[1].mark_offset;

	assert_int_equal(envelope_mark_done(fd, &env.rcpts[1], &error), 0);
	assert_true(env.rcpts[1].done);
	assert_int_equal(envelope_pending(&env), 2);
	after = file_bytes(fd, &len2);
	assert_int_equal(len, len2);
	for (i = 0; i < len; i++)
		if (before[i] != after[i])
			diffs++;
	assert_int_equal(diffs, 1);
	assert_int_equal(before[at], 'R');
	assert_int_equal(after[at], 'X');
	free(after);

	/* Again: nothing changes. */
	assert_int_equal(envelope_mark_done(fd, &env.rcpts[1], &error), 0);
	after = file_bytes(fd, &len2);
	assert_int_equal(len, len2);
	before[at] = 'X';
	assert_memory_equal(before, after, len);
	free(after);
	free(before);

	/* Read back: only that recipient is done, nothing else moved. */
	assert_int_equal(envelope_read(fd, pool, &again, &error), 0);
	assert_int_equal(again.nrcpts, 3);
	assert_false(again.rcpts[0].done);
	assert_true(again.rcpts[1].done);
	assert_false(again.rcpts[2].done);
	assert_string_equal(again.rcpts[1].address, "b@example.net");
	assert_string_equal(again.rcpts[1].notify, "FAILURE");
	assert_int_equal(again.rcpts[1].mark_offset, at);
	assert_int_equal(again.content_offset, env.content_offset);
	assert_int_equal(again.content_size, env.content_size);

	/* A recipient read as done is not written at all: a read-only
	 * descriptor would make any write fail. */
	close(fd);
	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(envelope_mark_done(fd, &again.rcpts[1], &error), 0);
	assert_int_equal(envelope_mark_done(fd, &again.rcpts[0], &error), -1);
	assert_false(again.rcpts[0].done);
	close(fd);
	pool_free(&pool);
}

/* The envelope end "\n\n" straddles the first 64 KiB read. */
static void
test_end_of_envelope_across_two_reads_is_found(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct envelope env;
	static const char head[] = "V 1\nI 0123456789ABCDEF\n"
	    "S a@example.org\nR b@example.net\nH ";
	struct buf b;
	const char *error;
	int fd;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append_str(&b, head), 0);
	while (b.len < 65535)
		assert_int_equal(buf_append(&b, "h", 1), 0);
	/* "\n" at 65535, "\n" at 65536. */
	assert_int_equal(buf_append_str(&b, "\n\nbody"), 0);
	fd = mem_fd(b.data, b.len);
	assert_int_equal(envelope_read(fd, pool, &env, &error), 0);
	assert_int_equal(env.content_offset, 65537);
	assert_int_equal(env.content_size, 4);
	assert_int_equal(strlen(env.helo), 65535 - (sizeof(head) - 1));
	close(fd);
	buf_deinit(&b);
	pool_free(&pool);
}

/* What a local user could leave in maildrop/: each is refused. */
static void
test_malformed_envelopes_are_refused(void **state)
{
	static const struct {
		const char	*name;
		const char	*input;
		size_t		 len;	/* 0: strlen */
		const char	*error;
	} cases[] = {
		{ "empty file", "", 0, "no end of envelope" },
		{ "no end of envelope",
		  "V 1\nI 0123456789ABCDEF\nS a@b.c\nR d@e.f\n", 0,
		  "no end of envelope" },
		{ "bad version", "V 2\nI 0123456789ABCDEF\nS a@b.c\n"
		  "R d@e.f\n\n", 0, "not a version 1 queue file" },
		{ "version not first", "I 0123456789ABCDEF\nV 1\nS a@b.c\n"
		  "R d@e.f\n\n", 0, "not a version 1 queue file" },
		{ "version only", "V 1\n\n", 0, "not a version 1 queue file" },
		{ "no id", "V 1\nS a@b.c\nR d@e.f\n\n", 0,
		  "envelope without id, sender or recipient" },
		{ "no sender", "V 1\nI 0123456789ABCDEF\nR d@e.f\n\n", 0,
		  "envelope without id, sender or recipient" },
		{ "no recipient", "V 1\nI 0123456789ABCDEF\nS a@b.c\n\n", 0,
		  "envelope without id, sender or recipient" },
		{ "N before R", "V 1\nI 0123456789ABCDEF\nS a@b.c\nN NEVER\n"
		  "R d@e.f\n\n", 0, "N or O record before any recipient" },
		{ "O before R", "V 1\nI 0123456789ABCDEF\nS a@b.c\n"
		  "O rfc822;d@e.f\nR d@e.f\n\n", 0,
		  "N or O record before any recipient" },
		{ "unknown record", "V 1\nI 0123456789ABCDEF\nS a@b.c\n"
		  "R d@e.f\nZ what\n\n", 0, "unknown envelope record" },
		{ "type without a space", "V 1\nI 0123456789ABCDEF\nS a@b.c\n"
		  "Rd@e.f\n\n", 0, "malformed envelope record" },
		{ "NUL in a value", "V 1\nI 0123456789ABCDEF\nS a@b\0.c\n"
		  "R d@e.f\n\n", 41, "malformed envelope record" },
		{ "CR in a value", "V 1\nI 0123456789ABCDEF\nS a@b.c\n"
		  "R d@e.f\r\n\n", 0, "malformed envelope record" },
		{ "time not a number", "V 1\nI 0123456789ABCDEF\nT soon\n"
		  "S a@b.c\nR d@e.f\n\n", 0, "bad arrival time" },
		{ "time out of range", "V 1\nI 0123456789ABCDEF\n"
		  "T 99999999999999999999999\nS a@b.c\nR d@e.f\n\n", 0,
		  "bad arrival time" },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len != 0 ? cases[i].len :
		    strlen(cases[i].input);
		print_message("%s\n", cases[i].name);
		expect_error(cases[i].input, len, cases[i].error);
	}
}

/* An envelope with n recipients "R x@y.z", then the record last. */
static void
rcpt_file(struct buf *b, size_t n, const char *last)
{
	size_t i;

	buf_init(b, ENVELOPE_MAX);
	assert_int_equal(buf_append_str(b, "V 1\nI 0123456789ABCDEF\n"
	    "S a@b.c\n"), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_append(b, "R x@y.z\n", 8), 0);
	assert_int_equal(buf_append_str(b, last), 0);
	assert_int_equal(buf_append(b, "\n", 1), 0);
}

static void
test_recipients_up_to_the_limit_are_read_and_more_refused(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct envelope env;
	const char *error;
	struct buf b;
	int fd;

	(void)state;
	rcpt_file(&b, ENVELOPE_RCPTS_MAX - 1, "X x@y.z\n");
	fd = mem_fd(b.data, b.len);
	assert_int_equal(envelope_read(fd, pool, &env, &error), 0);
	assert_int_equal(env.nrcpts, ENVELOPE_RCPTS_MAX);
	assert_true(env.rcpts[ENVELOPE_RCPTS_MAX - 1].done);
	assert_string_equal(env.rcpts[ENVELOPE_RCPTS_MAX - 2].address,
	    "x@y.z");
	close(fd);
	pool_free(&pool);
	buf_deinit(&b);

	/* One more, done or not, is too many. */
	rcpt_file(&b, ENVELOPE_RCPTS_MAX, "X x@y.z\n");
	expect_error((const char *)b.data, b.len, "too many recipients");
	buf_deinit(&b);
}

static void
test_envelope_larger_than_the_limit_is_refused(void **state)
{
	char *big = xmalloc(ENVELOPE_MAX + 2);

	(void)state;
	memset(big, 'h', ENVELOPE_MAX + 1);
	memcpy(big, "V 1\nH ", 6);
	expect_error(big, ENVELOPE_MAX + 1, "envelope too large");
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_written_envelope_reads_back_with_every_record),
		T(test_null_sender_is_empty_and_optional_records_are_null),
		T(test_x_records_read_as_done_and_are_not_pending),
		T(test_mark_done_changes_one_byte_and_is_idempotent),
		T(test_end_of_envelope_across_two_reads_is_found),
		T(test_malformed_envelopes_are_refused),
		T(test_recipients_up_to_the_limit_are_read_and_more_refused),
		T(test_envelope_larger_than_the_limit_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
