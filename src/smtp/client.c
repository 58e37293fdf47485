/* client: the outbound SMTP client engine (see client.h for the API, the
 * callbacks and who owns what).
 *
 * One state machine per connection. Replies are parsed as they arrive
 * (client-reply.c; lines and line counts bounded) and handled in the order
 * the commands went out, so with PIPELINING, MAIL, every RCPT and DATA go
 * in one write and the replies are matched one by one. DATA streams the
 * queue file in SMTP_CLIENT_CHUNK pieces through the encoder of
 * client-data.c, refilling only when the output has drained below
 * OUT_LOW (backpressure). One timer covers every state; its length is the
 * state's timeout. Callbacks to the caller go through notify_ev, so they
 * always run from a fresh loop iteration and may free the client. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "smtp/client-proto.h"
#include "smtp/client.h"

#define SMTP_CLIENT_CHUNK	(16 * 1024)	/* read from the file at once */
#define OUT_LOW			(32 * 1024)	/* refill below this */
#define OUT_HIGH		(256 * 1024)	/* fill up to this */
#define IN_HIGH			(64 * 1024)	/* read high-watermark */
#define CMD_MAX			4096		/* one command line */
#define AUTH_FIELD_MAX		255		/* user name, password */

enum client_state {
	ST_CONNECT,
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS,			/* handshake */
	ST_AUTH_LOGIN_USER,	/* waiting for the 334 asking for the user */
	ST_AUTH_LOGIN_PASS,
	ST_AUTH,		/* waiting for 235 */
	ST_READY,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_STREAM,
	ST_DOT,
	ST_RSET,
	ST_QUIT,
	ST_DEAD,
};

struct smtp_client {
	uint64_t		 id;	/* first field of every log line */
	struct pool		*pool;
	struct event_base	*base;	/* borrowed */
	struct bufferevent	*bev;	/* the TLS filter once TLS is up */
	struct event		*timer;
	struct event		*notify_ev;
	smtp_client_cb		 cb;
	void			*arg;

	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			*host;		/* in pool */
	char			*helo;		/* in pool */
	char			*auth_user;	/* heap, wiped */
	char			*auth_pass;	/* heap, wiped */
	bool			 auth_plaintext;
	enum smtp_client_tls	 tls_policy;
	SSL_CTX			*ssl_ctx;	/* borrowed from the caller */
	struct smtp_client_timeouts to;

	enum client_state	 state;
	struct smtp_reply_parser rp;
	struct smtp_ehlo	 ehlo;
	bool			 esmtp;
	bool			 tls;
	char			 tls_info[128];

	enum smtp_client_event	 pending;	/* for notify_ev */
	bool			 notifying;	/* notify_ev is active */
	enum smtp_client_stage	 err_stage;
	struct smtp_client_reply err;

	/* The message in progress; msg_pool is NULL between messages. */
	struct pool		*msg_pool;	/* child of pool */
	struct smtp_client_msg	 msg;		/* copied into msg_pool */
	struct smtp_client_result res;
	bool			 in_msg;	/* MSG_DONE not yet given */
	bool			 pipelining;	/* this message pipelines */
	size_t			 next_rcpt;	/* next RCPT reply, or sent */
	off_t			 data_off;
	uint64_t		 data_left;
	struct smtp_stuff	 stuff;
	bool			 abandon;	/* 354 without a recipient */
	uint8_t			*chunk;		/* in pool, SMTP_CLIENT_CHUNK */
	uint8_t			*stuffed;	/* in pool */
};

static void	 on_read(struct bufferevent *bev, void *arg);
static void	 on_write(struct bufferevent *bev, void *arg);
static void	 on_event(struct bufferevent *bev, short what, void *arg);
static void	 on_timer(evutil_socket_t fd, short what, void *arg);
static void	 on_notify(evutil_socket_t fd, short what, void *arg);
static void	 notify(struct smtp_client *c, enum smtp_client_event ev);
static void	 arm(struct smtp_client *c, unsigned ms);
static void	 set_reply(struct smtp_client *c, struct pool *pool,
		    struct smtp_client_reply *dst, unsigned code,
		    const char *enh, const char *fmt, ...)
		    __attribute__((format(printf, 6, 7)));
