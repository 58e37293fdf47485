/* conf: parser for postie.conf, driven by the key table in conf-keys.c.
 *
 * Syntax, as in Postfix's main.cf: "key = value" lines, '#' starts a comment
 * line, a line that starts with white space continues the previous value.
 * Unknown keys, duplicate keys and bad values are errors naming file:line.
 * Limits: CONF_FILE_MAX bytes per file, CONF_LINE_MAX bytes per logical
 * line, no NUL bytes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cidr.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/netaddr.h"
#include "lib/xalloc.h"

static int	 set_value(struct config *cfg, const struct conf_key *k,
		    const char *value, const char **error_r);
static int	 check_value(const struct config *cfg, const struct conf_key *k,
		    const char **error_r);
static int	 apply_line(struct config *cfg, const char *line,
		    unsigned lineno, unsigned *seen, const char **key_r,
		    const char **error_r);
static void	 set_defaults(struct config *cfg);
static char	*path_join(const char *dir, const char *path);
static void	 resolve_paths(struct config *cfg, const char *file_dir);
static char	*dir_of(const char *path);
static void	 doc_choices(FILE *fp, const char *choices);
static char	*errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FIELD(cfg, k, type)	((type *)(void *)((char *)(cfg) + (k)->offset))

static char *
errorf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	return s;
}

const struct conf_key *
conf_key_find(const char *name)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

static bool
enum_allows(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices, *end;

	while (*p != '\0') {
		end = strchr(p, '|');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) == n && strncasecmp(p, v, n) == 0)
			return true;
		p = *end == '|' ? end + 1 : end;
	}
	return false;
}

static int
set_value(struct config *cfg, const struct conf_key *k, const char *value,
    const char **error_r)
{
	uint64_t n;
	bool b;
	int r;

	switch (k->type) {
	case CONF_STRING:
	case CONF_PATH:
	case CONF_ENUM:
		if (k->type == CONF_ENUM && !enum_allows(k->choices, value)) {
			*error_r = "not one of the allowed values";
			return -1;
		}
		if (k->type == CONF_PATH && *value == '\0') {
			*error_r = "empty path";
			return -1;
		}
		free(*FIELD(cfg, k, char *));
		*FIELD(cfg, k, char *) = xstrdup(value);
		/* Choices are lower case; keep one spelling for strcmp(). */
		if (k->type == CONF_ENUM)
			str_lower(*FIELD(cfg, k, char *));
		return 0;
	case CONF_NUMBER:
	case CONF_SIZE:
	case CONF_DURATION:
		if (k->type == CONF_NUMBER)
			r = str_to_u64(value, UINT64_MAX, &n);
		else if (k->type == CONF_SIZE)
			r = str_to_size(value, &n);
		else
			r = str_to_duration(value, &n);
		if (r == -1) {
			*error_r = k->type == CONF_NUMBER ? "not a number" :
			    k->type == CONF_SIZE ? "not a size (like 10M)" :
			    "not a duration (like 30s, 5m, 4h, 5d)";
			return -1;
		}
		if (n < k->min || (k->max != 0 && n > k->max)) {
			*error_r = "out of range";
			return -1;
		}
		*FIELD(cfg, k, uint64_t) = n;
		return 0;
	case CONF_BOOL:
		if (str_to_bool(value, &b) == -1) {
			*error_r = "not yes or no";
			return -1;
		}
		*FIELD(cfg, k, bool) = b;
		return 0;
	case CONF_LIST:
		strv_free(FIELD(cfg, k, struct strv));
		strv_split(FIELD(cfg, k, struct strv), value);
		return 0;
	}
	panic("bad conf type %d", k->type);
}

