/* imap/search: the SEARCH program (RFC 3501 section 6.4.4). The command's
 * arguments (from imap/parse.h) become a tree of keys, checked once; the
 * server then evaluates the tree against each message through a struct of
 * callbacks, so this module knows nothing of the store or of MIME. Called
 * by the SEARCH / UID SEARCH handler; pure.
 *
 * Keys: every RFC 3501 key (ALL ANSWERED BCC BEFORE BODY CC DELETED DRAFT
 * FLAGGED FROM HEADER KEYWORD LARGER NEW NOT OLD ON OR RECENT SEEN
 * SENTBEFORE SENTON SENTSINCE SINCE SMALLER SUBJECT TEXT TO UID UNANSWERED
 * UNDELETED UNDRAFT UNFLAGGED UNKEYWORD UNSEEN), sequence sets and
 * parenthesized lists; a leading CHARSET UTF-8 or US-ASCII (anything else:
 * IMAP_SEARCH_BADCHARSET). Keys are case-insensitive. Limits: OR, NOT and
 * parentheses nest at most IMAP_SEARCH_DEPTH_MAX deep; sequence sets have
 * the default range bound; the number of keys is bounded by the
 * parser's argument limit.
 *
 * Matching:
 *   - strings match as case-insensitive substrings of UTF-8 text, with
 *     ASCII folding and simple one-to-one folding of Latin-1, Latin
 *     Extended-A, Greek and Cyrillic letters; an octet that is not part of
 *     valid UTF-8 is one U+FFFD. An empty string matches every message
 *     for BODY and TEXT, and every message that has the field for the
 *     header keys (RFC 3501 says so for HEADER).
 *   - FROM TO CC BCC SUBJECT are HEADER with that field name, matched
 *     against each decoded field value separately.
 *   - BEFORE ON SINCE compare the internal date's calendar day in the
 *     server's local time; SENTBEFORE SENTON SENTSINCE the day written in
 *     the first Date: field, time and zone ignored (imap-date.h); a message
 *     without a readable Date: uses its internal date, as RFC 5256 does
 *     for sorting.
 *   - "*" in a sequence set or UID set is resolved by imap_search_prepare()
 *     with the mailbox's state when the command runs.
 * Within an AND the cheap keys (flags, numbers, dates) run before header
 * keys, and those before BODY and TEXT.
 */
#ifndef POSTIE_IMAP_SEARCH_H
#define POSTIE_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/seqset.h"

struct imap_arg;
struct pool;

#define IMAP_SEARCH_DEPTH_MAX	64
#define IMAP_SEARCH_BADCHARSET	(-2)
#define IMAP_SEARCH_CHARSETS	"(UTF-8 US-ASCII)"	/* for NO [BADCHARSET
							   ...] */

enum imap_search_op {
	IMAP_SK_ALL,
	IMAP_SK_AND,		/* kids[0..nkids) */
	IMAP_SK_OR,		/* kids[0], kids[1] */
	IMAP_SK_NOT,		/* kids[0] */
	IMAP_SK_FLAGS,		/* all of set present, none of unset */
	IMAP_SK_KEYWORD,	/* str */
	IMAP_SK_UNKEYWORD,	/* str */
	IMAP_SK_HEADER,		/* field str contains value */
	IMAP_SK_BODY,		/* value */
	IMAP_SK_TEXT,		/* value */
	IMAP_SK_BEFORE,		/* day */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE,
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER,		/* size */
	IMAP_SK_SMALLER,
	IMAP_SK_SEQSET,		/* seqs */
	IMAP_SK_UID,		/* seqs */
};

/* A case-folded search string, ready for matching. */
struct imap_search_needle {
	const uint32_t	*cp;		/* folded code points */
	const size_t	*next;		/* KMP fallback table */
	size_t		 n;
};

struct imap_search_key {
	enum imap_search_op op;
	struct imap_search_key *kids;
	size_t		 nkids;
	unsigned	 set;		/* FLAGS: enum imap_flag bits */
	unsigned	 unset;
	const char	*str;		/* KEYWORD, UNKEYWORD; HEADER: the
					   field name */
	const char	*value;		/* HEADER, BODY, TEXT, as given */
	struct imap_search_needle needle; /* of value */
	int64_t		 day;		/* dates: imap-date.h day number */
	uint64_t	 size;		/* LARGER, SMALLER */
	struct imap_seqset seqs;		/* SEQSET, UID: as written */
	struct imap_seqset seqs_resolved; /* after imap_search_prepare() */
	unsigned	 cost;		/* private: evaluation order */
};

struct imap_search {
	struct imap_search_key root;	/* an AND of the top-level keys */
	bool		 charset_given;	/* CHARSET was named */
	bool		 uses_seqset;	/* some key is a sequence set */
	bool		 uses_text;	/* some key needs headers or body */
};

/*
 * Read from a header field or from the text: called with each value or
 * part in turn (s is not NUL-terminated); return 1 to stop, 0 for more.
 */
typedef int (*imap_search_visit)(void *vctx, const char *s, size_t len);

/* One message, as the server sees it. */
struct imap_search_msg {
	uint32_t	 seq;
	uint32_t	 uid;
	unsigned	 flags;		/* enum imap_flag bits, \Recent
					   included */
	uint64_t	 size;		/* RFC822.SIZE */
	time_t		 internal_date;
	void		*ctx;		/* for the callbacks */
	bool		(*has_keyword)(void *ctx, const char *keyword);
	/* Visit the decoded (RFC 2047, UTF-8), unfolded value of each field
	 * called name (case-insensitive). 0, or -1 on failure. */
	int		(*header)(void *ctx, const char *name,
			    imap_search_visit visit, void *vctx);
	/* Visit the message text: the body (whole false) or the header and
	 * the body (whole true), decoded as the server chooses, in one or
	 * more pieces; a match never spans two pieces. 0, or -1. */
	int		(*text)(void *ctx, bool whole, imap_search_visit visit,
			    void *vctx);
};

/*
 * Parse the arguments of SEARCH (everything after the command name).
 * Returns 0 with *search_r from pool (its strings are borrowed from args:
 * use the command's pool, or keep the command alive); -1 with a text for BAD in *error_r
 * (from the pool or static); IMAP_SEARCH_BADCHARSET for an unknown
 * charset, to be answered "NO [BADCHARSET " IMAP_SEARCH_CHARSETS "] ...".
 */
int	imap_search_parse(const struct imap_arg *args, size_t count,
	    struct pool *pool, struct imap_search **search_r,
	    const char **error_r) __attribute__((warn_unused_result));

/* Resolve "*" against the mailbox as it is now: before evaluating, and
 * again whenever count or the highest UID changed. */
void	imap_search_prepare(struct imap_search *search, uint32_t count,
	    uint32_t max_uid);

/* 1: the message matches; 0: it does not; -1: a callback failed. */
int	imap_search_match(const struct imap_search *search,
	    const struct imap_search_msg *msg)
	    __attribute__((warn_unused_result));

/* Case-insensitive substring test as SEARCH does it, for other users. */
bool	imap_search_contains(const char *haystack, size_t hlen,
	    const char *needle, size_t nlen);
/* The simple case folding used above (exposed for tests). */
uint32_t imap_search_fold(uint32_t cp);

#endif
