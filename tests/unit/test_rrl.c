/* tests/unit/test_rrl.c -- response rate limiting: bucket math, slip, prefixes, collisions. */
#include "lib/rrl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/unit/tap.h"

/* An address literal as a sockaddr (IPv4 or IPv6). */
static const struct sockaddr *sa(const char *ip)
{
	static struct sockaddr_storage ss[8];
	static int next;
	struct sockaddr_storage *s = &ss[next++ % 8];

	memset(s, 0, sizeof(*s));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)s;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)s;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	return (const struct sockaddr *)s;
}

/* Replies sent out of n asked at time t. */
static int sends(struct rrl *r, const char *ip, int n, uint64_t t)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += rrl_check(r, sa(ip), t) == RRL_SEND;
	return k;
}

static void test_bucket(void)
{
	struct rrl *r = rrl_new(10, 0, 64);
	struct rrl_stats st;

	ok(r != NULL, "a limiter of 10/s");
	is_int(sends(r, "192.0.2.1", 25, 1000), 10, "a burst gets one second's worth");
	is_int(sends(r, "192.0.2.1", 5, 1050), 0, "50 ms later: half a token, nothing sent");
	is_int(sends(r, "192.0.2.1", 5, 1100), 1, "100 ms after the burst: one token");
	is_int(sends(r, "192.0.2.1", 5, 1400), 3, "300 ms more: three tokens");
	is_int(sends(r, "192.0.2.1", 50, 9000), 10, "a long pause refills to the cap, no more");
	is_int(sends(r, "192.0.2.1", 5, 8000), 0, "a clock going back refills nothing");
	/* Steady 10/s in 10 ms steps: one reply in ten steps, 20 in 2 s. */
	int k = 0;
	for (uint64_t t = 20000; t < 22000; t += 10)
		k += sends(r, "192.0.2.1", 3, t);
	ok(k >= 29 && k <= 30, "steady load gets the rate: %d replies in 2 s (20 + the burst of 10)", k);
	rrl_stats(r, &st);
	is_int(st.slipped, 0, "slip 0 slips nothing");
	ok(st.dropped > 0 && st.sent > 0, "drops and sends counted");
	rrl_free(r);

	ok(rrl_new(0, 2, 16) == NULL, "rate 0 is no limiter");
	ok(rrl_new(1, -1, 16) == NULL, "negative slip is refused");
	rrl_free(NULL);

	r = rrl_new(1000000, 0, 16);
	is_int(sends(r, "192.0.2.1", 1000, 5), 1000, "a large rate does not overflow");
	rrl_free(r);
}

