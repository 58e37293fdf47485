/* pool: a chain of blocks, bump-allocated; large requests get a block of
 * their own. Child pools are linked into their parent so that freeing the
 * parent frees them too (and a child freed first unlinks itself). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

#define POOL_BLOCK_SIZE	4000
#define POOL_ALIGN	16

struct pool_block {
	struct pool_block	*next;
	size_t			 used;
	size_t			 size;
	_Alignas(POOL_ALIGN) unsigned char data[];
};

struct pool {
	struct pool		*parent;
	struct pool		*children;	/* first child */
	struct pool		*next_sibling;
	struct pool		*prev_sibling;
	struct pool_block	*blocks;
};

static struct pool_block *block_new(size_t size);

static struct pool_block *
block_new(size_t size)
{
	struct pool_block *b;

	b = xmalloc(sizeof(*b) + size);
	b->size = size;
	return b;
}

struct pool *
pool_new(struct pool *parent)
{
	struct pool *p = xmalloc(sizeof(*p));

	p->parent = parent;
	if (parent != NULL) {
		p->next_sibling = parent->children;
		if (parent->children != NULL)
			parent->children->prev_sibling = p;
		parent->children = p;
	}
	return p;
}

void
pool_free(struct pool **poolp)
{
	struct pool *p = *poolp;
	struct pool_block *b, *next;

	if (p == NULL)
		return;
	while (p->children != NULL) {
		struct pool *child = p->children;
		pool_free(&child);
	}
	if (p->parent != NULL) {
		if (p->prev_sibling != NULL)
			p->prev_sibling->next_sibling = p->next_sibling;
		else
			p->parent->children = p->next_sibling;
		if (p->next_sibling != NULL)
			p->next_sibling->prev_sibling = p->prev_sibling;
	}
	for (b = p->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(p);
	*poolp = NULL;
}

void *
pool_alloc(struct pool *p, size_t size)
{
	struct pool_block *b = p->blocks;
	void *ptr;

	/* Room for the rounding and for the header of a block of its own. */
	if (size > SIZE_MAX - POOL_ALIGN - sizeof(struct pool_block))
		fatalx("pool allocation overflow");
	size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	if (size == 0)
		size = POOL_ALIGN;
	if (size > POOL_BLOCK_SIZE / 4) {
		/* Big: its own block, behind the current one. */
		b = block_new(size);
		b->used = size;
		if (p->blocks != NULL) {
			b->next = p->blocks->next;
			p->blocks->next = b;
		} else
			p->blocks = b;
		return b->data;
	}
	if (b == NULL || b->size - b->used < size) {
		b = block_new(POOL_BLOCK_SIZE);
		b->next = p->blocks;
		p->blocks = b;
	}
	ptr = b->data + b->used;	/* UNSAFE: size fits, checked above */
	b->used += size;
	memset(ptr, 0, size);
	return ptr;
}

char *
pool_strndup(struct pool *p, const char *s, size_t n)
{
	char *d;

	n = strnlen(s, n);
	d = pool_alloc(p, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
pool_strdup(struct pool *p, const char *s)
{
	return pool_strndup(p, s, strlen(s));
}

char *
pool_printf(struct pool *p, const char *fmt, ...)
{
	va_list ap;
	char *d;

	va_start(ap, fmt);
	d = pool_vprintf(p, fmt, ap);
	va_end(ap);
	return d;
}

char *
pool_vprintf(struct pool *p, const char *fmt, va_list ap)
{
	va_list ap2;
	char *d;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		fatalx("pool_printf: bad format");
	d = pool_alloc(p, (size_t)n + 1);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	return d;
}
