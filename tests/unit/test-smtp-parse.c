/* test-smtp-parse: smtp/parse.c. Every verb, every MAIL and RCPT
 * parameter, bad syntax, line limits, case-insensitivity, source routes,
 * quoted local parts, address literals, UTF-8 with and without SMTPUTF8,
 * the null sender only in MAIL, and the reply each error carries.
 *
 * A successful parse is compared through a one-line rendering of struct
 * smtp_cmd, so each table row states the whole expected result. The parser
 * takes a whole line, so each row is parsed twice: from an exact-size heap
 * copy (ASan catches reads past the end), and from a copy followed by
 * "\r\nQUIT\r\n" outside len; both must give the same result. Every
 * prefix of every row is parsed as well, for the bounds checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pool.h"
#include "smtp/parse.h"

#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

#define UTF8	SMTP_PARSE_UTF8

struct cmd_case {
	const char	*name;
	const char	*line;
	unsigned	 flags;
	enum smtp_verb	 verb;
	unsigned	 code;		/* 0: must parse */
	const char	*enhanced;	/* the error's, or NULL */
	const char	*want;		/* rendering, or the error text; NULL:
					   not checked */
};

static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 render(const struct smtp_cmd *cmd, char *out, size_t outlen);
static int	 parse_in(const char *line, size_t len, size_t slack,
		    const struct smtp_limits *limits, unsigned flags,
		    struct pool *pool, struct smtp_cmd *cmd,
		    struct smtp_cmd_error *err);
static void	 run_cases(const struct cmd_case *cases, size_t n);
static char	*make_line(const char *head, char fill, size_t total,
		    const char *tail);
static void	 test_verbs(void **state);
static void	 test_mail(void **state);
static void	 test_rcpt(void **state);
static void	 test_bdat_auth(void **state);
static void	 test_nul_and_newlines(void **state);
static void	 test_line_limits(void **state);
static void	 test_limits_from_caller(void **state);
static void	 test_xtext(void **state);
static void	 test_verb_names(void **state);

static void
case_fail(int *nfail, const char *name, const char *fmt, ...)
{
	va_list ap;

	print_error("case \"%s\": ", name);
	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
	print_error("\n");
	(*nfail)++;
}

/* One line that says everything the command carries. */
static void
render(const struct smtp_cmd *cmd, char *out, size_t outlen)
{
	static const char *bodies[] = { "", " body=7BIT", " body=8BITMIME",
	    " body=BINARYMIME" };
	static const char *rets[] = { "", " ret=FULL", " ret=HDRS" };
	const struct smtp_mail_args *m = &cmd->mail;
	const struct smtp_rcpt_args *r = &cmd->rcpt;
	char size[32] = "";
	int rc = 0;

	switch (cmd->verb) {
	case SMTP_CMD_EHLO:
	case SMTP_CMD_HELO:
	case SMTP_CMD_LHLO:
		rc = snprintf(out, outlen, "helo=%s%s", cmd->helo,
		    cmd->helo_literal ? " literal" : "");
		break;
	case SMTP_CMD_MAIL:
		if (m->size_given)
			snprintf(size, sizeof(size), " size=%llu",
			    (unsigned long long)m->size);
		rc = snprintf(out, outlen, "from=<%s>%s%s%s%s%s%s%s%s%s%s%s",
		    m->path.address, m->path.has_route ? " route" : "",
		    m->path.quoted_local ? " quoted" : "",
		    m->path.null ? " null" : "", size, bodies[m->body],
		    m->smtputf8 ? " smtputf8" : "", rets[m->ret],
		    m->envid != NULL ? " envid=" : "",
		    m->envid != NULL ? m->envid : "",
		    m->auth != NULL ? " auth=" : "",
		    m->auth != NULL ? m->auth : "");
		break;
	case SMTP_CMD_RCPT:
		rc = snprintf(out, outlen, "to=<%s>%s%s%s%s%s%s%s%s%s%s%s%s",
		    r->path.address, r->path.has_route ? " route" : "",
		    r->path.quoted_local ? " quoted" : "",
		    r->path.postmaster ? " postmaster" : "",
		    r->notify != 0 ? " notify=" : "",
		    (r->notify & SMTP_NOTIFY_NEVER) ? "N" : "",
		    (r->notify & SMTP_NOTIFY_SUCCESS) ? "S" : "",
		    (r->notify & SMTP_NOTIFY_FAILURE) ? "F" : "",
		    (r->notify & SMTP_NOTIFY_DELAY) ? "D" : "",
		    r->orcpt_type != NULL ? " orcpt=" : "",
		    r->orcpt_type != NULL ? r->orcpt_type : "",
		    r->orcpt_type != NULL ? ";" : "",
		    r->orcpt != NULL ? r->orcpt : "");
		break;
	case SMTP_CMD_BDAT:
		rc = snprintf(out, outlen, "size=%llu%s",
		    (unsigned long long)cmd->bdat_size,
		    cmd->bdat_last ? " last" : "");
		break;
	case SMTP_CMD_AUTH:
		if (cmd->auth_initial == NULL)
			rc = snprintf(out, outlen, "mech=%s", cmd->auth_mech);
		else
			rc = snprintf(out, outlen, "mech=%s initial=[%.*s]",
			    cmd->auth_mech, (int)cmd->auth_initial_len,
			    (const char *)cmd->auth_initial);
		break;
	default:
		rc = snprintf(out, outlen, "%s%s", cmd->arg != NULL ? "arg=" :
		    "", cmd->arg != NULL ? cmd->arg : "");
		break;
	}
	assert_true(rc >= 0 && (size_t)rc < outlen);
}

/* Parse line[0..len) from a heap copy with slack more octets after it. */
static int
parse_in(const char *line, size_t len, size_t slack,
    const struct smtp_limits *limits, unsigned flags, struct pool *pool,
    struct smtp_cmd *cmd, struct smtp_cmd_error *err)
{
	static const char after[] = "\r\nQUIT\r\n";
	uint8_t *copy = malloc(len + slack + 1);
	size_t i;
	int rc;

	assert_non_null(copy);
	memcpy(copy, line, len);
	for (i = 0; i < slack; i++)
		copy[len + i] = (uint8_t)after[i % (sizeof(after) - 1)];
	rc = smtp_cmd_parse(copy, len, limits, flags, pool, cmd, err);
	/* The borrowed AUTH response points into copy: render first. */
	free(copy);
	return rc;
}

