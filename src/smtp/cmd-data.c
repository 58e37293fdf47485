/* cmd-data: DATA and BDAT, from the first message octet to the 250 that
 * says the message is on disk.
 *
 * The queue file is created when the message starts; postie's Received
 * header goes first, then the message as the client sent it (dot-unstuffed
 * for DATA, raw for BDAT). On submission ports the header section is held
 * back until it is complete (up to SUBMISSION_HEADER_MAX) so that a missing
 * Date or Message-ID can be added before it. Size, bare CR/LF, NUL, line
 * length and the Received count are checked while streaming; a message
 * that fails any check is answered after its last octet and removed. The
 * commit (fsync, rename, directory fsync) runs on an offload thread, and
 * only its success sends 250.
 *
 * LMTP streams the same way into its spool (tx->lmtp, lmtp.c) and hands
 * over to lmtp_deliver() where SMTP commits; a message refused after its
 * data gets the refusal once for every recipient (RFC 2033 4.2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <event2/buffer.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "smtp/smtp-private.h"

#define SUBMISSION_HEADER_MAX	(256 * 1024)

struct commit_job {
	struct queue_file	*qf;
	const char		*queue_dir;	/* borrowed from the tx pool */
	char			 id[QUEUE_ID_LEN + 1];
	const char		*error;
	int			 failed;
};

static bool	start_message(struct smtp_session *s, bool per_rcpt);
static bool	message_started(const struct smtp_tx *tx);
static int	sink_write(struct smtp_tx *tx, const void *p, size_t n);
static void	refuse(struct smtp_session *s, bool per_rcpt, int code,
		    const char *enh, const char *why);
static int	sink(void *ctx, const uint8_t *p, size_t n);
static int	write_out(struct smtp_session *s, const void *p, size_t n);
static int	flush_headers(struct smtp_session *s);
static bool	has_header(const uint8_t *h, size_t len, const char *name);
static void	finish(struct smtp_session *s, unsigned flags, unsigned received);
static void	commit_work(void *tctx, void *arg);
static void	commit_done(struct smtp_session *s, void *arg);
static const char *protocol_name(const struct smtp_session *s);

static const char *
protocol_name(const struct smtp_session *s)
{
	if (s->lmtp)
		return "LMTP";
	if (!s->esmtp)
		return "SMTP";
	if (s->tls && s->auth_user != NULL)
		return "ESMTPSA";
	if (s->auth_user != NULL)
		return "ESMTPA";
	return s->tls ? "ESMTPS" : "ESMTP";
}

static bool
message_started(const struct smtp_tx *tx)
{
	return tx->qf != NULL || tx->lmtp != NULL;
}

static int
sink_write(struct smtp_tx *tx, const void *p, size_t n)
{
	if (tx->lmtp != NULL)
		return lmtp_msg_write(tx->lmtp, p, n);
	return queue_file_write(tx->qf, p, n);
}

/* A refusal: one reply, or in LMTP after the data one per recipient. */
static void
refuse(struct smtp_session *s, bool per_rcpt, int code, const char *enh,
    const char *why)
{
	if (s->lmtp && per_rcpt)
		lmtp_reply_all(s, code, enh, why);
	else
		smtp_reply(s, code, enh, "%s", why);
}

/* Create the queue file (LMTP: the spool) and write the Received header.
 * A failure is answered (per_rcpt: at BDAT LAST, see refuse()). */
