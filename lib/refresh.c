/* lib/refresh.c -- the state -> zone pipeline: fetch, parse, build, publish. */
#include "lib/refresh.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/fetch.h"
#include "lib/hostaddr.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/state.h"
#include "lib/zk.h"
#include "lib/zonecfg.h"
#include "lib/zonepub.h"
#include "zone/records.h"
#include "zone/zone.h"

/*
 * The control loop owns the cycle: which master to ask next, whether to
 * follow a leader, when to publish.  The builder thread does the CPU- and
 * resolver-bound part (read file, parse, resolve hostnames, build) so that
 * neither a 100 MB state nor a slow DNS lookup of a hostname stalls the loop.
 * One job at a time: the loop hands a job over and waits for its result.
 *
 * The masters of a cycle are fixed when it starts: with zk, ZooKeeper's list
 * (leader first) and then the `masters` of the config; without, the config's.
 * The job carries that list so the master records match what was asked.
 */

enum job_status { JOB_OK, JOB_FAILED, JOB_LEADER_ELSEWHERE };

/* A counted list of "host:port" strings, owned. */
struct hplist {
	char **v;
	size_t n;
};

struct build_job {
	/* input */
	char *body;			/* state text, or NULL to read file */
	size_t len;
	const char *file;		/* stateFile or stateCacheFile when body is NULL */
	int from_cache;			/* the state comes from stateCacheFile */
	char *asked_host;		/* host we fetched from; NULL for a file */
	struct hplist masters;		/* masters known for this cycle (records) */
	const struct zone *prev;	/* the zone published now (for the serial) */
	/* output */
	enum job_status status;
	struct zone *zone;
	char leader_host[256];		/* JOB_LEADER_ELSEWHERE: where to go */
	struct records_stats rstats;
	char err[512];
};

struct refresher {
	struct event_base *base;
	const struct config *cfg;
	struct fetcher *fetcher;
	struct event *timer;
	struct event *job_done;
	struct zk *zk;			/* leader detection, or NULL (borrowed) */

	/* cycle state (loop thread only) */
	int running;			/* a cycle is under way */
	int fetching;			/* ... and waits for a fetch (not the builder) */
	int pending;			/* refresh asked for during a cycle */
	int waiting_logged;		/* "no master known yet" was logged */
	int stale;			/* serving the state of stateCacheFile */
	struct hplist cycle_masters;	/* the masters of this cycle, in order */
	size_t master_idx;
	int followed;			/* the leader field was followed already */
	char cur_hostport[300];		/* master being asked */
	char cur_port[16];
	char errors[512];		/* reasons collected over the cycle */

	/* builder thread hand-off */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct build_job *job;		/* set by the loop, taken by the builder */
	struct build_job *done;		/* set by the builder, taken by the loop */
	struct hostcache *hosts;	/* builder thread only */
	uint64_t cache_hash;		/* builder thread only: FNV-1a of the last state cached */
	int quit;

	struct refresh_stats stats;

	/* for lib/metrics (loop thread only) */
	struct timespec fetch_t0;	/* the transfer under way started */
	struct timespec job_t0;		/* the job under way was handed over */
	char last_leader[300];		/* master whose state was loaded last */
};

static void cycle_next_master(struct refresher *r);
static void fetch_host(struct refresher *r, const char *hostport);
static void start_cycle(struct refresher *r);

/* ---- builder thread -------------------------------------------------- */

static void hplist_clear(struct hplist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Append a copy of hp unless it is there already; 0 or MDNS_ENOMEM. */
static int hplist_add(struct hplist *l, const char *hp)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], hp) == 0)
			return 0;
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return MDNS_ENOMEM;
	l->v = v;
	if (!(l->v[l->n] = strdup(hp)))
		return MDNS_ENOMEM;
	l->n++;
	return 0;
}

static int hplist_copy(struct hplist *dst, const struct hplist *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		if (hplist_add(dst, src->v[i]) != 0) {
			hplist_clear(dst);
			return MDNS_ENOMEM;
		}
	return 0;
}

