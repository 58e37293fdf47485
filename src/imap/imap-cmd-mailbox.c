/* imap-cmd-mailbox: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and
 * STATUS (RFC 3501 6.3), and the STATUS item list that LIST-STATUS shares.
 * Names arrive in modified UTF-7 and are checked by imap_mailbox_arg()
 * and again by the store, which keeps every name inside the user's
 * Maildir; failures carry RFC 5530 response codes. Deleting or renaming
 * the selected mailbox unselects it first, so the session does not lose
 * its connection over its own change (other sessions get BYE). */
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "imap/imap-private.h"
#include "lib/pool.h"

static const struct {
	const char	*name;
	unsigned	 item;
} status_items[] = {
	{ "MESSAGES",		STORE_ST_MESSAGES },
	{ "RECENT",		STORE_ST_RECENT },
	{ "UIDNEXT",		STORE_ST_UIDNEXT },
	{ "UIDVALIDITY",	STORE_ST_UIDVALIDITY },
	{ "UNSEEN",		STORE_ST_UNSEEN },
	{ "SIZE",		STORE_ST_SIZE },
};
#define NSTATUS	(sizeof(status_items) / sizeof(status_items[0]))

static int	name_arg(struct imap_session *s, const struct imap_cmd *cmd,
		    const struct imap_arg *a, char *canon, bool create);
static bool	selected_under(struct imap_session *s, const char *name,
		    bool children);
static bool	selected_is(struct imap_session *s, const char *name);
static void	subscribe(struct imap_session *s, const struct imap_cmd *cmd,
		    bool on);

/* A mailbox argument; answers the command itself when it is not one. For
 * CREATE a trailing separator only declares the intent to create children
 * (RFC 3501 6.3.3) and is dropped. */
static int
name_arg(struct imap_session *s, const struct imap_cmd *cmd,
    const struct imap_arg *a, char *canon, bool create)
{
	struct imap_arg copy;
	const char *name, *error;
	size_t len;
	int r;

	if (create && imap_arg_astring(a, &name, &len) && len > 1 &&
	    name[len - 1] == '.') {
		memset(&copy, 0, sizeof(copy));
		copy.type = IMAP_ARG_QUOTED;
		copy.str = pool_strndup(cmd->pool, name, len - 1);
		copy.len = len - 1;
		a = &copy;
	}
	if ((r = imap_mailbox_arg(a, canon, STORE_NAME_MAX + 1, &error)) == 0)
		return 0;
	if (r == -1)
		imap_done(s, "BAD", "%s", error);
	else
		imap_done(s, "NO", "%s %s", create ? "[CANNOT]" :
		    "[NONEXISTENT]", error);
	return -1;
}

/* The selected mailbox is name (or, with children, one of its
 * children). */
static bool
selected_under(struct imap_session *s, const char *name, bool children)
{
	struct store_view_info info;
	size_t len = strlen(name);

	if (s->view == NULL)
		return false;
	store_view_info(s->view, &info);
	return strcmp(info.name, name) == 0 || (children &&
	    strncmp(info.name, name, len) == 0 && info.name[len] == '.');
}

static bool
selected_is(struct imap_session *s, const char *name)
{
	return selected_under(s, name, false);
}

