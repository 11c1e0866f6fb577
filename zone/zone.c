/* zone/zone.c -- build, index and describe an immutable zone. */
#include "zone/zone.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "zone/arena.h"
#include "zone/diff.h"
#include "zone/dname.h"
#include "zone/itab.h"
#include "zone/meta.h"

/* A record as added, before sorting; owner and rdata live in the arena. */
struct brec {
	const uint8_t *rdata;
	uint32_t oid;		/* index of the owner in the builder's owner table
				   (interned: one copy per distinct name); from
				   sort_recs on, the owner's rank instead (the same
				   grouping, and build_index needs no lookup) */
	uint32_t sid;		/* SRV/NS: its shared rdata's index + 1; 0 = none */
	uint16_t type;
	uint16_t rdlen;
	uint8_t unhealthy;	/* from a task whose last status said healthy: false */
};

/* A distinct name of the zone being built: an owner or, after finish, an
 * empty non-terminal above one. */
struct bowner {
	const uint8_t *name;	/* lower-case wire, in the zone's arena */
	uint32_t rank;		/* position in canonical order, set at finish */
	uint32_t parent;	/* the owner one label up, set at finish (apex: none) */
	uint32_t hash;		/* name_hash of name: the zone's index uses it too */
	uint8_t len;
};

/* A distinct rdata naming a target (SRV, NS), stored once in the arena. */
struct bshared {
	const uint8_t *rdata;
	uint16_t rdlen;
	uint8_t off;		/* the target name is rdata + off */
	uint32_t rank;		/* set at finish: the target's rank + 1; 0 = no such node */
};

struct zone_builder {
	struct zone *z;		/* under construction; owns the arena */
	struct brec *recs;
	size_t n, cap;
	uint8_t unhealthy;	/* flag of the records added now */
	/* Owner interning: a 100,000-task zone has 1.5 M records on 0.5 M
	 * names, so each name is stored once and sorting compares ranks. */
	struct bowner *owners;
	size_t nowners, capowners;
	struct itab otab;	/* ids: owners[id - 1] */
	/* SRV rdata interning: every (port, target) of a task is the rdata of
	 * four SRVs (tcp and udp, under the framework and under slave), so it
	 * is stored once and its target looked up once at finish. */
	struct bshared *shared;
	size_t nshared, capshared;
	struct itab stab;	/* ids: shared[id - 1] */
	uint32_t last_sid;	/* the rdata interned last (id), 0: none: a task's
				   port is the rdata of four SRVs in a row */
	size_t hint_tasks, hint_meta;	/* the previous zone's enumerate counts */
};

static uint32_t name_hash(const uint8_t *name, size_t len)
{
	return itab_hash(name, len);	/* names are already lower-case */
}

static struct zone *zone_alloc(const struct zone_params *p)
{
	static atomic_uint_fast64_t last_id;
	struct zone *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->id = atomic_fetch_add(&last_id, 1) + 1;
	z->arena = arena_new(p->arena_block ? p->arena_block : 64 * 1024);
	if (!z->arena) {
		free(z);
		return NULL;
	}
	atomic_init(&z->refs, 1);
	z->p = *p;
	z->p.domain = arena_strdup(z->arena, p->domain);
	z->p.soa_mname = arena_strdup(z->arena, p->soa_mname);
	z->p.soa_rname = arena_strdup(z->arena, p->soa_rname);
	if (z->p.edns_max < 512)
		z->p.edns_max = 512;
	z->neg_ttl = p->ttl < p->soa_minttl ? p->ttl : p->soa_minttl;
	z->apexlen = dname_from_text(p->domain, z->apex);
	uint8_t tmp[DNAME_MAXLEN];
	if (!z->p.domain || !z->p.soa_mname || !z->p.soa_rname || z->apexlen <= 1 ||
	    !dname_from_text(p->soa_mname, tmp) || !dname_from_text(p->soa_rname, tmp)) {
		zone_free(z);
		return NULL;
	}
	return z;
}

