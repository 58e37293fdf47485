/* test-conf: lib/conf.c, lib/conf-keys.c and lib/netaddr.c. The key table
 * (defaults, bounds, docs), the parser on text (every type, comments,
 * continuation lines, CRLF, limits, and the exact "file:line: key: reason"
 * of each error), conf_load on real files, conf_show, conf_doc, and that
 * docs/configuration.md documents every key. conf_parse takes the whole
 * text at once, so instead of byte-at-a-time feeding every text case runs
 * twice: with LF and with CRLF line ends, and must give the same result. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/netaddr.h"

/* A named test whose name states the behaviour. */
#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

#define FILE_NAME	"t.conf"
#define FILE_DIR	"/etc/postie"
#define DOCS_PATH	"docs/configuration.md"

static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 cases_done(int nfail);
static char	*to_crlf(const char *text, size_t len, size_t *len_r);
static int	 parse(const char *text, size_t len, struct config *cfg,
		    char **error_r);
static char	*value_of(const struct config *cfg, const char *name);
static char	*show(const struct config *cfg, bool all);
static char	*doc(void);
static char	*repeat(char c, size_t n);
static char	*make_tmpdir(void);
static void	 write_file(const char *path, const char *text, size_t len);
static char	*read_docs(const char **path_r);
static void	 test_key_table(void **state);
static void	 test_defaults(void **state);
static void	 test_defaults_cwd(void **state);
static void	 test_default_text_parses(void **state);
static void	 test_empty_text(void **state);
static void	 test_minimal(void **state);
static void	 test_values(void **state);
static void	 test_errors(void **state);
static void	 test_line_max(void **state);
static void	 test_file_max(void **state);
static void	 test_failed_parse_frees(void **state);
static void	 test_load(void **state);
static void	 test_load_relative(void **state);
static void	 test_load_errors(void **state);
static void	 test_show_all(void **state);
static void	 test_show_changed(void **state);
static void	 test_show_round_trip(void **state);
static void	 test_value_string_units(void **state);
static void	 test_doc(void **state);
static void	 test_docs_file(void **state);
static void	 test_netaddr(void **state);
static void	 test_netaddr_unix_length(void **state);

/* Report one failing table case and go on with the others. */
static void
case_fail(int *nfail, const char *name, const char *fmt, ...)
{
	va_list ap;

	print_error("case \"%s\": ", name);
	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
	print_error("\n");
	(*nfail)++;
}

static void
cases_done(int nfail)
{
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

/* text with every "\n" turned into "\r\n" (heap). */
static char *
to_crlf(const char *text, size_t len, size_t *len_r)
{
	char *out = malloc(2 * len + 1);
	size_t i, n = 0;

	assert_non_null(out);
	for (i = 0; i < len; i++) {
		if (text[i] == '\n')
			out[n++] = '\r';
		out[n++] = text[i];
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

static int
parse(const char *text, size_t len, struct config *cfg, char **error_r)
{
	*error_r = NULL;
	return conf_parse(FILE_NAME, FILE_DIR, text, len, cfg, error_r);
}

static char *
value_of(const struct config *cfg, const char *name)
{
	const struct conf_key *k = conf_key_find(name);

	if (k == NULL)
		fail_msg("no key %s in the table", name);
	return conf_value_string(cfg, k);
}

static char *
show(const struct config *cfg, bool all)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	conf_show(fp, cfg, all);
	assert_int_equal(fclose(fp), 0);
	return out;
}

static char *
doc(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	conf_doc(fp);
	assert_int_equal(fclose(fp), 0);
	return out;
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A fresh directory, by its real path (no symlinks), for conf_load. */
static char *
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[PATH_MAX], *real;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	assert_true(snprintf(tmpl, sizeof(tmpl), "%s/test-conf-XXXXXX", base) <
	    (int)sizeof(tmpl));
	assert_non_null(mkdtemp(tmpl));
	real = realpath(tmpl, NULL);
	assert_non_null(real);
	return real;
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* --- the key table --------------------------------------------------- */

static void
test_key_table(void **state)
{
	size_t i, j;
	int nfail = 0;

	(void)state;
	assert_true(conf_nkeys > 0);
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *name = k->name != NULL ? k->name : "(null)";

		if (k->name == NULL || *k->name == '\0' ||
		    strspn(k->name, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
		    strlen(k->name))
			case_fail(&nfail, name, "name is not [a-z0-9_]+");
		if (conf_key_find(name) != k)
			case_fail(&nfail, name, "conf_key_find finds another "
			    "row: the name is used twice");
		if (k->group == NULL || *k->group == '\0')
			case_fail(&nfail, name, "no group");
		if (k->def == NULL)
			case_fail(&nfail, name, "no default text");
		if (k->doc == NULL || *k->doc == '\0')
			case_fail(&nfail, name, "no doc line");
		else if (strchr(k->doc, '|') != NULL ||
		    strchr(k->doc, '\n') != NULL)
			case_fail(&nfail, name, "doc breaks the Markdown "
			    "table ('|' or newline)");
		if (k->type == CONF_ENUM && (k->choices == NULL ||
		    *k->choices == '\0'))
			case_fail(&nfail, name, "enum without choices");
		if (k->type != CONF_ENUM && k->choices != NULL)
			case_fail(&nfail, name, "choices on a non-enum");
		if (k->max != 0 && k->min > k->max)
			case_fail(&nfail, name, "min > max");
		/* conf_show and conf_doc print a heading per run of a group. */
		for (j = i + 1; i > 0 && k->group != NULL && j < conf_nkeys;
		    j++)
			if (strcmp(conf_keys[i - 1].group, k->group) != 0 &&
			    strcmp(conf_keys[j].group,
			    conf_keys[i - 1].group) == 0)
				case_fail(&nfail, name, "group %s is split",
				    conf_keys[i - 1].group);
	}
	assert_null(conf_key_find("no_such_key"));
	assert_null(conf_key_find(""));
	assert_null(conf_key_find("HOSTNAME"));
	cases_done(nfail);
}

/* --- defaults -------------------------------------------------------- */

static void
test_defaults(void **state)
{
	static const struct {
		const char	*key;
		const char	*want;
	} cases[] = {
		{ "data_dir", "/srv/postie" },
		{ "mail_root", "/srv/postie/mail" },
		{ "tls_cert_file", "/srv/postie/tls/cert.pem" },
		{ "tls_key_file", "/srv/postie/tls/key.pem" },
		{ "sqlite_path", "/srv/postie/postie.db" },
		{ "mail_user", "" },
		{ "worker_processes", "0" },
		{ "offload_threads", "4" },
		{ "log_syslog", "no" },
		{ "syslog_facility", "mail" },
		{ "log_debug", "" },
		{ "smtp_listen", "*:25" },
		{ "submission_listen", "*:587" },
		{ "submissions_listen", "*:465" },
		{ "lmtp_listen", "" },
		{ "imap_listen", "*:143" },
		{ "imaps_listen", "*:993" },
		{ "pop3_listen", "*:110" },
		{ "pop3s_listen", "*:995" },
		{ "max_message_size", "25M" },
		{ "smtp_max_recipients", "1000" },
		{ "smtp_timeout", "5m" },
		{ "smtp_data_timeout", "10m" },
		{ "mynetworks", "127.0.0.0/8, [::1]/128" },
		{ "relay_domains", "" },
		{ "smtp_auth_on_port_25", "no" },
		{ "smtp_sender_login_check", "yes" },
		{ "auth_failure_window", "15m" },
		{ "directory_backend", "sqlite" },
		{ "recipient_delimiter", "+" },
		{ "alias_max_depth", "20" },
		{ "alias_max_targets", "1000" },
	};
	struct config cfg;
	size_t i;
	char *v;
	int nfail = 0;

	(void)state;
	conf_defaults(&cfg, "/srv/postie");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = value_of(&cfg, cases[i].key);
		if (strcmp(v, cases[i].want) != 0)
			case_fail(&nfail, cases[i].key, "\"%s\", want \"%s\"",
			    v, cases[i].want);
		free(v);
	}
	/* An empty hostname means the system's. */
	assert_non_null(cfg.hostname);
	assert_true(*cfg.hostname != '\0');
	assert_null(cfg.config_file);
	assert_false(cfg.log_syslog);
	assert_int_equal(cfg.smtp_listen.n, 1);
	assert_int_equal(cfg.lmtp_listen.n, 0);
	conf_free(&cfg);
	cases_done(nfail);
}

static void
test_defaults_cwd(void **state)
{
	struct config cfg;

	(void)state;
	conf_defaults(&cfg, NULL);
	assert_string_equal(cfg.data_dir, ".");
	assert_string_equal(cfg.mail_root, "./mail");
	conf_free(&cfg);
	/* conf_free leaves nothing behind and can run twice. */
	assert_null(cfg.data_dir);
	conf_free(&cfg);
}

/* Each default, written in a file as the table has it, parses back to the
 * built-in default: the table's default texts are valid. */
static void
test_default_text_parses(void **state)
{
	struct config defs, cfg;
	size_t i;
	char *text, *error, *got, *want;
	int nfail = 0;

	(void)state;
	conf_defaults(&defs, FILE_DIR);
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		text = NULL;
		assert_true(asprintf(&text, "%s = %s\n", k->name, k->def) > 0);
		if (parse(text, strlen(text), &cfg, &error) == -1) {
			case_fail(&nfail, k->name, "%s", error);
			free(error);
		} else {
			got = conf_value_string(&cfg, k);
			want = conf_value_string(&defs, k);
			if (strcmp(got, want) != 0)
				case_fail(&nfail, k->name, "\"%s\", want "
				    "\"%s\"", got, want);
			free(got);
			free(want);
		}
		conf_free(&cfg);
		free(text);
	}
	conf_free(&defs);
	cases_done(nfail);
}

static void
test_empty_text(void **state)
{
	static const char *const texts[] = {
		"", "\n", "\r\n", "\n\n\n", "   \n\t\n", "# only a comment\n",
		"# one\n#two\n   # indented comment\n\n",
	};
	struct config defs, cfg;
	size_t i, j;
	char *error, *got, *want;

	(void)state;
	conf_defaults(&defs, FILE_DIR);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(parse(texts[i], strlen(texts[i]), &cfg,
		    &error), 0);
		for (j = 0; j < conf_nkeys; j++) {
			got = conf_value_string(&cfg, &conf_keys[j]);
			want = conf_value_string(&defs, &conf_keys[j]);
			assert_string_equal(got, want);
			free(got);
			free(want);
		}
		conf_free(&cfg);
	}
	conf_free(&defs);
}

