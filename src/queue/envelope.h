/* envelope: reading a queue file's envelope (the records written by
 * queue_file_create(), see queue.h) and marking recipients done in place.
 *
 * A recipient is done when its record type byte is 'X' instead of 'R':
 * delivered, bounced or dropped. The mark is one pwrite of one byte and an
 * fdatasync, so after a crash a recipient is either still pending (and is
 * delivered again: at worst a duplicate) or done (never lost, never twice
 * on purpose). Reading is bounded: ENVELOPE_MAX octets, ENVELOPE_RCPTS_MAX
 * recipients; a file that breaks the format is corrupt. */
#ifndef POSTIE_ENVELOPE_H
#define POSTIE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct pool;

#define ENVELOPE_MAX		(8 * 1024 * 1024)
#define ENVELOPE_RCPTS_MAX	100000

struct envelope_rcpt {
	const char	*address;
	const char	*notify;	/* NULL: not given */
	const char	*orcpt;		/* NULL: not given */
	bool		 done;
	off_t		 mark_offset;	/* of the 'R'/'X' byte in the file */
};

struct envelope {
	const char		*id;
	time_t			 arrival;
	const char		*sender;	/* "" for <> */
	struct envelope_rcpt	*rcpts;
	size_t			 nrcpts;
	const char		*envid;
	const char		*ret;		/* FULL, HDRS or NULL */
	const char		*body;
	bool			 smtputf8;
	const char		*client;
	const char		*helo;
	const char		*auth_user;
	const char		*protocol;
	const char		*kind;		/* NULL, "bounce", "2bounce" */
	off_t			 content_offset; /* first octet of the message */
	uint64_t		 content_size;
};

/* Read the envelope of the open queue file fd (from offset 0). */
int	envelope_read(int fd, struct pool *pool, struct envelope *env,
	    const char **error_r) __attribute__((warn_unused_result));
/* Mark one recipient done, durably (pwrite + fdatasync). fd must be open
 * for writing. */
int	envelope_mark_done(int fd, struct envelope_rcpt *r,
	    const char **error_r) __attribute__((warn_unused_result));
size_t	envelope_pending(const struct envelope *env);

#endif
