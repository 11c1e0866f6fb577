/* lib/statemodel.c -- the cluster state kept up to date from the Mesos operator event stream. */
#include "lib/statemodel.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "lib/err.h"
#include "lib/jsontree.h"
#include "lib/state.h"
#include "zone/arena.h"
#include "zone/itab.h"

/* ---- a string-keyed hash map ------------------------------------------- */

/*
 * Open addressing with linear probing; the key is borrowed from the item it
 * maps to.  Deleted slots become tombstones, swept when the table grows or
 * is rebuilt.  Iteration order is the slot order: arbitrary but stable for a
 * given history, which is all the zone needs (it sorts its records).
 */
struct sm_slot {
	const char *key;	/* NULL: empty; sm_tomb: deleted */
	void *item;
	uint64_t hash;
};

struct sm_map {
	struct sm_slot *v;
	size_t cap;		/* 0 or a power of two */
	size_t n;		/* live items */
	size_t used;		/* live items + tombstones */
};

static const char sm_tomb[] = "";

static uint64_t sm_hash(const char *s)
{
	/* A word at a time (zone/itab.h): Mesos ids are 40-odd bytes, and
	 * FNV's byte-by-byte multiply chain over a framework id was a twentieth
	 * of a stream build (statemodel_view looks one up per task). */
	return itab_hash(s, strlen(s));
}

static int sm_live(const struct sm_slot *sl)
{
	return sl->key && sl->key != sm_tomb;
}

static struct sm_slot *sm_find(const struct sm_map *m, const char *key, uint64_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1), k = 0; k < m->cap; i = (i + 1) & (m->cap - 1), k++) {
		struct sm_slot *sl = &m->v[i];

		if (!sl->key)
			return NULL;
		if (sl->key != sm_tomb && sl->hash == h && strcmp(sl->key, key) == 0)
			return sl;
	}
	return NULL;
}

static void *sm_get(const struct sm_map *m, const char *key)
{
	struct sm_slot *sl = sm_find(m, key, sm_hash(key));

	return sl ? sl->item : NULL;
}

static int sm_grow(struct sm_map *m)
{
	size_t cap = m->cap ? m->cap : 16;
	struct sm_slot *v;

	/* Double only when live items need it; otherwise rebuild to drop tombstones. */
	while ((m->n + 1) * 2 > cap)
		cap *= 2;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return MDNS_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const struct sm_slot *sl = &m->v[i];

		if (!sm_live(sl))
			continue;
		size_t j = sl->hash & (cap - 1);
		while (v[j].key)
			j = (j + 1) & (cap - 1);
		v[j] = *sl;
	}
	free(m->v);
	m->v = v;
	m->cap = cap;
	m->used = m->n;
	return 0;
}

/* Map key (borrowed from item) to item; the key must not be there yet. */
static int sm_put(struct sm_map *m, const char *key, void *item)
{
	uint64_t h = sm_hash(key);
	size_t i;

	if ((m->used + 1) * 2 > m->cap && sm_grow(m) != 0)
		return MDNS_ENOMEM;
	for (i = h & (m->cap - 1); sm_live(&m->v[i]); i = (i + 1) & (m->cap - 1))
		;
	if (!m->v[i].key)
		m->used++;
	m->v[i].key = key;
	m->v[i].item = item;
	m->v[i].hash = h;
	m->n++;
	return 0;
}

/* Remove key; returns its item (caller frees) or NULL. */
static void *sm_del(struct sm_map *m, const char *key)
{
	struct sm_slot *sl = sm_find(m, key, sm_hash(key));
	void *item;

	if (!sl)
		return NULL;
	item = sl->item;
	sl->key = sm_tomb;
	sl->item = NULL;
	m->n--;
	return item;
}

