/*
 * lib/dnsserver.c -- DNS worker threads answering over UDP and TCP.
 *
 * Each of the `workers` workers owns one UDP and one TCP socket (SO_REUSEPORT:
 * the kernel spreads clients over the workers) and runs two threads:
 *
 * - dns-udpN, the UDP thread: a plain loop of one blocking
 *   recvmmsg(MSG_WAITFORONE) for up to UDP_BATCH datagrams, their answers
 *   from the zone (rate limiting, metrics) and one sendmmsg.  No epoll, no
 *   libevent, no lock, no allocation.  A wake-up costs that one system call,
 *   where a libevent loop paid epoll_wait + recvmmsg plus its bookkeeping (a
 *   mutex, clock reads, callback activation): at 50,000 q/s the CPU per
 *   100k answers went down by 4% (1.035 -> 0.998 CPU-s, medians of 12
 *   paired runs; bench/floor, the same loop without answering, 0.77), and
 *   the instructions per query in user space by a quarter (3,431 -> 2,620,
 *   bench/profile.sh callgrind).
 * - dns-workerN, the loop thread: a libevent loop with the TCP listener and
 *   connections (zone transfers included), the worker's forwarder
 *   (lib/forward.c), the switch to new forwarding settings and the stop.
 *
 * A UDP query leaves its UDP thread only when the zone does not answer it (a
 * name outside the domain), forwarding is on and the client is in
 * recurseFrom: it goes through a bounded ring (struct fwdq) to the loop
 * thread, which hands it to the forwarder.  Every other UDP query, REFUSED
 * ones included, is answered, rate limited and counted where it arrived.
 *
 * Stop: a flag, then shutdown(SHUT_RD) on the UDP socket, which wakes a
 * recvmmsg blocked on it at once (Linux sets RCV_SHUTDOWN and wakes the
 * readers, though the call itself fails with ENOTCONN on a UDP socket).
 * Should a thread still not end, empty datagrams sent to the listener wake
 * it (udp_join).  Not a receive timeout (SO_RCVTIMEO): the kernel would arm
 * and cancel a timer at every blocking wait: 2-4% more CPU per answer at
 * 50,000 q/s, measured on bench/floor with and without one.
 */
#include "lib/dnsserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "lib/acl.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/forward.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/rrl.h"
#include "lib/zonepub.h"
#include "zone/acache.h"
#include "zone/answer.h"
#include "zone/xfr.h"
#include "zone/zone.h"

/* Stop reading from a TCP client whose unread replies pile up past this. */
#define TCP_OUTPUT_HIGH (256 * 1024)
/* Datagrams taken by one recvmmsg (and replies sent by one sendmmsg). */
#define UDP_BATCH 64
/* A UDP query larger than this is cut short and answered FORMERR. */
#define UDP_IN_MAX 4096
/* The largest UDP reply: ednsUDPSize is at most 4096. */
#define UDP_OUT_MAX 4096
/* The UDP threads' caches of rendered replies (zone/acache.h): 64 MiB in
 * all, 1 to 8 MiB each, so memory does not grow with the CPU count (every
 * worker sees every question: the kernel spreads clients, not names).
 * 8 MiB holds the 36,000 distinct questions of the 10,000-task benchmark;
 * pages are touched only as a cache fills. */
#define ACACHE_TOTAL (64u << 20)
#define ACACHE_MIN (1u << 20)
#define ACACHE_MAX (8u << 20)
/* Rate limiting buckets per worker (lib/rrl.h), 32 bytes each: 1 MiB. */
#define RRL_SLOTS 32768
/* At stop, how long a UDP thread may take to end before it is woken with
 * datagrams (udp_join), in seconds. */
#define UDP_STOP_WAIT_S 1
/*
 * UDP queries to forward waiting for the loop thread, per worker: 256 KiB
 * hold some 2,500 typical queries (a record is 64 bytes + the query), more
 * than the default forwardMaxInflight (2048, shared by the workers), so a
 * burst meets the forwarder's bound before this one.  A power of two (the
 * offsets wrap at 2^32).
 */
#define FWDQ_BYTES (256 * 1024)
/* Queries the loop thread takes from the ring before it lets other events
 * (upstream replies, TCP) run. */
#define FWDQ_DRAIN 256
/*
 * Zone transfers: messages of at most 16 KiB (small enough to interleave
 * with other connections' work, large enough that headers cost nothing),
 * written while the connection's output holds less than XFR_OUTPUT_HIGH and
 * refilled when it drains below XFR_OUTPUT_LOW, so a transfer holds at most
 * ~256 KiB of output however large the zone.
 */
#define XFR_MSG_SIZE (16 * 1024)
#define XFR_OUTPUT_HIGH (256 * 1024)
#define XFR_OUTPUT_LOW (64 * 1024)

/* One UDP query on its way from the UDP thread to the forwarder: a record
 * of the ring, size bytes (a multiple of 8) from one 8-aligned offset. */
struct fwdq_rec {
	uint32_t size;			/* 0: nothing more up to the ring's end */
	uint16_t len;			/* bytes of q */
	uint16_t qtype;
	bool edns;			/* the query has an OPT */
	socklen_t peerlen;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;				/* the client */
	struct timespec t0;		/* when it was read (duration metric) */
	uint8_t q[];
};

/*
 * The handover ring of a worker, records of any size in FWDQ_BYTES: one
 * writer (the UDP thread writes records, then publishes tail once per batch)
 * and one reader (the loop thread uses records, then releases them by
 * advancing head); both are byte offsets that run freely and wrap.  A record
 * never wraps: one that does not fit before the end starts at offset 0 and
 * the rest of the end is skipped (a size 0 there says so).  signalled is set
 * by the writer when it wakes the loop thread (event_active) and cleared by
 * the reader before it drains, so a batch costs at most one wake-up and none
 * is lost.  Allocated with calloc: the pages are only touched once
 * forwarding uses them.
 */
struct fwdq {
	atomic_uint tail;		/* UDP thread */
	atomic_bool signalled;
	char pad_[64];			/* tail and head on separate cache lines */
	atomic_uint head;		/* loop thread */
	_Alignas(8) uint8_t ring[FWDQ_BYTES];
};

/* What a worker's UDP thread owns (the counters are also read by scrapes
 * and by the control thread). */
struct udp_thread {
	pthread_t thread;
	int started;
	struct metrics_dns *metrics;	/* UDP queries answered here (lib/metrics), may be NULL */
	struct rrl *rrl;		/* response rate limiting; NULL: off */
	uint32_t rotate;
	struct acache *cache;		/* replies rendered here (zone/acache.h) */
	unsigned fwdq_tail;		/* where the next record goes (fwdq->tail once published) */
	/* The recurseFrom ACL this thread is reading (NULL: none), a hazard
	 * pointer: the control thread frees no ACL shown here. */
	_Atomic(const struct acl *) hazard;
	_Atomic uint64_t rejected;	/* SERVFAIL at once: the ring was full */
	/* UDP batch: UDP_BATCH datagrams in with one recvmmsg, their replies
	 * out with one sendmmsg (the kernel's per-call cost is most of a
	 * query's, so it is paid once per batch). */
	struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
	struct sockaddr_storage peer[UDP_BATCH];
	uint8_t uin[UDP_BATCH][UDP_IN_MAX];
	uint8_t uout[UDP_BATCH][UDP_OUT_MAX];
};

