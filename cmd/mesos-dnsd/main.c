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
#include "lib/service.h"
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
	const char *user;	/* -user: switch to this user once the sockets are bound */
};

/* Everything the control loop owns; the signal handlers reach it through here. */
struct daemon {
	struct options o;
	struct event_base *base;
	struct config *cfg;		/* the running config (one reference, config_load_new) */
	const struct config *boot;	/* the first config, held to the end: the DNS server
					   and the HTTP API borrow its listener strings */
	struct dnsserver *dns;
	struct fwd_config *fwdc;	/* the first forwarding settings (the server borrows them) */
	struct acl *recurse;
	struct acl *transfer_to;	/* transferTo, or NULL: no zone transfers */
	struct refresher *ref;
	struct zk *zk;
	struct httpapi *http;
	struct event *sigs[3];
	struct event *watchdog;		/* WATCHDOG=1 pings, when systemd asks for them */
	struct event *housekeeping;	/* frees replaced forwarding settings */
	int ready_sent;			/* READY=1 went to systemd */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mesos-dnsd [-config FILE] [-v | -v=2] [-user NAME] [-checkconf] [-version]\n"
		"  -config FILE  configuration file (default ./config.json)\n"
		"  -v, -v=1      verbose logging (debug; -v=2 and -v 2 the same)\n"
		"  -user NAME    started as root: switch to user NAME once the sockets are bound\n"
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
			/* "-v 1": mesos-dns's -v is glog's integer flag, which Go's
			 * flag package also reads with its value after a space. */
			if (!val && i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				val = argv[++i];
			o->verbosity = val ? atoi(val) : 1;
			if (o->verbosity < 0 || o->verbosity > 2 || (val && !strchr("012", val[0]))) {
				fprintf(stderr, "mesos-dnsd: -v takes 0, 1 or 2\n");
				return -1;
			}
		} else if (IS("user")) {
			if (!val) {
				if (i + 1 >= argc) {
					fprintf(stderr, "mesos-dnsd: -user needs a user name\n");
					return -1;
				}
				val = argv[++i];
			}
			if (!val[0]) {
				fprintf(stderr, "mesos-dnsd: -user needs a user name\n");
				return -1;
			}
			o->user = val;
		} else if (IS("logtostderr") || IS("alsologtostderr") || IS("stderrthreshold") ||
			   IS("log_dir") || IS("log_backtrace_at") || IS("vmodule")) {
			/* glog's flags, which mesos-dns's command lines carry (DC/OS
			 * runs it with -logtostderr=true): taken and ignored, so the
			 * same line starts mesos-dnsd.  The two booleans take a value
			 * only after '='. */
			if (!val && !IS("logtostderr") && !IS("alsologtostderr")) {
				if (i + 1 >= argc) {
					fprintf(stderr, "mesos-dnsd: %s needs a value\n", argv[i]);
					return -1;
				}
				i++;
			}
			fprintf(stderr, "mesos-dnsd: %.*s ignored: a glog flag of mesos-dns (mesos-dnsd "
				"logs to stderr; logLevel and -v set the level)\n", (int)nl, a);
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

/*
 * Forwarding settings of cfg: the upstream table and recurseFrom, both NULL
 * when forwarding is off.  0, or -1 (logged) when they cannot be built.
 */
static int forward_settings(const struct config *cfg, struct fwd_config **fc, struct acl **acl)
{
	char err[1024];

	*fc = NULL;
	*acl = NULL;
	if (!cfg->dns_on || !cfg->external_on)
		return 0;
	raise_nofile();
	*fc = fwd_config_new(cfg, "/etc/resolv.conf", err, sizeof(err));
	if (!*fc) {
		log_err("%s", err);
		return -1;
	}
	if (fwd_config_resolvers(*fc) == 0)
		log_warn("main: externalon is set but there is no general resolver; names "
			 "outside %s and the zoneResolvers zones get REFUSED", cfg->domain);
	if (!(*acl = recurse_acl(cfg))) {
		fwd_config_free(*fc);
		*fc = NULL;
		return -1;
	}
	return 0;
}

/* -v wins; without it logLevel; info by default. */
static void apply_log_level(const struct options *o, const struct config *cfg)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	enum log_level l = LOG_LEVEL_INFO;

	if (o->verbosity)
		l = LOG_LEVEL_DEBUG;
	else
		for (int i = 0; i < 4 && cfg->log_level[0]; i++)
			if (strcmp(cfg->log_level, names[i]) == 0)
				l = (enum log_level)i;
	log_set_level(l);
}

/* ZooKeeper is watched with zk and without stateFile (stateFile wins). */
static int wants_zk(const struct config *cfg)
{
	return cfg->zk[0] && !cfg->state_file[0];
}

/* STATUS= for systemctl status: the zone's size and how fresh it is. */
static void send_status(struct daemon *d)
{
	const struct zone *z = zonepub_current();
	struct refresh_stats st;
	char fresh[700];
	time_t now = time(NULL);

	refresher_stats(d->ref, &st);
	if (st.last_failure && st.last_failure >= st.last_success)
		snprintf(fresh, sizeof(fresh), "last refresh failed %lld s ago: %.500s",
			 (long long)(now - st.last_failure), st.last_error);
	else if (st.last_success)
		snprintf(fresh, sizeof(fresh), "refreshed %lld s ago",
			 (long long)(now - st.last_success));
	else
		snprintf(fresh, sizeof(fresh), "no refresh yet");
	if (!z || !z->loaded)
		service_notify("STATUS=%s: no zone loaded yet; %s", d->cfg->domain, fresh);
	else
		service_notify("STATUS=%s: %zu records, serial %u%s; %s", d->cfg->domain,
			       z->nrecords, z->serial, st.stale ? ", from stateCacheFile (stale)" : "",
			       fresh);
}

/* After every refresh: READY=1 once a zone is served, STATUS= always. */
static void cycle_cb(void *arg)
{
	struct daemon *d = arg;
	const struct zone *z = zonepub_current();

	send_status(d);
	if (!d->ready_sent && z && z->loaded) {
		d->ready_sent = 1;
		service_notify("READY=1");
	}
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	service_notify("WATCHDOG=1");
}

static void housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	(void)fd; (void)what;
	if (d->dns)
		dnsserver_forward_reap(d->dns);
}

