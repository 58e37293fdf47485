/* alias: dir_resolve(), what an envelope recipient means (the rules are in
 * dir.h). Called for each RCPT by the SMTP and LMTP engines on an offload
 * thread, and by `postie lookup`. It uses the public lookups only, so it
 * works with every backend.
 *
 * Limits: aliases nest at most alias_max_depth deep and an alias that comes
 * back to itself is a loop (DIR_LOOP), except when the address is also a
 * user (the "keep a copy" idiom); at most alias_max_targets distinct final
 * targets (DIR_TOO_MANY); and at most RESOLVE_WORK_FACTOR times that many
 * addresses looked at in all, so that aliases fanning out to unknown or
 * repeated addresses cannot turn one RCPT into millions of queries. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/dir.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define RESOLVE_WORK_FACTOR	4
#define RESOLVE_ERROR_MAX	1024

struct resolve {
	struct dir		*dir;
	const struct config	*cfg;
	const char		*input;		/* borrowed from the caller */
	struct pool		*pool;		/* the caller's: the results */
	struct pool		*scratch;	/* lookups; freed at the end */
	struct dir_resolution	*res;
	struct dir_target	*targets;	/* heap until copied to pool */
	size_t			 ntargets, cap;
	size_t			*slots;		/* hash set: target index + 1 */
	size_t			 nslots;	/* a power of two */
	const char		**path;		/* sources being expanded */
	uint64_t		 visits, max_visits;
};

static int	resolve_addr(struct resolve *r, const char *address,
		    const char *ext, size_t depth);
static int	expand(struct resolve *r, const char *key,
		    const char *user_addr, const char *local,
		    const char **dests, size_t ndests, const char *ext,
		    size_t depth);
static int	lookup_alias(struct resolve *r, const char *source,
		    const char ***dests_r, size_t *ndests_r);
static int	lookup_user(struct resolve *r, const char *address,
		    const char **canonical_r);
static size_t	delimiter_pos(const struct config *cfg, const char *local);
static int	add_target(struct resolve *r, enum dir_target_kind kind,
		    const char *address, const char *ext);
static uint64_t	target_hash(enum dir_target_kind kind, const char *address,
		    const char *ext);
static bool	target_eq(const struct dir_target *t,
		    enum dir_target_kind kind, const char *address,
		    const char *ext);
