/* tests/unit/test_answer.c -- the query -> reply function (behaviour.md §3), checked with ldns. */
#include "zone/answer.h"

#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/tap.h"
#include "zone/acache.h"
#include "zone/ipaddr.h"
#include "zone/zone.h"

#define SERIAL 1700000000u
#define QID    0xbeef

static struct zone *zmain, *znotc, *zunloaded, *znora;

static uint8_t qbuf[4096];
static size_t qn;
static uint8_t rbuf[ANSWER_MAX];
static size_t rn;
static struct answer_info inf;
static ldns_pkt *rp;		/* last reply, parsed; freed by the next ask */
static char sbuf[1024];

/* ---- the zone ------------------------------------------------------------ */

static void add_a(struct zone_builder *b, const char *owner, const char *ip)
{
	struct ipaddr a;

	if (ipaddr_parse(ip, &a) != 0 || zone_builder_add_addr(b, owner, &a) != 0) {
		printf("# cannot add %s %s\n", owner, ip);
		exit(1);
	}
}

static void add_srv(struct zone_builder *b, const char *owner, uint16_t port, const char *target)
{
	if (zone_builder_add_srv(b, owner, 0, 1, port, target) != 0) {
		printf("# cannot add SRV %s\n", owner);
		exit(1);
	}
}

static struct zone *make_zone(int set_tc, int recurse_on)
{
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 30,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
		.recurse_on = recurse_on, .set_tc = set_tc, .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	char name[64], ip[32];

	if (!b)
		return NULL;
	add_a(b, "ns1.mesos", "10.0.0.53");
	add_a(b, "nginx.marathon.mesos", "10.0.0.1");
	add_a(b, "nginx.marathon.mesos", "10.0.0.2");
	add_a(b, "nginx.marathon.mesos", "10.0.0.3");
	add_a(b, "nginx.marathon.mesos", "fd00::1");
	add_srv(b, "_nginx._tcp.marathon.mesos", 31000, "nginx-abcde-s1.marathon.mesos");
	add_srv(b, "_nginx._tcp.marathon.mesos", 31001, "nginx-abcde-s1.marathon.mesos");
	add_srv(b, "_nginx._tcp.marathon.mesos", 31002, "nginx-fghij-s2.marathon.mesos");
	add_a(b, "nginx-abcde-s1.marathon.mesos", "10.0.1.1");
	add_a(b, "nginx-fghij-s2.marathon.mesos", "10.0.1.2");
	add_a(b, "nginx-fghij-s2.marathon.mesos", "fd00::2");
	add_srv(b, "_ext._tcp.marathon.mesos", 80, "www.example.com");
	add_a(b, "nginx.marathon.slave.mesos", "10.0.2.1");	/* marathon.slave.mesos: ENT */
	add_a(b, "app.a.b.deep.mesos", "10.0.3.1");		/* a.b.deep.mesos, b.deep.mesos, deep.mesos: ENTs */
	for (int i = 1; i <= 100; i++) {			/* too big for 512 and 1232 */
		snprintf(ip, sizeof(ip), "10.1.0.%d", i);
		add_a(b, "big.mesos", ip);
	}
	for (int i = 1; i <= 8; i++) {				/* answer fits 512, glue does not */
		snprintf(name, sizeof(name), "t%d.mesos", i);
		add_srv(b, "_many._tcp.mesos", (uint16_t)(8000 + i), name);
		for (int j = 1; j <= 3; j++) {
			snprintf(ip, sizeof(ip), "10.2.%d.%d", i, j);
			add_a(b, name, ip);
		}
	}
	for (int i = 1; i <= 300; i++) {			/* more targets than one reply tracks */
		snprintf(name, sizeof(name), "h%d.mesos", i);
		add_srv(b, "_huge._tcp.mesos", 9000, name);
		snprintf(ip, sizeof(ip), "10.3.%d.%d", i / 256, i % 256);
		add_a(b, name, ip);
	}
	return zone_builder_finish(b, NULL, SERIAL);
}

/* ---- queries and replies ------------------------------------------------- */

/* Build a query with ldns into qbuf: edns < 0 means no OPT. */
static void mkq(const char *name, uint16_t type, uint16_t cls, int edns, uint8_t version, int do_bit)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, cls, LDNS_RD);
	uint8_t *w = NULL;

	ldns_pkt_set_id(p, QID);
	if (edns >= 0) {
		ldns_pkt_set_edns_udp_size(p, (uint16_t)edns);
		ldns_pkt_set_edns_version(p, version);
		ldns_pkt_set_edns_do(p, do_bit);
	}
	if (ldns_pkt2wire(&w, p, &qn) != LDNS_STATUS_OK || qn > sizeof(qbuf)) {
		printf("# cannot build query %s\n", name);
		exit(1);
	}
	memcpy(qbuf, w, qn);
	free(w);
	ldns_pkt_free(p);
}

/* Answer qbuf from z into rbuf and parse the reply into rp (NULL when none or unparseable). */
static struct acache *qcache;	/* the reply cache ask_cap goes through, or NULL */

static ldns_pkt *ask_cap(const struct zone *z, int tcp, uint32_t rotate, size_t outcap)
{
	struct answer_req req = { tcp, rotate, qcache };

	ldns_pkt_free(rp);
	rp = NULL;
	memset(rbuf, 0xaa, sizeof(rbuf));
	rn = answer_query(z, qbuf, qn, rbuf, outcap, &req, &inf);
	if (rn && ldns_wire2pkt(&rp, rbuf, rn) != LDNS_STATUS_OK)
		rp = NULL;
	return rp;
}

static ldns_pkt *ask(const struct zone *z, int tcp, uint32_t rotate)
{
	return ask_cap(z, tcp, rotate, ANSWER_MAX);
}

static ldns_pkt *query(const struct zone *z, const char *name, uint16_t type, int tcp, int edns)
{
	mkq(name, type, LDNS_RR_CLASS_IN, edns, 0, 0);
	return ask(z, tcp, 0);
}

static const char *rdf_str(const ldns_rdf *r)
{
	char *s = r ? ldns_rdf2str(r) : NULL;

	snprintf(sbuf, sizeof(sbuf), "%s", s ? s : "(null)");
	free(s);
	return sbuf;
}

/* Owner of record i of a section. */
static const char *owner(ldns_rr_list *l, size_t i)
{
	ldns_rr *rr = ldns_rr_list_rr(l, i);
	return rdf_str(rr ? ldns_rr_owner(rr) : NULL);
}

/* Data field f of record i of a section. */
static const char *rdata(ldns_rr_list *l, size_t i, size_t f)
{
	ldns_rr *rr = ldns_rr_list_rr(l, i);
	return rdf_str(rr ? ldns_rr_rdf(rr, f) : NULL);
}

static int rtype(ldns_rr_list *l, size_t i)
{
	ldns_rr *rr = ldns_rr_list_rr(l, i);
	return rr ? (int)ldns_rr_get_type(rr) : -1;
}

static long rttl(ldns_rr_list *l, size_t i)
{
	ldns_rr *rr = ldns_rr_list_rr(l, i);
	return rr ? (long)ldns_rr_ttl(rr) : -1;
}

/* Is the record with this data string somewhere in the section? */
static int has_rdata(ldns_rr_list *l, int type, const char *data)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		if (rtype(l, i) == type && strcmp(rdata(l, i, 0), data) == 0)
			return 1;
	return 0;
}

/* The wire size the reply would have without any compression. */
static size_t uncompressed_size(ldns_pkt *p)
{
	size_t n = 12;
	ldns_rr_list *q = ldns_pkt_question(p);

	for (size_t i = 0; i < ldns_rr_list_rr_count(q); i++)
		n += ldns_rdf_size(ldns_rr_owner(ldns_rr_list_rr(q, i))) + 4;
	ldns_rr_list *secs[3] = { ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p) };
	for (int s = 0; s < 3; s++)
		for (size_t i = 0; i < ldns_rr_list_rr_count(secs[s]); i++)
			n += ldns_rr_uncompressed_size(ldns_rr_list_rr(secs[s], i));
	return n + (ldns_pkt_edns(p) ? 11 : 0);
}

static void set_hdr(uint8_t *b, uint16_t id, uint8_t f1, uint8_t f2, uint16_t qd, uint16_t an,
		    uint16_t ns, uint16_t ar)
{
	b[0] = (uint8_t)(id >> 8); b[1] = (uint8_t)id; b[2] = f1; b[3] = f2;
	b[4] = (uint8_t)(qd >> 8); b[5] = (uint8_t)qd;
	b[6] = (uint8_t)(an >> 8); b[7] = (uint8_t)an;
	b[8] = (uint8_t)(ns >> 8); b[9] = (uint8_t)ns;
	b[10] = (uint8_t)(ar >> 8); b[11] = (uint8_t)ar;
}

/* Load hand-made bytes as the query. */
static void rawq(const void *b, size_t n)
{
	memcpy(qbuf, b, n);
	qn = n;
}

/* ---- positive answers ---------------------------------------------------- */

