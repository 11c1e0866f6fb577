/* lib/state.c -- the state model: pids, ports, the v1 operator API shapes, and the entry to
 * the /master/state parser (lib/statesax.c). */
#include "lib/state.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/statesax.h"

/* ---- small helpers --------------------------------------------------- */



/*
 * *out = copy of obj[key] when it is a string, else NULL.  Returns
 * MDNS_ENOMEM only when the copy failed; a missing key or a value of another
 * type is not an error (the model says "absent").
 */
static int dup_member(const json_t *obj, const char *key, char **out)
{
	const char *s = json_string_value(json_object_get(obj, key));

	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : MDNS_ENOMEM;
}

/* Append a to l.  The capacity is implicit: the array is grown to the next
 * power of two whenever n reaches one, so appends stay amortised O(1). */
static int iplist_add(struct iplist *l, const struct ipaddr *a)
{
	if (l->n == 0 || (l->n & (l->n - 1)) == 0) {
		size_t cap = l->n ? l->n * 2 : 1;
		struct ipaddr *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return MDNS_ENOMEM;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return MDNS_ENOMEM;
		l->v = v;
	}
	l->v[l->n++] = *a;
	return 0;
}

/* Parse s as an IP literal and append it; an invalid literal is skipped. */
static int iplist_add_literal(struct iplist *l, const char *s)
{
	struct ipaddr a;

	if (!s || ipaddr_parse(s, &a) != 0)
		return 0;
	return iplist_add(l, &a);
}

static void iplist_clear(struct iplist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- pids ------------------------------------------------------------ */

static int hostname_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* Decimal port 1..65535, the whole of s; -1 otherwise. */
static long parse_port(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return -1;
	}
	return v >= 1 ? v : -1;
}

void state_endpoint_clear(struct state_endpoint *ep)
{
	if (!ep)
		return;
	free(ep->host);
	iplist_clear(&ep->ips);
	memset(ep, 0, sizeof(*ep));
}

int state_parse_pid(const char *pid, struct state_endpoint *ep)
{
	const char *h, *host, *rest;
	size_t hostlen;
	struct ipaddr a;
	int literal = 0;
	long port = 0;

	memset(ep, 0, sizeof(*ep));
	if (!pid)
		return MDNS_EINVAL;
	/* The name part is a libprocess id; the host never holds '@'. */
	h = strrchr(pid, '@');
	if (!h)
		return MDNS_EINVAL;
	h++;

	if (*h == '[') {
		const char *close = strchr(h, ']');
		char buf[64];

		if (!close)
			return MDNS_EINVAL;
		host = h + 1;
		hostlen = (size_t)(close - host);
		if (hostlen == 0 || hostlen >= sizeof(buf))
			return MDNS_EINVAL;
		memcpy(buf, host, hostlen);
		buf[hostlen] = '\0';
		if (ipaddr_parse(buf, &a) != 0 || a.af != 6)
			return MDNS_EINVAL;
		literal = 1;
		rest = close + 1;
	} else {
		const char *colon = strchr(h, ':');
		size_t i;

		/* An unbracketed IPv6 address is ambiguous with the port. */
		if (colon && strchr(colon + 1, ':'))
			return MDNS_EINVAL;
		host = h;
		hostlen = colon ? (size_t)(colon - h) : strlen(h);
		if (hostlen == 0 || hostlen > 253)
			return MDNS_EINVAL;
		for (i = 0; i < hostlen; i++)
			if (!hostname_char_ok((unsigned char)host[i]))
				return MDNS_EINVAL;
		rest = host + hostlen;
	}

	if (*rest) {
		if (*rest != ':')
			return MDNS_EINVAL;
		port = parse_port(rest + 1);
		if (port < 0)
			return MDNS_EINVAL;
	}

	ep->host = strndup(host, hostlen);
	if (!ep->host)
		return MDNS_ENOMEM;
	if (!literal && ipaddr_parse(ep->host, &a) == 0)
		literal = 1;	/* IPv4 (no colons here, so never IPv6) */
	if (literal && iplist_add(&ep->ips, &a) != 0) {
		state_endpoint_clear(ep);
		return MDNS_ENOMEM;
	}
	ep->is_literal = literal;
	ep->port = (uint16_t)port;
	return 0;
}

