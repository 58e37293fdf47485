/* lmtp: the LMTP mode of the SMTP engine (RFC 2033): the message spool
 * and the delivery of each recipient.
 *
 * An LMTP session is an SMTP session with s->lmtp set: LHLO instead of
 * EHLO and HELO (commands.c), recipients in local domains only, each with
 * its directory resolution kept from RCPT (cmd-mail.c), and the message,
 * after postie's Received header, written by the DATA and BDAT readers
 * (cmd-data.c) into a spool instead of a queue file: an unnamed file in
 * queue/tmp/ (O_TMPFILE), gone with its descriptor. After the last octet
 * the recipients are delivered one after the other on the offload pool,
 * each through local_deliver() (queue/local.h, the queue manager's own
 * local delivery), and each gets its reply, in RCPT order, once its
 * delivery is fsync'ed: "250" means the message is in the Maildir.
 *
 * A recipient that resolves to one mailbox gets that delivery's outcome:
 * 250; 552 5.2.2 when the mailbox is full (452 4.2.2 with
 * quota_exceeded_temporary); 550 5.1.1 for a user removed since RCPT; 451
 * 4.3.0 when the directory or the disk fails. A recipient that an alias
 * expands to several targets, or to remote addresses: its local targets
 * are delivered at once, and what was not delivered (remote addresses, a
 * full mailbox, ...) goes into postie's queue as one new message whose
 * recipients are those targets (ORCPT: the LMTP recipient), so the queue
 * manager relays, retries or bounces it as it does SMTP mail. Its reply is
 * 250 once all of it is delivered or queued, 451 when the queue failed
 * (the MTA retries; targets already delivered may see the message twice,
 * the usual "at worst a duplicate").
 *
 * Limits are those of the engine: smtp_max_recipients, max_message_size
 * (and the domain's), the DATA reader's line and loop checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "directory/dir.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/local.h"
#include "queue/queue.h"
#include "smtp/smtp-private.h"

#define LMTP_WBUF	(64 * 1024)

/* The spooled message of one transaction, owned by the tx. */
struct lmtp_msg {
	char		 id[QUEUE_ID_LEN + 1];
	int		 fd;
	struct buf	 wbuf;		/* loop thread until the end of data */
	uint64_t	 size;		/* octets written, Received included */
	int		 error;		/* first write errno */
	time_t		 arrival;
	/* Used by the delivery jobs, which run one at a time: */
	struct pool	*pool;		/* the header section */
	const char	*headers;	/* lower-cased; read by the first job */
	bool		 flushed;
	size_t		 next;		/* next recipient to deliver */
	unsigned	 delivered;	/* recipients answered 250 */
};

/* One recipient's delivery, on an offload thread. */
struct rcpt_job {
	const struct config	*cfg;		/* borrowed */
	struct lmtp_msg		*m;		/* borrowed: the tx outlives us */
	const struct smtp_tx	*tx;		/* borrowed, read only */
	const struct smtp_rcpt	*r;		/* borrowed from tx->pool */
	const char		*client;	/* borrowed from the session */
	const char		*helo;		/* borrowed from the session */
	struct pool		*pool;		/* the outcome's strings */
	int			 code;
	const char		*enh;
	const char		*text;
};

static void	 make_id(char id[QUEUE_ID_LEN + 1]);
static int	 open_spool(const char *queue_dir, const char *id);
static int	 flush_wbuf(struct lmtp_msg *m);
static void	 next_rcpt(struct smtp_session *s);
static void	 rcpt_work(void *tctx, void *arg);
static void	 rcpt_done(struct smtp_session *s, void *arg);
static void	 deliver_targets(struct rcpt_job *j, struct dir *dir);
static int	 queue_rest(struct rcpt_job *j, const struct queue_rcpt *rcpts,
		    size_t n, char *qid_r, const char **error_r);
static const char *queue_address(struct rcpt_job *j,
		    const struct dir_target *t);
static int	 status_code(const char *status);

