/* zone/arena.h -- a region allocator: many allocations, one free. */
#pragma once

#include <stddef.h>

struct arena;

/* New arena whose blocks are at least block_size bytes; NULL on failure. */
struct arena *arena_new(size_t block_size);

/* Free the arena and everything allocated from it; NULL is a no-op. */
void arena_free(struct arena *a);

/* n bytes aligned for any type, valid until arena_free; NULL on failure. */
void *arena_alloc(struct arena *a, size_t n);

/* A copy of n bytes (not NUL-terminated) in the arena; NULL on failure. */
void *arena_memdup(struct arena *a, const void *p, size_t n);

/* A copy of n bytes with no alignment (record data): small copies waste
 * nothing on padding.  NULL on failure. */
void *arena_bytes(struct arena *a, const void *p, size_t n);

/* A copy of the string in the arena; NULL on failure. */
char *arena_strdup(struct arena *a, const char *s);

/* Bytes handed out so far (for memory accounting). */
size_t arena_used(const struct arena *a);

/* Not an arena: make a malloc'd array of elem-byte items (*v, *cap items)
 * hold at least want, doubling from 64; 0 or MDNS_ENOMEM (*v unchanged). */
int array_reserve(void **v, size_t *cap, size_t want, size_t elem);
