/* deliver: one message's delivery attempt, on a queue manager thread.
 *
 * For each pending recipient: resolve it in the directory, deliver into
 * the Maildir of every local target (local.c, shared with LMTP), and
 * record the outcome: delivered, failed (bounce log, with a DSN status) or
 * deferred (defer log). Remote targets are collected for the queue
 * manager's loop (remote.h); their outcomes come back to
 * qmgr_deliver_finish(), on a thread again, which records them the same
 * way.
 * Targets of a multi-target recipient that succeeded are remembered in
 * queue/done/<ID>, so a retry does not deliver them twice.
 *
 * Then, if every recipient is done, the DSN (if any is due) is queued and
 * the message removed; otherwise the recipients that are done are marked in
 * the queue file (envelope_mark_done) and the file moves to deferred/ with
 * its next attempt as mtime. A crash before that mark redelivers: at worst
 * a duplicate, never a loss. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "directory/dir.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "queue/bounce.h"
#include "queue/envelope.h"
#include "queue/local.h"
#include "queue/qmgr-private.h"
#include "queue/remote.h"
#include "store/maildir.h"

enum outcome {
	OUT_DELIVERED,
	OUT_DEFERRED,
	OUT_FAILED,		/* the caller reports it */
	OUT_FAILED_REPORTED,	/* already in the bounce log */
	OUT_REMOTE,		/* remote targets wait for the loop */
};

/* A recipient's local outcome while remote targets are out. */
struct rcpt_state {
	size_t		 nremote;
	bool		 multi;		/* several targets */
	bool		 deferred;
	bool		 failed;
	bool		 local;		/* a local target was delivered */
	bool		 relayed;	/* a remote peer had no DSN */
	const char	*status;
	const char	*text;
};

struct attempt {
	struct qmgr_job		*job;
	struct envelope		 env;
	struct pool		*pool;
	struct dir		*dir;
	int			 fd;
	char			*headers;	/* the header section, lower-case */
	char			 path[4096];	/* active/<ID> */
	struct strv		 done_targets;	/* "<idx> <address>" */
	struct strv		 intents;	/* "<idx> <address> <path>" */
	int			 done_fd;	/* queue/done/<ID>, append */
	size_t			 cur_idx;	/* recipient being delivered */
	const char		*cur_target;
	struct bounce_entry	*bounces;
	size_t			 nbounces;
	struct rcpt_state	*rs;		/* env.nrcpts */
	struct remote_rcpt	*remote;	/* targets for the loop */
	size_t			 nremote;
	size_t			 remote_cap;
	struct remote_msg	 rmsg;
};

static enum outcome deliver_rcpt(struct attempt *a, size_t idx,
		    const char **status_r, const char **text_r);
static enum outcome deliver_local(struct attempt *a, size_t idx,
		    const struct dir_target *t, const char **status_r,
		    const char **text_r);
static void	 load_done(struct attempt *a);
static bool	 target_done(struct attempt *a, size_t idx, const char *address);
static void	 remember_target(struct attempt *a, size_t idx,
		    const char *address);
static void	 done_write(struct attempt *a, const char *line);
static void	 before_rename(void *ctx, const char *path);
static void	 record(struct attempt *a, const char *log, size_t idx,
		    enum bounce_action action, const char *status,
		    const char *text);
static void	 add_remote(struct attempt *a, size_t idx,
		    const struct dir_target *t);
static void	 apply(struct attempt *a, size_t i, enum outcome o,
		    const char *status, const char *text);
static void	 conclude(struct attempt *a);
static void	 attempt_free(struct attempt *a);
static void	 finish(struct attempt *a);
static void	 defer(struct attempt *a);
static void	 warn_delay(struct attempt *a);
static char	*qpath(struct attempt *a, const char *sub);

static char *
qpath(struct attempt *a, const char *sub)
{
	return pool_printf(a->pool, "%s/%s/%s", a->job->queue_dir, sub,
	    a->job->id);
}

