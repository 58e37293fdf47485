/* remote: messages, routing and destinations of remote delivery (see
 * remote.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "queue/remote-private.h"
#include "smtp/client.h"

#define MAP_FILE_MAX	(16 * 1024 * 1024)
#define SWEEP_SECS	30
#define MAP_CHECK_NS	100000000L	/* stat the map at most every 0.1 s */

static void	 load_map(struct remote *r);
static const struct route *route_for(struct remote *r, const char *domain,
		    bool *relay_r);
static struct dest *dest_get(struct remote *r, const struct route *rt,
		    const char *domain, bool relay);
static void	 dest_free(struct dest *d);
static void	 enqueue(struct dest *d, struct remote_msg *m, size_t i);
static void	 finish_later(struct remote_msg *m);
static void	 on_finish(evutil_socket_t fd, short what, void *arg);
static void	 on_sweep(evutil_socket_t fd, short what, void *arg);
static unsigned	 hash(const char *s);

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % DEST_BUCKETS;
}

struct remote *
remote_new(struct event_base *base, const struct config *cfg)
{
	static const struct timeval sweep = { SWEEP_SECS, 0 };
	struct remote *r = xcalloc(1, sizeof(*r));
	struct dns_options opts = { 0 };
	const char *error, *bad;
	size_t i;

	r->base = base;
	r->cfg = cfg;
	r->pool = pool_new(NULL);
	opts.server = *cfg->dns_server != '\0' ? cfg->dns_server : NULL;
	if ((r->dns = dns_new_opts(base, &opts, &error)) == NULL)
		log_warnx("remote delivery: DNS: %s; mail for MX hosts is "
		    "deferred", error);
	if ((r->ssl_ctx = smtp_client_ssl_ctx_new(&error)) == NULL)
		log_warnx("remote delivery: TLS: %s; sending without TLS",
		    error);
	if ((bad = route_tls_policy_check(&cfg->smtp_tls_policy)) != NULL)
		log_warnx("smtp_tls_policy: %s is not domain=level; ignored",
		    bad);
	if (*cfg->relayhost != '\0') {
		if (route_parse_nexthop(cfg->relayhost, ROUTE_SMTP, r->pool,
		    &r->relay, &error) == -1)
			log_warnx("relayhost %s: %s; delivering to MX hosts",
			    cfg->relayhost, error);
		else
			r->have_relay = true;
	}
	if (*cfg->transport_file != '\0')
		r->map_path = *cfg->transport_file == '/' ?
		    xstrdup(cfg->transport_file) :
		    xasprintf("%s/%s", cfg->data_dir, cfg->transport_file);
	r->self[r->nself++] = cfg->hostname;
	for (i = 0; i < cfg->mx_self_names.n &&
	    r->nself < sizeof(r->self) / sizeof(r->self[0]); i++)
		r->self[r->nself++] = cfg->mx_self_names.v[i];
	r->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, r);
	if (r->sweep_ev == NULL || event_add(r->sweep_ev, &sweep) == -1)
		fatalx("cannot set up remote delivery");
	load_map(r);
	return r;
}

void
remote_free(struct remote **rp)
{
	struct remote *r = *rp;
	struct dest *d, *next;
	size_t b;

	if (r == NULL)
		return;
	*rp = NULL;
	r->closing = true;
	for (b = 0; b < DEST_BUCKETS; b++) {
		for (d = r->dests[b]; d != NULL; d = next) {
			next = d->next;
			remote__resolve_cancel(d);
			remote__conn_close_all(d);
			remote__settle_queue(d, REMOTE_DEFERRED, "4.3.2",
			    "the mail system is shutting down");
			dest_free(d);
		}
		r->dests[b] = NULL;
	}
	dns_free(&r->dns);
	if (r->ssl_ctx != NULL)
		SSL_CTX_free(r->ssl_ctx);
	event_free(r->sweep_ev);
	pool_free(&r->map_pool);
	pool_free(&r->pool);
	free(r->map_path);
	free(r);
}

unsigned
remote_connections(const struct remote *r)
{
	return r->nconns;
}

void
remote_flush(struct remote *r)
{
	struct dest *d;
	size_t b;

	for (b = 0; b < DEST_BUCKETS; b++)
		for (d = r->dests[b]; d != NULL; d = d->next) {
			d->dead_until = 0;
			if (d->res == RES_DONE)
				d->res = RES_NONE;	/* look again */
		}
}

