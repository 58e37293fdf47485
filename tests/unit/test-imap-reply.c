/* test-imap-reply: the pure pieces of the IMAP server's output and input
 * checks: strings (quoted, escaped, or literals), astrings, flag lists,
 * flag bits between imap/flags.h and the store, RFC 5530 response codes
 * for store results, mailbox name arguments (modified UTF-7 in canonical
 * form only, store names only), and the CAPABILITY list in each state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "imap/flags.h"
#include "imap/imap-private.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

struct string_case {
	const char	*in;
	size_t		 len;
	const char	*out;
};

static void	 output_is(struct evbuffer *b, const char *want);
static void	 test_string(void **state);
static void	 test_astring(void **state);
static void	 test_flags(void **state);
static void	 test_flag_bits(void **state);
static void	 test_store_codes(void **state);
static void	 test_mailbox_arg(void **state);
static void	 test_capabilities(void **state);

/* The buffer holds exactly want (then it is emptied). */
static void
output_is(struct evbuffer *b, const char *want)
{
	size_t len = evbuffer_get_length(b);
	char *got = calloc(1, len + 1);

	assert_non_null(got);
	assert_int_equal(evbuffer_remove(b, got, len), (int)len);
	assert_string_equal(got, want);
	free(got);
}

static const struct string_case string_cases[] = {
	{ "hello", 5, "\"hello\"" },
	{ "", 0, "\"\"" },
	{ "say \"hi\"", 8, "\"say \\\"hi\\\"\"" },
	{ "back\\slash", 10, "\"back\\\\slash\"" },
	{ "\"", 1, "\"\\\"\"" },
	{ "two\r\nlines", 10, "{10}\r\ntwo\r\nlines" },
	{ "bare\nlf", 7, "{7}\r\nbare\nlf" },
	{ "caf\xc3\xa9", 5, "{5}\r\ncaf\xc3\xa9" },
};

static void
test_string(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *longs;
	size_t i;

	for (i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++) {
		imap_reply_string(b, string_cases[i].in, string_cases[i].len);
		output_is(b, string_cases[i].out);
	}
	imap_reply_string(b, NULL, 0);
	output_is(b, "NIL");
	/* Past 1024 octets a string goes as a literal even when quotable. */
	longs = malloc(1100 + 16);
	assert_non_null(longs);
	memset(longs, 'a', 1025);
	longs[1025] = '\0';
	imap_reply_string(b, longs, 1024);
	assert_int_equal(evbuffer_get_length(b), 1026);
	evbuffer_drain(b, evbuffer_get_length(b));
	imap_reply_string(b, longs, 1025);
	assert_int_equal(evbuffer_get_length(b), 1025 + 8);
	assert_memory_equal(evbuffer_pullup(b, 8), "{1025}\r\n", 8);
	evbuffer_drain(b, evbuffer_get_length(b));
	free(longs);
	evbuffer_free(b);
}

static void
test_astring(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "INBOX", "INBOX" },
		{ "Sent.2024", "Sent.2024" },
		{ "[Gmail]", "[Gmail]" },
		{ "&AOk-t&AOk-", "&AOk-t&AOk-" },
		{ "NIL", "\"NIL\"" },
		{ "nil", "\"nil\"" },
		{ "", "\"\"" },
		{ "with space", "\"with space\"" },
		{ "a%b", "\"a%b\"" },
		{ "a*", "\"a*\"" },
		{ "(x)", "\"(x)\"" },
		{ "{3}", "\"{3}\"" },
		{ "q\"uote", "\"q\\\"uote\"" },
		{ "back\\", "\"back\\\\\"" },
	};
	struct evbuffer *b = evbuffer_new();
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		imap_reply_astring(b, cases[i].in);
		output_is(b, cases[i].out);
	}
	imap_reply_astring(b, NULL);
	output_is(b, "NIL");
	evbuffer_free(b);
}

static void
test_flags(void **state)
{
	struct evbuffer *b = evbuffer_new();

	imap_reply_flags(b, 0, 0, NULL);
	output_is(b, "()");
	imap_reply_flags(b, STORE_F_SEEN, 0, NULL);
	output_is(b, "(\\Seen)");
	imap_reply_flags(b, STORE_F_ALL | STORE_F_RECENT, 0, NULL);
	output_is(b, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	    "\\Recent)");
	/* Keyword bits need the view's names; without a view none shows. */
	imap_reply_flags(b, STORE_F_DRAFT, 0x3, NULL);
	output_is(b, "(\\Draft)");
	evbuffer_free(b);
}

