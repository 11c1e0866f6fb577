/* bench/buildtime.c -- CPU the zone build costs, phase by phase (`make bench-build`).
 *
 * usage: buildtime STATE ALT_STATE [BUILDS]
 *
 * Parses both states once, then builds BUILDS zones (default 20) from them
 * in turn, each with the one before as its previous zone, as the builder
 * thread does when the state changes at every refresh (or with every
 * coalesced batch of stream events).  Prints the parse time of each state
 * and the median thread CPU of a build: records_build (names, records, the
 * /v1/enumerate index) and zone_builder_finish (sort, index, serial, the
 * free of the zone it replaces), with the daemon's default config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/config.h"
#include "lib/state.h"
#include "lib/zonecfg.h"
#include "zone/records.h"
#include "zone/zone.h"

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct mesos_state *load(const char *path, double *secs)
{
	FILE *f = fopen(path, "rb");
	struct mesos_state *st;
	char err[300];
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "buildtime: cannot read %s\n", path);
		exit(1);
	}
	char *text = malloc((size_t)n + 1);
	if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "buildtime: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	double t0 = cpu_now();
	if (state_parse(text, (size_t)n, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "buildtime: %s: %s\n", path, err);
		exit(1);
	}
	*secs = cpu_now() - t0;
	free(text);
	return st;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: buildtime STATE ALT_STATE [BUILDS]\n");
		return 2;
	}
	int builds = argc > 3 ? atoi(argv[3]) : 20;
	if (builds < 1 || builds > 1000)
		builds = 20;
	double parse[2];
	struct mesos_state *st[2] = { load(argv[1], &parse[0]), load(argv[2], &parse[1]) };
	struct config cfg;
	struct zone_params zp;
	struct records_config rc;
	struct ipaddr ns = { .af = 4, .b = { 127, 0, 0, 1 } };
	struct iplist nsl = { &ns, 1 };

	config_defaults(&cfg);
	zonecfg_params(&cfg, &zp);
	zonecfg_records(&cfg, &rc);
	rc.ns_ips = &nsl;

	double *rec = calloc((size_t)builds, sizeof(double));
	double *fin = calloc((size_t)builds, sizeof(double));
	double *all = calloc((size_t)builds, sizeof(double));
	struct zone *prev = NULL;
	size_t nrecords = 0, mem = 0;
	if (!rec || !fin || !all)
		return 1;
	for (int i = 0; i < builds; i++) {
		double t0 = cpu_now();
		struct zone_builder *b = zone_builder_new(&zp);
		if (b)
			(void)zone_builder_expect(b, prev);	/* as lib/refresh.c does */
		if (!b || records_build(b, st[i & 1], &rc, NULL) != 0)
			return 1;
		double t1 = cpu_now();
		struct zone *z = zone_builder_finish(b, prev, 1000u + (unsigned)i);
		if (!z)
			return 1;
		zone_free(prev);
		prev = z;
		double t2 = cpu_now();
		rec[i] = t1 - t0;
		fin[i] = t2 - t1;
		all[i] = t2 - t0;
		nrecords = z->nrecords;
		mem = zone_memory(z);
	}
	printf("parse: %.1f ms and %.1f ms; zone: %zu records, %.0f MB\n", parse[0] * 1e3,
	       parse[1] * 1e3, nrecords, (double)mem / (1 << 20));
	printf("build (median of %d): %.1f ms = records %.1f ms + finish %.1f ms\n", builds,
	       median(all, builds) * 1e3, median(rec, builds) * 1e3, median(fin, builds) * 1e3);
	/* On a shared machine the fastest run is the least disturbed one
	 * (median sorted the arrays: [0] is each one's fastest). */
	printf("fastest: build %.1f ms, records %.1f ms, finish %.1f ms\n", all[0] * 1e3,
	       rec[0] * 1e3, fin[0] * 1e3);
	zone_free(prev);
	state_free(st[0]);
	state_free(st[1]);
	config_clear(&cfg);
	free(rec);
	free(fin);
	free(all);
	return 0;
}
