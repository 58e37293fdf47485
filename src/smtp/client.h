/* client: the outbound SMTP client engine. One struct smtp_client is one
 * connection to one already resolved peer address, driven by the caller's
 * event loop (nothing blocks, except pread() of the local queue file while
 * streaming DATA). It greets, says EHLO (HELO when EHLO gets a 5xx),
 * starts TLS by policy, authenticates when given credentials, then sends
 * one message after another until the caller quits or the connection
 * fails. Used by the queue manager for remote delivery and by the test
 * driver tests/tools/smtp-client-send.
 *
 * Callbacks. Every callback runs from its own loop iteration, never from
 * inside an smtp_client_*() call, and exactly one runs per stimulus:
 *   SMTP_CLIENT_READY     once, when the session is ready for a message
 *                         (greeted, EHLO done, TLS and AUTH as required).
 *                         Call smtp_client_send() or smtp_client_quit().
 *   SMTP_CLIENT_MSG_DONE  once per smtp_client_send(): the result is in
 *                         smtp_client_result(). Unless result->conn_failed,
 *                         the client is ready again for the next message
 *                         (connection reuse) or smtp_client_quit().
 *   SMTP_CLIENT_ERROR     the connection failed while no message was in
 *                         progress (connect, greeting, EHLO, TLS, AUTH, or
 *                         the peer closing an idle session): see
 *                         smtp_client_error(). A failure during a message
 *                         is reported by its MSG_DONE instead.
 *   SMTP_CLIENT_CLOSED    after smtp_client_quit(): QUIT was answered, or
 *                         the peer closed, or the quit timeout passed.
 * After MSG_DONE with conn_failed, ERROR or CLOSED, no callback comes any
 * more and the only call left is smtp_client_free(). The caller may call
 * smtp_client_free() at any time, also from inside a callback; no callback
 * runs after it.
 *
 * Ownership. smtp_client_new() copies what it needs from params, except
 * ssl_ctx (borrowed, must outlive the client; the caller makes it, e.g.
 * with smtp_client_ssl_ctx_new()). smtp_client_send() copies the message
 * description; msg->fd is borrowed and must stay open until MSG_DONE.
 * A result and an error are owned by the client and valid until the next
 * smtp_client_send() or smtp_client_free().
 *
 * TLS policy (per connection):
 *   NONE     never STARTTLS.
 *   MAY      STARTTLS when offered; when not offered, or refused with a
 *            reply, continue in the clear. A failed handshake fails the
 *            connection (ERROR, stage TLS, 421 4.7.0): the caller retries
 *            with NONE if it wants clear text (the session cannot fall
 *            back to clear text on the same connection).
 *   ENCRYPT  STARTTLS required (else ERROR 421 4.7.4), no certificate
 *            check.
 *   VERIFY   as ENCRYPT, and the certificate chain is checked against the
 *            context's trust store (smtp_client_ssl_ctx_new() loads the
 *            system CA store) and the name against params->host.
 * AUTH (PLAIN, else LOGIN) happens only over TLS unless auth_plaintext;
 * credentials given but AUTH impossible fail the connection (ERROR, stage
 * AUTH) rather than sending the mail unauthenticated.
 *
 * LMTP (params->lmtp): LHLO instead of EHLO (no HELO fallback), and after
 * the data one reply per accepted recipient, in RCPT order, each the
 * outcome of its recipient (rcpts[i].data); final is the last of them.
 *
 * Limits: replies are read by client-proto.h's reader (2048-octet lines,
 * 100 lines); every state has a timeout (RFC 5321 4.5.3.2 defaults);
 * the peer's input is parsed as it arrives and the message is streamed in
 * SMTP_CLIENT_CHUNK pieces as the output drains, never held whole. */
#ifndef POSTIE_SMTP_CLIENT_H
#define POSTIE_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct event_base;
struct smtp_client;

enum smtp_client_tls {
	SMTP_CLIENT_TLS_NONE,
	SMTP_CLIENT_TLS_MAY,
	SMTP_CLIENT_TLS_ENCRYPT,
	SMTP_CLIENT_TLS_VERIFY,
};

enum smtp_client_event {
	SMTP_CLIENT_READY,
	SMTP_CLIENT_MSG_DONE,
	SMTP_CLIENT_ERROR,
	SMTP_CLIENT_CLOSED,
};

/* Where a connection failed (smtp_client_error()). Up to and including
 * SMTP_CLIENT_STAGE_AUTH the failure concerns this host, not a message:
 * the caller tries the next MX host. */
enum smtp_client_stage {
	SMTP_CLIENT_STAGE_CONNECT,
	SMTP_CLIENT_STAGE_GREETING,
	SMTP_CLIENT_STAGE_HELO,
	SMTP_CLIENT_STAGE_TLS,
	SMTP_CLIENT_STAGE_AUTH,
	SMTP_CLIENT_STAGE_IDLE,		/* ready, between messages */
};

