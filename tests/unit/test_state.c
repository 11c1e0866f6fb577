/* tests/unit/test_state.c -- the /master/state parser: pids, port ranges, fixtures, bad input. */
#include "lib/state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/statesax.h"
#include "tests/unit/tap.h"
#include "zone/ipaddr.h"

static char ipbuf[64];

static const char *ipstr(const struct iplist *l, size_t i)
{
	if (i >= l->n)
		return "(none)";
	return ipaddr_format(&l->v[i], ipbuf, sizeof(ipbuf));
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Parse a NUL-terminated inline document. */
static int parse_str(const char *json, struct mesos_state **st, char *err, size_t errlen)
{
	return state_parse(json, strlen(json), st, err, errlen);
}

static struct state_framework *find_fw(struct mesos_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nframeworks; i++)
		if (strcmp(st->frameworks[i].name, name) == 0)
			return &st->frameworks[i];
	return NULL;
}

static struct state_task *find_task(struct state_framework *f, const char *name)
{
	size_t i;

	for (i = 0; f && i < f->ntasks; i++)
		if (f->tasks[i].name && strcmp(f->tasks[i].name, name) == 0)
			return &f->tasks[i];
	return NULL;
}

static void test_pid(void)
{
	struct state_endpoint ep;

	is_int(state_parse_pid("master@1.2.3.4:5050", &ep), 0, "pid IPv4: ok");
	is_str(ep.host, "1.2.3.4", "pid IPv4: host");
	is_int(ep.port, 5050, "pid IPv4: port");
	is_int(ep.is_literal, 1, "pid IPv4: literal");
	is_int(ep.ips.n, 1, "pid IPv4: one address");
	is_str(ipstr(&ep.ips, 0), "1.2.3.4", "pid IPv4: address");
	is_int(ep.ips.v[0].af, 4, "pid IPv4: family 4");
	state_endpoint_clear(&ep);
	ok(ep.host == NULL && ep.ips.v == NULL && ep.ips.n == 0 && ep.port == 0,
	   "endpoint_clear zeroes");

	is_int(state_parse_pid("slave(1)@[2001:db8::1]:5051", &ep), 0, "pid [IPv6]: ok");
	is_str(ep.host, "2001:db8::1", "pid [IPv6]: host without brackets");
	is_int(ep.port, 5051, "pid [IPv6]: port");
	is_int(ep.is_literal, 1, "pid [IPv6]: literal");
	is_int(ep.ips.n == 1 ? ep.ips.v[0].af : 0, 6, "pid [IPv6]: family 6");
	state_endpoint_clear(&ep);

	is_int(state_parse_pid("master@[::1]", &ep), 0, "pid [IPv6] without port: ok");
	is_int(ep.port, 0, "pid [IPv6] without port: port 0");
	state_endpoint_clear(&ep);

	is_int(state_parse_pid("scheduler-6210@master-1.example.com:44369", &ep), 0, "pid hostname: ok");
	is_str(ep.host, "master-1.example.com", "pid hostname: host");
	is_int(ep.port, 44369, "pid hostname: port");
	is_int(ep.is_literal, 0, "pid hostname: not literal");
	is_int(ep.ips.n, 0, "pid hostname: no addresses yet");
	state_endpoint_clear(&ep);

	is_int(state_parse_pid("slave(1)@1.2.3:12", &ep), 0, "pid 1.2.3 (not a dotted quad): hostname");
	is_int(ep.is_literal, 0, "pid 1.2.3: not literal");
	state_endpoint_clear(&ep);

	is_int(state_parse_pid("master@10.0.0.1", &ep), 0, "pid without port: ok");
	is_int(ep.port, 0, "pid without port: port 0");
	is_int(ep.is_literal, 1, "pid without port: literal");
	state_endpoint_clear(&ep);

	is_int(state_parse_pid("a@b@1.2.3.4:1", &ep), 0, "pid: the last '@' splits");
	is_str(ep.host, "1.2.3.4", "pid with '@' in the name: host");
	state_endpoint_clear(&ep);

	is_int(state_parse_pid("master@1.2.3.4:65535", &ep), 0, "pid port 65535 ok");
	is_int(ep.port, 65535, "pid port 65535");
	state_endpoint_clear(&ep);

	static const char *const bad[] = {
		"", "garbage", "1.2.3.4:5050", "master@", "master@:5050",
		"master@1.2.3.4:", "master@1.2.3.4:0", "master@1.2.3.4:65536",
		"master@1.2.3.4:99999999999999999999", "master@1.2.3.4:50x",
		"master@1.2.3.4:-1", "master@1.2.3.4:+5", "master@2001:db8::1:5050",
		"master@[2001:db8::1", "master@[]:5050", "master@[1.2.3.4]:5050",
		"master@[zz::1]:5050", "master@[::1]5050", "master@[::1]:",
		"master@host name:5050", "master@host/x:5050", "master@h\xc3\xa9:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ep, 0x5a, sizeof(ep));
		is_int(state_parse_pid(bad[i], &ep), MDNS_EINVAL, "bad pid '%s' rejected", bad[i]);
		ok(ep.host == NULL && ep.ips.v == NULL && ep.ips.n == 0,
		   "bad pid '%s' leaves ep cleared", bad[i]);
	}
	is_int(state_parse_pid(NULL, &ep), MDNS_EINVAL, "NULL pid rejected");
	state_endpoint_clear(NULL);
	ok(1, "state_endpoint_clear(NULL) returns (a crash would end the suite)");
}

static void test_ports(void)
{
	static uint16_t dummy[1];
	uint16_t *p;
	size_t n;

	is_int(state_parse_ports("[31000-31002, 31010-31010]", &p, &n), 0, "ports: two ranges ok");
	is_int(n, 4, "ports: 3 + 1 ports");
	ok(n == 4 && p[0] == 31000 && p[1] == 31001 && p[2] == 31002 && p[3] == 31010,
	   "ports: expanded in order");
	free(p);

	is_int(state_parse_ports("", &p, &n), 0, "ports \"\": ok");
	ok(n == 0 && p == NULL, "ports \"\": none");
	is_int(state_parse_ports("[]", &p, &n), 0, "ports []: ok");
	ok(n == 0 && p == NULL, "ports []: none");
	is_int(state_parse_ports(" [ ] ", &p, &n), 0, "ports [ ] with spaces: ok");
	is_int(n, 0, "ports [ ]: none");

	is_int(state_parse_ports("[31354-31354]", &p, &n), 0, "ports single-port range ok");
	ok(n == 1 && p[0] == 31354, "ports single-port range: 31354");
	free(p);
	is_int(state_parse_ports("[80]", &p, &n), 0, "ports lone port ok");
	ok(n == 1 && p[0] == 80, "ports lone port: 80");
	free(p);
	is_int(state_parse_ports("[1-1,65535-65535]", &p, &n), 0, "ports bounds 1 and 65535 ok");
	ok(n == 2 && p[0] == 1 && p[1] == 65535, "ports bounds: values");
	free(p);
	is_int(state_parse_ports("[1-65535]", &p, &n), 0, "ports whole range ok");
	ok(n == 65535 && p[65534] == 65535, "ports whole range: 65535 ports");
	free(p);

	static const char *const bad[] = {
		"[", "]", "31000-31002", "[31000-31002", "[31000-]", "[-31000]",
		"[a-b]", "[31000-31002,]", "[,31000]", "[31000 31001]", "[31000-31002] x",
		"[0-1]", "[65535-65536]", "[1-99999999999999999999]", "[31010-31000]",
		"[1-65535, 1-1]", "[31000--31002]", "[3.5]", "garbage",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = dummy;	/* must be reset to NULL */
		is_int(state_parse_ports(bad[i], &p, &n), MDNS_EINVAL, "bad ports '%s' rejected", bad[i]);
		ok(p == NULL && n == 0, "bad ports '%s': nothing returned", bad[i]);
	}
	is_int(state_parse_ports(NULL, &p, &n), MDNS_EINVAL, "NULL ports rejected");
}

