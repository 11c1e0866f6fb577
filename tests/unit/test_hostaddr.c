/* tests/unit/test_hostaddr.c -- host:port splitting, listener addresses, the host cache. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/err.h"
#include "lib/hostaddr.h"
#include "tests/unit/tap.h"

static void test_split(void)
{
	char *host = NULL;
	uint16_t port = 0;

	ok(hostaddr_split("10.0.0.1:5050", &host, &port) == 0, "split IPv4:port");
	is_str(host, "10.0.0.1", "IPv4 host");
	is_int(port, 5050, "IPv4 port");
	free(host);
	ok(hostaddr_split("[2001:db8::1]:5051", &host, &port) == 0, "split [IPv6]:port");
	is_str(host, "2001:db8::1", "IPv6 host without brackets");
	is_int(port, 5051, "IPv6 port");
	free(host);
	ok(hostaddr_split("master.example.com:443", &host, &port) == 0, "split name:port");
	is_str(host, "master.example.com", "hostname kept");
	free(host);
	const char *bad[] = { "10.0.0.1", "10.0.0.1:", ":5050", "10.0.0.1:0", "10.0.0.1:65536",
			      "[::1]5050", "[::1", "h:12x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(hostaddr_split(bad[i], &host, &port), MDNS_EINVAL, "rejects '%s'", bad[i]);
}

static void test_listener(void)
{
	struct iplist l;

	ok(hostaddr_listener_ips("127.0.0.1", &l) == 0 && l.n == 1 && l.v[0].af == 4 &&
	   l.v[0].b[0] == 127 && l.v[0].b[3] == 1, "a listener literal is its own address");
	free(l.v);
	ok(hostaddr_listener_ips("0.0.0.0", &l) == 0, "wildcard listener lists interfaces");
	int loopback = 0;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].af == 4 && l.v[i].b[0] == 127)
			loopback = 1;
	ok(!loopback, "wildcard listener leaves out loopback (%zu addresses)", l.n);
	free(l.v);
	is_int(hostaddr_listener_ips("not-an-ip", &l), MDNS_EINVAL, "a name as listener is refused");
}

static void test_cache(void)
{
	struct hostcache *c = hostcache_new(300);
	const struct iplist *a, *b;

	ok(c != NULL, "cache created");
	hostcache_begin(c);
	a = hostcache_lookup(c, "192.0.2.7");
	ok(a->n == 1 && a->v[0].af == 4 && a->v[0].b[3] == 7, "a literal needs no resolver");
	a = hostcache_lookup(c, "localhost");
	ok(a->n >= 1, "localhost resolves through /etc/hosts (%zu addresses)", a->n);
	b = hostcache_lookup(c, "localhost");
	ok(a == b, "a second lookup in the same build returns the same list");
	hostcache_begin(c);
	b = hostcache_lookup(c, "localhost");
	ok(a == b && b->n >= 1, "a fresh entry is not re-resolved in the next build");
	a = hostcache_lookup(c, "no-such-host.invalid");
	is_int(a->n, 0, "an unresolvable name gives an empty list");
	hostcache_free(c);
	hostcache_free(NULL);
}

/* Wait until the clock is past t (seconds). */
static void wait_past(time_t t)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	while (time(NULL) <= t)
		nanosleep(&ts, NULL);
}

/* hostcache_due: what lets the refresher skip a build of an unchanged state. */
static void test_due(void)
{
	struct hostcache *c = hostcache_new(1);
	time_t t0;

	hostcache_begin(c);
	ok(!hostcache_due(c), "due: an empty cache has nothing to ask again");
	hostcache_lookup(c, "192.0.2.7");
	t0 = time(NULL);
	wait_past(t0 + 1);
	ok(!hostcache_due(c), "due: an IP literal is never due, whatever its age");
	hostcache_lookup(c, "localhost");
	t0 = time(NULL);
	ok(!hostcache_due(c), "due: a name just resolved is not due");
	wait_past(t0 + 1);
	ok(hostcache_due(c), "due: a name is due once its ttl ran out");
	hostcache_begin(c);
	hostcache_lookup(c, "localhost");
	ok(!hostcache_due(c), "due: not due again once a build looked it up anew");
	hostcache_free(c);

	/* A name the last build no longer needed does not keep the cache due. */
	c = hostcache_new(1);
	hostcache_begin(c);
	hostcache_lookup(c, "localhost");
	hostcache_lookup(c, "192.0.2.7");
	t0 = time(NULL);
	wait_past(t0 + 1);
	ok(hostcache_due(c), "prune: due once the name's ttl ran out");
	hostcache_begin(c);
	const struct iplist *lit = hostcache_lookup(c, "192.0.2.7");
	ok(hostcache_due(c), "prune: still due before the build ends");
	hostcache_prune(c);
	ok(!hostcache_due(c), "prune: not due once a build that did not look the name up pruned it");
	ok(lit->n == 1 && lit->v[0].b[3] == 7, "prune: the build's own lists stay valid");
	hostcache_free(c);
}

int main(void)
{
	test_split();
	test_listener();
	test_cache();
	test_due();
	return done_testing();
}
