/* cmd-mail: MAIL and RCPT, with the recipient policy.
 *
 * RCPT asks the directory (on an offload thread) how the address resolves:
 * a local domain must have the user (after aliases, plus-addressing and the
 * catch-all) or it is 550 5.1.1; a relay domain is accepted from anyone;
 * any other domain only from authenticated or mynetworks clients, else 554
 * 5.7.1 Relay access denied. Since relaying is decided on the parsed
 * domain alone, the old tricks (user%other@local, "user@other"@local, a
 * source route) never reach another domain: the route is dropped and the
 * local part is only ever looked up, never re-parsed.
 *
 * MAIL from an authenticated client is checked the same way: the sender
 * must be the user's own address or resolve to the user's mailbox
 * (smtp_sender_login_check), else 553 5.7.1.
 *
 * LMTP takes local domains only and never relays, whoever the client is:
 * any other domain, relay_domains too, is 550 5.7.1. It keeps what each
 * recipient resolved to for its delivery (lmtp.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/dir.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtp/smtp-private.h"

struct lookup_job {
	const struct config	*cfg;		/* borrowed from the worker */
	char			*address;	/* heap */
	char			*domain;	/* heap */
	char			*notify;	/* heap, RCPT */
	char			*orcpt;		/* heap, RCPT */
	char			*auth_user;	/* heap, MAIL check */
	struct dir_resolution	 res;		/* from pool */
	struct pool		*pool;
	uint64_t		 domain_max_size;
	bool			 owned;		/* MAIL: sender is the user's */
	int			 error;		/* directory unreachable */
};

static struct lookup_job *job_new(const struct smtp_session *s,
		    const char *address, const char *domain);
static void	job_free(struct lookup_job *j);
static void	rcpt_work(void *tctx, void *arg);
static void	rcpt_done(struct smtp_session *s, void *arg);
static void	sender_work(void *tctx, void *arg);
static void	sender_done(struct smtp_session *s, void *arg);
static void	tx_start(struct smtp_session *s, const struct smtp_mail_args *m);
static void	rcpt_add(struct smtp_session *s, struct lookup_job *j);
static char	*notify_text(unsigned notify);

static struct lookup_job *
job_new(const struct smtp_session *s, const char *address, const char *domain)
{
	struct lookup_job *j = xmalloc(sizeof(*j));

	j->cfg = s->cfg;
	j->address = xstrdup(address);
	j->domain = xstrdup(domain);
	j->pool = pool_new(NULL);
	return j;
}

static void
job_free(struct lookup_job *j)
{
	free(j->address);
	free(j->domain);
	free(j->notify);
	free(j->orcpt);
	free(j->auth_user);
	pool_free(&j->pool);
	free(j);
}

static char *
notify_text(unsigned notify)
{
	char *text;

	if (notify == 0)
		return NULL;
	if (notify & SMTP_NOTIFY_NEVER)
		return xstrdup("NEVER");
	text = xasprintf("%s%s%s",
	    notify & SMTP_NOTIFY_SUCCESS ? "SUCCESS," : "",
	    notify & SMTP_NOTIFY_FAILURE ? "FAILURE," : "",
	    notify & SMTP_NOTIFY_DELAY ? "DELAY," : "");
	text[strlen(text) - 1] = '\0';	/* UNSAFE: one bit is set: not empty */
	return text;
}

/* ---- MAIL ---- */

void
smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct smtp_mail_args *m = &cmd->mail;
	struct lookup_job *j;

	if (m->body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, 555, "5.5.4", "BODY=BINARYMIME not supported");
		return;
	}
	tx_start(s, m);
	if (s->auth_user == NULL || m->path.null ||
	    !s->cfg->smtp_sender_login_check ||
	    strcasecmp(m->path.address, s->auth_user) == 0) {
		s->state = SMTP_ST_MAIL;
		smtp_reply(s, 250, "2.1.0", "Ok");
		return;
	}
	/* Is this alias the user's? Ask the directory; sender_done accepts
	 * or drops the transaction. */
	j = job_new(s, m->path.address, m->path.domain);
	j->auth_user = xstrdup(s->auth_user);
	smtp_offload(s, sender_work, sender_done, j);
}

