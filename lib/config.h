/* lib/config.h -- the daemon configuration (config.json), see behaviour.md §1.1. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A counted list of strings, owned by the config. */
struct strlist {
	char **v;
	size_t n;
};

/* One zoneResolvers entry. */
struct config_zone_resolvers {
	char *zone;			/* lower-case, no trailing dot */
	struct strlist resolvers;
};

enum ip_source {
	IPSRC_HOST = 0,
	IPSRC_MESOS,
	IPSRC_DOCKER,
	IPSRC_NETINFO,
};

/*
 * Every key of behaviour.md §1.1 plus our additions.  Field comments give the
 * JSON key; defaults live only in the descriptor table in config.c.
 * Strings are never NULL after config_defaults()/config_load() ("" = unset).
 */
struct config {
	char *zk;				/* zk */
	struct strlist masters;			/* masters: "host:port" */
	int zk_detection_timeout;		/* zkDetectionTimeout, seconds */
	int refresh_seconds;			/* refreshSeconds */
	int state_timeout_seconds;		/* stateTimeoutSeconds */
	uint32_t ttl;				/* ttl */
	uint32_t soa_minttl;			/* SOAMinttl */
	uint16_t srv_default_weight;		/* srvRecordDefaultWeight */
	char *domain;				/* domain, lower-cased */
	uint16_t port;				/* port */
	char *listener;				/* listener */
	char *http_listener;			/* HTTPListener */
	uint16_t http_port;			/* httpport */
	bool dns_on;				/* dnson */
	bool http_on;				/* httpon */
	bool external_on;			/* externalon */
	struct strlist resolvers;		/* resolvers */
	bool resolvers_explicit_empty;		/* "resolvers": [] was written */
	struct config_zone_resolvers *zone_resolvers; /* zoneResolvers */
	size_t nzone_resolvers;
	int timeout;				/* timeout, seconds (0 -> 5) */
	char *soa_mname;			/* SOAMname, fully qualified, no trailing dot */
	char *soa_rname;			/* SOARname, '@' -> '.', no trailing dot */
	uint32_t soa_refresh;			/* SOARefresh */
	uint32_t soa_retry;			/* SOARetry */
	uint32_t soa_expire;			/* SOAExpire */
	bool recurse_on;			/* recurseon */
	bool enforce_rfc952;			/* enforceRFC952 */
	bool set_truncate_bit;			/* SetTruncateBit */
	enum ip_source ip_sources[4];		/* IPSources, in order */
	size_t nip_sources;
	bool enumeration_on;			/* EnumerationOn */
	bool mesos_https_on;			/* MesosHTTPSOn */
	char *ca_cert_file;			/* CACertFile */
	char *cert_file;			/* CertFile */
	char *key_file;				/* KeyFile */
	char *mesos_authentication;		/* mesosAuthentication: "", "basic", "iam" */
	char *mesos_principal;			/* mesosCredentials.principal */
	char *mesos_secret;			/* mesosCredentials.secret */
	char *iam_config_file;			/* IAMConfigFile */
	/* our additions */
	char *state_file;			/* stateFile */
	struct strlist recurse_from;		/* recurseFrom (CIDRs); empty = default */
	int workers;				/* workers (0 = number of CPUs) */
	char *state_cache_file;			/* stateCacheFile */
	uint16_t edns_udp_size;			/* ednsUDPSize: cap on the client's EDNS size */
	int tcp_idle_timeout;			/* tcpIdleTimeout, seconds */
	int tcp_max_connections;		/* tcpMaxConnections */
	int forward_max_inflight;		/* forwardMaxInflight */
	int rate_limit;				/* rateLimit: UDP replies/s per prefix, 0 off */
	int rate_limit_slip;			/* rateLimitSlip: every Nth limited reply TC */
	char *log_level;			/* logLevel: "", "error", "warning", "info", "debug" */
	struct strlist reverse_zones;		/* reverseZones: zone names, or the one entry "auto" */
	bool health_aware;			/* healthAware */
	struct strlist transfer_to;		/* transferTo (CIDRs) */
	struct strlist notify;			/* notify: "IP" or "IP:port" ([v6]:port) */
	char *state_source;			/* stateSource: "poll" or "stream" */

	/* Not a key: references held through config_hold() (0: the config is
	 * not shared, its owner clears it; see config_load_new()). */
	atomic_int refs;
};

