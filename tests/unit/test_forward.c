/* tests/unit/test_forward.c -- the pure parts of forwarding: questions, reply checks, SERVFAIL, health, routes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/forward.h"
#include "lib/log.h"
#include "tests/unit/tap.h"

/* A message: 12-byte header (id, flags, qd, an, ns, ar) + qname + type/class + tail. */
static size_t msg(uint8_t *out, uint16_t id, uint16_t flags, uint16_t qd, const char *qname,
		  uint16_t qtype, uint16_t qclass, const uint8_t *tail, size_t taillen)
{
	size_t n = 0;
	uint16_t hdr[6] = { id, flags, qd, 0, 0, 0 };
	for (int i = 0; i < 6; i++) {
		out[n++] = (uint8_t)(hdr[i] >> 8);
		out[n++] = (uint8_t)hdr[i];
	}
	const char *p = qname;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	out[n++] = (uint8_t)(qtype >> 8);
	out[n++] = (uint8_t)qtype;
	out[n++] = (uint8_t)(qclass >> 8);
	out[n++] = (uint8_t)qclass;
	if (tail) {
		memcpy(out + n, tail, taillen);
		n += taillen;
	}
	return n;
}

static void test_question(void)
{
	uint8_t m[600];
	struct fwd_question q;
	size_t n = msg(m, 0x1234, 0x0100, 1, "WwW.Example.COM", 28, 1, NULL, 0);

	is_int(fwd_question_parse(m, n, &q), 0, "parse a question");
	ok(q.namelen == 17 && memcmp(q.name, "\3www\7example\3com\0", 17) == 0,
	   "name in wire form, lower-cased");
	is_int(q.qtype, 28, "type");
	is_int(q.qclass, 1, "class");
	is_int(q.end, n, "end offset");
	is_int(fwd_question_parse(m, n - 1, &q), MDNS_EPARSE, "truncated class: error");
	is_int(fwd_question_parse(m, 15, &q), MDNS_EPARSE, "truncated name: error");
	is_int(fwd_question_parse(m, 11, &q), MDNS_EPARSE, "runt: error");
	m[5] = 2;
	is_int(fwd_question_parse(m, n, &q), MDNS_EPARSE, "QDCOUNT 2: error");
	m[5] = 0;
	is_int(fwd_question_parse(m, n, &q), MDNS_EPARSE, "QDCOUNT 0: error");
	m[5] = 1;
	m[12] = 0xc0;
	is_int(fwd_question_parse(m, n, &q), MDNS_EPARSE, "a compression pointer: error");
	m[12] = 0x43;
	is_int(fwd_question_parse(m, n, &q), MDNS_EPARSE, "label type 0x40: error");

	/* 255 bytes is the longest name: 4 x (63 + 1) = 256 is one too many */
	char big[300];
	memset(big, 'a', sizeof(big));
	big[63] = big[127] = big[191] = '.';
	big[253] = '\0';	/* labels 63, 63, 63, 61: (1+63)*3 + (1+61) + 1 = 255 bytes */
	n = msg(m, 1, 0, 1, big, 1, 1, NULL, 0);
	is_int(fwd_question_parse(m, n, &q), 0, "a 255-byte name is fine");
	is_int(q.namelen, 255, "its length");
	big[253] = 'a';
	big[254] = '\0';
	n = msg(m, 1, 0, 1, big, 1, 1, NULL, 0);
	is_int(fwd_question_parse(m, n, &q), MDNS_EPARSE, "a 256-byte name is not");
	n = msg(m, 1, 0, 1, "", 2, 1, NULL, 0);
	is_int(fwd_question_parse(m, n, &q), 0, "the root name");
	is_int(q.namelen, 1, "root: one byte");
}

