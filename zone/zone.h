/* zone/zone.h -- an immutable, in-memory authoritative zone and its builder. */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/dname.h"
#include "zone/ipaddr.h"

/* RR types and classes used by the zone and the answer code. */
enum {
	RR_A = 1, RR_NS = 2, RR_SOA = 6, RR_PTR = 12, RR_AAAA = 28,
	RR_SRV = 33, RR_OPT = 41, RR_IXFR = 251, RR_AXFR = 252, RR_ANY = 255,
};
enum { CLASS_IN = 1, CLASS_ANY = 255 };

/*
 * What the zone is made of besides records: apex, TTLs, SOA fields, and the
 * answering policy that travels with it, so a reload swaps both at once.
 * Strings are borrowed by zone_builder_new (copied into the zone).
 */
struct zone_params {
	const char *domain;	/* apex, e.g. "mesos" */
	uint32_t ttl;		/* TTL of every record */
	uint32_t soa_minttl;	/* SOA MINIMUM; negative TTL = min(ttl, soa_minttl) */
	const char *soa_mname;	/* e.g. "ns1.mesos" */
	const char *soa_rname;	/* e.g. "root.ns1.mesos" */
	uint32_t soa_refresh, soa_retry, soa_expire;
	int recurse_on;		/* RA flag in authoritative answers */
	int set_tc;		/* set TC when an answer was trimmed */
	uint16_t edns_max;	/* cap on the client's EDNS UDP size (>= 512) */
	size_t arena_block;	/* arena block size; 0 = 64 KiB (small zones: 4096) */
	int no_history;		/* nobody may transfer: keep no IXFR diffs (they cost
				 * a walk of both zones at every publish) */
};

/* One record's data in uncompressed wire format (names lower-case). */
struct zone_rr {
	const uint8_t *rdata;
	uint16_t rdlen;
	/* SRV target / NS name node inside this zone, for the additional
	 * section; NULL when outside the zone or absent. */
	const struct zone_node *target;
};

/* The most records an RRset holds: a message counts its records in 16 bits
 * (and a TCP message of 64 KiB holds a few thousand at most anyway). */
#define ZONE_RRSET_MAX 65535

struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	struct zone_rr *rrs;	/* sorted by rdata */
};

/* A name in the zone.  nrrsets == 0 marks an empty non-terminal. */
struct zone_node {
	const uint8_t *name;	/* lower-case wire */
	uint8_t namelen;
	uint8_t nrrsets;
	struct zone_rrset *rrsets;	/* sorted by type */
	struct zone_node *hnext;	/* hash chain */
};

struct zone_meta;
struct zone_diff;

/* Versions of IXFR history a zone keeps (zone/diff.h). */
#define ZONE_HISTORY_MAX 16

/*
 * The zone: immutable once built, shared read-only by every answering thread
 * until it is replaced; all of it lives in one arena.
 *
 * The zone published to the workers (the "main" zone, apex = domain) also
 * carries the reverse zones (reverseZones) as separate zones with their own
 * apex, SOA and serial, published and freed with it: one snapshot, one
 * pointer swap.  A reverse zone's rev/nrev are empty.
 *
 * Lifetime: a zone is reference counted.  zone_builder_finish and
 * zone_new_unloaded return it with one reference (the publisher's);
 * zone_ref adds one (a zone transfer that outlives a read-side section),
 * zone_free drops one and frees at zero.  A reference on the main zone keeps
 * its reverse zones alive.
 */
struct zone {
	uint64_t id;			/* unique in the process (caches of replies
					   tell zones apart by it, never by address) */
	struct arena *arena;
	struct zone_params p;		/* strings point into the arena */
	uint8_t apex[256];
	size_t apexlen;
	int loaded;			/* 0: no state loaded yet (answer SERVFAIL) */
	uint32_t serial;
	uint32_t neg_ttl;		/* min(ttl, soa_minttl) */
	const struct zone_node *apex_node;
	struct zone_node **buckets;	/* hash table, nbuckets a power of two */
	size_t nbuckets;
	struct zone_node **nodes;	/* every node, canonical order */
	size_t nnodes;
	size_t nrecords;		/* records, SOA and NS included */
	const struct zone_rrset *soa;	/* the apex SOA */
	struct zone_meta *meta;		/* records by framework and task (zone/meta.h),
					   owned; NULL when not collected */
	atomic_uint refs;		/* references; see above */
	struct zone **rev;		/* reverse zones, owned, sorted by apex in
					   canonical order; NULL when none */
	size_t nrev;
	struct zone_diff *hist[ZONE_HISTORY_MAX];	/* IXFR history, oldest first: hist[i]
					   leads from one serial to the next, the last to
					   this zone's serial; each holds a reference */
	size_t nhist;
	size_t held_back;		/* records of unhealthy tasks left out (healthAware) */
	size_t over_rrset_max;		/* records past ZONE_RRSET_MAX of their RRset, left out */
};

struct zone_builder;

/* Start a zone; NULL on bad params (invalid domain/mname/rname) or no memory. */
struct zone_builder *zone_builder_new(const struct zone_params *p);

/*
 * Size the builder's arrays for a zone like prev (NULL: nothing to go by),
 * so a rebuild does not grow them by doubling and copying; 0 or
 * MDNS_ENOMEM (the builder stays usable either way).
 */
int zone_builder_expect(struct zone_builder *b, const struct zone *prev);

/* The previous zone's enumerate counts given to zone_builder_expect (0, 0
 * without one), for sizing the new zone's meta. */
void zone_builder_meta_hint(const struct zone_builder *b, size_t *ntasks, size_t *nrecords);

