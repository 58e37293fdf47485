/* test-dir: the directory's admin operations and lookups on a real SQLite
 * file in a temporary directory: what is accepted, what is refused and
 * with which message, case rules, persistence, and Maildir paths that
 * cannot leave mail_root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "directory/dir.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define NWRITERS	4
#define PER_WRITER	25
#define HASH	"$y$j9T$QBCgAOVRtlKsIw8OXc7rb1$GG8Vw7qfw5pVUrj1a0cmw22amJYfh8QNXZTjzXxnDJ4"

struct fixture {
	char		 tmp[64];
	struct config	 cfg;
	struct dir	*dir;
	struct pool	*pool;
};

static int	setup(void **state);
static int	teardown(void **state);
static void	reopen(struct fixture *f);
static void	collect_domain(const struct dir_domain *d, void *ctx);
static void	collect_user(const struct dir_user *u, void *ctx);
static void	collect_alias(const struct dir_alias *a, void *ctx);
static char	*joined_domains(struct dir *dir);
static char	*joined_users(struct dir *dir, const char *domain);
static char	*joined_aliases(struct dir *dir, const char *domain);
static void	writer(struct fixture *f, int i) __attribute__((noreturn));
static void	assert_error(int rc, const char *const *error,
		    const char *expected);
static int	sql_int(const char *path, const char *sql);
static char	*sql_text(const char *path, const char *sql);

static int
setup(void **state)
{
	struct fixture *f = xmalloc(sizeof(*f));
	const char *error = NULL;

	snprintf(f->tmp, sizeof(f->tmp), "/tmp/postie-test-dir-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	conf_defaults(&f->cfg, f->tmp);
	if (dir_open(&f->cfg, &f->dir, &error) == -1)
		fail_msg("dir_open: %s", error);
	f->pool = pool_new(NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	int rc;

	dir_close(&f->dir);
	pool_free(&f->pool);
	conf_free(&f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
	rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void
reopen(struct fixture *f)
{
	const char *error = NULL;

	dir_close(&f->dir);
	assert_null(f->dir);
	if (dir_open(&f->cfg, &f->dir, &error) == -1)
		fail_msg("dir_open: %s", error);
}

static void
collect_domain(const struct dir_domain *d, void *ctx)
{
	char *s = xasprintf("%s%s", d->name, d->active ? "" : "(off)");

	strv_push(ctx, s);
	free(s);
}

static void
collect_user(const struct dir_user *u, void *ctx)
{
	char *s = xasprintf("%s%s", u->address, u->active ? "" : "(off)");

	strv_push(ctx, s);
	free(s);
}

static void
collect_alias(const struct dir_alias *a, void *ctx)
{
	char *s = xasprintf("%s>%s", a->source, a->destination);

	strv_push(ctx, s);
	free(s);
}

static char *
joined_domains(struct dir *dir)
{
	struct strv sv = { NULL, 0 };
	const char *error = NULL;
	char *s;

	if (dir_domain_list(dir, collect_domain, &sv, &error) == -1)
		fail_msg("dir_domain_list: %s", error);
	s = strv_join(&sv, " ");
	strv_free(&sv);
	return s;
}

static char *
joined_users(struct dir *dir, const char *domain)
{
	struct strv sv = { NULL, 0 };
	const char *error = NULL;
	char *s;

	if (dir_user_list(dir, domain, collect_user, &sv, &error) == -1)
		fail_msg("dir_user_list: %s", error);
	s = strv_join(&sv, " ");
	strv_free(&sv);
	return s;
}

static char *
joined_aliases(struct dir *dir, const char *domain)
{
	struct strv sv = { NULL, 0 };
	const char *error = NULL;
	char *s;

	if (dir_alias_list(dir, domain, collect_alias, &sv, &error) == -1)
		fail_msg("dir_alias_list: %s", error);
	s = strv_join(&sv, " ");
	strv_free(&sv);
	return s;
}

/* error by reference: read after the call that sets it. */
static void
assert_error(int rc, const char *const *error, const char *expected)
{
	assert_int_equal(rc, -1);
	assert_non_null(*error);
	assert_string_equal(*error, expected);
}

