/* header-address: address lists with their display names, routes and
 * groups, for the IMAP ENVELOPE (see header.h).
 *
 * mail/address.c splits a list too, but for sending: it keeps only the
 * addresses and refuses what is malformed. ENVELOPE needs every part of
 * every mailbox and must show something for any header, so this parser
 * is lenient: it never fails, and what it cannot find is NULL.
 *
 * Two passes over (value, len): the value becomes tokens (atoms, quoted
 * strings, comments, domain literals, specials), then the tokens become
 * addresses. Both are linear; the token array holds at most
 * TOKENS_PER_ADDR per address wanted (and one per input octet), and at
 * most max_addrs addresses are produced. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"

enum tok_type {
	TOK_ATOM,
	TOK_QSTR,	/* s: between the quotes, escapes kept */
	TOK_COMMENT,	/* s: between the parentheses */
	TOK_DLIT,	/* s: "[...]" with the brackets */
	TOK_SPECIAL,	/* one of < > : ; @ , . */
};

struct tok {
	enum tok_type	 type;
	const char	*s;
	size_t		 len;
};

struct aparse {
	struct pool		*pool;
	struct tok		*t;
	size_t			 n;
	size_t			 max;
	size_t			 count;
	struct header_address	*head;
	struct header_address	**tail;
};

static size_t	tokenize(const char *s, size_t len, struct tok *t,
		    size_t max);
static bool	is_special(const struct tok *t, char c);
static void	append_text(struct buf *b, const struct tok *t);
static char	*join(struct pool *pool, const struct tok *t, size_t n,
		    bool words);
static struct header_address *emit(struct aparse *ap,
		    enum header_addr_kind kind);
static void	addr_spec(struct aparse *ap, size_t from, size_t to,
		    struct header_address *a);
static size_t	parse_item(struct aparse *ap, size_t i, bool *in_group);

#define SPECIALS	"<>:;@,."
/* Tokens kept per address wanted: a long display name and route fit. */
#define TOKENS_PER_ADDR		64
#define TOKENS_PER_ADDR_MAX	(SIZE_MAX / sizeof(struct tok) / \
				    TOKENS_PER_ADDR)

/* Returns the number of tokens written to t, at most max; the text after
 * the last of them is ignored. */
static size_t
tokenize(const char *s, size_t len, struct tok *t, size_t max)
{
	size_t i = 0, n = 0, start, depth;

	while (i < len && n < max) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n' || s[i] == '\0') {
			i++;
			continue;
		}
		start = i;
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\' && i + 1 < len)
					i++;
			t[n++] = (struct tok){ TOK_QSTR, s + start + 1,
			    (i < len ? i : len) - start - 1 };
			i++;
		} else if (s[i] == '(') {
			for (depth = 0; i < len; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0)
					break;
			}
			t[n++] = (struct tok){ TOK_COMMENT, s + start + 1,
			    (i < len ? i : len) - start - 1 };
			i++;
		} else if (s[i] == '[') {
			for (i++; i < len && s[i] != ']'; i++)
				if (s[i] == '\\' && i + 1 < len)
					i++;
			if (i < len)
				i++;
			t[n++] = (struct tok){ TOK_DLIT, s + start, i - start };
		} else if (strchr(SPECIALS, s[i]) != NULL) {
			t[n++] = (struct tok){ TOK_SPECIAL, s + i, 1 };
			i++;
		} else {
			while (i < len && strchr(SPECIALS " \t\r\n\"()[\\",
			    s[i]) == NULL && s[i] != '\0')
				i++;
			if (i == start)
				i++;	/* a lone '\\' or ']' */
			t[n++] = (struct tok){ TOK_ATOM, s + start, i - start };
		}
	}
	return n;
}

static bool
is_special(const struct tok *t, char c)
{
	return t->type == TOK_SPECIAL && t->s[0] == c;
}

/* A token's text: quoted strings and comments without their escapes. */
static void
append_text(struct buf *b, const struct tok *t)
{
	size_t i;

	if (t->type != TOK_QSTR && t->type != TOK_COMMENT) {
		(void)!buf_append(b, t->s, t->len);
		return;
	}
	for (i = 0; i < t->len; i++) {
		if (t->s[i] == '\\' && i + 1 < t->len)
			i++;
		if (t->s[i] != '\0' && t->s[i] != '\r' && t->s[i] != '\n')
			(void)!buf_append(b, &t->s[i], 1);
	}
}

/* The text of tokens t[0..n) (comments skipped unless alone): as words
 * separated by one space (a display name), or run together (a local
 * part, a domain). NULL when empty, except for a quoted "" address. */
static char *
join(struct pool *pool, const struct tok *t, size_t n, bool words)
{
	struct buf b;
	size_t i, total = 0;
	char *s = NULL;
	bool sep = false;

	for (i = 0; i < n; i++)
		total += t[i].len + 1;
	buf_init(&b, total + 1);
	for (i = 0; i < n; i++) {
		if (t[i].type == TOK_COMMENT && n > 1)
			continue;
		if (words && sep && !is_special(&t[i], '.'))
			(void)!buf_append(&b, " ", 1);
		append_text(&b, &t[i]);
		sep = true;
	}
	if (b.len > 0 || (!words && n > 0 && t[0].type == TOK_QSTR))
		s = pool_strndup(pool, buf_cstr(&b), b.len);
	buf_deinit(&b);
	return s;
}