static void test_a(void)
{
	ldns_pkt *p = query(zmain, "nginx.marathon.mesos", LDNS_RR_TYPE_A, 0, -1);

	ok(p != NULL, "A: reply parses");
	if (!p)
		return;
	is_int(ldns_pkt_id(p), QID, "A: id copied");
	ok(ldns_pkt_qr(p), "A: QR");
	ok(ldns_pkt_aa(p), "A: AA in the zone");
	ok(ldns_pkt_ra(p), "A: RA = recurse_on");
	ok(ldns_pkt_rd(p), "A: RD copied");
	ok(!ldns_pkt_tc(p), "A: no TC");
	ok(!ldns_pkt_cd(p), "A: CD clear (not asked)");
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR, "A: NOERROR");
	is_int(ldns_pkt_qdcount(p), 1, "A: one question");
	is_int(ldns_pkt_ancount(p), 3, "A: three answers");
	is_int(ldns_pkt_nscount(p), 0, "A: no authority");
	is_int(ldns_pkt_arcount(p), 0, "A: no additional");
	ok(!ldns_pkt_edns(p), "A: no OPT without EDNS in the query");
	ldns_rr_list *an = ldns_pkt_answer(p);
	ok(has_rdata(an, LDNS_RR_TYPE_A, "10.0.0.1") && has_rdata(an, LDNS_RR_TYPE_A, "10.0.0.2") &&
	   has_rdata(an, LDNS_RR_TYPE_A, "10.0.0.3"), "A: all three addresses");
	is_str(owner(an, 0), "nginx.marathon.mesos.", "A: owner");
	is_int(rttl(an, 0), 60, "A: TTL");
	is_int(ldns_rr_get_class(ldns_rr_list_rr(an, 0)), LDNS_RR_CLASS_IN, "A: class IN");
	is_int(inf.rcode, 0, "A: info rcode");
	is_int(inf.qtype, LDNS_RR_TYPE_A, "A: info qtype");
	ok(inf.authoritative && !inf.outside && !inf.edns && !inf.truncated, "A: info flags");
	/* Owners point at the question: 12 + question (26) + 3 x (2+10+4). */
	is_int(rn, 12 + 26 + 3 * 16, "A: owners compressed to 2 bytes");

	p = query(zmain, "nginx.marathon.mesos", LDNS_RR_TYPE_AAAA, 0, -1);
	ok(p && ldns_pkt_ancount(p) == 1 && has_rdata(ldns_pkt_answer(p), LDNS_RR_TYPE_AAAA, "fd00::1"),
	   "AAAA: answered");

	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, -1, 0, 0);
	p = ask(zmain, 0, 0);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(p) == 3,
	   "class ANY query answered like IN");

	/* RD clear and CD set are copied. */
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	qbuf[2] &= (uint8_t)~0x01;
	qbuf[3] |= 0x10;
	p = ask(zmain, 0, 0);
	ok(p && !ldns_pkt_rd(p) && ldns_pkt_cd(p), "RD clear and CD set copied");

	p = query(znora, "nginx.marathon.mesos", LDNS_RR_TYPE_A, 0, -1);
	ok(p && !ldns_pkt_ra(p) && ldns_pkt_aa(p), "recurse_on=0: RA clear");
}

static void test_case_echo(void)
{
	const char *mixed = "NgInX.MaRaThOn.MeSoS";
	ldns_pkt *p = query(zmain, mixed, LDNS_RR_TYPE_A, 0, -1);

	ok(p != NULL, "0x20: reply parses");
	if (!p)
		return;
	is_str(owner(ldns_pkt_question(p), 0), "NgInX.MaRaThOn.MeSoS.", "0x20: question echoed as asked");
	ok(memcmp(rbuf + 12, qbuf + 12, qn - 12) == 0, "0x20: question bytes identical");
	is_int(ldns_pkt_ancount(p), 3, "0x20: answered case-insensitively");
	is_str(owner(ldns_pkt_answer(p), 0), "NgInX.MaRaThOn.MeSoS.", "0x20: answer owner as asked");

	p = query(zmain, "NoPe.MaRaThOn.MeSoS", LDNS_RR_TYPE_A, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN, "0x20: NXDOMAIN");
	if (p)
		is_str(owner(ldns_pkt_authority(p), 0), "MeSoS.", "0x20: SOA owner is the question's apex");
}

static void test_rotation(void)
{
	char first[3][64];
	int differ = 0, same_set = 1;

	for (uint32_t r = 0; r < 3; r++) {
		mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
		ldns_pkt *p = ask(zmain, 0, r);
		if (!p) {
			ok(0, "rotation: reply %u parses", r);
			return;
		}
		ldns_rr_list *an = ldns_pkt_answer(p);
		snprintf(first[r], sizeof(first[r]), "%s", rdata(an, 0, 0));
		same_set &= ldns_pkt_ancount(p) == 3 && has_rdata(an, LDNS_RR_TYPE_A, "10.0.0.1") &&
			    has_rdata(an, LDNS_RR_TYPE_A, "10.0.0.2") &&
			    has_rdata(an, LDNS_RR_TYPE_A, "10.0.0.3");
	}
	differ = strcmp(first[0], first[1]) && strcmp(first[1], first[2]) && strcmp(first[0], first[2]);
	ok(differ, "rotation: rotate 0, 1, 2 give different first records (%s, %s, %s)",
	   first[0], first[1], first[2]);
	ok(same_set, "rotation: every rotation carries the whole RRset");
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	ldns_pkt *p = ask(zmain, 0, 3);
	ok(p && strcmp(rdata(ldns_pkt_answer(p), 0, 0), first[0]) == 0, "rotation: rotate 3 = rotate 0 (mod 3)");
	p = ask(zmain, 0, UINT32_MAX);
	ok(p && ldns_pkt_ancount(p) == 3, "rotation: huge rotate value");
}

static void test_srv(void)
{
	ldns_pkt *p = query(zmain, "_nginx._tcp.marathon.mesos", LDNS_RR_TYPE_SRV, 0, -1);

	ok(p != NULL, "SRV: reply parses");
	if (!p)
		return;
	is_int(ldns_pkt_get_rcode(p), 0, "SRV: NOERROR");
	is_int(ldns_pkt_ancount(p), 3, "SRV: three records");
	ldns_rr_list *an = ldns_pkt_answer(p), *ad = ldns_pkt_additional(p);
	int ports = 0;
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(rdata(an, i, 2), "31000") == 0 || strcmp(rdata(an, i, 2), "31001") == 0 ||
		    strcmp(rdata(an, i, 2), "31002") == 0)
			ports++;
	}
	is_int(ports, 3, "SRV: all ports");
	/* Target once per distinct node: s1 A, s2 A + AAAA. */
	is_int(ldns_pkt_arcount(p), 3, "SRV: additional A/AAAA of each target, once");
	ok(has_rdata(ad, LDNS_RR_TYPE_A, "10.0.1.1") && has_rdata(ad, LDNS_RR_TYPE_A, "10.0.1.2") &&
	   has_rdata(ad, LDNS_RR_TYPE_AAAA, "fd00::2"), "SRV: target addresses in additional");
	int owners_ok = 1;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ad); i++) {
		const char *o = owner(ad, i);
		owners_ok &= strcmp(o, "nginx-abcde-s1.marathon.mesos.") == 0 ||
			     strcmp(o, "nginx-fghij-s2.marathon.mesos.") == 0;
	}
	ok(owners_ok, "SRV: additional owners are the targets");
	/* RFC 2782: the target is not compressed. */
	static const uint8_t t1[] = "\x0enginx-abcde-s1\x08marathon\x05mesos";
	ok(memmem(rbuf, rn, t1, sizeof(t1)) != NULL, "SRV: target written uncompressed");
	ok(rn < uncompressed_size(p), "SRV: reply compressed (%zu < %zu)", rn, uncompressed_size(p));

	p = query(zmain, "_ext._tcp.marathon.mesos", LDNS_RR_TYPE_SRV, 0, -1);
	ok(p && ldns_pkt_ancount(p) == 1 && ldns_pkt_arcount(p) == 0,
	   "SRV with a target outside the zone: no additional");
	if (p)
		is_str(rdata(ldns_pkt_answer(p), 0, 3), "www.example.com.", "SRV: outside target");
}

