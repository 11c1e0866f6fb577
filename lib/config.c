/* lib/config.c -- parse and validate config.json, driven by one descriptor table. */
#include "lib/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/err.h"
#include "lib/log.h"
#include "zone/reverse.h"

/* ---- the descriptor table ------------------------------------------------ */

/*
 * The storage type is derived from the field itself, so a row cannot claim an
 * int where the struct has a uint16_t.  The controlling expression of
 * _Generic is never evaluated, so the null pointer is only used for its type.
 */
#define CONFIG_CTYPE(f) _Generic(((struct config *)0)->f,			\
	bool: CONFIG_C_BOOL,							\
	int: CONFIG_C_INT,							\
	uint16_t: CONFIG_C_U16,							\
	uint32_t: CONFIG_C_U32,							\
	char *: CONFIG_C_STR,							\
	struct strlist: CONFIG_C_STRLIST,					\
	default: CONFIG_C_OTHER)

/* The optional tail of a row sets further fields: `.reload = ...`. */
#define FIELD(f) .offset = offsetof(struct config, f), .ctype = CONFIG_CTYPE(f)

#define K_BOOL(n, f, d, doc_, ...)						\
	{ .name = n, .type = CONFIG_BOOL, FIELD(f), .def = d,		\
	  .allowed = "true or false", .doc = doc_, __VA_ARGS__ }
#define K_INT(n, f, lo, hi, fl, d, allow, doc_, ...)				\
	{ .name = n, .type = CONFIG_INT, FIELD(f), .min = lo, .max = hi,	\
	  .flags = fl, .def = d, .allowed = allow, .doc = doc_, __VA_ARGS__ }
#define K_STR(n, f, fmt, d, allow, doc_, ...)					\
	{ .name = n, .type = CONFIG_STRING, .format = fmt, FIELD(f),	\
	  .def = d, .allowed = allow, .doc = doc_, __VA_ARGS__ }
#define K_LIST(n, f, fmt, d, allow, doc_, ...)				\
	{ .name = n, .type = CONFIG_STRLIST, .format = fmt, FIELD(f),	\
	  .def = d, .allowed = allow, .doc = doc_, __VA_ARGS__ }
#define K_SPECIAL(n, f, fmt, fl, d, allow, doc_, ...)			\
	{ .name = n, .type = CONFIG_SPECIAL, .format = fmt, FIELD(f),	\
	  .flags = fl, .def = d, .allowed = allow, .doc = doc_, __VA_ARGS__ }

#define TTL_MAX 2147483647LL	/* RFC 2181 §8: TTLs and SOA timers are 31-bit */

