/* lib/forward.c -- forwarding names outside the domain to upstream resolvers (behaviour.md §4). */
#include "lib/forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "lib/acl.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/resolvconf.h"
#include "zone/dname.h"

#define HDR_LEN 12
#define RCODE_SERVFAIL 2
#define RCODE_REFUSED 5
#define TYPE_OPT 41
#define QUERY_INLINE 512	/* most queries fit; larger ones are malloc'd */
#define FREE_CACHE 64		/* query structs kept for reuse per worker */
#define ROUTE_MAX 64		/* upstreams of one list that are tried */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- pure parts ---------------------------------------------------------- */

int fwd_question_parse(const uint8_t *msg, size_t len, struct fwd_question *q)
{
	size_t pos = HDR_LEN, n = 0;

	if (len < HDR_LEN || get16(msg + 4) != 1)
		return MDNS_EPARSE;
	for (;;) {
		if (pos >= len)
			return MDNS_EPARSE;
		uint8_t l = msg[pos];
		if (l & 0xc0)
			return MDNS_EPARSE;	/* pointers and the 0x40/0x80 types */
		if (n + 1 + l > FWD_NAME_MAX || pos + 1 + l > len)
			return MDNS_EPARSE;
		q->name[n++] = l;
		for (size_t i = 0; i < l; i++)
			q->name[n++] = dname_lower_byte(msg[pos + 1 + i]);
		pos += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	if (pos + 4 > len)
		return MDNS_EPARSE;
	q->namelen = n;
	q->qtype = get16(msg + pos);
	q->qclass = get16(msg + pos + 2);
	q->end = pos + 4;
	return 0;
}

/* An error rcode with no question (header of 12 bytes or more): see
 * fwd_reply_check. */
static bool bare_error(const uint8_t *r)
{
	return get16(r + 4) == 0 && (r[3] & 0x0f) != 0;
}

enum fwd_verdict fwd_reply_check(const uint8_t *r, size_t len, uint16_t id,
				 const struct fwd_question *q)
{
	struct fwd_question rq;

	if (len < HDR_LEN)
		return FWD_DROP_SHORT;
	if (!(r[2] & 0x80))
		return FWD_DROP_NOT_RESPONSE;
	if (get16(r) != id)
		return FWD_DROP_ID;
	if (((r[2] >> 3) & 0x0f) != 0)
		return FWD_DROP_OPCODE;
	if (bare_error(r))
		return FWD_REPLY_BARE_ERROR;
	if (fwd_question_parse(r, len, &rq) != 0 || rq.namelen != q->namelen ||
	    memcmp(rq.name, q->name, q->namelen) != 0 || rq.qtype != q->qtype ||
	    rq.qclass != q->qclass)
		return FWD_DROP_QUESTION;
	return FWD_REPLY_OK;
}

const char *fwd_verdict_str(enum fwd_verdict v)
{
	switch (v) {
	case FWD_REPLY_OK:		return "ok";
	case FWD_DROP_SHORT:		return "shorter than a header";
	case FWD_DROP_NOT_RESPONSE:	return "not a response";
	case FWD_DROP_ID:		return "ID mismatch";
	case FWD_DROP_OPCODE:		return "opcode mismatch";
	case FWD_DROP_QUESTION:		return "question mismatch";
	case FWD_REPLY_BARE_ERROR:	return "an error without the question";
	}
	return "?";
}

/* Our OPT record (root owner, payload size, no rcode bits, no options) at o:
 * 11 bytes. */
static void put_opt(uint8_t *o, uint16_t size)
{
	memset(o, 0, 11);
	set16(o + 1, TYPE_OPT);
	set16(o + 3, size);
}

size_t fwd_servfail(const uint8_t *query, size_t qlen, const struct fwd_question *q,
		    bool edns, uint16_t edns_size, uint8_t *out, size_t cap)
{
	size_t need = q->end + (edns ? 11 : 0);

	if (q->end > qlen || q->end < HDR_LEN || need > cap)
		return 0;
	memcpy(out, query, q->end);
	/* QR, opcode 0, RD as asked; RA (we recurse for this client), CD as asked */
	out[2] = (uint8_t)(0x80 | (query[2] & 0x01));
	out[3] = (uint8_t)(0x80 | (query[3] & 0x10) | RCODE_SERVFAIL);
	set16(out + 4, 1);
	set16(out + 6, 0);
	set16(out + 8, 0);
	set16(out + 10, edns ? 1 : 0);
	if (edns)
		put_opt(out + q->end, edns_size);
	return need;
}

/* Offset past the name at pos in msg (len bytes), or 0 when it overruns. */
static size_t skip_name(const uint8_t *msg, size_t len, size_t pos)
{
	while (pos < len) {
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0)
			return pos + 2 <= len ? pos + 2 : 0;
		if (l & 0xc0)
			return 0;
		pos += 1 + (size_t)l;
		if (l == 0)
			return pos;
	}
	return 0;
}