static void test_fake_json(void)
{
	struct mesos_state *st = NULL;
	struct state_framework *fw;
	struct state_task *t;
	char err[256];
	size_t len = 0;
	char *json = slurp("tests/data/fake.json", &len);
	int rc;

	if (!ok(json != NULL, "read tests/data/fake.json (run from the repo root)"))
		return;
	rc = state_parse(json, len, &st, err, sizeof(err));
	free(json);
	if (!ok(rc == 0 && st, "fake.json parses (%s)", rc ? err : "ok"))
		return;

	is_str(st->leader.host, "1.2.3.4", "leader host");
	is_int(st->leader.port, 5050, "leader port");
	is_int(st->leader.is_literal, 1, "leader literal");

	is_int(st->nagents, 4, "4 agents");
	is_str(st->agents[0].id, "20140916-194712-631065744-5050-4798-2", "agent 0 id");
	is_str(st->agents[0].hostname, "1.2.3.10", "agent 0 hostname");
	is_str(ipstr(&st->agents[0].pid.ips, 0), "1.2.3.10", "agent 0 pid IP");
	is_int(st->agents[0].pid.port, 5051, "agent 0 pid port");
	is_str(st->agents[3].id, "20140803-194712-3041283216-5050-2116-3", "agent 3 id");
	is_str(st->agents[3].pid.host, "2001:db8::1", "agent 3 IPv6 pid host");
	is_str(ipstr(&st->agents[3].pid.ips, 0), "2001:db8::1", "agent 3 IPv6 pid IP");

	is_int(st->nframeworks, 4, "4 frameworks");
	fw = find_fw(st, "ipv6-framework");
	ok(fw && fw->has_pid && fw->pid.ips.n == 1 && fw->pid.ips.v[0].af == 6 &&
	   fw->pid.port == 25501, "ipv6-framework: pid [2001:db8::1]:25501");
	fw = find_fw(st, "chronos with a space AND MIXED CASE-2.0.1");
	ok(fw && fw->has_pid && strcmp(ipstr(&fw->pid.ips, 0), "1.2.3.12") == 0,
	   "framework with spaces in its name: pid 1.2.3.12");
	fw = find_fw(st, "no pid");
	ok(fw && !fw->has_pid && fw->pid.host == NULL, "'no pid' framework: has_pid 0");
	ok(fw && fw->hostname && strcmp(fw->hostname, "localhost") == 0,
	   "'no pid' framework: hostname localhost");
	is_int(fw ? fw->ntasks : 99, 0, "'no pid' framework: no tasks");

	/* netinfo: every network_info's ip_addresses, v4 and v6. */
	fw = find_fw(st, "ipv6-framework");
	t = find_task(fw, "toy-store");
	if (ok(t != NULL, "toy-store task found")) {
		is_int(t->running, 1, "toy-store running");
		is_int(t->ip_netinfo.n, 3, "toy-store: 3 netinfo IPs");
		is_str(ipstr(&t->ip_netinfo, 0), "12.0.1.3", "toy-store netinfo[0]");
		is_str(ipstr(&t->ip_netinfo, 1), "12.0.1.2", "toy-store netinfo[1]");
		is_str(ipstr(&t->ip_netinfo, 2), "fd01:b::1:8000:2", "toy-store netinfo[2] IPv6");
		is_int(t->ip_mesos.n + t->ip_docker.n, 0, "toy-store: no mesos/docker IPs");
		ok(t->nports == 2 && t->ports[0] == 31354 && t->ports[1] == 31355,
		   "toy-store: ports 31354, 31355");
		is_int(t->has_discovery, 0, "toy-store: no DiscoveryInfo");
		is_int(t->healthy, -1, "toy-store: health unknown");
	}

	fw = find_fw(st, "marathon");
	if (!ok(fw != NULL, "marathon framework found"))
		goto out;
	is_int(fw->ntasks, 8, "marathon: 8 tasks");
	ok(fw->has_pid && fw->pid.port == 25501, "marathon: pid port 25501");

	t = find_task(fw, "poseidon.bc4e3796-2d7a-11e4-b8df-d43d7edb01cd");
	ok(t && !t->running, "poseidon (TASK_KILLED) is not running");

	/* Latest RUNNING status: timestamps 1413572371 (10.3.0.4), 1413572390
	 * (10.3.0.1), 1413572381 (no IP label) and a later-listed STARTING one. */
	t = find_task(fw, "liquor.store");
	if (ok(t != NULL, "liquor.store task found")) {
		is_str(t->id, "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5", "liquor.store id");
		is_str(t->slave_id, "20140803-125133-3041283216-5050-2410-0", "liquor.store slave_id");
		is_int(t->ip_docker.n, 1, "liquor.store: one docker IP, from the latest status only");
		is_str(ipstr(&t->ip_docker, 0), "10.3.0.1", "liquor.store docker IP 10.3.0.1 (not 10.3.0.4)");
		is_int(t->ip_mesos.n + t->ip_netinfo.n, 0, "liquor.store: no mesos/netinfo IPs");
		is_int(t->has_discovery, 1, "liquor.store: DiscoveryInfo present");
		is_str(t->di_name, "liquor.store", "liquor.store: DI name");
		is_int(t->ndi_ports, 2, "liquor.store: 2 DI ports");
		if (t->ndi_ports == 2) {
			is_int(t->di_ports[0].number, 80, "DI port 0 number 80");
			is_str(t->di_ports[0].name, "http", "DI port 0 name http");
			is_str(t->di_ports[0].protocol, "tcp", "DI port 0 protocol tcp");
			is_int(t->di_ports[1].number, 443, "DI port 1 number 443");
			is_str(t->di_ports[1].name, "https", "DI port 1 name https");
			is_str(t->di_ports[1].protocol, "tcp", "DI port 1 protocol tcp");
		}
		ok(t->nports == 2 && t->ports[0] == 31354 && t->ports[1] == 31355,
		   "liquor.store: resource ports 31354, 31355");
	}

	/* Duplicate task ids are both kept (the zone builder decides). */
	t = find_task(fw, "big.dog2");
	ok(t && strcmp(t->id, "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5") == 0 &&
	   t->di_name && strcmp(t->di_name, "big.dog") == 0, "big.dog2: duplicate id kept, DI name big.dog");

	t = find_task(fw, "non-human-readable-liquor-store");
	ok(t && t->nports == 2 && t->ports[0] == 31737 && t->ports[1] == 31738,
	   "non-human-readable-liquor-store: range 31737-31738 expanded");
	ok(t && t->ip_docker.n == 1 && strcmp(ipstr(&t->ip_docker, 0), "10.3.0.2") == 0,
	   "non-human-readable-liquor-store: docker 10.3.0.2");

	t = find_task(fw, "nginx");
	ok(t && t->running && t->nports == 0 && t->ports == NULL, "nginx: ports \"[]\" gives none");
	ok(t && t->ip_mesos.n == 1 && strcmp(ipstr(&t->ip_mesos, 0), "10.3.0.3") == 0,
	   "nginx: mesos IP 10.3.0.3");

	t = find_task(fw, "car.store");
	ok(t && t->running && t->nports == 2 && t->ports[0] == 31364 && t->ports[1] == 31365 &&
	   !t->has_discovery && t->di_name == NULL, "car.store: ports 31364, 31365, no DI");
	ok(t && t->ip_mesos.n + t->ip_docker.n + t->ip_netinfo.n == 0, "car.store: no task IPs");
out:
	state_free(st);
}

