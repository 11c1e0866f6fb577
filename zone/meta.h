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
 * A record is the zone's own owner name and rdata (wire format, lower
 * case, in the zone's arena: nothing is copied, so the index costs 24 bytes
 * a record and no formatting at build time); zone_meta_name and
 * zone_meta_host write them as mesos-dns does when /v1/enumerate asks.
 * Framework and task names and ids are kept as the state spelled them.
 */

struct zone_meta_record {
	const uint8_t *name;	/* wire owner */
	const uint8_t *rdata;
	uint16_t rdlen;
	uint16_t type;		/* RR_A, RR_AAAA or RR_SRV */
	uint8_t namelen;	/* wire length of name */
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
};

/* An empty meta; NULL on out of memory.  Free with zone_meta_free. */
struct zone_meta *zone_meta_new(void);

/* Room for about ntasks tasks and nrecords records (an eighth more), so a
 * rebuild like the last one fills its arrays without regrowing them;
 * 0 or MDNS_ENOMEM. */
int zone_meta_expect(struct zone_meta *m, size_t ntasks, size_t nrecords);

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
 * Attribute a record to the open task: its owner (lower-case wire name) and
 * rdata, which must stay valid as long as m (the zone's arena does).
 * Without an open task it is ignored (framework, agent and master records
 * belong to no task).  0 or MDNS_ENOMEM.
 */
int zone_meta_record(struct zone_meta *m, const uint8_t *owner, uint16_t type,
		     const uint8_t *rdata, uint16_t rdlen);

/* Sort each task's records (owner, type, data) and drop repeats.  Call once
 * after the last record. */
void zone_meta_finish(struct zone_meta *m);

/*
 * 1 when a and b list the same frameworks, tasks (names and ids as the state
 * spelled them) and records, in the same order; either may be NULL (equal
 * only to NULL).  Zones of equal content can differ here: a framework
 * renamed "Marathon" from "marathon" gives the same records.
 */
int zone_meta_same(const struct zone_meta *a, const struct zone_meta *b);

/* The record's owner as mesos-dns writes it: lower-case text with the
 * trailing dot ("nginx.marathon.mesos.").  Returns buf. */
char *zone_meta_name(const struct zone_meta_record *r, char *buf, size_t len);

/* The record's data as mesos-dns writes it: the address for A/AAAA,
 * "target.:port" for SRV.  Returns buf. */
char *zone_meta_host(const struct zone_meta_record *r, char *buf, size_t len);

/* Name of a record type as mesos-dns spells it: "A", "AAAA", "SRV"... */
const char *zone_meta_type_name(uint16_t type);
