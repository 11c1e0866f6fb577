/* lib/refresh.c -- the state -> zone pipeline: fetch, parse, build, publish. */
#include "lib/refresh.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/fetch.h"
#include "lib/hostaddr.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/notify.h"
#include "lib/state.h"
#include "lib/statemodel.h"
#include "lib/statesax.h"
#include "lib/stream.h"
#include "lib/zk.h"
#include "lib/zonecfg.h"
#include "lib/zonepub.h"
#include "zone/meta.h"
#include "zone/records.h"
#include "zone/reverse.h"
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
	const struct config *cfg;	/* held: the config this job builds with */
	char *body;			/* state text, or NULL to read file */
	size_t len;
	XXH128_hash_t body_hash;	/* of a polled body (submit_job) or a dump
					   (stream_model_job): seeded, statesax_seed() */
	int rebuild;			/* rebuild from the last state after a reload (a
					   stream job: from the model alone, no records) */
	int use_kept;			/* ... from the state the builder kept (no body, no file) */
	int reset_cache;		/* stateCacheFile changed: write it even if unchanged;
					   still set after the job when no write was tried */
	const char *file;		/* stateFile or stateCacheFile when body is NULL */
	int from_cache;			/* the state comes from stateCacheFile */
	char *asked_host;		/* host we fetched from; NULL for a file */
	struct hplist masters;		/* masters known for this cycle (records) */
	const struct zone *prev;	/* the zone published now (for the serial) */
	uint32_t serial_floor;		/* the secondaries' highest serial at start (0: none) */
	struct build_job *qnext;	/* the builder's queue (r->job, r->done) */
	/* stateSource "stream": apply records to the model, build from it */
	struct statemodel *model;	/* the refresher's; the builder thread's only */
	struct statemodel *superseded;	/* a poll, cache or rebuild job of a stream
					   daemon: the model, which a zone built here
					   leaves behind (reset: keep_or_free) */
	struct stream_record *records;	/* in stream order (owned; freed once applied) */
	char *leader;			/* master of the subscription, or NULL */
	uint64_t conn;			/* connection the records came on */
	int dump;			/* also dump the model into body (stateCacheFile) */
	/* a polled or file state the same as the last one built (loop; see built_from) */
	int same_source;
	struct stat fst;		/* the stateFile at hand-over ... */
	int fst_ok;			/* ... when it had been left alone (file_settled) */
	int skipped;			/* out: the same state as the last build (same_source,
					   or the same fingerprint) and nothing else moved:
					   no build; skip_why says which */
	enum metrics_skip skip_why;
	int kept;			/* out: the builder kept this job's state (and frees
					   body itself): for rebuilds, see refresher.kept */
	int holds_kept;			/* out: the builder holds a kept state after the job */
	int force;			/* build even when the records cannot have changed */
	int unchanged;			/* out: they cannot have, and no zone was built */
	struct statemodel_effect eff;	/* out: what the records did */
	int model_rc;			/* out: 0, or why the model no longer matches */
	uint64_t sub_conn;		/* connection whose SUBSCRIBED is among the records */
	/* output */
	enum job_status status;
	struct zone *zone;
	char leader_host[256];		/* JOB_LEADER_ELSEWHERE: where to go */
	struct records_stats rstats;
	char err[512];
};

/*
 * What the last zone built from a polled or file state was built from
 * (builder thread only).  records_build is pure, so a refresh that brings
 * the same state with all of this unchanged would build the same zone
 * again: at 100,000 tasks 1.5-2 CPU seconds for a zone that then compares
 * "(unchanged)".  Such a refresh is answered from this instead (a job
 * "skipped").  The same state is known twice over:
 * - before parsing, the same bytes or file (the loop tells:
 *   build_job.same_source): nothing to do at all;
 * - after parsing, the same model fingerprint (struct mesos_state): the
 *   document changed only where the zone does not look (a master's offers
 *   and resources change by the second on a busy cluster), so a refresh
 *   costs the parse (a third of a build) and no build.
 */
struct built_from {
	int valid;
	const struct config *cfg;	/* held: the pointer cannot come back for another */
	uint32_t serial;		/* of the zone it gave; if the published zone's
					   differs, something else changed the zone since */
	struct hplist masters;
	char *asked;			/* the host asked, NULL for a file */
	struct iplist ns;		/* the listener's addresses (NS glue) */
	uint64_t fingerprint;		/* of the state's model; 0: unknown */
	struct records_stats rstats;
};

struct refresher {
	struct event_base *base;
	const struct config *cfg;	/* held (config_hold); replaced by refresher_set_config */
	struct fetcher *fetcher;
	struct event *timer;
	struct event *job_done;
	struct zk *zk;			/* leader detection, or NULL (borrowed) */
	struct notifier *notifier;	/* NOTIFY to secondaries, or NULL */
	uint32_t serial_floor;		/* set before the first job (notifier_probe) */

	/* cycle state (loop thread only) */
	int started;			/* start_now ran.  Before (while the
					   secondaries' serials are asked, up to 1 s)
					   a refresh asked for only sets pending: a
					   cycle then would build beside start_now's
					   stateCacheFile job, on the same previous
					   zone.  The first cycle serves it. */
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
	/* Rebuilds yield to answering (builder_main): */
	int job_active;			/* the builder is running a job (under mu) */
	int job_idle;			/* ... at SCHED_IDLE (under mu) */
	int boosted;			/* ... and was put back to SCHED_BATCH (under mu) */
	struct event *boost_ev;		/* loop: every second while a job is pending */
	double boost_cpu;		/* loop: the builder's CPU time at the last check */
	struct hostcache *hosts;	/* builder thread only */
	struct built_from built;	/* builder thread only */
	/* Builder thread only: the polled or cached state the last zone was
	 * built from, parsed, for rebuilds after a reload.  The model, not the
	 * text: a 100,000-task state is 180 MB of JSON and 63 MB of model, and
	 * a rebuild from it skips the parse.  The loop knows only whether there
	 * is one (has_kept, from each job's holds_kept). */
	struct mesos_state *kept;
	XXH128_hash_t cache_hash;	/* builder thread only: body_hash of the last state
					   cached; all zero: none */
	int quit;

	struct refresh_stats stats;

	/* the last state that built a zone, for rebuilds after a reload (loop
	 * thread); the stream's is its model (s_fresh) */
	int has_kept;			/* the builder keeps the state (kept) */
	XXH128_hash_t last_hash;	/* of the polled body that built the last zone ... */
	size_t last_hash_len;
	int last_hash_ok;		/* ... when it was one (not stateCacheFile, a file, the stream) */
	struct stat last_fst;		/* the stateFile that built the last zone ... */
	int last_fst_ok;		/* ... when settled (file_settled) */
	struct hplist last_masters;
	int rebuild_pending;		/* a reload asked for a rebuild during a job */
	int cache_reset;		/* stateCacheFile changed: tell the next job */
	void (*on_cycle)(void *ctx);	/* after each cycle, cache load and rebuild */
	void *on_cycle_ctx;

	/* stateSource "stream" (loop thread; the model is the builder thread's) */
	struct streamer *streamer;	/* NULL when polling */
	struct statemodel *model;
	struct stream_record *s_head, **s_tail;	/* records waiting for the builder */
	struct event *s_flush;		/* hands them over, at most every 50 ms */
	struct timespec s_last_submit;
	int s_inflight;			/* a stream job is with the builder */
	double s_arrived;		/* ... its oldest record arrived then (clock_mono; 0: none) */
	int s_rebuild;			/* build from the model with a new config */
	uint64_t s_conn;		/* the subscription accepted now (0: none) */
	char s_at[300];			/* its master ("host:port") */
	int s_live;			/* ... and its snapshot was built: polling rests */
	int s_fresh;			/* the model built the last zone (nothing since) and
					   matches its events: a reload rebuilds from it,
					   stream or no stream */
	struct timespec s_poll_after;	/* no poll before (a stream gets its chance) */
	time_t s_dumped;		/* the model last went to stateCacheFile */