static int read_file(const char *what, const char *path, char **out, size_t *len, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
		return -e;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			if (cap > FETCH_MAX_BYTES + 65536u) {
				snprintf(err, errlen, "%s %s: larger than %u bytes", what, path,
					 FETCH_MAX_BYTES);
				free(buf);
				fclose(f);
				return MDNS_ETOOBIG;
			}
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return MDNS_ENOMEM;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s %s: read error", what, path);
		free(buf);
		return MDNS_EINVAL;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

static const struct iplist *resolve_cb(void *ctx, const char *host)
{
	return hostcache_lookup(ctx, host);
}

/* Is the leader named by the state somewhere else than the host asked? */
static int leader_elsewhere(const struct mesos_state *st, const char *asked, struct hostcache *hc)
{
	if (!asked || !st->leader.host)
		return 0;
	if (strcmp(st->leader.host, asked) == 0)
		return 0;
	/* Compare addresses: the master may be listed by name, the leader by IP. */
	const struct iplist *a = hostcache_lookup(hc, asked);
	const struct iplist *l = hostcache_lookup(hc, st->leader.host);
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < l->n; j++)
			if (ipaddr_equal(&a->v[i], &l->v[j]))
				return 0;
	return 1;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Keep the state for the next start: written to a temporary file in the same
 * directory, flushed to disk, then renamed over path, so a crash leaves the
 * old file or the new one, never half of one.  Returns 0 or a negative errno.
 */
static int write_cache(const char *path, const char *body, size_t len, char *err, size_t errlen)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	int fd = -1, rc = 0;

	if (!tmp)
		return MDNS_ENOMEM;
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create a file next to %s: %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, body + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "flushing %s: %s", tmp, strerror(errno));
	}
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
		snprintf(err, errlen, "closing %s: %s", tmp, strerror(errno));
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -errno;
		snprintf(err, errlen, "renaming %s to %s: %s", tmp, path, strerror(errno));
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static void run_job(const struct config *cfg, struct hostcache *hc, uint64_t *cache_hash,
		    struct build_job *job)
{
	struct mesos_state *st = NULL;
	struct records_master *masters = NULL;
	struct iplist ns_ips = { 0 };
	char perr[400];

	job->status = JOB_FAILED;
	hostcache_begin(hc);
	if (!job->body && read_file(job->from_cache ? "stateCacheFile" : "stateFile", job->file,
				    &job->body, &job->len, job->err, sizeof(job->err)) != 0)
		goto out;
	if (state_parse(job->body, job->len, &st, perr, sizeof(perr)) != 0) {
		snprintf(job->err, sizeof(job->err), "%s", perr);
		goto out;
	}
	if (leader_elsewhere(st, job->asked_host, hc)) {
		job->status = JOB_LEADER_ELSEWHERE;
		snprintf(job->leader_host, sizeof(job->leader_host), "%s", st->leader.host);
		goto out;
	}

	masters = calloc(job->masters.n + 1, sizeof(*masters));
	size_t nm = 0;
	for (size_t i = 0; masters && i < job->masters.n; i++) {
		char *host;
		uint16_t port;
		if (hostaddr_split(job->masters.v[i], &host, &port) != 0)
			continue;
		masters[nm].ips = *hostcache_lookup(hc, host);
		masters[nm].port = port;
		nm++;
		free(host);
	}
	hostaddr_listener_ips(cfg->listener, &ns_ips);

	struct zone_params zp;
	struct records_config rc;
	zonecfg_params(cfg, &zp);
	zonecfg_records(cfg, &rc);
	rc.masters = masters;
	rc.nmasters = nm;
	rc.ns_ips = &ns_ips;
	rc.resolve = resolve_cb;
	rc.resolve_ctx = hc;
	struct zone_builder *b = zone_builder_new(&zp);
	if (!b || !masters || records_build(b, st, &rc, &job->rstats) != 0) {
		zone_builder_free(b);
		snprintf(job->err, sizeof(job->err), "zone build failed: out of memory");
		goto out;
	}
	job->zone = zone_builder_finish(b, job->prev, (uint32_t)time(NULL));
	if (!job->zone) {
		snprintf(job->err, sizeof(job->err), "zone build failed: out of memory");
		goto out;
	}
	job->status = JOB_OK;

	/* Only a state that built a zone is worth starting from next time. */
	if (job->asked_host && cfg->state_cache_file[0]) {
		uint64_t h = fnv1a(job->body, job->len) ^ job->len;
		char werr[600];
		if (h != *cache_hash) {
			if (write_cache(cfg->state_cache_file, job->body, job->len, werr,
					sizeof(werr)) == 0) {
				*cache_hash = h;
				log_debug("state: cached %zu bytes in %s", job->len,
					  cfg->state_cache_file);
			} else {
				log_warn("state: cannot update stateCacheFile: %s", werr);
			}
		}
	}
out:
	free(ns_ips.v);
	free(masters);
	state_free(st);
	free(job->body);
	job->body = NULL;
}

