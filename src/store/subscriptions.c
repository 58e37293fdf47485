/* subscriptions: the "subscriptions" file of the user root, in Dovecot's
 * format: version 1 is one mailbox name per line; version 2 starts with
 * "V\t2\n\n" and separates hierarchy levels with TAB, escaping with \001.
 * A file is rewritten in the version it had (a new one as version 1),
 * through a temporary file and rename, under the root's lock and
 * Dovecot's dotlock. Names that store_name_check() refuses are skipped.
 * Limits: the file is read up to SUBS_FILE_MAX octets, SUBS_MAX names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store/store-private.h"

#define SUBS_FILE	"subscriptions"
#define SUBS_TMP	"subscriptions.tmp"
#define SUBS_FILE_MAX	((size_t)1 << 20)
#define SUBS_MAX	2000	/* names; duplicates are found by a scan */
#define SUBS_V2		"V\t2\n\n"

static bool	 unescape_v2(const char *line, size_t len, char *out,
		    size_t outlen);

/* One version 2 line into a '.'-separated name; false if it cannot be
 * one of our names. */
static bool
unescape_v2(const char *line, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < len; i++) {
		c = line[i];
		if (c == '\t')
			c = '.';
		else if (c == '\001') {
			if (++i == len)
				return false;
			switch (line[i]) {
			case '1':
				c = '\001';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			default:
				c = line[i];
				break;
			}
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

/* The subscribed names, canonical, without duplicates; *version_r is the
 * file's version (1 when there is none). -1 on a read error. */
int
subs_read(const char *root, struct strv *names, int *version_r,
    bool *exists_r)
{
	char path[STORE_PATH_MAX], raw[STORE_NAME_MAX * 2 + 2];
	char canon[STORE_NAME_MAX + 1];
	const char *p, *end, *nl, *error;
	size_t len, i;
	char *data;

	*version_r = 1;
	*exists_r = false;
	if (snprintf(path, sizeof(path), "%s/%s", root, SUBS_FILE) >=
	    (int)sizeof(path))
		return -1;
	if (read_file(path, SUBS_FILE_MAX, &data, &len) == -1)
		return errno == ENOENT ? 0 : -1;
	*exists_r = true;
	p = data;
	end = data + len;
	if (len >= sizeof(SUBS_V2) - 1 &&
	    memcmp(data, SUBS_V2, sizeof(SUBS_V2) - 1) == 0) {
		*version_r = 2;
		p += sizeof(SUBS_V2) - 1;
	}
	for (; p < end && names->n < SUBS_MAX; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl - p > (ptrdiff_t)sizeof(raw) - 1)
			continue;
		if (*version_r == 2) {
			if (!unescape_v2(p, (size_t)(nl - p), raw,
			    sizeof(raw)))
				continue;
		} else {
			memcpy(raw, p, (size_t)(nl - p));
			raw[nl - p] = '\0';
		}
		if (!store_name_check(raw, canon, sizeof(canon), &error))
			continue;
		for (i = 0; i < names->n; i++)
			if (strcmp(names->v[i], canon) == 0)
				break;
		if (i == names->n)
			strv_push(names, canon);
	}
	free(data);
	return 0;
}

enum store_result
subs_change(const char *root, const char *canon, bool on,
    const char **error_r)
{
	char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	struct strv names = { NULL, 0 };
	enum store_result res;
	struct boxlock l;
	struct buf out;
	size_t i, j;
	int version, r = 0;
	bool exists, found = false;

	if (snprintf(path, sizeof(path), "%s/%s", root, SUBS_FILE) >=
	    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s", root, SUBS_TMP) >=
	    (int)sizeof(tmp)) {
		*error_r = "path too long";
		return STORE_TEMPFAIL;
	}
	if (mkdir_parents(root) == -1) {
		*error_r = errno_text(errno);
		return STORE_TEMPFAIL;
	}
	if ((res = lock_take(root, SUBS_FILE, &l, error_r)) != STORE_OK)
		return res;
	if (subs_read(root, &names, &version, &exists) == -1) {
		*error_r = errno_text(errno);
		res = STORE_TEMPFAIL;
		goto out;
	}
	for (i = 0; i < names.n; i++)
		if (strcmp(names.v[i], canon) == 0)
			found = true;
	if (found == on && exists)
		goto out;	/* nothing to change */
	if (on && !found) {
		if (names.n >= SUBS_MAX) {
			*error_r = "too many subscriptions";
			res = STORE_LIMIT;
			goto out;
		}
		strv_push(&names, canon);
	}
	buf_init(&out, SUBS_FILE_MAX);
	if (version == 2)
		r = buf_append_str(&out, SUBS_V2);
	for (i = 0; r == 0 && i < names.n; i++) {
		if (!on && strcmp(names.v[i], canon) == 0)
			continue;
		if (version == 2) {
			for (j = 0; r == 0 && names.v[i][j] != '\0'; j++)
				r = buf_append(&out, names.v[i][j] == '.' ?
				    "\t" : &names.v[i][j], 1);
			if (r == 0)
				r = buf_append(&out, "\n", 1);
		} else
			r = buf_printf(&out, "%s\n", names.v[i]);
	}
	if (r == -1 ||
	    write_file_atomic(path, tmp, out.data, out.len, true) == -1) {
		*error_r = r == -1 ? "subscriptions file too large" :
		    errno_text(errno);
		res = STORE_TEMPFAIL;
	}
	buf_deinit(&out);
out:
	lock_release(&l);
	strv_free(&names);
	return res;
}
