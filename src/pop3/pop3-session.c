/* pop3-session: the life of one POP3 connection.
 *
 * Bytes arrive in the bufferevent's input; process_input() takes complete
 * lines, bounded by POP3_LINE_MAX with the line end (RFC 2449), or by
 * POP3_AUTH_LINE_MAX for the response to AUTH's "+ ". A longer line gets
 * "-ERR Line too long" and is skipped up to its end; bytes beyond the
 * limit without a line end are an error at once, not a reason to wait
 * (the input stops at POP3_INPUT_HIGHWAT). A command that waits (the
 * password check on the offload pool, a failed login's delay, a long
 * multi-line response) holds the session, so pipelined commands are
 * answered in order (RFC 2449 PIPELINING).
 *
 * Timeouts: pop3_timeout (RFC 1939 section 3: at least 10 minutes) while
 * logged in, at most POP3_PREAUTH_TIMEOUT before; an expired timer closes
 * the connection without a reply and without the UPDATE state (RFC 1939),
 * so nothing is deleted, as with any connection that drops. Too many bad
 * commands end the session. A closing session flushes its output and is
 * freed, from a fresh loop iteration, once no offload job refers to it. */
#include <netinet/in.h>
#include <stdarg.h>
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

#include "lib/cidr.h"
#include "lib/log.h"
#include "lib/offload.h"
#include "lib/peertab.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "pop3/pop3-private.h"

#define POP3_TEXT_MAX	512	/* the text of a status line */

struct pop3_job {
	struct pop3_session	*s;
	void			(*work)(void *tctx, void *arg);
	void			(*done)(struct pop3_session *s, void *arg);
	void			*arg;
};

static uint64_t	new_session_id(void);
static bool	peer_loopback(const struct sockaddr *sa);
static void	setup_bev(struct pop3_session *s);
static void	status_line(struct pop3_session *s, const char *status,
		    const char *fmt, va_list ap)
		    __attribute__((format(printf, 3, 0)));
static void	process_input(struct pop3_session *s);
static void	line_too_long(struct pop3_session *s);
static void	on_read(struct bufferevent *bev, void *arg);
static void	on_write(struct bufferevent *bev, void *arg);
static void	on_event(struct bufferevent *bev, short what, void *arg);
static void	on_output(struct evbuffer *buf,
		    const struct evbuffer_cb_info *info, void *arg);
static void	on_free_later(evutil_socket_t fd, short what, void *arg);
static void	maybe_free_later(struct pop3_session *s);
static void	leave_peertab(struct pop3_session *s);
static size_t	unsent(struct pop3_session *s);
static void	session_free(struct pop3_session *s);
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
pop3_accept(struct worker *w, const struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	const struct config *cfg = w->cfg;
	struct pop3_session *s;
	SSL *ssl;

	s = xcalloc(1, sizeof(*s));
	s->id = new_session_id();
	s->w = w;
	s->l = l;
	s->cfg = cfg;
	if (peerlen > sizeof(s->peer_ss))
		peerlen = sizeof(s->peer_ss);
	memcpy(&s->peer_ss, peer, peerlen);
	cidr_peer_text(peer, s->peer, sizeof(s->peer));
	s->loopback = peer_loopback(peer);
	s->state = POP3_AUTHORIZATION;
	if (services[l->svc].implicit_tls) {
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
		free(s);
		worker_conn_closed(w);
		return;
	}
	s->free_ev = event_new(w->base, -1, 0, on_free_later, s);
	setup_bev(s);
	log_info("%016llx pop3 connect service=%s client=%s",
	    (unsigned long long)s->id, services[l->svc].name, s->peer);

	if (!peertab_class_enter(w->peers, PEERTAB_POP3, w->slot, peer,
	    (unsigned)cfg->pop3_max_connections_per_ip,
	    (unsigned)cfg->pop3_max_connections)) {
		log_info("%016llx pop3 reject client=%s reason=too-many-"
		    "connections", (unsigned long long)s->id, s->peer);
		s->reason = "too-many-connections";
		pop3_err(s, "[SYS/TEMP] Too many connections, try again later");
		pop3_close(s);
		return;
	}
	s->counted = true;
	pop3_ok(s, "postie ready");
}

/* Callbacks, watermarks and timeouts of a new bufferevent (at accept and
 * after STLS). */
