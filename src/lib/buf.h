/* buf: the one writable byte container (besides libevent's evbuffer). It
 * grows as bytes arrive, never past max: an append that would exceed max
 * returns -1 and leaves the buffer unchanged, and the caller turns that into
 * a protocol error. The data is always NUL-terminated (not counted in len). */
#ifndef POSTIE_BUF_H
#define POSTIE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	buf_init(struct buf *b, size_t max);
void	buf_deinit(struct buf *b);
void	buf_reset(struct buf *b);
int	buf_append(struct buf *b, const void *data, size_t len)
	    __attribute__((warn_unused_result));
int	buf_append_str(struct buf *b, const char *s)
	    __attribute__((warn_unused_result));
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), warn_unused_result));
/* Remove the first n bytes (n <= len). */
void	buf_consume(struct buf *b, size_t n);
/* The contents as a C string (valid until the next change). */
const char *buf_cstr(const struct buf *b);

#endif
