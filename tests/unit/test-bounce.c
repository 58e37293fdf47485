/* test-bounce: queue/bounce.c. The bounce and defer logs (append, read,
 * replacement in the defer log, removal, sanitizing, malformed and
 * oversized logs, torn appends, compaction) and the DSNs bounce_send()
 * queues (NOTIFY filtering, RET and bounce_size_limit, null senders and
 * double bounces, DSN fields, SMTPUTF8, 8BITMIME, streaming).
 *
 * Each DSN test builds a real queue file in a temporary queue directory,
 * reads its envelope back, runs bounce_send() and reads the notification
 * from <queue>/incoming/<id>. The message part is compared with a golden
 * file tests/unit/data/bounce-<name>.expected after normalize():
 *   - every line must end in CRLF and be under 998 octets; CRLF then
 *     becomes LF, so the golden files are ordinary text files;
 *   - the values that change from run to run become placeholders, each
 *     checked for its shape first: the Date header <DATE>, the Message-ID
 *     <MESSAGE-ID>, the MIME boundary <BOUNDARY>, the Arrival-Date value
 *     <ARRIVAL-DATE> and the retry limit <RETRY-DATE> (both must equal the
 *     dates computed from the original's arrival), the original's queue ID
 *     <QUEUE-ID> and the DSN's own <DSN-ID>.
 * Golden files are found under $POSTIE_SOURCE_ROOT/tests/unit/data, else
 * ../tests/unit/data (meson runs tests in the build directory). With
 * POSTIE_UPDATE_GOLDEN=1 the test writes them instead of comparing; on a
 * mismatch it leaves the normalized output in ./bounce-<name>.actual. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "queue/bounce.h"
#include "queue/envelope.h"
#include "queue/queue.h"

#define T(name, fn)	{ name, fn, setup, teardown, NULL }

#define HOST		"mx.example.org"
#define DATA_DIR	"tests/unit/data"

/* An original message in the queue, its envelope read back. */
struct orig {
	struct pool	*pool;
	struct envelope	 env;
	int		 fd;
};

/* A queued DSN, read back. */
struct dsn {
	struct pool	*pool;
	struct envelope	 env;
	char		*msg;	/* the message part, NUL-terminated */
	size_t		 len;
};

static int	 setup(void **state);
static int	 teardown(void **state);
static int	 count_files(const char *sub);
static void	 orig_make(struct orig *o, const struct queue_envelope *qe,
		    const char *msg, size_t len);
static void	 orig_free(struct orig *o);
static void	 dsn_read(const char *id, struct dsn *d);
static void	 dsn_free(struct dsn *d);
static void	 send_ok(struct orig *o, const struct bounce_entry *e,
		    size_t n, struct dsn *d);
static void	 send_nothing(struct orig *o, const struct bounce_entry *e,
		    size_t n);
static void	 date_of(time_t t, char *out, size_t size);
static char	*replace_all(char *s, const char *from, const char *to);
static char	*replace_field(char *s, const char *name, const char *want,
		    const char *to, bool first_only);
static void	 check_lines(const char *msg, size_t len, bool ascii);
static char	*boundary_of(const char *msg);
static char	*normalize(const struct orig *o, const struct dsn *d);
static void	 check_golden(const char *name, const struct orig *o,
		    const struct dsn *d);
static void	 returned_part(const struct dsn *d, const char **p_r,
		    size_t *len_r);
static void	 write_log(const char *log, const char *id, const char *text,
		    size_t len);
static char	*log_file(const char *log, const char *id, size_t *len_r);

static void	 test_full(void **state);
static void	 test_hdrs(void **state);
static void	 test_default_large(void **state);
static void	 test_default_small(void **state);
static void	 test_notify_never(void **state);
static void	 test_notify_success(void **state);
static void	 test_notify_default_delivered(void **state);
static void	 test_double_bounce(void **state);
static void	 test_double_bounce_postmaster_address(void **state);
static void	 test_failed_double_bounce(void **state);
static void	 test_dsn_fields(void **state);
static void	 test_text_sanitized(void **state);
static void	 test_bad_entries(void **state);
static void	 test_smtputf8(void **state);
static void	 test_8bitmime(void **state);
static void	 test_large_streamed(void **state);
static void	 test_header_across_chunks(void **state);
static void	 test_log_round_trip(void **state);
static void	 test_log_sanitized(void **state);
static void	 test_log_bad_arguments(void **state);
static void	 test_log_malformed(void **state);
static void	 test_log_too_large(void **state);
static void	 test_log_torn_tail(void **state);
static void	 test_log_compaction(void **state);

static char qdir[256];
static struct config cfg;

static const char small_msg[] =
    "From: Alice <a@example.org>\r\n"
    "To: Bob <b@example.net>\r\n"
    "Subject: lunch\r\n"
    "Date: Tue, 7 Jan 2020 10:00:00 +0000\r\n"
    "Message-ID: <lunch.1@example.org>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n"
    "\r\n"
    "Alice\r\n";

static const char *const body_line =
    "All work and no play makes Jack a dull boy. All work and no play.\r\n";

static const struct queue_rcpt rcpt_b[] = {
	{ "b@example.net", NULL, NULL },
};

static const struct bounce_entry unknown_b = {
	0, BOUNCE_FAILED, "5.1.1", "550 5.1.1 <b@example.net>: Recipient "
	"address rejected: User unknown in local recipient table",
};