static void
setup_bev(struct pop3_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);

	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, POP3_INPUT_HIGHWAT);
	/* Under a TLS filter this bounds what the filter encrypts ahead. */
	if (under != NULL)
		bufferevent_setwatermark(under, EV_WRITE, 0,
		    POP3_OUTPUT_HIGHWAT);
	evbuffer_add_cb(bufferevent_get_output(s->bev), on_output, s);
	pop3_session_set_timeout(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
pop3_session_set_timeout(struct pop3_session *s)
{
	struct timeval tv = { 0, 0 };

	tv.tv_sec = (time_t)s->cfg->pop3_timeout;
	if (s->state == POP3_AUTHORIZATION && tv.tv_sec > POP3_PREAUTH_TIMEOUT)
		tv.tv_sec = POP3_PREAUTH_TIMEOUT;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

int
pop3_session_starttls(struct pop3_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct bufferevent *tls_bev;
	SSL *ssl;

	/* Commands pipelined behind STLS came in the clear: never run them
	 * as if they came over TLS. */
	s->stats.in += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if ((ssl = SSL_new(s->w->tls)) == NULL)
		return -1;
	evbuffer_remove_cb(bufferevent_get_output(s->bev), on_output, s);
	/* The +OK is already queued on the plain socket below. */
	tls_bev = bufferevent_openssl_filter_new(s->w->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls_bev == NULL) {
		pop3_close(s);
		return -1;
	}
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	s->bev = tls_bev;
	s->tls = true;
	setup_bev(s);
	return 0;
}

const char *
pop3_tls_info(struct pop3_session *s, char *out, size_t outlen)
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

/*
 * Output.
 */

struct evbuffer *
pop3_output(struct pop3_session *s)
{
	return bufferevent_get_output(s->bev);
}

static void
status_line(struct pop3_session *s, const char *status, const char *fmt,
    va_list ap)
{
	char text[POP3_TEXT_MAX];

	if (s->closing)
		return;
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	/* The text never holds a line break: it would forge a response. */
	text[strcspn(text, "\r\n")] = '\0';
	evbuffer_add_printf(pop3_output(s), "%s %s\r\n", status, text);
}

void
pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	status_line(s, "+OK", fmt, ap);
	va_end(ap);
}

void
pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	status_line(s, "-ERR", fmt, ap);
	va_end(ap);
}

bool
pop3_output_full(struct pop3_session *s)
{
	return unsent(s) > POP3_OUTPUT_HIGHWAT;
}

void
pop3_output_wait(struct pop3_session *s, void (*fn)(struct pop3_session *))
{
	ASSERT(s->output_wait == NULL);
	s->output_wait = fn;
	/* on_write runs when the output has drained to the low mark; if it
	 * is there already, on the next write of any size, so poke it. */
	bufferevent_setwatermark(s->bev, EV_WRITE, POP3_OUTPUT_LOWWAT, 0);
	if (evbuffer_get_length(pop3_output(s)) <= POP3_OUTPUT_LOWWAT)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

static void
on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct pop3_session *s = arg;

	s->stats.out += info->n_added;
}

/*
 * Input.
 */

void
pop3_hold(struct pop3_session *s)
{
	s->busy = true;
}

