/* imap/parse: the IMAP command reader (see parse.h). One state per place
 * in the grammar; every octet goes through step(), which either consumes
 * it or, on an error, leaves it for the skipping state so that a CR or LF
 * that revealed the error still ends the command. Arguments collect in a
 * stack of frames (top level, lists, a section), each a growable array
 * reused from command to command; a closed frame is copied into the
 * command's pool. The getters for command tables are in parse-arg.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mutf7.h"
#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

enum state {
	ST_START,		/* before a tag; empty lines are skipped */
	ST_START_LF,		/* CR of an empty line seen */
	ST_TAG,
	ST_NAME,		/* the command name, or the word after UID */
	ST_SEP,			/* after a token: SP, ")", "]" or CRLF */
	ST_ARG,			/* after SP: an argument must start */
	ST_ARG_OR_CLOSE,	/* after "(" or "[" */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_LIT_LEN,
	ST_LIT_PLUS,		/* "{n+" read, "}" must follow */
	ST_LIT_CR,
	ST_LIT_LF,
	ST_LIT_WAIT,		/* the caller decides */
	ST_LIT_DATA,
	ST_END_LF,		/* CR at the end of the command */
	ST_SKIP,		/* after an error, to the end of the command */
	ST_SKIP_LIT,		/* discarding a non-synchronizing literal */
	ST_CLOSED,		/* an error with close was reported */
};

/* What the skipping state has seen of a possible "{n}" or "{n+}". */
enum skip_lit {
	SK_NONE,
	SK_OPEN,
	SK_DIGITS,
	SK_PLUS,
	SK_CLOSE,
	SK_CLOSE_CR,
};

struct frame {
	struct imap_arg	*v;		/* heap; reused across commands */
	size_t		 n;
	size_t		 cap;
	bool		 section;	/* "[" ... "]", else "(" ... ")" */
};

struct imap_parser {
	struct pool	*parent;	/* borrowed: the connection's */
	struct imap_limits limits;
	struct imap_limits next_limits;	/* from the next command on */
	enum state	 st;

	/* The command being read. */
	struct pool	*cmd_pool;
	bool		 release;	/* free cmd_pool at the next feed */
	struct imap_cmd	 cmd;
	bool		 have_cmd;	/* the last PARSE_DONE was a command */
	const char	*tag;		/* in cmd_pool */
	char		 name[IMAP_NAME_MAX + 1];
	size_t		 name_len;
	bool		 uid;
	size_t		 line_len;	/* non-literal octets so far */
	unsigned	 nargs;
	unsigned	 nliterals;
	uint64_t	 lit_mem;

	/* Arguments. */
	struct frame	*frames;
	size_t		 nframes_cap;
	unsigned	 depth;		/* frames in use above the top */
	unsigned	 section_at;	/* frame index of an open section; 0:
					   none */
	struct buf	 tok;		/* atom or quoted string, or the suffix
					   of a bracketed atom */
	struct buf	 raw;		/* a bracketed atom as written */
	bool		 raw_active;
	bool		 atom_bracket;	/* this atom's section was read */
	size_t		 atom_name_len;
	const struct imap_arg *section;	/* of the atom being read */
	size_t		 section_count;

	/* Literals. */
	uint64_t	 lit_size;
	bool		 lit_huge;	/* above 32 bits */
	size_t		 lit_digits;
	bool		 lit_nonsync;
	uint64_t	 lit_left;
	bool		 lit_nul;
	struct buf	 lit;
	struct imap_literal lit_info;

	/* Errors. */
	const char	*err_text;	/* pending; NULL: skipping silently */
	struct imap_parse_error err;
	enum skip_lit	 sk;
	uint64_t	 sk_size;
	bool		 sk_huge;
	bool		 sk_nonsync;
};

enum step_result {
	STEP_CONSUMED,		/* the octet was used */
	STEP_AGAIN,		/* look at the same octet in the new state */
	STEP_DONE,		/* consumed; report PARSE_DONE */
	STEP_DONE_AGAIN,	/* not consumed; report PARSE_DONE */
	STEP_ERROR,		/* consumed; report PARSE_ERROR */
	STEP_ERROR_AGAIN,	/* not consumed; report PARSE_ERROR */
};

