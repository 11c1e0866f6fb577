/* lib/notify.c -- NOTIFY (RFC 1996) to the secondaries when a zone's serial changes. */
#include "lib/notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/hostaddr.h"
#include "lib/log.h"
#include "zone/dname.h"
#include "zone/ipaddr.h"
#include "zone/zone.h"

/* Tries per NOTIFY; the waits between them double from 1 s (RFC 1996 §3.6
 * leaves the schedule to the primary). */
#define NOTIFY_TRIES 5
#define OPCODE_NOTIFY 4

struct target {
	struct sockaddr_storage sa;
	socklen_t salen;
	char text[INET6_ADDRSTRLEN + 8];
};

/* One NOTIFY waiting for its answer: a zone to a target. */
struct pending {
	struct notifier *n;
	size_t target;
	uint8_t apex[DNAME_MAXLEN];
	char zone[DNAME_MAXLEN * 4 + 2];	/* apex as text, for logs */
	uint32_t serial;
	uint16_t id;
	int tries;
	uint8_t msg[12 + DNAME_MAXLEN + 4 + 12 + 2 * DNAME_MAXLEN + 20];
	size_t msglen;
	struct event *timer;
	struct pending *next;
};

/* A SOA query of the start-up probe. */
struct probe_q {
	size_t target;
	uint16_t id;
	int answered;
};

struct notifier {
	struct event_base *base;
	struct target *t;
	size_t nt;
	int fd4, fd6;
	struct event *ev4, *ev6;
	struct pending *pend;
	/* the start-up probe */
	struct probe_q *probe;
	size_t nprobe, probe_left;
	struct event *probe_ev;		/* timeout, or "done" when nothing is asked */
	void (*probe_done)(void *ctx);
	void *probe_ctx;
	uint32_t floor;
	int have_floor;
};

/* "IP", "IPv4:port" or "[IPv6]:port" (port 53 when absent). */
static int parse_target(const char *s, struct target *t)
{
	struct ipaddr ip;
	uint16_t port = 53;
	char *host = NULL;

	if (ipaddr_parse(s, &ip) != 0) {
		if (hostaddr_split(s, &host, &port) != 0 || ipaddr_parse(host, &ip) != 0) {
			free(host);
			return MDNS_EINVAL;
		}
		free(host);
	}
	memset(t, 0, sizeof(*t));
	if (ip.af == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->sa;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, ip.b, 4);
		t->salen = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->sa;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip.b, 16);
		t->salen = sizeof(*s6);
	}
	char a[INET6_ADDRSTRLEN];
	ipaddr_format(&ip, a, sizeof(a));
	snprintf(t->text, sizeof(t->text), ip.af == 6 ? "[%s]:%u" : "%s:%u", a, (unsigned)port);
	return 0;
}

/* The host address of a "addr/bits" prefix with all bits set, else 0. */
static int host_prefix(const char *cidr, char *addr, size_t len)
{
	const char *slash = strchr(cidr, '/');
	struct ipaddr ip;

	if (!slash || (size_t)(slash - cidr) >= len)
		return 0;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (ipaddr_parse(addr, &ip) != 0)
		return 0;
	return atoi(slash + 1) == (ip.af == 4 ? 32 : 128);
}

static int same_addr(const struct sockaddr_storage *a, socklen_t alen,
		     const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	(void)alen;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static uint16_t random_id(void)
{
	uint16_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)rand();
	return id;
}

/*
 * A random ID no other NOTIFY pending to p's target holds.  An answer is
 * matched by ID and address: with many zones sent at once (reverse zones
 * "auto": up to 1024), two of them would otherwise share an ID, and one
 * zone's answer would end the other's retries.
 */
static uint16_t pending_id(const struct notifier *n, const struct pending *p)
{
	for (;;) {
		uint16_t id = random_id();
		const struct pending *o = n->pend;
		while (o && (o == p || o->target != p->target || o->id != id))
			o = o->next;
		if (!o)
			return id;
	}
}

static void pending_free(struct notifier *n, struct pending *p)
{
	for (struct pending **pp = &n->pend; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->timer)
		event_free(p->timer);
	free(p);
}

