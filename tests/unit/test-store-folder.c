/* test-store-folder: folders of a user root (store/store.h) on a real
 * Maildir in a temporary directory: CREATE with parents, DELETE leaving
 * \Noselect parents, RENAME with children and of INBOX (messages move with
 * their UIDs), folders made by other tools, special-use folders at the
 * first login, subscriptions, LIST patterns, and mailbox names that try
 * to leave the root, refused by every entry point. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "store/maildir.h"
#include "store/store.h"
#include "test-store-fixture.h"

/*
 * Folders.
 */

static unsigned
attrs_of(struct store_user *u, const char *name, bool *found_r)
{
	struct store_folder *f;
	const char *error = NULL;
	struct pool *pool = pool_new(NULL);
	unsigned a = 0;
	size_t n, i;

	*found_r = false;
	assert_int_equal(store_list(u, pool, false, &f, &n, &error),
	    STORE_OK);
	for (i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) == 0) {
			*found_r = true;
			a = f[i].attrs;
		}
	}
	if (n > 0)
		assert_string_equal(f[0].name, "INBOX");
	pool_free(&pool);
	return a;
}

static void
test_folders_create_delete_rename_list(void **state)
{
	struct store_user *u;
	const char *error = NULL;
	unsigned a;
	bool found;

	(void)state;
	u = user();
	assert_int_equal(store_create(u, "A.B.C", &error), STORE_OK);
	assert_int_equal(store_create(u, "A.B", &error), STORE_EXISTS);
	assert_int_equal(store_create(u, "inbox", &error), STORE_EXISTS);
	a = attrs_of(u, "A", &found);
	assert_true(found);
	assert_int_equal(a & (STORE_LA_NOSELECT | STORE_LA_HASCHILDREN),
	    STORE_LA_HASCHILDREN);
	a = attrs_of(u, "A.B.C", &found);
	assert_true(found && (a & STORE_LA_HASNOCHILDREN));
	/* A deleted parent with children becomes \Noselect. */
	assert_int_equal(store_delete(u, "A", &error), STORE_OK);
	a = attrs_of(u, "A", &found);
	assert_true(found);
	assert_true(a & STORE_LA_NOSELECT);
	assert_int_equal(store_delete(u, "A", &error), STORE_CANNOT);
	assert_int_equal(store_delete(u, "INBOX", &error), STORE_CANNOT);
	assert_int_equal(store_delete(u, "Zzz", &error), STORE_NONEXISTENT);
	/* Children move with a rename. */
	assert_int_equal(store_rename(u, "A.B", "X", &error), STORE_OK);
	(void)attrs_of(u, "X.C", &found);
	assert_true(found);
	(void)attrs_of(u, "A.B.C", &found);
	assert_false(found);
	(void)attrs_of(u, "A", &found);
	assert_false(found);
	assert_int_equal(store_rename(u, "X", "X.Y", &error), STORE_CANNOT);
	assert_int_equal(store_rename(u, "Nope", "Q", &error),
	    STORE_NONEXISTENT);
	assert_int_equal(store_create(u, "Q", &error), STORE_OK);
	assert_int_equal(store_rename(u, "X", "Q", &error), STORE_EXISTS);
	/* A child landing on an existing name: nothing moves at all. */
	assert_int_equal(store_create(u, "Y.C", &error), STORE_OK);
	assert_int_equal(store_rename(u, "X", "Y", &error), STORE_EXISTS);
	(void)attrs_of(u, "X.C", &found);
	assert_true(found);
	/* INBOX may move under itself: its children stay. */
	assert_int_equal(store_rename(u, "INBOX", "INBOX.old", &error),
	    STORE_OK);
	(void)attrs_of(u, "INBOX.old", &found);
	assert_true(found);
	/* A folder another tool made appears; so does its \Noselect parent. */
	make_maildir(mdir);
	{
		char path[1200];

		snprintf(path, sizeof(path), "%s/.P.Q", mdir);
		make_maildir(path);
	}
	a = attrs_of(u, "P", &found);
	assert_true(found);
	assert_true((a & STORE_LA_NOSELECT) && (a & STORE_LA_HASCHILDREN));
	(void)attrs_of(u, "P.Q", &found);
	assert_true(found);
	store_user_free(&u);
}

