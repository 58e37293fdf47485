/* imap-cmd-any: the commands valid in every state (CAPABILITY, NOOP,
 * LOGOUT, ID) and the small ones of the authenticated state that only
 * describe the server (ENABLE, NAMESPACE). */
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/str.h"

#define IMAP_ID_PAIRS_MAX	30	/* RFC 2971 3.3 */

void
imap_cmd_capability(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "CAPABILITY takes no arguments");
		return;
	}
	imap_untagged(s, "CAPABILITY %s", imap_capabilities(s));
	imap_done(s, "OK", "Capability completed");
}

/* The untagged updates come from imap_done(). */
void
imap_cmd_noop(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "NOOP takes no arguments");
		return;
	}
	imap_done(s, "OK", "NOOP completed");
}

void
imap_cmd_logout(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "LOGOUT takes no arguments");
		return;
	}
	imap_untagged(s, "BYE Logging out");
	imap_unselect(s);
	s->state = IMAP_LOGOUT;
	imap_done(s, "OK", "Logout completed");
}

/* ID (RFC 2971): NIL or a list of up to 30 field/value pairs. The client's
 * name and version go to the debug log. */
void
imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	const char *field, *value, *name = NULL, *version = NULL;
	size_t n, i, flen, vlen;
	char *text;

	if (cmd->count != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
	    !imap_arg_list(&cmd->args[0], &list, &n))) {
		imap_done(s, "BAD", "ID takes NIL or a list");
		return;
	}
	if (cmd->args[0].type != IMAP_ARG_NIL) {
		if (n % 2 != 0 || n / 2 > IMAP_ID_PAIRS_MAX) {
			imap_done(s, "BAD", "Invalid ID list");
			return;
		}
		for (i = 0; i < n; i += 2) {
			if (!imap_arg_string(&list[i], &field, &flen) ||
			    !imap_arg_nstring(&list[i + 1], &value, &vlen)) {
				imap_done(s, "BAD", "Invalid ID list");
				return;
			}
			if (value != NULL && strcasecmp(field, "name") == 0)
				name = value;
			if (value != NULL && strcasecmp(field, "version") == 0)
				version = value;
		}
		if (name != NULL) {
			text = pool_printf(cmd->pool, "%.64s %.32s", name,
			    version != NULL ? version : "");
			str_sanitize(text);
			log_debug(LOG_CAT_IMAP, "%016llx imap id client=%s",
			    (unsigned long long)s->id, text);
		}
	}
	imap_untagged(s, "ID (\"name\" \"postie\" \"version\" \"%s\")",
	    POSTIE_VERSION);
	imap_done(s, "OK", "ID completed");
}

/* ENABLE (RFC 5161): postie offers no extension that needs enabling, so
 * every name is ignored, as the RFC asks for unknown ones. */
void
imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *word;
	size_t i;

	if (cmd->count == 0) {
		imap_done(s, "BAD", "ENABLE needs capability names");
		return;
	}
	for (i = 0; i < cmd->count; i++)
		if (!imap_arg_atom(&cmd->args[i], &word)) {
			imap_done(s, "BAD", "Invalid capability name");
			return;
		}
	imap_untagged(s, "ENABLED");
	imap_done(s, "OK", "Enabled");
}

/* One personal namespace, no prefix, "." as separator (Maildir++). */
void
imap_cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "NAMESPACE takes no arguments");
		return;
	}
	imap_untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL");
	imap_done(s, "OK", "Namespace completed");
}