	/* for lib/metrics (loop thread only) */
	struct timespec fetch_t0;	/* the transfer under way started */
	struct timespec job_t0;		/* the job under way was handed over */
	char last_leader[300];		/* master whose state was loaded last */
};

static void cycle_next_master(struct refresher *r);
static void fetch_host(struct refresher *r, const char *hostport);
static void start_cycle(struct refresher *r);
static void start_rebuild(struct refresher *r);
static int stream_model_job(struct build_job *job, struct mesos_state **st);
static int stream_holds_poll(struct refresher *r);
static int stream_rebuild(struct refresher *r);
static void stream_job_done(struct refresher *r, struct build_job *job);

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

/*
 * Parse a stateFile a chunk at a time (lib/statesax.h) instead of reading it
 * whole: a 100,000-task state is 180 MB of text, and every build would
 * fault that much fresh memory in (most of a rebuild's page faults) only to
 * give it back.  Same errors as read_file + state_parse.
 */
#define STATE_CHUNK (1024 * 1024)

static int parse_file(const char *path, struct mesos_state **st, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t total = 0;
	char *buf;
	int rc = 0;

	*st = NULL;
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "stateFile %s: %s", path, strerror(e));
		return -e;
	}
	struct statesax *sx = statesax_begin();
	if (!(buf = malloc(STATE_CHUNK)) || !sx) {
		free(buf);
		if (sx)
			statesax_end(sx, st, err, errlen);
		close(fd);
		snprintf(err, errlen, "out of memory");
		return MDNS_ENOMEM;
	}
	for (;;) {
		ssize_t got = read(fd, buf, STATE_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "stateFile %s: read error: %s", path, strerror(errno));
			rc = MDNS_EINVAL;
			break;
		}
		if (got == 0)
			break;
		total += (size_t)got;
		if (total > FETCH_MAX_BYTES) {
			snprintf(err, errlen, "stateFile %s: larger than %u bytes", path, FETCH_MAX_BYTES);
			rc = MDNS_ETOOBIG;
			break;
		}
		if (statesax_feed(sx, buf, (size_t)got) != 0)
			break;	/* statesax_end says what */
	}
	free(buf);
	close(fd);
	if (rc) {
		struct mesos_state *drop;
		char ignored[8];
		statesax_end(sx, &drop, ignored, sizeof(ignored));
		return rc;
	}
	return statesax_end(sx, st, err, errlen);
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

/*
 * The reverse zones (reverseZones) from the PTR names records_build offered,
 * handed to the main zone so both are published as one snapshot.  Each
 * continues the same zone of the one published now (serial, IXFR history).
 */
static int build_reverse(const struct config *cfg, const struct zone_params *zp,
			 struct reverse_ptrs *ptrs, struct build_job *job, uint32_t now)
{
	int is_auto = strcmp(cfg->reverse_zones.v[0], "auto") == 0;
	struct reverse_config rvc = {
		.params = zp,
		.zones = (const char *const *)cfg->reverse_zones.v,
		.nzones = is_auto ? 0 : cfg->reverse_zones.n,
		.auto_zones = is_auto,
	};
	struct reverse_stats rs;
	struct zone **rev;
	size_t nrev;
	int rc = reverse_build(&rvc, ptrs, job->prev, now, &rev, &nrev, &rs);

	if (rc != 0)
		return rc;
	zone_set_reverse(job->zone, rev, nrev);
	if (rs.zones_dropped)
		log_warn("state: reverseZones auto: %zu zones beyond the first %d left out",
			 rs.zones_dropped, REVERSE_AUTO_MAX);
	log_debug("state: %zu reverse zones, %zu PTR records, %zu addresses outside them", nrev,
		  rs.ptrs, rs.unplaced);
	return 0;
}

static void built_clear(struct built_from *bf)
{
	config_release(bf->cfg);
	hplist_clear(&bf->masters);
	free(bf->asked);
	free(bf->ns.v);
	memset(bf, 0, sizeof(*bf));
}

