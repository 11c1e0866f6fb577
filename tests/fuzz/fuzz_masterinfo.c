/* tests/fuzz/fuzz_masterinfo.c -- any bytes as a ZooKeeper master node: decoded or refused, never more. */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/hostaddr.h"
#include "lib/masterinfo.h"

/* A host:port from masterinfo_hostport must be one the fetcher accepts. */
static void check_hostport(const struct masterinfo *mi)
{
	char hp[MASTERINFO_HOSTPORT_MAX];
	char *host = NULL;
	uint16_t port = 0;
	int rc = masterinfo_hostport(mi, hp, sizeof(hp));

	if (rc != 0) {
		if (rc != MDNS_EINVAL || hp[0] != '\0')
			abort();
		return;
	}
	if (strlen(hp) >= sizeof(hp) || hostaddr_split(hp, &host, &port) != 0 || port == 0)
		abort();
	for (const char *p = hp; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]", *p))
			abort();
	free(host);
}

static void check(int rc, struct masterinfo *mi)
{
	if (rc == 0)
		check_hostport(mi);
	else if (rc != MDNS_EPARSE && rc != MDNS_ENOMEM)
		abort();
	else if (mi->id || mi->pid || mi->hostname || mi->version || mi->address_ip ||
		 mi->address_hostname)
		abort();	/* a refused node leaves nothing behind */
	masterinfo_clear(mi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct masterinfo mi;
	char err[256];
	int64_t seq;

	/* The decoders get exactly size bytes: no terminator to lean on. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	check(masterinfo_parse_pb(copy, size, &mi, err, sizeof(err)), &mi);
	check(masterinfo_parse_json((const char *)copy, size, &mi, err, sizeof(err)), &mi);
	free(copy);

	/* The same bytes as a child name. */
	if (size < 256 && !memchr(data, 0, size)) {
		char name[256];
		memcpy(name, data, size);
		name[size] = '\0';
		enum masterinfo_node k = masterinfo_node_kind(name, &seq);
		if (k != MASTERINFO_NODE_OTHER && !strstr(name, "info_"))
			abort();
	}
	return 0;
}
