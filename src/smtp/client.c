/* client: the connection side of the outbound SMTP client engine (see
 * client.h for the API, the callbacks and who owns what; client-msg.c
 * sends the messages).
 *
 * One state machine per connection: connect, greeting, EHLO (HELO when
 * EHLO gets a 5xx), STARTTLS, AUTH, then READY until the caller sends a
 * message (client-msg.c) or quits. Replies are parsed as they arrive
 * (client-reply.c; lines and line counts bounded) and handled in the order
 * the commands went out; handle_reply() passes a message's replies on to
 * client-msg.c. One timer covers every state; its length is the state's
 * timeout. Callbacks to the caller go through notify_ev, so they always
 * run from a fresh loop iteration and may free the client. Credentials
 * are at most AUTH_FIELD_MAX octets each, never logged, and wiped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "smtp/client-private.h"

#define AUTH_FIELD_MAX		255		/* user name, password */

static void	 on_read(struct bufferevent *bev, void *arg);
static void	 on_write(struct bufferevent *bev, void *arg);
static void	 on_event(struct bufferevent *bev, short what, void *arg);
static void	 on_timer(evutil_socket_t fd, short what, void *arg);
static void	 on_notify(evutil_socket_t fd, short what, void *arg);
static void	 fail_reply(struct smtp_client *c,
		    enum smtp_client_stage stage);
static enum smtp_client_stage stage_of(enum client_state st);
static void	 handle_reply(struct smtp_client *c);
static void	 after_greeting(struct smtp_client *c);
static void	 after_ehlo(struct smtp_client *c, bool ehlo_ok);
static void	 start_tls(struct smtp_client *c);
static void	 tls_up(struct smtp_client *c);
static void	 start_auth(struct smtp_client *c);
static void	 auth_send(struct smtp_client *c, const char *s1,
		    const char *s2);
static void	 session_ready(struct smtp_client *c);
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
	c->lmtp = p->lmtp;
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
		smtp__client_fail(c, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
		    "cannot create a socket");
		return c;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	smtp__client_arm(c, c->to.connect);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->addr,
	    (int)c->addrlen) == -1) {
		if (c->state != ST_DEAD)
			smtp__client_fail(c, SMTP_CLIENT_STAGE_CONNECT, 421,
			    "4.4.1", "connect to %s failed: %s", c->host,
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

void
smtp__client_notify(struct smtp_client *c, enum smtp_client_event ev)
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

void
smtp__client_arm(struct smtp_client *c, unsigned ms)
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

void
smtp__client_set_reply(struct smtp_client *c, struct pool *pool,
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
void
smtp__client_keep_reply(struct smtp_client *c, struct pool *pool,
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
void
smtp__client_fail(struct smtp_client *c, enum smtp_client_stage stage,
    unsigned code, const char *enh, const char *fmt, ...)
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
		smtp__client_notify(c, SMTP_CLIENT_CLOSED);
		return;
	}
	/* A result not yet told keeps its callback; it says the client is
	 * gone. */
	if (c->notifying && c->pending == SMTP_CLIENT_MSG_DONE) {
		c->res.conn_failed = true;
		return;
	}
	if (c->in_msg) {
		smtp__client_set_reply(c, c->msg_pool, &c->err, code, enh,
		    "%s", text);
		log_info("%016llx smtp-client failed host=%s during=message "
		    "reply=\"%u %s %s\"", (unsigned long long)c->id, c->host,
		    code, enh, text);
		c->res.conn_failed = true;
		if (c->res.mail.code == 0)
			c->res.mail = c->err;
		if (c->res.final.code == 0)
			c->res.final = c->err;
		smtp__client_msg_finish(c);
		return;
	}
	c->err_stage = stage;
	smtp__client_set_reply(c, c->pool, &c->err, code, enh, "%s", text);
	log_info("%016llx smtp-client failed host=%s stage=%d reply=\"%u %s "
	    "%s\"", (unsigned long long)c->id, c->host, (int)stage, code, enh,
	    text);
	smtp__client_notify(c, SMTP_CLIENT_ERROR);
}

/* Fail with the peer's reply as the reason. */
static void
fail_reply(struct smtp_client *c, enum smtp_client_stage stage)
{
	const struct smtp_reply *r = &c->rp.reply;

	smtp__client_fail(c, stage, r->code, r->enh, "%.*s", (int)r->text.len,
	    (const char *)r->text.data);
}

void
smtp__client_command(struct smtp_client *c, const char *fmt, ...)
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

	smtp__client_fail(c, stage_of(c->state), 421, "4.4.2",
	    "conversation with %s timed out (state %d)", c->host,
	    (int)c->state);
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
			smtp__client_arm(c, c->to.greeting);
		} else if (c->state == ST_TLS)
			tls_up(c);
		return;
	}
	if (c->state == ST_CONNECT) {
		smtp__client_fail(c, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
		    "connect to %s failed: %s", c->host,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (c->state == ST_TLS) {
		e = bufferevent_get_openssl_error(bev);
		if (e != 0)
			ERR_error_string_n(e, err, sizeof(err));
		else
			(void)snprintf(err, sizeof(err), "connection closed");
		smtp__client_fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0",
		    "TLS handshake with %s failed: %s", c->host, err);
		return;
	}
	smtp__client_fail(c, stage_of(c->state), 421, "4.4.2",
	    "lost connection with %s (state %d)", c->host, (int)c->state);
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
			smtp__client_fail(c, stage_of(c->state), 421, "4.5.0",
			    "protocol error from %s: %s", c->host, error);
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
		smtp__client_fill(c);
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
		} else if (code / 100 == 5 && !c->tls && !c->lmtp) {
			c->state = ST_HELO;
			smtp__client_arm(c, c->to.helo);
			smtp__client_command(c, "HELO %s", c->helo);
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
		smtp__client_arm(c, c->to.auth);
		return;
	case ST_AUTH:
		if (code != 235) {
			fail_reply(c, SMTP_CLIENT_STAGE_AUTH);
			return;
		}
		session_ready(c);
		return;
	case ST_MAIL:
		smtp__client_mail_reply(c);
		return;
	case ST_RCPT:
		smtp__client_rcpt_reply(c);
		return;
	case ST_DATA:
		smtp__client_data_reply(c);
		return;
	case ST_DOT:
		smtp__client_dot_reply(c);
		return;
	case ST_RSET:
		if (code / 100 != 2)
			fail_reply(c, SMTP_CLIENT_STAGE_IDLE);
		else
			smtp__client_msg_finish(c);
		return;
	case ST_QUIT:
		c->state = ST_DEAD;
		event_del(c->timer);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		smtp__client_notify(c, SMTP_CLIENT_CLOSED);
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
	smtp__client_arm(c, c->to.helo);
	smtp__client_command(c, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->helo);
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
		smtp__client_fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.4",
		    "TLS is required, but was not offered by %s", c->host);
		return;
	}
	c->state = ST_STARTTLS;
	smtp__client_arm(c, c->to.starttls);
	smtp__client_command(c, "STARTTLS");
}

