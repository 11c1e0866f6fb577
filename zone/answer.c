/* zone/answer.c -- the pure query -> reply function (behaviour.md §3). */
#include "zone/answer.h"

#include <string.h>

#include "zone/acache.h"
#include "zone/dname.h"
#include "zone/zone.h"

#define HDR_LEN   12
#define OPT_LEN   11		/* root owner, type, class, TTL, rdlen 0 */
#define UDP_MIN   512
#define PTR_MAX   0x3fff	/* highest offset a compression pointer reaches */
#define LABELS_MAX 128		/* 255-byte name: at most 127 labels + root */

/*
 * Compression table: the names already in the reply, as (lower-case wire
 * suffix, offset) pairs, hashed by suffix.  Entries are appended and pushed
 * on the front of their chain, so dropping the newest ones (a record that
 * did not fit) is popping them off their chains in reverse order.  It lives
 * on the stack; when full, later names are simply written uncompressed.
 */
#define CT_BUCKETS 128		/* power of two */
#define CT_MAX     256

struct ct_entry {
	const uint8_t *name;	/* lower-case wire suffix, outlives the call */
	uint16_t off;		/* where it starts in the reply */
	uint8_t len;		/* wire length, root included */
	uint8_t bucket;
	int16_t next;		/* next entry in the chain, -1 ends */
};

struct ctab {
	int16_t head[CT_BUCKETS];
	unsigned n;
	struct ct_entry e[CT_MAX];
};

/* The reply being written: bounds-checked appends up to end. */
struct wr {
	uint8_t *p;
	size_t len;		/* bytes written so far */
	size_t end;		/* limit for records (room for an OPT kept aside) */
	struct ctab ct;
};

/* A point to roll back to when a record does not fit. */
struct wr_mark {
	size_t len;
	unsigned ctn;
};

/* What the query said, once parsed. */
struct query {
	uint16_t id;
	uint8_t opcode, rd, cd;
	uint16_t qdcount, ancount, nscount, arcount;
	uint8_t qlc[DNAME_MAXLEN + 8];	/* question name, lower-cased (+ room for
					   parse_question's last eight-byte store) */
	size_t qnlen;			/* its wire length */
	size_t qend;			/* offset just past the question */
	uint16_t qtype, qclass;
	int edns;
	uint16_t udp_size;
	uint8_t edns_version;
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

/* ---- compression table --------------------------------------------------- */

static void ct_init(struct ctab *ct)
{
	memset(ct->head, 0xff, sizeof(ct->head));	/* all -1 */
	ct->n = 0;
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
	if (ct->n == CT_MAX || off > PTR_MAX)
		return;
	struct ct_entry *e = &ct->e[ct->n];
	e->name = name;
	e->len = (uint8_t)len;
	e->off = (uint16_t)off;
	e->bucket = (uint8_t)(h & (CT_BUCKETS - 1));
	e->next = ct->head[e->bucket];
	ct->head[e->bucket] = (int16_t)ct->n++;
}

static void ct_rollback(struct ctab *ct, unsigned n)
{
	while (ct->n > n) {
		struct ct_entry *e = &ct->e[--ct->n];
		ct->head[e->bucket] = e->next;
	}
}

/*
 * Label offsets of a well-formed uncompressed wire name (starts[k] is the
 * root byte) and a hash of each suffix, built from the right so the whole
 * split costs one pass over the name.  Returns k, the label count.
 */
static unsigned name_split(const uint8_t *name, uint8_t *starts, uint32_t *hashes)
{
	unsigned k = 0;
	size_t o = 0;

	while (name[o]) {
		starts[k++] = (uint8_t)o;
		o += name[o] + 1u;
	}
	starts[k] = (uint8_t)o;
	/*
	 * Suffix hashes from the right, one multiply a label: a suffix's hash
	 * mixes its first eight bytes (length byte included) into the hash of
	 * the suffix after it, so it depends on the suffix alone; ct_find's
	 * memcmp settles equality.  Byte-wise FNV here was a fifth of all
	 * instructions per query (callgrind, the bench's query mix).
	 */
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	hashes[k] = (uint32_t)h;
	for (unsigned i = k; i-- > 0;) {
		size_t rest = o + 1 - starts[i];	/* bytes of this suffix */
		uint64_t v = 0;
		if (rest >= 8) {
			memcpy(&v, name + starts[i], 8);
		} else if (o + 1 >= 8) {
			/* The name's last eight bytes, less those before the suffix. */
			memcpy(&v, name + o + 1 - 8, 8);
			v >>= 8 * (8 - rest);
		} else {
			for (size_t j = 0; j < rest; j++)
				v |= (uint64_t)name[starts[i] + j] << (8 * j);
		}
		h = (h ^ v) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		hashes[i] = (uint32_t)h;
	}
	return k;
}

/* ---- writer -------------------------------------------------------------- */

static struct wr_mark wr_mark(const struct wr *w)
{
	struct wr_mark m = { w->len, w->ct.n };
	return m;
}

static void wr_reset(struct wr *w, struct wr_mark m)
{
	w->len = m.len;
	ct_rollback(&w->ct, m.ctn);
}

static int wr_bytes(struct wr *w, const void *b, size_t n)
{
	if (n > w->end - w->len)
		return -1;
	memcpy(w->p + w->len, b, n);
	w->len += n;
	return 0;
}

static int wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	return wr_bytes(w, b, 2);
}

