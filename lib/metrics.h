/* lib/metrics.h -- counters and the Prometheus text format of /metrics. */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Two kinds of counters:
 *
 * - DNS workers count on the query path.  Each worker owns one
 *   struct metrics_dns (metrics_dns_new) and is its only writer: an
 *   increment is a relaxed atomic load and store (a plain add on x86-64 and
 *   arm64, no lock prefix, no shared cache line), so the hot path takes no
 *   lock, allocates nothing and makes no system call.  A scrape sums every
 *   worker's struct with relaxed loads: each value read is one the worker
 *   wrote, and a scrape may see a query counted in one series and not yet
 *   in another (Prometheus tolerates that; counters never go backwards).
 * - The control thread (refresh pipeline, HTTP API) counts into globals of
 *   this module with the same relaxed operations.
 *
 * The text format (metrics_render) is a pure function of a
 * struct metrics_snapshot, so the unit tests check it byte for byte.
 */

enum metrics_transport { METRICS_UDP = 0, METRICS_TCP, METRICS_NTRANSPORTS };

enum metrics_qtype {
	METRICS_QT_A = 0, METRICS_QT_AAAA, METRICS_QT_SRV, METRICS_QT_SOA, METRICS_QT_NS,
	METRICS_QT_ANY, METRICS_QT_OTHER, METRICS_NQTYPES,
};

enum metrics_rcode {
	METRICS_RC_NOERROR = 0, METRICS_RC_FORMERR, METRICS_RC_SERVFAIL, METRICS_RC_NXDOMAIN,
	METRICS_RC_NOTIMP, METRICS_RC_REFUSED, METRICS_RC_BADVERS, METRICS_RC_OTHER,
	METRICS_RC_UPSTREAM,	/* forwarded: the upstream's rcode, relayed as is (not parsed) */
	METRICS_NRCODES,
};

/* Who produced the reply. */
enum metrics_source {
	METRICS_SRC_AUTHORITATIVE = 0,	/* answered from the zone (AA set) */
	METRICS_SRC_FORWARDED,		/* relayed from an upstream resolver */
	METRICS_SRC_LOCAL,		/* any other reply of ours: FORMERR, NOTIMP,
					   REFUSED, SERVFAIL before the first load... */
	METRICS_NSOURCES,
};

/* A UDP thread's reply cache (zone/acache.h), as its totals so far. */
enum metrics_cache {
	METRICS_CACHE_HIT = 0,		/* replies copied from the cache */
	METRICS_CACHE_MISS,		/* replies rendered and added */
	METRICS_CACHE_UNCACHED,		/* replies rendered, the question not cacheable */
	METRICS_CACHE_FLUSH,		/* the cache emptied (a new zone, or full) */
	METRICS_CACHE_BYTES,		/* entries held now */
	METRICS_CACHE_CAPACITY,		/* most it holds */
	METRICS_NCACHE,
};

/* Upper bounds of the histogram buckets (+Inf is implied). */
#define METRICS_DNS_DURATION_NB 12	/* 5 us .. 100 ms */
#define METRICS_DNS_SIZE_NB 11		/* 64 .. 65535 bytes */
#define METRICS_FETCH_DURATION_NB 14	/* 10 ms .. 300 s */
#define METRICS_FETCH_SIZE_NB 8		/* 1 KiB .. 256 MiB */
#define METRICS_BUILD_DURATION_NB 12	/* 1 ms .. 30 s */
#define METRICS_STREAM_DELAY_NB 12	/* 5 ms .. 10 s */
#define METRICS_HIST_MAX 16		/* largest NB above */

extern const double metrics_dns_duration_bounds[METRICS_DNS_DURATION_NB];	/* seconds */
extern const double metrics_dns_size_bounds[METRICS_DNS_SIZE_NB];		/* bytes */
extern const double metrics_fetch_duration_bounds[METRICS_FETCH_DURATION_NB];
extern const double metrics_fetch_size_bounds[METRICS_FETCH_SIZE_NB];
extern const double metrics_build_duration_bounds[METRICS_BUILD_DURATION_NB];
extern const double metrics_stream_delay_bounds[METRICS_STREAM_DELAY_NB];

