/* store-private: the structures shared by the files of src/store/ (see
 * store.h for the contract).
 *
 * A struct box is one mailbox as this process knows it, loaded once and
 * shared by every view: the messages that exist (sorted by UID), their
 * file names in one arena, a hash from base name to message, what was
 * read of dovecot-uidlist, and a log of changes that the views have not
 * all reported yet. A struct store_view is a session's position in that
 * log plus the highest UID it was told about; it holds no per-message
 * data unless expunges are pending for it. */
#ifndef POSTIE_STORE_PRIVATE_H
#define POSTIE_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"
#include "store/uidlist.h"

#define STORE_PATH_MAX		4096
#define STORE_FILE_NAME_MAX	255
#define STORE_SIZE_UNKNOWN	UINT64_MAX
#define STORE_DATE_UNKNOWN	INT64_MIN

/* A message that exists (or existed when last looked at). */
struct smsg {
	uint32_t	 uid;
	uint32_t	 name;		/* offset of the file name in names */
	uint64_t	 modseq;
	uint64_t	 vsize;		/* RFC822.SIZE, or STORE_SIZE_UNKNOWN */
	int64_t		 date;		/* mtime, or STORE_DATE_UNKNOWN */
	uint32_t	 keywords;	/* bit i: letter 'a' + i */
	uint16_t	 namelen;
	uint8_t		 flags;		/* STORE_F_* */
	uint8_t		 st;		/* SM_* */
};

#define SM_NEW		0x01	/* in new/, else in cur/ */
#define SM_MARK		0x02	/* found by the scan in progress */
#define SM_INDEXED	0x04	/* the index holds our current values */

/* A uidlist record whose file this process has not seen yet. */
struct spend {
	uint32_t	 uid;
	uint32_t	 name;		/* offset of the base name in names */
	uint16_t	 namelen;
	uint64_t	 vsize;
};

/* A change the views have to report. */
struct schange {
	uint32_t	 uid;
	uint32_t	 origin;	/* view id that made it, 0: another */
	uint8_t		 kind;		/* CH_* */
};

#define CH_FLAGS	1
#define CH_EXPUNGE	2

/* Open-addressing table of uint32 indexes (+1) keyed by base name. */
struct nametab {
	uint32_t	*slot;
	uint32_t	 cap;		/* power of two, or 0 */
	uint32_t	 used;
};

/* What stat(2) said about a file or directory at the last look. */
struct stamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
	bool		 valid;
};

/* digest.c: per-message digests of one box. */
struct digest_slot {
	uint32_t	 uid;		/* 0: empty */
	uint8_t		 kind;
	uint32_t	 len;
	size_t		 off;		/* in arena */
};

struct box_digests {
	struct digest_slot *slot;
	uint32_t	 nslots;	/* a power of 2 */
	uint32_t	 n;
	char		*arena;
	size_t		 used;
	size_t		 cap;
};

struct box {
	struct box	*hnext;		/* registry hash chain */
	char		*path;		/* the mailbox directory */
	char		*name;		/* canonical IMAP name */
	char		*root;		/* the user's root (INBOX) */
	char		*hostname;	/* for new file names, or NULL */
	unsigned	 refs;		/* views and running calls */
	dev_t		 cur_dev;	/* identity of this mailbox: */
	ino_t		 cur_ino;	/* its cur/ directory */

	/* Messages, sorted by UID. */
	struct smsg	*msgs;
	uint32_t	 nmsgs;
	uint32_t	 capmsgs;
	struct nametab	 mtab;		/* base name -> msgs index */
	char		*names;		/* arena of NUL-terminated names */
	size_t		 nameslen;
	size_t		 namescap;
	size_t		 namesgarbage;
	bool		 has_new;	/* some message is in new/ */

	/* dovecot-uidlist as read. */
	uint32_t	 uidvalidity;	/* 0: not known yet */
	uint32_t	 next_uid;
	char		 guid[33];
	char		*hdr_ext;	/* other header fields, kept */
	struct stamp	 ul_st;		/* valid: the file exists */
	off_t		 ul_off;	/* end of the last complete line read */
	uint32_t	 ul_last_uid;	/* highest UID in the file */
	uint32_t	 ul_lines;	/* records in the file */
	bool		 ul_rewrite;	/* the file should be written anew */
	struct uidlist_reader ul_rd;
	struct spend	*pend;		/* records of files not seen yet */
	uint32_t	 npend;
	uint32_t	 cappend;
	struct nametab	 ptab;		/* base name -> pend index */

