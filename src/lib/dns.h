/* dns: asynchronous DNS for remote delivery, through c-ares on the
 * process's libevent loop (no threads, nothing blocks). The queue
 * manager's SMTP client asks for the MX records of a domain, orders them
 * with mx_route() (lib/mx.h), then asks for the addresses of each host.
 *
 * Lookups go to DNS only: no /etc/hosts, no search domains, every name is
 * absolute. Limits: names of at most DNS_NAME_MAX octets (253 characters
 * as text), at most DNS_MX_MAX MX records (the most preferred are kept) and
 * DNS_ADDR_MAX addresses per host; each try waits DNS_TIMEOUT_MS, for
 * DNS_TRIES tries per server (c-ares doubles the wait on each round).
 *
 * Callbacks. Every query's callback runs exactly once, on the loop and
 * never from inside dns_query_*() (even a bad name is reported on the
 * next loop pass), unless dns_cancel() dropped the query first. The result
 * and everything it points to belong to the module and are freed when the
 * callback returns: copy what must outlive it (mx_route() copies its
 * hosts into the caller's pool). From a callback, the caller may start
 * new queries, cancel others and call dns_free().
 *
 * Cancellation. dns_cancel_all(), and dns_free() which calls it, run the
 * callback of every query not yet reported, before returning, with
 * DNS_CANCELLED and no records, so that the owner of each arg can release
 * it. Such a callback may start a query (it is reported as cancelled too)
 * but must not call dns_free(). */
#ifndef POSTIE_DNS_H
#define POSTIE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "lib/mx.h"

struct dns;
struct dns_query;
struct event_base;

#define DNS_NAME_MAX		255	/* octets on the wire */
#define DNS_MX_MAX		100
#define DNS_ADDR_MAX		64
#define DNS_TIMEOUT_MS		5000
#define DNS_TRIES		2

enum dns_status {
	DNS_OK,		/* at least one record */
	DNS_NXDOMAIN,	/* the name does not exist: permanent */
	DNS_NODATA,	/* the name exists, no record of this type */
	DNS_TEMPFAIL,	/* SERVFAIL, REFUSED, timeout, no server, bad reply */
	DNS_BADNAME,	/* the name cannot be a DNS name: permanent */
	DNS_CANCELLED,	/* dns_cancel_all() or dns_free() */
};

/* What a callback receives; valid until the callback returns. */
struct dns_mx_result {
	enum dns_status		 status;
	const char		*error;		/* static, for logs; NULL if OK */
	const char		*name;		/* the name asked, no final dot */
	struct mx_record	*mx;		/* n records, in DNS order */
	size_t			 n;		/* > 0 exactly when DNS_OK */
	bool			 truncated;	/* more than DNS_MX_MAX were sent */
};

struct dns_addr {
	struct sockaddr_storage	 ss;		/* AF_INET or AF_INET6, port 0 */
	socklen_t		 sslen;
};

struct dns_addr_result {
	enum dns_status		 status;
	const char		*error;		/* static, for logs; NULL if OK */
	const char		*name;		/* the name asked, no final dot */
	struct dns_addr		*addrs;		/* n addresses, RFC 6724 order */
	size_t			 n;		/* > 0 exactly when DNS_OK */
	bool			 truncated;	/* more than DNS_ADDR_MAX were sent */
};

typedef void (*dns_mx_cb)(const struct dns_mx_result *res, void *arg);
typedef void (*dns_addr_cb)(const struct dns_addr_result *res, void *arg);

struct dns_options {
	const char	*server;	/* NULL: the servers of resolv.conf;
					 * else "ip", "ip:port", "[ipv6]:port" */
	unsigned	 timeout_ms;	/* per try; 0 or over 60000: default */
	unsigned	 tries;		/* per server; 0 or over 10: default */
};

/* A resolver on base with the default timeouts; NULL with *error_r set on a
 * bad server address or when c-ares cannot start. */
struct dns	*dns_new(struct event_base *base, const char *server,
		    const char **error_r);
struct dns	*dns_new_opts(struct event_base *base,
		    const struct dns_options *opts, const char **error_r);
/* Cancels what is pending (see above), then frees; sets *dnsp to NULL. */
void		 dns_free(struct dns **dnsp);

/*
 * Start a query. The handle returned is only for dns_cancel() and stays
 * valid until the callback starts. name may end with a dot; it is never
 * completed with a search domain. The records of an MX answer have their
 * hosts lower-cased, without a final dot, and "." for a null MX; a host
 * name that is not a valid domain fails the whole answer (DNS_TEMPFAIL,
 * as Postfix does). family is AF_INET (A), AF_INET6 (AAAA) or AF_UNSPEC
 * (both). A name whose last label is all digits, such as an IPv4
 * address, is not a host name (RFC 3696 section 2): DNS_BADNAME, so an
 * address literal never passes for a name; the caller handles those.
 */
struct dns_query *dns_query_mx(struct dns *dns, const char *domain,
		    dns_mx_cb cb, void *arg);
struct dns_query *dns_query_addr(struct dns *dns, const char *host,
		    int family, dns_addr_cb cb, void *arg);
/* Drop one query: its callback is never called; sets *qp to NULL. */
void		 dns_cancel(struct dns_query **qp);
void		 dns_cancel_all(struct dns *dns);
/* Queries whose callback has not run yet (for tests and metrics). */
unsigned	 dns_pending(const struct dns *dns);

/* "ok", "NXDOMAIN", "no data", "temporary failure", ... */
const char	*dns_status_str(enum dns_status status);

#endif
