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

enum store_result
store_msg_map(struct store_view *v, uint32_t seq, struct store_msg_data *d,
    const char **error_r)
{
	struct box *b = v->box;
	enum store_result res;
	const uint8_t *p, *q;
	struct stat st;
	uint64_t lf = 0;
	size_t k, o, len;
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
	/* Most messages are read: a page fault per 4 KiB and munmap's TLB
	 * shootdowns cost more than the copy. Big ones are mapped. */
	len = (size_t)st.st_size;
	if (len <= MSG_READ_MAX) {
		d->read_ = xmalloc(len);
		if (read_all(fd, d->read_, len) != (ssize_t)len) {
			*error_r = "cannot read the message";
			store_msg_release(d);
			return STORE_TEMPFAIL;
		}
		p = d->read_;
	} else {
		d->map_ = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (d->map_ == MAP_FAILED) {
			d->map_ = NULL;
			*error_r = errno_text(errno);
			store_msg_release(d);
			return STORE_TEMPFAIL;
		}
		d->maplen_ = len;
		p = d->map_;
	}
	for (q = p; (q = memchr(q, '\n', len - (size_t)(q - p))) != NULL; q++)
		if (q == p || q[-1] != '\r')
			lf++;
	if (b->msgs[i].vsize != len + lf) {
		b->msgs[i].vsize = len + lf;
		b->msgs[i].st &= ~SM_INDEXED;
		b->index_dirty++;
	}
	if (lf == 0) {
		d->data = p;
		d->len = len;
		return STORE_OK;
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
	return STORE_OK;
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
