/* lib/refresh.h -- the state -> zone pipeline: fetch, parse, build, publish. */
#pragma once

#include <stdint.h>
#include <time.h>

struct event_base;
struct config;
struct refresher;

/* What the pipeline has done, for logs, /health and metrics. */
struct refresh_stats {
	uint64_t attempts;		/* refresh cycles started */
	uint64_t successes;		/* cycles that produced a zone */
	uint64_t failures;		/* cycles that kept the previous zone */
	uint64_t zone_changes;		/* publications with new content */
	time_t last_success;		/* 0 = never */
	time_t last_failure;
	char last_error[512];		/* reason of the last failure */
};

/*
 * Create the pipeline on base (the control thread's loop).  cfg is borrowed
 * and must outlive the refresher.  A builder thread parses state and builds
 * zones so the loop never blocks on parsing or name resolution; zones are
 * published with zonepub_publish.  NULL on failure.
 */
struct refresher *refresher_new(struct event_base *base, const struct config *cfg);

/* Run a refresh now, then every refreshSeconds. */
void refresher_start(struct refresher *r);

/* Ask for a refresh as soon as the current one (if any) ends. */
void refresher_trigger(struct refresher *r);

/* Counters and times (a copy). */
void refresher_stats(const struct refresher *r, struct refresh_stats *out);

/* Stop (waits for the builder thread) and free; NULL is a no-op. */
void refresher_free(struct refresher *r);
