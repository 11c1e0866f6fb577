/* cmd/state2zone/main.c -- print the zone mesos-dnsd would serve for a state.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/hostaddr.h"
#include "lib/state.h"
#include "lib/zonecfg.h"
#include "zone/ipaddr.h"
#include "zone/records.h"
#include "zone/zone.h"

/*
 * state2zone [-config FILE] [-rfc952] [-ipsources a,b,c] [-masters h:p,...]
 *            [-ns-ip IP,...] [-host NAME=IP,...]... [-stats] STATEFILE
 *
 * Builds the zone exactly as the daemon does (same records_build, same zone
 * builder) and prints it as a master file: the apex SOA first, as master
 * files customarily begin, then every other record in canonical order, one
 * per line with absolute owners, so NSD, BIND or ldns can load it.  The
 * serial is always 1, so the output depends only on the inputs and can be
 * diffed (the golden tests do).
 */

#define USAGE \
	"usage: state2zone [-config FILE] [-rfc952] [-ipsources a,b,c] [-masters host:port,...]\n" \
	"                  [-ns-ip IP,...] [-host NAME=IP,...]... [-stats] STATEFILE\n"

/* A fixed name -> addresses entry given with -host. */
struct s2z_host {
	char *name;
	struct iplist ips;
};

/* Resolver for records_build: -host entries first, then the system's. */
struct s2z_resolver {
	struct s2z_host *hosts;
	size_t nhosts;
	struct hostcache *cache;
};

static const struct iplist *s2z_resolve(void *ctx, const char *host)
{
	struct s2z_resolver *r = ctx;

	for (size_t i = 0; i < r->nhosts; i++)
		if (strcasecmp(r->hosts[i].name, host) == 0)
			return &r->hosts[i].ips;
	return hostcache_lookup(r->cache, host);
}

static void config_warn(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "state2zone: config: %s\n", msg);
}

/* Parse "IP,IP,..." into out (appending).  Returns 0 or MDNS_EINVAL/ENOMEM. */
static int parse_ip_list(const char *s, struct iplist *out)
{
	char *copy = strdup(s), *save = NULL;
	int rc = 0;

	if (!copy)
		return MDNS_ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct ipaddr a;
		struct ipaddr *v;

		if (ipaddr_parse(tok, &a) != 0) {
			fprintf(stderr, "state2zone: \"%s\" is not an IP address\n", tok);
			rc = MDNS_EINVAL;
			break;
		}
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v) {
			rc = MDNS_ENOMEM;
			break;
		}
		out->v = v;
		out->v[out->n++] = a;
	}
	free(copy);
	if (rc == 0 && out->n == 0) {
		fprintf(stderr, "state2zone: empty address list\n");
		rc = MDNS_EINVAL;
	}
	return rc;
}

/* Parse "-ipsources host,mesos,..." into cfg (non-empty, unique, known). */
static int parse_ip_sources(const char *s, struct config *cfg)
{
	static const enum ip_source all[] = { IPSRC_HOST, IPSRC_MESOS, IPSRC_DOCKER, IPSRC_NETINFO };
	char *copy = strdup(s), *save = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy)
		return MDNS_ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t k;

		for (k = 0; k < 4; k++)
			if (strcasecmp(tok, config_ip_source_name(all[k])) == 0)
				break;
		if (k == 4) {
			fprintf(stderr, "state2zone: -ipsources: unknown source \"%s\" "
				"(allowed: host, mesos, docker, netinfo)\n", tok);
			rc = MDNS_EINVAL;
			break;
		}
		for (size_t j = 0; j < n; j++)
			if (cfg->ip_sources[j] == all[k]) {
				fprintf(stderr, "state2zone: -ipsources: \"%s\" listed twice\n", tok);
				rc = MDNS_EINVAL;
			}
		if (rc == 0)
			cfg->ip_sources[n++] = all[k];
	}
	free(copy);
	if (rc == 0 && n == 0) {
		fprintf(stderr, "state2zone: -ipsources: empty list\n");
		rc = MDNS_EINVAL;
	}
	if (rc == 0)
		cfg->nip_sources = n;
	return rc;
}

/* Replace cfg->masters with the entries of "h:p,h:p". */
static int set_masters(const char *s, struct config *cfg)
{
	char *copy = strdup(s), *save = NULL;

	if (!copy)
		return MDNS_ENOMEM;
	for (size_t i = 0; i < cfg->masters.n; i++)
		free(cfg->masters.v[i]);
	cfg->masters.n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **v = realloc(cfg->masters.v, (cfg->masters.n + 1) * sizeof(*v));

		if (!v || !(v[cfg->masters.n] = strdup(tok))) {
			if (v)
				cfg->masters.v = v;
			free(copy);
			return MDNS_ENOMEM;
		}
		cfg->masters.v = v;
		cfg->masters.n++;
	}
	free(copy);
	return 0;
}

