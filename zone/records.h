/* zone/records.h -- generate the records of behaviour.md §2 from Mesos state. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/state.h"
#include "zone/ipaddr.h"

struct reverse_ptrs;
struct zone_builder;

/* A master known besides the leader (from ZooKeeper or the masters list). */
struct records_master {
	struct iplist ips;	/* resolved addresses; empty = skipped */
	uint16_t port;
};

/* What record generation needs beyond the state; everything borrowed. */
struct records_config {
	const char *domain;		/* apex, lower-case */
	int rfc952;			/* enforceRFC952 */
	uint16_t srv_weight;		/* srvRecordDefaultWeight */
	const enum ip_source *ip_sources;	/* IPSources, in order */
	size_t nip_sources;
	const struct records_master *masters;	/* in list order (may be empty) */
	size_t nmasters;
	const char *soa_mname;		/* name server host name */
	const struct iplist *ns_ips;	/* its addresses (listener) */

	/*
	 * Optional: addresses of a host name that the state did not resolve
	 * (a pid host that is not an IP literal and carries no ips, or a
	 * framework's hostname field).  Returns a list borrowed for the
	 * duration of records_build, or NULL when the name does not resolve.
	 * NULL resolve: such hosts yield no addresses (their records are
	 * skipped).  records_build stays pure as long as resolve is (the
	 * daemon passes a lookup in its resolver cache).
	 */
	const struct iplist *(*resolve)(void *ctx, const char *host);
	void *resolve_ctx;

	/* Also record which framework and task each task record comes from
	 * (zone/meta.h, for /v1/enumerate) and hand it to the builder. */
	int enumerate;

	/* healthAware: the A/AAAA/SRV records of a task whose latest running
	 * status says healthy: false are marked unhealthy in the builder
	 * (zone_builder_set_unhealthy: left out unless a name would be empty). */
	int health_aware;

	/*
	 * Optional (borrowed): offer every address a PTR name (zone/reverse.h):
	 * a task's own addresses (not those it shares with its agent) its
	 * canonical name <canonical>.<fw>.<domain>; an agent's addresses its
	 * host name when that is a domain name of two labels or more, else
	 * slave.<domain>; a master's addresses master<N>.<domain>.
	 */
	struct reverse_ptrs *ptrs;
};

/* Counts of what was generated and skipped, for logs and metrics. */
struct records_stats {
	size_t tasks;		/* running tasks with records */
	size_t tasks_skipped;	/* not running, unknown agent, no name... */
	size_t records_rejected;	/* owner/target not a valid name in the zone,
					   or a DiscoveryInfo port outside 1..65535 */
	size_t tasks_unhealthy;	/* running tasks marked unhealthy (healthAware) */
};

/*
 * Add every record derived from st to b.  Pure: no I/O, no clock.  With
 * rc->enumerate, a zone_meta is attached to b (zone_builder_set_meta).  Hostname
 * endpoints carry their resolved ips, or are looked up through rc->resolve
 * (no address drops only the records that need it).  stats may be NULL;
 * otherwise it is zeroed and filled.  Returns 0, or MDNS_ENOMEM (b is then
 * only fit for zone_builder_free).
 */
int records_build(struct zone_builder *b, const struct mesos_state *st,
		  const struct records_config *rc, struct records_stats *stats);

/*
 * The IPs a task is answered with: the first source in rc->ip_sources that
 * yields at least one address (host = the agent's ips).  Borrowed from st.
 * Returns NULL when no source yields one.
 */
const struct iplist *records_task_ips(const struct state_task *t, const struct state_agent *agent,
				      const enum ip_source *sources, size_t nsources);