static bool	 is_tag_char(uint8_t c);
static bool	 is_atom_char(uint8_t c);
static bool	 is_name_char(uint8_t c);
static void	 begin_command(struct imap_parser *p);
static void	 release_command(struct imap_parser *p);
static enum step_result fail(struct imap_parser *p, const char *text);
static enum step_result fail_literal(struct imap_parser *p,
		    const char *text);
static enum step_result report_error(struct imap_parser *p, bool consumed,
		    bool close);
static struct frame *top(struct imap_parser *p);
static struct imap_arg *add_arg(struct imap_parser *p);
static const struct imap_arg *copy_frame(struct imap_parser *p,
		    const struct frame *f);
static enum step_result open_frame(struct imap_parser *p, bool section);
static enum step_result close_list(struct imap_parser *p);
static enum step_result close_section(struct imap_parser *p);
static enum step_result end_atom(struct imap_parser *p);
static enum step_result end_quoted(struct imap_parser *p);
static enum step_result end_name(struct imap_parser *p);
static enum step_result literal_header(struct imap_parser *p);
static enum step_result end_literal(struct imap_parser *p);
static enum step_result end_command(struct imap_parser *p);
static enum step_result start_arg(struct imap_parser *p, uint8_t c);
static enum step_result step(struct imap_parser *p, uint8_t c);
static enum step_result step_skip(struct imap_parser *p, uint8_t c);
static bool	 is_nil(const char *s, size_t len);

void
imap_limits_default(struct imap_limits *limits)
{
	memset(limits, 0, sizeof(*limits));
	limits->line_max = IMAP_LINE_MAX;
	limits->depth_max = IMAP_DEPTH_MAX;
	limits->args_max = IMAP_ARGS_MAX;
	limits->literals_max = IMAP_LITERALS_MAX;
	limits->literal_mem_max = IMAP_LITERAL_MEM_MAX;
	limits->literal_discard_max = IMAP_LITERAL_DISCARD_MAX;
}

void
imap_limits_preauth(struct imap_limits *limits)
{
	imap_limits_default(limits);
	limits->line_max = IMAP_LINE_MAX_PREAUTH;
	limits->depth_max = IMAP_DEPTH_MAX_PREAUTH;
	limits->args_max = 64;
	limits->literals_max = 4;
	limits->literal_mem_max = 16384;
	limits->literal_discard_max = 16384;
}

struct imap_parser *
imap_parser_new(struct pool *pool, const struct imap_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->parent = pool;
	p->limits = *limits;
	p->next_limits = *limits;
	p->st = ST_START;
	buf_init(&p->tok, limits->line_max);
	buf_init(&p->raw, limits->line_max);
	buf_init(&p->lit, 0);
	return p;
}

void
imap_parser_free(struct imap_parser **parserp)
{
	struct imap_parser *p = *parserp;
	size_t i;

	if (p == NULL)
		return;
	pool_free(&p->cmd_pool);
	for (i = 0; i < p->nframes_cap; i++)
		free(p->frames[i].v);
	free(p->frames);
	buf_deinit(&p->tok);
	buf_deinit(&p->raw);
	buf_deinit(&p->lit);
	free(p);
	*parserp = NULL;
}

void
imap_parser_set_limits(struct imap_parser *p,
    const struct imap_limits *limits)
{
	p->next_limits = *limits;
}

/* tag: ASTRING-CHAR except "+" */
static bool
is_tag_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

/* What this reader takes into an atom (see parse.h); "[" and "]" are
 * handled by the caller. */
static bool
is_atom_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

static bool
is_name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool
is_nil(const char *s, size_t len)
{
	return len == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' &&
	    (s[2] | 0x20) == 'l';
}

