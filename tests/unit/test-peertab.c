/* test-peertab: connection limits per address and in total, counts kept
 * per worker slot and dropped with the slot, failures expire. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/peertab.h"

static struct sockaddr_in
v4(const char *text)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return sin;
}

static void
test_per_address_limit_holds_across_slots(void **unused)
{
	struct peertab *pt = peertab_create(2);
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");

	(void)unused;
	assert_true(peertab_conn_enter(pt, 0, (struct sockaddr *)&a, 2, 100));
	assert_true(peertab_conn_enter(pt, 1, (struct sockaddr *)&a, 2, 100));
	assert_false(peertab_conn_enter(pt, 0, (struct sockaddr *)&a, 2, 100));
	assert_true(peertab_conn_enter(pt, 0, (struct sockaddr *)&b, 2, 100));
	peertab_conn_leave(pt, 1, (struct sockaddr *)&a);
	assert_true(peertab_conn_enter(pt, 1, (struct sockaddr *)&a, 2, 100));
	peertab_destroy(&pt);
	assert_null(pt);
}

static void
test_total_limit_counts_every_address(void **unused)
{
	struct peertab *pt = peertab_create(1);
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("198.51.100.1");

	(void)unused;
	assert_true(peertab_conn_enter(pt, 0, (struct sockaddr *)&a, 10, 2));
	assert_true(peertab_conn_enter(pt, 0, (struct sockaddr *)&b, 10, 2));
	assert_false(peertab_conn_enter(pt, 0, (struct sockaddr *)&b, 10, 2));
	peertab_destroy(&pt);
}

static void
test_reset_slot_forgets_a_dead_workers_connections(void **unused)
{
	struct peertab *pt = peertab_create(2);
	struct sockaddr_in a = v4("192.0.2.1");

	(void)unused;
	assert_true(peertab_conn_enter(pt, 1, (struct sockaddr *)&a, 1, 10));
	assert_false(peertab_conn_enter(pt, 0, (struct sockaddr *)&a, 1, 10));
	peertab_reset_slot(pt, 1);
	assert_int_equal(peertab_conn_count(pt, (struct sockaddr *)&a), 0);
	assert_true(peertab_conn_enter(pt, 0, (struct sockaddr *)&a, 1, 10));
	peertab_destroy(&pt);
}

static void
test_counts_are_shared_with_forked_children(void **unused)
{
	struct peertab *pt = peertab_create(2);
	struct sockaddr_in a = v4("192.0.2.9");
	int status;
	pid_t pid;

	(void)unused;
	if ((pid = fork()) == 0)
		_exit(peertab_conn_enter(pt, 1, (struct sockaddr *)&a, 5, 5) ?
		    0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(peertab_conn_count(pt, (struct sockaddr *)&a), 1);
	peertab_destroy(&pt);
}

static void
test_failures_count_within_the_window_then_expire(void **unused)
{
	struct peertab *pt = peertab_create(1);
	struct sockaddr_in a = v4("203.0.113.5"), b = v4("203.0.113.6");

	(void)unused;
	assert_int_equal(peertab_fail(pt, (struct sockaddr *)&a, 1000, 60), 1);
	assert_int_equal(peertab_fail(pt, (struct sockaddr *)&a, 1010, 60), 2);
	assert_int_equal(peertab_failures(pt, (struct sockaddr *)&a, 1050, 60), 2);
	assert_int_equal(peertab_failures(pt, (struct sockaddr *)&b, 1050, 60), 0);
	assert_int_equal(peertab_failures(pt, (struct sockaddr *)&a, 1060, 60), 0);
	assert_int_equal(peertab_fail(pt, (struct sockaddr *)&a, 1061, 60), 1);
	peertab_destroy(&pt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_address_limit_holds_across_slots),
		cmocka_unit_test(test_total_limit_counts_every_address),
		cmocka_unit_test(test_reset_slot_forgets_a_dead_workers_connections),
		cmocka_unit_test(test_counts_are_shared_with_forked_children),
		cmocka_unit_test(test_failures_count_within_the_window_then_expire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
