/* tests/unit/test_config_reload.c -- shared configs and what a reload sees: diff, copy, refs. */
#include "lib/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "tests/unit/tap.h"

#define BASE "\"masters\": [\"10.0.0.1:5050\"]"

static void parse(const char *json, struct config *c)
{
	char err[256] = "";
	int rc = config_parse(json, strlen(json), c, NULL, NULL, err, sizeof(err));

	if (rc)
		printf("# parse failed: %s\n", err);
}

/* Every key that needs a restart can be copied back into a new config, so a
 * reload can keep the running value of each. */
static void test_table_flags(void)
{
	const struct config_key *keys;
	size_t n = config_keys(&keys);
	int bad = 0, restart = 0;
	struct config a, b;

	parse("{" BASE ", \"port\": 5353, \"listener\": \"127.0.0.1\", \"workers\": 3, \"dnson\": false,"
	      " \"HTTPListener\": \"::1\", \"httpport\": 81, \"tcpIdleTimeout\": 4,"
	      " \"tcpMaxConnections\": 9}", &a);
	parse("{" BASE "}", &b);
	for (size_t i = 0; i < n; i++) {
		if (!(keys[i].reload & CONFIG_RELOAD_RESTART))
			continue;
		restart++;
		if (config_key_copy(&b, &a, &keys[i]) != 0 || !config_key_equal(&a, &b, &keys[i])) {
			printf("# restart key %s cannot be kept\n", keys[i].name);
			bad++;
		}
	}
	ok(restart >= 9, "listener, port, workers, dnson, httpon, HTTP address, TCP limits need a restart (%d keys)",
	   restart);
	is_int(bad, 0, "each restart key is copied back exactly");
	const struct config_key *k = config_key_find("ttl");
	ok(k && (k->reload & CONFIG_RELOAD_ZONE), "ttl rebuilds the zone");
	k = config_key_find("resolvers");
	ok(k && (k->reload & CONFIG_RELOAD_FORWARD), "resolvers replace the forwarding settings");
	k = config_key_find("recurseFrom");
	ok(k && (k->reload & CONFIG_RELOAD_FORWARD), "recurseFrom too");
	k = config_key_find("zk");
	ok(k && (k->reload & CONFIG_RELOAD_ZK), "zk restarts leader detection");
	config_clear(&a);
	config_clear(&b);
}

static void test_diff(void)
{
	struct config a, b;
	char names[256];
	unsigned f;

	parse("{" BASE ", \"ttl\": 60, \"resolvers\": [\"10.0.0.53\"]}", &a);
	parse("{" BASE ", \"ttl\": 60, \"resolvers\": [\"10.0.0.53\"]}", &b);
	f = config_diff(&a, &b, names, sizeof(names));
	ok(f == 0 && names[0] == '\0', "identical configs: no flag, no name");
	config_clear(&b);

	parse("{" BASE ", \"ttl\": 30, \"port\": 5353, \"resolvers\": [\"10.0.0.54\"]}", &b);
	f = config_diff(&a, &b, names, sizeof(names));
	is_str(names, "ttl, port, resolvers", "the changed keys, in table order");
	ok(f == (CONFIG_RELOAD_ZONE | CONFIG_RELOAD_RESTART | CONFIG_RELOAD_FORWARD),
	   "their reload flags or-ed (%#x)", f);
	f = config_diff(&a, &b, names, 8);
	ok(strlen(names) == 7 && strcmp(names + 4, "...") == 0, "a short buffer ends in ... (%s)", names);
	config_clear(&b);

	parse("{" BASE ", \"ttl\": 60, \"resolvers\": []}", &b);
	f = config_diff(&a, &b, names, sizeof(names));
	ok((f & CONFIG_RELOAD_FORWARD) && strcmp(names, "resolvers") == 0,
	   "resolvers [] (resolv.conf) differs from a list");
	config_clear(&b);
	config_clear(&a);

	/* The secret is redacted in dumps, but a changed one is still a change. */
	parse("{\"masters\": [\"10.0.0.1:5050\"], \"mesosAuthentication\": \"basic\","
	      " \"mesosCredentials\": {\"principal\": \"p\", \"secret\": \"one\"}}", &a);
	parse("{\"masters\": [\"10.0.0.1:5050\"], \"mesosAuthentication\": \"basic\","
	      " \"mesosCredentials\": {\"principal\": \"p\", \"secret\": \"two\"}}", &b);
	f = config_diff(&a, &b, names, sizeof(names));
	ok((f & CONFIG_RELOAD_FETCH) && strcmp(names, "mesosCredentials") == 0,
	   "a new secret is a change (fetch again)");
	config_clear(&a);
	config_clear(&b);
}

