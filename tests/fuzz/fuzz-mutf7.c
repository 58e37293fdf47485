/* fuzz-mutf7: modified UTF-7 both ways on arbitrary bytes.
 *   - As UTF-8: when the input is valid UTF-8 without control characters,
 *     encoding must succeed and decoding the result must give the input
 *     back, and the encoded form must be printable ASCII.
 *   - As modified UTF-7: when decoding succeeds, encoding the result must
 *     give exactly the input (only canonical names decode), and the
 *     decoded form must be valid UTF-8.
 *   - A small output limit must fail cleanly, never overrun. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/mutf7.h"
#include "lib/buf.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int	 has_control(const uint8_t *p, size_t len);

static int
has_control(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf enc, dec, small;
	const char *error;
	size_t i, max = 4 * size + 16;

	buf_init(&enc, max);
	buf_init(&dec, max);
	if (imap_utf8_valid(data, size) && !has_control(data, size)) {
		ASSERT(mutf7_encode(data, size, &enc, &error) == 0);
		for (i = 0; i < enc.len; i++)
			ASSERT(enc.data[i] >= 0x20 && enc.data[i] <= 0x7e);
		ASSERT(mutf7_decode(enc.data, enc.len, &dec, &error) == 0);
		ASSERT(dec.len == size && (size == 0 ||
		    memcmp(dec.data, data, size) == 0));
	} else if (mutf7_encode(data, size, &enc, &error) == 0)
		ASSERT(!"encoded invalid UTF-8 or a control character");
	buf_reset(&enc);
	buf_reset(&dec);

	if (mutf7_decode(data, size, &dec, &error) == 0) {
		ASSERT(imap_utf8_valid(dec.data, dec.len));
		ASSERT(!has_control(dec.data, dec.len));
		ASSERT(mutf7_encode(dec.data, dec.len, &enc, &error) == 0);
		ASSERT(enc.len == size && (size == 0 ||
		    memcmp(enc.data, data, size) == 0));
	}

	buf_init(&small, size / 2);
	(void)mutf7_decode(data, size, &small, &error);
	ASSERT(small.len <= size / 2);
	buf_reset(&small);
	(void)mutf7_encode(data, size, &small, &error);
	ASSERT(small.len <= size / 2);
	buf_deinit(&small);
	buf_deinit(&enc);
	buf_deinit(&dec);
	return 0;
}