static void test_plugins_v2(void)
{
	struct mesos_state *st = NULL;
	struct state_framework *fw;
	char err[256];
	size_t len = 0;
	char *json = slurp("tests/data/fake.plugins_v2.json", &len);
	int rc;

	if (!ok(json != NULL, "read tests/data/fake.plugins_v2.json"))
		return;
	rc = state_parse(json, len, &st, err, sizeof(err));
	free(json);
	if (!ok(rc == 0 && st, "fake.plugins_v2.json parses (%s)", rc ? err : "ok"))
		return;
	is_int(st->nagents, 3, "plugins_v2: 3 agents");
	ok(st->agents[2].pid.host && strcmp(st->agents[2].pid.host, "1.2.3") == 0 &&
	   !st->agents[2].pid.is_literal && st->agents[2].pid.port == 12,
	   "plugins_v2: pid slave(1)@1.2.3:12 read as a hostname");
	is_int(st->nframeworks, 2, "plugins_v2: 2 frameworks");
	fw = find_fw(st, "marathon");
	ok(fw && !fw->has_pid && fw->ntasks == 5, "plugins_v2: marathon without pid, 5 tasks");
	state_free(st);
}

static void test_status_order(void)
{
	static const char doc[] =
		"{\"leader\":\"master@[2001:db8::5]:5050\","
		" \"slaves\":[{\"id\":\"S1\",\"hostname\":\"agent1\",\"pid\":\"slave(1)@agent1.example:5051\"}],"
		" \"frameworks\":[{\"name\":\"fw\",\"pid\":\"scheduler@fw.example:1234\",\"tasks\":["
		"  {\"id\":\"t1\",\"name\":\"one\",\"slave_id\":\"S1\",\"state\":\"TASK_RUNNING\","
		"   \"statuses\":["
		"    {\"state\":\"TASK_RUNNING\",\"timestamp\":30,\"healthy\":true,"
		"     \"labels\":[{\"key\":\"MesosContainerizer.NetworkSettings.IPAddress\",\"value\":\"10.0.0.3\"}],"
		"     \"container_status\":{\"network_infos\":[{\"ip_addresses\":[],\"ip_address\":\"192.168.0.3\"},"
		"       {\"ip_address\":\"192.168.0.4\",\"ip_addresses\":[{\"ip_address\":\"fd00::3\"},"
		"        {\"ip_address\":\"not-an-ip\"}]}]}},"
		"    {\"state\":\"TASK_RUNNING\",\"timestamp\":50.5,\"healthy\":false,"
		"     \"labels\":[{\"key\":\"MesosContainerizer.NetworkSettings.IPAddress\",\"value\":\"10.0.0.5\"},"
		"      {\"key\":\"Docker.NetworkSettings.IPAddress\",\"value\":\"172.17.0.5\"},"
		"      {\"key\":\"Docker.NetworkSettings.IPAddress\",\"value\":\"bogus\"}]},"
		"    {\"state\":\"TASK_KILLED\",\"timestamp\":99,"
		"     \"labels\":[{\"key\":\"MesosContainerizer.NetworkSettings.IPAddress\",\"value\":\"10.0.0.99\"}]},"
		"    {\"state\":\"TASK_RUNNING\",\"timestamp\":10,"
		"     \"labels\":[{\"key\":\"MesosContainerizer.NetworkSettings.IPAddress\",\"value\":\"10.0.0.1\"}]}]},"
		"  {\"id\":\"t2\",\"name\":\"two\",\"slave_id\":\"S1\",\"state\":\"TASK_RUNNING\",\"statuses\":["
		"    {\"state\":\"TASK_RUNNING\",\"timestamp\":5,\"container_status\":{\"network_infos\":["
		"      {\"ip_addresses\":[],\"ip_address\":\"192.168.0.3\"},"
		"      {\"ip_address\":\"192.168.0.4\",\"ip_addresses\":[{\"ip_address\":\"fd00::3\"},"
		"       {\"ip_address\":\"not-an-ip\"}]}]}}]},"
		"  {\"id\":\"t3\",\"state\":\"TASK_STAGING\",\"statuses\":["
		"    {\"state\":\"TASK_STAGING\",\"timestamp\":1,"
		"     \"labels\":[{\"key\":\"Docker.NetworkSettings.IPAddress\",\"value\":\"172.17.0.9\"}]}]}"
		" ]}]}";
	struct mesos_state *st = NULL;
	struct state_task *t;
	char err[256];
	int rc;

	rc = parse_str(doc, &st, err, sizeof(err));
	if (!ok(rc == 0 && st, "inline status-order doc parses (%s)", rc ? err : "ok"))
		return;
	ok(st->leader.is_literal && st->leader.ips.n == 1 && st->leader.ips.v[0].af == 6,
	   "leader [IPv6] literal");
	ok(st->agents[0].pid.host && !st->agents[0].pid.is_literal && st->agents[0].pid.ips.n == 0,
	   "agent with a hostname pid: not literal, no IPs yet");
	ok(st->nframeworks == 1 && st->frameworks[0].has_pid && !st->frameworks[0].pid.is_literal,
	   "framework with a hostname pid");

	t = &st->frameworks[0].tasks[0];
	is_int(t->ip_mesos.n, 1, "out of order: one mesos IP");
	is_str(ipstr(&t->ip_mesos, 0), "10.0.0.5", "out of order: the RUNNING status at t=50.5 wins");
	is_int(t->ip_docker.n, 1, "out of order: invalid docker literal skipped");
	is_str(ipstr(&t->ip_docker, 0), "172.17.0.5", "out of order: docker IP of the latest status");
	is_int(t->ip_netinfo.n, 0, "out of order: netinfo only from the latest status (none)");
	is_int(t->healthy, 0, "healthy false from the latest status");

	t = &st->frameworks[0].tasks[1];
	is_int(t->ip_netinfo.n, 2, "netinfo: old ip_address used only when ip_addresses empty");
	is_str(ipstr(&t->ip_netinfo, 0), "192.168.0.3", "netinfo: ip_address of the info with []");
	is_str(ipstr(&t->ip_netinfo, 1), "fd00::3", "netinfo: ip_addresses wins over ip_address");
	is_int(t->healthy, -1, "no healthy field: -1");

	t = &st->frameworks[0].tasks[2];
	ok(!t->running && t->name == NULL && t->slave_id == NULL, "t3: staging, no name, no slave_id");
	is_int(t->ip_docker.n, 0, "t3: no RUNNING status, no IPs");
	state_free(st);
}

