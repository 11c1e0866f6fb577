/* lib/statesax.c -- parse /master/state in one streaming pass (yajl), no JSON tree. */
#include "lib/statesax.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#include "lib/err.h"
#include "lib/jsontree.h"
#include "lib/state.h"
#include "lib/utf8.h"

/*
 * Why not jansson here: a 100,000-task state is ~180 MB of JSON, and a
 * jansson tree of it costs ~1.5 GB and ~4 CPU-seconds to build and free,
 * for a document of which we read a few fields.  yajl hands us events; we
 * keep a stack of what each open container is (a task, its statuses, ...)
 * and copy only the fields of behaviour.md §1.4 into the model.  Anything
 * else is skipped without being stored.  The result is the same model the
 * rules of lib/state.h describe: same fields required, same things read as
 * absent, and for a key given twice the last one wins (as in jansson).
 */

#define XXH_INLINE_ALL
#include <xxhash.h>

#define SAX_MAX_DEPTH 512

/* What an open container is. */
enum ctx {
	C_SKIP = 0,		/* not ours: ignore everything inside */
	C_ROOT,
	C_SLAVES, C_SLAVE,
	C_FWS, C_FW,
	C_TASKS, C_TASK,
	C_RESOURCES,
	C_DISC, C_DISC_PORTS, C_DISC_PORT_ARR, C_DISC_PORT,
	C_STATUSES, C_STATUS,
	C_LABELS_WRAP, C_LABELS, C_LABEL,
	C_CSTATUS, C_NETINFOS, C_NETINFO, C_IPADDRS, C_IPADDR,
};

/* A status being read; it replaces the task's only if it is the latest TASK_RUNNING one. */
struct sax_status {
	int running;
	int has_ts;
	double ts;
	int healthy;
	struct iplist mesos, docker, netinfo;
};

/* One NetworkInfo being read: ip_address counts only without ip_addresses. */
struct sax_netinfo {
	struct iplist list;	/* from ip_addresses[] */
	int had_list;		/* ip_addresses held an entry (an object) */
	char *single;		/* ip_address */
	char *entry;		/* ip_addresses[i].ip_address, the entry being read */
};

struct sax {
	struct mesos_state *st;
	enum ctx stack[SAX_MAX_DEPTH];
	int depth;
	int skip_depth;		/* >0: inside a skipped container, its depth */
	char key[64];		/* last key in the current object */
	size_t keylen;		/* its length; SIZE_MAX when it did not fit
				   (it then matches nothing) */
	size_t cap_agents, cap_fws, cap_tasks, cap_diports;

	/* the leader, kept raw until the end (its type decides the error) */
	int leader_seen;
	int leader_type;	/* 0 string, 1 other */
	const char *leader_type_name;
	char *leader;

	/* containers being filled */
	struct state_task *task;
	struct state_diport *diport;
	struct sax_status status;
	struct sax_netinfo ni;
	char *label_key, *label_value;

	const char *root;	/* what the document is ("an object", ...), from its first event */
	int oom;
	int toodeep;
	int nul;		/* a string held a NUL (rejected, as jansson does) */
	uintptr_t chunk, chunk_end;	/* the text yajl_parse is reading now */
	uint64_t fp;		/* what was read so far, hashed (fp_event) */
};

static int iplist_push(struct iplist *l, const struct ipaddr *a)
{
	if (l->n == 0 || (l->n & (l->n - 1)) == 0) {
		size_t cap = l->n ? l->n * 2 : 1;
		struct ipaddr *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return MDNS_ENOMEM;
		l->v = v;
	}
	l->v[l->n++] = *a;
	return 0;
}

/* Append the literal in s[0..n) when it is one; others are skipped. */
static int iplist_push_text(struct iplist *l, const unsigned char *s, size_t n)
{
	char buf[64];
	struct ipaddr a;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (ipaddr_parse(buf, &a) != 0)
		return 0;
	return iplist_push(l, &a);
}

