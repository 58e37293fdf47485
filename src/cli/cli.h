/* cli: the `postie` command line. Each admin command lives in its own
 * cmd-*.c file and is listed in the table in cli.c. Errors are one line on
 * stderr ("postie: ...") and exit status 1; success prints nothing unless
 * the command lists something. */
#ifndef POSTIE_CLI_H
#define POSTIE_CLI_H

#include <stdbool.h>

#include "directory/dir.h"
#include "lib/conf.h"

#define CLI_OK		0
#define CLI_FAIL	1

struct cli_cmd {
	const char	*name;
	int		(*run)(const struct cli_cmd *cmd, int argc, char **argv);
	const char	*usage;		/* after "postie NAME " */
	const char	*help;		/* several lines */
};

int	cli_main(int argc, char **argv);

/* The -c / $POSTIE_CONFIG / default configuration path. */
const char *cli_config_path(void);
/* Load it or print the error; -1 on failure. */
int	cli_load_config(struct config *cfg);
/* Open the directory of cfg or print the error; NULL on failure. */
struct dir *cli_open_dir(const struct config *cfg);

/* What the admin commands work on: the configuration and the directory. */
struct cli_env {
	struct config	 cfg;
	struct dir	*dir;
};

int	cli_env_open(struct cli_env *env);
void	cli_env_close(struct cli_env *env);
/* Report a directory result: 0 → CLI_OK, else print error → CLI_FAIL. */
int	cli_result(int r, const char *error);
void	cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "--help" anywhere in argv: print the usage and return true. */
bool	cli_help(const struct cli_cmd *cmd, int argc, char **argv);
int	cli_usage(const struct cli_cmd *cmd);
/* `postie queue list`, for `mailq` and `sendmail -bp`. */
int	cli_mailq(void);
/* A password from stdin (not a terminal: first line) or prompted twice. */
int	cli_read_password(char **pw_r);

int	cmd_init(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_serve(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_config(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_domain(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_user(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_alias(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_lookup(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_queue(const struct cli_cmd *cmd, int argc, char **argv);
int	cmd_sendmail(const struct cli_cmd *cmd, int argc, char **argv);

#endif