static void sm_clear(struct sm_map *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

#define SM_FOREACH(map, i, type, var)					\
	for (size_t i = 0; i < (map)->cap; i++)				\
		for (type *var = sm_live(&(map)->v[i]) ? (map)->v[i].item : NULL; var; var = NULL)

/* ---- the model -------------------------------------------------------- */

struct sm_task {
	char *key;		/* framework id, '\x1f', task id */
	char *framework_id;
	char state[32];		/* latest TaskState name, for statemodel_dump */
	struct state_task t;
};

struct sm_framework {
	char *id;
	struct state_framework f;	/* name, hostname, pid; no tasks */
	size_t view_idx;		/* scratch for statemodel_view */
};

struct statemodel {
	struct sm_map tasks;		/* key -> struct sm_task */
	struct sm_map agents;		/* id -> struct state_agent */
	struct sm_map frameworks;	/* id -> struct sm_framework */
	struct state_endpoint leader;	/* the master subscribed to */
	int subscribed;
};

static void task_free(struct sm_task *st)
{
	if (!st)
		return;
	free(st->key);
	free(st->framework_id);
	state_task_clear(&st->t);
	free(st);
}

static void agent_free(struct state_agent *a)
{
	state_agent_clear(a);
	free(a);
}

static void framework_free(struct sm_framework *f)
{
	if (!f)
		return;
	free(f->id);
	state_framework_clear(&f->f);
	free(f);
}

static void model_clear(struct statemodel *m)
{
	SM_FOREACH(&m->tasks, i, struct sm_task, t)
		task_free(t);
	SM_FOREACH(&m->agents, i, struct state_agent, a)
		agent_free(a);
	SM_FOREACH(&m->frameworks, i, struct sm_framework, f)
		framework_free(f);
	sm_clear(&m->tasks);
	sm_clear(&m->agents);
	sm_clear(&m->frameworks);
	m->subscribed = 0;
}

struct statemodel *statemodel_new(void)
{
	return calloc(1, sizeof(struct statemodel));
}

void statemodel_free(struct statemodel *m)
{
	if (!m)
		return;
	model_clear(m);
	state_endpoint_clear(&m->leader);
	free(m);
}

int statemodel_set_leader(struct statemodel *m, const char *hostport)
{
	char pid[320];
	struct state_endpoint ep;
	int rc;

	if (!hostport || snprintf(pid, sizeof(pid), "master@%s", hostport) >= (int)sizeof(pid))
		return MDNS_EINVAL;
	rc = state_parse_pid(pid, &ep);
	if (rc)
		return rc;
	state_endpoint_clear(&m->leader);
	m->leader = ep;
	return 0;
}

int statemodel_subscribed(const struct statemodel *m)
{
	return m->subscribed;
}

void statemodel_reset(struct statemodel *m)
{
	model_clear(m);
}

size_t statemodel_ntasks(const struct statemodel *m)
{
	return m->tasks.n;
}

size_t statemodel_nagents(const struct statemodel *m)
{
	return m->agents.n;
}

size_t statemodel_nframeworks(const struct statemodel *m)
{
	return m->frameworks.n;
}

/* ---- applying events ------------------------------------------------------ */

/* Mesos's terminal task states: such a task never runs again and leaves the model. */
static int state_terminal(const char *s)
{
	static const char *const terminal[] = {
		"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
		"TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR",
	};

	for (size_t i = 0; s && i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if (strcmp(s, terminal[i]) == 0)
			return 1;
	return 0;
}

static char *task_key(const char *fwid, const char *tid)
{
	size_t a = strlen(fwid), b = strlen(tid);
	char *k = malloc(a + b + 2);

	if (!k)
		return NULL;
	memcpy(k, fwid, a);
	k[a] = '\x1f';	/* cannot occur in an id Mesos accepts */
	memcpy(k + a + 1, tid, b + 1);
	return k;
}

static void task_remove(struct statemodel *m, const char *key)
{
	task_free(sm_del(&m->tasks, key));
}

/* Keep state, the task's TaskState name, for the dump: only a name as Mesos
 * writes them ("TASK_RUNNING": capitals and underscores, under 32 bytes);
 * anything else is kept as unknown, so that no cut or odd text reaches
 * stateCacheFile (a cut multibyte character would make it unreadable). */
static void task_state_set(struct sm_task *st, const char *state)
{
	size_t n = state ? strspn(state, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") : 0;

	if (n && !state[n] && n < sizeof(st->state))
		memcpy(st->state, state, n + 1);
	else
		st->state[0] = '\0';
}

/* TASK_ADDED, and the tasks of a snapshot: insert or replace.  *touched is set
 * when a running task comes or goes (the records may change). */
static int add_task(struct statemodel *m, const json_t *jt, int *touched)
{
	struct sm_task *st = calloc(1, sizeof(*st)), *old;
	const char *state = json_string_value(json_object_get(jt, "state"));
	int rc;

	if (!st)
		return MDNS_ENOMEM;
	rc = state_task_parse_v1(jt, &st->t, &st->framework_id);
	if (rc || !st->t.id) {
		task_free(st);
		return rc;	/* no id: skipped, as state_parse skips it */
	}
	st->key = task_key(st->framework_id, st->t.id);
	if (!st->key) {
		task_free(st);
		return MDNS_ENOMEM;
	}
	task_state_set(st, state);
	old = sm_get(&m->tasks, st->key);
	if (st->t.running || (old && old->t.running))
		*touched = 1;
	task_remove(m, st->key);
	if (state_terminal(state)) {
		task_free(st);
		return 0;
	}
	rc = sm_put(&m->tasks, st->key, st);
	if (rc)
		task_free(st);
	return rc;
}

static int update_task(struct statemodel *m, const json_t *ev, int *touched, char *err,
		       size_t errlen)
{
	const char *fwid = json_string_value(json_object_get(json_object_get(ev, "framework_id"),
							     "value"));
	const json_t *status = json_object_get(ev, "status");
	const char *tid = json_string_value(json_object_get(json_object_get(status, "task_id"),
							    "value"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	struct sm_task *st;
	char *key;
	int rc = 0;

	if (!fwid || !tid) {
		mdns_set_err(err, errlen, "TASK_UPDATED without framework_id.value or "
			"status.task_id.value");
		return MDNS_EPARSE;
	}
	if (!state)	/* older masters: the status's state is the task's */
		state = json_string_value(json_object_get(status, "state"));
	key = task_key(fwid, tid);
	if (!key)
		return MDNS_ENOMEM;
	st = sm_get(&m->tasks, key);
	if (!st) {
		/* Terminal tasks left the model already; anything else was missed. */
		if (!state_terminal(state)) {
			mdns_set_err(err, errlen, "TASK_UPDATED to %.32s for task %.200s, which the "
				"snapshot and events did not add", state ? state : "(no state)", tid);
			rc = MDNS_ENOENT;
		}
	} else if (state_terminal(state)) {
		if (st->t.running)
			*touched = 1;
		task_remove(m, key);
	} else {
		struct state_task before = st->t;

		rc = state_task_update_v1(&st->t, status, state);
		/* Records change when it starts or stops running, or a status replaced
		 * its addresses or health. */
		if (before.running != st->t.running ||
		    (st->t.running && (before.has_run_status != st->t.has_run_status ||
				       before.run_has_ts != st->t.run_has_ts ||
				       before.run_ts != st->t.run_ts)))
			*touched = 1;
		if (state)
			task_state_set(st, state);
	}
	free(key);
	return rc;
}

static int add_agent(struct statemodel *m, const json_t *ja)
{
	struct state_agent *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return MDNS_ENOMEM;
	rc = state_agent_parse_v1(ja, a);
	if (rc || !a->id) {
		agent_free(a);
		return rc;
	}
	agent_free(sm_del(&m->agents, a->id));
	rc = sm_put(&m->agents, a->id, a);
	if (rc)
		agent_free(a);
	return rc;
}

/* Drop the tasks matching (framework id or agent id); one of them is NULL. */
static void remove_tasks(struct statemodel *m, const char *fwid, const char *agent_id)
{
	for (size_t i = 0; i < m->tasks.cap; i++) {
		struct sm_slot *sl = &m->tasks.v[i];
		struct sm_task *t = sm_live(sl) ? sl->item : NULL;

		if (!t)
			continue;
		if ((fwid && strcmp(t->framework_id, fwid) == 0) ||
		    (agent_id && t->t.slave_id && strcmp(t->t.slave_id, agent_id) == 0)) {
			sl->key = sm_tomb;
			sl->item = NULL;
			m->tasks.n--;
			task_free(t);
		}
	}
}

static void remove_agent(struct statemodel *m, const char *id)
{
	/* A removed agent's tasks are gone from /master/state's frameworks too. */
	agent_free(sm_del(&m->agents, id));
	remove_tasks(m, NULL, id);
}

/* FRAMEWORK_ADDED / FRAMEWORK_UPDATED: insert or replace, keeping a known pid. */
static int add_framework(struct statemodel *m, const json_t *jf)
{
	struct sm_framework *f = calloc(1, sizeof(*f)), *old;
	int rc;

	if (!f)
		return MDNS_ENOMEM;
	rc = state_framework_parse_v1(jf, &f->f, &f->id);
	if (rc || !f->id) {
		framework_free(f);
		return rc;
	}
	old = sm_del(&m->frameworks, f->id);
	if (old && old->f.has_pid) {
		/* Until the next /master/state-summary says otherwise. */
		f->f.pid = old->f.pid;
		f->f.has_pid = 1;
		memset(&old->f.pid, 0, sizeof(old->f.pid));
	}
	framework_free(old);
	rc = sm_put(&m->frameworks, f->id, f);
	if (rc)
		framework_free(f);
	return rc;
}

static void remove_framework(struct statemodel *m, const json_t *info)
{
	const char *id = json_string_value(json_object_get(json_object_get(info, "id"), "value"));

	if (!id)
		return;
	framework_free(sm_del(&m->frameworks, id));
	remove_tasks(m, id, NULL);
}

/*
 * A SUBSCRIBED event's agents, frameworks and tasks do not wait for the whole
 * tree (lib/jsontree.h): each goes into a model of its own as it is read,
 * which replaces the model once the event is read whole and is a SUBSCRIBED
 * (load_snapshot).  The model changes all at once or not at all.
 */
enum { SNAP_AGENT = 1, SNAP_FRAMEWORK, SNAP_TASK, SNAP_DROP };
#define SNAP_TASKS(name, last) \
	static const char *const name[] = { "subscribed", "get_state", "get_tasks", last }
static const char *const snap_agents[] = { "subscribed", "get_state", "get_agents", "agents" };
static const char *const snap_frameworks[] = { "subscribed", "get_state", "get_frameworks",
					       "frameworks" };
SNAP_TASKS(snap_pending, "pending_tasks");
SNAP_TASKS(snap_tasks, "tasks");
SNAP_TASKS(snap_unreachable, "unreachable_tasks");
SNAP_TASKS(snap_completed, "completed_tasks");
SNAP_TASKS(snap_orphans, "orphan_tasks");
#undef SNAP_TASKS
/* completed_tasks are terminal (and orphan ones have no framework to list
 * them under, as /master/state): dropped as read; the others may run or come
 * back. */
static const struct jsontree_stream snap_streams[] = {
	{ snap_agents, 4, SNAP_AGENT },
	{ snap_frameworks, 4, SNAP_FRAMEWORK },
	{ snap_pending, 4, SNAP_TASK },
	{ snap_tasks, 4, SNAP_TASK },
	{ snap_unreachable, 4, SNAP_TASK },
	{ snap_completed, 4, SNAP_DROP },
	{ snap_orphans, 4, SNAP_DROP },
};

static int snap_element(void *ctx, int tag, json_t *v)
{
	struct statemodel *next = ctx;
	int touched = 0;

	switch (tag) {
	case SNAP_AGENT:
		return add_agent(next, v);
	case SNAP_FRAMEWORK:
		return add_framework(next, v);
	case SNAP_TASK:
		return add_task(next, v, &touched);
	default:
		return 0;
	}
}

/* SUBSCRIBED: the whole state (read into next), replacing the model. */
static int load_snapshot(struct statemodel *m, struct statemodel *next, const json_t *sub,
			 struct statemodel_effect *eff, char *err, size_t errlen)
{
	const json_t *v;

	if (!json_is_object(json_object_get(sub, "get_state"))) {
		mdns_set_err(err, errlen, "SUBSCRIBED without a get_state object");
		return MDNS_EPARSE;
	}
	model_clear(m);
	m->tasks = next->tasks;
	m->agents = next->agents;
	m->frameworks = next->frameworks;
	memset(&next->tasks, 0, sizeof(next->tasks));
	memset(&next->agents, 0, sizeof(next->agents));
	memset(&next->frameworks, 0, sizeof(next->frameworks));
	m->subscribed = 1;
	eff->subscribed = 1;
	eff->frameworks = 1;
	v = json_object_get(sub, "heartbeat_interval_seconds");
	eff->heartbeat = json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
	return 0;
}

static int apply_event(struct statemodel *m, struct statemodel *next, const json_t *ev,
		       struct statemodel_effect *eff, char *err, size_t errlen)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const json_t *body;

	if (!type) {
		mdns_set_err(err, errlen, "event without a \"type\" string");
		return MDNS_EPARSE;
	}
	eff->events++;
	if (strcmp(type, "HEARTBEAT") == 0)
		return 0;
	if (strcmp(type, "SUBSCRIBED") == 0) {
		eff->changed = 1;
		return load_snapshot(m, next, json_object_get(ev, "subscribed"), eff, err, errlen);
	}
	if (!m->subscribed) {
		mdns_set_err(err, errlen, "%.40s event before SUBSCRIBED", type);
		return MDNS_EPARSE;
	}
	if (strcmp(type, "TASK_ADDED") == 0)
		return add_task(m, json_object_get(json_object_get(ev, "task_added"), "task"),
				&eff->changed);
	if (strcmp(type, "TASK_UPDATED") == 0)
		return update_task(m, json_object_get(ev, "task_updated"), &eff->changed, err,
				   errlen);
	if (strcmp(type, "AGENT_ADDED") == 0) {
		eff->changed = 1;
		return add_agent(m, json_object_get(json_object_get(ev, "agent_added"), "agent"));
	}
	if (strcmp(type, "AGENT_REMOVED") == 0) {
		eff->changed = 1;
		const char *id = json_string_value(json_object_get(json_object_get(
			json_object_get(ev, "agent_removed"), "agent_id"), "value"));
		if (id)
			remove_agent(m, id);
		return 0;
	}
	if (strcmp(type, "FRAMEWORK_ADDED") == 0 || strcmp(type, "FRAMEWORK_UPDATED") == 0) {
		body = json_object_get(ev, strcmp(type, "FRAMEWORK_ADDED") == 0 ?
				       "framework_added" : "framework_updated");
		eff->frameworks = 1;
		eff->changed = 1;
		return add_framework(m, json_object_get(body, "framework"));
	}
	if (strcmp(type, "FRAMEWORK_REMOVED") == 0) {
		eff->changed = 1;
		remove_framework(m, json_object_get(json_object_get(ev, "framework_removed"),
						    "framework_info"));
		return 0;
	}
	return 0;	/* a type this version does not know: nothing we read */
}

/* /master/state-summary: the pids the operator API leaves out. */
static int apply_summary(struct statemodel *m, const json_t *doc)
{
	const json_t *jf;
	size_t i;

	json_array_foreach(json_object_get(doc, "frameworks"), i, jf) {
		const char *id = json_string_value(json_object_get(jf, "id"));
		const char *pid = json_string_value(json_object_get(jf, "pid"));
		struct sm_framework *f = id ? sm_get(&m->frameworks, id) : NULL;
		int rc;

		if (!f)
			continue;
		state_endpoint_clear(&f->f.pid);
		f->f.has_pid = 0;
		if (!pid)
			continue;
		rc = state_parse_pid(pid, &f->f.pid);
		if (rc == MDNS_ENOMEM)
			return rc;
		f->f.has_pid = rc == 0;
	}
	return 0;
}

int statemodel_apply(struct statemodel *m, enum statemodel_input kind, const char *text,
		     size_t len, struct statemodel_effect *eff, char *err, size_t errlen)
{
	const char *what = kind == STATEMODEL_EVENT ? "event" : "state summary";
	struct statemodel *next = NULL;
	json_t *root;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	/* Only an event can be a SUBSCRIBED: its arrays go into next as read. */
	if (kind == STATEMODEL_EVENT && !(next = statemodel_new())) {
		mdns_set_err(err, errlen, "out of memory parsing an event");
		return MDNS_ENOMEM;
	}
	rc = jsontree_parse(text, len, snap_streams, next ? sizeof(snap_streams) /
			    sizeof(snap_streams[0]) : 0, snap_element, next, &root, what, err, errlen);
	if (rc) {
		statemodel_free(next);
		return rc;
	}
	if (!json_is_object(root)) {
		mdns_set_err(err, errlen, "%s is not a JSON object", what);
		rc = MDNS_EPARSE;
	} else if (kind == STATEMODEL_SUMMARY) {
		rc = apply_summary(m, root);
		if (rc == 0)
			eff->changed = 1;
	} else {
		rc = apply_event(m, next, root, eff, err, errlen);
	}
	if (rc == MDNS_ENOMEM)
		mdns_set_err(err, errlen, "out of memory applying an event");
	json_decref(root);
	statemodel_free(next);
	return rc;
}

/* ---- the view --------------------------------------------------------------- */

/* A task of the view: the hash of its name (high half) and of its id. */
struct view_key {
	uint64_t key;
	const struct sm_task *t;
	size_t fw;		/* its framework's view_idx */
};

static const char *view_name(const struct view_key *k)
{
	return k->t->t.name ? k->t->t.name : "";
}

/* By the name's hash, then the id's; the same keys (hashes that collide) by
 * name, then id.  So the order, and /v1/enumerate's with it, is the same for
 * the same tasks whatever the map's history (a restart, a new snapshot), and
 * the strings are read only on a collision: comparing names and ids within
 * each app, a cache miss or two each time, cost a tenth of a stream build. */
static int view_key_cmp(const void *a, const void *b)
{
	const struct view_key *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	int c = strcmp(view_name(x), view_name(y));
	return c ? c : strcmp(x->t->t.id, y->t->t.id);
}

/* The framework of task t: its view_idx (numbered by the view or the dump
 * that asks), or SIZE_MAX when the model does not know it.  *memo is the
 * one found last: most tasks belong to the framework of the task before. */
static size_t view_framework(const struct statemodel *m, const struct sm_task *t,
			     const struct sm_framework **memo)
{
	if (!*memo || strcmp((*memo)->id, t->framework_id) != 0)
		*memo = sm_get(&m->frameworks, t->framework_id);
	return *memo ? (*memo)->view_idx : SIZE_MAX;
}

int statemodel_view(const struct statemodel *m, struct mesos_state **out)
{
	struct mesos_state *st = calloc(1, sizeof(*st));
	struct view_key *keys = NULL;
	size_t *count = NULL;
	const struct sm_framework *memo = NULL;

	*out = NULL;
	if (!st)
		return MDNS_ENOMEM;
	st->leader = m->leader;
	if (m->agents.n && !(st->agents = calloc(m->agents.n, sizeof(*st->agents))))
		goto oom;
	SM_FOREACH(&m->agents, i, struct state_agent, a)
		st->agents[st->nagents++] = *a;
	if (m->frameworks.n &&
	    !(st->frameworks = calloc(m->frameworks.n, sizeof(*st->frameworks))))
		goto oom;
	SM_FOREACH(&m->frameworks, i, struct sm_framework, f) {
		/* view_idx is scratch space of a const model: the view is built
		 * and read by the thread that owns the model. */
		((struct sm_framework *)f)->view_idx = st->nframeworks;
		st->frameworks[st->nframeworks] = f->f;
		st->frameworks[st->nframeworks].tasks = NULL;
		st->frameworks[st->nframeworks].ntasks = 0;
		st->nframeworks++;
	}
	/*
	 * Each framework's tasks app by app: records_build then meets an app's
	 * names one after another, and finds them still in the cache (in the
	 * map's hash order a 100,000-task build cost a fifth more).  Grouped by
	 * the hash of the name: no string is compared but on a collision
	 * (sorting by name, then id, was a tenth of a stream build).
	 */
	if (!(count = calloc(st->nframeworks + 1, sizeof(*count))) ||
	    (m->tasks.n && !(keys = malloc(m->tasks.n * sizeof(*keys)))))
		goto oom;
	size_t nk = 0;
	SM_FOREACH(&m->tasks, i, struct sm_task, t) {
		size_t k = view_framework(m, t, &memo);
		if (k == SIZE_MAX)
			continue;
		const char *name = t->t.name ? t->t.name : "";

		keys[nk].key = (uint64_t)itab_hash(name, strlen(name)) << 32 |
			       itab_hash(t->t.id, strlen(t->t.id));
		keys[nk].t = t;
		keys[nk].fw = k;
		count[k]++;
		nk++;
	}
	for (size_t k = 0; k < st->nframeworks; k++)
		if (count[k] && !(st->frameworks[k].tasks = calloc(count[k], sizeof(struct state_task))))
			goto oom;
	if (nk > 1)	/* keys is NULL without tasks */
		qsort(keys, nk, sizeof(*keys), view_key_cmp);
	for (size_t j = 0; j < nk; j++) {
		struct state_framework *vf = &st->frameworks[keys[j].fw];
		vf->tasks[vf->ntasks++] = keys[j].t->t;
	}
	free(keys);
	free(count);
	*out = st;
	return 0;
oom:
	free(keys);
	free(count);
	statemodel_view_free(st);
	return MDNS_ENOMEM;
}

void statemodel_view_free(struct mesos_state *view)
{
	if (!view)
		return;
	for (size_t i = 0; i < view->nframeworks; i++)
		free(view->frameworks[i].tasks);
	free(view->frameworks);
	free(view->agents);
	free(view);
}

/* ---- the dump ----------------------------------------------------------------- */

/*
 * Written with yajl's generator, straight into one growing buffer: a tree of
 * the whole document first (jansson) cost a 100,000-task stream build about
 * a fifth more CPU, most of it freeing the tree's millions of small blocks,
 * and its memory at the build's peak.
 */
struct dumpbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void dump_print(void *ctx, const char *str, size_t len)
{
	struct dumpbuf *b = ctx;

	if (b->oom || array_reserve((void **)&b->p, &b->cap, b->n + len + 1, 1) != 0) {
		b->oom = 1;
		return;
	}
	memcpy(b->p + b->n, str, len);
	b->n += len;
}

/* Each gen_* returns nonzero once the generator failed (it then stays
 * failed), so a whole document's calls can be OR-ed together; a key and
 * its value are joined with ||, which orders them (| leaves the order of
 * its two calls unspecified, and the value could go out before its key). */
static int gen_fail(yajl_gen_status s)
{
	return s != yajl_gen_status_ok;
}

static int gen_map_open(yajl_gen g)
{
	return gen_fail(yajl_gen_map_open(g));
}

static int gen_map_close(yajl_gen g)
{
	return gen_fail(yajl_gen_map_close(g));
}

static int gen_array_open(yajl_gen g)
{
	return gen_fail(yajl_gen_array_open(g));
}

static int gen_array_close(yajl_gen g)
{
	return gen_fail(yajl_gen_array_close(g));
}

static int gen_str(yajl_gen g, const char *v)
{
	return gen_fail(yajl_gen_string(g, (const unsigned char *)v, strlen(v)));
}

/* "key": "value"; nothing when value is NULL. */
static int gen_kv(yajl_gen g, const char *key, const char *value)
{
	return value ? gen_str(g, key) || gen_str(g, value) : 0;
}

/* "key": "name@host:port"; nothing when the endpoint has no host. */
static int gen_pid(yajl_gen g, const char *key, const char *name, const struct state_endpoint *ep)
{
	char buf[400];
	int v6;

	if (!ep->host)
		return 0;
	v6 = strchr(ep->host, ':') != NULL;
	if (ep->port)
		snprintf(buf, sizeof(buf), v6 ? "%s@[%s]:%u" : "%s@%s:%u", name, ep->host,
			 (unsigned)ep->port);
	else
		snprintf(buf, sizeof(buf), v6 ? "%s@[%s]" : "%s@%s", name, ep->host);
	return gen_kv(g, key, buf);
}

/* "ports": "[31000-31000, 31001-31001]", as /master/state writes resources. */
static int gen_ports(yajl_gen g, const struct state_task *t)
{
	char buf[512];
	char *s = buf;
	size_t cap = t->nports * 14 + 3, o = 0;
	int bad;

	if (cap > sizeof(buf) && !(s = malloc(cap)))
		return 1;
	s[o++] = '[';
	for (size_t i = 0; i < t->nports; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%u-%u", i ? ", " : "",
				      (unsigned)t->ports[i], (unsigned)t->ports[i]);
	s[o++] = ']';
	s[o] = '\0';
	bad = gen_kv(g, "ports", s);
	if (s != buf)
		free(s);
	return bad;
}

static int gen_labels(yajl_gen g, const char *key, const struct iplist *l)
{
	char ip[64];
	int bad = 0;

	for (size_t i = 0; i < l->n; i++) {
		bad |= gen_map_open(g);
		bad |= gen_kv(g, "key", key);
		bad |= gen_kv(g, "value", ipaddr_format(&l->v[i], ip, sizeof(ip)));
		bad |= gen_map_close(g);
	}
	return bad;
}

/* The one status the model keeps: the TASK_RUNNING status the addresses come from. */
static int gen_status(yajl_gen g, const struct state_task *t)
{
	char ip[64];
	int bad = gen_map_open(g);

	bad |= gen_kv(g, "state", "TASK_RUNNING");
	if (t->run_has_ts && isfinite(t->run_ts)) {
		/* As /master/state writes it (yajl_gen_double would give 20 digits). */
		char num[48];
		int k = snprintf(num, sizeof(num), "%.17g", t->run_ts);
		if (!strpbrk(num, ".e"))
			k += snprintf(num + k, sizeof(num) - (size_t)k, ".0");
		bad |= gen_str(g, "timestamp") || gen_fail(yajl_gen_number(g, num, (size_t)k));
	}
	if (t->healthy >= 0)
		bad |= gen_str(g, "healthy") || gen_fail(yajl_gen_bool(g, t->healthy));
	bad |= gen_str(g, "labels") || gen_array_open(g);
	bad |= gen_labels(g, "MesosContainerizer.NetworkSettings.IPAddress", &t->ip_mesos);
	bad |= gen_labels(g, "Docker.NetworkSettings.IPAddress", &t->ip_docker);
	bad |= gen_array_close(g);
	if (t->ip_netinfo.n) {
		bad |= gen_str(g, "container_status") || gen_map_open(g);
		bad |= gen_str(g, "network_infos") || gen_array_open(g);
		bad |= gen_map_open(g);
		bad |= gen_str(g, "ip_addresses") || gen_array_open(g);
		for (size_t i = 0; i < t->ip_netinfo.n; i++) {
			bad |= gen_map_open(g);
			bad |= gen_kv(g, "ip_address", ipaddr_format(&t->ip_netinfo.v[i], ip, sizeof(ip)));
			bad |= gen_map_close(g);
		}
		bad |= gen_array_close(g);
		bad |= gen_map_close(g);
		bad |= gen_array_close(g);
		bad |= gen_map_close(g);
	}
	return bad | gen_map_close(g);
}

static int gen_discovery(yajl_gen g, const struct state_task *t)
{
	int bad = gen_str(g, "discovery") || gen_map_open(g);

	bad |= gen_kv(g, "name", t->di_name);
	bad |= gen_str(g, "ports") || gen_map_open(g);
	bad |= gen_str(g, "ports") || gen_array_open(g);
	for (size_t i = 0; i < t->ndi_ports; i++) {
		const struct state_diport *p = &t->di_ports[i];
		bad |= gen_map_open(g);
		bad |= gen_str(g, "number") || gen_fail(yajl_gen_integer(g, p->number));
		bad |= gen_kv(g, "name", p->name);
		bad |= gen_kv(g, "protocol", p->protocol);
		bad |= gen_map_close(g);
	}
	bad |= gen_array_close(g);
	bad |= gen_map_close(g);
	return bad | gen_map_close(g);
}

static int gen_task(yajl_gen g, const struct sm_task *st)
{
	const struct state_task *t = &st->t;
	int bad = gen_map_open(g);

	bad |= gen_kv(g, "id", t->id);
	bad |= gen_kv(g, "framework_id", st->framework_id);
	bad |= gen_kv(g, "state", st->state[0] ? st->state : "TASK_STAGING");
	bad |= gen_kv(g, "name", t->name);
	bad |= gen_kv(g, "slave_id", t->slave_id);
	bad |= gen_str(g, "resources") || gen_map_open(g);
	bad |= gen_ports(g, t);
	bad |= gen_map_close(g);
	bad |= gen_str(g, "statuses") || gen_array_open(g);
	if (t->has_run_status)
		bad |= gen_status(g, t);
	bad |= gen_array_close(g);
	if (t->has_discovery)
		bad |= gen_discovery(g, t);
	return bad | gen_map_close(g);
}

char *statemodel_dump(const struct statemodel *m, size_t *len)
{
	struct dumpbuf b = { 0 };
	const struct sm_task **byfw = NULL;	/* the tasks, framework by framework */
	size_t *start = NULL, nfw = 0;
	yajl_gen g = yajl_gen_alloc(NULL);
	int bad = !g;

	if (!bad)
		bad = !yajl_gen_config(g, yajl_gen_print_callback, dump_print, &b);
	/* Group the tasks by framework (a counting sort on the framework's
	 * index): a framework's tasks go inside its object. */
	SM_FOREACH(&m->frameworks, i, struct sm_framework, f)
		((struct sm_framework *)f)->view_idx = nfw++;	/* scratch, as in statemodel_view */
	if (!bad && (!(start = calloc(nfw + 1, sizeof(*start))) ||
		     (m->tasks.n && !(byfw = malloc(m->tasks.n * sizeof(*byfw))))))
		bad = 1;
	if (!bad) {
		const struct sm_framework *memo = NULL;
		SM_FOREACH(&m->tasks, i, struct sm_task, t) {
			size_t k = view_framework(m, t, &memo);
			if (k != SIZE_MAX)
				start[k + 1]++;
		}
		for (size_t k = 0; k < nfw; k++)
			start[k + 1] += start[k];
		SM_FOREACH(&m->tasks, i, struct sm_task, t) {
			size_t k = view_framework(m, t, &memo);
			if (k != SIZE_MAX)
				byfw[start[k]++] = t;
		}
		/* start[k] is now the end of framework k's run, the start of k+1's. */
	}
	if (!bad) {
		bad |= gen_map_open(g);
		bad |= gen_pid(g, "leader", "master", &m->leader);
		bad |= gen_str(g, "slaves") || gen_array_open(g);
		SM_FOREACH(&m->agents, i, struct state_agent, a) {
			bad |= gen_map_open(g);
			bad |= gen_kv(g, "id", a->id);
			bad |= gen_kv(g, "hostname", a->hostname);
			bad |= gen_pid(g, "pid", "slave(1)", &a->pid);
			bad |= gen_map_close(g);
		}
		bad |= gen_array_close(g);
		bad |= gen_str(g, "frameworks") || gen_array_open(g);
		SM_FOREACH(&m->frameworks, i, struct sm_framework, f) {
			size_t k = f->view_idx, lo = k ? start[k - 1] : 0;
			bad |= gen_map_open(g);
			bad |= gen_kv(g, "id", f->id);
			bad |= gen_kv(g, "name", f->f.name);	/* none: dropped on reading, as polled */
			bad |= gen_kv(g, "hostname", f->f.hostname);
			if (f->f.has_pid)
				bad |= gen_pid(g, "pid", "scheduler(1)", &f->f.pid);
			bad |= gen_str(g, "tasks") || gen_array_open(g);
			for (size_t j = lo; j < start[k] && !bad; j++)
				bad |= gen_task(g, byfw[j]);
			bad |= gen_array_close(g);
			bad |= gen_map_close(g);
		}
		bad |= gen_array_close(g);
		bad |= gen_map_close(g);
	}
	if (g)
		yajl_gen_free(g);
	free(byfw);
	free(start);
	if (bad || b.oom || !b.p) {
		free(b.p);
		return NULL;
	}
	b.p[b.n] = '\0';
	if (len)
		*len = b.n;
	return b.p;
}
