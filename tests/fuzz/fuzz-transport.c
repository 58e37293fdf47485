/* fuzz-transport: the transport map parser (queue/route.c) on arbitrary
 * bytes, as if they were transport_file. On success every entry must
 * look up to a route of a known kind, and lookups of names taken from the
 * input must not fail; on failure the error names a line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "queue/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"example.com", "a.example.com", "x", "*", ".", "",
	};
	struct pool *pool = pool_new(NULL);
	struct route_map *map;
	const struct route *r;
	const char *error = NULL;
	size_t i;

	if (route_map_parse((const char *)data, size, pool, &map,
	    &error) == -1) {
		ASSERT(error != NULL && (strncmp(error, "line ", 5) == 0 ||
		    strcmp(error, "too many lines") == 0));
	} else {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			r = route_map_lookup(map, names[i]);
			ASSERT(r == NULL || r->kind <= ROUTE_RETRY);
			if (r != NULL && (r->kind == ROUTE_SMTP ||
			    r->kind == ROUTE_LMTP))
				ASSERT(r->unix_path != NULL || r->host != NULL ||
				    r->mx);
		}
	}
	pool_free(&pool);
	return 0;
}
