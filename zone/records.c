/* zone/records.c -- generate the records of behaviour.md §2 from Mesos state. */
#include "zone/records.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/err.h"
#include "zone/dname.h"
#include "zone/itab.h"
#include "zone/labels.h"
#include "zone/meta.h"
#include "zone/reverse.h"
#include "zone/zone.h"

/*
 * Text names are built with snprintf into buffers a little larger than the
 * longest presentation name (253 characters); anything that does not fit is
 * not a valid name anyway and is counted as rejected.
 */
#define NAME_BUF 512

/* Everything one records_build call threads through its helpers. */
struct rec_ctx {
	struct zone_builder *b;
	const struct records_config *rc;
	struct records_stats *stats;
	struct zone_meta *meta;		/* NULL unless rc->enumerate */
};

/*
 * vsnprintf for the formats of this file ("%s" and "%u" between literal
 * text): about 1.5 M names for a 100,000-task zone, where the general
 * printf machinery was a tenth of the build.  Anything else goes to
 * vsnprintf.  Returns the length written, or -1 when it does not fit.
 */
static int name_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t o = 0;

	for (const char *f = fmt; (f = strchr(f, '%')); f += 2)
		if (f[1] != 's' && f[1] != 'u') {
			int n = vsnprintf(buf, len, fmt, ap);
			return (n < 0 || (size_t)n >= len) ? -1 : n;
		}
	for (const char *f = fmt; *f; f++) {
		char num[12];
		const char *arg;
		size_t al;

		if (*f != '%') {
			if (o + 1 >= len)
				return -1;
			buf[o++] = *f;
			continue;
		}
		if (*++f == 's') {
			arg = va_arg(ap, const char *);
		} else {
			snprintf(num, sizeof(num), "%u", va_arg(ap, unsigned));
			arg = num;
		}
		al = strlen(arg);
		if (o + al >= len)
			return -1;
		memcpy(buf + o, arg, al);
		o += al;
	}
	buf[o] = '\0';
	return (int)o;
}

/* Format a name; MDNS_ERANGE when it does not fit. */
static int name_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int name_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = name_vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 ? MDNS_ERANGE : 0;
}

/*
 * The builder's verdict on one record: an invalid owner or target is counted
 * and skipped (one bad name must not cost the whole zone); only running out
 * of memory stops the build.
 */
static int builder_rc(struct rec_ctx *c, int rc)
{
	if (rc == MDNS_ENOMEM)
		return rc;
	if (rc != 0)
		c->stats->records_rejected++;
	return 0;
}

/* List the record just added under the open task for /v1/enumerate. */
static int meta_last(struct rec_ctx *c, uint16_t type)
{
	const uint8_t *owner, *rdata;
	uint16_t rdlen;

	if (!c->meta || zone_builder_last(c->b, &owner, &rdata, &rdlen) != 0)
		return 0;
	return zone_meta_record(c->meta, owner, type, rdata, rdlen);
}

