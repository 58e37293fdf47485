/* header-decode: header text to UTF-8: RFC 2047 encoded words, charset
 * conversion through iconv(3), and UTF-8 validation (see header.h).
 *
 * Used for SEARCH on header fields and for RFC 2231 parameter values
 * (mail/mime-param.c). Input is hostile: charset names are checked before
 * they reach iconv_open() and bounded to CHARSET_MAX octets; output grows
 * in a struct buf bounded by a multiple of the input (the worst case is
 * one U+FFFD, three octets, per input octet). */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"

#define CHARSET_MAX	64
#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */

/* An encoded word found in the text. */
struct eword {
	char		 charset[CHARSET_MAX + 1];
	const char	*text;		/* between "?X?" and "?=" */
	size_t		 text_len;
	bool		 base64;
	size_t		 len;		/* of the whole word */
};

/* Decoded octets of adjacent encoded words in one charset, waiting for
 * conversion. raw_* is the span of text they came from. */
struct run {
	struct buf	 bytes;
	char		 charset[CHARSET_MAX + 1];
	size_t		 raw_start;
	size_t		 raw_end;
	bool		 active;
};

static size_t	utf8_seq_len(const unsigned char *s, size_t len);
static void	sanitize_into(struct buf *out, const char *in, size_t len);
static bool	charset_plausible(const char *cs);
static bool	charset_is_utf8(const char *cs);
static int	convert_into(struct buf *out, const char *charset,
		    const char *in, size_t len);
static bool	parse_eword(const char *s, size_t len, struct eword *w);
static int	hexval(int c);
static int	b64val(int c);
static bool	decode_eword(const struct eword *w, struct buf *out);
static void	run_flush(struct run *r, struct buf *out, const char *text);
static char	*buf_to_pool(struct pool *pool, struct buf *b, size_t *len_r);

/* The length of the valid UTF-8 sequence at s, or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

/* Append in as valid UTF-8 to out. Appends fail only past out's max,
 * which callers size for the worst case, so their results are ignored:
 * the output is then merely cut short. */
static void
sanitize_into(struct buf *out, const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, n;

	while (i < len) {
		if (s[i] == '\0') {
			i++;
			continue;
		}
		n = utf8_seq_len(s + i, len - i);
		if (n == 0) {
			(void)!buf_append(out, REPLACEMENT, 3);
			i++;
		} else {
			(void)!buf_append(out, s + i, n);
			i += n;
		}
	}
}

static char *
buf_to_pool(struct pool *pool, struct buf *b, size_t *len_r)
{
	char *s;

	s = pool_alloc(pool, b->len + 1);
	if (b->len > 0)
		memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	if (len_r != NULL)
		*len_r = b->len;
	buf_deinit(b);
	return s;
}

char *
utf8_sanitize(struct pool *pool, const char *in, size_t len, size_t *len_r)
{
	struct buf out;

	buf_init(&out, len * 3 + 1);
	sanitize_into(&out, in, len);
	return buf_to_pool(pool, &out, len_r);
}

/* Names as the IANA registry spells them: letters, digits and a few
 * punctuation marks. Nothing that could name a file or an iconv option
 * ("//TRANSLIT"). */