void zone_free(struct zone *z)
{
	if (!z || atomic_fetch_sub_explicit(&z->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < z->nrev; i++)
		zone_free(z->rev[i]);
	free(z->rev);
	for (size_t i = 0; i < z->nhist; i++)
		zone_diff_unref(z->hist[i]);
	zone_meta_free(z->meta);
	arena_free(z->arena);
	free(z);
}

struct zone *zone_ref(const struct zone *z)
{
	struct zone *w = (struct zone *)z;	/* the count is not zone content */

	atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
	return w;
}

struct zone_builder *zone_builder_new(const struct zone_params *p)
{
	struct zone_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->z = zone_alloc(p);
	if (!b->z) {
		free(b);
		return NULL;
	}
	return b;
}

int zone_builder_expect(struct zone_builder *b, const struct zone *prev)
{
	if (!prev)
		return 0;
	/* An eighth more than last time: a cluster grows a little between two
	 * states; a bigger jump only falls back to doubling. */
	size_t nrec = prev->nrecords + prev->nrecords / 8;
	size_t nown = prev->nnodes + prev->nnodes / 8;
	if (array_reserve((void **)&b->recs, &b->cap, nrec, sizeof(*b->recs)) != 0 ||
	    array_reserve((void **)&b->owners, &b->capowners, nown, sizeof(*b->owners)) != 0 ||
	    itab_expect(&b->otab, nown) != 0)
		return MDNS_ENOMEM;
	if (prev->meta) {
		b->hint_tasks = prev->meta->ntasks;
		b->hint_meta = prev->meta->nrecords;
	}
	return 0;
}

void zone_builder_meta_hint(const struct zone_builder *b, size_t *ntasks, size_t *nrecords)
{
	*ntasks = b->hint_tasks;
	*nrecords = b->hint_meta;
}

void zone_builder_free(struct zone_builder *b)
{
	if (!b)
		return;
	zone_free(b->z);
	free(b->recs);
	free(b->owners);
	itab_clear(&b->otab);
	free(b->shared);
	itab_clear(&b->stab);
	free(b);
}

void zone_builder_set_meta(struct zone_builder *b, struct zone_meta *m)
{
	zone_meta_free(b->z->meta);
	b->z->meta = m;
}

/*
 * Look wire name (len bytes, hash h) up among the interned owners: its index,
 * or -1 with *slot the empty slot where it would go.  The table must have
 * room (itab_reserve) when the caller means to insert.
 */
static long owner_probe(const struct zone_builder *b, const uint8_t *wire, size_t len, uint32_t h,
			size_t *slot)
{
	size_t i = itab_first(&b->otab, h);

	for (; b->otab.v[i].id; i = itab_next(&b->otab, i)) {
		const struct itab_slot *sl = &b->otab.v[i];
		const struct bowner *o = &b->owners[sl->id - 1];
		if (sl->hash == h && o->len == len && memcmp(o->name, wire, len) == 0)
			return (long)sl->id - 1;
	}
	*slot = i;
	return -1;
}

/* Index of the interned wire name (len bytes); -1 when it is not there. */
static long find_owner(const struct zone_builder *b, const uint8_t *wire, size_t len)
{
	size_t slot;

	return b->otab.size ? owner_probe(b, wire, len, itab_hash(wire, len), &slot) : -1;
}

/* Index of the interned copy of wire name (len bytes), adding it; -1 on no memory. */
static long intern_owner(struct zone_builder *b, const uint8_t *wire, size_t len)
{
	uint32_t h = itab_hash(wire, len);
	size_t i;

	if (itab_reserve(&b->otab) != 0)
		return -1;
	long found = owner_probe(b, wire, len, h, &i);
	if (found >= 0)
		return found;
	if (b->nowners == b->capowners) {
		size_t nc = b->capowners ? b->capowners * 2 : 1024;
		struct bowner *no = realloc(b->owners, nc * sizeof(*no));
		if (!no)
			return -1;
		b->owners = no;
		b->capowners = nc;
	}
	struct bowner *o = &b->owners[b->nowners];
	o->name = arena_memdup(b->z->arena, wire, len);
	if (!o->name)
		return -1;
	o->len = (uint8_t)len;
	o->hash = h;
	o->rank = 0;
	o->parent = UINT32_MAX;
	itab_put(&b->otab, i, h, (uint32_t)++b->nowners);
	return (long)b->nowners - 1;
}

/* The arena copy of rdata whose target name starts at off, shared by equal
 * rdata; *sid its index + 1.  NULL on no memory. */
static const uint8_t *intern_rdata(struct zone_builder *b, const uint8_t *rdata, size_t rdlen,
				   size_t off, uint32_t *sid)
{
	if (b->last_sid) {
		const struct bshared *t = &b->shared[b->last_sid - 1];
		if (t->rdlen == rdlen && memcmp(t->rdata, rdata, rdlen) == 0) {
			*sid = b->last_sid;
			return t->rdata;
		}
	}
	uint32_t h = itab_hash(rdata, rdlen);

	if (itab_reserve(&b->stab) != 0)
		return NULL;
	size_t i = itab_first(&b->stab, h);
	for (; b->stab.v[i].id; i = itab_next(&b->stab, i)) {
		const struct itab_slot *sl = &b->stab.v[i];
		const struct bshared *t = &b->shared[sl->id - 1];
		if (sl->hash == h && t->rdlen == rdlen && memcmp(t->rdata, rdata, rdlen) == 0) {
			*sid = b->last_sid = sl->id;
			return t->rdata;
		}
	}
	if (b->nshared == b->capshared) {
		size_t nc = b->capshared ? b->capshared * 2 : 256;
		struct bshared *nt = realloc(b->shared, nc * sizeof(*nt));
		if (!nt)
			return NULL;
		b->shared = nt;
		b->capshared = nc;
	}
	const uint8_t *copy = arena_bytes(b->z->arena, rdata, rdlen);
	if (!copy)
		return NULL;
	b->shared[b->nshared] = (struct bshared){ copy, (uint16_t)rdlen, (uint8_t)off, 0 };
	itab_put(&b->stab, i, h, (uint32_t)++b->nshared);
	*sid = b->last_sid = (uint32_t)b->nshared;
	return copy;
}

/* Append a record whose owner is given as text; checks it is in the zone.
 * rdata is the arena's (sid: its shared rdata's index + 1, or 0). */
static int add_rec_in(struct zone_builder *b, const char *owner, uint16_t type,
		      const uint8_t *rdata, uint16_t rdlen, uint32_t sid)
{
	uint8_t wire[DNAME_MAXLEN];
	size_t len = dname_from_text(owner, wire);

	if (!len || dname_under(wire, len, b->z->apex, b->z->apexlen) < 0)
		return MDNS_EINVAL;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct brec *r = realloc(b->recs, cap * sizeof(*r));
		if (!r)
			return MDNS_ENOMEM;
		b->recs = r;
		b->cap = cap;
	}
	struct brec *r = &b->recs[b->n];
	long oid = intern_owner(b, wire, len);
	if (oid < 0)
		return MDNS_ENOMEM;
	r->oid = (uint32_t)oid;
	r->rdata = rdata;
	r->type = type;
	r->rdlen = rdlen;
	r->unhealthy = b->unhealthy;
	r->sid = sid;
	b->n++;
	return 0;
}