size_t fwd_udp_limit(const uint8_t *query, size_t qlen, const struct fwd_question *q)
{
	size_t an = get16(query + 6), ns = get16(query + 8), ar = get16(query + 10);
	size_t pos = q->end;

	for (size_t i = 0; i < an + ns + ar; i++) {
		pos = skip_name(query, qlen, pos);
		if (!pos || pos + 10 > qlen)
			break;
		uint16_t type = get16(query + pos), size = get16(query + pos + 2);
		if (type == TYPE_OPT && i >= an + ns)
			return size > 512 ? size : 512;
		pos += 10 + (size_t)get16(query + pos + 8);
	}
	return 512;
}

size_t fwd_truncate(uint8_t *reply, size_t len, const struct fwd_question *q, bool edns,
		    uint16_t edns_size)
{
	if (q->end > len)
		return len;
	reply[2] |= 0x02;	/* TC */
	set16(reply + 6, 0);
	set16(reply + 8, 0);
	set16(reply + 10, edns ? 1 : 0);
	if (!edns)
		return q->end;
	put_opt(reply + q->end, edns_size);
	return q->end + 11;
}

/* ---- health ---------------------------------------------------------------- */

enum fwd_use fwd_health_check(struct fwd_health *h, int64_t now_ms, int64_t hold_ms)
{
	int64_t du = atomic_load_explicit(&h->down_until, memory_order_relaxed);

	if (du == 0)
		return FWD_USE;
	if (du > now_ms)
		return FWD_SKIP;
	/* Period over: the one caller that moves the mark forward re-probes. */
	if (atomic_compare_exchange_strong(&h->down_until, &du, now_ms + hold_ms))
		return FWD_PROBE;
	return FWD_SKIP;
}

bool fwd_health_ok(struct fwd_health *h)
{
	if (atomic_load_explicit(&h->down_until, memory_order_relaxed) == 0)
		return false;	/* the common case: no shared write */
	atomic_store(&h->backoff, 0);
	return atomic_exchange(&h->down_until, 0) != 0;
}

int64_t fwd_health_fail(struct fwd_health *h, int64_t now_ms)
{
	int64_t b = atomic_load(&h->backoff);

	b = b ? b * 2 : FWD_BACKOFF_MIN_MS;
	if (b > FWD_BACKOFF_MAX_MS)
		b = FWD_BACKOFF_MAX_MS;
	/* Two workers timing out together may double twice; harmless. */
	atomic_store(&h->backoff, b);
	atomic_store(&h->down_until, now_ms + b);
	return b;
}

/* ---- upstream table ------------------------------------------------------- */

struct fwd_upstream {
	struct sockaddr_storage sa;
	socklen_t salen;
	char name[112];			/* "IP:port" / "[IPv6%scope]:port" */
	struct fwd_health health;
};

struct fwd_route {
	uint8_t name[FWD_NAME_MAX];	/* zone, wire form, lower case; unused for general */
	size_t namelen;
	size_t *v;			/* upstream indices, in order */
	size_t n;
};

struct fwd_config {
	struct fwd_upstream *up;
	size_t nup;
	struct fwd_route general;
	struct fwd_route *zones;
	size_t nzones;
	int timeout_ms;
	/* While fwd_config_new runs: what tells a resolver that is ourselves. */
	const char *listener;
	uint16_t port;
	struct acl *own;	/* this host's addresses; NULL when unknown */
};

