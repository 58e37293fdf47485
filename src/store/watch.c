/* watch: inotify for IMAP IDLE and for the store's syncs (see watch.h).
 * Called by store_view_watch() (and through it by the IMAP session) and
 * by box.c for every loaded mailbox; callbacks run from the process's
 * libevent loop.
 *
 * Structures: watched directories (struct wdir) in a hash by path, each
 * with its two watch descriptors, two event counters and a list of
 * subscribers; an open-addressing map from watch descriptor to the wdirs
 * that share it (one inode watched under two paths after a rename).
 * Events are taken in by drain(), from the loop or from a sync; dispatch
 * calls each callback subscriber of the touched directories once.
 * Removals during dispatch move the dispatch cursor and defer freeing, so
 * a callback can remove anything. Limits: a read takes WATCH_BUF octets
 * of events; the kernel bounds the queue (an overflow touches every
 * directory). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/watch.h"

#define WATCH_BUF	(16 * 1024)
#define WATCH_MASK	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | \
			 IN_ONLYDIR)
#define DIR_BUCKETS_MIN	64

struct wdir {
	struct wdir	*next;		/* all directories */
	struct wdir	*hnext;		/* hash chain by path */
	char		*path;
	int		 wd[2];		/* new/, cur/; -1 when gone */
	/* inotify gives one descriptor per inode: a directory renamed
	 * while watched and watched again under its new name shares it.
	 * The map points at the first wdir, which chains the others. */
	struct wdir	*share[2];
	uint64_t	 gen[2];	/* events seen in each */
	struct store_watch *subs;
	bool		 pending;	/* touched, not yet dispatched */
	bool		 dead;		/* freed after dispatch */
};

struct store_watch {
	struct wdir	*dir;
	struct store_watch *next;
	struct store_watch *prev;
	store_watch_cb	 cb;		/* NULL: generations only */
	void		*arg;
};

struct watcher {
	int		 fd;
	struct event	*ev;		/* once a callback subscriber came */
	struct event_base *base;
	struct wdir	*dirs;
	unsigned	 ndirs;
	struct wdir	**bucket;	/* by path */
	size_t		 nbuckets;
	struct wdir	**map;		/* by watch descriptor */
	int		*keys;
	size_t		 mapcap;
	size_t		 mapused;
	bool		 dispatching;
	bool		 pending;	/* some wdir awaits dispatch */
	struct store_watch *cursor;	/* next subscriber to call */
};

static struct watcher W = { .fd = -1 };
static int	 polling = 1;

static uint32_t	 path_hash(const char *s);
static struct wdir *dir_find(const char *path, const int wd[2]);
static void	 dir_hash_add(struct wdir *d);
static void	 dir_hash_del(struct wdir *d);
static size_t	 map_slot(int wd);
static void	 map_put(int wd, struct wdir *d);
static struct wdir *map_get(int wd);
static void	 map_del(int wd);
static int	 slot_of(const struct wdir *d, int wd);
static void	 drain(void);
static void	 on_read(evutil_socket_t fd, short what, void *arg);
static void	 dispatch(void);
static void	 wdir_unwatch(struct wdir *d);
static void	 collect(void);
static int	 start(struct event_base *base, const char **error_r);

static uint32_t
path_hash(const char *s)
{
	uint32_t h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return h;
}

/* The live wdir of path watching exactly these descriptors. */
static struct wdir *
dir_find(const char *path, const int wd[2])
{
	struct wdir *d;

	if (W.nbuckets == 0)
		return NULL;
	for (d = W.bucket[path_hash(path) & (W.nbuckets - 1)]; d != NULL;
	    d = d->hnext)
		if (!d->dead && d->wd[0] == wd[0] && d->wd[1] == wd[1] &&
		    strcmp(d->path, path) == 0)
			return d;
	return NULL;
}

static void
dir_hash_add(struct wdir *d)
{
	struct wdir **old = W.bucket, *e, *next;
	size_t oldn = W.nbuckets, i, s;

	if (W.nbuckets == 0 || W.ndirs >= W.nbuckets) {
		W.nbuckets = oldn == 0 ? DIR_BUCKETS_MIN : oldn * 2;
		W.bucket = xcalloc(W.nbuckets, sizeof(*W.bucket));
		for (i = 0; i < oldn; i++) {
			for (e = old[i]; e != NULL; e = next) {
				next = e->hnext;
				s = path_hash(e->path) & (W.nbuckets - 1);
				e->hnext = W.bucket[s];
				W.bucket[s] = e;
			}
		}
		free(old);
	}
	s = path_hash(d->path) & (W.nbuckets - 1);
	d->hnext = W.bucket[s];
	W.bucket[s] = d;
}

static void
dir_hash_del(struct wdir *d)
{
	struct wdir **pp;

	if (W.nbuckets == 0)
		return;
	for (pp = &W.bucket[path_hash(d->path) & (W.nbuckets - 1)];
	    *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			return;
		}
	}
}

