/* lib/forward.h -- forwarding names outside the domain to upstream resolvers (behaviour.md §4). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct event_base;

/*
 * Design (decisions beyond behaviour.md §4, also in README.md):
 * - One struct fwd per DNS worker, on that worker's event_base: queries in
 *   flight, sockets, counters and buffers belong to one thread, so the path
 *   takes no lock.  The upstream table (struct fwd_config) is shared and
 *   read-only except for each upstream's health, which is atomic, so a
 *   timeout seen by one worker spares every worker the next wait.
 * - UDP client -> UDP upstream from a fresh socket per exchange, connect()ed
 *   to the upstream so the kernel picks a random ephemeral source port
 *   (Linux randomises it) and reports ICMP errors; the 16-bit ID comes from
 *   getrandom(2).  TCP client -> a TCP connection per exchange.
 * - A reply is accepted only from the upstream's address and port, with our
 *   ID, opcode QUERY, QR set and the same question (name compared
 *   case-insensitively, type, class); anything else is dropped and counted,
 *   and we keep waiting until the timeout.  The accepted reply is relayed
 *   byte for byte except the ID (the client's again) and the question name,
 *   which gets the client's letter case back (0x20 clients compare it).  We
 *   add no 0x20 randomisation of our own: the upstream is normally a
 *   recursive resolver on a trusted network that does its own.
 * - EDNS (OPT and its options) passes through untouched both ways; so do
 *   RD/CD and the upstream's flags, TC included.
 * - A timeout marks the upstream down for 30 s, doubling up to 300 s while it
 *   stays silent.  A down upstream is skipped while another of the same list
 *   is not down; when its time is up one query re-probes it (the others keep
 *   skipping) and a reply brings it back.  When every upstream of a list is
 *   down they are all tried in order, so a recovered one is found at once.
 *   Network errors (connection refused...) cost no time and do not mark down.
 * - SERVFAIL and REFUSED from an upstream move to the next one; when the
 *   list is exhausted the client gets our SERVFAIL (RA set, question echoed,
 *   an OPT when the query had one).
 */

/* ---- pure parts (no I/O, no clock; unit tests and fuzzers call them) ---- */

#define FWD_NAME_MAX 255

/* A question, read from a query or a reply. */
struct fwd_question {
	uint8_t name[FWD_NAME_MAX];	/* wire form, lower-cased */
	size_t namelen;			/* bytes of name, root label included */
	uint16_t qtype, qclass;
	size_t end;			/* offset just past the question */
};

/*
 * Read the question of msg (len bytes): QDCOUNT must be 1 and the name
 * uncompressed (it is the first name of the message, so a pointer cannot be
 * valid there).  Returns 0 or MDNS_EPARSE.
 */
int fwd_question_parse(const uint8_t *msg, size_t len, struct fwd_question *q);

/* Verdicts of fwd_reply_check(). */
enum fwd_verdict {
	FWD_REPLY_OK = 0,
	FWD_DROP_SHORT,		/* under 12 bytes */
	FWD_DROP_NOT_RESPONSE,	/* QR clear */
	FWD_DROP_ID,		/* not our ID */
	FWD_DROP_OPCODE,	/* opcode is not QUERY */
	FWD_DROP_QUESTION,	/* question missing, unreadable or another one */
	FWD_REPLY_BARE_ERROR,	/* ours, an error rcode without the question
				   (QDCOUNT 0): a failed exchange, not relayed */
};

/*
 * Whether reply r (len bytes) answers our query with ID id and question q.
 * Returns FWD_REPLY_OK, FWD_REPLY_BARE_ERROR or the reason to drop it.
 * RFC 1035 does not make a server echo the question, and some send FORMERR
 * or NOTIMP with a header only (old servers given an OPT, RFC 6891 §7):
 * dropping those left the client waiting out the timeout and the upstream
 * marked down.  Pure.
 */
enum fwd_verdict fwd_reply_check(const uint8_t *r, size_t len, uint16_t id,
				 const struct fwd_question *q);

/* A short text for a verdict ("ID mismatch"...); static, never NULL. */
const char *fwd_verdict_str(enum fwd_verdict v);