static void test_reply_check(void)
{
	uint8_t qm[512], r[512];
	struct fwd_question q;
	static const uint8_t answer[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1 };
	size_t qn = msg(qm, 0xbeef, 0x0100, 1, "www.example.com", 1, 1, NULL, 0);
	size_t n;

	fwd_question_parse(qm, qn, &q);
	n = msg(r, 0xbeef, 0x8180, 1, "www.example.com", 1, 1, answer, sizeof(answer));
	r[7] = 1;
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_REPLY_OK, "the right reply is accepted");
	n = msg(r, 0xbeef, 0x8180, 1, "WWW.EXAMPLE.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_REPLY_OK, "name case does not matter");
	n = msg(r, 0xbeef, 0x8583, 1, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_REPLY_OK, "NXDOMAIN with AA is a reply too");
	n = msg(r, 0xbeef, 0x8380, 1, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_REPLY_OK, "TC reply accepted (relayed as is)");

	n = msg(r, 0xbeee, 0x8180, 1, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_ID, "another ID: dropped");
	n = msg(r, 0xbeef, 0x0100, 1, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_NOT_RESPONSE, "QR clear: dropped");
	n = msg(r, 0xbeef, 0xa180, 1, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_OPCODE, "opcode NOTIFY: dropped");
	n = msg(r, 0xbeef, 0x8180, 1, "www.example.org", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_QUESTION, "another name: dropped");
	n = msg(r, 0xbeef, 0x8180, 1, "ww.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_QUESTION, "a shorter name: dropped");
	n = msg(r, 0xbeef, 0x8180, 1, "www.example.com", 28, 1, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_QUESTION, "another type: dropped");
	n = msg(r, 0xbeef, 0x8180, 1, "www.example.com", 1, 3, NULL, 0);
	is_int(fwd_reply_check(r, n, 0xbeef, &q), FWD_DROP_QUESTION, "another class: dropped");
	n = msg(r, 0xbeef, 0x8181, 0, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, 12, 0xbeef, &q), FWD_REPLY_BARE_ERROR,
	       "FORMERR with a header only: ours, an error of the exchange");
	r[3] = 0x84;
	is_int(fwd_reply_check(r, 12, 0xbeef, &q), FWD_REPLY_BARE_ERROR, "... NOTIMP too");
	r[3] = 0x80;
	is_int(fwd_reply_check(r, 12, 0xbeef, &q), FWD_DROP_QUESTION,
	       "NOERROR without the question: dropped");
	r[3] = 0x81;
	r[1] = 0xee;
	is_int(fwd_reply_check(r, 12, 0xbeef, &q), FWD_DROP_ID, "a bare error with another ID: dropped");
	n = msg(r, 0xbeef, 0x8180, 1, "www.example.com", 1, 1, NULL, 0);
	is_int(fwd_reply_check(r, n - 2, 0xbeef, &q), FWD_DROP_QUESTION, "cut question: dropped");
	is_int(fwd_reply_check(r, 11, 0xbeef, &q), FWD_DROP_SHORT, "under 12 bytes: dropped");
	ok(strcmp(fwd_verdict_str(FWD_DROP_ID), "ID mismatch") == 0, "verdict text");
}

static void test_servfail(void)
{
	uint8_t qm[512], out[512];
	struct fwd_question q;
	static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0 };
	size_t qn = msg(qm, 0x4242, 0x0110, 1, "NaMe.example.com", 1, 1, opt, sizeof(opt));

	qm[11] = 1;	/* ARCOUNT: the OPT */
	fwd_question_parse(qm, qn, &q);
	size_t n = fwd_servfail(qm, qn, &q, false, 1232, out, sizeof(out));
	is_int(n, q.end, "without EDNS: header and question");
	ok(out[0] == 0x42 && out[1] == 0x42, "the client's ID");
	is_int(out[2], 0x81, "QR and RD");
	is_int(out[3], 0x92, "RA, CD as asked, SERVFAIL");
	ok(out[5] == 1 && out[7] == 0 && out[9] == 0 && out[11] == 0, "counts 1/0/0/0");
	ok(memcmp(out + 12, qm + 12, q.end - 12) == 0, "question as asked (case kept)");
	n = fwd_servfail(qm, qn, &q, true, 1232, out, sizeof(out));
	is_int(n, q.end + 11, "with EDNS: an OPT follows");
	is_int(out[11], 1, "ARCOUNT 1");
	ok(out[q.end + 2] == 41 && out[q.end + 3] == 0x04 && out[q.end + 4] == 0xd0,
	   "OPT with our size 1232");
	ok(out[q.end + 7] == 0, "DO not echoed");
	is_int(fwd_servfail(qm, qn, &q, true, 1232, out, q.end + 5), 0, "too small a buffer: 0");
	qm[2] = 0x00;
	fwd_servfail(qm, qn, &q, false, 1232, out, sizeof(out));
	is_int(out[2], 0x80, "RD clear stays clear");
}

