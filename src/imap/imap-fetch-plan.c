/* imap-fetch-plan: a FETCH item list into a plan (see imap-fetch.h).
 * Called by the FETCH handler once per command, before any message is
 * read, so a syntax error never leaves half an answer behind. Bounded:
 * IMAP_FETCH_ITEMS_MAX items, and what imap-body-section.c bounds. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-fetch.h"
#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/pool.h"

#define NAME_MAX_LEN	(64 * 1024)	/* of one response item name */

struct plan_ctx {
	struct pool		*pool;
	struct imap_fetch_plan	*plan;
	size_t			 cap;
	unsigned		 simple;	/* kinds already added */
	const char		*error;
};

static const struct {
	const char		*name;
	enum imap_fetch_kind	 kind;
	unsigned		 needs;
} simple_items[] = {
	{ "UID",		IMAP_FETCH_UID,		0 },
	{ "FLAGS",		IMAP_FETCH_FLAGS,	0 },
	{ "INTERNALDATE",	IMAP_FETCH_INTERNALDATE, IMAP_FETCH_NEED_DATE },
	{ "RFC822.SIZE",	IMAP_FETCH_RFC822_SIZE,	IMAP_FETCH_NEED_SIZE },
	{ "ENVELOPE",		IMAP_FETCH_ENVELOPE,
	  IMAP_FETCH_NEED_HEADER | IMAP_FETCH_NEED_STRUCT },
	{ "BODY",		IMAP_FETCH_BODY,
	  IMAP_FETCH_NEED_CONTENT | IMAP_FETCH_NEED_MIME |
	  IMAP_FETCH_NEED_STRUCT },
	{ "BODYSTRUCTURE",	IMAP_FETCH_BODYSTRUCTURE,
	  IMAP_FETCH_NEED_CONTENT | IMAP_FETCH_NEED_MIME |
	  IMAP_FETCH_NEED_STRUCT },
};
#define NSIMPLE	(sizeof(simple_items) / sizeof(simple_items[0]))

/* RFC 3501 6.4.5: the macros, and the RFC822 forms of sections. */
static const char *const macro_all[] = { "FLAGS", "INTERNALDATE",
	"RFC822.SIZE", "ENVELOPE", NULL };
static const char *const macro_fast[] = { "FLAGS", "INTERNALDATE",
	"RFC822.SIZE", NULL };
static const char *const macro_full[] = { "FLAGS", "INTERNALDATE",
	"RFC822.SIZE", "ENVELOPE", "BODY", NULL };

static struct imap_fetch_item *new_item(struct plan_ctx *c);
static int	add_simple(struct plan_ctx *c, size_t i);
static int	add_section(struct plan_ctx *c, const char *name,
		    const struct imap_section *sec, uint64_t origin,
		    uint64_t count, bool peek);
static int	add_rfc822(struct plan_ctx *c, const char *word);
static int	add_bracketed(struct plan_ctx *c, const struct imap_arg *a);
static int	add_item(struct plan_ctx *c, const struct imap_arg *a);
static int	fail(struct plan_ctx *c, const char *error);

static int
fail(struct plan_ctx *c, const char *error)
{
	c->error = error;
	return -1;
}

static struct imap_fetch_item *
new_item(struct plan_ctx *c)
{
	struct imap_fetch_plan *p = c->plan;
	struct imap_fetch_item *v;

	if (p->n >= IMAP_FETCH_ITEMS_MAX)
		return NULL;
	if (p->n == c->cap) {
		c->cap = c->cap == 0 ? 8 : c->cap * 2;
		if (c->cap > IMAP_FETCH_ITEMS_MAX)
			c->cap = IMAP_FETCH_ITEMS_MAX;
		v = pool_alloc(c->pool, c->cap * sizeof(*v));
		if (p->n > 0)
			memcpy(v, p->items, p->n * sizeof(*v));
		p->items = v;
	}
	v = &p->items[p->n++];
	memset(v, 0, sizeof(*v));
	v->count = UINT64_MAX;
	return v;
}