/* "IP", "IPv4:port", "[IPv6]:port", "[IPv6]" or a bare IPv6 (with %scope). */
static int parse_upstream(const char *s, struct fwd_upstream *u)
{
	char host[80];
	const char *port = NULL;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (close[1] != '\0' && close[1] != ':'))
			return MDNS_EINVAL;
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host))
			return MDNS_EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *c = strchr(s, ':');
		if (c && c == strrchr(s, ':')) {
			hl = (size_t)(c - s);
			port = c + 1;
		} else {
			hl = strlen(s);
		}
		if (hl >= sizeof(host))
			return MDNS_EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	long p = 53;
	if (port) {
		char *end;
		p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
			return MDNS_EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&u->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&u->sa;
	char *pct = strchr(host, '%');
	if (pct)
		*pct = '\0';
	if (!pct && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		u->salen = sizeof(*s4);
		snprintf(u->name, sizeof(u->name), "%s:%ld", host, p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (pct) {
			unsigned idx = if_nametoindex(pct + 1);
			if (idx == 0) {
				char *end;
				unsigned long v = strtoul(pct + 1, &end, 10);
				if (*end != '\0' || v == 0)
					return MDNS_EINVAL;
				idx = (unsigned)v;
			}
			s6->sin6_scope_id = idx;
		}
		u->salen = sizeof(*s6);
		snprintf(u->name, sizeof(u->name), "[%s%s%s]:%ld", host, pct ? "%" : "",
			 pct ? pct + 1 : "", p);
		return 0;
	}
	return MDNS_EINVAL;
}

static bool same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* Add upstream text s to route r, sharing the entry with any earlier use. */
/*
 * Whether u is this server (a resolver on our own port that our listener
 * receives for: lib/resolvconf.h): forwarding to it would loop, each query
 * coming back to be forwarded again until forwardMaxInflight.
 */
static int upstream_is_self(const struct fwd_upstream *u, const char *listener, uint16_t port,
			    const struct acl *own)
{
	if (u->sa.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&u->sa;
		return ntohs(a->sin_port) == port &&
		       resolvconf_listener_gets(AF_INET, (const uint8_t *)&a->sin_addr, listener, own);
	}
	const struct sockaddr_in6 *a = (const void *)&u->sa;
	return ntohs(a->sin6_port) == port &&
	       resolvconf_listener_gets(AF_INET6, (const uint8_t *)&a->sin6_addr, listener, own);
}

static int route_add(struct fwd_config *c, struct fwd_route *r, const char *s,
		     char *err, size_t errlen)
{
	struct fwd_upstream u;
	size_t i;

	if (parse_upstream(s, &u) != 0) {
		snprintf(err, errlen, "forward: resolver %s is not an IP address with an optional port", s);
		return MDNS_EINVAL;
	}
	if (upstream_is_self(&u, c->listener, c->port, c->own)) {
		snprintf(err, errlen, "forward: resolver %s is this server itself (listener %s, port "
			 "%u): forwarding to it would loop", s, c->listener ? c->listener : "?",
			 (unsigned)c->port);
		return MDNS_EEXIST;	/* (this server exists already) */
	}
	for (i = 0; i < c->nup; i++)
		if (same_sockaddr(&c->up[i].sa, &u.sa))
			break;
	if (i == c->nup) {
		struct fwd_upstream *v = realloc(c->up, (c->nup + 1) * sizeof(*v));
		if (!v)
			goto nomem;
		c->up = v;
		c->up[c->nup++] = u;
	}
	for (size_t j = 0; j < r->n; j++)
		if (r->v[j] == i)
			return 0;	/* "8.8.8.8" and "8.8.8.8:53" in one list */
	if (r->n == ROUTE_MAX)
		return 0;
	size_t *v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		goto nomem;
	r->v = v;
	r->v[r->n++] = i;
	return 0;
nomem:
	snprintf(err, errlen, "forward: out of memory");
	return MDNS_ENOMEM;
}

/* Text name -> lower-case wire form; 0 or -1. */
static int wire_name(const char *s, uint8_t *out, size_t *outlen)
{
	size_t n = 0;

	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > 63 || n + 1 + l + 1 > FWD_NAME_MAX)
			return -1;
		out[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			out[n++] = dname_lower_byte((uint8_t)s[i]);
		s += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	*outlen = n;
	return 0;
}

static void route_text(const struct fwd_config *c, const struct fwd_route *r, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->n && off < len; i++) {
		int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", c->up[r->v[i]].name);
		if (k < 0)
			break;
		off += (size_t)k;
	}
	if (r->n == 0)
		snprintf(buf, len, "none");
}

static void note_cb(void *ctx, const char *text)
{
	log_info("forward: %s: %s", (const char *)ctx, text);
}

