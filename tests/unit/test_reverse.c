/* tests/unit/test_reverse.c -- reverse zones: PTR names, the one-name rule, zone names, building. */
#include "zone/reverse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/state.h"
#include "tests/unit/tap.h"
#include "zone/diff.h"
#include "zone/dname.h"
#include "zone/ipaddr.h"
#include "zone/records.h"
#include "zone/zone.h"

static struct ipaddr ip(const char *s)
{
	struct ipaddr a;

	if (ipaddr_parse(s, &a) != 0)
		memset(&a, 0, sizeof(a));
	return a;
}

static const struct zone_params params = {
	.domain = "mesos", .ttl = 60, .soa_minttl = 60,
	.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
	.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
	.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
};

static void test_names(void)
{
	char buf[128];
	struct ipaddr a = ip("10.1.2.3"), b = ip("2001:db8::567:89ab"), none = { 0 };

	reverse_name(&a, buf, sizeof(buf));
	is_str(buf, "3.2.1.10.in-addr.arpa", "IPv4 reverse name");
	reverse_name(&b, buf, sizeof(buf));
	is_str(buf, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	       "IPv6 reverse name: 32 nibbles, least significant first");
	is_int(reverse_name(&none, buf, sizeof(buf)), 0, "no reverse name without an address");
	is_int(reverse_name(&b, buf, 20), 0, "buffer too small: 0");
	reverse_auto_zone(&a, buf, sizeof(buf));
	is_str(buf, "2.1.10.in-addr.arpa", "auto zone of IPv4: its /24");
	reverse_auto_zone(&b, buf, sizeof(buf));
	is_str(buf, "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "auto zone of IPv6: its /64");
}

static void test_zone_check(void)
{
	static const char *const good[] = {
		"10.in-addr.arpa", "0.10.in-addr.arpa", "255.255.255.255.in-addr.arpa",
		"8.b.d.0.1.0.0.2.ip6.arpa", "f.ip6.arpa",
		"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	};
	static const char *const bad[] = {
		"in-addr.arpa", "ip6.arpa", "mesos", "10.in-addr.arpa.example", "256.in-addr.arpa",
		"010.in-addr.arpa", "1.2.3.4.5.in-addr.arpa", "a.in-addr.arpa", "10..in-addr.arpa",
		"ab.ip6.arpa", "g.ip6.arpa",
		"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (reverse_zone_check(good[i]) != NULL) {
			printf("# rejected: %s (%s)\n", good[i], reverse_zone_check(good[i]));
			n++;
		}
	is_int(n, 0, "valid reverse zones accepted");
	n = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (reverse_zone_check(bad[i]) == NULL) {
			printf("# accepted: %s\n", bad[i]);
			n++;
		}
	is_int(n, 0, "invalid reverse zones rejected with a reason");
}

/* The one-name-per-address rule: rank first, then byte order. */
static void test_rule(void)
{
	struct reverse_ptrs *p = reverse_ptrs_new();
	struct ipaddr a = ip("10.0.0.1"), b = ip("10.0.0.2"), c = ip("fd00::1");

	reverse_ptrs_add(p, &a, REVERSE_MASTER, "master0.mesos");
	reverse_ptrs_add(p, &a, REVERSE_AGENT, "slave.mesos");
	reverse_ptrs_add(p, &a, REVERSE_TASK, "web-zzzzz-s1.marathon.mesos");
	reverse_ptrs_add(p, &a, REVERSE_TASK, "Web-AAAAA-s1.Marathon.Mesos.");
	reverse_ptrs_add(p, &b, REVERSE_MASTER, "master1.mesos");
	reverse_ptrs_add(p, &b, REVERSE_AGENT, "agent-7.example.com");
	reverse_ptrs_add(p, &c, REVERSE_MASTER, "master2.mesos");
	is_str(reverse_ptrs_lookup(p, &a), "web-aaaaa-s1.marathon.mesos",
	       "task beats agent and master; among tasks the first in byte order, lower-cased");
	is_str(reverse_ptrs_lookup(p, &b), "agent-7.example.com", "agent beats master");
	is_str(reverse_ptrs_lookup(p, &c), "master2.mesos", "a master alone keeps its name");
	struct ipaddr d = ip("10.0.0.3");
	ok(reverse_ptrs_lookup(p, &d) == NULL, "an unclaimed address has no name");
	is_int(reverse_ptrs_add(p, &d, REVERSE_TASK, "bad..name"), MDNS_EINVAL, "bad name refused");
	reverse_ptrs_free(p);
}

/* Records offered by records_build from a state: tasks, agents, masters. */
#define STATE \
	"{\"leader\": \"master@10.9.0.1:5050\", \"slaves\": [" \
	"{\"id\": \"A-S0\", \"hostname\": \"agent0.dc1.example.com\", \"pid\": \"slave(1)@10.1.0.1:5051\"}," \
	"{\"id\": \"A-S1\", \"hostname\": \"10.1.0.2\", \"pid\": \"slave(1)@10.1.0.2:5051\"}]," \
	"\"frameworks\": [{\"name\": \"marathon\", \"pid\": \"scheduler(1)@10.9.0.1:8080\", \"tasks\": [" \
	"{\"id\": \"web.1\", \"name\": \"web\", \"slave_id\": \"A-S0\", \"state\": \"TASK_RUNNING\"," \
	" \"statuses\": [{\"state\": \"TASK_RUNNING\", \"timestamp\": 1, \"container_status\": " \
	"{\"network_infos\": [{\"ip_addresses\": [{\"ip_address\": \"10.2.0.5\"}, {\"ip_address\": \"fd00::5\"}]}]}}]}," \
	"{\"id\": \"host.1\", \"name\": \"hostnet\", \"slave_id\": \"A-S1\", \"state\": \"TASK_RUNNING\"," \
	" \"statuses\": [{\"state\": \"TASK_RUNNING\", \"timestamp\": 1, \"container_status\": " \
	"{\"network_infos\": [{\"ip_addresses\": [{\"ip_address\": \"10.1.0.2\"}]}]}}]}" \
	"]}]}"

static void test_records_offer(void)
{
	static const enum ip_source src[] = { IPSRC_NETINFO, IPSRC_HOST };
	struct records_master masters[1];
	struct ipaddr mip = ip("10.9.0.2");
	struct records_config rc = {
		.domain = "mesos", .srv_weight = 1, .ip_sources = src, .nip_sources = 2,
		.masters = masters, .nmasters = 1,
	};
	struct mesos_state *st = NULL;
	char err[256], want[128];

	masters[0].ips.v = &mip;
	masters[0].ips.n = 1;
	masters[0].port = 5050;
	if (state_parse(STATE, strlen(STATE), &st, err, sizeof(err)) != 0) {
		ok(0, "state parses: %s", err);
		return;
	}
	rc.ptrs = reverse_ptrs_new();
	struct zone_builder *b = zone_builder_new(&params);
	is_int(records_build(b, st, &rc, NULL), 0, "records built with PTR collection");
	zone_builder_free(b);

	struct ipaddr t4 = ip("10.2.0.5"), t6 = ip("fd00::5"), a0 = ip("10.1.0.1"),
		      a1 = ip("10.1.0.2"), m0 = ip("10.9.0.2"), lead = ip("10.9.0.1");
	const char *n4 = reverse_ptrs_lookup(rc.ptrs, &t4);
	ok(n4 && strncmp(n4, "web-", 4) == 0 && strstr(n4, ".marathon.mesos") &&
	   strlen(n4) == strlen("web-xxxxx-s0.marathon.mesos"),
	   "a task's own IPv4 address names its canonical name (%s)", n4 ? n4 : "none");
	is_str(reverse_ptrs_lookup(rc.ptrs, &t6), n4 ? n4 : "?", "and its IPv6 address too");
	is_str(reverse_ptrs_lookup(rc.ptrs, &a0), "agent0.dc1.example.com",
	       "an agent's address names its host name");
	is_str(reverse_ptrs_lookup(rc.ptrs, &a1), "slave.mesos",
	       "a numeric agent host name falls back to slave.<domain>; a host-network task does "
	       "not take the agent's address");
	is_str(reverse_ptrs_lookup(rc.ptrs, &m0), "master0.mesos", "a listed master: master0");
	snprintf(want, sizeof(want), "master1.mesos");
	is_str(reverse_ptrs_lookup(rc.ptrs, &lead), want,
	       "the leader missing from the list: the next number");
	reverse_ptrs_free(rc.ptrs);
	state_free(st);
}

static const struct zone *find(const struct zone *main, const char *name, int *off)
{
	uint8_t w[DNAME_MAXLEN];
	size_t n = dname_from_text(name, w);
	return zone_find(main, w, n, off);
}

static void test_build(void)
{
	struct reverse_ptrs *p = reverse_ptrs_new();
	struct ipaddr a = ip("10.0.0.1"), b = ip("10.20.0.1"), c = ip("192.168.1.1"),
		      d = ip("fd00::1");
	const char *zones[] = { "10.in-addr.arpa", "20.10.in-addr.arpa" };
	struct reverse_config rc = { &params, zones, 1, 0 };
	struct reverse_stats st;
	struct zone **rev = NULL;
	size_t n = 0;

	reverse_ptrs_add(p, &a, REVERSE_TASK, "a.mesos");
	reverse_ptrs_add(p, &b, REVERSE_TASK, "b.mesos");
	reverse_ptrs_add(p, &c, REVERSE_TASK, "c.mesos");
	reverse_ptrs_add(p, &d, REVERSE_AGENT, "slave.mesos");
	is_int(reverse_build(&rc, p, NULL, 1000, &rev, &n, &st), 0, "reverse zones built");
	is_int(n, 1, "one zone listed, one built");
	is_int(st.ptrs, 2, "two PTRs inside 10.in-addr.arpa");
	is_int(st.unplaced, 2, "two addresses outside every zone");
	ok(n == 1 && rev[0]->serial == 1000 && rev[0]->nrecords == 4, "SOA, NS and two PTRs");

	/* Published with a main zone: longest match picks the apex. */
	struct zone_builder *mb = zone_builder_new(&params);
	struct zone *main = zone_builder_finish(mb, NULL, 1000);
	zone_set_reverse(main, rev, n);
	int off = -2;
	ok(find(main, "1.0.0.10.in-addr.arpa", &off) == main->rev[0] && off == 6,
	   "a PTR name finds its reverse zone and the apex offset");
	ok(find(main, "nginx.marathon.mesos", &off) == main && off == 15, "a domain name finds the main zone");
	ok(find(main, "1.1.168.192.in-addr.arpa", &off) == NULL, "another reverse name: no zone");
	ok(find(main, "example.com", &off) == NULL, "outside: no zone");
	uint8_t w[DNAME_MAXLEN];
	size_t wl = dname_from_text("10.in-addr.arpa", w);
	ok(zone_find_apex(main, w, wl) == main->rev[0], "zone_find_apex: the reverse apex");
	wl = dname_from_text("0.10.in-addr.arpa", w);
	ok(zone_find_apex(main, w, wl) == NULL, "zone_find_apex: not an apex");

	/* Nested zones: the PTR lands in the deepest one. */
	rc.nzones = 2;
	struct zone **rev2 = NULL;
	size_t n2 = 0;
	is_int(reverse_build(&rc, p, main, 1001, &rev2, &n2, &st), 0, "nested zones built");
	struct zone_builder *mb2 = zone_builder_new(&params);
	struct zone *main2 = zone_builder_finish(mb2, main, 1001);
	zone_set_reverse(main2, rev2, n2);
	const struct zone *z20 = find(main2, "1.0.20.10.in-addr.arpa", &off);
	ok(z20 && z20->apexlen == dname_from_text("20.10.in-addr.arpa", w) && off == 4,
	   "longest match: 20.10.in-addr.arpa");
	const struct zone *z10 = find(main2, "1.0.0.10.in-addr.arpa", &off);
	ok(z10 && z10 != z20 && z10->nrecords == 3, "the outer zone keeps the rest (SOA, NS, PTR)");
	ok(z10 && z10->serial == 1001 && z10->nhist == 1 && z10->hist[0]->from == 1000,
	   "a zone that changed gets a new serial and a history entry");
	ok(!zone_set_changed(main2, main2) && zone_set_changed(main, main2),
	   "zone_set_changed sees the new set");

	/* auto: one zone per /24 and /64. */
	struct reverse_config ac = { &params, NULL, 0, 1 };
	struct zone **rev3 = NULL;
	size_t n3 = 0;
	is_int(reverse_build(&ac, p, NULL, 1000, &rev3, &n3, &st), 0, "auto zones built");
	is_int(n3, 4, "auto: four zones for four addresses in four /24 or /64");
	is_int(st.ptrs, 4, "auto: every address placed");
	for (size_t i = 0; i < n3; i++)
		zone_free(rev3[i]);
	free(rev3);

	const char *badz[] = { "mesos" };
	struct reverse_config bc = { &params, badz, 1, 0 };
	ok(reverse_build(&bc, p, NULL, 1, &rev3, &n3, NULL) == MDNS_EINVAL,
	   "a name that is no reverse zone: MDNS_EINVAL");
	zone_free(main);
	zone_free(main2);
	reverse_ptrs_free(p);
}

int main(void)
{
	test_names();
	test_zone_check();
	test_rule();
	test_records_offer();
	test_build();
	return done_testing();
}
