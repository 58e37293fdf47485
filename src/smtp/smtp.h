/* smtp: the SMTP engine for ports 25 (MX), 587 (submission), 465
 * (submissions) and LMTP. Its public face is one accept function that the
 * worker's protocol table calls. */
#ifndef POSTIE_SMTP_H
#define POSTIE_SMTP_H

#include "worker/worker.h"

void	smtp_accept(struct worker *w, const struct listener *l, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);

#endif