static int
setup(void **state)
{
	const char *error;

	(void)state;
	snprintf(qdir, sizeof(qdir), "/tmp/postie-test-bounce-XXXXXX");
	assert_non_null(mkdtemp(qdir));
	assert_int_equal(queue_init_dirs(qdir, &error), 0);
	conf_defaults(&cfg, qdir);
	free(cfg.hostname);
	cfg.hostname = xstrdup(HOST);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	conf_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
count_files(const char *sub)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
orig_make(struct orig *o, const struct queue_envelope *qe, const char *msg,
    size_t len)
{
	struct queue_file *qf;
	const char *error;
	char path[512];

	assert_int_equal(queue_file_create(qdir, qe, &qf, &error), 0);
	snprintf(path, sizeof(path), "%s/incoming/%s", qdir,
	    queue_file_id(qf));
	assert_int_equal(queue_file_write(qf, msg, len), 0);
	assert_int_equal(queue_file_commit(&qf, &error), 0);
	o->pool = pool_new(NULL);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(o->fd != -1);
	assert_int_equal(envelope_read(o->fd, o->pool, &o->env, &error), 0);
	assert_int_equal(o->env.content_size, len);
}

static void
orig_free(struct orig *o)
{
	close(o->fd);
	pool_free(&o->pool);
}

static void
dsn_read(const char *id, struct dsn *d)
{
	const char *error;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	d->pool = pool_new(NULL);
	assert_int_equal(envelope_read(fd, d->pool, &d->env, &error), 0);
	assert_string_equal(d->env.id, id);
	d->len = (size_t)d->env.content_size;
	d->msg = xmalloc(d->len + 1);
	assert_int_equal(pread(fd, d->msg, d->len, d->env.content_offset),
	    (ssize_t)d->len);
	close(fd);
}

static void
dsn_free(struct dsn *d)
{
	free(d->msg);
	pool_free(&d->pool);
}

/* bounce_send() queues exactly one DSN, with the envelope every DSN has. */
static void
send_ok(struct orig *o, const struct bounce_entry *e, size_t n,
    struct dsn *d)
{
	char id[QUEUE_ID_LEN + 1];
	const char *error = NULL;
	int before = count_files("incoming");

	if (bounce_send(&cfg, qdir, &o->env, o->fd, e, n, id, &error) != 0)
		fail_msg("bounce_send: %s", error);
	assert_true(queue_valid_id(id));
	assert_int_equal(count_files("incoming"), before + 1);
	assert_int_equal(count_files("tmp"), 0);
	dsn_read(id, d);
	assert_string_equal(d->env.sender, "");
	assert_int_equal(d->env.nrcpts, 1);
	assert_null(d->env.rcpts[0].notify);
	assert_null(d->env.rcpts[0].orcpt);
	assert_string_equal(d->env.protocol, "LOCAL");
	assert_string_equal(d->env.client, "localhost");
	assert_null(d->env.ret);
	assert_null(d->env.envid);
	assert_non_null(d->env.kind);
}

static void
send_nothing(struct orig *o, const struct bounce_entry *e, size_t n)
{
	char id[QUEUE_ID_LEN + 1] = "not touched";
	const char *error = NULL;
	int before = count_files("incoming");

	if (bounce_send(&cfg, qdir, &o->env, o->fd, e, n, id, &error) != 0)
		fail_msg("bounce_send: %s", error);
	assert_string_equal(id, "");
	assert_int_equal(count_files("incoming"), before);
	assert_int_equal(count_files("tmp"), 0);
}

/* The same RFC 5322 form as bounce.c writes: local time, English names,
 * day without a leading zero. */
static void
date_of(time_t t, char *out, size_t size)
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

	assert_non_null(localtime_r(&t, &tm));
	off = tm.tm_gmtoff / 60;
	snprintf(out, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* Every occurrence of from becomes to. Takes s, returns a new string. */
static char *
replace_all(char *s, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), n = 0, len;
	char *out, *o, *p, *q;

	assert_true(flen > 0);
	for (p = s; (p = strstr(p, from)) != NULL; p += flen)
		n++;
	len = strlen(s) - n * flen + n * tlen;
	out = o = xmalloc(len + 1);
	for (p = s; (q = strstr(p, from)) != NULL; p = q + flen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tlen);
		o += tlen;
	}
	memcpy(o, p, strlen(p) + 1);
	free(s);
	return out;
}

/* The value of each line "name: value" (or only the first) becomes to,
 * after checking it equals want (unless want is NULL). */
static char *
replace_field(char *s, const char *name, const char *want, const char *to,
    bool first_only)
{
	char prefix[64], *line, *end, *out;
	size_t off = 0, plen;
	int found = 0;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s: ", name);
	for (;;) {
		line = s + off;
		if (strncmp(line, prefix, plen) == 0) {
			end = strchr(line, '\n');
			assert_non_null(end);
			if (want != NULL && ((size_t)(end - line) - plen !=
			    strlen(want) || strncmp(line + plen, want,
			    strlen(want)) != 0))
				fail_msg("%s: got \"%.*s\", want \"%s\"", name,
				    (int)(end - line - (ptrdiff_t)plen),
				    line + plen, want);
			out = xasprintf("%.*s%s%s", (int)(off + plen), s, to,
			    end);
			off += plen + strlen(to);
			free(s);
			s = out;
			found++;
			if (first_only)
				break;
		}
		if ((end = strchr(s + off, '\n')) == NULL)
			break;
		off = (size_t)(end - s) + 1;
	}
	if (found == 0)
		fail_msg("no %s field", name);
	return s;
}

/* CRLF line ends only, every line under 998 octets, no NUL, and (unless
 * the message may carry UTF-8) only us-ascii. */
static void
check_lines(const char *msg, size_t len, bool ascii)
{
	size_t i, line_start = 0;

	assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		if (msg[i] == '\0')
			fail_msg("NUL at %zu", i);
		if (ascii && (unsigned char)msg[i] > 0x7f)
			fail_msg("8-bit octet at %zu", i);
		if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n'))
			fail_msg("bare CR at %zu", i);
		if (msg[i] == '\n') {
			if (i == 0 || msg[i - 1] != '\r')
				fail_msg("bare LF at %zu", i);
			if (i - 1 - line_start >= 998)
				fail_msg("line of %zu octets at %zu",
				    i - 1 - line_start, line_start);
			line_start = i + 1;
		}
	}
}

