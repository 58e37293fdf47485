/* imap/flags: system flag bits and keyword atoms (see flags.h). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "imap/flags.h"
#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/pool.h"

static const struct {
	unsigned	 bit;
	const char	*name;
} system_flags[] = {
	{ IMAP_FLAG_ANSWERED,	"\\Answered" },
	{ IMAP_FLAG_FLAGGED,	"\\Flagged" },
	{ IMAP_FLAG_DELETED,	"\\Deleted" },
	{ IMAP_FLAG_SEEN,	"\\Seen" },
	{ IMAP_FLAG_DRAFT,	"\\Draft" },
	{ IMAP_FLAG_RECENT,	"\\Recent" },
};
#define NSYSTEM	(sizeof(system_flags) / sizeof(system_flags[0]))

static bool	 eq_nocase(const char *a, size_t alen, const char *b);
static int	 add_flag(const struct imap_arg *a, struct pool *pool,
		    struct imap_flags *out, size_t *cap,
		    const char **error_r);

static bool
eq_nocase(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

bool
imap_keyword_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > IMAP_KEYWORD_LEN_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f ||
		    strchr("(){%*\"\\]", s[i]) != NULL)
			return false;
	return true;
}

unsigned
imap_flag_from_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NSYSTEM; i++)
		if (eq_nocase(s, len, system_flags[i].name))
			return system_flags[i].bit;
	return 0;
}

const char *
imap_flag_name(unsigned flag)
{
	size_t i;

	for (i = 0; i < NSYSTEM; i++)
		if (system_flags[i].bit == flag)
			return system_flags[i].name;
	return NULL;
}

static int
add_flag(const struct imap_arg *a, struct pool *pool, struct imap_flags *out,
    size_t *cap, const char **error_r)
{
	const char **v;
	const char *s;
	unsigned bit;
	size_t i;

	if (!imap_arg_atom(a, &s)) {
		*error_r = "Flags must be atoms";
		return -1;
	}
	if (s[0] == '\\') {
		bit = imap_flag_from_name(s, a->len);
		if (bit == IMAP_FLAG_RECENT) {
			*error_r = "\\Recent cannot be set";
			return -1;
		}
		if (bit == 0) {
			*error_r = "Invalid system flag";
			return -1;
		}
		out->system |= bit;
		return 0;
	}
	if (!imap_keyword_valid(s, a->len)) {
		*error_r = "Invalid keyword";
		return -1;
	}
	for (i = 0; i < out->nkeywords; i++)
		if (eq_nocase(s, a->len, out->keywords[i]))
			return 0;
	if (out->nkeywords >= IMAP_FLAGS_MAX) {
		*error_r = "Too many keywords";
		return -1;
	}
	if (out->nkeywords == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		v = pool_alloc(pool, *cap * sizeof(*v));
		if (out->nkeywords > 0)
			memcpy(v, out->keywords,
			    out->nkeywords * sizeof(*v));
		out->keywords = v;
	}
	out->keywords[out->nkeywords++] = pool_strndup(pool, s, a->len);
	return 0;
}

int
imap_flags_parse_args(const struct imap_arg *args, size_t count,
    struct pool *pool, struct imap_flags *out, const char **error_r)
{
	size_t i, cap = 0;

	memset(out, 0, sizeof(*out));
	if (count == 1 && args[0].type == IMAP_ARG_LIST)
		return imap_flags_parse_list(&args[0], pool, out, error_r);
	if (count > IMAP_FLAGS_MAX) {
		*error_r = "Too many flags";
		return -1;
	}
	for (i = 0; i < count; i++)
		if (add_flag(&args[i], pool, out, &cap, error_r) == -1)
			return -1;
	return 0;
}

int
imap_flags_parse_list(const struct imap_arg *list, struct pool *pool,
    struct imap_flags *out, const char **error_r)
{
	const struct imap_arg *v;
	size_t n, i, cap = 0;

	memset(out, 0, sizeof(*out));
	if (!imap_arg_list(list, &v, &n)) {
		*error_r = "Flags must be a parenthesized list";
		return -1;
	}
	if (n > IMAP_FLAGS_MAX) {
		*error_r = "Too many flags";
		return -1;
	}
	for (i = 0; i < n; i++)
		if (add_flag(&v[i], pool, out, &cap, error_r) == -1)
			return -1;
	return 0;
}

int
imap_flags_format(unsigned system, const char *const *keywords,
    size_t nkeywords, struct buf *out)
{
	bool first = true;
	size_t i;

	if (buf_append(out, "(", 1) == -1)
		return -1;
	for (i = 0; i < NSYSTEM; i++) {
		if (!(system & system_flags[i].bit))
			continue;
		if ((!first && buf_append(out, " ", 1) == -1) ||
		    buf_append_str(out, system_flags[i].name) == -1)
			return -1;
		first = false;
	}
	for (i = 0; i < nkeywords; i++) {
		if ((!first && buf_append(out, " ", 1) == -1) ||
		    buf_append_str(out, keywords[i]) == -1)
			return -1;
		first = false;
	}
	return buf_append(out, ")", 1);
}