/* The client's limit for a UDP reply, and a reply cut to it. */
static void test_truncate(void)
{
	uint8_t qm[512], r[2048];
	struct fwd_question q;
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0 };
	static const uint8_t small_opt[] = { 0, 0, 41, 0x01, 0x00, 0, 0, 0, 0, 0, 0 };
	size_t qn = msg(qm, 0x4242, 0x0100, 1, "big.example.com", 1, 1, NULL, 0);

	fwd_question_parse(qm, qn, &q);
	is_int(fwd_udp_limit(qm, qn, &q), 512, "no OPT: 512");
	qn = msg(qm, 0x4242, 0x0100, 1, "big.example.com", 1, 1, opt, sizeof(opt));
	qm[11] = 1;
	is_int(fwd_udp_limit(qm, qn, &q), 1232, "an OPT of 1232: 1232");
	qn = msg(qm, 0x4242, 0x0100, 1, "big.example.com", 1, 1, small_opt, sizeof(small_opt));
	qm[11] = 1;
	is_int(fwd_udp_limit(qm, qn, &q), 512, "an OPT under 512: 512 (RFC 6891 6.2.5)");
	is_int(fwd_udp_limit(qm, qn - 3, &q), 512, "an OPT cut short: 512");
	qn = msg(qm, 0x4242, 0x0100, 1, "big.example.com", 1, 1, opt, sizeof(opt));
	qm[7] = 1;	/* the same record counted as an answer: not the OPT */
	is_int(fwd_udp_limit(qm, qn, &q), 512, "type 41 outside the additional section: 512");

	/* A reply of 100 A records (1,600 bytes of answers). */
	size_t n = msg(r, 0x4242, 0x8580, 1, "big.example.com", 1, 1, NULL, 0);
	for (int i = 0; i < 100; i++) {
		static const uint8_t a[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 0 };
		memcpy(r + n, a, sizeof(a));
		r[n + 15] = (uint8_t)i;
		n += sizeof(a);
	}
	r[7] = 100;
	size_t t = fwd_truncate(r, n, &q, false, 1232);
	is_int(t, q.end, "without EDNS: cut to header and question");
	ok(r[2] == 0x87 && r[3] == 0x80, "TC set; AA, RD, RA and the rcode kept");
	ok(r[5] == 1 && r[7] == 0 && r[9] == 0 && r[11] == 0, "counts 1/0/0/0");
	r[2] = 0x85;
	t = fwd_truncate(r, n, &q, true, 1232);
	is_int(t, q.end + 11, "with EDNS: our OPT after the question");
	ok(r[11] == 1 && r[q.end + 2] == 41 && r[q.end + 3] == 0x04 && r[q.end + 4] == 0xd0,
	   "ARCOUNT 1, OPT of 1232");
}

static void test_health(void)
{
	struct fwd_health h = { 0 };
	int64_t t = 1000000;

	is_int(fwd_health_check(&h, t, 6000), FWD_USE, "a new upstream is up");
	ok(!fwd_health_ok(&h), "a reply from an up upstream changes nothing");
	is_int(fwd_health_fail(&h, t), FWD_BACKOFF_MIN_MS, "first timeout: down for the minimum");
	is_int(fwd_health_check(&h, t + 1, 6000), FWD_SKIP, "down: skipped");
	is_int(fwd_health_check(&h, t + FWD_BACKOFF_MIN_MS - 1, 6000), FWD_SKIP, "skipped to the end");
	is_int(fwd_health_check(&h, t + FWD_BACKOFF_MIN_MS, 6000), FWD_PROBE,
	       "period over: the first caller re-probes");
	is_int(fwd_health_check(&h, t + FWD_BACKOFF_MIN_MS, 6000), FWD_SKIP,
	       "the second caller keeps skipping during the probe");
	is_int(fwd_health_check(&h, t + FWD_BACKOFF_MIN_MS + 5999, 6000), FWD_SKIP,
	       "... for the probe's hold time");
	t += FWD_BACKOFF_MIN_MS + 6000;
	is_int(fwd_health_fail(&h, t), 2 * FWD_BACKOFF_MIN_MS, "probe timed out: twice as long");
	is_int(fwd_health_check(&h, t + 2 * FWD_BACKOFF_MIN_MS - 1, 6000), FWD_SKIP, "skipped");
	for (int i = 0; i < 10; i++)
		fwd_health_fail(&h, t);
	is_int(fwd_health_fail(&h, t), FWD_BACKOFF_MAX_MS, "the period stops growing at the max");
	is_int(fwd_health_check(&h, t + FWD_BACKOFF_MAX_MS, 6000), FWD_PROBE, "probe after the max");
	ok(fwd_health_ok(&h), "a reply to the probe: up again (reported)");
	is_int(fwd_health_check(&h, t + FWD_BACKOFF_MAX_MS, 6000), FWD_USE, "up: used");
	is_int(fwd_health_fail(&h, t), FWD_BACKOFF_MIN_MS, "down again: back to the minimum");
}

