/* maildir: delivery into a Maildir (see maildir.h), called by local
 * delivery on an offload thread, and the usage sum that quota needs.
 *
 * Limits: folder names are whitelisted by maildir_valid_folder() and
 * always name a directory directly inside the user's Maildir; the host part
 * of a unique name is escaped and bounded so that the name fits NAME_MAX.
 * Every error is a static string (a literal or strerrordesc_np()), so the
 * module keeps no buffers and is safe to call from many threads at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "store/maildir.h"

#define MAILDIR_COPY_BUF	(64 * 1024)
#define MAILDIR_COPY_CHUNK	(1024 * 1024 * 1024)	/* per syscall */
#define MAILDIR_HOST_MAX	128	/* escaped host octets in a name */
#define MAILDIR_PATH_MAX	4096

static const char *const maildir_subdirs[] = { "cur", "new", "tmp" };

/* Q<n> of the unique name: distinct for every delivery of this process. */
static atomic_uint_fast64_t delivery_counter;

static const char *errno_reason(int e);
static int	 join(char *out, size_t outlen, const char *dir,
		    const char *name);
static int	 mkdir_fsync_parent(const char *path);
static int	 mkdir_parents(const char *path);
static int	 make_subdirs(const char *dir, const char **error_r);
static int	 fsync_dir(const char *path);
static void	 escape_host(const char *host, char *out, size_t outlen);
static int	 unique_name(const struct maildir_delivery *d, uint64_t total,
		    char *out, size_t outlen);
static int	 copy_body(int dst, int src, off_t offset, uint64_t size,
		    const char **error_r);
static int	 copy_body_rw(int dst, int src, off_t offset, uint64_t size,
		    const char **error_r);
static int	 move_into_new(const char *tmp, const char *dst);
static int	 write_message(const struct maildir_delivery *d,
		    const char *tmp, const char **error_r);
static int	 parse_size(const char *name, uint64_t *size_r);
static int	 sum_dir(const char *dir, uint64_t *bytes_r,
		    const char **error_r);
static int	 sum_mailbox(const char *dir, uint64_t *bytes_r,
		    const char **error_r);
static uint64_t	 add_sat(uint64_t a, uint64_t b);

static const char *
errno_reason(int e)
{
	const char *s;

	if (e == ENOSPC || e == EDQUOT)
		return "disk full";
	/* Unlike strerror(), a pointer into the static table: no buffer. */
	s = strerrordesc_np(e);
	return s != NULL ? s : "I/O error";
}

/* dir/name into out; -1 when it does not fit. */
static int
join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* mkdir with mode 0700; EEXIST is success (another delivery won the race).
 * A directory we created is made durable by fsyncing its parent, so that
 * a message fsynced into it cannot vanish with it in a crash. */
static int
mkdir_fsync_parent(const char *path)
{
	char parent[MAILDIR_PATH_MAX];
	char *slash;

	if (mkdir(path, 0700) == -1)
		return errno == EEXIST ? 0 : -1;
	if (snprintf(parent, sizeof(parent), "%s", path) >=
	    (int)sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(parent, '/')) == NULL)
		return fsync_dir(".");
	if (slash == parent)
		slash[1] = '\0';	/* "/x": the parent is "/" */
	else
		*slash = '\0';
	return fsync_dir(parent);
}

/* Create path and every missing directory above it. */
static int
mkdir_parents(const char *path)
{
	char buf[MAILDIR_PATH_MAX];
	struct stat st;
	char *p;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
		return -1;
	}
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_fsync_parent(buf) == -1)
			return -1;
		*p = '/';
	}
	return mkdir_fsync_parent(buf);
}

/* cur/ new/ tmp/ inside an existing mailbox directory. */
static int
make_subdirs(const char *dir, const char **error_r)
{
	char path[MAILDIR_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(maildir_subdirs) / sizeof(maildir_subdirs[0]);
	    i++) {
		if (join(path, sizeof(path), dir, maildir_subdirs[i]) == -1 ||
		    mkdir_fsync_parent(path) == -1) {
			*error_r = "cannot create the Maildir";
			return -1;
		}
	}
	return 0;
}