static struct header_address *
emit(struct aparse *ap, enum header_addr_kind kind)
{
	struct header_address *a;

	a = pool_alloc(ap->pool, sizeof(*a));
	a->kind = kind;
	*ap->tail = a;
	ap->tail = &a->next;
	ap->count++;
	return a;
}

/* local "@" domain from tokens [from, to); the last '@' splits. */
static void
addr_spec(struct aparse *ap, size_t from, size_t to,
    struct header_address *a)
{
	size_t at = to, i;

	for (i = from; i < to; i++)
		if (is_special(&ap->t[i], '@'))
			at = i;
	a->mailbox = join(ap->pool, ap->t + from, at - from, false);
	if (at < to)
		a->domain = join(ap->pool, ap->t + at + 1, to - at - 1, false);
}

/* One item from token i: a mailbox, the start of a group, or nothing.
 * Returns the index of the token that ended it (',' ';' ':'), or n. */
static size_t
parse_item(struct aparse *ap, size_t i, bool *in_group)
{
	struct header_address *a;
	size_t start = i, lt = 0, gt = 0, colon, k, atoms = 0, dots = 0;
	size_t limit;
	const struct tok *comment = NULL;
	bool angle = false, at = false, other = false;

	/* Inside a group, keep room for its end. */
	limit = *in_group ? ap->max - 1 : ap->max;
	for (; i < ap->n; i++) {
		const struct tok *t = &ap->t[i];

		if (t->type == TOK_COMMENT) {
			comment = t;
			continue;
		}
		if (is_special(t, ',') || is_special(t, ';'))
			break;
		if (is_special(t, ':') && !angle && !at && !*in_group) {
			if (ap->count + 2 > ap->max)
				return ap->n;
			a = emit(ap, HEADER_ADDR_GROUP_START);
			a->name = join(ap->pool, ap->t + start, i - start,
			    true);
			*in_group = true;
			return i;	/* the caller steps over the ':' */
		}
		if (is_special(t, '<') && !angle) {
			angle = true;
			lt = i;
			for (gt = i + 1; gt < ap->n &&
			    !is_special(&ap->t[gt], '>'); gt++)
				;
			i = gt < ap->n ? gt : ap->n - 1;
			continue;
		}
		if (is_special(t, '@'))
			at = true;
		else if (is_special(t, '.'))
			dots++;
		else if (t->type == TOK_ATOM)
			atoms++;
		else
			other = true;
	}
	if (ap->count >= limit)
		return i;
	a = NULL;
	if (angle) {
		a = emit(ap, HEADER_ADDR_MAILBOX);
		a->name = join(ap->pool, ap->t + start, lt - start, true);
		/* "<@a,@b:local@domain>": the route ends at the last ':'. */
		for (colon = k = lt + 1; k < gt; k++)
			if (is_special(&ap->t[k], ':'))
				colon = k + 1;
		if (colon > lt + 1)
			a->route = join(ap->pool, ap->t + lt + 1,
			    colon - 1 - (lt + 1), false);
		addr_spec(ap, colon, gt, a);
	} else if (at || (!other && atoms > 0 && atoms == dots + 1)) {
		/* An address, or a bare local part ("root"). */
		a = emit(ap, HEADER_ADDR_MAILBOX);
		addr_spec(ap, start, i, a);
	} else if (atoms > 0 || other) {
		/* Words and no address: a name without a mailbox. */
		a = emit(ap, HEADER_ADDR_MAILBOX);
		a->name = join(ap->pool, ap->t + start, i - start, true);
	}
	if (a != NULL && a->name == NULL && comment != NULL)
		a->name = join(ap->pool, comment, 1, true);
	return i;
}

struct header_address *
header_address_parse(struct pool *pool, const char *value, size_t len,
    size_t max_addrs)
{
	struct aparse ap;
	bool in_group = false;
	size_t i = 0, max_tok;

	memset(&ap, 0, sizeof(ap));
	ap.pool = pool;
	ap.max = max_addrs;
	ap.tail = &ap.head;
	if (len == 0 || max_addrs == 0)
		return NULL;
	/* Room for max_addrs long addresses, not one token per octet of a
	 * huge header. */
	max_tok = max_addrs < TOKENS_PER_ADDR_MAX ? max_addrs *
	    TOKENS_PER_ADDR : SIZE_MAX / sizeof(*ap.t);
	if (max_tok > len)
		max_tok = len;
	ap.t = pool_alloc(pool, max_tok * sizeof(*ap.t));
	ap.n = tokenize(value, len, ap.t, max_tok);
	while (i < ap.n) {
		i = parse_item(&ap, i, &in_group);
		if (i >= ap.n)
			break;
		if (is_special(&ap.t[i], ';') && in_group) {
			emit(&ap, HEADER_ADDR_GROUP_END);
			in_group = false;
		}
		i++;
	}
	if (in_group)
		emit(&ap, HEADER_ADDR_GROUP_END);
	return ap.head;
}
