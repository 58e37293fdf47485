/* imap-cmd-store: STORE and UID STORE (RFC 3501 6.4.6, 6.4.8).
 *
 *	STORE set (FLAGS|+FLAGS|-FLAGS)[.SILENT] (flag ...) | flag ...
 *
 * Keywords are looked up in the mailbox by name (case-insensitive) and
 * created for FLAGS and +FLAGS; when all STORE_KEYWORDS_MAX letters are
 * taken the command fails with NO [LIMIT] before anything changes. -FLAGS
 * of a keyword the mailbox does not know removes nothing. One store call
 * changes every message of the set.
 *
 * Responses: new keywords first change the mailbox's flags, sent as
 * FLAGS and PERMANENTFLAGS (RFC 3501 7.2.6); then, without .SILENT, "* n FETCH (FLAGS (...))" for every message
 * of the set that still exists, changed or not (RFC 3501 6.4.6 returns
 * "the updated value"), with UID for UID STORE (6.4.8). Changes made by
 * other sessions come from imap_done() as usual; the store does not
 * report this session's own changes back to it. A read-only mailbox
 * (EXAMINE) answers NO [CANNOT]. Messages expunged meanwhile are skipped:
 * STORE ends NO [EXPUNGEISSUE] (RFC 5530), UID STORE ends OK, since the
 * EXPUNGE responses come with its reply. */
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "imap/flags.h"
#include "imap/imap-private.h"
#include "lib/pool.h"

static int	parse_op(const char *word, enum store_flag_op *op_r,
		    bool *silent_r);
static int	keyword_bits(struct imap_session *s,
		    const struct imap_flags *fl, bool create,
		    uint32_t *bits_r, enum store_result *res_r,
		    const char **error_r);
static void	report(struct imap_session *s, const struct imap_cmd *cmd,
		    const struct store_range *ranges, size_t n);
static void	new_flags(struct imap_session *s);

