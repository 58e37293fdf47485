/* queue-fs: writing queue files (see queue.h), with group commit.
 *
 * Each commit fsyncs its own file, then renames it into incoming/. The
 * fsync of incoming/ that makes the rename durable is shared: a committer
 * takes a ticket after its rename; if a directory fsync that started after
 * that ticket has completed, it is done; otherwise the first waiter becomes
 * the leader and fsyncs once for everyone whose ticket it covers. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue.h"

#define QUEUE_WBUF		(64 * 1024)

struct queue_file {
	char		 id[QUEUE_ID_LEN + 1];
	char		*tmp_path;
	char		*final_path;
	char		*incoming_dir;
	int		 fd;
	struct buf	 wbuf;
	uint64_t	 size;		/* message bytes, without the envelope */
	int		 error;		/* first write errno */
};

/* Group commit of incoming/ per process (one queue per process). */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cond = PTHREAD_COND_INITIALIZER;
static uint64_t sync_requested;		/* tickets handed out */
static uint64_t sync_done;		/* every ticket <= this is durable */
static bool sync_running;
static uint64_t sync_count;

static const char *const queue_subdirs[] = {
	"tmp", "incoming", "active", "deferred", "hold", "corrupt", "bounce",
	"defer", "done", "maildrop",
};

static int	 flush_wbuf(struct queue_file *qf);
static int	 put_record(struct buf *b, char type, const char *value);
static int	 sync_dir_shared(const char *dir, const char **error_r);
static const char *errno_reason(int e);
static void	 make_id(char id[QUEUE_ID_LEN + 1]);

static const char *
errno_reason(int e)
{
	return e == ENOSPC || e == EDQUOT ? "disk full" : strerror(e);
}

int
queue_init_dirs(const char *queue_dir, const char **error_r)
{
	char path[4096];
	size_t i;

	/* 0711: local users reach maildrop/ and qmgr.fifo, nothing else. */
	if ((mkdir(queue_dir, 0711) == -1 && errno != EEXIST) ||
	    chmod(queue_dir, 0711) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	for (i = 0; i < sizeof(queue_subdirs) / sizeof(queue_subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", queue_dir,
		    queue_subdirs[i]) >= (int)sizeof(path)) {
			*error_r = "queue directory path too long";
			return -1;
		}
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	/* Any local user may drop mail and wake the manager. */
	snprintf(path, sizeof(path), "%s/maildrop", queue_dir);
	if (chmod(path, 01733) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/qmgr.fifo", queue_dir);
	if ((mkfifo(path, 0622) == -1 && errno != EEXIST) ||
	    chmod(path, 0622) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

void
queue_notify(const char *queue_dir, char what)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/qmgr.fifo", queue_dir) >=
	    (int)sizeof(path))
		return;
	/* ENXIO without a reader, EAGAIN when full: both mean "later". */
	if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return;
	if (write(fd, &what, 1) != 1) {
		/* nothing: the manager's scan timer catches up */
	}
	close(fd);
}

bool
queue_valid_id(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'F')))
			return false;
	return i == QUEUE_ID_LEN;
}

/* 8 hex digits of time, 8 of randomness: sortable by arrival, and unique
 * in practice; O_EXCL catches the rest. */
static void
make_id(char id[QUEUE_ID_LEN + 1])
{
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	snprintf(id, QUEUE_ID_LEN + 1, "%08llX%08X",
	    (unsigned long long)time(NULL) & 0xffffffffULL, rnd);
}

static int
put_record(struct buf *b, char type, const char *value)
{
	if (value == NULL)
		return 0;
	if (strpbrk(value, "\r\n") != NULL)
		return -1;
	return buf_printf(b, "%c %s\n", type, value);
}

int
queue_file_create(const char *queue_dir, const struct queue_envelope *env,
    struct queue_file **qf_r, const char **error_r)
{
	struct queue_file *qf = xmalloc(sizeof(*qf));
	struct buf *b = &qf->wbuf;
	char stamp[32];
	size_t i;
	int tries, bad = 0;

