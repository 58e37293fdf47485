/* bounce: the per-message outcome logs (queue/bounce/<ID>, queue/defer/<ID>)
 * and the delivery status notification made from them: an RFC 6522
 * multipart/report holding a human explanation, an RFC 3464
 * message/delivery-status and the returned message (RFC 6533 global types
 * when the original was SMTPUTF8). See bounce.h.
 *
 * Called by the queue manager, on an offload thread (everything here
 * blocks), and by the admin commands that list the queue.
 *
 * Limits:
 *   - a log line's text is made one line of printable characters and cut
 *     at BOUNCE_TEXT_MAX octets when appended; a log is read only up to
 *     BOUNCE_LOG_MAX octets, and any line that breaks the format makes the
 *     whole log an error (the one exception: an unterminated last line, what
 *     a crash during an append leaves, is ignored, and the next append cuts
 *     it off);
 *   - the defer log is rewritten without replaced entries once it passes
 *     half of BOUNCE_LOG_MAX, so that retries cannot grow it past the limit;
 *   - in the DSN every value is cut at DSN_VALUE_MAX octets so that every
 *     line stays under 998 octets, and everything but the returned message
 *     (and the addresses of an SMTPUTF8 message) is us-ascii;
 *   - the returned message is copied in READ_CHUNK pieces, never read whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "queue/bounce.h"
#include "queue/queue.h"

#define BOUNCE_TEXT_MAX		900
#define BOUNCE_LOG_MAX		(4 * 1024 * 1024)
#define BOUNCE_COMPACT_AT	(BOUNCE_LOG_MAX / 2)
/* "<rcpt> <action> <status> <text>\n": 5 + 1 + 9 + 1 + 9 + 1 + text + 1. */
#define BOUNCE_LINE_MAX		(BOUNCE_TEXT_MAX + 64)
#define BOUNCE_NACTIONS		3

#define DSN_VALUE_MAX		900
#define DSN_PUT_MAX		1024	/* one put(): a line or two */
#define DSN_FLUSH		(32 * 1024)
#define DSN_WRAP		72
#define DSN_BOUNDARY_HOST	40	/* keeps the boundary under 70 */
#define READ_CHUNK		65536

static const char *const action_names[BOUNCE_NACTIONS] = {
	[BOUNCE_FAILED] = "failed",
	[BOUNCE_DELAYED] = "delayed",
	[BOUNCE_DELIVERED] = "delivered",
};

/* One DSN being written. */
struct dsn {
	const struct config	*cfg;
	const struct envelope	*env;	/* the original's */
	/* borrowed from the caller */
	const struct bounce_entry *entries;
	size_t			 n;
	/* to the postmaster, every entry reported */
	bool			 double_bounce;
	bool			 global;	/* RFC 6533 types */
	bool			 full;	/* whole message, else header */
	const char		*cte;	/* of the returned message */
	/* reported entries per action */
	size_t			 count[BOUNCE_NACTIONS];
	char			 host[256];	/* hostname, cleaned */
	char			 boundary[80];
	struct queue_file	*qf;
	struct buf		 out;	/* not yet given to qf */
	struct buf		 v1, v2;	/* cleaned values */
};

static int	 log_path(const char *queue_dir, const char *log,
		    const char *id, const char *suffix, char *path,
		    size_t size, const char **error_r);
static bool	 valid_status(const char *s, size_t len);
static bool	 valid_entry(const struct bounce_entry *e);
static size_t	 clean_text(char *dst, size_t size, const char *src);
static int	 format_line(const struct bounce_entry *e, char *line,
		    size_t size);
static int	 write_all(int fd, const char *data, size_t len);
static int	 sync_dir_of(const char *path);
static int	 trim_torn_tail(int fd, off_t size, const char *path,
		    const char **error_r);
static int	 compact_defer(const char *queue_dir, const char *id,
		    const char *path, const char **error_r);
static int	 parse_line(const char *s, size_t len, struct pool *pool,
		    struct bounce_entry *e);
static size_t	 keep_last(struct bounce_entry *v, size_t n);

