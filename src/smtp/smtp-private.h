/* smtp-private: what the files of the SMTP engine share. */
#ifndef POSTIE_SMTP_PRIVATE_H
#define POSTIE_SMTP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "smtp/data.h"
#include "smtp/parse.h"
#include "smtp/smtp.h"

struct bufferevent;
struct dir_target;
struct event;
struct evbuffer;
struct lmtp_msg;
struct queue_file;
struct smtp_cmd;

#define SMTP_INPUT_HIGHWAT	(256 * 1024)
#define SMTP_CLOSE_FLUSH_SECS	10	/* for the last reply to leave */

enum smtp_state {
	SMTP_ST_GREET,		/* connected, no EHLO/HELO yet */
	SMTP_ST_READY,		/* greeted, no transaction */
	SMTP_ST_MAIL,		/* MAIL accepted, no recipient yet */
	SMTP_ST_RCPT,		/* at least one recipient */
	SMTP_ST_DATA,		/* receiving DATA */
	SMTP_ST_BDAT,		/* receiving BDAT chunks */
	SMTP_ST_AUTH,		/* AUTH waiting for a continuation line */
};

enum smtp_auth_step {
	SMTP_AUTH_NONE,
	SMTP_AUTH_PLAIN,	/* waiting for the PLAIN response */
	SMTP_AUTH_LOGIN_USER,	/* waiting for the LOGIN user name */
	SMTP_AUTH_LOGIN_PASS,	/* waiting for the LOGIN password */
};

struct smtp_rcpt {
	const char	*address;	/* from tx->pool */
	const char	*notify;
	const char	*orcpt;
	/* LMTP: what RCPT resolved the address to, from tx->pool */
	const struct dir_target *targets;
	size_t		 ntargets;
};

struct smtp_tx {
	struct pool		*pool;		/* freed with the transaction */
	const char		*sender;	/* "" for <> */
	uint64_t		 size_declared;
	const char		*body;
	const char		*envid;
	const char		*ret;
	bool			 smtputf8;
	struct smtp_rcpt	*rcpts;
	size_t			 nrcpts;
	size_t			 rcpts_cap;
	unsigned		 rcpt_attempts;	/* RCPT commands, refused too */
	uint64_t		 max_size;	/* the smallest limit that applies */

	/* while receiving the message */
	struct queue_file	*qf;		/* NULL until DATA/BDAT */
	struct lmtp_msg		*lmtp;		/* LMTP's instead of qf */
	struct smtp_data	 data;		/* the DATA reader */
	struct smtp_received	 received;	/* Received: count for BDAT */
	struct buf		 headers;	/* submission: the header section
						   until it has been checked */
	bool			 headers_done;
	bool			 write_failed;
	int			 write_errno;
	uint64_t		 size;		/* message octets from the client */
	uint64_t		 bdat_left;	/* octets of the current chunk */
	bool			 bdat_last;
	bool			 bdat_too_big;
};

struct smtp_session {
	uint64_t		 id;		/* first field of every log line */
	struct pool		*pool;		/* freed with the session */
	struct worker		*w;		/* borrowed */
	const struct listener	*l;		/* borrowed from the master */
	const struct config	*cfg;		/* borrowed */
	struct bufferevent	*bev;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peer_text[64];
	enum smtp_state		 state;
	bool			 submission;	/* 587/465: AUTH required */
	bool			 lmtp;		/* LMTP: LHLO, local delivery,
						   a reply per recipient */
	bool			 tls;
	bool			 esmtp;
	bool			 trusted;	/* client in mynetworks */
	bool			 counted;	/* in the peer table */
	char			*helo;		/* session pool */
	char			*auth_user;	/* session pool; NULL: none */
	char			 tls_info[96];	/* "TLSv1.3 TLS_AES_..." */
	unsigned		 errors;
	unsigned		 auth_failures;
	unsigned		 pending;	/* offload jobs in flight */
	bool			 busy;		/* a command is still running */
	bool			 closing;	/* flush the output, then free */
	bool			 dead;		/* the connection is gone */
	time_t			 close_deadline;
	bool			 skip_line;	/* discarding an overlong line */
	uint64_t		 discard;	/* octets of a refused BDAT chunk */
	enum smtp_auth_step	 auth_step;
	char			*auth_login_user; /* session pool, wiped */
	struct smtp_tx		*tx;		/* NULL outside MAIL..end of data */
	struct event		*delay_ev;	/* AUTH failure delay */
	struct event		*free_ev;	/* frees the session */
};

/* session.c */
void	smtp_session_resume(struct smtp_session *s);
void	smtp_session_close(struct smtp_session *s);
void	smtp_session_set_timeout(struct smtp_session *s, bool data);
void	smtp_session_setcb(struct smtp_session *s);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL without TLS. */
const char *smtp_session_tls_info(struct smtp_session *s);
bool	smtp_session_done(struct smtp_session *s);
void	smtp_tx_free(struct smtp_session *s);
struct smtp_tx *smtp_tx_new(struct smtp_session *s);
/* An offload job for this session: run work on a thread, then done (on the
 * loop) unless the session closed meanwhile. */
void	smtp_offload(struct smtp_session *s, void (*work)(void *tctx, void *arg),
	    void (*done)(struct smtp_session *s, void *arg), void *arg);

/* reply.c */
void	smtp_reply(struct smtp_session *s, int code, const char *enh,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	smtp_reply_lines(struct smtp_session *s, int code,
	    const char *const *lines, size_t n);

/* commands.c: one complete command line (no CRLF). */
void	smtp_command(struct smtp_session *s, const uint8_t *line, size_t len);

/* The run steps; the table in commands.c has checked state and syntax. */
void	smtp_cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_rset(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_noop(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_quit(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_help(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_expn(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd);
void	smtp_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd);

/* cmd-tls.c */
void	smtp_tls_start(struct smtp_session *s);

/* cmd-auth.c: the run step of AUTH (initial NULL: none given). */
void	smtp_auth_begin(struct smtp_session *s, const char *mech,
	    const uint8_t *initial, size_t ilen);
void	smtp_auth_continue(struct smtp_session *s, const uint8_t *line,
	    size_t len);
bool	smtp_auth_offered(const struct smtp_session *s);

/* cmd-data.c: consume message data from in; false when more is needed. */
bool	smtp_data_input(struct smtp_session *s, struct evbuffer *in);

/* lmtp.c: the LMTP spool (tx->lmtp) and delivery. */
int	lmtp_msg_open(struct smtp_session *s, const char **error_r)
	    __attribute__((warn_unused_result));
const char *lmtp_msg_id(const struct lmtp_msg *m);
int	lmtp_msg_write(struct lmtp_msg *m, const void *data, size_t len)
	    __attribute__((warn_unused_result));
void	lmtp_msg_free(struct lmtp_msg **m);
/* One reply per accepted recipient: "<code> <enh> <address> text". */
void	lmtp_reply_all(struct smtp_session *s, int code, const char *enh,
	    const char *text);
/* After the last octet: deliver every recipient, reply, end the tx. */
void	lmtp_deliver(struct smtp_session *s);

/* policy.c */
bool	smtp_client_trusted(const struct smtp_session *s);
bool	smtp_relay_domain(const struct smtp_session *s, const char *domain);
bool	smtp_relay_recipient_ok(const struct smtp_session *s,
	    const char *address, const char *domain);

#endif