static void
test_inbox_rename_moves_messages_with_uids(void **state)
{
	struct store_user *u;
	struct store_view *v;
	struct store_status st;
	const char *error = NULL;
	uint32_t uv, uid;
	char *c;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\r\n\r\n");
	u = user();
	uv = uidvalidity_of(u, "INBOX");
	assert_int_equal(store_rename(u, "INBOX", "Old.Mail", &error),
	    STORE_OK);
	assert_int_equal(store_status(u, "INBOX", 0, &st, &error), STORE_OK);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidvalidity, uv);
	assert_int_equal(st.uidnext, 3);
	v = open_view(u, "Old.Mail", false);
	assert_int_equal(store_view_count(v), 2);
	assert_int_equal(store_view_uid(v, 2), 2);
	c = content(v, 2);
	assert_string_equal(c, "Subject: b\r\n\r\n");
	free(c);
	store_view_close(&v);
	/* INBOX goes on without reusing a UID. */
	append(u, "INBOX", "Subject: c\r\n\r\n", &uid);
	assert_int_equal(uid, 3);
	assert_int_equal(store_rename(u, "INBOX", "Old.Mail", &error),
	    STORE_EXISTS);
	store_user_free(&u);
}

static void
test_deleted_folder_resets_open_views(void **state)
{
	struct store_user *u;
	struct store_view *v;
	const char *error = NULL;
	struct seen s;
	uint32_t uv;

	(void)state;
	u = user();
	assert_int_equal(store_create(u, "Gone", &error), STORE_OK);
	v = open_view(u, "Gone", false);
	uv = uidvalidity_of(u, "Gone");
	assert_int_equal(store_delete(u, "Gone", &error), STORE_OK);
	assert_int_equal(store_view_sync(v, 0, &sync_cb, &s, &error),
	    STORE_RESET);
	store_view_close(&v);
	/* Made again: a new UIDVALIDITY, even within the same second. */
	assert_int_equal(store_create(u, "Gone", &error), STORE_OK);
	assert_true(uidvalidity_of(u, "Gone") != uv);
	store_user_free(&u);
}

static void
test_special_folders_and_subscriptions(void **state)
{
	struct store_user *u;
	struct store_folder *f;
	const char *error = NULL;
	struct pool *pool;
	unsigned a;
	size_t n, i;
	bool found;

	(void)state;
	u = user();
	assert_int_equal(store_user_prepare(u, &error), STORE_OK);
	a = attrs_of(u, "Sent", &found);
	assert_true(found && (a & STORE_LA_SENT) && (a & STORE_LA_SUBSCRIBED));
	a = attrs_of(u, "Trash", &found);
	assert_true(found && (a & STORE_LA_TRASH));
	/* Deleted by the user, it stays deleted at the next login. */
	assert_int_equal(store_delete(u, "Junk", &error), STORE_OK);
	assert_int_equal(store_user_prepare(u, &error), STORE_OK);
	(void)attrs_of(u, "Junk", &found);
	assert_false(found);
	assert_int_equal(store_subscribe(u, "Some.Thing", true, &error),
	    STORE_OK);
	assert_int_equal(store_subscribe(u, "Sent", false, &error), STORE_OK);
	assert_int_equal(store_subscribe(u, "../x", true, &error),
	    STORE_BADNAME);
	pool = pool_new(NULL);
	assert_int_equal(store_list(u, pool, true, &f, &n, &error), STORE_OK);
	found = false;
	for (i = 0; i < n; i++) {
		assert_true(strcmp(f[i].name, "Sent") != 0);
		if (strcmp(f[i].name, "Some.Thing") == 0) {
			found = true;
			assert_true(f[i].attrs & STORE_LA_NOSELECT);
			assert_true(f[i].attrs & STORE_LA_SUBSCRIBED);
		}
		if (strcmp(f[i].name, "Some") == 0)
			assert_false(f[i].attrs & STORE_LA_SUBSCRIBED);
	}
	assert_true(found);
	pool_free(&pool);
	store_user_free(&u);
}

