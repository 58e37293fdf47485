/* netaddr: listener addresses as written in the configuration:
 * "host:port", "[v6]:port", "*:port" (every address), "unix:/path". */
#ifndef POSTIE_NETADDR_H
#define POSTIE_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

struct netaddr {
	bool			 is_unix;
	bool			 any;		/* "*": dual-stack wildcard */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 text[128];	/* canonical form for logs */
};

int	netaddr_parse(const char *s, struct netaddr *na, const char **error_r)
	    __attribute__((warn_unused_result));

#endif
