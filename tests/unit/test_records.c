/* tests/unit/test_records.c -- record generation from small inline states (behaviour.md §2). */
#include "zone/records.h"

#include <stdio.h>
#include <string.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/state.h"
#include "tests/unit/tap.h"
#include "zone/dname.h"
#include "zone/ipaddr.h"
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
	struct zone *z;
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

static void test_discovery(void)
{
	const char *json = STATE_FW(TASK("web-task", "web.1", WEB_DI) ","
				    TASK("plain", "plain.1", ", \"resources\": {\"ports\": \"[31005-31005]\"}"));
	struct records_config rc = base_config();
	struct zone *z = build(json, &rc);
	char canon[128], canon_slave[128], want[512];
	char h_web[6], h_plain[6];

	/* The canonical names use hash5 of the task id and the agent tail "s0". */
	extern void label_task_hash5(const char *task_id, char out[6]);
	label_task_hash5("web.1", h_web);
	label_task_hash5("plain.1", h_plain);
	snprintf(canon, sizeof(canon), "web-front-%s-s0.fw.mesos.", h_web);
	snprintf(canon_slave, sizeof(canon_slave), "web-front-%s-s0.fw.slave.mesos.", h_web);

	is_str(rrs(z, "web-front.fw.mesos", RR_A), "10.0.0.1", "DI name used as the task label");
	ok(!has_name(z, "web-task.fw.mesos"), "DI name replaces the task name");
	is_str(rrs(z, canon, RR_A), "10.0.0.1", "canonical <t>-<hash5>-<agenttail>");

	snprintf(want, sizeof(want), "0 1 80 %s", canon);
	is_str(rrs(z, "_web-front._tcp.fw.mesos", RR_SRV), want, "DI port, protocol lower-cased");
	is_str(rrs(z, "_http._web-front._tcp.fw.mesos", RR_SRV), want, "named DI port, name label-ruled");
	snprintf(want, sizeof(want), "0 1 53 %s", canon);
	is_str(rrs(z, "_web-front._udp.fw.mesos", RR_SRV), want, "empty protocol: udp");
	is_str(rrs(z, "_dns._web-front._udp.fw.mesos", RR_SRV), want, "empty protocol, named: udp");
	is_str(rrs(z, "_dns._web-front._tcp.fw.mesos", RR_SRV), want, "empty protocol, named: tcp");
	snprintf(want, sizeof(want), "0 1 53 %s;0 1 80 %s", canon, canon);
	is_str(rrs(z, "_web-front._tcp.fw.mesos", RR_SRV), "", "(placeholder)");
	zone_free(z);
	(void)canon_slave;
	(void)h_plain;
}

int main(void)
{
	ipaddr_parse("127.0.0.1", &ns_addr);
	test_masters();
	test_ip_sources();
	test_discovery();
	return done_testing();
}