static void	 keep_reply(struct smtp_client *c, struct pool *pool,
		    struct smtp_client_reply *dst);
static void	 fail(struct smtp_client *c, enum smtp_client_stage stage,
		    unsigned code, const char *enh, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));
static void	 fail_reply(struct smtp_client *c,
		    enum smtp_client_stage stage);
static enum smtp_client_stage stage_of(enum client_state st);
static void	 command(struct smtp_client *c, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 handle_reply(struct smtp_client *c);
static void	 after_greeting(struct smtp_client *c);
static void	 after_ehlo(struct smtp_client *c, bool ehlo_ok);
static void	 start_tls(struct smtp_client *c);
static void	 tls_up(struct smtp_client *c);
static void	 start_auth(struct smtp_client *c);
static void	 auth_send(struct smtp_client *c, const char *s1,
		    const char *s2);
static void	 session_ready(struct smtp_client *c);
static bool	 needs_utf8(const struct smtp_client_msg *m);
static void	 send_mail(struct smtp_client *c);
static void	 send_rcpt(struct smtp_client *c, size_t i);
static void	 mail_reply(struct smtp_client *c);
static void	 rcpt_reply(struct smtp_client *c);
static void	 data_reply(struct smtp_client *c);
static void	 fill(struct smtp_client *c);
static void	 msg_end(struct smtp_client *c, bool rset);
static void	 msg_finish(struct smtp_client *c);
static void	 xtext(struct buf *b, const char *s);
static unsigned	 tmo(unsigned ms, unsigned dflt_secs);
static uint64_t	 new_id(void);

SSL_CTX *
smtp_client_ssl_ctx_new(const char **error_r)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*error_r = "cannot create TLS context";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		*error_r = "cannot load the system CA store";
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static uint64_t
new_id(void)
{
	static uint64_t next;

	if (next == 0 && getrandom(&next, sizeof(next), 0) != sizeof(next))
		next = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	return ++next;
}

static unsigned
tmo(unsigned ms, unsigned dflt_secs)
{
	return ms != 0 ? ms : dflt_secs * 1000;
}

struct smtp_client *
smtp_client_new(struct event_base *base,
    const struct smtp_client_params *p, smtp_client_cb cb, void *arg)
{
	struct pool *pool = pool_new(NULL);
	struct smtp_client *c = pool_alloc(pool, sizeof(*c));
	const struct smtp_client_timeouts *t = &p->timeouts;

	ASSERT(p->addrlen <= sizeof(c->addr));
	ASSERT(p->tls == SMTP_CLIENT_TLS_NONE || p->ssl_ctx != NULL);
	c->pool = pool;
	c->id = p->id != 0 ? p->id : new_id();
	c->base = base;
	c->cb = cb;
	c->arg = arg;
	memcpy(&c->addr, p->addr, p->addrlen);
	c->addrlen = p->addrlen;
	c->host = pool_strdup(pool, p->host != NULL ? p->host : "");
	c->helo = pool_strdup(pool, p->helo != NULL ? p->helo : "localhost");
	if (p->auth_user != NULL) {
		c->auth_user = xstrdup(p->auth_user);
		c->auth_pass = xstrdup(p->auth_pass != NULL ?
		    p->auth_pass : "");
	}
	c->auth_plaintext = p->auth_plaintext;
	c->tls_policy = p->tls;
	c->ssl_ctx = p->ssl_ctx;
	c->to.connect = tmo(t->connect, 30);
	c->to.greeting = tmo(t->greeting, 300);
	c->to.helo = tmo(t->helo, 300);
	c->to.starttls = tmo(t->starttls, 300);
	c->to.auth = tmo(t->auth, 120);
	c->to.mail = tmo(t->mail, 300);
	c->to.rcpt = tmo(t->rcpt, 300);
	c->to.data_init = tmo(t->data_init, 120);
	c->to.data_block = tmo(t->data_block, 180);
	c->to.data_final = tmo(t->data_final, 600);
	c->to.rset = tmo(t->rset, 120);
	c->to.quit = tmo(t->quit, 60);
	c->chunk = pool_alloc(pool, SMTP_CLIENT_CHUNK);
	c->stuffed = pool_alloc(pool, SMTP_STUFF_OUT_MAX(SMTP_CLIENT_CHUNK));
	smtp_reply_parser_init(&c->rp);
	c->timer = event_new(base, -1, 0, on_timer, c);
	c->notify_ev = event_new(base, -1, 0, on_notify, c);
	if (c->timer == NULL || c->notify_ev == NULL)
		fatalx("cannot create events");
	log_info("%016llx smtp-client connect host=%s", (unsigned long long)c->id,
	    c->host);
	c->state = ST_CONNECT;
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		fail(c, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
		    "cannot create a socket");
		return c;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	arm(c, c->to.connect);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->addr,
	    (int)c->addrlen) == -1) {
		if (c->state != ST_DEAD)
			fail(c, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
			    "connect to %s failed: %s", c->host,
			    strerror(errno));
		return c;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void
smtp_client_free(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;
	struct pool *pool;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	event_free(c->timer);
	event_free(c->notify_ev);
	smtp_reply_parser_deinit(&c->rp);
	if (c->auth_user != NULL) {
		explicit_bzero(c->auth_user, strlen(c->auth_user));
		explicit_bzero(c->auth_pass, strlen(c->auth_pass));
		free(c->auth_user);
		free(c->auth_pass);
	}
	pool = c->pool;		/* c lives in it */
	pool_free(&pool);
}

const struct smtp_client_result *
smtp_client_result(const struct smtp_client *c)
{
	return &c->res;
}

const struct smtp_client_reply *
smtp_client_error(const struct smtp_client *c, enum smtp_client_stage *stage_r)
{
	if (stage_r != NULL)
		*stage_r = c->err_stage;
	return &c->err;
}

const char *
smtp_client_tls_info(const struct smtp_client *c)
{
	return c->tls ? c->tls_info : NULL;
}

unsigned
smtp_client_extensions(const struct smtp_client *c)
{
	return c->ehlo.ext;
}

/* ------------------------------------------------------------ plumbing */

static void
notify(struct smtp_client *c, enum smtp_client_event ev)
{
	c->pending = ev;
	c->notifying = true;
	event_active(c->notify_ev, EV_TIMEOUT, 0);
}

static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;

	c->notifying = false;
	/* The last thing we do: the callback may free c. */
	c->cb(c, c->pending, c->arg);
}