/*
 * Our SERVFAIL for query (qlen bytes, question q as parsed from it): the
 * query's ID, RD and CD, QR and RA set, the question as asked, and an OPT
 * with edns_size when edns is set.  Writes into out (cap bytes); returns the
 * length, or 0 when it does not fit.  Pure.
 */
size_t fwd_servfail(const uint8_t *query, size_t qlen, const struct fwd_question *q,
		    bool edns, uint16_t edns_size, uint8_t *out, size_t cap);

/*
 * The most a UDP reply to query (qlen bytes, question q) may hold: 512, or
 * the payload size of its OPT record when that is larger (RFC 6891 §6.2.5).
 * Pure.
 */
size_t fwd_udp_limit(const uint8_t *query, size_t qlen, const struct fwd_question *q);

/*
 * Cut reply (len bytes, its question q) to its header and question with TC
 * set, and an OPT of edns_size when edns (the client sent one), so that the
 * client asks again over TCP (RFC 1035 §4.2.1, RFC 6891 §7): an upstream that
 * ignored the client's limit must not get a reply past it.  The reply's rcode
 * and other flags stay.  Returns the new length (at most len + 11).  Pure.
 */
size_t fwd_truncate(uint8_t *reply, size_t len, const struct fwd_question *q, bool edns,
		    uint16_t edns_size);

/* ---- upstream health (shared by the workers, lock-free) ---- */

#define FWD_BACKOFF_MIN_MS 30000	/* first down period */
#define FWD_BACKOFF_MAX_MS 300000	/* longest down period */

/* One upstream's health; zero-initialised = up. */
struct fwd_health {
	_Atomic int64_t down_until;	/* ms on the monotonic clock; 0 = up */
	_Atomic int64_t backoff;	/* current down period, ms; 0 = up */
};

enum fwd_use {
	FWD_USE = 0,	/* up: use it */
	FWD_PROBE,	/* down, period over: this caller re-probes it */
	FWD_SKIP,	/* down (or being re-probed by another query) */
};

/*
 * Whether to send to this upstream now (now_ms on the monotonic clock).  When
 * the down period is over, exactly one caller gets FWD_PROBE: the upstream
 * stays marked down for hold_ms more (one exchange) so the others keep
 * skipping it until the probe ends.
 */
enum fwd_use fwd_health_check(struct fwd_health *h, int64_t now_ms, int64_t hold_ms);

/* A reply came: the upstream is up.  Returns true when it was down. */
bool fwd_health_ok(struct fwd_health *h);

/*
 * An exchange timed out: down for FWD_BACKOFF_MIN_MS, or twice the last
 * period (at most FWD_BACKOFF_MAX_MS) when it was down already.  Returns the
 * new period in ms.
 */
int64_t fwd_health_fail(struct fwd_health *h, int64_t now_ms);

/* ---- upstream table, shared by every worker ---- */

struct fwd_config;

/*
 * Build the upstream table from cfg: resolvers (or, for an explicit
 * "resolvers": [], the nameservers in resolv_conf that are not this server,
 * see resolvconf.h), zoneResolvers and timeout.  Upstream strings are those
 * config.c accepts ("IP", "IP:port", "[IPv6]:port").  Logs the result.
 * Returns NULL with a message in err on a bad address or out of memory.  The
 * table may have no upstream at all: every name then gets REFUSED.  Free with
 * fwd_config_free() after every struct fwd using it.
 */
struct fwd_config *fwd_config_new(const struct config *cfg, const char *resolv_conf,
				  char *err, size_t errlen);

/* NULL is a no-op. */
void fwd_config_free(struct fwd_config *c);

/*
 * Upstream i's health, shared by every forwarder on c (atomic fields; NULL
 * when i is out of range).  A reload copies it into the new table so a
 * resolver marked down stays down for the rest of its period.
 */
struct fwd_health *fwd_config_health(struct fwd_config *c, size_t i);

/* Number of distinct upstreams (general and per-zone). */
size_t fwd_config_upstreams(const struct fwd_config *c);

/* Number of general resolvers (the list names outside every zone go to). */
size_t fwd_config_resolvers(const struct fwd_config *c);

/* "IP:port" / "[IPv6]:port" of upstream i (borrowed, lives as long as c). */
const char *fwd_config_upstream_name(const struct fwd_config *c, size_t i);

