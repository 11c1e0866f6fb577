/* tests/unit/test_xfr.c -- zone transfers: the IXFR history (zone/diff) and the messages (zone/xfr), read back with ldns. */
#include "zone/xfr.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/tap.h"
#include "zone/answer.h"
#include "zone/diff.h"
#include "zone/dname.h"
#include "zone/ipaddr.h"
#include "zone/zone.h"

static struct zone_params params(uint32_t ttl)
{
	struct zone_params p = {
		.domain = "mesos", .ttl = ttl, .soa_minttl = 60,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
		.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	return p;
}

static void add_a(struct zone_builder *b, const char *owner, const char *ip)
{
	struct ipaddr a;

	if (ipaddr_parse(ip, &a) != 0 || zone_builder_add_addr(b, owner, &a) != 0) {
		printf("# cannot add %s %s\n", owner, ip);
		exit(1);
	}
}

/* n tasks app<i>.marathon.mesos with 10.<k>.<i/256>.<i%256>, and SRVs for them
 * (ports 31000 + i, moved by 5000 per k after the first). */
static struct zone *make(uint32_t ttl, int n, int k, const struct zone *prev, uint32_t serial)
{
	struct zone_params p = params(ttl);
	struct zone_builder *b = zone_builder_new(&p);
	char name[64], ipb[32];

	add_a(b, "ns1.mesos", "10.0.0.53");
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "app%d.marathon.mesos", i);
		snprintf(ipb, sizeof(ipb), "10.%d.%d.%d", k, i / 256, i % 256);
		add_a(b, name, ipb);
		if (zone_builder_add_srv(b, "_app._tcp.marathon.mesos", 0, 1,
					 (uint16_t)(31000 + i + (k - 1) * 5000), name) != 0)
			exit(1);
	}
	return zone_builder_finish(b, prev, serial);
}

/* ---- the history ---------------------------------------------------------- */

static void test_diff(void)
{
	struct zone *z1 = make(60, 10, 1, NULL, 1000);
	struct zone_params p = params(60);
	struct zone_builder *b = zone_builder_new(&p);
	char name[64], ipb[32];

	/* z2: app0 moves, app9 goes away (with its SRV), app10 comes. */
	add_a(b, "ns1.mesos", "10.0.0.53");
	for (int i = 0; i <= 10; i++) {
		if (i == 9)
			continue;
		snprintf(name, sizeof(name), "app%d.marathon.mesos", i);
		snprintf(ipb, sizeof(ipb), "10.1.0.%d", i == 0 ? 200 : i);
		add_a(b, name, ipb);
		zone_builder_add_srv(b, "_app._tcp.marathon.mesos", 0, 1, (uint16_t)(31000 + i), name);
	}
	struct zone *z2 = zone_builder_finish(b, z1, 2000);

	ok(z1 && z1->nhist == 0, "a first zone has no history");
	ok(z2 && z2->serial == 2000 && z2->nhist == 1, "the next zone has one version of history");
	const struct zone_diff *d = z2->hist[0];
	ok(d->from == 1000 && d->to == 2000, "the diff leads from serial 1000 to 2000");
	is_int(d->nremoved, 3, "removed: app0's old address, app9's A and SRV");
	is_int(d->nadded, 3, "added: app0's new address, app10's A and SRV");
	size_t off = 0, n = 0, soas = 0;
	struct diff_rr rr;
	char buf[256], seen[2048] = "";
	while (zone_diff_next(d, &off, &rr)) {
		n++;
		if (rr.type == RR_SOA) {
			soas++;
			uint32_t s = (uint32_t)rr.rdata[rr.rdlen - 20] << 24 |
				     (uint32_t)rr.rdata[rr.rdlen - 19] << 16 |
				     (uint32_t)rr.rdata[rr.rdlen - 18] << 8 | rr.rdata[rr.rdlen - 17];
			snprintf(buf, sizeof(buf), "SOA%u ", s);
		} else {
			snprintf(buf, sizeof(buf), "%s/%u ", dname_to_text(rr.owner, name, sizeof(name)),
				 rr.type);
		}
		strncat(seen, buf, sizeof(seen) - strlen(seen) - 1);
	}
	is_int(soas, 2, "two SOAs: the old one opens the removals, the new one the additions");
	is_int(n, d->nremoved + d->nadded + 2, "every record is read back");
	is_str(seen,
	       "SOA1000 _app._tcp.marathon.mesos./33 app0.marathon.mesos./1 app9.marathon.mesos./1 "
	       "SOA2000 _app._tcp.marathon.mesos./33 app0.marathon.mesos./1 app10.marathon.mesos./1 ",
	       "records in canonical order within each half (RFC 4034: _tcp sorts before app0)");

	/* Unchanged content: same serial, the history travels along. */
	struct zone *z2b = make(60, 10, 1, z1, 3000);
	ok(z2b->serial == 1000 && z2b->nhist == 0, "same content as z1: serial kept, no diff");
	zone_free(z2b);

	/* A TTL change removes and adds every record again. */
	struct zone *z3 = make(120, 10, 1, z1, 4000);
	ok(z3->nhist == 1 && z3->hist[0]->nremoved == z1->nrecords - 1 &&
	   z3->hist[0]->nadded == z3->nrecords - 1, "a new TTL: every record removed and added");

	/* A change larger than the zone is not kept: AXFR is smaller. */
	struct zone *big1 = make(60, 100, 1, NULL, 1000);
	struct zone *big2 = make(60, 100, 2, big1, 2000);
	ok(big2->nhist == 0, "a change bigger than the zone clears the history");
	zone_free(big1);
	zone_free(big2);
	zone_free(z1);
	zone_free(z2);
	zone_free(z3);
}