	buf_init(b, QUEUE_WBUF + 8192);
	for (tries = 0; tries < 10; tries++) {
		make_id(qf->id);
		free(qf->tmp_path);
		qf->tmp_path = xasprintf("%s/tmp/%s", queue_dir, qf->id);
		qf->fd = open(qf->tmp_path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (qf->fd != -1 || errno != EEXIST)
			break;
	}
	if (qf->fd == -1) {
		*error_r = errno_reason(errno);
		free(qf->tmp_path);
		buf_deinit(b);
		free(qf);
		return -1;
	}
	qf->final_path = xasprintf("%s/incoming/%s", queue_dir, qf->id);
	qf->incoming_dir = xasprintf("%s/incoming", queue_dir);

	snprintf(stamp, sizeof(stamp), "%lld", (long long)time(NULL));
	bad |= put_record(b, 'V', "1");
	bad |= put_record(b, 'I', qf->id);
	bad |= put_record(b, 'T', stamp);
	bad |= put_record(b, 'S', env->sender);
	for (i = 0; i < env->nrcpts; i++) {
		bad |= put_record(b, 'R', env->rcpts[i].address);
		bad |= put_record(b, 'N', env->rcpts[i].notify);
		bad |= put_record(b, 'O', env->rcpts[i].orcpt);
	}
	bad |= put_record(b, 'E', env->envid);
	bad |= put_record(b, 'D', env->ret);
	bad |= put_record(b, 'B', env->body);
	if (env->smtputf8)
		bad |= put_record(b, 'U', "");
	bad |= put_record(b, 'C', env->client);
	bad |= put_record(b, 'H', env->helo);
	bad |= put_record(b, 'A', env->auth_user);
	bad |= put_record(b, 'P', env->protocol);
	bad |= put_record(b, 'K', env->kind);
	bad |= buf_append(b, "\n", 1);
	if (bad != 0) {
		*error_r = "envelope value with a line break";
		queue_file_abort(&qf);
		return -1;
	}
	*qf_r = qf;
	return 0;
}

const char *
queue_file_id(const struct queue_file *qf)
{
	return qf->id;
}

uint64_t
queue_file_size(const struct queue_file *qf)
{
	return qf->size;
}

static int
flush_wbuf(struct queue_file *qf)
{
	size_t off = 0;
	ssize_t n;

	while (off < qf->wbuf.len) {
		n = write(qf->fd, qf->wbuf.data + off, qf->wbuf.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			qf->error = n == -1 ? errno : EIO;
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(&qf->wbuf);
	return 0;
}

int
queue_file_write(struct queue_file *qf, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t room;

	if (qf->error != 0)
		return -1;
	qf->size += len;
	while (len > 0) {
		room = QUEUE_WBUF > qf->wbuf.len ? QUEUE_WBUF - qf->wbuf.len : 0;
		if (room == 0) {
			if (flush_wbuf(qf) == -1)
				return -1;
			continue;
		}
		if (room > len)
			room = len;
		if (buf_append(&qf->wbuf, p, room) == -1)
			panic("queue write buffer overflow");
		p += room;
		len -= room;
	}
	return 0;
}

static int
sync_dir_shared(const char *dir, const char **error_r)
{
	uint64_t ticket, target;
	int fd, rc = 0;

	pthread_mutex_lock(&sync_lock);
	ticket = ++sync_requested;
	while (sync_done < ticket) {
		if (sync_running) {
			pthread_cond_wait(&sync_cond, &sync_lock);
			continue;
		}
		/* Lead: one fsync covers every ticket handed out so far. */
		sync_running = true;
		target = sync_requested;
		pthread_mutex_unlock(&sync_lock);
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
		    fsync(fd) == -1) {
			*error_r = errno_reason(errno);
			rc = -1;
		}
		if (fd != -1)
			close(fd);
		pthread_mutex_lock(&sync_lock);
		sync_running = false;
		sync_count++;
		if (rc == 0 && target > sync_done)
			sync_done = target;
		pthread_cond_broadcast(&sync_cond);
		if (rc == -1)
			break;
	}
	pthread_mutex_unlock(&sync_lock);
	return rc;
}

uint64_t
queue_dir_syncs(void)
{
	uint64_t n;

	pthread_mutex_lock(&sync_lock);
	n = sync_count;
	pthread_mutex_unlock(&sync_lock);
	return n;
}

int
queue_file_commit(struct queue_file **qfp, const char **error_r)
{
	struct queue_file *qf = *qfp;

	if (qf->error != 0 || flush_wbuf(qf) == -1 || fsync(qf->fd) == -1) {
		*error_r = errno_reason(qf->error != 0 ? qf->error : errno);
		queue_file_abort(qfp);
		return -1;
	}
	if (close(qf->fd) == -1) {
		qf->fd = -1;
		*error_r = errno_reason(errno);
		queue_file_abort(qfp);
		return -1;
	}
	qf->fd = -1;
	if (rename(qf->tmp_path, qf->final_path) == -1) {
		*error_r = errno_reason(errno);
		queue_file_abort(qfp);
		return -1;
	}
	if (sync_dir_shared(qf->incoming_dir, error_r) == -1) {
		/* Not durable: take it back so no one delivers it twice
		 * after the client retries. */
		unlink(qf->final_path);
		free(qf->tmp_path);
		qf->tmp_path = NULL;
		queue_file_abort(qfp);
		return -1;
	}
	free(qf->tmp_path);
	free(qf->final_path);
	free(qf->incoming_dir);
	buf_deinit(&qf->wbuf);
	free(qf);
	*qfp = NULL;
	return 0;
}

void
queue_file_abort(struct queue_file **qfp)
{
	struct queue_file *qf = *qfp;

	if (qf == NULL)
		return;
	if (qf->fd != -1)
		close(qf->fd);
	if (qf->tmp_path != NULL)
		unlink(qf->tmp_path);
	free(qf->tmp_path);
	free(qf->final_path);
	free(qf->incoming_dir);
	buf_deinit(&qf->wbuf);
	free(qf);
	*qfp = NULL;
}
