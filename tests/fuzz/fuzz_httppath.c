/* tests/fuzz/fuzz_httppath.c -- any bytes as an HTTP path: the router must not crash, and a
 * name it hands on must be one the handlers can take. */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "lib/httpapi.h"

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char arg[256];

	/* Poison arg so a route that forgets to write it is caught below. */
	memset(arg, 'Z', sizeof(arg));
	enum httpapi_route r = httpapi_route((const char *)data, size, arg, sizeof(arg));

	switch (r) {
	case HTTPAPI_HOSTS:
	case HTTPAPI_HOST_PORTS:
	case HTTPAPI_SERVICES: {
		size_t n = strnlen(arg, sizeof(arg));
		if (n == 0 || n > 254 || arg[0] == '.' || strstr(arg, ".."))
			abort();
		for (size_t i = 0; i < n; i++)
			if (!name_char(arg[i]))
				abort();
		break;
	}
	case HTTPAPI_NOT_FOUND:
	case HTTPAPI_BAD_REQUEST:
	case HTTPAPI_VERSION:
	case HTTPAPI_CONFIG:
	case HTTPAPI_ENUMERATE:
	case HTTPAPI_AXFR:
	case HTTPAPI_METRICS:
	case HTTPAPI_HEALTH:
	case HTTPAPI_READY:
		if (arg[0] != '\0')
			abort();	/* no name handed on */
		break;
	default:
		abort();
	}
	/* A path must start with '/' to go anywhere. */
	if ((size == 0 || data[0] != '/') && r != HTTPAPI_BAD_REQUEST)
		abort();
	/* Routing is a function of the bytes. */
	char arg2[256];
	if (httpapi_route((const char *)data, size, arg2, sizeof(arg2)) != r)
		abort();
	return 0;
}
