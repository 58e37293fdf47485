/* test-dns: lib/dns.c against a real dnsmasq (Debian package dnsmasq-base)
 * started on 127.0.0.1 at a free port and killed at the end, also when a
 * test fails or the process dies (PR_SET_PDEATHSIG). dnsmasq answers from
 * its own records only: --local=/test/ makes unknown names under .test
 * NXDOMAIN and names that exist without the asked type NODATA; names
 * outside .test have no upstream and get REFUSED (a temporary failure).
 *
 * Covered: MX, A and AAAA answers, null MX, NODATA, NXDOMAIN, REFUSED,
 * bad names, a malformed MX host, the caps on MX records (an answer that
 * only fits over TCP) and addresses, timeouts and unreachable servers,
 * every table query in flight at once, MX then mx_route then addresses
 * from inside callbacks, and cancellation (one query, all, dns_free, from
 * a callback). Leaks are checked by the ASan build. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/dns.h"
#include "lib/mx.h"
#include "lib/pool.h"
#include "lib/str.h"

/* A named test whose name states the behaviour. */
#define T(name, fn)	{ name, fn, setup, teardown, NULL }

#define DNSMASQ		"/usr/sbin/dnsmasq"
#define MAXOUT		8
#define MANY_MX		120
#define MANY_ADDR	70
#define LOOP_LIMIT_S	10

struct mx_case {
	const char	*name;
	const char	*query;
	enum dns_status	 want;
	const char	*records[MAXOUT];	/* "pref host", sorted */
};

struct addr_case {
	const char	*name;
	const char	*query;
	int		 family;
	enum dns_status	 want;
	const char	*addrs[MAXOUT];		/* text, sorted */
};

/* What a callback saw, copied out of the result before it is freed. */
struct got {
	int		 calls;
	enum dns_status	 status;
	bool		 truncated;
	bool		 error_set;
	char		 name[300];
	size_t		 n;
	char		 out[MAXOUT][300];
	struct mx_record raw[DNS_MX_MAX];	/* MX only, hosts in hostbuf */
	char		 hostbuf[DNS_MX_MAX][256];
	int		*left;			/* decremented once */
};

struct fixture {
	struct event_base	*base;
	struct dns		*dns;
	int			 left;		/* callbacks still expected */
};

static pid_t	dnsmasq_pid = -1;
static char	dnsmasq_server[32];

