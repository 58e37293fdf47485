/* cmd-session: the commands that do not move mail: EHLO HELO LHLO RSET
 * NOOP QUIT HELP VRFY EXPN, and the entry steps of STARTTLS and AUTH. LHLO
 * offers what LMTP needs: no STARTTLS, AUTH or DSN (the MTA in front does
 * those; postie's answer per recipient is final). VRFY
 * answers 252 for every address, so it discloses no user (RFC 5321 3.5.3);
 * EXPN is not offered. */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "smtp/smtp-private.h"

void
smtp_cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *lines[16];
	char first[300], size[48], auth[32];
	size_t n = 0;

	smtp_tx_free(s);
	s->helo = pool_strdup(s->pool, cmd->helo);
	s->esmtp = cmd->verb == SMTP_CMD_EHLO || cmd->verb == SMTP_CMD_LHLO;
	s->state = SMTP_ST_READY;
	snprintf(first, sizeof(first), "%s Hello %s [%s]", s->cfg->hostname,
	    s->helo, s->peer_text);
	if (!s->esmtp) {
		smtp_reply(s, 250, NULL, "%s", first);
		return;
	}
	lines[n++] = first;
	lines[n++] = "PIPELINING";
	snprintf(size, sizeof(size), "SIZE %llu",
	    (unsigned long long)s->cfg->max_message_size);
	lines[n++] = size;
	lines[n++] = "8BITMIME";
	lines[n++] = "ENHANCEDSTATUSCODES";
	if (!s->tls && !s->lmtp)
		lines[n++] = "STARTTLS";
	if (!s->lmtp && smtp_auth_offered(s) && s->auth_user == NULL) {
		snprintf(auth, sizeof(auth), "AUTH PLAIN LOGIN");
		lines[n++] = auth;
	}
	lines[n++] = "SMTPUTF8";
	lines[n++] = "CHUNKING";
	if (!s->lmtp)
		lines[n++] = "DSN";
	smtp_reply_lines(s, 250, lines, n);
}

void
smtp_cmd_rset(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_tx_free(s);
	if (s->state != SMTP_ST_GREET)
		s->state = SMTP_ST_READY;
	smtp_reply(s, 250, "2.0.0", "Ok");
}

void
smtp_cmd_noop(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_reply(s, 250, "2.0.0", "Ok");
}

void
smtp_cmd_quit(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_reply(s, 221, "2.0.0", "Bye");
	smtp_session_close(s);
}

void
smtp_cmd_help(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->lmtp)
		smtp_reply(s, 214, "2.0.0", "Commands: LHLO MAIL RCPT DATA "
		    "BDAT RSET NOOP QUIT HELP VRFY; see RFC 2033");
	else
		smtp_reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT "
		    "DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS AUTH; see "
		    "RFC 5321");
}

void
smtp_cmd_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_reply(s, 252, "2.5.2", "Cannot VRFY a user, but will accept "
	    "the message and attempt delivery");
}

void
smtp_cmd_expn(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_reply(s, 502, "5.5.1", "EXPN not available");
}

void
smtp_cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->tls) {
		smtp_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	smtp_tls_start(s);
}

void
smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->auth_user != NULL) {
		smtp_reply(s, 503, "5.5.1", "Error: already authenticated");
		return;
	}
	if (!smtp_auth_offered(s)) {
		if (!s->tls && (s->submission || s->cfg->smtp_auth_on_port_25))
			smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS "
			    "command first");
		else
			smtp_reply(s, 503, "5.5.1", "Error: authentication "
			    "not enabled");
		return;
	}
	smtp_auth_begin(s, cmd->auth_mech, cmd->auth_initial,
	    cmd->auth_initial_len);
}
