/* test-imap-parse: imap/parse.c. Commands and their argument trees (atoms,
 * NIL, quoted strings, literals in memory and streamed, lists, bracketed
 * sections), every error with its exact BAD text and the resynchronization
 * after it (synchronizing literals end a bad command, non-synchronizing
 * ones are skipped), literal decisions (accept, stream, refuse, refuse and
 * close), every limit, and the getters a command table uses.
 *
 * Each case is fed whole, one octet at a time and in pseudo-random pieces,
 * every piece from its own exact-size heap copy; every way must give the
 * same transcript of events:
 *	CMD tag [UID ]NAME args...	a command, arguments dumped by dump()
 *	LIT n sync|nonsync		a literal header, then the decision:
 *	STREAM <octets>			the test consumed the literal itself
 *	REFUSED / CLOSE			refused; CLOSE: refuse returned -1
 *	BAD tag text / BYE text		PARSE_ERROR (tag "*" when none)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/pool.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }
#define OUT_MAX		(1u << 22)

enum policy {
	ACCEPT,		/* every literal into memory */
	STREAM,		/* every literal streamed by the test */
	REFUSE,		/* every literal refused */
	SMALL,		/* accept up to 16 octets, refuse the rest */
};

struct pcase {
	const char	*name;
	const char	*in;
	enum policy	 policy;
	const char	*expect;
	size_t		 len;		/* 0: strlen(in) */
};

static void	 dump_args(struct buf *out, const struct imap_arg *a,
		    size_t n);
static void	 dump_arg(struct buf *out, const struct imap_arg *a);
static void	 run(const char *in, size_t len, unsigned mode,
		    enum policy policy, const struct imap_limits *limits,
		    struct buf *out);
static void	 check(const char *name, const char *in, size_t len,
		    enum policy policy, const struct imap_limits *limits,
		    const char *expect);
static void	 test_table(void **state);
static void	 test_limits(void **state);
static void	 test_literal_limits(void **state);
static void	 test_set_limits(void **state);
static void	 test_getters(void **state);
static void	 test_section_fields(void **state);
static void	 test_huge_literal_never_allocates(void **state);

static void
dump_arg(struct buf *out, const struct imap_arg *a)
{
	size_t i;

	switch (a->type) {
	case IMAP_ARG_ATOM:
		if (!a->bracket) {
			assert_int_equal(buf_append(out, a->str, a->len), 0);
			break;
		}
		assert_int_equal(buf_append(out, a->str, a->name_len), 0);
		assert_int_equal(buf_append(out, "[", 1), 0);
		dump_args(out, a->section, a->section_count);
		assert_int_equal(buf_printf(out, "]%s", a->suffix), 0);
		/* str is the token as written. */
		assert_int_equal(strlen(a->str), a->len);
		break;
	case IMAP_ARG_NIL:
		assert_int_equal(buf_append_str(out, "NIL"), 0);
		break;
	case IMAP_ARG_QUOTED:
		assert_int_equal(buf_append(out, "\"", 1), 0);
		for (i = 0; i < a->len; i++) {
			if (a->str[i] == '"' || a->str[i] == '\\')
				assert_int_equal(buf_append(out, "\\", 1), 0);
			assert_int_equal(buf_append(out, &a->str[i], 1), 0);
		}
		assert_int_equal(buf_append(out, "\"", 1), 0);
		break;
	case IMAP_ARG_LITERAL:
		assert_int_equal(buf_printf(out, "{%zu%s}", a->len,
		    a->nonsync ? "+" : ""), 0);
		if (a->streamed)
			assert_int_equal(buf_append(out, "*", 1), 0);
		else
			assert_int_equal(buf_append(out, a->str, a->len), 0);
		break;
	case IMAP_ARG_LIST:
		assert_int_equal(buf_append(out, "(", 1), 0);
		dump_args(out, a->list, a->count);
		assert_int_equal(buf_append(out, ")", 1), 0);
		break;
	}
}

static void
dump_args(struct buf *out, const struct imap_arg *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			assert_int_equal(buf_append(out, " ", 1), 0);
		dump_arg(out, &a[i]);
	}
}

/* mode 0: whole; 1: one octet at a time; 2 and up: pseudo-random pieces
 * seeded with mode. */
