/* bounce-log: the per-message outcome logs queue/bounce/<ID> and
 * queue/defer/<ID> (see bounce.h): appending an entry durably, reading a
 * log back, compacting the defer log, removing both with the message.
 *
 * Called by the queue manager, on an offload thread (everything here
 * blocks), by bounce.c's callers before bounce_send(), and by the admin
 * commands that list the queue. The files are ours (mode 0600 in a 0700
 * directory), but the reader still trusts nothing in them.
 *
 * Limits:
 *   - a log line's text is made one line of printable characters and cut
 *     at BOUNCE_TEXT_MAX octets when appended; a log is read only up to
 *     BOUNCE_LOG_MAX octets, and any line that breaks the format makes the
 *     whole log an error (the one exception: an unterminated last line, what
 *     a crash during an append leaves, is ignored, and the next append cuts
 *     it off);
 *   - a recipient index is below ENVELOPE_RCPTS_MAX;
 *   - the defer log is rewritten without replaced entries once it passes
 *     half of BOUNCE_LOG_MAX, so that retries cannot grow it past the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "queue/bounce.h"
#include "queue/bounce-private.h"
#include "queue/queue.h"

#define BOUNCE_TEXT_MAX		900
#define BOUNCE_LOG_MAX		(4 * 1024 * 1024)
#define BOUNCE_COMPACT_AT	(BOUNCE_LOG_MAX / 2)
/* "<rcpt> <action> <status> <text>\n": 5 + 1 + 9 + 1 + 9 + 1 + text + 1. */
#define BOUNCE_LINE_MAX		(BOUNCE_TEXT_MAX + 64)
#define READ_CHUNK		65536

const char *const bounce__action_names[BOUNCE_NACTIONS] = {
	[BOUNCE_FAILED] = "failed",
	[BOUNCE_DELAYED] = "delayed",
	[BOUNCE_DELIVERED] = "delivered",
	[BOUNCE_RELAYED] = "relayed",
};

static int	 log_path(const char *queue_dir, const char *log,
		    const char *id, const char *suffix, char *path,
		    size_t size, const char **error_r);
static bool	 valid_status(const char *s, size_t len);
static size_t	 clean_text(char *dst, size_t size, const char *src);
static int	 format_line(const struct bounce_entry *e, char *line,
		    size_t size);
static int	 sync_dir_of(const char *path);
static int	 trim_torn_tail(int fd, off_t size, const char *path,
		    const char **error_r);
static int	 compact_defer(const char *queue_dir, const char *id,
		    const char *path, const char **error_r);
static int	 parse_line(const char *s, size_t len, struct pool *pool,
		    struct bounce_entry *e);
static size_t	 keep_last(struct bounce_entry *v, size_t n);

static int
log_path(const char *queue_dir, const char *log, const char *id,
    const char *suffix, char *path, size_t size, const char **error_r)
{
	int n;

	if (strcmp(log, "bounce") != 0 && strcmp(log, "defer") != 0) {
		*error_r = "unknown log (bounce or defer)";
		return -1;
	}
	/* The ID names a file: nothing but a queue ID may get there. */
	if (!queue_valid_id(id)) {
		*error_r = "invalid queue ID";
		return -1;
	}
	n = snprintf(path, size, "%s/%s/%s%s", queue_dir, log, id, suffix);
	if (n < 0 || (size_t)n >= size) {
		*error_r = "queue directory path too long";
		return -1;
	}
	return 0;
}

/* RFC 3463: class "." subject "." detail, 1 to 3 digits each. */
static bool
valid_status(const char *s, size_t len)
{
	size_t i = 0, part, digits;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return false;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits < 1 || digits > 3)
			return false;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

bool
bounce__valid_entry(const struct bounce_entry *e)
{
	return (unsigned)e->action < BOUNCE_NACTIONS &&
	    e->rcpt < ENVELOPE_RCPTS_MAX && e->status != NULL &&
	    valid_status(e->status, strlen(e->status));
}

/* One line of text: control characters become spaces, at most size - 1
 * octets are kept. */
static size_t
clean_text(char *dst, size_t size, const char *src)
{
	size_t i;

	/* UNSAFE: i + 1 < size keeps both stores in dst. */
	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ?
		    ' ' : src[i];
	dst[i] = '\0';
	return i;
}