/* ---- port ranges ----------------------------------------------------- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A decimal port 1..65535 at *pp; advances *pp.  -1 if none or out of range. */
static long scan_port(const char **pp)
{
	const char *p = *pp;
	long v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return -1;
		p++;
	}
	*pp = p;
	return v >= 1 ? v : -1;
}

/*
 * One pass over a ranges string: validates it and counts the ports; when
 * fill is not NULL also writes them.  Accepts "lo-hi" ranges and, for
 * leniency, a lone "port".  Returns 0 or MDNS_EINVAL.
 */
static int ports_scan(const char *s, uint16_t *fill, size_t *count)
{
	const char *p = skip_ws(s);
	size_t n = 0;

	if (*p == '\0') {
		*count = 0;
		return 0;
	}
	if (*p++ != '[')
		return MDNS_EINVAL;
	p = skip_ws(p);
	if (*p != ']') {
		for (;;) {
			long lo, hi;

			lo = scan_port(&p);
			if (lo < 0)
				return MDNS_EINVAL;
			p = skip_ws(p);
			hi = lo;
			if (*p == '-') {
				p = skip_ws(p + 1);
				hi = scan_port(&p);
				if (hi < lo)	/* also catches hi == -1 */
					return MDNS_EINVAL;
				p = skip_ws(p);
			}
			/* A task cannot hold more ports than exist; a larger
			 * expansion means overlapping ranges or hostile input. */
			if ((size_t)(hi - lo + 1) > STATE_MAX_PORTS - n)
				return MDNS_EINVAL;
			for (; lo <= hi; lo++) {
				if (fill)
					fill[n] = (uint16_t)lo;
				n++;
			}
			if (*p == ',') {
				p = skip_ws(p + 1);
				continue;
			}
			break;
		}
	}
	if (*p++ != ']')
		return MDNS_EINVAL;
	if (*skip_ws(p) != '\0')
		return MDNS_EINVAL;
	*count = n;
	return 0;
}

int state_parse_ports(const char *s, uint16_t **out, size_t *n)
{
	size_t count = 0;
	uint16_t *v;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MDNS_EINVAL;
	rc = ports_scan(s, NULL, &count);
	if (rc != 0 || count == 0)
		return rc;
	v = malloc(count * sizeof(*v));
	if (!v)
		return MDNS_ENOMEM;
	ports_scan(s, v, &count);
	*out = v;
	*n = count;
	return 0;
}

/* ---- tasks ----------------------------------------------------------- */

void state_task_clear(struct state_task *t)
{
	size_t i;

	free(t->id);
	free(t->name);
	free(t->slave_id);
	free(t->ports);
	free(t->di_name);
	for (i = 0; i < t->ndi_ports; i++) {
		free(t->di_ports[i].name);
		free(t->di_ports[i].protocol);
	}
	free(t->di_ports);
	iplist_clear(&t->ip_mesos);
	iplist_clear(&t->ip_docker);
	iplist_clear(&t->ip_netinfo);
	memset(t, 0, sizeof(*t));
}

static int parse_discovery(const json_t *di, struct state_task *t)
{
	const json_t *ports, *p;
	const char *name;
	size_t i, cap;
	int rc;

	t->has_discovery = 1;
	name = json_string_value(json_object_get(di, "name"));
	if (name && *name) {
		t->di_name = strdup(name);
		if (!t->di_name)
			return MDNS_ENOMEM;
	}

	/* DiscoveryInfo.ports is a Ports message: {"ports": [Port...]}. */
	ports = json_object_get(json_object_get(di, "ports"), "ports");
	cap = json_array_size(ports);
	if (cap == 0)
		return 0;
	t->di_ports = calloc(cap, sizeof(*t->di_ports));
	if (!t->di_ports)
		return MDNS_ENOMEM;
	json_array_foreach(ports, i, p) {
		const json_t *num = json_object_get(p, "number");
		struct state_diport *dp;
		json_int_t v;

		/* SRV ports are 16 bits: a number outside 1..65535 (or not an
		 * integer) cannot become a record, so the port is skipped. */
		if (!json_is_integer(num))
			continue;
		v = json_integer_value(num);
		if (v < 1 || v > 65535)
			continue;
		dp = &t->di_ports[t->ndi_ports++];
		dp->number = (uint32_t)v;
		if ((rc = dup_member(p, "name", &dp->name)) != 0 ||
		    (rc = dup_member(p, "protocol", &dp->protocol)) != 0)
			return rc;
	}
	return 0;
}

