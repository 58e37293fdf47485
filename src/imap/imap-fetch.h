/* imap-fetch: the data items of a FETCH command (RFC 3501 section 6.4.5)
 * read once into a plan, which the FETCH handler (imap-cmd-fetch.c) then
 * runs for every message. The plan also says what each message needs,
 * so that nothing is read that no item asks for: FLAGS and UID come from
 * the view, RFC822.SIZE and INTERNALDATE from the index, ENVELOPE and
 * sections of the top level from the mapped message, and only BODY,
 * BODYSTRUCTURE and sections with part numbers from its MIME tree. Pure:
 * no I/O.
 *
 * Decisions:
 *   - The macros ALL, FAST and FULL stand alone, never inside a list.
 *   - An item asked for twice is answered once (sections compare by
 *     their canonical names, "BODY[1.MIME]<0>").
 *   - For UID FETCH the UID item comes first when the client did not ask
 *     for it (RFC 3501 6.4.8: it is in every response).
 *   - RFC822 is BODY[], RFC822.TEXT is BODY[TEXT] (both set \Seen),
 *     RFC822.HEADER is BODY.PEEK[HEADER]; each keeps its own name in the
 *     response.
 * Limits: IMAP_FETCH_ITEMS_MAX items; sections as imap-body.h bounds
 * them (part numbers, field names).
 */
#ifndef POSTIE_IMAP_FETCH_H
#define POSTIE_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-body.h"

struct imap_arg;
struct pool;

#define IMAP_FETCH_ITEMS_MAX	1000

enum imap_fetch_kind {
	IMAP_FETCH_UID,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,		/* BODY without a section */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_SECTION,		/* BODY[...], RFC822, RFC822.HEADER,
					   RFC822.TEXT */
};

/* What a message must provide for the plan (imap_fetch_plan.needs). */
#define IMAP_FETCH_NEED_SIZE	0x01	/* RFC822.SIZE */
#define IMAP_FETCH_NEED_DATE	0x02	/* INTERNALDATE */
#define IMAP_FETCH_NEED_CONTENT	0x04	/* the whole message's octets */
#define IMAP_FETCH_NEED_MIME	0x08	/* its MIME tree */
#define IMAP_FETCH_NEED_STRUCT	0x10	/* ENVELOPE, BODY[STRUCTURE]: output
					   built in a bounded buffer */
#define IMAP_FETCH_NEED_HEADER	0x20	/* the top-level header section
					   (ENVELOPE, HEADER sections); the
					   body is not read unless CONTENT */

struct imap_section;

/* Whether sec is read from the top-level header alone (HEADER and
 * HEADER.FIELDS (.NOT) without part numbers): NEED_HEADER, not CONTENT. */
bool	imap_fetch_section_header_only(const struct imap_section *sec);

struct imap_fetch_item {
	enum imap_fetch_kind	 kind;
	/* The name in the response: "FLAGS", "RFC822.HEADER",
	 * "BODY[1.HEADER.FIELDS (FROM)]<0>"; in the pool. */
	const char		*name;
	size_t			 name_len;
	/* SECTION: */
	struct imap_section	 sec;
	uint64_t		 origin;	/* <origin.count> */
	uint64_t		 count;		/* UINT64_MAX: no partial */
	bool			 peek;		/* does not set \Seen */
};

struct imap_fetch_plan {
	struct imap_fetch_item	*items;
	size_t			 n;
	unsigned		 needs;		/* IMAP_FETCH_NEED_* */
	bool			 sets_seen;	/* a non-peek section */
	bool			 has_flags;	/* FLAGS was asked for */
};

/*
 * The items of FETCH (the argument after the sequence set: an atom, a
 * macro, or a parenthesized list), for UID FETCH when uid. 0 with
 * *plan_r in pool; -1 with a text for "tag BAD" in *error_r (static or
 * in the pool).
 */
int	imap_fetch_plan_parse(const struct imap_arg *arg, bool uid,
	    struct pool *pool, struct imap_fetch_plan **plan_r,
	    const char **error_r) __attribute__((warn_unused_result));

#endif
