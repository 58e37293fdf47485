/* box-uidlist: dovecot-uidlist for a loaded box. Reading follows the file
 * incrementally (only the lines appended since the last read when the
 * inode is the same, else all of it); writing appends whole lines with one
 * write(2), or replaces the file through dovecot-uidlist.tmp and rename.
 * Both writes happen under the mailbox lock with Dovecot's dotlock
 * (box-sync.c takes them).
 *
 * Records whose file the box does not know yet are kept as pending (the
 * sync resolves them against the directories); a record that names a
 * known file with another UID means someone damaged the file: the box
 * keeps its own UIDs and rewrites it. Limits: the file is read up to
 * UIDLIST_FILE_MAX octets; the parser bounds everything else. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/uidlist.h"

#define UIDLIST_FILE	"dovecot-uidlist"
#define UIDLIST_TMP	"dovecot-uidlist.tmp"
#define UIDLIST_FILE_MAX ((size_t)1 << 30)

struct read_ctx {
	struct box	*b;
	uint32_t	 matched;	/* records naming a known message */
};

static void	 on_record(void *arg, const struct uidlist_rec *r);
static int	 read_range(const char *path, off_t from, char **data_r,
		    size_t *len_r, struct stamp *st_r);
static void	 make_guid(char *out);

static void
on_record(void *arg, const struct uidlist_rec *r)
{
	struct read_ctx *ctx = arg;
	struct box *b = ctx->b;
	uint32_t i;

	if (r->uid >= b->next_uid)
		b->next_uid = r->uid + 1;
	if (r->uid > b->ul_last_uid)
		b->ul_last_uid = r->uid;
	b->ul_lines++;
	i = box_lookup_base(b, r->name, r->namelen);
	if (i == UINT32_MAX) {
		box_add_pend(b, r->uid, r->name, r->namelen, r->vsize);
		return;
	}
	if (b->msgs[i].uid != r->uid) {
		/* Another writer gave a known file a second UID: ours is
		 * what the sessions were told; make the file say so. */
		b->ul_rewrite = true;
		return;
	}
	ctx->matched++;
	if (b->msgs[i].vsize == STORE_SIZE_UNKNOWN &&
	    r->vsize != UINT64_MAX)
		b->msgs[i].vsize = r->vsize;
}

