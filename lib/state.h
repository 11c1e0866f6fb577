/* lib/state.h -- the Mesos master state, parsed into a plain model. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "zone/ipaddr.h"

struct json_t;	/* jansson's json_t */

/*
 * The model holds only the fields of behaviour.md §1.4.  Every string and
 * array belongs to the struct mesos_state that contains it and is freed by
 * state_free().  Strings are NUL-terminated UTF-8 exactly as in the JSON;
 * optional strings that were absent are NULL.
 *
 * Required fields: an agent without a string "id", a framework without a
 * string "name" and a task without a string "id" are left out of the model.
 * Every other field that is missing or of the wrong type reads as absent
 * (NULL, 0, empty); a malformed resources.ports string gives no ports.
 */

/* Largest document state_parse() accepts (behaviour.md §1.3: 256 MiB). */
#define STATE_MAX_BYTES (256u * 1024 * 1024)

/* Most ports one resources.ports string may expand to. */
#define STATE_MAX_PORTS 65535u

/* A "name@host:port" pid, split.  host is an IPv4 literal, an IPv6 literal
 * (brackets removed) or a hostname.  ips holds the literal when host is one;
 * for a hostname it stays empty: the zone builder resolves hostnames through
 * records_config.resolve (lib/hostaddr.c), off the event loop. */
struct state_endpoint {
	char *host;		/* NULL when the pid was absent or unparsable */
	uint16_t port;		/* 0 when absent */
	int is_literal;		/* host was an IP literal */
	struct iplist ips;
};

struct state_agent {
	char *id;			/* never NULL */
	char *hostname;
	struct state_endpoint pid;	/* slave(1)@host:port; host NULL when absent/bad */
};

/* One DiscoveryInfo port (ports whose number is not an integer in
 * 1..65535 are left out). */
struct state_diport {
	uint32_t number;		/* 1..65535 */
	char *name;		/* NULL or "" when unnamed */
	char *protocol;		/* NULL or "" means both tcp and udp */
};

struct state_task {
	char *id;		/* never NULL */
	char *name;
	char *slave_id;
	int running;		/* state == "TASK_RUNNING" */

	uint16_t *ports;	/* resources.ports expanded, in document order */
	size_t nports;

	int has_discovery;	/* a "discovery" object was present */
	char *di_name;		/* discovery.name, NULL if absent or empty */
	struct state_diport *di_ports;
	size_t ndi_ports;

	/* IP sources read from the TASK_RUNNING status with the highest
	 * timestamp (the others are ignored).  Invalid literals are skipped. */
	/* No TASK_RUNNING status: all three empty, healthy -1. */
	struct iplist ip_mesos;		/* label MesosContainerizer.NetworkSettings.IPAddress */
	struct iplist ip_docker;	/* label Docker.NetworkSettings.IPAddress */
	struct iplist ip_netinfo;	/* network_infos[].ip_addresses[].ip_address, or the
					   older single ip_address when ip_addresses is empty */
	int healthy;			/* -1 unknown, 0 false, 1 true (latest running status) */

	/* Which status the four fields above come from, so that a later
	 * status (state_task_update_v1) is weighed by the same rule. */
	int has_run_status;		/* a TASK_RUNNING status was read */
	int run_has_ts;			/* ... and it had a numeric timestamp */
	double run_ts;			/* ... which is this */
};

struct state_framework {
	char *name;		/* never NULL (may be "") */
	char *hostname;
	int has_pid;		/* "pid" was present and parsed */
	struct state_endpoint pid;	/* scheduler(1)@host:port */
	struct state_task *tasks;
	size_t ntasks;
};

struct mesos_state {
	struct state_endpoint leader;	/* from "leader": "master@ip:port" */
	struct state_agent *agents;
	size_t nagents;
	struct state_framework *frameworks;
	size_t nframeworks;
	/* A 64-bit hash of everything the parse read into this model: the
	 * values it read, with their keys, and the nesting of the parts it
	 * did not skip (lib/statesax.c), seeded at random once per process.
	 * Two documents with equal fingerprints give equal models, whatever
	 * they hold in the parts skipped (offers, resources, flags...).
	 * 0: unknown (a model not parsed from a document). */
	uint64_t fingerprint;
};

