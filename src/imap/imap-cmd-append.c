/* imap-cmd-append: APPEND (RFC 3501 6.3.11) with UIDPLUS's APPENDUID (RFC
 * 4315) and LITERAL+ (RFC 7888).
 *
 * The message is never held in memory. When the parser stops at the
 * message literal's header, imap_append_literal() checks everything that
 * came before it (mailbox, flags, date) and the announced size against
 * max_message_size (the domain's if lower), and opens the store's append
 * handle in the mailbox's tmp/; only then does a synchronizing literal get
 * "+ OK". Anything wrong refuses the literal, so the client does not send
 * it ({n}) or it is skipped ({n+}): NO [TOOBIG], NO [TRYCREATE], BAD. The
 * octets then go from the input straight into the file
 * (imap_append_data()); when the command line ends, the handler fsyncs
 * the file and checks the user's quota on the offload pool, and commits
 * it on the loop (store_append_commit: rename into cur/ and a new UID).
 * MULTIAPPEND is not offered: a second message literal is refused. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "imap/flags.h"
#include "imap/imap-date.h"
#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xalloc.h"
#include "store/maildir.h"

#define APPEND_ERROR_MAX	200

struct imap_append {
	struct pool		*pool;		/* keywords */
	struct store_append	*ap;		/* NULL once committed */
	uint64_t		 size;		/* of the literal */
	uint64_t		 left;		/* octets still to come */
	unsigned		 flags;		/* STORE_F_* */
	const char		**keywords;	/* in pool */
	size_t			 nkeywords;
	time_t			 date;		/* 0: now */
	/* a write failed: the rest is read and dropped, then NO */
	bool			 write_failed;
	/* the offload job */
	char			*root;		/* heap: the user's Maildir */
	uint64_t		 quota_bytes;
	bool			 over_quota;
	bool			 job_failed;
	char			 error[APPEND_ERROR_MAX];
};

static int	check_args(struct imap_session *s, struct imap_append *a,
		    const struct imap_arg *args, size_t n, char *canon,
		    const char **status_r, const char **error_r);
