/* client-data: the DATA encoder of the outbound SMTP client (see
 * client-proto.h). client.c feeds it the message in chunks read from the
 * queue file; it holds two bits of state between chunks, so the output
 * does not depend on where the chunks split. */
#include "smtp/client-proto.h"

void
smtp_stuff_init(struct smtp_stuff *st)
{
	st->bol = true;
	st->cr = false;
}

size_t
smtp_stuff(struct smtp_stuff *st, const uint8_t *in, size_t len,
    uint8_t *out)
{
	size_t i, o = 0;
	uint8_t b;

	/* UNSAFE: each input octet writes at most 2 octets, and a CR held
	 * from the previous chunk 2 more: SMTP_STUFF_OUT_MAX(len). */
	for (i = 0; i < len; i++) {
		b = in[i];
		if (st->cr) {
			st->cr = false;
			out[o++] = '\r';
			out[o++] = '\n';
			st->bol = true;
			if (b == '\n')
				continue;
		}
		if (b == '\r') {
			st->cr = true;
			continue;
		}
		if (b == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			st->bol = true;
			continue;
		}
		if (st->bol && b == '.')
			out[o++] = '.';
		out[o++] = b;
		st->bol = false;
	}
	return o;
}

size_t
smtp_stuff_end(struct smtp_stuff *st, uint8_t *out)
{
	size_t o = 0;

	if (st->cr || !st->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o++] = '.';
	out[o++] = '\r';
	out[o++] = '\n';
	st->cr = false;
	st->bol = true;
	return o;
}