/* The TASK_RUNNING status with the highest timestamp; NULL if none.  A
 * status without a numeric timestamp only wins when none has one; ties keep
 * the first in document order. */
static const json_t *latest_running_status(const json_t *statuses)
{
	const json_t *best = NULL, *st;
	double best_ts = 0;
	int best_has_ts = 0;
	size_t i;

	json_array_foreach(statuses, i, st) {
		const char *state = json_string_value(json_object_get(st, "state"));
		const json_t *ts;
		int has_ts;
		double v;

		if (!state || strcmp(state, "TASK_RUNNING") != 0)
			continue;
		ts = json_object_get(st, "timestamp");
		has_ts = json_is_number(ts);
		v = has_ts ? json_number_value(ts) : 0;
		if (!best || (has_ts && (!best_has_ts || v > best_ts))) {
			best = st;
			best_ts = v;
			best_has_ts = has_ts;
		}
	}
	return best;
}

static int parse_status_ips(const json_t *st, struct state_task *t)
{
	const json_t *labels, *l, *infos, *info;
	size_t i, j;
	int rc;

	labels = json_object_get(st, "labels");
	if (json_is_object(labels))	/* Labels message form {"labels": [...]} */
		labels = json_object_get(labels, "labels");
	json_array_foreach(labels, i, l) {
		const char *key = json_string_value(json_object_get(l, "key"));
		const char *val = json_string_value(json_object_get(l, "value"));
		struct iplist *dst = NULL;

		if (!key || !val)
			continue;
		if (strcmp(key, "MesosContainerizer.NetworkSettings.IPAddress") == 0)
			dst = &t->ip_mesos;
		else if (strcmp(key, "Docker.NetworkSettings.IPAddress") == 0)
			dst = &t->ip_docker;
		if (dst && (rc = iplist_add_literal(dst, val)) != 0)
			return rc;
	}

	infos = json_object_get(json_object_get(st, "container_status"), "network_infos");
	json_array_foreach(infos, i, info) {
		const json_t *addrs = json_object_get(info, "ip_addresses");
		const json_t *a;

		/* The single ip_address field predates ip_addresses (Mesos
		 * 0.28); it counts only for a NetworkInfo whose list has no
		 * entry (an object), as lib/statesax.c reads it. */
		size_t entries = 0;
		json_array_foreach(addrs, j, a)
			entries += json_is_object(a);
		if (entries == 0) {
			rc = iplist_add_literal(&t->ip_netinfo,
				json_string_value(json_object_get(info, "ip_address")));
			if (rc)
				return rc;
			continue;
		}
		json_array_foreach(addrs, j, a) {
			rc = iplist_add_literal(&t->ip_netinfo,
				json_string_value(json_object_get(a, "ip_address")));
			if (rc)
				return rc;
		}
	}

	t->healthy = -1;
	if (json_is_boolean(json_object_get(st, "healthy")))
		t->healthy = json_is_true(json_object_get(st, "healthy"));
	return 0;
}

/* Read t's IPs and health from st, a TASK_RUNNING status, and note its timestamp. */
static int take_running_status(const json_t *st, struct state_task *t)
{
	const json_t *ts = json_object_get(st, "timestamp");

	iplist_clear(&t->ip_mesos);
	iplist_clear(&t->ip_docker);
	iplist_clear(&t->ip_netinfo);
	t->has_run_status = 1;
	t->run_has_ts = json_is_number(ts);
	t->run_ts = t->run_has_ts ? json_number_value(ts) : 0;
	return parse_status_ips(st, t);
}

