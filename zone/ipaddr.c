/* zone/ipaddr.c -- IPv4/IPv6 address values. */
#include "zone/ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"

int ipaddr_parse(const char *s, struct ipaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->b) == 1) {
		out->af = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->b) == 1) {
		out->af = 6;
		return 0;
	}
	return MDNS_EINVAL;
}

char *ipaddr_format(const struct ipaddr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->af == 4 ? AF_INET : AF_INET6, a->b, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

int ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b)
{
	return a->af == b->af && memcmp(a->b, b->b, a->af == 4 ? 4 : 16) == 0;
}