static void
run_cases(const struct cmd_case *cases, size_t n)
{
	struct smtp_cmd cmd;
	struct smtp_cmd_error err;
	struct pool *pool;
	char got[2][1024];
	size_t i, k, len;
	unsigned code[2];
	int rc[2], pass, nfail = 0;

	for (i = 0; i < n; i++) {
		const struct cmd_case *c = &cases[i];

		len = strlen(c->line);
		pool = pool_new(NULL);
		for (pass = 0; pass < 2; pass++) {
			uint8_t *copy = malloc(len + 9);
			size_t j;

			/* Same as parse_in(), but renders before the copy
			 * (which AUTH borrows from) is freed. */
			assert_non_null(copy);
			memcpy(copy, c->line, len);
			for (j = 0; pass == 1 && j < 8; j++)
				copy[len + j] = (uint8_t)"\r\nQUIT\r\n"[j];
			rc[pass] = smtp_cmd_parse(copy, len, NULL, c->flags,
			    pool, &cmd, &err);
			code[pass] = rc[pass] == 0 ? 0 : err.code;
			if (rc[pass] == 0)
				render(&cmd, got[pass], sizeof(got[pass]));
			else
				snprintf(got[pass], sizeof(got[pass]),
				    "%u %s %s", err.code, err.enhanced,
				    err.text);
			free(copy);
			if (pass == 1)
				break;
			if (cmd.verb != c->verb)
				case_fail(&nfail, c->name, "verb %s, want %s",
				    smtp_verb_name(cmd.verb),
				    smtp_verb_name(c->verb));
			if (rc[pass] == -1 && (err.detail == NULL ||
			    err.text == NULL || err.enhanced == NULL))
				case_fail(&nfail, c->name, "incomplete error");
			if (code[pass] != c->code) {
				case_fail(&nfail, c->name, "got \"%s\", want "
				    "code %u", got[pass], c->code);
				continue;
			}
			if (rc[pass] == -1 && c->enhanced != NULL &&
			    strcmp(err.enhanced, c->enhanced) != 0)
				case_fail(&nfail, c->name, "enhanced %s, want "
				    "%s", err.enhanced, c->enhanced);
			if (c->want != NULL && strcmp(rc[pass] == 0 ?
			    got[pass] : err.text, c->want) != 0)
				case_fail(&nfail, c->name, "got \"%s\", want "
				    "\"%s\"", rc[pass] == 0 ? got[pass] :
				    err.text, c->want);
		}
		if (rc[0] != rc[1] || strcmp(got[0], got[1]) != 0)
			case_fail(&nfail, c->name, "differs with octets after "
			    "the line: \"%s\" vs \"%s\"", got[0], got[1]);
		/* Every prefix, for the bounds checks (results vary). */
		for (k = 0; k < len; k++)
			(void)parse_in(c->line, k, 0, NULL, c->flags, pool,
			    &cmd, &err);
		pool_free(&pool);
	}
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

/* head, then fill up to total octets, then tail (counted in total). */
static char *
make_line(const char *head, char fill, size_t total, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(total + 1);

	assert_non_null(s);
	assert_true(hl + tl <= total);
	memcpy(s, head, hl);
	memset(s + hl, fill, total - hl - tl);
	memcpy(s + total - tl, tail, tl);
	s[total] = '\0';
	return s;
}

static const struct cmd_case verb_cases[] = {
	{ "EHLO with a domain parses", "EHLO mail.example.org", 0,
	  SMTP_CMD_EHLO, 0, NULL, "helo=mail.example.org" },
	{ "verbs are case-insensitive", "ehlo Mail.Example.ORG", 0,
	  SMTP_CMD_EHLO, 0, NULL, "helo=Mail.Example.ORG" },
	{ "mixed-case verbs are recognised", "eHlO x.example", 0,
	  SMTP_CMD_EHLO, 0, NULL, "helo=x.example" },
	{ "EHLO with an IPv4 literal parses", "EHLO [192.0.2.1]", 0,
	  SMTP_CMD_EHLO, 0, NULL, "helo=[192.0.2.1] literal" },
	{ "EHLO with an IPv6 literal parses", "EHLO [IPv6:2001:db8::1]", 0,
	  SMTP_CMD_EHLO, 0, NULL, "helo=[IPv6:2001:db8::1] literal" },
	{ "EHLO with a bad literal gets 501", "EHLO [300.1.1.1]", 0,
	  SMTP_CMD_EHLO, 501, "5.5.4", "Syntax: EHLO hostname" },
	{ "EHLO with nothing gets 501 5.5.4", "EHLO", 0, SMTP_CMD_EHLO, 501,
	  "5.5.4", "Syntax: EHLO hostname" },
	{ "EHLO with only spaces gets 501 5.5.4", "EHLO   ", 0,
	  SMTP_CMD_EHLO, 501, "5.5.4", "Syntax: EHLO hostname" },
	{ "HELO with nothing gets 501 5.5.4", "HELO", 0, SMTP_CMD_HELO, 501,
	  "5.5.4", "Syntax: HELO hostname" },
	{ "HELO with a domain parses", "HELO client.example", 0,
	  SMTP_CMD_HELO, 0, NULL, "helo=client.example" },
	{ "LHLO with a domain parses", "LHLO mx.example", 0, SMTP_CMD_LHLO,
	  0, NULL, "helo=mx.example" },
	{ "EHLO with two words gets 501", "EHLO a.example b.example", 0,
	  SMTP_CMD_EHLO, 501, "5.5.4", NULL },
	{ "EHLO with a bad domain gets 501", "EHLO -bad-.example", 0,
	  SMTP_CMD_EHLO, 501, "5.5.4", NULL },
	{ "EHLO with UTF-8 gets 501", "EHLO b\xc3\xbc" "cher.example", 0,
	  SMTP_CMD_EHLO, 501, "5.5.4", NULL },
	{ "EHLO with several spaces before the domain parses",
	  "EHLO   x.example", 0, SMTP_CMD_EHLO, 0, NULL, "helo=x.example" },
	{ "trailing spaces are ignored", "EHLO x.example  ", 0, SMTP_CMD_EHLO,
	  0, NULL, "helo=x.example" },
	{ "DATA parses", "DATA", 0, SMTP_CMD_DATA, 0, NULL, "" },
	{ "DATA with a trailing space parses", "DATA ", 0, SMTP_CMD_DATA, 0,
	  NULL, "" },
	{ "DATA with an argument gets 501", "DATA now", 0, SMTP_CMD_DATA, 501,
	  "5.5.4", "Syntax: DATA" },
	{ "RSET parses", "rset", 0, SMTP_CMD_RSET, 0, NULL, "" },
	{ "RSET with an argument gets 501", "RSET x", 0, SMTP_CMD_RSET, 501,
	  "5.5.4", "Syntax: RSET" },
	{ "QUIT parses", "QUIT", 0, SMTP_CMD_QUIT, 0, NULL, "" },
	{ "QUIT with an argument gets 501", "QUIT now", 0, SMTP_CMD_QUIT, 501,
	  "5.5.4", "Syntax: QUIT" },
	{ "STARTTLS parses", "StartTLS", 0, SMTP_CMD_STARTTLS, 0, NULL, "" },
	{ "STARTTLS with an argument gets 501", "STARTTLS x", 0,
	  SMTP_CMD_STARTTLS, 501, "5.5.4", "Syntax: STARTTLS" },
	{ "NOOP parses", "NOOP", 0, SMTP_CMD_NOOP, 0, NULL, "" },
	{ "NOOP takes an optional string", "NOOP hello there", 0,
	  SMTP_CMD_NOOP, 0, NULL, "arg=hello there" },
	{ "HELP parses", "HELP", 0, SMTP_CMD_HELP, 0, NULL, "" },
	{ "HELP takes a topic", "HELP MAIL", 0, SMTP_CMD_HELP, 0, NULL,
	  "arg=MAIL" },
	{ "VRFY takes a string", "VRFY postmaster", 0, SMTP_CMD_VRFY, 0, NULL,
	  "arg=postmaster" },
	{ "VRFY with UTF-8 is fine", "VRFY \xc3\xa9t\xc3\xa9", 0,
	  SMTP_CMD_VRFY, 0, NULL, "arg=\xc3\xa9t\xc3\xa9" },
	{ "VRFY without an argument gets 501", "VRFY", 0, SMTP_CMD_VRFY, 501,
	  "5.5.4", "Syntax: VRFY address" },
	{ "VRFY with malformed UTF-8 gets 501", "VRFY \xc0\xaf", 0,
	  SMTP_CMD_VRFY, 501, "5.5.4", NULL },
	{ "VRFY with a control character gets 501", "VRFY a\x01" "b", 0,
	  SMTP_CMD_VRFY, 501, "5.5.4", NULL },
	{ "EXPN takes a string", "EXPN staff", 0, SMTP_CMD_EXPN, 0, NULL,
	  "arg=staff" },
	{ "EXPN without an argument gets 501", "EXPN", 0, SMTP_CMD_EXPN, 501,
	  "5.5.4", "Syntax: EXPN list" },
	{ "an unknown verb gets 500 5.5.2", "FOO bar", 0, SMTP_CMD_UNKNOWN,
	  500, "5.5.2", "Unknown command" },
	{ "an empty line gets 500 5.5.2", "", 0, SMTP_CMD_UNKNOWN, 500,
	  "5.5.2", "Unknown command" },
	{ "a verb prefix is not the verb", "EHL x.example", 0,
	  SMTP_CMD_UNKNOWN, 500, "5.5.2", NULL },
	{ "a longer word is not the verb", "EHLOX x.example", 0,
	  SMTP_CMD_UNKNOWN, 500, "5.5.2", NULL },
	{ "a leading space makes the verb unknown", " EHLO x.example", 0,
	  SMTP_CMD_UNKNOWN, 500, "5.5.2", NULL },
	{ "a tab is not a separator", "EHLO\tx.example", 0, SMTP_CMD_UNKNOWN,
	  500, "5.5.2", NULL },
	{ "HTTP on the SMTP port gets 500", "GET / HTTP/1.1", 0,
	  SMTP_CMD_UNKNOWN, 500, "5.5.2", NULL },
};

static const struct cmd_case mail_cases[] = {
	{ "MAIL FROM with an address parses", "MAIL FROM:<a@example.org>", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org>" },
	{ "MAIL FROM is case-insensitive", "mail from:<a@Example.ORG>", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org>" },
	{ "the null sender is accepted in MAIL", "MAIL FROM:<>", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<> null" },
	{ "a space after FROM: is tolerated", "MAIL FROM: <a@example.org>", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org>" },
	{ "several spaces after FROM: are tolerated",
	  "MAIL FROM:   <a@example.org>", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@example.org>" },
	{ "MAIL FROM without brackets gets 501 5.1.7",
	  "MAIL FROM:a@example.org", 0, SMTP_CMD_MAIL, 501, "5.1.7",
	  "Bad sender address syntax" },
	{ "MAIL FROM with an empty address gets 501 5.5.4", "MAIL FROM:", 0,
	  SMTP_CMD_MAIL, 501, "5.5.4", "Syntax: MAIL FROM:<address>" },
	{ "MAIL without FROM: gets 501 5.5.4", "MAIL", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Syntax: MAIL FROM:<address>" },
	{ "MAIL TO: gets 501 5.5.4", "MAIL TO:<a@example.org>", 0,
	  SMTP_CMD_MAIL, 501, "5.5.4", "Syntax: MAIL FROM:<address>" },
	{ "a space before the colon gets 501", "MAIL FROM :<a@example.org>",
	  0, SMTP_CMD_MAIL, 501, "5.5.4", NULL },
	{ "a bad sender gets 501 5.1.7", "MAIL FROM:<a..b@example.org>", 0,
	  SMTP_CMD_MAIL, 501, "5.1.7", "Bad sender address syntax" },
	{ "an unclosed path gets 501 5.1.7", "MAIL FROM:<a@example.org", 0,
	  SMTP_CMD_MAIL, 501, "5.1.7", NULL },
	{ "junk right after the path gets 501", "MAIL FROM:<a@example.org>x",
	  0, SMTP_CMD_MAIL, 501, "5.5.4", NULL },
	{ "a source route is dropped",
	  "MAIL FROM:<@relay.example:a@example.org>", 0, SMTP_CMD_MAIL, 0,
	  NULL, "from=<a@example.org> route" },
	{ "a quoted local part is kept quoted",
	  "MAIL FROM:<\"john doe\"@example.org>", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<\"john doe\"@example.org> quoted" },
	{ "a quoted dot-atom is unquoted", "MAIL FROM:<\"john\"@example.org>",
	  0, SMTP_CMD_MAIL, 0, NULL, "from=<john@example.org>" },
	{ "an address literal is accepted",
	  "MAIL FROM:<a@[IPv6:2001:DB8::1]>", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@[IPv6:2001:db8::1]>" },
	{ "SIZE parses", "MAIL FROM:<a@example.org> SIZE=12345", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> size=12345" },
	{ "SIZE=0 parses", "MAIL FROM:<a@example.org> SIZE=0", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> size=0" },
	{ "SIZE at the maximum parses",
	  "MAIL FROM:<a@example.org> SIZE=26214400", 0, SMTP_CMD_MAIL, 0,
	  NULL, "from=<a@example.org> size=26214400" },
	{ "SIZE above the maximum gets 552 5.3.4",
	  "MAIL FROM:<a@example.org> SIZE=26214401", 0, SMTP_CMD_MAIL, 552,
	  "5.3.4", "Message size exceeds fixed maximum message size" },
	{ "SIZE that overflows 64 bits gets 501",
	  "MAIL FROM:<a@example.org> SIZE=18446744073709551616", 0,
	  SMTP_CMD_MAIL, 501, "5.5.4", "Bad SIZE parameter" },
	{ "SIZE with 21 digits gets 501",
	  "MAIL FROM:<a@example.org> SIZE=000000000000000000001", 0,
	  SMTP_CMD_MAIL, 501, "5.5.4", "Bad SIZE parameter" },
	{ "SIZE that is not a number gets 501",
	  "MAIL FROM:<a@example.org> SIZE=12k", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad SIZE parameter" },
	{ "SIZE without a value gets 501", "MAIL FROM:<a@example.org> SIZE",
	  0, SMTP_CMD_MAIL, 501, "5.5.4", "Bad SIZE parameter" },
	{ "SIZE= with an empty value gets 501",
	  "MAIL FROM:<a@example.org> SIZE=", 0, SMTP_CMD_MAIL, 501, "5.5.4",
	  "Bad parameter syntax" },
	{ "a duplicate SIZE gets 501",
	  "MAIL FROM:<a@example.org> SIZE=1 SIZE=2", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Duplicate parameter SIZE" },
	{ "BODY=7BIT parses", "MAIL FROM:<a@example.org> BODY=7BIT", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> body=7BIT" },
	{ "BODY=8BITMIME parses case-insensitively",
	  "MAIL FROM:<a@example.org> body=8bitmime", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@example.org> body=8BITMIME" },
	{ "BODY=BINARYMIME parses",
	  "MAIL FROM:<a@example.org> BODY=BINARYMIME", 0, SMTP_CMD_MAIL, 0,
	  NULL, "from=<a@example.org> body=BINARYMIME" },
	{ "an unknown BODY gets 501", "MAIL FROM:<a@example.org> BODY=9BIT",
	  0, SMTP_CMD_MAIL, 501, "5.5.4", "Bad BODY parameter" },
	{ "SMTPUTF8 parses", "MAIL FROM:<a@example.org> SMTPUTF8", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> smtputf8" },
	{ "SMTPUTF8 with a value gets 501",
	  "MAIL FROM:<a@example.org> SMTPUTF8=yes", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad SMTPUTF8 parameter" },
	{ "RET=FULL parses", "MAIL FROM:<a@example.org> RET=FULL", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> ret=FULL" },
	{ "RET=HDRS parses", "MAIL FROM:<a@example.org> ret=hdrs", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> ret=HDRS" },
	{ "an unknown RET gets 501", "MAIL FROM:<a@example.org> RET=BODY", 0,
	  SMTP_CMD_MAIL, 501, "5.5.4", "Bad RET parameter" },
	{ "ENVID is xtext-decoded",
	  "MAIL FROM:<a@example.org> ENVID=QQ314159+2Bx+3D", 0, SMTP_CMD_MAIL,
	  0, NULL, "from=<a@example.org> envid=QQ314159+x=" },
	{ "ENVID with lower-case hex is tolerated",
	  "MAIL FROM:<a@example.org> ENVID=a+2bb", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@example.org> envid=a+b" },
	{ "ENVID with a bad escape gets 501",
	  "MAIL FROM:<a@example.org> ENVID=a+2", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad ENVID parameter" },
	{ "ENVID with a non-hex escape gets 501",
	  "MAIL FROM:<a@example.org> ENVID=a+GG", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad ENVID parameter" },
	{ "ENVID decoding to a control character gets 501",
	  "MAIL FROM:<a@example.org> ENVID=a+0A", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad ENVID parameter" },
	{ "ENVID decoding to NUL gets 501",
	  "MAIL FROM:<a@example.org> ENVID=a+00", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad ENVID parameter" },
	{ "ENVID decoding to 8-bit gets 501",
	  "MAIL FROM:<a@example.org> ENVID=a+C3+A9", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad ENVID parameter" },
	{ "ENVID of 100 octets parses",
	  "MAIL FROM:<a@example.org> ENVID=0123456789012345678901234567890123"
	  "456789012345678901234567890123456789012345678901234567890123456789",
	  0, SMTP_CMD_MAIL, 0, NULL, NULL },
	{ "ENVID of 101 octets gets 501",
	  "MAIL FROM:<a@example.org> ENVID=0123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456789012345678901234567890",
	  0, SMTP_CMD_MAIL, 501, "5.5.4", "Bad ENVID parameter" },
	{ "AUTH=<> parses as the empty identity",
	  "MAIL FROM:<a@example.org> AUTH=<>", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@example.org> auth=" },
	{ "AUTH= is xtext-decoded",
	  "MAIL FROM:<a@example.org> AUTH=e+3Dmc2@example.com", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> auth=e=mc2@example.com" },
	{ "AUTH= with a bad escape gets 501",
	  "MAIL FROM:<a@example.org> AUTH=a+ZZ", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Bad AUTH parameter" },
	{ "every MAIL parameter at once parses",
	  "MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS "
	  "ENVID=id1 AUTH=<>", 0, SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@example.org> size=10 body=8BITMIME smtputf8 ret=HDRS "
	  "envid=id1 auth=" },
	{ "several spaces between parameters are tolerated",
	  "MAIL FROM:<a@example.org>   SIZE=10    BODY=7BIT  ", 0,
	  SMTP_CMD_MAIL, 0, NULL, "from=<a@example.org> size=10 body=7BIT" },
	{ "parameter keywords are case-insensitive",
	  "MAIL FROM:<a@example.org> size=10 Body=7bit SmtpUtf8", 0,
	  SMTP_CMD_MAIL, 0, NULL,
	  "from=<a@example.org> size=10 body=7BIT smtputf8" },
	{ "an unknown parameter gets 555 5.5.4",
	  "MAIL FROM:<a@example.org> FOO=bar", 0, SMTP_CMD_MAIL, 555, "5.5.4",
	  "Unsupported parameter FOO" },
	{ "an unknown parameter name is cut in the reply",
	  "MAIL FROM:<a@example.org> "
	  "X0123456789012345678901234567890123456789", 0, SMTP_CMD_MAIL, 555,
	  "5.5.4", "Unsupported parameter X0123456789012345678901234567890" },
	{ "an RCPT parameter on MAIL gets 555",
	  "MAIL FROM:<a@example.org> NOTIFY=NEVER", 0, SMTP_CMD_MAIL, 555,
	  "5.5.4", "Unsupported parameter NOTIFY" },
	{ "a duplicate BODY gets 501",
	  "MAIL FROM:<a@example.org> BODY=7BIT BODY=8BITMIME", 0,
	  SMTP_CMD_MAIL, 501, "5.5.4", "Duplicate parameter BODY" },
	{ "a duplicate SMTPUTF8 gets 501",
	  "MAIL FROM:<a@example.org> SMTPUTF8 smtputf8", 0, SMTP_CMD_MAIL, 501,
	  "5.5.4", "Duplicate parameter SMTPUTF8" },
	{ "a keyword starting with '-' gets 501",
	  "MAIL FROM:<a@example.org> -X=1", 0, SMTP_CMD_MAIL, 501, "5.5.4",
	  "Bad parameter syntax" },
	{ "a value with '=' gets 501", "MAIL FROM:<a@example.org> ENVID=a=b",
	  0, SMTP_CMD_MAIL, 501, "5.5.4", "Bad parameter syntax" },
	{ "a UTF-8 sender with SMTPUTF8 parses",
	  "MAIL FROM:<\xc3\xa9t\xc3\xa9@example.org> SMTPUTF8", 0,
	  SMTP_CMD_MAIL, 0, NULL,
	  "from=<\xc3\xa9t\xc3\xa9@example.org> smtputf8" },
	{ "a UTF-8 sender without SMTPUTF8 gets 553 5.6.7",
	  "MAIL FROM:<\xc3\xa9t\xc3\xa9@example.org>", 0, SMTP_CMD_MAIL, 553,
	  "5.6.7", NULL },
	{ "the RCPT UTF-8 flag does not stand in for SMTPUTF8 on MAIL",
	  "MAIL FROM:<\xc3\xa9t\xc3\xa9@example.org>", UTF8, SMTP_CMD_MAIL,
	  553, "5.6.7", NULL },
	{ "a malformed UTF-8 sender gets 501 5.1.7",
	  "MAIL FROM:<\xed\xa0\x80@example.org> SMTPUTF8", 0, SMTP_CMD_MAIL,
	  501, "5.1.7", NULL },
	{ "<Postmaster> is not a sender", "MAIL FROM:<Postmaster>", 0,
	  SMTP_CMD_MAIL, 501, "5.1.7", NULL },
};

static const struct cmd_case rcpt_cases[] = {
	{ "RCPT TO with an address parses", "RCPT TO:<b@example.net>", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@example.net>" },
	{ "RCPT TO is case-insensitive", "rcpt to:<b@EXAMPLE.net>", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@example.net>" },
	{ "a space after TO: is tolerated", "RCPT TO: <b@example.net>", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@example.net>" },
	{ "the null path in RCPT gets 501 5.1.3", "RCPT TO:<>", 0,
	  SMTP_CMD_RCPT, 501, "5.1.3", "Bad recipient address syntax" },
	{ "RCPT TO without brackets gets 501 5.1.3", "RCPT TO:b@example.net",
	  0, SMTP_CMD_RCPT, 501, "5.1.3", "Bad recipient address syntax" },
	{ "RCPT FROM: gets 501 5.5.4", "RCPT FROM:<b@example.net>", 0,
	  SMTP_CMD_RCPT, 501, "5.5.4", "Syntax: RCPT TO:<address>" },
	{ "RCPT without an address gets 501 5.5.4", "RCPT TO:", 0,
	  SMTP_CMD_RCPT, 501, "5.5.4", "Syntax: RCPT TO:<address>" },
	{ "a bad recipient gets 501 5.1.3", "RCPT TO:<b@-x.example>", 0,
	  SMTP_CMD_RCPT, 501, "5.1.3", "Bad recipient address syntax" },
	{ "<Postmaster> is a recipient", "RCPT TO:<Postmaster>", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<Postmaster> postmaster" },
	{ "a source route is dropped",
	  "RCPT TO:<@hosta.example,@hostb.example:b@example.net>", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@example.net> route" },
	{ "a quoted local part with '@' stays quoted",
	  "RCPT TO:<\"b@other.example\"@example.net>", 0, SMTP_CMD_RCPT, 0,
	  NULL, "to=<\"b@other.example\"@example.net> quoted" },
	{ "an IPv4 literal recipient parses", "RCPT TO:<b@[192.0.2.7]>", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@[192.0.2.7]>" },
	{ "a UTF-8 recipient in an SMTPUTF8 transaction parses",
	  "RCPT TO:<\xc3\xa9t\xc3\xa9@b\xc3\xbc" "cher.example>", UTF8,
	  SMTP_CMD_RCPT, 0, NULL,
	  "to=<\xc3\xa9t\xc3\xa9@b\xc3\xbc" "cher.example>" },
	{ "a UTF-8 recipient outside SMTPUTF8 gets 553 5.6.7",
	  "RCPT TO:<\xc3\xa9t\xc3\xa9@example.net>", 0, SMTP_CMD_RCPT, 553,
	  "5.6.7", NULL },
	{ "SMTPUTF8 is not an RCPT parameter",
	  "RCPT TO:<b@example.net> SMTPUTF8", UTF8, SMTP_CMD_RCPT, 555,
	  "5.5.4", "Unsupported parameter SMTPUTF8" },
	{ "NOTIFY=NEVER parses", "RCPT TO:<b@example.net> NOTIFY=NEVER", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@example.net> notify=N" },
	{ "NOTIFY with a list parses",
	  "RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE,DELAY", 0,
	  SMTP_CMD_RCPT, 0, NULL, "to=<b@example.net> notify=SFD" },
	{ "NOTIFY is case-insensitive",
	  "RCPT TO:<b@example.net> notify=delay,failure", 0, SMTP_CMD_RCPT, 0,
	  NULL, "to=<b@example.net> notify=FD" },
	{ "rcpt with NOTIFY=NEVER,SUCCESS is rejected",
	  "RCPT TO:<b@example.net> NOTIFY=NEVER,SUCCESS", 0, SMTP_CMD_RCPT,
	  501, "5.5.4", "Bad NOTIFY parameter" },
	{ "rcpt with NOTIFY=FAILURE,NEVER is rejected",
	  "RCPT TO:<b@example.net> NOTIFY=FAILURE,NEVER", 0, SMTP_CMD_RCPT,
	  501, "5.5.4", "Bad NOTIFY parameter" },
	{ "NOTIFY with a repeated word is rejected",
	  "RCPT TO:<b@example.net> NOTIFY=DELAY,DELAY", 0, SMTP_CMD_RCPT, 501,
	  "5.5.4", "Bad NOTIFY parameter" },
	{ "NOTIFY with an empty item is rejected",
	  "RCPT TO:<b@example.net> NOTIFY=DELAY,", 0, SMTP_CMD_RCPT, 501,
	  "5.5.4", "Bad NOTIFY parameter" },
	{ "NOTIFY with an unknown word is rejected",
	  "RCPT TO:<b@example.net> NOTIFY=ALWAYS", 0, SMTP_CMD_RCPT, 501,
	  "5.5.4", "Bad NOTIFY parameter" },
	{ "ORCPT is xtext-decoded and its type lower-cased",
	  "RCPT TO:<b@example.net> ORCPT=RFC822;b+2Bx@example.net", 0,
	  SMTP_CMD_RCPT, 0, NULL,
	  "to=<b@example.net> orcpt=rfc822;b+x@example.net" },
	{ "ORCPT without ';' gets 501", "RCPT TO:<b@example.net> ORCPT=rfc822",
	  0, SMTP_CMD_RCPT, 501, "5.5.4", "Bad ORCPT parameter" },
	{ "ORCPT with an empty type gets 501",
	  "RCPT TO:<b@example.net> ORCPT=;b@example.net", 0, SMTP_CMD_RCPT,
	  501, "5.5.4", "Bad ORCPT parameter" },
	{ "ORCPT with an empty address gets 501",
	  "RCPT TO:<b@example.net> ORCPT=rfc822;", 0, SMTP_CMD_RCPT, 501,
	  "5.5.4", "Bad ORCPT parameter" },
	{ "ORCPT with a bad escape gets 501",
	  "RCPT TO:<b@example.net> ORCPT=rfc822;b+4@example.net", 0,
	  SMTP_CMD_RCPT, 501, "5.5.4", "Bad ORCPT parameter" },
	{ "ORCPT with raw UTF-8 outside SMTPUTF8 gets 501",
	  "RCPT TO:<b@example.net> ORCPT=utf-8;\xc3\xa9@example.net", 0,
	  SMTP_CMD_RCPT, 501, "5.5.4", "Bad ORCPT parameter" },
	{ "ORCPT with raw UTF-8 in SMTPUTF8 parses",
	  "RCPT TO:<b@example.net> ORCPT=UTF-8;\xc3\xa9@example.net", UTF8,
	  SMTP_CMD_RCPT, 0, NULL,
	  "to=<b@example.net> orcpt=utf-8;\xc3\xa9@example.net" },
	{ "NOTIFY and ORCPT together parse",
	  "RCPT TO:<b@example.net> NOTIFY=FAILURE ORCPT=rfc822;b@example.net",
	  0, SMTP_CMD_RCPT, 0, NULL,
	  "to=<b@example.net> notify=F orcpt=rfc822;b@example.net" },
	{ "a duplicate NOTIFY gets 501",
	  "RCPT TO:<b@example.net> NOTIFY=NEVER NOTIFY=NEVER", 0,
	  SMTP_CMD_RCPT, 501, "5.5.4", "Duplicate parameter NOTIFY" },
	{ "a duplicate ORCPT gets 501",
	  "RCPT TO:<b@example.net> ORCPT=rfc822;a@x ORCPT=rfc822;b@x", 0,
	  SMTP_CMD_RCPT, 501, "5.5.4", "Duplicate parameter ORCPT" },
	{ "a MAIL parameter on RCPT gets 555",
	  "RCPT TO:<b@example.net> SIZE=10", 0, SMTP_CMD_RCPT, 555, "5.5.4",
	  "Unsupported parameter SIZE" },
	{ "an unknown RCPT parameter gets 555",
	  "RCPT TO:<b@example.net> X-FOO", 0, SMTP_CMD_RCPT, 555, "5.5.4",
	  "Unsupported parameter X-FOO" },
};

static const struct cmd_case bdat_auth_cases[] = {
	{ "BDAT with a size parses", "BDAT 1000", 0, SMTP_CMD_BDAT, 0, NULL,
	  "size=1000" },
	{ "BDAT with LAST parses", "BDAT 0 LAST", 0, SMTP_CMD_BDAT, 0, NULL,
	  "size=0 last" },
	{ "BDAT LAST is case-insensitive", "bdat 12 last", 0, SMTP_CMD_BDAT,
	  0, NULL, "size=12 last" },
	{ "BDAT without a size gets 501", "BDAT", 0, SMTP_CMD_BDAT, 501,
	  "5.5.4", "Syntax: BDAT size [LAST]" },
	{ "BDAT with a non-number gets 501", "BDAT x", 0, SMTP_CMD_BDAT, 501,
	  "5.5.4", NULL },
	{ "BDAT with a negative size gets 501", "BDAT -1", 0, SMTP_CMD_BDAT,
	  501, "5.5.4", NULL },
	{ "BDAT with junk after the size gets 501", "BDAT 10 FIRST", 0,
	  SMTP_CMD_BDAT, 501, "5.5.4", NULL },
	{ "BDAT with junk after LAST gets 501", "BDAT 10 LAST x", 0,
	  SMTP_CMD_BDAT, 501, "5.5.4", NULL },
	{ "BDAT above the chunk limit gets 552", "BDAT 26214401", 0,
	  SMTP_CMD_BDAT, 552, "5.3.4", NULL },
	{ "BDAT that overflows 64 bits gets 501",
	  "BDAT 99999999999999999999", 0, SMTP_CMD_BDAT, 501, "5.5.4", NULL },
	{ "AUTH with a mechanism parses", "AUTH LOGIN", 0, SMTP_CMD_AUTH, 0,
	  NULL, "mech=LOGIN" },
	{ "the AUTH mechanism is upper-cased", "auth plain", 0, SMTP_CMD_AUTH,
	  0, NULL, "mech=PLAIN" },
	{ "AUTH with an initial response parses",
	  "AUTH PLAIN AHVzZXIAcGFzcw==", 0, SMTP_CMD_AUTH, 0, NULL,
	  "mech=PLAIN initial=[AHVzZXIAcGFzcw==]" },
	{ "AUTH with '=' is an empty initial response", "AUTH EXTERNAL =", 0,
	  SMTP_CMD_AUTH, 0, NULL, "mech=EXTERNAL initial=[]" },
	{ "AUTH mechanisms may have '-' and '_'", "AUTH SCRAM-SHA-256", 0,
	  SMTP_CMD_AUTH, 0, NULL, "mech=SCRAM-SHA-256" },
	{ "AUTH without a mechanism gets 501", "AUTH", 0, SMTP_CMD_AUTH, 501,
	  "5.5.4", "Syntax: AUTH mechanism [initial-response]" },
	{ "AUTH with a 21-octet mechanism gets 501",
	  "AUTH ABCDEFGHIJKLMNOPQRSTU", 0, SMTP_CMD_AUTH, 501, "5.5.4", NULL },
	{ "AUTH with a bad mechanism character gets 501", "AUTH PL.AIN", 0,
	  SMTP_CMD_AUTH, 501, "5.5.4", NULL },
	{ "AUTH with bad base64 gets 501 5.5.2", "AUTH PLAIN AHVz*XIA", 0,
	  SMTP_CMD_AUTH, 501, "5.5.2", "Cannot Base64-decode client response" },
	{ "AUTH with unpadded base64 gets 501 5.5.2", "AUTH PLAIN AHVzZX", 0,
	  SMTP_CMD_AUTH, 501, "5.5.2", NULL },
	{ "AUTH with padding in the middle gets 501 5.5.2",
	  "AUTH PLAIN AH==ZXIA", 0, SMTP_CMD_AUTH, 501, "5.5.2", NULL },
	{ "AUTH with three pad characters gets 501 5.5.2", "AUTH PLAIN A===",
	  0, SMTP_CMD_AUTH, 501, "5.5.2", NULL },
	{ "AUTH with two responses gets 501", "AUTH PLAIN AAAA BBBB", 0,
	  SMTP_CMD_AUTH, 501, "5.5.4", NULL },
};

static void
test_verbs(void **state)
{
	run_cases(verb_cases, sizeof(verb_cases) / sizeof(verb_cases[0]));
}

static void
test_mail(void **state)
{
	run_cases(mail_cases, sizeof(mail_cases) / sizeof(mail_cases[0]));
}

static void
test_rcpt(void **state)
{
	run_cases(rcpt_cases, sizeof(rcpt_cases) / sizeof(rcpt_cases[0]));
}

static void
test_bdat_auth(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct smtp_cmd cmd;
	struct smtp_cmd_error err;

	run_cases(bdat_auth_cases,
	    sizeof(bdat_auth_cases) / sizeof(bdat_auth_cases[0]));

	/* A failed BDAT leaves the chunk length unknown: close. */
	assert_int_equal(smtp_cmd_parse((const uint8_t *)"BDAT x", 6, NULL, 0,
	    pool, &cmd, &err), -1);
	assert_true(err.close);
	assert_int_equal(smtp_cmd_parse((const uint8_t *)"BDAT 1\0", 7, NULL,
	    0, pool, &cmd, &err), -1);
	assert_true(err.close);
	assert_int_equal(cmd.verb, SMTP_CMD_BDAT);
	/* Other failures keep the connection. */
	assert_int_equal(smtp_cmd_parse((const uint8_t *)"DATA x", 6, NULL, 0,
	    pool, &cmd, &err), -1);
	assert_false(err.close);
	/* The initial response is borrowed from the line, not copied. */
	{
		static const uint8_t line[] = "AUTH PLAIN AHVzZXIAcGFzcw==";

		assert_int_equal(smtp_cmd_parse(line, sizeof(line) - 1, NULL,
		    0, pool, &cmd, &err), 0);
		assert_ptr_equal(cmd.auth_initial, line + 11);
		assert_int_equal(cmd.auth_initial_len, 16);
	}
	pool_free(&pool);
}

static void
test_nul_and_newlines(void **state)
{
	static const struct {
		const char	*name;
		const char	*line;
		size_t		 len;
	} cases[] = {
		{ "a NUL in the verb gets 500", "EH\0LO x", 7 },
		{ "a NUL in the argument gets 500", "EHLO x\0y", 8 },
		{ "a NUL at the end gets 500", "QUIT\0", 5 },
		{ "a NUL inside a path gets 500", "MAIL FROM:<a\0@b.example>",
		  24 },
		{ "a bare LF gets 500", "RSET\nQUIT", 9 },
		{ "a bare CR gets 500", "RSET\rQUIT", 9 },
		{ "a CRLF inside gets 500", "NOOP\r\nDATA", 10 },
	};
	struct pool *pool = pool_new(NULL);
	struct smtp_cmd cmd;
	struct smtp_cmd_error err;
	size_t i;
	int rc, nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = parse_in(cases[i].line, cases[i].len, 0, NULL, 0, pool,
		    &cmd, &err);
		if (rc != -1 || err.code != 500 ||
		    strcmp(err.enhanced, "5.5.2") != 0)
			case_fail(&nfail, cases[i].name, "rc %d code %u", rc,
			    err.code);
	}
	pool_free(&pool);
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static void
test_line_limits(void **state)
{
	static const struct {
		const char	*name;
		const char	*head;
		char		 fill;
		size_t		 total;	/* without CRLF */
		const char	*tail;
		unsigned	 code;
	} cases[] = {
		{ "a 512-octet NOOP line (510 + CRLF) is accepted", "NOOP ",
		  'x', 510, "", 0 },
		{ "a 513-octet NOOP line gets 500 5.5.2", "NOOP ", 'x', 511,
		  "", 500 },
		{ "an EHLO line over 512 octets gets 500 before its domain is "
		  "looked at", "EHLO ", 'a', 600, "", 500 },
		{ "a 4096-octet MAIL line with parameters is accepted",
		  "MAIL FROM:<a@example.org> ENVID=x", ' ', 4094, "BODY=7BIT", 0 },
		{ "a 4097-octet MAIL line gets 500", "MAIL FROM:<a@example.org> ",
		  ' ', 4095, "BODY=7BIT", 500 },
		{ "a MAIL line without parameters is held to 512 octets",
		  "MAIL FROM:", ' ', 600, "<a@example.org>", 500 },
		{ "a 512-octet MAIL line without parameters is accepted",
		  "MAIL FROM:", ' ', 510, "<a@example.org>", 0 },
		{ "an RCPT line without parameters is held to 512 octets",
		  "RCPT TO:", ' ', 511, "<b@example.org>", 500 },
		{ "a 4096-octet RCPT line with parameters is accepted",
		  "RCPT TO:<b@example.org>", ' ', 4094, "NOTIFY=NEVER", 0 },
		{ "a long AUTH line is accepted up to 12288 octets",
		  "AUTH PLAIN ", 'A', 10920 + 11, "", 0 },
		{ "an AUTH initial response above 8 KiB decoded gets 501",
		  "AUTH PLAIN ", 'A', 10928 + 11, "", 501 },
		{ "an AUTH line above 12288 octets gets 500", "AUTH PLAIN ",
		  'A', 12287, "", 500 },
		{ "a BDAT line over 512 octets gets 500", "BDAT 1", ' ', 511,
		  "LAST", 500 },
	};
	struct pool *pool = pool_new(NULL);
	struct smtp_cmd cmd;
	struct smtp_cmd_error err;
	size_t i;
	char *line;
	int rc, nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		line = make_line(cases[i].head, cases[i].fill, cases[i].total,
		    cases[i].tail);
		rc = parse_in(line, cases[i].total, 0, NULL, 0, pool, &cmd,
		    &err);
		if ((rc == 0 ? 0 : err.code) != cases[i].code)
			case_fail(&nfail, cases[i].name, "rc %d code %u (%s)",
			    rc, rc == 0 ? 0 : err.code,
			    rc == 0 ? "ok" : err.detail);
		free(line);
	}
	pool_free(&pool);
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static void
test_limits_from_caller(void **state)
{
	struct pool *pool = pool_new(NULL);
	struct smtp_limits limits;
	struct smtp_cmd cmd;
	struct smtp_cmd_error err;

	smtp_limits_default(&limits);
	assert_int_equal(limits.line_max, 512);
	assert_int_equal(limits.line_max_esmtp, 4096);

	limits.message_size_max = 1000;
	assert_int_equal(parse_in("MAIL FROM:<> SIZE=1000", 22, 0, &limits, 0,
	    pool, &cmd, &err), 0);
	assert_int_equal(parse_in("MAIL FROM:<> SIZE=1001", 22, 0, &limits, 0,
	    pool, &cmd, &err), -1);
	assert_int_equal(err.code, 552);

	limits.message_size_max = 0;	/* no limit */
	assert_int_equal(parse_in("MAIL FROM:<> SIZE=18446744073709551615",
	    38, 0, &limits, 0, pool, &cmd, &err), 0);
	assert_true(cmd.mail.size == UINT64_MAX);

	limits.bdat_max = 0;		/* no limit */
	assert_int_equal(parse_in("BDAT 18446744073709551615", 25, 0, &limits,
	    0, pool, &cmd, &err), 0);
	limits.bdat_max = 10;
	assert_int_equal(parse_in("BDAT 11", 7, 0, &limits, 0, pool, &cmd,
	    &err), -1);
	assert_int_equal(err.code, 552);
	assert_true(err.close);

	limits.line_max = 10;
	assert_int_equal(parse_in("NOOP 1234", 9, 0, &limits, 0, pool, &cmd,
	    &err), -1);
	assert_int_equal(err.code, 500);
	assert_int_equal(parse_in("NOOP 123", 8, 0, &limits, 0, pool, &cmd,
	    &err), 0);
	pool_free(&pool);
}

static void
test_xtext(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		const char	*want;	/* NULL: refused */
	} cases[] = {
		{ "plain xchars decode to themselves", "abc", "abc" },
		{ "+HH decodes", "a+2Bb+3Dc", "a+b=c" },
		{ "+20 decodes to a space", "a+20b", "a b" },
		{ "an empty string is refused", "", NULL },
		{ "a lone '+' is refused", "+", NULL },
		{ "a truncated escape is refused", "+4", NULL },
		{ "a raw '=' is refused", "a=b", NULL },
		{ "a raw space is refused", "a b", NULL },
		{ "an escaped control character is refused", "+09", NULL },
		{ "an escaped DEL is refused", "+7F", NULL },
		{ "raw 8-bit is refused", "\xc3\xa9", NULL },
	};
	struct pool *pool = pool_new(NULL);
	size_t i;
	char *got;
	int nfail = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = smtp_xtext_decode((const uint8_t *)cases[i].in,
		    strlen(cases[i].in), 100, pool);
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got, cases[i].want) != 0))
			case_fail(&nfail, cases[i].name, "got \"%s\"",
			    got != NULL ? got : "(refused)");
	}
	assert_null(smtp_xtext_decode((const uint8_t *)"abcd", 4, 3, pool));
	pool_free(&pool);
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

static void
test_verb_names(void **state)
{
	assert_string_equal(smtp_verb_name(SMTP_CMD_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_CMD_LHLO), "LHLO");
	assert_string_equal(smtp_verb_name(SMTP_CMD_UNKNOWN), "UNKNOWN");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("every verb, its arguments, and unknown verbs",
		    test_verbs),
		T("MAIL: paths, null sender, every parameter, SMTPUTF8",
		    test_mail),
		T("RCPT: paths, Postmaster, NOTIFY, ORCPT, SMTPUTF8",
		    test_rcpt),
		T("BDAT sizes and AUTH mechanisms and responses",
		    test_bdat_auth),
		T("NUL, bare CR and bare LF in a command get 500 5.5.2",
		    test_nul_and_newlines),
		T("line limits: 512, 4096 with parameters, 12288 for AUTH",
		    test_line_limits),
		T("limits given by the caller are applied",
		    test_limits_from_caller),
		T("xtext decoding refuses bad escapes and controls",
		    test_xtext),
		T("verb names for logs", test_verb_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