static const struct config_key config_table[] = {
	K_STR("zk", zk, CONFIG_FMT_ZK, "\"\"",
	      "\"\" or zk://host:port[,host:port...]/path",
	      "ZooKeeper URL for leader detection",
	      .reload = CONFIG_RELOAD_ZK | CONFIG_RELOAD_FETCH),
	K_LIST("masters", masters, CONFIG_FMT_HOSTPORT, "[]",
	       "list of \"host:port\" (IPv6 as \"[ip]:port\"), port 1..65535, no duplicates",
	       "static masters, also the fallback when ZooKeeper fails",
	       .reload = CONFIG_RELOAD_FETCH),
	K_INT("zkDetectionTimeout", zk_detection_timeout, 1, 86400, 0, "30",
	      "integer 1..86400",
	      "seconds without a ZooKeeper leader before reporting degraded",
	      .reload = CONFIG_RELOAD_ZK),
	K_INT("refreshSeconds", refresh_seconds, 1, 86400, 0, "60",
	      "integer 1..86400", "seconds between state fetches"),
	K_INT("stateTimeoutSeconds", state_timeout_seconds, 1, 86400, 0, "300",
	      "integer 1..86400", "total HTTP timeout of one state fetch, seconds"),
	K_INT("ttl", ttl, 0, TTL_MAX, 0, "60",
	      "integer 0..2147483647", "TTL of every record",
	      .reload = CONFIG_RELOAD_ZONE),
	K_INT("SOAMinttl", soa_minttl, 0, TTL_MAX, 0, "60",
	      "integer 0..2147483647", "SOA MINIMUM and negative-answer TTL",
	      .reload = CONFIG_RELOAD_ZONE),
	K_INT("srvRecordDefaultWeight", srv_default_weight, 0, 65535, 0, "1",
	      "integer 0..65535", "weight of SRV records (priority is 0)",
	      .reload = CONFIG_RELOAD_ZONE),
	K_STR("domain", domain, CONFIG_FMT_DOMAIN, "\"mesos\"",
	      "domain name matching ^[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*$, labels up to 63 characters",
	      "zone apex served by this server",
	      .reload = CONFIG_RELOAD_ZONE),
	K_INT("port", port, 1, 65535, 0, "53",
	      "integer 1..65535", "DNS port, UDP and TCP",
	      .reload = CONFIG_RELOAD_RESTART),
	K_STR("listener", listener, CONFIG_FMT_IP, "\"0.0.0.0\"",
	      "IPv4 or IPv6 literal", "DNS bind address",
	      .reload = CONFIG_RELOAD_RESTART),
	K_STR("HTTPListener", http_listener, CONFIG_FMT_IP, "\"0.0.0.0\"",
	      "IPv4 or IPv6 literal", "HTTP API bind address",
	      .reload = CONFIG_RELOAD_RESTART),
	K_INT("httpport", http_port, 1, 65535, 0, "8123",
	      "integer 1..65535", "HTTP API port",
	      .reload = CONFIG_RELOAD_RESTART),
	K_BOOL("dnson", dns_on, "true", "serve DNS",
	       .reload = CONFIG_RELOAD_RESTART),
	K_BOOL("httpon", http_on, "true", "serve the HTTP API",
	       .reload = CONFIG_RELOAD_RESTART),
	K_BOOL("externalon", external_on, "true",
	       "forward names outside the domain (false: REFUSED)",
	       .reload = CONFIG_RELOAD_FORWARD),
	K_LIST("resolvers", resolvers, CONFIG_FMT_RESOLVER, "[\"8.8.8.8\"]",
	       "list of IP literals, \"IPv4:port\" or \"[IPv6]:port\", no duplicates",
	       "upstream servers; [] means the nameservers of /etc/resolv.conf",
	       .reload = CONFIG_RELOAD_FORWARD),
	K_SPECIAL("zoneResolvers", zone_resolvers, CONFIG_FMT_ZONE_RESOLVERS, 0, "{}",
		  "object mapping a domain outside the mesos domain to a non-empty resolver list",
		  "upstream servers per zone",
		  .reload = CONFIG_RELOAD_FORWARD),
	K_INT("timeout", timeout, 0, 300, CONFIG_F_ZERO_DEFAULT, "5",
	      "integer 0..300, 0 meaning the default",
	      "seconds per upstream exchange",
	      .reload = CONFIG_RELOAD_FORWARD),
	K_STR("SOAMname", soa_mname, CONFIG_FMT_HOSTNAME, "\"ns1.mesos\"",
	      "domain name, labels up to 63 characters", "SOA MNAME",
	      .reload = CONFIG_RELOAD_ZONE),
	K_STR("SOARname", soa_rname, CONFIG_FMT_MAILBOX, "\"root.ns1.mesos\"",
	      "mailbox as domain name or user@domain", "SOA RNAME",
	      .reload = CONFIG_RELOAD_ZONE),
	K_INT("SOARefresh", soa_refresh, 0, TTL_MAX, 0, "60",
	      "integer 0..2147483647", "SOA REFRESH",
	      .reload = CONFIG_RELOAD_ZONE),
	K_INT("SOARetry", soa_retry, 0, TTL_MAX, 0, "600",
	      "integer 0..2147483647", "SOA RETRY",
	      .reload = CONFIG_RELOAD_ZONE),
	K_INT("SOAExpire", soa_expire, 0, TTL_MAX, 0, "86400",
	      "integer 0..2147483647", "SOA EXPIRE",
	      .reload = CONFIG_RELOAD_ZONE),
	K_BOOL("recurseon", recurse_on, "true", "RA flag of authoritative answers",
	       .reload = CONFIG_RELOAD_ZONE),
	K_BOOL("enforceRFC952", enforce_rfc952, "false",
	       "RFC 952 labels (24 characters, no leading digit) instead of RFC 1123",
	       .reload = CONFIG_RELOAD_ZONE),
	K_BOOL("SetTruncateBit", set_truncate_bit, "true",
	       "set TC on trimmed answers",
	       .reload = CONFIG_RELOAD_ZONE),
	K_SPECIAL("IPSources", ip_sources, CONFIG_FMT_IPSOURCES, 0,
		  "[\"netinfo\",\"mesos\",\"host\"]",
		  "non-empty list of unique values from host, mesos, docker, netinfo",
		  "ordered sources of task IP addresses",
		  .reload = CONFIG_RELOAD_ZONE),
	K_BOOL("EnumerationOn", enumeration_on, "true",
	       "serve /v1/enumerate and /v1/axfr",
	       .reload = CONFIG_RELOAD_ZONE),
	K_BOOL("MesosHTTPSOn", mesos_https_on, "false", "HTTPS to the masters",
	       .reload = CONFIG_RELOAD_FETCH),
	K_STR("CACertFile", ca_cert_file, CONFIG_FMT_ANY, "\"\"",
	      "file name or \"\"", "CA bundle verifying the masters",
	      .reload = CONFIG_RELOAD_FETCH),
	K_STR("CertFile", cert_file, CONFIG_FMT_ANY, "\"\"",
	      "file name or \"\" (set together with KeyFile)",
	      "client certificate for the masters",
	      .reload = CONFIG_RELOAD_FETCH),
	K_STR("KeyFile", key_file, CONFIG_FMT_ANY, "\"\"",
	      "file name or \"\" (set together with CertFile)",
	      "key of the client certificate",
	      .reload = CONFIG_RELOAD_FETCH),
	K_STR("mesosAuthentication", mesos_authentication, CONFIG_FMT_AUTH, "\"\"",
	      "\"\", \"basic\" or \"iam\"", "authentication to the masters",
	      .reload = CONFIG_RELOAD_FETCH),
	K_SPECIAL("mesosCredentials", mesos_principal, CONFIG_FMT_CREDENTIALS,
		  CONFIG_F_SECRET, "{}",
		  "object {\"principal\": string, \"secret\": string}",
		  "credentials for basic authentication",
		  .reload = CONFIG_RELOAD_FETCH),
	K_STR("IAMConfigFile", iam_config_file, CONFIG_FMT_ANY, "\"\"",
	      "file name or \"\"", "IAM service account file for iam authentication",
	      .reload = CONFIG_RELOAD_FETCH),
	K_STR("stateFile", state_file, CONFIG_FMT_ANY, "\"\"",
	      "file name or \"\"", "read the state from this file instead of a master",
	      .reload = CONFIG_RELOAD_FETCH | CONFIG_RELOAD_ZK),
	K_LIST("recurseFrom", recurse_from, CONFIG_FMT_CIDR, "[]",
	       "list of CIDR prefixes (IPv4 or IPv6, no host bits), no duplicates",
	       "clients allowed to forward; [] means loopback and local networks",
	       .reload = CONFIG_RELOAD_FORWARD),
	K_INT("workers", workers, 0, 256, 0, "0",
	      "integer 0..256, 0 meaning the number of CPUs", "DNS worker threads",
	      .reload = CONFIG_RELOAD_RESTART),
	K_STR("stateCacheFile", state_cache_file, CONFIG_FMT_ANY, "\"\"",
	      "file name or \"\"", "where the last good state is kept across restarts"),
	K_INT("ednsUDPSize", edns_udp_size, 512, 4096, 0, "1232",
	      "integer 512..4096", "cap on the EDNS UDP size a client announces",
	      .reload = CONFIG_RELOAD_ZONE | CONFIG_RELOAD_FORWARD),
	K_INT("tcpIdleTimeout", tcp_idle_timeout, 1, 3600, 0, "10",
	      "integer 1..3600", "seconds an idle TCP connection is kept",
	      .reload = CONFIG_RELOAD_RESTART),
	K_INT("tcpMaxConnections", tcp_max_connections, 1, 100000, 0, "1024",
	      "integer 1..100000", "concurrent TCP connections",
	      .reload = CONFIG_RELOAD_RESTART),
	K_INT("forwardMaxInflight", forward_max_inflight, 1, 1000000, 0, "2048",
	      "integer 1..1000000",
	      "forwarded queries waiting for an upstream at once (more get SERVFAIL)",
	      .reload = CONFIG_RELOAD_FORWARD),
	K_INT("rateLimit", rate_limit, 0, 1000000, 0, "0",
	      "integer 0..1000000, 0 meaning off",
	      "UDP replies a second per client /24 (IPv4) or /56 (IPv6), per worker "
	      "thread; TCP and forwarded queries are not limited",
	      .reload = CONFIG_RELOAD_RESTART),
	K_INT("rateLimitSlip", rate_limit_slip, 0, 100, 0, "2",
	      "integer 0..100",
	      "every Nth reply over rateLimit is sent truncated (TC=1, no records) so a "
	      "real client retries over TCP; the others are dropped; 0: drop them all",
	      .reload = CONFIG_RELOAD_RESTART),
	K_STR("logLevel", log_level, CONFIG_FMT_LOGLEVEL, "\"\"",
	      "\"\", \"error\", \"warning\", \"info\" or \"debug\"",
	      "log level; \"\" means info (debug with -v), and -v wins over it"),
	K_LIST("reverseZones", reverse_zones, CONFIG_FMT_REVERSE_ZONE, "[]",
	       "\"auto\", or a list of zones under in-addr.arpa (1 to 4 octets) or ip6.arpa "
	       "(1 to 32 nibbles) that neither repeat nor contain one another",
	       "reverse zones served with PTR records for task, agent and master addresses; "
	       "\"auto\": the /24 (IPv4) and /64 (IPv6) of each address",
	       .reload = CONFIG_RELOAD_ZONE),
	K_BOOL("healthAware", health_aware, "false",
	       "leave tasks whose last health check failed out of A, AAAA and SRV answers "
	       "(a name whose tasks all failed keeps them all)",
	       .reload = CONFIG_RELOAD_ZONE),
	K_LIST("transferTo", transfer_to, CONFIG_FMT_CIDR, "[]",
	       "list of CIDR prefixes (IPv4 or IPv6, no host bits), no duplicates",
	       "clients allowed zone transfers (AXFR, IXFR over TCP); [] means nobody",
	       .reload = CONFIG_RELOAD_RESTART),
	K_LIST("notify", notify, CONFIG_FMT_RESOLVER, "[]",
	       "list of IP literals, \"IPv4:port\" or \"[IPv6]:port\" (port 53 when absent), "
	       "no duplicates",
	       "secondaries sent a NOTIFY when a zone changes; [] means each single address "
	       "(/32, /128) of transferTo on port 53",
	       .reload = CONFIG_RELOAD_RESTART),
	K_STR("stateSource", state_source, CONFIG_FMT_STATE_SOURCE, "\"poll\"",
	      "\"poll\" or \"stream\"",
	      "how the state is followed: \"poll\" fetches /master/state every refreshSeconds; "
	      "\"stream\" subscribes to the leader's operator event stream (Mesos 1.1+) and "
	      "polls only while no stream is up",
	      .reload = CONFIG_RELOAD_RESTART),
};

