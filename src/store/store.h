/* store: the mailboxes of one user for IMAP and POP3: Maildir++ folders,
 * the index that gives messages stable UIDs, flags, keywords, expunge,
 * append, copy and move, STATUS, and change reports for open sessions.
 *
 * Layout (Dovecot's default for virtual users, so a user can move between
 * postie and Dovecot keeping UIDs): the user root <mail_root>/<domain>/
 * <localpart> is INBOX ({cur,new,tmp}); a folder "A.B" is the directory
 * ".A.B" in the root (Maildir++); the hierarchy separator is '.' and names
 * are kept on disk exactly as IMAP sends them (modified UTF-7). Each
 * mailbox directory holds:
 *   dovecot-uidlist    UID <-> base file name, UIDVALIDITY, next UID, in
 *                      Dovecot's version 3 format (read, appended, and
 *                      rewritten through a temporary file and rename);
 *   dovecot-keywords   keyword names for the letters a..z of file names;
 *   postie-index       our cache: modseq, flags, RFC822.SIZE and internal
 *                      date per UID; may be lost, it is rebuilt;
 *   postie-lock        flock(2) target, and the shared counters: highest
 *                      modseq and the first UID not yet seen as \Recent.
 * The root also holds "subscriptions" (Dovecot's format) and
 * "postie-uidvalidity" (the last UIDVALIDITY given, so a mailbox deleted
 * and created again never reuses one). System flags are in file names
 * (":2," then the letters D F P R S T, sorted), keywords are the letters
 * a..z (at most STORE_KEYWORDS_MAX per mailbox).
 *
 * Threads and processes. Every function runs on one thread, the event
 * loop's; the exceptions are store_append_write*() and
 * store_append_fsync(), which touch only their handle and may run on an
 * offload thread. Within a process one mailbox is loaded once and shared
 * by every view (session) that has it open, so per-message memory does not
 * grow with the number of sessions. Several processes may have the same
 * mailbox open: UIDs are assigned under flock(postie-lock) (plus Dovecot's
 * dovecot-uidlist.lock dotlock, so a Dovecot on the same Maildir is
 * excluded too), the uidlist only grows by whole lines or is replaced by
 * rename, and readers take only complete lines, so no one sees a torn file.
 * The lock covers short file operations only (reading the end of the
 * uidlist, appending to it, a rename); no message is written or fsynced
 * under it. The longest holds are the rare full rewrite of the uidlist
 * and a rescan when another process's new records name files this one has
 * not seen. A live Dovecot's dotlock is waited for half a second at most
 * (STORE_INUSE).
 *
 * UIDs are strictly ascending, never reused, and stable across restarts,
 * sessions and processes. Files that other programs put into new/ or cur/
 * get UIDs at the next sync, in delivery order (the time that starts their
 * names). When dovecot-uidlist is missing it is written again from memory
 * by a process that has the mailbox loaded (UIDs kept); otherwise, or when
 * its header is unreadable, the mailbox gets a new UIDVALIDITY and UIDs
 * from 1. A damaged record loses only its own UID. postie-index may be
 * deleted at any time.
 *
 * Blocking. The calls do local file I/O (stat, readdir, rename, small
 * reads and writes) on the caller's thread, as any Maildir server does.
 * fsync happens in: store_append_commit() (unless store_append_fsync()
 * ran first, e.g. on the offload pool), copy and move (one fsync of the
 * destination directory per call) and UID assignment (fdatasync of the
 * uidlist after the lock is released). A loaded mailbox watches its new/
 * and cur/ with the process's inotify instance (watch.h), so a sync with
 * nothing changed is stat(cur/), one read(2) of the inotify queue and
 * stat(dovecot-uidlist), and the session's own renames cause no rescan;
 * without inotify, the mtimes of new/ and cur/ decide (with the coarse
 * clock's tick taken into account).
 *
 * Processes. The loaded mailboxes and the inotify instance belong to the
 * process: fork before using the store, not with mailboxes open.
 *
 * \Recent. A message is \Recent in exactly one session: the first
 * read-write view (SELECT) in any process that reports it (at open or by a
 * sync) claims it, through the shared "first UID not yet recent" counter
 * in postie-lock. Read-only views (EXAMINE), STORE_OPEN_NORECENT views
 * (POP3) and STATUS count as recent the messages nobody has claimed yet,
 * and claim nothing.
 *
 * POP3: store_pop3_uidl() gives Dovecot's default UIDL ("%08X%08X" of UID
 * and UIDVALIDITY), stable as long as the UIDs are.
 *
 * Limits: mailbox names STORE_NAME_MAX octets, printable 7-bit ASCII
 * without '/', '*', '%', no empty component, no leading or trailing '.';
 * keyword names STORE_KEYWORD_NAME_MAX octets of IMAP atom characters;
 * messages STORE_MESSAGE_MAX octets for store_msg_map(); UIDs below 2^31.
 */
