/* route: where mail for a remote domain goes, decided before any DNS
 * lookup. Pure parsing and lookup, so that it is testable alone.
 *
 * A route comes from, in order: the transport map (transport_file), the
 * relay host (relayhost), else direct delivery to the domain's MX hosts.
 * Next hops are written as in Postfix:
 *   [host]:port, [host]   that host, no MX lookup (host may be an address)
 *   host:port, host       the MX hosts of host (LMTP: host itself)
 *   unix:/path            an LMTP unix socket
 * Transports: smtp:NEXTHOP, smtp: (the recipient's domain), lmtp:NEXTHOP,
 * discard[:text], error:text and retry:text; the text of error and retry
 * may start with an enhanced status code (default 5.0.0 and 4.0.0).
 *
 * The transport map file has one "pattern transport" per line, # starts
 * a comment line. A pattern is a domain, ".domain" for every subdomain of
 * domain, or "*" for everything. Lookup: the domain itself, then its
 * parents as ".parent" from the nearest, then "*". */
#ifndef POSTIE_ROUTE_H
#define POSTIE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"

struct pool;

#define ROUTE_MAP_MAX_LINES	100000
#define ROUTE_TEXT_MAX		512

enum route_kind {
	ROUTE_SMTP,
	ROUTE_LMTP,
	ROUTE_DISCARD,
	ROUTE_ERROR,		/* fail at once */
	ROUTE_RETRY,		/* defer at once */
};

enum route_tls {
	ROUTE_TLS_NONE,
	ROUTE_TLS_MAY,
	ROUTE_TLS_ENCRYPT,
	ROUTE_TLS_VERIFY,
};

struct route {
	enum route_kind	 kind;
	/* SMTP and LMTP: host NULL means the recipient's domain, with MX. */
	const char	*host;		/* lower case, no brackets */
	bool		 mx;		/* look up the MX hosts of host */
	uint16_t	 port;		/* 0: the default of the kind */
	const char	*unix_path;	/* LMTP over a unix socket */
	/* ERROR, RETRY, DISCARD */
	char		 status[12];	/* "5.7.1" */
	const char	*text;		/* "" when none */
};

struct route_map;

/* Parse one transport ("smtp:[10.0.0.1]:25", "error:5.7.1 go away").
 * Strings are copied into pool. */
int	route_parse_transport(const char *s, struct pool *pool,
	    struct route *r, const char **error_r);
/* Parse a next hop for kind (SMTP or LMTP), as in relayhost. */
int	route_parse_nexthop(const char *s, enum route_kind kind,
	    struct pool *pool, struct route *r, const char **error_r);

/* Parse a transport map from text; on error *error_r is "line N: why"
 * (from pool). */
int	route_map_parse(const char *text, size_t len, struct pool *pool,
	    struct route_map **map_r, const char **error_r);
/* The route for domain (lower case), or NULL. */
const struct route *route_map_lookup(const struct route_map *map,
	    const char *domain);
size_t	route_map_size(const struct route_map *map);

/* "none", "may", "encrypt", "verify" -> level; -1 if not one. */
int	route_tls_parse(const char *s);
const char *route_tls_name(enum route_tls level);
/* The level for domain from "domain=level" entries (".domain" matches
 * subdomains, as in the transport map), else def. Bad entries are
 * skipped (route_tls_policy_check reports them). */
enum route_tls route_tls_lookup(const struct strv *policy,
	    const char *domain, enum route_tls def);
/* NULL when every entry is "domain=level", else the first bad one. */
const char *route_tls_policy_check(const struct strv *policy);

#endif