#define NKEYS (sizeof(config_table) / sizeof(config_table[0]))

size_t config_keys(const struct config_key **out)
{
	*out = config_table;
	return NKEYS;
}

const struct config_key *config_key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcasecmp(config_table[i].name, name) == 0)
			return &config_table[i];
	return NULL;
}

static const char *const ip_source_names[] = {
	[IPSRC_HOST] = "host",
	[IPSRC_MESOS] = "mesos",
	[IPSRC_DOCKER] = "docker",
	[IPSRC_NETINFO] = "netinfo",
};

const char *config_ip_source_name(enum ip_source s)
{
	if ((size_t)s < sizeof(ip_source_names) / sizeof(ip_source_names[0]))
		return ip_source_names[s];
	return "?";
}

/* ---- small helpers ------------------------------------------------------- */

static void *field(struct config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield(const struct config *cfg, const struct config_key *k)
{
	return (const char *)cfg + k->offset;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void zone_resolvers_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nzone_resolvers; i++) {
		free(cfg->zone_resolvers[i].zone);
		strlist_free(&cfg->zone_resolvers[i].resolvers);
	}
	free(cfg->zone_resolvers);
	cfg->zone_resolvers = NULL;
	cfg->nzone_resolvers = 0;
}

/* Free a secret after wiping it, so it does not linger in freed heap. */
static void secret_free(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
		free(s);
	}
}

/* Render s as a JSON string (quoted, escaped, ASCII) into buf, shortened. */
static void quote(const char *s, char *buf, size_t len)
{
	json_t *j = json_string(s);
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;

	json_decref(j);
	if (!t)
		snprintf(buf, len, "(string)");
	else if (strlen(t) > 64)
		snprintf(buf, len, "%.60s...\"", t);
	else
		snprintf(buf, len, "%s", t);
	free(t);
}

/* Render a JSON value compactly on one line into buf, shortened. */
static void show(const json_t *v, const struct config_key *k, char *buf, size_t len)
{
	char *t;

	if (k && (k->flags & CONFIG_F_SECRET)) {
		snprintf(buf, len, "<redacted>");
		return;
	}
	t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!t)
		snprintf(buf, len, "(value)");
	else if (strlen(t) > 64)
		snprintf(buf, len, "%.60s...", t);
	else
		snprintf(buf, len, "%s", t);
	free(t);
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	d[n] = '\0';
	return d;
}

/* Case-insensitive Levenshtein distance, capped: names are short. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]);
			size_t best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static bool prefix_ci(const char *shorter, const char *longer)
{
	return strncasecmp(shorter, longer, strlen(shorter)) == 0;
}

/*
 * The closest of names[] to key, or NULL when none is close: an edit
 * distance of at most 2 that leaves something of the key, or one name a
 * prefix (4 characters or more) of the other.  Ties go to the earlier name.
 */
static const char *closest(const char *key, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, klen = strlen(key);

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(key, names[i]), nlen = strlen(names[i]);
		bool near = d <= 2 && d < klen;
		bool prefix = (klen >= 4 && klen < nlen && prefix_ci(key, names[i])) ||
			      (nlen >= 4 && nlen < klen && prefix_ci(names[i], key));
		if ((near || prefix) && d < best_d) {
			best = names[i];
			best_d = d;
		}
	}
	return best;
}

/* ---- the parser state and its messages ------------------------------------ */

struct cfg_parser {
	struct config *cfg;
	void (*warn)(void *ctx, const char *msg);
	void *ctx;
	char *err;
	size_t errlen;
};

static int perr(struct cfg_parser *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct cfg_parser *p, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mdns_vset_err(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return code;
}

static int oom(struct cfg_parser *p)
{
	return perr(p, MDNS_ENOMEM, "config: out of memory");
}

static void pwarn(struct cfg_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pwarn(struct cfg_parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->warn)
		p->warn(p->ctx, msg);
	else
		log_warn("%s", msg);
}

static void warn_unknown(struct cfg_parser *p, const char *where, const char *key,
			 const char *const *names, size_t n)
{
	const char *hint = closest(key, names, n);
	char q[96];

	quote(key, q, sizeof(q));
	if (hint)
		pwarn(p, "config: %sunknown key %s ignored (did you mean \"%s\"?)",
		      where, q, hint);
	else
		pwarn(p, "config: %sunknown key %s ignored", where, q);
}

/* Longest normalised value of a checked string, and of its duplicate key. */
#define NORM_MAX 300
#define DUPKEY_MAX (NORM_MAX + 8)

/* ---- string formats -------------------------------------------------------
 * Each checker takes the string as written and returns 0 with a normalised
 * malloc'd copy in *out, or MDNS_EINVAL with a short reason in *why, or
 * MDNS_ENOMEM.
 */

static bool is_label_char(int c, bool underscore)
{
	return isalnum(c) || c == '-' || (underscore && c == '_');
}

/*
 * A DNS name of labels [a-zA-Z0-9-] (plus '_' when underscore), each 1..63
 * characters, 253 in all, no trailing dot.  Returns NULL or the reason.
 */
static const char *check_name(const char *s, size_t n, bool underscore)
{
	size_t label = 0;

	if (n == 0)
		return "empty name";
	if (n > 253)
		return "name longer than 253 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return "empty label";
			label = 0;
		} else if (!is_label_char(c, underscore)) {
			return "character not allowed in a name";
		} else if (++label > 63) {
			return "label longer than 63 characters";
		}
	}
	if (label == 0)
		return "empty label";
	return NULL;
}

/* A name of digits and dots is an IPv4 address or nothing. */
static bool all_numeric(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

/* Parse a decimal port 1..65535 from s[0..n).  -1 when invalid. */
static long parse_port(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

/* Canonical text of an IP literal, family in *af.  False when not one. */
static bool ip_canon(const char *s, char *buf, size_t len, int *af)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, s, b) == 1)
		*af = AF_INET;
	else if (inet_pton(AF_INET6, s, b) == 1)
		*af = AF_INET6;
	else
		return false;
	return inet_ntop(*af, b, buf, (socklen_t)len) != NULL;
}

enum hp_port { HP_PORT_REQUIRED, HP_PORT_OPTIONAL };

/*
 * Split and normalise "host:port", "[ipv6]:port", "host" or a bare IPv6
 * literal (s[0..n)).  ip_only rejects host names.  On success writes the
 * canonical form ("[v6]:port", "v4:port", "name:port", or the address alone
 * when no port was written) into out and returns NULL; *port is -1 when no
 * port was written.  Otherwise returns the reason.
 */