static void
run(const char *in, size_t len, unsigned mode, enum policy policy,
    const struct imap_limits *limits, struct buf *out)
{
	struct imap_limits def;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	const struct imap_cmd *cmd;
	const struct imap_literal *lit;
	const struct imap_parse_error *err;
	enum parse_result r;
	size_t pos = 0, n, used, take;
	unsigned seed = mode * 2654435761u;
	uint8_t *piece;
	bool stop = false;

	if (limits == NULL) {
		imap_limits_default(&def);
		limits = &def;
	}
	p = imap_parser_new(pool, limits);
	while (pos < len && !stop) {
		if (mode == 0)
			n = len - pos;
		else if (mode == 1)
			n = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 7;
		}
		if (n > len - pos)
			n = len - pos;
		piece = malloc(n);
		assert_non_null(piece);
		memcpy(piece, in + pos, n);
		used = (size_t)-1;
		r = imap_parser_feed(p, piece, n, &used);
		free(piece);
		assert_true(used <= n);
		pos += used;
		switch (r) {
		case PARSE_MORE:
			assert_int_equal(used, n);
			break;
		case PARSE_DONE:
			if ((cmd = imap_parser_cmd(p)) != NULL) {
				assert_null(imap_parser_literal(p));
				assert_int_equal(buf_printf(out, "CMD %s %s%s",
				    cmd->tag, cmd->uid ? "UID " : "",
				    cmd->name), 0);
				if (cmd->count > 0)
					assert_int_equal(buf_append(out, " ",
					    1), 0);
				dump_args(out, cmd->args, cmd->count);
				assert_int_equal(buf_append(out, "\n", 1), 0);
				break;
			}
			lit = imap_parser_literal(p);
			assert_non_null(lit);
			assert_int_equal(buf_printf(out, "LIT %llu %s\n",
			    (unsigned long long)lit->size,
			    lit->sync ? "sync" : "nonsync"), 0);
			if (policy == ACCEPT ||
			    (policy == SMALL && lit->size <= 16)) {
				if (imap_parser_literal_accept(p) == 0)
					break;
				assert_int_equal(buf_append_str(out,
				    "MEMFULL\n"), 0);
			}
			if (policy == STREAM) {
				imap_parser_literal_stream(p);
				take = len - pos < lit->size ? len - pos :
				    (size_t)lit->size;
				assert_int_equal(buf_printf(out,
				    "STREAM %.*s\n", (int)take, in + pos), 0);
				pos += take;
				break;
			}
			if (imap_parser_literal_refuse(p) == -1) {
				assert_int_equal(buf_append_str(out,
				    "CLOSE\n"), 0);
				stop = true;
			} else
				assert_int_equal(buf_append_str(out,
				    "REFUSED\n"), 0);
			break;
		case PARSE_ERROR:
			err = imap_parser_error(p);
			assert_non_null(err->text);
			if (err->close) {
				assert_int_equal(buf_printf(out, "BYE %s\n",
				    err->text), 0);
				stop = true;
			} else
				assert_int_equal(buf_printf(out, "BAD %s %s\n",
				    err->tag != NULL ? err->tag : "*",
				    err->text), 0);
			break;
		}
	}
	imap_parser_free(&p);
	assert_null(p);
	pool_free(&pool);
}

static void
check(const char *name, const char *in, size_t len, enum policy policy,
    const struct imap_limits *limits, const char *expect)
{
	struct buf out;
	unsigned mode;

	if (len == 0)
		len = strlen(in);
	for (mode = 0; mode < 6; mode++) {
		buf_init(&out, OUT_MAX);
		run(in, len, mode, policy, limits, &out);
		if (strcmp(buf_cstr(&out), expect) != 0) {
			print_error("case \"%s\" (mode %u):\n got:\n%s"
			    " want:\n%s\n", name, mode, buf_cstr(&out),
			    expect);
			buf_deinit(&out);
			fail();
		}
		buf_deinit(&out);
	}
}

