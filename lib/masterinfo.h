/* lib/masterinfo.h -- decode the MasterInfo a Mesos master registers in ZooKeeper. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * What behaviour.md §1.2 uses of a MasterInfo, from either encoding:
 * the JSON of `json.info_<seq>` nodes or the binary protobuf of the old
 * `info_<seq>` nodes.  Pure code (no I/O, no clock) so it can be fuzzed.
 *
 * Strings are malloc'd and owned by the struct (NULL when absent); release
 * them with masterinfo_clear().
 */
struct masterinfo {
	char *id;			/* id */
	char *pid;			/* pid, "master@ip:port" */
	char *hostname;			/* hostname */
	char *version;			/* version */
	int has_ip;			/* the legacy uint32 ip was present */
	uint32_t ip;			/* ip: network order as a little-endian host reads it */
	int has_port;
	uint32_t port;			/* port (default 5050 when absent) */
	int has_address;		/* an address object/message was present */
	char *address_hostname;		/* address.hostname */
	char *address_ip;		/* address.ip (text as written) */
	int has_address_port;
	int32_t address_port;		/* address.port */
};

/* Longest text masterinfo_hostport() writes, NUL included. */
#define MASTERINFO_HOSTPORT_MAX 300

/* Kind of a child of the zk path. */
enum masterinfo_node {
	MASTERINFO_NODE_OTHER = 0,	/* ignored (log_replicas, ...) */
	MASTERINFO_NODE_JSON,		/* json.info_<seq> */
	MASTERINFO_NODE_PB,		/* info_<seq> */
};

/*
 * Classify a child name of the zk path and read its sequence number (the
 * digits after "info_", an optional '-' first since ZooKeeper's signed
 * counter wraps).  *seq is set for JSON and PB nodes only.
 */
enum masterinfo_node masterinfo_node_kind(const char *name, int64_t *seq);

/*
 * Decode MasterInfo JSON (len bytes, need not be NUL-terminated) into *out
 * (treated as uninitialised).  Unknown keys are ignored; a known key of the
 * wrong type is an error.  Returns 0, MDNS_EPARSE (with a message in err,
 * which may be NULL) or MDNS_ENOMEM.  On error *out holds nothing to free.
 */
int masterinfo_parse_json(const char *buf, size_t len, struct masterinfo *out,
			  char *err, size_t errlen);

/*
 * Decode a binary protobuf MasterInfo (fields 1 id, 2 ip, 3 port, 4 pid,
 * 5 hostname, 6 version, 7 address {1 hostname, 2 ip, 3 port}); other
 * fields are skipped by wire type.  Every length is bounds-checked; groups,
 * over-long varints and truncated fields are errors.  Returns as
 * masterinfo_parse_json.
 */
int masterinfo_parse_pb(const uint8_t *buf, size_t len, struct masterinfo *out,
			char *err, size_t errlen);

/* Free the strings of mi and zero it; NULL and zeroed structs are fine. */
void masterinfo_clear(struct masterinfo *mi);

/*
 * Where to reach the master, as "host:port" ("[v6]:port" for IPv6) in out:
 * address.ip with address.port when both are usable; else the legacy ip
 * (when non-zero) with port (5050 when absent); else address.hostname or
 * hostname with that port.  Returns 0, or MDNS_EINVAL when no usable
 * address or port is there (out is then "").
 */
int masterinfo_hostport(const struct masterinfo *mi, char *out, size_t outlen);
