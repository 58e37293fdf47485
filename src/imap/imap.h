/* imap: the IMAP4rev1 server (RFC 3501 with IDLE, UIDPLUS, MOVE,
 * NAMESPACE, SPECIAL-USE, LITERAL+, ID, UNSELECT, ENABLE, CHILDREN,
 * LIST-EXTENDED, LIST-STATUS) for the imap (STARTTLS) and imaps (implicit
 * TLS) listeners. Its public face is one accept function that the
 * worker's protocol table calls. */
#ifndef POSTIE_IMAP_H
#define POSTIE_IMAP_H

#include "worker/worker.h"

void	imap_accept(struct worker *w, const struct listener *l, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);

#endif
