/* tests/unit/test_meta.c -- zone/meta: records by framework and task for /v1/enumerate. */
#include <string.h>

#include "lib/err.h"
#include "zone/meta.h"
#include "zone/zone.h"
#include "tests/unit/tap.h"

int main(void)
{
	struct zone_meta *m = zone_meta_new();

	ok(m != NULL, "new");
	is_int(zone_meta_task(m, "t", "id"), MDNS_EINVAL, "a task needs a framework");
	is_int(zone_meta_framework(m, "Marathon"), 0, "framework");
	is_int(zone_meta_record(m, "marathon.mesos", RR_A, "1.2.3.4"), 0,
	       "a record outside a task is accepted");
	is_int(m->nrecords, 0, "and not attributed");
	is_int(zone_meta_task(m, "Web App", "web.1"), 0, "task");
	zone_meta_record(m, "Web-App.Marathon.mesos", RR_A, "10.0.0.2");
	zone_meta_record(m, "_web-app._tcp.marathon.mesos", RR_SRV, "WEB-APP-x.marathon.slave.mesos.:31000");
	zone_meta_record(m, "web-app.marathon.mesos.", RR_A, "10.0.0.1");
	zone_meta_record(m, "web-app.marathon.mesos", RR_A, "10.0.0.2");
	zone_meta_task_end(m);
	zone_meta_record(m, "slave.mesos", RR_A, "10.0.0.9");
	is_int(zone_meta_task(m, "db", "db.1"), 0, "second task");
	zone_meta_record(m, "db.marathon.mesos", RR_AAAA, "FD00::1");
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
	is_str(r[0].name, "_web-app._tcp.marathon.mesos.", "sorted; names lower-case with a dot");
	is_str(r[0].host, "web-app-x.marathon.slave.mesos.:31000", "SRV data lower-case");
	is_str(zone_meta_type_name(r[0].type), "SRV", "type name");
	is_str(r[1].host, "10.0.0.1", "A records sorted by data");
	is_str(r[2].host, "10.0.0.2", "second A");
	is_int(m->tasks[1].n, 1, "second task's record");
	is_str(m->records[m->tasks[1].first].host, "fd00::1", "its data");
	is_int(m->tasks[1].first, 3, "records stay packed after de-duplication");
	is_int(m->nrecords, 4, "four records in all");
	zone_meta_free(m);
	zone_meta_free(NULL);
	ok(1, "free(NULL) is a no-op");
	return done_testing();
}
