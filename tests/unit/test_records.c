/* tests/unit/test_records.c -- record generation from small inline states (behaviour.md §2). */
#include "zone/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/state.h"
#include "tests/unit/tap.h"
#include "zone/dname.h"
#include "zone/ipaddr.h"
#include "zone/labels.h"
#include "zone/zone.h"

/* --- fixtures ------------------------------------------------------------ */

/* Two agents (one IPv4, one IPv6); frameworks and tasks are filled in per test. */
#define AGENTS \
	"\"slaves\": [" \
	"{\"id\": \"20150101-000000-1-5050-1-S0\", \"hostname\": \"a0\", \"pid\": \"slave(1)@10.0.0.1:5051\"}," \
	"{\"id\": \"20150101-000000-1-5050-1-S1\", \"hostname\": \"a1\", \"pid\": \"slave(1)@[2001:db8::7]:5052\"}]"

#define LEADER "\"leader\": \"master@1.2.3.4:5050\""

/* A state with the two agents and one framework "fw" holding the given tasks. */
#define STATE_FW(tasks) \
	"{" LEADER ", " AGENTS ", \"frameworks\": [{\"name\": \"fw\", " \
	"\"pid\": \"scheduler(1)@10.0.0.9:8080\", \"tasks\": [" tasks "]}]}"

/* A running task on agent S0 with extra JSON members. */
#define TASK(name, id, extra) \
	"{\"id\": \"" id "\", \"name\": \"" name "\", \"slave_id\": \"20150101-000000-1-5050-1-S0\", " \
	"\"state\": \"TASK_RUNNING\"" extra "}"

static const enum ip_source default_sources[] = { IPSRC_NETINFO, IPSRC_MESOS, IPSRC_HOST };

static struct ipaddr ns_addr;
static struct iplist ns_ips = { &ns_addr, 1 };

/* The records_config every test starts from. */
static struct records_config base_config(void)
{
	struct records_config rc = {
		.domain = "mesos",
		.rfc952 = 0,
		.srv_weight = 1,
		.ip_sources = default_sources,
		.nip_sources = 3,
		.soa_mname = "ns1.mesos",
		.ns_ips = &ns_ips,
	};
	return rc;
}

static struct records_stats stats;
static int build_rc;

/* Parse json and build a zone with rc; NULL (and a failed test) on error. */
static struct zone *build(const char *json, const struct records_config *rc)
{
	struct zone_params zp = {
		.domain = "mesos", .ttl = 60, .soa_minttl = 60,
		.soa_mname = "ns1.mesos", .soa_rname = "root.ns1.mesos",
		.soa_refresh = 60, .soa_retry = 600, .soa_expire = 86400,
		.recurse_on = 1, .set_tc = 1, .edns_max = 1232,
	};
	struct mesos_state *st = NULL;
	struct zone_builder *b;
	char err[256];

	if (state_parse(json, strlen(json), &st, err, sizeof(err)) != 0) {
		ok(0, "state parses: %s", err);
		return NULL;
	}
	b = zone_builder_new(&zp);
	build_rc = records_build(b, st, rc, &stats);
	state_free(st);
	if (build_rc != 0) {
		zone_builder_free(b);
		return NULL;
	}
	return zone_builder_finish(b, NULL, 1);
}

/*
 * The data of one RRset as presentation text, records joined with ';' in
 * zone order (A by address, SRV by priority/weight/port/target); "" when the
 * name or the type is absent.
 */
static const char *rrs(const struct zone *z, const char *owner, uint16_t type)
{
	static char out[4096];
	uint8_t wire[DNAME_MAXLEN];
	size_t len = dname_from_text(owner, wire), o = 0;
	const struct zone_rrset *rs;

	out[0] = '\0';
	if (!z || !len)
		return out;
	rs = zone_node_rrset(zone_lookup(z, wire, len), type);
	for (unsigned i = 0; rs && i < rs->count; i++) {
		char line[1024];
		const char *data = line;

		zone_rr_format(z, zone_lookup(z, wire, len), rs, &rs->rrs[i], line, sizeof(line));
		for (int tabs = 0; tabs < 4 && data; tabs++) {
			data = strchr(data, '\t');
			if (data)
				data++;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? ";" : "",
				      data ? data : "?");
		if (o >= sizeof(out))
			break;
	}
	return out;
}

/* 1 when the name exists in z (with records or as an empty non-terminal). */
static int has_name(const struct zone *z, const char *owner)
{
	uint8_t wire[DNAME_MAXLEN];
	size_t len = dname_from_text(owner, wire);

	return z && len && zone_lookup(z, wire, len) != NULL;
}

/* 1 when some owner in z contains the text (for "nothing named after X"). */
static int any_name_contains(const struct zone *z, const char *text)
{
	char name[1024];

	for (size_t i = 0; z && i < z->nnodes; i++) {
		dname_to_text(z->nodes[i]->name, name, sizeof(name));
		if (strstr(name, text))
			return 1;
	}
	return 0;
}