static void test_copy(void)
{
	struct config a, b;

	parse("{" BASE ", \"recurseFrom\": [\"10.0.0.0/8\"], \"domain\": \"dc1\", \"SetTruncateBit\": false}", &a);
	parse("{" BASE "}", &b);
	ok(config_key_copy(&b, &a, config_key_find("recurseFrom")) == 0 &&
	   b.recurse_from.n == 1 && strcmp(b.recurse_from.v[0], "10.0.0.0/8") == 0 &&
	   b.recurse_from.v[0] != a.recurse_from.v[0], "a list is deep-copied");
	ok(config_key_copy(&b, &a, config_key_find("domain")) == 0 && strcmp(b.domain, "dc1") == 0 &&
	   b.domain != a.domain, "a string is copied");
	ok(config_key_copy(&b, &a, config_key_find("SetTruncateBit")) == 0 && !b.set_truncate_bit,
	   "a bool is copied");
	is_int(config_key_copy(&b, &a, config_key_find("IPSources")), MDNS_EINVAL,
	       "special keys are not copied");
	config_clear(&a);
	config_clear(&b);
}

static void test_refs(void)
{
	char path[] = "/tmp/test-config-reload-XXXXXX";
	char err[256] = "";
	int fd = mkstemp(path);
	const char *json = "{" BASE ", \"logLevel\": \"DEBUG\"}";
	struct config stack;

	ok(fd >= 0 && write(fd, json, strlen(json)) == (ssize_t)strlen(json), "wrote a config file");
	close(fd);
	struct config *c = config_load_new(path, NULL, NULL, err, sizeof(err));
	ok(c && atomic_load(&c->refs) == 1, "config_load_new: one reference");
	ok(c && strcmp(c->log_level, "debug") == 0, "logLevel is lower-cased");
	const struct config *h = config_hold(c);
	ok(h == c && atomic_load(&c->refs) == 2, "config_hold adds one");
	config_release(h);
	ok(atomic_load(&c->refs) == 1, "config_release drops one");
	config_release(c);	/* the last: freed (the sanitizer build checks) */
	config_release(NULL);

	parse("{" BASE "}", &stack);
	ok(config_hold(&stack) == &stack && atomic_load(&stack.refs) == 0,
	   "a config that is not shared is not counted");
	config_release(&stack);
	ok(stack.domain && strcmp(stack.domain, "mesos") == 0, "and release leaves it to its owner");
	config_clear(&stack);

	FILE *f = fopen(path, "w");
	fputs("{" BASE ", \"logLevel\": \"verbose\"}", f);
	fclose(f);
	c = config_load_new(path, NULL, NULL, err, sizeof(err));
	ok(!c && strstr(err, "logLevel") && strstr(err, "verbose"),
	   "an unknown logLevel: NULL and a message naming it (%s)", err);
	unlink(path);
	c = config_load_new(path, NULL, NULL, err, sizeof(err));
	ok(!c && strstr(err, path), "a missing file: NULL, the message names it");
}

int main(void)
{
	test_table_flags();
	test_diff();
	test_copy();
	test_refs();
	return done_testing();
}
