/* lib/err.c -- describe error codes. */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mdns_strerror(int code)
{
	switch (code) {
	case MDNS_EOK:       return "success";
	case MDNS_EPARSE:    return "malformed input";
	case MDNS_ETOOBIG:   return "input too large";
	case MDNS_EHTTP:     return "HTTP error";
	case MDNS_ENOLEADER: return "no leader in state";
	case MDNS_ECURL:     return "transfer failed";
	default:
		if (code < 0 && code > -1000)
			return strerror(-code);
		return "unknown error";
	}
}

void mdns_vset_err(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (!err || errlen == 0)
		return;
	vsnprintf(err, errlen, fmt, ap);
	for (char *c = err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

void mdns_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mdns_vset_err(err, errlen, fmt, ap);
	va_end(ap);
}
