/* test-mailbox: the mailbox store (store/store.h) on a real Maildir in a
 * temporary directory: UIDs ascending and stable across reopen, pickup of
 * files other programs drop into new/, index and uidlist rebuilds, flag
 * changes and expunges seen by a second view, append/copy/move with UIDs,
 * \Recent for exactly one session, sizes of LF-only files, an existing
 * dovecot-uidlist, two processes appending at once, and IDLE's watch
 * firing on a delivery by maildir_deliver(). Folders and names are in
 * test-store-folder.c. */
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/pool.h"
#include "lib/xalloc.h"
#include "store/maildir.h"
#include "store/store.h"
#include "store/watch.h"
#include "test-store-fixture.h"

#define NPROC		2
#define PER_PROC	40

/*
 * UIDs.
 */

static void
test_uids_ascend_and_survive_reopen(void **state)
{
	struct store_user *u;
	struct store_view *v;
	char *c[3];
	uint32_t uid[3], i;

	(void)state;
	deliver("Subject: one\r\n\r\n1\r\n");
	deliver("Subject: two\r\n\r\n2\r\n");
	deliver("Subject: three\r\n\r\n3\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), 3);
	for (i = 0; i < 3; i++) {
		uid[i] = store_view_uid(v, i + 1);
		c[i] = content(v, i + 1);
		if (i > 0)
			assert_true(uid[i] > uid[i - 1]);
	}
	assert_int_equal(uid[0], 1);
	store_view_close(&v);
	/* Everything was dropped from memory: read back from disk. */
	v = open_view(u, "inbox", false);
	assert_int_equal(store_view_count(v), 3);
	for (i = 0; i < 3; i++) {
		char *again = content(v, i + 1);

		assert_int_equal(store_view_uid(v, i + 1), uid[i]);
		assert_string_equal(again, c[i]);
		free(again);
		free(c[i]);
	}
	/* The files moved to cur/ on SELECT; new/ is empty. */
	assert_true(file_exists("dovecot-uidlist"));
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_files_dropped_into_new_are_picked_up(void **state)
{
	struct store_user *u;
	struct store_view *v;
	struct seen s;
	char *c;

	(void)state;
	deliver("Subject: first\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), 1);
	sync_view(v, 0, &s);
	assert_int_equal(s.nexists, 0);
	drop_file("new", "1700000000.other.host", "Subject: dropped\n\nbody\n");
	sync_view(v, 0, &s);
	assert_int_equal(s.nexists, 1);
	assert_int_equal(s.exists, 2);
	assert_int_equal(s.recent, 2);	/* both are this session's */
	assert_int_equal(store_view_uid(v, 2), 2);
	c = content(v, 2);
	/* Bare LFs become CRLF, as IMAP sends them. */
	assert_string_equal(c, "Subject: dropped\r\n\r\nbody\r\n");
	free(c);
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_lf_only_file_reports_crlf_size(void **state)
{
	struct store_user *u;
	struct store_view *v;
	const char *error = NULL;
	uint64_t size;
	time_t date;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char path[1200];

	(void)state;
	u = user();
	v = open_view(u, "INBOX", false);
	store_view_close(&v);
	drop_file("cur", "1700000001.lf.host:2,S", "a\nb\r\nc\n");
	snprintf(path, sizeof(path), "%s/cur/1700000001.lf.host:2,S", mdir);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_msg_size(v, 1, &size, &error), STORE_OK);
	assert_int_equal(size, 9);	/* 7 octets, two bare LFs */
	assert_int_equal(store_msg_date(v, 1, &date, &error), STORE_OK);
	assert_int_equal(date, 1000000000);
	store_view_close(&v);
	/* From postie-index now, without reading the file. */
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_msg_size(v, 1, &size, &error), STORE_OK);
	assert_int_equal(size, 9);
	store_view_close(&v);
	store_user_free(&u);
}

/* The header alone, as IMAP would send it; *only_r: the body was left
 * unread. */
static char *
header_of(struct store_view *v, uint32_t seq, bool *only_r)
{
	struct store_msg_data d;
	const char *error = NULL;
	char *s;

	assert_int_equal(store_msg_map_header(v, seq, &d, &error), STORE_OK);
	s = xstrndup((const char *)d.data, d.len);
	*only_r = d.header_only;
	store_msg_release(&d);
	return s;
}

static void
test_header_is_read_without_the_body(void **state)
{
	struct store_user *u;
	struct store_view *v;
	const char *error = NULL;
	size_t big_len = 40 * 1024, i;
	char *big, *c;
	uint64_t size;
	bool only;

	(void)state;
	u = user();
	v = open_view(u, "INBOX", false);
	store_view_close(&v);
	drop_file("cur", "1700000001.crlf.host:2,", "A: 1\r\nB: 2\r\n\r\nbody\r\n");
	drop_file("cur", "1700000002.lf.host:2,", "A: 1\n\nbody\n\nmore\n");
	drop_file("cur", "1700000003.nobody.host:2,", "A: 1\r\nB: 2\r\n");
	drop_file("cur", "1700000004.empty.host:2,", "\r\nonly body\r\n");
	/* a header longer than the first read, its empty line beyond it */
	big = xmalloc(big_len + 32);
	for (i = 0; i + 1 < big_len; i += 10)
		memcpy(big + i, "X: 123456\n", 10);
	strcpy(big + i, "\nthe body\n");
	drop_file("cur", "1700000005.big.host:2,", big);
	v = open_view(u, "INBOX", false);

	c = header_of(v, 1, &only);
	assert_string_equal(c, "A: 1\r\nB: 2\r\n\r\n");
	assert_true(only);
	free(c);
	c = header_of(v, 2, &only);
	assert_string_equal(c, "A: 1\r\n\r\n");
	assert_true(only);
	free(c);
	c = header_of(v, 3, &only);	/* no body: the whole message */
	assert_string_equal(c, "A: 1\r\nB: 2\r\n");
	assert_false(only);
	free(c);
	c = header_of(v, 4, &only);
	assert_string_equal(c, "\r\n");
	assert_true(only);
	free(c);
	c = header_of(v, 5, &only);
	assert_true(only);
	assert_int_equal(strlen(c), (i / 10) * 11 + 2);
	assert_string_equal(c + strlen(c) - 13, "X: 123456\r\n\r\n");
	free(c);
	/* a header-only read does not change RFC822.SIZE */
	assert_int_equal(store_msg_size(v, 2, &size, &error), STORE_OK);
	assert_int_equal(size, 22);
	free(big);
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_digests_are_kept_per_message_and_kind(void **state)
{
	struct store_user *u;
	struct store_view *v, *v2;
	const char *data;
	char big[STORE_DIGEST_MAX + 1];
	size_t len;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	assert_false(store_msg_digest(v, 1, 0, &data, &len));
	store_msg_set_digest(v, 1, 0, "one", 3);
	store_msg_set_digest(v, 1, 2, "one-2", 5);
	store_msg_set_digest(v, 2, 0, "two", 3);
	store_msg_set_digest(v, 1, 0, "other", 5);	/* kept: the first */
	memset(big, 'x', sizeof(big));
	store_msg_set_digest(v, 2, 1, big, sizeof(big));	/* too big */
	store_msg_set_digest(v, 2, STORE_DIGEST_KINDS, "k", 1); /* no kind */
	assert_true(store_msg_digest(v, 1, 0, &data, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(data, "one", 3);
	assert_true(store_msg_digest(v, 1, 2, &data, &len));
	assert_memory_equal(data, "one-2", 5);
	assert_true(store_msg_digest(v, 2, 0, &data, &len));
	assert_memory_equal(data, "two", 3);
	assert_false(store_msg_digest(v, 2, 1, &data, &len));
	assert_false(store_msg_digest(v, 1, 1, &data, &len));
	assert_false(store_msg_digest(v, 3, 0, &data, &len));
	/* shared by the views of the process, kept while the mailbox is */
	v2 = open_view(u, "INBOX", true);
	assert_true(store_msg_digest(v2, 2, 0, &data, &len));
	store_view_close(&v);
	store_view_close(&v2);
	v = open_view(u, "INBOX", false);
	assert_true(store_msg_digest(v, 1, 0, &data, &len));
	store_view_close(&v);
	/* a new process starts without */
	store_drop_idle();
	v = open_view(u, "INBOX", false);
	assert_false(store_msg_digest(v, 1, 0, &data, &len));
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_many_digests_survive_table_growth(void **state)
{
	struct store_user *u;
	struct store_view *v;
	const char *data;
	char text[64];
	uint32_t i, n = 300;
	size_t len;
	int k;

	(void)state;
	for (i = 0; i < n; i++)
		deliver("Subject: m\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	for (i = 1; i <= n; i++) {
		k = snprintf(text, sizeof(text), "digest of %u", i);
		store_msg_set_digest(v, i, i % 3, text, (size_t)k);
	}
	for (i = 1; i <= n; i++) {
		k = snprintf(text, sizeof(text), "digest of %u", i);
		assert_true(store_msg_digest(v, i, i % 3, &data, &len));
		assert_int_equal(len, (size_t)k);
		assert_memory_equal(data, text, len);
		assert_false(store_msg_digest(v, i, (i + 1) % 3, &data, &len));
	}
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_lost_index_keeps_uids_lost_uidlist_changes_uidvalidity(void **state)
{
	struct store_user *u;
	struct store_view *v;
	char path[1200];
	uint32_t uv, uv2, uid3;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\r\n\r\n");
	deliver("Subject: c\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	uid3 = store_view_uid(v, 3);
	store_view_close(&v);
	uv = uidvalidity_of(u, "INBOX");
	snprintf(path, sizeof(path), "%s/postie-index", mdir);
	assert_int_equal(unlink(path), 0);
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_uid(v, 3), uid3);
	store_view_close(&v);
	assert_int_equal(uidvalidity_of(u, "INBOX"), uv);
	/* Without the uidlist, UIDs cannot be trusted: new UIDVALIDITY
	 * (in a process that had not loaded the mailbox). */
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", mdir);
	assert_int_equal(unlink(path), 0);
	store_drop_idle();
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), 3);
	assert_int_equal(store_view_uid(v, 1), 1);
	store_view_close(&v);
	uv2 = uidvalidity_of(u, "INBOX");
	assert_true(uv2 != uv);
	store_user_free(&u);
}

static void
test_uidlist_lost_while_loaded_is_rewritten_with_same_uids(void **state)
{
	struct store_user *u;
	struct store_view *v;
	struct seen s;
	char path[1200];
	uint32_t uv;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	uv = uidvalidity_of(u, "INBOX");
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", mdir);
	assert_int_equal(unlink(path), 0);
	deliver("Subject: c\r\n\r\n");
	sync_view(v, 0, &s);
	assert_int_equal(s.exists, 3);
	assert_int_equal(store_view_uid(v, 3), 3);
	assert_true(file_exists("dovecot-uidlist"));
	assert_int_equal(uidvalidity_of(u, "INBOX"), uv);
	store_view_close(&v);
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_uid(v, 3), 3);
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_new_uidvalidity_resets_open_views(void **state)
{
	struct store_user *u;
	struct store_view *v;
	const char *error = NULL;
	char path[1200], tmp[1300];
	struct seen s;
	FILE *f;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	/* Another program rebuilds the uidlist with new UIDs. */
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", mdir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "3 V7 N2 G0123456789abcdef0123456789abcdef\n");
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(store_view_sync(v, 0, &sync_cb, &s, &error),
	    STORE_RESET);
	store_view_close(&v);
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), 1);
	assert_int_equal(store_view_uid(v, 1), 2);
	store_view_close(&v);
	assert_int_equal(uidvalidity_of(u, "INBOX"), 7);
	store_user_free(&u);
}

static void
test_damaged_uidlist_record_loses_only_its_uid(void **state)
{
	struct store_user *u;
	struct store_view *v;
	char path[1200];
	FILE *f;

	(void)state;
	make_maildir(mdir);
	drop_file("cur", "100.a.host:2,", "A\r\n");
	drop_file("cur", "200.b.host:2,S", "B\r\n");
	drop_file("cur", "300.c.host:2,", "C\r\n");
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", mdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "3 V4242 N50 G0123456789abcdef0123456789abcdef\n"
	    "10 :100.a.host\n"
	    "garbage line\n"
	    "30 W3 :300.c.host\n");
	fclose(f);
	u = user();
	v = open_view(u, "INBOX", true);
	assert_int_equal(store_view_count(v), 3);
	assert_int_equal(store_view_uid(v, 1), 10);
	assert_int_equal(store_view_uid(v, 2), 30);
	/* 200.b had no good record: the next UID, after N50. */
	assert_int_equal(store_view_uid(v, 3), 50);
	store_view_close(&v);
	assert_int_equal(uidvalidity_of(u, "INBOX"), 4242);
	store_user_free(&u);
}

static void
test_existing_dovecot_uidlist_is_read(void **state)
{
	struct store_user *u;
	struct store_view *v;
	struct store_msg_info mi;
	struct seen s;
	char path[1200];
	FILE *f;

	(void)state;
	make_maildir(mdir);
	drop_file("cur", "1276528487.M364837P9451.kurkku,S=5,W=6:2,S",
	    "x\ny\r\n");
	drop_file("cur", "1276533073.M242911P3632.kurkku:2,Fa", "z\r\n");
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", mdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
	    "25006 :1276528487.M364837P9451.kurkku,S=5,W=6:2,\n"
	    "25017 W3 :1276533073.M242911P3632.kurkku\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/dovecot-keywords", mdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "0 $Junk\n1 NonJunk\n");
	fclose(f);
	u = user();
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), 2);
	assert_int_equal(store_view_uid(v, 1), 25006);
	assert_int_equal(store_view_uid(v, 2), 25017);
	assert_int_equal(store_view_msg(v, 1, &mi), 0);
	assert_int_equal(mi.flags & STORE_F_ALL, STORE_F_SEEN);
	assert_int_equal(store_view_msg(v, 2, &mi), 0);
	assert_int_equal(mi.flags & STORE_F_ALL, STORE_F_FLAGGED);
	assert_int_equal(mi.keywords, 1);
	{
		size_t n;
		const char *const *kw = store_view_keywords(v, &n);

		assert_int_equal(n, 2);
		assert_string_equal(kw[0], "$Junk");
	}
	deliver("Subject: new\r\n\r\n");
	sync_view(v, 0, &s);
	assert_int_equal(s.exists, 3);
	assert_int_equal(store_view_uid(v, 3), 25022);
	store_view_close(&v);
	assert_int_equal(uidvalidity_of(u, "INBOX"), 1275660208);
	store_user_free(&u);
}