static void
test_minimal(void **state)
{
	static const char text[] = "hostname = mx.example.org\n";
	struct config cfg;
	char *error;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &cfg, &error), 0);
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_string_equal(cfg.data_dir, FILE_DIR);
	assert_string_equal(cfg.mail_root, FILE_DIR "/mail");
	assert_int_equal(cfg.offload_threads, 4);
	assert_int_equal(cfg.smtp_listen.n, 1);
	assert_string_equal(cfg.smtp_listen.v[0], "*:25");
	conf_free(&cfg);
}

/* --- values of every type -------------------------------------------- */

struct value_case {
	const char	*name;
	const char	*text;
	const char	*key;
	const char	*want;		/* conf_value_string() */
};

static const struct value_case value_cases[] = {
	/* paths */
	{ "relative data_dir is under the config file's directory",
	  "data_dir = var\n", "data_dir", FILE_DIR "/var" },
	{ "data_dir ./var is the same as var",
	  "data_dir = ./var\n", "data_dir", FILE_DIR "/var" },
	{ "data_dir . is the config file's directory",
	  "data_dir = .\n", "data_dir", FILE_DIR },
	{ "absolute data_dir is kept",
	  "data_dir = /var/lib/postie\n", "data_dir", "/var/lib/postie" },
	{ "other paths are under data_dir",
	  "data_dir = /var/lib/postie\n", "mail_root", "/var/lib/postie/mail" },
	{ "other paths are under a relative data_dir",
	  "data_dir = var\nsqlite_path = db/postie.db\n", "sqlite_path",
	  FILE_DIR "/var/db/postie.db" },
	{ "paths are resolved after the whole file is read",
	  "tls_cert_file = certs/c.pem\ndata_dir = /srv\n", "tls_cert_file",
	  "/srv/certs/c.pem" },
	{ "absolute paths are kept whatever data_dir is",
	  "data_dir = var\ntls_key_file = /etc/ssl/private/k.pem\n",
	  "tls_key_file", "/etc/ssl/private/k.pem" },
	{ "without data_dir paths are under the file's directory",
	  "mail_root = boxes\n", "mail_root", FILE_DIR "/boxes" },
	/* numbers */
	{ "number at its lower bound", "offload_threads = 1\n",
	  "offload_threads", "1" },
	{ "number at its upper bound", "offload_threads = 64\n",
	  "offload_threads", "64" },
	{ "number bound of zero allows zero", "worker_processes = 0\n",
	  "worker_processes", "0" },
	{ "number at a large upper bound", "alias_max_targets = 100000\n",
	  "alias_max_targets", "100000" },
	{ "leading zeros are decimal", "offload_threads = 010\n",
	  "offload_threads", "10" },
	/* sizes */
	{ "size in M", "max_message_size = 10M\n", "max_message_size", "10M" },
	{ "size in G", "max_message_size = 1G\n", "max_message_size", "1G" },
	{ "size 10MB is 10M", "max_message_size = 10MB\n", "max_message_size",
	  "10M" },
	{ "size in lower case", "max_message_size = 512k\n",
	  "max_message_size", "512K" },
	{ "size in bytes is shown in the largest exact unit",
	  "max_message_size = 10485760\n", "max_message_size", "10M" },
	{ "size that is no whole unit stays in bytes",
	  "max_message_size = 1000000\n", "max_message_size", "1000000" },
	{ "size at its lower bound", "max_message_size = 1024\n",
	  "max_message_size", "1K" },
	{ "size at its upper bound", "max_message_size = 4G\n",
	  "max_message_size", "4G" },
	/* durations */
	{ "duration in minutes", "smtp_timeout = 5m\n", "smtp_timeout", "5m" },
	{ "duration in hours", "auth_failure_window = 4h\n",
	  "auth_failure_window", "4h" },
	{ "duration in seconds is shown in the largest exact unit",
	  "smtp_timeout = 300\n", "smtp_timeout", "5m" },
	{ "duration that is no whole minute stays in seconds",
	  "smtp_data_timeout = 90s\n", "smtp_data_timeout", "90s" },
	{ "duration of a day", "auth_failure_window = 1d\n",
	  "auth_failure_window", "1d" },
	{ "duration at its upper bound", "smtp_timeout = 1h\n",
	  "smtp_timeout", "1h" },
	/* booleans */
	{ "bool yes", "log_syslog = yes\n", "log_syslog", "yes" },
	{ "bool no", "log_syslog = no\n", "log_syslog", "no" },
	{ "bool on", "log_syslog = on\n", "log_syslog", "yes" },
	{ "bool off", "log_syslog = off\n", "log_syslog", "no" },
	{ "bool true", "log_syslog = true\n", "log_syslog", "yes" },
	{ "bool 0", "log_syslog = 0\n", "log_syslog", "no" },
	{ "bool is case-insensitive", "log_syslog = YES\n", "log_syslog",
	  "yes" },
	/* lists */
	{ "list split on commas", "smtp_listen = 127.0.0.1:25,[::1]:25\n",
	  "smtp_listen", "127.0.0.1:25, [::1]:25" },
	{ "list split on comma and space",
	  "smtp_listen = 127.0.0.1:25, [::1]:25\n",
	  "smtp_listen", "127.0.0.1:25, [::1]:25" },
	{ "list split on spaces and tabs",
	  "smtp_listen = 127.0.0.1:25 \t [::1]:25\n",
	  "smtp_listen", "127.0.0.1:25, [::1]:25" },
	{ "empty list disables a listener", "smtp_listen =\n",
	  "smtp_listen", "" },
	{ "list of separators only is empty", "imap_listen = , ,\n",
	  "imap_listen", "" },
	{ "unix socket listener", "lmtp_listen = unix:/run/postie/lmtp\n",
	  "lmtp_listen", "unix:/run/postie/lmtp" },
	{ "debug categories", "log_debug = smtp imap,dir\n", "log_debug",
	  "smtp, imap, dir" },
	{ "debug all", "log_debug = all\n", "log_debug", "all" },
	{ "networks", "mynetworks = 192.0.2.0/24 [2001:db8::]/32 10.1.2.3\n",
	  "mynetworks", "192.0.2.0/24, [2001:db8::]/32, 10.1.2.3" },
	{ "no networks", "mynetworks =\n", "mynetworks", "" },
	{ "relay domains", "relay_domains = example.net, example.com\n",
	  "relay_domains", "example.net, example.com" },
	/* enums */
	{ "enum value", "syslog_facility = local3\n", "syslog_facility",
	  "local3" },
	{ "enum is case-insensitive and stored in the table's spelling",
	  "syslog_facility = LOCAL3\n", "syslog_facility", "local3" },
	{ "enum with one choice", "directory_backend = sqlite\n",
	  "directory_backend", "sqlite" },
	/* strings */
	{ "string value", "hostname = mx.example.org\n", "hostname",
	  "mx.example.org" },
	{ "string may be empty", "recipient_delimiter =\n",
	  "recipient_delimiter", "" },
	{ "string of several characters", "recipient_delimiter = +-\n",
	  "recipient_delimiter", "+-" },
	{ "value may contain '='", "mail_user = a=b\n", "mail_user", "a=b" },
	{ "'#' inside a value is not a comment", "mail_user = a#b\n",
	  "mail_user", "a#b" },
	{ "inner white space of a value is kept", "mail_user = a  b\n",
	  "mail_user", "a  b" },
	/* layout */
	{ "no spaces around '='", "hostname=mx.example.org\n", "hostname",
	  "mx.example.org" },
	{ "tabs and spaces around '=' and at the end",
	  "hostname \t=\t mx.example.org \t\n", "hostname", "mx.example.org" },
	{ "last line without a newline", "hostname = mx.example.org",
	  "hostname", "mx.example.org" },
	{ "comment and blank lines are skipped",
	  "# postie.conf\n\n   \n\t\n# hostname = wrong.example\n"
	  "hostname = mx.example.org\n# end\n", "hostname", "mx.example.org" },
	{ "continuation lines extend a list",
	  "smtp_listen = 127.0.0.1:25,\n  [::1]:25\n\t10.0.0.1:25\n",
	  "smtp_listen", "127.0.0.1:25, [::1]:25, 10.0.0.1:25" },
	{ "continuation is joined with one space",
	  "mail_user = a\n     b\n", "mail_user", "a b" },
	{ "comment lines inside a continuation are skipped",
	  "smtp_listen = 127.0.0.1:25\n# the v6 one:\n  [::1]:25\n",
	  "smtp_listen", "127.0.0.1:25, [::1]:25" },
	{ "continuation of the last line in the file",
	  "hostname = a\nimap_listen = 127.0.0.1:143\n  [::1]:143",
	  "imap_listen", "127.0.0.1:143, [::1]:143" },
	{ "key after a continuation starts a new value",
	  "smtp_listen = 127.0.0.1:25\n  [::1]:25\nhostname = mx.example.org\n",
	  "hostname", "mx.example.org" },
};