static char *
boundary_of(const char *msg)
{
	const char *p = strstr(msg, "boundary=\""), *end;

	assert_non_null(p);
	p += strlen("boundary=\"");
	end = strchr(p, '"');
	assert_non_null(end);
	return xstrndup(p, (size_t)(end - p));
}

static char *
normalize(const struct orig *o, const struct dsn *d)
{
	char arrival[64], retry[64], *s, *b, *p, want[128];
	const char *mid;
	struct tm tm;
	size_t i;

	check_lines(d->msg, d->len, !o->env.smtputf8);
	s = replace_all(xstrdup(d->msg), "\r\n", "\n");

	/* Date: the DSN's own, the first one; a valid RFC 5322 date. */
	p = strstr(s, "\nDate: ");
	assert_non_null(p);
	memset(&tm, 0, sizeof(tm));
	p = strptime(p + 7, "%a, %d %b %Y %H:%M:%S %z", &tm);
	assert_true(p != NULL && *p == '\n');
	s = replace_field(s, "Date", NULL, "<DATE>", true);

	/* Message-ID: <DSN-ID.16 hex digits@HOST> */
	mid = strstr(s, "\nMessage-ID: <");
	assert_non_null(mid);
	mid += strlen("\nMessage-ID: <");
	snprintf(want, sizeof(want), "%s.", d->env.id);
	assert_memory_equal(mid, want, strlen(want));
	for (i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789ABCDEF",
		    mid[strlen(want) + i]));
	assert_memory_equal(mid + strlen(want) + 16, "@" HOST ">\n",
	    strlen("@" HOST ">\n"));
	s = replace_field(s, "Message-ID", NULL, "<MESSAGE-ID>", true);

	/* The boundary: DSN-ID.8 hex digits/HOST */
	b = boundary_of(s);
	assert_int_equal(strlen(b), QUEUE_ID_LEN + 1 + 8 + 1 + strlen(HOST));
	assert_memory_equal(b, d->env.id, QUEUE_ID_LEN);
	assert_int_equal(b[QUEUE_ID_LEN], '.');
	for (i = 0; i < 8; i++)
		assert_non_null(strchr("0123456789ABCDEF",
		    b[QUEUE_ID_LEN + 1 + i]));
	assert_string_equal(b + QUEUE_ID_LEN + 9, "/" HOST);
	s = replace_all(s, b, "<BOUNDARY>");
	free(b);

	date_of(o->env.arrival, arrival, sizeof(arrival));
	s = replace_field(s, "Arrival-Date", arrival, "<ARRIVAL-DATE>", false);
	date_of(o->env.arrival + (time_t)cfg.maximal_queue_lifetime, retry,
	    sizeof(retry));
	s = replace_all(s, retry, "<RETRY-DATE>");
	s = replace_all(s, o->env.id, "<QUEUE-ID>");
	s = replace_all(s, d->env.id, "<DSN-ID>");
	return s;
}

static void
check_golden(const char *name, const struct orig *o, const struct dsn *d)
{
	const char *root = getenv("POSTIE_SOURCE_ROOT");
	char path[PATH_MAX], actual[PATH_MAX], *got, *want;
	FILE *fp = NULL;
	long size;

	got = normalize(o, d);
	if (root != NULL && *root != '\0')
		snprintf(path, sizeof(path), "%s/%s/bounce-%s.expected", root,
		    DATA_DIR, name);
	else
		snprintf(path, sizeof(path), "../%s/bounce-%s.expected",
		    DATA_DIR, name);
	if (getenv("POSTIE_UPDATE_GOLDEN") != NULL) {
		assert_non_null(fp = fopen(path, "w"));
		assert_int_equal(fwrite(got, 1, strlen(got), fp), strlen(got));
		assert_int_equal(fclose(fp), 0);
		free(got);
		return;
	}
	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s: run from the build directory or set "
		    "POSTIE_SOURCE_ROOT to the source tree", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size >= 0);
	rewind(fp);
	want = xmalloc((size_t)size + 1);
	assert_int_equal(fread(want, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	if (strcmp(got, want) != 0) {
		snprintf(actual, sizeof(actual), "bounce-%s.actual", name);
		if ((fp = fopen(actual, "w")) != NULL) {
			fputs(got, fp);
			fclose(fp);
		}
		fail_msg("DSN differs from %s (normalized output in %s)", path,
		    actual);
	}
	free(want);
	free(got);
}

/* The third part's content: after its header, up to the closing
 * delimiter (RFC 2046: the CRLF before "--" belongs to the delimiter). */
static void
returned_part(const struct dsn *d, const char **p_r, size_t *len_r)
{
	char *b = boundary_of(d->msg), *delim, *close;
	const char *p = d->msg;
	size_t clen;
	int i;

	delim = xasprintf("\r\n--%s\r\n", b);
	for (i = 0; i < 3; i++) {
		p = strstr(p, delim);
		assert_non_null(p);
		p += strlen(delim);
	}
	assert_null(strstr(p, delim));
	p = strstr(p, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	close = xasprintf("\r\n--%s--\r\n", b);
	clen = strlen(close);
	assert_true(d->len >= clen);
	assert_memory_equal(d->msg + d->len - clen, close, clen);
	*p_r = p;
	*len_r = (size_t)(d->msg + d->len - clen - p);
	free(close);
	free(delim);
	free(b);
}

/* ---- DSNs ---- */

static void
test_full(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1, .ret = "FULL", .body = "7BIT",
	    .client = "192.0.2.7", .protocol = "ESMTP" };
	const char *p;
	struct orig o;
	struct dsn d;
	size_t len;

	(void)state;
	/* Over the size limit: RET=FULL wins. */
	cfg.bounce_size_limit = 10;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_ok(&o, &unknown_b, 1, &d);
	assert_string_equal(d.env.rcpts[0].address, "a@example.org");
	assert_string_equal(d.env.kind, "bounce");
	assert_string_equal(d.env.body, "7BIT");
	assert_false(d.env.smtputf8);
	returned_part(&d, &p, &len);
	assert_int_equal(len, strlen(small_msg));
	assert_memory_equal(p, small_msg, len);
	check_golden("full", &o, &d);
	dsn_free(&d);
	orig_free(&o);
}

static void
test_hdrs(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1, .ret = "HDRS" };
	const struct bounce_entry e = { 0, BOUNCE_FAILED, "5.2.2",
	    "mailbox of b@example.net is over its quota" };
	const char *p, *body = strstr(small_msg, "\r\n\r\n") + 4;
	struct orig o;
	struct dsn d;
	size_t len;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_ok(&o, &e, 1, &d);
	returned_part(&d, &p, &len);
	assert_int_equal(len, (size_t)(body - small_msg));
	assert_memory_equal(p, small_msg, len);
	check_golden("hdrs", &o, &d);
	dsn_free(&d);
	orig_free(&o);
}

