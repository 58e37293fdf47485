/* fuzz-imap-fetch: FETCH item lists into plans (imap/imap-fetch-plan.c).
 * The input is what a client writes after "FETCH 1 "; it goes through the
 * real command parser (literals refused, as the server refuses them
 * inside sections) and, when it makes a command with one item argument,
 * into a plan. Every plan is checked (names non-empty and as long as
 * name_len, a section with part numbers asks for the MIME tree, \Seen
 * only from a non-peek section, at most IMAP_FETCH_ITEMS_MAX items) and
 * run the way FETCH runs it against two fixed messages: each section is
 * cut from the message with the MIME tree, and a top-level one also with
 * the header/body split FETCH uses without a tree, and a header section
 * also from the header alone (what FETCH reads for it), which must give
 * the same octets. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-body.h"
#include "imap/imap-fetch.h"
#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"
#include "mail/mime.h"

#define INPUT_MAX	(64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const messages[] = {
	"From: a@example.org\r\nSubject: plain\r\nX-Folded: one\r\n two\r\n"
	"\r\nHello,\r\nworld.\r\n",
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
	"\r\npreamble\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n"
	"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n"
	"inner text\r\n--b--\r\n",
};

static void	check_plan(const struct imap_fetch_plan *p, struct pool *pool);

static void
check_plan(const struct imap_fetch_plan *p, struct pool *pool)
{
	const struct imap_fetch_item *it;
	struct imap_section_data a, b;
	const struct mime_part *root;
	struct mime_part top, htop;
	bool hdr_only;
	const char *msg;
	bool seen = false;
	size_t i, k, len;

	if (p->n == 0 || p->n > IMAP_FETCH_ITEMS_MAX)
		abort();
	for (k = 0; k < sizeof(messages) / sizeof(messages[0]); k++) {
		msg = messages[k];
		len = strlen(msg);
		root = mime_parse(pool, msg, len, NULL);
		memset(&top, 0, sizeof(top));
		top.hdr_len = header_section_len(msg, len);
		top.body_off = top.hdr_len;
		top.body_len = len - top.hdr_len;
		for (i = 0; i < p->n; i++) {
			it = &p->items[i];
			if (it->name == NULL || it->name_len == 0 ||
			    strlen(it->name) != it->name_len)
				abort();
			if (it->kind != IMAP_FETCH_SECTION)
				continue;
			seen |= !it->peek;
			hdr_only = imap_fetch_section_header_only(&it->sec);
			if (!(p->needs & (hdr_only ? IMAP_FETCH_NEED_HEADER :
			    IMAP_FETCH_NEED_CONTENT)) ||
			    (it->sec.nparts > 0 &&
			    !(p->needs & IMAP_FETCH_NEED_MIME)))
				abort();
			imap_section_fetch(pool, msg, len, root, &it->sec,
			    it->origin, it->count, &a);
			if (a.len > 3 * len + 2 ||
			    (a.off != SIZE_MAX && (a.off > len ||
			    a.len > len - a.off)))
				abort();
			if (it->sec.nparts > 0)
				continue;
			imap_section_fetch(pool, msg, len, &top, &it->sec,
			    it->origin, it->count, &b);
			if (a.len != b.len || a.off != b.off ||
			    memcmp(a.data, b.data, a.len) != 0)
				abort();
			if (!hdr_only)
				continue;
			/* what FETCH does with only the header read */
			memset(&htop, 0, sizeof(htop));
			htop.hdr_len = top.hdr_len;
			htop.body_off = top.hdr_len;
			imap_section_fetch(pool, msg, top.hdr_len, &htop,
			    &it->sec, it->origin, it->count, &b);
			if (a.len != b.len || a.off != b.off ||
			    memcmp(a.data, b.data, a.len) != 0)
				abort();
		}
	}
	if (seen != p->sets_seen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_fetch_plan *plan;
	const struct imap_cmd *cmd;
	struct imap_limits lim;
	struct imap_parser *p;
	struct pool *pool;
	const char *error;
	struct buf line;
	size_t used, off = 0;
	enum parse_result r;

	if (size > INPUT_MAX)
		return 0;
	pool = pool_new(NULL);
	buf_init(&line, INPUT_MAX + 64);
	if (buf_append_str(&line, "t FETCH 1 ") == -1 ||
	    buf_append(&line, data, size) == -1 ||
	    buf_append(&line, "\r\n", 2) == -1)
		abort();
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	while (off < line.len) {
		r = imap_parser_feed(p, line.data + off, line.len - off, &used);
		off += used;
		if (r == PARSE_ERROR) {
			if (imap_parser_error(p)->close)
				break;
			continue;
		}
		if (r != PARSE_DONE)
			continue;
		if (imap_parser_literal(p) != NULL) {
			if (imap_parser_literal_refuse(p) == -1)
				break;
			continue;
		}
		cmd = imap_parser_cmd(p);
		if (cmd == NULL || strcmp(cmd->name, "FETCH") != 0 ||
		    cmd->count != 2)
			continue;
		if (imap_fetch_plan_parse(&cmd->args[1], cmd->uid, pool, &plan,
		    &error) == 0)
			check_plan(plan, pool);
		else if (error == NULL || error[0] == '\0')
			abort();
	}
	imap_parser_free(&p);
	buf_deinit(&line);
	pool_free(&pool);
	return 0;
}