static bool
start_message(struct smtp_session *s, bool per_rcpt)
{
	struct smtp_tx *tx = s->tx;
	struct queue_rcpt *rcpts;
	struct queue_envelope env = { 0 };
	const char *error, *tls, *id;
	char *queue_dir, date[64], *hdr;
	size_t i;
	int r;

	if (s->lmtp) {
		if (lmtp_msg_open(s, &error) == -1)
			goto fail;
		id = lmtp_msg_id(tx->lmtp);
		goto received;
	}
	rcpts = pool_alloc(tx->pool, tx->nrcpts * sizeof(*rcpts));
	for (i = 0; i < tx->nrcpts; i++) {
		rcpts[i].address = tx->rcpts[i].address;
		rcpts[i].notify = tx->rcpts[i].notify;
		rcpts[i].orcpt = tx->rcpts[i].orcpt;
	}
	env.sender = tx->sender;
	env.rcpts = rcpts;
	env.nrcpts = tx->nrcpts;
	env.envid = tx->envid;
	env.ret = tx->ret;
	env.body = tx->body;
	env.smtputf8 = tx->smtputf8;
	env.client = s->peer_text;
	env.helo = s->helo;
	env.auth_user = s->auth_user;
	env.protocol = protocol_name(s);
	queue_dir = xasprintf("%s/queue", s->cfg->data_dir);
	r = queue_file_create(queue_dir, &env, &tx->qf, &error);
	free(queue_dir);
	if (r == -1)
		goto fail;
	id = queue_file_id(tx->qf);
received:
	date_rfc5322(time(NULL), date, sizeof(date));
	tls = smtp_session_tls_info(s);
	/* RFC 5321 4.4; "for" only with one recipient (no Bcc leak). A
	 * unix socket client has no address to show. */
	if (s->peer.ss_family == AF_UNIX)
		hdr = pool_printf(tx->pool, "Received: from %s\r\n"
		    "\tby %s (postie) with %s id %s", s->helo,
		    s->cfg->hostname, protocol_name(s), id);
	else
		hdr = pool_printf(tx->pool, "Received: from %s ([%s])\r\n"
		    "\tby %s (postie) with %s id %s", s->helo, s->peer_text,
		    s->cfg->hostname, protocol_name(s), id);
	if (tls != NULL)
		hdr = pool_printf(tx->pool, "%s\r\n\t(%s)", hdr, tls);
	if (tx->nrcpts == 1)
		hdr = pool_printf(tx->pool, "%s\r\n\tfor <%s>", hdr,
		    tx->rcpts[0].address);
	hdr = pool_printf(tx->pool, "%s; %s\r\n", hdr, date);
	if (sink_write(tx, hdr, strlen(hdr)) == -1) {
		queue_file_abort(&tx->qf);
		lmtp_msg_free(&tx->lmtp);
		refuse(s, per_rcpt, 451, "4.3.0", "Local error in processing");
		return false;
	}
	tx->headers_done = !s->submission;
	buf_init(&tx->headers, SUBMISSION_HEADER_MAX);
	return true;
fail:
	log_warnx("%016llx smtp cannot queue: %s", (unsigned long long)s->id,
	    error);
	if (strcmp(error, "disk full") == 0)
		refuse(s, per_rcpt, 452, "4.3.1", "Insufficient system storage");
	else
		refuse(s, per_rcpt, 451, "4.3.0", "Local error in processing, "
		    "try again later");
	return false;
}

void
smtp_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_tx *tx = s->tx;

	if (message_started(tx)) {
		smtp_reply(s, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (tx->nrcpts == 0) {
		/* LMTP: 503 either way (RFC 2033 4.2). */
		if (tx->rcpt_attempts == 0 || s->lmtp)
			smtp_reply(s, 503, "5.5.1", "Error: need RCPT command");
		else
			smtp_reply(s, 554, "5.5.1", "Error: no valid "
			    "recipients");
		return;
	}
	if (!start_message(s, false))
		return;
	smtp_data_init(&tx->data, 0, tx->max_size, sink, s);
	s->state = SMTP_ST_DATA;
	smtp_session_set_timeout(s, true);
	smtp_reply(s, 354, "2.0.0", "End data with <CR><LF>.<CR><LF>");
}

void
smtp_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_tx *tx = s->tx;

	if (tx->nrcpts == 0) {
		smtp_reply(s, tx->rcpt_attempts == 0 || s->lmtp ? 503 : 554,
		    "5.5.1", tx->rcpt_attempts == 0 || s->lmtp ?
		    "Error: need RCPT command" : "Error: no valid recipients");
		s->discard = cmd->bdat_size;
		return;
	}
	if (!message_started(tx)) {
		if (!start_message(s, cmd->bdat_last)) {
			s->discard = cmd->bdat_size;
			smtp_tx_free(s);
			s->state = SMTP_ST_READY;
			return;
		}
		smtp_received_init(&tx->received);
	}
	tx->bdat_left = cmd->bdat_size;
	tx->bdat_last = cmd->bdat_last;
	s->state = SMTP_ST_BDAT;
	smtp_session_set_timeout(s, true);
}