/* First column of the first row, read without the directory code. */
static int
sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static char *
sql_text(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Domains */

static void
test_domains_add_list_del(void **state)
{
	struct fixture *f = *state;
	struct dir_domain d;
	const char *error = NULL;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_domain_add(f->dir, "Beta.Example", 10485760,
	    &error), 0);
	assert_int_equal(dir_domain_add(f->dir, "a.test", 0, &error), 0);
	s = joined_domains(f->dir);
	assert_string_equal(s, "a.test beta.example example.org");
	free(s);

	assert_int_equal(dir_domain_lookup(f->dir, "BETA.example", f->pool,
	    &d, &error), 1);
	assert_string_equal(d.name, "beta.example");
	assert_true(d.active);
	assert_int_equal(d.max_message_size, 10485760);
	assert_int_equal(dir_domain_lookup(f->dir, "nosuch.org", f->pool, &d,
	    &error), 0);
	assert_int_equal(dir_domain_lookup(f->dir, "bad..domain", f->pool, &d,
	    &error), 0);

	assert_int_equal(dir_domain_del(f->dir, "A.TEST", &error), 0);
	s = joined_domains(f->dir);
	assert_string_equal(s, "beta.example example.org");
	free(s);
}

static void
test_domain_duplicate_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_error(dir_domain_add(f->dir, "example.org", 0, &error), &error,
	    "domain example.org already exists");
	assert_error(dir_domain_add(f->dir, "EXAMPLE.org", 0, &error), &error,
	    "domain example.org already exists");
}

static void
test_domain_unknown_refused(void **state)
{
	struct fixture *f = *state;
	struct dir_user u;
	const char *error = NULL, *other = NULL;

	assert_error(dir_domain_del(f->dir, "nosuch.org", &error), &error,
	    "unknown domain nosuch.org");
	assert_error(dir_domain_set_active(f->dir, "nosuch.org", false,
	    &error), &error, "unknown domain nosuch.org");
	assert_error(dir_user_list(f->dir, "nosuch.org", collect_user, NULL,
	    &error), &error, "unknown domain nosuch.org");
	assert_error(dir_alias_list(f->dir, "nosuch.org", collect_alias, NULL,
	    &error), &error, "unknown domain nosuch.org");

	/* Bad input to a lookup is "not found", and the message stays. */
	assert_int_equal(dir_user_lookup(f->dir, "bad", f->pool, &u, &other),
	    0);
	assert_string_equal(error, "unknown domain nosuch.org");
}

static void
test_domain_invalid_refused(void **state)
{
	static const char *const bad[] = {
		"", ".example.org", "example..org", "example.org.", "-a.org",
		"a-.org", "exa mple.org", "exa/mple.org", "a@b.org",
	};
	struct fixture *f = *state;
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(dir_domain_add(f->dir, bad[i], 0, &error), -1);
		assert_non_null(error);
	}
	assert_int_equal(dir_domain_add(f->dir, "x.org", UINT64_MAX, &error),
	    -1);
	assert_string_equal(error, "message size limit too large");
}

static void
test_domain_with_users_not_deleted(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "a@example.org", HASH, 0,
	    &error), 0);
	assert_int_equal(dir_user_add(f->dir, "b@example.org", HASH, 0,
	    &error), 0);
	assert_int_equal(dir_alias_add(f->dir, "c@example.org",
	    "a@example.org", &error), 0);
	assert_error(dir_domain_del(f->dir, "example.org", &error), &error,
	    "domain example.org still has 2 users and 1 alias; "
	    "delete them first");

	assert_int_equal(dir_user_del(f->dir, "a@example.org", &error), 0);
	assert_int_equal(dir_user_del(f->dir, "b@example.org", &error), 0);
	assert_error(dir_domain_del(f->dir, "example.org", &error), &error,
	    "domain example.org still has 1 alias; delete it first");
	assert_int_equal(dir_alias_del(f->dir, "c@example.org", NULL, &error),
	    0);
	assert_int_equal(dir_domain_del(f->dir, "example.org", &error), 0);
}

/* Users */

static void
test_user_unknown_domain_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	assert_error(dir_user_add(f->dir, "a@nosuch.org", HASH, 0, &error),
	    &error, "unknown domain nosuch.org");
}

