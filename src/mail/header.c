/* header: the header section and its fields (see header.h).
 *
 * Used by the MIME parser (mail/mime.c) for every part and by the IMAP
 * FETCH/SEARCH code for ENVELOPE, HEADER.FIELDS and header searches. The
 * input is a message from a mailbox: hostile. Everything is one linear
 * pass over (hdr, len); no length comes from the input. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "lib/pool.h"
#include "mail/header.h"

static size_t	line_end(const char *s, size_t len, size_t pos);
static bool	is_empty_line(const char *s, size_t len, size_t pos);

/* The position after the line that starts at pos (after its LF, or len). */
static size_t
line_end(const char *s, size_t len, size_t pos)
{
	const char *lf;

	lf = memchr(s + pos, '\n', len - pos);
	return lf != NULL ? (size_t)(lf - s) + 1 : len;
}

/* Whether the line at pos is empty: "\r\n", "\n", or a lone "\r" at
 * the very end. */
static bool
is_empty_line(const char *s, size_t len, size_t pos)
{
	if (pos >= len)
		return false;
	if (s[pos] == '\n')
		return true;
	return s[pos] == '\r' && (pos + 1 == len || s[pos + 1] == '\n');
}

size_t
header_section_len(const char *msg, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		if (is_empty_line(msg, len, pos))
			return line_end(msg, len, pos);
		pos = line_end(msg, len, pos);
	}
	return len;
}

void
header_iter_init(struct header_iter *it, const char *hdr, size_t len)
{
	it->hdr = hdr;
	it->len = len;
	it->pos = 0;
}

bool
header_iter_next(struct header_iter *it, struct header_field *f)
{
	const char *s = it->hdr;
	size_t len = it->len, start = it->pos, end, first_end, k, vend;

	if (start >= len || is_empty_line(s, len, start))
		return false;
	/* The first line, then every line that starts with white space. */
	first_end = end = line_end(s, len, start);
	while (end < len && (s[end] == ' ' || s[end] == '\t'))
		end = line_end(s, len, end);
	it->pos = end;

	memset(f, 0, sizeof(*f));
	f->off = start;
	f->len = end - start;
	/* The value stops before the last line end. */
	vend = end;
	if (vend > start && s[vend - 1] == '\n')
		vend--;
	if (vend > start && s[vend - 1] == '\r')
		vend--;

	f->name = s + start;
	if (s[start] == ' ' || s[start] == '\t') {
		/* Folded lines with no field before them. */
		f->name_len = vend - start;
		f->value = s + vend;
		return true;
	}
	for (k = start; k < first_end && s[k] != ':'; k++)
		;
	if (k >= first_end || k >= vend) {
		f->name_len = vend - start;
		f->value = s + vend;
		return true;
	}
	f->value = s + k + 1;
	f->value_len = vend - (k + 1);
	/* "Subject : x" is the obsolete form of "Subject: x". */
	while (k > start && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	f->name_len = k - start;
	f->valid = f->name_len > 0;
	/* A field name is printable ASCII without white space. */
	for (k = 0; k < f->name_len && f->valid; k++)
		if ((unsigned char)f->name[k] <= ' ' ||
		    (unsigned char)f->name[k] >= 0x7f)
			f->valid = false;
	if (!f->valid) {
		/* Not a field: its name is all its text. */
		f->name_len = vend - start;
		f->value = s + vend;
		f->value_len = 0;
	}
	return true;
}

bool
header_field_is(const struct header_field *f, const char *name)
{
	return f->valid && strlen(name) == f->name_len &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

bool
header_find(const char *hdr, size_t len, const char *name,
    struct header_field *f_r)
{
	struct header_iter it;

	header_iter_init(&it, hdr, len);
	while (header_iter_next(&it, f_r))
		if (header_field_is(f_r, name))
			return true;
	return false;
}

char *
header_unfold(struct pool *pool, const char *value, size_t len,
    size_t *len_r)
{
	size_t i, n = 0;
	char *out;

	out = pool_alloc(pool, len + 1);
	for (i = 0; i < len; i++)
		if (value[i] != '\r' && value[i] != '\n' && value[i] != '\0')
			out[n++] = value[i];	/* UNSAFE: n <= i < len */
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	i = 0;
	while (i < n && (out[i] == ' ' || out[i] == '\t'))
		i++;
	memmove(out, out + i, n - i);
	n -= i;
	out[n] = '\0';
	if (len_r != NULL)
		*len_r = n;
	return out;
}
