/* lib/zk.h -- find the leading Mesos master through ZooKeeper (libzookeeper_mt). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct zk;

/* Longest "host:port" of a master, NUL included. */
#define ZK_HOSTPORT_MAX 300

/* One master registered under the zk path. */
struct zk_master {
	char hostport[ZK_HOSTPORT_MAX];	/* "ip:port", "[v6]:port" or "name:port" */
	int64_t seq;			/* sequence number of its node */
	int json;			/* 1: json.info_ node, 0: protobuf info_ node */
};

/* The detector's state, for logs, /health and metrics (a copy). */
struct zk_status {
	int connected;			/* a ZooKeeper session is established */
	int have_leader;		/* a leader was read in the current session */
	int degraded;			/* no leader for zkDetectionTimeout seconds */
	uint64_t leader_changes;	/* times the leader moved (the first leader counts) */
	uint64_t sessions;		/* sessions established (reconnects within one do not count) */
	uint64_t session_expiries;	/* sessions the server expired */
	char leader[ZK_HOSTPORT_MAX];	/* current (or last known) leader, "" if never */
	size_t nmasters;		/* masters in the last list read */
	time_t since;			/* when have_leader last changed (0 = never) */
};

/*
 * Watch the masters registered under the path of url
 * ("zk://host1:port1,host2:port2/path") from base's loop thread.  The
 * ZooKeeper client's own threads only copy what they receive and post it to
 * the loop (base must have been created after evthread_use_pthreads()).
 * Every change of the master list calls on_change(ctx) from the loop;
 * detection_timeout (seconds) without a leader sets the degraded flag and
 * logs a warning.  Never gives up: lost connections, expired sessions and
 * unreachable ensembles are retried with backoff.  Starts at once.
 * Returns NULL on a malformed url or no memory.
 */
struct zk *zk_new(struct event_base *base, const char *url, int detection_timeout,
		  void (*on_change)(void *ctx), void *ctx);

/* Close the session (waits for the client's threads) and free; NULL is a no-op. */
void zk_free(struct zk *z);

/* The current state (loop thread only). */
void zk_status(const struct zk *z, struct zk_status *out);

/*
 * The masters of the last non-empty list read, leader first, then by
 * sequence number; kept while ZooKeeper is unreachable or names none.
 * *out is malloc'd (caller frees; NULL when *n is 0).  Returns 0 or
 * MDNS_ENOMEM.  Loop thread only.
 */
int zk_masters(const struct zk *z, struct zk_master **out, size_t *n);

/*
 * Split url into the host list ("h1:p1,h2:p2") and the path ("/mesos"),
 * both malloc'd (caller frees).  Returns 0 or MDNS_EINVAL / MDNS_ENOMEM.
 */
int zk_parse_url(const char *url, char **hosts, char **path);
