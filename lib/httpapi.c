/* lib/httpapi.c -- the HTTP API of behaviour.md §5: mesos-dns endpoints, /metrics, /health, /ready. */
#include "lib/httpapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/dnsserver.h"
#include "lib/forward.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/refresh.h"
#include "lib/zk.h"
#include "lib/zonepub.h"
#include "zone/dname.h"
#include "zone/meta.h"
#include "zone/zone.h"

/* Upstreams shown by /metrics at most (the config allows no more in practice). */
#define MAX_UPSTREAMS 64

struct httpapi {
	struct event_base *base;
	struct httpapi_opts o;
	struct evhttp *http;
	struct evconnlistener *listener;	/* NULL once closing */
	struct evhttp_bound_socket *bound;
	int paused;			/* listener disabled at the connection cap */
	int ready;
	long nconns;			/* open connections */

	/*
	 * Connections are counted at accept (the bufferevent callback) and
	 * uncounted by the connection's close callback.  libevent 2.1 hands
	 * out the evhttp_connection only after our bufferevent callback has
	 * returned, so new bufferevents wait here, with a reference held,
	 * until setup_ev runs (right after the accept, in the same loop pass)
	 * and finds their connection through the bufferevent's callback
	 * argument.  A bufferevent freed in between has had its callbacks
	 * cleared by bufferevent_free, which is how we tell.
	 */
	struct bufferevent **pending;
	size_t npending, cappending;
	struct event *setup_ev;

	/* The open connections (set up by setup_cb), for the request deadline. */
	struct http_conn *conns;
	struct event *sweep_ev;		/* every second: sweep_cb */
};

/*
 * A connection must bring each request whole within timeout_seconds of the
 * last reply's end (or of its accept).  libevent's own timeouts restart with
 * every byte, so a client trickling its request head held a connection for
 * hours, and max_connections of them kept everyone out, /health included.
 * libevent 2.1 has no hook at a request's start; the time since the last
 * request or the last output still being written is what is watched, once a
 * second (sweep_cb).
 */
struct http_conn {
	struct evhttp_connection *evcon;
	struct httpapi *h;
	double since;			/* accept, last request, or output last seen */
	struct http_conn *prev, *next;
};

/* ---- routing ------------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode in[0..n) into out (cap bytes, NUL-terminated).  -1 on a bad
 * escape, a NUL (raw or encoded) or no room. */
static int pct_decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* A name as the API accepts it: labels of [A-Za-z0-9_-], 1..63 bytes each,
 * at most 253 bytes without the optional trailing dot. */
static int name_ok(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

enum httpapi_route httpapi_route(const char *path, size_t len, char *arg, size_t argcap)
{
	/* Longest path we route: /v1/hosts/<253-byte name, escaped>/ports. */
	enum { MAXSEG = 5, SEGCAP = 256 };
	char seg[MAXSEG][SEGCAP];
	size_t nseg = 0, i = 0;

	if (argcap)
		arg[0] = '\0';
	if (len == 0 || path[0] != '/')
		return HTTPAPI_BAD_REQUEST;
	i = 1;
	while (i <= len) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		if (j == i && j == len && nseg == 0)
			break;			/* "/" alone */
		if (nseg == MAXSEG)
			return HTTPAPI_NOT_FOUND;
		if (pct_decode(path + i, j - i, seg[nseg], SEGCAP) != 0)
			return HTTPAPI_BAD_REQUEST;
		nseg++;
		i = j + 1;
	}
	/* Empty segments ("//", a trailing '/') match no route. */
	for (size_t k = 0; k < nseg; k++)
		if (seg[k][0] == '\0')
			return HTTPAPI_NOT_FOUND;

#define SEG(k, s) (strcmp(seg[k], s) == 0)
	if (nseg == 1) {
		if (SEG(0, "metrics"))
			return HTTPAPI_METRICS;
		if (SEG(0, "health"))
			return HTTPAPI_HEALTH;
		if (SEG(0, "ready"))
			return HTTPAPI_READY;
		return HTTPAPI_NOT_FOUND;
	}
	if (nseg < 2 || !SEG(0, "v1"))
		return HTTPAPI_NOT_FOUND;
	if (nseg == 2) {
		if (SEG(1, "version"))
			return HTTPAPI_VERSION;
		if (SEG(1, "config"))
			return HTTPAPI_CONFIG;
		if (SEG(1, "enumerate"))
			return HTTPAPI_ENUMERATE;
		if (SEG(1, "axfr"))
			return HTTPAPI_AXFR;
		return HTTPAPI_NOT_FOUND;
	}
	enum httpapi_route r;
	if (nseg == 3 && SEG(1, "hosts"))
		r = HTTPAPI_HOSTS;
	else if (nseg == 4 && SEG(1, "hosts") && SEG(3, "ports"))
		r = HTTPAPI_HOST_PORTS;
	else if (nseg == 3 && SEG(1, "services"))
		r = HTTPAPI_SERVICES;
	else
		return HTTPAPI_NOT_FOUND;
#undef SEG
	if (!name_ok(seg[2]) || strlen(seg[2]) >= argcap)
		return HTTPAPI_BAD_REQUEST;
	memcpy(arg, seg[2], strlen(seg[2]) + 1);
	return r;
}

