/* cmd-queue: `postie queue list|show|flush|delete|hold|release|requeue`,
 * and `mailq` (cli.c maps that name to `queue list`).
 *
 * These commands run beside a live queue manager, so every change is one
 * atomic step on one file: a rename between state folders (never over an
 * existing file), an unlink, or an mtime update. A file that disappears
 * meanwhile was delivered or moved by the manager: for ALL that is not an
 * error, for a single ID it is. IDs are checked with queue_valid_id()
 * before they name anything, and every file is reached relative to an open
 * state folder with O_NOFOLLOW, so no argument and no file planted in the
 * world-writable maildrop/ can make us read or move something else. Text
 * from queue files is sanitized before it reaches the terminal, except the
 * message itself in `show`, which is printed as stored (like postcat). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "queue/bounce.h"
#include "queue/envelope.h"
#include "queue/queue.h"

#define RACE_ROUNDS	3	/* retries of a single ID the manager moved */
#define SHOW_CHUNK	65536
#define RCPT_INDENT	48	/* the sender column of `list` */
#define REASON_INDENT	8

enum qstate {
	QS_INCOMING,
	QS_ACTIVE,
	QS_DEFERRED,
	QS_HOLD,
	QS_MAILDROP,
	QS_CORRUPT,
	QS_COUNT,
};

#define QS_BIT(s)	(1u << (s))

/* The state folders, in the order a message moves through them (which is
 * also the order a single ID is looked for, so that one the manager is
 * moving is caught in the next folder), and their mark in `list`. */
static const struct {
	const char	*dir;
	char		 mark;
} qstates[QS_COUNT] = {
	[QS_INCOMING]	= { "incoming",	' ' },
	[QS_ACTIVE]	= { "active",	'*' },
	[QS_DEFERRED]	= { "deferred",	' ' },
	[QS_HOLD]	= { "hold",	'!' },
	[QS_MAILDROP]	= { "maildrop",	'M' },
	[QS_CORRUPT]	= { "corrupt",	'#' },
};

#define QS_LISTED	(QS_BIT(QS_INCOMING) | QS_BIT(QS_ACTIVE) | \
			 QS_BIT(QS_DEFERRED) | QS_BIT(QS_HOLD) | \
			 QS_BIT(QS_MAILDROP))

struct qctx {
	struct config	 cfg;
	char		*queue_dir;
	int		 root_fd;
	int		 dfd[QS_COUNT];		/* -1 until opened */
	unsigned	 dirty;			/* QS_BITs to fsync */
};

/* What a move/delete/touch does: from which folders (for a single ID and
 * for ALL), to where (QS_COUNT: unlink), and what follows. */
struct qaction {
	const char	*verb;		/* "deleted N message(s)" */
	unsigned	 from_one;
	unsigned	 from_all;
	enum qstate	 to;
	bool		 touch;		/* mtime := now before the move */
	char		 notify;	/* 0 or the queue_notify() byte */
};

struct qop {
	const char	*name;
	int		(*run)(struct qctx *q, const struct qop *op,
			    const char *arg);
	int		 nargs;
	const char	*hint;		/* what else the argument may be */
	struct qaction	 action;
};

static int	op_list(struct qctx *q, const struct qop *op, const char *arg);
static int	op_show(struct qctx *q, const struct qop *op, const char *arg);
static int	op_flush(struct qctx *q, const struct qop *op, const char *arg);
static int	op_apply(struct qctx *q, const struct qop *op, const char *arg);

