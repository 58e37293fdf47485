/* test-imap-fetch: imap/imap-fetch-plan.c. FETCH item lists, read through
 * the real command parser, into plans: the response names (canonical
 * sections, partial origins), what each plan needs of a message (nothing
 * for FLAGS and UID, no MIME tree for top-level sections), which items set
 * \Seen, the macros, UID first for UID FETCH, duplicates answered once,
 * every syntax error, and the item limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"
#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/pool.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

#define SZ	IMAP_FETCH_NEED_SIZE
#define DT	IMAP_FETCH_NEED_DATE
#define CT	IMAP_FETCH_NEED_CONTENT
#define HD	IMAP_FETCH_NEED_HEADER
#define MM	IMAP_FETCH_NEED_MIME
#define ST	IMAP_FETCH_NEED_STRUCT

struct plan_case {
	const char	*items;		/* as after "FETCH 1 " */
	bool		 uid;
	const char	*names;		/* "|"-joined; NULL: BAD */
	unsigned	 needs;
	bool		 seen;
	const char	*error;		/* the BAD text (prefix) */
};

static const struct plan_case cases[] = {
	/* memory only */
	{ "FLAGS", false, "FLAGS", 0, false, NULL },
	{ "uid", false, "UID", 0, false, NULL },
	{ "(UID FLAGS)", false, "UID|FLAGS", 0, false, NULL },
	{ "FLAGS", true, "UID|FLAGS", 0, false, NULL },
	{ "(FLAGS UID)", true, "UID|FLAGS", 0, false, NULL },
	{ "(FLAGS FLAGS uid)", false, "FLAGS|UID", 0, false, NULL },
	/* index */
	{ "(RFC822.SIZE INTERNALDATE)", false, "RFC822.SIZE|INTERNALDATE",
	  SZ | DT, false, NULL },
	/* macros */
	{ "ALL", false, "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE",
	  SZ | DT | HD | ST, false, NULL },
	{ "fast", false, "FLAGS|INTERNALDATE|RFC822.SIZE", SZ | DT, false,
	  NULL },
	{ "Full", true, "UID|FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE|BODY",
	  SZ | DT | HD | CT | MM | ST, false, NULL },
	{ "(ALL)", false, NULL, 0, false, "Invalid FETCH item" },
	{ "(FLAGS FAST)", false, NULL, 0, false, "Invalid FETCH item" },
	/* structures */
	{ "ENVELOPE", false, "ENVELOPE", HD | ST, false, NULL },
	{ "BODY", false, "BODY", CT | MM | ST, false, NULL },
	{ "BODYSTRUCTURE", false, "BODYSTRUCTURE", CT | MM | ST, false,
	  NULL },
	/* sections */
	{ "BODY[]", false, "BODY[]", CT, true, NULL },
	{ "BODY.PEEK[]", false, "BODY[]", CT, false, NULL },
	{ "body.peek[header]", false, "BODY[HEADER]", HD, false, NULL },
	{ "BODY[text]", false, "BODY[TEXT]", CT, true, NULL },
	{ "BODY.PEEK[HEADER.FIELDS (From \"To\" x-Y)]<0.100>", false,
	  "BODY[HEADER.FIELDS (FROM TO X-Y)]<0>", HD, false, NULL },
	{ "BODY.PEEK[header.fields.not (Subject)]", false,
	  "BODY[HEADER.FIELDS.NOT (SUBJECT)]", HD, false, NULL },
	{ "BODY[1]", false, "BODY[1]", CT | MM, true, NULL },
	{ "BODY.PEEK[1.2.mime]", false, "BODY[1.2.MIME]", CT | MM, false,
	  NULL },
	{ "BODY.PEEK[2.HEADER.FIELDS (A)]", false,
	  "BODY[2.HEADER.FIELDS (A)]", CT | MM, false, NULL },
	{ "BODY.PEEK[3.TEXT]<7.1>", false, "BODY[3.TEXT]<7>", CT | MM,
	  false, NULL },
	{ "BODY.PEEK[]<4294967295.4294967295>", false,
	  "BODY[]<4294967295>", CT, false, NULL },
	{ "(ENVELOPE BODY.PEEK[])", false, "ENVELOPE|BODY[]", HD | CT | ST,
	  false, NULL },
	/* RFC822 forms keep their names */
	{ "RFC822", false, "RFC822", CT, true, NULL },
	{ "RFC822.HEADER", false, "RFC822.HEADER", HD, false, NULL },
	{ "rfc822.text", false, "RFC822.TEXT", CT, true, NULL },
	{ "(RFC822.SIZE RFC822.HEADER)", false,
	  "RFC822.SIZE|RFC822.HEADER", SZ | HD, false, NULL },
	/* the same section twice: once, \Seen if either sets it */
	{ "(BODY.PEEK[TEXT] BODY[TEXT])", false, "BODY[TEXT]", CT, true,
	  NULL },
	{ "(BODY[1] BODY.PEEK[1] BODY[1]<0.5>)", false,
	  "BODY[1]|BODY[1]<0>", CT | MM, true, NULL },
	{ "(BODY.PEEK[HEADER.FIELDS (a)] BODY.PEEK[HEADER.FIELDS (A)])",
	  false, "BODY[HEADER.FIELDS (A)]", HD, false, NULL },
	/* errors */
	{ "NOT-AN-ITEM", false, NULL, 0, false, "Invalid FETCH item" },
	{ "()", false, NULL, 0, false, "Empty FETCH item list" },
	{ "\"FLAGS\"", false, NULL, 0, false, "Invalid FETCH item" },
	{ "(FLAGS (UID))", false, NULL, 0, false, "Invalid FETCH item" },
	{ "BODY.PEEK", false, NULL, 0, false, "Invalid FETCH item" },
	{ "RFC822.PEEK", false, NULL, 0, false, "Invalid FETCH item" },
	{ "X[1]", false, NULL, 0, false, "Invalid FETCH item" },
	{ "BODYSTRUCTURE[1]", false, NULL, 0, false, "Invalid FETCH item" },
	{ "BODY[HEADER.FIELDS]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[HEADER.FIELDS ()]", false, NULL, 0, false,
	  "Invalid section" },
	{ "BODY[HEADER (A)]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[HEADER.FIELDS (A:)]", false, NULL, 0, false,
	  "Invalid section" },
	{ "BODY[HEADER.FIELDS (A) B]", false, NULL, 0, false,
	  "Invalid section" },
	{ "BODY[HEADER.FIELDS A]", false, NULL, 0, false,
	  "Invalid section" },
	{ "BODY[(A)]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[\"1\"]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[NOT-A-SECTION]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[MIME]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[0]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[1.]", false, NULL, 0, false, "Invalid section" },
	{ "BODY[]<5.>", false, NULL, 0, false, "Invalid partial" },
	{ "BODY[]<x.5>", false, NULL, 0, false, "Invalid partial" },
	{ "BODY[]<0.0>", false, NULL, 0, false, "Invalid partial" },
	{ "BODY[]<5>", false, NULL, 0, false, "Invalid partial" },
	{ "BODY[]<4294967296.1>", false, NULL, 0, false, "Invalid partial" },
	{ "BODY[]x", false, NULL, 0, false, "Invalid partial" },
};