static size_t
map_slot(int wd)
{
	return ((size_t)(unsigned)wd * 2654435761U) & (W.mapcap - 1);
}

static void
map_put(int wd, struct wdir *d)
{
	struct wdir **om = W.map;
	int *ok = W.keys;
	size_t oc = W.mapcap, i, s;

	if (W.mapcap == 0 || (W.mapused + 1) * 2 > W.mapcap) {
		W.mapcap = W.mapcap == 0 ? 64 : W.mapcap * 2;
		W.map = xcalloc(W.mapcap, sizeof(*W.map));
		W.keys = xcalloc(W.mapcap, sizeof(*W.keys));
		W.mapused = 0;
		for (i = 0; i < oc; i++)
			if (om[i] != NULL)
				map_put(ok[i], om[i]);
		free(om);
		free(ok);
	}
	for (s = map_slot(wd); W.map[s] != NULL && W.keys[s] != wd;
	    s = (s + 1) & (W.mapcap - 1))
		;
	if (W.map[s] == NULL)
		W.mapused++;
	W.map[s] = d;
	W.keys[s] = wd;
}

static struct wdir *
map_get(int wd)
{
	size_t s;

	if (W.mapcap == 0)
		return NULL;
	for (s = map_slot(wd); W.map[s] != NULL; s = (s + 1) & (W.mapcap - 1))
		if (W.keys[s] == wd)
			return W.map[s];
	return NULL;
}

/* Linear probing delete with backward shift: no tombstones. */
static void
map_del(int wd)
{
	size_t s, j, home;

	if (W.mapcap == 0)
		return;
	for (s = map_slot(wd); W.map[s] != NULL; s = (s + 1) & (W.mapcap - 1))
		if (W.keys[s] == wd)
			break;
	if (W.map[s] == NULL)
		return;
	W.map[s] = NULL;
	W.mapused--;
	for (j = (s + 1) & (W.mapcap - 1); W.map[j] != NULL;
	    j = (j + 1) & (W.mapcap - 1)) {
		home = map_slot(W.keys[j]);
		/* Move j back to s unless its home lies in (s, j]. */
		if ((s < j) ? (home <= s || home > j) : (home <= s && home > j)) {
			W.map[s] = W.map[j];
			W.keys[s] = W.keys[j];
			W.map[j] = NULL;
			s = j;
		}
	}
}

static int
slot_of(const struct wdir *d, int wd)
{
	return d->wd[1] == wd ? 1 : 0;
}

/* Take in every queued event: count it for the directories it concerns
 * and mark them for dispatch. */
static void
drain(void)
{
	_Alignas(struct inotify_event) char buf[WATCH_BUF];
	const struct inotify_event *ev;
	struct wdir *d, *next;
	ssize_t n;
	size_t off;
	int i;

	if (W.fd == -1)
		return;
	for (;;) {
		n = read(W.fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (off = 0; off + sizeof(*ev) <= (size_t)n;
		    off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW) {
				for (d = W.dirs; d != NULL; d = d->next) {
					d->pending = true;
					d->gen[0]++;
					d->gen[1]++;
				}
				W.pending = true;
				continue;
			}
			d = map_get(ev->wd);
			if (d != NULL && (ev->mask & IN_IGNORED))
				map_del(ev->wd);	/* the kernel dropped it */
			for (; d != NULL; d = next) {
				i = slot_of(d, ev->wd);
				next = d->share[i];
				d->gen[i]++;
				d->pending = true;
				W.pending = true;
				if (ev->mask & IN_IGNORED) {
					d->wd[i] = -1;
					d->share[i] = NULL;
				}
			}
		}
	}
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	drain();
	if (W.pending && !W.dispatching)
		dispatch();
}

/* Each callback subscriber of each touched directory, once. */
static void
dispatch(void)
{
	struct store_watch *s;
	struct wdir *d;

	W.dispatching = true;
	W.pending = false;
	for (d = W.dirs; d != NULL; d = d->next) {
		if (!d->pending || d->dead)
			continue;
		d->pending = false;
		for (s = d->subs; s != NULL; s = W.cursor) {
			W.cursor = s->next;
			if (s->cb != NULL)
				s->cb(s->arg);
			if (d->dead)
				break;
		}
		W.cursor = NULL;
	}
	W.dispatching = false;
	collect();
	/* Events taken in by the callbacks' own syncs: next loop pass. */
	if (W.pending && W.ev != NULL)
		event_active(W.ev, EV_READ, 0);
}

