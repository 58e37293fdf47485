/* test-dir-sql-conn: the connection handling of the SQL backends
 * (dir-sql.c) on a fake driver: a handle connects at its first query; a
 * server that restarted between two queries costs the caller nothing (the
 * query runs again on a new connection); while the server is down, calls
 * fail as temporary errors (-1), never "not found", connection attempts
 * are spaced by the back-off, and cached entries still answer; once the
 * server is back, lookups work again without reopening the handle.
 * Values reach the driver as bound parameters, lower-cased. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "directory/dir-sql.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

/* The fake server. */
static struct {
	bool		 up;
	unsigned	 generation;	/* a restart drops every connection */
	unsigned	 connects;	/* attempts */
	unsigned	 runs;
	char		 last_value[256];
} srv;

struct fake_conn {
	unsigned	 generation;
};

static int
fake_connect(const struct sql_conn_args *a, void **conn_r, char *err,
    size_t errlen)
{
	struct fake_conn *c;

	(void)a;
	srv.connects++;
	if (!srv.up) {
		snprintf(err, errlen, "connection refused");
		return -1;
	}
	c = xmalloc(sizeof(*c));
	c->generation = srv.generation;
	*conn_r = c;
	return 0;
}

static void
fake_close(void *conn)
{
	free(conn);
}

static enum sql_rc
fake_run(void *conn, unsigned id, const struct sql_stmt *st,
    const char *const *values, size_t max_rows, struct pool *pool,
    struct sql_result *res, char *err, size_t errlen)
{
	struct fake_conn *c = conn;
	bool hit;

	(void)id;
	(void)max_rows;
	srv.runs++;
	if (!srv.up || c->generation != srv.generation) {
		snprintf(err, errlen, "server closed the connection");
		return SQL_ERR_CONN;
	}
	/* Placeholders arrive as markers and separate values. */
	assert_null(strchr(st->sql, '%'));
	assert_int_equal(st->nparams, 1);
	snprintf(srv.last_value, sizeof(srv.last_value), "%s", values[0]);
	memset(res, 0, sizeof(*res));
	res->ncols = 2;
	res->names = pool_alloc(pool, 2 * sizeof(*res->names));
	res->names[0] = "address";
	res->names[1] = "password";
	if (strstr(st->sql, "FROM d ") != NULL)
		hit = strcmp(values[0], "example.test") == 0;
	else
		hit = strcmp(values[0], "alice@example.test") == 0 ||
		    strcmp(values[0], "bob@example.test") == 0;
	if (hit) {
		res->nrows = 1;
		res->cells = pool_alloc(pool, 2 * sizeof(*res->cells));
		res->cells[0] = pool_strdup(pool, values[0]);
		res->cells[1] = "$6$salt$hash";
	}
	return SQL_OK;
}

static enum sql_rc
fake_command(void *conn, const char *sql, char *err, size_t errlen)
{
	(void)conn;
	(void)sql;
	(void)err;
	(void)errlen;
	return SQL_OK;
}

static const struct sql_driver fake_driver = {
	.name		= "fake",
	.marker		= SQL_MARK_QMARK,
	.backslash	= true,
	.connect	= fake_connect,
	.close		= fake_close,
	.run		= fake_run,
	.command	= fake_command,
};

struct fixture {
	struct config	 cfg;
	struct dir	 dir;
	struct pool	*pool;
};

