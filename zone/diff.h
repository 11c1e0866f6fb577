/* zone/diff.h -- differences between versions of a zone, kept for IXFR (RFC 1995). */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct zone;

/*
 * What changed from serial `from` to serial `to`, in the order of an IXFR
 * reply (RFC 1995 §4): the old SOA, the records removed, the new SOA, the
 * records added.  Each record is stored as
 *   owner (lower-case uncompressed wire) | type (2) | TTL (4) | rdlen (2) | rdata
 * with the same rdata as in the zone (uncompressed names).  Immutable once
 * made and shared between the zones whose history holds it (reference
 * counted, atomically: the last holder may be a DNS worker at the end of a
 * transfer).
 */
struct zone_diff {
	atomic_uint refs;
	uint32_t from, to;	/* serials */
	uint8_t *buf;		/* the records, owned */
	size_t len;		/* bytes in buf */
	size_t nremoved;	/* records removed (old SOA not counted) */
	size_t nadded;		/* records added (new SOA not counted) */
};

/* One record of a diff, pointing into its buffer. */
struct diff_rr {
	const uint8_t *owner;
	uint16_t type;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
};

/*
 * The difference between two loaded versions of the same zone (same apex):
 * a merge of their records, both being in canonical order.  Records whose
 * TTL changed are removed and added again.  Returns a diff with one
 * reference (caller drops it with zone_diff_unref), or NULL on out of memory
 * or when the zones cannot be compared (not loaded, other apex).
 */
struct zone_diff *zone_diff_new(const struct zone *from, const struct zone *to);

/* Take a reference; returns d. */
struct zone_diff *zone_diff_ref(struct zone_diff *d);

/* Drop a reference; the last frees.  NULL is a no-op. */
void zone_diff_unref(struct zone_diff *d);

/*
 * Read the record at *off into rr and advance *off.  Returns 1, or 0 at the
 * end of the diff.
 */
int zone_diff_next(const struct zone_diff *d, size_t *off, struct diff_rr *rr);

/*
 * Fill z's history (z->hist) from prev's: prev's own when the serial did not
 * change, else prev's plus the difference prev -> z.  Kept within
 * ZONE_HISTORY_MAX versions and, in records, within the size of z itself
 * (at least 64): beyond that an AXFR is smaller than the chain of changes,
 * so the oldest versions go.  A change larger than that budget clears the
 * history.  Called by zone_builder_finish (the builder thread).  Returns 0
 * or MDNS_ENOMEM (z then has no history: IXFR falls back to AXFR).
 */
int zone_history_extend(struct zone *z, const struct zone *prev);

/*
 * The chain of diffs leading from serial `from` to z's serial: *first is the
 * index in z->hist of the first diff.  Returns 1 when found, 0 when the
 * history does not reach back to `from`.
 */
int zone_history_from(const struct zone *z, uint32_t from, size_t *first);
