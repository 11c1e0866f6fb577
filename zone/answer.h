/* zone/answer.h -- the pure query -> reply function (behaviour.md §3). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct zone;
struct acache;

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
	struct acache *cache;	/* the calling thread's (zone/acache.h), or NULL;
				   used for UDP only */
};

/* What happened, for the caller's counters, logs and forwarding. */
struct answer_info {
	int rcode;		/* full rcode including extended bits; -1 when dropped */
	uint16_t qtype;
	int outside;		/* the name is outside the zone (forwarding candidate) */
	int edns;		/* the query had an OPT record */
	int truncated;		/* records were dropped to fit */
	int authoritative;	/* answered from the zone (AA set) */
	uint16_t transfer;	/* RR_AXFR or RR_IXFR asked over TCP: the reply is
				   REFUSED, for clients not allowed to transfer;
				   a caller that allows this one starts zone/xfr.h */
};

/*
 * Decisions beyond behaviour.md §3:
 * - Check order: runt/QR=1 (no reply), opcode (NOTIMP, question echoed when
 *   readable, no OPT), counts and parse (FORMERR, header only), EDNS version
 *   (BADVERS), class (REFUSED), AXFR/IXFR (NOTIMP on UDP, REFUSED on TCP
 *   with info->transfer set), outside the domain and the reverse zones
 *   (REFUSED, info->outside), not loaded (SERVFAIL).
 * - One record in the authority section is accepted for IXFR only (the
 *   client's SOA, RFC 1995); any other query with NSCOUNT != 0 is FORMERR.
 * - The answering zone is the main zone when the name is under its apex,
 *   else the reverse zone with the longest matching apex (zone_find).
 * - FORMERR also for: a qname over 255 bytes, an OPT whose owner is not the
 *   root or whose options overrun its rdata, forward pointers or pointers
 *   into the header in additional-section names.  Non-OPT additional
 *   records (TSIG, ...) are skipped.
 * - The OPT, when the query had one, is echoed on every reply but FORMERR
 *   and the unknown-opcode NOTIMP; DO is cleared; our size is edns_max.
 * - Positive answers carry no authority section (minimal responses).
 * - Additional section (SRV targets, apex NS host; once per target node, at
 *   most 256 targets) is all or nothing.  Dropping it alone does not set TC
 *   (RFC 2181 §9); TC (when set_tc) marks dropped answer or authority
 *   records.  info->truncated is set in both cases.
 */

/*
 * Answer query q (qlen bytes, no TCP length prefix) from zone z into out
 * (outcap bytes, at least 512; ANSWER_MAX for TCP).  Returns the reply length,
 * or 0 when no reply must be sent (responses, runts).  Pure: no allocation,
 * no I/O, no clock, no global state; safe from any number of threads.  With
 * req->cache the reply may come from, and go into, that cache (the thread's
 * own); it is the same reply but for the order of the additional section.
 * Names outside the zone get REFUSED with info->outside set, so a caller that
 * forwards can do so instead of sending the reply.
 */
size_t answer_query(const struct zone *z, const uint8_t *q, size_t qlen,
		    uint8_t *out, size_t outcap, const struct answer_req *req,
		    struct answer_info *info);
