/* client-reply: the outbound client's reply reader and EHLO keyword
 * parser (see client-proto.h for the grammar and the limits). The reader
 * is a state machine over (data, len): it copies at most one line
 * (SMTP_REPLY_LINE_MAX + CR) into its line buffer, checks the line as a
 * whole when its LF arrives, and adds its text to the reply; so input
 * split at any byte gives the same reply. Called by client.c for every
 * reply, and by the unit tests and fuzz-smtp-reply. */
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "smtp/client-proto.h"

/* Room for every line's text and separators, whatever the peer sends. */
#define REPLY_TEXT_MAX	(SMTP_REPLY_LINES_MAX * (SMTP_REPLY_LINE_MAX + 1))

static int	 take_line(struct smtp_reply_parser *p, const uint8_t *s,
		    size_t len, bool *final_r, const char **error_r);
static size_t	 enh_code(const uint8_t *s, size_t len, unsigned cls);
static void	 ehlo_keyword(struct smtp_ehlo *e, const char *line);
static void	 ehlo_auth(struct smtp_ehlo *e, const char *params);
static uint64_t	 parse_size(const char *s);

void
smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, SMTP_REPLY_LINE_MAX + 1);
	buf_init(&p->reply.text, REPLY_TEXT_MAX);
	buf_init(&p->reply.lines, REPLY_TEXT_MAX);
}

void
smtp_reply_parser_deinit(struct smtp_reply_parser *p)
{
	buf_deinit(&p->line);
	buf_deinit(&p->reply.text);
	buf_deinit(&p->reply.lines);
}

void
smtp_reply_parser_reset(struct smtp_reply_parser *p)
{
	buf_reset(&p->line);
	buf_reset(&p->reply.text);
	buf_reset(&p->reply.lines);
	p->reply.code = 0;
	p->reply.enh[0] = '\0';
	p->reply.nlines = 0;
	p->done = false;
}

enum parse_result
smtp_reply_parse(struct smtp_reply_parser *p, const uint8_t *data,
    size_t len, size_t *used_r, const char **error_r)
{
	const uint8_t *lf;
	size_t off = 0, n;
	bool final;

	*used_r = 0;
	if (p->done)
		smtp_reply_parser_reset(p);
	while (off < len) {
		lf = memchr(data + off, '\n', len - off);
		n = lf != NULL ? (size_t)(lf - (data + off)) : len - off;
		if (buf_append(&p->line, data + off, n) == -1) {
			*error_r = "reply line too long";
			return PARSE_ERROR;
		}
		off += n;
		if (lf == NULL)
			break;
		off++;		/* the LF */
		n = p->line.len;
		if (n > 0 && p->line.data[n - 1] == '\r')
			n--;
		if (n > SMTP_REPLY_LINE_MAX) {
			*error_r = "reply line too long";
			return PARSE_ERROR;
		}
		if (take_line(p, p->line.data, n, &final, error_r) == -1)
			return PARSE_ERROR;
		buf_reset(&p->line);
		if (final) {
			p->done = true;
			*used_r = off;
			return PARSE_DONE;
		}
	}
	*used_r = len;
	return PARSE_MORE;
}

/* One line without its end: "ddd", "ddd text" or "ddd-text". */
static int
take_line(struct smtp_reply_parser *p, const uint8_t *s, size_t len,
    bool *final_r, const char **error_r)
{
	struct smtp_reply *r = &p->reply;
	uint8_t clean[SMTP_REPLY_LINE_MAX];
	unsigned code;
	size_t i, skip;

	if (len < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' ||
	    s[1] > '5' || s[2] < '0' || s[2] > '9') {
		*error_r = "malformed reply code";
		return -1;
	}
	if (len > 3 && s[3] != ' ' && s[3] != '-') {
		*error_r = "malformed reply line";
		return -1;
	}
	code = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
	    (unsigned)(s[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		*error_r = "reply code changes within a reply";
		return -1;
	}
	if (r->nlines >= SMTP_REPLY_LINES_MAX) {
		*error_r = "too many reply lines";
		return -1;
	}
	*final_r = len == 3 || s[3] == ' ';
	r->code = code;
	s += len > 3 ? 4 : 3;
	len -= len > 3 ? 4 : 3;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] == '\r') {
			*error_r = "NUL or bare CR in a reply";
			return -1;
		}
		clean[i] = s[i] == '\t' ? ' ' :
		    (s[i] < 0x20 || s[i] > 0x7e) ? '?' : s[i];
	}
	if (buf_append(&r->lines, clean, len) == -1 ||
	    buf_append(&r->lines, "", 1) == -1)
		panic("reply lines exceed their bound");
	if ((skip = enh_code(clean, len, code / 100)) > 0) {
		if (r->nlines == 0) {
			/* UNSAFE: enh_code() accepts at most 9 octets. */
			memcpy(r->enh, clean, skip);
			r->enh[skip] = '\0';
		}
		while (skip < len && clean[skip] == ' ')
			skip++;
	}
	if (len > skip) {
		if ((r->text.len > 0 && buf_append(&r->text, " ", 1) == -1) ||
		    buf_append(&r->text, clean + skip, len - skip) == -1)
			panic("reply text exceeds its bound");
	}
	r->nlines++;
	return 0;
}

