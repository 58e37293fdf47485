/* imap-cmd-search: SEARCH and UID SEARCH (RFC 3501 6.4.4, 6.4.8, 7.2.5).
 *
 * The program is parsed once (imap/search.h) and run against every
 * message of the view, each described by what the store knows without
 * I/O (sequence number, UID, flags, keywords) plus, only when some key
 * needs it, RFC822.SIZE and the internal date (from the index) and the
 * message itself (mapped with CRLF by store_msg_map(), for header and
 * text keys; only its header for header keys, and then the store's
 * in-memory header digest (imap-hdigest.c) when every header key names a
 * field the digest keeps). A message is mapped at most once and its MIME tree parsed
 * at most once, whatever the number of keys. When the program's top
 * level restricts sequence numbers or UIDs ("UID 1000:*"), only that
 * stretch of the view is looked at.
 *
 * Text: header keys see each field's value unfolded and decoded (RFC
 * 2047, to UTF-8; header_decode()); BODY sees the decoded text
 * (transfer encoding and charset, mime_part_text()) of every text part
 * and the header of every embedded message; TEXT sees the message header
 * as well. Parts that are not text (images, PDFs) are not searched: their
 * octets are not text a person would search for.
 *
 * Output: one "* SEARCH n n ..." line (sequence numbers, or UIDs for UID
 * SEARCH), written as matches are found. A search that reads messages
 * gives the loop back every SEARCH_SLICE_MS (imap_output_wait() on an
 * empty output comes back at the next loop iteration), so one client's
 * full-text search does not stall the other sessions of the process.
 * Messages expunged meanwhile never match. CHARSET other than UTF-8 and
 * US-ASCII: NO [BADCHARSET (UTF-8 US-ASCII)] (RFC 3501 6.4.4). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "imap/imap-hdigest.h"
#include "imap/imap-private.h"
#include "imap/search.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

#define SEARCH_SLICE_MS		20	/* of reading before the loop runs */
#define SEARCH_CHECK_EVERY	32	/* messages between clock reads */

#define NEED_SIZE	0x1
#define NEED_DATE	0x2
#define NEED_HEADER	0x4	/* the header section */
#define NEED_CONTENT	0x8	/* the whole message */

/* One SEARCH command, in its pool. */
struct search {
	struct imap_session	*s;
	struct imap_search	*prog;
	unsigned		 needs;
	bool			 digest;	/* headers from the digests */
	uint32_t		 seq;		/* next to look at */
	uint32_t		 last;		/* 0: none */
};

/* The message being matched: the callbacks' context. */
struct search_msg {
	struct search		*sr;
	struct store_msg_info	 info;
	uint32_t		 seq;
	struct store_msg_data	 d;
	bool			 mapped;
	enum store_result	 res;		/* of a failed map */
	const char		*error;
	struct pool		*pool;		/* decoded text, the tree */
	size_t			 hdr_len;
	struct mime_part	*root;
};

static unsigned	needs_of(const struct imap_search_key *k);
static bool	digest_serves(const struct imap_search_key *k);
static void	narrow(struct search *sr);
static int	map_msg(struct search_msg *m);
static bool	cb_keyword(void *ctx, const char *keyword);
static int	visit_fields(struct search_msg *m, const char *hdr,
		    size_t len, const char *name, bool encoded_only,
		    imap_search_visit visit, void *vctx);
static int	cb_header(void *ctx, const char *name,
		    imap_search_visit visit, void *vctx);
static bool	raw_text(const struct mime_part *p);
static int	visit_part(struct search_msg *m, const struct mime_part *p,
		    imap_search_visit visit, void *vctx);
static int	cb_text(void *ctx, bool whole, imap_search_visit visit,
		    void *vctx);
static int	match_one(struct search *sr, uint32_t seq,
		    enum store_result *res_r, const char **error_r);
static void	search_run(struct search *sr);
static void	search_resume(struct imap_session *s);
static uint64_t	now_ms(void);