static void
begin_command(struct imap_parser *p)
{
	p->limits = p->next_limits;
	p->tok.max = p->limits.line_max;
	p->raw.max = p->limits.line_max;
	p->cmd_pool = pool_new(p->parent);
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->tag = NULL;
	p->name_len = 0;
	p->uid = false;
	p->line_len = 0;
	p->nargs = 0;
	p->nliterals = 0;
	p->lit_mem = 0;
	p->depth = 0;
	p->section_at = 0;
	p->raw_active = false;
	p->atom_bracket = false;
	p->err_text = NULL;
	if (p->nframes_cap == 0) {
		p->frames = xcalloc(1, sizeof(*p->frames));
		p->nframes_cap = 1;
	}
	p->frames[0].n = 0;
	p->frames[0].section = false;
	buf_reset(&p->tok);
}

static void
release_command(struct imap_parser *p)
{
	size_t i;

	pool_free(&p->cmd_pool);
	p->release = false;
	p->have_cmd = false;
	memset(&p->err, 0, sizeof(p->err));
	/* Do not keep a huge argument array around for an idle session. */
	for (i = 0; i < p->nframes_cap; i++)
		if (p->frames[i].cap > 256) {
			xfree(&p->frames[i].v);
			p->frames[i].cap = 0;
			p->frames[i].n = 0;
		}
	if (p->tok.cap > 4096) {
		buf_deinit(&p->tok);
		buf_init(&p->tok, p->next_limits.line_max);
	}
	if (p->raw.cap > 4096) {
		buf_deinit(&p->raw);
		buf_init(&p->raw, p->next_limits.line_max);
	}
	buf_deinit(&p->lit);
	p->tag = NULL;
}

/* Remember the first error and skip to the end of the command; the
 * current octet is looked at again by the skipping state. */
static enum step_result
fail(struct imap_parser *p, const char *text)
{
	if (p->err_text == NULL)
		p->err_text = text;
	p->raw_active = false;
	/* Inside a literal header, what was read of it still counts: a
	 * "{3+}" followed by a bare LF is skipped as a literal. */
	p->sk = SK_NONE;
	p->sk_size = p->lit_size;
	p->sk_huge = p->lit_huge;
	p->sk_nonsync = p->lit_nonsync;
	if (p->st == ST_LIT_LEN && p->lit_digits > 0)
		p->sk = SK_DIGITS;
	else if (p->st == ST_LIT_PLUS)
		p->sk = SK_PLUS;
	else if (p->st == ST_LIT_CR)
		p->sk = SK_CLOSE;
	else if (p->st == ST_LIT_LF)
		p->sk = SK_CLOSE_CR;
	p->st = ST_SKIP;
	return STEP_AGAIN;
}

/* A complete literal header ("{n}" CRLF) that the parser refuses itself:
 * a synchronizing one ends the command now, a non-synchronizing one is
 * skipped, or the connection closes. */
static enum step_result
fail_literal(struct imap_parser *p, const char *text)
{
	if (p->err_text == NULL)
		p->err_text = text;
	if (!p->lit_nonsync)
		return report_error(p, true, false);
	if (p->lit_huge || p->lit_size > p->limits.literal_discard_max)
		return report_error(p, true, true);
	p->lit_left = p->lit_size;
	p->st = ST_SKIP_LIT;
	return STEP_CONSUMED;
}

static enum step_result
report_error(struct imap_parser *p, bool consumed, bool close)
{
	p->err.tag = p->tag;
	p->err.text = p->err_text != NULL ? p->err_text : "Literal too large";
	p->err.close = close;
	p->st = close ? ST_CLOSED : ST_START;
	p->release = true;
	return consumed ? STEP_ERROR : STEP_ERROR_AGAIN;
}

static struct frame *
top(struct imap_parser *p)
{
	return &p->frames[p->depth];
}

/* A new argument in the innermost frame; NULL past args_max. */
static struct imap_arg *
add_arg(struct imap_parser *p)
{
	struct frame *f = top(p);
	struct imap_arg *a;

	if (p->nargs >= p->limits.args_max)
		return NULL;
	if (f->n == f->cap) {
		f->cap = f->cap < 8 ? 8 : f->cap * 2;
		f->v = xreallocarray(f->v, f->cap, sizeof(*f->v));
	}
	p->nargs++;
	a = &f->v[f->n++];
	memset(a, 0, sizeof(*a));
	return a;
}

