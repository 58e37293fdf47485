/* dir-sql-sets: the ready query sets (sql_query_set) and the choice of each
 * query's text: a non-empty sql_*_query key, else the set's. Also the small
 * pure helpers of the SQL backends (sql_hosts, boolean columns). Called by
 * dir-sql.c when a handle opens, and by the unit tests.
 *
 * The sets are written for both PostgreSQL and MySQL/MariaDB: placeholders
 * are bound as text (numbers as decimal text), booleans are compared with
 * '1' and '0' (which PostgreSQL reads as booleans and MySQL as numbers),
 * and only CONCAT, TRIM, REPLACE, POSITION and NOW() are used, which both
 * know. Where the two differ (an upsert) a set has one text per driver.
 *
 * tutorial: virtual_domains(id, name), virtual_users(id, domain_id,
 *   password, email), virtual_aliases(id, domain_id, source, destination),
 *   one row per destination, "@domain" sources as catch-alls. No active
 *   flags and no quotas: those admin changes are not available.
 * postfixadmin: domain, mailbox, alias (goto a comma-separated list),
 *   alias_domain; inactive rows are ignored, backup-MX domains are not
 *   local, and an alias domain acts as a catch-all "@alias -> @target",
 *   which keeps the local part (and applies only when no alias or user of
 *   the alias domain itself matched). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/dir-sql.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define P(x)	SQL_PBIT(SQL_P_##x)
#define LOOKUP	SQL_PARAMS_LOOKUP

struct sql_q_def {
	const char	*key;		/* config key */
	size_t		 offset;	/* of the key in struct config */
	unsigned	 allowed;	/* placeholders */
};