static const struct pcase cases[] = {
	/* Commands and arguments. */
	{ "no arguments", "a1 NOOP\r\n", ACCEPT, "CMD a1 NOOP\n", 0 },
	{ "name upper-cased", "a1 noop\r\n", ACCEPT, "CMD a1 NOOP\n", 0 },
	{ "two commands in one piece", "a NOOP\r\nb CAPABILITY\r\n", ACCEPT,
	  "CMD a NOOP\nCMD b CAPABILITY\n", 0 },
	{ "empty lines are ignored", "\r\n\r\n\na NOOP\r\n", ACCEPT,
	  "CMD a NOOP\n", 0 },
	{ "tag with ] and odd octets", "a]1.x! NOOP\r\n", ACCEPT,
	  "CMD a]1.x! NOOP\n", 0 },
	{ "uid prefix", "A2 uid fetch 1:* (FLAGS)\r\n", ACCEPT,
	  "CMD A2 UID FETCH 1:* (FLAGS)\n", 0 },
	{ "uid expunge", "A2 UID EXPUNGE 3:5,7\r\n", ACCEPT,
	  "CMD A2 UID EXPUNGE 3:5,7\n", 0 },
	{ "atoms, nil, quoted", "t LOGIN nil \"a \\\"b\\\\ c\"\r\n", ACCEPT,
	  "CMD t LOGIN NIL \"a \\\"b\\\\ c\"\n", 0 },
	{ "empty quoted", "t LOGIN \"\" \"\"\r\n", ACCEPT,
	  "CMD t LOGIN \"\" \"\"\n", 0 },
	{ "utf-8 in quoted", "t SEARCH SUBJECT \"\xc3\xa9t\xc3\xa9\"\r\n",
	  ACCEPT, "CMD t SEARCH SUBJECT \"\xc3\xa9t\xc3\xa9\"\n", 0 },
	{ "flags and wildcards in atoms",
	  "t STORE 1 +FLAGS.SILENT (\\Seen $Label1)\r\n", ACCEPT,
	  "CMD t STORE 1 +FLAGS.SILENT (\\Seen $Label1)\n", 0 },
	{ "list wildcards", "t LIST \"\" %/*\r\n", ACCEPT,
	  "CMD t LIST \"\" %/*\n", 0 },
	{ "nested and empty lists", "t X (() (a (b)) c)\r\n", ACCEPT,
	  "CMD t X (() (a (b)) c)\n", 0 },
	{ "list-extended",
	  "t LIST (SPECIAL-USE) \"\" \"*\" RETURN (CHILDREN STATUS "
	  "(MESSAGES UNSEEN))\r\n", ACCEPT,
	  "CMD t LIST (SPECIAL-USE) \"\" \"*\" RETURN (CHILDREN STATUS "
	  "(MESSAGES UNSEEN))\n", 0 },
	{ "id with nil", "t ID NIL\r\n", ACCEPT, "CMD t ID NIL\n", 0 },
	{ "id list", "t ID (\"name\" \"x\" \"version\" NIL)\r\n", ACCEPT,
	  "CMD t ID (\"name\" \"x\" \"version\" NIL)\n", 0 },
	{ "enable, namespace, idle, unselect, move",
	  "a ENABLE UTF8=ACCEPT\r\nb NAMESPACE\r\nc IDLE\r\nd UNSELECT\r\n"
	  "e UID MOVE 1:3 Trash\r\n", ACCEPT,
	  "CMD a ENABLE UTF8=ACCEPT\nCMD b NAMESPACE\nCMD c IDLE\n"
	  "CMD d UNSELECT\nCMD e UID MOVE 1:3 Trash\n", 0 },
	{ "append with date-time", "t APPEND INBOX (\\Seen) "
	  "\"17-Jul-1996 02:44:25 -0700\" {3+}\r\nabc\r\n", ACCEPT,
	  "LIT 3 nonsync\nCMD t APPEND INBOX (\\Seen) "
	  "\"17-Jul-1996 02:44:25 -0700\" {3+}abc\n", 0 },

	/* Sections. */
	{ "fetch section with fields and partial",
	  "t FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> "
	  "BODY[])\r\n", ACCEPT,
	  "CMD t FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> "
	  "BODY[])\n", 0 },
	{ "section at top level", "t FETCH 1 BODY[1.2.MIME]\r\n", ACCEPT,
	  "CMD t FETCH 1 BODY[1.2.MIME]\n", 0 },
	{ "bracketed mailbox", "t SELECT [Gmail]/Sent\r\n", ACCEPT,
	  "CMD t SELECT [Gmail]/Sent\n", 0 },
	{ "two sections in one atom", "t FETCH 1 BODY[1][2]\r\n", ACCEPT,
	  "BAD t Invalid [ in atom\n", 0 },
	{ "nested section", "t FETCH 1 BODY[1 X[2]]\r\n", ACCEPT,
	  "BAD t Invalid [ in atom\n", 0 },
	{ "unclosed section", "t FETCH 1 BODY[1\r\n", ACCEPT,
	  "BAD t Missing ]\n", 0 },
	{ "literal in a section", "t FETCH 1 BODY[HEADER.FIELDS ({4}\r\n"
	  "t2 NOOP\r\n", ACCEPT,
	  "BAD t Literal not allowed in a section\nCMD t2 NOOP\n", 0 },
	{ "] outside a section", "t X a]\r\n", ACCEPT, "CMD t X a]\n", 0 },
	{ "] is an atom octet in a list", "t X (a])\r\n", ACCEPT,
	  "CMD t X (a])\n", 0 },
	{ "unexpected ] after quoted", "t X \"a\"]\r\n", ACCEPT,
	  "BAD t Unexpected ]\n", 0 },

	/* Literals. */
	{ "literals accepted", "A5 LOGIN {4}\r\nuser {4+}\r\npass\r\n", ACCEPT,
	  "LIT 4 sync\nLIT 4 nonsync\nCMD A5 LOGIN {4}user {4+}pass\n", 0 },
	{ "empty literal", "t LOGIN {0}\r\n {0+}\r\n\r\n", ACCEPT,
	  "LIT 0 sync\nLIT 0 nonsync\nCMD t LOGIN {0} {0+}\n", 0 },
	{ "literal holding CRLF and specials",
	  "t X {10}\r\n(\r\n\"{1}\r\n)\r\n", ACCEPT,
	  "LIT 10 sync\nCMD t X {10}(\r\n\"{1}\r\n)\n", 0 },
	{ "literal in a list", "t X ({2}\r\nab c)\r\n", ACCEPT,
	  "LIT 2 sync\nCMD t X ({2}ab c)\n", 0 },
	{ "streamed append", "A6 APPEND INBOX (\\Seen) {5}\r\nhello\r\n",
	  STREAM, "LIT 5 sync\nSTREAM hello\n"
	  "CMD A6 APPEND INBOX (\\Seen) {5}*\n", 0 },
	{ "streamed then more arguments",
	  "t APPEND A {2+}\r\nhi {3}\r\nyou\r\n", STREAM,
	  "LIT 2 nonsync\nSTREAM hi\nLIT 3 sync\nSTREAM you\n"
	  "CMD t APPEND A {2+}* {3}*\n", 0 },
	{ "refused sync literal: next line is a command",
	  "A7 APPEND INBOX {99999}\r\nA8 NOOP\r\n", REFUSE,
	  "LIT 99999 sync\nREFUSED\nCMD A8 NOOP\n", 0 },
	{ "refused non-sync literal is skipped",
	  "A7 APPEND INBOX {20+}\r\nA9 LOGOUT\r\nA10 NOOPX {1+}\r\nx more\r\n"
	  "A8 NOOP\r\n", SMALL,
	  "LIT 20 nonsync\nREFUSED\nCMD A8 NOOP\n", 0 },
	{ "refused huge non-sync literal closes",
	  "A7 APPEND INBOX {4294967295+}\r\nxx", REFUSE,
	  "LIT 4294967295 nonsync\nCLOSE\n", 0 },
	{ "4294967295 sync is shown, refused, never read",
	  "A7 APPEND INBOX {4294967295}\r\nA8 NOOP\r\n", REFUSE,
	  "LIT 4294967295 sync\nREFUSED\nCMD A8 NOOP\n", 0 },
	{ "literal above 32 bits, sync", "t X {4294967296}\r\nt2 NOOP\r\n",
	  ACCEPT, "BAD t Literal too large\nCMD t2 NOOP\n", 0 },
	{ "literal above 32 bits, non-sync", "t X {4294967296+}\r\nabc",
	  ACCEPT, "BYE Literal too large\n", 0 },
	{ "literal above 64 bits",
	  "t X {999999999999999999999999999}\r\nt2 NOOP\r\n", ACCEPT,
	  "BAD t Literal too large\nCMD t2 NOOP\n", 0 },
	{ "NUL in literal", "t LOGIN {3}\r\na\0b c\r\nt2 NOOP\r\n", ACCEPT,
	  "LIT 3 sync\nBAD t NUL in literal\nCMD t2 NOOP\n",
	  sizeof("t LOGIN {3}\r\na\0b c\r\nt2 NOOP\r\n") - 1 },
	{ "junk after literal", "t LOGIN {3}\r\nabcdef\r\nt2 NOOP\r\n",
	  ACCEPT, "LIT 3 sync\nBAD t Missing space between arguments\n"
	  "CMD t2 NOOP\n", 0 },
	{ ") after literal at top level", "t LOGIN {3}\r\nabc)\r\n", ACCEPT,
	  "LIT 3 sync\nBAD t Unexpected )\n", 0 },
	{ "literal header not at line end", "t X {3} abc\r\nt2 NOOP\r\n",
	  ACCEPT, "BAD t Literal must end the line\nCMD t2 NOOP\n", 0 },
	{ "sync literal header with LF only ends the command",
	  "t X {3}\nabc\r\n", ACCEPT,
	  "BAD t Line must end with CRLF\nBAD abc Missing command name\n",
	  0 },
	{ "non-sync literal header with LF only is skipped",
	  "t X {3+}\nabc\r\nt2 NOOP\r\n", ACCEPT,
	  "BAD t Line must end with CRLF\nCMD t2 NOOP\n", 0 },
	{ "bad literal header", "t X {3a}\r\nt2 NOOP\r\n", ACCEPT,
	  "BAD t Invalid literal\nCMD t2 NOOP\n", 0 },
	{ "literal header without digits", "t X {}\r\n", ACCEPT,
	  "BAD t Invalid literal\n", 0 },
	{ "literal plus without brace", "t X {3+\r\n", ACCEPT,
	  "BAD t Invalid literal\n", 0 },
	{ "literal8 is not taken", "t X ~{3}\r\nt2 NOOP\r\n", ACCEPT,
	  "BAD t Missing space between arguments\nCMD t2 NOOP\n", 0 },

	/* Errors and resynchronization. */
	{ "missing )", "A1 FETCH 1 (FLAGS\r\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Missing )\nCMD A2 NOOP\n", 0 },
	{ "unexpected )", "A1 FETCH 1 FLAGS)\r\n", ACCEPT,
	  "BAD A1 Unexpected )\n", 0 },
	{ "unexpected ) after space", "A1 FETCH 1 (FLAGS )\r\n", ACCEPT,
	  "BAD A1 Unexpected )\n", 0 },
	{ "missing command name", "A1\r\n", ACCEPT,
	  "BAD A1 Missing command name\n", 0 },
	{ "space then nothing", "A1 \r\n", ACCEPT,
	  "BAD A1 Missing command name\n", 0 },
	{ "invalid tag", "(x NOOP\r\na NOOP\r\n", ACCEPT,
	  "BAD * Invalid tag\nCMD a NOOP\n", 0 },
	{ "plus is no tag", "+ NOOP\r\n", ACCEPT, "BAD * Invalid tag\n", 0 },
	{ "star is no tag", "* NOOP\r\n", ACCEPT, "BAD * Invalid tag\n", 0 },
	{ "leading space", " a NOOP\r\n", ACCEPT, "BAD * Invalid tag\n", 0 },
	{ "invalid char in tag", "a\"b NOOP\r\n", ACCEPT,
	  "BAD * Invalid tag\n", 0 },
	{ "bare LF ends a line", "A1 NOOP\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Line must end with CRLF\nCMD A2 NOOP\n", 0 },
	{ "bare LF after argument", "A1 X a\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Line must end with CRLF\nCMD A2 NOOP\n", 0 },
	{ "CR without LF", "A1 NOOP\rX\r\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 CR without LF\nCMD A2 NOOP\n", 0 },
	{ "CR without LF on an empty line", "\rA1 NOOP\r\n", ACCEPT,
	  "BAD * CR without LF\n", 0 },
	{ "bare CR in an argument", "A1 X a\rb\r\n", ACCEPT,
	  "BAD A1 CR without LF\n", 0 },
	{ "double space", "A1 LOGIN a  b\r\n", ACCEPT,
	  "BAD A1 Unexpected space\n", 0 },
	{ "trailing space", "A1 LOGIN a \r\n", ACCEPT,
	  "BAD A1 Missing argument\n", 0 },
	{ "invalid escape", "A1 LOGIN \"a\\xb\" c\r\n", ACCEPT,
	  "BAD A1 Invalid escape in quoted string\n", 0 },
	{ "unterminated quoted", "A1 LOGIN \"abc\r\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Unterminated quoted string\nCMD A2 NOOP\n", 0 },
	{ "invalid UTF-8 in quoted", "A1 LOGIN \"\xc3(\" x\r\n", ACCEPT,
	  "BAD A1 Invalid UTF-8 in quoted string\n", 0 },
	{ "overlong UTF-8 in quoted", "A1 LOGIN \"\xc0\xaf\" x\r\n", ACCEPT,
	  "BAD A1 Invalid UTF-8 in quoted string\n", 0 },
	{ "8-bit atom", "A1 LOGIN \xc3\xa9 x\r\n", ACCEPT,
	  "BAD A1 Invalid character in argument\n", 0 },
	{ "control in atom", "A1 LOGIN a\tb\r\n", ACCEPT,
	  "BAD A1 Missing space between arguments\n", 0 },
	{ "NUL in command", "A1 NO\0OP\r\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Invalid command name\nCMD A2 NOOP\n",
	  sizeof("A1 NO\0OP\r\nA2 NOOP\r\n") - 1 },
	{ "NUL in quoted", "A1 X \"a\0\"\r\n", ACCEPT,
	  "BAD A1 NUL in quoted string\n", sizeof("A1 X \"a\0\"\r\n") - 1 },
	{ "invalid command name", "A1 NO*OP\r\n", ACCEPT,
	  "BAD A1 Invalid command name\n", 0 },
	{ "command name too long",
	  "A1 ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH\r\n", ACCEPT,
	  "BAD A1 Unknown command\n", 0 },
	{ "uid alone", "A1 UID\r\n", ACCEPT,
	  "BAD A1 Missing command after UID\n", 0 },
	{ "uid and space", "A1 UID \r\n", ACCEPT,
	  "BAD A1 Missing command after UID\n", 0 },
	{ "error, then sync literal ends the command",
	  "A1 FOO ) {5}\r\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Unexpected )\nCMD A2 NOOP\n", 0 },
	{ "error, then non-sync literal is skipped",
	  "A1 FOO ) {7+}\r\nA2 NOOP rest\r\nA3 NOOP\r\n", ACCEPT,
	  "BAD A1 Unexpected )\nCMD A3 NOOP\n", 0 },
	{ "error, then a huge non-sync literal closes",
	  "A1 FOO ) {99999999999+}\r\nA2 NOOP\r\n", ACCEPT,
	  "BYE Unexpected )\n", 0 },
	{ "error, then a brace that is no literal",
	  "A1 FOO ) {5} x\r\nA2 NOOP\r\n", ACCEPT,
	  "BAD A1 Unexpected )\nCMD A2 NOOP\n", 0 },
	{ "error in tag, literal honoured", "( {3+}\r\nA\r\n\r\nA3 NOOP\r\n",
	  ACCEPT, "BAD * Invalid tag\nCMD A3 NOOP\n", 0 },
};