/* The file from offset from to its end; the stamp of the open file. */
static int
read_range(const char *path, off_t from, char **data_r, size_t *len_r,
    struct stamp *st_r)
{
	struct stat sb;
	size_t len, got = 0;
	char *data;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (sb.st_size < from || (uint64_t)sb.st_size > UIDLIST_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	len = (size_t)(sb.st_size - from);
	data = xmalloc(len + 1);
	while (got < len) {
		n = pread(fd, data + got, len - got, from + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(data);
			errno = saved;
			goto fail;
		}
		if (n == 0)
			break;		/* truncated meanwhile */
		got += (size_t)n;
	}
	(void)close(fd);
	st_r->dev = sb.st_dev;
	st_r->ino = sb.st_ino;
	st_r->size = sb.st_size;
	st_r->mtime = sb.st_mtim;
	st_r->ctime = sb.st_ctim;
	st_r->valid = true;
	*data_r = data;
	*len_r = got;
	return 0;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

bool
box_uidlist_exists(const struct box *b)
{
	return b->ul_st.valid;
}

int
box_uidlist_refresh(struct box *b, bool *reset_r, const char **error_r)
{
	char path[STORE_PATH_MAX];
	struct read_ctx ctx = { b, 0 };
	struct stamp now;
	size_t len, used;
	char *data;
	bool full;
	off_t from;

	*reset_r = false;
	if (box_subpath(b, UIDLIST_FILE, path, sizeof(path)) == -1) {
		*error_r = "path too long";
		return -1;
	}
	if (stamp_get(path, &now) == -1) {
		if (errno != ENOENT) {
			*error_r = errno_text(errno);
			return -1;
		}
		/* Gone: written again from memory (UIDs kept) by the
		 * sync, or created with a new UIDVALIDITY. */
		if (b->ul_st.valid || b->uidvalidity != 0)
			b->ul_rewrite = true;
		b->ul_st.valid = false;
		b->ul_off = 0;
		return 0;
	}
	if (stamp_same(&now, &b->ul_st))
		return 0;
	full = !b->ul_st.valid || now.dev != b->ul_st.dev ||
	    now.ino != b->ul_st.ino || now.size < b->ul_off;
	from = full ? 0 : b->ul_off;
	if (read_range(path, from, &data, &len, &now) == -1) {
		if (errno == ENOENT) {
			b->ul_st.valid = false;
			return 0;
		}
		*error_r = errno == EFBIG ? "dovecot-uidlist too large" :
		    errno_text(errno);
		return -1;
	}
	if (full) {
		uidlist_reader_init(&b->ul_rd);
		b->ul_lines = 0;
		b->ul_last_uid = 0;
	}
	if (uidlist_read(&b->ul_rd, data, len, on_record, &ctx,
	    &used) == -1) {
		free(data);
		if (b->uidvalidity == 0) {
			/* Unreadable header and nothing known: a new
			 * UIDVALIDITY (the sync's creation path). */
			b->ul_st = now;
			b->ul_st.valid = false;
			b->ul_rewrite = true;
			return 0;
		}
		/* We know the UIDs: keep them, write a good file. */
		b->ul_rewrite = true;
		b->ul_st = now;
		return 0;
	}
	free(data);
	if (b->ul_rd.have_hdr) {
		if (b->uidvalidity != 0 &&
		    b->ul_rd.hdr.uidvalidity != b->uidvalidity) {
			*reset_r = true;
			*error_r = "UIDVALIDITY changed";
			return 0;
		}
		if (full) {
			b->uidvalidity = b->ul_rd.hdr.uidvalidity;
			memcpy(b->guid, b->ul_rd.hdr.guid, sizeof(b->guid));
			free(b->hdr_ext);
			b->hdr_ext = b->ul_rd.hdr.ext[0] != '\0' ?
			    xstrdup(b->ul_rd.hdr.ext) : NULL;
			if (b->ul_rd.hdr.version != 3 || b->guid[0] == '\0')
				b->ul_rewrite = true;
			if (b->ul_rd.bad > 0)
				b->ul_rewrite = true;
			/* A known message the file does not name. */
			if (ctx.matched < b->nmsgs)
				b->ul_rewrite = true;
		}
		if (b->ul_rd.hdr.next_uid > b->next_uid)
			b->next_uid = b->ul_rd.hdr.next_uid;
	}
	b->ul_off = from + (off_t)used;
	b->ul_st = now;
	return 0;
}

/* One write(2) of whole lines at the end. Returns the fd for the caller to
 * fdatasync after the lock is released (-1 with error_r on failure). */
int
box_uidlist_append(struct box *b, const uint32_t *idx, size_t n,
    int *fd_r, const char **error_r)
{
	char path[STORE_PATH_MAX];
	const struct smsg *m;
	const char *name;
	struct stat sb;
	struct buf out;
	size_t k;
	int fd;

	*fd_r = -1;
	if (box_subpath(b, UIDLIST_FILE, path, sizeof(path)) == -1) {
		*error_r = "path too long";
		return -1;
	}
	buf_init(&out, UIDLIST_FILE_MAX);
	for (k = 0; k < n; k++) {
		m = &b->msgs[idx[k]];
		name = box_name_of(b, m);
		if (uidlist_write_record(&out, m->uid, m->vsize, name,
		    box_base_len(name, m->namelen)) == -1) {
			buf_deinit(&out);
			*error_r = "dovecot-uidlist too large";
			return -1;
		}
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &sb) == -1 || sb.st_size != b->ul_off ||
	    write_all(fd, out.data, out.len) == -1 || fstat(fd, &sb) == -1) {
		/* A partial line at the end, or a failed write: the caller
		 * rewrites the whole file instead. */
		*error_r = errno_text(errno);
		if (fd != -1)
			(void)close(fd);
		buf_deinit(&out);
		return -1;
	}
	buf_deinit(&out);
	b->ul_off = sb.st_size;
	b->ul_st.size = sb.st_size;
	b->ul_st.mtime = sb.st_mtim;
	b->ul_st.ctime = sb.st_ctim;
	b->ul_lines += (uint32_t)n;
	if (n > 0) {
		b->ul_last_uid = b->msgs[idx[n - 1]].uid;
		b->ul_rd.last_uid = b->ul_last_uid;
	}
	*fd_r = fd;
	return 0;
}

static void
make_guid(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* Not secret, only unique: time and pid will do. */
		memset(r, 0, sizeof(r));
		snprintf((char *)r, sizeof(r), "%lx%x", (long)time(NULL),
		    (unsigned)getpid());
	}
	for (i = 0; i < 16; i++) {
		out[i * 2] = hex[r[i] >> 4];
		out[i * 2 + 1] = hex[r[i] & 15];
	}
	out[32] = '\0';
}

