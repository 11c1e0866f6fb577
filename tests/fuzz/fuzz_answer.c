/* tests/fuzz/fuzz_answer.c -- any bytes as a query: the reply must parse and fit its limit. */
#include "tests/fuzz/fuzz.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/acache.h"
#include "zone/answer.h"
#include "zone/ipaddr.h"
#include "zone/zone.h"

#define EDNS_MAX 1232

static const struct zone_params fuzz_params = {
	.domain = "mesos", .ttl = 60, .soa_minttl = 30,
	.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
	.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
	.recurse_on = 1, .set_tc = 1, .edns_max = EDNS_MAX,
};

static void add(struct zone_builder *b, const char *owner, const char *ip)
{
	struct ipaddr a;

	if (ipaddr_parse(ip, &a) != 0 || zone_builder_add_addr(b, owner, &a) != 0)
		abort();
}

/* The zone every input is answered from; built once, kept for the process. */
static const struct zone *loaded_zone(void)
{
	static struct zone *z;
	char ip[32];

	if (z)
		return z;
	struct zone_builder *b = zone_builder_new(&fuzz_params);
	if (!b)
		abort();
	add(b, "ns1.mesos", "10.0.0.53");
	add(b, "nginx.marathon.mesos", "10.0.0.1");
	add(b, "nginx.marathon.mesos", "10.0.0.2");
	add(b, "nginx.marathon.mesos", "fd00::1");
	add(b, "nginx-abcde-s1.marathon.mesos", "10.0.1.1");
	add(b, "nginx-fghij-s2.marathon.mesos", "fd00::2");
	add(b, "nginx.marathon.slave.mesos", "10.0.2.1");
	if (zone_builder_add_srv(b, "_nginx._tcp.marathon.mesos", 0, 1, 31000,
				 "nginx-abcde-s1.marathon.mesos") ||
	    zone_builder_add_srv(b, "_nginx._tcp.marathon.mesos", 0, 1, 31001,
				 "nginx-fghij-s2.marathon.mesos") ||
	    zone_builder_add_srv(b, "_ext._tcp.marathon.mesos", 0, 1, 80, "www.example.com"))
		abort();
	for (int i = 1; i <= 100; i++) {
		snprintf(ip, sizeof(ip), "10.1.0.%d", i);
		add(b, "big.mesos", ip);
	}
	z = zone_builder_finish(b, NULL, 1700000000u);
	if (!z)
		abort();
	return z;
}

static const struct zone *unloaded_zone(void)
{
	static struct zone *z;

	if (!z && !(z = zone_new_unloaded(&fuzz_params)))
		abort();
	return z;
}

static void check(const struct zone *z, const uint8_t *data, size_t size, int tcp, size_t outcap)
{
	static uint8_t out[ANSWER_MAX];
	struct answer_req req = { tcp, (uint32_t)size, NULL };
	struct answer_info info;
	size_t n = answer_query(z, data, size, out, outcap, &req, &info);

	if (!tcp) {
		/* Through a reply cache (a small one, so it also empties when
		 * full): the same length and info, and a reply that parses. */
		static struct acache *cache;
		static uint8_t cout[ANSWER_MAX];
		struct answer_req creq = { 0, req.rotate, cache };
		struct answer_info cinfo;
		ldns_pkt *cp = NULL;
		if (!cache && !(cache = acache_new(64 * 1024)))
			abort();
		creq.cache = cache;
		size_t cn = answer_query(z, data, size, cout, outcap, &creq, &cinfo);
		if (cn != n || memcmp(&cinfo, &info, sizeof(info)) != 0)
			abort();
		if (cn && ldns_wire2pkt(&cp, cout, cn) != LDNS_STATUS_OK)
			abort();
		ldns_pkt_free(cp);
	}
	if (n == 0) {
		if (info.rcode != -1)
			abort();	/* dropped, but says it answered */
		return;
	}
	size_t lim = tcp ? outcap : info.edns ? EDNS_MAX : 512;
	if (lim > outcap)
		lim = outcap;
	if (n < 12 || n > lim || info.rcode < 0)
		abort();
	if (out[0] != data[0] || out[1] != data[1] || !(out[2] & 0x80))
		abort();	/* ID copied, QR set */
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, out, n) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(loaded_zone(), data, size, 0, ANSWER_MAX);
	check(loaded_zone(), data, size, 1, ANSWER_MAX);
	check(loaded_zone(), data, size, 0, 512);
	check(unloaded_zone(), data, size, 0, ANSWER_MAX);
	return 0;
}
