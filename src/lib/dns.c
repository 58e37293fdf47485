/* dns: c-ares on libevent (see dns.h).
 *
 * c-ares says through its socket state callback which sockets to watch (one
 * persistent event each) and through ares_timeout() when it next needs the
 * time (one timer, re-armed after every call into c-ares). c-ares closes
 * its sockets when it holds no more queries, so an idle resolver does not
 * keep the loop running.
 *
 * c-ares callbacks never run caller code: they turn the answer into a
 * result in the query's pool and move the query to the done list, which a
 * dispatch event drains one query per run. Caller code therefore never
 * runs on c-ares's stack, where ares_cancel() and ares_destroy() are not
 * allowed, and a callback may free the resolver.
 *
 * Bounds: names are checked with valid_domain() (253 characters, labels of
 * 63) before they are sent; the MX set keeps the DNS_MX_MAX most preferred
 * records (a null MX always), the addresses the first DNS_ADDR_MAX. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "lib/dns.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define DNS_EDNS_SIZE	1232	/* no fragmentation (DNS flag day 2020) */
#define DNS_SERVER_MAX	64	/* "[v6 address]:port" */

enum query_type {
	Q_MX,
	Q_ADDR,
};

enum query_state {
	Q_RUNNING,	/* c-ares holds it; on dns->running */
	Q_DROPPED,	/* dns_cancel()ed while c-ares holds it; on no list */
	Q_DONE,		/* result ready; on dns->done */
};

struct dns_query {
	struct dns		*dns;		/* not owned; unused once dispatched */
	struct dns_query	*prev;
	struct dns_query	*next;
	enum query_type		 type;
	enum query_state	 state;
	bool			 name_ok;
	union {
		dns_mx_cb	 mx;
		dns_addr_cb	 addr;
	} cb;
	void			*arg;		/* the caller's */
	struct pool		*pool;		/* names and result */
	char			*name;		/* in pool, no final dot */
	union {
		struct dns_mx_result	mx;
		struct dns_addr_result	addr;
	} res;
};

struct qlist {
	struct dns_query	*head;
	struct dns_query	*tail;
	unsigned		 n;
};

struct dns_sock {
	struct dns_sock		*next;
	ares_socket_t		 fd;
	struct event		*ev;
};

struct dns {
	struct event_base	*base;		/* borrowed */
	ares_channel		 channel;
	struct event		*timer;
	struct event		*dispatch;
	struct dns_sock		*socks;
	struct qlist		 running;
	struct qlist		 done;
	unsigned		 inflight;	/* running + dropped: c-ares's */
	bool			 cancelling;
};

static int	parse_server(const char *s, struct ares_addr_port_node *node,
		    const char **error_r);
static void	qlist_append(struct qlist *l, struct dns_query *q);
static void	qlist_remove(struct qlist *l, struct dns_query *q);
static struct dns_query *query_new(struct dns *dns, enum query_type type,
		    const char *name, void *arg);
static bool	numeric_tld(const char *name);
static void	query_free(struct dns_query **qp);
static bool	query_start(struct dns_query *q);
static void	query_done(struct dns_query *q);
static void	set_result(struct dns_query *q, enum dns_status status,
		    const char *error);
static enum dns_status map_status(int status);
static bool	answer_begin(struct dns_query *q, int status);
static int	mx_rank(const struct mx_record *r);
static int	mx_collect(struct dns_query *q,
		    const struct ares_mx_reply *list, const char **error_r);
static void	addr_collect(struct dns_query *q,
		    const struct ares_addrinfo *ai);
static void	on_mx_answer(void *arg, int status, int timeouts,
		    unsigned char *abuf, int alen);
static void	on_addr_answer(void *arg, int status, int timeouts,
		    struct ares_addrinfo *ai);
static void	deliver(struct dns_query *q);
static void	on_dispatch(evutil_socket_t fd, short what, void *arg);
static void	on_sock_state(void *data, ares_socket_t fd, int readable,
		    int writable);
static void	on_sock_event(evutil_socket_t fd, short what, void *arg);
static void	on_timer(evutil_socket_t fd, short what, void *arg);
static void	rearm(struct dns *dns);

/* "ip", "ip:port", "[ipv6]" or "[ipv6]:port"; a bare IPv6 address has no
 * port. */