static void set_master(struct records_master *m, struct ipaddr *a, const char *ip, uint16_t port)
{
	ipaddr_parse(ip, a);
	m->ips.v = a;
	m->ips.n = 1;
	m->port = port;
}

/* --- masters --------------------------------------------------------------- */

static void test_masters(void)
{
	const char *json = "{" LEADER ", " AGENTS ", \"frameworks\": []}";
	struct records_config rc = base_config();
	struct records_master m[4];
	struct ipaddr a[4];
	struct zone *z;

	/* No list: the leader is master0. */
	z = build(json, &rc);
	is_str(rrs(z, "leader.mesos", RR_A), "1.2.3.4", "leader.mesos A");
	is_str(rrs(z, "_leader._tcp.mesos", RR_SRV), "0 1 5050 leader.mesos.", "_leader._tcp SRV");
	is_str(rrs(z, "_leader._udp.mesos", RR_SRV), "0 1 5050 leader.mesos.", "_leader._udp SRV");
	is_str(rrs(z, "master.mesos", RR_A), "1.2.3.4", "no list: master = leader");
	is_str(rrs(z, "master0.mesos", RR_A), "1.2.3.4", "no list: master0 = leader");
	ok(!has_name(z, "master1.mesos"), "no list: no master1");
	zone_free(z);

	/* The leader listed second keeps its place. */
	set_master(&m[0], &a[0], "1.2.3.5", 5050);
	set_master(&m[1], &a[1], "1.2.3.4", 5050);
	set_master(&m[2], &a[2], "1.2.3.6", 5050);
	rc.masters = m;
	rc.nmasters = 3;
	z = build(json, &rc);
	is_str(rrs(z, "master0.mesos", RR_A), "1.2.3.5", "listed leader: master0 = first listed");
	is_str(rrs(z, "master1.mesos", RR_A), "1.2.3.4", "listed leader: keeps master1");
	is_str(rrs(z, "master2.mesos", RR_A), "1.2.3.6", "listed leader: master2 = third listed");
	ok(!has_name(z, "master3.mesos"), "listed leader: no extra number");
	is_str(rrs(z, "master.mesos", RR_A), "1.2.3.4;1.2.3.5;1.2.3.6", "master = leader + every master");
	zone_free(z);

	/* The leader missing from the list takes the next number. */
	set_master(&m[1], &a[1], "1.2.3.7", 5050);
	z = build(json, &rc);
	is_str(rrs(z, "master1.mesos", RR_A), "1.2.3.7", "unlisted leader: list keeps its numbers");
	is_str(rrs(z, "master3.mesos", RR_A), "1.2.3.4", "unlisted leader: next number after the list");
	is_str(rrs(z, "master.mesos", RR_A), "1.2.3.4;1.2.3.5;1.2.3.6;1.2.3.7", "master: all four");
	zone_free(z);

	/* Same IP, other port: not the leader (the spec says same IP and port). */
	set_master(&m[1], &a[1], "1.2.3.4", 5051);
	z = build(json, &rc);
	is_str(rrs(z, "master1.mesos", RR_A), "1.2.3.4", "same IP other port: listed master keeps its number");
	is_str(rrs(z, "master3.mesos", RR_A), "1.2.3.4", "same IP other port: leader still takes the next number");
	zone_free(z);

	/* An entry without addresses (unresolvable) takes no number. */
	m[1].ips.n = 0;
	z = build(json, &rc);
	is_str(rrs(z, "master1.mesos", RR_A), "1.2.3.6", "unresolved master skipped: numbers stay dense");
	is_str(rrs(z, "master2.mesos", RR_A), "1.2.3.4", "unresolved master skipped: leader next");
	ok(!has_name(z, "master3.mesos"), "unresolved master skipped: no master3");
	zone_free(z);
}

/* --- IP sources -------------------------------------------------------------- */

/* A task with every source present, statuses in a non-chronological order. */
#define ALL_SOURCES \
	", \"statuses\": [" \
	"{\"state\": \"TASK_RUNNING\", \"timestamp\": 2, \"labels\": [" \
	"{\"key\": \"MesosContainerizer.NetworkSettings.IPAddress\", \"value\": \"10.1.0.1\"}," \
	"{\"key\": \"Docker.NetworkSettings.IPAddress\", \"value\": \"10.2.0.1\"}]," \
	"\"container_status\": {\"network_infos\": [{\"ip_addresses\": [" \
	"{\"ip_address\": \"10.3.0.1\"}, {\"ip_address\": \"fd00::3\"}]}]}}," \
	"{\"state\": \"TASK_RUNNING\", \"timestamp\": 1, \"labels\": [" \
	"{\"key\": \"Docker.NetworkSettings.IPAddress\", \"value\": \"10.2.0.99\"}]}," \
	"{\"state\": \"TASK_STAGING\", \"timestamp\": 3, \"labels\": [" \
	"{\"key\": \"Docker.NetworkSettings.IPAddress\", \"value\": \"10.2.0.98\"}]}]"

