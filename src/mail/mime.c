/* mime: a message into its tree of parts (see mime.h).
 *
 * Called by the IMAP server for BODY, BODYSTRUCTURE, BODY[section] and
 * SEARCH, on messages from a mailbox: hostile input.
 *
 * Top-down: a part's header is read and its body range known; a
 * multipart's body is cut at the lines that carry its own boundary, and
 * each piece is parsed the same way, one level deeper; a message/rfc822
 * body is parsed as a message. Each level scans only its own range, so
 * the work is at most the message size times the depth. A boundary line
 * is "--" boundary followed by "--" (the close delimiter) or only white
 * space: a boundary that is a prefix of another does not match it. The
 * line end before a boundary line belongs to the boundary (RFC 2046
 * 5.1.1).
 *
 * Limits: depth (max_depth), parts (max_parts, counted as they are
 * created), parameters per field (MIME_MAX_PARAMS), boundary length
 * (MIME_MAX_BOUNDARY). The recursion is bounded by max_depth. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

struct mime_ctx {
	struct pool	*pool;
	const char	*msg;
	size_t		 len;
	unsigned	 max_depth;
	unsigned	 parts_left;
};

static struct mime_part *part_new(struct mime_ctx *ctx,
		    struct mime_part *parent, struct mime_part *prev);
static const char *raw_param(const struct mime_params *params,
		    const char *name);
static size_t	count_lf(const char *s, size_t len);
static void	set_default_type(struct mime_ctx *ctx, struct mime_part *p,
		    bool digest);
static void	set_opaque(struct mime_ctx *ctx, struct mime_part *p);
static void	read_languages(struct mime_ctx *ctx, struct mime_part *p,
		    const char *v, size_t len);
static void	read_header(struct mime_ctx *ctx, struct mime_part *p,
		    bool digest);
static size_t	boundary_line(const char *s, size_t pos, size_t end,
		    const char *b, size_t blen, bool *close_r);
static void	split_multipart(struct mime_ctx *ctx, struct mime_part *p,
		    const char *boundary);
static void	parse_part(struct mime_ctx *ctx, struct mime_part *p,
		    size_t off, size_t end, bool digest);

/* A new part, after prev among parent's children (prev NULL: first). */
static struct mime_part *
part_new(struct mime_ctx *ctx, struct mime_part *parent,
    struct mime_part *prev)
{
	struct mime_part *p;

	p = pool_alloc(ctx->pool, sizeof(*p));
	p->parent = parent;
	if (parent != NULL) {
		p->depth = parent->depth + 1;
		if (prev != NULL)
			prev->next = p;
		else
			parent->children = p;
		parent->nchildren++;
	}
	ctx->parts_left--;
	return p;
}

/* A parameter's value as written: a boundary must not be decoded. */
static const char *
raw_param(const struct mime_params *params, const char *name)
{
	size_t i;

	for (i = 0; i < params->n; i++)
		if (strcasecmp(params->v[i].wire_name, name) == 0)
			return params->v[i].wire_value;
	return NULL;
}