static const struct qop qops[] = {
	/* name      handler    nargs besides an ID */
	{ "list",    op_list,   0, NULL, { 0 } },
	{ "show",    op_show,   1, NULL, { 0 } },
	{ "flush",   op_flush,  0, NULL, { 0 } },
	{ "delete",  op_apply,  1, ", ALL or deferred",
	  { "deleted", QS_LISTED | QS_BIT(QS_CORRUPT), QS_LISTED, QS_COUNT,
	    false, 0 } },
	{ "hold",    op_apply,  1, ", or ALL",
	  { "held", QS_BIT(QS_INCOMING) | QS_BIT(QS_ACTIVE) |
	    QS_BIT(QS_DEFERRED), QS_BIT(QS_INCOMING) | QS_BIT(QS_ACTIVE) |
	    QS_BIT(QS_DEFERRED), QS_HOLD, false, 0 } },
	{ "release", op_apply,  1, ", or ALL",
	  { "released", QS_BIT(QS_HOLD), QS_BIT(QS_HOLD), QS_DEFERRED,
	    true, 'F' } },
	{ "requeue", op_apply,  1, ", or ALL",
	  { "requeued", QS_BIT(QS_DEFERRED) | QS_BIT(QS_HOLD),
	    QS_BIT(QS_DEFERRED) | QS_BIT(QS_HOLD), QS_INCOMING, false, 'W' } },
};

static int	qctx_open(struct qctx *q);
static void	qctx_close(struct qctx *q);
static int	state_fd(struct qctx *q, enum qstate st);
static int	read_ids(struct qctx *q, enum qstate st, struct strv *ids);
static int	open_msg(struct qctx *q, enum qstate st, const char *id);
static int	find_msg(struct qctx *q, const char *id, unsigned states,
		    enum qstate *st_r);
static int	act_one(struct qctx *q, const struct qaction *a,
		    enum qstate from, const char *id);
static int	sync_dirty(struct qctx *q);
static void	describe_states(unsigned states, char *out, size_t outlen);
static const char *clean(struct pool *pool, const char *s);
static void	fmt_time(time_t t, bool year, char *out, size_t outlen);
static void	list_one(struct qctx *q, enum qstate st, const char *id,
		    bool *header, uint64_t *bytes, unsigned *count);
static void	print_rcpts(struct qctx *q, struct pool *pool, const char *id,
		    const struct envelope *env, enum qstate st);
static int	copy_content(int fd, const struct envelope *env);
static int	cmp_str(const void *a, const void *b);

/* ------------------------------------------------------------ plumbing */

static int
qctx_open(struct qctx *q)
{
	size_t i;

	memset(q, 0, sizeof(*q));
	q->root_fd = -1;
	for (i = 0; i < QS_COUNT; i++)
		q->dfd[i] = -1;
	if (cli_load_config(&q->cfg) == -1)
		return -1;
	q->queue_dir = xasprintf("%s/queue", q->cfg.data_dir);
	q->root_fd = open(q->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->root_fd == -1) {
		cli_error("%s: %s", q->queue_dir, strerror(errno));
		qctx_close(q);
		return -1;
	}
	return 0;
}

static void
qctx_close(struct qctx *q)
{
	size_t i;

	for (i = 0; i < QS_COUNT; i++)
		if (q->dfd[i] != -1)
			close(q->dfd[i]);
	if (q->root_fd != -1)
		close(q->root_fd);
	xfree(&q->queue_dir);
	conf_free(&q->cfg);
}

