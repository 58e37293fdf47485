/* imap-private: what the files of the IMAP server share. The public entry
 * is imap.h (imap_accept, called by the worker for the imap and imaps
 * listeners).
 *
 * Files (each one job):
 *   imap-session.c     connection, TLS, timeouts, reading through the
 *                      parser (imap/parse.h), literals, output with
 *                      back-pressure, the command loop, BYE
 *   imap-commands.c    the command table and dispatch (states, UID),
 *                      CAPABILITY strings
 *   imap-reply.c       output helpers: tagged/untagged replies, strings,
 *                      literals, flag lists, store errors as response
 *                      codes, mailbox name arguments
 *   imap-notify.c      untagged EXISTS/RECENT/EXPUNGE/FETCH FLAGS from
 *                      store_view_sync(), at the moments RFC 3501 allows
 *   imap-cmd-any.c     CAPABILITY NOOP LOGOUT ID ENABLE NAMESPACE
 *   imap-cmd-auth.c    STARTTLS LOGIN AUTHENTICATE (offload pool)
 *   imap-cmd-mailbox.c CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LSUB
 *                      STATUS
 *   imap-cmd-list.c    LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE,
 *                      CHILDREN)
 *   imap-cmd-select.c  SELECT EXAMINE CLOSE UNSELECT CHECK EXPUNGE
 *                      (UID EXPUNGE)
 *   imap-cmd-append.c  APPEND (streamed literal, UIDPLUS APPENDUID)
 *   imap-cmd-idle.c    IDLE (store/watch.h)
 *   imap-cmd-fetch.c   FETCH, UID FETCH (imap/imap-body.h)
 *   imap-cmd-store.c   STORE, UID STORE
 *   imap-cmd-copy.c    COPY, MOVE, UID COPY, UID MOVE (COPYUID)
 *   imap-cmd-search.c  SEARCH, UID SEARCH (imap/search.h)
 *   imap-seq.c         sequence sets of a command against the view
 *
 * The command contract. A handler runs on the worker's loop with the
 * command parsed (struct imap_cmd; it and cmd->pool, the command's own
 * pool, stay valid until imap_done()). It checks its arguments (BAD with
 * a precise text on a mistake) and, synchronously or after offloaded work
 * (imap_offload), ends by calling imap_done() exactly once. The session
 * reads no further command until then. Untagged data goes out with the
 * imap_untagged()/imap_reply_* helpers before imap_done(). imap_done()
 * itself first reports what changed in the selected mailbox
 * (imap_notify()), with expunges held back for the non-UID forms of
 * FETCH, STORE and SEARCH (the table's IMAP_CMD_NO_EXPUNGE), so handlers
 * do not call imap_notify() themselves. A handler that must wait for the
 * client's output to drain (a long FETCH) uses imap_output_full() and
 * imap_output_wait().
 *
 * Memory: an idle session holds only this struct, the parser, the
 * bufferevent (and OpenSSL's state, whose buffers are released while
 * idle: SSL_MODE_RELEASE_BUFFERS), its store_user and view (mailbox data
 * is shared between the views of a process). Nothing that outlives a
 * command is allocated from s->pool; it exists as the parent of the
 * commands' pools.
 */
#ifndef POSTIE_IMAP_PRIVATE_H
#define POSTIE_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "imap/imap.h"
#include "imap/parse.h"
#include "lib/conf.h"
#include "store/store.h"
#include "worker/worker.h"

struct bufferevent;
struct evbuffer;
struct event;
struct imap_append;
struct imap_command;
struct pool;

#define IMAP_INPUT_HIGHWAT	(128 * 1024)	/* read stops above this */
#define IMAP_OUTPUT_HIGHWAT	(256 * 1024)	/* imap_output_full() */
#define IMAP_OUTPUT_LOWWAT	(64 * 1024)	/* imap_output_wait() fires */
#define IMAP_CLOSE_FLUSH_SECS	10	/* for the last reply to leave */
#define IMAP_PREAUTH_TIMEOUT	180	/* seconds, at most imap_timeout */
#define IMAP_IDLE_KEEPALIVE	120	/* seconds between "* OK Still here" */
#define IMAP_IDLE_POLL		5	/* seconds, when inotify fails */
#define IMAP_SASL_MAX		8192	/* decoded AUTHENTICATE payload */
#define IMAP_AUTH_LINE_MAX	(IMAP_SASL_MAX / 3 * 4 + 8)
#define IMAP_AUTH_DELAY_MAX	5	/* seconds after a failed login */
#define IMAP_IDLE_LINE_MAX	64	/* "DONE" CRLF, with room */
#define IMAP_LITERAL_PREAUTH	8192	/* synchronizing, before login */
#define IMAP_LITERAL_PREAUTH_NS	4096	/* non-synchronizing (LITERAL+) */

