/* imap-cmd-fetch: FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8, 7.4.2).
 *
 * The item list becomes a plan once (imap-fetch-plan.c); then each
 * message gets only what the plan needs: FLAGS and UID from the view,
 * RFC822.SIZE and INTERNALDATE from the store's index (no file is opened
 * for them when the index knows them), the mapped message (CRLF, from
 * store_msg_map) for sections, only its header (store_msg_map_header)
 * for ENVELOPE and HEADER sections, and its MIME tree, parsed
 * once per message, for BODY, BODYSTRUCTURE and numbered sections.
 * When every header item is ENVELOPE or HEADER.FIELDS of fields the
 * header digest keeps (imap-hdigest.c), the header comes from the
 * store's in-memory digest, made from the file the first time.
 *
 * Output: one "* n FETCH (...)" per message, written to the session's
 * output; a message's response is built in a scratch evbuffer when an
 * item may fail (ENVELOPE, BODY[STRUCTURE] over FETCH_STRUCT_MAX), so a
 * failure never leaves half a response. Literals of FETCH_REF_MIN octets
 * or more are not copied: the output refers to the mapping, which is
 * released when the last reference has been written. Between messages,
 * when the client lags (imap_output_full()), the command waits for the
 * output to drain (imap_output_wait()) and goes on from there; nothing
 * but the command's pool is held while it waits.
 *
 * \Seen: a non-peek section sets \Seen on a read-write mailbox, for all
 * the messages of the command in one store call before the first
 * response; a message whose flags this changed gets FLAGS in its
 * response (RFC 3501 6.4.5) even when the client did not ask for it.
 *
 * Expunged messages (gone while the view still numbers them; RFC 2180
 * 4.1, RFC 5530): the store keeps nothing of them, not even their flags,
 * so they get no response. FETCH then ends with NO [EXPUNGEISSUE], as
 * Dovecot does; UID FETCH ends OK, since the EXPUNGE responses come
 * before its tagged reply. A message above STORE_MESSAGE_MAX is skipped
 * the same way, with NO [LIMIT]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "imap/imap-date.h"
#include "imap/imap-fetch.h"
#include "imap/imap-hdigest.h"
#include "imap/imap-private.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "mail/header.h"
#include "mail/mime.h"

#define FETCH_REF_MIN		(16 * 1024)	/* literals sent from the
						   mapping, not copied */
#define FETCH_STRUCT_MAX	(32 * 1024 * 1024) /* ENVELOPE, BODY... */

/* A digest is never referred to by the output: it may go meanwhile. */
_Static_assert(IMAP_HDIGEST_MAX < FETCH_REF_MIN, "digests are copied");

/* The state of one FETCH command, in its pool. */
struct fetch {
	struct imap_session		*s;
	const struct imap_fetch_plan	*plan;
	struct store_range		*ranges;
	size_t				 nranges;
	size_t				 ri;	/* next: ranges[ri], seq */
	uint32_t			 seq;
	struct store_range		*seen;	/* messages given \Seen */
	size_t				 nseen;
	size_t				 seen_i;
	bool				 expunged;	/* a message skipped */
	bool				 limit;
	bool				 digest;	/* headers from the
							   digests */
	/* BODY and BODYSTRUCTURE are the only reasons to read messages
	 * whole: a message with both digests is not read. */
	bool				 struct_digest;
	bool				 want_body;
	bool				 want_bs;
};

/* A mapped message, shared by the literals that refer to it. */
struct fetch_content {
	struct store_msg_data	 d;
	unsigned		 refs;
};

/* One message while its response is built. */
struct fetch_msg {
	uint32_t		 seq;
	struct store_msg_info	 info;
	uint64_t		 size;
	time_t			 date;
	struct fetch_content	*c;	/* NEED_CONTENT */
	struct pool		*pool;	/* NEED_CONTENT: tree, fields */
	const struct mime_part	*root;	/* the tree, or top */
	struct mime_part	 top;	/* header and body, without a tree */
	bool			 flags_changed;
	bool			 structs_cached; /* BODY[STRUCTURE] digests */
	/* Digests made for this response, saved when it is complete: the
	 * store may move the others (m->c can be one) when one is saved. */
	const char		*made[STORE_DIGEST_KINDS];
	size_t			 made_len[STORE_DIGEST_KINDS];
};

static void	plan_digests(struct fetch *f);
static bool	structs_cached(struct fetch *f, uint32_t seq);
static enum store_result msg_load_needs(struct fetch *f, struct fetch_msg *m,
		    unsigned needs, const char **error_r);