static void
wdir_unwatch(struct wdir *d)
{
	struct wdir *p, *head;
	int i, wd;

	for (i = 0; i < 2; i++) {
		if ((wd = d->wd[i]) == -1)
			continue;
		head = map_get(wd);
		if (head == d) {
			if (d->share[i] != NULL)
				map_put(wd, d->share[i]);	/* hand over */
			else {
				map_del(wd);
				if (W.fd != -1)
					(void)inotify_rm_watch(W.fd, wd);
			}
		} else {
			for (p = head; p != NULL &&
			    p->share[slot_of(p, wd)] != d;
			    p = p->share[slot_of(p, wd)])
				;
			if (p != NULL)
				p->share[slot_of(p, wd)] = d->share[i];
		}
		d->wd[i] = -1;
		d->share[i] = NULL;
	}
}

/* Free what removals left behind, once no dispatch walks it. */
static void
collect(void)
{
	struct wdir **pp, *d;

	if (W.dispatching)
		return;
	for (pp = &W.dirs; (d = *pp) != NULL;) {
		if (!d->dead) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		free(d->path);
		free(d);
		W.ndirs--;
	}
	if (W.dirs == NULL && W.fd != -1) {
		if (W.ev != NULL)
			event_free(W.ev);
		(void)close(W.fd);
		free(W.map);
		free(W.keys);
		free(W.bucket);
		W = (struct watcher){ .fd = -1 };
	}
}

/* The inotify instance, and the loop event once someone needs one. */
static int
start(struct event_base *base, const char **error_r)
{
	if (base != NULL && W.base != NULL && W.base != base) {
		*error_r = "watches of one process need one event base";
		return -1;
	}
	if (W.fd == -1) {
		W.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (W.fd == -1) {
			*error_r = errno_text(errno);
			return -1;
		}
	}
	if (base != NULL && W.ev == NULL) {
		W.ev = event_new(base, W.fd, EV_READ | EV_PERSIST, on_read,
		    NULL);
		if (W.ev == NULL || event_add(W.ev, NULL) == -1) {
			if (W.ev != NULL)
				event_free(W.ev);
			W.ev = NULL;
			*error_r = "cannot add the inotify event";
			return -1;
		}
		W.base = base;
		/* Events taken in before there was a loop to tell. */
		event_active(W.ev, EV_READ, 0);
	}
	return 0;
}

struct store_watch *
store_watch_add(struct event_base *base, const char *dir, store_watch_cb cb,
    void *arg, const char **error_r)
{
	static const char *const subdir[2] = { "new", "cur" };
	char path[STORE_PATH_MAX];
	struct store_watch *s;
	struct wdir *d, *head;
	int i, wd[2] = { -1, -1 };

	if (base == NULL && !polling) {
		*error_r = "inotify polling is off";
		return NULL;
	}
	if (start(base, error_r) == -1) {
		collect();
		return NULL;
	}
	/* The kernel returns the existing descriptor for an inode it
	 * watches already: equal descriptors mean the same directories,
	 * whatever happened to the path meanwhile. */
	for (i = 0; i < 2; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, subdir[i]) >=
		    (int)sizeof(path) ||
		    (wd[i] = inotify_add_watch(W.fd, path, WATCH_MASK)) == -1) {
			*error_r = errno == ENOSPC ?
			    "inotify watch limit reached" : errno_text(errno);
			if (i == 1 && map_get(wd[0]) == NULL)
				(void)inotify_rm_watch(W.fd, wd[0]);
			collect();
			return NULL;
		}
	}
	if ((d = dir_find(dir, wd)) == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->path = xstrdup(dir);
		d->next = W.dirs;
		W.dirs = d;
		W.ndirs++;
		dir_hash_add(d);
		for (i = 0; i < 2; i++) {
			d->wd[i] = wd[i];
			if ((head = map_get(wd[i])) == NULL)
				map_put(wd[i], d);
			else {
				/* One inode under two paths: chain it. */
				d->share[i] = head->share[slot_of(head,
				    wd[i])];
				head->share[slot_of(head, wd[i])] = d;
			}
		}
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = d;
	s->cb = cb;
	s->arg = arg;
	s->next = d->subs;
	if (d->subs != NULL)
		d->subs->prev = s;
	d->subs = s;
	return s;
}

void
store_watch_remove(struct store_watch **wp)
{
	struct store_watch *s = *wp;
	struct wdir *d;

	*wp = NULL;
	if (s == NULL)
		return;
	d = s->dir;
	if (W.cursor == s)
		W.cursor = s->next;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->subs = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
	if (d->subs == NULL) {
		wdir_unwatch(d);
		dir_hash_del(d);
		d->dead = true;
		collect();
	}
}

uint64_t
store_watch_generation(struct store_watch *w, int which)
{
	drain();
	/* Taken events still reach the callbacks, from the loop. */
	if (W.pending && !W.dispatching && W.ev != NULL)
		event_active(W.ev, EV_READ, 0);
	/* A directory that went away counts as changed every time. */
	if (w->dir->wd[which] == -1)
		return ++w->dir->gen[which] + 1;
	return w->dir->gen[which] + 1;
}

void
store_watch_enable_polling(int on)
{
	polling = on;
}

unsigned
store_watch_dirs(void)
{
	return W.ndirs;
}
