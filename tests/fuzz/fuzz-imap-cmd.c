/* fuzz-imap-cmd: the IMAP command reader on arbitrary bytes. The first
 * byte picks the piece sizes, the second the literal policy (accept,
 * stream, refuse, or by size) and the limits (default, before login, or
 * tiny ones that every input reaches); the rest is the client's stream.
 * It is fed in those pieces and then whole, and both runs must produce
 * the same transcript of commands, literals and errors. Every command is
 * checked against the limits: nesting, argument and literal counts,
 * in-memory literal octets, strings without NUL, quoted strings in valid
 * UTF-8, tags and names well formed. The whole run also hands every
 * command to the parsers that take a command's arguments (SEARCH
 * programs, evaluated against a message; sequence sets, resolved and
 * formatted back; flag lists; dates and date-times), so they are fuzzed
 * with the argument trees a client can really produce. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/flags.h"
#include "imap/imap-date.h"
#include "imap/mutf7.h"
#include "imap/parse.h"
#include "imap/search.h"
#include "imap/seqset.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/pool.h"

#define OUT_MAX	(1u << 24)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum policy {
	ACCEPT,
	STREAM,
	REFUSE,
	BY_SIZE,	/* accept <= 8, stream <= 64, refuse the rest */
};

struct walk {
	unsigned	 nodes;
	unsigned	 literals;
	uint64_t	 mem;
};

static void	 check_args(const struct imap_arg *a, size_t n,
		    unsigned depth, const struct imap_limits *lim,
		    struct walk *w, struct buf *out);
static void	 run(const uint8_t *in, size_t len, unsigned piece,
		    enum policy policy, const struct imap_limits *lim,
		    struct buf *out, bool exercise);
static bool	 fake_keyword(void *ctx, const char *kw);
static int	 fake_header(void *ctx, const char *name,
		    imap_search_visit visit, void *vctx);
static int	 fake_text(void *ctx, bool whole, imap_search_visit visit,
		    void *vctx);
static void	 check_seqset(const char *s, size_t len, struct pool *pool);
static void	 check_strings(const struct imap_arg *a, size_t n,
		    struct pool *pool);
static void	 exercise_cmd(const struct imap_cmd *cmd);

static bool
fake_keyword(void *ctx, const char *kw)
{
	return kw[0] == '$';
}

static int
fake_header(void *ctx, const char *name, imap_search_visit visit, void *vctx)
{
	static const char *const values[] = {
		"Alice <a@example.org>", "Fri, 1 Mar 2024 09:00:00 +0000",
		"\xc3\x89t\xc3\xa9 \xce\xa3", "",
	};
	size_t i;

	for (i = 0; i < 4; i++)
		if (visit(vctx, values[i], strlen(values[i])) == 1)
			break;
	return 0;
}

static int
fake_text(void *ctx, bool whole, imap_search_visit visit, void *vctx)
{
	static const char body[] = "The quick brown fox \xff\xc3 jumps";

	(void)visit(vctx, body, whole ? sizeof(body) - 1 : 9);
	return 0;
}

/* A set that parses formats back to itself; resolved, it is sorted,
 * disjoint and agrees with its own membership test. */
static void
check_seqset(const char *s, size_t len, struct pool *pool)
{
	struct imap_seqset set, res;
	struct buf b;
	const char *error;
	uint64_t cursor = 0;
	uint32_t n, prev = 0;
	size_t i, steps = 0;

	imap_seqset_init(&set, pool, 0);
	imap_seqset_init(&res, pool, 0);
	if (imap_seqset_parse(&set, s, len, &error) == -1) {
		ASSERT(error != NULL);
		ASSERT(!imap_seqset_syntax_ok(s, len));
		return;
	}
	ASSERT(imap_seqset_syntax_ok(s, len));
	buf_init(&b, 1 << 20);
	ASSERT(imap_seqset_format(&set, &b) == 0);
	ASSERT(imap_seqset_parse(&res, (const char *)b.data, b.len,
	    &error) == 0 && res.n == set.n);
	buf_deinit(&b);
	imap_seqset_resolve(&set, (uint32_t)len * 3, &res);
	for (i = 0; i < res.n; i++) {
		ASSERT(res.r[i].lo >= 1 && res.r[i].lo <= res.r[i].hi);
		ASSERT(i == 0 || res.r[i].lo > res.r[i - 1].hi + 1);
		ASSERT(imap_seqset_contains(&res, res.r[i].lo));
		ASSERT(imap_seqset_contains(&res, res.r[i].hi));
		ASSERT(res.r[i].lo == 1 ||
		    !imap_seqset_contains(&res, res.r[i].lo - 1));
	}
	while (steps++ < 1000 && imap_seqset_next(&res, &cursor, &n)) {
		ASSERT(n > prev || steps == 1);
		ASSERT(imap_seqset_contains(&res, n));
		prev = n;
	}
}