static void iplist_drop(struct iplist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void status_reset(struct sax_status *s)
{
	iplist_drop(&s->mesos);
	iplist_drop(&s->docker);
	iplist_drop(&s->netinfo);
	memset(s, 0, sizeof(*s));
	s->healthy = -1;
}

static void netinfo_reset(struct sax_netinfo *ni)
{
	iplist_drop(&ni->list);
	free(ni->single);
	free(ni->entry);
	memset(ni, 0, sizeof(*ni));
}

/* Replace *dst with a copy of s[0..n); sets oom on failure. */
static void set_str(struct sax *x, char **dst, const unsigned char *s, size_t n)
{
	/* yajl does not check strings (statesax_new): the ones kept are
	 * repaired here, so the model holds UTF-8 (lib/utf8.h). */
	int valid = utf8_valid((const char *)s, n);
	char *c = malloc(valid ? n + 1 : UTF8_REPAIR_MAX(n) + 1);

	if (!c) {
		x->oom = 1;
		return;
	}
	if (valid)
		memcpy(c, s, n);
	else
		n = utf8_repair((const char *)s, n, c);
	c[n] = 0;
	free(*dst);
	*dst = c;
}

/* An optional string under its key: a string replaces *dst, any other value
 * clears it (a key given twice: the last one wins, as jansson reads it). */
static void set_opt(struct sax *x, char **dst, int is_string, const unsigned char *s, size_t n)
{
	if (is_string) {
		set_str(x, dst, s, n);
	} else {
		free(*dst);
		*dst = NULL;
	}
}

/* k is a literal: its length is known at compile time, so most keys are
 * told apart by their length alone (strcmp was 2% of a big state's build). */
static inline int key_is(const struct sax *x, const char *k)
{
	size_t n = strlen(k);

	return x->keylen == n && memcmp(x->key, k, n) == 0;
}

static enum ctx top(const struct sax *x)
{
	return x->stack[x->depth - 1];
}

/* Grow an array of elements of size sz held in *v with capacity *cap to hold n+1. */
static void *grow(struct sax *x, void *v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return v;
	size_t nc = *cap ? *cap * 2 : 16;
	void *nv = realloc(v, nc * sz);
	if (!nv) {
		x->oom = 1;
		return NULL;
	}
	memset((char *)nv + *cap * sz, 0, (nc - *cap) * sz);
	*cap = nc;
	return nv;
}

/* ---- containers ------------------------------------------------------- */

/* What a new object (is_map) or array opened under the current key becomes. */
static enum ctx child_ctx(struct sax *x, int is_map)
{
	enum ctx parent = x->depth ? top(x) : C_SKIP;

	if (x->depth == 0)
		return is_map ? C_ROOT : C_SKIP;
	switch (parent) {
	case C_ROOT:
		if (!is_map && key_is(x, "slaves"))
			return C_SLAVES;
		if (!is_map && key_is(x, "frameworks"))
			return C_FWS;
		return C_SKIP;
	case C_SLAVES:	return is_map ? C_SLAVE : C_SKIP;
	case C_FWS:	return is_map ? C_FW : C_SKIP;
	case C_FW:	return !is_map && key_is(x, "tasks") ? C_TASKS : C_SKIP;
	case C_TASKS:	return is_map ? C_TASK : C_SKIP;
	case C_TASK:
		if (is_map && key_is(x, "resources"))
			return C_RESOURCES;
		if (is_map && key_is(x, "discovery"))
			return C_DISC;
		if (!is_map && key_is(x, "statuses"))
			return C_STATUSES;
		return C_SKIP;
	case C_DISC:	return is_map && key_is(x, "ports") ? C_DISC_PORTS : C_SKIP;
	case C_DISC_PORTS: return !is_map && key_is(x, "ports") ? C_DISC_PORT_ARR : C_SKIP;
	case C_DISC_PORT_ARR: return is_map ? C_DISC_PORT : C_SKIP;
	case C_STATUSES: return is_map ? C_STATUS : C_SKIP;
	case C_STATUS:
		if (key_is(x, "labels"))
			return is_map ? C_LABELS_WRAP : C_LABELS;
		if (is_map && key_is(x, "container_status"))
			return C_CSTATUS;
		return C_SKIP;
	case C_LABELS_WRAP: return !is_map && key_is(x, "labels") ? C_LABELS : C_SKIP;
	case C_LABELS:	return is_map ? C_LABEL : C_SKIP;
	case C_CSTATUS:	return !is_map && key_is(x, "network_infos") ? C_NETINFOS : C_SKIP;
	case C_NETINFOS: return is_map ? C_NETINFO : C_SKIP;
	case C_NETINFO:	return !is_map && key_is(x, "ip_addresses") ? C_IPADDRS : C_SKIP;
	case C_IPADDRS:	return is_map ? C_IPADDR : C_SKIP;
	default:	return C_SKIP;
	}
}

/*
 * Forget what an earlier value of the member opening context c put in the
 * model: a key given twice is the last one, as jansson (the event stream's
 * parser) reads it.  Called when c opens, and when the member comes as
 * something else (null, a scalar, the wrong container), which reads as
 * absent (scalar()).
 */
static void reset_member(struct sax *x, enum ctx c)
{
	struct state_task *t = x->task;

	switch (c) {
	case C_RESOURCES:
		free(t->ports);
		t->ports = NULL;
		t->nports = 0;
		break;
	case C_DISC:
		t->has_discovery = 0;
		free(t->di_name);
		t->di_name = NULL;
		/* and its ports: */
		/* fall through */
	case C_DISC_PORTS:
	case C_DISC_PORT_ARR:
		for (size_t i = 0; i < t->ndi_ports; i++) {
			free(t->di_ports[i].name);
			free(t->di_ports[i].protocol);
		}
		t->ndi_ports = 0;
		x->cap_diports = t->di_ports ? x->cap_diports : 0;
		break;
	case C_STATUSES:
		iplist_drop(&t->ip_mesos);
		iplist_drop(&t->ip_docker);
		iplist_drop(&t->ip_netinfo);
		t->healthy = -1;
		t->has_run_status = t->run_has_ts = 0;
		t->run_ts = 0;
		break;
	case C_LABELS:
		iplist_drop(&x->status.mesos);
		iplist_drop(&x->status.docker);
		break;
	case C_CSTATUS:
	case C_NETINFOS:
		iplist_drop(&x->status.netinfo);
		break;
	case C_IPADDRS:
		iplist_drop(&x->ni.list);
		x->ni.had_list = 0;
		break;
	default:
		break;
	}
}

static void open_ctx(struct sax *x, enum ctx c)
{
	struct mesos_state *st = x->st;

	switch (c) {
	case C_SLAVES:
		/* A key given twice: the last one wins. */
		for (size_t i = 0; i < st->nagents; i++)
			state_agent_clear(&st->agents[i]);
		st->nagents = 0;
		break;
	case C_FWS:
		for (size_t i = 0; i < st->nframeworks; i++)
			state_framework_clear(&st->frameworks[i]);
		st->nframeworks = 0;
		break;
	case C_SLAVE: {
		struct state_agent *v = grow(x, st->agents, &x->cap_agents, st->nagents, sizeof(*v));
		if (v) {
			st->agents = v;
			st->nagents++;	/* counted now so state_free sees it; dropped at close if no id */
		}
		break;
	}
	case C_FW: {
		struct state_framework *v = grow(x, st->frameworks, &x->cap_fws, st->nframeworks,
						 sizeof(*v));
		if (v) {
			st->frameworks = v;
			st->nframeworks++;
			x->cap_tasks = 0;
		}
		break;
	}
	case C_TASKS: {
		struct state_framework *f = &st->frameworks[st->nframeworks - 1];
		for (size_t i = 0; i < f->ntasks; i++)
			state_task_clear(&f->tasks[i]);
		f->ntasks = 0;
		break;
	}
	case C_TASK: {
		struct state_framework *f = &st->frameworks[st->nframeworks - 1];
		struct state_task *v = grow(x, f->tasks, &x->cap_tasks, f->ntasks, sizeof(*v));
		if (v) {
			f->tasks = v;
			x->task = &f->tasks[f->ntasks++];
			x->task->healthy = -1;
		}
		break;
	}
	case C_RESOURCES:
	case C_STATUSES:
	case C_LABELS:
	case C_CSTATUS:
	case C_NETINFOS:
	case C_DISC_PORT_ARR:
		reset_member(x, c);
		break;
	case C_DISC:
		reset_member(x, c);
		x->task->has_discovery = 1;
		break;
	case C_DISC_PORT: {
		struct state_task *t = x->task;
		struct state_diport *v = grow(x, t->di_ports, &x->cap_diports, t->ndi_ports,
					      sizeof(*v));
		if (v) {
			t->di_ports = v;
			x->diport = &t->di_ports[t->ndi_ports++];
			memset(x->diport, 0, sizeof(*x->diport));
		}
		break;
	}
	case C_STATUS:
		status_reset(&x->status);
		break;
	case C_LABEL:
		free(x->label_key);
		free(x->label_value);
		x->label_key = x->label_value = NULL;
		break;
	case C_NETINFO:
		netinfo_reset(&x->ni);
		break;
	case C_IPADDRS:
		reset_member(x, c);
		break;
	case C_IPADDR:
		x->ni.had_list = 1;	/* even without an address in it, as mesos-dns */
		free(x->ni.entry);
		x->ni.entry = NULL;
		break;
	default:
		break;
	}
}

static void close_ctx(struct sax *x, enum ctx c)
{
	struct mesos_state *st = x->st;

	switch (c) {
	case C_SLAVE: {
		struct state_agent *a = &st->agents[st->nagents - 1];
		if (!a->id) {	/* an agent without id cannot be matched */
			state_agent_clear(a);
			st->nagents--;
		}
		break;
	}
	case C_FW: {
		struct state_framework *f = &st->frameworks[st->nframeworks - 1];
		if (!f->name) {	/* no name, no DomainFrag: nothing is named after it */
			state_framework_clear(f);
			st->nframeworks--;
		}
		break;
	}
	case C_TASK: {
		struct state_framework *f = &st->frameworks[st->nframeworks - 1];
		if (!x->task->id) {
			state_task_clear(x->task);
			f->ntasks--;
		}
		x->task = NULL;
		break;
	}
	case C_DISC_PORT: {
		struct state_task *t = x->task;
		if (x->diport->number == 0) {	/* not an integer in 1..65535 */
			free(x->diport->name);
			free(x->diport->protocol);
			t->ndi_ports--;
		}
		x->diport = NULL;
		break;
	}
	case C_LABEL:
		if (x->label_key && x->label_value) {
			struct iplist *dst = NULL;
			if (strcmp(x->label_key, "MesosContainerizer.NetworkSettings.IPAddress") == 0)
				dst = &x->status.mesos;
			else if (strcmp(x->label_key, "Docker.NetworkSettings.IPAddress") == 0)
				dst = &x->status.docker;
			if (dst && iplist_push_text(dst, (const unsigned char *)x->label_value,
						    strlen(x->label_value)))
				x->oom = 1;
		}
		break;
	case C_NETINFO:
		/* The single ip_address predates ip_addresses (Mesos 0.28); it
		 * counts only for a NetworkInfo without the list. */
		if (!x->ni.had_list) {
			if (x->ni.single &&
			    iplist_push_text(&x->status.netinfo, (const unsigned char *)x->ni.single,
					     strlen(x->ni.single)))
				x->oom = 1;
		} else {
			for (size_t i = 0; i < x->ni.list.n; i++)
				if (iplist_push(&x->status.netinfo, &x->ni.list.v[i]))
					x->oom = 1;
		}
		netinfo_reset(&x->ni);
		break;
	case C_IPADDR:
		if (x->ni.entry && iplist_push_text(&x->ni.list, (const unsigned char *)x->ni.entry,
						    strlen(x->ni.entry)))
			x->oom = 1;
		free(x->ni.entry);
		x->ni.entry = NULL;
		break;
	case C_STATUS: {
		/* The TASK_RUNNING status with the highest timestamp wins; one
		 * without a numeric timestamp only when none has one; ties keep
		 * the first in document order. */
		struct state_task *t = x->task;
		struct sax_status *s = &x->status;
		if (s->running && (!t->has_run_status ||
				   (s->has_ts && (!t->run_has_ts || s->ts > t->run_ts)))) {
			iplist_drop(&t->ip_mesos);
			iplist_drop(&t->ip_docker);
			iplist_drop(&t->ip_netinfo);
			t->ip_mesos = s->mesos;
			t->ip_docker = s->docker;
			t->ip_netinfo = s->netinfo;
			memset(&s->mesos, 0, sizeof(s->mesos));
			memset(&s->docker, 0, sizeof(s->docker));
			memset(&s->netinfo, 0, sizeof(s->netinfo));
			t->has_run_status = 1;
			t->run_has_ts = s->has_ts;
			t->run_ts = s->has_ts ? s->ts : 0;
			t->healthy = s->healthy;
		}
		status_reset(s);
		break;
	}
	default:
		break;
	}
}

/* ---- scalars ------------------------------------------------------------ */

enum scalar { S_STRING, S_NUMBER, S_BOOL, S_NULL, S_OTHER };

/* A scalar value under the current key in the current container. */
/*
 * Read one scalar of a context (key x->key) into the model.  Returns 1 when
 * the key is one read there, whatever came of it, 0 when it is ignored
 * (the model is as without it): what the fingerprint takes in.
 */
static int scalar(struct sax *x, enum scalar kind, const unsigned char *s, size_t n, int b)
{
	struct mesos_state *st = x->st;
	char buf[64];

	switch (top(x)) {
	case C_ROOT:
		if (key_is(x, "leader")) {
			x->leader_seen = 1;
			free(x->leader);
			x->leader = NULL;
			x->leader_type = kind == S_STRING ? 0 : 1;
			x->leader_type_name = kind == S_NUMBER ? "a number" :
					      kind == S_BOOL ? "a boolean" : "null";
			if (kind == S_STRING)
				set_str(x, &x->leader, s, n);
		} else if (key_is(x, "slaves") || key_is(x, "frameworks")) {
			/* Wrong-typed: reads as empty, and replaces an earlier one. */
			open_ctx(x, key_is(x, "slaves") ? C_SLAVES : C_FWS);
		} else {
			return 0;
		}
		break;
	case C_SLAVE: {
		struct state_agent *a = &st->agents[st->nagents - 1];
		if (key_is(x, "id")) {
			if (kind == S_STRING)
				set_str(x, &a->id, s, n);
			else {
				free(a->id);
				a->id = NULL;
			}
		} else if (key_is(x, "hostname")) {
			set_opt(x, &a->hostname, kind == S_STRING, s, n);
		} else if (key_is(x, "pid")) {
			char *pid = NULL;
			set_opt(x, &pid, kind == S_STRING, s, n);
			state_endpoint_clear(&a->pid);
			if (pid && state_parse_pid(pid, &a->pid) == MDNS_ENOMEM)
				x->oom = 1;
			free(pid);
		} else {
			return 0;
		}
		break;
	}
	case C_FW: {
		struct state_framework *f = &st->frameworks[st->nframeworks - 1];
		if (key_is(x, "name")) {
			if (kind == S_STRING)
				set_str(x, &f->name, s, n);
			else {
				free(f->name);
				f->name = NULL;
			}
		} else if (key_is(x, "hostname")) {
			set_opt(x, &f->hostname, kind == S_STRING, s, n);
		} else if (key_is(x, "pid")) {
			char *pid = NULL;
			set_opt(x, &pid, kind == S_STRING, s, n);
			state_endpoint_clear(&f->pid);
			f->has_pid = 0;
			if (pid) {
				int rc = state_parse_pid(pid, &f->pid);
				if (rc == MDNS_ENOMEM)
					x->oom = 1;
				f->has_pid = rc == 0;
			}
			free(pid);
		} else if (key_is(x, "tasks")) {
			open_ctx(x, C_TASKS);	/* not an array: no tasks */
		} else {
			return 0;
		}
		break;
	}
	case C_TASK: {
		struct state_task *t = x->task;
		if (key_is(x, "id")) {
			if (kind == S_STRING)
				set_str(x, &t->id, s, n);
			else {
				free(t->id);
				t->id = NULL;
			}
		} else if (key_is(x, "name")) {
			set_opt(x, &t->name, kind == S_STRING, s, n);
		} else if (key_is(x, "slave_id")) {
			set_opt(x, &t->slave_id, kind == S_STRING, s, n);
		} else if (key_is(x, "state")) {
			t->running = kind == S_STRING && n == 12 && memcmp(s, "TASK_RUNNING", 12) == 0;
		} else if (key_is(x, "resources")) {	/* not an object: absent */
			reset_member(x, C_RESOURCES);
		} else if (key_is(x, "discovery")) {
			reset_member(x, C_DISC);
		} else if (key_is(x, "statuses")) {
			reset_member(x, C_STATUSES);
		} else {
			return 0;
		}
		break;
	}
	case C_RESOURCES:
		if (key_is(x, "ports")) {
			struct state_task *t = x->task;
			char *text = NULL;
			free(t->ports);
			t->ports = NULL;
			t->nports = 0;
			set_opt(x, &text, kind == S_STRING, s, n);
			/* A malformed ports string loses the ports, not the task. */
			if (text && state_parse_ports(text, &t->ports, &t->nports) == MDNS_ENOMEM)
				x->oom = 1;
			free(text);
		} else {
			return 0;
		}
		break;
	case C_DISC:
		if (key_is(x, "name")) {
			free(x->task->di_name);
			x->task->di_name = NULL;
			if (kind == S_STRING && n > 0)
				set_str(x, &x->task->di_name, s, n);
		} else if (key_is(x, "ports")) {
			reset_member(x, C_DISC_PORTS);
		} else {
			return 0;
		}
		break;
	case C_DISC_PORTS:
		if (!key_is(x, "ports"))
			return 0;
		reset_member(x, C_DISC_PORT_ARR);
		break;
	case C_DISC_PORT:
		if (key_is(x, "number")) {
			/* An integer 1..65535; reals and anything else skip the port. */
			long v = 0;
			int okint = kind == S_NUMBER && n > 0 && n < 12;
			for (size_t i = 0; okint && i < n; i++) {
				if (s[i] < '0' || s[i] > '9')
					okint = (i == 0 && s[i] == '-');
				else
					v = v * 10 + (s[i] - '0');
			}
			if (okint && s[0] == '-')
				v = -v;
			x->diport->number = okint && v >= 1 && v <= 65535 ? (uint32_t)v : 0;
		} else if (key_is(x, "name")) {
			set_opt(x, &x->diport->name, kind == S_STRING, s, n);
		} else if (key_is(x, "protocol")) {
			set_opt(x, &x->diport->protocol, kind == S_STRING, s, n);
		} else {
			return 0;
		}
		break;
	case C_STATUS:
		if (key_is(x, "state"))
			x->status.running = kind == S_STRING && n == 12 &&
					    memcmp(s, "TASK_RUNNING", 12) == 0;
		else if (key_is(x, "timestamp")) {
			x->status.has_ts = kind == S_NUMBER;
			if (x->status.has_ts) {
				/* Any JSON number, however it is spelled ("2.000...0"). */
				char *p = n < sizeof(buf) ? buf : malloc(n + 1);
				if (!p) {
					x->oom = 1;
					break;
				}
				memcpy(p, s, n);
				p[n] = 0;
				x->status.ts = strtod(p, NULL);
				if (p != buf)
					free(p);
			}
		} else if (key_is(x, "healthy"))
			x->status.healthy = kind == S_BOOL ? b : -1;
		else if (key_is(x, "labels"))
			reset_member(x, C_LABELS);
		else if (key_is(x, "container_status"))
			reset_member(x, C_CSTATUS);
		else
			return 0;
		break;
	case C_LABELS_WRAP:
		if (!key_is(x, "labels"))
			return 0;
		reset_member(x, C_LABELS);
		break;
	case C_CSTATUS:
		if (!key_is(x, "network_infos"))
			return 0;
		reset_member(x, C_NETINFOS);
		break;
	case C_LABEL:
		if (key_is(x, "key"))
			set_opt(x, &x->label_key, kind == S_STRING, s, n);
		else if (key_is(x, "value"))
			set_opt(x, &x->label_value, kind == S_STRING, s, n);
		else
			return 0;
		break;
	case C_NETINFO:
		if (key_is(x, "ip_address"))
			set_opt(x, &x->ni.single, kind == S_STRING, s, n);
		else if (key_is(x, "ip_addresses"))
			reset_member(x, C_IPADDRS);
		else
			return 0;
		break;
	case C_IPADDR:
		if (!key_is(x, "ip_address"))
			return 0;
		set_opt(x, &x->ni.entry, kind == S_STRING, s, n);
		break;
	default:
		return 0;
	}
	return 1;
}

/* ---- yajl callbacks ------------------------------------------------------ */

#define X ((struct sax *)ctx)

/*
 * Does the string or key s hold a NUL?  yajl hands over a string without
 * escapes where it lies in the text, and refuses raw control bytes inside
 * strings: only one it decoded into its own buffer can hold a NUL (from
 * \u0000).  So the text's own strings, nearly all of them, are not scanned
 * (a memchr per string was 7% of parsing a 100,000-task state).
 */
static int has_nul(const struct sax *x, const unsigned char *s, size_t n)
{
	uintptr_t p = (uintptr_t)s;

	if (p >= x->chunk && p + n <= x->chunk_end)
		return 0;
	return memchr(s, 0, n) != NULL;
}

/*
 * The model's fingerprint (struct mesos_state): every event that shapes the
 * model, in document order, mixed into x->fp with a tag telling what it is.
 * Those are the contexts opened and closed (each one the parser keeps, by
 * kind) and the scalars scalar() reads, with their keys; everything skipped
 * or ignored stays out, so a master's changing offers, resources and
 * counters do not move it.  What the model holds is decided by these events
 * alone, so equal fingerprints mean equal models, with no list of fields to
 * keep up to date.  xxHash's XXH3, inlined: ~5% of a parse.
 */
static uint64_t fp_seed;
static pthread_once_t fp_seed_once = PTHREAD_ONCE_INIT;

/* The fingerprints' seed, drawn once per process: they are compared only
 * within it, and XXH3 is no cryptographic hash, so a document made to
 * collide with another cannot be prepared beforehand. */
static void fp_seed_init(void)
{
	if (getrandom(&fp_seed, sizeof(fp_seed), GRND_NONBLOCK) != (ssize_t)sizeof(fp_seed))
		fp_seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&fp_seed;
}

uint64_t statesax_seed(void)
{
	pthread_once(&fp_seed_once, fp_seed_init);
	return fp_seed;
}

static inline void fp_event(struct sax *x, unsigned tag, const void *s, size_t n)
{
	uint64_t v = XXH3_64bits_withSeed(s, n, fp_seed + tag);
	x->fp = ((x->fp << 29 | x->fp >> 35) ^ v) * 0x9e3779b97f4a7c15ull;
}

/* scalar(), and the fingerprint of what it read. */
static void read_scalar(struct sax *x, enum scalar kind, const unsigned char *s, size_t n, int b)
{
	if (!scalar(x, kind, s, n, b))
		return;
	fp_event(x, 0x100, x->key, x->keylen == SIZE_MAX ? sizeof(x->key) : x->keylen);
	fp_event(x, 0x200 | (unsigned)kind << 1 | (b != 0), s, n);
}

static int sax_scalar(void *ctx, enum scalar k, const unsigned char *s, size_t n, int b)
{
	if (X->depth == 0 && !X->root)
		X->root = k == S_STRING ? "a string" : k == S_NUMBER ? "a number" :
			  k == S_BOOL ? "a boolean" : "null";
	if (k == S_STRING && has_nul(X, s, n)) {
		X->nul = 1;
		return 0;
	}
	if (X->skip_depth || X->depth == 0)
		return 1;
	read_scalar(X, k, s, n, b);
	return !X->oom;
}

static int cb_null(void *ctx) { return sax_scalar(ctx, S_NULL, NULL, 0, 0); }
static int cb_bool(void *ctx, int b) { return sax_scalar(ctx, S_BOOL, NULL, 0, b); }
static int cb_number(void *ctx, const char *s, size_t n)
{
	return sax_scalar(ctx, S_NUMBER, (const unsigned char *)s, n, 0);
}
static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
	return sax_scalar(ctx, S_STRING, s, n, 0);
}