static void transmit(struct pending *p)
{
	struct notifier *n = p->n;
	const struct target *t = &n->t[p->target];
	int fd = t->sa.ss_family == AF_INET6 ? n->fd6 : n->fd4;
	struct timeval tv = { .tv_sec = 1 << p->tries };

	if (sendto(fd, p->msg, p->msglen, 0, (const struct sockaddr *)&t->sa, t->salen) < 0)
		log_debug("notify: sending to %s: %s", t->text, strerror(errno));
	p->tries++;
	evtimer_add(p->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	(void)fd; (void)what;

	if (p->tries >= NOTIFY_TRIES) {
		log_warn("notify: %s serial %u: no answer from %s after %d tries", p->zone, p->serial,
			 p->n->t[p->target].text, p->tries);
		pending_free(p->n, p);
		return;
	}
	transmit(p);
}

static void probe_finish(struct notifier *n)
{
	void (*done)(void *) = n->probe_done;

	if (!done)
		return;
	n->probe_done = NULL;
	evtimer_del(n->probe_ev);
	if (n->have_floor)
		log_info("notify: the secondaries hold serials up to %u", n->floor);
	else if (n->nprobe)
		log_info("notify: no serial from the secondaries (no answer, or no zone yet)");
	done(n->probe_ctx);
}

static void probe_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	probe_finish(arg);
}

/* Skip a possibly compressed name at *off (bounds-checked); -1 when malformed. */
static int skip_name(const uint8_t *b, size_t len, size_t *off)
{
	size_t o = *off;

	for (int hops = 0; o < len; hops++) {
		if ((b[o] & 0xc0) == 0xc0) {
			*off = o + 2;
			return o + 2 <= len ? 0 : -1;
		}
		if (b[o] == 0) {
			*off = o + 1;
			return 0;
		}
		if ((b[o] & 0xc0) || hops > 127)
			return -1;
		o += b[o] + 1u;
	}
	return -1;
}

/* The serial of the first answer record when it is a SOA; -1 otherwise. */
static int soa_serial_of(const uint8_t *b, size_t len, uint32_t *serial)
{
	size_t off = 12;

	if ((b[4] << 8 | b[5]) != 1 || (b[6] << 8 | b[7]) < 1 || skip_name(b, len, &off) ||
	    len - off < 4)
		return -1;
	off += 4;
	if (skip_name(b, len, &off) || len - off < 10 || (b[off] << 8 | b[off + 1]) != RR_SOA)
		return -1;
	size_t rdlen = (size_t)(b[off + 8] << 8 | b[off + 9]);
	off += 10;
	if (rdlen < 22 || len - off < rdlen)
		return -1;
	const uint8_t *f = b + off + rdlen - 20;
	*serial = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
	return 0;
}

/* An answer to a probe SOA query: its serial raises the floor. */
static void probe_answer(struct notifier *n, const uint8_t *b, size_t len,
			 const struct sockaddr_storage *from, socklen_t flen)
{
	uint16_t id = (uint16_t)(b[0] << 8 | b[1]);

	for (size_t i = 0; i < n->nprobe; i++) {
		struct probe_q *q = &n->probe[i];
		if (q->answered || q->id != id || !same_addr(from, flen, &n->t[q->target].sa))
			continue;
		q->answered = 1;
		n->probe_left--;
		uint32_t serial;
		if ((b[3] & 0x0f) == 0 && soa_serial_of(b, len, &serial) == 0) {
			if (!n->have_floor || (int32_t)(serial - n->floor) > 0)
				n->floor = serial;
			n->have_floor = 1;
		}
		if (n->probe_left == 0)
			probe_finish(n);
		return;
	}
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	(void)what;

	for (;;) {
		uint8_t buf[512];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (r < 0)
			return;
		if (r < 12 || !(buf[2] & 0x80))
			continue;
		if (((buf[2] >> 3) & 0x0f) == 0 && n->probe_done) {
			probe_answer(n, buf, (size_t)r, &from, flen);
			continue;
		}
		if (((buf[2] >> 3) & 0x0f) != OPCODE_NOTIFY)
			continue;
		uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
		for (struct pending *p = n->pend; p; p = p->next) {
			const struct target *t = &n->t[p->target];
			if (p->id != id || !same_addr(&from, flen, &t->sa))
				continue;
			int rcode = buf[3] & 0x0f;
			if (rcode == 0)
				log_info("notify: %s serial %u acknowledged by %s", p->zone, p->serial,
					 t->text);
			else
				log_warn("notify: %s serial %u refused by %s (rcode %d)", p->zone,
					 p->serial, t->text, rcode);
			pending_free(n, p);
			break;
		}
	}
}

