/* fuzz-pop3-cmd: the POP3 command parser on arbitrary bytes. The input is
 * split into lines at LF as the session splits it (one CR before the LF
 * stripped), and each line is parsed; the whole input is parsed as one
 * line too. A parsed command is checked against what the parser
 * promises: a known verb with its name, arguments inside the line and
 * not empty, message numbers in range, and a line within POP3_LINE_MAX;
 * an error has a reply text without a line break. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/log.h"
#include "pop3/pop3-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	 run(const uint8_t *line, size_t len);

static void
run(const uint8_t *line, size_t len)
{
	struct pop3_cmd cmd;
	const char *error;
	unsigned i;

	if (pop3_parse(line, len, &cmd, &error) == -1) {
		ASSERT(error != NULL && strpbrk(error, "\r\n") == NULL);
		return;
	}
	ASSERT(len + 2 <= POP3_LINE_MAX);
	ASSERT(cmd.verb > POP3_CMD_UNKNOWN && cmd.verb < POP3_CMD_COUNT);
	ASSERT(cmd.name != NULL &&
	    strcmp(cmd.name, pop3_verb_name(cmd.verb)) == 0);
	ASSERT(cmd.nargs <= POP3_ARGS_MAX);
	for (i = 0; i < cmd.nargs; i++) {
		ASSERT(cmd.args[i].len > 0);
		ASSERT((const uint8_t *)cmd.args[i].data > line);
		ASSERT((const uint8_t *)cmd.args[i].data + cmd.args[i].len <=
		    line + len);
		ASSERT(memchr(cmd.args[i].data, '\0', cmd.args[i].len) == NULL);
		ASSERT(memchr(cmd.args[i].data, '\r', cmd.args[i].len) == NULL);
		ASSERT(memchr(cmd.args[i].data, '\n', cmd.args[i].len) == NULL);
	}
	ASSERT(cmd.msg <= POP3_NUM_MAX && cmd.lines <= POP3_NUM_MAX);
	switch (cmd.verb) {
	case POP3_CMD_RETR:
	case POP3_CMD_DELE:
	case POP3_CMD_TOP:
		ASSERT(cmd.msg >= 1);
		break;
	case POP3_CMD_PASS:
		ASSERT(cmd.nargs == 1);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *nl;
	size_t len;

	run(data, size);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (nl != NULL && len > 0 && p[len - 1] == '\r')
			len--;
		run(p, len);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}
