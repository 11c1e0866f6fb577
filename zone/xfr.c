/* zone/xfr.c -- zone transfer replies (AXFR, RFC 5936; IXFR, RFC 1995), one message at a time. */
#include "zone/xfr.h"

#include <stdlib.h>
#include <string.h>

#include "zone/answer.h"
#include "zone/diff.h"
#include "zone/dname.h"
#include "zone/zone.h"

#define HDR_LEN 12
#define OPT_LEN 11
#define RCODE_NOTAUTH 9

/*
 * Per-message name compression: suffixes already written, hashed.  Entries
 * point at lower-case names in the zone or a diff, which outlive the
 * transfer's messages; a record that does not fit is rolled back by popping
 * its entries.  When the table is full, later names are written in full.
 */
#define CT_BUCKETS 256
#define CT_MAX 1024

struct ct_entry {
	const uint8_t *name;
	uint16_t off;
	uint8_t len;
	int16_t next;
};

struct ctab {
	int16_t head[CT_BUCKETS];
	unsigned n;
	struct ct_entry e[CT_MAX];
};

enum phase { PH_ERROR, PH_FIRST_SOA, PH_BODY, PH_LAST_SOA, PH_DONE };

struct xfr {
	struct zone *main;		/* our reference; NULL for error replies */
	const struct zone *z;		/* the zone sent: main or one of its reverse zones */
	struct xfr_info info;
	enum phase phase;
	uint16_t id;
	uint8_t rd, ra;
	int edns;
	uint16_t edns_max;		/* our size in the OPT (ednsUDPSize) */
	uint8_t question[DNAME_MAXLEN + 4];	/* as the client wrote it */
	size_t qlen;
	/* AXFR cursor */
	size_t node, rrset, rr;
	/* IXFR cursor */
	size_t hist, hoff;
	/* an error reply, sent as the only message */
	uint8_t err[640];
	size_t errlen;
	struct ctab ct;
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

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int xfr_is_request(const uint8_t *q, size_t qlen)
{
	size_t off = HDR_LEN;

	if (qlen < HDR_LEN + 5 || (q[2] & 0x80) || ((q[2] >> 3) & 0x0f) != 0 || get16(q + 4) != 1)
		return 0;
	while (off < qlen && q[off] != 0) {
		if (q[off] & 0xc0)
			return 0;
		off += q[off] + 1u;
	}
	if (off + 5 > qlen)
		return 0;
	uint16_t t = get16(q + off + 1);
	return t == RR_AXFR || t == RR_IXFR;
}

/* The serial of the SOA in an IXFR's authority section; -1 when there is none. */
static int ixfr_client_serial(const uint8_t *q, size_t qlen, size_t qend, uint32_t *serial)
{
	size_t off = qend;

	if (get16(q + 8) != 1 || dname_skip(q, qlen, &off, NULL) || qlen - off < 10)
		return -1;
	uint16_t type = get16(q + off);
	uint16_t rdlen = get16(q + off + 8);
	off += 10;
	if (type != RR_SOA || rdlen > qlen - off)
		return -1;
	size_t end = off + rdlen;
	if (dname_skip(q, end, &off, NULL) || dname_skip(q, end, &off, NULL) || end - off < 20)
		return -1;
	*serial = get32(q + off);
	return 0;
}

/* Our OPT: root owner, our size, version 0, no flags, no options. */
static void put_opt(const struct xfr *x, uint8_t *o)
{
	memset(o, 0, OPT_LEN);
	o[2] = RR_OPT;
	set16(o + 3, x->edns_max);
}

/* An error reply: header, the question as asked, an OPT when the query had one. */
static void error_reply(struct xfr *x, int rcode)
{
	uint8_t *o = x->err;
	size_t n = HDR_LEN;

	set16(o, x->id);
	o[2] = (uint8_t)(0x80 | x->rd);
	o[3] = (uint8_t)((x->ra ? 0x80 : 0) | (rcode & 0x0f));
	set16(o + 4, 1);
	set16(o + 6, 0);
	set16(o + 8, 0);
	set16(o + 10, x->edns ? 1 : 0);
	memcpy(o + n, x->question, x->qlen);
	n += x->qlen;
	if (x->edns) {
		put_opt(x, o + n);
		n += OPT_LEN;
	}
	x->errlen = n;
	x->phase = PH_ERROR;
	x->info.kind = XFR_ERROR;
	x->info.rcode = rcode;
}

struct xfr *xfr_new(const struct zone *main, const uint8_t *q, size_t qlen)
{
	struct xfr *x = calloc(1, sizeof(*x));
	struct answer_req req = { .tcp = 1, .rotate = 0 };
	struct answer_info ai;
	uint8_t qlc[DNAME_MAXLEN];