/* Milliseconds; 0 takes the default (RFC 5321 4.5.3.2 where it says). */
struct smtp_client_timeouts {
	unsigned	 connect;	/* 30 s */
	unsigned	 greeting;	/* 5 min */
	unsigned	 helo;		/* 5 min, EHLO/HELO */
	unsigned	 starttls;	/* 5 min, STARTTLS and the handshake */
	unsigned	 auth;		/* 2 min, each AUTH step */
	unsigned	 mail;		/* 5 min */
	unsigned	 rcpt;		/* 5 min */
	unsigned	 data_init;	/* 2 min, the 354 */
	unsigned	 data_block;	/* 3 min, without write progress */
	unsigned	 data_final;	/* 10 min, the reply to "." */
	unsigned	 rset;		/* 2 min */
	unsigned	 quit;		/* 1 min */
};

struct smtp_client_params {
	const struct sockaddr	*addr;		/* copied */
	socklen_t		 addrlen;
	const char		*host;		/* peer's name: SNI, VERIFY, logs */
	const char		*helo;		/* our name for EHLO/HELO */
	enum smtp_client_tls	 tls;
	SSL_CTX			*ssl_ctx;	/* borrowed; NULL only with NONE */
	const char		*auth_user;	/* NULL: no AUTH */
	const char		*auth_pass;
	bool			 auth_plaintext; /* allow AUTH without TLS */
	bool			 lmtp;		/* LMTP (RFC 2033): LHLO, and
						   one reply per recipient
						   after the data */
	struct smtp_client_timeouts timeouts;
	uint64_t		 id;		/* log id; 0: one is made */
};

struct smtp_client_rcpt {
	const char	*address;
	const char	*notify;	/* DSN NOTIFY value or NULL */
	const char	*orcpt;		/* "type;decoded" or NULL */
};

struct smtp_client_msg {
	const char			*sender;	/* "" for <> */
	const struct smtp_client_rcpt	*rcpts;
	size_t				 nrcpts;	/* at least 1 */
	const char			*envid;		/* decoded, or NULL */
	const char			*ret;		/* FULL, HDRS or NULL */
	const char			*body;		/* 7BIT, 8BITMIME or NULL */
	bool				 smtputf8;	/* also implied by a
							   non-ASCII address */
	int				 fd;		/* borrowed */
	off_t				 offset;
	uint64_t			 size;
};

/* A reply, from the peer or made up for a local or connection failure
 * (code 0: none). */
struct smtp_client_reply {
	unsigned	 code;
	char		 enh[12];	/* "" when none */
	const char	*text;		/* "" when none */
};

struct smtp_client_rcpt_result {
	struct smtp_client_reply	 rcpt;	/* the reply to RCPT */
	/* What became of the recipient: the MAIL reply if MAIL failed, the
	 * RCPT reply if RCPT failed, else the final reply. */
	const struct smtp_client_reply	*outcome;
	/* LMTP: this recipient's reply after the data (code 0 when its RCPT
	 * failed or no data was sent). */
	struct smtp_client_reply	 data;
};

struct smtp_client_result {
	struct smtp_client_reply	 mail;
	struct smtp_client_rcpt_result	*rcpts;		/* msg->nrcpts */
	size_t				 nrcpts;
	size_t				 naccepted;	/* RCPTs with 2xx */
	/* The reply to the end of data, or why the message was not sent
	 * (DATA refused, no recipient accepted: then the last RCPT reply;
	 * 554 5.6.7 SMTPUTF8 needed but not offered; 552 5.3.4 bigger than
	 * the peer's SIZE; a local or connection failure). */
	struct smtp_client_reply	 final;
	bool				 conn_failed;	/* client now unusable */
};

typedef void (*smtp_client_cb)(struct smtp_client *c,
	    enum smtp_client_event ev, void *arg);

/* A client context: TLS 1.2+, the system CA store loaded (for VERIFY). */
SSL_CTX	*smtp_client_ssl_ctx_new(const char **error_r);

/* Start connecting. Never NULL: a failure comes back as ERROR. */
struct smtp_client *smtp_client_new(struct event_base *base,
	    const struct smtp_client_params *params, smtp_client_cb cb,
	    void *arg);
/* Send one message; only when ready (after READY, or MSG_DONE without
 * conn_failed). */
void	smtp_client_send(struct smtp_client *c,
	    const struct smtp_client_msg *msg);
/* Say QUIT; only when ready. CLOSED follows. */
void	smtp_client_quit(struct smtp_client *c);
/* Close at once (no QUIT) and free; *c becomes NULL. */
void	smtp_client_free(struct smtp_client **c);

const struct smtp_client_result *smtp_client_result(
	    const struct smtp_client *c);
const struct smtp_client_reply *smtp_client_error(const struct smtp_client *c,
	    enum smtp_client_stage *stage_r);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL without TLS. */
const char *smtp_client_tls_info(const struct smtp_client *c);
/* The peer's EHLO extensions (SMTP_EXT_* of client-proto.h); 0 after
 * HELO. */
unsigned smtp_client_extensions(const struct smtp_client *c);

#endif