static unsigned
needs_of(const struct imap_search_key *k)
{
	unsigned n = 0;
	size_t i;

	switch (k->op) {
	case IMAP_SK_LARGER:
	case IMAP_SK_SMALLER:
		n = NEED_SIZE;
		break;
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
		n = NEED_DATE;
		break;
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		/* without a readable Date: the internal date counts */
		n = NEED_DATE | NEED_HEADER;
		break;
	case IMAP_SK_HEADER:
		n = NEED_HEADER;
		break;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		n = NEED_CONTENT;
		break;
	default:
		break;
	}
	for (i = 0; i < k->nkids; i++)
		n |= needs_of(&k->kids[i]);
	return n;
}

/* Whether every header key names a field the header digest keeps. */
static bool
digest_serves(const struct imap_search_key *k)
{
	size_t i;

	if (k->op == IMAP_SK_HEADER &&
	    !imap_hdigest_keeps(k->str, strlen(k->str)))
		return false;
	for (i = 0; i < k->nkids; i++)
		if (!digest_serves(&k->kids[i]))
			return false;
	return true;
}

/* Only the messages that the top-level sequence sets and UID sets
 * allow: sr->seq .. sr->last. */
static void
narrow(struct search *sr)
{
	const struct imap_search_key *root = &sr->prog->root, *k;
	struct store_view *v = sr->s->view;
	uint32_t lo = 1, hi = store_view_count(v), a, b;
	size_t i;

	for (i = 0; root->op == IMAP_SK_AND && i < root->nkids; i++) {
		k = &root->kids[i];
		if (k->op != IMAP_SK_SEQSET && k->op != IMAP_SK_UID)
			continue;
		a = imap_seqset_first(&k->seqs_resolved);
		b = imap_seqset_last(&k->seqs_resolved);
		if (k->op == IMAP_SK_UID && a != 0) {
			a = store_view_seq_ge(v, a);
			b = store_view_seq_le(v, b);
		}
		if (a == 0 || b == 0 || a > b) {
			hi = 0;
			break;
		}
		if (a > lo)
			lo = a;
		if (b < hi)
			hi = b;
	}
	sr->seq = lo;
	sr->last = lo <= hi ? hi : 0;
}

static int
map_msg(struct search_msg *m)
{
	struct store_view *v = m->sr->s->view;

	if (m->mapped)
		return 0;
	if (m->res != STORE_OK)
		return -1;
	/* header keys alone need not read the bodies */
	if (m->sr->needs & NEED_CONTENT)
		m->res = store_msg_map(v, m->seq, &m->d, &m->error);
	else if (!m->sr->digest || !imap_hdigest_load(v, m->seq, &m->d)) {
		m->res = store_msg_map_header(v, m->seq, &m->d, &m->error);
		if (m->res == STORE_OK && m->sr->digest)
			imap_hdigest_save(v, m->seq, &m->d);
	}
	if (m->res != STORE_OK)
		return -1;
	m->mapped = true;
	m->hdr_len = header_section_len((const char *)m->d.data, m->d.len);
	m->pool = pool_new(m->sr->s->cmd->pool);
	return 0;
}

static bool
cb_keyword(void *ctx, const char *keyword)
{
	struct search_msg *m = ctx;
	const char *const *names;
	size_t n, i;

	names = store_view_keywords(m->sr->s->view, &n);
	for (i = 0; i < n && i < STORE_KEYWORDS_MAX; i++)
		if (names[i] != NULL && strcasecmp(names[i], keyword) == 0)
			return (m->info.keywords & ((uint32_t)1 << i)) != 0;
	return false;
}

/* Each field called name (NULL: every field, with encoded_only only
 * those holding encoded words), decoded. 1 when visit stopped. */