static int open_socket(struct notifier *n, int family, char *err, size_t errlen)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct event *ev;

	if (fd < 0) {
		snprintf(err, errlen, "notify: socket: %s", strerror(errno));
		return -1;
	}
	ev = event_new(n->base, fd, EV_READ | EV_PERSIST, read_cb, n);
	if (!ev || event_add(ev, NULL) != 0) {
		if (ev)
			event_free(ev);
		close(fd);
		snprintf(err, errlen, "notify: cannot watch the socket");
		return -1;
	}
	if (family == AF_INET6) {
		n->fd6 = fd;
		n->ev6 = ev;
	} else {
		n->fd4 = fd;
		n->ev4 = ev;
	}
	return 0;
}

struct notifier *notifier_new(struct event_base *base, const struct config *cfg, char *err,
			      size_t errlen)
{
	struct notifier *n = calloc(1, sizeof(*n));
	size_t cap = cfg->notify.n ? cfg->notify.n : cfg->transfer_to.n;

	if (!n || !(n->t = calloc(cap ? cap : 1, sizeof(*n->t)))) {
		free(n);
		snprintf(err, errlen, "notify: out of memory");
		return NULL;
	}
	n->base = base;
	n->fd4 = n->fd6 = -1;
	for (size_t i = 0; i < cfg->notify.n; i++) {
		if (parse_target(cfg->notify.v[i], &n->t[n->nt]) != 0) {
			snprintf(err, errlen, "notify: %s is not an address", cfg->notify.v[i]);
			notifier_free(n);
			return NULL;
		}
		n->nt++;
	}
	for (size_t i = 0; cfg->notify.n == 0 && i < cfg->transfer_to.n; i++) {
		char addr[INET6_ADDRSTRLEN + 1];
		if (host_prefix(cfg->transfer_to.v[i], addr, sizeof(addr)) &&
		    parse_target(addr, &n->t[n->nt]) == 0)
			n->nt++;
	}
	for (size_t i = 0; i < n->nt; i++) {
		int fam = n->t[i].sa.ss_family;
		if ((fam == AF_INET6 ? n->fd6 : n->fd4) < 0 && open_socket(n, fam, err, errlen) != 0) {
			notifier_free(n);
			return NULL;
		}
	}
	return n;
}

size_t notifier_targets(const struct notifier *n)
{
	return n->nt;
}

void notifier_probe(struct notifier *n, const char *const *apexes, size_t napexes, int timeout_ms,
		    void (*done)(void *ctx), void *ctx)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	free(n->probe);
	n->probe = calloc(n->nt * napexes + 1, sizeof(*n->probe));
	n->nprobe = n->probe_left = 0;
	n->floor = 0;
	n->have_floor = 0;
	n->probe_done = done;
	n->probe_ctx = ctx;
	if (!n->probe_ev && !(n->probe_ev = evtimer_new(n->base, probe_timeout_cb, n))) {
		log_err("notify: out of memory");
		abort();
	}
	for (size_t a = 0; n->probe && a < napexes; a++) {
		uint8_t m[12 + DNAME_MAXLEN + 4] = { 0, 0, 0, 0, 0, 1 };	/* QUERY, QD 1 */
		size_t wl = dname_from_text(apexes[a], m + 12);
		if (!wl)
			continue;
		memcpy(m + 12 + wl, (const uint8_t[]){ 0, RR_SOA, 0, CLASS_IN }, 4);
		for (size_t i = 0; i < n->nt; i++) {
			struct probe_q *q = &n->probe[n->nprobe];
			const struct target *t = &n->t[i];
			int fd = t->sa.ss_family == AF_INET6 ? n->fd6 : n->fd4;
			q->target = i;
			q->id = random_id();
			m[0] = (uint8_t)(q->id >> 8);
			m[1] = (uint8_t)q->id;
			if (sendto(fd, m, 12 + wl + 4, 0, (const struct sockaddr *)&t->sa, t->salen) < 0)
				continue;
			n->nprobe++;
			n->probe_left++;
		}
	}
	/* Nothing asked: finish on the next loop turn, never inside this call. */
	if (n->probe_left == 0)
		tv.tv_sec = tv.tv_usec = 0;
	evtimer_add(n->probe_ev, &tv);
}

