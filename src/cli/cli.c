/* cli: `postie [-c FILE] COMMAND ...` dispatch and the helpers every
 * command shares (configuration, directory, errors, password input).
 * Run through a link named `sendmail` or `mailq`, postie is
 * `postie sendmail ...` or `postie queue list`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/master.h"

#define PASSWORD_MAX	1024

static void	usage_all(FILE *fp);
static const struct cli_cmd *find_cmd(const char *name);
static int	read_line_noecho(const char *prompt, char *out, size_t outlen);

static const struct cli_cmd cli_cmds[] = {
	{ "init", cmd_init, "DIR [--hostname NAME] [--port-base N]",
	  "Create a ready instance in DIR: postie.conf, an empty postie.db,\n"
	  "a self-signed TLS certificate in tls/, and the queue/ and mail/\n"
	  "folders. With --port-base N every listener is on 127.0.0.1 at N\n"
	  "plus its standard port (SMTP N+25, IMAP N+143, ...); without it,\n"
	  "the standard ports on all addresses. Never overwrites an instance.\n" },
	{ "serve", cmd_serve, "",
	  "Run the mail server in the foreground, logging to standard error.\n"
	  "SIGHUP reloads the configuration, SIGTERM stops.\n" },
	{ "config", cmd_config, "check | show [-n] [KEY...] | doc",
	  "check   validate the configuration (errors name file:line)\n"
	  "show    print the effective configuration, defaults included;\n"
	  "        -n only what differs from the defaults; or just KEYs\n"
	  "doc     print the reference of every key in Markdown\n" },
	{ "domain", cmd_domain,
	  "add NAME [--max-message-size SIZE] | del NAME | list | enable NAME | disable NAME",
	  "Manage the domains this server receives mail for.\n" },
	{ "user", cmd_user,
	  "add ADDRESS [--quota SIZE] | del ADDRESS | passwd ADDRESS |\n"
	  "       quota ADDRESS SIZE | list [DOMAIN] | enable ADDRESS | disable ADDRESS",
	  "Manage mailbox users. The password is read from standard input\n"
	  "when it is not a terminal, else prompted for twice; it is never\n"
	  "taken from the command line. SIZE is like 500M or 1G; 0 means no\n"
	  "quota.\n" },
	{ "alias", cmd_alias,
	  "add SOURCE DEST[,DEST...] | del SOURCE [DEST] | list [DOMAIN]",
	  "Manage aliases. SOURCE is local@domain, or @domain for a catch-all\n"
	  "that gets mail for addresses with no user or alias. A destination\n"
	  "may be any address, or @otherdomain to keep the local part.\n" },
	{ "lookup", cmd_lookup, "ADDRESS",
	  "Show how ADDRESS resolves: a local mailbox (and its folder), an\n"
	  "alias and its final targets, a remote address, or unknown\n"
	  "(exit status 1).\n" },
	{ "queue", cmd_queue,
	  "list | show ID | flush | delete ID|ALL|deferred |\n"
	  "       hold ID|ALL | release ID|ALL | requeue ID|ALL",
	  "Look at and change the mail queue; safe while the server runs.\n"
	  "list     every message waiting (like mailq): ID and state (* being\n"
	  "         delivered, ! on hold, M in the maildrop), size, arrival,\n"
	  "         sender, then the reason of the last deferral and the\n"
	  "         recipients still to do\n"
	  "show     the envelope and the message of ID (like postcat -q)\n"
	  "flush    retry every deferred message now\n"
	  "delete   remove ID, ALL messages, or all deferred ones\n"
	  "hold     set ID (or ALL) aside: no delivery until released\n"
	  "release  give held messages back to the queue manager\n"
	  "requeue  put deferred or held messages through the queue again\n"
	  "Also run as `mailq` (through a link of that name).\n" },
	{ "sendmail", cmd_sendmail,
	  "[-t] [-i] [-f SENDER] [-F NAME] [RECIPIENT...]",
	  "Submit a message read from standard input, like sendmail(8); also\n"
	  "run as `sendmail` (through a link of that name). Works for any\n"
	  "user and while the server is down (the message waits in the\n"
	  "queue's maildrop).\n"
	  "-t         also send to the To:, Cc: and Bcc: addresses\n"
	  "-i, -oi    a line with a single \".\" does not end the message\n"
	  "-f SENDER  envelope sender (default: your login name@hostname)\n"
	  "-F NAME    full name for the From: header added when there is none\n"
	  "-bp        list the queue (mailq)\n"
	  "Bcc: headers are removed; From:, Date: and Message-ID: are added\n"
	  "when missing. -odb, -odi, -oem, -em, -v, -B..., -N..., -R..., -V...\n"
	  "and -bm are accepted and ignored; -bs is not supported.\n" },
};

static const char *config_path;

const char *
cli_config_path(void)
{
	const char *env;

	if (config_path != NULL)
		return config_path;
	if ((env = getenv("POSTIE_CONFIG")) != NULL && *env != '\0')
		return env;
	return CONF_DEFAULT_PATH;
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("postie: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_load_config(struct config *cfg)
{
	char *error;

	if (conf_load(cli_config_path(), cfg, &error) == -1) {
		cli_error("%s", error);
		free(error);
		return -1;
	}
	return 0;
}

struct dir *
cli_open_dir(const struct config *cfg)
{
	struct dir *dir;
	const char *error;

	if (dir_open(cfg, &dir, &error) == -1) {
		cli_error("directory: %s", error);
		return NULL;
	}
	return dir;
}

int
cli_env_open(struct cli_env *env)
{
	if (cli_load_config(&env->cfg) == -1)
		return -1;
	if ((env->dir = cli_open_dir(&env->cfg)) == NULL) {
		conf_free(&env->cfg);
		return -1;
	}
	return 0;
}

void
cli_env_close(struct cli_env *env)
{
	dir_close(&env->dir);
	conf_free(&env->cfg);
}

int
cli_result(int r, const char *error)
{
	if (r == -1) {
		cli_error("%s", error);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cli_usage(const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: postie [-c FILE] %s %s\n", cmd->name,
	    cmd->usage);
	return CLI_FAIL;
}

bool
cli_help(const struct cli_cmd *cmd, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: postie [-c FILE] %s %s\n\n%s", cmd->name,
			    cmd->usage, cmd->help);
			return true;
		}
	}
	return false;
}

static int
read_line_noecho(const char *prompt, char *out, size_t outlen)
{
	struct termios old, quiet;
	FILE *tty;
	size_t n;
	int r = 0;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return -1;
	fputs(prompt, tty);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	if (fgets(out, (int)outlen, tty) == NULL)
		r = -1;
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return r;
}

int
cli_read_password(char **pw_r)
{
	char a[PASSWORD_MAX], b[PASSWORD_MAX];
	size_t n;

	if (!isatty(STDIN_FILENO)) {
		if (fgets(a, sizeof(a), stdin) == NULL) {
			cli_error("no password on standard input");
			return -1;
		}
		n = strcspn(a, "\r\n");
		if (a[n] == '\0' && n == sizeof(a) - 1) {
			explicit_bzero(a, sizeof(a));
			cli_error("password longer than %d bytes",
			    PASSWORD_MAX - 2);
			return -1;
		}
		a[n] = '\0';
	} else {
		if (read_line_noecho("Password: ", a, sizeof(a)) == -1 ||
		    read_line_noecho("Again: ", b, sizeof(b)) == -1) {
			cli_error("cannot read the password");
			return -1;
		}
		if (strcmp(a, b) != 0) {
			explicit_bzero(a, sizeof(a));
			explicit_bzero(b, sizeof(b));
			cli_error("the passwords do not match");
			return -1;
		}
		explicit_bzero(b, sizeof(b));
	}
	if (a[0] == '\0') {
		cli_error("empty password");
		return -1;
	}
	*pw_r = xstrdup(a);
	explicit_bzero(a, sizeof(a));
	return 0;
}

int
cmd_serve(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct config *cfg;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	if (argc != 1)
		return cli_usage(cmd);
	cfg = xmalloc(sizeof(*cfg));
	if (cli_load_config(cfg) == -1) {
		free(cfg);
		return CLI_FAIL;
	}
	return master_run(cfg);
}

static void
usage_all(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: postie [-c FILE] COMMAND [ARGS...]\n\n"
	    "postie %s: a complete mail server (SMTP, queue, IMAP, POP3).\n\n"
	    "Commands:\n", POSTIE_VERSION);
	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		fprintf(fp, "  %-8s %s\n", cli_cmds[i].name, cli_cmds[i].usage);
	fprintf(fp, "\nThe configuration is FILE, else $POSTIE_CONFIG, else %s.\n"
	    "postie COMMAND --help explains a command.\n", CONF_DEFAULT_PATH);
}

static const struct cli_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		if (strcmp(name, cli_cmds[i].name) == 0)
			return &cli_cmds[i];
	return NULL;
}

int
cli_mailq(void)
{
	const struct cli_cmd *cmd = find_cmd("queue");
	char *argv[] = { (char *)"queue", (char *)"list", NULL };

	return cmd->run(cmd, 2, argv);
}

int
cli_main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	const struct cli_cmd *cmd;

	log_init("cli", true);
	/* The names other programs know us by: sendmail's options and
	 * mailq's (none) are theirs, so no postie options before them. */
	if (strcmp(prog, "sendmail") == 0) {
		cmd = find_cmd("sendmail");
		return cmd->run(cmd, argc, argv);
	}
	if (strcmp(prog, "mailq") == 0) {
		if (argc > 1 && strcmp(argv[1], "--help") == 0) {
			printf("usage: mailq\n\nThe same as postie queue list.\n");
			return CLI_OK;
		}
		if (argc > 1) {
			fprintf(stderr, "usage: mailq\n");
			return CLI_FAIL;
		}
		return cli_mailq();
	}
	argc--;
	argv++;
	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
			usage_all(stdout);
			return CLI_OK;
		}
		if (strcmp(argv[0], "--version") == 0) {
			printf("postie %s\n", POSTIE_VERSION);
			return CLI_OK;
		}
		if (strcmp(argv[0], "-c") == 0 && argc > 1) {
			config_path = argv[1];
			argc -= 2;
			argv += 2;
			continue;
		}
		cli_error("unknown option %s (see postie --help)", argv[0]);
		return CLI_FAIL;
	}
	if (argc == 0) {
		usage_all(stderr);
		return CLI_FAIL;
	}
	if ((cmd = find_cmd(argv[0])) != NULL)
		return cmd->run(cmd, argc, argv);
	cli_error("unknown command %s (see postie --help)", argv[0]);
	return CLI_FAIL;
}
