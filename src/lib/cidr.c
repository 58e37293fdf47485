/* cidr: parse networks and match addresses (see cidr.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "lib/cidr.h"
#include "lib/str.h"

static bool	prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits);

int
cidr_parse(const char *s, struct cidr *c, const char **error_r)
{
	char host[64];
	const char *slash = strchr(s, '/'), *hs = s, *he;
	uint64_t prefix;
	size_t len;

	memset(c, 0, sizeof(*c));
	he = slash != NULL ? slash : s + strlen(s);
	if (*hs == '[') {
		if (he - hs < 2 || he[-1] != ']') {
			*error_r = "bad [IPv6] network";
			return -1;
		}
		hs++;
		he--;
	}
	len = (size_t)(he - hs);
	if (len == 0 || len >= sizeof(host)) {
		*error_r = "bad network address";
		return -1;
	}
	memcpy(host, hs, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		c->prefix = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		c->prefix = 128;
	} else {
		*error_r = "not a numeric network address";
		return -1;
	}
	if (slash != NULL) {
		if (str_to_u64(slash + 1, c->prefix, &prefix) == -1) {
			*error_r = "bad prefix length";
			return -1;
		}
		c->prefix = (unsigned)prefix;
	}
	return 0;
}

static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (sa->sa_family == AF_INET && c->family == AF_INET)
		return prefix_equal(c->addr,
		    (const uint8_t *)&sin->sin_addr, c->prefix);
	if (sa->sa_family == AF_INET6 && c->family == AF_INET6)
		return prefix_equal(c->addr, sin6->sin6_addr.s6_addr, c->prefix);
	if (sa->sa_family == AF_INET6 && c->family == AF_INET &&
	    memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0)
		return prefix_equal(c->addr, sin6->sin6_addr.s6_addr + 12,
		    c->prefix);
	return false;
}

void
cidr_peer_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6 &&
	    memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0)
		inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, out,
		    (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)outlen);
	else
		snprintf(out, outlen, "local");
}
