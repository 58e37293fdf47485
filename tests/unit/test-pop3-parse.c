/* test-pop3-parse: pop3/pop3-parse.c. Every command with good and bad
 * arguments, case-insensitive keywords, unknown and unimplemented
 * commands (APOP), PASS taking the rest of the line with its spaces, the
 * line limit of RFC 2449 (255 octets with CRLF), control characters, and
 * message numbers at and past their bounds.
 *
 * A successful parse is compared through a one-line rendering of struct
 * pop3_cmd, so each row states the whole result; a failure through its
 * reply text. The parser takes a whole line, so each row is parsed from an
 * exact-size heap copy (ASan catches reads past the end) and from a copy
 * followed by "\r\nQUIT\r\n" outside len; both must agree. Every prefix
 * of every row is parsed as well, for the bounds checks, and arguments
 * must point inside the line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3-parse.h"

struct cmd_case {
	const char	*name;
	const char	*line;
	enum pop3_verb	 verb;
	bool		 ok;
	const char	*want;		/* rendering, or the error text */
};

static void	 render(const struct pop3_cmd *cmd, char *out, size_t outlen);
static int	 parse_copy(const char *line, size_t len, bool slack,
		    struct pop3_cmd *cmd, const char **error, char *got,
		    size_t gotlen);
static void	 run_cases(const struct cmd_case *cases, size_t n);
static char	*make_line(const char *head, char fill, size_t total);
static void	 test_commands(void **state);
static void	 test_numbers(void **state);
static void	 test_bad_input(void **state);
static void	 test_line_limit(void **state);
static void	 test_verb_names(void **state);

/* "VERB [arg|arg] msg=N lines=N" */
static void
render(const struct pop3_cmd *cmd, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned i;
	int rc;

	rc = snprintf(out, outlen, "%s", cmd->name);
	assert_true(rc >= 0 && (size_t)rc < outlen);
	o = (size_t)rc;
	for (i = 0; i < cmd->nargs; i++) {
		rc = snprintf(out + o, outlen - o, " [%.*s]",
		    (int)cmd->args[i].len, cmd->args[i].data);
		assert_true(rc >= 0 && (size_t)rc < outlen - o);
		o += (size_t)rc;
	}
	if (cmd->msg != 0 || cmd->verb == POP3_CMD_TOP) {
		rc = snprintf(out + o, outlen - o, " msg=%u", cmd->msg);
		assert_true(rc >= 0 && (size_t)rc < outlen - o);
		o += (size_t)rc;
	}
	if (cmd->verb == POP3_CMD_TOP) {
		rc = snprintf(out + o, outlen - o, " lines=%u", cmd->lines);
		assert_true(rc >= 0 && (size_t)rc < outlen - o);
	}
}

/* Parse a heap copy of line[0..len) (with junk after it when slack) and
 * render the result into got before the copy is freed. */
static int
parse_copy(const char *line, size_t len, bool slack, struct pop3_cmd *cmd,
    const char **error, char *got, size_t gotlen)
{
	static const char after[] = "\r\nQUIT\r\n";
	uint8_t *copy = malloc(len + sizeof(after));
	unsigned i;
	int rc;

	assert_non_null(copy);
	memcpy(copy, line, len);
	if (slack)
		memcpy(copy + len, after, sizeof(after) - 1);
	rc = pop3_parse(copy, len, cmd, error);
	if (rc == 0) {
		for (i = 0; i < cmd->nargs; i++) {
			assert_true(cmd->args[i].len > 0);
			assert_true((const uint8_t *)cmd->args[i].data >= copy);
			assert_true((const uint8_t *)cmd->args[i].data +
			    cmd->args[i].len <= copy + len);
		}
		assert_non_null(cmd->name);
		render(cmd, got, gotlen);
	} else {
		assert_non_null(*error);
		assert_null(strpbrk(*error, "\r\n"));
		snprintf(got, gotlen, "%s", *error);
	}
	free(copy);
	return rc;
}

