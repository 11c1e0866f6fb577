/* tests/unit/test_config.c -- config.json parsing, validation, defaults and output. */
#include "lib/config.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "tests/unit/tap.h"

/* Warnings collected by the warn callback. */
struct warnings {
	int n;
	char last[512];
};

static void collect(void *ctx, const char *msg)
{
	struct warnings *w = ctx;

	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", msg);
}

static int parse(const char *json, struct config *cfg, struct warnings *w,
		 char *err, size_t errlen)
{
	if (w)
		memset(w, 0, sizeof(*w));
	return config_parse(json, strlen(json), cfg, collect, w, err, errlen);
}

/* The smallest valid config: one static master. */
#define BASE "\"masters\": [\"10.0.0.1:5050\"]"

static void test_table(void)
{
	const struct config_key *keys;
	size_t n = config_keys(&keys);
	int bad_rows = 0, bad_int = 0, dup = 0;

	is_int(n, 52, "the table has every spec key plus our additions");
	for (size_t i = 0; i < n; i++) {
		const struct config_key *k = &keys[i];
		enum config_ctype want;
		char prefix[64];

		if (!k->name || !k->def || !k->allowed || !k->doc || !k->doc[0])
			bad_rows++;
		switch (k->type) {
		case CONFIG_BOOL: want = CONFIG_C_BOOL; break;
		case CONFIG_STRING: want = CONFIG_C_STR; break;
		case CONFIG_STRLIST: want = CONFIG_C_STRLIST; break;
		default: want = k->ctype; break;	/* INT below; SPECIAL has its own */
		}
		if (k->ctype != want)
			bad_rows++;
		if (k->type == CONFIG_INT) {
			long long d = strtoll(k->def, NULL, 10);
			long long cmax = k->ctype == CONFIG_C_U16 ? 65535 : INT32_MAX;
			if (k->ctype != CONFIG_C_INT && k->ctype != CONFIG_C_U16 &&
			    k->ctype != CONFIG_C_U32)
				bad_int++;
			if (k->min < 0 || k->max > cmax || k->min > k->max ||
			    d < k->min || d > k->max)
				bad_int++;
			/* the words in messages must match the bounds enforced */
			snprintf(prefix, sizeof(prefix), "integer %lld..%lld", k->min, k->max);
			if (strncmp(k->allowed, prefix, strlen(prefix)) != 0) {
				bad_int++;
				printf("# %s: allowed \"%s\" does not start with \"%s\"\n",
				       k->name, k->allowed, prefix);
			}
		}
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(keys[j].name, k->name) == 0)
				dup++;
	}
	is_int(bad_rows, 0, "every row has name, default, allowed text, doc and a matching field type");
	is_int(bad_int, 0, "integer rows: bounds fit the field, default in bounds, allowed text matches");
	is_int(dup, 0, "key names are unique case-insensitively");
	ok(config_key_find("SOAMINTTL") == config_key_find("SOAMinttl") &&
	   config_key_find("soaminttl") != NULL, "config_key_find ignores case");
	is_str(config_key_find("httpPort")->name, "httpport", "the row keeps the spec spelling");
	ok(config_key_find("nosuchkey") == NULL, "config_key_find: unknown is NULL");
}

static void test_defaults(void)
{
	struct config c;

	config_defaults(&c);
	is_str(c.zk, "", "default zk");
	is_int(c.masters.n, 0, "default masters");
	is_int(c.zk_detection_timeout, 30, "default zkDetectionTimeout");
	is_int(c.refresh_seconds, 60, "default refreshSeconds");
	is_int(c.state_timeout_seconds, 300, "default stateTimeoutSeconds");
	is_int(c.ttl, 60, "default ttl");
	is_int(c.soa_minttl, 60, "default SOAMinttl");
	is_int(c.srv_default_weight, 1, "default srvRecordDefaultWeight");
	is_str(c.domain, "mesos", "default domain");
	is_int(c.port, 53, "default port");
	is_str(c.listener, "0.0.0.0", "default listener");
	is_str(c.http_listener, "0.0.0.0", "default HTTPListener");
	is_int(c.http_port, 8123, "default httpport");
	ok(c.dns_on && c.http_on && c.external_on, "default dnson, httpon, externalon true");
	is_int(c.resolvers.n, 1, "default resolvers: one");
	is_str(c.resolvers.n ? c.resolvers.v[0] : NULL, "8.8.8.8", "default resolver 8.8.8.8");
	ok(!c.resolvers_explicit_empty, "default resolvers are not an explicit []");
	is_int(c.nzone_resolvers, 0, "default zoneResolvers {}");
	is_int(c.timeout, 5, "default timeout");
	is_str(c.soa_mname, "ns1.mesos", "default SOAMname");
	is_str(c.soa_rname, "root.ns1.mesos", "default SOARname");
	is_int(c.soa_refresh, 60, "default SOARefresh");
	is_int(c.soa_retry, 600, "default SOARetry");
	is_int(c.soa_expire, 86400, "default SOAExpire");
	ok(c.recurse_on, "default recurseon true");
	ok(!c.enforce_rfc952, "default enforceRFC952 false");
	ok(c.set_truncate_bit, "default SetTruncateBit true");
	ok(c.nip_sources == 3 && c.ip_sources[0] == IPSRC_NETINFO &&
	   c.ip_sources[1] == IPSRC_MESOS && c.ip_sources[2] == IPSRC_HOST,
	   "default IPSources netinfo, mesos, host");
	ok(c.enumeration_on, "default EnumerationOn true");
	ok(!c.mesos_https_on, "default MesosHTTPSOn false");
	ok(!c.ca_cert_file[0] && !c.cert_file[0] && !c.key_file[0],
	   "default CACertFile, CertFile, KeyFile empty");
	is_str(c.mesos_authentication, "", "default mesosAuthentication");
	ok(c.mesos_principal && !c.mesos_principal[0] && c.mesos_secret && !c.mesos_secret[0],
	   "default mesosCredentials empty");
	is_str(c.iam_config_file, "", "default IAMConfigFile");
	is_str(c.state_file, "", "default stateFile");
	is_int(c.recurse_from.n, 0, "default recurseFrom [] (loopback and local nets)");
	is_int(c.workers, 0, "default workers 0 (CPUs)");
	is_str(c.state_cache_file, "", "default stateCacheFile");
	is_int(c.edns_udp_size, 1232, "default ednsUDPSize");
	is_int(c.tcp_idle_timeout, 10, "default tcpIdleTimeout");
	is_int(c.tcp_max_connections, 1024, "default tcpMaxConnections");
	is_int(c.rate_limit, 0, "default rateLimit 0 (off)");
	is_int(c.rate_limit_slip, 2, "default rateLimitSlip 2");
	config_clear(&c);
	ok(c.domain == NULL && c.resolvers.n == 0, "config_clear zeroes");
	config_clear(&c);
	ok(1, "config_clear on a zeroed struct returns (a crash would end the suite)");
}

