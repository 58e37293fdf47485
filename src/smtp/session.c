/* session: the life of one SMTP connection.
 *
 * Bytes arrive in the bufferevent's input; process_input() takes complete
 * command lines (bounded by SMTP_LINE_MAX; a longer one gets 500 5.5.2 and
 * is skipped up to its end) or, during DATA/BDAT, message data, and stops
 * while a command runs asynchronously (busy), so pipelined commands are
 * answered in order. Replies are queued and flushed by the bufferevent.
 * Every state has a timeout; too many errors end the session with 421.
 * A closing session flushes its replies and is freed once no offload job
 * refers to it any more. */
#include <errno.h>
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
#include "queue/queue.h"
#include "smtp/data.h"
#include "smtp/smtp-private.h"

struct smtp_job {
	struct smtp_session	*s;
	void			(*work)(void *tctx, void *arg);
	void			(*done)(struct smtp_session *s, void *arg);
	void			*arg;
};

static void	process_input(struct smtp_session *s);
static void	on_read(struct bufferevent *bev, void *arg);
static void	on_write(struct bufferevent *bev, void *arg);
static void	on_event(struct bufferevent *bev, short what, void *arg);
static void	on_free_later(evutil_socket_t fd, short what, void *arg);
static void	maybe_free_later(struct smtp_session *s);
static void	leave_peertab(struct smtp_session *s);
static size_t	unsent(struct smtp_session *s);
static void	session_free(struct smtp_session *s);
static void	job_work(void *tctx, void *arg);
static void	job_done(void *arg);
static uint64_t	new_session_id(void);

static uint64_t
new_session_id(void)
{
	static uint64_t next;

	if (next == 0 && getrandom(&next, sizeof(next), 0) != sizeof(next))
		next = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	return ++next;
}

void
smtp_accept(struct worker *w, const struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	const struct config *cfg = w->cfg;
	struct smtp_session *s;
	struct pool *pool;
	SSL *ssl;

	pool = pool_new(NULL);
	s = pool_alloc(pool, sizeof(*s));
	s->pool = pool;
	s->id = new_session_id();
	s->w = w;
	s->l = l;
	s->cfg = cfg;
	memcpy(&s->peer, peer, peerlen);
	s->peerlen = peerlen;
	cidr_peer_text(peer, s->peer_text, sizeof(s->peer_text));
	s->submission = l->svc == SVC_SUBMISSION || l->svc == SVC_SUBMISSIONS;
	s->lmtp = services[l->svc].proto == PROTO_LMTP;
	s->trusted = smtp_client_trusted(s);
	if (services[l->svc].implicit_tls) {
		if ((ssl = SSL_new(w->tls)) == NULL) {
			close(fd);
			pool_free(&pool);
			worker_conn_closed(w);
			return;
		}
		s->bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		s->tls = true;
	} else
		s->bev = bufferevent_socket_new(w->base, fd,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		close(fd);
		pool_free(&pool);
		worker_conn_closed(w);
		return;
	}
	s->free_ev = event_new(w->base, -1, 0, on_free_later, s);
	smtp_session_setcb(s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGHWAT);
	smtp_session_set_timeout(s, false);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_info("%016llx smtp connect service=%s client=%s",
	    (unsigned long long)s->id, services[l->svc].name, s->peer_text);

	/* Every client of a unix socket is "local": only the total counts. */
	if (!peertab_conn_enter(w->peers, w->slot, peer,
	    (unsigned)(peer->sa_family == AF_UNIX ? cfg->smtp_max_connections :
	    cfg->smtp_max_connections_per_ip),
	    (unsigned)cfg->smtp_max_connections)) {
		log_info("%016llx smtp reject client=%s reason=too-many-"
		    "connections", (unsigned long long)s->id, s->peer_text);
		smtp_reply(s, 421, "4.7.0", "%s Too many connections, try "
		    "again later", cfg->hostname);
		smtp_session_close(s);
		return;
	}
	s->counted = true;
	smtp_reply(s, 220, NULL, "%s %s postie", cfg->hostname,
	    s->lmtp ? "LMTP" : "ESMTP");
}

