/* zone/ipaddr.h -- a plain IPv4/IPv6 address value, shared by state and zone. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* An address in network byte order; af is 4 or 6 (0 = unset). */
struct ipaddr {
	uint8_t af;
	uint8_t b[16];	/* 4 bytes used for IPv4 */
};

/* A counted array of addresses; owner documented where it is embedded. */
struct iplist {
	struct ipaddr *v;
	size_t n;
};

/* Parse an IPv4 or IPv6 literal (no brackets).  0 on success, MDNS_EINVAL otherwise. */
int ipaddr_parse(const char *s, struct ipaddr *out);

/* Format into buf (at least 46 bytes); returns buf. */
char *ipaddr_format(const struct ipaddr *a, char *buf, size_t len);

/* 1 if equal (same family and bytes), else 0. */
int ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b);
