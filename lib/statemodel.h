/* lib/statemodel.h -- the cluster state kept up to date from the Mesos operator event stream. */
#pragma once

#include <stddef.h>

struct mesos_state;
struct statemodel;

/*
 * With stateSource "stream" the daemon does not re-read the whole state: it
 * keeps a model that the SUBSCRIBED snapshot of POST /api/v1 fills and each
 * later event (TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
 * FRAMEWORK_ADDED/UPDATED/REMOVED) edits, and builds zones from a view of it
 * (statemodel_view), which reads like the struct mesos_state that
 * state_parse makes of the equivalent /master/state document: the same zone
 * comes out (tests/unit/test_statemodel.c checks this after every event).
 *
 * Tasks are keyed by (framework id, task id), agents and frameworks by id;
 * lookups are hashed, so an event costs O(1) (removing an agent or a
 * framework scans the tasks).  Tasks that reach a terminal state leave the
 * model, as they leave the records.  The operator API has no framework pid:
 * the pids come from /master/state-summary (STATEMODEL_SUMMARY input).
 *
 * Not thread-safe: one thread owns a model (the daemon's zone builder).
 */

/* What a text handed to statemodel_apply is. */
enum statemodel_input {
	STATEMODEL_EVENT = 0,	/* one RecordIO record of the SUBSCRIBE stream (an Event) */
	STATEMODEL_SUMMARY,	/* a /master/state-summary document: framework pids */
};

/* What applying inputs did; statemodel_apply ORs into it, so one struct can
 * gather a whole batch (zero it first). */
struct statemodel_effect {
	int subscribed;		/* a SUBSCRIBED snapshot replaced the model */
	double heartbeat;	/* its heartbeat_interval_seconds (0: none sent) */
	int frameworks;		/* frameworks were added or updated: their pids are worth
				   asking /master/state-summary for */
	int changed;		/* the records may have changed: a snapshot, a summary, an
				   agent or framework event, a running task added, gone or
				   given new addresses or health (not: heartbeats, tasks
				   staging or starting, unknown types) */
	unsigned events;	/* events applied (heartbeats included) */
};

/* An empty model, not subscribed yet; NULL when out of memory. */
struct statemodel *statemodel_new(void);

/* Free a model; NULL is a no-op. */
void statemodel_free(struct statemodel *m);

/*
 * Apply one input (text of len bytes, need not be NUL-terminated).  Events
 * before the first SUBSCRIBED, events that do not parse, and a TASK_UPDATED
 * moving a task the model does not hold to a non-terminal state mean the
 * model no longer matches the master: the caller must subscribe again.
 * Unknown event types are ignored (newer masters).  Returns 0, MDNS_EPARSE
 * (not JSON, not an object, a SUBSCRIBED without get_state, an event before
 * SUBSCRIBED), MDNS_ENOENT (the TASK_UPDATED above) or MDNS_ENOMEM, with a
 * message in err.  On failure the model may hold part of the input.
 */
int statemodel_apply(struct statemodel *m, enum statemodel_input kind, const char *text,
		     size_t len, struct statemodel_effect *eff, char *err, size_t errlen);

/*
 * The master the stream comes from, "host:port" ("[v6]:port"): it is the
 * leader of the view (SUBSCRIBED does not name one).  Returns 0, MDNS_EINVAL
 * (not a host:port) or MDNS_ENOMEM.
 */
int statemodel_set_leader(struct statemodel *m, const char *hostport);

/* 1 once a SUBSCRIBED snapshot was applied (and not reset since). */
int statemodel_subscribed(const struct statemodel *m);

/* Forget the agents, frameworks and tasks: the model is empty and not
 * subscribed, as new (the leader stays), until the next SUBSCRIBED.  For a
 * model that no longer matches its master, or that a newer state replaced. */
void statemodel_reset(struct statemodel *m);

/* Sizes, for logs. */
size_t statemodel_ntasks(const struct statemodel *m);
size_t statemodel_nagents(const struct statemodel *m);
size_t statemodel_nframeworks(const struct statemodel *m);

/*
 * A read-only view of the model as a struct mesos_state (tasks grouped under
 * their frameworks; tasks of frameworks the model does not know are left
 * out, as /master/state lists tasks only under frameworks).  Its strings and
 * lists are borrowed from m: valid until m changes; free only with
 * statemodel_view_free.  Returns 0 or MDNS_ENOMEM (*out NULL).
 */
int statemodel_view(const struct statemodel *m, struct mesos_state **out);

/* Free a view (not the model's data); NULL is a no-op. */
void statemodel_view_free(struct mesos_state *view);

/*
 * The model as a /master/state document holding the fields mesos-dnsd reads
 * (state_parse of it gives the same zone), e.g. for stateCacheFile.  Returns
 * a NUL-terminated string the caller frees with free() and its length in
 * *len, or NULL when out of memory.
 */
char *statemodel_dump(const struct statemodel *m, size_t *len);