/* Message octets to the queue file, through the submission header hold. */
static int
sink(void *ctx, const uint8_t *p, size_t n)
{
	struct smtp_session *s = ctx;
	struct smtp_tx *tx = s->tx;
	size_t from;

	if (tx->headers_done)
		return write_out(s, p, n);
	from = tx->headers.len > 3 ? tx->headers.len - 3 : 0;
	if (buf_append(&tx->headers, p, n) == -1) {
		/* Too big to hold: pass it on unchanged. */
		tx->headers_done = true;
		if (write_out(s, tx->headers.data, tx->headers.len) == -1)
			return -1;
		buf_reset(&tx->headers);
		return write_out(s, p, n);
	}
	/* The header section ends at the first empty line. */
	if (tx->headers.len >= 2 && memcmp(tx->headers.data, "\r\n", 2) == 0)
		return flush_headers(s);
	if (memmem(tx->headers.data + from, tx->headers.len - from, "\n\r\n",
	    3) != NULL)
		return flush_headers(s);
	return 0;
}

static int
write_out(struct smtp_session *s, const void *p, size_t n)
{
	struct smtp_tx *tx = s->tx;

	if (tx->write_failed)
		return -1;
	if (sink_write(tx, p, n) == -1) {
		tx->write_failed = true;
		tx->write_errno = errno;
		return -1;
	}
	return 0;
}

/* Does a field called name start a line of the header section? */
static bool
has_header(const uint8_t *h, size_t len, const char *name)
{
	size_t nlen = strlen(name), i;

	for (i = 0; i + nlen <= len; i++) {
		if ((i == 0 || h[i - 1] == '\n') &&
		    strncasecmp((const char *)h + i, name, nlen) == 0)
			return true;
	}
	return false;
}

/* Submission: add what RFC 5322 requires and the client left out. */
static int
flush_headers(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char date[64], line[512];
	uint64_t rnd;
	int n;

	tx->headers_done = true;
	if (!has_header(tx->headers.data, tx->headers.len, "date:")) {
		date_rfc5322(time(NULL), date, sizeof(date));
		n = snprintf(line, sizeof(line), "Date: %s\r\n", date);
		if (write_out(s, line, (size_t)n) == -1)
			return -1;
	}
	if (!has_header(tx->headers.data, tx->headers.len, "message-id:")) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = s->id;
		n = snprintf(line, sizeof(line), "Message-ID: <%s.%016llx@%s>\r\n",
		    queue_file_id(tx->qf), (unsigned long long)rnd,
		    s->cfg->hostname);
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    write_out(s, line, (size_t)n) == -1)
			return -1;
	}
	n = write_out(s, tx->headers.data, tx->headers.len);
	buf_deinit(&tx->headers);
	return n;
}

bool
smtp_data_input(struct smtp_session *s, struct evbuffer *in)
{
	struct smtp_tx *tx = s->tx;
	struct evbuffer_iovec v;
	enum parse_result r;
	size_t used, n;

	while (evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		if (s->state == SMTP_ST_DATA) {
			r = smtp_data_feed(&tx->data, v.iov_base, v.iov_len,
			    &used);
			evbuffer_drain(in, r == PARSE_DONE ? used : v.iov_len);
			if (r == PARSE_DONE) {
				finish(s, tx->data.flags,
				    tx->data.received.count);
				return true;
			}
			continue;
		}
		/* BDAT: raw octets, exactly bdat_left of them. */
		n = v.iov_len < tx->bdat_left ? v.iov_len : (size_t)tx->bdat_left;
		tx->size += n;
		if (tx->size > tx->max_size)
			tx->bdat_too_big = true;
		else {
			smtp_received_feed(&tx->received, v.iov_base, n);
			(void)sink(s, v.iov_base, n);
		}
		evbuffer_drain(in, n);
		tx->bdat_left -= n;
		if (tx->bdat_left > 0)
			continue;
		break;
	}
	if (s->state != SMTP_ST_BDAT || tx->bdat_left > 0)
		return false;
	/* A whole chunk is in. */
	if (!tx->bdat_last) {
		s->state = SMTP_ST_RCPT;
		smtp_session_set_timeout(s, false);
		smtp_reply(s, 250, "2.0.0", "%llu octets received",
		    (unsigned long long)tx->size);
		return true;
	}
	finish(s, tx->bdat_too_big ? SMTP_DATA_TOO_BIG : 0,
	    tx->received.count);
	return true;
}

