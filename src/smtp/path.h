/* smtp/path: the RFC 5321 section 4.1.2 Path, Reverse-path and Mailbox as
 * they appear in MAIL FROM and RCPT TO, plus the domain and address-literal
 * checks that EHLO/HELO share. Called by smtp/parse.c; pure, no I/O.
 *
 * What is accepted:
 *   "<>"                       the null path, only with SMTP_PATH_ALLOW_NULL
 *   "<@a,@b:user@d>"           a source route: checked, then dropped
 *   "<user@example.org>"       Dot-string local part (RFC 5321 Atom rules:
 *                              no leading, trailing or doubled dots)
 *   "<\"john doe\"@x.org>"     Quoted-string local part with quoted-pairs
 *   "<user@[192.0.2.1]>"       IPv4 address literal (inet_pton)
 *   "<user@[IPv6:2001:db8::1]>" IPv6 address literal (inet_pton)
 *   "<Postmaster>"             only with SMTP_PATH_ALLOW_POSTMASTER (RCPT)
 *   UTF-8                      well-formed (no overlongs, no surrogates, at
 *                              most U+10FFFF), only with SMTP_PATH_ALLOW_UTF8
 *
 * What is refused, on purpose:
 *   - a path without angle brackets, and white space inside them;
 *   - an empty local part (""@x.org): the directory reads "@domain" as the
 *     catch-all, so an empty local part must never reach it;
 *   - general address literals ("[tag:content]" other than IPv6);
 *   - a domain with a trailing dot.
 * Tolerated, as Postfix does: '_' in domain labels.
 *
 * Limits: local part 64 octets as written, domain 255 octets, label 63,
 * and the mailbox with its brackets (the route not counted) 256 octets
 * (RFC 5321 section 4.5.3.1).
 */
#ifndef POSTIE_SMTP_PATH_H
#define POSTIE_SMTP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

#define SMTP_PATH_LOCAL_MAX	64
#define SMTP_PATH_DOMAIN_MAX	255
#define SMTP_PATH_LABEL_MAX	63
#define SMTP_PATH_MAX		256

enum smtp_path_flag {
	SMTP_PATH_ALLOW_NULL		= 1 << 0,	/* "<>" (MAIL FROM) */
	SMTP_PATH_ALLOW_UTF8		= 1 << 1,	/* SMTPUTF8 transaction */
	SMTP_PATH_ALLOW_POSTMASTER	= 1 << 2,	/* "<Postmaster>" (RCPT) */
};

/*
 * A parsed path. Every string is allocated from the pool given to the
 * parser, NUL-terminated and free of NUL, CR and LF. For the null path all
 * strings are "". For "<Postmaster>" domain is "" and address is the local
 * part as written: the session maps it to its own postmaster.
 */
struct smtp_path {
	bool		 null;		/* "<>" */
	bool		 postmaster;	/* "<Postmaster>", no domain */
	bool		 has_route;	/* a source route was given (dropped) */
	bool		 quoted_local;	/* the local part needs its quotes:
					   it is not a dot-atom once unquoted */
	bool		 domain_literal; /* domain is "[...]" */
	bool		 utf8;		/* non-ASCII anywhere in the path */
	const char	*local_raw;	/* the local part as written */
	const char	*local;		/* unquoted when it is a dot-atom, else
					   quoted again canonically (only '"'
					   and '\' escaped) */
	const char	*domain;	/* lower-cased (ASCII letters only);
					   a literal as "[192.0.2.1]" or
					   "[IPv6:2001:db8::1]" (inet_ntop) */
	const char	*address;	/* local "@" domain: the canonical
					   envelope address */
};

/* The whole of s[0..len) must be one path, brackets included. Returns 0,
 * or -1 with a short reason in *error_r (for the log, not the client). */
int	smtp_path_parse(const uint8_t *s, size_t len, unsigned flags,
	    struct pool *pool, struct smtp_path *out, const char **error_r)
	    __attribute__((warn_unused_result));
/* Like smtp_path_parse, but the path only has to start s: on success
 * *len_r is its length, up to and including the '>'. A '>' inside a quoted
 * local part does not end the path. */
int	smtp_path_parse_prefix(const uint8_t *s, size_t len, unsigned flags,
	    struct pool *pool, struct smtp_path *out, size_t *len_r,
	    const char **error_r) __attribute__((warn_unused_result));

/* True when the (unquoted) local part contains '%', '!' or '@': the forms
 * of "user%other@local", "other!user@local" and "\"user@other\"@local" that
 * old relays expanded. The policy layer refuses them for local domains. */
bool	smtp_path_local_has_route_chars(const struct smtp_path *path);

/*
 * A domain or an address literal, the whole of s[0..len): what EHLO/HELO
 * take. On success *domain_r is the canonical form (see struct smtp_path)
 * from the pool and *literal_r tells whether it was a literal.
 */
int	smtp_domain_parse(const uint8_t *s, size_t len, unsigned flags,
	    struct pool *pool, const char **domain_r, bool *literal_r,
	    const char **error_r) __attribute__((warn_unused_result));

/* Length of the well-formed UTF-8 sequence (2 to 4 octets) that starts
 * s[0..len), or 0 if there is none there. ASCII is not counted: 0. */
size_t	smtp_utf8_seq_len(const uint8_t *s, size_t len);

#endif
