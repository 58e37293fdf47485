/* bounce: the delivery status notification made from a message's bounce
 * log (bounce-log.c): an RFC 6522 multipart/report holding a human
 * explanation, an RFC 3464 message/delivery-status and the returned
 * message (RFC 6533 global types when the original was SMTPUTF8). See
 * bounce.h.
 *
 * Called by the queue manager, on an offload thread (everything here
 * blocks).
 *
 * Limits:
 *   - every entry is checked (status, action, recipient index within the
 *     envelope) before anything is written;
 *   - in the DSN every value is cut at DSN_VALUE_MAX octets so that every
 *     line stays under 998 octets, and everything but the returned message
 *     (and the addresses of an SMTPUTF8 message) is us-ascii;
 *   - the returned message is copied in READ_CHUNK pieces, never read whole.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/bounce.h"
#include "queue/bounce-private.h"
#include "queue/queue.h"

#define DSN_VALUE_MAX		900
#define DSN_PUT_MAX		1024	/* one put(): a line or two */
#define DSN_FLUSH		(32 * 1024)
#define DSN_WRAP		72
#define DSN_BOUNDARY_HOST	40	/* keeps the boundary under 70 */
#define READ_CHUNK		65536

/* One DSN being written. */
struct dsn {
	const struct config	*cfg;
	const struct envelope	*env;	/* the original's */
	/* borrowed from the caller */
	const struct bounce_entry *entries;
	size_t			 n;
	/* to the postmaster, every entry reported */
	bool			 double_bounce;
	bool			 global;	/* RFC 6533 types */
	bool			 full;	/* whole message, else header */
	const char		*cte;	/* of the returned message */
	/* reported entries per action */
	size_t			 count[BOUNCE_NACTIONS];
	char			 host[256];	/* hostname, cleaned */
	char			 boundary[80];
	struct queue_file	*qf;
	struct buf		 out;	/* not yet given to qf */
	struct buf		 v1, v2;	/* cleaned values */
};

static bool	 notify_has(const char *notify, const char *what);
static bool	 reported(const struct dsn *d, const struct bounce_entry *e);
static void	 clean_host(char *dst, size_t size, const char *src,
		    size_t max);