/* Every string is tried as a date and a date-time. */
static void
check_strings(const struct imap_arg *a, size_t n, struct pool *pool)
{
	char out[IMAP_DATETIME_LEN + 1];
	int64_t day;
	time_t t, t2;
	size_t i;

	for (i = 0; i < n; i++, a++) {
		if (a->type == IMAP_ARG_LIST) {
			check_strings(a->list, a->count, pool);
			continue;
		}
		if (a->str == NULL)
			continue;
		(void)imap_date_parse(a->str, a->len, &day);
		(void)imap_rfc5322_day(a->str, a->len, &day);
		if (imap_datetime_parse(a->str, a->len, &t, NULL) == 0) {
			imap_datetime_format(t, out, sizeof(out));
			if (imap_datetime_parse(out, strlen(out), &t2,
			    NULL) == 0)
				ASSERT(t2 == t);
		}
		if (a->type == IMAP_ARG_ATOM && !a->bracket)
			check_seqset(a->str, a->len, pool);
	}
}

static void
exercise_cmd(const struct imap_cmd *cmd)
{
	struct pool *pool = pool_new(NULL);
	struct imap_search *search;
	struct imap_search_msg m;
	struct imap_flags f;
	struct buf b;
	const char *error;
	uint32_t seq;
	int r;

	r = imap_search_parse(cmd->args, cmd->count, pool, &search, &error);
	ASSERT(r == 0 || r == -1 || r == IMAP_SEARCH_BADCHARSET);
	if (r == 0) {
		imap_search_prepare(search, 5, 50);
		memset(&m, 0, sizeof(m));
		m.has_keyword = fake_keyword;
		m.header = fake_header;
		m.text = fake_text;
		m.internal_date = 1709287200;
		for (seq = 1; seq <= 5; seq++) {
			m.seq = seq;
			m.uid = seq * 10;
			m.flags = seq * 7 & 0x3f;
			m.size = seq * 1000;
			r = imap_search_match(search, &m);
			ASSERT(r == 0 || r == 1);
		}
	} else
		ASSERT(error != NULL);
	if (imap_flags_parse_args(cmd->args, cmd->count, pool, &f,
	    &error) == 0) {
		ASSERT((f.system & IMAP_FLAG_RECENT) == 0);
		buf_init(&b, 1 << 20);
		ASSERT(imap_flags_format(f.system, f.keywords, f.nkeywords,
		    &b) == 0);
		buf_deinit(&b);
	}
	check_strings(cmd->args, cmd->count, pool);
	pool_free(&pool);
}

static void
check_args(const struct imap_arg *a, size_t n, unsigned depth,
    const struct imap_limits *lim, struct walk *w, struct buf *out)
{
	size_t i;

	ASSERT(depth <= lim->depth_max);
	for (i = 0; i < n; i++, a++) {
		w->nodes++;
		ASSERT(buf_printf(out, " %d:", (int)a->type) == 0);
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			ASSERT(a->str != NULL && strlen(a->str) == a->len);
			ASSERT(a->len > 0);
			ASSERT(buf_append(out, a->str, a->len) == 0);
			if (a->bracket) {
				ASSERT(a->name_len < a->len);
				ASSERT(a->str[a->name_len] == '[');
				ASSERT(a->suffix != NULL);
				check_args(a->section, a->section_count,
				    depth + 1, lim, w, out);
			}
			break;
		case IMAP_ARG_QUOTED:
			ASSERT(a->str != NULL && strlen(a->str) == a->len);
			ASSERT(imap_utf8_valid((const uint8_t *)a->str,
			    a->len));
			ASSERT(buf_append(out, a->str, a->len) == 0);
			break;
		case IMAP_ARG_LITERAL:
			w->literals++;
			ASSERT(a->len <= UINT32_MAX);
			if (a->streamed) {
				ASSERT(a->str == NULL);
				ASSERT(buf_append(out, "*", 1) == 0);
			} else {
				ASSERT(a->str != NULL &&
				    strlen(a->str) == a->len);
				w->mem += a->len;
				ASSERT(buf_append(out, a->str, a->len) == 0);
			}
			break;
		case IMAP_ARG_LIST:
			ASSERT(a->str == NULL);
			ASSERT((a->count == 0) == (a->list == NULL));
			check_args(a->list, a->count, depth + 1, lim, w, out);
			break;
		default:
			ASSERT(!"argument type");
		}
	}
}

