/* lib/stream.c -- follow the Mesos master's operator event stream (POST /api/v1 SUBSCRIBE). */
#include "lib/stream.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/fetch.h"
#include "lib/log.h"
#include "lib/metrics.h"

#define STREAM_PATH		"/api/v1"
#define STREAM_CALL		"{\"type\":\"SUBSCRIBE\"}"
#define STREAM_SUMMARY_PATH	"/master/state-summary"
#define STREAM_BACKOFF_MIN	0.5	/* seconds before the first retry */
#define STREAM_BACKOFF_MAX	30.0
#define STREAM_UNSUPPORTED_S	300.0	/* a master without /api/v1: ask again after 5 min */
#define STREAM_HB_MISSED	3	/* heartbeats missed before the stream counts as dead */
#define STREAM_HB_SLACK		1.0	/* seconds on top, for scheduling and transit */
#define STREAM_DEFAULT_TIMEOUT_S 300	/* stateTimeoutSeconds default */
#define STREAM_BUF_STEP		(1u << 20)	/* a record's buffer grows from 1 MiB */

/* ---- RecordIO ------------------------------------------------------------ */

void stream_framer_init(struct stream_framer *fr, size_t max_first, size_t max)
{
	memset(fr, 0, sizeof(*fr));
	fr->max_first = max_first;
	fr->max = max;
}

void stream_framer_clear(struct stream_framer *fr)
{
	free(fr->buf);
	fr->buf = NULL;
	fr->len = fr->cap = 0;
	fr->hlen = 0;
	fr->in_body = 0;
}

/* The length line is complete: check it and get ready for the record's bytes. */
static int framer_start_record(struct stream_framer *fr, char *err, size_t errlen)
{
	size_t bound = fr->records == 0 ? fr->max_first : fr->max;
	unsigned long long want = 0;

	if (fr->hlen == 0) {
		mdns_set_err(err, errlen, "RecordIO: empty length line");
		return MDNS_EPARSE;
	}
	for (size_t i = 0; i < fr->hlen; i++) {
		unsigned d = (unsigned)(fr->hdr[i] - '0');
		if (want > (~0ULL - d) / 10) {
			mdns_set_err(err, errlen, "RecordIO: record length out of range");
			return MDNS_ETOOBIG;
		}
		want = want * 10 + d;
	}
	fr->hlen = 0;
	if (want > bound) {
		mdns_set_err(err, errlen, "RecordIO: a %s record of %llu bytes is over the %zu byte limit",
			   fr->records == 0 ? "first" : "", want, bound);
		return MDNS_ETOOBIG;
	}
	if (want == 0)
		return 0;	/* an empty record: nothing to deliver */
	fr->want = (size_t)want;
	fr->len = 0;
	fr->cap = fr->want < STREAM_BUF_STEP ? fr->want + 1 : STREAM_BUF_STEP;
	fr->buf = malloc(fr->cap);
	if (!fr->buf) {
		fr->cap = 0;
		return MDNS_ENOMEM;
	}
	fr->in_body = 1;
	return 0;
}

