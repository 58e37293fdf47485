/* netaddr: parse listener addresses (see netaddr.h). Only numeric hosts are
 * accepted, so parsing never blocks on DNS. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lib/netaddr.h"
#include "lib/str.h"

int
netaddr_parse(const char *s, struct netaddr *na, const char **error_r)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&na->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&na->ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&na->ss;
	char host[64];
	const char *colon, *hs, *he;
	uint64_t port;
	size_t hlen;

	memset(na, 0, sizeof(*na));
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= sizeof(sun->sun_path)) {
			*error_r = "unix socket needs an absolute path that fits";
			return -1;
		}
		na->is_unix = true;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, s + 5, strlen(s + 5) + 1);
		na->sslen = sizeof(*sun);
		snprintf(na->text, sizeof(na->text), "%s", s);
		return 0;
	}
	if ((colon = strrchr(s, ':')) == NULL) {
		*error_r = "expected host:port";
		return -1;
	}
	if (str_to_u64(colon + 1, 65535, &port) == -1 || port == 0) {
		*error_r = "bad port number";
		return -1;
	}
	hs = s;
	he = colon;
	if (*hs == '[') {
		if (he - hs < 2 || he[-1] != ']') {
			*error_r = "bad [IPv6]:port";
			return -1;
		}
		hs++;
		he--;
	}
	hlen = (size_t)(he - hs);
	if (hlen == 0 || hlen >= sizeof(host)) {
		*error_r = "bad host";
		return -1;
	}
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0) {
		na->any = true;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		na->sslen = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		na->sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		na->sslen = sizeof(*sin6);
	} else {
		*error_r = "host must be a numeric address or *";
		return -1;
	}
	if (sin->sin_family == AF_INET6 && !na->any)
		snprintf(na->text, sizeof(na->text), "[%s]:%u", host,
		    (unsigned)port);
	else
		snprintf(na->text, sizeof(na->text), "%s:%u", host,
		    (unsigned)port);
	return 0;
}
