/* zone/itab.h -- the open-addressing index behind string interning at build time.
 *
 * The zone builder interns owner names and the enumerate index interns
 * record text: 1.5 M lookups for a 100,000-task zone.  A slot keeps the
 * 32-bit hash beside the caller's id, so probing and growing never touch
 * the strings themselves (they are elsewhere in memory: a cache miss each);
 * only a full hash match costs a comparison, done by the caller.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct itab_slot {
	uint32_t hash;
	uint32_t id;		/* caller's index + 1; 0 = empty */
};

struct itab {
	struct itab_slot *v;
	size_t size;		/* a power of two (0 before the first itab_reserve) */
	size_t n;
};

/* Hash of len bytes, a word at a time; the low bits depend on every byte.
 * Also the zone's own name hash (zone_lookup). */
uint32_t itab_hash(const void *p, size_t len);

/* Room for one more entry at load <= 1/2; 0 or MDNS_ENOMEM. */
int itab_reserve(struct itab *t);

/* Room for n entries in all at load <= 1/2, so filling it never rehashes;
 * 0 or MDNS_ENOMEM. */
int itab_expect(struct itab *t, size_t n);

/* The first slot to look at for hash h; walk with itab_next until a slot
 * with id 0 (not found: insert there with itab_put) or a match. */
static inline size_t itab_first(const struct itab *t, uint32_t h)
{
	return h & (t->size - 1);
}

static inline size_t itab_next(const struct itab *t, size_t i)
{
	return (i + 1) & (t->size - 1);
}

/* Fill the empty slot i found by a failed walk (after itab_reserve). */
static inline void itab_put(struct itab *t, size_t i, uint32_t h, uint32_t id)
{
	t->v[i].hash = h;
	t->v[i].id = id;
	t->n++;
}

/* Free the index (the interned items are the caller's). */
void itab_clear(struct itab *t);
