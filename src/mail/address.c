/* address: split an address list into its addresses (see address.h).
 *
 * Called by `postie sendmail` (cli/cmd-sendmail.c) for its arguments and,
 * with -t, for the values of To:, Cc: and Bcc:, which come from a local
 * user's message: hostile until parsed.
 *
 * One pass over (s, len). An item's octets outside comments and angle
 * brackets go to its text buffer, those inside to its angle buffer; both
 * are struct bufs of max_len octets, so an overlong item fails the append.
 * At a ',' or ';' (and at the end) the item ends and yields its angle
 * address if it had one, else its text. Limits: see address.h. */
#include <stdbool.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "mail/address.h"

/* The item being read and what has been yielded. */
struct alist {
	struct buf	 text;		/* outside comments and <> */
	struct buf	 angle;		/* inside <> */
	struct buf	*cur;		/* text or angle */
	bool		 in_angle;
	bool		 have_angle;	/* the item had a <...> */
	bool		 in_group;	/* after "name:", before ";" */
	size_t		 max_addrs;
	struct strv	*out;
};

static const char *skip_comment(const char *s, size_t len, size_t *i);
static const char *copy_quoted(struct buf *b, const char *s, size_t len,
		    size_t *i);
static const char *end_item(struct alist *al);
static const char *step(struct alist *al, const char *s, size_t len,
		    size_t *i);

/* s[*i] is '('; on return s[*i] is the ')' that closes it. Comments nest
 * and take quoted pairs. */
static const char *
skip_comment(const char *s, size_t len, size_t *i)
{
	size_t depth = 1, k;

	for (k = *i + 1; k < len; k++) {
		if (s[k] == '\0')
			return "NUL in an address";
		if (s[k] == '\\' && k + 1 < len) {
			if (s[++k] == '\0')
				return "NUL in an address";
		} else if (s[k] == '(')
			depth++;
		else if (s[k] == ')' && --depth == 0) {
			*i = k;
			return NULL;
		}
	}
	return "unterminated comment";
}

/* s[*i] is '"'; the quoted string goes to b as it is, quotes and quoted
 * pairs included. On return s[*i] is the closing '"'. */
static const char *
copy_quoted(struct buf *b, const char *s, size_t len, size_t *i)
{
	size_t k;

	if (buf_append(b, "\"", 1) == -1)
		return "address too long";
	for (k = *i + 1; k < len && s[k] != '"'; k++) {
		if (s[k] == '\\' && k + 1 < len) {
			if (buf_append(b, &s[k], 1) == -1)
				return "address too long";
			k++;
		}
		if (s[k] == '\0')
			return "NUL in an address";
		if (buf_append(b, &s[k], 1) == -1)
			return "address too long";
	}
	if (k >= len)
		return "unterminated quoted string";
	if (buf_append(b, "\"", 1) == -1)
		return "address too long";
	*i = k;
	return NULL;
}

/* At ',' or ';' outside <>, and at the end of the list. */
static const char *
end_item(struct alist *al)
{
	const char *addr;

	addr = al->have_angle ? buf_cstr(&al->angle) : buf_cstr(&al->text);
	if (*addr != '\0') {
		if (al->out->n >= al->max_addrs)
			return "too many addresses";
		strv_push(al->out, addr);
	}
	buf_reset(&al->text);
	buf_reset(&al->angle);
	al->have_angle = false;
	return NULL;
}

/* One octet, s[*i], or the comment or quoted string it starts. */
static const char *
step(struct alist *al, const char *s, size_t len, size_t *i)
{
	char c = s[*i];

	switch (c) {
	case '\0':
		return "NUL in an address";
	case '(':
		return skip_comment(s, len, i);
	case '"':
		return copy_quoted(al->cur, s, len, i);
	case '<':
		if (al->in_angle || al->have_angle)
			return "unexpected <";
		al->in_angle = true;
		al->cur = &al->angle;
		return NULL;
	case '>':
		if (!al->in_angle)
			return "unexpected >";
		al->in_angle = false;
		al->have_angle = true;
		al->cur = &al->text;
		return NULL;
	case ' ':
	case '\t':
		return NULL;
	}
	if (al->in_angle) {
		switch (c) {
		case ':':
			/* A source route "<@a,@b:c@d>": keep the last part. */
			buf_reset(&al->angle);
			return NULL;
		case ';':
			return "unterminated <";
		}
	} else {
		switch (c) {
		case ':':
			if (al->in_group)
				return "unexpected character";
			al->in_group = true;	/* "name:" starts a group */
			buf_reset(&al->text);
			return NULL;
		case ';':
			al->in_group = false;
			return end_item(al);
		case ',':
			return end_item(al);
		case ')':
			return "unexpected character";
		}
	}
	return buf_append(al->cur, &c, 1) == -1 ? "address too long" : NULL;
}

int
address_list_parse(const char *s, size_t len, size_t max_addrs,
    size_t max_len, struct strv *addrs_r, const char **error_r)
{
	struct alist al = { .max_addrs = max_addrs, .out = addrs_r };
	const char *bad = NULL;
	size_t i;

	memset(addrs_r, 0, sizeof(*addrs_r));
	buf_init(&al.text, max_len);
	buf_init(&al.angle, max_len);
	al.cur = &al.text;
	for (i = 0; i < len && bad == NULL; i++)
		bad = step(&al, s, len, &i);
	if (bad == NULL && al.in_angle)
		bad = "unterminated <";
	if (bad == NULL)
		bad = end_item(&al);
	buf_deinit(&al.text);
	buf_deinit(&al.angle);
	if (bad != NULL) {
		strv_free(addrs_r);
		*error_r = bad;
		return -1;
	}
	return 0;
}
