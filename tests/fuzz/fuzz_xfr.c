/* tests/fuzz/fuzz_xfr.c -- any bytes as a transfer request: every message must parse and fit. */
#include "tests/fuzz/fuzz.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/ipaddr.h"
#include "zone/xfr.h"
#include "zone/zone.h"

#define MSG_CAP XFR_MSG_MIN

static struct zone *build(const char *domain, int k, const struct zone *prev, uint32_t serial)
{
	struct zone_params p = {
		.domain = domain, .ttl = 60, .soa_minttl = 30,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
		.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	char name[64], ip[32];

	if (!b)
		abort();
	for (int i = 0; i < 40 && strcmp(domain, "mesos") == 0; i++) {
		struct ipaddr a;
		snprintf(name, sizeof(name), "app%d.marathon.mesos", i);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i == 0 ? k : 0, i + 1);
		if (ipaddr_parse(ip, &a) || zone_builder_add_addr(b, name, &a) ||
		    zone_builder_add_srv(b, "_app._tcp.marathon.mesos", 0, 1, (uint16_t)(31000 + i), name))
			abort();
	}
	if (strcmp(domain, "mesos") != 0 &&
	    zone_builder_add_ptr(b, "1.0.0.10.in-addr.arpa", "app0.marathon.mesos"))
		abort();
	struct zone *z = zone_builder_finish(b, prev, serial);
	if (!z)
		abort();
	return z;
}

/* A main zone with two versions of history and a reverse zone; built once. */
static const struct zone *the_zone(void)
{
	static struct zone *z;

	if (z)
		return z;
	struct zone *v1 = build("mesos", 1, NULL, 1000);
	struct zone *v2 = build("mesos", 2, v1, 2000);
	z = build("mesos", 3, v2, 3000);
	zone_free(v1);
	zone_free(v2);
	struct zone **rev = malloc(sizeof(*rev));
	if (!rev)
		abort();
	rev[0] = build("10.in-addr.arpa", 0, NULL, 3000);
	zone_set_reverse(z, rev, 1);
	return z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[MSG_CAP];
	const struct zone *z = the_zone();

	(void)xfr_is_request(data, size);
	struct xfr *x = xfr_new(z, data, size);
	if (!x)
		abort();
	size_t n, msgs = 0;
	while ((n = xfr_next(x, out, sizeof(out))) > 0) {
		ldns_pkt *p = NULL;
		if (n > sizeof(out) || ldns_wire2pkt(&p, out, n) != LDNS_STATUS_OK)
			abort();
		if (size >= 2 && ldns_pkt_id(p) != (uint16_t)(data[0] << 8 | data[1]))
			abort();
		ldns_pkt_free(p);
		if (++msgs > 1000)
			abort();	/* a transfer of this zone never needs that many */
	}
	if (xfr_get_info(x)->messages != msgs)
		abort();
	xfr_free(x);
	return 0;
}
