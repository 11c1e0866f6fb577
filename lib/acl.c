/* lib/acl.c -- address prefix lists: who may use forwarding (recurseFrom), which addresses are ours. */
#include "lib/acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/err.h"

/*
 * Every prefix is stored as 16 bytes plus a length, IPv4 as ::ffff:a.b.c.d
 * with 96 added to its length; a lookup is then one masked compare per entry.
 * recurseFrom lists are short (a handful of networks), so a linear scan beats
 * a trie here and keeps the code obvious.
 */
struct acl_prefix {
	uint8_t b[16];
	int bits;
};

struct acl {
	struct acl_prefix *v;
	size_t n, cap;
};

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

struct acl *acl_new(void)
{
	return calloc(1, sizeof(struct acl));
}

void acl_free(struct acl *a)
{
	if (!a)
		return;
	free(a->v);
	free(a);
}

static void mask(uint8_t *b, int bits)
{
	for (int i = 0; i < 16; i++) {
		int keep = bits - i * 8;
		if (keep >= 8)
			continue;
		b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

static bool prefix_covers(const struct acl_prefix *p, const uint8_t *b)
{
	int full = p->bits / 8, rest = p->bits % 8;

	if (memcmp(p->b, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (b[full] & m) == p->b[full];
}

int acl_add_prefix(struct acl *a, int af, const void *addr, int bits)
{
	struct acl_prefix p;

	if (af == AF_INET) {
		if (bits < 0 || bits > 32)
			return MDNS_EINVAL;
		memcpy(p.b, v4mapped, 12);
		memcpy(p.b + 12, addr, 4);
		p.bits = bits + 96;
	} else if (af == AF_INET6) {
		if (bits < 0 || bits > 128)
			return MDNS_EINVAL;
		memcpy(p.b, addr, 16);
		p.bits = bits;
	} else {
		return MDNS_EINVAL;
	}
	mask(p.b, p.bits);
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].bits == p.bits && memcmp(a->v[i].b, p.b, 16) == 0)
			return 0;	/* already there (an interface listed twice...) */
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct acl_prefix *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return MDNS_ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = p;
	return 0;
}

int acl_add_cidr(struct acl *a, const char *cidr)
{
	char addr[INET6_ADDRSTRLEN + 1];
	uint8_t b[16];
	const char *slash = strchr(cidr, '/');
	size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	int af, bits = -1;

	if (alen == 0 || alen >= sizeof(addr))
		return MDNS_EINVAL;
	memcpy(addr, cidr, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, b) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, addr, b) == 1)
		af = AF_INET6;
	else
		return MDNS_EINVAL;
	if (slash) {
		const char *d = slash + 1;
		if (*d == '\0' || strlen(d) > 3)
			return MDNS_EINVAL;
		bits = 0;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return MDNS_EINVAL;
			bits = bits * 10 + (*d - '0');
		}
	} else {
		bits = af == AF_INET ? 32 : 128;
	}
	return acl_add_prefix(a, af, b, bits);
}

int acl_add_loopback(struct acl *a)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 0 };
	static const uint8_t lo6[16] = { [15] = 1 };
	int rc = acl_add_prefix(a, AF_INET, lo4, 8);
	return rc ? rc : acl_add_prefix(a, AF_INET6, lo6, 128);
}

/* Leading one bits of a netmask (a non-contiguous mask counts up to its first zero). */
static int mask_bits(const uint8_t *m, size_t n)
{
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		for (int j = 7; j >= 0; j--) {
			if (!(m[i] & (1 << j)))
				return bits;
			bits++;
		}
	}
	return bits;
}

int acl_add_ifaddrs(struct acl *a, const struct ifaddrs *list, bool networks)
{
	for (const struct ifaddrs *i = list; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr, *nm = i->ifa_netmask;
		int rc;
		if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
			continue;
		if (networks && (!nm || nm->sa_family != sa->sa_family))
			continue;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *a4 = (const void *)sa, *m4 = (const void *)nm;
			int bits = networks ? mask_bits((const uint8_t *)&m4->sin_addr, 4) : 32;
			rc = acl_add_prefix(a, AF_INET, &a4->sin_addr, bits);
		} else {
			const struct sockaddr_in6 *a6 = (const void *)sa, *m6 = (const void *)nm;
			int bits = networks ? mask_bits((const uint8_t *)&m6->sin6_addr, 16) : 128;
			rc = acl_add_prefix(a, AF_INET6, &a6->sin6_addr, bits);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int acl_add_local(struct acl *a, bool networks)
{
	struct ifaddrs *ifs;

	if (getifaddrs(&ifs) != 0)
		return -errno;
	int rc = acl_add_ifaddrs(a, ifs, networks);
	freeifaddrs(ifs);
	return rc;
}

bool acl_match_addr(const struct acl *a, int af, const void *addr)
{
	uint8_t b[16];

	if (af == AF_INET) {
		memcpy(b, v4mapped, 12);
		memcpy(b + 12, addr, 4);
	} else if (af == AF_INET6) {
		memcpy(b, addr, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < a->n; i++)
		if (prefix_covers(&a->v[i], b))
			return true;
	return false;
}

bool acl_match(const struct acl *a, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return acl_match_addr(a, AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return acl_match_addr(a, AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

size_t acl_count(const struct acl *a)
{
	return a->n;
}

char *acl_format(const struct acl *a, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		const struct acl_prefix *p = &a->v[i];
		char ip[INET6_ADDRSTRLEN];
		int v4 = p->bits >= 96 && memcmp(p->b, v4mapped, 12) == 0;
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? p->b + 12 : p->b, ip, sizeof(ip));
		int n = snprintf(buf + off, len - off, "%s%s/%d", i ? ", " : "", ip,
				 v4 ? p->bits - 96 : p->bits);
		if (n < 0 || (size_t)n >= len - off) {
			buf[len - 1] = '\0';
			break;
		}
		off += (size_t)n;
	}
	return buf;
}
