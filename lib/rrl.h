/* lib/rrl.h -- response rate limiting for UDP: a token bucket per client prefix. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/*
 * One limiter belongs to one DNS worker thread and is used by that thread
 * only (no lock).  Clients are grouped by prefix, /24 for IPv4 and /56 for
 * IPv6 (an IPv4-mapped IPv6 address counts as IPv4), and each prefix has a
 * token bucket holding up to `rate` tokens (one second's worth) that refills
 * at `rate` tokens a second; every reply takes one.  Buckets live in a table
 * of fixed size allocated once: a query allocates nothing.  When every slot a
 * prefix may use is taken, the one seen least recently is given over to it
 * (so under a flood of many prefixes a bucket may start afresh: the limit
 * errs on the side of answering).
 *
 * Time is passed in by the caller, in milliseconds of any monotonic clock,
 * so one clock read can serve a whole batch of datagrams.
 */
struct rrl;

enum rrl_verdict {
	RRL_SEND,	/* within the rate: send the reply */
	RRL_DROP,	/* over the rate: send nothing */
	RRL_SLIP,	/* over the rate: send a truncated reply (TC=1, no records) */
};

/* Counters of one limiter since rrl_new. */
struct rrl_stats {
	uint64_t sent, dropped, slipped;
	uint64_t evicted;	/* buckets handed over to another prefix */
};

/*
 * A limiter of `rate` replies a second per prefix (>= 1) where every
 * `slip`-th limited reply of a prefix is slipped (0: all dropped; 1: all
 * slipped), with `slots` buckets (rounded up to a power of two, at least 16).
 * NULL on out of memory or rate < 1.  Free with rrl_free().
 */
struct rrl *rrl_new(int rate, int slip, size_t slots);

/* NULL is a no-op. */
void rrl_free(struct rrl *r);

/* Decide about one reply to the client at peer (AF_INET or AF_INET6; other
 * families are always RRL_SEND) at time now_ms. */
enum rrl_verdict rrl_check(struct rrl *r, const struct sockaddr *peer, uint64_t now_ms);

/*
 * Turn the reply msg (len bytes, as built by zone/answer.c) into its slipped
 * form in place: header and question kept, TC set, every other section
 * emptied (the OPT too).  Returns the new length: header and question, or
 * the header alone (QDCOUNT 0) when the question cannot be walked; a msg
 * shorter than a header is left as it is.
 */
size_t rrl_slip_reply(uint8_t *msg, size_t len);

/* The counters, copied into *st. */
void rrl_stats(const struct rrl *r, struct rrl_stats *st);