/* One DNS worker's counters; written by that worker only. */
struct metrics_dns {
	_Atomic uint64_t requests[METRICS_NTRANSPORTS][METRICS_NQTYPES][METRICS_NRCODES]
				 [METRICS_NSOURCES];
	_Atomic uint64_t dropped[METRICS_NTRANSPORTS];	/* no reply (responses, runts) */
	_Atomic uint64_t truncated[METRICS_NTRANSPORTS];	/* records dropped to fit */
	/* per bucket, not cumulative; [NB] counts the rest (+Inf) */
	_Atomic uint64_t duration[METRICS_NTRANSPORTS][METRICS_DNS_DURATION_NB + 1];
	_Atomic uint64_t duration_ns[METRICS_NTRANSPORTS];
	_Atomic uint64_t size[METRICS_NTRANSPORTS][METRICS_DNS_SIZE_NB + 1];
	_Atomic uint64_t size_bytes[METRICS_NTRANSPORTS];
	_Atomic uint64_t cache[METRICS_NCACHE];	/* set by metrics_dns_cache */
	struct metrics_dns *next;	/* registry list (metrics.c) */
};

/* Add v to a counter that only the calling thread writes. */
static inline void metrics_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/*
 * A zeroed counter block registered for scraping; owned by this module
 * (freed by metrics_shutdown), so it outlives the worker and a last scrape
 * still sees its counts.  NULL on out of memory (the caller then counts
 * nothing).  Thread-safe; call at set-up, not per query.
 */
struct metrics_dns *metrics_dns_new(void);

/*
 * The same for another thread of a worker already registered (a worker's UDP
 * thread and its loop thread each write their own block): summed into every
 * series like the others, but not counted in dns_workers.
 */
struct metrics_dns *metrics_dns_new_extra(void);

/* The qtype / rcode slot of a wire value. */
enum metrics_qtype metrics_qtype_of(uint16_t qtype);
enum metrics_rcode metrics_rcode_of(int rcode);

/*
 * Count one reply: reply_len 0 means no reply was sent (counted as dropped,
 * nothing else).  m may be NULL.  Worker thread only.
 */
void metrics_dns_reply(struct metrics_dns *m, enum metrics_transport t, uint16_t qtype,
		       int rcode, enum metrics_source src, size_t reply_len, int truncated);

/* Count a query handed to the forwarder (source forwarded, rcode "upstream";
 * the relayed reply is not sized).  m may be NULL.  Worker thread only. */
void metrics_dns_forwarded(struct metrics_dns *m, enum metrics_transport t, uint16_t qtype);

/* Publish the thread's reply cache figures (totals, not increments), e.g.
 * once per batch of datagrams.  m may be NULL. */
void metrics_dns_cache(struct metrics_dns *m, const uint64_t v[METRICS_NCACHE]);

/* Count the time spent answering one query, in nanoseconds.  m may be NULL. */
void metrics_dns_time(struct metrics_dns *m, enum metrics_transport t, uint64_t ns);

/* ---- control thread ------------------------------------------------- */

/* The outcome of one state fetch (one master asked, or one stateFile read). */
enum metrics_fetch {
	METRICS_FETCH_OK = 0,		/* fetched and built into a zone */
	METRICS_FETCH_FOLLOWER,		/* a follower answered; its leader is asked next */
	METRICS_FETCH_CONNECT,		/* connection, TLS or transfer error */
	METRICS_FETCH_HTTP,		/* non-2xx status */
	METRICS_FETCH_TIMEOUT,		/* stateTimeoutSeconds passed */
	METRICS_FETCH_TOO_BIG,		/* over the size limit */
	METRICS_FETCH_PARSE,		/* not a usable state document (or unreadable file) */
	METRICS_FETCH_NOT_LEADER,	/* named another leader after one was followed */
	METRICS_FETCH_OTHER,		/* anything else (out of memory...) */
	METRICS_NFETCH,
};

/* Count a fetch outcome. */
void metrics_state_fetch(enum metrics_fetch outcome);

/* Map a fetch error code (lib/err.h) to its outcome. */
enum metrics_fetch metrics_fetch_of_error(int code);

/* One HTTP transfer of state ended after seconds; bytes is the body size
 * (0 when it failed: only the duration is observed). */
void metrics_state_transfer(double seconds, size_t bytes);

