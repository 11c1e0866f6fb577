/* zone/arena.c -- a region allocator: many allocations, one free. */
#include "zone/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/err.h"

/* Largest block size the geometric growth reaches. */
#define ARENA_BLOCK_MAX (4u << 20)

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
		munmap(b, sizeof(*b) + b->size);
	}
	free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct arena_block *b = a->head;
	/* arena_bytes may leave the block's fill unaligned: realign first. */
	size_t start = b ? (b->used + align - 1) & ~(align - 1) : 0;

	n = (n + align - 1) & ~(align - 1);
	if (!b || start > b->size || b->size - start < n) {
		/* Big requests get a block of their own so the current one is kept. */
		size_t size = n > a->block_size / 4 ? n : a->block_size;
		/* Blocks come straight from mmap, not the heap: a zone freed
		 * after a rebuild goes back to the kernel at once instead of
		 * leaving holes among the parser's small allocations. */
		struct arena_block *nb = mmap(NULL, sizeof(*nb) + size, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (nb == MAP_FAILED)
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
		start = 0;
		/* Grow the next blocks geometrically: few mappings for a large
		 * zone, little slack for a small one. */
		if (size == a->block_size && a->block_size < ARENA_BLOCK_MAX)
			a->block_size *= 2;
	}
	void *p = b->data + start;
	b->used = start + n;
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

void *arena_bytes(struct arena *a, const void *p, size_t n)
{
	struct arena_block *b = a->head;

	if (n == 0 || !b || b->size - b->used < n || n > a->block_size / 4)
		return arena_memdup(a, p, n);	/* starts aligned; fine */
	void *q = b->data + b->used;
	memcpy(q, p, n);
	b->used += n;
	a->total += n;
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

int array_reserve(void **v, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 64;
	while (nc < want)
		nc *= 2;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return MDNS_ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}
