/* fuzz-smtp-cmd: the SMTP command parser on arbitrary bytes, with default
 * limits, once as an ordinary command and once inside an SMTPUTF8
 * transaction. The same bytes also go through the path parser (whole, and
 * from the first '<' as a prefix) and the domain parser, with every flag
 * set and with none. A parsed command is checked against what the parser
 * promises: strings are NUL-free C strings, a path's address is
 * local@domain. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "smtp/parse.h"
#include "smtp/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	 check_path(const struct smtp_path *p);
static void	 run_path(const uint8_t *data, size_t size, unsigned flags,
		    struct pool *pool);

/* A parsed path holds what path.h says it holds. */
static void
check_path(const struct smtp_path *p)
{
	size_t llen = strlen(p->local), dlen = strlen(p->domain);

	ASSERT(strlen(p->local_raw) <= SMTP_PATH_LOCAL_MAX);
	ASSERT(dlen <= SMTP_PATH_DOMAIN_MAX);
	ASSERT(strpbrk(p->address, "\r\n") == NULL);
	if (p->null || p->postmaster)
		return;
	ASSERT(llen > 0 && dlen > 0);
	ASSERT(strlen(p->address) == llen + 1 + dlen);
	ASSERT(strncmp(p->address, p->local, llen) == 0);
	ASSERT(p->address[llen] == '@');
	ASSERT(strcmp(p->address + llen + 1, p->domain) == 0);
	ASSERT(p->quoted_local == (p->local[0] == '"'));
}

static void
run_path(const uint8_t *data, size_t size, unsigned flags, struct pool *pool)
{
	struct smtp_path path;
	const char *err, *domain;
	const uint8_t *lt;
	size_t n;
	bool literal;

	if (smtp_path_parse(data, size, flags, pool, &path, &err) == 0)
		check_path(&path);
	if ((lt = memchr(data, '<', size)) != NULL &&
	    smtp_path_parse_prefix(lt, size - (size_t)(lt - data), flags, pool,
	    &path, &n, &err) == 0) {
		ASSERT(n >= 2 && n <= size - (size_t)(lt - data));
		ASSERT(lt[n - 1] == '>');
		check_path(&path);
	}
	if (smtp_domain_parse(data, size, flags, pool, &domain, &literal,
	    &err) == 0)
		ASSERT(strlen(domain) <= SMTP_PATH_DOMAIN_MAX + 8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned cmd_flags[] = { 0, SMTP_PARSE_UTF8 };
	struct pool *pool = pool_new(NULL);
	struct smtp_limits limits;
	struct smtp_cmd cmd;
	struct smtp_cmd_error err;
	size_t i;

	smtp_limits_default(&limits);
	for (i = 0; i < sizeof(cmd_flags) / sizeof(cmd_flags[0]); i++) {
		if (smtp_cmd_parse(data, size, &limits, cmd_flags[i], pool,
		    &cmd, &err) == -1) {
			ASSERT(err.code >= 500 && err.code < 600);
			ASSERT(err.enhanced != NULL && err.text != NULL &&
			    err.detail != NULL);
			ASSERT(strpbrk(err.text, "\r\n") == NULL);
			continue;
		}
		ASSERT(size + 2 <= limits.line_max_auth);
		if (cmd.verb == SMTP_CMD_MAIL)
			check_path(&cmd.mail.path);
		if (cmd.verb == SMTP_CMD_RCPT) {
			check_path(&cmd.rcpt.path);
			ASSERT(!cmd.rcpt.path.null);
		}
		if (cmd.verb == SMTP_CMD_AUTH && cmd.auth_initial != NULL)
			ASSERT(cmd.auth_initial >= data &&
			    cmd.auth_initial + cmd.auth_initial_len <=
			    data + size);
	}
	run_path(data, size, 0, pool);
	run_path(data, size, SMTP_PATH_ALLOW_NULL | SMTP_PATH_ALLOW_UTF8 |
	    SMTP_PATH_ALLOW_POSTMASTER, pool);
	pool_free(&pool);
	return 0;
}
