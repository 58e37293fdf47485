/* cmd-user: `postie user add|del|passwd|quota|list|enable|disable`.
 * Passwords come from standard input or the terminal, never argv, and are
 * stored as yescrypt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "directory/password.h"
#include "lib/xalloc.h"

static void	print_user(const struct dir_user *u, void *ctx);
static int	new_hash(char **hash_r);

static void
print_user(const struct dir_user *u, void *ctx)
{
	char size[32];

	printf("%s", u->address);
	if (u->quota_bytes != 0) {
		str_from_size(u->quota_bytes, size, sizeof(size));
		printf("\tquota=%s", size);
	}
	printf("%s\n", u->active ? "" : "\tinactive");
}

static int
new_hash(char **hash_r)
{
	const char *error;
	char *pw;
	int r;

	if (cli_read_password(&pw) == -1)
		return -1;
	r = password_hash(pw, hash_r, &error);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (r == -1)
		cli_error("cannot hash the password: %s", error);
	return r;
}

int
cmd_user(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_env env;
	const char *error = NULL, *op;
	char *hash = NULL;
	uint64_t quota = 0;
	int r;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(cmd);
	op = argv[1];
	if (strcmp(op, "list") == 0) {
		if (argc > 3)
			return cli_usage(cmd);
	} else if (strcmp(op, "add") == 0) {
		if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--quota") == 0))
			return cli_usage(cmd);
	} else if (strcmp(op, "quota") == 0) {
		if (argc != 4)
			return cli_usage(cmd);
	} else if (strcmp(op, "del") != 0 && strcmp(op, "passwd") != 0 &&
	    strcmp(op, "enable") != 0 && strcmp(op, "disable") != 0)
		return cli_usage(cmd);
	else if (argc != 3)
		return cli_usage(cmd);
	if ((argc == 5 || strcmp(op, "quota") == 0) &&
	    str_to_size(argv[argc - 1], &quota) == -1) {
		cli_error("not a size (like 500M or 1G): %s", argv[argc - 1]);
		return CLI_FAIL;
	}
	if (cli_env_open(&env) == -1)
		return CLI_FAIL;
	if (strcmp(op, "add") == 0 || strcmp(op, "passwd") == 0) {
		/* Check the target first: no password prompt for nothing. */
		struct pool *pool = pool_new(NULL);
		struct dir_user u;

		r = dir_user_lookup(env.dir, argv[2], pool, &u, &error);
		pool_free(&pool);
		if (r == -1) {
			cli_env_close(&env);
			return cli_result(-1, error);
		}
		if (r == 1 && strcmp(op, "add") == 0) {
			cli_env_close(&env);
			cli_error("user %s already exists", argv[2]);
			return CLI_FAIL;
		}
		if (r == 0 && strcmp(op, "passwd") == 0) {
			cli_env_close(&env);
			cli_error("no such user %s", argv[2]);
			return CLI_FAIL;
		}
		if (new_hash(&hash) == -1) {
			cli_env_close(&env);
			return CLI_FAIL;
		}
	}
	if (strcmp(op, "add") == 0)
		r = dir_user_add(env.dir, argv[2], hash, quota, &error);
	else if (strcmp(op, "passwd") == 0)
		r = dir_user_set_password(env.dir, argv[2], hash, &error);
	else if (strcmp(op, "del") == 0)
		r = dir_user_del(env.dir, argv[2], &error);
	else if (strcmp(op, "quota") == 0)
		r = dir_user_set_quota(env.dir, argv[2], quota, &error);
	else if (strcmp(op, "list") == 0)
		r = dir_user_list(env.dir, argc == 3 ? argv[2] : NULL,
		    print_user, NULL, &error);
	else
		r = dir_user_set_active(env.dir, argv[2],
		    strcmp(op, "enable") == 0, &error);
	free(hash);
	cli_env_close(&env);
	return cli_result(r, error);
}