/* ---- replies ------------------------------------------------------------ */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Send body (len bytes) with a content type; HEAD gets the headers only. */
static void reply_raw(struct evhttp_request *req, int status, const char *ctype,
		      const char *body, size_t len)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(hdr, "Content-Type", ctype);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
	metrics_http_request(status);
	if (!buf) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* libevent leaves the body out of HEAD replies; the length is
		 * still the one a GET would get. */
		char cl[32];
		snprintf(cl, sizeof(cl), "%zu", len);
		evhttp_add_header(hdr, "Content-Length", cl);
	} else if (body && len) {
		evbuffer_add(buf, body, len);
	}
	evhttp_send_reply(req, status, reason_phrase(status), buf);
	evbuffer_free(buf);
}

/* Send j (reference stolen) as JSON. */
static void reply_json(struct evhttp_request *req, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	if (!s) {
		static const char oom[] = "{\"error\":\"out of memory\",\"status\":500}\n";
		reply_raw(req, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (t) {
		s = t;
		s[n++] = '\n';
		s[n] = '\0';
	}
	reply_raw(req, status, "application/json", s, n);
	free(s);
}

static void reply_error(struct evhttp_request *req, int status, const char *msg)
{
	reply_json(req, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

/* ---- zone helpers ---------------------------------------------------------- */

/* Addresses of a node (A then AAAA) appended to out as text; returns how many. */
static size_t node_ips(const struct zone_node *n, char ips[][INET6_ADDRSTRLEN], size_t max)
{
	static const uint16_t types[2] = { RR_A, RR_AAAA };
	size_t k = 0;

	for (int t = 0; t < 2; t++) {
		const struct zone_rrset *rs = zone_node_rrset(n, types[t]);
		for (unsigned i = 0; rs && i < rs->count && k < max; i++)
			inet_ntop(types[t] == RR_A ? AF_INET : AF_INET6, rs->rrs[i].rdata, ips[k++],
				  INET6_ADDRSTRLEN);
	}
	return k;
}

#define MAX_IPS 256

static json_t *do_hosts(const char *arg)
{
	uint8_t wire[DNAME_MAXLEN];
	char fqdn[1024];
	static char ips[MAX_IPS][INET6_ADDRSTRLEN];
	size_t len = dname_from_text(arg, wire);
	const struct zone *z = zonepub_current();
	const struct zone_node *n = (z && len) ? zone_lookup(z, wire, len) : NULL;
	json_t *a = json_array();
	size_t k = n ? node_ips(n, ips, MAX_IPS) : 0;

	if (!a)
		return NULL;
	if (len)
		dname_to_text(wire, fqdn, sizeof(fqdn));
	for (size_t i = 0; i < k; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "host", fqdn, "ip", ips[i]));
	if (k == 0)	/* mesos-dns's answer for an unknown name */
		json_array_append_new(a, json_pack("{s:s, s:s}", "host", "", "ip", ""));
	return a;
}

static json_t *do_services(const char *arg)
{
	uint8_t wire[DNAME_MAXLEN];
	char target[1024], port[8];
	static char ips[MAX_IPS][INET6_ADDRSTRLEN];
	size_t len = dname_from_text(arg, wire);
	const struct zone *z = zonepub_current();
	const struct zone_node *n = (z && len) ? zone_lookup(z, wire, len) : NULL;
	const struct zone_rrset *rs = zone_node_rrset(n, RR_SRV);
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (unsigned i = 0; rs && i < rs->count; i++) {
		const struct zone_rr *rr = &rs->rrs[i];
		size_t k = rr->target ? node_ips(rr->target, ips, MAX_IPS) : 0;

		dname_to_text(rr->rdata + 6, target, sizeof(target));
		snprintf(port, sizeof(port), "%u", (unsigned)(rr->rdata[4] << 8 | rr->rdata[5]));
		if (k == 0)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "service", arg,
							   "host", target, "ip", "", "port", port));
		for (size_t j = 0; j < k; j++)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "service", arg,
							   "host", target, "ip", ips[j],
							   "port", port));
	}
	if (json_array_size(a) == 0)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "service", "", "host", "",
						   "ip", "", "port", ""));
	return a;
}

