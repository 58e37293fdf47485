/* test-buf: lib/buf.c, the bounded byte buffer. An append that would pass
 * max fails and leaves the contents as they were; the data is always
 * NUL-terminated; appending byte by byte gives what one append gives. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

/* A named test whose name states the behaviour. */
#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

static void	assert_contents(const struct buf *b, const void *data,
		    size_t len);
static void	test_empty(void **state);
static void	test_append_within_max(void **state);
static void	test_append_past_max(void **state);
static void	test_grow_to_exactly_max(void **state);
static void	test_bytewise_equals_whole(void **state);
static void	test_zero_max(void **state);
static void	test_huge_max(void **state);
static void	test_binary(void **state);
static void	test_printf(void **state);
static void	test_printf_past_max(void **state);
static void	test_consume(void **state);
static void	test_consume_empty(void **state);
static void	test_reset(void **state);

/* b holds exactly data/len, followed by a NUL. */
static void
assert_contents(const struct buf *b, const void *data, size_t len)
{
	assert_int_equal(b->len, len);
	assert_true(b->len <= b->max);
	if (len > 0)
		assert_memory_equal(b->data, data, len);
	assert_int_equal(buf_cstr(b)[len], '\0');
	if (b->data != NULL)
		assert_true(b->cap > b->len);
}

static void
test_empty(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_deinit(&b);
	/* A deinit'ed buffer is empty again and can be deinit'ed twice. */
	assert_null(b.data);
	buf_deinit(&b);

	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append_str(&b, ""), 0);
	assert_contents(&b, "", 0);
	buf_deinit(&b);
}

static void
test_append_within_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_contents(&b, "hello", 5);
	assert_int_equal(buf_append_str(&b, ", world"), 0);
	assert_contents(&b, "hello, world", 12);
	assert_string_equal(buf_cstr(&b), "hello, world");
	buf_deinit(&b);
}

static void
test_append_past_max(void **state)
{
	static const struct {
		const char	*name;
		size_t		 max;
		const char	*first;		/* appended, must fit */
		const char	*second;	/* must not fit */
	} cases[] = {
		{ "one byte past max", 5, "hello", "!" },
		{ "first append already too long", 4, "", "hello" },
		{ "second append crosses max", 8, "hello", "world" },
		{ "max of zero refuses any byte", 0, "", "x" },
		{ "long append past a short max", 10, "abc",
		  "012345678901234567890123456789012345678901234567890123456789"
		  "01234567890123456789012345678901234567890" },
	};
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case \"%s\"\n", cases[i].name);
		buf_init(&b, cases[i].max);
		assert_int_equal(buf_append_str(&b, cases[i].first), 0);
		assert_int_equal(buf_append_str(&b, cases[i].second), -1);
		assert_contents(&b, cases[i].first, strlen(cases[i].first));
		assert_int_equal(buf_append(&b, cases[i].second,
		    strlen(cases[i].second)), -1);
		assert_contents(&b, cases[i].first, strlen(cases[i].first));
		/* An append of SIZE_MAX bytes must not wrap the checks. */
		assert_int_equal(buf_append(&b, "", SIZE_MAX), -1);
		assert_contents(&b, cases[i].first, strlen(cases[i].first));
		buf_deinit(&b);
	}
}

static void
test_grow_to_exactly_max(void **state)
{
	static const size_t maxes[] = { 1, 63, 64, 65, 100, 127, 128, 129,
	    1000, 4096, 65537 };
	struct buf b;
	char *data;
	size_t i, max, chunk, off;

	(void)state;
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		max = maxes[i];
		data = malloc(max);
		assert_non_null(data);
		memset(data, 'a' + (int)(i % 26), max);
		buf_init(&b, max);
		/* Uneven chunks so that growth happens mid-append. */
		for (off = 0, chunk = 7; off < max; off += chunk) {
			if (chunk > max - off)
				chunk = max - off;
			assert_int_equal(buf_append(&b, data + off, chunk), 0);
		}
		assert_contents(&b, data, max);
		assert_true(b.cap <= (max + 1 > 64 ? max + 1 : 64));
		assert_int_equal(buf_append(&b, "x", 1), -1);
		assert_contents(&b, data, max);
		buf_deinit(&b);

		/* And in one append of exactly max bytes. */
		buf_init(&b, max);
		assert_int_equal(buf_append(&b, data, max), 0);
		assert_contents(&b, data, max);
		buf_deinit(&b);
		free(data);
	}
}

static void
test_bytewise_equals_whole(void **state)
{
	static const char text[] = "EHLO mail.example.org\r\n"
	    "MAIL FROM:<a@example.org> SIZE=1000\r\n";
	struct buf whole, bytes;
	size_t i;

	(void)state;
	buf_init(&whole, 256);
	buf_init(&bytes, 256);
	assert_int_equal(buf_append(&whole, text, sizeof(text) - 1), 0);
	for (i = 0; i < sizeof(text) - 1; i++)
		assert_int_equal(buf_append(&bytes, text + i, 1), 0);
	assert_contents(&bytes, whole.data, whole.len);
	buf_deinit(&whole);
	buf_deinit(&bytes);
}

