/* test-store-uidlist: the parsers of files other programs write into a
 * mailbox (store/uidlist.h): dovecot-uidlist in versions 3 and 1, fed
 * whole and split at every octet with the same result; damaged records
 * skipped one by one; headers that make the file unusable; partial last
 * lines left for later; dovecot-keywords and postie-index; writers that
 * read back; and the Maildir file name helpers of store-private.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/store-private.h"
#include "store/uidlist.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

struct got {
	uint32_t	 uid[32];
	char		 name[32][64];
	uint64_t	 vsize[32];
	size_t		 n;
};

static void	 on_rec(void *arg, const struct uidlist_rec *r);
static int	 read_all(const char *data, struct uidlist_reader *rd,
		    struct got *g, size_t *used_r);
static int	 read_split(const char *data, size_t at,
		    struct uidlist_reader *rd, struct got *g);

static void
on_rec(void *arg, const struct uidlist_rec *r)
{
	struct got *g = arg;

	assert_true(g->n < 32);
	assert_true(r->namelen < 64);
	g->uid[g->n] = r->uid;
	memcpy(g->name[g->n], r->name, r->namelen);
	g->name[g->n][r->namelen] = '\0';
	g->vsize[g->n] = r->vsize;
	g->n++;
}

static int
read_all(const char *data, struct uidlist_reader *rd, struct got *g,
    size_t *used_r)
{
	memset(g, 0, sizeof(*g));
	uidlist_reader_init(rd);
	return uidlist_read(rd, data, strlen(data), on_rec, g, used_r);
}

/* As a reader following a growing file: first data[0..at), then the
 * rest from where it stopped. */
static int
read_split(const char *data, size_t at, struct uidlist_reader *rd,
    struct got *g)
{
	size_t used, used2, len = strlen(data);

	memset(g, 0, sizeof(*g));
	uidlist_reader_init(rd);
	if (uidlist_read(rd, data, at, on_rec, g, &used) == -1)
		return -1;
	if (uidlist_read(rd, data + used, len - used, on_rec, g,
	    &used2) == -1)
		return -1;
	assert_int_equal(used + used2, len);
	return 0;
}

static void
test_version_3_whole_and_split(void **state)
{
	static const char file[] =
	    "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1 Xfoo\n"
	    "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
	    "25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n"
	    "25018 G1 P2 :1276533074.x\n";
	struct uidlist_reader rd, rd2;
	struct got g, g2;
	size_t used, at;

	(void)state;
	assert_int_equal(read_all(file, &rd, &g, &used), 0);
	assert_int_equal(used, strlen(file));
	assert_int_equal(rd.hdr.version, 3);
	assert_int_equal(rd.hdr.uidvalidity, 1275660208);
	assert_int_equal(rd.hdr.next_uid, 25022);
	assert_string_equal(rd.hdr.guid, "3085f01b7f11094c501100008c4a11c1");
	assert_string_equal(rd.hdr.ext, "Xfoo");
	assert_int_equal(g.n, 3);
	assert_int_equal(g.uid[0], 25006);
	assert_string_equal(g.name[0],
	    "1276528487.M364837P9451.kurkku,S=1355,W=1394");
	assert_true(g.vsize[0] == UINT64_MAX);
	assert_int_equal(g.vsize[1], 2481);
	assert_string_equal(g.name[2], "1276533074.x");
	assert_int_equal(rd.bad, 0);
	for (at = 0; at <= strlen(file); at++) {
		assert_int_equal(read_split(file, at, &rd2, &g2), 0);
		assert_int_equal(g2.n, g.n);
		assert_memory_equal(g2.uid, g.uid, sizeof(g.uid));
		assert_memory_equal(g2.name, g.name, sizeof(g.name));
	}
}

static void
test_version_1_is_read(void **state)
{
	struct uidlist_reader rd;
	struct got g;
	size_t used;

	(void)state;
	assert_int_equal(read_all("1 1173189136 20221\n20220 111.a:2,S\n", &rd,
	    &g, &used), 0);
	assert_int_equal(rd.hdr.uidvalidity, 1173189136);
	assert_int_equal(rd.hdr.next_uid, 20221);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.name[0], "111.a");
}