/*
 * The done log, queue/done/<ID>, has two kinds of lines:
 *   "<idx> <address>"         that target of recipient idx is final
 *   "<idx> <address> <path>"  a Maildir file was about to be renamed to path
 * The second is written (without fsync: a killed process's writes survive)
 * just before the rename, so a retry after a crash can tell whether the
 * delivery happened. It is fdatasync'ed before the message is deferred.
 */
static void
load_done(struct attempt *a)
{
	char line[5000], *sp;
	FILE *fp;

	if ((fp = fopen(qpath(a, "done"), "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line, ' ');
		if (sp != NULL && strchr(sp + 1, ' ') != NULL)
			strv_push(&a->intents, line);
		else
			strv_push(&a->done_targets, line);
	}
	fclose(fp);
}

static bool
target_done(struct attempt *a, size_t idx, const char *address)
{
	char *key = pool_printf(a->pool, "%zu %s", idx, address);
	size_t i, klen = strlen(key);

	if (strv_contains_nocase(&a->done_targets, key))
		return true;
	/* Delivered just before a crash, not recorded as final yet? */
	for (i = 0; i < a->intents.n; i++)
		if (strncasecmp(a->intents.v[i], key, klen) == 0 &&
		    a->intents.v[i][klen] == ' ' &&
		    maildir_delivered(a->intents.v[i] + klen + 1))
			return true;
	return false;
}

static void
done_write(struct attempt *a, const char *line)
{
	if (a->done_fd == -1)
		a->done_fd = open(qpath(a, "done"), O_WRONLY | O_APPEND |
		    O_CREAT | O_CLOEXEC, 0600);
	if (a->done_fd == -1 ||
	    write(a->done_fd, line, strlen(line)) != (ssize_t)strlen(line))
		log_warn("%s: cannot write the done log", a->job->id);
}

static void
remember_target(struct attempt *a, size_t idx, const char *address)
{
	char *line = pool_printf(a->pool, "%zu %s\n", idx, address);

	done_write(a, line);
	line[strlen(line) - 1] = '\0';
	strv_push(&a->done_targets, line);
}

static void
before_rename(void *ctx, const char *path)
{
	struct attempt *a = ctx;

	done_write(a, pool_printf(a->pool, "%zu %s %s\n", a->cur_idx,
	    a->cur_target, path));
}

static void
record(struct attempt *a, const char *log, size_t idx,
    enum bounce_action action, const char *status, const char *text)
{
	struct bounce_entry e = { idx, action, status, text };
	const char *error;

	if (bounce_log_append(a->job->queue_dir, log, a->job->id, &e,
	    &error) == -1)
		log_warnx("%s: cannot write the %s log: %s", a->job->id, log,
		    error);
	if (strcmp(log, "bounce") == 0) {
		struct bounce_entry *n = pool_alloc(a->pool,
		    (a->nbounces + 1) * sizeof(*n));

		if (a->nbounces > 0)
			memcpy(n, a->bounces, a->nbounces * sizeof(*n));
		n[a->nbounces++] = e;
		a->bounces = n;
	}
}

/* One local target, through the shared local delivery (local.h); the
 * done log learns of the Maildir file just before its rename. */
static enum outcome
deliver_local(struct attempt *a, size_t idx, const struct dir_target *t,
    const char **status_r, const char **text_r)
{
	struct local_msg m = { 0 };

	m.id = a->job->id;
	m.fd = a->fd;
	m.offset = a->env.content_offset;
	m.size = a->env.content_size;
	m.sender = a->env.sender;
	m.headers = a->headers;
	m.arrival = a->env.arrival;
	m.before_rename = before_rename;
	m.ctx = a;
	a->cur_idx = idx;
	a->cur_target = t->address;
	switch (local_deliver(a->dir, a->job->cfg, &m, t,
	    a->env.rcpts[idx].address, a->pool, status_r, text_r)) {
	case LOCAL_DELIVERED:
		return OUT_DELIVERED;
	case LOCAL_DEFERRED:
		return OUT_DEFERRED;
	case LOCAL_FAILED:
		break;
	}
	return OUT_FAILED;
}

static enum outcome
deliver_rcpt(struct attempt *a, size_t idx, const char **status_r,
    const char **text_r)
{
	struct dir_resolution res;
	const char *tstatus, *ttext;
	enum outcome o, worst = OUT_DELIVERED;
	bool failed = false;
	size_t i;

	if (dir_resolve(a->dir, a->job->cfg, a->env.rcpts[idx].address,
	    a->pool, &res) == -1 || res.status == DIR_UNKNOWN) {
		*status_r = "5.1.1";
		*text_r = pool_printf(a->pool, "user %s unknown",
		    a->env.rcpts[idx].address);
		return OUT_FAILED;
	}
	switch (res.status) {
	case DIR_OK:
		break;
	case DIR_TEMPFAIL:
		*status_r = "4.3.0";
		*text_r = pool_printf(a->pool, "directory: %s", res.error);
		return OUT_DEFERRED;
	case DIR_LOOP:
		*status_r = "5.4.6";
		*text_r = "alias loop";
		return OUT_FAILED;
	default:
		*status_r = "5.4.6";
		*text_r = "alias expands to too many destinations";
		return OUT_FAILED;
	}
	/* Each target is final on its own: a failed one is reported (and,
	 * among several, remembered) now, while a deferred one keeps the
	 * recipient pending. */
	for (i = 0; i < res.ntargets; i++) {
		const struct dir_target *t = &res.targets[i];

		if (target_done(a, idx, t->address))
			continue;
		if (strv_contains_nocase(&a->job->cfg->defer_transports,
		    t->kind == DIR_TARGET_REMOTE ? "remote" : "local")) {
			o = OUT_DEFERRED;
			tstatus = "4.3.2";
			ttext = pool_printf(a->pool, "%s delivery is deferred "
			    "(defer_transports)", t->kind == DIR_TARGET_REMOTE ?
			    "remote" : "local");
		} else if (t->kind == DIR_TARGET_REMOTE) {
			add_remote(a, idx, t);
			continue;
		} else {
			o = deliver_local(a, idx, t, &tstatus, &ttext);
			if (o == OUT_DELIVERED)
				a->rs[idx].local = true;
		}
		if (o == OUT_FAILED) {
			log_info("%s: to=<%s>, orig_to=<%s>, status=bounced "
			    "(%s %s)", a->job->id, t->address,
			    a->env.rcpts[idx].address, tstatus, ttext);
			record(a, "bounce", idx, BOUNCE_FAILED, tstatus, ttext);
			failed = true;
		}
		if (o != OUT_DEFERRED && res.ntargets > 1)
			remember_target(a, idx, t->address);
		if (o == OUT_DEFERRED) {
			worst = OUT_DEFERRED;
			*status_r = tstatus;
			*text_r = ttext;
		}
	}
	if (a->rs[idx].nremote > 0) {
		a->rs[idx].multi = res.ntargets > 1;
		a->rs[idx].failed = failed;
		if (worst == OUT_DEFERRED) {
			a->rs[idx].deferred = true;
			a->rs[idx].status = *status_r;
			a->rs[idx].text = *text_r;
		}
		return OUT_REMOTE;
	}
	if (worst == OUT_DEFERRED)
		return OUT_DEFERRED;
	return failed ? OUT_FAILED_REPORTED : OUT_DELIVERED;
}

/* A remote target for the loop. An alias's original recipient goes
 * along as ORCPT (RFC 3461 4.2) unless the client gave one. */
static void
add_remote(struct attempt *a, size_t idx, const struct dir_target *t)
{
	const struct envelope_rcpt *r = &a->env.rcpts[idx];
	struct remote_rcpt *rc;

	if (a->nremote == a->remote_cap) {
		struct remote_rcpt *v;

		a->remote_cap = a->remote_cap == 0 ? 8 : a->remote_cap * 2;
		v = pool_alloc(a->pool, a->remote_cap * sizeof(*v));
		if (a->nremote > 0)
			memcpy(v, a->remote, a->nremote * sizeof(*v));
		a->remote = v;
	}
	rc = &a->remote[a->nremote++];
	memset(rc, 0, sizeof(*rc));
	rc->idx = idx;
	rc->address = t->address;
	rc->notify = r->notify;
	rc->orcpt = r->orcpt != NULL ? r->orcpt :
	    strcasecmp(t->address, r->address) != 0 ?
	    pool_printf(a->pool, "rfc822;%s", r->address) : NULL;
	a->rs[idx].nremote++;
}

static void
finish(struct attempt *a)
{
	struct bounce_entry *entries;
	const char *error;
	char bid[QUEUE_ID_LEN + 1] = "";
	size_t n;

	/* Every outcome the sender must hear of, this attempt's and
	 * earlier ones'. */
	if (bounce_log_read(a->job->queue_dir, "bounce", a->job->id, a->pool,
	    &entries, &n, &error) == -1) {
		log_warnx("%s: bounce log: %s", a->job->id, error);
		entries = a->bounces;
		n = a->nbounces;
	}
	if (n > 0 && bounce_send(a->job->cfg, a->job->queue_dir,
	    &a->env, a->fd, entries, n, bid, &error) == -1) {
		/* Keep the message and its log: the next attempt retries. */
		log_warnx("%s: cannot queue the notification: %s", a->job->id,
		    error);
		defer(a);
		return;
	}
	if (bid[0] != '\0') {
		log_info("%s: sender notification: %s", a->job->id, bid);
		queue_notify(a->job->queue_dir, 'W');
	}
	unlink(a->path);
	unlink(qpath(a, "done"));
	bounce_log_remove(a->job->queue_dir, a->job->id);
	log_info("%s: removed", a->job->id);
}

/* Once, after delay_warning_time: tell the sender what is still waiting
 * (only recipients whose NOTIFY allows DELAY; bounce_send filters). */
static void
warn_delay(struct attempt *a)
{
	const struct config *cfg = a->job->cfg;
	struct bounce_entry *delayed, *log;
	const char *error;
	char bid[QUEUE_ID_LEN + 1] = "";
	size_t i, n = 0, nlog = 0;

	if (cfg->delay_warning_time == 0 || (uint64_t)(time(NULL) -
	    a->env.arrival) < cfg->delay_warning_time ||
	    strv_contains_nocase(&a->done_targets, "0 warned"))
		return;
	if (bounce_log_read(a->job->queue_dir, "defer", a->job->id, a->pool,
	    &log, &nlog, &error) == -1)
		nlog = 0;
	delayed = pool_alloc(a->pool, (a->env.nrcpts + 1) * sizeof(*delayed));
	for (i = 0; i < nlog && n < a->env.nrcpts; i++)
		if (log[i].rcpt < a->env.nrcpts &&
		    !a->env.rcpts[log[i].rcpt].done)
			delayed[n++] = log[i];
	if (n > 0 && bounce_send(cfg, a->job->queue_dir, &a->env, a->fd,
	    delayed, n, bid, &error) == -1) {
		log_warnx("%s: cannot queue the delay notice: %s", a->job->id,
		    error);
		return;
	}
	if (bid[0] != '\0') {
		log_info("%s: delay notice: %s", a->job->id, bid);
		queue_notify(a->job->queue_dir, 'W');
	}
	remember_target(a, 0, "warned");	/* "0 warned": never an address */
}

static void
defer(struct attempt *a)
{
	const struct config *cfg = a->job->cfg;
	struct timespec times[2];
	uint64_t age = (uint64_t)(time(NULL) - a->env.arrival), wait;
	char *to = qpath(a, "deferred");

	/* What is final must survive a power cut, not only a crash. */
	if (a->done_fd != -1 && fdatasync(a->done_fd) == -1)
		log_warn("%s: cannot sync the done log", a->job->id);
	wait = age < cfg->queue_minimal_backoff ? cfg->queue_minimal_backoff :
	    age > cfg->queue_maximal_backoff ? cfg->queue_maximal_backoff : age;
	/* The mtime of a deferred file is its next attempt. */
	times[0].tv_sec = times[1].tv_sec = time(NULL) + (time_t)wait;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (futimens(a->fd, times) == -1 || rename(a->path, to) == -1)
		log_warn("%s: cannot defer", a->job->id);
	a->job->deferred = true;
}

/* What becomes of recipient i after this attempt. */
static void
apply(struct attempt *a, size_t i, enum outcome o, const char *status,
    const char *text)
{
	struct envelope_rcpt *r = &a->env.rcpts[i];
	const char *id = a->job->id;

	switch (o) {
	case OUT_DELIVERED:
		r->done = true;
		if (r->notify == NULL || strstr(r->notify, "SUCCESS") == NULL)
			break;
		if (a->rs[i].local || a->rs[i].nremote == 0)
			record(a, "bounce", i, BOUNCE_DELIVERED, "2.0.0",
			    "delivered to mailbox");
		else if (a->rs[i].relayed)
			record(a, "bounce", i, BOUNCE_RELAYED, "2.0.0",
			    "relayed to a server that does not send "
			    "delivery notifications");
		break;
	case OUT_FAILED:
		log_info("%s: to=<%s>, status=bounced (%s %s)", id,
		    r->address, status, text);
		record(a, "bounce", i, BOUNCE_FAILED, status, text);
		r->done = true;
		break;
	case OUT_FAILED_REPORTED:
		r->done = true;
		break;
	case OUT_DEFERRED:
		if ((uint64_t)(time(NULL) - a->env.arrival) >
		    a->job->cfg->maximal_queue_lifetime) {
			text = pool_printf(a->pool, "delivery time expired: "
			    "%s", text);
			log_info("%s: to=<%s>, status=expired (%s)", id,
			    r->address, text);
			record(a, "bounce", i, BOUNCE_FAILED, "4.4.7", text);
			r->done = true;
			break;
		}
		log_info("%s: to=<%s>, status=deferred (%s %s)", id,
		    r->address, status, text);
		record(a, "defer", i, BOUNCE_DELAYED, status, text);
		break;
	case OUT_REMOTE:
		panic("apply: remote");
	}
}

/* Every recipient has its outcome: remove the message, or mark what is
 * done and defer the rest. */
static void
conclude(struct attempt *a)
{
	const char *error;
	size_t i;

	if (envelope_pending(&a->env) == 0) {
		finish(a);
		return;
	}
	warn_delay(a);
	/* Some remain: make the finished ones stick before deferring. */
	for (i = 0; i < a->env.nrcpts; i++) {
		struct envelope_rcpt *r = &a->env.rcpts[i];

		if (r->done) {
			r->done = false;
			if (envelope_mark_done(a->fd, r, &error) == -1)
				log_warnx("%s: cannot mark %s done: %s",
				    a->job->id, r->address, error);
		}
	}
	defer(a);
}

static void
attempt_free(struct attempt *a)
{
	if (a->fd != -1)
		close(a->fd);
	if (a->done_fd != -1)
		close(a->done_fd);
	strv_free(&a->done_targets);
	strv_free(&a->intents);
	pool_free(&a->pool);
	free(a);
}

/* Hand the remote targets to the loop (job->remote). */
static void
want_remote(struct attempt *a)
{
	struct remote_msg *m = &a->rmsg;

	memset(m, 0, sizeof(*m));
	m->id = a->job->id;
	m->pool = a->pool;
	m->fd = a->fd;
	m->offset = a->env.content_offset;
	m->size = a->env.content_size;
	m->arrival = a->env.arrival;
	m->sender = a->env.sender;
	m->envid = a->env.envid;
	m->ret = a->env.ret;
	m->body = a->env.body;
	m->smtputf8 = a->env.smtputf8;
	m->rcpts = a->remote;
	m->nrcpts = a->nremote;
	m->sent = qmgr_remote_sent;
	m->arg = a->job;
	a->job->remote = m;
}

void
qmgr_deliver(void *thread_ctx, void *arg)
{
	struct qmgr_job *job = arg;
	struct attempt *a = xcalloc(1, sizeof(*a));
	const char *error, *status, *text;
	enum outcome o;
	size_t i;

	a->job = job;
	a->fd = a->done_fd = -1;
	a->pool = pool_new(NULL);
	job->attempt = NULL;
	job->remote = NULL;
	snprintf(a->path, sizeof(a->path), "%s/active/%s", job->queue_dir,
	    job->id);
	if ((a->fd = open(a->path, O_RDWR | O_CLOEXEC)) == -1) {
		/* Deleted by an admin meanwhile: nothing to do. */
		if (errno != ENOENT)
			log_warn("%s: cannot open", job->id);
		goto out;
	}
	if (envelope_read(a->fd, a->pool, &a->env, &error) == -1) {
		log_warnx("%s: corrupt queue file: %s; moved to corrupt/",
		    job->id, error);
		if (rename(a->path, qpath(a, "corrupt")) == -1)
			log_warn("%s: cannot move to corrupt/", job->id);
		job->corrupt = true;
		goto out;
	}
	if ((a->dir = dir_thread_get(thread_ctx, &error)) == NULL) {
		log_warnx("%s: directory: %s; deferred", job->id, error);
		defer(a);
		goto out;
	}
	a->rs = pool_alloc(a->pool, a->env.nrcpts * sizeof(*a->rs));
	memset(a->rs, 0, a->env.nrcpts * sizeof(*a->rs));
	a->headers = local_read_headers(a->fd, a->env.content_offset,
	    a->env.content_size, a->pool);
	load_done(a);
	for (i = 0; i < a->env.nrcpts; i++) {
		if (a->env.rcpts[i].done)
			continue;
		status = text = "";
		if ((o = deliver_rcpt(a, i, &status, &text)) != OUT_REMOTE)
			apply(a, i, o, status, text);
	}
	a->dir = NULL;		/* the thread's; not used after this half */
	if (a->nremote > 0) {
		job->attempt = a;
		want_remote(a);
		return;
	}
	conclude(a);
out:
	attempt_free(a);
}

void
qmgr_remote_sent(struct remote_msg *m, size_t i, void *arg)
{
	struct qmgr_job *job = arg;
	struct attempt *a = job->attempt;

	remember_target(a, m->rcpts[i].idx, m->rcpts[i].address);
}

void
qmgr_deliver_finish(void *thread_ctx, void *arg)
{
	struct qmgr_job *job = arg;
	struct attempt *a = job->attempt;
	size_t i;

	job->attempt = NULL;
	job->remote = NULL;
	for (i = 0; i < a->nremote; i++) {
		const struct remote_rcpt *rc = &a->remote[i];
		struct rcpt_state *st = &a->rs[rc->idx];

		switch (rc->outcome) {
		case REMOTE_SENT:
			if (rc->relayed)
				st->relayed = true;
			break;
		case REMOTE_FAILED:
			record(a, "bounce", rc->idx, BOUNCE_FAILED, rc->status,
			    rc->text);
			st->failed = true;
			if (st->multi)
				remember_target(a, rc->idx, rc->address);
			break;
		case REMOTE_DEFERRED:
			st->deferred = true;
			st->status = rc->status;
			st->text = rc->text;
			break;
		}
	}
	for (i = 0; i < a->env.nrcpts; i++) {
		const struct rcpt_state *st = &a->rs[i];

		if (st->nremote == 0 || a->env.rcpts[i].done)
			continue;
		apply(a, i, st->deferred ? OUT_DEFERRED : st->failed ?
		    OUT_FAILED_REPORTED : OUT_DELIVERED, st->status, st->text);
	}
	conclude(a);
	attempt_free(a);
}

void
qmgr_deliver_abandon(struct qmgr_job *job)
{
	if (job->attempt != NULL)
		attempt_free(job->attempt);
	job->attempt = NULL;
	job->remote = NULL;
}
