/* imap/mutf7: modified UTF-7 <-> UTF-8 for mailbox names (see mutf7.h).
 * Decoding rebuilds UTF-16 units from 6-bit groups and checks, unit by
 * unit, everything that would make a second spelling of the same name;
 * encoding writes exactly the form decoding accepts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/mutf7.h"
#include "lib/buf.h"

static int	 b64_value(uint8_t c);
static bool	 is_control(uint32_t cp);
static int	 put_utf8(struct buf *out, uint32_t cp);
static int	 put_unit(struct buf *out, uint32_t *bits, unsigned *nbits,
		    uint32_t unit);
static int	 fail(const char **error_r, const char *text);

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f;
}

static int
fail(const char **error_r, const char *text)
{
	*error_r = text;
	return -1;
}

size_t
imap_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp_r)
{
	uint8_t c, lo = 0x80, hi = 0xbf;
	uint32_t cp;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (c == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;		/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	*cp_r = cp;
	return n;
}

bool
imap_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = imap_utf8_decode(s + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}

static int
put_utf8(struct buf *out, uint32_t cp)
{
	uint8_t b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

int
mutf7_decode(const uint8_t *in, size_t len, struct buf *out,
    const char **error_r)
{
	size_t i = 0, units;
	uint32_t bits, unit, high;
	unsigned nbits;
	bool after_shift = false;
	uint8_t c;
	int v;

	while (i < len) {
		c = in[i++];
		if (c < 0x20 || c > 0x7e)
			return fail(error_r, "Invalid character in mailbox "
			    "name");
		if (c != '&') {
			if (buf_append(out, &c, 1) == -1)
				return fail(error_r, "Mailbox name too long");
			after_shift = false;
			continue;
		}
		if (i < len && in[i] == '-') {
			if (buf_append(out, "&", 1) == -1)
				return fail(error_r, "Mailbox name too long");
			i++;
			after_shift = false;
			continue;
		}
		if (after_shift)
			return fail(error_r, "Non-canonical modified UTF-7 "
			    "(two shifts in a row)");
		bits = 0;
		nbits = 0;
		high = 0;
		units = 0;
		for (;;) {
			if (i >= len)
				return fail(error_r, "Unterminated modified "
				    "UTF-7 shift");
			c = in[i++];
			if (c == '-')
				break;
			if ((v = b64_value(c)) < 0)
				return fail(error_r, "Invalid modified "
				    "BASE64 character");
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			unit = bits >> nbits & 0xffff;
			bits &= (UINT32_C(1) << nbits) - 1;
			units++;
			if (high != 0) {
				if (unit < 0xdc00 || unit > 0xdfff)
					return fail(error_r, "Lone surrogate "
					    "in modified UTF-7");
				unit = 0x10000 + ((high - 0xd800) << 10) +
				    (unit - 0xdc00);
				high = 0;
			} else if (unit >= 0xd800 && unit <= 0xdbff) {
				high = unit;
				continue;
			} else if (unit >= 0xdc00 && unit <= 0xdfff)
				return fail(error_r, "Lone surrogate in "
				    "modified UTF-7");
			else if (unit >= 0x20 && unit <= 0x7e)
				return fail(error_r, "Non-canonical modified "
				    "UTF-7 (shifted ASCII)");
			else if (is_control(unit))
				return fail(error_r, "Control character in "
				    "mailbox name");
			if (put_utf8(out, unit) == -1)
				return fail(error_r, "Mailbox name too long");
		}
		if (units == 0 || nbits >= 6 || bits != 0)
			return fail(error_r, "Non-canonical modified UTF-7 "
			    "(bad padding)");
		if (high != 0)
			return fail(error_r, "Lone surrogate in modified "
			    "UTF-7");
		after_shift = true;
	}
	return 0;
}

/* Add one UTF-16 unit to the shift and write the complete 6-bit groups. */
static int
put_unit(struct buf *out, uint32_t *bits, unsigned *nbits, uint32_t unit)
{
	uint8_t c;

	*bits = *bits << 16 | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		c = (uint8_t)b64_alphabet[*bits >> *nbits & 0x3f];
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	*bits &= (UINT32_C(1) << *nbits) - 1;
	return 0;
}

int
mutf7_encode(const uint8_t *in, size_t len, struct buf *out,
    const char **error_r)
{
	size_t i = 0, n;
	uint32_t cp, bits;
	unsigned nbits;
	uint8_t c;
	int r;

	while (i < len) {
		c = in[i];
		if (c < 0x80) {
			if (is_control(c))
				return fail(error_r, "Control character in "
				    "mailbox name");
			r = c == '&' ? buf_append(out, "&-", 2) :
			    buf_append(out, &c, 1);
			if (r == -1)
				return fail(error_r, "Mailbox name too long");
			i++;
			continue;
		}
		/* One shift for the whole run of non-ASCII characters. */
		if (buf_append(out, "&", 1) == -1)
			return fail(error_r, "Mailbox name too long");
		bits = 0;
		nbits = 0;
		while (i < len && in[i] >= 0x80) {
			if ((n = imap_utf8_decode(in + i, len - i, &cp)) == 0)
				return fail(error_r, "Invalid UTF-8 in "
				    "mailbox name");
			i += n;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				r = put_unit(out, &bits, &nbits,
				    0xd800 + (cp >> 10));
				if (r == 0)
					r = put_unit(out, &bits, &nbits,
					    0xdc00 + (cp & 0x3ff));
			} else
				r = put_unit(out, &bits, &nbits, cp);
			if (r == -1)
				return fail(error_r, "Mailbox name too long");
		}
		if (nbits > 0) {
			c = (uint8_t)b64_alphabet[bits << (6 - nbits) & 0x3f];
			if (buf_append(out, &c, 1) == -1)
				return fail(error_r, "Mailbox name too long");
		}
		if (buf_append(out, "-", 1) == -1)
			return fail(error_r, "Mailbox name too long");
	}
	return 0;
}