static void
test_bad_records_are_skipped_one_by_one(void **state)
{
	static const char file[] =
	    "3 V1 N2\n"
	    "5 :a\n"
	    "5 :dup-uid\n"		/* not ascending */
	    "4 :lower\n"
	    "x :nouid\n"
	    "0 :zero\n"
	    "6 :dir/name\n"
	    "7 :.dot\n"
	    "8 :\n"
	    "9 w1 :lowerkey\n"
	    "10 W12x :badsize\n"
	    "11 W1\n"			/* no name */
	    "2147483647 :toohigh\n"
	    "12 :ctl\001x\n"
	    "13 ::2,S\n"		/* empty base */
	    "14 :b\n";
	struct uidlist_reader rd;
	struct got g;
	size_t used;

	(void)state;
	assert_int_equal(read_all(file, &rd, &g, &used), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.uid[0], 5);
	assert_int_equal(g.uid[1], 14);
	assert_int_equal(rd.bad, 13);
}

static void
test_unusable_headers(void **state)
{
	static const char *const bad[] = {
		"3 N5\n", "3 V0 N5\n", "3 V1 N0\n", "3 Vx\n", "2 V1 N1\n",
		"3 V1 G123\n", "3 V1 Gzz85f01b7f11094c501100008c4a11c1\n",
		"3 V99999999999 N1\n", "1 5\n", "1 5 6 7\n", "\n", "x\n",
		"3 V1 !x\n",
	};
	struct uidlist_reader rd;
	struct got g;
	size_t i, used;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(read_all(bad[i], &rd, &g, &used), -1);
	/* Without a LF, nothing is taken yet: not an error. */
	assert_int_equal(read_all("3 V1 N1", &rd, &g, &used), 0);
	assert_int_equal(used, 0);
	assert_false(rd.have_hdr);
}

static void
test_partial_last_line_waits(void **state)
{
	struct uidlist_reader rd;
	struct got g;
	size_t used;

	(void)state;
	assert_int_equal(read_all("3 V1 N1\n1 :a\n2 :b", &rd, &g, &used), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(used, strlen("3 V1 N1\n1 :a\n"));
}

static void
test_long_line_is_skipped(void **state)
{
	char *file = malloc(UIDLIST_LINE_MAX + 64);
	struct uidlist_reader rd;
	struct got g;
	size_t used;

	(void)state;
	assert_non_null(file);
	memcpy(file, "3 V1 N1\n1 :", 11);
	memset(file + 11, 'a', UIDLIST_LINE_MAX);
	memcpy(file + 11 + UIDLIST_LINE_MAX, "\n2 :b\n", 7);
	assert_int_equal(read_all(file, &rd, &g, &used), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.uid[0], 2);
	assert_int_equal(rd.bad, 1);
	free(file);
}

static void
test_writers_read_back(void **state)
{
	struct uidlist_reader rd;
	struct buf b;
	struct got g;
	size_t used;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(uidlist_write_header(&b, 77, 9,
	    "0123456789abcdef0123456789abcdef", "Xa Yb"), 0);
	assert_int_equal(uidlist_write_record(&b, 3, UINT64_MAX, "n1", 2), 0);
	assert_int_equal(uidlist_write_record(&b, 8, 42, "n2:2,S", 2), 0);
	assert_int_equal(read_all(buf_cstr(&b), &rd, &g, &used), 0);
	assert_int_equal(rd.hdr.uidvalidity, 77);
	assert_int_equal(rd.hdr.next_uid, 9);
	assert_string_equal(rd.hdr.ext, "Xa Yb");
	assert_int_equal(g.n, 2);
	assert_int_equal(g.vsize[1], 42);
	assert_string_equal(g.name[1], "n2");
	buf_deinit(&b);
}

struct kw {
	char		 name[STORE_KEYWORDS_MAX][128];
	unsigned	 n;
};

static void
on_kw(void *arg, unsigned index, const char *name, size_t len)
{
	struct kw *k = arg;

	assert_true(index < STORE_KEYWORDS_MAX && len < 128);
	memcpy(k->name[index], name, len);
	k->name[index][len] = '\0';
	k->n++;
}

static void
test_keywords_file(void **state)
{
	static const char file[] = "0 $Junk\n1 NonJunk\n1 Again\n26 Big\n"
	    "2 bad(\n3\n 4 x\n5 \\Seen\n7 last";
	struct kw k;

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_int_equal(keywords_read(file, strlen(file), on_kw, &k), 5);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.name[0], "$Junk");
	assert_string_equal(k.name[1], "NonJunk");
	assert_string_equal(k.name[7], "last");
	assert_false(keyword_valid("\\Seen", 5));
	assert_true(keyword_valid("$Forwarded", 10));
}