#define ONLY_LABELS \
	", \"statuses\": [{\"state\": \"TASK_RUNNING\", \"timestamp\": 1, \"labels\": [" \
	"{\"key\": \"MesosContainerizer.NetworkSettings.IPAddress\", \"value\": \"10.1.0.2\"}," \
	"{\"key\": \"Docker.NetworkSettings.IPAddress\", \"value\": \"10.2.0.2\"}]}]"

#define OLD_NETINFO \
	", \"statuses\": [{\"state\": \"TASK_RUNNING\", \"timestamp\": 1, " \
	"\"container_status\": {\"network_infos\": [{\"ip_address\": \"10.4.0.1\"}]}}]"

static void test_ip_sources(void)
{
	const char *json = STATE_FW(TASK("all", "all.1", ALL_SOURCES) ","
				    TASK("labels", "labels.1", ONLY_LABELS) ","
				    TASK("old", "old.1", OLD_NETINFO) ","
				    TASK("bare", "bare.1", ""));
	static const enum ip_source host[] = { IPSRC_HOST };
	static const enum ip_source docker_host[] = { IPSRC_DOCKER, IPSRC_HOST };
	static const enum ip_source mesos_docker[] = { IPSRC_MESOS, IPSRC_DOCKER };
	static const enum ip_source netinfo_docker[] = { IPSRC_NETINFO, IPSRC_DOCKER };
	struct records_config rc = base_config();
	struct zone *z;

	z = build(json, &rc);
	is_str(rrs(z, "all.fw.mesos", RR_A), "10.3.0.1", "default: netinfo wins, its IPv4");
	is_str(rrs(z, "all.fw.mesos", RR_AAAA), "fd00::3", "default: netinfo wins, its IPv6 too");
	is_str(rrs(z, "labels.fw.mesos", RR_A), "10.1.0.2", "default: no netinfo, mesos label next");
	is_str(rrs(z, "old.fw.mesos", RR_A), "10.4.0.1", "netinfo: the older single ip_address");
	is_str(rrs(z, "bare.fw.mesos", RR_A), "10.0.0.1", "default: nothing else, host = agent IP");
	is_str(rrs(z, "all.fw.slave.mesos", RR_A), "10.0.0.1", "task agent record: agent IP whatever the source");
	zone_free(z);

	rc.ip_sources = host;
	rc.nip_sources = 1;
	z = build(json, &rc);
	is_str(rrs(z, "all.fw.mesos", RR_A), "10.0.0.1", "host only: agent IP");
	is_str(rrs(z, "all.fw.mesos", RR_AAAA), "", "host only: no netinfo AAAA");
	zone_free(z);

	rc.ip_sources = docker_host;
	rc.nip_sources = 2;
	z = build(json, &rc);
	is_str(rrs(z, "all.fw.mesos", RR_A), "10.2.0.1",
	       "docker: from the latest TASK_RUNNING status only");
	is_str(rrs(z, "bare.fw.mesos", RR_A), "10.0.0.1", "docker missing: falls through to host");
	zone_free(z);

	/* No source yields: no task A, but the agent-side names remain. */
	rc.ip_sources = mesos_docker;
	z = build(json, &rc);
	is_str(rrs(z, "bare.fw.mesos", RR_A), "", "no source yields: no task A");
	is_str(rrs(z, "bare.fw.slave.mesos", RR_A), "10.0.0.1", "no source yields: agent A still there");
	is_str(rrs(z, "labels.fw.mesos", RR_A), "10.1.0.2", "mesos first: mesos label");
	zone_free(z);

	rc.ip_sources = netinfo_docker;
	z = build(json, &rc);
	is_str(rrs(z, "labels.fw.mesos", RR_A), "10.2.0.2", "netinfo empty: docker next");
	zone_free(z);

	/* records_task_ips directly. */
	{
		struct mesos_state *st = NULL;
		char err[256];
		const struct iplist *l;

		if (state_parse(json, strlen(json), &st, err, sizeof(err)) != 0) {
			ok(0, "state parses: %s", err);
			return;
		}
		l = records_task_ips(&st->frameworks[0].tasks[3], &st->agents[0], host, 1);
		ok(l && l->n == 1 && l == &st->agents[0].pid.ips, "records_task_ips: host is the agent's list");
		l = records_task_ips(&st->frameworks[0].tasks[3], &st->agents[0], mesos_docker, 2);
		ok(l == NULL, "records_task_ips: NULL when no source yields");
		l = records_task_ips(&st->frameworks[0].tasks[0], NULL, default_sources, 3);
		ok(l && l->n == 2, "records_task_ips: every IP of the winning source");
		state_free(st);
	}
}

/* --- tasks, SRV, DiscoveryInfo --------------------------------------------- */