static void test_apex(void)
{
	ldns_pkt *p = query(zmain, "mesos", LDNS_RR_TYPE_SOA, 0, -1);

	ok(p && ldns_pkt_ancount(p) == 1 && ldns_pkt_nscount(p) == 0, "apex SOA: in the answer section");
	if (p) {
		ldns_rr_list *an = ldns_pkt_answer(p);
		is_int(rtype(an, 0), LDNS_RR_TYPE_SOA, "apex SOA: type");
		is_str(owner(an, 0), "mesos.", "apex SOA: owner");
		is_str(rdata(an, 0, 0), "ns1.mesos.", "apex SOA: mname");
		is_str(rdata(an, 0, 1), "root.ns1.mesos.", "apex SOA: rname");
		is_str(rdata(an, 0, 2), "1700000000", "apex SOA: serial");
		is_str(rdata(an, 0, 6), "30", "apex SOA: minimum");
		is_int(rttl(an, 0), 60, "apex SOA: TTL is the record TTL");
		ok(rn < uncompressed_size(p), "apex SOA: rdata names compressed");
	}

	p = query(zmain, "mesos", LDNS_RR_TYPE_NS, 0, -1);
	ok(p && ldns_pkt_ancount(p) == 1 && ldns_pkt_nscount(p) == 0, "apex NS: in the answer section");
	if (p) {
		is_str(rdata(ldns_pkt_answer(p), 0, 0), "ns1.mesos.", "apex NS: name server");
		is_int(ldns_pkt_arcount(p), 1, "apex NS: one additional");
		is_str(owner(ldns_pkt_additional(p), 0), "ns1.mesos.", "apex NS: additional owner");
		ok(has_rdata(ldns_pkt_additional(p), LDNS_RR_TYPE_A, "10.0.0.53"), "apex NS: its address");
	}

	p = query(zmain, "mesos", LDNS_RR_TYPE_ANY, 0, -1);
	ok(p && ldns_pkt_ancount(p) == 2 && ldns_pkt_arcount(p) == 1, "apex ANY: SOA, NS + glue");
	if (p)
		ok(rtype(ldns_pkt_answer(p), 0) == LDNS_RR_TYPE_NS &&
		   rtype(ldns_pkt_answer(p), 1) == LDNS_RR_TYPE_SOA, "apex ANY: both types");
}

static void test_any(void)
{
	ldns_pkt *p = query(zmain, "nginx.marathon.mesos", LDNS_RR_TYPE_ANY, 0, -1);

	ok(p && ldns_pkt_ancount(p) == 4, "ANY: all records at the name");
	if (p)
		ok(has_rdata(ldns_pkt_answer(p), LDNS_RR_TYPE_AAAA, "fd00::1") &&
		   has_rdata(ldns_pkt_answer(p), LDNS_RR_TYPE_A, "10.0.0.3"), "ANY: A and AAAA");
	p = query(zmain, "_nginx._tcp.marathon.mesos", LDNS_RR_TYPE_ANY, 0, -1);
	ok(p && ldns_pkt_ancount(p) == 3 && ldns_pkt_arcount(p) == 3, "ANY on SRV name: SRV + additional");
}

/* ---- negative answers ---------------------------------------------------- */

static void check_negative(const char *name, uint16_t type, int rcode, const char *what)
{
	ldns_pkt *p = query(zmain, name, type, 0, -1);

	ok(p != NULL, "%s: parses", what);
	if (!p)
		return;
	is_int(ldns_pkt_get_rcode(p), rcode, "%s: rcode", what);
	ok(ldns_pkt_aa(p), "%s: AA", what);
	is_int(ldns_pkt_ancount(p), 0, "%s: empty answer", what);
	is_int(ldns_pkt_nscount(p), 1, "%s: one authority record", what);
	ldns_rr_list *ns = ldns_pkt_authority(p);
	ok(rtype(ns, 0) == LDNS_RR_TYPE_SOA, "%s: SOA in authority", what);
	is_str(owner(ns, 0), "mesos.", "%s: apex owner", what);
	is_int(rttl(ns, 0), 30, "%s: TTL = min(ttl, minttl)", what);
	is_int(inf.rcode, rcode, "%s: info rcode", what);
}

static void test_negative(void)
{
	check_negative("nope.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, "NXDOMAIN A");
	check_negative("_nope._tcp.marathon.mesos", LDNS_RR_TYPE_SRV, LDNS_RCODE_NXDOMAIN, "NXDOMAIN SRV");
	check_negative("x.nginx.marathon.mesos", LDNS_RR_TYPE_ANY, LDNS_RCODE_NXDOMAIN, "NXDOMAIN below a name");
	check_negative("nginx.marathon.mesos", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, "NODATA TXT");
	check_negative("nginx.marathon.mesos", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR, "NODATA SRV");
	check_negative("marathon.slave.mesos", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, "ENT marathon.slave");
	check_negative("a.b.deep.mesos", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, "ENT 2 deep");
	check_negative("b.deep.mesos", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR, "ENT ANY");
	check_negative("mesos", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, "apex A");
	check_negative("ns1.mesos", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, "SOA below the apex");
}

/* ---- refusals and errors ------------------------------------------------- */

static void test_outside(void)
{
	ldns_pkt *p = query(zmain, "www.example.com", LDNS_RR_TYPE_A, 0, -1);

	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED, "outside: REFUSED");
	ok(inf.outside == 1 && inf.rcode == LDNS_RCODE_REFUSED, "outside: info->outside");
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_ra(p), "outside: AA clear, RA = recurse_on");
	ok(p && ldns_pkt_qdcount(p) == 1 && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0,
	   "outside: question only");
	p = query(zmain, "xmesos", LDNS_RR_TYPE_A, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && inf.outside, "outside: xmesos is not in mesos");
	p = query(zmain, ".", LDNS_RR_TYPE_NS, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && inf.outside, "outside: the root");
	p = query(zunloaded, "www.example.com", LDNS_RR_TYPE_A, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && inf.outside, "outside, unloaded zone: REFUSED");
}

static void test_unloaded(void)
{
	ldns_pkt *p = query(zunloaded, "nginx.marathon.mesos", LDNS_RR_TYPE_A, 0, -1);

	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL, "unloaded: SERVFAIL");
	ok(p && ldns_pkt_qdcount(p) == 1 && ldns_pkt_ancount(p) == 0, "unloaded: question echoed");
	ok(!inf.outside && inf.rcode == LDNS_RCODE_SERVFAIL, "unloaded: info");
	p = query(zunloaded, "mesos", LDNS_RR_TYPE_SOA, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL, "unloaded: SERVFAIL at the apex too");
}

static void test_class_opcode_xfr(void)
{
	mkq("version.bind", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, -1, 0, 0);
	ldns_pkt *p = ask(zmain, 0, 0);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && !inf.outside, "class CH: REFUSED");
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_HS, -1, 0, 0);
	p = ask(zmain, 0, 0);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && ldns_pkt_qdcount(p) == 1,
	   "class HS in the zone: REFUSED, question echoed");

	p = query(zmain, "mesos", LDNS_RR_TYPE_AXFR, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL, "AXFR over UDP: NOTIMP");
	p = query(zmain, "mesos", LDNS_RR_TYPE_IXFR, 0, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL, "IXFR over UDP: NOTIMP");
	p = query(zmain, "mesos", LDNS_RR_TYPE_AXFR, 1, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && !inf.outside, "AXFR over TCP: REFUSED");

	static const int ops[] = { 1, 2, 4, 5, 15 };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		mkq("mesos", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, -1, 0, 0);
		qbuf[2] = (uint8_t)((qbuf[2] & 0x87) | ops[i] << 3);
		qbuf[7] = 1;	/* NOTIFY/UPDATE carry other sections; not looked at */
		p = ask(zmain, 0, 0);
		ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL && (int)ldns_pkt_get_opcode(p) == ops[i] &&
		   ldns_pkt_qdcount(p) == 1 && ldns_pkt_ancount(p) == 0 && ldns_pkt_id(p) == QID &&
		   ldns_pkt_qr(p), "opcode %d: NOTIMP, opcode copied, question echoed", ops[i]);
	}
	uint8_t b[12];
	set_hdr(b, 7, 0x28, 0, 0, 0, 0, 0);	/* UPDATE, no question */
	rawq(b, sizeof(b));
	p = ask(zmain, 0, 0);
	ok(p && rn == 12 && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL && ldns_pkt_qdcount(p) == 0,
	   "UPDATE without a question: NOTIMP header");
}

/* Query bytes: header + "\x05nginx\x08marathon\x05mesos\0" A IN. */
static size_t good_query(uint8_t *b, uint16_t ar)
{
	static const uint8_t qs[] = "\x05nginx\x08marathon\x05mesos\0\0\x01\0\x01";
	set_hdr(b, 0x4242, 0x01, 0, 1, 0, 0, ar);
	memcpy(b + 12, qs, sizeof(qs) - 1);
	return 12 + sizeof(qs) - 1;
}