/*
 * The upstreams a (lower-case, wire-form) name goes to: those of the
 * longest zoneResolvers zone containing it, else the general resolvers.
 * Writes up to cap upstream indices into out and returns how many the list
 * has (0: no upstream for that name).  Pure.
 */
size_t fwd_config_route(const struct fwd_config *c, const uint8_t *name, size_t namelen,
			size_t *out, size_t cap);

/* ---- a worker's forwarder ---- */

struct fwd;

/*
 * A forwarder for one worker thread, on base (used only from that thread).
 * max_inflight bounds the queries it holds at once; beyond it a query gets
 * SERVFAIL at once and is counted.  edns_size is the size our own SERVFAIL's
 * OPT advertises.  c is borrowed and must outlive the forwarder.  NULL on
 * out of memory.
 */
struct fwd *fwd_new(struct fwd_config *c, struct event_base *base, int max_inflight,
		    uint16_t edns_size);

/*
 * Drop every query in flight (TCP clients' done callbacks run with msg NULL)
 * and free.  NULL is a no-op.  Call from the worker thread or after it ended.
 */
void fwd_free(struct fwd *f);

/*
 * Reload support.  A worker stops submitting to f (it has a new forwarder)
 * and calls fwd_retire(f) from its thread; queries in flight finish on f.
 * fwd_drained(f), from any thread, is true once f is retired and empty:
 * the worker will not touch f again, so any thread may fwd_free() it (its
 * counters stay readable until then).
 */
void fwd_retire(struct fwd *f);
bool fwd_drained(const struct fwd *f);

/*
 * Forward a UDP client's query (msg, len bytes; copied) that arrived on fd
 * from peer; edns: the query had an OPT.  The reply (relayed or our
 * SERVFAIL) is sent with sendto(fd, ..., peer) later or at once.  Returns 0
 * when the forwarder took the query, MDNS_ENOENT when no upstream serves the
 * name, MDNS_EPARSE when the question is unreadable: in both the caller
 * answers the client itself.
 */
int fwd_submit_udp(struct fwd *f, const uint8_t *msg, size_t len, bool edns, int fd,
		   const struct sockaddr *peer, socklen_t peerlen);

/*
 * Forward a TCP client's query over TCP.  done(ctx, reply, rlen) runs exactly
 * once when the forwarder took the query (return 0): with the reply (a
 * borrowed buffer, valid during the call; no length prefix), or with reply
 * NULL when the query is dropped at fwd_free().  It may run before
 * fwd_submit_tcp returns.  Other returns as fwd_submit_udp; done does not run.
 */
int fwd_submit_tcp(struct fwd *f, const uint8_t *msg, size_t len, bool edns,
		   void (*done)(void *ctx, const uint8_t *reply, size_t rlen), void *ctx);

/* ---- counters ---- */

/* Totals of one or more workers (summed by fwd_stats_add). */
struct fwd_stats {
	uint64_t forwarded;	/* client queries taken by the forwarder */
	uint64_t relayed;	/* upstream replies relayed to clients */
	uint64_t servfail;	/* our SERVFAILs: every upstream failed */
	uint64_t rejected;	/* SERVFAIL at once: in-flight bound reached */
	uint64_t dropped;	/* upstream replies dropped (address, ID, question) */
	uint64_t inflight;	/* queries in flight now */
};

/* Per-upstream counters; index as fwd_config_upstream_name(). */
struct fwd_upstream_stats {
	uint64_t queries;	/* exchanges started */
	uint64_t replies;	/* replies accepted (any rcode) */
	uint64_t failures;	/* network errors, SERVFAIL or REFUSED replies */
	uint64_t timeouts;	/* exchanges that timed out */
	uint64_t skipped;	/* times passed over while down */
	uint64_t latency_us;	/* sum of reply latencies, microseconds */
	bool down;		/* marked down now (shared state, not summed) */
};

/*
 * Add f's counters to *tot and to up[0..nup) (nup at most
 * fwd_config_upstreams()).  Safe from any thread while the worker runs
 * (relaxed atomic reads: each counter is exact, the set is not a snapshot).
 */
void fwd_stats_add(const struct fwd *f, struct fwd_stats *tot,
		   struct fwd_upstream_stats *up, size_t nup);
