/* remote-conn: the connections of a destination (see remote.h). A
 * connection walks the destination's addresses until one is ready (a
 * failed opportunistic TLS handshake is retried once in the clear, as
 * Postfix does), then sends the destination's transactions one after
 * another, and quits after REMOTE_IDLE_SECS without work. When the last
 * address fails and no other connection serves the destination, what
 * waits there is settled with the last error: a 5xx greeting or EHLO
 * reply fails it, anything else defers it and the destination rests. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "queue/remote-private.h"
#include "smtp/client-proto.h"
#include "smtp/client.h"

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct dest		*d;
	struct smtp_client	*c;
	size_t			 target;	/* index in d->targets */
	bool			 clear;		/* retry without TLS */
	bool			 connecting;
	bool			 quitting;
	struct xact		*cur;
	struct event		*idle_ev;
	char			 relay[DNS_NAME_MAX + 80];
};

static void	 start(struct conn *cn);
static void	 on_client(struct smtp_client *c, enum smtp_client_event ev,
		    void *arg);
static void	 connect_failed(struct conn *cn);
static void	 give_up(struct conn *cn, enum remote_outcome o,
		    const char *status, const char *text);
static void	 send_xact(struct conn *cn, struct xact *x);
static void	 results(struct conn *cn);
static void	 go_idle(struct conn *cn);
static void	 on_idle(evutil_socket_t fd, short what, void *arg);
static void	 conn_free(struct conn *cn);

static enum smtp_client_tls
client_tls(enum route_tls t)
{
	switch (t) {
	case ROUTE_TLS_NONE:
		return SMTP_CLIENT_TLS_NONE;
	case ROUTE_TLS_MAY:
		return SMTP_CLIENT_TLS_MAY;
	case ROUTE_TLS_ENCRYPT:
		return SMTP_CLIENT_TLS_ENCRYPT;
	case ROUTE_TLS_VERIFY:
		break;
	}
	return SMTP_CLIENT_TLS_VERIFY;
}

void
remote__conn_open(struct dest *d)
{
	struct conn *cn = xcalloc(1, sizeof(*cn));

	cn->d = d;
	cn->connecting = true;
	cn->idle_ev = evtimer_new(d->r->base, on_idle, cn);
	if (cn->idle_ev == NULL)
		fatalx("cannot create an event");
	TAILQ_INSERT_TAIL(&d->conns, cn, entry);
	d->nconns++;
	d->nconnecting++;
	d->r->nconns++;
	start(cn);
}

/* Connect to the current target. */
static void
start(struct conn *cn)
{
	struct dest *d = cn->d;
	const struct config *cfg = d->r->cfg;
	const struct target *t = &d->targets[cn->target];
	struct smtp_client_params p = { 0 };
	char addr[INET6_ADDRSTRLEN] = "";

	if (t->ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&t->ss)->
		    sin_addr, addr, sizeof(addr));
	else if (t->ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&t->ss)->
		    sin6_addr, addr, sizeof(addr));
	if (t->ss.ss_family == AF_UNIX)
		snprintf(cn->relay, sizeof(cn->relay), "%s", t->host);
	else if (strcmp(t->host, addr) == 0)	/* an address literal */
		snprintf(cn->relay, sizeof(cn->relay), "[%s]:%u", addr,
		    d->port);
	else
		snprintf(cn->relay, sizeof(cn->relay), "%s[%s]:%u", t->host,
		    addr, d->port);
	p.addr = (const struct sockaddr *)&t->ss;
	p.addrlen = t->sslen;
	p.host = t->ss.ss_family == AF_UNIX ? "localhost" : t->host;
	p.helo = *cfg->smtp_helo_name != '\0' ? cfg->smtp_helo_name :
	    cfg->hostname;
	p.tls = cn->clear ? SMTP_CLIENT_TLS_NONE : client_tls(d->tls);
	if (d->r->ssl_ctx == NULL && p.tls == SMTP_CLIENT_TLS_MAY)
		p.tls = SMTP_CLIENT_TLS_NONE;
	p.ssl_ctx = d->r->ssl_ctx;
	if (p.tls != SMTP_CLIENT_TLS_NONE && p.ssl_ctx == NULL) {
		give_up(cn, REMOTE_DEFERRED, "4.7.5", "TLS is required for "
		    "this destination, but not available on this host");
		return;
	}
	if (d->auth) {
		p.auth_user = cfg->relayhost_username;
		p.auth_pass = cfg->relayhost_password;
	}
	p.lmtp = d->kind == ROUTE_LMTP;
	p.timeouts.connect = (unsigned)cfg->smtp_connect_timeout * 1000;
	cn->c = smtp_client_new(d->r->base, &p, on_client, cn);
}

