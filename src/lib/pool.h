/* pool: region allocation. Everything allocated from a pool is freed at once
 * with it; a child pool is freed with its parent. Lifetimes follow the
 * protocol: connection pool, then one child pool per transaction/command. */
#ifndef POSTIE_POOL_H
#define POSTIE_POOL_H

#include <stdarg.h>
#include <stddef.h>

struct pool;

struct pool	*pool_new(struct pool *parent);
void		 pool_free(struct pool **pool);
void		*pool_alloc(struct pool *pool, size_t size);
char		*pool_strdup(struct pool *pool, const char *s);
char		*pool_strndup(struct pool *pool, const char *s, size_t n);
char		*pool_printf(struct pool *pool, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
char		*pool_vprintf(struct pool *pool, const char *fmt, va_list ap)
		    __attribute__((format(printf, 2, 0)));

#endif