static void	refuse(struct imap_session *s, const char *status,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void	set_error(struct imap_append *a, const char *error);
static void	append_work(void *tctx, void *arg);
static void	append_done(struct imap_session *s, void *arg);

static void
set_error(struct imap_append *a, const char *error)
{
	(void)snprintf(a->error, sizeof(a->error), "%s", error);
}

static void
refuse(struct imap_session *s, const char *status, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	imap_append_free(s);
	imap__refuse_literal(s, status, text);
}

/* mailbox [flags] [date-time], before the literal. 0, or -1 with the
 * answer's status and text. */
static int
check_args(struct imap_session *s, struct imap_append *a,
    const struct imap_arg *args, size_t n, char *canon, const char **status_r,
    const char **error_r)
{
	struct imap_flags flags;
	const char *date;
	size_t i = 1, len;
	int rc;

	*status_r = "BAD";
	if ((rc = imap_mailbox_arg(&args[0], canon, STORE_NAME_MAX + 1,
	    error_r)) != 0) {
		if (rc == -2)
			*status_r = "NO [CANNOT]";
		return -1;
	}
	if (i < n && args[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse_list(&args[i], a->pool, &flags,
		    error_r) == -1)
			return -1;
		a->flags = imap_flags_to_store(flags.system);
		a->keywords = flags.keywords;
		a->nkeywords = flags.nkeywords;
		i++;
	}
	if (i < n) {
		if (!imap_arg_string(&args[i], &date, &len) ||
		    imap_datetime_parse(date, len, &a->date, NULL) == -1) {
			*error_r = "Invalid date-time";
			return -1;
		}
		i++;
	}
	if (i != n) {
		*error_r = "APPEND takes a mailbox, flags, a date and a message";
		return -1;
	}
	return 0;
}

void
imap_append_literal(struct imap_session *s, const struct imap_literal *lit)
{
	const struct imap_arg *args;
	char canon[STORE_NAME_MAX + 1];
	struct imap_append *a;
	const char *status, *error;
	enum store_result r;
	size_t n;

	if (s->append != NULL) {
		refuse(s, "BAD", "Only one message per APPEND (no "
		    "MULTIAPPEND)");
		return;
	}
	args = imap_parser_literal_args(s->parser, &n);
	a = xcalloc(1, sizeof(*a));
	a->pool = pool_new(s->pool);
	s->append = a;
	if (check_args(s, a, args, n, canon, &status, &error) == -1) {
		refuse(s, status, "%s", error);
		return;
	}
	if (lit->size == 0) {
		refuse(s, "NO", "Cannot append an empty message");
		return;
	}
	if (lit->size > s->max_message_size) {
		refuse(s, "NO", "[TOOBIG] Message too large (limit %llu "
		    "octets)", (unsigned long long)s->max_message_size);
		return;
	}
	if ((r = store_append_begin(s->store, canon, &a->ap, &error)) !=
	    STORE_OK) {
		if (r == STORE_TEMPFAIL) {
			log_warnx("%016llx imap APPEND failed: user=%s: %s",
			    (unsigned long long)s->id, s->user, error);
			refuse(s, "NO", "[SERVERBUG] Internal error, see the "
			    "server log");
		} else
			refuse(s, "NO", "%s %s", imap_store_code(r, true),
			    error);
		return;
	}
	a->size = a->left = lit->size;
	imap_parser_literal_stream(s->parser);
	if (lit->sync)
		evbuffer_add(imap_output(s), "+ OK\r\n", 6);
}

size_t
imap_append_data(struct imap_session *s, const uint8_t *data, size_t len)
{
	struct imap_append *a = s->append;
	const char *error;

	ASSERT(a != NULL && a->left > 0);
	if (len > a->left)
		len = (size_t)a->left;
	if (!a->write_failed &&
	    store_append_write(a->ap, data, len, &error) == -1) {
		a->write_failed = true;
		set_error(a, error);
	}
	a->left -= len;
	return len;
}

uint64_t
imap_append_left(const struct imap_session *s)
{
	return s->append != NULL ? s->append->left : 0;
}

void
imap_append_free(struct imap_session *s)
{
	struct imap_append *a = s->append;

	if (a == NULL)
		return;
	if (a->ap != NULL)
		store_append_abort(&a->ap);
	pool_free(&a->pool);
	free(a->root);
	free(a);
	s->append = NULL;
}

void
imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_append *a = s->append;

	if (a == NULL || cmd->count < 2 || cmd->count > 4 ||
	    !cmd->args[cmd->count - 1].streamed) {
		imap_done(s, "BAD", "APPEND needs a mailbox and a message "
		    "literal");
		return;
	}
	if (a->write_failed) {
		imap_done_store(s, STORE_TEMPFAIL, a->error, true);
		return;
	}
	a->root = xstrdup(store_user_root(s->store));
	a->quota_bytes = s->quota_bytes;
	imap_offload(s, append_work, append_done, a);
}

/* On an offload thread: make the file durable, check the quota. */
static void
append_work(void *tctx, void *arg)
{
	struct imap_append *a = arg;
	const char *error;
	uint64_t used;

	if (store_append_fsync(a->ap, &error) == -1) {
		a->job_failed = true;
		set_error(a, error);
		return;
	}
	if (a->quota_bytes == 0)
		return;
	if (maildir_usage(a->root, &used, &error) == -1) {
		a->job_failed = true;
		set_error(a, error);
		return;
	}
	/* The new file is still in tmp/, which usage does not count. */
	a->over_quota = used > a->quota_bytes ||
	    a->size > a->quota_bytes - used;
}

static void
append_done(struct imap_session *s, void *arg)
{
	struct imap_append *a = arg;
	uint32_t uidvalidity, uid;
	enum store_result r;
	const char *error;

	if (s->closing) {
		imap_done(s, "NO", "Closing");
		return;
	}
	if (a->job_failed) {
		imap_done_store(s, STORE_TEMPFAIL, a->error, true);
		return;
	}
	if (a->over_quota) {
		imap_done(s, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	/* An explicit date: the file's mtime and the index then agree (the
	 * store takes "now" for the index but keeps the mtime of the last
	 * write for date 0). */
	r = store_append_commit(&a->ap, a->flags, a->keywords, a->nkeywords,
	    a->date != 0 ? a->date : time(NULL), &uidvalidity, &uid, &error);
	if (r != STORE_OK) {
		imap_done_store(s, r, error, true);
		return;
	}
	s->stats.appended++;
	imap_done(s, "OK", "[APPENDUID %u %u] Append completed", uidvalidity,
	    uid);
}
