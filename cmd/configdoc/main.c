/* cmd/configdoc/main.c -- print the config keys of the descriptor table as man page text. */
#include <stdio.h>
#include <string.h>

#include "lib/config.h"

/* Write s with roff's special characters escaped. */
static void roff(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
	}
}

/* What SIGHUP does with a changed value of a key with these reload flags. */
static const char *reload_text(unsigned r)
{
	if (r & CONFIG_RELOAD_RESTART)
		return "On SIGHUP: needs a restart; the running value is kept.";
	if (r & CONFIG_RELOAD_ZK)
		return "On SIGHUP: ZooKeeper leader detection starts again and the state is fetched.";
	if ((r & CONFIG_RELOAD_ZONE) && (r & CONFIG_RELOAD_FORWARD))
		return "On SIGHUP: the zone is rebuilt and the forwarding settings replaced.";
	if (r & CONFIG_RELOAD_ZONE)
		return "On SIGHUP: the zone is rebuilt at once from the last state.";
	if (r & CONFIG_RELOAD_FORWARD)
		return "On SIGHUP: the forwarding settings are replaced.";
	if (r & CONFIG_RELOAD_FETCH)
		return "On SIGHUP: the state is fetched at once.";
	return "On SIGHUP: applied from its next use.";
}

int main(int argc, char **argv)
{
	const struct config_key *keys;
	size_t n = config_keys(&keys);

	if (argc > 1 && strcmp(argv[1], "-names") == 0) {
		/* One key per line, for tests that check other documents. */
		for (size_t i = 0; i < n; i++)
			printf("%s\n", keys[i].name);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		printf(".TP\n.B ");
		roff(keys[i].name);
		printf(" \\fR(default \\fB");
		roff(keys[i].def);
		printf("\\fR)\n");
		roff(keys[i].doc ? keys[i].doc : "");
		if (keys[i].allowed && keys[i].allowed[0]) {
			printf(". Allowed: ");
			roff(keys[i].allowed);
			printf(".");
		}
		printf(" %s\n", reload_text(keys[i].reload));
	}
	return 0;
}
