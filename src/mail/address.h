/* address: the addresses of an address list (RFC 5322 section 3.4), as in
 * To:, Cc: and Bcc: or a sendmail argument:
 *
 *   a@b, Name <c@d>, "Last, First" <e@f> (comment), team: g@h, i@j;,
 *   undisclosed-recipients:;
 *
 * Each item yields its <angle-addr> if it has one, else its text outside
 * comments and white space (a quoted string kept with its quotes and
 * escapes). Display names, comments and group names are dropped, a source
 * route "<@a,@b:c@d>" keeps "c@d", and empty items yield nothing. The
 * addresses are not validated as addresses: that is the caller's job
 * (addr_normalize()).
 *
 * A pure function over (data, len): never reads past len, needs no NUL
 * terminator, refuses NUL anywhere. Bounded: at most max_addrs addresses,
 * and an address (or the text of an item outside its angle brackets) of
 * at most max_len octets. An unterminated quoted string, comment or angle
 * bracket, or a special character out of place, is an error. */
#ifndef POSTIE_ADDRESS_H
#define POSTIE_ADDRESS_H

#include <stddef.h>

#include "lib/str.h"

/*
 * Parse the list s[0..len) into *addrs_r, which the function initializes:
 * on success it holds the addresses in order (possibly none) and the
 * caller frees it with strv_free(); on failure it is empty and *error_r
 * says why ("unterminated quoted string", "too many addresses", ...).
 */
int	address_list_parse(const char *s, size_t len, size_t max_addrs,
	    size_t max_len, struct strv *addrs_r, const char **error_r)
	    __attribute__((warn_unused_result));

#endif