static void
test_values(void **state)
{
	struct config cfg;
	size_t i, len;
	char *text, *error, *v;
	int crlf, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *c = &value_cases[i];

		for (crlf = 0; crlf <= 1; crlf++) {
			if (crlf) {
				text = to_crlf(c->text, strlen(c->text), &len);
			} else {
				text = strdup(c->text);
				assert_non_null(text);
				len = strlen(text);
			}
			if (parse(text, len, &cfg, &error) == -1) {
				case_fail(&nfail, c->name, "%s: %s",
				    crlf ? "CRLF" : "LF", error);
				free(error);
			} else {
				v = value_of(&cfg, c->key);
				if (strcmp(v, c->want) != 0)
					case_fail(&nfail, c->name, "%s: %s = "
					    "\"%s\", want \"%s\"",
					    crlf ? "CRLF" : "LF", c->key, v,
					    c->want);
				free(v);
			}
			conf_free(&cfg);
			free(text);
		}
	}
	cases_done(nfail);
}

/* --- errors ---------------------------------------------------------- */

struct error_case {
	const char	*name;
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	const char	*want;
};

static const struct error_case error_cases[] = {
	{ "unknown key", "hostname = a.example\nno_such_key = 1\n", 0,
	  "t.conf:2: no_such_key: unknown key" },
	{ "keys are case-sensitive", "Hostname = a.example\n", 0,
	  "t.conf:1: Hostname: unknown key" },
	{ "key set twice names the second line",
	  "hostname = a.example\n\nhostname = b.example\n", 0,
	  "t.conf:3: hostname: set twice" },
	{ "word for a number", "offload_threads = four\n", 0,
	  "t.conf:1: offload_threads: not a number" },
	{ "negative number", "offload_threads = -1\n", 0,
	  "t.conf:1: offload_threads: not a number" },
	{ "empty number", "offload_threads =\n", 0,
	  "t.conf:1: offload_threads: not a number" },
	{ "number with a unit", "offload_threads = 4k\n", 0,
	  "t.conf:1: offload_threads: not a number" },
	{ "number past UINT64_MAX",
	  "worker_processes = 18446744073709551616\n", 0,
	  "t.conf:1: worker_processes: not a number" },
	{ "number below its bound", "offload_threads = 0\n", 0,
	  "t.conf:1: offload_threads: out of range" },
	{ "number above its bound", "offload_threads = 65\n", 0,
	  "t.conf:1: offload_threads: out of range" },
	{ "number above a bound that starts at zero",
	  "worker_processes = 257\n", 0,
	  "t.conf:1: worker_processes: out of range" },
	{ "number at UINT64_MAX is out of range",
	  "alias_max_targets = 18446744073709551615\n", 0,
	  "t.conf:1: alias_max_targets: out of range" },
	{ "size with an unknown unit", "max_message_size = 10X\n", 0,
	  "t.conf:1: max_message_size: not a size (like 10M)" },
	{ "size with a fraction", "max_message_size = 1.5G\n", 0,
	  "t.conf:1: max_message_size: not a size (like 10M)" },
	{ "size past UINT64_MAX", "max_message_size = 16777216T\n", 0,
	  "t.conf:1: max_message_size: not a size (like 10M)" },
	{ "size below its bound", "max_message_size = 1023\n", 0,
	  "t.conf:1: max_message_size: out of range" },
	{ "size above its bound", "max_message_size = 5G\n", 0,
	  "t.conf:1: max_message_size: out of range" },
	{ "duration with an unknown unit", "smtp_timeout = 5x\n", 0,
	  "t.conf:1: smtp_timeout: not a duration (like 30s, 5m, 4h, 5d)" },
	{ "duration with two units", "smtp_timeout = 1h30m\n", 0,
	  "t.conf:1: smtp_timeout: not a duration (like 30s, 5m, 4h, 5d)" },
	{ "duration of zero", "smtp_timeout = 0\n", 0,
	  "t.conf:1: smtp_timeout: out of range" },
	{ "duration above its bound", "smtp_timeout = 4h\n", 0,
	  "t.conf:1: smtp_timeout: out of range" },
	{ "bad bool", "log_syslog = maybe\n", 0,
	  "t.conf:1: log_syslog: not yes or no" },
	{ "empty bool", "log_syslog =\n", 0,
	  "t.conf:1: log_syslog: not yes or no" },
	{ "bad enum", "syslog_facility = local8\n", 0,
	  "t.conf:1: syslog_facility: not one of the allowed values" },
	{ "empty enum", "syslog_facility =\n", 0,
	  "t.conf:1: syslog_facility: not one of the allowed values" },
	{ "enum prefix is not a choice", "syslog_facility = loc\n", 0,
	  "t.conf:1: syslog_facility: not one of the allowed values" },
	{ "unsupported directory backend", "directory_backend = oracle\n", 0,
	  "t.conf:1: directory_backend: not one of the allowed values" },
	{ "empty path", "mail_root =\n", 0,
	  "t.conf:1: mail_root: empty path" },
	{ "missing '='", "hostname mx.example.org\n", 0,
	  "t.conf:1: expected key = value" },
	{ "missing key", "= mx.example.org\n", 0,
	  "t.conf:1: expected key = value" },
	{ "continuation on the first line", "  hostname = a.example\n", 0,
	  "t.conf:1: continuation line without a key" },
	{ "continuation after only comments and blank lines",
	  "# header\n\n\tsmtp_listen = *:25\n", 0,
	  "t.conf:3: continuation line without a key" },
	{ "error in a continued value names the key's line",
	  "# x\noffload_threads = 4\n  4\n", 0,
	  "t.conf:2: offload_threads: not a number" },
	{ "error after comments names the right line",
	  "# a\n# b\n\nhostname = a.example\n\nlog_syslog = perhaps\n", 0,
	  "t.conf:6: log_syslog: not yes or no" },
	{ "NUL byte", "hostname = a.example\n\nmail_user = x\0y\n", 38,
	  "t.conf:3: contains a NUL byte" },
	{ "NUL byte first", "\0hostname = a.example\n", 22,
	  "t.conf:1: contains a NUL byte" },
	{ "listener that is not an address", "smtp_listen = nonsense\n", 0,
	  "t.conf:1: smtp_listen: expected host:port" },
	{ "listener with a host name",
	  "imap_listen = 127.0.0.1:143, localhost:143\n", 0,
	  "t.conf:1: imap_listen: host must be a numeric address or *" },
	{ "listener with port 0 in a continuation",
	  "hostname = a.example\nsubmission_listen = *:587,\n  *:0\n", 0,
	  "t.conf:2: submission_listen: bad port number" },
	{ "listener with port 65536", "pop3_listen = [::1]:65536\n", 0,
	  "t.conf:1: pop3_listen: bad port number" },
	{ "listener with a relative unix path",
	  "lmtp_listen = unix:run/lmtp\n", 0,
	  "t.conf:1: lmtp_listen: unix socket needs an absolute path that "
	  "fits" },
	{ "network that is a host name", "mynetworks = localhost\n", 0,
	  "t.conf:1: mynetworks: not a numeric network address" },
	{ "network with a bad prefix", "mynetworks = 10.0.0.0/33\n", 0,
	  "t.conf:1: mynetworks: bad prefix length" },
	{ "relay domain that is not a domain",
	  "relay_domains = example.net bad..example\n", 0,
	  "t.conf:1: relay_domains: not a valid domain" },
	{ "unknown debug category", "log_debug = smtp, bogus\n", 0,
	  "t.conf:1: log_debug: unknown debug category" },
	{ "invalid hostname", "hostname = -bad-\n", 0,
	  "t.conf:1: hostname: not a valid host name" },
	{ "continuation that makes the hostname invalid",
	  "hostname = mx\n  .example.org\n", 0,
	  "t.conf:1: hostname: not a valid host name" },
	{ "recipient delimiter with @", "recipient_delimiter = @\n", 0,
	  "t.conf:1: recipient_delimiter: at most 8 characters, none of @ \" "
	  "\\ or space" },
	{ "recipient delimiter of 9 characters",
	  "recipient_delimiter = +-_=~^!$%\n", 0,
	  "t.conf:1: recipient_delimiter: at most 8 characters, none of @ \" "
	  "\\ or space" },
	{ "the first error wins",
	  "bogus = 1\noffload_threads = 0\n", 0,
	  "t.conf:1: bogus: unknown key" },
};

