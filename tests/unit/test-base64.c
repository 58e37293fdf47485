/* test-base64: RFC 4648 vectors both ways, and strictness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/base64.h"

static const struct {
	const char	*plain;
	const char	*encoded;
} vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_rfc4648_vectors_round_trip(void **unused)
{
	uint8_t out[64];
	char enc[64];
	size_t i, n;

	(void)unused;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		base64_encode((const uint8_t *)vectors[i].plain,
		    strlen(vectors[i].plain), enc);
		assert_string_equal(enc, vectors[i].encoded);
		assert_int_equal(base64_decode((const uint8_t *)enc, strlen(enc),
		    out, sizeof(out), &n), 0);
		assert_int_equal(n, strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, n);
	}
}

static void
test_sasl_plain_with_nuls_decodes(void **unused)
{
	static const char enc[] = "AHVzZXJAZXhhbXBsZS5vcmcAc2VjcmV0";
	uint8_t out[64];
	size_t n;

	(void)unused;
	assert_int_equal(base64_decode((const uint8_t *)enc, strlen(enc), out,
	    sizeof(out), &n), 0);
	assert_int_equal(n, 24);
	assert_memory_equal(out, "\0user@example.org\0secret", 24);
}

static void
test_malformed_input_is_refused(void **unused)
{
	static const char *bad[] = { "Zg=", "Zg", "Z===", "Zm9v YmFy",
	    "Zg==Zg==", "Zm9v\r\n", "Zm=v", "====", "Zm9*" };
	uint8_t out[64];
	size_t i, n;

	(void)unused;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode((const uint8_t *)bad[i], strlen(bad[i]), out,
		    sizeof(out), &n) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_output_bound_is_enforced(void **unused)
{
	uint8_t out[5];
	size_t n;

	(void)unused;
	assert_int_equal(base64_decode((const uint8_t *)"Zm9vYmFy", 8, out,
	    sizeof(out), &n), -1);
	assert_int_equal(base64_decode((const uint8_t *)"Zm9vYg==", 8, out,
	    sizeof(out), &n), 0);
	assert_int_equal(n, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors_round_trip),
		cmocka_unit_test(test_sasl_plain_with_nuls_decodes),
		cmocka_unit_test(test_malformed_input_is_refused),
		cmocka_unit_test(test_output_bound_is_enforced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
