/* uidlist: the parsers and writers of uidlist.h. Called by the mailbox
 * loader (box-uidlist.c, box-index.c, keywords.c) and by the fuzz target
 * tests/fuzz/fuzz-uidlist.c.
 *
 * Limits: lines UIDLIST_LINE_MAX octets (longer ones are skipped whole),
 * numbers checked before each multiply, UIDs 1..STORE_UID_MAX, file names
 * 1..UIDLIST_NAME_MAX octets without '/', NUL or control characters,
 * keyword names STORE_KEYWORD_NAME_MAX atom characters, indexes 0..25. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/uidlist.h"

static bool	 parse_u64(const char **pp, const char *end, uint64_t max,
		    uint64_t *r);
static bool	 parse_i64(const char **pp, const char *end, int64_t *r);
static void	 skip_spaces(const char **pp, const char *end);
static int	 parse_header(const char *p, const char *end,
		    struct uidlist_hdr *h);
static int	 parse_v3_fields(const char *p, const char *end,
		    struct uidlist_hdr *h);
static int	 parse_record(const char *p, const char *end, unsigned version,
		    struct uidlist_rec *r);
static bool	 name_ok(const char *name, size_t len);
static bool	 atom_char(unsigned char c);

/* Decimal digits up to a space or the end; at least one, no overflow. */
static bool
parse_u64(const char **pp, const char *end, uint64_t max, uint64_t *r)
{
	const char *p = *pp;
	uint64_t n = 0;
	unsigned d;

	if (p == end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		d = (unsigned)(*p - '0');
		if (n > max / 10 || n * 10 > max - d)
			return false;
		n = n * 10 + d;
	}
	if (p < end && *p != ' ')
		return false;
	*pp = p;
	*r = n;
	return true;
}

static bool
parse_i64(const char **pp, const char *end, int64_t *r)
{
	const char *p = *pp;
	bool neg = false;
	uint64_t n;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (!parse_u64(&p, end, INT64_MAX, &n))
		return false;
	*pp = p;
	*r = neg ? -(int64_t)n : (int64_t)n;
	return true;
}

static void
skip_spaces(const char **pp, const char *end)
{
	while (*pp < end && **pp == ' ')
		(*pp)++;
}

static int
parse_v3_fields(const char *p, const char *end, struct uidlist_hdr *h)
{
	const char *start, *v;
	uint64_t n;
	size_t len, have, i;
	char key;

	for (skip_spaces(&p, end); p < end; skip_spaces(&p, end)) {
		start = p;
		key = *p++;
		v = p;
		while (p < end && *p != ' ')
			p++;
		len = (size_t)(p - v);
		switch (key) {
		case 'V':
		case 'N':
			if (!parse_u64(&v, p, UINT32_MAX, &n) || n == 0)
				return -1;
			if (key == 'V')
				h->uidvalidity = (uint32_t)n;
			else
				h->next_uid = (uint32_t)n;
			break;
		case 'G':
			if (len != 32)
				return -1;
			for (i = 0; i < 32; i++) {
				if (strchr("0123456789abcdefABCDEF",
				    v[i]) == NULL || v[i] == '\0')
					return -1;
				h->guid[i] = v[i];
			}
			h->guid[32] = '\0';
			break;
		default:
			/* Another program's field: keep it if it is
			 * printable and fits, so a rewrite preserves it. */
			if ((key < 'A' || key > 'Z') && (key < 'a' || key > 'z'))
				return -1;
			for (i = 0; i < len; i++)
				if ((unsigned char)v[i] < 0x21 ||
				    (unsigned char)v[i] > 0x7e)
					return -1;
			have = strlen(h->ext);
			len = (size_t)(p - start);
			if (have + len + 1 < sizeof(h->ext)) {
				if (have > 0)
					h->ext[have++] = ' ';
				/* UNSAFE: have + len < sizeof(h->ext) */
				memcpy(h->ext + have, start, len);
				h->ext[have + len] = '\0';
			}
			break;
		}
	}
	return 0;
}