static int cb_key(void *ctx, const unsigned char *s, size_t n)
{
	if (has_nul(X, s, n)) {
		X->nul = 1;
		return 0;
	}
	if (X->skip_depth)
		return 1;
	if (n >= sizeof(X->key)) {
		X->keylen = SIZE_MAX;
	} else {
		memcpy(X->key, s, n);
		X->key[n] = 0;
		X->keylen = n;
	}
	return 1;
}

static int open_container(void *ctx, int is_map)
{
	struct sax *x = X;

	if (x->skip_depth) {
		x->skip_depth++;
		return 1;
	}
	if (x->depth == 0 && !x->root)
		x->root = is_map ? "an object" : "an array";
	enum ctx c = child_ctx(x, is_map);
	if (x->depth == 0 && !is_map)
		c = C_SKIP;
	if (c == C_SKIP && x->depth > 0) {
		/* Containers in the places of scalars we read make those read as absent. */
		if (top(x) == C_ROOT || top(x) == C_FW)
			read_scalar(x, S_OTHER, NULL, 0, 0);
		else if (top(x) == C_TASK || top(x) == C_SLAVE || top(x) == C_STATUS ||
			 top(x) == C_DISC || top(x) == C_DISC_PORT || top(x) == C_DISC_PORTS ||
			 top(x) == C_LABELS_WRAP || top(x) == C_CSTATUS || top(x) == C_NETINFO)
			read_scalar(x, S_OTHER, NULL, 0, 0);
		x->skip_depth = 1;
		return !x->oom;
	}
	if (x->depth == SAX_MAX_DEPTH) {
		x->toodeep = 1;
		return 0;
	}
	x->stack[x->depth++] = c;
	fp_event(x, 0x300 | (unsigned)c, NULL, 0);
	x->key[0] = 0;
	x->keylen = 0;
	open_ctx(x, c);
	return !x->oom;
}

