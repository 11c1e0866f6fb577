/* lib/resolvconf.h -- nameservers of /etc/resolv.conf, for an explicit "resolvers": []. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct acl;

/* One nameserver line, parsed. */
struct resolvconf_ns {
	int af;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order, 4 bytes used for IPv4 */
	char text[64];		/* canonical form, "%scope" kept for IPv6 link-local */
};

/*
 * Parse resolv.conf text (len bytes, need not be terminated) the way the
 * glibc stub does: "nameserver ADDR" lines with the keyword at the very start
 * of the line and a blank after it; other lines (comments starting with '#'
 * or ';', other keywords) ignored; anything after the address ignored.  Lines that are not an IP literal are skipped.  Writes
 * up to max entries into out, in file order, dropping repeats; returns how
 * many were written.  Pure.
 */
size_t resolvconf_parse(const char *text, size_t len, struct resolvconf_ns *out, size_t max);

/*
 * Whether forwarding to ns port 53 could reach this server itself (a loop):
 * ns is one of the host's own addresses (own: e.g. acl_add_local() host
 * prefixes; NULL = none), or the listener (an IP literal; "0.0.0.0" and "::"
 * receive on every local address of their family, loopback included) when
 * our port is 53.  Pure.
 */
int resolvconf_is_self(const struct resolvconf_ns *ns, const struct acl *own,
		       const char *listener, uint16_t port);

/*
 * Whether a socket bound to listener (an IP literal) receives what is sent
 * to addr (af AF_INET or AF_INET6, network byte order): addr is the
 * listener, or the listener is a wildcard ("0.0.0.0", "::") and addr is
 * loopback or one of own (this host's addresses; NULL = none).  Pure.
 */
int resolvconf_listener_gets(int af, const uint8_t *addr, const char *listener,
			     const struct acl *own);

/*
 * Read path (normally "/etc/resolv.conf") and return its nameservers that
 * are not this server, as "IP" / "[IPv6]:53" upstream strings in *out
 * (malloc'd array of malloc'd strings, caller frees each and the array; *n
 * entries).  Skipped ones are reported through note(ctx, text) when note is
 * not NULL.  Returns 0 (possibly with *n == 0), the negated errno of reading
 * the file, or MDNS_ENOMEM.
 */
int resolvconf_upstreams(const char *path, const char *listener, uint16_t port,
			 char ***out, size_t *n, void (*note)(void *ctx, const char *text), void *ctx);
