/* imap/search: SEARCH keys into a tree, and the tree against a message
 * (see search.h). Parsing is table-driven: each key names what it takes;
 * evaluation walks the tree, asking the server's callbacks only for what
 * a key needs. Strings are folded once at parse time and matched with a
 * KMP scan over folded code points, so a long body costs one pass per
 * key. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/flags.h"
#include "imap/imap-date.h"
#include "imap/mutf7.h"
#include "imap/parse.h"
#include "imap/search.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

#define FIELD_NAME_MAX	128
#define SHOW_MAX	32	/* octets of a bad key shown in the error */

enum arg_kind {
	A_NONE,
	A_STRING,		/* astring */
	A_HEADER,		/* field-name astring, astring */
	A_DATE,
	A_NUMBER,
	A_SEQSET,
	A_KEYWORD,
	A_KEY,			/* NOT */
	A_KEY2,			/* OR */
};

struct key_def {
	const char	*name;
	enum imap_search_op op;
	enum arg_kind	 arg;
	unsigned	 set;
	unsigned	 unset;
	const char	*field;		/* FROM TO CC BCC SUBJECT */
};

static const struct key_def key_defs[] = {
	{ "ALL",	IMAP_SK_ALL,		A_NONE,	   0, 0, NULL },
	{ "ANSWERED",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_ANSWERED, 0, NULL },
	{ "BCC",	IMAP_SK_HEADER,		A_STRING,  0, 0, "Bcc" },
	{ "BEFORE",	IMAP_SK_BEFORE,		A_DATE,	   0, 0, NULL },
	{ "BODY",	IMAP_SK_BODY,		A_STRING,  0, 0, NULL },
	{ "CC",		IMAP_SK_HEADER,		A_STRING,  0, 0, "Cc" },
	{ "DELETED",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_DELETED, 0, NULL },
	{ "DRAFT",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_DRAFT, 0, NULL },
	{ "FLAGGED",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_FLAGGED, 0, NULL },
	{ "FROM",	IMAP_SK_HEADER,		A_STRING,  0, 0, "From" },
	{ "HEADER",	IMAP_SK_HEADER,		A_HEADER,  0, 0, NULL },
	{ "KEYWORD",	IMAP_SK_KEYWORD,	A_KEYWORD, 0, 0, NULL },
	{ "LARGER",	IMAP_SK_LARGER,		A_NUMBER,  0, 0, NULL },
	{ "NEW",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_RECENT, IMAP_FLAG_SEEN, NULL },
	{ "NOT",	IMAP_SK_NOT,		A_KEY,	   0, 0, NULL },
	{ "OLD",	IMAP_SK_FLAGS,		A_NONE,
	  0, IMAP_FLAG_RECENT, NULL },
	{ "ON",		IMAP_SK_ON,		A_DATE,	   0, 0, NULL },
	{ "OR",		IMAP_SK_OR,		A_KEY2,	   0, 0, NULL },
	{ "RECENT",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_RECENT, 0, NULL },
	{ "SEEN",	IMAP_SK_FLAGS,		A_NONE,
	  IMAP_FLAG_SEEN, 0, NULL },
	{ "SENTBEFORE",	IMAP_SK_SENTBEFORE,	A_DATE,	   0, 0, NULL },
	{ "SENTON",	IMAP_SK_SENTON,		A_DATE,	   0, 0, NULL },
	{ "SENTSINCE",	IMAP_SK_SENTSINCE,	A_DATE,	   0, 0, NULL },
	{ "SINCE",	IMAP_SK_SINCE,		A_DATE,	   0, 0, NULL },
	{ "SMALLER",	IMAP_SK_SMALLER,	A_NUMBER,  0, 0, NULL },
	{ "SUBJECT",	IMAP_SK_HEADER,		A_STRING,  0, 0, "Subject" },
	{ "TEXT",	IMAP_SK_TEXT,		A_STRING,  0, 0, NULL },
	{ "TO",		IMAP_SK_HEADER,		A_STRING,  0, 0, "To" },
	{ "UID",	IMAP_SK_UID,		A_SEQSET,  0, 0, NULL },
	{ "UNANSWERED",	IMAP_SK_FLAGS,		A_NONE,
	  0, IMAP_FLAG_ANSWERED, NULL },
	{ "UNDELETED",	IMAP_SK_FLAGS,		A_NONE,
	  0, IMAP_FLAG_DELETED, NULL },
	{ "UNDRAFT",	IMAP_SK_FLAGS,		A_NONE,
	  0, IMAP_FLAG_DRAFT, NULL },
	{ "UNFLAGGED",	IMAP_SK_FLAGS,		A_NONE,
	  0, IMAP_FLAG_FLAGGED, NULL },
	{ "UNKEYWORD",	IMAP_SK_UNKEYWORD,	A_KEYWORD, 0, 0, NULL },
	{ "UNSEEN",	IMAP_SK_FLAGS,		A_NONE,
	  0, IMAP_FLAG_SEEN, NULL },
};