/* One worker: its sockets, its loop thread and its UDP thread. */
struct dns_worker {
	struct dnsserver *srv;
	int udp_fd;			/* blocking (the UDP thread sleeps in recvmmsg) */
	int tcp_fd;			/* non-blocking (libevent) */
	atomic_bool stopping;		/* the UDP thread is to end */
	/* The UDP thread's view of the forwarding settings, written by the
	 * loop thread at each switch (before seq_seen): recurseFrom while
	 * forwarding is on, else NULL; the size in our SERVFAIL's OPT. */
	_Atomic(const struct acl *) udp_acl;
	atomic_uint udp_edns;
	struct fwdq *fwdq;		/* UDP queries to forward, for the loop thread */
	/* ---- the loop thread ---- */
	pthread_t thread;
	int started;
	struct event_base *base;
	struct event *stop_ev;
	struct event *fwdq_ev;		/* made active by the UDP thread: drain fwdq */
	struct evconnlistener *listener;
	struct tcp_conn *conns;		/* open TCP connections, freed at stop */
	struct fwd *fwd;		/* this worker's forwarder; NULL: forwarding off */
	const struct acl *acl;		/* recurseFrom, read by this thread only */
	/* New forwarding settings posted by dnsserver_set_forward (under switch_mu). */
	pthread_mutex_t switch_mu;
	struct event *switch_ev;
	int has_next;
	struct fwd *next_fwd;
	const struct acl *next_acl;
	uint16_t next_edns;
	unsigned next_seq;
	atomic_uint seq_seen;		/* the generation this worker uses (release) */
	/* Counters of TCP queries and of the UDP queries handed over (lib/metrics),
	 * may be NULL. */
	struct metrics_dns *metrics;
	uint32_t rotate;
	uint8_t in[ANSWER_MAX];
	uint8_t out[ANSWER_MAX + 2];
	char pad_[64];			/* no cache line shared with the UDP thread's fields */
	struct udp_thread udp;
};

/*
 * One set of forwarding settings: the upstream table, recurseFrom and one
 * forwarder per worker.  A reload adds a generation; the old one lives on
 * until every worker has switched away and its queries in flight are done.
 * The list belongs to the control thread.
 */
struct fwd_gen {
	unsigned seq;
	struct fwd_config *fc;		/* NULL: forwarding off */
	struct acl *acl;
	int owned;			/* fc and acl are freed with the generation */
	struct fwd **fwd;		/* one per worker, NULL when off */
	struct fwd_gen *next;		/* older */
};

/* Counters and health of upstreams of generations already freed, so totals
 * never go backwards and a resolver marked down stays down. */
struct fwd_carry {
	char name[112];
	struct fwd_upstream_stats st;
	unsigned seq;			/* 1 + generation the health comes from; 0: none */
	int64_t down_until, backoff;
};

#define CARRY_MAX 256

struct dnsserver {
	struct dnsserver_opts o;
	struct dns_worker *w;
	int nworkers;
	atomic_int tcp_conns;
	struct fwd_gen *gens;		/* current first (control thread) */
	unsigned gen_seq;
	struct fwd_stats carry;
	struct fwd_carry *carry_up;
	size_t ncarry_up;
};

#define UDP_RCVBUF (4 * 1024 * 1024)

