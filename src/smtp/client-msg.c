/* client-msg: one message of the outbound SMTP client engine (see
 * client.h for the API; client.c owns the connection and hands the
 * replies of MAIL, RCPT and DATA here).
 *
 * smtp_client_send() copies the message into a pool of its own, refuses
 * what the peer cannot take (SMTPUTF8, SIZE, BINARYMIME) before a byte
 * goes out, then sends MAIL and RCPT; with PIPELINING, MAIL, every RCPT
 * and DATA go in one write and the replies are matched one by one. DATA
 * streams the queue file in SMTP_CLIENT_CHUNK pieces through the encoder
 * of client-data.c, refilling only when the output has drained below
 * OUT_LOW (backpressure). A command line is at most CMD_MAX octets. At
 * the end, RSET when MAIL was accepted but no data was sent, then each
 * recipient's outcome goes to the caller with MSG_DONE. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "smtp/client-private.h"

#define CMD_MAX			4096		/* one command line */

static bool	 needs_utf8(const struct smtp_client_msg *m);
static void	 xtext(struct buf *b, const char *s);
static void	 send_mail(struct smtp_client *c);
static void	 send_rcpt(struct smtp_client *c, size_t i);

const struct smtp_client_result *
smtp_client_result(const struct smtp_client *c)
{
	return &c->res;
}


static bool
needs_utf8(const struct smtp_client_msg *m)
{
	const unsigned char *s;
	size_t i;

	if (m->smtputf8)
		return true;
	for (s = (const unsigned char *)m->sender; *s != '\0'; s++)
		if (*s >= 0x80)
			return true;
	for (i = 0; i < m->nrcpts; i++)
		for (s = (const unsigned char *)m->rcpts[i].address; *s != '\0';
		    s++)
			if (*s >= 0x80)
				return true;
	return false;
}

/* xtext (RFC 3461 4): '+', '=' and anything outside 33..126 as +XX. */
static void
xtext(struct buf *b, const char *s)
{
	const unsigned char *p;
	int r = 0;

	for (p = (const unsigned char *)s; *p != '\0' && r == 0; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
			r = buf_printf(b, "+%02X", *p);
		else
			r = buf_append(b, p, 1);
	}
	if (r == -1)
		b->len = b->max;	/* the caller sees the overflow */
}