static void	 put(struct dsn *d, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 put_raw(struct dsn *d, const void *data, size_t len);
static void	 flush(struct dsn *d);
static const char *val(struct buf *b, const char *s, bool utf8);
static const char *val_addr(struct buf *b, const char *addr, bool global,
		    const char **type_r);
static void	 put_wrapped(struct dsn *d, const char *s);
static void	 put_headers(struct dsn *d, const char *to, const char *id);
static void	 put_human(struct dsn *d);
static void	 put_status(struct dsn *d);
static void	 put_rcpt_fields(struct dsn *d,
		    const struct bounce_entry *e);
static int	 put_returned(struct dsn *d, int fd, const char **error_r);

static bool
notify_has(const char *notify, const char *what)
{
	const char *p = notify, *end;
	size_t len = strlen(what);
	bool found = false;

	while (*p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		for (end = p; *end != '\0' && *end != ',' && *end != ' '; end++)
			;
		if ((size_t)(end - p) == 5 && strncasecmp(p, "NEVER", 5) == 0)
			return false;
		if ((size_t)(end - p) == len && strncasecmp(p, what, len) == 0)
			found = true;
		p = end;
	}
	return found;
}

static bool
reported(const struct dsn *d, const struct bounce_entry *e)
{
	static const char *const notify_word[BOUNCE_NACTIONS] = {
		[BOUNCE_FAILED] = "FAILURE",
		[BOUNCE_DELAYED] = "DELAY",
		[BOUNCE_DELIVERED] = "SUCCESS",
		[BOUNCE_RELAYED] = "SUCCESS",
	};
	const char *notify = d->env->rcpts[e->rcpt].notify;

	if (d->double_bounce)
		return true;	/* the postmaster hears everything */
	if (notify == NULL)		/* RFC 3461: FAILURE,DELAY */
		return e->action == BOUNCE_FAILED ||
		    e->action == BOUNCE_DELAYED;
	return notify_has(notify, notify_word[e->action]);
}
/* A host name for Message-ID, From and the boundary: letters, digits,
 * dots and hyphens only, at most max octets. */
static void
clean_host(char *dst, size_t size, const char *src, size_t max)
{
	size_t i;
	char c;

	if (src == NULL || *src == '\0')
		src = "localhost";
	/* UNSAFE: i + 1 < size keeps both stores in dst. */
	for (i = 0; src[i] != '\0' && i < max && i + 1 < size; i++) {
		c = src[i];
		dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ? c : '-';
	}
	dst[i] = '\0';
}

static void
flush(struct dsn *d)
{
	if (d->out.len == 0)
		return;
	/* A failed write sets the queue file's error; the commit reports
	 * it, so later writes may be skipped silently. */
	if (queue_file_write(d->qf, d->out.data, d->out.len) == -1) {
		/* nothing: queue_file_commit() returns the reason */
	}
	buf_reset(&d->out);
}

static void
put(struct dsn *d, const char *fmt, ...)
{
	char text[DSN_PUT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Values are cut at DSN_VALUE_MAX: a longer line is our bug. */
	if (n < 0 || (size_t)n >= sizeof(text))
		panic("DSN line too long");
	if (buf_append(&d->out, text, (size_t)n) == -1)
		panic("DSN output buffer overflow");
	if (d->out.len >= DSN_FLUSH)
		flush(d);
}

static void
put_raw(struct dsn *d, const void *data, size_t len)
{
	flush(d);
	if (queue_file_write(d->qf, data, len) == -1) {
		/* nothing: queue_file_commit() returns the reason */
	}
}

/* s as one line of at most DSN_VALUE_MAX octets: control characters
 * become spaces and, unless utf8, other octets above 0x7e '?'. */
static const char *
val(struct buf *b, const char *s, bool utf8)
{
	unsigned char c;

	buf_reset(b);
	for (; s != NULL && *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c > 0x7f && !utf8)
			c = '?';
		if (buf_append(b, &c, 1) == -1)
			break;		/* cut at max */
	}
	return buf_cstr(b);
}

/* An address and its type for Final-Recipient: "rfc822", or for a
 * non-ASCII address of an SMTPUTF8 message "utf-8", the address a
 * utf-8-addr-unitext (RFC 6533 section 3): UTF-8 kept, ASCII outside
 * QUCHAR as \x{HEX}. */
static const char *
val_addr(struct buf *b, const char *addr, bool global, const char **type_r)
{
	const unsigned char *p;
	char esc[16];
	bool ascii = true;
	int n;

	for (p = (const unsigned char *)addr; *p != '\0'; p++)
		if (*p > 0x7f)
			ascii = false;
	*type_r = "rfc822";
	if (ascii || !global)
		return val(b, addr, false);
	*type_r = "utf-8";
	buf_reset(b);
	for (p = (const unsigned char *)addr; *p != '\0'; p++) {
		if ((*p > 0x20 && *p < 0x7f && *p != '+' && *p != '=' &&
		    *p != '\\') || *p > 0x7f)
			n = snprintf(esc, sizeof(esc), "%c", *p);
		else
			n = snprintf(esc, sizeof(esc), "\\x{%02X}", *p);
		if (buf_append(b, esc, (size_t)n) == -1)
			break;		/* cut at max */
	}
	return buf_cstr(b);
}

/* Human text, folded at spaces to DSN_WRAP columns; continuation lines
 * are indented. A word longer than a line is cut (not inside a UTF-8
 * sequence). */
static void
put_wrapped(struct dsn *d, const char *s)
{
	size_t width, take, len;
	const char *indent = "";

	while (*s == ' ')
		s++;
	while (*s != '\0') {
		width = *indent == '\0' ? DSN_WRAP : DSN_WRAP - 4;
		len = strlen(s);
		take = len;
		if (len > width) {
			for (take = width; take > 0 && s[take] != ' '; take--)
				;
			if (take == 0) {
				take = width;
				while (take > 1 &&
				    ((unsigned char)s[take] & 0xc0) == 0x80)
					take--;
			}
		}
		put(d, "%s%.*s\r\n", indent, (int)take, s);
		s += take;
		while (*s == ' ')
			s++;
		indent = "    ";
	}
}

static void
put_headers(struct dsn *d, const char *to, const char *id)
{
	char date[64];
	uint64_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	date_rfc5322(time(NULL), date, sizeof(date));
	put(d, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", d->host);
	put(d, "To: %s\r\n", val(&d->v1, to, d->global));
	put(d, "Subject: %s\r\n", d->count[BOUNCE_FAILED] > 0 ?
	    "Undelivered Mail Returned to Sender" :
	    d->count[BOUNCE_DELAYED] > 0 ?
	    "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report");
	put(d, "Date: %s\r\n", date);
	put(d, "Message-ID: <%s.%016llX@%s>\r\n", id,
	    (unsigned long long)rnd, d->host);
	put(d, "Auto-Submitted: auto-replied\r\n");
	put(d, "MIME-Version: 1.0\r\n");
	put(d, "Content-Type: multipart/report; report-type=%s;\r\n"
	    "\tboundary=\"%s\"\r\n",
	    d->global ? "global-delivery-status" : "delivery-status",
	    d->boundary);
	if (strcmp(d->cte, "7bit") != 0)
		put(d, "Content-Transfer-Encoding: %s\r\n", d->cte);
	put(d, "\r\n");
	put(d, "This is a MIME-encapsulated message.\r\n");
}

static void
put_human(struct dsn *d)
{
	static const char *const heading[BOUNCE_NACTIONS] = {
		[BOUNCE_FAILED] = "Could not be delivered to:",
		[BOUNCE_DELAYED] = "Not delivered yet to:",
		[BOUNCE_DELIVERED] = "Delivered to:",
		[BOUNCE_RELAYED] = "Relayed to a server without delivery notices:",
	};
	const struct bounce_entry *e;
	char until[64], line[2 * DSN_VALUE_MAX + 8];
	size_t a, i;

	put(d, "\r\n--%s\r\n", d->boundary);
	put(d, "Content-Description: Notification\r\n");
	put(d, "Content-Type: text/plain; charset=%s\r\n\r\n",
	    d->global ? "utf-8" : "us-ascii");
	put(d, "This is the mail system at host %s.\r\n\r\n", d->host);
	if (d->double_bounce)
		put(d, "A message with a null sender (most likely a delivery "
		    "notice itself)\r\n"
		    "could not be delivered as reported below. There is no "
		    "sender to\r\n"
		    "return it to, so this report goes to the postmaster.\r\n");
	else if (d->count[BOUNCE_FAILED] > 0)
		put(d, "Your message could not be delivered to one or more "
		    "of its recipients.\r\n"
		    "The mail system has given up on them; the reason for "
		    "each is below.\r\n\r\n"
		    "If you need help, write to the postmaster of this host "
		    "and include\r\nthis report.\r\n");
	else if (d->count[BOUNCE_DELAYED] > 0)
		put(d, "Your message has not been delivered yet to one or "
		    "more of its\r\n"
		    "recipients. The mail system keeps trying; there is no "
		    "need to send\r\nthe message again.\r\n");
	else
		put(d, "Your message was delivered to the recipients listed "
		    "below; this report\r\n"
		    "was asked for when the message was sent.\r\n");
	put(d, "\r\n%24sThe mail system\r\n", "");
	date_rfc5322(d->env->arrival +
	    (time_t)d->cfg->maximal_queue_lifetime, until, sizeof(until));
	for (a = 0; a < BOUNCE_NACTIONS; a++) {
		if (d->count[a] == 0)
			continue;
		put(d, "\r\n%s\r\n", heading[a]);
		if (a == BOUNCE_DELAYED)
			put(d, "(the mail system keeps trying until %s)\r\n",
			    until);
		for (i = 0; i < d->n; i++) {
			e = &d->entries[i];
			if ((size_t)e->action != a || !reported(d, e))
				continue;
			val(&d->v1, d->env->rcpts[e->rcpt].address, d->global);
			val(&d->v2, e->text, false);
			/* Both at most DSN_VALUE_MAX: the join fits. */
			snprintf(line, sizeof(line), "<%s>: %s",
			    buf_cstr(&d->v1), *buf_cstr(&d->v2) != '\0' ?
			    buf_cstr(&d->v2) : "(no details)");
			put(d, "\r\n");
			put_wrapped(d, line);
		}
	}
}

static void
put_status(struct dsn *d)
{
	char date[64];
	size_t i;

	put(d, "\r\n--%s\r\n", d->boundary);
	put(d, "Content-Description: Delivery report\r\n");
	put(d, "Content-Type: %s\r\n\r\n", d->global ?
	    "message/global-delivery-status" : "message/delivery-status");
	put(d, "Reporting-MTA: dns; %s\r\n", d->host);
	put(d, "X-Postie-Queue-ID: %s\r\n", val(&d->v1, d->env->id, false));
	if (d->env->envid != NULL)
		put(d, "Original-Envelope-Id: %s\r\n",
		    val(&d->v1, d->env->envid, false));
	date_rfc5322(d->env->arrival, date, sizeof(date));
	put(d, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < d->n; i++)
		if (reported(d, &d->entries[i]))
			put_rcpt_fields(d, &d->entries[i]);
}

static void
put_rcpt_fields(struct dsn *d, const struct bounce_entry *e)
{
	const struct envelope_rcpt *r = &d->env->rcpts[e->rcpt];
	const char *semi, *p, *text, *type;
	char date[64];
	size_t tlen;

	put(d, "\r\n");
	text = val_addr(&d->v1, r->address, d->global, &type);
	put(d, "Final-Recipient: %s; %s\r\n", type, text);
	/* Stored as "type;value" (value xtext-decoded). */
	if (r->orcpt != NULL && (semi = strchr(r->orcpt, ';')) != NULL) {
		tlen = (size_t)(semi - r->orcpt);
		for (p = r->orcpt; p < semi && ((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-'); p++)
			;
		if (p == semi && tlen > 0 && tlen <= 32)
			put(d, "Original-Recipient: %.*s; %s\r\n", (int)tlen,
			    r->orcpt, val(&d->v1, semi + 1, d->global));
	}
	put(d, "Action: %s\r\n", bounce__action_names[e->action]);
	put(d, "Status: %s\r\n", e->status);
	text = val(&d->v1, e->text, false);
	if (*text != '\0')
		put(d, "Diagnostic-Code: %s; %s\r\n", text[0] >= '0' &&
		    text[0] <= '9' && text[1] >= '0' && text[1] <= '9' &&
		    text[2] >= '0' && text[2] <= '9' && text[3] == ' ' ?
		    "smtp" : "x-postie", text);
	if (e->action == BOUNCE_DELAYED) {
		date_rfc5322(d->env->arrival +
		    (time_t)d->cfg->maximal_queue_lifetime, date, sizeof(date));
		put(d, "Will-Retry-Until: %s\r\n", date);
	}
}

/* The original from msg_fd: all of it, or its header section up to and
 * including the empty line. Copied a chunk at a time. */
static int
put_returned(struct dsn *d, int fd, const char **error_r)
{
	uint8_t chunk[READ_CHUNK];
	uint64_t done = 0, size = d->env->content_size;
	size_t want, take, i;
	ssize_t n;
	bool text_on_line = false;

	put(d, "\r\n--%s\r\n", d->boundary);
	put(d, "Content-Description: %s Message%s\r\n",
	    d->count[BOUNCE_FAILED] > 0 ? "Undelivered" :
	    d->count[BOUNCE_DELAYED] > 0 ? "Delayed" : "Delivered",
	    d->full ? "" : " Headers");
	put(d, "Content-Type: %s\r\n", d->full ?
	    (d->global ? "message/global" : "message/rfc822") :
	    (d->global ? "message/global-headers" : "text/rfc822-headers"));
	if (strcmp(d->cte, "7bit") != 0)
		put(d, "Content-Transfer-Encoding: %s\r\n", d->cte);
	put(d, "\r\n");
	while (done < size) {
		want = size - done < sizeof(chunk) ? (size_t)(size - done) :
		    sizeof(chunk);
		n = pread(fd, chunk, want, d->env->content_offset +
		    (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ?
			    "queue file shorter than its envelope says" :
			    strerror(errno);
			return -1;
		}
		take = (size_t)n;
		if (!d->full) {
			/* The header ends at the first empty line (a bare
			 * LF is tolerated). */
			for (i = 0; i < take; i++) {
				if (chunk[i] == '\n') {
					if (!text_on_line)
						break;
					text_on_line = false;
				} else if (chunk[i] != '\r')
					text_on_line = true;
			}
			if (i < take) {
				put_raw(d, chunk, i + 1);
				return 0;
			}
		}
		put_raw(d, chunk, take);
		done += take;
	}
	return 0;
}

int
bounce_send(const struct config *cfg, const char *queue_dir,
    const struct envelope *env, int msg_fd,
    const struct bounce_entry *entries, size_t n, char *id_r,
    const char **error_r)
{
	struct queue_envelope qenv = { 0 };
	struct queue_rcpt qrcpt = { 0 };
	struct dsn d = { 0 };
	char *postmaster = NULL, id[QUEUE_ID_LEN + 1];
	uint32_t rnd;
	size_t i;
	int rc = -1;

	id_r[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!bounce__valid_entry(&entries[i]) ||
		    entries[i].rcpt >= env->nrcpts) {
			*error_r = "invalid bounce entry";
			return -1;
		}
	}
	if (env->kind != NULL && strcmp(env->kind, "2bounce") == 0) {
		if (n > 0)
			log_info("%s dsn=none reason=\"failed double bounce, "
			    "dropped\"", env->id);
		return 0;
	}
	d.cfg = cfg;
	d.env = env;
	d.entries = entries;
	d.n = n;
	d.double_bounce = *env->sender == '\0';
	d.global = env->smtputf8;
	for (i = 0; i < n; i++)
		if (reported(&d, &entries[i]))
			d.count[entries[i].action]++;
	if (d.count[BOUNCE_FAILED] + d.count[BOUNCE_DELAYED] +
	    d.count[BOUNCE_DELIVERED] + d.count[BOUNCE_RELAYED] == 0)
		return 0;

	/* RFC 3461 section 4.3: RET is for failure reports; any other
	 * returns the header only. */
	if (d.count[BOUNCE_FAILED] == 0)
		d.full = false;
	else if (env->ret != NULL && strcasecmp(env->ret, "FULL") == 0)
		d.full = true;
	else if (env->ret != NULL && strcasecmp(env->ret, "HDRS") == 0)
		d.full = false;
	else
		d.full = env->content_size <= cfg->bounce_size_limit;
	if (d.full && env->body != NULL &&
	    strcasecmp(env->body, "BINARYMIME") == 0)
		d.cte = "binary";
	else if (env->smtputf8 || (d.full && env->body != NULL &&
	    strcasecmp(env->body, "8BITMIME") == 0))
		d.cte = "8bit";
	else
		d.cte = "7bit";
	clean_host(d.host, sizeof(d.host), cfg->hostname, 253);

	qrcpt.address = env->sender;
	if (d.double_bounce) {
		if (cfg->postmaster_address != NULL &&
		    *cfg->postmaster_address != '\0')
			qrcpt.address = cfg->postmaster_address;
		else
			qrcpt.address = postmaster =
			    xasprintf("postmaster@%s", d.host);
	}
	qenv.sender = "";
	qenv.rcpts = &qrcpt;
	qenv.nrcpts = 1;
	qenv.body = strcmp(d.cte, "binary") == 0 ? "BINARYMIME" :
	    strcmp(d.cte, "8bit") == 0 ? "8BITMIME" : "7BIT";
	qenv.smtputf8 = env->smtputf8;
	qenv.client = "localhost";
	qenv.protocol = "LOCAL";
	qenv.kind = d.double_bounce ? "2bounce" : "bounce";
	if (queue_file_create(queue_dir, &qenv, &d.qf, error_r) == -1)
		goto out;
	snprintf(id, sizeof(id), "%s", queue_file_id(d.qf));

	/* The new ID and 32 random bits: no returned message can guess it
	 * (RFC 2046 section 5.1.1: at most 70 characters). */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	snprintf(d.boundary, sizeof(d.boundary), "%s.%08X/", id, rnd);
	/* UNSAFE: 26 octets written, clean_host() gets the room left. */
	clean_host(d.boundary + strlen(d.boundary),
	    sizeof(d.boundary) - strlen(d.boundary), d.host,
	    DSN_BOUNDARY_HOST);
	buf_init(&d.out, DSN_FLUSH + DSN_PUT_MAX);
	buf_init(&d.v1, DSN_VALUE_MAX);
	buf_init(&d.v2, DSN_VALUE_MAX);

	put_headers(&d, qrcpt.address, id);
	put_human(&d);
	put_status(&d);
	if (put_returned(&d, msg_fd, error_r) == -1) {
		queue_file_abort(&d.qf);
		goto out;
	}
	put(&d, "\r\n--%s--\r\n", d.boundary);
	flush(&d);
	if (queue_file_commit(&d.qf, error_r) == -1)
		goto out;
	snprintf(id_r, QUEUE_ID_LEN + 1, "%s", id);
	rc = 0;
out:
	buf_deinit(&d.out);
	buf_deinit(&d.v1);
	buf_deinit(&d.v2);
	free(postmaster);
	return rc;
}