/* The length of an enhanced status code "c.s.d" (RFC 3463: class 2, 4
 * or 5 matching the reply, subject and detail 1-3 digits) at the start of
 * s, followed by a space or the end; 0 if there is none. */
static size_t
enh_code(const uint8_t *s, size_t len, unsigned cls)
{
	size_t i = 0, n, part;

	if (len < 5 || s[0] != '0' + cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && n < 4 && s[i] >= '0' && s[i] <= '9'; n++)
			i++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

void
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	const char *line = (const char *)r->lines.data;
	const char *end = line + r->lines.len;
	unsigned i;

	memset(e, 0, sizeof(*e));
	if (r->lines.len == 0)
		return;
	/* UNSAFE: lines holds nlines NUL-terminated strings. */
	for (i = 0; i < r->nlines && line < end; i++) {
		if (i > 0)
			ehlo_keyword(e, line);
		line += strlen(line) + 1;
	}
}

static void
ehlo_keyword(struct smtp_ehlo *e, const char *line)
{
	static const struct {
		const char	*name;
		unsigned	 ext;
	} kw[] = {
		{ "PIPELINING",		 SMTP_EXT_PIPELINING },
		{ "SIZE",		 SMTP_EXT_SIZE },
		{ "8BITMIME",		 SMTP_EXT_8BITMIME },
		{ "SMTPUTF8",		 SMTP_EXT_SMTPUTF8 },
		{ "DSN",		 SMTP_EXT_DSN },
		{ "STARTTLS",		 SMTP_EXT_STARTTLS },
		{ "AUTH",		 SMTP_EXT_AUTH },
		{ "CHUNKING",		 SMTP_EXT_CHUNKING },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
	};
	size_t i, n;

	n = strcspn(line, " =");
	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
		if (strlen(kw[i].name) != n ||
		    strncasecmp(line, kw[i].name, n) != 0)
			continue;
		/* "AUTH=PLAIN LOGIN" is the pre-standard form of AUTH. */
		if (line[n] == '=' && kw[i].ext != SMTP_EXT_AUTH)
			return;
		e->ext |= kw[i].ext;
		if (kw[i].ext == SMTP_EXT_SIZE && line[n] == ' ')
			e->size = parse_size(line + n + 1);
		if (kw[i].ext == SMTP_EXT_AUTH && line[n] != '\0')
			ehlo_auth(e, line + n + 1);
		return;
	}
}

static void
ehlo_auth(struct smtp_ehlo *e, const char *params)
{
	size_t n;

	while (*params != '\0') {
		n = strcspn(params, " ");
		if (n == 5 && strncasecmp(params, "PLAIN", 5) == 0)
			e->auth |= SMTP_AUTH_PLAIN;
		else if (n == 5 && strncasecmp(params, "LOGIN", 5) == 0)
			e->auth |= SMTP_AUTH_LOGIN;
		params += n;
		while (*params == ' ')
			params++;
	}
}

/* "SIZE 10240000"; anything but digits up to the end (or an overflow)
 * counts as no declared limit. */
static uint64_t
parse_size(const char *s)
{
	uint64_t n = 0, d;

	if (*s == '\0')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (uint64_t)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return 0;
		n = n * 10 + d;
	}
	return *s == '\0' ? n : 0;
}
