/* str: helpers for numbers, sizes, durations, lists and addresses (see
 * str.h). Every parser here is bounded and rejects trailing garbage. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/str.h"
#include "lib/xalloc.h"

#define ADDR_MAX	320	/* 64 local + @ + 255 domain */
#define LOCAL_MAX	64
#define DOMAIN_MAX	253
#define LABEL_MAX	63

static int	scale(const char *s, const char *units, const uint64_t *mult,
		    uint64_t *r);

void
strv_push(struct strv *sv, const char *s)
{
	sv->v = xreallocarray(sv->v, sv->n + 2, sizeof(*sv->v));
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

void
strv_free(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

bool
strv_contains_nocase(const struct strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (strcasecmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void
strv_split(struct strv *sv, const char *s)
{
	const char *p = s, *end;
	char *item;

	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end != '\0' && *end != ',' &&
		    !isspace((unsigned char)*end); end++)
			;
		item = xstrndup(p, (size_t)(end - p));
		strv_push(sv, item);
		free(item);
		p = end;
	}
}

char *
strv_join(const struct strv *sv, const char *sep)
{
	size_t i, len = 1, seplen = strlen(sep), off = 0, n;
	char *out;

	for (i = 0; i < sv->n; i++)
		len += strlen(sv->v[i]) + seplen;
	out = xmalloc(len);
	for (i = 0; i < sv->n; i++) {
		if (i > 0) {
			memcpy(out + off, sep, seplen);
			off += seplen;
		}
		n = strlen(sv->v[i]);
		memcpy(out + off, sv->v[i], n);	/* UNSAFE: len counted above */
		off += n;
	}
	return out;
}

int
str_to_u64(const char *s, uint64_t max, uint64_t *r)
{
	uint64_t n = 0, d;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (uint64_t)(*s - '0');
		if (n > (max - d) / 10 || d > max)
			return -1;
		n = n * 10 + d;
	}
	*r = n;
	return 0;
}

/* A number followed by at most one unit letter from units. */
static int
scale(const char *s, const char *units, const uint64_t *mult, uint64_t *r)
{
	char num[32];
	size_t len = strlen(s);
	const char *u;
	uint64_t n, m = 1;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	if ((u = strchr(units, tolower((unsigned char)num[len - 1]))) != NULL &&
	    !isdigit((unsigned char)num[len - 1])) {
		m = mult[u - units];
		num[--len] = '\0';
		/* Accept "10MB", "1GB" too. */
	}
	if (str_to_u64(num, UINT64_MAX / m, &n) == -1)
		return -1;
	*r = n * m;
	return 0;
}

int
str_to_size(const char *s, uint64_t *r)
{
	static const uint64_t mult[] = { 1, 1024, 1024 * 1024,
	    1024 * 1024 * 1024, 1024ULL * 1024 * 1024 * 1024 };
	char tmp[32];
	size_t len = strlen(s);

	/* "10MB" / "10mb" -> "10M" */
	if (len >= 3 && len < sizeof(tmp) && tolower((unsigned char)s[len - 1]) == 'b' &&
	    strchr("kmgt", tolower((unsigned char)s[len - 2])) != NULL) {
		memcpy(tmp, s, len - 1);
		tmp[len - 1] = '\0';
		s = tmp;
	}
	return scale(s, "bkmgt", mult, r);
}

int
str_to_duration(const char *s, uint64_t *r)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400, 604800 };

	return scale(s, "smhdw", mult, r);
}

int
str_to_bool(const char *s, bool *r)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*r = false;
			return 0;
		}
	}
	return -1;
}

void
str_from_size(uint64_t v, char *out, size_t outlen)
{
	static const char units[] = "KMGT";
	int i = -1;

	while (v != 0 && v % 1024 == 0 && i < 3) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(out, outlen, "%llu", (unsigned long long)v);
	else
		snprintf(out, outlen, "%llu%c", (unsigned long long)v, units[i]);
}

void
str_from_duration(uint64_t v, char *out, size_t outlen)
{
	if (v != 0 && v % 86400 == 0)
		snprintf(out, outlen, "%llud", (unsigned long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		snprintf(out, outlen, "%lluh", (unsigned long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		snprintf(out, outlen, "%llum", (unsigned long long)(v / 60));
	else
		snprintf(out, outlen, "%llus", (unsigned long long)v);
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

void
str_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

char *
str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

bool
valid_domain(const char *d)
{
	size_t len = strlen(d), label = 0;
	const char *p;

	if (len == 0 || len > DOMAIN_MAX || d[0] == '.' || d[len - 1] == '.')
		return false;
	for (p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    (unsigned char)*p < 0x80)
			return false;
		if (label == 0 && *p == '-')
			return false;
		if (++label > LABEL_MAX)
			return false;
	}
	return p[-1] != '-';
}

/* Dot-atom text, or UTF-8 (RFC 6531); no quoting in the directory. */
bool
valid_local_part(const char *l)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	size_t len = strlen(l);
	const char *p;

	if (len == 0 || len > LOCAL_MAX || l[0] == '.' || l[len - 1] == '.')
		return false;
	for (p = l; *p != '\0'; p++) {
		if (*p == '.') {
			if (p[1] == '.')
				return false;
			continue;
		}
		if (!isalnum((unsigned char)*p) && strchr(atext, *p) == NULL &&
		    (unsigned char)*p < 0x80)
			return false;
	}
	return true;
}

int
addr_split(const char *addr, char **local_r, char **domain_r,
    const char **error_r)
{
	const char *at;
	char *local;

	if (strlen(addr) > ADDR_MAX) {
		*error_r = "address too long";
		return -1;
	}
	if ((at = strrchr(addr, '@')) == NULL) {
		*error_r = "not an address (no @)";
		return -1;
	}
	if (!valid_domain(at + 1)) {
		*error_r = "invalid domain";
		return -1;
	}
	/* An empty local part is the catch-all form "@domain". */
	local = xstrndup(addr, (size_t)(at - addr));
	if (*local != '\0' && !valid_local_part(local)) {
		free(local);
		*error_r = "invalid local part";
		return -1;
	}
	*local_r = local;
	*domain_r = xstrdup(at + 1);
	str_lower(*domain_r);
	return 0;
}

char *
addr_normalize(const char *addr, const char **error_r)
{
	char *local, *domain, *out;

	if (addr_split(addr, &local, &domain, error_r) == -1)
		return NULL;
	out = xasprintf("%s@%s", local, domain);
	free(local);
	free(domain);
	return out;
}