	if (!x)
		return NULL;
	x->phase = PH_DONE;
	/* answer_query checks the query as for any other question: a reply
	 * without info.transfer (FORMERR, BADVERS, REFUSED...) is the answer. */
	size_t r = answer_query(main, q, qlen, x->err, sizeof(x->err), &req, &ai);
	if (!r)
		return x;	/* runts, responses: no reply */
	x->info.qtype = ai.qtype;
	if (!ai.transfer) {
		x->errlen = r;
		x->phase = PH_ERROR;
		x->info.rcode = ai.rcode;
		return x;
	}
	x->id = get16(q);
	x->rd = q[2] & 0x01;
	x->ra = main->p.recurse_on ? 1 : 0;
	x->edns = ai.edns;
	x->edns_max = main->p.edns_max;
	/* answer_query accepted the question, so it is whole and uncompressed. */
	size_t off = HDR_LEN, o = 0;
	while (q[off]) {
		qlc[o++] = q[off];
		for (unsigned i = 1; i <= q[off]; i++) {
			uint8_t c = q[off + i];
			qlc[o++] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
		}
		off += q[off] + 1u;
	}
	qlc[o++] = 0;
	off += 5;
	x->qlen = off - HDR_LEN;
	memcpy(x->question, q + HDR_LEN, x->qlen);

