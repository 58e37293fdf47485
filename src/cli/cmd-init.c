/* cmd-init: `postie init DIR` creates a ready instance: configuration,
 * database, TLS certificate, queue and mail folders. It never overwrites:
 * an existing postie.conf or postie.db in DIR is an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/str.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "master/listen.h"
#include "queue/queue.h"

static int	mkdir_p(const char *path, mode_t mode);
static int	write_config(const char *path, const char *hostname,
		    int port_base);
static char	*default_hostname(void);

static int
mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	if (r == 0 && mkdir(p, mode) == -1 && errno != EEXIST)
		r = -1;
	free(p);
	return r;
}

static char *
default_hostname(void)
{
	char hn[256];

	if (gethostname(hn, sizeof(hn)) == 0) {
		hn[sizeof(hn) - 1] = '\0';
		if (valid_domain(hn))
			return xstrdup(hn);
	}
	return xstrdup("localhost");
}

static int
write_config(const char *path, const char *hostname, int port_base)
{
	char stamp[32];
	time_t now = time(NULL);
	FILE *fp;
	int fd, s;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	strftime(stamp, sizeof(stamp), "%Y-%m-%d", localtime(&now));
	fprintf(fp,
	    "# postie configuration, created by `postie init` on %s.\n"
	    "# Every key has a default: `postie config show` lists them all\n"
	    "# and docs/configuration.md explains each one. Paths are\n"
	    "# relative to data_dir, which is relative to this file.\n"
	    "\n"
	    "# --- general ---\n"
	    "hostname = %s\n"
	    "data_dir = .\n"
	    "mail_root = mail\n"
	    "\n"
	    "# --- listeners (host:port, [v6]:port, *:port; empty disables) ---\n",
	    stamp, hostname);
	for (s = 0; s < SVC_COUNT; s++) {
		if (port_base >= 0)
			fprintf(fp, "%s_listen = 127.0.0.1:%u\n", services[s].name,
			    (unsigned)port_base + services[s].std_port);
		else if (s == SVC_LMTP)
			/* LMTP has no authentication: loopback only. */
			fprintf(fp, "%s_listen = 127.0.0.1:%u\n",
			    services[s].name, services[s].std_port);
		else
			fprintf(fp, "%s_listen = *:%u\n", services[s].name,
			    services[s].std_port);
	}
	fprintf(fp,
	    "\n"
	    "# --- tls ---\n"
	    "tls_cert_file = tls/cert.pem\n"
	    "tls_key_file = tls/key.pem\n"
	    "\n"
	    "# --- directory of domains, users and aliases ---\n"
	    "directory_backend = sqlite\n"
	    "sqlite_path = postie.db\n");
	return fclose(fp) == 0 ? 0 : -1;
}

int
cmd_init(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *dirarg = NULL, *error;
	char *hostname = NULL, *conf = NULL, *db = NULL, *tlsdir = NULL;
	char *cert = NULL, *key = NULL, *sub;
	struct config cfg;
	struct dir *dir;
	struct stat st;
	uint64_t base;
	int port_base = -1, i, rc = CLI_FAIL;

	if (cli_help(cmd, argc, argv))
		return CLI_OK;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc) {
			free(hostname);
			hostname = xstrdup(argv[++i]);
			if (!valid_domain(hostname)) {
				cli_error("--hostname: not a valid host name: %s",
				    hostname);
				goto out;
			}
		} else if (strcmp(argv[i], "--port-base") == 0 && i + 1 < argc) {
			if (str_to_u64(argv[++i], 65535 - 995, &base) == -1) {
				cli_error("--port-base: a number from 0 to %d",
				    65535 - 995);
				goto out;
			}
			port_base = (int)base;
		} else if (argv[i][0] == '-' || dirarg != NULL) {
			rc = cli_usage(cmd);
			goto out;
		} else
			dirarg = argv[i];
	}
	if (dirarg == NULL) {
		rc = cli_usage(cmd);
		goto out;
	}
	if (hostname == NULL)
		hostname = default_hostname();
	conf = xasprintf("%s/postie.conf", dirarg);
	db = xasprintf("%s/postie.db", dirarg);
	if (stat(conf, &st) == 0 || stat(db, &st) == 0) {
		cli_error("%s already holds a postie instance; not touching it",
		    dirarg);
		goto out;
	}
	tlsdir = xasprintf("%s/tls", dirarg);
	if (mkdir_p(dirarg, 0755) == -1 || mkdir_p(tlsdir, 0700) == -1) {
		cli_error("%s: %s", dirarg, strerror(errno));
		goto out;
	}
	sub = xasprintf("%s/mail", dirarg);
	if (mkdir_p(sub, 0700) == -1) {
		cli_error("%s: %s", sub, strerror(errno));
		free(sub);
		goto out;
	}
	free(sub);
	sub = xasprintf("%s/queue", dirarg);
	if (queue_init_dirs(sub, &error) == -1) {
		cli_error("%s: %s", sub, error);
		free(sub);
		goto out;
	}
	free(sub);
	if (write_config(conf, hostname, port_base) == -1) {
		cli_error("%s: %s", conf, strerror(errno));
		goto out;
	}
	cert = xasprintf("%s/cert.pem", tlsdir);
	key = xasprintf("%s/key.pem", tlsdir);
	if (stat(cert, &st) == 0 || stat(key, &st) == 0)
		printf("keeping the existing certificate in %s\n", tlsdir);
	else if (tls_selfsigned_create(cert, key, hostname, &error) == -1) {
		cli_error("%s: %s", tlsdir, error);
		goto out;
	}
	if (conf_load(conf, &cfg, &sub) == -1) {
		cli_error("%s", sub);
		free(sub);
		goto out;
	}
	if ((dir = cli_open_dir(&cfg)) != NULL) {
		dir_close(&dir);
		rc = CLI_OK;
	}
	conf_free(&cfg);
	if (rc == CLI_OK)
		printf("postie: created the instance in %s for %s\n"
		    "Next: postie -c %s/postie.conf serve\n", dirarg, hostname,
		    dirarg);
out:
	free(hostname);
	free(conf);
	free(db);
	free(tlsdir);
	free(cert);
	free(key);
	return rc;
}
