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
		printf("\n");
	}
	return 0;
}