static void *builder_main(void *arg)
{
	struct refresher *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->job && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->quit)
			break;
		struct build_job *job = r->job;
		r->job = NULL;
		pthread_mutex_unlock(&r->mu);
		run_job(r->cfg, r->hosts, &r->cache_hash, job);
		pthread_mutex_lock(&r->mu);
		r->done = job;
		event_active(r->job_done, 0, 0);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- control loop ---------------------------------------------------- */

static void job_free(struct build_job *job)
{
	if (!job)
		return;
	free(job->body);
	free(job->asked_host);
	hplist_clear(&job->masters);
	zone_free(job->zone);
	free(job);
}

static void submit_job(struct refresher *r, char *body, size_t len, const char *asked,
		       const char *file, int from_cache)
{
	struct build_job *job = calloc(1, sizeof(*job));
	if (!job || hplist_copy(&job->masters, &r->cycle_masters) != 0) {
		free(job);
		free(body);
		log_err("state: out of memory");
		abort();
	}
	job->body = body;
	job->len = len;
	job->file = file;
	job->from_cache = from_cache;
	job->asked_host = asked ? strdup(asked) : NULL;
	job->prev = zonepub_current();
	clock_gettime(CLOCK_MONOTONIC, &r->job_t0);
	pthread_mutex_lock(&r->mu);
	r->job = job;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void schedule_next(struct refresher *r)
{
	struct timeval tv = { .tv_sec = r->cfg->refresh_seconds };
	r->running = 0;
	if (r->pending) {
		r->pending = 0;
		tv.tv_sec = 0;
	}
	evtimer_add(r->timer, &tv);
}

static void cycle_failed(struct refresher *r)
{
	const struct zone *z = zonepub_current();
	r->stats.failures++;
	r->stats.last_failure = time(NULL);
	snprintf(r->stats.last_error, sizeof(r->stats.last_error), "%s", r->errors);
	if (z && z->loaded)
		log_warn("state: refresh failed, keeping the zone of serial %u: %s", z->serial, r->errors);
	else
		log_warn("state: refresh failed, no zone loaded yet: %s", r->errors);
	schedule_next(r);
}

static void note_error(struct refresher *r, const char *fmt, const char *a, const char *b)
{
	size_t used = strlen(r->errors);
	if (used && used < sizeof(r->errors) - 3) {
		strcat(r->errors, "; ");
		used += 2;
	}
	if (used < sizeof(r->errors))
		snprintf(r->errors + used, sizeof(r->errors) - used, fmt, a, b);
}

static void publish(struct refresher *r, struct build_job *job, const char *source)
{
	const struct zone *old = zonepub_current();
	int changed = !old || !old->loaded || old->serial != job->zone->serial;
	struct zone *z = job->zone;

	/* The cached state is not a fetch: it must not make /health look fresh. */
	if (!job->from_cache) {
		r->stats.successes++;
		r->stats.last_success = time(NULL);
	}
	if (changed)
		r->stats.zone_changes++;
	log_info("state: loaded from %s: %zu tasks, %zu records, serial %u%s", source,
		 job->rstats.tasks, z->nrecords, z->serial, changed ? "" : " (unchanged)");
	if (changed) {
		job->zone = NULL;
		zonepub_publish(z);
	}
}

/* The state of stateCacheFile was built (or not): go on with a real fetch. */
static void cache_job_done(struct refresher *r, struct build_job *job)
{
	char src[600];

	if (job->status == JOB_OK) {
		snprintf(src, sizeof(src), "stateCacheFile %s", job->file);
		publish(r, job, src);
		r->stale = 1;
		r->stats.stale = 1;
		log_info("state: answering from the cached state of %s, marked stale until a "
			 "master answers", job->file);
	} else {
		log_warn("state: cannot use the cached state: %s", job->err);
	}
	start_cycle(r);
}

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Metrics of a finished job: fetch outcome, build time, leader changes. */
static void count_job(struct refresher *r, const struct build_job *job)
{
	if (job->from_cache) {	/* not a fetch */
		if (job->status == JOB_OK)
			metrics_zone_build(since(&r->job_t0));
		return;
	}
	switch (job->status) {
	case JOB_OK:
		metrics_state_fetch(METRICS_FETCH_OK);
		/* One job at a time: hand-over to hand-back is parse + build. */
		metrics_zone_build(since(&r->job_t0));
		if (job->asked_host) {
			if (r->last_leader[0] && strcmp(r->last_leader, r->cur_hostport) != 0)
				metrics_leader_change();
			snprintf(r->last_leader, sizeof(r->last_leader), "%s", r->cur_hostport);
		}
		break;
	case JOB_LEADER_ELSEWHERE:
		metrics_state_fetch(r->followed ? METRICS_FETCH_NOT_LEADER : METRICS_FETCH_FOLLOWER);
		break;
	case JOB_FAILED:
		metrics_state_fetch(METRICS_FETCH_PARSE);
		break;
	}
}

static void job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct refresher *r = arg;
	struct build_job *job;
	(void)fd; (void)what;

	pthread_mutex_lock(&r->mu);
	job = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->mu);
	if (!job)
		return;
	count_job(r, job);
	if (job->from_cache) {
		cache_job_done(r, job);
		job_free(job);
		return;
	}

	const char *src = job->asked_host ? r->cur_hostport : r->cfg->state_file;
	switch (job->status) {
	case JOB_OK:
		publish(r, job, src);
		if (r->stale && job->asked_host) {
			r->stale = 0;
			r->stats.stale = 0;
			log_info("state: fresh state from %s replaces the cached one", src);
		}
		schedule_next(r);
		break;
	case JOB_LEADER_ELSEWHERE:
		if (!r->followed) {
			char hp[300];
			int v6 = strchr(job->leader_host, ':') != NULL;
			snprintf(hp, sizeof(hp), v6 ? "[%s]:%s" : "%s:%s", job->leader_host, r->cur_port);
			log_info("state: %s is not the leader, asking %s", src, hp);
			r->followed = 1;
			fetch_host(r, hp);
		} else {
			note_error(r, "%s: names leader %s but a leader was already followed", src,
				   job->leader_host);
			r->master_idx++;
			cycle_next_master(r);
		}
		break;
	case JOB_FAILED:
		if (!job->asked_host) {
			snprintf(r->errors, sizeof(r->errors), "%s", job->err);
			cycle_failed(r);
		} else {
			note_error(r, "%s: %s", src, job->err);
			r->master_idx++;
			cycle_next_master(r);
		}
		break;
	}
	job_free(job);
}