/* A state document was parsed and built into a zone in seconds. */
void metrics_zone_build(double seconds);

/* Why a refresh built no zone: its state was the last build's byte for byte
 * (or the same stateFile), or only in its model (the parser's fingerprint,
 * lib/statesax.c). */
enum metrics_skip { METRICS_SKIP_SAME_STATE, METRICS_SKIP_SAME_MODEL, METRICS_NSKIP };

/* A refresh's state was not built: the zone it would give stands. */
void metrics_zone_build_skipped(enum metrics_skip why);

/* The leading master changed (compared between successful loads). */
void metrics_leader_change(void);

/* One HTTP API request answered with status. */
void metrics_http_request(int status);

/* ---- event stream (stateSource "stream"; control thread) ---------------- */

/* How one SUBSCRIBE attempt ended (each attempt counts once). */
enum metrics_stream_result {
	METRICS_SUB_OK = 0,		/* the SUBSCRIBED snapshot arrived: a live subscription */
	METRICS_SUB_UNSUPPORTED,	/* HTTP 404, 405 or 501: no operator API, polling */
	METRICS_SUB_HTTP,		/* another non-2xx status */
	METRICS_SUB_NETWORK,		/* connection or TLS error, or closed before the snapshot */
	METRICS_SUB_TIMEOUT,		/* no snapshot within stateTimeoutSeconds (or connect) */
	METRICS_SUB_BAD_STREAM,		/* bad framing, a record over its limit, or a first
					   record that is not SUBSCRIBED */
	METRICS_SUB_LEADER_MOVED,	/* left for a new leader before the snapshot */
	METRICS_SUB_OTHER,		/* could not start (out of memory...) */
	METRICS_NSUB,
};

/* Why a live subscription (METRICS_SUB_OK) ended. */
enum metrics_stream_end {
	METRICS_END_HEARTBEAT = 0,	/* silent for 3 heartbeat intervals + 1 s */
	METRICS_END_CLOSED,		/* the master closed the stream */
	METRICS_END_NETWORK,		/* connection error */
	METRICS_END_BAD_STREAM,		/* bad framing or a record over its limit */
	METRICS_END_LEADER_MOVED,	/* the leader moved (ZooKeeper) */
	METRICS_END_RESUBSCRIBE,	/* the events no longer matched the model */
	METRICS_END_OTHER,		/* out of memory... */
	METRICS_NEND,
};

/* Event types received; anything else (newer masters) is "other". */
enum metrics_stream_event {
	METRICS_EV_SUBSCRIBED = 0, METRICS_EV_TASK_ADDED, METRICS_EV_TASK_UPDATED,
	METRICS_EV_AGENT_ADDED, METRICS_EV_AGENT_REMOVED, METRICS_EV_FRAMEWORK_ADDED,
	METRICS_EV_FRAMEWORK_UPDATED, METRICS_EV_FRAMEWORK_REMOVED, METRICS_EV_HEARTBEAT,
	METRICS_EV_OTHER, METRICS_NEVENTS,
};

/* The slot of an event's "type" value (len bytes, not NUL-terminated). */
enum metrics_stream_event metrics_stream_event_of(const char *type, size_t len);

/* The daemon follows the event stream: the stream families appear on
 * /metrics from now on (they are left out while polling). */
void metrics_stream_enable(void);

/* Count a SUBSCRIBE attempt's outcome; METRICS_SUB_OK also sets connected. */
void metrics_stream_subscription(enum metrics_stream_result res);

/* A live subscription ended: clears connected. */
void metrics_stream_disconnect(enum metrics_stream_end why);

/* Count one event received (a record of the stream, heartbeats included). */
void metrics_stream_event(enum metrics_stream_event type);

/* A zone built from the stream was published seconds after the arrival of
 * the oldest event it includes. */
void metrics_stream_publish_delay(double seconds);

/* Free every registered block; call after the workers stopped. */
void metrics_shutdown(void);

/* ---- snapshot and rendering ------------------------------------------ */

/* A histogram: bounds[nb] upper bounds; counts[nb + 1] per bucket (not cumulative). */
struct metrics_hist {
	const double *bounds;
	size_t nb;
	uint64_t counts[METRICS_HIST_MAX + 1];
	double sum;
};