	/* Directories. */
	struct stamp	 new_st;
	struct stamp	 cur_st;
	bool		 new_dirty;	/* rescan even if the stamp matches */
	bool		 cur_dirty;
	/* With inotify, the event counts the box state matches instead. */
	struct store_watch *pwatch;
	uint64_t	 new_gen;
	uint64_t	 cur_gen;

	/* dovecot-keywords: kw[i] names letter 'a' + i, or NULL. */
	char		*kw[STORE_KEYWORDS_MAX];
	unsigned	 nkw;
	struct stamp	 kw_st;

	/* Shared counters (postie-lock), as last seen. */
	uint64_t	 highest_modseq;
	uint32_t	 first_recent;	/* first UID nobody claimed */

	/* Changes not yet reported by every view. */
	struct schange	*log;
	size_t		 nlog;
	size_t		 caplog;
	uint64_t	 log_base;	/* absolute number of log[0] */
	uint64_t	 gen;		/* bumped by every change of msgs */
	struct store_view *views;

	/* postie-index. */
	unsigned	 index_dirty;	/* values not yet in the file */
	uint32_t	 index_uv;	/* its UIDVALIDITY, 0: none */
	struct index_rec *idx_recs;	/* read at load, until applied */
	size_t		 nidx;

	bool		 gone;		/* deleted, renamed or reset */
	bool		 in_sync;

	struct box_digests digests;

	/* Held by nothing, kept loaded for the next SELECT or STATUS. */
	struct box	*idle_next;
	struct box	*idle_prev;
	uint32_t	 idle_msgs;	/* nmsgs when it became idle */
	bool		 idle;
};

struct store_user {
	char		*root;
	char		*hostname;
};

struct store_view {
	struct box	*box;
	struct store_view *next;	/* box->views */
	uint32_t	 id;		/* origin of its own changes */
	bool		 readonly;
	bool		 claims;	/* takes \Recent (read-write IMAP) */
	uint32_t	 uid_last;	/* highest UID reported */
	uint64_t	 log_pos;	/* next log entry to report */
	uint64_t	 modseq_seen;
	uint32_t	 ro_recent;	/* read-only: first recent UID */
	struct store_range *recent;	/* UID ranges claimed as \Recent */
	size_t		 nrecent;
	/* Expunged UIDs the view still numbers, sorted; valid for gen. */
	uint32_t	*pexp;
	size_t		 npexp;
	size_t		 cappexp;
	uint64_t	 pexp_gen;
	uint32_t	 live;		/* msgs with uid <= uid_last */
	struct store_watch *watch;
};

/* digest.c */
void		 box_digests_clear(struct box *b);

/* store.c */
enum store_result box_get(const struct store_user *u, const char *canon,
		    unsigned sync_flags, struct box **box_r,
		    const char **error_r);

/* box.c: the registry, names, hash tables, messages, the log. */
struct box	*box_lookup(const char *path, dev_t dev, ino_t ino);
struct box	*box_new(const char *path, const char *name, const char *root,
		    const char *hostname, dev_t dev, ino_t ino);
void		 box_forget(struct box *b);
void		 box_forget_path(const char *path);
void		 box_hold(struct box *b);
struct box	*box_idle_oldest(void);
void		 box_put(struct box **bp);
const char	*box_name_of(const struct box *b, const struct smsg *m);
size_t		 box_base_len(const char *name, size_t len);
int		 box_set_name(struct box *b, struct smsg *m, const char *name,
		    size_t len);
void		 box_tab_rebuild(struct box *b);
uint32_t	 box_lookup_base(const struct box *b, const char *base,
		    size_t len);
uint32_t	 box_lookup_pend(const struct box *b, const char *base,
		    size_t len);
void		 box_add_pend(struct box *b, uint32_t uid, const char *base,
		    size_t len, uint64_t vsize);
void		 box_clear_pend(struct box *b);
uint32_t	 box_lower_bound(const struct box *b, uint32_t uid);
uint32_t	 box_find_uid(const struct box *b, uint32_t uid);
uint32_t	 box_insert_msg(struct box *b, const struct smsg *m,
		    const char *name, size_t len);
void		 box_append_unsorted(struct box *b, const struct smsg *m,
		    const char *name, size_t len);
void		 box_finish_appends(struct box *b);
void		 box_remove_msgs(struct box *b, const uint32_t *idx, size_t n);
int		 box_subpath(const struct box *b, const char *sub, char *out,
		    size_t outlen);
int		 box_path(const struct box *b, const struct smsg *m,
		    char *out, size_t outlen);
void		 box_log(struct box *b, uint32_t uid, uint8_t kind,
		    uint32_t origin);
void		 box_log_trim(struct box *b);