struct pctx {
	struct pool	*pool;		/* borrowed */
	struct imap_search *search;
	const char	*error;
};

struct match_ctx {
	const struct imap_search_needle *needle;
	bool		 found;
};

struct day_ctx {
	int64_t		 day;
	bool		 found;
	bool		 first_seen;
};

static const struct key_def *find_key(const char *s, size_t len);
static int	 fail(struct pctx *c, const char *text);
static void	 needle_init(struct imap_search_needle *nd, const char *s,
		    size_t len, struct pool *pool);
static bool	 needle_match(const struct imap_search_needle *nd,
		    const char *s, size_t len);
static int	 parse_keys(struct pctx *c, const struct imap_arg *args,
		    size_t count, unsigned depth, struct imap_search_key *and);
static int	 parse_key(struct pctx *c, const struct imap_arg *args,
		    size_t count, size_t *pos, unsigned depth,
		    struct imap_search_key *k);
static int	 parse_arg(struct pctx *c, const struct key_def *def,
		    const struct imap_arg *args, size_t count, size_t *pos,
		    unsigned depth, struct imap_search_key *k);
static unsigned	 order(struct imap_search_key *k);
static void	 prepare(struct imap_search_key *k, uint32_t count,
		    uint32_t max_uid);
static int	 visit_match(void *vctx, const char *s, size_t len);
static int	 visit_day(void *vctx, const char *s, size_t len);
static int	 sent_day(const struct imap_search_msg *m, int64_t *day_r);
static int	 eval(const struct imap_search_key *k,
		    const struct imap_search_msg *m);

uint32_t
imap_search_fold(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c == 0xb5)				/* micro sign */
		return 0x3bc;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
			return c;		/* no simple folding */
		if (c == 0x178)
			return 0xff;
		if (c == 0x17f)			/* long s */
			return 's';
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x386 && c <= 0x3ab) {
		if (c == 0x386)
			return 0x3ac;
		if (c >= 0x388 && c <= 0x38a)
			return c + 37;
		if (c == 0x38c)
			return 0x3cc;
		if (c == 0x38e || c == 0x38f)
			return c + 63;
		if (c >= 0x391 && c != 0x3a2)
			return c + 32;
		return c;
	}
	if (c == 0x3c2)				/* final sigma */
		return 0x3c3;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c == 0x1e9e)			/* capital sharp s */
		return 0xdf;
	return c;
}

/* Fold s into code points and build the KMP table. */
static void
needle_init(struct imap_search_needle *nd, const char *s, size_t len,
    struct pool *pool)
{
	uint32_t *cp, c;
	size_t *next, i = 0, n = 0, k, step;

	cp = pool_alloc(pool, (len + 1) * sizeof(*cp));
	while (i < len) {
		step = imap_utf8_decode((const uint8_t *)s + i, len - i, &c);
		if (step == 0) {
			c = 0xfffd;
			step = 1;
		}
		cp[n++] = imap_search_fold(c);
		i += step;
	}
	next = pool_alloc(pool, (n + 1) * sizeof(*next));
	k = 0;
	for (i = 1; i < n; i++) {
		while (k > 0 && cp[i] != cp[k])
			k = next[k - 1];
		if (cp[i] == cp[k])
			k++;
		next[i] = k;
	}
	nd->cp = cp;
	nd->next = next;
	nd->n = n;
}

static bool
needle_match(const struct imap_search_needle *nd, const char *s, size_t len)
{
	size_t i = 0, j = 0, step;
	uint32_t c;

	if (nd->n == 0)
		return true;
	while (i < len) {
		step = imap_utf8_decode((const uint8_t *)s + i, len - i, &c);
		if (step == 0) {
			c = 0xfffd;
			step = 1;
		}
		i += step;
		c = imap_search_fold(c);
		while (j > 0 && nd->cp[j] != c)
			j = nd->next[j - 1];
		if (nd->cp[j] == c && ++j == nd->n)
			return true;
	}
	return false;
}