#ifndef POSTIE_STORE_H
#define POSTIE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct pool;
struct event_base;

#define STORE_NAME_MAX		200	/* octets of a mailbox name */
#define STORE_KEYWORDS_MAX	26	/* per mailbox: the letters a..z */
#define STORE_KEYWORD_NAME_MAX	100
#define STORE_MESSAGE_MAX	((uint64_t)1 << 30)	/* for store_msg_map */
#define STORE_UID_MAX		0x7ffffffeU

/* System flags (store_msg_info.flags, store_view_update_flags). */
#define STORE_F_SEEN		0x01
#define STORE_F_ANSWERED	0x02
#define STORE_F_FLAGGED		0x04
#define STORE_F_DELETED		0x08
#define STORE_F_DRAFT		0x10
#define STORE_F_RECENT		0x20	/* reported only, never stored */
#define STORE_F_ALL		0x1f

/* Attributes of a listed folder (RFC 3501, 3348, 6154). */
#define STORE_LA_NOSELECT	0x001	/* a name with children, no mailbox */
#define STORE_LA_HASCHILDREN	0x002
#define STORE_LA_HASNOCHILDREN	0x004
#define STORE_LA_SUBSCRIBED	0x008
#define STORE_LA_SENT		0x010
#define STORE_LA_DRAFTS		0x020
#define STORE_LA_JUNK		0x040
#define STORE_LA_TRASH		0x080
#define STORE_LA_ARCHIVE	0x100
#define STORE_LA_SPECIAL	0x1f0

/* STATUS items wanted (store_status). */
#define STORE_ST_MESSAGES	0x01
#define STORE_ST_RECENT		0x02
#define STORE_ST_UIDNEXT	0x04
#define STORE_ST_UIDVALIDITY	0x08
#define STORE_ST_UNSEEN		0x10
#define STORE_ST_HIGHESTMODSEQ	0x20
#define STORE_ST_SIZE		0x40

/* What went wrong; the text for logs and replies is in *error_r. */
enum store_result {
	STORE_OK = 0,
	STORE_NONEXISTENT,	/* no such mailbox (IMAP [NONEXISTENT] or
				   [TRYCREATE] for APPEND/COPY) */
	STORE_EXISTS,		/* the name is taken ([ALREADYEXISTS]) */
	STORE_BADNAME,		/* not an acceptable mailbox name */
	STORE_CANNOT,		/* not allowed: delete INBOX, delete a
				   \Noselect name, rename onto a child ... */
	STORE_LIMIT,		/* a bound: keywords, name or message size */
	STORE_EXPUNGED,		/* the message is gone ([EXPUNGEISSUE]) */
	STORE_INUSE,		/* locked by another program ([INUSE]) */
	STORE_RESET,		/* the open mailbox was deleted, renamed or
				   got a new UIDVALIDITY: close the view */
	STORE_TEMPFAIL,		/* I/O error, disk full ([SERVERBUG]) */
};

struct store_user;		/* one user's mail root */
struct store_view;		/* one session's view of an open mailbox */
struct store_append;		/* a message being appended */

/* A range of sequence numbers or UIDs, first <= last. */
struct store_range {
	uint32_t	first;
	uint32_t	last;
};

/*
 * User.
 */

/* root: the user's Maildir (need not exist yet); hostname for new file
 * names (NULL: gethostname()). Copies both; allocates nothing else. */
