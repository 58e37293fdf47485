/* test-imap-seq: imap-seq.c against a real view. A mailbox whose UIDs
 * have gaps (1 3 5 after expunging 2 and 4): sequence sets must name
 * existing messages ("*" is the last one, a number past the end is an
 * error), UID sets skip what is not there and map onto sequence ranges
 * (merged), "n:*" with n above the highest UID still names the last
 * message (RFC 3501 6.4.8), and an empty mailbox. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap-private.h"
#include "lib/pool.h"

#define T(name, fn)	{ name, fn, setup, teardown, NULL }

struct fixture {
	char			 root[64];
	struct store_user	*u;
	struct store_view	*v;
	struct imap_session	 s;
	struct pool		*pool;
};

struct seq_case {
	const char	*set;
	bool		 uid;
	int		 r;
	const char	*ranges;	/* "1-3 5-5" */
};

static int	 rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw);
static int	 setup(void **state);
static int	 teardown(void **state);
static void	 append(struct fixture *f, unsigned n);
static void	 open_view(struct fixture *f);
static char	*format(const struct store_range *r, size_t n);
static void	 run_cases(struct fixture *f, const struct seq_case *c,
		    size_t n);
static void	 test_gaps(void **state);
static void	 test_empty(void **state);
static void	 test_uid_ranges(void **state);

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error;

	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/postie-test-imap-seq-XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	f->u = store_user_new(f->root, "test.example");
	if (store_user_prepare(f->u, &error) != STORE_OK)
		return -1;
	f->pool = pool_new(NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int r;

	store_view_close(&f->v);
	store_user_free(&f->u);
	pool_free(&f->pool);
	r = nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return r;
}

static void
append(struct fixture *f, unsigned n)
{
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	uint32_t validity, uid;
	const char *error;
	unsigned i;

	for (i = 0; i < n; i++)
		assert_int_equal(store_append_buf(f->u, "INBOX", msg,
		    sizeof(msg) - 1, 0, NULL, 0, 0, &validity, &uid, &error),
		    STORE_OK);
}

static void
open_view(struct fixture *f)
{
	const char *error;

	assert_int_equal(store_view_open(f->u, "INBOX", false, &f->v, &error),
	    STORE_OK);
	memset(&f->s, 0, sizeof(f->s));
	f->s.view = f->v;
	f->s.state = IMAP_SELECTED;
}

static char *
format(const struct store_range *r, size_t n)
{
	static char out[256];
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u-%u",
		    i > 0 ? " " : "", r[i].first, r[i].last);
	return out;
}

static void
run_cases(struct fixture *f, const struct seq_case *c, size_t n)
{
	struct store_range *r;
	const char *error;
	size_t i, nr;
	int rc;

	for (i = 0; i < n; i++) {
		error = NULL;
		rc = imap_seq_resolve(&f->s, c[i].set, c[i].uid, f->pool, &r,
		    &nr, &error);
		if (rc != c[i].r)
			fail_msg("%s%s: got %d, want %d", c[i].uid ? "UID " : "",
			    c[i].set, rc, c[i].r);
		if (rc == 0) {
			if (strcmp(format(r, nr), c[i].ranges) != 0)
				fail_msg("%s%s: got \"%s\", want \"%s\"",
				    c[i].uid ? "UID " : "", c[i].set,
				    format(r, nr), c[i].ranges);
		} else
			assert_non_null(error);
	}
}

/* UIDs 1 3 5 as sequence numbers 1 2 3. */
static void
test_gaps(void **state)
{
	static const struct seq_case cases[] = {
		{ "1:*", false, 0, "1-3" },
		{ "*", false, 0, "3-3" },
		{ "2", false, 0, "2-2" },
		{ "3,1", false, 0, "1-1 3-3" },
		{ "3:1", false, 0, "1-3" },
		{ "1,2,3", false, 0, "1-3" },
		{ "4", false, -1, NULL },
		{ "2:4", false, -1, NULL },
		{ "0", false, -1, NULL },
		{ "x", false, -1, NULL },
		{ "$", false, -1, NULL },
		{ "1:*", true, 0, "1-3" },
		{ "2", true, 0, "" },
		{ "2:4", true, 0, "2-2" },
		{ "4:5", true, 0, "3-3" },
		{ "1,3,5", true, 0, "1-3" },
		{ "1,5", true, 0, "1-1 3-3" },
		{ "100", true, 0, "" },
		{ "100:*", true, 0, "3-3" },
		{ "*", true, 0, "3-3" },
		{ "0", true, -1, NULL },
	};
	struct fixture *f = *state;
	struct store_range del[2] = { { 2, 2 }, { 4, 4 } };
	struct store_sync_cb cb = { NULL, NULL, NULL };
	const char *error;

	append(f, 5);
	open_view(f);
	assert_int_equal(store_view_count(f->v), 5);
	assert_int_equal(store_view_update_flags(f->v, del, 2,
	    STORE_FLAGS_ADD, STORE_F_DELETED, 0, &error), STORE_OK);
	assert_int_equal(store_view_expunge(f->v, NULL, 0, &error), STORE_OK);
	assert_int_equal(store_view_sync(f->v, 0, &cb, NULL, &error),
	    STORE_OK);
	assert_int_equal(store_view_count(f->v), 3);
	assert_int_equal(store_view_uid(f->v, 2), 3);
	run_cases(f, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_empty(void **state)
{
	static const struct seq_case cases[] = {
		{ "*", false, 0, "" },
		{ "1", false, -1, NULL },
		{ "1:*", false, -1, NULL },
		{ "1:*", true, 0, "" },
		{ "*", true, 0, "" },
		{ "7", true, 0, "" },
	};
	struct fixture *f = *state;

	open_view(f);
	assert_int_equal(store_view_count(f->v), 0);
	run_cases(f, cases, sizeof(cases) / sizeof(cases[0]));
}

/* UID EXPUNGE's sets stay UIDs; "*" is the highest UID in the view. */
static void
test_uid_ranges(void **state)
{
	struct fixture *f = *state;
	struct store_range *r;
	const char *error;
	size_t n;

	append(f, 4);
	open_view(f);
	assert_int_equal(imap_uid_ranges(&f->s, "2:3,*", f->pool, &r, &n,
	    &error), 0);
	assert_string_equal(format(r, n), "2-4");
	assert_int_equal(imap_uid_ranges(&f->s, "9,1", f->pool, &r, &n,
	    &error), 0);
	assert_string_equal(format(r, n), "1-1 9-9");
	assert_int_equal(imap_uid_ranges(&f->s, "1:", f->pool, &r, &n,
	    &error), -1);
	assert_non_null(error);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("sequence and UID sets over a mailbox with UID gaps",
		    test_gaps),
		T("sets in an empty mailbox", test_empty),
		T("UID EXPUNGE sets stay UIDs, * is the highest", test_uid_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
