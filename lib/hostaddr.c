/* lib/hostaddr.c -- addresses of names and of this host. */
#include "lib/hostaddr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/err.h"
#include "lib/log.h"

struct hostcache_entry {
	char *host;
	time_t resolved;		/* when ips were filled */
	int literal;			/* an IP address: never asked again */
	unsigned long used;		/* the build that looked it up last (gen) */
	struct iplist ips;
	struct hostcache_entry *next;
};

struct hostcache {
	struct hostcache_entry *head;
	int ttl;
	time_t build_start;
	unsigned long gen;		/* builds begun */
};

struct hostcache *hostcache_new(int ttl)
{
	struct hostcache *c = calloc(1, sizeof(*c));
	if (c) {
		c->ttl = ttl > 0 ? ttl : 1;
		c->build_start = time(NULL);
	}
	return c;
}

void hostcache_begin(struct hostcache *c)
{
	c->build_start = time(NULL);
	c->gen++;
}

static void entry_free(struct hostcache_entry *e)
{
	free(e->host);
	free(e->ips.v);
	free(e);
}

void hostcache_prune(struct hostcache *c)
{
	for (struct hostcache_entry **pe = &c->head; *pe;) {
		struct hostcache_entry *e = *pe;
		if (e->used == c->gen) {
			pe = &e->next;
		} else {
			*pe = e->next;
			entry_free(e);
		}
	}
}

/* How long entry e's addresses are good for: failures are retried sooner. */
static int entry_ttl(const struct hostcache *c, const struct hostcache_entry *e)
{
	return e->ips.n ? c->ttl : (c->ttl + 9) / 10;
}

int hostcache_due(const struct hostcache *c)
{
	time_t now = time(NULL);

	for (const struct hostcache_entry *e = c->head; e; e = e->next)
		if (!e->literal && e->resolved + entry_ttl(c, e) <= now)
			return 1;
	return 0;
}

void hostcache_free(struct hostcache *c)
{
	if (!c)
		return;
	for (struct hostcache_entry *e = c->head, *n; e; e = n) {
		n = e->next;
		entry_free(e);
	}
	free(c);
}

static int iplist_add(struct iplist *l, const struct ipaddr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (ipaddr_equal(&l->v[i], a))
			return 0;
	struct ipaddr *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return MDNS_ENOMEM;
	l->v = v;
	l->v[l->n++] = *a;
	return 0;
}

static void resolve_into(const char *host, struct iplist *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	struct ipaddr a;

	if (ipaddr_parse(host, &a) == 0) {
		iplist_add(out, &a);
		return;
	}
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		log_warn("state: cannot resolve host %s: %s; records that need it are left out",
			 host, gai_strerror(rc));
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		memset(&a, 0, sizeof(a));
		if (ai->ai_family == AF_INET) {
			a.af = 4;
			memcpy(a.b, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a.af = 6;
			memcpy(a.b, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		iplist_add(out, &a);
	}
	freeaddrinfo(res);
}

const struct iplist *hostcache_lookup(struct hostcache *c, const char *host)
{
	static const struct iplist empty;
	struct hostcache_entry *e;

	for (e = c->head; e; e = e->next) {
		if (strcmp(e->host, host) != 0)
			continue;
		/* Re-resolve only before this build's first use of the entry, so
		 * lists handed out during the build stay valid. */
		if (!e->literal && e->resolved < c->build_start &&
		    e->resolved + entry_ttl(c, e) <= c->build_start) {
			free(e->ips.v);
			memset(&e->ips, 0, sizeof(e->ips));
			resolve_into(host, &e->ips);
			e->resolved = time(NULL);
		}
		e->used = c->gen;
		return &e->ips;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->host = strdup(host))) {
		free(e);
		return &empty;
	}
	struct ipaddr a;
	e->literal = ipaddr_parse(host, &a) == 0;
	resolve_into(host, &e->ips);
	e->resolved = time(NULL);
	e->used = c->gen;
	e->next = c->head;
	c->head = e;
	return &e->ips;
}

int hostaddr_listener_ips(const char *listener, struct iplist *out)
{
	struct ipaddr a;
	struct ifaddrs *ifs, *i;

	memset(out, 0, sizeof(*out));
	if (ipaddr_parse(listener, &a) != 0)
		return MDNS_EINVAL;
	static const uint8_t zero[16];
	if (memcmp(a.b, zero, a.af == 4 ? 4 : 16) != 0)
		return iplist_add(out, &a);
	if (getifaddrs(&ifs) != 0)
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		memset(&a, 0, sizeof(a));
		if (i->ifa_addr->sa_family == AF_INET) {
			a.af = 4;
			memcpy(a.b, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
			if (a.b[0] == 127)
				continue;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *in6 = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LOOPBACK(in6) || IN6_IS_ADDR_LINKLOCAL(in6))
				continue;
			a.af = 6;
			memcpy(a.b, in6, 16);
		} else {
			continue;
		}
		iplist_add(out, &a);
	}
	freeifaddrs(ifs);
	return 0;
}

int hostaddr_split(const char *hostport, char **host, uint16_t *port)
{
	const char *colon, *h = hostport;
	size_t hl;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');
		if (!close || close[1] != ':')
			return MDNS_EINVAL;
		h = hostport + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return MDNS_EINVAL;
		hl = (size_t)(colon - hostport);
	}
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (hl == 0 || *end || end == colon + 1 || p < 1 || p > 65535)
		return MDNS_EINVAL;
	*host = strndup(h, hl);
	if (!*host)
		return MDNS_ENOMEM;
	*port = (uint16_t)p;
	return 0;
}
