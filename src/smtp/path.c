/* smtp/path: RFC 5321 paths (see path.h). Every scanner here takes
 * (s, len), never reads past len, and bounds its work by the RFC limits
 * before it copies anything: the local part is given up past 64 octets,
 * a domain past 255, an address literal past 64. Strings that survive are
 * copied into the caller's pool. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "smtp/path.h"

/* "[IPv6:" + the longest inet6 text (45) + "]", with room to spare. */
#define LITERAL_MAX	64

static bool	 is_alnum(uint8_t c);
static bool	 is_atext(uint8_t c);
static void	 ascii_lower(char *s);
static bool	 prefix_nocase(const uint8_t *s, size_t len, const char *p);
static bool	 is_dot_atom(const uint8_t *p, size_t n);
static int	 scan_domain(const uint8_t *s, size_t len, unsigned flags,
		    size_t *len_r, bool *utf8_r, const char **error_r);
static int	 scan_literal(const uint8_t *s, size_t len, char *canon,
		    size_t canonlen, size_t *len_r, const char **error_r);
static int	 scan_host(const uint8_t *s, size_t len, unsigned flags,
		    struct pool *pool, size_t *len_r, const char **host_r,
		    bool *literal_r, bool *utf8_r, const char **error_r);
static int	 scan_route(const uint8_t *s, size_t len, unsigned flags,
		    size_t *len_r, bool *utf8_r, const char **error_r);
static int	 scan_dot_string(const uint8_t *s, size_t len, unsigned flags,
		    size_t *len_r, bool *utf8_r, const char **error_r);
static int	 scan_quoted(const uint8_t *s, size_t len, unsigned flags,
		    struct buf *content, size_t *len_r, bool *utf8_r,
		    const char **error_r);
static int	 scan_local(const uint8_t *s, size_t len, unsigned flags,
		    struct pool *pool, struct smtp_path *out, size_t *len_r,
		    const char **error_r);
static bool	 is_postmaster(const struct smtp_path *out);
static void	 set_null(struct smtp_path *out);

static bool
is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 atext, ASCII part. */
static bool
is_atext(uint8_t c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL);
}

/* Lower-case ASCII letters only: UTF-8 octets stay as they are whatever the
 * locale says. */
static void
ascii_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* ASCII only, whatever the locale. */
static bool
prefix_nocase(const uint8_t *s, size_t len, const char *p)
{
	size_t i;
	uint8_t a, b;

	for (i = 0; p[i] != '\0'; i++) {
		if (i >= len)
			return false;
		a = s[i] >= 'A' && s[i] <= 'Z' ? (uint8_t)(s[i] + 32) : s[i];
		b = (uint8_t)p[i];
		b = b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
		if (a != b)
			return false;
	}
	return true;
}

size_t
smtp_utf8_seq_len(const uint8_t *s, size_t len)
{
	uint8_t c;
	size_t n, i;
	uint8_t lo = 0x80, hi = 0xbf;

	if (len == 0)
		return 0;
	c = s[0];
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (c == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;		/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;		/* past U+10FFFF */
	} else
		return 0;			/* ASCII, continuation, C0/C1,
						   F5..FF */
	if (len < n)
		return 0;
	/* The second octet has the narrowed range (RFC 3629 section 4). */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Atom *("." Atom) over p[0..n), non-ASCII octets counting as atext (the
 * caller has checked that they are well-formed UTF-8). */
static bool
is_dot_atom(const uint8_t *p, size_t n)
{
	size_t i, atom = 0;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (atom == 0)
				return false;
			atom = 0;
		} else if (is_atext(p[i]) || p[i] >= 0x80)
			atom++;
		else
			return false;
	}
	return atom > 0;
}

/*
 * sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str], plus '_'
 * and (with SMTP_PATH_ALLOW_UTF8) U-labels. Stops at the first octet that
 * cannot be part of a domain; the caller checks what that octet is.
 */
