/* pop3-commands: the command table and dispatch. Every command postie
 * offers is here with the states that allow it (RFC 1939: AUTHORIZATION
 * before login, TRANSACTION after); pop3_dispatch() parses the line
 * (pop3-parse.c) and answers -ERR for bad syntax and for the wrong state
 * itself, so handlers never check either. Also CAPA (RFC 2449), which
 * depends on the state and on TLS, NOOP and QUIT.
 *
 * Not offered: APOP (postie keeps only crypt(3) hashes, and APOP needs
 * the plaintext password on the server), EXPIRE and LOGIN-DELAY (no
 * such policy exists to announce). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3-private.h"

#define AUTHZ	POP3_AUTHORIZATION
#define TRANS	POP3_TRANSACTION

struct pop3_command {
	unsigned	 states;	/* POP3_AUTHORIZATION | ... */
	void		(*run)(struct pop3_session *, const struct pop3_cmd *);
};

static const struct pop3_command pop3_commands[POP3_CMD_COUNT] = {
	/* verb                allowed in      handler */
	[POP3_CMD_CAPA]	= { AUTHZ | TRANS,	pop3_cmd_capa },
	[POP3_CMD_QUIT]	= { AUTHZ | TRANS,	pop3_cmd_quit },
	[POP3_CMD_STLS]	= { AUTHZ,		pop3_cmd_stls },
	[POP3_CMD_USER]	= { AUTHZ,		pop3_cmd_user },
	[POP3_CMD_PASS]	= { AUTHZ,		pop3_cmd_pass },
	[POP3_CMD_AUTH]	= { AUTHZ,		pop3_cmd_auth },
	[POP3_CMD_NOOP]	= { TRANS,		pop3_cmd_noop },
	[POP3_CMD_STAT]	= { TRANS,		pop3_cmd_stat },
	[POP3_CMD_LIST]	= { TRANS,		pop3_cmd_list },
	[POP3_CMD_UIDL]	= { TRANS,		pop3_cmd_uidl },
	[POP3_CMD_RETR]	= { TRANS,		pop3_cmd_retr },
	[POP3_CMD_TOP]	= { TRANS,		pop3_cmd_top },
	[POP3_CMD_DELE]	= { TRANS,		pop3_cmd_dele },
	[POP3_CMD_RSET]	= { TRANS,		pop3_cmd_rset },
};

void
pop3_dispatch(struct pop3_session *s, const uint8_t *line, size_t len)
{
	const struct pop3_command *c;
	struct pop3_cmd cmd;
	const char *error;
	int r;

	r = pop3_parse(line, len, &cmd, &error);
	/* PASS only right after USER (RFC 1939 section 7). */
	if ((r == -1 || cmd.verb != POP3_CMD_PASS) && s->user_arg != NULL) {
		explicit_bzero(s->user_arg, strlen(s->user_arg));
		xfree(&s->user_arg);
	}
	if (r == -1) {
		s->errors++;
		log_debug(LOG_CAT_POP3, "%016llx pop3 bad command %s: %s",
		    (unsigned long long)s->id,
		    cmd.name != NULL ? cmd.name : "?", error);
		pop3_err(s, "%s", error);
		return;
	}
	c = &pop3_commands[cmd.verb];
	ASSERT(c->run != NULL);
	if (!(c->states & s->state)) {
		s->errors++;
		pop3_err(s, "%s", s->state == POP3_AUTHORIZATION ?
		    "Log in first" : "Already logged in");
		return;
	}
	log_debug(LOG_CAT_POP3, "%016llx pop3 %s", (unsigned long long)s->id,
	    cmd.name);
	c->run(s, &cmd);
}

bool
pop3_login_allowed(const struct pop3_session *s)
{
	return s->tls || (s->loopback && s->cfg->plaintext_auth_from_loopback);
}

void
pop3_cmd_capa(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct evbuffer *out = pop3_output(s);

	pop3_ok(s, "Capability list follows");
	evbuffer_add_printf(out, "TOP\r\nUIDL\r\nRESP-CODES\r\n"
	    "AUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == POP3_AUTHORIZATION) {
		if (pop3_login_allowed(s))
			evbuffer_add_printf(out, "USER\r\nSASL PLAIN\r\n");
		if (!s->tls)
			evbuffer_add_printf(out, "STLS\r\n");
	}
	evbuffer_add_printf(out, "IMPLEMENTATION postie\r\n.\r\n");
}

void
pop3_cmd_noop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	pop3_ok(s, "NOOP");
}

/* In AUTHORIZATION: goodbye. In TRANSACTION: the UPDATE state (RFC 1939
 * section 6), whose result is the reply. */
void
pop3_cmd_quit(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const char *error;
	unsigned removed = 0;
	int r;

	s->reason = "quit";
	if (s->state != POP3_TRANSACTION) {
		pop3_ok(s, "Bye");
		pop3_close(s);
		return;
	}
	s->state = POP3_UPDATE;
	r = pop3_maildrop_update(s->drop, &removed, &error);
	s->stats.deleted = removed;
	/* Unlock now: a client that reconnects at once finds it free. */
	pop3_maildrop_free(&s->drop);
	if (r == -1) {
		log_warnx("%016llx pop3 update user=%s: %s",
		    (unsigned long long)s->id, s->user, error);
		pop3_err(s, "[SYS/TEMP] Some deleted messages were not "
		    "removed");
	} else
		pop3_ok(s, "Bye (%u message%s removed)", removed,
		    removed == 1 ? "" : "s");
	pop3_close(s);
}
