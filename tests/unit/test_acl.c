/* tests/unit/test_acl.c -- prefix lists: parsing, matching, interface networks. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/acl.h"
#include "lib/err.h"
#include "tests/unit/tap.h"

static struct sockaddr_storage sa_of(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	return ss;
}

static int m(const struct acl *a, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);
	return acl_match(a, (struct sockaddr *)&ss);
}

static void test_cidr(void)
{
	struct acl *a = acl_new();
	char buf[256];

	ok(a != NULL, "acl_new");
	ok(!m(a, "127.0.0.1"), "an empty list matches nothing");
	is_int(acl_add_cidr(a, "10.1.0.0/16"), 0, "add 10.1.0.0/16");
	is_int(acl_add_cidr(a, "192.0.2.7"), 0, "add a bare IPv4 (host prefix)");
	is_int(acl_add_cidr(a, "2001:db8:1::/48"), 0, "add an IPv6 prefix");
	is_int(acl_add_cidr(a, "172.16.5.9/12"), 0, "host bits beyond the prefix are masked");
	is_int(acl_add_cidr(a, "10.1.0.0/16"), 0, "a repeat is accepted");
	is_int((int)acl_count(a), 4, "the repeat is not stored twice");
	ok(m(a, "10.1.0.1") && m(a, "10.1.255.255"), "inside 10.1.0.0/16");
	ok(!m(a, "10.2.0.1") && !m(a, "10.0.255.255"), "outside 10.1.0.0/16");
	ok(m(a, "192.0.2.7") && !m(a, "192.0.2.8"), "host prefix: exactly that address");
	ok(m(a, "172.31.255.1") && !m(a, "172.32.0.1"), "172.16.0.0/12 after masking");
	ok(m(a, "2001:db8:1:ffff::1") && !m(a, "2001:db8:2::1"), "IPv6 /48");
	ok(m(a, "::ffff:10.1.2.3"), "IPv4-mapped IPv6 client matches the IPv4 prefix");
	ok(!m(a, "::ffff:10.2.2.3"), "IPv4-mapped IPv6 client outside it does not");
	is_str(acl_format(a, buf, sizeof(buf)),
	       "10.1.0.0/16, 192.0.2.7/32, 2001:db8:1::/48, 172.16.0.0/12", "format");
	acl_format(a, buf, 20);
	ok(strlen(buf) < 20, "format truncates to the buffer");

	const char *bad[] = { "", "/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x",
			      "10.0.0.256", "host.example", "10.0.0.0/0008" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(acl_add_cidr(a, bad[i]), MDNS_EINVAL, "rejects '%s'", bad[i]);
	acl_free(a);
	acl_free(NULL);
	ok(1, "acl_free(NULL) returns (a crash would end the suite)");
}

static void test_edges(void)
{
	struct acl *a = acl_new();

	acl_add_cidr(a, "0.0.0.0/0");
	ok(m(a, "1.2.3.4") && m(a, "255.255.255.255"), "0.0.0.0/0 matches every IPv4");
	ok(!m(a, "2001:db8::1"), "0.0.0.0/0 matches no IPv6");
	acl_free(a);
	a = acl_new();
	acl_add_cidr(a, "::/0");
	ok(m(a, "2001:db8::1"), "::/0 matches IPv6");
	acl_free(a);
	a = acl_new();
	acl_add_cidr(a, "10.0.0.0/9");
	ok(m(a, "10.127.0.1") && !m(a, "10.128.0.1"), "a prefix that is not on a byte boundary");
	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	ok(!acl_match(a, (struct sockaddr *)&un), "other address families never match");
	acl_free(a);
	a = acl_new();
	acl_add_loopback(a);
	ok(m(a, "127.0.0.1") && m(a, "127.255.0.9") && m(a, "::1"), "loopback: 127/8 and ::1");
	ok(!m(a, "128.0.0.1") && !m(a, "::2"), "loopback: nothing else");
	acl_free(a);
}

/* Interface lists made by hand: what getifaddrs(3) would give. */
static void test_ifaddrs(void)
{
	struct sockaddr_storage a1 = sa_of("192.168.7.20"), m1 = sa_of("255.255.255.0");
	struct sockaddr_storage a2 = sa_of("fd00:1:2:3::9"), m2 = sa_of("ffff:ffff:ffff:ffff::");
	struct sockaddr_storage a3 = sa_of("10.9.8.7");	/* no netmask */
	struct ifaddrs i3 = { .ifa_next = NULL, .ifa_name = "tun0",
			      .ifa_addr = (struct sockaddr *)&a3, .ifa_netmask = NULL };
	struct ifaddrs i2 = { .ifa_next = &i3, .ifa_name = "eth0",
			      .ifa_addr = (struct sockaddr *)&a2, .ifa_netmask = (struct sockaddr *)&m2 };
	struct ifaddrs i1 = { .ifa_next = &i2, .ifa_name = "eth0",
			      .ifa_addr = (struct sockaddr *)&a1, .ifa_netmask = (struct sockaddr *)&m1 };
	struct ifaddrs i0 = { .ifa_next = &i1, .ifa_name = "bond0", .ifa_addr = NULL };
	struct acl *net = acl_new(), *host = acl_new();
	char buf[256];

	is_int(acl_add_ifaddrs(net, &i0, true), 0, "networks of an interface list");
	is_str(acl_format(net, buf, sizeof(buf)), "192.168.7.0/24, fd00:1:2:3::/64",
	       "networks: address & netmask; no address or no netmask: skipped");
	ok(m(net, "192.168.7.200") && !m(net, "192.168.8.1"), "a neighbour on the LAN matches");
	is_int(acl_add_ifaddrs(host, &i0, false), 0, "host addresses of an interface list");
	is_str(acl_format(host, buf, sizeof(buf)), "192.168.7.20/32, fd00:1:2:3::9/128, 10.9.8.7/32",
	       "host addresses, with or without a netmask");
	acl_free(net);
	acl_free(host);

	/* The real machine: loopback is always an interface address. */
	struct acl *own = acl_new();
	is_int(acl_add_local(own, false), 0, "getifaddrs works here");
	ok(m(own, "127.0.0.1"), "127.0.0.1 is one of this host's addresses");
	acl_free(own);
}

int main(void)
{
	test_cidr();
	test_edges();
	test_ifaddrs();
	return done_testing();
}
