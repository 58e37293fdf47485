/* test-alias: dir_resolve() on one directory holding users, aliases and
 * catch-alls in several domains. Each row of the table is one recipient
 * with the settings it runs under and the targets it must resolve to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "directory/dir.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define HASH	"$y$j9T$QBCgAOVRtlKsIw8OXc7rb1$GG8Vw7qfw5pVUrj1a0cmw22amJYfh8QNXZTjzXxnDJ4"

struct resolve_case {
	const char	*name;
	const char	*input;
	const char	*delimiter;	/* NULL: the default "+" */
	uint64_t	 max_depth;	/* 0: the default */
	uint64_t	 max_targets;	/* 0: the default */
	enum dir_status	 status;
	bool		 local;		/* local_domain */
	bool		 aliased;
	const char	*targets;	/* "mbox:a@b+ext remote:c@d" */
};

static const struct resolve_case cases[] = {
	{ "a user gets its mailbox",
	  "alice@example.org", NULL, 0, 0, DIR_OK, true, false,
	  "mbox:alice@example.org" },
	{ "a user matches in any case and resolves to the stored case",
	  "BOB@EXAMPLE.ORG", NULL, 0, 0, DIR_OK, true, false,
	  "mbox:Bob@example.org" },
	{ "an alias reaches all its destinations, local and remote",
	  "team@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org mbox:Bob@example.org remote:x@remote.net" },
	{ "a comma-separated destination entry is a list",
	  "list@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org mbox:dave@other.org" },
	{ "nested aliases are expanded",
	  "nested1@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org mbox:Bob@example.org remote:x@remote.net" },
	{ "an alias may point into another local domain",
	  "ol@other.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org mbox:Bob@example.org remote:x@remote.net" },
	{ "an alias loop is a loop",
	  "loop1@example.org", NULL, 0, 0, DIR_LOOP, true, true, "" },
	{ "an alias to itself that is no user is a loop",
	  "self@example.org", NULL, 0, 0, DIR_LOOP, true, true, "" },
	{ "an alias to itself that is a user keeps a copy",
	  "keep@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org mbox:keep@example.org" },
	{ "nesting within the depth limit resolves",
	  "d1@example.org", NULL, 4, 0, DIR_OK, true, true,
	  "mbox:alice@example.org" },
	{ "nesting deeper than alias_max_depth is a loop",
	  "d1@example.org", NULL, 3, 0, DIR_LOOP, true, true, "" },
	{ "the catch-all takes unknown local parts",
	  "whoever@catch.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:postmaster@catch.org" },
	{ "a user wins over the catch-all",
	  "fred@catch.org", NULL, 0, 0, DIR_OK, true, false,
	  "mbox:fred@catch.org" },
	{ "an alias wins over the catch-all",
	  "sales@catch.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:fred@catch.org" },
	{ "plus-addressing wins over the catch-all",
	  "fred+news@catch.org", NULL, 0, 0, DIR_OK, true, false,
	  "mbox:fred@catch.org+news" },
	{ "a catch-all to @other keeps the local part",
	  "dave@fwd.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:dave@other.org" },
	{ "a catch-all to @other keeps the extension",
	  "dave+x@fwd.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:dave@other.org+x" },
	{ "a catch-all to @other of an unknown name is unknown",
	  "nobody@fwd.org", NULL, 0, 0, DIR_UNKNOWN, true, true, "" },
	{ "user+tag reaches the user with the extension",
	  "alice+lists@example.org", NULL, 0, 0, DIR_OK, true, false,
	  "mbox:alice@example.org+lists" },
	{ "user+ (empty tag) reaches the user without extension",
	  "alice+@example.org", NULL, 0, 0, DIR_OK, true, false,
	  "mbox:alice@example.org" },
	{ "alias+tag expands the alias, extension on the mailboxes",
	  "team+x@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org+x mbox:Bob@example.org+x "
	  "remote:x@remote.net" },
	{ "an exact alias of user+tag wins over the user",
	  "alice+spam@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:Bob@example.org" },
	{ "keep a copy works with an extension",
	  "keep+t@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org+t mbox:keep@example.org+t" },
	{ "a delimiter outside the configured set is part of the name",
	  "alice-foo@example.org", NULL, 0, 0, DIR_UNKNOWN, true, false, "" },
	{ "every configured delimiter character works",
	  "alice-foo@example.org", "-+", 0, 0, DIR_OK, true, false,
	  "mbox:alice@example.org+foo" },
	{ "the first delimiter character splits",
	  "alice-foo+bar@example.org", "-+", 0, 0, DIR_OK, true, false,
	  "mbox:alice@example.org+foo+bar" },
	{ "an empty delimiter disables extensions",
	  "alice+foo@example.org", "", 0, 0, DIR_UNKNOWN, true, false, "" },
	{ "a leading delimiter leaves no name to try",
	  "+alice@example.org", NULL, 0, 0, DIR_UNKNOWN, true, false, "" },
	{ "a domain that is not ours is remote",
	  "Someone@REMOTE.net", NULL, 0, 0, DIR_OK, false, false,
	  "remote:Someone@remote.net" },
	{ "a disabled domain is still ours: unknown, never relayed",
	  "erin@off.org", NULL, 0, 0, DIR_UNKNOWN, true, false, "" },
	{ "a disabled user is unknown",
	  "carol@example.org", NULL, 0, 0, DIR_UNKNOWN, true, false, "" },
	{ "an alias to a disabled user only is unknown",
	  "tocarol@example.org", NULL, 0, 0, DIR_UNKNOWN, true, true, "" },
	{ "an unknown local address is unknown",
	  "ghost@example.org", NULL, 0, 0, DIR_UNKNOWN, true, false, "" },
	{ "an alias to unknown addresses only is unknown",
	  "dead@example.org", NULL, 0, 0, DIR_UNKNOWN, true, true, "" },
	{ "unknown destinations are skipped when others resolve",
	  "partial@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org" },
	{ "duplicate targets are delivered once",
	  "dup@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org mbox:Bob@example.org remote:x@remote.net" },
	{ "duplicates differing in case are delivered once",
	  "dupcase@example.org", NULL, 0, 0, DIR_OK, true, true,
	  "mbox:alice@example.org remote:X@remote.net" },
	{ "as many targets as alias_max_targets resolve",
	  "many@example.org", NULL, 0, 4, DIR_OK, true, true,
	  "mbox:dave@other.org mbox:alice@example.org mbox:Bob@example.org "
	  "remote:x@remote.net" },
	{ "more targets than alias_max_targets are too many",
	  "many@example.org", NULL, 0, 3, DIR_TOO_MANY, true, true, "" },
	{ "aliases fanning out to unknown names hit the work limit",
	  "fan@example.org", NULL, 0, 1, DIR_TOO_MANY, true, true, "" },
};