static void
test_table(void **state)
{
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
		check(cases[i].name, cases[i].in, len, cases[i].policy, NULL,
		    cases[i].expect);
	}
}

/* Line length, nesting, argument count. */
static void
test_limits(void **state)
{
	struct imap_limits lim;
	struct buf in, want;
	size_t i;

	(void)state;
	imap_limits_default(&lim);
	lim.line_max = 16;
	check("line of exactly line_max", "t X 0123456789\r\n", 0, ACCEPT,
	    &lim, "CMD t X 0123456789\n");
	check("line one above line_max", "t X 01234567890\r\nt2 NOOP\r\n", 0,
	    ACCEPT, &lim, "BAD t Command line too long\nCMD t2 NOOP\n");
	check("literals do not count toward the line",
	    "t X {20}\r\n01234567890123456789 y\r\n", 0, ACCEPT, &lim,
	    "LIT 20 sync\nCMD t X {20}01234567890123456789 y\n");
	check("literal headers count toward the line",
	    "t X {1}\r\na {1}\r\nb\r\n", 0, ACCEPT, &lim,
	    "LIT 1 sync\nLIT 1 sync\nBAD t Command line too long\n");

	check("error inside a section, then a long line (fuzz)",
	    "t X BODY[\x01 aaaaaaaaaaaaaaaaaaaaaaaa\r\nt2 NOOP\r\n", 0,
	    ACCEPT, &lim, "BAD t Invalid character in argument\n"
	    "CMD t2 NOOP\n");

	/* The default line limit, 64 KiB. */
	buf_init(&in, 1 << 20);
	assert_int_equal(buf_append_str(&in, "t X "), 0);
	for (i = 0; i < 70000; i++)
		assert_int_equal(buf_append(&in, "a", 1), 0);
	assert_int_equal(buf_append_str(&in, "\r\nt2 NOOP\r\n"), 0);
	check("64 KiB atom", (const char *)in.data, in.len, ACCEPT, NULL,
	    "BAD t Command line too long\nCMD t2 NOOP\n");
	buf_deinit(&in);

	imap_limits_default(&lim);
	lim.depth_max = 3;
	check("depth at the limit", "t X (((a)))\r\n", 0, ACCEPT, &lim,
	    "CMD t X (((a)))\n");
	check("depth above the limit", "t X ((((a))))\r\nt2 NOOP\r\n", 0,
	    ACCEPT, &lim, "BAD t Too deeply nested\nCMD t2 NOOP\n");
	check("section counts as a level", "t X (((BODY[1])))\r\n", 0,
	    ACCEPT, &lim, "BAD t Too deeply nested\n");

	/* The default depth, 32. */
	buf_init(&in, 4096);
	buf_init(&want, 4096);
	assert_int_equal(buf_append_str(&in, "t X "), 0);
	for (i = 0; i < 33; i++)
		assert_int_equal(buf_append(&in, "(", 1), 0);
	for (i = 0; i < 33; i++)
		assert_int_equal(buf_append(&in, ")", 1), 0);
	assert_int_equal(buf_append_str(&in, "\r\n"), 0);
	check("33 levels", (const char *)in.data, in.len, ACCEPT, NULL,
	    "BAD t Too deeply nested\n");
	buf_reset(&in);
	assert_int_equal(buf_append_str(&in, "t X "), 0);
	assert_int_equal(buf_append_str(&want, "CMD t X "), 0);
	for (i = 0; i < 32; i++) {
		assert_int_equal(buf_append(&in, "(", 1), 0);
		assert_int_equal(buf_append(&want, "(", 1), 0);
	}
	for (i = 0; i < 32; i++) {
		assert_int_equal(buf_append(&in, ")", 1), 0);
		assert_int_equal(buf_append(&want, ")", 1), 0);
	}
	assert_int_equal(buf_append_str(&in, "\r\n"), 0);
	assert_int_equal(buf_append_str(&want, "\n"), 0);
	check("32 levels", (const char *)in.data, in.len, ACCEPT, NULL,
	    buf_cstr(&want));
	buf_deinit(&in);
	buf_deinit(&want);

	imap_limits_default(&lim);
	lim.args_max = 4;
	check("arguments at the limit", "t X a (b) c\r\n", 0, ACCEPT, &lim,
	    "CMD t X a (b) c\n");
	check("arguments above the limit", "t X a (b) c d\r\n", 0, ACCEPT,
	    &lim, "BAD t Too many arguments\n");
	check("list closing above the limit", "t X a b c (d)\r\n", 0,
	    ACCEPT, &lim, "BAD t Too many arguments\n");
	check("literal above the argument limit",
	    "t X a b c d {1}\r\nt2 NOOP\r\n", 0, ACCEPT, &lim,
	    "BAD t Too many arguments\nCMD t2 NOOP\n");

	imap_limits_default(&lim);
	lim.line_max = 12;
	check("tag too long for the line", "abcdefghijklmnop NOOP\r\n", 0,
	    ACCEPT, &lim, "BAD * Command line too long\n");
	imap_limits_default(&lim);
	buf_init(&in, 4096);
	for (i = 0; i < IMAP_TAG_MAX + 1; i++)
		assert_int_equal(buf_append(&in, "t", 1), 0);
	assert_int_equal(buf_append_str(&in, " NOOP\r\n"), 0);
	check("tag too long", (const char *)in.data, in.len, ACCEPT, &lim,
	    "BAD * Tag too long\n");
	buf_deinit(&in);
}

