/* mx: which hosts to try for a remote domain (RFC 5321 section 5.1 and
 * RFC 7505), as pure logic over the MX records the DNS returned, so that
 * it is testable without DNS. The queue manager calls mx_route() with the
 * answer of dns_query_mx() (lib/dns.h) and the local host's own names.
 *
 * Rules, in order:
 *  - any record whose host is "." (or empty) makes the domain a null MX
 *    (RFC 7505): MX_NULL, the caller bounces with 5.1.10;
 *  - no records at all (NODATA) is the implicit MX: the domain itself,
 *    preference 0;
 *  - a host listed more than once is kept once, at its best preference;
 *  - if one of the local names is listed, that record and every record
 *    with an equal or higher preference are dropped, so that a backup MX
 *    only ever relays to more preferred hosts; nothing left is MX_LOOP (the
 *    caller bounces with 5.4.6, "mail for X loops back to myself", unless
 *    the domain is local);
 *  - the rest is sorted by preference ascending, equal preferences in
 *    random order.
 * Host names compare case-insensitively with one trailing dot ignored.
 * At most MX_MAX_HOSTS hosts come out (the most preferred). */
#ifndef POSTIE_MX_H
#define POSTIE_MX_H

#include <stddef.h>
#include <stdint.h>

struct pool;

#define MX_MAX_HOSTS	100

/* One MX record as the DNS gave it. */
struct mx_record {
	uint16_t	 preference;
	const char	*host;		/* borrowed; "." for a null MX */
};

enum mx_result {
	MX_OK,		/* at least one host to try */
	MX_NULL,	/* the domain accepts no mail (RFC 7505): 5.1.10 */
	MX_LOOP,	/* the local host is the most preferred: 5.4.6 */
};

/* A uniformly distributed number in [0, bound), bound > 0. */
typedef uint32_t (*mx_random_fn)(void *ctx, uint32_t bound);

/*
 * Order the hosts of domain. mx holds the n records of its MX answer (n == 0
 * for NODATA); self holds the nself names of the local host (its hostname
 * and aliases). On MX_OK, *hosts_r is an array of *nhosts_r records, in the
 * order to try, allocated from pool with lower-cased host names copied
 * there without a trailing dot: it does not borrow from mx or domain.
 * rnd orders equal preferences (mx_random for production).
 */
enum mx_result	mx_route(struct pool *pool, const char *domain,
		    const struct mx_record *mx, size_t n,
		    const char *const *self, size_t nself,
		    mx_random_fn rnd, void *rnd_ctx,
		    struct mx_record **hosts_r, size_t *nhosts_r);

/* The production random source (arc4random_uniform); ctx is unused. */
uint32_t	mx_random(void *ctx, uint32_t bound);

/* "ok", "null MX", "loop". */
const char	*mx_result_str(enum mx_result r);

#endif