static int
visit_fields(struct search_msg *m, const char *hdr, size_t len,
    const char *name, bool encoded_only, imap_search_visit visit,
    void *vctx)
{
	struct header_iter it;
	struct header_field f;
	const char *v;

	header_iter_init(&it, hdr, len);
	while (header_iter_next(&it, &f)) {
		if (name != NULL ? !header_field_is(&f, name) : !f.valid)
			continue;
		if (encoded_only && memmem(f.value, f.value_len, "=?", 2) ==
		    NULL)
			continue;
		v = header_decode(m->pool, f.value, f.value_len);
		if (visit(vctx, v, strlen(v)) == 1)
			return 1;
	}
	return 0;
}

static int
cb_header(void *ctx, const char *name, imap_search_visit visit, void *vctx)
{
	struct search_msg *m = ctx;

	if (map_msg(m) == -1)
		return -1;
	(void)visit_fields(m, (const char *)m->d.data, m->hdr_len, name,
	    false, visit, vctx);
	return 0;
}

/* A text part that is UTF-8 (or ASCII) as it stands: no transfer
 * encoding to undo, no charset to convert. The matcher reads invalid
 * UTF-8 as mime_part_text() would make it, one U+FFFD per octet. */
static bool
raw_text(const struct mime_part *p)
{
	const char *cs;

	if (p->encoding != NULL && strcasecmp(p->encoding, "7bit") != 0 &&
	    strcasecmp(p->encoding, "8bit") != 0 &&
	    strcasecmp(p->encoding, "binary") != 0)
		return false;
	cs = mime_param_get(&p->params, "charset");
	return cs == NULL || strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0;
}

/* The text below p: text leaves decoded, embedded headers. 1: stop. */
static int
visit_part(struct search_msg *m, const struct mime_part *p,
    imap_search_visit visit, void *vctx)
{
	const char *msg = (const char *)m->d.data, *text;
	const struct mime_part *c;
	size_t len;

	if (p->flags & MIME_PART_MESSAGE) {
		for (c = p->children; c != NULL; c = c->next) {
			/* the embedded message's header is body text */
			if (visit(vctx, msg + c->hdr_off, c->hdr_len) == 1 ||
			    visit_fields(m, msg + c->hdr_off, c->hdr_len,
			    NULL, true, visit, vctx) == 1 ||
			    visit_part(m, c, visit, vctx) == 1)
				return 1;
		}
		return 0;
	}
	if (p->flags & MIME_PART_MULTIPART) {
		for (c = p->children; c != NULL; c = c->next)
			if (visit_part(m, c, visit, vctx) == 1)
				return 1;
		return 0;
	}
	if (!(p->flags & MIME_PART_TEXT) || (p->flags & MIME_PART_OPAQUE))
		return 0;
	/* Most text needs no decoding: match its octets where they are. */
	if (raw_text(p))
		return visit(vctx, msg + p->body_off, p->body_len) == 1 ? 1 : 0;
	text = mime_part_text(m->pool, msg, p, &len);
	return visit(vctx, text, len) == 1 ? 1 : 0;
}

static int
cb_text(void *ctx, bool whole, imap_search_visit visit, void *vctx)
{
	struct search_msg *m = ctx;
	const char *msg;

	if (map_msg(m) == -1)
		return -1;
	msg = (const char *)m->d.data;
	if (whole && (visit(vctx, msg, m->hdr_len) == 1 ||
	    visit_fields(m, msg, m->hdr_len, NULL, true, visit, vctx) == 1))
		return 0;
	if (m->root == NULL)
		m->root = mime_parse(m->pool, msg, m->d.len, NULL);
	(void)visit_part(m, m->root, visit, vctx);
	return 0;
}