static void
test_literal_limits(void **state)
{
	struct imap_limits lim;

	(void)state;
	imap_limits_default(&lim);
	lim.literals_max = 2;
	check("literals at the limit", "t X {1}\r\na {1}\r\nb\r\n", 0, ACCEPT,
	    &lim, "LIT 1 sync\nLIT 1 sync\nCMD t X {1}a {1}b\n");
	check("third sync literal refused by the parser",
	    "t X {1}\r\na {1}\r\nb {1}\r\nt2 NOOP\r\n", 0, ACCEPT, &lim,
	    "LIT 1 sync\nLIT 1 sync\nBAD t Too many literals\nCMD t2 NOOP\n");
	check("third non-sync literal skipped",
	    "t X {1}\r\na {1}\r\nb {1+}\r\nc\r\nt2 NOOP\r\n", 0, ACCEPT, &lim,
	    "LIT 1 sync\nLIT 1 sync\nBAD t Too many literals\nCMD t2 NOOP\n");
	check("streamed literals count too",
	    "t X {1}\r\na {1}\r\nb {1}\r\nt2 NOOP\r\n", 0, STREAM, &lim,
	    "LIT 1 sync\nSTREAM a\nLIT 1 sync\nSTREAM b\n"
	    "BAD t Too many literals\nCMD t2 NOOP\n");

	imap_limits_default(&lim);
	lim.literal_mem_max = 5;
	check("memory for literals",
	    "t X {3}\r\nabc {3}\r\nt2 NOOP\r\n", 0, ACCEPT, &lim,
	    "LIT 3 sync\nLIT 3 sync\nMEMFULL\nREFUSED\nCMD t2 NOOP\n");

	imap_limits_default(&lim);
	lim.literal_discard_max = 4;
	check("parser-refused non-sync above discard limit closes",
	    "t X {4294967296+}\r\n", 0, ACCEPT, &lim,
	    "BYE Literal too large\n");
	check("refused non-sync at the discard limit is skipped",
	    "t X {4+}\r\nabcd\r\nt2 NOOP\r\n", 0, REFUSE, &lim,
	    "LIT 4 nonsync\nREFUSED\nCMD t2 NOOP\n");
	check("refused non-sync above the discard limit closes",
	    "t X {5+}\r\nabcde\r\n", 0, REFUSE, &lim,
	    "LIT 5 nonsync\nCLOSE\n");
	check("skipping after refusal meets a huge literal",
	    "t X {1+}\r\na {5+}\r\nabcde\r\n", 0, REFUSE, &lim,
	    "LIT 1 nonsync\nREFUSED\nBYE Literal too large\n");
	check("skipping after refusal meets a sync literal",
	    "t X {1+}\r\na {500}\r\nt2 NOOP\r\n", 0, REFUSE, &lim,
	    "LIT 1 nonsync\nREFUSED\nCMD t2 NOOP\n");
}

