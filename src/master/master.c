/* master: process supervision for `postie serve`.
 *
 * The master never touches mail. It holds the lock on the instance, the
 * listening sockets and the TLS context; it forks the children (worker
 * processes and one queue manager), which inherit those and the parsed
 * configuration, drop privileges and run their own event loops. A child
 * that dies is restarted, at once if it had run for a while, else after a
 * back-off that doubles up to MASTER_BACKOFF_MAX. SIGHUP re-reads the
 * configuration: a bad file is refused and the old one kept; a good one
 * replaces the listeners that changed and restarts the children. SIGTERM
 * asks the children to stop and kills them after MASTER_STOP_TIMEOUT. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/peertab.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "master/listen.h"
#include "master/master.h"
#include "master/privsep.h"
#include "queue/queue.h"
#include "worker/worker.h"

#define MASTER_HEALTHY_SECS	10	/* a child that lived this long is fine */
#define MASTER_BACKOFF_MAX_MS	60000
#define MASTER_STOP_TIMEOUT	5

enum child_kind { CHILD_WORKER, CHILD_QMGR };

struct child {
	struct child	*next;
	enum child_kind	 kind;
	unsigned	 slot;		/* worker index */
	pid_t		 pid;		/* 0 while waiting for a restart */
	time_t		 started;
	unsigned	 failures;	/* quick deaths in a row */
	bool		 retiring;	/* replaced by a reload: do not restart */
	struct event	*restart_ev;
	struct master	*m;		/* borrowed: the owner */
};

struct master {
	struct event_base	*base;
	struct config		*cfg;
	struct listener_set	 listeners;
	SSL_CTX			*tls;
	struct peertab		*peers;		/* shared with the workers */
	uid_t			 uid;
	gid_t			 gid;
	struct child		*children;
	bool			 stopping;
	struct event		*stop_timer;
	int			 lock_fd;
};

static int	 lock_instance(struct master *m, char **error_r);
static void	 prepare_queue(struct master *m);
static void	 apply_logging(const struct config *cfg);
static void	 spawn(struct master *m, struct child *c);
static void	 start_children(struct master *m);
static struct child *child_new(struct master *m, enum child_kind kind,
		    unsigned slot);
static void	 child_free(struct master *m, struct child *c);
static unsigned	 backoff_ms(unsigned failures);
static void	 on_restart(evutil_socket_t fd, short what, void *arg);
static void	 on_sigchld(evutil_socket_t fd, short what, void *arg);
static void	 on_sighup(evutil_socket_t fd, short what, void *arg);
static void	 on_sigterm(evutil_socket_t fd, short what, void *arg);
static void	 on_stop_timeout(evutil_socket_t fd, short what, void *arg);
static unsigned	 worker_count(const struct config *cfg);
static const char *child_name(const struct child *c);

static const char *
child_name(const struct child *c)
{
	return c->kind == CHILD_QMGR ? "queue manager" : "worker";
}

static unsigned
worker_count(const struct config *cfg)
{
	long n;

	if (cfg->worker_processes > 0)
		return (unsigned)cfg->worker_processes;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n > PEERTAB_MAX_SLOTS)
		n = PEERTAB_MAX_SLOTS;
	return n > 0 ? (unsigned)n : 1;
}

static void
apply_logging(const struct config *cfg)
{
	unsigned mask = 0;
	char *list = strv_join(&cfg->log_debug, ",");

	if (log_debug_mask(list, &mask) == 0)
		log_set_debug(mask);
	free(list);
	log_set_syslog(cfg->log_syslog, cfg->syslog_facility);
}

/* One `postie serve` per instance: an flock on data_dir/postie.pid. */
static int
lock_instance(struct master *m, char **error_r)
{
	char *path = xasprintf("%s/postie.pid", m->cfg->data_dir);
	char pid[32] = "";
	ssize_t n;
	int len;

	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->lock_fd == -1) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		n = pread(m->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		*error_r = xasprintf("another postie serve is running on %s "
		    "(pid %s)", m->cfg->data_dir, *pid ? pid : "unknown");
		free(path);
		return -1;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(m->lock_fd, 0) == -1 ||
	    pwrite(m->lock_fd, pid, (size_t)len, 0) != len)
		log_warn("%s", path);
	free(path);
	return 0;
}