static size_t
count_lf(const char *s, size_t len)
{
	const char *end = s + len, *lf;
	size_t n = 0;

	while (s < end && (lf = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		n++;
		s = lf + 1;
	}
	return n;
}

/* RFC 2045 5.2 and RFC 2046 5.1.5. */
static void
set_default_type(struct mime_ctx *ctx, struct mime_part *p, bool digest)
{
	p->flags |= MIME_PART_DEFAULT_TYPE;
	p->type = digest ? "message" : "text";
	p->subtype = digest ? "rfc822" : "plain";
	memset(&p->params, 0, sizeof(p->params));
	if (!digest) {
		p->params.v = pool_alloc(ctx->pool, sizeof(*p->params.v));
		p->params.v[0] = (struct mime_param){ "charset", "us-ascii",
		    "charset", "us-ascii" };
		p->params.n = 1;
	}
}

/* A composite part past a limit: shown whole, as opaque data. */
static void
set_opaque(struct mime_ctx *ctx, struct mime_part *p)
{
	(void)ctx;
	p->flags |= MIME_PART_OPAQUE;
	p->flags &= ~(unsigned)(MIME_PART_MULTIPART | MIME_PART_MESSAGE);
	p->type = "application";
	p->subtype = "octet-stream";
	memset(&p->params, 0, sizeof(p->params));
}

/* Content-Language: a comma-separated list of tags (RFC 3282). */
static void
read_languages(struct mime_ctx *ctx, struct mime_part *p, const char *v,
    size_t len)
{
	size_t i = 0, start, n = 0, depth;

	for (start = 0; start < len && n < MIME_MAX_PARAMS - 1; start++)
		if (v[start] == ',')
			n++;
	/* At most MIME_MAX_PARAMS tags: the rest are dropped. */
	p->languages = pool_alloc(ctx->pool, (n + 1) * sizeof(char *));
	while (i < len) {
		if (v[i] == '(') {
			for (depth = 0; i < len; i++) {
				if (v[i] == '\\' && i + 1 < len)
					i++;
				else if (v[i] == '(')
					depth++;
				else if (v[i] == ')' && --depth == 0)
					break;
			}
			i++;
			continue;
		}
		if (strchr(" \t\r\n,", v[i]) != NULL || v[i] == '\0') {
			i++;
			continue;
		}
		for (start = i; i < len && v[i] != '\0' &&
		    strchr(" \t\r\n,(", v[i]) == NULL; i++)
			;
		if (p->nlanguages <= n)
			p->languages[p->nlanguages++] = pool_strndup(ctx->pool,
			    v + start, i - start);
	}
	if (p->nlanguages == 0)
		p->languages = NULL;
}

/* The Content-* fields of p's header (the first of each counts). */
static void
read_header(struct mime_ctx *ctx, struct mime_part *p, bool digest)
{
	struct header_iter it;
	struct header_field f;
	const char *type, *subtype;
	bool have_type = false, have_disp = false, have_lang = false;

	header_iter_init(&it, ctx->msg + p->hdr_off, p->hdr_len);
	while (header_iter_next(&it, &f)) {
		if (!f.valid || f.name_len < 8 ||
		    strncasecmp(f.name, "content-", 8) != 0)
			continue;
		if (header_field_is(&f, "content-type")) {
			if (have_type)
				continue;
			have_type = true;
			if (mime_content_parse(ctx->pool, f.value,
			    f.value_len, true, &type, &subtype,
			    &p->params) == 0) {
				p->type = type;
				p->subtype = subtype;
			}
		} else if (header_field_is(&f, "content-transfer-encoding")) {
			if (p->encoding == NULL)
				p->encoding = header_unfold(ctx->pool, f.value,
				    f.value_len, NULL);
		} else if (header_field_is(&f, "content-id")) {
			if (p->id == NULL)
				p->id = header_unfold(ctx->pool, f.value,
				    f.value_len, NULL);
		} else if (header_field_is(&f, "content-description")) {
			if (p->description == NULL)
				p->description = header_unfold(ctx->pool,
				    f.value, f.value_len, NULL);
		} else if (header_field_is(&f, "content-md5")) {
			if (p->md5 == NULL)
				p->md5 = header_unfold(ctx->pool, f.value,
				    f.value_len, NULL);
		} else if (header_field_is(&f, "content-location")) {
			if (p->location == NULL)
				p->location = header_unfold(ctx->pool, f.value,
				    f.value_len, NULL);
		} else if (header_field_is(&f, "content-disposition")) {
			if (have_disp)
				continue;
			have_disp = true;
			if (mime_content_parse(ctx->pool, f.value,
			    f.value_len, false, &type, NULL,
			    &p->disp_params) == 0)
				p->disposition = type;
		} else if (header_field_is(&f, "content-language")) {
			if (have_lang)
				continue;
			have_lang = true;
			read_languages(ctx, p, f.value, f.value_len);
		}
	}
	if (p->type == NULL)
		set_default_type(ctx, p, digest);
}

/*
 * Whether the line at s[pos..end) is a delimiter line for boundary b:
 * returns the position after the line (after its LF, or end), or 0 if it
 * is not one. *close_r tells a close delimiter ("--b--").
 */
static size_t
boundary_line(const char *s, size_t pos, size_t end, const char *b,
    size_t blen, bool *close_r)
{
	size_t i;

	if (end - pos < blen + 2 || s[pos] != '-' || s[pos + 1] != '-' ||
	    memcmp(s + pos + 2, b, blen) != 0)
		return 0;
	i = pos + 2 + blen;
	*close_r = end - i >= 2 && s[i] == '-' && s[i + 1] == '-';
	if (*close_r)
		i += 2;
	for (; i < end && s[i] != '\n'; i++)
		if (!*close_r && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return i < end ? i + 1 : end;
}

/* Cut p's body into its parts and parse each. */
static void
split_multipart(struct mime_ctx *ctx, struct mime_part *p,
    const char *boundary)
{
	const char *s = ctx->msg;
	size_t blen = strlen(boundary), pos, next, start = 0, cend, end;
	struct mime_part *cur = NULL, *last = NULL, *c;
	bool close = false, digest;
	const char *lf;

	pos = p->body_off;
	end = p->body_off + p->body_len;
	while (pos < end) {
		lf = memchr(s + pos, '\n', end - pos);
		next = lf != NULL ? (size_t)(lf - s) + 1 : end;
		if (s[pos] != '-' ||
		    boundary_line(s, pos, end, boundary, blen, &close) == 0) {
			pos = next;
			continue;
		}
		/* The line end before the boundary line is the boundary's. */
		cend = pos;
		if (cend > p->body_off && s[cend - 1] == '\n')
			cend--;
		if (cend > p->body_off && s[cend - 1] == '\r')
			cend--;
		if (cur != NULL)
			cur->body_len = cend > start ? cend - start : 0;
		cur = NULL;
		if (close)
			break;
		if (ctx->parts_left == 0) {
			/* Out of parts: the last one keeps the rest. */
			if (last != NULL)
				last->body_len = end - last->hdr_off;
			break;
		}
		cur = last = part_new(ctx, p, last);
		start = cur->hdr_off = next;
		cur->body_len = end - start;
		pos = next;
	}
	if (p->children == NULL) {
		/* No boundary at all: one empty part, as Dovecot shows. */
		cur = part_new(ctx, p, NULL);
		cur->hdr_off = end;
	}
	/* The pieces are known; now parse each. hdr_off and body_len hold
	 * the range until parse_part() sets the real fields. */
	digest = strcasecmp(p->subtype, "digest") == 0;
	for (c = p->children; c != NULL; c = c->next)
		parse_part(ctx, c, c->hdr_off, c->hdr_off + c->body_len,
		    digest);
}

/* p's header and body are msg[off..end). */
static void
parse_part(struct mime_ctx *ctx, struct mime_part *p, size_t off,
    size_t end, bool digest)
{
	const char *boundary;
	struct mime_part *child;

	p->hdr_off = off;
	p->hdr_len = header_section_len(ctx->msg + off, end - off);
	p->body_off = off + p->hdr_len;
	p->body_len = end - p->body_off;
	p->body_lines = count_lf(ctx->msg + p->body_off, p->body_len);
	read_header(ctx, p, digest);

	if (strcasecmp(p->type, "multipart") == 0) {
		boundary = raw_param(&p->params, "boundary");
		if (boundary == NULL || boundary[0] == '\0' ||
		    strlen(boundary) > MIME_MAX_BOUNDARY) {
			/* RFC 2045 5.2: invalid, so text/plain. */
			set_default_type(ctx, p, false);
			p->flags |= MIME_PART_TEXT;
			return;
		}
		if (p->depth >= ctx->max_depth || ctx->parts_left < 1) {
			set_opaque(ctx, p);
			return;
		}
		p->flags |= MIME_PART_MULTIPART;
		split_multipart(ctx, p, boundary);
	} else if (strcasecmp(p->type, "message") == 0 &&
	    strcasecmp(p->subtype, "rfc822") == 0) {
		if (p->depth >= ctx->max_depth || ctx->parts_left < 1) {
			set_opaque(ctx, p);
			return;
		}
		p->flags |= MIME_PART_MESSAGE;
		child = part_new(ctx, p, NULL);
		parse_part(ctx, child, p->body_off, end, false);
	} else if (strcasecmp(p->type, "text") == 0)
		p->flags |= MIME_PART_TEXT;
}

struct mime_part *
mime_parse(struct pool *pool, const char *msg, size_t len,
    const struct mime_limits *limits)
{
	struct mime_ctx ctx;
	struct mime_part *root;

	ctx.pool = pool;
	ctx.msg = msg;
	ctx.len = len;
	ctx.max_depth = limits != NULL && limits->max_depth != 0 ?
	    limits->max_depth : MIME_MAX_DEPTH;
	ctx.parts_left = limits != NULL && limits->max_parts != 0 ?
	    limits->max_parts : MIME_MAX_PARTS;
	root = part_new(&ctx, NULL, NULL);
	parse_part(&ctx, root, 0, len, false);
	return root;
}

const char *
mime_param_get(const struct mime_params *params, const char *name)
{
	size_t i;

	for (i = 0; i < params->n; i++)
		if (strcasecmp(params->v[i].name, name) == 0)
			return params->v[i].value;
	return NULL;
}

bool
mime_part_is(const struct mime_part *part, const char *type,
    const char *subtype)
{
	return strcasecmp(part->type, type) == 0 && (subtype == NULL ||
	    strcasecmp(part->subtype, subtype) == 0);
}

struct mime_part *
mime_part_child(const struct mime_part *part, unsigned n)
{
	struct mime_part *c;

	if (n == 0)
		return NULL;
	for (c = part->children; c != NULL && --n > 0; c = c->next)
		;
	return c;
}
