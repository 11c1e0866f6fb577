/* tests/unit/test_metrics.c -- per-worker counting, summing and the Prometheus text format. */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/stream.h"
#include "tests/unit/tap.h"

/* 1 when text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

static void test_escape_and_values(void)
{
	char buf[128];

	is_str(metrics_escape_label("a\"b\\c\nd", buf, sizeof(buf)), "a\\\"b\\\\c\\nd",
	       "label values escape quote, backslash and newline");
	is_str(metrics_escape_label("8.8.8.8:53", buf, sizeof(buf)), "8.8.8.8:53",
	       "plain label values are unchanged");
	is_str(metrics_escape_label("\"\"\"", buf, 5), "\\\"\\\"",
	       "a short buffer cuts between escapes, never inside one");
	is_str(metrics_format_value(0, buf, sizeof(buf)), "0", "zero");
	is_str(metrics_format_value(1700000000, buf, sizeof(buf)), "1700000000",
	       "integers print without exponent or point");
	is_str(metrics_format_value(1.5, buf, sizeof(buf)), "1.5", "1.5");
	is_str(metrics_format_value(0.1, buf, sizeof(buf)), "0.1", "0.1 in shortest form");
	is_str(metrics_format_value(0.000005, buf, sizeof(buf)), "5e-06", "5 us");
	is_str(metrics_format_value(1.0 / 0.0, buf, sizeof(buf)), "+Inf", "+Inf");
	is_str(metrics_format_value(-1.0 / 0.0, buf, sizeof(buf)), "-Inf", "-Inf");
	is_str(metrics_format_value(0.0 / 0.0, buf, sizeof(buf)), "NaN", "NaN");
}

static void test_slots(void)
{
	is_int(metrics_qtype_of(1), METRICS_QT_A, "qtype 1 is A");
	is_int(metrics_qtype_of(28), METRICS_QT_AAAA, "qtype 28 is AAAA");
	is_int(metrics_qtype_of(33), METRICS_QT_SRV, "qtype 33 is SRV");
	is_int(metrics_qtype_of(255), METRICS_QT_ANY, "qtype 255 is ANY");
	is_int(metrics_qtype_of(16), METRICS_QT_OTHER, "TXT counts as other");
	is_int(metrics_rcode_of(3), METRICS_RC_NXDOMAIN, "rcode 3 is NXDOMAIN");
	is_int(metrics_rcode_of(16), METRICS_RC_BADVERS, "rcode 16 is BADVERS");
	is_int(metrics_rcode_of(9), METRICS_RC_OTHER, "NOTAUTH counts as other");
	is_int(metrics_fetch_of_error(MDNS_ETIMEDOUT), METRICS_FETCH_TIMEOUT, "timeout reason");
	is_int(metrics_fetch_of_error(MDNS_EHTTP), METRICS_FETCH_HTTP, "http reason");
	is_int(metrics_fetch_of_error(MDNS_ECURL), METRICS_FETCH_CONNECT, "connect reason");
	is_int(metrics_fetch_of_error(MDNS_ETOOBIG), METRICS_FETCH_TOO_BIG, "too_big reason");
	is_int(metrics_fetch_of_error(MDNS_ENOMEM), METRICS_FETCH_OTHER, "other reason");
}

/* Two workers count; a scrape sums them. */
static void test_workers_sum(void)
{
	struct metrics_dns *a = metrics_dns_new(), *b = metrics_dns_new();
	struct metrics_snapshot s;

	ok(a && b && a != b, "two worker blocks");
	ok(((uintptr_t)a & 63) == 0 && ((uintptr_t)b & 63) == 0, "blocks are cache-line aligned");
	for (int i = 0; i < 3; i++)
		metrics_dns_reply(a, METRICS_UDP, 1, 0, METRICS_SRC_AUTHORITATIVE, 100, 0);
	metrics_dns_reply(b, METRICS_UDP, 1, 0, METRICS_SRC_AUTHORITATIVE, 600, 1);
	metrics_dns_reply(b, METRICS_TCP, 33, 3, METRICS_SRC_AUTHORITATIVE, 90, 0);
	metrics_dns_reply(b, METRICS_UDP, 16, 5, METRICS_SRC_LOCAL, 40, 0);
	metrics_dns_reply(a, METRICS_UDP, 0, 0, METRICS_SRC_LOCAL, 0, 0);
	metrics_dns_reply(NULL, METRICS_UDP, 1, 0, METRICS_SRC_LOCAL, 10, 0);
	metrics_dns_time(a, METRICS_UDP, 3000);		/* 3 us: first bucket */
	metrics_dns_time(b, METRICS_UDP, 20000);	/* 20 us: le 2.5e-05 */
	metrics_dns_time(b, METRICS_UDP, 500000000);	/* 0.5 s: +Inf */

	/* A worker's second thread: summed, not counted as a worker. */
	struct metrics_dns *c = metrics_dns_new_extra();
	ok(c && ((uintptr_t)c & 63) == 0, "extra block, cache-line aligned");
	metrics_dns_forwarded(c, METRICS_UDP, 1);
	/* Two UDP threads' reply caches: totals, set (not added) each time. */
	uint64_t ca[METRICS_NCACHE] = { 1, 1, 1, 1, 1, 1024 }, cb[METRICS_NCACHE] = { 7, 2, 1, 1, 512, 1024 };
	metrics_dns_cache(a, ca);
	ca[METRICS_CACHE_HIT] = 5;
	metrics_dns_cache(a, ca);
	metrics_dns_cache(b, cb);
	metrics_dns_cache(NULL, cb);

	metrics_collect(&s);
	is_int(s.dns_workers, 2, "both workers registered, the extra block not counted");
	is_int(s.requests[METRICS_UDP][METRICS_QT_A][METRICS_RC_UPSTREAM][METRICS_SRC_FORWARDED],
	       1, "the extra block's forwarded query summed");
	is_int(s.requests[METRICS_UDP][METRICS_QT_A][METRICS_RC_NOERROR][METRICS_SRC_AUTHORITATIVE],
	       4, "UDP A NOERROR summed over the workers");
	is_int(s.requests[METRICS_TCP][METRICS_QT_SRV][METRICS_RC_NXDOMAIN][METRICS_SRC_AUTHORITATIVE],
	       1, "TCP SRV NXDOMAIN");
	is_int(s.requests[METRICS_UDP][METRICS_QT_OTHER][METRICS_RC_REFUSED][METRICS_SRC_LOCAL], 1,
	       "other/REFUSED/local");
	is_int(s.dropped[METRICS_UDP], 1, "a packet without reply is counted as dropped only");
	is_int(s.truncated[METRICS_UDP], 1, "one truncated reply");
	ok(s.cache[METRICS_CACHE_HIT] == 12 && s.cache[METRICS_CACHE_MISS] == 3 &&
	   s.cache[METRICS_CACHE_BYTES] == 513, "reply cache totals: the last of each thread, summed");
	is_int(s.size[METRICS_UDP].counts[1], 3, "three 100-byte replies in the 128 bucket");
	is_int(s.size[METRICS_UDP].counts[4], 1, "the 600-byte reply in the 1024 bucket");
	ok(s.size[METRICS_UDP].sum == 3 * 100 + 600 + 40, "size sum");
	is_int(s.duration[METRICS_UDP].counts[0], 1, "3 us in the first duration bucket");
	is_int(s.duration[METRICS_UDP].counts[2], 1, "20 us in the 25 us bucket");
	is_int(s.duration[METRICS_UDP].counts[METRICS_DNS_DURATION_NB], 1, "0.5 s in +Inf");

	size_t len = 0;
	s.version = "1.2.3";
	char *text = metrics_render(&s, &len);
	ok(text && len == strlen(text), "render returns its length");
	ok(has_line(text, "mesosdns_dns_requests_total{transport=\"udp\",qtype=\"A\",rcode=\"NOERROR\","
			  "source=\"authoritative\"} 4"), "requests sample with its labels");
	ok(!strstr(text, "qtype=\"AAAA\""), "zero request series are left out");
	ok(has_line(text, "mesosdns_dns_request_duration_seconds_bucket{transport=\"udp\",le=\"5e-06\"} 1"),
	   "first duration bucket");
	ok(has_line(text, "mesosdns_dns_request_duration_seconds_bucket{transport=\"udp\",le=\"2.5e-05\"} 2"),
	   "buckets are cumulative");
	ok(has_line(text, "mesosdns_dns_request_duration_seconds_bucket{transport=\"udp\",le=\"+Inf\"} 3"),
	   "+Inf bucket holds every observation");
	ok(has_line(text, "mesosdns_dns_request_duration_seconds_count{transport=\"udp\"} 3"),
	   "histogram count");
	ok(has_line(text, "mesosdns_dns_request_duration_seconds_sum{transport=\"udp\"} 0.500023"),
	   "histogram sum in seconds");
	ok(has_line(text, "mesosdns_dns_response_size_bytes_sum{transport=\"udp\"} 940"), "size sum");
	ok(has_line(text, "mesosdns_dns_dropped_total{transport=\"udp\"} 1"), "dropped");
	ok(has_line(text, "mesosdns_dns_truncated_responses_total{transport=\"udp\"} 1"), "truncated");
	ok(has_line(text, "mesosdns_build_info{version=\"1.2.3\"} 1"), "build info");
	ok(has_line(text, "mesosdns_dns_cache_lookups_total{result=\"hit\"} 12") &&
	   has_line(text, "mesosdns_dns_cache_lookups_total{result=\"uncached\"} 2") &&
	   has_line(text, "mesosdns_dns_cache_flushes_total 2") &&
	   has_line(text, "mesosdns_dns_cache_bytes 513") &&
	   has_line(text, "mesosdns_dns_cache_capacity_bytes 2048"), "reply cache series");
	ok(has_line(text, "# TYPE mesosdns_dns_requests_total counter"), "TYPE line");
	ok(!strstr(text, "mesosdns_zookeeper"), "no ZooKeeper series without ZooKeeper");
	ok(!strstr(text, "# TYPE mesosdns_forward"), "no forwarding series without forwarding");
	ok(!strstr(text, "mesosdns_last_successful_refresh"), "no refresh age before a success");
	free(text);
}

