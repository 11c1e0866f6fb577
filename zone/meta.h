/* zone/meta.h -- which framework and task each task record came from (/v1/enumerate). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * The zone answers by name and forgets where a record came from; mesos-dns's
 * /v1/enumerate lists records by framework and task.  records_build fills a
 * zone_meta beside the zone it builds (when records_config.enumerate is
 * set) and hands it to the zone builder, so it is published, and freed,
 * together with its zone.  Pure data: no I/O.
 *
 * Strings are lower-case presentation text: names absolute with the
 * trailing dot ("nginx.marathon.mesos."), A/AAAA data the address, SRV data
 * "target.:port" as mesos-dns writes it.  Framework and task names and ids are
 * kept as the state spelled them.
 */

struct zone_meta_record {
	const char *name;
	const char *host;
	uint16_t type;		/* RR_A, RR_AAAA or RR_SRV */
};

struct zone_meta_task {
	const char *name;	/* the state's task name */
	const char *id;
	size_t first, n;	/* its records: records[first .. first + n) */
};

struct zone_meta_framework {
	const char *name;	/* the state's framework name */
	size_t first, n;	/* its tasks: tasks[first .. first + n) */
};

/* Everything lives in the meta's arena and arrays; read-only once finished. */
struct zone_meta {
	struct arena *arena;
	struct zone_meta_framework *frameworks;
	size_t nframeworks, capframeworks;
	struct zone_meta_task *tasks;
	size_t ntasks, captasks;
	struct zone_meta_record *records;
	size_t nrecords, caprecords;
	int in_task;		/* building: records go to the last task */
	/* building: record names and data interned (an app's name repeats for
	 * every instance), so each distinct string is stored once */
	const char **itab;	/* open addressing, NULL = empty */
	size_t itabsize, nitab;	/* itabsize a power of two */
};

/* An empty meta; NULL on out of memory.  Free with zone_meta_free. */
struct zone_meta *zone_meta_new(void);

/* Free m and everything in it; NULL is a no-op. */
void zone_meta_free(struct zone_meta *m);

/* Start the next framework (name copied; NULL is ""); ends any open task.
 * 0 or MDNS_ENOMEM. */
int zone_meta_framework(struct zone_meta *m, const char *name);

/* Start a task in the current framework (strings copied); 0, MDNS_EINVAL
 * without a framework, MDNS_ENOMEM. */
int zone_meta_task(struct zone_meta *m, const char *name, const char *id);

/* Close the current task: later records are not attributed to it. */
void zone_meta_task_end(struct zone_meta *m);

/*
 * Attribute a record to the open task: owner as text (any case, trailing dot
 * optional), type and data text as described above.  Without an open task it
 * is ignored (framework, agent and master records belong to no task).
 * 0 or MDNS_ENOMEM.
 */
int zone_meta_record(struct zone_meta *m, const char *owner, uint16_t type, const char *host);

/* Sort each task's records (name, type, data) and drop repeats.  Call once
 * after the last record. */
void zone_meta_finish(struct zone_meta *m);

/* Name of a record type as mesos-dns spells it: "A", "AAAA", "SRV"... */
const char *zone_meta_type_name(uint16_t type);