static void	 names_of(const struct imap_fetch_plan *p, struct buf *b);
static int	 parse_items(struct pool *pool, const char *items, bool uid,
		    struct imap_fetch_plan **plan_r, const char **error_r);
static void	 test_cases(void **state);
static void	 test_item_limit(void **state);
static void	 test_sections_kept(void **state);

static void
names_of(const struct imap_fetch_plan *p, struct buf *b)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (i > 0)
			assert_int_equal(buf_append(b, "|", 1), 0);
		assert_int_equal(strlen(p->items[i].name),
		    p->items[i].name_len);
		assert_int_equal(buf_append_str(b, p->items[i].name), 0);
	}
}

/* "t FETCH 1 <items>" through the command parser, then the plan. */
static int
parse_items(struct pool *pool, const char *items, bool uid,
    struct imap_fetch_plan **plan_r, const char **error_r)
{
	struct imap_limits lim;
	struct imap_parser *p;
	const struct imap_cmd *cmd;
	char *line;
	size_t used;
	int r;

	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	line = pool_printf(pool, "t %sFETCH 1 %s\r\n", uid ? "UID " : "",
	    items);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)line,
	    strlen(line), &used), PARSE_DONE);
	assert_int_equal(used, strlen(line));
	cmd = imap_parser_cmd(p);
	assert_non_null(cmd);
	assert_int_equal(cmd->count, 2);
	assert_int_equal(cmd->uid, uid);
	r = imap_fetch_plan_parse(&cmd->args[1], uid, pool, plan_r,
	    error_r);
	imap_parser_free(&p);
	return r;
}