static void
test_version_1_uidlist_is_read(void **state)
{
	struct store_user *u;
	struct store_view *v;
	char path[1200];
	FILE *f;

	(void)state;
	make_maildir(mdir);
	drop_file("cur", "111.a:2,S", "a\r\n");
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", mdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "1 1173189136 20221\n20220 111.a:2,S\n");
	fclose(f);
	u = user();
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_uid(v, 1), 20220);
	store_view_close(&v);
	assert_int_equal(uidvalidity_of(u, "INBOX"), 1173189136);
	store_user_free(&u);
}

/*
 * Two views.
 */

static void
test_flag_change_is_seen_by_a_second_view(void **state)
{
	struct store_user *u;
	struct store_view *v1, *v2;
	struct store_msg_info mi;
	struct store_range r = { 1, 1 };
	const char *error = NULL;
	struct dirent *de;
	struct seen s;
	char from[1600], to[1600], name[512] = "";
	DIR *d;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\r\n\r\n");
	u = user();
	v1 = open_view(u, "INBOX", false);
	v2 = open_view(u, "INBOX", false);
	assert_int_equal(store_view_update_flags(v1, &r, 1, STORE_FLAGS_ADD,
	    STORE_F_SEEN | STORE_F_ANSWERED, 0, &error), STORE_OK);
	assert_int_equal(store_view_msg(v1, 1, &mi), 0);
	assert_int_equal(mi.flags & STORE_F_ALL, STORE_F_SEEN |
	    STORE_F_ANSWERED);
	/* The session that changed it is not told again. */
	sync_view(v1, 0, &s);
	assert_int_equal(s.nflags, 0);
	sync_view(v2, STORE_SYNC_NO_DISK, &s);
	assert_int_equal(s.nflags, 1);
	assert_int_equal(s.flagged[0], 1);
	assert_int_equal(store_view_msg(v2, 1, &mi), 0);
	assert_true(mi.flags & STORE_F_SEEN);
	/* A rename by another program is seen too. */
	snprintf(from, sizeof(from), "%s/cur", mdir);
	d = opendir(from);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ":2,RS") != NULL)
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(d);
	assert_true(name[0] != '\0');
	snprintf(from, sizeof(from), "%s/cur/%s", mdir, name);
	snprintf(to, sizeof(to), "%s/cur/%.*s:2,FRS", mdir,
	    (int)(strchr(name, ':') - name), name);
	assert_int_equal(rename(from, to), 0);
	sync_view(v2, 0, &s);
	assert_int_equal(s.nflags, 1);
	assert_int_equal(store_view_msg(v2, 1, &mi), 0);
	assert_true(mi.flags & STORE_F_FLAGGED);
	sync_view(v1, 0, &s);
	assert_int_equal(s.nflags, 1);
	/* v1's name for the file was stale: the change still works. */
	assert_int_equal(store_view_update_flags(v1, &r, 1,
	    STORE_FLAGS_REMOVE, STORE_F_FLAGGED, 0, &error), STORE_OK);
	store_view_close(&v1);
	store_view_close(&v2);
	store_user_free(&u);
}

