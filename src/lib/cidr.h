/* cidr: networks as written in the configuration ("127.0.0.0/8",
 * "[::1]/128", "192.0.2.7", "2001:db8::/32") and matching a peer address
 * against a list of them (mynetworks). IPv4-mapped IPv6 peers match IPv4
 * networks. */
#ifndef POSTIE_CIDR_H
#define POSTIE_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int	 family;	/* AF_INET or AF_INET6 */
	uint8_t	 addr[16];
	unsigned prefix;
};

int	cidr_parse(const char *s, struct cidr *c, const char **error_r)
	    __attribute__((warn_unused_result));
bool	cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* Text form of a peer address for logs and headers: "192.0.2.1", "::1". */
void	cidr_peer_text(const struct sockaddr *sa, char *out, size_t outlen);

#endif