static void test_every_key(void)
{
	static const char json[] =
		"{\n"
		"\"zk\": \"zk://zk1.example.com:2181,10.0.0.2:2181,[2001:db8::2]:2181/mesos/prod\",\n"
		"\"masters\": [\"Master1.Example.com:5050\", \"10.0.0.2:5050\", \"[2001:DB8:0::3]:5050\"],\n"
		"\"zkDetectionTimeout\": 45, \"refreshSeconds\": 30, \"stateTimeoutSeconds\": 20,\n"
		"\"ttl\": 120, \"SOAMinttl\": 15, \"srvRecordDefaultWeight\": 0,\n"
		"\"domain\": \"Mesos.Example.COM\", \"port\": 5353,\n"
		"\"listener\": \"2001:db8:0:0::1\", \"HTTPListener\": \"127.0.0.1\", \"httpport\": 9090,\n"
		"\"dnson\": true, \"httpon\": false, \"externalon\": false,\n"
		"\"resolvers\": [\"10.0.0.53\", \"10.0.0.54:5353\", \"2001:db8::53\", \"[2001:db8::54]:53\"],\n"
		"\"zoneResolvers\": {\"Corp.Example.com.\": [\"10.1.0.53\"], \"lab.internal\": [\"10.2.0.53\", \"10.2.0.54\"]},\n"
		"\"timeout\": 0,\n"
		"\"SOAMname\": \"NS1.Mesos.Example.com.\", \"SOARname\": \"hostmaster@example.com\",\n"
		"\"SOARefresh\": 120, \"SOARetry\": 300, \"SOAExpire\": 604800,\n"
		"\"recurseon\": false, \"enforceRFC952\": true, \"SetTruncateBit\": false,\n"
		"\"IPSources\": [\"docker\", \"HOST\"], \"EnumerationOn\": false,\n"
		"\"MesosHTTPSOn\": true, \"CACertFile\": \"/etc/ssl/ca.pem\",\n"
		"\"CertFile\": \"/etc/ssl/c.pem\", \"KeyFile\": \"/etc/ssl/c.key\",\n"
		"\"mesosAuthentication\": \"Basic\",\n"
		"\"mesosCredentials\": {\"principal\": \"dns\", \"secret\": \"s3cr3t-value\"},\n"
		"\"IAMConfigFile\": \"/etc/iam.json\", \"stateFile\": \"/var/lib/state.json\",\n"
		"\"recurseFrom\": [\"10.0.0.0/8\", \"192.168.1.7\", \"2001:DB8::/32\", \"::1/128\"],\n"
		"\"workers\": 4, \"stateCacheFile\": \"/var/cache/s.json\",\n"
		"\"ednsUDPSize\": 4096, \"tcpIdleTimeout\": 30, \"tcpMaxConnections\": 100000,\n"
		"\"rateLimit\": 250, \"rateLimitSlip\": 0\n"
		"}\n";
	struct config c;
	struct warnings w;
	char err[256] = "";
	int rc = parse(json, &c, &w, err, sizeof(err));

	is_int(rc, 0, "every key with good values parses");
	if (rc)
		printf("# %s\n", err);
	is_int(w.n, 0, "no warnings");
	is_str(c.zk, "zk://zk1.example.com:2181,10.0.0.2:2181,[2001:db8::2]:2181/mesos/prod", "zk");
	is_int(c.masters.n, 3, "masters: three");
	if (c.masters.n == 3) {
		is_str(c.masters.v[0], "master1.example.com:5050", "masters: host name lower-cased");
		is_str(c.masters.v[1], "10.0.0.2:5050", "masters: IPv4");
		is_str(c.masters.v[2], "[2001:db8::3]:5050", "masters: IPv6 normalised");
	}
	is_int(c.zk_detection_timeout, 45, "zkDetectionTimeout");
	is_int(c.refresh_seconds, 30, "refreshSeconds");
	is_int(c.state_timeout_seconds, 20, "stateTimeoutSeconds");
	is_int(c.ttl, 120, "ttl");
	is_int(c.soa_minttl, 15, "SOAMinttl");
	is_int(c.srv_default_weight, 0, "srvRecordDefaultWeight");
	is_str(c.domain, "mesos.example.com", "domain lower-cased");
	is_int(c.port, 5353, "port");
	is_str(c.listener, "2001:db8::1", "listener normalised");
	is_str(c.http_listener, "127.0.0.1", "HTTPListener");
	is_int(c.http_port, 9090, "httpport");
	ok(c.dns_on && !c.http_on && !c.external_on, "dnson, httpon, externalon");
	is_int(c.resolvers.n, 4, "resolvers: four");
	if (c.resolvers.n == 4) {
		is_str(c.resolvers.v[0], "10.0.0.53", "resolvers: IP");
		is_str(c.resolvers.v[1], "10.0.0.54:5353", "resolvers: IP:port");
		is_str(c.resolvers.v[2], "2001:db8::53", "resolvers: bare IPv6");
		is_str(c.resolvers.v[3], "[2001:db8::54]:53", "resolvers: [IPv6]:port");
	}
	ok(!c.resolvers_explicit_empty, "resolvers not explicitly empty");
	is_int(c.nzone_resolvers, 2, "zoneResolvers: two zones");
	if (c.nzone_resolvers == 2) {
		is_str(c.zone_resolvers[0].zone, "corp.example.com", "zoneResolvers: zone normalised");
		is_int(c.zone_resolvers[0].resolvers.n, 1, "zoneResolvers: first list");
		is_str(c.zone_resolvers[1].zone, "lab.internal", "zoneResolvers: second zone");
		is_int(c.zone_resolvers[1].resolvers.n, 2, "zoneResolvers: second list");
		is_str(c.zone_resolvers[1].resolvers.v[1], "10.2.0.54", "zoneResolvers: entry");
	}
	is_int(c.timeout, 5, "timeout 0 means 5");
	is_str(c.soa_mname, "ns1.mesos.example.com", "SOAMname: lower-case, no trailing dot");
	is_str(c.soa_rname, "hostmaster.example.com", "SOARname: '@' becomes '.'");
	is_int(c.soa_refresh, 120, "SOARefresh");
	is_int(c.soa_retry, 300, "SOARetry");
	is_int(c.soa_expire, 604800, "SOAExpire");
	ok(!c.recurse_on && c.enforce_rfc952 && !c.set_truncate_bit,
	   "recurseon, enforceRFC952, SetTruncateBit");
	ok(c.nip_sources == 2 && c.ip_sources[0] == IPSRC_DOCKER && c.ip_sources[1] == IPSRC_HOST,
	   "IPSources in order");
	ok(!c.enumeration_on && c.mesos_https_on, "EnumerationOn, MesosHTTPSOn");
	is_str(c.ca_cert_file, "/etc/ssl/ca.pem", "CACertFile");
	is_str(c.cert_file, "/etc/ssl/c.pem", "CertFile");
	is_str(c.key_file, "/etc/ssl/c.key", "KeyFile");
	is_str(c.mesos_authentication, "basic", "mesosAuthentication lower-cased");
	is_str(c.mesos_principal, "dns", "mesosCredentials.principal");
	is_str(c.mesos_secret, "s3cr3t-value", "mesosCredentials.secret");
	is_str(c.iam_config_file, "/etc/iam.json", "IAMConfigFile");
	is_str(c.state_file, "/var/lib/state.json", "stateFile");
	is_int(c.recurse_from.n, 4, "recurseFrom: four");
	if (c.recurse_from.n == 4) {
		is_str(c.recurse_from.v[0], "10.0.0.0/8", "recurseFrom: IPv4 prefix");
		is_str(c.recurse_from.v[1], "192.168.1.7/32", "recurseFrom: bare address is a host prefix");
		is_str(c.recurse_from.v[2], "2001:db8::/32", "recurseFrom: IPv6 normalised");
		is_str(c.recurse_from.v[3], "::1/128", "recurseFrom: ::1/128");
	}
	is_int(c.workers, 4, "workers");
	is_str(c.state_cache_file, "/var/cache/s.json", "stateCacheFile");
	is_int(c.edns_udp_size, 4096, "ednsUDPSize");
	is_int(c.tcp_idle_timeout, 30, "tcpIdleTimeout");
	is_int(c.tcp_max_connections, 100000, "tcpMaxConnections");
	is_int(c.rate_limit, 250, "rateLimit");
	is_int(c.rate_limit_slip, 0, "rateLimitSlip 0 (drop all)");

	/* output: spec spelling, secret redacted, and it reads back the same */
	{
		char *dump = config_dump(&c), *dump2 = NULL;
		struct config c2;

		ok(dump != NULL, "config_dump");
		ok(dump && strstr(dump, "\"SOAMinttl\": 15") && strstr(dump, "\"HTTPListener\"") &&
		   strstr(dump, "\"httpport\": 9090") && strstr(dump, "\"IPSources\""),
		   "dump spells keys as the spec");
		ok(dump && !strstr(dump, "s3cr3t") && strstr(dump, "\"secret\": \"<redacted>\""),
		   "dump redacts the secret");
		ok(dump && strstr(dump, "\"principal\": \"dns\""), "dump shows the principal");
		rc = dump ? parse(dump, &c2, &w, err, sizeof(err)) : -1;
		is_int(rc, 0, "the dump parses as a config");
		dump2 = rc == 0 ? config_dump(&c2) : NULL;
		ok(dump && dump2 && strcmp(dump, dump2) == 0, "and dumps the same again");
		config_clear(&c2);
		free(dump);
		free(dump2);
	}
	config_clear(&c);
}

