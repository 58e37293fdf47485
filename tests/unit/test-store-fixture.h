/* test-store-fixture: what the store's unit tests share (included by
 * test-mailbox.c and test-store-folder.c): a temporary user root per
 * test, deliveries through maildir_deliver(), files dropped by "other
 * programs", and short ways to open, sync and read views. */
#ifndef POSTIE_TEST_STORE_FIXTURE_H
#define POSTIE_TEST_STORE_FIXTURE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "store/maildir.h"
#include "store/store.h"

#define UNUSED	__attribute__((unused))

#define T(name, fn)	{ name, fn, setup, teardown, NULL }

static char root[256];		/* the temporary directory of one test */
static char mdir[512];		/* root/example.org/alice, the user root */

struct seen {
	uint32_t	 expunged[64];	/* uids, in report order */
	uint32_t	 exp_seq[64];
	size_t		 nexp;
	uint32_t	 flagged[64];
	size_t		 nflags;
	uint32_t	 exists;
	uint32_t	 recent;
	int		 nexists;
};

static UNUSED int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static UNUSED int
setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/postie-test-mailbox-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(mdir, sizeof(mdir), "%s/example.org/alice", root);
	return 0;
}

static UNUSED int
teardown(void **state)
{
	(void)state;
	store_drop_idle();	/* mailboxes the process kept loaded */
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A delivery as the queue manager makes it. */
static UNUSED void
deliver(const char *body)
{
	struct maildir_delivery d;
	const char *error = NULL;
	int fd = memfd_create("src", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	memset(&d, 0, sizeof(d));
	d.path = mdir;
	d.src_fd = fd;
	d.size = strlen(body);
	d.hostname = "mx.example.org";
	assert_int_equal(maildir_deliver(&d, NULL, 0, &error), MAILDIR_OK);
	close(fd);
}

/* A file written straight into the Maildir by another program. */
static UNUSED void
drop_file(const char *sub, const char *name, const char *data)
{
	char path[1200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", mdir, sub, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static UNUSED struct store_user *
user(void)
{
	return store_user_new(mdir, "mx.example.org");
}

static UNUSED struct store_view *
open_view(struct store_user *u, const char *name, bool ro)
{
	struct store_view *v = NULL;
	const char *error = NULL;

	assert_int_equal(store_view_open(u, name, ro ? STORE_OPEN_READONLY : 0,
	    &v, &error), STORE_OK);
	assert_non_null(v);
	return v;
}

static UNUSED void
on_expunge(void *arg, uint32_t seq, uint32_t uid)
{
	struct seen *s = arg;

	assert_true(s->nexp < 64);
	s->exp_seq[s->nexp] = seq;
	s->expunged[s->nexp++] = uid;
}

static UNUSED void
on_flags(void *arg, uint32_t seq, uint32_t uid)
{
	struct seen *s = arg;

	(void)seq;
	assert_true(s->nflags < 64);
	s->flagged[s->nflags++] = uid;
}

static UNUSED void
on_exists(void *arg, uint32_t exists, uint32_t recent)
{
	struct seen *s = arg;

	s->exists = exists;
	s->recent = recent;
	s->nexists++;
}

static UNUSED const struct store_sync_cb sync_cb = {
	on_expunge, on_flags, on_exists
};

static UNUSED void
sync_view(struct store_view *v, unsigned flags, struct seen *s)
{
	const char *error = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_view_sync(v, flags, &sync_cb, s, &error),
	    STORE_OK);
}

/* The message as IMAP would send it, NUL-terminated. */
static UNUSED char *
content(struct store_view *v, uint32_t seq)
{
	struct store_msg_data d;
	const char *error = NULL;
	char *s;

	assert_int_equal(store_msg_map(v, seq, &d, &error), STORE_OK);
	s = xstrndup((const char *)d.data, d.len);
	store_msg_release(&d);
	return s;
}

static UNUSED void
append(struct store_user *u, const char *box, const char *body,
    uint32_t *uid_r)
{
	const char *error = NULL;
	uint32_t uv;

	assert_int_equal(store_append_buf(u, box, body, strlen(body), 0, NULL,
	    0, 0, &uv, uid_r, &error), STORE_OK);
	assert_true(uv != 0 && *uid_r != 0);
}

static UNUSED bool
file_exists(const char *rel)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", mdir, rel);
	return access(path, F_OK) == 0;
}

static UNUSED uint32_t
uidvalidity_of(struct store_user *u, const char *box)
{
	struct store_status st;
	const char *error = NULL;

	assert_int_equal(store_status(u, box, STORE_ST_UIDVALIDITY, &st,
	    &error), STORE_OK);
	return st.uidvalidity;
}

static UNUSED void
make_maildir(const char *path)
{
	char buf[1200];
	const char *subs[] = { "", "/cur", "/new", "/tmp" };
	size_t i;
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(buf, 0700);
			*p = '/';
		}
	}
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, subs[i]);
		(void)mkdir(buf, 0700);
	}
}

#endif