/* Our own changes to new/ and cur/ (renames, links, unlinks) need no
 * rescan when inotify saw exactly those events in between. */
struct box_own {
	uint64_t	 gen[2];
	bool		 ok;
};

void		 box_own_begin(struct box *b, struct box_own *o);
void		 box_own_end(struct box *b, const struct box_own *o,
		    unsigned dnew, unsigned dcur);

/* box-sync.c: bring the box up to date with the disk. */
#define BOX_SYNC_FORCE	0x01	/* rescan both directories */
#define BOX_SYNC_MOVE	0x02	/* move new/ to cur/ (a read-write view) */
enum store_result box_sync(struct box *b, unsigned flags,
		    const char **error_r);
enum store_result box_add_files(struct box *b, const char *const *names,
		    const size_t *lens, size_t n, uint32_t *uids_r,
		    const char **error_r);

/* box-uidlist.c: dovecot-uidlist. */
int		 box_uidlist_refresh(struct box *b, bool *reset_r,
		    const char **error_r);
int		 box_uidlist_append(struct box *b, const uint32_t *idx,
		    size_t n, int *fd_r, const char **error_r);
int		 box_uidlist_write(struct box *b, const char **error_r);
bool		 box_uidlist_exists(const struct box *b);

/* box-index.c: postie-index. */
void		 box_index_load(struct box *b);
void		 box_index_apply(struct box *b);
void		 box_index_save(struct box *b);

/* lock.c: flock on postie-lock, Dovecot's dotlocks, shared counters. */
struct boxlock {
	int		 fd;
	char		 dotlock[STORE_PATH_MAX];	/* "" when none */
	uint32_t	 uidvalidity;
	uint64_t	 modseq;
	uint32_t	 first_recent;
	bool		 dirty;
};

enum store_result lock_take(const char *dir, const char *dotlock_of,
		    struct boxlock *l, const char **error_r);
void		 lock_release(struct boxlock *l);
void		 lock_peek(const char *dir, struct boxlock *l);
uint64_t	 lock_next_modseq(struct boxlock *l, uint64_t at_least);
void		 box_lock_sync_counters(struct box *b, struct boxlock *l);
enum store_result dotlock_take(const char *path, char *lockpath,
		    size_t lockpathlen, const char **error_r);
int		 lock_uidvalidity_next(const char *root, uint32_t at_least,
		    uint32_t *uidvalidity_r);

/* keywords.c: dovecot-keywords. */
void		 box_keywords_refresh(struct box *b, bool force);
int		 box_keyword_find(const struct box *b, const char *name);
enum store_result box_keyword_add(struct box *b, const char *name,
		    unsigned *index_r, const char **error_r);

/* filename.c: Maildir file names. */
void		 fname_flags(const char *name, size_t len, uint8_t *flags_r,
		    uint32_t *keywords_r);
int		 fname_with_flags(const char *name, size_t len, uint8_t flags,
		    uint32_t keywords, char *out, size_t outlen);
bool		 fname_field(const char *name, size_t len, char key,
		    uint64_t *value_r);
bool		 fname_acceptable(const char *name, size_t len);

/* name.c */
int		 name_path(const char *root, const char *canon, char *out,
		    size_t outlen);

/* view.c */
uint32_t	 view_seq_to_index(struct store_view *v, uint32_t seq,
		    bool *expunged_r, uint32_t *uid_r);

/* msg.c */
enum store_result msg_open(struct box *b, uint32_t *ip, int *fd_r,
		    const char **error_r);
enum store_result msg_vsize(struct box *b, uint32_t i, uint64_t *size_r,
		    const char **error_r);

/* change.c */
void		 box_stamp_changes(struct box *b, const uint32_t *uids,
		    size_t n, uint32_t origin, uint8_t kind);

/* subscriptions.c */
struct strv;
int		 subs_read(const char *root, struct strv *names,
		    int *version_r, bool *exists_r);
enum store_result subs_change(const char *root, const char *canon, bool on,
		    const char **error_r);

/* util.c */
const char	*errno_text(int e);
int		 fsync_path(const char *path);
int		 stamp_get(const char *path, struct stamp *st);
bool		 stamp_same(const struct stamp *a, const struct stamp *b);
bool		 stamp_settled(const struct stamp *st,
		    const struct timespec *now);
int		 read_file(const char *path, size_t max, char **data_r,
		    size_t *len_r);
int		 write_file_atomic(const char *path, const char *tmp,
		    const void *data, size_t len, bool sync);
int		 mkdir_maildir(const char *path);
int		 mkdir_parents(const char *path);
int		 remove_tree(const char *path);
void		 tmp_cleanup(const char *mailbox);

#endif