static void
test_errors(void **state)
{
	struct config cfg;
	size_t i, len;
	char *text, *error;
	int crlf, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		size_t clen = c->len != 0 ? c->len : strlen(c->text);

		for (crlf = 0; crlf <= 1; crlf++) {
			if (crlf) {
				text = to_crlf(c->text, clen, &len);
			} else {
				text = malloc(clen + 1);
				assert_non_null(text);
				memcpy(text, c->text, clen + 1);
				len = clen;
			}
			if (parse(text, len, &cfg, &error) == 0)
				case_fail(&nfail, c->name, "%s: accepted",
				    crlf ? "CRLF" : "LF");
			else if (error == NULL || strcmp(error, c->want) != 0)
				case_fail(&nfail, c->name, "%s: \"%s\", want "
				    "\"%s\"", crlf ? "CRLF" : "LF",
				    error != NULL ? error : "(null)", c->want);
			free(error);
			conf_free(&cfg);
			free(text);
		}
	}
	cases_done(nfail);
}

/* A line of exactly CONF_LINE_MAX bytes is fine; one more is an error on
 * that line; continuation lines count towards the same limit. */
static void
test_line_max(void **state)
{
	static const char key[] = "mail_user = ";
	struct config cfg;
	char *val, *text, *error, *crlf;
	size_t vlen = CONF_LINE_MAX - (sizeof(key) - 1), len;

	(void)state;
	val = repeat('a', vlen + 1);
	text = malloc(CONF_LINE_MAX * 2 + 64);
	assert_non_null(text);

	/* Exactly CONF_LINE_MAX, with LF and with CRLF (CR not counted). */
	snprintf(text, CONF_LINE_MAX * 2 + 64, "%s%.*s\n", key, (int)vlen, val);
	assert_int_equal(strlen(text), CONF_LINE_MAX + 1);
	assert_int_equal(parse(text, strlen(text), &cfg, &error), 0);
	assert_int_equal(strlen(cfg.mail_user), vlen);
	conf_free(&cfg);
	crlf = to_crlf(text, strlen(text), &len);
	assert_int_equal(parse(crlf, len, &cfg, &error), 0);
	conf_free(&cfg);
	free(crlf);

	/* One byte more, on line 3. */
	snprintf(text, CONF_LINE_MAX * 2 + 64, "# x\n\n%s%s\n", key, val);
	assert_int_equal(parse(text, strlen(text), &cfg, &error), -1);
	assert_string_equal(error, "t.conf:3: line longer than 4096 bytes");
	free(error);
	conf_free(&cfg);

	/* Too long only once the continuation is added: named there. */
	snprintf(text, CONF_LINE_MAX * 2 + 64, "%s%.*s\n  %.*s\n", key,
	    (int)(vlen - 100), val, 100, val);
	assert_int_equal(parse(text, strlen(text), &cfg, &error), -1);
	assert_string_equal(error, "t.conf:2: line longer than 4096 bytes");
	free(error);
	conf_free(&cfg);

	/* A long comment line is skipped, not measured. */
	snprintf(text, CONF_LINE_MAX * 2 + 64, "#%s%s\nhostname = a.example\n",
	    val, val);
	assert_int_equal(parse(text, strlen(text), &cfg, &error), 0);
	assert_string_equal(cfg.hostname, "a.example");
	conf_free(&cfg);

	free(text);
	free(val);
}