static uint16_t get_id(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void check_formerr(const uint8_t *b, size_t n, const char *what)
{
	rawq(b, n);
	ldns_pkt *p = ask(zmain, 0, 0);
	ok(p && rn == 12 && ldns_pkt_get_rcode(p) == LDNS_RCODE_FORMERR && ldns_pkt_qr(p) &&
	   ldns_pkt_id(p) == get_id(b) && ldns_pkt_rd(p) == (b[2] & 1) &&
	   ldns_pkt_qdcount(p) == 0 && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0 &&
	   ldns_pkt_arcount(p) == 0 && !ldns_pkt_edns(p) && inf.rcode == LDNS_RCODE_FORMERR,
	   "FORMERR: %s", what);
}

static void test_formerr(void)
{
	uint8_t b[600];
	size_t n;

	n = good_query(b, 0);
	rawq(b, n);
	ok(ask(zmain, 0, 0) && ldns_pkt_ancount(rp) == 3, "hand-made query answered");

	set_hdr(b, 0x4242, 0x01, 0, 0, 0, 0, 0);
	check_formerr(b, 12, "QDCOUNT 0");
	n = good_query(b, 0);
	b[5] = 2;
	memcpy(b + n, b + 12, n - 12);
	check_formerr(b, n + n - 12, "QDCOUNT 2");
	n = good_query(b, 0);
	check_formerr(b, 12 + 9, "truncated name");
	check_formerr(b, n - 2, "truncated qtype/qclass");
	check_formerr(b, 12, "QDCOUNT 1, no question");

	n = good_query(b, 0);
	b[7] = 1;
	check_formerr(b, n, "ANCOUNT 1");
	n = good_query(b, 0);
	b[9] = 1;
	check_formerr(b, n, "NSCOUNT 1");

	/* "\x05nginx" then a pointer back to offset 12: a compressed qname. */
	set_hdr(b, 0x4242, 0x00, 0, 1, 0, 0, 0);
	memcpy(b + 12, "\x05nginx\xc0\x0c\0\x01\0\x01", 12);
	check_formerr(b, 24, "pointer in the question name");
	memcpy(b + 12, "\x05nginx\x45mesos\0\0\x01\0\x01", 17);
	check_formerr(b, 29, "0x40 label type");
	b[18] = 0x85;
	check_formerr(b, 29, "0x80 label type");

	/* A 256-byte question name: 4 x 63-byte labels + ... */
	set_hdr(b, 0x4242, 0x01, 0, 1, 0, 0, 0);
	n = 12;
	for (int i = 0; i < 4; i++) {
		b[n++] = 63;
		memset(b + n, 'a', 63);
		n += 63;
	}
	b[n++] = 0;
	memcpy(b + n, "\0\x01\0\x01", 4);
	check_formerr(b, n + 4, "name over 255 bytes");

	/* Additional section: a record whose name loops through labels. */
	n = good_query(b, 1);
	size_t at = n;
	memcpy(b + n, "\x01x", 2);
	b[n + 2] = (uint8_t)(0xc0 | at >> 8);
	b[n + 3] = (uint8_t)at;
	memcpy(b + n + 4, "\0\x10\0\x01\0\0\0\0\0\0", 10);
	check_formerr(b, n + 14, "looping pointers in the additional section");
	b[n] = (uint8_t)(0xc0 | at >> 8);
	b[n + 1] = (uint8_t)at;
	memcpy(b + n + 2, "\0\x10\0\x01\0\0\0\0\0\0", 10);
	check_formerr(b, n + 12, "self pointer in the additional section");
	b[n] = 0xc0;
	b[n + 1] = 0xff;
	check_formerr(b, n + 12, "forward pointer in the additional section");
	b[n + 1] = 0x0c;
	check_formerr(b, n + 1, "pointer cut in half at the end");

	/* Two OPT records. */
	static const uint8_t opt[] = "\0\0\x29\x10\0\0\0\0\0\0\0";
	n = good_query(b, 2);
	memcpy(b + n, opt, 11);
	memcpy(b + n + 11, opt, 11);
	check_formerr(b, n + 22, "two OPT records");
	n = good_query(b, 1);
	memcpy(b + n, opt, 11);
	check_formerr(b, n + 8, "truncated OPT");
	b[n + 10] = 4;		/* rdlen 4: one option header, missing */
	check_formerr(b, n + 11, "OPT rdata past the end");
	memcpy(b + n + 11, "\0\x0a\0\x08", 4);	/* option of 8 bytes in 4 of rdata */
	check_formerr(b, n + 15, "OPT option past its rdata");
	memcpy(b + n, "\x01x\0\0\x29\x10\0\0\0\0\0\0\0", 13);
	check_formerr(b, n + 13, "OPT owner not the root");
	check_formerr(b, good_query(b, 1), "ARCOUNT 1, no record");

	/* What must still be answered. */
	n = good_query(b, 1);
	memcpy(b + n, "\xc0\x0c\0\x10\0\x01\0\0\0\0\0\x02\x01x", 14);	/* TXT, owner = qname */
	rawq(b, n + 14);
	ok(ask(zmain, 0, 0) && ldns_pkt_ancount(rp) == 3, "compressed non-OPT additional record ignored");
	n = good_query(b, 1);
	memcpy(b + n, opt, 11);
	memcpy(b + n + 11, "garbage", 7);
	rawq(b, n + 18);
	ok(ask(zmain, 0, 0) && ldns_pkt_ancount(rp) == 3 && ldns_pkt_edns(rp), "bytes after the OPT ignored");
	n = good_query(b, 0);
	memcpy(b + n, "\x01\x02\x03", 3);
	rawq(b, n + 3);
	ok(ask(zmain, 0, 0) && ldns_pkt_ancount(rp) == 3, "bytes after the question ignored");
	n = good_query(b, 1);
	memcpy(b + n, "\0\0\x29\x10\0\0\0\0\0\0\x08\0\x0a\0\x04" "abcd", 19);	/* a cookie-ish option */
	rawq(b, n + 19);
	ok(ask(zmain, 0, 0) && ldns_pkt_ancount(rp) == 3 && inf.edns, "OPT with an option accepted");
}

static void test_no_reply(void)
{
	uint8_t b[64];
	size_t n = good_query(b, 0);

	rawq(b, 11);
	ask(zmain, 0, 0);
	ok(rn == 0 && inf.rcode == -1, "11-byte packet: no reply");
	rawq(b, 0);
	ask(zmain, 0, 0);
	ok(rn == 0 && inf.rcode == -1, "empty packet: no reply");
	b[2] |= 0x80;
	rawq(b, n);
	ask(zmain, 0, 0);
	ok(rn == 0 && inf.rcode == -1, "QR=1: no reply");
	b[5] = 0;
	rawq(b, n);
	ask(zmain, 0, 0);
	ok(rn == 0, "QR=1 even when malformed: no reply");
}

/* ---- EDNS ---------------------------------------------------------------- */

static void test_edns(void)
{
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096, 0, 1);
	ldns_pkt *p = ask(zmain, 0, 0);

	ok(p && ldns_pkt_edns(p), "EDNS: OPT echoed");
	if (p) {
		is_int(ldns_pkt_edns_udp_size(p), 1232, "EDNS: our size is the cap");
		is_int(ldns_pkt_edns_version(p), 0, "EDNS: version 0");
		ok(!ldns_pkt_edns_do(p), "EDNS: DO clear (we do not sign)");
		is_int(ldns_pkt_ancount(p), 3, "EDNS: answered");
		is_int(ldns_pkt_arcount(p), 0, "EDNS: OPT is the only additional record");
		ok(inf.edns, "EDNS: info->edns");
		is_int(rbuf[11], 1, "EDNS: ARCOUNT on the wire counts the OPT");
	}

	/* big.mesos: 100 x 16 bytes do not fit 1232 (cap) but do fit 4096. */
	mkq("big.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096, 0, 0);
	p = ask_cap(zmain, 0, 0, ANSWER_MAX);
	ok(p && rn <= 1232 && rn > 1232 - 16 - 11 && ldns_pkt_tc(p) && ldns_pkt_edns(p),
	   "EDNS 4096: capped at edns_max 1232 (%zu bytes), TC, OPT kept", rn);
	if (p)
		ok(ldns_pkt_ancount(p) > 60 && ldns_pkt_ancount(p) < 100, "EDNS cap: %d answers",
		   (int)ldns_pkt_ancount(p));
	mkq("big.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1000, 0, 0);
	p = ask_cap(zmain, 0, 0, ANSWER_MAX);
	ok(p && rn <= 1000 && rn > 1000 - 16 - 11 && ldns_pkt_tc(p), "EDNS 1000: client size honoured (%zu)", rn);
	mkq("big.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096, 0, 0);
	p = ask_cap(zmain, 0, 0, 600);
	ok(p && rn <= 600 && rn > 600 - 16 - 11 && ldns_pkt_tc(p) && ldns_pkt_edns(p),
	   "EDNS 4096 into a 600-byte buffer: bounded by outcap (%zu)", rn);
	mkq("big.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 100, 0, 0);
	p = ask_cap(zmain, 0, 0, ANSWER_MAX);
	ok(p && rn <= 512 && rn > 512 - 16 - 11 && ldns_pkt_edns(p), "EDNS 100: treated as 512 (%zu)", rn);

	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096, 1, 0);
	p = ask(zmain, 0, 0);
	ok(p != NULL, "BADVERS: parses");
	if (p) {
		is_int(ldns_pkt_get_rcode(p), 0, "BADVERS: header rcode 0");
		is_int(ldns_pkt_edns_extended_rcode(p), 1, "BADVERS: extended rcode 1 (16)");
		ok(ldns_pkt_edns(p) && ldns_pkt_edns_version(p) == 0, "BADVERS: our OPT says version 0");
		ok(ldns_pkt_qdcount(p) == 1 && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0,
		   "BADVERS: question echoed, no answer");
		is_int(inf.rcode, RCODE_BADVERS, "BADVERS: info rcode 16");
	}

	/* EDNS with errors: the OPT is echoed on REFUSED too. */
	mkq("www.example.com", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1232, 0, 0);
	p = ask(zmain, 0, 0);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && ldns_pkt_edns(p), "EDNS on REFUSED: OPT echoed");
}

/* ---- truncation ---------------------------------------------------------- */

static void test_truncation(void)
{
	ldns_pkt *p = query(zmain, "big.mesos", LDNS_RR_TYPE_A, 0, -1);

	ok(p != NULL, "512: truncated reply parses");
	if (p) {
		ok(rn <= 512 && rn > 512 - 16, "512: %zu bytes, as many whole records as fit", rn);
		ok(ldns_pkt_tc(p), "512: TC");
		is_int(ldns_pkt_ancount(p), (512 - 12 - 15) / 16, "512: whole records only");
		ok(ldns_pkt_aa(p) && ldns_pkt_get_rcode(p) == 0, "512: still an authoritative answer");
		ok(inf.truncated, "512: info->truncated");
	}
	p = query(znotc, "big.mesos", LDNS_RR_TYPE_A, 0, -1);
	ok(p && rn <= 512 && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == (512 - 12 - 15) / 16 && inf.truncated,
	   "set_tc=0: trimmed without TC");
	p = query(zmain, "big.mesos", LDNS_RR_TYPE_A, 1, -1);
	ok(p && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 100 && !inf.truncated, "TCP: all 100 records");
	p = query(zmain, "big.mesos", LDNS_RR_TYPE_A, 1, 4096);
	ok(p && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 100 && ldns_pkt_edns(p),
	   "TCP with EDNS: the EDNS size does not limit TCP");
	mkq("big.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	p = ask_cap(zmain, 1, 0, 700);
	ok(p && rn <= 700 && ldns_pkt_tc(p), "TCP: bounded by outcap");

	/* Glue does not fit but the answer does: additional dropped whole, no TC (RFC 2181 §9). */
	p = query(zmain, "_many._tcp.mesos", LDNS_RR_TYPE_SRV, 0, -1);
	ok(p && ldns_pkt_ancount(p) == 8 && ldns_pkt_arcount(p) == 0 && !ldns_pkt_tc(p) &&
	   inf.truncated && rn <= 512, "SRV: additional dropped first, answers kept, no TC");
	p = query(zmain, "_many._tcp.mesos", LDNS_RR_TYPE_SRV, 0, 1232);
	ok(p && ldns_pkt_ancount(p) == 8 && ldns_pkt_arcount(p) == 24 && !ldns_pkt_tc(p) && !inf.truncated,
	   "SRV with EDNS 1232: all glue");
	if (p)
		ok(rn < uncompressed_size(p), "SRV glue owners compressed against the targets (%zu < %zu)",
		   rn, uncompressed_size(p));
}

/* ---- robustness: every buffer size, every reply well-formed -------------- */

static void outcap_sweep(int *bad, int *tc_missing, int *runs)
{
	static const struct { const char *name; uint16_t type; int edns; } qs[] = {
		{ "mesos", LDNS_RR_TYPE_SOA, -1 }, { "MESOS", LDNS_RR_TYPE_ANY, 1232 },
		{ "a-rather-long-label-to-push-the-soa-out.nope.marathon.mesos", LDNS_RR_TYPE_A, -1 },
		{ "a-rather-long-label-to-push-the-soa-out.nope.marathon.mesos", LDNS_RR_TYPE_A, 4096 },
		{ "_nginx._tcp.marathon.mesos", LDNS_RR_TYPE_SRV, -1 },
		{ "_many._tcp.mesos", LDNS_RR_TYPE_SRV, 4096 }, { "big.mesos", LDNS_RR_TYPE_A, -1 },
		{ "mesos", LDNS_RR_TYPE_NS, 1232 }, { "www.example.com", LDNS_RR_TYPE_A, 1232 },
	};

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		for (size_t cap = 12; cap <= 1300; cap++) {
			for (int tcp = 0; tcp < 2; tcp++) {
				mkq(qs[i].name, qs[i].type, LDNS_RR_CLASS_IN, qs[i].edns, 0, 0);
				ldns_pkt *p = ask_cap(zmain, tcp, (uint32_t)cap, cap);
				(*runs)++;
				if (!p || rn > cap || ldns_pkt_id(p) != QID || rbuf[cap] != 0xaa) {
					if ((*bad)++ < 5)
						printf("# %s cap %zu tcp %d: rn %zu parsed %d\n", qs[i].name,
						       cap, tcp, rn, p != NULL);
					continue;
				}
				/* A positive or negative answer with nothing in it was cut. */
				if (inf.authoritative && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 0 &&
				    !ldns_pkt_tc(p))
					(*tc_missing)++;
			}
		}
	}
}

static void test_outcap_sweep(void)
{
	int bad = 0, tc_missing = 0, runs = 0;

	outcap_sweep(&bad, &tc_missing, &runs);
	qcache = acache_new(1u << 20);		/* again through a reply cache (UDP) */
	outcap_sweep(&bad, &tc_missing, &runs);
	acache_free(qcache);
	qcache = NULL;
	is_int(bad, 0, "outcap sweep: every reply parses and fits its buffer, with and without a "
	       "reply cache (%d runs)", runs);
	is_int(tc_missing, 0, "outcap sweep: emptied answers carry TC");

	struct answer_info info;
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	is_int(answer_query(zmain, qbuf, qn, rbuf, 512, NULL, NULL), 12 + 26 + 3 * 16,
	       "NULL req and info: UDP, rotate 0");
	is_int(answer_query(zmain, qbuf, qn, rbuf, 11, NULL, &info), 0, "outcap 11: no reply");
}

static void test_many_targets(void)
{
	ldns_pkt *p = query(zmain, "_huge._tcp.mesos", LDNS_RR_TYPE_SRV, 1, -1);

	ok(p && ldns_pkt_ancount(p) == 300 && !ldns_pkt_tc(p), "300 SRV over TCP: all answers");
	ok(p && ldns_pkt_arcount(p) == 256, "300 SRV over TCP: glue for the first 256 targets");
	int owners_ok = 1;
	for (size_t i = 0; p && i < ldns_pkt_arcount(p); i++) {
		/* Each glue owner is the target of the answer record in the same position. */
		char o[64];
		snprintf(o, sizeof(o), "%s", owner(ldns_pkt_additional(p), i));
		owners_ok &= strcmp(o, rdata(ldns_pkt_answer(p), i, 3)) == 0;
	}
	ok(owners_ok, "300 SRV over TCP: glue owners follow the answer order");
	if (p)
		ok(rn < uncompressed_size(p), "300 SRV: compressed (%zu < %zu)", rn, uncompressed_size(p));
}

/* An RRset past ZONE_RRSET_MAX records keeps the first ZONE_RRSET_MAX; its count
 * (16 bits) wrapped to the remainder before. */
static void test_rrset_max(void)
{
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 30,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	char ip[32];
	uint8_t wire[256];

	add_a(b, "ns1.mesos", "10.0.0.53");
	for (int i = 0; i < ZONE_RRSET_MAX + 100; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		add_a(b, "many.mesos", ip);
	}
	struct zone *z = zone_builder_finish(b, NULL, 1);
	size_t wl = dname_from_text("many.mesos", wire);
	const struct zone_node *n = z ? zone_lookup(z, wire, wl) : NULL;
	const struct zone_rrset *rs = n ? zone_node_rrset(n, RR_A) : NULL;
	ok(rs && rs->count == ZONE_RRSET_MAX, "65,635 A records at one name: %d kept",
	   rs ? rs->count : -1);
	ok(z && z->over_rrset_max == 100, "... and 100 counted as left out");
	ldns_pkt *q = z ? query(z, "many.mesos", LDNS_RR_TYPE_A, 1, -1) : NULL;
	ok(q && ldns_pkt_tc(q) && ldns_pkt_ancount(q) > 0, "... a TCP answer is cut (TC), %zu records",
	   q ? (size_t)ldns_pkt_ancount(q) : 0);
	zone_free(z);
}

/* ---- robustness: mutated queries always give parseable, bounded replies --- */

static void test_mutations(void)
{
	static const char *names[] = { "nginx.marathon.mesos", "_nginx._tcp.marathon.mesos", "mesos",
				       "big.mesos", "nope.mesos", "www.example.com" };
	static const uint16_t types[] = { 1, 28, 33, 6, 2, 255, 252 };
	uint32_t seed = 12345;
	int bad = 0, runs = 0;

	for (int i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		mkq(names[(seed >> 8) % 6], types[(seed >> 12) % 7], LDNS_RR_CLASS_IN,
		    (seed >> 16) & 1 ? 1232 : -1, 0, 0);
		int flips = 1 + (int)((seed >> 20) % 4);
		for (int f = 0; f < flips; f++) {
			seed = seed * 1103515245u + 12345u;
			qbuf[(seed >> 8) % qn] ^= (uint8_t)(1u << ((seed >> 16) % 8));
		}
		if ((seed >> 24) % 4 == 0)
			qn -= (seed >> 10) % qn;
		int tcp = (seed >> 28) & 1;
		ask(zmain, tcp, seed);
		runs++;
		if (rn && (!rp || rn > (tcp ? ANSWER_MAX : inf.edns ? 1232 : 512) ||
			   memcmp(rbuf, qbuf, 2) != 0))
			bad++;
	}
	is_int(bad, 0, "mutated queries: every reply parses and fits (%d runs)", runs);
}

/* Reverse zones published with the main zone: answered from the right apex. */
/* The main zone with the reverse zones 10.in-addr.arpa and 8.b.d.0.1.0.0.2.ip6.arpa. */
static struct zone *make_zone_with_reverse(void)
{
	struct zone_params p = {
		.domain = "10.in-addr.arpa", .ttl = 60, .soa_minttl = 30,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	zone_builder_add_ptr(b, "1.0.0.10.in-addr.arpa", "nginx-abcde-s1.marathon.mesos");
	struct zone *r4 = zone_builder_finish(b, NULL, SERIAL + 7);
	p.domain = "8.b.d.0.1.0.0.2.ip6.arpa";
	b = zone_builder_new(&p);
	zone_builder_add_ptr(b, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
			     "slave.mesos");
	struct zone *r6 = zone_builder_finish(b, NULL, SERIAL + 8);
	struct zone **rev = malloc(2 * sizeof(*rev));
	rev[0] = r6;
	rev[1] = r4;
	struct zone *m = make_zone(1, 1);
	zone_set_reverse(m, rev, 2);
	return m;
}

static void test_reverse_apex(void)
{
	struct zone *m = make_zone_with_reverse();
	ldns_pkt *pk = query(m, "1.0.0.10.IN-ADDR.ARPA", LDNS_RR_TYPE_PTR, 0, -1);
	ok(pk && ldns_pkt_get_rcode(pk) == LDNS_RCODE_NOERROR && ldns_pkt_aa(pk) &&
	   ldns_pkt_ancount(pk) == 1 && rtype(ldns_pkt_answer(pk), 0) == LDNS_RR_TYPE_PTR &&
	   strcmp(rdata(ldns_pkt_answer(pk), 0, 0), "nginx-abcde-s1.marathon.mesos.") == 0,
	   "PTR from the IPv4 reverse zone, authoritative");
	ok(pk && strcmp(owner(ldns_pkt_answer(pk), 0), "1.0.0.10.IN-ADDR.ARPA.") == 0,
	   "the owner keeps the client's case");
	pk = query(m, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
		   LDNS_RR_TYPE_PTR, 0, -1);
	ok(pk && ldns_pkt_ancount(pk) == 1 && strcmp(rdata(ldns_pkt_answer(pk), 0, 0), "slave.mesos.") == 0,
	   "PTR from the IPv6 reverse zone");
	pk = query(m, "2.0.0.10.in-addr.arpa", LDNS_RR_TYPE_PTR, 0, -1);
	ok(pk && ldns_pkt_get_rcode(pk) == LDNS_RCODE_NXDOMAIN && ldns_pkt_nscount(pk) == 1 &&
	   strcmp(owner(ldns_pkt_authority(pk), 0), "10.in-addr.arpa.") == 0 &&
	   rtype(ldns_pkt_authority(pk), 0) == LDNS_RR_TYPE_SOA,
	   "unknown address in the zone: NXDOMAIN with the reverse zone's SOA");
	pk = query(m, "10.in-addr.arpa", LDNS_RR_TYPE_SOA, 0, -1);
	ok(pk && ldns_pkt_ancount(pk) == 1 &&
	   ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(pk), 0), 2)) == SERIAL + 7,
	   "the reverse apex SOA carries its own serial");
	pk = query(m, "1.0.0.10.in-addr.arpa", LDNS_RR_TYPE_A, 0, -1);
	ok(pk && ldns_pkt_get_rcode(pk) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(pk) == 0 &&
	   ldns_pkt_nscount(pk) == 1, "other type at a PTR name: NODATA");
	pk = query(m, "0.0.10.in-addr.arpa", LDNS_RR_TYPE_PTR, 0, -1);
	ok(pk && ldns_pkt_get_rcode(pk) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(pk) == 0,
	   "empty non-terminal in the reverse zone: NODATA");
	pk = query(m, "1.1.168.192.in-addr.arpa", LDNS_RR_TYPE_PTR, 0, -1);
	ok(pk && ldns_pkt_get_rcode(pk) == LDNS_RCODE_REFUSED && inf.outside,
	   "another reverse name: outside (forwarded as before)");
	pk = query(m, "nginx.marathon.mesos", LDNS_RR_TYPE_A, 0, -1);
	ok(pk && ldns_pkt_ancount(pk) == 3, "names of the domain still answer");
	zone_free(m);
}