int stream_framer_feed(struct stream_framer *fr, const char *data, size_t len,
		       int (*emit)(void *ctx, char *text, size_t len), void *ctx,
		       char *err, size_t errlen)
{
	int rc;

	while (len) {
		if (!fr->in_body) {
			char c = *data++;

			len--;
			if (c == '\n') {
				if ((rc = framer_start_record(fr, err, errlen)) != 0)
					return rc;
			} else if (c >= '0' && c <= '9' && fr->hlen < 20) {
				fr->hdr[fr->hlen++] = c;
			} else {
				mdns_set_err(err, errlen, "RecordIO: byte 0x%02x where a record length "
					   "belongs", (unsigned char)c);
				return MDNS_EPARSE;
			}
			continue;
		}
		size_t take = fr->want - fr->len;
		if (take > len)
			take = len;
		if (fr->len + take + 1 > fr->cap) {
			size_t cap = fr->cap;
			char *p;

			while (cap < fr->len + take + 1)
				cap *= 2;
			if (cap > fr->want + 1)
				cap = fr->want + 1;
			p = realloc(fr->buf, cap);
			if (!p)
				return MDNS_ENOMEM;
			fr->buf = p;
			fr->cap = cap;
		}
		memcpy(fr->buf + fr->len, data, take);
		fr->len += take;
		data += take;
		len -= take;
		if (fr->len == fr->want) {
			char *text = fr->buf;
			size_t n = fr->len;

			text[n] = '\0';
			fr->buf = NULL;
			fr->len = fr->cap = 0;
			fr->in_body = 0;
			fr->records++;
			if ((rc = emit(ctx, text, n)) != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the subscription ------------------------------------------------------ */

enum stream_phase {
	STREAM_IDLE = 0,	/* not started, or waiting to retry */
	STREAM_CONNECTING,	/* SUBSCRIBE sent, no 2xx yet */
	STREAM_OPEN,		/* 2xx: records arrive */
};

struct streamer {
	struct event_base *base;
	struct fetcher *f;
	const struct config *cfg;
	struct stream_hooks hooks;
	void *ctx;
	bool started;

	enum stream_phase phase;
	uint64_t conn;			/* the connection under way (counts from 1) */
	char master[300];		/* the master asked */
	char at[300];			/* where the subscription ended up (redirects) */
	size_t idx;			/* which master the next attempt asks */
	double backoff;			/* seconds before the next retry */
	struct event *retry;

	struct stream_framer fr;
	bool got_first;			/* the first record (SUBSCRIBED) is complete */
	double heartbeat;		/* seconds; 0: unknown or none */
	struct timespec last_data;	/* CLOCK_MONOTONIC */
	struct event *watchdog;

	/* /master/state-summary: its own fetch context, so it can be cancelled apart */
	char sumctx;
	bool sum_busy, sum_again;
	uint64_t sum_conn;

	/* what the data callback decided; acted upon outside libcurl's callback */
	bool failing;
	int fail_rc;
	char fail_why[300];

	/* for lib/metrics: each attempt's outcome counts once, a live one's end once */
	bool counted;			/* the outcome of the attempt under way is counted */
	bool live;			/* ... it was METRICS_SUB_OK, and has not ended */
};

void stream_record_free(struct stream_record *rec)
{
	while (rec) {
		struct stream_record *next = rec->next;
		free(rec->text);
		free(rec);
		rec = next;
	}
}

/* Seconds of silence after which the stream is taken for dead; 0: no limit. */
static double silence_limit(const struct streamer *s)
{
	if (s->heartbeat > 0)
		return STREAM_HB_MISSED * s->heartbeat + STREAM_HB_SLACK;
	if (s->got_first)
		return 0;
	return s->cfg && s->cfg->state_timeout_seconds > 0 ? s->cfg->state_timeout_seconds :
	       STREAM_DEFAULT_TIMEOUT_S;
}

static void arm_watchdog(struct streamer *s)
{
	double limit = silence_limit(s);
	struct timeval tv;

	evtimer_del(s->watchdog);
	if (limit <= 0)
		return;
	tv = clock_tv(limit - (clock_mono() - ((double)s->last_data.tv_sec +
					  (double)s->last_data.tv_nsec * 1e-9)));
	evtimer_add(s->watchdog, &tv);
}

/* Free the masters list of the hook. */
static void masters_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* "host:port" of an http(s) URL, with the scheme's port when none is given. */
static void hostport_of_url(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *end;
	int https = strncmp(url, "https:", 6) == 0;
	size_t n;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	n = (size_t)(end - p);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	/* No port after the host (or after "]" of an IPv6 literal): the scheme's. */
	const char *rb = strrchr(out, ']');
	const char *colon = strrchr(rb ? rb : out, ':');
	if (!colon && n + 5 < outlen)
		strcat(out, https ? ":443" : ":80");
}

static void schedule_retry(struct streamer *s, double delay)
{
	struct timeval tv = clock_tv(delay);

	evtimer_add(s->retry, &tv);
}

/* Backoff with +-25% jitter, so that many servers do not all come back at once. */
static double next_delay(struct streamer *s)
{
	unsigned short r = 0;
	double d = s->backoff;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned short)(s->conn * 2654435761u);
	d *= 0.75 + 0.5 * (double)r / 65535.0;
	s->backoff *= 2;
	if (s->backoff > STREAM_BACKOFF_MAX)
		s->backoff = STREAM_BACKOFF_MAX;
	return d;
}

static void stream_connect(struct streamer *s);

/* Count the outcome of the attempt under way, unless it is counted already. */
static void count_attempt(struct streamer *s, enum metrics_stream_result res)
{
	if (s->counted)
		return;
	s->counted = true;
	s->live = res == METRICS_SUB_OK;
	metrics_stream_subscription(res);
}

/*
 * The attempt under way ends: a live subscription's end counts as a
 * disconnect (end), an attempt that never got its snapshot as an outcome (res).
 */
static void count_end(struct streamer *s, enum metrics_stream_result res,
		      enum metrics_stream_end end)
{
	if (s->live) {
		s->live = false;
		metrics_stream_disconnect(end);
	} else {
		count_attempt(s, res);
	}
}

/*
 * The connection ended (the transfer is gone already): count it, tell the
 * owner, plan the retry.  res is the attempt's outcome when it had no
 * snapshot yet (METRICS_SUB_UNSUPPORTED: the master has no operator API),
 * end the reason when it was live.
 */
static void conn_lost(struct streamer *s, enum metrics_stream_result res,
		      enum metrics_stream_end end, const char *why)
{
	uint64_t conn = s->phase == STREAM_OPEN ? s->conn : 0;
	int unsupported = res == METRICS_SUB_UNSUPPORTED;
	double delay;

	count_end(s, res, end);
	s->phase = STREAM_IDLE;
	evtimer_del(s->watchdog);
	stream_framer_clear(&s->fr);
	s->heartbeat = 0;
	if (unsupported) {
		delay = STREAM_UNSUPPORTED_S;
		log_info("stream: %s has no operator API (%s); polling instead, and asking again "
			 "in %.0f s", s->master, why, delay);
	} else {
		/* The next attempt asks the next master; the leader comes first again on a
		 * change (stream_masters_changed). */
		s->idx++;
		delay = next_delay(s);
		log_warn("stream: %s: %s; subscribing again in %.1f s", s->master, why, delay);
	}
	if (s->hooks.down)
		s->hooks.down(s->ctx, conn, unsupported, why);
	schedule_retry(s, delay);
}

/* Drop the transfer under way (not from inside a fetcher callback). */
static void conn_drop(struct streamer *s)
{
	fetcher_cancel_ctx(s->f, s);
	fetcher_cancel_ctx(s->f, &s->sumctx);
	s->sum_busy = s->sum_again = false;
}

static void on_open(void *arg, long status, const char *url)
{
	struct streamer *s = arg;

	(void)status;
	s->phase = STREAM_OPEN;
	hostport_of_url(url, s->at, sizeof(s->at));
	if (strcmp(s->at, s->master) != 0)
		log_info("stream: %s sent us to %s", s->master, s->at);
	log_info("stream: subscribed to %s; waiting for the snapshot", s->at);
	if (s->hooks.up)
		s->hooks.up(s->ctx, s->conn, s->at);
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/*
 * The byte after the JSON value at p, or NULL when the text ends first: a
 * string, an object or array (brackets counted, strings in them skipped
 * whole), or a scalar up to the next delimiter.  No validation: the model
 * parses the record; this only finds its way through it.
 */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;

	do {
		if (p >= end)
			return NULL;
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && ++p == end)
					break;	/* a backslash last: cut short */
			if (p >= end)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return p;	/* no value here: the caller sees the bracket */
			depth--;
		} else if (depth == 0) {
			while (p < end && !strchr(",}] \t\r\n", *p))
				p++;
			return p;
		}
		p++;
	} while (depth > 0);
	return p;
}

/*
 * Nested objects have "type" keys too (resources, statuses), so a plain
 * search will not do; masters write "type" first, so this reads a few bytes
 * (of a snapshot of hundreds of MB too) where a JSON parser would read all.
 */
enum metrics_stream_event stream_event_type(const char *text, size_t len)
{
	const char *p = skip_ws(text, text + len), *end = text + len, *key, *val;

	if (p >= end || *p != '{')
		return METRICS_EV_OTHER;
	for (p++;; p++) {
		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			return METRICS_EV_OTHER;
		key = p + 1;
		if (!(p = skip_value(p, end)))
			return METRICS_EV_OTHER;
		size_t klen = (size_t)(p - 1 - key);
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return METRICS_EV_OTHER;
		val = skip_ws(p + 1, end);
		if (!(p = skip_value(val, end)))
			return METRICS_EV_OTHER;
		if (klen == 4 && memcmp(key, "type", 4) == 0)
			return *val == '"' ? metrics_stream_event_of(val + 1, (size_t)(p - val - 2))
					   : METRICS_EV_OTHER;
		p = skip_ws(p, end);
		if (p >= end || *p != ',')
			return METRICS_EV_OTHER;
	}
}

/* A HEARTBEAT is a few dozen bytes; anything else goes to the owner unparsed. */
static bool is_heartbeat(const char *text, size_t len)
{
	json_t *j;
	bool hb;

	if (len > 128 || !memmem(text, len, "HEARTBEAT", 9))
		return false;
	j = json_loadb(text, len, 0, NULL);
	hb = j && json_is_string(json_object_get(j, "type")) &&
	     strcmp(json_string_value(json_object_get(j, "type")), "HEARTBEAT") == 0;
	json_decref(j);
	return hb;
}

static int on_record(void *arg, char *text, size_t len)
{
	struct streamer *s = arg;
	struct stream_record *rec;
	enum metrics_stream_event type = stream_event_type(text, len);

	metrics_stream_event(type);
	if (!s->got_first) {
		s->got_first = true;
		log_info("stream: snapshot from %s: %zu bytes", s->at, len);
		/* Anything else first: the model refuses it and asks for a new subscription. */
		count_attempt(s, type == METRICS_EV_SUBSCRIBED ? METRICS_SUB_OK :
				 METRICS_SUB_BAD_STREAM);
	} else if (type == METRICS_EV_HEARTBEAT && is_heartbeat(text, len)) {
		free(text);
		if (s->hooks.beat)
			s->hooks.beat(s->ctx, s->conn);
		return 0;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		free(text);
		return MDNS_ENOMEM;
	}
	rec->kind = STATEMODEL_EVENT;
	rec->conn = s->conn;
	rec->first = s->fr.records == 1;
	rec->text = text;
	rec->len = len;
	rec->arrived = clock_mono();
	s->hooks.record(s->ctx, rec);
	return 0;
}

static int on_data(void *arg, const char *buf, size_t len)
{
	struct streamer *s = arg;
	char err[200] = "";
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &s->last_data);
	rc = stream_framer_feed(&s->fr, buf, len, on_record, s, err, sizeof(err));
	if (rc != 0) {
		/* The done callback reports it: ending the transfer here is libcurl's job. */
		s->failing = true;
		s->fail_rc = rc;
		snprintf(s->fail_why, sizeof(s->fail_why), "%s",
			 err[0] ? err : mdns_strerror(rc));
		return 1;
	}
	if (!evtimer_pending(s->watchdog, NULL))
		arm_watchdog(s);
	return 0;
}

