/* zone/answer.h -- the pure query -> reply function (behaviour.md §3). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct zone;

/* RCODEs. */
enum {
	RCODE_NOERROR = 0, RCODE_FORMERR = 1, RCODE_SERVFAIL = 2, RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4, RCODE_REFUSED = 5, RCODE_BADVERS = 16,
};

/* Largest reply the answer function ever writes (TCP). */
#define ANSWER_MAX 65535

/* How the query came in; filled by the caller. */
struct answer_req {
	int tcp;		/* 1: TCP (limit 65535), 0: UDP (512 / EDNS) */
	uint32_t rotate;	/* varies answer order; e.g. a per-thread counter */
};

/* What happened, for the caller's counters, logs and forwarding. */
struct answer_info {
	int rcode;		/* full rcode including extended bits; -1 when dropped */
	uint16_t qtype;
	int outside;		/* the name is outside the zone (forwarding candidate) */
	int edns;		/* the query had an OPT record */
	int truncated;		/* records were dropped to fit */
	int authoritative;	/* answered from the zone (AA set) */
};

/*
 * Answer query q (qlen bytes, no TCP length prefix) from zone z into out
 * (outcap bytes, at least 512; ANSWER_MAX for TCP).  Returns the reply length,
 * or 0 when no reply must be sent (responses, runts).  Pure: no allocation,
 * no I/O, no clock, no global state; safe from any number of threads.
 * Names outside the zone get REFUSED with info->outside set, so a caller that
 * forwards can do so instead of sending the reply.
 */
size_t answer_query(const struct zone *z, const uint8_t *q, size_t qlen,
		    uint8_t *out, size_t outcap, const struct answer_req *req,
		    struct answer_info *info);