static int
parse_server(const char *s, struct ares_addr_port_node *node,
    const char **error_r)
{
	char buf[DNS_SERVER_MAX], *host = buf, *port = NULL, *p;
	bool bracket = false;
	uint64_t n = 53;
	int len;

	memset(node, 0, sizeof(*node));
	len = snprintf(buf, sizeof(buf), "%s", s);
	if (len <= 0 || (size_t)len >= sizeof(buf)) {
		*error_r = "DNS server: empty or too long";
		return -1;
	}
	if (buf[0] == '[') {
		if ((p = strchr(buf, ']')) == NULL) {
			*error_r = "DNS server: missing ']'";
			return -1;
		}
		*p++ = '\0';
		host = buf + 1;
		bracket = true;
		if (*p == ':')
			port = p + 1;
		else if (*p != '\0') {
			*error_r = "DNS server: junk after ']'";
			return -1;
		}
	} else if ((p = strchr(buf, ':')) != NULL && strchr(p + 1, ':') == NULL) {
		*p = '\0';
		port = p + 1;
	}
	if (!bracket && inet_pton(AF_INET, host, &node->addr.addr4) == 1)
		node->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &node->addr.addr6) == 1)
		node->family = AF_INET6;
	else {
		*error_r = "DNS server: not an IP address";
		return -1;
	}
	if (port != NULL && (str_to_u64(port, 65535, &n) < 0 || n == 0)) {
		*error_r = "DNS server: bad port";
		return -1;
	}
	node->udp_port = (int)n;
	node->tcp_port = (int)n;
	return 0;
}

struct dns *
dns_new(struct event_base *base, const char *server, const char **error_r)
{
	const struct dns_options opts = { .server = server };

	return dns_new_opts(base, &opts, error_r);
}

