/* lock: mutual exclusion between processes on one mailbox, and the
 * counters they share.
 *
 * The lock is flock(2) on <mailbox>/postie-lock: released by the kernel
 * when a holder dies, so it is never stale. While it is held, writers of
 * dovecot-uidlist and dovecot-keywords also take Dovecot's dotlock
 * (<file>.lock created with O_EXCL, holding "<pid>:<host>"), so that a
 * Dovecot working on the same Maildir is excluded as well; a dotlock whose
 * process is gone (same host) or that is older than DOTLOCK_STALE_SECS is
 * removed. A live one makes us wait up to DOTLOCK_WAIT_MS, then fail with
 * STORE_INUSE.
 *
 * postie-lock also holds one text record, rewritten in place under the
 * lock: "postie-lock 1 V<uidvalidity> M<highest modseq> R<first UID not
 * yet \Recent>". Losing the file loses nothing but the \Recent state.
 *
 * postie-uidvalidity in the user root gives UIDVALIDITY values: the time,
 * or one more than the last given, whichever is larger. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "store/store-private.h"

#define LOCK_FILE		"postie-lock"
#define UIDVALIDITY_FILE	"postie-uidvalidity"
#define LOCK_RECORD_LEN		96
#define DOTLOCK_STALE_SECS	120
#define DOTLOCK_WAIT_MS		500
#define DOTLOCK_STEP_MS		10

static void	 record_parse(struct boxlock *l, const char *rec, size_t len);
static int	 flock_open(const char *path);
static bool	 dotlock_stale(const char *lockpath);
static void	 sleep_ms(long ms);

static void
record_parse(struct boxlock *l, const char *rec, size_t len)
{
	char buf[LOCK_RECORD_LEN + 1];
	unsigned uv, fr;
	unsigned long long ms;

	memcpy(buf, rec, len);		/* UNSAFE: len <= LOCK_RECORD_LEN */
	buf[len] = '\0';
	if (sscanf(buf, "postie-lock 1 V%u M%llu R%u", &uv, &ms, &fr) != 3 ||
	    ms > INT64_MAX || fr > STORE_UID_MAX + 1U)
		return;
	l->uidvalidity = uv;
	l->modseq = ms;
	l->first_recent = fr;
}

/* open + flock(LOCK_EX), waiting for the holder. */
static int
flock_open(const char *path)
{
	int fd, saved;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

enum store_result
lock_take(const char *dir, const char *dotlock_of, struct boxlock *l,
    const char **error_r)
{
	char path[STORE_PATH_MAX], rec[LOCK_RECORD_LEN];
	enum store_result res;
	ssize_t n;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE) >=
	    (int)sizeof(path)) {
		*error_r = "path too long";
		return STORE_TEMPFAIL;
	}
	if ((l->fd = flock_open(path)) == -1) {
		*error_r = errno == ENOENT ? "mailbox is gone" :
		    errno_text(errno);
		return errno == ENOENT ? STORE_RESET : STORE_TEMPFAIL;
	}
	n = pread(l->fd, rec, sizeof(rec), 0);
	if (n > 0)
		record_parse(l, rec, (size_t)n);
	if (dotlock_of != NULL) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, dotlock_of) >=
		    (int)sizeof(path)) {
			lock_release(l);
			*error_r = "path too long";
			return STORE_TEMPFAIL;
		}
		res = dotlock_take(path, l->dotlock, sizeof(l->dotlock),
		    error_r);
		if (res != STORE_OK) {
			l->dotlock[0] = '\0';
			lock_release(l);
			return res;
		}
	}
	return STORE_OK;
}

void
lock_release(struct boxlock *l)
{
	char rec[LOCK_RECORD_LEN];
	int n;

	if (l->fd == -1)
		return;
	if (l->dirty) {
		/* Fixed width, space padded: one pwrite never leaves a
		 * longer old record's tail behind. */
		memset(rec, ' ', sizeof(rec));
		n = snprintf(rec, sizeof(rec), "postie-lock 1 V%u M%llu R%u",
		    l->uidvalidity, (unsigned long long)l->modseq,
		    l->first_recent);
		if (n > 0 && n < (int)sizeof(rec)) {
			rec[n] = ' ';
			rec[sizeof(rec) - 1] = '\n';
			(void)pwrite(l->fd, rec, sizeof(rec), 0);
		}
	}
	if (l->dotlock[0] != '\0')
		(void)unlink(l->dotlock);
	(void)close(l->fd);	/* releases the flock */
	l->fd = -1;
	l->dotlock[0] = '\0';
}