bool
imap_search_contains(const char *haystack, size_t hlen, const char *needle,
    size_t nlen)
{
	struct imap_search_needle nd;
	struct pool *pool = pool_new(NULL);
	bool r;

	needle_init(&nd, needle, nlen, pool);
	r = needle_match(&nd, haystack, hlen);
	pool_free(&pool);
	return r;
}

static const struct key_def *
find_key(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (strlen(key_defs[i].name) == len &&
		    strncasecmp(key_defs[i].name, s, len) == 0)
			return &key_defs[i];
	return NULL;
}

static int
fail(struct pctx *c, const char *text)
{
	if (c->error == NULL)
		c->error = text;
	return -1;
}

int
imap_search_parse(const struct imap_arg *args, size_t count,
    struct pool *pool, struct imap_search **search_r, const char **error_r)
{
	struct pctx c;
	struct imap_search *s;
	const char *cs;
	size_t len;

	memset(&c, 0, sizeof(c));
	c.pool = pool;
	s = pool_alloc(pool, sizeof(*s));
	c.search = s;
	if (count > 0 && imap_arg_atom_is(&args[0], "CHARSET")) {
		if (count < 2 || !imap_arg_astring(&args[1], &cs, &len)) {
			*error_r = "CHARSET needs a charset name";
			return -1;
		}
		if (strcasecmp(cs, "UTF-8") != 0 &&
		    strcasecmp(cs, "US-ASCII") != 0) {
			*error_r = "Unsupported charset";
			return IMAP_SEARCH_BADCHARSET;
		}
		s->charset_given = true;
		args += 2;
		count -= 2;
	}
	if (count == 0) {
		*error_r = "Missing search criteria";
		return -1;
	}
	if (parse_keys(&c, args, count, 0, &s->root) == -1) {
		*error_r = c.error;
		return -1;
	}
	(void)order(&s->root);
	*search_r = s;
	return 0;
}

/* Every key of args[0..count) into the AND node and. */
static int
parse_keys(struct pctx *c, const struct imap_arg *args, size_t count,
    unsigned depth, struct imap_search_key *and)
{
	struct imap_search_key *kids, *grown;
	size_t pos = 0, n = 0, cap = 4;

	memset(and, 0, sizeof(*and));
	and->op = IMAP_SK_AND;
	kids = pool_alloc(c->pool, cap * sizeof(*kids));
	while (pos < count) {
		if (n == cap) {
			grown = pool_alloc(c->pool, 2 * cap * sizeof(*kids));
			memcpy(grown, kids, n * sizeof(*kids));
			kids = grown;
			cap *= 2;
		}
		if (parse_key(c, args, count, &pos, depth, &kids[n]) == -1)
			return -1;
		n++;
	}
	and->kids = kids;
	and->nkids = n;
	return 0;
}

static int
parse_key(struct pctx *c, const struct imap_arg *args, size_t count,
    size_t *pos, unsigned depth, struct imap_search_key *k)
{
	const struct imap_arg *a = &args[*pos], *list;
	const struct key_def *def;
	const char *s, *error;
	size_t n;

	memset(k, 0, sizeof(*k));
	if (depth >= IMAP_SEARCH_DEPTH_MAX)
		return fail(c, "Search program too deeply nested");
	(*pos)++;
	if (imap_arg_list(a, &list, &n)) {
		if (n == 0)
			return fail(c, "Empty list in search program");
		return parse_keys(c, list, n, depth + 1, k);
	}
	if (!imap_arg_atom(a, &s))
		return fail(c, "Search keys must be atoms");
	if ((def = find_key(s, a->len)) != NULL)
		return parse_arg(c, def, args, count, pos, depth, k);
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || s[0] == '$') {
		k->op = IMAP_SK_SEQSET;
		imap_seqset_init(&k->seqs, c->pool, 0);
		imap_seqset_init(&k->seqs_resolved, c->pool, 0);
		if (imap_seqset_parse(&k->seqs, s, a->len, &error) == -1)
			return fail(c, error);
		c->search->uses_seqset = true;
		return 0;
	}
	return fail(c, pool_printf(c->pool, "Unknown search key %.*s",
	    (int)(a->len > SHOW_MAX ? SHOW_MAX : a->len), s));
}

