/* imap-session: the life of one IMAP connection.
 *
 * Bytes arrive in the bufferevent's input and go, as they come, through
 * the command parser (imap/parse.h), which keeps its own bounds (line,
 * nesting, literals), so the input never holds more than one read's
 * worth while no command runs. A complete command goes to the table
 * (imap-commands.c); until its handler calls imap_done() nothing more is
 * parsed, so pipelined commands are answered in order and the input stops
 * at IMAP_INPUT_HIGHWAT. Three states read raw lines instead of commands:
 * an AUTHENTICATE exchange, IDLE (waiting for DONE), and the octets of an
 * APPEND message literal, which go straight to the store.
 *
 * Literals: the parser stops at each literal header and this file decides
 * (literal_decision()): APPEND's message is streamed (imap-cmd-append.c),
 * other literals are read into memory within the parser's limits, and
 * before login only LOGIN and AUTHENTICATE may send small ones. A
 * synchronizing literal gets "+ OK" only once accepted.
 *
 * Timeouts: imap_timeout while logged in (IDLE included), at most
 * IMAP_PREAUTH_TIMEOUT before. Too many BAD answers end the session. A
 * closing session flushes its output and is freed, from a fresh loop
 * iteration, once no offload job refers to it any more. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "imap/imap-private.h"
#include "lib/cidr.h"
#include "lib/log.h"
#include "lib/offload.h"
#include "lib/peertab.h"
#include "lib/pool.h"
#include "lib/tls.h"
#include "lib/xalloc.h"

#define IMAP_TEXT_MAX	2048	/* the text of a tagged reply */

struct imap_job {
	struct imap_session	*s;
	void			(*work)(void *tctx, void *arg);
	void			(*done)(struct imap_session *s, void *arg);
	void			*arg;
};

/* A command kept while the client takes its time (imap_cmd_detach). */
struct imap_detached {
	struct imap_cmd	 cmd;
	char		 tag[IMAP_TAG_MAX + 1];
	char		 name[IMAP_NAME_MAX + 1];
};

static uint64_t	new_session_id(void);
static bool	peer_loopback(const struct sockaddr *sa);
static void	setup_bev(struct imap_session *s);
static void	on_worker_stop(struct worker_conn *c);
static void	process_input(struct imap_session *s);
static bool	feed(struct imap_session *s, struct evbuffer *in);
static bool	take_line(struct imap_session *s, struct evbuffer *in,
		    size_t max, void (*fn)(struct imap_session *,
		    const uint8_t *, size_t));
static bool	stream_literal(struct imap_session *s, struct evbuffer *in);
static void	release_parser(struct imap_session *s);
static void	literal_decision(struct imap_session *s,
		    const struct imap_literal *lit);
static void	refuse_literal(struct imap_session *s, const char *status,
		    const char *text);
static void	parse_error(struct imap_session *s);
static void	on_read(struct bufferevent *bev, void *arg);
static void	on_write(struct bufferevent *bev, void *arg);
static void	on_event(struct bufferevent *bev, short what, void *arg);
static void	on_output(struct evbuffer *buf,
		    const struct evbuffer_cb_info *info, void *arg);
static void	on_free_later(evutil_socket_t fd, short what, void *arg);
static void	maybe_free_later(struct imap_session *s);
static void	leave_peertab(struct imap_session *s);
static size_t	unsent(struct imap_session *s);
static void	session_free(struct imap_session *s);
static void	job_work(void *tctx, void *arg);
static void	job_done(void *arg);

static uint64_t
new_session_id(void)
{
	static uint64_t next;

	if (next == 0 && getrandom(&next, sizeof(next), 0) != sizeof(next))
		next = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	return ++next;
}

