/* tests/fuzz/fuzz_config.c -- any bytes as config.json: accepted and valid, or one clear error. */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/err.h"

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512];

	memset(&cfg, 0, sizeof(cfg));
	err[0] = 0;
	int rc = config_parse((const char *)data, size, &cfg, quiet, NULL, err, sizeof(err));
	if (rc != 0) {
		/* An error names itself on one line. */
		if (!err[0] || strchr(err, '\n'))
			abort();
	} else {
		/* An accepted config holds the invariants the daemon relies on. */
		if (!cfg.domain || !cfg.domain[0] || cfg.nip_sources == 0 || cfg.port == 0 ||
		    cfg.refresh_seconds <= 0 || cfg.state_timeout_seconds <= 0 ||
		    (!cfg.dns_on && !cfg.http_on) || cfg.edns_udp_size < 512)
			abort();
		char *dump = config_dump(&cfg);
		free(dump);
	}
	config_clear(&cfg);
	return 0;
}
