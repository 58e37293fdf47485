/* log: the one log API. Lines go to stderr (with a timestamp and the process
 * role) and, when enabled, to syslog. Debug output is per category. */
#ifndef POSTIE_LOG_H
#define POSTIE_LOG_H

#include <stdbool.h>
#include <stdnoreturn.h>

/* Debug categories, enabled with log_debug = smtp, imap, ... */
enum log_category {
	LOG_CAT_MAIN	= 1 << 0,
	LOG_CAT_SMTP	= 1 << 1,
	LOG_CAT_IMAP	= 1 << 2,
	LOG_CAT_POP3	= 1 << 3,
	LOG_CAT_QUEUE	= 1 << 4,
	LOG_CAT_DIR	= 1 << 5,
	LOG_CAT_TLS	= 1 << 6,
};

void	log_init(const char *role, bool to_stderr);
void	log_set_role(const char *role);
void	log_set_syslog(bool enable, const char *facility);
void	log_set_debug(unsigned mask);
/* Parse "smtp, imap" into a mask; -1 on an unknown name. */
int	log_debug_mask(const char *list, unsigned *mask_r);

void	log_debug(enum log_category cat, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void log__panic(const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define panic(...)	log__panic(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(e)	do { if (!(e)) panic("assertion failed: %s", #e); } while (0)

#endif
