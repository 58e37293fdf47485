/* imap/seqset: IMAP sequence sets (RFC 3501 section 9 "sequence-set") and
 * UIDPLUS uid-sets (RFC 4315). Called by the command handlers (FETCH,
 * STORE, COPY, MOVE, SEARCH, UID EXPUNGE) to read a set, and by COPYUID /
 * APPENDUID to write one; pure, no I/O.
 *
 * A set is parsed as written: ranges in the client's order, "*" kept as
 * IMAP_SEQ_STAR, because what "*" means (the message count, or the highest
 * UID) is only known when the command runs. imap_seqset_resolve() then
 * replaces "*", turns n:m with n > m around, sorts and merges, and the
 * result answers membership in O(log n), iterates in ascending order and
 * formats compactly ("1:3,5").
 *
 * Limits: at most max_ranges ranges (the DESIGN default is 10 000); every
 * number is a nz-number (1..4294967295). "$" (SEARCHRES, RFC 5182) is
 * refused with its own message, since it is not advertised.
 */
#ifndef POSTIE_IMAP_SEQSET_H
#define POSTIE_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct pool;

#define IMAP_SEQSET_RANGES_MAX	10000
#define IMAP_SEQ_STAR		UINT32_C(0)	/* "*" before resolving */

struct imap_seq_range {
	uint32_t	 lo;
	uint32_t	 hi;	/* lo <= hi once resolved */
};

/*
 * Ranges live in the pool given to imap_seqset_init() (the command's), or
 * on the heap when it is NULL; imap_seqset_deinit() frees heap memory.
 */
struct imap_seqset {
	struct imap_seq_range *r;
	size_t		 n;
	size_t		 cap;		/* private */
	size_t		 max;		/* most ranges allowed */
	struct pool	*pool;		/* borrowed; NULL: heap */
	bool		 resolved;	/* sorted, merged, no star */
};

/* max_ranges 0: IMAP_SEQSET_RANGES_MAX. */
void	imap_seqset_init(struct imap_seqset *set, struct pool *pool,
	    size_t max_ranges);
void	imap_seqset_deinit(struct imap_seqset *set);

/*
 * Parse s[0..len) into set, replacing what it held. Returns 0, or -1 with
 * a text fit for "tag BAD <text>" in *error_r.
 */
int	imap_seqset_parse(struct imap_seqset *set, const char *s, size_t len,
	    const char **error_r) __attribute__((warn_unused_result));
/* The parsed text is a sequence set (for a command table that must tell a
 * set from another argument before parsing it; "ALL" is not one). */
bool	imap_seqset_syntax_ok(const char *s, size_t len);
/* The set mentions "*" (before resolving). */
bool	imap_seqset_has_star(const struct imap_seqset *set);

/*
 * Resolve src into dst (dst initialized, may be src): "*" becomes max,
 * each range gets lo <= hi, ranges are sorted and merged. With max 0
 * (empty mailbox) a lone "*" matches nothing, and n:* becomes 1:n, which
 * only matters for UIDs (RFC 3501: "559:*" includes the last UID even when
 * it is below 559). Numbers above max stay: for message sequence numbers
 * the caller checks imap_seqset_last() <= count and answers BAD.
 */
void	imap_seqset_resolve(const struct imap_seqset *src, uint32_t max,
	    struct imap_seqset *dst);

/* On a resolved set: */
bool	imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
uint64_t imap_seqset_count(const struct imap_seqset *set);
uint32_t imap_seqset_first(const struct imap_seqset *set);	/* 0: empty */
uint32_t imap_seqset_last(const struct imap_seqset *set);	/* 0: empty */
/*
 * Iterate in ascending order: start with *cursor_r = 0; each call gives
 * the next member in *n_r and returns true, or false at the end.
 *	uint64_t c = 0; uint32_t n;
 *	while (imap_seqset_next(set, &c, &n)) ...
 */
bool	imap_seqset_next(const struct imap_seqset *set, uint64_t *cursor_r,
	    uint32_t *n_r);

/*
 * Build a set in the order numbers come (COPYUID, APPENDUID): a number one
 * above the last range's end extends it. Returns -1 when max is reached.
 * Such a set keeps the order of addition and is not "resolved"; the
 * source and destination sets of COPYUID stay in step that way.
 */
int	imap_seqset_add(struct imap_seqset *set, uint32_t n)
	    __attribute__((warn_unused_result));
int	imap_seqset_add_range(struct imap_seqset *set, uint32_t lo,
	    uint32_t hi) __attribute__((warn_unused_result));

/* Append "1:3,5,7:*" (a star as "*") to out; -1 if out is full. */
int	imap_seqset_format(const struct imap_seqset *set, struct buf *out)
	    __attribute__((warn_unused_result));

#endif