struct store_user *store_user_new(const char *root, const char *hostname);
void		 store_user_free(struct store_user **up);
/* Free the mailboxes the process keeps loaded though nothing holds
 * them: the next open loads from the files, as a new process would. */
void		 store_drop_idle(void);
const char	*store_user_root(const struct store_user *u);

/* At login: creates the root with cur/ new/ tmp/ if missing and, the first
 * time (no "subscriptions" file yet), creates and subscribes Sent, Drafts,
 * Junk, Trash and Archive. A folder the user deletes later stays deleted. */
enum store_result store_user_prepare(struct store_user *u,
		    const char **error_r) __attribute__((warn_unused_result));

/*
 * Names. Every entry point checks names with store_name_check(); callers
 * may use it to tell BAD names apart early.
 */

/* Is name acceptable? On success canon (at least STORE_NAME_MAX + 1
 * octets) holds the canonical form: "INBOX" for any case of it, and an
 * "INBOX." prefix in any case becomes "INBOX.". */
bool		 store_name_check(const char *name, char *canon,
		    size_t canonlen, const char **error_r);
/* For a name that arrives as octets (an IMAP literal may hold NUL): the
 * same test as store_name_check(), and no NUL anywhere in len. */
bool		 store_name_bytes_ok(const void *data, size_t len,
		    const char **error_r);
/* IMAP LIST pattern match with '.' as separator: '*' matches anything,
 * '%' anything but '.'; "INBOX" matches case-insensitively. Bounded: the
 * pattern and name are at most 1024 octets (longer: no match). */
bool		 store_name_match(const char *pattern, const char *name);
/* \Sent and friends for the standard names, else 0. */
unsigned	 store_name_special_use(const char *canon);

/*
 * Folders.
 */

struct store_folder {
	const char	*name;		/* canonical, in the caller's pool */
	unsigned	 attrs;		/* STORE_LA_* */
};

/* Every mailbox and every intermediate name, INBOX first, then in byte
 * order, with their attributes; with subscribed, only subscribed names
 * (LSUB; \Noselect when the name is no mailbox). Folders created by other
 * tools appear; directory entries that are no valid name are skipped. */
enum store_result store_list(struct store_user *u, struct pool *pool,
		    bool subscribed, struct store_folder **folders_r,
		    size_t *n_r, const char **error_r)
		    __attribute__((warn_unused_result));
/* CREATE: missing parents are created as mailboxes too. STORE_EXISTS if
 * the mailbox exists (INBOX always does). */
enum store_result store_create(struct store_user *u, const char *name,
		    const char **error_r) __attribute__((warn_unused_result));
/* DELETE (RFC 3501): the mailbox and its messages go; a name with children
 * stays as \Noselect. INBOX and \Noselect names cannot be deleted. Views
 * open on it get STORE_RESET at their next sync. */
enum store_result store_delete(struct store_user *u, const char *name,
		    const char **error_r) __attribute__((warn_unused_result));
/* RENAME: children move along. Renaming INBOX moves its messages (with
 * their UIDs) into the new mailbox and leaves INBOX empty, keeping its
 * UIDVALIDITY and next UID; INBOX's children stay. */
enum store_result store_rename(struct store_user *u, const char *from,
		    const char *to, const char **error_r)
		    __attribute__((warn_unused_result));
/* SUBSCRIBE/UNSUBSCRIBE; the name need not exist. */
enum store_result store_subscribe(struct store_user *u, const char *name,
		    bool on, const char **error_r)
		    __attribute__((warn_unused_result));

/*
 * STATUS, without opening a view. Uses the process's loaded copy of the
 * mailbox when a view has it open, else loads it for the call (uidlist,
 * readdir of new/ and cur/; UIDs are given to new files, nothing else
 * changes: no \Recent is claimed, nothing moves to cur/). SIZE may read
 * messages whose size is not in their file name or in postie-index.
 */
struct store_status {
	uint32_t	 messages;
	uint32_t	 recent;
	uint32_t	 uidnext;
	uint32_t	 uidvalidity;
	uint32_t	 unseen;	/* messages without \Seen */
	uint64_t	 highest_modseq;
	uint64_t	 size;		/* sum of RFC822.SIZE */
};