static void
test_user_bad_addresses_refused(void **state)
{
	static const char *const bad[] = {
		"", "nolocal", "@example.org", "a/b@example.org",
		"../x@example.org", ".a@example.org", "a.@example.org",
		"a..b@example.org", "a@", "a@bad..org", "a b@example.org",
		"a@b@example.org", "a\r\n@example.org",
	};
	struct fixture *f = *state;
	const char *error;
	size_t i;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (dir_user_add(f->dir, bad[i], HASH, 0, &error) != -1)
			fail_msg("accepted user %s", bad[i]);
		assert_non_null(error);
	}
	assert_error(dir_user_add(f->dir, "a@example.org", "", 0, &error),
	    &error, "empty password hash for a@example.org");
	assert_error(dir_user_add(f->dir, "a@example.org", "$6$a b$c", 0,
	    &error), &error, "invalid password hash for a@example.org");
	assert_error(dir_user_add(f->dir, "a@example.org", HASH, UINT64_MAX,
	    &error), &error, "quota too large");
	s = joined_users(f->dir, NULL);
	assert_string_equal(s, "");
	free(s);
}

static void
test_user_case_insensitive(void **state)
{
	struct fixture *f = *state;
	struct dir_user u;
	const char *error = NULL;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "John.Doe@Example.ORG", HASH,
	    0, &error), 0);
	assert_int_equal(dir_user_lookup(f->dir, "john.doe@EXAMPLE.org",
	    f->pool, &u, &error), 1);
	assert_string_equal(u.address, "John.Doe@example.org");
	assert_string_equal(u.password_hash, HASH);
	assert_true(u.active);
	assert_error(dir_user_add(f->dir, "JOHN.DOE@example.org", HASH, 0,
	    &error), &error, "user JOHN.DOE@example.org already exists");
	assert_int_equal(dir_user_lookup(f->dir, "john@example.org", f->pool,
	    &u, &error), 0);
	assert_int_equal(dir_user_lookup(f->dir, "not an address", f->pool,
	    &u, &error), 0);
	s = joined_users(f->dir, "EXAMPLE.ORG");
	assert_string_equal(s, "John.Doe@example.org");
	free(s);
	assert_int_equal(dir_user_del(f->dir, "JOHN.doe@example.org", &error),
	    0);
	assert_error(dir_user_del(f->dir, "john.doe@example.org", &error),
	    &error, "no such user john.doe@example.org");
}

static void
test_user_quota_and_password(void **state)
{
	struct fixture *f = *state;
	struct dir_user u;
	const char *error = NULL;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "a@example.org", HASH,
	    1073741824, &error), 0);
	assert_int_equal(dir_user_lookup(f->dir, "a@example.org", f->pool, &u,
	    &error), 1);
	assert_int_equal(u.quota_bytes, 1073741824);

	assert_int_equal(dir_user_set_quota(f->dir, "A@example.org",
	    (uint64_t)5 << 40, &error), 0);
	assert_int_equal(dir_user_set_password(f->dir, "a@example.org",
	    "{SHA512-CRYPT}$6$x$y", &error), 0);
	assert_int_equal(dir_user_lookup(f->dir, "a@example.org", f->pool, &u,
	    &error), 1);
	assert_int_equal(u.quota_bytes, (uint64_t)5 << 40);
	assert_string_equal(u.password_hash, "{SHA512-CRYPT}$6$x$y");

	assert_error(dir_user_set_quota(f->dir, "b@example.org", 1, &error),
	    &error, "no such user b@example.org");
	assert_error(dir_user_set_password(f->dir, "b@example.org", HASH,
	    &error), &error, "no such user b@example.org");
	assert_error(dir_user_set_password(f->dir, "a@example.org", "",
	    &error), &error, "empty password hash for a@example.org");
	assert_error(dir_user_set_quota(f->dir, "a@example.org", UINT64_MAX,
	    &error), &error, "quota too large");
}

static void
test_set_active(void **state)
{
	struct fixture *f = *state;
	struct dir_domain d;
	struct dir_user u;
	const char *error = NULL;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "a@example.org", HASH, 0,
	    &error), 0);
	assert_int_equal(dir_user_set_active(f->dir, "a@example.org", false,
	    &error), 0);
	assert_int_equal(dir_user_lookup(f->dir, "a@example.org", f->pool, &u,
	    &error), 1);
	assert_false(u.active);
	s = joined_users(f->dir, NULL);
	assert_string_equal(s, "a@example.org(off)");
	free(s);
	assert_int_equal(dir_user_set_active(f->dir, "a@example.org", true,
	    &error), 0);
	assert_error(dir_user_set_active(f->dir, "b@example.org", true,
	    &error), &error, "no such user b@example.org");

	/* A disabled domain disables its users in lookups. */
	assert_int_equal(dir_domain_set_active(f->dir, "example.org", false,
	    &error), 0);
	assert_int_equal(dir_domain_lookup(f->dir, "example.org", f->pool, &d,
	    &error), 1);
	assert_false(d.active);
	assert_int_equal(dir_user_lookup(f->dir, "a@example.org", f->pool, &u,
	    &error), 1);
	assert_false(u.active);
	s = joined_domains(f->dir);
	assert_string_equal(s, "example.org(off)");
	free(s);
	assert_int_equal(dir_domain_set_active(f->dir, "example.org", true,
	    &error), 0);
	assert_int_equal(dir_user_lookup(f->dir, "a@example.org", f->pool, &u,
	    &error), 1);
	assert_true(u.active);
}

