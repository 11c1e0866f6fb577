/* zone/acache.h -- a thread's cache of rendered replies, answer_query's fast path. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Why: a reply costs about 2,600 instructions to render and a dozen cache
 * misses (node, RRsets, rdata, SRV targets and their addresses, names for
 * compression), where the kernel's datagram round trip is the only other
 * cost.  A question asked again is answered from one contiguous entry here:
 * its header, and its sections in wire format as they follow the question,
 * compression pointers included (they are offsets, so they hold for any
 * spelling of the same name).  The round-robin order is kept by rotating the
 * answer records at copy time (they do not point at each other) and moving
 * the additional section's pointers into them.
 *
 * One cache per answering thread, never shared: no locks.  It belongs to
 * one zone at a time (zone->id): the first question after a new zone is
 * published empties it.  When its slab or its table is full it is emptied
 * too, and fills again with what is asked: a sweep, not an LRU, because a
 * hit must cost nothing beyond the copy.  A question is added the second
 * time it is asked (acache_admit), so one-off questions cost no copy and
 * take no room.  If a fill still hit less than it missed, the questions
 * asked are more than it holds, and it is skipped for a while
 * (acache_bypass).
 *
 * Only UDP replies are cached (see answer_query in zone/answer.c for which):
 * TCP is far from its limits and its replies can be 64 KiB.
 */

struct acache;

/* A cache of at most bytes of entries (at least 64 KiB); NULL without memory. */
struct acache *acache_new(size_t bytes);

/* Free c; NULL is a no-op. */
void acache_free(struct acache *c);

struct acache_stats {
	uint64_t hits;		/* replies copied from an entry */
	uint64_t misses;	/* replies rendered and added */
	uint64_t passes;	/* replies rendered, not from the cache: the question
				   not cacheable, asked the first time, or the
				   cache skipped */
	uint64_t flushes;	/* emptied: a new zone, or full */
	uint64_t bypasses;	/* times it was full having hit less than it
				   missed, and was skipped for a while */
	size_t bytes;		/* entries held now */
	size_t capacity;	/* most it holds (acache_new's bytes) */
};

void acache_get_stats(const struct acache *c, struct acache_stats *s);

/* ---- for zone/answer.c ------------------------------------------------------ */

/* What a cached reply depends on besides the zone and the rotation. */
struct acache_key {
	const uint8_t *qlc;	/* question name, lower-case wire */
	uint8_t qnlen;
	uint16_t qtype, qclass;
	uint16_t lim;		/* size limit of the reply */
	uint8_t edns;		/* 0: no OPT; 1: OPT of version 0; 2: any
				 * other version (BADVERS) */
};

struct acache_entry;

/* 1 when this question is to skip the cache (see BYPASS_MIN in acache.c);
 * ask once per question, before acache_get. */
int acache_bypass(struct acache *c);

/* The entry for k in the zone zone_id, or NULL; *hash is for acache_put. */
const struct acache_entry *acache_get(struct acache *c, uint64_t zone_id,
				      const struct acache_key *k, uint32_t *hash);

/* After acache_get found nothing: 1 when the question was asked before
 * since the cache was last emptied (render it for acache_put), 0 the first
 * time (render it into the reply; counted as uncached). */
int acache_admit(struct acache *c, uint32_t hash);

/* A buffer of ANSWER_MAX bytes to render a reply for acache_put into. */
uint8_t *acache_scratch(struct acache *c);

/* A reply rendered with rotation 0, to be added. */
struct acache_reply {
	const uint8_t *p;	/* the reply */
	size_t n;		/* its length */
	size_t qend;		/* where its question ends */
	int cacheable;		/* 0: add a "render it" entry */
	int rcode, truncated;	/* as answer_info has them */
	/* NULL, or the reply lost answer records to k's size limit: p is then
	 * the same reply rendered without a limit, and fill_hdr the first
	 * render's header bytes 2-3 (TC as it was set). */
	const uint8_t *fill_hdr;
};

/*
 * Add the reply to k (rp).  When it is not cacheable, or when its records
 * cannot be rotated as they are (see acache.c), the entry says "render it":
 * such questions are not rendered twice.  NULL when the entry does not fit
 * even in an empty cache.
 */
const struct acache_entry *acache_put(struct acache *c, const struct acache_key *k,
				      uint32_t hash, const struct acache_reply *rp);

/*
 * Write the reply to query q (whose question ends at qend) from e into out,
 * answer records rotated by rot; returns its length, or 0 when e is a
 * "render it" entry.  fresh: e comes from acache_put for this very query
 * (so it counts as a miss, not a hit).  *rcode and *truncated as
 * answer_info has them.
 */
size_t acache_serve(struct acache *c, const struct acache_entry *e, int fresh, const uint8_t *q,
		    size_t qend, uint8_t *out, uint32_t rot, int *rcode, int *truncated);