static void
test_stale_name_is_found_again_by_base(void **state)
{
	struct store_user *u;
	struct store_view *v;
	struct store_msg_info mi;
	struct store_range r = { 1, 1 };
	const char *error = NULL;
	struct dirent *de;
	char dir[1200], from[1600], to[1600];
	char *c;
	DIR *d;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	/* Another process flags it without this one noticing. */
	snprintf(dir, sizeof(dir), "%s/cur", mdir);
	d = opendir(dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, de->d_name);
		snprintf(to, sizeof(to), "%s/%.*s:2,T", dir,
		    (int)(strchr(de->d_name, ':') - de->d_name), de->d_name);
	}
	closedir(d);
	assert_int_equal(rename(from, to), 0);
	c = content(v, 1);
	assert_string_equal(c, "Subject: a\r\n\r\n");
	free(c);
	assert_int_equal(store_view_update_flags(v, &r, 1, STORE_FLAGS_ADD,
	    STORE_F_SEEN, 0, &error), STORE_OK);
	assert_int_equal(store_view_msg(v, 1, &mi), 0);
	/* Its \Deleted stayed: the change applies to the current name. */
	assert_int_equal(mi.flags & STORE_F_ALL, STORE_F_SEEN |
	    STORE_F_DELETED);
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_expunge_reaches_a_second_view_by_uid(void **state)
{
	struct store_user *u;
	struct store_view *v1, *v2;
	struct store_msg_info mi;
	struct store_range r = { 2, 3 };
	const char *error = NULL;
	struct seen s;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\r\n\r\n");
	deliver("Subject: c\r\n\r\n");
	deliver("Subject: d\r\n\r\n");
	u = user();
	v1 = open_view(u, "INBOX", false);
	v2 = open_view(u, "INBOX", false);
	assert_int_equal(store_view_update_flags(v1, &r, 1, STORE_FLAGS_ADD,
	    STORE_F_DELETED, 0, &error), STORE_OK);
	assert_int_equal(store_view_expunge(v1, NULL, 0, &error), STORE_OK);
	/* During a FETCH: the expunged ones keep their numbers. */
	sync_view(v2, STORE_SYNC_NO_EXPUNGE, &s);
	assert_int_equal(s.nexp, 0);
	assert_int_equal(store_view_count(v2), 4);
	assert_int_equal(store_view_msg(v2, 2, &mi), 0);
	assert_true(mi.expunged);
	assert_int_equal(mi.uid, 2);
	assert_int_equal(store_view_uid(v2, 4), 4);
	assert_int_equal(store_view_seq(v2, 4), 4);
	/* Now it may hear: seqs as RFC 3501 numbers them, one by one. */
	sync_view(v2, 0, &s);
	assert_int_equal(s.nexp, 2);
	assert_int_equal(s.expunged[0], 2);
	assert_int_equal(s.exp_seq[0], 2);
	assert_int_equal(s.expunged[1], 3);
	assert_int_equal(s.exp_seq[1], 2);
	assert_int_equal(store_view_count(v2), 2);
	assert_int_equal(store_view_uid(v2, 2), 4);
	/* The expunging session hears of its own expunges too. */
	sync_view(v1, 0, &s);
	assert_int_equal(s.nexp, 2);
	/* UID EXPUNGE touches only the given UIDs. */
	r.first = 1;
	r.last = 2;
	assert_int_equal(store_view_update_flags(v1, &r, 1, STORE_FLAGS_ADD,
	    STORE_F_DELETED, 0, &error), STORE_OK);
	r.first = r.last = 4;
	assert_int_equal(store_view_expunge(v1, &r, 1, &error), STORE_OK);
	sync_view(v1, 0, &s);
	assert_int_equal(s.nexp, 1);
	assert_int_equal(s.expunged[0], 4);
	assert_int_equal(store_view_count(v1), 1);
	store_view_close(&v1);
	store_view_close(&v2);
	store_user_free(&u);
}