/* The queue's folders exist and belong to the user the children run as. */
static void
prepare_queue(struct master *m)
{
	static const char *const subdirs[] = { "", "/tmp", "/incoming",
	    "/active", "/deferred", "/hold", "/corrupt", "/bounce", "/defer", "/done",
	    "/maildrop", "/qmgr.fifo" };
	const char *error;
	char *dir = xasprintf("%s/queue", m->cfg->data_dir), *path;
	size_t i;

	if (queue_init_dirs(dir, &error) == -1)
		fatalx("%s: %s", dir, error);
	for (i = 0; geteuid() == 0 && i < sizeof(subdirs) / sizeof(subdirs[0]);
	    i++) {
		path = xasprintf("%s%s", dir, subdirs[i]);
		if (chown(path, m->uid, m->gid) == -1)
			fatal("chown %s", path);
		free(path);
	}
	free(dir);
}

static struct child *
child_new(struct master *m, enum child_kind kind, unsigned slot)
{
	struct child *c = xmalloc(sizeof(*c));

	c->kind = kind;
	c->slot = slot;
	c->m = m;
	c->restart_ev = evtimer_new(m->base, on_restart, c);
	c->next = m->children;
	m->children = c;
	return c;
}

static void
child_free(struct master *m, struct child *c)
{
	struct child **pp;

	for (pp = &m->children; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	event_free(c->restart_ev);
	free(c);
}

static void
start_children(struct master *m)
{
	unsigned i, n = worker_count(m->cfg);

	for (i = 0; i < n; i++)
		spawn(m, child_new(m, CHILD_WORKER, i));
	spawn(m, child_new(m, CHILD_QMGR, 0));
}

static void
spawn(struct master *m, struct child *c)
{
	pid_t pid, master_pid = getpid();

	if (c->kind == CHILD_WORKER)
		peertab_reset_slot(m->peers, c->slot);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		log_warn("cannot fork a %s", child_name(c));
		static const struct timeval retry = { 1, 0 };

		c->failures++;
		evtimer_add(c->restart_ev, &retry);
		return;
	}
	if (pid > 0) {
		c->pid = pid;
		c->started = time(NULL);
		log_debug(LOG_CAT_MAIN, "started %s %u pid %ld", child_name(c),
		    c->slot, (long)pid);
		return;
	}

	/* The child: a fresh loop, no master state but what it inherits. */
	if (event_reinit(m->base) == 0)
		event_base_free(m->base);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	privsep_drop(m->uid, m->gid);
	/* After the drop: a credential change clears the death signal. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master_pid)
		_exit(0);
	if (c->kind == CHILD_QMGR)
		_exit(qmgr_main(m->cfg));
	_exit(worker_main(m->cfg, &m->listeners, m->tls, m->peers, c->slot));
}

static unsigned
backoff_ms(unsigned failures)
{
	unsigned ms = 250;

	while (failures-- > 1 && ms < MASTER_BACKOFF_MAX_MS)
		ms *= 2;
	return ms < MASTER_BACKOFF_MAX_MS ? ms : MASTER_BACKOFF_MAX_MS;
}

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	if (!c->m->stopping && c->pid == 0)
		spawn(c->m, c);
}

static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	struct child *c;
	struct timeval tv;
	unsigned ms;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (c = m->children; c != NULL && c->pid != pid; c = c->next)
			;
		if (c == NULL)
			continue;
		c->pid = 0;
		if (m->stopping || c->retiring) {
			child_free(m, c);
			continue;
		}
		if (WIFSIGNALED(status))
			log_warnx("%s %u (pid %ld) killed by signal %d",
			    child_name(c), c->slot, (long)pid, WTERMSIG(status));
		else
			log_warnx("%s %u (pid %ld) exited with status %d",
			    child_name(c), c->slot, (long)pid,
			    WEXITSTATUS(status));
		if (time(NULL) - c->started >= MASTER_HEALTHY_SECS)
			c->failures = 0;
		c->failures++;
		ms = c->failures == 1 ? 100 : backoff_ms(c->failures - 1);
		log_info("restarting the %s in %u ms", child_name(c), ms);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(c->restart_ev, &tv);
	}
	if (m->stopping && m->children == NULL)
		event_base_loopexit(m->base, NULL);
}

static void
on_sighup(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	struct config *ncfg = xmalloc(sizeof(*ncfg));
	struct listener_set nls;
	struct child *c;
	SSL_CTX *ntls;
	const char *error;
	char *err = NULL;
	uid_t uid;
	gid_t gid;

	log_info("reloading %s", m->cfg->config_file);
	if (conf_load(m->cfg->config_file, ncfg, &err) == -1) {
		log_warnx("reload failed: %s; keeping the running "
		    "configuration", err);
		free(err);
		free(ncfg);
		return;
	}
	if ((ntls = tls_server_ctx_new(ncfg->tls_cert_file, ncfg->tls_key_file,
	    &error)) == NULL) {
		log_warnx("reload failed: TLS: %s; keeping the running "
		    "configuration", error);
		goto fail;
	}
	if (privsep_resolve(ncfg, &uid, &gid, &err) == -1 ||
	    listeners_open(ncfg, &m->listeners, uid, gid, &nls, &err) == -1) {
		log_warnx("reload failed: %s; keeping the running "
		    "configuration", err);
		SSL_CTX_free(ntls);
		goto fail;
	}
	listeners_close(&m->listeners);
	m->listeners = nls;
	SSL_CTX_free(m->tls);
	m->tls = ntls;
	m->uid = uid;
	m->gid = gid;
	conf_free(m->cfg);
	free(m->cfg);
	m->cfg = ncfg;
	apply_logging(m->cfg);

	/* Replace every child; the retiring ones finish on SIGTERM. */
	for (c = m->children; c != NULL; c = c->next) {
		c->retiring = true;
		evtimer_del(c->restart_ev);
		if (c->pid > 0)
			kill(c->pid, SIGTERM);
	}
	for (c = m->children; c != NULL; ) {
		struct child *next = c->next;

		if (c->pid == 0)
			child_free(m, c);
		c = next;
	}
	start_children(m);
	log_info("configuration reloaded");
	return;
fail:
	free(err);
	conf_free(ncfg);
	free(ncfg);
}

