/* password: crypt(3) hashing and verification with libxcrypt (see
 * password.h). Called by the CLI (new hashes) and by the authentication
 * code on offload threads (verification), hence crypt_rn() with a
 * per-call struct crypt_data: no static state.
 *
 * Accepted stored forms: $y$ yescrypt, $7$ scrypt, $6$ SHA512-CRYPT,
 * $5$ SHA256-CRYPT, $2b$/$2y$/$2a$ bcrypt, each optionally behind a
 * Dovecot scheme prefix that names a crypt(3) scheme ({SHA512-CRYPT},
 * {SHA256-CRYPT}, {BLF-CRYPT}, {YESCRYPT}, {CRYPT}). Everything else
 * ({PLAIN}, {SSHA}, MD5-CRYPT, DES crypt, garbage) never verifies. A
 * password longer than PASSWORD_MAX never verifies either: SHA-crypt costs
 * grow with the length, and the input may come from the network. */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "directory/password.h"
#include "lib/xalloc.h"

#define PASSWORD_MAX	1024

/* yescrypt of a random string, default cost ("$y$j9T$"), made with
 * crypt_gensalt_ra("$y$", 0, NULL, 0) like every new hash. */
#define PASSWORD_DUMMY_HASH \
	"$y$j9T$QBCgAOVRtlKsIw8OXc7rb1$GG8Vw7qfw5pVUrj1a0cmw22amJYfh8QNXZTjzXxnDJ4"

static const char *strip_scheme(const char *stored);
static bool	   supported_hash(const char *hash);
static bool	   crypt_matches(const char *plain, const char *hash);

/* Dovecot schemes that are plain crypt(3) strings. */
static const char *const password_schemes[] = {
	"SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "YESCRYPT", "CRYPT",
};

/* crypt(3) prefixes we accept: no MD5-crypt, no DES. */
static const char *const password_prefixes[] = {
	"$y$", "$7$", "$6$", "$5$", "$2b$", "$2y$", "$2a$",
};

int
password_hash(const char *plain, char **hash_r, const char **error_r)
{
	struct crypt_data *cd;
	char *setting;
	const char *out;

	if (plain == NULL || *plain == '\0') {
		*error_r = "empty password";
		return -1;
	}
	if (strlen(plain) > PASSWORD_MAX) {
		*error_r = "password too long";
		return -1;
	}
	if ((setting = crypt_gensalt_ra("$y$", 0, NULL, 0)) == NULL) {
		*error_r = "cannot make a yescrypt salt";
		return -1;
	}
	cd = xmalloc(sizeof(*cd));
	out = crypt_rn(plain, setting, cd, (int)sizeof(*cd));
	free(setting);
	if (out == NULL || out[0] == '*') {
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		*error_r = "yescrypt hashing failed";
		return -1;
	}
	*hash_r = xstrdup(out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return 0;
}

bool
password_verify(const char *plain, const char *stored)
{
	const char *hash;

	if (plain == NULL || stored == NULL)
		return false;
	if ((hash = strip_scheme(stored)) == NULL || !supported_hash(hash) ||
	    strlen(plain) > PASSWORD_MAX) {
		/* Spend the time anyway: no hint about the account. */
		password_verify_dummy(plain);
		return false;
	}
	return crypt_matches(plain, hash);
}

void
password_verify_dummy(const char *plain)
{
	/* yescrypt spends its time in the memory-hard part, whatever the
	 * length: an over-long or missing password may stand in as "". */
	if (plain == NULL || strnlen(plain, PASSWORD_MAX + 1) > PASSWORD_MAX)
		plain = "";
	(void)crypt_matches(plain, PASSWORD_DUMMY_HASH);
}

/* The crypt(3) string behind a "{SCHEME}" prefix, or NULL if the scheme is
 * not a crypt(3) one. */
static const char *
strip_scheme(const char *stored)
{
	const char *end;
	size_t i, len;

	if (stored[0] != '{')
		return stored;
	if ((end = strchr(stored, '}')) == NULL)
		return NULL;
	len = (size_t)(end - stored - 1);
	for (i = 0; i < sizeof(password_schemes) / sizeof(password_schemes[0]);
	    i++)
		if (strlen(password_schemes[i]) == len &&
		    strncasecmp(stored + 1, password_schemes[i], len) == 0)
			return end + 1;
	return NULL;
}

static bool
supported_hash(const char *hash)
{
	size_t i;

	for (i = 0; i < sizeof(password_prefixes) /
	    sizeof(password_prefixes[0]); i++)
		if (strncmp(hash, password_prefixes[i],
		    strlen(password_prefixes[i])) == 0)
			return true;
	return false;
}

static bool
crypt_matches(const char *plain, const char *hash)
{
	struct crypt_data *cd;
	const char *out;
	size_t len;
	bool ok = false;

	/* Heap: struct crypt_data is tens of kilobytes. */
	cd = xmalloc(sizeof(*cd));
	out = crypt_rn(plain, hash, cd, (int)sizeof(*cd));
	if (out != NULL && out[0] != '*') {
		len = strlen(hash);
		ok = strlen(out) == len && CRYPTO_memcmp(out, hash, len) == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}