static void
test_recent_belongs_to_one_session(void **state)
{
	struct store_user *u;
	struct store_view *v1, *v2, *ro;
	struct store_view_info info;
	struct store_msg_info mi;
	struct seen s1, s2;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	u = user();
	ro = open_view(u, "INBOX", true);
	store_view_info(ro, &info);
	assert_int_equal(info.recent, 1);
	v1 = open_view(u, "INBOX", false);
	store_view_info(v1, &info);
	assert_int_equal(info.recent, 1);
	v2 = open_view(u, "INBOX", false);
	store_view_info(v2, &info);
	assert_int_equal(info.recent, 0);
	deliver("Subject: b\r\n\r\n");
	sync_view(v2, 0, &s2);
	sync_view(v1, 0, &s1);
	assert_int_equal(s2.recent, 1);
	assert_int_equal(s1.recent, 1);	/* its first one, not the new */
	assert_int_equal(store_view_msg(v2, 2, &mi), 0);
	assert_true(mi.flags & STORE_F_RECENT);
	assert_int_equal(store_view_msg(v1, 2, &mi), 0);
	assert_false(mi.flags & STORE_F_RECENT);
	store_view_close(&ro);
	store_view_close(&v1);
	store_view_close(&v2);
	/* POP3 may expunge, but leaves \Recent to IMAP. */
	deliver("Subject: c\r\n\r\n");
	{
		const char *error = NULL;

		assert_int_equal(store_view_open(u, "INBOX",
		    STORE_OPEN_NORECENT, &v1, &error), STORE_OK);
		store_view_info(v1, &info);
		assert_int_equal(info.recent, 1);
		store_view_close(&v1);
	}
	v2 = open_view(u, "INBOX", false);
	store_view_info(v2, &info);
	assert_int_equal(info.recent, 1);
	store_view_close(&v2);
	store_user_free(&u);
}

