/* imap-cmd-auth: STARTTLS, LOGIN and AUTHENTICATE (PLAIN and LOGIN, with
 * SASL-IR initial responses, RFC 4959).
 *
 * Before TLS both logins are refused (LOGINDISABLED) unless the client is
 * on loopback and plaintext_auth_from_loopback is set. The password check
 * (directory lookup, crypt) runs on the offload pool as SMTP AUTH does; an
 * unknown user costs the same as a wrong password. A failure is answered
 * after a delay that grows with the session's failures and is counted per
 * client address in the shared peer table (with SMTP's): after
 * auth_max_failures within auth_failure_window every login from that
 * address is refused until the window has passed. A directory failure is
 * "NO [UNAVAILABLE]", never a wrong password. On success the user's
 * Maildir comes from the directory, the store is opened on it
 * (store_user_prepare creates the special-use folders on the first login)
 * and the parser gets the larger limits of logged-in sessions. Secrets
 * are wiped after use and never logged. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "directory/dir.h"
#include "directory/password.h"
#include "imap/imap-private.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/peertab.h"
#include "lib/pool.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "worker/worker.h"

struct auth_job {
	const struct config *cfg;	/* borrowed: read-only in the worker */
	const char	*mech;		/* static */
	char		*user;		/* heap */
	char		*password;	/* heap, wiped */
	/* results */
	char		*canonical;	/* the user's stored address */
	char		*maildir;
	uint64_t	 quota_bytes;
	uint64_t	 max_message_size;	/* the domain's; 0: global */
	bool		 ok;
	bool		 tempfail;
};

static bool	locked_out(struct imap_session *s);
static void	start_check(struct imap_session *s, const char *mech,
		    const char *user, size_t ulen, const char *pass,
		    size_t plen);
static void	auth_work(void *tctx, void *arg);
static void	auth_done(struct imap_session *s, void *arg);
static void	login_ok(struct imap_session *s, struct auth_job *j);
static void	on_delay(evutil_socket_t fd, short what, void *arg);
static void	job_free(struct auth_job *j);
static void	plain_response(struct imap_session *s, const uint8_t *data,
		    size_t len);
static int	decode(struct imap_session *s, const uint8_t *in, size_t len,
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
imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_done(s, "BAD", "STARTTLS takes no arguments");
		return;
	}
	if (s->tls) {
		imap_done(s, "BAD", "TLS is already active");
		return;
	}
	imap_done(s, "OK", "Begin TLS negotiation now");
	if (imap_session_starttls(s) == -1 && !s->closing) {
		s->reason = "tls-failed";
		imap_bye(s, "TLS not available");
	}
}

/* Refused logins from this address until its failure window passes. */
static bool
locked_out(struct imap_session *s)
{
	if (peertab_failures(s->w->peers, (struct sockaddr *)&s->peer_ss,
	    time(NULL), (unsigned)s->cfg->auth_failure_window) <
	    s->cfg->auth_max_failures)
		return false;
	log_info("%016llx imap login refused client=%s reason=too-many-"
	    "failures", (unsigned long long)s->id, s->peer);
	imap_done(s, "NO", "[UNAVAILABLE] Too many failed logins from your "
	    "address, try again later");
	return true;
}

void
imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *user, *pass;
	size_t ulen, plen;

	if (cmd->count != 2 || !imap_arg_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_astring(&cmd->args[1], &pass, &plen)) {
		imap_done(s, "BAD", "LOGIN needs a user name and a password");
		return;
	}
	if (!imap_login_allowed(s)) {
		imap_done(s, "NO", "[PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure connections, "
		    "use STARTTLS");
		return;
	}
	if (locked_out(s))
		return;
	start_check(s, "LOGIN", user, ulen, pass, plen);
	/* The parse tree lives until imap_done(); the password need not. */
	explicit_bzero((char *)pass, plen);
}

