/* mime-param: Content-Type and Content-Disposition values (RFC 2045
 * section 5.1, RFC 2183) with their parameters, RFC 2231 continuations,
 * charsets and languages included (see mime.h).
 *
 * Called by mime.c for each part. Lenient, as mail needs: comments are
 * skipped, an unquoted value runs to ';' or white space (boundaries like
 * "----=_Part_1" are common unquoted), a malformed parameter is dropped,
 * and an unterminated quoted string drops the rest. At most
 * MIME_MAX_PARAMS parameters per value; RFC 2231 section numbers up to
 * MAX_SECTION. One pass over the value plus work on at most
 * MIME_MAX_PARAMS items. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

#define TSPECIALS	"()<>@,;:\\\"/[]?="
#define MAX_SECTION	999

/* A parameter as written, before RFC 2231 joins its sections. */
struct raw_param {
	const char	*base;		/* name without "*N" and "*" */
	char		*value;		/* unquoted */
	size_t		 value_len;
	int		 section;	/* -1: none */
	bool		 extended;	/* the name ended in '*' */
	bool		 used;
};

static void	skip_cfws(const char *s, size_t len, size_t *i);
static size_t	token(const char *s, size_t len, size_t *i);
static char	*quoted(struct pool *pool, const char *s, size_t len,
		    size_t *i, size_t *out_len);
static void	split_name(struct pool *pool, const char *name, size_t n,
		    struct raw_param *rp);
static size_t	read_params(struct pool *pool, const char *s, size_t len,
		    size_t i, struct raw_param *rp);
static int	section_cmp(const void *a, const void *b);
static bool	attribute_char(unsigned char c);
static int	hexval(char c);
static void	join_sections(struct pool *pool, struct raw_param *rp,
		    size_t n, size_t first, struct mime_param *out);

static void
skip_cfws(const char *s, size_t len, size_t *i)
{
	size_t depth;

	while (*i < len) {
		if (strchr(" \t\r\n", s[*i]) != NULL && s[*i] != '\0')
			(*i)++;
		else if (s[*i] == '(') {
			for (depth = 0; *i < len; (*i)++) {
				if (s[*i] == '\\' && *i + 1 < len)
					(*i)++;
				else if (s[*i] == '(')
					depth++;
				else if (s[*i] == ')' && --depth == 0)
					break;
			}
			if (*i < len)
				(*i)++;
		} else
			break;
	}
}

/* A token (RFC 2045) at s[*i]; its length, 0 for none. */
static size_t
token(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && (unsigned char)s[*i] > ' ' && s[*i] != 0x7f &&
	    strchr(TSPECIALS, s[*i]) == NULL)
		(*i)++;
	return *i - start;
}

/* The quoted string at s[*i] (which is '"'), without its quotes and
 * escapes; NULL if it is not terminated. */
static char *
quoted(struct pool *pool, const char *s, size_t len, size_t *i,
    size_t *out_len)
{
	size_t k, n = 0;
	char *v;

	for (k = *i + 1; k < len && s[k] != '"'; k++)
		if (s[k] == '\\' && k + 1 < len)
			k++;
	if (k >= len)
		return NULL;
	v = pool_alloc(pool, k - *i);
	for (k = *i + 1; s[k] != '"'; k++) {
		if (s[k] == '\\')
			k++;
		if (s[k] != '\r' && s[k] != '\n' && s[k] != '\0')
			v[n++] = s[k];	/* UNSAFE: n < k - *i */
	}
	v[n] = '\0';
	*out_len = n;
	*i = k + 1;
	return v;
}

/* "title*1*" is section 1 of title, extended. */
static void
split_name(struct pool *pool, const char *name, size_t n,
    struct raw_param *rp)
{
	size_t k, d;

	rp->section = -1;
	rp->extended = false;
	if (n > 1 && name[n - 1] == '*') {
		rp->extended = true;
		n--;
	}
	for (k = n; k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9'; k--)
		;
	if (k > 1 && k < n && n - k <= 3 && name[k - 1] == '*') {
		rp->section = 0;
		for (d = k; d < n; d++)
			rp->section = rp->section * 10 + (name[d] - '0');
		n = k - 1;
	}
	rp->base = pool_strndup(pool, name, n);
}

/* The parameters after s[i]; returns how many went into rp. */
static size_t
read_params(struct pool *pool, const char *s, size_t len, size_t i,
    struct raw_param *rp)
{
	size_t n = 0, name_start, name_len, vstart;

	while (i < len && n < MIME_MAX_PARAMS) {
		/* To the next ';', past any junk; quotes count. */
		while (i < len && s[i] != ';') {
			if (s[i] == '"') {
				for (i++; i < len && s[i] != '"'; i++)
					if (s[i] == '\\' && i + 1 < len)
						i++;
				if (i >= len)
					return n;	/* unterminated */
			}
			i++;
		}
		if (i >= len)
			break;
		i++;
		skip_cfws(s, len, &i);
		name_start = i;
		if ((name_len = token(s, len, &i)) == 0)
			continue;
		skip_cfws(s, len, &i);
		if (i >= len || s[i] != '=')
			continue;
		i++;
		skip_cfws(s, len, &i);
		memset(&rp[n], 0, sizeof(rp[n]));
		if (i < len && s[i] == '"') {
			rp[n].value = quoted(pool, s, len, &i,
			    &rp[n].value_len);
			if (rp[n].value == NULL)
				return n;
		} else {
			vstart = i;
			while (i < len && s[i] != ';' &&
			    (unsigned char)s[i] > ' ' && s[i] != '"' &&
			    s[i] != 0x7f)
				i++;
			rp[n].value = pool_strndup(pool, s + vstart,
			    i - vstart);
			rp[n].value_len = strlen(rp[n].value);
		}
		split_name(pool, s + name_start, name_len, &rp[n]);
		n++;
	}
	return n;
}

static int
section_cmp(const void *a, const void *b)
{
	const struct raw_param *x = *(const struct raw_param *const *)a;
	const struct raw_param *y = *(const struct raw_param *const *)b;

	return (x->section > y->section) - (x->section < y->section);
}

/* RFC 2231 attribute-char: what an extended value may hold unescaped. */
static bool
attribute_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr(TSPECIALS "*'%", c) == NULL;
}