static int iplist_same(const struct iplist *a, const struct iplist *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!ipaddr_equal(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

static int hplist_same(const struct hplist *a, const struct hplist *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/*
 * 1 when job, given the state bf says was built last (same_source, or a
 * model of the same fingerprint), would build that zone again: the same
 * config, masters, host asked and listener addresses, no host name due to
 * be resolved again, and the published zone still the one that build gave.
 * ns: the listener's addresses now.
 */
static int built_same(const struct built_from *bf, const struct build_job *job,
		      const struct hostcache *hc, const struct iplist *ns)
{
	const char *asked = job->asked_host ? job->asked_host : "";

	return bf->valid && job->cfg == bf->cfg && job->prev &&
	       job->prev->loaded && job->prev->serial == bf->serial &&
	       hplist_same(&job->masters, &bf->masters) &&
	       strcmp(asked, bf->asked ? bf->asked : "") == 0 && iplist_same(ns, &bf->ns) &&
	       !hostcache_due(hc);
}

/* A job with a polled or stateFile state (not stateCacheFile, a rebuild or
 * the stream): what built_from remembers, and what may be found the same. */
static int from_source(const struct build_job *job)
{
	return !job->from_cache && !job->rebuild && !job->model;
}

/* Remember what job, which built a zone from the polled or file state st, was built from. */
static void built_set(struct built_from *bf, const struct build_job *job,
		      const struct mesos_state *st, struct iplist *ns)
{
	built_clear(bf);
	bf->cfg = config_hold(job->cfg);
	bf->fingerprint = st->fingerprint;
	bf->serial = job->zone->serial;
	bf->rstats = job->rstats;
	bf->ns = *ns;	/* taken over */
	memset(ns, 0, sizeof(*ns));
	bf->valid = hplist_copy(&bf->masters, &job->masters) == 0 &&
		    (!job->asked_host || (bf->asked = strdup(job->asked_host)) != NULL);
}

/* Answer job from bf: the zone it would build is the one published. */
static void skip_job(const struct built_from *bf, struct build_job *job, enum metrics_skip why,
		     const char *what)
{
	job->status = JOB_OK;
	job->skipped = 1;
	job->skip_why = why;
	job->rstats = bf->rstats;
	log_debug("state: %s, nothing else changed: the zone of serial %u stands, no rebuild",
		  what, bf->serial);
}

/* Write job's body to stateCacheFile unless it is the one written last: told
 * by the body's hash, taken once when it came (or was dumped). */
static void cache_state(const struct config *cfg, struct build_job *job,
			XXH128_hash_t *cache_hash)
{
	char werr[600];

	if (job->reset_cache)
		memset(cache_hash, 0, sizeof(*cache_hash));
	job->reset_cache = 0;	/* consumed */
	if (XXH128_isEqual(job->body_hash, *cache_hash))
		return;
	if (write_cache(cfg->state_cache_file, job->body, job->len, werr, sizeof(werr)) == 0) {
		*cache_hash = job->body_hash;
		log_debug("state: cached %zu bytes in %s", job->len, cfg->state_cache_file);
	} else {
		log_warn("state: cannot update stateCacheFile: %s", werr);
	}
}

/*
 * After a job: keep its state for rebuilds when it is a polled or cached
 * state that built a zone (*kept: refresher.kept), else free it.  A built
 * stateFile or stream model makes a kept state stale; a zone built from
 * anything but the model makes the model stale.
 */
static void keep_or_free(struct mesos_state **kept, struct built_from *bf,
			 struct mesos_state *st, struct build_job *job)
{
	int built = job->status == JOB_OK && job->zone;

	if (job->model) {
		statemodel_view_free(st);
		if (job->status == JOB_OK) {
			/* Rebuilds take the model now.  What the last poll was
			 * built from goes with its state: a poll that brings the
			 * same state once the stream is lost must build (and be
			 * kept), though the zone may have come out the same. */
			state_free(*kept);
			*kept = NULL;
			built_clear(bf);
		}
	} else if (st != *kept) {	/* a rebuild from the kept state: it stays */
		if (built && !job->rebuild && (job->asked_host || job->from_cache)) {
			state_free(*kept);
			*kept = st;
			job->kept = 1;
		} else {
			if (job->status == JOB_OK && job->file && !job->from_cache) {
				state_free(*kept);	/* the file is read again instead */
				*kept = NULL;
			}
			state_free(st);
		}
	}
	job->holds_kept = *kept != NULL;
	if (built && job->superseded && statemodel_subscribed(job->superseded)) {
		/* A poll took over from a lost stream (or a reload rebuilt
		 * from its state): nothing builds from the model again, and the
		 * next subscription's snapshot replaces it whole.  At 100,000
		 * tasks it held some 60 MB. */
		statemodel_reset(job->superseded);
		log_info("state: the event stream's model is dropped for the polled state; the "
			 "next subscription brings a new one");
	}
}

static void run_job(const struct config *cfg, struct hostcache *hc, XXH128_hash_t *cache_hash,
		    struct built_from *bf, struct mesos_state **kept, struct build_job *job)
{
	struct mesos_state *st = NULL;
	struct records_master *masters = NULL;
	struct iplist ns_ips = { 0 };
	char perr[400];

	job->status = JOB_FAILED;
	hostaddr_listener_ips(cfg->listener, &ns_ips);
	if (job->same_source && built_same(bf, job, hc, &ns_ips)) {
		skip_job(bf, job, METRICS_SKIP_SAME_STATE, "the same state as the last build");
		goto out;
	}
	hostcache_begin(hc);
	if (job->model) {
		if (stream_model_job(job, &st) != 0)
			goto out;
	} else if (job->use_kept) {
		if (!(st = *kept)) {
			snprintf(job->err, sizeof(job->err), "no state kept to build from");
			goto out;
		}
	} else if (!job->body && job->file && !job->from_cache) {
		/* A stateFile is parsed as it is read and never kept (keep_state). */
		if (parse_file(job->file, &st, job->err, sizeof(job->err)) != 0)
			goto out;
	} else if (!job->body && read_file("stateCacheFile", job->file, &job->body, &job->len,
					   job->err, sizeof(job->err)) != 0)
		goto out;
	if (!st && state_parse(job->body, job->len, &st, perr, sizeof(perr)) != 0) {
		snprintf(job->err, sizeof(job->err), "%s", perr);
		goto out;
	}
	if (leader_elsewhere(st, job->asked_host, hc)) {
		job->status = JOB_LEADER_ELSEWHERE;
		snprintf(job->leader_host, sizeof(job->leader_host), "%s", st->leader.host);
		goto out;
	}
	if (from_source(job) && st->fingerprint && st->fingerprint == bf->fingerprint &&
	    built_same(bf, job, hc, &ns_ips)) {
		skip_job(bf, job, METRICS_SKIP_SAME_MODEL,
			 "the state differs from the last build's only where the zone does not look");
		goto out;
	}

	/*
	 * A polled state (or a stream job's dump) to be built is worth
	 * starting from next time: cache it now, and let the text go before
	 * the build's memory peak (at 100,000 tasks 180 MB of it; the model
	 * is what is kept).  Only running out of memory can fail the build
	 * from here.
	 */
	if (job->asked_host && job->body && cfg->state_cache_file[0])
		cache_state(cfg, job, cache_hash);
	free(job->body);
	job->body = NULL;

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
	if (b)
		(void)zone_builder_expect(b, job->prev);	/* a hint: grows as needed if it fails */
	uint32_t now = (uint32_t)time(NULL);
	/* This process's first zone goes above what the secondaries hold (see
	 * notifier_probe): "now" may be at or below a serial a previous run
	 * gave out. */
	if (job->serial_floor && (!job->prev || !job->prev->loaded) &&
	    (int32_t)(job->serial_floor + 1 - now) > 0)
		now = job->serial_floor + 1;
	if (cfg->reverse_zones.n && !(rc.ptrs = reverse_ptrs_new()))
		b = (zone_builder_free(b), NULL);
	if (!b || !masters || records_build(b, st, &rc, &job->rstats) != 0) {
		zone_builder_free(b);
		reverse_ptrs_free(rc.ptrs);
		snprintf(job->err, sizeof(job->err), "zone build failed: out of memory");
		goto out;
	}
	job->zone = zone_builder_finish(b, job->prev, now);
	if (job->zone && rc.ptrs && build_reverse(cfg, &zp, rc.ptrs, job, now) != 0) {
		zone_free(job->zone);
		job->zone = NULL;
	}
	reverse_ptrs_free(rc.ptrs);
	if (!job->zone) {
		snprintf(job->err, sizeof(job->err), "zone build failed: out of memory");
		goto out;
	}
	if (job->zone->over_rrset_max)
		log_warn("state: %zu records left out: an RRset holds at most %d records",
			 job->zone->over_rrset_max, ZONE_RRSET_MAX);
	if (job->zone->held_back)
		log_debug("state: healthAware: %zu unhealthy tasks, %zu records left out",
			  job->rstats.tasks_unhealthy, job->zone->held_back);
	job->status = JOB_OK;
	hostcache_prune(hc);	/* the names this zone needed, for hostcache_due */
	/* What the next refresh may find the same. */
	if (from_source(job))
		built_set(bf, job, st, &ns_ips);

out:
	free(ns_ips.v);
	free(masters);
	keep_or_free(kept, bf, st, job);
	free(job->body);	/* a job that stopped early; the model is what is kept */
	job->body = NULL;
}

/*
 * Rebuilds yield to answering.  The builder runs a full rebuild (a polled
 * or file state) SCHED_IDLE: where it shares a core with a DNS worker (one
 * CPU, or a daemon pinned to one), every query's wake-up preempts it at once.
 * At SCHED_BATCH a woken worker could wait out the builder's time slice: a
 * 100,000-task rebuild under 50,000 q/s on one core put p99 at 4 x idle
 * (SCHED_IDLE: below idle).  It still gets every cycle the workers leave,
 * and so that a core kept busy by others cannot starve it, a job that got
 * under a tenth of a CPU in a second (a starved SCHED_IDLE thread gets
 * ~0.3%) is raised to SCHED_BATCH, its fair share, until done (boost_cb).
 * Stream updates, whose point is freshness, run SCHED_BATCH: at SCHED_IDLE
 * a busy client pushed the stream's event-to-answer median at 10,000 tasks
 * from ~110 to 246 ms (nice 10, tried first, gave 140 ms and p99 470 ms).  Leaving SCHED_IDLE
 * takes root, CAP_SYS_NICE or RLIMIT_NICE >= 20 (the systemd unit sets
 * LimitNICE=+0); without them the builder stays SCHED_BATCH.
 */
#define BOOST_CHECK_S 1.0
#define BOOST_MIN_SHARE 0.1

static int set_policy(pthread_t t, int policy)
{
	struct sched_param sp = { .sched_priority = 0 };

	return pthread_setschedparam(t, policy, &sp);
}

/*
 * SCHED_IDLE only where the way back is open (see above): from SCHED_IDLE
 * an unprivileged thread could not even return to SCHED_BATCH.  Asked at
 * each job, not when the thread starts: the daemon builds the refresher as
 * root and may then switch users (-user), which closes that way.
 */
static int builder_can_idle(void)
{
	struct rlimit rl;

	return geteuid() == 0 || (getrlimit(RLIMIT_NICE, &rl) == 0 && rl.rlim_cur >= 20);
}

static void *builder_main(void *arg)
{
	struct refresher *r = arg;
	int said = -1;

	pthread_setname_np(pthread_self(), "zone-builder");	/* for top -H, ps -L */
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->job && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->quit)
			break;
		struct build_job *job = r->job, **tail;
		r->job = job->qnext;
		job->qnext = NULL;
		r->job_active = 1;
		int idle = builder_can_idle();
		/* Stream updates are about freshness: fair share for them. */
		int policy = idle && !job->model && !r->boosted ? SCHED_IDLE : SCHED_BATCH;
		r->job_idle = policy == SCHED_IDLE;
		pthread_mutex_unlock(&r->mu);
		int rc = set_policy(pthread_self(), policy);
		if (rc != 0 || said != idle) {
			log_debug("state: zone builder runs full rebuilds %s (%s)",
				  rc ? "unchanged" : idle ? "SCHED_IDLE" : "SCHED_BATCH",
				  rc ? strerror(rc) : idle ? "raised to SCHED_BATCH when starved" :
				  "no leave to return from SCHED_IDLE: LimitNICE=+0 or root gives it");
			said = idle;
		}
		job->serial_floor = r->serial_floor;
		run_job(job->cfg, r->hosts, &r->cache_hash, &r->built, &r->kept, job);
		/* The parser's many small blocks and the build's scratch are free
		 * now: hand their pages back so steady memory is the zone, not
		 * the last job's peak.  That includes a stream job that built a
		 * zone: it builds the whole zone, and without the trim a
		 * 100,000-task stream daemon stayed at 740 MB instead of 300,
		 * for no CPU saved (~1.05 CPU-s a build either way).  Events
		 * that built nothing freed next to nothing, unless the model was
		 * emptied for a mismatch. */
		if (!job->model || job->status == JOB_OK || job->eff.subscribed || job->model_rc)
			malloc_trim(0);
		pthread_mutex_lock(&r->mu);
		r->job_active = 0;
		r->boosted = 0;
		for (tail = &r->done; *tail; tail = &(*tail)->qnext)
			;
		*tail = job;
		event_active(r->job_done, 0, 0);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* The builder thread's CPU time in seconds (0 if it cannot be read). */
static double builder_cpu(const struct refresher *r)
{
	clockid_t id;
	struct timespec ts;

	if (pthread_getcpuclockid(r->thread, &id) != 0 || clock_gettime(id, &ts) != 0)
		return 0;
	return clock_sec(&ts);
}

/* Every BOOST_CHECK_S while a job is pending: a SCHED_IDLE job that got
 * less than BOOST_MIN_SHARE of a CPU since the last check is being starved
 * by busy threads or processes; give the builder its fair share back until
 * the job is done (see builder_main). */
static void boost_cb(evutil_socket_t fd, short what, void *arg)
{
	struct refresher *r = arg;
	double cpu = builder_cpu(r);
	(void)fd; (void)what;

	pthread_mutex_lock(&r->mu);
	int pending = r->job_active ? r->job_idle : r->job != NULL;
	if (pending && !r->boosted && cpu - r->boost_cpu < BOOST_MIN_SHARE * BOOST_CHECK_S) {
		int rc = set_policy(r->thread, SCHED_BATCH);
		if (rc == 0) {
			r->boosted = 1;
			log_info("state: the zone build got under %.0f%% of a CPU for %.0f s; it "
				 "now runs at normal share (SCHED_BATCH) until done",
				 BOOST_MIN_SHARE * 100, BOOST_CHECK_S);
		} else {
			log_warn("state: cannot raise the zone builder: %s", strerror(rc));
		}
	}
	pthread_mutex_unlock(&r->mu);
	r->boost_cpu = cpu;
	if (pending) {
		struct timeval tv = clock_tv(BOOST_CHECK_S);
		evtimer_add(r->boost_ev, &tv);
	}
}

/* ---- control loop ---------------------------------------------------- */

static void job_free(struct build_job *job)
{
	if (!job)
		return;
	stream_record_free(job->records);
	free(job->leader);
	free(job->body);
	config_release(job->cfg);
	free(job->asked_host);
	hplist_clear(&job->masters);
	zone_free(job->zone);
	free(job);
}

/* Hand job to the builder thread; jobs run in the order they are queued. */
static void queue_job(struct refresher *r, struct build_job *job)
{
	struct build_job **tail;

	if (!job->model)
		job->superseded = r->model;	/* NULL when polling */
	pthread_mutex_lock(&r->mu);
	for (tail = &r->job; *tail; tail = &(*tail)->qnext)
		;
	*tail = job;
	pthread_cond_signal(&r->cv);
	if (builder_can_idle() && r->boost_ev && !evtimer_pending(r->boost_ev, NULL)) {
		struct timeval tv = clock_tv(BOOST_CHECK_S);
		r->boost_cpu = builder_cpu(r);
		evtimer_add(r->boost_ev, &tv);
	}
	pthread_mutex_unlock(&r->mu);
}

/*
 * Stat the stateFile into *st; 1 when it had then been left alone for two
 * seconds.  A file that is the same as the last one built by device, inode,
 * size, mtime and ctime is then unchanged: a write in the same tick of the
 * timestamps' clock as the one before could leave them all equal, not one
 * two seconds later (and ctime moves on any write, whatever mtime is set to).
 * This is how NSD and Knot tell that a zone file needs no reload.
 */
static int file_settled(const char *path, struct stat *st)
{
	struct timespec now;

	if (stat(path, st) != 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec - st->st_mtim.tv_sec >= 2 && now.tv_sec - st->st_ctim.tv_sec >= 2;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
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
	job->cfg = config_hold(r->cfg);
	job->reset_cache = r->cache_reset;
	r->cache_reset = 0;
	job->body = body;
	job->len = len;
	job->file = file;
	job->from_cache = from_cache;
	job->asked_host = asked ? strdup(asked) : NULL;
	job->prev = zonepub_current();
	/*
	 * The same state as the one the last zone was built from?  The builder
	 * decides whether anything else moved (built_same).  A polled body is
	 * told by its 128-bit XXH3, seeded at random per process (as the
	 * parser's fingerprint), not kept to compare byte for byte: ~10 ms for
	 * a 100,000-task body, whose build costs 1.5-2 CPU seconds.
	 */
	if (body && asked) {
		job->body_hash = XXH3_128bits_withSeed(body, len, statesax_seed());
		job->same_source = r->last_hash_ok && len == r->last_hash_len &&
				   XXH128_isEqual(job->body_hash, r->last_hash);
	} else if (file && !from_cache)
		job->same_source = (job->fst_ok = file_settled(file, &job->fst)) && r->last_fst_ok &&
				   same_file(&job->fst, &r->last_fst);
	clock_gettime(CLOCK_MONOTONIC, &r->job_t0);
	queue_job(r, job);
}

static void notify_cycle(struct refresher *r)
{
	if (r->on_cycle)
		r->on_cycle(r->on_cycle_ctx);
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
	notify_cycle(r);
	/* A reload came while this cycle built with the config before it. */
	if (r->rebuild_pending)
		start_rebuild(r);
}

/*
 * Remember what a job that built a zone was built from, for rebuilds after
 * a reload and to tell the next refresh's state the same (submit_job).
 * - A stateFile: its stat; the file is there to read again (a rebuild reads
 *   it as it is then).
 * - A polled or cached state: the builder kept its model (job->kept); here
 *   only the hash of a polled body, also of one found the same (skipped).
 *   The text is not kept: a 100,000-task state is 180 MB of it, against
 *   63 MB of model.
 * - A stream job: nothing; the model, which the loop owns, is the state
 *   (s_fresh), live stream or not.  Its events since the last dump to
 *   stateCacheFile are in it, and none of its text is held.
 */
static void keep_state(struct refresher *r, struct build_job *job)
{
	r->s_fresh = job->model != NULL;
	if (job->file && !job->from_cache) {
		r->last_fst = job->fst;
		r->last_fst_ok = job->fst_ok;
		r->last_hash_ok = 0;
		if (job->cfg == r->cfg)
			r->rebuild_pending = 0;
		return;
	}
	if (job->skipped && job->asked_host && !job->from_cache) {
		/* Its model is the kept one's (or its body the same): its hash
		 * stands for it, so the same body again is not even parsed. */
		r->last_hash = job->body_hash;
		r->last_hash_len = job->len;
		r->last_hash_ok = 1;
	} else if (job->kept) {
		r->last_hash = job->body_hash;
		r->last_hash_len = job->len;
		r->last_hash_ok = job->asked_host && !job->from_cache;
	} else if (job->model) {
		r->last_hash_ok = 0;
	} else {
		return;
	}
	hplist_clear(&r->last_masters);
	r->last_masters = job->masters;
	memset(&job->masters, 0, sizeof(job->masters));
	/* This zone already follows the current config. */
	if (job->cfg == r->cfg)
		r->rebuild_pending = 0;
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

/*
 * Publish z and NOTIFY the secondaries of each zone (main or reverse) whose
 * serial is new.  Which ones is decided before the swap: the old snapshot is
 * freed by zonepub_publish.
 */
static void publish_zone(struct refresher *r, struct zone *z)
{
	const struct zone *old = zonepub_current();
	size_t n = 0, cap = 1 + z->nrev;
	const struct zone **fresh = r->notifier ? calloc(cap, sizeof(*fresh)) : NULL;

	for (size_t i = 0; fresh && i < cap; i++) {
		const struct zone *nz = i == 0 ? z : z->rev[i - 1];
		const struct zone *oz = !old || !old->loaded ? NULL
					: i == 0 ? old : zone_reverse_of(old, nz->apex, nz->apexlen);
		if (!oz || oz->serial != nz->serial)
			fresh[n++] = nz;
	}
	zonepub_publish(z);
	for (size_t i = 0; i < n; i++)
		notifier_send(r->notifier, fresh[i]);
	free(fresh);
}

/*
 * A zone of the same records as the running one is not published (each
 * publish empties every worker's reply cache), unless what only
 * /v1/enumerate shows moved: the state's spelling of framework and task
 * names, which records use cut to labels and lower-cased ("Marathon" after
 * "marathon").  Then it is swapped in quietly: the same serials, no NOTIFY,
 * not a zone change.  Takes job->zone when it does.
 */
static void publish_names(struct build_job *job, const struct zone *old)
{
	if (job->zone && old && !zone_meta_same(old->meta, job->zone->meta)) {
		log_info("state: framework or task names changed, not the records: /v1/enumerate "
			 "updated, serial %u kept", job->zone->serial);
		zonepub_publish(job->zone);
		job->zone = NULL;
	}
}

static void publish(struct refresher *r, struct build_job *job, const char *source)
{
	const struct zone *old = zonepub_current();
	/* A skipped job built nothing: the zone it would have built stands. */
	int changed = !job->skipped && zone_set_changed(old, job->zone);
	const struct zone *z = job->skipped ? old : job->zone;

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
		publish_zone(r, job->zone);
		job->zone = NULL;
	} else if (!job->skipped) {
		publish_names(job, old);
	}
}

/* The state of stateCacheFile was built (or not): go on with a real fetch. */
static void cache_job_done(struct refresher *r, struct build_job *job)
{
	char src[600];

	if (job->status == JOB_OK) {
		snprintf(src, sizeof(src), "stateCacheFile %s", job->file);
		publish(r, job, src);
		keep_state(r, job);
		r->stale = 1;
		r->stats.stale = 1;
		log_info("state: answering from the cached state of %s, marked stale until a "
			 "master answers", job->file);
	} else {
		log_warn("state: cannot use the cached state: %s", job->err);
	}
	notify_cycle(r);
	start_cycle(r);
}

/*
 * Publish the zone a rebuild for a new config built (from: what it was built
 * from, for the log).  Not a fetch: the zone is neither refreshed nor
 * fresher, so only the zone counter moves.
 */
static void publish_rebuild(struct refresher *r, struct build_job *job, const char *from)
{
	struct zone *z = job->zone;
	int changed = zone_set_changed(zonepub_current(), z);
	size_t nrecords = z->nrecords;
	uint32_t serial = z->serial;

	if (changed) {
		r->stats.zone_changes++;
		job->zone = NULL;
		publish_zone(r, z);
	} else {
		publish_names(job, zonepub_current());
	}
	/* Logged once served, so the line tells that answers follow it. */
	log_info("state: zone rebuilt from the last state%s for the new configuration: "
		 "%zu records, serial %u%s", from, nrecords, serial, changed ? "" : " (unchanged)");
}

/* A rebuild from the last state (after a reload) ended. */
static void rebuild_done(struct refresher *r, struct build_job *job)
{
	if (job->status == JOB_OK) {
		publish_rebuild(r, job, "");
		if (job->cfg == r->cfg)
			r->rebuild_pending = 0;
	} else {
		log_warn("state: cannot rebuild the zone for the new configuration, keeping "
			 "the running zone until the next refresh: %s", job->err);
		r->rebuild_pending = 0;
	}
	r->running = 0;
	notify_cycle(r);
	if (r->rebuild_pending) {
		start_rebuild(r);
	} else if (r->pending) {
		struct timeval now = { 0, 0 };
		r->pending = 0;
		evtimer_add(r->timer, &now);
	}
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
		if (job->skipped)
			metrics_zone_build_skipped(job->skip_why);
		else
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
	if (job) {
		r->done = job->qnext;
		job->qnext = NULL;
		if (r->done)	/* one at a time: come back for the next */
			event_active(r->job_done, 0, 0);
	}
	pthread_mutex_unlock(&r->mu);
	if (!job)
		return;
	r->has_kept = job->holds_kept;
	if (job->model) {
		stream_job_done(r, job);
		job_free(job);
		return;
	}
	if (job->reset_cache)
		r->cache_reset = 1;	/* no cache write was tried: the next job tries */
	if (job->rebuild) {
		rebuild_done(r, job);
		job_free(job);
		return;
	}
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
		keep_state(r, job);
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
	if (stream_holds_poll(r))
		return;
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
	struct refresher *r = arg;
	(void)fd; (void)what;

	/* A job under way, or start_now still to come: refresh after it. */
	if (r->running || !r->started) {
		r->pending = 1;
		return;
	}
	start_cycle(r);
}

/*
 * Build the zone again from the last state with the current config, so a
 * reload shows at once instead of at the next refresh.  Without a loaded
 * state, an empty zone with the new parameters (domain, SOA...) replaces
 * the empty one.  While a job runs, the rebuild waits for its end.
 */
static void start_rebuild(struct refresher *r)
{
	const struct zone *cur = zonepub_current();

	if (stream_rebuild(r))
		return;
	if (r->running) {
		r->rebuild_pending = 1;
		return;
	}
	r->rebuild_pending = 0;
	int from_file = r->cfg->state_file[0] && cur && cur->loaded;
	if (!r->has_kept && !from_file) {
		if (!cur || !cur->loaded) {
			struct zone_params zp;
			zonecfg_params(r->cfg, &zp);
			struct zone *z = zone_new_unloaded(&zp);
			if (z)
				zonepub_publish(z);
			else
				log_warn("state: cannot set up the zone for domain %s", r->cfg->domain);
		} else {
			/* A stream model that stopped matching its events (it
			 * waits for a new snapshot) and nothing polled since. */
			log_info("state: no state to rebuild the zone from; the new configuration "
				 "applies with the next state");
		}
		return;
	}
	struct build_job *job = calloc(1, sizeof(*job));
	if (!job || hplist_copy(&job->masters, &r->last_masters) != 0) {
		log_err("state: out of memory");
		abort();
	}
	job->cfg = config_hold(r->cfg);
	if (from_file)
		job->file = job->cfg->state_file;
	else
		job->use_kept = 1;
	job->rebuild = 1;
	job->prev = cur;
	r->running = 1;
	queue_job(r, job);
}

/* ---- stateSource "stream" ------------------------------------------------ */

/*
 * The streamer (lib/stream.c) hands records over on the loop; they wait in
 * r->s_head until the builder is free, then go as one job that applies them
 * to the model (builder thread) and builds the zone from it.  One stream job
 * at a time and at most one hand-over per STREAM_COALESCE_MS: a burst of
 * events costs one build, and an event is answered within that period plus
 * one build.  Polling rests while a subscription delivers; it starts again
 * (after a grace) when the stream is lost, at once when the master has no
 * operator API.  Poll and stream jobs never share the builder: one waits for
 * the other, so each zone continues the one published before it.
 */

#define STREAM_COALESCE_MS	50
#define STREAM_GRACE_MAX_S	5	/* polls wait this long (at most refreshSeconds) for a stream */
#define STREAM_RETRY_MS		10	/* a stream job waits for a poll job this often */

static int stream_enabled(const struct refresher *r)
{
	return r->streamer != NULL;
}

static double stream_grace(const struct refresher *r)
{
	return r->cfg->refresh_seconds < STREAM_GRACE_MAX_S ? r->cfg->refresh_seconds :
	       STREAM_GRACE_MAX_S;
}

/* Polls wait from now for the grace period. */
static void stream_poll_later(struct refresher *r)
{
	double at = clock_mono() + stream_grace(r);

	r->s_poll_after.tv_sec = (time_t)at;
	r->s_poll_after.tv_nsec = (long)((at - (double)(time_t)at) * 1e9);
}

/* The masters of the moment, in order: ZooKeeper's (leader first), then the config's. */
static void masters_now(struct refresher *r, struct hplist *l)
{
	struct zk_master *zm = NULL;
	size_t nzm = 0;

	memset(l, 0, sizeof(*l));
	if (r->zk && zk_masters(r->zk, &zm, &nzm) != 0)
		abort();
	for (size_t i = 0; i < nzm; i++)
		if (hplist_add(l, zm[i].hostport) != 0)
			abort();
	free(zm);
	for (size_t i = 0; i < r->cfg->masters.n; i++)
		if (hplist_add(l, r->cfg->masters.v[i]) != 0)
			abort();
}

/*
 * start_cycle asks first: 1 when no poll is due because a stream delivers
 * (or builds, or still has its grace).  The cycle that called is over then.
 */
static int stream_holds_poll(struct refresher *r)
{
	double wait;
	struct timeval tv;

	if (!stream_enabled(r))
		return 0;
	wait = clock_sec(&r->s_poll_after) - clock_mono();
	if (!r->s_live && !r->s_conn && !r->s_inflight && wait <= 0)
		return 0;
	r->running = 0;
	/* A live or accepted subscription re-arms the timer when it goes (stream_down). */
	if (!r->s_live && !r->s_conn) {
		tv = clock_tv(wait > 0 ? wait : STREAM_RETRY_MS * 10 / 1000.0);
		evtimer_add(r->timer, &tv);
	}
	return 1;
}

/* Builder thread: apply the job's records, then view the model for records_build. */
static int stream_model_job(struct build_job *job, struct mesos_state **st)
{
	char err[400] = "";
	int rc = 0;

	if (job->leader && statemodel_set_leader(job->model, job->leader) != 0)
		log_warn("stream: cannot use %s as the leader's address", job->leader);
	for (struct stream_record *rec = job->records; rec; rec = rec->next) {
		if (job->model_rc && rec->conn == job->conn)
			continue;	/* follows an event the model could not apply */
		rc = statemodel_apply(job->model, rec->kind, rec->text, rec->len, &job->eff, err,
				      sizeof(err));
		if (rc) {
			/* The model no longer matches the master: nothing may be
			 * built from it, nor from this connection's later events,
			 * until a SUBSCRIBED replaces it (a newer connection's may
			 * follow in this very job). */
			statemodel_reset(job->model);
			job->model_rc = rc;
			job->conn = rec->conn;
			snprintf(job->err, sizeof(job->err), "%s", err);
		}
	}
	/* A snapshot's text can be hundreds of MB: give it back before building. */
	stream_record_free(job->records);
	job->records = NULL;
	if (!statemodel_subscribed(job->model)) {
		if (job->model_rc)
			return job->model_rc;
		snprintf(job->err, sizeof(job->err), "no snapshot yet");
		return MDNS_EAGAIN;
	}
	if (!job->eff.changed && !job->force) {
		/* Heartbeats, tasks staging or starting: the zone would come out the same. */
		job->unchanged = 1;
		return MDNS_EAGAIN;
	}
	if (job->dump && !(job->body = statemodel_dump(job->model, &job->len)))
		log_warn("stream: out of memory writing the state for stateCacheFile");
	else if (job->dump)
		job->body_hash = XXH3_128bits_withSeed(job->body, job->len, statesax_seed());
	rc = statemodel_view(job->model, st);
	if (rc)
		snprintf(job->err, sizeof(job->err), "out of memory");
	return rc;
}

/* Hand the waiting records (or a rebuild) to the builder, when it is the time. */
static void stream_flush(struct refresher *r)
{
	struct timeval tv;
	double since_last;
	struct build_job *job;
	time_t now = time(NULL);

	if (r->s_inflight || (!r->s_head && !r->s_rebuild))
		return;
	if (!r->s_head && !r->s_live && !r->s_fresh) {
		/* The model did not build the last zone (a poll since the stream
		 * was lost, or the job the reload waited for failed): rebuild
		 * from the state that did. */
		r->s_rebuild = 0;
		start_rebuild(r);
		return;
	}
	if (r->running && r->fetching && r->s_conn) {
		/* The stream delivers: the poll under way is moot. */
		log_debug("state: the stream is up; dropping the fetch from %s", r->cur_hostport);
		fetcher_cancel_ctx(r->fetcher, r);
		r->running = 0;
		r->fetching = 0;
	}
	since_last = clock_mono() - clock_sec(&r->s_last_submit);
	if (r->running || since_last < STREAM_COALESCE_MS / 1000.0) {
		/* A poll or rebuild job is with the builder, or we handed over just now. */
		tv = clock_tv(r->running ? STREAM_RETRY_MS / 1000.0 :
			     STREAM_COALESCE_MS / 1000.0 - since_last);
		evtimer_add(r->s_flush, &tv);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		log_err("state: out of memory");
		abort();
	}
	job->cfg = config_hold(r->cfg);
	job->model = r->model;
	job->records = r->s_head;
	r->s_arrived = r->s_head ? r->s_head->arrived : 0;
	int summary = 0;
	for (struct stream_record *rec = r->s_head; rec; rec = rec->next) {
		if (rec->first)
			job->sub_conn = rec->conn;
		summary |= rec->kind == STATEMODEL_SUMMARY;
	}
	r->s_head = NULL;
	r->s_tail = &r->s_head;
	masters_now(r, &job->masters);
	if (r->s_at[0]) {
		char *host;
		uint16_t port;

		job->leader = strdup(r->s_at);
		if (hostaddr_split(r->s_at, &host, &port) == 0)
			job->asked_host = host;
	}
	/* The model goes to stateCacheFile at most once per refreshSeconds, and
	 * when framework pids arrive (just after a snapshot, the pids missing). */
	if (r->cfg->state_cache_file[0] &&
	    (now - r->s_dumped >= r->cfg->refresh_seconds || summary)) {
		job->dump = 1;
		r->s_dumped = now;
	}
	job->reset_cache = r->cache_reset;
	r->cache_reset = 0;
	job->prev = zonepub_current();
	job->force = r->s_rebuild;
	job->rebuild = !job->records;	/* a reload's, from the model alone */
	r->s_rebuild = 0;
	r->s_inflight = 1;
	if (!job->rebuild)
		r->stats.attempts++;
	clock_gettime(CLOCK_MONOTONIC, &r->s_last_submit);
	queue_job(r, job);
}

static void stream_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_flush(arg);
}

/* Arm the hand-over unless it is armed (never from a fetcher callback directly). */
static void stream_kick(struct refresher *r)
{
	struct timeval now = { 0, 0 };

	if (!evtimer_pending(r->s_flush, NULL))
		evtimer_add(r->s_flush, &now);
}

/*
 * A reload wants the zone built again: from the model, when a stream is live
 * or the model built the zone last (the stream gone, nothing polled since).
 * While a stream job is with the builder, after it: it builds with the old
 * config, and it holds the published zone (job->prev), which a rebuild from
 * elsewhere could replace (an unloaded zone is freed at once).  stream_flush
 * then rebuilds from the model, or from elsewhere if the job built nothing.
 */
static int stream_rebuild(struct refresher *r)
{
	if (!stream_enabled(r) || !(r->s_live || r->s_fresh || r->s_inflight))
		return 0;
	r->rebuild_pending = 0;
	r->s_rebuild = 1;
	stream_kick(r);
	return 1;
}

/* Drop the waiting records that came on connection conn: its events follow
 * one the model could not apply (the builder reset it). */
static void stream_drop_conn(struct refresher *r, uint64_t conn)
{
	struct stream_record **p = &r->s_head;
	size_t n = 0;

	while (*p) {
		struct stream_record *rec = *p;
		if (rec->conn == conn) {
			*p = rec->next;
			rec->next = NULL;
			stream_record_free(rec);
			n++;
		} else {
			p = &rec->next;
		}
	}
	r->s_tail = p;
	if (n)
		log_debug("stream: %zu records of connection %llu dropped: they follow one the "
			  "model could not apply", n, (unsigned long long)conn);
}

/* Loop: a stream job came back from the builder. */
static void stream_job_done(struct refresher *r, struct build_job *job)
{
	const struct zone *old = zonepub_current();
	struct zone *z = job->zone;

	r->s_inflight = 0;
	if (job->model_rc) {	/* the builder skipped the rest of them */
		stream_drop_conn(r, job->conn);
		if (job->status == JOB_OK)	/* a newer connection's snapshot came after */
			log_warn("stream: the events of an older connection no longer matched the "
				 "model (%s); the snapshot after them replaced it", job->err);
	}
	if (job->status == JOB_OK && job->rebuild) {
		publish_rebuild(r, job, " (the event stream's model)");
		keep_state(r, job);
	} else if (job->status == JOB_OK) {
		int changed = zone_set_changed(old, z);

		metrics_zone_build(clock_mono() - clock_sec(&r->s_last_submit));
		r->stats.successes++;
		r->stats.last_success = time(NULL);
		if (changed)
			r->stats.zone_changes++;
		if (job->eff.subscribed)
			log_info("state: loaded from the event stream of %s: %zu tasks, %zu records, "
				 "serial %u%s", job->leader ? job->leader : "?", job->rstats.tasks,
				 z->nrecords, z->serial, changed ? "" : " (unchanged)");
		else
			log_debug("state: %u stream events: %zu tasks, %zu records, serial %u%s",
				  job->eff.events, job->rstats.tasks, z->nrecords, z->serial,
				  changed ? "" : " (unchanged)");
		if (r->stale) {
			r->stale = 0;
			r->stats.stale = 0;
			log_info("state: the event stream replaces the cached state");
		}
		if (changed) {
			job->zone = NULL;
			publish_zone(r, z);
			if (r->s_arrived > 0)	/* not a rebuild for a new config */
				metrics_stream_publish_delay(clock_mono() - r->s_arrived);
		} else {
			publish_names(job, old);
		}
		keep_state(r, job);	/* the model is the state now */
		if (job->eff.subscribed && job->sub_conn && job->sub_conn == r->s_conn) {
			r->s_live = 1;
			evtimer_del(r->timer);
			if (r->running && r->fetching) {
				fetcher_cancel_ctx(r->fetcher, r);
				r->running = 0;
				r->fetching = 0;
			}
			stream_set_heartbeat(r->streamer, r->s_conn, job->eff.heartbeat);
		}
		if (job->eff.frameworks)
			stream_fetch_summary(r->streamer);
	} else if (job->unchanged) {
		r->stats.last_success = time(NULL);
		if (job->dump)
			r->s_dumped = 0;	/* the next build writes the cache */
		log_debug("state: %u stream events, none changing records", job->eff.events);
	} else if (job->model_rc) {
		r->s_fresh = 0;	/* until the next snapshot: no rebuild from it */
		log_warn("stream: the events no longer match the model (%s)", job->err);
		if (job->conn == r->s_conn)
			stream_resubscribe(r->streamer, "the model needs a new snapshot");
	} else if (job->err[0]) {
		log_warn("stream: cannot build the zone: %s", job->err);
	}
	notify_cycle(r);
	stream_kick(r);
}

/* ---- stream hooks (lib/stream.h); on the loop, maybe inside a fetcher callback ---- */

static int sh_masters(void *ctx, char ***v, size_t *n)
{
	struct hplist l;

	masters_now(ctx, &l);
	*v = l.v;
	*n = l.n;
	return 0;
}

static void sh_up(void *ctx, uint64_t conn, const char *master)
{
	struct refresher *r = ctx;

	r->s_conn = conn;
	snprintf(r->s_at, sizeof(r->s_at), "%s", master);
}

static void sh_record(void *ctx, struct stream_record *rec)
{
	struct refresher *r = ctx;
	struct timeval tv;
	double since_last = clock_mono() - clock_sec(&r->s_last_submit);

	*r->s_tail = rec;
	r->s_tail = &rec->next;
	if (r->s_live)
		r->stats.last_success = time(NULL);	/* the master talks: the zone is fresh */
	if (!r->s_inflight && !evtimer_pending(r->s_flush, NULL)) {
		tv = clock_tv(since_last < STREAM_COALESCE_MS / 1000.0 ?
			     STREAM_COALESCE_MS / 1000.0 - since_last : 0);
		evtimer_add(r->s_flush, &tv);
	}
}

static void sh_beat(void *ctx, uint64_t conn)
{
	struct refresher *r = ctx;

	if (conn == r->s_conn && r->s_live)
		r->stats.last_success = time(NULL);
}

static void sh_down(void *ctx, uint64_t conn, int unsupported, const char *why)
{
	struct refresher *r = ctx;
	int was_live = r->s_live;
	struct timeval tv = { 0, 0 };

	if (conn && conn != r->s_conn)
		return;
	r->s_conn = 0;
	r->s_live = 0;
	snprintf(r->errors, sizeof(r->errors), "event stream: %.400s", why);
	snprintf(r->stats.last_error, sizeof(r->stats.last_error), "event stream: %.400s", why);
	if (unsupported) {
		memset(&r->s_poll_after, 0, sizeof(r->s_poll_after));
	} else if (was_live) {
		stream_poll_later(r);
		log_info("state: no event stream; polling every %d s until one is back (first in "
			 "%.0f s)", r->cfg->refresh_seconds, stream_grace(r));
		tv = clock_tv(stream_grace(r));
	} else if (evtimer_pending(r->timer, NULL)) {
		return;	/* polls go on as planned */
	} else {
		tv = clock_tv(clock_sec(&r->s_poll_after) - clock_mono());
	}
	if (!r->running)
		evtimer_add(r->timer, &tv);
}

/* With stateSource "stream" (and no stateFile): the streamer, its model and timer. */
static int stream_setup(struct refresher *r)
{
	static const struct stream_hooks hooks = {
		.masters = sh_masters,
		.up = sh_up,
		.record = sh_record,
		.beat = sh_beat,
		.down = sh_down,
	};

	r->s_tail = &r->s_head;
	if (strcmp(r->cfg->state_source, "stream") != 0)
		return 0;
	if (r->cfg->state_file[0]) {
		log_warn("state: stateFile is set: stateSource \"stream\" does not apply");
		return 0;
	}
	r->model = statemodel_new();
	r->s_flush = evtimer_new(r->base, stream_flush_cb, r);
	r->streamer = stream_new(r->base, r->fetcher, r->cfg, &hooks, r);
	if (!r->model || !r->s_flush || !r->streamer)
		return MDNS_ENOMEM;
	log_info("state: following the masters' event stream (stateSource \"stream\")");
	return 0;
}

struct refresher *refresher_new(struct event_base *base, const struct config *cfg)
{
	struct refresher *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->base = base;
	r->cfg = config_hold(cfg);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->timer = evtimer_new(base, timer_cb, r);
	r->job_done = event_new(base, -1, 0, job_done_cb, r);
	r->boost_ev = evtimer_new(base, boost_cb, r);
	r->fetcher = fetcher_new(base, cfg);
	/* Agents' and frameworks' hostnames rarely move; ask again every 5 minutes. */
	r->hosts = hostcache_new(300);
	char nerr[300];
	if (cfg->transfer_to.n || cfg->notify.n) {
		r->notifier = notifier_new(base, cfg, nerr, sizeof(nerr));
		if (!r->notifier)
			log_err("%s", nerr);
		else
			log_info("notify: %zu secondar%s told of zone changes",
				 notifier_targets(r->notifier),
				 notifier_targets(r->notifier) == 1 ? "y" : "ies");
	}
	if (!r->timer || !r->job_done || !r->boost_ev || !r->fetcher || !r->hosts ||
	    ((cfg->transfer_to.n || cfg->notify.n) && !r->notifier) ||
	    pthread_create(&r->thread, NULL, builder_main, r) != 0) {
		if (r->timer)
			event_free(r->timer);
		if (r->job_done)
			event_free(r->job_done);
		if (r->boost_ev)
			event_free(r->boost_ev);
		fetcher_free(r->fetcher);
		hostcache_free(r->hosts);
		notifier_free(r->notifier);
		config_release(r->cfg);
		free(r);
		return NULL;
	}
	if (stream_setup(r) != 0) {
		refresher_free(r);
		return NULL;
	}
	return r;
}

void refresher_set_config(struct refresher *r, const struct config *cfg, int rebuild,
			  int refetch)
{
	const struct config *old = r->cfg;

	if (strcmp(old->state_cache_file, cfg->state_cache_file) != 0)
		r->cache_reset = 1;
	r->cfg = config_hold(cfg);
	fetcher_set_config(r->fetcher, r->cfg);
	if (r->streamer)
		stream_set_config(r->streamer, r->cfg);
	if (old->refresh_seconds != cfg->refresh_seconds && !r->running &&
	    evtimer_pending(r->timer, NULL)) {
		/* The next refresh follows the new interval, counted from now. */
		struct timeval tv = { .tv_sec = cfg->refresh_seconds };
		evtimer_add(r->timer, &tv);
	}
	config_release(old);	/* jobs under way hold their own reference */
	if (rebuild)
		start_rebuild(r);
	if (refetch)
		refresher_trigger(r);
}

void refresher_set_on_cycle(struct refresher *r, void (*cb)(void *ctx), void *ctx)
{
	r->on_cycle = cb;
	r->on_cycle_ctx = ctx;
}

void refresher_set_zk(struct refresher *r, struct zk *zk)
{
	r->zk = zk;
}

void refresher_zk_changed(void *arg)
{
	struct refresher *r = arg;
	struct zk_status zs;

	if (r->streamer) {
		stream_masters_changed(r->streamer);
		if (r->s_live)
			return;
	}
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
			fetcher_cancel_ctx(r->fetcher, r);	/* not the stream */
			r->fetching = 0;
			r->running = 0;
			start_cycle(r);
			return;
		}
	}
	refresher_trigger(r);
}

static void start_now(struct refresher *r);

/* The secondaries said which serials they hold: start. */
static void probe_done_cb(void *ctx)
{
	struct refresher *r = ctx;

	r->serial_floor = notifier_serial_floor(r->notifier);
	start_now(r);
}

void refresher_start(struct refresher *r)
{
	if (r->notifier && notifier_targets(r->notifier)) {
		/* The zones we may have served before: the domain and the listed
		 * reverse zones ("auto" zones share the domain's clock). */
		const struct strlist *rz = &r->cfg->reverse_zones;
		const char *apexes[1 + 64];
		size_t n = 0;
		apexes[n++] = r->cfg->domain;
		for (size_t i = 0; i < rz->n && n < sizeof(apexes) / sizeof(apexes[0]); i++)
			if (strcmp(rz->v[i], "auto") != 0)
				apexes[n++] = rz->v[i];
		notifier_probe(r->notifier, apexes, n, 1000, probe_done_cb, r);
		return;
	}
	start_now(r);
}

static void start_now(struct refresher *r)
{
	struct timeval now = { 0, 0 };
	const char *cache = r->cfg->state_cache_file;

	/* What was asked for while the secondaries were probed (a leader from
	 * ZooKeeper, a reload's refetch) is what the first cycle does. */
	r->started = 1;
	r->pending = 0;
	if (stream_enabled(r)) {
		stream_start(r->streamer);
		stream_poll_later(r);
	}
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
	if (r->running || !r->started) {
		r->pending = 1;
		return;
	}
	struct timeval now = { 0, 0 };
	evtimer_add(r->timer, &now);
}

void refresher_stats(const struct refresher *r, struct refresh_stats *out)
{
	*out = r->stats;
	/* A live stream is watched for silence (heartbeats): its zone is current
	 * even when the cluster has been quiet for longer than 3 x refreshSeconds. */
	if (r->s_live)
		out->last_success = time(NULL);
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
	/* Jobs handed over but never started, or finished but not collected. */
	for (struct build_job *j = r->job, *next; j; j = next) {
		next = j->qnext;
		job_free(j);
	}
	for (struct build_job *j = r->done, *next; j; j = next) {
		next = j->qnext;
		job_free(j);
	}
	stream_free(r->streamer);	/* before the fetcher it uses */
	statemodel_free(r->model);
	stream_record_free(r->s_head);
	if (r->s_flush)
		event_free(r->s_flush);
	fetcher_free(r->fetcher);
	hostcache_free(r->hosts);
	built_clear(&r->built);
	notifier_free(r->notifier);
	hplist_clear(&r->cycle_masters);
	hplist_clear(&r->last_masters);
	state_free(r->kept);
	config_release(r->cfg);
	event_free(r->timer);
	event_free(r->job_done);
	event_free(r->boost_ev);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}