static int
scan_domain(const uint8_t *s, size_t len, unsigned flags, size_t *len_r,
    bool *utf8_r, const char **error_r)
{
	size_t i = 0, label = 0, n;
	uint8_t c;

	while (i < len) {
		c = s[i];
		if (c == '.') {
			/* UNSAFE: label > 0 means i > 0, so s[i - 1] exists. */
			if (label == 0 || s[i - 1] == '-') {
				*error_r = "bad domain label";
				return -1;
			}
			label = 0;
			i++;
			continue;
		}
		if (c == '-') {
			if (label == 0) {
				*error_r = "domain label starts with '-'";
				return -1;
			}
			n = 1;
		} else if (is_alnum(c) || c == '_')
			n = 1;
		else if (c >= 0x80) {
			if ((n = smtp_utf8_seq_len(s + i, len - i)) == 0) {
				*error_r = "malformed UTF-8 in domain";
				return -1;
			}
			if (!(flags & SMTP_PATH_ALLOW_UTF8)) {
				*error_r = "non-ASCII domain without SMTPUTF8";
				return -1;
			}
			*utf8_r = true;
		} else
			break;
		label += n;
		i += n;
		if (label > SMTP_PATH_LABEL_MAX) {
			*error_r = "domain label too long";
			return -1;
		}
		if (i > SMTP_PATH_DOMAIN_MAX) {
			*error_r = "domain too long";
			return -1;
		}
	}
	if (i == 0) {
		*error_r = "missing domain";
		return -1;
	}
	/* UNSAFE: i > 0 here, so s[i - 1] exists. */
	if (label == 0 || s[i - 1] == '-') {
		*error_r = "bad domain label";
		return -1;
	}
	*len_r = i;
	return 0;
}

/*
 * "[" IPv4 "]" or "[IPv6:" IPv6 "]", checked with inet_pton and written
 * back in inet_ntop's canonical form. General address literals
 * ("[tag:content]") are refused: nothing here could route them.
 */
static int
scan_literal(const uint8_t *s, size_t len, char *canon, size_t canonlen,
    size_t *len_r, const char **error_r)
{
	char text[LITERAL_MAX], out[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t i, start = 1;
	bool v6 = false;
	int af, rc;

	/* Find ']' within the bound; only address octets may come before. */
	for (i = 1; i < len && s[i] != ']'; i++) {
		if (i >= LITERAL_MAX - 1) {
			*error_r = "address literal too long";
			return -1;
		}
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != ':') {
			*error_r = "bad address literal";
			return -1;
		}
	}
	if (i >= len) {
		*error_r = "unterminated address literal";
		return -1;
	}
	if (prefix_nocase(s + 1, i - 1, "IPv6:")) {
		v6 = true;
		start = 6;
	}
	/* UNSAFE: start <= i < LITERAL_MAX, and every octet in s[start..i)
	 * is alphanumeric, '.' or ':', so %.*s copies all of them. */
	rc = snprintf(text, sizeof(text), "%.*s", (int)(i - start),
	    (const char *)s + start);
	if (rc < 0 || (size_t)rc >= sizeof(text)) {
		*error_r = "address literal too long";
		return -1;
	}
	if (!v6 && strchr(text, ':') != NULL) {
		*error_r = "unsupported address literal";
		return -1;
	}
	af = v6 ? AF_INET6 : AF_INET;
	if (inet_pton(af, text, bin) != 1 ||
	    inet_ntop(af, bin, out, sizeof(out)) == NULL) {
		*error_r = "bad address literal";
		return -1;
	}
	rc = snprintf(canon, canonlen, "[%s%s]", v6 ? "IPv6:" : "", out);
	if (rc < 0 || (size_t)rc >= canonlen) {
		*error_r = "address literal too long";
		return -1;
	}
	*len_r = i + 1;
	return 0;
}

/* A domain or an address literal at s; *host_r is its canonical form. */
static int
scan_host(const uint8_t *s, size_t len, unsigned flags, struct pool *pool,
    size_t *len_r, const char **host_r, bool *literal_r, bool *utf8_r,
    const char **error_r)
{
	char canon[LITERAL_MAX];
	char *host;

	if (len > 0 && s[0] == '[') {
		if (scan_literal(s, len, canon, sizeof(canon), len_r,
		    error_r) == -1)
			return -1;
		*host_r = pool_strdup(pool, canon);
		*literal_r = true;
		return 0;
	}
	if (scan_domain(s, len, flags, len_r, utf8_r, error_r) == -1)
		return -1;
	host = pool_strndup(pool, (const char *)s, *len_r);
	ascii_lower(host);
	*host_r = host;
	*literal_r = false;
	return 0;
}

/* A-d-l ":" where A-d-l = At-domain *( "," At-domain ), At-domain = "@"
 * Domain. Checked, then thrown away (RFC 5321 section 3.3 and C). */
