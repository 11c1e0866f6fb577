/* tests/unit/test_statemodel.c -- the stream's model against full states, and RecordIO framing. */
#include "lib/statemodel.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/state.h"
#include "lib/stream.h"
#include "tests/unit/tap.h"
#include "zone/records.h"
#include "zone/zone.h"

#define EVENTS_SCRIPT "python3 tests/data/stream/make_events.py"

/* ---- zones ------------------------------------------------------------------ */

static const enum ip_source sources[] = { IPSRC_NETINFO, IPSRC_MESOS, IPSRC_DOCKER, IPSRC_HOST };

/* The zone of st, built as the daemon builds it (minus host name resolution). */
static struct zone *zone_of(const struct mesos_state *st)
{
	struct zone_params zp = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 60,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
		.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	struct records_config rc = {
		.domain = "mesos", .srv_weight = 1, .ip_sources = sources, .nip_sources = 4,
		.soa_mname = "ns1.mesos",
	};
	struct zone_builder *b = zone_builder_new(&zp);

	if (!b || records_build(b, st, &rc, NULL) != 0) {
		zone_builder_free(b);
		return NULL;
	}
	return zone_builder_finish(b, NULL, 1);
}

static struct zone *zone_of_json(const char *text, size_t len)
{
	struct mesos_state *st = NULL;
	struct zone *z;
	char err[300];

	if (state_parse(text, len, &st, err, sizeof(err)) != 0) {
		printf("#   state_parse: %s\n", err);
		return NULL;
	}
	z = zone_of(st);
	state_free(st);
	return z;
}

static struct zone *zone_of_model(const struct statemodel *m)
{
	struct mesos_state *view = NULL;
	struct zone *z;

	if (statemodel_view(m, &view) != 0)
		return NULL;
	z = zone_of(view);
	statemodel_view_free(view);
	return z;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every record of z as a sorted list of lines; caller frees. */
static char **zone_lines(const struct zone *z, size_t *n)
{
	char **v = NULL, buf[600];
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < z->nnodes; i++) {
		const struct zone_node *node = z->nodes[i];
		for (unsigned j = 0; j < node->nrrsets; j++)
			for (unsigned k = 0; k < node->rrsets[j].count; k++) {
				if (*n == cap) {
					cap = cap ? cap * 2 : 64;
					v = realloc(v, cap * sizeof(*v));
				}
				v[(*n)++] = strdup(zone_rr_format(z, node, &node->rrsets[j],
								  &node->rrsets[j].rrs[k], buf,
								  sizeof(buf)));
			}
	}
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* Print the records only one of the zones has (at most 12 lines). */
static void diff_zones(const struct zone *model, const struct zone *full)
{
	size_t na, nb, i = 0, j = 0, shown = 0;
	char **a = zone_lines(model, &na), **b = zone_lines(full, &nb);

	while ((i < na || j < nb) && shown < 12) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			printf("#   only from the events: %s\n", a[i++]);
			shown++;
		} else {
			printf("#   only in the full state: %s\n", b[j++]);
			shown++;
		}
	}
	for (i = 0; i < na; i++)
		free(a[i]);
	for (j = 0; j < nb; j++)
		free(b[j]);
	free(a);
	free(b);
}

/* ok() that the model's zone equals the zone of the full document. */
static void same_zone(const struct statemodel *m, const char *doc, size_t len, const char *what)
{
	struct zone *zm = zone_of_model(m), *zf = zone_of_json(doc, len);
	int same = zm && zf && zone_same_content(zm, zf);

	ok(same, "%s: the zone from the events equals the zone of the full state", what);
	if (!same && zm && zf)
		diff_zones(zm, zf);
	zone_free(zm);
	zone_free(zf);
}

/* The dump reads back (state_parse) into the same zone as the model. */
static void dump_round_trip(const struct statemodel *m, const char *what)
{
	size_t len = 0;
	char *dump = statemodel_dump(m, &len);
	struct zone *zm = zone_of_model(m), *zd = dump ? zone_of_json(dump, len) : NULL;
	int same = zm && zd && zone_same_content(zm, zd);

	ok(same, "%s: statemodel_dump reads back into the same zone", what);
	if (!same && zm && zd)
		diff_zones(zm, zd);
	zone_free(zm);
	zone_free(zd);
	free(dump);
}

/* ---- the scripted sequence ------------------------------------------------------ */