/*
 * Append, copy, move.
 */

static void
test_append_copy_move_give_uids(void **state)
{
	struct store_user *u;
	struct store_view *v, *w;
	struct store_range r = { 1, 2 };
	struct store_msg_info mi;
	const char *error = NULL, *kws[] = { "Work" };
	uint32_t uid, uv, *src, *dst;
	struct pool *pool;
	struct seen s;
	time_t date;
	size_t n;
	char *c;

	(void)state;
	u = user();
	append(u, "INBOX", "Subject: 1\r\n\r\n", &uid);
	assert_int_equal(uid, 1);
	assert_int_equal(store_append_buf(u, "INBOX", "Subject: 2\r\n\r\n", 14,
	    STORE_F_SEEN | STORE_F_FLAGGED, kws, 1, 1234567890, &uv, &uid,
	    &error), STORE_OK);
	assert_int_equal(uid, 2);
	assert_int_equal(store_append_buf(u, "Nope", "x", 1, 0, NULL, 0, 0,
	    &uv, &uid, &error), STORE_NONEXISTENT);
	assert_int_equal(store_create(u, "Work", &error), STORE_OK);
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_msg(v, 2, &mi), 0);
	assert_int_equal(mi.flags & STORE_F_ALL, STORE_F_SEEN |
	    STORE_F_FLAGGED);
	assert_int_equal(mi.keywords, 1);
	assert_int_equal(store_msg_date(v, 2, &date, &error), STORE_OK);
	assert_int_equal(date, 1234567890);
	pool = pool_new(NULL);
	assert_int_equal(store_view_copy(v, &r, 1, "Work", false, pool, &uv,
	    &src, &dst, &n, &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(src[0], 1);
	assert_int_equal(dst[0], 1);
	assert_int_equal(src[1], 2);
	assert_int_equal(dst[1], 2);
	assert_int_equal(uv, uidvalidity_of(u, "Work"));
	r.first = r.last = 1;
	assert_int_equal(store_view_copy(v, &r, 1, "Work", true, pool, &uv,
	    &src, &dst, &n, &error), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(dst[0], 3);
	sync_view(v, 0, &s);
	assert_int_equal(s.nexp, 1);
	assert_int_equal(s.expunged[0], 1);
	assert_int_equal(store_view_count(v), 1);
	w = open_view(u, "Work", false);
	assert_int_equal(store_view_count(w), 3);
	assert_int_equal(store_view_msg(w, 2, &mi), 0);
	assert_int_equal(mi.flags & STORE_F_ALL, STORE_F_SEEN |
	    STORE_F_FLAGGED);
	{
		size_t nk;
		const char *const *kw = store_view_keywords(w, &nk);

		assert_true(mi.keywords != 0);
		assert_string_equal(kw[__builtin_ctz(mi.keywords)], "Work");
	}
	c = content(w, 3);
	assert_string_equal(c, "Subject: 1\r\n\r\n");
	free(c);
	assert_int_equal(store_view_copy(v, &r, 1, "Nope", false, pool, &uv,
	    &src, &dst, &n, &error), STORE_NONEXISTENT);
	pool_free(&pool);
	store_view_close(&w);
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_status_counts_without_a_view(void **state)
{
	struct store_user *u;
	struct store_status st;
	const char *error = NULL;
	uint32_t uid;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	deliver("Subject: b\n\n");
	u = user();
	assert_int_equal(store_status(u, "INBOX", STORE_ST_MESSAGES |
	    STORE_ST_SIZE, &st, &error), STORE_OK);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.recent, 2);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.uidnext, 3);
	assert_int_equal(st.size, 14 + 14);	/* "b" has two bare LFs */
	assert_true(st.highest_modseq > 0);
	/* STATUS moves nothing and claims nothing. */
	assert_int_equal(store_status(u, "INBOX", 0, &st, &error), STORE_OK);
	assert_int_equal(st.recent, 2);
	append(u, "INBOX", "x\r\n", &uid);
	assert_int_equal(store_status(u, "INBOX", 0, &st, &error), STORE_OK);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.uidnext, 4);
	assert_int_equal(store_status(u, "Nope", 0, &st, &error),
	    STORE_NONEXISTENT);
	store_user_free(&u);
}

