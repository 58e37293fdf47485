/* util: small file helpers for the store: stat stamps that tell whether a
 * directory may have changed, whole-file reads with a bound, atomic
 * replacement through a temporary file, Maildir creation and removal.
 *
 * A directory's mtime comes from the kernel's coarse clock (one value per
 * tick): a change in the same tick as the one we saw leaves it equal. The
 * coarse clock read just before the stat tells: if it is already past the
 * mtime, any later change gets a later mtime (stamp_settled); if not, the
 * caller must look again next time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "store/store-private.h"

#define TREE_DEPTH_MAX	4		/* mailbox dir, cur, file */

#define TMP_STALE_SECS	(36 * 3600)	/* the Maildir convention */

static int	 remove_tree_at(int at, const char *name, int depth);

const char *
errno_text(int e)
{
	const char *s;

	if (e == ENOSPC || e == EDQUOT)
		return "disk full";
	s = strerrordesc_np(e);
	return s != NULL ? s : "I/O error";
}

int
fsync_path(const char *path)
{
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
stamp_get(const char *path, struct stamp *st)
{
	struct stat sb;

	if (stat(path, &sb) == -1) {
		memset(st, 0, sizeof(*st));
		return -1;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
	st->valid = true;
	return 0;
}

bool
stamp_same(const struct stamp *a, const struct stamp *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* now: CLOCK_REALTIME_COARSE read before the stat that made st. */
bool
stamp_settled(const struct stamp *st, const struct timespec *now)
{
	return now->tv_sec > st->mtime.tv_sec ||
	    (now->tv_sec == st->mtime.tv_sec &&
	    now->tv_nsec > st->mtime.tv_nsec);
}

/* The whole file into a NUL-terminated heap buffer; ENOENT passes through,
 * EFBIG past max. */
int
read_file(const char *path, size_t max, char **data_r, size_t *len_r)
{
	struct stat st;
	size_t len = 0, cap;
	char *data;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	cap = (size_t)st.st_size + 1;
	data = xmalloc(cap + 1);
	for (;;) {
		n = read(fd, data + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(data);
			errno = saved;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			/* Grew since fstat: read on, within max. */
			if (cap > max) {
				free(data);
				errno = EFBIG;
				goto fail;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			data = xreallocarray(data, cap + 1, 1);
		}
	}
	data[len] = '\0';
	(void)close(fd);
	*data_r = data;
	*len_r = len;
	return 0;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Write data to tmp and rename it over path: readers see the old file or
 * the new one, never a part. */
int
write_file_atomic(const char *path, const char *tmp, const void *data,
    size_t len, bool sync)
{
	int fd, saved;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (write_all(fd, data, len) == -1 || (sync && fdatasync(fd) == -1))
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

/* path and its cur/ new/ tmp/, mode 0700; existing ones are fine. */
int
mkdir_maildir(const char *path)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char sub[STORE_PATH_MAX];
	size_t i;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]) >=
		    (int)sizeof(sub)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(sub, 0700) == -1 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static int
remove_tree_at(int at, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth >= TREE_DEPTH_MAX)
		return -1;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_tree_at(dirfd(d), de->d_name, depth + 1) == -1)
			ret = -1;
	}
	(void)closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		ret = -1;
	return ret;
}

/* rm -r of a mailbox directory that has already been renamed out of
 * sight; never follows symbolic links and never goes deeper than a
 * Maildir does. */
int
remove_tree(const char *path)
{
	return remove_tree_at(AT_FDCWD, path, 0);
}

/* mkdir -p with mode 0700. */
int
mkdir_parents(const char *path)
{
	char buf[STORE_PATH_MAX];
	struct stat st;
	char *p;

	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Files left in tmp/ by writers that died: unlinked after 36 hours, as
 * the Maildir specification says. */
void
tmp_cleanup(const char *mailbox)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	struct stat st;
	time_t old;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/tmp", mailbox) >=
	    (int)sizeof(path) || (d = opendir(path)) == NULL)
		return;
	old = time(NULL) - TMP_STALE_SECS;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISREG(st.st_mode) || st.st_mtime >= old ||
		    st.st_atime >= old)
			continue;
		(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	(void)closedir(d);
}