/* SRV records anywhere in the zone whose target is the host. */
static json_t *do_host_ports(const char *arg)
{
	uint8_t wire[DNAME_MAXLEN];
	char fqdn[1024], owner[1024], port[8];
	static char ips[MAX_IPS][INET6_ADDRSTRLEN];
	size_t len = dname_from_text(arg, wire);
	const struct zone *z = zonepub_current();
	const struct zone_node *host = (z && len) ? zone_lookup(z, wire, len) : NULL;
	size_t k = host ? node_ips(host, ips, MAX_IPS) : 0;
	json_t *a = json_array();

	if (!a)
		return NULL;
	if (len)
		dname_to_text(wire, fqdn, sizeof(fqdn));
	for (size_t i = 0; host && z && i < z->nnodes; i++) {
		const struct zone_node *n = z->nodes[i];
		const struct zone_rrset *rs = zone_node_rrset(n, RR_SRV);

		for (unsigned r = 0; rs && r < rs->count; r++) {
			const struct zone_rr *rr = &rs->rrs[r];
			if (rr->rdlen != 6 + len || memcmp(rr->rdata + 6, wire, len) != 0)
				continue;
			dname_to_text(n->name, owner, sizeof(owner));
			snprintf(port, sizeof(port), "%u",
				 (unsigned)(rr->rdata[4] << 8 | rr->rdata[5]));
			for (size_t j = 0; j < (k ? k : 1); j++)
				json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "host", fqdn,
								   "ip", k ? ips[j] : "",
								   "port", port, "service", owner));
		}
	}
	if (json_array_size(a) == 0)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "host", "", "ip", "",
						   "port", "", "service", ""));
	return a;
}

static json_t *do_enumerate(void)
{
	const struct zone *z = zonepub_current();
	const struct zone_meta *m = z ? z->meta : NULL;
	json_t *fws = json_array();

	for (size_t f = 0; fws && m && f < m->nframeworks; f++) {
		const struct zone_meta_framework *fw = &m->frameworks[f];
		json_t *tasks = json_array();

		for (size_t t = fw->first; tasks && t < fw->first + fw->n; t++) {
			const struct zone_meta_task *tk = &m->tasks[t];
			json_t *recs = json_array();

			for (size_t r = tk->first; recs && r < tk->first + tk->n; r++) {
				const struct zone_meta_record *rec = &m->records[r];
				char name[DNAME_TEXT_MAX + 2], host[DNAME_TEXT_MAX + 16];
				json_array_append_new(recs, json_pack(
					"{s:s, s:s, s:s}",
					"name", zone_meta_name(rec, name, sizeof(name)),
					"host", zone_meta_host(rec, host, sizeof(host)),
					"rtype", zone_meta_type_name(rec->type)));
			}
			json_array_append_new(tasks, json_pack("{s:s, s:s, s:o*}", "name", tk->name,
								"id", tk->id, "records", recs));
		}
		/* mesos-dns's struct puts "tasks" before "name". */
		json_array_append_new(fws, json_pack("{s:o*, s:s}", "tasks", tasks, "name", fw->name));
	}
	return json_pack("{s:o*}", "frameworks", fws);
}