static const struct imap_arg *
copy_frame(struct imap_parser *p, const struct frame *f)
{
	struct imap_arg *v;

	if (f->n == 0)
		return NULL;
	v = pool_alloc(p->cmd_pool, f->n * sizeof(*v));
	memcpy(v, f->v, f->n * sizeof(*v));
	return v;
}

static enum step_result
open_frame(struct imap_parser *p, bool section)
{
	struct frame *f;

	if (p->depth + 1 > p->limits.depth_max)
		return fail(p, "Too deeply nested");
	if (p->depth + 1 >= p->nframes_cap) {
		p->frames = xreallocarray(p->frames, p->nframes_cap + 4,
		    sizeof(*p->frames));
		memset(p->frames + p->nframes_cap, 0, 4 * sizeof(*p->frames));
		p->nframes_cap += 4;
	}
	p->depth++;
	f = top(p);
	f->n = 0;
	f->section = section;
	if (section)
		p->section_at = p->depth;
	p->st = ST_ARG_OR_CLOSE;
	return STEP_CONSUMED;
}

static enum step_result
close_list(struct imap_parser *p)
{
	const struct frame *f = top(p);
	const struct imap_arg *v;
	struct imap_arg *a;
	size_t n = f->n;

	if (p->depth == 0 || f->section)
		return fail(p, "Unexpected )");
	v = copy_frame(p, f);
	p->depth--;
	if ((a = add_arg(p)) == NULL)
		return fail(p, "Too many arguments");
	a->type = IMAP_ARG_LIST;
	a->list = v;
	a->count = n;
	p->st = ST_SEP;
	return STEP_CONSUMED;
}

/* "]": the atom goes on with its suffix ("<0.100>", "/Sent"). */
static enum step_result
close_section(struct imap_parser *p)
{
	const struct frame *f = top(p);

	if (p->depth == 0 || !f->section)
		return fail(p, "Unexpected ]");
	p->section = copy_frame(p, f);
	p->section_count = f->n;
	p->depth--;
	p->section_at = 0;
	p->raw_active = false;
	p->atom_bracket = true;
	buf_reset(&p->tok);
	p->st = ST_ATOM;
	return STEP_CONSUMED;
}

static enum step_result
end_atom(struct imap_parser *p)
{
	struct imap_arg *a;
	const char *suffix = NULL;

	if (p->atom_bracket) {
		suffix = pool_strndup(p->cmd_pool, buf_cstr(&p->tok),
		    p->tok.len);
		if (buf_append(&p->raw, p->tok.data, p->tok.len) == -1)
			return fail(p, "Command line too long");
	}
	if ((a = add_arg(p)) == NULL)
		return fail(p, "Too many arguments");
	a->type = IMAP_ARG_ATOM;
	if (p->atom_bracket) {
		a->str = pool_strndup(p->cmd_pool, buf_cstr(&p->raw),
		    p->raw.len);
		a->len = p->raw.len;
		a->bracket = true;
		a->name_len = p->atom_name_len;
		a->section = p->section;
		a->section_count = p->section_count;
		a->suffix = suffix;
	} else {
		a->str = pool_strndup(p->cmd_pool, buf_cstr(&p->tok),
		    p->tok.len);
		a->len = p->tok.len;
		if (is_nil(a->str, a->len))
			a->type = IMAP_ARG_NIL;
	}
	p->atom_bracket = false;
	p->section = NULL;
	p->section_count = 0;
	p->st = ST_SEP;
	return STEP_AGAIN;
}

static enum step_result
end_quoted(struct imap_parser *p)
{
	struct imap_arg *a;

	if (!imap_utf8_valid(p->tok.data, p->tok.len))
		return fail(p, "Invalid UTF-8 in quoted string");
	if ((a = add_arg(p)) == NULL)
		return fail(p, "Too many arguments");
	a->type = IMAP_ARG_QUOTED;
	a->str = pool_strndup(p->cmd_pool, buf_cstr(&p->tok), p->tok.len);
	a->len = p->tok.len;
	p->st = ST_SEP;
	return STEP_CONSUMED;
}

