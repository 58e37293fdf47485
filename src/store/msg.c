/* msg: reading messages: RFC822.SIZE, the internal date and the content
 * with CRLF line ends, for FETCH, SEARCH and POP3 RETR.
 *
 * A file whose name is stale (another process changed its flags) is found
 * again by a forced sync, which matches it by base name; one that is gone
 * gives STORE_EXPUNGED. RFC822.SIZE is the size IMAP sends: a bare LF
 * counts as CRLF. It comes from W= in the file name, the index, or one
 * read of the file, and is cached in the box (and so in postie-index).
 * Limits: store_msg_map() maps files up to STORE_MESSAGE_MAX octets. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "store/store-private.h"

#define COUNT_BUF	(64 * 1024)
#define MSG_READ_MAX	(1024 * 1024)	/* read; above: mmap */
#define HEADER_READ_FIRST (16 * 1024)	/* of a header-only read */

static int	 count_bare_lf(int fd, uint64_t *n_r);
static uint32_t	 seq_index(struct store_view *v, uint32_t seq,
		    const char **error_r, enum store_result *res_r);

/* Open the file of msgs[*ip]; *ip follows the message through a resync. */
enum store_result
msg_open(struct box *b, uint32_t *ip, int *fd_r, const char **error_r)
{
	char path[STORE_PATH_MAX];
	enum store_result res;
	uint32_t uid = b->msgs[*ip].uid;
	int tries, fd;

	for (tries = 0; tries < 2; tries++) {
		if (box_path(b, &b->msgs[*ip], path, sizeof(path)) == -1) {
			*error_r = "path too long";
			return STORE_TEMPFAIL;
		}
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
			*fd_r = fd;
			return STORE_OK;
		}
		if (errno != ENOENT) {
			*error_r = errno_text(errno);
			return STORE_TEMPFAIL;
		}
		if (b->in_sync)
			break;
		if ((res = box_sync(b, BOX_SYNC_FORCE, error_r)) != STORE_OK)
			return res;
		if ((*ip = box_find_uid(b, uid)) == UINT32_MAX)
			break;
	}
	*error_r = "message was expunged";
	return STORE_EXPUNGED;
}

/* LFs not preceded by CR, counted through a buffer (no mapping). */
static int
count_bare_lf(int fd, uint64_t *n_r)
{
	char *buf = xmalloc(COUNT_BUF);
	uint64_t n = 0;
	off_t off = 0;
	char prev = '\0';
	ssize_t got;
	ssize_t i;

	for (;;) {
		got = pread(fd, buf, COUNT_BUF, off);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		for (i = 0; i < got; i++) {
			if (buf[i] == '\n' && prev != '\r')
				n++;
			prev = buf[i];
		}
		off += got;
	}
	free(buf);
	if (got == -1)
		return -1;
	*n_r = n;
	return 0;
}

enum store_result
msg_vsize(struct box *b, uint32_t i, uint64_t *size_r, const char **error_r)
{
	enum store_result res;
	struct stat st;
	uint64_t lf;
	int fd;

	if (b->msgs[i].vsize != STORE_SIZE_UNKNOWN) {
		*size_r = b->msgs[i].vsize;
		return STORE_OK;
	}
	if ((res = msg_open(b, &i, &fd, error_r)) != STORE_OK)
		return res;
	if (fstat(fd, &st) == -1 || count_bare_lf(fd, &lf) == -1) {
		*error_r = errno_text(errno);
		(void)close(fd);
		return STORE_TEMPFAIL;
	}
	(void)close(fd);
	b->msgs[i].vsize = (uint64_t)st.st_size + lf;
	b->msgs[i].st &= ~SM_INDEXED;
	b->index_dirty++;
	*size_r = b->msgs[i].vsize;
	return STORE_OK;
}

static uint32_t
seq_index(struct store_view *v, uint32_t seq, const char **error_r,
    enum store_result *res_r)
{
	bool expunged;
	uint32_t uid, i;

	i = view_seq_to_index(v, seq, &expunged, &uid);
	if (i == UINT32_MAX) {
		*error_r = expunged ? "message was expunged" :
		    "no such message";
		*res_r = expunged ? STORE_EXPUNGED : STORE_NONEXISTENT;
	}
	return i;
}

enum store_result
store_msg_size(struct store_view *v, uint32_t seq, uint64_t *size_r,
    const char **error_r)
{
	enum store_result res;
	uint32_t i;

	if ((i = seq_index(v, seq, error_r, &res)) == UINT32_MAX)
		return res;
	return msg_vsize(v->box, i, size_r, error_r);
}

enum store_result
store_msg_date(struct store_view *v, uint32_t seq, time_t *date_r,
    const char **error_r)
{
	struct box *b = v->box;
	enum store_result res;
	struct stat st;
	uint32_t i;
	int fd;

	if ((i = seq_index(v, seq, error_r, &res)) == UINT32_MAX)
		return res;
	if (b->msgs[i].date == STORE_DATE_UNKNOWN) {
		if ((res = msg_open(b, &i, &fd, error_r)) != STORE_OK)
			return res;
		if (fstat(fd, &st) == -1) {
			*error_r = errno_text(errno);
			(void)close(fd);
			return STORE_TEMPFAIL;
		}
		(void)close(fd);
		b->msgs[i].date = st.st_mtim.tv_sec;
		b->msgs[i].st &= ~SM_INDEXED;
		b->index_dirty++;
	}
	*date_r = (time_t)b->msgs[i].date;
	return STORE_OK;
}

/* Where the header section of p[0..len) ends (after its empty line), or
 * 0 when no empty line has been read yet. */
