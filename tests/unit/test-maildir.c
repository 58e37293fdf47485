/* test-maildir: maildir_deliver() writes prefix + body exactly into new/
 * under a Dovecot-style unique name, creates what is missing, honours
 * folders and quota, leaves nothing in tmp/ and stays correct with many
 * threads; maildir_usage() and maildir_valid_folder() on their own. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/xalloc.h"
#include "store/maildir.h"

#define NTHREADS	8
#define PER_THREAD	50
#define PREFIX		"Return-Path: <s@example.org>\r\n" \
			"Delivered-To: alice@example.org\r\n"

static char root[256];		/* the temporary directory of one test */
static char mdir[512];		/* root/example.org/alice, the Maildir */
static char thread_paths[NTHREADS][PER_THREAD][1024];

static int	 rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw);
static int	 setup(void **state);
static int	 teardown(void **state);
static int	 source_fd(const void *data, size_t len);
static void	 fill_delivery(struct maildir_delivery *d, int fd,
		    uint64_t size);
static int	 count_files(const char *dir, const char *sub);
static char	*slurp(const char *path, size_t *len_r);
static void	 put_file(const char *dir, const char *name, size_t size);
static void	 assert_unique_name(const char *path, const char *host);
static void	 deliver_ok(const void *body, size_t len, off_t offset,
		    char *path, size_t pathlen);

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
	(void)state;
	snprintf(root, sizeof(root), "/tmp/postie-test-maildir-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(mdir, sizeof(mdir), "%s/example.org/alice", root);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A source file (the queue file) holding data, outside the Maildir. */
static int
source_fd(const void *data, size_t len)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/src-XXXXXX", root);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static void
fill_delivery(struct maildir_delivery *d, int fd, uint64_t size)
{
	memset(d, 0, sizeof(*d));
	d->path = mdir;
	d->prefix = PREFIX;
	d->prefix_len = strlen(PREFIX);
	d->src_fd = fd;
	d->size = size;
	d->hostname = "mx.example.org";
}

/* Entries of mdir/dir/sub not starting with '.'; -1 if it is missing. */
static int
count_files(const char *dir, const char *sub)
{
	char path[2200];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", mdir, dir, sub);
	if ((dp = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

static char *
slurp(const char *path, size_t *len_r)
{
	struct stat st;
	char *data;
	int fd;

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, data, (size_t)st.st_size + 1),
	    st.st_size);
	close(fd);
	*len_r = (size_t)st.st_size;
	return data;
}

/* A message file of size octets, as another program may have left it. */
static void
put_file(const char *dir, const char *name, size_t size)
{
	char path[1200], *data = xcalloc(1, size + 1);
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", mdir, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
	free(data);
}

/* "<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>" with S= the file size. */
static void
assert_unique_name(const char *path, const char *host)
{
	regex_t re;
	regmatch_t m[3];
	const char *name = strrchr(path, '/') + 1;
	struct stat st;
	char pid[32];

	assert_int_equal(regcomp(&re,
	    "^[0-9]+\\.M[0-9]{1,6}P([0-9]+)Q[0-9]+\\.(.+),S=[0-9]+$",
	    REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, name, 3, m, 0), 0);
	regfree(&re);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_int_equal((size_t)(m[1].rm_eo - m[1].rm_so), strlen(pid));
	assert_memory_equal(name + m[1].rm_so, pid, strlen(pid));
	assert_int_equal((size_t)(m[2].rm_eo - m[2].rm_so), strlen(host));
	assert_memory_equal(name + m[2].rm_so, host, strlen(host));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(strtoull(strstr(name, ",S=") + 3, NULL, 10),
	    (unsigned long long)st.st_size);
}

/* Deliver len octets of body (placed at offset in the source) and check
 * that the file in new/ holds the prefix and exactly that body. */
static void
deliver_ok(const void *body, size_t len, off_t offset, char *path,
    size_t pathlen)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char *src = xcalloc(1, (size_t)offset + len + 7), *got;
	size_t glen, plen = strlen(PREFIX);
	int fd;

	memset(src, 'J', (size_t)offset);
	if (len > 0)
		memcpy(src + offset, body, len);
	memset(src + offset + len, 'T', 7);	/* must not be copied */
	fd = source_fd(src, (size_t)offset + len + 7);
	fill_delivery(&d, fd, len);
	d.src_offset = offset;
	assert_int_equal(maildir_deliver(&d, path, pathlen, &error),
	    MAILDIR_OK);
	close(fd);
	free(src);

	assert_non_null(strstr(path, "/new/"));
	assert_unique_name(path, "mx.example.org");
	got = slurp(path, &glen);
	assert_int_equal(glen, plen + len);
	assert_memory_equal(got, PREFIX, plen);
	if (len > 0)
		assert_memory_equal(got + plen, body, len);
	free(got);
	assert_int_equal(count_files("", "tmp"), 0);
}

static void
test_delivery_creates_maildir_and_writes_prefix_and_binary_body(void **state)
{
	static const unsigned char body[] = {
		'S', 'u', 'b', ':', ' ', 'x', '\r', '\n', '\r', '\n',
		0x00, 0xff, 0x80, '\n', '\r', 0x01, 0x7f, 0x00,
	};
	char path[1024], dir[1024];
	size_t i;

	(void)state;
	deliver_ok(body, sizeof(body), 0, path, sizeof(path));
	assert_int_equal(strncmp(path, mdir, strlen(mdir)), 0);
	for (i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", mdir,
		    (const char *[]){ "cur", "new", "tmp" }[i]);
		assert_int_equal(access(dir, F_OK), 0);
	}
	assert_int_equal(count_files("", "new"), 1);
	assert_int_equal(count_files("", "cur"), 0);
}