static void
arm(struct smtp_client *c, unsigned ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_add(c->timer, &tv);
}

static enum smtp_client_stage
stage_of(enum client_state st)
{
	switch (st) {
	case ST_CONNECT:
		return SMTP_CLIENT_STAGE_CONNECT;
	case ST_GREETING:
		return SMTP_CLIENT_STAGE_GREETING;
	case ST_EHLO:
	case ST_HELO:
		return SMTP_CLIENT_STAGE_HELO;
	case ST_STARTTLS:
	case ST_TLS:
		return SMTP_CLIENT_STAGE_TLS;
	case ST_AUTH_LOGIN_USER:
	case ST_AUTH_LOGIN_PASS:
	case ST_AUTH:
		return SMTP_CLIENT_STAGE_AUTH;
	default:
		return SMTP_CLIENT_STAGE_IDLE;
	}
}

static void
set_reply(struct smtp_client *c, struct pool *pool,
    struct smtp_client_reply *dst, unsigned code, const char *enh,
    const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);	/* cut is fine */
	va_end(ap);
	dst->code = code;
	(void)snprintf(dst->enh, sizeof(dst->enh), "%s", enh);
	dst->text = pool_strdup(pool, text);
}

/* The reply just parsed, copied into pool. */
static void
keep_reply(struct smtp_client *c, struct pool *pool,
    struct smtp_client_reply *dst)
{
	const struct smtp_reply *r = &c->rp.reply;