static size_t
header_end(const uint8_t *p, size_t len)
{
	const uint8_t *q;

	if (len > 0 && p[0] == '\n')
		return 1;
	if (len > 1 && p[0] == '\r' && p[1] == '\n')
		return 2;
	for (q = p; (q = memchr(q, '\n', len - (size_t)(q - p))) != NULL; q++) {
		if ((size_t)(q - p) + 1 < len && q[1] == '\n')
			return (size_t)(q - p) + 2;
		if ((size_t)(q - p) + 2 < len && q[1] == '\r' && q[2] == '\n')
			return (size_t)(q - p) + 3;
	}
	return 0;
}

/* d->read_ holds the first octets of the file, up to and including the
 * header's empty line (or the whole file); *len_r is how many. Reads
 * HEADER_READ_FIRST octets, then twice as many, and so on. 0, or -1 when
 * the header is longer than MSG_READ_MAX (the caller maps the whole). */
static int
read_header(int fd, size_t size, struct store_msg_data *d, size_t *len_r)
{
	size_t want = HEADER_READ_FIRST, have = 0, end;
	ssize_t got;

	for (;;) {
		if (want > size)
			want = size;
		d->read_ = xreallocarray(d->read_, want, 1);
		got = pread(fd, d->read_ + have, want - have, (off_t)have);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		have += (size_t)got;
		if (have < want)
			continue;
		end = header_end(d->read_, have);
		if (end != 0 || have == size) {
			*len_r = end != 0 ? end : have;
			return 0;
		}
		if (want >= MSG_READ_MAX)
			return -1;
		want *= 2;
	}
}

/* p[0..len) with CRLF line ends into d; *lf_r counts the bare LFs. */
static void
set_crlf(struct store_msg_data *d, const uint8_t *p, size_t len,
    uint64_t *lf_r)
{
	const uint8_t *q;
	uint64_t lf = 0;
	size_t k, o;

	for (q = p; (q = memchr(q, '\n', len - (size_t)(q - p))) != NULL; q++)
		if (q == p || q[-1] != '\r')
			lf++;
	*lf_r = lf;
	if (lf == 0) {
		d->data = p;
		d->len = len;
		return;
	}
	/* Bare LFs: a copy with CRLF, the octets IMAP sends. */
	d->conv_ = xmalloc(len + lf);
	for (k = 0, o = 0; k < len; k++) {
		if (p[k] == '\n' && (k == 0 || p[k - 1] != '\r'))
			d->conv_[o++] = '\r';
		d->conv_[o++] = p[k];
	}
	d->data = d->conv_;
	d->len = o;
}

/* The whole file into d: read when small, mapped when big. */
static int
load_whole(int fd, size_t len, struct store_msg_data *d,
    const uint8_t **p_r, const char **error_r)
{
	/* Most messages are read: a page fault per 4 KiB and munmap's TLB
	 * shootdowns cost more than the copy. Big ones are mapped. */
	if (len <= MSG_READ_MAX) {
		d->read_ = xreallocarray(d->read_, len, 1);
		if (read_all(fd, d->read_, len) != (ssize_t)len) {
			*error_r = "cannot read the message";
			return -1;
		}
		*p_r = d->read_;
		return 0;
	}
	d->map_ = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (d->map_ == MAP_FAILED) {
		d->map_ = NULL;
		*error_r = errno_text(errno);
		return -1;
	}
	d->maplen_ = len;
	*p_r = d->map_;
	return 0;
}

static enum store_result
msg_map(struct store_view *v, uint32_t seq, bool header_only,
    struct store_msg_data *d, const char **error_r)
{
	struct box *b = v->box;
	enum store_result res;
	const uint8_t *p;
	struct stat st;
	uint64_t lf;
	size_t len;
	uint32_t i;
	int fd;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if ((i = seq_index(v, seq, error_r, &res)) == UINT32_MAX)
		return res;
	if ((res = msg_open(b, &i, &fd, error_r)) != STORE_OK)
		return res;
	if (fstat(fd, &st) == -1) {
		*error_r = errno_text(errno);
		(void)close(fd);
		return STORE_TEMPFAIL;
	}
	if ((uint64_t)st.st_size > STORE_MESSAGE_MAX) {
		*error_r = "message too large";
		(void)close(fd);
		return STORE_LIMIT;
	}
	d->fd = fd;
	d->raw_size = (uint64_t)st.st_size;
	if (st.st_size == 0) {
		d->data = (const uint8_t *)"";
		b->msgs[i].vsize = 0;
		return STORE_OK;
	}
	len = (size_t)st.st_size;
	if (header_only && read_header(fd, len, d, &len) == 0) {
		set_crlf(d, d->read_, len, &lf);
		d->header_only = len < (size_t)st.st_size;
		if (d->header_only)
			return STORE_OK;
	} else {
		free(d->read_);
		d->read_ = NULL;
		if (load_whole(fd, len, d, &p, error_r) == -1) {
			store_msg_release(d);
			return STORE_TEMPFAIL;
		}
		set_crlf(d, p, len, &lf);
	}
	if (b->msgs[i].vsize != len + lf) {
		b->msgs[i].vsize = len + lf;
		b->msgs[i].st &= ~SM_INDEXED;
		b->index_dirty++;
	}
	return STORE_OK;
}

enum store_result
store_msg_map(struct store_view *v, uint32_t seq, struct store_msg_data *d,
    const char **error_r)
{
	return msg_map(v, seq, false, d, error_r);
}

enum store_result
store_msg_map_header(struct store_view *v, uint32_t seq,
    struct store_msg_data *d, const char **error_r)
{
	return msg_map(v, seq, true, d, error_r);
}

void
store_msg_release(struct store_msg_data *d)
{
	if (d->map_ != NULL)
		(void)munmap(d->map_, d->maplen_);
	free(d->conv_);
	free(d->read_);
	if (d->fd != -1)
		(void)close(d->fd);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}