static void
test_a_3mb_body_is_copied_exactly(void **state)
{
	size_t len = 3 * 1024 * 1024 + 17, i;
	unsigned char *body = xmalloc(len);
	char path[1024];

	(void)state;
	for (i = 0; i < len; i++)
		body[i] = (unsigned char)(i * 131 + (i >> 13));
	deliver_ok(body, len, 0, path, sizeof(path));
	free(body);
}

static void
test_an_empty_body_leaves_the_prefix_alone(void **state)
{
	char path[1024], want[32];

	(void)state;
	deliver_ok("", 0, 0, path, sizeof(path));
	snprintf(want, sizeof(want), ",S=%zu", strlen(PREFIX));
	assert_non_null(strstr(path, want));
}

static void
test_body_is_read_from_the_source_offset(void **state)
{
	static const char body[] = "Subject: offset\r\n\r\nhello\r\n";
	char path[1024];

	(void)state;
	deliver_ok(body, strlen(body), 4099, path, sizeof(path));
}

static void
test_source_outside_the_maildir_file_system_is_copied(void **state)
{
	static const char body[] = "Subject: memfd\r\n\r\nfrom shm\r\n";
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024], *got;
	size_t glen;
	int fd;

	(void)state;
	/* A memfd lives on tmpfs: copy_file_range() may refuse (EXDEV)
	 * and the read/write path must give the same file. */
	fd = memfd_create("queue", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "xx", 2), 2);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	fill_delivery(&d, fd, strlen(body));
	d.src_offset = 2;
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	close(fd);
	got = slurp(path, &glen);
	assert_int_equal(glen, strlen(PREFIX) + strlen(body));
	assert_memory_equal(got + strlen(PREFIX), body, strlen(body));
	free(got);
}

static void
test_short_source_is_tempfail_and_leaves_tmp_empty(void **state)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024] = "";
	int fd;

	(void)state;
	fd = source_fd("only ten..", 10);
	fill_delivery(&d, fd, 11);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_TEMPFAIL);
	assert_string_equal(error, "queue file truncated");
	/* At an offset past the end, nothing at all can be read. */
	fill_delivery(&d, fd, 1);
	d.src_offset = 10;
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_TEMPFAIL);
	assert_string_equal(error, "queue file truncated");
	close(fd);
	assert_int_equal(count_files("", "tmp"), 0);
	assert_int_equal(count_files("", "new"), 0);
}