/* A hex digit's value, or -1 (also for the NUL after the string). */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Join the sections of rp[first]'s name into out. */
static void
join_sections(struct pool *pool, struct raw_param *rp, size_t n,
    size_t first, struct mime_param *out)
{
	struct raw_param *sec[MIME_MAX_PARAMS];
	const char *charset = NULL, *v, *q;
	struct buf wire, bytes;
	size_t ns = 0, i, k, total = 0;
	bool ext = false;
	int last = -1, h, l;
	char c;

	for (i = first; i < n; i++)
		if (!rp[i].used && rp[i].section >= 0 &&
		    strcasecmp(rp[i].base, rp[first].base) == 0) {
			rp[i].used = true;
			sec[ns++] = &rp[i];
			ext = ext || rp[i].extended;
			total += rp[i].value_len;
		}
	qsort(sec, ns, sizeof(sec[0]), section_cmp);
	buf_init(&wire, total * 3 + 3);
	buf_init(&bytes, total + 1);
	if (ext && !sec[0]->extended)
		(void)!buf_append(&wire, "''", 2);
	for (i = 0; i < ns; i++) {
		if (sec[i]->section == last)
			continue;	/* a repeated section: the first */
		last = sec[i]->section;
		v = sec[i]->value;
		if (!sec[i]->extended) {
			for (k = 0; k < sec[i]->value_len; k++) {
				if (!ext || attribute_char((unsigned char)v[k]))
					(void)!buf_append(&wire, &v[k], 1);
				else
					(void)!buf_printf(&wire, "%%%02X",
					    (unsigned char)v[k]);
			}
			(void)!buf_append(&bytes, v, sec[i]->value_len);
			continue;
		}
		(void)!buf_append(&wire, v, sec[i]->value_len);
		if (i == 0 && (q = strchr(v, '\'')) != NULL &&
		    strchr(q + 1, '\'') != NULL) {
			/* charset'language'octets */
			charset = pool_strndup(pool, v, (size_t)(q - v));
			v = strchr(q + 1, '\'') + 1;
		}
		for (; *v != '\0'; v++) {
			if (*v == '%' && (h = hexval(v[1])) != -1 &&
			    (l = hexval(v[2])) != -1) {
				c = (char)(h << 4 | l);
				(void)!buf_append(&bytes, &c, 1);
				v += 2;
			} else
				(void)!buf_append(&bytes, v, 1);
		}
	}
	out->name = rp[first].base;
	out->wire_name = ext ? pool_printf(pool, "%s*", rp[first].base) :
	    rp[first].base;
	out->wire_value = pool_strndup(pool, buf_cstr(&wire), wire.len);
	out->value = NULL;
	if (charset != NULL && charset[0] != '\0')
		out->value = charset_to_utf8(pool, charset,
		    (const char *)bytes.data, bytes.len, NULL);
	if (out->value == NULL)
		out->value = utf8_sanitize(pool, (const char *)bytes.data,
		    bytes.len, NULL);
	buf_deinit(&wire);
	buf_deinit(&bytes);
}

int
mime_content_parse(struct pool *pool, const char *value, size_t len,
    bool with_subtype, const char **type_r, const char **subtype_r,
    struct mime_params *params_r)
{
	struct raw_param rp[MIME_MAX_PARAMS];
	size_t i = 0, tstart, tlen, sstart = 0, slen = 0, n, k;
	struct mime_param *p;
	const char *q;

	memset(params_r, 0, sizeof(*params_r));
	*type_r = NULL;
	if (subtype_r != NULL)
		*subtype_r = NULL;
	skip_cfws(value, len, &i);
	tstart = i;
	tlen = token(value, len, &i);
	if (with_subtype) {
		skip_cfws(value, len, &i);
		if (i >= len || value[i] != '/')
			return -1;
		i++;
		skip_cfws(value, len, &i);
		sstart = i;
		slen = token(value, len, &i);
		if (slen == 0)
			return -1;
	}
	if (tlen == 0)
		return -1;
	*type_r = pool_strndup(pool, value + tstart, tlen);
	if (subtype_r != NULL && with_subtype)
		*subtype_r = pool_strndup(pool, value + sstart, slen);

	n = read_params(pool, value, len, i, rp);
	if (n == 0)
		return 0;
	params_r->v = pool_alloc(pool, n * sizeof(*params_r->v));
	for (k = 0; k < n; k++) {
		if (rp[k].used)
			continue;
		p = &params_r->v[params_r->n++];
		if (rp[k].section >= 0) {
			join_sections(pool, rp, n, k, p);
			continue;
		}
		rp[k].used = true;
		p->name = rp[k].base;
		p->wire_value = rp[k].value;
		if (rp[k].extended) {
			/* name*=charset'language'octets, one section. */
			rp[k].section = 0;
			rp[k].used = false;
			join_sections(pool, rp, k + 1, k, p);
			continue;
		}
		p->wire_name = rp[k].base;
		q = memchr(rp[k].value, '=', rp[k].value_len);
		p->value = q != NULL && q[1] == '?' ?
		    header_decode(pool, rp[k].value, rp[k].value_len) :
		    utf8_sanitize(pool, rp[k].value, rp[k].value_len, NULL);
	}
	return 0;
}