static int
setup(void **state)
{
	struct fixture *f = xmalloc(sizeof(*f));
	const char *error;

	conf_defaults(&f->cfg, "/nonexistent");
	free(f->cfg.sql_query_set);
	f->cfg.sql_query_set = xstrdup("custom");
	free(f->cfg.sql_domain_query);
	f->cfg.sql_domain_query = xstrdup("SELECT name FROM d WHERE n = %d");
	free(f->cfg.sql_user_query);
	f->cfg.sql_user_query = xstrdup("SELECT address, password FROM u "
	    "WHERE a = '%s'");
	f->cfg.sql_reconnect_max_delay = 1;
	f->dir.cfg = &f->cfg;
	memset(&srv, 0, sizeof(srv));
	srv.up = true;
	if (dir__sql_open(&f->dir, &fake_driver, &error) == -1)
		fail_msg("open: %s", error);
	sql__cache_clear();
	f->pool = pool_new(NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	dir__sql_close(&f->dir);
	sql__cache_clear();
	pool_free(&f->pool);
	conf_free(&f->cfg);
	free(f);
	return 0;
}

static int
user(struct fixture *f, const char *address, const char **error_r)
{
	struct dir_addr a;
	struct dir_user u;
	const char *at = strchr(address, '@');
	char *local = pool_strndup(f->pool, address, (size_t)(at - address));

	a.address = address;
	a.local = local;
	a.domain = at + 1;
	*error_r = NULL;
	return dir__sql_user_lookup(&f->dir, &a, f->pool, &u, error_r);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
test_first_query_connects_and_values_are_bound(void **state)
{
	struct fixture *f = *state;
	const char *error;

	assert_int_equal(srv.connects, 0);
	assert_int_equal(user(f, "Alice@example.test", &error), 1);
	assert_int_equal(srv.connects, 1);
	assert_string_equal(srv.last_value, "alice@example.test");
	assert_int_equal(user(f, "x'; DROP TABLE u; --@example.test", &error),
	    0);
	assert_string_equal(srv.last_value,
	    "x'; drop table u; --@example.test");
	/* Both answers are cached now. */
	srv.runs = 0;
	assert_int_equal(user(f, "alice@example.test", &error), 1);
	assert_int_equal(user(f, "x'; DROP TABLE u; --@example.test", &error),
	    0);
	assert_int_equal(srv.runs, 0);
	assert_int_equal(srv.connects, 1);
}

static void
test_a_restart_between_queries_costs_nothing(void **state)
{
	struct fixture *f = *state;
	const char *error;

	assert_int_equal(user(f, "alice@example.test", &error), 1);
	srv.generation++;
	assert_int_equal(user(f, "bob@example.test", &error), 1);
	assert_int_equal(srv.connects, 2);
	assert_int_equal(srv.runs, 3);
}

static void
test_down_server_fails_temporarily_with_back_off(void **state)
{
	struct fixture *f = *state;
	struct dir_domain d;
	const char *error;

	assert_int_equal(user(f, "alice@example.test", &error), 1);
	srv.up = false;
	/* Not known: -1, never 0; the lost connection was retried once. */
	assert_int_equal(user(f, "carol@example.test", &error), -1);
	assert_non_null(strstr(error, "connection refused"));
	assert_int_equal(srv.connects, 2);
	/* Within the back-off: no attempt at all. */
	assert_int_equal(user(f, "dave@example.test", &error), -1);
	assert_non_null(strstr(error, "next attempt"));
	assert_int_equal(dir__sql_domain_lookup(&f->dir, "other.test",
	    f->pool, &d, &error), -1);
	assert_int_equal(srv.connects, 2);
	/* Known: answered from the cache. */
	assert_int_equal(user(f, "alice@example.test", &error), 1);
	/* After the back-off, one more attempt, which fails again. */
	sleep_ms(1100);
	assert_int_equal(user(f, "dave@example.test", &error), -1);
	assert_int_equal(srv.connects, 3);
	assert_int_equal(user(f, "dave@example.test", &error), -1);
	assert_int_equal(srv.connects, 3);
	/* Back: the next attempt after the back-off connects. */
	srv.up = true;
	srv.generation++;
	sleep_ms(1100);
	assert_int_equal(user(f, "dave@example.test", &error), 0);
	assert_int_equal(user(f, "bob@example.test", &error), 1);
	assert_int_equal(srv.connects, 4);
}

#define CASE(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_first_query_connects_and_values_are_bound),
		CASE(test_a_restart_between_queries_costs_nothing),
		CASE(test_down_server_fails_temporarily_with_back_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