static int close_container(void *ctx)
{
	struct sax *x = X;

	if (x->skip_depth) {
		x->skip_depth--;
		return 1;
	}
	fp_event(x, 0x400, NULL, 0);
	if (x->depth == 0)
		return 1;
	close_ctx(x, x->stack[--x->depth]);
	x->key[0] = 0;
	x->keylen = 0;
	return !x->oom;
}

static int cb_start_map(void *ctx) { return open_container(ctx, 1); }
static int cb_start_array(void *ctx) { return open_container(ctx, 0); }
static int cb_end(void *ctx) { return close_container(ctx); }

#undef X

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

/* Advance a 1-based line and column over n bytes of text. */
static int finish_leader(struct sax *x, char *err, size_t errlen)
{
	char buf[68];
	size_t i;
	int rc;

	if (!x->leader_seen) {
		mdns_set_err(err, errlen, "state has no \"leader\" (expected \"master@ip:port\"); "
			"is this a master's /master/state?");
		return MDNS_ENOLEADER;
	}
	if (x->leader_type != 0) {
		mdns_set_err(err, errlen, "\"leader\" is %s, expected a string \"master@ip:port\"",
			x->leader_type_name);
		return MDNS_ENOLEADER;
	}
	if (!x->leader[0]) {
		mdns_set_err(err, errlen, "\"leader\" is empty: the master knows no leader "
			"(election in progress?)");
		return MDNS_ENOLEADER;
	}
	rc = state_parse_pid(x->leader, &x->st->leader);
	if (rc == MDNS_ENOMEM) {
		mdns_set_err(err, errlen, "out of memory parsing \"leader\"");
		return rc;
	}
	if (rc) {
		/* Printable ASCII only, so a hostile document cannot forge log lines. */
		for (i = 0; x->leader[i] && i < 64; i++)
			buf[i] = (x->leader[i] >= 0x20 && x->leader[i] < 0x7f) ? x->leader[i] : '?';
		buf[i] = 0;
		mdns_set_err(err, errlen, "\"leader\" \"%s%s\" is not a pid like \"master@ip:port\"",
			buf, x->leader[i] ? "..." : "");
		return MDNS_ENOLEADER;
	}
	return 0;
}