/* The client has sent its last octet: refuse, or commit and say 250. */
static void
finish(struct smtp_session *s, unsigned flags, unsigned received)
{
	struct smtp_tx *tx = s->tx;
	struct commit_job *j;
	const char *why = NULL;
	int code = 0;
	const char *enh = NULL;

	s->state = SMTP_ST_READY;
	smtp_session_set_timeout(s, false);
	if (!tx->headers_done && !tx->write_failed && flush_headers(s) == -1)
		flags |= SMTP_DATA_SINK_FAILED;
	if (tx->write_failed)
		flags |= SMTP_DATA_SINK_FAILED;
	if (flags & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR)) {
		code = 550; enh = "5.6.11";
		why = "Bare CR or LF in message; lines must end with CRLF";
	} else if (flags & SMTP_DATA_TOO_BIG) {
		code = 552; enh = "5.3.4";
		why = "Message size exceeds fixed limit";
	} else if (flags & SMTP_DATA_LINE_TOO_LONG) {
		code = 500; enh = "5.5.2";
		why = "Message line too long";
	} else if (flags & SMTP_DATA_NUL) {
		code = 554; enh = "5.6.0";
		why = "NUL characters are not allowed in messages";
	} else if (flags & SMTP_DATA_SINK_FAILED) {
		if (tx->write_errno == ENOSPC || tx->write_errno == EDQUOT) {
			code = 452; enh = "4.3.1";
			why = "Insufficient system storage";
		} else {
			code = 451; enh = "4.3.0";
			why = "Local error in processing, try again later";
		}
	} else if (received > s->cfg->max_received_headers) {
		code = 554; enh = "5.4.6";
		why = "Too many Received headers: mail loop";
	}
	if (code != 0) {
		log_info("%016llx smtp message rejected client=%s from=<%s> "
		    "code=%d reason=\"%s\"", (unsigned long long)s->id,
		    s->peer_text, tx->sender, code, why);
		refuse(s, true, code, enh, why);
		smtp_tx_free(s);
		return;
	}
	if (s->lmtp) {
		lmtp_deliver(s);
		return;
	}
	j = xmalloc(sizeof(*j));
	j->queue_dir = pool_printf(tx->pool, "%s/queue", s->cfg->data_dir);
	j->qf = tx->qf;
	tx->qf = NULL;
	snprintf(j->id, sizeof(j->id), "%s", queue_file_id(j->qf));
	smtp_offload(s, commit_work, commit_done, j);
}

static void
commit_work(void *tctx, void *arg)
{
	struct commit_job *j = arg;

	j->failed = queue_file_commit(&j->qf, &j->error) == -1;
	if (!j->failed)
		queue_notify(j->queue_dir, 'W');
}

static void
commit_done(struct smtp_session *s, void *arg)
{
	struct commit_job *j = arg;
	struct smtp_tx *tx = s->tx;

	if (j->failed) {
		log_warnx("%016llx smtp cannot queue %s: %s",
		    (unsigned long long)s->id, j->id, j->error);
		if (strcmp(j->error, "disk full") == 0)
			smtp_reply(s, 452, "4.3.1", "Insufficient system "
			    "storage");
		else
			smtp_reply(s, 451, "4.3.0", "Local error in "
			    "processing, try again later");
	} else {
		log_info("%s: client=%s, from=<%s>, size=%llu, nrcpt=%zu, "
		    "proto=%s%s%s%s%s", j->id, s->peer_text,
		    tx != NULL ? tx->sender : "",
		    (unsigned long long)(tx != NULL ? (s->tx->data.size +
		    s->tx->size) : 0), tx != NULL ? tx->nrcpts : 0,
		    protocol_name(s), s->tls ? ", tls=" : "",
		    s->tls ? smtp_session_tls_info(s) : "",
		    s->auth_user != NULL ? ", user=" : "",
		    s->auth_user != NULL ? s->auth_user : "");
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", j->id);
	}
	free(j);
	smtp_tx_free(s);
	smtp_session_resume(s);
}
