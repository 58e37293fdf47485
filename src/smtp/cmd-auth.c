/* cmd-auth: AUTH PLAIN and LOGIN (RFC 4954, 4616).
 *
 * AUTH is offered only over TLS: on submission ports always, on port 25
 * when smtp_auth_on_port_25 is set. The password check (directory lookup
 * and crypt) runs on an offload thread; an unknown user costs the same as a
 * wrong password. Each failure is answered 535 5.7.8 after a delay that
 * grows with the session's failures, and is counted per client address in
 * the shared peer table: after auth_max_failures within auth_failure_window
 * the address gets 454 4.7.0 for every AUTH until the window has passed.
 * Decoded payloads are bounded (SMTP_AUTH_PAYLOAD_MAX) and wiped after
 * use; nothing secret is logged. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "directory/dir.h"
#include "directory/password.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/peertab.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp/smtp-private.h"

#define SMTP_AUTH_PAYLOAD_MAX	8192
#define SMTP_AUTH_DELAY_MAX	5	/* seconds */

struct auth_job {
	char		*user;		/* heap, wiped */
	char		*password;	/* heap, wiped */
	char		*canonical;	/* result: the user's stored address */
	bool		 ok;
	bool		 tempfail;
};

static void	start_check(struct smtp_session *s, const char *user,
		    size_t ulen, const char *pass, size_t plen);
static void	auth_work(void *tctx, void *arg);
static void	auth_done(struct smtp_session *s, void *arg);
static void	on_delay(evutil_socket_t fd, short what, void *arg);
static int	decode(struct smtp_session *s, const uint8_t *in, size_t len,
		    uint8_t *out, size_t *outlen);
static void	plain_response(struct smtp_session *s, const uint8_t *data,
		    size_t len);
static void	job_free(struct auth_job *j);

bool
smtp_auth_offered(const struct smtp_session *s)
{
	if (!s->tls)
		return false;
	return s->submission || s->cfg->smtp_auth_on_port_25;
}

static void
job_free(struct auth_job *j)
{
	if (j->password != NULL)
		explicit_bzero(j->password, strlen(j->password));
	free(j->password);
	free(j->user);
	free(j->canonical);
	free(j);
}

/* Base64 of a response; "=" is the empty response (RFC 4954). */
static int
decode(struct smtp_session *s, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen)
{
	if (len == 1 && in[0] == '=') {
		*outlen = 0;
		return 0;
	}
	if (base64_decode(in, len, out, SMTP_AUTH_PAYLOAD_MAX, outlen) == -1) {
		s->auth_step = SMTP_AUTH_NONE;
		s->state = s->helo != NULL ? SMTP_ST_READY : SMTP_ST_GREET;
		smtp_reply(s, 501, "5.5.2", "Cannot decode the response");
		return -1;
	}
	return 0;
}

/* authzid NUL authcid NUL passwd; authzid empty or equal to authcid. */
static void
plain_response(struct smtp_session *s, const uint8_t *data, size_t len)
{
	const uint8_t *nul1, *nul2;
	size_t zlen, ulen;

	nul1 = memchr(data, '\0', len);
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0',
	    len - (size_t)(nul1 + 1 - data)) : NULL;
	if (nul2 == NULL) {
		smtp_reply(s, 501, "5.5.2", "Malformed PLAIN response");
		return;
	}
	zlen = (size_t)(nul1 - data);
	ulen = (size_t)(nul2 - nul1 - 1);
	if (zlen != 0 && (zlen != ulen || memcmp(data, nul1 + 1, ulen) != 0)) {
		smtp_reply(s, 535, "5.7.8", "Authorization identity not "
		    "allowed");
		return;
	}
	start_check(s, (const char *)nul1 + 1, ulen, (const char *)nul2 + 1,
	    len - (size_t)(nul2 + 1 - data));
}

/* AUTH MECH [initial-response]: the command's run step. */
void
smtp_auth_begin(struct smtp_session *s, const char *mech,
    const uint8_t *initial, size_t ilen)
{
	uint8_t payload[SMTP_AUTH_PAYLOAD_MAX];
	size_t n;

	if (peertab_failures(s->w->peers, (struct sockaddr *)&s->peer,
	    time(NULL), (unsigned)s->cfg->auth_failure_window) >=
	    s->cfg->auth_max_failures) {
		log_info("%016llx smtp auth refused client=%s reason=too-many-"
		    "failures", (unsigned long long)s->id, s->peer_text);
		smtp_reply(s, 454, "4.7.0", "Too many failed authentications "
		    "from your address, try again later");
		s->errors++;
		return;
	}
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (initial == NULL) {
			s->state = SMTP_ST_AUTH;
			s->auth_step = SMTP_AUTH_PLAIN;
			smtp_reply(s, 334, NULL, " ");
			return;
		}
		if (decode(s, initial, ilen, payload, &n) == 0)
			plain_response(s, payload, n);
		explicit_bzero(payload, sizeof(payload));
		return;
	}
	if (strcasecmp(mech, "LOGIN") == 0) {
		s->state = SMTP_ST_AUTH;
		if (initial == NULL) {
			s->auth_step = SMTP_AUTH_LOGIN_USER;
			smtp_reply(s, 334, NULL, "VXNlcm5hbWU6");
			return;
		}
		smtp_auth_continue(s, initial, ilen);
		return;
	}
	smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
}