static int
state_fd(struct qctx *q, enum qstate st)
{
	if (q->dfd[st] != -1)
		return q->dfd[st];
	q->dfd[st] = openat(q->root_fd, qstates[st].dir,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (q->dfd[st] == -1)
		cli_error("%s/%s: %s", q->queue_dir, qstates[st].dir,
		    strerror(errno));
	return q->dfd[st];
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The queue IDs in a state folder, sorted (IDs start with the arrival
 * time, so this is roughly arrival order). Other names (a sendmail's
 * ".ID.tmp", leftovers) are not messages. */
static int
read_ids(struct qctx *q, enum qstate st, struct strv *ids)
{
	struct dirent *de;
	DIR *d;
	int fd;

	memset(ids, 0, sizeof(*ids));
	if (state_fd(q, st) == -1)
		return -1;
	/* fdopendir takes the descriptor: give it its own. */
	if ((fd = openat(q->dfd[st], ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (d = fdopendir(fd)) == NULL) {
		cli_error("%s/%s: %s", q->queue_dir, qstates[st].dir,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (queue_valid_id(de->d_name))
			strv_push(ids, de->d_name);
		errno = 0;
	}
	if (errno != 0) {
		cli_error("%s/%s: %s", q->queue_dir, qstates[st].dir,
		    strerror(errno));
		closedir(d);
		strv_free(ids);
		return -1;
	}
	closedir(d);
	if (ids->n > 1)
		qsort(ids->v, ids->n, sizeof(*ids->v), cmp_str);
	return 0;
}

/* Open a message for reading; -1 with errno (ENOENT: not there). Only a
 * regular file counts: maildrop/ is writable by every local user, who
 * could leave a FIFO or a symlink there. */
static int
open_msg(struct qctx *q, enum qstate st, const char *id)
{
	struct stat sb;
	int fd;

	if (state_fd(q, st) == -1)
		return -1;
	fd = openat(q->dfd[st], id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* Where is the message now (one of states)? -1: nowhere. */
static int
find_msg(struct qctx *q, const char *id, unsigned states, enum qstate *st_r)
{
	struct stat sb;
	size_t st;

	for (st = 0; st < QS_COUNT; st++) {
		if (!(states & QS_BIT(st)) || state_fd(q, (enum qstate)st) == -1)
			continue;
		if (fstatat(q->dfd[st], id, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			*st_r = (enum qstate)st;
			return 0;
		}
	}
	return -1;
}

static void
describe_states(unsigned states, char *out, size_t outlen)
{
	size_t st, len = 0, n = 0, total = 0;
	int r;

	for (st = 0; st < QS_COUNT; st++)
		if (states & QS_BIT(st))
			total++;
	out[0] = '\0';
	for (st = 0; st < QS_COUNT; st++) {
		if (!(states & QS_BIT(st)))
			continue;
		n++;
		r = snprintf(out + len, outlen - len, "%s%s/",
		    n == 1 ? "" : n == total ? " or " : ", ", qstates[st].dir);
		if (r < 0 || (size_t)r >= outlen - len)
			return;		/* a shorter list is still true */
		len += (size_t)r;
	}
}

/* Make a queue file's text safe for a terminal. */
static const char *
clean(struct pool *pool, const char *s)
{
	char *c = pool_strdup(pool, s);

	str_sanitize(c);
	return c;
}

static void
fmt_time(time_t t, bool year, char *out, size_t outlen)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, year ? "%a %b %e %H:%M:%S %Y" :
	    "%a %b %e %H:%M:%S", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
}

/* Make the renames and unlinks durable: fsync each folder we changed. */
static int
sync_dirty(struct qctx *q)
{
	size_t st;
	int rc = 0;

	for (st = 0; st < QS_COUNT; st++) {
		if (!(q->dirty & QS_BIT(st)))
			continue;
		if (fsync(q->dfd[st]) == -1) {
			cli_error("%s/%s: %s", q->queue_dir, qstates[st].dir,
			    strerror(errno));
			rc = -1;
		}
	}
	q->dirty = 0;
	return rc;
}

/* ------------------------------------------------------------ list */

static void
print_rcpts(struct qctx *q, struct pool *pool, const char *id,
    const struct envelope *env, enum qstate st)
{
	struct bounce_entry *log = NULL;
	const char **reason, *last = NULL, *error;
	size_t i, n = 0;

	reason = pool_alloc(pool, env->nrcpts * sizeof(*reason));
	if (st != QS_MAILDROP && st != QS_INCOMING &&
	    bounce_log_read(q->queue_dir, "defer", id, pool, &log, &n,
	    &error) == 0) {
		/* Appended in order: the last line of a recipient wins. */
		for (i = 0; i < n; i++)
			if (log[i].rcpt < env->nrcpts)
				reason[log[i].rcpt] = log[i].text != NULL &&
				    *log[i].text != '\0' ? log[i].text :
				    log[i].status;
	}
	for (i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].done)
			continue;
		/* Like mailq: a reason once, above the recipients it is for. */
		if (reason[i] != NULL &&
		    (last == NULL || strcmp(last, reason[i]) != 0)) {
			printf("%*s(%s)\n", REASON_INDENT, "",
			    clean(pool, reason[i]));
			last = reason[i];
		}
		printf("%*s%s\n", RCPT_INDENT, "",
		    clean(pool, env->rcpts[i].address));
	}
}

/* A file we cannot read is reported and skipped, not a failure of the
 * listing: anyone can drop garbage into maildrop/ (the manager moves it to
 * corrupt/), and the rest of the queue still deserves to be seen. */
static void
list_one(struct qctx *q, enum qstate st, const char *id, bool *header,
    uint64_t *bytes, unsigned *count)
{
	struct envelope env;
	struct pool *pool;
	const char *error;
	char when[64];
	int fd;

	if ((fd = open_msg(q, st, id)) == -1) {
		if (errno != ENOENT)	/* else delivered or moved meanwhile */
			cli_error("warning: %s/%s: %s", qstates[st].dir, id,
			    strerror(errno));
		return;
	}
	pool = pool_new(NULL);
	if (envelope_read(fd, pool, &env, &error) == -1) {
		cli_error("warning: %s/%s: %s", qstates[st].dir, id, error);
		pool_free(&pool);
		close(fd);
		return;
	}
	close(fd);
	if (!*header) {
		printf("-Queue ID-  --Size-- ----Arrival Time---- "
		    "-Sender/Recipient-------\n");
		*header = true;
	} else
		printf("\n");
	fmt_time(env.arrival, false, when, sizeof(when));
	/* The file name, not the I record: that is what the commands take. */
	printf("%s%c %8llu %s  %s\n", id, qstates[st].mark,
	    (unsigned long long)env.content_size, when,
	    *env.sender == '\0' ? "MAILER-DAEMON" : clean(pool, env.sender));
	print_rcpts(q, pool, id, &env, st);
	*bytes += env.content_size;
	(*count)++;
	pool_free(&pool);
}

static int
op_list(struct qctx *q, const struct qop *op, const char *arg)
{
	static const enum qstate order[] = { QS_INCOMING, QS_ACTIVE,
	    QS_DEFERRED, QS_HOLD, QS_MAILDROP };
	struct strv ids;
	uint64_t bytes = 0;
	unsigned count = 0;
	bool header = false;
	size_t i, j;
	int rc = CLI_OK;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (read_ids(q, order[i], &ids) == -1) {
			rc = CLI_FAIL;
			continue;
		}
		for (j = 0; j < ids.n; j++)
			list_one(q, order[i], ids.v[j], &header, &bytes,
			    &count);
		strv_free(&ids);
	}
	if (count == 0)
		printf("Mail queue is empty\n");
	else
		printf("\n-- %llu Kbytes in %u Request%s.\n",
		    (unsigned long long)((bytes + 1023) / 1024), count,
		    count == 1 ? "" : "s");
	return rc;
}

/* ------------------------------------------------------------ show */

static int
copy_content(int fd, const struct envelope *env)
{
	char *chunk = xmalloc(SHOW_CHUNK);
	off_t off = env->content_offset;
	bool nl = true;
	ssize_t n;

	for (;;) {
		n = pread(fd, chunk, SHOW_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n) {
			n = -1;
			break;
		}
		nl = chunk[n - 1] == '\n';
		off += n;
	}
	free(chunk);
	if (n == -1) {
		cli_error("reading the message: %s", strerror(errno));
		return -1;
	}
	if (!nl)
		printf("\n");
	return 0;
}

static int
op_show(struct qctx *q, const struct qop *op, const char *id)
{
	static const unsigned where = QS_LISTED | QS_BIT(QS_CORRUPT);
	struct envelope env;
	struct pool *pool;
	enum qstate st = QS_INCOMING;
	const char *error;
	char when[64];
	size_t i, round;
	int fd = -1;

	if (!queue_valid_id(id)) {
		cli_error("%s: not a queue ID (%d upper-case hex digits)", id,
		    QUEUE_ID_LEN);
		return CLI_FAIL;
	}
	for (round = 0; fd == -1 && round < RACE_ROUNDS; round++) {
		for (i = 0; fd == -1 && i < QS_COUNT; i++) {
			if (!(where & QS_BIT(i)))
				continue;
			st = (enum qstate)i;
			fd = open_msg(q, st, id);
			if (fd == -1 && errno != ENOENT) {
				cli_error("%s/%s: %s", qstates[st].dir, id,
				    strerror(errno));
				return CLI_FAIL;
			}
		}
	}
	if (fd == -1) {
		cli_error("%s: no such message", id);
		return CLI_FAIL;
	}
	pool = pool_new(NULL);
	if (envelope_read(fd, pool, &env, &error) == -1) {
		cli_error("%s/%s: %s", qstates[st].dir, id, error);
		pool_free(&pool);
		close(fd);
		return CLI_FAIL;
	}
	printf("*** ENVELOPE RECORDS %s/%s ***\n", qstates[st].dir, id);
	printf("queue_id: %s\n", clean(pool, env.id));
	fmt_time(env.arrival, true, when, sizeof(when));
	printf("arrival_time: %s\n", when);
	printf("message_size: %llu\n", (unsigned long long)env.content_size);
	printf("sender: %s\n", *env.sender == '\0' ? "<>" :
	    clean(pool, env.sender));
	for (i = 0; i < env.nrcpts; i++) {
		printf("%s: %s\n", env.rcpts[i].done ? "done_recipient" :
		    "recipient", clean(pool, env.rcpts[i].address));
		if (env.rcpts[i].notify != NULL)
			printf("notify: %s\n", clean(pool, env.rcpts[i].notify));
		if (env.rcpts[i].orcpt != NULL)
			printf("orcpt: %s\n", clean(pool, env.rcpts[i].orcpt));
	}
#define FIELD(name, v) \
	do { if ((v) != NULL) printf("%s: %s\n", name, clean(pool, v)); } \
	while (0)
	FIELD("client", env.client);
	FIELD("helo", env.helo);
	FIELD("protocol", env.protocol);
	FIELD("auth_user", env.auth_user);
	FIELD("envid", env.envid);
	FIELD("ret", env.ret);
	FIELD("body", env.body);
	if (env.smtputf8)
		printf("smtputf8: yes\n");
	FIELD("kind", env.kind);
#undef FIELD
	printf("*** MESSAGE CONTENTS ***\n");
	fflush(stdout);
	if (copy_content(fd, &env) == -1) {
		pool_free(&pool);
		close(fd);
		return CLI_FAIL;
	}
	printf("*** END OF MESSAGE ***\n");
	pool_free(&pool);
	close(fd);
	return CLI_OK;
}

/* ------------------------------------------------------------ changes */

/* Move (or delete) one message out of a folder: 0 done, -1 with errno
 * (ENOENT: it is not there, or no longer). */
static int
act_one(struct qctx *q, const struct qaction *a, enum qstate from,
    const char *id)
{
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	int src, dst;

	if ((src = state_fd(q, from)) == -1)
		return -1;
	if (a->to == QS_COUNT) {
		if (unlinkat(src, id, 0) == -1)
			return -1;
		if (from != QS_MAILDROP)
			bounce_log_remove(q->queue_dir, id);
		q->dirty |= QS_BIT(from);
		return 0;
	}
	if ((dst = state_fd(q, a->to)) == -1)
		return -1;
	/* A released message is due now: its mtime is its next attempt. */
	if (a->touch && utimensat(src, id, now, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (renameat2(src, id, dst, id, RENAME_NOREPLACE) == -1) {
		if (errno != EINVAL)
			return -1;
		/* A file system without RENAME_NOREPLACE: IDs are unique,
		 * and the manager never creates a file in our target. */
		if (renameat(src, id, dst, id) == -1)
			return -1;
	}
	q->dirty |= QS_BIT(from) | QS_BIT(a->to);
	return 0;
}

static int
op_apply(struct qctx *q, const struct qop *op, const char *arg)
{
	const struct qaction *a = &op->action;
	unsigned from, count = 0;
	enum qstate now;
	struct strv ids;
	char where[128];
	size_t st, round, j;
	int rc = CLI_OK;
	bool all;

	all = strcmp(arg, "ALL") == 0 || (a->to == QS_COUNT &&
	    strcmp(arg, "deferred") == 0);
	if (!all && !queue_valid_id(arg)) {
		cli_error("%s: not a queue ID (%d upper-case hex digits)%s",
		    arg, QUEUE_ID_LEN, op->hint);
		return CLI_FAIL;
	}
	if (all) {
		from = strcmp(arg, "deferred") == 0 ? QS_BIT(QS_DEFERRED) :
		    a->from_all;
		for (st = 0; st < QS_COUNT; st++) {
			if (!(from & QS_BIT(st)))
				continue;
			if (read_ids(q, (enum qstate)st, &ids) == -1) {
				rc = CLI_FAIL;
				continue;
			}
			for (j = 0; j < ids.n; j++) {
				if (act_one(q, a, (enum qstate)st,
				    ids.v[j]) == 0)
					count++;
				else if (errno != ENOENT) {
					cli_error("%s/%s: %s", qstates[st].dir,
					    ids.v[j], strerror(errno));
					rc = CLI_FAIL;
				}
			}
			strv_free(&ids);
		}
	} else {
		from = a->from_one;
		/* The manager may move it from folder to folder while we
		 * look: follow it a few times round. */
		for (round = 0; count == 0 && round < RACE_ROUNDS; round++) {
			for (st = 0; count == 0 && st < QS_COUNT; st++) {
				if (!(from & QS_BIT(st)))
					continue;
				if (act_one(q, a, (enum qstate)st, arg) == 0)
					count++;
				else if (errno != ENOENT) {
					cli_error("%s/%s: %s", qstates[st].dir,
					    arg, strerror(errno));
					return CLI_FAIL;
				}
			}
		}
		if (count == 0) {
			describe_states(from, where, sizeof(where));
			if (find_msg(q, arg, QS_LISTED | QS_BIT(QS_CORRUPT),
			    &now) == 0)
				cli_error("%s: not in %s (it is in %s/)", arg,
				    where, qstates[now].dir);
			else
				cli_error("%s: no such message", arg);
			return CLI_FAIL;
		}
	}
	if (sync_dirty(q) == -1)
		rc = CLI_FAIL;
	if (count > 0 && a->notify != 0)
		queue_notify(q->queue_dir, a->notify);
	cli_error("%s %u message%s", a->verb, count, count == 1 ? "" : "s");
	return rc;
}

static int
op_flush(struct qctx *q, const struct qop *op, const char *arg)
{
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct strv ids;
	size_t i;
	int rc = CLI_OK;

	if (read_ids(q, QS_DEFERRED, &ids) == -1)
		return CLI_FAIL;
	for (i = 0; i < ids.n; i++) {
		if (utimensat(q->dfd[QS_DEFERRED], ids.v[i], now,
		    AT_SYMLINK_NOFOLLOW) == -1 && errno != ENOENT) {
			cli_error("deferred/%s: %s", ids.v[i], strerror(errno));
			rc = CLI_FAIL;
		}
	}
	strv_free(&ids);
	queue_notify(q->queue_dir, 'F');
	return rc;
}

/* ------------------------------------------------------------ entry */

int
cmd_queue(const struct cli_cmd *cmd, int argc, char **argv)
{
	const struct qop *op = NULL;
	struct qctx q;
	size_t i;
	int rc;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(cmd);
	for (i = 0; i < sizeof(qops) / sizeof(qops[0]); i++)
		if (strcmp(argv[1], qops[i].name) == 0)
			op = &qops[i];
	if (op == NULL || argc != 2 + op->nargs)
		return cli_usage(cmd);
	if (qctx_open(&q) == -1)
		return CLI_FAIL;
	rc = op->run(&q, op, op->nargs > 0 ? argv[2] : NULL);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("standard output: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	qctx_close(&q);
	return rc;
}