static void
test_users_listed_in_order(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "b.org", 0, &error), 0);
	assert_int_equal(dir_domain_add(f->dir, "a.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "zed@a.org", HASH, 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "Bob@a.org", HASH, 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "amy@b.org", HASH, 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "al@a.org", HASH, 0, &error), 0);
	s = joined_users(f->dir, NULL);
	assert_string_equal(s, "al@a.org amy@b.org Bob@a.org zed@a.org");
	free(s);
	s = joined_users(f->dir, "a.org");
	assert_string_equal(s, "al@a.org Bob@a.org zed@a.org");
	free(s);
}

/* Aliases */

static void
test_alias_add_list_del(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL, **dests;
	size_t n;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_domain_add(f->dir, "other.org", 0, &error), 0);
	assert_int_equal(dir_alias_add(f->dir, "team@Example.org",
	    "b@remote.net", &error), 0);
	assert_int_equal(dir_alias_add(f->dir, "team@example.org",
	    "a@example.org", &error), 0);
	assert_int_equal(dir_alias_add(f->dir, "@example.org",
	    "@Other.ORG", &error), 0);
	assert_int_equal(dir_alias_add(f->dir, "x@other.org",
	    "x@example.org", &error), 0);
	s = joined_aliases(f->dir, NULL);
	assert_string_equal(s, "@example.org>@other.org "
	    "team@example.org>a@example.org team@example.org>b@remote.net "
	    "x@other.org>x@example.org");
	free(s);
	s = joined_aliases(f->dir, "example.org");
	assert_string_equal(s, "@example.org>@other.org "
	    "team@example.org>a@example.org team@example.org>b@remote.net");
	free(s);

	assert_int_equal(dir_alias_lookup(f->dir, "TEAM@example.org", f->pool,
	    &dests, &n, &error), 1);
	assert_int_equal(n, 2);
	assert_string_equal(dests[0], "a@example.org");
	assert_string_equal(dests[1], "b@remote.net");
	assert_int_equal(dir_alias_lookup(f->dir, "@example.org", f->pool,
	    &dests, &n, &error), 1);
	assert_int_equal(n, 1);
	assert_string_equal(dests[0], "@other.org");
	assert_int_equal(dir_alias_lookup(f->dir, "nobody@example.org",
	    f->pool, &dests, &n, &error), 0);
	assert_int_equal(n, 0);

	assert_error(dir_alias_add(f->dir, "team@example.org",
	    "A@EXAMPLE.ORG", &error), &error,
	    "alias team@example.org -> A@example.org already exists");
	assert_int_equal(dir_alias_del(f->dir, "team@example.org",
	    "B@remote.net", &error), 0);
	assert_error(dir_alias_del(f->dir, "team@example.org",
	    "b@remote.net", &error), &error,
	    "no such alias team@example.org -> b@remote.net");
	assert_int_equal(dir_alias_add(f->dir, "team@example.org",
	    "c@example.org", &error), 0);
	assert_int_equal(dir_alias_del(f->dir, "team@example.org", NULL,
	    &error), 0);
	assert_error(dir_alias_del(f->dir, "team@example.org", NULL, &error),
	    &error, "no such alias team@example.org");
	s = joined_aliases(f->dir, "example.org");
	assert_string_equal(s, "@example.org>@other.org");
	free(s);
}

static void
test_alias_bad_input_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_error(dir_alias_add(f->dir, "a@nosuch.org", "b@example.org",
	    &error), &error, "unknown domain nosuch.org");
	assert_error(dir_alias_add(f->dir, "@nosuch.org", "@example.org",
	    &error), &error, "unknown domain nosuch.org");
	assert_int_equal(dir_alias_add(f->dir, "nodomain", "b@example.org",
	    &error), -1);
	assert_int_equal(dir_alias_add(f->dir, "a@example.org", "nodomain",
	    &error), -1);
	assert_int_equal(dir_alias_add(f->dir, "a@example.org", "@",
	    &error), -1);
	assert_int_equal(dir_alias_add(f->dir, "a@example.org", "@bad..org",
	    &error), -1);
	assert_int_equal(dir_alias_add(f->dir, "a@example.org",
	    "b@example.org, c@example.org", &error), -1);
	assert_int_equal(dir_alias_add(f->dir, "a@example.org", "", &error),
	    -1);
	s = joined_aliases(f->dir, NULL);
	assert_string_equal(s, "");
	free(s);
}

