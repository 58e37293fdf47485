/* commands: the SMTP command table and its check step.
 *
 * Each line is parsed (smtp/parse.c) into a typed command; the table says
 * in which session states the command is allowed and what it needs (a
 * greeting, TLS, authentication), and answers 503/530 itself. The run
 * steps in cmd-*.c never re-check what the table checked. Each command's
 * parse results live in a pool that is freed when the command returns.
 * LMTP sessions use the same table: LHLO is theirs alone (RFC 2033 4.1),
 * and EHLO, HELO, STARTTLS and AUTH are SMTP's alone. */
#include <string.h>

#include "lib/log.h"
#include "smtp/smtp-private.h"

/* Session states as bits, for the table. */
#define ST(x)		(1u << (x))
#define ST_IDLE		(ST(SMTP_ST_GREET) | ST(SMTP_ST_READY))
#define ST_TX		(ST(SMTP_ST_MAIL) | ST(SMTP_ST_RCPT))
#define ST_ANY		(ST_IDLE | ST_TX)

enum cmd_need {
	NEED_HELO	= 1 << 0,	/* after EHLO/HELO (LMTP: LHLO) */
	NEED_AUTH_SUB	= 1 << 1,	/* submission: authenticated first */
	SMTP_ONLY	= 1 << 2,	/* not in LMTP */
	LMTP_ONLY	= 1 << 3,	/* not in SMTP */
};

struct smtp_cmd_def {
	enum smtp_verb	 verb;
	void		(*run)(struct smtp_session *, const struct smtp_cmd *);
	unsigned	 states;	/* where it is allowed */
	unsigned	 needs;
	const char	*bad_state;	/* the 503 text otherwise */
};

static const struct smtp_cmd_def smtp_cmds[] = {
	/* verb            run                 allowed in        needs */
	{ SMTP_CMD_EHLO,     smtp_cmd_helo,     ST_ANY,           SMTP_ONLY,
	  NULL },
	{ SMTP_CMD_HELO,     smtp_cmd_helo,     ST_ANY,           SMTP_ONLY,
	  NULL },
	{ SMTP_CMD_LHLO,     smtp_cmd_helo,     ST_ANY,           LMTP_ONLY,
	  NULL },
	{ SMTP_CMD_MAIL,     smtp_cmd_mail,     ST_IDLE,
	  NEED_HELO | NEED_AUTH_SUB, "Nested MAIL command" },
	{ SMTP_CMD_RCPT,     smtp_cmd_rcpt,     ST_TX,            0,
	  "Need MAIL command" },
	{ SMTP_CMD_DATA,     smtp_cmd_data,     ST_TX,            0,
	  "Need MAIL command" },
	{ SMTP_CMD_BDAT,     smtp_cmd_bdat,     ST_TX,            0,
	  "Need MAIL command" },
	{ SMTP_CMD_RSET,     smtp_cmd_rset,     ST_ANY,           0, NULL },
	{ SMTP_CMD_NOOP,     smtp_cmd_noop,     ST_ANY,           0, NULL },
	{ SMTP_CMD_QUIT,     smtp_cmd_quit,     ST_ANY,           0, NULL },
	{ SMTP_CMD_HELP,     smtp_cmd_help,     ST_ANY,           0, NULL },
	{ SMTP_CMD_VRFY,     smtp_cmd_vrfy,     ST_ANY,           0, NULL },
	{ SMTP_CMD_EXPN,     smtp_cmd_expn,     ST_ANY,           0, NULL },
	{ SMTP_CMD_STARTTLS, smtp_cmd_starttls, ST_IDLE,          SMTP_ONLY,
	  "STARTTLS not allowed during a mail transaction" },
	{ SMTP_CMD_AUTH,     smtp_cmd_auth,     ST_IDLE,
	  NEED_HELO | SMTP_ONLY, "AUTH not allowed during a mail transaction" },
};

static const struct smtp_cmd_def *find(enum smtp_verb verb);
static bool	check(struct smtp_session *s, const struct smtp_cmd_def *def);

static const struct smtp_cmd_def *
find(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
		if (smtp_cmds[i].verb == verb)
			return &smtp_cmds[i];
	return NULL;
}

static bool
check(struct smtp_session *s, const struct smtp_cmd_def *def)
{
	if ((def->states & ST(s->state)) == 0) {
		smtp_reply(s, 503, "5.5.1", "Error: %s", def->bad_state != NULL ?
		    def->bad_state : "bad sequence of commands");
		return false;
	}
	if ((def->needs & NEED_HELO) && s->helo == NULL) {
		smtp_reply(s, 503, "5.5.1", "Error: send %s first",
		    s->lmtp ? "LHLO" : "HELO/EHLO");
		return false;
	}
	if ((def->needs & NEED_AUTH_SUB) && s->submission &&
	    s->auth_user == NULL) {
		if (!s->tls)
			smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS "
			    "command first");
		else
			smtp_reply(s, 530, "5.7.0", "Authentication required");
		return false;
	}
	return true;
}

void
smtp_command(struct smtp_session *s, const uint8_t *line, size_t len)
{
	const struct smtp_cmd_def *def;
	struct smtp_cmd_error err;
	struct smtp_limits limits;
	struct smtp_cmd cmd;
	struct pool *pool;
	unsigned flags = 0;

	smtp_limits_default(&limits);
	limits.message_size_max = s->cfg->max_message_size;
	limits.bdat_max = s->cfg->max_message_size;
	if (s->tx != NULL && s->tx->smtputf8)
		flags |= SMTP_PARSE_UTF8;
	pool = pool_new(s->pool);
	memset(&cmd, 0, sizeof(cmd));
	if (smtp_cmd_parse(line, len, &limits, flags, pool, &cmd, &err) == -1) {
		log_info("%016llx smtp %s rejected client=%s code=%u reason=%s",
		    (unsigned long long)s->id, smtp_verb_name(cmd.verb),
		    s->peer_text, err.code, err.detail != NULL ? err.detail :
		    err.text);
		smtp_reply(s, (int)err.code, err.enhanced, "%s", err.text);
		if (err.close)
			smtp_session_close(s);
		pool_free(&pool);
		return;
	}
	def = find(cmd.verb);
	if (def != NULL && (def->needs & (s->lmtp ? SMTP_ONLY : LMTP_ONLY)))
		def = NULL;
	if (def == NULL) {
		if (s->lmtp && (cmd.verb == SMTP_CMD_EHLO ||
		    cmd.verb == SMTP_CMD_HELO))
			smtp_reply(s, 500, "5.5.1", "Error: this is LMTP, "
			    "send LHLO");
		else
			smtp_reply(s, 500, "5.5.2", "Error: command not "
			    "recognized");
		pool_free(&pool);
		return;
	}
	if (check(s, def))
		def->run(s, &cmd);
	else if (cmd.verb == SMTP_CMD_BDAT)
		/* Its chunk follows anyway: skip it, never run it. */
		s->discard = cmd.bdat_size;
	pool_free(&pool);
}