static int
fsync_dir(const char *path)
{
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* The Maildir convention: '/' and ':' cannot appear in a name. The result
 * is cut at a whole escape so that the name stays under NAME_MAX. */
static void
escape_host(const char *host, char *out, size_t outlen)
{
	size_t o = 0;
	const char *esc;
	size_t n;

	for (; *host != '\0'; host++) {
		esc = *host == '/' ? "\\057" : *host == ':' ? "\\072" : NULL;
		n = esc != NULL ? 4 : 1;
		if (o + n >= outlen)
			break;
		if (esc != NULL)
			memcpy(out + o, esc, n);	/* UNSAFE: o + n < outlen */
		else
			out[o] = *host;
		o += n;
	}
	out[o] = '\0';
}

/* "<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>" */
static int
unique_name(const struct maildir_delivery *d, uint64_t total, char *out,
    size_t outlen)
{
	return maildir_unique_name(d->hostname, total, out, outlen);
}

int
maildir_unique_name(const char *hostname, uint64_t size, char *out,
    size_t outlen)
{
	char host[MAILDIR_HOST_MAX + 1], sys[HOST_NAME_MAX + 1];
	const char *h = hostname;
	struct timespec ts;
	uint64_t q;
	int n;

	if (h == NULL || *h == '\0') {
		if (gethostname(sys, sizeof(sys)) == -1)
			snprintf(sys, sizeof(sys), "localhost");
		sys[sizeof(sys) - 1] = '\0';
		h = sys;
	}
	escape_host(h, host, sizeof(host));
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	q = atomic_fetch_add(&delivery_counter, 1) + 1;
	n = snprintf(out, outlen, "%lld.M%ldP%ldQ%llu.%s,S=%llu",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000L, (long)getpid(),
	    (unsigned long long)q, host, (unsigned long long)size);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* size octets from src at offset to the current position of dst, in the
 * kernel when it can; copy_file_range() refuses some pairs of files
 * (EXDEV, EINVAL), and then read/write does it. */
static int
copy_body(int dst, int src, off_t offset, uint64_t size,
    const char **error_r)
{
	off_t off = offset;
	size_t chunk;
	ssize_t n;

	while (size > 0) {
		chunk = size > MAILDIR_COPY_CHUNK ? MAILDIR_COPY_CHUNK :
		    (size_t)size;
		n = copy_file_range(src, &off, dst, NULL, chunk, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n > 0) {
			size -= (uint64_t)n;
			continue;
		}
		if (n == -1 && errno != EXDEV && errno != EINVAL &&
		    errno != ENOSYS && errno != EOPNOTSUPP &&
		    errno != EBADF && errno != ETXTBSY) {
			*error_r = errno_reason(errno);
			return -1;
		}
		/* Refused, or 0: some file systems report 0 instead of
		 * failing, so let pread() tell a real end of file. */
		return copy_body_rw(dst, src, off, size, error_r);
	}
	return 0;
}

static int
copy_body_rw(int dst, int src, off_t offset, uint64_t size,
    const char **error_r)
{
	char *buf = xmalloc(MAILDIR_COPY_BUF);
	size_t want;
	ssize_t n;
	int ret = -1;

	while (size > 0) {
		want = size > MAILDIR_COPY_BUF ? MAILDIR_COPY_BUF :
		    (size_t)size;
		n = pread(src, buf, want, offset);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*error_r = errno_reason(errno);
			goto out;
		}
		if (n == 0) {
			*error_r = "queue file truncated";
			goto out;
		}
		if (write_all(dst, buf, (size_t)n) == -1) {
			*error_r = errno_reason(errno);
			goto out;
		}
		offset += n;
		size -= (uint64_t)n;
	}
	ret = 0;
out:
	xfree(&buf);
	return ret;
}

/* rename() that refuses to replace: a unique name that exists already is
 * a bug elsewhere, and replacing would lose a message. */
static int
move_into_new(const char *tmp, const char *dst)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	/* No RENAME_NOREPLACE here (NFS): link() refuses too. */
	if (link(tmp, dst) == -1)
		return -1;
	(void)unlink(tmp);
	return 0;
}

/* Create tmp, fill it and fsync it; the caller unlinks it on failure. */
static int
write_message(const struct maildir_delivery *d, const char *tmp,
    const char **error_r)
{
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		*error_r = errno_reason(errno);
		return -1;
	}
	if (d->prefix_len > 0 &&
	    write_all(fd, d->prefix, d->prefix_len) == -1) {
		*error_r = errno == ENOSPC || errno == EDQUOT ? "disk full" :
		    "cannot write";
		goto fail;
	}
	if (copy_body(fd, d->src_fd, d->src_offset, d->size, error_r) == -1)
		goto fail;
	if (fsync(fd) == -1) {
		*error_r = errno == ENOSPC || errno == EDQUOT ? "disk full" :
		    "cannot fsync";
		goto fail;
	}
	if (close(fd) == -1) {
		*error_r = errno_reason(errno);
		return -1;
	}
	return 0;