static int
scan_route(const uint8_t *s, size_t len, unsigned flags, size_t *len_r,
    bool *utf8_r, const char **error_r)
{
	size_t i = 0, dlen;

	for (;;) {
		if (i >= len || s[i] != '@') {
			*error_r = "bad source route";
			return -1;
		}
		i++;
		if (scan_domain(s + i, len - i, flags, &dlen, utf8_r,
		    error_r) == -1)
			return -1;
		i += dlen;
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == ':') {
			*len_r = i + 1;
			return 0;
		}
		*error_r = "bad source route";
		return -1;
	}
}

/* Atom *("." Atom); gives up past the local part limit. */
static int
scan_dot_string(const uint8_t *s, size_t len, unsigned flags, size_t *len_r,
    bool *utf8_r, const char **error_r)
{
	size_t i = 0, atom = 0, n;

	while (i < len) {
		if (s[i] == '.') {
			if (atom == 0) {
				*error_r = "bad dot in local part";
				return -1;
			}
			atom = 0;
			n = 1;
		} else if (is_atext(s[i])) {
			atom++;
			n = 1;
		} else if (s[i] >= 0x80) {
			if ((n = smtp_utf8_seq_len(s + i, len - i)) == 0) {
				*error_r = "malformed UTF-8 in local part";
				return -1;
			}
			if (!(flags & SMTP_PATH_ALLOW_UTF8)) {
				*error_r = "non-ASCII local part without "
				    "SMTPUTF8";
				return -1;
			}
			*utf8_r = true;
			atom += n;
		} else
			break;
		i += n;
		if (i > SMTP_PATH_LOCAL_MAX) {
			*error_r = "local part too long";
			return -1;
		}
	}
	if (i == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (atom == 0) {
		*error_r = "bad dot in local part";
		return -1;
	}
	*len_r = i;
	return 0;
}

/*
 * DQUOTE *QcontentSMTP DQUOTE. qtextSMTP is %d32-33 / %d35-91 / %d93-126
 * (plus UTF-8 when allowed), quoted-pairSMTP is "\" %d32-126. The content
 * without the escapes goes to *content.
 */
static int
scan_quoted(const uint8_t *s, size_t len, unsigned flags, struct buf *content,
    size_t *len_r, bool *utf8_r, const char **error_r)
{
	size_t i = 1, n;
	uint8_t c;

	for (;;) {
		if (i > SMTP_PATH_LOCAL_MAX) {
			*error_r = "local part too long";
			return -1;
		}
		if (i >= len) {
			*error_r = "unterminated quoted local part";
			return -1;
		}
		c = s[i];
		if (c == '"') {
			i++;
			break;
		}
		n = 1;
		if (c == '\\') {
			if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126) {
				*error_r = "bad quoted-pair in local part";
				return -1;
			}
			i++;
			c = s[i];
		} else if (c >= 0x80) {
			if ((n = smtp_utf8_seq_len(s + i, len - i)) == 0) {
				*error_r = "malformed UTF-8 in local part";
				return -1;
			}
			if (!(flags & SMTP_PATH_ALLOW_UTF8)) {
				*error_r = "non-ASCII local part without "
				    "SMTPUTF8";
				return -1;
			}
			*utf8_r = true;
		} else if (c < 32 || c > 126) {
			*error_r = "control character in local part";
			return -1;
		}
		/* The local part is at most 64 octets, below the buffer's
		 * maximum, so this cannot fail. */
		if (buf_append(content, s + i, n) == -1) {
			*error_r = "local part too long";
			return -1;
		}
		i += n;
	}
	if (i > SMTP_PATH_LOCAL_MAX) {
		*error_r = "local part too long";
		return -1;
	}
	if (content->len == 0) {
		*error_r = "empty local part";
		return -1;
	}
	*len_r = i;
	return 0;
}

/* The local part at s: sets local_raw, local and quoted_local. */
static int
scan_local(const uint8_t *s, size_t len, unsigned flags, struct pool *pool,
    struct smtp_path *out, size_t *len_r, const char **error_r)
{
	struct buf content, quoted;
	size_t i;
	int rc = -1;

	if (len == 0 || s[0] != '"') {
		if (scan_dot_string(s, len, flags, len_r, &out->utf8,
		    error_r) == -1)
			return -1;
		out->local_raw = pool_strndup(pool, (const char *)s, *len_r);
		out->local = out->local_raw;
		return 0;
	}