/* CONF_FILE_MAX bytes are read; one more is refused as a whole. */
static void
test_file_max(void **state)
{
	struct config cfg;
	char *text, *error;
	size_t i;

	(void)state;
	text = malloc(CONF_FILE_MAX + 2);
	assert_non_null(text);
	/* Comment lines of 64 bytes, then "hostname = x" at the end. */
	for (i = 0; i < CONF_FILE_MAX + 1; i++)
		text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'c';
	memcpy(text + CONF_FILE_MAX - 15, "\nhostname = x\n", 14);
	text[CONF_FILE_MAX - 1] = '\n';
	assert_int_equal(parse(text, CONF_FILE_MAX, &cfg, &error), 0);
	assert_string_equal(cfg.hostname, "x");
	conf_free(&cfg);

	assert_int_equal(parse(text, CONF_FILE_MAX + 1, &cfg, &error), -1);
	assert_string_equal(error, "t.conf: file larger than 1048576 bytes");
	free(error);
	conf_free(&cfg);
	free(text);
}

static void
test_failed_parse_frees(void **state)
{
	static const char text[] = "hostname = a.example\nsmtp_listen = *:26\n"
	    "mail_root = /x\nbogus = 1\n";
	struct config cfg;
	char *error;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &cfg, &error), -1);
	assert_string_equal(error, "t.conf:4: bogus: unknown key");
	free(error);
	/* The leak checker verifies that this releases everything. */
	conf_free(&cfg);
	conf_free(&cfg);
}

/* --- conf_load ------------------------------------------------------- */