static enum store_result map_header(struct fetch *f, uint32_t seq,
		    struct store_msg_data *d, const char **error_r);
static void	content_unref(struct fetch_content *c);
static void	content_ref_done(const void *data, size_t len, void *arg);
static int	set_seen(struct fetch *f);
static bool	seen_changed(struct fetch *f, uint32_t seq);
static enum store_result msg_load(struct fetch *f, struct fetch_msg *m,
		    const char **error_r);
static void	msg_release(struct fetch_msg *m);
static void	write_literal(struct evbuffer *out, struct fetch_msg *m,
		    const char *data, size_t len, bool in_msg);
static int	write_struct(struct fetch *f, struct evbuffer *out,
		    struct fetch_msg *m,
		    const struct imap_fetch_item *it);
static void	save_made(struct fetch *f, struct fetch_msg *m);
static int	write_item(struct fetch *f, struct evbuffer *out,
		    struct fetch_msg *m, const struct imap_fetch_item *it);
static int	fetch_one(struct fetch *f, uint32_t seq,
		    enum store_result *res_r, const char **error_r);
static void	fetch_run(struct fetch *f);
static void	fetch_resume(struct imap_session *s);

static void
content_unref(struct fetch_content *c)
{
	ASSERT(c->refs > 0);
	if (--c->refs > 0)
		return;
	store_msg_release(&c->d);
	free(c);
}

/* The output has written (or dropped) a literal that referred to c. */
static void
content_ref_done(const void *data, size_t len, void *arg)
{
	content_unref(arg);
}

/* What the digests can spare this command: the header of every message
 * (when every item that reads it can read the header digest instead),
 * and reading messages whole (when only BODY and BODYSTRUCTURE need
 * them, for a message with both digests at hand). */
static void
plan_digests(struct fetch *f)
{
	const struct imap_fetch_plan *p = f->plan;
	const struct imap_fetch_item *it;
	bool whole = false, headers = true;
	size_t i;

	for (i = 0; i < p->n; i++) {
		it = &p->items[i];
		if (it->kind == IMAP_FETCH_BODY)
			f->want_body = true;
		else if (it->kind == IMAP_FETCH_BODYSTRUCTURE)
			f->want_bs = true;
		else if (it->kind == IMAP_FETCH_SECTION) {
			whole |= !imap_fetch_section_header_only(&it->sec);
			headers &= imap_hdigest_serves_section(&it->sec);
		}
	}
	f->digest = (p->needs & IMAP_FETCH_NEED_HEADER) && headers;
	f->struct_digest = (f->want_body || f->want_bs) && !whole;
}

static bool
structs_cached(struct fetch *f, uint32_t seq)
{
	struct store_view *v = f->s->view;
	const char *data;
	size_t len;

	return (!f->want_body || store_msg_digest(v, seq, IMAP_DIGEST_BODY,
	    &data, &len)) && (!f->want_bs || store_msg_digest(v, seq,
	    IMAP_DIGEST_BODYSTRUCTURE, &data, &len));
}

/* The header of seq: its digest when the command can use one (made from
 * the file and kept when missing), else the header section itself. */
static enum store_result
map_header(struct fetch *f, uint32_t seq, struct store_msg_data *d,
    const char **error_r)
{
	struct store_view *v = f->s->view;
	enum store_result r;

	if (f->digest && imap_hdigest_load(v, seq, d))
		return STORE_OK;
	r = store_msg_map_header(v, seq, d, error_r);
	if (r == STORE_OK && f->digest)
		imap_hdigest_save(v, seq, d);
	return r;
}

