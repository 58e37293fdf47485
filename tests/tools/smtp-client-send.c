/* smtp-client-send: a test driver for the outbound SMTP client engine
 * (src/smtp/client.c). It reads postie queue files (envelope_read), sends
 * them one after the other over one connection to HOST:PORT, and prints
 * per message one line per recipient and a final line:
 *
 *   <rcpt> <code> <enh> <text>
 *   message <code> <enh> <text> tls=<version cipher|none>
 *
 * (enh is "-" when the reply had none). A connection failure before the
 * first message prints "error stage=<n> <code> <enh> <text>". Exit 0 when
 * every recipient got 2xx, 1 otherwise, 2 on a usage or local error.
 *
 * Usage: smtp-client-send HOST:PORT QUEUEFILE... [--tls none|may|encrypt|
 *        verify] [--auth USER PASS] [--auth-plaintext] [--helo NAME]
 *        [--host NAME] [--timeout MS] [--cafile PEM]
 * Built with the normal build, not installed. */
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "queue/envelope.h"
#include "smtp/client.h"

#define FILES_MAX	64

struct run {
	struct event_base	*base;
	struct pool		*pool;
	char			**files;
	size_t			 nfiles;
	size_t			 next;
	const struct smtp_client_rcpt *rcpts;	/* in pool, being sent */
	int			 fd;
	bool			 all_ok;
	bool			 local_error;
};

static void	usage(void);
static int	resolve(const char *hostport, struct sockaddr_storage *ss,
		    socklen_t *len_r);
static int	send_next(struct smtp_client *c, struct run *r);
static void	print_reply(const char *what, const struct smtp_client_reply *rp,
		    const char *tail);
static void	msg_done(struct smtp_client *c, struct run *r);
static void	on_client(struct smtp_client *c, enum smtp_client_event ev,
		    void *arg);

static void
usage(void)
{
	fprintf(stderr, "usage: smtp-client-send HOST:PORT QUEUEFILE... "
	    "[--tls none|may|encrypt|verify] [--auth USER PASS] "
	    "[--auth-plaintext] [--helo NAME] [--host NAME] [--timeout MS] "
	    "[--cafile PEM]\n");
	exit(2);
}

static int
resolve(const char *hostport, struct sockaddr_storage *ss, socklen_t *len_r)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - hostport)) == 0 ||
	    n >= sizeof(host))
		return -1;
	memcpy(host, hostport, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
print_reply(const char *what, const struct smtp_client_reply *rp,
    const char *tail)
{
	printf("%s %u %s %s%s\n", what, rp->code,
	    rp->enh[0] != '\0' ? rp->enh : "-", rp->text, tail);
}

/* Read the next queue file and hand it over; -1 when there is none or on
 * a local error. */
static int
send_next(struct smtp_client *c, struct run *r)
{
	struct smtp_client_rcpt *rcpts;
	struct smtp_client_msg m;
	struct envelope env;
	const char *error;
	size_t i, n = 0;

	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	if (r->next >= r->nfiles)
		return -1;
	pool_free(&r->pool);
	r->pool = pool_new(NULL);
	if ((r->fd = open(r->files[r->next], O_RDONLY | O_CLOEXEC)) == -1 ||
	    envelope_read(r->fd, r->pool, &env, &error) == -1) {
		fprintf(stderr, "smtp-client-send: %s: %s\n",
		    r->files[r->next], r->fd == -1 ? "cannot open" : error);
		r->local_error = true;
		return -1;
	}
	r->next++;
	rcpts = pool_alloc(r->pool, (env.nrcpts + 1) * sizeof(*rcpts));
	for (i = 0; i < env.nrcpts; i++) {
		if (env.rcpts[i].done)
			continue;
		rcpts[n].address = env.rcpts[i].address;
		rcpts[n].notify = env.rcpts[i].notify;
		rcpts[n].orcpt = env.rcpts[i].orcpt;
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "smtp-client-send: no pending recipient\n");
		r->local_error = true;
		return -1;
	}
	memset(&m, 0, sizeof(m));
	r->rcpts = rcpts;
	m.sender = env.sender;
	m.rcpts = rcpts;
	m.nrcpts = n;
	m.envid = env.envid;
	m.ret = env.ret;
	m.body = env.body;
	m.smtputf8 = env.smtputf8;
	m.fd = r->fd;
	m.offset = env.content_offset;
	m.size = env.content_size;
	smtp_client_send(c, &m);
	return 0;
}