static void on_done(void *arg, struct fetch_result *r)
{
	struct streamer *s = arg;
	char why[400];
	enum metrics_stream_result res = METRICS_SUB_NETWORK;
	enum metrics_stream_end end = METRICS_END_NETWORK;

	if (s->failing) {
		snprintf(why, sizeof(why), "%s", s->fail_why);
		s->failing = false;
		if (s->fail_rc == MDNS_ENOMEM) {
			res = METRICS_SUB_OTHER;
			end = METRICS_END_OTHER;
		} else {
			res = METRICS_SUB_BAD_STREAM;
			end = METRICS_END_BAD_STREAM;
		}
	} else if (r->rc == 0) {
		snprintf(why, sizeof(why), "the master closed the stream");
		end = METRICS_END_CLOSED;
	} else if (r->rc == MDNS_EHTTP) {
		int unsupported = r->http_status == 404 || r->http_status == 405 ||
				  r->http_status == 501;

		res = unsupported ? METRICS_SUB_UNSUPPORTED : METRICS_SUB_HTTP;
		snprintf(why, sizeof(why), "HTTP %ld%s", r->http_status,
			 unsupported ? " to SUBSCRIBE" : "");
		if (!unsupported)
			snprintf(why, sizeof(why), "%.300s", r->err);
	} else {
		if (r->rc == MDNS_ETIMEDOUT)
			res = METRICS_SUB_TIMEOUT;
		snprintf(why, sizeof(why), "%.300s", r->err);
	}
	conn_lost(s, res, end, why);
}