/* A long run of small changes: at most ZONE_HISTORY_MAX versions, an unbroken chain. */
static void test_history_window(void)
{
	struct zone *prev = make(60, 50, 1, NULL, 1000);
	int chain_ok = 1;

	for (int v = 1; v <= 25; v++) {
		struct zone_params p = params(60);
		struct zone_builder *b = zone_builder_new(&p);
		char name[64], ipb[32];
		add_a(b, "ns1.mesos", "10.0.0.53");
		for (int i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "app%d.marathon.mesos", i);
			snprintf(ipb, sizeof(ipb), "10.1.%d.%d", i == 0 ? v : 0, i);
			add_a(b, name, ipb);
			zone_builder_add_srv(b, "_app._tcp.marathon.mesos", 0, 1, (uint16_t)(31000 + i),
					     name);
		}
		struct zone *z = zone_builder_finish(b, prev, (uint32_t)(1000 + v));
		for (size_t i = 0; i + 1 < z->nhist; i++)
			if (z->hist[i]->to != z->hist[i + 1]->from)
				chain_ok = 0;
		if (z->nhist == 0 || z->hist[z->nhist - 1]->to != z->serial)
			chain_ok = 0;
		zone_free(prev);
		prev = z;
	}
	is_int(prev->nhist, ZONE_HISTORY_MAX, "the history keeps the last %d versions", ZONE_HISTORY_MAX);
	ok(chain_ok, "each version's diff starts where the one before ended, the last at the serial");
	size_t first;
	ok(zone_history_from(prev, 1025 - ZONE_HISTORY_MAX, &first) && first == 0,
	   "the oldest serial kept is found");
	ok(!zone_history_from(prev, 1024 - ZONE_HISTORY_MAX, &first), "an older one is not");
	zone_free(prev);
}

/* ---- transfers ------------------------------------------------------------ */

static uint8_t qbuf[4096];
static size_t qn;

/* A transfer query; ixfr_serial >= 0 adds the client's SOA (IXFR). */
static void mkq(const char *name, ldns_rr_type type, long long ixfr_serial, int edns)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, 0);
	uint8_t *w = NULL;

	ldns_pkt_set_id(p, 0x4321);
	if (ixfr_serial >= 0) {
		char txt[200];
		ldns_rr *soa = NULL;
		snprintf(txt, sizeof(txt), "%s 0 IN SOA ns1.mesos. root.ns1.mesos. %lld 0 0 0 0", name,
			 ixfr_serial);
		ldns_rr_new_frm_str(&soa, txt, 0, NULL, NULL);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
	}
	if (edns) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_UNKNOWN, ""));
	}
	if (ldns_pkt2wire(&w, p, &qn) != LDNS_STATUS_OK || qn > sizeof(qbuf))
		exit(1);
	memcpy(qbuf, w, qn);
	free(w);
	ldns_pkt_free(p);
}