/* Append a record, rdata copied into the arena. */
static int add_rec(struct zone_builder *b, const char *owner, uint16_t type,
		   const uint8_t *rdata, uint16_t rdlen)
{
	const uint8_t *copy = arena_bytes(b->z->arena, rdata, rdlen);
	return copy ? add_rec_in(b, owner, type, copy, rdlen, 0) : MDNS_ENOMEM;
}

/* Append a record whose rdata names a target at rdata + off (SRV, NS). */
static int add_rec_named(struct zone_builder *b, const char *owner, uint16_t type,
			 const uint8_t *rdata, uint16_t rdlen, size_t off)
{
	uint32_t sid;
	const uint8_t *copy = intern_rdata(b, rdata, rdlen, off, &sid);
	return copy ? add_rec_in(b, owner, type, copy, rdlen, sid) : MDNS_ENOMEM;
}

int zone_builder_last(const struct zone_builder *b, const uint8_t **owner,
		      const uint8_t **rdata, uint16_t *rdlen)
{
	if (b->n == 0)
		return -1;
	const struct brec *r = &b->recs[b->n - 1];
	*owner = b->owners[r->oid].name;
	*rdata = r->rdata;
	*rdlen = r->rdlen;
	return 0;
}

void zone_builder_set_unhealthy(struct zone_builder *b, int unhealthy)
{
	b->unhealthy = unhealthy ? 1 : 0;
}

int zone_builder_add_ptr(struct zone_builder *b, const char *owner, const char *target)
{
	uint8_t rd[DNAME_MAXLEN];
	size_t tl = dname_from_text(target, rd);

	if (!tl)
		return MDNS_EINVAL;
	return add_rec(b, owner, RR_PTR, rd, (uint16_t)tl);
}

int zone_builder_add_addr(struct zone_builder *b, const char *owner, const struct ipaddr *ip)
{
	if (ip->af == 4)
		return add_rec(b, owner, RR_A, ip->b, 4);
	if (ip->af == 6)
		return add_rec(b, owner, RR_AAAA, ip->b, 16);
	return MDNS_EINVAL;
}

int zone_builder_add_srv(struct zone_builder *b, const char *owner, uint16_t priority,
			 uint16_t weight, uint16_t port, const char *target)
{
	uint8_t rd[6 + DNAME_MAXLEN];
	size_t tl = dname_from_text(target, rd + 6);

	if (!tl)
		return MDNS_EINVAL;
	rd[0] = (uint8_t)(priority >> 8); rd[1] = (uint8_t)priority;
	rd[2] = (uint8_t)(weight >> 8);   rd[3] = (uint8_t)weight;
	rd[4] = (uint8_t)(port >> 8);     rd[5] = (uint8_t)port;
	return add_rec_named(b, owner, RR_SRV, rd, (uint16_t)(6 + tl), 6);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

/* Apex SOA (serial 0 until finish decides it) and NS. */
static int add_apex(struct zone_builder *b)
{
	const struct zone_params *p = &b->z->p;
	uint8_t rd[2 * DNAME_MAXLEN + 20];
	size_t m = dname_from_text(p->soa_mname, rd);
	size_t r = dname_from_text(p->soa_rname, rd + m);
	uint8_t *f = rd + m + r;

	put32(f, 0);
	put32(f + 4, p->soa_refresh);
	put32(f + 8, p->soa_retry);
	put32(f + 12, p->soa_expire);
	put32(f + 16, p->soa_minttl);
	int rc = add_rec(b, p->domain, RR_SOA, rd, (uint16_t)(m + r + 20));
	return rc ? rc : add_rec_named(b, p->domain, RR_NS, rd, (uint16_t)m, 0);
}

static int rdata_cmp(const uint8_t *a, uint16_t al, const uint8_t *b, uint16_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (int)al - (int)bl;
}

/* Order of two records of one owner by type and rdata: what makes them the same. */
static int brec_key_cmp(const struct brec *a, const struct brec *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return rdata_cmp(a->rdata, a->rdlen, b->rdata, b->rdlen);
}

/*
 * healthAware: drop the unhealthy records of every RRset that keeps at least
 * one healthy record.  An RRset of unhealthy records only stays whole: an
 * empty name would send clients nowhere, while some of these tasks may still
 * serve (a failing check is often the check, or a dependency).  recs are
 * sorted and unique.  Returns the new count; *dropped counts what went.
 */
static size_t drop_unhealthy(struct brec *recs, size_t n, size_t *dropped)
{
	size_t o = 0;

	*dropped = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		int healthy = 0;
		while (j < n && recs[j].type == recs[i].type && recs[j].oid == recs[i].oid) {
			healthy |= !recs[j].unhealthy;
			j++;
		}
		for (size_t k = i; k < j; k++) {
			if (healthy && recs[k].unhealthy)
				(*dropped)++;
			else
				recs[o++] = recs[k];
		}
		i = j;
	}
	return o;
}