struct fwd_config *fwd_config_new(const struct config *cfg, const char *resolv_conf,
				  char *err, size_t errlen)
{
	struct fwd_config *c = calloc(1, sizeof(*c));
	char **rc_list = NULL;
	size_t rc_n = 0;
	const char *const *res;
	size_t nres;
	int rc;

	if (!c) {
		snprintf(err, errlen, "forward: out of memory");
		return NULL;
	}
	c->timeout_ms = (cfg->timeout > 0 ? cfg->timeout : 5) * 1000;
	c->listener = cfg->listener;
	c->port = (uint16_t)cfg->port;
	c->own = acl_new();
	if (c->own && acl_add_local(c->own, false) != 0) {
		acl_free(c->own);	/* the listener alone tells then */
		c->own = NULL;
	}
	res = (const char *const *)cfg->resolvers.v;
	nres = cfg->resolvers.n;
	if (cfg->resolvers_explicit_empty || nres == 0) {
		rc = resolvconf_upstreams(resolv_conf, cfg->listener, cfg->port, &rc_list, &rc_n,
					  note_cb, (void *)resolv_conf);
		if (rc != 0)
			log_warn("forward: cannot read %s: %s; no general resolvers", resolv_conf,
				 mdns_strerror(rc));
		res = (const char *const *)rc_list;
		nres = rc_n;
	}
	for (size_t i = 0; i < nres; i++) {
		rc = route_add(c, &c->general, res[i], err, errlen);
		if (rc == MDNS_EINVAL && res == (const char *const *)rc_list) {
			/* A resolv.conf line this host cannot use (a link-local
			 * address scoped to an interface that is not here, as in a
			 * copy of the host's file in a container) is left out, as
			 * glibc leaves it; only the config's own list is fatal. */
			log_warn("%s: nameserver %s left out: no such interface here", resolv_conf,
				 res[i]);
			err[0] = '\0';
			continue;
		}
		if (rc != 0)
			goto fail;
	}
	if (cfg->nzone_resolvers) {
		c->zones = calloc(cfg->nzone_resolvers, sizeof(*c->zones));
		if (!c->zones) {
			snprintf(err, errlen, "forward: out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < cfg->nzone_resolvers; i++) {
		const struct config_zone_resolvers *zr = &cfg->zone_resolvers[i];
		struct fwd_route *r = &c->zones[c->nzones++];
		if (wire_name(zr->zone, r->name, &r->namelen) != 0) {
			snprintf(err, errlen, "forward: zoneResolvers zone %s is not a domain name", zr->zone);
			goto fail;
		}
		for (size_t j = 0; j < zr->resolvers.n; j++)
			if (route_add(c, r, zr->resolvers.v[j], err, errlen) != 0)
				goto fail;
	}
	for (size_t i = 0; i < rc_n; i++)
		free(rc_list[i]);
	free(rc_list);
	acl_free(c->own);
	c->own = NULL;
	c->listener = NULL;

	char buf[1024];
	route_text(c, &c->general, buf, sizeof(buf));
	log_info("forward: resolvers %s%s; timeout %d s", buf,
		 cfg->resolvers_explicit_empty ? " (from resolv.conf)" : "", c->timeout_ms / 1000);
	for (size_t i = 0; i < c->nzones; i++) {
		route_text(c, &c->zones[i], buf, sizeof(buf));
		log_info("forward: zone %s -> %s", cfg->zone_resolvers[i].zone, buf);
	}
	return c;
fail:
	for (size_t i = 0; i < rc_n; i++)
		free(rc_list[i]);
	free(rc_list);
	fwd_config_free(c);
	return NULL;
}

void fwd_config_free(struct fwd_config *c)
{
	if (!c)
		return;
	acl_free(c->own);
	free(c->general.v);
	for (size_t i = 0; i < c->nzones; i++)
		free(c->zones[i].v);
	free(c->zones);
	free(c->up);
	free(c);
}

size_t fwd_config_upstreams(const struct fwd_config *c)
{
	return c->nup;
}

size_t fwd_config_resolvers(const struct fwd_config *c)
{
	return c->general.n;
}

const char *fwd_config_upstream_name(const struct fwd_config *c, size_t i)
{
	return i < c->nup ? c->up[i].name : "";
}

static const struct fwd_route *route_find(const struct fwd_config *c, const uint8_t *name,
					  size_t namelen)
{
	/* Suffixes from the longest: the first zone that matches is the longest. */
	for (size_t off = 0; off < namelen && name[off] != 0; off += 1 + (size_t)name[off]) {
		for (size_t i = 0; i < c->nzones; i++) {
			const struct fwd_route *z = &c->zones[i];
			if (z->namelen == namelen - off && memcmp(z->name, name + off, z->namelen) == 0)
				return z;
		}
	}
	return &c->general;
}

size_t fwd_config_route(const struct fwd_config *c, const uint8_t *name, size_t namelen,
			size_t *out, size_t cap)
{
	const struct fwd_route *r = route_find(c, name, namelen);

	for (size_t i = 0; i < r->n && i < cap; i++)
		out[i] = r->v[i];
	return r->n;
}

/* ---- the worker's forwarder ---------------------------------------------- */

/* A counter written by its worker only and read by others: relaxed atomics,
 * a plain load and store on x86, no locked instruction. */
static void bump(_Atomic uint64_t *c, uint64_t by)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
			      memory_order_relaxed);
}

