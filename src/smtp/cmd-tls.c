/* cmd-tls: STARTTLS (RFC 3207). After "220 Ready to start TLS" every byte
 * the client pipelined behind STARTTLS is discarded (CVE-2011-0411: such
 * bytes would otherwise run as if they came over TLS), the session forgets
 * what it knew (EHLO, AUTH), and the TLS filter takes over the socket. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "smtp/smtp-private.h"

void
smtp_tls_start(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct bufferevent *tls_bev;
	SSL *ssl;

	if ((ssl = SSL_new(s->w->tls)) == NULL) {
		smtp_reply(s, 454, "4.7.0", "TLS not available due to "
		    "temporary reason");
		return;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	evbuffer_drain(in, evbuffer_get_length(in));
	/* The 220 is already queued on the plain socket below the filter. */
	tls_bev = bufferevent_openssl_filter_new(s->w->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls_bev == NULL) {
		smtp_session_close(s);
		return;
	}
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	s->bev = tls_bev;
	s->tls = true;
	s->auth_user = NULL;
	s->state = SMTP_ST_GREET;
	s->esmtp = false;
	s->helo = NULL;
	smtp_tx_free(s);
	bufferevent_setwatermark(tls_bev, EV_READ, 0, SMTP_INPUT_HIGHWAT);
	smtp_session_set_timeout(s, false);
	smtp_session_setcb(s);
	bufferevent_enable(tls_bev, EV_READ | EV_WRITE);
}
