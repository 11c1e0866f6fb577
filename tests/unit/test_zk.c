/* tests/unit/test_zk.c -- the zk:// URL split; the watcher itself is tested against a real
 * ZooKeeper in tests/integration/test_zk.py. */
#include "lib/zk.h"

#include <stdlib.h>

#include "lib/err.h"
#include "tests/unit/tap.h"

static void check(const char *url, const char *hosts, const char *path)
{
	char *h = NULL, *p = NULL;

	ok(zk_parse_url(url, &h, &p) == 0, "'%s' splits", url);
	is_str(h, hosts, "hosts of '%s'", url);
	is_str(p, path, "path of '%s'", url);
	free(h);
	free(p);
}

int main(void)
{
	char *h, *p;

	check("zk://10.0.0.1:2181/mesos", "10.0.0.1:2181", "/mesos");
	check("zk://a:1,b:2,c:3/mesos", "a:1,b:2,c:3", "/mesos");
	check("ZK://h:2181/dcos/mesos", "h:2181", "/dcos/mesos");
	check("zk://[::1]:2181,h:2/m/", "[::1]:2181,h:2", "/m");
	const char *bad[] = { "", "http://h:1/mesos", "zk://h:1", "zk:///mesos", "zk://h:1/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = p = (char *)"x";
		ok(zk_parse_url(bad[i], &h, &p) == MDNS_EINVAL && !h && !p, "'%s' is refused", bad[i]);
	}
	ok(zk_new(NULL, "not a url", 30, NULL, NULL) == NULL, "zk_new refuses a bad url");
	zk_free(NULL);
	ok(1, "zk_free(NULL) returns (a crash would end the suite)");
	return done_testing();
}
