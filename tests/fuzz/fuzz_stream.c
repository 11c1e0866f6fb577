/* tests/fuzz/fuzz_stream.c -- any bytes as an operator event stream: frame, apply, build, dump. */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/state.h"
#include "lib/statemodel.h"
#include "lib/stream.h"
#include "lib/zonecfg.h"
#include "zone/records.h"
#include "zone/zone.h"

/*
 * The input is what a master's SUBSCRIBE response could carry: RecordIO
 * records, each applied to a model (a record starting with '!' is taken as a
 * /master/state-summary instead).  The first byte chooses how the bytes are
 * split into reads, so framing across every boundary is explored too.  At the
 * end, a subscribed model must build a zone, and its dump must read back
 * (state_parse) into the same zone.
 */

static struct statemodel *model;

static const struct iplist *fake_resolve(void *ctx, const char *host)
{
	static struct ipaddr a = { .af = 4, .b = { 192, 0, 2, 1 } };
	static const struct iplist one = { &a, 1 };
	(void)ctx;
	(void)host;
	return &one;
}

static int apply(void *ctx, char *text, size_t len)
{
	struct statemodel_effect eff;
	char err[256];
	int summary = len > 0 && text[0] == '!';

	(void)ctx;
	memset(&eff, 0, sizeof(eff));
	err[0] = 'x';
	int rc = statemodel_apply(model, summary ? STATEMODEL_SUMMARY : STATEMODEL_EVENT,
				  text + summary, len - (size_t)summary, &eff, err, sizeof(err));
	if (rc != 0 && (!err[0] || err[0] == 'x'))
		abort();	/* a refusal must say why */
	free(text);
	return 0;
}

static struct zone *build(const struct mesos_state *st)
{
	static struct config cfg;
	static int init;
	struct zone_params zp;
	struct records_config rc;
	struct ipaddr ns = { .af = 4, .b = { 127, 0, 0, 1 } };
	struct iplist ns_ips = { &ns, 1 };

	if (!init) {
		config_defaults(&cfg);
		init = 1;
	}
	zonecfg_params(&cfg, &zp);
	zonecfg_records(&cfg, &rc);
	rc.ns_ips = &ns_ips;
	rc.resolve = fake_resolve;
	rc.enumerate = 0;	/* zone/meta.c is fuzz_state's: here the model and its dump */
	struct zone_builder *b = zone_builder_new(&zp);
	if (!b || records_build(b, st, &rc, NULL) != 0)
		abort();
	return zone_builder_finish(b, NULL, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream_framer fr;
	size_t step, off = 1;
	char err[256];

	if (size < 1)
		return 0;
	step = data[0] ? data[0] : size;
	model = statemodel_new();
	if (!model || statemodel_set_leader(model, "10.0.0.1:5050") != 0)
		abort();
	stream_framer_init(&fr, 1u << 20, 1u << 16);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		if (stream_framer_feed(&fr, (const char *)data + off, n, apply, NULL, err,
				       sizeof(err)) != 0)
			break;
		off += n;
	}
	stream_framer_clear(&fr);

	if (statemodel_subscribed(model)) {
		struct mesos_state *view = NULL, *back = NULL;
		size_t len = 0;
		char *dump;

		if (statemodel_view(model, &view) != 0)
			abort();
		struct zone *z = build(view);
		statemodel_view_free(view);
		dump = statemodel_dump(model, &len);
		if (!z || !dump || state_parse(dump, len, &back, err, sizeof(err)) != 0)
			abort();
		struct zone *zb = build(back);
		if (!zb || !zone_same_content(z, zb))
			abort();	/* the dump must mean what the model means */
		zone_free(z);
		zone_free(zb);
		state_free(back);
		free(dump);
	}
	statemodel_free(model);
	model = NULL;
	return 0;
}
