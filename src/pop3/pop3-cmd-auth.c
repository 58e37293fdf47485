/* pop3-cmd-auth: STLS (RFC 2595), USER and PASS (RFC 1939), and AUTH
 * PLAIN (RFC 5034, with an initial response or after the "+ "
 * continuation).
 *
 * Before TLS, USER, PASS and AUTH are refused unless the client is on
 * loopback and plaintext_auth_from_loopback is set. The password check
 * (directory lookup, crypt) runs on the offload pool as SMTP AUTH and
 * IMAP LOGIN do; an unknown user costs the same as a wrong password. A
 * failure is answered "-ERR [AUTH]" after a delay that grows with the
 * session's failures, and is counted per client address in the shared
 * peer table (with SMTP's and IMAP's): after auth_max_failures within
 * auth_failure_window every login from that address is refused until the
 * window has passed. A directory failure is "-ERR [SYS/TEMP]", never a
 * wrong password. On success the user's Maildir comes from the directory,
 * and the maildrop is locked and opened (pop3-maildrop.c); a maildrop in
 * use by another POP3 session is "-ERR [IN-USE]" and the session stays in
 * the AUTHORIZATION state. Secrets are wiped after use and never logged. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "directory/dir.h"
#include "directory/password.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/peertab.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "pop3/pop3-private.h"
#include "store/store.h"
#include "worker/worker.h"

#define PLAINTEXT_REFUSED	"[AUTH] Plaintext authentication disallowed " \
				"on non-secure connections, use STLS"

struct auth_job {
	const struct config *cfg;	/* borrowed: read-only in the worker */
	const char	*mech;		/* static */
	char		*user;		/* heap */
	char		*password;	/* heap, wiped */
	/* results */
	char		*canonical;	/* the user's stored address */
	char		*maildir;
	bool		 ok;
	bool		 tempfail;
};

static bool	locked_out(struct pop3_session *s);
static void	start_check(struct pop3_session *s, const char *mech,
		    const char *user, size_t ulen, const char *pass,
		    size_t plen);
static void	auth_work(void *tctx, void *arg);
static void	auth_done(struct pop3_session *s, void *arg);
static void	login_ok(struct pop3_session *s, struct auth_job *j);
static void	on_delay(evutil_socket_t fd, short what, void *arg);
static void	job_free(struct auth_job *j);
static void	plain_response(struct pop3_session *s, const uint8_t *data,
		    size_t len);
static int	decode(struct pop3_session *s, const uint8_t *in, size_t len,
		    uint8_t *out, size_t *outlen);

static void
job_free(struct auth_job *j)
{
	if (j->password != NULL)
		explicit_bzero(j->password, strlen(j->password));
	free(j->password);
	free(j->user);
	free(j->canonical);
	free(j->maildir);
	free(j);
}

void
pop3_cmd_stls(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (s->tls) {
		pop3_err(s, "TLS is already active");
		return;
	}
	pop3_ok(s, "Begin TLS negotiation");
	if (pop3_session_starttls(s) == -1 && !s->closing) {
		s->reason = "tls-failed";
		pop3_err(s, "TLS not available");
		pop3_close(s);
	}
}

/* Refused logins from this address until its failure window passes. */
static bool
locked_out(struct pop3_session *s)
{
	if (peertab_failures(s->w->peers, (struct sockaddr *)&s->peer_ss,
	    time(NULL), (unsigned)s->cfg->auth_failure_window) <
	    s->cfg->auth_max_failures)
		return false;
	log_info("%016llx pop3 login refused client=%s reason=too-many-"
	    "failures", (unsigned long long)s->id, s->peer);
	pop3_err(s, "[SYS/TEMP] Too many failed logins from your address, "
	    "try again later");
	return true;
}

void
pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!pop3_login_allowed(s)) {
		pop3_err(s, PLAINTEXT_REFUSED);
		return;
	}
	s->user_arg = xstrndup(cmd->args[0].data, cmd->args[0].len);
	pop3_ok(s, "Send your password");
}

void
pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	char *user = s->user_arg;

	if (user == NULL) {
		pop3_err(s, "Send USER first");
		return;
	}
	s->user_arg = NULL;
	if (!locked_out(s))
		start_check(s, "USER", user, strlen(user), cmd->args[0].data,
		    cmd->args[0].len);
	explicit_bzero(user, strlen(user));
	free(user);
}