static void
test_load(void **state)
{
	static const char text[] = "# test\r\ndata_dir = var\r\n"
	    "hostname = mx.example.org\r\nlog_syslog = on\r\n";
	struct config cfg;
	char *dir, *path, *want, *error = NULL;

	(void)state;
	dir = make_tmpdir();
	assert_true(asprintf(&path, "%s/postie.conf", dir) > 0);
	write_file(path, text, sizeof(text) - 1);

	if (conf_load(path, &cfg, &error) == -1)
		fail_msg("conf_load: %s", error);
	assert_string_equal(cfg.config_file, path);
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_true(cfg.log_syslog);
	assert_true(asprintf(&want, "%s/var", dir) > 0);
	assert_string_equal(cfg.data_dir, want);
	free(want);
	assert_true(asprintf(&want, "%s/var/mail", dir) > 0);
	assert_string_equal(cfg.mail_root, want);
	free(want);
	conf_free(&cfg);
	assert_null(cfg.config_file);

	/* An empty file gives the defaults, data_dir at the file. */
	write_file(path, "", 0);
	assert_int_equal(conf_load(path, &cfg, &error), 0);
	assert_string_equal(cfg.data_dir, dir);
	conf_free(&cfg);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(dir);
}

static void
test_load_relative(void **state)
{
	struct config cfg;
	char *dir, *path, *error = NULL;
	int cwd;

	(void)state;
	dir = make_tmpdir();
	assert_true(asprintf(&path, "%s/postie.conf", dir) > 0);
	write_file(path, "hostname = a.example\n", 21);

	cwd = open(".", O_RDONLY | O_DIRECTORY);
	assert_true(cwd != -1);
	assert_int_equal(chdir(dir), 0);
	if (conf_load("postie.conf", &cfg, &error) == -1) {
		assert_int_equal(fchdir(cwd), 0);
		fail_msg("conf_load: %s", error);
	}
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	/* The file is remembered, and paths resolved, absolutely. */
	assert_string_equal(cfg.config_file, path);
	assert_string_equal(cfg.data_dir, dir);
	conf_free(&cfg);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(dir);
}

static void
test_load_errors(void **state)
{
	struct config cfg;
	char *dir, *path, *want, *error, *big;
	size_t i;

	(void)state;
	dir = make_tmpdir();
	assert_true(asprintf(&path, "%s/postie.conf", dir) > 0);

	/* Missing file: the error names the path. */
	error = NULL;
	assert_int_equal(conf_load(path, &cfg, &error), -1);
	assert_true(asprintf(&want, "%s: %s", path, strerror(ENOENT)) > 0);
	assert_string_equal(error, want);
	free(want);
	free(error);
	conf_free(&cfg);

	/* A directory is not a file. */
	error = NULL;
	assert_int_equal(conf_load(dir, &cfg, &error), -1);
	assert_true(asprintf(&want, "%s: %s", dir, strerror(EISDIR)) > 0);
	assert_string_equal(error, want);
	free(want);
	free(error);
	conf_free(&cfg);

	/* A parse error names the path as given, and the line. */
	write_file(path, "hostname = a.example\nbogus = 1\n", 31);
	error = NULL;
	assert_int_equal(conf_load(path, &cfg, &error), -1);
	assert_true(asprintf(&want, "%s:2: bogus: unknown key", path) > 0);
	assert_string_equal(error, want);
	free(want);
	free(error);
	conf_free(&cfg);

	/* A file larger than CONF_FILE_MAX is refused while reading. */
	big = malloc(CONF_FILE_MAX + 1);
	assert_non_null(big);
	for (i = 0; i < CONF_FILE_MAX + 1; i++)
		big[i] = i % 64 == 63 ? '\n' : '#';
	write_file(path, big, CONF_FILE_MAX + 1);
	free(big);
	error = NULL;
	assert_int_equal(conf_load(path, &cfg, &error), -1);
	assert_true(asprintf(&want, "%s: file larger than 1048576 bytes",
	    path) > 0);
	assert_string_equal(error, want);
	free(want);
	free(error);
	conf_free(&cfg);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(dir);
}

/* --- conf_show, conf_value_string, conf_doc -------------------------- */

static void
test_show_all(void **state)
{
	static const char text[] = "hostname = mx.example.org\n"
	    "smtp_listen = 127.0.0.1:25 [::1]:25\nlog_syslog = on\n";
	struct config cfg;
	char *out, *error, *line;
	size_t i;
	int nfail = 0;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &cfg, &error), 0);
	out = show(&cfg, true);
	assert_non_null(strstr(out, "# general\nhostname = mx.example.org\n"));
	assert_non_null(strstr(out,
	    "\nsmtp_listen = 127.0.0.1:25, [::1]:25\n"));
	assert_non_null(strstr(out, "\nlog_syslog = yes\n"));
	assert_non_null(strstr(out, "\ndata_dir = " FILE_DIR "\n"));
	assert_non_null(strstr(out, "\noffload_threads = 4\n"));
	assert_non_null(strstr(out, "\n\n# listeners\n"));
	for (i = 0; i < conf_nkeys; i++) {
		line = NULL;
		assert_true(asprintf(&line, "\n%s = ", conf_keys[i].name) > 0);
		if (strstr(out, line) == NULL)
			case_fail(&nfail, conf_keys[i].name, "not shown");
		free(line);
	}
	free(out);
	conf_free(&cfg);
	cases_done(nfail);
}

static void
test_show_changed(void **state)
{
	static const char text[] = "log_debug = smtp,imap\n"
	    "offload_threads = 8\nhostname = \n";
	struct config cfg;
	char *out, *error;
	char *dir, *path;

	(void)state;
	/* Defaults only: nothing differs. */
	assert_int_equal(parse("", 0, &cfg, &error), 0);
	out = show(&cfg, false);
	assert_string_equal(out, "");
	free(out);
	conf_free(&cfg);

	/* Changed keys only, in table order; an explicit default is not a
	 * change. */
	assert_int_equal(parse(text, sizeof(text) - 1, &cfg, &error), 0);
	out = show(&cfg, false);
	assert_string_equal(out, "offload_threads = 8\n"
	    "log_debug = smtp, imap\n");
	free(out);
	conf_free(&cfg);

	/* A changed data_dir shows, the paths that follow it do not. */
	dir = make_tmpdir();
	assert_true(asprintf(&path, "%s/postie.conf", dir) > 0);
	write_file(path, "data_dir = /srv/postie\n", 23);
	assert_int_equal(conf_load(path, &cfg, &error), 0);
	out = show(&cfg, false);
	assert_string_equal(out, "data_dir = /srv/postie\n");
	free(out);
	conf_free(&cfg);
	/* And an unchanged one does not. */
	write_file(path, "data_dir = .\n", 13);
	assert_int_equal(conf_load(path, &cfg, &error), 0);
	out = show(&cfg, false);
	assert_string_equal(out, "");
	free(out);
	conf_free(&cfg);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(dir);
}

/* `postie config show` output is itself a valid file with the same
 * values. */