/* ---- the document ---------------------------------------------------- */

int state_parse(const char *json, size_t len, struct mesos_state **out,
		char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!json) {
		mdns_set_err(err, errlen, "no state document");
		return MDNS_EPARSE;
	}
	if (len > STATE_MAX_BYTES) {
		mdns_set_err(err, errlen, "state document of %zu bytes is over the %u byte limit",
			len, (unsigned)STATE_MAX_BYTES);
		return MDNS_ETOOBIG;
	}
	/* A full document is read in one streaming pass (lib/statesax.c): no
	 * JSON tree, so a 180 MB state costs its model, not gigabytes. */
	return statesax_parse(json, len, out, err, errlen);
}

void state_free(struct mesos_state *st)
{
	size_t i;

	if (!st)
		return;
	state_endpoint_clear(&st->leader);
	for (i = 0; i < st->nagents; i++)
		state_agent_clear(&st->agents[i]);
	free(st->agents);
	for (i = 0; i < st->nframeworks; i++)
		state_framework_clear(&st->frameworks[i]);
	free(st->frameworks);
	free(st);
}

/* ---- the v1 operator API shapes --------------------------------------- */

/*
 * The operator API (POST /api/v1, lib/stream.c) describes the same objects
 * as /master/state in protobuf's JSON form: ids are {"value": "..."}, a
 * task's agent is agent_id, its resources an array of Resource messages and
 * status labels a Labels message.  These read such objects into the same
 * model, with the same rules for what is required and what reads as absent.
 */

/* obj[key]["value"] when it is a string, else NULL (borrowed). */
static const char *id_value(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, key), "value"));
}

static int dup_id(const json_t *obj, const char *key, char **out)
{
	const char *s = id_value(obj, key);

	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : MDNS_ENOMEM;
}

/* A Value.Range bound: an integer, or the decimal string protobuf's JSON
 * mapping uses for 64-bit fields; -1 when neither or outside 1..65535. */
static long range_bound(const json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		return x >= 1 && x <= 65535 ? (long)x : -1;
	}
	if (json_is_string(v))
		return parse_port(json_string_value(v));
	return -1;
}

/*
 * Expand every "ports" Resource's ranges, in order, into t->ports.  As with
 * the resources.ports string, a malformed range (or more than
 * STATE_MAX_PORTS ports) loses the ports, not the task.
 */
static int parse_v1_ports(const json_t *resources, struct state_task *t)
{
	const json_t *res, *rg;
	size_t i, j, n = 0, pass;
	uint16_t *v = NULL;

	/* Pass 0 validates and counts, pass 1 fills. */
	for (pass = 0; pass < 2; pass++) {
		n = 0;
		json_array_foreach(resources, i, res) {
			const char *name = json_string_value(json_object_get(res, "name"));

			if (!name || strcmp(name, "ports") != 0)
				continue;
			json_array_foreach(json_object_get(json_object_get(res, "ranges"), "range"),
					   j, rg) {
				long lo = range_bound(json_object_get(rg, "begin"));
				long hi = range_bound(json_object_get(rg, "end"));

				if (lo < 0 || hi < lo || (size_t)(hi - lo + 1) > STATE_MAX_PORTS - n) {
					free(v);
					return 0;
				}
				for (; lo <= hi; lo++) {
					if (v)
						v[n] = (uint16_t)lo;
					n++;
				}
			}
		}
		if (pass == 0) {
			if (n == 0)
				return 0;
			v = malloc(n * sizeof(*v));
			if (!v)
				return MDNS_ENOMEM;
		}
	}
	t->ports = v;
	t->nports = n;
	return 0;
}

