/* test-cidr: network parsing and matching, IPv4, IPv6 and mapped. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cidr.h"

static const struct {
	const char	*net;
	const char	*peer;
	int		 match;
} cases[] = {
	{ "127.0.0.0/8",	"127.0.0.1",		1 },
	{ "127.0.0.0/8",	"127.255.255.254",	1 },
	{ "127.0.0.0/8",	"128.0.0.1",		0 },
	{ "192.0.2.7",		"192.0.2.7",		1 },
	{ "192.0.2.7",		"192.0.2.8",		0 },
	{ "192.0.2.0/25",	"192.0.2.127",		1 },
	{ "192.0.2.0/25",	"192.0.2.128",		0 },
	{ "0.0.0.0/0",		"203.0.113.9",		1 },
	{ "[::1]/128",		"::1",			1 },
	{ "::1",		"::2",			0 },
	{ "2001:db8::/32",	"2001:db8:ffff::1",	1 },
	{ "2001:db8::/33",	"2001:db8:8000::1",	0 },
	{ "127.0.0.0/8",	"::ffff:127.0.0.1",	1 },
	{ "10.0.0.0/8",		"::ffff:127.0.0.1",	0 },
	{ "::/0",		"127.0.0.1",		0 },
};

static void
peer(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
}

static void
test_networks_match_their_addresses_only(void **unused)
{
	struct sockaddr_storage ss;
	struct cidr c;
	const char *error;
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cidr_parse(cases[i].net, &c, &error), 0);
		peer(cases[i].peer, &ss);
		if (cidr_match(&c, (struct sockaddr *)&ss) != cases[i].match)
			fail_msg("%s vs %s", cases[i].net, cases[i].peer);
	}
}

static void
test_bad_networks_are_refused(void **unused)
{
	static const char *bad[] = { "", "/8", "127.0.0.1/33", "::1/129",
	    "[::1", "host.example/8", "127.0.0.1/", "127.0.0.1/x",
	    "1.2.3.4.5/8" };
	struct cidr c;
	const char *error;
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], &c, &error) != -1)
			fail_msg("accepted %s", bad[i]);
}

static void
test_peer_text_unmaps_ipv4(void **unused)
{
	struct sockaddr_storage ss;
	char out[64];

	(void)unused;
	peer("::ffff:192.0.2.1", &ss);
	cidr_peer_text((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "192.0.2.1");
	peer("2001:db8::1", &ss);
	cidr_peer_text((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "2001:db8::1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks_match_their_addresses_only),
		cmocka_unit_test(test_bad_networks_are_refused),
		cmocka_unit_test(test_peer_text_unmaps_ipv4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
