/* lib/acl.h -- address prefix lists: who may use forwarding (recurseFrom), which addresses are ours. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acl;
struct ifaddrs;
struct sockaddr;

/*
 * An empty list (matches nothing).  NULL on out of memory.  Caller frees with
 * acl_free().  A list is built once at start-up and then only read, so any
 * number of threads may call acl_match() on it concurrently.
 */
struct acl *acl_new(void);

/* Free a list; NULL is a no-op. */
void acl_free(struct acl *a);

/*
 * Add "IP/bits" or a bare "IP" (a host prefix), IPv4 or IPv6.  Bits beyond the
 * prefix length are ignored (the address is masked).  Returns 0, MDNS_EINVAL
 * for text that is not a prefix, MDNS_ENOMEM.
 */
int acl_add_cidr(struct acl *a, const char *cidr);

/*
 * Add one prefix: af is AF_INET (4 address bytes, bits 0..32) or AF_INET6
 * (16 bytes, bits 0..128).  IPv4 is kept as IPv4-mapped IPv6 so one compare
 * serves both families.  Returns 0, MDNS_EINVAL or MDNS_ENOMEM.
 */
int acl_add_prefix(struct acl *a, int af, const void *addr, int bits);

/* Add 127.0.0.0/8 and ::1/128.  Returns 0 or MDNS_ENOMEM. */
int acl_add_loopback(struct acl *a);

/*
 * Add the IPv4/IPv6 entries of an interface list (as from getifaddrs(3); the
 * list is only read, so tests pass hand-made ones): with networks, each
 * address masked by its netmask (the interface's network, BIND's
 * "localnets"); without, each address as a host prefix.  Entries without an
 * address, or (with networks) without a netmask, are skipped.  Pure.
 * Returns 0 or MDNS_ENOMEM.
 */
int acl_add_ifaddrs(struct acl *a, const struct ifaddrs *list, bool networks);

/*
 * Add this host's interface addresses (networks or host prefixes, as above)
 * read with getifaddrs(3).  Returns 0, the negated errno of getifaddrs, or
 * MDNS_ENOMEM.
 */
int acl_add_local(struct acl *a, bool networks);

/*
 * Whether the address (AF_INET, or AF_INET6 including IPv4-mapped addresses,
 * which match IPv4 prefixes) falls in a prefix of the list.  Other families
 * never match.
 */
bool acl_match(const struct acl *a, const struct sockaddr *sa);

/* The same for a raw address: af AF_INET (4 bytes) or AF_INET6 (16 bytes). */
bool acl_match_addr(const struct acl *a, int af, const void *addr);

/* Number of prefixes. */
size_t acl_count(const struct acl *a);

/*
 * The prefixes as "127.0.0.0/8, ::1/128, ..." into buf (truncated to fit,
 * always terminated), for logs.  Returns buf.
 */
char *acl_format(const struct acl *a, char *buf, size_t len);
