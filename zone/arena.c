/* zone/arena.c -- a region allocator: many allocations, one free. */
#include "zone/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	_Alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_block *head;
	size_t block_size;
	size_t total;
};

struct arena *arena_new(size_t block_size)
{
	struct arena *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->block_size = block_size < 4096 ? 4096 : block_size;
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	for (struct arena_block *b = a->head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct arena_block *b = a->head;

	n = (n + align - 1) & ~(align - 1);
	if (!b || b->size - b->used < n) {
		/* Big requests get a block of their own so the current one is kept. */
		size_t size = n > a->block_size / 4 ? n : a->block_size;
		struct arena_block *nb = malloc(sizeof(*nb) + size);
		if (!nb)
			return NULL;
		nb->size = size;
		nb->used = 0;
		if (b && size != a->block_size) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	a->total += n;
	return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
	void *q = arena_alloc(a, n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup(a, s, strlen(s) + 1);
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}
