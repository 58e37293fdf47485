/* test-mutf7: imap/mutf7.c. The RFC 3501 examples, round trips through
 * both directions, every refusal of a non-canonical or malformed name
 * with its text, control characters, the output bound, and the strict
 * UTF-8 decoder the other IMAP parsers use. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "imap/mutf7.h"
#include "lib/buf.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

struct pair {
	const char	*utf8;
	const char	*mutf7;
};

struct bad {
	const char	*in;
	const char	*error;
};

static void	 test_pairs(void **state);
static void	 test_decode_errors(void **state);
static void	 test_encode_errors(void **state);
static void	 test_bound(void **state);
static void	 test_utf8(void **state);

static const struct pair pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&", "&-" },
	{ "a&b&&", "a&-b&-&-" },
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	  "\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },	/* RFC 3501 */
	{ "\xe2\x98\xba!", "&Jjo-!" },				/* RFC 3501 */
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "Gel\xc3\xb6schte Objekte", "Gel&APY-schte Objekte" },
	{ "\xc3\xa9", "&AOk-" },
	{ "\xc3\xa9\xc3\xa9", "&AOkA6Q-" },
	{ "\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-" },
	{ "\xc3\xa9 \xc3\xa9", "&AOk- &AOk-" },
	{ "\xc3\xa9&", "&AOk-&-" },
	{ "\xf0\x9f\x93\xa8", "&2D3c6A-" },			/* surrogates */
	{ "x\xf0\x9f\x93\xa8y", "x&2D3c6A-y" },
	{ "\xc2\x80", "&AIA-" },				/* C1 is no C0 */
	{ "\xef\xbf\xbf", "&,,8-" },
	{ "\xf4\x8f\xbf\xbf", "&2,,f,w-" },			/* U+10FFFF */
	{ "+,-/.", "+,-/." },
};

static void
test_pairs(void **state)
{
	struct buf b;
	const char *error;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		buf_init(&b, 1024);
		if (mutf7_encode((const uint8_t *)pairs[i].utf8,
		    strlen(pairs[i].utf8), &b, &error) != 0) {
			print_error("encode %zu: %s\n", i, error);
			fail();
		}
		assert_string_equal(buf_cstr(&b), pairs[i].mutf7);
		buf_reset(&b);
		if (mutf7_decode((const uint8_t *)pairs[i].mutf7,
		    strlen(pairs[i].mutf7), &b, &error) != 0) {
			print_error("decode \"%s\": %s\n", pairs[i].mutf7,
			    error);
			fail();
		}
		assert_string_equal(buf_cstr(&b), pairs[i].utf8);
		buf_deinit(&b);
	}
}

static const struct bad decode_bad[] = {
	{ "a&b", "Unterminated modified UTF-7 shift" },
	{ "a&b!-", "Invalid modified BASE64 character" },
	{ "&", "Unterminated modified UTF-7 shift" },
	{ "&AOk", "Unterminated modified UTF-7 shift" },
	{ "&AOk&-", "Invalid modified BASE64 character" },
	{ "&AO/-", "Invalid modified BASE64 character" },	/* "/" */
	{ "&AO=-", "Invalid modified BASE64 character" },
	{ "&AGE-", "Non-canonical modified UTF-7 (shifted ASCII)" },
	{ "&ACY-", "Non-canonical modified UTF-7 (shifted ASCII)" },
	{ "&AOkAYQ-", "Non-canonical modified UTF-7 (shifted ASCII)" },
	{ "&AOk-&AOk-", "Non-canonical modified UTF-7 (two shifts in a row)" },
	{ "&AOl-", "Non-canonical modified UTF-7 (bad padding)" },
	{ "&AOkA-", "Non-canonical modified UTF-7 (bad padding)" },
	{ "&AOkAA-", "Non-canonical modified UTF-7 (bad padding)" },
	{ "&A-", "Non-canonical modified UTF-7 (bad padding)" },
	{ "&AA-", "Non-canonical modified UTF-7 (bad padding)" },
	{ "&2D0-", "Lone surrogate in modified UTF-7" },
	{ "&3Kg-", "Lone surrogate in modified UTF-7" },
	{ "&3KjYPQ-", "Lone surrogate in modified UTF-7" },	/* reversed */
	{ "&2D0AYQ-", "Lone surrogate in modified UTF-7" },
	{ "&AAA-", "Control character in mailbox name" },	/* U+0000 */
	{ "&AAo-", "Control character in mailbox name" },	/* LF */
	{ "&AH8-", "Control character in mailbox name" },	/* DEL */
	{ "a\tb", "Invalid character in mailbox name" },
	{ "a\x7f", "Invalid character in mailbox name" },
	{ "\xc3\xa9", "Invalid character in mailbox name" },
};

