/* imap-commands: the command table and dispatch. Every command of RFC 3501
 * and of the extensions postie offers is here with the states that allow
 * it and whether "UID" may precede it; imap_dispatch() answers BAD for
 * anything else, so handlers never check the state themselves. Also the
 * CAPABILITY list, which depends on the state and on TLS. */
#include <stdbool.h>
#include <string.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "worker/worker.h"

#define ANY		(IMAP_NOT_AUTH | IMAP_AUTH | IMAP_SELECTED)
#define AUTHED		(IMAP_AUTH | IMAP_SELECTED)
#define SEL		IMAP_SELECTED
#define NOEXP		IMAP_CMD_NO_EXPUNGE

/* What every state offers; the login part is added before login. */
#define CAPS_BASE	"IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE " \
			"UIDPLUS MOVE UNSELECT CHILDREN LIST-EXTENDED " \
			"LIST-STATUS SPECIAL-USE"

static const struct imap_command imap_commands[] = {
	/* name          allowed in      UID    flags  handler */
	{ "CAPABILITY",   ANY,            false, 0,     imap_cmd_capability },
	{ "NOOP",         ANY,            false, 0,     imap_cmd_noop },
	{ "LOGOUT",       ANY,            false, 0,     imap_cmd_logout },
	{ "ID",           ANY,            false, 0,     imap_cmd_id },
	{ "STARTTLS",     IMAP_NOT_AUTH,  false, 0,     imap_cmd_starttls },
	{ "LOGIN",        IMAP_NOT_AUTH,  false, 0,     imap_cmd_login },
	{ "AUTHENTICATE", IMAP_NOT_AUTH,  false, 0,     imap_cmd_authenticate },
	{ "ENABLE",       AUTHED,         false, 0,     imap_cmd_enable },
	{ "NAMESPACE",    AUTHED,         false, 0,     imap_cmd_namespace },
	{ "SELECT",       AUTHED,         false, 0,     imap_cmd_select },
	{ "EXAMINE",      AUTHED,         false, 0,     imap_cmd_examine },
	{ "CREATE",       AUTHED,         false, 0,     imap_cmd_create },
	{ "DELETE",       AUTHED,         false, 0,     imap_cmd_delete },
	{ "RENAME",       AUTHED,         false, 0,     imap_cmd_rename },
	{ "SUBSCRIBE",    AUTHED,         false, 0,     imap_cmd_subscribe },
	{ "UNSUBSCRIBE",  AUTHED,         false, 0,     imap_cmd_unsubscribe },
	{ "LIST",         AUTHED,         false, 0,     imap_cmd_list },
	{ "LSUB",         AUTHED,         false, 0,     imap_cmd_lsub },
	{ "STATUS",       AUTHED,         false, 0,     imap_cmd_status },
	{ "APPEND",       AUTHED,         false, 0,     imap_cmd_append },
	{ "IDLE",         AUTHED,         false, 0,     imap_cmd_idle },
	{ "CHECK",        SEL,            false, 0,     imap_cmd_check },
	{ "CLOSE",        SEL,            false, 0,     imap_cmd_close },
	{ "UNSELECT",     SEL,            false, 0,     imap_cmd_unselect },
	{ "EXPUNGE",      SEL,            true,  0,     imap_cmd_expunge },
	{ "SEARCH",       SEL,            true,  NOEXP, imap_cmd_search },
	{ "FETCH",        SEL,            true,  NOEXP, imap_cmd_fetch },
	{ "STORE",        SEL,            true,  NOEXP, imap_cmd_store },
	{ "COPY",         SEL,            true,  0,     imap_cmd_copy },
	{ "MOVE",         SEL,            true,  0,     imap_cmd_move },
};
#define NCOMMANDS	(sizeof(imap_commands) / sizeof(imap_commands[0]))

void
imap_dispatch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_command *c = NULL;
	size_t i;

	ASSERT(s->cmd == NULL);
	s->cmd = cmd;
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(imap_commands[i].name, cmd->name) == 0) {
			c = &imap_commands[i];
			break;
		}
	if (c == NULL) {
		imap_done(s, "BAD", "Unknown command %s",
		    strlen(cmd->name) <= IMAP_NAME_MAX ? cmd->name : "");
		return;
	}
	s->command = c;
	if (cmd->uid && !c->uid_ok) {
		imap_done(s, "BAD", "%s cannot follow UID", c->name);
		return;
	}
	if (!(c->states & s->state)) {
		/* A well-formed command at the wrong time is no abuse. */
		s->bad_uncounted = true;
		if (s->state == IMAP_NOT_AUTH)
			imap_done(s, "BAD", "Log in first");
		else if (c->states == SEL)
			imap_done(s, "BAD", "No mailbox selected");
		else
			imap_done(s, "BAD", "Already logged in");
		return;
	}
	c->run(s, cmd);
}

bool
imap_login_allowed(const struct imap_session *s)
{
	return s->tls || (s->loopback && s->cfg->plaintext_auth_from_loopback);
}

const char *
imap_capabilities(const struct imap_session *s)
{
	if (s->state != IMAP_NOT_AUTH)
		return CAPS_BASE;
	if (s->tls)
		return CAPS_BASE " AUTH=PLAIN AUTH=LOGIN";
	if (imap_login_allowed(s))
		return CAPS_BASE " STARTTLS AUTH=PLAIN AUTH=LOGIN";
	return CAPS_BASE " STARTTLS LOGINDISABLED";
}