void
smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *m)
{
	struct smtp_client_rcpt *rc;
	size_t i;

	ASSERT(c->state == ST_READY && !c->in_msg && m->nrcpts > 0);
	pool_free(&c->msg_pool);
	c->msg_pool = pool_new(c->pool);
	memset(&c->res, 0, sizeof(c->res));
	c->in_msg = true;
	c->msg = *m;
	c->msg.sender = pool_strdup(c->msg_pool, m->sender);
	c->msg.envid = m->envid ? pool_strdup(c->msg_pool, m->envid) : NULL;
	c->msg.ret = m->ret ? pool_strdup(c->msg_pool, m->ret) : NULL;
	c->msg.body = m->body ? pool_strdup(c->msg_pool, m->body) : NULL;
	rc = pool_alloc(c->msg_pool, m->nrcpts * sizeof(*rc));
	for (i = 0; i < m->nrcpts; i++) {
		rc[i].address = pool_strdup(c->msg_pool, m->rcpts[i].address);
		rc[i].notify = m->rcpts[i].notify ?
		    pool_strdup(c->msg_pool, m->rcpts[i].notify) : NULL;
		rc[i].orcpt = m->rcpts[i].orcpt ?
		    pool_strdup(c->msg_pool, m->rcpts[i].orcpt) : NULL;
	}
	c->msg.rcpts = rc;
	c->msg.smtputf8 = needs_utf8(&c->msg);
	c->res.nrcpts = m->nrcpts;
	c->res.rcpts = pool_alloc(c->msg_pool,
	    m->nrcpts * sizeof(*c->res.rcpts));

	/* Refusals of our own, before a byte goes out. */
	if (c->msg.smtputf8 && !(c->ehlo.ext & SMTP_EXT_SMTPUTF8))
		smtp__client_set_reply(c, c->msg_pool, &c->res.final, 554,
		    "5.6.7", "SMTPUTF8 is required, but was not offered by %s",
		    c->host);
	else if ((c->ehlo.ext & SMTP_EXT_SIZE) && c->ehlo.size != 0 &&
	    m->size > c->ehlo.size)
		smtp__client_set_reply(c, c->msg_pool, &c->res.final, 552,
		    "5.3.4", "Message size exceeds the fixed maximum message "
		    "size of %s", c->host);
	else if (c->msg.body != NULL &&
	    strcasecmp(c->msg.body, "BINARYMIME") == 0)
		smtp__client_set_reply(c, c->msg_pool, &c->res.final, 554,
		    "5.6.3", "BINARYMIME cannot be sent without BDAT");
	if (c->res.final.code != 0) {
		c->res.mail = c->res.final;
		smtp__client_msg_finish(c);
		return;
	}
	c->pipelining = (c->ehlo.ext & SMTP_EXT_PIPELINING) != 0;
	c->next_rcpt = 0;
	c->next_data = 0;
	c->abandon = false;
	c->state = ST_MAIL;
	smtp__client_arm(c, c->to.mail);
	send_mail(c);
	if (c->state == ST_DEAD || !c->pipelining)
		return;
	for (i = 0; i < m->nrcpts && c->state != ST_DEAD; i++)
		send_rcpt(c, i);
	if (c->state != ST_DEAD)
		smtp__client_command(c, "DATA");
}

static void
send_mail(struct smtp_client *c)
{
	const struct smtp_client_msg *m = &c->msg;
	bool dsn = (c->ehlo.ext & SMTP_EXT_DSN) != 0;
	struct buf b;
	int r = 0;

	buf_init(&b, CMD_MAX);
	r |= buf_printf(&b, "MAIL FROM:<%s>", m->sender);
	if (c->ehlo.ext & SMTP_EXT_SIZE)
		r |= buf_printf(&b, " SIZE=%llu", (unsigned long long)m->size);
	if (m->body != NULL && strcasecmp(m->body, "8BITMIME") == 0 &&
	    (c->ehlo.ext & SMTP_EXT_8BITMIME))
		r |= buf_append_str(&b, " BODY=8BITMIME");
	if (m->smtputf8)
		r |= buf_append_str(&b, " SMTPUTF8");
	if (dsn && m->ret != NULL)
		r |= buf_printf(&b, " RET=%s", m->ret);
	if (dsn && m->envid != NULL) {
		r |= buf_append_str(&b, " ENVID=");
		xtext(&b, m->envid);
	}
	if (r != 0 || b.len >= CMD_MAX) {
		buf_deinit(&b);
		smtp__client_fail(c, SMTP_CLIENT_STAGE_IDLE, 501, "5.5.2",
		    "MAIL command too long");
		return;
	}
	log_debug(LOG_CAT_SMTP, "%016llx smtp-client > %s",
	    (unsigned long long)c->id, buf_cstr(&b));
	smtp__client_command(c, "%s", buf_cstr(&b));
	buf_deinit(&b);
}

