/* lib/stream.h -- follow the Mesos master's operator event stream (POST /api/v1 SUBSCRIBE). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/metrics.h"
#include "lib/statemodel.h"

struct config;
struct event_base;
struct fetcher;
struct streamer;

/*
 * With stateSource "stream" the daemon subscribes to the leading master:
 * POST /api/v1 {"type":"SUBSCRIBE"} answers with a response that never ends,
 * RecordIO-framed JSON events ("<length>\n<json>"): SUBSCRIBED (the whole
 * state and the heartbeat interval) first, then one event per change and a
 * HEARTBEAT every interval.  The streamer owns the connection: it frames the
 * records and hands them over (lib/refresh.c applies them to a
 * lib/statemodel.c model in its builder thread), watches for silence,
 * subscribes again with backoff when the stream ends, breaks, goes silent or
 * the leader moves, and fetches /master/state-summary for the framework pids
 * the operator API leaves out.  Everything runs on the control thread's
 * event loop, through the refresher's fetcher (one libcurl multi handle).  It
 * counts for /metrics (lib/metrics.h): each attempt's outcome, why live
 * subscriptions end, events by type.
 */

/* Largest first record (the SUBSCRIBED snapshot): the /master/state limit. */
#define STREAM_MAX_SNAPSHOT (256u * 1024 * 1024)
/* Largest later record: one task, agent or framework. */
#define STREAM_MAX_EVENT (16u * 1024 * 1024)

/* One record handed over, in stream order; a list through next. */
struct stream_record {
	enum statemodel_input kind;	/* an event, or a /master/state-summary */
	uint64_t conn;			/* the connection it came on (stream_hooks.up) */
	int first;			/* the connection's first record: its SUBSCRIBED */
	char *text;			/* owned, NUL-terminated JSON */
	size_t len;
	double arrived;			/* when it was complete (CLOCK_MONOTONIC, seconds) */
	struct stream_record *next;
};

/* Free a list of records; NULL is a no-op. */
void stream_record_free(struct stream_record *rec);

/* What the streamer tells its owner; every hook runs on the event loop and
 * must not call into the fetcher (arming timers is fine). */
struct stream_hooks {
	/*
	 * The masters to subscribe to, most wanted first: *v a malloc'd array of
	 * *n malloc'd "host:port" strings the streamer frees.  Returns 0 or
	 * MDNS_ENOMEM.  Asked before every attempt.
	 */
	int (*masters)(void *ctx, char ***v, size_t *n);
	/* Connection conn was accepted (2xx); master is where it ended up after
	 * redirects ("host:port", borrowed).  Its records follow. */
	void (*up)(void *ctx, uint64_t conn, const char *master);
	/* The next record (owned by the callee from now on).  HEARTBEATs come as beat. */
	void (*record)(void *ctx, struct stream_record *rec);
	/* A HEARTBEAT arrived on conn: the master is alive and nothing changed. */
	void (*beat)(void *ctx, uint64_t conn);
	/*
	 * Connection conn (0 when none had been made) ended or could not be
	 * made; why is one line for the log.  unsupported: the master has no
	 * operator API (HTTP 404, 405 or 501: Mesos before 1.0).  The streamer
	 * tries again by itself.
	 */
	void (*down)(void *ctx, uint64_t conn, int unsupported, const char *why);
};

/*
 * A streamer on base using fetcher f (borrowed; must outlive the streamer;
 * it supplies TLS and authentication) and cfg (borrowed: stateTimeoutSeconds
 * bounds the wait for the snapshot).  hooks (copied) and ctx are the owner's.
 * Nothing happens until stream_start.  NULL when out of memory.
 */
struct streamer *stream_new(struct event_base *base, struct fetcher *f, const struct config *cfg,
			    const struct stream_hooks *hooks, void *ctx);

/* Stop (no hook runs any more) and free; NULL is a no-op.  Not from inside a hook. */
void stream_free(struct streamer *s);

/* Use cfg (borrowed, as in stream_new) from now on, e.g. after a reload. */
void stream_set_config(struct streamer *s, const struct config *cfg);

/* Subscribe to the first master; from then on the streamer keeps a subscription. */
void stream_start(struct streamer *s);

/*
 * The masters may have changed (ZooKeeper): when the first of them is not
 * the master of the subscription (or of the attempt) under way, drop it and
 * subscribe to the new leader at once; when waiting to retry, retry now.
 */
void stream_masters_changed(struct streamer *s);

/* Drop the subscription and subscribe again after the backoff (the model
 * no longer matches the master; why is logged).  Not from inside a hook. */
void stream_resubscribe(struct streamer *s, const char *why);

/*
 * The model took the SUBSCRIBED of conn, which announced heartbeats every
 * seconds (0: none): the next lost connection is retried after the shortest
 * backoff again, and from now on a silence of 3 intervals + 1 s means a dead
 * stream.  Until then (and
 * without heartbeats) the limit is stateTimeoutSeconds before the snapshot
 * and none after it (TCP keepalive still applies).
 */
void stream_set_heartbeat(struct streamer *s, uint64_t conn, double seconds);

/*
 * Ask the master of the subscription for /master/state-summary; the
 * document comes back through hooks.record as a STATEMODEL_SUMMARY record of
 * the same connection.  While one is under way, another follows it.  Does
 * nothing without a subscription.
 */
void stream_fetch_summary(struct streamer *s);

/* 1 while a subscription is accepted and delivering. */
int stream_connected(const struct streamer *s);

/* ---- exposed for the unit tests ----------------------------------------------------- */

/*
 * The type of an event record (len bytes of JSON), for /metrics: the string
 * value of its top-level "type" key, METRICS_EV_OTHER when there is none or
 * it is not one the daemon knows.  Not a parser: it skips values without
 * checking them (the model parses the record).
 */
enum metrics_stream_event stream_event_type(const char *text, size_t len);

/* RecordIO framing */

/*
 * Incremental RecordIO reader: "<decimal length>\n<length bytes>" repeated.
 * Bytes may arrive split anywhere.  A record over its bound (max_first for
 * the first record, max for the others), a length that is not 1..20 digits,
 * or anything else where a length belongs, is an error.  Empty records are
 * skipped.
 */
struct stream_framer {
	size_t max_first, max;		/* bounds; set before the first feed */
	char hdr[24];			/* length digits read so far */
	size_t hlen;
	int in_body;			/* reading a record's bytes */
	size_t want;			/* its length */
	char *buf;			/* its bytes so far (owned) */
	size_t len, cap;
	uint64_t records;		/* records delivered */
};

/* Ready an empty framer with these bounds. */
void stream_framer_init(struct stream_framer *fr, size_t max_first, size_t max);

/* Free the partial record; the framer can be fed again from scratch after init. */
void stream_framer_clear(struct stream_framer *fr);

/*
 * Feed len bytes.  Each complete record goes to emit(ctx, text, len): text is
 * malloc'd, NUL-terminated, and owned by emit from then on; emit returns 0 to
 * go on, non-zero to stop (returned as is).  Returns 0, MDNS_EPARSE (bad
 * framing, message in err), MDNS_ETOOBIG, MDNS_ENOMEM, or emit's value.
 */
int stream_framer_feed(struct stream_framer *fr, const char *data, size_t len,
		       int (*emit)(void *ctx, char *text, size_t len), void *ctx,
		       char *err, size_t errlen);