/*
 * Write a lower-case wire name from the zone (or the lowered question copy):
 * compressed against the longest suffix already in the reply when compress
 * is set, else in full (SRV targets, RFC 2782).  Either way the suffixes
 * written out literally become targets for later names.
 */
static int put_name(struct wr *w, const uint8_t *name, int compress)
{
	uint8_t starts[LABELS_MAX];
	uint32_t hashes[LABELS_MAX];
	unsigned k = name_split(name, starts, hashes), i;
	size_t len = starts[k] + 1u;
	int ptr = -1;

	for (i = 0; i < k; i++) {
		ptr = ct_find(&w->ct, name + starts[i], len - starts[i], hashes[i]);
		if (ptr >= 0)
			break;
	}
	size_t pos = w->len;
	if (compress && ptr >= 0) {
		if (wr_bytes(w, name, starts[i]) || wr_u16(w, (uint16_t)(0xc000 | ptr)))
			return -1;
	} else if (wr_bytes(w, name, len)) {
		return -1;
	}
	for (unsigned j = 0; j < i; j++)
		ct_add(&w->ct, name + starts[j], len - starts[j], hashes[j], pos + starts[j]);
	return 0;
}

/*
 * Append one record.  The owner is either a pointer into the question
 * (owner_ptr >= 0: the query name or its apex suffix, so it carries the
 * client's case) or a zone name to compress.  All or nothing: on overflow
 * the reply is left as it was and -1 returned.
 */
static int put_rr(struct wr *w, int owner_ptr, const uint8_t *owner, uint16_t type, uint32_t ttl,
		  const struct zone_rr *rr)
{
	struct wr_mark m = wr_mark(w);
	const uint8_t *d = rr->rdata;
	int rc;

	/* Type, class, TTL and a placeholder rdlength in one append. */
	uint8_t fixed[10] = { (uint8_t)(type >> 8), (uint8_t)type, 0, CLASS_IN,
			      (uint8_t)(ttl >> 24), (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8),
			      (uint8_t)ttl, 0, 0 };
	rc = owner_ptr >= 0 ? wr_u16(w, (uint16_t)(0xc000 | owner_ptr)) : put_name(w, owner, 1);
	if (rc || wr_bytes(w, fixed, sizeof(fixed)))
		goto fail;
	size_t rdstart = w->len;
	switch (type) {
	case RR_NS:
		rc = put_name(w, d, 1);
		break;
	case RR_SOA:
		rc = put_name(w, d, 1) || put_name(w, d + dname_len(d), 1) ||
		     wr_bytes(w, d + rr->rdlen - 20, 20);
		break;
	case RR_SRV:
		rc = wr_bytes(w, d, 6) || put_name(w, d + 6, 0);
		break;
	default:
		rc = wr_bytes(w, d, rr->rdlen);
	}
	if (rc)
		goto fail;
	set16(w->p + rdstart - 2, (uint16_t)(w->len - rdstart));
	return 0;
fail:
	wr_reset(w, m);
	return -1;
}

/* ---- parsing the query --------------------------------------------------- */

/*
 * The question at offset 12.  A query's name is never compressed (there is
 * nothing before it to point at), so any pointer or extended label type is
 * malformed.  Fills qlc, qnlen, qtype, qclass, qend; -1 when malformed.
 */