static void
test_flag_bits(void **state)
{
	static const struct { unsigned imap, store; } pairs[] = {
		{ IMAP_FLAG_SEEN, STORE_F_SEEN },
		{ IMAP_FLAG_ANSWERED, STORE_F_ANSWERED },
		{ IMAP_FLAG_FLAGGED, STORE_F_FLAGGED },
		{ IMAP_FLAG_DELETED, STORE_F_DELETED },
		{ IMAP_FLAG_DRAFT, STORE_F_DRAFT },
		{ IMAP_FLAG_RECENT, STORE_F_RECENT },
	};
	unsigned all_imap = 0, all_store = 0;
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_int_equal(imap_flags_to_store(pairs[i].imap),
		    pairs[i].store);
		assert_int_equal(imap_flags_from_store(pairs[i].store),
		    pairs[i].imap);
		all_imap |= pairs[i].imap;
		all_store |= pairs[i].store;
	}
	assert_int_equal(imap_flags_to_store(all_imap), all_store);
	assert_int_equal(imap_flags_from_store(all_store), all_imap);
	assert_int_equal(imap_flags_to_store(IMAP_FLAGS_SETTABLE), STORE_F_ALL);
	assert_int_equal(imap_flags_to_store(0), 0);
}

static void
test_store_codes(void **state)
{
	assert_string_equal(imap_store_code(STORE_OK, false), "");
	assert_string_equal(imap_store_code(STORE_NONEXISTENT, false),
	    "[NONEXISTENT]");
	assert_string_equal(imap_store_code(STORE_NONEXISTENT, true),
	    "[TRYCREATE]");
	assert_string_equal(imap_store_code(STORE_EXISTS, false),
	    "[ALREADYEXISTS]");
	assert_string_equal(imap_store_code(STORE_BADNAME, false), "[CANNOT]");
	assert_string_equal(imap_store_code(STORE_CANNOT, true), "[CANNOT]");
	assert_string_equal(imap_store_code(STORE_LIMIT, false), "[LIMIT]");
	assert_string_equal(imap_store_code(STORE_EXPUNGED, false),
	    "[EXPUNGEISSUE]");
	assert_string_equal(imap_store_code(STORE_INUSE, false), "[INUSE]");
	assert_string_equal(imap_store_code(STORE_TEMPFAIL, false),
	    "[SERVERBUG]");
	assert_string_equal(imap_store_code(STORE_RESET, false),
	    "[UNAVAILABLE]");
}

static void
test_mailbox_arg(void **state)
{
	static const struct {
		enum imap_arg_type type;
		const char	*in;
		int		 r;
		const char	*canon;
	} cases[] = {
		{ IMAP_ARG_ATOM, "INBOX", 0, "INBOX" },
		{ IMAP_ARG_ATOM, "inbox", 0, "INBOX" },
		{ IMAP_ARG_QUOTED, "InBox", 0, "INBOX" },
		{ IMAP_ARG_QUOTED, "Sent", 0, "Sent" },
		{ IMAP_ARG_QUOTED, "a.b.c", 0, "a.b.c" },
		{ IMAP_ARG_QUOTED, "caf&AOk-", 0, "caf&AOk-" },
		{ IMAP_ARG_LITERAL, "Lists.postie", 0, "Lists.postie" },
		/* modified UTF-7 in its one canonical spelling only */
		{ IMAP_ARG_QUOTED, "caf&AOk", -2, NULL },
		{ IMAP_ARG_QUOTED, "&AGE-", -2, NULL },
		{ IMAP_ARG_QUOTED, "a&b", -2, NULL },
		/* names the store would never take */
		{ IMAP_ARG_QUOTED, "../etc", -2, NULL },
		{ IMAP_ARG_QUOTED, "a/b", -2, NULL },
		{ IMAP_ARG_QUOTED, "/abs", -2, NULL },
		{ IMAP_ARG_QUOTED, ".hidden", -2, NULL },
		{ IMAP_ARG_QUOTED, "a..b", -2, NULL },
		{ IMAP_ARG_QUOTED, "a.", -2, NULL },
		{ IMAP_ARG_QUOTED, "", -2, NULL },
		{ IMAP_ARG_QUOTED, "caf\xc3\xa9", -2, NULL },
		{ IMAP_ARG_QUOTED, "tab\there", -2, NULL },
		/* no astring at all */
		{ IMAP_ARG_LIST, NULL, -1, NULL },
		{ IMAP_ARG_ATOM, "a%", -1, NULL },
	};
	char canon[STORE_NAME_MAX + 1];
	struct imap_arg a;
	const char *error;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.type = cases[i].type;
		a.str = cases[i].in;
		a.len = cases[i].in != NULL ? strlen(cases[i].in) : 0;
		error = NULL;
		r = imap_mailbox_arg(&a, canon, sizeof(canon), &error);
		if (r != cases[i].r)
			fail_msg("%s: got %d, want %d", cases[i].in, r,
			    cases[i].r);
		if (r == 0)
			assert_string_equal(canon, cases[i].canon);
		else
			assert_non_null(error);
	}
	/* A name over the store's limit. */
	{
		char big[STORE_NAME_MAX + 2];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memset(&a, 0, sizeof(a));
		a.type = IMAP_ARG_QUOTED;
		a.str = big;
		a.len = strlen(big);
		assert_int_equal(imap_mailbox_arg(&a, canon, sizeof(canon),
		    &error), -2);
	}
}