static void
test_unwritable_tmp_is_tempfail(void **state)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024];
	int fd;

	(void)state;
	/* tmp/ that is a file: what root cannot write either. */
	snprintf(path, sizeof(path), "%s/example.org", root);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(mdir, 0700), 0);
	put_file("", "tmp", 0);
	fd = source_fd("x", 1);
	fill_delivery(&d, fd, 1);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_TEMPFAIL);
	assert_non_null(error);
	close(fd);
	assert_int_equal(count_files("", "new"), 0);
}

static void
test_path_buffer_too_small_is_tempfail_and_writes_nothing(void **state)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char path[16];
	int fd;

	(void)state;
	fd = source_fd("x", 1);
	fill_delivery(&d, fd, 1);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_TEMPFAIL);
	close(fd);
	assert_int_equal(count_files("", "new"), 0);
	assert_int_equal(count_files("", "tmp"), 0);
}

static void
test_name_escapes_host_and_counts_up(void **state)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char p1[1024], p2[1024];
	int fd;

	(void)state;
	fd = source_fd("body", 4);
	fill_delivery(&d, fd, 4);
	d.hostname = "odd/host:name";
	assert_int_equal(maildir_deliver(&d, p1, sizeof(p1), &error),
	    MAILDIR_OK);
	assert_int_equal(maildir_deliver(&d, p2, sizeof(p2), &error),
	    MAILDIR_OK);
	close(fd);
	assert_unique_name(p1, "odd\\057host\\072name");
	assert_unique_name(p2, "odd\\057host\\072name");
	assert_string_not_equal(p1, p2);
	assert_null(strchr(strrchr(p1, '/') + 1, ':'));
	assert_int_equal(count_files("", "new"), 2);
}

static void
test_folder_delivery_goes_into_existing_folder(void **state)
{
	static const char *const folders[] = { "Lists", "Lists.Work" };
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024], dir[1024], want[1100];
	size_t i;
	int fd;

	(void)state;
	fd = source_fd("body", 4);
	fill_delivery(&d, fd, 4);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	for (i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/.%s", mdir, folders[i]);
		assert_int_equal(mkdir(dir, 0700), 0);
		/* Only new/: cur/ and tmp/ are created on delivery. */
		snprintf(dir, sizeof(dir), "%s/.%s/new", mdir, folders[i]);
		assert_int_equal(mkdir(dir, 0700), 0);
		d.folder = folders[i];
		assert_int_equal(maildir_deliver(&d, path, sizeof(path),
		    &error), MAILDIR_OK);
		snprintf(want, sizeof(want), "%s/.%s/new/", mdir, folders[i]);
		assert_int_equal(strncmp(path, want, strlen(want)), 0);
		snprintf(dir, sizeof(dir), ".%s", folders[i]);
		assert_int_equal(count_files(dir, "new"), 1);
		assert_int_equal(count_files(dir, "cur"), 0);
		assert_int_equal(count_files(dir, "tmp"), 0);
	}
	close(fd);
	assert_int_equal(count_files("", "new"), 1);
}

static void
test_missing_folder_falls_back_to_inbox(void **state)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024], want[1100];
	int fd;

	(void)state;
	fd = source_fd("body", 4);
	fill_delivery(&d, fd, 4);
	d.folder = "Nonexistent";
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	close(fd);
	snprintf(want, sizeof(want), "%s/new/", mdir);
	assert_int_equal(strncmp(path, want, strlen(want)), 0);
	snprintf(want, sizeof(want), "%s/.Nonexistent", mdir);
	assert_int_equal(access(want, F_OK), -1);
}

static void
test_bad_folder_names_are_refused_and_nothing_is_created(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", ".Hidden", "a/b", "../etc", "a..b", "Trail.",
		"tab\there", "nl\n", "del\x7f",
	};
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024];
	size_t i;
	int fd;

	(void)state;
	fd = source_fd("body", 4);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fill_delivery(&d, fd, 4);
		d.folder = bad[i];
		assert_int_equal(maildir_deliver(&d, path, sizeof(path),
		    &error), MAILDIR_BAD_FOLDER);
		assert_non_null(error);
	}
	close(fd);
	assert_int_equal(access(mdir, F_OK), -1);
}