static uint64_t peek(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

struct fwd_upctr {
	_Atomic uint64_t queries, replies, failures, timeouts, skipped, latency_us;
};

struct fwd_query {
	struct fwd *f;
	struct fwd_query *lprev, *lnext;	/* in flight, or the free cache (lnext) */
	bool tcp;
	/* the client */
	int client_fd;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	void (*done)(void *ctx, const uint8_t *reply, size_t rlen);
	void *ctx;
	uint16_t client_id;
	bool edns;
	struct fwd_question q;
	uint8_t *msg;			/* the client's query; the ID is ours while out */
	size_t len;
	/* the route */
	const struct fwd_route *route;
	size_t rpos;			/* next position in the route */
	bool all_down;			/* trying every upstream, none being up */
	int attempts;
	/* the exchange in progress */
	int up;				/* upstream index, -1 between exchanges */
	bool probe;			/* this exchange re-probes a down upstream */
	uint16_t up_id;
	int64_t sent_us;
	int fd;
	bool io_on;
	struct event io, timer;
	struct bufferevent *bev;
	uint8_t inline_msg[QUERY_INLINE];
};

struct fwd {
	struct fwd_config *c;
	struct event_base *base;
	int max_inflight;
	uint16_t edns_size;
	int inflight;
	struct fwd_query *live;		/* in flight */
	struct fwd_query *cache;	/* free structs for reuse */
	int ncache;
	/* random IDs: getrandom(2) in blocks */
	uint8_t rnd[256];
	size_t rnd_pos;
	/* counters */
	_Atomic uint64_t forwarded, relayed, servfail, rejected, dropped, inflight_now;
	atomic_bool retired;		/* fwd_retire(): no new query will come */
	struct fwd_upctr *upc;
	uint8_t buf[65536 + 2];
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint16_t rand16(struct fwd *f)
{
	if (f->rnd_pos + 2 > sizeof(f->rnd)) {
		size_t got = 0;
		while (got < sizeof(f->rnd)) {
			ssize_t n = getrandom(f->rnd + got, sizeof(f->rnd) - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* No kernel randomness is a broken system, not a
				 * condition to run predictably through. */
				log_err("forward: getrandom: %s", strerror(errno));
				abort();
			}
			got += (size_t)n;
		}
		f->rnd_pos = 0;
	}
	uint16_t v = get16(f->rnd + f->rnd_pos);
	f->rnd_pos += 2;
	return v;
}

struct fwd *fwd_new(struct fwd_config *c, struct event_base *base, int max_inflight,
		    uint16_t edns_size)
{
	struct fwd *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->c = c;
	f->base = base;
	f->max_inflight = max_inflight > 0 ? max_inflight : 1;
	f->edns_size = edns_size;
	f->rnd_pos = sizeof(f->rnd);
	f->upc = calloc(c->nup ? c->nup : 1, sizeof(*f->upc));
	if (!f->upc) {
		free(f);
		return NULL;
	}
	return f;
}

/* Send a finished reply (buf, n) to the client of q. */
static void deliver(struct fwd_query *q, const uint8_t *buf, size_t n)
{
	if (q->tcp) {
		q->done(q->ctx, buf, n);
		return;
	}
	/* A full socket buffer loses the reply as the network could; the
	 * client retries.  MSG_DONTWAIT: the client's socket is a blocking one
	 * (the worker's UDP thread blocks on it in recvmmsg, lib/dnsserver.c),
	 * and this loop must never wait on it. */
	(void)sendto(q->client_fd, buf, n, MSG_DONTWAIT, (const struct sockaddr *)&q->peer,
		     q->peerlen);
}

static void exchange_end(struct fwd_query *q)
{
	if (q->io_on) {
		event_del(&q->io);
		q->io_on = false;
	}
	if (q->fd >= 0) {
		close(q->fd);
		q->fd = -1;
	}
	if (q->bev) {
		bufferevent_free(q->bev);
		q->bev = NULL;
	}
	evtimer_del(&q->timer);
	q->up = -1;
}

static void query_release(struct fwd *f, struct fwd_query *q)
{
	if (q->msg != q->inline_msg)
		free(q->msg);
	q->msg = NULL;
	if (f->ncache < FREE_CACHE) {
		q->lnext = f->cache;
		f->cache = q;
		f->ncache++;
	} else {
		free(q);
	}
}

static void query_end(struct fwd_query *q)
{
	struct fwd *f = q->f;

	exchange_end(q);
	if (q->lprev)
		q->lprev->lnext = q->lnext;
	else
		f->live = q->lnext;
	if (q->lnext)
		q->lnext->lprev = q->lprev;
	f->inflight--;
	query_release(f, q);
	/* Last touch of f: fwd_drained() reads this with acquire and may let
	 * another thread free a retired forwarder once it reaches 0. */
	atomic_store_explicit(&f->inflight_now, peek(&f->inflight_now) - 1, memory_order_release);
}

/* Our SERVFAIL to the client of q, built from its query msg (len bytes,
 * carrying the client's ID). */
static void send_servfail(struct fwd_query *q, const uint8_t *msg, size_t len)
{
	struct fwd *f = q->f;
	size_t n = fwd_servfail(msg, len, &q->q, q->edns, f->edns_size, f->buf, sizeof(f->buf));

	if (n)
		deliver(q, f->buf, n);
	else if (q->tcp)
		q->done(q->ctx, NULL, 0);
}

static void next_exchange(struct fwd_query *q);

/* The exchange failed without a usable reply: try the next upstream. */
static void exchange_failed(struct fwd_query *q, bool timed_out)
{
	struct fwd *f = q->f;
	struct fwd_upstream *u = &f->c->up[q->up];

	if (timed_out) {
		bump(&f->upc[q->up].timeouts, 1);
		bool was_up = atomic_load_explicit(&u->health.down_until, memory_order_relaxed) == 0;
		int64_t b = fwd_health_fail(&u->health, now_us() / 1000);
		if (was_up)
			log_warn("forward: %s did not answer within %d s; marked down for %lld s "
				 "(skipped while another resolver is up)",
				 u->name, f->c->timeout_ms / 1000, (long long)(b / 1000));
	} else {
		bump(&f->upc[q->up].failures, 1);
		if (q->probe)	/* the re-probe failed: keep it down, longer */
			fwd_health_fail(&u->health, now_us() / 1000);
	}
	exchange_end(q);
	next_exchange(q);
}

/* An accepted reply (buf, n): relay it, or move on after SERVFAIL/REFUSED. */
static void got_reply(struct fwd_query *q, uint8_t *buf, size_t n)
{
	struct fwd *f = q->f;
	struct fwd_upstream *u = &f->c->up[q->up];
	int rcode = buf[3] & 0x0f;

	bump(&f->upc[q->up].replies, 1);
	bump(&f->upc[q->up].latency_us, (uint64_t)(now_us() - q->sent_us));
	if (fwd_health_ok(&u->health))
		log_info("forward: %s answers again", u->name);
	if (rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED || bare_error(buf)) {
		bump(&f->upc[q->up].failures, 1);
		exchange_end(q);
		next_exchange(q);
		return;
	}
	set16(buf, q->client_id);
	/* The question name as the client wrote it (same length: checked). */
	memcpy(buf + HDR_LEN, q->msg + HDR_LEN, q->q.namelen);
	if (!q->tcp && n > fwd_udp_limit(q->msg, q->len, &q->q))
		n = fwd_truncate(buf, n, &q->q, q->edns, f->edns_size);
	bump(&f->relayed, 1);
	deliver(q, buf, n);
	query_end(q);
}

/* Whether reply (buf, n) from an exchange of q is ours; counts and logs drops. */
static bool acceptable(struct fwd_query *q, const uint8_t *buf, size_t n)
{
	enum fwd_verdict v = fwd_reply_check(buf, n, q->up_id, &q->q);

	if (v == FWD_REPLY_OK)
		return true;
	if (v == FWD_REPLY_BARE_ERROR) {
		log_debug("forward: %s replied rcode %d without the question; trying the next "
			  "resolver", q->f->c->up[q->up].name, buf[3] & 0x0f);
		return true;
	}
	bump(&q->f->dropped, 1);
	log_debug("forward: dropped a reply from %s: %s", q->f->c->up[q->up].name,
		  fwd_verdict_str(v));
	return false;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	exchange_failed(arg, true);
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwd_query *q = arg;
	struct fwd *f = q->f;
	(void)what;

	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, f->buf, sizeof(f->buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ICMP unreachable and friends, reported on the connected socket */
			log_debug("forward: %s: %s", f->c->up[q->up].name, strerror(errno));
			exchange_failed(q, false);
			return;
		}
		/* connect() filters already; checked again so the rule is explicit */
		if (!same_sockaddr(&from, &f->c->up[q->up].sa)) {
			bump(&f->dropped, 1);
			log_debug("forward: dropped a reply for %s from another address",
				  f->c->up[q->up].name);
			continue;
		}
		if (acceptable(q, f->buf, (size_t)n)) {
			got_reply(q, f->buf, (size_t)n);
			return;
		}
	}
}

static int start_udp(struct fwd_query *q, const struct fwd_upstream *u)
{
	struct fwd *f = q->f;

	q->fd = socket(u->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		log_debug("forward: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(q->fd, (const struct sockaddr *)&u->sa, u->salen) != 0 ||
	    send(q->fd, q->msg, q->len, 0) < 0) {
		log_debug("forward: %s: %s", u->name, strerror(errno));
		return -1;
	}
	event_assign(&q->io, f->base, q->fd, EV_READ | EV_PERSIST, udp_read_cb, q);
	event_add(&q->io, NULL);
	q->io_on = true;
	return 0;
}

static void tcp_up_read_cb(struct bufferevent *bev, void *arg)
{
	struct fwd_query *q = arg;
	struct fwd *f = q->f;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		uint8_t hdr[2];
		if (evbuffer_copyout(in, hdr, 2) < 2)
			return;
		size_t n = get16(hdr);
		if (evbuffer_get_length(in) < n + 2)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, f->buf, n);
		if (acceptable(q, f->buf, n)) {
			got_reply(q, f->buf, n);
			return;
		}
	}
}