static bool	 notify_has(const char *notify, const char *what);
static bool	 reported(const struct dsn *d, const struct bounce_entry *e);
static void	 rfc5322_date(time_t t, char *out, size_t size);
static void	 clean_host(char *dst, size_t size, const char *src,
		    size_t max);
static void	 put(struct dsn *d, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 put_raw(struct dsn *d, const void *data, size_t len);
static void	 flush(struct dsn *d);
static const char *val(struct buf *b, const char *s, bool utf8);
static const char *val_addr(struct buf *b, const char *addr, bool global,
		    const char **type_r);
static void	 put_wrapped(struct dsn *d, const char *s);
static void	 put_headers(struct dsn *d, const char *to, const char *id);
static void	 put_human(struct dsn *d);
static void	 put_status(struct dsn *d);
static void	 put_rcpt_fields(struct dsn *d,
		    const struct bounce_entry *e);
static int	 put_returned(struct dsn *d, int fd, const char **error_r);

/* ---- the logs ---- */

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

static bool
valid_entry(const struct bounce_entry *e)
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
	    action_names[e->action], e->status, text);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

static int
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
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
	bool compacted = false;

	if (log_path(queue_dir, log, id, "", path, sizeof(path),
	    error_r) == -1)
		return -1;
	if (!valid_entry(e) ||
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
	if (write_all(fd, line, (size_t)len) == -1 || fdatasync(fd) == -1 ||
	    (st.st_size == 0 && sync_dir_of(path) == -1))
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
		if (i - start == strlen(action_names[a]) &&
		    memcmp(s + start, action_names[a], i - start) == 0)
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

/* ---- the DSN ---- */

/* NOTIFY as stored: NEVER, or a comma list of SUCCESS, FAILURE, DELAY. */
static bool
notify_has(const char *notify, const char *what)
{
	const char *p = notify, *end;
	size_t len = strlen(what);
	bool found = false;

	while (*p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		for (end = p; *end != '\0' && *end != ',' && *end != ' '; end++)
			;
		if ((size_t)(end - p) == 5 && strncasecmp(p, "NEVER", 5) == 0)
			return false;
		if ((size_t)(end - p) == len && strncasecmp(p, what, len) == 0)
			found = true;
		p = end;
	}
	return found;
}

static bool
reported(const struct dsn *d, const struct bounce_entry *e)
{
	static const char *const notify_word[BOUNCE_NACTIONS] = {
		[BOUNCE_FAILED] = "FAILURE",
		[BOUNCE_DELAYED] = "DELAY",
		[BOUNCE_DELIVERED] = "SUCCESS",
	};
	const char *notify = d->env->rcpts[e->rcpt].notify;

	if (d->double_bounce)
		return true;	/* the postmaster hears everything */
	if (notify == NULL)		/* RFC 3461: FAILURE,DELAY */
		return e->action != BOUNCE_DELIVERED;
	return notify_has(notify, notify_word[e->action]);
}

/* "Mon, 6 Jan 2025 13:05:09 +0100", without the locale's names. */
static void
rfc5322_date(time_t t, char *out, size_t size)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec",
	};
	struct tm tm;
	long off;
	char sign = '+';

	if (localtime_r(&t, &tm) == NULL)
		panic("localtime_r: time out of range");
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(out, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	    off / 60, off % 60);
}

/* A host name for Message-ID, From and the boundary: letters, digits,
 * dots and hyphens only, at most max octets. */
static void
clean_host(char *dst, size_t size, const char *src, size_t max)
{
	size_t i;
	char c;

	if (src == NULL || *src == '\0')
		src = "localhost";
	/* UNSAFE: i + 1 < size keeps both stores in dst. */
	for (i = 0; src[i] != '\0' && i < max && i + 1 < size; i++) {
		c = src[i];
		dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ? c : '-';
	}
	dst[i] = '\0';
}

static void
flush(struct dsn *d)
{
	if (d->out.len == 0)
		return;
	/* A failed write sets the queue file's error; the commit reports
	 * it, so later writes may be skipped silently. */
	if (queue_file_write(d->qf, d->out.data, d->out.len) == -1) {
		/* nothing: queue_file_commit() returns the reason */
	}
	buf_reset(&d->out);
}