static const struct sql_q_def sql_q_defs[SQL_Q_COUNT] = {
#define Q(e, name, allowed) \
	[SQL_Q_##e] = { "sql_" #name "_query", \
	    offsetof(struct config, sql_##name##_query), allowed }
	Q(DOMAIN,		domain,		P(DOMAIN)),
	Q(USER,			user,		LOOKUP),
	Q(ALIAS,		alias,		LOOKUP),
	Q(DOMAIN_ADD,		domain_add,	P(DOMAIN) | P(SIZE)),
	Q(DOMAIN_DEL,		domain_del,	P(DOMAIN)),
	Q(DOMAIN_ACTIVE,	domain_active,	P(DOMAIN) | P(ACTIVE)),
	Q(DOMAIN_LIST,		domain_list,	0),
	Q(USER_ADD,		user_add,	LOOKUP | P(HASH) | P(QUOTA)),
	Q(USER_DEL,		user_del,	LOOKUP),
	Q(USER_PASSWORD,	user_password,	LOOKUP | P(HASH)),
	Q(USER_QUOTA,		user_quota,	LOOKUP | P(QUOTA)),
	Q(USER_ACTIVE,		user_active,	LOOKUP | P(ACTIVE)),
	Q(USER_LIST,		user_list,	P(DOMAIN)),
	Q(ALIAS_ADD,		alias_add,	LOOKUP | P(TARGET)),
	Q(ALIAS_DEL,		alias_del,	LOOKUP | P(TARGET)),
	Q(ALIAS_LIST,		alias_list,	P(DOMAIN)),
#undef Q
};

/* One query of a set: the same text for both drivers unless mysql is set. */
struct sql_set_text {
	const char	*sql;
	const char	*mysql;
};

struct sql_set {
	const char		*name;
	struct sql_set_text	 q[SQL_Q_COUNT];
};

static const struct sql_set sql_sets[] = {
	{ "tutorial", {
	[SQL_Q_DOMAIN] = { "SELECT name FROM virtual_domains WHERE name = %d",
	    NULL },
	[SQL_Q_USER] = { "SELECT email AS address, password"
	    " FROM virtual_users WHERE email = %s", NULL },
	[SQL_Q_ALIAS] = { "SELECT destination FROM virtual_aliases"
	    " WHERE source = %s ORDER BY destination", NULL },
	[SQL_Q_DOMAIN_ADD] = { "INSERT INTO virtual_domains (name)"
	    " VALUES (%d)", NULL },
	[SQL_Q_DOMAIN_DEL] = { "DELETE FROM virtual_domains WHERE name = %d",
	    NULL },
	[SQL_Q_DOMAIN_LIST] = { "SELECT name FROM virtual_domains"
	    " ORDER BY name", NULL },
	[SQL_Q_USER_ADD] = { "INSERT INTO virtual_users"
	    " (domain_id, password, email)"
	    " SELECT id, %p, %s FROM virtual_domains WHERE name = %d", NULL },
	[SQL_Q_USER_DEL] = { "DELETE FROM virtual_users WHERE email = %s",
	    NULL },
	[SQL_Q_USER_PASSWORD] = { "UPDATE virtual_users SET password = %p"
	    " WHERE email = %s", NULL },
	[SQL_Q_USER_LIST] = { "SELECT u.email AS address, u.password"
	    " FROM virtual_users u JOIN virtual_domains d"
	    " ON d.id = u.domain_id WHERE d.name = %d ORDER BY u.email",
	    NULL },
	[SQL_Q_ALIAS_ADD] = { "INSERT INTO virtual_aliases"
	    " (domain_id, source, destination)"
	    " SELECT id, %s, %t FROM virtual_domains WHERE name = %d", NULL },
	[SQL_Q_ALIAS_DEL] = { "DELETE FROM virtual_aliases"
	    " WHERE source = %s AND destination = %t", NULL },
	[SQL_Q_ALIAS_LIST] = { "SELECT a.source, a.destination"
	    " FROM virtual_aliases a JOIN virtual_domains d"
	    " ON d.id = a.domain_id WHERE d.name = %d"
	    " ORDER BY a.source, a.destination", NULL },
	} },
	{ "postfixadmin", {
	[SQL_Q_DOMAIN] = { "SELECT domain AS name, active FROM domain"
	    " WHERE domain = %d AND backupmx = '0'", NULL },
	[SQL_Q_USER] = { "SELECT m.username AS address, m.password, m.quota,"
	    " CASE WHEN m.active = '1' AND d.active = '1' THEN 1 ELSE 0 END"
	    " AS active, m.maildir"
	    " FROM mailbox m JOIN domain d ON d.domain = m.domain"
	    " WHERE m.username = %s", NULL },
	/* Without the row to itself that PostfixAdmin keeps for each
	 * mailbox: the mailbox decides, inactive or not. */
	[SQL_Q_ALIAS] = { "SELECT goto FROM alias"
	    " WHERE address = %s AND goto <> address AND active = '1'"
	    " UNION ALL SELECT CONCAT('@', target_domain) FROM alias_domain"
	    " WHERE alias_domain = %d AND %u = '' AND active = '1'", NULL },
	[SQL_Q_DOMAIN_ADD] = { "INSERT INTO domain"
	    " (domain, description, transport, created, modified, active)"
	    " VALUES (%d, '', 'virtual', NOW(), NOW(), '1')", NULL },
	[SQL_Q_DOMAIN_DEL] = { "DELETE FROM alias_domain"
	    " WHERE alias_domain = %d OR target_domain = %d;"
	    " DELETE FROM domain WHERE domain = %d", NULL },
	[SQL_Q_DOMAIN_ACTIVE] = { "UPDATE domain SET active = %a,"
	    " modified = NOW() WHERE domain = %d", NULL },
	[SQL_Q_DOMAIN_LIST] = { "SELECT domain AS name, active FROM domain"
	    " WHERE domain <> 'ALL' ORDER BY domain", NULL },
	[SQL_Q_USER_ADD] = { "INSERT INTO mailbox (username, password, name,"
	    " maildir, quota, local_part, domain, created, modified, active)"
	    " VALUES (%s, %p, '', CONCAT(%d, '/', %u, '/'), %q, %u, %d,"
	    " NOW(), NOW(), '1')", NULL },
	[SQL_Q_USER_DEL] = { "DELETE FROM mailbox WHERE username = %s;"
	    " DELETE FROM alias WHERE address = %s AND goto = %s", NULL },
	[SQL_Q_USER_PASSWORD] = { "UPDATE mailbox SET password = %p,"
	    " modified = NOW() WHERE username = %s", NULL },
	[SQL_Q_USER_QUOTA] = { "UPDATE mailbox SET quota = %q,"
	    " modified = NOW() WHERE username = %s", NULL },
	[SQL_Q_USER_ACTIVE] = { "UPDATE mailbox SET active = %a,"
	    " modified = NOW() WHERE username = %s", NULL },
	[SQL_Q_USER_LIST] = { "SELECT username AS address, password, quota,"
	    " active FROM mailbox WHERE domain = %d ORDER BY username", NULL },
	/* One row per source: a new destination joins the list. */
	[SQL_Q_ALIAS_ADD] = {
	    "INSERT INTO alias (address, goto, domain, created, modified,"
	    " active) VALUES (%s, %t, %d, NOW(), NOW(), '1')"
	    " ON CONFLICT (address) DO UPDATE"
	    " SET goto = CONCAT(alias.goto, ',', EXCLUDED.goto),"
	    " modified = NOW()",
	    "INSERT INTO alias (address, goto, domain, created, modified,"
	    " active) VALUES (%s, %t, %d, NOW(), NOW(), '1')"
	    " ON DUPLICATE KEY UPDATE goto = CONCAT(goto, ',', VALUES(goto)),"
	    " modified = NOW()" },
	/* Take one destination out of the list; drop the emptied row. */
	[SQL_Q_ALIAS_DEL] = { "UPDATE alias SET goto = TRIM(BOTH ',' FROM"
	    " REPLACE(CONCAT(',', goto, ','), CONCAT(',', %t, ','), ',')),"
	    " modified = NOW() WHERE address = %s"
	    " AND POSITION(CONCAT(',', %t, ',') IN CONCAT(',', goto, ',')) > 0;"
	    " DELETE FROM alias WHERE address = %s AND goto = ''", NULL },
	/* Without the row that PostfixAdmin keeps for each mailbox. */
	[SQL_Q_ALIAS_LIST] = { "SELECT address AS source, goto AS destination"
	    " FROM alias WHERE domain = %d AND address <> goto"
	    " ORDER BY address", NULL },
	} },
	{ "custom", { { NULL, NULL } } },
};

const char *
sql_q_key(enum sql_q q)
{
	ASSERT(q < SQL_Q_COUNT);
	return sql_q_defs[q].key;
}

unsigned
sql_q_allowed(enum sql_q q)
{
	ASSERT(q < SQL_Q_COUNT);
	return sql_q_defs[q].allowed;
}

int
sql_queries_select(const struct config *cfg, const char *driver,
    const char *texts[SQL_Q_COUNT], char *errbuf, size_t errlen)
{
	const struct sql_set *set = NULL;
	const char *own;
	size_t i;

	for (i = 0; i < sizeof(sql_sets) / sizeof(sql_sets[0]); i++)
		if (cfg->sql_query_set != NULL &&
		    strcmp(sql_sets[i].name, cfg->sql_query_set) == 0)
			set = &sql_sets[i];
	if (set == NULL) {
		snprintf(errbuf, errlen, "unknown sql_query_set %s",
		    cfg->sql_query_set != NULL ? cfg->sql_query_set : "(none)");
		return -1;
	}
	for (i = 0; i < SQL_Q_COUNT; i++) {
		own = *(char *const *)(const void *)((const char *)cfg +
		    sql_q_defs[i].offset);
		if (own != NULL && *own != '\0')
			texts[i] = own;
		else if (set->q[i].mysql != NULL &&
		    strcmp(driver, "mysql") == 0)
			texts[i] = set->q[i].mysql;
		else
			texts[i] = set->q[i].sql;
	}
	if (texts[SQL_Q_DOMAIN] == NULL || texts[SQL_Q_USER] == NULL) {
		snprintf(errbuf, errlen, "sql_query_set = %s needs "
		    "sql_domain_query and sql_user_query", set->name);
		return -1;
	}
	return 0;
}

int
sql_hosts_parse(const struct strv *in, struct sql_host **hosts_r,
    size_t *nhosts_r, char *errbuf, size_t errlen)
{
	struct sql_host *hosts, *h;
	const char *s, *colon, *end;
	uint64_t port;
	size_t i;

	if (in->n == 0) {
		snprintf(errbuf, errlen, "sql_hosts is empty");
		return -1;
	}
	hosts = xcalloc(in->n, sizeof(*hosts));
	for (i = 0; i < in->n; i++) {
		s = in->v[i];
		h = &hosts[i];
		if (strncmp(s, "unix:", 5) == 0) {
			if (s[5] != '/') {
				snprintf(errbuf, errlen, "sql_hosts: %s: the "
				    "socket path must be absolute", s);
				goto fail;
			}
			h->socket = xstrdup(s + 5);
			continue;
		}
		if (*s == '[') {
			if ((end = strchr(s, ']')) == NULL || end == s + 1) {
				snprintf(errbuf, errlen, "sql_hosts: %s: bad "
				    "address", s);
				goto fail;
			}
			h->host = xstrndup(s + 1, (size_t)(end - s - 1));
			colon = end[1] == ':' ? end + 1 : NULL;
			if (end[1] != '\0' && colon == NULL) {
				snprintf(errbuf, errlen, "sql_hosts: %s: bad "
				    "address", s);
				goto fail;
			}
		} else {
			colon = strchr(s, ':');
			if (colon != NULL && strchr(colon + 1, ':') != NULL) {
				snprintf(errbuf, errlen, "sql_hosts: %s: write "
				    "an IPv6 address as [addr]:port", s);
				goto fail;
			}
			h->host = colon != NULL ?
			    xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
		}
		if (*h->host == '\0') {
			snprintf(errbuf, errlen, "sql_hosts: %s: empty host",
			    s);
			goto fail;
		}
		if (colon != NULL) {
			if (str_to_u64(colon + 1, 65535, &port) == -1 ||
			    port == 0) {
				snprintf(errbuf, errlen, "sql_hosts: %s: bad "
				    "port", s);
				goto fail;
			}
			h->port = (unsigned)port;
		}
	}
	*hosts_r = hosts;
	*nhosts_r = in->n;
	return 0;
fail:
	sql_hosts_free(hosts, in->n);
	return -1;
}

void
sql_hosts_free(struct sql_host *hosts, size_t nhosts)
{
	size_t i;

	if (hosts == NULL)
		return;
	for (i = 0; i < nhosts; i++) {
		free(hosts[i].host);
		free(hosts[i].socket);
	}
	free(hosts);
}

bool
sql_value_true(const char *v)
{
	static const char *const yes[] = { "1", "t", "true", "y", "yes",
	    "on" };
	size_t i;

	if (v == NULL)
		return false;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(v, yes[i]) == 0)
			return true;
	return false;
}