static void
test_default_large(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1 };
	char *msg;
	struct orig o;
	struct dsn d;

	(void)state;
	msg = xasprintf("%s%s%s%s", small_msg, body_line, body_line,
	    body_line);
	cfg.bounce_size_limit = strlen(msg) - 1;
	orig_make(&o, &qe, msg, strlen(msg));
	send_ok(&o, &unknown_b, 1, &d);
	assert_null(strstr(d.msg, "All work"));
	check_golden("default-large", &o, &d);
	dsn_free(&d);
	orig_free(&o);
	free(msg);
}

static void
test_default_small(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1 };
	char *msg;
	struct orig o;
	struct dsn d;

	(void)state;
	msg = xasprintf("%s%s%s%s", small_msg, body_line, body_line,
	    body_line);
	cfg.bounce_size_limit = strlen(msg);
	orig_make(&o, &qe, msg, strlen(msg));
	send_ok(&o, &unknown_b, 1, &d);
	check_golden("default-small", &o, &d);
	dsn_free(&d);
	orig_free(&o);
	free(msg);
}

static void
test_notify_never(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "b@example.net", "NEVER", NULL },
	};
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = r, .nrcpts = 1 };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_FAILED, "5.1.1", "550 5.1.1 unknown" },
		{ 0, BOUNCE_DELAYED, "4.4.1", "timeout" },
		{ 0, BOUNCE_DELIVERED, "2.0.0", "250 2.0.0 Ok" },
	};
	struct orig o;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_nothing(&o, e, 3);
	send_nothing(&o, NULL, 0);
	orig_free(&o);
}

static void
test_notify_success(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "b@example.net", "SUCCESS", NULL },
	};
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = r, .nrcpts = 1, .ret = "FULL" };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_DELIVERED, "2.0.0",
		    "250 2.0.0 Ok: queued as 4Xk2" },
	};
	struct orig o;
	struct dsn d;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_ok(&o, e, 1, &d);
	/* A success report returns the header only, RET=FULL or not. */
	assert_null(strstr(d.msg, "Shall we meet"));
	assert_null(strstr(d.msg, "Action: failed"));
	check_golden("success", &o, &d);
	dsn_free(&d);
	orig_free(&o);
}

static void
test_notify_default_delivered(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1 };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_DELIVERED, "2.0.0", "250 2.0.0 Ok" },
	};
	struct orig o;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_nothing(&o, e, 1);
	orig_free(&o);
}

static void
test_double_bounce(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "a@example.org", "NEVER", NULL },
	};
	struct queue_envelope qe = { .sender = "", .rcpts = r, .nrcpts = 1,
	    .kind = "bounce", .protocol = "LOCAL" };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_FAILED, "5.1.1",
		    "550 5.1.1 <a@example.org>: no such user" },
	};
	struct orig o;
	struct dsn d;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	/* NOTIFY=NEVER does not hide anything from the postmaster. */
	send_ok(&o, e, 1, &d);
	assert_string_equal(d.env.rcpts[0].address, "postmaster@" HOST);
	assert_string_equal(d.env.kind, "2bounce");
	check_golden("2bounce", &o, &d);
	dsn_free(&d);
	orig_free(&o);
}

static void
test_double_bounce_postmaster_address(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "a@example.org", NULL, NULL },
	};
	struct queue_envelope qe = { .sender = "", .rcpts = r, .nrcpts = 1 };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_DELIVERED, "2.0.0", "250 2.0.0 Ok" },
	};
	struct orig o;
	struct dsn d;

	(void)state;
	free(cfg.postmaster_address);
	cfg.postmaster_address = xstrdup("hostmaster@example.org");
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_ok(&o, e, 1, &d);
	assert_string_equal(d.env.rcpts[0].address, "hostmaster@example.org");
	assert_string_equal(d.env.kind, "2bounce");
	assert_non_null(strstr(d.msg, "\r\nTo: hostmaster@example.org\r\n"));
	assert_non_null(strstr(d.msg, "\r\nAction: delivered\r\n"));
	dsn_free(&d);
	orig_free(&o);
}

static void
test_failed_double_bounce(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "postmaster@" HOST, NULL, NULL },
	};
	struct queue_envelope qe = { .sender = "", .rcpts = r, .nrcpts = 1,
	    .kind = "2bounce" };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_FAILED, "5.2.2", "mailbox full" },
	};
	struct orig o;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_nothing(&o, e, 1);
	orig_free(&o);
}