/* The transaction that MAIL opens, from its parsed arguments. */
static void
tx_start(struct smtp_session *s, const struct smtp_mail_args *m)
{
	struct smtp_tx *tx = smtp_tx_new(s);

	tx->sender = pool_strdup(tx->pool, m->path.null ? "" : m->path.address);
	tx->size_declared = m->size_given ? m->size : 0;
	tx->body = m->body == SMTP_BODY_8BITMIME ? "8BITMIME" :
	    m->body == SMTP_BODY_7BIT ? "7BIT" : NULL;
	tx->smtputf8 = m->smtputf8;
	tx->envid = m->envid != NULL ? pool_strdup(tx->pool, m->envid) : NULL;
	tx->ret = m->ret == SMTP_RET_FULL ? "FULL" :
	    m->ret == SMTP_RET_HDRS ? "HDRS" : NULL;
}

static void
sender_work(void *tctx, void *arg)
{
	struct lookup_job *j = arg;
	const char *error;
	struct dir *dir;
	size_t i;

	if ((dir = dir_thread_get(tctx, &error)) == NULL) {
		j->error = 1;
		return;
	}
	dir_resolve(dir, j->cfg, j->address, j->pool, &j->res);
	if (j->res.status == DIR_TEMPFAIL) {
		j->error = 1;
		return;
	}
	if (j->res.status != DIR_OK || !j->res.local_domain)
		return;
	for (i = 0; i < j->res.ntargets; i++)
		if (j->res.targets[i].kind == DIR_TARGET_MAILBOX &&
		    strcasecmp(j->res.targets[i].address, j->auth_user) == 0)
			j->owned = true;
}

static void
sender_done(struct smtp_session *s, void *arg)
{
	struct lookup_job *j = arg;

	if (j->error) {
		smtp_tx_free(s);
		smtp_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure",
		    j->address);
	} else if (!j->owned) {
		log_info("%016llx smtp mail rejected client=%s user=%s "
		    "from=<%s> reason=sender-login-mismatch",
		    (unsigned long long)s->id, s->peer_text, s->auth_user,
		    j->address);
		smtp_tx_free(s);
		smtp_reply(s, 553, "5.7.1", "<%s>: Sender address rejected: "
		    "not owned by user %s", j->address, s->auth_user);
	} else {
		s->state = SMTP_ST_MAIL;
		smtp_reply(s, 250, "2.1.0", "Ok");
	}
	job_free(j);
	smtp_session_resume(s);
}

/* ---- RCPT ---- */

void
smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct smtp_rcpt_args *r = &cmd->rcpt;
	struct lookup_job *j;
	char *postmaster = NULL;

	s->tx->rcpt_attempts++;
	if (s->tx->nrcpts >= s->cfg->smtp_max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	if (r->path.postmaster) {
		/* "<Postmaster>" is the postmaster of this host. */
		postmaster = xasprintf("postmaster@%s", s->cfg->hostname);
		j = job_new(s, postmaster, s->cfg->hostname);
		free(postmaster);
	} else
		j = job_new(s, r->path.address, r->path.domain);
	j->notify = notify_text(r->notify);
	if (r->orcpt != NULL)
		j->orcpt = xasprintf("%s;%s", r->orcpt_type, r->orcpt);
	smtp_offload(s, rcpt_work, rcpt_done, j);
}

static void
rcpt_work(void *tctx, void *arg)
{
	struct lookup_job *j = arg;
	struct dir_domain dom;
	const char *error;
	struct dir *dir;
	int rc;

	if ((dir = dir_thread_get(tctx, &error)) == NULL) {
		j->error = 1;
		return;
	}
	if (dir_resolve(dir, j->cfg, j->address, j->pool, &j->res) == -1) {
		/* Valid SMTP, but no directory address ("a b"@x, a
		 * literal): unknown if the domain is ours (a disabled one
		 * too: never relayed), else remote; a directory that cannot
		 * answer is a temporary failure, never a refusal. */
		j->res.status = DIR_UNKNOWN;
		rc = dir_domain_lookup(dir, j->domain, j->pool, &dom, &error);
		if (rc == -1)
			j->error = 1;
		j->res.local_domain = rc == 1;
		return;
	}
	if (j->res.status == DIR_TEMPFAIL) {
		j->error = 1;
		return;
	}
	if (j->res.local_domain &&
	    dir_domain_lookup(dir, j->domain, j->pool, &dom, &error) == 1)
		j->domain_max_size = dom.max_message_size;
}