/* 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
static bool
peer_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    sin6->sin6_addr.s6_addr[12] == 127);
	return false;
}

void
imap_accept(struct worker *w, const struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	const struct config *cfg = w->cfg;
	struct imap_limits limits;
	struct imap_session *s;
	SSL *ssl;

	s = xcalloc(1, sizeof(*s));
	s->pool = pool_new(NULL);
	s->id = new_session_id();
	s->w = w;
	s->l = l;
	s->cfg = cfg;
	if (peerlen > sizeof(s->peer_ss))
		peerlen = sizeof(s->peer_ss);
	memcpy(&s->peer_ss, peer, peerlen);
	cidr_peer_text(peer, s->peer, sizeof(s->peer));
	s->loopback = peer_loopback(peer);
	s->implicit_tls = services[l->svc].implicit_tls;
	s->state = IMAP_NOT_AUTH;
	s->max_message_size = cfg->max_message_size;
	if (s->implicit_tls) {
		if ((ssl = SSL_new(w->tls)) != NULL)
			s->bev = bufferevent_openssl_socket_new(w->base, fd,
			    ssl, BUFFEREVENT_SSL_ACCEPTING,
			    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		s->tls = true;
	} else
		s->bev = bufferevent_socket_new(w->base, fd,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		close(fd);
		pool_free(&s->pool);
		free(s);
		worker_conn_closed(w);
		return;
	}
	worker_conn_track(w, &s->wc, on_worker_stop);
	imap_limits_preauth(&limits);
	s->parser = imap_parser_new(s->pool, &limits);
	s->free_ev = event_new(w->base, -1, 0, on_free_later, s);
	setup_bev(s);
	log_info("%016llx imap connect service=%s client=%s",
	    (unsigned long long)s->id, services[l->svc].name, s->peer);

	if (!peertab_class_enter(w->peers, PEERTAB_IMAP, w->slot, peer,
	    (unsigned)cfg->imap_max_connections_per_ip,
	    (unsigned)cfg->imap_max_connections)) {
		log_info("%016llx imap reject client=%s reason=too-many-"
		    "connections", (unsigned long long)s->id, s->peer);
		s->reason = "too-many-connections";
		imap_bye(s, "Too many connections, try again later");
		return;
	}
	s->counted = true;
	imap_untagged(s, "OK [CAPABILITY %s] postie ready",
	    imap_capabilities(s));
}

/* The worker stops. A session between commands, in IDLE or in an
 * AUTHENTICATE exchange ends now with BYE; one running a command, after
 * its tagged reply (imap_done). */
static void
on_worker_stop(struct worker_conn *c)
{
	struct imap_session *s = (struct imap_session *)(void *)
	    ((char *)c - offsetof(struct imap_session, wc));

	s->shutdown = true;
	if (s->cmd == NULL || s->idling || s->auth_step != IMAP_AUTH_NONE) {
		s->reason = "shutdown";
		imap_bye(s, "Server shutting down");
	}
}

/* Callbacks, watermarks and timeouts of a new bufferevent (at accept and
 * after STARTTLS). */