/* AXFR/IXFR over TCP are flagged for the caller; an IXFR may carry one authority SOA. */
static void test_transfer_flag(void)
{
	ldns_pkt *p = query(zmain, "mesos", LDNS_RR_TYPE_AXFR, 1, -1);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && inf.transfer == LDNS_RR_TYPE_AXFR,
	   "AXFR over TCP: REFUSED for the caller to override, info.transfer set");
	query(zmain, "mesos", LDNS_RR_TYPE_AXFR, 0, -1);
	ok(inf.transfer == 0, "over UDP: no transfer");

	ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str("mesos"), LDNS_RR_TYPE_IXFR,
					 LDNS_RR_CLASS_IN, 0);
	ldns_rr *soa = NULL;
	uint8_t *w = NULL;
	ldns_rr_new_frm_str(&soa, "mesos. 0 IN SOA ns1.mesos. root.ns1.mesos. 5 0 0 0 0", 0, NULL, NULL);
	ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ldns_pkt_set_edns_data(q, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_UNKNOWN, ""));
	ldns_pkt2wire(&w, q, &qn);
	memcpy(qbuf, w, qn);
	free(w);
	ldns_pkt_free(q);
	p = ask(zmain, 1, 0);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED && inf.transfer == LDNS_RR_TYPE_IXFR &&
	   inf.edns, "IXFR with the client's SOA in authority and an OPT: parsed, flagged");
	uint16_t qt = (uint16_t)(qbuf[12 + 7] << 8 | qbuf[12 + 8]);
	ok(qt == LDNS_RR_TYPE_IXFR, "(query type where expected)");
	qbuf[12 + 8] = LDNS_RR_TYPE_A;	/* same message, type A: authority not allowed */
	p = ask(zmain, 1, 0);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_FORMERR, "an A query with an authority record: FORMERR");
}