static int
format_line(const struct bounce_entry *e, char *line, size_t size)
{
	char text[BOUNCE_TEXT_MAX + 1];
	int n;

	clean_text(text, sizeof(text), e->text);
	n = snprintf(line, size, "%zu %s %s %s\n", e->rcpt,
	    bounce__action_names[e->action], e->status, text);
	return n < 0 || (size_t)n >= size ? -1 : n;
}
/* A new log's directory entry must be as durable as its first line. */
static int
sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL || snprintf(dir, sizeof(dir), "%.*s",
	    (int)(slash - path), path) >= (int)sizeof(dir))
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* A crash during an append can leave a partial last line. Its entry was
 * never acknowledged, so the recipient is still pending and will be logged
 * again; cut the partial line off so that the new one starts clean. */
static int
trim_torn_tail(int fd, off_t size, const char *path, const char **error_r)
{
	char tail[BOUNCE_LINE_MAX];
	off_t start;
	ssize_t n, i;

	start = size > (off_t)sizeof(tail) ? size - (off_t)sizeof(tail) : 0;
	n = pread(fd, tail, (size_t)(size - start), start);
	if (n != size - start) {
		*error_r = n == -1 ? strerror(errno) : "log changed while read";
		return -1;
	}
	/* UNSAFE: size > 0 (the caller checks), so 0 < n <= sizeof(tail). */
	if (tail[n - 1] == '\n')
		return 0;
	for (i = n - 1; i >= 0 && tail[i] != '\n'; i--)
		;
	if (i < 0 && start > 0) {
		/* Longer than any line we write: not a torn append. */
		*error_r = "malformed log";
		return -1;
	}
	log_warnx("%s: cutting off a partial line left by a crash", path);
	if (ftruncate(fd, start + i + 1) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

/* Rewrite the defer log with only the entries bounce_log_read() keeps. */
static int
compact_defer(const char *queue_dir, const char *id, const char *path,
    const char **error_r)
{
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	char tmp[PATH_MAX], line[BOUNCE_LINE_MAX];
	size_t n, i;
	int fd = -1, len, rc = -1;

	if (bounce_log_read(queue_dir, "defer", id, pool, &v, &n,
	    error_r) == -1 ||
	    log_path(queue_dir, "defer", id, ".tmp", tmp, sizeof(tmp),
	    error_r) == -1)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		/* Read back, so valid: it formats as it did the first time. */
		if ((len = format_line(&v[i], line, sizeof(line))) == -1)
			panic("defer log entry does not format");
		if (write_all(fd, line, (size_t)len) == -1)
			goto fail;
	}
	if (fdatasync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1 || sync_dir_of(path) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	*error_r = errno == ENOSPC || errno == EDQUOT ? "disk full" :
	    strerror(errno);
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	pool_free(&pool);
	return rc;
}

int
bounce_log_append(const char *queue_dir, const char *log, const char *id,
    const struct bounce_entry *e, const char **error_r)
{
	char path[PATH_MAX], line[BOUNCE_LINE_MAX];
	struct stat st;
	int fd, len;
	bool compacted = false, durable = strcmp(log, "defer") != 0;

	if (log_path(queue_dir, log, id, "", path, sizeof(path),
	    error_r) == -1)
		return -1;
	if (!bounce__valid_entry(e) ||
	    (len = format_line(e, line, sizeof(line))) == -1) {
		*error_r = "invalid bounce log entry";
		return -1;
	}
again:
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 || fstat(fd, &st) == -1)
		goto fail;
	if (st.st_size > 0 && trim_torn_tail(fd, st.st_size, path,
	    error_r) == -1) {
		close(fd);
		return -1;
	}
	if (!compacted && strcmp(log, "defer") == 0 &&
	    st.st_size >= BOUNCE_COMPACT_AT) {
		close(fd);
		if (compact_defer(queue_dir, id, path, error_r) == -1)
			return -1;
		compacted = true;
		goto again;
	}
	/* The defer log is only the latest reason, written again at every
	 * attempt: losing it to a power cut costs nothing, so it is not
	 * synced (a thousand deferred recipients cost no thousand fsyncs). */
	if (write_all(fd, line, (size_t)len) == -1 ||
	    (durable && (fdatasync(fd) == -1 ||
	    (st.st_size == 0 && sync_dir_of(path) == -1))))
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	*error_r = errno == ENOSPC || errno == EDQUOT ? "disk full" :
	    strerror(errno);
	if (fd != -1)
		close(fd);
	return -1;
}

/* "<rcpt> <action> <status> <text>", exactly as format_line() writes it. */
static int
parse_line(const char *s, size_t len, struct pool *pool,
    struct bounce_entry *e)
{
	size_t i = 0, start, a;

	if (len > BOUNCE_LINE_MAX)
		return -1;
	e->rcpt = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (i > 0 && e->rcpt == 0)
			return -1;		/* leading zero */
		e->rcpt = e->rcpt * 10 + (size_t)(s[i] - '0');
		if (e->rcpt >= ENVELOPE_RCPTS_MAX)
			return -1;
	}
	if (i == 0 || i >= len || s[i++] != ' ')
		return -1;
	for (start = i; i < len && s[i] != ' '; i++)
		;
	for (a = 0; a < BOUNCE_NACTIONS; a++)
		if (i - start == strlen(bounce__action_names[a]) &&
		    memcmp(s + start, bounce__action_names[a], i - start) == 0)
			break;
	if (a == BOUNCE_NACTIONS || i >= len)
		return -1;
	e->action = (enum bounce_action)a;
	for (start = ++i; i < len && s[i] != ' '; i++)
		;
	if (!valid_status(s + start, i - start) || i >= len)
		return -1;
	e->status = pool_strndup(pool, s + start, i - start);
	start = ++i;
	if (len - start > BOUNCE_TEXT_MAX)
		return -1;
	for (; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	e->text = pool_strndup(pool, s + start, len - start);
	return 0;
}

/* Keep one entry per recipient and action: the last one's contents, at
 * the first one's place. Returns the new count. */
static size_t
keep_last(struct bounce_entry *v, size_t n)
{
	size_t *slot, max = 0, i, k, out = 0;

	for (i = 0; i < n; i++)
		if (v[i].rcpt > max)
			max = v[i].rcpt;
	/* Index + 1 of the kept entry, per (rcpt, action); rcpt is bounded
	 * by ENVELOPE_RCPTS_MAX, so this is at most a few MB. */
	slot = xcalloc((max + 1) * BOUNCE_NACTIONS, sizeof(*slot));
	for (i = 0; i < n; i++) {
		k = v[i].rcpt * BOUNCE_NACTIONS + (size_t)v[i].action;
		if (slot[k] != 0) {
			v[slot[k] - 1] = v[i];
			continue;
		}
		v[out] = v[i];
		slot[k] = ++out;
	}
	free(slot);
	return out;
}

int
bounce_log_read(const char *queue_dir, const char *log, const char *id,
    struct pool *pool, struct bounce_entry **entries_r, size_t *n_r,
    const char **error_r)
{
	uint8_t chunk[READ_CHUNK];
	char path[PATH_MAX];
	struct bounce_entry *v = NULL;
	const char *s, *nl;
	struct buf b;
	size_t pos, nlines = 0, n = 0;
	ssize_t r;
	int fd, rc = -1;

	*entries_r = NULL;
	*n_r = 0;
	if (log_path(queue_dir, log, id, "", path, sizeof(path),
	    error_r) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	buf_init(&b, BOUNCE_LOG_MAX);
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*error_r = strerror(errno);
			goto out;
		}
		if (r == 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) == -1) {
			*error_r = "log too large";
			goto out;
		}
	}
	s = (const char *)b.data;
	for (pos = 0; pos < b.len; pos++)
		if (s[pos] == '\n')
			nlines++;
	if (nlines > 0)
		v = pool_alloc(pool, nlines * sizeof(*v));
	/* An unterminated last line is a torn append: not an entry. */
	for (pos = 0; n < nlines; pos = (size_t)(nl - s) + 1) {
		nl = memchr(s + pos, '\n', b.len - pos);
		if (parse_line(s + pos, (size_t)(nl - s) - pos, pool,
		    &v[n]) == -1) {
			*error_r = "malformed log line";
			goto out;
		}
		n++;
	}
	if (strcmp(log, "defer") == 0 && n > 0)
		n = keep_last(v, n);
	*entries_r = v;
	*n_r = n;
	rc = 0;
out:
	buf_deinit(&b);
	close(fd);
	return rc;
}

void
bounce_log_remove(const char *queue_dir, const char *id)
{
	static const char *const logs[][2] = {
		{ "bounce", "" }, { "defer", "" }, { "defer", ".tmp" },
	};
	char path[PATH_MAX];
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		if (log_path(queue_dir, logs[i][0], id, logs[i][1], path,
		    sizeof(path), &error) == -1) {
			log_warnx("cannot remove the logs of %s: %s", id,
			    error);
			return;
		}
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("cannot remove %s", path);
	}
}