struct statesax {
	struct sax *x;
	yajl_handle h;
	int rc;			/* the first error, 0 while all is well */
	char err[400];
	size_t line, col;	/* where the next chunk starts */
};

/* Turn the parser's state after an error or the last chunk into rc + err. */
static int sax_verdict(struct statesax *s, yajl_status ys, const char *chunk, size_t len)
{
	struct sax *x = s->x;
	char *err = s->err;
	size_t errlen = sizeof(s->err);

	if (x->oom) {
		s->rc = MDNS_ENOMEM;
		mdns_set_err(err, errlen, "out of memory building the state model");
	} else if (x->nul) {
		s->rc = MDNS_EPARSE;
		mdns_set_err(err, errlen, "state is not valid JSON: a string holds a NUL character");
	} else if (x->toodeep) {
		s->rc = MDNS_EPARSE;
		mdns_set_err(err, errlen, "state is nested more than %d levels deep", SAX_MAX_DEPTH);
	} else if (ys != yajl_status_ok) {
		size_t off = yajl_get_bytes_consumed(s->h);
		char text[160];
		size_t line = s->line, col = s->col;
		jsontree_yajl_message(s->h, chunk, len, text, sizeof(text));
		jsontree_where(chunk, off < len ? off : len, &line, &col);
		s->rc = MDNS_EPARSE;
		mdns_set_err(err, errlen, "state is not valid JSON: line %zu column %zu: %s", line, col,
			text);
	}
	return s->rc;
}