static void tcp_up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fwd_query *q = arg;
	(void)bev;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("forward: %s over TCP: %s", q->f->c->up[q->up].name,
			  (what & BEV_EVENT_EOF) ? "closed without a reply"
						 : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		exchange_failed(q, false);
	}
}

static int start_tcp(struct fwd_query *q, const struct fwd_upstream *u)
{
	struct fwd *f = q->f;
	uint8_t len[2];

	q->bev = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!q->bev)
		return -1;
	set16(len, (uint16_t)q->len);
	bufferevent_setcb(q->bev, tcp_up_read_cb, NULL, tcp_up_event_cb, q);
	if (bufferevent_write(q->bev, len, 2) != 0 || bufferevent_write(q->bev, q->msg, q->len) != 0 ||
	    bufferevent_enable(q->bev, EV_READ | EV_WRITE) != 0 ||
	    bufferevent_socket_connect(q->bev, (const struct sockaddr *)&u->sa, (int)u->salen) != 0) {
		log_debug("forward: %s over TCP: cannot connect", u->name);
		return -1;
	}
	return 0;
}

/* The next upstream of the route to try, or -1 when the route is exhausted. */
static int pick(struct fwd_query *q)
{
	struct fwd *f = q->f;
	const struct fwd_route *r = q->route;
	int64_t now = now_us() / 1000;

	for (;;) {
		while (q->rpos < r->n) {
			size_t i = r->v[q->rpos++];
			q->probe = false;
			if (q->all_down)
				return (int)i;
			switch (fwd_health_check(&f->c->up[i].health, now, f->c->timeout_ms + 1000)) {
			case FWD_USE:
				return (int)i;
			case FWD_PROBE:
				q->probe = true;
				log_info("forward: re-probing %s", f->c->up[i].name);
				return (int)i;
			case FWD_SKIP:
				bump(&f->upc[i].skipped, 1);
				break;
			}
		}
		if (q->attempts > 0 || q->all_down)
			return -1;
		/* Every upstream of the list is down: try them all, in order. */
		q->all_down = true;
		q->rpos = 0;
	}
}