/* The arguments that def takes, from args[*pos]. */
static int
parse_arg(struct pctx *c, const struct key_def *def,
    const struct imap_arg *args, size_t count, size_t *pos, unsigned depth,
    struct imap_search_key *k)
{
	const struct imap_arg *a = *pos < count ? &args[*pos] : NULL;
	const char *s, *v, *error;
	size_t len, vlen, i;

	k->op = def->op;
	k->set = def->set;
	k->unset = def->unset;
	switch (def->arg) {
	case A_NONE:
		return 0;
	case A_STRING:
		if (!imap_arg_astring(a, &s, &len))
			return fail(c, pool_printf(c->pool, "%s needs a string",
			    def->name));
		(*pos)++;
		k->str = def->field;
		k->value = s;
		needle_init(&k->needle, s, len, c->pool);
		c->search->uses_text = true;
		return 0;
	case A_HEADER:
		if (!imap_arg_astring(a, &s, &len) || *pos + 1 >= count ||
		    !imap_arg_astring(&args[*pos + 1], &v, &vlen))
			return fail(c, "HEADER needs a field name and a string");
		if (len == 0 || len > FIELD_NAME_MAX)
			return fail(c, "Invalid header field name");
		for (i = 0; i < len; i++)
			if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':')
				return fail(c, "Invalid header field name");
		*pos += 2;
		k->str = s;
		k->value = v;
		needle_init(&k->needle, v, vlen, c->pool);
		c->search->uses_text = true;
		return 0;
	case A_DATE:
		if (!imap_arg_astring(a, &s, &len))
			return fail(c, pool_printf(c->pool, "%s needs a date",
			    def->name));
		if (imap_date_parse(s, len, &k->day) == -1)
			return fail(c, pool_printf(c->pool, "Invalid date for "
			    "%s (d-Mon-yyyy)", def->name));
		(*pos)++;
		if (def->op == IMAP_SK_SENTBEFORE || def->op == IMAP_SK_SENTON
		    || def->op == IMAP_SK_SENTSINCE)
			c->search->uses_text = true;
		return 0;
	case A_NUMBER:
		if (!imap_arg_number64(a, &k->size))
			return fail(c, pool_printf(c->pool, "%s needs a number",
			    def->name));
		(*pos)++;
		return 0;
	case A_SEQSET:
		if (!imap_arg_atom(a, &s))
			return fail(c, "UID needs a sequence set");
		imap_seqset_init(&k->seqs, c->pool, 0);
		imap_seqset_init(&k->seqs_resolved, c->pool, 0);
		if (imap_seqset_parse(&k->seqs, s, a->len, &error) == -1)
			return fail(c, error);
		(*pos)++;
		return 0;
	case A_KEYWORD:
		if (!imap_arg_atom(a, &s))
			return fail(c, pool_printf(c->pool, "%s needs a keyword",
			    def->name));
		if (!imap_keyword_valid(s, a->len))
			return fail(c, pool_printf(c->pool, "Invalid keyword "
			    "for %s", def->name));
		(*pos)++;
		k->str = s;
		return 0;
	case A_KEY:
	case A_KEY2:
		k->nkids = def->arg == A_KEY ? 1 : 2;
		k->kids = pool_alloc(c->pool, k->nkids * sizeof(*k->kids));
		for (i = 0; i < k->nkids; i++) {
			if (*pos >= count)
				return fail(c, def->arg == A_KEY ?
				    "NOT needs a search key" :
				    "OR needs two search keys");
			if (parse_key(c, args, count, pos, depth + 1,
			    &k->kids[i]) == -1)
				return -1;
		}
		return 0;
	}
	return fail(c, "Invalid search key");
}

/* The cost of evaluating k; the kids of an AND are sorted by it (stable,
 * so equal keys keep the client's order). */
static unsigned
order(struct imap_search_key *k)
{
	struct imap_search_key t;
	unsigned cost = 0;
	size_t i, j;

	switch (k->op) {
	case IMAP_SK_AND:
	case IMAP_SK_OR:
	case IMAP_SK_NOT:
		for (i = 0; i < k->nkids; i++) {
			cost += order(&k->kids[i]);
			if (cost > 1000000)
				cost = 1000000;
		}
		if (k->op == IMAP_SK_AND)
			for (i = 1; i < k->nkids; i++) {
				t = k->kids[i];
				for (j = i; j > 0 &&
				    k->kids[j - 1].cost > t.cost; j--)
					k->kids[j] = k->kids[j - 1];
				k->kids[j] = t;
			}
		break;
	case IMAP_SK_HEADER:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		cost = 10;
		break;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		cost = 100;
		break;
	default:
		cost = 1;
	}
	k->cost = cost;
	return cost;
}

