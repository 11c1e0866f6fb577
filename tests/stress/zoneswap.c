/* tests/stress/zoneswap.c -- answering threads against concurrent zone swaps.
 *
 * What the DNS workers do, without the sockets: NREADERS threads answer
 * queries with answer_query() on the zone they get from zonepub_reader_enter()
 * (lib/zonepub.h, the daemon's publication point), one to eight questions a
 * read-side section as a UDP batch, while the main thread builds zone after
 * zone and hands each to zonepub_publish(), which frees the previous one
 * after the grace period.  Some readers also take a zone_ref()
 * inside the read-side section and answer from it after leaving, as a zone
 * transfer does.  Built with -fsanitize=thread by `make test-tsan`, where a
 * race or a use after free in either path is a TSan report (exit 66).
 *
 * Zone generation k is recognisable in every reply: hI.mesos has the A
 * records 10.<k> and 11.<I> (24-bit values), _svc._tcp.mesos has SRV
 * records to h0..h3 on port 1000 + k % 50000 with their addresses as
 * additional records, the SOA serial is SERIAL0 + k, and the number of names
 * varies with k (NBASE + k % 5 * NSTEP), so a missing name is a checkable
 * NXDOMAIN too.  Each reply must come from one generation, between the last
 * one whose publication had finished before the query and the last one
 * started after it: a torn, stale or freed zone fails that.
 *
 * Usage: zoneswap [seconds]   (default 3); prints TAP.
 */
#include <ldns/ldns.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/zonepub.h"
#include "tests/unit/tap.h"
#include "zone/acache.h"
#include "zone/answer.h"
#include "zone/zone.h"

#define NREADERS 3
#define SERIAL0  1700000000u
#define NBASE    40		/* h0..h39 are in every generation */
#define NSTEP    60
#define NSRV     4		/* _svc._tcp.mesos -> h0..h3 */
#define REF_EVERY 16		/* one read-side section in 16 takes a zone reference */

static atomic_uint gen_started;	/* last generation handed to zonepub_publish */
static atomic_uint gen_done;	/* last generation whose zonepub_publish returned */
static atomic_int stopping;

struct reader {
	pthread_t tid;
	unsigned seed;
	long queries, via_ref, bad, switches;
	char first_bad[256];
	struct acache *cache;	/* the reader's replies (UDP ones), as a DNS worker has */
};

static unsigned names_in(unsigned k)
{
	return NBASE + k % 5 * NSTEP;
}

static uint16_t srv_port(unsigned k)
{
	return (uint16_t)(1000 + k % 50000);
}

/* a.(v >> 16).(v >> 8).v */
static struct ipaddr addr24(uint8_t a, unsigned v)
{
	struct ipaddr ip = { .af = 4, .b = { a, (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v } };
	return ip;
}

static struct zone *make_generation(unsigned k)
{
	struct zone_params p = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 60,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400, .edns_max = 1232,
	};
	struct zone_builder *b = zone_builder_new(&p);
	char name[32];
	int rc = b ? 0 : -1;

	for (unsigned i = 0; rc == 0 && i < names_in(k); i++) {
		struct ipaddr gen = addr24(10, k), idx = addr24(11, i);

		snprintf(name, sizeof(name), "h%u.mesos", i);
		rc = zone_builder_add_addr(b, name, &gen) || zone_builder_add_addr(b, name, &idx);
		if (rc == 0 && i < NSRV)
			rc = zone_builder_add_srv(b, "_svc._tcp.mesos", 0, 1, srv_port(k), name);
	}
	if (rc) {
		zone_builder_free(b);
		return NULL;
	}
	return zone_builder_finish(b, NULL, SERIAL0 + k);
}

/* The 24-bit value of an A record under prefix a, or -1. */
static long a_value(const ldns_rr *rr, uint8_t a)
{
	const ldns_rdf *d = ldns_rr_get_type(rr) == LDNS_RR_TYPE_A ? ldns_rr_rdf(rr, 0) : NULL;
	const uint8_t *b = d && ldns_rdf_size(d) == 4 ? ldns_rdf_data(d) : NULL;

	return b && b[0] == a ? (long)b[1] << 16 | b[2] << 8 | b[3] : -1;
}