static char *run_script(size_t *len)
{
	FILE *p = popen(EVENTS_SCRIPT, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!p)
		return NULL;
	do {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 262144;
			buf = realloc(buf, cap);
		}
		got = fread(buf + n, 1, 65536, p);
		n += got;
	} while (got > 0);
	if (pclose(p) != 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void test_script(void)
{
	size_t len = 0, i;
	char *text = run_script(&len), err[300];
	json_t *root = text ? json_loadb(text, len, 0, NULL) : NULL;
	json_t *steps = json_object_get(root, "steps"), *step;
	struct statemodel *m = statemodel_new();
	struct statemodel_effect total;

	memset(&total, 0, sizeof(total));
	if (!ok(json_array_size(steps) >= 15, "%s prints the scripted steps", EVENTS_SCRIPT))
		goto out;
	is_int(statemodel_set_leader(m, "1.2.3.4:5050"), 0, "the leader is the master asked");
	json_array_foreach(steps, i, step) {
		const char *name = json_string_value(json_object_get(step, "name"));
		const char *kind = json_string_value(json_object_get(step, "kind"));
		char *rec = json_dumps(json_object_get(step, "record"), JSON_COMPACT);
		char *doc = json_dumps(json_object_get(step, "state"), JSON_COMPACT);
		struct statemodel_effect eff;
		int rc;

		memset(&eff, 0, sizeof(eff));
		rc = statemodel_apply(m, strcmp(kind, "summary") == 0 ? STATEMODEL_SUMMARY :
				      STATEMODEL_EVENT, rec, strlen(rec), &eff, err, sizeof(err));
		if (!ok(rc == 0, "step %zu (%s) applies", i, name))
			printf("#   %s: %s\n", mdns_strerror(rc), err);
		same_zone(m, doc, strlen(doc), name);
		if (i == 0) {
			ok(eff.subscribed && eff.frameworks && eff.heartbeat == 0.5,
			   "SUBSCRIBED: snapshot, heartbeat interval and a pid lookup reported");
			is_int(statemodel_ntasks(m), 9, "the snapshot's non-terminal tasks are kept");
			is_int(statemodel_nagents(m), 4, "its agents");
			is_int(statemodel_nframeworks(m), 4, "its frameworks");
		}
		if (strstr(name, "HEARTBEAT"))
			ok(!eff.changed && eff.events == 1, "a heartbeat counts as an event, no change");
		if (strstr(name, "FRAMEWORK_ADDED"))
			ok(eff.frameworks, "FRAMEWORK_ADDED asks for the pids");
		if (strstr(name, "no records yet") || strstr(name, "changes nothing") ||
		    strstr(name, "does not know"))
			ok(!eff.changed, "%s: no build needed", name);
		else
			ok(eff.changed, "%s: a build is needed", name);
		total.events += eff.events;
		free(rec);
		free(doc);
	}
	is_int(total.events, json_array_size(steps) - 2, "every event counted (not the summaries)");
	dump_round_trip(m, "after the script");
out:
	statemodel_free(m);
	json_decref(root);
	free(text);
}

/* ---- what must make the caller subscribe again ------------------------------------- */

#define SUB_EMPTY "{\"type\":\"SUBSCRIBED\",\"subscribed\":{\"get_state\":{" \
	"\"get_agents\":{\"agents\":[{\"agent_info\":{\"id\":{\"value\":\"A1\"},\"hostname\":\"h\"}," \
	"\"pid\":\"slave(1)@10.0.0.1:5051\"}]}," \
	"\"get_frameworks\":{\"frameworks\":[{\"framework_info\":{\"id\":{\"value\":\"F1\"}," \
	"\"name\":\"fw\"}}]}," \
	"\"get_tasks\":{\"tasks\":[{\"task_id\":{\"value\":\"T1\"},\"framework_id\":{\"value\":\"F1\"}," \
	"\"agent_id\":{\"value\":\"A1\"},\"name\":\"t\",\"state\":\"TASK_RUNNING\"}]}}}}"

static int apply_text(struct statemodel *m, const char *text, char *err, size_t errlen)
{
	struct statemodel_effect eff;

	memset(&eff, 0, sizeof(eff));
	return statemodel_apply(m, STATEMODEL_EVENT, text, strlen(text), &eff, err, errlen);
}

static void test_desync(void)
{
	struct statemodel *m = statemodel_new();
	char err[300];
	int rc;

	rc = apply_text(m, "{\"type\":\"TASK_ADDED\",\"task_added\":{}}", err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "an event before SUBSCRIBED is refused");
	ok(strstr(err, "before SUBSCRIBED") != NULL, "... saying so: %s", err);
	is_int(statemodel_subscribed(m), 0, "... and the model is not subscribed");
	is_int(apply_text(m, "{\"type\":\"SUBSCRIBED\",\"subscribed\":{}}", err, sizeof(err)),
	       MDNS_EPARSE, "a SUBSCRIBED without get_state is refused");
	is_int(apply_text(m, SUB_EMPTY, err, sizeof(err)), 0, "a small snapshot applies");
	is_int(statemodel_ntasks(m), 1, "... with its task");
	is_int(apply_text(m, "{\"type\":\"TASK_", err, sizeof(err)), MDNS_EPARSE,
	       "a record that is not JSON is refused");
	ok(strstr(err, "line 1") != NULL, "... with the position: %s", err);
	is_int(apply_text(m, "[1]", err, sizeof(err)), MDNS_EPARSE, "a record that is not an object");
	is_int(apply_text(m, "{\"type\":3}", err, sizeof(err)), MDNS_EPARSE, "a type that is not a string");
	rc = apply_text(m, "{\"type\":\"TASK_UPDATED\",\"task_updated\":{\"framework_id\":{\"value\":"
			"\"F1\"},\"status\":{\"task_id\":{\"value\":\"T9\"},\"state\":\"TASK_RUNNING\"},"
			"\"state\":\"TASK_RUNNING\"}}", err, sizeof(err));
	is_int(rc, MDNS_ENOENT, "TASK_UPDATED to running for a task never added: resubscribe");
	rc = apply_text(m, "{\"type\":\"TASK_UPDATED\",\"task_updated\":{\"framework_id\":{\"value\":"
			"\"F1\"},\"status\":{\"task_id\":{\"value\":\"T9\"},\"state\":\"TASK_KILLED\"},"
			"\"state\":\"TASK_KILLED\"}}", err, sizeof(err));
	is_int(rc, 0, "... but a terminal update of a task already gone is fine");
	rc = apply_text(m, "{\"type\":\"TASK_UPDATED\",\"task_updated\":{\"framework_id\":{\"value\":"
			"\"F1\"},\"status\":{\"task_id\":{\"value\":\"T1\"},\"state\":\"TASK_FINISHED\"}}}",
			err, sizeof(err));
	is_int(rc, 0, "a TASK_UPDATED without state (older masters) uses the status's");
	is_int(statemodel_ntasks(m), 0, "... and the finished task left the model");
	/* Same task id under two frameworks: two tasks. */
	is_int(apply_text(m, "{\"type\":\"FRAMEWORK_ADDED\",\"framework_added\":{\"framework\":"
			  "{\"framework_info\":{\"id\":{\"value\":\"F2\"},\"name\":\"other\"}}}}",
			  err, sizeof(err)), 0, "a second framework");
	for (int f = 1; f <= 2; f++) {
		char ev[400];
		snprintf(ev, sizeof(ev), "{\"type\":\"TASK_ADDED\",\"task_added\":{\"task\":{\"task_id\":"
			 "{\"value\":\"same\"},\"framework_id\":{\"value\":\"F%d\"},\"agent_id\":"
			 "{\"value\":\"A1\"},\"name\":\"s\",\"state\":\"TASK_RUNNING\"}}}", f);
		apply_text(m, ev, err, sizeof(err));
	}
	is_int(statemodel_ntasks(m), 2, "task ids are per framework");
	is_int(apply_text(m, "{\"type\":\"FRAMEWORK_REMOVED\",\"framework_removed\":{"
			  "\"framework_info\":{\"id\":{\"value\":\"F2\"},\"name\":\"other\"}}}",
			  err, sizeof(err)), 0, "FRAMEWORK_REMOVED");
	is_int(statemodel_ntasks(m), 1, "... takes only that framework's task");
	is_int(statemodel_nframeworks(m), 1, "... and the framework");
	is_int(apply_text(m, SUB_EMPTY, err, sizeof(err)), 0, "a new snapshot");
	is_int(statemodel_ntasks(m), 1, "... replaces the model");
	/* A state that is no TaskState name, a multibyte character across the
	 * model's 32 bytes for it, and a framework without a name: the dump
	 * still reads back as JSON (a cut character made it unreadable). */
	is_int(apply_text(m, "{\"type\":\"TASK_ADDED\",\"task_added\":{\"task\":{\"task_id\":"
			  "{\"value\":\"T5\"},\"framework_id\":{\"value\":\"F1\"},\"agent_id\":"
			  "{\"value\":\"A1\"},\"name\":\"odd\",\"state\":"
			  "\"TASK_STAGING_ABCDEFGHIJKLMNOPQ\u00e9\u00e9\"}}}", err, sizeof(err)),
	       0, "a task in a state of no known name");
	is_int(apply_text(m, "{\"type\":\"FRAMEWORK_ADDED\",\"framework_added\":{\"framework\":"
			  "{\"framework_info\":{\"id\":{\"value\":\"F4\"}}}}}", err, sizeof(err)),
	       0, "a framework without a name");
	{
		size_t dlen = 0;
		char *dump = statemodel_dump(m, &dlen);
		json_error_t jerr;
		json_t *doc = dump ? json_loadb(dump, dlen, 0, &jerr) : NULL;
		ok(doc != NULL, "... the dump reads back as JSON%s%s", doc ? "" : ": ",
		   doc ? "" : (dump ? jerr.text : "no dump"));
		json_decref(doc);
		free(dump);
	}
	statemodel_reset(m);
	ok(!statemodel_subscribed(m) && statemodel_ntasks(m) == 0 && statemodel_nframeworks(m) == 0 &&
	   statemodel_nagents(m) == 0, "a reset model is empty and not subscribed");
	rc = apply_text(m, "{\"type\":\"FRAMEWORK_ADDED\",\"framework_added\":{\"framework\":"
			"{\"framework_info\":{\"id\":{\"value\":\"F3\"},\"name\":\"x\"}}}}",
			err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "... so events are refused until a snapshot");
	is_int(apply_text(m, SUB_EMPTY, err, sizeof(err)), 0, "... which applies");
	is_int(statemodel_ntasks(m), 1, "... and fills it again");
	is_int(statemodel_set_leader(m, "not a hostport/"), MDNS_EINVAL, "a bad leader is refused");
	statemodel_free(m);
}

/* A snapshot's arrays are read into a model of its own (lib/jsontree.h): the
 * model changes all at once, once the SUBSCRIBED is read whole, or not at all. */
#define SUB_TWO_BODY "\"subscribed\":{\"get_state\":{\"get_tasks\":{\"tasks\":[" \
	"{\"task_id\":{\"value\":\"T7\"},\"framework_id\":{\"value\":\"F1\"},\"name\":\"a\"," \
	"\"agent_id\":{\"value\":\"A1\"},\"state\":\"TASK_RUNNING\"}," \
	"{\"task_id\":{\"value\":\"T8\"},\"framework_id\":{\"value\":\"F1\"},\"name\":\"b\"," \
	"\"agent_id\":{\"value\":\"A1\"},\"state\":\"TASK_RUNNING\"}]," \
	"\"completed_tasks\":[{\"task_id\":{\"value\":\"T9\"},\"framework_id\":{\"value\":" \
	"\"F1\"},\"name\":\"c\",\"state\":\"TASK_FINISHED\"}]}}}"

static void test_snapshot_whole(void)
{
	struct statemodel *m = statemodel_new();
	struct statemodel_effect eff;
	char err[300], *cut;
	const char *two = "{\"type\":\"SUBSCRIBED\"," SUB_TWO_BODY "}";

	apply_text(m, SUB_EMPTY, err, sizeof(err));
	cut = strndup(two, strlen(two) - 40);
	is_int(apply_text(m, cut, err, sizeof(err)), MDNS_EPARSE, "a snapshot cut short is refused");
	ok(statemodel_subscribed(m) && statemodel_ntasks(m) == 1 && statemodel_nagents(m) == 1,
	   "... and the model is the one before, whole (%zu tasks, %zu agents)", statemodel_ntasks(m),
	   statemodel_nagents(m));
	free(cut);
	memset(&eff, 0, sizeof(eff));
	is_int(statemodel_apply(m, STATEMODEL_EVENT, two, strlen(two), &eff, err, sizeof(err)), 0,
	       "the snapshot whole applies");
	ok(eff.subscribed && statemodel_ntasks(m) == 2 && statemodel_nagents(m) == 0 &&
	   statemodel_nframeworks(m) == 0, "... and replaces the model: its two running tasks, "
	   "no completed one, no agent or framework (%zu tasks)", statemodel_ntasks(m));
	/* "type" after the body: the arrays were read before the type was known. */
	const char *late = "{" SUB_TWO_BODY ",\"type\":\"SUBSCRIBED\"}";
	apply_text(m, SUB_EMPTY, err, sizeof(err));
	is_int(apply_text(m, late, err, sizeof(err)), 0, "a SUBSCRIBED with its type last applies");
	is_int(statemodel_ntasks(m), 2, "... with its tasks");
	/* Another event that happens to carry a "subscribed" object changes nothing with it. */
	const char *odd = "{\"type\":\"HEARTBEAT\"," SUB_TWO_BODY "}";
	apply_text(m, SUB_EMPTY, err, sizeof(err));
	is_int(apply_text(m, odd, err, sizeof(err)), 0, "a HEARTBEAT with a \"subscribed\" member");
	ok(statemodel_ntasks(m) == 1 && statemodel_nagents(m) == 1, "... leaves the model as it was");
	statemodel_free(m);
}

/* Many tasks: the hash map grows, tombstones are reused, the view holds them all. */
static void test_many(void)
{
	struct statemodel *m = statemodel_new();
	struct mesos_state *view = NULL;
	char err[300], ev[512];
	size_t running = 0;

	apply_text(m, SUB_EMPTY, err, sizeof(err));
	for (int i = 0; i < 5000; i++) {
		snprintf(ev, sizeof(ev), "{\"type\":\"TASK_ADDED\",\"task_added\":{\"task\":{\"task_id\":"
			 "{\"value\":\"t%d\"},\"framework_id\":{\"value\":\"F1\"},\"agent_id\":"
			 "{\"value\":\"A1\"},\"name\":\"n%d\",\"state\":\"TASK_RUNNING\"}}}", i, i % 50);
		apply_text(m, ev, err, sizeof(err));
		if (i % 3 == 0) {
			snprintf(ev, sizeof(ev), "{\"type\":\"TASK_UPDATED\",\"task_updated\":{"
				 "\"framework_id\":{\"value\":\"F1\"},\"status\":{\"task_id\":{\"value\":"
				 "\"t%d\"},\"state\":\"TASK_FAILED\"},\"state\":\"TASK_FAILED\"}}", i);
			apply_text(m, ev, err, sizeof(err));
		}
	}
	is_int(statemodel_ntasks(m), 1 + 5000 - 1667, "5000 added, every third failed");
	ok(statemodel_view(m, &view) == 0 && view->nframeworks == 1, "the view has the framework");
	for (size_t i = 0; view && i < view->frameworks[0].ntasks; i++)
		running += view->frameworks[0].tasks[i].running;
	is_int(running, 1 + 5000 - 1667, "... and every task, running");
	/* Grouped: once an app's run of tasks ends, its name does not come back
	 * (50 names over 3,334 tasks: in the map's hash order they would). */
	int grouped = 1;
	char ended[64] = { 0 };
	for (size_t i = 0; view && i < view->frameworks[0].ntasks; i++) {
		const struct state_task *a = &view->frameworks[0].tasks[i];
		int n = a->name[0] == 'n' ? atoi(a->name + 1) : 63;
		grouped &= !ended[n];
		if (i + 1 < view->frameworks[0].ntasks &&
		    strcmp(a->name, view->frameworks[0].tasks[i + 1].name) != 0)
			ended[n] = 1;
	}
	ok(grouped, "... an app's tasks one after another, not in hash order");
	/* The same tasks by another history (added in reverse, none failed): the
	 * same order, as /v1/enumerate lists them. */
	struct statemodel *m2 = statemodel_new();
	struct mesos_state *view2 = NULL;
	apply_text(m2, SUB_EMPTY, err, sizeof(err));
	for (int i = 4999; i >= 0; i--) {
		if (i % 3 == 0)
			continue;
		snprintf(ev, sizeof(ev), "{\"type\":\"TASK_ADDED\",\"task_added\":{\"task\":{\"task_id\":"
			 "{\"value\":\"t%d\"},\"framework_id\":{\"value\":\"F1\"},\"agent_id\":"
			 "{\"value\":\"A1\"},\"name\":\"n%d\",\"state\":\"TASK_RUNNING\"}}}", i, i % 50);
		apply_text(m2, ev, err, sizeof(err));
	}
	int same = view && statemodel_view(m2, &view2) == 0 &&
		   view2->frameworks[0].ntasks == view->frameworks[0].ntasks;
	for (size_t i = 0; same && i < view->frameworks[0].ntasks; i++)
		same = strcmp(view->frameworks[0].tasks[i].id, view2->frameworks[0].tasks[i].id) == 0;
	ok(same, "... in the same order from another history of the model");
	statemodel_view_free(view2);
	statemodel_free(m2);
	statemodel_view_free(view);
	apply_text(m, "{\"type\":\"AGENT_REMOVED\",\"agent_removed\":{\"agent_id\":{\"value\":\"A1\"}}}",
		   err, sizeof(err));
	is_int(statemodel_ntasks(m), 0, "AGENT_REMOVED drops the agent's tasks");
	is_int(statemodel_nagents(m), 0, "... and the agent");
	statemodel_free(m);
}

/* ---- RecordIO --------------------------------------------------------------------- */

struct got {
	char rec[8][64];
	size_t n;
};

static int collect(void *ctx, char *text, size_t len)
{
	struct got *g = ctx;

	if (g->n < 8 && len < 64)
		memcpy(g->rec[g->n], text, len + 1);
	g->n++;
	free(text);
	return 0;
}

static void test_framer(void)
{
	static const char stream[] = "21\n{\"type\":\"SUBSCRIBED\"}0\n20\n{\"type\":\"HEARTBEAT\"}"
				     "3\nabc1\nx";
	size_t len = sizeof(stream) - 1;
	struct stream_framer fr;
	struct got g;
	char err[200];
	int all = 1;

	/* Every split into two pieces, and one byte at a time. */
	for (size_t cut = 0; cut <= len; cut++) {
		memset(&g, 0, sizeof(g));
		stream_framer_init(&fr, 100, 100);
		int rc = stream_framer_feed(&fr, stream, cut, collect, &g, err, sizeof(err));
		rc = rc ? rc : stream_framer_feed(&fr, stream + cut, len - cut, collect, &g, err,
						  sizeof(err));
		if (rc || g.n != 4 || strcmp(g.rec[0], "{\"type\":\"SUBSCRIBED\"}") != 0 ||
		    strcmp(g.rec[1], "{\"type\":\"HEARTBEAT\"}") != 0 || strcmp(g.rec[2], "abc") ||
		    strcmp(g.rec[3], "x"))
			all = 0;
		stream_framer_clear(&fr);
	}
	ok(all, "four records (an empty one skipped) whatever the split");
	memset(&g, 0, sizeof(g));
	stream_framer_init(&fr, 100, 100);
	for (size_t i = 0; i < len; i++)
		if (stream_framer_feed(&fr, stream + i, 1, collect, &g, err, sizeof(err)) != 0)
			break;
	is_int(g.n, 4, "... and one byte at a time");
	is_int(fr.records, 4, "the framer counts them");
	stream_framer_clear(&fr);

	stream_framer_init(&fr, 10, 5);
	memset(&g, 0, sizeof(g));
	is_int(stream_framer_feed(&fr, "10\n0123456789", 13, collect, &g, err, sizeof(err)), 0,
	       "a first record at its bound");
	is_int(stream_framer_feed(&fr, "6\n", 2, collect, &g, err, sizeof(err)), MDNS_ETOOBIG,
	       "a later record over the smaller bound");
	ok(strstr(err, "limit") != NULL, "... named: %s", err);
	stream_framer_clear(&fr);
	stream_framer_init(&fr, 10, 5);
	is_int(stream_framer_feed(&fr, "11\n", 3, collect, &g, err, sizeof(err)), MDNS_ETOOBIG,
	       "a first record over its bound");
	stream_framer_clear(&fr);
	stream_framer_init(&fr, 10, 5);
	is_int(stream_framer_feed(&fr, "1x\n", 3, collect, &g, err, sizeof(err)), MDNS_EPARSE,
	       "a letter in a length");
	stream_framer_clear(&fr);
	stream_framer_init(&fr, 10, 5);
	is_int(stream_framer_feed(&fr, "\n", 1, collect, &g, err, sizeof(err)), MDNS_EPARSE,
	       "an empty length line");
	stream_framer_clear(&fr);
	stream_framer_init(&fr, ~(size_t)0, ~(size_t)0);
	is_int(stream_framer_feed(&fr, "123456789012345678901\n", 22, collect, &g, err,
				  sizeof(err)), MDNS_EPARSE, "a 21-digit length");
	stream_framer_clear(&fr);
	stream_framer_init(&fr, ~(size_t)0, ~(size_t)0);
	is_int(stream_framer_feed(&fr, "99999999999999999999\n", 21, collect, &g, err,
				  sizeof(err)), MDNS_ETOOBIG, "a length over 64 bits");
	stream_framer_clear(&fr);
}

int main(void)
{
	test_script();
	test_desync();
	test_snapshot_whole();
	test_many();
	test_framer();
	return done_testing();
}