/* Everything one transfer wrote, parsed. */
struct run {
	size_t msgs, rrs, maxlen;
	int bad;			/* a message ldns could not parse, or a wrong header */
	int qd_first_only;		/* question in the first message only */
	int opt_each;			/* an OPT in every message */
	int rcode;
	ldns_rr_list *all;		/* every answer record, in order */
};

static void run_xfr(const struct zone *z, size_t cap, struct run *r)
{
	static uint8_t out[65535];
	struct xfr *x = xfr_new(z, qbuf, qn);
	size_t n;

	memset(r, 0, sizeof(*r));
	r->qd_first_only = r->opt_each = 1;
	r->all = ldns_rr_list_new();
	while (x && (n = xfr_next(x, out, cap)) > 0) {
		ldns_pkt *p = NULL;
		if (n > r->maxlen)
			r->maxlen = n;
		if (ldns_wire2pkt(&p, out, n) != LDNS_STATUS_OK) {
			r->bad++;
			break;
		}
		if (ldns_pkt_id(p) != 0x4321 || !ldns_pkt_qr(p))
			r->bad++;
		r->rcode = ldns_pkt_get_rcode(p);
		if (r->rcode == 0 && !ldns_pkt_aa(p))
			r->bad++;
		if ((ldns_pkt_qdcount(p) == 1) != (r->msgs == 0))
			r->qd_first_only = 0;
		if (!ldns_pkt_edns(p))
			r->opt_each = 0;
		for (size_t i = 0; i < ldns_pkt_ancount(p); i++)
			ldns_rr_list_push_rr(r->all, ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_answer(p), i)));
		r->rrs += ldns_pkt_ancount(p);
		r->msgs++;
		ldns_pkt_free(p);
	}
	xfr_free(x);
}

static uint32_t soa_serial(const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA ? ldns_rdf2native_int32(ldns_rr_rdf(rr, 2))
							 : 0;
}

static void test_axfr_split(void)
{
	struct zone *z = make(60, 3000, 1, NULL, 5000);
	struct run r;

	mkq("mesos", LDNS_RR_TYPE_AXFR, -1, 0);
	ok(xfr_is_request(qbuf, qn), "AXFR is a transfer request");
	run_xfr(z, 16384, &r);
	ok(r.bad == 0, "every message parses with ldns, ID echoed, QR and AA set");
	ok(r.msgs > 1 && r.maxlen <= 16384, "a large zone goes in several messages of at most 16 KiB (%zu)",
	   r.msgs);
	is_int(r.rrs, z->nrecords + 1, "every record once, and the SOA twice");
	size_t nrr = ldns_rr_list_rr_count(r.all);
	ok(nrr && soa_serial(ldns_rr_list_rr(r.all, 0)) == 5000 &&
	   soa_serial(ldns_rr_list_rr(r.all, nrr - 1)) == 5000, "SOA first and last");
	size_t soas = 0, srv_ok = 0;
	for (size_t i = 0; i < nrr; i++) {
		ldns_rr *rr = ldns_rr_list_rr(r.all, i);
		soas += ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SRV) {
			char *t = ldns_rdf2str(ldns_rr_rdf(rr, 3));
			srv_ok += strncmp(t, "app", 3) == 0 && strstr(t, ".marathon.mesos.") != NULL;
			free(t);
		}
	}
	is_int(soas, 2, "no other SOA in between");
	is_int(srv_ok, 3000, "names decompress correctly (every SRV target reads back)");
	ok(r.qd_first_only, "the question is in the first message only");
	ldns_rr_list_deep_free(r.all);

	run_xfr(z, 1024, &r);
	ok(r.bad == 0 && r.maxlen <= 1024 && r.rrs == z->nrecords + 1,
	   "with 1 KiB messages: %zu messages, all within the size, same records", r.msgs);
	ldns_rr_list_deep_free(r.all);

	mkq("mesos", LDNS_RR_TYPE_AXFR, -1, 1);
	run_xfr(z, 16384, &r);
	ok(r.bad == 0 && r.opt_each && r.rrs == z->nrecords + 1, "with EDNS: an OPT in every message");
	ldns_rr_list_deep_free(r.all);
	zone_free(z);
}

