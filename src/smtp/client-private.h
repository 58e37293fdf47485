/* client-private: what the files of the outbound SMTP client share
 * (client.c, the connection; client-msg.c, one message at a time). Only
 * they include it; the API is client.h, the protocol pieces
 * client-proto.h. */
#ifndef POSTIE_SMTP_CLIENT_PRIVATE_H
#define POSTIE_SMTP_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "smtp/client-proto.h"
#include "smtp/client.h"

struct bufferevent;
struct event;
struct event_base;
struct pool;

#define SMTP_CLIENT_CHUNK	(16 * 1024)	/* read from the file at once */
#define OUT_LOW			(32 * 1024)	/* refill below this */
#define OUT_HIGH		(256 * 1024)	/* fill up to this */
#define IN_HIGH			(64 * 1024)	/* read high-watermark */

enum client_state {
	ST_CONNECT,
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS,			/* handshake */
	ST_AUTH_LOGIN_USER,	/* waiting for the 334 asking for the user */
	ST_AUTH_LOGIN_PASS,
	ST_AUTH,		/* waiting for 235 */
	ST_READY,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_STREAM,
	ST_DOT,
	ST_RSET,
	ST_QUIT,
	ST_DEAD,
};

struct smtp_client {
	uint64_t		 id;	/* first field of every log line */
	struct pool		*pool;
	struct event_base	*base;	/* borrowed */
	struct bufferevent	*bev;	/* the TLS filter once TLS is up */
	struct event		*timer;
	struct event		*notify_ev;
	smtp_client_cb		 cb;
	void			*arg;

	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			*host;		/* in pool */
	char			*helo;		/* in pool */
	char			*auth_user;	/* heap, wiped */
	char			*auth_pass;	/* heap, wiped */
	bool			 auth_plaintext;
	bool			 lmtp;
	enum smtp_client_tls	 tls_policy;
	SSL_CTX			*ssl_ctx;	/* borrowed from the caller */
	struct smtp_client_timeouts to;

	enum client_state	 state;
	struct smtp_reply_parser rp;
	struct smtp_ehlo	 ehlo;
	bool			 esmtp;
	bool			 tls;
	char			 tls_info[128];

	enum smtp_client_event	 pending;	/* for notify_ev */
	bool			 notifying;	/* notify_ev is active */
	enum smtp_client_stage	 err_stage;
	struct smtp_client_reply err;

	/* The message in progress; msg_pool is NULL between messages. */
	struct pool		*msg_pool;	/* child of pool */
	struct smtp_client_msg	 msg;		/* copied into msg_pool */
	struct smtp_client_result res;
	bool			 in_msg;	/* MSG_DONE not yet given */
	bool			 pipelining;	/* this message pipelines */
	size_t			 next_rcpt;	/* next RCPT reply, or sent */
	off_t			 data_off;
	uint64_t		 data_left;
	struct smtp_stuff	 stuff;
	bool			 abandon;	/* 354 without a recipient */
	size_t			 next_data;	/* LMTP: next recipient whose
						   data reply is due */
	uint8_t			*chunk;		/* in pool, SMTP_CLIENT_CHUNK */
	uint8_t			*stuffed;	/* in pool */
};

/* client.c: plumbing for both files. */
void	smtp__client_notify(struct smtp_client *c,
	    enum smtp_client_event ev);
/* (Re)start the one timer with this state's timeout. */
void	smtp__client_arm(struct smtp_client *c, unsigned ms);
/* Set dst to a reply of our own, its text copied into pool. */
void	smtp__client_set_reply(struct smtp_client *c, struct pool *pool,
	    struct smtp_client_reply *dst, unsigned code, const char *enh,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The reply just parsed, copied into pool. */
void	smtp__client_keep_reply(struct smtp_client *c, struct pool *pool,
	    struct smtp_client_reply *dst);
/* The connection is over (see client.c); a message in progress ends. */
void	smtp__client_fail(struct smtp_client *c,
	    enum smtp_client_stage stage, unsigned code, const char *enh,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Queue one command line; CRLF is added. */
void	smtp__client_command(struct smtp_client *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* client-msg.c: the replies of a message and its end. */
void	smtp__client_mail_reply(struct smtp_client *c);
void	smtp__client_rcpt_reply(struct smtp_client *c);
void	smtp__client_data_reply(struct smtp_client *c);
/* The reply to the end of data (LMTP: one of them). */
void	smtp__client_dot_reply(struct smtp_client *c);
/* Top up the output while streaming DATA (ST_STREAM). */
void	smtp__client_fill(struct smtp_client *c);
void	smtp__client_msg_end(struct smtp_client *c, bool rset);
void	smtp__client_msg_finish(struct smtp_client *c);

#endif
