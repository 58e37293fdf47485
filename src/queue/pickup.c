/* pickup: local submissions from maildrop/ into the queue.
 *
 * `postie sendmail` runs as any local user and cannot write the queue; it
 * leaves a queue-format file in maildrop/ (mode 1733). Those files are
 * untrusted: the envelope is read with the usual bounds, every address is
 * checked, and the submitter is the file's owner (fstat), not anything the
 * file says. The message is copied into a new queue file with a Received
 * header naming that user, committed (fsync), and only then is the
 * maildrop file removed; an unreadable one moves to corrupt/. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "queue/envelope.h"
#include "queue/qmgr-private.h"

#define PICKUP_MAX_FILES	1000	/* per scan; the next scan goes on */

static int	pickup_one(const struct config *cfg, const char *queue_dir,
		    const char *name, const char **error_r);
static int	copy_content(int fd, const struct envelope *env,
		    struct queue_file *qf);

static int
copy_content(int fd, const struct envelope *env, struct queue_file *qf)
{
	char buf[65536];
	uint64_t left = env->content_size;
	off_t off = env->content_offset;
	ssize_t n;

	while (left > 0) {
		n = pread(fd, buf, left < sizeof(buf) ? (size_t)left :
		    sizeof(buf), off);
		if (n <= 0)
			return -1;
		if (queue_file_write(qf, buf, (size_t)n) == -1)
			return -1;
		off += n;
		left -= (uint64_t)n;
	}
	return 0;
}

static int
pickup_one(const struct config *cfg, const char *queue_dir, const char *name,
    const char **error_r)
{
	struct pool *pool = pool_new(NULL);
	struct queue_envelope qenv = { 0 };
	struct queue_rcpt *rcpts;
	struct queue_file *qf = NULL;
	struct envelope env;
	struct passwd *pw;
	struct stat st;
	char *path, *user, date[64], *hdr;
	const char *sender;
	size_t i;
	int fd, rc = -1;
	time_t now = time(NULL);

	path = pool_printf(pool, "%s/maildrop/%s", queue_dir, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		*error_r = strerror(errno);
		pool_free(&pool);
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > cfg->max_message_size + ENVELOPE_MAX) {
		*error_r = "not a regular file of an acceptable size";
		goto out;
	}
	if (envelope_read(fd, pool, &env, error_r) == -1)
		goto out;
	pw = getpwuid(st.st_uid);
	user = pool_printf(pool, "%s", pw != NULL ? pw->pw_name : "unknown");
	str_sanitize(user);
	if (*env.sender != '\0' && (sender = addr_normalize(env.sender,
	    error_r)) == NULL)
		goto out;
	if (*env.sender == '\0')
		sender = xstrdup("");
	rcpts = pool_alloc(pool, env.nrcpts * sizeof(*rcpts));
	for (i = 0; i < env.nrcpts; i++) {
		char *a = addr_normalize(env.rcpts[i].address, error_r);

		if (a != NULL && a[0] == '@') {
			/* "@domain" is the catch-all form, not an address. */
			free(a);
			a = NULL;
			*error_r = "recipient without a local part";
		}
		if (a == NULL) {
			free((char *)sender);
			goto out;
		}
		rcpts[i].address = pool_strdup(pool, a);
		free(a);
	}
	qenv.sender = pool_strdup(pool, sender);
	free((char *)sender);
	qenv.rcpts = rcpts;
	qenv.nrcpts = env.nrcpts;
	qenv.client = "localhost";
	qenv.auth_user = user;
	qenv.protocol = "LOCAL";
	if (queue_file_create(queue_dir, &qenv, &qf, error_r) == -1)
		goto out;
	date_rfc5322(now, date, sizeof(date));
	hdr = pool_printf(pool, "Received: by %s (postie, from userid %u)\r\n"
	    "\tid %s; %s\r\n", cfg->hostname, (unsigned)st.st_uid,
	    queue_file_id(qf), date);
	if (queue_file_write(qf, hdr, strlen(hdr)) == -1 ||
	    copy_content(fd, &env, qf) == -1) {
		*error_r = "cannot copy the message";
		queue_file_abort(&qf);
		goto out;
	}
	if (queue_file_commit(&qf, error_r) == -1)
		goto out;
	log_info("pickup: %s from uid %u (%s): from=<%s>, nrcpt=%zu",
	    name, (unsigned)st.st_uid, user, qenv.sender, qenv.nrcpts);
	if (unlink(path) == -1)
		log_warn("pickup: cannot remove %s", path);
	rc = 1;
out:
	close(fd);
	pool_free(&pool);
	return rc;
}

unsigned
qmgr_pickup(const struct config *cfg, const char *queue_dir)
{
	char dir[4096], from[4096], to[4096];
	const char *error;
	struct dirent *de;
	unsigned queued = 0, seen = 0;
	DIR *d;
	int r;

	snprintf(dir, sizeof(dir), "%s/maildrop", queue_dir);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && seen < PICKUP_MAX_FILES) {
		/* Hidden names are still being written. */
		if (de->d_name[0] == '.')
			continue;
		seen++;
		if ((r = pickup_one(cfg, queue_dir, de->d_name, &error)) == 1) {
			queued++;
			continue;
		}
		if (r == 0)
			continue;
		log_warnx("pickup: %s: %s; moved to corrupt/", de->d_name,
		    error);
		if (snprintf(from, sizeof(from), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(from) || snprintf(to, sizeof(to),
		    "%s/corrupt/maildrop-%s", queue_dir, de->d_name) >=
		    (int)sizeof(to) || rename(from, to) == -1)
			unlink(from);
	}
	closedir(d);
	return queued;
}