static void
on_client(struct smtp_client *c, enum smtp_client_event ev, void *arg)
{
	struct conn *cn = arg;
	struct dest *d = cn->d;
	const struct smtp_client_result *res;

	switch (ev) {
	case SMTP_CLIENT_READY:
		cn->connecting = false;
		d->nconnecting--;
		while (remote__conn_take(d))
			;
		if (cn->cur == NULL)
			go_idle(cn);
		remote__kick(d);
		return;
	case SMTP_CLIENT_ERROR:
		if (cn->connecting) {
			connect_failed(cn);
			return;
		}
		conn_free(cn);		/* dropped while idle */
		remote__kick(d);
		return;
	case SMTP_CLIENT_MSG_DONE:
		res = smtp_client_result(c);
		results(cn);
		if (res->conn_failed) {
			conn_free(cn);
			remote__kick(d);
			remote__kick_all(d->r);
			return;
		}
		while (remote__conn_take(d))
			;
		if (cn->cur == NULL)
			go_idle(cn);
		return;
	case SMTP_CLIENT_CLOSED:
		conn_free(cn);
		remote__kick_all(d->r);
		return;
	}
}

/* This address failed before the connection was ready: the next one. */
static void
connect_failed(struct conn *cn)
{
	struct dest *d = cn->d;
	enum smtp_client_stage stage;
	const struct smtp_client_reply *e = smtp_client_error(cn->c, &stage);
	enum remote_outcome o;
	char status[12], text[sizeof(d->dead_text)];

	snprintf(status, sizeof(status), "%s", *e->enh != '\0' ? e->enh :
	    e->code / 100 == 5 ? "5.0.0" : "4.0.0");
	snprintf(text, sizeof(text), "%u %s %s (%s, %s)", e->code, status,
	    e->text, cn->relay, stage == SMTP_CLIENT_STAGE_CONNECT ?
	    "while connecting" : stage == SMTP_CLIENT_STAGE_GREETING ?
	    "in the greeting" : stage == SMTP_CLIENT_STAGE_HELO ?
	    "in reply to EHLO" : stage == SMTP_CLIENT_STAGE_TLS ?
	    "while starting TLS" : "while authenticating");
	log_info("%s: %s", d->key, text);
	o = e->code / 100 == 5 && (stage == SMTP_CLIENT_STAGE_GREETING ||
	    stage == SMTP_CLIENT_STAGE_HELO) ? REMOTE_FAILED : REMOTE_DEFERRED;
	smtp_client_free(&cn->c);
	if (stage == SMTP_CLIENT_STAGE_TLS && d->tls == ROUTE_TLS_MAY &&
	    !cn->clear) {
		cn->clear = true;
		start(cn);
		return;
	}
	if (cn->target + 1 < d->ntargets) {
		cn->target++;
		cn->clear = false;
		start(cn);
		return;
	}
	give_up(cn, o, status, text);
}

/* Every address failed. */
static void
give_up(struct conn *cn, enum remote_outcome o, const char *status,
    const char *text)
{
	struct dest *d = cn->d;
	struct remote *r = d->r;

	d->dead_outcome = o;
	snprintf(d->dead_status, sizeof(d->dead_status), "%s", status);
	snprintf(d->dead_text, sizeof(d->dead_text), "%s", text);
	conn_free(cn);
	if (d->nconns == 0) {
		if (o == REMOTE_DEFERRED)
			d->dead_until = time(NULL) + REMOTE_DEAD_SECS;
		remote__settle_queue(d, o, status, text);
	}
	remote__kick_all(r);
}