static const char *hostport(const char *s, size_t n, enum hp_port need, bool ip_only,
			    char *out, size_t outlen, long *port)
{
	char host[256], canon[256];
	const char *hs, *colon = NULL;
	size_t hn;
	bool bracket = false, bare6 = false;
	int af;

	*port = -1;
	if (n == 0)
		return "empty";
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return "missing ']'";
		hs = s + 1;
		hn = (size_t)(rb - hs);
		bracket = true;
		if (rb + 1 < s + n) {
			if (rb[1] != ':')
				return "unexpected text after ']'";
			colon = rb + 1;
		}
	} else {
		const char *first = memchr(s, ':', n);
		hs = s;
		hn = n;
		if (first) {
			const char *last = first;
			for (const char *c = first + 1; c < s + n; c++)
				if (*c == ':')
					last = c;
			if (last != first) {
				bare6 = true;	/* several colons: an IPv6 literal */
			} else {
				colon = first;
				hn = (size_t)(first - s);
			}
		}
	}
	if (colon) {
		*port = parse_port(colon + 1, (size_t)(s + n - colon - 1));
		if (*port < 0)
			return "port is not an integer 1..65535";
	}
	if (hn == 0)
		return "host missing";
	if (hn >= sizeof(host))
		return "host too long";
	memcpy(host, hs, hn);
	host[hn] = '\0';

	if (bracket || bare6) {
		unsigned char b[16];
		if (inet_pton(AF_INET6, host, b) != 1 ||
		    !inet_ntop(AF_INET6, b, canon, sizeof(canon)))
			return "not an IPv6 address";
		if (bare6 && need == HP_PORT_REQUIRED)
			return "IPv6 must be written as [ip]:port";
		if (*port < 0 && need == HP_PORT_REQUIRED)
			return "port missing";
		if (*port < 0)
			snprintf(out, outlen, "%s", canon);
		else
			snprintf(out, outlen, "[%s]:%ld", canon, *port);
		return NULL;
	}
	if (*port < 0 && need == HP_PORT_REQUIRED)
		return "port missing";
	if (ip_canon(host, canon, sizeof(canon), &af)) {
		/* af is AF_INET here: IPv6 has several colons or brackets */
		(void)af;
	} else if (ip_only) {
		return "not an IP address (host names are not allowed)";
	} else if (all_numeric(host)) {
		return "not a valid IPv4 address";
	} else {
		const char *why;
		size_t hl = strlen(host);
		if (hl > 1 && host[hl - 1] == '.')
			hl--;	/* a fully qualified host name is fine */
		why = check_name(host, hl, true);
		if (why)
			return why;
		for (size_t i = 0; host[i]; i++)
			canon[i] = (char)tolower((unsigned char)host[i]);
		canon[strlen(host)] = '\0';
	}
	if (*port < 0)
		snprintf(out, outlen, "%s", canon);
	else
		snprintf(out, outlen, "%s:%ld", canon, *port);
	return NULL;
}

static const char *check_zk(const char *s, char *out, size_t outlen)
{
	const char *rest, *slash, *h;
	char tmp[300];
	long port;

	if (*s == '\0') {
		out[0] = '\0';
		return NULL;
	}
	if (strncasecmp(s, "zk://", 5) != 0)
		return "does not start with zk://";
	rest = s + 5;
	slash = strchr(rest, '/');
	if (!slash)
		return "path missing";
	if (memchr(rest, '@', (size_t)(slash - rest)))
		return "credentials (user:pass@) are not supported";
	if (slash == rest)
		return "no host:port";
	for (h = rest; h < slash;) {
		const char *comma = memchr(h, ',', (size_t)(slash - h));
		const char *end = comma ? comma : slash;
		const char *why = hostport(h, (size_t)(end - h), HP_PORT_REQUIRED, false,
					   tmp, sizeof(tmp), &port);
		if (why)
			return why;
		h = comma ? comma + 1 : slash;
		if (comma && h == slash)
			return "empty host after ','";
	}
	/* ZooKeeper paths: absolute, no empty, "." or ".." segments, no trailing '/' */
	if (slash[1] == '\0')
		return "path is empty";
	for (const char *seg = slash + 1;;) {
		const char *e = strchr(seg, '/');
		size_t len = e ? (size_t)(e - seg) : strlen(seg);
		if (len == 0)
			return "empty path segment";
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "relative path segment";
		if (!e)
			break;
		seg = e + 1;
	}
	for (const char *c = slash; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ' ')
			return "control character or space in path";
	if (strlen(s) >= outlen)
		return "too long";
	/* Keep the URL as written, with the scheme in lower case. */
	snprintf(out, outlen, "zk://%s", rest);
	return NULL;
}

static const char *check_cidr(const char *s, char *out, size_t outlen)
{
	unsigned char b[16];
	char addr[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int af, bits, maxbits;

	if (alen == 0 || alen >= sizeof(addr))
		return "not an IP prefix";
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, b) == 1)
		af = AF_INET, maxbits = 32;
	else if (inet_pton(AF_INET6, addr, b) == 1)
		af = AF_INET6, maxbits = 128;
	else
		return "not an IP address";
	if (slash) {
		const char *d = slash + 1;
		size_t dl = strlen(d);
		if (dl == 0 || dl > 3)
			return "prefix length missing or invalid";
		bits = 0;
		for (size_t i = 0; i < dl; i++) {
			if (!isdigit((unsigned char)d[i]))
				return "prefix length is not a number";
			bits = bits * 10 + (d[i] - '0');
		}
		if (bits > maxbits)
			return af == AF_INET ? "prefix length over 32" : "prefix length over 128";
	} else {
		bits = maxbits;
	}
	for (int i = bits; i < maxbits; i++)
		if (b[i / 8] & (0x80 >> (i % 8)))
			return "address has bits set beyond the prefix length";
	if (!inet_ntop(af, b, canon, sizeof(canon)))
		return "not an IP address";
	snprintf(out, outlen, "%s/%d", canon, bits);
	return NULL;
}

/*
 * Check s against format f.  On success *out is the normalised copy (caller
 * frees) and, for list formats, dupkey holds the text duplicates are compared
 * by.  Returns 0, MDNS_EINVAL with *why set, or MDNS_ENOMEM.
 */