uint32_t notifier_serial_floor(const struct notifier *n)
{
	return n->have_floor ? n->floor : 0;
}

size_t notifier_pending(const struct notifier *n)
{
	size_t k = 0;

	for (const struct pending *p = n->pend; p; p = p->next)
		k++;
	return k;
}

/* NOTIFY for z: the apex SOA as question, and in the answer (RFC 1996 §3.7). */
static size_t build(const struct zone *z, uint16_t id, uint8_t *m)
{
	const struct zone_rr *soa = &z->soa->rrs[0];
	size_t o = 12;

	m[0] = (uint8_t)(id >> 8);
	m[1] = (uint8_t)id;
	m[2] = OPCODE_NOTIFY << 3 | 0x04;	/* AA */
	m[3] = 0;
	memcpy(m + 4, (const uint8_t[]){ 0, 1, 0, 1, 0, 0, 0, 0 }, 8);
	memcpy(m + o, z->apex, z->apexlen);
	o += z->apexlen;
	memcpy(m + o, (const uint8_t[]){ 0, RR_SOA, 0, CLASS_IN }, 4);
	o += 4;
	uint32_t ttl = z->soa->ttl;
	uint8_t rr[12] = { 0xc0, 12, 0, RR_SOA, 0, CLASS_IN, (uint8_t)(ttl >> 24),
			   (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl,
			   (uint8_t)(soa->rdlen >> 8), (uint8_t)soa->rdlen };
	memcpy(m + o, rr, sizeof(rr));
	o += sizeof(rr);
	memcpy(m + o, soa->rdata, soa->rdlen);
	return o + soa->rdlen;
}

void notifier_send(struct notifier *n, const struct zone *z)
{
	if (!n || !z || !z->loaded || !z->soa)
		return;
	for (size_t i = 0; i < n->nt; i++) {
		struct pending *p = NULL;
		for (struct pending *q = n->pend; q; q = q->next)
			if (q->target == i && dname_canon_cmp(q->apex, z->apex) == 0)
				p = q;
		if (!p) {
			if (!(p = calloc(1, sizeof(*p))) ||
			    !(p->timer = evtimer_new(n->base, timer_cb, p))) {
				free(p);
				log_err("notify: out of memory");
				return;
			}
			p->n = n;
			p->target = i;
			memcpy(p->apex, z->apex, z->apexlen);
			dname_to_text(z->apex, p->zone, sizeof(p->zone));
			p->next = n->pend;
			n->pend = p;
		} else {
			evtimer_del(p->timer);
		}
		p->serial = z->serial;
		p->id = pending_id(n, p);
		p->tries = 0;
		p->msglen = build(z, p->id, p->msg);
		log_debug("notify: %s serial %u to %s", p->zone, p->serial, n->t[i].text);
		transmit(p);
	}
}

void notifier_free(struct notifier *n)
{
	if (!n)
		return;
	while (n->pend)
		pending_free(n, n->pend);
	if (n->probe_ev)
		event_free(n->probe_ev);
	free(n->probe);
	if (n->ev4)
		event_free(n->ev4);
	if (n->ev6)
		event_free(n->ev6);
	if (n->fd4 >= 0)
		close(n->fd4);
	if (n->fd6 >= 0)
		close(n->fd6);
	free(n->t);
	free(n);
}