void
imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	uint8_t payload[IMAP_SASL_MAX + 1];
	const char *mech, *ir = NULL;
	size_t n;

	if (cmd->count < 1 || cmd->count > 2 ||
	    !imap_arg_atom(&cmd->args[0], &mech) ||
	    (cmd->count == 2 && !imap_arg_atom(&cmd->args[1], &ir))) {
		imap_done(s, "BAD", "AUTHENTICATE needs a mechanism name");
		return;
	}
	if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0) {
		imap_done(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (!imap_login_allowed(s)) {
		imap_done(s, "NO", "[PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure connections, "
		    "use STARTTLS");
		return;
	}
	if (locked_out(s))
		return;
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (ir == NULL) {
			imap_cmd_detach(s);
			s->auth_step = IMAP_AUTH_PLAIN;
			evbuffer_add(imap_output(s), "+ \r\n", 4);
			return;
		}
		if (decode(s, (const uint8_t *)ir, strlen(ir), payload,
		    &n) == 0)
			plain_response(s, payload, n);
		explicit_bzero(payload, sizeof(payload));
		return;
	}
	if (ir == NULL) {
		imap_cmd_detach(s);
		s->auth_step = IMAP_AUTH_LOGIN_USER;
		evbuffer_add(imap_output(s), "+ VXNlcm5hbWU6\r\n", 16);
		return;
	}
	/* The initial response is the user name. */
	if (decode(s, (const uint8_t *)ir, strlen(ir), payload, &n) == -1)
		return;
	if (n == 0 || memchr(payload, '\0', n) != NULL) {
		imap_done(s, "BAD", "Malformed user name");
		return;
	}
	payload[n] = '\0';
	s->auth_login_user = xstrdup((char *)payload);
	imap_cmd_detach(s);
	s->auth_step = IMAP_AUTH_LOGIN_PASS;
	evbuffer_add(imap_output(s), "+ UGFzc3dvcmQ6\r\n", 16);
}

/* Base64 of a response; "=" is the empty one (RFC 4959). -1: answered. */
static int
decode(struct imap_session *s, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen)
{
	if (len == 1 && in[0] == '=') {
		*outlen = 0;
		return 0;
	}
	if (base64_decode(in, len, out, IMAP_SASL_MAX, outlen) == -1) {
		imap_done(s, "BAD", "Invalid base64 in the response");
		return -1;
	}
	return 0;
}

/* authzid NUL authcid NUL passwd; authzid empty or equal to authcid. */
static void
plain_response(struct imap_session *s, const uint8_t *data, size_t len)
{
	const uint8_t *nul1, *nul2;
	size_t zlen, ulen;

	nul1 = memchr(data, '\0', len);
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0',
	    len - (size_t)(nul1 + 1 - data)) : NULL;
	if (nul2 == NULL) {
		imap_done(s, "BAD", "Malformed PLAIN response");
		return;
	}
	zlen = (size_t)(nul1 - data);
	ulen = (size_t)(nul2 - nul1 - 1);
	if (zlen != 0 && (zlen != ulen || memcmp(data, nul1 + 1, ulen) != 0)) {
		imap_done(s, "NO", "[AUTHORIZATIONFAILED] Authorization "
		    "identity not allowed");
		return;
	}
	start_check(s, "PLAIN", (const char *)nul1 + 1, ulen,
	    (const char *)nul2 + 1, len - (size_t)(nul2 + 1 - data));
}

/* A continuation line of AUTHENTICATE (the session reads it raw). */
void
imap_auth_continue(struct imap_session *s, const uint8_t *line, size_t len)
{
	uint8_t payload[IMAP_SASL_MAX + 1];
	enum imap_auth_step step = s->auth_step;
	char *user;
	size_t n;

	s->auth_step = IMAP_AUTH_NONE;
	if (len == 1 && line[0] == '*') {
		imap_done(s, "BAD", "Authentication cancelled");
		return;
	}
	if (decode(s, line, len, payload, &n) == -1)
		return;
	switch (step) {
	case IMAP_AUTH_PLAIN:
		plain_response(s, payload, n);
		break;
	case IMAP_AUTH_LOGIN_USER:
		if (n == 0 || memchr(payload, '\0', n) != NULL) {
			imap_done(s, "BAD", "Malformed user name");
			break;
		}
		payload[n] = '\0';
		s->auth_login_user = xstrdup((char *)payload);
		s->auth_step = IMAP_AUTH_LOGIN_PASS;
		evbuffer_add(imap_output(s), "+ UGFzc3dvcmQ6\r\n", 16);
		break;
	case IMAP_AUTH_LOGIN_PASS:
		user = s->auth_login_user;
		s->auth_login_user = NULL;
		start_check(s, "LOGIN", user, strlen(user),
		    (const char *)payload, n);
		explicit_bzero(user, strlen(user));
		free(user);
		break;
	case IMAP_AUTH_NONE:
		panic("imap auth: a line without an exchange");
	}
	explicit_bzero(payload, sizeof(payload));
}