static const struct fetch_stream_ops stream_ops = {
	.open = on_open,
	.data = on_data,
	.done = on_done,
};

static void stream_connect(struct streamer *s)
{
	char **v = NULL;
	size_t n = 0;
	int rc;

	evtimer_del(s->retry);
	if (s->hooks.masters(s->ctx, &v, &n) != 0) {
		log_err("stream: out of memory");
		abort();
	}
	if (n == 0) {
		/* stream_masters_changed (ZooKeeper's first leader) calls again. */
		log_info("stream: no master known yet; subscribing once one is");
		masters_free(v, n);
		return;
	}
	snprintf(s->master, sizeof(s->master), "%s", v[s->idx % n]);
	masters_free(v, n);
	s->conn++;
	s->phase = STREAM_CONNECTING;
	s->counted = s->live = false;
	s->got_first = false;
	s->heartbeat = 0;
	s->failing = false;
	s->at[0] = '\0';
	stream_framer_init(&s->fr, STREAM_MAX_SNAPSHOT, STREAM_MAX_EVENT);
	clock_gettime(CLOCK_MONOTONIC, &s->last_data);
	rc = fetch_stream(s->f, s->master, STREAM_PATH, STREAM_CALL, &stream_ops, s);
	if (rc != 0) {
		s->phase = STREAM_IDLE;
		s->idx++;
		count_attempt(s, METRICS_SUB_OTHER);
		log_warn("stream: cannot subscribe to %s: %s", s->master, mdns_strerror(rc));
		if (s->hooks.down)
			s->hooks.down(s->ctx, 0, 0, mdns_strerror(rc));
		schedule_retry(s, next_delay(s));
		return;
	}
	log_debug("stream: SUBSCRIBE to %s (connection %llu)", s->master,
		  (unsigned long long)s->conn);
	arm_watchdog(s);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_connect(arg);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct streamer *s = arg;
	double limit = silence_limit(s), idle;
	char why[160];

	(void)fd;
	(void)what;
	if (s->phase == STREAM_IDLE || limit <= 0)
		return;
	idle = clock_mono() - ((double)s->last_data.tv_sec + (double)s->last_data.tv_nsec * 1e-9);
	if (idle < limit) {
		arm_watchdog(s);
		return;
	}
	if (s->heartbeat > 0)
		snprintf(why, sizeof(why), "no heartbeat for %.1f s (interval %.1f s)", idle,
			 s->heartbeat);
	else
		snprintf(why, sizeof(why), "no data for %.1f s", idle);
	conn_drop(s);
	/* Before the snapshot the limit is stateTimeoutSeconds; after it, heartbeats. */
	conn_lost(s, METRICS_SUB_TIMEOUT, METRICS_END_HEARTBEAT, why);
}

