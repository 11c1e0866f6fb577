/* lib/rrl.c -- response rate limiting for UDP: a token bucket per client prefix. */
#include "lib/rrl.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Slots looked at for one prefix: its home slot and the next ones. */
#define RRL_PROBE 4
/* Tokens are kept in thousandths, so a refill of rate/1000 tokens per
 * millisecond stays exact for any rate. */
#define RRL_MILLI 1000

struct rrl_bucket {
	uint64_t key;		/* the prefix with its family tag; 0: slot free */
	uint64_t last_ms;	/* last reply decided */
	int64_t tokens;		/* in thousandths of a reply */
	uint32_t limited;	/* replies limited so far, for the slip count */
};

struct rrl {
	int64_t rate;		/* replies a second, also the bucket size */
	uint32_t slip;
	size_t mask;		/* slots - 1 */
	struct rrl_stats st;
	struct rrl_bucket *b;
};

struct rrl *rrl_new(int rate, int slip, size_t slots)
{
	if (rate < 1 || slip < 0)
		return NULL;
	size_t n = 16;
	while (n < slots && n < ((size_t)1 << 30))
		n <<= 1;
	struct rrl *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->b = calloc(n, sizeof(*r->b));
	if (!r->b) {
		free(r);
		return NULL;
	}
	r->rate = rate;
	r->slip = (uint32_t)slip;
	r->mask = n - 1;
	return r;
}

void rrl_free(struct rrl *r)
{
	if (!r)
		return;
	free(r->b);
	free(r);
}

/* The client's prefix as a table key (never 0): /24 of IPv4 (also when
 * mapped into IPv6), /56 of IPv6.  0 for other families. */
static uint64_t prefix_key(const struct sockaddr *peer)
{
	const uint8_t *a;
	uint64_t k = 0;

	if (peer->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
		return (4ULL << 56) | (uint64_t)a[0] << 16 | (uint64_t)a[1] << 8 | a[2];
	}
	if (peer->sa_family != AF_INET6)
		return 0;
	a = ((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr.s6_addr;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return (4ULL << 56) | (uint64_t)a[12] << 16 | (uint64_t)a[13] << 8 | a[14];
	for (int i = 0; i < 7; i++)
		k = k << 8 | a[i];
	return (6ULL << 56) | k;
}

/* The bucket of key, found or taken over (counted in evicted). */
static struct rrl_bucket *bucket_for(struct rrl *r, uint64_t key, uint64_t now_ms)
{
	size_t home = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & r->mask;
	struct rrl_bucket *free_b = NULL, *oldest = NULL;

	for (size_t i = 0; i < RRL_PROBE; i++) {
		struct rrl_bucket *b = &r->b[(home + i) & r->mask];
		if (b->key == key)
			return b;
		if (!b->key) {
			if (!free_b)
				free_b = b;
		} else if (!oldest || b->last_ms < oldest->last_ms) {
			oldest = b;
		}
	}
	struct rrl_bucket *b = free_b;
	if (!b) {
		b = oldest;
		r->st.evicted++;
	}
	b->key = key;
	b->last_ms = now_ms;
	b->tokens = r->rate * RRL_MILLI;
	b->limited = 0;
	return b;
}

enum rrl_verdict rrl_check(struct rrl *r, const struct sockaddr *peer, uint64_t now_ms)
{
	uint64_t key = prefix_key(peer);
	if (!key) {
		r->st.sent++;
		return RRL_SEND;
	}
	struct rrl_bucket *b = bucket_for(r, key, now_ms);
	int64_t full = r->rate * RRL_MILLI;

	/* Refill for the time since the last reply; a clock that went back
	 * (another caller's older reading) refills nothing. */
	if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms;
		if (dt >= 1000)
			b->tokens = full;
		else
			b->tokens += (int64_t)dt * r->rate;
		if (b->tokens > full)
			b->tokens = full;
		b->last_ms = now_ms;
	}
	if (b->tokens >= RRL_MILLI) {
		b->tokens -= RRL_MILLI;
		r->st.sent++;
		return RRL_SEND;
	}
	b->limited++;
	if (r->slip && b->limited % r->slip == 0) {
		r->st.slipped++;
		return RRL_SLIP;
	}
	r->st.dropped++;
	return RRL_DROP;
}

size_t rrl_slip_reply(uint8_t *msg, size_t len)
{
	if (len < 12)
		return len;
	size_t end = 12;
	bool have_q = msg[4] == 0 && msg[5] == 1;

	/* The question as we wrote it: one uncompressed name, type, class. */
	while (have_q) {
		if (end >= len) {
			have_q = false;
			break;
		}
		uint8_t l = msg[end];
		if (l == 0) {
			end += 1 + 4;
			if (end > len)
				have_q = false;
			break;
		}
		if (l > 63) {
			have_q = false;
			break;
		}
		end += 1 + (size_t)l;
	}
	if (!have_q)
		end = 12;
	msg[2] |= 0x02;		/* TC */
	msg[4] = 0;
	msg[5] = have_q ? 1 : 0;
	memset(msg + 6, 0, 6);	/* ANCOUNT, NSCOUNT, ARCOUNT */
	return end;
}

void rrl_stats(const struct rrl *r, struct rrl_stats *st)
{
	*st = r->st;
}