/* How a key's JSON value is read. */
enum config_type {
	CONFIG_BOOL = 0,	/* true / false */
	CONFIG_INT,		/* integer in [min, max] */
	CONFIG_STRING,		/* string, checked by format */
	CONFIG_STRLIST,		/* array of strings, each checked by format */
	CONFIG_SPECIAL,		/* IPSources, zoneResolvers, mesosCredentials */
};

/* What a string (or each list element) must look like; also selects the
 * handler of a CONFIG_SPECIAL key. */
enum config_format {
	CONFIG_FMT_ANY = 0,		/* any string (file names; "" = unset) */
	CONFIG_FMT_ZK,			/* "" or zk://host:port[,host:port...]/path */
	CONFIG_FMT_HOSTPORT,		/* host:port or [ipv6]:port, port required */
	CONFIG_FMT_RESOLVER,		/* IP, IPv4:port or [IPv6]:port */
	CONFIG_FMT_DOMAIN,		/* ^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$ */
	CONFIG_FMT_IP,			/* IPv4 or IPv6 literal */
	CONFIG_FMT_HOSTNAME,		/* DNS name, optional trailing dot */
	CONFIG_FMT_MAILBOX,		/* like HOSTNAME after '@' -> '.' */
	CONFIG_FMT_AUTH,		/* "", "basic" or "iam" */
	CONFIG_FMT_CIDR,		/* IP/prefix (a bare IP is a host prefix) */
	CONFIG_FMT_IPSOURCES,		/* special: list from host, mesos, docker, netinfo */
	CONFIG_FMT_ZONE_RESOLVERS,	/* special: {zone: [resolver...]} */
	CONFIG_FMT_CREDENTIALS,		/* special: {"principal", "secret"} */
	CONFIG_FMT_LOGLEVEL,		/* "", "error", "warning", "info" or "debug" */
	CONFIG_FMT_REVERSE_ZONE,	/* a zone under in-addr.arpa / ip6.arpa, or "auto" */
	CONFIG_FMT_STATE_SOURCE,	/* "poll" or "stream" */
};

/* C type of the field a key is stored in (derived with _Generic; internal). */
enum config_ctype {
	CONFIG_C_OTHER = 0,
	CONFIG_C_BOOL,
	CONFIG_C_INT,
	CONFIG_C_U16,
	CONFIG_C_U32,
	CONFIG_C_STR,
	CONFIG_C_STRLIST,
};

/* Flags of a config_key. */
enum {
	CONFIG_F_ZERO_DEFAULT = 1 << 0,	/* an integer 0 stands for the default */
	CONFIG_F_SECRET       = 1 << 1,	/* never echo the value (errors, print) */
};

/*
 * What a changed value does when the config is reloaded (SIGHUP), or-ed in
 * config_key.reload.  A key with none is read again at its next use (the
 * next fetch, the next cache write...).
 */
enum config_reload {
	CONFIG_RELOAD_RESTART = 1 << 0,	/* needs a restart: the running value is kept */
	CONFIG_RELOAD_ZONE    = 1 << 1,	/* the zone is rebuilt at once from the last state */
	CONFIG_RELOAD_FORWARD = 1 << 2,	/* the forwarding settings are replaced */
	CONFIG_RELOAD_FETCH   = 1 << 3,	/* the state is fetched again at once */
	CONFIG_RELOAD_ZK      = 1 << 4,	/* the ZooKeeper watcher is started again */
};

/*
 * One row of the descriptor table: the only place that knows a key's name,
 * type, storage, default and bounds.  Rows are static and read-only.
 */
struct config_key {
	const char *name;		/* JSON key as spelled in behaviour.md */
	enum config_type type;
	enum config_format format;	/* CONFIG_STRING/STRLIST/SPECIAL only */
	size_t offset;			/* of the field in struct config */
	enum config_ctype ctype;	/* C type of that field */
	long long min, max;		/* CONFIG_INT bounds (within 0..INT32_MAX) */
	unsigned flags;			/* CONFIG_F_* */
	const char *def;		/* default as JSON text, e.g. "60", "[\"8.8.8.8\"]" */
	const char *allowed;		/* what is accepted, quoted in error messages */
	const char *doc;		/* one-line description (man page, /v1/config) */
	unsigned reload;		/* CONFIG_RELOAD_* */
};

