/* keywords: dovecot-keywords, the names of the keyword letters a..z of a
 * mailbox's file names ("<index> <name>" lines). Read when a box is
 * loaded and whenever the file changed; a new keyword is added under the
 * mailbox lock and Dovecot's dotlock, by writing the whole file anew
 * through a temporary file and rename, so a letter never changes its
 * meaning. Limits: STORE_KEYWORDS_MAX names of STORE_KEYWORD_NAME_MAX
 * atom characters; the file is read up to KEYWORDS_FILE_MAX octets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store-private.h"
#include "store/uidlist.h"

#define KEYWORDS_FILE		"dovecot-keywords"
#define KEYWORDS_TMP		"dovecot-keywords.tmp"
#define KEYWORDS_FILE_MAX	((size_t)64 << 10)

static void	 on_keyword(void *arg, unsigned index, const char *name,
		    size_t len);
static void	 keywords_clear(struct box *b);

static void
keywords_clear(struct box *b)
{
	unsigned i;

	for (i = 0; i < STORE_KEYWORDS_MAX; i++) {
		free(b->kw[i]);
		b->kw[i] = NULL;
	}
	b->nkw = 0;
}

static void
on_keyword(void *arg, unsigned index, const char *name, size_t len)
{
	struct box *b = arg;

	b->kw[index] = xstrndup(name, len);
	if (index + 1 > b->nkw)
		b->nkw = index + 1;
}

void
box_keywords_refresh(struct box *b, bool force)
{
	char path[STORE_PATH_MAX];
	struct stamp st;
	size_t len;
	char *data;

	if (box_subpath(b, KEYWORDS_FILE, path, sizeof(path)) == -1)
		return;
	if (stamp_get(path, &st) == -1) {
		if (b->kw_st.valid || force)
			keywords_clear(b);
		b->kw_st.valid = false;
		return;
	}
	if (!force && stamp_same(&st, &b->kw_st))
		return;
	if (read_file(path, KEYWORDS_FILE_MAX, &data, &len) == -1)
		return;		/* keep what we had */
	keywords_clear(b);
	(void)keywords_read(data, len, on_keyword, b);
	free(data);
	b->kw_st = st;
}

/* The index of name (case-insensitive), or -1. */
int
box_keyword_find(const struct box *b, const char *name)
{
	unsigned i;

	for (i = 0; i < b->nkw; i++)
		if (b->kw[i] != NULL && strcasecmp(b->kw[i], name) == 0)
			return (int)i;
	return -1;
}

enum store_result
box_keyword_add(struct box *b, const char *name, unsigned *index_r,
    const char **error_r)
{
	char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	enum store_result res;
	struct boxlock l;
	struct buf out;
	unsigned i, slot = STORE_KEYWORDS_MAX;
	int k;

	if (!keyword_valid(name, strlen(name)) || name[0] == '\\') {
		*error_r = "invalid keyword";
		return STORE_LIMIT;
	}
	box_keywords_refresh(b, false);
	if ((k = box_keyword_find(b, name)) >= 0) {
		*index_r = (unsigned)k;
		return STORE_OK;
	}
	if (box_subpath(b, KEYWORDS_FILE, path, sizeof(path)) == -1 ||
	    box_subpath(b, KEYWORDS_TMP, tmp, sizeof(tmp)) == -1) {
		*error_r = "path too long";
		return STORE_TEMPFAIL;
	}
	res = lock_take(b->path, KEYWORDS_FILE, &l, error_r);
	if (res != STORE_OK)
		return res;
	box_keywords_refresh(b, true);
	if ((k = box_keyword_find(b, name)) >= 0) {
		lock_release(&l);
		*index_r = (unsigned)k;
		return STORE_OK;
	}
	for (i = 0; i < STORE_KEYWORDS_MAX; i++) {
		if (b->kw[i] == NULL) {
			slot = i;
			break;
		}
	}
	if (slot == STORE_KEYWORDS_MAX) {
		lock_release(&l);
		*error_r = "too many keywords in this mailbox";
		return STORE_LIMIT;
	}
	b->kw[slot] = xstrdup(name);
	if (slot + 1 > b->nkw)
		b->nkw = slot + 1;
	buf_init(&out, KEYWORDS_FILE_MAX);
	for (i = 0; i < b->nkw; i++) {
		if (b->kw[i] != NULL &&
		    buf_printf(&out, "%u %s\n", i, b->kw[i]) == -1)
			break;
	}
	if (i < b->nkw ||
	    write_file_atomic(path, tmp, out.data, out.len, true) == -1) {
		*error_r = i < b->nkw ? "keywords file too large" :
		    errno_text(errno);
		free(b->kw[slot]);
		b->kw[slot] = NULL;
		buf_deinit(&out);
		lock_release(&l);
		return STORE_TEMPFAIL;
	}
	buf_deinit(&out);
	(void)stamp_get(path, &b->kw_st);
	lock_release(&l);
	*index_r = slot;
	return STORE_OK;
}
