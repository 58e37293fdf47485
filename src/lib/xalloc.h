/* xalloc: allocation that cannot fail. Every function aborts on exhaustion,
 * checks n * size for overflow and returns zeroed memory. */
#ifndef POSTIE_XALLOC_H
#define POSTIE_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Free *p and set it to NULL. */
#define xfree(p) do { free(*(p)); *(p) = NULL; } while (0)

#endif
