/* route: transports, next hops, the transport map and the TLS policy
 * list (see route.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "lib/pool.h"
#include "lib/str.h"
#include "queue/route.h"

#define HOST_MAX	255

struct route_entry {
	const char	*pattern;	/* "example.com", ".example.com", "*" */
	struct route	 route;
};

struct route_map {
	struct route_entry	*v;
	size_t			 n;
};

static const char *const tls_names[] = {
	[ROUTE_TLS_NONE] = "none",
	[ROUTE_TLS_MAY] = "may",
	[ROUTE_TLS_ENCRYPT] = "encrypt",
	[ROUTE_TLS_VERIFY] = "verify",
};

static bool	 valid_host(const char *h, bool bracketed);
static int	 parse_port(const char *s, uint16_t *port_r);
static int	 parse_text(const char *s, const char *def, struct pool *pool,
		    struct route *r, const char **error_r);
static bool	 pattern_ok(const char *p);
static const char *lookup_domain(const char *domain, const char *pattern,
		    size_t plen, bool *sub_r);

/* A bracketed host may be an address literal; any host may be a name. */
static bool
valid_host(const char *h, bool bracketed)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (*h == '\0' || strlen(h) > HOST_MAX)
		return false;
	if (bracketed && (inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1 ||
	    (strncasecmp(h, "ipv6:", 5) == 0 &&
	    inet_pton(AF_INET6, h + 5, &a6) == 1)))
		return true;
	return valid_domain(h);
}

static int
parse_port(const char *s, uint16_t *port_r)
{
	uint64_t n;

	if (str_to_u64(s, 65535, &n) == -1 || n == 0)
		return -1;
	*port_r = (uint16_t)n;
	return 0;
}

int
route_parse_nexthop(const char *s, enum route_kind kind, struct pool *pool,
    struct route *r, const char **error_r)
{
	const char *colon, *close;
	char *host;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	if (strncmp(s, "unix:", 5) == 0) {
		if (kind != ROUTE_LMTP) {
			*error_r = "a unix socket is for lmtp only";
			return -1;
		}
		if (s[5] != '/' ||
		    strlen(s + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*error_r = "unix: needs an absolute path of at most "
			    "107 octets";
			return -1;
		}
		r->unix_path = pool_strdup(pool, s + 5);
		return 0;
	}
	if (*s == '[') {
		if ((close = strchr(s, ']')) == NULL) {
			*error_r = "missing ]";
			return -1;
		}
		host = pool_strndup(pool, s + 1, (size_t)(close - s - 1));
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] != '\0' && colon == NULL) {
			*error_r = "junk after ]";
			return -1;
		}
		r->mx = false;
	} else {
		colon = strchr(s, ':');
		host = colon != NULL ? pool_strndup(pool, s,
		    (size_t)(colon - s)) : pool_strdup(pool, s);
		r->mx = kind == ROUTE_SMTP;
	}
	if (colon != NULL && parse_port(colon + 1, &r->port) == -1) {
		*error_r = "bad port";
		return -1;
	}
	if (!valid_host(host, *s == '[')) {
		*error_r = "bad host name";
		return -1;
	}
	if (strncasecmp(host, "ipv6:", 5) == 0)
		host += 5;
	str_lower(host);
	r->host = host;
	return 0;
}

/* "5.7.1 text", "text" or "" after error:, retry:, discard:. */
static int
parse_text(const char *s, const char *def, struct pool *pool,
    struct route *r, const char **error_r)
{
	size_t n = 0;