static void
start_tls(struct smtp_client *c)
{
	struct bufferevent *tls;
	struct in6_addr a6;
	SSL *ssl;

	/* Anything after the 220 was sent before TLS: an injection. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		smtp__client_fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.5.0",
		    "protocol error from %s: data after the STARTTLS reply",
		    c->host);
		return;
	}
	if ((ssl = SSL_new(c->ssl_ctx)) == NULL) {
		smtp__client_fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0",
		    "cannot create a TLS session");
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
			smtp__client_fail(c, SMTP_CLIENT_STAGE_TLS, 421,
			    "4.7.0", "cannot set the host name to verify");
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
		smtp__client_fail(c, SMTP_CLIENT_STAGE_TLS, 421, "4.7.0",
		    "cannot start TLS");
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
	smtp__client_arm(c, c->to.helo);
	smtp__client_command(c, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->helo);
}

static void
start_auth(struct smtp_client *c)
{
	if (c->auth_user == NULL) {
		session_ready(c);
		return;
	}
	if (!c->tls && !c->auth_plaintext) {
		smtp__client_fail(c, SMTP_CLIENT_STAGE_AUTH, 421, "4.7.0",
		    "not sending credentials to %s without TLS", c->host);
		return;
	}
	if (strlen(c->auth_user) > AUTH_FIELD_MAX ||
	    strlen(c->auth_pass) > AUTH_FIELD_MAX) {
		smtp__client_fail(c, SMTP_CLIENT_STAGE_AUTH, 421, "4.7.0",
		    "credentials too long");
		return;
	}
	smtp__client_arm(c, c->to.auth);
	if (c->ehlo.auth & SMTP_AUTH_PLAIN) {
		c->state = ST_AUTH;
		auth_send(c, c->auth_user, c->auth_pass);
	} else if (c->ehlo.auth & SMTP_AUTH_LOGIN) {
		c->state = ST_AUTH_LOGIN_USER;
		smtp__client_command(c, "AUTH LOGIN");
	} else
		smtp__client_fail(c, SMTP_CLIENT_STAGE_AUTH, 421, "4.7.0",
		    "%s offers no AUTH mechanism we know (PLAIN, LOGIN)",
		    c->host);
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
	smtp__client_notify(c, SMTP_CLIENT_READY);
}

void
smtp_client_quit(struct smtp_client *c)
{
	ASSERT(c->state == ST_READY && !c->in_msg);
	c->state = ST_QUIT;
	smtp__client_arm(c, c->to.quit);
	smtp__client_command(c, "QUIT");
}
