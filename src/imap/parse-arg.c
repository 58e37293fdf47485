/* imap/parse-arg: the getters command tables use on the argument tree of
 * imap/parse.h. Each checks one grammar rule of RFC 3501 section 9
 * (atom, astring, string, nstring, list-mailbox, number) on an argument
 * the reader has already bounded, so a handler never scans raw text. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/parse.h"

static bool	 eq_nocase(const char *a, size_t alen, const char *b);
static bool	 chars_ok(const char *s, size_t len, const char *bad);

static bool
eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t i;
	char x, y;

	if (alen != strlen(b))
		return false;
	for (i = 0; i < alen; i++) {
		x = a[i] >= 'a' && a[i] <= 'z' ? (char)(a[i] - 32) : a[i];
		y = b[i] >= 'a' && b[i] <= 'z' ? (char)(b[i] - 32) : b[i];
		if (x != y)
			return false;
	}
	return true;
}

/* Every octet is printable ASCII, not SP, and not in bad. */
static bool
chars_ok(const char *s, size_t len, const char *bad)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || strchr(bad, s[i]) != NULL)
			return false;
	return len > 0;
}

bool
imap_arg_atom(const struct imap_arg *a, const char **s_r)
{
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
	    || a->bracket)
		return false;
	*s_r = a->str;
	return true;
}

bool
imap_arg_atom_is(const struct imap_arg *a, const char *word)
{
	const char *s;

	return imap_arg_atom(a, &s) && eq_nocase(s, a->len, word);
}

bool
imap_arg_string(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (a == NULL || !(a->type == IMAP_ARG_QUOTED ||
	    (a->type == IMAP_ARG_LITERAL && !a->streamed)))
		return false;
	*s_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_astring(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (imap_arg_string(a, s_r, len_r))
		return true;
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL))
		return false;
	/* ASTRING-CHAR, and "[" which is an ATOM-CHAR. */
	if (!chars_ok(a->str, a->len, "(){%*\"\\"))
		return false;
	*s_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_nstring(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (a != NULL && a->type == IMAP_ARG_NIL) {
		*s_r = NULL;
		*len_r = 0;
		return true;
	}
	return imap_arg_string(a, s_r, len_r);
}

bool
imap_arg_list_mailbox(const struct imap_arg *a, const char **s_r,
    size_t *len_r)
{
	if (imap_arg_string(a, s_r, len_r))
		return true;
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL))
		return false;
	if (!chars_ok(a->str, a->len, "(){\"\\"))
		return false;
	*s_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_number64(const struct imap_arg *a, uint64_t *n_r)
{
	uint64_t n = 0;
	size_t i;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->bracket ||
	    a->len == 0 || a->len > 19)
		return false;
	for (i = 0; i < a->len; i++) {
		if (a->str[i] < '0' || a->str[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(a->str[i] - '0');
	}
	if (n > INT64_MAX)
		return false;
	*n_r = n;
	return true;
}

bool
imap_arg_number(const struct imap_arg *a, uint32_t *n_r)
{
	uint64_t n;

	if (!imap_arg_number64(a, &n) || n > UINT32_MAX)
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool
imap_arg_nz_number(const struct imap_arg *a, uint32_t *n_r)
{
	return imap_arg_number(a, n_r) && *n_r != 0;
}

bool
imap_arg_list(const struct imap_arg *a, const struct imap_arg **list_r,
    size_t *count_r)
{
	if (a == NULL || a->type != IMAP_ARG_LIST)
		return false;
	*list_r = a->list;
	*count_r = a->count;
	return true;
}
