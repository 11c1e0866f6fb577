/* zone/reverse.c -- reverse zones: PTR records for the cluster's addresses. */
#include "zone/reverse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "zone/arena.h"
#include "zone/dname.h"
#include "zone/zone.h"

struct cand {
	struct ipaddr ip;
	uint8_t rank;
	const char *name;	/* lower-case, no trailing dot, in the arena */
};

struct reverse_ptrs {
	struct arena *arena;
	struct cand *v;
	size_t n, cap;
	int sorted;
};

struct reverse_ptrs *reverse_ptrs_new(void)
{
	struct reverse_ptrs *p = calloc(1, sizeof(*p));

	if (!p || !(p->arena = arena_new(16 * 1024))) {
		free(p);
		return NULL;
	}
	p->sorted = 1;
	return p;
}

void reverse_ptrs_free(struct reverse_ptrs *p)
{
	if (!p)
		return;
	arena_free(p->arena);
	free(p->v);
	free(p);
}

int reverse_ptrs_add(struct reverse_ptrs *p, const struct ipaddr *ip, enum reverse_rank rank,
		     const char *name)
{
	uint8_t wire[DNAME_MAXLEN];
	char text[1024];

	if ((ip->af != 4 && ip->af != 6) || !dname_from_text(name, wire) || wire[0] == 0)
		return MDNS_EINVAL;
	dname_to_text(wire, text, sizeof(text));
	text[strlen(text) - 1] = '\0';	/* the trailing dot */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct cand *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return MDNS_ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	struct cand *c = &p->v[p->n];
	memset(&c->ip, 0, sizeof(c->ip));
	c->ip.af = ip->af;
	memcpy(c->ip.b, ip->b, ip->af == 4 ? 4 : 16);
	c->rank = (uint8_t)rank;
	if (!(c->name = arena_strdup(p->arena, text)))
		return MDNS_ENOMEM;
	p->n++;
	p->sorted = 0;
	return 0;
}

static int ip_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	if (a->af != b->af)
		return a->af < b->af ? -1 : 1;
	return memcmp(a->b, b->b, 16);
}

static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int c = ip_cmp(&a->ip, &b->ip);

	if (c)
		return c;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Sort, then keep only the winner of each address. */
static void resolve(struct reverse_ptrs *p)
{
	size_t o = 0;

	if (p->sorted)
		return;
	qsort(p->v, p->n, sizeof(*p->v), cand_cmp);
	for (size_t i = 0; i < p->n; i++)
		if (o == 0 || ip_cmp(&p->v[o - 1].ip, &p->v[i].ip) != 0)
			p->v[o++] = p->v[i];
	p->n = o;
	p->sorted = 1;
}