/* Bytes off .. off+7 of a label, zero-padded, as a number that orders like them. */
static uint64_t label_prefix(const uint8_t *label, unsigned off)
{
	uint64_t v = 0;
	unsigned n = label[0];

	for (unsigned i = off; i < off + 8; i++)
		v = v << 8 | (i < n ? label[1 + i] : 0);
	return v;
}

/* One name of one depth while ranking: its parent's position among the
 * names one label up (already sorted) and 8 bytes of its own first label. */
struct lvl_ent {
	uint64_t prefix;	/* label_prefix of the first label at some offset */
	uint32_t pidx;
	uint32_t id;		/* owner index */
};

static int lvl_less(const struct lvl_ent *a, const struct lvl_ent *b)
{
	return a->pidx != b->pidx ? a->pidx < b->pidx : a->prefix < b->prefix;
}

/* Byte k of an entry's sort key (pidx, prefix), 0 the least significant. */
static unsigned lvl_byte(const struct lvl_ent *e, unsigned k)
{
	return k < 8 ? (unsigned)(e->prefix >> (8 * k)) & 0xff
		     : (unsigned)(e->pidx >> (8 * (k - 8))) & 0xff;
}

/*
 * Sort ent[0..n) by (pidx, prefix): a radix sort, least significant byte
 * first, skipping the bytes every entry shares (the zero padding of short
 * labels, the high bytes of pidx); tmp has room for n.  The deepest level
 * of a 100,000-task zone has 400,000 names: glibc's qsort spent 4% of the
 * rebuild on them, this a fraction of that.
 */
static void radix_lvl(struct lvl_ent *ent, struct lvl_ent *tmp, size_t n)
{
	uint32_t cnt[12][256];	/* 12 KiB of stack; a level has under 2^32 names */
	struct lvl_ent *src = ent, *dst = tmp;

	memset(cnt, 0, sizeof(cnt));
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < 12; k++)
			cnt[k][lvl_byte(&ent[i], k)]++;
	for (unsigned k = 0; k < 12; k++) {
		uint32_t *c = cnt[k], sum = 0;
		if (c[lvl_byte(&src[0], k)] == n)
			continue;
		for (unsigned v = 0; v < 256; v++) {
			uint32_t t = c[v];
			c[v] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[lvl_byte(&src[i], k)]++] = src[i];
		struct lvl_ent *sw = src;
		src = dst;
		dst = sw;
	}
	if (src != ent)
		memcpy(ent, src, n * sizeof(*ent));
}

/*
 * Sort ent[0..n) by parent, then first label, whose bytes from off on are
 * in prefix: by the 8 bytes at hand, then each run that ties on them by the
 * next 8, and so on.  Labels never hold a 0 byte (they come from text) and
 * siblings differ, so zero padding orders a label before its extensions and
 * every tie ends within 64 bytes.  Siblings often share a long start (the
 * instances of an app: "web-frontend-prod-x7k2p-s12"); comparing whole
 * labels read two names from all over the arena at every comparison, 10%
 * of a 100,000-task build.  This reads each name once per 8 bytes it ties.
 */
static void sort_siblings(struct lvl_ent *ent, struct lvl_ent *tmp, size_t n,
			  const struct bowner *o, unsigned off)
{
	if (n > 32) {
		radix_lvl(ent, tmp, n);
	} else {
		for (size_t i = 1; i < n; i++) {
			struct lvl_ent x = ent[i];
			size_t j = i;
			for (; j > 0 && lvl_less(&x, &ent[j - 1]); j--)
				ent[j] = ent[j - 1];
			ent[j] = x;
		}
	}
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && ent[j].pidx == ent[i].pidx && ent[j].prefix == ent[i].prefix)
			j++;
		if (j - i > 1 && off + 8 < 64) {
			for (size_t k = i; k < j; k++)
				ent[k].prefix = label_prefix(o[ent[k].id].name, off + 8);
			sort_siblings(ent + i, tmp, j - i, o, off + 8);
		}
		i = j;
	}
}

#define MAX_DEPTH 128	/* labels below the apex; a name has at most 127 */

/*
 * Give every owner its rank in canonical order (RFC 4034 6.1).  Every
 * owner's parent is an owner too (add_empty_nonterminals), so the order is
 * the depth-first walk of the name tree with each node's children sorted by
 * their first label.  The names of each depth are sorted by (their parent's
 * position among the names one label up, first label), which compares a
 * number and a few bytes instead of whole names with long common suffixes
 * (that comparison sort was 12% of a 100,000-task rebuild); then one walk
 * hands out the ranks, taking each depth's names in their sorted order.
 * 0, MDNS_ENOMEM or MDNS_EINVAL (an owner outside the tree: a bug).
 */