static void
msg_done(struct smtp_client *c, struct run *r)
{
	const struct smtp_client_result *res = smtp_client_result(c);
	const char *tls = smtp_client_tls_info(c);
	char tail[200];
	size_t i;

	for (i = 0; i < res->nrcpts; i++) {
		print_reply(r->rcpts[i].address, res->rcpts[i].outcome, "");
		if (res->rcpts[i].outcome->code / 100 != 2)
			r->all_ok = false;
	}
	snprintf(tail, sizeof(tail), " tls=%s", tls != NULL ? tls : "none");
	print_reply("message", &res->final, tail);
	fflush(stdout);
	if (res->conn_failed) {
		r->all_ok = false;
		event_base_loopbreak(r->base);
		return;
	}
	if (send_next(c, r) == -1)
		smtp_client_quit(c);
}

static void
on_client(struct smtp_client *c, enum smtp_client_event ev, void *arg)
{
	struct run *r = arg;
	const struct smtp_client_reply *err;
	enum smtp_client_stage stage;
	char tail[200];

	switch (ev) {
	case SMTP_CLIENT_READY:
		if (send_next(c, r) == -1)
			smtp_client_quit(c);
		return;
	case SMTP_CLIENT_MSG_DONE:
		msg_done(c, r);
		return;
	case SMTP_CLIENT_ERROR:
		err = smtp_client_error(c, &stage);
		snprintf(tail, sizeof(tail), "error stage=%d", (int)stage);
		print_reply(tail, err, "");
		r->all_ok = false;
		event_base_loopbreak(r->base);
		return;
	case SMTP_CLIENT_CLOSED:
		event_base_loopbreak(r->base);
		return;
	}
}

int
main(int argc, char **argv)
{
	struct smtp_client_params p;
	struct sockaddr_storage ss;
	struct smtp_client *c;
	struct run r;
	char *files[FILES_MAX];
	const char *error, *cafile = NULL;
	SSL_CTX *ctx = NULL;
	unsigned timeout = 0;
	int i;

	log_init("smtp-client-send", true);
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.tls = SMTP_CLIENT_TLS_NONE;
	p.helo = "client.postie.test";
	if (argc < 3)
		usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--tls") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "none") == 0)
				p.tls = SMTP_CLIENT_TLS_NONE;
			else if (strcmp(argv[i], "may") == 0)
				p.tls = SMTP_CLIENT_TLS_MAY;
			else if (strcmp(argv[i], "encrypt") == 0)
				p.tls = SMTP_CLIENT_TLS_ENCRYPT;
			else if (strcmp(argv[i], "verify") == 0)
				p.tls = SMTP_CLIENT_TLS_VERIFY;
			else
				usage();
		} else if (strcmp(argv[i], "--auth") == 0 && i + 2 < argc) {
			p.auth_user = argv[++i];
			p.auth_pass = argv[++i];
		} else if (strcmp(argv[i], "--auth-plaintext") == 0)
			p.auth_plaintext = true;
		else if (strcmp(argv[i], "--helo") == 0 && i + 1 < argc)
			p.helo = argv[++i];
		else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
			p.host = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc)
			cafile = argv[++i];
		else if (argv[i][0] == '-' || r.nfiles >= FILES_MAX)
			usage();
		else
			files[r.nfiles++] = argv[i];
	}
	if (r.nfiles == 0)
		usage();
	if (resolve(argv[1], &ss, &p.addrlen) == -1) {
		fprintf(stderr, "smtp-client-send: cannot resolve %s\n",
		    argv[1]);
		return 2;
	}
	p.addr = (struct sockaddr *)&ss;
	if (p.host == NULL)
		p.host = argv[1];
	if (p.tls != SMTP_CLIENT_TLS_NONE) {
		if ((ctx = smtp_client_ssl_ctx_new(&error)) == NULL) {
			fprintf(stderr, "smtp-client-send: %s\n", error);
			return 2;
		}
		if (cafile != NULL &&
		    SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			fprintf(stderr, "smtp-client-send: cannot load %s\n",
			    cafile);
			return 2;
		}
		p.ssl_ctx = ctx;
	}
	p.timeouts = (struct smtp_client_timeouts){ timeout, timeout,
	    timeout, timeout, timeout, timeout, timeout, timeout, timeout,
	    timeout, timeout, timeout };
	r.files = files;
	r.fd = -1;
	r.all_ok = true;
	if ((r.base = event_base_new()) == NULL)
		return 2;
	c = smtp_client_new(r.base, &p, on_client, &r);
	event_base_dispatch(r.base);
	smtp_client_free(&c);
	if (r.fd != -1)
		close(r.fd);
	pool_free(&r.pool);
	event_base_free(r.base);
	SSL_CTX_free(ctx);
	if (r.local_error)
		return 2;
	return r.all_ok ? 0 : 1;
}
