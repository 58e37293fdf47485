/* dir: the directory interface (see dir.h). Picks the backend named by
 * directory_backend, and checks and normalizes every argument before the
 * backend sees it: domains must be valid and are lower-cased, addresses
 * must split into a valid local part and domain (the local part keeps its
 * case), numbers must fit in an SQL BIGINT. Lookups treat a malformed
 * address as "not found"; admin calls refuse it with a message for people.
 * dir_maildir_path() turns a user's address into the path of its Maildir
 * and refuses anything that could leave mail_root. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/dir-private.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* What an address argument may be. */
enum addr_kind {
	ADDR_USER,	/* local@domain, no '/' in local: it names a folder */
	ADDR_SOURCE,	/* local@domain or "@domain" (catch-all) */
};

/* A checked address and the heap strings behind it. */
struct addr {
	struct dir_addr	 a;		/* points into the fields below */
	char		*local;
	char		*domain;
	char		*address;
};

static int	 addr_parse(const char *in, enum addr_kind kind,
		    struct addr *ad, const char **error_r);
static void	 addr_done(struct addr *ad);
static char	*domain_parse(const char *in, const char **error_r);
static char	*dest_parse(const char *in, const char **error_r);
static int	 check_hash(const char *hash, const char *address,
		    const char **error_r);
static int	 check_bigint(uint64_t v, const char *what,
		    const char **error_r);
static int	 supported(struct dir *dir, const char *op, bool have_op,
		    const char **error_r);
static const char *verror(const char *fmt, va_list ap)
		    __attribute__((format(printf, 1, 0)));
