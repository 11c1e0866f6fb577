/* zone/labels.h -- DNS label rules and the task hash of behaviour.md §2. */
#pragma once

#include <stddef.h>

/* Longest label each mode produces. */
#define LABEL_MAX_RFC1123 63
#define LABEL_MAX_RFC952  24

/*
 * Turn an arbitrary string into one DNS label: lower-case, keep [a-z0-9],
 * '-', '.' and '_' become '-', everything else dropped; leading '-' (and in
 * RFC 952 mode leading digits) trimmed; cut to 63 (24) with the refill rule
 * of the spec; trailing '-' trimmed.  Writes a NUL-terminated label into out
 * (outsz >= 64) and returns its length, possibly 0.
 *
 * Refill: when the cut ends in dashes, they are trimmed together with the
 * dashes that follow the cut, and the label is filled up to the maximum from
 * the characters after them ("abcd--efgh" with max 5 gives "abcde"); a
 * trailing '-' left by the refill is trimmed, so the result is always a valid
 * label.  Bytes >= 0x80 are dropped.  in == NULL gives "".  A smaller outsz
 * shortens the label instead of overrunning out.
 */
size_t label_make(const char *in, int rfc952, char *out, size_t outsz);

/*
 * DomainFrag: split on '.', apply label_make to each part, drop empty parts,
 * join with '.'.  Writes NUL-terminated text into out; returns its length, or
 * 0 when nothing is left or it does not fit in outsz.
 */
size_t label_domainfrag(const char *in, int rfc952, char *out, size_t outsz);

/*
 * zbase32 (alphabet ybndrfg8ejkmcpqxot1uwisza345h769, 5-bit groups from the
 * most significant bit, no padding) of n bytes into out; returns the length
 * written (NUL-terminated, truncated to outsz-1).
 */
size_t zbase32_encode(const unsigned char *in, size_t n, char *out, size_t outsz);

/* First 5 characters of zbase32(sha1(task_id)) into out[6]. */
void label_task_hash5(const char *task_id, char out[6]);

/*
 * 1 when s is a valid DNS name to emit as-is (the compat raw DiscoveryInfo
 * names): labels of 1..63 characters of [A-Za-z0-9-_], total <= 253, no empty
 * label.  0 otherwise.
 */
int label_is_valid_name(const char *s);