enum imap_state {
	IMAP_NOT_AUTH	= 0x1,
	IMAP_AUTH	= 0x2,
	IMAP_SELECTED	= 0x4,
	IMAP_LOGOUT	= 0x8,
};

/* ENABLEd extensions. */
#define IMAP_EN_UTF8	0x1	/* UTF8=ACCEPT (RFC 6855), if offered */

enum imap_auth_step {
	IMAP_AUTH_NONE,
	IMAP_AUTH_PLAIN,	/* waiting for the PLAIN response */
	IMAP_AUTH_LOGIN_USER,	/* waiting for the LOGIN user name */
	IMAP_AUTH_LOGIN_PASS,	/* waiting for the LOGIN password */
};

/* For the logout line. */
struct imap_stats {
	uint64_t	 in;		/* octets read */
	uint64_t	 out;		/* octets queued */
	unsigned	 cmds;
	unsigned	 appended;
	unsigned	 expunged;	/* EXPUNGE responses sent */
};

struct imap_session {
	uint64_t		 id;		/* first field of log lines */
	struct worker		*w;		/* borrowed */
	struct worker_conn	 wc;		/* told when the worker stops */
	const struct listener	*l;		/* borrowed from the master */
	const struct config	*cfg;		/* borrowed from the worker */
	struct pool		*pool;		/* the connection's: parent of
						   the commands' pools */
	struct bufferevent	*bev;		/* the TLS filter once up */
	struct imap_parser	*parser;
	struct event		*timer;		/* IDLE keepalive; NULL
						   outside IDLE */
	struct event		*delay_ev;	/* failed login delay */
	struct event		*free_ev;	/* frees the session */
	char			 peer[64];	/* address text, for logs */
	struct sockaddr_storage	 peer_ss;
	bool			 tls;
	bool			 loopback;	/* the client is on loopback */
	bool			 implicit_tls;	/* imaps */
	bool			 counted;	/* in the peer table */
	bool			 closing;	/* flush the output, then free */
	bool			 shutdown;	/* the worker stops: BYE after
						   the running command */
	bool			 dead;		/* the connection is gone */
	bool			 in_input;	/* process_input() on the stack */
	time_t			 close_deadline;
	const char		*reason;	/* static: why it ended, for
						   the last log line */
	unsigned		 pending;	/* offload jobs in flight */
	enum imap_state		 state;
	unsigned		 enabled;	/* IMAP_EN_* */
	unsigned		 errors;	/* BAD answers, for imap_max_errors */
	bool			 bad_uncounted;	/* this BAD is no error: a valid
						   command in the wrong state */
	unsigned		 auth_failures;
	struct imap_stats	 stats;

	/* after login */
	char			*user;		/* canonical address, heap */
	struct store_user	*store;
	struct store_view	*view;		/* SELECTED */
	bool			 readonly;	/* EXAMINE */
	uint64_t		 max_message_size; /* APPEND: the domain's or
						      the global limit */
	uint64_t		 quota_bytes;	/* 0: none */

	/* the command in progress (NULL between commands) */
	const struct imap_cmd	*cmd;
	const struct imap_command *command;	/* its table entry */
	struct imap_cmd		*detached;	/* heap copy while waiting long
						   (IDLE, AUTHENTICATE) */
	bool			 idling;
	bool			 idle_watch;	/* inotify, else polling */
	unsigned		 idle_ticks;	/* timer runs while polling */
	enum imap_auth_step	 auth_step;
	char			*auth_login_user; /* heap, wiped */
	struct imap_append	*append;	/* APPEND between its literal
						   and imap_done() */
	void			(*output_wait)(struct imap_session *);
	void			*cmd_state;	/* the waiting handler's own
						   state (FETCH, SEARCH), in
						   cmd->pool; borrowed */
};

/* imap-session.c */
/* The command is finished: first the untagged updates of imap_notify()
 * (unless the session is closing or the mailbox was reset), then
 * "tag OK|NO|BAD text" (status one of those); then the session reads the
 * next command. A BAD counts towards imap_max_errors. */