/* Reentrancy: a list callback may look things up and list again. */
struct nested {
	struct dir	*dir;
	struct strv	 out;
};

static void
nested_domain(const struct dir_domain *d, void *ctx)
{
	struct nested *n = ctx;
	const char *error = NULL;
	char *users;

	if (dir_user_list(n->dir, d->name, collect_user, &n->out,
	    &error) == -1)
		fail_msg("nested list: %s", error);
	users = joined_domains(n->dir);
	strv_push(&n->out, users);
	free(users);
}

static void
test_list_callback_may_query(void **state)
{
	struct fixture *f = *state;
	struct nested n = { f->dir, { NULL, 0 } };
	const char *error = NULL;
	char *s;

	assert_int_equal(dir_domain_add(f->dir, "a.org", 0, &error), 0);
	assert_int_equal(dir_domain_add(f->dir, "b.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "x@a.org", HASH, 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "y@b.org", HASH, 0, &error), 0);
	assert_int_equal(dir_domain_list(f->dir, nested_domain, &n, &error),
	    0);
	s = strv_join(&n.out, " ");
	assert_string_equal(s, "x@a.org a.org b.org y@b.org a.org b.org");
	free(s);
	strv_free(&n.out);
}

/* The file */

static void
test_schema_persists_after_reopen(void **state)
{
	struct fixture *f = *state;
	struct dir_user u;
	struct stat sb;
	const char *error = NULL, **dests;
	size_t n;
	char *mode;

	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_user_add(f->dir, "a@example.org", HASH, 7,
	    &error), 0);
	assert_int_equal(dir_alias_add(f->dir, "b@example.org",
	    "a@example.org", &error), 0);
	reopen(f);
	assert_int_equal(dir_user_lookup(f->dir, "a@example.org", f->pool, &u,
	    &error), 1);
	assert_int_equal(u.quota_bytes, 7);
	assert_int_equal(dir_alias_lookup(f->dir, "b@example.org", f->pool,
	    &dests, &n, &error), 1);
	assert_error(dir_domain_add(f->dir, "example.org", 0, &error), &error,
	    "domain example.org already exists");

	assert_int_equal(sql_int(f->cfg.sqlite_path, "PRAGMA user_version"),
	    1);
	mode = sql_text(f->cfg.sqlite_path, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(stat(f->cfg.sqlite_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0007, 0);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct dir *d2 = NULL;
	sqlite3 *db;

	dir_close(&f->dir);
	assert_int_equal(sqlite3_open(f->cfg.sqlite_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 2", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(dir_open(&f->cfg, &d2, &error), -1);
	assert_null(d2);
	assert_non_null(strstr(error, "schema version 2"));
}

static void
test_two_handles_share_the_file(void **state)
{
	struct fixture *f = *state;
	struct dir_domain d;
	struct dir *d2;
	const char *error = NULL;

	if (dir_open(&f->cfg, &d2, &error) == -1)
		fail_msg("dir_open: %s", error);
	assert_int_equal(dir_domain_add(f->dir, "example.org", 0, &error), 0);
	assert_int_equal(dir_domain_lookup(d2, "example.org", f->pool, &d,
	    &error), 1);
	assert_error(dir_domain_add(d2, "example.org", 0, &error), &error,
	    "domain example.org already exists");
	dir_close(&d2);
}

/* One child of the test below: add PER_WRITER domains, read each back. */
static void
writer(struct fixture *f, int i)
{
	struct dir_domain dd;
	struct dir *d;
	const char *error = "";
	char name[64];
	int j, failed;

	failed = dir_open(&f->cfg, &d, &error) == -1;
	for (j = 0; j < PER_WRITER && !failed; j++) {
		snprintf(name, sizeof(name), "w%d-%d.example", i, j);
		failed = dir_domain_add(d, name, 0, &error) == -1 ||
		    dir_domain_lookup(d, name, f->pool, &dd, &error) != 1;
	}
	if (failed)
		fprintf(stderr, "writer %d: %s\n", i, error);
	/* No exit handlers: the parent owns the fixture. */
	_exit(failed);
}

/* Server processes and admin commands share the file: processes that
 * create it at once, and concurrent writers, wait for each other (WAL, busy
 * timeout, BEGIN IMMEDIATE); none fails. */
static void
test_concurrent_writers_all_succeed(void **state)
{
	struct fixture *f = *state;
	struct strv sv = { NULL, 0 };
	const char *error = NULL;
	pid_t pids[NWRITERS];
	int i, status;

	/* A new file: the writers also race to create the schema. */
	free(f->cfg.sqlite_path);
	f->cfg.sqlite_path = xasprintf("%s/race.db", f->tmp);
	for (i = 0; i < NWRITERS; i++) {
		assert_true((pids[i] = fork()) != -1);
		if (pids[i] == 0)
			writer(f, i);
	}
	for (i = 0; i < NWRITERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	reopen(f);
	assert_int_equal(dir_domain_list(f->dir, collect_domain, &sv, &error),
	    0);
	assert_int_equal(sv.n, NWRITERS * PER_WRITER);
	strv_free(&sv);
}

static void
test_unopenable_file_refused(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	struct dir *d = NULL;
	const char *error = NULL;
	char *path;

	conf_defaults(&cfg, f->tmp);
	path = xasprintf("%s/no/such/dir/postie.db", f->tmp);
	free(cfg.sqlite_path);
	cfg.sqlite_path = path;
	assert_int_equal(dir_open(&cfg, &d, &error), -1);
	assert_null(d);
	assert_non_null(strstr(error, "cannot open"));
	free(cfg.directory_backend);
	cfg.directory_backend = xstrdup("ldap");
	assert_error(dir_open(&cfg, &d, &error), &error,
	    "unknown directory backend ldap");
	conf_free(&cfg);
}

/* Maildir paths */

static void
test_maildir_path(void **state)
{
	static const char *const bad[] = {
		"", "@example.org", "a@", "noat", "a/b@example.org",
		"../x@example.org", "..@example.org", ".@example.org",
		".hidden@example.org", "a@../etc", "a@..", "a@.example.org",
		"a@exa/mple.org", "a@example..org", "a/../../x@example.org",
		"a\n@example.org",
	};
	struct fixture *f = *state;
	char *p, *want;
	size_t i;

	p = dir_maildir_path(&f->cfg, "John.Doe@Example.org", f->pool);
	want = xasprintf("%s/example.org/John.Doe", f->cfg.mail_root);
	assert_non_null(p);
	assert_string_equal(p, want);
	free(want);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dir_maildir_path(&f->cfg, bad[i], f->pool) != NULL)
			fail_msg("path accepted for \"%s\"", bad[i]);
}

#define CASE(name, fn)	{ name, fn, setup, teardown, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		CASE("domains are added, listed by name and deleted",
		    test_domains_add_list_del),
		CASE("an existing domain cannot be added again",
		    test_domain_duplicate_refused),
		CASE("changing an unknown domain is refused",
		    test_domain_unknown_refused),
		CASE("invalid domain names are refused",
		    test_domain_invalid_refused),
		CASE("a domain with users or aliases is not deleted",
		    test_domain_with_users_not_deleted),
		CASE("a user in an unknown domain is refused",
		    test_user_unknown_domain_refused),
		CASE("malformed user addresses are refused",
		    test_user_bad_addresses_refused),
		CASE("users match case-insensitively and keep their case",
		    test_user_case_insensitive),
		CASE("quota and password can be changed",
		    test_user_quota_and_password),
		CASE("users and domains can be disabled",
		    test_set_active),
		CASE("users are listed by address",
		    test_users_listed_in_order),
		CASE("aliases are added, listed and deleted",
		    test_alias_add_list_del),
		CASE("bad alias sources and destinations are refused",
		    test_alias_bad_input_refused),
		CASE("a list callback may use the directory",
		    test_list_callback_may_query),
		CASE("the database keeps data and schema after reopen",
		    test_schema_persists_after_reopen),
		CASE("a database from a newer postie is refused",
		    test_newer_schema_refused),
		CASE("two handles on one file see each other's changes",
		    test_two_handles_share_the_file),
		CASE("processes creating and writing one file at once all succeed",
		    test_concurrent_writers_all_succeed),
		CASE("a file that cannot be opened or an unknown backend fails",
		    test_unopenable_file_refused),
		CASE("Maildir paths never leave mail_root",
		    test_maildir_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