void
pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	uint8_t payload[POP3_SASL_MAX + 1];
	size_t n;

	if (cmd->nargs == 0) {
		/* The mechanism list many clients ask for before CAPA. */
		pop3_ok(s, "Mechanisms follow");
		evbuffer_add_printf(pop3_output(s), "%s.\r\n",
		    pop3_login_allowed(s) ? "PLAIN\r\n" : "");
		return;
	}
	if (cmd->args[0].len != 5 ||
	    strncasecmp(cmd->args[0].data, "PLAIN", 5) != 0) {
		pop3_err(s, "Unsupported authentication mechanism");
		return;
	}
	if (!pop3_login_allowed(s)) {
		pop3_err(s, PLAINTEXT_REFUSED);
		return;
	}
	if (locked_out(s))
		return;
	if (cmd->nargs == 1) {
		s->auth_step = POP3_AUTH_PLAIN;
		evbuffer_add(pop3_output(s), "+ \r\n", 4);
		return;
	}
	if (decode(s, (const uint8_t *)cmd->args[1].data, cmd->args[1].len,
	    payload, &n) == 0)
		plain_response(s, payload, n);
	explicit_bzero(payload, sizeof(payload));
}

/* Base64 of a response; "=" is the empty one (RFC 5034 section 4). -1:
 * answered. */
static int
decode(struct pop3_session *s, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen)
{
	if (len == 1 && in[0] == '=') {
		*outlen = 0;
		return 0;
	}
	if (base64_decode(in, len, out, POP3_SASL_MAX, outlen) == -1) {
		s->errors++;
		pop3_err(s, "Invalid base64 in the response");
		return -1;
	}
	return 0;
}

/* authzid NUL authcid NUL passwd; authzid empty or equal to authcid. */
static void
plain_response(struct pop3_session *s, const uint8_t *data, size_t len)
{
	const uint8_t *nul1, *nul2;
	size_t zlen, ulen;

	nul1 = memchr(data, '\0', len);
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0',
	    len - (size_t)(nul1 + 1 - data)) : NULL;
	if (nul2 == NULL) {
		s->errors++;
		pop3_err(s, "Malformed PLAIN response");
		return;
	}
	zlen = (size_t)(nul1 - data);
	ulen = (size_t)(nul2 - nul1 - 1);
	if (zlen != 0 && (zlen != ulen || memcmp(data, nul1 + 1, ulen) != 0)) {
		pop3_err(s, "[AUTH] Authorization identity not allowed");
		return;
	}
	start_check(s, "PLAIN", (const char *)nul1 + 1, ulen,
	    (const char *)nul2 + 1, len - (size_t)(nul2 + 1 - data));
}

/* The line answering "+ " (the session reads it raw). */
void
pop3_auth_continue(struct pop3_session *s, const uint8_t *line, size_t len)
{
	uint8_t payload[POP3_SASL_MAX + 1];
	size_t n;

	ASSERT(s->auth_step == POP3_AUTH_PLAIN);
	s->auth_step = POP3_AUTH_NONE;
	if (len == 1 && line[0] == '*') {
		pop3_err(s, "Authentication cancelled");
		return;
	}
	if (decode(s, line, len, payload, &n) == 0)
		plain_response(s, payload, n);
	explicit_bzero(payload, sizeof(payload));
}