static void test_case_and_null(void)
{
	struct config c;
	struct warnings w;
	char err[256] = "";
	int rc;

	rc = parse("{\"MASTERS\": [\"10.0.0.1:5050\"], \"TTL\": 7, \"soaminttl\": 8,"
		   " \"ipsources\": [\"mesos\"], \"RefreshSeconds\": 9, \"HTTPPORT\": 81,"
		   " \"MesosAuthentication\": \"basic\","
		   " \"MESOSCREDENTIALS\": {\"Principal\": \"p\", \"SECRET\": \"s\"}}",
		   &c, &w, err, sizeof(err));
	is_int(rc, 0, "keys match case-insensitively");
	ok(c.ttl == 7 && c.soa_minttl == 8 && c.refresh_seconds == 9 && c.http_port == 81 &&
	   c.nip_sources == 1 && c.masters.n == 1, "their values land in the right fields");
	ok(strcmp(c.mesos_principal, "p") == 0 && strcmp(c.mesos_secret, "s") == 0,
	   "mesosCredentials sub-keys match case-insensitively");
	is_int(w.n, 0, "and give no warnings");
	config_clear(&c);

	rc = parse("{" BASE ", \"ttl\": null, \"resolvers\": null, \"domain\": null}",
		   &c, &w, err, sizeof(err));
	ok(rc == 0 && c.ttl == 60 && c.resolvers.n == 1 && !c.resolvers_explicit_empty &&
	   strcmp(c.domain, "mesos") == 0, "null keeps the default (as mesos-dns)");
	config_clear(&c);

	rc = parse("{" BASE ", \"resolvers\": []}", &c, &w, err, sizeof(err));
	ok(rc == 0 && c.resolvers.n == 0 && c.resolvers_explicit_empty,
	   "resolvers [] is recorded as explicit");
	config_clear(&c);

	rc = parse("{\"stateFile\": \"/tmp/state.json\", \"resolvers\": [\"1.1.1.1\"],"
		   " \"masters\": []}", &c, &w, err, sizeof(err));
	ok(rc == 0 && c.masters.n == 0 && !c.resolvers_explicit_empty,
	   "stateFile alone is enough; masters [] is fine then");
	config_clear(&c);

	rc = parse("{\"zk\": \"zk://10.0.0.1:2181/mesos\"}", &c, &w, err, sizeof(err));
	is_int(rc, 0, "zk alone is enough");
	config_clear(&c);

	rc = parse("{" BASE ", \"mesosAuthentication\": \"iam\", \"IAMConfigFile\": \"/etc/iam.json\"}",
		   &c, &w, err, sizeof(err));
	is_int(rc, 0, "iam with IAMConfigFile");
	config_clear(&c);
}