static void test_bad_documents(void)
{
	struct mesos_state *st;
	char err[256];
	int rc;

	st = (struct mesos_state *)err;
	rc = parse_str("this is not json", &st, err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "not JSON: MDNS_EPARSE");
	ok(st == NULL, "not JSON: *out NULL");
	ok(strstr(err, "line 1") != NULL, "not JSON: message has the line (%s)", err);

	rc = parse_str("{\"leader\": \"master@1.2.3.4:5050\",\n \"slaves\": [,]}", &st, err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "syntax error on line 2: MDNS_EPARSE");
	ok(strstr(err, "line 2") && strstr(err, "column"), "syntax error: line and column (%s)", err);

	is_int(state_parse("{\"leader\":\"master@1.2.3.4:5050\"}", 10, &st, err, sizeof(err)),
	       MDNS_EPARSE, "truncated document (len) rejected");
	is_int(state_parse("{\"leader\":\"master@1.2.3.4:5050\"}x", 33, &st, err, sizeof(err)),
	       MDNS_EPARSE, "trailing garbage rejected");
	is_int(state_parse("", 0, &st, err, sizeof(err)), MDNS_EPARSE, "empty input rejected");
	is_int(state_parse(NULL, 0, &st, err, sizeof(err)), MDNS_EPARSE, "NULL input rejected");
	is_int(state_parse("{}", (size_t)STATE_MAX_BYTES + 1, &st, err, sizeof(err)), MDNS_ETOOBIG,
	       "over STATE_MAX_BYTES: MDNS_ETOOBIG");

	rc = parse_str("[{\"leader\":\"master@1.2.3.4:5050\"}]", &st, err, sizeof(err));
	is_int(rc, MDNS_EPARSE, "array root: MDNS_EPARSE");
	ok(strstr(err, "array") != NULL, "array root: message says so (%s)", err);
	is_int(parse_str("42", &st, err, sizeof(err)), MDNS_EPARSE, "number root: MDNS_EPARSE");
	is_int(parse_str("null", &st, err, sizeof(err)), MDNS_EPARSE, "null root: MDNS_EPARSE");

	rc = parse_str("{\"slaves\":[],\"frameworks\":[]}", &st, err, sizeof(err));
	is_int(rc, MDNS_ENOLEADER, "missing leader: MDNS_ENOLEADER");
	ok(st == NULL && strstr(err, "leader") != NULL, "missing leader: message (%s)", err);
	is_int(parse_str("{\"leader\":\"\"}", &st, err, sizeof(err)), MDNS_ENOLEADER,
	       "empty leader: MDNS_ENOLEADER");
	is_int(parse_str("{\"leader\":5050}", &st, err, sizeof(err)), MDNS_ENOLEADER,
	       "numeric leader: MDNS_ENOLEADER");
	is_int(parse_str("{\"leader\":null}", &st, err, sizeof(err)), MDNS_ENOLEADER,
	       "null leader: MDNS_ENOLEADER");
	rc = parse_str("{\"leader\":\"no at sign\\u0001\"}", &st, err, sizeof(err));
	is_int(rc, MDNS_ENOLEADER, "unparsable leader: MDNS_ENOLEADER");
	ok(strstr(err, "no at sign?") != NULL, "unparsable leader: quoted, control chars masked (%s)", err);
	is_int(parse_str("{\"leader\":\"m@\\u0000x\"}", &st, err, sizeof(err)), MDNS_EPARSE,
	       "NUL escape in a string: rejected by the JSON parser");
	is_int(parse_str("{\"leader\":\"master@1.2.3.4:5050\",\"x\\u0000y\":1}", &st, err,
			 sizeof(err)), MDNS_EPARSE, "NUL escape in a key: rejected");
	is_int(parse_str("{\"leader\":\"master@1.2.3.4:5050\",\"unused\":[{\"a\":\"\\n\\u0000\"}]}",
			 &st, err, sizeof(err)), MDNS_EPARSE,
	       "NUL escape in a member nobody reads: rejected too");
	{
		static const char raw[] = "{\"leader\":\"master@1.2.3.4:5050\",\"a\":\"x\0y\"}";
		is_int(state_parse(raw, sizeof(raw) - 1, &st, err, sizeof(err)), MDNS_EPARSE,
		       "a raw NUL byte inside a string: rejected (%s)", err);
	}
	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\",\"slaves\":[{\"id\":\"a\\u0041\\n\","
		       "\"pid\":\"slave(1)@10.0.0.1:5051\"}]}", &st, err, sizeof(err));
	ok(rc == 0 && st && st->nagents == 1 && strcmp(st->agents[0].id, "aA\n") == 0,
	   "escapes other than \\u0000 decode");
	state_free(st);

	/* Bytes that are not UTF-8 (a framework's Latin-1 label, passed on by the
	 * master) do not refuse the state: what the model keeps reads them as
	 * U+FFFD, as mesos-dns's decoder does; what it skips is skipped. */
	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\","
		       "\"slaves\":[{\"id\":\"s1\",\"hostname\":\"h\xe9\",\"pid\":\"slave(1)@10.0.0.1:5051\"}],"
		       "\"frameworks\":[{\"name\":\"m\xe4rathon\",\"tasks\":[{\"id\":\"t1\","
		       "\"name\":\"Ren\xe9\",\"slave_id\":\"s1\",\"state\":\"TASK_RUNNING\","
		       "\"labels\":[{\"key\":\"owner\",\"value\":\"Ren\xe9\"}],"
		       "\"statuses\":[{\"state\":\"TASK_RUNNING\",\"timestamp\":1,\"labels\":["
		       "{\"key\":\"Docker.NetworkSettings.IPAddress\",\"value\":\"10.0.0.9\"},"
		       "{\"key\":\"x\xff\",\"value\":\"\xc0\xaf\"}]}]}]}],\"flags\":{\"z\":\"\xfe\"}}",
		       &st, err, sizeof(err));
	ok(rc == 0 && st, "bytes that are not UTF-8 do not refuse the state (%s)", err);
	if (rc == 0 && st) {
		is_str(st->frameworks[0].name, "m\xef\xbf\xbdrathon", "a framework name: U+FFFD");
		is_str(st->frameworks[0].tasks[0].name, "Ren\xef\xbf\xbd", "a task name: U+FFFD");
		is_str(st->agents[0].hostname, "h\xef\xbf\xbd", "an agent host name: U+FFFD");
		is_int(st->frameworks[0].tasks[0].ip_docker.n, 1,
		       "the status around a bad label is read");
		is_int(st->frameworks[0].tasks[0].running, 1, "the task runs");
	}
	state_free(st);

	/* A key given twice: the last one wins, as jansson (the event stream's
	 * parser) reads it, scalars and containers alike. */
	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\","
		       "\"slaves\":[{\"id\":\"s1\",\"hostname\":\"h1\",\"hostname\":null,"
		       "\"pid\":\"slave(1)@10.0.0.1:5051\"}],"
		       "\"frameworks\":[{\"name\":\"m\",\"tasks\":[{\"id\":\"t1\",\"name\":\"web\","
		       "\"name\":null,\"slave_id\":\"s1\",\"state\":\"TASK_RUNNING\","
		       "\"resources\":{\"ports\":\"[31000-31001]\"},\"resources\":{\"cpus\":1},"
		       "\"discovery\":{\"name\":\"d\",\"ports\":{\"ports\":[{\"number\":80,\"name\":\"http\","
		       "\"name\":null}]}},"
		       "\"statuses\":[{\"state\":\"TASK_RUNNING\",\"timestamp\":1,\"container_status\":"
		       "{\"network_infos\":[{\"ip_addresses\":[{\"ip_address\":\"10.1.1.1\","
		       "\"ip_address\":\"10.2.2.2\"}]}]}}]}]}]}", &st, err, sizeof(err));
	ok(rc == 0 && st && st->nframeworks == 1 && st->frameworks[0].ntasks == 1,
	   "keys given twice: parsed (%s)", err);
	if (rc == 0 && st && st->nframeworks == 1 && st->frameworks[0].ntasks == 1) {
		const struct state_task *t = &st->frameworks[0].tasks[0];
		ok(st->agents[0].hostname == NULL, "a string then null: null wins");
		ok(t->name == NULL, "... a task name too");
		is_int(t->nports, 0, "a second resources without ports: no ports");
		is_int(t->ndi_ports, 1, "the DiscoveryInfo port is kept");
		ok(t->ndi_ports == 1 && t->di_ports[0].name == NULL, "... its name cleared by null");
		is_int(t->ip_netinfo.n, 1, "ip_address twice in one entry: one address");
		is_str(ipstr(&t->ip_netinfo, 0), "10.2.2.2", "... the last");
	}
	state_free(st);
	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\",\"frameworks\":[{\"name\":\"m\",\"tasks\":["
		       "{\"id\":\"t1\",\"discovery\":{\"name\":\"d1\"},\"discovery\":{},"
		       "\"statuses\":[{\"state\":\"TASK_RUNNING\",\"timestamp\":1,\"healthy\":true}],"
		       "\"statuses\":[]}]}]}", &st, err, sizeof(err));
	ok(rc == 0 && st && st->frameworks[0].ntasks == 1, "containers given twice: parsed (%s)", err);
	if (rc == 0 && st && st->frameworks[0].ntasks == 1) {
		const struct state_task *t = &st->frameworks[0].tasks[0];
		ok(t->has_discovery && t->di_name == NULL, "a second discovery: the first's name gone");
		ok(!t->has_run_status && t->healthy == -1,
		   "a second, empty statuses: no running status, health unknown");
	}
	state_free(st);

	/* ... and a member given again as null (or another type) reads as absent. */
	static const struct {
		const char *task;	/* the task object's members after its id */
		const char *what;
	} nulls[] = {
		{ "\"resources\":{\"ports\":\"[31000-31001]\"},\"resources\":null", "resources then null" },
		{ "\"discovery\":{\"name\":\"d\"},\"discovery\":null", "discovery then null" },
		{ "\"discovery\":{\"name\":\"d\",\"ports\":{\"ports\":[{\"number\":80}]}},"
		  "\"discovery\":[]", "discovery then an array" },
		{ "\"statuses\":[{\"state\":\"TASK_RUNNING\",\"healthy\":true}],\"statuses\":null",
		  "statuses then null" },
		{ "\"statuses\":[{\"state\":\"TASK_RUNNING\",\"labels\":[{\"key\":"
		  "\"Docker.NetworkSettings.IPAddress\",\"value\":\"10.0.0.1\"}],\"labels\":null}]",
		  "status labels then null" },
		{ "\"statuses\":[{\"state\":\"TASK_RUNNING\",\"container_status\":{\"network_infos\":"
		  "[{\"ip_addresses\":[{\"ip_address\":\"10.1.1.1\"}]}],\"network_infos\":5}}]",
		  "network_infos then a number" },
	};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		char doc[700];
		snprintf(doc, sizeof(doc),
			 "{\"leader\":\"master@1.2.3.4:5050\",\"frameworks\":[{\"name\":\"m\",\"tasks\":["
			 "{\"id\":\"t1\",%s}]}]}", nulls[i].task);
		rc = parse_str(doc, &st, err, sizeof(err));
		const struct state_task *t = rc == 0 && st && st->frameworks[0].ntasks ?
					     &st->frameworks[0].tasks[0] : NULL;
		ok(t && t->nports == 0 && !t->has_discovery && !t->di_name && t->ndi_ports == 0 &&
		   t->ip_docker.n == 0 && t->ip_netinfo.n == 0 && t->healthy == -1,
		   "a member given again as something else reads as absent: %s", nulls[i].what);
		state_free(st);
	}
	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\",\"frameworks\":[{\"name\":\"m\",\"tasks\":["
		       "{\"id\":\"t1\",\"statuses\":[{\"state\":\"TASK_RUNNING\",\"container_status\":"
		       "{\"network_infos\":[{\"ip_address\":\"10.9.9.9\",\"ip_addresses\":[{\"ip_address\":"
		       "\"10.1.1.1\"}],\"ip_addresses\":null}]}}]}]}]}", &st, err, sizeof(err));
	{
		const struct iplist *l = rc == 0 && st ? &st->frameworks[0].tasks[0].ip_netinfo : NULL;
		is_str(l && l->n ? ipstr(l, 0) : "", "10.9.9.9",
		       "ip_addresses then null: the single ip_address counts");
	}
	state_free(st);

	/* The older single ip_address counts only for a NetworkInfo whose
	 * ip_addresses has no entry (mesos-dns: len(IPAddresses) > 0), even
	 * an entry without an address. */
	static const char *const ni_docs[][2] = {
		{ "{\"ip_address\":\"10.9.9.9\",\"ip_addresses\":[{\"protocol\":\"IPv4\"}]}", "" },
		{ "{\"ip_address\":\"10.9.9.9\",\"ip_addresses\":[]}", "10.9.9.9" },
		{ "{\"ip_address\":\"10.9.9.9\"}", "10.9.9.9" },
		{ "{\"ip_address\":\"10.9.9.9\",\"ip_addresses\":[{\"ip_address\":\"bad\"}]}", "" },
	};
	for (size_t i = 0; i < sizeof(ni_docs) / sizeof(ni_docs[0]); i++) {
		char doc[600];
		snprintf(doc, sizeof(doc),
			 "{\"leader\":\"master@1.2.3.4:5050\",\"frameworks\":[{\"name\":\"m\",\"tasks\":["
			 "{\"id\":\"t1\",\"statuses\":[{\"state\":\"TASK_RUNNING\",\"container_status\":"
			 "{\"network_infos\":[%s]}}]}]}]}", ni_docs[i][0]);
		rc = parse_str(doc, &st, err, sizeof(err));
		const struct iplist *l = rc == 0 && st ? &st->frameworks[0].tasks[0].ip_netinfo : NULL;
		is_str(l && l->n ? ipstr(l, 0) : "", ni_docs[i][1], "NetworkInfo %s", ni_docs[i][0]);
		state_free(st);
	}

	/* A timestamp is any JSON number, however long its spelling. */
	{
		char doc[800], longts[80];
		memset(longts, '0', sizeof(longts));
		memcpy(longts, "2.", 2);
		longts[sizeof(longts) - 1] = 0;
		snprintf(doc, sizeof(doc),
			 "{\"leader\":\"master@1.2.3.4:5050\",\"frameworks\":[{\"name\":\"m\",\"tasks\":["
			 "{\"id\":\"t1\",\"statuses\":["
			 "{\"state\":\"TASK_RUNNING\",\"timestamp\":1,\"labels\":[{\"key\":"
			 "\"Docker.NetworkSettings.IPAddress\",\"value\":\"10.0.0.1\"}]},"
			 "{\"state\":\"TASK_RUNNING\",\"timestamp\":%s,\"labels\":[{\"key\":"
			 "\"Docker.NetworkSettings.IPAddress\",\"value\":\"10.0.0.2\"}]}]}]}]}", longts);
		rc = parse_str(doc, &st, err, sizeof(err));
		const struct iplist *l = rc == 0 && st ? &st->frameworks[0].tasks[0].ip_docker : NULL;
		is_str(l && l->n ? ipstr(l, 0) : "", "10.0.0.2",
		       "a 79-character timestamp (2.000...) is later than 1");
		state_free(st);
	}

	/* Only the leader is required; everything else of the wrong type reads as absent. */
	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\"}", &st, err, sizeof(err));
	ok(rc == 0 && st && st->nagents == 0 && st->nframeworks == 0 && !st->agents && !st->frameworks,
	   "leader only: empty model");
	state_free(st);

	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\",\"slaves\":{},\"frameworks\":\"x\"}",
		       &st, err, sizeof(err));
	ok(rc == 0 && st && st->nagents == 0 && st->nframeworks == 0, "slaves/frameworks wrong types: empty");
	state_free(st);

	rc = parse_str("{\"leader\":\"master@1.2.3.4:5050\","
		"\"slaves\":[1,null,\"s\",[],{},{\"id\":7},{\"id\":\"ok\",\"hostname\":3,\"pid\":[1]},"
		"  {\"id\":\"ok2\",\"pid\":\"garbage\"}],"
		"\"frameworks\":[3,{},{\"name\":null},{\"name\":\"f\",\"pid\":5,\"hostname\":{},\"tasks\":{}},"
		"  {\"name\":\"g\",\"pid\":\"bad pid\",\"tasks\":[1,{},{\"id\":3},{\"id\":\"x\",\"name\":[],"
		"   \"slave_id\":1,\"state\":true,\"resources\":{\"ports\":\"[1-\"},\"discovery\":\"d\","
		"   \"statuses\":{}},"
		"   {\"id\":\"y\",\"state\":\"TASK_RUNNING\",\"resources\":{\"ports\":[1,2]},"
		"    \"discovery\":{\"name\":\"\",\"ports\":{\"ports\":[1,{\"number\":\"80\"},{\"number\":0},"
		"     {\"number\":70000},{\"number\":8.5},{\"number\":-1},{\"number\":53,\"name\":5,\"protocol\":[]},"
		"     {\"number\":54,\"name\":\"dns\",\"protocol\":\"UDP\"}]}},"
		"    \"statuses\":[1,null,{\"state\":5},{\"state\":\"TASK_RUNNING\",\"timestamp\":\"9\","
		"     \"healthy\":\"yes\",\"labels\":[1,{\"key\":1},{\"key\":\"Docker.NetworkSettings.IPAddress\"},"
		"      {\"key\":\"Docker.NetworkSettings.IPAddress\",\"value\":7}],"
		"     \"container_status\":{\"network_infos\":[1,{\"ip_addresses\":\"x\",\"ip_address\":1},"
		"      {\"ip_addresses\":[1,{},{\"ip_address\":[]}]}]}}]}]}]}",
		&st, err, sizeof(err));
	if (ok(rc == 0 && st, "wrong types everywhere: parses (%s)", rc ? err : "ok")) {
		is_int(st->nagents, 2, "wrong types: only agents with a string id kept");
		ok(st->agents[0].hostname == NULL && st->agents[0].pid.host == NULL,
		   "wrong types: agent hostname/pid of wrong type read as absent");
		ok(st->agents[1].pid.host == NULL, "wrong types: agent garbage pid read as absent");
		is_int(st->nframeworks, 2, "wrong types: only frameworks with a string name kept");
		ok(!st->frameworks[0].has_pid && st->frameworks[0].hostname == NULL &&
		   st->frameworks[0].ntasks == 0, "wrong types: framework f empty");
		ok(!st->frameworks[1].has_pid, "wrong types: unparsable framework pid -> has_pid 0");
		is_int(st->frameworks[1].ntasks, 2, "wrong types: only tasks with a string id kept");
		if (st->frameworks[1].ntasks == 2) {
			struct state_task *t = &st->frameworks[1].tasks[0];

			ok(!t->running && !t->name && !t->slave_id && t->nports == 0 &&
			   !t->has_discovery && t->healthy == -1,
			   "wrong types: task x fields read as absent, bad ports dropped");
			t = &st->frameworks[1].tasks[1];
			ok(t->running && t->nports == 0 && t->has_discovery && t->di_name == NULL,
			   "wrong types: task y running, ports array ignored, empty DI name NULL");
			is_int(t->ndi_ports, 2, "wrong types: only integer DI ports 1..65535 kept");
			if (t->ndi_ports == 2) {
				ok(t->di_ports[0].number == 53 && !t->di_ports[0].name &&
				   !t->di_ports[0].protocol, "wrong types: DI port 53 without name/protocol");
				ok(t->di_ports[1].number == 54 && strcmp(t->di_ports[1].name, "dns") == 0 &&
				   strcmp(t->di_ports[1].protocol, "UDP") == 0,
				   "wrong types: DI port 54 dns/UDP kept as written");
			}
			ok(t->ip_docker.n == 0 && t->ip_netinfo.n == 0 && t->healthy == -1,
			   "wrong types: no IPs, health unknown");
		}
	}
	state_free(st);
	state_free(NULL);
	ok(1, "state_free(NULL) returns (a crash would end the suite)");
}

