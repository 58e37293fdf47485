/* listen: open, reuse and close the listening sockets (see listen.h).
 * "*:port" is one dual-stack IPv6 socket, or IPv4 only where the kernel has
 * no IPv6. Unix sockets replace a stale file and belong to the mail user,
 * mode 0660; LMTP's get lmtp_socket_mode (0666 by default), since the MTA
 * that delivers through them runs as a user of its own. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/listen.h"

#define LISTEN_BACKLOG	511

static int	open_one(struct netaddr *na, uid_t owner, gid_t group,
		    mode_t mode, const char **error_r);
static mode_t	socket_mode(const struct config *cfg, enum service svc);
static int	take_reused(struct listener_set *reuse, enum service svc,
		    const struct netaddr *na);

#define SVC(n, f, p, t, port) { n, offsetof(struct config, f), p, t, port }
const struct service_info services[SVC_COUNT] = {
	[SVC_SMTP]        = SVC("smtp",        smtp_listen,        PROTO_SMTP, false, 25),
	[SVC_SUBMISSION]  = SVC("submission",  submission_listen,  PROTO_SMTP, false, 587),
	[SVC_SUBMISSIONS] = SVC("submissions", submissions_listen, PROTO_SMTP, true,  465),
	[SVC_LMTP]        = SVC("lmtp",        lmtp_listen,        PROTO_LMTP, false, 24),
	[SVC_IMAP]        = SVC("imap",        imap_listen,        PROTO_IMAP, false, 143),
	[SVC_IMAPS]       = SVC("imaps",       imaps_listen,       PROTO_IMAP, true,  993),
	[SVC_POP3]        = SVC("pop3",        pop3_listen,        PROTO_POP3, false, 110),
	[SVC_POP3S]       = SVC("pop3s",       pop3s_listen,       PROTO_POP3, true,  995),
};

static mode_t
socket_mode(const struct config *cfg, enum service svc)
{
	if (svc == SVC_LMTP)
		return (mode_t)strtoul(cfg->lmtp_socket_mode, NULL, 8);
	return 0660;
}

static int
open_one(struct netaddr *na, uid_t owner, gid_t group, mode_t mode,
    const char **error_r)
{
	struct sockaddr_in *sin;
	int fd, on = 1, off = 0;

	fd = socket(na->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 && na->any && errno == EAFNOSUPPORT) {
		/* No IPv6 here: the wildcard becomes 0.0.0.0. */
		uint16_t port = ((struct sockaddr_in6 *)&na->ss)->sin6_port;

		memset(&na->ss, 0, sizeof(na->ss));
		sin = (struct sockaddr_in *)&na->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		na->sslen = sizeof(*sin);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	if (na->is_unix) {
		const char *path = ((struct sockaddr_un *)&na->ss)->sun_path;
		struct stat st;

		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (na->any && na->ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
			    sizeof(off));
	}
	if (bind(fd, (struct sockaddr *)&na->ss, na->sslen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	if (na->is_unix) {
		const char *path = ((struct sockaddr_un *)&na->ss)->sun_path;

		if ((geteuid() == 0 && chown(path, owner, group) == -1) ||
		    chmod(path, mode) == -1) {
			*error_r = strerror(errno);
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int
take_reused(struct listener_set *reuse, enum service svc,
    const struct netaddr *na)
{
	size_t i;
	int fd;

	for (i = 0; reuse != NULL && i < reuse->n; i++) {
		struct listener *l = &reuse->v[i];

		if (l->fd != -1 && l->svc == svc &&
		    strcmp(l->addr.text, na->text) == 0) {
			fd = l->fd;
			l->fd = -1;
			return fd;
		}
	}
	return -1;
}

int
listeners_open(const struct config *cfg, struct listener_set *reuse,
    uid_t owner, gid_t group, struct listener_set *out, char **error_r)
{
	struct listener_set set = { NULL, 0 };
	const char *error;
	size_t i, j;
	int s;

	for (s = 0; s < SVC_COUNT; s++) {
		const struct strv *addrs = (const struct strv *)(const void *)
		    ((const char *)cfg + services[s].conf_offset);

		for (i = 0; i < addrs->n; i++) {
			struct listener l = { .svc = s, .fd = -1 };

			if (netaddr_parse(addrs->v[i], &l.addr, &error) == -1) {
				*error_r = xasprintf("%s_listen: %s: %s",
				    services[s].name, addrs->v[i], error);
				goto fail;
			}
			for (j = 0; j < set.n; j++) {
				if (strcmp(set.v[j].addr.text, l.addr.text) == 0) {
					*error_r = xasprintf("%s %s: address "
					    "used twice", services[s].name,
					    l.addr.text);
					goto fail;
				}
			}
			l.fd = take_reused(reuse, s, &l.addr);
			if (l.fd != -1 && l.addr.is_unix)
				/* A reload may have changed the mode. */
				(void)chmod(((struct sockaddr_un *)&l.addr.ss)->
				    sun_path, socket_mode(cfg, s));
			if (l.fd == -1 && (l.fd = open_one(&l.addr, owner, group,
			    socket_mode(cfg, s), &error)) == -1) {
				*error_r = xasprintf("cannot listen for %s on "
				    "%s: %s", services[s].name, l.addr.text,
				    error);
				goto fail;
			}
			set.v = xreallocarray(set.v, set.n + 1, sizeof(*set.v));
			set.v[set.n++] = l;
		}
	}
	*out = set;
	return 0;
fail:
	/* Give taken-over sockets back, close the new ones. */
	for (i = 0; i < set.n; i++) {
		bool returned = false;

		for (j = 0; reuse != NULL && j < reuse->n; j++) {
			if (reuse->v[j].fd == -1 &&
			    reuse->v[j].svc == set.v[i].svc &&
			    strcmp(reuse->v[j].addr.text,
			    set.v[i].addr.text) == 0) {
				reuse->v[j].fd = set.v[i].fd;
				returned = true;
				break;
			}
		}
		if (!returned)
			close(set.v[i].fd);
	}
	free(set.v);
	return -1;
}

void
listeners_close(struct listener_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].fd != -1)
			close(set->v[i].fd);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