#define WEB_DI \
	", \"resources\": {\"ports\": \"[31000-31001]\"}, \"discovery\": {\"name\": \"Web.Front\", " \
	"\"ports\": {\"ports\": [" \
	"{\"number\": 80, \"protocol\": \"TCP\", \"name\": \"HTTP\"}," \
	"{\"number\": 53, \"name\": \"dns\"}," \
	"{\"number\": 9000, \"protocol\": \"$$\"}]}}"

/* "<t>-<hash5>-s0<rest>" for a task id on agent S0. */
static const char *canonical(const char *t, const char *id, const char *rest)
{
	static char buf[4][256];
	static int k;
	char h[6];

	k = (k + 1) % 4;
	label_task_hash5(id, h);
	snprintf(buf[k], sizeof(buf[k]), "%s-%s-s0%s", t, h, rest);
	return buf[k];
}

static void test_discovery(void)
{
	const char *json = STATE_FW(TASK("web-task", "web.1", WEB_DI) ","
				    TASK("plain", "plain.1", ", \"resources\": {\"ports\": \"[31005-31005]\"}"));
	struct records_config rc = base_config();
	struct zone *z = build(json, &rc);
	const char *canon = canonical("web-front", "web.1", ".fw.mesos.");
	const char *canon_slave = canonical("web-front", "web.1", ".fw.slave.mesos.");
	const char *plain_slave = canonical("plain", "plain.1", ".fw.slave.mesos.");
	char want[1024];

	is_str(rrs(z, "web-front.fw.mesos", RR_A), "10.0.0.1", "DI name used as the task label");
	ok(!has_name(z, "web-task.fw.mesos"), "DI name replaces the task name");
	is_str(rrs(z, canon, RR_A), "10.0.0.1", "canonical <t>-<hash5>-<agenttail>");
	is_str(rrs(z, "web-front.fw.slave.mesos", RR_A), "10.0.0.1", "task agent A");
	is_str(rrs(z, canon_slave, RR_A), "10.0.0.1", "canonical task agent A");

	/* DiscoveryInfo ports. */
	snprintf(want, sizeof(want), "0 1 53 %s;0 1 80 %s", canon, canon);
	is_str(rrs(z, "_web-front._tcp.fw.mesos", RR_SRV), want,
	       "DI ports: TCP lower-cased, empty protocol gives tcp");
	snprintf(want, sizeof(want), "0 1 53 %s", canon);
	is_str(rrs(z, "_web-front._udp.fw.mesos", RR_SRV), want, "empty protocol gives udp too");
	is_str(rrs(z, "_dns._web-front._udp.fw.mesos", RR_SRV), want, "named port, empty protocol: udp");
	is_str(rrs(z, "_dns._web-front._tcp.fw.mesos", RR_SRV), want, "named port, empty protocol: tcp");
	snprintf(want, sizeof(want), "0 1 80 %s", canon);
	is_str(rrs(z, "_http._web-front._tcp.fw.mesos", RR_SRV), want, "named port, name label-ruled");
	is_str(rrs(z, "_http._web-front._udp.fw.mesos", RR_SRV), "", "named tcp port: no udp");
	ok(strstr(rrs(z, "_web-front._tcp.fw.mesos", RR_SRV), " 9000 ") == NULL &&
	   strstr(rrs(z, "_web-front._udp.fw.mesos", RR_SRV), " 9000 ") == NULL,
	   "protocol that sanitises to nothing: port skipped, not read as tcp+udp");
	/* Once for the sanitised name, once for the raw DI name. */
	is_int(stats.records_rejected, 2, "protocol that sanitises to nothing: counted");

	/* Resource ports: only under slave for a DI task. */
	snprintf(want, sizeof(want), "0 1 31000 %s;0 1 31001 %s", canon_slave, canon_slave);
	is_str(rrs(z, "_web-front._tcp.fw.slave.mesos", RR_SRV), want, "DI task: resource ports under slave (tcp)");
	is_str(rrs(z, "_web-front._udp.fw.slave.mesos", RR_SRV), want, "DI task: resource ports under slave (udp)");
	ok(strstr(rrs(z, "_web-front._tcp.fw.mesos", RR_SRV), "31000") == NULL,
	   "DI task: no resource ports under .fw.mesos");

	/* Without DiscoveryInfo: both places, agent-side target. */
	snprintf(want, sizeof(want), "0 1 31005 %s", plain_slave);
	is_str(rrs(z, "_plain._tcp.fw.slave.mesos", RR_SRV), want, "no DI: resource port under slave");
	is_str(rrs(z, "_plain._udp.fw.mesos", RR_SRV), want, "no DI: resource port under .fw.mesos too");

	/* Compat: the raw DI name (valid) beside the sanitised one. */
	is_str(rrs(z, "web.front.fw.mesos", RR_A), "10.0.0.1", "compat: raw DI name A");
	is_str(rrs(z, canonical("web.front", "web.1", ".fw.mesos"), RR_A), "10.0.0.1",
	       "compat: raw DI canonical A");
	snprintf(want, sizeof(want), "0 1 53 %s;0 1 80 %s", canonical("web.front", "web.1", ".fw.mesos."),
		 canonical("web.front", "web.1", ".fw.mesos."));
	is_str(rrs(z, "_web.front._tcp.fw.mesos", RR_SRV), want, "compat: raw DI name SRV");
	snprintf(want, sizeof(want), "0 1 80 %s", canonical("web.front", "web.1", ".fw.mesos."));
	is_str(rrs(z, "_http._web.front._tcp.fw.mesos", RR_SRV), want, "compat: raw DI named port");
	is_int(stats.tasks, 2, "stats: two tasks with records");
	is_int(stats.tasks_skipped, 0, "stats: none skipped");
	zone_free(z);

	/* A discovery object without a name is no DiscoveryInfo to mesos-dns: the
	 * resource ports under both names, its own ports not advertised. */
	json = STATE_FW(TASK("app", "app.1", ", \"resources\": {\"ports\": \"[31000-31000]\"}, "
			     "\"discovery\": {\"visibility\": \"FRAMEWORK\", \"ports\": {\"ports\": "
			     "[{\"number\": 9000, \"protocol\": \"tcp\"}]}}"));
	z = build(json, &rc);
	snprintf(want, sizeof(want), "0 1 31000 %s", canonical("app", "app.1", ".fw.slave.mesos."));
	is_str(rrs(z, "_app._tcp.fw.mesos", RR_SRV), want,
	       "DI without a name: resource port under .fw.mesos, not the DI port 9000");
	is_str(rrs(z, "_app._udp.fw.mesos", RR_SRV), want, "DI without a name: ... udp too");
	is_str(rrs(z, "_app._tcp.fw.slave.mesos", RR_SRV), want, "DI without a name: ... and under slave");
	zone_free(z);

	/* A raw DI name that is no valid DNS name is not emitted. */
	json = STATE_FW(TASK("x", "x.1", ", \"discovery\": {\"name\": \"my app!\"}"));
	z = build(json, &rc);
	is_str(rrs(z, "myapp.fw.mesos", RR_A), "10.0.0.1", "invalid raw DI name: sanitised name only");
	ok(!any_name_contains(z, "my app") && !any_name_contains(z, "my\\032app"),
	   "invalid raw DI name: not emitted");
	zone_free(z);
}