/* The form of queue IDs, so one grep finds either. */
static void
make_id(char id[QUEUE_ID_LEN + 1])
{
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	snprintf(id, QUEUE_ID_LEN + 1, "%08llX%08X",
	    (unsigned long long)time(NULL) & 0xffffffffULL, rnd);
}

/* An unnamed file in queue/tmp/; where the file system has no
 * O_TMPFILE, a named one unlinked at once. */
static int
open_spool(const char *queue_dir, const char *id)
{
	char path[4096];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/tmp", queue_dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	n = snprintf(path, sizeof(path), "%s/tmp/lmtp-%s", queue_dir, id);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1)
		unlink(path);
	return fd;
}

int
lmtp_msg_open(struct smtp_session *s, const char **error_r)
{
	struct lmtp_msg *m = xcalloc(1, sizeof(*m));
	char *queue_dir;
	int e;

	make_id(m->id);
	queue_dir = xasprintf("%s/queue", s->cfg->data_dir);
	m->fd = open_spool(queue_dir, m->id);
	e = errno;
	free(queue_dir);
	if (m->fd == -1) {
		*error_r = e == ENOSPC || e == EDQUOT ? "disk full" :
		    strerror(e);
		free(m);
		return -1;
	}
	buf_init(&m->wbuf, LMTP_WBUF);
	m->arrival = time(NULL);
	m->pool = pool_new(NULL);
	s->tx->lmtp = m;
	return 0;
}

const char *
lmtp_msg_id(const struct lmtp_msg *m)
{
	return m->id;
}

void
lmtp_msg_free(struct lmtp_msg **mp)
{
	struct lmtp_msg *m = *mp;

	if (m == NULL)
		return;
	close(m->fd);
	buf_deinit(&m->wbuf);
	pool_free(&m->pool);
	free(m);
	*mp = NULL;
}

static int
flush_wbuf(struct lmtp_msg *m)
{
	if (m->wbuf.len > 0 && write_all(m->fd, m->wbuf.data,
	    m->wbuf.len) == -1) {
		m->error = errno;
		return -1;
	}
	buf_reset(&m->wbuf);
	return 0;
}

/* Buffered: blocks only when the buffer flushes, as queue files do. */
int
lmtp_msg_write(struct lmtp_msg *m, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t room;

	if (m->error != 0)
		return -1;
	m->size += len;
	while (len > 0) {
		room = LMTP_WBUF - m->wbuf.len;
		if (room == 0) {
			if (flush_wbuf(m) == -1)
				return -1;
			continue;
		}
		if (room > len)
			room = len;
		if (buf_append(&m->wbuf, p, room) == -1)
			panic("lmtp write buffer overflow");
		p += room;
		len -= room;
	}
	return 0;
}

/* A refusal after the data (or at BDAT LAST): RFC 2033 4.2 wants one
 * reply for every recipient that RCPT accepted. */
void
lmtp_reply_all(struct smtp_session *s, int code, const char *enh,
    const char *text)
{
	size_t i;

	for (i = 0; i < s->tx->nrcpts; i++)
		smtp_reply(s, code, enh, "<%s> %s", s->tx->rcpts[i].address,
		    text);
}

/* The whole message is in the spool: deliver, recipient by recipient. */
void
lmtp_deliver(struct smtp_session *s)
{
	s->tx->lmtp->next = 0;
	next_rcpt(s);
}