static void test_ixfr(void)
{
	struct zone *z1 = make(60, 20, 1, NULL, 1000);
	struct zone_params p = params(60);
	struct zone_builder *b = zone_builder_new(&p);
	add_a(b, "ns1.mesos", "10.0.0.53");
	for (int i = 0; i < 20; i++) {
		char name[64], ipb[32];
		snprintf(name, sizeof(name), "app%d.marathon.mesos", i);
		snprintf(ipb, sizeof(ipb), "10.1.0.%d", i == 3 ? 99 : i);
		add_a(b, name, ipb);
		zone_builder_add_srv(b, "_app._tcp.marathon.mesos", 0, 1, (uint16_t)(31000 + i), name);
	}
	struct zone *z2 = zone_builder_finish(b, z1, 2000);
	struct zone *z3 = make(60, 21, 1, z2, 3000);	/* app3 back, app20 added */
	struct run r;

	mkq("mesos", LDNS_RR_TYPE_IXFR, 1000, 0);
	ok(xfr_is_request(qbuf, qn), "IXFR is a transfer request");
	run_xfr(z3, 16384, &r);
	size_t n = ldns_rr_list_rr_count(r.all);
	char seq[512] = "";
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(r.all, i);
		char item[64];
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			snprintf(item, sizeof(item), "S%u ", soa_serial(rr));
		else
			snprintf(item, sizeof(item), "%d ", ldns_rr_get_type(rr));
		strncat(seq, item, sizeof(seq) - strlen(seq) - 1);
	}
	is_str(seq, "S3000 S1000 1 S2000 1 S2000 1 S3000 33 1 1 S3000 ",
	       "IXFR from 1000: two versions, each (old SOA, removed, new SOA, added)");
	ok(r.bad == 0 && r.msgs == 1, "one message");
	ldns_rr_list_deep_free(r.all);

	struct xfr *x = xfr_new(z3, qbuf, qn);
	ok(x && xfr_get_info(x)->kind == XFR_IXFR && xfr_get_info(x)->versions == 2 &&
	   xfr_get_info(x)->client_serial == 1000 && xfr_get_info(x)->serial == 3000,
	   "info: IXFR, 2 versions, 1000 -> 3000");
	xfr_free(x);

	mkq("mesos", LDNS_RR_TYPE_IXFR, 2000, 0);
	run_xfr(z3, 16384, &r);
	ok(r.rrs == 8, "IXFR from the previous serial: one version (%zu records)", r.rrs);
	ldns_rr_list_deep_free(r.all);

	mkq("mesos", LDNS_RR_TYPE_IXFR, 3000, 0);
	run_xfr(z3, 16384, &r);
	ok(r.bad == 0 && r.msgs == 1 && r.rrs == 1 &&
	   soa_serial(ldns_rr_list_rr(r.all, 0)) == 3000, "IXFR from the current serial: the SOA alone");
	ldns_rr_list_deep_free(r.all);

	mkq("mesos", LDNS_RR_TYPE_IXFR, 3500, 0);
	run_xfr(z3, 16384, &r);
	ok(r.bad == 0 && r.msgs == 1 && r.rrs == 1 &&
	   soa_serial(ldns_rr_list_rr(r.all, 0)) == 3000,
	   "IXFR from a newer serial: our SOA alone (RFC 1995 2), not the zone");
	ldns_rr_list_deep_free(r.all);
	mkq("mesos", LDNS_RR_TYPE_IXFR, 3000 + 0x80000000LL, 0);
	run_xfr(z3, 16384, &r);
	ok(r.bad == 0 && r.rrs == z3->nrecords + 1,
	   "IXFR from a serial 2^31 away (older, RFC 1982): the whole zone");
	ldns_rr_list_deep_free(r.all);

	mkq("mesos", LDNS_RR_TYPE_IXFR, 42, 0);
	run_xfr(z3, 16384, &r);
	ok(r.bad == 0 && r.rrs == z3->nrecords + 1 &&
	   ldns_rr_get_type(ldns_rr_list_rr(r.all, 1)) != LDNS_RR_TYPE_SOA,
	   "IXFR from a serial the history lacks: the whole zone, AXFR style");
	ldns_rr_list_deep_free(r.all);
	zone_free(z1);
	zone_free(z2);
	zone_free(z3);
}