struct statesax *statesax_begin(void)
{
	struct statesax *s = calloc(1, sizeof(*s));

	if (!s || !(s->x = calloc(1, sizeof(*s->x))) || !(s->x->st = calloc(1, sizeof(*s->x->st)))) {
		if (s)
			free(s->x);
		free(s);
		return NULL;
	}
	s->x->status.healthy = -1;
	s->x->fp = statesax_seed();
	s->line = s->col = 1;
	if (!(s->h = yajl_alloc(&callbacks, NULL, s->x))) {
		s->rc = MDNS_ENOMEM;
		mdns_set_err(s->err, sizeof(s->err), "out of memory");
	} else {
		/* One string that is not UTF-8 (a label a framework set, passed
		 * on by the master) must not stop every refresh of the cluster:
		 * the strings the model keeps are repaired in set_str, the
		 * others skipped as they are.  Not slower (README). */
		yajl_config(s->h, yajl_dont_validate_strings, 1);
	}
	return s;
}

int statesax_feed(struct statesax *s, const char *chunk, size_t len)
{
	if (s->rc)
		return s->rc;
	s->x->chunk = (uintptr_t)chunk;
	s->x->chunk_end = (uintptr_t)chunk + len;
	yajl_status ys = yajl_parse(s->h, (const unsigned char *)chunk, len);
	s->x->chunk = s->x->chunk_end = 0;
	if (sax_verdict(s, ys, chunk, len))
		return s->rc;
	jsontree_where(chunk, len, &s->line, &s->col);
	return 0;
}