static void
prepare(struct imap_search_key *k, uint32_t count, uint32_t max_uid)
{
	size_t i;

	if (k->op == IMAP_SK_SEQSET)
		imap_seqset_resolve(&k->seqs, count, &k->seqs_resolved);
	else if (k->op == IMAP_SK_UID)
		imap_seqset_resolve(&k->seqs, max_uid, &k->seqs_resolved);
	for (i = 0; i < k->nkids; i++)
		prepare(&k->kids[i], count, max_uid);
}

void
imap_search_prepare(struct imap_search *search, uint32_t count,
    uint32_t max_uid)
{
	prepare(&search->root, count, max_uid);
}

static int
visit_match(void *vctx, const char *s, size_t len)
{
	struct match_ctx *mc = vctx;

	if (needle_match(mc->needle, s, len)) {
		mc->found = true;
		return 1;
	}
	return 0;
}

/* The first Date: field only. */
static int
visit_day(void *vctx, const char *s, size_t len)
{
	struct day_ctx *dc = vctx;

	dc->first_seen = true;
	dc->found = imap_rfc5322_day(s, len, &dc->day) == 0;
	return 1;
}

static int
sent_day(const struct imap_search_msg *m, int64_t *day_r)
{
	struct day_ctx dc;

	memset(&dc, 0, sizeof(dc));
	if (m->header == NULL ||
	    m->header(m->ctx, "Date", visit_day, &dc) == -1)
		return -1;
	*day_r = dc.found ? dc.day : imap_local_day(m->internal_date);
	return 0;
}

static int
eval(const struct imap_search_key *k, const struct imap_search_msg *m)
{
	struct match_ctx mc;
	int64_t day;
	size_t i;
	int r;

	switch (k->op) {
	case IMAP_SK_ALL:
		return 1;
	case IMAP_SK_AND:
		for (i = 0; i < k->nkids; i++)
			if ((r = eval(&k->kids[i], m)) != 1)
				return r;
		return 1;
	case IMAP_SK_OR:
		if ((r = eval(&k->kids[0], m)) != 0)
			return r;
		return eval(&k->kids[1], m);
	case IMAP_SK_NOT:
		if ((r = eval(&k->kids[0], m)) == -1)
			return -1;
		return !r;
	case IMAP_SK_FLAGS:
		return (m->flags & k->set) == k->set &&
		    (m->flags & k->unset) == 0;
	case IMAP_SK_KEYWORD:
	case IMAP_SK_UNKEYWORD:
		r = m->has_keyword != NULL && m->has_keyword(m->ctx, k->str);
		return k->op == IMAP_SK_KEYWORD ? r : !r;
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		if (k->op != IMAP_SK_HEADER && k->needle.n == 0)
			return 1;
		mc.needle = &k->needle;
		mc.found = false;
		if (k->op == IMAP_SK_HEADER)
			r = m->header != NULL ? m->header(m->ctx, k->str,
			    visit_match, &mc) : -1;
		else
			r = m->text != NULL ? m->text(m->ctx,
			    k->op == IMAP_SK_TEXT, visit_match, &mc) : -1;
		return r == -1 ? -1 : mc.found;
	case IMAP_SK_BEFORE:
		return imap_local_day(m->internal_date) < k->day;
	case IMAP_SK_ON:
		return imap_local_day(m->internal_date) == k->day;
	case IMAP_SK_SINCE:
		return imap_local_day(m->internal_date) >= k->day;
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		if (sent_day(m, &day) == -1)
			return -1;
		if (k->op == IMAP_SK_SENTBEFORE)
			return day < k->day;
		if (k->op == IMAP_SK_SENTON)
			return day == k->day;
		return day >= k->day;
	case IMAP_SK_LARGER:
		return m->size > k->size;
	case IMAP_SK_SMALLER:
		return m->size < k->size;
	case IMAP_SK_SEQSET:
		return imap_seqset_contains(&k->seqs_resolved, m->seq);
	case IMAP_SK_UID:
		return imap_seqset_contains(&k->seqs_resolved, m->uid);
	}
	return -1;
}

int
imap_search_match(const struct imap_search *search,
    const struct imap_search_msg *msg)
{
	return eval(&search->root, msg);
}