/* New limits apply from the next command on. */
static void
test_set_limits(void **state)
{
	struct imap_limits pre, post;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	const char *big = "t2 X (a (b))\r\n";
	const char *first = "t1 LOGIN a b\r\n";
	size_t used;

	(void)state;
	imap_limits_preauth(&pre);
	assert_int_equal(pre.line_max, 8192);
	assert_int_equal(pre.depth_max, 1);
	imap_limits_default(&post);
	p = imap_parser_new(pool, &pre);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)first,
	    strlen(first), &used), PARSE_DONE);
	imap_parser_set_limits(p, &post);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)big,
	    strlen(big), &used), PARSE_DONE);
	assert_int_equal(used, strlen(big));
	assert_non_null(imap_parser_cmd(p));
	imap_parser_set_limits(p, &pre);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)big,
	    strlen(big), &used), PARSE_ERROR);
	assert_string_equal(imap_parser_error(p)->text, "Too deeply nested");
	assert_string_equal(imap_parser_error(p)->tag, "t2");
	assert_null(imap_parser_cmd(p));
	imap_parser_free(&p);
	pool_free(&pool);
}

static const struct imap_arg *
parse_one(struct imap_parser *p, const char *line)
{
	size_t used;
	enum parse_result r;

	r = imap_parser_feed(p, (const uint8_t *)line, strlen(line), &used);
	assert_int_equal(r, PARSE_DONE);
	assert_non_null(imap_parser_cmd(p));
	return imap_parser_cmd(p)->args;
}

