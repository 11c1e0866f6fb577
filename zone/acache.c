/* zone/acache.c -- a thread's cache of rendered replies (zone/acache.h). */
#include "zone/acache.h"

#include <stdlib.h>
#include <string.h>

#include "zone/answer.h"
#include "zone/itab.h"
#include "zone/zone.h"

#define PTR_MAX 0x3fff		/* highest offset a compression pointer reaches */
#define ROT_MAX 4096		/* answer records an entry rotates, at most */
#define FIX_MAX 1024		/* pointers into them it moves, at most */
/* Largest RRset kept for replies cut to fit (TC).  Every record is kept, as
 * any may lead, but at most a few hundred bytes of it go out: in the 10,000-
 * task benchmark 2% of the entries held 38% of the bytes before this cap.
 * Bigger ones are rendered each time. */
#define FILL_MAX 2048
/*
 * Questions that skip the cache after it filled up while hitting less than
 * it missed: a working set larger than the cache, asked round and round (a
 * benchmark's query file, a scanner), would otherwise be rendered twice
 * and copied for nothing, and a full cache only empties and fills again.
 * The first time 2^18 queries (about 5 s at 50,000 q/s), then twice as many
 * each time it happens again in a row, up to 2^24.
 */
#define BYPASS_MIN (1u << 18)
#define BYPASS_MAX (1u << 24)
/*
 * A question is added the second time it is asked since the cache was last
 * emptied; the first time it is rendered straight into the reply, as with
 * no cache.  Questions asked once (most of them in a scan, or in the minute
 * after a new zone on a big cluster) then cost a bit and no copy, and do
 * not push out the ones asked again.  One bit per hash value modulo
 * 2^SEEN_BITS: a collision only admits a question early.
 */
#define SEEN_BITS 20

/*
 * An entry, 8-byte aligned in the slab, followed by the question name
 * (qnlen bytes), then, 2-byte aligned, off[nrot + 1] (where each answer
 * record starts, relative to the body, and where the answer section ends),
 * fix[nfix] and the body: the reply after the question, as rendered with
 * rotation 0.
 */
struct acache_entry {
	uint32_t hash;
	uint16_t qtype, qclass, lim;
	uint8_t qnlen, edns;
	uint8_t serve;		/* SERVE_*; 0: not cacheable, render each time */
	uint8_t truncated;
	uint16_t rcode;
	uint8_t hdr[10];	/* reply bytes 2-11 with RD and CD clear */
	uint16_t nrot;		/* answer records to rotate; 0 when none */
	uint16_t nfix;
	uint16_t bodylen;
};

enum {
	SERVE_WHOLE = 1,	/* the body is the reply after the question */
	SERVE_FILL = 2,		/* the body is every answer record and the OPT:
				   as many records as fit go out (TC) */
};

/* A compression pointer after the answer section that points into it. */
struct fix {
	uint16_t pos;		/* where the pointer is, relative to the body */
	uint16_t rec;		/* the answer record it points into */
};

struct slot {
	uint32_t hash;
	uint32_t off;		/* entry offset in the slab + 1; 0 = empty */
};

struct acache {
	uint64_t zone_id;	/* the zone the entries come from; 0 = none yet */
	struct slot *slots;
	size_t nslots;		/* a power of two */
	size_t nentries, maxentries;
	uint8_t *slab;
	size_t used, cap;
	struct acache_stats st;
	uint64_t hits0, misses0;	/* st.hits and st.misses at the last flush */
	uint64_t bypass_left;		/* questions still to skip the cache */
	uint64_t bypass_len;		/* the last bypass; 0: the last fill paid off */
	uint64_t *seen;			/* questions asked once since the last flush */
	int seen_any;
	uint8_t scratch[ANSWER_MAX];	/* a reply rendered for acache_put */
	uint16_t off[ROT_MAX + 1];	/* acache_put's analysis of it */
	struct fix fix[FIX_MAX];
};

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

struct acache *acache_new(size_t bytes)
{
	if (bytes < 64 * 1024)
		bytes = 64 * 1024;
	struct acache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* Entries average about 130 bytes (the 10,000-task benchmark's): one
	 * slot per 64 bytes of slab, at most half of them used, lets the slab
	 * and the table fill up at about the same time. */
	c->nslots = 1024;
	while (c->nslots < bytes / 64)
		c->nslots <<= 1;
	c->maxentries = c->nslots / 2;
	c->cap = bytes;
	/* Pages are touched as entries come (both are large enough to be
	 * mmapped): an idle thread costs nothing, a busy one what it holds.
	 * Transparent huge pages were tried: 10% less time in acache_get,
	 * 0.4% of the CPU, for up to 10 MiB more resident per thread. */
	c->slots = calloc(c->nslots, sizeof(*c->slots));
	c->slab = malloc(bytes);
	c->seen = calloc((1u << SEEN_BITS) / 64, sizeof(uint64_t));
	if (!c->slots || !c->slab || !c->seen) {
		acache_free(c);
		return NULL;
	}
	return c;
}

void acache_free(struct acache *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c->slab);
	free(c->seen);
	free(c);
}