/*
 * Check one reply to "hI.mesos A" (srv 0) or "_svc._tcp.mesos SRV" (srv 1);
 * set *gen to the generation it came from.  NULL when consistent, else why not.
 */
static const char *check_reply(ldns_pkt *p, unsigned i, int srv, long *gen)
{
	ldns_rr_list *an = ldns_pkt_answer(p), *ns = ldns_pkt_authority(p);
	ldns_rr_list *ar = ldns_pkt_additional(p);
	long k = -1;

	if (!ldns_pkt_aa(p))
		return "AA not set";
	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN) {
		ldns_rr *soa = ldns_rr_list_rr_count(ns) == 1 ? ldns_rr_list_rr(ns, 0) : NULL;

		if (srv || !soa || ldns_rr_get_type(soa) != LDNS_RR_TYPE_SOA)
			return "NXDOMAIN without the SOA, or for the SRV name";
		k = (long)ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) - SERIAL0;
		*gen = k;
		return i >= names_in((unsigned)k) ? NULL : "NXDOMAIN for a name of its generation";
	}
	if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR)
		return "rcode neither NOERROR nor NXDOMAIN";
	if (!srv) {
		long g = -1, idx = -1;

		for (size_t j = 0; j < ldns_rr_list_rr_count(an); j++) {
			long v10 = a_value(ldns_rr_list_rr(an, j), 10);
			long v11 = a_value(ldns_rr_list_rr(an, j), 11);

			g = v10 >= 0 ? v10 : g;
			idx = v11 >= 0 ? v11 : idx;
		}
		*gen = g;
		if (ldns_rr_list_rr_count(an) != 2 || g < 0 || idx != (long)i)
			return "answer is not {10.<gen>, 11.<index>}";
		return i < names_in((unsigned)g) ? NULL : "name answered beyond its generation";
	}
	if (ldns_rr_list_rr_count(an) != NSRV || ldns_rr_list_rr_count(ar) != 2 * NSRV)
		return "SRV reply without 4 answers and 8 additional records";
	for (size_t j = 0; j < ldns_rr_list_rr_count(ar); j++) {
		long v = a_value(ldns_rr_list_rr(ar, j), 10);

		if (v >= 0 && k >= 0 && v != k)
			return "additional records from two generations";
		k = v >= 0 ? v : k;
	}
	*gen = k;
	for (size_t j = 0; j < NSRV; j++) {
		ldns_rr *rr = ldns_rr_list_rr(an, j);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SRV || k < 0 ||
		    ldns_rdf2native_int16(ldns_rr_rdf(rr, 2)) != srv_port((unsigned)k))
			return "SRV port and additional records from different generations";
	}
	return NULL;
}