static void
test_getters(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	const struct imap_arg *a, *l;
	const char *s;
	size_t len, n;
	uint32_t u;
	uint64_t u64;

	(void)state;
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	a = parse_one(p, "t X atom NIL \"q\" (l) [Gmail]/x a%b "
	    "BODY[1] 0 4294967295 4294967296 9223372036854775807 "
	    "9223372036854775808 a\\b\r\n");
	assert_true(imap_arg_atom(&a[0], &s));
	assert_string_equal(s, "atom");
	assert_true(imap_arg_atom_is(&a[0], "ATOM"));
	assert_false(imap_arg_atom_is(&a[0], "ATO"));
	assert_true(imap_arg_astring(&a[0], &s, &len));
	assert_false(imap_arg_string(&a[0], &s, &len));
	assert_false(imap_arg_nstring(&a[0], &s, &len));

	assert_int_equal(a[1].type, IMAP_ARG_NIL);
	assert_true(imap_arg_atom_is(&a[1], "nil"));
	assert_true(imap_arg_astring(&a[1], &s, &len));
	assert_string_equal(s, "NIL");
	assert_true(imap_arg_nstring(&a[1], &s, &len));
	assert_null(s);
	assert_int_equal(len, 0);

	assert_false(imap_arg_atom(&a[2], &s));
	assert_true(imap_arg_string(&a[2], &s, &len));
	assert_true(imap_arg_nstring(&a[2], &s, &len));
	assert_string_equal(s, "q");

	assert_true(imap_arg_list(&a[3], &l, &n));
	assert_int_equal(n, 1);
	assert_true(imap_arg_atom_is(&l[0], "l"));
	assert_false(imap_arg_astring(&a[3], &s, &len));
	assert_false(imap_arg_list(&a[0], &l, &n));

	assert_true(imap_arg_astring(&a[4], &s, &len));
	assert_string_equal(s, "[Gmail]/x");
	assert_false(imap_arg_atom(&a[4], &s));

	assert_false(imap_arg_astring(&a[5], &s, &len));
	assert_true(imap_arg_list_mailbox(&a[5], &s, &len));
	assert_string_equal(s, "a%b");

	assert_true(a[6].bracket);
	assert_true(imap_arg_astring(&a[6], &s, &len));

	assert_true(imap_arg_number(&a[7], &u));
	assert_int_equal(u, 0);
	assert_false(imap_arg_nz_number(&a[7], &u));
	assert_true(imap_arg_nz_number(&a[8], &u));
	assert_int_equal(u, 4294967295u);
	assert_false(imap_arg_number(&a[9], &u));
	assert_true(imap_arg_number64(&a[9], &u64));
	assert_true(imap_arg_number64(&a[10], &u64));
	assert_int_equal(u64, 9223372036854775807ull);
	assert_false(imap_arg_number64(&a[11], &u64));
	assert_false(imap_arg_number(&a[0], &u));
	assert_false(imap_arg_number(&a[2], &u));

	assert_true(imap_arg_atom(&a[12], &s));
	assert_false(imap_arg_astring(&a[12], &s, &len));

	assert_false(imap_arg_atom(NULL, &s));
	assert_false(imap_arg_astring(NULL, &s, &len));
	assert_false(imap_arg_number(NULL, &u));
	assert_false(imap_arg_list(NULL, &l, &n));

	/* A literal is a string; a streamed one is not. */
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)"t X {1}\r\n",
	    9, &n), PARSE_DONE);
	assert_int_equal(imap_parser_literal_accept(p), 0);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)"a {1}\r\n", 7,
	    &n), PARSE_DONE);
	imap_parser_literal_stream(p);
	a = parse_one(p, "\r\n");
	assert_int_equal(a[0].type, IMAP_ARG_LITERAL);
	assert_false(a[0].streamed);
	assert_true(imap_arg_string(&a[0], &s, &len));
	assert_true(imap_arg_astring(&a[0], &s, &len));
	assert_string_equal(s, "a");
	assert_int_equal(len, 1);
	assert_true(a[1].streamed);
	assert_int_equal(a[1].len, 1);
	assert_false(imap_arg_string(&a[1], &s, &len));
	assert_false(imap_arg_astring(&a[1], &s, &len));
	imap_parser_free(&p);
	pool_free(&pool);
}

