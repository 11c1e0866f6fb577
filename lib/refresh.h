/* lib/refresh.h -- the state -> zone pipeline: fetch, parse, build, publish. */
#pragma once

#include <stdint.h>
#include <time.h>

struct event_base;
struct config;
struct refresher;
struct zk;

/* What the pipeline has done, for logs, /health and metrics. */
struct refresh_stats {
	uint64_t attempts;		/* refresh cycles started */
	uint64_t successes;		/* cycles that produced a zone */
	uint64_t failures;		/* cycles that kept the previous zone */
	uint64_t zone_changes;		/* publications with new content */
	time_t last_success;		/* 0 = never */
	time_t last_failure;
	char last_error[512];		/* reason of the last failure */
	int stale;			/* the zone comes from stateCacheFile, no fetch succeeded yet */
};

/*
 * Create the pipeline on base (the control thread's loop).  cfg is held with
 * config_hold() (a config that is not shared, see config.h, must outlive the
 * refresher).  A builder thread parses state and builds zones so the loop
 * never blocks on parsing or name resolution; zones are published with
 * zonepub_publish.  Each build job holds the config it was started with, so
 * the builder never reads a config the loop has replaced.  The last state
 * that built a zone is kept (its text) for rebuilds.  NULL on failure.
 */
struct refresher *refresher_new(struct event_base *base, const struct config *cfg);

/*
 * Switch to cfg after a reload (loop thread): cfg is held, the previous config
 * released (a build job under way keeps its own reference).  The fetcher
 * uses cfg from its next transfer; a changed refreshSeconds re-arms the
 * timer from now.  rebuild: build the zone again at once from the last state
 * that built one (after the job under way, if any), or, with none loaded
 * yet, publish an empty zone with the new parameters.  refetch: refresh as
 * soon as the current cycle or rebuild ends.
 */
void refresher_set_config(struct refresher *r, const struct config *cfg, int rebuild,
			  int refetch);

/*
 * Call cb(ctx) on the loop after every refresh cycle (success or failure),
 * after the stateCacheFile load and after a rebuild: the zone published
 * (zonepub_current) and refresher_stats are up to date then.  NULL: none.
 */
void refresher_set_on_cycle(struct refresher *r, void (*cb)(void *ctx), void *ctx);

/*
 * Take the masters from zk (borrowed; must outlive the refresher): each cycle
 * asks ZooKeeper's masters, leader first, then the config's `masters`; those
 * are also the masters of the zone's master records.  Call before
 * refresher_start.  Without it (or with NULL) only the config's are used.
 * A cycle with no master at all waits (quietly) for the next trigger.
 */
void refresher_set_zk(struct refresher *r, struct zk *zk);

/* zk_new's on_change callback: ctx is the refresher; refreshes at once. */
void refresher_zk_changed(void *ctx);

/*
 * Start: with stateCacheFile (and no stateFile) the cached state is built
 * and published first, marked stale until a fetch succeeds; then a refresh
 * runs at once and every refreshSeconds after.
 */
void refresher_start(struct refresher *r);

/* Ask for a refresh as soon as the current one (if any) ends. */
void refresher_trigger(struct refresher *r);

/* Counters and times (a copy). */
void refresher_stats(const struct refresher *r, struct refresh_stats *out);

/* 1 while the zone served comes from stateCacheFile and no fetch has succeeded since. */
int refresher_stale(const struct refresher *r);

/* Stop (waits for the builder thread) and free; NULL is a no-op. */
void refresher_free(struct refresher *r);