/* Order and uniqueness of the records in an RRset: by rdata (RFC 4034 6.3:
 * bytes, then length), each once.  Big RRsets (sorted apart from small
 * ones), rdata that tie on their first six bytes (the builder's sort key)
 * and differ after them, duplicates, and records from unhealthy tasks. */
static void rr_sorted_unique(const struct zone *z, const char *owner, uint16_t type, size_t want)
{
	uint8_t wire[DNAME_MAXLEN];
	size_t len = dname_from_text(owner, wire);
	const struct zone_node *n = len ? zone_lookup(z, wire, len) : NULL;
	const struct zone_rrset *rs = n ? zone_node_rrset(n, type) : NULL;
	size_t bad = 0;

	if (!ok(rs != NULL, "rdata order: %s has its RRset", owner))
		return;
	for (size_t i = 1; i < rs->count; i++) {
		const struct zone_rr *a = &rs->rrs[i - 1], *b = &rs->rrs[i];
		int c = memcmp(a->rdata, b->rdata, a->rdlen < b->rdlen ? a->rdlen : b->rdlen);
		if (c > 0 || (c == 0 && a->rdlen >= b->rdlen))
			bad++;
	}
	ok(rs->count == want, "rdata order: %s: %u records, %zu distinct and healthy", owner,
	   rs->count, want);
	ok(bad == 0, "rdata order: %s: each record after the one before (%zu not)", owner, bad);
}

static void test_rdata_order(void)
{
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 30, .soa_mname = "ns1.mesos",
		.soa_rname = "root.ns1.mesos", .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	/* 1: added, 2: added by a healthy task: what stays of an RRset that has
	 * healthy records. */
	static uint8_t big[2][4][32], small[2][4][32], v6[16], srv[3][4][8];
	size_t nbig = 0, nsmall = 0, nv6 = 0, nsrv = 0;
	unsigned seed = 777;
	char text[64];

	if (!ok(b != NULL, "rdata order: builder"))
		return;
	for (int i = 0; i < 600; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned c = (seed >> 8) & 1, d = (seed >> 12) & 3, e = (seed >> 16) & 31;
		int sick = i % 7 == 0;
		uint8_t *mark = i < 588 ? &big[c][d][e] : &small[c][d][e];
		size_t *cnt = i < 588 ? &nbig : &nsmall;
		snprintf(text, sizeof(text), "10.%u.%u.%u", c + 1, d, e);
		zone_builder_set_unhealthy(b, sick);
		add_a(b, i < 588 ? "big.mesos" : "small.mesos", text);
		if (!sick && !*mark)
			++*cnt;
		if (!sick)
			*mark = 1;
	}
	zone_builder_set_unhealthy(b, 0);
	for (int i = 0; i < 40; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned k = (seed >> 16) & 15;
		struct ipaddr a;
		/* The first six bytes are the same in all: only the rest orders. */
		snprintf(text, sizeof(text), "fd00::%x:0:%x", k & 3, k >> 2);
		if (ipaddr_parse(text, &a) == 0 && zone_builder_add_addr(b, "big6.mesos", &a) == 0 &&
		    !v6[k]++)
			nv6++;
	}
	for (int i = 0; i < 400; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned w = (seed >> 16) % 3, port = (seed >> 20) & 3, t = (seed >> 24) & 7;
		snprintf(text, sizeof(text), "web-frontend-prod-%u.mesos", t);
		if (zone_builder_add_srv(b, "_web._tcp.mesos", 0, (uint16_t)w, (uint16_t)(31000 + port),
					 text) == 0 && !srv[w][port][t]++)
			nsrv++;
	}
	zone_builder_set_unhealthy(b, 1);
	add_a(b, "mixed.mesos", "10.9.9.9");
	add_a(b, "mixed.mesos", "10.9.9.8");
	zone_builder_set_unhealthy(b, 0);
	add_a(b, "mixed.mesos", "10.9.9.9");
	struct zone *z = zone_builder_finish(b, NULL, SERIAL);
	if (!ok(z != NULL, "rdata order: zone built"))
		return;
	rr_sorted_unique(z, "big.mesos", LDNS_RR_TYPE_A, nbig);
	rr_sorted_unique(z, "small.mesos", LDNS_RR_TYPE_A, nsmall);
	rr_sorted_unique(z, "big6.mesos", LDNS_RR_TYPE_AAAA, nv6);
	rr_sorted_unique(z, "_web._tcp.mesos", LDNS_RR_TYPE_SRV, nsrv);
	/* 10.9.9.9 from a healthy task: the unhealthy copy must not be the one kept. */
	rr_sorted_unique(z, "mixed.mesos", LDNS_RR_TYPE_A, 1);
	zone_free(z);
}

