/* name: mailbox names, the only way a client's text becomes a path. Every
 * entry point of the store passes names through store_name_check(), and
 * only a checked name reaches name_path(), which puts it after "<root>/."
 * as one directory entry: with no '/', no leading '.', no empty component
 * and no control character, a name can never leave the user's root.
 *
 * Also IMAP LIST pattern matching and the SPECIAL-USE attributes of the
 * standard names. Limits: names STORE_NAME_MAX octets, patterns
 * MATCH_MAX octets (matching is O(pattern x name), no recursion). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/store-private.h"

#define MATCH_MAX	1024

static bool	 is_inbox_prefix(const char *s, size_t len);

static bool
is_inbox_prefix(const char *s, size_t len)
{
	return len >= 5 && strncasecmp(s, "INBOX", 5) == 0 &&
	    (len == 5 || s[5] == '.');
}

bool
store_name_check(const char *name, char *canon, size_t canonlen,
    const char **error_r)
{
	const char *why = NULL;
	unsigned char c;
	size_t len, i;

	if (name == NULL) {
		*error_r = "no mailbox name";
		return false;
	}
	len = strnlen(name, STORE_NAME_MAX + 1);
	if (len == 0)
		why = "empty mailbox name";
	else if (len > STORE_NAME_MAX)
		why = "mailbox name too long";
	else if (name[0] == '.' || name[len - 1] == '.')
		why = "mailbox name begins or ends with the separator";
	for (i = 0; why == NULL && i < len; i++) {
		c = (unsigned char)name[i];
		if (c < 0x20 || c >= 0x7f)
			why = "mailbox name has control or 8-bit characters";
		else if (c == '/')
			why = "mailbox name has '/'";
		else if (c == '*' || c == '%')
			why = "mailbox name has a wildcard";
		else if (c == '.' && name[i + 1] == '.')
			why = "mailbox name has an empty level";
	}
	if (why == NULL && len + 1 > canonlen)
		why = "mailbox name too long";
	if (why != NULL) {
		*error_r = why;
		return false;
	}
	memcpy(canon, name, len);	/* UNSAFE: len + 1 <= canonlen */
	canon[len] = '\0';
	if (is_inbox_prefix(canon, len))
		memcpy(canon, "INBOX", 5);
	return true;
}

bool
store_name_bytes_ok(const void *data, size_t len, const char **error_r)
{
	char buf[STORE_NAME_MAX + 1], canon[STORE_NAME_MAX + 1];

	if (len > STORE_NAME_MAX) {
		*error_r = "mailbox name too long";
		return false;
	}
	if (memchr(data, '\0', len) != NULL) {
		*error_r = "mailbox name has NUL";
		return false;
	}
	memcpy(buf, data, len);		/* UNSAFE: len <= STORE_NAME_MAX */
	buf[len] = '\0';
	return store_name_check(buf, canon, sizeof(canon), error_r);
}

/* The directory of a checked name: the root for INBOX, else "<root>/.name".
 * -1 when it does not fit. */
int
name_path(const char *root, const char *canon, char *out, size_t outlen)
{
	int n;

	if (strcmp(canon, "INBOX") == 0)
		n = snprintf(out, outlen, "%s", root);
	else
		n = snprintf(out, outlen, "%s/.%s", root, canon);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

bool
store_name_match(const char *pattern, const char *name)
{
	bool cur[MATCH_MAX + 2], next[MATCH_MAX + 2];
	char pat[MATCH_MAX + 1];
	size_t plen, nlen, i, j;
	bool any;

	plen = strnlen(pattern, MATCH_MAX + 1);
	nlen = strnlen(name, MATCH_MAX + 1);
	if (plen > MATCH_MAX || nlen > MATCH_MAX)
		return false;
	memcpy(pat, pattern, plen + 1);
	/* INBOX is case-insensitive, in the pattern too. */
	if (is_inbox_prefix(pat, plen))
		memcpy(pat, "INBOX", 5);
	/* cur[j]: pattern[0..j) can match name[0..i). */
	memset(cur, 0, sizeof(cur));
	cur[0] = true;
	for (j = 0; j < plen && (pat[j] == '*' || pat[j] == '%'); j++)
		cur[j + 1] = true;
	for (i = 0; i < nlen; i++) {
		memset(next, 0, sizeof(next));
		any = false;
		for (j = 0; j < plen; j++) {
			if (!cur[j])
				continue;
			if (pat[j] == '*' ||
			    (pat[j] == '%' && name[i] != '.'))
				next[j] = true;		/* wildcard eats */
			else if (pat[j] == name[i])
				next[j + 1] = true;
		}
		/* A wildcard may also match nothing. */
		for (j = 0; j < plen; j++)
			if (next[j] && (pat[j] == '*' || pat[j] == '%'))
				next[j + 1] = true;
		for (j = 0; j <= plen; j++)
			any |= next[j];
		if (!any)
			return false;
		memcpy(cur, next, sizeof(cur));
	}
	return cur[plen];
}

unsigned
store_name_special_use(const char *canon)
{
	static const struct {
		const char	*name;
		unsigned	 attr;
	} special[] = {
		{ "Sent",	STORE_LA_SENT },
		{ "Drafts",	STORE_LA_DRAFTS },
		{ "Junk",	STORE_LA_JUNK },
		{ "Trash",	STORE_LA_TRASH },
		{ "Archive",	STORE_LA_ARCHIVE },
	};
	size_t i;

	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(canon, special[i].name) == 0)
			return special[i].attr;
	return 0;
}