/* The word in name[] is complete; "UID" asks for another one. */
static enum step_result
end_name(struct imap_parser *p)
{
	if (p->name_len == 0)
		return fail(p, p->uid ? "Missing command after UID" :
		    "Missing command name");
	p->name[p->name_len] = '\0';
	if (!p->uid && strcmp(p->name, "UID") == 0) {
		p->uid = true;
		p->name_len = 0;
		return STEP_CONSUMED;
	}
	p->cmd.name = pool_strdup(p->cmd_pool, p->name);
	p->cmd.uid = p->uid;
	return STEP_CONSUMED;
}

/* "{n}" CRLF or "{n+}" CRLF has been read. */
static enum step_result
literal_header(struct imap_parser *p)
{
	struct imap_literal *l = &p->lit_info;

	if (p->lit_huge || p->lit_size > UINT32_MAX)
		return fail_literal(p, "Literal too large");
	if (p->nliterals >= p->limits.literals_max)
		return fail_literal(p, "Too many literals");
	if (p->nargs >= p->limits.args_max)
		return fail_literal(p, "Too many arguments");
	memset(l, 0, sizeof(*l));
	l->size = p->lit_size;
	l->sync = !p->lit_nonsync;
	l->tag = p->tag;
	l->name = p->cmd.name;
	l->uid = p->uid;
	l->index = top(p)->n;
	l->depth = p->depth;
	l->number = p->nliterals + 1;
	l->mem_used = p->lit_mem;
	p->st = ST_LIT_WAIT;
	return STEP_DONE;
}

static enum step_result
end_literal(struct imap_parser *p)
{
	struct imap_arg *a;

	if (p->lit_nul)
		return fail(p, "NUL in literal");
	if ((a = add_arg(p)) == NULL)
		return fail(p, "Too many arguments");
	a->type = IMAP_ARG_LITERAL;
	a->str = pool_strndup(p->cmd_pool, buf_cstr(&p->lit), p->lit.len);
	a->len = p->lit.len;
	a->nonsync = p->lit_nonsync;
	p->lit_mem += p->lit.len;
	buf_deinit(&p->lit);
	p->st = ST_SEP;
	return STEP_AGAIN;
}

/* The LF that ends the command. */
static enum step_result
end_command(struct imap_parser *p)
{
	const struct frame *f = &p->frames[0];

	if (p->depth > 0)
		return fail(p, p->section_at != 0 ? "Missing ]" : "Missing )");
	p->cmd.tag = p->tag;
	p->cmd.args = copy_frame(p, f);
	p->cmd.count = f->n;
	p->cmd.literals = p->nliterals;
	p->cmd.pool = p->cmd_pool;
	p->have_cmd = true;
	p->release = true;
	p->st = ST_START;
	return STEP_DONE;
}

static enum step_result
start_arg(struct imap_parser *p, uint8_t c)
{
	switch (c) {
	case '(':
		return open_frame(p, false);
	case '"':
		buf_reset(&p->tok);
		p->st = ST_QUOTED;
		return STEP_CONSUMED;
	case '{':
		if (p->section_at != 0)
			return fail(p, "Literal not allowed in a section");
		p->lit_size = 0;
		p->lit_huge = false;
		p->lit_digits = 0;
		p->lit_nonsync = false;
		p->st = ST_LIT_LEN;
		return STEP_CONSUMED;
	case ' ':
		return fail(p, "Unexpected space");
	case '\r':
	case '\n':
		return fail(p, "Missing argument");
	}
	if (c == '[' || (is_atom_char(c) && !(c == ']' && p->section_at))) {
		buf_reset(&p->tok);
		p->atom_bracket = false;
		p->st = ST_ATOM;
		return STEP_AGAIN;
	}
	if (c == ')' || c == ']')
		return fail(p, c == ')' ? "Unexpected )" : "Unexpected ]");
	return fail(p, "Invalid character in argument");
}

