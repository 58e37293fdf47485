/* cmd-config: `postie config check|show|doc`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/xalloc.h"

int
cmd_config(const struct cli_cmd *cmd, int argc, char **argv)
{
	const struct conf_key *k;
	struct config cfg;
	bool changed_only = false;
	int i, first = 2, rc = CLI_OK;
	char *v;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(cmd);
	if (strcmp(argv[1], "doc") == 0 && argc == 2) {
		conf_doc(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "check") == 0 && argc == 2) {
		if (cli_load_config(&cfg) == -1)
			return CLI_FAIL;
		conf_free(&cfg);
		return CLI_OK;
	}
	if (strcmp(argv[1], "show") != 0)
		return cli_usage(cmd);
	if (argc > 2 && strcmp(argv[2], "-n") == 0) {
		changed_only = true;
		first = 3;
	}
	for (i = first; i < argc; i++) {
		if (conf_key_find(argv[i]) == NULL) {
			cli_error("unknown configuration key %s", argv[i]);
			return CLI_FAIL;
		}
	}
	if (cli_load_config(&cfg) == -1)
		return CLI_FAIL;
	if (first == argc)
		conf_show(stdout, &cfg, !changed_only);
	for (i = first; i < argc; i++) {
		k = conf_key_find(argv[i]);
		v = conf_value_string(&cfg, k);
		printf("%s = %s\n", k->name, v);
		free(v);
	}
	conf_free(&cfg);
	return rc;
}
