/* cmd-lookup: `postie lookup ADDRESS` shows how an address resolves, like
 * postmap -q: a mailbox (and its folder), an alias with its final targets,
 * a remote address, or unknown (exit status 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/pool.h"

static void	print_target(struct cli_env *env, const char *input,
		    const struct dir_target *t, struct pool *pool);

/* "INPUT: mailbox PATH" for a direct hit, "  TARGET: ..." under an alias. */
static void
print_target(struct cli_env *env, const char *input,
    const struct dir_target *t, struct pool *pool)
{
	const char *path, *error, *name = input != NULL ? input : t->address;
	const char *indent = input != NULL ? "" : "  ";
	struct dir_user u;

	if (t->kind == DIR_TARGET_REMOTE) {
		printf("%s%s: remote\n", indent, name);
		return;
	}
	/* The user's own maildir column (PostfixAdmin) when it has one. */
	if (dir_user_lookup(env->dir, t->address, pool, &u, &error) == 1)
		path = dir_user_maildir(&env->cfg, &u, pool);
	else
		path = dir_maildir_path(&env->cfg, t->address, pool);
	printf("%s%s: mailbox %s", indent, name,
	    path != NULL ? path : "(invalid path)");
	if (t->extension != NULL)
		printf(" (extension %s)", t->extension);
	printf("\n");
}

int
cmd_lookup(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct dir_resolution res;
	struct cli_env env;
	struct pool *pool;
	const char *addr;
	size_t i;
	int rc = CLI_OK;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc != 2)
		return cli_usage(cmd);
	addr = argv[1];
	if (cli_env_open(&env) == -1)
		return CLI_FAIL;
	pool = pool_new(NULL);
	if (dir_resolve(env.dir, &env.cfg, addr, pool, &res) == -1) {
		cli_error("%s: %s", addr, res.error != NULL ? res.error :
		    "cannot resolve");
		rc = CLI_FAIL;
		goto out;
	}
	switch (res.status) {
	case DIR_OK:
		/* A direct hit prints on one line, an alias lists targets. */
		if (!res.aliased && res.ntargets == 1) {
			print_target(&env, addr, &res.targets[0], pool);
			break;
		}
		printf("%s: alias\n", addr);
		for (i = 0; i < res.ntargets; i++)
			print_target(&env, NULL, &res.targets[i], pool);
		break;
	case DIR_UNKNOWN:
		printf("%s: unknown\n", addr);
		rc = CLI_FAIL;
		break;
	case DIR_LOOP:
		printf("%s: loop (%s)\n", addr, res.error != NULL ? res.error :
		    "alias nesting too deep");
		rc = CLI_FAIL;
		break;
	case DIR_TOO_MANY:
		printf("%s: too many targets\n", addr);
		rc = CLI_FAIL;
		break;
	case DIR_TEMPFAIL:
		cli_error("%s: %s", addr, res.error != NULL ? res.error :
		    "temporary failure");
		rc = CLI_FAIL;
		break;
	}
out:
	pool_free(&pool);
	cli_env_close(&env);
	return rc;
}