void
pop3_resume(struct pop3_session *s)
{
	s->busy = false;
	/* The client's silence counts from our answer. */
	if (!s->closing)
		pop3_session_set_timeout(s);
	/* Inside process_input() the loop goes on by itself. */
	if (!s->in_input && !s->closing)
		process_input(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

static void
line_too_long(struct pop3_session *s)
{
	s->errors++;
	if (s->auth_step != POP3_AUTH_NONE) {
		s->auth_step = POP3_AUTH_NONE;
		pop3_err(s, "Line too long, authentication cancelled");
		return;
	}
	pop3_err(s, "Line too long");
}

static void
process_input(struct pop3_session *s)
{
	uint8_t line[POP3_AUTH_LINE_MAX + 2];
	struct evbuffer_ptr eol;
	struct evbuffer *in;
	size_t eol_len, len, max, n;

	if (s->in_input)
		return;
	s->in_input = true;
	while (!s->closing && !s->busy) {
		if (s->errors >= POP3_MAX_ERRORS) {
			log_info("%016llx pop3 too-many-errors client=%s",
			    (unsigned long long)s->id, s->peer);
			s->reason = "too-many-errors";
			pop3_err(s, "Too many invalid commands");
			pop3_close(s);
			break;
		}
		in = bufferevent_get_input(s->bev);
		max = s->auth_step != POP3_AUTH_NONE ? POP3_AUTH_LINE_MAX :
		    POP3_LINE_MAX;
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			if ((n = evbuffer_get_length(in)) > max) {
				s->stats.in += n;
				evbuffer_drain(in, n);
				if (!s->skip_line)
					line_too_long(s);
				s->skip_line = true;
			}
			break;
		}
		len = (size_t)eol.pos;
		if (s->skip_line || len + eol_len > max) {
			s->stats.in += len + eol_len;
			evbuffer_drain(in, len + eol_len);
			if (!s->skip_line)
				line_too_long(s);
			s->skip_line = false;
			continue;
		}
		evbuffer_remove(in, line, len + eol_len);
		s->stats.in += len + eol_len;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (s->auth_step != POP3_AUTH_NONE)
			pop3_auth_continue(s, line, len);
		else {
			s->stats.cmds++;
			pop3_dispatch(s, line, len);
		}
		explicit_bzero(line, len);
	}
	s->in_input = false;
}

/*
 * Events and teardown.
 */

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct pop3_session *s = arg;
	void (*fn)(struct pop3_session *);

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
	struct pop3_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    s->busy && !s->closing) {
		/* The client waits for us (a login's delay): not idle. */
		pop3_session_set_timeout(s);
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		/* RFC 1939 section 3: no reply, and no UPDATE state. */
		log_info("%016llx pop3 timeout client=%s user=%s",
		    (unsigned long long)s->id, s->peer,
		    s->user != NULL ? s->user : "-");
		s->reason = "timeout";
	}
	/* EOF, reset, TLS failure, a timeout: the connection is gone. */
	if (what & BEV_EVENT_ERROR)
		log_debug(LOG_CAT_POP3, "%016llx pop3 connection error: %s",
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
 * so a client reconnecting after QUIT is not counted twice. */
static void
leave_peertab(struct pop3_session *s)
{
	if (!s->counted)
		return;
	peertab_class_leave(s->w->peers, PEERTAB_POP3, s->w->slot,
	    (struct sockaddr *)&s->peer_ss);
	s->counted = false;
}

/* Octets not yet handed to the kernel, under a STLS filter also those in
 * the socket's own buffer. */
static size_t
unsent(struct pop3_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

void
pop3_close(struct pop3_session *s)
{
	static const struct timeval flush_timeout = {
		POP3_CLOSE_FLUSH_SECS, 0
	};

	if (s->closing)
		return;
	s->closing = true;
	s->close_deadline = time(NULL) + POP3_CLOSE_FLUSH_SECS;
	leave_peertab(s);
	bufferevent_disable(s->bev, EV_READ);
	/* A client that does not read its last reply cannot hold us. */
	bufferevent_set_timeouts(s->bev, NULL, &flush_timeout);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	maybe_free_later(s);
}

/* Every free goes through here, from a fresh loop iteration, so no caller
 * up the stack still holds the session. A closing session waits for its
 * last reply to leave, at most POP3_CLOSE_FLUSH_SECS (polling the layer
 * below a TLS filter, whose progress no callback reports). */
static void
maybe_free_later(struct pop3_session *s)
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
	struct pop3_session *s = arg;

	if (s->pending > 0)
		return;
	if (!s->dead && unsent(s) > 0 && time(NULL) <= s->close_deadline) {
		maybe_free_later(s);
		return;
	}
	session_free(s);
}

static void
session_free(struct pop3_session *s)
{
	struct worker *w = s->w;

	ASSERT(s->pending == 0);
	log_info("%016llx pop3 %s client=%s user=%s reason=%s cmds=%u "
	    "in=%llu out=%llu retrieved=%u deleted=%u errors=%u",
	    (unsigned long long)s->id,
	    s->user != NULL ? "logout" : "disconnect", s->peer,
	    s->user != NULL ? s->user : "-",
	    s->reason != NULL ? s->reason : "close", s->stats.cmds,
	    (unsigned long long)s->stats.in,
	    (unsigned long long)s->stats.out, s->stats.retrieved,
	    s->stats.deleted, s->errors);
	leave_peertab(s);
	pop3_stream_free(s);
	/* A session that did not reach UPDATE deletes nothing. */
	pop3_maildrop_free(&s->drop);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	event_free(s->free_ev);
	if (s->user_arg != NULL) {
		explicit_bzero(s->user_arg, strlen(s->user_arg));
		free(s->user_arg);
	}
	free(s->user);
	bufferevent_free(s->bev);
	free(s);
	worker_conn_closed(w);
}

/*
 * Offload jobs.
 */

static void
job_work(void *tctx, void *arg)
{
	struct pop3_job *j = arg;

	j->work(tctx, j->arg);
}

static void
job_done(void *arg)
{
	struct pop3_job *j = arg;
	struct pop3_session *s = j->s;

	s->pending--;
	j->done(s, j->arg);
	free(j);
	maybe_free_later(s);
}

void
pop3_offload(struct pop3_session *s, void (*work)(void *tctx, void *arg),
    void (*done)(struct pop3_session *s, void *arg), void *arg)
{
	struct pop3_job *j = xmalloc(sizeof(*j));

	j->s = s;
	j->work = work;
	j->done = done;
	j->arg = arg;
	s->pending++;
	pop3_hold(s);
	offload_submit(s->w->offload, job_work, job_done, j);
}
