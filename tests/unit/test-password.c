/* test-password: new hashes are yescrypt and verify; the crypt(3) formats
 * of other tools verify, with or without a Dovecot scheme prefix; other
 * schemes, garbage and wrong passwords never verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <crypt.h>

#include "directory/password.h"

/* openssl passwd -6 -salt abcdefgh secret */
#define SHA512_SECRET \
	"$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."
/* openssl passwd -5 -salt abcdefgh secret */
#define SHA256_SECRET \
	"$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM."
/* python3 -c "import crypt; print(crypt.crypt('secret',
 *     '\$2b\$05\$abcdefghijklmnopqrstuu'))" */
#define BCRYPT_SECRET \
	"$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a"

static void
test_yescrypt_round_trip(void **state)
{
	const char *error = NULL;
	char *hash = NULL;

	(void)state;
	assert_int_equal(password_hash("correct horse", &hash, &error), 0);
	assert_non_null(hash);
	assert_memory_equal(hash, "$y$", 3);
	assert_true(password_verify("correct horse", hash));
	free(hash);
}

static void
test_two_hashes_differ(void **state)
{
	const char *error;
	char *a, *b;

	(void)state;
	assert_int_equal(password_hash("same", &a, &error), 0);
	assert_int_equal(password_hash("same", &b, &error), 0);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
test_wrong_password_false(void **state)
{
	const char *error;
	char *hash;

	(void)state;
	assert_int_equal(password_hash("secret", &hash, &error), 0);
	assert_false(password_verify("Secret", hash));
	assert_false(password_verify("secret ", hash));
	assert_false(password_verify("", hash));
	free(hash);
}

static void
test_empty_password_refused(void **state)
{
	const char *error = NULL;
	char *hash = NULL;

	(void)state;
	assert_int_equal(password_hash("", &hash, &error), -1);
	assert_null(hash);
	assert_non_null(error);
}

static void
test_sha512_crypt_verifies(void **state)
{
	(void)state;
	assert_true(password_verify("secret", SHA512_SECRET));
	assert_false(password_verify("secreT", SHA512_SECRET));
}

static void
test_sha256_crypt_verifies(void **state)
{
	(void)state;
	assert_true(password_verify("secret", SHA256_SECRET));
	assert_false(password_verify("other", SHA256_SECRET));
}

static void
test_bcrypt_verifies(void **state)
{
	(void)state;
	assert_true(password_verify("secret", BCRYPT_SECRET));
	assert_false(password_verify("other", BCRYPT_SECRET));
}

static void
test_dovecot_prefixes_accepted(void **state)
{
	(void)state;
	assert_true(password_verify("secret", "{SHA512-CRYPT}" SHA512_SECRET));
	assert_true(password_verify("secret", "{sha512-crypt}" SHA512_SECRET));
	assert_true(password_verify("secret", "{SHA256-CRYPT}" SHA256_SECRET));
	assert_true(password_verify("secret", "{BLF-CRYPT}" BCRYPT_SECRET));
	assert_true(password_verify("secret", "{CRYPT}" SHA512_SECRET));
	assert_false(password_verify("wrong", "{SHA512-CRYPT}" SHA512_SECRET));
}

static void
test_yescrypt_prefix_accepted(void **state)
{
	const char *error;
	char *hash, *prefixed;
	size_t len;

	(void)state;
	assert_int_equal(password_hash("pw", &hash, &error), 0);
	len = strlen("{YESCRYPT}") + strlen(hash) + 1;
	prefixed = malloc(len);
	assert_non_null(prefixed);
	assert_true(snprintf(prefixed, len, "{YESCRYPT}%s", hash) ==
	    (int)len - 1);
	assert_true(password_verify("pw", prefixed));
	free(prefixed);
	free(hash);
}

static void
test_other_schemes_refused(void **state)
{
	char md5[CRYPT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *out;

	(void)state;
	assert_false(password_verify("secret", "{PLAIN}secret"));
	assert_false(password_verify("secret", "{CLEARTEXT}secret"));
	assert_false(password_verify("secret",
	    "{SSHA}2b7f0e9a5dde0b6a1a3f4d1e8f6b2c2d3e4f5a6b"));
	assert_false(password_verify("secret", "{MD5-CRYPT}$1$abc$def"));
	assert_false(password_verify("secret", "{SHA512-CRYPT"));
	assert_false(password_verify("secret", "{}" SHA512_SECRET));

	/* A real MD5-crypt hash of the right password: still refused. */
	cd = calloc(1, sizeof(*cd));
	assert_non_null(cd);
	out = crypt_rn("secret", "$1$abcdefgh$", cd, (int)sizeof(*cd));
	if (out != NULL && out[0] == '$') {
		assert_true(snprintf(md5, sizeof(md5), "%s", out) <
		    (int)sizeof(md5));
		assert_false(password_verify("secret", md5));
	}
	free(cd);
}

static void
test_garbage_hash_false(void **state)
{
	(void)state;
	assert_false(password_verify("secret", ""));
	assert_false(password_verify("secret", "*"));
	assert_false(password_verify("secret", "!"));
	assert_false(password_verify("secret", "$6$"));
	assert_false(password_verify("secret", "$6$abcdefgh$"));
	assert_false(password_verify("secret", "$y$garbage"));
	assert_false(password_verify("secret", "$2b$05$short"));
	assert_false(password_verify("secret", "secret"));
	assert_false(password_verify("ab", "abJnggxhB/yWI")); /* DES crypt */
	assert_false(password_verify(NULL, SHA512_SECRET));
	assert_false(password_verify("secret", NULL));
}

static void
test_truncated_hash_false(void **state)
{
	char *cut;

	(void)state;
	cut = strndup(SHA512_SECRET, strlen(SHA512_SECRET) - 1);
	assert_non_null(cut);
	assert_false(password_verify("secret", cut));
	free(cut);
}

static void
test_overlong_password_refused(void **state)
{
	const char *error;
	char *big, *hash = NULL;

	(void)state;
	big = malloc(4096);
	assert_non_null(big);
	memset(big, 'a', 4095);
	big[4095] = '\0';
	assert_int_equal(password_hash(big, &hash, &error), -1);
	assert_false(password_verify(big, SHA512_SECRET));
	password_verify_dummy(big);
	free(big);
}

static void
test_dummy_runs(void **state)
{
	(void)state;
	password_verify_dummy("whatever");
	password_verify_dummy("");
	password_verify_dummy(NULL);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		{ "new hashes are yescrypt and verify",
		    test_yescrypt_round_trip, NULL, NULL, NULL },
		{ "two hashes of one password differ (salt)",
		    test_two_hashes_differ, NULL, NULL, NULL },
		{ "wrong password does not verify",
		    test_wrong_password_false, NULL, NULL, NULL },
		{ "empty password cannot be hashed",
		    test_empty_password_refused, NULL, NULL, NULL },
		{ "openssl SHA512-CRYPT hash verifies",
		    test_sha512_crypt_verifies, NULL, NULL, NULL },
		{ "openssl SHA256-CRYPT hash verifies",
		    test_sha256_crypt_verifies, NULL, NULL, NULL },
		{ "bcrypt $2b$ hash verifies",
		    test_bcrypt_verifies, NULL, NULL, NULL },
		{ "Dovecot crypt scheme prefixes are accepted",
		    test_dovecot_prefixes_accepted, NULL, NULL, NULL },
		{ "{YESCRYPT} prefix is accepted",
		    test_yescrypt_prefix_accepted, NULL, NULL, NULL },
		{ "PLAIN, SSHA and MD5-CRYPT never verify",
		    test_other_schemes_refused, NULL, NULL, NULL },
		{ "garbage hashes never verify",
		    test_garbage_hash_false, NULL, NULL, NULL },
		{ "a truncated hash does not verify",
		    test_truncated_hash_false, NULL, NULL, NULL },
		{ "over-long passwords are refused",
		    test_overlong_password_refused, NULL, NULL, NULL },
		{ "dummy verification runs for any input",
		    test_dummy_runs, NULL, NULL, NULL },
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
