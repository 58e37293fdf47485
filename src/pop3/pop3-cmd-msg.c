/* pop3-cmd-msg: the TRANSACTION commands STAT LIST UIDL DELE RSET (RFC
 * 1939 section 5) and RETR TOP (with UIDL, RFC 1939 section 7).
 *
 * Multi-line responses (LIST, UIDL, RETR, TOP) are streams: the session
 * is held while one is sent, a step at a time while the output stays
 * below POP3_OUTPUT_HIGHWAT, and the rest once it has drained, so a large
 * message or maildrop never sits in memory twice. RETR and TOP send the
 * message with CRLF line ends (store_msg_map(): the octets LIST counts,
 * RFC 1939 section 11), dot-stuffed, and end with CRLF "." CRLF (a CRLF is
 * added first when the message does not end with one). TOP sends the
 * header, the blank line and the first n lines of the body.
 *
 * RETR marks the message for \Seen at QUIT; TOP marks nothing. A message
 * another session expunged after login answers -ERR. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3-private.h"
#include "store/store.h"

#define CHUNK		(64 * 1024)	/* message octets per step */
#define LIST_LINES	256		/* listing lines per step */

enum stream_kind {
	STREAM_LIST,
	STREAM_UIDL,
	STREAM_MSG,		/* RETR, TOP */
};

struct pop3_stream {
	enum stream_kind	 kind;
	uint32_t		 next;		/* LIST, UIDL: next message */
	struct store_msg_data	 d;		/* RETR, TOP */
	size_t			 pos;		/* next octet of d.data */
	size_t			 end;		/* octets of d.data to send */
	bool			 bol;		/* pos starts a line */
};

static void	stream_start(struct pop3_session *s, struct pop3_stream *st);
static void	pump(struct pop3_session *s);
static bool	list_step(struct pop3_session *s, struct pop3_stream *st);
static bool	msg_step(struct pop3_session *s, struct pop3_stream *st);
static size_t	top_end(const uint8_t *data, size_t len, uint32_t lines);
static void	send_msg(struct pop3_session *s, uint32_t msg, bool top,
		    uint32_t lines);

void
pop3_cmd_stat(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_maildrop *md = s->drop;

	pop3_ok(s, "%u %llu", md->count - md->ndeleted,
	    (unsigned long long)(md->octets - md->deleted_octets));
}

void
pop3_cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_maildrop *md = s->drop;
	struct pop3_stream *st;

	if (cmd->msg != 0) {
		if (!pop3_maildrop_valid(md, cmd->msg)) {
			pop3_err(s, "No such message");
			return;
		}
		pop3_ok(s, "%u %u", cmd->msg, md->sizes[cmd->msg - 1]);
		return;
	}
	pop3_ok(s, "%u message%s (%llu octets)", md->count - md->ndeleted,
	    md->count - md->ndeleted == 1 ? "" : "s",
	    (unsigned long long)(md->octets - md->deleted_octets));
	st = xcalloc(1, sizeof(*st));
	st->kind = STREAM_LIST;
	st->next = 1;
	stream_start(s, st);
}

void
pop3_cmd_uidl(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	char uidl[24];
	struct pop3_stream *st;

	if (cmd->msg != 0) {
		if (!pop3_maildrop_valid(s->drop, cmd->msg)) {
			pop3_err(s, "No such message");
			return;
		}
		pop3_maildrop_uidl(s->drop, cmd->msg, uidl, sizeof(uidl));
		pop3_ok(s, "%u %s", cmd->msg, uidl);
		return;
	}
	pop3_ok(s, "Unique-ID listing follows");
	st = xcalloc(1, sizeof(*st));
	st->kind = STREAM_UIDL;
	st->next = 1;
	stream_start(s, st);
}

void
pop3_cmd_dele(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->msg > s->drop->count) {
		pop3_err(s, "No such message");
		return;
	}
	if (!pop3_maildrop_valid(s->drop, cmd->msg)) {
		pop3_err(s, "Message %u already deleted", cmd->msg);
		return;
	}
	pop3_maildrop_mark(s->drop, cmd->msg);
	pop3_ok(s, "Message %u deleted", cmd->msg);
}

void
pop3_cmd_rset(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_maildrop *md = s->drop;

	pop3_maildrop_reset(s->drop);
	pop3_ok(s, "Maildrop has %u message%s (%llu octets)", md->count,
	    md->count == 1 ? "" : "s", (unsigned long long)md->octets);
}

void
pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	send_msg(s, cmd->msg, false, 0);
}

void
pop3_cmd_top(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	send_msg(s, cmd->msg, true, cmd->lines);
}