static void test_unknown(void)
{
	static const struct {
		const char *key, *hint;
	} cases[] = {
		{ "refreshSecond", "refreshSeconds" },
		{ "refreshseconds2", "refreshSeconds" },
		{ "ttll", "ttl" },
		{ "SOAMinTTL2", "SOAMinttl" },
		{ "httplistner", "HTTPListener" },
		{ "resolver", "resolvers" },
		{ "IPSource", "IPSources" },
		{ "enumeration", "EnumerationOn" },
		{ "stateTimeout", "stateTimeoutSeconds" },
		{ "zoneResolver", "zoneResolvers" },
		{ "workerz", "workers" },
	};
	struct config c;
	struct warnings w;
	char err[256], json[256], want[128];
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{" BASE ", \"%s\": 1}", cases[i].key);
		rc = parse(json, &c, &w, err, sizeof(err));
		snprintf(want, sizeof(want), "did you mean \"%s\"?", cases[i].hint);
		ok(rc == 0 && w.n == 1 && strstr(w.last, cases[i].key) && strstr(w.last, want),
		   "unknown %s: warning with hint %s", cases[i].key, cases[i].hint);
		if (w.n)
			printf("# %s\n", w.last);
		config_clear(&c);
	}
	rc = parse("{" BASE ", \"frobnicate\": true, \"xyzzy\": 1}", &c, &w, err, sizeof(err));
	ok(rc == 0 && w.n == 2 && strstr(w.last, "\"xyzzy\"") && !strstr(w.last, "did you mean"),
	   "a key far from all names: warning without hint");
	config_clear(&c);
	rc = parse("{" BASE ", \"mesosCredentials\": {\"principle\": \"x\"}}", &c, &w, err, sizeof(err));
	ok(rc == 0 && w.n == 1 && strstr(w.last, "mesosCredentials") &&
	   strstr(w.last, "did you mean \"principal\"?"),
	   "unknown mesosCredentials sub-key: warning with hint");
	config_clear(&c);
	rc = parse("{" BASE ", \"bad\\nkey\": 1}", &c, &w, err, sizeof(err));
	ok(rc == 0 && w.n == 1 && !strchr(w.last, '\n'), "warnings stay on one line");
	config_clear(&c);
	/* Found by fuzz_config: jansson quotes the bad token, raw newline included. */
	rc = parse("{\"exter:\\\n]\"\"}", &c, &w, err, sizeof(err));
	ok(rc == MDNS_EPARSE && strstr(err, "invalid escape") && !strchr(err, '\n'),
	   "a JSON error quoting a newline of the input stays on one line");
	config_clear(&c);
	rc = config_parse("{" BASE ", \"ttll\": 1}", strlen("{" BASE ", \"ttll\": 1}"), &c,
			  NULL, NULL, err, sizeof(err));
	is_int(rc, 0, "no warn callback: still fine");
	config_clear(&c);
}

