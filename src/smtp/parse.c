/* smtp/parse: SMTP command lines into struct smtp_cmd (see parse.h). The
 * verb table says what each verb takes and which line limit applies; each
 * argument kind has one parser, and MAIL/RCPT parameters have a table of
 * their own. The line is length-checked before anything is copied, and
 * every copy goes to the caller's pool. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "smtp/parse.h"
#include "smtp/path.h"

#define ENVID_MAX	100	/* RFC 3461 section 4.4 */
#define ORCPT_MAX	500	/* RFC 3461 section 4.2 */
#define AUTH_ADDR_MAX	500	/* AUTH= (RFC 4954 section 5) */
#define ADDR_TYPE_MAX	32
#define SASL_MECH_MAX	20	/* RFC 4422 section 3.1 */
#define KEYWORD_SHOW	32	/* of an unknown keyword, in the reply */

enum arg_kind {
	ARG_NONE,		/* nothing after the verb */
	ARG_STRING,		/* a required free-text argument */
	ARG_STRING_OPT,		/* an optional one */
	ARG_HELO,
	ARG_MAIL,
	ARG_RCPT,
	ARG_BDAT,
	ARG_AUTH,
};

enum line_kind {
	LINE_BASE,		/* limits->line_max */
	LINE_ESMTP,		/* limits->line_max_esmtp */
	LINE_AUTH,		/* limits->line_max_auth */
};

struct verb_def {
	const char	*name;
	enum smtp_verb	 verb;
	enum arg_kind	 arg;
	enum line_kind	 line;
	const char	*syntax;	/* the 501 text */
};

struct ctx {
	const uint8_t	*s;		/* borrowed: the line */
	size_t		 len;		/* without trailing spaces */
	size_t		 line_len;	/* as given, for the limits */
	size_t		 pos;		/* next octet to look at */
	const struct smtp_limits *limits;
	unsigned	 flags;
	struct pool	*pool;		/* borrowed from the caller */
	const struct verb_def *def;
	struct smtp_cmd	*cmd;
	struct smtp_cmd_error *err;
};

struct param_def {
	const char	*name;
	bool		 has_value;
	int		(*parse)(struct ctx *, const uint8_t *, size_t);
};

static int	 fail(struct ctx *c, unsigned code, const char *enhanced,
		    const char *text, const char *detail);
static int	 fail_syntax(struct ctx *c, const char *detail);
static bool	 has_prefix_nocase(const uint8_t *s, size_t len,
		    const char *prefix);
static bool	 eq_nocase(const uint8_t *s, size_t len, const char *word);
static void	 skip_spaces(struct ctx *c);
static int	 parse_number(const uint8_t *s, size_t len, uint64_t *r);
static int	 hex_value(uint8_t c);
static char	*xtext_decode(const uint8_t *s, size_t len, size_t max,
		    bool utf8, struct pool *pool);
static bool	 valid_text(const uint8_t *s, size_t len);
static bool	 valid_base64(const uint8_t *s, size_t len);
static bool	 valid_keyword(const uint8_t *s, size_t len);
static bool	 valid_value(const uint8_t *s, size_t len);
static int	 parse_params(struct ctx *c, const struct param_def *defs,
		    size_t ndefs);