static void test_errors(void)
{
	struct zone *z = make(60, 5, 1, NULL, 1000);
	struct zone_params p = params(60);
	struct zone *unl = zone_new_unloaded(&p);
	struct run r;

	mkq("app1.marathon.mesos", LDNS_RR_TYPE_AXFR, -1, 0);
	run_xfr(z, 16384, &r);
	ok(r.msgs == 1 && r.rcode == 9 && r.rrs == 0, "AXFR of a name that is not an apex: NOTAUTH");
	ldns_rr_list_deep_free(r.all);
	mkq("example.com", LDNS_RR_TYPE_AXFR, -1, 0);
	run_xfr(z, 16384, &r);
	ok(r.msgs == 1 && r.rcode == 9, "AXFR of a zone elsewhere: NOTAUTH");
	ldns_rr_list_deep_free(r.all);
	mkq("mesos", LDNS_RR_TYPE_AXFR, -1, 0);
	run_xfr(unl, 16384, &r);
	ok(r.msgs == 1 && r.rcode == LDNS_RCODE_SERVFAIL, "before the first load: SERVFAIL");
	ldns_rr_list_deep_free(r.all);
	mkq("mesos", LDNS_RR_TYPE_IXFR, -1, 0);
	run_xfr(z, 16384, &r);
	ok(r.msgs == 1 && r.rcode == LDNS_RCODE_FORMERR, "IXFR without the client's SOA: FORMERR");
	ldns_rr_list_deep_free(r.all);
	mkq("mesos", LDNS_RR_TYPE_AXFR, -1, 0);
	qbuf[qn - 1] = 3;	/* class CH */
	run_xfr(z, 16384, &r);
	ok(r.msgs == 1 && r.rcode == LDNS_RCODE_REFUSED, "class CH: REFUSED, as answer_query says");
	ldns_rr_list_deep_free(r.all);

	mkq("mesos", LDNS_RR_TYPE_A, -1, 0);
	ok(!xfr_is_request(qbuf, qn), "an A query is not a transfer request");
	mkq("mesos", LDNS_RR_TYPE_AXFR, -1, 0);
	qbuf[2] |= 0x80;
	ok(!xfr_is_request(qbuf, qn), "a response is not");
	qbuf[2] = 4 << 3;
	ok(!xfr_is_request(qbuf, qn), "a NOTIFY is not");
	ok(!xfr_is_request(qbuf, 11), "a runt is not");
	zone_free(z);
	zone_free(unl);
}

/* A transfer keeps its zone alive after the publisher dropped it. */
static void test_reference(void)
{
	struct zone *z = make(60, 2000, 1, NULL, 1000);
	static uint8_t out[16384];
	size_t total = 0, n;

	mkq("mesos", LDNS_RR_TYPE_AXFR, -1, 0);
	struct xfr *x = xfr_new(z, qbuf, qn);
	is_int(atomic_load(&z->refs), 2, "the transfer holds a reference");
	ok((n = xfr_next(x, out, sizeof(out))) > 0, "first message");
	zone_free(z);	/* the zone is replaced and released by the publisher */
	while ((n = xfr_next(x, out, sizeof(out))) > 0)
		total += n;
	ok(total > 0 && xfr_get_info(x)->records == 2000 * 2 + 3 + 1,
	   "the transfer finishes from the released zone (%zu records)", xfr_get_info(x)->records);
	xfr_free(x);	/* frees the zone (AddressSanitizer checks the order) */
}

int main(void)
{
	test_diff();
	test_history_window();
	test_axfr_split();
	test_ixfr();
	test_errors();
	test_reference();
	return done_testing();
}