static int check_format(enum config_format f, const char *s, char **out,
			char *dupkey, size_t dupkeylen, const char **why)
{
	char buf[NORM_MAX];
	size_t n = strlen(s);
	long port;
	int af;

	*why = NULL;
	*out = NULL;
	switch (f) {
	case CONFIG_FMT_ANY:
		*out = strdup(s);
		break;
	case CONFIG_FMT_ZK:
		*why = check_zk(s, buf, sizeof(buf));
		if (!*why)
			*out = strdup(buf);
		break;
	case CONFIG_FMT_HOSTPORT:
		*why = hostport(s, n, HP_PORT_REQUIRED, false, buf, sizeof(buf), &port);
		if (!*why) {
			*out = strdup(buf);
			snprintf(dupkey, dupkeylen, "%s", buf);
		}
		break;
	case CONFIG_FMT_RESOLVER:
		*why = hostport(s, n, HP_PORT_OPTIONAL, true, buf, sizeof(buf), &port);
		if (!*why) {
			/* "8.8.8.8" and "8.8.8.8:53" are the same upstream */
			bool v6 = strchr(buf, ':') != NULL;
			*out = strdup(buf);
			if (port < 0)
				snprintf(dupkey, dupkeylen, "%s%s%s:53",
					 v6 ? "[" : "", buf, v6 ? "]" : "");
			else
				snprintf(dupkey, dupkeylen, "%s", buf);
		}
		break;
	case CONFIG_FMT_DOMAIN:
	case CONFIG_FMT_HOSTNAME:
	case CONFIG_FMT_MAILBOX: {
		char *t = strdup(s);
		size_t tl = n;
		if (!t)
			return MDNS_ENOMEM;
		if (f == CONFIG_FMT_MAILBOX)
			for (char *c = t; *c; c++)
				if (*c == '@')
					*c = '.';
		/* SOA names are made fully qualified; we store them without the dot */
		if (f != CONFIG_FMT_DOMAIN && tl > 1 && t[tl - 1] == '.')
			tl--;
		*why = check_name(t, tl, f != CONFIG_FMT_DOMAIN);
		if (!*why)
			*out = lower_dup(t, tl);
		free(t);
		if (!*why && !*out)
			return MDNS_ENOMEM;
		break;
	}
	case CONFIG_FMT_IP:
		if (ip_canon(s, buf, sizeof(buf), &af))
			*out = strdup(buf);
		else
			*why = "not an IP address";
		break;
	case CONFIG_FMT_AUTH:
		if (*s == '\0' || strcasecmp(s, "basic") == 0 || strcasecmp(s, "iam") == 0)
			*out = lower_dup(s, n);
		else
			*why = "unknown method";
		break;
	case CONFIG_FMT_STATE_SOURCE:
		if (strcasecmp(s, "poll") == 0 || strcasecmp(s, "stream") == 0)
			*out = lower_dup(s, n);
		else
			*why = "unknown source";
		break;
	case CONFIG_FMT_LOGLEVEL:
		if (*s == '\0' || strcasecmp(s, "error") == 0 || strcasecmp(s, "warning") == 0 ||
		    strcasecmp(s, "info") == 0 || strcasecmp(s, "debug") == 0)
			*out = lower_dup(s, n);
		else
			*why = "unknown level";
		break;
	case CONFIG_FMT_REVERSE_ZONE: {
		size_t zl = n;
		if (zl > 1 && s[zl - 1] == '.')
			zl--;	/* zones are often written fully qualified */
		*out = lower_dup(s, zl);
		if (!*out)
			return MDNS_ENOMEM;
		if (strcmp(*out, "auto") != 0 &&
		    (*why = check_name(*out, zl, false)) == NULL)
			*why = reverse_zone_check(*out);
		if (*why) {
			free(*out);
			*out = NULL;
		} else {
			snprintf(dupkey, dupkeylen, "%s", *out);
		}
		break;
	}
	case CONFIG_FMT_CIDR:
		*why = check_cidr(s, buf, sizeof(buf));
		if (!*why) {
			*out = strdup(buf);
			snprintf(dupkey, dupkeylen, "%s", buf);
		}
		break;
	default:
		*why = "internal: no string format";
		break;
	}
	if (*why)
		return MDNS_EINVAL;
	return *out ? 0 : MDNS_ENOMEM;
}

/* ---- setters, one per type ----------------------------------------------- */

static int set_bool(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	char shown[96];

	if (!json_is_boolean(v)) {
		show(v, k, shown, sizeof(shown));
		return perr(p, MDNS_EINVAL, "config: %s: %s is not a boolean (allowed: %s)",
			    k->name, shown, k->allowed);
	}
	*(bool *)field(p->cfg, k) = json_is_true(v);
	return 0;
}

static void int_store(struct config *cfg, const struct config_key *k, long long x)
{
	void *f = field(cfg, k);

	switch (k->ctype) {
	case CONFIG_C_INT:
		*(int *)f = (int)x;
		break;
	case CONFIG_C_U16:
		*(uint16_t *)f = (uint16_t)x;
		break;
	case CONFIG_C_U32:
		*(uint32_t *)f = (uint32_t)x;
		break;
	default:
		abort();	/* the table is wrong; the unit test catches it */
	}
}

static long long int_load(const struct config *cfg, const struct config_key *k)
{
	const void *f = cfield(cfg, k);

	switch (k->ctype) {
	case CONFIG_C_INT:
		return *(const int *)f;
	case CONFIG_C_U16:
		return *(const uint16_t *)f;
	case CONFIG_C_U32:
		return *(const uint32_t *)f;
	default:
		abort();
	}
}

static int set_int(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	char shown[96];
	long long x;

	if (!json_is_integer(v)) {
		show(v, k, shown, sizeof(shown));
		return perr(p, MDNS_EINVAL, "config: %s: %s is not an integer (allowed: %s)",
			    k->name, shown, k->allowed);
	}
	x = json_integer_value(v);
	if (x < k->min || x > k->max)
		return perr(p, MDNS_EINVAL, "config: %s: %lld is out of range (allowed: %s)",
			    k->name, x, k->allowed);
	if (x == 0 && (k->flags & CONFIG_F_ZERO_DEFAULT))
		x = strtoll(k->def, NULL, 10);
	int_store(p->cfg, k, x);
	return 0;
}

static int bad_string(struct cfg_parser *p, const char *name, const char *sub,
		      const char *s, const char *why, const char *allowed)
{
	char q[96];

	quote(s, q, sizeof(q));
	return perr(p, MDNS_EINVAL, "config: %s%s: %s is invalid, %s (allowed: %s)",
		    name, sub, q, why, allowed);
}

static int set_string(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	char shown[96], key[DUPKEY_MAX];
	const char *why;
	char *out, **f;
	int rc;

	if (!json_is_string(v)) {
		show(v, k, shown, sizeof(shown));
		return perr(p, MDNS_EINVAL, "config: %s: %s is not a string (allowed: %s)",
			    k->name, shown, k->allowed);
	}
	rc = check_format(k->format, json_string_value(v), &out, key, sizeof(key), &why);
	if (rc == MDNS_EINVAL)
		return bad_string(p, k->name, "", json_string_value(v), why, k->allowed);
	if (rc)
		return oom(p);
	f = field(p->cfg, k);
	free(*f);
	*f = out;
	return 0;
}

/*
 * Read an array of strings into *l (which starts empty), each checked with
 * the format of row k.  Duplicates, compared after normalisation, are
 * rejected.  Messages name the element as name + sub + "[i]", so that
 * zoneResolvers can borrow the resolvers row and still name itself.
 */
static int read_list(struct cfg_parser *p, const struct config_key *k, const char *name,
		     const char *sub, json_t *arr, struct strlist *l)
{
	size_t n = json_array_size(arr), i;
	char (*keys)[DUPKEY_MAX] = NULL;
	char path[160];
	json_t *e;
	int rc = 0;

	if (n == 0)
		return 0;
	l->v = calloc(n, sizeof(*l->v));
	keys = calloc(n, sizeof(*keys));
	if (!l->v || !keys) {
		free(keys);
		return oom(p);
	}
	json_array_foreach(arr, i, e) {
		const char *why;
		char shown[96];

		snprintf(path, sizeof(path), "%s[%zu]", sub, i);
		if (!json_is_string(e)) {
			show(e, k, shown, sizeof(shown));
			rc = perr(p, MDNS_EINVAL, "config: %s%s: %s is not a string (allowed: %s)",
				  name, path, shown, k->allowed);
			break;
		}
		rc = check_format(k->format, json_string_value(e), &l->v[i],
				  keys[i], sizeof(keys[i]), &why);
		if (rc == MDNS_EINVAL) {
			rc = bad_string(p, name, path, json_string_value(e), why, k->allowed);
			break;
		}
		if (rc) {
			rc = oom(p);
			break;
		}
		l->n = i + 1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(keys[j], keys[i]) == 0) {
				char q1[96], q2[96];
				quote(json_string_value(json_array_get(arr, j)), q1, sizeof(q1));
				quote(json_string_value(e), q2, sizeof(q2));
				rc = perr(p, MDNS_EINVAL,
					  "config: %s%s: %s duplicates %s (allowed: %s)",
					  name, path, q2, q1, k->allowed);
				break;
			}
		}
		if (rc)
			break;
	}
	free(keys);
	return rc;
}