enum store_result store_status(struct store_user *u, const char *name,
		    unsigned items, struct store_status *st,
		    const char **error_r) __attribute__((warn_unused_result));

/*
 * Views. A view is one session's selected mailbox. Sequence numbers are
 * the view's own: they change only inside store_view_sync(), when the view
 * is told about expunges and new messages, so the session decides when
 * (RFC 3501 7.4.1). Between syncs, a message expunged by anyone keeps its
 * sequence number in the view and reads as expunged.
 */

#define STORE_OPEN_READONLY	0x01	/* EXAMINE: no change at all */
#define STORE_OPEN_NORECENT	0x02	/* POP3: may expunge, takes no
					   \Recent from IMAP sessions */

/* Open name (SELECT: flags 0). The view starts with every message
 * reported: the first store_view_sync() reports only what changed after
 * the open. A read-write view moves new/ to cur/ at each sync. */
enum store_result store_view_open(struct store_user *u, const char *name,
		    unsigned flags, struct store_view **view_r,
		    const char **error_r) __attribute__((warn_unused_result));
void		 store_view_close(struct store_view **vp);

struct store_view_info {
	const char	*name;		/* canonical mailbox name */
	uint32_t	 exists;	/* messages in the view */
	uint32_t	 recent;	/* \Recent in this view */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint32_t	 first_unseen;	/* sequence number, 0: none */
	uint64_t	 highest_modseq;
	bool		 readonly;
	bool		 keywords_full;	/* no new keyword can be made */
};

void		 store_view_info(struct store_view *v,
		    struct store_view_info *info);

/* What store_view_sync() tells the session, in this order: expunges (seq
 * is valid at the moment of each call, i.e. already lowered by the
 * expunges reported before it, as in RFC 3501 7.4.1's example), flag
 * changes (seq in the numbering after the expunges; read the flags with
 * store_view_msg()), then at most one exists() with the new total and the
 * view's \Recent count when messages were added. Any pointer may be
 * NULL. */
struct store_sync_cb {
	void	(*expunge)(void *arg, uint32_t seq, uint32_t uid);
	void	(*flags)(void *arg, uint32_t seq, uint32_t uid);
	void	(*exists)(void *arg, uint32_t exists, uint32_t recent);
};

#define STORE_SYNC_NO_EXPUNGE	0x01	/* during FETCH/STORE/SEARCH: keep
					   expunged messages numbered */
#define STORE_SYNC_NO_DISK	0x02	/* report only what this process
					   already knows; no system call */

/* Look at the disk (cheap when nothing changed) and report the changes
 * since the last sync. STORE_RESET: the mailbox is gone or its
 * UIDVALIDITY changed; the session must close the view (IMAP: BYE). */
enum store_result store_view_sync(struct store_view *v, unsigned flags,
		    const struct store_sync_cb *cb, void *arg,
		    const char **error_r) __attribute__((warn_unused_result));

/* Sequence numbers and UIDs in the view: 0 when out of range or absent.
 * store_view_seq_ge() is the first seq whose UID is >= uid (for UID
 * ranges), store_view_seq_le() the last whose UID is <= uid. */
uint32_t	 store_view_count(struct store_view *v);
uint32_t	 store_view_uid(struct store_view *v, uint32_t seq);
uint32_t	 store_view_seq(struct store_view *v, uint32_t uid);
uint32_t	 store_view_seq_ge(struct store_view *v, uint32_t uid);
uint32_t	 store_view_seq_le(struct store_view *v, uint32_t uid);

/* The view's keyword names: index i is bit i of store_msg_info.keywords;
 * an entry is NULL for a letter that names no keyword (another program's
 * file). Valid until the next store_* call on this mailbox. */
const char *const *store_view_keywords(struct store_view *v, size_t *n_r);
/* The index of a keyword (case-insensitive, RFC 3501); with create, a new
 * one is added to dovecot-keywords (STORE_LIMIT when all 26 are used). */
enum store_result store_view_keyword(struct store_view *v, const char *name,
		    bool create, unsigned *index_r, const char **error_r)
		    __attribute__((warn_unused_result));

/*
 * Messages, by sequence number of the view. None of these changes the
 * sequence numbering.
 */