static json_t *do_axfr(const struct config *cfg)
{
	const struct zone *z = zonepub_current();
	json_t *as = json_object(), *aaaas = json_object(), *srvs = json_object();
	char owner[1024], text[1100];
	static char ips[MAX_IPS][INET6_ADDRSTRLEN];

	for (size_t i = 0; z && as && aaaas && srvs && i < z->nnodes; i++) {
		const struct zone_node *n = z->nodes[i];
		for (unsigned j = 0; j < n->nrrsets; j++) {
			const struct zone_rrset *rs = &n->rrsets[j];
			json_t *set = rs->type == RR_A ? as : rs->type == RR_AAAA ? aaaas :
				      rs->type == RR_SRV ? srvs : NULL;
			if (!set)
				continue;
			json_t *list = json_array();
			for (unsigned r = 0; list && r < rs->count; r++) {
				const uint8_t *d = rs->rrs[r].rdata;
				if (rs->type == RR_SRV) {
					char t[1024];
					snprintf(text, sizeof(text), "%s:%u",
						 dname_to_text(d + 6, t, sizeof(t)),
						 (unsigned)(d[4] << 8 | d[5]));
				} else {
					inet_ntop(rs->type == RR_A ? AF_INET : AF_INET6, d, ips[0],
						  INET6_ADDRSTRLEN);
					snprintf(text, sizeof(text), "%s", ips[0]);
				}
				json_array_append_new(list, json_string(text));
			}
			dname_to_text(n->name, owner, sizeof(owner));
			json_object_set_new(set, owner, list);
		}
	}
	char mname[300], rname[300];
	snprintf(mname, sizeof(mname), "%s.", cfg->soa_mname);
	snprintf(rname, sizeof(rname), "%s.", cfg->soa_rname);
	return json_pack("{s:I, s:I, s:i, s:s, s:s, s:s, s:{s:o*, s:o*, s:o*}}",
			 "TTL", (json_int_t)cfg->ttl,
			 "Serial", (json_int_t)(z && z->loaded ? z->serial : 0),
			 "RefreshSeconds", cfg->refresh_seconds,
			 "Mname", mname, "Rname", rname, "Domain", cfg->domain,
			 "Records", "As", as, "AAAAs", aaaas, "SRVs", srvs);
}

/* ---- health and metrics -------------------------------------------------- */

static void do_health(struct httpapi *h, struct evhttp_request *req)
{
	const struct zone *z = zonepub_current();
	struct refresh_stats st;
	struct zk_status zk;
	time_t now = time(NULL);
	long limit = 3L * h->o.cfg->refresh_seconds;
	char reason[700] = "";

	memset(&st, 0, sizeof(st));
	if (h->o.refresher)
		refresher_stats(h->o.refresher, &st);
	if (h->o.zk)
		zk_status(h->o.zk, &zk);
	long age = st.last_success ? (long)(now - st.last_success) : -1;

	if (!z || !z->loaded) {
		snprintf(reason, sizeof(reason), "no zone loaded yet%s%.500s",
			 st.last_error[0] ? ": " : "", st.last_error);
	} else if (age < 0 || age > limit) {
		snprintf(reason, sizeof(reason),
			 "stale: last successful refresh %ld s ago, limit %ld s (3 x refreshSeconds)%s%.500s",
			 age, limit, st.last_error[0] ? "; last error: " : "", st.last_error);
	} else if (h->o.zk && zk.degraded) {
		snprintf(reason, sizeof(reason),
			 "ZooKeeper has named no leading master for over %d s (zkDetectionTimeout)",
			 h->o.cfg->zk_detection_timeout);
	}
	int ok = reason[0] == '\0';
	json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}",
			      "status", ok ? "ok" : "unavailable",
			      "zone_loaded", z && z->loaded,
			      "serial", (json_int_t)(z && z->loaded ? z->serial : 0),
			      "records", (json_int_t)(z && z->loaded ? z->nrecords : 0),
			      "last_success_age_seconds", (json_int_t)age,
			      "refresh_failures", (json_int_t)st.failures,
			      "refresh_successes", (json_int_t)st.successes);
	if (j && !ok)
		json_object_set_new(j, "reason", json_string(reason));
	if (j && h->o.zk)
		json_object_set_new(j, "zookeeper",
				    json_pack("{s:b, s:b, s:s}", "connected", zk.connected,
					      "leader_known", zk.have_leader, "leader", zk.leader));
	reply_json(req, ok ? 200 : 503, j);
}

