/* cmd-domain: `postie domain add|del|list|enable|disable`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void	print_domain(const struct dir_domain *d, void *ctx);

static void
print_domain(const struct dir_domain *d, void *ctx)
{
	char size[32];

	printf("%s", d->name);
	if (d->max_message_size != 0) {
		str_from_size(d->max_message_size, size, sizeof(size));
		printf("\tmax_message_size=%s", size);
	}
	printf("%s\n", d->active ? "" : "\tinactive");
}

int
cmd_domain(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_env env;
	const char *error = NULL, *op;
	uint64_t max_size = 0;
	int r;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(cmd);
	op = argv[1];
	if (strcmp(op, "list") == 0 ? argc != 2 :
	    strcmp(op, "add") == 0 ? argc != 3 && argc != 5 : argc != 3)
		return cli_usage(cmd);
	if (argc == 5) {
		if (strcmp(argv[3], "--max-message-size") != 0)
			return cli_usage(cmd);
		if (str_to_size(argv[4], &max_size) == -1) {
			cli_error("--max-message-size: not a size: %s", argv[4]);
			return CLI_FAIL;
		}
	}
	if (strcmp(op, "add") != 0 && strcmp(op, "del") != 0 &&
	    strcmp(op, "list") != 0 && strcmp(op, "enable") != 0 &&
	    strcmp(op, "disable") != 0)
		return cli_usage(cmd);
	if (cli_env_open(&env) == -1)
		return CLI_FAIL;
	if (strcmp(op, "add") == 0)
		r = dir_domain_add(env.dir, argv[2], max_size, &error);
	else if (strcmp(op, "del") == 0)
		r = dir_domain_del(env.dir, argv[2], &error);
	else if (strcmp(op, "list") == 0)
		r = dir_domain_list(env.dir, print_domain, NULL, &error);
	else
		r = dir_domain_set_active(env.dir, argv[2],
		    strcmp(op, "enable") == 0, &error);
	cli_env_close(&env);
	return cli_result(r, error);
}