static void
test_dsn_fields(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "b@example.net", NULL, "rfc822;B@Example.NET" },
		{ "c@example.net", "FAILURE,DELAY",
		    "rfc822;c+list@example.net" },
		{ "d@example.net", "SUCCESS", NULL },
		{ "e@example.net", "DELAY", NULL },
	};
	struct queue_envelope qe = { .sender = "a@example.org", .rcpts = r,
	    .nrcpts = 4, .envid = "QQ314159" };
	const struct bounce_entry e[] = {
		unknown_b,
		{ 1, BOUNCE_DELAYED, "4.4.1", "connect to mx.example.net"
		    "[192.0.2.25]:25: Connection timed out" },
		/* d asked for SUCCESS only: its failure is not reported. */
		{ 2, BOUNCE_FAILED, "5.7.1", "550 5.7.1 refused" },
		{ 2, BOUNCE_DELIVERED, "2.0.0", "250 2.0.0 Ok" },
		/* e asked for DELAY only. */
		{ 3, BOUNCE_FAILED, "5.4.4", "Host or domain name not found" },
		{ 3, BOUNCE_DELAYED, "4.4.3", "" },
	};
	struct orig o;
	struct dsn d;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_ok(&o, e, 6, &d);
	assert_null(strstr(d.msg, "5.7.1"));
	assert_null(strstr(d.msg, "5.4.4"));
	check_golden("dsn-fields", &o, &d);
	dsn_free(&d);
	orig_free(&o);
}

static void
test_text_sanitized(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1 };
	char *longtext, *want;
	const char *p;
	struct bounce_entry e[] = {
		{ 0, BOUNCE_FAILED, "5.0.0",
		    "550 bad\r\nX-Injected: yes\r\n\r\nbody\x01\x7f"
		    "caf\xc3\xa9" },
		{ 0, BOUNCE_FAILED, "5.0.0", NULL },
	};
	struct orig o;
	struct dsn d;

	(void)state;
	longtext = xmalloc(2001);
	memset(longtext, 'x', 2000);
	e[1].text = longtext;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	send_ok(&o, e, 2, &d);
	/* check_lines() already held: CRLF only, short lines, us-ascii. */
	check_lines(d.msg, d.len, true);
	assert_non_null(strstr(d.msg, "\r\nDiagnostic-Code: smtp; 550 bad  "
	    "X-Injected: yes    body  caf??\r\n"));
	assert_null(strstr(d.msg, "\nX-Injected"));
	/* Cut at 900 octets in the report, and folded in the text. */
	want = xasprintf("\r\nDiagnostic-Code: x-postie; %.900s\r\n", longtext);
	assert_non_null(strstr(d.msg, want));
	p = strstr(d.msg, "\r\n<b@example.net>:\r\n    xxxx");
	assert_non_null(p);
	p += strlen("\r\n<b@example.net>:\r\n    ");
	assert_memory_equal(p + 68, "\r\n    xxxx", 10);
	assert_int_equal(p[-1], ' ');
	assert_int_equal(p[67], 'x');
	free(want);
	free(longtext);
	dsn_free(&d);
	orig_free(&o);
}

static void
test_bad_entries(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1 };
	static const struct bounce_entry bad[] = {
		{ 1, BOUNCE_FAILED, "5.1.1", "no such recipient index" },
		{ 0, BOUNCE_FAILED, "5.1", "bad status" },
		{ 0, BOUNCE_FAILED, "3.1.1", "bad class" },
		{ 0, BOUNCE_FAILED, NULL, "no status" },
		{ 0, (enum bounce_action)7, "5.1.1", "bad action" },
	};
	char id[QUEUE_ID_LEN + 1];
	const char *error = NULL;
	struct orig o;
	size_t i;

	(void)state;
	orig_make(&o, &qe, small_msg, strlen(small_msg));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(bounce_send(&cfg, qdir, &o.env, o.fd, &bad[i],
		    1, id, &error), -1);
		assert_non_null(error);
		assert_string_equal(id, "");
	}
	assert_int_equal(count_files("incoming"), 1);
	assert_int_equal(count_files("tmp"), 0);
	orig_free(&o);
}

static void
test_smtputf8(void **state)
{
	static const struct queue_rcpt r[] = {
		{ "j\xc3\xbcrgen+x@b\xc3\xbc" "cher.example", NULL,
		    "utf-8;j\xc3\xbcrgen+x@b\xc3\xbc" "cher.example" },
	};
	struct queue_envelope qe = { .sender = "\xc3\xa5sa@example.org",
	    .rcpts = r, .nrcpts = 1, .smtputf8 = true, .body = "8BITMIME",
	    .ret = "FULL" };
	const struct bounce_entry e[] = {
		{ 0, BOUNCE_FAILED, "5.1.1", "550 5.1.1 unknown" },
	};
	const char *msg = "Subject: gr\xc3\xbc\xc3\x9f" "e\r\n\r\nhej\r\n";
	struct orig o;
	struct dsn d;

	(void)state;
	orig_make(&o, &qe, msg, strlen(msg));
	send_ok(&o, e, 1, &d);
	assert_true(d.env.smtputf8);
	assert_string_equal(d.env.body, "8BITMIME");
	assert_string_equal(d.env.rcpts[0].address, "\xc3\xa5sa@example.org");
	check_lines(d.msg, d.len, false);
	assert_non_null(strstr(d.msg, "report-type=global-delivery-status;"));
	assert_non_null(strstr(d.msg, "\r\nContent-Transfer-Encoding: 8bit"
	    "\r\n\r\nThis is a MIME"));
	assert_non_null(strstr(d.msg, "\r\nTo: \xc3\xa5sa@example.org\r\n"));
	assert_non_null(strstr(d.msg, "Content-Type: text/plain; "
	    "charset=utf-8\r\n"));
	assert_non_null(strstr(d.msg, "Content-Type: "
	    "message/global-delivery-status\r\n"));
	assert_non_null(strstr(d.msg, "\r\nFinal-Recipient: utf-8; "
	    "j\xc3\xbcrgen\\x{2B}x@b\xc3\xbc" "cher.example\r\n"));
	assert_non_null(strstr(d.msg, "\r\nOriginal-Recipient: utf-8; "
	    "j\xc3\xbcrgen+x@b\xc3\xbc" "cher.example\r\n"));
	assert_non_null(strstr(d.msg, "Content-Type: message/global\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"));
	assert_non_null(strstr(d.msg, msg));
	dsn_free(&d);
	orig_free(&o);
}

