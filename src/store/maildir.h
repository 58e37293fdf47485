/* maildir: delivery into a Maildir, the only code that writes mailboxes.
 *
 * A delivery writes the prefix (Return-Path, Delivered-To) and then size
 * octets copied from src_fd at src_offset into tmp/ under a unique name,
 * fsyncs the file, renames it into new/ and fsyncs new/; only then does
 * it return success. The file name is Dovecot's form
 * "<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>", so the size is known to
 * quota and IMAP without a stat. The Maildir and its cur/ new/ tmp/ are
 * created on first delivery (mode 0700). Nothing is left in tmp/ on
 * failure. Blocking: call it on an offload thread. */
#ifndef POSTIE_MAILDIR_H
#define POSTIE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum maildir_result {
	MAILDIR_OK,
	MAILDIR_TEMPFAIL,	/* I/O error, disk full: try again later */
	MAILDIR_OVER_QUOTA,	/* the message would exceed quota_bytes */
	MAILDIR_BAD_FOLDER,	/* folder name not allowed */
};

struct maildir_delivery {
	const char	*path;		/* the user's Maildir (INBOX) */
	const char	*folder;	/* Maildir++ folder ("Lists" for
					   .Lists/), NULL: INBOX; used only if
					   it exists, else INBOX */
	const void	*prefix;	/* headers to put first */
	size_t		 prefix_len;
	int		 src_fd;
	off_t		 src_offset;
	uint64_t	 size;		/* octets to copy from src_fd */
	uint64_t	 quota_bytes;	/* 0: no quota */
	const char	*hostname;	/* for the unique name */
	/* Called with the final path just before the file is renamed into
	 * new/, so a caller can record what it is about to deliver and,
	 * after a crash, find out whether it did (maildir_delivered). */
	void		(*before_rename)(void *ctx, const char *path);
	void		*ctx;
};

/* Deliver; on failure *error_r is a short reason for logs and DSNs. On
 * success, the new file's path is written to path_r when not NULL. */
enum maildir_result maildir_deliver(const struct maildir_delivery *d,
	    char *path_r, size_t path_len, const char **error_r);
/* Octets in the Maildir's messages (new/ and cur/ of INBOX and every
 * folder), from the S= in file names, falling back to stat. */
int	maildir_usage(const char *path, uint64_t *bytes_r, const char **error_r)
	    __attribute__((warn_unused_result));
/* Is the message that was being renamed to path (a new/ file) in the
 * Maildir: still in new/, or moved to cur/ by a reader (with flags)? */
bool	maildir_delivered(const char *path);
/* A new unique base name "<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>", the
 * form deliveries use; the store names appended and copied messages with
 * it too, so that names from every writer of this process stay distinct.
 * hostname NULL or empty: gethostname(). -1 (ENAMETOOLONG) if it does not
 * fit outlen. Thread-safe. */
int	maildir_unique_name(const char *hostname, uint64_t size, char *out,
	    size_t outlen) __attribute__((warn_unused_result));
/* Is name a safe Maildir++ folder name (no '/', no "..", no leading '.',
 * printable, at most 255 octets)? */
bool	maildir_valid_folder(const char *name);

#endif
