/* base64: strict RFC 4648 encoding and decoding, for SASL exchanges.
 * Decoding refuses anything but the alphabet with correct padding (no
 * white space), so a malformed response is an error, not a guess. */
#ifndef POSTIE_BASE64_H
#define POSTIE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to encode n bytes, with the NUL. */
#define BASE64_ENCODED_LEN(n)	(((n) + 2) / 3 * 4 + 1)

/* Decode into out (at most outmax bytes); -1 on bad input or no room. */
int	base64_decode(const uint8_t *in, size_t len, uint8_t *out,
	    size_t outmax, size_t *outlen_r) __attribute__((warn_unused_result));
/* Encode n bytes into out (BASE64_ENCODED_LEN(n) bytes). */
void	base64_encode(const uint8_t *in, size_t n, char *out);

#endif