static void
test_8bitmime(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1, .body = "8BITMIME" };
	const char *msg = "Subject: x\r\n\r\nSm\xc3\xb8rrebr\xc3\xb8" "d\r\n";
	struct orig o;
	struct dsn d;

	(void)state;
	orig_make(&o, &qe, msg, strlen(msg));
	send_ok(&o, &unknown_b, 1, &d);
	assert_string_equal(d.env.body, "8BITMIME");
	assert_false(d.env.smtputf8);
	check_lines(d.msg, d.len, false);
	assert_non_null(strstr(d.msg, "report-type=delivery-status;"));
	assert_non_null(strstr(d.msg, "\r\nContent-Transfer-Encoding: 8bit"
	    "\r\n\r\nThis is a MIME"));
	assert_non_null(strstr(d.msg, "Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"));
	assert_non_null(strstr(d.msg, msg));
	dsn_free(&d);
	orig_free(&o);

	/* Only the (7-bit) header returned: nothing 8-bit in the DSN. */
	cfg.bounce_size_limit = 0;
	orig_make(&o, &qe, msg, strlen(msg));
	send_ok(&o, &unknown_b, 1, &d);
	assert_string_equal(d.env.body, "7BIT");
	check_lines(d.msg, d.len, true);
	assert_null(strstr(d.msg, "Content-Transfer-Encoding"));
	dsn_free(&d);
	orig_free(&o);
}

/* A message many chunks long comes back whole and unchanged. */
static void
test_large_streamed(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1, .ret = "FULL" };
	size_t n = 3 * 1024 * 1024, len, i, hlen;
	char *msg;
	const char *p;
	struct orig o;
	struct dsn d;

	(void)state;
	msg = xmalloc(n + 1);
	hlen = strlen(small_msg);
	memcpy(msg, small_msg, hlen);
	for (i = hlen; i + 2 <= n; i++)
		msg[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' :
		    (char)('a' + i % 26);
	msg[n - 2] = '\r';
	msg[n - 1] = '\n';
	orig_make(&o, &qe, msg, n);
	send_ok(&o, &unknown_b, 1, &d);
	returned_part(&d, &p, &len);
	assert_int_equal(len, n);
	assert_memory_equal(p, msg, n);
	dsn_free(&d);
	orig_free(&o);
	free(msg);
}

/* The empty line that ends the header straddles two read chunks. */
static void
test_header_across_chunks(void **state)
{
	struct queue_envelope qe = { .sender = "a@example.org",
	    .rcpts = rcpt_b, .nrcpts = 1, .ret = "HDRS" };
	size_t chunk = 65536, hlen = chunk + 2, pos = 0, len;
	char *msg;
	const char *p;
	struct orig o;
	struct dsn d;

	(void)state;
	/* Header lines of 64 octets, then one sized so that the final
	 * "\r\n\r\n" covers octets chunk - 2 .. chunk + 1. */
	msg = xmalloc(hlen + 64);
	while (pos + 64 <= hlen - 2 - 70) {
		memcpy(msg + pos, "X-Pad: ", 7);
		memset(msg + pos + 7, 'p', 64 - 9);
		memcpy(msg + pos + 62, "\r\n", 2);
		pos += 64;
	}
	memcpy(msg + pos, "Subject: ", 9);
	memset(msg + pos + 9, 's', hlen - 2 - pos - 11);
	pos = hlen - 4;
	memcpy(msg + pos, "\r\n", 2);
	pos += 2;
	memcpy(msg + pos, "\r\nbody\r\n", 8);
	assert_memory_equal(msg + chunk - 2, "\r\n\r\n", 4);
	orig_make(&o, &qe, msg, hlen + 6);
	send_ok(&o, &unknown_b, 1, &d);
	returned_part(&d, &p, &len);
	assert_int_equal(len, hlen);
	assert_memory_equal(p, msg, hlen);
	assert_non_null(strstr(d.msg, "Content-Type: text/rfc822-headers"));
	dsn_free(&d);
	orig_free(&o);
	free(msg);
}

/* ---- logs ---- */

#define LOG_ID	"65A1B2C3D4E5F601"