struct streamer *stream_new(struct event_base *base, struct fetcher *f, const struct config *cfg,
			    const struct stream_hooks *hooks, void *ctx)
{
	struct streamer *s;

	if (!base || !f || !hooks || !hooks->masters || !hooks->record)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->f = f;
	s->cfg = cfg;
	s->hooks = *hooks;
	s->ctx = ctx;
	s->backoff = STREAM_BACKOFF_MIN;
	s->retry = evtimer_new(base, retry_cb, s);
	s->watchdog = evtimer_new(base, watchdog_cb, s);
	if (!s->retry || !s->watchdog) {
		stream_free(s);
		return NULL;
	}
	metrics_stream_enable();
	return s;
}

void stream_free(struct streamer *s)
{
	if (!s)
		return;
	conn_drop(s);
	stream_framer_clear(&s->fr);
	if (s->retry)
		event_free(s->retry);
	if (s->watchdog)
		event_free(s->watchdog);
	free(s);
}

void stream_set_config(struct streamer *s, const struct config *cfg)
{
	s->cfg = cfg;
}

void stream_start(struct streamer *s)
{
	s->started = true;
	stream_connect(s);
}

void stream_masters_changed(struct streamer *s)
{
	char **v = NULL;
	size_t n = 0;
	bool moved;

	if (!s->started)
		return;
	if (s->hooks.masters(s->ctx, &v, &n) != 0) {
		log_err("stream: out of memory");
		abort();
	}
	moved = n > 0 && strcmp(v[0], s->master) != 0 && strcmp(v[0], s->at) != 0;
	if (n > 0 && s->phase == STREAM_IDLE) {
		/* Waiting (backoff, no master yet, an old master): try the leader now. */
		s->idx = 0;
		s->backoff = STREAM_BACKOFF_MIN;
		log_info("stream: masters changed; subscribing to %s", v[0]);
		masters_free(v, n);
		stream_connect(s);
		return;
	} else if (moved) {
		log_info("stream: the leader moved to %s; leaving %s", v[0],
			 s->at[0] ? s->at : s->master);
		conn_drop(s);
		count_end(s, METRICS_SUB_LEADER_MOVED, METRICS_END_LEADER_MOVED);
		if (s->hooks.down)
			s->hooks.down(s->ctx, s->phase == STREAM_OPEN ? s->conn : 0, 0,
				      "the leader moved");
		s->phase = STREAM_IDLE;
		evtimer_del(s->watchdog);
		stream_framer_clear(&s->fr);
		s->idx = 0;
		s->backoff = STREAM_BACKOFF_MIN;
		masters_free(v, n);
		stream_connect(s);
		return;
	}
	masters_free(v, n);
}