struct store_msg_info {
	uint32_t	 uid;
	unsigned	 flags;		/* STORE_F_*, with STORE_F_RECENT */
	uint32_t	 keywords;	/* bit i: store_view_keywords()[i] */
	uint64_t	 modseq;
	bool		 expunged;	/* gone; numbered until reported */
};

/* No I/O. -1 when seq is out of range. */
int		 store_view_msg(struct store_view *v, uint32_t seq,
		    struct store_msg_info *info_r)
		    __attribute__((warn_unused_result));
/* RFC822.SIZE: octets with CRLF line ends (a bare LF counts two). From
 * the file name (W=), the index, or by reading the file once. */
enum store_result store_msg_size(struct store_view *v, uint32_t seq,
		    uint64_t *size_r, const char **error_r)
		    __attribute__((warn_unused_result));
/* INTERNALDATE: the file's mtime (as Dovecot). */
enum store_result store_msg_date(struct store_view *v, uint32_t seq,
		    time_t *date_r, const char **error_r)
		    __attribute__((warn_unused_result));

/* A message's content with CRLF line ends. data/len are a read-only
 * mapping of the file when it has only CRLF ends, else a converted copy;
 * fd is the open file (raw octets, for callers that stream themselves).
 * Valid until store_msg_release(), also if the message is expunged
 * meanwhile. */
struct store_msg_data {
	const uint8_t	*data;
	size_t		 len;		/* == RFC822.SIZE unless header_only */
	bool		 header_only;	/* data is the header section only */
	int		 fd;
	uint64_t	 raw_size;	/* octets in the file */
	void		*map_;		/* private */
	size_t		 maplen_;
	uint8_t		*conv_;
	uint8_t		*read_;
};

enum store_result store_msg_map(struct store_view *v, uint32_t seq,
		    struct store_msg_data *d, const char **error_r)
		    __attribute__((warn_unused_result));
/* The same for the header section only (through its empty line), read
 * without the body: for ENVELOPE, HEADER sections and header SEARCH
 * keys. header_only is false when the data is the whole message (no
 * body, or a header too long to read apart). */
enum store_result store_msg_map_header(struct store_view *v, uint32_t seq,
		    struct store_msg_data *d, const char **error_r)
		    __attribute__((warn_unused_result));
void		 store_msg_release(struct store_msg_data *d);

/*
 * Digests: small summaries of a message that the layer above makes from
 * its content (IMAP: the header fields clients ask for most, BODY and
 * BODYSTRUCTURE), up to STORE_DIGEST_KINDS per message, kept in memory by
 * the store per mailbox and UID and shared by the sessions of the
 * process. A message's content never changes, so neither do its digests;
 * the store may drop them at any time (memory), and then the caller
 * makes them again. store_msg_digest's pointer is valid until the next
 * store_msg_set_digest() or sync. Digests over STORE_DIGEST_MAX octets
 * are not kept.
 */
#define STORE_DIGEST_MAX	(8 * 1024)
#define STORE_DIGEST_KINDS	4	/* kinds 0..3, the caller's to name */
bool		 store_msg_digest(struct store_view *v, uint32_t seq,
		    unsigned kind, const char **data_r, size_t *len_r);
void		 store_msg_set_digest(struct store_view *v, uint32_t seq,
		    unsigned kind, const char *data, size_t len);

/*
 * Changes. A file renamed or expunged by another process meanwhile is
 * found again by its base name; an expunged one is skipped (and reported
 * by the next sync).
 */

enum store_flag_op {
	STORE_FLAGS_SET,	/* FLAGS */
	STORE_FLAGS_ADD,	/* +FLAGS */
	STORE_FLAGS_REMOVE,	/* -FLAGS */
};

/* STORE on the messages of seqs (view sequence numbers). flags is
 * STORE_F_* without RECENT, keywords a bit set of keyword indexes. The
 * session's own changes are not reported to it again by the next sync
 * unless someone else changed the message too; read the new flags with
 * store_view_msg(). STORE_EXPUNGED when some messages were gone (the
 * others are changed). */
enum store_result store_view_update_flags(struct store_view *v,
		    const struct store_range *seqs, size_t n,
		    enum store_flag_op op, unsigned flags, uint32_t keywords,
		    const char **error_r) __attribute__((warn_unused_result));