/* An event's type, as lib/stream.c finds it for the events_total labels. */
static void test_stream_event_type(void)
{
	static const struct {
		const char *json;
		enum metrics_stream_event want;
		const char *why;
	} cases[] = {
		{ "{\"type\":\"TASK_ADDED\",\"task_added\":{}}", METRICS_EV_TASK_ADDED, "type first" },
		{ " {\n \"type\" : \"HEARTBEAT\" }\n", METRICS_EV_HEARTBEAT, "white space" },
		{ "{\"task_added\":{\"task\":{\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\"}],"
		  "\"name\":\"a\\\"}]b\"}},\"type\":\"TASK_ADDED\"}", METRICS_EV_TASK_ADDED,
		  "type last, after a nested type and a string holding \\\" } ]" },
		{ "{\"s\":\"\\\\\",\"n\":-1.5e3,\"b\":true,\"z\":null,\"a\":[1,[2],{}],"
		  "\"type\":\"AGENT_REMOVED\"}", METRICS_EV_AGENT_REMOVED, "scalars, arrays, \\\\" },
		{ "{\"typex\":\"TASK_ADDED\",\"type\":\"FRAMEWORK_UPDATED\"}",
		  METRICS_EV_FRAMEWORK_UPDATED, "only the key type itself" },
		{ "{\"subscribed\":{\"type\":\"SUBSCRIBED\"}}", METRICS_EV_OTHER, "a nested type only" },
		{ "{\"type\":\"UNKNOWN\"}", METRICS_EV_OTHER, "a type not known" },
		{ "{\"type\":42}", METRICS_EV_OTHER, "a type that is no string" },
		{ "{\"type\":\"TASK_ADD", METRICS_EV_OTHER, "cut inside the type" },
		{ "{\"x\":\"y", METRICS_EV_OTHER, "cut inside a string" },
		{ "{\"x\":\"y\\", METRICS_EV_OTHER, "cut after a backslash" },
		{ "[{\"type\":\"HEARTBEAT\"}]", METRICS_EV_OTHER, "not an object" },
		{ "", METRICS_EV_OTHER, "empty" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(stream_event_type(cases[i].json, strlen(cases[i].json)), cases[i].want,
		       "event type: %s", cases[i].why);
	is_int(stream_event_type("{\"type\":\"HEARTBEAT\"}", 12), METRICS_EV_OTHER,
	       "event type: len bounds the text");
}

/* The event stream's families: absent until enabled, then every label value, zeros too. */
static void test_stream(void)
{
	/* lines of the render below, and why */
	static const char *const want[][2] = {
		{ "# TYPE mesosdns_stream_connected gauge", "connected is a gauge" },
		{ "mesosdns_stream_connected 1", "connected" },
		{ "# TYPE mesosdns_stream_subscriptions_total counter", "subscriptions: a counter" },
		{ "mesosdns_stream_subscriptions_total{result=\"ok\"} 1", "one ok" },
		{ "mesosdns_stream_subscriptions_total{result=\"unsupported\"} 1",
		  "counted before the families were shown" },
		{ "mesosdns_stream_subscriptions_total{result=\"http_error\"} 0",
		  "outcomes never seen are 0" },
		{ "mesosdns_stream_events_total{type=\"TASK_ADDED\"} 3", "events by type" },
		{ "mesosdns_stream_events_total{type=\"other\"} 1", "other events" },
		{ "mesosdns_stream_events_total{type=\"HEARTBEAT\"} 0", "no heartbeat" },
		{ "mesosdns_stream_disconnects_total{reason=\"heartbeat_timeout\"} 0",
		  "no disconnect yet" },
		{ "# TYPE mesosdns_stream_publish_delay_seconds histogram", "a histogram" },
		{ "mesosdns_stream_publish_delay_seconds_bucket{le=\"0.005\"} 1",
		  "a negative delay counts as 0" },
		{ "mesosdns_stream_publish_delay_seconds_bucket{le=\"0.05\"} 2",
		  "30 ms in the 50 ms bucket" },
		{ "mesosdns_stream_publish_delay_seconds_bucket{le=\"0.1\"} 2",
		  "buckets are cumulative" },
		{ "mesosdns_stream_publish_delay_seconds_bucket{le=\"0.25\"} 3",
		  "200 ms in the 250 ms bucket" },
		{ "mesosdns_stream_publish_delay_seconds_bucket{le=\"+Inf\"} 3", "+Inf" },
		{ "mesosdns_stream_publish_delay_seconds_count 3", "count" },
		{ "mesosdns_stream_publish_delay_seconds_sum 0.23", "sum in seconds" },
	};
	struct metrics_snapshot s;
	char *text;

	is_int(metrics_stream_event_of("TASK_ADDED", 10), METRICS_EV_TASK_ADDED, "TASK_ADDED");
	is_int(metrics_stream_event_of("HEARTBEATS", 9), METRICS_EV_HEARTBEAT,
	       "the type is len bytes, not NUL-terminated");
	is_int(metrics_stream_event_of("FRAMEWORK_REMOVED", 17), METRICS_EV_FRAMEWORK_REMOVED,
	       "FRAMEWORK_REMOVED");
	is_int(metrics_stream_event_of("TASK_ADDE", 9), METRICS_EV_OTHER, "a prefix is other");
	is_int(metrics_stream_event_of("UNKNOWN", 7), METRICS_EV_OTHER, "UNKNOWN is other");
	is_int(metrics_stream_event_of("other", 5), METRICS_EV_OTHER, "\"other\" is other");

	metrics_stream_subscription(METRICS_SUB_UNSUPPORTED);
	metrics_collect(&s);
	text = metrics_render(&s, NULL);
	ok(text && !strstr(text, "mesosdns_stream_"), "no stream families while polling");
	free(text);

	metrics_stream_enable();
	metrics_stream_subscription(METRICS_SUB_OK);
	for (int i = 0; i < 3; i++)
		metrics_stream_event(METRICS_EV_TASK_ADDED);
	metrics_stream_event(METRICS_EV_OTHER);
	metrics_stream_event(METRICS_NEVENTS);	/* out of range: ignored */
	metrics_stream_publish_delay(0.03);
	metrics_stream_publish_delay(0.2);
	metrics_stream_publish_delay(-1);	/* a clock step: counted as 0 */
	metrics_collect(&s);
	is_int(s.stream_connected, 1, "connected after a subscription");
	text = metrics_render(&s, NULL);
	ok(text != NULL, "render with the stream");
	for (size_t i = 0; text && i < sizeof(want) / sizeof(want[0]); i++)
		ok(has_line(text, want[i][0]), "stream: %s", want[i][1]);
	free(text);

	metrics_stream_disconnect(METRICS_END_HEARTBEAT);
	metrics_collect(&s);
	is_int(s.stream_connected, 0, "not connected after a disconnect");
	text = metrics_render(&s, NULL);
	ok(text && has_line(text, "mesosdns_stream_connected 0"), "connected 0");
	ok(text && has_line(text, "mesosdns_stream_disconnects_total{reason=\"heartbeat_timeout\"} 1"),
	   "disconnect by reason");
	ok(text && has_line(text, "mesosdns_stream_subscriptions_total{result=\"ok\"} 1"),
	   "a disconnect is no attempt");
	free(text);
}

/* Every line is a HELP, a TYPE right after its HELP, or a sample of the
 * family last declared; counters end in _total; names carry the prefix. */
static void test_format_rules(void)
{
	struct metrics_snapshot s;
	struct metrics_upstream up[2] = {
		{ .name = "8.8.8.8:53", .queries = 5, .replies = 4, .failures = 1, .timeouts = 1,
		  .latency_sum = 0.25 },
		{ .name = "we\"ird\\name", .queries = 1, .down = 1 },
	};

	metrics_state_fetch(METRICS_FETCH_OK);
	metrics_state_fetch(METRICS_FETCH_TIMEOUT);
	metrics_state_transfer(0.2, 5000);
	metrics_state_transfer(3, 0);
	metrics_zone_build(0.004);
	metrics_leader_change();
	metrics_zone_build_skipped(METRICS_SKIP_SAME_MODEL);
	metrics_zone_build_skipped(METRICS_SKIP_SAME_MODEL);
	metrics_zone_build_skipped(METRICS_NSKIP);	/* out of range: not counted */
	metrics_http_request(200);
	metrics_http_request(404);
	metrics_http_request(404);
	metrics_collect(&s);
	s.version = "x";
	s.has_forward = 1;
	s.fwd_forwarded = 6;
	s.upstreams = up;
	s.nupstreams = 2;
	s.zk_connected = 1;
	s.zk_has_leader = 0;
	s.last_success = 1000;
	s.now = 1012;
	s.zone_loaded = 1;
	s.zone_serial = 1700000001;
	s.zone_records[METRICS_RR_A] = 42;

	char *text = metrics_render(&s, NULL);
	ok(text != NULL, "render");
	ok(has_line(text, "mesosdns_state_fetches_total{result=\"success\",reason=\"none\"} 1"),
	   "fetch success");
	ok(has_line(text, "mesosdns_state_fetches_total{result=\"failure\",reason=\"timeout\"} 1"),
	   "fetch failure by reason");
	ok(has_line(text, "mesosdns_state_fetch_duration_seconds_count 2"), "both transfers timed");
	ok(has_line(text, "mesosdns_state_fetch_size_bytes_count 1"), "only bodies are sized");
	ok(has_line(text, "mesosdns_state_fetch_size_bytes_bucket{le=\"16384\"} 1"), "5000 bytes");
	ok(has_line(text, "mesosdns_zone_build_duration_seconds_bucket{le=\"0.005\"} 1"), "build time");
	ok(has_line(text, "mesosdns_leader_changes_total 1"), "leader changes");
	ok(has_line(text, "mesosdns_zone_builds_skipped_total{reason=\"same_state\"} 0") &&
	   has_line(text, "mesosdns_zone_builds_skipped_total{reason=\"same_model\"} 2"),
	   "builds skipped, by reason");
	ok(has_line(text, "mesosdns_http_requests_total{code=\"404\"} 2"), "HTTP by status");
	ok(has_line(text, "mesosdns_forward_queries_total{upstream=\"8.8.8.8:53\"} 5"), "per upstream");
	ok(has_line(text, "mesosdns_forward_timeouts_total{upstream=\"we\\\"ird\\\\name\"} 0"),
	   "upstream label escaped");
	ok(has_line(text, "mesosdns_forward_duration_seconds_sum{upstream=\"8.8.8.8:53\"} 0.25"),
	   "upstream latency sum");
	ok(has_line(text, "mesosdns_forward_duration_seconds_count{upstream=\"8.8.8.8:53\"} 4"),
	   "upstream latency count is the replies");
	ok(has_line(text, "mesosdns_forward_upstream_up{upstream=\"we\\\"ird\\\\name\"} 0"),
	   "a down upstream");
	ok(has_line(text, "mesosdns_zookeeper_connected 1"), "ZooKeeper connected");
	ok(has_line(text, "mesosdns_zookeeper_leader_known 0"), "ZooKeeper leader unknown");
	ok(has_line(text, "mesosdns_last_successful_refresh_age_seconds 12"), "refresh age");
	ok(has_line(text, "mesosdns_zone_serial 1700000001"), "serial");
	ok(has_line(text, "mesosdns_zone_records{type=\"A\"} 42"), "records by type");

	int bad = 0, nfam = 0;
	char fam[128] = "", type[16] = "", help_for[128] = "";
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (!nl) {
			bad++;	/* the text ends with a newline */
			break;
		}
		*nl = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			sscanf(line + 7, "%127s", help_for);
			if (strncmp(help_for, "mesosdns_", 9) != 0)
				bad++;
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			if (sscanf(line + 7, "%127s %15s", fam, type) != 2 || strcmp(fam, help_for))
				bad++;
			if (strcmp(type, "counter") == 0 &&
			    strcmp(fam + strlen(fam) - 6, "_total") != 0)
				bad++;
			nfam++;
		} else {
			size_t fl = strlen(fam);
			char after = line[fl];
			if (strncmp(line, fam, fl) != 0 ||
			    !(after == ' ' || after == '{' || after == '_'))
				bad++;
			if (!strchr(line, ' '))
				bad++;
		}
		if (bad) {
			printf("# bad line: %s\n", line);
			break;
		}
	}
	is_int(bad, 0, "every line follows the text format rules");
	ok(nfam >= 30, "families rendered (%d)", nfam);
	free(text);
}

int main(void)
{
	test_escape_and_values();
	test_slots();
	test_workers_sum();
	test_stream_event_type();
	test_stream();		/* before test_format_rules, which then checks its lines too */
	test_format_rules();
	metrics_shutdown();
	return done_testing();
}