/* --- de-duplication, skipping, RFC 952, resolving ----------------------------- */

static void test_dedup(void)
{
	/* Two instances of one app on one agent, same ports: one record each. */
	const char *json = STATE_FW(
		TASK("app", "app.1", ", \"resources\": {\"ports\": \"[31000-31000, 31000-31000]\"}") ","
		TASK("app", "app.1", ", \"resources\": {\"ports\": \"[31000-31000]\"}") ","
		TASK("app", "app.2", ""));
	struct records_config rc = base_config();
	struct zone *z = build(json, &rc);
	char want[512];

	is_str(rrs(z, "app.fw.mesos", RR_A), "10.0.0.1", "same name, same IP: one A record");
	snprintf(want, sizeof(want), "0 1 31000 %s", canonical("app", "app.1", ".fw.slave.mesos."));
	is_str(rrs(z, "_app._tcp.fw.mesos", RR_SRV), want, "duplicate task and port: one SRV record");
	is_str(rrs(z, canonical("app", "app.2", ".fw.mesos"), RR_A), "10.0.0.1",
	       "other task id: its own canonical name");
	is_str(rrs(z, "slave.mesos", RR_A), "10.0.0.1", "slave.mesos A");
	is_str(rrs(z, "slave.mesos", RR_AAAA), "2001:db8::7", "slave.mesos AAAA (IPv6 agent)");
	is_str(rrs(z, "_slave._tcp.mesos", RR_SRV), "0 1 5051 slave.mesos.;0 1 5052 slave.mesos.",
	       "_slave._tcp: each distinct agent port");
	is_str(rrs(z, "fw.mesos", RR_A), "10.0.0.9", "framework A from its pid");
	is_str(rrs(z, "_framework._tcp.fw.mesos", RR_SRV), "0 1 8080 fw.mesos.", "framework SRV");
	is_str(rrs(z, "ns1.mesos", RR_A), "127.0.0.1", "name server A");
	zone_free(z);
}