/* A continuation line while in SMTP_ST_AUTH. */
void
smtp_auth_continue(struct smtp_session *s, const uint8_t *line, size_t len)
{
	uint8_t payload[SMTP_AUTH_PAYLOAD_MAX + 1];
	enum smtp_auth_step step = s->auth_step;
	size_t n;

	if (s->auth_step == SMTP_AUTH_NONE)
		s->auth_step = SMTP_AUTH_LOGIN_USER;
	step = s->auth_step;
	if (len == 1 && line[0] == '*') {
		s->auth_step = SMTP_AUTH_NONE;
		s->state = s->helo != NULL ? SMTP_ST_READY : SMTP_ST_GREET;
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (decode(s, line, len, payload, &n) == -1)
		return;
	switch (step) {
	case SMTP_AUTH_PLAIN:
		s->auth_step = SMTP_AUTH_NONE;
		s->state = s->helo != NULL ? SMTP_ST_READY : SMTP_ST_GREET;
		plain_response(s, payload, n);
		break;
	case SMTP_AUTH_LOGIN_USER:
		if (memchr(payload, '\0', n) != NULL) {
			s->auth_step = SMTP_AUTH_NONE;
			s->state = s->helo != NULL ? SMTP_ST_READY :
			    SMTP_ST_GREET;
			smtp_reply(s, 501, "5.5.2", "Malformed user name");
			break;
		}
		payload[n] = '\0';
		s->auth_login_user = pool_strdup(s->pool, (char *)payload);
		s->auth_step = SMTP_AUTH_LOGIN_PASS;
		smtp_reply(s, 334, NULL, "UGFzc3dvcmQ6");
		break;
	case SMTP_AUTH_LOGIN_PASS:
		s->auth_step = SMTP_AUTH_NONE;
		s->state = s->helo != NULL ? SMTP_ST_READY : SMTP_ST_GREET;
		start_check(s, s->auth_login_user,
		    strlen(s->auth_login_user), (const char *)payload, n);
		explicit_bzero(s->auth_login_user, strlen(s->auth_login_user));
		s->auth_login_user = NULL;
		break;
	case SMTP_AUTH_NONE:
		break;
	}
	explicit_bzero(payload, sizeof(payload));
}

static void
start_check(struct smtp_session *s, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	struct auth_job *j;

	if (ulen == 0 || memchr(user, '\0', ulen) != NULL ||
	    memchr(pass, '\0', plen) != NULL) {
		smtp_reply(s, 535, "5.7.8", "Authentication credentials "
		    "invalid");
		return;
	}
	j = xmalloc(sizeof(*j));
	j->user = xstrndup(user, ulen);
	j->password = xstrndup(pass, plen);
	smtp_offload(s, auth_work, auth_done, j);
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
	int r;

	if ((dir = dir_thread_get(tctx, &error)) == NULL) {
		log_warnx("smtp auth: directory: %s", error);
		j->tempfail = true;
		password_verify_dummy(j->password);
		pool_free(&pool);
		return;
	}
	r = dir_user_lookup(dir, j->user, pool, &u, &error);
	/* A directory that fails at the domain is a temporary failure too,
	 * never a wrong password. */
	if (r == 1 && u.active && (at = strrchr(u.address, '@')) != NULL &&
	    (r = dir_domain_lookup(dir, at + 1, pool, &dom, &error)) == 1 &&
	    dom.active) {
		j->ok = password_verify(j->password, u.password_hash);
		if (j->ok)
			j->canonical = xstrdup(u.address);
	} else {
		if (r == -1) {
			log_warnx("smtp auth: directory: %s", error);
			j->tempfail = true;
		}
		password_verify_dummy(j->password);
	}
	explicit_bzero(j->password, strlen(j->password));
	pool_free(&pool);
}

static void
auth_done(struct smtp_session *s, void *arg)
{
	struct auth_job *j = arg;
	struct timeval tv = { 0, 0 };
	unsigned failures;

	if (j->ok) {
		s->auth_user = pool_strdup(s->pool, j->canonical);
		log_info("%016llx smtp auth ok client=%s user=%s",
		    (unsigned long long)s->id, s->peer_text, s->auth_user);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		job_free(j);
		smtp_session_resume(s);
		return;
	}
	if (j->tempfail) {
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		job_free(j);
		smtp_session_resume(s);
		return;
	}
	failures = peertab_fail(s->w->peers, (struct sockaddr *)&s->peer,
	    time(NULL), (unsigned)s->cfg->auth_failure_window);
	s->auth_failures++;
	str_sanitize(j->user);
	log_info("%016llx smtp auth failed client=%s user=%s failures=%u",
	    (unsigned long long)s->id, s->peer_text, j->user, failures);
	job_free(j);
	/* Answer late, later with each failure; the session stays busy. */
	tv.tv_sec = s->auth_failures < SMTP_AUTH_DELAY_MAX ?
	    s->auth_failures : SMTP_AUTH_DELAY_MAX;
	if (s->delay_ev == NULL)
		s->delay_ev = evtimer_new(s->w->base, on_delay, s);
	s->busy = true;
	evtimer_add(s->delay_ev, &tv);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
	smtp_session_resume(s);
}