int statesax_end(struct statesax *s, struct mesos_state **out, char *err, size_t errlen)
{
	struct sax *x = s->x;
	int rc = s->rc;

	*out = NULL;
	if (!rc) {
		rc = sax_verdict(s, yajl_complete_parse(s->h), "", 0);
	}
	if (rc) {
		mdns_set_err(err, errlen, "%s", s->err);
	} else if (!x->root) {
		rc = MDNS_EPARSE;
		mdns_set_err(err, errlen, "state is empty, expected a JSON object");
	} else if (strcmp(x->root, "an object") != 0) {
		rc = MDNS_EPARSE;
		mdns_set_err(err, errlen, "state is %s, expected a JSON object with "
			"\"leader\", \"slaves\" and \"frameworks\"", x->root);
	} else {
		rc = finish_leader(x, err, errlen);
	}
	if (s->h)
		yajl_free(s->h);
	/* Containers left open by an error still hold partial data. */
	status_reset(&x->status);
	netinfo_reset(&x->ni);
	free(x->label_key);
	free(x->label_value);
	free(x->leader);
	if (rc) {
		state_free(x->st);
	} else {
		x->st->fingerprint = x->fp ? x->fp : 1;	/* 0 is "unknown" */
		*out = x->st;
	}
	free(x);
	free(s);
	return rc;
}

int statesax_parse(const char *json, size_t len, struct mesos_state **out,
		   char *err, size_t errlen)
{
	struct statesax *s = statesax_begin();

	*out = NULL;
	if (!s) {
		mdns_set_err(err, errlen, "out of memory");
		return MDNS_ENOMEM;
	}
	statesax_feed(s, json, len);
	return statesax_end(s, out, err, errlen);
}