static int rank_owners(struct zone_builder *b)
{
	size_t n = b->nowners, apexlabels = 0;
	size_t lstart[MAX_DEPTH + 2] = { 0 }, cur[MAX_DEPTH + 1];
	uint32_t path[MAX_DEPTH + 1];
	uint8_t *depth = malloc(n ? n : 1);
	struct lvl_ent *ent = malloc((n ? n : 1) * sizeof(*ent));
	struct lvl_ent *tmp = malloc((n ? n : 1) * sizeof(*tmp));
	int rc = MDNS_ENOMEM;

	if (!depth || !ent || !tmp)
		goto out;
	for (const uint8_t *p = b->z->apex; *p; p += *p + 1)
		apexlabels++;
	size_t maxd = 0;
	for (size_t i = 0; i < n; i++) {
		size_t labels = 0;
		for (const uint8_t *p = b->owners[i].name; *p; p += *p + 1)
			labels++;
		depth[i] = (uint8_t)(labels - apexlabels);
		if (depth[i] > maxd)
			maxd = depth[i];
		lstart[depth[i] + 1]++;
	}
	rc = MDNS_EINVAL;
	if (lstart[1] != 1 || maxd > MAX_DEPTH)
		goto out;	/* the apex, once, at depth 0 */
	for (size_t d = 0; d <= maxd; d++)
		lstart[d + 1] += lstart[d];
	memcpy(cur, lstart, sizeof(cur));
	for (size_t i = 0; i < n; i++)
		ent[cur[depth[i]]++].id = (uint32_t)i;
	/* Depth by depth: a name's pidx is its parent's position (kept in the
	 * parent's rank field until the walk) in the sorted depth above. */
	b->owners[ent[0].id].rank = 0;
	for (size_t d = 1; d <= maxd; d++) {
		for (size_t k = lstart[d]; k < lstart[d + 1]; k++) {
			const struct bowner *o = &b->owners[ent[k].id];
			ent[k].pidx = b->owners[o->parent].rank;
			ent[k].prefix = label_prefix(o->name, 0);
		}
		sort_siblings(ent + lstart[d], tmp, lstart[d + 1] - lstart[d], b->owners, 0);
		for (size_t k = lstart[d]; k < lstart[d + 1]; k++)
			b->owners[ent[k].id].rank = (uint32_t)(k - lstart[d]);
	}
	/* The walk: a node's children are the next names of the depth below
	 * whose pidx is its position. */
	uint32_t next = 0;
	size_t d = 0;
	memcpy(cur, lstart, sizeof(cur));
	cur[0] = 1;
	path[0] = 0;
	b->owners[ent[0].id].rank = next++;
	for (;;) {
		if (d < maxd && cur[d + 1] < lstart[d + 2] && ent[cur[d + 1]].pidx == path[d]) {
			d++;
			path[d] = (uint32_t)(cur[d] - lstart[d]);
			b->owners[ent[cur[d]++].id].rank = next++;
			continue;
		}
		if (d == 0)
			break;
		d--;
	}
	rc = next == n ? 0 : MDNS_EINVAL;
out:
	free(depth);
	free(ent);
	free(tmp);
	return rc;
}

/*
 * A record with its sort key: the type, then the first six bytes of its
 * rdata, zero-padded.  Keys order records as brec_key_cmp does, except
 * that records with equal keys may still differ (krec_tie_cmp tells).
 */
struct krec {
	uint64_t key;
	struct brec r;
};

static uint64_t brec_sort_key(const struct brec *r)
{
	uint64_t k = (uint64_t)r->type << 48;
	size_t n = r->rdlen < 6 ? r->rdlen : 6;

	for (size_t i = 0; i < n; i++)
		k |= (uint64_t)r->rdata[i] << (40 - 8 * i);
	return k;
}

/* brec_key_cmp of two records with equal keys: rdata of six bytes or less
 * is in the key whole, so only the lengths can tell them apart (A records
 * at one agent's address are the common case). */
static int krec_tie_cmp(const struct krec *a, const struct krec *b)
{
	if (a->r.rdlen <= 6 && b->r.rdlen <= 6)
		return (int)a->r.rdlen - (int)b->r.rdlen;
	return brec_key_cmp(&a->r, &b->r);
}

/* The sort order within an owner: type and rdata, then healthy before
 * unhealthy, so that keeping the first of equal records keeps a healthy copy. */
static int krec_cmp(const void *x, const void *y)
{
	const struct krec *a = x, *b = y;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	int c = krec_tie_cmp(a, b);
	return c ? c : (int)a->r.unhealthy - (int)b->r.unhealthy;
}

/*
 * Sort the records into canonical order and drop duplicates (the first of
 * equal records stays: a healthy one, if any).  A counting sort on the
 * owner's rank (ranks are 0 .. nowners-1), then each owner's few records by
 * type and rdata.  A comparison sort of 1.5 M records looked the rank up
 * through the owner table on every comparison, a cache miss each.  The
 * rdata's leading bytes are read into each record's key in the first pass,
 * when records come in the order their rdata was allocated in: once
 * scattered by owner, every memcmp of rdata was a cache miss, and sorting
 * the big RRsets (an app's A and SRV records) and finding duplicates cost
 * a tenth of a rebuild.  0 or MDNS_ENOMEM.
 */
static int sort_recs(struct zone_builder *b)
{
	size_t n = b->n, no = b->nowners;
	size_t *start = calloc(no + 1, sizeof(*start));
	struct krec *out = malloc((n ? n : 1) * sizeof(*out));
	uint32_t *rk = malloc((n ? n : 1) * sizeof(*rk));	/* each record's owner's rank */

	if (!start || !out || !rk) {
		free(start);
		free(out);
		free(rk);
		return MDNS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		rk[i] = b->owners[b->recs[i].oid].rank;
		start[rk[i] + 1]++;
	}
	for (size_t r = 0; r < no; r++)
		start[r + 1] += start[r];
	for (size_t i = 0; i < n; i++) {
		struct krec *k = &out[start[rk[i]]++];
		k->r = b->recs[i];
		k->key = brec_sort_key(&k->r);
	}
	free(rk);
	/* start[r] is now the end of rank r's run, the start of rank r+1's.
	 * Most runs are a handful of records: insertion sort those.  The
	 * sorted, unique records go back to b->recs in order. */
	size_t o = 0;
	for (size_t r = 0, lo = 0; r < no; lo = start[r++]) {
		size_t cnt = start[r] - lo;
		struct krec *v = out + lo;
		if (cnt > 16) {
			qsort(v, cnt, sizeof(*v), krec_cmp);
		} else {
			for (size_t i = 1; i < cnt; i++) {
				struct krec x = v[i];
				size_t j = i;
				for (; j > 0 && krec_cmp(&v[j - 1], &x) > 0; j--)
					v[j] = v[j - 1];
				v[j] = x;
			}
		}
		for (size_t i = 0; i < cnt; i++)
			if (i == 0 || v[i].key != v[i - 1].key || krec_tie_cmp(&v[i - 1], &v[i]) != 0) {
				b->recs[o] = v[i].r;
				b->recs[o++].oid = (uint32_t)r;
			}
	}
	free(start);
	free(out);
	b->n = o;
	return 0;
}