static void
test_show_round_trip(void **state)
{
	static const char text[] = "hostname = mx.example.org\n"
	    "data_dir = /var/lib/postie\nworker_processes = 3\n"
	    "log_syslog = yes\nsyslog_facility = local2\n"
	    "log_debug = smtp, queue\nlmtp_listen = unix:/run/l.sock\n"
	    "smtp_listen = 192.0.2.1:25 [2001:db8::1]:25\n"
	    "recipient_delimiter = +-\nalias_max_targets = 5000\n"
	    "max_message_size = 10485760\nsmtp_timeout = 90\n"
	    "auth_failure_window = 2h\nmynetworks = 10.0.0.0/8\n";
	struct config a, b;
	char *out, *error, *va, *vb;
	size_t i;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &a, &error), 0);
	out = show(&a, true);
	if (parse(out, strlen(out), &b, &error) == -1)
		fail_msg("show output does not parse: %s\n%s", error, out);
	for (i = 0; i < conf_nkeys; i++) {
		va = conf_value_string(&a, &conf_keys[i]);
		vb = conf_value_string(&b, &conf_keys[i]);
		assert_string_equal(va, vb);
		free(va);
		free(vb);
	}
	free(out);
	conf_free(&a);
	conf_free(&b);
}

/* Every output form, outside the bounds of the real keys too: a key made
 * up for the test, on a uint64_t field. */
static void
test_value_string_units(void **state)
{
	static const struct {
		enum conf_type	 type;
		uint64_t	 v;
		const char	*want;
	} cases[] = {
		{ CONF_SIZE, 1024ULL * 1024 * 1024, "1G" },
		{ CONF_SIZE, 10 * 1024 * 1024, "10M" },
		{ CONF_SIZE, 512 * 1024, "512K" },
		{ CONF_SIZE, 1536, "1536" },
		{ CONF_SIZE, 0, "0" },
		{ CONF_DURATION, 300, "5m" },
		{ CONF_DURATION, 4 * 3600, "4h" },
		{ CONF_DURATION, 5 * 86400, "5d" },
		{ CONF_DURATION, 30, "30s" },
		{ CONF_DURATION, 90, "90s" },
		{ CONF_NUMBER, 1024, "1024" },
	};
	struct conf_key k = { "test_value", CONF_SIZE, "test", "0", 0, 0,
	    NULL, offsetof(struct config, alias_max_targets), "test" };
	struct config cfg;
	uint64_t back;
	size_t i;
	char *v;
	int rc;

	(void)state;
	conf_defaults(&cfg, FILE_DIR);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k.type = cases[i].type;
		cfg.alias_max_targets = cases[i].v;
		v = conf_value_string(&cfg, &k);
		assert_string_equal(v, cases[i].want);
		rc = k.type == CONF_SIZE ? str_to_size(v, &back) :
		    k.type == CONF_DURATION ? str_to_duration(v, &back) :
		    str_to_u64(v, UINT64_MAX, &back);
		assert_int_equal(rc, 0);
		assert_int_equal(back, cases[i].v);
		free(v);
	}
	conf_free(&cfg);
}

/* Every key is documented, every row is a well-formed Markdown table row
 * (a '|' in a cell, even in a code span, would split it). */
static void
test_doc(void **state)
{
	char *out, *want, *line, *end, *p;
	size_t i, pipes;
	int nfail = 0;

	(void)state;
	out = doc();
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		want = NULL;
		assert_true(asprintf(&want, "\n| `%s` | ", k->name) > 0);
		if (strstr(out, want) == NULL)
			case_fail(&nfail, k->name, "no row");
		free(want);
		want = NULL;
		assert_true(asprintf(&want, "### %s\n", k->group) > 0);
		if (strstr(out, want) == NULL)
			case_fail(&nfail, k->name, "no heading for group %s",
			    k->group);
		free(want);
		if (strstr(out, k->doc) == NULL)
			case_fail(&nfail, k->name, "doc line missing");
	}
	for (line = out; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (*line != '|')
			continue;
		for (pipes = 0, p = line; p < end; p++)
			if (*p == '|' && (p == line || p[-1] != '\\'))
				pipes++;
		if (pipes != 5)
			case_fail(&nfail, "table row", "%zu cells: %.*s",
			    pipes - 1, (int)(end - line), line);
		if (memmem(line, (size_t)(end - line), "``", 2) != NULL)
			case_fail(&nfail, "table row", "empty code span: %.*s",
			    (int)(end - line), line);
	}
	assert_non_null(strstr(out, "`local7`"));
	free(out);
	cases_done(nfail);
}

/* docs/configuration.md, from $POSTIE_SOURCE_ROOT or ../ (meson runs the
 * tests in the build directory). NULL if neither can be read. */
static char *
read_docs(const char **path_r)
{
	static char path[PATH_MAX];
	const char *root = getenv("POSTIE_SOURCE_ROOT");
	char *text;
	FILE *fp = NULL;
	long size;

	if (root != NULL && *root != '\0' && snprintf(path, sizeof(path),
	    "%s/%s", root, DOCS_PATH) < (int)sizeof(path))
		fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(path, sizeof(path), "../%s", DOCS_PATH);
		fp = fopen(path, "r");
	}
	*path_r = path;
	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size >= 0);
	rewind(fp);
	text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, fp), (size_t)size);
	text[size] = '\0';
	fclose(fp);
	return text;
}

/* The key reference in docs/configuration.md (between its BEGIN/END KEYS
 * markers, if it has them) names every key in backticks. */
static void
test_docs_file(void **state)
{
	const char *path, *from, *to;
	char *text, *want;
	size_t i;
	int nfail = 0;

	(void)state;
	if ((text = read_docs(&path)) == NULL)
		fail_msg("cannot read %s: run the test from the build "
		    "directory or set POSTIE_SOURCE_ROOT to the source tree",
		    DOCS_PATH);
	from = strstr(text, "<!-- BEGIN KEYS -->");
	to = from != NULL ? strstr(from, "<!-- END KEYS -->") : NULL;
	if (from == NULL || to == NULL) {
		from = text;
		to = text + strlen(text);
	}
	for (i = 0; i < conf_nkeys; i++) {
		want = NULL;
		assert_true(asprintf(&want, "`%s`", conf_keys[i].name) > 0);
		if (memmem(from, (size_t)(to - from), want, strlen(want)) ==
		    NULL)
			case_fail(&nfail, conf_keys[i].name, "not in the key "
			    "reference of %s; run `make docs`", path);
		free(want);
	}
	free(text);
	cases_done(nfail);
}

/* --- netaddr --------------------------------------------------------- */

