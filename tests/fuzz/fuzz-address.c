/* fuzz-address: the address list parser on arbitrary bytes. The first
 * byte picks the limits (its low nibble the number of addresses, 0 for
 * the sendmail default of 1000; its high nibble the length, 0 for 1024);
 * the rest is the list. The result must respect both limits and hold no
 * empty address; parsing again with garbage after the input must give
 * the same result; and the addresses found, each put back in angle
 * brackets and joined with ", ", must parse to the same addresses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mail/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	 same(const struct strv *a, const struct strv *b);

static void
same(const struct strv *a, const struct strv *b)
{
	size_t i;

	ASSERT(a->n == b->n);
	for (i = 0; i < a->n; i++)
		ASSERT(strcmp(a->v[i], b->v[i]) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char garbage[] = ", x@y.z (\"<";
	struct strv got, again;
	const char *error, *error2, *s;
	size_t max_addrs, max_len, len, i;
	struct buf list;
	char *more;
	int rc;

	if (size == 0)
		return 0;
	max_addrs = (data[0] & 0x0f) != 0 ? (size_t)(data[0] & 0x0f) : 1000;
	max_len = (data[0] >> 4) != 0 ? (size_t)(data[0] >> 4) * 3 : 1024;
	s = (const char *)data + 1;
	len = size - 1;

	rc = address_list_parse(s, len, max_addrs, max_len, &got, &error);
	if (rc == -1)
		ASSERT(error != NULL && got.n == 0 && got.v == NULL);
	else {
		ASSERT(got.n <= max_addrs);
		for (i = 0; i < got.n; i++)
			ASSERT(got.v[i][0] != '\0' &&
			    strlen(got.v[i]) <= max_len);
	}

	/* Bytes past len change nothing. */
	more = xmalloc(len + sizeof(garbage));
	memcpy(more, s, len);
	memcpy(more + len, garbage, sizeof(garbage));
	ASSERT(address_list_parse(more, len, max_addrs, max_len, &again,
	    &error2) == rc);
	if (rc == 0)
		same(&got, &again);
	else
		ASSERT(strcmp(error, error2) == 0);
	strv_free(&again);
	free(more);

	/* What was found reads back as itself. */
	if (rc == 0) {
		buf_init(&list, got.n * (max_len + 4) + 1);
		for (i = 0; i < got.n; i++)
			ASSERT(buf_printf(&list, "%s<%s>", i > 0 ? ", " : "",
			    got.v[i]) == 0);
		ASSERT(address_list_parse((const char *)list.data, list.len,
		    max_addrs, max_len, &again, &error2) == 0);
		same(&got, &again);
		strv_free(&again);
		buf_deinit(&list);
	}
	strv_free(&got);
	return 0;
}
