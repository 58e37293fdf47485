/* fuzz-envelope: the queue file envelope reader on arbitrary bytes, as a
 * local user can leave them in maildrop/. The input is written to a memfd
 * and read with envelope_read(). When it is accepted, the result must
 * describe the input: the envelope ends at the first "\n\n", the content
 * is the rest of the file, no value holds CR, LF or NUL (queue.h), and
 * every recipient's mark offset points at its 'R' or 'X' at a line start.
 * Then the first pending recipient is marked done: exactly that byte must
 * change, a second mark must change nothing, and reading again must give
 * the same envelope with that recipient done. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "queue/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	 check_value(const char *v);
static void	 check_env(const struct envelope *env, const uint8_t *data,
		    size_t size);
static void	 check_file(int fd, const uint8_t *data, size_t size,
		    off_t changed);
static void	 check_mark(int fd, struct envelope *env, const uint8_t *data,
		    size_t size);

static void
check_value(const char *v)
{
	if (v != NULL)
		ASSERT(strpbrk(v, "\r\n") == NULL);
}

static void
check_env(const struct envelope *env, const uint8_t *data, size_t size)
{
	const uint8_t *end;
	const struct envelope_rcpt *r;
	size_t i;

	ASSERT(env->id != NULL && env->sender != NULL);
	ASSERT(env->nrcpts >= 1 && env->nrcpts <= ENVELOPE_RCPTS_MAX);
	ASSERT(size >= 6 && memcmp(data, "V 1\n", 4) == 0);
	end = memmem(data, size, "\n\n", 2);
	ASSERT(end != NULL);
	ASSERT(env->content_offset == (off_t)(end - data) + 2);
	ASSERT((uint64_t)env->content_offset + env->content_size == size);
	check_value(env->id);
	check_value(env->sender);
	check_value(env->envid);
	check_value(env->ret);
	check_value(env->body);
	check_value(env->client);
	check_value(env->helo);
	check_value(env->auth_user);
	check_value(env->protocol);
	check_value(env->kind);
	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		ASSERT(r->address != NULL);
		check_value(r->address);
		check_value(r->notify);
		check_value(r->orcpt);
		ASSERT(r->mark_offset > 0 &&
		    r->mark_offset < env->content_offset);
		ASSERT(data[r->mark_offset - 1] == '\n');
		ASSERT(data[r->mark_offset] == (r->done ? 'X' : 'R'));
		ASSERT(i == 0 ||
		    r->mark_offset > env->rcpts[i - 1].mark_offset);
	}
}

/* The file is the input, but for an 'X' at changed (-1: none). */
static void
check_file(int fd, const uint8_t *data, size_t size, off_t changed)
{
	uint8_t *now = malloc(size + 1);

	ASSERT(now != NULL);
	ASSERT(pread(fd, now, size + 1, 0) == (ssize_t)size);
	if (changed >= 0) {
		ASSERT(now[changed] == 'X' && data[changed] == 'R');
		now[changed] = 'R';
	}
	ASSERT(memcmp(now, data, size) == 0);
	free(now);
}

static void
check_mark(int fd, struct envelope *env, const uint8_t *data, size_t size)
{
	struct pool *pool;
	struct envelope again;
	const char *error;
	size_t i, k;

	for (k = 0; k < env->nrcpts && env->rcpts[k].done; k++)
		;
	if (k == env->nrcpts) {
		ASSERT(envelope_pending(env) == 0);
		return;
	}
	ASSERT(envelope_pending(env) >= 1);
	ASSERT(envelope_mark_done(fd, &env->rcpts[k], &error) == 0);
	ASSERT(env->rcpts[k].done);
	check_file(fd, data, size, env->rcpts[k].mark_offset);
	ASSERT(envelope_mark_done(fd, &env->rcpts[k], &error) == 0);
	check_file(fd, data, size, env->rcpts[k].mark_offset);

	pool = pool_new(NULL);
	ASSERT(envelope_read(fd, pool, &again, &error) == 0);
	ASSERT(again.nrcpts == env->nrcpts);
	ASSERT(again.content_offset == env->content_offset);
	ASSERT(strcmp(again.sender, env->sender) == 0);
	for (i = 0; i < again.nrcpts; i++) {
		ASSERT(again.rcpts[i].done == env->rcpts[i].done);
		ASSERT(again.rcpts[i].mark_offset == env->rcpts[i].mark_offset);
		ASSERT(strcmp(again.rcpts[i].address,
		    env->rcpts[i].address) == 0);
	}
	pool_free(&pool);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct pool *pool;
	struct envelope env;
	const char *error = NULL;

	/* One memfd for the whole run, emptied for each input. */
	if (fd == -1 && (fd = memfd_create("fuzz-envelope", MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
	if (ftruncate(fd, 0) == -1 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		fatal("memfd write");

	pool = pool_new(NULL);
	if (envelope_read(fd, pool, &env, &error) == 0) {
		check_env(&env, data, size);
		check_mark(fd, &env, data, size);
	} else
		ASSERT(error != NULL);
	pool_free(&pool);
	return 0;
}