static int	 param_size(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_body(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_smtputf8(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_ret(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_envid(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_auth(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_notify(struct ctx *c, const uint8_t *v, size_t n);
static int	 param_orcpt(struct ctx *c, const uint8_t *v, size_t n);
static int	 parse_path_arg(struct ctx *c, const char *prefix,
		    unsigned path_flags, struct smtp_path *path,
		    const char *enhanced, const char *text);
static int	 arg_none(struct ctx *c);
static int	 arg_string(struct ctx *c, bool required);
static int	 arg_helo(struct ctx *c);
static int	 arg_mail(struct ctx *c);
static int	 arg_rcpt(struct ctx *c);
static int	 arg_bdat(struct ctx *c);
static int	 arg_auth(struct ctx *c);

/* What each verb takes. LHLO is here for LMTP; which verbs a listener
 * allows is the session's table, not this one. */
static const struct verb_def verbs[] = {
	/* name        verb               argument        line limit */
	{ "EHLO",     SMTP_CMD_EHLO,     ARG_HELO,       LINE_BASE,
	  "Syntax: EHLO hostname" },
	{ "HELO",     SMTP_CMD_HELO,     ARG_HELO,       LINE_BASE,
	  "Syntax: HELO hostname" },
	{ "LHLO",     SMTP_CMD_LHLO,     ARG_HELO,       LINE_BASE,
	  "Syntax: LHLO hostname" },
	{ "MAIL",     SMTP_CMD_MAIL,     ARG_MAIL,       LINE_ESMTP,
	  "Syntax: MAIL FROM:<address>" },
	{ "RCPT",     SMTP_CMD_RCPT,     ARG_RCPT,       LINE_ESMTP,
	  "Syntax: RCPT TO:<address>" },
	{ "DATA",     SMTP_CMD_DATA,     ARG_NONE,       LINE_BASE,
	  "Syntax: DATA" },
	{ "BDAT",     SMTP_CMD_BDAT,     ARG_BDAT,       LINE_BASE,
	  "Syntax: BDAT size [LAST]" },
	{ "RSET",     SMTP_CMD_RSET,     ARG_NONE,       LINE_BASE,
	  "Syntax: RSET" },
	{ "NOOP",     SMTP_CMD_NOOP,     ARG_STRING_OPT, LINE_BASE,
	  "Syntax: NOOP [text]" },
	{ "QUIT",     SMTP_CMD_QUIT,     ARG_NONE,       LINE_BASE,
	  "Syntax: QUIT" },
	{ "HELP",     SMTP_CMD_HELP,     ARG_STRING_OPT, LINE_BASE,
	  "Syntax: HELP [topic]" },
	{ "VRFY",     SMTP_CMD_VRFY,     ARG_STRING,     LINE_BASE,
	  "Syntax: VRFY address" },
	{ "EXPN",     SMTP_CMD_EXPN,     ARG_STRING,     LINE_BASE,
	  "Syntax: EXPN list" },
	{ "STARTTLS", SMTP_CMD_STARTTLS, ARG_NONE,       LINE_BASE,
	  "Syntax: STARTTLS" },
	{ "AUTH",     SMTP_CMD_AUTH,     ARG_AUTH,       LINE_AUTH,
	  "Syntax: AUTH mechanism [initial-response]" },
};

static const struct param_def mail_params[] = {
	{ "SIZE",	true,	param_size },
	{ "BODY",	true,	param_body },
	{ "SMTPUTF8",	false,	param_smtputf8 },
	{ "RET",	true,	param_ret },
	{ "ENVID",	true,	param_envid },
	{ "AUTH",	true,	param_auth },
};

static const struct param_def rcpt_params[] = {
	{ "NOTIFY",	true,	param_notify },
	{ "ORCPT",	true,	param_orcpt },
};

void
smtp_limits_default(struct smtp_limits *limits)
{
	memset(limits, 0, sizeof(*limits));
	limits->line_max = SMTP_LINE_MAX;
	limits->line_max_esmtp = SMTP_LINE_MAX_ESMTP;
	limits->line_max_auth = SMTP_LINE_MAX_AUTH;
	limits->message_size_max = SMTP_MESSAGE_SIZE_MAX;
	limits->bdat_max = SMTP_MESSAGE_SIZE_MAX;
	limits->auth_payload_max = SMTP_AUTH_PAYLOAD_MAX;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "UNKNOWN";
}

static int
fail(struct ctx *c, unsigned code, const char *enhanced, const char *text,
    const char *detail)
{
	c->err->code = code;
	c->err->enhanced = enhanced;
	c->err->text = text;
	c->err->detail = detail;
	return -1;
}

static int
fail_syntax(struct ctx *c, const char *detail)
{
	return fail(c, 501, "5.5.4", c->def->syntax, detail);
}

/* ASCII only, whatever the locale: "I" is "i" here even in tr_TR. */
static bool
has_prefix_nocase(const uint8_t *s, size_t len, const char *prefix)
{
	size_t i;
	uint8_t a, b;

	for (i = 0; prefix[i] != '\0'; i++) {
		if (i >= len)
			return false;
		a = s[i] >= 'A' && s[i] <= 'Z' ? (uint8_t)(s[i] + 32) : s[i];
		b = (uint8_t)prefix[i];
		b = b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
		if (a != b)
			return false;
	}
	return true;
}

static bool
eq_nocase(const uint8_t *s, size_t len, const char *word)
{
	return len == strlen(word) && has_prefix_nocase(s, len, word);
}

static void
skip_spaces(struct ctx *c)
{
	while (c->pos < c->len && c->s[c->pos] == ' ')
		c->pos++;
}

/* 1*20DIGIT into a uint64_t, overflow checked. */
static int
parse_number(const uint8_t *s, size_t len, uint64_t *r)
{
	uint64_t n = 0, d;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*r = n;
	return 0;
}

char *
smtp_xtext_decode(const uint8_t *s, size_t len, size_t max,
    struct pool *pool)
{
	return xtext_decode(s, len, max, false, pool);
}

static int
hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* xtext (RFC 3461 section 4): lower-case hex digits are tolerated. With
 * utf8, raw well-formed UTF-8 may appear too (RFC 6533 unitext). */
static char *
xtext_decode(const uint8_t *s, size_t len, size_t max, bool utf8,
    struct pool *pool)
{
	struct buf b;
	char *out = NULL;
	size_t i = 0, n;
	uint8_t c;
	int hi, lo;

	if (len == 0 || len > max)
		return NULL;
	buf_init(&b, len);
	while (i < len) {
		c = s[i];
		n = 1;
		if (c == '+') {
			if (len - i < 3 || (hi = hex_value(s[i + 1])) < 0 ||
			    (lo = hex_value(s[i + 2])) < 0)
				goto out;
			c = (uint8_t)(hi << 4 | lo);
			if (c < 32 || c > 126)
				goto out;
			if (buf_append(&b, &c, 1) == -1)
				goto out;
			i += 3;
			continue;
		}
		if (c >= 0x80) {
			if (!utf8 || (n = smtp_utf8_seq_len(s + i,
			    len - i)) == 0)
				goto out;
		} else if (c < 33 || c > 126 || c == '=')
			goto out;
		if (buf_append(&b, s + i, n) == -1)
			goto out;
		i += n;
	}
	out = pool_strndup(pool, buf_cstr(&b), b.len);
out:
	buf_deinit(&b);
	return out;
}

/* Free text (VRFY, HELP, NOOP): printable ASCII, tab, UTF-8. */
static bool
valid_text(const uint8_t *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((s[i] >= 32 && s[i] <= 126) || s[i] == '\t')
			n = 1;
		else if ((n = smtp_utf8_seq_len(s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/* RFC 4648 base64 with its padding; "=" alone is handled by the caller. */
static bool
valid_base64(const uint8_t *s, size_t len)
{
	size_t i, pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			/* Only the last one or two octets may be padding. */
			if (i < len - 2)
				return false;
			pad++;
		} else if (pad > 0)
			return false;
		else if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return false;
	}
	return true;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
valid_keyword(const uint8_t *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (i == 0 || s[i] != '-'))
			return false;
	}
	return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii) */
static bool
valid_value(const uint8_t *s, size_t len)
{
	size_t i = 0, n;

	if (len == 0)
		return false;
	while (i < len) {
		if (s[i] >= 33 && s[i] <= 126 && s[i] != '=')
			n = 1;
		else if ((n = smtp_utf8_seq_len(s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/* *(1*SP esmtp-param), to the end of the line. */
static int
parse_params(struct ctx *c, const struct param_def *defs, size_t ndefs)
{
	const uint8_t *kw, *v, *eq;
	size_t start, kwlen, vlen, i;
	unsigned seen = 0;

	while (c->pos < c->len) {
		if (c->s[c->pos] != ' ')
			return fail_syntax(c, "junk after the address");
		skip_spaces(c);
		start = c->pos;
		while (c->pos < c->len && c->s[c->pos] != ' ')
			c->pos++;
		kw = c->s + start;
		eq = memchr(kw, '=', c->pos - start);
		kwlen = eq != NULL ? (size_t)(eq - kw) : c->pos - start;
		v = eq != NULL ? eq + 1 : NULL;
		/* UNSAFE: eq is inside s[start..pos), so v <= s + pos. */
		vlen = eq != NULL ? (size_t)(c->s + c->pos - v) : 0;
		if (!valid_keyword(kw, kwlen) ||
		    (v != NULL && !valid_value(v, vlen)))
			return fail(c, 501, "5.5.4", "Bad parameter syntax",
			    "malformed ESMTP parameter");
		for (i = 0; i < ndefs; i++)
			if (eq_nocase(kw, kwlen, defs[i].name))
				break;
		if (i == ndefs)
			return fail(c, 555, "5.5.4", pool_printf(c->pool,
			    "Unsupported parameter %.*s",
			    (int)(kwlen < KEYWORD_SHOW ? kwlen : KEYWORD_SHOW),
			    (const char *)kw), "unknown ESMTP parameter");
		if (seen & (1u << i))
			return fail(c, 501, "5.5.4", pool_printf(c->pool,
			    "Duplicate parameter %s", defs[i].name),
			    "duplicate ESMTP parameter");
		seen |= 1u << i;
		if (defs[i].has_value != (v != NULL))
			return fail(c, 501, "5.5.4", pool_printf(c->pool,
			    "Bad %s parameter", defs[i].name),
			    defs[i].has_value ? "parameter needs a value" :
			    "parameter takes no value");
		if (defs[i].parse(c, v, vlen) == -1)
			return -1;
	}
	return 0;
}

static int
param_size(struct ctx *c, const uint8_t *v, size_t n)
{
	uint64_t size;

	if (parse_number(v, n, &size) == -1)
		return fail(c, 501, "5.5.4", "Bad SIZE parameter",
		    "SIZE is not a number");
	if (c->limits->message_size_max != 0 &&
	    size > c->limits->message_size_max)
		return fail(c, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size",
		    "SIZE above the maximum");
	c->cmd->mail.size_given = true;
	c->cmd->mail.size = size;
	return 0;
}

static int
param_body(struct ctx *c, const uint8_t *v, size_t n)
{
	if (eq_nocase(v, n, "7BIT"))
		c->cmd->mail.body = SMTP_BODY_7BIT;
	else if (eq_nocase(v, n, "8BITMIME"))
		c->cmd->mail.body = SMTP_BODY_8BITMIME;
	else if (eq_nocase(v, n, "BINARYMIME"))
		c->cmd->mail.body = SMTP_BODY_BINARYMIME;
	else
		return fail(c, 501, "5.5.4", "Bad BODY parameter",
		    "unknown BODY type");
	return 0;
}

static int
param_smtputf8(struct ctx *c, const uint8_t *v, size_t n)
{
	c->cmd->mail.smtputf8 = true;
	return 0;
}

static int
param_ret(struct ctx *c, const uint8_t *v, size_t n)
{
	if (eq_nocase(v, n, "FULL"))
		c->cmd->mail.ret = SMTP_RET_FULL;
	else if (eq_nocase(v, n, "HDRS"))
		c->cmd->mail.ret = SMTP_RET_HDRS;
	else
		return fail(c, 501, "5.5.4", "Bad RET parameter",
		    "RET is neither FULL nor HDRS");
	return 0;
}

static int
param_envid(struct ctx *c, const uint8_t *v, size_t n)
{
	if ((c->cmd->mail.envid = xtext_decode(v, n, ENVID_MAX, false,
	    c->pool)) == NULL)
		return fail(c, 501, "5.5.4", "Bad ENVID parameter",
		    "ENVID is not valid xtext of at most 100 octets");
	return 0;
}

static int
param_auth(struct ctx *c, const uint8_t *v, size_t n)
{
	if (n == 2 && v[0] == '<' && v[1] == '>') {
		c->cmd->mail.auth = "";
		return 0;
	}
	if ((c->cmd->mail.auth = xtext_decode(v, n, AUTH_ADDR_MAX, false,
	    c->pool)) == NULL)
		return fail(c, 501, "5.5.4", "Bad AUTH parameter",
		    "AUTH= is not valid xtext");
	return 0;
}

/* "NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY"), each at most once. */
static int
param_notify(struct ctx *c, const uint8_t *v, size_t n)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} words[] = {
		{ "NEVER",	SMTP_NOTIFY_NEVER },
		{ "SUCCESS",	SMTP_NOTIFY_SUCCESS },
		{ "FAILURE",	SMTP_NOTIFY_FAILURE },
		{ "DELAY",	SMTP_NOTIFY_DELAY },
	};
	const uint8_t *comma;
	unsigned bits = 0;
	size_t i, wlen;

	for (;;) {
		comma = memchr(v, ',', n);
		wlen = comma != NULL ? (size_t)(comma - v) : n;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (eq_nocase(v, wlen, words[i].name))
				break;
		if (i == sizeof(words) / sizeof(words[0]) ||
		    (bits & words[i].bit))
			goto bad;
		bits |= words[i].bit;
		if (comma == NULL)
			break;
		/* UNSAFE: comma is inside v[0..n), so wlen + 1 <= n. */
		v += wlen + 1;
		n -= wlen + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		goto bad;
	c->cmd->rcpt.notify = bits;
	return 0;
bad:
	return fail(c, 501, "5.5.4", "Bad NOTIFY parameter",
	    "NOTIFY is not NEVER or a list of SUCCESS, FAILURE, DELAY");
}

/* addr-type ";" xtext, addr-type an atom ("rfc822", "utf-8"). */
static int
param_orcpt(struct ctx *c, const uint8_t *v, size_t n)
{
	const uint8_t *semi;
	size_t tlen, i;
	char *type;

	if (n > ORCPT_MAX || (semi = memchr(v, ';', n)) == NULL)
		goto bad;
	tlen = (size_t)(semi - v);
	if (tlen == 0 || tlen > ADDR_TYPE_MAX || !valid_keyword(v, tlen))
		goto bad;
	type = pool_strndup(c->pool, (const char *)v, tlen);
	for (i = 0; i < tlen; i++)
		if (type[i] >= 'A' && type[i] <= 'Z')
			type[i] = (char)(type[i] - 'A' + 'a');
	/* UNSAFE: semi is inside v[0..n), so tlen + 1 <= n. */
	if ((c->cmd->rcpt.orcpt = xtext_decode(semi + 1, n - tlen - 1,
	    ORCPT_MAX, (c->flags & SMTP_PARSE_UTF8) != 0, c->pool)) == NULL)
		goto bad;
	c->cmd->rcpt.orcpt_type = type;
	return 0;
bad:
	return fail(c, 501, "5.5.4", "Bad ORCPT parameter",
	    "ORCPT is not addr-type;xtext");
}

/* prefix ("FROM:" or "TO:"), optional spaces, then "<path>". */
static int
parse_path_arg(struct ctx *c, const char *prefix, unsigned path_flags,
    struct smtp_path *path, const char *enhanced, const char *text)
{
	const char *why;
	size_t n;

	if (!has_prefix_nocase(c->s + c->pos, c->len - c->pos, prefix))
		return fail_syntax(c, "missing FROM: or TO:");
	c->pos += strlen(prefix);
	skip_spaces(c);
	if (c->pos == c->len)
		return fail_syntax(c, "missing address");
	if (c->s[c->pos] != '<')
		return fail(c, 501, enhanced, text,
		    "address without angle brackets");
	if (smtp_path_parse_prefix(c->s + c->pos, c->len - c->pos, path_flags,
	    c->pool, path, &n, &why) == -1)
		return fail(c, 501, enhanced, text, why);
	c->pos += n;
	return 0;
}

static int
arg_none(struct ctx *c)
{
	if (c->pos < c->len)
		return fail_syntax(c, "no argument allowed");
	return 0;
}

static int
arg_string(struct ctx *c, bool required)
{
	if (c->pos == c->len)
		return required ? fail_syntax(c, "missing argument") : 0;
	if (!valid_text(c->s + c->pos, c->len - c->pos))
		return fail_syntax(c, "control character or bad UTF-8");
	c->cmd->arg = pool_strndup(c->pool, (const char *)c->s + c->pos,
	    c->len - c->pos);
	return 0;
}

static int
arg_helo(struct ctx *c)
{
	const char *domain, *why;
	bool literal;

	if (c->pos == c->len)
		return fail_syntax(c, "missing hostname");
	if (smtp_domain_parse(c->s + c->pos, c->len - c->pos, 0, c->pool,
	    &domain, &literal, &why) == -1)
		return fail_syntax(c, why);
	c->cmd->helo = pool_strndup(c->pool, (const char *)c->s + c->pos,
	    c->len - c->pos);
	c->cmd->helo_literal = literal;
	return 0;
}

static int
arg_mail(struct ctx *c)
{
	struct smtp_mail_args *m = &c->cmd->mail;

	if (parse_path_arg(c, "FROM:", SMTP_PATH_ALLOW_NULL |
	    SMTP_PATH_ALLOW_UTF8, &m->path, "5.1.7",
	    "Bad sender address syntax") == -1)
		return -1;
	if (c->pos == c->len && c->line_len + 2 > c->limits->line_max)
		return fail(c, 500, "5.5.2", "Line too long",
		    "MAIL without parameters longer than line_max");
	if (parse_params(c, mail_params,
	    sizeof(mail_params) / sizeof(mail_params[0])) == -1)
		return -1;
	/* Only now is it known whether SMTPUTF8 came along. */
	if (m->path.utf8 && !m->smtputf8)
		return fail(c, 553, "5.6.7",
		    "Non-ASCII sender address requires SMTPUTF8",
		    "UTF-8 in MAIL without SMTPUTF8");
	return 0;
}

static int
arg_rcpt(struct ctx *c)
{
	struct smtp_rcpt_args *r = &c->cmd->rcpt;

	if (parse_path_arg(c, "TO:", SMTP_PATH_ALLOW_POSTMASTER |
	    SMTP_PATH_ALLOW_UTF8, &r->path, "5.1.3",
	    "Bad recipient address syntax") == -1)
		return -1;
	if (c->pos == c->len && c->line_len + 2 > c->limits->line_max)
		return fail(c, 500, "5.5.2", "Line too long",
		    "RCPT without parameters longer than line_max");
	if (r->path.utf8 && !(c->flags & SMTP_PARSE_UTF8))
		return fail(c, 553, "5.6.7",
		    "Non-ASCII recipient address requires SMTPUTF8",
		    "UTF-8 in RCPT outside an SMTPUTF8 transaction");
	return parse_params(c, rcpt_params,
	    sizeof(rcpt_params) / sizeof(rcpt_params[0]));
}

/* chunk-size [1*SP "LAST"]. Any failure leaves the chunk length unknown:
 * the session must not read what follows as commands. */
static int
arg_bdat(struct ctx *c)
{
	size_t start = c->pos;
	uint64_t size;

	while (c->pos < c->len && c->s[c->pos] != ' ')
		c->pos++;
	if (parse_number(c->s + start, c->pos - start, &size) == -1)
		return fail_syntax(c, "chunk size is not a number");
	if (c->limits->bdat_max != 0 && size > c->limits->bdat_max)
		return fail(c, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size",
		    "BDAT chunk above bdat_max");
	skip_spaces(c);
	if (c->pos < c->len) {
		if (!eq_nocase(c->s + c->pos, c->len - c->pos, "LAST"))
			return fail_syntax(c, "junk after the chunk size");
		c->cmd->bdat_last = true;
	}
	c->cmd->bdat_size = size;
	return 0;
}

/* mechanism [1*SP (base64 / "=")]. The response is borrowed, not copied. */
static int
arg_auth(struct ctx *c)
{
	size_t start = c->pos, mlen, rlen, i;
	const uint8_t *r;
	char *mech;

	while (c->pos < c->len && c->s[c->pos] != ' ')
		c->pos++;
	mlen = c->pos - start;
	if (mlen == 0 || mlen > SASL_MECH_MAX)
		return fail_syntax(c, "bad mechanism name");
	for (i = start; i < c->pos; i++) {
		uint8_t ch = c->s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return fail_syntax(c, "bad mechanism name");
	}
	skip_spaces(c);
	if (c->pos < c->len) {
		r = c->s + c->pos;
		rlen = c->len - c->pos;
		if (memchr(r, ' ', rlen) != NULL)
			return fail_syntax(c, "more than one response");
		if (rlen == 1 && r[0] == '=')
			rlen = 0;
		else if (!valid_base64(r, rlen))
			return fail(c, 501, "5.5.2",
			    "Cannot Base64-decode client response",
			    "bad base64 in AUTH");
		/* UNSAFE: valid_base64() made rlen a non-zero multiple
		 * of 4, so r[rlen - 2] is in bounds. */
		else if (rlen / 4 * 3 - (r[rlen - 1] == '=') -
		    (r[rlen - 2] == '=') > c->limits->auth_payload_max)
			return fail(c, 501, "5.5.4",
			    "Authentication data too long",
			    "AUTH initial response above auth_payload_max");
		c->cmd->auth_initial = r;
		c->cmd->auth_initial_len = rlen;
	}
	mech = pool_strndup(c->pool, (const char *)c->s + start, mlen);
	for (i = 0; i < mlen; i++)
		if (mech[i] >= 'a' && mech[i] <= 'z')
			mech[i] = (char)(mech[i] - 'a' + 'A');
	c->cmd->auth_mech = mech;
	return 0;
}

int
smtp_cmd_parse(const uint8_t *line, size_t len,
    const struct smtp_limits *limits, unsigned flags, struct pool *pool,
    struct smtp_cmd *cmd, struct smtp_cmd_error *error)
{
	static const struct verb_def unknown = { "UNKNOWN", SMTP_CMD_UNKNOWN,
	    ARG_NONE, LINE_BASE, "Unknown command" };
	struct smtp_limits defaults;
	struct ctx c;
	size_t vlen, i, max;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	memset(error, 0, sizeof(*error));
	if (limits == NULL) {
		smtp_limits_default(&defaults);
		limits = &defaults;
	}
	memset(&c, 0, sizeof(c));
	c.s = line;
	c.len = len;
	c.line_len = len;
	c.limits = limits;
	c.flags = flags;
	c.pool = pool;
	c.def = &unknown;
	c.cmd = cmd;
	c.err = error;

	while (c.len > 0 && line[c.len - 1] == ' ')
		c.len--;
	for (vlen = 0; vlen < c.len && line[vlen] != ' '; vlen++)
		;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (eq_nocase(line, vlen, verbs[i].name))
			break;
	if (i < sizeof(verbs) / sizeof(verbs[0])) {
		c.def = &verbs[i];
		cmd->verb = c.def->verb;
	}
	/* A BDAT that fails here leaves the chunk length unknown. */
	error->close = cmd->verb == SMTP_CMD_BDAT;
	if (memchr(line, '\0', len) != NULL ||
	    memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL)
		return fail(&c, 500, "5.5.2", "Invalid character in command",
		    "NUL, CR or LF in the command line");
	if (cmd->verb == SMTP_CMD_UNKNOWN)
		return fail(&c, 500, "5.5.2", "Unknown command",
		    vlen == 0 ? "empty command" : "unknown verb");
	max = c.def->line == LINE_ESMTP ? limits->line_max_esmtp :
	    c.def->line == LINE_AUTH ? limits->line_max_auth :
	    limits->line_max;
	if (len > max || len + 2 > max)
		return fail(&c, 500, "5.5.2", "Line too long",
		    "command line above its limit");
	c.pos = vlen;
	skip_spaces(&c);

	switch (c.def->arg) {
	case ARG_NONE:
		rc = arg_none(&c);
		break;
	case ARG_STRING:
		rc = arg_string(&c, true);
		break;
	case ARG_STRING_OPT:
		rc = arg_string(&c, false);
		break;
	case ARG_HELO:
		rc = arg_helo(&c);
		break;
	case ARG_MAIL:
		rc = arg_mail(&c);
		break;
	case ARG_RCPT:
		rc = arg_rcpt(&c);
		break;
	case ARG_BDAT:
		rc = arg_bdat(&c);
		break;
	case ARG_AUTH:
		rc = arg_auth(&c);
		break;
	default:
		rc = fail(&c, 500, "5.5.2", "Unknown command", "no parser");
		break;
	}
	if (rc == 0)
		memset(error, 0, sizeof(*error));
	return rc;
}
