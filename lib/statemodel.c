/* lib/statemodel.c -- the cluster state kept up to date from the Mesos operator event stream. */
#include "lib/statemodel.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/jsontree.h"
#include "lib/state.h"

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
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
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
	snprintf(st->state, sizeof(st->state), "%s", state ? state : "");
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
			snprintf(st->state, sizeof(st->state), "%s", state);
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

/* The view's tasks by name, then id: a framework's tasks come out of the
 * hash in no order, and the zone builder finds an app's names in its cache
 * when its tasks come one after another, as /master/state lists them. */
static int task_order(const void *a, const void *b)
{
	const struct state_task *x = a, *y = b;
	int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");

	return c ? c : strcmp(x->id, y->id);
}

int statemodel_view(const struct statemodel *m, struct mesos_state **out)
{
	struct mesos_state *st = calloc(1, sizeof(*st));
	size_t n;

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
	/* Count each framework's tasks, allocate, then fill. */
	SM_FOREACH(&m->tasks, i, struct sm_task, t) {
		const struct sm_framework *f = sm_get(&m->frameworks, t->framework_id);
		if (f)
			st->frameworks[f->view_idx].ntasks++;
	}
	for (size_t i = 0; i < st->nframeworks; i++) {
		n = st->frameworks[i].ntasks;
		st->frameworks[i].ntasks = 0;
		if (n && !(st->frameworks[i].tasks = calloc(n, sizeof(struct state_task))))
			goto oom;
	}
	SM_FOREACH(&m->tasks, i, struct sm_task, t) {
		const struct sm_framework *f = sm_get(&m->frameworks, t->framework_id);
		if (f) {
			struct state_framework *vf = &st->frameworks[f->view_idx];
			vf->tasks[vf->ntasks++] = t->t;
		}
	}
	for (size_t i = 0; i < st->nframeworks; i++)
		if (st->frameworks[i].ntasks > 1)	/* tasks is NULL without any */
			qsort(st->frameworks[i].tasks, st->frameworks[i].ntasks,
			      sizeof(struct state_task), task_order);
	*out = st;
	return 0;
oom:
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

/* "name@host:port" of an endpoint, or NULL when it has no host. */
static json_t *pid_json(const char *name, const struct state_endpoint *ep)
{
	char buf[400];
	int v6;

	if (!ep->host)
		return NULL;
	v6 = strchr(ep->host, ':') != NULL;
	if (ep->port)
		snprintf(buf, sizeof(buf), v6 ? "%s@[%s]:%u" : "%s@%s:%u", name, ep->host,
			 (unsigned)ep->port);
	else
		snprintf(buf, sizeof(buf), v6 ? "%s@[%s]" : "%s@%s", name, ep->host);
	return json_string(buf);
}

/* Set key to v unless v is NULL; 0 or -1 (out of memory). */
static int set_opt(json_t *obj, const char *key, json_t *v)
{
	return v ? json_object_set_new(obj, key, v) : 0;
}

static json_t *ports_json(const struct state_task *t)
{
	size_t cap = t->nports * 14 + 3, o = 0;
	char *s = malloc(cap);
	json_t *j;

	if (!s)
		return NULL;
	s[o++] = '[';
	for (size_t i = 0; i < t->nports; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%u-%u", i ? ", " : "",
				      (unsigned)t->ports[i], (unsigned)t->ports[i]);
	s[o++] = ']';
	s[o] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static int labels_add(json_t *labels, const char *key, const struct iplist *l)
{
	char ip[64];

	for (size_t i = 0; i < l->n; i++)
		if (json_array_append_new(labels, json_pack("{s:s, s:s}", "key", key, "value",
							     ipaddr_format(&l->v[i], ip, sizeof(ip)))))
			return -1;
	return 0;
}

/* The one status the model keeps: the TASK_RUNNING status the addresses come from. */
static json_t *status_json(const struct state_task *t)
{
	json_t *st = json_pack("{s:s}", "state", "TASK_RUNNING");
	json_t *labels = json_array(), *addrs = json_array();
	char ip[64];

	if (!st || !labels || !addrs)
		goto oom;
	if (t->run_has_ts && json_object_set_new(st, "timestamp", json_real(t->run_ts)))
		goto oom;
	if (t->healthy >= 0 && json_object_set_new(st, "healthy", json_boolean(t->healthy)))
		goto oom;
	if (labels_add(labels, "MesosContainerizer.NetworkSettings.IPAddress", &t->ip_mesos) ||
	    labels_add(labels, "Docker.NetworkSettings.IPAddress", &t->ip_docker))
		goto oom;
	for (size_t i = 0; i < t->ip_netinfo.n; i++)
		if (json_array_append_new(addrs, json_pack("{s:s}", "ip_address",
				ipaddr_format(&t->ip_netinfo.v[i], ip, sizeof(ip)))))
			goto oom;
	/* set_new takes the reference even when it fails. */
	if (json_object_set_new(st, "labels", labels)) {
		labels = NULL;
		goto oom;
	}
	labels = NULL;
	if (t->ip_netinfo.n) {
		json_t *cs = json_pack("{s:[{s:o}]}", "network_infos", "ip_addresses", addrs);
		addrs = NULL;
		if (!cs || json_object_set_new(st, "container_status", cs))
			goto oom;
	}
	json_decref(addrs);
	return st;
oom:
	json_decref(st);
	json_decref(labels);
	json_decref(addrs);
	return NULL;
}

static json_t *discovery_json(const struct state_task *t)
{
	json_t *ports = json_array(), *di;

	if (!ports)
		return NULL;
	for (size_t i = 0; i < t->ndi_ports; i++) {
		const struct state_diport *p = &t->di_ports[i];
		json_t *jp = json_pack("{s:I}", "number", (json_int_t)p->number);

		if (!jp || json_array_append_new(ports, jp) ||
		    (p->name && json_object_set_new(jp, "name", json_string(p->name))) ||
		    (p->protocol && json_object_set_new(jp, "protocol", json_string(p->protocol)))) {
			json_decref(ports);
			return NULL;
		}
	}
	di = json_pack("{s:{s:o}}", "ports", "ports", ports);
	if (di && t->di_name && json_object_set_new(di, "name", json_string(t->di_name))) {
		json_decref(di);
		return NULL;
	}
	return di;
}

static json_t *task_json(const struct sm_task *st)
{
	const struct state_task *t = &st->t;
	json_t *jt = json_pack("{s:s, s:s, s:s, s:{s:o}, s:[]}", "id", t->id,
			       "framework_id", st->framework_id,
			       "state", st->state[0] ? st->state : "TASK_STAGING",
			       "resources", "ports", ports_json(t), "statuses");

	if (!jt)
		return NULL;
	if ((t->name && json_object_set_new(jt, "name", json_string(t->name))) ||
	    (t->slave_id && json_object_set_new(jt, "slave_id", json_string(t->slave_id))) ||
	    (t->has_discovery && set_opt(jt, "discovery", discovery_json(t)) != 0) ||
	    (t->has_discovery && !json_object_get(jt, "discovery")) ||
	    (t->has_run_status &&
	     json_array_append_new(json_object_get(jt, "statuses"), status_json(t)))) {
		json_decref(jt);
		return NULL;
	}
	return jt;
}

char *statemodel_dump(const struct statemodel *m, size_t *len)
{
	json_t *root = json_object(), *slaves = json_array(), *fws = json_array();
	char *text = NULL;

	if (!root || !slaves || !fws)
		goto out;
	if (set_opt(root, "leader", pid_json("master", &m->leader)) ||
	    json_object_set(root, "slaves", slaves) || json_object_set(root, "frameworks", fws))
		goto out;
	SM_FOREACH(&m->agents, i, struct state_agent, a) {
		json_t *ja = json_pack("{s:s}", "id", a->id);
		if (!ja || json_array_append_new(slaves, ja) ||
		    (a->hostname && json_object_set_new(ja, "hostname", json_string(a->hostname))) ||
		    set_opt(ja, "pid", pid_json("slave(1)", &a->pid)))
			goto out;
	}
	SM_FOREACH(&m->frameworks, i, struct sm_framework, f) {
		json_t *jf = json_pack("{s:s, s:s, s:[]}", "id", f->id, "name", f->f.name, "tasks");

		/* Scratch of a const model, as in statemodel_view. */
		((struct sm_framework *)f)->view_idx = json_array_size(fws);
		if (!jf || json_array_append_new(fws, jf) ||
		    (f->f.hostname && json_object_set_new(jf, "hostname",
							  json_string(f->f.hostname))) ||
		    (f->f.has_pid && set_opt(jf, "pid", pid_json("scheduler(1)", &f->f.pid))))
			goto out;
	}
	SM_FOREACH(&m->tasks, i, struct sm_task, t) {
		const struct sm_framework *f = sm_get(&m->frameworks, t->framework_id);
		json_t *jf, *jt;

		if (!f)
			continue;
		jf = json_array_get(fws, f->view_idx);
		jt = task_json(t);
		if (!jt || !jf || json_array_append_new(json_object_get(jf, "tasks"), jt))
			goto out;
	}
	text = json_dumps(root, JSON_COMPACT);
	if (text && len)
		*len = strlen(text);
out:
	json_decref(slaves);
	json_decref(fws);
	json_decref(root);
	return text;
}