/* Forwarding counters of the DNS workers into s (names borrowed from dns). */
static void forward_metrics(const struct dnsserver *dns, struct metrics_snapshot *s,
			    struct metrics_upstream *ups, size_t cap)
{
	struct fwd_stats tot;
	struct fwd_upstream_stats up[MAX_UPSTREAMS];
	size_t n = dnsserver_forward_stats(dns, &tot, up, cap < MAX_UPSTREAMS ? cap : MAX_UPSTREAMS);

	if (n == 0)
		return;
	if (n > cap)
		n = cap;
	s->has_forward = 1;
	s->fwd_forwarded = tot.forwarded;
	s->fwd_servfail = tot.servfail;
	s->fwd_rejected = tot.rejected;
	s->fwd_dropped = tot.dropped;
	s->fwd_inflight = tot.inflight;
	for (size_t i = 0; i < n; i++) {
		ups[i].name = dnsserver_forward_upstream_name(dns, i);
		ups[i].queries = up[i].queries;
		ups[i].replies = up[i].replies;
		ups[i].failures = up[i].failures;
		ups[i].timeouts = up[i].timeouts;
		ups[i].latency_sum = (double)up[i].latency_us * 1e-6;
		ups[i].down = up[i].down;
	}
	s->upstreams = ups;
	s->nupstreams = n;
}

static void do_metrics(struct httpapi *h, struct evhttp_request *req)
{
	struct metrics_snapshot s;
	struct metrics_upstream ups[MAX_UPSTREAMS];
	struct refresh_stats st;
	struct zk_status zk;
	const struct zone *z = zonepub_current();

	metrics_collect(&s);
	s.version = h->o.version;
	s.now = (double)time(NULL);
	if (h->o.refresher) {
		refresher_stats(h->o.refresher, &st);
		s.refresh_success = st.successes;
		s.refresh_failure = st.failures;
		s.zone_changes = st.zone_changes;
		s.last_success = (double)st.last_success;
	}
	if (z && z->loaded) {
		s.zone_loaded = 1;
		s.zone_serial = z->serial;
		s.zone_memory = zone_memory(z);
		for (size_t i = 0; i < z->nnodes; i++) {
			const struct zone_node *n = z->nodes[i];
			for (unsigned j = 0; j < n->nrrsets; j++) {
				const struct zone_rrset *rs = &n->rrsets[j];
				int k = rs->type == RR_A ? METRICS_RR_A : rs->type == RR_AAAA ?
					METRICS_RR_AAAA : rs->type == RR_SRV ? METRICS_RR_SRV :
					rs->type == RR_SOA ? METRICS_RR_SOA :
					rs->type == RR_NS ? METRICS_RR_NS : -1;
				if (k >= 0)
					s.zone_records[k] += rs->count;
			}
		}
	}
	if (h->o.dns)
		forward_metrics(h->o.dns, &s, ups, MAX_UPSTREAMS);
	if (h->o.zk) {
		zk_status(h->o.zk, &zk);
		s.zk_connected = zk.connected;
		s.zk_has_leader = zk.have_leader;
		s.zk_leader_changes = zk.leader_changes;
		s.zk_session_expiries = zk.session_expiries;
	}
	s.http_connections = (uint64_t)h->nconns;
	size_t len = 0;
	char *text = metrics_render(&s, &len);
	if (!text) {
		reply_error(req, 500, "out of memory");
		return;
	}
	reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

/* ---- request dispatch ------------------------------------------------------ */

static void conn_seen(struct httpapi *h, struct evhttp_connection *evcon);

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct httpapi *h = arg;
	conn_seen(h, evhttp_request_get_connection(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *uri = evhttp_request_get_uri(req);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	char arg_name[256];

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_error(req, 405, "method not allowed: use GET or HEAD");
		return;
	}
	if (!uri || strlen(uri) > HTTPAPI_MAX_URI) {
		reply_error(req, 414, "request target too long");
		return;
	}
	if (!path || !*path) {
		reply_error(req, 400, "request target has no path");
		return;
	}
	log_debug("http: %s %s", cmd == EVHTTP_REQ_GET ? "GET" : "HEAD", uri);

	enum httpapi_route r = httpapi_route(path, strlen(path), arg_name, sizeof(arg_name));
	switch (r) {
	case HTTPAPI_NOT_FOUND:
		reply_error(req, 404, "no such path");
		return;
	case HTTPAPI_BAD_REQUEST:
		reply_error(req, 400, "malformed path or name (names are DNS names of "
				      "letters, digits, '-' and '_')");
		return;
	case HTTPAPI_VERSION:
		reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "Service", "mesos-dnsd",
					       "URL", h->o.url ? h->o.url : "",
					       "Version", h->o.version ? h->o.version : ""));
		return;
	case HTTPAPI_CONFIG: {
		char *s = config_dump(h->o.cfg);
		if (!s) {
			reply_error(req, 500, "out of memory");
			return;
		}
		size_t n = strlen(s);
		char *t = realloc(s, n + 2);
		if (t) {
			s = t;
			s[n++] = '\n';
			s[n] = '\0';
		}
		reply_raw(req, 200, "application/json", s, n);
		free(s);
		return;
	}
	case HTTPAPI_HOSTS:
		reply_json(req, 200, do_hosts(arg_name));
		return;
	case HTTPAPI_HOST_PORTS:
		reply_json(req, 200, do_host_ports(arg_name));
		return;
	case HTTPAPI_SERVICES:
		reply_json(req, 200, do_services(arg_name));
		return;
	case HTTPAPI_ENUMERATE:
	case HTTPAPI_AXFR:
		/* As in mesos-dns, the routes do not exist without EnumerationOn. */
		if (!h->o.cfg->enumeration_on) {
			reply_error(req, 404, "no such path (EnumerationOn is false)");
			return;
		}
		reply_json(req, 200, r == HTTPAPI_ENUMERATE ? do_enumerate() : do_axfr(h->o.cfg));
		return;
	case HTTPAPI_METRICS:
		do_metrics(h, req);
		return;
	case HTTPAPI_HEALTH:
		do_health(h, req);
		return;
	case HTTPAPI_READY:
		if (h->ready)
			reply_json(req, 200, json_pack("{s:b}", "ready", 1));
		else
			reply_json(req, 503, json_pack("{s:b, s:s}", "ready", 0, "reason",
						       "DNS is not being served yet"));
		return;
	}
	reply_error(req, 500, "unhandled route");
}