fail:
	(void)close(fd);
	return -1;
}

enum maildir_result
maildir_deliver(const struct maildir_delivery *d, char *path_r,
    size_t path_len, const char **error_r)
{
	char box[MAILDIR_PATH_MAX], name[NAME_MAX + 1];
	char tmp[MAILDIR_PATH_MAX], dst[MAILDIR_PATH_MAX];
	char sub[MAILDIR_PATH_MAX];
	struct stat st;
	uint64_t total, usage;
	const char *dir = d->path;

	if (d->folder != NULL && !maildir_valid_folder(d->folder)) {
		*error_r = "bad folder name";
		return MAILDIR_BAD_FOLDER;
	}
	if (d->src_offset < 0 || d->size > (uint64_t)INT64_MAX -
	    (uint64_t)d->src_offset || d->prefix_len > UINT64_MAX - d->size) {
		*error_r = "message too large";
		return MAILDIR_TEMPFAIL;
	}
	total = (uint64_t)d->prefix_len + d->size;

	if (mkdir_parents(d->path) == -1 ||
	    make_subdirs(d->path, error_r) == -1) {
		*error_r = errno == ENOSPC || errno == EDQUOT ? "disk full" :
		    "cannot create the Maildir";
		return MAILDIR_TEMPFAIL;
	}
	if (d->folder != NULL) {
		if (snprintf(box, sizeof(box), "%s/.%s", d->path, d->folder) >=
		    (int)sizeof(box)) {
			*error_r = "path too long";
			return MAILDIR_TEMPFAIL;
		}
		/* A folder is used only if the user created it. */
		if (stat(box, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (make_subdirs(box, error_r) == -1)
				return MAILDIR_TEMPFAIL;
			dir = box;
		}
	}

	if (d->quota_bytes > 0) {
		if (maildir_usage(d->path, &usage, error_r) == -1)
			return MAILDIR_TEMPFAIL;
		if (total > d->quota_bytes || usage > d->quota_bytes - total) {
			*error_r = "mailbox full";
			return MAILDIR_OVER_QUOTA;
		}
	}

	if (unique_name(d, total, name, sizeof(name)) == -1) {
		*error_r = "cannot make a unique name";
		return MAILDIR_TEMPFAIL;
	}
	if (join(sub, sizeof(sub), dir, "tmp") == -1 ||
	    join(tmp, sizeof(tmp), sub, name) == -1 ||
	    join(sub, sizeof(sub), dir, "new") == -1 ||
	    join(dst, sizeof(dst), sub, name) == -1) {
		*error_r = "path too long";
		return MAILDIR_TEMPFAIL;
	}
	if (path_r != NULL && strlen(dst) >= path_len) {
		*error_r = "path too long";
		return MAILDIR_TEMPFAIL;
	}

	if (write_message(d, tmp, error_r) == -1) {
		(void)unlink(tmp);
		return MAILDIR_TEMPFAIL;
	}
	if (d->before_rename != NULL)
		d->before_rename(d->ctx, dst);
	if (move_into_new(tmp, dst) == -1) {
		*error_r = errno == EEXIST ? "unique name exists" :
		    errno_reason(errno);
		(void)unlink(tmp);
		return MAILDIR_TEMPFAIL;
	}
	if (fsync_dir(sub) == -1) {
		/* Not durable, so not delivered: take it back rather than
		 * have the retry deliver it twice. */
		*error_r = errno_reason(errno);
		(void)unlink(dst);
		return MAILDIR_TEMPFAIL;
	}
	if (path_r != NULL)
		(void)snprintf(path_r, path_len, "%s", dst);
	return MAILDIR_OK;
}

/* The S=<n> field of a Dovecot file name: ",S=" in the base name (before
 * ':'), digits up to the next ',' or the end. */
static int
parse_size(const char *name, uint64_t *size_r)
{
	const char *colon = strchr(name, ':');
	size_t base = colon != NULL ? (size_t)(colon - name) : strlen(name);
	const char *p = name;
	const char *end = name + base;
	uint64_t n = 0;
	unsigned d;
	bool digits = false;

	for (;;) {
		p = memchr(p, ',', (size_t)(end - p));
		if (p == NULL)
			return -1;
		p++;
		if (end - p >= 2 && p[0] == 'S' && p[1] == '=')
			break;
	}
	for (p += 2; p < end && *p != ','; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
		digits = true;
	}
	if (!digits)
		return -1;
	*size_r = n;
	return 0;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Octets in the messages of one directory (new/ or cur/). */
static int
sum_dir(const char *dir, uint64_t *bytes_r, const char **error_r)
{
	struct dirent *de;
	struct stat st;
	uint64_t size;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*error_r = errno_reason(errno);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (parse_size(de->d_name, &size) == -1) {
			/* Gone meanwhile (moved to cur/, expunged): 0. */
			if (fstatat(dirfd(dp), de->d_name, &st, 0) == -1 ||
			    !S_ISREG(st.st_mode))
				continue;
			size = (uint64_t)st.st_size;
		}
		*bytes_r = add_sat(*bytes_r, size);
	}
	if (errno != 0) {
		*error_r = errno_reason(errno);
		(void)closedir(dp);
		return -1;
	}
	(void)closedir(dp);
	return 0;
}

/* new/ and cur/ of one mailbox directory. */
static int
sum_mailbox(const char *dir, uint64_t *bytes_r, const char **error_r)
{
	char path[MAILDIR_PATH_MAX];

	if (join(path, sizeof(path), dir, "new") == -1 ||
	    sum_dir(path, bytes_r, error_r) == -1 ||
	    join(path, sizeof(path), dir, "cur") == -1 ||
	    sum_dir(path, bytes_r, error_r) == -1) {
		if (errno == ENAMETOOLONG)
			*error_r = "path too long";
		return -1;
	}
	return 0;
}

int
maildir_usage(const char *path, uint64_t *bytes_r, const char **error_r)
{
	char folder[MAILDIR_PATH_MAX];
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *dp;

	if (sum_mailbox(path, &sum, error_r) == -1)
		return -1;
	if ((dp = opendir(path)) == NULL) {
		if (errno != ENOENT && errno != ENOTDIR) {
			*error_r = errno_reason(errno);
			return -1;
		}
		*bytes_r = sum;
		return 0;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL)
			break;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* d_type is only a hint: some file systems say UNKNOWN, and
		 * a folder may be a symlink the administrator made. */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    de->d_type != DT_LNK)
			continue;
		if (de->d_type != DT_DIR &&
		    (fstatat(dirfd(dp), de->d_name, &st, 0) == -1 ||
		    !S_ISDIR(st.st_mode)))
			continue;
		if (join(folder, sizeof(folder), path, de->d_name) == -1) {
			*error_r = "path too long";
			goto fail;
		}
		if (sum_mailbox(folder, &sum, error_r) == -1)
			goto fail;
	}
	if (errno != 0) {
		*error_r = errno_reason(errno);
		goto fail;
	}
	(void)closedir(dp);
	*bytes_r = sum;
	return 0;