static void
rcpt_add(struct smtp_session *s, struct lookup_job *j)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_rcpt *r;

	if (tx->nrcpts == tx->rcpts_cap) {
		struct smtp_rcpt *n;

		tx->rcpts_cap = tx->rcpts_cap == 0 ? 8 : tx->rcpts_cap * 2;
		n = pool_alloc(tx->pool, tx->rcpts_cap * sizeof(*n));
		if (tx->nrcpts > 0)
			memcpy(n, tx->rcpts, tx->nrcpts * sizeof(*n));
		tx->rcpts = n;
	}
	r = &tx->rcpts[tx->nrcpts++];
	r->address = pool_strdup(tx->pool, j->address);
	r->notify = j->notify != NULL ? pool_strdup(tx->pool, j->notify) : NULL;
	r->orcpt = j->orcpt != NULL ? pool_strdup(tx->pool, j->orcpt) : NULL;
	r->targets = NULL;
	r->ntargets = 0;
	if (s->lmtp) {
		struct dir_target *t;
		size_t i;

		t = pool_alloc(tx->pool, j->res.ntargets * sizeof(*t));
		for (i = 0; i < j->res.ntargets; i++) {
			t[i].kind = j->res.targets[i].kind;
			t[i].address = pool_strdup(tx->pool,
			    j->res.targets[i].address);
			t[i].extension = j->res.targets[i].extension == NULL ?
			    NULL : pool_strdup(tx->pool,
			    j->res.targets[i].extension);
		}
		r->targets = t;
		r->ntargets = j->res.ntargets;
	}
	s->state = SMTP_ST_RCPT;
}

static void
rcpt_done(struct smtp_session *s, void *arg)
{
	struct lookup_job *j = arg;
	const char *result = "ok";
	int code = 250;

	if (s->tx == NULL) {
		/* The session was reset or closed meanwhile. */
	} else if (j->error) {
		smtp_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure",
		    j->address);
		result = "tempfail";
		code = 451;
	} else if (j->res.local_domain) {
		switch (j->res.status) {
		case DIR_OK:
			break;
		case DIR_LOOP:
			code = 550;
			result = "alias-loop";
			smtp_reply(s, 550, "5.4.6", "<%s>: Recipient address "
			    "rejected: alias loop", j->address);
			break;
		case DIR_TOO_MANY:
			code = 550;
			result = "too-many-targets";
			smtp_reply(s, 550, "5.5.3", "<%s>: Recipient address "
			    "rejected: too many destinations", j->address);
			break;
		default:
			code = 550;
			result = "unknown-user";
			smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address "
			    "rejected: User unknown", j->address);
			break;
		}
	} else if (s->lmtp) {
		code = 550;
		result = "not-local";
		smtp_reply(s, 550, "5.7.1", "<%s>: Recipient address "
		    "rejected: not a local domain (LMTP does not relay)",
		    j->address);
	} else if (smtp_relay_domain(s, j->domain) &&
	    !smtp_relay_recipient_ok(s, j->address, j->domain)) {
		code = 550;
		result = "unknown-relay-user";
		smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address "
		    "rejected: User unknown in relay recipient table",
		    j->address);
	} else if (!smtp_relay_domain(s, j->domain) && s->auth_user == NULL &&
	    !s->trusted) {
		code = 554;
		result = "relay-denied";
		smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied",
		    j->address);
	}
	if (s->tx != NULL && code == 250) {
		if (j->domain_max_size != 0 && j->domain_max_size <
		    s->tx->max_size)
			s->tx->max_size = j->domain_max_size;
		if (s->tx->size_declared > s->tx->max_size) {
			code = 552;
			result = "too-big";
			smtp_reply(s, 552, "5.3.4", "<%s>: Message size exceeds "
			    "the limit of this domain", j->address);
		} else {
			rcpt_add(s, j);
			smtp_reply(s, 250, "2.1.5", "Ok");
		}
	}
	log_info("%016llx smtp rcpt client=%s from=<%s> to=<%s> result=%s "
	    "code=%d", (unsigned long long)s->id, s->peer_text,
	    s->tx != NULL ? s->tx->sender : "", j->address, result, code);
	job_free(j);
	smtp_session_resume(s);
}
