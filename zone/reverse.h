/* zone/reverse.h -- reverse zones: PTR records for the cluster's addresses. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "zone/ipaddr.h"

struct zone;
struct zone_params;

/*
 * Who claims an address, strongest first.  One name per address: the
 * strongest claim wins, and among equals the name first in byte order, so the
 * choice does not depend on the order of the state document.
 */
enum reverse_rank {
	REVERSE_TASK = 0,	/* a task's own address -> its canonical name */
	REVERSE_AGENT = 1,	/* an agent's address -> its host name, or slave.<domain> */
	REVERSE_MASTER = 2,	/* a master's address -> master<N>.<domain> */
};

/* Most zones reverseZones "auto" makes; addresses beyond get no PTR. */
#define REVERSE_AUTO_MAX 1024

/* Address -> name candidates, collected while records are generated. */
struct reverse_ptrs;

/* An empty collection; NULL on out of memory.  Free with reverse_ptrs_free. */
struct reverse_ptrs *reverse_ptrs_new(void);

/* NULL is a no-op. */
void reverse_ptrs_free(struct reverse_ptrs *p);

/*
 * Offer name (text, any case, trailing dot optional; copied) for ip with a
 * rank.  Returns 0, MDNS_EINVAL (not a name, or ip unset) or MDNS_ENOMEM.
 */
int reverse_ptrs_add(struct reverse_ptrs *p, const struct ipaddr *ip, enum reverse_rank rank,
		     const char *name);

/*
 * The name chosen for ip (lower-case text, no trailing dot), or NULL when no
 * one claims it.  Borrowed from p until its next change.  The first call
 * after additions sorts the collection (not thread-safe).
 */
const char *reverse_ptrs_lookup(struct reverse_ptrs *p, const struct ipaddr *ip);

/*
 * The reverse name of ip ("4.3.2.1.in-addr.arpa", or 32 nibbles and
 * "ip6.arpa") into buf (at least 74 bytes).  Returns its length, 0 when ip is
 * unset or buf too small.
 */
size_t reverse_name(const struct ipaddr *ip, char *buf, size_t len);

/*
 * The zone reverseZones "auto" puts ip in: its /24 for IPv4
 * ("3.2.1.in-addr.arpa"), its /64 for IPv6 (16 nibbles + "ip6.arpa").
 * Returns the length, 0 when ip is unset or buf too small.
 */
size_t reverse_auto_zone(const struct ipaddr *ip, char *buf, size_t len);

/*
 * Whether name (lower-case, no trailing dot) may be a reverse zone: 1 to 4
 * decimal octets (0..255, no leading zeros) under in-addr.arpa, or 1 to 32
 * hexadecimal nibbles under ip6.arpa.  NULL when it is, else the reason.
 */
const char *reverse_zone_check(const char *name);

/* What the reverse zones are made of. */
struct reverse_config {
	const struct zone_params *params;	/* SOA, TTLs and policy; the domain is ignored */
	const char *const *zones;		/* reverseZones (checked names); ignored with auto */
	size_t nzones;
	int auto_zones;				/* reverseZones "auto" */
};

/* Counts for logs. */
struct reverse_stats {
	size_t ptrs;		/* PTR records made */
	size_t unplaced;	/* addresses outside every reverse zone */
	size_t zones_dropped;	/* auto zones beyond REVERSE_AUTO_MAX */
};

/*
 * Build the reverse zones from the chosen names in ptrs.  Each zone continues
 * the reverse zone of the same apex in prev (the main zone published now, may
 * be NULL) for its serial and IXFR history, like zone_builder_finish.  On
 * success *out is a malloc'd array of *nout zones (hand it to
 * zone_set_reverse) and 0 is returned; else MDNS_ENOMEM or MDNS_EINVAL (a
 * bad zone name).  stats may be NULL.  Pure: no I/O; the clock is `now`.
 */
int reverse_build(const struct reverse_config *rc, struct reverse_ptrs *ptrs,
		  const struct zone *prev, uint32_t now, struct zone ***out, size_t *nout,
		  struct reverse_stats *stats);