/* The whole file anew from the loaded messages and the pending records,
 * in UID order, through a temporary file and rename. */
int
box_uidlist_write(struct box *b, const char **error_r)
{
	char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	const struct smsg *m;
	const struct spend *p;
	const char *name;
	struct buf out;
	uint32_t i = 0, j = 0, last = 0, lines = 0;
	bool msg;
	int r = 0;

	if (box_subpath(b, UIDLIST_FILE, path, sizeof(path)) == -1 ||
	    box_subpath(b, UIDLIST_TMP, tmp, sizeof(tmp)) == -1) {
		*error_r = "path too long";
		return -1;
	}
	if (b->guid[0] == '\0')
		make_guid(b->guid);
	buf_init(&out, UIDLIST_FILE_MAX);
	r = uidlist_write_header(&out, b->uidvalidity, b->next_uid, b->guid,
	    b->hdr_ext);
	while (r == 0 && (i < b->nmsgs || j < b->npend)) {
		while (j < b->npend && b->pend[j].uid == 0)
			j++;
		if (i >= b->nmsgs && j >= b->npend)
			break;
		msg = j >= b->npend ||
		    (i < b->nmsgs && b->msgs[i].uid < b->pend[j].uid);
		if (msg) {
			m = &b->msgs[i++];
			if (m->uid <= last)
				continue;
			name = box_name_of(b, m);
			r = uidlist_write_record(&out, m->uid, m->vsize, name,
			    box_base_len(name, m->namelen));
			last = m->uid;
		} else {
			p = &b->pend[j++];
			if (p->uid <= last)
				continue;
			r = uidlist_write_record(&out, p->uid, p->vsize,
			    b->names + p->name, p->namelen);
			last = p->uid;
		}
		lines++;
	}
	if (r == -1) {
		buf_deinit(&out);
		*error_r = "dovecot-uidlist too large";
		return -1;
	}
	if (write_file_atomic(path, tmp, out.data, out.len, true) == -1) {
		*error_r = errno_text(errno);
		buf_deinit(&out);
		return -1;
	}
	buf_deinit(&out);
	(void)stamp_get(path, &b->ul_st);
	b->ul_off = b->ul_st.size;
	b->ul_lines = lines;
	b->ul_last_uid = last;
	b->ul_rewrite = false;
	uidlist_reader_init(&b->ul_rd);
	b->ul_rd.have_hdr = true;
	b->ul_rd.hdr.version = 3;
	b->ul_rd.hdr.uidvalidity = b->uidvalidity;
	b->ul_rd.hdr.next_uid = b->next_uid;
	b->ul_rd.last_uid = last;
	return 0;
}
