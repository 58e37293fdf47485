/* log: stderr and syslog output for every process. The role ("master",
 * "worker", "qmgr", "cli") names the process on each line. Lines are cut at
 * LOG_LINE_MAX bytes so one message never becomes two. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_LINE_MAX	2048

static void	vlog(int prio, const char *errstr, const char *fmt, va_list ap)
		    __attribute__((format(printf, 3, 0)));

static const char *log_role = "postie";
static bool log_stderr = true;
static bool log_syslog;
static int log_facility = LOG_MAIL;
static unsigned log_debug_enabled;

static const struct {
	const char	*name;
	unsigned	 bit;
} log_categories[] = {
	{ "main",  LOG_CAT_MAIN },
	{ "smtp",  LOG_CAT_SMTP },
	{ "imap",  LOG_CAT_IMAP },
	{ "pop3",  LOG_CAT_POP3 },
	{ "queue", LOG_CAT_QUEUE },
	{ "dir",   LOG_CAT_DIR },
	{ "tls",   LOG_CAT_TLS },
};

static const struct {
	const char	*name;
	int		 value;
} log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void
log_init(const char *role, bool to_stderr)
{
	log_role = role;
	log_stderr = to_stderr;
}

void
log_set_role(const char *role)
{
	log_role = role;
	if (log_syslog) {
		closelog();
		openlog("postie", LOG_PID | LOG_NDELAY, log_facility);
	}
}

void
log_set_syslog(bool enable, const char *facility)
{
	int fac = LOG_MAIL;
	size_t i;

	for (i = 0; facility != NULL && i < sizeof(log_facilities) /
	    sizeof(log_facilities[0]); i++)
		if (strcasecmp(facility, log_facilities[i].name) == 0)
			fac = log_facilities[i].value;
	if (log_syslog)
		closelog();
	log_syslog = enable;
	log_facility = fac;
	if (enable)
		openlog("postie", LOG_PID | LOG_NDELAY, fac);
}

void
log_set_debug(unsigned mask)
{
	log_debug_enabled = mask;
}

int
log_debug_mask(const char *list, unsigned *mask_r)
{
	const char *p = list, *end;
	unsigned mask = 0;
	size_t i, n;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end != '\0' && *end != ' ' && *end != ',' &&
		    *end != '\t'; end++)
			;
		n = (size_t)(end - p);
		for (i = 0; i < sizeof(log_categories) /
		    sizeof(log_categories[0]); i++) {
			if (strlen(log_categories[i].name) == n &&
			    strncasecmp(p, log_categories[i].name, n) == 0)
				break;
		}
		if (n == 3 && strncasecmp(p, "all", 3) == 0)
			mask = ~0u;
		else if (i == sizeof(log_categories) / sizeof(log_categories[0]))
			return -1;
		else
			mask |= log_categories[i].bit;
		p = end;
	}
	*mask_r = mask;
	return 0;
}

static void
vlog(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (errstr != NULL && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", errstr);
	if (log_stderr) {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld postie[%ld] %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, (long)getpid(), log_role, line);
	}
	if (log_syslog)
		syslog(prio, "%s: %s", log_role, line);
}

void
log_debug(enum log_category cat, const char *fmt, ...)
{
	va_list ap;

	if ((log_debug_enabled & cat) == 0)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log__panic(const char *file, int line, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("panic at %s:%d: %s", file, line, msg);
	abort();
}