	if (strlen(s) > ROUTE_TEXT_MAX) {
		*error_r = "text too long";
		return -1;
	}
	/* class "." subject "." detail, each 1-3 digits (RFC 3463). */
	if ((s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.') {
		const char *p = s + 2;
		int part, digits;

		for (part = 0; part < 2; part++) {
			for (digits = 0; isdigit((unsigned char)*p) &&
			    digits < 4; digits++)
				p++;
			if (digits == 0 || digits > 3 ||
			    (part == 0 && *p != '.'))
				break;
			if (part == 0)
				p++;
		}
		if (part == 2 && (*p == '\0' || *p == ' ')) {
			n = (size_t)(p - s);
			if (def[0] != s[0] && r->kind != ROUTE_DISCARD) {
				*error_r = r->kind == ROUTE_ERROR ?
				    "error: needs a 5.x.x status" :
				    "retry: needs a 4.x.x status";
				return -1;
			}
		}
	}
	if (n > 0 && n < sizeof(r->status)) {
		memcpy(r->status, s, n);
		r->status[n] = '\0';
		s += n;
		while (*s == ' ')
			s++;
	} else
		snprintf(r->status, sizeof(r->status), "%s", def);
	r->text = pool_strdup(pool, s);
	return 0;
}

int
route_parse_transport(const char *s, struct pool *pool, struct route *r,
    const char **error_r)
{
	memset(r, 0, sizeof(*r));
	if (strncmp(s, "smtp:", 5) == 0 || strcmp(s, "smtp") == 0) {
		s += s[4] == ':' ? 5 : 4;
		if (*s == '\0') {
			r->kind = ROUTE_SMTP;
			r->mx = true;
			return 0;
		}
		return route_parse_nexthop(s, ROUTE_SMTP, pool, r, error_r);
	}
	if (strncmp(s, "lmtp:", 5) == 0) {
		if (s[5] == '\0') {
			*error_r = "lmtp: needs a next hop";
			return -1;
		}
		return route_parse_nexthop(s + 5, ROUTE_LMTP, pool, r,
		    error_r);
	}
	if (strcmp(s, "discard") == 0 || strncmp(s, "discard:", 8) == 0) {
		r->kind = ROUTE_DISCARD;
		return parse_text(s[7] == ':' ? s + 8 : "", "2.0.0", pool, r,
		    error_r);
	}
	if (strncmp(s, "error:", 6) == 0) {
		r->kind = ROUTE_ERROR;
		return parse_text(s + 6, "5.0.0", pool, r, error_r);
	}
	if (strncmp(s, "retry:", 6) == 0) {
		r->kind = ROUTE_RETRY;
		return parse_text(s + 6, "4.0.0", pool, r, error_r);
	}
	*error_r = "unknown transport (smtp:, lmtp:, discard, error:, retry:)";
	return -1;
}

static bool
pattern_ok(const char *p)
{
	if (strcmp(p, "*") == 0)
		return true;
	return valid_domain(*p == '.' ? p + 1 : p);
}

int
route_map_parse(const char *text, size_t len, struct pool *pool,
    struct route_map **map_r, const char **error_r)
{
	struct route_map *map = pool_alloc(pool, sizeof(*map));
	const char *p = text, *end = text + len, *nl, *why;
	size_t lineno = 0, cap = 0;

	memset(map, 0, sizeof(*map));
	while (p < end) {
		char *line, *pat, *tr;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		lineno++;
		if (lineno > ROUTE_MAP_MAX_LINES) {
			*error_r = "too many lines";
			return -1;
		}
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			*error_r = pool_printf(pool, "line %zu: NUL octet",
			    lineno);
			return -1;
		}
		line = pool_strndup(pool, p, (size_t)(nl - p));
		p = nl + 1;
		line[strcspn(line, "\r")] = '\0';
		pat = line + strspn(line, " \t");
		if (*pat == '\0' || *pat == '#')
			continue;
		tr = pat + strcspn(pat, " \t");
		if (*tr == '\0') {
			*error_r = pool_printf(pool, "line %zu: a pattern "
			    "needs a transport", lineno);
			return -1;
		}
		*tr++ = '\0';
		tr += strspn(tr, " \t");
		while (*tr != '\0' && (tr[strlen(tr) - 1] == ' ' ||
		    tr[strlen(tr) - 1] == '\t'))
			tr[strlen(tr) - 1] = '\0';
		str_lower(pat);
		if (!pattern_ok(pat)) {
			*error_r = pool_printf(pool, "line %zu: bad pattern %s "
			    "(a domain, .domain or *)", lineno, pat);
			return -1;
		}
		if (map->n == cap) {
			struct route_entry *v;

			cap = cap == 0 ? 16 : cap * 2;
			v = pool_alloc(pool, cap * sizeof(*v));
			if (map->n > 0)
				memcpy(v, map->v, map->n * sizeof(*v));
			map->v = v;
		}
		if (route_parse_transport(tr, pool, &map->v[map->n].route,
		    &why) == -1) {
			*error_r = pool_printf(pool, "line %zu: %s: %s", lineno,
			    tr, why);
			return -1;
		}
		map->v[map->n++].pattern = pat;
	}
	*map_r = map;
	return 0;
}

