/* cmd/mesos-dnsd/main.c -- the daemon: flags, config, wiring, signals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "lib/acl.h"
#include "lib/config.h"
#include "lib/dnsserver.h"
#include "lib/err.h"
#include "lib/forward.h"
#include "lib/httpapi.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/refresh.h"
#include "lib/zk.h"
#include "lib/zonecfg.h"
#include "lib/zonepub.h"
#include "zone/zone.h"

#define PROJECT_URL "https://github.com/mesos-dnsd/mesos-dnsd"

struct options {
	const char *config_path;
	int verbosity;		/* -v = 1, -v=2 = 2 */
	int version;
	int checkconf;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mesos-dnsd [-config FILE] [-v | -v=2] [-checkconf] [-version]\n"
		"  -config FILE  configuration file (default ./config.json)\n"
		"  -v, -v=1      verbose logging (debug); -v=2 very verbose\n"
		"  -checkconf    validate the configuration and exit (0 = valid, 2 = invalid)\n"
		"  -version      print the version and exit\n");
}

/* mesos-dns (Go's flag package) accepts -flag, --flag, -flag=value and -flag value. */
static int parse_args(int argc, char **argv, struct options *o)
{
	o->config_path = "config.json";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			fprintf(stderr, "mesos-dnsd: unexpected argument %s\n", a);
			return -1;
		}
		a += (a[1] == '-') ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = eq ? eq + 1 : NULL;
#define IS(name) (nl == strlen(name) && strncmp(a, name, nl) == 0)
		if (IS("config")) {
			if (!val) {
				if (i + 1 >= argc) {
					fprintf(stderr, "mesos-dnsd: -config needs a file\n");
					return -1;
				}
				val = argv[++i];
			}
			o->config_path = val;
		} else if (IS("v")) {
			o->verbosity = val ? atoi(val) : 1;
			if (o->verbosity < 0 || o->verbosity > 2 || (val && !strchr("012", val[0]))) {
				fprintf(stderr, "mesos-dnsd: -v takes 0, 1 or 2\n");
				return -1;
			}
		} else if (IS("version")) {
			o->version = 1;
		} else if (IS("checkconf")) {
			o->checkconf = 1;
		} else if (IS("h") || IS("help")) {
			usage(stdout);
			exit(0);
		} else {
			fprintf(stderr, "mesos-dnsd: unknown flag %s\n", argv[i]);
			return -1;
		}
#undef IS
	}
	return 0;
}

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	log_warn("%s", msg);
}

/*
 * recurseFrom as an address list: the configured prefixes, or by default
 * loopback plus the networks of this host's interfaces (BIND's "localhost;
 * localnets;").  NULL on error (logged).
 */
static struct acl *recurse_acl(const struct config *cfg)
{
	struct acl *a = acl_new();
	char buf[1024];
	int rc = 0;

	if (!a)
		return NULL;
	for (size_t i = 0; i < cfg->recurse_from.n && rc == 0; i++)
		rc = acl_add_cidr(a, cfg->recurse_from.v[i]);
	if (cfg->recurse_from.n == 0) {
		rc = acl_add_loopback(a);
		int lr = rc ? 0 : acl_add_local(a, true);
		if (lr)
			log_warn("main: cannot list the local networks (%s); recurseFrom is loopback only",
				 mdns_strerror(lr));
	}
	if (rc) {
		log_err("main: recurseFrom: %s", mdns_strerror(rc));
		acl_free(a);
		return NULL;
	}
	log_info("main: forwarding for %s", acl_format(a, buf, sizeof(buf)));
	return a;
}