bool
remote__conn_take(struct dest *d)
{
	struct conn *cn;
	struct xact *x;

	if ((x = TAILQ_FIRST(&d->queue)) == NULL)
		return false;
	TAILQ_FOREACH(cn, &d->conns, entry)
		if (!cn->connecting && !cn->quitting && cn->cur == NULL &&
		    cn->c != NULL)
			break;
	if (cn == NULL)
		return false;
	TAILQ_REMOVE(&d->queue, x, entry);
	d->nqueued--;
	send_xact(cn, x);
	return true;
}

static void
send_xact(struct conn *cn, struct xact *x)
{
	struct smtp_client_rcpt rcpts[REMOTE_RCPTS_MAX];
	struct remote_msg *m = x->msg;
	struct smtp_client_msg msg = { 0 };
	size_t i;

	evtimer_del(cn->idle_ev);
	for (i = 0; i < x->n; i++) {
		const struct remote_rcpt *rc = &m->rcpts[x->rcpts[i]];

		rcpts[i].address = rc->address;
		rcpts[i].notify = rc->notify;
		rcpts[i].orcpt = rc->orcpt;
	}
	msg.sender = m->sender;
	msg.rcpts = rcpts;
	msg.nrcpts = x->n;
	msg.envid = m->envid;
	msg.ret = m->ret;
	msg.body = m->body;
	msg.smtputf8 = m->smtputf8;
	msg.fd = m->fd;
	msg.offset = m->offset;
	msg.size = m->size;
	cn->cur = x;
	smtp_client_send(cn->c, &msg);
}

/* Each recipient of the transaction just done: its outcome. */
static void
results(struct conn *cn)
{
	const struct smtp_client_result *res = smtp_client_result(cn->c);
	bool dsn = (smtp_client_extensions(cn->c) & SMTP_EXT_DSN) != 0;
	struct xact *x = cn->cur;
	struct remote_msg *m = x->msg;
	size_t i;

	cn->cur = NULL;
	for (i = 0; i < x->n && i < res->nrcpts; i++) {
		const struct smtp_client_rcpt_result *rr = &res->rcpts[i];
		const struct smtp_client_reply *o = rr->outcome;
		enum remote_outcome out;
		const char *status, *where, *text;

		out = o->code / 100 == 2 ? REMOTE_SENT : o->code / 100 == 5 ?
		    REMOTE_FAILED : REMOTE_DEFERRED;
		status = *o->enh != '\0' ? o->enh : out == REMOTE_SENT ?
		    "2.0.0" : out == REMOTE_FAILED ? "5.0.0" : "4.0.0";
		where = res->mail.code / 100 != 2 ? "MAIL FROM" :
		    rr->rcpt.code / 100 != 2 ? "RCPT TO" : "end of data";
		text = pool_printf(m->pool, "%u %s %s (%s, in reply to %s)",
		    o->code, status, o->text, cn->relay, where);
		remote__rcpt_result(m, x->rcpts[i], out, status, text,
		    cn->relay, out == REMOTE_SENT && !dsn);
	}
	remote__xact_done(x);
}

static void
go_idle(struct conn *cn)
{
	static const struct timeval idle = { REMOTE_IDLE_SECS, 0 };

	evtimer_add(cn->idle_ev, &idle);
}

static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;

	cn->quitting = true;
	smtp_client_quit(cn->c);
}

static void
conn_free(struct conn *cn)
{
	struct dest *d = cn->d;
	struct xact *x = cn->cur;
	size_t i;

	TAILQ_REMOVE(&d->conns, cn, entry);
	d->nconns--;
	if (cn->connecting)
		d->nconnecting--;
	d->r->nconns--;
	smtp_client_free(&cn->c);
	event_free(cn->idle_ev);
	if (x != NULL) {
		for (i = 0; i < x->n; i++)
			remote__rcpt_result(x->msg, x->rcpts[i],
			    REMOTE_DEFERRED, "4.3.2", "the mail system is "
			    "shutting down", cn->relay, false);
		remote__xact_done(x);
	}
	free(cn);
}

void
remote__conn_close_all(struct dest *d)
{
	struct conn *cn;

	while ((cn = TAILQ_FIRST(&d->conns)) != NULL)
		conn_free(cn);
}