static void
start_check(struct imap_session *s, const char *mech, const char *user,
    size_t ulen, const char *pass, size_t plen)
{
	struct auth_job *j;

	if (ulen == 0 || memchr(user, '\0', ulen) != NULL ||
	    memchr(pass, '\0', plen) != NULL) {
		imap_done(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cfg = s->cfg;
	j->mech = mech;
	j->user = xstrndup(user, ulen);
	j->password = xstrndup(pass, plen);
	imap_offload(s, auth_work, auth_done, j);
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
		log_warnx("imap login: directory: %s", error);
		j->tempfail = true;
		password_verify_dummy(j->password);
		goto out;
	}
	r = dir_user_lookup(dir, j->user, pool, &u, &error);
	if (r == 1 && u.active && (at = strrchr(u.address, '@')) != NULL &&
	    (r = dir_domain_lookup(dir, at + 1, pool, &dom, &error)) == 1 &&
	    dom.active) {
		j->ok = password_verify(j->password, u.password_hash);
		if (!j->ok)
			goto out;
		if ((path = dir_user_maildir(j->cfg, &u, pool)) == NULL) {
			log_warnx("imap login: user %s: the Maildir would "
			    "leave mail_root", u.address);
			j->ok = false;
			j->tempfail = true;
			goto out;
		}
		j->canonical = xstrdup(u.address);
		j->maildir = xstrdup(path);
		j->quota_bytes = u.quota_bytes;
		j->max_message_size = dom.max_message_size;
	} else {
		if (r == -1) {
			log_warnx("imap login: directory: %s", error);
			j->tempfail = true;
		}
		password_verify_dummy(j->password);
	}
out:
	explicit_bzero(j->password, strlen(j->password));
	pool_free(&pool);
}

static void
auth_done(struct imap_session *s, void *arg)
{
	struct auth_job *j = arg;
	struct timeval tv = { 0, 0 };
	unsigned failures;

	if (s->closing) {
		job_free(j);
		imap_done(s, "NO", "Closing");
		return;
	}
	if (j->ok) {
		login_ok(s, j);
		job_free(j);
		return;
	}
	if (j->tempfail) {
		job_free(j);
		imap_done(s, "NO", "[UNAVAILABLE] Temporary authentication "
		    "failure, try again later");
		return;
	}
	failures = peertab_fail(s->w->peers, (struct sockaddr *)&s->peer_ss,
	    time(NULL), (unsigned)s->cfg->auth_failure_window);
	s->auth_failures++;
	str_sanitize(j->user);
	log_info("%016llx imap login failed client=%s user=%.128s method=%s "
	    "failures=%u", (unsigned long long)s->id, s->peer, j->user,
	    j->mech, failures);
	job_free(j);
	/* Answer late, later with each failure; the command stays open. */
	tv.tv_sec = s->auth_failures < IMAP_AUTH_DELAY_MAX ?
	    s->auth_failures : IMAP_AUTH_DELAY_MAX;
	if (s->delay_ev == NULL)
		s->delay_ev = evtimer_new(s->w->base, on_delay, s);
	evtimer_add(s->delay_ev, &tv);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;

	imap_done(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
}

static void
login_ok(struct imap_session *s, struct auth_job *j)
{
	const char *hostname = s->cfg->hostname;
	struct imap_limits limits;
	struct store_user *u;
	enum store_result r;
	const char *error;
	char tls[96];

	u = store_user_new(j->maildir, hostname != NULL &&
	    hostname[0] != '\0' ? hostname : NULL);
	if ((r = store_user_prepare(u, &error)) != STORE_OK) {
		log_warnx("%016llx imap login user=%s: cannot prepare the "
		    "mailbox: %s", (unsigned long long)s->id, j->canonical,
		    error);
		store_user_free(&u);
		imap_done(s, "NO", "[UNAVAILABLE] Mailbox not available, try "
		    "again later");
		return;
	}
	s->store = u;
	s->user = xstrdup(j->canonical);
	s->quota_bytes = j->quota_bytes;
	if (j->max_message_size != 0 &&
	    j->max_message_size < s->max_message_size)
		s->max_message_size = j->max_message_size;
	s->state = IMAP_AUTH;
	imap_limits_default(&limits);
	imap_parser_set_limits(s->parser, &limits);
	imap_session_set_timeout(s);
	log_info("%016llx imap login client=%s user=%s method=%s tls=%s",
	    (unsigned long long)s->id, s->peer, s->user, j->mech,
	    imap_tls_info(s, tls, sizeof(tls)));
	imap_done(s, "OK", "[CAPABILITY %s] Logged in",
	    imap_capabilities(s));
}
