/* tests/unit/test_notify.c -- NOTIFY messages, retries and answers (RFC 1996), against a local UDP socket. */
#include "lib/notify.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/config.h"
#include "tests/unit/tap.h"
#include "zone/zone.h"

static struct zone *make_zone(const char *apex, uint32_t serial)
{
	struct zone_params p = {
		.domain = apex, .ttl = 60, .soa_minttl = 60,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400, .edns_max = 1232,
	};
	return zone_builder_finish(zone_builder_new(&p), NULL, serial);
}

/* One datagram within ms milliseconds, or 0. */
static size_t recv_one(int fd, uint8_t *buf, size_t cap, int ms, struct sockaddr_in *from)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	socklen_t fl = sizeof(*from);

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &fl);
	return n > 0 ? (size_t)n : 0;
}

/* Run the loop for ms milliseconds. */
static void spin(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void probe_done(void *ctx)
{
	*(int *)ctx = 1;
}

int main(void)
{
	struct event_base *base = event_base_new();
	int sec = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET }, from;
	socklen_t sl = sizeof(sa);
	char json[512], err[256];
	struct config cfg;
	uint8_t buf[1024];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(sec, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(sec, (struct sockaddr *)&sa, &sl);

	/* Default targets: the single addresses of transferTo, port 53. */
	snprintf(json, sizeof(json), "{\"stateFile\": \"x\", \"transferTo\": [\"192.0.2.1\", "
		 "\"10.0.0.0/8\", \"2001:db8::1/128\"]}");
	ok(config_parse(json, strlen(json), &cfg, NULL, NULL, err, sizeof(err)) == 0, "config");
	struct notifier *n = notifier_new(base, &cfg, err, sizeof(err));
	ok(n && notifier_targets(n) == 2, "no notify list: transferTo's two single addresses");
	notifier_free(n);
	config_clear(&cfg);

	snprintf(json, sizeof(json), "{\"stateFile\": \"x\", \"notify\": [\"127.0.0.1:%u\"]}",
		 (unsigned)ntohs(sa.sin_port));
	config_parse(json, strlen(json), &cfg, NULL, NULL, err, sizeof(err));
	n = notifier_new(base, &cfg, err, sizeof(err));
	ok(n && notifier_targets(n) == 1, "one target from notify");

	struct zone *z = make_zone("mesos", 4242);
	notifier_send(n, z);
	size_t len = recv_one(sec, buf, sizeof(buf), 2000, &from);
	ldns_pkt *p = NULL;
	ok(len && ldns_wire2pkt(&p, buf, len) == LDNS_STATUS_OK, "a NOTIFY arrives and parses");
	ok(p && ldns_pkt_get_opcode(p) == LDNS_PACKET_NOTIFY && ldns_pkt_aa(p) && !ldns_pkt_qr(p),
	   "opcode NOTIFY, AA set, a query");
	ok(p && ldns_pkt_qdcount(p) == 1 &&
	   ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)) == LDNS_RR_TYPE_SOA,
	   "question: the apex SOA");
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 2)) == 4242,
	   "answer: the SOA with the new serial");
	uint16_t id = p ? ldns_pkt_id(p) : 0;
	ldns_pkt_free(p);

	/* No answer: the same NOTIFY again after a second. */
	spin(base, 1300);
	len = recv_one(sec, buf, sizeof(buf), 500, &from);
	ok(len > 12 && (uint16_t)(buf[0] << 8 | buf[1]) == id, "unanswered: sent again with its ID");
	is_int(notifier_pending(n), 1, "still pending");

	/* A reply with another ID is ignored; the right one ends it. */
	buf[2] |= 0x80;
	buf[0] ^= 0xff;
	sendto(sec, buf, len, 0, (struct sockaddr *)&from, sizeof(from));
	spin(base, 100);
	is_int(notifier_pending(n), 1, "an answer with another ID is ignored");
	buf[0] ^= 0xff;
	sendto(sec, buf, len, 0, (struct sockaddr *)&from, sizeof(from));
	spin(base, 100);
	is_int(notifier_pending(n), 0, "the answer ends the retries");

	/* A newer serial replaces an unanswered NOTIFY of the same zone. */
	struct zone *z2 = make_zone("mesos", 4243), *r = make_zone("10.in-addr.arpa", 7);
	notifier_send(n, z);
	notifier_send(n, z2);
	notifier_send(n, r);
	is_int(notifier_pending(n), 2, "one pending per zone and target");
	int got4243 = 0, n_msgs = 0;
	while ((len = recv_one(sec, buf, sizeof(buf), 200, &from)) > 0) {
		n_msgs++;
		if (ldns_wire2pkt(&p, buf, len) == LDNS_STATUS_OK) {
			got4243 |= ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0),
								      2)) == 4243;
			ldns_pkt_free(p);
		}
	}
	ok(n_msgs == 3 && got4243, "each sent at once; the newest serial went out");
	/* The start-up probe: the secondaries' serials give a floor. */
	while (recv_one(sec, buf, sizeof(buf), 50, &from) > 0)
		;	/* the retries of the NOTIFYs above */
	const char *apexes[] = { "mesos" };
	int done = 0;
	notifier_probe(n, apexes, 1, 2000, probe_done, &done);
	len = recv_one(sec, buf, sizeof(buf), 2000, &from);
	p = NULL;
	ok(len && ldns_wire2pkt(&p, buf, len) == LDNS_STATUS_OK &&
	   ldns_pkt_get_opcode(p) == LDNS_PACKET_QUERY &&
	   ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)) == LDNS_RR_TYPE_SOA,
	   "the probe asks for the SOA");
	if (p) {
		/* Answered the way NSD does: SOA, and the NS in authority. */
		ldns_rr *soa = NULL, *ns = NULL;
		ldns_rr_new_frm_str(&soa, "mesos. 60 IN SOA ns1.mesos. root.ns1.mesos. 1900000000 60 600 86400 60",
				    0, NULL, NULL);
		ldns_rr_new_frm_str(&ns, "mesos. 60 IN NS ns1.mesos.", 0, NULL, NULL);
		ldns_pkt_set_qr(p, 1);
		ldns_pkt_set_aa(p, 1);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, soa);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, ns);
		uint8_t *w = NULL;
		size_t wl;
		ldns_pkt2wire(&w, p, &wl);
		sendto(sec, w, wl, 0, (struct sockaddr *)&from, sizeof(from));
		free(w);
		ldns_pkt_free(p);
	}
	for (int i = 0; i < 40 && !done; i++)
		spin(base, 25);
	ok(done && notifier_serial_floor(n) == 1900000000u, "the answer's serial is the floor");
	done = 0;
	notifier_probe(n, apexes, 1, 100, probe_done, &done);
	spin(base, 300);
	ok(done && notifier_serial_floor(n) == 0, "no answer: the probe ends after its time, no floor");
	/* Many zones pending to one target at once (reverse zones "auto"): no two
	 * share an ID, or one zone's answer would end another's retries.  With
	 * 1,200 random IDs a repeat is all but certain (1 - e^-11). */
	while (recv_one(sec, buf, sizeof(buf), 50, &from) > 0)
		;	/* retries of the NOTIFYs above, sent while the probe ran */
	{
		static uint8_t seen[65536];
		int dup = 0, got = 0;
		for (int i = 0; i < 1200; i++) {
			char apex[64];
			snprintf(apex, sizeof(apex), "%d.%d.10.in-addr.arpa", i % 250, i / 250);
			struct zone *zi = make_zone(apex, 100);
			notifier_send(n, zi);
			zone_free(zi);
			len = recv_one(sec, buf, sizeof(buf), 500, &from);
			if (len >= 12) {
				uint16_t qid = (uint16_t)(buf[0] << 8 | buf[1]);
				dup += seen[qid]++ > 0;
				got++;
			}
		}
		ok(got == 1200 && dup == 0, "1,200 zones pending to one target: %d sent, %d repeated IDs",
		   got, dup);
	}

	notifier_free(n);	/* with NOTIFYs pending: timers stopped, nothing leaks */
	zone_free(z);
	zone_free(z2);
	zone_free(r);
	config_clear(&cfg);
	close(sec);
	event_base_free(base);
	return done_testing();
}