static void
test_capabilities(void **state)
{
	struct config cfg;
	struct imap_session s;
	const char *c;

	memset(&cfg, 0, sizeof(cfg));
	memset(&s, 0, sizeof(s));
	s.cfg = &cfg;
	s.state = IMAP_NOT_AUTH;

	/* Not TLS, not loopback: no login before STARTTLS. */
	c = imap_capabilities(&s);
	assert_non_null(strstr(c, "IMAP4rev1"));
	assert_true(strncmp(c, "IMAP4rev1 ", 10) == 0);
	assert_non_null(strstr(c, " STARTTLS"));
	assert_non_null(strstr(c, " LOGINDISABLED"));
	assert_null(strstr(c, "AUTH="));
	assert_false(imap_login_allowed(&s));

	/* Loopback counts only when the configuration says so. */
	s.loopback = true;
	assert_false(imap_login_allowed(&s));
	assert_non_null(strstr(imap_capabilities(&s), "LOGINDISABLED"));
	cfg.plaintext_auth_from_loopback = true;
	assert_true(imap_login_allowed(&s));
	c = imap_capabilities(&s);
	assert_null(strstr(c, "LOGINDISABLED"));
	assert_non_null(strstr(c, " STARTTLS"));
	assert_non_null(strstr(c, " AUTH=PLAIN"));
	assert_non_null(strstr(c, " AUTH=LOGIN"));

	/* Over TLS: logins, no STARTTLS. */
	s.loopback = false;
	cfg.plaintext_auth_from_loopback = false;
	s.tls = true;
	assert_true(imap_login_allowed(&s));
	c = imap_capabilities(&s);
	assert_null(strstr(c, "STARTTLS"));
	assert_null(strstr(c, "LOGINDISABLED"));
	assert_non_null(strstr(c, " AUTH=PLAIN AUTH=LOGIN"));

	/* Logged in: the extensions, no login mechanisms. */
	s.state = IMAP_AUTH;
	c = imap_capabilities(&s);
	assert_null(strstr(c, "AUTH="));
	assert_null(strstr(c, "STARTTLS"));
	assert_null(strstr(c, "LOGINDISABLED"));
	assert_string_equal(c, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE "
	    "NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN LIST-EXTENDED "
	    "LIST-STATUS SPECIAL-USE");
	s.state = IMAP_SELECTED;
	assert_string_equal(imap_capabilities(&s), c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("strings: quoted with escapes, literals for CR, LF, 8-bit "
		    "and length, NIL", test_string),
		T("astrings: atoms when possible, never the atom NIL",
		    test_astring),
		T("flag lists in a fixed order", test_flags),
		T("flag bits between imap/flags.h and the store", test_flag_bits),
		T("store results as RFC 5530 response codes", test_store_codes),
		T("mailbox arguments: canonical modified UTF-7, store names "
		    "only", test_mailbox_arg),
		T("CAPABILITY before and after login, with and without TLS",
		    test_capabilities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