struct dns *
dns_new_opts(struct event_base *base, const struct dns_options *opts,
    const char **error_r)
{
	static char lookups[] = "b";	/* DNS only, never /etc/hosts */
	struct ares_addr_port_node server;
	struct ares_options o;
	struct dns *dns;
	int status;

	ASSERT(base != NULL && opts != NULL);
	if (opts->server != NULL &&
	    parse_server(opts->server, &server, error_r) < 0)
		return NULL;
	if ((status = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		*error_r = ares_strerror(status);
		return NULL;
	}
	dns = xcalloc(1, sizeof(*dns));
	dns->base = base;

	memset(&o, 0, sizeof(o));
	/* No search list and no HOSTALIASES: mail domains are absolute. */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS;
	o.timeout = (int)(opts->timeout_ms > 0 && opts->timeout_ms <= 60000 ?
	    opts->timeout_ms : DNS_TIMEOUT_MS);
	o.tries = (int)(opts->tries > 0 && opts->tries <= 10 ?
	    opts->tries : DNS_TRIES);
	o.ndomains = 0;
	o.lookups = lookups;
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = dns;
	o.ednspsz = DNS_EDNS_SIZE;
	status = ares_init_options(&dns->channel, &o, ARES_OPT_FLAGS |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
	    ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ);
	if (status != ARES_SUCCESS) {
		*error_r = ares_strerror(status);
		xfree(&dns);
		ares_library_cleanup();
		return NULL;
	}
	if (opts->server != NULL &&
	    (status = ares_set_servers_ports(dns->channel, &server)) !=
	    ARES_SUCCESS) {
		*error_r = ares_strerror(status);
		ares_destroy(dns->channel);
		xfree(&dns);
		ares_library_cleanup();
		return NULL;
	}
	dns->timer = evtimer_new(base, on_timer, dns);
	dns->dispatch = event_new(base, -1, 0, on_dispatch, dns);
	if (dns->timer == NULL || dns->dispatch == NULL)
		fatalx("dns: cannot create events");
	return dns;
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;
	struct dns_sock *s;

	if (dns == NULL)
		return;
	*dnsp = NULL;
	/* Not from a callback that dns_cancel_all() runs. */
	ASSERT(!dns->cancelling);
	dns_cancel_all(dns);
	ASSERT(dns->inflight == 0 && dns->running.n == 0 && dns->done.n == 0);
	ares_destroy(dns->channel);	/* closes its sockets through us */
	while ((s = dns->socks) != NULL) {
		dns->socks = s->next;
		event_free(s->ev);
		xfree(&s);
	}
	event_free(dns->timer);
	event_free(dns->dispatch);
	xfree(&dns);
	ares_library_cleanup();
}

static void
qlist_append(struct qlist *l, struct dns_query *q)
{
	q->next = NULL;
	q->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = q;
	else
		l->head = q;
	l->tail = q;
	l->n++;
}

static void
qlist_remove(struct qlist *l, struct dns_query *q)
{
	ASSERT(l->n > 0);
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		l->head = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	else
		l->tail = q->prev;
	q->prev = q->next = NULL;
	l->n--;
}

/* "192.0.2.1" or "example.123": no top-level domain is all digits. */
static bool
numeric_tld(const char *name)
{
	const char *p = strrchr(name, '.');

	p = p != NULL ? p + 1 : name;
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* The name is checked here and reported by query_start(). */
static struct dns_query *
query_new(struct dns *dns, enum query_type type, const char *name, void *arg)
{
	struct dns_query *q;
	size_t len;
	bool too_long;

	ASSERT(dns != NULL && name != NULL);
	q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->type = type;
	q->arg = arg;
	q->pool = pool_new(NULL);
	len = strnlen(name, DNS_NAME_MAX + 1);
	too_long = len > DNS_NAME_MAX;
	if (too_long)
		len = DNS_NAME_MAX;	/* kept for the logs only */
	else if (len > 0 && name[len - 1] == '.')
		len--;
	q->name = pool_strndup(q->pool, name, len);
	q->name_ok = !too_long && valid_domain(q->name) &&
	    !numeric_tld(q->name);
	if (!q->name_ok)
		str_sanitize(q->name);	/* it is only logged */
	return q;
}

static void
query_free(struct dns_query **qp)
{
	struct dns_query *q = *qp;

	if (q == NULL)
		return;
	pool_free(&q->pool);
	xfree(qp);
}

/* Returns true when the query must go to c-ares; otherwise it is already
 * done (bad name, or started while everything is being cancelled). */
static bool
query_start(struct dns_query *q)
{
	struct dns *dns = q->dns;

	if (!q->name_ok) {
		set_result(q, DNS_BADNAME, "invalid domain name");
		query_done(q);
		return false;
	}
	if (dns->cancelling) {
		set_result(q, DNS_CANCELLED, "cancelled");
		query_done(q);
		return false;
	}
	q->state = Q_RUNNING;
	qlist_append(&dns->running, q);
	dns->inflight++;
	return true;
}

static void
query_done(struct dns_query *q)
{
	struct dns *dns = q->dns;

	q->state = Q_DONE;
	qlist_append(&dns->done, q);
	event_active(dns->dispatch, EV_TIMEOUT, 0);
}

static void
set_result(struct dns_query *q, enum dns_status status, const char *error)
{
	if (q->type == Q_MX) {
		q->res.mx.status = status;
		q->res.mx.error = error;
		q->res.mx.name = q->name;
		if (status != DNS_OK) {
			q->res.mx.mx = NULL;
			q->res.mx.n = 0;
			q->res.mx.truncated = false;
		}
	} else {
		q->res.addr.status = status;
		q->res.addr.error = error;
		q->res.addr.name = q->name;
		if (status != DNS_OK) {
			q->res.addr.addrs = NULL;
			q->res.addr.n = 0;
			q->res.addr.truncated = false;
		}
	}
}

static enum dns_status
map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return DNS_OK;
	case ARES_ENOTFOUND:
		return DNS_NXDOMAIN;
	case ARES_ENODATA:
		return DNS_NODATA;
	case ARES_EBADNAME:
		return DNS_BADNAME;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return DNS_CANCELLED;
	default:
		/* SERVFAIL, REFUSED, FORMERR, NOTIMP, timeout, connection
		 * refused, bad reply, out of memory: worth another try later. */
		return DNS_TEMPFAIL;
	}
}

/* Common start of the c-ares callbacks: false when the query was dropped
 * (and is now freed) or has already got its failure result. */
static bool
answer_begin(struct dns_query *q, int status)
{
	struct dns *dns = q->dns;

	ASSERT(dns->inflight > 0);
	dns->inflight--;
	if (q->state == Q_DROPPED) {
		query_free(&q);
		return false;
	}
	ASSERT(q->state == Q_RUNNING);
	qlist_remove(&dns->running, q);
	if (dns->cancelling)
		status = ARES_ECANCELLED;
	if (status != ARES_SUCCESS) {
		set_result(q, map_status(status), map_status(status) ==
		    DNS_CANCELLED ? "cancelled" : ares_strerror(status));
		query_done(q);
		return false;
	}
	return true;
}

/* A null MX ranks before everything, so that it survives the cut. */
static int
mx_rank(const struct mx_record *r)
{
	return strcmp(r->host, ".") == 0 ? -1 : r->preference;
}