static void
test_keywords_go_into_dovecot_keywords(void **state)
{
	struct store_user *u;
	struct store_view *v;
	struct store_range r = { 1, 1 };
	struct store_msg_info mi;
	const char *error = NULL;
	char name[32];
	unsigned idx, i;
	char *data;
	FILE *f;
	char path[1200];
	long len;

	(void)state;
	deliver("Subject: a\r\n\r\n");
	u = user();
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_keyword(v, "Todo", false, &idx, &error),
	    STORE_NONEXISTENT);
	assert_int_equal(store_view_keyword(v, "Todo", true, &idx, &error),
	    STORE_OK);
	assert_int_equal(idx, 0);
	assert_int_equal(store_view_keyword(v, "todo", false, &idx, &error),
	    STORE_OK);
	assert_int_equal(store_view_update_flags(v, &r, 1, STORE_FLAGS_ADD,
	    0, 1U << idx, &error), STORE_OK);
	assert_int_equal(store_view_msg(v, 1, &mi), 0);
	assert_int_equal(mi.keywords, 1);
	snprintf(path, sizeof(path), "%s/dovecot-keywords", mdir);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	data = xcalloc(1, (size_t)len + 1);
	assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	assert_string_equal(data, "0 Todo\n");
	free(data);
	for (i = 1; i < STORE_KEYWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "k%u", i);
		assert_int_equal(store_view_keyword(v, name, true, &idx,
		    &error), STORE_OK);
	}
	assert_int_equal(store_view_keyword(v, "one-too-many", true, &idx,
	    &error), STORE_LIMIT);
	assert_int_equal(store_view_keyword(v, "bad(atom", true, &idx,
	    &error), STORE_LIMIT);
	store_view_close(&v);
	store_user_free(&u);
}

static void
test_dovecot_dotlock_is_respected(void **state)
{
	struct store_user *u;
	struct store_view *v;
	const char *error = NULL;
	char path[1200], host[256], content[300];
	uint32_t uid, uv;
	FILE *f;

	(void)state;
	u = user();
	v = open_view(u, "INBOX", false);
	store_view_close(&v);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/dovecot-uidlist.lock", mdir);
	/* A live holder (this process stands in for Dovecot): wait, then
	 * give up. */
	snprintf(content, sizeof(content), "%ld:%s\n", (long)getpid(), host);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(store_append_buf(u, "INBOX", "x\r\n", 3, 0, NULL, 0,
	    0, &uv, &uid, &error), STORE_INUSE);
	/* A holder that died: its lock is taken over. */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d:%s\n", 0x7ffffff0, host);
	fclose(f);
	append(u, "INBOX", "y\r\n", &uid);
	assert_int_equal(uid, 1);
	assert_false(file_exists("dovecot-uidlist.lock"));
	store_user_free(&u);
}

