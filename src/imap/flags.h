/* imap/flags: message flags as IMAP writes them (RFC 3501 section 2.3.2):
 * the system flags as bits, keywords as validated atoms. Called by the
 * STORE, APPEND and SEARCH code to read flag lists and by FETCH FLAGS,
 * the FLAGS/PERMANENTFLAGS responses and untagged updates to write them;
 * pure.
 *
 * Reading refuses \Recent (no client may set it), unknown "\" flags, and
 * keywords that are not atoms (no % * ] \ or controls) or longer than
 * IMAP_KEYWORD_LEN_MAX; at most IMAP_FLAGS_MAX flags per list. Repeated
 * flags are merged; keywords compare without regard to ASCII case and
 * keep the first spelling.
 */
#ifndef POSTIE_IMAP_FLAGS_H
#define POSTIE_IMAP_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct imap_arg;
struct pool;

#define IMAP_KEYWORD_LEN_MAX	128
#define IMAP_FLAGS_MAX		128

enum imap_flag {
	IMAP_FLAG_ANSWERED	= 1 << 0,
	IMAP_FLAG_FLAGGED	= 1 << 1,
	IMAP_FLAG_DELETED	= 1 << 2,
	IMAP_FLAG_SEEN		= 1 << 3,
	IMAP_FLAG_DRAFT		= 1 << 4,
	IMAP_FLAG_RECENT	= 1 << 5,	/* session state, read-only */
};
#define IMAP_FLAGS_SETTABLE	0x1fu	/* all but \Recent */

struct imap_flags {
	unsigned	 system;	/* enum imap_flag bits */
	const char	**keywords;	/* in the pool */
	size_t		 nkeywords;
};

/* "(\Seen $Label1)": a LIST argument (APPEND, STORE). */
int	imap_flags_parse_list(const struct imap_arg *list, struct pool *pool,
	    struct imap_flags *out, const char **error_r)
	    __attribute__((warn_unused_result));
/* STORE's flags: one list, or flags as separate arguments. */
int	imap_flags_parse_args(const struct imap_arg *args, size_t count,
	    struct pool *pool, struct imap_flags *out, const char **error_r)
	    __attribute__((warn_unused_result));

/* flag-keyword: an atom (RFC 3501 section 9), 1..IMAP_KEYWORD_LEN_MAX. */
bool	imap_keyword_valid(const char *s, size_t len);
/* "\Seen" etc. (case-insensitive) to its bit; 0 if not a system flag. */
unsigned imap_flag_from_name(const char *s, size_t len);
/* The bit's name, "\Seen"; NULL for anything but one known bit. */
const char *imap_flag_name(unsigned flag);
/*
 * Append "(\Answered \Flagged \Deleted \Seen \Draft \Recent kw...)" for
 * the bits set and the keywords given, in that order; -1 if out is full.
 */
int	imap_flags_format(unsigned system, const char *const *keywords,
	    size_t nkeywords, struct buf *out)
	    __attribute__((warn_unused_result));

#endif