static void next_exchange(struct fwd_query *q)
{
	struct fwd *f = q->f;

	for (;;) {
		int i = pick(q);
		if (i < 0) {
			set16(q->msg, q->client_id);
			bump(&f->servfail, 1);
			send_servfail(q, q->msg, q->len);
			query_end(q);
			return;
		}
		const struct fwd_upstream *u = &f->c->up[i];
		q->up = i;
		q->attempts++;
		q->up_id = rand16(f);
		set16(q->msg, q->up_id);
		q->sent_us = now_us();
		bump(&f->upc[i].queries, 1);
		int rc = q->tcp ? start_tcp(q, u) : start_udp(q, u);
		if (rc == 0) {
			struct timeval tv = { .tv_sec = f->c->timeout_ms / 1000,
					      .tv_usec = (f->c->timeout_ms % 1000) * 1000 };
			evtimer_add(&q->timer, &tv);
			return;
		}
		/* Failed before anything was sent: count it and go on. */
		bump(&f->upc[i].failures, 1);
		if (q->probe)
			fwd_health_fail(&f->c->up[i].health, now_us() / 1000);
		exchange_end(q);
	}
}

/*
 * Start forwarding: q holds the client fields already.  Returns 0 (taken;
 * answered now or later), MDNS_EPARSE or MDNS_ENOENT (q released, the
 * caller answers).
 */
static int submit(struct fwd *f, struct fwd_query *q, const uint8_t *msg, size_t len)
{
	if (fwd_question_parse(msg, len, &q->q) != 0) {
		query_release(f, q);
		return MDNS_EPARSE;
	}
	q->route = route_find(f->c, q->q.name, q->q.namelen);
	if (q->route->n == 0) {
		query_release(f, q);
		return MDNS_ENOENT;
	}
	q->msg = len <= QUERY_INLINE ? q->inline_msg : malloc(len);
	if (!q->msg || f->inflight >= f->max_inflight) {
		/* Over the bound (or out of memory): SERVFAIL now, from the
		 * caller's bytes, so the client moves on to its next server. */
		bump(&f->rejected, 1);
		send_servfail(q, msg, len);
		if (!q->msg)
			q->msg = q->inline_msg;
		query_release(f, q);
		return 0;
	}
	memcpy(q->msg, msg, len);
	q->len = len;
	q->client_id = get16(msg);
	q->up = -1;
	q->fd = -1;
	evtimer_assign(&q->timer, f->base, timeout_cb, q);
	q->lprev = NULL;
	q->lnext = f->live;
	if (f->live)
		f->live->lprev = q;
	f->live = q;
	f->inflight++;
	bump(&f->inflight_now, 1);
	bump(&f->forwarded, 1);
	next_exchange(q);
	return 0;
}