uint64_t
lock_next_modseq(struct boxlock *l, uint64_t at_least)
{
	if (l->modseq < at_least)
		l->modseq = at_least;
	l->modseq++;
	l->dirty = true;
	return l->modseq;
}

/* The box's idea of the counters and the record's, made consistent: the
 * modseq never goes back, \Recent state starts over with a UIDVALIDITY. */
void
box_lock_sync_counters(struct box *b, struct boxlock *l)
{
	if (l->modseq < b->highest_modseq) {
		l->modseq = b->highest_modseq;
		l->dirty = true;
	}
	b->highest_modseq = l->modseq;
	if (b->uidvalidity != 0 && l->uidvalidity != b->uidvalidity) {
		l->uidvalidity = b->uidvalidity;
		l->first_recent = 1;
		l->dirty = true;
	}
	if (l->first_recent == 0) {
		l->first_recent = 1;
		l->dirty = true;
	}
	b->first_recent = l->first_recent;
}

static bool
dotlock_stale(const char *lockpath)
{
	char buf[300], host[HOST_NAME_MAX + 1];
	struct stat st;
	char *colon, *end;
	long pid;
	ssize_t n;
	int fd;

	if (stat(lockpath, &st) == -1)
		return errno == ENOENT;
	if (time(NULL) - st.st_mtime > DOTLOCK_STALE_SECS)
		return true;
	if ((fd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if ((colon = strchr(buf, ':')) == NULL)
		return false;
	*colon = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 0 || pid > INT_MAX)
		return false;
	if (gethostname(host, sizeof(host)) == -1)
		return false;
	host[sizeof(host) - 1] = '\0';
	if (strcmp(colon + 1, host) != 0)
		return false;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

enum store_result
dotlock_take(const char *path, char *lockpath, size_t lockpathlen,
    const char **error_r)
{
	char host[HOST_NAME_MAX + 1], content[HOST_NAME_MAX + 32];
	long waited = 0;
	int fd, n;

	if (snprintf(lockpath, lockpathlen, "%s.lock", path) >=
	    (int)lockpathlen) {
		*error_r = "path too long";
		return STORE_TEMPFAIL;
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (;;) {
		fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST) {
			*error_r = errno_text(errno);
			return STORE_TEMPFAIL;
		}
		if (dotlock_stale(lockpath)) {
			(void)unlink(lockpath);
			continue;
		}
		if (waited >= DOTLOCK_WAIT_MS) {
			*error_r = "mailbox is locked by another program";
			return STORE_INUSE;
		}
		sleep_ms(DOTLOCK_STEP_MS);
		waited += DOTLOCK_STEP_MS;
	}
	n = snprintf(content, sizeof(content), "%ld:%s\n", (long)getpid(),
	    host);
	if (n > 0 && write_all(fd, content, (size_t)n) == -1) {
		(void)close(fd);
		(void)unlink(lockpath);
		*error_r = errno_text(errno);
		return STORE_TEMPFAIL;
	}
	(void)close(fd);
	return STORE_OK;
}

int
lock_uidvalidity_next(const char *root, uint32_t at_least,
    uint32_t *uidvalidity_r)
{
	char path[STORE_PATH_MAX], buf[32];
	unsigned long long last = 0;
	uint64_t next;
	ssize_t n;
	int fd, len;

	if (snprintf(path, sizeof(path), "%s/%s", root, UIDVALIDITY_FILE) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = flock_open(path)) == -1)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%llu", &last) != 1 || last > UINT32_MAX)
			last = 0;
	}
	next = (uint64_t)time(NULL);
	if (next <= last)
		next = last + 1;
	if (next < at_least)
		next = at_least;
	if (next == 0 || next > UINT32_MAX)
		next = 1;	/* after 2106, or a file gone wild */
	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)next);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len) {
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	*uidvalidity_r = (uint32_t)next;
	return 0;
}

/* The shared record without taking the lock (STATUS, read-only views):
 * it is written with one pwrite of a fixed size, so it reads whole. */
void
lock_peek(const char *dir, struct boxlock *l)
{
	char path[STORE_PATH_MAX], rec[LOCK_RECORD_LEN];
	ssize_t n;
	int fd;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE) >=
	    (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return;
	n = pread(fd, rec, sizeof(rec), 0);
	(void)close(fd);
	if (n > 0)
		record_parse(l, rec, (size_t)n);
}