static int
mx_collect(struct dns_query *q, const struct ares_mx_reply *list,
    const char **error_r)
{
	struct mx_record *v, rec;
	const struct ares_mx_reply *r;
	size_t i, n = 0, worst;
	bool truncated = false;
	char *h;

	v = pool_alloc(q->pool, DNS_MX_MAX * sizeof(*v));
	for (r = list; r != NULL; r = r->next) {
		rec.preference = r->priority;
		rec.host = r->host;
		if (r->host[0] == '\0' || strcmp(r->host, ".") == 0)
			rec.host = ".";
		else if (strnlen(r->host, DNS_NAME_MAX + 1) > DNS_NAME_MAX ||
		    !valid_domain(r->host)) {
			*error_r = "malformed host name in MX record";
			return -1;
		}
		if (n < DNS_MX_MAX) {
			v[n++] = rec;
			continue;
		}
		truncated = true;
		for (worst = 0, i = 1; i < n; i++)
			if (mx_rank(&v[i]) > mx_rank(&v[worst]))
				worst = i;
		if (mx_rank(&rec) < mx_rank(&v[worst]))
			v[worst] = rec;
	}
	/* The names still point into c-ares's list: copy them now. */
	for (i = 0; i < n; i++) {
		h = pool_strdup(q->pool, v[i].host);
		str_lower(h);
		v[i].host = h;
	}
	q->res.mx.mx = v;
	q->res.mx.n = n;
	q->res.mx.truncated = truncated;
	return 0;
}

static void
addr_collect(struct dns_query *q, const struct ares_addrinfo *ai)
{
	const struct ares_addrinfo_node *node;
	struct dns_addr *a;
	size_t n = 0, total = 0;

	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	for (node = ai->nodes; node != NULL; node = node->ai_next)
		total++;
	if (total == 0)
		return;
	a = pool_alloc(q->pool, (total < DNS_ADDR_MAX ? total : DNS_ADDR_MAX) *
	    sizeof(*a));
	for (node = ai->nodes; node != NULL && n < DNS_ADDR_MAX;
	    node = node->ai_next) {
		if (node->ai_family == AF_INET &&
		    node->ai_addrlen >= sizeof(*sin)) {
			sin = (struct sockaddr_in *)&a[n].ss;
			*sin = *(const struct sockaddr_in *)node->ai_addr;
			sin->sin_port = 0;
			a[n].sslen = sizeof(*sin);
		} else if (node->ai_family == AF_INET6 &&
		    node->ai_addrlen >= sizeof(*sin6)) {
			sin6 = (struct sockaddr_in6 *)&a[n].ss;
			*sin6 = *(const struct sockaddr_in6 *)node->ai_addr;
			sin6->sin6_port = 0;
			a[n].sslen = sizeof(*sin6);
		} else
			continue;
		n++;
	}
	q->res.addr.addrs = a;
	q->res.addr.n = n;
	q->res.addr.truncated = total > DNS_ADDR_MAX;
}

static void
on_mx_answer(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct dns_query *q = arg;
	struct ares_mx_reply *list = NULL;
	const char *error;

	(void)timeouts;
	if (!answer_begin(q, status))
		return;
	status = ares_parse_mx_reply(abuf, alen, &list);
	if (status != ARES_SUCCESS)
		/* ENODATA: only a CNAME, or other types, in the answer. */
		set_result(q, status == ARES_ENODATA ? DNS_NODATA :
		    DNS_TEMPFAIL, ares_strerror(status));
	else if (mx_collect(q, list, &error) < 0)
		set_result(q, DNS_TEMPFAIL, error);
	else if (q->res.mx.n == 0)
		set_result(q, DNS_NODATA, ares_strerror(ARES_ENODATA));
	else
		set_result(q, DNS_OK, NULL);
	if (list != NULL)
		ares_free_data(list);
	query_done(q);
}

static void
on_addr_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_query *q = arg;

	(void)timeouts;
	if (answer_begin(q, status)) {
		addr_collect(q, ai);
		if (q->res.addr.n == 0)
			set_result(q, DNS_NODATA, ares_strerror(ARES_ENODATA));
		else
			set_result(q, DNS_OK, NULL);
		query_done(q);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
}