static void test_skipped(void)
{
	const char *json = STATE_FW(
		"{\"id\": \"lost.1\", \"name\": \"lost\", \"slave_id\": \"no-such-agent-S9\", "
		"\"state\": \"TASK_RUNNING\"},"
		"{\"id\": \"dead.1\", \"name\": \"dead\", \"slave_id\": \"20150101-000000-1-5050-1-S0\", "
		"\"state\": \"TASK_FINISHED\"},"
		TASK("$$$", "empty.1", "") ","
		"{\"id\": \"v6.1\", \"name\": \"v6\", \"slave_id\": \"20150101-000000-1-5050-1-S1\", "
		"\"state\": \"TASK_RUNNING\"}");
	struct records_config rc = base_config();
	struct zone *z = build(json, &rc);
	char h[6];
	char name[128];

	ok(!any_name_contains(z, "lost"), "task on an unknown agent: no records");
	ok(!any_name_contains(z, "dead"), "task not running: no records");
	ok(!any_name_contains(z, "-s0.fw"), "task whose name sanitises to nothing: no records");
	is_int(stats.tasks_skipped, 3, "stats: unknown agent, not running, empty label skipped");
	is_int(stats.tasks, 1, "stats: one task with records");
	is_str(rrs(z, "v6.fw.mesos", RR_AAAA), "2001:db8::7", "task on the IPv6 agent: AAAA from host");
	label_task_hash5("v6.1", h);
	snprintf(name, sizeof(name), "v6-%s-s1.fw.slave.mesos", h);
	is_str(rrs(z, name, RR_AAAA), "2001:db8::7", "agent tail of the IPv6 agent");
	zone_free(z);

	/* A framework whose name sanitises to nothing: its tasks are skipped. */
	json = "{" LEADER ", " AGENTS ", \"frameworks\": [{\"name\": \"%%%\", "
	       "\"pid\": \"scheduler(1)@10.0.0.9:8080\", \"tasks\": [" TASK("t", "t.1", "") "]}]}";
	z = build(json, &rc);
	ok(!any_name_contains(z, "t-"), "empty framework label: no task records");
	is_int(stats.tasks_skipped, 1, "empty framework label: task counted as skipped");
	zone_free(z);
}

static void test_rfc952(void)
{
	const char *json = "{" LEADER ", " AGENTS ", \"frameworks\": [{\"name\": \"Marathon-0.6.0_dev.x\", "
		"\"pid\": \"scheduler(1)@10.0.0.9:8080\", \"tasks\": ["
		TASK("1st_Web-Server.v2.with.a.long.name", "w.1", "") "]}]}";
	struct records_config rc = base_config();
	struct zone *z;
	char want[256];

	z = build(json, &rc);
	is_str(rrs(z, "1st-web-server-v2-with-a-long-name.marathon-0.6.0-dev.x.mesos", RR_A), "10.0.0.1",
	       "RFC 1123: leading digit kept, DomainFrag keeps dots");
	zone_free(z);

	rc.rfc952 = 1;
	z = build(json, &rc);
	/* The cut at 24 ends in '-': refilled from the rest ("...-with-a-" + "l"). */
	is_str(rrs(z, "st-web-server-v2-with-al.marathon-0.dev.x.mesos", RR_A), "10.0.0.1",
	       "RFC 952: leading digits trimmed, 24 characters, digit-only framework part dropped");
	snprintf(want, sizeof(want), "%s",
		 canonical("st-web-server-v2-with-al", "w.1", ".marathon-0.dev.x.slave.mesos"));
	is_str(rrs(z, want, RR_A), "10.0.0.1", "RFC 952: canonical keeps the agent tail s0");
	zone_free(z);

	/* Agent tail "3" (all digits) survives RFC 952 mode. */
	json = "{" LEADER ", \"slaves\": [{\"id\": \"abc-3\", \"pid\": \"slave(1)@10.0.0.3:5051\"}], "
	       "\"frameworks\": [{\"name\": \"fw\", \"tasks\": [{\"id\": \"k.1\", \"name\": \"k\", "
	       "\"slave_id\": \"abc-3\", \"state\": \"TASK_RUNNING\"}]}]}";
	z = build(json, &rc);
	{
		char h[6], name[128];

		label_task_hash5("k.1", h);
		snprintf(name, sizeof(name), "k-%s-3.fw.mesos", h);
		is_str(rrs(z, name, RR_A), "10.0.0.3", "RFC 952: numeric agent tail kept");
	}
	zone_free(z);
}

static void test_long_names(void)
{
	/* t62: a 62-character label, so "_<t>" still fits in 63; t63: 63 characters. */
#define T62 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijkl"
#define T63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijxyz"
	const char *json = STATE_FW(
		TASK(T62, "long.1", ", \"resources\": {\"ports\": \"[31000-31000]\"}") ","
		TASK(T63, "long.2", ", \"resources\": {\"ports\": \"[31000-31000]\"}"));
	struct records_config rc = base_config();
	struct zone *z = build(json, &rc);
	char want[256];

	/* The canonical label "<t>-<hash5>-s0" would be 71 characters: t is cut to 54. */
	snprintf(want, sizeof(want), "0 1 31000 %s",
		 canonical("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd", "long.1",
			   ".fw.slave.mesos."));
	is_str(rrs(z, "_" T62 "._tcp.fw.mesos", RR_SRV), want,
	       "long task name: SRV target canonical cut to 63 characters");
	is_str(rrs(z, T62 ".fw.mesos", RR_A), "10.0.0.1", "62-character task label: A");
	is_str(rrs(z, T63 ".fw.mesos", RR_A), "10.0.0.1", "63-character task label: A");
	/* "_" + 63 characters is no valid label: those SRV owners cannot exist. */
	is_int(stats.records_rejected, 4, "63-character task label: its 4 SRV records rejected, counted");
	zone_free(z);
#undef T62
#undef T63
}