static bool
charset_plausible(const char *cs)
{
	size_t i;

	if (cs[0] == '\0' || strlen(cs) > CHARSET_MAX)
		return false;
	for (i = 0; cs[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:+", cs[i]) == NULL)
			return false;
	return true;
}

static bool
charset_is_utf8(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	    strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

/* Convert in from charset into out as UTF-8; -1 if iconv does not know
 * the charset. */
static int
convert_into(struct buf *out, const char *charset, const char *in,
    size_t len)
{
	char tmp[1024], *ip, *op;
	size_t il, ol;
	iconv_t cd;

	if (charset_is_utf8(charset)) {
		sanitize_into(out, in, len);
		return 0;
	}
	if (!charset_plausible(charset))
		return -1;
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	ip = (char *)(uintptr_t)in;
	il = len;
	while (il > 0) {
		op = tmp;
		ol = sizeof(tmp);
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
			sanitize_into(out, tmp, (size_t)(op - tmp));
			if (errno == E2BIG)
				continue;
			/* EILSEQ, or EINVAL (cut short): one U+FFFD for the
			 * octet, and on; reset the shift state. */
			(void)!buf_append(out, REPLACEMENT, 3);
			ip++;
			il--;
			(void)iconv(cd, NULL, NULL, NULL, NULL);
			continue;
		}
		sanitize_into(out, tmp, (size_t)(op - tmp));
	}
	/* Flush a stateful encoding's final shift sequence. */
	op = tmp;
	ol = sizeof(tmp);
	if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1)
		sanitize_into(out, tmp, (size_t)(op - tmp));
	iconv_close(cd);
	return 0;
}

char *
charset_to_utf8(struct pool *pool, const char *charset, const char *in,
    size_t len, size_t *len_r)
{
	char cs[CHARSET_MAX + 1];
	const char *star;
	struct buf out;
	size_t n;

	/* RFC 2231 section 5: "charset*language". */
	star = strchr(charset, '*');
	n = star != NULL ? (size_t)(star - charset) : strlen(charset);
	if (n == 0 || n > CHARSET_MAX)
		return NULL;
	memcpy(cs, charset, n);
	cs[n] = '\0';
	/* Each input octet gives at most a few output octets (a UTF-16
	 * pair gives four for four, a single octet at most three). */
	buf_init(&out, len * 4 + 16);
	if (convert_into(&out, cs, in, len) == -1) {
		buf_deinit(&out);
		return NULL;
	}
	return buf_to_pool(pool, &out, len_r);
}

/* "=?charset?X?text?=" at s; false if s does not start with one. */
static bool
parse_eword(const char *s, size_t len, struct eword *w)
{
	size_t i, cs_len;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return false;
	for (i = 2; i < len && s[i] != '?'; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    i - 2 >= CHARSET_MAX)
			return false;
	cs_len = i - 2;
	if (cs_len == 0 || cs_len > CHARSET_MAX || i + 3 > len ||
	    s[i + 2] != '?')
		return false;
	switch (s[i + 1]) {
	case 'B':
	case 'b':
		w->base64 = true;
		break;
	case 'Q':
	case 'q':
		w->base64 = false;
		break;
	default:
		return false;
	}
	memcpy(w->charset, s + 2, cs_len);
	w->charset[cs_len] = '\0';
	i += 3;
	w->text = s + i;
	for (; i < len && s[i] != '?'; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	if (i + 1 >= len || s[i + 1] != '=')
		return false;
	w->text_len = (size_t)(s + i - w->text);
	w->len = i + 2;
	/* RFC 2231 section 5: a language after '*' in the charset. */
	if (strchr(w->charset, '*') != NULL)
		*strchr(w->charset, '*') = '\0';
	return w->charset[0] != '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Append the octets of w to out; false if the text is not valid B or Q
 * (the word is then kept as it was written). */
static bool
decode_eword(const struct eword *w, struct buf *out)
{
	const char *t = w->text;
	unsigned acc = 0;
	size_t i, nbits = 0;
	int h, l;
	char c;

	if (w->base64) {
		/* Check first: a bad word must add nothing to the run. */
		for (i = 0; i < w->text_len && t[i] != '='; i++)
			if (b64val((unsigned char)t[i]) == -1)
				return false;
		for (i = 0; i < w->text_len && t[i] != '='; i++) {
			/* '=' is padding; lenient about how much. */
			acc = acc << 6 | (unsigned)b64val((unsigned char)t[i]);
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				c = (char)((acc >> nbits) & 0xff);
				(void)!buf_append(out, &c, 1);
			}
		}
		return true;
	}
	for (i = 0; i < w->text_len; i++) {
		c = t[i];
		if (c == '_')
			c = ' ';
		else if (c == '=' && i + 2 < w->text_len &&
		    (h = hexval((unsigned char)t[i + 1])) != -1 &&
		    (l = hexval((unsigned char)t[i + 2])) != -1) {
			c = (char)(h << 4 | l);
			i += 2;
		}
		(void)!buf_append(out, &c, 1);
	}
	return true;
}

/* Convert the octets of the pending run into out; in an unknown charset,
 * keep the words as they were written. */
static void
run_flush(struct run *r, struct buf *out, const char *text)
{
	if (!r->active)
		return;
	if (convert_into(out, r->charset, (const char *)r->bytes.data,
	    r->bytes.len) == -1)
		sanitize_into(out, text + r->raw_start,
		    r->raw_end - r->raw_start);
	buf_reset(&r->bytes);
	r->active = false;
}

char *
header_decode(struct pool *pool, const char *value, size_t len)
{
	struct eword w;
	struct run r;
	struct buf out;
	const char *s;
	size_t n, i, j;
	bool after_word = false;

	s = header_unfold(pool, value, len, &n);
	buf_init(&out, n * 4 + 16);
	memset(&r, 0, sizeof(r));
	buf_init(&r.bytes, n + 1);
	i = 0;
	while (i < n) {
		if (s[i] == '=' && parse_eword(s + i, n - i, &w)) {
			if (r.active && strcasecmp(r.charset, w.charset) != 0)
				run_flush(&r, &out, s);
			if (!r.active) {
				r.active = true;
				memcpy(r.charset, w.charset, sizeof(r.charset));
				r.raw_start = i;
			}
			if (decode_eword(&w, &r.bytes)) {
				r.raw_end = i + w.len;
				i += w.len;
				after_word = true;
				continue;
			}
			/* Undecodable: plain text from here. */
			if (r.raw_start == i)
				r.active = false;
		}
		if (after_word && (s[i] == ' ' || s[i] == '\t')) {
			/* White space between two encoded words goes. */
			for (j = i; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
				;
			if (j < n && s[j] == '=' && parse_eword(s + j, n - j,
			    &w)) {
				i = j;
				continue;
			}
		}
		run_flush(&r, &out, s);
		after_word = false;
		for (j = i + 1; j < n && s[j] != '=' && s[j] != ' ' &&
		    s[j] != '\t'; j++)
			;
		sanitize_into(&out, s + i, j - i);
		i = j;
	}
	run_flush(&r, &out, s);
	buf_deinit(&r.bytes);
	return buf_to_pool(pool, &out, NULL);
}