/* Turn the config's "host:port" masters into records_master entries. */
static int resolve_masters(const struct config *cfg, struct s2z_resolver *res,
			   struct records_master **out)
{
	struct records_master *m = calloc(cfg->masters.n ? cfg->masters.n : 1, sizeof(*m));

	*out = m;
	if (!m)
		return MDNS_ENOMEM;
	for (size_t i = 0; i < cfg->masters.n; i++) {
		const struct iplist *ips;
		char *host = NULL;

		if (hostaddr_split(cfg->masters.v[i], &host, &m[i].port) != 0) {
			fprintf(stderr, "state2zone: master \"%s\" is not host:port\n",
				cfg->masters.v[i]);
			return MDNS_EINVAL;
		}
		ips = s2z_resolve(res, host);
		free(host);
		if (ips && ips->n) {
			m[i].ips.v = malloc(ips->n * sizeof(*ips->v));
			if (!m[i].ips.v)
				return MDNS_ENOMEM;
			memcpy(m[i].ips.v, ips->v, ips->n * sizeof(*ips->v));
			m[i].ips.n = ips->n;
		}
	}
	return 0;
}

/* Read a whole file; caller frees *buf.  Returns 0 or a negative errno. */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(b, cap ? cap * 2 : 65536);
			if (!nb) {
				free(b);
				fclose(f);
				return MDNS_ENOMEM;
			}
			b = nb;
			cap = cap ? cap * 2 : 65536;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? -errno : MDNS_EINVAL;
		free(b);
		fclose(f);
		return e;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

/* Print every record: the apex SOA first, then the rest in canonical order. */
static void print_zone(const struct zone *z, FILE *out)
{
	char line[2048];

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < z->nnodes; i++) {
			const struct zone_node *n = z->nodes[i];

			for (unsigned j = 0; j < n->nrrsets; j++) {
				const struct zone_rrset *rs = &n->rrsets[j];

				if ((rs == z->soa) != (pass == 0))
					continue;
				for (unsigned k = 0; k < rs->count; k++)
					fprintf(out, "%s\n",
						zone_rr_format(z, n, rs, &rs->rrs[k], line, sizeof(line)));
			}
		}
}

/*
 * Build the zone of st under cfg and print it to stdout.  Returns 0,
 * MDNS_ENOMEM, or MDNS_EINVAL (bad zone parameters or a write error,
 * reported on stderr).
 */
static int emit_zone(const struct config *cfg, const struct mesos_state *st,
		     const struct records_master *masters, const struct iplist *ns_ips,
		     struct s2z_resolver *res, int want_stats)
{
	struct zone_params zp;
	struct records_config rcfg;
	zonecfg_params(cfg, &zp);
	zonecfg_records(cfg, &rcfg);
	rcfg.masters = masters;
	rcfg.nmasters = cfg->masters.n;
	rcfg.ns_ips = ns_ips;
	rcfg.resolve = s2z_resolve;
	rcfg.resolve_ctx = res;
	struct records_stats stats;
	struct zone_builder *b = zone_builder_new(&zp);
	struct zone *z;
	int rc;

	if (!b) {
		fprintf(stderr, "state2zone: invalid zone parameters (domain \"%s\", "
			"SOAMname \"%s\", SOARname \"%s\")\n", cfg->domain, cfg->soa_mname,
			cfg->soa_rname);
		return MDNS_EINVAL;
	}
	if ((rc = records_build(b, st, &rcfg, &stats)) != 0) {
		zone_builder_free(b);
		return rc;
	}
	/* now = 1: a fixed serial keeps the output a function of the inputs. */
	z = zone_builder_finish(b, NULL, 1);
	if (!z)
		return MDNS_ENOMEM;
	print_zone(z, stdout);
	if (want_stats)
		fprintf(stderr, "state2zone: %zu records, %zu tasks, %zu tasks skipped, "
			"%zu records rejected\n", z->nrecords, stats.tasks, stats.tasks_skipped,
			stats.records_rejected);
	zone_free(z);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "state2zone: write error: %s\n", strerror(errno));
		return MDNS_EINVAL;
	}
	return 0;
}

/* "-name" and "--name" are the same flag, as in the daemon. */
static int flag_is(const char *arg, const char *name)
{
	if (arg[0] != '-')
		return 0;
	arg += arg[1] == '-' ? 2 : 1;
	return strcmp(arg, name) == 0;
}