	const struct zone *z = zone_find_apex(main, qlc, o);
	if (!main->loaded || (z && !z->soa)) {
		error_reply(x, RCODE_SERVFAIL);
		return x;
	}
	if (!z) {
		error_reply(x, RCODE_NOTAUTH);
		return x;
	}
	dname_to_text(z->apex, x->info.zone, sizeof(x->info.zone));
	x->info.serial = z->serial;
	if (ai.qtype == RR_IXFR) {
		uint32_t cs;
		size_t first;
		if (ixfr_client_serial(q, qlen, off, &cs) != 0) {
			error_reply(x, RCODE_FORMERR);
			return x;
		}
		x->info.client_serial = cs;
		if ((int32_t)(cs - z->serial) >= 0) {
			/* The same or a newer version (RFC 1982): our SOA alone
			 * (RFC 1995 §2), not the whole zone at an older serial. */
			x->info.kind = XFR_IXFR_UPTODATE;
		} else if (zone_history_from(z, cs, &first)) {
			x->info.kind = XFR_IXFR;
			x->hist = first;
			x->info.versions = z->nhist - first;
		} else {
			x->info.kind = XFR_IXFR_AXFR;
		}
	} else {
		x->info.kind = XFR_AXFR;
	}
	x->main = zone_ref(main);
	x->z = z;
	x->phase = PH_FIRST_SOA;
	return x;
}

/* ---- records in transfer order ------------------------------------------- */

static void soa_rr(const struct zone *z, struct diff_rr *rr)
{
	rr->owner = z->apex;
	rr->type = RR_SOA;
	rr->ttl = z->soa->ttl;
	rr->rdata = z->soa->rrs[0].rdata;
	rr->rdlen = z->soa->rrs[0].rdlen;
}

/* The record to send next, without moving on; 0 at the end. */
static int peek(struct xfr *x, struct diff_rr *rr)
{
	const struct zone *z = x->z;

	for (;;) {
		switch (x->phase) {
		case PH_FIRST_SOA:
		case PH_LAST_SOA:
			soa_rr(z, rr);
			return 1;
		case PH_BODY:
			if (x->info.kind == XFR_IXFR) {
				while (x->hist < z->nhist) {
					size_t off = x->hoff;
					if (zone_diff_next(z->hist[x->hist], &off, rr))
						return 1;
					x->hist++;
					x->hoff = 0;
				}
			} else {
				while (x->node < z->nnodes) {
					const struct zone_node *n = z->nodes[x->node];
					if (x->rrset >= n->nrrsets) {
						x->node++;
						x->rrset = x->rr = 0;
						continue;
					}
					const struct zone_rrset *rs = &n->rrsets[x->rrset];
					if (rs->type == RR_SOA || x->rr >= rs->count) {
						x->rrset++;
						x->rr = 0;
						continue;
					}
					rr->owner = n->name;
					rr->type = rs->type;
					rr->ttl = rs->ttl;
					rr->rdata = rs->rrs[x->rr].rdata;
					rr->rdlen = rs->rrs[x->rr].rdlen;
					return 1;
				}
			}
			x->phase = PH_LAST_SOA;
			continue;
		default:
			return 0;
		}
	}
}

/* Move past the record peek returned. */
static void advance(struct xfr *x)
{
	switch (x->phase) {
	case PH_FIRST_SOA:
		x->phase = x->info.kind == XFR_IXFR_UPTODATE ? PH_DONE : PH_BODY;
		break;
	case PH_LAST_SOA:
		x->phase = PH_DONE;
		break;
	case PH_BODY:
		if (x->info.kind == XFR_IXFR) {
			struct diff_rr rr;
			zone_diff_next(x->z->hist[x->hist], &x->hoff, &rr);
		} else {
			x->rr++;
		}
		break;
	default:
		break;
	}
}

/* ---- the message writer -------------------------------------------------- */

struct xw {
	uint8_t *p;
	size_t len, end;
	struct ctab *ct;
};

static uint32_t suffix_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ name[i]) * 16777619u;
	return h;
}

static int ct_find(const struct ctab *ct, const uint8_t *name, size_t len, uint32_t h)
{
	for (int i = ct->head[h & (CT_BUCKETS - 1)]; i >= 0; i = ct->e[i].next)
		if (ct->e[i].len == len && memcmp(ct->e[i].name, name, len) == 0)
			return ct->e[i].off;
	return -1;
}

static void ct_add(struct ctab *ct, const uint8_t *name, size_t len, uint32_t h, size_t off)
{
	if (ct->n == CT_MAX || off > 0x3fff)
		return;
	struct ct_entry *e = &ct->e[ct->n];
	unsigned b = h & (CT_BUCKETS - 1);
	e->name = name;
	e->len = (uint8_t)len;
	e->off = (uint16_t)off;
	e->next = ct->head[b];
	ct->head[b] = (int16_t)ct->n++;
}

static void ct_rollback(struct ctab *ct, unsigned n)
{
	while (ct->n > n) {
		struct ct_entry *e = &ct->e[--ct->n];
		uint32_t h = suffix_hash(e->name, e->len);
		ct->head[h & (CT_BUCKETS - 1)] = e->next;
	}
}

static int xw_bytes(struct xw *w, const void *b, size_t n)
{
	if (n > w->end - w->len)
		return -1;
	memcpy(w->p + w->len, b, n);
	w->len += n;
	return 0;
}

