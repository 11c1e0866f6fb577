/* zone/itab.c -- open-addressing intern index (see itab.h). */
#include "zone/itab.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

uint32_t itab_hash(const void *p, size_t len)
{
	/*
	 * Eight bytes per multiply instead of FNV's one: names are 20-60
	 * bytes and hashing them was an eighth of a zone build.  Each word is
	 * mixed in with a multiply and the high half folded down, so the low
	 * bits used as the slot index depend on every byte.
	 */
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;

	for (; len >= 8; s += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, s, len);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return (uint32_t)h;
}

/* Move the entries into a table of ns slots (a power of two). */
static int rehash(struct itab *t, size_t ns)
{
	struct itab_slot *nv = calloc(ns, sizeof(*nv));
	if (!nv)
		return MDNS_ENOMEM;
	for (size_t i = 0; i < t->size; i++) {
		if (!t->v[i].id)
			continue;
		size_t j = t->v[i].hash & (ns - 1);
		while (nv[j].id)
			j = (j + 1) & (ns - 1);
		nv[j] = t->v[i];
	}
	free(t->v);
	t->v = nv;
	t->size = ns;
	return 0;
}

int itab_reserve(struct itab *t)
{
	if ((t->n + 1) * 2 <= t->size)
		return 0;
	return rehash(t, t->size ? t->size * 2 : 1024);
}

int itab_expect(struct itab *t, size_t n)
{
	size_t ns = t->size ? t->size : 1024;

	while (ns < n * 2)
		ns *= 2;
	return ns == t->size ? 0 : rehash(t, ns);
}

void itab_clear(struct itab *t)
{
	free(t->v);
	t->v = NULL;
	t->size = t->n = 0;
}
