/* imap-reply: output helpers shared by the command handlers: untagged
 * responses, IMAP strings (quoted when RFC 3501's grammar allows it, else
 * literals), astrings, flag lists, the RFC 5530 response codes for store
 * failures, and reading a mailbox name argument. Everything is written to
 * the session's output buffer; the bufferevent sends it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "imap/flags.h"
#include "imap/imap-private.h"
#include "imap/mutf7.h"
#include "lib/buf.h"
#include "lib/log.h"

#define IMAP_QUOTE_MAX	1024	/* longer strings go as literals */

static bool	quotable(const char *s, size_t len);
static bool	astring_atom(const char *s);

static const struct {
	unsigned	 store;
	unsigned	 imap;
	const char	*name;
} flag_map[] = {
	{ STORE_F_ANSWERED,	IMAP_FLAG_ANSWERED,	"\\Answered" },
	{ STORE_F_FLAGGED,	IMAP_FLAG_FLAGGED,	"\\Flagged" },
	{ STORE_F_DELETED,	IMAP_FLAG_DELETED,	"\\Deleted" },
	{ STORE_F_SEEN,		IMAP_FLAG_SEEN,		"\\Seen" },
	{ STORE_F_DRAFT,	IMAP_FLAG_DRAFT,	"\\Draft" },
	{ STORE_F_RECENT,	IMAP_FLAG_RECENT,	"\\Recent" },
};
#define NFLAGS	(sizeof(flag_map) / sizeof(flag_map[0]))

void
imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	struct evbuffer *out;
	va_list ap;

	if (s->dead)
		return;
	out = imap_output(s);
	evbuffer_add(out, "* ", 2);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* TEXT-CHAR without the need for a literal: 7-bit, no CR, LF or NUL. */
static bool
quotable(const char *s, size_t len)
{
	size_t i;

	if (len > IMAP_QUOTE_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n' ||
		    (unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

void
imap_reply_string(struct evbuffer *out, const char *s, size_t len)
{
	size_t i, start;

	if (s == NULL) {
		evbuffer_add(out, "NIL", 3);
		return;
	}
	if (!quotable(s, len)) {
		evbuffer_add_printf(out, "{%zu}\r\n", len);
		evbuffer_add(out, s, len);
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (i = start = 0; i < len; i++)
		if (s[i] == '"' || s[i] == '\\') {
			evbuffer_add(out, s + start, i - start);
			evbuffer_add(out, "\\", 1);
			start = i;
		}
	evbuffer_add(out, s + start, len - start);
	evbuffer_add(out, "\"", 1);
}

/* ASTRING-CHAR only, and not the word NIL. */
static bool
astring_atom(const char *s)
{
	const char *p;

	if (*s == '\0' || strcasecmp(s, "NIL") == 0)
		return false;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("(){%*\"\\", *p) != NULL)
			return false;
	return true;
}

void
imap_reply_astring(struct evbuffer *out, const char *s)
{
	if (s != NULL && astring_atom(s))
		evbuffer_add(out, s, strlen(s));
	else
		imap_reply_string(out, s, s != NULL ? strlen(s) : 0);
}

void
imap_reply_flags(struct evbuffer *out, unsigned flags, uint64_t keywords,
    struct store_view *v)
{
	const char *const *names = NULL;
	size_t i, n = 0;
	bool first = true;

	evbuffer_add(out, "(", 1);
	for (i = 0; i < NFLAGS; i++)
		if (flags & flag_map[i].store) {
			if (!first)
				evbuffer_add(out, " ", 1);
			evbuffer_add(out, flag_map[i].name,
			    strlen(flag_map[i].name));
			first = false;
		}
	if (keywords != 0 && v != NULL)
		names = store_view_keywords(v, &n);
	for (i = 0; i < n && i < 64; i++)
		if (keywords & ((uint64_t)1 << i)) {
			if (!first)
				evbuffer_add(out, " ", 1);
			evbuffer_add(out, names[i], strlen(names[i]));
			first = false;
		}
	evbuffer_add(out, ")", 1);
}

unsigned
imap_flags_to_store(unsigned imap_flags)
{
	unsigned r = 0;
	size_t i;

	for (i = 0; i < NFLAGS; i++)
		if (imap_flags & flag_map[i].imap)
			r |= flag_map[i].store;
	return r;
}

unsigned
imap_flags_from_store(unsigned store_flags)
{
	unsigned r = 0;
	size_t i;

	for (i = 0; i < NFLAGS; i++)
		if (store_flags & flag_map[i].store)
			r |= flag_map[i].imap;
	return r;
}

const char *
imap_store_code(enum store_result r, bool trycreate)
{
	switch (r) {
	case STORE_OK:
		return "";
	case STORE_NONEXISTENT:
		return trycreate ? "[TRYCREATE]" : "[NONEXISTENT]";
	case STORE_EXISTS:
		return "[ALREADYEXISTS]";
	case STORE_BADNAME:
	case STORE_CANNOT:
		return "[CANNOT]";
	case STORE_LIMIT:
		return "[LIMIT]";
	case STORE_EXPUNGED:
		return "[EXPUNGEISSUE]";
	case STORE_INUSE:
		return "[INUSE]";
	case STORE_RESET:
		return "[UNAVAILABLE]";
	case STORE_TEMPFAIL:
		return "[SERVERBUG]";
	}
	return "[SERVERBUG]";
}

void
imap_done_store(struct imap_session *s, enum store_result r,
    const char *error, bool trycreate)
{
	const char *name = s->cmd != NULL && s->cmd->name != NULL ?
	    s->cmd->name : "?";

	switch (r) {
	case STORE_TEMPFAIL:
		log_warnx("%016llx imap %s failed: user=%s: %s",
		    (unsigned long long)s->id, name,
		    s->user != NULL ? s->user : "-", error);
		imap_done(s, "NO", "[SERVERBUG] Internal error, see the "
		    "server log");
		return;
	case STORE_RESET:
		log_info("%016llx imap mailbox reset user=%s",
		    (unsigned long long)s->id, s->user != NULL ? s->user : "-");
		s->reason = "mailbox-reset";
		imap_bye(s, "Selected mailbox was deleted or changed, "
		    "reconnect");
		imap_done(s, "NO", "[UNAVAILABLE] Mailbox reset");
		return;
	default:
		imap_done(s, "NO", "%s %s", imap_store_code(r, trycreate),
		    error != NULL ? error : "Failed");
		return;
	}
}

int
imap_mailbox_arg(const struct imap_arg *a, char *canon, size_t canonlen,
    const char **error_r)
{
	const char *name;
	struct buf utf8;
	size_t len;
	int r;

	if (!imap_arg_astring(a, &name, &len)) {
		*error_r = "Mailbox name expected";
		return -1;
	}
	if (!store_name_bytes_ok(name, len, error_r))
		return -2;
	/* One mailbox has one name on the wire: canonical modified UTF-7
	 * only (mutf7.h), so no two spellings reach the store. */
	buf_init(&utf8, 4 * STORE_NAME_MAX);
	r = mutf7_decode((const uint8_t *)name, len, &utf8, error_r);
	buf_deinit(&utf8);
	if (r == -1)
		return -2;
	if (!store_name_check(name, canon, canonlen, error_r))
		return -2;
	return 0;
}
