/* imap-cmd-list: LIST and LSUB (RFC 3501 6.3.8, 6.3.9) with the
 * extensions postie offers: LIST-EXTENDED (RFC 5258: selection options
 * SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE; return options
 * SUBSCRIBED, CHILDREN, SPECIAL-USE; several patterns), LIST-STATUS (RFC
 * 5819), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348).
 *
 * The store lists the user's folders with their attributes
 * (store_list()); this file matches them against the patterns
 * (store_name_match(), '.' as separator) and writes the responses. The
 * special-use and children attributes are always given, as Dovecot does;
 * \Subscribed only when asked for. Limits: at most LIST_PATTERNS_MAX
 * patterns; a pattern longer than 1024 octets matches nothing. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "imap/imap-private.h"
#include "lib/pool.h"

#define LIST_PATTERNS_MAX	100

#define SEL_SUBSCRIBED	0x1
#define SEL_RECURSIVE	0x2
#define SEL_SPECIAL	0x4

#define RET_SUBSCRIBED	0x1
#define RET_STATUS	0x2

#define ATTR_NONEXISTENT 0x10000	/* beside the STORE_LA_* bits */

/* A string constant without its NUL. */
#define ADD_CONST(out, s)	evbuffer_add((out), (s), sizeof(s) - 1)

struct list_req {
	unsigned	 sel;
	unsigned	 ret;
	unsigned	 status_items;
	const char	**patterns;	/* reference + pattern, cmd pool */
	size_t		 npatterns;
};

static const struct {
	unsigned	 attr;
	const char	*name;
} attr_names[] = {
	{ ATTR_NONEXISTENT,	"\\NonExistent" },
	{ STORE_LA_NOSELECT,	"\\Noselect" },
	{ STORE_LA_HASCHILDREN,	"\\HasChildren" },
	{ STORE_LA_HASNOCHILDREN, "\\HasNoChildren" },
	{ STORE_LA_SUBSCRIBED,	"\\Subscribed" },
	{ STORE_LA_SENT,	"\\Sent" },
	{ STORE_LA_DRAFTS,	"\\Drafts" },
	{ STORE_LA_JUNK,	"\\Junk" },
	{ STORE_LA_TRASH,	"\\Trash" },
	{ STORE_LA_ARCHIVE,	"\\Archive" },
};
#define NATTRS	(sizeof(attr_names) / sizeof(attr_names[0]))

static int	parse_selection(const struct imap_arg *a, struct list_req *req,
		    const char **error_r);
static int	parse_return(const struct imap_arg *a, struct list_req *req,
		    const char **error_r);
static int	parse_patterns(struct pool *pool, const char *ref,
		    const struct imap_arg *a, struct list_req *req,
		    const char **error_r);
static bool	matches(const struct list_req *req, const char *name);
static int	folder_cmp(const void *a, const void *b);
static const struct store_folder *find_folder(const struct store_folder *v,
		    size_t n, const char *name);
static bool	has_subscribed_child(const struct store_folder *v, size_t n,
		    const char *name, const struct list_req *req,
		    bool unmatched_only);
static void	emit(struct imap_session *s, const char *cmdname,
		    const char *name, unsigned attrs, bool childinfo);
static void	emit_status(struct imap_session *s, const struct list_req *req,
		    const char *name, unsigned attrs);
static void	list_root(struct imap_session *s, const char *ref);