static int set_list(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	struct strlist l = { 0 }, *f;
	char shown[96];
	int rc;

	/* reverseZones: "auto" alone stands for ["auto"]. */
	json_t *one = NULL;
	if (k->format == CONFIG_FMT_REVERSE_ZONE && json_is_string(v) &&
	    strcasecmp(json_string_value(v), "auto") == 0) {
		if (!(one = json_pack("[s]", "auto")))
			return oom(p);
		v = one;
	}
	if (!json_is_array(v)) {
		show(v, k, shown, sizeof(shown));
		return perr(p, MDNS_EINVAL, "config: %s: %s is not a list (allowed: %s)",
			    k->name, shown, k->allowed);
	}
	rc = read_list(p, k, k->name, "", v, &l);
	json_decref(one);
	if (rc) {
		strlist_free(&l);
		return rc;
	}
	f = field(p->cfg, k);
	strlist_free(f);
	*f = l;
	/* "resolvers": [] asks for /etc/resolv.conf, unlike an absent key */
	if (k->offset == offsetof(struct config, resolvers))
		p->cfg->resolvers_explicit_empty = l.n == 0;
	return 0;
}

static int set_ip_sources(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	enum ip_source src[4];
	size_t n = 0, i;
	char shown[96];
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		show(v, k, shown, sizeof(shown));
		return perr(p, MDNS_EINVAL, "config: %s: %s is %s (allowed: %s)", k->name,
			    shown, json_is_array(v) ? "empty" : "not a list", k->allowed);
	}
	json_array_foreach(v, i, e) {
		size_t s;

		show(e, k, shown, sizeof(shown));
		if (!json_is_string(e))
			return perr(p, MDNS_EINVAL, "config: %s[%zu]: %s is not a string (allowed: %s)",
				    k->name, i, shown, k->allowed);
		for (s = 0; s < 4; s++)
			if (strcasecmp(json_string_value(e), ip_source_names[s]) == 0)
				break;
		if (s == 4)
			return perr(p, MDNS_EINVAL, "config: %s[%zu]: %s is not a known source (allowed: %s)",
				    k->name, i, shown, k->allowed);
		for (size_t j = 0; j < n; j++)
			if (src[j] == (enum ip_source)s)
				return perr(p, MDNS_EINVAL, "config: %s[%zu]: %s is listed twice (allowed: %s)",
					    k->name, i, shown, k->allowed);
		src[n++] = (enum ip_source)s;
	}
	memcpy(p->cfg->ip_sources, src, n * sizeof(src[0]));
	p->cfg->nip_sources = n;
	return 0;
}

static int set_zone_resolvers(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	struct config_zone_resolvers *zr;
	size_t n = json_object_size(v), i = 0;
	const char *zone;
	char shown[96];
	json_t *list;
	int rc = 0;

	if (!json_is_object(v)) {
		show(v, k, shown, sizeof(shown));
		return perr(p, MDNS_EINVAL, "config: %s: %s is not an object (allowed: %s)",
			    k->name, shown, k->allowed);
	}
	zr = calloc(n ? n : 1, sizeof(*zr));
	if (!zr)
		return oom(p);
	json_object_foreach(v, zone, list) {
		char sub[128], q[96];
		size_t zl = strlen(zone);
		const char *why;

		quote(zone, q, sizeof(q));
		snprintf(sub, sizeof(sub), "[%s]", q);
		/* zones are often written fully qualified */
		if (zl > 1 && zone[zl - 1] == '.')
			zl--;
		why = check_name(zone, zl, false);
		if (why) {
			rc = perr(p, MDNS_EINVAL, "config: %s: zone %s is invalid, %s (allowed: %s)",
				  k->name, q, why, k->allowed);
			break;
		}
		zr[i].zone = lower_dup(zone, zl);
		if (!zr[i].zone) {
			rc = oom(p);
			break;
		}
		i++;
		if (!json_is_array(list) || json_array_size(list) == 0) {
			show(list, k, shown, sizeof(shown));
			rc = perr(p, MDNS_EINVAL, "config: %s%s: %s is %s (allowed: %s)",
				  k->name, sub, shown,
				  json_is_array(list) ? "empty" : "not a list", k->allowed);
			break;
		}
		/* the entries are resolvers: borrow that row's checks and words */
		rc = read_list(p, config_key_find("resolvers"), k->name, sub, list,
			       &zr[i - 1].resolvers);
		if (rc)
			break;
	}
	if (rc) {
		struct config tmp = { .zone_resolvers = zr, .nzone_resolvers = i };
		zone_resolvers_free(&tmp);
		return rc;
	}
	zone_resolvers_free(p->cfg);
	p->cfg->zone_resolvers = zr;
	p->cfg->nzone_resolvers = n;
	return 0;
}

static int set_credentials(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	static const char *const names[] = { "principal", "secret" };
	char *val[2] = { NULL, NULL };
	const char *sub;
	json_t *e;
	int rc = 0;

	if (!json_is_object(v))
		return perr(p, MDNS_EINVAL, "config: %s: <redacted> is not an object (allowed: %s)",
			    k->name, k->allowed);
	json_object_foreach(v, sub, e) {
		size_t i;

		for (i = 0; i < 2; i++)
			if (strcasecmp(sub, names[i]) == 0)
				break;
		if (i == 2) {
			char where[64];
			snprintf(where, sizeof(where), "%s: ", k->name);
			warn_unknown(p, where, sub, names, 2);
			continue;
		}
		if (json_is_null(e))
			continue;
		if (!json_is_string(e)) {
			rc = perr(p, MDNS_EINVAL,
				  "config: %s.%s: <redacted> is not a string (allowed: %s)",
				  k->name, names[i], k->allowed);
			break;
		}
		if (val[i]) {
			rc = perr(p, MDNS_EINVAL, "config: %s.%s: given twice (allowed: %s)",
				  k->name, names[i], k->allowed);
			break;
		}
		val[i] = strdup(json_string_value(e));
		if (!val[i]) {
			rc = oom(p);
			break;
		}
	}
	for (size_t i = 0; i < 2 && !rc; i++)
		if (!val[i] && !(val[i] = strdup("")))
			rc = oom(p);
	if (rc) {
		free(val[0]);
		secret_free(val[1]);
		return rc;
	}
	free(p->cfg->mesos_principal);
	secret_free(p->cfg->mesos_secret);
	p->cfg->mesos_principal = val[0];
	p->cfg->mesos_secret = val[1];
	return 0;
}

static int set_key(struct cfg_parser *p, const struct config_key *k, json_t *v)
{
	switch (k->type) {
	case CONFIG_BOOL:
		return set_bool(p, k, v);
	case CONFIG_INT:
		return set_int(p, k, v);
	case CONFIG_STRING:
		return set_string(p, k, v);
	case CONFIG_STRLIST:
		return set_list(p, k, v);
	case CONFIG_SPECIAL:
		switch (k->format) {
		case CONFIG_FMT_IPSOURCES:
			return set_ip_sources(p, k, v);
		case CONFIG_FMT_ZONE_RESOLVERS:
			return set_zone_resolvers(p, k, v);
		case CONFIG_FMT_CREDENTIALS:
			return set_credentials(p, k, v);
		default:
			break;
		}
		break;
	}
	return perr(p, MDNS_EINVAL, "config: %s: internal: no handler", k->name);
}