/* Forwarding needs many sockets (one per query out): raise the soft limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	(void)what;
	if (sig == SIGHUP) {
		log_warn("main: SIGHUP received; live reload is not available yet, restart to apply changes");
		return;
	}
	log_info("main: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct config cfg;
	char err[1024];
	int status = 1;

	if (parse_args(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (o.version) {
		printf("mesos-dnsd %s\n", MESOSDNSD_VERSION);
		return 0;
	}
	log_set_level(o.verbosity ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);

	memset(&cfg, 0, sizeof(cfg));
	if (config_load(o.config_path, &cfg, warn_cb, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		config_clear(&cfg);
		return 2;
	}
	if (o.checkconf) {
		printf("mesos-dnsd: %s: configuration is valid\n", o.config_path);
		config_clear(&cfg);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);

	struct zone_params zp;
	zonecfg_params(&cfg, &zp);
	struct zone *initial = zone_new_unloaded(&zp);
	if (!initial) {
		fprintf(stderr, "mesos-dnsd: cannot create the zone for domain %s\n", cfg.domain);
		config_clear(&cfg);
		return 2;
	}
	zonepub_init(initial);

	struct event_base *base = event_base_new();
	struct dnsserver *dns = NULL;
	struct fwd_config *fwdc = NULL;
	struct acl *recurse = NULL;
	struct refresher *ref = NULL;
	struct zk *zk = NULL;
	struct httpapi *http = NULL;
	struct event *sigs[3] = { 0 };

	if (cfg.dns_on && cfg.external_on) {
		raise_nofile();
		fwdc = fwd_config_new(&cfg, "/etc/resolv.conf", err, sizeof(err));
		if (!fwdc) {
			log_err("%s", err);
			goto out;
		}
		if (fwd_config_resolvers(fwdc) == 0)
			log_warn("main: externalon is set but there is no general resolver; names "
				 "outside %s and the zoneResolvers zones get REFUSED", cfg.domain);
		if (!(recurse = recurse_acl(&cfg)))
			goto out;
	}
	if (cfg.dns_on) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		struct dnsserver_opts dopts = {
			.listener = cfg.listener,
			.port = cfg.port,
			.workers = cfg.workers > 0 ? cfg.workers : (ncpu > 0 ? (int)ncpu : 1),
			.tcp_idle_timeout = cfg.tcp_idle_timeout,
			.tcp_max_connections = cfg.tcp_max_connections,
			.forward = fwdc,
			.recurse_from = recurse,
			.forward_max_inflight = cfg.forward_max_inflight,
			.edns_udp_size = cfg.edns_udp_size,
		};
		dns = dnsserver_new(&dopts, err, sizeof(err));
		if (!dns) {
			log_err("%s", err);
			goto out;
		}
	}
	ref = refresher_new(base, &cfg);
	if (ref && cfg.zk[0] && !cfg.state_file[0]) {
		/* Leader detection; never fatal: ZooKeeper being down is retried forever. */
		zk = zk_new(base, cfg.zk, cfg.zk_detection_timeout, refresher_zk_changed, ref);
		if (!zk) {
			log_err("main: cannot set up ZooKeeper leader detection for %s", cfg.zk);
			goto out;
		}
		refresher_set_zk(ref, zk);
	}
	if (!base || !ref) {
		log_err("main: cannot set up the event loop");
		goto out;
	}
	if (cfg.http_on) {
		struct httpapi_opts hopts = {
			.listener = cfg.http_listener,
			.port = cfg.http_port,
			.cfg = &cfg,
			.refresher = ref,
			.version = MESOSDNSD_VERSION,
			.url = PROJECT_URL,
			.max_connections = 128,
			.timeout_seconds = 10,
			.dns = dns,
			.zk = zk,
		};
		http = httpapi_new(base, &hopts, err, sizeof(err));
		if (!http) {
			log_err("%s", err);
			goto out;
		}
	}
	int signums[3] = { SIGINT, SIGTERM, SIGHUP };
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signums[i], signal_cb, base);
		evsignal_add(sigs[i], NULL);
	}
	if (dns && dnsserver_start(dns) != 0) {
		log_err("main: cannot start DNS workers");
		goto out;
	}
	httpapi_set_ready(http, 1);	/* /ready: DNS is served (or off) */
	log_info("main: mesos-dnsd %s for domain %s, state from %s", MESOSDNSD_VERSION, cfg.domain,
		 cfg.state_file[0] ? cfg.state_file : cfg.zk[0] ? cfg.zk : "masters");
	refresher_start(ref);
	event_base_dispatch(base);
	status = 0;
out:
	/* The HTTP API reads the workers' and refresher's state: it goes first.
	 * Workers next, so no reader is left when the zone is freed. */
	httpapi_free(http);
	dnsserver_free(dns);
	fwd_config_free(fwdc);
	acl_free(recurse);
	zk_free(zk);
	refresher_free(ref);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (base)
		event_base_free(base);
	zonepub_shutdown();
	metrics_shutdown();
	config_clear(&cfg);
	curl_global_cleanup();
	libevent_global_shutdown();
	return status;
}
