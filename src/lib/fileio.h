/* fileio: small helpers for plain file I/O and the formats every module
 * writes (RFC 5322 dates). */
#ifndef POSTIE_FILEIO_H
#define POSTIE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Write all of data, retrying after EINTR and short writes; -1 with errno
 * set otherwise (EIO for a write that wrote nothing). */
int	write_all(int fd, const void *data, size_t len)
	    __attribute__((warn_unused_result));

/* Read until end of file or len octets; the count, or -1 with errno. */
ssize_t	read_all(int fd, void *buf, size_t len)
	    __attribute__((warn_unused_result));

/* "Mon, 23 Nov 2026 22:18:19 +0000" in local time, with English names
 * whatever the locale (RFC 5322 3.3). out should hold 40 octets. */
void	date_rfc5322(time_t t, char *out, size_t outlen);

#endif
