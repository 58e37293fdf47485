/* imap-envelope: the ENVELOPE of a message (RFC 3501 section 7.4.2; see
 * imap-body.h), for FETCH ENVELOPE and for each message/rfc822 part in
 * BODY and BODYSTRUCTURE.
 *
 * One pass over the header finds the first of each field; the address
 * lists go through header_address_parse(), at most
 * IMAP_ENVELOPE_MAX_ADDRS entries each. Values are shown unfolded and
 * otherwise raw: RFC 3501 leaves RFC 2047 decoding to the client. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "imap/imap-body.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/header.h"

enum env_field {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

static int	append_value(struct buf *b, struct pool *pool,
		    const struct header_field *f);
static int	append_addresses(struct buf *b,
		    const struct header_address *list);

/* An unfolded value, NIL when the field is absent. */
static int
append_value(struct buf *b, struct pool *pool, const struct header_field *f)
{
	const char *v;
	size_t n;

	if (f == NULL)
		return buf_append(b, "NIL", 3);
	v = header_unfold(pool, f->value, f->value_len, &n);
	return imap_append_nstring(b, v, n);
}

/* "(" 1*address ")" or NIL for an empty list. */
static int
append_addresses(struct buf *b, const struct header_address *list)
{
	const struct header_address *a;

	if (list == NULL)
		return buf_append(b, "NIL", 3);
	if (buf_append(b, "(", 1) == -1)
		return -1;
	for (a = list; a != NULL; a = a->next) {
		switch (a->kind) {
		case HEADER_ADDR_GROUP_START:
			/* (NIL NIL "group name" NIL) */
			if (buf_append_str(b, "(NIL NIL ") == -1 ||
			    imap_append_cstring(b, a->name != NULL ? a->name :
			    "") == -1 || buf_append_str(b, " NIL)") == -1)
				return -1;
			break;
		case HEADER_ADDR_GROUP_END:
			if (buf_append_str(b, "(NIL NIL NIL NIL)") == -1)
				return -1;
			break;
		case HEADER_ADDR_MAILBOX:
			if (buf_append(b, "(", 1) == -1 ||
			    imap_append_cstring(b, a->name) == -1 ||
			    buf_append(b, " ", 1) == -1 ||
			    imap_append_cstring(b, a->route) == -1 ||
			    buf_append(b, " ", 1) == -1 ||
			    imap_append_cstring(b, a->mailbox != NULL ?
			    a->mailbox : "MISSING_MAILBOX") == -1 ||
			    buf_append(b, " ", 1) == -1 ||
			    imap_append_cstring(b, a->domain != NULL ?
			    a->domain : "MISSING_DOMAIN") == -1 ||
			    buf_append(b, ")", 1) == -1)
				return -1;
			break;
		}
	}
	return buf_append(b, ")", 1);
}

int
imap_envelope_append(struct buf *b, struct pool *pool, const char *hdr,
    size_t len)
{
	struct header_field fields[ENV_COUNT], f;
	const struct header_field *have[ENV_COUNT];
	const struct header_address *addrs[ENV_COUNT];
	struct header_iter it;
	size_t i;

	memset(have, 0, sizeof(have));
	memset(addrs, 0, sizeof(addrs));
	header_iter_init(&it, hdr, len);
	while (header_iter_next(&it, &f)) {
		for (i = 0; i < ENV_COUNT; i++)
			if (have[i] == NULL && header_field_is(&f,
			    env_names[i])) {
				fields[i] = f;
				have[i] = &fields[i];
				break;
			}
	}
	for (i = ENV_FROM; i <= ENV_BCC; i++)
		if (have[i] != NULL)
			addrs[i] = header_address_parse(pool, have[i]->value,
			    have[i]->value_len, IMAP_ENVELOPE_MAX_ADDRS);
	/* RFC 3501: absent or empty Sender and Reply-To are From. */
	if (addrs[ENV_SENDER] == NULL)
		addrs[ENV_SENDER] = addrs[ENV_FROM];
	if (addrs[ENV_REPLY_TO] == NULL)
		addrs[ENV_REPLY_TO] = addrs[ENV_FROM];

	if (buf_append(b, "(", 1) == -1 ||
	    append_value(b, pool, have[ENV_DATE]) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    append_value(b, pool, have[ENV_SUBJECT]) == -1)
		return -1;
	for (i = ENV_FROM; i <= ENV_BCC; i++)
		if (buf_append(b, " ", 1) == -1 ||
		    append_addresses(b, addrs[i]) == -1)
			return -1;
	if (buf_append(b, " ", 1) == -1 ||
	    append_value(b, pool, have[ENV_IN_REPLY_TO]) == -1 ||
	    buf_append(b, " ", 1) == -1 ||
	    append_value(b, pool, have[ENV_MESSAGE_ID]) == -1)
		return -1;
	return buf_append(b, ")", 1);
}