/* \Seen for every message of the command that lacks it, in one call. */
static int
set_seen(struct fetch *f)
{
	struct imap_session *s = f->s;
	struct store_msg_info info;
	struct store_range *r;
	enum store_result res;
	const char *error;
	size_t i, n = 0, cap = 0;
	uint32_t seq;

	r = NULL;
	for (i = 0; i < f->nranges; i++)
		for (seq = f->ranges[i].first; seq <= f->ranges[i].last;
		    seq++) {
			if (store_view_msg(s->view, seq, &info) == 0 &&
			    !info.expunged && !(info.flags & STORE_F_SEEN)) {
				if (n > 0 && r[n - 1].last == seq - 1)
					r[n - 1].last = seq;
				else {
					if (n == cap) {
						struct store_range *nr;

						cap = cap == 0 ? 16 : cap * 2;
						nr = pool_alloc(s->cmd->pool,
						    cap * sizeof(*nr));
						if (n > 0)
							memcpy(nr, r,
							    n * sizeof(*nr));
						r = nr;
					}
					r[n].first = r[n].last = seq;
					n++;
				}
			}
			if (seq == UINT32_MAX)
				break;
		}
	f->seen = r;
	f->nseen = n;
	if (n == 0)
		return 0;
	res = store_view_update_flags(s->view, r, n, STORE_FLAGS_ADD,
	    STORE_F_SEEN, 0, &error);
	switch (res) {
	case STORE_OK:
	case STORE_EXPUNGED:
		return 0;
	case STORE_RESET:
		imap_done_store(s, res, error, false);
		return -1;
	default:
		/* The content can still be sent; FLAGS tell what is set. */
		log_warnx("%016llx imap FETCH: setting \\Seen failed user=%s: "
		    "%s", (unsigned long long)s->id, s->user, error);
		return 0;
	}
}

/* Did this command give seq \Seen? Asked in ascending order. */
static bool
seen_changed(struct fetch *f, uint32_t seq)
{
	while (f->seen_i < f->nseen && f->seen[f->seen_i].last < seq)
		f->seen_i++;
	return f->seen_i < f->nseen && f->seen[f->seen_i].first <= seq;
}

/* What the plan needs of message m->seq, into m. With its BODY and
 * BODYSTRUCTURE digests at hand, the message is not read whole; they are
 * looked for after the header is loaded, since saving a header digest
 * can make the store drop others. */
static enum store_result
msg_load(struct fetch *f, struct fetch_msg *m, const char **error_r)
{
	unsigned needs = f->plan->needs;
	enum store_result r;

	if (f->struct_digest && structs_cached(f, m->seq)) {
		r = msg_load_needs(f, m, needs & ~(IMAP_FETCH_NEED_CONTENT |
		    IMAP_FETCH_NEED_MIME), error_r);
		if (r != STORE_OK || structs_cached(f, m->seq)) {
			m->structs_cached = r == STORE_OK;
			return r;
		}
		msg_release(m);
	}
	return msg_load_needs(f, m, needs, error_r);
}

static enum store_result
msg_load_needs(struct fetch *f, struct fetch_msg *m, unsigned needs,
    const char **error_r)
{
	struct store_view *v = f->s->view;
	enum store_result r;
	const char *data;
	size_t len;

	if ((needs & IMAP_FETCH_NEED_DATE) &&
	    (r = store_msg_date(v, m->seq, &m->date, error_r)) != STORE_OK)
		return r;
	if (needs & (IMAP_FETCH_NEED_CONTENT | IMAP_FETCH_NEED_HEADER)) {
		m->c = xcalloc(1, sizeof(*m->c));
		m->c->refs = 1;
		r = (needs & IMAP_FETCH_NEED_CONTENT) ?
		    store_msg_map(v, m->seq, &m->c->d, error_r) :
		    map_header(f, m->seq, &m->c->d, error_r);
		if (r != STORE_OK) {
			free(m->c);
			m->c = NULL;
			return r;
		}
		if ((needs & IMAP_FETCH_NEED_CONTENT) && f->digest)
			imap_hdigest_save(v, m->seq, &m->c->d);
		m->pool = pool_new(f->s->cmd->pool);
		data = (const char *)m->c->d.data;
		len = m->c->d.len;
		if (needs & IMAP_FETCH_NEED_MIME)
			m->root = mime_parse(m->pool, data, len, NULL);
		else {
			/* Top-level sections and ENVELOPE need only the
			 * split between header and body. */
			m->top.hdr_len = header_section_len(data, len);
			m->top.body_off = m->top.hdr_len;
			m->top.body_len = len - m->top.hdr_len;
			m->root = &m->top;
		}
	}
	if (m->c != NULL && !m->c->d.header_only)
		m->size = m->c->d.len;
	else if ((needs & IMAP_FETCH_NEED_SIZE) &&
	    (r = store_msg_size(v, m->seq, &m->size, error_r)) != STORE_OK)
		return r;
	return STORE_OK;
}

static void
msg_release(struct fetch_msg *m)
{
	if (m->c != NULL)
		content_unref(m->c);
	m->c = NULL;
	pool_free(&m->pool);
}

/* {len} CRLF and the octets; from the mapping by reference when long. */
static void
write_literal(struct evbuffer *out, struct fetch_msg *m, const char *data,
    size_t len, bool in_msg)
{
	evbuffer_add_printf(out, "{%zu}\r\n", len);
	if (in_msg && len >= FETCH_REF_MIN) {
		m->c->refs++;
		if (evbuffer_add_reference(out, data, len, content_ref_done,
		    m->c) == 0)
			return;
		m->c->refs--;
	}
	evbuffer_add(out, data, len);
}