static enum step_result
step(struct imap_parser *p, uint8_t c)
{
	switch (p->st) {
	case ST_START:
		if (c == '\r') {
			p->st = ST_START_LF;
			return STEP_CONSUMED;
		}
		if (c == '\n')
			return STEP_CONSUMED;
		begin_command(p);
		p->st = ST_TAG;
		if (!is_tag_char(c))
			return fail(p, "Invalid tag");
		return STEP_AGAIN;
	case ST_START_LF:
		if (c == '\n') {
			p->st = ST_START;
			return STEP_CONSUMED;
		}
		begin_command(p);
		return fail(p, "CR without LF");
	case ST_TAG:
		if (is_tag_char(c)) {
			if (p->tok.len >= IMAP_TAG_MAX)
				return fail(p, "Tag too long");
			if (buf_append(&p->tok, &c, 1) == -1)
				return fail(p, "Command line too long");
			return STEP_CONSUMED;
		}
		if (c != ' ' && c != '\r' && c != '\n')
			return fail(p, "Invalid tag");
		p->tag = pool_strndup(p->cmd_pool, buf_cstr(&p->tok),
		    p->tok.len);
		if (c != ' ')
			return fail(p, "Missing command name");
		p->st = ST_NAME;
		return STEP_CONSUMED;
	case ST_NAME:
		if (is_name_char(c)) {
			if (p->name_len >= IMAP_NAME_MAX)
				return fail(p, "Unknown command");
			p->name[p->name_len++] =
			    (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
			return STEP_CONSUMED;
		}
		if (c == ' ') {
			if (end_name(p) != STEP_CONSUMED)
				return STEP_AGAIN;
			if (p->cmd.name != NULL)
				p->st = ST_ARG;
			return STEP_CONSUMED;
		}
		if (c == '\r') {
			if (end_name(p) != STEP_CONSUMED)
				return STEP_AGAIN;
			if (p->cmd.name == NULL)
				return fail(p, "Missing command after UID");
			p->st = ST_END_LF;
			return STEP_CONSUMED;
		}
		if (c == '\n')
			return fail(p, "Line must end with CRLF");
		return fail(p, "Invalid command name");
	case ST_SEP:
		switch (c) {
		case ' ':
			p->st = ST_ARG;
			return STEP_CONSUMED;
		case ')':
			return close_list(p);
		case ']':
			return close_section(p);
		case '\r':
			if (p->depth > 0)
				return fail(p, p->section_at != 0 ?
				    "Missing ]" : "Missing )");
			p->st = ST_END_LF;
			return STEP_CONSUMED;
		case '\n':
			return fail(p, "Line must end with CRLF");
		}
		return fail(p, "Missing space between arguments");
	case ST_ARG:
		return start_arg(p, c);
	case ST_ARG_OR_CLOSE:
		if (c == ')' && !top(p)->section)
			return close_list(p);
		if (c == ']' && top(p)->section)
			return close_section(p);
		return start_arg(p, c);
	case ST_ATOM:
		if (c == '[') {
			if (p->atom_bracket || p->section_at != 0)
				return fail(p, "Invalid [ in atom");
			p->atom_name_len = p->tok.len;
			buf_reset(&p->raw);
			if (buf_append(&p->raw, p->tok.data, p->tok.len) == -1)
				return fail(p, "Command line too long");
			p->raw_active = true;
			return open_frame(p, true);
		}
		if (is_atom_char(c) && !(c == ']' && p->section_at != 0)) {
			if (buf_append(&p->tok, &c, 1) == -1)
				return fail(p, "Command line too long");
			return STEP_CONSUMED;
		}
		return end_atom(p);
	case ST_QUOTED:
		if (c == '"')
			return end_quoted(p);
		if (c == '\\') {
			p->st = ST_QUOTED_ESC;
			return STEP_CONSUMED;
		}
		if (c == '\r' || c == '\n')
			return fail(p, "Unterminated quoted string");
		if (c == '\0')
			return fail(p, "NUL in quoted string");
		if (buf_append(&p->tok, &c, 1) == -1)
			return fail(p, "Command line too long");
		return STEP_CONSUMED;
	case ST_QUOTED_ESC:
		if (c != '"' && c != '\\')
			return fail(p, "Invalid escape in quoted string");
		if (buf_append(&p->tok, &c, 1) == -1)
			return fail(p, "Command line too long");
		p->st = ST_QUOTED;
		return STEP_CONSUMED;
	case ST_LIT_LEN:
		if (c >= '0' && c <= '9') {
			p->lit_digits++;
			if (p->lit_size > (UINT64_MAX - 9) / 10)
				p->lit_huge = true;
			else
				p->lit_size = p->lit_size * 10 + (c - '0');
			return STEP_CONSUMED;
		}
		if (p->lit_digits > 0 && (c == '+' || c == '}')) {
			p->lit_nonsync = c == '+';
			p->st = c == '+' ? ST_LIT_PLUS : ST_LIT_CR;
			return STEP_CONSUMED;
		}
		return fail(p, "Invalid literal");
	case ST_LIT_PLUS:
		if (c != '}')
			return fail(p, "Invalid literal");
		p->st = ST_LIT_CR;
		return STEP_CONSUMED;
	case ST_LIT_CR:
		if (c != '\r')
			return fail(p, c == '\n' ? "Line must end with CRLF" :
			    "Literal must end the line");
		p->st = ST_LIT_LF;
		return STEP_CONSUMED;
	case ST_LIT_LF:
		if (c != '\n')
			return fail(p, "CR without LF");
		return literal_header(p);
	case ST_END_LF:
		if (c != '\n')
			return fail(p, "CR without LF");
		return end_command(p);
	case ST_SKIP:
		return step_skip(p, c);
	case ST_LIT_WAIT:
	case ST_LIT_DATA:
	case ST_SKIP_LIT:
	case ST_CLOSED:
		break;
	}
	panic("imap parser: octet in state %d", (int)p->st);
}

/* After an error: find the end of the command, honouring literals. */
static enum step_result
step_skip(struct imap_parser *p, uint8_t c)
{
	if (c == '\n') {
		if (p->sk == SK_CLOSE || p->sk == SK_CLOSE_CR) {
			p->sk = SK_NONE;
			if (!p->sk_nonsync) {
				if (p->err_text == NULL) {
					p->st = ST_START;
					return STEP_CONSUMED;
				}
				return report_error(p, true, false);
			}
			if (p->sk_huge ||
			    p->sk_size > p->limits.literal_discard_max)
				return report_error(p, true, true);
			p->lit_left = p->sk_size;
			p->st = ST_SKIP_LIT;
			return STEP_CONSUMED;
		}
		if (p->err_text == NULL) {	/* a refused literal's line */
			p->st = ST_START;
			return STEP_CONSUMED;
		}
		return report_error(p, true, false);
	}
	switch (c) {
	case '{':
		p->sk = SK_OPEN;
		p->sk_size = 0;
		p->sk_huge = false;
		p->sk_nonsync = false;
		break;
	case '+':
		p->sk = p->sk == SK_DIGITS ? SK_PLUS : SK_NONE;
		p->sk_nonsync = true;
		break;
	case '}':
		p->sk = p->sk == SK_DIGITS || p->sk == SK_PLUS ? SK_CLOSE :
		    SK_NONE;
		break;
	case '\r':
		p->sk = p->sk == SK_CLOSE ? SK_CLOSE_CR : SK_NONE;
		break;
	default:
		if (c >= '0' && c <= '9' &&
		    (p->sk == SK_OPEN || p->sk == SK_DIGITS)) {
			p->sk = SK_DIGITS;
			if (p->sk_size > (UINT64_MAX - 9) / 10)
				p->sk_huge = true;
			else
				p->sk_size = p->sk_size * 10 + (c - '0');
		} else
			p->sk = SK_NONE;
	}
	return STEP_CONSUMED;
}

enum parse_result
imap_parser_feed(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	enum step_result r;
	size_t i = 0, n;
	bool was_raw = false, counted;

	ASSERT(p->st != ST_LIT_WAIT && p->st != ST_CLOSED);
	if (p->release)
		release_command(p);
	while (i < len || (p->st == ST_LIT_DATA && p->lit_left == 0)) {
		if (p->st == ST_LIT_DATA || p->st == ST_SKIP_LIT) {
			n = len - i < p->lit_left ? len - i :
			    (size_t)p->lit_left;
			if (p->st == ST_LIT_DATA && n > 0) {
				if (memchr(data + i, '\0', n) != NULL)
					p->lit_nul = true;
				/* max is the literal's size: cannot fail. */
				if (buf_append(&p->lit, data + i, n) == -1)
					panic("imap parser: literal overrun");
			}
			i += n;
			p->lit_left -= n;
			if (p->lit_left > 0)
				break;
			if (p->st == ST_SKIP_LIT) {
				p->st = ST_SKIP;
				p->sk = SK_NONE;
				continue;
			}
			r = end_literal(p);
		} else {
			/* Every octet outside literals counts, CRLFs too. */
			counted = p->st != ST_START && p->st != ST_START_LF &&
			    p->st != ST_SKIP;
			if (counted && p->line_len >= p->limits.line_max)
				r = fail(p, "Command line too long");
			else {
				was_raw = p->raw_active;
				r = step(p, data[i]);
			}
			if (r == STEP_CONSUMED || r == STEP_DONE ||
			    r == STEP_ERROR) {
				if ((was_raw || p->raw_active) &&
				    buf_append(&p->raw, data + i, 1) == -1)
					r = fail(p, "Command line too long");
				else {
					i++;
					if (counted)
						p->line_len++;
				}
			}
			was_raw = false;
		}
		switch (r) {
		case STEP_CONSUMED:
		case STEP_AGAIN:
			continue;
		case STEP_DONE:
		case STEP_DONE_AGAIN:
			*consumed_r = i;
			return PARSE_DONE;
		case STEP_ERROR:
		case STEP_ERROR_AGAIN:
			*consumed_r = i;
			return PARSE_ERROR;
		}
	}
	*consumed_r = i;
	return PARSE_MORE;
}

const struct imap_cmd *
imap_parser_cmd(const struct imap_parser *p)
{
	return p->have_cmd ? &p->cmd : NULL;
}

const struct imap_literal *
imap_parser_literal(const struct imap_parser *p)
{
	return p->st == ST_LIT_WAIT ? &p->lit_info : NULL;
}

const struct imap_arg *
imap_parser_literal_args(const struct imap_parser *p, size_t *count_r)
{
	ASSERT(p->st == ST_LIT_WAIT);
	*count_r = p->frames[p->depth].n;
	return p->frames[p->depth].v;
}

const struct imap_parse_error *
imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

int
imap_parser_literal_accept(struct imap_parser *p)
{
	ASSERT(p->st == ST_LIT_WAIT);
	if (p->lit_size > p->limits.literal_mem_max ||
	    p->lit_mem > p->limits.literal_mem_max - p->lit_size)
		return -1;
	p->nliterals++;
	p->lit_left = p->lit_size;
	p->lit_nul = false;
	buf_deinit(&p->lit);
	/* Grows as octets arrive, never beyond the announced size. */
	buf_init(&p->lit, (size_t)p->lit_size);
	p->st = ST_LIT_DATA;
	return 0;
}

void
imap_parser_literal_stream(struct imap_parser *p)
{
	struct imap_arg *a;

	ASSERT(p->st == ST_LIT_WAIT);
	p->nliterals++;
	a = add_arg(p);
	ASSERT(a != NULL);	/* literal_header() checked args_max */
	a->type = IMAP_ARG_LITERAL;
	a->len = (size_t)p->lit_size;
	a->streamed = true;
	a->nonsync = p->lit_nonsync;
	p->st = ST_SEP;
}

int
imap_parser_literal_refuse(struct imap_parser *p)
{
	ASSERT(p->st == ST_LIT_WAIT);
	p->release = true;
	if (!p->lit_nonsync) {
		p->st = ST_START;
		return 0;
	}
	if (p->lit_size > p->limits.literal_discard_max) {
		p->st = ST_CLOSED;
		return -1;
	}
	/* Silently: the caller has answered the command. */
	p->err_text = NULL;
	p->lit_left = p->lit_size;
	p->st = ST_SKIP_LIT;
	return 0;
}