/* A fetch ended: hand the body to the builder, or try the next master. */
static void fetch_done(void *arg, struct fetch_result *res)
{
	struct refresher *r = arg;
	char *host;
	uint16_t port;

	r->fetching = 0;
	metrics_state_transfer(since(&r->fetch_t0), res->rc == 0 ? res->len : 0);
	if (res->rc != 0) {
		metrics_state_fetch(metrics_fetch_of_error(res->rc));
		note_error(r, "%s%s", res->err, "");	/* res->err names the URL */
		free(res->body);
		if (r->followed) {
			/* The leader we were sent to failed: go on with the list. */
			r->followed = 0;
		}
		r->master_idx++;
		cycle_next_master(r);
		return;
	}
	log_debug("state: fetched %zu bytes from %s", res->len, res->url);
	if (hostaddr_split(r->cur_hostport, &host, &port) != 0) {
		free(res->body);
		note_error(r, "%s: %s", r->cur_hostport, "bad host:port");
		r->master_idx++;
		cycle_next_master(r);
		return;
	}
	submit_job(r, res->body, res->len, host, NULL, 0);
	free(host);
}

static void fetch_host(struct refresher *r, const char *hostport)
{
	snprintf(r->cur_hostport, sizeof(r->cur_hostport), "%s", hostport);
	const char *colon = strrchr(hostport, ':');
	snprintf(r->cur_port, sizeof(r->cur_port), "%s", colon ? colon + 1 : "5050");
	clock_gettime(CLOCK_MONOTONIC, &r->fetch_t0);
	int rc = fetch_state(r->fetcher, hostport, fetch_done, r);
	r->fetching = rc == 0;
	if (rc != 0) {
		note_error(r, "%s: %s", hostport, mdns_strerror(rc));
		r->master_idx++;
		cycle_next_master(r);
	}
}

/* Try masters in order; the first that yields a zone wins. */
static void cycle_next_master(struct refresher *r)
{
	if (r->master_idx >= r->cycle_masters.n) {
		cycle_failed(r);
		return;
	}
	r->followed = 0;
	fetch_host(r, r->cycle_masters.v[r->master_idx]);
}