static void	slots_grow(struct resolve *r);
static int	stop(struct resolve *r, enum dir_status status,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int
dir_resolve(struct dir *dir, const struct config *cfg, const char *address,
    struct pool *pool, struct dir_resolution *res)
{
	struct resolve r;
	const char *error;
	char *local, *domain;
	size_t i;
	bool empty;
	int rc;

	memset(res, 0, sizeof(*res));
	res->status = DIR_UNKNOWN;
	if (addr_split(address, &local, &domain, &error) == -1) {
		res->error = pool_printf(pool, "invalid address %s: %s",
		    address, error);
		return -1;
	}
	empty = *local == '\0';
	free(local);
	free(domain);
	if (empty) {
		res->error = pool_printf(pool, "invalid address %s: empty "
		    "local part", address);
		return -1;
	}

	memset(&r, 0, sizeof(r));
	r.dir = dir;
	r.cfg = cfg;
	r.input = address;
	r.pool = pool;
	r.scratch = pool_new(NULL);
	r.res = res;
	r.path = pool_alloc(r.scratch, (cfg->alias_max_depth + 1) *
	    sizeof(*r.path));
	r.max_visits = (cfg->alias_max_targets + 1) * RESOLVE_WORK_FACTOR;

	rc = resolve_addr(&r, address, NULL, 0);
	if (rc == 0 && r.ntargets > 0) {
		res->status = DIR_OK;
		res->targets = pool_alloc(pool, r.ntargets *
		    sizeof(*res->targets));
		for (i = 0; i < r.ntargets; i++)
			res->targets[i] = r.targets[i];
		res->ntargets = r.ntargets;
	} else if (rc == 0)
		res->status = DIR_UNKNOWN;
	free(r.targets);
	free(r.slots);
	pool_free(&r.scratch);
	return 0;
}

/* Resolve one address, the input (depth 0) or an alias destination, and
 * add its final targets. An unknown address adds nothing; 0, or -1 when
 * the resolution stops (res->status says why). */
static int
resolve_addr(struct resolve *r, const char *address, const char *ext,
    size_t depth)
{
	struct dir_domain dom;
	const char **dests, *canonical = NULL, *error, *key, *bext;
	char *l, *d, *local, *domain, *norm;
	size_t ndests, pos;
	int rc;

	if (++r->visits > r->max_visits)
		return stop(r, DIR_TOO_MANY, "expanding %s takes more than "
		    "%llu lookups", r->input,
		    (unsigned long long)r->max_visits);
	if (addr_split(address, &l, &d, &error) == -1)
		l = d = NULL;
	else if (*l == '\0') {
		error = "empty local part";
		xfree(&l);
		xfree(&d);
	}
	if (l == NULL) {
		log_debug(LOG_CAT_DIR, "resolve %s: skipping %s: %s",
		    r->input, address, error);
		return 0;
	}
	local = pool_strdup(r->scratch, l);
	domain = pool_strdup(r->scratch, d);
	norm = pool_printf(r->scratch, "%s@%s", local, domain);
	free(l);
	free(d);

	if ((rc = dir_domain_lookup(r->dir, domain, r->scratch, &dom,
	    &error)) == -1)
		return stop(r, DIR_TEMPFAIL, "%s", error);
	if (rc == 0)
		return add_target(r, DIR_TARGET_REMOTE, norm, NULL);
	if (depth == 0)
		r->res->local_domain = true;
	/* A disabled domain is still ours: its addresses are unknown, never
	 * relayed elsewhere. */
	if (!dom.active)
		return 0;

	/* The exact address: an alias, then a user. */
	if ((rc = lookup_alias(r, norm, &dests, &ndests)) != 0)
		return rc == -1 ? -1 :
		    expand(r, norm, norm, local, dests, ndests, ext, depth);
	if ((rc = lookup_user(r, norm, &canonical)) != 0)
		return rc == -1 ? -1 :
		    add_target(r, DIR_TARGET_MAILBOX, canonical, ext);

	/* user+ext: the same for user, keeping ext. */
	if ((pos = delimiter_pos(r->cfg, local)) > 0) {
		key = pool_printf(r->scratch, "%.*s@%s", (int)pos, local,
		    domain);
		bext = local[pos + 1] != '\0' ? local + pos + 1 : NULL;
		if ((rc = lookup_alias(r, key, &dests, &ndests)) != 0)
			return rc == -1 ? -1 : expand(r, key, key, local,
			    dests, ndests, bext, depth);
		if ((rc = lookup_user(r, key, &canonical)) != 0)
			return rc == -1 ? -1 : add_target(r,
			    DIR_TARGET_MAILBOX, canonical, bext);
	}

	/* The catch-all, only when nothing above matched. */
	key = pool_printf(r->scratch, "@%s", domain);
	if ((rc = lookup_alias(r, key, &dests, &ndests)) != 0)
		return rc == -1 ? -1 :
		    expand(r, key, NULL, local, dests, ndests, ext, depth);
	log_debug(LOG_CAT_DIR, "resolve %s: %s unknown", r->input, norm);
	return 0;
}

/* Expand the alias key of an address whose local part is local: each
 * destination entry is a list, "@other" stands for local@other. user_addr:
 * the user that receives the mail when the alias comes back to itself
 * (NULL for a catch-all). */
static int
expand(struct resolve *r, const char *key, const char *user_addr,
    const char *local, const char **dests, size_t ndests, const char *ext,
    size_t depth)
{
	struct strv sv;
	const char *canonical = NULL, *dest;
	size_t i, j;
	int rc;

	r->res->aliased = true;
	/* path[0 .. depth-1] are the sources being expanded above us. */
	for (i = 0; i < depth; i++) {
		if (strcasecmp(r->path[i], key) != 0)
			continue;
		if (user_addr != NULL &&
		    (rc = lookup_user(r, user_addr, &canonical)) != 0)
			return rc == -1 ? -1 :
			    add_target(r, DIR_TARGET_MAILBOX, canonical, ext);
		return stop(r, DIR_LOOP, "alias loop at %s", key);
	}
	if (depth + 1 > r->cfg->alias_max_depth)
		return stop(r, DIR_LOOP, "aliases nested more than %llu deep "
		    "at %s", (unsigned long long)r->cfg->alias_max_depth, key);
	r->path[depth] = key;
	for (i = 0; i < ndests; i++) {
		memset(&sv, 0, sizeof(sv));
		strv_split(&sv, dests[i]);
		for (j = 0; j < sv.n; j++) {
			dest = sv.v[j];
			if (dest[0] == '@')
				dest = pool_printf(r->scratch, "%s%s", local,
				    dest);
			if (resolve_addr(r, dest, ext, depth + 1) == -1) {
				strv_free(&sv);
				return -1;
			}
		}
		strv_free(&sv);
	}
	return 0;
}

/* 1 with the destinations, 0 when source is no alias, -1 stopped. */
static int
lookup_alias(struct resolve *r, const char *source, const char ***dests_r,
    size_t *ndests_r)
{
	const char *error;
	int rc;

	rc = dir_alias_lookup(r->dir, source, r->scratch, dests_r, ndests_r,
	    &error);
	if (rc == -1)
		return stop(r, DIR_TEMPFAIL, "%s", error);
	return rc;
}

/* 1 with the canonical address of an active user, 0 when there is none
 * (an inactive user is none), -1 stopped. */
static int
lookup_user(struct resolve *r, const char *address, const char **canonical_r)
{
	struct dir_user u;
	const char *error;
	int rc;

	rc = dir_user_lookup(r->dir, address, r->scratch, &u, &error);
	if (rc == -1)
		return stop(r, DIR_TEMPFAIL, "%s", error);
	if (rc == 0 || !u.active)
		return 0;
	*canonical_r = u.address;
	return 1;
}

/* Where the first delimiter character is in local; 0 for none (a local
 * part that starts with one has no base to try). */
static size_t
delimiter_pos(const struct config *cfg, const char *local)
{
	size_t pos;

	if (cfg->recipient_delimiter == NULL ||
	    *cfg->recipient_delimiter == '\0')
		return 0;
	pos = strcspn(local, cfg->recipient_delimiter);
	return local[pos] != '\0' ? pos : 0;
}

/* Add a final target unless it is already there (same kind, address and
 * extension, ignoring case). */
static int
add_target(struct resolve *r, enum dir_target_kind kind, const char *address,
    const char *ext)
{
	struct dir_target *t;
	size_t mask, i, idx;

	if (r->ntargets * 2 >= r->nslots)
		slots_grow(r);
	mask = r->nslots - 1;
	for (i = (size_t)target_hash(kind, address, ext) & mask;
	    r->slots[i] != 0; i = (i + 1) & mask) {
		if (target_eq(&r->targets[r->slots[i] - 1], kind, address, ext))
			return 0;
	}
	if (r->ntargets >= r->cfg->alias_max_targets)
		return stop(r, DIR_TOO_MANY, "%s expands to more than %llu "
		    "addresses", r->input,
		    (unsigned long long)r->cfg->alias_max_targets);
	if (r->ntargets == r->cap) {
		r->cap = r->cap == 0 ? 8 : r->cap * 2;
		r->targets = xreallocarray(r->targets, r->cap,
		    sizeof(*r->targets));
	}
	idx = r->ntargets++;
	t = &r->targets[idx];
	t->kind = kind;
	t->address = pool_strdup(r->pool, address);
	t->extension = ext != NULL ? pool_strdup(r->pool, ext) : NULL;
	r->slots[i] = idx + 1;
	return 0;
}

/* FNV-1a over the lower-cased fields. */
static uint64_t
target_hash(enum dir_target_kind kind, const char *address, const char *ext)
{
	uint64_t h = 14695981039346656037ULL;
	const char *p;

	h = (h ^ (uint64_t)kind) * 1099511628211ULL;
	for (p = address; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) *
		    1099511628211ULL;
	h = (h ^ (ext != NULL ? 1 : 0)) * 1099511628211ULL;
	for (p = ext != NULL ? ext : ""; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) *
		    1099511628211ULL;
	return h;
}

static bool
target_eq(const struct dir_target *t, enum dir_target_kind kind,
    const char *address, const char *ext)
{
	if (t->kind != kind || strcasecmp(t->address, address) != 0)
		return false;
	if (t->extension == NULL || ext == NULL)
		return t->extension == ext;
	return strcasecmp(t->extension, ext) == 0;
}

/* Double the hash set (at least 16 slots) and re-insert every target. */
static void
slots_grow(struct resolve *r)
{
	size_t n = r->nslots == 0 ? 16 : r->nslots * 2, mask = n - 1, i, k;
	const struct dir_target *t;

	free(r->slots);
	r->slots = xcalloc(n, sizeof(*r->slots));
	r->nslots = n;
	for (k = 0; k < r->ntargets; k++) {
		t = &r->targets[k];
		for (i = (size_t)target_hash(t->kind, t->address,
		    t->extension) & mask; r->slots[i] != 0; i = (i + 1) & mask)
			;
		r->slots[i] = k + 1;
	}
}

/* End the resolution with a status other than DIR_OK; always -1. */
static int
stop(struct resolve *r, enum dir_status status, const char *fmt, ...)
{
	char msg[RESOLVE_ERROR_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "cannot resolve");
	else if ((size_t)n >= sizeof(msg))
		snprintf(msg + sizeof(msg) - 4, 4, "...");
	r->res->status = status;
	r->res->error = pool_strdup(r->pool, msg);
	return -1;
}