/* Forwarding statistics of one upstream, summed over the workers. */
struct metrics_upstream {
	const char *name;		/* "8.8.8.8:53"; borrowed */
	uint64_t queries;		/* exchanges started */
	uint64_t replies;		/* replies accepted */
	uint64_t failures;		/* network errors, SERVFAIL/REFUSED replies */
	uint64_t timeouts;
	double latency_sum;		/* seconds, summed over the replies */
	int down;			/* marked down now */
};

/* Record counts by type in the zone served. */
enum metrics_rr { METRICS_RR_A = 0, METRICS_RR_AAAA, METRICS_RR_SRV, METRICS_RR_SOA,
		  METRICS_RR_NS, METRICS_NRR };

/* Everything /metrics shows, gathered at scrape time. */
struct metrics_snapshot {
	const char *version;

	/* DNS workers, summed */
	uint64_t requests[METRICS_NTRANSPORTS][METRICS_NQTYPES][METRICS_NRCODES][METRICS_NSOURCES];
	uint64_t dropped[METRICS_NTRANSPORTS];
	uint64_t truncated[METRICS_NTRANSPORTS];
	struct metrics_hist duration[METRICS_NTRANSPORTS];
	struct metrics_hist size[METRICS_NTRANSPORTS];
	uint64_t cache[METRICS_NCACHE];
	int dns_workers;

	/* forwarding (has_forward 0 when off) */
	int has_forward;
	uint64_t fwd_forwarded;		/* client queries handed to the forwarder */
	uint64_t fwd_servfail;		/* every upstream failed: our SERVFAIL */
	uint64_t fwd_rejected;		/* in-flight bound reached: SERVFAIL at once */
	uint64_t fwd_dropped;		/* upstream replies dropped (address, ID, question) */
	uint64_t fwd_inflight;
	const struct metrics_upstream *upstreams;
	size_t nupstreams;

	/* state pipeline */
	uint64_t fetches[METRICS_NFETCH];
	struct metrics_hist fetch_duration;
	struct metrics_hist fetch_size;
	struct metrics_hist build_duration;
	uint64_t refresh_success, refresh_failure;
	uint64_t zone_changes;
	uint64_t builds_skipped[METRICS_NSKIP];
	uint64_t leader_changes;
	double last_success;		/* unix time, 0 = never */
	double now;			/* unix time of the scrape */

	/* zone */
	int zone_loaded;
	uint32_t zone_serial;
	uint64_t zone_records[METRICS_NRR];
	uint64_t zone_memory;

	/* ZooKeeper: zk_connected -1 when not configured */
	int zk_connected;
	int zk_has_leader;
	uint64_t zk_leader_changes;
	uint64_t zk_session_expiries;

	/* event stream (has_stream 0 while polling: the families are left out) */
	int has_stream;
	int stream_connected;
	uint64_t stream_subscriptions[METRICS_NSUB];
	uint64_t stream_disconnects[METRICS_NEND];
	uint64_t stream_events[METRICS_NEVENTS];
	struct metrics_hist stream_publish_delay;

	/* HTTP API */
	uint64_t http_requests[600];	/* by status code */
	uint64_t http_connections;	/* open now */
};

/*
 * Fill the parts of s this module owns: DNS worker sums, fetch, build,
 * leader, event stream and HTTP counters, the histograms' bounds.  Zeroes s first; the
 * caller adds the rest (zone, refresh stats, upstreams, zk, version).
 */
void metrics_collect(struct metrics_snapshot *s);

/*
 * The Prometheus text format (version 0.0.4) of s: HELP and TYPE lines,
 * names prefixed mesosdns_, base units, counters ending in _total, label
 * values escaped.  Returns a NUL-terminated string the caller frees with
 * free() (*len set to its length when len is not NULL), or NULL on out of
 * memory.
 */
char *metrics_render(const struct metrics_snapshot *s, size_t *len);

/*
 * A label value escaped for the text format (\ -> \\, " -> \", newline ->
 * \n) into out; returns out, cut (never mid-escape) when outlen is short.
 */
char *metrics_escape_label(const char *in, char *out, size_t outlen);

/* A sample value as the text format writes it: integers without a decimal
 * point, shortest round-trip otherwise, +Inf, -Inf, NaN.  Returns out. */
char *metrics_format_value(double v, char *out, size_t outlen);
