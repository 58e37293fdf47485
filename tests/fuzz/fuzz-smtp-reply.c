/* fuzz-smtp-reply: the outbound client's reply reader (and the EHLO
 * keyword parser on every reply it accepts) on arbitrary bytes. The first
 * byte picks the piece size; the rest is a stream of replies, read in
 * those pieces and then whole. Both runs must agree on every reply (code,
 * enhanced code, text, line count), on where each ends and on where an
 * error happens; each reply must respect the line and line-count limits,
 * and its text must be printable ASCII. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "smtp/client-proto.h"

#define REPLIES_MAX	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned	 code;
	char		 enh[SMTP_REPLY_ENH_MAX];
	uint64_t	 text_hash;
	size_t		 text_len;
	unsigned	 nlines;
	size_t		 end;
};

struct run {
	struct seen	 r[REPLIES_MAX];
	size_t		 n;
	bool		 error;
	size_t		 error_at;
};

static uint64_t	 hash(const uint8_t *p, size_t n);
static void	 check_reply(const struct smtp_reply *r);
static void	 feed(const uint8_t *p, size_t len, size_t piece, struct run *out);

static uint64_t
hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

static void
check_reply(const struct smtp_reply *r)
{
	struct smtp_ehlo e;
	size_t i;

	ASSERT(r->code >= 200 && r->code <= 559);
	ASSERT(r->nlines >= 1 && r->nlines <= SMTP_REPLY_LINES_MAX);
	ASSERT(r->enh[0] == '\0' || r->enh[0] == '0' + r->code / 100);
	for (i = 0; i < r->text.len; i++)
		ASSERT(r->text.data[i] >= 0x20 && r->text.data[i] <= 0x7e);
	smtp_ehlo_parse(r, &e);
}

static void
feed(const uint8_t *p, size_t len, size_t piece, struct run *out)
{
	struct smtp_reply_parser rp;
	enum parse_result pr;
	const char *error;
	size_t off = 0, n, used;
	struct seen *s;

	memset(out, 0, sizeof(*out));
	smtp_reply_parser_init(&rp);
	while (off < len && out->n < REPLIES_MAX) {
		n = len - off < piece ? len - off : piece;
		pr = smtp_reply_parse(&rp, p + off, n, &used, &error);
		if (pr == PARSE_ERROR) {
			out->error = true;
			out->error_at = off;
			break;
		}
		ASSERT(used <= n);
		off += used;
		if (pr == PARSE_MORE) {
			ASSERT(used == n);
			continue;
		}
		check_reply(&rp.reply);
		s = &out->r[out->n++];
		s->code = rp.reply.code;
		memcpy(s->enh, rp.reply.enh, sizeof(s->enh));
		s->text_hash = hash(rp.reply.text.data, rp.reply.text.len);
		s->text_len = rp.reply.text.len;
		s->nlines = rp.reply.nlines;
		s->end = off;
	}
	smtp_reply_parser_deinit(&rp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b;
	size_t piece, i;

	if (size == 0)
		return 0;
	piece = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	feed(data, size, piece, &a);
	feed(data, size, size > 0 ? size : 1, &b);
	ASSERT(a.n == b.n && a.error == b.error);
	for (i = 0; i < a.n; i++)
		ASSERT(memcmp(&a.r[i], &b.r[i], sizeof(a.r[i])) == 0);
	return 0;
}