static int
parse_header(const char *p, const char *end, struct uidlist_hdr *h)
{
	uint64_t n;

	memset(h, 0, sizeof(*h));
	if (end - p < 2 || p[1] != ' ')
		return -1;
	switch (p[0]) {
	case '1':
		h->version = 1;
		p += 2;
		if (!parse_u64(&p, end, UINT32_MAX, &n) || n == 0)
			return -1;
		h->uidvalidity = (uint32_t)n;
		skip_spaces(&p, end);
		if (!parse_u64(&p, end, UINT32_MAX, &n) || n == 0)
			return -1;
		h->next_uid = (uint32_t)n;
		skip_spaces(&p, end);
		return p == end ? 0 : -1;
	case '3':
		h->version = 3;
		if (parse_v3_fields(p + 2, end, h) == -1)
			return -1;
		if (h->uidvalidity == 0)
			return -1;
		if (h->next_uid == 0)
			h->next_uid = 1;
		return 0;
	default:
		return -1;
	}
}

static bool
name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > UIDLIST_NAME_MAX || name[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == '/' ||
		    name[i] == 0x7f)
			return false;
	return true;
}

static int
parse_record(const char *p, const char *end, unsigned version,
    struct uidlist_rec *r)
{
	const char *colon;
	uint64_t n;
	char key;

	r->vsize = UINT64_MAX;
	if (!parse_u64(&p, end, STORE_UID_MAX, &n) || n == 0 || p == end)
		return -1;
	r->uid = (uint32_t)n;
	skip_spaces(&p, end);
	if (version == 3) {
		while (p < end && *p != ':') {
			key = *p++;
			if (key < 'A' || key > 'Z')
				return -1;
			if (key == 'W') {
				if (!parse_u64(&p, end, UINT64_MAX - 1, &n))
					return -1;
				r->vsize = n;
			} else {
				while (p < end && *p != ' ')
					p++;
			}
			skip_spaces(&p, end);
		}
		if (p == end)
			return -1;
		p++;		/* the ':' before the name */
	}
	/* Older writers kept the whole name; the base is up to ':'. */
	colon = memchr(p, ':', (size_t)(end - p));
	r->name = p;
	r->namelen = (size_t)((colon != NULL ? colon : end) - p);
	if (!name_ok(p, (size_t)(end - p)) || r->namelen == 0)
		return -1;
	return 0;
}

void
uidlist_reader_init(struct uidlist_reader *rd)
{
	memset(rd, 0, sizeof(*rd));
}

int
uidlist_read(struct uidlist_reader *rd, const char *data, size_t len,
    uidlist_rec_cb cb, void *arg, size_t *used_r)
{
	const char *p = data, *end = data + len, *nl;
	struct uidlist_rec r;

	*used_r = 0;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (!rd->have_hdr) {
			if (nl - p > UIDLIST_LINE_MAX ||
			    parse_header(p, nl, &rd->hdr) == -1)
				return -1;
			rd->have_hdr = true;
		} else if (nl - p > UIDLIST_LINE_MAX ||
		    parse_record(p, nl, rd->hdr.version, &r) == -1 ||
		    r.uid <= rd->last_uid) {
			rd->bad++;
		} else {
			rd->last_uid = r.uid;
			rd->records++;
			cb(arg, &r);
		}
		p = nl + 1;
		*used_r = (size_t)(p - data);
	}
	return 0;
}

int
uidlist_write_header(struct buf *b, uint32_t uidvalidity, uint32_t next_uid,
    const char *guid, const char *ext)
{
	return buf_printf(b, "3 V%u N%u G%s%s%s\n", uidvalidity, next_uid,
	    guid, ext != NULL && *ext != '\0' ? " " : "",
	    ext != NULL ? ext : "");
}

int
uidlist_write_record(struct buf *b, uint32_t uid, uint64_t vsize,
    const char *name, size_t namelen)
{
	if (namelen > UIDLIST_NAME_MAX)
		return -1;
	if (vsize != UINT64_MAX)
		return buf_printf(b, "%u W%llu :%.*s\n", uid,
		    (unsigned long long)vsize, (int)namelen, name);
	return buf_printf(b, "%u :%.*s\n", uid, (int)namelen, name);
}