	dst->code = r->code;
	memcpy(dst->enh, r->enh, sizeof(dst->enh));
	dst->text = pool_strndup(pool, (const char *)r->text.data, r->text.len);
}

/*
 * The connection is over. With a message in progress, whatever it did not
 * get a reply for gets this one and MSG_DONE reports it; in QUIT it is
 * simply CLOSED; otherwise ERROR.
 */
static void
fail(struct smtp_client *c, enum smtp_client_stage stage, unsigned code,
    const char *enh, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	enum client_state was = c->state;

	if (was == ST_DEAD)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->state = ST_DEAD;
	event_del(c->timer);
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	if (was == ST_QUIT) {
		notify(c, SMTP_CLIENT_CLOSED);
		return;
	}
	/* A result not yet told keeps its callback; it says the client is
	 * gone. */
	if (c->notifying && c->pending == SMTP_CLIENT_MSG_DONE) {
		c->res.conn_failed = true;
		return;
	}
	if (c->in_msg) {
		set_reply(c, c->msg_pool, &c->err, code, enh, "%s", text);
		log_info("%016llx smtp-client failed host=%s during=message "
		    "reply=\"%u %s %s\"", (unsigned long long)c->id, c->host,
		    code, enh, text);
		c->res.conn_failed = true;
		if (c->res.mail.code == 0)
			c->res.mail = c->err;
		if (c->res.final.code == 0)
			c->res.final = c->err;
		msg_finish(c);
		return;
	}
	c->err_stage = stage;
	set_reply(c, c->pool, &c->err, code, enh, "%s", text);
	log_info("%016llx smtp-client failed host=%s stage=%d reply=\"%u %s "
	    "%s\"", (unsigned long long)c->id, c->host, (int)stage, code, enh,
	    text);
	notify(c, SMTP_CLIENT_ERROR);
}

/* Fail with the peer's reply as the reason. */
static void
fail_reply(struct smtp_client *c, enum smtp_client_stage stage)
{
	const struct smtp_reply *r = &c->rp.reply;

	fail(c, stage, r->code, r->enh, "%.*s", (int)r->text.len,
	    (const char *)r->text.data);
}

static void
command(struct smtp_client *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;

	fail(c, stage_of(c->state), 421, "4.4.2", "conversation with %s "
	    "timed out (state %d)", c->host, (int)c->state);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	unsigned long e;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == ST_CONNECT) {
			c->state = ST_GREETING;
			arm(c, c->to.greeting);
		} else if (c->state == ST_TLS)
			tls_up(c);
		return;
	}
	if (c->state == ST_CONNECT) {
		fail(c, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1", "connect to "
		    "%s failed: %s", c->host,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (c->state == ST_TLS) {
		e = bufferevent_get_openssl_error(bev);
		if (e != 0)
			ERR_error_string_n(e, err, sizeof(err));
		else
			(void)snprintf(err, sizeof(err), "connection closed");
		fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0", "TLS handshake "
		    "with %s failed: %s", c->host, err);
		return;
	}
	fail(c, stage_of(c->state), 421, "4.4.2", "lost connection with %s "
	    "(state %d)", c->host, (int)c->state);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in;
	struct evbuffer_iovec v;
	enum parse_result pr;
	const char *error;
	size_t used;

	while (c->state != ST_DEAD && c->state != ST_TLS) {
		in = bufferevent_get_input(c->bev);
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		pr = smtp_reply_parse(&c->rp, v.iov_base, v.iov_len, &used,
		    &error);
		evbuffer_drain(in, used);
		if (pr == PARSE_ERROR) {
			fail(c, stage_of(c->state), 421, "4.5.0", "protocol "
			    "error from %s: %s", c->host, error);
			return;
		}
		if (pr == PARSE_DONE) {
			log_debug(LOG_CAT_SMTP, "%016llx smtp-client < %u %s",
			    (unsigned long long)c->id, c->rp.reply.code,
			    buf_cstr(&c->rp.reply.text));
			handle_reply(c);
		}
	}
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	if (c->state == ST_STREAM)
		fill(c);
}