static void test_slip(void)
{
	struct rrl *r = rrl_new(1, 3, 16);
	int v[10];

	for (int i = 0; i < 10; i++)
		v[i] = rrl_check(r, sa("198.51.100.7"), 500);
	is_int(v[0], RRL_SEND, "the first reply goes");
	is_int(v[1], RRL_DROP, "limited 1: dropped");
	is_int(v[2], RRL_DROP, "limited 2: dropped");
	is_int(v[3], RRL_SLIP, "limited 3: slipped");
	is_int(v[6], RRL_SLIP, "limited 6: slipped");
	is_int(v[9], RRL_SLIP, "limited 9: slipped");
	struct rrl_stats st;
	rrl_stats(r, &st);
	is_int(st.sent, 1, "one sent");
	is_int(st.slipped, 3, "three slipped");
	is_int(st.dropped, 6, "six dropped");
	rrl_free(r);

	r = rrl_new(1, 1, 16);
	rrl_check(r, sa("198.51.100.7"), 0);
	int all = 1;
	for (int i = 0; i < 20; i++)
		all &= rrl_check(r, sa("198.51.100.7"), 0) == RRL_SLIP;
	ok(all, "slip 1 slips every limited reply");
	rrl_free(r);

	/* The slipped form of a reply: question kept, TC, no records. */
	uint8_t m[64] = { 0x12, 0x34, 0x85, 0x00, 0, 1, 0, 2, 0, 1, 0, 1,
			  3, 'f', 'o', 'o', 5, 'm', 'e', 's', 'o', 's', 0, 0, 1, 0, 1,
			  0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1 };
	size_t n = rrl_slip_reply(m, 43);
	is_int(n, 12 + 11 + 4, "header and question left");
	is_int(m[2], 0x87, "TC set, QR/AA/RD kept");
	ok(m[0] == 0x12 && m[1] == 0x34, "ID kept");
	ok(m[5] == 1 && m[7] == 0 && m[9] == 0 && m[11] == 0, "QDCOUNT 1, other counts 0");

	uint8_t bad[20] = { 0, 1, 0x81, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	n = rrl_slip_reply(bad, 18);
	ok(n == 12 && bad[5] == 0 && (bad[2] & 0x02), "a question that cannot be walked: header only");
	uint8_t cut[16] = { 0, 1, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c' };
	is_int(rrl_slip_reply(cut, 16), 12, "a question cut short: header only");
	is_int(rrl_slip_reply(cut, 5), 5, "shorter than a header: left alone");
}

static void test_prefixes(void)
{
	struct rrl *r = rrl_new(2, 0, 1024);

	is_int(sends(r, "10.1.2.3", 5, 0), 2, "10.1.2.3 spends its /24's tokens");
	is_int(sends(r, "10.1.2.200", 5, 0), 0, "10.1.2.200 shares the /24");
	is_int(sends(r, "::ffff:10.1.2.9", 5, 0), 0, "IPv4-mapped IPv6 counts as the same /24");
	is_int(sends(r, "10.1.3.3", 5, 0), 2, "10.1.3.0/24 is another bucket");
	is_int(sends(r, "2001:db8:0:100::1", 5, 0), 2, "an IPv6 client");
	is_int(sends(r, "2001:db8:0:1ff:ffff::2", 5, 0), 0, "the same /56");
	is_int(sends(r, "2001:db8:0:200::1", 5, 0), 2, "the next /56 is another bucket");
	is_int(sends(r, "0.0.10.1", 5, 0), 2, "IPv4 0.0.10.0/24 is not ::a00:0/56");

	struct sockaddr_storage un = { .ss_family = AF_UNIX };
	int all = 1;
	for (int i = 0; i < 10; i++)
		all &= rrl_check(r, (struct sockaddr *)&un, 0) == RRL_SEND;
	ok(all, "other families are not limited");
	rrl_free(r);
}

static void test_collisions(void)
{
	/* 16 slots, 200 prefixes: every home slot is shared and buckets are
	 * handed over, least recently seen first. */
	struct rrl *r = rrl_new(1, 0, 1);
	struct rrl_stats st;
	char ip[32];
	int first = 0;

	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.1", i);
		first += rrl_check(r, sa(ip), (uint64_t)i) == RRL_SEND;
	}
	is_int(first, 200, "a new prefix always gets its burst (the table errs towards answering)");
	rrl_stats(r, &st);
	ok(st.evicted >= 200 - 16, "buckets handed over: %llu", (unsigned long long)st.evicted);

	/* A prefix in use keeps its bucket against a few newcomers. */
	is_int(sends(r, "192.0.2.1", 3, 1000), 1, "192.0.2.0/24 spends its token");
	for (int i = 0; i < 2; i++) {
		snprintf(ip, sizeof(ip), "172.16.%d.1", i);
		rrl_check(r, sa(ip), 1000 + (uint64_t)i);
	}
	is_int(sends(r, "192.0.2.1", 3, 1002), 0, "still limited after two other prefixes came");
	rrl_free(r);

	r = rrl_new(5, 0, 4096);
	int ok_all = 1;
	for (int i = 0; i < 2000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
		ok_all &= sends(r, ip, 6, 0) == 5;
	}
	ok(ok_all, "2000 prefixes in 4096 slots each get exactly their burst");
	rrl_stats(r, &st);
	is_int(st.dropped, 2000, "one drop each");
	rrl_free(r);
}

int main(void)
{
	test_bucket();
	test_slip();
	test_prefixes();
	test_collisions();
	return done_testing();
}
