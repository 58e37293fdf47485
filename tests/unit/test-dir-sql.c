/* test-dir-sql: the pure parts of the SQL directory backends: placeholders
 * compiled into bound parameters ($n for PostgreSQL, ? for MySQL) and
 * never into SQL text, the refusals of the query compiler, the choice of
 * query texts from sql_query_set and the sql_*_query keys, sql_hosts, the
 * reading of boolean columns, and the Maildir of a user that has its own
 * path. Table-driven; no database needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "directory/dir-sql.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct compile_case {
	const char	*text;
	enum sql_marker	 marker;
	unsigned	 allowed;
	const char	*sql[3];	/* expected statements; NULL-ended */
	const char	*params;	/* placeholder letters, '|' per stmt */
};

#define ALL	0xffu
#define LOOKUP	SQL_PARAMS_LOOKUP

static const struct compile_case compile_ok[] = {
	{ "SELECT 1 FROM t WHERE a = %s", SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT 1 FROM t WHERE a = $1" }, "s" },
	{ "SELECT 1 FROM t WHERE a = %s", SQL_MARK_QMARK, LOOKUP,
	  { "SELECT 1 FROM t WHERE a = ?" }, "s" },
	/* Postfix writes '%s': the quotes go, the value is bound. */
	{ "SELECT goto FROM alias WHERE address='%s' AND active = '1'",
	  SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT goto FROM alias WHERE address=$1 AND active = '1'" },
	  "s" },
	{ "SELECT x FROM t WHERE u = %u AND d = '%d' AND s = %s",
	  SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT x FROM t WHERE u = $1 AND d = $2 AND s = $3" }, "uds" },
	{ "SELECT CONCAT('%u', '@', d) FROM t", SQL_MARK_QMARK, LOOKUP,
	  { "SELECT CONCAT(?, '@', d) FROM t" }, "u" },
	/* %% is a percent sign, in literals too (LIKE patterns). */
	{ "SELECT a %% 2 FROM t WHERE n LIKE 'a%%' AND x = %d",
	  SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT a % 2 FROM t WHERE n LIKE 'a%' AND x = $1" }, "d" },
	/* Doubled quotes and (MySQL) backslashes stay inside literals. */
	{ "SELECT 'it''s; %%' FROM t WHERE a = %s", SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT 'it''s; %' FROM t WHERE a = $1" }, "s" },
	{ "SELECT 'a\\'; b' FROM t WHERE a = %s", SQL_MARK_QMARK, LOOKUP,
	  { "SELECT 'a\\'; b' FROM t WHERE a = ?" }, "s" },
	/* Quoted names and comments are copied, nothing in them counts. */
	{ "SELECT \"we;ird%\" FROM t -- it's %s; really\nWHERE a = %s",
	  SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT \"we;ird%\" FROM t -- it's %s; really\nWHERE a = $1" },
	  "s" },
	{ "SELECT `a;b` FROM t /* '%s'; */ WHERE a = %s # ?\n",
	  SQL_MARK_QMARK, LOOKUP,
	  { "SELECT `a;b` FROM t /* '%s'; */ WHERE a = ? # ?\n" }, "s" },
	/* Statements: numbered from $1 each, blank ones dropped. */
	{ "DELETE FROM a WHERE x = %s; ; DELETE FROM b WHERE y = %s "
	  "AND z = %t;", SQL_MARK_DOLLAR, ALL,
	  { "DELETE FROM a WHERE x = $1", " DELETE FROM b WHERE y = $1 AND "
	  "z = $2" }, "s|st" },
	{ "UPDATE m SET q = %q, a = %a, p = %p, m = %m WHERE s = %s",
	  SQL_MARK_QMARK, ALL,
	  { "UPDATE m SET q = ?, a = ?, p = ?, m = ? WHERE s = ?" }, "qapms" },
	/* A dollar that is no marker. */
	{ "SELECT $$x$$, a$b FROM t WHERE a = %s", SQL_MARK_DOLLAR, LOOKUP,
	  { "SELECT $$x$$, a$b FROM t WHERE a = $1" }, "s" },
};

struct refuse_case {
	const char	*text;
	enum sql_marker	 marker;
	unsigned	 allowed;
	const char	*error;		/* substring of the message */
};

static const struct refuse_case compile_bad[] = {
	{ "SELECT 1 WHERE a = '%u@%d'", SQL_MARK_DOLLAR, LOOKUP,
	  "inside a string literal" },
	{ "SELECT 1 WHERE a = 'x%s'", SQL_MARK_QMARK, LOOKUP,
	  "inside a string literal" },
	{ "SELECT 1 WHERE a = %x", SQL_MARK_DOLLAR, LOOKUP,
	  "unknown placeholder %x" },
	{ "SELECT 1 WHERE a = %", SQL_MARK_DOLLAR, LOOKUP, "at the end" },
	{ "SELECT 1 WHERE a = %p", SQL_MARK_DOLLAR, LOOKUP,
	  "%p is not available" },
	{ "SELECT 1 WHERE a = ?", SQL_MARK_QMARK, LOOKUP, "not '?'" },
	{ "SELECT 1 WHERE a = $1", SQL_MARK_DOLLAR, LOOKUP, "not '$'" },
	{ "SELECT 'open", SQL_MARK_DOLLAR, LOOKUP, "unterminated string" },
	{ "SELECT \"open", SQL_MARK_DOLLAR, LOOKUP, "unterminated quoted" },
	{ "SELECT 1 /* open", SQL_MARK_DOLLAR, LOOKUP, "unterminated comment" },
	{ "", SQL_MARK_DOLLAR, LOOKUP, "no SQL statement" },
	{ " ;\n; ", SQL_MARK_QMARK, LOOKUP, "no SQL statement" },
	{ "a;b;c;d;e;f;g;h;i", SQL_MARK_DOLLAR, LOOKUP,
	  "more than 8 statements" },
	{ "SELECT %s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s",
	  SQL_MARK_DOLLAR, LOOKUP, "more than 16 placeholders" },
};

static void
test_placeholders_become_bound_parameters(void **state)
{
	struct sql_query q;
	char err[256], letters[64];
	size_t i, k, j, n, m;

	(void)state;
	for (i = 0; i < sizeof(compile_ok) / sizeof(compile_ok[0]); i++) {
		const struct compile_case *c = &compile_ok[i];

		if (sql_query_compile(c->text, c->marker,
		    c->marker == SQL_MARK_QMARK, c->allowed, &q, err,
		    sizeof(err)) == -1)
			fail_msg("%s: %s", c->text, err);
		for (n = 0; n < 3 && c->sql[n] != NULL; n++)
			;
		assert_int_equal(q.nstmts, n);
		m = 0;
		for (k = 0; k < q.nstmts; k++) {
			assert_string_equal(q.stmts[k].sql, c->sql[k]);
			if (k > 0)
				letters[m++] = '|';
			for (j = 0; j < q.stmts[k].nparams; j++)
				letters[m++] = "sudpqamt"[q.stmts[k].params[j]];
		}
		letters[m] = '\0';
		assert_string_equal(letters, c->params);
		sql_query_free(&q);
	}
}

static void
test_bad_queries_are_refused_with_a_reason(void **state)
{
	struct sql_query q;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(compile_bad) / sizeof(compile_bad[0]); i++) {
		const struct refuse_case *c = &compile_bad[i];

		err[0] = '\0';
		if (sql_query_compile(c->text, c->marker, false, c->allowed,
		    &q, err, sizeof(err)) == 0)
			fail_msg("%s: compiled", c->text);
		if (strstr(err, c->error) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", c->text, err,
			    c->error);
		assert_int_equal(q.nstmts, 0);
	}
}

static void
test_overlong_query_is_refused(void **state)
{
	struct sql_query q;
	char *text, err[256];

	(void)state;
	text = xmalloc(SQL_QUERY_MAX + 2);
	memset(text, 'x', SQL_QUERY_MAX + 1);
	assert_int_equal(sql_query_compile(text, SQL_MARK_DOLLAR, false,
	    LOOKUP, &q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	text[SQL_QUERY_MAX] = '\0';
	assert_int_equal(sql_query_compile(text, SQL_MARK_DOLLAR, false,
	    LOOKUP, &q, err, sizeof(err)), 0);
	sql_query_free(&q);
	free(text);
}

/* Every query of every set compiles for both drivers with the placeholders
 * its key allows. */
static void
test_every_query_set_compiles(void **state)
{
	static const char *const sets[] = { "tutorial", "postfixadmin" };
	static const char *const drivers[] = { "pgsql", "mysql" };
	const char *texts[SQL_Q_COUNT];
	struct config cfg;
	struct sql_query q;
	char err[256];
	size_t s, d, i;

	(void)state;
	conf_defaults(&cfg, "/nonexistent");
	for (s = 0; s < 2; s++) {
		free(cfg.sql_query_set);
		cfg.sql_query_set = xstrdup(sets[s]);
		for (d = 0; d < 2; d++) {
			if (sql_queries_select(&cfg, drivers[d], texts, err,
			    sizeof(err)) == -1)
				fail_msg("%s/%s: %s", sets[s], drivers[d], err);
			for (i = 0; i < SQL_Q_COUNT; i++) {
				if (texts[i] == NULL)
					continue;
				if (sql_query_compile(texts[i], d == 0 ?
				    SQL_MARK_DOLLAR : SQL_MARK_QMARK, d == 1,
				    sql_q_allowed(i), &q, err,
				    sizeof(err)) == -1)
					fail_msg("%s/%s %s: %s", sets[s],
					    drivers[d], sql_q_key(i), err);
				assert_true(q.nstmts > 0);
				sql_query_free(&q);
			}
		}
	}
	conf_free(&cfg);
}

static void
test_query_set_selection(void **state)
{
	const char *texts[SQL_Q_COUNT];
	struct config cfg;
	char err[256];

	(void)state;
	conf_defaults(&cfg, "/nonexistent");
	/* The default is the tutorial schema, complete but for the flags
	 * and quotas it does not have. */
	assert_string_equal(cfg.sql_query_set, "tutorial");
	assert_int_equal(sql_queries_select(&cfg, "pgsql", texts, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(texts[SQL_Q_USER], "virtual_users"));
	assert_non_null(texts[SQL_Q_USER_ADD]);
	assert_null(texts[SQL_Q_DOMAIN_ACTIVE]);
	assert_null(texts[SQL_Q_USER_QUOTA]);
	assert_null(texts[SQL_Q_USER_ACTIVE]);

	/* PostfixAdmin: everything, with an upsert of each dialect. */
	free(cfg.sql_query_set);
	cfg.sql_query_set = xstrdup("postfixadmin");
	assert_int_equal(sql_queries_select(&cfg, "pgsql", texts, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(texts[SQL_Q_ALIAS_ADD], "ON CONFLICT"));
	assert_non_null(texts[SQL_Q_USER_ACTIVE]);
	assert_int_equal(sql_queries_select(&cfg, "mysql", texts, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(texts[SQL_Q_ALIAS_ADD], "ON DUPLICATE KEY"));
	assert_non_null(strstr(texts[SQL_Q_ALIAS], "alias_domain"));

	/* A key replaces one query of the set, and only that one. */
	free(cfg.sql_user_query);
	cfg.sql_user_query = xstrdup("SELECT password FROM u WHERE e = %s");
	assert_int_equal(sql_queries_select(&cfg, "mysql", texts, err,
	    sizeof(err)), 0);
	assert_string_equal(texts[SQL_Q_USER], cfg.sql_user_query);
	assert_non_null(strstr(texts[SQL_Q_DOMAIN], "FROM domain"));

	/* custom: only what the keys say; a lookup without a query is an
	 * error that names the keys. */
	free(cfg.sql_query_set);
	cfg.sql_query_set = xstrdup("custom");
	free(cfg.sql_user_query);
	cfg.sql_user_query = xstrdup("");
	assert_int_equal(sql_queries_select(&cfg, "pgsql", texts, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "sql_user_query"));
	free(cfg.sql_user_query);
	cfg.sql_user_query = xstrdup("SELECT password FROM u WHERE e = %s");
	free(cfg.sql_domain_query);
	cfg.sql_domain_query = xstrdup("SELECT 1 FROM d WHERE n = %d");
	assert_int_equal(sql_queries_select(&cfg, "pgsql", texts, err,
	    sizeof(err)), 0);
	assert_null(texts[SQL_Q_ALIAS]);
	assert_null(texts[SQL_Q_USER_ADD]);
	assert_string_equal(sql_q_key(SQL_Q_USER_ADD), "sql_user_add_query");

	free(cfg.sql_query_set);
	cfg.sql_query_set = xstrdup("nonsense");
	assert_int_equal(sql_queries_select(&cfg, "pgsql", texts, err,
	    sizeof(err)), -1);
	conf_free(&cfg);
}

static void
test_sql_hosts(void **state)
{
	static const struct {
		const char	*in;
		const char	*host;
		const char	*socket;
		unsigned	 port;
	} good[] = {
		{ "localhost", "localhost", NULL, 0 },
		{ "db.example.org:5433", "db.example.org", NULL, 5433 },
		{ "[::1]:3307", "::1", NULL, 3307 },
		{ "[2001:db8::1]", "2001:db8::1", NULL, 0 },
		{ "unix:/run/mysqld/mysqld.sock", NULL,
		  "/run/mysqld/mysqld.sock", 0 },
	};
	static const char *const bad[] = { "unix:relative", "db:0",
	    "db:65536", "db:x", "::1", "[::1", "[]:5", ":5432", "[::1]x" };
	struct sql_host *hosts;
	struct strv sv;
	char err[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&sv, 0, sizeof(sv));
		strv_push(&sv, good[i].in);
		if (sql_hosts_parse(&sv, &hosts, &n, err, sizeof(err)) == -1)
			fail_msg("%s: %s", good[i].in, err);
		assert_int_equal(n, 1);
		if (good[i].host != NULL)
			assert_string_equal(hosts[0].host, good[i].host);
		else
			assert_null(hosts[0].host);
		if (good[i].socket != NULL)
			assert_string_equal(hosts[0].socket, good[i].socket);
		else
			assert_null(hosts[0].socket);
		assert_int_equal(hosts[0].port, good[i].port);
		sql_hosts_free(hosts, n);
		strv_free(&sv);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&sv, 0, sizeof(sv));
		strv_push(&sv, bad[i]);
		if (sql_hosts_parse(&sv, &hosts, &n, err, sizeof(err)) == 0)
			fail_msg("%s: accepted", bad[i]);
		assert_non_null(strstr(err, "sql_hosts"));
		strv_free(&sv);
	}
	memset(&sv, 0, sizeof(sv));
	assert_int_equal(sql_hosts_parse(&sv, &hosts, &n, err, sizeof(err)),
	    -1);
}

static void
test_boolean_columns(void **state)
{
	static const char *const yes[] = { "1", "t", "true", "TRUE", "y",
	    "yes", "on" };
	static const char *const no[] = { "0", "f", "false", "n", "no", "off",
	    "", "2", "truth" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(sql_value_true(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(sql_value_true(no[i]));
	assert_false(sql_value_true(NULL));
}

static void
test_user_maildir_stays_under_mail_root(void **state)
{
	static const struct {
		const char	*maildir;
		const char	*expect;	/* NULL: refused */
	} cases[] = {
		{ NULL, "/m/example.test/ann" },
		{ "", "/m/example.test/ann" },
		{ "example.test/ann/", "/m/example.test/ann" },
		{ "example.test/ann@example.test", "/m/example.test/ann@example.test" },
		{ "shard2/example.test/ann", "/m/shard2/example.test/ann" },
		{ "/var/mail/ann", NULL },
		{ "../etc", NULL },
		{ "example.test/../../etc", NULL },
		{ "example.test//ann", NULL },
		{ "./ann", NULL },
		{ "/", NULL },
	};
	struct dir_user u;
	struct config cfg;
	struct pool *pool = pool_new(NULL);
	char *path;
	size_t i;

	(void)state;
	conf_defaults(&cfg, "/nonexistent");
	free(cfg.mail_root);
	cfg.mail_root = xstrdup("/m");
	memset(&u, 0, sizeof(u));
	u.address = "ann@example.test";
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u.maildir = cases[i].maildir;
		path = dir_user_maildir(&cfg, &u, pool);
		if (cases[i].expect == NULL) {
			if (path != NULL)
				fail_msg("%s: gave %s", cases[i].maildir, path);
		} else {
			if (path == NULL)
				fail_msg("%s: refused", cases[i].maildir);
			assert_string_equal(path, cases[i].expect);
		}
	}
	pool_free(&pool);
	conf_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placeholders_become_bound_parameters),
		cmocka_unit_test(test_bad_queries_are_refused_with_a_reason),
		cmocka_unit_test(test_overlong_query_is_refused),
		cmocka_unit_test(test_every_query_set_compiles),
		cmocka_unit_test(test_query_set_selection),
		cmocka_unit_test(test_sql_hosts),
		cmocka_unit_test(test_boolean_columns),
		cmocka_unit_test(test_user_maildir_stays_under_mail_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
