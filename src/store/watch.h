/* watch: change notification for Maildir folders, for IMAP IDLE and for
 * the store's own syncs. One inotify instance per process; one pair of
 * inotify watches (new/ and cur/) per watched mailbox directory, shared
 * by every subscriber of that directory. So a thousand sessions idling on
 * the same mailbox cost a thousand small subscriber records and two
 * kernel watches.
 *
 * Two kinds of subscribers. With an event base and a callback (IDLE), the
 * callback runs on that loop, at most once per batch of kernel events,
 * after a file appeared in, left, or was renamed in new/ or cur/
 * (deliveries, flag changes, expunges by any process), when the directory
 * itself went away, or when the kernel's queue overflowed (then every
 * subscriber is called). It is a hint: the session then syncs its view.
 * A callback may add or remove watches, its own included. Without an
 * event base (base and cb NULL), the subscriber only reads generations:
 * the loaded mailbox uses one to know, without reading the directories,
 * whether anything happened in them since it last looked.
 *
 * All callback subscribers of a process must use the same event_base.
 * Adding fails when inotify is not available or the kernel's per-user
 * watch limit (fs.inotify.max_user_watches) is reached: the caller then
 * polls. */
#ifndef POSTIE_STORE_WATCH_H
#define POSTIE_STORE_WATCH_H

#include <stdint.h>

struct event_base;
struct store_watch;

typedef void (*store_watch_cb)(void *arg);

#define STORE_WATCH_NEW	0
#define STORE_WATCH_CUR	1

/* dir: a mailbox directory (the one holding cur/ and new/). */
struct store_watch *store_watch_add(struct event_base *base, const char *dir,
		    store_watch_cb cb, void *arg, const char **error_r);
/* Stop; NULL is fine; sets *wp to NULL. */
void		 store_watch_remove(struct store_watch **wp);
/* A counter of the events seen in new/ or cur/ (STORE_WATCH_*) of w's
 * directory, never 0, after taking in what the kernel has queued: equal
 * values mean nothing happened there between the two calls. The
 * callback subscribers of those events are still called, from the loop. */
uint64_t	 store_watch_generation(struct store_watch *w, int which);
/* Whether loaded mailboxes use inotify for their syncs (default on); off,
 * they use directory stamps as on a system without inotify. Tests. */
void		 store_watch_enable_polling(int on);
/* Mailbox directories watched by this process (tests, metrics). */
unsigned	 store_watch_dirs(void);

#endif