static int
parse_selection(const struct imap_arg *a, struct list_req *req,
    const char **error_r)
{
	const struct imap_arg *v;
	const char *word;
	size_t n, i;

	(void)imap_arg_list(a, &v, &n);
	for (i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &word)) {
			*error_r = "Invalid LIST selection option";
			return -1;
		}
		if (strcasecmp(word, "SUBSCRIBED") == 0)
			req->sel |= SEL_SUBSCRIBED;
		else if (strcasecmp(word, "RECURSIVEMATCH") == 0)
			req->sel |= SEL_RECURSIVE;
		else if (strcasecmp(word, "SPECIAL-USE") == 0)
			req->sel |= SEL_SPECIAL;
		else if (strcasecmp(word, "REMOTE") != 0) {
			*error_r = "Unknown LIST selection option";
			return -1;
		}
	}
	/* RFC 5258 3.1: RECURSIVEMATCH needs another selection option. */
	if ((req->sel & SEL_RECURSIVE) &&
	    !(req->sel & (SEL_SUBSCRIBED | SEL_SPECIAL))) {
		*error_r = "RECURSIVEMATCH needs another selection option";
		return -1;
	}
	if (req->sel & SEL_SUBSCRIBED)
		req->ret |= RET_SUBSCRIBED;
	return 0;
}

static int
parse_return(const struct imap_arg *a, struct list_req *req,
    const char **error_r)
{
	const struct imap_arg *v, *items;
	const char *word;
	size_t n, i, nitems;

	if (!imap_arg_list(a, &v, &n)) {
		*error_r = "RETURN needs a list";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!imap_arg_atom(&v[i], &word)) {
			*error_r = "Invalid LIST return option";
			return -1;
		}
		if (strcasecmp(word, "SUBSCRIBED") == 0)
			req->ret |= RET_SUBSCRIBED;
		else if (strcasecmp(word, "STATUS") == 0) {
			if (i + 1 >= n || !imap_arg_list(&v[i + 1], &items,
			    &nitems) || imap_status_items(items, nitems,
			    &req->status_items, error_r) == -1) {
				if (i + 1 >= n)
					*error_r = "STATUS needs a list";
				return -1;
			}
			req->ret |= RET_STATUS;
			i++;
		} else if (strcasecmp(word, "CHILDREN") != 0 &&
		    strcasecmp(word, "SPECIAL-USE") != 0) {
			*error_r = "Unknown LIST return option";
			return -1;
		}
	}
	return 0;
}

static int
parse_patterns(struct pool *pool, const char *ref, const struct imap_arg *a,
    struct list_req *req, const char **error_r)
{
	const struct imap_arg *v;
	const char *pat;
	size_t n, i, len;

	if (a->type == IMAP_ARG_LIST) {
		(void)imap_arg_list(a, &v, &n);
		if (n == 0 || n > LIST_PATTERNS_MAX) {
			*error_r = "Invalid list of patterns";
			return -1;
		}
	} else {
		v = a;
		n = 1;
	}
	req->patterns = pool_alloc(pool, n * sizeof(*req->patterns));
	for (i = 0; i < n; i++) {
		if (!imap_arg_list_mailbox(&v[i], &pat, &len) ||
		    memchr(pat, '\0', len) != NULL) {
			*error_r = "Invalid mailbox pattern";
			return -1;
		}
		req->patterns[i] = pool_printf(pool, "%s%s", ref, pat);
	}
	req->npatterns = n;
	return 0;
}

static bool
matches(const struct list_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->npatterns; i++)
		if (store_name_match(req->patterns[i], name))
			return true;
	return false;
}

/* The store's order: INBOX first, then bytewise. */
static int
folder_cmp(const void *a, const void *b)
{
	const char *x = ((const struct store_folder *)a)->name;
	const char *y = ((const struct store_folder *)b)->name;
	bool xi = strcmp(x, "INBOX") == 0, yi = strcmp(y, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x, y);
}

static const struct store_folder *
find_folder(const struct store_folder *v, size_t n, const char *name)
{
	struct store_folder key = { name, 0 };

	return n == 0 ? NULL : bsearch(&key, v, n, sizeof(*v), folder_cmp);
}

/* A subscribed name below name (with unmatched_only, one that the
 * patterns do not match themselves). */
