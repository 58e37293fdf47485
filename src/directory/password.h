/* password: crypt(3) hashing and verification. New hashes are yescrypt;
 * verification accepts $y$, $7$, $6$, $5$, $2b$/$2y$/$2a$ and the same with a
 * Dovecot-style scheme prefix ({SHA512-CRYPT}, {BLF-CRYPT}, {CRYPT}, ...).
 * Comparison is constant-time; password_verify_dummy() spends the time of a
 * real check so that an unknown user costs the same as a wrong password.
 * Thread-safe (crypt_rn with a per-call buffer). */
#ifndef POSTIE_PASSWORD_H
#define POSTIE_PASSWORD_H

#include <stdbool.h>

int	password_hash(const char *plain, char **hash_r, const char **error_r)
	    __attribute__((warn_unused_result));
bool	password_verify(const char *plain, const char *stored);
void	password_verify_dummy(const char *plain);

#endif