/* 1: seq matches; 0: it does not (or is gone); -1: the command fails. */
static int
match_one(struct search *sr, uint32_t seq, enum store_result *res_r,
    const char **error_r)
{
	struct store_view *v = sr->s->view;
	struct imap_search_msg sm;
	struct search_msg m;
	enum store_result r = STORE_OK;
	int match;

	memset(&m, 0, sizeof(m));
	m.sr = sr;
	m.seq = seq;
	m.d.fd = -1;
	if (store_view_msg(v, seq, &m.info) == -1 || m.info.expunged)
		return 0;
	memset(&sm, 0, sizeof(sm));
	sm.seq = seq;
	sm.uid = m.info.uid;
	sm.flags = imap_flags_from_store(m.info.flags);
	sm.ctx = &m;
	sm.has_keyword = cb_keyword;
	sm.header = cb_header;
	sm.text = cb_text;
	if ((sr->needs & NEED_SIZE) &&
	    (r = store_msg_size(v, seq, &sm.size, error_r)) != STORE_OK)
		goto failed;
	if ((sr->needs & NEED_DATE) &&
	    (r = store_msg_date(v, seq, &sm.internal_date, error_r)) !=
	    STORE_OK)
		goto failed;
	match = imap_search_match(sr->prog, &sm);
	if (m.mapped)
		store_msg_release(&m.d);
	pool_free(&m.pool);
	if (match != -1)
		return match;
	r = m.res;
	*error_r = m.error != NULL ? m.error : "search failed";
failed:
	if (r == STORE_EXPUNGED || r == STORE_NONEXISTENT ||
	    r == STORE_LIMIT)
		return 0;
	*res_r = r != STORE_OK ? r : STORE_TEMPFAIL;
	return -1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
search_run(struct search *sr)
{
	struct imap_session *s = sr->s;
	struct evbuffer *out = imap_output(s);
	uint64_t start = now_ms();
	enum store_result r;
	const char *error;
	char num[16];
	unsigned done = 0;
	uint32_t seq, id;
	int m;

	while (sr->last != 0 && sr->seq <= sr->last) {
		if ((sr->needs & (NEED_HEADER | NEED_CONTENT)) &&
		    ++done % SEARCH_CHECK_EVERY == 0 &&
		    now_ms() - start >= SEARCH_SLICE_MS) {
			s->cmd_state = sr;
			imap_output_wait(s, search_resume);
			return;
		}
		seq = sr->seq;
		if (seq == sr->last)
			sr->last = 0;
		else
			sr->seq++;
		if ((m = match_one(sr, seq, &r, &error)) == -1) {
			evbuffer_add(out, "\r\n", 2);
			imap_done_store(s, r, error, false);
			return;
		}
		if (m == 1) {
			id = s->cmd->uid ? store_view_uid(s->view, seq) : seq;
			evbuffer_add(out, num, (size_t)snprintf(num,
			    sizeof(num), " %u", id));
		}
	}
	evbuffer_add(out, "\r\n", 2);
	imap_done(s, "OK", "Search completed");
}

static void
search_resume(struct imap_session *s)
{
	struct search *sr = s->cmd_state;

	s->cmd_state = NULL;
	search_run(sr);
}

void
imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct store_view *v = s->view;
	struct search *sr;
	const char *error;
	uint32_t count;
	int r;

	sr = pool_alloc(cmd->pool, sizeof(*sr));
	memset(sr, 0, sizeof(*sr));
	sr->s = s;
	r = imap_search_parse(cmd->args, cmd->count, cmd->pool, &sr->prog,
	    &error);
	if (r == IMAP_SEARCH_BADCHARSET) {
		imap_done(s, "NO", "[BADCHARSET " IMAP_SEARCH_CHARSETS "] %s",
		    error);
		return;
	}
	if (r != 0) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	count = store_view_count(v);
	imap_search_prepare(sr->prog, count,
	    count > 0 ? store_view_uid(v, count) : 0);
	sr->needs = needs_of(&sr->prog->root);
	sr->digest = digest_serves(&sr->prog->root);
	narrow(sr);
	evbuffer_add(imap_output(s), "* SEARCH", 8);
	search_run(sr);
}