/* Checks that need more than the type: listener syntax, debug names. */
static int
check_value(const struct config *cfg, const struct conf_key *k,
    const char **error_r)
{
	const struct strv *sv;
	struct netaddr na;
	unsigned mask;
	size_t i;

	if (k->offset == offsetof(struct config, log_debug)) {
		char *joined = strv_join(&cfg->log_debug, ",");
		int r = log_debug_mask(joined, &mask);

		free(joined);
		if (r == -1) {
			*error_r = "unknown debug category";
			return -1;
		}
		return 0;
	}
	if (k->offset == offsetof(struct config, mynetworks)) {
		struct cidr c;

		for (i = 0; i < cfg->mynetworks.n; i++)
			if (cidr_parse(cfg->mynetworks.v[i], &c, error_r) == -1)
				return -1;
		return 0;
	}
	if (k->offset == offsetof(struct config, defer_transports)) {
		for (i = 0; i < cfg->defer_transports.n; i++) {
			if (strcmp(cfg->defer_transports.v[i], "local") != 0 &&
			    strcmp(cfg->defer_transports.v[i], "remote") != 0) {
				*error_r = "transports are local and remote";
				return -1;
			}
		}
		return 0;
	}
	if (k->offset == offsetof(struct config, relay_domains)) {
		for (i = 0; i < cfg->relay_domains.n; i++) {
			if (!valid_domain(cfg->relay_domains.v[i])) {
				*error_r = "not a valid domain";
				return -1;
			}
		}
		return 0;
	}
	if (k->type == CONF_LIST && strstr(k->name, "_listen") != NULL) {
		sv = FIELD(cfg, k, const struct strv);
		for (i = 0; i < sv->n; i++)
			if (netaddr_parse(sv->v[i], &na, error_r) == -1)
				return -1;
		return 0;
	}
	if (k->offset == offsetof(struct config, hostname) &&
	    *cfg->hostname != '\0' && !valid_domain(cfg->hostname)) {
		*error_r = "not a valid host name";
		return -1;
	}
	if (k->offset == offsetof(struct config, recipient_delimiter) &&
	    (strlen(cfg->recipient_delimiter) > 8 ||
	    strpbrk(cfg->recipient_delimiter, "@\"\\ ") != NULL)) {
		*error_r = "at most 8 characters, none of @ \" \\ or space";
		return -1;
	}
	return 0;
}

/* Defaults as written in the table; paths not yet resolved. */
static void
set_defaults(struct config *cfg)
{
	const char *error;
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < conf_nkeys; i++)
		if (set_value(cfg, &conf_keys[i], conf_keys[i].def, &error) == -1)
			panic("default of %s: %s", conf_keys[i].name, error);
}

void
conf_defaults(struct config *cfg, const char *dir_hint)
{
	set_defaults(cfg);
	resolve_paths(cfg, dir_hint != NULL ? dir_hint : ".");
}

static char *
path_join(const char *dir, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	if (strcmp(path, ".") == 0)
		return xstrdup(dir);
	if (strncmp(path, "./", 2) == 0)
		path += 2;
	return xasprintf("%s/%s", dir, path);
}

/* The directory part of an absolute path ("/" for "/x"). */
static char *
dir_of(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	return dir;
}

static void
resolve_paths(struct config *cfg, const char *file_dir)
{
	char *p, hn[256];
	size_t i;

	p = path_join(file_dir, cfg->data_dir);
	free(cfg->data_dir);
	cfg->data_dir = p;
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		char **f;

		if (k->type != CONF_PATH ||
		    k->offset == offsetof(struct config, data_dir))
			continue;
		f = FIELD(cfg, k, char *);
		p = path_join(cfg->data_dir, *f);
		free(*f);
		*f = p;
	}
	if (*cfg->hostname == '\0' && gethostname(hn, sizeof(hn)) == 0) {
		hn[sizeof(hn) - 1] = '\0';
		free(cfg->hostname);
		cfg->hostname = xstrdup(hn);
	}
}

/* One logical line: "key = value", already trimmed and comment-free.
 * seen[] records the line each key was set on (0: not set). */
static int
apply_line(struct config *cfg, const char *line, unsigned lineno,
    unsigned *seen, const char **key_r, const char **error_r)
{
	static char keybuf[64];
	const struct conf_key *k;
	const char *eq, *p;
	char *value;
	size_t klen;
	int r;

	*key_r = NULL;
	if ((eq = strchr(line, '=')) == NULL) {
		*error_r = "expected key = value";
		return -1;
	}
	for (p = eq; p > line && (p[-1] == ' ' || p[-1] == '\t'); p--)
		;
	klen = (size_t)(p - line);
	if (klen == 0 || klen >= sizeof(keybuf)) {
		*error_r = "expected key = value";
		return -1;
	}
	memcpy(keybuf, line, klen);
	keybuf[klen] = '\0';
	*key_r = keybuf;
	if ((k = conf_key_find(keybuf)) == NULL) {
		*error_r = "unknown key";
		return -1;
	}
	if (seen[k - conf_keys]) {
		*error_r = "set twice";
		return -1;
	}
	seen[k - conf_keys] = lineno;
	value = xstrdup(eq + 1);
	r = set_value(cfg, k, str_trim(value), error_r);
	free(value);
	return r;
}