/*
 * Processes.
 */

/* A child: appends, delivers and syncs; writes "uid body" lines. */
static void
child(int id, int outfd)
{
	struct store_user *u = user();
	struct store_view *v;
	const char *error = NULL;
	char body[64], line[128];
	uint32_t uid, uv;
	struct seen s;
	int i, n;

	if (store_view_open(u, "INBOX", 0, &v, &error) != STORE_OK)
		_exit(2);
	for (i = 0; i < PER_PROC; i++) {
		snprintf(body, sizeof(body), "Subject: p%d-%d\r\n\r\n", id, i);
		if (store_append_buf(u, "INBOX", body, strlen(body), 0, NULL, 0,
		    0, &uv, &uid, &error) != STORE_OK)
			_exit(3);
		n = snprintf(line, sizeof(line), "%u %d %d\n", uid, id, i);
		if (write(outfd, line, (size_t)n) != n)
			_exit(4);
		if (i % 4 == 0)
			deliver("Subject: delivered\r\n\r\n");
		if (store_view_sync(v, 0, &sync_cb, &s, &error) != STORE_OK)
			_exit(5);
	}
	store_view_close(&v);
	store_user_free(&u);
	_exit(0);
}

static void
test_two_processes_never_share_a_uid(void **state)
{
	struct store_user *u;
	struct store_view *v;
	char path[1200], line[256], *c;
	uint32_t uid, seen_uids[NPROC * PER_PROC];
	size_t nseen = 0, i, j;
	pid_t pid[NPROC];
	int status, p;
	FILE *f;

	(void)state;
	u = user();
	v = open_view(u, "INBOX", false);	/* creates everything */
	store_view_close(&v);
	snprintf(path, sizeof(path), "%s/../uids", mdir);
	for (p = 0; p < NPROC; p++) {
		char out[1300];
		int fd;

		snprintf(out, sizeof(out), "%s.%d", path, p);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		pid[p] = fork();
		assert_true(pid[p] >= 0);
		if (pid[p] == 0)
			child(p, fd);
		close(fd);
	}
	for (p = 0; p < NPROC; p++) {
		assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), NPROC * PER_PROC +
	    NPROC * ((PER_PROC + 3) / 4));
	for (i = 2; i <= store_view_count(v); i++)
		assert_true(store_view_uid(v, i) > store_view_uid(v, i - 1));
	/* Each APPENDUID names the message it was given for. */
	for (p = 0; p < NPROC; p++) {
		char in[1300];

		snprintf(in, sizeof(in), "%s.%d", path, p);
		f = fopen(in, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL) {
			int id, k;
			char want[64];

			assert_int_equal(sscanf(line, "%u %d %d", &uid, &id,
			    &k), 3);
			for (j = 0; j < nseen; j++)
				assert_true(seen_uids[j] != uid);
			seen_uids[nseen++] = uid;
			c = content(v, store_view_seq(v, uid));
			snprintf(want, sizeof(want),
			    "Subject: p%d-%d\r\n\r\n", id, k);
			assert_string_equal(c, want);
			free(c);
		}
		fclose(f);
	}
	assert_int_equal(nseen, NPROC * PER_PROC);
	store_view_close(&v);
	store_user_free(&u);
}

/*
 * IDLE.
 */

static bool with_inotify = true;	/* the first run of the tests */

static void
on_watch(void *arg)
{
	int *fired = arg;

	(*fired)++;
}

static void
test_watch_fires_on_delivery(void **state)
{
	struct event_base *base = event_base_new();
	struct store_user *u;
	struct store_view *v, *v2;
	struct timeval tv = { 2, 0 };
	const char *error = NULL;
	struct timespec t0, t1;
	struct seen s;
	int fired = 0, fired2 = 0, status;
	pid_t pid;

	(void)state;
	assert_non_null(base);
	u = user();
	v = open_view(u, "INBOX", false);
	v2 = open_view(u, "INBOX", true);
	assert_int_equal(store_view_watch(v, base, on_watch, &fired, &error),
	    STORE_OK);
	assert_int_equal(store_view_watch(v2, base, on_watch, &fired2,
	    &error), STORE_OK);
	assert_int_equal(store_watch_dirs(), 1);	/* shared */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(20000);
		deliver("Subject: idle\r\n\r\n");
		_exit(0);
	}
	event_base_loopexit(base, &tv);
	while (fired == 0 && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(fired >= 1);
	assert_true(fired2 >= 1);
	/* Well under a second from the delivery. */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	sync_view(v, 0, &s);
	assert_int_equal(s.exists, 1);
	store_view_unwatch(v2);
	assert_int_equal(store_watch_dirs(), 1);
	store_view_close(&v);
	store_view_close(&v2);
	/* The last view gone, the mailbox stays loaded (and watched, with
	 * inotify) for the next SELECT, until the process lets its idle
	 * mailboxes go. */
	assert_int_equal(store_watch_dirs(), with_inotify ? 1 : 0);
	v = open_view(u, "INBOX", false);
	assert_int_equal(store_view_count(v), 1);
	store_view_close(&v);
	store_drop_idle();
	assert_int_equal(store_watch_dirs(), 0);
	store_user_free(&u);
	event_base_free(base);
}

