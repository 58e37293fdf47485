/* unavailable: the placeholder protocol module. It greets with the
 * protocol's own "service not available" line (after the TLS handshake on
 * implicit-TLS listeners) and closes, so a client learns at once, in its
 * own protocol, that the service is not there yet. */
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "lib/log.h"
#include "worker/worker.h"

#define UNAVAILABLE_TIMEOUT_SECS	10

static void	on_write(struct bufferevent *bev, void *arg);
static void	on_event(struct bufferevent *bev, short what, void *arg);
static void	finish(struct bufferevent *bev, struct worker *w);

static void
finish(struct bufferevent *bev, struct worker *w)
{
	bufferevent_free(bev);
	worker_conn_closed(w);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	finish(bev, arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_CONNECTED)
		return;
	finish(bev, arg);
}

void
unavailable_accept(struct worker *w, const struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	const struct service_info *si = &services[l->svc];
	struct bufferevent *bev;
	const char *line;
	SSL *ssl;

	switch (si->proto) {
	case PROTO_IMAP:
		line = "* BYE IMAP is not available on this server yet\r\n";
		break;
	case PROTO_POP3:
		line = "-ERR POP3 is not available on this server yet\r\n";
		break;
	default:
		line = "421 4.3.2 Service not available on this server yet\r\n";
		break;
	}
	if (si->implicit_tls) {
		if ((ssl = SSL_new(w->tls)) == NULL) {
			close(fd);
			worker_conn_closed(w);
			return;
		}
		bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	} else
		bev = bufferevent_socket_new(w->base, fd,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		close(fd);
		worker_conn_closed(w);
		return;
	}
	bufferevent_setcb(bev, NULL, on_write, on_event, w);
	bufferevent_set_timeouts(bev,
	    &(struct timeval){ UNAVAILABLE_TIMEOUT_SECS, 0 },
	    &(struct timeval){ UNAVAILABLE_TIMEOUT_SECS, 0 });
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	bufferevent_write(bev, line, strlen(line));
	log_debug(LOG_CAT_MAIN, "%s connection on %s: not available yet",
	    si->name, l->addr.text);
}