int
conf_parse(const char *file, const char *dir, const char *text, size_t len,
    struct config *cfg, char **error_r)
{
	unsigned *seen;
	struct buf logical;
	unsigned lineno = 0, start_line = 0;
	const char *p = text, *end = text + len, *nl, *nul, *error = NULL;
	const char *key;
	size_t i, n = 0;
	int rc = -1;

	set_defaults(cfg);
	if (len > CONF_FILE_MAX) {
		*error_r = errorf("%s: file larger than %d bytes", file,
		    CONF_FILE_MAX);
		return -1;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		for (p = text; p < nul; p++)
			if (*p == '\n')
				lineno++;
		*error_r = errorf("%s:%u: contains a NUL byte", file,
		    lineno + 1);
		return -1;
	}
	seen = xcalloc(conf_nkeys, sizeof(*seen));
	buf_init(&logical, CONF_LINE_MAX);
	for (;;) {
		bool at_end = p >= end;
		bool continues = false;
		const char *ls = p;

		if (!at_end) {
			lineno++;
			nl = memchr(p, '\n', (size_t)(end - p));
			n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
			p = nl != NULL ? nl + 1 : end;
			if (n > 0 && ls[n - 1] == '\r')
				n--;
			/* Skip blank and comment lines. */
			for (i = 0; i < n && (ls[i] == ' ' || ls[i] == '\t'); i++)
				;
			if (i == n || ls[i] == '#')
				continue;
			continues = i > 0;
			if (continues && logical.len == 0) {
				*error_r = errorf("%s:%u: continuation line "
				    "without a key", file, lineno);
				goto out;
			}
			if (continues) {
				if (buf_append(&logical, " ", 1) == -1 ||
				    buf_append(&logical, ls + i, n - i) == -1) {
					*error_r = errorf("%s:%u: line longer "
					    "than %d bytes", file, lineno,
					    CONF_LINE_MAX);
					goto out;
				}
				continue;
			}
		}
		/* A new key starts (or the end): apply the pending one. */
		if (logical.len > 0) {
			char *line = xstrdup(buf_cstr(&logical));
			int r = apply_line(cfg, str_trim(line), start_line,
			    seen, &key, &error);

			if (r == -1) {
				*error_r = key != NULL ?
				    errorf("%s:%u: %s: %s", file, start_line,
				    key, error) :
				    errorf("%s:%u: %s", file, start_line, error);
				free(line);
				goto out;
			}
			free(line);
			buf_reset(&logical);
		}
		if (at_end)
			break;
		start_line = lineno;
		if (buf_append(&logical, ls, n) == -1) {
			*error_r = errorf("%s:%u: line longer than %d bytes",
			    file, lineno, CONF_LINE_MAX);
			goto out;
		}
	}
	resolve_paths(cfg, dir);
	for (i = 0; i < conf_nkeys; i++) {
		if (check_value(cfg, &conf_keys[i], &error) == -1) {
			/* Not set in the file: a default, e.g. the system
			 * host name, so there is no line to name. */
			*error_r = seen[i] != 0 ?
			    errorf("%s:%u: %s: %s", file, seen[i],
			    conf_keys[i].name, error) :
			    errorf("%s: %s: %s", file, conf_keys[i].name,
			    error);
			goto out;
		}
	}
	rc = 0;
out:
	buf_deinit(&logical);
	free(seen);
	return rc;
}

int
conf_load(const char *path, struct config *cfg, char **error_r)
{
	char abspath[PATH_MAX], *dir;
	struct buf text;
	char chunk[8192];
	ssize_t n;
	int fd, r;

	memset(cfg, 0, sizeof(*cfg));
	if (realpath(path, abspath) == NULL) {
		*error_r = errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((fd = open(abspath, O_RDONLY | O_CLOEXEC)) == -1) {
		*error_r = errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&text, CONF_FILE_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(&text, chunk, (size_t)n) == -1) {
			close(fd);
			buf_deinit(&text);
			*error_r = errorf("%s: file larger than %d bytes", path,
			    CONF_FILE_MAX);
			return -1;
		}
	}
	close(fd);
	if (n == -1) {
		buf_deinit(&text);
		*error_r = errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	dir = dir_of(abspath);
	r = conf_parse(path, dir, (const char *)text.data != NULL ?
	    (const char *)text.data : "", text.len, cfg, error_r);
	free(dir);
	buf_deinit(&text);
	if (r == -1) {
		conf_free(cfg);
		return -1;
	}
	cfg->config_file = xstrdup(abspath);
	return 0;
}

void
conf_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (k->type == CONF_STRING || k->type == CONF_PATH ||
		    k->type == CONF_ENUM)
			xfree(FIELD(cfg, k, char *));
		else if (k->type == CONF_LIST)
			strv_free(FIELD(cfg, k, struct strv));
	}
	xfree(&cfg->config_file);
}