static int parse_question(const uint8_t *q, size_t qlen, struct query *pq)
{
	size_t off = HDR_LEN, o;

	for (;;) {
		if (off >= qlen)
			return -1;
		uint8_t c = q[off];
		if (c & 0xc0)
			return -1;
		if (off - HDR_LEN + c + 1u > DNAME_MAXLEN || c + 1u > qlen - off)
			return -1;
		off += c + 1u;
		if (c == 0)
			break;
	}
	/* Lower-case the whole name eight bytes at a time (dname_lower8). */
	const uint8_t *name = q + HDR_LEN;
	size_t nl = off - HDR_LEN;
	o = dname_lower_words(pq->qlc, name, nl);
	if (o < nl) {
		/* The last 1-7 bytes: the name's last eight, read at once (the
		 * header is before the name, so they are in the query), shifted
		 * so these come first; written as eight, the rest zero bytes
		 * past the name's end (qlc has room for them). */
		unsigned skip = (unsigned)(8 - (nl - o));
		uint64_t w;
		memcpy(&w, name + nl - 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		w >>= 8 * skip;
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w <<= 8 * skip;
#else
#error "unknown byte order"
#endif
		w = dname_lower8(w);
		memcpy(pq->qlc + o, &w, 8);
	}
	o = off - HDR_LEN;
	pq->qnlen = o;
	if (qlen - off < 4)
		return -1;
	pq->qtype = get16(q + off);
	pq->qclass = get16(q + off + 2);
	pq->qend = off + 4;
	return 0;
}

/*
 * The additional section: every record must be whole; at most one OPT, with
 * the root as owner and well-formed options.  Anything after the last record
 * is ignored.  -1 when malformed.
 */
static int parse_additional(const uint8_t *q, size_t qlen, struct query *pq)
{
	size_t off = pq->qend;

	/* An IXFR's authority record (checked by the caller) comes first. */
	for (unsigned i = 0; i < (unsigned)pq->nscount + pq->arcount; i++) {
		int root;
		if (dname_skip(q, qlen, &off, &root) || qlen - off < 10)
			return -1;
		uint16_t type = get16(q + off);
		uint16_t rdlen = get16(q + off + 8);
		const uint8_t *rd = q + off + 10;
		off += 10;
		if (rdlen > qlen - off)
			return -1;
		off += rdlen;
		if (type != RR_OPT || i < pq->nscount)
			continue;
		if (pq->edns || !root)
			return -1;
		pq->edns = 1;
		pq->udp_size = get16(rd - 8);
		pq->edns_version = rd[-5];
		for (size_t o = 0; o < rdlen;) {
			if (rdlen - o < 4 || get16(rd + o + 2) > rdlen - o - 4)
				return -1;
			o += 4u + get16(rd + o + 2);
		}
	}
	return 0;
}

/* ---- answering ----------------------------------------------------------- */

/* Header of a reply to pq.  QR set, opcode, RD and CD copied. */
static void put_header(uint8_t *o, const struct query *pq, int aa, int tc, int ra, int rcode,
		       uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	set16(o, pq->id);
	o[2] = (uint8_t)(0x80 | pq->opcode << 3 | (aa ? 0x04 : 0) | (tc ? 0x02 : 0) | pq->rd);
	o[3] = (uint8_t)((ra ? 0x80 : 0) | (pq->cd ? 0x10 : 0) | (rcode & 0x0f));
	set16(o + 4, qd);
	set16(o + 6, an);
	set16(o + 8, ns);
	set16(o + 10, ar);
}

/* Section counts and truncation state of an answer in progress. */
struct sections {
	uint16_t an, ns, ar;
	int dropped;		/* answer or authority records did not fit */
	int trimmed;		/* additional records did not fit */
};

#define SEEN_MAX 256		/* distinct additional-section targets per reply */

/*
 * Additional section: the A and AAAA of each in-zone SRV target or NS host
 * of the answered RRsets, once per target.  All or nothing: if it does not
 * fit whole, none of it is sent.
 */
static void add_additional(struct wr *w, const struct zone_node *n, uint16_t qtype,
			   uint32_t rot, struct sections *s)
{
	const struct zone_node *seen[SEEN_MAX];
	unsigned nseen = 0;
	struct wr_mark m = wr_mark(w);
	uint16_t ar = 0;

	for (unsigned i = 0; i < n->nrrsets; i++) {
		const struct zone_rrset *rs = &n->rrsets[i];
		if ((qtype != RR_ANY && rs->type != qtype) ||
		    (rs->type != RR_SRV && rs->type != RR_NS))
			continue;
		for (unsigned j = 0; j < rs->count; j++) {
			const struct zone_node *t = rs->rrs[(rot + j) % rs->count].target;
			if (!t || (t == n && qtype == RR_ANY))
				continue;	/* outside the zone, or already in the answer */
			unsigned k = 0;
			while (k < nseen && seen[k] != t)
				k++;
			if (k < nseen)
				continue;
			if (nseen == SEEN_MAX)
				goto out;	/* optional data; enough is enough */
			seen[nseen++] = t;
			static const uint16_t addr_types[2] = { RR_A, RR_AAAA };
			for (unsigned a = 0; a < 2; a++) {
				const struct zone_rrset *ars = zone_node_rrset(t, addr_types[a]);
				for (unsigned r = 0; ars && r < ars->count; r++) {
					if (put_rr(w, -1, t->name, ars->type, ars->ttl,
						   &ars->rrs[(rot + r) % ars->count])) {
						wr_reset(w, m);
						s->trimmed = 1;
						return;
					}
					ar++;
				}
			}
		}
	}
out:
	s->ar = ar;
}

/* Apex SOA in the authority section for a negative answer (RFC 2308). */
static void add_negative_soa(struct wr *w, const struct zone *z, int apex_ptr, struct sections *s)
{
	if (put_rr(w, apex_ptr, NULL, RR_SOA, z->neg_ttl, &z->soa->rrs[0]))
		s->dropped = 1;
	else
		s->ns = 1;
}

/*
 * Answer a name inside a loaded zone.  Owners are pointers into the question
 * (offset 12 for the name, apex_ptr for the apex).  Returns the rcode.
 */
static int answer_zone(struct wr *w, const struct zone *z, const struct query *pq, int apex_ptr,
		       uint32_t rot, struct sections *s)
{
	const struct zone_node *n = zone_lookup(z, pq->qlc, pq->qnlen);

	if (!n) {
		add_negative_soa(w, z, apex_ptr, s);
		return RCODE_NXDOMAIN;
	}
	for (unsigned i = 0; i < n->nrrsets && !s->dropped; i++) {
		const struct zone_rrset *rs = &n->rrsets[i];
		if (pq->qtype != RR_ANY && rs->type != pq->qtype)
			continue;
		for (unsigned j = 0; j < rs->count; j++) {
			if (put_rr(w, HDR_LEN, NULL, rs->type, rs->ttl, &rs->rrs[(rot + j) % rs->count])) {
				s->dropped = 1;
				break;
			}
			s->an++;
		}
	}
	if (s->an == 0 && !s->dropped) {
		/* NODATA, empty non-terminals included (RFC 8020). */
		add_negative_soa(w, z, apex_ptr, s);
		return RCODE_NOERROR;
	}
	if (!s->dropped)
		add_additional(w, n, pq->qtype, rot, s);
	return RCODE_NOERROR;
}

/* FORMERR: just the header, ID, opcode and RD copied (behaviour.md §3). */
static size_t formerr(uint8_t *out, struct query *pq, int ra, struct answer_info *info)
{
	pq->cd = 0;
	put_header(out, pq, 0, 0, ra, RCODE_FORMERR, 0, 0, 0, 0);
	info->rcode = RCODE_FORMERR;
	return HDR_LEN;
}

/*
 * The reply to a parsed query pq (q, its bytes) within lim bytes of out:
 * the part of answer_query after the checks that need no zone.  *dropped,
 * when given, says whether answer or authority records did not fit.
 */
static size_t respond(const struct zone *z, const uint8_t *q, struct query *pq, uint8_t *out,
		      size_t lim, int tcp, uint32_t rot, struct answer_info *info, int *dropped)
{
	struct wr w;
	struct sections s = { 0, 0, 0, 0, 0 };
	int rcode, aa = 0, ra = z->p.recurse_on ? 1 : 0;
	uint16_t qd = 1;
	size_t reserve = pq->edns ? OPT_LEN : 0;

	w.p = out;
	w.len = HDR_LEN;
	w.end = lim > reserve + HDR_LEN ? lim - reserve : HDR_LEN;
	ct_init(&w.ct);
	if (wr_bytes(&w, q + HDR_LEN, pq->qend - HDR_LEN)) {
		/* Only with an outcap below the documented minimum. */
		qd = 0;
		s.dropped = 1;
	} else {
		/* The question's suffixes are compression targets for zone names;
		 * they point at the client's bytes but compare lower-case. */
		uint8_t starts[LABELS_MAX];
		uint32_t hashes[LABELS_MAX];
		unsigned k = name_split(pq->qlc, starts, hashes);
		for (unsigned j = 0; j < k; j++)
			ct_add(&w.ct, pq->qlc + starts[j], pq->qnlen - starts[j], hashes[j],
			       HDR_LEN + starts[j]);
	}

	int apex_off = 0;
	const struct zone *az;
	if (pq->edns && pq->edns_version > 0) {
		rcode = RCODE_BADVERS;
	} else if (pq->qclass != CLASS_IN && pq->qclass != CLASS_ANY) {
		rcode = RCODE_REFUSED;
	} else if (pq->qtype == RR_AXFR || pq->qtype == RR_IXFR) {
		/* Over UDP they never exist (RFC 5936 §4.2); over TCP the caller
		 * streams them (zone/xfr.h) to the clients it allows. */
		rcode = tcp ? RCODE_REFUSED : RCODE_NOTIMP;
		if (tcp)
			info->transfer = pq->qtype;
	} else if (!(az = zone_find(z, pq->qlc, pq->qnlen, &apex_off))) {
		rcode = RCODE_REFUSED;
		info->outside = 1;
	} else if (!z->loaded || !az->soa) {
		rcode = RCODE_SERVFAIL;
	} else {
		aa = 1;
		if (qd)
			rcode = answer_zone(&w, az, pq, HDR_LEN + apex_off, rot, &s);
		else
			rcode = RCODE_NOERROR;
	}

	if (pq->edns) {
		/* Our OPT: our size is the cap, version 0, DO clear (we do not
		 * sign), extended rcode bits in the TTL's top byte. */
		w.end = lim;
		uint8_t opt[OPT_LEN] = { 0, 0, RR_OPT, 0, 0, 0, 0, 0, 0, 0, 0 };
		set16(opt + 3, z->p.edns_max);
		opt[5] = (uint8_t)(rcode >> 4);
		if (wr_bytes(&w, opt, OPT_LEN) == 0)
			s.ar++;
	}

	/*
	 * TC only when answer or authority records are missing: dropping
	 * additional data alone does not set it (RFC 2181 §9), so SRV clients
	 * are not sent to TCP for glue they can look up themselves.
	 */
	int tc = s.dropped && z->p.set_tc;
	put_header(out, pq, aa, tc, ra, rcode, qd, s.an, s.ns, s.ar);
	if (dropped)
		*dropped = s.dropped;
	info->rcode = rcode;
	info->truncated = s.dropped || s.trimmed;
	info->authoritative = aa;
	return w.len;
}

/*
 * answer_query through the cache (zone/acache.h): a question asked the
 * first time is rendered as without a cache; asked again, its reply is
 * rendered with rotation 0 into the cache's scratch buffer and added; then
 * the entry writes the reply, rotated by rot.  Replies the cache holds are the
 * authoritative NOERROR and NXDOMAIN ones whose answer records can be
 * rotated as blocks (acache.c: one type, A, AAAA or SRV, when more than
 * one); a reply cut to its size limit (TC) is kept whole and cut when
 * served.  Every other question (REFUSED, BADVERS, NOTIMP, SERVFAIL, ANY
 * over several types...) gets a "render it" entry and respond() each time.
 */
static size_t answer_cached(struct acache *c, const struct zone *z, const uint8_t *q,
			    struct query *pq, uint8_t *out, size_t lim, uint32_t rot,
			    struct answer_info *info)
{
	/* Everything respond() reads of the query besides its ID, RD and CD
	 * bits and its spelling, which acache_serve copies from q. */
	struct acache_key k = { pq->qlc, (uint8_t)pq->qnlen, pq->qtype, pq->qclass,
				(uint16_t)lim,
				(uint8_t)(!pq->edns ? 0 : pq->edns_version == 0 ? 1 : 2) };
	uint32_t h;
	const struct acache_entry *e = acache_get(c, z->id, &k, &h);
	int fresh = e == NULL;

	if (!e && !acache_admit(c, h))
		return respond(z, q, pq, out, lim, 0, rot, info, NULL);
	if (!e) {
		struct answer_info ci = { 0 };
		int dropped = 0;
		uint8_t *buf = acache_scratch(c);
		struct acache_reply rp = { buf, 0, pq->qend, 0, 0, 0, NULL };
		uint8_t hdr[2];
		rp.n = respond(z, q, pq, buf, lim, 0, 0, &ci, &dropped);
		rp.cacheable = rp.n > 0 && ci.authoritative &&
			       (ci.rcode == RCODE_NOERROR || ci.rcode == RCODE_NXDOMAIN);
		rp.rcode = ci.rcode;
		rp.truncated = ci.truncated;
		if (rp.cacheable && dropped) {
			/* Answers cut to fit: keep them all, served cut (TC). */
			memcpy(hdr, buf + 2, 2);
			rp.fill_hdr = hdr;
			rp.n = respond(z, q, pq, buf, ANSWER_MAX, 0, 0, &ci, &dropped);
			rp.cacheable = ci.rcode == RCODE_NOERROR && !dropped;
		}
		e = acache_put(c, &k, h, &rp);
	}
	if (e) {
		int rcode, truncated;
		size_t n = acache_serve(c, e, fresh, q, pq->qend, out, rot, &rcode, &truncated);
		if (n) {
			info->rcode = rcode;
			info->truncated = truncated;
			info->authoritative = 1;
			return n;
		}
	}
	return respond(z, q, pq, out, lim, 0, rot, info, NULL);
}

size_t answer_query(const struct zone *z, const uint8_t *q, size_t qlen,
		    uint8_t *out, size_t outcap, const struct answer_req *req,
		    struct answer_info *info)
{
	struct answer_info scratch;
	struct query pq;
	int tcp = req ? req->tcp : 0;
	uint32_t rot = req ? req->rotate : 0;
	int ra = z->p.recurse_on ? 1 : 0;

	if (!info)
		info = &scratch;
	memset(info, 0, sizeof(*info));
	info->rcode = -1;
	if (qlen < HDR_LEN || outcap < HDR_LEN || (q[2] & 0x80))
		return 0;	/* runts and responses: never answer */

	pq.id = get16(q);
	pq.opcode = (q[2] >> 3) & 0x0f;
	pq.rd = q[2] & 0x01;
	pq.cd = (q[3] >> 4) & 0x01;
	pq.qdcount = get16(q + 4);
	pq.ancount = get16(q + 6);
	pq.nscount = get16(q + 8);
	pq.arcount = get16(q + 10);
	pq.edns = 0;
	pq.udp_size = 0;
	pq.edns_version = 0;

	size_t lim = tcp ? ANSWER_MAX : UDP_MIN;
	if (lim > outcap)
		lim = outcap;

	if (pq.opcode != 0) {
		/* NOTIFY, UPDATE...: other sections mean other things; echo the
		 * question when there is one we can read, nothing else. */
		uint16_t qd = 0;
		if (pq.qdcount == 1 && parse_question(q, qlen, &pq) == 0 &&
		    pq.qend <= lim) {
			memcpy(out + HDR_LEN, q + HDR_LEN, pq.qend - HDR_LEN);
			info->qtype = pq.qtype;
			qd = 1;
		}
		put_header(out, &pq, 0, 0, ra, RCODE_NOTIMP, qd, 0, 0, 0);
		info->rcode = RCODE_NOTIMP;
		return qd ? pq.qend : HDR_LEN;
	}
	if (pq.qdcount != 1 || pq.ancount != 0 || parse_question(q, qlen, &pq) ||
	    (pq.nscount != 0 && (pq.nscount != 1 || pq.qtype != RR_IXFR)) ||
	    parse_additional(q, qlen, &pq))
		return formerr(out, &pq, ra, info);
	info->qtype = pq.qtype;
	info->edns = pq.edns;

	if (pq.edns && !tcp) {
		size_t want = pq.udp_size;
		if (want > z->p.edns_max)
			want = z->p.edns_max;
		if (want < UDP_MIN)
			want = UDP_MIN;		/* RFC 6891 §6.2.5 */
		lim = want < outcap ? want : outcap;
	}

	/* (The question and an OPT always fit in a cached reply's limit.) */
	if (req && req->cache && !tcp && pq.qend + OPT_LEN <= lim && !acache_bypass(req->cache))
		return answer_cached(req->cache, z, q, &pq, out, lim, rot, info);
	return respond(z, q, &pq, out, lim, tcp, rot, info, NULL);
}