/* The zone's nodes come out in canonical order (RFC 4034 6.1), checked with
 * ldns's own comparison on names built to stress it: shared prefixes and
 * suffixes, labels that are prefixes of others, labels alike for up to 62
 * bytes, digits and '-' (which sort before letters), depths from 1 to 6 and
 * the empty non-terminals between. */
#define L62 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_canonical_order(void)
{
	static const char *const parts[] = { "a", "a0", "a-", "ab", "b", "0", "9z", "-x",
					      "nginx", "nginx-1", "nginxa", "zz", "_tcp", "_udp",
					      "aaaaaaaa", "aaaaaaaab", "aaaaaaaa0", "m",
					      /* siblings that tie on 8, 16, 24 bytes and more */
					      "web-frontend-prod", "web-frontend-prod-x7k2p-s12",
					      "web-frontend-prod-x7k2p-s1", "web-frontend-prod-x7k2p-s1a",
					      "web-frontend-prod-x7k2q", "web-frontend-prod-x7k2p-s0",
					      L62 "a", L62, L62 "b", "a" L62,
					      /* ... and that differ in their 8th byte */
					      "abcdefgh", "abcdefga", "abcdefg", "abcdefgz9" };
	const size_t np = sizeof(parts) / sizeof(parts[0]);
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 30, .soa_mname = "ns1.mesos",
		.soa_rname = "root.ns1.mesos", .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	unsigned seed = 12345;
	char name[6 * 64 + 8];	/* six parts of up to 63 bytes, their dots, "mesos" */

	if (!ok(b != NULL, "canonical order: builder"))
		return;
	for (int i = 0; i < 3000; i++) {
		size_t o = 0;
		int depth = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 6;
		for (int d = 0; d < depth; d++) {
			seed = seed * 1103515245u + 12345u;
			o += (size_t)snprintf(name + o, sizeof(name) - o, "%s.", parts[(seed >> 16) % np]);
		}
		snprintf(name + o, sizeof(name) - o, "mesos");
		if (strlen(name) + 2 <= DNAME_MAXLEN)	/* several long labels: too long */
			add_a(b, name, "10.0.0.1");
	}
	struct zone *z = zone_builder_finish(b, NULL, SERIAL);
	if (!ok(z != NULL, "canonical order: zone built"))
		return;
	size_t bad = 0, ents = 0;
	ldns_rdf *prev = NULL;
	for (size_t i = 0; i < z->nnodes; i++) {
		ldns_rdf *cur = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, z->nodes[i]->namelen,
						      z->nodes[i]->name);
		if (prev && ldns_dname_compare(prev, cur) >= 0 && bad++ < 3) {
			char *x = ldns_rdf2str(prev), *y = ldns_rdf2str(cur);
			printf("# out of order at %zu: %s then %s\n", i, x, y);
			free(x);
			free(y);
		}
		if (!z->nodes[i]->nrrsets)
			ents++;
		ldns_rdf_deep_free(prev);
		prev = cur;
	}
	ldns_rdf_deep_free(prev);
	ok(z->nnodes > 2000 && ents > 100, "canonical order: %zu nodes, %zu of them empty "
	   "non-terminals", z->nnodes, ents);
	ok(bad == 0, "canonical order: every node after the one before (%zu out of order)", bad);
	zone_free(z);
}

/* ---- the reply cache (zone/acache.h) ------------------------------------ */

static uint8_t cbuf[ANSWER_MAX];

/* The same records in the same order, or (sorted) as sets. */
static int same_rrs(const ldns_rr_list *a, const ldns_rr_list *b, int sorted)
{
	size_t n = ldns_rr_list_rr_count(a);
	if (n != ldns_rr_list_rr_count(b))
		return 0;
	ldns_rr_list *x = ldns_rr_list_clone(a), *y = ldns_rr_list_clone(b);
	if (sorted) {
		ldns_rr_list_sort(x);
		ldns_rr_list_sort(y);
	}
	int same = 1;
	for (size_t i = 0; i < n; i++)
		same &= ldns_rr_compare(ldns_rr_list_rr(x, i), ldns_rr_list_rr(y, i)) == 0;
	ldns_rr_list_deep_free(x);
	ldns_rr_list_deep_free(y);
	return same;
}

/*
 * Ask qbuf at rotation rot without and with cache c (UDP, outcap 4096, as
 * the server does) and compare: the same length, info, header, question,
 * answer and authority records in the same order, OPT; additional records
 * as a set (the cache keeps them in rotation 0's order), and when there is
 * at most one of those, every byte.  Both must parse (ldns follows every
 * compression pointer).  Returns 1 when they agree; *why says where not.
 */
static int cache_agrees(struct acache *c, const struct zone *z, uint32_t rot, const char **why)
{
	struct answer_req plain = { 0, rot, NULL }, cached = { 0, rot, c };
	struct answer_info i1, i2;
	size_t n1 = answer_query(z, qbuf, qn, rbuf, 4096, &plain, &i1);
	size_t n2 = answer_query(z, qbuf, qn, cbuf, 4096, &cached, &i2);
	ldns_pkt *p1 = NULL, *p2 = NULL;
	int agree = 0;

	*why = "length";
	if (n1 != n2)
		return 0;
	*why = "info";
	if (memcmp(&i1, &i2, sizeof(i1)) != 0)
		return 0;
	*why = "header";
	if (n1 == 0)
		return 1;
	if (n1 <= 12)
		return memcmp(rbuf, cbuf, n1) == 0;
	/* The question as the query has it: name, type, class. */
	size_t qend = 12;
	while (qend < qn && qbuf[qend])
		qend += qbuf[qend] + 1u;
	qend += 5;
	*why = "question";
	if (n1 < qend || memcmp(cbuf + 12, qbuf + 12, qend - 12) != 0)
		return 0;
	*why = "parse";
	if (ldns_wire2pkt(&p1, rbuf, n1) != LDNS_STATUS_OK ||
	    ldns_wire2pkt(&p2, cbuf, n2) != LDNS_STATUS_OK)
		goto out;
	*why = "answer";
	if (!same_rrs(ldns_pkt_answer(p1), ldns_pkt_answer(p2), 0))
		goto out;
	*why = "authority";
	if (!same_rrs(ldns_pkt_authority(p1), ldns_pkt_authority(p2), 0))
		goto out;
	*why = "additional";
	if (!same_rrs(ldns_pkt_additional(p1), ldns_pkt_additional(p2), 1))
		goto out;
	*why = "header";
	if (memcmp(rbuf, cbuf, 12) != 0 || (ldns_pkt_edns(p1) && memcmp(rbuf + n1 - 11, cbuf + n2 - 11, 11)))
		goto out;
	*why = "bytes";
	if (ldns_pkt_arcount(p1) <= 1 && memcmp(rbuf, cbuf, n1) != 0)
		goto out;
	agree = 1;
out:
	ldns_pkt_free(p1);
	ldns_pkt_free(p2);
	return agree;
}

/* Every name of z and a few more, every type, EDNS size and class, several
 * rotations, twice (misses, then hits); returns the disagreements. */
