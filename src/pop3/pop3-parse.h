/* pop3-parse: one POP3 command line into a typed struct pop3_cmd. Called by
 * the session for every command line; pure: no I/O, no allocation, no
 * logging. The AUTH continuation lines of RFC 5034 are no commands and do
 * not come here.
 *
 * Grammar and decisions (RFC 1939, 2449, 2595, 5034):
 *   - The line comes without its line end. With its CRLF it is at most
 *     POP3_LINE_MAX octets (RFC 2449 section 4), so the line itself at
 *     most POP3_LINE_MAX - 2; longer: "Line too long".
 *   - NUL, CR, LF or another control character anywhere: error (a CR in
 *     the middle would be a bare CR; the session strips the one before
 *     the LF).
 *   - The keyword is 1 to 4 letters, case-insensitive (RFC 1939 section
 *     3); anything else, or a keyword postie does not implement (APOP,
 *     XTND ...), is "Unknown command" with verb POP3_CMD_UNKNOWN.
 *   - Arguments follow after one space each; more spaces between them
 *     and trailing spaces are tolerated. An argument is printable ASCII
 *     or octets >= 0x80 (UTF-8 user names), at most POP3_ARG_MAX octets
 *     (RFC 2449).
 *   - PASS takes the rest of the line after the single space that follows
 *     the keyword, verbatim: a password may hold spaces (RFC 1939 section
 *     7). It must not be empty.
 *   - Message numbers are 1 to POP3_NUM_MAX, TOP's line count 0 to
 *     POP3_NUM_MAX, in decimal digits only (no sign, no spaces); whether
 *     the message exists is the session's business.
 *   - Argument counts: USER 1; AUTH 0 to 2 (mechanism, initial response);
 *     LIST and UIDL 0 or 1; RETR and DELE 1; TOP 2; the others none.
 * String arguments are borrowed from the caller's line (not
 * NUL-terminated): valid while the line is.
 */
#ifndef POSTIE_POP3_PARSE_H
#define POSTIE_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define POP3_LINE_MAX	255		/* octets with CRLF (RFC 2449) */
#define POP3_ARG_MAX	(POP3_LINE_MAX - 7)
#define POP3_NUM_MAX	0x7fffffffU	/* message numbers, TOP's lines */
#define POP3_ARGS_MAX	2

enum pop3_verb {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_AUTH,
	POP3_CMD_STLS,
	POP3_CMD_CAPA,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_COUNT
};

struct pop3_arg {
	const char	*data;		/* borrowed from the line */
	size_t		 len;		/* > 0 */
};

struct pop3_cmd {
	enum pop3_verb	 verb;
	const char	*name;		/* "RETR" (static); NULL if unknown */
	unsigned	 nargs;
	struct pop3_arg	 args[POP3_ARGS_MAX];
	/* LIST, UIDL, RETR, DELE, TOP: the message number (0: none given);
	 * TOP: the line count. */
	uint32_t	 msg;
	uint32_t	 lines;
};

/* 0, or -1 with a reply text (static, no line break) in *error_r; cmd->verb
 * and cmd->name tell which command it was, when the keyword was known. */
int		 pop3_parse(const uint8_t *line, size_t len,
		    struct pop3_cmd *cmd, const char **error_r)
		    __attribute__((warn_unused_result));
/* The keyword of a verb ("RETR"), or NULL for POP3_CMD_UNKNOWN. */
const char	*pop3_verb_name(enum pop3_verb verb);

#endif
