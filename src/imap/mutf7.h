/* imap/mutf7: mailbox names between the wire form, modified UTF-7 (RFC
 * 3501 section 5.1.3), and UTF-8, plus the strict UTF-8 decoder the IMAP
 * parsers share. Called by the session for every mailbox name it reads or
 * writes; pure, no I/O.
 *
 * Both directions accept only the canonical form, so that one mailbox has
 * exactly one name on the wire and a name cannot reach the store in two
 * spellings:
 *   - decoding refuses octets outside 0x20-0x7e, "&" not written "&-", a
 *     shift that is not closed by "-", characters outside the modified
 *     BASE64 alphabet, a shift that encodes a printable ASCII character, an
 *     empty shift other than "&-", two shifts in a row ("&AOk-&AOk-" must
 *     be "&AOkA6Q-"), leftover bits that are not zero or that make a whole
 *     character, odd 16-bit halves and lone or reversed surrogates;
 *   - encoding refuses malformed UTF-8 (overlong forms, surrogates, above
 *     U+10FFFF);
 *   - both refuse control characters (U+0000-U+001F, U+007F): no mailbox
 *     name holds one.
 * The output goes to a struct buf whose max bounds it; running past it is
 * an error like any other ("name too long").
 */
#ifndef POSTIE_IMAP_MUTF7_H
#define POSTIE_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Append the UTF-8 form of the modified UTF-7 name in[0..len) to out.
 * Returns 0, or -1 with *error_r set (out then holds a partial result). */
int	mutf7_decode(const uint8_t *in, size_t len, struct buf *out,
	    const char **error_r) __attribute__((warn_unused_result));
/* Append the modified UTF-7 form of the UTF-8 name in[0..len) to out. */
int	mutf7_encode(const uint8_t *in, size_t len, struct buf *out,
	    const char **error_r) __attribute__((warn_unused_result));

/*
 * One UTF-8 sequence at s[0..len) (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF). Returns its length (1-4) and the
 * code point in *cp_r, or 0 when s does not start with a valid sequence
 * (len 0 included).
 */
size_t	imap_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp_r);
/* The whole of s[0..len) is valid UTF-8 (ASCII included). */
bool	imap_utf8_valid(const uint8_t *s, size_t len);

#endif
