/* zone/xfr.h -- zone transfer replies (AXFR, RFC 5936; IXFR, RFC 1995), one message at a time. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct zone;
struct xfr;

/* How a transfer is answered. */
enum xfr_kind {
	XFR_ERROR = 0,		/* one error message (info.rcode) */
	XFR_AXFR,		/* AXFR: SOA, every record, SOA */
	XFR_IXFR,		/* IXFR from the history: SOA, (old SOA, removed, new SOA,
				   added) per version, SOA */
	XFR_IXFR_AXFR,		/* IXFR whose serial the history does not reach: the whole zone */
	XFR_IXFR_UPTODATE,	/* IXFR from the current serial: the SOA alone */
};

/* What a transfer is doing, for logs. */
struct xfr_info {
	enum xfr_kind kind;
	uint16_t qtype;		/* RR_AXFR or RR_IXFR */
	int rcode;		/* of the reply (XFR_ERROR: the error) */
	char zone[256];		/* apex as text, with the trailing dot ("" when unknown) */
	uint32_t serial;	/* serial of the zone sent */
	uint32_t client_serial;	/* IXFR: the serial the client has */
	size_t versions;	/* XFR_IXFR: versions in the chain */
	size_t records;		/* records written so far */
	size_t messages;	/* messages written so far */
};

/* Smallest message size xfr_next accepts. */
#define XFR_MSG_MIN 1024

/*
 * 1 when q (qlen bytes) looks like a transfer request: a query (QR clear,
 * opcode QUERY) whose single question asks for AXFR or IXFR.  A cheap
 * peek, so a server can route transfers before answering; xfr_new checks
 * the rest.
 */
int xfr_is_request(const uint8_t *q, size_t qlen);

/*
 * Start the reply to the transfer request q from main, the zone published
 * now (the caller keeps it alive during the call, e.g. inside a read-side
 * section; the transfer takes its own reference, zone_ref, so it may span
 * any number of event-loop turns and zone swaps).  The zone is main or the
 * reverse zone whose apex the question names.  A request that cannot be
 * served becomes a transfer of one error message, as answer_query would
 * answer it (FORMERR, BADVERS, REFUSED for a class other than IN/ANY),
 * NOTAUTH (9) for a name that is not one of our apexes, SERVFAIL before the
 * first load, FORMERR for an IXFR without the client's SOA.  Pure: no I/O,
 * no clock.  Returns NULL only on out of memory; free with xfr_free.
 */
struct xfr *xfr_new(const struct zone *main, const uint8_t *q, size_t qlen);

/*
 * Write the next message (no TCP length prefix) into out: at most cap bytes
 * (cap >= XFR_MSG_MIN; records are packed until the next one does not fit,
 * names compressed within the message).  The question is in the first
 * message only (RFC 5936 §2.2).  Returns the length, or 0 when the transfer
 * is complete (or a record cannot fit in cap).
 */
size_t xfr_next(struct xfr *x, uint8_t *out, size_t cap);

/* Progress and outcome; borrowed from x. */
const struct xfr_info *xfr_get_info(const struct xfr *x);

/* Free x and drop its zone reference (which may free the zone); NULL is a no-op. */
void xfr_free(struct xfr *x);