static void
write_log(const char *log, const char *id, const char *text, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", qdir, log, id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static char *
log_file(const char *log, const char *id, size_t *len_r)
{
	char path[512], *data;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", qdir, log, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	data = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	*len_r = (size_t)st.st_size;
	return data;
}

static void
test_log_round_trip(void **state)
{
	static const struct bounce_entry e[] = {
		{ 0, BOUNCE_FAILED, "5.1.1", "550 5.1.1 unknown user" },
		{ 2, BOUNCE_DELIVERED, "2.0.0", "250 2.0.0 Ok" },
		{ 0, BOUNCE_FAILED, "5.1.1", "550 5.1.1 again" },
		{ 12345, BOUNCE_FAILED, "5.4.4", "" },
	};
	static const struct bounce_entry d[] = {
		{ 1, BOUNCE_DELAYED, "4.4.1", "timeout 1" },
		{ 3, BOUNCE_DELAYED, "4.4.2", "lost connection" },
		{ 1, BOUNCE_DELAYED, "4.4.1", "timeout 2" },
		{ 3, BOUNCE_FAILED, "5.0.0", "other action, kept" },
		{ 1, BOUNCE_DELAYED, "4.7.1", "greylisted" },
	};
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	char *data;
	size_t i, n, len;

	(void)state;
	/* Missing logs read as empty. */
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID,
		    &e[i], &error), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(bounce_log_append(qdir, "defer", LOG_ID,
		    &d[i], &error), 0);
	data = log_file("bounce", LOG_ID, &len);
	assert_non_null(data);
	assert_int_equal(len, strlen("0 failed 5.1.1 550 5.1.1 unknown user\n"
	    "2 delivered 2.0.0 250 2.0.0 Ok\n0 failed 5.1.1 550 5.1.1 again\n"
	    "12345 failed 5.4.4 \n"));
	assert_memory_equal(data, "0 failed 5.1.1 550 5.1.1 unknown user\n"
	    "2 delivered 2.0.0 250 2.0.0 Ok\n0 failed 5.1.1 550 5.1.1 again\n"
	    "12345 failed 5.4.4 \n", len);
	free(data);

	/* The bounce log keeps every entry, in order. */
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(v[i].rcpt, e[i].rcpt);
		assert_int_equal(v[i].action, e[i].action);
		assert_string_equal(v[i].status, e[i].status);
		assert_string_equal(v[i].text, e[i].text);
	}
	/* The defer log keeps the last per recipient and action, at the
	 * place of the first. */
	assert_int_equal(bounce_log_read(qdir, "defer", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].rcpt, 1);
	assert_string_equal(v[0].status, "4.7.1");
	assert_string_equal(v[0].text, "greylisted");
	assert_int_equal(v[1].rcpt, 3);
	assert_int_equal(v[1].action, BOUNCE_DELAYED);
	assert_string_equal(v[1].text, "lost connection");
	assert_int_equal(v[2].rcpt, 3);
	assert_int_equal(v[2].action, BOUNCE_FAILED);

	bounce_log_remove(qdir, LOG_ID);
	assert_int_equal(count_files("bounce"), 0);
	assert_int_equal(count_files("defer"), 0);
	assert_int_equal(bounce_log_read(qdir, "defer", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	/* Removing what is not there is fine. */
	bounce_log_remove(qdir, LOG_ID);
	pool_free(&pool);
}

static void
test_log_sanitized(void **state)
{
	struct bounce_entry e = { 7, BOUNCE_FAILED, "5.1.1",
	    "550 no\r\nX-Evil: 1\ttab\x1b[0m\x7f" "end" };
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	char *longtext;
	size_t n;

	(void)state;
	assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID, &e,
	    &error), 0);
	longtext = xmalloc(5001);
	memset(longtext, 'y', 5000);
	e.text = longtext;
	assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID, &e,
	    &error), 0);
	e.text = NULL;
	assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID, &e,
	    &error), 0);
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].text, "550 no  X-Evil: 1 tab [0m end");
	assert_int_equal(strlen(v[1].text), 900);
	assert_memory_equal(v[1].text, longtext, 900);
	assert_string_equal(v[2].text, "");
	free(longtext);
	pool_free(&pool);
}

static void
test_log_bad_arguments(void **state)
{
	static const struct bounce_entry ok = {
		0, BOUNCE_FAILED, "5.1.1", "x",
	};
	static const struct bounce_entry bad[] = {
		{ 0, BOUNCE_FAILED, "5.1", "short status" },
		{ 0, BOUNCE_FAILED, "5.1.1 x", "space in status" },
		{ 0, BOUNCE_FAILED, "5.1234.1", "long subject" },
		{ 0, BOUNCE_FAILED, NULL, "no status" },
		{ 0, (enum bounce_action)99, "5.1.1", "bad action" },
		{ ENVELOPE_RCPTS_MAX, BOUNCE_FAILED, "5.1.1", "bad index" },
	};
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID,
		    &bad[i], &error), -1);
		assert_non_null(error);
	}
	assert_int_equal(bounce_log_append(qdir, "trace", LOG_ID, &ok,
	    &error), -1);
	assert_int_equal(bounce_log_append(qdir, "bounce", "../../etc/x",
	    &ok, &error), -1);
	assert_int_equal(bounce_log_append(qdir, "bounce", "65a1b2c3d4e5f601",
	    &ok, &error), -1);
	assert_int_equal(bounce_log_read(qdir, "defer", "..", pool, &v, &n,
	    &error), -1);
	assert_int_equal(count_files("bounce"), 0);
	assert_int_equal(count_files("defer"), 0);
	pool_free(&pool);
}

static void
test_log_malformed(void **state)
{
	static const struct {
		const char	*name;
		const char	*text;
	} cases[] = {
		{ "no index", "failed 5.1.1 x\n" },
		{ "index not a number", "x failed 5.1.1 x\n" },
		{ "leading zero", "01 failed 5.1.1 x\n" },
		{ "index too large", "100000 failed 5.1.1 x\n" },
		{ "unknown action", "0 exploded 5.1.1 x\n" },
		{ "action prefix", "0 fail 5.1.1 x\n" },
		{ "short status", "0 failed 5.1 x\n" },
		{ "status class", "0 failed 3.1.1 x\n" },
		{ "no text separator", "0 failed 5.1.1\n" },
		{ "double space", "0  failed 5.1.1 x\n" },
		{ "control in text", "0 failed 5.1.1 a\tb\n" },
		{ "CR in text", "0 failed 5.1.1 a\r\n" },
		{ "empty line", "0 failed 5.1.1 x\n\n" },
		{ "bad line after good ones",
		    "0 failed 5.1.1 x\n1 delayed 4.4.1 y\nnonsense\n" },
	};
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	char *line;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_log("bounce", LOG_ID, cases[i].text,
		    strlen(cases[i].text));
		error = NULL;
		if (bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
		    &error) != -1)
			fail_msg("%s: read", cases[i].name);
		assert_non_null(error);
	}
	/* A NUL in the text. */
	write_log("defer", LOG_ID, "0 delayed 4.4.1 a\0b\n",
	    sizeof("0 delayed 4.4.1 a\0b\n") - 1);
	assert_int_equal(bounce_log_read(qdir, "defer", LOG_ID, pool, &v, &n,
	    &error), -1);
	/* Text of 901 octets. */
	line = xmalloc(1000);
	memcpy(line, "0 failed 5.1.1 ", 15);
	memset(line + 15, 'z', 901);
	line[916] = '\n';
	write_log("bounce", LOG_ID, line, 917);
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), -1);
	line[15 + 900] = '\n';
	write_log("bounce", LOG_ID, line, 916);
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(v[0].text), 900);
	free(line);
	pool_free(&pool);
}