static void
next_rcpt(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct lmtp_msg *m = tx->lmtp;
	struct rcpt_job *j;

	if (m->next == tx->nrcpts || s->closing) {
		/* Done, or the client left: it did not get the remaining
		 * replies, so it will try them again; deliver no more. */
		log_info("%s: client=%s, from=<%s>, size=%llu, nrcpt=%zu, "
		    "proto=LMTP, delivered=%u%s", m->id, s->peer_text,
		    tx->sender, (unsigned long long)m->size, tx->nrcpts,
		    m->delivered, m->next < tx->nrcpts ? ", aborted" : "");
		smtp_tx_free(s);
		smtp_session_resume(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cfg = s->cfg;
	j->m = m;
	j->tx = tx;
	j->r = &tx->rcpts[m->next++];
	j->client = s->peer_text;
	j->helo = s->helo;
	j->pool = pool_new(NULL);
	smtp_offload(s, rcpt_work, rcpt_done, j);
}

static void
rcpt_work(void *tctx, void *arg)
{
	struct rcpt_job *j = arg;
	struct lmtp_msg *m = j->m;
	const char *error;
	struct dir *dir;

	if (!m->flushed) {
		m->flushed = true;
		(void)flush_wbuf(m);
	}
	if (m->error != 0) {
		if (m->error == ENOSPC || m->error == EDQUOT) {
			j->code = 452;
			j->enh = "4.3.1";
			j->text = "Insufficient system storage";
		} else {
			j->code = 451;
			j->enh = "4.3.0";
			j->text = "Local error in processing, try again later";
		}
		return;
	}
	if ((dir = dir_thread_get(tctx, &error)) == NULL) {
		j->code = 451;
		j->enh = "4.3.0";
		j->text = pool_printf(j->pool, "Temporary lookup failure: %s",
		    error);
		return;
	}
	if (m->headers == NULL)
		m->headers = local_read_headers(m->fd, 0, m->size, m->pool);
	deliver_targets(j, dir);
}

static void
deliver_targets(struct rcpt_job *j, struct dir *dir)
{
	const struct smtp_rcpt *r = j->r;
	struct local_msg lm = { 0 };
	struct queue_rcpt *rest;
	const char *status = "", *text = "", *error;
	char qid[QUEUE_ID_LEN + 1];
	size_t i, nrest = 0;
	unsigned delivered = 0;

	lm.id = j->m->id;
	lm.fd = j->m->fd;
	lm.offset = 0;
	lm.size = j->m->size;
	lm.sender = j->tx->sender;
	lm.headers = j->m->headers;
	lm.arrival = j->m->arrival;
	if (r->ntargets == 1 && r->targets[0].kind == DIR_TARGET_MAILBOX) {
		if (local_deliver(dir, j->cfg, &lm, &r->targets[0], r->address,
		    j->pool, &status, &text) == LOCAL_DELIVERED) {
			j->code = 250;
			j->enh = "2.0.0";
			j->text = pool_printf(j->pool, "Ok: delivered, id %s",
			    j->m->id);
			return;
		}
		j->code = status_code(status);
		j->enh = status;
		j->text = text;
		return;
	}
	rest = pool_alloc(j->pool, r->ntargets * sizeof(*rest));
	for (i = 0; i < r->ntargets; i++) {
		const struct dir_target *t = &r->targets[i];

		if (t->kind == DIR_TARGET_MAILBOX && local_deliver(dir, j->cfg,
		    &lm, t, r->address, j->pool, &status, &text) ==
		    LOCAL_DELIVERED) {
			delivered++;
			continue;
		}
		if (t->kind == DIR_TARGET_MAILBOX)
			log_info("%s: to=<%s>, orig_to=<%s>, relay=local, "
			    "status=queued (%s %s)", j->m->id, t->address,
			    r->address, status, text);
		rest[nrest].address = queue_address(j, t);
		rest[nrest].notify = r->notify;
		rest[nrest].orcpt = r->orcpt != NULL ? r->orcpt :
		    pool_printf(j->pool, "rfc822;%s", r->address);
		nrest++;
	}
	if (nrest == 0) {
		j->code = 250;
		j->enh = "2.0.0";
		j->text = pool_printf(j->pool, "Ok: delivered to %u mailboxes, "
		    "id %s", delivered, j->m->id);
	} else if (queue_rest(j, rest, nrest, qid, &error) == -1) {
		log_warnx("%s: cannot queue for <%s>: %s", j->m->id,
		    r->address, error);
		j->code = strcmp(error, "disk full") == 0 ? 452 : 451;
		j->enh = j->code == 452 ? "4.3.1" : "4.3.0";
		j->text = "Local error in processing, try again later";
	} else {
		log_info("%s: orig_to=<%s>, status=queued as %s (%zu "
		    "targets)", j->m->id, r->address, qid, nrest);
		j->code = 250;
		j->enh = "2.0.0";
		j->text = delivered == 0 ? pool_printf(j->pool, "Ok: queued "
		    "as %s", qid) : pool_printf(j->pool, "Ok: %u delivered, "
		    "the rest queued as %s", delivered, qid);
	}
}

/* A local target goes into the queue with its extension, so that the
 * queue manager files it where LMTP would have. */
static const char *
queue_address(struct rcpt_job *j, const struct dir_target *t)
{
	const char *at = strrchr(t->address, '@');

	if (t->kind != DIR_TARGET_MAILBOX || t->extension == NULL ||
	    at == NULL || j->cfg->recipient_delimiter[0] == '\0')
		return t->address;
	return pool_printf(j->pool, "%.*s%c%s%s", (int)(at - t->address),
	    t->address, j->cfg->recipient_delimiter[0], t->extension, at);
}

/* A new queue message for the targets LMTP did not deliver, with the
 * spooled message (Received header included), committed as SMTP's are. */
static int
queue_rest(struct rcpt_job *j, const struct queue_rcpt *rcpts, size_t n,
    char *qid_r, const char **error_r)
{
	const struct smtp_tx *tx = j->tx;
	struct queue_envelope env = { 0 };
	struct queue_file *qf;
	char *queue_dir, buf[16384];
	uint64_t off = 0;
	ssize_t got;
	int rc = -1;

	env.sender = tx->sender;
	env.rcpts = rcpts;
	env.nrcpts = n;
	env.envid = tx->envid;
	env.ret = tx->ret;
	env.body = tx->body;
	env.smtputf8 = tx->smtputf8;
	env.client = j->client;
	env.helo = j->helo;
	env.protocol = "LMTP";
	queue_dir = xasprintf("%s/queue", j->cfg->data_dir);
	if (queue_file_create(queue_dir, &env, &qf, error_r) == -1)
		goto out;
	while (off < j->m->size) {
		size_t want = j->m->size - off < sizeof(buf) ?
		    (size_t)(j->m->size - off) : sizeof(buf);

		got = pread(j->m->fd, buf, want, (off_t)off);
		if (got <= 0) {
			*error_r = got == 0 ? "spool truncated" :
			    strerror(errno);
			queue_file_abort(&qf);
			goto out;
		}
		if (queue_file_write(qf, buf, (size_t)got) == -1)
			break;	/* the commit reports it */
		off += (uint64_t)got;
	}
	snprintf(qid_r, QUEUE_ID_LEN + 1, "%s", queue_file_id(qf));
	if (queue_file_commit(&qf, error_r) == -1)
		goto out;
	queue_notify(queue_dir, 'W');
	rc = 0;
out:
	free(queue_dir);
	return rc;
}

static int
status_code(const char *status)
{
	if (status[0] == '4')
		return strcmp(status, "4.2.2") == 0 ? 452 : 451;
	if (strcmp(status, "5.2.2") == 0 || strcmp(status, "5.3.4") == 0)
		return 552;
	return 550;
}

static void
rcpt_done(struct smtp_session *s, void *arg)
{
	struct rcpt_job *j = arg;

	if (!s->closing) {
		smtp_reply(s, j->code, j->enh, "<%s> %s", j->r->address,
		    j->text);
		if (j->code == 250)
			j->m->delivered++;
		else
			log_info("%s: to=<%s>, proto=LMTP, reply=%d %s (%s)",
			    j->m->id, j->r->address, j->code, j->enh,
			    j->text);
	}
	pool_free(&j->pool);
	free(j);
	next_rcpt(s);
}