/* Each of these must fail with MDNS_EINVAL and one line naming the key. */
static void test_bad_values(void)
{
	static const struct {
		const char *json;	/* the body after BASE (or a stateFile) */
		const char *name;	/* must appear as "config: <name>" */
	} cases[] = {
		{ "\"refreshSeconds\": -5", "refreshSeconds" },
		{ "\"refreshSeconds\": 0", "refreshSeconds" },
		{ "\"refreshSeconds\": \"60\"", "refreshSeconds" },
		{ "\"refreshSeconds\": 60.0", "refreshSeconds" },
		{ "\"refreshSeconds\": 86401", "refreshSeconds" },
		{ "\"stateTimeoutSeconds\": 0", "stateTimeoutSeconds" },
		{ "\"zkDetectionTimeout\": 0", "zkDetectionTimeout" },
		{ "\"ttl\": -1", "ttl" },
		{ "\"ttl\": 2147483648", "ttl" },
		{ "\"SOAMinttl\": true", "SOAMinttl" },
		{ "\"srvRecordDefaultWeight\": 65536", "srvRecordDefaultWeight" },
		{ "\"port\": 0", "port" },
		{ "\"port\": 65536", "port" },
		{ "\"httpport\": 70000", "httpport" },
		{ "\"timeout\": -1", "timeout" },
		{ "\"timeout\": 301", "timeout" },
		{ "\"SOARefresh\": -1", "SOARefresh" },
		{ "\"SOARetry\": \"x\"", "SOARetry" },
		{ "\"SOAExpire\": 99999999999", "SOAExpire" },
		{ "\"workers\": 257", "workers" },
		{ "\"workers\": -1", "workers" },
		{ "\"ednsUDPSize\": 511", "ednsUDPSize" },
		{ "\"ednsUDPSize\": 4097", "ednsUDPSize" },
		{ "\"tcpIdleTimeout\": 0", "tcpIdleTimeout" },
		{ "\"tcpIdleTimeout\": 3601", "tcpIdleTimeout" },
		{ "\"tcpMaxConnections\": 0", "tcpMaxConnections" },
		{ "\"tcpMaxConnections\": 100001", "tcpMaxConnections" },
		{ "\"rateLimit\": -1", "rateLimit" },
		{ "\"rateLimit\": 1000001", "rateLimit" },
		{ "\"rateLimitSlip\": 101", "rateLimitSlip" },
		{ "\"rateLimitSlip\": -1", "rateLimitSlip" },
		{ "\"dnson\": 1", "dnson" },
		{ "\"httpon\": \"true\"", "httpon" },
		{ "\"externalon\": null, \"recurseon\": \"yes\"", "recurseon" },
		{ "\"enforceRFC952\": [true]", "enforceRFC952" },
		{ "\"zk\": \"10.0.0.1:2181/mesos\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1:2181\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1/mesos\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1:0/mesos\"", "zk" },
		{ "\"zk\": \"zk:///mesos\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1:2181,/mesos\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1:2181/\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1:2181/mesos/\"", "zk" },
		{ "\"zk\": \"zk://10.0.0.1:2181//mesos\"", "zk" },
		{ "\"zk\": \"zk://u:p@10.0.0.1:2181/mesos\"", "zk" },
		{ "\"zk\": 5", "zk" },
		{ "\"masters\": \"10.0.0.1:5050\"", "masters" },
		{ "\"masters\": [\"10.0.0.1\"]", "masters[0]" },
		{ "\"masters\": [\"10.0.0.1:0\"]", "masters[0]" },
		{ "\"masters\": [\"10.0.0.1:65536\"]", "masters[0]" },
		{ "\"masters\": [\"10.0.0.1:http\"]", "masters[0]" },
		{ "\"masters\": [\"http://10.0.0.1:5050\"]", "masters[0]" },
		{ "\"masters\": [\"::1:5050\"]", "masters[0]" },
		{ "\"masters\": [\"[::1]\"]", "masters[0]" },
		{ "\"masters\": [\"[::1:5050\"]", "masters[0]" },
		{ "\"masters\": [\"[10.0.0.1]:5050\"]", "masters[0]" },
		{ "\"masters\": [\"127.000.0.1:5050\"]", "masters[0]" },
		{ "\"masters\": [\"bad_host!:5050\"]", "masters[0]" },
		{ "\"masters\": [\":5050\"]", "masters[0]" },
		{ "\"masters\": [5050]", "masters[0]" },
		{ "\"masters\": [\"10.0.0.1:5050\", \"10.0.0.1:5050\"]", "masters[1]" },
		{ "\"masters\": [\"[::1]:5050\", \"[0:0::1]:5050\"]", "masters[1]" },
		{ "\"masters\": [\"M1.example:5050\", \"m1.EXAMPLE:5050\"]", "masters[1]" },
		{ "\"domain\": \"\"", "domain" },
		{ "\"domain\": \"mesos.\"", "domain" },
		{ "\"domain\": \"me_sos\"", "domain" },
		{ "\"domain\": \"a..b\"", "domain" },
		{ "\"domain\": \"*.mesos\"", "domain" },
		{ "\"domain\": \"mesos dns\"", "domain" },
		{ "\"domain\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x\"", "domain" },
		{ "\"listener\": \"localhost\"", "listener" },
		{ "\"listener\": \"\"", "listener" },
		{ "\"listener\": \"10.0.0.256\"", "listener" },
		{ "\"HTTPListener\": \"[::1]\"", "HTTPListener" },
		{ "\"resolvers\": \"8.8.8.8\"", "resolvers" },
		{ "\"resolvers\": [\"dns.google\"]", "resolvers[0]" },
		{ "\"resolvers\": [\"8.8.8.8:0\"]", "resolvers[0]" },
		{ "\"resolvers\": [\"[8.8.8.8]:53\"]", "resolvers[0]" },
		{ "\"resolvers\": [\"8.8.8.8\", \"8.8.8.8:53\"]", "resolvers[1]" },
		{ "\"resolvers\": [\"2001:db8::1\", \"[2001:db8:0::1]:53\"]", "resolvers[1]" },
		{ "\"resolvers\": [\"\"]", "resolvers[0]" },
		{ "\"resolvers\": [null]", "resolvers[0]" },
		{ "\"zoneResolvers\": []", "zoneResolvers" },
		{ "\"zoneResolvers\": {\"corp.example\": []}", "zoneResolvers[\"corp.example\"]" },
		{ "\"zoneResolvers\": {\"corp.example\": \"10.0.0.53\"}", "zoneResolvers[\"corp.example\"]" },
		{ "\"zoneResolvers\": {\"corp.example\": [\"ns.corp\"]}", "zoneResolvers[\"corp.example\"][0]" },
		{ "\"zoneResolvers\": {\"corp.example\": [\"10.0.0.1\", \"10.0.0.1:53\"]}", "zoneResolvers[\"corp.example\"][1]" },
		{ "\"zoneResolvers\": {\"bad zone\": [\"10.0.0.53\"]}", "zoneResolvers" },
		{ "\"zoneResolvers\": {\"\": [\"10.0.0.53\"]}", "zoneResolvers" },
		{ "\"zoneResolvers\": {\"mesos\": [\"10.0.0.53\"]}", "zoneResolvers" },
		{ "\"zoneResolvers\": {\"a.mesos\": [\"10.0.0.53\"]}", "zoneResolvers" },
		{ "\"domain\": \"dc1.example\", \"zoneResolvers\": {\"example\": [\"10.0.0.53\"]}", "zoneResolvers" },
		{ "\"zoneResolvers\": {\"example.com\": [\"10.0.0.53\"], \"a.example.com\": [\"10.0.0.54\"]}", "zoneResolvers" },
		{ "\"zoneResolvers\": {\"example.com\": [\"10.0.0.53\"], \"Example.COM.\": [\"10.0.0.54\"]}", "zoneResolvers" },
		{ "\"SOAMname\": \"\"", "SOAMname" },
		{ "\"SOAMname\": \"ns 1\"", "SOAMname" },
		{ "\"SOARname\": \"root@@example\"", "SOARname" },
		{ "\"SOARname\": 1", "SOARname" },
		{ "\"reverseZones\": [\"mesos\"]", "reverseZones[0]" },
		{ "\"reverseZones\": [\"300.in-addr.arpa\"]", "reverseZones[0]" },
		{ "\"reverseZones\": [\"in-addr.arpa\"]", "reverseZones[0]" },
		{ "\"reverseZones\": [\"ab.ip6.arpa\"]", "reverseZones[0]" },
		{ "\"reverseZones\": \"10.in-addr.arpa\"", "reverseZones" },
		{ "\"reverseZones\": [\"auto\", \"10.in-addr.arpa\"]", "reverseZones[0]" },
		{ "\"reverseZones\": [\"10.in-addr.arpa\", \"1.10.in-addr.arpa\"]", "reverseZones[1]" },
		{ "\"reverseZones\": [\"10.in-addr.arpa\", \"10.IN-ADDR.ARPA.\"]", "reverseZones[1]" },
		{ "\"zoneResolvers\": {\"10.in-addr.arpa\": [\"10.0.0.53\"]}, \"reverseZones\": [\"1.10.in-addr.arpa\"]", "reverseZones[0]" },
		{ "\"healthAware\": 1", "healthAware" },
		{ "\"transferTo\": [\"10.0.0.1/8\"]", "transferTo[0]" },
		{ "\"transferTo\": \"10.0.0.1\"", "transferTo" },
		{ "\"notify\": [\"ns2.example.com\"]", "notify[0]" },
		{ "\"notify\": [\"10.0.0.2\", \"10.0.0.2:53\"]", "notify[1]" },
		{ "\"IPSources\": []", "IPSources" },
		{ "\"IPSources\": \"host\"", "IPSources" },
		{ "\"IPSources\": [\"host\", \"host\"]", "IPSources[1]" },
		{ "\"IPSources\": [\"host\", \"HOST\"]", "IPSources[1]" },
		{ "\"IPSources\": [\"ip\"]", "IPSources[0]" },
		{ "\"IPSources\": [1]", "IPSources[0]" },
		{ "\"mesosAuthentication\": \"digest\"", "mesosAuthentication" },
		{ "\"mesosAuthentication\": \"basic\"", "mesosCredentials" },
		{ "\"mesosAuthentication\": \"basic\", \"mesosCredentials\": {\"principal\": \"p\"}", "mesosCredentials" },
		{ "\"mesosAuthentication\": \"basic\", \"mesosCredentials\": {\"secret\": \"s\"}", "mesosCredentials" },
		{ "\"mesosAuthentication\": \"iam\"", "IAMConfigFile" },
		{ "\"mesosCredentials\": \"p:s\"", "mesosCredentials" },
		{ "\"mesosCredentials\": {\"principal\": 1}", "mesosCredentials.principal" },
		{ "\"mesosCredentials\": {\"principal\": \"a\", \"Principal\": \"b\"}", "mesosCredentials.principal" },
		{ "\"CertFile\": \"/c.pem\"", "KeyFile" },
		{ "\"KeyFile\": \"/c.key\"", "CertFile" },
		{ "\"CACertFile\": false", "CACertFile" },
		{ "\"stateFile\": [\"/x\"]", "stateFile" },
		{ "\"stateCacheFile\": 1", "stateCacheFile" },
		{ "\"IAMConfigFile\": {}", "IAMConfigFile" },
		{ "\"recurseFrom\": \"10.0.0.0/8\"", "recurseFrom" },
		{ "\"recurseFrom\": [\"10.0.0.0/33\"]", "recurseFrom[0]" },
		{ "\"recurseFrom\": [\"::/129\"]", "recurseFrom[0]" },
		{ "\"recurseFrom\": [\"10.0.0.1/8\"]", "recurseFrom[0]" },
		{ "\"recurseFrom\": [\"10.0.0.0/\"]", "recurseFrom[0]" },
		{ "\"recurseFrom\": [\"10.0.0.0/x\"]", "recurseFrom[0]" },
		{ "\"recurseFrom\": [\"localnets\"]", "recurseFrom[0]" },
		{ "\"recurseFrom\": [\"10.0.0.0/8\", \"10.0.0.0/08\"]", "recurseFrom[1]" },
		{ "\"dnson\": false, \"httpon\": false", "dnson, httpon" },
		{ "\"ttl\": 1, \"TTL\": 2", "ttl" },
	};
	struct config c;
	char err[512], json[512], want[128];
	int fails = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;
		bool good;

		/* cases about masters get another source so the base does not clash */
		snprintf(json, sizeof(json), "{%s, %s}",
			 strstr(cases[i].json, "\"masters\"") ? "\"stateFile\": \"/s.json\"" : BASE,
			 cases[i].json);
		err[0] = '\0';
		rc = parse(json, &c, NULL, err, sizeof(err));
		snprintf(want, sizeof(want), "config: %s:", cases[i].name);
		good = rc == MDNS_EINVAL && strncmp(err, want, strlen(want)) == 0 &&
		       strstr(err, "(allowed: ") && !strchr(err, '\n');
		if (!ok(good, "rejected: %s", cases[i].json)) {
			fails++;
			printf("#   rc %d, err: %s\n", rc, err);
		}
		config_clear(&c);
	}
	is_int(fails, 0, "every bad value is rejected with a message naming the key");
}