fail:
	(void)closedir(dp);
	return -1;
}

bool
maildir_valid_folder(const char *name)
{
	size_t len, i;
	unsigned char c;

	if (name == NULL)
		return false;
	len = strnlen(name, 256);
	if (len == 0 || len > 255 || name[0] == '.' || name[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
		if (c == '.' && name[i + 1] == '.')
			return false;
	}
	return true;
}

bool
maildir_delivered(const char *path)
{
	char cur[MAILDIR_PATH_MAX];
	const char *base, *slash;
	struct dirent *de;
	struct stat st;
	size_t blen, dlen;
	bool found = false;
	DIR *d;

	if (stat(path, &st) == 0)
		return true;
	/* .../new/<base> may have become .../cur/<base>:2,<flags>. */
	if ((base = strrchr(path, '/')) == NULL || base - path < 4 ||
	    strncmp(base - 4, "/new", 4) != 0)
		return false;
	slash = base - 4;
	dlen = (size_t)(slash - path);
	base++;
	blen = strlen(base);
	if (snprintf(cur, sizeof(cur), "%.*s/cur", (int)dlen, path) >=
	    (int)sizeof(cur) || (d = opendir(cur)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, base, blen) == 0 &&
		    (de->d_name[blen] == ':' || de->d_name[blen] == '\0');
	closedir(d);
	return found;
}
