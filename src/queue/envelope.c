/* envelope: parse the envelope records at the start of a queue file (see
 * queue.h for the format) and mark recipients done in place. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "queue/envelope.h"

#define READ_CHUNK	65536

static int	read_header(int fd, struct buf *b, size_t *end_r,
		    const char **error_r);
static int	add_rcpt(struct envelope *env, struct pool *pool, size_t *cap,
		    const char *value, bool done, off_t offset);

/* Read until the empty line that ends the envelope. */
static int
read_header(int fd, struct buf *b, size_t *end_r, const char **error_r)
{
	uint8_t chunk[READ_CHUNK];
	const uint8_t *p;
	ssize_t n;
	off_t off = 0;

	for (;;) {
		/* The end is "\n\n": a record line, then the empty line. */
		if (b->len > 0 && (p = memmem(b->data, b->len, "\n\n", 2)) !=
		    NULL) {
			*end_r = (size_t)(p - b->data) + 2;
			return 0;
		}
		n = pread(fd, chunk, sizeof(chunk), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*error_r = strerror(errno);
			return -1;
		}
		if (n == 0) {
			*error_r = "no end of envelope";
			return -1;
		}
		if (buf_append(b, chunk, (size_t)n) == -1) {
			*error_r = "envelope too large";
			return -1;
		}
		off += n;
	}
}

static int
add_rcpt(struct envelope *env, struct pool *pool, size_t *cap,
    const char *value, bool done, off_t offset)
{
	struct envelope_rcpt *n;

	if (env->nrcpts == ENVELOPE_RCPTS_MAX)
		return -1;
	if (env->nrcpts == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		n = pool_alloc(pool, *cap * sizeof(*n));
		if (env->nrcpts > 0)
			memcpy(n, env->rcpts, env->nrcpts * sizeof(*n));
		env->rcpts = n;
	}
	n = &env->rcpts[env->nrcpts++];
	n->address = pool_strdup(pool, value);
	n->done = done;
	n->mark_offset = offset;
	return 0;
}

int
envelope_read(int fd, struct pool *pool, struct envelope *env,
    const char **error_r)
{
	struct buf b;
	size_t end, pos = 0, cap = 0, len;
	const char *line, *value;
	uint64_t t;
	off_t size;
	char *copy;
	int rc = -1;

	memset(env, 0, sizeof(*env));
	buf_init(&b, ENVELOPE_MAX);
	if (read_header(fd, &b, &end, error_r) == -1)
		goto out;
	if (end < 6 || memcmp(b.data, "V 1\n", 4) != 0) {
		*error_r = "not a version 1 queue file";
		goto out;
	}
	while (pos < end - 1) {
		line = (const char *)b.data + pos;
		len = (size_t)((const char *)memchr(line, '\n', end - pos) - line);
		/* UNSAFE: "\n\n" ends the header, so every record has a LF.
		 * Values never hold CR, LF or NUL (queue.h): the writer
		 * refuses them, so a file that has one was not written by
		 * us (maildrop/ is world-writable). */
		if (len < 1 || (len > 1 && line[1] != ' ') ||
		    memchr(line, '\0', len) != NULL ||
		    memchr(line, '\r', len) != NULL) {
			*error_r = "malformed envelope record";
			goto out;
		}
		copy = pool_strndup(pool, line, len);
		value = len > 2 ? copy + 2 : "";
		switch (line[0]) {
		case 'V':
			break;
		case 'I':
			env->id = value;
			break;
		case 'T':
			if (str_to_u64(value, UINT32_MAX * 16ULL, &t) == -1) {
				*error_r = "bad arrival time";
				goto out;
			}
			env->arrival = (time_t)t;
			break;
		case 'S':
			env->sender = value;
			break;
		case 'R':
		case 'X':
			if (add_rcpt(env, pool, &cap, value, line[0] == 'X',
			    (off_t)pos) == -1) {
				*error_r = "too many recipients";
				goto out;
			}
			break;
		case 'N':
		case 'O':
			if (env->nrcpts == 0) {
				*error_r = "N or O record before any recipient";
				goto out;
			}
			if (line[0] == 'N')
				env->rcpts[env->nrcpts - 1].notify = value;
			else
				env->rcpts[env->nrcpts - 1].orcpt = value;
			break;
		case 'E': env->envid = value; break;
		case 'D': env->ret = value; break;
		case 'B': env->body = value; break;
		case 'U': env->smtputf8 = true; break;
		case 'C': env->client = value; break;
		case 'H': env->helo = value; break;
		case 'A': env->auth_user = value; break;
		case 'P': env->protocol = value; break;
		case 'K': env->kind = value; break;
		default:
			*error_r = "unknown envelope record";
			goto out;
		}
		pos += len + 1;
	}
	if (env->id == NULL || env->sender == NULL || env->nrcpts == 0) {
		*error_r = "envelope without id, sender or recipient";
		goto out;
	}
	if ((size = lseek(fd, 0, SEEK_END)) == -1 || size < (off_t)end) {
		*error_r = size == -1 ? strerror(errno) : "file shrank";
		goto out;
	}
	env->content_offset = (off_t)end;
	env->content_size = (uint64_t)(size - (off_t)end);
	rc = 0;
out:
	buf_deinit(&b);
	return rc;
}

int
envelope_mark_done(int fd, struct envelope_rcpt *r, const char **error_r)
{
	if (r->done)
		return 0;
	if (pwrite(fd, "X", 1, r->mark_offset) != 1 || fdatasync(fd) == -1) {
		*error_r = errno == ENOSPC ? "disk full" : strerror(errno);
		return -1;
	}
	r->done = true;
	return 0;
}

size_t
envelope_pending(const struct envelope *env)
{
	size_t i, n = 0;

	for (i = 0; i < env->nrcpts; i++)
		if (!env->rcpts[i].done)
			n++;
	return n;
}
