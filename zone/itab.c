/* zone/itab.c -- open-addressing intern index (see itab.h). */
#include "zone/itab.h"

#include <stdlib.h>

#include "lib/err.h"

uint32_t itab_hash(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	/* FNV's multiply only carries upwards: fold the high bits down. */
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

int itab_reserve(struct itab *t)
{
	if ((t->n + 1) * 2 <= t->size)
		return 0;
	size_t ns = t->size ? t->size * 2 : 1024;
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

void itab_clear(struct itab *t)
{
	free(t->v);
	t->v = NULL;
	t->size = t->n = 0;
}