static void
start_check(struct pop3_session *s, const char *mech, const char *user,
    size_t ulen, const char *pass, size_t plen)
{
	struct auth_job *j;

	if (ulen == 0 || memchr(user, '\0', ulen) != NULL ||
	    memchr(pass, '\0', plen) != NULL) {
		pop3_err(s, "[AUTH] Authentication failed");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cfg = s->cfg;
	j->mech = mech;
	j->user = xstrndup(user, ulen);
	j->password = xstrndup(pass, plen);
	pop3_offload(s, auth_work, auth_done, j);
}

/* On an offload thread: directory lookup and crypt. */
static void
auth_work(void *tctx, void *arg)
{
	struct auth_job *j = arg;
	struct pool *pool = pool_new(NULL);
	struct dir_domain dom;
	struct dir_user u;
	const char *error, *at;
	struct dir *dir;
	char *path;
	int r;

	if ((dir = dir_thread_get(tctx, &error)) == NULL) {
		log_warnx("pop3 login: directory: %s", error);
		j->tempfail = true;
		password_verify_dummy(j->password);
		goto out;
	}
	r = dir_user_lookup(dir, j->user, pool, &u, &error);
	/* A directory that fails at the domain is a temporary failure too,
	 * never a wrong password. */
	if (r == 1 && u.active && (at = strrchr(u.address, '@')) != NULL &&
	    (r = dir_domain_lookup(dir, at + 1, pool, &dom, &error)) == 1 &&
	    dom.active) {
		j->ok = password_verify(j->password, u.password_hash);
		if (!j->ok)
			goto out;
		if ((path = dir_user_maildir(j->cfg, &u, pool)) == NULL) {
			log_warnx("pop3 login: user %s: the Maildir would "
			    "leave mail_root", u.address);
			j->ok = false;
			j->tempfail = true;
			goto out;
		}
		j->canonical = xstrdup(u.address);
		j->maildir = xstrdup(path);
	} else {
		if (r == -1) {
			log_warnx("pop3 login: directory: %s", error);
			j->tempfail = true;
		}
		password_verify_dummy(j->password);
	}
out:
	explicit_bzero(j->password, strlen(j->password));
	pool_free(&pool);
}

static void
auth_done(struct pop3_session *s, void *arg)
{
	struct auth_job *j = arg;
	struct timeval tv = { 0, 0 };
	unsigned failures;

	if (s->closing) {
		job_free(j);
		return;
	}
	if (j->ok) {
		login_ok(s, j);
		job_free(j);
		pop3_resume(s);
		return;
	}
	if (j->tempfail) {
		job_free(j);
		pop3_err(s, "[SYS/TEMP] Temporary authentication failure, try "
		    "again later");
		pop3_resume(s);
		return;
	}
	failures = peertab_fail(s->w->peers, (struct sockaddr *)&s->peer_ss,
	    time(NULL), (unsigned)s->cfg->auth_failure_window);
	s->auth_failures++;
	str_sanitize(j->user);
	log_info("%016llx pop3 login failed client=%s user=%.128s method=%s "
	    "failures=%u", (unsigned long long)s->id, s->peer, j->user,
	    j->mech, failures);
	job_free(j);
	/* Answer late, later with each failure; the session stays held. */
	tv.tv_sec = s->auth_failures < POP3_AUTH_DELAY_MAX ?
	    s->auth_failures : POP3_AUTH_DELAY_MAX;
	if (s->delay_ev == NULL)
		s->delay_ev = evtimer_new(s->w->base, on_delay, s);
	evtimer_add(s->delay_ev, &tv);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;

	pop3_err(s, "[AUTH] Authentication failed");
	pop3_resume(s);
}

static void
login_ok(struct pop3_session *s, struct auth_job *j)
{
	const char *hostname = s->cfg->hostname;
	const char *reply, *error;
	struct store_user *u;
	enum store_result r;
	char tls[96];

	u = store_user_new(j->maildir, hostname != NULL &&
	    hostname[0] != '\0' ? hostname : NULL);
	if ((r = store_user_prepare(u, &error)) != STORE_OK) {
		log_warnx("%016llx pop3 login user=%s: cannot prepare the "
		    "mailbox: %s", (unsigned long long)s->id, j->canonical,
		    error);
		store_user_free(&u);
		pop3_err(s, "[SYS/TEMP] Mailbox not available, try again "
		    "later");
		return;
	}
	switch (pop3_maildrop_open(u, &s->drop, &reply, &error)) {
	case 0:
		break;
	case -2:
		log_info("%016llx pop3 login refused client=%s user=%s "
		    "reason=in-use", (unsigned long long)s->id, s->peer,
		    j->canonical);
		pop3_err(s, "%s", reply);
		return;
	default:
		log_warnx("%016llx pop3 login user=%s: cannot open the "
		    "maildrop: %s", (unsigned long long)s->id, j->canonical,
		    error);
		pop3_err(s, "%s", reply);
		return;
	}
	s->user = xstrdup(j->canonical);
	s->state = POP3_TRANSACTION;
	pop3_session_set_timeout(s);
	log_info("%016llx pop3 login client=%s user=%s method=%s tls=%s "
	    "messages=%u", (unsigned long long)s->id, s->peer, s->user,
	    j->mech, pop3_tls_info(s, tls, sizeof(tls)), s->drop->count);
	pop3_ok(s, "Logged in, %u message%s (%llu octets)", s->drop->count,
	    s->drop->count == 1 ? "" : "s",
	    (unsigned long long)s->drop->octets);
}