/* RFC 3501 atom characters, less the ones that would need quoting. */
static bool
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

bool
keyword_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_KEYWORD_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!atom_char((unsigned char)name[i]))
			return false;
	return true;
}

unsigned
keywords_read(const char *data, size_t len, keywords_cb cb, void *arg)
{
	const char *p = data, *end = data + len, *nl, *q;
	uint32_t seen = 0;
	unsigned bad = 0;
	uint64_t idx;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		q = p;
		if (nl - p > UIDLIST_LINE_MAX ||
		    !parse_u64(&q, nl, STORE_KEYWORDS_MAX - 1, &idx) ||
		    q == nl || *q != ' ' ||
		    !keyword_valid(q + 1, (size_t)(nl - q - 1))) {
			if (nl > p)
				bad++;
			continue;
		}
		if (seen & (1U << idx))
			continue;
		seen |= 1U << idx;
		cb(arg, (unsigned)idx, q + 1, (size_t)(nl - q - 1));
	}
	return bad;
}

int
index_read(const char *data, size_t len, struct index_hdr *hdr,
    index_rec_cb cb, void *arg)
{
	static const char magic[] = "postie-index 1 V";
	const char *p = data, *end = data + len, *nl;
	struct index_rec r;
	uint32_t last = 0;
	uint64_t n;

	if ((nl = memchr(p, '\n', len)) == NULL || nl - p > UIDLIST_LINE_MAX ||
	    (size_t)(nl - p) < sizeof(magic) - 1 ||
	    memcmp(p, magic, sizeof(magic) - 1) != 0)
		return -1;
	p += sizeof(magic) - 1;
	if (!parse_u64(&p, nl, UINT32_MAX, &n) || n == 0 ||
	    nl - p < 3 || p[0] != ' ' || p[1] != 'M')
		return -1;
	hdr->uidvalidity = (uint32_t)n;
	p += 2;
	if (!parse_u64(&p, nl, INT64_MAX, &hdr->modseq) || p != nl)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    nl - p > UIDLIST_LINE_MAX)
			return -1;
		if (!parse_u64(&p, nl, STORE_UID_MAX, &n) || n <= last ||
		    p == nl)
			return -1;
		r.uid = last = (uint32_t)n;
		p++;
		if (!parse_u64(&p, nl, INT64_MAX, &r.modseq) || p == nl)
			return -1;
		p++;
		if (!parse_u64(&p, nl, STORE_F_ALL, &n) || p == nl)
			return -1;
		r.flags = (uint8_t)n;
		p++;
		if (!parse_u64(&p, nl, (1U << STORE_KEYWORDS_MAX) - 1, &n) ||
		    p == nl)
			return -1;
		r.keywords = (uint32_t)n;
		p++;
		if (p < nl && *p == '-') {
			r.vsize = UINT64_MAX;
			p++;
		} else if (!parse_u64(&p, nl, UINT64_MAX - 1, &r.vsize))
			return -1;
		if (p == nl || *p != ' ')
			return -1;
		p++;
		if (p < nl && *p == '-' && nl - p == 1) {
			r.date = INT64_MIN;
			p++;
		} else if (!parse_i64(&p, nl, &r.date))
			return -1;
		if (p != nl)
			return -1;
		cb(arg, &r);
	}
	return 0;
}

int
index_write_header(struct buf *b, const struct index_hdr *hdr)
{
	return buf_printf(b, "postie-index 1 V%u M%llu\n", hdr->uidvalidity,
	    (unsigned long long)hdr->modseq);
}

int
index_write_record(struct buf *b, const struct index_rec *r)
{
	char size[24], date[24];

	if (r->vsize == UINT64_MAX)
		snprintf(size, sizeof(size), "-");
	else
		snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)r->vsize);
	if (r->date == INT64_MIN)
		snprintf(date, sizeof(date), "-");
	else
		snprintf(date, sizeof(date), "%lld", (long long)r->date);
	return buf_printf(b, "%u %llu %u %u %s %s\n", r->uid,
	    (unsigned long long)r->modseq, (unsigned)r->flags,
	    (unsigned)r->keywords, size, date);
}