void stream_resubscribe(struct streamer *s, const char *why)
{
	if (s->phase == STREAM_IDLE)
		return;
	conn_drop(s);
	s->idx--;	/* conn_lost moves on to the next master: stay with this one */
	conn_lost(s, METRICS_SUB_OTHER, METRICS_END_RESUBSCRIBE, why);
}

void stream_set_heartbeat(struct streamer *s, uint64_t conn, double seconds)
{
	if (conn != s->conn || s->phase != STREAM_OPEN)
		return;
	/* The model took the snapshot: a working subscription.  Not at the first
	 * record, which the model may still refuse: with the backoff started over
	 * there, a refused snapshot was asked for again every half second. */
	s->backoff = STREAM_BACKOFF_MIN;
	s->heartbeat = seconds > 0 ? seconds : 0;
	if (s->heartbeat > 0)
		log_debug("stream: heartbeats every %.1f s; silence over %.1f s ends the stream",
			  s->heartbeat, silence_limit(s));
	arm_watchdog(s);
}

static void summary_start(struct streamer *s);

static void summary_done(void *arg, struct fetch_result *r)
{
	struct streamer *s = (struct streamer *)((char *)arg - offsetof(struct streamer, sumctx));
	struct stream_record *rec;

	s->sum_busy = false;
	if (r->rc != 0) {
		log_warn("stream: framework pids unknown: %s", r->err);
		free(r->body);
	} else if (s->phase == STREAM_OPEN && r->body && s->sum_conn == s->conn &&
		   (rec = calloc(1, sizeof(*rec)))) {
		rec->kind = STATEMODEL_SUMMARY;
		rec->conn = s->sum_conn;
		rec->text = r->body;
		rec->len = r->len;
		rec->arrived = clock_mono();
		s->hooks.record(s->ctx, rec);
	} else {
		free(r->body);
	}
	if (s->sum_again && s->phase == STREAM_OPEN) {
		s->sum_again = false;
		summary_start(s);
	}
}

static void summary_start(struct streamer *s)
{
	int rc;

	s->sum_conn = s->conn;
	rc = fetch_get(s->f, s->at, STREAM_SUMMARY_PATH, summary_done, &s->sumctx);
	s->sum_busy = rc == 0;
	if (rc != 0)
		log_warn("stream: cannot ask %s for %s: %s", s->at, STREAM_SUMMARY_PATH,
			 mdns_strerror(rc));
}

void stream_fetch_summary(struct streamer *s)
{
	if (s->phase != STREAM_OPEN)
		return;
	if (s->sum_busy) {
		s->sum_again = true;
		return;
	}
	summary_start(s);
}

int stream_connected(const struct streamer *s)
{
	return s && s->phase == STREAM_OPEN;
}
