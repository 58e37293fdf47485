/* reply: formatting SMTP replies. Every reply carries an enhanced status
 * code (RFC 2034/3463) when the session offers ENHANCEDSTATUSCODES, which
 * postie always does; multi-line replies use "code-" continuation lines.
 * Replies go to the output buffer and the bufferevent flushes them, so
 * pipelined replies leave in as few packets as the kernel likes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/log.h"
#include "smtp/smtp-private.h"

#define SMTP_REPLY_MAX	512

void
smtp_reply(struct smtp_session *s, int code, const char *enh,
    const char *fmt, ...)
{
	char text[SMTP_REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Text never holds a line break: it would forge a reply. */
	text[strcspn(text, "\r\n")] = '\0';
	if (enh != NULL)
		evbuffer_add_printf(bufferevent_get_output(s->bev),
		    "%03d %s %s\r\n", code, enh, text);
	else
		evbuffer_add_printf(bufferevent_get_output(s->bev),
		    "%03d %s\r\n", code, text);
	if (code >= 500 && code != 535)
		s->errors++;
	log_debug(LOG_CAT_SMTP, "%016llx smtp reply %03d %s %s",
	    (unsigned long long)s->id, code, enh != NULL ? enh : "", text);
}

void
smtp_reply_lines(struct smtp_session *s, int code, const char *const *lines,
    size_t n)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	size_t i;

	for (i = 0; i < n; i++)
		evbuffer_add_printf(out, "%03d%c%s\r\n", code,
		    i + 1 < n ? '-' : ' ', lines[i]);
}