static void
test_section_fields(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	const struct imap_arg *a, *f;
	const char *line = "t FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (A b)]<5.9>"
	    "\r\n";
	size_t used;

	(void)state;
	imap_limits_default(&lim);
	p = imap_parser_new(pool, &lim);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)line,
	    strlen(line), &used), PARSE_DONE);
	a = &imap_parser_cmd(p)->args[1];
	assert_int_equal(a->type, IMAP_ARG_ATOM);
	assert_true(a->bracket);
	assert_string_equal(a->str, "BODY.PEEK[HEADER.FIELDS.NOT (A b)]<5.9>");
	assert_int_equal(a->name_len, 9);
	assert_string_equal(a->suffix, "<5.9>");
	assert_int_equal(a->section_count, 2);
	assert_true(imap_arg_atom_is(&a->section[0], "header.fields.not"));
	assert_int_equal(a->section[1].type, IMAP_ARG_LIST);
	f = a->section[1].list;
	assert_int_equal(a->section[1].count, 2);
	assert_string_equal(f[0].str, "A");
	assert_string_equal(f[1].str, "b");
	assert_false(imap_arg_astring(a, &line, &used));
	imap_parser_free(&p);
	pool_free(&pool);
}

/* {4294967295}: shown to the caller, refused, nothing allocated from the
 * number; an accepted literal's buffer grows with the octets. */
static void
test_huge_literal_never_allocates(void **state)
{
	struct imap_limits lim;
	struct pool *pool = pool_new(NULL);
	struct imap_parser *p;
	const struct imap_literal *lit;
	const char *in = "t APPEND x {4294967295}\r\n";
	size_t used;

	(void)state;
	imap_limits_default(&lim);
	lim.literal_mem_max = UINT64_MAX;
	p = imap_parser_new(pool, &lim);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)in, strlen(in),
	    &used), PARSE_DONE);
	lit = imap_parser_literal(p);
	assert_non_null(lit);
	assert_int_equal(lit->size, 4294967295u);
	assert_true(lit->sync);
	assert_string_equal(lit->tag, "t");
	assert_string_equal(lit->name, "APPEND");
	assert_int_equal(lit->index, 1);
	assert_int_equal(lit->depth, 0);
	assert_int_equal(lit->number, 1);
	/* Accepting reserves nothing: feed a few octets and stop. */
	assert_int_equal(imap_parser_literal_accept(p), 0);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)"abc", 3,
	    &used), PARSE_MORE);
	assert_int_equal(used, 3);
	imap_parser_free(&p);
	pool_free(&pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("commands, arguments, errors, resync (table)", test_table),
		T("line, depth and argument limits", test_limits),
		T("literal count, memory and discard limits",
		    test_literal_limits),
		T("limits change from the next command on", test_set_limits),
		T("getters tell every argument kind apart", test_getters),
		T("section fields of a bracketed atom", test_section_fields),
		T("{4294967295} never allocates", test_huge_literal_never_allocates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
