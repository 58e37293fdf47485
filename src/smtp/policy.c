/* policy: who may send where. The rules are those of Postfix's
 *   smtpd_recipient_restrictions = permit_sasl_authenticated,
 *       permit_mynetworks, reject_unauth_destination
 * Local domains (the directory) and relay_domains take mail from anyone;
 * any other domain only from authenticated or trusted (mynetworks)
 * clients. The recipient checks themselves run in cmd-mail.c with the
 * directory's answer; this file holds the static parts. */
#include <string.h>
#include <strings.h>

#include "lib/cidr.h"
#include "lib/str.h"
#include "smtp/smtp-private.h"

bool
smtp_client_trusted(const struct smtp_session *s)
{
	const struct strv *nets = &s->cfg->mynetworks;
	const char *error;
	struct cidr c;
	size_t i;

	for (i = 0; i < nets->n; i++)
		if (cidr_parse(nets->v[i], &c, &error) == 0 &&
		    cidr_match(&c, (const struct sockaddr *)&s->peer))
			return true;
	return false;
}

bool
smtp_relay_domain(const struct smtp_session *s, const char *domain)
{
	return strv_contains_nocase(&s->cfg->relay_domains, domain);
}

/* relay_recipients: empty accepts all; else the address or "@domain". */
bool
smtp_relay_recipient_ok(const struct smtp_session *s, const char *address,
    const char *domain)
{
	const struct strv *ok = &s->cfg->relay_recipients;
	size_t i;

	if (ok->n == 0 || strv_contains_nocase(ok, address))
		return true;
	for (i = 0; i < ok->n; i++)
		if (ok->v[i][0] == '@' && strcasecmp(ok->v[i] + 1, domain) == 0)
			return true;
	return false;
}