static void
put(struct dsn *d, const char *fmt, ...)
{
	char text[DSN_PUT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Values are cut at DSN_VALUE_MAX: a longer line is our bug. */
	if (n < 0 || (size_t)n >= sizeof(text))
		panic("DSN line too long");
	if (buf_append(&d->out, text, (size_t)n) == -1)
		panic("DSN output buffer overflow");
	if (d->out.len >= DSN_FLUSH)
		flush(d);
}

static void
put_raw(struct dsn *d, const void *data, size_t len)
{
	flush(d);
	if (queue_file_write(d->qf, data, len) == -1) {
		/* nothing: queue_file_commit() returns the reason */
	}
}

/* s as one line of at most DSN_VALUE_MAX octets: control characters
 * become spaces and, unless utf8, other octets above 0x7e '?'. */
static const char *
val(struct buf *b, const char *s, bool utf8)
{
	unsigned char c;

	buf_reset(b);
	for (; s != NULL && *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c > 0x7f && !utf8)
			c = '?';
		if (buf_append(b, &c, 1) == -1)
			break;		/* cut at max */
	}
	return buf_cstr(b);
}

/* An address and its type for Final-Recipient: "rfc822", or for a
 * non-ASCII address of an SMTPUTF8 message "utf-8", the address a
 * utf-8-addr-unitext (RFC 6533 section 3): UTF-8 kept, ASCII outside
 * QUCHAR as \x{HEX}. */
static const char *
val_addr(struct buf *b, const char *addr, bool global, const char **type_r)
{
	const unsigned char *p;
	char esc[16];
	bool ascii = true;
	int n;

	for (p = (const unsigned char *)addr; *p != '\0'; p++)
		if (*p > 0x7f)
			ascii = false;
	*type_r = "rfc822";
	if (ascii || !global)
		return val(b, addr, false);
	*type_r = "utf-8";
	buf_reset(b);
	for (p = (const unsigned char *)addr; *p != '\0'; p++) {
		if ((*p > 0x20 && *p < 0x7f && *p != '+' && *p != '=' &&
		    *p != '\\') || *p > 0x7f)
			n = snprintf(esc, sizeof(esc), "%c", *p);
		else
			n = snprintf(esc, sizeof(esc), "\\x{%02X}", *p);
		if (buf_append(b, esc, (size_t)n) == -1)
			break;		/* cut at max */
	}
	return buf_cstr(b);
}

/* Human text, folded at spaces to DSN_WRAP columns; continuation lines
 * are indented. A word longer than a line is cut (not inside a UTF-8
 * sequence). */
static void
put_wrapped(struct dsn *d, const char *s)
{
	size_t width, take, len;
	const char *indent = "";

	while (*s == ' ')
		s++;
	while (*s != '\0') {
		width = *indent == '\0' ? DSN_WRAP : DSN_WRAP - 4;
		len = strlen(s);
		take = len;
		if (len > width) {
			for (take = width; take > 0 && s[take] != ' '; take--)
				;
			if (take == 0) {
				take = width;
				while (take > 1 &&
				    ((unsigned char)s[take] & 0xc0) == 0x80)
					take--;
			}
		}
		put(d, "%s%.*s\r\n", indent, (int)take, s);
		s += take;
		while (*s == ' ')
			s++;
		indent = "    ";
	}
}