void
smtp_session_setcb(struct smtp_session *s)
{
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
}

const char *
smtp_session_tls_info(struct smtp_session *s)
{
	SSL *ssl;

	if (!s->tls)
		return NULL;
	if (s->tls_info[0] == '\0' &&
	    (ssl = bufferevent_openssl_get_ssl(s->bev)) != NULL)
		tls_describe(ssl, s->tls_info, sizeof(s->tls_info));
	return s->tls_info;
}

void
smtp_session_set_timeout(struct smtp_session *s, bool data)
{
	struct timeval tv = { 0, 0 };

	tv.tv_sec = (time_t)(data ? s->cfg->smtp_data_timeout :
	    s->cfg->smtp_timeout);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

struct smtp_tx *
smtp_tx_new(struct smtp_session *s)
{
	struct pool *pool = pool_new(s->pool);
	struct smtp_tx *tx = pool_alloc(pool, sizeof(*tx));

	tx->pool = pool;
	tx->max_size = s->cfg->max_message_size;
	s->tx = tx;
	return tx;
}

void
smtp_tx_free(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct pool *pool;

	if (tx == NULL)
		return;
	queue_file_abort(&tx->qf);
	lmtp_msg_free(&tx->lmtp);
	buf_deinit(&tx->headers);
	s->tx = NULL;
	pool = tx->pool;	/* tx lives in it */
	pool_free(&pool);
}

bool
smtp_session_done(struct smtp_session *s)
{
	return s->closing;
}

static void
session_free(struct smtp_session *s)
{
	struct worker *w = s->w;
	struct pool *pool = s->pool;

	ASSERT(s->pending == 0);
	log_info("%016llx smtp disconnect client=%s errors=%u",
	    (unsigned long long)s->id, s->peer_text, s->errors);
	smtp_tx_free(s);
	leave_peertab(s);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	event_free(s->free_ev);
	if (s->auth_login_user != NULL)
		explicit_bzero(s->auth_login_user, strlen(s->auth_login_user));
	bufferevent_free(s->bev);
	pool_free(&pool);
	worker_conn_closed(w);
}

/* A session stops counting against its client's limit as soon as it is
 * closing: a client that reconnects right after QUIT must not find itself
 * counted twice while the last reply is still being flushed. */
static void
leave_peertab(struct smtp_session *s)
{
	if (!s->counted)
		return;
	peertab_conn_leave(s->w->peers, s->w->slot,
	    (struct sockaddr *)&s->peer);
	s->counted = false;
}

/* Octets not yet handed to the kernel: under a STARTTLS filter, also
 * those still in the socket's own buffer. */
static size_t
unsent(struct smtp_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

/* Every free goes through here, from a fresh loop iteration, so no caller
 * up the stack still holds the session. A closing session waits for its
 * last reply to leave (polling the layer below a TLS filter, whose
 * progress no callback of ours reports), at most SMTP_CLOSE_FLUSH_SECS. */
static void
maybe_free_later(struct smtp_session *s)
{
	static const struct timeval poll = { 0, 20000 };

	if (s->pending > 0 || (!s->dead && !s->closing))
		return;
	if (s->dead || unsent(s) == 0 || time(NULL) > s->close_deadline)
		event_active(s->free_ev, EV_TIMEOUT, 0);
	else
		event_add(s->free_ev, &poll);
}

static void
on_free_later(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (s->pending > 0)
		return;
	if (!s->dead && unsent(s) > 0 && time(NULL) <= s->close_deadline) {
		maybe_free_later(s);
		return;
	}
	session_free(s);
}

/* Flush what is queued, then free. */
void
smtp_session_close(struct smtp_session *s)
{
	static const struct timeval flush_timeout = { SMTP_CLOSE_FLUSH_SECS, 0 };

	if (s->closing)
		return;
	s->closing = true;
	s->close_deadline = time(NULL) + SMTP_CLOSE_FLUSH_SECS;
	leave_peertab(s);
	bufferevent_disable(s->bev, EV_READ);
	/* A client that does not read its last reply cannot hold us. */
	bufferevent_set_timeouts(s->bev, NULL, &flush_timeout);
	maybe_free_later(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	maybe_free_later(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		log_info("%016llx smtp timeout client=%s state=%d",
		    (unsigned long long)s->id, s->peer_text, s->state);
		smtp_reply(s, 421, "4.4.2", "%s Timeout exceeded, closing",
		    s->cfg->hostname);
		smtp_session_close(s);
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	/* EOF, reset, TLS failure or a timeout while closing: the
	 * connection is gone. */
	if (what & BEV_EVENT_ERROR)
		log_debug(LOG_CAT_SMTP, "%016llx smtp connection error: %s",
		    (unsigned long long)s->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	s->closing = true;
	s->dead = true;
	leave_peertab(s);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	maybe_free_later(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

void
smtp_session_resume(struct smtp_session *s)
{
	s->busy = false;
	if (!s->closing)
		process_input(s);
}

static void
process_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	uint8_t line[SMTP_LINE_MAX_AUTH + 2];
	struct evbuffer_ptr eol;
	size_t eol_len, len, max;

	while (!s->busy && !s->closing) {
		if (s->errors >= s->cfg->smtp_max_errors) {
			log_info("%016llx smtp too-many-errors client=%s",
			    (unsigned long long)s->id, s->peer_text);
			smtp_reply(s, 421, "4.7.0", "%s Too many errors, "
			    "closing", s->cfg->hostname);
			smtp_session_close(s);
			return;
		}
		if (s->discard > 0) {
			/* The octets of a refused BDAT chunk are no commands. */
			len = evbuffer_get_length(in);
			if (len > s->discard)
				len = (size_t)s->discard;
			evbuffer_drain(in, len);
			s->discard -= len;
			if (s->discard > 0)
				return;
			continue;
		}
		if (s->state == SMTP_ST_DATA || s->state == SMTP_ST_BDAT) {
			if (!smtp_data_input(s, in))
				return;
			continue;
		}
		/* The parser checks the exact limit per command. */
		max = s->state == SMTP_ST_AUTH ? SMTP_LINE_MAX_AUTH :
		    SMTP_LINE_MAX_ESMTP;
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			/* No end of line yet: too much is an error now, not
			 * a reason to wait (the buffer would stop reading). */
			if (evbuffer_get_length(in) > max) {
				evbuffer_drain(in, evbuffer_get_length(in));
				if (!s->skip_line)
					smtp_reply(s, 500, "5.5.2",
					    "Line too long");
				s->skip_line = true;
			}
			return;
		}
		len = (size_t)eol.pos;
		if (s->skip_line || len > max) {
			evbuffer_drain(in, len + eol_len);
			if (!s->skip_line)
				smtp_reply(s, 500, "5.5.2", "Line too long");
			s->skip_line = false;
			continue;
		}
		evbuffer_remove(in, line, len + eol_len);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (s->state == SMTP_ST_AUTH)
			smtp_auth_continue(s, line, len);
		else
			smtp_command(s, line, len);
		explicit_bzero(line, len);
	}
}

static void
job_work(void *tctx, void *arg)
{
	struct smtp_job *j = arg;

	j->work(tctx, j->arg);
}

static void
job_done(void *arg)
{
	struct smtp_job *j = arg;
	struct smtp_session *s = j->s;

	/* done always runs: it owns arg. A reply to a closed session is
	 * dropped with the session. */
	s->pending--;
	j->done(s, j->arg);
	free(j);
	maybe_free_later(s);
}

void
smtp_offload(struct smtp_session *s, void (*work)(void *tctx, void *arg),
    void (*done)(struct smtp_session *s, void *arg), void *arg)
{
	struct smtp_job *j = xmalloc(sizeof(*j));

	j->s = s;
	j->work = work;
	j->done = done;
	j->arg = arg;
	s->pending++;
	s->busy = true;
	offload_submit(s->w->offload, job_work, job_done, j);
}