void acache_get_stats(const struct acache *c, struct acache_stats *s)
{
	*s = c->st;
	s->bytes = c->used;
	s->capacity = c->cap;
}

uint8_t *acache_scratch(struct acache *c)
{
	return c->scratch;
}

static void flush(struct acache *c)
{
	if (c->nentries)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
	if (c->seen_any)
		memset(c->seen, 0, (1u << SEEN_BITS) / 8);
	c->seen_any = 0;
	c->nentries = 0;
	c->used = 0;
	c->st.flushes++;
	c->hits0 = c->st.hits;
	c->misses0 = c->st.misses;
}

/* Full: empty it, and when this fill hit less than it missed, skip it for a while. */
static void flush_full(struct acache *c)
{
	if (c->st.hits - c->hits0 < c->st.misses - c->misses0) {
		c->bypass_len = c->bypass_len ? c->bypass_len * 2 : BYPASS_MIN;
		if (c->bypass_len > BYPASS_MAX)
			c->bypass_len = BYPASS_MAX;
		c->bypass_left = c->bypass_len;
		c->st.bypasses++;
	} else {
		c->bypass_len = 0;
	}
	flush(c);
}

int acache_admit(struct acache *c, uint32_t hash)
{
	uint32_t b = hash & ((1u << SEEN_BITS) - 1);
	uint64_t bit = 1ull << (b & 63);

	if (c->seen[b >> 6] & bit)
		return 1;
	c->seen[b >> 6] |= bit;
	c->seen_any = 1;
	c->st.passes++;
	return 0;
}

int acache_bypass(struct acache *c)
{
	if (!c->bypass_left)
		return 0;
	c->bypass_left--;
	c->st.passes++;
	return 1;
}

static uint32_t key_hash(const struct acache_key *k)
{
	uint32_t h = itab_hash(k->qlc, k->qnlen);
	return h ^ (uint32_t)(k->qtype * 0x9e3779b1u) ^ (uint32_t)(k->lim * 0x85ebca6bu) ^
	       ((uint32_t)k->qclass << 16) ^ k->edns;
}

static const uint8_t *entry_name(const struct acache_entry *e)
{
	return (const uint8_t *)(e + 1);
}

/* The arrays after the name, 2-byte aligned. */
static uint16_t *entry_off(const struct acache_entry *e)
{
	uintptr_t p = (uintptr_t)(entry_name(e) + e->qnlen);
	return (uint16_t *)((p + 1) & ~(uintptr_t)1);
}

static struct fix *entry_fix(const struct acache_entry *e)
{
	return (struct fix *)(entry_off(e) + (e->nrot ? e->nrot + 1 : 0));
}

static uint8_t *entry_body(const struct acache_entry *e)
{
	return (uint8_t *)(entry_fix(e) + e->nfix);
}

const struct acache_entry *acache_get(struct acache *c, uint64_t zone_id,
				      const struct acache_key *k, uint32_t *hash)
{
	if (c->zone_id != zone_id) {
		flush(c);
		c->zone_id = zone_id;
	}
	uint32_t h = key_hash(k);
	*hash = h;
	for (size_t i = h & (c->nslots - 1);; i = (i + 1) & (c->nslots - 1)) {
		const struct slot *s = &c->slots[i];
		if (!s->off)
			return NULL;
		if (s->hash != h)
			continue;
		const struct acache_entry *e = (const void *)(c->slab + s->off - 1);
		if (e->qtype == k->qtype && e->qnlen == k->qnlen && e->lim == k->lim &&
		    e->edns == k->edns && e->qclass == k->qclass &&
		    memcmp(entry_name(e), k->qlc, k->qnlen) == 0)
			return e;
	}
}

/*
 * Can the reply be served rotated?  Its answer records are rotated as
 * blocks, so each must stand alone: owned by a pointer into the question,
 * one type, and that type A, AAAA or SRV (an SRV target is never
 * compressed, RFC 2782).  What follows them (authority, additional, OPT)
 * may point into them, by the owner names of SRV targets' addresses: those
 * pointers are listed in fix to be moved with their record.  Other record
 * types after the answer might hide pointers in their rdata: not rotated.
 * Fills off[0..an] and fix; returns nfix, or -1 when not rotatable.
 * With answers_only, nothing after the answer records is looked at (a fill
 * entry keeps nothing after them but the OPT).
 */