/* ------------------------------------------------------------ session */

static void
handle_reply(struct smtp_client *c)
{
	unsigned code = c->rp.reply.code;

	switch (c->state) {
	case ST_CONNECT:	/* the greeting came before CONNECTED */
	case ST_GREETING:
		if (code / 100 != 2) {
			fail_reply(c, SMTP_CLIENT_STAGE_GREETING);
			return;
		}
		after_greeting(c);
		return;
	case ST_EHLO:
		if (code / 100 == 2) {
			smtp_ehlo_parse(&c->rp.reply, &c->ehlo);
			c->esmtp = true;
			after_ehlo(c, true);
		} else if (code / 100 == 5 && !c->tls) {
			c->state = ST_HELO;
			arm(c, c->to.helo);
			command(c, "HELO %s", c->helo);
		} else
			fail_reply(c, SMTP_CLIENT_STAGE_HELO);
		return;
	case ST_HELO:
		if (code / 100 != 2) {
			fail_reply(c, SMTP_CLIENT_STAGE_HELO);
			return;
		}
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		c->esmtp = false;
		after_ehlo(c, false);
		return;
	case ST_STARTTLS:
		if (code == 220) {
			start_tls(c);
			return;
		}
		if (c->tls_policy == SMTP_CLIENT_TLS_MAY) {
			log_info("%016llx smtp-client starttls refused host=%s "
			    "code=%u, continuing in the clear",
			    (unsigned long long)c->id, c->host, code);
			start_auth(c);
			return;
		}
		fail_reply(c, SMTP_CLIENT_STAGE_TLS);
		return;
	case ST_AUTH_LOGIN_USER:
	case ST_AUTH_LOGIN_PASS:
		if (code != 334) {
			fail_reply(c, SMTP_CLIENT_STAGE_AUTH);
			return;
		}
		if (c->state == ST_AUTH_LOGIN_USER) {
			c->state = ST_AUTH_LOGIN_PASS;
			auth_send(c, c->auth_user, NULL);
		} else {
			c->state = ST_AUTH;
			auth_send(c, c->auth_pass, NULL);
		}
		arm(c, c->to.auth);
		return;
	case ST_AUTH:
		if (code != 235) {
			fail_reply(c, SMTP_CLIENT_STAGE_AUTH);
			return;
		}
		session_ready(c);
		return;
	case ST_MAIL:
		mail_reply(c);
		return;
	case ST_RCPT:
		rcpt_reply(c);
		return;
	case ST_DATA:
		data_reply(c);
		return;
	case ST_DOT:
		if (!c->abandon)
			keep_reply(c, c->msg_pool, &c->res.final);
		msg_end(c, false);
		return;
	case ST_RSET:
		if (code / 100 != 2)
			fail_reply(c, SMTP_CLIENT_STAGE_IDLE);
		else
			msg_finish(c);
		return;
	case ST_QUIT:
		c->state = ST_DEAD;
		event_del(c->timer);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		notify(c, SMTP_CLIENT_CLOSED);
		return;
	case ST_STREAM:
	case ST_READY:
		/* Unasked (421 before closing, an early reply to DATA). */
		fail_reply(c, stage_of(c->state));
		return;
	default:
		panic("reply in state %d", (int)c->state);
	}
}

static void
after_greeting(struct smtp_client *c)
{
	c->state = ST_EHLO;
	arm(c, c->to.helo);
	command(c, "EHLO %s", c->helo);
}

/* EHLO (or HELO) done, with TLS or before it. */
static void
after_ehlo(struct smtp_client *c, bool ehlo_ok)
{
	bool offered = (c->ehlo.ext & SMTP_EXT_STARTTLS) != 0;

	if (c->tls || c->tls_policy == SMTP_CLIENT_TLS_NONE ||
	    (c->tls_policy == SMTP_CLIENT_TLS_MAY && !offered)) {
		start_auth(c);
		return;
	}
	if (!offered) {
		fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.4", "TLS is required, "
		    "but was not offered by %s", c->host);
		return;
	}
	c->state = ST_STARTTLS;
	arm(c, c->to.starttls);
	command(c, "STARTTLS");
}