/* Intern every ancestor of every owner down to the apex: the empty
 * non-terminals (RFC 8020: they exist, with no data).  0 or MDNS_ENOMEM. */
/* Move memo[at] to the front of the most-recently-used list memo (*n of at
 * most cap ids) as id; at == *n pushes id in, the last one going when full. */
static void mru_front(uint32_t *memo, size_t *n, size_t cap, size_t at, uint32_t id)
{
	if (at == *n && *n < cap)
		(*n)++;
	if (at >= *n)
		at = *n - 1;
	memmove(memo + 1, memo, at * sizeof(*memo));
	memo[0] = id;
}

static int add_empty_nonterminals(struct zone_builder *b)
{
	size_t real = b->nowners, apexlen = b->z->apexlen;
	/* The parents found last, most recent first: a task's names sit under
	 * a few parents ("marathon.mesos", "_tcp.marathon.mesos", ...), and
	 * comparing with these, in cache, saves the hash and the table's
	 * cache misses for most owners. */
	enum { NMEMO = 4 };
	uint32_t memo[NMEMO];
	size_t nmemo = 0;

	for (size_t i = 0; i < real; i++) {
		const uint8_t *name = b->owners[i].name;
		size_t len = b->owners[i].len, cur = i;
		if (len > apexlen) {
			const uint8_t *pn = name + name[0] + 1;
			size_t pl = len - name[0] - 1u, k = 0;
			for (; k < nmemo; k++) {
				const struct bowner *m = &b->owners[memo[k]];
				if (m->len == pl && memcmp(m->name, pn, pl) == 0)
					break;
			}
			if (k < nmemo) {
				b->owners[i].parent = memo[k];
				mru_front(memo, &nmemo, NMEMO, k, memo[k]);
				continue;
			}
		}
		while (len > apexlen) {
			len -= name[0] + 1u;
			name += name[0] + 1u;
			size_t before = b->nowners;
			long up = intern_owner(b, name, len);
			if (up < 0)
				return MDNS_ENOMEM;
			b->owners[cur].parent = (uint32_t)up;
			if (cur == i)	/* owner i's parent: remember it */
				mru_front(memo, &nmemo, NMEMO, nmemo, (uint32_t)up);
			if (b->nowners == before)
				break;	/* known, and so are its ancestors (or they will be) */
			cur = (size_t)up;
		}
	}
	return 0;
}