static void
send_rcpt(struct smtp_client *c, size_t i)
{
	const struct smtp_client_rcpt *rc = &c->msg.rcpts[i];
	bool dsn = (c->ehlo.ext & SMTP_EXT_DSN) != 0;
	const char *semi;
	struct buf b;
	int r = 0;

	buf_init(&b, CMD_MAX);
	r |= buf_printf(&b, "RCPT TO:<%s>", rc->address);
	if (dsn && rc->notify != NULL)
		r |= buf_printf(&b, " NOTIFY=%s", rc->notify);
	if (dsn && rc->orcpt != NULL && (semi = strchr(rc->orcpt, ';')) != NULL) {
		r |= buf_printf(&b, " ORCPT=%.*s;", (int)(semi - rc->orcpt),
		    rc->orcpt);
		xtext(&b, semi + 1);
	}
	if (r != 0 || b.len >= CMD_MAX) {
		buf_deinit(&b);
		smtp__client_fail(c, SMTP_CLIENT_STAGE_IDLE, 501, "5.5.2",
		    "RCPT command too long");
		return;
	}
	log_debug(LOG_CAT_SMTP, "%016llx smtp-client > %s",
	    (unsigned long long)c->id, buf_cstr(&b));
	smtp__client_command(c, "%s", buf_cstr(&b));
	buf_deinit(&b);
}

void
smtp__client_mail_reply(struct smtp_client *c)
{
	smtp__client_keep_reply(c, c->msg_pool, &c->res.mail);
	if (c->pipelining) {
		c->state = ST_RCPT;
		smtp__client_arm(c, c->to.rcpt);
		return;
	}
	if (c->res.mail.code / 100 != 2) {
		c->res.final = c->res.mail;
		smtp__client_msg_end(c, false);
		return;
	}
	c->state = ST_RCPT;
	smtp__client_arm(c, c->to.rcpt);
	send_rcpt(c, 0);
}

void
smtp__client_rcpt_reply(struct smtp_client *c)
{
	struct smtp_client_reply *r = &c->res.rcpts[c->next_rcpt].rcpt;

	smtp__client_keep_reply(c, c->msg_pool, r);
	if (r->code / 100 == 2)
		c->res.naccepted++;
	c->next_rcpt++;
	if (c->next_rcpt < c->msg.nrcpts) {
		smtp__client_arm(c, c->to.rcpt);
		if (!c->pipelining)
			send_rcpt(c, c->next_rcpt);
		return;
	}
	if (c->pipelining) {
		c->state = ST_DATA;
		smtp__client_arm(c, c->to.data_init);
		return;
	}
	if (c->res.naccepted == 0) {
		c->res.final = *r;
		smtp__client_msg_end(c, c->res.mail.code / 100 == 2);
		return;
	}
	c->state = ST_DATA;
	smtp__client_arm(c, c->to.data_init);
	smtp__client_command(c, "DATA");
}

void
smtp__client_data_reply(struct smtp_client *c)
{
	struct smtp_client_reply r;

	smtp__client_keep_reply(c, c->msg_pool, &r);
	if (r.code != 354) {
		/* Pipelined: without recipients, the RCPT reply says why. */
		if (c->res.naccepted == 0 && c->msg.nrcpts > 0 &&
		    c->res.mail.code / 100 == 2)
			c->res.final = c->res.rcpts[c->msg.nrcpts - 1].rcpt;
		else if (c->res.mail.code / 100 != 2)
			c->res.final = c->res.mail;
		else
			c->res.final = r;
		smtp__client_msg_end(c, c->res.mail.code / 100 == 2);
		return;
	}
	if (c->res.naccepted == 0 || c->res.mail.code / 100 != 2) {
		/* RFC 2920 3.1: 354 with nobody to send to; end it empty. */
		c->abandon = true;
		c->res.final = c->res.naccepted == 0 && c->msg.nrcpts > 0 ?
		    c->res.rcpts[c->msg.nrcpts - 1].rcpt : c->res.mail;
		c->state = ST_DOT;
		smtp__client_arm(c, c->to.data_final);
		smtp__client_command(c, ".");
		return;
	}
	c->state = ST_STREAM;
	c->data_off = c->msg.offset;
	c->data_left = c->msg.size;
	smtp_stuff_init(&c->stuff);
	smtp__client_fill(c);
}

/* Top the output up to OUT_HIGH from the file; the write callback calls
 * again when it drains below OUT_LOW. */