void
imap_cmd_create(struct imap_session *s, const struct imap_cmd *cmd)
{
	char canon[STORE_NAME_MAX + 1];
	enum store_result r;
	const char *error;

	if (cmd->count != 1) {
		imap_done(s, "BAD", "CREATE takes one mailbox name");
		return;
	}
	if (name_arg(s, cmd, &cmd->args[0], canon, true) == -1)
		return;
	if ((r = store_create(s->store, canon, &error)) != STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	imap_done(s, "OK", "Create completed");
}

void
imap_cmd_delete(struct imap_session *s, const struct imap_cmd *cmd)
{
	char canon[STORE_NAME_MAX + 1];
	enum store_result r;
	const char *error;
	bool selected;

	if (cmd->count != 1) {
		imap_done(s, "BAD", "DELETE takes one mailbox name");
		return;
	}
	if (name_arg(s, cmd, &cmd->args[0], canon, false) == -1)
		return;
	selected = selected_is(s, canon);
	if ((r = store_delete(s->store, canon, &error)) != STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	if (selected)
		imap_unselect(s);
	imap_done(s, "OK", "Delete completed");
}

void
imap_cmd_rename(struct imap_session *s, const struct imap_cmd *cmd)
{
	char from[STORE_NAME_MAX + 1], to[STORE_NAME_MAX + 1];
	enum store_result r;
	const char *error;
	bool selected;

	if (cmd->count != 2) {
		imap_done(s, "BAD", "RENAME takes two mailbox names");
		return;
	}
	if (name_arg(s, cmd, &cmd->args[0], from, false) == -1 ||
	    name_arg(s, cmd, &cmd->args[1], to, true) == -1)
		return;
	/* INBOX stays what it is when renamed (its messages move). */
	selected = strcmp(from, "INBOX") != 0 &&
	    selected_under(s, from, true);
	if ((r = store_rename(s->store, from, to, &error)) != STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	if (selected)
		imap_unselect(s);
	imap_done(s, "OK", "Rename completed");
}

static void
subscribe(struct imap_session *s, const struct imap_cmd *cmd, bool on)
{
	char canon[STORE_NAME_MAX + 1];
	enum store_result r;
	const char *error;

	if (cmd->count != 1) {
		imap_done(s, "BAD", "%s takes one mailbox name", cmd->name);
		return;
	}
	if (name_arg(s, cmd, &cmd->args[0], canon, true) == -1)
		return;
	if ((r = store_subscribe(s->store, canon, on, &error)) != STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	imap_done(s, "OK", "%s completed", on ? "Subscribe" : "Unsubscribe");
}

void
imap_cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd)
{
	subscribe(s, cmd, true);
}

void
imap_cmd_unsubscribe(struct imap_session *s, const struct imap_cmd *cmd)
{
	subscribe(s, cmd, false);
}

int
imap_status_items(const struct imap_arg *list, size_t count,
    unsigned *items_r, const char **error_r)
{
	const char *word;
	size_t i, j;

	*items_r = 0;
	if (count == 0) {
		*error_r = "Empty STATUS item list";
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (!imap_arg_atom(&list[i], &word)) {
			*error_r = "Invalid STATUS item";
			return -1;
		}
		for (j = 0; j < NSTATUS; j++)
			if (strcasecmp(word, status_items[j].name) == 0)
				break;
		if (j == NSTATUS) {
			*error_r = "Unknown STATUS item";
			return -1;
		}
		*items_r |= status_items[j].item;
	}
	return 0;
}

void
imap_status_reply(struct imap_session *s, const char *name, unsigned items,
    const struct store_status *st)
{
	struct evbuffer *out = imap_output(s);
	const char *sep = "";

	evbuffer_add(out, "* STATUS ", 9);
	imap_reply_astring(out, name);
	evbuffer_add(out, " (", 2);
	if (items & STORE_ST_MESSAGES) {
		evbuffer_add_printf(out, "%sMESSAGES %u", sep, st->messages);
		sep = " ";
	}
	if (items & STORE_ST_RECENT) {
		evbuffer_add_printf(out, "%sRECENT %u", sep, st->recent);
		sep = " ";
	}
	if (items & STORE_ST_UIDNEXT) {
		evbuffer_add_printf(out, "%sUIDNEXT %u", sep, st->uidnext);
		sep = " ";
	}
	if (items & STORE_ST_UIDVALIDITY) {
		evbuffer_add_printf(out, "%sUIDVALIDITY %u", sep,
		    st->uidvalidity);
		sep = " ";
	}
	if (items & STORE_ST_UNSEEN) {
		evbuffer_add_printf(out, "%sUNSEEN %u", sep, st->unseen);
		sep = " ";
	}
	if (items & STORE_ST_SIZE)
		evbuffer_add_printf(out, "%sSIZE %llu", sep,
		    (unsigned long long)st->size);
	evbuffer_add(out, ")\r\n", 3);
}

void
imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	char canon[STORE_NAME_MAX + 1];
	const struct imap_arg *list;
	struct store_status st;
	enum store_result r;
	const char *error;
	unsigned items;
	size_t n;

	if (cmd->count != 2 || !imap_arg_list(&cmd->args[1], &list, &n)) {
		imap_done(s, "BAD", "STATUS takes a mailbox name and a list "
		    "of items");
		return;
	}
	if (name_arg(s, cmd, &cmd->args[0], canon, false) == -1)
		return;
	if (imap_status_items(list, n, &items, &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	memset(&st, 0, sizeof(st));
	if ((r = store_status(s->store, canon, items, &st, &error)) !=
	    STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	imap_status_reply(s, canon, items, &st);
	imap_done(s, "OK", "Status completed");
}