/* Ask z one random question; count it in r.  *last is the reader's last generation. */
static void ask(struct reader *r, const struct zone *z, unsigned lo, long *last,
		uint8_t *out)
{
	unsigned i = (unsigned)rand_r(&r->seed) % (NBASE + 5 * NSTEP);
	int srv = rand_r(&r->seed) % 4 == 0;
	char name[32];
	struct answer_req req = { .tcp = rand_r(&r->seed) & 1, .rotate = (uint32_t)r->queries,
				  .cache = r->cache };
	struct answer_info info;
	ldns_pkt *q, *p = NULL;
	uint8_t *wire = NULL;
	size_t qlen, n = 0;
	const char *why = "query not built";
	long k = -1;

	snprintf(name, sizeof(name), srv ? "_svc._tcp.mesos" : "h%u.mesos", i);
	q = ldns_pkt_query_new(ldns_dname_new_frm_str(name),
			       srv ? LDNS_RR_TYPE_SRV : LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
	if (q && ldns_pkt2wire(&wire, q, &qlen) == LDNS_STATUS_OK) {
		n = answer_query(z, wire, qlen, out, req.tcp ? ANSWER_MAX : 512, &req, &info);
		why = n && ldns_wire2pkt(&p, out, n) == LDNS_STATUS_OK ? check_reply(p, i, srv, &k)
								      : "no reply, or unparsable";
	}
	/* Read after answering: the zone's generation cannot be newer than this. */
	unsigned hi = atomic_load(&gen_started);
	if (!why && (k < (long)lo || k > (long)hi))
		why = "generation outside [last published, last started]";
	if (why && r->bad++ == 0)
		snprintf(r->first_bad, sizeof(r->first_bad), "%s %s: %s (gen %ld, range %u..%u)",
			 name, srv ? "SRV" : "A", why, k, lo, hi);
	r->switches += *last >= 0 && k != *last;
	*last = k;
	r->queries++;
	ldns_pkt_free(p);
	ldns_pkt_free(q);
	free(wire);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	static _Thread_local uint8_t out[ANSWER_MAX];
	long last = -1;

	/* Small, so it also empties itself when full, not only at a new zone. */
	r->cache = acache_new(256 * 1024);
	if (!r->cache)
		abort();
	zonepub_reader_register();
	while (!atomic_load(&stopping)) {
		/* Read before entering: the zone seen is at least this generation. */
		unsigned lo = atomic_load(&gen_done);
		const struct zone *z = zonepub_reader_enter();

		if (rand_r(&r->seed) % REF_EVERY) {
			/* As the UDP thread's batch: 1-8 questions in one section. */
			for (int b = 1 + rand_r(&r->seed) % 8; b > 0; b--)
				ask(r, z, lo, &last, out);
			zonepub_reader_leave();
			continue;
		}
		/* As a zone transfer: a reference outlives the read-side section. */
		struct zone *held = zone_ref(z);
		zonepub_reader_leave();
		for (int j = 0; j < 4; j++)
			ask(r, held, lo, &last, out);
		zone_free(held);
		r->via_ref += 4;
	}
	zonepub_reader_unregister();
	acache_free(r->cache);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	struct reader rd[NREADERS];
	unsigned k = 0, failed_builds = 0;
	long queries = 0, via_ref = 0, bad = 0, switches = 0, idle = 0;

	struct zone *z0 = make_generation(0);
	if (!z0) {
		printf("not ok 1 - build generation 0\n1..1\n");
		return 1;
	}
	zonepub_init(z0);
	memset(rd, 0, sizeof(rd));
	for (int i = 0; i < NREADERS; i++) {
		rd[i].seed = 0x5eed + (unsigned)i;
		if (pthread_create(&rd[i].tid, NULL, reader_main, &rd[i]) != 0) {
			printf("not ok 1 - start reader %d\n1..1\n", i);
			return 1;
		}
	}
	double end = now_s() + seconds;
	while (now_s() < end) {
		struct zone *z = make_generation(k + 1);

		if (!z) {
			failed_builds++;
			break;
		}
		k++;
		atomic_store(&gen_started, k);
		zonepub_publish(z);
		atomic_store(&gen_done, k);
	}
	atomic_store(&stopping, 1);
	for (int i = 0; i < NREADERS; i++) {
		pthread_join(rd[i].tid, NULL);
		queries += rd[i].queries;
		via_ref += rd[i].via_ref;
		bad += rd[i].bad;
		switches += rd[i].switches;
		idle += rd[i].queries == 0;
		if (rd[i].bad)
			printf("# reader %d: %ld bad replies, first: %s\n", i, rd[i].bad, rd[i].first_bad);
	}
	zonepub_shutdown();

	is_int(failed_builds, 0, "every generation was built");
	ok(k >= 10, "%u generations published in %.1f s (at least 10)", k, seconds);
	ok(idle == 0, "each of %d readers answered queries (%ld in all)", NREADERS, queries);
	ok(switches > 0, "readers saw the generation change %ld times between replies", switches);
	ok(via_ref > 0, "%ld replies answered through a zone reference after the read-side section",
	   via_ref);
	is_int(bad, 0, "every reply came whole from a generation published during its query");
	return done_testing();
}