static void
on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval stop_timeout = { MASTER_STOP_TIMEOUT, 0 };
	struct master *m = arg;
	struct child *c, *next;

	if (m->stopping)
		return;
	log_info("stopping");
	m->stopping = true;
	for (c = m->children; c != NULL; c = next) {
		next = c->next;
		if (c->pid > 0)
			kill(c->pid, SIGTERM);
		else
			child_free(m, c);
	}
	if (m->children == NULL) {
		event_base_loopexit(m->base, NULL);
		return;
	}
	evtimer_add(m->stop_timer, &stop_timeout);
}

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	struct child *c;

	for (c = m->children; c != NULL; c = c->next) {
		if (c->pid > 0) {
			log_warnx("%s pid %ld did not stop: killing it",
			    child_name(c), (long)c->pid);
			kill(c->pid, SIGKILL);
		}
	}
}

int
master_run(struct config *cfg)
{
	struct master m = { .cfg = cfg, .lock_fd = -1 };
	struct event *sigs[4];
	const char *error;
	char *err = NULL;
	size_t i;

	log_set_role("master");
	apply_logging(cfg);
	signal(SIGPIPE, SIG_IGN);
	if (lock_instance(&m, &err) == -1 ||
	    privsep_resolve(cfg, &m.uid, &m.gid, &err) == -1 ||
	    listeners_open(cfg, NULL, m.uid, m.gid, &m.listeners, &err) == -1)
		fatalx("%s", err);
	if ((m.tls = tls_server_ctx_new(cfg->tls_cert_file, cfg->tls_key_file,
	    &error)) == NULL)
		fatalx("TLS: %s", error);
	prepare_queue(&m);
	if (geteuid() == 0 && m.uid == 0)
		log_warnx("children run as root: set mail_user, or chown "
		    "data_dir %s to an unprivileged user", cfg->data_dir);

	if ((m.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	m.peers = peertab_create(PEERTAB_MAX_SLOTS);
	sigs[0] = evsignal_new(m.base, SIGCHLD, on_sigchld, &m);
	sigs[1] = evsignal_new(m.base, SIGHUP, on_sighup, &m);
	sigs[2] = evsignal_new(m.base, SIGTERM, on_sigterm, &m);
	sigs[3] = evsignal_new(m.base, SIGINT, on_sigterm, &m);
	for (i = 0; i < 4; i++)
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	m.stop_timer = evtimer_new(m.base, on_stop_timeout, &m);

	for (i = 0; i < m.listeners.n; i++)
		log_info("listening for %s on %s",
		    services[m.listeners.v[i].svc].name,
		    m.listeners.v[i].addr.text);
	start_children(&m);
	log_info("postie %s ready: %u workers, 1 queue manager, data in %s",
	    POSTIE_VERSION, worker_count(cfg), cfg->data_dir);

	event_base_dispatch(m.base);

	log_info("stopped");
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_free(m.stop_timer);
	listeners_close(&m.listeners);
	SSL_CTX_free(m.tls);
	peertab_destroy(&m.peers);
	event_base_free(m.base);
	close(m.lock_fd);
	conf_free(m.cfg);
	free(m.cfg);
	return 0;
}