static int analyse(const uint8_t *r, size_t n, size_t qend, unsigned an, uint16_t *off,
		   struct fix *fix, int answers_only)
{
	size_t o = qend;
	uint16_t type0 = 0;
	unsigned k;

	for (k = 0; k < an; k++) {
		off[k] = (uint16_t)(o - qend);
		if (n - o < 12 || (r[o] & 0xc0) != 0xc0 || (get16(r + o) & PTR_MAX) >= qend)
			return -1;
		uint16_t type = get16(r + o + 2), rdlen = get16(r + o + 10);
		if (k == 0)
			type0 = type;
		o += 12;
		if (type != type0 || rdlen > n - o)
			return -1;
		if (type == RR_SRV) {
			size_t p = o + 6, rend = o + rdlen;
			while (p < rend && r[p] != 0 && !(r[p] & 0xc0))
				p += r[p] + 1u;
			if (p + 1 != rend || r[p] != 0)
				return -1;
		} else if (type != RR_A && type != RR_AAAA) {
			return -1;
		}
		o += rdlen;
	}
	off[an] = (uint16_t)(o - qend);
	size_t aend = o;
	int nfix = 0;
	if (answers_only)
		return 0;
	while (o < n) {
		/* An owner name: labels, then the root or a pointer. */
		for (;;) {
			if (o >= n)
				return -1;
			uint8_t l = r[o];
			if (l == 0) {
				o++;
				break;
			}
			if ((l & 0xc0) == 0xc0) {
				if (n - o < 2)
					return -1;
				size_t t = get16(r + o) & PTR_MAX;
				if (t >= qend && t < aend) {
					if (nfix == FIX_MAX || aend > PTR_MAX)
						return -1;
					unsigned rec = 0;
					while (rec + 1 < an && qend + off[rec + 1] <= t)
						rec++;
					fix[nfix].pos = (uint16_t)(o - qend);
					fix[nfix].rec = (uint16_t)rec;
					nfix++;
				}
				o += 2;
				break;
			}
			if (l & 0xc0)
				return -1;
			o += l + 1u;
		}
		if (n - o < 10)
			return -1;
		uint16_t type = get16(r + o), rdlen = get16(r + o + 8);
		if ((type != RR_A && type != RR_AAAA && type != RR_OPT) || rdlen > n - o - 10)
			return -1;
		o += 10u + rdlen;
	}
	return nfix;
}

const struct acache_entry *acache_put(struct acache *c, const struct acache_key *k,
				      uint32_t hash, const struct acache_reply *rp)
{
	const uint8_t *reply = rp->p;
	size_t n = rp->n, qend = rp->qend;
	unsigned an = n >= 12 ? get16(reply + 6) : 0;
	int ok = rp->cacheable && n >= qend && an <= ROT_MAX && (!rp->fill_hdr || an > 0);
	int nfix = 0;
	size_t bodylen = 0, optlen = 0;

	if (ok && (an > 1 || rp->fill_hdr)) {
		nfix = analyse(reply, n, qend, an, c->off, c->fix, rp->fill_hdr != NULL);
		ok = nfix >= 0;
	}
	if (ok && rp->fill_hdr) {
		/* The answer records, then the OPT (always last) when there is one. */
		optlen = k->edns ? 11 : 0;
		bodylen = c->off[an] + optlen;
		ok = n - qend >= bodylen && bodylen <= FILL_MAX;
		nfix = 0;
	} else if (ok) {
		bodylen = n - qend;
	}
	if (!ok) {
		nfix = 0;
		bodylen = 0;
	}
	unsigned nrot = ok && (an > 1 || rp->fill_hdr) ? an : 0;
	size_t size = sizeof(struct acache_entry) + k->qnlen + 1 +
		      (nrot ? (nrot + 1) * sizeof(uint16_t) : 0) + (size_t)nfix * sizeof(struct fix) +
		      bodylen;
	size = (size + 7) & ~(size_t)7;
	if (size > c->cap) {
		c->st.passes++;		/* rendered by the caller */
		return NULL;
	}
	if (c->used + size > c->cap || c->nentries >= c->maxentries)
		flush_full(c);

	struct acache_entry *e = (void *)(c->slab + c->used);
	e->hash = hash;
	e->qtype = k->qtype;
	e->qclass = k->qclass;
	e->lim = k->lim;
	e->qnlen = k->qnlen;
	e->edns = k->edns;
	e->serve = (uint8_t)(ok ? (rp->fill_hdr ? SERVE_FILL : SERVE_WHOLE) : 0);
	e->truncated = (uint8_t)(rp->truncated != 0);
	e->rcode = (uint16_t)rp->rcode;
	e->nrot = (uint16_t)nrot;
	e->nfix = (uint16_t)nfix;
	e->bodylen = (uint16_t)bodylen;
	memcpy((uint8_t *)entry_name(e), k->qlc, k->qnlen);
	if (ok) {
		memcpy(e->hdr, reply + 2, sizeof(e->hdr));
		if (rp->fill_hdr)
			memcpy(e->hdr, rp->fill_hdr, 2);
		e->hdr[0] &= (uint8_t)~0x01;	/* RD, the query's */
		e->hdr[1] &= (uint8_t)~0x10;	/* CD, the query's */
		if (nrot)
			memcpy(entry_off(e), c->off, (nrot + 1) * sizeof(uint16_t));
		memcpy(entry_fix(e), c->fix, (size_t)nfix * sizeof(struct fix));
		uint8_t *body = entry_body(e);
		if (rp->fill_hdr) {
			memcpy(body, reply + qend, bodylen - optlen);
			memcpy(body + bodylen - optlen, reply + n - optlen, optlen);
		} else {
			memcpy(body, reply + qend, bodylen);
		}
		c->st.misses++;
	}

	size_t i = hash & (c->nslots - 1);
	while (c->slots[i].off)
		i = (i + 1) & (c->nslots - 1);
	c->slots[i].hash = hash;
	c->slots[i].off = (uint32_t)(c->used + 1);
	c->used += size;
	c->nentries++;
	return e;
}

