/* dir-sql-query: compiles a configured SQL query into prepared statements
 * (see dir-sql.h for the rules). Called by dir-sql.c when a handle opens,
 * by the unit tests and by the fuzz target; the text comes from the
 * configuration, but is parsed as if hostile: bounded at SQL_QUERY_MAX
 * bytes, SQL_MAX_STMTS statements and SQL_MAX_PARAMS placeholders each.
 *
 * The scanner knows just enough SQL to find placeholders safely: single
 * quoted literals (with '' and, for MySQL, backslash escapes), quoted
 * identifiers ("..." and `...`), and comments (-- to the end of the line,
 * slash-star to star-slash, and # for MySQL), which are copied unchanged. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/dir-sql.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct scan {
	const char	*p, *end;
	enum sql_marker	 marker;
	bool		 backslash;
	unsigned	 allowed;
	struct buf	 out;		/* SQL of the statement being built */
	struct sql_stmt	 cur;		/* its parameters; sql unused */
	char		*errbuf;
	size_t		 errlen;
};

static int	 scan_error(struct scan *s, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 param_of(char c, enum sql_param *p_r);
static int	 emit(struct scan *s, const char *data, size_t len);
static int	 emit_param(struct scan *s, char c);
static int	 scan_literal(struct scan *s);
static int	 scan_quoted(struct scan *s, char close);
static int	 scan_comment(struct scan *s);
static int	 end_stmt(struct scan *s, struct sql_query *q);
static bool	 blank(const char *sql);

static const char sql_param_chars[SQL_P_COUNT] = {
	[SQL_P_ADDRESS] = 's',
	[SQL_P_LOCAL]	= 'u',
	[SQL_P_DOMAIN]	= 'd',
	[SQL_P_HASH]	= 'p',
	[SQL_P_QUOTA]	= 'q',
	[SQL_P_ACTIVE]	= 'a',
	[SQL_P_SIZE]	= 'm',
	[SQL_P_TARGET]	= 't',
};

int
sql_query_compile(const char *text, enum sql_marker marker, bool backslash,
    unsigned allowed, struct sql_query *q, char *errbuf, size_t errlen)
{
	struct scan s;
	size_t len = strlen(text);
	char c;

	memset(q, 0, sizeof(*q));
	memset(&s, 0, sizeof(s));
	s.errbuf = errbuf;
	s.errlen = errlen;
	if (len > SQL_QUERY_MAX)
		return scan_error(&s, "query longer than %d bytes",
		    SQL_QUERY_MAX);
	s.p = text;
	s.end = text + len;
	s.marker = marker;
	s.backslash = backslash;
	s.allowed = allowed;
	buf_init(&s.out, SQL_QUERY_MAX * 2);
	while (s.p < s.end) {
		c = *s.p;
		if (c == '\'') {
			if (scan_literal(&s) == -1)
				goto fail;
		} else if (c == '"' || (c == '`' && marker == SQL_MARK_QMARK)) {
			if (scan_quoted(&s, c) == -1)
				goto fail;
		} else if ((c == '-' && s.p + 1 < s.end && s.p[1] == '-') ||
		    (c == '/' && s.p + 1 < s.end && s.p[1] == '*') ||
		    (c == '#' && marker == SQL_MARK_QMARK)) {
			if (scan_comment(&s) == -1)
				goto fail;
		} else if (c == '%') {
			if (s.p + 1 >= s.end) {
				scan_error(&s, "'%%' at the end of the query");
				goto fail;
			}
			if (s.p[1] == '%') {
				if (emit(&s, "%", 1) == -1)
					goto fail;
			} else if (emit_param(&s, s.p[1]) == -1)
				goto fail;
			s.p += 2;
		} else if (c == ';') {
			s.p++;
			if (end_stmt(&s, q) == -1)
				goto fail;
		} else if ((c == '?' && marker == SQL_MARK_QMARK) ||
		    (c == '$' && marker == SQL_MARK_DOLLAR && s.p + 1 < s.end &&
		    s.p[1] >= '0' && s.p[1] <= '9')) {
			scan_error(&s, "write parameters as %%s, %%u, %%d, "
			    "not '%c'", c);
			goto fail;
		} else {
			if (emit(&s, s.p, 1) == -1)
				goto fail;
			s.p++;
		}
	}
	if (end_stmt(&s, q) == -1)
		goto fail;
	if (q->nstmts == 0) {
		scan_error(&s, "no SQL statement");
		goto fail;
	}
	buf_deinit(&s.out);
	return 0;
fail:
	buf_deinit(&s.out);
	sql_query_free(q);
	return -1;
}

void
sql_query_free(struct sql_query *q)
{
	size_t i;

	for (i = 0; i < SQL_MAX_STMTS; i++)
		xfree(&q->stmts[i].sql);
	memset(q, 0, sizeof(*q));
}

static int
scan_error(struct scan *s, const char *fmt, ...)
{
	va_list ap;

	if (s->errlen == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(s->errbuf, s->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
param_of(char c, enum sql_param *p_r)
{
	size_t i;

	for (i = 0; i < SQL_P_COUNT; i++) {
		if (sql_param_chars[i] == c) {
			*p_r = (enum sql_param)i;
			return 0;
		}
	}
	return -1;
}

static int
emit(struct scan *s, const char *data, size_t len)
{
	if (buf_append(&s->out, data, len) == -1)
		return scan_error(s, "query too long");
	return 0;
}

/* The marker of the next parameter of this statement for placeholder %c. */
static int
emit_param(struct scan *s, char c)
{
	enum sql_param p;
	char mark[8];
	int n;

	if (param_of(c, &p) == -1) {
		if (c >= 0x21 && c <= 0x7e)
			return scan_error(s, "unknown placeholder %%%c (write "
			    "%%%% for a '%%')", c);
		return scan_error(s, "unknown placeholder after '%%'");
	}
	if ((s->allowed & SQL_PBIT(p)) == 0)
		return scan_error(s, "placeholder %%%c is not available in "
		    "this query", c);
	if (s->cur.nparams >= SQL_MAX_PARAMS)
		return scan_error(s, "more than %d placeholders in one "
		    "statement", SQL_MAX_PARAMS);
	s->cur.params[s->cur.nparams++] = p;
	if (s->marker == SQL_MARK_QMARK)
		return emit(s, "?", 1);
	n = snprintf(mark, sizeof(mark), "$%zu", s->cur.nparams);
	ASSERT(n > 0 && (size_t)n < sizeof(mark));
	return emit(s, mark, (size_t)n);
}

/* At a quote: a literal, or a lone placeholder in quotes ('%s'). */
static int
scan_literal(struct scan *s)
{
	const char *start = s->p;
	char c;

	if (s->end - s->p >= 4 && s->p[1] == '%' && s->p[2] != '%' &&
	    s->p[3] == '\'') {
		s->p += 4;
		return emit_param(s, start[2]);
	}
	s->p++;
	if (emit(s, "'", 1) == -1)
		return -1;
	while (s->p < s->end) {
		c = *s->p;
		if (c == '\'' && s->p + 1 < s->end && s->p[1] == '\'') {
			if (emit(s, "''", 2) == -1)
				return -1;
			s->p += 2;
		} else if (c == '\'') {
			s->p++;
			return emit(s, "'", 1);
		} else if (c == '\\' && s->backslash && s->p + 1 < s->end) {
			if (emit(s, s->p, 2) == -1)
				return -1;
			s->p += 2;
		} else if (c == '%' && s->p + 1 < s->end && s->p[1] == '%') {
			if (emit(s, "%", 1) == -1)
				return -1;
			s->p += 2;
		} else if (c == '%') {
			return scan_error(s, "placeholder inside a string "
			    "literal: put it alone in quotes ('%%s') or use "
			    "CONCAT(%%u, '@', %%d)");
		} else {
			if (emit(s, s->p, 1) == -1)
				return -1;
			s->p++;
		}
	}
	return scan_error(s, "unterminated string literal");
}

/* A quoted identifier, copied as it is ("" or `` inside escape). */
static int
scan_quoted(struct scan *s, char close)
{
	const char *start = s->p;

	s->p++;
	while (s->p < s->end) {
		if (*s->p == close && s->p + 1 < s->end && s->p[1] == close)
			s->p += 2;
		else if (*s->p == close) {
			s->p++;
			return emit(s, start, (size_t)(s->p - start));
		} else
			s->p++;
	}
	return scan_error(s, "unterminated quoted name");
}

/* A comment, copied as it is: nothing in it is a placeholder. */
static int
scan_comment(struct scan *s)
{
	const char *start = s->p, *e;

	if (*s->p == '/') {
		e = NULL;
		for (s->p += 2; s->p + 1 < s->end; s->p++) {
			if (s->p[0] == '*' && s->p[1] == '/') {
				e = s->p + 2;
				break;
			}
		}
		if (e == NULL)
			return scan_error(s, "unterminated comment");
		s->p = e;
	} else {
		while (s->p < s->end && *s->p != '\n')
			s->p++;
	}
	return emit(s, start, (size_t)(s->p - start));
}

/* Close the statement being built; blank ones are dropped. */
static int
end_stmt(struct scan *s, struct sql_query *q)
{
	struct sql_stmt *st;

	if (blank(buf_cstr(&s->out))) {
		buf_reset(&s->out);
		/* A placeholder is never blank: it emitted a marker. */
		ASSERT(s->cur.nparams == 0);
		return 0;
	}
	if (q->nstmts == SQL_MAX_STMTS)
		return scan_error(s, "more than %d statements in one query",
		    SQL_MAX_STMTS);
	st = &q->stmts[q->nstmts++];
	*st = s->cur;
	st->sql = xstrndup(buf_cstr(&s->out), s->out.len);
	buf_reset(&s->out);
	memset(&s->cur, 0, sizeof(s->cur));
	return 0;
}

static bool
blank(const char *sql)
{
	for (; *sql != '\0'; sql++)
		if (*sql != ' ' && *sql != '\t' && *sql != '\n' &&
		    *sql != '\r')
			return false;
	return true;
}