static void
test_zero_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_contents(&b, "", 0);
	buf_deinit(&b);
}

/* SIZE_MAX as max means "no practical limit"; growing must still work. */
static void
test_huge_max(void **state)
{
	struct buf b;
	char data[1000];
	size_t i;

	(void)state;
	memset(data, 'z', sizeof(data));
	buf_init(&b, SIZE_MAX);
	for (i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, data, sizeof(data)), 0);
	assert_int_equal(b.len, 10 * sizeof(data));
	assert_int_equal(buf_cstr(&b)[b.len], '\0');
	buf_deinit(&b);
}

static void
test_binary(void **state)
{
	static const uint8_t data[] = { 0, 1, 0xff, 0, '\r', '\n', 0 };
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, data, sizeof(data)), 0);
	assert_contents(&b, data, sizeof(data));
	buf_deinit(&b);
}

static void
test_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), 0);
	assert_int_equal(buf_printf(&b, " %05u", 7u), 0);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_contents(&b, "n=42 00007", 10);
	assert_int_equal(buf_append_str(&b, "|"), 0);
	assert_int_equal(buf_printf(&b, "%.3s", "abcdef"), 0);
	assert_string_equal(buf_cstr(&b), "n=42 00007|abc");
	buf_deinit(&b);

	/* Output longer than the first allocation. */
	buf_init(&b, 1024);
	assert_int_equal(buf_printf(&b, "%300s", "x"), 0);
	assert_int_equal(b.len, 300);
	assert_int_equal(buf_cstr(&b)[299], 'x');
	assert_int_equal(buf_cstr(&b)[300], '\0');
	buf_deinit(&b);
}

static void
test_printf_past_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_printf(&b, "%s", "12345"), 0);
	/* 12345 + 6789 is 9 bytes and fits; 12345 + 67890 is exactly 10. */
	assert_int_equal(buf_printf(&b, "%d", 67890), 0);
	assert_contents(&b, "1234567890", 10);
	assert_int_equal(buf_printf(&b, "%c", 'x'), -1);
	assert_contents(&b, "1234567890", 10);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s", "abc"), 0);
	assert_int_equal(buf_printf(&b, "%llu", 18446744073709551615ULL), -1);
	assert_contents(&b, "abc", 3);
	assert_int_equal(buf_printf(&b, "%500s", ""), -1);
	assert_contents(&b, "abc", 3);
	buf_deinit(&b);
}

static void
test_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append_str(&b, "HELO a\r\nQUIT\r\n"), 0);
	buf_consume(&b, 0);
	assert_contents(&b, "HELO a\r\nQUIT\r\n", 14);
	buf_consume(&b, 8);
	assert_contents(&b, "QUIT\r\n", 6);
	assert_string_equal(buf_cstr(&b), "QUIT\r\n");
	buf_consume(&b, 6);
	assert_contents(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "");
	/* The room freed by consume can be used again, up to max. */
	assert_int_equal(buf_append(&b, "0123456789012345678901234567890123456"
	    "789012345678901234567890123", 64), 0);
	assert_int_equal(b.len, 64);
	buf_consume(&b, 63);
	assert_contents(&b, "3", 1);
	buf_deinit(&b);
}

static void
test_consume_empty(void **state)
{
	struct buf b;

	(void)state;
	/* Never allocated: consuming nothing must not touch the NULL data. */
	buf_init(&b, 64);
	buf_consume(&b, 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_deinit(&b);
}

static void
test_reset(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	buf_reset(&b);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append_str(&b, "12345678"), 0);
	buf_reset(&b);
	assert_contents(&b, "", 0);
	assert_int_equal(buf_append_str(&b, "abcdefgh"), 0);
	assert_contents(&b, "abcdefgh", 8);
	buf_deinit(&b);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("a new buffer is empty and reads as \"\"", test_empty),
		T("appends within max keep every byte", test_append_within_max),
		T("append past max returns -1 and changes nothing",
		    test_append_past_max),
		T("buffer grows to exactly max and not one byte more",
		    test_grow_to_exactly_max),
		T("appending byte by byte equals one append",
		    test_bytewise_equals_whole),
		T("max of zero holds only the empty string", test_zero_max),
		T("max of SIZE_MAX grows like any other", test_huge_max),
		T("NUL and CR bytes are kept as data", test_binary),
		T("buf_printf appends formatted text", test_printf),
		T("buf_printf past max returns -1 and changes nothing",
		    test_printf_past_max),
		T("buf_consume drops the head and keeps the NUL",
		    test_consume),
		T("buf_consume of nothing on an empty buffer is harmless",
		    test_consume_empty),
		T("buf_reset empties but keeps the buffer usable", test_reset),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