const char *reverse_ptrs_lookup(struct reverse_ptrs *p, const struct ipaddr *ip)
{
	struct ipaddr k;
	size_t lo = 0, hi;

	if (ip->af != 4 && ip->af != 6)
		return NULL;
	memset(&k, 0, sizeof(k));
	k.af = ip->af;
	memcpy(k.b, ip->b, ip->af == 4 ? 4 : 16);
	resolve(p);
	hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ip_cmp(&p->v[mid].ip, &k);
		if (c == 0)
			return p->v[mid].name;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The nibbles of the first `bytes` bytes of ip, least significant first, each followed by '.'. */
static size_t nibbles(const struct ipaddr *ip, unsigned bytes, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (unsigned i = bytes; i-- > 0;) {
		buf[o++] = hex[ip->b[i] & 0xf];
		buf[o++] = '.';
		buf[o++] = hex[ip->b[i] >> 4];
		buf[o++] = '.';
	}
	return o;
}

size_t reverse_name(const struct ipaddr *ip, char *buf, size_t len)
{
	int n;

	if (ip->af == 4) {
		n = snprintf(buf, len, "%u.%u.%u.%u.in-addr.arpa", ip->b[3], ip->b[2], ip->b[1],
			     ip->b[0]);
	} else if (ip->af == 6) {
		char tmp[80];
		size_t o = nibbles(ip, 16, tmp);
		tmp[o] = '\0';
		n = snprintf(buf, len, "%sip6.arpa", tmp);
	} else {
		return 0;
	}
	return (n < 0 || (size_t)n >= len) ? 0 : (size_t)n;
}

size_t reverse_auto_zone(const struct ipaddr *ip, char *buf, size_t len)
{
	int n;

	if (ip->af == 4) {
		n = snprintf(buf, len, "%u.%u.%u.in-addr.arpa", ip->b[2], ip->b[1], ip->b[0]);
	} else if (ip->af == 6) {
		char tmp[40];
		size_t o = nibbles(ip, 8, tmp);
		tmp[o] = '\0';
		n = snprintf(buf, len, "%sip6.arpa", tmp);
	} else {
		return 0;
	}
	return (n < 0 || (size_t)n >= len) ? 0 : (size_t)n;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

const char *reverse_zone_check(const char *name)
{
	size_t n = strlen(name), k, labels = 0;
	int v6;

	if (ends_with(name, n, ".in-addr.arpa")) {
		v6 = 0;
		k = n - strlen(".in-addr.arpa");
	} else if (ends_with(name, n, ".ip6.arpa")) {
		v6 = 1;
		k = n - strlen(".ip6.arpa");
	} else {
		return "not under in-addr.arpa or ip6.arpa";
	}
	if (k == 0 || name[k - 1] == '.')
		return "empty label";
	for (size_t i = 0; i < k;) {
		size_t j = i;
		while (j < k && name[j] != '.')
			j++;
		size_t ll = j - i;
		if (ll == 0)
			return "empty label";
		if (v6) {
			char c = name[i];
			if (ll != 1 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return "an ip6.arpa label must be one hexadecimal digit";
		} else {
			unsigned v = 0;
			if (ll > 3 || (ll > 1 && name[i] == '0'))
				return "an in-addr.arpa label must be a number 0..255 without leading zeros";
			for (size_t m = i; m < j; m++) {
				if (name[m] < '0' || name[m] > '9')
					return "an in-addr.arpa label must be a number 0..255";
				v = v * 10 + (unsigned)(name[m] - '0');
			}
			if (v > 255)
				return "an in-addr.arpa label must be a number 0..255";
		}
		labels++;
		i = j + 1;
	}
	if (labels == 0)
		return "no address labels before in-addr.arpa or ip6.arpa";
	if (labels > (v6 ? 32u : 4u))
		return v6 ? "more than 32 nibbles" : "more than 4 octets";
	return NULL;
}

/* One reverse zone being built. */
struct rzone {
	uint8_t wire[DNAME_MAXLEN];
	char *text;
	struct zone_builder *b;
};

static int rzone_cmp(const void *x, const void *y)
{
	const struct rzone *a = x, *b = y;
	return dname_canon_cmp(a->wire, b->wire);
}

/* The zone whose apex is the longest suffix of wire, or NULL (zones sorted). */
static struct rzone *rzone_find(struct rzone *v, size_t n, const uint8_t *wire)
{
	for (const uint8_t *p = wire; *p; p += *p + 1) {
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = dname_canon_cmp(v[mid].wire, p);
			if (c == 0)
				return &v[mid];
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The distinct auto zones of the chosen addresses, sorted; caller frees each and the array. */
static int auto_zones(const struct reverse_ptrs *p, char ***out, size_t *nout)
{
	char **v = calloc(p->n ? p->n : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return MDNS_ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		char buf[128];
		if (!reverse_auto_zone(&p->v[i].ip, buf, sizeof(buf)))
			continue;
		if (!(v[n] = strdup(buf))) {
			for (size_t j = 0; j < n; j++)
				free(v[j]);
			free(v);
			return MDNS_ENOMEM;
		}
		n++;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o && strcmp(v[o - 1], v[i]) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	*out = v;
	*nout = o;
	return 0;
}

int reverse_build(const struct reverse_config *rc, struct reverse_ptrs *ptrs,
		  const struct zone *prev, uint32_t now, struct zone ***out, size_t *nout,
		  struct reverse_stats *stats)
{
	struct reverse_stats local;
	struct rzone *zs = NULL;
	struct zone **zones = NULL;
	char **names = NULL;
	size_t nz = 0, nnames = 0;
	int rc_ = 0;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	*out = NULL;
	*nout = 0;
	resolve(ptrs);

	if (rc->auto_zones) {
		if ((rc_ = auto_zones(ptrs, &names, &nnames)) != 0)
			return rc_;
		if (nnames > REVERSE_AUTO_MAX) {
			stats->zones_dropped = nnames - REVERSE_AUTO_MAX;
			for (size_t i = REVERSE_AUTO_MAX; i < nnames; i++)
				free(names[i]);
			nnames = REVERSE_AUTO_MAX;
		}
	}
	size_t want = rc->auto_zones ? nnames : rc->nzones;
	zs = calloc(want ? want : 1, sizeof(*zs));
	zones = calloc(want ? want : 1, sizeof(*zones));
	if (!zs || !zones) {
		rc_ = MDNS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < want; i++) {
		const char *name = rc->auto_zones ? names[i] : rc->zones[i];
		struct zone_params zp = *rc->params;
		zp.domain = name;
		zp.arena_block = 16 * 1024;
		zs[nz].text = (char *)name;
		if (!dname_from_text(name, zs[nz].wire) || reverse_zone_check(name) != NULL) {
			rc_ = MDNS_EINVAL;
			goto out;
		}
		if (!(zs[nz].b = zone_builder_new(&zp))) {
			rc_ = MDNS_ENOMEM;
			goto out;
		}
		nz++;
	}
	qsort(zs, nz, sizeof(*zs), rzone_cmp);

	for (size_t i = 0; i < ptrs->n; i++) {
		char owner[128];
		uint8_t wire[DNAME_MAXLEN];
		const struct cand *c = &ptrs->v[i];
		struct rzone *z;

		if (!reverse_name(&c->ip, owner, sizeof(owner)) || !dname_from_text(owner, wire))
			continue;
		if (!(z = rzone_find(zs, nz, wire))) {
			stats->unplaced++;
			continue;
		}
		int r = zone_builder_add_ptr(z->b, owner, c->name);
		if (r == MDNS_ENOMEM) {
			rc_ = r;
			goto out;
		}
		if (r == 0)
			stats->ptrs++;
	}
	for (size_t i = 0; i < nz; i++) {
		const struct zone *p = zone_reverse_of(prev, zs[i].wire, dname_len(zs[i].wire));
		zones[i] = zone_builder_finish(zs[i].b, p, now);
		zs[i].b = NULL;
		if (!zones[i]) {
			rc_ = MDNS_ENOMEM;
			goto out;
		}
	}
	*out = zones;
	*nout = nz;
	zones = NULL;
out:
	for (size_t i = 0; i < nz; i++) {
		zone_builder_free(zs ? zs[i].b : NULL);
		if (zones)
			zone_free(zones[i]);
	}
	free(zones);
	free(zs);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return rc_;
}
