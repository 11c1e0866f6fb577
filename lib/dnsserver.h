/* lib/dnsserver.h -- DNS workers (UDP thread + loop thread each) answering over UDP and TCP. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct acl;
struct dnsserver;
struct fwd_config;
struct fwd_stats;
struct fwd_upstream_stats;

struct dnsserver_opts {
	const char *listener;		/* IP literal to bind */
	uint16_t port;
	int workers;			/* workers, >= 1; two threads each */
	int tcp_idle_timeout;		/* seconds a TCP connection may sit idle */
	int tcp_max_connections;	/* across all workers */
	/* Forwarding (behaviour.md §4): names outside the domain from clients in
	 * recurse_from go to the upstreams of forward; others get REFUSED. */
	struct fwd_config *forward;	/* borrowed, outlives the server; NULL: forwarding off
					   (dnsserver_set_forward replaces it) */
	const struct acl *recurse_from;	/* borrowed, outlives the server; NULL: nobody */
	int forward_max_inflight;	/* forwarded queries held at once, across all workers */
	uint16_t edns_udp_size;		/* size in the OPT of our own SERVFAIL replies */
	/* Zone transfers (AXFR/IXFR over TCP, zone/xfr.h) for clients in
	 * transfer_to; others get REFUSED. */
	const struct acl *transfer_to;	/* borrowed, outlives the server; NULL: nobody */
	/* Response rate limiting of UDP replies sent from the zone (lib/rrl.h):
	 * rate_limit replies a second per client prefix and worker, 0: off;
	 * every rate_limit_slip-th limited reply goes out truncated (0: none).
	 * TCP and forwarded queries are never limited. */
	int rate_limit;
	int rate_limit_slip;
};

/*
 * Bind one UDP and one TCP socket per worker (SO_REUSEPORT, so the kernel
 * spreads load) without starting threads.  Returns NULL and writes a message
 * into err on failure (address in use, permission...).  libevent's threading
 * must be on (evthread_use_pthreads) before: other threads make the workers'
 * events active.
 */
struct dnsserver *dnsserver_new(const struct dnsserver_opts *o, char *err, size_t errlen);

/* Start the workers' threads, dns-udpN (UDP) and dns-workerN (TCP, forwarding)
 * for each; they answer from the zone published last.  0 or error. */
int dnsserver_start(struct dnsserver *s);

/* Stop the workers (replies in flight are finished; a UDP thread blocked in
 * recvmmsg is woken at once), join them, close sockets, free.  NULL is a no-op. */
void dnsserver_free(struct dnsserver *s);

/*
 * Replace the forwarding settings after a reload (control thread, workers
 * running or not): forward and recurse_from (either may be NULL: forwarding
 * off, nobody) are owned by the server from now on, and each worker gets its
 * own forwarder on them (max_inflight shared out, edns_udp_size for our
 * SERVFAIL).  Each worker switches on its own loop at its next turn (its UDP
 * thread follows), with no lock on the query path: new queries use the new
 * settings, queries already forwarded finish on the old ones, which are freed
 * once every worker has switched and they are done (dnsserver_forward_reap).
 * Counters carry over.  Open TCP connections keep the recurseFrom verdict of
 * their accept, UDP queries already handed to the loop thread that of their
 * arrival.
 * 0, or MDNS_ENOMEM with nothing changed (forward and recurse_from stay the
 * caller's).
 */
int dnsserver_set_forward(struct dnsserver *s, struct fwd_config *forward,
			  struct acl *recurse_from, int max_inflight, uint16_t edns_udp_size);

/* Free replaced forwarding settings that no worker uses any more (control
 * thread; also done by dnsserver_set_forward).  Call now and then. */
void dnsserver_forward_reap(struct dnsserver *s);

/*
 * Forwarding counters summed over the workers into *tot and up[0..cap)
 * (both zeroed first; either may be NULL), upstream i being
 * dnsserver_forward_upstream_name(s, i); counts of replaced settings are
 * included (per upstream by name); tot->rejected includes the UDP queries
 * turned away because the handover to a worker's forwarder was full.
 * Returns the number of upstreams (0 when forwarding is off).  Control
 * thread (the one calling dnsserver_set_forward) while the server runs.
 */
size_t dnsserver_forward_stats(const struct dnsserver *s, struct fwd_stats *tot,
			       struct fwd_upstream_stats *up, size_t cap);

/* "IP:port" of upstream i (borrowed from the forward config), or "". */
const char *dnsserver_forward_upstream_name(const struct dnsserver *s, size_t i);