int state_task_parse_v1(const struct json_t *jt, struct state_task *t, char **framework_id)
{
	const json_t *di, *st;
	const char *state;
	int rc;

	memset(t, 0, sizeof(*t));
	t->healthy = -1;
	*framework_id = NULL;
	if (!id_value(jt, "task_id") || !id_value(jt, "framework_id"))
		return 0;
	if ((rc = dup_id(jt, "task_id", &t->id)) != 0 ||
	    (rc = dup_member(jt, "name", &t->name)) != 0 ||
	    (rc = dup_id(jt, "agent_id", &t->slave_id)) != 0 ||
	    (rc = dup_id(jt, "framework_id", framework_id)) != 0)
		goto fail;
	state = json_string_value(json_object_get(jt, "state"));
	t->running = state && strcmp(state, "TASK_RUNNING") == 0;
	if ((rc = parse_v1_ports(json_object_get(jt, "resources"), t)) != 0)
		goto fail;
	di = json_object_get(jt, "discovery");
	if (json_is_object(di) && (rc = parse_discovery(di, t)) != 0)
		goto fail;
	st = latest_running_status(json_object_get(jt, "statuses"));
	if (st && (rc = take_running_status(st, t)) != 0)
		goto fail;
	return 0;
fail:
	state_task_clear(t);
	free(*framework_id);
	*framework_id = NULL;
	return rc;
}

int state_task_update_v1(struct state_task *t, const struct json_t *status, const char *state)
{
	const json_t *ts;
	const char *sst;
	int has_ts;
	double v;

	if (state)
		t->running = strcmp(state, "TASK_RUNNING") == 0;
	sst = json_string_value(json_object_get(status, "state"));
	if (!sst || strcmp(sst, "TASK_RUNNING") != 0)
		return 0;
	/* The rule of latest_running_status, as if status were appended last. */
	ts = json_object_get(status, "timestamp");
	has_ts = json_is_number(ts);
	v = has_ts ? json_number_value(ts) : 0;
	if (t->has_run_status && !(has_ts && (!t->run_has_ts || v > t->run_ts)))
		return 0;
	return take_running_status(status, t);
}

int state_agent_parse_v1(const struct json_t *ja, struct state_agent *a)
{
	const json_t *info = json_object_get(ja, "agent_info");
	const char *pid;
	int rc;

	memset(a, 0, sizeof(*a));
	if (!id_value(info, "id"))
		return 0;
	if ((rc = dup_id(info, "id", &a->id)) != 0 ||
	    (rc = dup_member(info, "hostname", &a->hostname)) != 0)
		goto fail;
	pid = json_string_value(json_object_get(ja, "pid"));
	if (pid && state_parse_pid(pid, &a->pid) == MDNS_ENOMEM) {
		rc = MDNS_ENOMEM;
		goto fail;
	}
	return 0;
fail:
	state_agent_clear(a);
	return rc;
}

void state_agent_clear(struct state_agent *a)
{
	if (!a)
		return;
	free(a->id);
	free(a->hostname);
	state_endpoint_clear(&a->pid);
	memset(a, 0, sizeof(*a));
}

int state_framework_parse_v1(const struct json_t *jf, struct state_framework *f, char **id)
{
	const json_t *info = json_object_get(jf, "framework_info");
	int rc;

	memset(f, 0, sizeof(*f));
	*id = NULL;
	if (!info)
		info = jf;	/* FRAMEWORK_REMOVED carries the FrameworkInfo itself */
	if (!id_value(info, "id") || !json_is_string(json_object_get(info, "name")))
		return 0;
	if ((rc = dup_id(info, "id", id)) != 0 ||
	    (rc = dup_member(info, "name", &f->name)) != 0 ||
	    (rc = dup_member(info, "hostname", &f->hostname)) != 0) {
		state_framework_clear(f);
		free(*id);
		*id = NULL;
		return rc;
	}
	return 0;
}

void state_framework_clear(struct state_framework *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->hostname);
	state_endpoint_clear(&f->pid);
	for (size_t i = 0; i < f->ntasks; i++)
		state_task_clear(&f->tasks[i]);
	free(f->tasks);
	memset(f, 0, sizeof(*f));
}