/* ---- connection cap ---------------------------------------------------------- */

static void conn_count(struct httpapi *h, long delta)
{
	h->nconns += delta;
	if (!h->listener)
		return;
	if (!h->paused && h->nconns >= h->o.max_connections) {
		evconnlistener_disable(h->listener);
		h->paused = 1;
		log_warn("http: %ld connections open, not accepting more until one closes",
			 h->nconns);
	} else if (h->paused && h->nconns < h->o.max_connections) {
		evconnlistener_enable(h->listener);
		h->paused = 0;
	}
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg;
	struct httpapi *h = c->h;
	(void)evcon;

	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	conn_count(h, -1);
}

/* A request came whole on evcon: its clock starts again. */
static void conn_seen(struct httpapi *h, struct evhttp_connection *evcon)
{
	for (struct http_conn *c = h->conns; c; c = c->next)
		if (c->evcon == evcon) {
			c->since = clock_mono();
			return;
		}
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpapi *h = arg;
	double now = clock_mono();
	(void)fd; (void)what;

	for (struct http_conn *c = h->conns, *next; c; c = next) {
		next = c->next;	/* c may be freed below (conn_closed) */
		struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
		if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
			c->since = now;	/* a reply still going out: libevent's write timeout */
		} else if (now - c->since > h->o.timeout_seconds) {
			log_debug("http: closing a connection that brought no whole request in %d s",
				  h->o.timeout_seconds);
			evhttp_connection_free(c->evcon);
		}
	}
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct httpapi *h = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (!bev)
		return NULL;	/* libevent then makes its own; it goes uncounted */
	/*
	 * While evhttp writes a reply it keeps reading (to see the client
	 * close) with no request being parsed, so the header and body limits
	 * do not apply: a client that sent bytes without reading the reply
	 * grew this buffer by hundreds of MB a second.  Stop reading once a
	 * request's worth is waiting; evhttp drains it as it parses.
	 */
	bufferevent_setwatermark(bev, EV_READ, 0, HTTPAPI_MAX_HEADERS + HTTPAPI_MAX_BODY + 4096);
	if (h->npending == h->cappending) {
		size_t nc = h->cappending ? h->cappending * 2 : 16;
		struct bufferevent **np = realloc(h->pending, nc * sizeof(*np));
		if (!np)
			return bev;
		h->pending = np;
		h->cappending = nc;
	}
	bufferevent_incref(bev);
	h->pending[h->npending++] = bev;
	event_active(h->setup_ev, 0, 0);
	conn_count(h, +1);
	return bev;
}