static int
add_simple(struct plan_ctx *c, size_t i)
{
	struct imap_fetch_item *it;

	if (c->simple & (1U << simple_items[i].kind))
		return 0;
	if ((it = new_item(c)) == NULL)
		return fail(c, "Too many FETCH items");
	c->simple |= 1U << simple_items[i].kind;
	it->kind = simple_items[i].kind;
	it->name = simple_items[i].name;
	it->name_len = strlen(it->name);
	c->plan->needs |= simple_items[i].needs;
	if (it->kind == IMAP_FETCH_FLAGS)
		c->plan->has_flags = true;
	return 0;
}

/* name NULL: "BODY[<section>]<origin>" */
static int
add_section(struct plan_ctx *c, const char *name,
    const struct imap_section *sec, uint64_t origin, uint64_t count,
    bool peek)
{
	struct imap_fetch_item *it;
	struct buf b;
	size_t i;

	if (name == NULL) {
		buf_init(&b, NAME_MAX_LEN);
		if (buf_append(&b, "BODY[", 5) == -1 ||
		    imap_section_append_name(&b, sec) == -1 ||
		    buf_append(&b, "]", 1) == -1 ||
		    (count != UINT64_MAX && buf_printf(&b, "<%llu>",
		    (unsigned long long)origin) == -1)) {
			buf_deinit(&b);
			return fail(c, "Section too long");
		}
		name = pool_strndup(c->pool, (const char *)b.data, b.len);
		buf_deinit(&b);
	}
	/* The same section twice is answered once: sections with the same
	 * name are the same octets. */
	for (i = 0; i < c->plan->n; i++)
		if (c->plan->items[i].kind == IMAP_FETCH_SECTION &&
		    strcmp(c->plan->items[i].name, name) == 0 &&
		    c->plan->items[i].origin == origin &&
		    c->plan->items[i].count == count) {
			if (!peek)
				c->plan->items[i].peek = false;
			c->plan->sets_seen |= !peek;
			return 0;
		}
	if ((it = new_item(c)) == NULL)
		return fail(c, "Too many FETCH items");
	it->kind = IMAP_FETCH_SECTION;
	it->name = name;
	it->name_len = strlen(name);
	it->sec = *sec;
	it->origin = origin;
	it->count = count;
	it->peek = peek;
	if (imap_fetch_section_header_only(sec))
		c->plan->needs |= IMAP_FETCH_NEED_HEADER;
	else
		c->plan->needs |= IMAP_FETCH_NEED_CONTENT;
	if (sec->nparts > 0)
		c->plan->needs |= IMAP_FETCH_NEED_MIME;
	c->plan->sets_seen |= !peek;
	return 0;
}

bool
imap_fetch_section_header_only(const struct imap_section *sec)
{
	return sec->nparts == 0 && (sec->text == IMAP_SECTION_HEADER ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT);
}

static int
add_rfc822(struct plan_ctx *c, const char *word)
{
	struct imap_section sec;

	memset(&sec, 0, sizeof(sec));
	if (strcasecmp(word, "RFC822") == 0)
		return add_section(c, "RFC822", &sec, 0, UINT64_MAX, false);
	if (strcasecmp(word, "RFC822.HEADER") == 0) {
		sec.text = IMAP_SECTION_HEADER;
		return add_section(c, "RFC822.HEADER", &sec, 0, UINT64_MAX,
		    true);
	}
	if (strcasecmp(word, "RFC822.TEXT") == 0) {
		sec.text = IMAP_SECTION_TEXT;
		return add_section(c, "RFC822.TEXT", &sec, 0, UINT64_MAX,
		    false);
	}
	return 1;
}