struct ix {
	struct index_rec r[8];
	size_t		 n;
};

static void
on_ix(void *arg, const struct index_rec *r)
{
	struct ix *x = arg;

	assert_true(x->n < 8);
	x->r[x->n++] = *r;
}

static void
test_index_file(void **state)
{
	struct index_hdr h = { 5, 99 }, h2;
	struct index_rec r = { 3, 7, STORE_F_SEEN, 5, 1234, -5 };
	struct buf b;
	struct ix x;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(index_write_header(&b, &h), 0);
	assert_int_equal(index_write_record(&b, &r), 0);
	r.uid = 4;
	r.vsize = UINT64_MAX;
	r.date = INT64_MIN;
	assert_int_equal(index_write_record(&b, &r), 0);
	memset(&x, 0, sizeof(x));
	assert_int_equal(index_read((const char *)b.data, b.len, &h2, on_ix,
	    &x), 0);
	assert_int_equal(h2.uidvalidity, 5);
	assert_int_equal(h2.modseq, 99);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.r[0].vsize, 1234);
	assert_int_equal(x.r[0].date, -5);
	assert_true(x.r[1].vsize == UINT64_MAX);
	assert_true(x.r[1].date == INT64_MIN);
	buf_deinit(&b);
	memset(&x, 0, sizeof(x));
	assert_int_equal(index_read("postie-index 1 V5 M1\n2 1 0 0 - -\n"
	    "2 1 0 0 - -\n", 33 + 12, &h2, on_ix, &x), -1);
	assert_int_equal(index_read("postie-index 1 V5 M1\n2 1 99 0 - -\n",
	    34, &h2, on_ix, &x), -1);
	assert_int_equal(index_read("postie-index 2 V5 M1\n", 21, &h2, on_ix,
	    &x), -1);
}

static void
test_file_names(void **state)
{
	char out[300];
	uint8_t fl;
	uint32_t kw;
	uint64_t v;

	(void)state;
	fname_flags("123.x:2,FSac", 12, &fl, &kw);
	assert_int_equal(fl, STORE_F_FLAGGED | STORE_F_SEEN);
	assert_int_equal(kw, 5);
	fname_flags("123.x", 5, &fl, &kw);
	assert_int_equal(fl, 0);
	/* P (passed) and unknown letters survive a change. */
	assert_int_equal(fname_with_flags("1.x:2,PSa", 9, STORE_F_DELETED |
	    STORE_F_DRAFT, 2, out, sizeof(out)), 10);
	assert_string_equal(out, "1.x:2,DPTb");
	assert_int_equal(fname_with_flags("1.x", 3, 0, 0, out, sizeof(out)),
	    6);
	assert_string_equal(out, "1.x:2,");
	assert_int_equal(fname_with_flags("1.x:1,odd", 9, STORE_F_SEEN, 0, out,
	    sizeof(out)), 7);
	assert_string_equal(out, "1.x:2,S");
	assert_int_equal(fname_with_flags("1.x", 3, 0, 0, out, 5), -1);
	assert_true(fname_field("1.M2P3.h,S=1355,W=1394:2,S", 26, 'W', &v));
	assert_int_equal(v, 1394);
	assert_true(fname_field("1.M2P3.h,S=1355,W=1394:2,S", 26, 'S', &v));
	assert_int_equal(v, 1355);
	assert_false(fname_field("1.h,S=:2,S", 10, 'S', &v));
	assert_false(fname_field("1.h,S=12x:2,S", 13, 'S', &v));
	assert_false(fname_field("1.h:2,S=12", 10, 'S', &v));
	assert_true(fname_acceptable("1.x:2,S", 7));
	assert_false(fname_acceptable(".hidden", 7));
	assert_false(fname_acceptable(":2,S", 4));
	assert_false(fname_acceptable("a\nb", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("version 3 whole and split", test_version_3_whole_and_split),
		T("version 1 is read", test_version_1_is_read),
		T("bad records are skipped one by one",
		    test_bad_records_are_skipped_one_by_one),
		T("unusable headers", test_unusable_headers),
		T("partial last line waits", test_partial_last_line_waits),
		T("long line is skipped", test_long_line_is_skipped),
		T("writers read back", test_writers_read_back),
		T("keywords file", test_keywords_file),
		T("index file", test_index_file),
		T("file names", test_file_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