static void
send_msg(struct pop3_session *s, uint32_t msg, bool top, uint32_t lines)
{
	struct pop3_stream *st;
	enum store_result r;
	const char *error;

	if (!pop3_maildrop_valid(s->drop, msg)) {
		pop3_err(s, "No such message");
		return;
	}
	st = xcalloc(1, sizeof(*st));
	st->kind = STREAM_MSG;
	if ((r = store_msg_map(s->drop->view, msg, &st->d, &error)) !=
	    STORE_OK) {
		free(st);
		switch (r) {
		case STORE_EXPUNGED:
			pop3_err(s, "Message %u was removed by another "
			    "session", msg);
			break;
		case STORE_LIMIT:
			pop3_err(s, "[SYS/PERM] Message %u is too large to "
			    "retrieve", msg);
			break;
		default:
			log_warnx("%016llx pop3 user=%s message %u: %s",
			    (unsigned long long)s->id, s->user, msg, error);
			pop3_err(s, "[SYS/TEMP] Cannot read message %u", msg);
			break;
		}
		return;
	}
	st->bol = true;
	if (top) {
		st->end = top_end(st->d.data, st->d.len, lines);
		pop3_ok(s, "Top of message %u follows", msg);
	} else {
		st->end = st->d.len;
		pop3_maildrop_retrieved(s->drop, msg);
		s->stats.retrieved++;
		pop3_ok(s, "%zu octets", st->d.len);
	}
	stream_start(s, st);
}

/* The header, its blank line, and lines lines of the body. */
static size_t
top_end(const uint8_t *data, size_t len, uint32_t lines)
{
	const uint8_t *p;
	size_t pos;

	if (len >= 2 && data[0] == '\r' && data[1] == '\n')
		pos = 2;
	else if ((p = memmem(data, len, "\r\n\r\n", 4)) != NULL)
		pos = (size_t)(p - data) + 4;
	else
		return len;
	for (; lines > 0 && pos < len; lines--) {
		p = memchr(data + pos, '\n', len - pos);
		pos = p != NULL ? (size_t)(p - data) + 1 : len;
	}
	return pos;
}

/*
 * Streams.
 */

static void
stream_start(struct pop3_session *s, struct pop3_stream *st)
{
	ASSERT(s->stream == NULL);
	s->stream = st;
	pop3_hold(s);
	pump(s);
}

void
pop3_stream_free(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;

	if (st == NULL)
		return;
	s->stream = NULL;
	if (st->kind == STREAM_MSG)
		store_msg_release(&st->d);
	free(st);
}

static void
pump(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;
	bool more = true;

	/* A client that reads a long response slowly is not idle. */
	pop3_session_set_timeout(s);
	while (more && !pop3_output_full(s))
		more = st->kind == STREAM_MSG ? msg_step(s, st) :
		    list_step(s, st);
	if (more) {
		pop3_output_wait(s, pump);
		return;
	}
	evbuffer_add(pop3_output(s), ".\r\n", 3);
	pop3_stream_free(s);
	pop3_resume(s);
}

/* Up to LIST_LINES lines of LIST or UIDL; false when the last is out. */
static bool
list_step(struct pop3_session *s, struct pop3_stream *st)
{
	struct pop3_maildrop *md = s->drop;
	struct evbuffer *out = pop3_output(s);
	char uidl[24];
	unsigned k;

	for (k = 0; k < LIST_LINES && st->next <= md->count; st->next++) {
		if (!pop3_maildrop_valid(md, st->next))
			continue;
		if (st->kind == STREAM_LIST)
			evbuffer_add_printf(out, "%u %u\r\n", st->next,
			    md->sizes[st->next - 1]);
		else {
			pop3_maildrop_uidl(md, st->next, uidl, sizeof(uidl));
			evbuffer_add_printf(out, "%u %s\r\n", st->next, uidl);
		}
		k++;
	}
	return st->next <= md->count;
}

/* Up to CHUNK octets of the message, dot-stuffed: a line that starts
 * with "." gets another one in front. False when all is out. */
static bool
msg_step(struct pop3_session *s, struct pop3_stream *st)
{
	struct evbuffer *out = pop3_output(s);
	const uint8_t *data = st->d.data, *p;
	size_t lim, n;

	if (st->pos == st->end) {
		if (st->end == 0 || data[st->end - 1] != '\n')
			evbuffer_add(out, "\r\n", 2);
		return false;
	}
	if (st->bol && data[st->pos] == '.')
		evbuffer_add(out, ".", 1);
	lim = st->end - st->pos < CHUNK ? st->end - st->pos : CHUNK;
	/* Up to and with the LF of the next line that starts with ".". */
	p = memmem(data + st->pos, lim, "\n.", 2);
	n = p != NULL ? (size_t)(p - (data + st->pos)) + 1 : lim;
	evbuffer_add(out, data + st->pos, n);
	st->pos += n;
	st->bol = data[st->pos - 1] == '\n';
	return true;
}