static bool
has_subscribed_child(const struct store_folder *v, size_t n,
    const char *name, const struct list_req *req, bool unmatched_only)
{
	size_t len = strlen(name), i;

	for (i = 0; i < n; i++)
		if ((v[i].attrs & STORE_LA_SUBSCRIBED) &&
		    strncmp(v[i].name, name, len) == 0 &&
		    v[i].name[len] == '.' &&
		    (!unmatched_only || !matches(req, v[i].name)))
			return true;
	return false;
}

static void
emit(struct imap_session *s, const char *cmdname, const char *name,
    unsigned attrs, bool childinfo)
{
	struct evbuffer *out = imap_output(s);
	const char *sep = "";
	size_t i;

	/* \NonExistent implies \Noselect (RFC 5258 3). */
	if (attrs & ATTR_NONEXISTENT)
		attrs &= ~(unsigned)STORE_LA_NOSELECT;
	evbuffer_add_printf(out, "* %s (", cmdname);
	for (i = 0; i < NATTRS; i++)
		if (attrs & attr_names[i].attr) {
			evbuffer_add_printf(out, "%s%s", sep,
			    attr_names[i].name);
			sep = " ";
		}
	ADD_CONST(out, ") \".\" ");
	imap_reply_astring(out, name);
	if (childinfo)
		ADD_CONST(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	evbuffer_add(out, "\r\n", 2);
}

/* LIST-STATUS: a STATUS response after a selectable mailbox; one that
 * cannot be read is left out (RFC 5819 2). */
static void
emit_status(struct imap_session *s, const struct list_req *req,
    const char *name, unsigned attrs)
{
	struct store_status st;
	const char *error;

	if (!(req->ret & RET_STATUS) ||
	    (attrs & (STORE_LA_NOSELECT | ATTR_NONEXISTENT)))
		return;
	memset(&st, 0, sizeof(st));
	if (store_status(s->store, name, req->status_items, &st, &error) ==
	    STORE_OK)
		imap_status_reply(s, name, req->status_items, &st);
}

/* LIST ref "": the separator and the root of ref (RFC 3501 6.3.8). */
static void
list_root(struct imap_session *s, const char *ref)
{
	struct evbuffer *out = imap_output(s);
	const char *dot = strchr(ref, '.');

	ADD_CONST(out, "* LIST (\\Noselect) \".\" ");
	imap_reply_string(out, ref, dot != NULL ? (size_t)(dot - ref) + 1 : 0);
	evbuffer_add(out, "\r\n", 2);
}

void
imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct list_req req;
	struct store_folder *all, *subs = NULL;
	const struct store_folder *f;
	const struct imap_arg *a = cmd->args;
	const char *ref, *error, *word;
	size_t n = cmd->count, nall, nsubs = 0, i, rlen;
	enum store_result r;
	unsigned attrs;
	bool sub, child, extended = false;

	memset(&req, 0, sizeof(req));
	if (n > 0 && a[0].type == IMAP_ARG_LIST) {
		if (parse_selection(&a[0], &req, &error) == -1) {
			imap_done(s, "BAD", "%s", error);
			return;
		}
		extended = true;
		a++;
		n--;
	}
	if (n != 2 && !(n == 4 && imap_arg_atom_is(&a[2], "RETURN"))) {
		imap_done(s, "BAD", "LIST takes a reference and a pattern");
		return;
	}
	if (!imap_arg_astring(&a[0], &ref, &rlen) ||
	    memchr(ref, '\0', rlen) != NULL) {
		imap_done(s, "BAD", "Invalid LIST reference");
		return;
	}
	if (n == 4) {
		if (parse_return(&a[3], &req, &error) == -1) {
			imap_done(s, "BAD", "%s", error);
			return;
		}
		extended = true;
	}
	if (parse_patterns(cmd->pool, ref, &a[1], &req, &error) == -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if (!extended && a[1].type != IMAP_ARG_LIST &&
	    imap_arg_list_mailbox(&a[1], &word, &i) && i == 0) {
		list_root(s, ref);
		imap_done(s, "OK", "List completed");
		return;
	}
	if ((r = store_list(s->store, cmd->pool, false, &all, &nall,
	    &error)) != STORE_OK || ((req.sel & SEL_SUBSCRIBED) &&
	    (r = store_list(s->store, cmd->pool, true, &subs, &nsubs,
	    &error)) != STORE_OK)) {
		imap_done_store(s, r, error, false);
		return;
	}
	if (!(req.sel & SEL_SUBSCRIBED)) {
		for (i = 0; i < nall; i++) {
			attrs = all[i].attrs;
			if (!matches(&req, all[i].name) ||
			    ((req.sel & SEL_SPECIAL) &&
			    !(attrs & STORE_LA_SPECIAL)))
				continue;
			if (!(req.ret & RET_SUBSCRIBED))
				attrs &= ~(unsigned)STORE_LA_SUBSCRIBED;
			emit(s, "LIST", all[i].name, attrs, false);
			emit_status(s, &req, all[i].name, attrs);
		}
		imap_done(s, "OK", "List completed");
		return;
	}
	/* SUBSCRIBED: the subscribed names, and with RECURSIVEMATCH the
	 * parents of subscribed names (which the store lists too). */
	for (i = 0; i < nsubs; i++) {
		if (!matches(&req, subs[i].name))
			continue;
		sub = (subs[i].attrs & STORE_LA_SUBSCRIBED) != 0;
		child = (req.sel & SEL_RECURSIVE) &&
		    has_subscribed_child(subs, nsubs, subs[i].name, &req,
		    false);
		if (!sub && !child)
			continue;
		f = find_folder(all, nall, subs[i].name);
		attrs = f != NULL ? f->attrs & ~(unsigned)STORE_LA_SUBSCRIBED :
		    ATTR_NONEXISTENT;
		if (sub)
			attrs |= STORE_LA_SUBSCRIBED;
		if ((req.sel & SEL_SPECIAL) && !(attrs & STORE_LA_SPECIAL))
			continue;
		emit(s, "LIST", subs[i].name, attrs, child);
		emit_status(s, &req, subs[i].name, attrs);
	}
	imap_done(s, "OK", "List completed");
}

/* LSUB: subscribed names; a parent that matches the pattern when its
 * subscribed child does not is listed \Noselect (RFC 3501 6.3.9). */
void
imap_cmd_lsub(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct list_req req;
	struct store_folder *subs;
	const char *ref, *error;
	size_t nsubs, i, rlen;
	enum store_result r;
	unsigned attrs;

	memset(&req, 0, sizeof(req));
	if (cmd->count != 2 || !imap_arg_astring(&cmd->args[0], &ref, &rlen) ||
	    memchr(ref, '\0', rlen) != NULL ||
	    cmd->args[1].type == IMAP_ARG_LIST) {
		imap_done(s, "BAD", "LSUB takes a reference and a pattern");
		return;
	}
	if (parse_patterns(cmd->pool, ref, &cmd->args[1], &req, &error) ==
	    -1) {
		imap_done(s, "BAD", "%s", error);
		return;
	}
	if ((r = store_list(s->store, cmd->pool, true, &subs, &nsubs,
	    &error)) != STORE_OK) {
		imap_done_store(s, r, error, false);
		return;
	}
	for (i = 0; i < nsubs; i++) {
		if (!matches(&req, subs[i].name))
			continue;
		if (subs[i].attrs & STORE_LA_SUBSCRIBED)
			attrs = subs[i].attrs & STORE_LA_NOSELECT;
		else if (has_subscribed_child(subs, nsubs, subs[i].name, &req,
		    true))
			attrs = STORE_LA_NOSELECT;
		else
			continue;
		emit(s, "LSUB", subs[i].name, attrs, false);
	}
	imap_done(s, "OK", "Lsub completed");
}