static void test_messages(void)
{
	struct config c;
	char err[512];
	int rc;

	rc = parse("{" BASE ", \"refreshSeconds\": -5}", &c, NULL, err, sizeof(err));
	is_int(rc, MDNS_EINVAL, "out of range: MDNS_EINVAL");
	is_str(err, "config: refreshSeconds: -5 is out of range (allowed: integer 1..86400)",
	       "out of range: key, value and allowed");
	config_clear(&c);

	rc = parse("{" BASE ", \"port\": \"53\"}", &c, NULL, err, sizeof(err));
	is_str(err, "config: port: \"53\" is not an integer (allowed: integer 1..65535)",
	       "wrong type: key, value and allowed");
	config_clear(&c);

	rc = parse("{\"masters\": [\"10.0.0.1\"]}", &c, NULL, err, sizeof(err));
	ok(strstr(err, "config: masters[0]: \"10.0.0.1\" is invalid, port missing (allowed: ") != NULL,
	   "bad list element: names the element and the reason");
	printf("# %s\n", err);
	config_clear(&c);

	rc = parse("{\"masters\": [\"[::1]:5050\", \"[0:0::1]:5050\"]}", &c, NULL, err, sizeof(err));
	ok(strstr(err, "\"[0:0::1]:5050\" duplicates \"[::1]:5050\"") != NULL,
	   "duplicate: names both spellings");
	config_clear(&c);

	rc = parse("{" BASE ", \"mesosCredentials\": {\"principal\": \"p\", \"secret\": 12345}}",
		   &c, NULL, err, sizeof(err));
	ok(rc == MDNS_EINVAL && !strstr(err, "12345") && strstr(err, "<redacted>"),
	   "a bad secret is not echoed");
	config_clear(&c);

	rc = parse("{}", &c, NULL, err, sizeof(err));
	is_int(rc, MDNS_EINVAL, "no zk, masters or stateFile: error");
	ok(strstr(err, "zk, masters, stateFile") != NULL, "names the three keys");
	config_clear(&c);

	rc = parse("[1, 2]", &c, NULL, err, sizeof(err));
	is_int(rc, MDNS_EINVAL, "top level not an object: MDNS_EINVAL");
	config_clear(&c);

	rc = parse("{\n  \"masters\": [\"10.0.0.1:5050\"],\n  \"ttl\": 60,,\n}", &c, NULL,
		   err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "JSON syntax: MDNS_EPARSE");
	ok(strncmp(err, "config: line 3, column ", 23) == 0, "with jansson's line and column");
	printf("# %s\n", err);
	config_clear(&c);

	rc = parse("", &c, NULL, err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "empty text: MDNS_EPARSE");
	config_clear(&c);

	rc = parse("{" BASE ", \"ttl\": 1, \"ttl\": 2}", &c, NULL, err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "exact duplicate key: MDNS_EPARSE from jansson");
	config_clear(&c);

	rc = parse("{" BASE ", \"port\": 0}", &c, NULL, NULL, 0);
	is_int(rc, MDNS_EINVAL, "err may be NULL");
	config_clear(&c);

	rc = parse("{" BASE ", \"port\": 0}", &c, NULL, err, 8);
	ok(rc == MDNS_EINVAL && strlen(err) == 7, "a short err buffer is truncated, not overrun");
	config_clear(&c);
}

