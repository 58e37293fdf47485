/* pop3-parse: POP3 command lines into struct pop3_cmd (see pop3-parse.h).
 * The verb table says what each keyword takes; the line is checked for
 * its length and its octets before anything else, and the arguments are
 * split and checked in one pass. Nothing is copied. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pop3/pop3-parse.h"

#define KEYWORD_MAX	4

enum arg_kind {
	ARG_NONE,		/* nothing after the keyword */
	ARG_ONE,		/* one string */
	ARG_REST,		/* the rest of the line, verbatim (PASS) */
	ARG_AUTH,		/* [mechanism [initial-response]] */
	ARG_MSG_OPT,		/* [msg] */
	ARG_MSG,		/* msg */
	ARG_TOP,		/* msg lines */
};

struct verb_def {
	const char	*name;
	enum pop3_verb	 verb;
	enum arg_kind	 arg;
	const char	*syntax;	/* the reply to wrong arguments */
};

static const struct verb_def verbs[] = {
	{ "USER", POP3_CMD_USER, ARG_ONE, "USER needs one user name" },
	{ "PASS", POP3_CMD_PASS, ARG_REST, "PASS needs a password" },
	{ "AUTH", POP3_CMD_AUTH, ARG_AUTH, "AUTH takes a mechanism and an "
	    "optional initial response" },
	{ "STLS", POP3_CMD_STLS, ARG_NONE, "STLS takes no arguments" },
	{ "CAPA", POP3_CMD_CAPA, ARG_NONE, "CAPA takes no arguments" },
	{ "QUIT", POP3_CMD_QUIT, ARG_NONE, "QUIT takes no arguments" },
	{ "STAT", POP3_CMD_STAT, ARG_NONE, "STAT takes no arguments" },
	{ "LIST", POP3_CMD_LIST, ARG_MSG_OPT, "LIST takes an optional "
	    "message number" },
	{ "RETR", POP3_CMD_RETR, ARG_MSG, "RETR needs a message number" },
	{ "DELE", POP3_CMD_DELE, ARG_MSG, "DELE needs a message number" },
	{ "NOOP", POP3_CMD_NOOP, ARG_NONE, "NOOP takes no arguments" },
	{ "RSET", POP3_CMD_RSET, ARG_NONE, "RSET takes no arguments" },
	{ "TOP", POP3_CMD_TOP, ARG_TOP, "TOP needs a message number and a "
	    "line count" },
	{ "UIDL", POP3_CMD_UIDL, ARG_MSG_OPT, "UIDL takes an optional "
	    "message number" },
};
#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

static const struct verb_def *find_verb(const uint8_t *s, size_t len);
static bool	 arg_octet_ok(uint8_t c);
static int	 split_args(const uint8_t *s, size_t len, struct pop3_cmd *cmd,
		    unsigned max);
static int	 number(const struct pop3_arg *a, uint32_t min, uint32_t *n_r);

static const struct verb_def *
find_verb(const uint8_t *s, size_t len)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (strlen(verbs[i].name) == len &&
		    strncasecmp(verbs[i].name, (const char *)s, len) == 0)
			return &verbs[i];
	return NULL;
}

const char *
pop3_verb_name(enum pop3_verb verb)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return NULL;
}

/* Printable ASCII without space, or part of a UTF-8 sequence. */
static bool
arg_octet_ok(uint8_t c)
{
	return (c > 0x20 && c < 0x7f) || c >= 0x80;
}

/* Split s (the text after the keyword's space) into at most max
 * arguments. -1: more than max. */
static int
split_args(const uint8_t *s, size_t len, struct pop3_cmd *cmd, unsigned max)
{
	size_t i = 0, start;

	cmd->nargs = 0;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			return 0;
		if (cmd->nargs == max)
			return -1;
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		cmd->args[cmd->nargs].data = (const char *)s + start;
		cmd->args[cmd->nargs].len = i - start;
		cmd->nargs++;
	}
}

/* A decimal number in min..POP3_NUM_MAX. */
static int
number(const struct pop3_arg *a, uint32_t min, uint32_t *n_r)
{
	uint32_t n = 0, d;
	size_t i;

	for (i = 0; i < a->len; i++) {
		if (a->data[i] < '0' || a->data[i] > '9')
			return -1;
		d = (uint32_t)(a->data[i] - '0');
		if (n > (POP3_NUM_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (a->len == 0 || n < min)
		return -1;
	*n_r = n;
	return 0;
}

int
pop3_parse(const uint8_t *line, size_t len, struct pop3_cmd *cmd,
    const char **error_r)
{
	const struct verb_def *def;
	size_t i, klen, rest;
	const uint8_t *args;
	unsigned max;

	memset(cmd, 0, sizeof(*cmd));
	if (len > POP3_LINE_MAX - 2) {
		*error_r = "Line too long";
		return -1;
	}
	for (i = 0; i < len; i++) {
		/* Tabs and other controls are no part of the grammar. */
		if (line[i] < 0x20 || line[i] == 0x7f) {
			*error_r = "Invalid characters in the command";
			return -1;
		}
	}
	for (klen = 0; klen < len && line[klen] != ' '; klen++)
		;
	if (klen == 0 || klen > KEYWORD_MAX ||
	    (def = find_verb(line, klen)) == NULL) {
		*error_r = "Unknown command";
		return -1;
	}
	cmd->verb = def->verb;
	cmd->name = def->name;
	/* UNSAFE: klen <= len, so args..args+rest is inside the line. */
	args = klen < len ? line + klen + 1 : line + len;
	rest = klen < len ? len - klen - 1 : 0;

	if (def->arg == ARG_REST) {
		if (rest == 0) {
			*error_r = def->syntax;
			return -1;
		}
		cmd->nargs = 1;
		cmd->args[0].data = (const char *)args;
		cmd->args[0].len = rest;
		return 0;
	}
	for (i = 0; i < rest; i++) {
		if (args[i] != ' ' && !arg_octet_ok(args[i])) {
			*error_r = "Invalid characters in the command";
			return -1;
		}
	}
	switch (def->arg) {
	case ARG_NONE:
		max = 0;
		break;
	case ARG_ONE:
	case ARG_MSG_OPT:
	case ARG_MSG:
		max = 1;
		break;
	default:
		max = 2;
		break;
	}
	if (split_args(args, rest, cmd, max) == -1) {
		*error_r = def->syntax;
		return -1;
	}
	switch (def->arg) {
	case ARG_ONE:
	case ARG_MSG:
		if (cmd->nargs != 1)
			goto syntax;
		break;
	case ARG_TOP:
		if (cmd->nargs != 2)
			goto syntax;
		break;
	default:
		break;
	}
	switch (def->arg) {
	case ARG_MSG_OPT:
	case ARG_MSG:
	case ARG_TOP:
		if (cmd->nargs >= 1 &&
		    number(&cmd->args[0], 1, &cmd->msg) == -1) {
			*error_r = "Invalid message number";
			return -1;
		}
		if (cmd->nargs == 2 &&
		    number(&cmd->args[1], 0, &cmd->lines) == -1) {
			*error_r = "Invalid number of lines";
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
syntax:
	*error_r = def->syntax;
	return -1;
}