/* ---- defaults, parse, cross-key rules ------------------------------------ */

void config_defaults(struct config *cfg)
{
	char err[256] = "";
	struct cfg_parser p = { .cfg = cfg, .err = err, .errlen = sizeof(err) };

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_table[i];
		json_t *v = json_loads(k->def, JSON_DECODE_ANY, NULL);
		int rc = v ? set_key(&p, k, v) : MDNS_ENOMEM;

		json_decref(v);
		if (rc) {
			/* a broken table or no memory at start-up: nothing to serve */
			log_err("config: default of %s (%s) failed: %s", k->name, k->def,
				err[0] ? err : mdns_strerror(rc));
			abort();
		}
	}
}

/* True when zone a equals b or b sits inside a. */
static bool zone_covers(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > lb)
		return false;
	if (la == lb)
		return strcmp(a, b) == 0;
	return b[lb - la - 1] == '.' && strcmp(b + lb - la, a) == 0;
}

/*
 * reverseZones: "auto" stands alone; listed zones neither contain one another
 * (a PTR would land in the inner one and the outer would deny it) nor meet a
 * zoneResolvers zone (which would then never be asked).
 */
static int reverse_zones_checks(struct cfg_parser *p)
{
	const struct strlist *rz = &p->cfg->reverse_zones;
	const char *allowed = config_key_find("reverseZones")->allowed;
	char q[96];

	for (size_t i = 0; i < rz->n; i++) {
		quote(rz->v[i], q, sizeof(q));
		if (strcmp(rz->v[i], "auto") == 0 && rz->n > 1)
			return perr(p, MDNS_EINVAL,
				    "config: reverseZones[%zu]: %s must be alone (allowed: %s)", i, q,
				    allowed);
		for (size_t j = 0; j < i; j++)
			if (zone_covers(rz->v[i], rz->v[j]) || zone_covers(rz->v[j], rz->v[i]))
				return perr(p, MDNS_EINVAL,
					    "config: reverseZones[%zu]: %s overlaps \"%s\" (allowed: %s)",
					    i, q, rz->v[j], allowed);
		for (size_t j = 0; j < p->cfg->nzone_resolvers; j++) {
			const char *z = p->cfg->zone_resolvers[j].zone;
			if (zone_covers(rz->v[i], z) || zone_covers(z, rz->v[i]))
				return perr(p, MDNS_EINVAL,
					    "config: reverseZones[%zu]: %s overlaps zoneResolvers zone \"%s\" (allowed: zones apart from the zoneResolvers zones)",
					    i, q, z);
		}
	}
	return 0;
}

static int cross_checks(struct cfg_parser *p)
{
	struct config *c = p->cfg;
	char q[96];

	if (!c->dns_on && !c->http_on)
		return perr(p, MDNS_EINVAL,
			    "config: dnson, httpon: both false (allowed: at least one true)");
	if (!c->zk[0] && c->masters.n == 0 && !c->state_file[0])
		return perr(p, MDNS_EINVAL,
			    "config: zk, masters, stateFile: none given (allowed: at least one of them)");
	if (!c->cert_file[0] != !c->key_file[0])
		return perr(p, MDNS_EINVAL,
			    "config: %s: \"\" while %s is set (allowed: CertFile and KeyFile both or neither)",
			    c->cert_file[0] ? "KeyFile" : "CertFile",
			    c->cert_file[0] ? "CertFile" : "KeyFile");
	if (strcmp(c->mesos_authentication, "basic") == 0 &&
	    (!c->mesos_principal[0] || !c->mesos_secret[0]))
		return perr(p, MDNS_EINVAL,
			    "config: mesosCredentials: %s is empty (allowed: principal and secret both set when mesosAuthentication is \"basic\")",
			    !c->mesos_principal[0] ? "principal" : "secret");
	if (strcmp(c->mesos_authentication, "iam") == 0 && !c->iam_config_file[0])
		return perr(p, MDNS_EINVAL,
			    "config: IAMConfigFile: \"\" (allowed: a file name when mesosAuthentication is \"iam\")");
	for (size_t i = 0; i < c->nzone_resolvers; i++) {
		const char *z = c->zone_resolvers[i].zone;

		quote(z, q, sizeof(q));
		if (zone_covers(z, c->domain) || zone_covers(c->domain, z))
			return perr(p, MDNS_EINVAL,
				    "config: zoneResolvers: zone %s overlaps the mesos domain \"%s\" (allowed: zones that neither equal, contain nor sit inside it)",
				    q, c->domain);
		for (size_t j = 0; j < i; j++) {
			const char *o = c->zone_resolvers[j].zone;
			if (zone_covers(z, o) || zone_covers(o, z))
				return perr(p, MDNS_EINVAL,
					    "config: zoneResolvers: zone %s overlaps zone \"%s\" (allowed: zones that neither equal, contain nor sit inside another)",
					    q, o);
		}
	}
	return reverse_zones_checks(p);
}

static int parse_into(struct cfg_parser *p, const char *json, size_t len)
{
	const char *names[NKEYS];
	const char *seen[NKEYS] = { 0 };
	json_error_t jerr;
	const char *name;
	json_t *root, *v;
	int rc = 0;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return perr(p, MDNS_EPARSE, "config: line %d, column %d: %s",
			    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return perr(p, MDNS_EINVAL,
			    "config: top level is not an object (allowed: a JSON object of keys)");
	}
	for (size_t i = 0; i < NKEYS; i++)
		names[i] = config_table[i].name;
	json_object_foreach(root, name, v) {
		const struct config_key *k = config_key_find(name);
		size_t idx;

		if (!k) {
			warn_unknown(p, "", name, names, NKEYS);
			continue;
		}
		idx = (size_t)(k - config_table);
		if (seen[idx]) {
			char q1[96], q2[96];
			quote(seen[idx], q1, sizeof(q1));
			quote(name, q2, sizeof(q2));
			rc = perr(p, MDNS_EINVAL,
				  "config: %s: given twice, as %s and %s (allowed: once, names match case-insensitively)",
				  k->name, q1, q2);
			break;
		}
		seen[idx] = name;
		if (json_is_null(v))
			continue;	/* mesos-dns (Go) left the default in place */
		rc = set_key(p, k, v);
		if (rc)
			break;
	}
	if (!rc)
		rc = cross_checks(p);
	json_decref(root);
	return rc;
}

int config_parse(const char *json, size_t len, struct config *cfg,
		 void (*warn)(void *ctx, const char *msg), void *ctx,
		 char *err, size_t errlen)
{
	struct cfg_parser p = { cfg, warn, ctx, err, errlen };

	if (err && errlen)
		err[0] = '\0';
	config_defaults(cfg);
	return parse_into(&p, json, len);
}

#define CONFIG_MAX_SIZE (16u << 20)