static void
test_valid_folder_table(void **state)
{
	static const struct {
		const char	*name;
		bool		 valid;
	} cases[] = {
		{ "Sent", true },
		{ "Lists.Work", true },
		{ "a.b.c", true },
		{ "With space", true },
		{ "Entw&APw-rfe", true },	/* modified UTF-7 */
		{ "caf\xc3\xa9", true },	/* 8-bit octets are allowed */
		{ "x", true },
		{ "", false },
		{ ".", false },
		{ "..", false },
		{ ".Sent", false },
		{ "Sent.", false },
		{ "a..b", false },
		{ "a/b", false },
		{ "/abs", false },
		{ "ctl\x01", false },
		{ "cr\r", false },
		{ "del\x7f", false },
	};
	char longname[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (maildir_valid_folder(cases[i].name) != cases[i].valid)
			fail_msg("case \"%s\": expected %d", cases[i].name,
			    cases[i].valid);
	}
	assert_false(maildir_valid_folder(NULL));
	memset(longname, 'a', sizeof(longname));
	longname[255] = '\0';
	assert_true(maildir_valid_folder(longname));
	longname[255] = 'a';
	longname[256] = '\0';
	assert_false(maildir_valid_folder(longname));
}

static void
test_quota_refuses_over_and_allows_exactly_at_quota(void **state)
{
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024], dir[1024];
	uint64_t plen = strlen(PREFIX), used;
	int fd;

	(void)state;
	fd = source_fd("0123456789", 10);
	fill_delivery(&d, fd, 10);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	/* A folder counts too. */
	snprintf(dir, sizeof(dir), "%s/.Junk", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	d.folder = "Junk";
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	assert_int_equal(maildir_usage(mdir, &used, &error), 0);
	assert_int_equal(used, 2 * (plen + 10));

	d.folder = NULL;
	d.quota_bytes = 3 * (plen + 10) - 1;
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OVER_QUOTA);
	assert_string_equal(error, "mailbox full");
	assert_int_equal(count_files("", "new"), 1);
	assert_int_equal(count_files("", "tmp"), 0);

	d.quota_bytes = 3 * (plen + 10);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	assert_int_equal(count_files("", "new"), 2);
	/* Exactly full: an empty message still fits, one octet does not. */
	d.size = 0;
	d.prefix_len = 0;
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	d.size = 1;
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OVER_QUOTA);
	/* A message larger than the whole quota on an empty Maildir. */
	d.quota_bytes = 1;
	d.path = root;
	d.size = 2;
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OVER_QUOTA);
	close(fd);
}