/*
 * Names.
 */

static void
test_names_that_escape_are_refused(void **state)
{
	static const char *const bad[] = {
		"../x", "a/../../b", "/etc", ".", "..", "a..b", "a/b", ".a",
		"a.", "", "x\001y", "tab\there", "del\177", "wild*", "wild%",
		"caf\xc3\xa9", "a.b..c", "..a",
	};
	static const char *const good[] = {
		"INBOX", "Sent", "A.B.C", "&AOk-t&AOk-", "Work Stuff",
		"a-b_c~d", "[Gmail].All",
	};
	char canon[STORE_NAME_MAX + 1], big[STORE_NAME_MAX + 2];
	struct store_user *u;
	const char *error = NULL;
	uint32_t uid, uv;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_false(store_name_check(bad[i], canon, sizeof(canon),
		    &error));
		assert_non_null(error);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(store_name_check(good[i], canon, sizeof(canon),
		    &error));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(store_name_check(big, canon, sizeof(canon), &error));
	big[STORE_NAME_MAX] = '\0';
	assert_true(store_name_check(big, canon, sizeof(canon), &error));
	assert_true(store_name_check("iNbOx", canon, sizeof(canon), &error));
	assert_string_equal(canon, "INBOX");
	assert_true(store_name_check("inbox.Sub", canon, sizeof(canon),
	    &error));
	assert_string_equal(canon, "INBOX.Sub");
	assert_false(store_name_bytes_ok("a\0../../etc", 11, &error));
	assert_true(store_name_bytes_ok("Sent", 4, &error));
	/* Every entry point refuses them, and nothing is created. */
	u = user();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store_view *v = NULL;
		struct store_status st;

		assert_int_equal(store_create(u, bad[i], &error),
		    STORE_BADNAME);
		assert_int_equal(store_delete(u, bad[i], &error),
		    STORE_BADNAME);
		assert_int_equal(store_rename(u, "INBOX", bad[i], &error),
		    STORE_BADNAME);
		assert_int_equal(store_view_open(u, bad[i], 0, &v, &error),
		    STORE_BADNAME);
		assert_int_equal(store_status(u, bad[i], 0, &st, &error),
		    STORE_BADNAME);
		assert_int_equal(store_append_buf(u, bad[i], "x", 1, 0, NULL,
		    0, 0, &uv, &uid, &error), STORE_BADNAME);
	}
	assert_false(file_exists("../x"));
	assert_false(file_exists("../../b"));
	store_user_free(&u);
}

static void
test_list_patterns(void **state)
{
	(void)state;
	assert_true(store_name_match("*", "A.B.C"));
	assert_true(store_name_match("%", "A"));
	assert_false(store_name_match("%", "A.B"));
	assert_true(store_name_match("A.%", "A.B"));
	assert_false(store_name_match("A.%", "A.B.C"));
	assert_true(store_name_match("A*C", "A.B.C"));
	assert_true(store_name_match("inbox", "INBOX"));
	assert_true(store_name_match("Inbox.%", "INBOX.x"));
	assert_false(store_name_match("sent", "Sent"));
	assert_true(store_name_match("%.%.%", "a.b.c"));
	assert_true(store_name_match("*%*%", "ab"));
	assert_false(store_name_match("a%b", "a.b"));
	assert_true(store_name_match("", "") );
	assert_false(store_name_match("", "a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("folders create delete rename list",
		    test_folders_create_delete_rename_list),
		T("inbox rename moves messages with uids",
		    test_inbox_rename_moves_messages_with_uids),
		T("deleted folder resets open views",
		    test_deleted_folder_resets_open_views),
		T("special folders and subscriptions",
		    test_special_folders_and_subscriptions),
		T("names that escape are refused",
		    test_names_that_escape_are_refused),
		T("list patterns", test_list_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