static void
setup_bev(struct imap_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);

	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IMAP_INPUT_HIGHWAT);
	/* Under a TLS filter this bounds what the filter encrypts ahead. */
	if (under != NULL)
		bufferevent_setwatermark(under, EV_WRITE, 0,
		    IMAP_OUTPUT_HIGHWAT);
	evbuffer_add_cb(bufferevent_get_output(s->bev), on_output, s);
	imap_session_set_timeout(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
imap_session_set_timeout(struct imap_session *s)
{
	struct timeval tv = { 0, 0 };

	tv.tv_sec = (time_t)s->cfg->imap_timeout;
	if (s->state == IMAP_NOT_AUTH && tv.tv_sec > IMAP_PREAUTH_TIMEOUT)
		tv.tv_sec = IMAP_PREAUTH_TIMEOUT;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

int
imap_session_starttls(struct imap_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct bufferevent *tls_bev;
	SSL *ssl;

	/* Commands pipelined behind STARTTLS came in the clear: never run
	 * them as if they came over TLS. */
	evbuffer_drain(in, evbuffer_get_length(in));
	if ((ssl = SSL_new(s->w->tls)) == NULL)
		return -1;
	evbuffer_remove_cb(bufferevent_get_output(s->bev), on_output, s);
	/* The tagged OK is already queued on the plain socket below. */
	tls_bev = bufferevent_openssl_filter_new(s->w->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls_bev == NULL) {
		imap_close(s);
		return -1;
	}
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	s->bev = tls_bev;
	s->tls = true;
	setup_bev(s);
	return 0;
}

const char *
imap_tls_info(struct imap_session *s, char *out, size_t outlen)
{
	SSL *ssl;

	char *sp;

	if (!s->tls || (ssl = bufferevent_openssl_get_ssl(s->bev)) == NULL)
		return "no";
	/* One word for the key=value log line: "TLSv1.3:TLS_AES_..." */
	(void)tls_describe(ssl, out, outlen);
	if ((sp = strchr(out, ' ')) != NULL)
		*sp = ':';
	return out;
}

struct evbuffer *
imap_output(struct imap_session *s)
{
	return bufferevent_get_output(s->bev);
}

bool
imap_output_full(struct imap_session *s)
{
	return unsent(s) > IMAP_OUTPUT_HIGHWAT;
}

void
imap_output_wait(struct imap_session *s, void (*fn)(struct imap_session *))
{
	ASSERT(s->output_wait == NULL);
	s->output_wait = fn;
	/* on_write runs when the output has drained to the low mark; if it
	 * is there already, on the next write of any size, so poke it. */
	bufferevent_setwatermark(s->bev, EV_WRITE, IMAP_OUTPUT_LOWWAT, 0);
	if (evbuffer_get_length(imap_output(s)) <= IMAP_OUTPUT_LOWWAT)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

static void
on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct imap_session *s = arg;

	s->stats.out += info->n_added;
}

/*
 * Commands.
 */

void
imap_done(struct imap_session *s, const char *status, const char *fmt, ...)
{
	const struct imap_command *c = s->command;
	char text[IMAP_TEXT_MAX];
	bool allow_expunge;
	va_list ap;

	ASSERT(s->cmd != NULL);
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* The text never holds a line break: it would forge a response. */
	text[strcspn(text, "\r\n")] = '\0';
	if (!s->closing && s->state == IMAP_SELECTED && s->view != NULL) {
		allow_expunge = c == NULL || !(c->flags & IMAP_CMD_NO_EXPUNGE) ||
		    s->cmd->uid;
		(void)imap_notify(s, allow_expunge);
	}
	if (!s->closing) {
		evbuffer_add_printf(imap_output(s), "%s %s %s\r\n",
		    s->cmd->tag, status, text);
		if (strcmp(status, "BAD") == 0 && !s->bad_uncounted)
			s->errors++;
	}
	s->bad_uncounted = false;
	log_debug(LOG_CAT_IMAP, "%016llx imap %s%s %s %s",
	    (unsigned long long)s->id, s->cmd->uid ? "UID " : "",
	    s->cmd->name != NULL ? s->cmd->name : "?", status, text);
	imap_append_free(s);
	if (s->auth_login_user != NULL) {
		explicit_bzero(s->auth_login_user, strlen(s->auth_login_user));
		xfree(&s->auth_login_user);
	}
	s->cmd = NULL;
	s->command = NULL;
	s->auth_step = IMAP_AUTH_NONE;
	s->idling = false;
	s->output_wait = NULL;
	xfree(&s->detached);
	if (s->state == IMAP_LOGOUT && !s->closing) {
		s->reason = "logout";
		imap_close(s);
	}
	if (s->shutdown && !s->closing) {
		s->reason = "shutdown";
		imap_bye(s, "Server shutting down");
	}
	/* A command that finished later (offload, delay, IDLE) lets the
	 * session read again; inside process_input() the loop goes on. */
	if (!s->in_input && !s->closing)
		process_input(s);
}

void
imap_cmd_detach(struct imap_session *s)
{
	struct imap_detached *d;

	ASSERT(s->cmd != NULL && s->detached == NULL);
	d = xcalloc(1, sizeof(*d));
	(void)snprintf(d->tag, sizeof(d->tag), "%s", s->cmd->tag);
	(void)snprintf(d->name, sizeof(d->name), "%s",
	    s->cmd->name != NULL ? s->cmd->name : "");
	d->cmd.tag = d->tag;
	d->cmd.name = d->name;
	d->cmd.uid = s->cmd->uid;
	s->detached = &d->cmd;	/* first member: freed through it */
	s->cmd = &d->cmd;
	release_parser(s);
}

void
imap_bye(struct imap_session *s, const char *fmt, ...)
{
	char text[IMAP_TEXT_MAX];
	va_list ap;

	if (s->closing)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	text[strcspn(text, "\r\n")] = '\0';
	evbuffer_add_printf(imap_output(s), "* BYE %s\r\n", text);
	if (s->reason == NULL)
		s->reason = "bye";
	imap_close(s);
}

void
imap_unselect(struct imap_session *s)
{
	imap_idle_stop(s);
	store_view_close(&s->view);
	s->readonly = false;
	if (s->state == IMAP_SELECTED)
		s->state = IMAP_AUTH;
}

/*
 * Input.
 */

static void
on_read(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

static void
process_input(struct imap_session *s)
{
	struct evbuffer *in;

	if (s->in_input)
		return;
	s->in_input = true;
	while (!s->closing) {
		in = bufferevent_get_input(s->bev);
		if (s->cmd != NULL) {
			/* A command runs; only its own dialogue is read. */
			if (s->auth_step != IMAP_AUTH_NONE) {
				if (!take_line(s, in, IMAP_AUTH_LINE_MAX,
				    imap_auth_continue))
					break;
			} else if (s->idling) {
				if (!take_line(s, in, IMAP_IDLE_LINE_MAX,
				    imap_idle_line))
					break;
			} else
				break;
			continue;
		}
		if (s->errors >= s->cfg->imap_max_errors) {
			log_info("%016llx imap too-many-errors client=%s",
			    (unsigned long long)s->id, s->peer);
			s->reason = "too-many-errors";
			imap_bye(s, "Too many invalid commands");
			break;
		}
		if (imap_append_left(s) > 0) {
			if (!stream_literal(s, in))
				break;
			continue;
		}
		if (evbuffer_get_length(in) == 0) {
			/* Idle: keep nothing of the last command. */
			release_parser(s);
			break;
		}
		if (!feed(s, in))
			break;
	}
	s->in_input = false;
}

/* Feed the parser the first chunk of the input; false when there is
 * nothing to feed. */
static bool
feed(struct imap_session *s, struct evbuffer *in)
{
	const struct imap_cmd *cmd;
	struct evbuffer_iovec v;
	enum parse_result r;
	size_t used;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return false;
	r = imap_parser_feed(s->parser, v.iov_base, v.iov_len, &used);
	evbuffer_drain(in, used);
	s->stats.in += used;
	switch (r) {
	case PARSE_MORE:
		break;
	case PARSE_DONE:
		if ((cmd = imap_parser_cmd(s->parser)) != NULL) {
			s->stats.cmds++;
			imap_dispatch(s, cmd);
		} else
			literal_decision(s, imap_parser_literal(s->parser));
		break;
	case PARSE_ERROR:
		parse_error(s);
		break;
	}
	return true;
}

/* Free what the parser keeps of the last command (its pool). */
static void
release_parser(struct imap_session *s)
{
	size_t used;

	if (imap_parser_feed(s->parser, NULL, 0, &used) != PARSE_MORE)
		panic("imap parser: an empty feed reported something");
}

/* One line (LF-terminated, CR stripped) for a dialogue inside a command;
 * false when it has not arrived yet. A line longer than max ends the
 * session: no client of these dialogues sends one. */
static bool
take_line(struct imap_session *s, struct evbuffer *in, size_t max,
    void (*fn)(struct imap_session *, const uint8_t *, size_t))
{
	uint8_t line[IMAP_AUTH_LINE_MAX + 2];
	struct evbuffer_ptr eol;
	size_t eol_len, len;

	ASSERT(max <= IMAP_AUTH_LINE_MAX);
	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos == -1 ? evbuffer_get_length(in) > max + 1 :
	    (size_t)eol.pos > max + 1) {
		s->reason = "line-too-long";
		imap_bye(s, "Line too long");
		return false;
	}
	if (eol.pos == -1)
		return false;
	len = (size_t)eol.pos;
	evbuffer_remove(in, line, len + eol_len);
	s->stats.in += len + eol_len;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	fn(s, line, len);
	explicit_bzero(line, len);
	return true;
}

/* Octets of an APPEND message literal go to the store as they come. */
static bool
stream_literal(struct imap_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t n;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return false;
	n = imap_append_data(s, v.iov_base, v.iov_len);
	evbuffer_drain(in, n);
	s->stats.in += n;
	return n > 0;
}

/* The parser stopped at a literal header: take it, stream it, or refuse
 * it (answering its command). */
static void
literal_decision(struct imap_session *s, const struct imap_literal *lit)
{
	const char *name = lit->name != NULL ? lit->name : "";
	uint64_t max;

	if (strcmp(name, "APPEND") == 0 && !lit->uid && lit->depth == 0 &&
	    lit->index >= 1 && (s->state & (IMAP_AUTH | IMAP_SELECTED))) {
		imap_append_literal(s, lit);
		return;
	}
	if (s->state == IMAP_NOT_AUTH) {
		if (strcmp(name, "LOGIN") != 0 &&
		    strcmp(name, "AUTHENTICATE") != 0) {
			refuse_literal(s, "BAD", "Literal not allowed before "
			    "login");
			return;
		}
		max = lit->sync ? IMAP_LITERAL_PREAUTH :
		    IMAP_LITERAL_PREAUTH_NS;
		if (lit->size > max) {
			refuse_literal(s, "BAD", "[TOOBIG] Literal too large");
			return;
		}
	}
	if (imap_parser_literal_accept(s->parser) == -1) {
		refuse_literal(s, "BAD", "[TOOBIG] Literal too large");
		return;
	}
	if (lit->sync)
		evbuffer_add(imap_output(s), "+ OK\r\n", 6);
}

/* Drop the command whose literal waits, and answer it. A refused
 * non-synchronizing literal too big to skip ends the session. */
static void
refuse_literal(struct imap_session *s, const char *status, const char *text)
{
	const struct imap_literal *lit = imap_parser_literal(s->parser);
	const char *tag = lit->tag;	/* valid until the next feed */

	if (imap_parser_literal_refuse(s->parser) == -1) {
		s->reason = "literal-too-large";
		imap_bye(s, "Literal too large to skip");
		return;
	}
	evbuffer_add_printf(imap_output(s), "%s %s %s\r\n", tag, status,
	    text);
	if (strcmp(status, "BAD") == 0)
		s->errors++;
	log_debug(LOG_CAT_IMAP, "%016llx imap literal refused: %s %s",
	    (unsigned long long)s->id, status, text);
}

/* Used by imap-cmd-append.c too, through imap_append_literal(). */
void
imap__refuse_literal(struct imap_session *s, const char *status,
    const char *text)
{
	refuse_literal(s, status, text);
}

static void
parse_error(struct imap_session *s)
{
	const struct imap_parse_error *e = imap_parser_error(s->parser);

	/* An APPEND whose command line went wrong after its message. */
	imap_append_free(s);
	if (e->close) {
		s->reason = "protocol-error";
		imap_bye(s, "%s", e->text);
		return;
	}
	s->errors++;
	if (e->tag != NULL)
		evbuffer_add_printf(imap_output(s), "%s BAD %s\r\n", e->tag,
		    e->text);
	else
		evbuffer_add_printf(imap_output(s), "* BAD %s\r\n", e->text);
	log_debug(LOG_CAT_IMAP, "%016llx imap bad command: %s",
	    (unsigned long long)s->id, e->text);
}

/*
 * Output, events and teardown.
 */

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct imap_session *s = arg;
	void (*fn)(struct imap_session *);

	if (s->output_wait != NULL && !s->closing) {
		fn = s->output_wait;
		s->output_wait = NULL;
		bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
		fn(s);
		return;
	}
	maybe_free_later(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct imap_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		log_info("%016llx imap timeout client=%s user=%s",
		    (unsigned long long)s->id, s->peer,
		    s->user != NULL ? s->user : "-");
		s->reason = "timeout";
		imap_bye(s, "Autologout; idle for too long");
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	/* EOF, reset, TLS failure or a timeout while closing. */
	if (what & BEV_EVENT_ERROR)
		log_debug(LOG_CAT_IMAP, "%016llx imap connection error: %s",
		    (unsigned long long)s->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (s->reason == NULL)
		s->reason = (what & BEV_EVENT_EOF) ? "eof" : "error";
	s->closing = true;
	s->dead = true;
	leave_peertab(s);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	maybe_free_later(s);
}

/* A closing session stops counting against its client's limit at once,
 * so a client reconnecting after LOGOUT is not counted twice. */
static void
leave_peertab(struct imap_session *s)
{
	if (!s->counted)
		return;
	peertab_class_leave(s->w->peers, PEERTAB_IMAP, s->w->slot,
	    (struct sockaddr *)&s->peer_ss);
	s->counted = false;
}

/* Octets not yet handed to the kernel, under a STARTTLS filter also those
 * in the socket's own buffer. */
static size_t
unsent(struct imap_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

void
imap_close(struct imap_session *s)
{
	static const struct timeval flush_timeout = { IMAP_CLOSE_FLUSH_SECS, 0 };

	if (s->closing)
		return;
	s->closing = true;
	s->close_deadline = time(NULL) + IMAP_CLOSE_FLUSH_SECS;
	leave_peertab(s);
	imap_idle_stop(s);
	bufferevent_disable(s->bev, EV_READ);
	/* A client that does not read its last response cannot hold us. */
	bufferevent_set_timeouts(s->bev, NULL, &flush_timeout);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	maybe_free_later(s);
}

/* Every free goes through here, from a fresh loop iteration, so no caller
 * up the stack still holds the session. A closing session waits for its
 * last response to leave, at most IMAP_CLOSE_FLUSH_SECS (polling the
 * layer below a TLS filter, whose progress no callback reports). */
static void
maybe_free_later(struct imap_session *s)
{
	static const struct timeval poll = { 0, 20000 };

	if (s->pending > 0 || !s->closing)
		return;
	if (s->dead || unsent(s) == 0 || time(NULL) > s->close_deadline)
		event_active(s->free_ev, EV_TIMEOUT, 0);
	else
		event_add(s->free_ev, &poll);
}

static void
on_free_later(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;

	if (s->pending > 0)
		return;
	if (!s->dead && unsent(s) > 0 && time(NULL) <= s->close_deadline) {
		maybe_free_later(s);
		return;
	}
	session_free(s);
}

static void
session_free(struct imap_session *s)
{
	struct worker *w = s->w;

	ASSERT(s->pending == 0);
	log_info("%016llx imap %s client=%s user=%s reason=%s cmds=%u "
	    "in=%llu out=%llu appended=%u expunged=%u errors=%u",
	    (unsigned long long)s->id,
	    s->user != NULL ? "logout" : "disconnect", s->peer,
	    s->user != NULL ? s->user : "-",
	    s->reason != NULL ? s->reason : "close", s->stats.cmds,
	    (unsigned long long)s->stats.in,
	    (unsigned long long)s->stats.out, s->stats.appended,
	    s->stats.expunged, s->errors);
	worker_conn_untrack(s->w, &s->wc);
	leave_peertab(s);
	imap_append_free(s);
	imap_idle_stop(s);
	store_view_close(&s->view);
	store_user_free(&s->store);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	event_free(s->free_ev);
	if (s->auth_login_user != NULL) {
		explicit_bzero(s->auth_login_user, strlen(s->auth_login_user));
		free(s->auth_login_user);
	}
	xfree(&s->detached);
	free(s->user);
	imap_parser_free(&s->parser);
	bufferevent_free(s->bev);
	pool_free(&s->pool);
	free(s);
	worker_conn_closed(w);
}

/*
 * Offload jobs.
 */

static void
job_work(void *tctx, void *arg)
{
	struct imap_job *j = arg;

	j->work(tctx, j->arg);
}

static void
job_done(void *arg)
{
	struct imap_job *j = arg;
	struct imap_session *s = j->s;

	s->pending--;
	j->done(s, j->arg);
	free(j);
	maybe_free_later(s);
}

void
imap_offload(struct imap_session *s, void (*work)(void *tctx, void *arg),
    void (*done)(struct imap_session *s, void *arg), void *arg)
{
	struct imap_job *j = xmalloc(sizeof(*j));

	j->s = s;
	j->work = work;
	j->done = done;
	j->arg = arg;
	s->pending++;
	offload_submit(s->w->offload, job_work, job_done, j);
}