/* Set up once for all cases. */
static char	 tmp[64];
static struct config base_cfg;
static struct dir *dir;

static int	group_setup(void **state);
static int	group_teardown(void **state);
static void	add_domain(const char *domain, bool active);
static void	add_user(const char *address, bool active);
static void	add_alias(const char *source, const char *destination);
static void	raw_alias(const char *source, const char *destination);
static char	*targets_string(const struct dir_resolution *res);
static void	run_case(void **state);

static void
add_domain(const char *domain, bool active)
{
	const char *error = NULL;

	if (dir_domain_add(dir, domain, 0, &error) == -1 || (!active &&
	    dir_domain_set_active(dir, domain, false, &error) == -1))
		fail_msg("domain %s: %s", domain, error);
}

static void
add_user(const char *address, bool active)
{
	const char *error = NULL;

	if (dir_user_add(dir, address, HASH, 0, &error) == -1 || (!active &&
	    dir_user_set_active(dir, address, false, &error) == -1))
		fail_msg("user %s: %s", address, error);
}

static void
add_alias(const char *source, const char *destination)
{
	const char *error = NULL;

	if (dir_alias_add(dir, source, destination, &error) == -1)
		fail_msg("alias %s: %s", source, error);
}

/* A row as another tool (PostfixAdmin) writes it: a list in one row. */
static void
raw_alias(const char *source, const char *destination)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(base_cfg.sqlite_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO aliases "
	    "(source, destination, domain) VALUES (?1, ?2, "
	    "substr(?1, instr(?1, '@') + 1))", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, destination, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static int
group_setup(void **state)
{
	const char *error = NULL;
	char name[64];
	int i;

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/postie-test-alias-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	conf_defaults(&base_cfg, tmp);
	if (dir_open(&base_cfg, &dir, &error) == -1)
		fail_msg("dir_open: %s", error);

	add_domain("example.org", true);
	add_domain("other.org", true);
	add_domain("catch.org", true);
	add_domain("fwd.org", true);
	add_domain("off.org", false);

	add_user("alice@example.org", true);
	add_user("Bob@example.org", true);
	add_user("carol@example.org", false);
	add_user("keep@example.org", true);
	add_user("dave@other.org", true);
	add_user("erin@off.org", true);
	add_user("fred@catch.org", true);
	add_user("postmaster@catch.org", true);

	add_alias("team@example.org", "alice@example.org");
	add_alias("team@example.org", "bob@example.org");
	add_alias("team@example.org", "x@remote.net");
	raw_alias("list@example.org", "alice@example.org, dave@other.org");
	add_alias("nested1@example.org", "nested2@example.org");
	add_alias("nested2@example.org", "team@example.org");
	add_alias("ol@other.org", "team@example.org");
	add_alias("loop1@example.org", "loop2@example.org");
	add_alias("loop2@example.org", "loop1@example.org");
	add_alias("self@example.org", "self@example.org");
	add_alias("keep@example.org", "keep@example.org");
	add_alias("keep@example.org", "alice@example.org");
	add_alias("d1@example.org", "d2@example.org");
	add_alias("d2@example.org", "d3@example.org");
	add_alias("d3@example.org", "d4@example.org");
	add_alias("d4@example.org", "alice@example.org");
	add_alias("@catch.org", "postmaster@catch.org");
	add_alias("sales@catch.org", "fred@catch.org");
	add_alias("@fwd.org", "@other.org");
	add_alias("alice+spam@example.org", "bob@example.org");
	add_alias("tocarol@example.org", "carol@example.org");
	add_alias("dead@example.org", "ghost@example.org");
	add_alias("dead@example.org", "ghost2@other.org");
	add_alias("partial@example.org", "ghost@example.org");
	add_alias("partial@example.org", "alice@example.org");
	add_alias("dup@example.org", "alice@example.org");
	add_alias("dup@example.org", "team@example.org");
	add_alias("dup@example.org", "nested1@example.org");
	raw_alias("dupcase@example.org", "alice@example.org, ALICE@Example.org,"
	    " X@remote.net, x@REMOTE.NET");
	add_alias("many@example.org", "team@example.org");
	add_alias("many@example.org", "dave@other.org");
	/* 1 target allowed: 8 lookups; fan reaches 10 unknown names. */
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "nobody%d@example.org", i);
		add_alias("fan@example.org", name);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	dir_close(&dir);
	conf_free(&base_cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
targets_string(const struct dir_resolution *res)
{
	struct strv sv = { NULL, 0 };
	const struct dir_target *t;
	char *item, *s;
	size_t i;

	for (i = 0; i < res->ntargets; i++) {
		t = &res->targets[i];
		item = xasprintf("%s:%s%s%s",
		    t->kind == DIR_TARGET_MAILBOX ? "mbox" : "remote",
		    t->address, t->extension != NULL ? "+" : "",
		    t->extension != NULL ? t->extension : "");
		strv_push(&sv, item);
		free(item);
	}
	s = strv_join(&sv, " ");
	strv_free(&sv);
	return s;
}

static void
run_case(void **state)
{
	const struct resolve_case *c = *state;
	struct dir_resolution res;
	struct config cfg;
	struct pool *pool;
	char *got;

	conf_defaults(&cfg, tmp);
	if (c->delimiter != NULL) {
		free(cfg.recipient_delimiter);
		cfg.recipient_delimiter = xstrdup(c->delimiter);
	}
	if (c->max_depth != 0)
		cfg.alias_max_depth = c->max_depth;
	if (c->max_targets != 0)
		cfg.alias_max_targets = c->max_targets;
	pool = pool_new(NULL);

	assert_int_equal(dir_resolve(dir, &cfg, c->input, pool, &res), 0);
	got = targets_string(&res);
	if (res.status != c->status || res.local_domain != c->local ||
	    res.aliased != c->aliased || strcmp(got, c->targets) != 0)
		fail_msg("%s: status %d local %d aliased %d targets \"%s\" "
		    "(error %s); want status %d local %d aliased %d "
		    "targets \"%s\"", c->input, res.status, res.local_domain,
		    res.aliased, got, res.error != NULL ? res.error : "none",
		    c->status, c->local, c->aliased, c->targets);
	if (res.status == DIR_OK)
		assert_true(res.ntargets > 0);
	else {
		assert_int_equal(res.ntargets, 0);
		if (res.status != DIR_UNKNOWN)
			assert_non_null(res.error);
	}
	free(got);
	pool_free(&pool);
	conf_free(&cfg);
}

/* Outside the table: inputs that are not addresses, backend failure. */

static void
test_not_an_address(void **state)
{
	static const char *const bad[] = {
		"", "noat", "@example.org", "a@", "a@bad..org", "a b@x.org",
	};
	struct dir_resolution res;
	struct pool *pool = pool_new(NULL);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dir_resolve(dir, &base_cfg, bad[i], pool,
		    &res), -1);
		assert_int_equal(res.status, DIR_UNKNOWN);
		assert_non_null(res.error);
		assert_int_equal(res.ntargets, 0);
	}
	pool_free(&pool);
}