/* Every prefix of a real document must fail cleanly or parse, never crash
 * (a cheap stand-in for the fuzzer; valgrind checks the memory). */
static void test_prefixes(void)
{
	size_t len = 0, cut, failures = 0, successes = 0;
	char *json = slurp("tests/data/fake.json", &len);
	char err[256];

	if (!ok(json != NULL, "prefixes: read fake.json"))
		return;
	for (cut = 0; cut < len; cut += 97) {
		struct mesos_state *st = NULL;
		int rc = state_parse(json, cut, &st, err, sizeof(err));

		if (rc == 0) {
			successes++;
			state_free(st);
		} else if (st == NULL && err[0]) {
			failures++;
		}
	}
	ok(successes == 0 && failures == (len + 96) / 97,
	   "prefixes: every truncation fails with a message (%zu of %zu)", failures, (len + 96) / 97);
	free(json);
}

/* Parse text fed to statesax in chunks of at most step bytes. */
static int parse_chunked(const char *text, size_t len, size_t step, struct mesos_state **out,
			 char *err, size_t errlen)
{
	struct statesax *s = statesax_begin();

	if (!s)
		return MDNS_ENOMEM;
	for (size_t o = 0; o < len; o += step)
		if (statesax_feed(s, text + o, len - o < step ? len - o : step) != 0)
			break;
	return statesax_end(s, out, err, errlen);
}