static void
test_usage_sums_inbox_and_folders_and_stats_odd_names(void **state)
{
	const char *error = NULL;
	char dir[1024];
	uint64_t used = 12345;

	(void)state;
	/* No Maildir yet: nothing used. */
	assert_int_equal(maildir_usage(mdir, &used, &error), 0);
	assert_int_equal(used, 0);

	snprintf(dir, sizeof(dir), "%s/example.org", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(mdir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/new", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/cur", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/tmp", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.Sent", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.Sent/cur", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.A.B", mdir);	/* nested, no cur/ */
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.A.B/new", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/NotAFolder", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/NotAFolder/new", mdir);
	assert_int_equal(mkdir(dir, 0700), 0);

	/* S= wins over the real size (no stat), with or without flags. */
	put_file("", "new/1.M1P1Q1.h,S=1000", 3);
	put_file("", "cur/2.M1P1Q2.h,S=2000,W=2050:2,S", 3);
	put_file("", "cur/3.M1P1Q3.h,W=9,S=30:2,", 3);
	/* No valid S=: stat. */
	put_file("", "cur/legacy.12345.host:2,RS", 7);
	put_file("", "cur/4.h,S=:2,", 11);
	put_file("", "new/5.h,S=12x", 13);
	put_file("", "new/6.h,X=1:2,S=99", 17);
	put_file("", "new/.hidden,S=5000", 1);	/* ignored */
	put_file("", "tmp/7.h,S=7000", 1);	/* not a message yet */
	put_file("", "maildirfolder", 1);	/* not in new/ cur/ */
	put_file(".Sent", "cur/8.h,S=400:2,S", 1);
	put_file(".A.B", "new/9.h,S=50000", 1);
	put_file("NotAFolder", "new/10.h,S=600000", 1);

	assert_int_equal(maildir_usage(mdir, &used, &error), 0);
	assert_int_equal(used, 1000 + 2000 + 30 + 7 + 11 + 13 + 17 + 400 +
	    50000);
}

struct thread_arg {
	int	 n;
	int	 failed;
};

static void *
deliver_many(void *arg)
{
	struct thread_arg *ta = arg;
	struct maildir_delivery d;
	const char *error;
	char body[64];
	int fd, i, len;

	for (i = 0; i < PER_THREAD; i++) {
		len = snprintf(body, sizeof(body), "thread %d message %d\r\n",
		    ta->n, i);
		fd = source_fd(body, (size_t)len);
		fill_delivery(&d, fd, (uint64_t)len);
		if (maildir_deliver(&d, thread_paths[ta->n][i],
		    sizeof(thread_paths[0][0]), &error) != MAILDIR_OK)
			ta->failed++;
		close(fd);
	}
	return NULL;
}

static void
test_concurrent_deliveries_all_land_with_unique_names(void **state)
{
	struct thread_arg args[NTHREADS];
	pthread_t t[NTHREADS];
	char body[64], *got;
	size_t glen, plen = strlen(PREFIX);
	int i, j, len;

	(void)state;
	for (i = 0; i < NTHREADS; i++) {
		args[i].n = i;
		args[i].failed = 0;
		assert_int_equal(pthread_create(&t[i], NULL, deliver_many,
		    &args[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failed, 0);
	}
	assert_int_equal(count_files("", "new"), NTHREADS * PER_THREAD);
	assert_int_equal(count_files("", "tmp"), 0);
	/* Every delivery is its own file holding its own message. */
	for (i = 0; i < NTHREADS; i++) {
		for (j = 0; j < PER_THREAD; j++) {
			len = snprintf(body, sizeof(body),
			    "thread %d message %d\r\n", i, j);
			got = slurp(thread_paths[i][j], &glen);
			assert_int_equal(glen, plen + (size_t)len);
			assert_memory_equal(got + plen, body, (size_t)len);
			free(got);
		}
	}
}

static void
test_directories_are_0700_and_messages_0600(void **state)
{
	static const char *const dirs[] = { "", "/new", "/cur", "/tmp" };
	struct maildir_delivery d;
	const char *error = NULL;
	char path[1024], dir[1100];
	struct stat st;
	mode_t old = umask(022);
	size_t i;
	int fd;

	(void)state;
	fd = source_fd("body", 4);
	fill_delivery(&d, fd, 4);
	assert_int_equal(maildir_deliver(&d, path, sizeof(path), &error),
	    MAILDIR_OK);
	close(fd);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(S_ISREG(st.st_mode));
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(dir, sizeof(dir), "%s%s", mdir, dirs[i]);
		assert_int_equal(stat(dir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	snprintf(dir, sizeof(dir), "%s/example.org", root);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_delivery_creates_maildir_and_writes_prefix_and_binary_body,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_3mb_body_is_copied_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_an_empty_body_leaves_the_prefix_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_body_is_read_from_the_source_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_source_outside_the_maildir_file_system_is_copied,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_short_source_is_tempfail_and_leaves_tmp_empty,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unwritable_tmp_is_tempfail, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_path_buffer_too_small_is_tempfail_and_writes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_name_escapes_host_and_counts_up, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_folder_delivery_goes_into_existing_folder,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_missing_folder_falls_back_to_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_folder_names_are_refused_and_nothing_is_created,
		    setup, teardown),
		cmocka_unit_test(test_valid_folder_table),
		cmocka_unit_test_setup_teardown(
		    test_quota_refuses_over_and_allows_exactly_at_quota,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_usage_sums_inbox_and_folders_and_stats_odd_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_deliveries_all_land_with_unique_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_directories_are_0700_and_messages_0600,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