/* A lower-case wire name, compressed against earlier names when compress is set. */
static int xw_name(struct xw *w, const uint8_t *name, int compress)
{
	size_t len = dname_len(name), o = 0, pos = w->len;
	int ptr = -1;

	while (name[o]) {
		uint32_t h = suffix_hash(name + o, len - o);
		if (compress && (ptr = ct_find(w->ct, name + o, len - o, h)) >= 0)
			break;
		ct_add(w->ct, name + o, len - o, h, pos + o);
		o += name[o] + 1u;
	}
	if (ptr >= 0) {
		uint8_t p[2] = { (uint8_t)(0xc0 | ptr >> 8), (uint8_t)ptr };
		return xw_bytes(w, name, o) || xw_bytes(w, p, 2);
	}
	return xw_bytes(w, name, len);
}

/* One record, all or nothing. */
static int xw_rr(struct xw *w, const struct diff_rr *rr)
{
	size_t len0 = w->len;
	unsigned ct0 = w->ct->n;
	uint8_t f[10] = {
		(uint8_t)(rr->type >> 8), (uint8_t)rr->type, 0, CLASS_IN,
		(uint8_t)(rr->ttl >> 24), (uint8_t)(rr->ttl >> 16), (uint8_t)(rr->ttl >> 8),
		(uint8_t)rr->ttl, 0, 0,
	};
	const uint8_t *d = rr->rdata;
	int rc = xw_name(w, rr->owner, 1) || xw_bytes(w, f, sizeof(f));
	size_t rdstart = w->len;

	if (!rc) {
		switch (rr->type) {
		case RR_NS:
		case RR_PTR:
			rc = xw_name(w, d, 1);
			break;
		case RR_SOA: {
			size_t m = dname_len(d);
			rc = xw_name(w, d, 1) || xw_name(w, d + m, 1) ||
			     xw_bytes(w, d + rr->rdlen - 20, 20);
			break;
		}
		case RR_SRV:
			rc = xw_bytes(w, d, 6) || xw_name(w, d + 6, 0);	/* RFC 2782 */
			break;
		default:
			rc = xw_bytes(w, d, rr->rdlen);
		}
	}
	if (rc) {
		w->len = len0;
		ct_rollback(w->ct, ct0);
		return -1;
	}
	set16(w->p + rdstart - 2, (uint16_t)(w->len - rdstart));
	return 0;
}

size_t xfr_next(struct xfr *x, uint8_t *out, size_t cap)
{
	struct xw w = { out, HDR_LEN, cap, &x->ct };
	struct diff_rr rr;
	uint16_t an = 0;
	int first = x->info.messages == 0;

	if (x->phase == PH_ERROR) {
		x->phase = PH_DONE;
		if (x->errlen > cap)
			return 0;
		memcpy(out, x->err, x->errlen);
		x->info.messages++;
		return x->errlen;
	}
	if (x->phase == PH_DONE || cap < XFR_MSG_MIN)
		return 0;
	if (cap > 65535)
		cap = 65535;
	w.end = cap - (x->edns ? OPT_LEN : 0);
	memset(x->ct.head, 0xff, sizeof(x->ct.head));
	x->ct.n = 0;
	if (first)
		xw_bytes(&w, x->question, x->qlen);
	while (peek(x, &rr)) {
		if (xw_rr(&w, &rr) != 0)
			break;
		advance(x);
		an++;
	}
	if (an == 0) {
		x->phase = PH_DONE;	/* a record larger than cap */
		return 0;
	}
	w.end = cap;
	if (x->edns) {
		uint8_t opt[OPT_LEN];
		put_opt(x, opt);
		xw_bytes(&w, opt, OPT_LEN);
	}
	set16(out, x->id);
	out[2] = (uint8_t)(0x80 | 0x04 | x->rd);	/* QR, AA */
	out[3] = (uint8_t)(x->ra ? 0x80 : 0);
	set16(out + 4, first ? 1 : 0);
	set16(out + 6, an);
	set16(out + 8, 0);
	set16(out + 10, x->edns ? 1 : 0);
	x->info.records += an;
	x->info.messages++;
	return w.len;
}

const struct xfr_info *xfr_get_info(const struct xfr *x)
{
	return &x->info;
}

void xfr_free(struct xfr *x)
{
	if (!x)
		return;
	zone_free(x->main);
	free(x);
}