/*
 * Parse a /master/state document.  On success *out is a new model (caller
 * frees with state_free) and 0 is returned.  On failure returns MDNS_EPARSE
 * (invalid JSON or a root that is not an object), MDNS_ENOLEADER ("leader"
 * missing, not a string, empty or not a pid), MDNS_ETOOBIG (len over
 * STATE_MAX_BYTES) or MDNS_ENOMEM, sets *out to NULL and writes a message a
 * person can act on into err (with jansson's line/column for JSON syntax
 * errors).  Never returns a half-built model.  json need not be
 * NUL-terminated; any bytes are safe to pass (the parser is fuzzed).
 */
int state_parse(const char *json, size_t len, struct mesos_state **out,
		char *err, size_t errlen);

/* Free a model; NULL is a no-op. */
void state_free(struct mesos_state *st);

/*
 * Split a pid "name@host:port" into ep (fields allocated; free with
 * state_endpoint_clear).  Accepts IPv4, [IPv6] and hostnames; a missing
 * port leaves port 0.  Returns 0 or MDNS_EINVAL (no '@', empty host, a
 * hostname character outside [A-Za-z0-9._-], an unbracketed IPv6 address,
 * a bracketed non-IPv6, a port that is not 1..65535, trailing bytes), or
 * MDNS_ENOMEM.  ep is overwritten (not freed) first and left cleared on
 * failure.
 */
int state_parse_pid(const char *pid, struct state_endpoint *ep);

/* Free what ep owns and zero it; NULL is a no-op. */
void state_endpoint_clear(struct state_endpoint *ep);

/*
 * Expand a resources.ports string such as "[31000-31002, 31010-31010]".
 * "" and "[]" give zero ports (*out NULL); a lone "[31000]" is one port.
 * *out is malloc'd (caller frees), *n set.  Returns 0, or MDNS_EINVAL for a
 * malformed string, a port outside 1..65535, a reversed range or more than
 * STATE_MAX_PORTS ports in all (then *out NULL, *n 0), or MDNS_ENOMEM.
 */
int state_parse_ports(const char *s, uint16_t **out, size_t *n);

/* Free what t owns and zero it; NULL is a no-op. */
void state_task_clear(struct state_task *t);

/* Free what a owns (not a itself) and zero it; NULL is a no-op. */
void state_agent_clear(struct state_agent *a);

/* Free what f owns, tasks included (not f itself), and zero it; NULL is a no-op. */
void state_framework_clear(struct state_framework *f);

/*
 * The v1 operator API (Mesos 1.1+, POST /api/v1, used by lib/stream.c) gives
 * the same objects in protobuf's JSON form.  These read one object into the
 * model with the rules of state_parse (required fields, absent values), so a
 * state assembled from them builds the same zone as the equivalent
 * /master/state document.  Each writes a cleared struct first; on failure
 * (MDNS_ENOMEM) it is left cleared.
 */

/*
 * A Task: task_id.value (required), name, agent_id.value, framework_id.value
 * (required, returned in *framework_id, caller frees), state, resources (the
 * ranges of every "ports" Resource, in order), discovery, statuses.  Returns
 * 0 with t->id set, 0 with t->id NULL (and *framework_id NULL) when a
 * required field is missing, or MDNS_ENOMEM.
 */
int state_task_parse_v1(const struct json_t *task, struct state_task *t, char **framework_id);

/*
 * A TASK_UPDATED event for t: state (the task's latest state; NULL keeps
 * t->running) and status, a TaskStatus appended to the task's statuses.  A
 * TASK_RUNNING status replaces the addresses and health when
 * state_parse's rule (highest timestamp; without one, only the first) picks
 * it over the status they came from.  Returns 0 or MDNS_ENOMEM.
 */
int state_task_update_v1(struct state_task *t, const struct json_t *status, const char *state);

/*
 * A GetAgents.Agent: agent_info.id.value (required), agent_info.hostname,
 * pid.  Returns 0 with a->id set, 0 with a->id NULL when the id is missing,
 * or MDNS_ENOMEM.
 */
int state_agent_parse_v1(const struct json_t *agent, struct state_agent *a);

/*
 * A GetFrameworks.Framework ({"framework_info": ...}) or a bare
 * FrameworkInfo: id.value (required, in *id, caller frees), name (required),
 * hostname.  The operator API carries no pid: f->has_pid stays 0.  Returns 0
 * with *id set, 0 with *id NULL when a required field is missing, or
 * MDNS_ENOMEM.
 */
int state_framework_parse_v1(const struct json_t *fw, struct state_framework *f, char **id);