static void
test_backend_failure_is_tempfail(void **state)
{
	struct dir_resolution res;
	struct config cfg;
	struct dir *d;
	struct pool *pool = pool_new(NULL);
	const char *error = NULL;
	char sub[128];
	sqlite3 *db;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/broken", tmp);
	assert_int_equal(mkdir(sub, 0700), 0);
	conf_defaults(&cfg, sub);
	if (dir_open(&cfg, &d, &error) == -1)
		fail_msg("dir_open: %s", error);
	assert_int_equal(dir_domain_add(d, "example.org", 0, &error), 0);
	assert_int_equal(sqlite3_open(cfg.sqlite_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE aliases", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(dir_resolve(d, &cfg, "a@example.org", pool, &res), 0);
	assert_int_equal(res.status, DIR_TEMPFAIL);
	assert_non_null(res.error);
	assert_non_null(strstr(res.error, "aliases"));
	assert_int_equal(res.ntargets, 0);
	dir_close(&d);
	conf_free(&cfg);
	pool_free(&pool);
}

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

int
main(void)
{
	static struct CMUnitTest tests[NCASES + 2];
	size_t i;

	for (i = 0; i < NCASES; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)(uintptr_t)&cases[i];
	}
	tests[i].name = "an input that is not an address fails";
	tests[i++].test_func = test_not_an_address;
	tests[i].name = "a backend failure is a temporary failure";
	tests[i++].test_func = test_backend_failure_is_tempfail;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