int config_load(const char *path, struct config *cfg,
		void (*warn)(void *ctx, const char *msg), void *ctx,
		char *err, size_t errlen)
{
	struct cfg_parser p = { cfg, warn, ctx, err, errlen };
	char *buf = NULL, q[300];
	size_t len = 0, cap = 0;
	FILE *f;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	config_defaults(cfg);
	quote(path, q, sizeof(q));
	f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		return perr(&p, -e, "config: cannot open %s: %s", q, strerror(e));
	}
	for (;;) {
		size_t got;
		if (len == cap) {
			char *nb;
			if (cap >= CONFIG_MAX_SIZE) {
				fclose(f);
				free(buf);
				return perr(&p, MDNS_ETOOBIG, "config: %s is over %u bytes",
					    q, CONFIG_MAX_SIZE);
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				fclose(f);
				free(buf);
				return oom(&p);
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		fclose(f);
		free(buf);
		return perr(&p, -e, "config: cannot read %s: %s", q, strerror(e));
	}
	fclose(f);
	rc = parse_into(&p, buf ? buf : "", len);
	free(buf);
	return rc;
}

void config_clear(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_table[i];

		if (k->type == CONFIG_STRING) {
			char **f = field(cfg, k);
			free(*f);
		} else if (k->type == CONFIG_STRLIST) {
			strlist_free(field(cfg, k));
		}
	}
	zone_resolvers_free(cfg);
	free(cfg->mesos_principal);
	secret_free(cfg->mesos_secret);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- output -------------------------------------------------------------- */

static json_t *strlist_json(const struct strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		if (json_array_append_new(a, json_string(l->v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *key_json(const struct config *cfg, const struct config_key *k)
{
	json_t *o;

	switch (k->type) {
	case CONFIG_BOOL:
		return json_boolean(*(const bool *)cfield(cfg, k));
	case CONFIG_INT:
		return json_integer(int_load(cfg, k));
	case CONFIG_STRING: {
		const char *s = *(char *const *)cfield(cfg, k);
		return json_string(s ? s : "");
	}
	case CONFIG_STRLIST:
		return strlist_json(cfield(cfg, k));
	case CONFIG_SPECIAL:
		break;
	}
	switch (k->format) {
	case CONFIG_FMT_IPSOURCES:
		o = json_array();
		for (size_t i = 0; o && i < cfg->nip_sources; i++)
			if (json_array_append_new(o, json_string(config_ip_source_name(cfg->ip_sources[i])))) {
				json_decref(o);
				return NULL;
			}
		return o;
	case CONFIG_FMT_ZONE_RESOLVERS:
		o = json_object();
		for (size_t i = 0; o && i < cfg->nzone_resolvers; i++)
			if (json_object_set_new(o, cfg->zone_resolvers[i].zone,
						strlist_json(&cfg->zone_resolvers[i].resolvers))) {
				json_decref(o);
				return NULL;
			}
		return o;
	case CONFIG_FMT_CREDENTIALS: {
		const char *pr = cfg->mesos_principal ? cfg->mesos_principal : "";
		const char *se = cfg->mesos_secret && cfg->mesos_secret[0] ? "<redacted>" : "";
		return json_pack("{s:s, s:s}", "principal", pr, "secret", se);
	}
	default:
		return NULL;
	}
}

char *config_dump(const struct config *cfg)
{
	json_t *root = json_object();
	char *s;

	if (!root)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		json_t *v = key_json(cfg, &config_table[i]);
		if (!v || json_object_set_new(root, config_table[i].name, v)) {
			json_decref(root);
			return NULL;
		}
	}
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

void config_print(const struct config *cfg, FILE *f)
{
	char *s = config_dump(cfg);

	if (!s) {
		fputs("{}\n", f);
		return;
	}
	fputs(s, f);
	fputc('\n', f);
	free(s);
}

/* ---- sharing and reloading ------------------------------------------------ */

struct config *config_load_new(const char *path,
			       void (*warn)(void *ctx, const char *msg), void *ctx,
			       char *err, size_t errlen)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	int rc;

	if (!cfg) {
		if (err && errlen)
			snprintf(err, errlen, "config: out of memory");
		return NULL;
	}
	rc = config_load(path, cfg, warn, ctx, err, errlen);
	if (rc) {
		config_clear(cfg);
		free(cfg);
		return NULL;
	}
	atomic_store(&cfg->refs, 1);
	return cfg;
}

const struct config *config_hold(const struct config *cfg)
{
	/* The count is not part of the configuration: holding a const config
	 * is allowed, as with any reference-counted object. */
	struct config *c = (struct config *)cfg;

	if (c && atomic_load(&c->refs) > 0)
		atomic_fetch_add(&c->refs, 1);
	return cfg;
}

void config_release(const struct config *cfg)
{
	struct config *c = (struct config *)cfg;

	if (!c || atomic_load(&c->refs) == 0)
		return;
	if (atomic_fetch_sub(&c->refs, 1) == 1) {
		config_clear(c);
		free(c);
	}
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int config_key_equal(const struct config *a, const struct config *b,
		     const struct config_key *k)
{
	if (k->type == CONFIG_SPECIAL && k->format == CONFIG_FMT_CREDENTIALS)
		return str_eq(a->mesos_principal, b->mesos_principal) &&
		       str_eq(a->mesos_secret, b->mesos_secret);
	if (k->type == CONFIG_STRLIST && k->offset == offsetof(struct config, resolvers) &&
	    a->resolvers_explicit_empty != b->resolvers_explicit_empty)
		return 0;
	json_t *x = key_json(a, k), *y = key_json(b, k);
	int eq = x && y && json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return eq;
}

static int strlist_copy(struct strlist *dst, const struct strlist *src)
{
	struct strlist l = { 0 };

	if (src->n) {
		l.v = calloc(src->n, sizeof(*l.v));
		if (!l.v)
			return MDNS_ENOMEM;
	}
	for (; l.n < src->n; l.n++)
		if (!(l.v[l.n] = strdup(src->v[l.n]))) {
			strlist_free(&l);
			return MDNS_ENOMEM;
		}
	strlist_free(dst);
	*dst = l;
	return 0;
}

int config_key_copy(struct config *dst, const struct config *src, const struct config_key *k)
{
	switch (k->type) {
	case CONFIG_BOOL:
		*(bool *)field(dst, k) = *(const bool *)cfield(src, k);
		return 0;
	case CONFIG_INT:
		int_store(dst, k, int_load(src, k));
		return 0;
	case CONFIG_STRING: {
		const char *s = *(char *const *)cfield(src, k);
		char *d = strdup(s ? s : "");
		char **f = field(dst, k);
		if (!d)
			return MDNS_ENOMEM;
		free(*f);
		*f = d;
		return 0;
	}
	case CONFIG_STRLIST:
		if (k->offset == offsetof(struct config, resolvers))
			dst->resolvers_explicit_empty = src->resolvers_explicit_empty;
		return strlist_copy(field(dst, k), cfield(src, k));
	case CONFIG_SPECIAL:
		break;
	}
	return MDNS_EINVAL;
}

unsigned config_diff(const struct config *old, const struct config *new_cfg,
		     char *changed, size_t changedlen)
{
	unsigned flags = 0;
	size_t used = 0;

	if (changed && changedlen)
		changed[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_table[i];

		if (config_key_equal(old, new_cfg, k))
			continue;
		flags |= k->reload;
		if (changed && used + 1 < changedlen) {
			int n = snprintf(changed + used, changedlen - used, "%s%s",
					 used ? ", " : "", k->name);
			used = n < 0 ? used : used + (size_t)n;
			if (used >= changedlen) {
				/* shortened: end with an ellipsis that fits */
				if (changedlen > 4)
					memcpy(changed + changedlen - 4, "...", 4);
				used = changedlen;
			}
		}
	}
	return flags;
}