/* Re-read the transport map when its file changed (checked once a
 * second at most). A bad file keeps the previous map. */
static void
load_map(struct remote *r)
{
	struct route_map *map;
	struct pool *pool;
	struct stat st;
	const char *error;
	char *text;
	struct timespec now;
	ssize_t n;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (r->map_path == NULL || (now.tv_sec == r->map_checked.tv_sec &&
	    now.tv_nsec - r->map_checked.tv_nsec < MAP_CHECK_NS))
		return;
	r->map_checked = now;
	if (stat(r->map_path, &st) == -1) {
		if (r->map != NULL || r->map_mtime == 0)
			log_warn("transport_file %s", r->map_path);
		r->map = NULL;
		r->map_mtime = 1;
		pool_free(&r->map_pool);
		return;
	}
	/* Two versions written within one second differ in the nanoseconds,
	 * the size or (renamed into place) the inode. */
	if (st.st_mtim.tv_sec == r->map_mtime &&
	    st.st_mtim.tv_nsec == r->map_mtime_ns &&
	    st.st_size == r->map_size && st.st_ino == r->map_ino &&
	    r->map != NULL)
		return;
	r->map_mtime = st.st_mtim.tv_sec;
	r->map_mtime_ns = st.st_mtim.tv_nsec;
	r->map_size = st.st_size;
	r->map_ino = st.st_ino;
	if ((fd = open(r->map_path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("transport_file %s", r->map_path);
		return;
	}
	pool = pool_new(NULL);
	text = pool_alloc(pool, MAP_FILE_MAX + 1);
	n = read_all(fd, text, MAP_FILE_MAX + 1);
	close(fd);
	if (n < 0 || n > MAP_FILE_MAX) {
		log_warnx("transport_file %s: %s; keeping the old map",
		    r->map_path, n < 0 ? "cannot read" : "too big");
		pool_free(&pool);
		return;
	}
	if (route_map_parse(text, (size_t)n, pool, &map, &error) == -1) {
		log_warnx("transport_file %s: %s; keeping the old map",
		    r->map_path, error);
		pool_free(&pool);
		return;
	}
	pool_free(&r->map_pool);
	r->map_pool = pool;
	r->map = map;
	log_info("transport_file %s: %zu entries", r->map_path,
	    route_map_size(map));
}

static const struct route *
route_for(struct remote *r, const char *domain, bool *relay_r)
{
	static const struct route direct = { .kind = ROUTE_SMTP, .mx = true };
	const struct route *rt;

	*relay_r = false;
	if ((rt = route_map_lookup(r->map, domain)) != NULL)
		return rt;
	if (r->have_relay) {
		*relay_r = true;
		return &r->relay;
	}
	return &direct;
}

static struct dest *
dest_get(struct remote *r, const struct route *rt, const char *domain,
    bool relay)
{
	const struct config *cfg = r->cfg;
	const char *host = rt->host != NULL ? rt->host : domain;
	enum route_tls tls;
	uint16_t port;
	struct dest *d;
	char *key;
	unsigned h;
	int level;

	if (rt->kind == ROUTE_LMTP)
		port = rt->port != 0 ? rt->port : 24;
	else
		port = rt->port != 0 ? rt->port :
		    (uint16_t)cfg->smtp_remote_port;
	if (rt->unix_path != NULL)
		tls = ROUTE_TLS_NONE;
	else if (relay)
		tls = (level = route_tls_parse(cfg->relayhost_tls)) >= 0 ?
		    (enum route_tls)level : ROUTE_TLS_MAY;
	else {
		level = route_tls_parse(cfg->smtp_tls_security_level);
		tls = route_tls_lookup(&cfg->smtp_tls_policy, domain,
		    route_tls_lookup(&cfg->smtp_tls_policy, host,
		    level >= 0 ? (enum route_tls)level : ROUTE_TLS_MAY));
	}
	key = rt->unix_path != NULL ?
	    xasprintf("lmtp:unix:%s", rt->unix_path) :
	    xasprintf("%s:%s%s%s:%u/%s%s", rt->kind == ROUTE_LMTP ? "lmtp" :
	    "smtp", rt->mx ? "" : "[", host, rt->mx ? "" : "]", port,
	    route_tls_name(tls), relay ? "/relay" : "");
	h = hash(key);
	for (d = r->dests[h]; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0) {
			free(key);
			return d;
		}
	d = xcalloc(1, sizeof(*d));
	d->r = r;
	d->pool = pool_new(NULL);
	d->key = pool_strdup(d->pool, key);
	free(key);
	d->kind = rt->kind;
	d->host = rt->unix_path != NULL ? NULL : pool_strdup(d->pool, host);
	d->mx = rt->mx;
	d->port = port;
	d->unix_path = rt->unix_path != NULL ?
	    pool_strdup(d->pool, rt->unix_path) : NULL;
	d->tls = tls;
	d->auth = relay && *cfg->relayhost_username != '\0';
	TAILQ_INIT(&d->queue);
	TAILQ_INIT(&d->conns);
	d->next = r->dests[h];
	r->dests[h] = d;
	return d;
}

static void
dest_free(struct dest *d)
{
	pool_free(&d->pool);
	free(d);
}

/* Free destinations with nothing to do whose knowledge is stale. */
static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct remote *r = arg;
	struct dest **pp, *d;
	time_t now = time(NULL);
	size_t b;

	for (b = 0; b < DEST_BUCKETS; b++) {
		pp = &r->dests[b];
		while ((d = *pp) != NULL) {
			if (d->nqueued == 0 && d->nconns == 0 &&
			    d->res != RES_RUNNING && d->dead_until <= now &&
			    d->resolved_at + REMOTE_CACHE_SECS <= now) {
				*pp = d->next;
				dest_free(d);
				continue;
			}
			pp = &d->next;
		}
	}
}

/* Add recipient i of m to d's last transaction of m, or a new one. */
static void
enqueue(struct dest *d, struct remote_msg *m, size_t i)
{
	struct xact *x = TAILQ_LAST(&d->queue, xact_list);

	if (x == NULL || x->msg != m || x->n == REMOTE_RCPTS_MAX) {
		x = xcalloc(1, sizeof(*x));
		x->msg = m;
		TAILQ_INSERT_TAIL(&d->queue, x, entry);
		d->nqueued++;
		m->unfinished++;
	}
	x->rcpts[x->n++] = i;
}

void
remote_deliver(struct remote *r, struct remote_msg *m)
{
	struct dest *touched[64];
	size_t i, j, ntouched = 0;

	load_map(r);
	m->owner = r;
	m->unfinished = 1;	/* until every recipient is placed */
	for (i = 0; i < m->nrcpts; i++) {
		struct remote_rcpt *rc = &m->rcpts[i];
		const char *at = strrchr(rc->address, '@');
		const struct route *rt;
		struct dest *d;
		char *domain;
		bool relay;

		if (at == NULL || at[1] == '\0') {
			remote__rcpt_result(m, i, REMOTE_FAILED, "5.1.3",
			    "bad recipient address syntax", "none", false);
			continue;
		}
		domain = pool_strdup(m->pool, at + 1);
		str_lower(domain);
		rt = route_for(r, domain, &relay);
		switch (rt->kind) {
		case ROUTE_DISCARD:
			remote__rcpt_result(m, i, REMOTE_SENT, rt->status,
			    *rt->text != '\0' ? rt->text : "discarded",
			    "none", false);
			continue;
		case ROUTE_ERROR:
			remote__rcpt_result(m, i, REMOTE_FAILED, rt->status,
			    *rt->text != '\0' ? rt->text :
			    "delivery refused by the transport map", "none",
			    false);
			continue;
		case ROUTE_RETRY:
			remote__rcpt_result(m, i, REMOTE_DEFERRED, rt->status,
			    *rt->text != '\0' ? rt->text :
			    "delivery postponed by the transport map", "none",
			    false);
			continue;
		case ROUTE_SMTP:
		case ROUTE_LMTP:
			break;
		}
		d = dest_get(r, rt, domain, relay);
		enqueue(d, m, i);
		for (j = 0; j < ntouched && touched[j] != d; j++)
			;
		if (j == ntouched) {
			if (ntouched == sizeof(touched) / sizeof(touched[0])) {
				remote__kick(touched[0]);
				memmove(touched, touched + 1,
				    (ntouched - 1) * sizeof(touched[0]));
				ntouched--;
			}
			touched[ntouched++] = d;
		}
	}
	for (j = 0; j < ntouched; j++)
		remote__kick(touched[j]);
	if (--m->unfinished == 0)
		finish_later(m);
}

/* Serve d: idle connections take transactions; a new connection opens
 * when more transactions wait than connections are open, none is being
 * set up, and the limits allow (a burst ramps up; a trickle reuses one
 * connection). */
void
remote__kick(struct dest *d)
{
	struct remote *r = d->r;
	const struct config *cfg = r->cfg;
	time_t now = time(NULL);

	if (d->nqueued == 0)
		return;
	if (d->dead_until > now) {
		remote__settle_queue(d, d->dead_outcome, d->dead_status,
		    d->dead_text);
		return;
	}
	while (d->nqueued > 0 && remote__conn_take(d))
		;
	if (d->nqueued == 0 || d->nqueued <= d->nconns ||
	    d->nconnecting > 0 ||
	    d->nconns >= cfg->smtp_destination_concurrency_limit ||
	    r->nconns >= cfg->smtp_concurrency_limit)
		return;
	if (d->res == RES_DONE && d->resolved_at + REMOTE_CACHE_SECS <= now &&
	    d->nconns == 0)
		d->res = RES_NONE;
	switch (d->res) {
	case RES_NONE:
		remote__resolve(d);
		return;
	case RES_RUNNING:
		return;
	case RES_DONE:
		break;
	}
	if (d->res_outcome != REMOTE_SENT) {
		remote__settle_queue(d, d->res_outcome, d->res_status,
		    d->res_text);
		return;
	}
	remote__conn_open(d);
}

void
remote__kick_all(struct remote *r)
{
	struct dest *d;
	size_t b;

	for (b = 0; b < DEST_BUCKETS &&
	    r->nconns < r->cfg->smtp_concurrency_limit; b++)
		for (d = r->dests[b]; d != NULL; d = d->next)
			if (d->nqueued > 0 && d->nconnecting == 0)
				remote__kick(d);
}

void
remote__settle_queue(struct dest *d, enum remote_outcome o,
    const char *status, const char *text)
{
	struct xact *x;
	size_t i;

	while ((x = TAILQ_FIRST(&d->queue)) != NULL) {
		TAILQ_REMOVE(&d->queue, x, entry);
		d->nqueued--;
		for (i = 0; i < x->n; i++)
			remote__rcpt_result(x->msg, x->rcpts[i], o, status,
			    text, "none", false);
		remote__xact_done(x);
	}
}

void
remote__rcpt_result(struct remote_msg *m, size_t i, enum remote_outcome o,
    const char *status, const char *text, const char *relay, bool relayed)
{
	static const char *const names[] = {
		[REMOTE_SENT] = "sent",
		[REMOTE_DEFERRED] = "deferred",
		[REMOTE_FAILED] = "bounced",
	};
	struct remote_rcpt *rc = &m->rcpts[i];

	rc->outcome = o;
	rc->status = pool_strdup(m->pool, status);
	rc->text = pool_strdup(m->pool, text);
	rc->relay = pool_strdup(m->pool, relay);
	rc->relayed = relayed;
	if (o == REMOTE_SENT && m->sent != NULL)
		m->sent(m, i, m->arg);
	log_info("%s: to=<%s>, relay=%s, delay=%lld, dsn=%s, status=%s (%s)",
	    m->id, rc->address, relay, (long long)(time(NULL) - m->arrival),
	    status, names[o], text);
}

void
remote__xact_done(struct xact *x)
{
	struct remote_msg *m = x->msg;

	free(x);
	if (--m->unfinished == 0)
		finish_later(m);
}

/* done runs from its own loop pass, never inside remote_deliver();
 * when shutting down, at once (the loop will not run again). */
static void
finish_later(struct remote_msg *m)
{
	if (m->owner->closing) {
		m->done(m, m->arg);
		return;
	}
	if (event_base_once(m->owner->base, -1, EV_TIMEOUT, on_finish, m,
	    NULL) == -1)
		fatalx("cannot schedule the end of a remote delivery");
}

static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct remote_msg *m = arg;

	m->done(m, m->arg);
}