/* Everything a state's zone is built from, as one line per item. */
static void describe(const struct mesos_state *st, char *buf, size_t cap)
{
	size_t o = 0;

	o += (size_t)snprintf(buf + o, cap - o, "leader %s:%u agents %zu\n", st->leader.host,
			      (unsigned)st->leader.port, st->nagents);
	for (size_t a = 0; a < st->nagents && o < cap; a++)
		o += (size_t)snprintf(buf + o, cap - o, "agent %s\n", st->agents[a].id);
	for (size_t f = 0; f < st->nframeworks && o < cap; f++) {
		const struct state_framework *fw = &st->frameworks[f];
		o += (size_t)snprintf(buf + o, cap - o, "fw %s %zu\n", fw->name, fw->ntasks);
		for (size_t t = 0; t < fw->ntasks && o < cap; t++) {
			const struct state_task *tk = &fw->tasks[t];
			o += (size_t)snprintf(buf + o, cap - o, "task %s %s %s %d ports %zu:", tk->id,
					      tk->name ? tk->name : "-", tk->slave_id ? tk->slave_id : "-",
					      tk->running, tk->nports);
			for (size_t k = 0; k < tk->nports && o < cap; k++)
				o += (size_t)snprintf(buf + o, cap - o, " %u", (unsigned)tk->ports[k]);
			o += (size_t)snprintf(buf + o, cap - o, " ips %zu %zu %zu di %s %zu health %d\n",
					      tk->ip_mesos.n, tk->ip_docker.n, tk->ip_netinfo.n,
					      tk->di_name ? tk->di_name : "-", tk->ndi_ports, tk->healthy);
		}
	}
}

