/* fuzz-bounce-log: the bounce and defer log reader on arbitrary bytes.
 * The input becomes queue/bounce/<ID> and queue/defer/<ID> of a queue
 * directory made once per run (in /dev/shm when there is one: appends
 * fdatasync). Each log read must give only valid entries, at most one per
 * line; the defer log at most one per recipient and action. A bounce log
 * that reads must survive a round trip: its entries appended to an empty
 * log with bounce_log_append() read back exactly the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "queue/bounce.h"
#include "queue/bounce-private.h"

#define ID		"0123456789ABCDEF"
#define ID_AGAIN	"0123456789ABCDE0"
#define ROUND_TRIP_MAX	64	/* entries appended back, each fdatasync'ed */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	 qdir[64];

static void	 remove_queue_dir(void);
static const char *queue_dir(void);
static void	 put_file(const char *dir, const char *log, const uint8_t *data,
		    size_t size);
static size_t	 count_lines(const uint8_t *data, size_t size);
static void	 check_entries(const struct bounce_entry *v, size_t n,
		    size_t lines, bool defer);
static void	 round_trip(const char *dir, const struct bounce_entry *v,
		    size_t n);

/* At exit: every file this target or the log code can leave. */
static void
remove_queue_dir(void)
{
	static const char *const files[] = {
		"bounce/" ID, "bounce/" ID_AGAIN, "defer/" ID,
		"defer/" ID ".tmp", "bounce", "defer", "",
	};
	char path[160];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", qdir, files[i]);
		if (unlink(path) == -1)
			rmdir(path);
	}
}

static const char *
queue_dir(void)
{
	static const char *const subs[] = { "bounce", "defer" };
	char sub[96];
	size_t i;

	if (qdir[0] != '\0')
		return qdir;
	snprintf(qdir, sizeof(qdir), "%s/postie-fuzz-bounce-log-XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(qdir) == NULL)
		fatal("mkdtemp %s", qdir);
	atexit(remove_queue_dir);
	for (i = 0; i < 2; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", qdir, subs[i]);
		if (mkdir(sub, 0700) == -1)
			fatal("mkdir %s", sub);
	}
	return qdir;
}

static void
put_file(const char *dir, const char *log, const uint8_t *data, size_t size)
{
	char path[160];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, log, ID);
	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
		fatal("write %s", path);
}

static size_t
count_lines(const uint8_t *data, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	return n;
}

static void
check_entries(const struct bounce_entry *v, size_t n, size_t lines,
    bool defer)
{
	const char *p;
	size_t i, j;

	ASSERT(n <= lines);
	ASSERT(n == 0 || v != NULL);
	for (i = 0; i < n; i++) {
		ASSERT(bounce__valid_entry(&v[i]));
		ASSERT(v[i].text != NULL);
		for (p = v[i].text; *p != '\0'; p++)
			ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
		if (!defer)
			continue;
		for (j = 0; j < i; j++)
			ASSERT(v[j].rcpt != v[i].rcpt ||
			    v[j].action != v[i].action);
	}
}

static void
round_trip(const char *dir, const struct bounce_entry *v, size_t n)
{
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *w;
	const char *error;
	char path[160];
	size_t i, m;

	snprintf(path, sizeof(path), "%s/bounce/%s", dir, ID_AGAIN);
	unlink(path);
	for (i = 0; i < n; i++)
		ASSERT(bounce_log_append(dir, "bounce", ID_AGAIN, &v[i],
		    &error) == 0);
	ASSERT(bounce_log_read(dir, "bounce", ID_AGAIN, pool, &w, &m,
	    &error) == 0);
	ASSERT(m == n);
	for (i = 0; i < n; i++) {
		ASSERT(w[i].rcpt == v[i].rcpt && w[i].action == v[i].action);
		ASSERT(strcmp(w[i].status, v[i].status) == 0);
		ASSERT(strcmp(w[i].text, v[i].text) == 0);
	}
	pool_free(&pool);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = queue_dir(), *error;
	struct pool *pool = pool_new(NULL);
	struct bounce_entry *v;
	size_t n, lines = count_lines(data, size);

	put_file(dir, "bounce", data, size);
	put_file(dir, "defer", data, size);
	if (bounce_log_read(dir, "bounce", ID, pool, &v, &n, &error) == 0) {
		check_entries(v, n, lines, false);
		if (n <= ROUND_TRIP_MAX)
			round_trip(dir, v, n);
	} else
		ASSERT(error != NULL && v == NULL && n == 0);
	if (bounce_log_read(dir, "defer", ID, pool, &v, &n, &error) == 0)
		check_entries(v, n, lines, true);
	else
		ASSERT(error != NULL && v == NULL && n == 0);
	pool_free(&pool);
	return 0;
}
