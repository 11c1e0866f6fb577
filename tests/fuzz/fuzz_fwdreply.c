/* tests/fuzz/fuzz_fwdreply.c -- any bytes as a (query, upstream reply) pair: the checks that guard relaying must hold. */
#include "tests/fuzz/fuzz.h"

#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "lib/forward.h"

/*
 * Input: a 2-byte big-endian length L, then L bytes of client query, then the
 * upstream reply (the rest).  Properties:
 * - fwd_question_parse stays inside its input and yields a lower-case name
 *   of at most 255 bytes ending in the root label;
 * - a reply fwd_reply_check accepts has our ID, QR set and a question whose
 *   name has the client's length and equals it ignoring case, so relaying
 *   (ID and question case put back, as forward.c does) gives a message
 *   whose question is byte-for-byte the client's;
 * - our SERVFAIL for any parsable query parses with ldns, is SERVFAIL, and
 *   passes fwd_reply_check for that query itself;
 * - a query's UDP limit is 512-65535, and an accepted reply cut to it
 *   (fwd_truncate) is its header and question with TC, plus our OPT when
 *   asked: it parses with ldns and still passes fwd_reply_check.
 */

static uint8_t lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static void check_question(const uint8_t *m, size_t len, const struct fwd_question *q)
{
	if (q->namelen < 1 || q->namelen > FWD_NAME_MAX || q->end != 12 + q->namelen + 4 ||
	    q->end > len || q->name[q->namelen - 1] != 0)
		abort();
	for (size_t i = 0; i < q->namelen; i++)
		if (q->name[i] != lc(m[12 + i]))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t relay[65536], sf[1024];
	struct fwd_question q, rq;

	if (size < 2)
		return 0;
	size_t ql = (size_t)data[0] << 8 | data[1];
	if (ql > size - 2)
		ql = size - 2;
	const uint8_t *query = data + 2, *reply = query + ql;
	size_t rl = size - 2 - ql;

	if (fwd_question_parse(query, ql, &q) != 0)
		return 0;
	check_question(query, ql, &q);
	uint16_t id = (uint16_t)(query[0] << 8 | query[1]);
	size_t lim = fwd_udp_limit(query, ql, &q);
	if (lim < 512 || lim > 65535)
		abort();

	/* the reply */
	if (fwd_reply_check(reply, rl, id, &q) == FWD_REPLY_OK) {
		if (rl < 12 || !(reply[2] & 0x80) || reply[0] != query[0] || reply[1] != query[1])
			abort();
		if (fwd_question_parse(reply, rl, &rq) != 0)
			abort();
		check_question(reply, rl, &rq);
		if (rq.namelen != q.namelen || memcmp(rq.name, q.name, q.namelen) != 0 ||
		    rq.qtype != q.qtype || rq.qclass != q.qclass)
			abort();
		memcpy(relay, reply, rl);
		memcpy(relay + 12, query + 12, q.namelen);
		if (memcmp(relay + 12, query + 12, q.end - 12) != 0)
			abort();	/* the relayed question is the client's */
		if (fwd_reply_check(relay, rl, id, &q) != FWD_REPLY_OK)
			abort();
		for (int edns = 0; edns < 2; edns++) {
			memcpy(relay, reply, rl);
			size_t n = fwd_truncate(relay, rl, &q, edns, 1232);
			if (n != q.end + (edns ? 11u : 0u) || !(relay[2] & 0x02) ||
			    fwd_reply_check(relay, n, id, &q) != FWD_REPLY_OK)
				abort();
			ldns_pkt *p = NULL;
			if (ldns_wire2pkt(&p, relay, n) != LDNS_STATUS_OK)
				abort();
			if (!ldns_pkt_tc(p) || ldns_pkt_qdcount(p) != 1 || ldns_pkt_ancount(p) != 0 ||
			    ldns_pkt_edns(p) != (edns != 0))
				abort();
			ldns_pkt_free(p);
		}
	}

	/* our SERVFAIL */
	for (int edns = 0; edns < 2; edns++) {
		size_t n = fwd_servfail(query, ql, &q, edns, 1232, sf, sizeof(sf));
		if (n == 0 || n != q.end + (edns ? 11u : 0u))
			abort();
		if (fwd_reply_check(sf, n, id, &q) != FWD_REPLY_OK)
			abort();
		ldns_pkt *p = NULL;
		if (ldns_wire2pkt(&p, sf, n) != LDNS_STATUS_OK)
			abort();
		if (ldns_pkt_get_rcode(p) != LDNS_RCODE_SERVFAIL || ldns_pkt_qdcount(p) != 1 ||
		    ldns_pkt_edns(p) != (edns != 0))
			abort();
		ldns_pkt_free(p);
	}
	return 0;
}
