/* listen: the services postie offers and the sockets the master opens for
 * them. Listeners are opened as root by the master, inherited by the worker
 * processes, and kept across reloads when their address does not change. */
#ifndef POSTIE_LISTEN_H
#define POSTIE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/conf.h"
#include "lib/netaddr.h"

enum service {
	SVC_SMTP,
	SVC_SUBMISSION,
	SVC_SUBMISSIONS,
	SVC_LMTP,
	SVC_IMAP,
	SVC_IMAPS,
	SVC_POP3,
	SVC_POP3S,
	SVC_COUNT
};

enum service_proto { PROTO_SMTP, PROTO_LMTP, PROTO_IMAP, PROTO_POP3 };

struct service_info {
	const char		*name;		/* "submission" */
	size_t			 conf_offset;	/* its *_listen list */
	enum service_proto	 proto;
	bool			 implicit_tls;
	unsigned		 std_port;
};

extern const struct service_info services[SVC_COUNT];

struct listener {
	enum service	 svc;
	struct netaddr	 addr;
	int		 fd;
};

struct listener_set {
	struct listener	*v;
	size_t		 n;
};

/* Open every configured listener; sockets in reuse with the same service
 * and address are taken over (their fd moves to out). On failure nothing
 * in reuse is touched and every newly opened socket is closed. */
int	listeners_open(const struct config *cfg, struct listener_set *reuse,
	    uid_t owner, gid_t group, struct listener_set *out,
	    char **error_r) __attribute__((warn_unused_result));
void	listeners_close(struct listener_set *set);

#endif