/* A document with something in every part the parser reads, and in parts it skips. */
static const char fp_base[] =
	"{\"leader\": \"master@10.0.0.1:5050\", \"started_tasks\": 3,\n"
	" \"flags\": {\"allocation_interval\": \"1secs\"},\n"
	" \"slaves\": [{\"id\": \"S1\", \"hostname\": \"agent1\", \"pid\": \"slave(1)@10.0.0.2:5051\",\n"
	"   \"registered_time\": 100.5, \"resources\": {\"cpus\": 4, \"mem\": 1024}}],\n"
	" \"frameworks\": [{\"name\": \"marathon\", \"hostname\": \"m1\",\n"
	"   \"pid\": \"scheduler-1@10.0.0.3:8080\", \"active\": true,\n"
	"   \"offers\": [{\"id\": \"O1\", \"resources\": {\"cpus\": 1}}],\n"
	"   \"used_resources\": {\"cpus\": 2},\n"
	"   \"tasks\": [{\"id\": \"web.1\", \"name\": \"web\", \"slave_id\": \"S1\",\n"
	"     \"state\": \"TASK_RUNNING\", \"executor_id\": \"E1\",\n"
	"     \"resources\": {\"ports\": \"[31000-31001]\", \"cpus\": 0.5},\n"
	"     \"discovery\": {\"name\": \"webd\", \"ports\": {\"ports\": [\n"
	"       {\"number\": 8080, \"name\": \"http\", \"protocol\": \"tcp\"}]}},\n"
	"     \"statuses\": [{\"state\": \"TASK_RUNNING\", \"timestamp\": 1.5, \"healthy\": true,\n"
	"       \"labels\": [{\"key\": \"Docker.NetworkSettings.IPAddress\", \"value\": \"10.9.0.1\"}],\n"
	"       \"container_status\": {\"network_infos\": [{\"ip_addresses\": [\n"
	"         {\"ip_address\": \"10.8.0.1\"}, {\"ip_address\": \"10.8.0.2\"}]}]}}]}]}]}\n";

/* fp_base with the first from replaced by to; the fingerprint of its model (0: no parse). */
static uint64_t fp_of(const char *from, const char *to)
{
	static char doc[sizeof(fp_base) + 512];
	const char *at = strstr(fp_base, from);
	struct mesos_state *st;
	char err[300];

	if (!at || strlen(fp_base) - strlen(from) + strlen(to) >= sizeof(doc))
		return 0;
	snprintf(doc, sizeof(doc), "%.*s%s%s", (int)(at - fp_base), fp_base, to, at + strlen(from));
	if (state_parse(doc, strlen(doc), &st, err, sizeof(err)) != 0)
		return 0;
	uint64_t fp = st->fingerprint;
	state_free(st);
	return fp;
}

/* Documents that differ only where the parser does not look share a model
 * fingerprint; any change to what the model holds moves it. */
