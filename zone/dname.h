/* zone/dname.h -- domain names in wire format: conversion and comparison. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DNAME_MAXLEN 255	/* wire length, root label included */
#define DNAME_TEXT_MAX 1024	/* presentation text of any name, escapes included */

/* One byte lower-cased (ASCII letters only: DNS names compare that way). */
static inline uint8_t dname_lower_byte(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * Eight bytes lower-cased at once (SWAR), in whichever byte order they were
 * loaded: for a byte below 0x80, adding 0x3f to it carries into bit 7 from
 * 'A' up and adding 0x25 from '[' up; bit 7 of the byte itself rules out
 * the rest, which stay as they are.  Length bytes (at most 63) pass
 * unchanged, so wire names can go through whole.
 */
static inline uint64_t dname_lower8(uint64_t w)
{
	uint64_t x = w & 0x7f7f7f7f7f7f7f7fULL;
	uint64_t upper = (x + 0x3f3f3f3f3f3f3f3fULL) & ~(x + 0x2525252525252525ULL) & ~w &
			 0x8080808080808080ULL;

	return w | upper >> 2;
}

/* d = s lower-cased, as many whole 8-byte words of the first n bytes as
 * there are; returns how many bytes that was (the caller does the rest). */
static inline size_t dname_lower_words(uint8_t *d, const uint8_t *s, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
		x = dname_lower8(x);
		memcpy(d + i, &x, 8);
	}
	return i;
}

/*
 * Text (dots between labels, optional trailing dot, "" or "." for the root)
 * to lower-case wire format in out[DNAME_MAXLEN].  Returns the wire length,
 * or 0 for an invalid name (empty label, label over 63, name over 255,
 * escapes are not supported).
 */
size_t dname_from_text(const char *text, uint8_t *out);

/*
 * Wire name to text with a trailing dot ("." for the root) into buf; bytes
 * outside [A-Za-z0-9-_] are written as \DDD.  Returns buf.
 */
char *dname_to_text(const uint8_t *wire, char *buf, size_t len);

/*
 * Step over a possibly compressed name in a message at *offp, within
 * [0, end).  Pointers must point backwards and past the 12-byte header, so
 * pointer cycles are impossible, and the decoded name stays within 255
 * bytes.  On success *offp is just past the name and, when is_root is not
 * NULL, *is_root says whether it was the root.  -1 when malformed.
 */
int dname_skip(const uint8_t *msg, size_t end, size_t *offp, int *is_root);

/* Number of labels, root excluded. */
unsigned dname_labels(const uint8_t *wire);

/* Length of a well-formed, uncompressed wire name. */
size_t dname_len(const uint8_t *wire);

/* Lower-case an uncompressed wire name in place. */
void dname_lower(uint8_t *wire);

/*
 * RFC 4034 §6.1 canonical order of two lower-case wire names: <0, 0, >0.
 */
int dname_canon_cmp(const uint8_t *a, const uint8_t *b);

/*
 * If name is the same as or below the wire name apex, return the number of
 * leading bytes of name before the apex part (0 when equal); else -1.
 * Both lower-case.
 */
int dname_under(const uint8_t *name, size_t namelen, const uint8_t *apex, size_t apexlen);
