/* pop3-private: what the files of the POP3 server share. The public entry
 * is pop3.h (pop3_accept, called by the worker for the pop3 and pop3s
 * listeners).
 *
 * Files (each one job):
 *   pop3-session.c   connection, TLS, timeouts, reading lines, output
 *                    with back-pressure, replies, the end of a session
 *   pop3-parse.c     one command line into struct pop3_cmd (pure)
 *   pop3-commands.c  the command table (which state allows what),
 *                    dispatch, CAPA, NOOP, QUIT
 *   pop3-cmd-auth.c  STLS USER PASS AUTH (password check on the offload
 *                    pool, delays, lockout)
 *   pop3-maildrop.c  the locked maildrop: the flock, INBOX's view, the
 *                    message list fixed at login, deletion marks, and
 *                    the UPDATE state
 *   pop3-cmd-msg.c   STAT LIST UIDL DELE RSET RETR TOP, multi-line
 *                    responses streamed and dot-stuffed
 *
 * The command contract. A handler runs on the worker's loop with the
 * parsed command (its string arguments point into the session's line
 * buffer, valid during the call only). It answers with pop3_ok() or
 * pop3_err(), or, for work that must wait (offload, a failed login's
 * delay, a long multi-line response), calls pop3_hold() first and
 * pop3_resume() when it has answered; until then no further command is
 * read, so pipelined commands are answered in order.
 *
 * Memory: an idle session holds this struct and the bufferevent (and
 * OpenSSL's state, whose buffers are released while idle); a logged-in
 * one also its maildrop (a store handle, the view, and per message 4
 * octets of size and 2 bits of marks). A multi-line response in progress
 * holds its struct pop3_stream (and, for RETR/TOP, the message's
 * mapping).
 */
#ifndef POSTIE_POP3_PRIVATE_H
#define POSTIE_POP3_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/conf.h"
#include "pop3/pop3.h"
#include "pop3/pop3-parse.h"

struct bufferevent;
struct evbuffer;
struct event;
struct pop3_stream;
struct store_user;
struct store_view;
struct worker;

#define POP3_INPUT_HIGHWAT	(16 * 1024)	/* read stops above this */
#define POP3_OUTPUT_HIGHWAT	(256 * 1024)	/* a stream waits above */
#define POP3_OUTPUT_LOWWAT	(64 * 1024)	/* ... until down to this */
#define POP3_CLOSE_FLUSH_SECS	10	/* for the last reply to leave */
#define POP3_PREAUTH_TIMEOUT	180	/* seconds, at most pop3_timeout */
#define POP3_MAX_ERRORS		10	/* bad commands, then close */
#define POP3_SASL_MAX		8192	/* decoded AUTH payload */
#define POP3_AUTH_LINE_MAX	(POP3_SASL_MAX / 3 * 4 + 8)
#define POP3_AUTH_DELAY_MAX	5	/* seconds after a failed login */
#define POP3_LOCK_FILE		"postie-pop3-lock"	/* in the user root */

enum pop3_state {
	POP3_AUTHORIZATION	= 0x1,
	POP3_TRANSACTION	= 0x2,
	POP3_UPDATE		= 0x4,	/* after QUIT: closing */
};

enum pop3_auth_step {
	POP3_AUTH_NONE,
	POP3_AUTH_PLAIN,	/* waiting for the PLAIN response line */
};

/* For the logout line. */
struct pop3_stats {
	uint64_t	 in;		/* octets read */
	uint64_t	 out;		/* octets queued */
	unsigned	 cmds;
	unsigned	 retrieved;	/* RETR answered +OK */
	unsigned	 deleted;	/* removed at QUIT */
};

/* The maildrop of a logged-in session (pop3-maildrop.c). Message numbers
 * are 1..count, fixed at login: they are the view's sequence numbers,
 * and the view is never synced. */
struct pop3_maildrop {
	struct store_user	*store;
	struct store_view	*view;
	int			 lock_fd;	/* flock(LOCK_EX) held */
	uint32_t		 count;
	uint32_t		 uidvalidity;
	uint32_t		 ndeleted;
	uint64_t		 octets;	/* of every message */
	uint64_t		 deleted_octets;
	uint32_t		*sizes;		/* [count], octets with CRLF */
	uint8_t			*deleted;	/* bit per message */
	uint8_t			*retrieved;	/* bit per message: \Seen at
						   QUIT */
};