void	imap_done(struct imap_session *s, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "* BYE text", then close after what was queued is written. */
void	imap_bye(struct imap_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Close after what was queued is written ("* BYE" sent by the caller). */
void	imap_close(struct imap_session *s);
struct evbuffer *imap_output(struct imap_session *s);
/* More than IMAP_OUTPUT_HIGHWAT octets wait to be sent: a handler that
 * produces much output should stop and call imap_output_wait(). */
bool	imap_output_full(struct imap_session *s);
/* Call fn once the output has drained to IMAP_OUTPUT_LOWWAT (not called
 * if the session closes meanwhile: the handler's imap_done() is then
 * owed no more, and the session frees itself). */
void	imap_output_wait(struct imap_session *s,
	    void (*fn)(struct imap_session *));
/* Run work on an offload thread, then done on the loop. done always runs
 * (it owns arg); when s->closing is set it must only release arg and call
 * imap_done(), which then sends nothing. */
void	imap_offload(struct imap_session *s,
	    void (*work)(void *tctx, void *arg),
	    void (*done)(struct imap_session *s, void *arg), void *arg);
/* Keep only the tag and name of the running command and free its parse
 * tree and pool, for a command that waits long for the client (IDLE,
 * AUTHENTICATE); s->cmd then has no arguments. */
void	imap_cmd_detach(struct imap_session *s);
/* The read timeout for the session's state (shorter before login). */
void	imap_session_set_timeout(struct imap_session *s);
/* Leave SELECTED: close the view (no expunge) and stop watching it. */
void	imap_unselect(struct imap_session *s);
/* "TLSv1.3:TLS_AES_256_GCM_SHA384" (one word, for logs), or "no". */
const char *imap_tls_info(struct imap_session *s, char *out, size_t outlen);
/* Start TLS on the plain connection (STARTTLS, after its OK is queued):
 * pipelined input is discarded. */
int	imap_session_starttls(struct imap_session *s);
/* Refuse the literal the parser waits on and answer its command with
 * "tag status text" (for imap_append_literal()). */
void	imap__refuse_literal(struct imap_session *s, const char *status,
	    const char *text);

/* imap-reply.c */
/* "* " fmt CRLF */
void	imap_untagged(struct imap_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* An IMAP string: quoted when it can be, else a literal; NIL for NULL. */
void	imap_reply_string(struct evbuffer *out, const char *s, size_t len);
/* An astring: an atom when it can be (not "NIL"), else a string. */
void	imap_reply_astring(struct evbuffer *out, const char *s);
/* "(\Seen \Answered $Label)" from store flags (STORE_F_*, \Recent too)
 * and keyword bits (names from store_view_keywords(v)). */
void	imap_reply_flags(struct evbuffer *out, unsigned flags,
	    uint64_t keywords, struct store_view *v);
/* System flags between imap/flags.h (IMAP_FLAG_*) and the store's
 * STORE_F_* bits; \Recent maps both ways. */
unsigned imap_flags_to_store(unsigned imap_flags);
unsigned imap_flags_from_store(unsigned store_flags);
/* The RFC 5530 response code for a store result ("[NONEXISTENT]"; "" for
 * STORE_OK); trycreate: [TRYCREATE] for STORE_NONEXISTENT (APPEND, COPY,
 * MOVE). */
const char *imap_store_code(enum store_result r, bool trycreate);
/* Finish the command with "NO <code> <text>" for a failed store call. A
 * STORE_TEMPFAIL's error (it may name paths) goes to the log only and the
 * client reads "[SERVERBUG] Internal error"; STORE_RESET says BYE. */
void	imap_done_store(struct imap_session *s, enum store_result r,
	    const char *error, bool trycreate);
/* A mailbox argument (astring, modified UTF-7 as RFC 3501 5.1.3) in its
 * canonical store form (canon: STORE_NAME_MAX + 1 octets). 0; -1 when it
 * is no astring (answer BAD *error_r); -2 when it is no acceptable name
 * (answer NO [NONEXISTENT] or [CANNOT] *error_r). */
int	imap_mailbox_arg(const struct imap_arg *a, char *canon,
	    size_t canonlen, const char **error_r)
	    __attribute__((warn_unused_result));

/* imap-notify.c: report what changed in the selected mailbox. With
 * allow_expunge false (during FETCH, STORE, SEARCH, the non-UID forms,
 * RFC 3501 7.4.1) expunges wait for a later command. On STORE_RESET the
 * session says BYE and closes; returns -1 then. Called by imap_done()
 * and by IDLE; handlers need not. */
int	imap_notify(struct imap_session *s, bool allow_expunge);

/* imap-seq.c: a sequence set argument (or UID set with uid) as ranges of
 * sequence numbers in the view; "*" is the last message; UIDs not in the
 * view are skipped. -1 with *error_r for a bad set (BAD). */
int	imap_seq_resolve(struct imap_session *s, const char *set, bool uid,
	    struct pool *pool, struct store_range **ranges_r, size_t *n_r,
	    const char **error_r) __attribute__((warn_unused_result));
/* A UID set as ranges of UIDs ("*": the highest UID in the view), for
 * UID EXPUNGE. */
int	imap_uid_ranges(struct imap_session *s, const char *set,
	    struct pool *pool, struct store_range **ranges_r, size_t *n_r,
	    const char **error_r) __attribute__((warn_unused_result));

/* imap-commands.c */
typedef void (*imap_cmd_fn)(struct imap_session *s,
	    const struct imap_cmd *cmd);

#define IMAP_CMD_NO_EXPUNGE	0x1	/* no EXPUNGE responses while it runs,
					   unless given as UID command */

struct imap_command {
	const char	*name;		/* upper case */
	unsigned	 states;	/* IMAP_* where it is allowed */
	bool		 uid_ok;	/* may follow "UID" */
	unsigned	 flags;		/* IMAP_CMD_* */
	imap_cmd_fn	 run;
};

/* Run cmd, or answer BAD (unknown, wrong state, UID not allowed). */
void	imap_dispatch(struct imap_session *s, const struct imap_cmd *cmd);
/* The CAPABILITY list for the session's current state. */
const char *imap_capabilities(const struct imap_session *s);
/* LOGIN and AUTHENTICATE are allowed now (TLS, or loopback when
 * plaintext_auth_from_loopback is set). */
bool	imap_login_allowed(const struct imap_session *s);

/* imap-cmd-auth.c: an AUTHENTICATE continuation line (without CRLF). */
void	imap_auth_continue(struct imap_session *s, const uint8_t *line,
	    size_t len);

/* imap-cmd-append.c */
/* The parser stopped at an APPEND message literal (lit): check the
 * mailbox, flags, date and size, then stream it into the store or refuse
 * it (answering the command). The arguments before it come from
 * imap_parser_literal_args(). */
void	imap_append_literal(struct imap_session *s,
	    const struct imap_literal *lit);
/* Message octets while s->append wants more; returns how many of data it
 * took. */
size_t	imap_append_data(struct imap_session *s, const uint8_t *data,
	    size_t len);
/* Octets of the message literal still to come (0: none streaming). */
uint64_t imap_append_left(const struct imap_session *s);
/* Drop an unfinished APPEND (the session closes, or the command failed). */
void	imap_append_free(struct imap_session *s);

/* imap-cmd-idle.c: a line while idling (without CRLF). */
void	imap_idle_line(struct imap_session *s, const uint8_t *line,
	    size_t len);
/* Stop watching and the keepalive timer (IDLE ends or the session
 * closes). */
void	imap_idle_stop(struct imap_session *s);

/* Handlers (imap-cmd-*.c). */
void	imap_cmd_capability(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_noop(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_logout(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_id(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_enable(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_namespace(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_starttls(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_login(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_authenticate(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_create(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_delete(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_rename(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_subscribe(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_unsubscribe(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_list(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_lsub(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_status(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_select(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_examine(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_close(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_unselect(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_check(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_expunge(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_append(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_idle(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_fetch(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_store(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_copy(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_move(struct imap_session *, const struct imap_cmd *);
void	imap_cmd_search(struct imap_session *, const struct imap_cmd *);

/* imap-cmd-mailbox.c, for LIST RETURN (STATUS ...): parse a STATUS item
 * list into STORE_ST_* bits (-1 with *error_r for BAD), and write
 * "* STATUS name (...)". */
int	imap_status_items(const struct imap_arg *list, size_t count,
	    unsigned *items_r, const char **error_r)
	    __attribute__((warn_unused_result));
void	imap_status_reply(struct imap_session *s, const char *name,
	    unsigned items, const struct store_status *st);

#endif