/* FLAGS, +FLAGS, -FLAGS, each with an optional .SILENT. */
static int
parse_op(const char *word, enum store_flag_op *op_r, bool *silent_r)
{
	size_t len = strlen(word);

	*op_r = STORE_FLAGS_SET;
	if (word[0] == '+' || word[0] == '-') {
		*op_r = word[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		word++;
		len--;
	}
	*silent_r = false;
	if (len == 12 && strcasecmp(word, "FLAGS.SILENT") == 0)
		*silent_r = true;
	else if (len != 5 || strcasecmp(word, "FLAGS") != 0)
		return -1;
	return 0;
}

/* The bits of the keywords in fl; unknown ones are created with create,
 * else left out. */
static int
keyword_bits(struct imap_session *s, const struct imap_flags *fl,
    bool create, uint32_t *bits_r, enum store_result *res_r,
    const char **error_r)
{
	enum store_result r;
	unsigned idx;
	size_t i;

	*bits_r = 0;
	for (i = 0; i < fl->nkeywords; i++) {
		r = store_view_keyword(s->view, fl->keywords[i], create, &idx,
		    error_r);
		if (r == STORE_NONEXISTENT && !create)
			continue;
		if (r != STORE_OK) {
			*res_r = r;
			return -1;
		}
		if (idx < STORE_KEYWORDS_MAX)
			*bits_r |= (uint32_t)1 << idx;
	}
	return 0;
}

/* New keywords change the mailbox's flags: FLAGS and PERMANENTFLAGS
 * again (RFC 3501 7.2.6), as SELECT gave them. */
static void
new_flags(struct imap_session *s)
{
	struct evbuffer *out = imap_output(s);
	struct store_view_info info;
	const char *const *kw;
	size_t n, i;
	int pass;

	store_view_info(s->view, &info);
	kw = store_view_keywords(s->view, &n);
	for (pass = 0; pass < 2; pass++) {
		evbuffer_add_printf(out, "%s(\\Answered \\Flagged \\Deleted "
		    "\\Seen \\Draft", pass == 0 ? "* FLAGS " :
		    "* OK [PERMANENTFLAGS ");
		for (i = 0; i < n; i++)
			if (kw[i] != NULL)
				evbuffer_add_printf(out, " %s", kw[i]);
		if (pass == 1 && !info.keywords_full)
			evbuffer_add(out, " \\*", 3);
		evbuffer_add_printf(out, "%s\r\n", pass == 0 ? ")" :
		    ")] Flags permitted");
	}
}

static void
report(struct imap_session *s, const struct imap_cmd *cmd,
    const struct store_range *ranges, size_t n)
{
	struct evbuffer *out = imap_output(s);
	struct store_msg_info info;
	uint32_t seq;
	size_t i;

	for (i = 0; i < n; i++)
		for (seq = ranges[i].first; seq <= ranges[i].last; seq++) {
			if (store_view_msg(s->view, seq, &info) == 0 &&
			    !info.expunged) {
				if (cmd->uid)
					evbuffer_add_printf(out, "* %u FETCH "
					    "(UID %u FLAGS ", seq, info.uid);
				else
					evbuffer_add_printf(out, "* %u FETCH "
					    "(FLAGS ", seq);
				imap_reply_flags(out, info.flags,
				    info.keywords, s->view);
				evbuffer_add(out, ")\r\n", 3);
			}
			if (seq == UINT32_MAX)
				break;
		}
}

void
imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct store_range *ranges;
	struct imap_flags fl;
	enum store_flag_op op;
	enum store_result r;
	const char *set, *word, *error;
	uint32_t kw;
	size_t n, nkw_before, nkw;
	bool silent;

	if (cmd->count < 3 || !imap_arg_atom(&cmd->args[0], &set) ||
	    !imap_arg_atom(&cmd->args[1], &word)) {
		imap_done(s, "BAD", "%sSTORE takes a sequence set, FLAGS, "
		    "+FLAGS or -FLAGS, and flags", cmd->uid ? "UID " : "");
		return;
	}
	if (parse_op(word, &op, &silent) == -1) {
		imap_done(s, "BAD", "Unknown STORE item (FLAGS, +FLAGS, "
		    "-FLAGS, with .SILENT)");
		return;
	}
	memset(&fl, 0, sizeof(fl));
	if (imap_flags_parse_args(&cmd->args[2], cmd->count - 2, cmd->pool,
	    &fl, &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if (imap_seq_resolve(s, set, cmd->uid, cmd->pool, &ranges, &n,
	    &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if (s->readonly) {
		imap_done(s, "NO", "[CANNOT] The mailbox is read-only");
		return;
	}
	if (n == 0) {
		imap_done(s, "OK", "Store completed");
		return;
	}
	(void)store_view_keywords(s->view, &nkw_before);
	if (keyword_bits(s, &fl, op != STORE_FLAGS_REMOVE, &kw, &r,
	    &error) == -1) {
		if (r == STORE_LIMIT)
			imap_done(s, "NO", "[LIMIT] No more keywords fit in "
			    "this mailbox");
		else
			imap_done_store(s, r, error, false);
		return;
	}
	(void)store_view_keywords(s->view, &nkw);
	if (nkw != nkw_before)
		new_flags(s);
	r = store_view_update_flags(s->view, ranges, n, op,
	    imap_flags_to_store(fl.system) & STORE_F_ALL, kw, &error);
	if (r != STORE_OK && r != STORE_EXPUNGED) {
		imap_done_store(s, r, error, false);
		return;
	}
	if (!silent)
		report(s, cmd, ranges, n);
	if (r == STORE_EXPUNGED && !cmd->uid)
		imap_done(s, "NO", "[EXPUNGEISSUE] Some messages were "
		    "expunged meanwhile");
	else
		imap_done(s, "OK", "Store completed");
}
