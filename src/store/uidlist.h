/* uidlist: parsers and writers for the small files a mailbox directory
 * holds, which other programs (Dovecot, an older postie, a person with an
 * editor) may have written: dovecot-uidlist, dovecot-keywords and our
 * postie-index. Pure functions over (data, len): no I/O, no allocation
 * except the struct buf of the writers; every length and number bounded.
 *
 * dovecot-uidlist (version 3, and the Courier-compatible version 1):
 *   3 V<uidvalidity> N<nextuid> G<guid> [<key><value> ...]
 *   <uid> [<key><value> ...] :<file name>
 * Records have strictly ascending UIDs below 2^31; a record that breaks
 * that, or is malformed, is skipped and counted in bad (its message gets
 * a new UID), the others are kept. A header that cannot be read makes the
 * whole file unusable. Only complete lines (ending in LF) are taken, so a
 * reader never acts on a line a writer is still appending.
 *
 * dovecot-keywords: "<index> <name>" lines, index 0..25.
 * postie-index: "postie-index 1 V<uidvalidity> M<modseq>", then
 *   "<uid> <modseq> <flags> <keywords> <size>|- <date>|-" lines. */
#ifndef POSTIE_UIDLIST_H
#define POSTIE_UIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define UIDLIST_LINE_MAX	4096	/* longer lines are skipped */
#define UIDLIST_EXT_MAX		256	/* unknown header fields kept */
#define UIDLIST_NAME_MAX	255	/* a file name */

struct uidlist_hdr {
	unsigned	 version;	/* 1 or 3 */
	uint32_t	 uidvalidity;	/* > 0 */
	uint32_t	 next_uid;	/* > 0 */
	char		 guid[33];	/* 32 hex digits, or "" */
	char		 ext[UIDLIST_EXT_MAX + 1];	/* other fields */
};

struct uidlist_rec {
	uint32_t	 uid;
	const char	*name;		/* base name (up to ':'), in the input */
	size_t		 namelen;
	uint64_t	 vsize;		/* W field, or UINT64_MAX */
};

typedef void (*uidlist_rec_cb)(void *arg, const struct uidlist_rec *r);

/* Reader state across calls: the header once, then records. */
struct uidlist_reader {
	bool		 have_hdr;
	struct uidlist_hdr hdr;
	uint32_t	 last_uid;	/* highest record UID so far */
	uint32_t	 records;	/* accepted */
	uint32_t	 bad;		/* skipped lines */
};

void	uidlist_reader_init(struct uidlist_reader *rd);
/* Parse the complete lines of data; *used_r is the octets consumed (up to
 * and including the last LF). -1 when the header is unusable. When
 * resuming after an earlier call, last_uid must be the file's highest
 * UID read so far (kept in rd). */
int	uidlist_read(struct uidlist_reader *rd, const char *data, size_t len,
	    uidlist_rec_cb cb, void *arg, size_t *used_r)
	    __attribute__((warn_unused_result));
/* Header and one record line as this module writes them (LF included). */
int	uidlist_write_header(struct buf *b, uint32_t uidvalidity,
	    uint32_t next_uid, const char *guid, const char *ext)
	    __attribute__((warn_unused_result));
int	uidlist_write_record(struct buf *b, uint32_t uid, uint64_t vsize,
	    const char *name, size_t namelen)
	    __attribute__((warn_unused_result));

/* dovecot-keywords: cb(index, name, len) for each valid line, the first
 * definition of an index winning. Returns the number of bad lines. */
typedef void (*keywords_cb)(void *arg, unsigned index, const char *name,
	    size_t len);
unsigned keywords_read(const char *data, size_t len, keywords_cb cb,
	    void *arg);
/* Is name a keyword IMAP accepts (atom, bounded, not a \ flag)? */
bool	keyword_valid(const char *name, size_t len);

/* postie-index. */
struct index_hdr {
	uint32_t	 uidvalidity;
	uint64_t	 modseq;
};

struct index_rec {
	uint32_t	 uid;
	uint64_t	 modseq;
	uint8_t		 flags;
	uint32_t	 keywords;
	uint64_t	 vsize;		/* UINT64_MAX: unknown */
	int64_t		 date;		/* INT64_MIN: unknown */
};

typedef void (*index_rec_cb)(void *arg, const struct index_rec *r);
/* -1 (and records up to the damage already given to cb) when the file
 * is not entirely valid; the caller then distrusts all of it. */
int	index_read(const char *data, size_t len, struct index_hdr *hdr,
	    index_rec_cb cb, void *arg) __attribute__((warn_unused_result));
int	index_write_header(struct buf *b, const struct index_hdr *hdr)
	    __attribute__((warn_unused_result));
int	index_write_record(struct buf *b, const struct index_rec *r)
	    __attribute__((warn_unused_result));

#endif
