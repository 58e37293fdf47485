/* remote-resolve: the addresses a destination's connections try, in
 * order (see remote.h). For an MX route: the MX records, ordered and
 * pruned by mx_route() (null MX, this host as an MX), then the addresses
 * of the first REMOTE_MX_HOSTS_MAX hosts, asked all at once; for a host
 * route: that host's addresses; an address literal or a unix socket needs
 * no DNS. At most REMOTE_TARGETS_MAX addresses are kept. The outcome is
 * kept for REMOTE_CACHE_SECS, a temporary failure for TEMP_CACHE_SECS. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mx.h"
#include "lib/pool.h"
#include "queue/remote-private.h"

#define TEMP_CACHE_SECS	30

struct resolve_host {
	struct dest		*d;
	const char		*name;		/* from d->pool */
	struct dns_query	*q;
	struct dns_addr		*addrs;		/* from d->pool */
	size_t			 n;
	enum dns_status		 status;
};

static void	 resolved(struct dest *d, enum remote_outcome o,
		    const char *status, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
static bool	 literal(struct dest *d);
static void	 query_hosts(struct dest *d, const struct mx_record *hosts,
		    size_t n);
static void	 on_mx(const struct dns_mx_result *res, void *arg);
static void	 on_addr(const struct dns_addr_result *res, void *arg);
static void	 assemble(struct dest *d);

static void
resolved(struct dest *d, enum remote_outcome o, const char *status,
    const char *fmt, ...)
{
	va_list ap;

	d->res = RES_DONE;
	d->resolved_at = time(NULL);
	if (o == REMOTE_DEFERRED)
		d->resolved_at -= REMOTE_CACHE_SECS - TEMP_CACHE_SECS;
	d->res_outcome = o;
	snprintf(d->res_status, sizeof(d->res_status), "%s", status);
	va_start(ap, fmt);
	d->res_text = pool_vprintf(d->pool, fmt, ap);
	va_end(ap);
	if (o != REMOTE_SENT)
		log_info("%s: %s", d->key, d->res_text);
	remote__kick(d);
}

/* A unix socket or an address literal: the one target, no DNS. */
static bool
literal(struct dest *d)
{
	struct target *t;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	struct sockaddr_un *sun;

	t = pool_alloc(d->pool, sizeof(*t));
	memset(t, 0, sizeof(*t));
	if (d->unix_path != NULL) {
		sun = (struct sockaddr_un *)&t->ss;
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s",
		    d->unix_path);
		t->sslen = sizeof(*sun);
		snprintf(t->host, sizeof(t->host), "unix:%s", d->unix_path);
	} else {
		sin = (struct sockaddr_in *)&t->ss;
		sin6 = (struct sockaddr_in6 *)&t->ss;
		if (inet_pton(AF_INET, d->host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(d->port);
			t->sslen = sizeof(*sin);
		} else if (inet_pton(AF_INET6, d->host, &sin6->sin6_addr) ==
		    1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(d->port);
			t->sslen = sizeof(*sin6);
		} else
			return false;
		snprintf(t->host, sizeof(t->host), "%s", d->host);
	}
	d->targets = t;
	d->ntargets = 1;
	return true;
}

void
remote__resolve(struct dest *d)
{
	struct mx_record self;

	d->res = RES_RUNNING;
	if (literal(d)) {
		resolved(d, REMOTE_SENT, "2.0.0", "literal");
		return;
	}
	if (d->r->dns == NULL) {
		resolved(d, REMOTE_DEFERRED, "4.4.3", "cannot look up %s: "
		    "the DNS resolver did not start", d->host);
		return;
	}
	if (d->mx) {
		d->mx_query = dns_query_mx(d->r->dns, d->host, on_mx, d);
		return;
	}
	self.preference = 0;
	self.host = d->host;
	query_hosts(d, &self, 1);
}

void
remote__resolve_cancel(struct dest *d)
{
	size_t i;

	dns_cancel(&d->mx_query);
	for (i = 0; i < d->nhosts; i++)
		dns_cancel(&d->hosts[i].q);
	d->hosts_pending = 0;
	if (d->res == RES_RUNNING)
		d->res = RES_NONE;
}

static void
on_mx(const struct dns_mx_result *res, void *arg)
{
	struct dest *d = arg;
	struct mx_record *hosts;
	size_t n;

	d->mx_query = NULL;
	switch (res->status) {
	case DNS_CANCELLED:
		return;
	case DNS_OK:
	case DNS_NODATA:
		break;
	case DNS_NXDOMAIN:
	case DNS_BADNAME:
		resolved(d, REMOTE_FAILED, "5.1.2", "Host or domain name not "
		    "found: no MX or address record for %s (%s)", d->host,
		    dns_status_str(res->status));
		return;
	case DNS_TEMPFAIL:
		resolved(d, REMOTE_DEFERRED, "4.4.3", "cannot look up the MX "
		    "hosts of %s: %s", d->host, res->error != NULL ?
		    res->error : dns_status_str(res->status));
		return;
	}
	switch (mx_route(d->pool, d->host, res->mx, res->n, d->r->self,
	    d->r->nself, mx_random, NULL, &hosts, &n)) {
	case MX_NULL:
		resolved(d, REMOTE_FAILED, "5.1.10", "domain %s does not "
		    "accept mail (null MX, RFC 7505)", d->host);
		return;
	case MX_LOOP:
		resolved(d, REMOTE_FAILED, "5.4.6", "mail for %s loops back "
		    "to myself: this host is its best MX, but the domain "
		    "is not local", d->host);
		return;
	case MX_OK:
		break;
	}
	query_hosts(d, hosts, n < REMOTE_MX_HOSTS_MAX ? n :
	    REMOTE_MX_HOSTS_MAX);
}

static void
query_hosts(struct dest *d, const struct mx_record *hosts, size_t n)
{
	size_t i;

	d->hosts = pool_alloc(d->pool, n * sizeof(*d->hosts));
	memset(d->hosts, 0, n * sizeof(*d->hosts));
	d->nhosts = n;
	d->hosts_pending = n;
	for (i = 0; i < n; i++) {
		d->hosts[i].d = d;
		d->hosts[i].name = pool_strdup(d->pool, hosts[i].host);
		d->hosts[i].status = DNS_TEMPFAIL;
	}
	/* Every callback comes later, so the loop sees a stable array. */
	for (i = 0; i < n; i++)
		d->hosts[i].q = dns_query_addr(d->r->dns, d->hosts[i].name,
		    AF_UNSPEC, on_addr, &d->hosts[i]);
}

static void
on_addr(const struct dns_addr_result *res, void *arg)
{
	struct resolve_host *h = arg;
	struct dest *d = h->d;

	h->q = NULL;
	if (res->status == DNS_CANCELLED)
		return;
	h->status = res->status;
	if (res->status == DNS_OK) {
		h->addrs = pool_alloc(d->pool, res->n * sizeof(*h->addrs));
		memcpy(h->addrs, res->addrs, res->n * sizeof(*h->addrs));
		h->n = res->n;
	}
	if (--d->hosts_pending == 0)
		assemble(d);
}

/* Every host has answered: the targets in MX order. */
static void
assemble(struct dest *d)
{
	struct target *t = pool_alloc(d->pool,
	    REMOTE_TARGETS_MAX * sizeof(*t));
	bool temp = false;
	size_t i, j, n = 0;

	for (i = 0; i < d->nhosts; i++) {
		struct resolve_host *h = &d->hosts[i];

		if (h->status == DNS_TEMPFAIL)
			temp = true;
		for (j = 0; j < h->n && n < REMOTE_TARGETS_MAX; j++, n++) {
			memset(&t[n], 0, sizeof(t[n]));
			memcpy(&t[n].ss, &h->addrs[j].ss, h->addrs[j].sslen);
			t[n].sslen = h->addrs[j].sslen;
			if (t[n].ss.ss_family == AF_INET)
				((struct sockaddr_in *)&t[n].ss)->sin_port =
				    htons(d->port);
			else
				((struct sockaddr_in6 *)&t[n].ss)->sin6_port =
				    htons(d->port);
			snprintf(t[n].host, sizeof(t[n].host), "%s", h->name);
		}
	}
	d->nhosts = 0;
	if (n == 0) {
		if (temp)
			resolved(d, REMOTE_DEFERRED, "4.4.3", "cannot look up "
			    "the address of any host for %s", d->host);
		else
			resolved(d, REMOTE_FAILED, "5.4.4", "no host for %s "
			    "has an address", d->host);
		return;
	}
	d->targets = t;
	d->ntargets = n;
	resolved(d, REMOTE_SENT, "2.0.0", "%zu addresses", n);
}
