/* lib/refresh.c -- the state -> zone pipeline: fetch, parse, build, publish. */
#include "lib/refresh.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/fetch.h"
#include "lib/hostaddr.h"
#include "lib/log.h"
#include "lib/state.h"
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
 */

enum job_status { JOB_OK, JOB_FAILED, JOB_LEADER_ELSEWHERE };

struct build_job {
	/* input */
	char *body;			/* state text, or NULL to read cfg->state_file */
	size_t len;
	char *asked_host;		/* host we fetched from; NULL for stateFile */
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

	/* cycle state (loop thread only) */
	int running;			/* a cycle is under way */
	int pending;			/* refresh asked for during a cycle */
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
	int quit;

	struct refresh_stats stats;
};

static void cycle_next_master(struct refresher *r);
static void fetch_host(struct refresher *r, const char *hostport);

/* ---- builder thread -------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		snprintf(err, errlen, "stateFile %s: %s", path, strerror(errno));
		return -errno;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			if (cap > FETCH_MAX_BYTES + 65536u) {
				snprintf(err, errlen, "stateFile %s: larger than %u bytes", path,
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
		snprintf(err, errlen, "stateFile %s: read error", path);
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

static void run_job(const struct config *cfg, struct hostcache *hc, struct build_job *job)
{
	struct mesos_state *st = NULL;
	struct records_master *masters = NULL;
	struct iplist ns_ips = { 0 };
	char perr[400];

	job->status = JOB_FAILED;
	hostcache_begin(hc);
	if (!job->body && read_file(cfg->state_file, &job->body, &job->len, job->err,
				    sizeof(job->err)) != 0)
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

	masters = calloc(cfg->masters.n + 1, sizeof(*masters));
	size_t nm = 0;
	for (size_t i = 0; masters && i < cfg->masters.n; i++) {
		char *host;
		uint16_t port;
		if (hostaddr_split(cfg->masters.v[i], &host, &port) != 0)
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
		run_job(r->cfg, r->hosts, job);
		pthread_mutex_lock(&r->mu);
		r->done = job;
		event_active(r->job_done, 0, 0);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- control loop ---------------------------------------------------- */

static void submit_job(struct refresher *r, char *body, size_t len, const char *asked)
{
	struct build_job *job = calloc(1, sizeof(*job));
	if (!job) {
		free(body);
		log_err("state: out of memory");
		return;
	}
	job->body = body;
	job->len = len;
	job->asked_host = asked ? strdup(asked) : NULL;
	job->prev = zonepub_current();
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

	r->stats.successes++;
	r->stats.last_success = time(NULL);
	if (changed)
		r->stats.zone_changes++;
	log_info("state: loaded from %s: %zu tasks, %zu records, serial %u%s", source,
		 job->rstats.tasks, z->nrecords, z->serial, changed ? "" : " (unchanged)");
	if (changed) {
		job->zone = NULL;
		zonepub_publish(z);
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

	const char *src = job->asked_host ? r->cur_hostport : r->cfg->state_file;
	switch (job->status) {
	case JOB_OK:
		publish(r, job, src);
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
	zone_free(job->zone);
	free(job->asked_host);
	free(job);
}

/* A fetch ended: hand the body to the builder, or try the next master. */
static void fetch_done(void *arg, struct fetch_result *res)
{
	struct refresher *r = arg;
	char *host;
	uint16_t port;

	if (res->rc != 0) {
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
	submit_job(r, res->body, res->len, host);
	free(host);
}

static void fetch_host(struct refresher *r, const char *hostport)
{
	snprintf(r->cur_hostport, sizeof(r->cur_hostport), "%s", hostport);
	const char *colon = strrchr(hostport, ':');
	snprintf(r->cur_port, sizeof(r->cur_port), "%s", colon ? colon + 1 : "5050");
	int rc = fetch_state(r->fetcher, hostport, fetch_done, r);
	if (rc != 0) {
		note_error(r, "%s: %s", hostport, mdns_strerror(rc));
		r->master_idx++;
		cycle_next_master(r);
	}
}

/* Try masters in order; the first that yields a zone wins. */
static void cycle_next_master(struct refresher *r)
{
	if (r->master_idx >= r->cfg->masters.n) {
		cycle_failed(r);
		return;
	}
	r->followed = 0;
	fetch_host(r, r->cfg->masters.v[r->master_idx]);
}

static void start_cycle(struct refresher *r)
{
	r->running = 1;
	r->stats.attempts++;
	r->errors[0] = 0;
	r->master_idx = 0;
	r->followed = 0;
	if (r->cfg->state_file[0])
		submit_job(r, NULL, 0, NULL);
	else
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

void refresher_start(struct refresher *r)
{
	struct timeval now = { 0, 0 };
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
	struct build_job *jobs[2] = { r->job, r->done };
	for (int i = 0; i < 2; i++) {
		if (!jobs[i])
			continue;
		free(jobs[i]->body);
		free(jobs[i]->asked_host);
		zone_free(jobs[i]->zone);
		free(jobs[i]);
	}
	fetcher_free(r->fetcher);
	hostcache_free(r->hosts);
	event_free(r->timer);
	event_free(r->job_done);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}