static unsigned cache_sweep(struct acache *c, const struct zone *z, unsigned *asked, int quick)
{
	static const char *more[] = { "nope.marathon.mesos", "x.nginx.marathon.mesos",
				      "www.example.com", "NGINX.Marathon.MESOS",
				      "_NGINX._tcp.MARATHON.mesos", "BIG.mesos", ".",
				      "1.0.0.10.IN-ADDR.arpa", "10.in-addr.arpa", "2.0.0.10.in-addr.arpa",
				      "0.0.10.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa",
				      "1.1.168.192.in-addr.arpa" };
	static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SRV,
					  LDNS_RR_TYPE_NS, LDNS_RR_TYPE_SOA, LDNS_RR_TYPE_ANY,
					  LDNS_RR_TYPE_MX, LDNS_RR_TYPE_PTR };
	/* OPT size, version and DO bit: after 1232 of version 0 the same size
	 * with DO set (a hit) and of version 1 (BADVERS, which is not). */
	static const struct { int size; uint8_t version, do_bit; } ednses[] = {
		{ -1, 0, 0 }, { 512, 0, 0 }, { 600, 0, 0 }, { 1232, 0, 0 },
		{ 1232, 0, 1 }, { 1232, 1, 0 }, { 4096, 0, 0 } };
	unsigned bad = 0, nnames = (unsigned)(z->nnodes + sizeof(more) / sizeof(more[0]));
	char name[DNAME_TEXT_MAX];

	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < nnames; i += quick ? 7 : 1) {
			if (i < z->nnodes)
				dname_to_text(z->nodes[i]->name, name, sizeof(name));
			else
				snprintf(name, sizeof(name), "%s", more[i - z->nnodes]);
			for (unsigned t = 0; t < sizeof(types) / sizeof(types[0]); t++)
				for (unsigned e = 0; e < sizeof(ednses) / sizeof(ednses[0]); e++) {
					/* Classes above 0x7fff too (the cache's hash shifts
					 * the class: UBSan checks it in make test-asan). */
					uint16_t cls = (i + t + e) % 5 == 0 ? LDNS_RR_CLASS_ANY :
						       (i + t + e) % 11 == 0 ? LDNS_RR_CLASS_CH :
						       (i + t + e) % 13 == 0 ? 0xff01 :
						       LDNS_RR_CLASS_IN;
					mkq(name, types[t], cls, ednses[e].size, ednses[e].version,
					    ednses[e].do_bit);
					/* Another ID, RD clear, CD set now and then. */
					qbuf[0] = (uint8_t)(i + pass);
					qbuf[1] = (uint8_t)(t * 7 + e);
					if ((i + e) & 1)
						qbuf[2] &= (uint8_t)~0x01;
					if ((i + t) % 3 == 0)
						qbuf[3] |= 0x10;
					for (uint32_t r = 0; r < 3; r++) {
						const char *why;
						(*asked)++;
						if (cache_agrees(c, z, pass * 5 + r * 3 + i, &why))
							continue;
						if (bad++ < 5)
							printf("# cache differs (%s): %s type %u edns %d v%u do %u class %u rot %u\n",
							       why, name, types[t], ednses[e].size,
							       ednses[e].version, ednses[e].do_bit, cls,
							       pass * 5 + r * 3 + i);
					}
				}
		}
	}
	return bad;
}

static void test_cache(void)
{
	struct acache *c = acache_new(8u << 20);
	struct acache_stats st;
	unsigned asked = 0, bad;

	if (!ok(c != NULL, "cache: created"))
		return;
	bad = cache_sweep(c, zmain, &asked, 0);
	ok(bad == 0, "cache: %u of %u replies from the cache agree with rendering", asked - bad, asked);
	acache_get_stats(c, &st);
	ok(st.hits > st.misses && st.misses > 100 && st.passes > 0 && st.flushes == 1,
	   "cache: %llu hits, %llu added, %llu rendered uncached, %llu flush (the first zone)",
	   (unsigned long long)st.hits, (unsigned long long)st.misses,
	   (unsigned long long)st.passes, (unsigned long long)st.flushes);

	/* Another zone through the same cache: nothing of the first is served. */
	asked = 0;
	bad = cache_sweep(c, znotc, &asked, 1);
	ok(bad == 0, "cache: another zone (TC off) after it, %u of %u agree", asked - bad, asked);
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 30, .soa_mname = "ns1.mesos",
		.soa_rname = "root.ns1.mesos", .recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	add_a(b, "nginx.marathon.mesos", "10.9.9.9");
	struct zone *z2 = zone_builder_finish(b, NULL, SERIAL + 1);
	struct answer_req req = { 0, 0, c };
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	rn = answer_query(zmain, qbuf, qn, rbuf, 4096, &req, &inf);
	size_t n1 = rn;
	rn = answer_query(z2, qbuf, qn, rbuf, 4096, &req, &inf);
	ldns_pkt_free(rp);
	rp = NULL;
	ok(n1 > rn && ldns_wire2pkt(&rp, rbuf, rn) == LDNS_STATUS_OK && ldns_pkt_ancount(rp) == 1 &&
	   strcmp(rdata(ldns_pkt_answer(rp), 0, 0), "10.9.9.9") == 0,
	   "cache: a new zone's record, not the old zone's three");
	zone_free(z2);

	/* The question as the client spelled it, from an entry made lower-case. */
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	answer_query(zmain, qbuf, qn, rbuf, 4096, &req, &inf);	/* the first time: not added */
	answer_query(zmain, qbuf, qn, rbuf, 4096, &req, &inf);	/* added */
	mkq("NgInX.MaRaThOn.MeSoS", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	acache_get_stats(c, &st);
	uint64_t hits = st.hits;
	rn = answer_query(zmain, qbuf, qn, rbuf, 4096, &req, &inf);
	acache_get_stats(c, &st);
	ok(st.hits == hits + 1 && memcmp(rbuf + 12, qbuf + 12, qn - 12) == 0,
	   "cache: a hit echoes the question in the client's case");

	/* With reverse zones: PTR answers, their SOAs, names between zones. */
	struct zone *m = make_zone_with_reverse();
	asked = 0;
	bad = cache_sweep(c, m, &asked, 1);
	ok(bad == 0, "cache: with reverse zones, %u of %u agree", asked - bad, asked);
	zone_free(m);
	acache_free(c);

	/* More questions than it holds, asked round and round: once full having
	 * hit nothing, it is skipped (2^18 questions), then used again. */
	c = acache_new(64 * 1024);
	struct answer_req creq = { 0, 0, c };
	static const uint16_t rtypes[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SRV };
	char nm[DNAME_TEXT_MAX];
	unsigned agree = 0, round = 0;
	for (; round < 2; round++)
		for (size_t i = 0; i < zmain->nnodes; i++)
			for (unsigned t = 0; t < 3; t++) {
				const char *why;
				dname_to_text(zmain->nodes[i]->name, nm, sizeof(nm));
				mkq(nm, rtypes[t], LDNS_RR_CLASS_IN, -1, 0, 0);
				agree += cache_agrees(c, zmain, (uint32_t)i, &why);
			}
	acache_get_stats(c, &st);
	ok(st.bypasses == 1 && st.hits == 0 && agree == 2 * 3 * zmain->nnodes,
	   "cache: %zu questions round and round through 64 KiB: skipped once full (%llu), "
	   "%u replies agree", 3 * zmain->nnodes, (unsigned long long)st.bypasses, agree);
	uint64_t passes = st.passes, hits1 = st.hits;
	mkq("nginx.marathon.mesos", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, -1, 0, 0);
	for (unsigned i = 0; i < (1u << 18); i++)
		answer_query(zmain, qbuf, qn, rbuf, 4096, &creq, &inf);
	acache_get_stats(c, &st);
	ok(st.passes - passes < (1u << 18) && st.passes - passes > (1u << 17) && st.hits > hits1 &&
	   st.passes - passes + st.hits - hits1 + 1 == (1u << 18),
	   "cache: used again once the rest of the 2^18 skipped (%llu), then hit (%llu)",
	   (unsigned long long)(st.passes - passes), (unsigned long long)(st.hits - hits1));
	acache_free(c);

	/* A cache too small for the sweep empties itself and stays right. */
	c = acache_new(64 * 1024);
	asked = 0;
	bad = cache_sweep(c, zmain, &asked, 0);
	acache_get_stats(c, &st);
	ok(bad == 0 && st.flushes > 2 && st.bytes <= 64 * 1024,
	   "cache: 64 KiB, %llu flushes, %u of %u agree", (unsigned long long)st.flushes,
	   asked - bad, asked);
	acache_free(c);
}

int main(void)
{
	zmain = make_zone(1, 1);
	znotc = make_zone(0, 1);
	znora = make_zone(1, 0);
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 30, .soa_mname = "ns1.mesos",
		.soa_rname = "root.ns1.mesos", .recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	zunloaded = zone_new_unloaded(&p);
	if (!ok(zmain && znotc && znora && zunloaded, "zones built"))
		return done_testing();

	test_a();
	test_case_echo();
	test_rotation();
	test_srv();
	test_apex();
	test_any();
	test_negative();
	test_outside();
	test_unloaded();
	test_class_opcode_xfr();
	test_formerr();
	test_no_reply();
	test_edns();
	test_truncation();
	test_outcap_sweep();
	test_many_targets();
	test_rrset_max();
	test_mutations();
	test_reverse_apex();
	test_canonical_order();
	test_rdata_order();
	test_transfer_flag();
	test_cache();

	ldns_pkt_free(rp);
	zone_free(zmain);
	zone_free(znotc);
	zone_free(znora);
	zone_free(zunloaded);
	return done_testing();
}