static void
run_cases(const struct cmd_case *cases, size_t n)
{
	struct pop3_cmd cmd;
	const char *error;
	char got[2][600];
	size_t i, k, len;
	int rc[2], nfail = 0;
	enum pop3_verb verb;

	for (i = 0; i < n; i++) {
		const struct cmd_case *c = &cases[i];

		len = strlen(c->line);
		rc[0] = parse_copy(c->line, len, false, &cmd, &error, got[0],
		    sizeof(got[0]));
		verb = cmd.verb;
		rc[1] = parse_copy(c->line, len, true, &cmd, &error, got[1],
		    sizeof(got[1]));
		if (rc[0] != rc[1] || strcmp(got[0], got[1]) != 0) {
			print_error("case \"%s\": differs with octets after "
			    "the line: %s / %s\n", c->name, got[0], got[1]);
			nfail++;
		}
		if ((rc[0] == 0) != c->ok) {
			print_error("case \"%s\": expected %s, got %s\n",
			    c->name, c->ok ? "success" : "an error", got[0]);
			nfail++;
		} else if (strcmp(got[0], c->want) != 0) {
			print_error("case \"%s\": expected \"%s\", got "
			    "\"%s\"\n", c->name, c->want, got[0]);
			nfail++;
		}
		if (verb != c->verb) {
			print_error("case \"%s\": verb %d, expected %d\n",
			    c->name, verb, c->verb);
			nfail++;
		}
		/* Every prefix parses or fails without reading past it. */
		for (k = 0; k < len; k++)
			(void)parse_copy(c->line, k, false, &cmd, &error,
			    got[0], sizeof(got[0]));
	}
	assert_int_equal(nfail, 0);
}

static char *
make_line(const char *head, char fill, size_t total)
{
	size_t hl = strlen(head);
	char *s;

	assert_true(total >= hl);
	s = malloc(total + 1);
	assert_non_null(s);
	memcpy(s, head, hl);
	memset(s + hl, fill, total - hl);
	s[total] = '\0';
	return s;
}

