/* lib/metrics.c -- counters and the Prometheus text format of /metrics. */
#include "lib/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

const double metrics_dns_duration_bounds[METRICS_DNS_DURATION_NB] = {
	0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.1,
};
const double metrics_dns_size_bounds[METRICS_DNS_SIZE_NB] = {
	64, 128, 256, 512, 1024, 1232, 2048, 4096, 8192, 16384, 65535,
};
const double metrics_fetch_duration_bounds[METRICS_FETCH_DURATION_NB] = {
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
};
const double metrics_fetch_size_bounds[METRICS_FETCH_SIZE_NB] = {
	1024, 16384, 131072, 1048576, 8388608, 33554432, 134217728, 268435456,
};
const double metrics_build_duration_bounds[METRICS_BUILD_DURATION_NB] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30,
};
/* Finer around the 50 ms coalescing period and the 100 ms target of an event's publication. */
const double metrics_stream_delay_bounds[METRICS_STREAM_DELAY_NB] = {
	0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* ---- DNS workers ------------------------------------------------------ */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_dns *reg_head;
static int reg_count;

/* A block registered for scraping; worker: 1 when it counts as a worker. */
static struct metrics_dns *dns_new(int worker)
{
	/* A cache line of its own start, so workers never share one. */
	size_t sz = (sizeof(struct metrics_dns) + 63) & ~(size_t)63;
	struct metrics_dns *m = aligned_alloc(64, sz);

	if (!m)
		return NULL;
	memset(m, 0, sz);
	pthread_mutex_lock(&reg_mu);
	m->next = reg_head;
	reg_head = m;
	reg_count += worker;
	pthread_mutex_unlock(&reg_mu);
	return m;
}

struct metrics_dns *metrics_dns_new(void)
{
	return dns_new(1);
}

struct metrics_dns *metrics_dns_new_extra(void)
{
	return dns_new(0);
}

enum metrics_qtype metrics_qtype_of(uint16_t qtype)
{
	switch (qtype) {
	case 1: return METRICS_QT_A;
	case 28: return METRICS_QT_AAAA;
	case 33: return METRICS_QT_SRV;
	case 6: return METRICS_QT_SOA;
	case 2: return METRICS_QT_NS;
	case 255: return METRICS_QT_ANY;
	default: return METRICS_QT_OTHER;
	}
}

enum metrics_rcode metrics_rcode_of(int rcode)
{
	switch (rcode) {
	case 0: return METRICS_RC_NOERROR;
	case 1: return METRICS_RC_FORMERR;
	case 2: return METRICS_RC_SERVFAIL;
	case 3: return METRICS_RC_NXDOMAIN;
	case 4: return METRICS_RC_NOTIMP;
	case 5: return METRICS_RC_REFUSED;
	case 16: return METRICS_RC_BADVERS;
	default: return METRICS_RC_OTHER;
	}
}

/* Index of the first bucket whose bound is >= v; nb for +Inf. */
static size_t bucket_of(const double *bounds, size_t nb, double v)
{
	size_t i = 0;

	while (i < nb && v > bounds[i])
		i++;
	return i;
}

void metrics_dns_reply(struct metrics_dns *m, enum metrics_transport t, uint16_t qtype,
		       int rcode, enum metrics_source src, size_t reply_len, int truncated)
{
	if (!m)
		return;
	if (reply_len == 0) {
		metrics_add(&m->dropped[t], 1);
		return;
	}
	metrics_add(&m->requests[t][metrics_qtype_of(qtype)][metrics_rcode_of(rcode)][src], 1);
	if (truncated)
		metrics_add(&m->truncated[t], 1);
	metrics_add(&m->size[t][bucket_of(metrics_dns_size_bounds, METRICS_DNS_SIZE_NB,
					  (double)reply_len)], 1);
	metrics_add(&m->size_bytes[t], reply_len);
}

void metrics_dns_forwarded(struct metrics_dns *m, enum metrics_transport t, uint16_t qtype)
{
	if (m)
		metrics_add(&m->requests[t][metrics_qtype_of(qtype)][METRICS_RC_UPSTREAM]
					[METRICS_SRC_FORWARDED], 1);
}

void metrics_dns_cache(struct metrics_dns *m, const uint64_t v[METRICS_NCACHE])
{
	if (!m)
		return;
	for (int k = 0; k < METRICS_NCACHE; k++)
		atomic_store_explicit(&m->cache[k], v[k], memory_order_relaxed);
}

void metrics_dns_time(struct metrics_dns *m, enum metrics_transport t, uint64_t ns)
{
	if (!m)
		return;
	metrics_add(&m->duration[t][bucket_of(metrics_dns_duration_bounds, METRICS_DNS_DURATION_NB,
					      (double)ns * 1e-9)], 1);
	metrics_add(&m->duration_ns[t], ns);
}

/* ---- control thread --------------------------------------------------- */

/* Written by the control thread, read by scrapes (also on it). */
static struct {
	_Atomic uint64_t fetches[METRICS_NFETCH];
	_Atomic uint64_t fetch_duration[METRICS_FETCH_DURATION_NB + 1];
	_Atomic uint64_t fetch_duration_us;
	_Atomic uint64_t fetch_size[METRICS_FETCH_SIZE_NB + 1];
	_Atomic uint64_t fetch_bytes;
	_Atomic uint64_t build_duration[METRICS_BUILD_DURATION_NB + 1];
	_Atomic uint64_t build_duration_us;
	_Atomic uint64_t leader_changes;
	_Atomic uint64_t builds_skipped[METRICS_NSKIP];
	_Atomic uint64_t http[600];
	_Atomic uint64_t stream_on;	/* 0 or 1 */
	_Atomic uint64_t stream_connected;	/* 0 or 1 */
	_Atomic uint64_t stream_subs[METRICS_NSUB];
	_Atomic uint64_t stream_ends[METRICS_NEND];
	_Atomic uint64_t stream_events[METRICS_NEVENTS];
	_Atomic uint64_t stream_delay[METRICS_STREAM_DELAY_NB + 1];
	_Atomic uint64_t stream_delay_us;
} ctl;

static uint64_t load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Observe seconds in a histogram of per-bucket counts and a sum in microseconds. */
static void observe(_Atomic uint64_t *counts, const double *bounds, size_t nb,
		    _Atomic uint64_t *sum_us, double seconds)
{
	if (seconds < 0)
		seconds = 0;
	metrics_add(&counts[bucket_of(bounds, nb, seconds)], 1);
	metrics_add(sum_us, (uint64_t)(seconds * 1e6));
}

void metrics_state_fetch(enum metrics_fetch outcome)
{
	if ((unsigned)outcome < METRICS_NFETCH)
		metrics_add(&ctl.fetches[outcome], 1);
}

enum metrics_fetch metrics_fetch_of_error(int code)
{
	switch (code) {
	case 0: return METRICS_FETCH_OK;
	case MDNS_ECURL: return METRICS_FETCH_CONNECT;
	case MDNS_EHTTP: return METRICS_FETCH_HTTP;
	case MDNS_ETIMEDOUT: return METRICS_FETCH_TIMEOUT;
	case MDNS_ETOOBIG: return METRICS_FETCH_TOO_BIG;
	case MDNS_EPARSE: case MDNS_ENOLEADER: return METRICS_FETCH_PARSE;
	default: return METRICS_FETCH_OTHER;
	}
}

void metrics_state_transfer(double seconds, size_t bytes)
{
	observe(ctl.fetch_duration, metrics_fetch_duration_bounds, METRICS_FETCH_DURATION_NB,
		&ctl.fetch_duration_us, seconds);
	if (bytes) {
		metrics_add(&ctl.fetch_size[bucket_of(metrics_fetch_size_bounds,
						      METRICS_FETCH_SIZE_NB, (double)bytes)], 1);
		metrics_add(&ctl.fetch_bytes, bytes);
	}
}

void metrics_zone_build(double seconds)
{
	observe(ctl.build_duration, metrics_build_duration_bounds, METRICS_BUILD_DURATION_NB,
		&ctl.build_duration_us, seconds);
}

void metrics_zone_build_skipped(enum metrics_skip why)
{
	if (why < METRICS_NSKIP)
		metrics_add(&ctl.builds_skipped[why], 1);
}

void metrics_leader_change(void)
{
	metrics_add(&ctl.leader_changes, 1);
}

void metrics_http_request(int status)
{
	if (status >= 100 && status < 600)
		metrics_add(&ctl.http[status], 1);
}

/* ---- event stream ------------------------------------------------------ */

/* Label values of enum metrics_stream_event; the event types as the master writes them. */
static const char *const stream_event_names[METRICS_NEVENTS] = {
	"SUBSCRIBED", "TASK_ADDED", "TASK_UPDATED", "AGENT_ADDED", "AGENT_REMOVED",
	"FRAMEWORK_ADDED", "FRAMEWORK_UPDATED", "FRAMEWORK_REMOVED", "HEARTBEAT", "other",
};

enum metrics_stream_event metrics_stream_event_of(const char *type, size_t len)
{
	for (int i = 0; i < METRICS_EV_OTHER; i++)
		if (strlen(stream_event_names[i]) == len && memcmp(stream_event_names[i], type, len) == 0)
			return (enum metrics_stream_event)i;
	return METRICS_EV_OTHER;
}

void metrics_stream_enable(void)
{
	atomic_store_explicit(&ctl.stream_on, 1, memory_order_relaxed);
}

void metrics_stream_subscription(enum metrics_stream_result res)
{
	if ((unsigned)res >= METRICS_NSUB)
		return;
	metrics_add(&ctl.stream_subs[res], 1);
	if (res == METRICS_SUB_OK)
		atomic_store_explicit(&ctl.stream_connected, 1, memory_order_relaxed);
}

void metrics_stream_disconnect(enum metrics_stream_end why)
{
	if ((unsigned)why < METRICS_NEND)
		metrics_add(&ctl.stream_ends[why], 1);
	atomic_store_explicit(&ctl.stream_connected, 0, memory_order_relaxed);
}

void metrics_stream_event(enum metrics_stream_event type)
{
	if ((unsigned)type < METRICS_NEVENTS)
		metrics_add(&ctl.stream_events[type], 1);
}

void metrics_stream_publish_delay(double seconds)
{
	observe(ctl.stream_delay, metrics_stream_delay_bounds, METRICS_STREAM_DELAY_NB,
		&ctl.stream_delay_us, seconds);
}

void metrics_shutdown(void)
{
	pthread_mutex_lock(&reg_mu);
	for (struct metrics_dns *m = reg_head, *next; m; m = next) {
		next = m->next;
		free(m);
	}
	reg_head = NULL;
	reg_count = 0;
	pthread_mutex_unlock(&reg_mu);
}

static void hist_init(struct metrics_hist *h, const double *bounds, size_t nb)
{
	h->bounds = bounds;
	h->nb = nb;
}

/* The counts and sum of a control-thread histogram (see observe) into h, set up by hist_init. */
static void hist_load(struct metrics_hist *h, const _Atomic uint64_t *counts,
		      const _Atomic uint64_t *sum_us)
{
	for (size_t b = 0; b <= h->nb; b++)
		h->counts[b] = load(&counts[b]);
	/* Divided, not multiplied by 1e-6: correctly rounded, so 230000 us reads 0.23. */
	h->sum = (double)load(sum_us) / 1e6;
}

void metrics_collect(struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->zk_connected = -1;
	for (int t = 0; t < METRICS_NTRANSPORTS; t++) {
		hist_init(&s->duration[t], metrics_dns_duration_bounds, METRICS_DNS_DURATION_NB);
		hist_init(&s->size[t], metrics_dns_size_bounds, METRICS_DNS_SIZE_NB);
	}
	hist_init(&s->fetch_duration, metrics_fetch_duration_bounds, METRICS_FETCH_DURATION_NB);
	hist_init(&s->fetch_size, metrics_fetch_size_bounds, METRICS_FETCH_SIZE_NB);
	hist_init(&s->build_duration, metrics_build_duration_bounds, METRICS_BUILD_DURATION_NB);
	hist_init(&s->stream_publish_delay, metrics_stream_delay_bounds, METRICS_STREAM_DELAY_NB);

	pthread_mutex_lock(&reg_mu);
	s->dns_workers = reg_count;
	for (const struct metrics_dns *m = reg_head; m; m = m->next) {
		for (int t = 0; t < METRICS_NTRANSPORTS; t++) {
			for (int q = 0; q < METRICS_NQTYPES; q++)
				for (int r = 0; r < METRICS_NRCODES; r++)
					for (int k = 0; k < METRICS_NSOURCES; k++)
						s->requests[t][q][r][k] += load(&m->requests[t][q][r][k]);
			s->dropped[t] += load(&m->dropped[t]);
			s->truncated[t] += load(&m->truncated[t]);
			for (int b = 0; b <= METRICS_DNS_DURATION_NB; b++)
				s->duration[t].counts[b] += load(&m->duration[t][b]);
			s->duration[t].sum += (double)load(&m->duration_ns[t]) * 1e-9;
			for (int b = 0; b <= METRICS_DNS_SIZE_NB; b++)
				s->size[t].counts[b] += load(&m->size[t][b]);
			s->size[t].sum += (double)load(&m->size_bytes[t]);
		}
		for (int k = 0; k < METRICS_NCACHE; k++)
			s->cache[k] += load(&m->cache[k]);
	}
	pthread_mutex_unlock(&reg_mu);

	for (int i = 0; i < METRICS_NFETCH; i++)
		s->fetches[i] = load(&ctl.fetches[i]);
	hist_load(&s->fetch_duration, ctl.fetch_duration, &ctl.fetch_duration_us);
	for (int b = 0; b <= METRICS_FETCH_SIZE_NB; b++)
		s->fetch_size.counts[b] = load(&ctl.fetch_size[b]);
	s->fetch_size.sum = (double)load(&ctl.fetch_bytes);
	hist_load(&s->build_duration, ctl.build_duration, &ctl.build_duration_us);
	s->leader_changes = load(&ctl.leader_changes);
	for (int i = 0; i < METRICS_NSKIP; i++)
		s->builds_skipped[i] = load(&ctl.builds_skipped[i]);
	for (int c = 100; c < 600; c++)
		s->http_requests[c] = load(&ctl.http[c]);

	s->has_stream = load(&ctl.stream_on) != 0;
	s->stream_connected = load(&ctl.stream_connected) != 0;
	for (int i = 0; i < METRICS_NSUB; i++)
		s->stream_subscriptions[i] = load(&ctl.stream_subs[i]);
	for (int i = 0; i < METRICS_NEND; i++)
		s->stream_disconnects[i] = load(&ctl.stream_ends[i]);
	for (int i = 0; i < METRICS_NEVENTS; i++)
		s->stream_events[i] = load(&ctl.stream_events[i]);
	hist_load(&s->stream_publish_delay, ctl.stream_delay, &ctl.stream_delay_us);
}

/* ---- text format ------------------------------------------------------- */

char *metrics_escape_label(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return out;
	for (; in && *in; in++) {
		const char *rep = NULL;
		char one[2] = { *in, 0 };

		if (*in == '\\')
			rep = "\\\\";
		else if (*in == '"')
			rep = "\\\"";
		else if (*in == '\n')
			rep = "\\n";
		else
			rep = one;
		size_t rl = strlen(rep);
		if (o + rl >= outlen)
			break;
		memcpy(out + o, rep, rl);
		o += rl;
	}
	out[o] = '\0';
	return out;
}

char *metrics_format_value(double v, char *out, size_t outlen)
{
	if (isnan(v)) {
		snprintf(out, outlen, "NaN");
	} else if (isinf(v)) {
		snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
	} else if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
		snprintf(out, outlen, "%.0f", v);
	} else {
		/* The shortest of %.15g, %.16g, %.17g that reads back exactly. */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(out, outlen, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
	}
	return out;
}

/* A growing output buffer; oom is sticky. */
struct mbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void mb_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = b->cap ? b->cap * 2 : 16384;
		while (nc < b->len + (size_t)n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

/* "# HELP" and "# TYPE" of a family. */
static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; labels is the inside of {...} (already escaped) or "". */
static void sample(struct mbuf *b, const char *name, const char *labels, double v)
{
	char val[64];

	metrics_format_value(v, val, sizeof(val));
	if (labels && *labels)
		mb_printf(b, "%s{%s} %s\n", name, labels, val);
	else
		mb_printf(b, "%s %s\n", name, val);
}

/* A family of one unlabelled sample. */
static void single(struct mbuf *b, const char *name, const char *type, const char *help, double v)
{
	family(b, name, type, help);
	sample(b, name, "", v);
}

/* The _bucket, _sum and _count lines of one histogram series. */
static void hist_series(struct mbuf *b, const char *name, const char *labels,
			const struct metrics_hist *h)
{
	char lab[512], le[64], n[160];
	uint64_t cum = 0;
	const char *sep = labels && *labels ? "," : "";

	snprintf(n, sizeof(n), "%s_bucket", name);
	for (size_t i = 0; i <= h->nb; i++) {
		cum += h->counts[i];
		if (i < h->nb)
			metrics_format_value(h->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(lab, sizeof(lab), "%s%sle=\"%s\"", labels ? labels : "", sep, le);
		sample(b, n, lab, (double)cum);
	}
	snprintf(n, sizeof(n), "%s_sum", name);
	sample(b, n, labels, h->sum);
	snprintf(n, sizeof(n), "%s_count", name);
	sample(b, n, labels, (double)cum);
}

static const char *const transport_names[METRICS_NTRANSPORTS] = { "udp", "tcp" };
static const char *const qtype_names[METRICS_NQTYPES] = {
	"A", "AAAA", "SRV", "SOA", "NS", "ANY", "other",
};
static const char *const rcode_names[METRICS_NRCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other",
	"upstream",
};
static const char *const source_names[METRICS_NSOURCES] = {
	"authoritative", "forwarded", "local",
};
/* result, reason of each enum metrics_fetch */
static const char *const fetch_labels[METRICS_NFETCH][2] = {
	{ "success", "none" }, { "follower", "none" }, { "failure", "connect" },
	{ "failure", "http" }, { "failure", "timeout" }, { "failure", "too_big" },
	{ "failure", "parse" }, { "failure", "not_leader" }, { "failure", "other" },
};
static const char *const rr_names[METRICS_NRR] = { "A", "AAAA", "SRV", "SOA", "NS" };

static void render_dns(struct mbuf *b, const struct metrics_snapshot *s)
{
	char lab[256];

	family(b, "mesosdns_dns_requests_total", "counter",
	       "DNS queries answered, by transport, query type, response code and source "
	       "(authoritative: from the zone; forwarded: handed to an upstream, rcode \"upstream\"; "
	       "local: other replies of ours). Series appear once non-zero.");
	for (int t = 0; t < METRICS_NTRANSPORTS; t++)
		for (int q = 0; q < METRICS_NQTYPES; q++)
			for (int r = 0; r < METRICS_NRCODES; r++)
				for (int k = 0; k < METRICS_NSOURCES; k++) {
					uint64_t v = s->requests[t][q][r][k];
					if (!v)
						continue;
					snprintf(lab, sizeof(lab),
						 "transport=\"%s\",qtype=\"%s\",rcode=\"%s\",source=\"%s\"",
						 transport_names[t], qtype_names[q], rcode_names[r],
						 source_names[k]);
					sample(b, "mesosdns_dns_requests_total", lab, (double)v);
				}

	family(b, "mesosdns_dns_dropped_total", "counter",
	       "DNS packets that got no reply (responses, packets shorter than a header).");
	for (int t = 0; t < METRICS_NTRANSPORTS; t++) {
		snprintf(lab, sizeof(lab), "transport=\"%s\"", transport_names[t]);
		sample(b, "mesosdns_dns_dropped_total", lab, (double)s->dropped[t]);
	}
	family(b, "mesosdns_dns_truncated_responses_total", "counter",
	       "DNS replies from which records were dropped to fit the size limit.");
	for (int t = 0; t < METRICS_NTRANSPORTS; t++) {
		snprintf(lab, sizeof(lab), "transport=\"%s\"", transport_names[t]);
		sample(b, "mesosdns_dns_truncated_responses_total", lab, (double)s->truncated[t]);
	}
	family(b, "mesosdns_dns_request_duration_seconds", "histogram",
	       "Time to answer a query from the zone or to hand it to the forwarder "
	       "(upstream time is in mesosdns_forward_duration_seconds).");
	for (int t = 0; t < METRICS_NTRANSPORTS; t++) {
		snprintf(lab, sizeof(lab), "transport=\"%s\"", transport_names[t]);
		hist_series(b, "mesosdns_dns_request_duration_seconds", lab, &s->duration[t]);
	}
	family(b, "mesosdns_dns_response_size_bytes", "histogram", "Size of DNS replies sent.");
	for (int t = 0; t < METRICS_NTRANSPORTS; t++) {
		snprintf(lab, sizeof(lab), "transport=\"%s\"", transport_names[t]);
		hist_series(b, "mesosdns_dns_response_size_bytes", lab, &s->size[t]);
	}
	family(b, "mesosdns_dns_cache_lookups_total", "counter",
	       "UDP queries answered through the UDP threads' reply caches, by result "
	       "(hit: copied; miss: rendered and added; uncached: rendered without it, the question "
	       "not cacheable, asked the first time, or the cache skipped).");
	static const char *const cache_results[] = { "hit", "miss", "uncached" };
	for (int k = METRICS_CACHE_HIT; k <= METRICS_CACHE_UNCACHED; k++) {
		snprintf(lab, sizeof(lab), "result=\"%s\"", cache_results[k]);
		sample(b, "mesosdns_dns_cache_lookups_total", lab, (double)s->cache[k]);
	}
	single(b, "mesosdns_dns_cache_flushes_total", "counter",
	       "Reply caches emptied, for a new zone or when full.",
	       (double)s->cache[METRICS_CACHE_FLUSH]);
	single(b, "mesosdns_dns_cache_bytes", "gauge", "Bytes of entries in the reply caches.",
	       (double)s->cache[METRICS_CACHE_BYTES]);
	single(b, "mesosdns_dns_cache_capacity_bytes", "gauge",
	       "Bytes of entries the reply caches may hold (64 MiB shared by the UDP threads, "
	       "1 to 8 MiB each).", (double)s->cache[METRICS_CACHE_CAPACITY]);
	family(b, "mesosdns_dns_workers", "gauge", "DNS worker threads.");
	sample(b, "mesosdns_dns_workers", "", s->dns_workers);
}

/* One counter or gauge family with a sample per upstream. */
static void upstream_family(struct mbuf *b, const struct metrics_snapshot *s, const char *name,
			    const char *type, const char *help, size_t field, int is_double)
{
	char lab[320], up[256];

	family(b, name, type, help);
	for (size_t i = 0; i < s->nupstreams; i++) {
		const char *base = (const char *)&s->upstreams[i];
		double v = is_double ? *(const double *)(base + field)
				     : (double)*(const uint64_t *)(base + field);
		snprintf(lab, sizeof(lab), "upstream=\"%s\"",
			 metrics_escape_label(s->upstreams[i].name, up, sizeof(up)));
		sample(b, name, lab, v);
	}
}

static void render_forward(struct mbuf *b, const struct metrics_snapshot *s)
{
	char lab[320], up[256];

	if (!s->has_forward)
		return;
	single(b, "mesosdns_forward_requests_total", "counter",
	       "Client queries handed to the forwarder.",
	       (double)s->fwd_forwarded);
	single(b, "mesosdns_forward_servfail_total", "counter",
	       "Forwarded queries answered with our SERVFAIL because every upstream failed.",
	       (double)s->fwd_servfail);
	single(b, "mesosdns_forward_rejected_total", "counter",
	       "Queries answered SERVFAIL at once because too many were in flight or "
	       "waiting for a worker's forwarder.",
	       (double)s->fwd_rejected);
	single(b, "mesosdns_forward_dropped_replies_total", "counter",
	       "Upstream replies dropped (wrong address, ID or question).",
	       (double)s->fwd_dropped);
	single(b, "mesosdns_forward_inflight", "gauge", "Forwarded queries waiting for an upstream.",
	       (double)s->fwd_inflight);
	if (!s->upstreams || s->nupstreams == 0)
		return;
	upstream_family(b, s, "mesosdns_forward_queries_total", "counter",
			"Exchanges started with each upstream resolver.",
			offsetof(struct metrics_upstream, queries), 0);
	upstream_family(b, s, "mesosdns_forward_failures_total", "counter",
			"Upstream exchanges that failed (network error, SERVFAIL or REFUSED reply).",
			offsetof(struct metrics_upstream, failures), 0);
	upstream_family(b, s, "mesosdns_forward_timeouts_total", "counter",
			"Upstream exchanges that timed out.",
			offsetof(struct metrics_upstream, timeouts), 0);
	family(b, "mesosdns_forward_duration_seconds", "summary",
	       "Round-trip time of upstream exchanges that got a reply.");
	for (size_t i = 0; i < s->nupstreams; i++) {
		snprintf(lab, sizeof(lab), "upstream=\"%s\"",
			 metrics_escape_label(s->upstreams[i].name, up, sizeof(up)));
		sample(b, "mesosdns_forward_duration_seconds_sum", lab, s->upstreams[i].latency_sum);
		sample(b, "mesosdns_forward_duration_seconds_count", lab,
		       (double)s->upstreams[i].replies);
	}
	family(b, "mesosdns_forward_upstream_up", "gauge",
	       "0 while an upstream is marked down after a timeout, else 1.");
	for (size_t i = 0; i < s->nupstreams; i++) {
		snprintf(lab, sizeof(lab), "upstream=\"%s\"",
			 metrics_escape_label(s->upstreams[i].name, up, sizeof(up)));
		sample(b, "mesosdns_forward_upstream_up", lab, s->upstreams[i].down ? 0 : 1);
	}
}

static void render_state(struct mbuf *b, const struct metrics_snapshot *s)
{
	char lab[128];

	family(b, "mesosdns_state_fetches_total", "counter",
	       "State fetches (one master asked, or one stateFile read) by result and reason.");
	for (int i = 0; i < METRICS_NFETCH; i++) {
		snprintf(lab, sizeof(lab), "result=\"%s\",reason=\"%s\"", fetch_labels[i][0],
			 fetch_labels[i][1]);
		sample(b, "mesosdns_state_fetches_total", lab, (double)s->fetches[i]);
	}
	family(b, "mesosdns_state_fetch_duration_seconds", "histogram",
	       "Duration of HTTP state transfers from masters.");
	hist_series(b, "mesosdns_state_fetch_duration_seconds", "", &s->fetch_duration);
	family(b, "mesosdns_state_fetch_size_bytes", "histogram",
	       "Size of state documents received from masters.");
	hist_series(b, "mesosdns_state_fetch_size_bytes", "", &s->fetch_size);
	family(b, "mesosdns_zone_build_duration_seconds", "histogram",
	       "Time to parse a state document and build its zone.");
	hist_series(b, "mesosdns_zone_build_duration_seconds", "", &s->build_duration);
	family(b, "mesosdns_zone_builds_skipped_total", "counter",
	       "Refreshes whose state was not built, the zone it would give being the one "
	       "served: the same state (same_state) or the same model of it (same_model).");
	sample(b, "mesosdns_zone_builds_skipped_total", "reason=\"same_state\"",
	       (double)s->builds_skipped[METRICS_SKIP_SAME_STATE]);
	sample(b, "mesosdns_zone_builds_skipped_total", "reason=\"same_model\"",
	       (double)s->builds_skipped[METRICS_SKIP_SAME_MODEL]);
	family(b, "mesosdns_refreshes_total", "counter",
	       "Refresh cycles by result (failure: every master failed, the previous zone is kept).");
	sample(b, "mesosdns_refreshes_total", "result=\"success\"", (double)s->refresh_success);
	sample(b, "mesosdns_refreshes_total", "result=\"failure\"", (double)s->refresh_failure);
	single(b, "mesosdns_zone_changes_total", "counter",
	       "Zones published with new content (each gets a new serial).",
	       (double)s->zone_changes);
	single(b, "mesosdns_leader_changes_total", "counter",
	       "Times the leading master named by the state changed between loads.",
	       (double)s->leader_changes);
	if (s->last_success > 0) {
		family(b, "mesosdns_last_successful_refresh_timestamp_seconds", "gauge",
		       "Unix time of the last successful refresh.");
		sample(b, "mesosdns_last_successful_refresh_timestamp_seconds", "", s->last_success);
		family(b, "mesosdns_last_successful_refresh_age_seconds", "gauge",
		       "Seconds since the last successful refresh.");
		sample(b, "mesosdns_last_successful_refresh_age_seconds", "",
		       s->now > s->last_success ? s->now - s->last_success : 0);
	}
}

static const char *const stream_result_names[METRICS_NSUB] = {
	"ok", "unsupported", "http_error", "network", "timeout", "bad_stream", "leader_moved",
	"other",
};
static const char *const stream_end_names[METRICS_NEND] = {
	"heartbeat_timeout", "closed", "network", "bad_stream", "leader_moved", "resubscribe",
	"other",
};

/* One counter family with a sample per label value, zeros included (the label sets are
 * fixed and short, and a rate() needs the series before its first increment). */
static void labelled_counter(struct mbuf *b, const char *name, const char *help,
			     const char *label, const char *const *values, const uint64_t *v,
			     size_t n)
{
	char lab[128];

	family(b, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		snprintf(lab, sizeof(lab), "%s=\"%s\"", label, values[i]);
		sample(b, name, lab, (double)v[i]);
	}
}

/*
 * Only with stateSource "stream": while polling these would be zeros for
 * ever, and mesosdns_stream_connected 0 would look like an outage.
 */
static void render_stream(struct mbuf *b, const struct metrics_snapshot *s)
{
	if (!s->has_stream)
		return;
	family(b, "mesosdns_stream_connected", "gauge",
	       "1 while a subscription to the master's event stream is live (its SUBSCRIBED "
	       "snapshot arrived and the stream has not ended); 0 means the state is polled.");
	sample(b, "mesosdns_stream_connected", "", s->stream_connected ? 1 : 0);
	labelled_counter(b, "mesosdns_stream_subscriptions_total",
			 "SUBSCRIBE attempts by result (ok: the snapshot arrived; unsupported: HTTP "
			 "404, 405 or 501, a master without the operator API, polled instead).",
			 "result", stream_result_names, s->stream_subscriptions, METRICS_NSUB);
	labelled_counter(b, "mesosdns_stream_disconnects_total",
			 "Live subscriptions that ended, by reason (heartbeat_timeout: silent for 3 "
			 "heartbeat intervals + 1 s).",
			 "reason", stream_end_names, s->stream_disconnects, METRICS_NEND);
	labelled_counter(b, "mesosdns_stream_events_total",
			 "Events received on the stream by type (other: types this version does "
			 "not know).",
			 "type", stream_event_names, s->stream_events, METRICS_NEVENTS);
	family(b, "mesosdns_stream_publish_delay_seconds", "histogram",
	       "Time from the arrival of an event to the publication of the zone that includes "
	       "it (the oldest event of each zone published from the stream).");
	hist_series(b, "mesosdns_stream_publish_delay_seconds", "", &s->stream_publish_delay);
}

static void render_zone(struct mbuf *b, const struct metrics_snapshot *s)
{
	char lab[64];

	single(b, "mesosdns_zone_loaded", "gauge",
	       "1 once a state has been loaded (before that, names in the domain get SERVFAIL).",
	       s->zone_loaded ? 1 : 0);
	family(b, "mesosdns_zone_serial", "gauge", "SOA serial of the zone served.");
	sample(b, "mesosdns_zone_serial", "", s->zone_serial);
	family(b, "mesosdns_zone_records", "gauge", "Records in the zone served, by type.");
	for (int i = 0; i < METRICS_NRR; i++) {
		snprintf(lab, sizeof(lab), "type=\"%s\"", rr_names[i]);
		sample(b, "mesosdns_zone_records", lab, (double)s->zone_records[i]);
	}
	family(b, "mesosdns_zone_memory_bytes", "gauge", "Memory held by the zone served.");
	sample(b, "mesosdns_zone_memory_bytes", "", (double)s->zone_memory);
}

static void render_misc(struct mbuf *b, const struct metrics_snapshot *s)
{
	char lab[256], ver[128];

	if (s->zk_connected >= 0) {
		family(b, "mesosdns_zookeeper_connected", "gauge",
		       "1 while the ZooKeeper session is connected.");
		sample(b, "mesosdns_zookeeper_connected", "", s->zk_connected);
		family(b, "mesosdns_zookeeper_leader_known", "gauge",
		       "1 while ZooKeeper names a leading master.");
		sample(b, "mesosdns_zookeeper_leader_known", "", s->zk_has_leader > 0);
		family(b, "mesosdns_zookeeper_leader_changes_total", "counter",
		       "Times the leader registered in ZooKeeper moved (the first leader counts).");
		sample(b, "mesosdns_zookeeper_leader_changes_total", "", (double)s->zk_leader_changes);
		family(b, "mesosdns_zookeeper_session_expiries_total", "counter",
		       "ZooKeeper sessions expired by the server.");
		sample(b, "mesosdns_zookeeper_session_expiries_total", "",
		       (double)s->zk_session_expiries);
	}
	family(b, "mesosdns_http_requests_total", "counter", "HTTP API requests by status code.");
	for (int c = 100; c < 600; c++) {
		if (!s->http_requests[c])
			continue;
		snprintf(lab, sizeof(lab), "code=\"%d\"", c);
		sample(b, "mesosdns_http_requests_total", lab, (double)s->http_requests[c]);
	}
	family(b, "mesosdns_http_connections", "gauge", "Open HTTP API connections.");
	sample(b, "mesosdns_http_connections", "", (double)s->http_connections);
	family(b, "mesosdns_build_info", "gauge", "Version of the running mesos-dnsd.");
	snprintf(lab, sizeof(lab), "version=\"%s\"",
		 metrics_escape_label(s->version ? s->version : "", ver, sizeof(ver)));
	sample(b, "mesosdns_build_info", lab, 1);
}

char *metrics_render(const struct metrics_snapshot *s, size_t *len)
{
	struct mbuf b = { 0 };

	render_dns(&b, s);
	render_forward(&b, s);
	render_state(&b, s);
	render_stream(&b, s);
	render_zone(&b, s);
	render_misc(&b, s);
	if (b.oom || !b.p) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}
