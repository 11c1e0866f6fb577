/* zone/diff.c -- differences between versions of a zone, kept for IXFR (RFC 1995). */
#include "zone/diff.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "zone/dname.h"
#include "zone/zone.h"

/* A growing buffer of records in the diff format. */
struct dbuf {
	uint8_t *p;
	size_t len, cap;
	size_t n;		/* records */
	int oom;
};

static void dbuf_put(struct dbuf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void dbuf_rr(struct dbuf *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		    const uint8_t *rdata, uint16_t rdlen)
{
	uint8_t f[8] = {
		(uint8_t)(type >> 8), (uint8_t)type,
		(uint8_t)(ttl >> 24), (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl,
		(uint8_t)(rdlen >> 8), (uint8_t)rdlen,
	};
	dbuf_put(b, owner, dname_len(owner));
	dbuf_put(b, f, sizeof(f));
	dbuf_put(b, rdata, rdlen);
	b->n++;
}

/* The order zone.c sorts an RRset's records in. */
static int rdata_cmp(const struct zone_rr *a, const struct zone_rr *b)
{
	int c = memcmp(a->rdata, b->rdata, a->rdlen < b->rdlen ? a->rdlen : b->rdlen);
	return c ? c : (int)a->rdlen - (int)b->rdlen;
}

static void put_rrset(struct dbuf *b, const struct zone_node *n, const struct zone_rrset *rs)
{
	for (unsigned i = 0; i < rs->count; i++)
		dbuf_rr(b, n->name, rs->type, rs->ttl, rs->rrs[i].rdata, rs->rrs[i].rdlen);
}

/* Every record of a node but the SOA (which the diff carries apart). */
static void put_node(struct dbuf *b, const struct zone_node *n)
{
	for (unsigned i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type != RR_SOA)
			put_rrset(b, n, &n->rrsets[i]);
}

/* Two RRsets of the same owner and type: the records only one of them has. */
static void diff_rrset(struct dbuf *rem, struct dbuf *add, const struct zone_node *xn,
		       const struct zone_rrset *x, const struct zone_node *yn,
		       const struct zone_rrset *y)
{
	if (x->ttl != y->ttl) {
		put_rrset(rem, xn, x);
		put_rrset(add, yn, y);
		return;
	}
	unsigned i = 0, j = 0;
	while (i < x->count || j < y->count) {
		int c = i == x->count ? 1 : j == y->count ? -1 : rdata_cmp(&x->rrs[i], &y->rrs[j]);
		if (c < 0) {
			dbuf_rr(rem, xn->name, x->type, x->ttl, x->rrs[i].rdata, x->rrs[i].rdlen);
			i++;
		} else if (c > 0) {
			dbuf_rr(add, yn->name, y->type, y->ttl, y->rrs[j].rdata, y->rrs[j].rdlen);
			j++;
		} else {
			i++;
			j++;
		}
	}
}

/* Two nodes of the same name: RRsets are sorted by type. */
static void diff_node(struct dbuf *rem, struct dbuf *add, const struct zone_node *x,
		      const struct zone_node *y)
{
	unsigned i = 0, j = 0;
	while (i < x->nrrsets || j < y->nrrsets) {
		const struct zone_rrset *a = i < x->nrrsets ? &x->rrsets[i] : NULL;
		const struct zone_rrset *b = j < y->nrrsets ? &y->rrsets[j] : NULL;
		int c = !a ? 1 : !b ? -1 : a->type == b->type ? 0 : a->type < b->type ? -1 : 1;
		if (c < 0) {
			if (a->type != RR_SOA)
				put_rrset(rem, x, a);
			i++;
		} else if (c > 0) {
			if (b->type != RR_SOA)
				put_rrset(add, y, b);
			j++;
		} else {
			if (a->type != RR_SOA)
				diff_rrset(rem, add, x, a, y, b);
			i++;
			j++;
		}
	}
}

struct zone_diff *zone_diff_new(const struct zone *from, const struct zone *to)
{
	struct dbuf rem = { 0 }, add = { 0 };
	struct zone_diff *d;

	if (!from->loaded || !to->loaded || !from->soa || !to->soa ||
	    from->apexlen != to->apexlen || memcmp(from->apex, to->apex, to->apexlen) != 0)
		return NULL;
	/* The SOAs open each half (RFC 1995 §4). */
	dbuf_rr(&rem, from->apex, RR_SOA, from->soa->ttl, from->soa->rrs[0].rdata,
		from->soa->rrs[0].rdlen);
	dbuf_rr(&add, to->apex, RR_SOA, to->soa->ttl, to->soa->rrs[0].rdata, to->soa->rrs[0].rdlen);
	size_t i = 0, j = 0;
	while (i < from->nnodes || j < to->nnodes) {
		const struct zone_node *x = i < from->nnodes ? from->nodes[i] : NULL;
		const struct zone_node *y = j < to->nnodes ? to->nodes[j] : NULL;
		int c = !x ? 1 : !y ? -1 : dname_canon_cmp(x->name, y->name);
		if (c < 0) {
			put_node(&rem, x);
			i++;
		} else if (c > 0) {
			put_node(&add, y);
			j++;
		} else {
			diff_node(&rem, &add, x, y);
			i++;
			j++;
		}
	}
	dbuf_put(&rem, add.p, add.len);
	d = calloc(1, sizeof(*d));
	if (rem.oom || add.oom || !d) {
		free(rem.p);
		free(add.p);
		free(d);
		return NULL;
	}
	free(add.p);
	atomic_init(&d->refs, 1);
	d->from = from->serial;
	d->to = to->serial;
	d->buf = rem.p;
	d->len = rem.len;
	d->nremoved = rem.n - 1;
	d->nadded = add.n - 1;
	return d;
}

struct zone_diff *zone_diff_ref(struct zone_diff *d)
{
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	return d;
}

void zone_diff_unref(struct zone_diff *d)
{
	if (!d || atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(d->buf);
	free(d);
}

int zone_diff_next(const struct zone_diff *d, size_t *off, struct diff_rr *rr)
{
	size_t o = *off;

	if (o >= d->len)
		return 0;
	rr->owner = d->buf + o;
	o += dname_len(rr->owner);
	const uint8_t *f = d->buf + o;
	rr->type = (uint16_t)(f[0] << 8 | f[1]);
	rr->ttl = (uint32_t)f[2] << 24 | (uint32_t)f[3] << 16 | (uint32_t)f[4] << 8 | f[5];
	rr->rdlen = (uint16_t)(f[6] << 8 | f[7]);
	rr->rdata = f + 8;
	*off = o + 8 + rr->rdlen;
	return 1;
}

/* Records an IXFR of this diff carries (both SOAs included). */
static size_t diff_size(const struct zone_diff *d)
{
	return d->nremoved + d->nadded + 2;
}

int zone_history_extend(struct zone *z, const struct zone *prev)
{
	for (size_t i = 0; i < z->nhist; i++)
		zone_diff_unref(z->hist[i]);
	z->nhist = 0;
	if (prev->serial == z->serial) {
		for (size_t i = 0; i < prev->nhist; i++)
			z->hist[z->nhist++] = zone_diff_ref(prev->hist[i]);
		return 0;
	}
	struct zone_diff *d = zone_diff_new(prev, z);
	if (!d)
		return MDNS_ENOMEM;
	size_t budget = z->nrecords > 64 ? z->nrecords : 64;
	size_t total = diff_size(d);
	if (total > budget) {
		zone_diff_unref(d);
		return 0;
	}
	size_t start = prev->nhist;
	while (start > 0 && prev->nhist - start + 1 < ZONE_HISTORY_MAX &&
	       total + diff_size(prev->hist[start - 1]) <= budget) {
		total += diff_size(prev->hist[start - 1]);
		start--;
	}
	for (size_t i = start; i < prev->nhist; i++)
		z->hist[z->nhist++] = zone_diff_ref(prev->hist[i]);
	z->hist[z->nhist++] = d;
	return 0;
}

int zone_history_from(const struct zone *z, uint32_t from, size_t *first)
{
	for (size_t i = 0; i < z->nhist; i++)
		if (z->hist[i]->from == from) {
			*first = i;
			return 1;
		}
	return 0;
}
