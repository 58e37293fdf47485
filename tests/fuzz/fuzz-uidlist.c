/* fuzz-uidlist: the parsers of files other programs write into a mailbox
 * (store/uidlist.h) on arbitrary bytes, as dovecot-uidlist,
 * dovecot-keywords and postie-index. For the uidlist: every record has a
 * UID above the one before and below 2^31, a base name without '/', ':',
 * control characters or a leading dot; the consumed length ends at a LF;
 * and reading the input in two parts, split where its first byte says,
 * as a reader following a growing file does, gives the same records. The
 * keyword names must be valid atoms with indexes below 26; index records
 * ascend. The first line is also checked as a mailbox name: accepted, it
 * must be one directory entry under the root. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "store/store.h"
#include "store/uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECS	4096

struct recs {
	uint32_t	 uid[MAX_RECS];
	uint32_t	 hash[MAX_RECS];
	size_t		 n;
	size_t		 total;
};

static void	 on_rec(void *arg, const struct uidlist_rec *r);
static void	 on_kw(void *arg, unsigned index, const char *name,
		    size_t len);
static void	 on_index(void *arg, const struct index_rec *r);
static void	 check_name(const uint8_t *data, size_t size);

static void
on_rec(void *arg, const struct uidlist_rec *r)
{
	struct recs *rs = arg;
	uint32_t h = 2166136261U;
	size_t i;

	ASSERT(r->uid > 0 && r->uid <= STORE_UID_MAX);
	ASSERT(r->namelen > 0 && r->namelen <= UIDLIST_NAME_MAX);
	ASSERT(r->name[0] != '.');
	for (i = 0; i < r->namelen; i++) {
		ASSERT((unsigned char)r->name[i] >= 0x20 &&
		    r->name[i] != '/' && r->name[i] != ':' &&
		    r->name[i] != 0x7f);
		h = (h ^ (unsigned char)r->name[i]) * 16777619U;
	}
	if (rs->total > 0 && rs->n > 0)
		ASSERT(r->uid > rs->uid[rs->n - 1]);
	rs->total++;
	if (rs->n < MAX_RECS) {
		rs->uid[rs->n] = r->uid;
		rs->hash[rs->n] = h;
		rs->n++;
	}
}

static void
on_kw(void *arg, unsigned index, const char *name, size_t len)
{
	uint32_t *seen = arg;

	ASSERT(index < STORE_KEYWORDS_MAX);
	ASSERT(!(*seen & (1U << index)));
	*seen |= 1U << index;
	ASSERT(keyword_valid(name, len));
}

static void
on_index(void *arg, const struct index_rec *r)
{
	uint32_t *last = arg;

	ASSERT(r->uid > *last && r->uid <= STORE_UID_MAX);
	ASSERT(r->flags <= STORE_F_ALL);
	*last = r->uid;
}

static void
check_name(const uint8_t *data, size_t size)
{
	char canon[STORE_NAME_MAX + 1];
	const uint8_t *nl = memchr(data, '\n', size);
	const char *error;
	size_t len = nl != NULL ? (size_t)(nl - data) : size, i;

	if (!store_name_bytes_ok(data, len, &error))
		return;
	ASSERT(len > 0 && len <= STORE_NAME_MAX);
	ASSERT(memchr(data, '\0', len) == NULL);
	memcpy(canon, data, len);
	canon[len] = '\0';
	ASSERT(canon[0] != '.' && canon[len - 1] != '.');
	for (i = 0; i < len; i++) {
		ASSERT(canon[i] != '/' && (unsigned char)canon[i] >= 0x20 &&
		    (unsigned char)canon[i] < 0x7f);
		ASSERT(!(canon[i] == '.' && canon[i + 1] == '.'));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct recs whole, split;
	struct uidlist_reader rd, rd2;
	struct index_hdr ih;
	const char *d = (const char *)data;
	size_t used, used2, at;
	uint32_t kwseen = 0, last = 0;
	int r, r2;

	whole.n = whole.total = 0;
	uidlist_reader_init(&rd);
	r = uidlist_read(&rd, d, size, on_rec, &whole, &used);
	ASSERT(used <= size);
	ASSERT(used == 0 || data[used - 1] == '\n');
	if (r == 0)
		ASSERT(memchr(d + used, '\n', size - used) == NULL);
	if (rd.have_hdr) {
		ASSERT(rd.hdr.version == 1 || rd.hdr.version == 3);
		ASSERT(rd.hdr.uidvalidity > 0 && rd.hdr.next_uid > 0);
		ASSERT(strlen(rd.hdr.ext) <= UIDLIST_EXT_MAX);
	}
	ASSERT(rd.records == whole.total);

	at = size > 0 ? data[0] % (size + 1) : 0;
	split.n = split.total = 0;
	uidlist_reader_init(&rd2);
	r2 = uidlist_read(&rd2, d, at, on_rec, &split, &used);
	if (r2 == 0) {
		r2 = uidlist_read(&rd2, d + used, size - used, on_rec, &split,
		    &used2);
		if (r2 == 0 && r == 0) {
			ASSERT(split.total == whole.total);
			ASSERT(split.n == whole.n);
			ASSERT(memcmp(split.uid, whole.uid,
			    whole.n * sizeof(whole.uid[0])) == 0);
			ASSERT(memcmp(split.hash, whole.hash,
			    whole.n * sizeof(whole.hash[0])) == 0);
			ASSERT(rd2.bad == rd.bad);
		}
	}
	ASSERT((r == -1) == (r2 == -1));

	(void)keywords_read(d, size, on_kw, &kwseen);
	(void)index_read(d, size, &ih, on_index, &last);
	check_name(data, size);
	return 0;
}
