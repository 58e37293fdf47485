/* pop3: the POP3 server (RFC 1939 with CAPA, RESP-CODES, AUTH-RESP-CODE,
 * PIPELINING, TOP, UIDL, USER, SASL PLAIN (RFC 2449, 5034) and STLS
 * (RFC 2595)) for the pop3 (STLS) and pop3s (implicit TLS) listeners. Its
 * public face is one accept function that the worker's protocol table
 * calls. */
#ifndef POSTIE_POP3_H
#define POSTIE_POP3_H

#include "worker/worker.h"

void	pop3_accept(struct worker *w, const struct listener *l, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);

#endif