static void
test_netaddr(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		int		 family;	/* 0: an error */
		unsigned	 port;
		const char	*text;		/* or the error */
	} cases[] = {
		{ "IPv4 and port", "127.0.0.1:25", AF_INET, 25,
		  "127.0.0.1:25" },
		{ "IPv4 wildcard and the highest port", "0.0.0.0:65535",
		  AF_INET, 65535, "0.0.0.0:65535" },
		{ "bracketed IPv6 and port", "[::1]:143", AF_INET6, 143,
		  "[::1]:143" },
		{ "full IPv6", "[2001:db8::25]:587", AF_INET6, 587,
		  "[2001:db8::25]:587" },
		{ "star is every address", "*:587", AF_INET6, 587, "*:587" },
		{ "unix socket", "unix:/run/x.sock", AF_UNIX, 0,
		  "unix:/run/x.sock" },
		{ "port 0", "127.0.0.1:0", 0, 0, "bad port number" },
		{ "port 65536", "127.0.0.1:65536", 0, 0, "bad port number" },
		{ "port far too large", "*:99999999999999999999999", 0, 0,
		  "bad port number" },
		{ "negative port", "127.0.0.1:-1", 0, 0, "bad port number" },
		{ "port with garbage", "127.0.0.1:25x", 0, 0,
		  "bad port number" },
		{ "empty port", "127.0.0.1:", 0, 0, "bad port number" },
		{ "no port", "127.0.0.1", 0, 0, "expected host:port" },
		{ "IPv6 without a port", "[::1]", 0, 0, "bad port number" },
		{ "word without a port", "nonsense", 0, 0,
		  "expected host:port" },
		{ "empty string", "", 0, 0, "expected host:port" },
		{ "host name", "localhost:25", 0, 0,
		  "host must be a numeric address or *" },
		{ "domain name", "mail.example.org:25", 0, 0,
		  "host must be a numeric address or *" },
		{ "IPv4 out of range", "256.0.0.1:25", 0, 0,
		  "host must be a numeric address or *" },
		{ "empty host", ":25", 0, 0, "bad host" },
		{ "empty brackets", "[]:25", 0, 0, "bad host" },
		{ "unclosed bracket", "[::1:25", 0, 0, "bad [IPv6]:port" },
		{ "relative unix path", "unix:x.sock", 0, 0,
		  "unix socket needs an absolute path that fits" },
		{ "empty unix path", "unix:", 0, 0,
		  "unix socket needs an absolute path that fits" },
	};
	struct netaddr na;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&na.ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&na.ss;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&na.ss;
	const char *error;
	size_t i;
	unsigned port;
	int rc, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error = NULL;
		rc = netaddr_parse(cases[i].in, &na, &error);
		if (cases[i].family == 0) {
			if (rc != -1)
				case_fail(&nfail, cases[i].name, "accepted");
			else if (error == NULL ||
			    strcmp(error, cases[i].text) != 0)
				case_fail(&nfail, cases[i].name, "error \"%s\"",
				    error != NULL ? error : "(null)");
			continue;
		}
		if (rc != 0) {
			case_fail(&nfail, cases[i].name, "error \"%s\"", error);
			continue;
		}
		port = na.ss.ss_family == AF_INET ? ntohs(sin->sin_port) :
		    na.ss.ss_family == AF_INET6 ? ntohs(sin6->sin6_port) : 0;
		if (na.ss.ss_family != cases[i].family ||
		    port != cases[i].port ||
		    strcmp(na.text, cases[i].text) != 0)
			case_fail(&nfail, cases[i].name, "family %d port %u "
			    "text \"%s\"", na.ss.ss_family, port, na.text);
		if (na.is_unix != (cases[i].family == AF_UNIX))
			case_fail(&nfail, cases[i].name, "is_unix wrong");
		if (na.any != (strncmp(cases[i].in, "*:", 2) == 0))
			case_fail(&nfail, cases[i].name, "any wrong");
		if (na.any && memcmp(&sin6->sin6_addr, &in6addr_any,
		    sizeof(in6addr_any)) != 0)
			case_fail(&nfail, cases[i].name, "any is not ::");
		if (na.is_unix && strcmp(sun->sun_path, cases[i].in + 5) != 0)
			case_fail(&nfail, cases[i].name, "path \"%s\"",
			    sun->sun_path);
		if ((na.ss.ss_family == AF_INET && na.sslen != sizeof(*sin)) ||
		    (na.ss.ss_family == AF_INET6 && na.sslen != sizeof(*sin6)))
			case_fail(&nfail, cases[i].name, "sslen %u",
			    (unsigned)na.sslen);
	}
	cases_done(nfail);
}

static void
test_netaddr_unix_length(void **state)
{
	struct netaddr na;
	const char *error;
	char *path, *s;
	size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;

	(void)state;
	/* The longest path that fits sun_path with its NUL. */
	path = repeat('p', max);
	path[0] = '/';
	assert_true(asprintf(&s, "unix:%s", path) > 0);
	assert_int_equal(netaddr_parse(s, &na, &error), 0);
	assert_true(na.is_unix);
	free(s);
	assert_true(asprintf(&s, "unix:%sp", path) > 0);
	assert_int_equal(netaddr_parse(s, &na, &error), -1);
	assert_string_equal(error,
	    "unix socket needs an absolute path that fits");
	free(s);
	free(path);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("key table: names unique, docs present, groups contiguous",
		    test_key_table),
		T("defaults: paths under the directory given, values as in "
		    "the table", test_defaults),
		T("defaults without a directory hint use the current one",
		    test_defaults_cwd),
		T("each key's default text parses to the built-in default",
		    test_default_text_parses),
		T("empty, blank and comment-only files give the defaults",
		    test_empty_text),
		T("a one-line file sets that key and keeps the rest",
		    test_minimal),
		T("every value type parses, with LF and with CRLF",
		    test_values),
		T("every error names file:line: key: reason, LF and CRLF",
		    test_errors),
		T("a line of CONF_LINE_MAX bytes is read, one more is an error",
		    test_line_max),
		T("a file of CONF_FILE_MAX bytes is read, one more is refused",
		    test_file_max),
		T("a failed parse leaves a config that conf_free releases",
		    test_failed_parse_frees),
		T("conf_load reads a file, data_dir relative to its directory",
		    test_load),
		T("conf_load of a relative path records the absolute one",
		    test_load_relative),
		T("conf_load errors name the path: missing, directory, "
		    "bad line, too large", test_load_errors),
		T("conf_show prints \"key = value\" for every key by group",
		    test_show_all),
		T("conf_show without all prints only changed keys",
		    test_show_changed),
		T("conf_show output parses back to the same values",
		    test_show_round_trip),
		T("conf_value_string writes sizes and durations that parse "
		    "back", test_value_string_units),
		T("conf_doc has a well-formed row for every key", test_doc),
		T("docs/configuration.md documents every key",
		    test_docs_file),
		T("netaddr_parse takes host:port, [v6]:port, *:port, "
		    "unix:/path", test_netaddr),
		T("netaddr_parse takes a unix path that just fits sun_path",
		    test_netaddr_unix_length),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