static struct fwd_config *fc_from(const char *json, const char *resolv, struct config *cfg)
{
	char err[512];
	memset(cfg, 0, sizeof(*cfg));
	if (config_parse(json, strlen(json), cfg, NULL, NULL, err, sizeof(err)) != 0) {
		printf("# config: %s\n", err);
		return NULL;
	}
	struct fwd_config *c = fwd_config_new(cfg, resolv, err, sizeof(err));
	if (!c)
		printf("# fwd_config_new: %s\n", err);
	return c;
}

/* Route of a dotted name: the upstream names joined with ','. */
static const char *route(const struct fwd_config *c, const char *name, char *buf, size_t len)
{
	uint8_t qm[600];
	struct fwd_question q;
	size_t idx[16];
	size_t n = msg(qm, 1, 0, 1, name, 1, 1, NULL, 0);

	fwd_question_parse(qm, n, &q);
	size_t k = fwd_config_route(c, q.name, q.namelen, idx, 16);
	buf[0] = '\0';
	for (size_t i = 0; i < k; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "",
			 fwd_config_upstream_name(c, idx[i]));
	return buf;
}

static void test_config(void)
{
	struct config cfg;
	char buf[512];
	struct fwd_config *c;

	c = fc_from("{\"masters\":[\"10.0.0.1:5050\"],"
		    "\"resolvers\":[\"10.0.0.53\",\"10.0.0.54:5353\",\"[2001:db8::53]:53\",\"2001:db8::54\"],"
		    "\"zoneResolvers\":{\"Corp.Example\":[\"10.1.0.1\",\"10.0.0.53:53\"],"
		    "\"lab.example.org\":[\"10.2.0.1:54\"]},\"timeout\":2}", "/nonexistent", &cfg);
	ok(c != NULL, "a forward config from resolvers and zoneResolvers");
	if (!c)
		return;
	is_int(fwd_config_upstreams(c), 6, "distinct upstreams (10.0.0.53 and 10.0.0.53:53 are one)");
	is_str(route(c, "www.google.com", buf, sizeof(buf)),
	       "10.0.0.53:53,10.0.0.54:5353,[2001:db8::53]:53,[2001:db8::54]:53",
	       "other names: the general resolvers, in order, with ports");
	is_str(route(c, "WWW.CORP.EXAMPLE", buf, sizeof(buf)), "10.1.0.1:53,10.0.0.53:53",
	       "a zoneResolvers name (any case): that zone's list only");
	is_str(route(c, "corp.example", buf, sizeof(buf)), "10.1.0.1:53,10.0.0.53:53",
	       "the zone apex itself");
	is_str(route(c, "xcorp.example", buf, sizeof(buf)),
	       "10.0.0.53:53,10.0.0.54:5353,[2001:db8::53]:53,[2001:db8::54]:53",
	       "a suffix that is not on a label boundary is not the zone");
	is_str(route(c, "a.b.lab.example.org", buf, sizeof(buf)), "10.2.0.1:54", "a deeper name");
	is_str(route(c, "example.org", buf, sizeof(buf)),
	       "10.0.0.53:53,10.0.0.54:5353,[2001:db8::53]:53,[2001:db8::54]:53",
	       "the zone's parent is not the zone");
	fwd_config_free(c);
	config_clear(&cfg);

	/* An explicit [] reads resolv.conf, leaving this host out. */
	char path[] = "/tmp/test-forward-resolv-XXXXXX";
	int fd = mkstemp(path);
	const char text[] = "nameserver 127.0.0.1\nnameserver 192.0.2.99\nnameserver 127.0.0.2\n";
	ok(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1), "resolv.conf");
	close(fd);
	c = fc_from("{\"masters\":[\"10.0.0.1:5050\"],\"resolvers\":[],\"listener\":\"127.0.0.1\"}",
		    path, &cfg);
	ok(c != NULL, "resolvers [] with a resolv.conf");
	if (c) {
		is_str(route(c, "www.example.com", buf, sizeof(buf)), "192.0.2.99:53,127.0.0.2:53",
		       "resolv.conf nameservers minus this host");
		fwd_config_free(c);
	}
	config_clear(&cfg);
	/* A link-local nameserver scoped to an interface this host does not
	 * have (a copy of another host's resolv.conf): that line is left out. */
	const char stale[] = "nameserver fe80::1%nosuchif9\nnameserver 192.0.2.99\n"
			     "nameserver fe80::2%1\n";
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, stale, sizeof(stale) - 1) == (ssize_t)(sizeof(stale) - 1),
	   "resolv.conf with an unknown interface");
	close(fd);
	c = fc_from("{\"masters\":[\"10.0.0.1:5050\"],\"resolvers\":[],\"listener\":\"127.0.0.1\"}",
		    path, &cfg);
	ok(c != NULL, "a nameserver on an unknown interface does not fail the config");
	if (c) {
		is_str(route(c, "www.example.com", buf, sizeof(buf)), "192.0.2.99:53,[fe80::2%1]:53",
		       "... it is left out, the other lines kept");
		fwd_config_free(c);
	}
	config_clear(&cfg);
	c = fc_from("{\"masters\":[\"10.0.0.1:5050\"],\"resolvers\":[\"[fe80::1%nosuchif9]:53\"]}",
		    path, &cfg);
	ok(c == NULL, "the same address in the config's own resolvers is an error");
	fwd_config_free(c);
	config_clear(&cfg);
	unlink(path);
	c = fc_from("{\"masters\":[\"10.0.0.1:5050\"],\"resolvers\":[],"
		    "\"zoneResolvers\":{\"corp.example\":[\"10.1.0.1\"]}}", path, &cfg);
	ok(c != NULL, "no resolv.conf: still a config");
	if (c) {
		is_str(route(c, "www.example.com", buf, sizeof(buf)), "",
		       "no general resolvers: no route (the client gets REFUSED)");
		is_str(route(c, "a.corp.example", buf, sizeof(buf)), "10.1.0.1:53",
		       "zoneResolvers still work");
		fwd_config_free(c);
	}
	config_clear(&cfg);
	/* A resolver that is this very server would loop: each query forwarded
	 * to ourselves, again and again, until forwardMaxInflight. */
	static const struct {
		const char *json;
		int ok;
		const char *what;
	} selfs[] = {
		{ "\"listener\":\"127.0.0.1\",\"port\":18053,\"resolvers\":[\"8.8.8.8\",\"127.0.0.1:18053\"]",
		  0, "a resolver at our listener and port: refused" },
		{ "\"listener\":\"0.0.0.0\",\"port\":18053,\"resolvers\":[\"127.0.0.2:18053\"]",
		  0, "a loopback resolver on our port with a wildcard listener: refused" },
		{ "\"listener\":\"::\",\"port\":18053,\"resolvers\":[\"[::1]:18053\"]",
		  0, "the same over IPv6: refused" },
		{ "\"listener\":\"127.0.0.1\",\"port\":18053,"
		  "\"zoneResolvers\":{\"corp.example\":[\"127.0.0.1:18053\"]}",
		  0, "ourselves in zoneResolvers: refused" },
		{ "\"listener\":\"127.0.0.1\",\"port\":18053,\"resolvers\":[\"127.0.0.1:53\"]",
		  1, "a resolver on this host on another port: another server, taken" },
		{ "\"listener\":\"127.0.0.1\",\"port\":18053,\"resolvers\":[\"127.0.0.2:18053\"]",
		  1, "another loopback address on our port, listener not a wildcard: taken" },
	};
	for (size_t i = 0; i < sizeof(selfs) / sizeof(selfs[0]); i++) {
		char json[400], err2[512] = "";
		snprintf(json, sizeof(json), "{\"masters\":[\"10.0.0.1:5050\"],%s}", selfs[i].json);
		memset(&cfg, 0, sizeof(cfg));
		c = NULL;
		if (config_parse(json, strlen(json), &cfg, NULL, NULL, err2, sizeof(err2)) == 0)
			c = fwd_config_new(&cfg, "/nonexistent", err2, sizeof(err2));
		ok((c != NULL) == selfs[i].ok && (c || strstr(err2, "is this server itself")),
		   "%s (%s)", selfs[i].what, c ? "taken" : err2);
		fwd_config_free(c);
		config_clear(&cfg);
	}

	c = fc_from("{\"masters\":[\"10.0.0.1:5050\"]}", path, &cfg);
	ok(c != NULL, "defaults");
	if (c) {
		is_str(route(c, "www.example.com", buf, sizeof(buf)), "8.8.8.8:53",
		       "the default resolver");
		fwd_config_free(c);
	}
	config_clear(&cfg);
	fwd_config_free(NULL);
}

int main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	test_question();
	test_reply_check();
	test_servfail();
	test_truncate();
	test_health();
	test_config();
	return done_testing();
}
