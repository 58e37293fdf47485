/* cmd-alias: `postie alias add|del|list`. The list shows one line per
 * source: "SOURCE -> DEST1, DEST2". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "lib/xalloc.h"

struct alias_printer {
	char	*source;	/* the line being printed, or NULL */
};

static void	print_alias(const struct dir_alias *a, void *ctx);

static void
print_alias(const struct dir_alias *a, void *ctx)
{
	struct alias_printer *p = ctx;

	if (p->source != NULL && strcasecmp(p->source, a->source) == 0) {
		printf(", %s", a->destination);
		return;
	}
	if (p->source != NULL)
		printf("\n");
	free(p->source);
	p->source = xstrdup(a->source);
	printf("%s -> %s", a->source, a->destination);
}

int
cmd_alias(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct alias_printer printer = { NULL };
	struct cli_env env;
	struct strv dests = { NULL, 0 };
	const char *error = NULL, *op;
	size_t i;
	int r = 0;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(cmd);
	op = argv[1];
	if (strcmp(op, "add") == 0 ? argc != 4 :
	    strcmp(op, "del") == 0 ? argc != 3 && argc != 4 :
	    strcmp(op, "list") == 0 ? argc > 3 : true)
		return cli_usage(cmd);
	if (cli_env_open(&env) == -1)
		return CLI_FAIL;
	if (strcmp(op, "add") == 0) {
		strv_split(&dests, argv[3]);
		if (dests.n == 0) {
			r = -1;
			error = "no destination";
		}
		for (i = 0; r == 0 && i < dests.n; i++)
			r = dir_alias_add(env.dir, argv[2], dests.v[i], &error);
	} else if (strcmp(op, "del") == 0)
		r = dir_alias_del(env.dir, argv[2], argc == 4 ? argv[3] : NULL,
		    &error);
	else {
		r = dir_alias_list(env.dir, argc == 3 ? argv[2] : NULL,
		    print_alias, &printer, &error);
		if (printer.source != NULL)
			printf("\n");
		free(printer.source);
	}
	r = cli_result(r, error);
	strv_free(&dests);
	cli_env_close(&env);
	return r;
}