/* ENVELOPE, BODY, BODYSTRUCTURE: -1 past FETCH_STRUCT_MAX. From their
 * digests, or made from the message and then kept as digests. */
static int
write_struct(struct fetch *f, struct evbuffer *out, struct fetch_msg *m,
    const struct imap_fetch_item *it)
{
	unsigned kind = it->kind == IMAP_FETCH_ENVELOPE ? IMAP_DIGEST_ENVELOPE :
	    it->kind == IMAP_FETCH_BODY ? IMAP_DIGEST_BODY :
	    IMAP_DIGEST_BODYSTRUCTURE;
	const char *dg;
	struct buf b;
	size_t dlen;
	int r;

	if (store_msg_digest(f->s->view, m->seq, kind, &dg, &dlen)) {
		evbuffer_add(out, it->name, it->name_len);
		evbuffer_add(out, " ", 1);
		evbuffer_add(out, dg, dlen);
		return 0;
	}
	/* structs_cached holds until the response is complete */
	ASSERT(kind == IMAP_DIGEST_ENVELOPE || !m->structs_cached);
	buf_init(&b, FETCH_STRUCT_MAX);
	if (it->kind == IMAP_FETCH_ENVELOPE)
		r = imap_envelope_append(&b, m->pool,
		    (const char *)m->c->d.data, m->root->hdr_len);
	else
		r = imap_bodystructure_append(&b, m->pool,
		    (const char *)m->c->d.data, m->root,
		    it->kind == IMAP_FETCH_BODYSTRUCTURE);
	if (r == 0) {
		evbuffer_add(out, it->name, it->name_len);
		evbuffer_add(out, " ", 1);
		evbuffer_add(out, b.data, b.len);
		if (b.len <= STORE_DIGEST_MAX) {
			m->made[kind] = pool_strndup(m->pool,
			    (const char *)b.data, b.len);
			m->made_len[kind] = b.len;
		}
	}
	buf_deinit(&b);
	return r;
}

/* The digests this response made, into the store. */
static void
save_made(struct fetch *f, struct fetch_msg *m)
{
	unsigned k;

	for (k = 0; k < STORE_DIGEST_KINDS; k++)
		if (m->made[k] != NULL)
			store_msg_set_digest(f->s->view, m->seq, k, m->made[k],
			    m->made_len[k]);
}

static int
write_item(struct fetch *f, struct evbuffer *out, struct fetch_msg *m,
    const struct imap_fetch_item *it)
{
	char date[IMAP_DATETIME_LEN + 1];
	struct imap_section_data sd;

	switch (it->kind) {
	case IMAP_FETCH_UID:
		evbuffer_add_printf(out, "UID %u", m->info.uid);
		return 0;
	case IMAP_FETCH_FLAGS:
		evbuffer_add(out, "FLAGS ", 6);
		imap_reply_flags(out, m->info.flags, m->info.keywords,
		    f->s->view);
		return 0;
	case IMAP_FETCH_INTERNALDATE:
		imap_datetime_format(m->date, date, sizeof(date));
		evbuffer_add_printf(out, "INTERNALDATE \"%s\"", date);
		return 0;
	case IMAP_FETCH_RFC822_SIZE:
		evbuffer_add_printf(out, "RFC822.SIZE %llu",
		    (unsigned long long)m->size);
		return 0;
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		return write_struct(f, out, m, it);
	case IMAP_FETCH_SECTION:
		imap_section_fetch(m->pool, (const char *)m->c->d.data,
		    m->c->d.len, m->root, &it->sec, it->origin, it->count,
		    &sd);
		evbuffer_add(out, it->name, it->name_len);
		evbuffer_add(out, " ", 1);
		write_literal(out, m, sd.data, sd.len, sd.off != SIZE_MAX);
		return 0;
	}
	return -1;
}

/* The response for one message. -1 (with the store's reason) ends the
 * command; a message that cannot be answered is skipped and noted. */