/* A clean query struct (reused or new); NULL on out of memory. */
static struct fwd_query *query_get(struct fwd *f)
{
	struct fwd_query *q = f->cache;

	if (q) {
		f->cache = q->lnext;
		f->ncache--;
	} else if (!(q = malloc(sizeof(*q)))) {
		return NULL;
	}
	memset(q, 0, offsetof(struct fwd_query, inline_msg));
	q->f = f;
	q->fd = -1;
	q->client_fd = -1;
	q->up = -1;
	q->msg = q->inline_msg;
	return q;
}

int fwd_submit_udp(struct fwd *f, const uint8_t *msg, size_t len, bool edns, int fd,
		   const struct sockaddr *peer, socklen_t peerlen)
{
	struct fwd_query *q = query_get(f);

	if (!q || peerlen > sizeof(q->peer)) {
		if (q)
			query_release(f, q);
		return MDNS_ENOMEM;
	}
	q->client_fd = fd;
	memcpy(&q->peer, peer, peerlen);
	q->peerlen = peerlen;
	q->edns = edns;
	return submit(f, q, msg, len);
}

int fwd_submit_tcp(struct fwd *f, const uint8_t *msg, size_t len, bool edns,
		   void (*done)(void *ctx, const uint8_t *reply, size_t rlen), void *ctx)
{
	struct fwd_query *q = query_get(f);

	if (!q)
		return MDNS_ENOMEM;
	q->tcp = true;
	q->done = done;
	q->ctx = ctx;
	q->edns = edns;
	return submit(f, q, msg, len);
}

void fwd_free(struct fwd *f)
{
	if (!f)
		return;
	/* Shutdown: each UDP query still out gets our SERVFAIL now, so its
	 * client asks its next server at once instead of after its own timeout
	 * (replies in flight are finished, behaviour.md §6); the worker's UDP
	 * socket is still open.  A TCP query's connection closes. */
	while (f->live) {
		struct fwd_query *q = f->live;
		if (q->tcp)
			q->done(q->ctx, NULL, 0);
		else if (q->msg) {
			set16(q->msg, q->client_id);	/* it carried the upstream's ID */
			send_servfail(q, q->msg, q->len);
		}
		query_end(q);
	}
	while (f->cache) {
		struct fwd_query *q = f->cache;
		f->cache = q->lnext;
		free(q);
	}
	free(f->upc);
	free(f);
}

void fwd_retire(struct fwd *f)
{
	atomic_store_explicit(&f->retired, true, memory_order_release);
}

bool fwd_drained(const struct fwd *f)
{
	/* retired first: every submission happened before it, so a count read
	 * after it that is 0 stays 0, and the last query_end wrote it last. */
	return atomic_load_explicit(&f->retired, memory_order_acquire) &&
	       atomic_load_explicit(&f->inflight_now, memory_order_acquire) == 0;
}

struct fwd_health *fwd_config_health(struct fwd_config *c, size_t i)
{
	return i < c->nup ? &c->up[i].health : NULL;
}

void fwd_stats_add(const struct fwd *f, struct fwd_stats *tot,
		   struct fwd_upstream_stats *up, size_t nup)
{
	if (tot) {
		tot->forwarded += peek(&f->forwarded);
		tot->relayed += peek(&f->relayed);
		tot->servfail += peek(&f->servfail);
		tot->rejected += peek(&f->rejected);
		tot->dropped += peek(&f->dropped);
		tot->inflight += peek(&f->inflight_now);
	}
	int64_t now = now_us() / 1000;
	for (size_t i = 0; up && i < nup && i < f->c->nup; i++) {
		const struct fwd_upctr *c = &f->upc[i];
		up[i].queries += peek(&c->queries);
		up[i].replies += peek(&c->replies);
		up[i].failures += peek(&c->failures);
		up[i].timeouts += peek(&c->timeouts);
		up[i].skipped += peek(&c->skipped);
		up[i].latency_us += peek(&c->latency_us);
		int64_t du = atomic_load_explicit(&f->c->up[i].health.down_until, memory_order_relaxed);
		up[i].down = du != 0 && du > now;
	}
}