/* BODY[section]<partial> or BODY.PEEK[section]<partial>. */
static int
add_bracketed(struct plan_ctx *c, const struct imap_arg *a)
{
	const struct imap_arg *fl = NULL;
	struct imap_section sec;
	const char **fields = NULL;
	const char *spec = "", *error;
	uint64_t origin, count;
	size_t speclen = 0, nfields = 0, i, len;
	bool peek;

	if (a->name_len == 4 && strncasecmp(a->str, "BODY", 4) == 0)
		peek = false;
	else if (a->name_len == 9 && strncasecmp(a->str, "BODY.PEEK", 9) == 0)
		peek = true;
	else
		return fail(c, "Invalid FETCH item");
	/* section-spec: nothing, an atom, or an atom and a field list */
	if (a->section_count > 2)
		return fail(c, "Invalid section");
	if (a->section_count >= 1) {
		if (a->section[0].type != IMAP_ARG_ATOM ||
		    a->section[0].bracket)
			return fail(c, "Invalid section");
		spec = a->section[0].str;
		speclen = a->section[0].len;
	}
	if (a->section_count == 2) {
		if (!imap_arg_list(&a->section[1], &fl, &nfields))
			return fail(c, "Invalid section");
		if (nfields > IMAP_SECTION_MAX_FIELDS)
			return fail(c, "Too many header field names");
		fields = pool_alloc(c->pool,
		    (nfields > 0 ? nfields : 1) * sizeof(*fields));
		for (i = 0; i < nfields; i++)
			if (!imap_arg_astring(&fl[i], &fields[i], &len) ||
			    strlen(fields[i]) != len)
				return fail(c, "Invalid header field name");
	}
	if (imap_section_parse(c->pool, spec, speclen, fields, nfields, &sec,
	    &error) == -1)
		return fail(c, pool_printf(c->pool, "Invalid section: %s",
		    error));
	if (imap_section_partial_parse(a->suffix != NULL ? a->suffix : "",
	    &origin, &count) == -1)
		return fail(c, "Invalid partial (<origin.count>)");
	return add_section(c, NULL, &sec, origin, count, peek);
}

static int
add_item(struct plan_ctx *c, const struct imap_arg *a)
{
	const char *word;
	size_t i;
	int r;

	if (a->type == IMAP_ARG_ATOM && a->bracket)
		return add_bracketed(c, a);
	if (!imap_arg_atom(a, &word))
		return fail(c, "Invalid FETCH item");
	for (i = 0; i < NSIMPLE; i++)
		if (strcasecmp(word, simple_items[i].name) == 0)
			return add_simple(c, i);
	if ((r = add_rfc822(c, word)) != 1)
		return r;
	return fail(c, "Invalid FETCH item");
}

int
imap_fetch_plan_parse(const struct imap_arg *arg, bool uid,
    struct pool *pool, struct imap_fetch_plan **plan_r,
    const char **error_r)
{
	const char *const *macro = NULL;
	const struct imap_arg *list;
	struct plan_ctx c;
	const char *word;
	size_t n, i, k;

	memset(&c, 0, sizeof(c));
	c.pool = pool;
	c.plan = pool_alloc(pool, sizeof(*c.plan));
	memset(c.plan, 0, sizeof(*c.plan));
	*plan_r = NULL;
	if (uid) {
		/* UID first, as RFC 3501 7.4.2's examples show it. */
		if (add_simple(&c, 0) == -1)
			goto bad;
	}
	if (arg == NULL) {
		*error_r = "FETCH needs data items";
		return -1;
	}
	if (imap_arg_atom(arg, &word)) {
		if (strcasecmp(word, "ALL") == 0)
			macro = macro_all;
		else if (strcasecmp(word, "FAST") == 0)
			macro = macro_fast;
		else if (strcasecmp(word, "FULL") == 0)
			macro = macro_full;
	}
	if (macro != NULL) {
		for (k = 0; macro[k] != NULL; k++)
			for (i = 0; i < NSIMPLE; i++)
				if (strcmp(macro[k], simple_items[i].name) ==
				    0 && add_simple(&c, i) == -1)
					goto bad;
	} else if (imap_arg_list(arg, &list, &n)) {
		if (n == 0) {
			*error_r = "Empty FETCH item list";
			return -1;
		}
		for (i = 0; i < n; i++)
			if (add_item(&c, &list[i]) == -1)
				goto bad;
	} else if (add_item(&c, arg) == -1)
		goto bad;
	*plan_r = c.plan;
	return 0;
bad:
	*error_r = c.error;
	return -1;
}