/* Start (or stop) ZooKeeper leader detection as cfg says; 0 or -1 (logged). */
static int start_zk(struct daemon *d, const struct config *cfg)
{
	d->zk = NULL;
	if (!wants_zk(cfg))
		return 0;
	/* Never fatal once running: ZooKeeper being down is retried forever. */
	d->zk = zk_new(d->base, cfg->zk, cfg->zk_detection_timeout, refresher_zk_changed, d->ref);
	if (!d->zk) {
		log_err("main: cannot set up ZooKeeper leader detection for %s", cfg->zk);
		return -1;
	}
	return 0;
}

/*
 * SIGHUP: read the config file again and apply what changed.  All or
 * nothing: a config that does not load, or forwarding settings that cannot be
 * built, leave the running config in place.  Keys that need a restart keep
 * their running value (so /v1/config shows what is served).  The new config
 * is a new object: modules on this thread switch to it here, the builder
 * thread gets it with its next job and the DNS workers get new forwarding
 * settings through dnsserver_set_forward; nothing another thread reads is
 * changed in place.
 */
static void reload(struct daemon *d)
{
	const struct config_key *keys;
	size_t nkeys = config_keys(&keys);
	char err[1024], changed[512], restart[512] = "";
	struct config *next;
	size_t used = 0;

	if (d->ready_sent)
		service_notify("RELOADING=1");
	log_info("main: SIGHUP: reloading %s", d->o.config_path);
	next = config_load_new(d->o.config_path, warn_cb, NULL, err, sizeof(err));
	if (!next) {
		log_err("main: reload failed, the running configuration stays: %s", err);
		goto done;
	}
	for (size_t i = 0; i < nkeys; i++) {
		const struct config_key *k = &keys[i];
		const char *why = NULL;
		if ((k->reload & CONFIG_RELOAD_RESTART) && !config_key_equal(d->cfg, next, k))
			why = k->name;
		/* stateSource "stream" is set up at start, and only without a
		 * stateFile (which wins): setting or clearing one needs the other
		 * setup. */
		else if (strcmp(k->name, "stateFile") == 0 &&
			 strcmp(d->cfg->state_source, "stream") == 0 &&
			 !d->cfg->state_file[0] != !next->state_file[0])
			why = "stateFile (set or cleared with stateSource \"stream\")";
		if (!why)
			continue;
		if (used + 1 < sizeof(restart)) {
			int w = snprintf(restart + used, sizeof(restart) - used, "%s%s",
					 used ? ", " : "", why);
			used += w > 0 ? (size_t)w : 0;
		}
		if (config_key_copy(next, d->cfg, k) != 0) {
			log_err("main: reload failed, the running configuration stays: out of memory");
			config_release(next);
			goto done;
		}
	}
	if (restart[0])
		log_warn("main: reload: %s changed; this needs a restart of mesos-dnsd, the "
			 "running value stays until then", restart);
	unsigned what = config_diff(d->cfg, next, changed, sizeof(changed));
	if (!changed[0]) {
		log_info("main: reload: nothing else changed");
		config_release(next);
		goto done;
	}
	log_info("main: reload: changed: %s", changed);

	if ((what & CONFIG_RELOAD_FORWARD) && d->dns) {
		struct fwd_config *fc;
		struct acl *acl;
		if (forward_settings(next, &fc, &acl) != 0 ||
		    dnsserver_set_forward(d->dns, fc, acl, next->forward_max_inflight,
					  next->edns_udp_size) != 0) {
			/* (forward_settings logged; the other failure is memory) */
			log_err("main: reload failed, the running configuration stays: cannot set up "
				"the new forwarding settings");
			config_release(next);
			goto done;
		}
		if (!fc)
			log_info("main: forwarding is off");
	}
	if ((what & CONFIG_RELOAD_ZK) &&
	    (wants_zk(d->cfg) != wants_zk(next) || strcmp(d->cfg->zk, next->zk) != 0 ||
	     d->cfg->zk_detection_timeout != next->zk_detection_timeout)) {
		refresher_set_zk(d->ref, NULL);
		httpapi_set_zk(d->http, NULL);
		zk_free(d->zk);
		log_info("main: ZooKeeper leader detection %s", wants_zk(next) ? "restarted" : "stopped");
		if (start_zk(d, next) == 0) {
			refresher_set_zk(d->ref, d->zk);
			httpapi_set_zk(d->http, d->zk);
		}
	}
	refresher_set_config(d->ref, next, (what & CONFIG_RELOAD_ZONE) != 0,
			     (what & (CONFIG_RELOAD_FETCH | CONFIG_RELOAD_ZK)) != 0);
	httpapi_set_config(d->http, next);
	apply_log_level(&d->o, next);
	config_release(d->cfg);
	d->cfg = next;
	log_info("main: reload done");
done:
	if (d->ready_sent) {
		send_status(d);
		service_notify("READY=1");
	}
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	log_info("main: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	service_notify("STOPPING=1");
	event_base_loopbreak(d->base);
}

int main(int argc, char **argv)
{
	struct daemon d;
	char err[1024];
	int status = 1;

	memset(&d, 0, sizeof(d));
	if (parse_args(argc, argv, &d.o) != 0) {
		usage(stderr);
		return 2;
	}
	if (d.o.version) {
		printf("mesos-dnsd %s\n", MESOSDNSD_VERSION);
		return 0;
	}
	log_set_level(d.o.verbosity ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);

	d.cfg = config_load_new(d.o.config_path, warn_cb, NULL, err, sizeof(err));
	if (!d.cfg) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (d.o.checkconf) {
		printf("mesos-dnsd: %s: configuration is valid\n", d.o.config_path);
		config_release(d.cfg);
		return 0;
	}
	apply_log_level(&d.o, d.cfg);
	const struct config *cfg = d.boot = config_hold(d.cfg);

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);

	struct zone_params zp;
	zonecfg_params(cfg, &zp);
	struct zone *initial = zone_new_unloaded(&zp);
	if (!initial) {
		fprintf(stderr, "mesos-dnsd: cannot create the zone for domain %s\n", cfg->domain);
		config_release(d.cfg);
		config_release(d.boot);
		return 2;
	}
	zonepub_init(initial);

	d.base = event_base_new();
	if (!d.base) {
		log_err("main: cannot set up the event loop");
		goto out;
	}
	if (forward_settings(cfg, &d.fwdc, &d.recurse) != 0)
		goto out;
	if (cfg->transfer_to.n) {
		/* Zone transfers to the secondaries (AXFR/IXFR over TCP). */
		int rc = (d.transfer_to = acl_new()) ? 0 : MDNS_ENOMEM;
		for (size_t i = 0; rc == 0 && i < cfg->transfer_to.n; i++)
			rc = acl_add_cidr(d.transfer_to, cfg->transfer_to.v[i]);
		if (rc) {
			log_err("main: transferTo: %s", mdns_strerror(rc));
			goto out;
		}
		log_info("main: zone transfers for %s",
			 acl_format(d.transfer_to, err, sizeof(err)));
	}
	if (cfg->dns_on) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		struct dnsserver_opts dopts = {
			.listener = cfg->listener,
			.port = cfg->port,
			.workers = cfg->workers > 0 ? cfg->workers : (ncpu > 0 ? (int)ncpu : 1),
			.tcp_idle_timeout = cfg->tcp_idle_timeout,
			.tcp_max_connections = cfg->tcp_max_connections,
			.forward = d.fwdc,
			.recurse_from = d.recurse,
			.forward_max_inflight = cfg->forward_max_inflight,
			.edns_udp_size = cfg->edns_udp_size,
			.transfer_to = d.transfer_to,
			.rate_limit = cfg->rate_limit,
			.rate_limit_slip = cfg->rate_limit_slip,
		};
		d.dns = dnsserver_new(&dopts, err, sizeof(err));
		if (!d.dns) {
			log_err("%s", err);
			goto out;
		}
	}
	d.ref = refresher_new(d.base, cfg);
	if (!d.ref) {
		log_err("main: cannot set up the refresh pipeline");
		goto out;
	}
	if (cfg->http_on) {
		struct httpapi_opts hopts = {
			.listener = cfg->http_listener,
			.port = cfg->http_port,
			.cfg = cfg,
			.refresher = d.ref,
			.version = MESOSDNSD_VERSION,
			.url = PROJECT_URL,
			.max_connections = 128,
			.timeout_seconds = 10,
			.dns = d.dns,
		};
		d.http = httpapi_new(d.base, &hopts, err, sizeof(err));
		if (!d.http) {
			log_err("%s", err);
			goto out;
		}
	}
	/* Every socket is bound: root is not needed any more.  Before ZooKeeper,
	 * the fetcher and the state cache, which then run as that user. */
	if (d.o.user) {
		if (service_drop_privileges(d.o.user, err, sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
		log_info("main: running as user %s (uid %u, gid %u)", d.o.user, (unsigned)getuid(),
			 (unsigned)getgid());
	}
	if (start_zk(&d, cfg) != 0)
		goto out;
	refresher_set_zk(d.ref, d.zk);
	httpapi_set_zk(d.http, d.zk);
	refresher_set_on_cycle(d.ref, cycle_cb, &d);

	int signums[3] = { SIGINT, SIGTERM, SIGHUP };
	for (int i = 0; i < 3; i++) {
		d.sigs[i] = evsignal_new(d.base, signums[i], signal_cb, &d);
		evsignal_add(d.sigs[i], NULL);
	}
	uint64_t wd = service_watchdog_usec();
	if (wd) {
		/* Ping at half the interval, from this loop: a stuck loop stops them. */
		struct timeval tv = { .tv_sec = (time_t)(wd / 2 / 1000000),
				      .tv_usec = (suseconds_t)(wd / 2 % 1000000) };
		d.watchdog = event_new(d.base, -1, EV_PERSIST, watchdog_cb, &d);
		if (d.watchdog)
			event_add(d.watchdog, &tv);
		log_info("main: systemd watchdog: pinging every %llu ms",
			 (unsigned long long)(wd / 2000));
	}
	struct timeval hk = { .tv_sec = 10 };
	d.housekeeping = event_new(d.base, -1, EV_PERSIST, housekeeping_cb, &d);
	if (d.housekeeping)
		event_add(d.housekeeping, &hk);
	if (d.dns && dnsserver_start(d.dns) != 0) {
		log_err("main: cannot start DNS workers");
		goto out;
	}
	httpapi_set_ready(d.http, 1);	/* /ready: DNS is served (or off) */
	log_info("main: mesos-dnsd %s for domain %s, state from %s", MESOSDNSD_VERSION, cfg->domain,
		 cfg->state_file[0] ? cfg->state_file : cfg->zk[0] ? cfg->zk : "masters");
	service_notify("STATUS=%s: starting, no zone loaded yet", cfg->domain);
	refresher_start(d.ref);
	event_base_dispatch(d.base);
	status = 0;
out:
	/* The HTTP API reads the workers' and refresher's state: it goes first.
	 * Workers next, so no reader is left when the zone is freed. */
	httpapi_free(d.http);
	dnsserver_free(d.dns);
	fwd_config_free(d.fwdc);
	acl_free(d.recurse);
	acl_free(d.transfer_to);
	zk_free(d.zk);
	refresher_free(d.ref);
	for (int i = 0; i < 3; i++)
		if (d.sigs[i])
			event_free(d.sigs[i]);
	if (d.watchdog)
		event_free(d.watchdog);
	if (d.housekeeping)
		event_free(d.housekeeping);
	if (d.base)
		event_base_free(d.base);
	zonepub_shutdown();
	metrics_shutdown();
	config_release(d.cfg);
	config_release(d.boot);
	curl_global_cleanup();
	libevent_global_shutdown();
	return status;
}