static void
test_commands(void **state)
{
	static const struct cmd_case cases[] = {
		{ "USER with a name parses", "USER alice@example.test",
		  POP3_CMD_USER, true, "USER [alice@example.test]" },
		{ "keywords are case-insensitive", "user Alice",
		  POP3_CMD_USER, true, "USER [Alice]" },
		{ "USER with UTF-8 parses", "USER j\xc3\xb6rg@example.test",
		  POP3_CMD_USER, true, "USER [j\xc3\xb6rg@example.test]" },
		{ "USER without a name is refused", "USER",
		  POP3_CMD_USER, false, "USER needs one user name" },
		{ "USER with only spaces is refused", "USER   ",
		  POP3_CMD_USER, false, "USER needs one user name" },
		{ "USER with two names is refused", "USER a b",
		  POP3_CMD_USER, false, "USER needs one user name" },
		{ "trailing spaces after USER are ignored", "USER bob  ",
		  POP3_CMD_USER, true, "USER [bob]" },
		{ "PASS keeps its spaces", "PASS a long  secret ",
		  POP3_CMD_PASS, true, "PASS [a long  secret ]" },
		{ "PASS keeps a leading space after the first", "PASS  x",
		  POP3_CMD_PASS, true, "PASS [ x]" },
		{ "PASS with UTF-8 parses", "pass p\xc3\xa4ss",
		  POP3_CMD_PASS, true, "PASS [p\xc3\xa4ss]" },
		{ "PASS without a password is refused", "PASS",
		  POP3_CMD_PASS, false, "PASS needs a password" },
		{ "PASS with only its space is refused", "PASS ",
		  POP3_CMD_PASS, false, "PASS needs a password" },
		{ "AUTH alone lists mechanisms", "AUTH", POP3_CMD_AUTH, true,
		  "AUTH" },
		{ "AUTH with a mechanism parses", "AUTH PLAIN",
		  POP3_CMD_AUTH, true, "AUTH [PLAIN]" },
		{ "AUTH with an initial response parses",
		  "AUTH PLAIN AGFsaWNlAHNlY3JldA==", POP3_CMD_AUTH, true,
		  "AUTH [PLAIN] [AGFsaWNlAHNlY3JldA==]" },
		{ "AUTH with an empty initial response parses", "AUTH PLAIN =",
		  POP3_CMD_AUTH, true, "AUTH [PLAIN] [=]" },
		{ "AUTH with three arguments is refused", "AUTH PLAIN a b",
		  POP3_CMD_AUTH, false, "AUTH takes a mechanism and an "
		  "optional initial response" },
		{ "STLS parses", "STLS", POP3_CMD_STLS, true, "STLS" },
		{ "STLS with an argument is refused", "STLS now",
		  POP3_CMD_STLS, false, "STLS takes no arguments" },
		{ "CAPA parses", "capa", POP3_CMD_CAPA, true, "CAPA" },
		{ "QUIT parses", "QUIT", POP3_CMD_QUIT, true, "QUIT" },
		{ "QUIT with trailing spaces parses", "QUIT ", POP3_CMD_QUIT,
		  true, "QUIT" },
		{ "STAT parses", "STAT", POP3_CMD_STAT, true, "STAT" },
		{ "NOOP parses", "NOOP", POP3_CMD_NOOP, true, "NOOP" },
		{ "RSET parses", "RSET", POP3_CMD_RSET, true, "RSET" },
		{ "RSET with an argument is refused", "RSET 1",
		  POP3_CMD_RSET, false, "RSET takes no arguments" },
		{ "LIST alone parses", "LIST", POP3_CMD_LIST, true, "LIST" },
		{ "LIST with a number parses", "LIST 2", POP3_CMD_LIST, true,
		  "LIST [2] msg=2" },
		{ "LIST with two numbers is refused", "LIST 1 2",
		  POP3_CMD_LIST, false, "LIST takes an optional message "
		  "number" },
		{ "UIDL alone parses", "UIDL", POP3_CMD_UIDL, true, "UIDL" },
		{ "UIDL with a number parses", "uidl 17", POP3_CMD_UIDL, true,
		  "UIDL [17] msg=17" },
		{ "RETR with a number parses", "RETR 1", POP3_CMD_RETR, true,
		  "RETR [1] msg=1" },
		{ "RETR with spaces between parses", "RETR   3  ",
		  POP3_CMD_RETR, true, "RETR [3] msg=3" },
		{ "RETR without a number is refused", "RETR", POP3_CMD_RETR,
		  false, "RETR needs a message number" },
		{ "DELE with a number parses", "DELE 4", POP3_CMD_DELE, true,
		  "DELE [4] msg=4" },
		{ "DELE with two numbers is refused", "DELE 4 5",
		  POP3_CMD_DELE, false, "DELE needs a message number" },
		{ "TOP with two numbers parses", "TOP 1 10", POP3_CMD_TOP,
		  true, "TOP [1] [10] msg=1 lines=10" },
		{ "TOP with zero lines parses", "TOP 2 0", POP3_CMD_TOP, true,
		  "TOP [2] [0] msg=2 lines=0" },
		{ "TOP without lines is refused", "TOP 1", POP3_CMD_TOP, false,
		  "TOP needs a message number and a line count" },
		{ "TOP with three numbers is refused", "TOP 1 2 3",
		  POP3_CMD_TOP, false, "TOP needs a message number and a line "
		  "count" },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_numbers(void **state)
{
	static const struct cmd_case cases[] = {
		{ "the largest message number parses", "RETR 2147483647",
		  POP3_CMD_RETR, true, "RETR [2147483647] msg=2147483647" },
		{ "a message number past the bound is refused",
		  "RETR 2147483648", POP3_CMD_RETR, false,
		  "Invalid message number" },
		{ "a 32-bit overflow is refused", "DELE 4294967297",
		  POP3_CMD_DELE, false, "Invalid message number" },
		{ "a huge number is refused",
		  "LIST 99999999999999999999999999999999", POP3_CMD_LIST,
		  false, "Invalid message number" },
		{ "message number 0 is refused", "RETR 0", POP3_CMD_RETR,
		  false, "Invalid message number" },
		{ "leading zeros are fine", "RETR 007", POP3_CMD_RETR, true,
		  "RETR [007] msg=7" },
		{ "a sign is refused", "RETR +1", POP3_CMD_RETR, false,
		  "Invalid message number" },
		{ "a negative number is refused", "DELE -1", POP3_CMD_DELE,
		  false, "Invalid message number" },
		{ "letters are refused", "LIST one", POP3_CMD_LIST, false,
		  "Invalid message number" },
		{ "a number with a letter is refused", "UIDL 1x",
		  POP3_CMD_UIDL, false, "Invalid message number" },
		{ "TOP with a negative line count is refused", "TOP 1 -1",
		  POP3_CMD_TOP, false, "Invalid number of lines" },
		{ "TOP with a line count past the bound is refused",
		  "TOP 1 2147483648", POP3_CMD_TOP, false,
		  "Invalid number of lines" },
		{ "TOP with the largest line count parses",
		  "TOP 1 2147483647", POP3_CMD_TOP, true,
		  "TOP [1] [2147483647] msg=1 lines=2147483647" },
		{ "TOP with message 0 is refused", "TOP 0 1", POP3_CMD_TOP,
		  false, "Invalid message number" },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_bad_input(void **state)
{
	static const struct cmd_case cases[] = {
		{ "an empty line is unknown", "", POP3_CMD_UNKNOWN, false,
		  "Unknown command" },
		{ "a leading space is unknown", " STAT", POP3_CMD_UNKNOWN,
		  false, "Unknown command" },
		{ "an unknown keyword is unknown", "XTND XMIT",
		  POP3_CMD_UNKNOWN, false, "Unknown command" },
		{ "APOP is not offered", "APOP alice c4c9334bac560ecc979e58001"
		  "b3e22fb", POP3_CMD_UNKNOWN, false, "Unknown command" },
		{ "a five-letter keyword is unknown", "STATS",
		  POP3_CMD_UNKNOWN, false, "Unknown command" },
		{ "a keyword prefix is unknown", "STA", POP3_CMD_UNKNOWN,
		  false, "Unknown command" },
		{ "an IMAP command is unknown", "a1 LOGIN x y",
		  POP3_CMD_UNKNOWN, false, "Unknown command" },
		{ "a tab after the keyword is refused", "RETR\t1",
		  POP3_CMD_UNKNOWN, false,
		  "Invalid characters in the command" },
		{ "a bare CR is refused", "USER a\rb", POP3_CMD_UNKNOWN, false,
		  "Invalid characters in the command" },
		{ "a bare LF is refused", "NOOP\nQUIT", POP3_CMD_UNKNOWN,
		  false, "Invalid characters in the command" },
		{ "DEL in an argument is refused", "USER a\x7f",
		  POP3_CMD_UNKNOWN, false,
		  "Invalid characters in the command" },
		{ "a control character in PASS is refused", "PASS a\x01",
		  POP3_CMD_UNKNOWN, false,
		  "Invalid characters in the command" },
		{ "binary garbage is refused", "\xff\xfe\x80", POP3_CMD_UNKNOWN,
		  false, "Unknown command" },
	};

	struct pop3_cmd cmd;
	const char *error;
	char got[600];

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* NUL needs an explicit length. */
	assert_int_equal(parse_copy("USER a\0b", 8, false, &cmd, &error, got,
	    sizeof(got)), -1);
	assert_string_equal(error, "Invalid characters in the command");
	assert_int_equal(parse_copy("PASS \0", 6, true, &cmd, &error, got,
	    sizeof(got)), -1);
	assert_int_equal(parse_copy("\0", 1, false, &cmd, &error, got,
	    sizeof(got)), -1);
}

/* RFC 2449: 255 octets with the CRLF. */
static void
test_line_limit(void **state)
{
	struct pop3_cmd cmd;
	const char *error;
	char *line, got[600];

	line = make_line("USER ", 'a', POP3_LINE_MAX - 2);
	assert_int_equal(parse_copy(line, strlen(line), false, &cmd, &error,
	    got, sizeof(got)), 0);
	assert_int_equal(cmd.args[0].len, POP3_LINE_MAX - 2 - 5);
	free(line);

	line = make_line("USER ", 'a', POP3_LINE_MAX - 1);
	assert_int_equal(parse_copy(line, strlen(line), false, &cmd, &error,
	    got, sizeof(got)), -1);
	assert_string_equal(error, "Line too long");
	free(line);

	line = make_line("PASS ", 'x', 4000);
	assert_int_equal(parse_copy(line, strlen(line), true, &cmd, &error,
	    got, sizeof(got)), -1);
	assert_string_equal(error, "Line too long");
	free(line);

	/* Spaces count too. */
	line = make_line("STAT", ' ', POP3_LINE_MAX - 1);
	assert_int_equal(parse_copy(line, strlen(line), false, &cmd, &error,
	    got, sizeof(got)), -1);
	free(line);
	line = make_line("STAT", ' ', POP3_LINE_MAX - 2);
	assert_int_equal(parse_copy(line, strlen(line), false, &cmd, &error,
	    got, sizeof(got)), 0);
	assert_int_equal(cmd.verb, POP3_CMD_STAT);
	free(line);
}

static void
test_verb_names(void **state)
{
	enum pop3_verb v;

	assert_null(pop3_verb_name(POP3_CMD_UNKNOWN));
	for (v = POP3_CMD_UNKNOWN + 1; v < POP3_CMD_COUNT; v++)
		assert_non_null(pop3_verb_name(v));
	assert_string_equal(pop3_verb_name(POP3_CMD_TOP), "TOP");
	assert_string_equal(pop3_verb_name(POP3_CMD_UIDL), "UIDL");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_verb_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