static void
test_log_too_large(void **state)
{
	static const char line[] = "1 delayed 4.4.1 timeout\n";
	size_t n = 4 * 1024 * 1024 / (sizeof(line) - 1) + 1, i, len;
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	char *text;

	(void)state;
	text = xmalloc(n * (sizeof(line) - 1));
	for (i = 0, len = 0; i < n; i++, len += sizeof(line) - 1)
		memcpy(text + len, line, sizeof(line) - 1);
	assert_true(len > 4 * 1024 * 1024);
	write_log("bounce", LOG_ID, text, len);
	error = NULL;
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), -1);
	assert_non_null(error);
	/* Exactly 4 MiB is read (here: whole lines up to the limit). */
	len = (4 * 1024 * 1024 / (sizeof(line) - 1)) * (sizeof(line) - 1);
	write_log("bounce", LOG_ID, text, len);
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, len / (sizeof(line) - 1));
	free(text);
	pool_free(&pool);
}

/* A crash during an append: the partial line is not an entry, and the
 * next append cuts it off. */
static void
test_log_torn_tail(void **state)
{
	static const char torn[] = "0 failed 5.1.1 complete\n1 failed 5.1";
	static const struct bounce_entry e = { 1, BOUNCE_FAILED, "5.1.2",
	    "again" };
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	char *data;
	size_t n, len;

	(void)state;
	write_log("bounce", LOG_ID, torn, strlen(torn));
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].text, "complete");
	assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID, &e,
	    &error), 0);
	data = log_file("bounce", LOG_ID, &len);
	assert_int_equal(len, strlen("0 failed 5.1.1 complete\n"
	    "1 failed 5.1.2 again\n"));
	assert_memory_equal(data, "0 failed 5.1.1 complete\n"
	    "1 failed 5.1.2 again\n", len);
	free(data);

	/* Only a partial line. */
	write_log("bounce", LOG_ID, "0 fa", 4);
	assert_int_equal(bounce_log_read(qdir, "bounce", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bounce_log_append(qdir, "bounce", LOG_ID, &e,
	    &error), 0);
	data = log_file("bounce", LOG_ID, &len);
	assert_int_equal(len, strlen("1 failed 5.1.2 again\n"));
	free(data);
	pool_free(&pool);
}

/* Deferrals retried for days: the defer log is rewritten before it can
 * pass the read limit, keeping what a read returns. */
static void
test_log_compaction(void **state)
{
	struct bounce_entry e = { 0, BOUNCE_DELAYED, "4.4.1", NULL };
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	const char *error;
	char text[901], path[512];
	struct stat st;
	size_t i, n, len = 0, max = 0;

	(void)state;
	for (i = 0; i < 2600; i++) {
		e.rcpt = i % 5;
		snprintf(text, sizeof(text), "%zu %0890d", i, 0);
		e.text = text;
		assert_int_equal(bounce_log_append(qdir, "defer", LOG_ID, &e,
		    &error), 0);
		snprintf(path, sizeof(path), "%s/defer/%s", qdir, LOG_ID);
		assert_int_equal(stat(path, &st), 0);
		len = (size_t)st.st_size;
		if (len > max)
			max = len;
	}
	assert_true(max < 4 * 1024 * 1024);
	assert_true(len < 2600 * 900);	/* it was compacted */
	assert_int_equal(count_files("defer"), 1);	/* no .tmp left */
	assert_int_equal(bounce_log_read(qdir, "defer", LOG_ID, pool, &v, &n,
	    &error), 0);
	assert_int_equal(n, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(v[i].rcpt, i);
		snprintf(text, sizeof(text), "%zu ", 2595 + i);
		assert_memory_equal(v[i].text, text, strlen(text));
	}
	pool_free(&pool);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("failed recipient, RET=FULL: the whole message comes back",
		    test_full),
		T("RET=HDRS: the header section comes back, up to the empty "
		    "line", test_hdrs),
		T("no RET, message over bounce_size_limit: header only",
		    test_default_large),
		T("no RET, message within bounce_size_limit: whole",
		    test_default_small),
		T("NOTIFY=NEVER: nothing is queued", test_notify_never),
		T("NOTIFY=SUCCESS and a delivery: success report, header only",
		    test_notify_success),
		T("default NOTIFY and only a delivery: nothing is queued",
		    test_notify_default_delivered),
		T("null sender: a 2bounce to postmaster@hostname, NOTIFY "
		    "ignored", test_double_bounce),
		T("null sender with postmaster_address set: sent there",
		    test_double_bounce_postmaster_address),
		T("a failed 2bounce is dropped: nothing queued",
		    test_failed_double_bounce),
		T("ENVID, ORCPT, mixed actions, each recipient's NOTIFY",
		    test_dsn_fields),
		T("diagnostic text: CR, LF, controls and 8-bit cleaned, cut at "
		    "900", test_text_sanitized),
		T("entries with a bad index, status or action are refused",
		    test_bad_entries),
		T("SMTPUTF8 original: RFC 6533 global types, utf-8 addresses",
		    test_smtputf8),
		T("8BITMIME returned whole is declared 8bit", test_8bitmime),
		T("a 3 MB message comes back byte for byte",
		    test_large_streamed),
		T("header end split across read chunks is found",
		    test_header_across_chunks),
		T("log append, read, defer replacement and remove",
		    test_log_round_trip),
		T("log text is made one line and cut at 900 octets",
		    test_log_sanitized),
		T("bad log name, queue ID or entry is refused",
		    test_log_bad_arguments),
		T("malformed log lines make the log an error",
		    test_log_malformed),
		T("a log over 4 MiB is an error", test_log_too_large),
		T("a torn last line is ignored and cut by the next append",
		    test_log_torn_tail),
		T("the defer log is compacted before it reaches the limit",
		    test_log_compaction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