static void test_files(void)
{
	struct config c;
	struct warnings w = { 0 };
	char err[512] = "";
	const struct config_key *keys;
	size_t n = config_keys(&keys);
	json_error_t jerr;
	json_t *root;
	int rc, missing = 0;

	rc = config_load("config.json.example", &c, collect, &w, err, sizeof(err));
	is_int(rc, 0, "config.json.example parses");
	if (rc)
		printf("# %s\n", err);
	is_int(w.n, 0, "config.json.example gives no warnings");
	if (w.n)
		printf("# %s\n", w.last);
	ok(c.masters.n == 3 && strcmp(c.masters.v[0], "10.0.0.1:5050") == 0,
	   "config.json.example masters");
	config_clear(&c);

	root = json_load_file("config.json.example", 0, &jerr);
	ok(root != NULL, "config.json.example is JSON");
	for (size_t i = 0; root && i < n; i++)
		if (!json_object_get(root, keys[i].name)) {
			missing++;
			printf("# config.json.example lacks %s\n", keys[i].name);
		}
	is_int(missing, 0, "config.json.example has every key, spelled as the spec");
	ok(root && json_object_size(root) == n, "and nothing else");
	/* The example is the packaged config: every key but the two that must
	 * name the cluster holds its default (a resolver or recurseFrom of an
	 * example network would ship a policy nobody chose). */
	int differ = 0;
	for (size_t i = 0; root && i < n; i++) {
		if (strcmp(keys[i].name, "zk") == 0 || strcmp(keys[i].name, "masters") == 0 ||
		    strcmp(keys[i].name, "mesosCredentials") == 0)	/* its fields shown, empty */
			continue;
		json_t *def = json_loads(keys[i].def, JSON_DECODE_ANY, &jerr);
		json_t *got = json_object_get(root, keys[i].name);
		if (!def || !got || !json_equal(def, got)) {
			differ++;
			printf("# config.json.example: %s is not its default %s\n", keys[i].name,
			       keys[i].def);
		}
		json_decref(def);
	}
	is_int(differ, 0, "config.json.example holds the defaults but for zk and masters");
	json_decref(root);

	rc = config_load("tests/data/config/does-not-exist.json", &c, collect, &w, err, sizeof(err));
	is_int(rc, MDNS_ENOENT, "missing file: MDNS_ENOENT");
	ok(strstr(err, "does-not-exist.json") != NULL, "the message names the file");
	ok(c.domain && strcmp(c.domain, "mesos") == 0, "cfg still holds the defaults");
	config_clear(&c);
}

