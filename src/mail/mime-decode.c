/* mime-decode: a part's body as text for SEARCH BODY and TEXT (see
 * mime.h): base64 and quoted-printable undone, then a text/ * charset
 * converted to UTF-8. Lenient as readers are: base64 skips what is not
 * in its alphabet, a quoted-printable '=' that starts no escape stays as
 * it is. The output is never longer than the body before the charset
 * conversion, which is itself bounded (header-decode.c). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

static int	hexval(char c);
static int	b64val(char c);
static size_t	decode_base64(const char *in, size_t len, char *out);
static size_t	decode_qp(const char *in, size_t len, char *out);

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static int
b64val(char c)
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

/* out has room for len octets. */
static size_t
decode_base64(const char *in, size_t len, char *out)
{
	unsigned acc = 0, nbits = 0;
	size_t i, n = 0;
	int v;

	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			/* Padding ends a group; what follows starts anew
			 * (some writers join encoded pieces). */
			acc = nbits = 0;
			continue;
		}
		if ((v = b64val(in[i])) == -1)
			continue;
		acc = (acc << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			out[n++] = (char)((acc >> nbits) & 0xff);
		}
	}
	return n;
}

/* out has room for len octets. */
static size_t
decode_qp(const char *in, size_t len, char *out)
{
	size_t i, n = 0, k;
	int h, l;

	for (i = 0; i < len; i++) {
		if (in[i] != '=') {
			out[n++] = in[i];
			continue;
		}
		/* A soft line break: '=', white space, then the line end. */
		for (k = i + 1; k < len && (in[k] == ' ' || in[k] == '\t'); k++)
			;
		if (k < len && (in[k] == '\n' || (in[k] == '\r' &&
		    k + 1 < len && in[k + 1] == '\n'))) {
			i = in[k] == '\r' ? k + 1 : k;
			continue;
		}
		if (k == len) {
			i = k;
			continue;
		}
		if (i + 2 < len && (h = hexval(in[i + 1])) != -1 &&
		    (l = hexval(in[i + 2])) != -1) {
			out[n++] = (char)(h << 4 | l);
			i += 2;
		} else
			out[n++] = '=';
	}
	return n;
}

char *
mime_part_text(struct pool *pool, const char *msg,
    const struct mime_part *part, size_t *len_r)
{
	const char *body = msg + part->body_off, *charset, *enc;
	char *raw, *out = NULL;
	size_t n;

	enc = part->encoding;
	raw = pool_alloc(pool, part->body_len + 1);
	if (enc != NULL && strcasecmp(enc, "base64") == 0)
		n = decode_base64(body, part->body_len, raw);
	else if (enc != NULL && strcasecmp(enc, "quoted-printable") == 0)
		n = decode_qp(body, part->body_len, raw);
	else {
		memcpy(raw, body, part->body_len);
		n = part->body_len;
	}
	raw[n] = '\0';
	if ((part->flags & MIME_PART_TEXT) == 0) {
		*len_r = n;
		return raw;
	}
	charset = mime_param_get(&part->params, "charset");
	if (charset != NULL)
		out = charset_to_utf8(pool, charset, raw, n, len_r);
	if (out == NULL)
		out = utf8_sanitize(pool, raw, n, len_r);
	return out;
}
