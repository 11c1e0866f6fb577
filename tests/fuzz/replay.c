/* tests/fuzz/replay.c -- feed corpus files to a fuzz target without libFuzzer (make test). */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Read a whole file; caller frees.  NULL on error. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Run one file; 0 ok, -1 unreadable.  A failing input aborts the process. */
static int run_file(const char *path)
{
	size_t len = 0;
	uint8_t *buf = slurp(path, &len);

	if (!buf)
		return -1;
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* Run every regular file in dir (or dir itself when it is a file); count them in *n. */
static int run_path(const char *dir, size_t *n)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		*n += 1;
		return run_file(dir);
	}
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		fprintf(stderr, "replay: %s\n", path);
		if (run_file(path) != 0)
			rc = -1;
		(*n)++;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir-or-file...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		size_t n = 0;
		int rc = run_path(argv[i], &n);
		int good = rc == 0 && n > 0;
		printf("%s %d - %s: %zu inputs replayed\n", good ? "ok" : "not ok", i, argv[i], n);
		failed += !good;
	}
	printf("1..%d\n", argc - 1);
	return failed ? 1 : 0;
}