/* Does pattern (plen octets) name domain? *sub_r: as a parent. */
static const char *
lookup_domain(const char *domain, const char *pattern, size_t plen,
    bool *sub_r)
{
	size_t dlen = strlen(domain);

	*sub_r = false;
	if (plen == dlen && memcmp(domain, pattern, dlen) == 0)
		return domain;
	if (pattern[0] == '.' && dlen > plen &&
	    memcmp(domain + dlen - plen, pattern, plen) == 0) {
		*sub_r = true;
		return domain + dlen - plen;
	}
	return NULL;
}

const struct route *
route_map_lookup(const struct route_map *map, const char *domain)
{
	const struct route *best = NULL, *star = NULL;
	size_t i, best_len = 0;
	bool sub;

	if (map == NULL)
		return NULL;
	for (i = 0; i < map->n; i++) {
		const char *pat = map->v[i].pattern;
		size_t plen = strlen(pat);

		if (strcmp(pat, "*") == 0) {
			if (star == NULL)
				star = &map->v[i].route;
			continue;
		}
		if (lookup_domain(domain, pat, plen, &sub) == NULL)
			continue;
		if (!sub)
			return &map->v[i].route;	/* exact wins */
		if (plen > best_len) {			/* nearest parent */
			best = &map->v[i].route;
			best_len = plen;
		}
	}
	return best != NULL ? best : star;
}

size_t
route_map_size(const struct route_map *map)
{
	return map != NULL ? map->n : 0;
}

int
route_tls_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(tls_names) / sizeof(tls_names[0]); i++)
		if (strcasecmp(s, tls_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
route_tls_name(enum route_tls level)
{
	return tls_names[level];
}

enum route_tls
route_tls_lookup(const struct strv *policy, const char *domain,
    enum route_tls def)
{
	size_t i, plen, best_len = 0;
	int level, best = -1;
	const char *eq;
	char pat[HOST_MAX + 2];
	bool sub;

	for (i = 0; i < policy->n; i++) {
		if ((eq = strchr(policy->v[i], '=')) == NULL ||
		    (plen = (size_t)(eq - policy->v[i])) == 0 ||
		    plen >= sizeof(pat) ||
		    (level = route_tls_parse(eq + 1)) == -1)
			continue;
		memcpy(pat, policy->v[i], plen);
		pat[plen] = '\0';
		str_lower(pat);
		if (lookup_domain(domain, pat, plen, &sub) == NULL)
			continue;
		if (!sub)
			return (enum route_tls)level;
		if (plen > best_len) {
			best = level;
			best_len = plen;
		}
	}
	return best != -1 ? (enum route_tls)best : def;
}

const char *
route_tls_policy_check(const struct strv *policy)
{
	char pat[HOST_MAX + 2];
	const char *eq;
	size_t i, plen;

	for (i = 0; i < policy->n; i++) {
		eq = strchr(policy->v[i], '=');
		if (eq == NULL || (plen = (size_t)(eq - policy->v[i])) == 0 ||
		    plen >= sizeof(pat) || route_tls_parse(eq + 1) == -1)
			return policy->v[i];
		memcpy(pat, policy->v[i], plen);
		pat[plen] = '\0';
		if (!valid_domain(pat[0] == '.' ? pat + 1 : pat))
			return policy->v[i];
	}
	return NULL;
}