/* A resolver that knows two names. */
static struct ipaddr res_a[2];
static struct iplist res_l[2] = { { &res_a[0], 1 }, { &res_a[1], 1 } };
static int res_calls;

static const struct iplist *fake_resolve(void *ctx, const char *host)
{
	(void)ctx;
	res_calls++;
	if (strcmp(host, "fw.example") == 0)
		return &res_l[0];
	if (strcmp(host, "agent.example") == 0)
		return &res_l[1];
	return NULL;
}

static void test_resolve(void)
{
	const char *json = "{\"leader\": \"master@leader.unknown:5050\", \"slaves\": ["
		"{\"id\": \"h-S0\", \"pid\": \"slave(1)@agent.example:5051\"}], \"frameworks\": ["
		"{\"name\": \"named\", \"hostname\": \"fw.example\", \"tasks\": ["
		"{\"id\": \"n.1\", \"name\": \"n\", \"slave_id\": \"h-S0\", \"state\": \"TASK_RUNNING\"}]},"
		"{\"name\": \"literal\", \"hostname\": \"10.7.7.7\"},"
		"{\"name\": \"gone\", \"pid\": \"scheduler(1)@nowhere.example:1\"}]}";
	struct records_config rc = base_config();
	struct zone *z;

	ipaddr_parse("10.5.5.5", &res_a[0]);
	ipaddr_parse("10.6.6.6", &res_a[1]);

	z = build(json, &rc);
	ok(z != NULL, "hostnames without a resolver: zone still built");
	is_str(rrs(z, "named.mesos", RR_A), "", "no resolver: framework hostname skipped");
	is_str(rrs(z, "literal.mesos", RR_A), "10.7.7.7", "hostname field that is an IP literal");
	is_str(rrs(z, "slave.mesos", RR_A), "", "no resolver: hostname agent has no A");
	ok(!has_name(z, "leader.mesos"), "no resolver: hostname leader has no records");
	zone_free(z);

	rc.resolve = fake_resolve;
	z = build(json, &rc);
	ok(res_calls > 0, "resolver consulted");
	is_str(rrs(z, "named.mesos", RR_A), "10.5.5.5", "framework without pid: resolved hostname");
	is_str(rrs(z, "_framework._tcp.named.mesos", RR_SRV), "", "framework without pid: no SRV");
	is_str(rrs(z, "slave.mesos", RR_A), "10.6.6.6", "hostname agent: resolved");
	is_str(rrs(z, "n.named.mesos", RR_A), "10.6.6.6", "host source: resolved agent address");
	is_str(rrs(z, "gone.mesos", RR_A), "", "unresolvable framework pid: no A");
	is_str(rrs(z, "_framework._tcp.gone.mesos", RR_SRV), "", "unresolvable framework pid: no SRV");
	ok(!has_name(z, "leader.mesos"), "unresolvable leader: no leader records, the rest stays");
	zone_free(z);

	/* SOAMname outside the domain: no host record for it. */
	rc = base_config();
	rc.soa_mname = "ns1.example.org";
	z = build("{" LEADER ", \"slaves\": [], \"frameworks\": []}", &rc);
	ok(!any_name_contains(z, "ns1"), "SOAMname outside the domain: no A");
	is_int(stats.records_rejected, 0, "SOAMname outside the domain: not counted as rejected");
	zone_free(z);
}

/* --- healthAware ------------------------------------------------------------ */

/* A running task on S0 with one port, a netinfo address and a health verdict
 * ("" for no health check). */
#define HTASK(name, id, ip, port, health) \
	TASK(name, id, ", \"resources\": {\"ports\": \"[" port "-" port "]\"}, \"statuses\": " \
	     "[{\"state\": \"TASK_RUNNING\", \"timestamp\": 1" health ", \"container_status\": " \
	     "{\"network_infos\": [{\"ip_addresses\": [{\"ip_address\": \"" ip "\"}]}]}}]")