/* The masters to ask, in order: ZooKeeper's (leader first), then the config's. */
static void collect_masters(struct refresher *r)
{
	struct zk_master *zm = NULL;
	size_t nzm = 0;

	hplist_clear(&r->cycle_masters);
	if (r->zk && zk_masters(r->zk, &zm, &nzm) != 0) {
		log_err("state: out of memory");
		abort();
	}
	for (size_t i = 0; i < nzm; i++)
		if (hplist_add(&r->cycle_masters, zm[i].hostport) != 0)
			abort();
	free(zm);
	for (size_t i = 0; i < r->cfg->masters.n; i++)
		if (hplist_add(&r->cycle_masters, r->cfg->masters.v[i]) != 0)
			abort();
}

static void start_cycle(struct refresher *r)
{
	/* Whatever asked for a refresh until now is served by this cycle. */
	r->pending = 0;
	collect_masters(r);
	if (r->cfg->state_file[0]) {
		/* The config's masters still name master0..N. */
		r->running = 1;
		r->stats.attempts++;
		r->errors[0] = 0;
		submit_job(r, NULL, 0, NULL, r->cfg->state_file, 0);
		return;
	}
	if (r->cycle_masters.n == 0) {
		/* Only with zk and no static masters: ZooKeeper's first leader triggers us. */
		if (!r->waiting_logged)
			log_info("state: no master known yet; waiting for ZooKeeper to name a leader");
		r->waiting_logged = 1;
		schedule_next(r);
		return;
	}
	r->waiting_logged = 0;
	r->running = 1;
	r->stats.attempts++;
	r->errors[0] = 0;
	r->master_idx = 0;
	r->followed = 0;
	cycle_next_master(r);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	start_cycle(arg);
}

struct refresher *refresher_new(struct event_base *base, const struct config *cfg)
{
	struct refresher *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->base = base;
	r->cfg = cfg;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->timer = evtimer_new(base, timer_cb, r);
	r->job_done = event_new(base, -1, 0, job_done_cb, r);
	r->fetcher = fetcher_new(base, cfg);
	/* Agents' and frameworks' hostnames rarely move; ask again every 5 minutes. */
	r->hosts = hostcache_new(300);
	if (!r->timer || !r->job_done || !r->fetcher || !r->hosts ||
	    pthread_create(&r->thread, NULL, builder_main, r) != 0) {
		if (r->timer)
			event_free(r->timer);
		if (r->job_done)
			event_free(r->job_done);
		fetcher_free(r->fetcher);
		hostcache_free(r->hosts);
		free(r);
		return NULL;
	}
	return r;
}

void refresher_set_zk(struct refresher *r, struct zk *zk)
{
	r->zk = zk;
}

void refresher_zk_changed(void *arg)
{
	struct refresher *r = arg;
	struct zk_status zs;

	/*
	 * A new leader while we wait on the old one (a host that vanished
	 * answers nothing until stateTimeoutSeconds): drop that fetch and
	 * start over with the new list at once.
	 */
	if (r->running && r->fetching && r->zk) {
		zk_status(r->zk, &zs);
		if (zs.leader[0] && r->cycle_masters.n &&
		    strcmp(zs.leader, r->cycle_masters.v[0]) != 0) {
			log_info("state: the leader moved to %s; dropping the fetch from %s", zs.leader,
				 r->cur_hostport);
			fetcher_cancel_all(r->fetcher);
			r->fetching = 0;
			r->running = 0;
			start_cycle(r);
			return;
		}
	}
	refresher_trigger(r);
}

void refresher_start(struct refresher *r)
{
	struct timeval now = { 0, 0 };
	const char *cache = r->cfg->state_cache_file;

	if (!r->cfg->state_file[0] && cache[0]) {
		/* Answer from the last good state at once while the masters are asked. */
		if (access(cache, R_OK) == 0) {
			r->running = 1;
			collect_masters(r);
			submit_job(r, NULL, 0, NULL, cache, 1);
			return;
		}
		log_info("state: no cached state in %s yet (%s)", cache, strerror(errno));
	}
	evtimer_add(r->timer, &now);
}

void refresher_trigger(struct refresher *r)
{
	if (r->running) {
		r->pending = 1;
		return;
	}
	struct timeval now = { 0, 0 };
	evtimer_add(r->timer, &now);
}

void refresher_stats(const struct refresher *r, struct refresh_stats *out)
{
	*out = r->stats;
}

int refresher_stale(const struct refresher *r)
{
	return r->stale;
}

void refresher_free(struct refresher *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->quit = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	/* A job handed over but never started, or finished but not collected. */
	job_free(r->job);
	job_free(r->done);
	fetcher_free(r->fetcher);
	hostcache_free(r->hosts);
	hplist_clear(&r->cycle_masters);
	event_free(r->timer);
	event_free(r->job_done);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}