	buf_init(&content, SMTP_PATH_LOCAL_MAX);
	buf_init(&quoted, 2 * SMTP_PATH_LOCAL_MAX + 2);
	if (scan_quoted(s, len, flags, &content, len_r, &out->utf8,
	    error_r) == -1)
		goto out;
	out->local_raw = pool_strndup(pool, (const char *)s, *len_r);
	if (is_dot_atom(content.data, content.len)) {
		/* "abc"@x is abc@x: one spelling for the envelope. */
		out->local = pool_strndup(pool, buf_cstr(&content),
		    content.len);
		rc = 0;
		goto out;
	}
	/* Quote again, escaping only what must be: the canonical form. */
	if (buf_append(&quoted, "\"", 1) == -1)
		goto toolong;
	for (i = 0; i < content.len; i++) {
		if ((content.data[i] == '"' || content.data[i] == '\\') &&
		    buf_append(&quoted, "\\", 1) == -1)
			goto toolong;
		if (buf_append(&quoted, content.data + i, 1) == -1)
			goto toolong;
	}
	if (buf_append(&quoted, "\"", 1) == -1)
		goto toolong;
	out->local = pool_strndup(pool, buf_cstr(&quoted), quoted.len);
	out->quoted_local = true;
	rc = 0;
	goto out;
toolong:
	*error_r = "local part too long";
out:
	buf_deinit(&content);
	buf_deinit(&quoted);
	return rc;
}

static bool
is_postmaster(const struct smtp_path *out)
{
	size_t n = strlen(out->local_raw);

	return !out->quoted_local && !out->has_route && n == 10 &&
	    prefix_nocase((const uint8_t *)out->local_raw, n, "postmaster");
}

static void
set_null(struct smtp_path *out)
{
	out->local_raw = "";
	out->local = "";
	out->domain = "";
	out->address = "";
}

int
smtp_path_parse_prefix(const uint8_t *s, size_t len, unsigned flags,
    struct pool *pool, struct smtp_path *out, size_t *len_r,
    const char **error_r)
{
	size_t i = 1, n, mailbox_start;

	memset(out, 0, sizeof(*out));
	set_null(out);
	if (len == 0 || s[0] != '<') {
		*error_r = "missing '<'";
		return -1;
	}
	if (len > 1 && s[1] == '>') {
		if (!(flags & SMTP_PATH_ALLOW_NULL)) {
			*error_r = "null path not allowed";
			return -1;
		}
		out->null = true;
		*len_r = 2;
		return 0;
	}
	if (i < len && s[i] == '@') {
		if (scan_route(s + i, len - i, flags, &n, &out->utf8,
		    error_r) == -1)
			return -1;
		out->has_route = true;
		i += n;
	}
	mailbox_start = i;
	if (scan_local(s + i, len - i, flags, pool, out, &n, error_r) == -1)
		return -1;
	i += n;
	if (i < len && s[i] == '>' && (flags & SMTP_PATH_ALLOW_POSTMASTER) &&
	    is_postmaster(out)) {
		/* RFC 5321 section 4.5.1: "<Postmaster>" with no domain. */
		out->postmaster = true;
		out->address = out->local;
		*len_r = i + 1;
		return 0;
	}
	if (i >= len || s[i] != '@') {
		*error_r = "missing '@domain'";
		return -1;
	}
	i++;
	if (scan_host(s + i, len - i, flags, pool, &n, &out->domain,
	    &out->domain_literal, &out->utf8, error_r) == -1)
		return -1;
	i += n;
	if (i >= len || s[i] != '>') {
		*error_r = "missing '>'";
		return -1;
	}
	/* "<" mailbox ">", the route not counted. */
	if (i - mailbox_start + 2 > SMTP_PATH_MAX) {
		*error_r = "path too long";
		return -1;
	}
	out->address = pool_printf(pool, "%s@%s", out->local, out->domain);
	*len_r = i + 1;
	return 0;
}

int
smtp_path_parse(const uint8_t *s, size_t len, unsigned flags,
    struct pool *pool, struct smtp_path *out, const char **error_r)
{
	size_t n;

	if (smtp_path_parse_prefix(s, len, flags, pool, out, &n,
	    error_r) == -1)
		return -1;
	if (n != len) {
		*error_r = "junk after '>'";
		return -1;
	}
	return 0;
}

bool
smtp_path_local_has_route_chars(const struct smtp_path *path)
{
	return strpbrk(path->local, "%!@") != NULL;
}

int
smtp_domain_parse(const uint8_t *s, size_t len, unsigned flags,
    struct pool *pool, const char **domain_r, bool *literal_r,
    const char **error_r)
{
	size_t n;
	bool utf8 = false;

	if (scan_host(s, len, flags, pool, &n, domain_r, literal_r, &utf8,
	    error_r) == -1)
		return -1;
	if (n != len) {
		*error_r = "bad character in domain";
		return -1;
	}
	return 0;
}
