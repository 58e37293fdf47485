/* smtp/parse: one SMTP (or LMTP) command line, without its CRLF, into a
 * typed struct smtp_cmd. Called by the session's check step for every line;
 * pure, no I/O, no logging. On failure it fills a struct smtp_cmd_error
 * that the session sends verbatim ("<code> <enhanced> <text>") and logs
 * (with detail).
 *
 * Grammar and decisions (RFC 5321, 1869, 1870, 3030, 3461, 4954, 6152,
 * 6531):
 *   - Verbs are case-insensitive; the argument starts after one or more
 *     spaces, and trailing spaces are ignored (some clients send them).
 *   - NUL, CR or LF anywhere: 500 5.5.2. Too long: 500 5.5.2. The length
 *     limits count the CRLF, as RFC 5321 section 4.5.3.1.4 does.
 *   - EHLO/HELO/LHLO take a domain or an address literal ([192.0.2.1],
 *     [IPv6:...]), ASCII only (SMTPUTF8 is not negotiated yet); nothing or
 *     anything else: 501 5.5.4.
 *   - MAIL FROM:<path> and RCPT TO:<path> accept spaces after the colon
 *     ("MAIL FROM: <a@b>"), as Postfix does. A path without angle brackets
 *     ("MAIL FROM:a@b") is refused: 501 5.1.7 / 501 5.1.3. The null path
 *     is only valid in MAIL; "<Postmaster>" only in RCPT.
 *   - UTF-8 in the MAIL path needs SMTPUTF8 on that same MAIL command; in
 *     RCPT it needs SMTP_PARSE_UTF8 (the session knows the transaction).
 *     Otherwise 553 5.6.7 (RFC 6531 section 3.7.4.1).
 *   - ESMTP parameters: MAIL takes SIZE BODY SMTPUTF8 RET ENVID AUTH, RCPT
 *     takes NOTIFY ORCPT. An unknown one is 555 5.5.4, a repeated or
 *     malformed one 501 5.5.4. Whether an extension was advertised (e.g.
 *     BODY=BINARYMIME needs CHUNKING) is the session's business.
 *   - SIZE= above limits->message_size_max: 552 5.3.4.
 *   - BDAT: any error means the chunk length is unknown and the octets
 *     that follow cannot be told from commands: error.close is set and the
 *     session answers and disconnects.
 *   - AUTH's initial response is not copied (it holds a password): it is
 *     borrowed from the line, which the session wipes after use.
 *   - VRFY and EXPN need an argument (RFC 5321 section 4.1.1.6); HELP and
 *     NOOP take an optional one; DATA RSET QUIT STARTTLS take none (501).
 *     Argument strings are printable ASCII, tab, and well-formed UTF-8.
 */
#ifndef POSTIE_SMTP_PARSE_H
#define POSTIE_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/path.h"

struct pool;

#define SMTP_LINE_MAX		512	/* RFC 5321 4.5.3.1.4 */
#define SMTP_LINE_MAX_ESMTP	4096	/* MAIL/RCPT with parameters */
#define SMTP_LINE_MAX_AUTH	12288	/* RFC 4954 section 4 */
#define SMTP_MESSAGE_SIZE_MAX	(UINT64_C(25) << 20) /* max_message_size */
#define SMTP_AUTH_PAYLOAD_MAX	8192

enum smtp_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_EHLO,
	SMTP_CMD_HELO,
	SMTP_CMD_LHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_HELP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
};

/*
 * Limits, from smtp_limits_default() and then the configuration. Line
 * limits count the CRLF. A maximum of 0 means none. The session should set
 * both message_size_max and bdat_max to max_message_size: a BDAT chunk
 * above bdat_max is refused and the connection closed.
 */
struct smtp_limits {
	size_t		 line_max;		/* 512 */
	size_t		 line_max_esmtp;	/* 4096: MAIL, RCPT */
	size_t		 line_max_auth;		/* 12288: AUTH */
	uint64_t	 message_size_max;	/* SIZE= above it: 552 */
	uint64_t	 bdat_max;		/* BDAT chunk size */
	size_t		 auth_payload_max;	/* initial response, decoded */
};

enum smtp_parse_flag {
	SMTP_PARSE_UTF8	= 1 << 0,	/* RCPT in an SMTPUTF8 transaction */
};

enum smtp_body {
	SMTP_BODY_NONE = 0,		/* no BODY= */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_NONE = 0,		/* no RET= */
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= as a bit set; 0 when absent. NEVER comes alone. */
enum smtp_notify {
	SMTP_NOTIFY_NEVER	= 1 << 0,
	SMTP_NOTIFY_SUCCESS	= 1 << 1,
	SMTP_NOTIFY_FAILURE	= 1 << 2,
	SMTP_NOTIFY_DELAY	= 1 << 3,
};

struct smtp_mail_args {
	struct smtp_path path;
	bool		 size_given;
	uint64_t	 size;		/* SIZE=, when size_given */
	enum smtp_body	 body;
	bool		 smtputf8;
	enum smtp_ret	 ret;
	const char	*envid;		/* ENVID= decoded; NULL: none */
	const char	*auth;		/* AUTH= decoded; "" for <>;
					   NULL: none */
};

struct smtp_rcpt_args {
	struct smtp_path path;
	unsigned	 notify;	/* enum smtp_notify bits */
	const char	*orcpt_type;	/* ORCPT= address type, lower-cased
					   ("rfc822"); NULL: none */
	const char	*orcpt;		/* ORCPT= address, decoded */
};

/*
 * A parsed command. Only the member that belongs to the verb is filled;
 * every string is from the pool given to smtp_cmd_parse() unless noted.
 */
struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*helo;		/* EHLO HELO LHLO: as written */
	bool		 helo_literal;	/* it is an address literal */
	struct smtp_mail_args mail;
	struct smtp_rcpt_args rcpt;
	uint64_t	 bdat_size;
	bool		 bdat_last;
	const char	*auth_mech;	/* upper-cased */
	const uint8_t	*auth_initial;	/* borrowed from the line; NULL:
					   none; "=" (empty) is length 0 */
	size_t		 auth_initial_len;
	const char	*arg;		/* VRFY EXPN HELP NOOP, or NULL */
};

struct smtp_cmd_error {
	unsigned	 code;		/* 500 501 552 553 555 */
	const char	*enhanced;	/* "5.5.4" */
	const char	*text;		/* safe to send as it is */
	const char	*detail;	/* why, for the log line */
	bool		 close;		/* reply, then disconnect */
};

void		 smtp_limits_default(struct smtp_limits *limits);
/*
 * Parse line[0..len) (no CRLF). Returns 0 and fills *cmd, or -1 and fills
 * *error; cmd->verb is set whenever the verb was recognised, so the
 * session can count and log even a failed command.
 */
int		 smtp_cmd_parse(const uint8_t *line, size_t len,
		    const struct smtp_limits *limits, unsigned flags,
		    struct pool *pool, struct smtp_cmd *cmd,
		    struct smtp_cmd_error *error)
		    __attribute__((warn_unused_result));
const char	*smtp_verb_name(enum smtp_verb verb);

/* RFC 3461 xtext: "+HH" hex escapes, other octets %d33-126 except '+' and
 * '='. Decoded octets must be %d32-126 (no controls, no NUL). At most max
 * encoded octets. Returns the decoded string from the pool, or NULL. */
char		*smtp_xtext_decode(const uint8_t *s, size_t len, size_t max,
		    struct pool *pool);

#endif