char *
conf_value_string(const struct config *cfg, const struct conf_key *k)
{
	char tmp[64];

	switch (k->type) {
	case CONF_STRING:
	case CONF_PATH:
	case CONF_ENUM:
		return xstrdup(*FIELD(cfg, k, char *));
	case CONF_NUMBER:
		snprintf(tmp, sizeof(tmp), "%llu",
		    (unsigned long long)*FIELD(cfg, k, uint64_t));
		return xstrdup(tmp);
	case CONF_SIZE:
		str_from_size(*FIELD(cfg, k, uint64_t), tmp, sizeof(tmp));
		return xstrdup(tmp);
	case CONF_DURATION:
		str_from_duration(*FIELD(cfg, k, uint64_t), tmp, sizeof(tmp));
		return xstrdup(tmp);
	case CONF_BOOL:
		return xstrdup(*FIELD(cfg, k, bool) ? "yes" : "no");
	case CONF_LIST:
		return strv_join(FIELD(cfg, k, struct strv), ", ");
	}
	panic("bad conf type %d", k->type);
}

void
conf_show(FILE *fp, const struct config *cfg, bool all)
{
	struct config defs;
	const char *group = NULL;
	size_t i;

	conf_defaults(&defs, cfg->data_dir);
	/* Other paths default to data_dir, but data_dir itself to the
	 * file's directory: otherwise a changed data_dir never shows. */
	if (cfg->config_file != NULL) {
		free(defs.data_dir);
		defs.data_dir = dir_of(cfg->config_file);
	}
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		char *v = conf_value_string(cfg, k);
		char *d = conf_value_string(&defs, k);

		if (all || strcmp(v, d) != 0) {
			if (all && (group == NULL || strcmp(group, k->group) != 0))
				fprintf(fp, "%s# %s\n", group ? "\n" : "",
				    k->group);
			group = k->group;
			fprintf(fp, "%s = %s\n", k->name, v);
		}
		free(v);
		free(d);
	}
	conf_free(&defs);
}

/* "a|b|c" as " `a`, `b`, `c`": a '|' would end the Markdown table cell. */
static void
doc_choices(FILE *fp, const char *choices)
{
	const char *p = choices;
	size_t n;

	while (*p != '\0') {
		n = strcspn(p, "|");
		fprintf(fp, "%s`%.*s`", p == choices ? " " : ", ", (int)n, p);
		p += n;
		if (*p == '|')
			p++;
	}
}

void
conf_doc(FILE *fp)
{
	static const char *type_names[] = {
		[CONF_STRING] = "text", [CONF_PATH] = "path",
		[CONF_ENUM] = "one of", [CONF_NUMBER] = "number",
		[CONF_SIZE] = "size", [CONF_DURATION] = "duration",
		[CONF_BOOL] = "yes/no", [CONF_LIST] = "list",
	};
	const char *group = NULL;
	size_t i;

	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (group == NULL || strcmp(group, k->group) != 0) {
			fprintf(fp, "%s### %s\n\n| key | type | default | "
			    "meaning |\n|---|---|---|---|\n", group ? "\n" : "",
			    k->group);
			group = k->group;
		}
		fprintf(fp, "| `%s` | %s", k->name, type_names[k->type]);
		if (k->type == CONF_ENUM)
			doc_choices(fp, k->choices);
		if (k->type == CONF_NUMBER && k->max != 0)
			fprintf(fp, " %llu..%llu", (unsigned long long)k->min,
			    (unsigned long long)k->max);
		/* An empty code span would show as two backticks. */
		if (*k->def == '\0')
			fprintf(fp, " | empty | %s |\n", k->doc);
		else
			fprintf(fp, " | `%s` | %s |\n", k->def, k->doc);
	}
}
