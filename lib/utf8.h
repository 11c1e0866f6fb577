/* lib/utf8.h -- keep strings from the masters valid UTF-8 without refusing them. */
#pragma once

#include <stddef.h>

/*
 * A master's JSON may carry bytes that are not UTF-8 in a string (Mesos
 * keeps task names and labels as the framework sent them).  One such byte
 * anywhere in a 100 MB state must not stop every refresh, so the parsers
 * read strings unchecked and the strings they keep go through utf8_repair:
 * each byte that does not start a well-formed sequence becomes U+FFFD, as
 * Go's decoder (mesos-dns) reads it.  DNS labels drop bytes >= 0x80 anyway;
 * what changes is that /v1/enumerate and stateCacheFile stay valid JSON.
 */

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing past U+10FFFF). */
int utf8_valid(const char *s, size_t n);

/* Largest output of utf8_repair for n input bytes. */
#define UTF8_REPAIR_MAX(n) ((n) * 3)

/* Write s[0..n) to out (room for UTF8_REPAIR_MAX(n) bytes, not
 * NUL-terminated) with every byte that starts no well-formed sequence
 * replaced by U+FFFD (EF BF BD); returns the bytes written. */
size_t utf8_repair(const char *s, size_t n, char *out);
