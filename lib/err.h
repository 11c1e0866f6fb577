/* lib/err.h -- error codes shared by every module. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

/*
 * Fallible functions return int: 0 (MDNS_EOK) on success, a negative code
 * below on failure.  System errors keep their errno value, negated, so that
 * mdns_strerror() can describe them too.
 */
enum {
	MDNS_EOK      = 0,
	MDNS_ENOMEM   = -ENOMEM,
	MDNS_EINVAL   = -EINVAL,
	MDNS_ERANGE   = -ERANGE,
	MDNS_ENOENT   = -ENOENT,
	MDNS_EEXIST   = -EEXIST,
	MDNS_ENOSPC   = -ENOSPC,
	MDNS_EAGAIN   = -EAGAIN,
	MDNS_ETIMEDOUT = -ETIMEDOUT,
	/* Our own codes live below -1000 so they never collide with errno. */
	MDNS_EPARSE   = -1001,	/* malformed input (JSON, config, packet) */
	MDNS_ETOOBIG  = -1002,	/* input over its size limit */
	MDNS_EHTTP    = -1003,	/* HTTP error status */
	MDNS_ENOLEADER = -1004,	/* state names no leader */
	MDNS_ECURL    = -1005,	/* transfer failed in libcurl */
};

/*
 * Write a printf-style message into a parser's err buffer (errlen bytes);
 * a NULL or empty buffer is left alone.  The one way modules fill `err`.
 * Control bytes (a quoted newline of the input, say) become '?': an error
 * is one printable log line.
 */
void mdns_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same with a va_list. */
void mdns_vset_err(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Describe an error code; returns a static string, never NULL. */
const char *mdns_strerror(int code);
