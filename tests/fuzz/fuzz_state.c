/* tests/fuzz/fuzz_state.c -- any bytes as a master state: parse, build a zone, check it. */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/state.h"
#include "lib/zonecfg.h"
#include "zone/records.h"
#include "zone/zone.h"

/* A hostname "resolves" to a fixed address so host-dependent records are built too. */
static const struct iplist *fake_resolve(void *ctx, const char *host)
{
	static struct ipaddr a = { .af = 4, .b = { 192, 0, 2, 1 } };
	static const struct iplist one = { &a, 1 };
	(void)ctx;
	(void)host;
	return &one;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int init;
	struct mesos_state *st = NULL;
	char err[256];

	if (!init) {
		config_defaults(&cfg);
		init = 1;
	}
	/* state_parse takes text; give it a NUL-terminated copy. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	int rc = state_parse(text, size, &st, err, sizeof(err));
	free(text);
	if (rc != 0) {
		if (st || !err[0])
			abort();	/* failure must leave no model and say why */
		return 0;
	}

	struct zone_params zp;
	struct records_config rc_cfg;
	struct records_stats stats;
	struct ipaddr ns = { .af = 4, .b = { 127, 0, 0, 1 } };
	struct iplist ns_ips = { &ns, 1 };
	zonecfg_params(&cfg, &zp);
	zonecfg_records(&cfg, &rc_cfg);
	rc_cfg.ns_ips = &ns_ips;
	rc_cfg.resolve = fake_resolve;
	struct zone_builder *b = zone_builder_new(&zp);
	if (!b || records_build(b, st, &rc_cfg, &stats) != 0)
		abort();
	struct zone *z = zone_builder_finish(b, NULL, 1);
	if (!z || !z->loaded || !z->soa || z->nnodes == 0)
		abort();
	/* Every node must be found by its own name. */
	for (size_t i = 0; i < z->nnodes; i++)
		if (zone_lookup(z, z->nodes[i]->name, z->nodes[i]->namelen) != z->nodes[i])
			abort();
	zone_free(z);
	state_free(st);
	return 0;
}