struct pop3_session {
	uint64_t		 id;		/* first field of log lines */
	struct worker		*w;		/* borrowed */
	const struct listener	*l;		/* borrowed from the master */
	const struct config	*cfg;		/* borrowed from the worker */
	struct bufferevent	*bev;		/* the TLS filter once up */
	struct event		*delay_ev;	/* failed login delay */
	struct event		*free_ev;	/* frees the session */
	char			 peer[64];	/* address text, for logs */
	struct sockaddr_storage	 peer_ss;
	bool			 tls;
	bool			 loopback;	/* the client is on loopback */
	bool			 counted;	/* in the peer table */
	bool			 closing;	/* flush output, then free */
	bool			 dead;		/* the connection is gone */
	bool			 in_input;	/* in process_input() */
	bool			 busy;		/* a command is not answered */
	bool			 skip_line;	/* inside a line too long */
	time_t			 close_deadline;
	const char		*reason;	/* static: why it ended */
	unsigned		 pending;	/* offload jobs in flight */
	enum pop3_state		 state;
	enum pop3_auth_step	 auth_step;
	unsigned		 errors;	/* for POP3_MAX_ERRORS */
	unsigned		 auth_failures;
	struct pop3_stats	 stats;
	char			*user_arg;	/* USER's name until PASS:
						   heap */
	char			*user;		/* after login: the canonical
						   address, heap */
	struct pop3_maildrop	*drop;		/* after login */
	struct pop3_stream	*stream;	/* multi-line response being
						   sent, else NULL */
	void			(*output_wait)(struct pop3_session *);
};

/* pop3-session.c */
/* "+OK text" / "-ERR text"; the text never holds a line break. */
void	pop3_ok(struct pop3_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	pop3_err(struct pop3_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
struct evbuffer *pop3_output(struct pop3_session *s);
/* More than POP3_OUTPUT_HIGHWAT octets wait to be sent. */
bool	pop3_output_full(struct pop3_session *s);
/* Call fn once the output has drained to POP3_OUTPUT_LOWWAT (not if the
 * session closes meanwhile). */
void	pop3_output_wait(struct pop3_session *s,
	    void (*fn)(struct pop3_session *));
/* The command waits: read nothing more until pop3_resume(). */
void	pop3_hold(struct pop3_session *s);
/* The command that held the session has answered: read on. */
void	pop3_resume(struct pop3_session *s);
/* Run work on an offload thread, then done on the loop (the session is
 * held meanwhile). done always runs and owns arg; when s->closing is set
 * it must only release arg. */
void	pop3_offload(struct pop3_session *s,
	    void (*work)(void *tctx, void *arg),
	    void (*done)(struct pop3_session *s, void *arg), void *arg);
/* Close after what was queued is written. */
void	pop3_close(struct pop3_session *s);
/* The read timeout for the session's state (shorter before login). */
void	pop3_session_set_timeout(struct pop3_session *s);
/* Start TLS (STLS, after its +OK is queued): pipelined input is
 * discarded. */
int	pop3_session_starttls(struct pop3_session *s);
/* "TLSv1.3:TLS_AES_256_GCM_SHA384" (one word, for logs), or "no". */
const char *pop3_tls_info(struct pop3_session *s, char *out, size_t outlen);

/* pop3-commands.c */
/* One command line (without its line end). */
void	pop3_dispatch(struct pop3_session *s, const uint8_t *line, size_t len);
/* USER/PASS and AUTH are allowed: over TLS, or from loopback when
 * plaintext_auth_from_loopback is set. */
bool	pop3_login_allowed(const struct pop3_session *s);
void	pop3_cmd_capa(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_noop(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_quit(struct pop3_session *s, const struct pop3_cmd *cmd);

/* pop3-cmd-auth.c */
void	pop3_cmd_stls(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd);
/* The line answering AUTH's "+ " (the session reads it raw). */
void	pop3_auth_continue(struct pop3_session *s, const uint8_t *line,
	    size_t len);

/* pop3-maildrop.c */
/* Lock the maildrop of u (which it takes over) and open INBOX: 0; -2
 * when another POP3 session has it; -1 on a failure (the reason for the
 * log in *error_r). On failure u is freed and *reply_r is the reply for
 * the client, with its response code. */
int	pop3_maildrop_open(struct store_user *u, struct pop3_maildrop **md_r,
	    const char **reply_r, const char **error_r)
	    __attribute__((warn_unused_result));
/* Close the view and release the lock; nothing is deleted. */
void	pop3_maildrop_free(struct pop3_maildrop **mdp);
/* Message msg exists and is not marked deleted. */
bool	pop3_maildrop_valid(const struct pop3_maildrop *md, uint32_t msg);
void	pop3_maildrop_mark(struct pop3_maildrop *md, uint32_t msg);
void	pop3_maildrop_reset(struct pop3_maildrop *md);
void	pop3_maildrop_retrieved(struct pop3_maildrop *md, uint32_t msg);
/* The UIDL of msg (out: at least 17 octets). */
void	pop3_maildrop_uidl(struct pop3_maildrop *md, uint32_t msg,
	    char *out, size_t outlen);
/* The UPDATE state: \Seen for the retrieved messages, then the marked
 * ones are removed. 0, or -1 when some could not be (reason in
 * *error_r); *removed_r counts the removed ones either way. */
int	pop3_maildrop_update(struct pop3_maildrop *md, unsigned *removed_r,
	    const char **error_r) __attribute__((warn_unused_result));

/* pop3-cmd-msg.c */
void	pop3_cmd_stat(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_uidl(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_dele(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_rset(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd);
void	pop3_cmd_top(struct pop3_session *s, const struct pop3_cmd *cmd);
/* Release a stream in progress (session end). */
void	pop3_stream_free(struct pop3_session *s);

#endif