static void test_fingerprint(void)
{
	static const char *const same[][2] = {
		{ "\"started_tasks\": 3", "\"started_tasks\": 9" },
		{ "\"allocation_interval\": \"1secs\"", "\"allocation_interval\": \"2secs\"" },
		{ "\"registered_time\": 100.5", "\"registered_time\": 200" },
		{ "{\"cpus\": 4, \"mem\": 1024}", "{\"cpus\": 3, \"mem\": 777, \"disk\": 1}" },
		{ "[{\"id\": \"O1\", \"resources\": {\"cpus\": 1}}]",
		  "[{\"id\": \"O2\", \"resources\": {\"cpus\": 3}}, {\"id\": \"O3\"}]" },
		{ "{\"cpus\": 2}", "{\"cpus\": 5, \"mem\": 10}" },
		{ "\"active\": true", "\"active\": false" },
		{ "\"executor_id\": \"E1\"", "\"executor_id\": \"E2\"" },
		{ "\"cpus\": 0.5", "\"cpus\": 1.5" },
		{ "{\"leader\": ", "{   \"leader\"  :  " },	/* layout */
	};
	static const char *const differ[][2] = {
		{ "master@10.0.0.1:5050", "master@10.0.0.9:5050" },
		{ "\"id\": \"S1\"", "\"id\": \"S2\"" },
		{ "\"agent1\"", "\"agent2\"" },
		{ "slave(1)@10.0.0.2:5051", "slave(1)@10.0.0.2:5052" },
		{ "\"name\": \"marathon\"", "\"name\": \"marathon2\"" },
		{ "\"hostname\": \"m1\"", "\"hostname\": \"m2\"" },
		{ "scheduler-1@10.0.0.3:8080", "scheduler-1@10.0.0.4:8080" },
		{ "\"id\": \"web.1\"", "\"id\": \"web.2\"" },
		{ "\"name\": \"web\"", "\"name\": \"api\"" },
		{ "\"slave_id\": \"S1\"", "\"slave_id\": \"S3\"" },
		{ "\"state\": \"TASK_RUNNING\", \"executor_id\"", "\"state\": \"TASK_KILLED\", \"executor_id\"" },
		{ "[31000-31001]", "[31000-31002]" },
		{ "\"name\": \"webd\"", "\"name\": \"webe\"" },
		{ "\"number\": 8080", "\"number\": 8081" },
		{ "\"name\": \"http\"", "\"name\": \"https\"" },
		{ "\"protocol\": \"tcp\"", "\"protocol\": \"udp\"" },
		{ "\"state\": \"TASK_RUNNING\", \"timestamp\"", "\"state\": \"TASK_FAILED\", \"timestamp\"" },
		{ "\"timestamp\": 1.5", "\"timestamp\": 2.5" },
		{ "\"timestamp\": 1.5", "\"timestamp\": \"1.5\"" },	/* a string is not a time */
		{ "\"healthy\": true", "\"healthy\": false" },
		{ "Docker.NetworkSettings.IPAddress", "Mesos.NetworkSettings.IPAddress" },
		{ "\"value\": \"10.9.0.1\"", "\"value\": \"10.9.0.2\"" },
		{ "10.8.0.2", "10.8.0.3" },
		{ "{\"ip_addresses\"", "{\"ip_address\": \"10.7.0.1\", \"ip_addresses\"" },
		/* the same scalars, nested otherwise: */
		{ "{\"ip_address\": \"10.8.0.1\"}, {\"ip_address\": \"10.8.0.2\"}",
		  "{\"ip_address\": \"10.8.0.1\", \"ip_address\": \"10.8.0.2\"}" },
		{ "\"name\": \"http\", \"protocol\": \"tcp\"", "\"protocol\": \"http\", \"name\": \"tcp\"" },
		{ "\"discovery\"", "\"discovered\"" },
		{ "\"tasks\": [{", "\"tasks\": [{}, {" },
		/* a second hostname of the wrong type clears it: the last one wins */
		{ "\"hostname\": \"agent1\"", "\"hostname\": \"agent1\", \"hostname\": 5" },
	};
	uint64_t base = fp_of("", "");

	ok(base != 0, "fingerprint: the base document parses and has one");
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		uint64_t fp = fp_of(same[i][0], same[i][1]);
		ok(fp != 0 && fp == base, "fingerprint: kept when %s becomes %s", same[i][0], same[i][1]);
	}
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		uint64_t fp = fp_of(differ[i][0], differ[i][1]);
		ok(fp != 0 && fp != base, "fingerprint: moved when %s becomes %s", differ[i][0],
		   differ[i][1]);
	}
	/* A name after the statuses, in the task or in its framework: the same
	 * scalars, and only the end of the task tells whose it is. */
	uint64_t a = fp_of("}]}]}\n", ", \"name\": \"X\"}]}]}\n");
	uint64_t b = fp_of("}]}]}\n", "}], \"name\": \"X\"}]}\n");
	ok(a && b && a != b, "fingerprint: moved when a name goes from the framework to its task");
}

/* A stateFile is parsed a chunk at a time: any split gives the same model,
 * and the same error with the same line and column. */
static void test_chunked(void)
{
	static char whole[1 << 16], part[1 << 16];
	static const size_t steps[] = { 1, 2, 7, 64, 4093 };
	struct mesos_state *st;
	char err[400], err2[400];
	size_t len;
	char *json = slurp("tests/data/fake.json", &len);

	if (!ok(json != NULL, "chunked: read tests/data/fake.json"))
		return;
	if (!ok(state_parse(json, len, &st, err, sizeof(err)) == 0, "chunked: whole parse (%s)", err)) {
		free(json);
		return;
	}
	describe(st, whole, sizeof(whole));
	uint64_t fp = st->fingerprint;
	state_free(st);
	ok(strlen(whole) > 1000, "chunked: the model description is not empty (%zu bytes)",
	   strlen(whole));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = parse_chunked(json, len, steps[i], &st, err, sizeof(err));
		if (!ok(rc == 0 && st, "chunked: %zu-byte chunks parse (%s)", steps[i], rc ? err : "ok"))
			continue;
		describe(st, part, sizeof(part));
		ok(strcmp(whole, part) == 0, "chunked: %zu-byte chunks give the same model", steps[i]);
		ok(st->fingerprint == fp, "chunked: %zu-byte chunks give the same fingerprint",
		   steps[i]);
		state_free(st);
	}
	free(json);

	static const char *const bad[] = {
		"{\"leader\": \"master@1.2.3.4:5050\",\n \"slaves\": [,]}",
		"{\"leader\":\n\n  \"master@1.2.3.4:5050\"}x",
		"{\"leader\":\"master@1.2.3.4:5050\"",
		"[1, 2]",
		"",
		"{\"slaves\": []}",
		"{\"leader\": \"master@1.2.3.4:5050\", \"frameworks\": [{\"name\": \"a\\u0000b\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int want = state_parse(bad[i], strlen(bad[i]), &st, err, sizeof(err));
		ok(want != 0 && st == NULL, "chunked: bad document %zu fails whole (%s)", i, err);
		for (size_t k = 0; k < 3; k++) {
			int rc = parse_chunked(bad[i], strlen(bad[i]), steps[k], &st, err2, sizeof(err2));
			ok(rc == want && st == NULL && strcmp(err, err2) == 0,
			   "chunked: bad document %zu in %zu-byte chunks: same error (%s)", i, steps[k],
			   err2);
		}
	}
}

int main(void)
{
	test_pid();
	test_ports();
	test_fake_json();
	test_plugins_v2();
	test_status_order();
	test_bad_documents();
	test_prefixes();
	test_chunked();
	test_fingerprint();
	return done_testing();
}