/* EXPUNGE: remove the messages with \Deleted among those the view has
 * been told about; with uids (n > 0), only those (UID EXPUNGE). The
 * session reports them with its next store_view_sync(). */
enum store_result store_view_expunge(struct store_view *v,
		    const struct store_range *uids, size_t n,
		    const char **error_r) __attribute__((warn_unused_result));

/* COPY or MOVE the messages of seqs to the mailbox dst of the same user
 * (hard links, else copies; MOVE renames). On success *n_r pairs of
 * source and destination UIDs (COPYUID, RFC 4315) in pool, in sequence
 * order, and the destination's UIDVALIDITY. Moved messages are expunged
 * from the view's mailbox and reported by the next sync. STORE_EXPUNGED:
 * some were gone, the others were copied (their pairs are returned).
 * STORE_NONEXISTENT: no dst ([TRYCREATE]). Any other failure leaves the
 * destination unchanged. */
enum store_result store_view_copy(struct store_view *v,
		    const struct store_range *seqs, size_t n, const char *dst,
		    bool move, struct pool *pool, uint32_t *uidvalidity_r,
		    uint32_t **src_uids_r, uint32_t **dst_uids_r, size_t *n_r,
		    const char **error_r) __attribute__((warn_unused_result));

/*
 * Append. begin creates a file in the mailbox's tmp/; write adds octets as
 * they arrive (stored as given: CRLF from IMAP); commit fsyncs (unless
 * store_append_fsync() did), sets the internal date, moves the file into
 * cur/ with its flags and returns the new UID (APPENDUID). abort, or a
 * failed commit, removes the file. The caller checks sizes and quota.
 */
enum store_result store_append_begin(struct store_user *u, const char *name,
		    struct store_append **ap_r, const char **error_r)
		    __attribute__((warn_unused_result));
int		 store_append_write(struct store_append *ap, const void *data,
		    size_t len, const char **error_r)
		    __attribute__((warn_unused_result));
/* len octets of fd from offset. */
int		 store_append_write_fd(struct store_append *ap, int fd,
		    off_t offset, uint64_t len, const char **error_r)
		    __attribute__((warn_unused_result));
int		 store_append_fsync(struct store_append *ap,
		    const char **error_r) __attribute__((warn_unused_result));
uint64_t	 store_append_size(const struct store_append *ap);
/* flags STORE_F_*; keywords by name (created as needed; STORE_LIMIT past
 * 26); date 0: now. Frees the handle in every case. */
enum store_result store_append_commit(struct store_append **app,
		    unsigned flags, const char *const *keywords, size_t nkw,
		    time_t date, uint32_t *uidvalidity_r, uint32_t *uid_r,
		    const char **error_r) __attribute__((warn_unused_result));
void		 store_append_abort(struct store_append **app);
/* All of the above for a message in memory. */
enum store_result store_append_buf(struct store_user *u, const char *name,
		    const void *data, size_t len, unsigned flags,
		    const char *const *keywords, size_t nkw, time_t date,
		    uint32_t *uidvalidity_r, uint32_t *uid_r,
		    const char **error_r) __attribute__((warn_unused_result));

/*
 * Change notification (IMAP IDLE). cb runs on base's loop soon after a
 * file appears in, leaves or is renamed in new/ or cur/ of the view's
 * mailbox, by any process; then call store_view_sync(). One inotify
 * instance per process, one watch per directory shared by every view
 * watching it (see watch.h). Fails (STORE_TEMPFAIL) when the kernel's
 * watch limit is reached; the session should then poll.
 */
enum store_result store_view_watch(struct store_view *v,
		    struct event_base *base, void (*cb)(void *arg), void *arg,
		    const char **error_r) __attribute__((warn_unused_result));
void		 store_view_unwatch(struct store_view *v);

/* POP3 UIDL for a message: "%08X%08X" of uid and uidvalidity (Dovecot's
 * default pop3_uidl_format), into out (at least 17 octets). */
void		 store_pop3_uidl(uint32_t uidvalidity, uint32_t uid,
		    char *out, size_t outlen);

#endif