static void
test_cases(void **state)
{
	struct imap_fetch_plan *plan;
	const char *error;
	struct pool *pool;
	struct buf b;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pool = pool_new(NULL);
		r = parse_items(pool, cases[i].items, cases[i].uid, &plan,
		    &error);
		if (cases[i].names == NULL) {
			if (r != -1)
				fail_msg("%s: parsed, want BAD", cases[i].items);
			if (strncmp(error, cases[i].error,
			    strlen(cases[i].error)) != 0)
				fail_msg("%s: error \"%s\", want \"%s\"",
				    cases[i].items, error, cases[i].error);
			pool_free(&pool);
			continue;
		}
		if (r != 0)
			fail_msg("%s: BAD %s", cases[i].items, error);
		buf_init(&b, 4096);
		names_of(plan, &b);
		if (strcmp(buf_cstr(&b), cases[i].names) != 0)
			fail_msg("%s: names %s, want %s", cases[i].items,
			    buf_cstr(&b), cases[i].names);
		buf_deinit(&b);
		if (plan->needs != cases[i].needs)
			fail_msg("%s: needs %#x, want %#x", cases[i].items,
			    plan->needs, cases[i].needs);
		if (plan->sets_seen != cases[i].seen)
			fail_msg("%s: sets_seen %d", cases[i].items,
			    plan->sets_seen);
		pool_free(&pool);
	}
}

/* IMAP_FETCH_ITEMS_MAX different sections fit, one more does not. */
static void
test_item_limit(void **state)
{
	struct imap_fetch_plan *plan;
	struct pool *pool = pool_new(NULL);
	const char *error;
	struct buf b;
	unsigned i;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, "(", 1), 0);
	for (i = 0; i < IMAP_FETCH_ITEMS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%sBODY.PEEK[]<%u.1>",
		    i > 0 ? " " : "", i), 0);
	assert_int_equal(parse_items(pool, pool_printf(pool, "%s)",
	    buf_cstr(&b)), false, &plan, &error), 0);
	assert_int_equal(plan->n, IMAP_FETCH_ITEMS_MAX);
	assert_string_equal(plan->items[999].name, "BODY[]<999>");
	assert_int_equal(parse_items(pool, pool_printf(pool, "%s FLAGS)",
	    buf_cstr(&b)), false, &plan, &error), -1);
	assert_string_equal(error, "Too many FETCH items");
	/* with UID FETCH, the added UID counts too */
	assert_int_equal(parse_items(pool, pool_printf(pool, "%s)",
	    buf_cstr(&b)), true, &plan, &error), -1);
	buf_deinit(&b);
	pool_free(&pool);
}

/* The plan keeps what FETCH runs: the parsed section, the partial
 * range, the field names, peek. */
static void
test_sections_kept(void **state)
{
	const struct imap_fetch_item *it;
	struct imap_fetch_plan *plan;
	struct pool *pool = pool_new(NULL);
	const char *error;

	(void)state;
	assert_int_equal(parse_items(pool, "(BODY.PEEK[1.2.HEADER.FIELDS.NOT "
	    "(Received x)]<10.20> RFC822.TEXT BODY[])", false, &plan, &error),
	    0);
	assert_int_equal(plan->n, 3);
	it = &plan->items[0];
	assert_int_equal(it->kind, IMAP_FETCH_SECTION);
	assert_true(it->peek);
	assert_int_equal(it->sec.nparts, 2);
	assert_int_equal(it->sec.parts[0], 1);
	assert_int_equal(it->sec.parts[1], 2);
	assert_int_equal(it->sec.text, IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_int_equal(it->sec.nfields, 2);
	assert_string_equal(it->sec.fields[0], "Received");
	assert_string_equal(it->sec.fields[1], "x");
	assert_int_equal(it->origin, 10);
	assert_int_equal(it->count, 20);
	it = &plan->items[1];
	assert_false(it->peek);
	assert_int_equal(it->sec.nparts, 0);
	assert_int_equal(it->sec.text, IMAP_SECTION_TEXT);
	assert_true(it->count == UINT64_MAX);
	it = &plan->items[2];
	assert_int_equal(it->sec.text, IMAP_SECTION_BODY);
	assert_false(it->peek);
	assert_false(plan->has_flags);
	assert_int_equal(parse_items(pool, "(FLAGS BODY[])", false, &plan,
	    &error), 0);
	assert_true(plan->has_flags);
	pool_free(&pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("item lists into plans, and every BAD", test_cases),
		T("at most IMAP_FETCH_ITEMS_MAX items", test_item_limit),
		T("sections, partials and peek kept for the run",
		    test_sections_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