static int	 free_port(void);
static void	 stop_dnsmasq(void);
static int	 start_dnsmasq(int port);
static int	 dnsmasq_answers(int port);
static int	 group_setup(void **state);
static int	 group_teardown(void **state);
static int	 setup(void **state);
static int	 teardown(void **state);
static void	 on_deadline(evutil_socket_t fd, short what, void *arg);
static void	 run_loop(struct fixture *f);
static int	 cmp_str(const void *a, const void *b);
static void	 addr_text(const struct dns_addr *a, char *out, size_t len);
static void	 on_mx(const struct dns_mx_result *res, void *arg);
static void	 on_addr(const struct dns_addr_result *res, void *arg);
static void	 case_fail(int *nfail, const char *name, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 check_out(int *nfail, const char *name, const struct got *g,
		    enum dns_status want, const char *const *wantv);
static void	 chain_on_mx(const struct dns_mx_result *res, void *arg);
static void	 free_on_mx(const struct dns_mx_result *res, void *arg);
static void	 restart_on_mx(const struct dns_mx_result *res, void *arg);
static void	 test_tables(void **state);
static void	 test_long_name(void **state);
static void	 test_many_mx(void **state);
static void	 test_many_addr(void **state);
static void	 test_bad_mx_host(void **state);
static void	 test_route_chain(void **state);
static void	 test_never_synchronous(void **state);
static void	 test_cancel_one(void **state);
static void	 test_cancel_all(void **state);
static void	 test_free_pending(void **state);
static void	 test_free_from_callback(void **state);
static void	 test_query_while_cancelling(void **state);
static void	 test_timeout(void **state);
static void	 test_unreachable(void **state);
static void	 test_server_strings(void **state);

static const struct mx_case mx_cases[] = {
	{ "MX records come with their preferences", "example.test", DNS_OK,
	  { "10 mx1.example.test", "20 mx2.example.test" } },
	{ "the name is case-insensitive and may end with a dot",
	  "EXAMPLE.Test.", DNS_OK,
	  { "10 mx1.example.test", "20 mx2.example.test" } },
	{ "a null MX comes back as \".\" at preference 0", "nullmx.test",
	  DNS_OK, { "0 ." } },
	{ "a name with an address but no MX is NODATA", "nomx.test",
	  DNS_NODATA, { NULL } },
	{ "an unknown name is NXDOMAIN", "missing.test", DNS_NXDOMAIN,
	  { NULL } },
	{ "a REFUSED answer is a temporary failure", "outside.invalid",
	  DNS_TEMPFAIL, { NULL } },
	{ "an empty label is a bad name, never sent", "bad..test",
	  DNS_BADNAME, { NULL } },
	{ "an empty name is a bad name", "", DNS_BADNAME, { NULL } },
	{ "the root alone is a bad name", ".", DNS_BADNAME, { NULL } },
	{ "a leading hyphen is a bad name", "-x.test", DNS_BADNAME, { NULL } },
	{ "a digit-only name is a bad name", "12345", DNS_BADNAME, { NULL } },
};

static const struct addr_case addr_cases[] = {
	{ "an A record with AF_INET", "mx1.example.test", AF_INET, DNS_OK,
	  { "127.0.0.2" } },
	{ "A and AAAA records with AF_UNSPEC", "mx2.example.test", AF_UNSPEC,
	  DNS_OK, { "127.0.0.3", "::1" } },
	{ "only the A record with AF_INET", "mx2.example.test", AF_INET,
	  DNS_OK, { "127.0.0.3" } },
	{ "only the AAAA record with AF_INET6", "MX2.example.test.", AF_INET6,
	  DNS_OK, { "::1" } },
	{ "no AAAA record is NODATA", "mx1.example.test", AF_INET6,
	  DNS_NODATA, { NULL } },
	{ "a name with only MX records has no address: NODATA",
	  "example.test", AF_UNSPEC, DNS_NODATA, { NULL } },
	{ "the implicit MX host resolves", "nomx.test", AF_UNSPEC, DNS_OK,
	  { "127.0.0.4" } },
	{ "an unknown host is NXDOMAIN", "missing.test", AF_UNSPEC,
	  DNS_NXDOMAIN, { NULL } },
	{ "a REFUSED answer is a temporary failure", "outside.invalid",
	  AF_INET, DNS_TEMPFAIL, { NULL } },
	{ "an IPv4 address is not a host name", "192.0.2.1", AF_INET,
	  DNS_BADNAME, { NULL } },
	{ "an all-digit top-level domain is not a host name", "mx.123",
	  AF_UNSPEC, DNS_BADNAME, { NULL } },
	{ "a bad host name is refused", "a_b..test", AF_UNSPEC, DNS_BADNAME,
	  { NULL } },
};

/* --- dnsmasq --------------------------------------------------------- */

/* A port free for both UDP and TCP on 127.0.0.1. */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int u, t, port = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((u = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return -1;
	if ((t = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		close(u);
		return -1;
	}
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(u, (struct sockaddr *)&sin, &len) == 0 &&
	    bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		port = ntohs(sin.sin_port);
	close(u);
	close(t);
	return port;
}

static void
stop_dnsmasq(void)
{
	if (dnsmasq_pid <= 0)
		return;
	kill(dnsmasq_pid, SIGTERM);
	while (waitpid(dnsmasq_pid, NULL, 0) < 0 && errno == EINTR)
		;
	dnsmasq_pid = -1;
}

static int
start_dnsmasq(int port)
{
	struct strv argv = { NULL, 0 };
	char buf[128];
	pid_t parent = getpid();
	int i;

	strv_push(&argv, DNSMASQ);
	strv_push(&argv, "--keep-in-foreground");
	strv_push(&argv, "--conf-file=/dev/null");
	strv_push(&argv, "--no-resolv");
	strv_push(&argv, "--no-hosts");
	strv_push(&argv, "--pid-file=");
	strv_push(&argv, "--listen-address=127.0.0.1");
	strv_push(&argv, "--bind-interfaces");
	snprintf(buf, sizeof(buf), "--port=%d", port);
	strv_push(&argv, buf);
	/* Answer .test from our records only: unknown names are NXDOMAIN. */
	strv_push(&argv, "--local=/test/");
	strv_push(&argv, "--mx-host=example.test,mx1.example.test,10");
	strv_push(&argv, "--mx-host=example.test,mx2.example.test,20");
	strv_push(&argv, "--host-record=mx1.example.test,127.0.0.2");
	strv_push(&argv, "--host-record=mx2.example.test,127.0.0.3,::1");
	strv_push(&argv, "--mx-host=nullmx.test,.,0");
	strv_push(&argv, "--host-record=nomx.test,127.0.0.4");
	strv_push(&argv, "--mx-host=badmx.test,bad-.test,10");
	for (i = 1; i <= MANY_MX; i++) {
		snprintf(buf, sizeof(buf), "--mx-host=many.test,h%d.many.test,%d",
		    i, 1000 - i);
		strv_push(&argv, buf);
	}
	for (i = 1; i <= MANY_ADDR; i++) {
		snprintf(buf, sizeof(buf),
		    "--host-record=manyaddr.test,127.0.1.%d", i);
		strv_push(&argv, buf);
	}

	dnsmasq_pid = fork();
	if (dnsmasq_pid < 0) {
		print_error("fork: %s\n", strerror(errno));
		strv_free(&argv);
		return -1;
	}
	if (dnsmasq_pid == 0) {
		/* Dies with the test, whatever kills the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		execv(DNSMASQ, argv.v);
		_exit(127);
	}
	strv_free(&argv);
	snprintf(dnsmasq_server, sizeof(dnsmasq_server), "127.0.0.1:%d",
	    port);
	return 0;
}

/* 0 once dnsmasq answers an A query for nomx.test, -1 if it died or
 * stayed silent for 5 s. A blocking socket is fine in the test itself. */
static int
dnsmasq_answers(int port)
{
	static const uint8_t query[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		4, 'n', 'o', 'm', 'x', 4, 't', 'e', 's', 't', 0,
		0x00, 0x01, 0x00, 0x01,
	};
	struct timeval tv = { 0, 100000 };
	struct sockaddr_in sin;
	uint8_t answer[512];
	int fd, i, rc = -1;
	ssize_t n;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (i = 0; i < 50 && rc < 0; i++) {
		if (waitpid(dnsmasq_pid, NULL, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = -1;
			break;
		}
		if (sendto(fd, query, sizeof(query), 0,
		    (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			usleep(100000);
			continue;
		}
		n = recv(fd, answer, sizeof(answer), 0);
		if (n >= 12 && answer[0] == 0x12 && answer[1] == 0x34)
			rc = 0;
	}
	close(fd);
	return rc;
}

static int
group_setup(void **state)
{
	int attempt, port;

	(void)state;
	if (access(DNSMASQ, X_OK) != 0) {
		print_error("test-dns needs %s: install the Debian package "
		    "dnsmasq-base (scripts/deps.sh does)\n", DNSMASQ);
		return -1;
	}
	atexit(stop_dnsmasq);
	/* The port may be taken between free_port() and dnsmasq's bind. */
	for (attempt = 0; attempt < 5; attempt++) {
		if ((port = free_port()) < 0)
			continue;
		if (start_dnsmasq(port) == 0 && dnsmasq_answers(port) == 0)
			return 0;
		stop_dnsmasq();
	}
	print_error("dnsmasq did not start or does not answer\n");
	return -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	stop_dnsmasq();
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error = NULL;

	if (f == NULL || (f->base = event_base_new()) == NULL)
		return -1;
	f->dns = dns_new(f->base, dnsmasq_server, &error);
	if (f->dns == NULL) {
		print_error("dns_new: %s\n", error);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	dns_free(&f->dns);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	bool *expired = arg;

	(void)fd;
	(void)what;
	*expired = true;
}

/* Until every expected callback ran, or LOOP_LIMIT_S passed. */
static void
run_loop(struct fixture *f)
{
	struct timeval limit = { LOOP_LIMIT_S, 0 };
	bool expired = false;
	struct event *deadline;

	deadline = evtimer_new(f->base, on_deadline, &expired);
	assert_non_null(deadline);
	evtimer_add(deadline, &limit);
	while (f->left > 0 && !expired)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(deadline);
	if (expired)
		fail_msg("%d callback(s) missing after %d s", f->left,
		    LOOP_LIMIT_S);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
addr_text(const struct dns_addr *a, char *out, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET) {
		assert_int_equal(a->sslen, sizeof(*sin));
		assert_int_equal(sin->sin_port, 0);
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, out,
		    (socklen_t)len));
	} else {
		assert_int_equal(a->ss.ss_family, AF_INET6);
		assert_int_equal(a->sslen, sizeof(*sin6));
		assert_int_equal(sin6->sin6_port, 0);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, out,
		    (socklen_t)len));
	}
}

static void
on_mx(const struct dns_mx_result *res, void *arg)
{
	struct got *g = arg;
	size_t i;

	g->calls++;
	g->status = res->status;
	g->truncated = res->truncated;
	g->error_set = res->error != NULL;
	g->n = res->n;
	snprintf(g->name, sizeof(g->name), "%s", res->name);
	assert_true(res->n <= DNS_MX_MAX);
	assert_true((res->status == DNS_OK) == (res->n > 0));
	for (i = 0; i < res->n; i++) {
		if (i < MAXOUT)
			snprintf(g->out[i], sizeof(g->out[i]), "%u %s",
			    res->mx[i].preference, res->mx[i].host);
		snprintf(g->hostbuf[i], sizeof(g->hostbuf[i]), "%s",
		    res->mx[i].host);
		g->raw[i].preference = res->mx[i].preference;
		g->raw[i].host = g->hostbuf[i];
	}
	qsort(g->out, res->n < MAXOUT ? res->n : MAXOUT, sizeof(g->out[0]),
	    cmp_str);
	if (g->left != NULL)
		(*g->left)--;
}

static void
on_addr(const struct dns_addr_result *res, void *arg)
{
	struct got *g = arg;
	size_t i;

	g->calls++;
	g->status = res->status;
	g->truncated = res->truncated;
	g->error_set = res->error != NULL;
	g->n = res->n;
	snprintf(g->name, sizeof(g->name), "%s", res->name);
	assert_true(res->n <= DNS_ADDR_MAX);
	assert_true((res->status == DNS_OK) == (res->n > 0));
	for (i = 0; i < res->n; i++) {
		if (i < MAXOUT)
			addr_text(&res->addrs[i], g->out[i], sizeof(g->out[i]));
		else {
			char tmp[64];

			addr_text(&res->addrs[i], tmp, sizeof(tmp));
		}
	}
	qsort(g->out, res->n < MAXOUT ? res->n : MAXOUT, sizeof(g->out[0]),
	    cmp_str);
	if (g->left != NULL)
		(*g->left)--;
}

static void
case_fail(int *nfail, const char *name, const char *fmt, ...)
{
	va_list ap;

	print_error("case \"%s\": ", name);
	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
	print_error("\n");
	(*nfail)++;
}

static void
check_out(int *nfail, const char *name, const struct got *g,
    enum dns_status want, const char *const *wantv)
{
	size_t i, nwant;

	for (nwant = 0; nwant < MAXOUT && wantv[nwant] != NULL; nwant++)
		;
	if (g->calls != 1)
		case_fail(nfail, name, "callback ran %d times", g->calls);
	else if (g->status != want)
		case_fail(nfail, name, "status %s, want %s",
		    dns_status_str(g->status), dns_status_str(want));
	else if (g->error_set != (want != DNS_OK))
		case_fail(nfail, name, "error %s", g->error_set ? "set" :
		    "missing");
	else if (g->n != nwant)
		case_fail(nfail, name, "%zu records, want %zu", g->n, nwant);
	else
		for (i = 0; i < nwant; i++)
			if (strcmp(g->out[i], wantv[i]) != 0) {
				case_fail(nfail, name, "record \"%s\", want "
				    "\"%s\"", g->out[i], wantv[i]);
				break;
			}
}

/* --- tests ----------------------------------------------------------- */

/* Every case of both tables in flight at once on one loop. */
static void
test_tables(void **state)
{
	enum { NMX = sizeof(mx_cases) / sizeof(mx_cases[0]),
	       NADDR = sizeof(addr_cases) / sizeof(addr_cases[0]) };
	struct fixture *f = *state;
	struct got *mx = calloc(NMX, sizeof(*mx));
	struct got *addr = calloc(NADDR, sizeof(*addr));
	int nfail = 0;
	size_t i;

	assert_non_null(mx);
	assert_non_null(addr);
	for (i = 0; i < NMX; i++) {
		mx[i].left = &f->left;
		f->left++;
		dns_query_mx(f->dns, mx_cases[i].query, on_mx, &mx[i]);
	}
	for (i = 0; i < NADDR; i++) {
		addr[i].left = &f->left;
		f->left++;
		dns_query_addr(f->dns, addr_cases[i].query,
		    addr_cases[i].family, on_addr, &addr[i]);
	}
	assert_int_equal(dns_pending(f->dns), NMX + NADDR);
	run_loop(f);
	assert_int_equal(dns_pending(f->dns), 0);
	for (i = 0; i < NMX; i++)
		check_out(&nfail, mx_cases[i].name, &mx[i], mx_cases[i].want,
		    mx_cases[i].records);
	for (i = 0; i < NADDR; i++)
		check_out(&nfail, addr_cases[i].name, &addr[i],
		    addr_cases[i].want, addr_cases[i].addrs);
	/* The result names the query without its final dot. */
	assert_string_equal(mx[1].name, "EXAMPLE.Test");
	free(mx);
	free(addr);
	if (nfail > 0)
		fail_msg("%d table case(s) failed", nfail);
}

/* 253 characters is the most a name can have (255 octets on the wire);
 * longer is refused before anything is sent, however long. */
static void
test_long_name(void **state)
{
	struct fixture *f = *state;
	char name[1000];
	struct got g[3];
	size_t i;

	memset(g, 0, sizeof(g));
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (i = 63; i < sizeof(name) - 1; i += 64)
		name[i] = '.';
	name[253] = '\0';	/* ends with "a": a valid, unknown name */
	g[0].left = g[1].left = g[2].left = &f->left;
	f->left = 3;
	dns_query_mx(f->dns, name, on_mx, &g[0]);
	name[253] = 'a';
	name[254] = '\0';
	dns_query_mx(f->dns, name, on_mx, &g[1]);
	name[254] = 'a';
	dns_query_addr(f->dns, name, AF_UNSPEC, on_addr, &g[2]);
	run_loop(f);
	/* No upstream for names outside .test: REFUSED, but it was sent. */
	assert_int_equal(g[0].status, DNS_TEMPFAIL);
	assert_int_equal(g[1].status, DNS_BADNAME);
	assert_int_equal(g[2].status, DNS_BADNAME);
	assert_true(strlen(g[2].name) <= DNS_NAME_MAX);
}

/* 120 MX records do not fit in UDP: c-ares retries over TCP; the 100
 * most preferred are kept. */
static void
test_many_mx(void **state)
{
	struct fixture *f = *state;
	struct got *g = calloc(1, sizeof(*g));
	unsigned lo = 65535, hi = 0;
	size_t i;

	assert_non_null(g);
	g->left = &f->left;
	f->left = 1;
	dns_query_mx(f->dns, "many.test", on_mx, g);
	run_loop(f);
	assert_int_equal(g->status, DNS_OK);
	assert_int_equal(g->n, DNS_MX_MAX);
	assert_true(g->truncated);
	for (i = 0; i < g->n; i++) {
		if (g->raw[i].preference < lo)
			lo = g->raw[i].preference;
		if (g->raw[i].preference > hi)
			hi = g->raw[i].preference;
	}
	/* h120 .. h21 have preferences 880 .. 979. */
	assert_int_equal(lo, 1000 - MANY_MX);
	assert_int_equal(hi, 1000 - MANY_MX + DNS_MX_MAX - 1);
	free(g);
}

static void
test_many_addr(void **state)
{
	struct fixture *f = *state;
	struct got g;

	memset(&g, 0, sizeof(g));
	g.left = &f->left;
	f->left = 1;
	dns_query_addr(f->dns, "manyaddr.test", AF_INET, on_addr, &g);
	run_loop(f);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.n, DNS_ADDR_MAX);
	assert_true(g.truncated);
}

/* As Postfix does: a malformed name in the answer fails it, for now. */
static void
test_bad_mx_host(void **state)
{
	struct fixture *f = *state;
	struct got g;

	memset(&g, 0, sizeof(g));
	g.left = &f->left;
	f->left = 1;
	dns_query_mx(f->dns, "badmx.test", on_mx, &g);
	run_loop(f);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	assert_int_equal(g.n, 0);
	assert_true(g.error_set);
}

/* What the SMTP client will do: MX, mx_route in the callback, then the
 * addresses of each host, queried from inside the callback. */
struct chain {
	struct fixture		*f;
	struct pool		*pool;
	enum mx_result		 route;
	struct mx_record	*hosts;
	size_t			 nhosts;
	struct got		 addrs[4];
};

static void
chain_on_mx(const struct dns_mx_result *res, void *arg)
{
	struct chain *c = arg;
	size_t i;

	assert_true(res->status == DNS_OK || res->status == DNS_NODATA);
	c->route = mx_route(c->pool, res->name, res->mx, res->n, NULL, 0,
	    mx_random, NULL, &c->hosts, &c->nhosts);
	c->f->left--;
	if (c->route != MX_OK)
		return;
	assert_true(c->nhosts <= 4);
	for (i = 0; i < c->nhosts; i++) {
		c->addrs[i].left = &c->f->left;
		c->f->left++;
		dns_query_addr(c->f->dns, c->hosts[i].host, AF_UNSPEC, on_addr,
		    &c->addrs[i]);
	}
}

static void
test_route_chain(void **state)
{
	struct fixture *f = *state;
	struct chain c[3];
	size_t i;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 3; i++) {
		c[i].f = f;
		c[i].pool = pool_new(NULL);
	}
	f->left = 3;
	dns_query_mx(f->dns, "example.test", chain_on_mx, &c[0]);
	dns_query_mx(f->dns, "nomx.test", chain_on_mx, &c[1]);
	dns_query_mx(f->dns, "nullmx.test", chain_on_mx, &c[2]);
	run_loop(f);

	assert_int_equal(c[0].route, MX_OK);
	assert_int_equal(c[0].nhosts, 2);
	assert_string_equal(c[0].hosts[0].host, "mx1.example.test");
	assert_string_equal(c[0].addrs[0].out[0], "127.0.0.2");
	assert_string_equal(c[0].hosts[1].host, "mx2.example.test");
	assert_int_equal(c[0].addrs[1].n, 2);

	/* NODATA: the implicit MX is the domain itself. */
	assert_int_equal(c[1].route, MX_OK);
	assert_int_equal(c[1].nhosts, 1);
	assert_string_equal(c[1].hosts[0].host, "nomx.test");
	assert_string_equal(c[1].addrs[0].out[0], "127.0.0.4");

	assert_int_equal(c[2].route, MX_NULL);
	for (i = 0; i < 3; i++)
		pool_free(&c[i].pool);
}

/* Even a bad name is reported on the loop, never from inside the call. */
static void
test_never_synchronous(void **state)
{
	struct fixture *f = *state;
	struct got g;

	memset(&g, 0, sizeof(g));
	g.left = &f->left;
	f->left = 1;
	dns_query_mx(f->dns, "bad..name", on_mx, &g);
	assert_int_equal(g.calls, 0);
	assert_int_equal(dns_pending(f->dns), 1);
	run_loop(f);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, DNS_BADNAME);
}

static void
test_cancel_one(void **state)
{
	struct fixture *f = *state;
	struct dns_query *q1, *q2;
	struct got g[3];

	memset(g, 0, sizeof(g));
	g[0].left = g[1].left = g[2].left = &f->left;
	q1 = dns_query_mx(f->dns, "example.test", on_mx, &g[0]);
	dns_query_mx(f->dns, "example.test", on_mx, &g[1]);
	/* Already done (bad name) but not reported yet. */
	q2 = dns_query_addr(f->dns, "bad..name", AF_INET, on_addr, &g[2]);
	assert_int_equal(dns_pending(f->dns), 3);
	dns_cancel(&q1);
	dns_cancel(&q2);
	assert_null(q1);
	assert_null(q2);
	dns_cancel(&q1);	/* NULL: nothing */
	assert_int_equal(dns_pending(f->dns), 1);
	f->left = 1;
	run_loop(f);
	assert_int_equal(g[0].calls, 0);
	assert_int_equal(g[1].calls, 1);
	assert_int_equal(g[1].status, DNS_OK);
	assert_int_equal(g[2].calls, 0);
	/* The dropped query's answer came and went: nothing is left. */
	event_base_dispatch(f->base);
	assert_int_equal(g[0].calls, 0);
	assert_int_equal(dns_pending(f->dns), 0);
}

static void
test_cancel_all(void **state)
{
	struct fixture *f = *state;
	struct got g[4];

	memset(g, 0, sizeof(g));
	dns_query_mx(f->dns, "example.test", on_mx, &g[0]);
	dns_query_addr(f->dns, "mx2.example.test", AF_UNSPEC, on_addr, &g[1]);
	dns_query_mx(f->dns, "bad..name", on_mx, &g[2]);
	dns_cancel_all(f->dns);
	/* Every callback ran, before dns_cancel_all() returned. */
	assert_int_equal(g[0].calls, 1);
	assert_int_equal(g[0].status, DNS_CANCELLED);
	assert_int_equal(g[0].n, 0);
	assert_int_equal(g[1].calls, 1);
	assert_int_equal(g[1].status, DNS_CANCELLED);
	assert_int_equal(g[2].calls, 1);
	assert_int_equal(g[2].status, DNS_CANCELLED);
	assert_int_equal(dns_pending(f->dns), 0);
	event_base_dispatch(f->base);
	assert_int_equal(g[0].calls, 1);
	/* The resolver still works. */
	g[3].left = &f->left;
	f->left = 1;
	dns_query_mx(f->dns, "example.test", on_mx, &g[3]);
	run_loop(f);
	assert_int_equal(g[3].status, DNS_OK);
}

static void
test_free_pending(void **state)
{
	struct fixture *f = *state;
	struct got g[2];

	memset(g, 0, sizeof(g));
	dns_query_mx(f->dns, "example.test", on_mx, &g[0]);
	dns_query_addr(f->dns, "mx1.example.test", AF_INET, on_addr, &g[1]);
	dns_free(&f->dns);
	assert_null(f->dns);
	assert_int_equal(g[0].calls, 1);
	assert_int_equal(g[0].status, DNS_CANCELLED);
	assert_int_equal(g[1].calls, 1);
	assert_int_equal(g[1].status, DNS_CANCELLED);
	/* Nothing of the resolver is left on the loop. */
	assert_int_equal(event_base_dispatch(f->base), 1);
}

/* A callback that starts two queries, one sent and one already done, then
 * frees the resolver. */
struct freer {
	struct fixture	*f;
	struct got	 sent;
	struct got	 done;
	int		 calls;
};

static void
free_on_mx(const struct dns_mx_result *res, void *arg)
{
	struct freer *fr = arg;

	fr->calls++;
	assert_int_equal(res->status, DNS_OK);
	dns_query_mx(fr->f->dns, "example.test", on_mx, &fr->sent);
	dns_query_mx(fr->f->dns, "bad..name", on_mx, &fr->done);
	dns_free(&fr->f->dns);
	assert_int_equal(fr->sent.calls, 1);
	assert_int_equal(fr->sent.status, DNS_CANCELLED);
	assert_int_equal(fr->done.calls, 1);
	assert_int_equal(fr->done.status, DNS_CANCELLED);
	fr->f->left--;
}

static void
test_free_from_callback(void **state)
{
	struct fixture *f = *state;
	struct freer fr;

	memset(&fr, 0, sizeof(fr));
	fr.f = f;
	f->left = 1;
	dns_query_mx(f->dns, "nullmx.test", free_on_mx, &fr);
	run_loop(f);
	assert_int_equal(fr.calls, 1);
	assert_null(f->dns);
	assert_int_equal(event_base_dispatch(f->base), 1);
}

/* A callback run by dns_cancel_all() may start a query: it is reported as
 * cancelled before dns_cancel_all() returns, and nothing stays behind. */
struct restarter {
	struct dns	*dns;
	struct got	 second;
	int		 calls;
};

static void
restart_on_mx(const struct dns_mx_result *res, void *arg)
{
	struct restarter *r = arg;

	r->calls++;
	assert_int_equal(res->status, DNS_CANCELLED);
	dns_query_mx(r->dns, "example.test", on_mx, &r->second);
}

static void
test_query_while_cancelling(void **state)
{
	struct fixture *f = *state;
	struct restarter r;

	memset(&r, 0, sizeof(r));
	r.dns = f->dns;
	dns_query_mx(f->dns, "example.test", restart_on_mx, &r);
	dns_cancel_all(f->dns);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.second.calls, 1);
	assert_int_equal(r.second.status, DNS_CANCELLED);
	assert_int_equal(dns_pending(f->dns), 0);
	assert_int_equal(event_base_dispatch(f->base), 1);
}

/* A server that never answers: a temporary failure after the timeout. */
static void
test_timeout(void **state)
{
	struct fixture *f = *state;
	struct dns_options opts = { NULL, 200, 1 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct timespec t0, t1;
	const char *error;
	char server[32];
	struct dns *dns;
	struct got g;
	int fd;

	memset(&g, 0, sizeof(g));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(sin.sin_port));
	opts.server = server;
	dns = dns_new_opts(f->base, &opts, &error);
	assert_non_null(dns);

	g.left = &f->left;
	f->left = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dns_query_mx(dns, "example.test", on_mx, &g);
	run_loop(f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	assert_true(g.error_set);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	dns_free(&dns);
	close(fd);
}

/* Nothing listens: ICMP port unreachable, a temporary failure. */
static void
test_unreachable(void **state)
{
	struct fixture *f = *state;
	struct dns_options opts = { NULL, 500, 2 };
	const char *error;
	char server[32];
	struct dns *dns;
	struct got g[2];
	int port;

	memset(g, 0, sizeof(g));
	assert_true((port = free_port()) > 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	opts.server = server;
	dns = dns_new_opts(f->base, &opts, &error);
	assert_non_null(dns);
	g[0].left = g[1].left = &f->left;
	f->left = 2;
	dns_query_mx(dns, "example.test", on_mx, &g[0]);
	dns_query_addr(dns, "mx2.example.test", AF_UNSPEC, on_addr, &g[1]);
	run_loop(f);
	assert_int_equal(g[0].status, DNS_TEMPFAIL);
	assert_int_equal(g[1].status, DNS_TEMPFAIL);
	dns_free(&dns);
}

static void
test_server_strings(void **state)
{
	static const struct {
		const char	*server;
		bool		 ok;
	} cases[] = {
		{ "127.0.0.1", true },
		{ "127.0.0.1:5353", true },
		{ "::1", true },
		{ "[::1]", true },
		{ "[::1]:5353", true },
		{ "", false },
		{ "localhost", false },
		{ "127.0.0.1:", false },
		{ "127.0.0.1:0", false },
		{ "127.0.0.1:65536", false },
		{ "127.0.0.1:53x", false },
		{ "[127.0.0.1]:53", false },
		{ "[::1", false },
		{ "[::1]53", false },
		{ "1.2.3.4:53:1", false },
		{ "1.2.3.4.5", false },
		{ "0123456789012345678901234567890123456789012345678901234567"
		  "890123456789", false },
	};
	struct fixture *f = *state;
	struct dns *dns;
	const char *error;
	int nfail = 0;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error = NULL;
		dns = dns_new(f->base, cases[i].server, &error);
		if ((dns != NULL) != cases[i].ok)
			case_fail(&nfail, cases[i].server, "%s",
			    dns != NULL ? "accepted" : error);
		else if (dns == NULL && error == NULL)
			case_fail(&nfail, cases[i].server, "no error");
		dns_free(&dns);
	}
	/* NULL: the servers of /etc/resolv.conf. */
	dns = dns_new(f->base, NULL, &error);
	if (dns == NULL)
		case_fail(&nfail, "(system)", "%s", error);
	dns_free(&dns);
	if (nfail > 0)
		fail_msg("%d server string(s) misjudged", nfail);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("table: MX, null MX, A, AAAA, NODATA, NXDOMAIN, REFUSED and "
		    "bad names, every query in flight at once", test_tables),
		T("names of 253 characters are sent, longer ones refused",
		    test_long_name),
		T("an MX answer over TCP keeps the 100 most preferred of 120",
		    test_many_mx),
		T("at most 64 addresses of 70", test_many_addr),
		T("a malformed MX host name is a temporary failure",
		    test_bad_mx_host),
		T("MX, mx_route and the hosts' addresses chain from callbacks; "
		    "NODATA routes to the domain, null MX to nothing",
		    test_route_chain),
		T("a callback never runs inside the call that started it",
		    test_never_synchronous),
		T("a cancelled query's callback never runs, others do",
		    test_cancel_one),
		T("dns_cancel_all reports every query as cancelled before it "
		    "returns, and the resolver stays usable", test_cancel_all),
		T("dns_free reports pending queries as cancelled and leaves "
		    "nothing on the loop", test_free_pending),
		T("a callback may free the resolver; the others are cancelled",
		    test_free_from_callback),
		T("a query started while cancelling is cancelled too",
		    test_query_while_cancelling),
		T("a silent server is a temporary failure after the timeout",
		    test_timeout),
		T("an unreachable server is a temporary failure",
		    test_unreachable),
		T("server strings: ip, ip:port, [ipv6]:port; junk refused",
		    test_server_strings),
	};

	return cmocka_run_group_tests_name("dns", tests, group_setup,
	    group_teardown);
}