static void
start_tls(struct smtp_client *c)
{
	struct bufferevent *tls;
	struct in6_addr a6;
	SSL *ssl;

	/* Anything after the 220 was sent before TLS: an injection. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.5.0", "protocol error "
		    "from %s: data after the STARTTLS reply", c->host);
		return;
	}
	if ((ssl = SSL_new(c->ssl_ctx)) == NULL) {
		fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0", "cannot create "
		    "a TLS session");
		return;
	}
	/* SNI with a name only, never an address literal. */
	if (c->host[0] != '\0' && inet_pton(AF_INET6, c->host, &a6) != 1 &&
	    inet_pton(AF_INET, c->host, &a6) != 1)
		SSL_set_tlsext_host_name(ssl, c->host);
	if (c->tls_policy == SMTP_CLIENT_TLS_VERIFY) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, c->host) != 1) {
			SSL_free(ssl);
			fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0",
			    "cannot set the host name to verify");
			return;
		}
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	} else
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	tls = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		SSL_free(ssl);
		fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0", "cannot start "
		    "TLS");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	c->bev = tls;
	c->state = ST_TLS;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	smtp_reply_parser_reset(&c->rp);
}

static void
tls_up(struct smtp_client *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->tls = true;
	tls_describe(ssl, c->tls_info, sizeof(c->tls_info));
	log_info("%016llx smtp-client tls host=%s tls=\"%s\" verified=%s",
	    (unsigned long long)c->id, c->host, c->tls_info,
	    c->tls_policy == SMTP_CLIENT_TLS_VERIFY ? "yes" : "no");
	/* RFC 3207 4.2: forget what the peer said before TLS. */
	memset(&c->ehlo, 0, sizeof(c->ehlo));
	c->state = ST_EHLO;
	arm(c, c->to.helo);
	command(c, "EHLO %s", c->helo);
}

static void
start_auth(struct smtp_client *c)
{
	if (c->auth_user == NULL) {
		session_ready(c);
		return;
	}
	if (!c->tls && !c->auth_plaintext) {
		fail(c, SMTP_CLIENT_STAGE_AUTH, 421, "4.7.0", "not sending "
		    "credentials to %s without TLS", c->host);
		return;
	}
	if (strlen(c->auth_user) > AUTH_FIELD_MAX ||
	    strlen(c->auth_pass) > AUTH_FIELD_MAX) {
		fail(c, SMTP_CLIENT_STAGE_AUTH, 421, "4.7.0", "credentials "
		    "too long");
		return;
	}
	arm(c, c->to.auth);
	if (c->ehlo.auth & SMTP_AUTH_PLAIN) {
		c->state = ST_AUTH;
		auth_send(c, c->auth_user, c->auth_pass);
	} else if (c->ehlo.auth & SMTP_AUTH_LOGIN) {
		c->state = ST_AUTH_LOGIN_USER;
		command(c, "AUTH LOGIN");
	} else
		fail(c, SMTP_CLIENT_STAGE_AUTH, 421, "4.7.0", "%s offers no "
		    "AUTH mechanism we know (PLAIN, LOGIN)", c->host);
}

/* "AUTH PLAIN <\0s1\0s2>" with s2, else the base64 of s1 alone (a LOGIN
 * step). Secrets never reach a log and are wiped from our buffers. */
