/* lib/hostaddr.h -- addresses of names and of this host (blocking; builder thread only). */
#pragma once

#include "zone/ipaddr.h"

struct hostcache;

/*
 * A cache of name -> addresses kept across zone builds, so a slow or failing
 * resolver is asked about each name at most once per ttl seconds (failures
 * are retried sooner, after ttl/10).  NULL on no memory.
 */
struct hostcache *hostcache_new(int ttl);
void hostcache_free(struct hostcache *c);

/*
 * Start a build: lists returned from now on stay valid until the next
 * hostcache_begin (entries are only re-resolved at their first lookup after
 * a begin).
 */
void hostcache_begin(struct hostcache *c);

/*
 * Addresses of host: an IP literal parses directly, a name goes through
 * getaddrinfo (so /etc/hosts and the system resolver), once per cache.
 * Returns a list borrowed from the cache (empty when unresolvable).  Blocks:
 * never call it from the event loop.
 */
const struct iplist *hostcache_lookup(struct hostcache *c, const char *host);

/*
 * After a build that succeeded: forget the names it did not look up (lists
 * of this build stay valid).  A name that left the state (a framework gone,
 * a master dropped from the config) would otherwise stay in the cache for
 * good, and once its ttl ran out, hostcache_due would say 1 at every
 * refresh: no refresh of an unchanged state would be skipped again.
 */
void hostcache_prune(struct hostcache *c);

/*
 * 1 when a lookup now would ask the resolver again about a name looked up
 * before (its ttl ran out), so a build now could see other addresses than
 * the last one did; IP literals never count.  0 otherwise.
 */
int hostcache_due(const struct hostcache *c);

/*
 * The name server's own addresses for listener: the literal itself, or for
 * "0.0.0.0" / "::" every non-loopback interface address.  *out is malloc'd
 * (caller frees out->v).  Returns 0 or a negative code.
 */
int hostaddr_listener_ips(const char *listener, struct iplist *out);

/*
 * Split "host:port" or "[v6]:port" into host (malloc'd, caller frees) and
 * port.  Returns 0 or MDNS_EINVAL.
 */
int hostaddr_split(const char *hostport, char **host, uint16_t *port);