/*
 * A reply cut to the size limit (fill entry): the longest run of records,
 * from record r on and wrapping, that fits, as rendering with rotation r
 * stops at the first record that does not; then the OPT.  No additional
 * section (rendering leaves it out of a reply that lost answers).
 */
static size_t serve_fill(const struct acache_entry *e, size_t qend, uint8_t *out, uint32_t rot)
{
	const uint16_t *off = entry_off(e);
	const uint8_t *body = entry_body(e);
	unsigned n = e->nrot, r = rot % n, k = 0;
	size_t optlen = e->edns ? 11 : 0;
	size_t room = e->lim - optlen > qend ? e->lim - optlen - qend : 0;
	size_t len = 0;

	for (unsigned j = r; k < n; j = j + 1 == n ? 0 : j + 1, k++) {
		size_t sz = (size_t)off[j + 1] - off[j];
		if (len + sz > room)
			break;
		len += sz;
	}
	uint8_t *o = out + qend;
	if (r + k <= n) {
		memcpy(o, body + off[r], len);
	} else {
		size_t first = off[n] - off[r];
		memcpy(o, body + off[r], first);
		memcpy(o + first, body, len - first);
	}
	memcpy(o + len, body + off[n], optlen);
	set16(out + 6, (uint16_t)k);
	set16(out + 8, 0);
	set16(out + 10, optlen ? 1 : 0);
	return qend + len + optlen;
}

size_t acache_serve(struct acache *c, const struct acache_entry *e, int fresh, const uint8_t *q,
		    size_t qend, uint8_t *out, uint32_t rot, int *rcode, int *truncated)
{
	if (!e->serve) {
		c->st.passes++;		/* rendered by the caller */
		return 0;
	}
	if (!fresh)
		c->st.hits++;		/* (a fresh one was counted as a miss) */
	const uint8_t *body = entry_body(e);
	uint8_t *o = out + qend;

	/* Header: the query's ID, RD and CD; the rest as rendered. */
	out[0] = q[0];
	out[1] = q[1];
	out[2] = (uint8_t)(e->hdr[0] | (q[2] & 0x01));
	out[3] = (uint8_t)(e->hdr[1] | (q[3] & 0x10));
	memcpy(out + 4, e->hdr + 2, 8);
	/* The question as the client spelled it: the pointers only need its length. */
	memcpy(out + 12, q + 12, qend - 12);
	*rcode = e->rcode;
	*truncated = e->truncated;
	if (e->serve == SERVE_FILL)
		return serve_fill(e, qend, out, rot);
	if (e->nrot == 0) {
		memcpy(o, body, e->bodylen);
	} else {
		const uint16_t *off = entry_off(e);
		unsigned r = rot % e->nrot;
		size_t a = off[r], aend = off[e->nrot];
		/* Records r.. first, then 0..r-1: what rendering with rot does. */
		memcpy(o, body + a, aend - a);
		memcpy(o + (aend - a), body, a);
		memcpy(o + aend, body + aend, e->bodylen - aend);
		const struct fix *fix = entry_fix(e);
		for (unsigned i = 0; i < e->nfix; i++) {
			unsigned k = fix[i].rec;
			size_t t = (get16(body + fix[i].pos) & PTR_MAX) - qend;
			size_t moved = k >= r ? off[k] - a : aend - a + off[k];
			set16(o + fix[i].pos, (uint16_t)(0xc000 | (qend + moved + (t - off[k]))));
		}
	}
	return qend + e->bodylen;
}