static void
auth_send(struct smtp_client *c, const char *s1, const char *s2)
{
	uint8_t raw[2 * AUTH_FIELD_MAX + 2];
	char enc[BASE64_ENCODED_LEN(sizeof(raw))];
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t n1 = strlen(s1), n = 0;

	if (s2 != NULL) {
		raw[n++] = '\0';
		memcpy(raw + n, s1, n1);	/* UNSAFE: n1 <= AUTH_FIELD_MAX */
		n += n1;
		raw[n++] = '\0';
		memcpy(raw + n, s2, strlen(s2)); /* UNSAFE: idem */
		n += strlen(s2);
		evbuffer_add(out, "AUTH PLAIN ", 11);
	} else {
		memcpy(raw, s1, n1);		/* UNSAFE: idem */
		n = n1;
	}
	base64_encode(raw, n, enc);
	if (n == 0)
		evbuffer_add(out, "=", 1);	/* RFC 4954 empty response */
	evbuffer_add(out, enc, strlen(enc));
	evbuffer_add(out, "\r\n", 2);
	log_debug(LOG_CAT_SMTP, "%016llx smtp-client > AUTH ********",
	    (unsigned long long)c->id);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(enc, sizeof(enc));
}

static void
session_ready(struct smtp_client *c)
{
	c->state = ST_READY;
	event_del(c->timer);
	log_info("%016llx smtp-client ready host=%s esmtp=%s ext=0x%x tls=%s%s%s",
	    (unsigned long long)c->id, c->host, c->esmtp ? "yes" : "no",
	    c->ehlo.ext, c->tls ? "\"" : "no", c->tls ? c->tls_info : "",
	    c->tls ? "\"" : "");
	notify(c, SMTP_CLIENT_READY);
}

void
smtp_client_quit(struct smtp_client *c)
{
	ASSERT(c->state == ST_READY && !c->in_msg);
	c->state = ST_QUIT;
	arm(c, c->to.quit);
	command(c, "QUIT");
}

/* ------------------------------------------------------------ messages */

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
		set_reply(c, c->msg_pool, &c->res.final, 554, "5.6.7",
		    "SMTPUTF8 is required, but was not offered by %s",
		    c->host);
	else if ((c->ehlo.ext & SMTP_EXT_SIZE) && c->ehlo.size != 0 &&
	    m->size > c->ehlo.size)
		set_reply(c, c->msg_pool, &c->res.final, 552, "5.3.4",
		    "Message size exceeds the fixed maximum message size "
		    "of %s", c->host);
	else if (c->msg.body != NULL &&
	    strcasecmp(c->msg.body, "BINARYMIME") == 0)
		set_reply(c, c->msg_pool, &c->res.final, 554, "5.6.3",
		    "BINARYMIME cannot be sent without BDAT");
	if (c->res.final.code != 0) {
		c->res.mail = c->res.final;
		msg_finish(c);
		return;
	}
	c->pipelining = (c->ehlo.ext & SMTP_EXT_PIPELINING) != 0;
	c->next_rcpt = 0;
	c->abandon = false;
	c->state = ST_MAIL;
	arm(c, c->to.mail);
	send_mail(c);
	if (c->state == ST_DEAD || !c->pipelining)
		return;
	for (i = 0; i < m->nrcpts && c->state != ST_DEAD; i++)
		send_rcpt(c, i);
	if (c->state != ST_DEAD)
		command(c, "DATA");
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
		fail(c, SMTP_CLIENT_STAGE_IDLE, 501, "5.5.2", "MAIL command "
		    "too long");
		return;
	}
	log_debug(LOG_CAT_SMTP, "%016llx smtp-client > %s",
	    (unsigned long long)c->id, buf_cstr(&b));
	command(c, "%s", buf_cstr(&b));
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
		fail(c, SMTP_CLIENT_STAGE_IDLE, 501, "5.5.2", "RCPT command "
		    "too long");
		return;
	}
	log_debug(LOG_CAT_SMTP, "%016llx smtp-client > %s",
	    (unsigned long long)c->id, buf_cstr(&b));
	command(c, "%s", buf_cstr(&b));
	buf_deinit(&b);
}

static void
mail_reply(struct smtp_client *c)
{
	keep_reply(c, c->msg_pool, &c->res.mail);
	if (c->pipelining) {
		c->state = ST_RCPT;
		arm(c, c->to.rcpt);
		return;
	}
	if (c->res.mail.code / 100 != 2) {
		c->res.final = c->res.mail;
		msg_end(c, false);
		return;
	}
	c->state = ST_RCPT;
	arm(c, c->to.rcpt);
	send_rcpt(c, 0);
}

