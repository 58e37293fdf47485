/* filename: Maildir file names, "<base>[:2,<flags>]". The base is unique
 * and never changes; the flags after ":2," are the system flags D F P R S
 * T and the keyword letters a..z, in ASCII order. Letters this module does
 * not know (P, and whatever other programs use) are kept when the flags
 * change. Dovecot's ",S=<size>" and ",W=<vsize>" fields in the base give
 * the file size and RFC822.SIZE without a stat. */
#include <stdio.h>
#include <string.h>

#include "store/store-private.h"

static const char *info_of(const char *name, size_t len, size_t *infolen_r);
static int	 sys_flag(char c);

/* The letters after ":2,", or NULL. */
static const char *
info_of(const char *name, size_t len, size_t *infolen_r)
{
	const char *colon = memchr(name, ':', len);
	size_t off;

	if (colon == NULL)
		return NULL;
	off = (size_t)(colon - name);
	if (len - off < 3 || colon[1] != '2' || colon[2] != ',')
		return NULL;
	*infolen_r = len - off - 3;
	return colon + 3;
}

static int
sys_flag(char c)
{
	switch (c) {
	case 'D':
		return STORE_F_DRAFT;
	case 'F':
		return STORE_F_FLAGGED;
	case 'R':
		return STORE_F_ANSWERED;
	case 'S':
		return STORE_F_SEEN;
	case 'T':
		return STORE_F_DELETED;
	default:
		return 0;
	}
}

void
fname_flags(const char *name, size_t len, uint8_t *flags_r,
    uint32_t *keywords_r)
{
	const char *info;
	size_t n = 0, i;

	*flags_r = 0;
	*keywords_r = 0;
	if ((info = info_of(name, len, &n)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (info[i] >= 'a' && info[i] <= 'z')
			*keywords_r |= 1U << (info[i] - 'a');
		else
			*flags_r |= (uint8_t)sys_flag(info[i]);
	}
}

int
fname_with_flags(const char *name, size_t len, uint8_t flags,
    uint32_t keywords, char *out, size_t outlen)
{
	static const char sys[] = "DFRST";
	unsigned char set[128];
	const char *info, *colon;
	size_t base, n = 0, i, o;
	unsigned c;

	memset(set, 0, sizeof(set));
	if ((info = info_of(name, len, &n)) != NULL) {
		for (i = 0; i < n; i++) {
			c = (unsigned char)info[i];
			/* Keep what we do not manage; set ours below. */
			if (c < 128 && c > 0x20 && c != 0x7f &&
			    !(c >= 'a' && c <= 'z') && sys_flag((char)c) == 0)
				set[c] = 1;
		}
	}
	for (i = 0; sys[i] != '\0'; i++)
		if (flags & sys_flag(sys[i]))
			set[(unsigned char)sys[i]] = 1;
	for (i = 0; i < STORE_KEYWORDS_MAX; i++)
		if (keywords & (1U << i))
			set['a' + i] = 1;
	colon = memchr(name, ':', len);
	base = colon != NULL ? (size_t)(colon - name) : len;
	if (base + 4 > outlen)
		return -1;
	memcpy(out, name, base);	/* UNSAFE: base + 4 <= outlen */
	o = base;
	out[o++] = ':';
	out[o++] = '2';
	out[o++] = ',';
	for (c = 0; c < 128; c++) {
		if (!set[c])
			continue;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > STORE_FILE_NAME_MAX ? -1 : (int)o;
}

/* ",<key>=<digits>" in the base part. */
bool
fname_field(const char *name, size_t len, char key, uint64_t *value_r)
{
	const char *colon = memchr(name, ':', len), *p, *end;
	uint64_t n;
	unsigned d;

	end = colon != NULL ? colon : name + len;
	for (p = name; (p = memchr(p, ',', (size_t)(end - p))) != NULL;) {
		p++;
		if (end - p < 3 || p[0] != key || p[1] != '=')
			continue;
		n = 0;
		for (p += 2; p < end && *p >= '0' && *p <= '9'; p++) {
			d = (unsigned)(*p - '0');
			if (n > (UINT64_MAX - 1 - d) / 10)
				return false;
			n = n * 10 + d;
		}
		if (p < end && *p != ',')
			return false;
		if (p[-1] == '=')
			return false;
		*value_r = n;
		return true;
	}
	return false;
}

/* A name the store can carry in dovecot-uidlist: no dot file, no control
 * character, a non-empty base. */
bool
fname_acceptable(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_FILE_NAME_MAX || name[0] == '.' ||
	    name[0] == ':')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f ||
		    name[i] == '/')
			return false;
	return true;
}