/* Abandon a builder; NULL is a no-op. */
void zone_builder_free(struct zone_builder *b);

/*
 * Add an A (af 4) or AAAA (af 6) record at owner (text, any case, with or
 * without trailing dot).  Owners outside the apex or invalid: MDNS_EINVAL,
 * the record is skipped and the builder stays usable.  Duplicates collapse.
 */
int zone_builder_add_addr(struct zone_builder *b, const char *owner, const struct ipaddr *ip);

/* Add an SRV record (priority, weight, port, target text). Same rules. */
int zone_builder_add_srv(struct zone_builder *b, const char *owner, uint16_t priority,
			 uint16_t weight, uint16_t port, const char *target);

/*
 * The owner (lower-case wire, interned) and rdata of the record added last,
 * both in the zone's arena and valid as long as the zone; what the
 * /v1/enumerate index keeps.  -1 before any record.
 */
int zone_builder_last(const struct zone_builder *b, const uint8_t **owner,
		      const uint8_t **rdata, uint16_t *rdlen);

/*
 * Add a PTR record at owner (a reverse name inside the apex) pointing to
 * target (text).  Same rules as zone_builder_add_addr.
 */
int zone_builder_add_ptr(struct zone_builder *b, const char *owner, const char *target);

/*
 * Mark the records added from now on as coming from an unhealthy task (1) or
 * not (0; the initial state).  At zone_builder_finish an RRset keeps its
 * unhealthy records only when it has no other record, so a name is never
 * left empty because of health: every task is served rather than none.
 * The same record from a healthy and an unhealthy task counts as healthy.
 */
void zone_builder_set_unhealthy(struct zone_builder *b, int unhealthy);

/*
 * Hand m (zone/meta.h; owned from now on, may be NULL) to the zone being
 * built: it is published and freed with the zone, and not compared by
 * zone_same_content.
 */
void zone_builder_set_meta(struct zone_builder *b, struct zone_meta *m);

/*
 * Finish: add the apex SOA and NS, sort, de-duplicate, add empty
 * non-terminals, index.  The serial is prev's when the content equals prev's
 * (prev may be NULL), else max(now, prev serial + 1).  prev must have the
 * same apex (else it is ignored).  The IXFR history is prev's plus the
 * difference from prev (zone/diff.h), when prev is loaded.  Consumes the
 * builder either way.  Returns the zone (caller frees with zone_free) or NULL.
 */
struct zone *zone_builder_finish(struct zone_builder *b, const struct zone *prev, uint32_t now);

/* A zone with only its apex, marked not loaded (answers SERVFAIL); NULL on error. */
struct zone *zone_new_unloaded(const struct zone_params *p);

/* Drop a reference; the last frees the zone and its reverse zones.  NULL is a no-op. */
void zone_free(struct zone *z);

/*
 * Take a reference on z (the zone must be alive: the caller holds a
 * reference or is inside a read-side section).  Returns z, writable only for
 * the zone_free that drops it.
 */
struct zone *zone_ref(const struct zone *z);

/*
 * Hand the reverse zones rev[0..n) (owned from now on, as is the array,
 * which must come from malloc) to main; they are sorted by apex.  Replaces
 * any reverse zones main had.
 */
void zone_set_reverse(struct zone *main, struct zone **rev, size_t n);

/* zone_find's search of the reverse zones (names under "arpa" only). */
const struct zone *zone_find_reverse(const struct zone *main, const uint8_t *name, size_t len,
				     int *off);

/*
 * The zone among main and its reverse zones whose apex is the longest suffix
 * of the lower-case wire name (len bytes), or NULL.  *off is set to the
 * offset of the apex in name.  The main apex is checked first, inline, so a
 * name of the domain costs what dname_under costs; reverse zones are only
 * searched for names under "arpa".  Borrowed from main.
 */
static inline const struct zone *zone_find(const struct zone *main, const uint8_t *name,
					   size_t len, int *off)
{
	*off = dname_under(name, len, main->apex, main->apexlen);
	if (*off >= 0)
		return main;
	return main->nrev ? zone_find_reverse(main, name, len, off) : NULL;
}

/* The zone among main and its reverse zones whose apex is exactly name, or NULL. */
const struct zone *zone_find_apex(const struct zone *main, const uint8_t *name, size_t len);

/* The reverse zone of prev whose apex is apex (wire), or NULL; prev may be NULL. */
const struct zone *zone_reverse_of(const struct zone *prev, const uint8_t *apex, size_t len);

/*
 * 1 when publishing b in place of a changes anything a client sees: a serial
 * of the main zone or of a reverse zone, or the set of reverse zones.  a may
 * be NULL or unloaded (then 1).
 */
int zone_set_changed(const struct zone *a, const struct zone *b);

/* Node of a lower-case wire name, or NULL.  Borrowed from z. */
const struct zone_node *zone_lookup(const struct zone *z, const uint8_t *name, size_t len);

/* RRset of a type at a node, or NULL. */
const struct zone_rrset *zone_node_rrset(const struct zone_node *n, uint16_t type);

/* 1 when two zones hold the same records and parameters (serial aside). */
int zone_same_content(const struct zone *a, const struct zone *b);

/* Memory held by the zone, in bytes. */
size_t zone_memory(const struct zone *z);

/*
 * Write one record in master-file presentation ("owner. TTL IN TYPE data") to
 * buf; returns buf.  For dumps, golden tests and the HTTP API.
 */
char *zone_rr_format(const struct zone *z, const struct zone_node *n, const struct zone_rrset *rs,
		     const struct zone_rr *rr, char *buf, size_t len);