static int make_socket(const struct sockaddr *sa, socklen_t salen, int type, char *err, size_t errlen)
{
	int one = 1;
	/* UDP blocking: the worker's UDP thread sleeps in recvmmsg on it (its
	 * sends pass MSG_DONTWAIT).  TCP non-blocking, for libevent. */
	int fd = socket(sa->sa_family,
			type | SOCK_CLOEXEC | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0) {
		snprintf(err, errlen, "dns: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		/*
		 * A receive buffer for bursts and for the moments the worker is
		 * not running (a shared core, a rebuild): the default 208 KiB holds
		 * about 25 ms of queries at 20,000 q/s, and what overflows is
		 * dropped by the kernel.  NSD and Knot ask for 1-4 MiB too.  As
		 * root the FORCE variant passes net.core.rmem_max; otherwise the
		 * kernel caps it there.  Best effort either way.
		 */
		int rcvbuf = UDP_RCVBUF;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	if (bind(fd, sa, salen) < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		char host[INET6_ADDRSTRLEN] = "?";
		int port = 0;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)sa;
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			port = ntohs(s4->sin_port);
		} else {
			const struct sockaddr_in6 *s6 = (const void *)sa;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			port = ntohs(s6->sin6_port);
		}
		snprintf(err, errlen, "dns: cannot bind %s %s port %d: %s",
			 type == SOCK_STREAM ? "TCP" : "UDP", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Answer one query from zone z into out (outcap bytes); rotate is the
 * calling thread's round-robin counter, cache its reply cache or NULL.  The
 * caller is inside a read-side section (zonepub_reader_enter) that gave z. */
static size_t answer_one(const struct zone *z, uint32_t *rotate, struct acache *cache,
			 const uint8_t *q, size_t qlen, int tcp, uint8_t *out, size_t outcap,
			 struct answer_info *info)
{
	struct answer_req req = { .tcp = tcp, .rotate = (*rotate)++, .cache = cache };

	return answer_query(z, q, qlen, out, outcap, &req, info);
}

/* answer_one from the current zone, in a read-side section of its own. */
static size_t answer_current(uint32_t *rotate, const uint8_t *q, size_t qlen, int tcp,
			     uint8_t *out, size_t outcap, struct answer_info *info)
{
	size_t n = answer_one(zonepub_reader_enter(), rotate, NULL, q, qlen, tcp, out, outcap, info);

	zonepub_reader_leave();
	return n;
}

struct tcp_conn {
	struct dns_worker *w;
	struct bufferevent *bev;	/* NULL once closed */
	struct tcp_conn *prev, *next;
	bool may_forward;		/* the client is in recurseFrom */
	bool may_transfer;		/* the client is in transferTo */
	int refs;			/* 1 while open + 1 per forwarded query out */
	double partial_since;		/* clock_mono() when the message now partly
					   read began; 0: none (tcp_partial) */
	/*
	 * A zone transfer under way: it holds a reference on the zone it
	 * sends (zone_ref), not an RCU read-side section, so it may span any
	 * number of loop turns and zone swaps.  While it runs, later queries
	 * on the connection wait unread (their replies must not interleave).
	 */
	struct xfr *xfr;
	char peer[INET6_ADDRSTRLEN + 8];	/* client address, set when may_transfer */
};

static void tcp_fwd_done(void *ctx, const uint8_t *reply, size_t rlen);

/*
 * Count one query in the calling thread's own counters m (lib/metrics.h:
 * relaxed atomics, single writer, no lock, no allocation): handed to the
 * forwarder, or answered with sent bytes (0: no reply).  t0 is when it was
 * read.  CLOCK_MONOTONIC is read through the vDSO, no system call: two reads
 * cost ~40 ns against a ~1-2 us answer.
 */
static void count_query(struct metrics_dns *m, enum metrics_transport t,
			const struct answer_info *info, bool forwarded, size_t sent,
			const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_dns_time(m, t, (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000000000LL +
					  (t1.tv_nsec - t0->tv_nsec)));
	if (forwarded)
		metrics_dns_forwarded(m, t, info->qtype);
	else
		metrics_dns_reply(m, t, info->qtype, info->rcode,
				  info->authoritative ? METRICS_SRC_AUTHORITATIVE : METRICS_SRC_LOCAL,
				  sent, info->truncated);
}

/*
 * Handle one query of TCP connection c (loop thread): answer it from the
 * zone, or hand a name outside the domain to the forwarder when the client
 * may use it (decided once, at accept).  Returns the length of the reply
 * written at out to send now, or 0 when nothing is sent now (no reply is
 * due, or the forwarder replies later).
 */
static size_t tcp_query(struct tcp_conn *c, const uint8_t *q, size_t qlen, uint8_t *out,
			size_t outcap)
{
	struct dns_worker *w = c->w;
	struct answer_info info;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t r = answer_current(&w->rotate, q, qlen, 1, out, outcap, &info);
	bool taken = false;

	if (r && info.outside && w->fwd && c->may_forward) {
		c->refs++;
		taken = fwd_submit_tcp(w->fwd, q, qlen, info.edns != 0, tcp_fwd_done, c) == 0;
		if (!taken)
			c->refs--;	/* no upstream for the name: the REFUSED stands */
	}
	count_query(w->metrics, METRICS_TCP, &info, taken, taken ? 0 : r, &t0);
	return taken ? 0 : r;
}

/* ---- UDP: the UDP thread, and the handover of queries to forward ---- */

/* Receive header i and send header i, set once: a batch then writes only
 * what changes (udp_rmsg_rearm, udp_queue_reply). */
static void udp_msg_init(struct udp_thread *u, int i)
{
	struct msghdr *h = &u->rmsg[i].msg_hdr;

	memset(h, 0, sizeof(*h));
	u->riov[i].iov_base = u->uin[i];
	u->riov[i].iov_len = UDP_IN_MAX;
	h->msg_iov = &u->riov[i];
	h->msg_iovlen = 1;
	h->msg_name = &u->peer[i];
	h->msg_namelen = sizeof(u->peer[i]);
	h = &u->smsg[i].msg_hdr;
	memset(h, 0, sizeof(*h));
	u->siov[i].iov_base = u->uout[i];
	h->msg_iov = &u->siov[i];
	h->msg_iovlen = 1;
}

/* Receive header i ready for the next recvmmsg: of a header it filled, the
 * kernel wrote only the name length and the flags (no control data is
 * asked for), and the datagram's length beside it. */
static void udp_rmsg_rearm(struct udp_thread *u, int i)
{
	u->rmsg[i].msg_hdr.msg_namelen = sizeof(u->peer[i]);
	u->rmsg[i].msg_hdr.msg_flags = 0;
}

/* Queue reply u->uout[m] (len bytes) of datagram i for the batch's sendmmsg
 * (sendmmsg writes only each header's msg_len). */
static void udp_queue_reply(struct udp_thread *u, int m, int i, size_t len)
{
	u->siov[m].iov_len = len;
	u->smsg[m].msg_hdr.msg_name = &u->peer[i];
	u->smsg[m].msg_hdr.msg_namelen = u->rmsg[i].msg_hdr.msg_namelen;
}

/*
 * The recurseFrom ACL of the current forwarding settings (NULL: forwarding
 * off or nobody), held until udp_acl_release.  Hazard pointer: published,
 * then udp_acl read again; once both agree, the control thread sees the
 * hazard before it could free that ACL (gen_done), as the loop thread moves
 * udp_acl away from an ACL before it reports the switch in seq_seen.  Both
 * sides use sequentially consistent operations for that.
 */
static const struct acl *udp_acl_hold(struct dns_worker *w)
{
	const struct acl *a = atomic_load(&w->udp_acl);

	for (;;) {
		atomic_store(&w->udp.hazard, a);
		const struct acl *b = atomic_load(&w->udp_acl);
		if (b == a)
			return a;
		a = b;
	}
}

static void udp_acl_release(struct dns_worker *w)
{
	atomic_store_explicit(&w->udp.hazard, NULL, memory_order_release);
}

/*
 * Put a query to forward (q, len bytes, from peer) in the ring for the loop
 * thread (UDP thread; published by fwdq_publish).  False when the ring is
 * full.
 */
static bool fwdq_push(struct dns_worker *w, const uint8_t *q, size_t len,
		      const struct sockaddr *peer, socklen_t peerlen,
		      const struct answer_info *info, const struct timespec *t0)
{
	struct fwdq *fq = w->fwdq;
	unsigned tail = w->udp.fwdq_tail;
	unsigned used = tail - atomic_load_explicit(&fq->head, memory_order_acquire);
	unsigned pos = tail % FWDQ_BYTES;
	unsigned need = (unsigned)(sizeof(struct fwdq_rec) + len + 7) & ~7u;
	unsigned skip = FWDQ_BYTES - pos < need ? FWDQ_BYTES - pos : 0;

	if (used + skip + need > FWDQ_BYTES || peerlen > sizeof(struct sockaddr_in6))
		return false;
	if (skip) {
		/* The end is too short: mark it skipped (it may be shorter
		 * than a record, hence memcpy), start over at 0. */
		uint32_t none = 0;
		memcpy(fq->ring + pos, &none, sizeof(none));
		pos = 0;
	}
	struct fwdq_rec *r = (struct fwdq_rec *)(fq->ring + pos);
	r->size = need;
	r->len = (uint16_t)len;
	r->qtype = info->qtype;
	r->edns = info->edns != 0;
	r->peerlen = peerlen;
	memcpy(&r->peer, peer, peerlen);
	r->t0 = *t0;
	memcpy(r->q, q, len);
	w->udp.fwdq_tail = tail + skip + need;
	return true;
}

/* Publish the records pushed and wake the loop thread unless it is awake
 * for them already (UDP thread, once per batch). */
static void fwdq_publish(struct dns_worker *w)
{
	atomic_store(&w->fwdq->tail, w->udp.fwdq_tail);
	if (!atomic_exchange(&w->fwdq->signalled, true))
		event_active(w->fwdq_ev, 0, 0);
}

/*
 * The ring is full (the loop thread is behind): do what the forwarder does at
 * its in-flight bound, SERVFAIL at once so the client moves on to its next
 * server, counted in forward_rejected_total and as a forwarded query in the
 * metrics.  The one difference: a name no upstream serves gets SERVFAIL here
 * where the forwarder would have left the REFUSED (the routes are the loop
 * thread's).  Writes our SERVFAIL at out (UDP_OUT_MAX bytes) and returns its
 * length, or 0 when the question is unreadable: the REFUSED then stands, as
 * it would with the forwarder.
 */
static size_t udp_reject(struct dns_worker *w, const uint8_t *q, size_t len,
			 const struct answer_info *info, const struct timespec *t0, uint8_t *out)
{
	struct fwd_question fq;

	if (fwd_question_parse(q, len, &fq) != 0)
		return 0;
	uint16_t edns = (uint16_t)atomic_load_explicit(&w->udp_edns, memory_order_relaxed);
	size_t n = fwd_servfail(q, len, &fq, info->edns != 0, edns, out, UDP_OUT_MAX);
	if (n) {
		metrics_add(&w->udp.rejected, 1);
		count_query(w->udp.metrics, METRICS_UDP, info, true, 0, t0);
	}
	return n;
}

/* The reply cache's figures to /metrics (UDP thread). */
static void udp_publish_cache(struct udp_thread *u)
{
	struct acache_stats cs;

	acache_get_stats(u->cache, &cs);
	uint64_t cv[METRICS_NCACHE] = { cs.hits, cs.misses, cs.passes, cs.flushes, cs.bytes,
					cs.capacity };
	metrics_dns_cache(u->metrics, cv);
}

/* Answer the n datagrams recvmmsg read (UDP thread). */
static void udp_batch(struct dns_worker *w, int n)
{
	struct udp_thread *u = &w->udp;
	const struct acl *acl = NULL;
	bool held = false;
	int m = 0, queued = 0;

	/* Rate limiting: one clock read for the batch (the coarse clock, a few
	 * ms of resolution, is plenty for buckets of one second). */
	uint64_t now_ms = 0;
	if (u->rrl) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	/* One read-side section for the batch (up to UDP_BATCH answers, tens
	 * of microseconds): entering and leaving one costs about 90
	 * instructions (callgrind, bench/profile.sh, at one query a wake-up),
	 * paid once per batch rather than per query.  Nothing in the loop
	 * blocks; replies are copies, so the zone is not used after it. */
	const struct zone *z = zonepub_reader_enter();
	for (int i = 0; i < n; i++) {
		const struct msghdr *h = &u->rmsg[i].msg_hdr;
		const struct sockaddr *peer = (const struct sockaddr *)&u->peer[i];
		size_t len = u->rmsg[i].msg_len;
		if (h->msg_flags & MSG_TRUNC)
			len = UDP_IN_MAX;	/* cut short: it will not parse */
		struct answer_info info;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		size_t r = answer_one(z, &u->rotate, u->cache, u->uin[i], len, 0, u->uout[m],
				      UDP_OUT_MAX, &info);
		if (r && info.outside) {
			/* Outside the domain: forwarding is for clients in
			 * recurseFrom only, checked per datagram. */
			if (!held) {
				acl = udp_acl_hold(w);
				held = true;
			}
			if (acl && acl_match(acl, peer)) {
				if (fwdq_push(w, u->uin[i], len, peer, h->msg_namelen, &info, &t0)) {
					queued++;	/* counted by the loop thread */
					continue;
				}
				size_t sf = udp_reject(w, u->uin[i], len, &info, &t0, u->uout[m]);
				if (sf) {
					/* Not rate limited: a forwarded query. */
					udp_queue_reply(u, m++, i, sf);
					continue;
				}
			}
		}
		count_query(u->metrics, METRICS_UDP, &info, false, r, &t0);
		if (!r)
			continue;
		if (u->rrl) {
			enum rrl_verdict v = rrl_check(u->rrl, peer, now_ms);
			if (v == RRL_DROP)
				continue;
			if (v == RRL_SLIP)
				r = rrl_slip_reply(u->uout[m], r);
		}
		udp_queue_reply(u, m++, i, r);
	}
	zonepub_reader_leave();
	if (held)
		udp_acl_release(w);
	if (queued)
		fwdq_publish(w);
	/* Before the replies leave: a client that got one sees it counted. */
	udp_publish_cache(u);
	/* sendmmsg stops at the first datagram it cannot send: skip that one
	 * (the client retries) and go on with the rest. */
	for (int sent = 0; sent < m;) {
		int k = sendmmsg(w->udp_fd, u->smsg + sent, (unsigned)(m - sent), MSG_DONTWAIT);
		sent += k > 0 ? k : 1;
	}
	/* Only the n headers the kernel filled (a wake-up is often a single query). */
	for (int i = 0; i < n; i++)
		udp_rmsg_rearm(u, i);
}

static void *udp_main(void *arg)
{
	struct dns_worker *w = arg;

	zonepub_reader_register();
	udp_publish_cache(&w->udp);	/* its capacity, before any query */
	for (;;) {
		/* Blocks for the first datagram, then takes what is queued. */
		int n = recvmmsg(w->udp_fd, w->udp.rmsg, UDP_BATCH, MSG_WAITFORONE, NULL);
		/* After shutdown(SHUT_RD) recvmmsg returns at once (an empty
		 * "datagram"): the flag is set before, so it is seen here.
		 * Datagrams that came with it are dropped. */
		if (atomic_load_explicit(&w->stopping, memory_order_acquire))
			break;
		if (n > 0) {
			udp_batch(w, n);
		} else if (n < 0 && errno != EINTR) {
			/* Not expected on a bound UDP socket (ENOMEM...): do
			 * not spin on it. */
			struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
	}
	zonepub_reader_unregister();
	return NULL;
}

/*
 * A UDP query the UDP thread handed over (loop thread): to this worker's
 * forwarder, which relays the reply on the UDP socket.  The recurseFrom
 * verdict is the UDP thread's, like a TCP connection's is that of its
 * accept.  When the forwarder does not take it (no upstream for the name, or
 * forwarding switched off since), the client gets what the zone answers, the
 * REFUSED; that reply is not rate limited (the client is in recurseFrom).
 */
static void udp_forward(struct dns_worker *w, const struct fwdq_rec *r)
{
	struct answer_info info = { .qtype = r->qtype };

	if (w->fwd && fwd_submit_udp(w->fwd, r->q, r->len, r->edns, w->udp_fd, &r->peer.sa,
				     r->peerlen) == 0) {
		count_query(w->metrics, METRICS_UDP, &info, true, 0, &r->t0);
		return;
	}
	size_t n = answer_current(&w->rotate, r->q, r->len, 0, w->out, UDP_OUT_MAX, &info);
	count_query(w->metrics, METRICS_UDP, &info, false, n, &r->t0);
	if (n)
		(void)sendto(w->udp_fd, w->out, n, MSG_DONTWAIT, &r->peer.sa, r->peerlen);
}

/* The UDP thread handed over queries to forward (loop thread). */
static void fwdq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_worker *w = arg;
	struct fwdq *fq = w->fwdq;
	(void)fd; (void)what;

	/* Cleared before tail is read: a record published after this read
	 * wakes the loop again. */
	atomic_store(&fq->signalled, false);
	unsigned head = atomic_load_explicit(&fq->head, memory_order_relaxed);
	unsigned tail = atomic_load(&fq->tail);
	for (int n = 0; head != tail; n++) {
		if (n == FWDQ_DRAIN) {
			/* Let upstream replies and TCP have a turn; back soon. */
			event_active(w->fwdq_ev, 0, 0);
			return;
		}
		unsigned pos = head % FWDQ_BYTES;
		uint32_t size;
		memcpy(&size, fq->ring + pos, sizeof(size));
		if (size == 0) {
			head += FWDQ_BYTES - pos;	/* skipped end */
			pos = 0;
		}
		const struct fwdq_rec *r = (const struct fwdq_rec *)(fq->ring + pos);
		udp_forward(w, r);
		head += r->size;
		atomic_store_explicit(&fq->head, head, memory_order_release);
	}
}

/* ---- TCP (loop thread) ---- */

static void tcp_unref(struct tcp_conn *c)
{
	if (--c->refs == 0)
		free(c);
}

/* Close the connection; the struct lives on while forwarded queries hold it. */
static void tcp_close(struct tcp_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&c->w->srv->tcp_conns, 1);
	if (c->xfr) {
		const struct xfr_info *xi = xfr_get_info(c->xfr);
		log_info("xfr: transfer of %s to %s aborted after %zu records", xi->zone, c->peer,
			 xi->records);
		xfr_free(c->xfr);	/* may free an old zone, here in this worker */
		c->xfr = NULL;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	tcp_unref(c);
}

/* A forwarded query's reply (NULL when dropped) for a TCP client. */
static void tcp_fwd_done(void *ctx, const uint8_t *reply, size_t rlen)
{
	struct tcp_conn *c = ctx;

	if (reply && c->bev) {
		uint8_t len[2] = { (uint8_t)(rlen >> 8), (uint8_t)rlen };
		struct evbuffer *out = bufferevent_get_output(c->bev);
		evbuffer_add(out, len, 2);
		evbuffer_add(out, reply, rlen);
	}
	tcp_unref(c);
}

/* One line per transfer, when it ends: what was sent to whom. */
static void xfr_log(const struct tcp_conn *c, const struct xfr_info *xi)
{
	const char *q = xi->qtype == RR_IXFR ? "IXFR" : "AXFR";

	switch (xi->kind) {
	case XFR_ERROR:
		log_info("xfr: %s from %s answered with rcode %d", q, c->peer, xi->rcode);
		break;
	case XFR_AXFR:
		log_info("xfr: AXFR of %s serial %u to %s: %zu records in %zu messages", xi->zone,
			 xi->serial, c->peer, xi->records, xi->messages);
		break;
	case XFR_IXFR:
		log_info("xfr: IXFR of %s serial %u -> %u (%zu version%s) to %s: %zu records in %zu "
			 "messages", xi->zone, xi->client_serial, xi->serial, xi->versions,
			 xi->versions == 1 ? "" : "s", c->peer, xi->records, xi->messages);
		break;
	case XFR_IXFR_AXFR:
		log_info("xfr: IXFR of %s from serial %u, not in the history: whole zone serial %u "
			 "to %s: %zu records in %zu messages", xi->zone, xi->client_serial,
			 xi->serial, c->peer, xi->records, xi->messages);
		break;
	case XFR_IXFR_UPTODATE:
		log_info("xfr: IXFR of %s to %s: up to date at serial %u", xi->zone, c->peer,
			 xi->serial);
		break;
	}
}

static void tcp_read_cb(struct bufferevent *bev, void *arg);

/*
 * Write transfer messages until the output holds XFR_OUTPUT_HIGH; the write
 * callback (output down to XFR_OUTPUT_LOW) calls again.  At the end, the
 * connection goes back to reading queries.
 */
static void xfr_pump(struct tcp_conn *c)
{
	struct dns_worker *w = c->w;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (evbuffer_get_length(out) < XFR_OUTPUT_HIGH) {
		size_t n = xfr_next(c->xfr, w->out + 2, XFR_MSG_SIZE);
		if (n == 0) {
			xfr_log(c, xfr_get_info(c->xfr));
			xfr_free(c->xfr);
			c->xfr = NULL;
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			bufferevent_enable(c->bev, EV_READ);
			if (evbuffer_get_length(bufferevent_get_input(c->bev)) >= 2)
				tcp_read_cb(c->bev, c);
			return;
		}
		w->out[0] = (uint8_t)(n >> 8);
		w->out[1] = (uint8_t)n;
		evbuffer_add(out, w->out, n + 2);
	}
}

/* A transfer request from a client in transferTo: stream the reply. */
static void xfr_start(struct tcp_conn *c, const uint8_t *q, size_t len)
{
	const struct zone *z = zonepub_reader_enter();
	c->xfr = xfr_new(z, q, len);	/* takes its own zone reference */
	zonepub_reader_leave();
	if (!c->xfr) {
		log_err("dns: out of memory starting a zone transfer for %s", c->peer);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, XFR_OUTPUT_LOW, 0);
	xfr_pump(c);
}

/*
 * A message must arrive whole within tcpIdleTimeout of its first byte.  The
 * idle timeout alone restarts with every byte read, so a client sending one
 * byte a little more often than that held a connection for good, and
 * tcpMaxConnections of them shut TCP out for everyone.
 *
 * tcp_partial: a partial message waits after the complete ones were taken;
 * start its clock, or close the connection when its time is up.
 * tcp_taken: a whole message was taken; the clock of the one before, if any,
 * stops and the idle timeout is whole again.
 */
static void tcp_partial(struct tcp_conn *c)
{
	int idle = c->w->srv->o.tcp_idle_timeout;
	double now = clock_mono();

	if (!c->partial_since)
		c->partial_since = now;
	double left = c->partial_since + idle - now;
	if (left <= 0.001) {
		tcp_close(c);
		return;
	}
	struct timeval rd = clock_tv(left), wr = { .tv_sec = idle };
	bufferevent_set_timeouts(c->bev, &rd, &wr);
}

static void tcp_taken(struct tcp_conn *c)
{
	if (c->partial_since) {
		struct timeval tv = { .tv_sec = c->w->srv->o.tcp_idle_timeout };
		c->partial_since = 0;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct dns_worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);

	if (c->xfr)
		return;	/* queries after a transfer request wait for its end */
	/* Pipelining: answer every complete message in the buffer, in order. */
	for (;;) {
		uint8_t hdr[2];
		size_t have = evbuffer_get_length(in), len = 0;
		if (have >= 2 && evbuffer_copyout(in, hdr, 2) == 2)
			len = (size_t)hdr[0] << 8 | hdr[1];
		if (have < 2 || have < len + 2) {
			if (have)
				tcp_partial(c);	/* may close c: nothing after */
			return;
		}
		tcp_taken(c);
		evbuffer_drain(in, 2);
		evbuffer_remove(in, w->in, len);
		if (c->may_transfer && xfr_is_request(w->in, len)) {
			/* A transfer that ends at once reads the queries after it
			 * (xfr_pump), which may close c: hold it meanwhile. */
			c->refs++;
			xfr_start(c, w->in, len);
			bool gone = !c->bev;
			tcp_unref(c);
			if (gone || c->xfr)
				return;
			continue;
		}
		size_t r = tcp_query(c, w->in, len, w->out + 2, ANSWER_MAX);
		if (r) {
			w->out[0] = (uint8_t)(r >> 8);
			w->out[1] = (uint8_t)r;
			evbuffer_add(out, w->out, r + 2);
		}
		if (evbuffer_get_length(out) > TCP_OUTPUT_HIGH) {
			bufferevent_disable(bev, EV_READ);
			break;
		}
	}
}

static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	if (c->xfr) {
		xfr_pump(c);	/* reads again by itself when the transfer ends */
		return;
	}
	/* Output drained: read again (re-enabling is a no-op when enabled). */
	bufferevent_enable(bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(bev)) >= 2)
		tcp_read_cb(bev, arg);
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	if ((what & BEV_EVENT_TIMEOUT) && !(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) &&
	    c->refs > 1 && !c->partial_since) {
		/* Not idle: forwarded queries are out (RFC 7766 §6.2.3).
		 * libevent disabled the timed-out side; enabling re-arms it. */
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		tcp_close(c);
}

static void tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *arg)
{
	struct dns_worker *w = arg;
	struct dnsserver *s = w->srv;
	(void)l; (void)salen;

	if (atomic_fetch_add(&s->tcp_conns, 1) >= s->o.tcp_max_connections) {
		atomic_fetch_sub(&s->tcp_conns, 1);
		close(fd);
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c || !bev) {
		free(c);
		if (bev)
			bufferevent_free(bev);
		else
			close(fd);
		atomic_fetch_sub(&s->tcp_conns, 1);
		return;
	}
	c->w = w;
	c->bev = bev;
	c->refs = 1;
	c->may_forward = w->fwd && w->acl && acl_match(w->acl, sa);
	c->may_transfer = s->o.transfer_to && acl_match(s->o.transfer_to, sa);
	if (c->may_transfer) {
		char host[INET6_ADDRSTRLEN] = "?";
		const void *addr = sa->sa_family == AF_INET6
					   ? (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr
					   : (const void *)&((struct sockaddr_in *)sa)->sin_addr;
		inet_ntop(sa->sa_family, addr, host, sizeof(host));
		snprintf(c->peer, sizeof(c->peer), "%s", host);
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	struct timeval idle = { .tv_sec = s->o.tcp_idle_timeout };
	bufferevent_set_timeouts(bev, &idle, &idle);
	bufferevent_setcb(bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* New forwarding settings: new queries go to the new forwarder, those in
 * flight finish on the old one, which is then freed by the control thread. */
static void switch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_worker *w = arg;
	(void)fd; (void)what;

	pthread_mutex_lock(&w->switch_mu);
	if (!w->has_next) {
		pthread_mutex_unlock(&w->switch_mu);
		return;
	}
	struct fwd *old = w->fwd;
	w->fwd = w->next_fwd;
	w->acl = w->next_acl;
	w->has_next = 0;
	unsigned seq = w->next_seq;
	uint16_t edns = w->next_edns;
	pthread_mutex_unlock(&w->switch_mu);
	if (old)
		fwd_retire(old);
	/* The UDP thread's view next; the old ACL may go (once the UDP
	 * thread's hazard pointer has left it, gen_done) after seq_seen. */
	atomic_store_explicit(&w->udp_edns, edns, memory_order_relaxed);
	atomic_store(&w->udp_acl, w->fwd ? w->acl : NULL);
	atomic_store_explicit(&w->seq_seen, seq, memory_order_release);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_worker *w = arg;
	(void)fd; (void)what;
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct dns_worker *w = arg;
	zonepub_reader_register();
	event_base_dispatch(w->base);
	zonepub_reader_unregister();
	return NULL;
}

static int parse_listener(const struct dnsserver_opts *o, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, o->listener, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, o->listener, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

struct dnsserver *dnsserver_new(const struct dnsserver_opts *o, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct dnsserver *s;

	if (parse_listener(o, &ss, &sslen) != 0) {
		snprintf(err, errlen, "dns: listener %s is not an IP address", o->listener);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = *o;
	s->nworkers = o->workers > 0 ? o->workers : 1;
	s->w = calloc((size_t)s->nworkers, sizeof(*s->w));
	s->gens = calloc(1, sizeof(*s->gens));
	if (!s->w || !s->gens)
		goto fail;
	/* The first generation's table and ACL are the caller's (borrowed). */
	s->gens->fc = o->forward;
	s->gens->acl = (struct acl *)o->recurse_from;
	s->gens->fwd = calloc((size_t)s->nworkers, sizeof(*s->gens->fwd));
	if (!s->gens->fwd)
		goto fail;
	size_t cache_bytes = ACACHE_TOTAL / (size_t)s->nworkers;
	cache_bytes = cache_bytes < ACACHE_MIN ? ACACHE_MIN :
		      cache_bytes > ACACHE_MAX ? ACACHE_MAX : cache_bytes;
	for (int i = 0; i < s->nworkers; i++) {
		struct dns_worker *w = &s->w[i];
		w->srv = s;
		w->acl = o->recurse_from;
		atomic_init(&w->udp_acl, o->forward ? o->recurse_from : NULL);
		atomic_init(&w->udp_edns, o->edns_udp_size);
		pthread_mutex_init(&w->switch_mu, NULL);
		/* The UDP thread's block counts as the worker (dns_workers). */
		w->udp.metrics = metrics_dns_new();
		w->metrics = metrics_dns_new_extra();
		w->udp_fd = w->tcp_fd = -1;
		for (int k = 0; k < UDP_BATCH; k++)
			udp_msg_init(&w->udp, k);
		w->udp.cache = acache_new(cache_bytes);
		if (!w->udp.cache) {
			snprintf(err, errlen, "dns: out of memory");
			goto fail;
		}
		if (o->rate_limit > 0) {
			w->udp.rrl = rrl_new(o->rate_limit, o->rate_limit_slip, RRL_SLOTS);
			if (!w->udp.rrl) {
				snprintf(err, errlen, "dns: out of memory");
				goto fail;
			}
		}
		/* Also without forwarding: a reload may turn it on. */
		w->fwdq = calloc(1, sizeof(*w->fwdq));
		if (!w->fwdq) {
			snprintf(err, errlen, "dns: out of memory");
			goto fail;
		}
		w->base = event_base_new();
		if (!w->base)
			goto fail;
		w->udp_fd = make_socket((struct sockaddr *)&ss, sslen, SOCK_DGRAM, err, errlen);
		if (w->udp_fd < 0)
			goto fail;
		w->tcp_fd = make_socket((struct sockaddr *)&ss, sslen, SOCK_STREAM, err, errlen);
		if (w->tcp_fd < 0)
			goto fail;
		if (o->forward) {
			/* Each worker gets its share of the bound, rounded up. */
			int share = (o->forward_max_inflight + s->nworkers - 1) / s->nworkers;
			w->fwd = fwd_new(o->forward, w->base, share, o->edns_udp_size);
			s->gens->fwd[i] = w->fwd;
			if (!w->fwd) {
				snprintf(err, errlen, "dns: out of memory");
				goto fail;
			}
		}
		w->fwdq_ev = event_new(w->base, -1, 0, fwdq_cb, w);
		w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
		w->switch_ev = event_new(w->base, -1, 0, switch_cb, w);
		/* Backlog 0: the socket already listens with 1024; libevent's -1
		 * would listen() again with 128, and a burst of connections beyond
		 * it would be left half-open (SYN cookies), never accepted. */
		w->listener = evconnlistener_new(w->base, tcp_accept_cb, w, 0, 0, w->tcp_fd);
		if (!w->fwdq_ev || !w->stop_ev || !w->switch_ev || !w->listener) {
			snprintf(err, errlen, "dns: cannot set up worker events");
			goto fail;
		}
	}
	return s;
fail:
	dnsserver_free(s);
	return NULL;
}

/* Start a thread named prefix + i (shown by top -H and ps -L, 15 bytes
 * kept).  0 or the pthread_create error. */
static int thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *prefix, int i)
{
	int rc = pthread_create(t, NULL, fn, arg);

	if (rc == 0) {
		char name[32];
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		name[15] = '\0';
		pthread_setname_np(*t, name);
	}
	return rc;
}

int dnsserver_start(struct dnsserver *s)
{
	for (int i = 0; i < s->nworkers; i++) {
		struct dns_worker *w = &s->w[i];
		int rc = thread_start(&w->thread, worker_main, w, "dns-worker", i);
		if (rc != 0)
			return -rc;
		w->started = 1;
		rc = thread_start(&w->udp.thread, udp_main, w, "dns-udp", i);
		if (rc != 0)
			return -rc;
		w->udp.started = 1;
	}
	log_info("dns: serving on %s port %u (UDP and TCP, %d worker%s, two threads each)",
		 s->o.listener, (unsigned)s->o.port, s->nworkers, s->nworkers == 1 ? "" : "s");
	if (s->o.rate_limit > 0 && s->o.rate_limit_slip > 0)
		log_info("dns: UDP replies limited to %d/s per client /24 or /56 and worker, "
			 "1 in %d limited replies sent truncated, the others dropped",
			 s->o.rate_limit, s->o.rate_limit_slip);
	else if (s->o.rate_limit > 0)
		log_info("dns: UDP replies limited to %d/s per client /24 or /56 and worker, "
			 "limited replies dropped", s->o.rate_limit);
	return 0;
}

/* Empty datagrams to the listener (loopback for a wildcard) from as many
 * source ports, which SO_REUSEPORT spreads over the workers' sockets. */
static void udp_poke(const struct dnsserver *s, int count)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_listener(&s->o, &ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		if (a->sin_addr.s_addr == htonl(INADDR_ANY))
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
			a->sin6_addr = in6addr_loopback;
	}
	for (int k = 0; k < count; k++) {
		int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return;
		(void)sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&ss, len);
		close(fd);
	}
}

/*
 * Join the UDP threads, told to stop.  shutdown(SHUT_RD) has woken them;
 * should one still wait in recvmmsg after UDP_STOP_WAIT_S, datagrams wake it
 * (16 per worker a round, so each socket very likely gets one), until it
 * ends: the stop never hangs, and the query path pays nothing for it.
 */
static void udp_join(struct dnsserver *s)
{
	for (int i = 0; i < s->nworkers; i++) {
		struct udp_thread *u = &s->w[i].udp;
		struct timespec dl;
		if (!u->started)
			continue;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += UDP_STOP_WAIT_S;
		while (pthread_timedjoin_np(u->thread, NULL, &dl) == ETIMEDOUT) {
			log_warn("dns: dns-udp%d did not end at shutdown(); waking it with datagrams", i);
			udp_poke(s, 16 * s->nworkers);
			dl.tv_sec += UDP_STOP_WAIT_S;
		}
	}
}

/* Free a generation's forwarders (workers done with them) and, when owned,
 * its table and ACL. */
static void gen_free(struct dnsserver *s, struct fwd_gen *g)
{
	for (int i = 0; g->fwd && i < s->nworkers; i++)
		fwd_free(g->fwd[i]);
	free(g->fwd);
	if (g->owned) {
		fwd_config_free(g->fc);
		acl_free(g->acl);
	}
	free(g);
}

void dnsserver_free(struct dnsserver *s)
{
	if (!s)
		return;
	/* The UDP threads first (all woken, then joined), while the loop
	 * threads they wake for forwarding still run.  shutdown() fails with
	 * ENOTCONN on an unconnected UDP socket but still wakes the reader. */
	for (int i = 0; s->w && i < s->nworkers; i++) {
		struct dns_worker *w = &s->w[i];
		if (w->udp.started) {
			atomic_store_explicit(&w->stopping, true, memory_order_release);
			(void)shutdown(w->udp_fd, SHUT_RD);
		}
	}
	if (s->w)
		udp_join(s);
	for (int i = 0; s->w && i < s->nworkers; i++) {
		struct dns_worker *w = &s->w[i];
		if (w->started) {
			event_active(w->stop_ev, 0, 0);
			pthread_join(w->thread, NULL);
		}
	}
	/* The forwarders first (every generation's): they release the
	 * connections they hold. */
	while (s->gens) {
		struct fwd_gen *g = s->gens;
		s->gens = g->next;
		gen_free(s, g);
	}
	for (int i = 0; s->w && i < s->nworkers; i++) {
		struct dns_worker *w = &s->w[i];
		while (w->conns)
			tcp_close(w->conns);
		if (w->listener)
			evconnlistener_free(w->listener);
		if (w->fwdq_ev)
			event_free(w->fwdq_ev);
		if (w->stop_ev)
			event_free(w->stop_ev);
		if (w->switch_ev)
			event_free(w->switch_ev);
		pthread_mutex_destroy(&w->switch_mu);
		rrl_free(w->udp.rrl);
		acache_free(w->udp.cache);
		free(w->fwdq);
		if (w->base)
			event_base_free(w->base);
		if (w->udp_fd >= 0)
			close(w->udp_fd);
		if (w->tcp_fd >= 0)
			close(w->tcp_fd);
	}
	free(s->w);
	free(s->carry_up);
	free(s);
}

/* What is carried for upstream name, added if absent; NULL when full. */
static struct fwd_carry *carry_slot(struct dnsserver *s, const char *name)
{
	for (size_t i = 0; i < s->ncarry_up; i++)
		if (strcmp(s->carry_up[i].name, name) == 0)
			return &s->carry_up[i];
	if (s->ncarry_up >= CARRY_MAX)
		return NULL;
	if (!s->carry_up && !(s->carry_up = calloc(CARRY_MAX, sizeof(*s->carry_up))))
		return NULL;
	struct fwd_carry *c = &s->carry_up[s->ncarry_up++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

static void upstream_add(struct fwd_upstream_stats *to, const struct fwd_upstream_stats *from)
{
	to->queries += from->queries;
	to->replies += from->replies;
	to->failures += from->failures;
	to->timeouts += from->timeouts;
	to->skipped += from->skipped;
	to->latency_us += from->latency_us;
}

/* Whether every worker has left g and g's queries are all done. */
static int gen_done(const struct dnsserver *s, const struct fwd_gen *g)
{
	for (int i = 0; i < s->nworkers; i++) {
		const struct dns_worker *w = &s->w[i];
		if (w->started &&
		    atomic_load_explicit(&w->seq_seen, memory_order_acquire) <= g->seq)
			return 0;
		/* The loop thread has moved udp_acl off g's ACL (seq_seen):
		 * the UDP thread may still be reading it (udp_acl_hold). */
		if (g->acl && atomic_load(&w->udp.hazard) == g->acl)
			return 0;
		if (g->fwd[i] && !fwd_drained(g->fwd[i]))
			return 0;
	}
	return 1;
}

void dnsserver_forward_reap(struct dnsserver *s)
{
	struct fwd_gen **pp = s->gens ? &s->gens->next : NULL;

	while (pp && *pp) {
		struct fwd_gen *g = *pp;
		if (!gen_done(s, g)) {
			pp = &g->next;
			continue;
		}
		/* Keep its counts: totals and per upstream (by name). */
		for (int i = 0; i < s->nworkers; i++) {
			if (!g->fwd[i])
				continue;
			size_t n = g->fc ? fwd_config_upstreams(g->fc) : 0;
			struct fwd_upstream_stats *up = n ? calloc(n, sizeof(*up)) : NULL;
			struct fwd_stats t = { 0 };
			fwd_stats_add(g->fwd[i], &t, up, up ? n : 0);
			s->carry.forwarded += t.forwarded;
			s->carry.relayed += t.relayed;
			s->carry.servfail += t.servfail;
			s->carry.rejected += t.rejected;
			s->carry.dropped += t.dropped;
			for (size_t j = 0; up && j < n; j++) {
				struct fwd_carry *c = carry_slot(s, fwd_config_upstream_name(g->fc, j));
				if (c)
					upstream_add(&c->st, &up[j]);
			}
			free(up);
		}
		for (size_t j = 0; g->fc && j < fwd_config_upstreams(g->fc); j++) {
			struct fwd_carry *c = carry_slot(s, fwd_config_upstream_name(g->fc, j));
			const struct fwd_health *h = fwd_config_health(g->fc, j);
			if (c && g->seq + 1 > c->seq) {
				c->seq = g->seq + 1;
				c->down_until = atomic_load(&h->down_until);
				c->backoff = atomic_load(&h->backoff);
			}
		}
		*pp = g->next;
		gen_free(s, g);
	}
}

/* Start forward's upstreams with the health they have in the newest
 * generation that knows them, else with what a freed one left. */
static void inherit_health(struct dnsserver *s, struct fwd_config *forward)
{
	for (size_t i = 0; i < fwd_config_upstreams(forward); i++) {
		const char *name = fwd_config_upstream_name(forward, i);
		struct fwd_health *to = fwd_config_health(forward, i);
		int64_t du = 0, bo = 0;
		int found = 0;
		for (const struct fwd_gen *g = s->gens; g && !found; g = g->next)
			for (size_t j = 0; g->fc && j < fwd_config_upstreams(g->fc) && !found; j++)
				if (strcmp(fwd_config_upstream_name(g->fc, j), name) == 0) {
					const struct fwd_health *h = fwd_config_health(g->fc, j);
					du = atomic_load(&h->down_until);
					bo = atomic_load(&h->backoff);
					found = 1;
				}
		for (size_t j = 0; j < s->ncarry_up && !found; j++)
			if (s->carry_up[j].seq && strcmp(s->carry_up[j].name, name) == 0) {
				du = s->carry_up[j].down_until;
				bo = s->carry_up[j].backoff;
				found = 1;
			}
		if (found) {
			atomic_store(&to->down_until, du);
			atomic_store(&to->backoff, bo);
		}
	}
}

int dnsserver_set_forward(struct dnsserver *s, struct fwd_config *forward,
			  struct acl *recurse_from, int max_inflight, uint16_t edns_udp_size)
{
	struct fwd_gen *g = calloc(1, sizeof(*g));

	dnsserver_forward_reap(s);
	if (!g || !(g->fwd = calloc((size_t)s->nworkers, sizeof(*g->fwd)))) {
		free(g);
		return MDNS_ENOMEM;
	}
	for (int i = 0; forward && i < s->nworkers; i++) {
		int share = (max_inflight + s->nworkers - 1) / s->nworkers;
		g->fwd[i] = fwd_new(forward, s->w[i].base, share, edns_udp_size);
		if (!g->fwd[i]) {
			while (i-- > 0)
				fwd_free(g->fwd[i]);
			free(g->fwd);
			free(g);
			return MDNS_ENOMEM;
		}
	}
	if (forward)
		inherit_health(s, forward);
	g->seq = ++s->gen_seq;
	g->fc = forward;
	g->acl = recurse_from;
	g->owned = 1;
	g->next = s->gens;
	s->gens = g;
	for (int i = 0; i < s->nworkers; i++) {
		struct dns_worker *w = &s->w[i];
		pthread_mutex_lock(&w->switch_mu);
		/* A switch the worker has not made yet is superseded: that
		 * forwarder was never used, so it is retired here. */
		if (w->has_next && w->next_fwd)
			fwd_retire(w->next_fwd);
		w->has_next = 1;
		w->next_fwd = g->fwd[i];
		w->next_acl = recurse_from;
		w->next_edns = edns_udp_size;
		w->next_seq = g->seq;
		pthread_mutex_unlock(&w->switch_mu);
		event_active(w->switch_ev, 0, 0);
	}
	return 0;
}

size_t dnsserver_forward_stats(const struct dnsserver *s, struct fwd_stats *tot,
			       struct fwd_upstream_stats *up, size_t cap)
{
	const struct fwd_gen *cur = s->gens;
	size_t n = cur && cur->fc ? fwd_config_upstreams(cur->fc) : 0;
	size_t m = cap < n ? cap : n;

	if (tot) {
		memset(tot, 0, sizeof(*tot));
		tot->forwarded = s->carry.forwarded;
		tot->relayed = s->carry.relayed;
		tot->servfail = s->carry.servfail;
		tot->rejected = s->carry.rejected;
		tot->dropped = s->carry.dropped;
	}
	/* Queries the workers' UDP threads turned away with a full ring. */
	for (int i = 0; tot && i < s->nworkers; i++)
		tot->rejected += atomic_load_explicit(&s->w[i].udp.rejected, memory_order_relaxed);
	if (up)
		memset(up, 0, m * sizeof(*up));
	/* The generations are the control thread's: no worker pointer is read. */
	for (const struct fwd_gen *g = cur; g; g = g->next) {
		size_t gn = g->fc ? fwd_config_upstreams(g->fc) : 0;
		struct fwd_upstream_stats *gu = g == cur ? up : (gn ? calloc(gn, sizeof(*gu)) : NULL);
		for (int i = 0; i < s->nworkers; i++)
			if (g->fwd[i])
				fwd_stats_add(g->fwd[i], tot, gu, g == cur ? (up ? m : 0) : (gu ? gn : 0));
		if (g == cur || !gu)
			continue;
		/* An older table's upstreams count under the same name now. */
		for (size_t j = 0; up && j < gn; j++)
			for (size_t k = 0; k < m; k++)
				if (strcmp(fwd_config_upstream_name(g->fc, j),
					   fwd_config_upstream_name(cur->fc, k)) == 0) {
					upstream_add(&up[k], &gu[j]);
					break;
				}
		free(gu);
	}
	for (size_t j = 0; up && j < s->ncarry_up; j++)
		for (size_t k = 0; k < m; k++)
			if (strcmp(s->carry_up[j].name, fwd_config_upstream_name(cur->fc, k)) == 0) {
				upstream_add(&up[k], &s->carry_up[j].st);
				break;
			}
	return n;
}

const char *dnsserver_forward_upstream_name(const struct dnsserver *s, size_t i)
{
	return s->gens && s->gens->fc ? fwd_config_upstream_name(s->gens->fc, i) : "";
}