static void test_print(void)
{
	struct config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	rc = parse("{" BASE ", \"mesosCredentials\": {\"principal\": \"p\", \"secret\": \"hunter2\"}}",
		   &c, NULL, NULL, 0);
	is_int(rc, 0, "parse for print");
	config_print(&c, f);
	fclose(f);
	ok(buf && buf[0] == '{' && buf[len - 1] == '\n', "config_print prints a JSON object and a newline");
	ok(buf && !strstr(buf, "hunter2") && strstr(buf, "<redacted>"), "config_print redacts the secret");
	ok(buf && strstr(buf, "\"zoneResolvers\": {}") && strstr(buf, "\"resolvers\": [\n"),
	   "config_print shows every key");
	free(buf);
	config_clear(&c);
	is_str(config_ip_source_name(IPSRC_NETINFO), "netinfo", "config_ip_source_name");
}

/* reverseZones, healthAware, transferTo and notify (issue 9). */
static void test_xfr_keys(void)
{
	struct config c;
	char err[256] = "";
	int rc;

	rc = parse("{" BASE ", \"reverseZones\": \"auto\"}", &c, NULL, err, sizeof(err));
	ok(rc == 0 && c.reverse_zones.n == 1 && strcmp(c.reverse_zones.v[0], "auto") == 0,
	   "reverseZones \"auto\" is read as [\"auto\"]");
	config_clear(&c);
	rc = parse("{" BASE ", \"reverseZones\": [\"10.IN-ADDR.arpa.\", \"8.B.D.0.1.0.0.2.ip6.arpa\"],"
		   " \"healthAware\": true, \"transferTo\": [\"192.0.2.7\", \"2001:db8::/64\"],"
		   " \"notify\": [\"192.0.2.7\", \"[2001:db8::7]:5300\"]}", &c, NULL, err, sizeof(err));
	ok(rc == 0 && c.reverse_zones.n == 2 && strcmp(c.reverse_zones.v[0], "10.in-addr.arpa") == 0 &&
	   strcmp(c.reverse_zones.v[1], "8.b.d.0.1.0.0.2.ip6.arpa") == 0,
	   "reverse zones lower-cased, trailing dot dropped (%s)", err);
	ok(rc == 0 && c.health_aware && c.transfer_to.n == 2 &&
	   strcmp(c.transfer_to.v[0], "192.0.2.7/32") == 0 && c.notify.n == 2 &&
	   strcmp(c.notify.v[1], "[2001:db8::7]:5300") == 0, "healthAware, transferTo, notify read");
	config_clear(&c);
	rc = parse("{" BASE "}", &c, NULL, err, sizeof(err));
	ok(rc == 0 && c.reverse_zones.n == 0 && !c.health_aware && c.transfer_to.n == 0 &&
	   c.notify.n == 0, "defaults: off, off, nobody, nobody");
	config_clear(&c);
}

int main(void)
{
	test_table();
	test_defaults();
	test_every_key();
	test_case_and_null();
	test_unknown();
	test_bad_values();
	test_messages();
	test_files();
	test_print();
	test_xfr_keys();
	return done_testing();
}