static void
test_decode_errors(void **state)
{
	struct buf b;
	const char *error;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(decode_bad) / sizeof(decode_bad[0]); i++) {
		buf_init(&b, 1024);
		error = NULL;
		if (mutf7_decode((const uint8_t *)decode_bad[i].in,
		    strlen(decode_bad[i].in), &b, &error) != -1) {
			print_error("\"%s\" decoded\n", decode_bad[i].in);
			fail();
		}
		if (strcmp(error, decode_bad[i].error) != 0) {
			print_error("\"%s\": %s\n", decode_bad[i].in, error);
			fail();
		}
		buf_deinit(&b);
	}
	/* A NUL octet is refused too. */
	buf_init(&b, 64);
	assert_int_equal(mutf7_decode((const uint8_t *)"a\0b", 3, &b, &error),
	    -1);
	assert_string_equal(error, "Invalid character in mailbox name");
	buf_deinit(&b);
}

static const struct bad encode_bad[] = {
	{ "\xc3", "Invalid UTF-8 in mailbox name" },
	{ "\xc3(", "Invalid UTF-8 in mailbox name" },
	{ "\xc0\xaf", "Invalid UTF-8 in mailbox name" },	/* overlong */
	{ "\xe0\x80\xaf", "Invalid UTF-8 in mailbox name" },
	{ "\xed\xa0\x80", "Invalid UTF-8 in mailbox name" },	/* surrogate */
	{ "\xf4\x90\x80\x80", "Invalid UTF-8 in mailbox name" },
	{ "\xf8\x88\x80\x80\x80", "Invalid UTF-8 in mailbox name" },
	{ "\x80", "Invalid UTF-8 in mailbox name" },
	{ "\xff", "Invalid UTF-8 in mailbox name" },
	{ "a\nb", "Control character in mailbox name" },
	{ "a\x7f", "Control character in mailbox name" },
	{ "\x01", "Control character in mailbox name" },
};

static void
test_encode_errors(void **state)
{
	struct buf b;
	const char *error;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(encode_bad) / sizeof(encode_bad[0]); i++) {
		buf_init(&b, 1024);
		error = NULL;
		assert_int_equal(mutf7_encode((const uint8_t *)encode_bad[i].in,
		    strlen(encode_bad[i].in), &b, &error), -1);
		assert_string_equal(error, encode_bad[i].error);
		buf_deinit(&b);
	}
}

static void
test_bound(void **state)
{
	struct buf b;
	const char *error;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(mutf7_encode((const uint8_t *)"abcde", 5, &b, &error),
	    0);
	buf_reset(&b);
	assert_int_equal(mutf7_encode((const uint8_t *)"abcdef", 6, &b,
	    &error), -1);
	assert_string_equal(error, "Mailbox name too long");
	assert_true(b.len <= 5);
	buf_reset(&b);
	assert_int_equal(mutf7_encode((const uint8_t *)"abcd&", 5, &b, &error),
	    -1);
	buf_reset(&b);
	assert_int_equal(mutf7_encode((const uint8_t *)"\xc3\xa9\xc3\xa9", 4,
	    &b, &error), -1);
	assert_true(b.len <= 5);
	buf_reset(&b);
	assert_int_equal(mutf7_decode((const uint8_t *)"&AOkA6Q-", 8, &b,
	    &error), 0);
	buf_reset(&b);
	assert_int_equal(mutf7_decode((const uint8_t *)"&AOkA6QDp-", 10, &b,
	    &error), -1);
	assert_string_equal(error, "Mailbox name too long");
	buf_reset(&b);
	assert_int_equal(mutf7_decode((const uint8_t *)"abc&-&-", 7, &b,
	    &error), 0);
	assert_string_equal(buf_cstr(&b), "abc&&");
	buf_reset(&b);
	assert_int_equal(mutf7_decode((const uint8_t *)"abcde&-", 7, &b,
	    &error), -1);
	buf_deinit(&b);
}

static void
test_utf8(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(imap_utf8_decode((const uint8_t *)"a", 1, &cp), 1);
	assert_int_equal(cp, 'a');
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xc3\xa9", 2, &cp),
	    2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xe2\x98\xba", 3,
	    &cp), 3);
	assert_int_equal(cp, 0x263a);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xf4\x8f\xbf\xbf",
	    4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xc3\xa9", 1, &cp),
	    0);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"", 0, &cp), 0);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xc1\xbf", 2, &cp),
	    0);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xed\xbf\xbf", 3,
	    &cp), 0);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xf0\x8f\xbf\xbf",
	    4, &cp), 0);
	assert_int_equal(imap_utf8_decode((const uint8_t *)"\xe2\x98\x3a", 3,
	    &cp), 0);
	assert_true(imap_utf8_valid((const uint8_t *)"", 0));
	assert_true(imap_utf8_valid((const uint8_t *)"a\xc3\xa9z", 4));
	assert_false(imap_utf8_valid((const uint8_t *)"a\xc3", 2));
	assert_true(imap_utf8_valid((const uint8_t *)"a\0b", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("RFC 3501 examples and round trips", test_pairs),
		T("decoding refuses non-canonical and malformed names",
		    test_decode_errors),
		T("encoding refuses bad UTF-8 and controls",
		    test_encode_errors),
		T("the output bound is an error", test_bound),
		T("strict UTF-8 decoding", test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