struct dns_query *
dns_query_mx(struct dns *dns, const char *domain, dns_mx_cb cb, void *arg)
{
	struct dns_query *q;
	char *fqdn;

	ASSERT(cb != NULL);
	q = query_new(dns, Q_MX, domain, arg);
	q->cb.mx = cb;
	if (query_start(q)) {
		fqdn = pool_printf(q->pool, "%s.", q->name);
		ares_query(dns->channel, fqdn, ns_c_in, ns_t_mx, on_mx_answer,
		    q);
		rearm(dns);
	}
	return q;
}

struct dns_query *
dns_query_addr(struct dns *dns, const char *host, int family,
    dns_addr_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct dns_query *q;
	char *fqdn;

	ASSERT(cb != NULL);
	ASSERT(family == AF_INET || family == AF_INET6 || family == AF_UNSPEC);
	q = query_new(dns, Q_ADDR, host, arg);
	q->cb.addr = cb;
	if (query_start(q)) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = family;
		hints.ai_socktype = SOCK_STREAM;
		/* The final dot makes c-ares try the name as is, only. */
		fqdn = pool_printf(q->pool, "%s.", q->name);
		ares_getaddrinfo(dns->channel, fqdn, NULL, &hints,
		    on_addr_answer, q);
		rearm(dns);
	}
	return q;
}

void
dns_cancel(struct dns_query **qp)
{
	struct dns_query *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	switch (q->state) {
	case Q_RUNNING:
		/* c-ares cannot cancel one query: forget it, and free it
		 * when its answer comes. */
		qlist_remove(&q->dns->running, q);
		q->state = Q_DROPPED;
		break;
	case Q_DONE:
		qlist_remove(&q->dns->done, q);
		query_free(&q);
		break;
	case Q_DROPPED:
		panic("dns query cancelled twice");
	}
}

void
dns_cancel_all(struct dns *dns)
{
	struct dns_query *q;

	if (dns->cancelling)
		return;		/* the outer call reports everything */
	dns->cancelling = true;
	/* Every query c-ares holds comes back now, as cancelled. */
	ares_cancel(dns->channel);
	ASSERT(dns->inflight == 0 && dns->running.n == 0);
	while ((q = dns->done.head) != NULL) {
		qlist_remove(&dns->done, q);
		set_result(q, DNS_CANCELLED, "cancelled");
		deliver(q);
		query_free(&q);
	}
	dns->cancelling = false;
	rearm(dns);
}

unsigned
dns_pending(const struct dns *dns)
{
	return dns->running.n + dns->done.n;
}

static void
deliver(struct dns_query *q)
{
	if (q->type == Q_MX)
		q->cb.mx(&q->res.mx, q->arg);
	else
		q->cb.addr(&q->res.addr, q->arg);
}

/* One query per run: the callback may free the resolver, so nothing of it
 * is touched afterwards. */
static void
on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;
	struct dns_query *q = dns->done.head;

	(void)fd;
	(void)what;
	if (q == NULL)
		return;
	qlist_remove(&dns->done, q);
	if (dns->done.head != NULL)
		event_active(dns->dispatch, EV_TIMEOUT, 0);
	deliver(q);
	query_free(&q);
}

static void
on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *dns = data;
	struct dns_sock **sp, *s;
	short what;

	for (sp = &dns->socks; (s = *sp) != NULL; sp = &s->next)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		/* Closing; this may be the socket whose event is running,
		 * which libevent allows. */
		if (s != NULL) {
			*sp = s->next;
			event_free(s->ev);
			xfree(&s);
		}
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->next = dns->socks;
		dns->socks = s;
	} else
		event_free(s->ev);
	what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	if ((s->ev = event_new(dns->base, fd, what, on_sock_event, dns)) == NULL)
		fatalx("dns: cannot create a socket event");
	event_add(s->ev, NULL);
}

static void
on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;

	ares_process_fd(dns->channel,
	    (what & EV_READ) != 0 ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) != 0 ? fd : ARES_SOCKET_BAD);
	rearm(dns);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;

	(void)fd;
	(void)what;
	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(dns);
}

/* After every call into c-ares: wake up for its next timeout, if it holds
 * any query. */
static void
rearm(struct dns *dns)
{
	struct timeval tv;

	if (ares_timeout(dns->channel, NULL, &tv) != NULL)
		evtimer_add(dns->timer, &tv);
	else
		evtimer_del(dns->timer);
}

const char *
dns_status_str(enum dns_status status)
{
	switch (status) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_NODATA:
		return "no data";
	case DNS_TEMPFAIL:
		return "temporary failure";
	case DNS_BADNAME:
		return "invalid name";
	case DNS_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}