/* A/AAAA for every address of ips (NULL or empty: nothing) at a formatted owner. */
static int add_addrs(struct rec_ctx *c, const struct iplist *ips, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_addrs(struct rec_ctx *c, const struct iplist *ips, const char *fmt, ...)
{
	char owner[NAME_BUF];
	va_list ap;
	int n;

	if (!ips || ips->n == 0)
		return 0;
	va_start(ap, fmt);
	n = name_vfmt(owner, sizeof(owner), fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->stats->records_rejected += ips->n;
		return 0;
	}
	for (size_t i = 0; i < ips->n; i++) {
		int added = zone_builder_add_addr(c->b, owner, &ips->v[i]);
		int rc = builder_rc(c, added);
		if (rc)
			return rc;
		if (added == 0 && (rc = meta_last(c, ips->v[i].af == 6 ? RR_AAAA : RR_A)))
			return rc;
	}
	return 0;
}

/* One SRV (priority 0, the configured weight) at owner; !owner: it did not fit. */
static int add_srv_at(struct rec_ctx *c, uint16_t port, const char *target, const char *owner)
{
	if (!owner || !target) {
		c->stats->records_rejected++;
		return 0;
	}
	int added = zone_builder_add_srv(c->b, owner, 0, c->rc->srv_weight, port, target);
	if (added == 0)
		return meta_last(c, RR_SRV);
	return builder_rc(c, added);
}

/* One SRV at a formatted owner. */
static int add_srv(struct rec_ctx *c, uint16_t port, const char *target, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add_srv(struct rec_ctx *c, uint16_t port, const char *target, const char *fmt, ...)
{
	char owner[NAME_BUF];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = name_vfmt(owner, sizeof(owner), fmt, ap);
	va_end(ap);
	return add_srv_at(c, port, target, n < 0 ? NULL : owner);
}

/* Addresses of a host name through the caller's resolver; NULL when none. */
static const struct iplist *host_lookup(const struct rec_ctx *c, const char *host)
{
	const struct iplist *l;

	if (!host || !*host || !c->rc->resolve)
		return NULL;
	l = c->rc->resolve(c->rc->resolve_ctx, host);
	return (l && l->n) ? l : NULL;
}

/* Addresses of a pid endpoint: its own ips, else the resolver's for a hostname. */
static const struct iplist *endpoint_ips(const struct rec_ctx *c, const struct state_endpoint *ep)
{
	if (ep->ips.n)
		return &ep->ips;
	if (ep->host && !ep->is_literal)
		return host_lookup(c, ep->host);
	return NULL;
}

/*
 * Addresses of a bare host string (a framework's hostname field), which may
 * be an IP literal: then one address in *tmp, else the resolver's.
 */
static const struct iplist *hostname_ips(const struct rec_ctx *c, const char *host,
					 struct ipaddr *tmp, struct iplist *tmpl)
{
	if (!host || !*host)
		return NULL;
	if (ipaddr_parse(host, tmp) == 0) {
		tmpl->v = tmp;
		tmpl->n = 1;
		return tmpl;
	}
	return host_lookup(c, host);
}

static const struct iplist *task_ips(const struct state_task *t, const struct iplist *host,
				     const enum ip_source *sources, size_t nsources)
{
	for (size_t i = 0; i < nsources; i++) {
		const struct iplist *l = NULL;

		switch (sources[i]) {
		case IPSRC_HOST:
			l = host;
			break;
		case IPSRC_MESOS:
			l = &t->ip_mesos;
			break;
		case IPSRC_DOCKER:
			l = &t->ip_docker;
			break;
		case IPSRC_NETINFO:
			l = &t->ip_netinfo;
			break;
		}
		if (l && l->n)
			return l;
	}
	return NULL;
}

const struct iplist *records_task_ips(const struct state_task *t, const struct state_agent *agent,
				      const enum ip_source *sources, size_t nsources)
{
	return task_ips(t, agent ? &agent->pid.ips : NULL, sources, nsources);
}

/*
 * Offer a formatted name to every address of ips for the reverse zones.
 * Only out of memory stops the build; an unusable name is counted.
 */
static int offer_ptrs(struct rec_ctx *c, const struct iplist *ips, enum reverse_rank rank,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int offer_ptrs(struct rec_ctx *c, const struct iplist *ips, enum reverse_rank rank,
		      const char *fmt, ...)
{
	char name[NAME_BUF];
	va_list ap;
	int n;

	if (!c->rc->ptrs || !ips || ips->n == 0)
		return 0;
	va_start(ap, fmt);
	n = name_vfmt(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->stats->records_rejected += ips->n;
		return 0;
	}
	for (size_t i = 0; i < ips->n; i++) {
		int r = reverse_ptrs_add(c->rc->ptrs, &ips->v[i], rank, name);
		if (r == MDNS_ENOMEM)
			return r;
		if (r != 0)
			c->stats->records_rejected++;
	}
	return 0;
}

/*
 * A task's own addresses, for PTR: those of ips that its agent does not
 * have.  A task on the host network is answered with its agent's address
 * (IPSources "host", or a network_info naming the agent's address), which
 * belongs to the agent; otherwise the agent's PTR would name whichever of
 * its tasks sorts first.  Writes into out (room for ips->n).
 */
static void own_addrs(const struct iplist *ips, const struct iplist *agent, struct iplist *out)
{
	out->n = 0;
	for (size_t i = 0; ips && i < ips->n; i++) {
		int shared = 0;
		for (size_t j = 0; agent && j < agent->n && !shared; j++)
			shared = ipaddr_equal(&ips->v[i], &agent->v[j]);
		if (!shared)
			out->v[out->n++] = ips->v[i];
	}
}

/* --- agents by id ------------------------------------------------------ */

/*
 * The agents by id, hashed: a big cluster has thousands of agents and every
 * task names one.  (A binary search over them compared ids that share a
 * long prefix, in agents all over memory: a cache miss per step, 3% of a
 * 100,000-task build.)  Agents without an id are left out; among equal ids
 * the first in the document wins.
 */
struct agent_index {
	const struct state_agent *st;	/* the state's agents; ids: index + 1 */
	struct itab t;
};

static int agent_index_build(const struct mesos_state *st, struct agent_index *ix)
{
	ix->st = st->agents;
	memset(&ix->t, 0, sizeof(ix->t));
	if (itab_expect(&ix->t, st->nagents ? st->nagents : 1) != 0)
		return MDNS_ENOMEM;
	for (size_t i = 0; i < st->nagents; i++) {
		const char *id = st->agents[i].id;
		if (!id)
			continue;
		uint32_t h = itab_hash(id, strlen(id));
		size_t k = itab_first(&ix->t, h);
		for (; ix->t.v[k].id; k = itab_next(&ix->t, k))
			if (ix->t.v[k].hash == h && strcmp(ix->st[ix->t.v[k].id - 1].id, id) == 0)
				break;
		if (!ix->t.v[k].id)
			itab_put(&ix->t, k, h, (uint32_t)i + 1);
	}
	return 0;
}

static const struct state_agent *agent_find(const struct agent_index *ix, const char *id)
{
	uint32_t h = itab_hash(id, strlen(id));

	for (size_t k = itab_first(&ix->t, h); ix->t.v[k].id; k = itab_next(&ix->t, k)) {
		const struct state_agent *a = &ix->st[ix->t.v[k].id - 1];
		if (ix->t.v[k].hash == h && strcmp(a->id, id) == 0)
			return a;
	}
	return NULL;
}

/* --- tasks ------------------------------------------------------------- */

/*
 * The agent tail of canonical names: the last '-'-separated field of the
 * slave_id, lower-cased and reduced to label characters.  The RFC 1123 rule
 * is used in both modes: the tail sits inside a label, so RFC 952's "no
 * leading digit" does not concern it (agent ids end in "-S3" or "-3"; in RFC
 * 952 mode "3" would otherwise vanish).
 */
static void agent_tail(const char *slave_id, char out[LABEL_MAX_RFC1123 + 1])
{
	const char *dash = strrchr(slave_id, '-');

	label_make(dash ? dash + 1 : slave_id, 0, out, LABEL_MAX_RFC1123 + 1);
}

/*
 * The canonical label "<t>-<hash5>-<tail>" into out.  When it would exceed
 * the 63 bytes a DNS label can hold (a long task name), t is shortened, not
 * the whole name lost: the canonical names are the SRV targets, and an
 * operator expects SRV records for long-named tasks too.  The tail keeps at
 * most what leaves one character of t; an empty tail gives "<t>-<hash5>" so
 * the label never ends in '-'.
 */
static void canonical_label(const char *t, const char *hash5, const char *tail, char *out)
{
	/* At most 1 ("-") + 5 + 1 ("-") + tail: keep the tail under 63 - 8. */
	char suffix[LABEL_MAX_RFC1123 + 1];
	size_t tl = strlen(tail), sl, n;

	if (tl > LABEL_MAX_RFC1123 - 8)
		tl = LABEL_MAX_RFC1123 - 8;
	while (tl > 0 && tail[tl - 1] == '-')
		tl--;
	suffix[0] = '-';
	memcpy(suffix + 1, hash5, 5);
	sl = 6;
	if (tl) {
		suffix[sl++] = '-';
		memcpy(suffix + sl, tail, tl);
		sl += tl;
	}
	n = strlen(t);
	if (n > LABEL_MAX_RFC1123 - sl)
		n = LABEL_MAX_RFC1123 - sl;
	while (n > 0 && t[n - 1] == '-')
		n--;	/* t never starts with '-', so n stays >= 1 */
	memcpy(out, t, n);
	memcpy(out + n, suffix, sl);
	out[n + sl] = '\0';
}

/*
 * Whether the task has DiscoveryInfo as mesos-dns counts it: with a name
 * (its HasDiscoveryInfo is Name != "").  A discovery object without one, set
 * for visibility or ports alone, changes nothing: the resource ports go
 * under both names and its own ports are not advertised.
 */
static int has_di(const struct state_task *t)
{
	return t->di_name != NULL;	/* NULL when absent or empty (lib/state.h) */
}

/* What the records of one task share, whichever name they are emitted under. */
struct task_info {
	const struct state_task *t;
	const char *fw;			/* DomainFrag(framework name) */
	const struct iplist *ips;	/* task IPs, or NULL */
	const struct iplist *agent_ips;	/* agent IPs, or NULL */
};

static int task_port_srvs(struct rec_ctx *c, const struct task_info *ti, const char *name,
			  const char *canon)
{
	static const char *const both[] = { "tcp", "udp" };
	const struct state_task *t = ti->t;
	const char *d = c->rc->domain;
	char target[NAME_BUF];
	int rc;

	/* Resource ports: target the agent-side canonical name. */
	if (name_fmt(target, sizeof(target), "%s.%s.slave.%s", canon, ti->fw, d) != 0) {
		c->stats->records_rejected += t->nports * (has_di(t) ? 2 : 4);
		return 0;
	}
	/*
	 * Owner by owner, every port under each: a name is formatted once per
	 * task.  The order records are added in is not visible: the zone and
	 * /v1/enumerate sort them.
	 */
	for (size_t p = 0; p < 2; p++) {
		for (int under = 0; under < (has_di(t) ? 1 : 2); under++) {
			char owner[NAME_BUF];
			int n = under ? name_fmt(owner, sizeof(owner), "_%s._%s.%s.%s", name, both[p], ti->fw, d)
				      : name_fmt(owner, sizeof(owner), "_%s._%s.%s.slave.%s", name, both[p], ti->fw, d);
			for (size_t i = 0; i < t->nports; i++)
				if ((rc = add_srv_at(c, t->ports[i], target, n ? NULL : owner)))
					return rc;
		}
	}
	if (!has_di(t))
		return 0;

	/* DiscoveryInfo ports: target the task-side canonical name. */
	if (name_fmt(target, sizeof(target), "%s.%s.%s", canon, ti->fw, d) != 0) {
		c->stats->records_rejected += t->ndi_ports;
		return 0;
	}
	for (size_t i = 0; i < t->ndi_ports; i++) {
		const struct state_diport *dp = &t->di_ports[i];
		char proto[LABEL_MAX_RFC1123 + 1], pname[LABEL_MAX_RFC1123 + 1];
		const char *protos[2];
		size_t nprotos;

		if (dp->number == 0 || dp->number > 65535) {
			c->stats->records_rejected++;
			continue;
		}
		if (dp->protocol && *dp->protocol) {
			/*
			 * A protocol that sanitises to nothing ("$$") is not
			 * read as "both": the task asked for a protocol we
			 * cannot name, and guessing tcp/udp would advertise
			 * a service that may not be there.
			 */
			if (label_make(dp->protocol, c->rc->rfc952, proto, sizeof(proto)) == 0) {
				c->stats->records_rejected++;
				continue;
			}
			protos[0] = proto;
			nprotos = 1;
		} else {
			protos[0] = both[0];
			protos[1] = both[1];
			nprotos = 2;
		}
		label_make(dp->name, c->rc->rfc952, pname, sizeof(pname));
		for (size_t p = 0; p < nprotos; p++) {
			uint16_t port = (uint16_t)dp->number;

			rc = add_srv(c, port, target, "_%s._%s.%s.%s", name, protos[p], ti->fw, d);
			if (rc == 0 && pname[0])
				rc = add_srv(c, port, target, "_%s._%s._%s.%s.%s",
					     pname, name, protos[p], ti->fw, d);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Every record of one task under one task name and its canonical label. */
static int task_records_named(struct rec_ctx *c, const struct task_info *ti, const char *name,
			      const char *canon)
{
	const char *d = c->rc->domain;
	int rc;

	if ((rc = add_addrs(c, ti->ips, "%s.%s.%s", name, ti->fw, d)) ||
	    (rc = add_addrs(c, ti->ips, "%s.%s.%s", canon, ti->fw, d)) ||
	    (rc = add_addrs(c, ti->agent_ips, "%s.%s.slave.%s", name, ti->fw, d)) ||
	    (rc = add_addrs(c, ti->agent_ips, "%s.%s.slave.%s", canon, ti->fw, d)))
		return rc;
	return task_port_srvs(c, ti, name, canon);
}

/*
 * Compat (behaviour.md §2): with DiscoveryInfo every task record is also
 * emitted under the raw DI name.  "Valid DNS name" is decided on the raw name
 * itself with label_is_valid_name (labels of 1..63 [A-Za-z0-9_-], no empty
 * label): that is the part the user wrote; the framework and domain parts
 * are already valid, and a composed name that ends up too long is refused by
 * the builder and counted.  The raw name keeps its dots, so
 * "liquor.store" gives liquor.store.marathon.mesos and the canonical
 * liquor.store-<hash5>-<tail>.marathon.mesos, exactly as mesos-dns 0.7 emits
 * them (its legacy pass runs the whole task generator with the raw name).
 * It is emitted in RFC 952 mode too, as mesos-dns does: clients that rely
 * on the raw names do not change with the label mode.  The canonical label
 * is not shortened here: these names must match mesos-dns's or be dropped.
 */
static int task_records_raw(struct rec_ctx *c, const struct task_info *ti, const char *t,
			    const char *hash5, const char *tail)
{
	const char *raw = ti->t->di_name;
	char canon[NAME_BUF];

	if (!raw || !label_is_valid_name(raw) || strcasecmp(raw, t) == 0)
		return 0;	/* invalid, or the same names as the sanitised pass */
	if (name_fmt(canon, sizeof(canon), "%s-%s%s%s", raw, hash5, *tail ? "-" : "", tail) != 0)
		return 0;
	return task_records_named(c, ti, raw, canon);
}

static int task_records(struct rec_ctx *c, const struct state_task *t, const char *fw,
			const struct agent_index *agents)
{
	const struct records_config *rc = c->rc;
	const struct state_agent *agent;
	char tl[LABEL_MAX_RFC1123 + 1], tail[LABEL_MAX_RFC1123 + 1];
	char canon[LABEL_MAX_RFC1123 + 1], hash5[6];
	struct task_info ti;
	int r;

	if (!t->running || !t->slave_id ||
	    !(agent = agent_find(agents, t->slave_id))) {
		c->stats->tasks_skipped++;
		return 0;
	}
	/* t = label(discovery.name) when DiscoveryInfo names the task, else label(name). */
	if (label_make(t->di_name ? t->di_name : t->name, rc->rfc952, tl, sizeof(tl)) == 0) {
		c->stats->tasks_skipped++;
		return 0;
	}
	/* Listed by /v1/enumerate like mesos-dns: every running task on a known
	 * agent, under the names the state gives it. */
	if (c->meta && zone_meta_task(c->meta, t->name ? t->name : "", t->id) == MDNS_ENOMEM)
		return MDNS_ENOMEM;
	label_task_hash5(t->id ? t->id : "", hash5);
	agent_tail(t->slave_id, tail);
	canonical_label(tl, hash5, tail, canon);

	ti.t = t;
	ti.fw = fw;
	ti.agent_ips = endpoint_ips(c, &agent->pid);
	ti.ips = task_ips(t, ti.agent_ips, rc->ip_sources, rc->nip_sources);
	c->stats->tasks++;

	/* healthy is -1 without a health check: such tasks always stay in. */
	int unhealthy = rc->health_aware && t->healthy == 0;
	if (unhealthy)
		c->stats->tasks_unhealthy++;
	zone_builder_set_unhealthy(c->b, unhealthy);
	r = task_records_named(c, &ti, tl, canon);
	if (r == 0 && has_di(t))
		r = task_records_raw(c, &ti, tl, hash5, tail);
	zone_builder_set_unhealthy(c->b, 0);
	if (r == 0 && rc->ptrs && ti.ips) {
		struct ipaddr own[64];
		struct iplist mine = { own, 0 };
		struct iplist part = { ti.ips->v, 0 };
		/* In slices, so a task with many addresses needs no allocation. */
		for (size_t i = 0; r == 0 && i < ti.ips->n; i += part.n) {
			part.v = ti.ips->v + i;
			part.n = ti.ips->n - i < 64 ? ti.ips->n - i : 64;
			own_addrs(&part, ti.agent_ips, &mine);
			r = offer_ptrs(c, &mine, REVERSE_TASK, "%s.%s.%s", canon, ti.fw, rc->domain);
		}
	}
	if (c->meta)
		zone_meta_task_end(c->meta);
	return r;
}

/* --- frameworks, agents, masters, name server ------------------------------ */

static int framework_records(struct rec_ctx *c, const struct state_framework *f, const char *fw)
{
	const char *d = c->rc->domain;
	const struct iplist *ips;
	struct ipaddr tmp;
	struct iplist tmpl;
	char target[NAME_BUF];
	/* An absent or unparsable pid falls back to the hostname field, as in
	 * mesos-dns; only a pid gives a port for the SRV. */
	int pid = f->has_pid && f->pid.host;
	int rc;

	if (pid)
		ips = endpoint_ips(c, &f->pid);
	else
		ips = hostname_ips(c, f->hostname, &tmp, &tmpl);
	if (!ips)
		return 0;
	if ((rc = add_addrs(c, ips, "%s.%s", fw, d)) != 0)
		return rc;
	/* The SRV target must have addresses, so it waits for them (mesos-dns too). */
	if (!pid || f->pid.port == 0)
		return 0;
	if (name_fmt(target, sizeof(target), "%s.%s", fw, d) != 0) {
		c->stats->records_rejected++;
		return 0;
	}
	return add_srv(c, f->pid.port, target, "_framework._tcp.%s.%s", fw, d);
}

/* A host name fit for a PTR: a domain name of two labels or more, not an IP literal. */
static int agent_named(const char *host)
{
	struct ipaddr ip;
	size_t n;

	if (!host || !strchr(host, '.') || ipaddr_parse(host, &ip) == 0)
		return 0;
	n = strlen(host);
	if (n > 1 && host[n - 1] == '.')
		n--;
	char tmp[NAME_BUF];
	if (n >= sizeof(tmp))
		return 0;
	memcpy(tmp, host, n);
	tmp[n] = '\0';
	return label_is_valid_name(tmp);
}

static int agent_records(struct rec_ctx *c, const struct mesos_state *st)
{
	const char *d = c->rc->domain;
	char target[NAME_BUF];
	int rc;

	if (name_fmt(target, sizeof(target), "slave.%s", d) != 0)
		return 0;	/* the domain itself is valid; cannot happen */
	for (size_t i = 0; i < st->nagents; i++) {
		const struct state_agent *a = &st->agents[i];
		const struct iplist *ips = endpoint_ips(c, &a->pid);

		if (!ips)
			continue;
		if ((rc = add_addrs(c, ips, "slave.%s", d)) != 0)
			return rc;
		/* Its own name serves TLS and Kerberos checks best; slave.<d>
		 * (every agent) is the fallback for bare or numeric host names. */
		if (agent_named(a->hostname))
			rc = offer_ptrs(c, ips, REVERSE_AGENT, "%s", a->hostname);
		else
			rc = offer_ptrs(c, ips, REVERSE_AGENT, "slave.%s", d);
		if (rc)
			return rc;
		if (a->pid.port &&
		    (rc = add_srv(c, a->pid.port, target, "_slave._tcp.%s", d)) != 0)
			return rc;
	}
	return 0;
}

/* 1 when a master entry is the leader: same port and a shared address. */
static int master_is_leader(const struct records_master *m, const struct iplist *lips,
			    uint16_t lport)
{
	if (!lips || m->port != lport)
		return 0;
	for (size_t i = 0; i < m->ips.n; i++)
		for (size_t j = 0; j < lips->n; j++)
			if (ipaddr_equal(&m->ips.v[i], &lips->v[j]))
				return 1;
	return 0;
}

/* 1 when masters[k] repeats an earlier entry (same port and first address). */
static int master_repeated(const struct records_master *m, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (m[i].port == m[k].port && m[i].ips.n && m[k].ips.n &&
		    ipaddr_equal(&m[i].ips.v[0], &m[k].ips.v[0]))
			return 1;
	return 0;
}

static int master_records(struct rec_ctx *c, const struct mesos_state *st)
{
	const struct records_config *rc = c->rc;
	const char *d = rc->domain;
	const struct iplist *lips = endpoint_ips(c, &st->leader);
	uint16_t lport = st->leader.port;
	char target[NAME_BUF];
	unsigned idx = 0;
	int leader_listed = 0, r;

	if (lips) {
		if ((r = add_addrs(c, lips, "leader.%s", d)) ||
		    (r = add_addrs(c, lips, "master.%s", d)))
			return r;
		if (lport && name_fmt(target, sizeof(target), "leader.%s", d) == 0 &&
		    ((r = add_srv(c, lport, target, "_leader._tcp.%s", d)) ||
		     (r = add_srv(c, lport, target, "_leader._udp.%s", d))))
			return r;
	}

	/*
	 * masterN follows the list order.  Like mesos-dns, an entry without
	 * addresses (unresolvable) or repeating an earlier one takes no
	 * number, so the numbers stay dense.
	 */
	for (size_t i = 0; i < rc->nmasters; i++) {
		const struct records_master *m = &rc->masters[i];

		if (m->ips.n == 0 || master_repeated(rc->masters, i))
			continue;
		if (master_is_leader(m, lips, lport))
			leader_listed = 1;
		if ((r = add_addrs(c, &m->ips, "master.%s", d)) ||
		    (r = add_addrs(c, &m->ips, "master%u.%s", idx, d)) ||
		    (r = offer_ptrs(c, &m->ips, REVERSE_MASTER, "master%u.%s", idx, d)))
			return r;
		idx++;
	}
	/* A leader missing from the list takes the next number. */
	if (lips && !leader_listed) {
		if ((r = add_addrs(c, lips, "master%u.%s", idx, d)) != 0)
			return r;
		return offer_ptrs(c, lips, REVERSE_MASTER, "master%u.%s", idx, d);
	}
	return 0;
}

/* The SOAMname host, only when it lies inside the domain (else it is not ours). */
static int ns_records(struct rec_ctx *c)
{
	const struct records_config *rc = c->rc;
	uint8_t name[DNAME_MAXLEN], apex[DNAME_MAXLEN];
	size_t nl, al;

	if (!rc->soa_mname || !rc->ns_ips || rc->ns_ips->n == 0)
		return 0;
	nl = dname_from_text(rc->soa_mname, name);
	al = dname_from_text(rc->domain, apex);
	if (!nl || !al || dname_under(name, nl, apex, al) < 0)
		return 0;
	return add_addrs(c, rc->ns_ips, "%s", rc->soa_mname);
}

int records_build(struct zone_builder *b, const struct mesos_state *st,
		  const struct records_config *rc, struct records_stats *stats)
{
	struct records_stats local;
	struct rec_ctx c = { b, rc, stats ? stats : &local, NULL };
	struct agent_index agents;
	int r;

	memset(c.stats, 0, sizeof(*c.stats));
	if (rc->enumerate) {
		size_t nt, nr;
		zone_builder_meta_hint(b, &nt, &nr);
		if (!(c.meta = zone_meta_new()) || zone_meta_expect(c.meta, nt, nr) != 0) {
			zone_meta_free(c.meta);
			return MDNS_ENOMEM;
		}
	}
	if ((r = agent_index_build(st, &agents)) != 0) {
		itab_clear(&agents.t);
		zone_meta_free(c.meta);
		return r;
	}

	for (size_t i = 0; i < st->nframeworks; i++) {
		const struct state_framework *f = &st->frameworks[i];
		char fw[NAME_BUF];

		if (c.meta && (r = zone_meta_framework(c.meta, f->name)) != 0)
			goto out;

		/* A framework whose name sanitises to nothing has no place in
		 * the tree: its tasks are skipped and counted. */
		if (label_domainfrag(f->name, rc->rfc952, fw, sizeof(fw)) == 0) {
			c.stats->tasks_skipped += f->ntasks;
			continue;
		}
		if ((r = framework_records(&c, f, fw)) != 0)
			goto out;
		for (size_t k = 0; k < f->ntasks; k++)
			if ((r = task_records(&c, &f->tasks[k], fw, &agents)) != 0)
				goto out;
	}
	if ((r = agent_records(&c, st)) != 0 || (r = master_records(&c, st)) != 0 ||
	    (r = ns_records(&c)) != 0)
		goto out;
out:
	itab_clear(&agents.t);
	if (c.meta && r == 0) {
		zone_meta_finish(c.meta);
		zone_builder_set_meta(b, c.meta);
	} else {
		zone_meta_free(c.meta);
	}
	return r;
}