int main(int argc, char **argv)
{
	const char *config_file = NULL, *ipsources = NULL, *masters = NULL, *state_file = NULL;
	struct s2z_resolver res = { 0 };
	struct iplist ns_ips = { 0 };
	struct records_master *rmasters = NULL;
	struct mesos_state *st = NULL;
	struct config cfg;
	char err[512], *json = NULL;
	size_t len = 0;
	int rfc952 = 0, want_stats = 0, status = 1, rc;

	memset(&cfg, 0, sizeof(cfg));
	res.cache = hostcache_new(300);
	if (!res.cache)
		goto oom;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;

		if (flag_is(a, "h") || flag_is(a, "help")) {
			fputs(USAGE, stdout);
			status = 0;
			goto out;
		} else if (flag_is(a, "rfc952")) {
			rfc952 = 1;
		} else if (flag_is(a, "stats")) {
			want_stats = 1;
		} else if (flag_is(a, "config") && has_val) {
			config_file = argv[++i];
		} else if (flag_is(a, "ipsources") && has_val) {
			ipsources = argv[++i];
		} else if (flag_is(a, "masters") && has_val) {
			masters = argv[++i];
		} else if (flag_is(a, "ns-ip") && has_val) {
			if ((rc = parse_ip_list(argv[++i], &ns_ips)) != 0)
				goto usage;
		} else if (flag_is(a, "host") && has_val) {
			const char *arg = argv[++i], *eq = strchr(arg, '=');
			struct s2z_host *h;

			if (!eq || eq == arg) {
				fprintf(stderr, "state2zone: -host wants NAME=IP[,IP...], not \"%s\"\n", arg);
				goto usage;
			}
			h = realloc(res.hosts, (res.nhosts + 1) * sizeof(*h));
			if (!h)
				goto oom;
			res.hosts = h;
			h = &res.hosts[res.nhosts];
			memset(h, 0, sizeof(*h));
			if (!(h->name = strndup(arg, (size_t)(eq - arg))))
				goto oom;
			res.nhosts++;
			if ((rc = parse_ip_list(eq + 1, &h->ips)) != 0)
				goto usage;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "state2zone: unknown flag or missing value: %s\n", a);
			goto usage;
		} else if (!state_file) {
			state_file = a;
		} else {
			fprintf(stderr, "state2zone: one STATEFILE only\n");
			goto usage;
		}
	}
	if (!state_file)
		goto usage;

	if (config_file) {
		rc = config_load(config_file, &cfg, config_warn, NULL, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "state2zone: %s: %s\n", config_file, err);
			status = 2;
			goto out;
		}
	} else {
		config_defaults(&cfg);
	}
	if (rfc952)
		cfg.enforce_rfc952 = true;
	if (ipsources && parse_ip_sources(ipsources, &cfg) != 0)
		goto usage;
	if (masters && set_masters(masters, &cfg) != 0)
		goto oom;
	/*
	 * The name server's addresses: the listener when it is one address;
	 * for the wildcard the daemon uses the interface addresses, which
	 * would make this output depend on the machine, so 127.0.0.1 stands
	 * in (give -ns-ip for the real ones).
	 */
	if (ns_ips.n == 0) {
		const char *l = cfg.listener;
		if (!l || !*l || strcmp(l, "0.0.0.0") == 0 || strcmp(l, "::") == 0)
			l = "127.0.0.1";
		if (parse_ip_list(l, &ns_ips) != 0)
			goto out;
	}
	if ((rc = resolve_masters(&cfg, &res, &rmasters)) != 0) {
		if (rc == MDNS_ENOMEM)
			goto oom;
		status = 2;
		goto out;
	}

	if ((rc = read_file(state_file, &json, &len)) != 0) {
		fprintf(stderr, "state2zone: %s: %s\n", state_file, mdns_strerror(rc));
		goto out;
	}
	if ((rc = state_parse(json, len, &st, err, sizeof(err))) != 0) {
		fprintf(stderr, "state2zone: %s: %s\n", state_file, err);
		goto out;
	}

	rc = emit_zone(&cfg, st, rmasters, &ns_ips, &res, want_stats);
	if (rc == MDNS_ENOMEM)
		goto oom;
	status = rc == 0 ? 0 : 1;
	goto out;

usage:
	fputs(USAGE, stderr);
	status = 2;
	goto out;
oom:
	fprintf(stderr, "state2zone: out of memory\n");
	status = 1;
out:
	state_free(st);
	free(json);
	if (rmasters)
		for (size_t i = 0; i < cfg.masters.n; i++)
			free(rmasters[i].ips.v);
	free(rmasters);
	config_clear(&cfg);
	free(ns_ips.v);
	for (size_t i = 0; i < res.nhosts; i++) {
		free(res.hosts[i].name);
		free(res.hosts[i].ips.v);
	}
	free(res.hosts);
	hostcache_free(res.cache);
	return status;
}