/* piece 0: the whole input in one call. */
static void
run(const uint8_t *in, size_t len, unsigned piece, enum policy policy,
    const struct imap_limits *lim, struct buf *out, bool exercise)
{
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p = imap_parser_new(pool, lim);
	const struct imap_cmd *cmd;
	const struct imap_literal *lit;
	const struct imap_parse_error *err;
	struct walk w;
	enum parse_result r;
	size_t pos = 0, n, used, take, grow = 1;
	uint8_t *copy;
	int action;

	while (pos < len) {
		n = piece == 0 ? len - pos : piece == 15 ? grow++ : piece;
		if (n > len - pos)
			n = len - pos;
		copy = malloc(n);
		ASSERT(copy != NULL);
		memcpy(copy, in + pos, n);
		r = imap_parser_feed(p, copy, n, &used);
		free(copy);
		ASSERT(used <= n);
		pos += used;
		if (r == PARSE_MORE) {
			ASSERT(used == n);
			continue;
		}
		if (r == PARSE_ERROR) {
			err = imap_parser_error(p);
			ASSERT(err->text != NULL && err->text[0] != '\0');
			ASSERT(buf_printf(out, "E %s %s %d\n",
			    err->tag != NULL ? err->tag : "*", err->text,
			    err->close) == 0);
			ASSERT(imap_parser_cmd(p) == NULL);
			if (err->close)
				break;
			continue;
		}
		if ((cmd = imap_parser_cmd(p)) != NULL) {
			ASSERT(imap_parser_literal(p) == NULL);
			ASSERT(cmd->tag != NULL && cmd->tag[0] != '\0' &&
			    strlen(cmd->tag) <= IMAP_TAG_MAX);
			ASSERT(cmd->name != NULL && cmd->name[0] != '\0' &&
			    strlen(cmd->name) <= IMAP_NAME_MAX);
			ASSERT(strchr(cmd->tag, '+') == NULL);
			memset(&w, 0, sizeof(w));
			ASSERT(buf_printf(out, "C %s %d %s", cmd->tag,
			    cmd->uid, cmd->name) == 0);
			check_args(cmd->args, cmd->count, 0, lim, &w, out);
			ASSERT(buf_append(out, "\n", 1) == 0);
			ASSERT(w.nodes <= lim->args_max);
			ASSERT(w.literals == cmd->literals);
			ASSERT(w.literals <= lim->literals_max);
			ASSERT(w.mem <= lim->literal_mem_max);
			if (exercise)
				exercise_cmd(cmd);
			continue;
		}
		lit = imap_parser_literal(p);
		ASSERT(lit != NULL);
		ASSERT(lit->size <= UINT32_MAX);
		ASSERT(lit->number >= 1 && lit->number <= lim->literals_max);
		ASSERT(lit->depth <= lim->depth_max);
		ASSERT(lit->tag != NULL && lit->name != NULL);
		ASSERT(buf_printf(out, "L %llu %d\n",
		    (unsigned long long)lit->size, lit->sync) == 0);
		switch (policy) {
		case ACCEPT:
			action = 0;
			break;
		case STREAM:
			action = 1;
			break;
		case REFUSE:
			action = 2;
			break;
		default:
			action = lit->size <= 8 ? 0 : lit->size <= 64 ? 1 : 2;
		}
		if (action == 0 && imap_parser_literal_accept(p) == -1) {
			ASSERT(lit->mem_used + lit->size >
			    lim->literal_mem_max);
			action = 2;
		}
		if (action == 1) {
			imap_parser_literal_stream(p);
			take = len - pos < lit->size ? len - pos :
			    (size_t)lit->size;
			pos += take;
		} else if (action == 2 &&
		    imap_parser_literal_refuse(p) == -1) {
			ASSERT(!lit->sync);
			ASSERT(lit->size > lim->literal_discard_max);
			ASSERT(buf_append_str(out, "X\n") == 0);
			break;
		}
	}
	imap_parser_free(&p);
	pool_free(&pool);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits lim;
	struct buf a, b;
	unsigned piece;
	enum policy policy;

	if (size < 2)
		return 0;
	piece = data[0] & 0x0f;
	policy = (enum policy)(data[1] & 0x03);
	switch ((data[1] >> 2) & 0x03) {
	case 0:
		imap_limits_default(&lim);
		break;
	case 1:
		imap_limits_preauth(&lim);
		break;
	default:
		imap_limits_default(&lim);
		lim.line_max = 40;
		lim.depth_max = 3;
		lim.args_max = 8;
		lim.literals_max = 2;
		lim.literal_mem_max = 12;
		lim.literal_discard_max = 20;
	}
	data += 2;
	size -= 2;

	buf_init(&a, OUT_MAX);
	buf_init(&b, OUT_MAX);
	run(data, size, piece == 0 ? 1 : piece, policy, &lim, &a, false);
	run(data, size, 0, policy, &lim, &b, true);
	ASSERT(a.len == b.len);
	ASSERT(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
	buf_deinit(&a);
	buf_deinit(&b);
	return 0;
}