static void
test_watch_follows_a_renamed_folder(void **state)
{
	struct event_base *base = event_base_new();
	struct store_user *u;
	struct store_view *va, *vb, *vg;
	struct maildir_delivery d;
	struct timeval tv = { 2, 0 };
	const char *error = NULL;
	struct seen s;
	int fired_a = 0, fired_b = 0, fd;

	(void)state;
	u = user();
	assert_int_equal(store_create(u, "A", &error), STORE_OK);
	va = open_view(u, "A", false);
	assert_int_equal(store_view_watch(va, base, on_watch, &fired_a,
	    &error), STORE_OK);
	assert_int_equal(store_rename(u, "A", "B", &error), STORE_OK);
	/* The same directories under another name, in the same process. */
	vb = open_view(u, "B", false);
	assert_int_equal(store_view_watch(vb, base, on_watch, &fired_b,
	    &error), STORE_OK);
	/* And a new folder where the old name was. */
	assert_int_equal(store_create(u, "A", &error), STORE_OK);
	vg = open_view(u, "A", false);
	fd = memfd_create("src", 0);
	assert_int_equal(write(fd, "x\r\n", 3), 3);
	memset(&d, 0, sizeof(d));
	d.path = mdir;
	d.folder = "B";
	d.src_fd = fd;
	d.size = 3;
	assert_int_equal(maildir_deliver(&d, NULL, 0, &error), MAILDIR_OK);
	close(fd);
	event_base_loopexit(base, &tv);
	while (fired_b == 0 && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	assert_true(fired_b >= 1);
	sync_view(vb, 0, &s);
	assert_int_equal(s.exists, 1);
	sync_view(vg, 0, &s);
	assert_int_equal(s.nexists, 0);
	assert_int_equal(store_view_sync(va, 0, &sync_cb, &s, &error),
	    STORE_RESET);
	store_view_close(&va);
	store_view_close(&vb);
	store_view_close(&vg);
	store_drop_idle();
	assert_int_equal(store_watch_dirs(), 0);
	store_user_free(&u);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("uids ascend and survive reopen",
		    test_uids_ascend_and_survive_reopen),
		T("files dropped into new are picked up",
		    test_files_dropped_into_new_are_picked_up),
		T("lf only file reports crlf size",
		    test_lf_only_file_reports_crlf_size),
		T("header is read without the body",
		    test_header_is_read_without_the_body),
		T("digests are kept per message and kind",
		    test_digests_are_kept_per_message_and_kind),
		T("many digests survive table growth",
		    test_many_digests_survive_table_growth),
		T("lost index keeps uids, lost uidlist changes uidvalidity",
		    test_lost_index_keeps_uids_lost_uidlist_changes_uidvalidity),
		T("uidlist lost while loaded is rewritten with same uids",
		    test_uidlist_lost_while_loaded_is_rewritten_with_same_uids),
		T("new uidvalidity resets open views",
		    test_new_uidvalidity_resets_open_views),
		T("damaged uidlist record loses only its uid",
		    test_damaged_uidlist_record_loses_only_its_uid),
		T("existing dovecot uidlist is read",
		    test_existing_dovecot_uidlist_is_read),
		T("version 1 uidlist is read", test_version_1_uidlist_is_read),
		T("flag change is seen by a second view",
		    test_flag_change_is_seen_by_a_second_view),
		T("stale name is found again by base",
		    test_stale_name_is_found_again_by_base),
		T("expunge reaches a second view by uid",
		    test_expunge_reaches_a_second_view_by_uid),
		T("recent belongs to one session",
		    test_recent_belongs_to_one_session),
		T("append copy move give uids",
		    test_append_copy_move_give_uids),
		T("status counts without a view",
		    test_status_counts_without_a_view),
		T("keywords go into dovecot-keywords",
		    test_keywords_go_into_dovecot_keywords),
		T("dovecot dotlock is respected",
		    test_dovecot_dotlock_is_respected),
		T("two processes never share a uid",
		    test_two_processes_never_share_a_uid),
		T("watch fires on delivery", test_watch_fires_on_delivery),
		T("watch follows a renamed folder",
		    test_watch_follows_a_renamed_folder),
	};

	int failed;

	failed = cmocka_run_group_tests_name("with inotify", tests, NULL, NULL);
	/* Again as on a system without inotify: stamps only. */
	store_watch_enable_polling(0);
	with_inotify = false;
	failed += cmocka_run_group_tests_name("without inotify", tests, NULL,
	    NULL);
	return failed;
}