static int
fetch_one(struct fetch *f, uint32_t seq, enum store_result *res_r,
    const char **error_r)
{
	const struct imap_fetch_plan *p = f->plan;
	struct imap_session *s = f->s;
	struct evbuffer *out, *final = imap_output(s);
	struct fetch_msg m;
	enum store_result r;
	size_t i, flags_at;
	bool sep = false;

	memset(&m, 0, sizeof(m));
	m.seq = seq;
	if (store_view_msg(s->view, seq, &m.info) == -1)
		return 0;	/* not in the view: nothing to answer */
	if (m.info.expunged) {
		f->expunged = true;
		return 0;
	}
	m.flags_changed = f->nseen > 0 && seen_changed(f, seq) &&
	    (m.info.flags & STORE_F_SEEN);
	if ((r = msg_load(f, &m, error_r)) != STORE_OK) {
		msg_release(&m);
		if (r == STORE_EXPUNGED || r == STORE_NONEXISTENT) {
			f->expunged = true;
			return 0;
		}
		if (r == STORE_LIMIT) {
			f->limit = true;
			return 0;
		}
		*res_r = r;
		return -1;
	}
	out = (p->needs & IMAP_FETCH_NEED_STRUCT) ? evbuffer_new() : final;
	if (out == NULL)
		fatalx("evbuffer_new: out of memory");
	evbuffer_add_printf(out, "* %u FETCH (", seq);
	/* FLAGS the client did not ask for go after UID, before any
	 * literal. */
	flags_at = p->n > 0 && p->items[0].kind == IMAP_FETCH_UID ? 1 : 0;
	for (i = 0; i <= p->n; i++) {
		if (i == flags_at && m.flags_changed && !p->has_flags) {
			if (sep)
				evbuffer_add(out, " ", 1);
			evbuffer_add(out, "FLAGS ", 6);
			imap_reply_flags(out, m.info.flags, m.info.keywords,
			    s->view);
			sep = true;
		}
		if (i == p->n)
			break;
		if (sep)
			evbuffer_add(out, " ", 1);
		if (write_item(f, out, &m, &p->items[i]) == -1) {
			/* Only a bounded structure fails, in a scratch
			 * buffer: drop the whole response. */
			ASSERT(out != final);
			evbuffer_free(out);
			msg_release(&m);
			f->limit = true;
			return 0;
		}
		sep = true;
	}
	evbuffer_add(out, ")\r\n", 3);
	if (out != final) {
		evbuffer_add_buffer(final, out);
		evbuffer_free(out);
	}
	save_made(f, &m);
	msg_release(&m);
	return 0;
}

static void
fetch_run(struct fetch *f)
{
	struct imap_session *s = f->s;
	enum store_result r;
	const char *error;
	uint32_t seq;

	while (f->ri < f->nranges) {
		if (imap_output_full(s)) {
			s->cmd_state = f;
			imap_output_wait(s, fetch_resume);
			return;
		}
		seq = f->seq;
		if (seq >= f->ranges[f->ri].last) {
			if (++f->ri < f->nranges)
				f->seq = f->ranges[f->ri].first;
		} else
			f->seq++;
		if (fetch_one(f, seq, &r, &error) == -1) {
			imap_done_store(s, r, error, false);
			return;
		}
	}
	if (f->limit)
		imap_done(s, "NO", "[LIMIT] Some messages could not be "
		    "fetched: too large");
	else if (f->expunged && !s->cmd->uid)
		imap_done(s, "NO", "[EXPUNGEISSUE] Some messages were "
		    "expunged meanwhile");
	else
		imap_done(s, "OK", "Fetch completed");
}

static void
fetch_resume(struct imap_session *s)
{
	struct fetch *f = s->cmd_state;

	s->cmd_state = NULL;
	fetch_run(f);
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_fetch_plan *plan;
	struct imap_fetch_plan *pl;
	const char *set, *error;
	struct fetch *f;

	if (cmd->count < 2 || !imap_arg_atom(&cmd->args[0], &set)) {
		imap_done(s, "BAD", "%sFETCH takes a sequence set and data "
		    "items", cmd->uid ? "UID " : "");
		return;
	}
	if (cmd->count > 2) {
		imap_done(s, "BAD", "Unexpected argument after the data items");
		return;
	}
	if (imap_fetch_plan_parse(&cmd->args[1], cmd->uid, cmd->pool, &pl,
	    &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	plan = pl;
	f = pool_alloc(cmd->pool, sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->s = s;
	f->plan = plan;
	plan_digests(f);
	if (imap_seq_resolve(s, set, cmd->uid, cmd->pool, &f->ranges,
	    &f->nranges, &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if (f->nranges > 0)
		f->seq = f->ranges[0].first;
	if (plan->sets_seen && !s->readonly && set_seen(f) == -1)
		return;
	fetch_run(f);
}