static void setup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpapi *h = arg;
	(void)fd; (void)what;

	for (size_t i = 0; i < h->npending; i++) {
		struct bufferevent *bev = h->pending[i];
		bufferevent_data_cb rd = NULL;
		void *evcon = NULL;

		bufferevent_getcb(bev, &rd, NULL, NULL, &evcon);
		struct http_conn *c = NULL;
		if (!rd || !evcon) {
			conn_count(h, -1);	/* already freed by libevent */
		} else if (!(c = calloc(1, sizeof(*c)))) {
			evhttp_connection_free(evcon);	/* no memory to watch it */
			conn_count(h, -1);
		} else {
			c->evcon = evcon;
			c->h = h;
			c->since = clock_mono();
			c->next = h->conns;
			if (h->conns)
				h->conns->prev = c;
			h->conns = c;
			evhttp_connection_set_closecb(evcon, conn_closed, c);
		}
		bufferevent_decref(bev);
	}
	h->npending = 0;
}

/* ---- set-up ------------------------------------------------------------------- */

static int bind_socket(const char *addr, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		snprintf(err, errlen, "http: HTTPListener %s is not an IP address", addr);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "http: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "http: cannot bind TCP %s port %u (HTTPListener, httpport): %s",
			 addr, (unsigned)port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct httpapi *httpapi_new(struct event_base *base, const struct httpapi_opts *o,
			    char *err, size_t errlen)
{
	struct httpapi *h = calloc(1, sizeof(*h));
	int fd = -1;

	if (!h) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	h->base = base;
	h->o = *o;
	if (h->o.max_connections <= 0)
		h->o.max_connections = 128;
	if (h->o.timeout_seconds <= 0)
		h->o.timeout_seconds = 10;
	fd = bind_socket(o->listener, o->port, err, errlen);
	if (fd < 0)
		goto fail;
	h->setup_ev = event_new(base, -1, 0, setup_cb, h);
	h->sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, h);
	h->http = evhttp_new(base);
	h->listener = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!h->setup_ev || !h->sweep_ev || !h->http || !h->listener) {
		snprintf(err, errlen, "http: cannot set up the server");
		if (!h->listener)
			close(fd);
		goto fail;
	}
	h->bound = evhttp_bind_listener(h->http, h->listener);
	if (!h->bound) {
		snprintf(err, errlen, "http: cannot set up the listener");
		goto fail;
	}
	/* Every method reaches request_cb so that it can answer 405 with Allow. */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->http, HTTPAPI_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, HTTPAPI_MAX_BODY);
	evhttp_set_timeout(h->http, h->o.timeout_seconds);
	struct timeval second = { 1, 0 };
	evtimer_add(h->sweep_ev, &second);
	evhttp_set_bevcb(h->http, bev_cb, h);
	evhttp_set_gencb(h->http, request_cb, h);
	log_info("http: serving on %s port %u", o->listener, (unsigned)o->port);
	return h;
fail:
	httpapi_free(h);
	return NULL;
}

void httpapi_set_ready(struct httpapi *h, int ready)
{
	if (h)
		h->ready = ready;
}

void httpapi_set_config(struct httpapi *h, const struct config *cfg)
{
	if (h)
		h->o.cfg = cfg;
}

void httpapi_set_zk(struct httpapi *h, const struct zk *zk)
{
	if (h)
		h->o.zk = zk;
}

void httpapi_free(struct httpapi *h)
{
	if (!h)
		return;
	/* evhttp_free frees a bound listener, then the connections, whose close
	 * callbacks still count into h: they must not touch the listener. */
	struct evconnlistener *l = h->listener;
	h->listener = NULL;
	if (l && !h->bound)
		evconnlistener_free(l);
	if (h->http)
		evhttp_free(h->http);
	for (size_t i = 0; i < h->npending; i++)
		bufferevent_decref(h->pending[i]);
	if (h->setup_ev)
		event_free(h->setup_ev);
	if (h->sweep_ev)
		event_free(h->sweep_ev);
	free(h->pending);
	free(h);
}