static void	 refuse(const char **error_r, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Refuse, with a message, an operation the backend left out. */
#define NEED_OP(dir, op, error_r) \
	supported((dir), #op, (dir)->backend->op != NULL, (error_r))

static const struct dir_backend *const dir_backends[] = {
	&dir__backend_sqlite,
	&dir__backend_pgsql,
	&dir__backend_mysql,
};

static _Thread_local char dir_errbuf[DIR_ERROR_MAX];

const char *
dir__error(const char *fmt, ...)
{
	const char *msg;
	va_list ap;

	va_start(ap, fmt);
	msg = verror(fmt, ap);
	va_end(ap);
	return msg;
}

int
dir_open(const struct config *cfg, struct dir **dir_r, const char **error_r)
{
	const struct dir_backend *be = NULL;
	struct dir *dir;
	size_t i;

	for (i = 0; i < sizeof(dir_backends) / sizeof(dir_backends[0]); i++)
		if (strcmp(dir_backends[i]->name, cfg->directory_backend) == 0)
			be = dir_backends[i];
	if (be == NULL) {
		*error_r = dir__error("unknown directory backend %s",
		    cfg->directory_backend);
		return -1;
	}
	dir = xmalloc(sizeof(*dir));
	dir->backend = be;
	dir->cfg = cfg;
	if (be->open(dir, error_r) == -1) {
		free(dir);
		return -1;
	}
	*dir_r = dir;
	return 0;
}

void
dir_close(struct dir **dirp)
{
	struct dir *dir = *dirp;

	if (dir == NULL)
		return;
	dir->backend->close(dir);
	free(dir);
	*dirp = NULL;
}

/* Lookups */

int
dir_domain_lookup(struct dir *dir, const char *domain, struct pool *pool,
    struct dir_domain *out, const char **error_r)
{
	char *d;
	int rc;

	if ((d = domain_parse(domain, NULL)) == NULL)
		return 0;
	rc = dir->backend->domain_lookup(dir, d, pool, out, error_r);
	free(d);
	return rc;
}

int
dir_user_lookup(struct dir *dir, const char *address, struct pool *pool,
    struct dir_user *out, const char **error_r)
{
	struct addr ad;
	int rc;

	memset(out, 0, sizeof(*out));
	if (addr_parse(address, ADDR_USER, &ad, NULL) == -1)
		return 0;
	rc = dir->backend->user_lookup(dir, &ad.a, pool, out, error_r);
	addr_done(&ad);
	return rc;
}

int
dir_alias_lookup(struct dir *dir, const char *source, struct pool *pool,
    const char ***dests_r, size_t *ndests_r, const char **error_r)
{
	struct addr ad;
	int rc;

	*dests_r = NULL;
	*ndests_r = 0;
	if (addr_parse(source, ADDR_SOURCE, &ad, NULL) == -1)
		return 0;
	rc = dir->backend->alias_lookup(dir, &ad.a, pool, dests_r, ndests_r,
	    error_r);
	addr_done(&ad);
	return rc;
}

/* Admin: domains */

int
dir_domain_add(struct dir *dir, const char *domain, uint64_t max_message_size,
    const char **error_r)
{
	char *d;
	int rc;

	if (NEED_OP(dir, domain_add, error_r) == -1 ||
	    check_bigint(max_message_size, "message size limit",
	    error_r) == -1 ||
	    (d = domain_parse(domain, error_r)) == NULL)
		return -1;
	rc = dir->backend->domain_add(dir, d, max_message_size, error_r);
	free(d);
	return rc;
}

int
dir_domain_del(struct dir *dir, const char *domain, const char **error_r)
{
	char *d;
	int rc;

	if (NEED_OP(dir, domain_del, error_r) == -1 ||
	    (d = domain_parse(domain, error_r)) == NULL)
		return -1;
	rc = dir->backend->domain_del(dir, d, error_r);
	free(d);
	return rc;
}

int
dir_domain_set_active(struct dir *dir, const char *domain, bool active,
    const char **error_r)
{
	char *d;
	int rc;

	if (NEED_OP(dir, domain_set_active, error_r) == -1 ||
	    (d = domain_parse(domain, error_r)) == NULL)
		return -1;
	rc = dir->backend->domain_set_active(dir, d, active, error_r);
	free(d);
	return rc;
}

int
dir_domain_list(struct dir *dir, dir_domain_cb cb, void *ctx,
    const char **error_r)
{
	if (NEED_OP(dir, domain_list, error_r) == -1)
		return -1;
	return dir->backend->domain_list(dir, cb, ctx, error_r);
}

/* Admin: users */

int
dir_user_add(struct dir *dir, const char *address, const char *hash,
    uint64_t quota_bytes, const char **error_r)
{
	struct addr ad;
	int rc;

	if (NEED_OP(dir, user_add, error_r) == -1 ||
	    check_bigint(quota_bytes, "quota", error_r) == -1 ||
	    addr_parse(address, ADDR_USER, &ad, error_r) == -1)
		return -1;
	if ((rc = check_hash(hash, ad.address, error_r)) == 0)
		rc = dir->backend->user_add(dir, &ad.a, hash, quota_bytes,
		    error_r);
	addr_done(&ad);
	return rc;
}

int
dir_user_del(struct dir *dir, const char *address, const char **error_r)
{
	struct addr ad;
	int rc;

	if (NEED_OP(dir, user_del, error_r) == -1 ||
	    addr_parse(address, ADDR_USER, &ad, error_r) == -1)
		return -1;
	rc = dir->backend->user_del(dir, &ad.a, error_r);
	addr_done(&ad);
	return rc;
}

int
dir_user_set_password(struct dir *dir, const char *address, const char *hash,
    const char **error_r)
{
	struct addr ad;
	int rc;

	if (NEED_OP(dir, user_set_password, error_r) == -1 ||
	    addr_parse(address, ADDR_USER, &ad, error_r) == -1)
		return -1;
	if ((rc = check_hash(hash, ad.address, error_r)) == 0)
		rc = dir->backend->user_set_password(dir, &ad.a, hash,
		    error_r);
	addr_done(&ad);
	return rc;
}

int
dir_user_set_quota(struct dir *dir, const char *address, uint64_t quota_bytes,
    const char **error_r)
{
	struct addr ad;
	int rc;

	if (NEED_OP(dir, user_set_quota, error_r) == -1 ||
	    check_bigint(quota_bytes, "quota", error_r) == -1 ||
	    addr_parse(address, ADDR_USER, &ad, error_r) == -1)
		return -1;
	rc = dir->backend->user_set_quota(dir, &ad.a, quota_bytes, error_r);
	addr_done(&ad);
	return rc;
}

int
dir_user_set_active(struct dir *dir, const char *address, bool active,
    const char **error_r)
{
	struct addr ad;
	int rc;

	if (NEED_OP(dir, user_set_active, error_r) == -1 ||
	    addr_parse(address, ADDR_USER, &ad, error_r) == -1)
		return -1;
	rc = dir->backend->user_set_active(dir, &ad.a, active, error_r);
	addr_done(&ad);
	return rc;
}

int
dir_user_list(struct dir *dir, const char *domain, dir_user_cb cb, void *ctx,
    const char **error_r)
{
	char *d = NULL;
	int rc;

	if (NEED_OP(dir, user_list, error_r) == -1)
		return -1;
	if (domain != NULL && (d = domain_parse(domain, error_r)) == NULL)
		return -1;
	rc = dir->backend->user_list(dir, d, cb, ctx, error_r);
	free(d);
	return rc;
}

/* Admin: aliases */

int
dir_alias_add(struct dir *dir, const char *source, const char *destination,
    const char **error_r)
{
	struct addr ad;
	char *dest;
	int rc;

	if (NEED_OP(dir, alias_add, error_r) == -1 ||
	    addr_parse(source, ADDR_SOURCE, &ad, error_r) == -1)
		return -1;
	if ((dest = dest_parse(destination, error_r)) == NULL) {
		addr_done(&ad);
		return -1;
	}
	rc = dir->backend->alias_add(dir, &ad.a, dest, error_r);
	free(dest);
	addr_done(&ad);
	return rc;
}

int
dir_alias_del(struct dir *dir, const char *source, const char *destination,
    const char **error_r)
{
	struct addr ad;
	char *dest = NULL;
	int rc;

	if (NEED_OP(dir, alias_del, error_r) == -1 ||
	    addr_parse(source, ADDR_SOURCE, &ad, error_r) == -1)
		return -1;
	/* A row that add() would refuse today may still be deleted: match the
	 * destination as given when it does not parse. */
	if (destination != NULL &&
	    (dest = dest_parse(destination, NULL)) == NULL)
		dest = xstrdup(destination);
	rc = dir->backend->alias_del(dir, &ad.a, dest, error_r);
	free(dest);
	addr_done(&ad);
	return rc;
}

int
dir_alias_list(struct dir *dir, const char *domain, dir_alias_cb cb,
    void *ctx, const char **error_r)
{
	char *d = NULL;
	int rc;

	if (NEED_OP(dir, alias_list, error_r) == -1)
		return -1;
	if (domain != NULL && (d = domain_parse(domain, error_r)) == NULL)
		return -1;
	rc = dir->backend->alias_list(dir, d, cb, ctx, error_r);
	free(d);
	return rc;
}

/* Paths */

char *
dir_maildir_path(const struct config *cfg, const char *address,
    struct pool *pool)
{
	const char *at;
	char *local, *domain;

	/* A C string holds no NUL, so the parts below are whole. */
	if (cfg->mail_root == NULL || *cfg->mail_root == '\0' ||
	    (at = strrchr(address, '@')) == NULL || at == address)
		return NULL;
	local = pool_strndup(pool, address, (size_t)(at - address));
	domain = pool_strdup(pool, at + 1);
	str_lower(domain);
	/* valid_domain() refuses '/', empty labels and a leading '.';
	 * valid_local_part() refuses a leading '.' and ".." but allows '/'. */
	if (!valid_domain(domain) || !valid_local_part(local) ||
	    strchr(local, '/') != NULL)
		return NULL;
	return pool_printf(pool, "%s/%s/%s", cfg->mail_root, domain, local);
}

char *
dir_user_maildir(const struct config *cfg, const struct dir_user *u,
    struct pool *pool)
{
	const char *p, *seg;
	size_t len;

	if (u->maildir == NULL || *u->maildir == '\0')
		return dir_maildir_path(cfg, u->address, pool);
	if (cfg->mail_root == NULL || *cfg->mail_root == '\0' ||
	    *u->maildir == '/')
		return NULL;
	/* Relative, and no segment is empty, "." or "..": it stays below
	 * mail_root. A trailing '/' (PostfixAdmin's form) is dropped. */
	len = strlen(u->maildir);
	if (u->maildir[len - 1] == '/')
		len--;
	if (len == 0 || len > 1024)
		return NULL;
	for (seg = p = u->maildir; p <= u->maildir + len; p++) {
		if (p < u->maildir + len && *p != '/')
			continue;
		if (p == seg || (p - seg == 1 && seg[0] == '.') ||
		    (p - seg == 2 && seg[0] == '.' && seg[1] == '.'))
			return NULL;
		seg = p + 1;
	}
	return pool_printf(pool, "%s/%.*s", cfg->mail_root, (int)len,
	    u->maildir);
}

/* Helpers */

static const char *
verror(const char *fmt, va_list ap)
{
	char tmp[DIR_ERROR_MAX];
	int n;

	/* Format aside first: an argument may point into dir_errbuf. */
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0)
		snprintf(tmp, sizeof(tmp), "directory error");
	else if ((size_t)n >= sizeof(tmp))
		snprintf(tmp + sizeof(tmp) - 4, 4, "...");
	/* Same size: cannot truncate. */
	snprintf(dir_errbuf, sizeof(dir_errbuf), "%s", tmp);
	return dir_errbuf;
}

/* Set *error_r, unless error_r is NULL: a lookup, for which bad input is
 * only "not found" and must not overwrite the thread's last message. */
static void
refuse(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	if (error_r == NULL)
		return;
	va_start(ap, fmt);
	*error_r = verror(fmt, ap);
	va_end(ap);
}

static int
addr_parse(const char *in, enum addr_kind kind, struct addr *ad,
    const char **error_r)
{
	const char *error;

	memset(ad, 0, sizeof(*ad));
	if (in == NULL) {
		refuse(error_r, "missing address");
		return -1;
	}
	if (addr_split(in, &ad->local, &ad->domain, &error) == -1) {
		refuse(error_r, "invalid address %s: %s", in, error);
		return -1;
	}
	if (kind == ADDR_USER && *ad->local == '\0') {
		refuse(error_r, "invalid address %s: empty local part", in);
		addr_done(ad);
		return -1;
	}
	if (kind == ADDR_USER && strchr(ad->local, '/') != NULL) {
		refuse(error_r, "invalid address %s: '/' is not allowed in a "
		    "mailbox name", in);
		addr_done(ad);
		return -1;
	}
	ad->address = xasprintf("%s@%s", ad->local, ad->domain);
	ad->a.address = ad->address;
	ad->a.local = ad->local;
	ad->a.domain = ad->domain;
	return 0;
}

static void
addr_done(struct addr *ad)
{
	xfree(&ad->local);
	xfree(&ad->domain);
	xfree(&ad->address);
}

/* A heap, lower-case copy of a valid domain. */
static char *
domain_parse(const char *in, const char **error_r)
{
	char *d;

	if (in == NULL || !valid_domain(in)) {
		refuse(error_r, "invalid domain name %s",
		    in != NULL ? in : "(none)");
		return NULL;
	}
	d = xstrdup(in);
	str_lower(d);
	return d;
}

/* An alias destination: an address in any domain, or "@domain"; a heap
 * copy with the domain lower-cased. */
static char *
dest_parse(const char *in, const char **error_r)
{
	const char *error;
	char *d;

	if (in == NULL) {
		refuse(error_r, "missing alias destination");
		return NULL;
	}
	if (in[0] == '@') {
		if (!valid_domain(in + 1)) {
			refuse(error_r, "invalid alias destination %s: "
			    "invalid domain", in);
			return NULL;
		}
		d = xstrdup(in);
		str_lower(d);
		return d;
	}
	if ((d = addr_normalize(in, &error)) == NULL) {
		refuse(error_r, "invalid alias destination %s: %s", in, error);
		return NULL;
	}
	return d;
}

/* A crypt(3) string, maybe behind a {SCHEME}: printable, no spaces. */
static int
check_hash(const char *hash, const char *address, const char **error_r)
{
	const char *p;

	if (hash == NULL || *hash == '\0') {
		refuse(error_r, "empty password hash for %s", address);
		return -1;
	}
	for (p = hash; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e) {
			refuse(error_r, "invalid password hash for %s",
			    address);
			return -1;
		}
	}
	return 0;
}

static int
check_bigint(uint64_t v, const char *what, const char **error_r)
{
	if (v > INT64_MAX) {
		refuse(error_r, "%s too large", what);
		return -1;
	}
	return 0;
}

/* A backend may leave admin operations out (an external database that
 * another tool manages) and serve lookups only; an SQL backend says which
 * setting keeps this handle from running op. */
static int
supported(struct dir *dir, const char *op, bool have_op,
    const char **error_r)
{
	const char *why;

	if (!have_op) {
		refuse(error_r, "the %s directory is managed elsewhere "
		    "(read-only here)", dir->backend->name);
		return -1;
	}
	if (dir->backend->read_only != NULL &&
	    (why = dir->backend->read_only(dir, op)) != NULL) {
		/* why is in the thread's error buffer already. */
		if (error_r != NULL)
			*error_r = why;
		return -1;
	}
	return 0;
}