static void
put_headers(struct dsn *d, const char *to, const char *id)
{
	char date[64];
	uint64_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	rfc5322_date(time(NULL), date, sizeof(date));
	put(d, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", d->host);
	put(d, "To: %s\r\n", val(&d->v1, to, d->global));
	put(d, "Subject: %s\r\n", d->count[BOUNCE_FAILED] > 0 ?
	    "Undelivered Mail Returned to Sender" :
	    d->count[BOUNCE_DELAYED] > 0 ?
	    "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report");
	put(d, "Date: %s\r\n", date);
	put(d, "Message-ID: <%s.%016llX@%s>\r\n", id,
	    (unsigned long long)rnd, d->host);
	put(d, "Auto-Submitted: auto-replied\r\n");
	put(d, "MIME-Version: 1.0\r\n");
	put(d, "Content-Type: multipart/report; report-type=%s;\r\n"
	    "\tboundary=\"%s\"\r\n",
	    d->global ? "global-delivery-status" : "delivery-status",
	    d->boundary);
	if (strcmp(d->cte, "7bit") != 0)
		put(d, "Content-Transfer-Encoding: %s\r\n", d->cte);
	put(d, "\r\n");
	put(d, "This is a MIME-encapsulated message.\r\n");
}

static void
put_human(struct dsn *d)
{
	static const char *const heading[BOUNCE_NACTIONS] = {
		[BOUNCE_FAILED] = "Could not be delivered to:",
		[BOUNCE_DELAYED] = "Not delivered yet to:",
		[BOUNCE_DELIVERED] = "Delivered to:",
	};
	const struct bounce_entry *e;
	char until[64], line[2 * DSN_VALUE_MAX + 8];
	size_t a, i;

	put(d, "\r\n--%s\r\n", d->boundary);
	put(d, "Content-Description: Notification\r\n");
	put(d, "Content-Type: text/plain; charset=%s\r\n\r\n",
	    d->global ? "utf-8" : "us-ascii");
	put(d, "This is the mail system at host %s.\r\n\r\n", d->host);
	if (d->double_bounce)
		put(d, "A message with a null sender (most likely a delivery "
		    "notice itself)\r\n"
		    "could not be delivered as reported below. There is no "
		    "sender to\r\n"
		    "return it to, so this report goes to the postmaster.\r\n");
	else if (d->count[BOUNCE_FAILED] > 0)
		put(d, "Your message could not be delivered to one or more "
		    "of its recipients.\r\n"
		    "The mail system has given up on them; the reason for "
		    "each is below.\r\n\r\n"
		    "If you need help, write to the postmaster of this host "
		    "and include\r\nthis report.\r\n");
	else if (d->count[BOUNCE_DELAYED] > 0)
		put(d, "Your message has not been delivered yet to one or "
		    "more of its\r\n"
		    "recipients. The mail system keeps trying; there is no "
		    "need to send\r\nthe message again.\r\n");
	else
		put(d, "Your message was delivered to the recipients listed "
		    "below; this report\r\n"
		    "was asked for when the message was sent.\r\n");
	put(d, "\r\n%24sThe mail system\r\n", "");
	rfc5322_date(d->env->arrival +
	    (time_t)d->cfg->maximal_queue_lifetime, until, sizeof(until));
	for (a = 0; a < BOUNCE_NACTIONS; a++) {
		if (d->count[a] == 0)
			continue;
		put(d, "\r\n%s\r\n", heading[a]);
		if (a == BOUNCE_DELAYED)
			put(d, "(the mail system keeps trying until %s)\r\n",
			    until);
		for (i = 0; i < d->n; i++) {
			e = &d->entries[i];
			if ((size_t)e->action != a || !reported(d, e))
				continue;
			val(&d->v1, d->env->rcpts[e->rcpt].address, d->global);
			val(&d->v2, e->text, false);
			/* Both at most DSN_VALUE_MAX: the join fits. */
			snprintf(line, sizeof(line), "<%s>: %s",
			    buf_cstr(&d->v1), *buf_cstr(&d->v2) != '\0' ?
			    buf_cstr(&d->v2) : "(no details)");
			put(d, "\r\n");
			put_wrapped(d, line);
		}
	}
}

static void
put_status(struct dsn *d)
{
	char date[64];
	size_t i;

	put(d, "\r\n--%s\r\n", d->boundary);
	put(d, "Content-Description: Delivery report\r\n");
	put(d, "Content-Type: %s\r\n\r\n", d->global ?
	    "message/global-delivery-status" : "message/delivery-status");
	put(d, "Reporting-MTA: dns; %s\r\n", d->host);
	put(d, "X-Postie-Queue-ID: %s\r\n", val(&d->v1, d->env->id, false));
	if (d->env->envid != NULL)
		put(d, "Original-Envelope-Id: %s\r\n",
		    val(&d->v1, d->env->envid, false));
	rfc5322_date(d->env->arrival, date, sizeof(date));
	put(d, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < d->n; i++)
		if (reported(d, &d->entries[i]))
			put_rcpt_fields(d, &d->entries[i]);
}

static void
put_rcpt_fields(struct dsn *d, const struct bounce_entry *e)
{
	const struct envelope_rcpt *r = &d->env->rcpts[e->rcpt];
	const char *semi, *p, *text, *type;
	char date[64];
	size_t tlen;

	put(d, "\r\n");
	text = val_addr(&d->v1, r->address, d->global, &type);
	put(d, "Final-Recipient: %s; %s\r\n", type, text);
	/* Stored as "type;value" (value xtext-decoded). */
	if (r->orcpt != NULL && (semi = strchr(r->orcpt, ';')) != NULL) {
		tlen = (size_t)(semi - r->orcpt);
		for (p = r->orcpt; p < semi && ((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-'); p++)
			;
		if (p == semi && tlen > 0 && tlen <= 32)
			put(d, "Original-Recipient: %.*s; %s\r\n", (int)tlen,
			    r->orcpt, val(&d->v1, semi + 1, d->global));
	}
	put(d, "Action: %s\r\n", action_names[e->action]);
	put(d, "Status: %s\r\n", e->status);
	text = val(&d->v1, e->text, false);
	if (*text != '\0')
		put(d, "Diagnostic-Code: %s; %s\r\n", text[0] >= '0' &&
		    text[0] <= '9' && text[1] >= '0' && text[1] <= '9' &&
		    text[2] >= '0' && text[2] <= '9' && text[3] == ' ' ?
		    "smtp" : "x-postie", text);
	if (e->action == BOUNCE_DELAYED) {
		rfc5322_date(d->env->arrival +
		    (time_t)d->cfg->maximal_queue_lifetime, date, sizeof(date));
		put(d, "Will-Retry-Until: %s\r\n", date);
	}
}

/* The original from msg_fd: all of it, or its header section up to and
 * including the empty line. Copied a chunk at a time. */
static int
put_returned(struct dsn *d, int fd, const char **error_r)
{
	uint8_t chunk[READ_CHUNK];
	uint64_t done = 0, size = d->env->content_size;
	size_t want, take, i;
	ssize_t n;
	bool text_on_line = false;

	put(d, "\r\n--%s\r\n", d->boundary);
	put(d, "Content-Description: %s Message%s\r\n",
	    d->count[BOUNCE_FAILED] > 0 ? "Undelivered" :
	    d->count[BOUNCE_DELAYED] > 0 ? "Delayed" : "Delivered",
	    d->full ? "" : " Headers");
	put(d, "Content-Type: %s\r\n", d->full ?
	    (d->global ? "message/global" : "message/rfc822") :
	    (d->global ? "message/global-headers" : "text/rfc822-headers"));
	if (strcmp(d->cte, "7bit") != 0)
		put(d, "Content-Transfer-Encoding: %s\r\n", d->cte);
	put(d, "\r\n");
	while (done < size) {
		want = size - done < sizeof(chunk) ? (size_t)(size - done) :
		    sizeof(chunk);
		n = pread(fd, chunk, want, d->env->content_offset +
		    (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ?
			    "queue file shorter than its envelope says" :
			    strerror(errno);
			return -1;
		}
		take = (size_t)n;
		if (!d->full) {
			/* The header ends at the first empty line (a bare
			 * LF is tolerated). */
			for (i = 0; i < take; i++) {
				if (chunk[i] == '\n') {
					if (!text_on_line)
						break;
					text_on_line = false;
				} else if (chunk[i] != '\r')
					text_on_line = true;
			}
			if (i < take) {
				put_raw(d, chunk, i + 1);
				return 0;
			}
		}
		put_raw(d, chunk, take);
		done += take;
	}
	return 0;
}

int
bounce_send(const struct config *cfg, const char *queue_dir,
    const struct envelope *env, int msg_fd,
    const struct bounce_entry *entries, size_t n, char *id_r,
    const char **error_r)
{
	struct queue_envelope qenv = { 0 };
	struct queue_rcpt qrcpt = { 0 };
	struct dsn d = { 0 };
	char *postmaster = NULL, id[QUEUE_ID_LEN + 1];
	uint32_t rnd;
	size_t i;
	int rc = -1;

	id_r[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!valid_entry(&entries[i]) ||
		    entries[i].rcpt >= env->nrcpts) {
			*error_r = "invalid bounce entry";
			return -1;
		}
	}
	if (env->kind != NULL && strcmp(env->kind, "2bounce") == 0) {
		if (n > 0)
			log_info("%s dsn=none reason=\"failed double bounce, "
			    "dropped\"", env->id);
		return 0;
	}
	d.cfg = cfg;
	d.env = env;
	d.entries = entries;
	d.n = n;
	d.double_bounce = *env->sender == '\0';
	d.global = env->smtputf8;
	for (i = 0; i < n; i++)
		if (reported(&d, &entries[i]))
			d.count[entries[i].action]++;
	if (d.count[BOUNCE_FAILED] + d.count[BOUNCE_DELAYED] +
	    d.count[BOUNCE_DELIVERED] == 0)
		return 0;

	/* RFC 3461 section 4.3: RET is for failure reports; any other
	 * returns the header only. */
	if (d.count[BOUNCE_FAILED] == 0)
		d.full = false;
	else if (env->ret != NULL && strcasecmp(env->ret, "FULL") == 0)
		d.full = true;
	else if (env->ret != NULL && strcasecmp(env->ret, "HDRS") == 0)
		d.full = false;
	else
		d.full = env->content_size <= cfg->bounce_size_limit;
	if (d.full && env->body != NULL &&
	    strcasecmp(env->body, "BINARYMIME") == 0)
		d.cte = "binary";
	else if (env->smtputf8 || (d.full && env->body != NULL &&
	    strcasecmp(env->body, "8BITMIME") == 0))
		d.cte = "8bit";
	else
		d.cte = "7bit";
	clean_host(d.host, sizeof(d.host), cfg->hostname, 253);

	qrcpt.address = env->sender;
	if (d.double_bounce) {
		if (cfg->postmaster_address != NULL &&
		    *cfg->postmaster_address != '\0')
			qrcpt.address = cfg->postmaster_address;
		else
			qrcpt.address = postmaster =
			    xasprintf("postmaster@%s", d.host);
	}
	qenv.sender = "";
	qenv.rcpts = &qrcpt;
	qenv.nrcpts = 1;
	qenv.body = strcmp(d.cte, "binary") == 0 ? "BINARYMIME" :
	    strcmp(d.cte, "8bit") == 0 ? "8BITMIME" : "7BIT";
	qenv.smtputf8 = env->smtputf8;
	qenv.client = "localhost";
	qenv.protocol = "LOCAL";
	qenv.kind = d.double_bounce ? "2bounce" : "bounce";
	if (queue_file_create(queue_dir, &qenv, &d.qf, error_r) == -1)
		goto out;
	snprintf(id, sizeof(id), "%s", queue_file_id(d.qf));

	/* The new ID and 32 random bits: no returned message can guess it
	 * (RFC 2046 section 5.1.1: at most 70 characters). */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	snprintf(d.boundary, sizeof(d.boundary), "%s.%08X/", id, rnd);
	/* UNSAFE: 26 octets written, clean_host() gets the room left. */
	clean_host(d.boundary + strlen(d.boundary),
	    sizeof(d.boundary) - strlen(d.boundary), d.host,
	    DSN_BOUNDARY_HOST);
	buf_init(&d.out, DSN_FLUSH + DSN_PUT_MAX);
	buf_init(&d.v1, DSN_VALUE_MAX);
	buf_init(&d.v2, DSN_VALUE_MAX);

	put_headers(&d, qrcpt.address, id);
	put_human(&d);
	put_status(&d);
	if (put_returned(&d, msg_fd, error_r) == -1) {
		queue_file_abort(&d.qf);
		goto out;
	}
	put(&d, "\r\n--%s--\r\n", d.boundary);
	flush(&d);
	if (queue_file_commit(&d.qf, error_r) == -1)
		goto out;
	snprintf(id_r, QUEUE_ID_LEN + 1, "%s", id);
	rc = 0;
out:
	buf_deinit(&d.out);
	buf_deinit(&d.v1);
	buf_deinit(&d.v2);
	free(postmaster);
	return rc;
}