static void
rcpt_reply(struct smtp_client *c)
{
	struct smtp_client_reply *r = &c->res.rcpts[c->next_rcpt].rcpt;

	keep_reply(c, c->msg_pool, r);
	if (r->code / 100 == 2)
		c->res.naccepted++;
	c->next_rcpt++;
	if (c->next_rcpt < c->msg.nrcpts) {
		arm(c, c->to.rcpt);
		if (!c->pipelining)
			send_rcpt(c, c->next_rcpt);
		return;
	}
	if (c->pipelining) {
		c->state = ST_DATA;
		arm(c, c->to.data_init);
		return;
	}
	if (c->res.naccepted == 0) {
		c->res.final = *r;
		msg_end(c, c->res.mail.code / 100 == 2);
		return;
	}
	c->state = ST_DATA;
	arm(c, c->to.data_init);
	command(c, "DATA");
}

static void
data_reply(struct smtp_client *c)
{
	struct smtp_client_reply r;

	keep_reply(c, c->msg_pool, &r);
	if (r.code != 354) {
		/* Pipelined: without recipients, the RCPT reply says why. */
		if (c->res.naccepted == 0 && c->msg.nrcpts > 0 &&
		    c->res.mail.code / 100 == 2)
			c->res.final = c->res.rcpts[c->msg.nrcpts - 1].rcpt;
		else if (c->res.mail.code / 100 != 2)
			c->res.final = c->res.mail;
		else
			c->res.final = r;
		msg_end(c, c->res.mail.code / 100 == 2);
		return;
	}
	if (c->res.naccepted == 0 || c->res.mail.code / 100 != 2) {
		/* RFC 2920 3.1: 354 with nobody to send to; end it empty. */
		c->abandon = true;
		c->res.final = c->res.naccepted == 0 && c->msg.nrcpts > 0 ?
		    c->res.rcpts[c->msg.nrcpts - 1].rcpt : c->res.mail;
		c->state = ST_DOT;
		arm(c, c->to.data_final);
		command(c, ".");
		return;
	}
	c->state = ST_STREAM;
	c->data_off = c->msg.offset;
	c->data_left = c->msg.size;
	smtp_stuff_init(&c->stuff);
	fill(c);
}

/* Top the output up to OUT_HIGH from the file; the write callback calls
 * again when it drains below OUT_LOW. */
static void
fill(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t want, n;
	ssize_t got;

	arm(c, c->to.data_block);
	while (c->data_left > 0 && evbuffer_get_length(out) < OUT_HIGH) {
		want = c->data_left < SMTP_CLIENT_CHUNK ?
		    (size_t)c->data_left : SMTP_CLIENT_CHUNK;
		got = pread(c->msg.fd, c->chunk, want, c->data_off);
		if (got <= 0) {
			if (got == -1 && errno == EINTR)
				continue;
			/* Never send "." for a message we could not read. */
			fail(c, SMTP_CLIENT_STAGE_IDLE, 451, "4.3.0", "cannot "
			    "read the queue file: %s", got == 0 ?
			    "unexpected end of file" : strerror(errno));
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
		arm(c, c->to.data_final);
	}
}

/* The transaction is over; with rset, MAIL was accepted and no end of
 * data closed it, so RSET first. */
static void
msg_end(struct smtp_client *c, bool rset)
{
	if (rset) {
		c->state = ST_RSET;
		arm(c, c->to.rset);
		command(c, "RSET");
		return;
	}
	msg_finish(c);
}

/* Fill in each recipient's outcome and tell the caller. */
static void
msg_finish(struct smtp_client *c)
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
		else
			rr->outcome = &res->final;
	}
	c->in_msg = false;
	if (c->state != ST_DEAD) {
		c->state = ST_READY;
		event_del(c->timer);
	}
	notify(c, SMTP_CLIENT_MSG_DONE);
}