void
smtp__client_fill(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t want, n;
	ssize_t got;

	smtp__client_arm(c, c->to.data_block);
	while (c->data_left > 0 && evbuffer_get_length(out) < OUT_HIGH) {
		want = c->data_left < SMTP_CLIENT_CHUNK ?
		    (size_t)c->data_left : SMTP_CLIENT_CHUNK;
		got = pread(c->msg.fd, c->chunk, want, c->data_off);
		if (got <= 0) {
			if (got == -1 && errno == EINTR)
				continue;
			/* Never send "." for a message we could not read. */
			smtp__client_fail(c, SMTP_CLIENT_STAGE_IDLE, 451,
			    "4.3.0", "cannot read the queue file: %s",
			    got == 0 ? "unexpected end of file" :
			    strerror(errno));
			return;
		}
		n = smtp_stuff(&c->stuff, c->chunk, (size_t)got, c->stuffed);
		evbuffer_add(out, c->stuffed, n);
		c->data_off += got;
		c->data_left -= (uint64_t)got;
	}
	if (c->data_left == 0) {
		n = smtp_stuff_end(&c->stuff, c->stuffed);
		evbuffer_add(out, c->stuffed, n);
		c->state = ST_DOT;
		smtp__client_arm(c, c->to.data_final);
	}
}

/* The reply to the end of data. LMTP sends one per accepted recipient
 * (RFC 2033 4.2), unless nobody was accepted (the abandoned case). */
void
smtp__client_dot_reply(struct smtp_client *c)
{
	struct smtp_client_result *res = &c->res;

	if (c->abandon) {
		smtp__client_msg_end(c, false);
		return;
	}
	smtp__client_keep_reply(c, c->msg_pool, &res->final);
	if (!c->lmtp) {
		smtp__client_msg_end(c, false);
		return;
	}
	while (c->next_data < res->nrcpts &&
	    res->rcpts[c->next_data].rcpt.code / 100 != 2)
		c->next_data++;
	if (c->next_data < res->nrcpts)
		res->rcpts[c->next_data++].data = res->final;
	while (c->next_data < res->nrcpts &&
	    res->rcpts[c->next_data].rcpt.code / 100 != 2)
		c->next_data++;
	if (c->next_data < res->nrcpts) {
		smtp__client_arm(c, c->to.data_final);
		return;
	}
	smtp__client_msg_end(c, false);
}

/* The transaction is over; with rset, MAIL was accepted and no end of
 * data closed it, so RSET first. */
void
smtp__client_msg_end(struct smtp_client *c, bool rset)
{
	if (rset) {
		c->state = ST_RSET;
		smtp__client_arm(c, c->to.rset);
		smtp__client_command(c, "RSET");
		return;
	}
	smtp__client_msg_finish(c);
}

/* Fill in each recipient's outcome and tell the caller. */
void
smtp__client_msg_finish(struct smtp_client *c)
{
	struct smtp_client_result *res = &c->res;
	struct smtp_client_rcpt_result *rr;
	size_t i;

	for (i = 0; i < res->nrcpts; i++) {
		rr = &res->rcpts[i];
		if (rr->rcpt.code == 0)
			rr->rcpt = res->mail.code / 100 != 2 ? res->mail :
			    res->final;
		if (res->mail.code / 100 != 2)
			rr->outcome = &res->mail;
		else if (rr->rcpt.code / 100 != 2)
			rr->outcome = &rr->rcpt;
		else if (c->lmtp && rr->data.code != 0)
			rr->outcome = &rr->data;
		else if (c->lmtp && res->conn_failed)
			rr->outcome = &c->err;	/* its reply never came */
		else
			rr->outcome = &res->final;
	}
	c->in_msg = false;
	if (c->state != ST_DEAD) {
		c->state = ST_READY;
		event_del(c->timer);
	}
	smtp__client_notify(c, SMTP_CLIENT_MSG_DONE);
}