static struct zone_node *lookup_mut(const struct zone *z, const uint8_t *name, size_t len)
{
	struct zone_node *n = z->buckets[name_hash(name, len) & (z->nbuckets - 1)];
	for (; n; n = n->hnext)
		if (n->namelen == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

/* Add n, whose name hashes to h (name_hash), to the index. */
static void insert_node(struct zone *z, struct zone_node *n, uint32_t h)
{
	size_t i = h & (z->nbuckets - 1);
	n->hnext = z->buckets[i];
	z->buckets[i] = n;
}

/*
 * The nodes, in one array in canonical order (z->nodes[rank] points at
 * nodes[rank]), so an SRV target's node is known from its rank before it is
 * filled; the hash index over them; RRsets from the sorted records.
 */
static int build_index(struct zone_builder *b)
{
	struct zone *z = b->z;
	struct arena *a = z->arena;
	size_t nb = 16, no = b->nowners;

	while (nb < no * 2)
		nb <<= 1;
	z->nbuckets = nb;
	z->buckets = arena_alloc(a, nb * sizeof(*z->buckets));
	z->nodes = arena_alloc(a, (no ? no : 1) * sizeof(*z->nodes));
	struct zone_node *nodes = arena_alloc(a, (no ? no : 1) * sizeof(*nodes));
	if (!z->buckets || !z->nodes || !nodes)
		return MDNS_ENOMEM;
	memset(z->buckets, 0, nb * sizeof(*z->buckets));
	memset(nodes, 0, no * sizeof(*nodes));

	/* Every interned name is a node: the owners, and empty non-terminals
	 * (no RRsets) for the rest. */
	for (size_t i = 0; i < no; i++) {
		const struct bowner *o = &b->owners[i];
		struct zone_node *n = &nodes[o->rank];
		n->name = o->name;
		n->namelen = o->len;
		z->nodes[o->rank] = n;
	}
	for (size_t t = 0; t < b->nshared; t++) {
		struct bshared *bt = &b->shared[t];
		long oid = find_owner(b, bt->rdata + bt->off, bt->rdlen - bt->off);
		bt->rank = oid < 0 ? 0 : b->owners[oid].rank + 1;
	}

	for (size_t i = 0; i < b->n;) {
		/* Records [i, j) share an owner; they are sorted by type then rdata. */
		size_t j = i, ntypes = 0;
		while (j < b->n && b->recs[j].oid == b->recs[i].oid) {
			if (j == i || b->recs[j].type != b->recs[j - 1].type)
				ntypes++;
			j++;
		}
		struct zone_node *n = &nodes[b->recs[i].oid];	/* its rank (sort_recs) */
		n->nrrsets = (uint8_t)ntypes;
		n->rrsets = arena_alloc(a, ntypes * sizeof(*n->rrsets));
		if (!n->rrsets)
			return MDNS_ENOMEM;
		struct zone_rrset *rs = NULL;
		for (size_t k = i; k < j; k++) {
			const struct brec *r = &b->recs[k];
			if (k == i || r->type != b->recs[k - 1].type) {
				size_t cnt = 0;
				while (k + cnt < j && b->recs[k + cnt].type == r->type)
					cnt++;
				if (cnt > ZONE_RRSET_MAX) {
					z->over_rrset_max += cnt - ZONE_RRSET_MAX;
					cnt = ZONE_RRSET_MAX;	/* the first in canonical order */
				}
				rs = rs ? rs + 1 : n->rrsets;
				rs->type = r->type;
				rs->count = 0;
				rs->ttl = z->p.ttl;
				rs->rrs = arena_alloc(a, cnt * sizeof(*rs->rrs));
				if (!rs->rrs)
					return MDNS_ENOMEM;
			}
			if (rs->count == ZONE_RRSET_MAX)
				continue;
			struct zone_rr *rr = &rs->rrs[rs->count++];
			uint32_t trank = r->sid ? b->shared[r->sid - 1].rank : 0;
			rr->rdata = r->rdata;
			rr->rdlen = r->rdlen;
			rr->target = trank ? &nodes[trank - 1] : NULL;
			z->nrecords++;
		}
		i = j;
	}
	for (size_t i = 0; i < no; i++)
		insert_node(z, &nodes[b->owners[i].rank], b->owners[i].hash);
	z->nnodes = no;
	z->apex_node = lookup_mut(z, z->apex, z->apexlen);
	z->soa = zone_node_rrset(z->apex_node, RR_SOA);
	return 0;
}

struct zone *zone_builder_finish(struct zone_builder *b, const struct zone *prev, uint32_t now)
{
	struct zone *z = NULL;

	if (add_apex(b) != 0 || add_empty_nonterminals(b) != 0 || rank_owners(b) != 0)
		goto out;
	if (sort_recs(b) != 0)
		goto out;
	size_t held_back;
	b->n = drop_unhealthy(b->recs, b->n, &held_back);
	if (build_index(b) != 0)
		goto out;
	z = b->z;
	b->z = NULL;
	z->loaded = 1;
	z->held_back = held_back;
	if (prev && (prev->apexlen != z->apexlen || memcmp(prev->apex, z->apex, z->apexlen) != 0))
		prev = NULL;	/* another zone: nothing to continue from */
	/* Serial 0 is in the SOA while comparing, so equal content compares equal. */
	if (prev && prev->loaded && zone_same_content(z, prev)) {
		z->serial = prev->serial;
	} else {
		z->serial = now;
		if (prev && prev->loaded && (int32_t)(z->serial - prev->serial) <= 0)
			z->serial = prev->serial + 1;	/* never backwards (RFC 1982) */
	}
	const struct zone_rr *soa = &z->soa->rrs[0];
	uint8_t *serial = (uint8_t *)soa->rdata + soa->rdlen - 20;
	put32(serial, z->serial);
	/* Without history (no memory for it) IXFR falls back to AXFR: not fatal. */
	if (prev && prev->loaded && !z->p.no_history)
		zone_history_extend(z, prev);
out:
	zone_builder_free(b);
	return z;
}

struct zone *zone_new_unloaded(const struct zone_params *p)
{
	struct zone *z = zone_alloc(p);
	if (!z)
		return NULL;
	z->nbuckets = 1;
	z->buckets = arena_alloc(z->arena, sizeof(*z->buckets));
	if (!z->buckets) {
		zone_free(z);
		return NULL;
	}
	z->buckets[0] = NULL;
	return z;
}

const struct zone_node *zone_lookup(const struct zone *z, const uint8_t *name, size_t len)
{
	return lookup_mut(z, name, len);
}

static int zone_apex_cmp(const void *x, const void *y)
{
	const struct zone *a = *(struct zone *const *)x, *b = *(struct zone *const *)y;
	return dname_canon_cmp(a->apex, b->apex);
}

void zone_set_reverse(struct zone *main, struct zone **rev, size_t n)
{
	for (size_t i = 0; i < main->nrev; i++)
		zone_free(main->rev[i]);
	free(main->rev);
	if (n > 1)
		qsort(rev, n, sizeof(*rev), zone_apex_cmp);
	main->rev = n ? rev : NULL;
	main->nrev = n;
	if (!n)
		free(rev);
}

/* The reverse zone whose apex is exactly name (binary search), or NULL. */
static const struct zone *rev_exact(const struct zone *main, const uint8_t *name)
{
	size_t lo = 0, hi = main->nrev;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = dname_canon_cmp(main->rev[mid]->apex, name);
		if (c == 0)
			return main->rev[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "\4arpa\0": every reverse zone ends so. */
static int under_arpa(const uint8_t *name, size_t len)
{
	static const uint8_t arpa[6] = { 4, 'a', 'r', 'p', 'a', 0 };
	return len >= 6 && memcmp(name + len - 6, arpa, 6) == 0;
}

const struct zone *zone_find_reverse(const struct zone *main, const uint8_t *name, size_t len,
				     int *off)
{
	if (!under_arpa(name, len))
		return NULL;
	/* Longest match first: walk the suffixes from the whole name. */
	for (size_t p = 0; p < len - 1; p += name[p] + 1u) {
		const struct zone *r = rev_exact(main, name + p);
		if (r) {
			*off = (int)p;
			return r;
		}
	}
	return NULL;
}

const struct zone *zone_find_apex(const struct zone *main, const uint8_t *name, size_t len)
{
	if (len == main->apexlen && memcmp(name, main->apex, len) == 0)
		return main;
	return main->nrev ? rev_exact(main, name) : NULL;
}

const struct zone *zone_reverse_of(const struct zone *prev, const uint8_t *apex, size_t len)
{
	(void)len;
	return prev && prev->nrev ? rev_exact(prev, apex) : NULL;
}

int zone_set_changed(const struct zone *a, const struct zone *b)
{
	if (!a || !a->loaded || a->serial != b->serial || a->nrev != b->nrev)
		return 1;
	for (size_t i = 0; i < b->nrev; i++)
		if (a->rev[i]->serial != b->rev[i]->serial ||
		    dname_canon_cmp(a->rev[i]->apex, b->rev[i]->apex) != 0)
			return 1;
	return 0;
}

const struct zone_rrset *zone_node_rrset(const struct zone_node *n, uint16_t type)
{
	if (!n)
		return NULL;
	for (unsigned i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

static int rrset_same(const struct zone_rrset *a, const struct zone_rrset *b)
{
	if (a->type != b->type || a->count != b->count || a->ttl != b->ttl)
		return 0;
	for (unsigned i = 0; i < a->count; i++) {
		const struct zone_rr *x = &a->rrs[i], *y = &b->rrs[i];
		if (x->rdlen != y->rdlen)
			return 0;
		size_t cmp = x->rdlen;
		if (a->type == RR_SOA)
			cmp -= 20;	/* serial and timers compared below */
		if (memcmp(x->rdata, y->rdata, cmp) != 0)
			return 0;
		if (a->type == RR_SOA && memcmp(x->rdata + cmp + 4, y->rdata + cmp + 4, 16) != 0)
			return 0;
	}
	return 1;
}

int zone_same_content(const struct zone *a, const struct zone *b)
{
	if (a->nnodes != b->nnodes || a->nrecords != b->nrecords || a->neg_ttl != b->neg_ttl)
		return 0;
	for (size_t i = 0; i < a->nnodes; i++) {
		const struct zone_node *x = a->nodes[i], *y = b->nodes[i];
		if (x->namelen != y->namelen || memcmp(x->name, y->name, x->namelen) != 0 ||
		    x->nrrsets != y->nrrsets)
			return 0;
		for (unsigned j = 0; j < x->nrrsets; j++)
			if (!rrset_same(&x->rrsets[j], &y->rrsets[j]))
				return 0;
	}
	return 1;
}

size_t zone_memory(const struct zone *z)
{
	return sizeof(*z) + arena_used(z->arena);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

char *zone_rr_format(const struct zone *z, const struct zone_node *n, const struct zone_rrset *rs,
		     const struct zone_rr *rr, char *buf, size_t len)
{
	char owner[1024], a[1024], b[1024];
	const uint8_t *d = rr->rdata;

	(void)z;
	dname_to_text(n->name, owner, sizeof(owner));
	switch (rs->type) {
	case RR_A:
		inet_ntop(AF_INET, d, a, sizeof(a));
		snprintf(buf, len, "%s\t%u\tIN\tA\t%s", owner, rs->ttl, a);
		break;
	case RR_AAAA:
		inet_ntop(AF_INET6, d, a, sizeof(a));
		snprintf(buf, len, "%s\t%u\tIN\tAAAA\t%s", owner, rs->ttl, a);
		break;
	case RR_SRV:
		snprintf(buf, len, "%s\t%u\tIN\tSRV\t%u %u %u %s", owner, rs->ttl,
			 d[0] << 8 | d[1], d[2] << 8 | d[3], d[4] << 8 | d[5],
			 dname_to_text(d + 6, a, sizeof(a)));
		break;
	case RR_NS:
		snprintf(buf, len, "%s\t%u\tIN\tNS\t%s", owner, rs->ttl,
			 dname_to_text(d, a, sizeof(a)));
		break;
	case RR_PTR:
		snprintf(buf, len, "%s\t%u\tIN\tPTR\t%s", owner, rs->ttl,
			 dname_to_text(d, a, sizeof(a)));
		break;
	case RR_SOA: {
		size_t m = dname_len(d), r = dname_len(d + m);
		const uint8_t *f = d + m + r;
		snprintf(buf, len, "%s\t%u\tIN\tSOA\t%s %s %u %u %u %u %u", owner, rs->ttl,
			 dname_to_text(d, a, sizeof(a)), dname_to_text(d + m, b, sizeof(b)),
			 get32(f), get32(f + 4), get32(f + 8), get32(f + 12), get32(f + 16));
		break;
	}
	default:
		snprintf(buf, len, "%s\t%u\tIN\tTYPE%u\t\\# %u", owner, rs->ttl, rs->type, rr->rdlen);
	}
	return buf;
}