static void test_health(void)
{
	const char *json = STATE_FW(
		HTASK("web", "web.1", "10.5.0.1", "31001", ", \"healthy\": true") ","
		HTASK("web", "web.2", "10.5.0.2", "31002", ", \"healthy\": false") ","
		HTASK("web", "web.3", "10.5.0.3", "31003", "") ","
		HTASK("sick", "sick.1", "10.6.0.1", "32001", ", \"healthy\": false") ","
		HTASK("sick", "sick.2", "10.6.0.2", "32002", ", \"healthy\": false"));
	struct records_config rc = base_config();
	struct zone *z;

	z = build(json, &rc);
	is_str(rrs(z, "web.fw.mesos", RR_A), "10.5.0.1;10.5.0.2;10.5.0.3",
	       "healthAware off: every running task answers (mesos-dns)");
	zone_free(z);

	rc.health_aware = 1;
	z = build(json, &rc);
	is_str(rrs(z, "web.fw.mesos", RR_A), "10.5.0.1;10.5.0.3",
	       "healthAware: the task whose last check failed is left out; no check stays in");
	is_str(rrs(z, "_web._tcp.fw.mesos", RR_SRV),
	       "0 1 31001 web-e844k-s0.fw.slave.mesos.;0 1 31003 web-sft9q-s0.fw.slave.mesos.",
	       "and out of the SRV records");
	ok(strstr(rrs(z, "_web._tcp.fw.slave.mesos", RR_SRV), "31002") == NULL,
	   "and out of the SRV records under slave too");
	is_str(rrs(z, "web.fw.slave.mesos", RR_A), "10.0.0.1",
	       "a name shared with healthy tasks (the agent's address) stays");
	ok(rrs(z, "sick.fw.mesos", RR_A)[0] && strcmp(rrs(z, "sick.fw.mesos", RR_A),
						     "10.6.0.1;10.6.0.2") == 0,
	   "every task of a name unhealthy: all are served rather than none");
	is_int(stats.tasks_unhealthy, 3, "three tasks counted unhealthy");
	is_int(z ? z->held_back : 0, 5,
	       "five records held back (web.2's A under web.fw.mesos, its four SRVs)");
	int own = 0;
	for (size_t i = 0; z && i < z->nnodes; i++) {
		const struct zone_rrset *rs = zone_node_rrset(z->nodes[i], RR_A);
		char name[256];
		dname_to_text(z->nodes[i]->name, name, sizeof(name));
		if (rs && rs->count == 1 && memcmp(rs->rrs[0].rdata, "\x0a\x05\x00\x02", 4) == 0 &&
		    strncmp(name, "web-", 4) == 0)
			own = 1;
	}
	ok(own, "an unhealthy task's own canonical name still resolves (nothing else answers it)");
	zone_free(z);
}

/* Tasks find their agent by id among thousands; the first of two agents
 * with one id wins; an id nobody has skips the task. */
static void test_agents_by_id(void)
{
	enum { N = 3000 };
	struct records_config rc = base_config();
	size_t cap = N * 96 + 4096, o = 0;
	char *json = malloc(cap);

	if (!ok(json != NULL, "agents: memory"))
		return;
	o += (size_t)snprintf(json + o, cap - o, "{" LEADER ", \"slaves\": [");
	for (int i = 0; i < N; i++)
		o += (size_t)snprintf(json + o, cap - o,
				      "{\"id\": \"20150101-000000-1-5050-1-S%d\", "
				      "\"pid\": \"slave(1)@10.%d.%d.1:5051\"},", i, i / 256, i % 256);
	/* S7 again, later and elsewhere: the first one listed is the agent. */
	o += (size_t)snprintf(json + o, cap - o,
			      "{\"id\": \"20150101-000000-1-5050-1-S7\", "
			      "\"pid\": \"slave(1)@10.99.99.99:5051\"}], \"frameworks\": [{\"name\": "
			      "\"fw\", \"tasks\": [");
	static const struct { const char *name; int agent; } t[] = {
		{ "first", 0 }, { "seventh", 7 }, { "last", N - 1 }, { "middle", 1234 },
		{ "nobody", N },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		o += (size_t)snprintf(json + o, cap - o,
				      "%s{\"id\": \"%s.1\", \"name\": \"%s\", \"slave_id\": "
				      "\"20150101-000000-1-5050-1-S%d\", \"state\": \"TASK_RUNNING\"}",
				      i ? "," : "", t[i].name, t[i].name, t[i].agent);
	snprintf(json + o, cap - o, "]}]}");

	struct zone *z = build(json, &rc);
	is_str(rrs(z, "first.fw.slave.mesos", RR_A), "10.0.0.1", "agents: the first agent");
	is_str(rrs(z, "seventh.fw.slave.mesos", RR_A), "10.0.7.1",
	       "agents: of two with one id, the first listed");
	is_str(rrs(z, "last.fw.slave.mesos", RR_A), "10.11.183.1", "agents: the last of 3,000");
	is_str(rrs(z, "middle.fw.slave.mesos", RR_A), "10.4.210.1", "agents: one in the middle");
	is_str(rrs(z, "nobody.fw.mesos", RR_A), "", "agents: an unknown id has no records");
	is_int(stats.tasks_skipped, 1, "agents: the task on an unknown agent is skipped");
	zone_free(z);
	free(json);
}

int main(void)
{
	ipaddr_parse("127.0.0.1", &ns_addr);
	test_masters();
	test_ip_sources();
	test_discovery();
	test_dedup();
	test_skipped();
	test_rfc952();
	test_long_names();
	test_resolve();
	test_health();
	test_agents_by_id();
	return done_testing();
}
