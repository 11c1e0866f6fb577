/* tests/unit/test_meta.c -- zone/meta: records by framework and task for /v1/enumerate. */
#include <string.h>

#include "lib/err.h"
#include "zone/dname.h"
#include "zone/meta.h"
#include "zone/zone.h"
#include "tests/unit/tap.h"

/* Wire names as the zone builder interns them (lower case). */
static uint8_t web[DNAME_MAXLEN], web2[DNAME_MAXLEN], srv[DNAME_MAXLEN], slave[DNAME_MAXLEN],
	db[DNAME_MAXLEN], root[DNAME_MAXLEN];

static const uint8_t a1[4] = { 10, 0, 0, 1 }, a2[4] = { 10, 0, 0, 2 }, a9[4] = { 10, 0, 0, 9 };
static const uint8_t v6[16] = { 0xfd, [15] = 1 };

int main(void)
{
	uint8_t srvrd[6 + DNAME_MAXLEN] = { 0, 0, 0, 1, 0x7a, 0x18 };	/* port 31256 */
	char buf[DNAME_TEXT_MAX + 16];
	struct zone_meta *m = zone_meta_new();

	dname_from_text("Web-App.Marathon.mesos", web);
	dname_from_text("web-app.marathon.mesos.", web2);	/* same name, another copy */
	dname_from_text("_web-app._tcp.marathon.mesos", srv);
	dname_from_text("slave.mesos", slave);
	dname_from_text("db.marathon.mesos", db);
	dname_from_text("marathon.mesos", root);
	size_t tl = dname_from_text("WEB-APP-x.marathon.slave.mesos", srvrd + 6);

	is_int(zone_meta_task(m, "t", "id"), MDNS_EINVAL, "a task needs a framework");
	is_int(zone_meta_framework(m, "Marathon"), 0, "framework");
	is_int(zone_meta_record(m, root, RR_A, a1, 4), 0,
	       "a record outside any task is accepted and ignored");
	is_int(zone_meta_task(m, "Web App", "web.1"), 0, "task");
	zone_meta_record(m, web, RR_A, a2, 4);
	zone_meta_record(m, srv, RR_SRV, srvrd, (uint16_t)(6 + tl));
	zone_meta_record(m, web2, RR_A, a1, 4);
	zone_meta_record(m, web2, RR_A, a2, 4);	/* the first one again, other copies */
	zone_meta_task_end(m);
	zone_meta_record(m, slave, RR_A, a9, 4);
	is_int(zone_meta_task(m, "db", "db.1"), 0, "second task");
	zone_meta_record(m, db, RR_AAAA, v6, 16);
	is_int(zone_meta_framework(m, "empty"), 0, "a framework without tasks");
	zone_meta_finish(m);

	is_int(m->nframeworks, 2, "two frameworks");
	is_int(m->frameworks[0].n, 2, "two tasks in the first");
	is_int(m->frameworks[1].n, 0, "none in the second");
	is_str(m->frameworks[0].name, "Marathon", "framework name kept as given");
	is_str(m->tasks[0].name, "Web App", "task name kept as given");
	is_str(m->tasks[0].id, "web.1", "task id");
	is_int(m->tasks[0].n, 3, "the repeated record is dropped, the one after the task ends too");
	const struct zone_meta_record *r = m->records + m->tasks[0].first;
	/* Sorted by wire owner: the 7-byte label "web-app" before "_web-app". */
	is_str(zone_meta_name(&r[0], buf, sizeof(buf)), "web-app.marathon.mesos.",
	       "sorted; names lower-case with a dot");
	is_str(zone_meta_type_name(r[0].type), "A", "type name");
	is_str(zone_meta_host(&r[0], buf, sizeof(buf)), "10.0.0.1", "A records sorted by data");
	is_str(zone_meta_host(&r[1], buf, sizeof(buf)), "10.0.0.2", "second A");
	is_str(zone_meta_name(&r[2], buf, sizeof(buf)), "_web-app._tcp.marathon.mesos.", "SRV name");
	is_str(zone_meta_host(&r[2], buf, sizeof(buf)), "web-app-x.marathon.slave.mesos.:31256",
	       "SRV data is target.:port, lower-case");
	is_str(zone_meta_type_name(r[2].type), "SRV", "SRV type name");
	is_int(m->tasks[1].n, 1, "second task's record");
	is_str(zone_meta_host(&m->records[m->tasks[1].first], buf, sizeof(buf)), "fd00::1",
	       "AAAA data");
	is_int(m->tasks[1].first, 3, "records stay packed after de-duplication");
	is_int(m->nrecords, 4, "four records in all");

	/* zone_meta_same: the same content built again, then one part moved. */
	for (int k = 0; k < 5; k++) {
		struct zone_meta *o = zone_meta_new();
		zone_meta_framework(o, k == 1 ? "marathon" : "Marathon");
		zone_meta_task(o, "Web App", k == 2 ? "web.2" : "web.1");
		zone_meta_record(o, web2, RR_A, a1, 4);
		zone_meta_record(o, web, RR_A, a2, 4);
		zone_meta_record(o, srv, RR_SRV, srvrd, (uint16_t)(6 + tl));
		zone_meta_task(o, "db", "db.1");
		zone_meta_record(o, db, RR_AAAA, k == 3 ? a9 : v6, k == 3 ? 4 : 16);
		zone_meta_framework(o, "empty");
		if (k == 4)
			zone_meta_task(o, "late", "late.1");
		zone_meta_finish(o);
		static const char *const what[] = {
			"the same frameworks, tasks and records (other copies, other order): same",
			"a framework's spelling moved: not the same",
			"a task id moved: not the same",
			"a record's data moved: not the same",
			"one more task: not the same",
		};
		is_int(zone_meta_same(m, o), k == 0, "%s", what[k]);
		is_int(zone_meta_same(o, m), k == 0, "... either way round");
		zone_meta_free(o);
	}
	is_int(zone_meta_same(m, NULL), 0, "a meta is not the same as none");
	is_int(zone_meta_same(NULL, NULL), 1, "none is the same as none");

	zone_meta_free(m);
	zone_meta_free(NULL);
	ok(1, "zone_meta_free(NULL) returns (a crash would end the suite)");
	return done_testing();
}