/*
 * The descriptor table, in spec order.  *out points at static storage owned by
 * this module; returns the number of rows.
 */
size_t config_keys(const struct config_key **out);

/* The row whose name matches name case-insensitively, or NULL (borrowed). */
const struct config_key *config_key_find(const char *name);

/*
 * Fill cfg with the defaults of the descriptor table (allocates strings).
 * cfg is treated as uninitialised; nothing it held is freed.  Aborts on out
 * of memory (the table itself is checked by the unit test).
 */
void config_defaults(struct config *cfg);

/*
 * Parse a config.json text.  Starts from the defaults (cfg is treated as
 * uninitialised), applies the keys (matched case-insensitively; a JSON null
 * keeps the default, as mesos-dns did), validates every value and the
 * cross-key rules.  Values are stored normalised: names lower-cased without a
 * trailing dot, IP literals in their canonical text form.  Unknown keys are
 * reported through warn(ctx, message) (log_warn when warn is NULL) with a
 * "did you mean" hint and are not errors.  On error returns MDNS_EINVAL (a key
 * given twice, a wrong type, a bad value, a broken cross-key rule),
 * MDNS_EPARSE (JSON syntax, with line and column) or MDNS_ENOMEM, and writes
 * one line naming the key, the value and what is allowed into err (err may be
 * NULL).  cfg must be released with config_clear() either way.
 */
int config_parse(const char *json, size_t len, struct config *cfg,
		 void (*warn)(void *ctx, const char *msg), void *ctx,
		 char *err, size_t errlen);

/*
 * Read path and config_parse it.  A missing or unreadable file is an error
 * (the negated errno, message naming the file); a file over 16 MiB is
 * MDNS_ETOOBIG.  cfg must be released with config_clear() either way.
 */
int config_load(const char *path, struct config *cfg,
		void (*warn)(void *ctx, const char *msg), void *ctx,
		char *err, size_t errlen);

/* Free everything cfg owns and zero it; safe on a zeroed struct. */
void config_clear(struct config *cfg);

/*
 * The effective config as indented JSON text, keys as spelled in the spec, in
 * table order; mesosCredentials.secret is shown as "<redacted>" when set.
 * Returns a string the caller frees with free(), or NULL on out of memory.
 */
char *config_dump(const struct config *cfg);

/* Print config_dump() and a newline to f. */
void config_print(const struct config *cfg, FILE *f);

/* ---- sharing and reloading ------------------------------------------------ */

/*
 * config_load() into a new heap config holding one reference (refs = 1), for
 * a config that several modules and threads share and that a reload
 * replaces.  NULL on any error, with the message in err as config_load
 * writes it.  Release with config_release().
 */
struct config *config_load_new(const char *path,
			       void (*warn)(void *ctx, const char *msg), void *ctx,
			       char *err, size_t errlen);

/*
 * Take one more reference to cfg and return it.  The count is kept outside
 * the keys, so a const config can be held.  A config that is not shared
 * (refs 0: on the stack or from config_load) is returned as is.  Thread-safe.
 */
const struct config *config_hold(const struct config *cfg);

/*
 * Drop one reference; the last one clears and frees cfg.  NULL and configs
 * that are not shared are no-ops.  Thread-safe.
 */
void config_release(const struct config *cfg);

/*
 * 1 when key k has the same value in a and b (mesosCredentials compares the
 * secret too, resolvers whether [] was written), else 0.  0 as well on out of
 * memory, which then reads as a change.
 */
int config_key_equal(const struct config *a, const struct config *b,
		     const struct config_key *k);

/*
 * Set key k of dst to its value in src (deep copy).  For the bool, integer,
 * string and string-list keys; MDNS_EINVAL for the others, MDNS_ENOMEM.
 */
int config_key_copy(struct config *dst, const struct config *src, const struct config_key *k);

/*
 * The CONFIG_RELOAD_* flags of every key whose value differs between old
 * and new, or-ed together; names of the changed keys are written to
 * changed (comma-separated, shortened to fit; may be NULL).
 */
unsigned config_diff(const struct config *old, const struct config *new_cfg,
		     char *changed, size_t changedlen);

/* Name of an IP source ("host", "mesos", "docker", "netinfo"). */
const char *config_ip_source_name(enum ip_source s);
