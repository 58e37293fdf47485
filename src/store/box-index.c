/* box-index: postie-index, our cache beside dovecot-uidlist: per UID the
 * modseq, the flags they belong to, RFC822.SIZE and the internal date.
 * Read once when a box is loaded (box.c), written through a temporary
 * file and rename under the mailbox lock when the last view closes or
 * many values changed. Losing or damaging it costs a re-read of sizes and
 * dates and a new modseq for every message, nothing else: a record is
 * used only for the same UIDVALIDITY and only if its flags still match
 * the file name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/uidlist.h"

#define INDEX_FILE	"postie-index"
#define INDEX_TMP	"postie-index.tmp"
#define INDEX_FILE_MAX	((size_t)256 << 20)

struct load_ctx {
	struct box	*b;
	struct index_rec *recs;
	size_t		 n;
	size_t		 cap;
};

static void	 on_rec(void *arg, const struct index_rec *r);

static void
on_rec(void *arg, const struct index_rec *r)
{
	struct load_ctx *ctx = arg;

	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap == 0 ? 256 : ctx->cap * 2;
		ctx->recs = xreallocarray(ctx->recs, ctx->cap,
		    sizeof(*ctx->recs));
	}
	ctx->recs[ctx->n++] = *r;
}

/* Before the first sync: the records, kept until box_index_apply(). */
void
box_index_load(struct box *b)
{
	char path[STORE_PATH_MAX];
	struct load_ctx ctx = { b, NULL, 0, 0 };
	struct index_hdr hdr;
	size_t len;
	char *data;

	if (box_subpath(b, INDEX_FILE, path, sizeof(path)) == -1 ||
	    read_file(path, INDEX_FILE_MAX, &data, &len) == -1)
		return;
	if (index_read(data, len, &hdr, on_rec, &ctx) == -1) {
		free(data);
		free(ctx.recs);
		b->index_dirty++;	/* write a good one */
		return;
	}
	free(data);
	b->index_uv = hdr.uidvalidity;
	if (hdr.modseq > b->highest_modseq)
		b->highest_modseq = hdr.modseq;
	b->idx_recs = ctx.recs;
	b->nidx = ctx.n;
}

/* After the first sync: take what still matches. */
void
box_index_apply(struct box *b)
{
	const struct index_rec *r;
	struct smsg *m;
	uint32_t k;
	size_t i;

	if (b->idx_recs != NULL && b->index_uv == b->uidvalidity) {
		for (i = 0; i < b->nidx; i++) {
			r = &b->idx_recs[i];
			if ((k = box_find_uid(b, r->uid)) == UINT32_MAX)
				continue;
			m = &b->msgs[k];
			if (m->vsize == STORE_SIZE_UNKNOWN)
				m->vsize = r->vsize;
			if (m->date == STORE_DATE_UNKNOWN)
				m->date = r->date;
			if (m->flags == r->flags && m->keywords == r->keywords) {
				m->modseq = r->modseq;
				m->st |= SM_INDEXED;
			}
		}
	}
	/* Messages the index does not describe keep the modseq the first
	 * sync gave them: newer than anything the index knew. */
	for (k = 0; k < b->nmsgs; k++) {
		m = &b->msgs[k];
		if (!(m->st & SM_INDEXED)) {
			if (m->modseq == 0)
				m->modseq = b->highest_modseq;
			b->index_dirty++;
		}
		if (m->modseq > b->highest_modseq)
			b->highest_modseq = m->modseq;
	}
	free(b->idx_recs);
	b->idx_recs = NULL;
	b->nidx = 0;
}

void
box_index_save(struct box *b)
{
	char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	const char *error;
	struct index_hdr hdr;
	struct index_rec r;
	struct boxlock l;
	struct buf out;
	struct smsg *m;
	uint32_t k;
	int ret = 0;

	if (b->uidvalidity == 0 ||
	    box_subpath(b, INDEX_FILE, path, sizeof(path)) == -1 ||
	    box_subpath(b, INDEX_TMP, tmp, sizeof(tmp)) == -1)
		return;
	buf_init(&out, INDEX_FILE_MAX);
	hdr.uidvalidity = b->uidvalidity;
	hdr.modseq = b->highest_modseq;
	ret = index_write_header(&out, &hdr);
	for (k = 0; ret == 0 && k < b->nmsgs; k++) {
		m = &b->msgs[k];
		r.uid = m->uid;
		r.modseq = m->modseq;
		r.flags = m->flags;
		r.keywords = m->keywords;
		r.vsize = m->vsize;
		r.date = m->date;
		ret = index_write_record(&out, &r);
	}
	if (ret == 0 && lock_take(b->path, NULL, &l, &error) == STORE_OK) {
		/* A cache: no fsync, a crash costs a rebuild. */
		if (write_file_atomic(path, tmp, out.data, out.len,
		    false) == 0) {
			for (k = 0; k < b->nmsgs; k++)
				b->msgs[k].st |= SM_INDEXED;
			b->index_dirty = 0;
		}
		lock_release(&l);
	}
	buf_deinit(&out);
}
