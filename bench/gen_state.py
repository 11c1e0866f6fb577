#!/usr/bin/env python3
"""bench/gen_state.py -- synthetic Mesos master states and dnsperf query files for `make bench`.

Writes into OUTDIR, for each task count N:

  state-N.json      a /master/state document shaped like tests/data/fake.json,
                    with N tasks in TASK_RUNNING (plus killed, failed, finished
                    and staging tasks mixed in, which produce no records)
  state-N.alt.json  the same cluster a moment later: a few tasks replaced and
                    moved, so a reload changes the zone (rebuild benchmarks)
  state-N.busy.json the same cluster a second later on a busy master: other
                    offers outstanding and other resources in use, no task
                    changed, so the zone is the same (refresh benchmark)
  queries-N.txt     a dnsperf input file ("name type" per line), shuffled

The cluster looks like a Marathon shop: a few hundred to a few thousand apps
with skewed instance counts (most apps have 1-10 instances, a few hundred),
Marathon task names (the app path reversed, "api.payments.prod"), one to
three host ports per task, DiscoveryInfo with named ports on about a third of
the apps, container IPs from network_infos on about half (some dual-stack,
so AAAA records exist), Docker labels on a few, the agent's address for the
rest; a few small non-Marathon frameworks (one with a dot in its name).

The query mix (see MIX below) is what clients of a Mesos DNS ask: A of app
names, SRV of app services, A of per-task canonical names, AAAA (answered for
dual-stack apps, NODATA for the rest), a few infrastructure names, and names
that do not exist (NXDOMAIN).  Everything is derived from a fixed seed, so a
given N always gives the same files.

usage: gen_state.py [--tasks N[,N...]] [--seed S] [--queries Q] OUTDIR
"""
import argparse
import hashlib
import json
import os
import random
import sys

DOMAIN = "mesos"
ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769"
CLUSTER = "20240312-081512-16842879-5050-1"

WORDS = ("api web auth cart search users orders billing payments ledger catalog "
         "inventory ship notify mail sms push feed ads bid rank recs media img "
         "thumb video stream chat presence session gateway proxy edge cache "
         "redis kafka zk etl batch report audit metrics logs trace alert geo "
         "maps price quote tax fraud risk score kyc loan fx wallet promo coupon "
         "review rating stock store admin portal docs status health config").split()
ENVS = ("prod", "staging", "dev", "qa")
TEAMS = ("core", "shop", "data", "infra", "mobile", "growth", "fin", "ops")

# Weighted query kinds; weights add up to 100.
MIX = (
    ("app_a", 30),       # <app>.marathon.mesos A
    ("app_srv", 20),     # _<app>._tcp.marathon.mesos SRV (some _udp, some .slave)
    ("task_a", 20),      # <app>-<hash5>-<agent>.marathon.mesos A
    ("app_aaaa", 10),    # <app>.marathon.mesos AAAA (answered or NODATA)
    ("infra", 5),        # leader, master, slave, SOA, framework names
    ("nxdomain", 15),    # names that do not exist
)


def zbase32_5(data):
    """First 5 characters of zbase32(sha1(data)), as the canonical task label uses."""
    v = int.from_bytes(hashlib.sha1(data.encode()).digest()[:4], "big")
    return "".join(ZBASE32[(v >> (27 - 5 * i)) & 31] for i in range(5))


def label(name):
    """The RFC 1123 label of a name made by this generator (only [a-z0-9._-] occur)."""
    return name.replace(".", "-").replace("_", "-").strip("-")[:63].rstrip("-")


class Gen:
    def __init__(self, tasks, seed):
        self.n = tasks
        self.rnd = random.Random("%s/%d" % (seed, tasks))

    def uuid(self):
        r = self.rnd.getrandbits(128)
        h = "%032x" % r
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    # ---- cluster ------------------------------------------------------------
    def agents(self):
        n = max(4, self.n // 16)
        out = []
        for i in range(n):
            ip = "10.%d.%d.%d" % (1 + i // 62500, (i // 250) % 250, 1 + i % 250)
            out.append({
                "id": "%s-S%d" % (CLUSTER, i),
                "hostname": ip,
                "pid": "slave(1)@%s:5051" % ip,
                "registered_time": 1710231312.5 + i,
                "active": True,
                "version": "1.11.0",
                "attributes": {"rack": "r%02d" % (i % 40), "zone": "z%d" % (i % 3)},
                "resources": {"cpus": 32.0, "mem": 126976.0, "disk": 900000.0,
                              "ports": "[31000-32000]"},
                "used_resources": {"cpus": 7.5, "mem": 30720.0, "disk": 0.0,
                                   "ports": "[31000-31020]"},
                "_ip": ip,
                "_next_port": 31000 + self.rnd.randrange(0, 200),
            })
        return out

    def app_sizes(self):
        """Instance counts until the running total reaches n: mostly small apps, a long tail."""
        sizes, total = [], 0
        while total < self.n:
            r = self.rnd.random()
            if r < 0.55:
                k = self.rnd.randint(1, 3)
            elif r < 0.85:
                k = self.rnd.randint(4, 10)
            elif r < 0.97:
                k = self.rnd.randint(11, 50)
            else:
                k = self.rnd.randint(51, 300)
            k = min(k, self.n - total)
            sizes.append(k)
            total += k
        return sizes

    def app_path(self, used):
        while True:
            parts = [self.rnd.choice(ENVS), self.rnd.choice(TEAMS), self.rnd.choice(WORDS)]
            if self.rnd.random() < 0.5:
                parts.append(self.rnd.choice(WORDS))
            if self.rnd.random() < 0.2:
                parts[-1] += str(self.rnd.randint(1, 9))
            path = "/" + "/".join(parts)
            if path not in used:
                used.add(path)
                return path

    def ports(self, agent, k):
        """k host ports from the agent's range, as Mesos prints a ports resource."""
        ports = []
        for _ in range(k):
            p = agent["_next_port"]
            agent["_next_port"] = p + 1 if p < 31990 else 31000
            ports.append(p)
        # Adjacent ports merge into one range, as Mesos does.
        ranges, start = [], ports[0]
        for a, b in zip(ports, ports[1:] + [None]):
            if b != a + 1:
                ranges.append("%d-%d" % (start, a))
                start = b
        return ports, "[" + ", ".join(ranges) + "]"

    def task(self, fw, app, agent, state, ts):
        rnd = self.rnd
        tid = "%s.%s" % (app["id_prefix"], self.uuid())
        ports, ports_text = self.ports(agent, app["nports"])
        t = {
            "id": tid,
            "name": app["name"],
            "framework_id": fw["id"],
            "executor_id": "",
            "slave_id": agent["id"],
            "state": state,
            "resources": {"cpus": app["cpus"], "mem": app["mem"], "disk": 0.0,
                          "gpus": 0.0, "ports": ports_text},
            "role": "*",
            "statuses": [],
            "container": {"type": "DOCKER",
                          "docker": {"image": "registry.example/%s:%s" % (app["name"], app["ver"]),
                                     "network": "BRIDGE" if app["ipmode"] == "host" else "USER",
                                     "force_pull_image": False}},
        }
        if app.get("labels"):
            t["labels"] = app["labels"]
        status_base = {"task_id": {"value": tid}, "slave_id": {"value": agent["id"]},
                       "container_status": {"container_id": {"value": self.uuid()}}}
        ips = []
        if app["ipmode"] in ("netinfo", "dual"):
            n = app["seq"]
            app["seq"] += 1
            ips = [{"protocol": "IPv4", "ip_address": "172.%d.%d.%d" % (
                16 + (app["net"] >> 8) % 16, app["net"] % 256, 1 + n % 250)}]
            if app["ipmode"] == "dual":
                ips.append({"protocol": "IPv6",
                            "ip_address": "fd00:%x:%x::%x" % (app["net"], n // 65536, 1 + n % 65535)})
            status_base["container_status"]["network_infos"] = [
                {"ip_addresses": ips, "name": "dcos", "labels": {}}]
        docker_ip = None
        if app["ipmode"] == "docker":
            docker_ip = "172.17.%d.%d" % (app["seq"] // 250 % 256, 2 + app["seq"] % 250)
            app["seq"] += 1
        for st, dt in (("TASK_STAGING", 0.0), ("TASK_STARTING", 1.2), ("TASK_RUNNING", 4.7)):
            if st == "TASK_RUNNING" and state not in ("TASK_RUNNING", "TASK_KILLED",
                                                     "TASK_FAILED", "TASK_FINISHED"):
                break
            s = dict(status_base, state=st, timestamp=round(ts + dt, 5), source="SOURCE_EXECUTOR")
            if st == "TASK_RUNNING":
                if app["health"]:
                    s["healthy"] = rnd.random() > 0.02
                if docker_ip:
                    s["labels"] = [{"key": "Docker.NetworkSettings.IPAddress", "value": docker_ip}]
            t["statuses"].append(s)
        if state in ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"):
            t["statuses"].append(dict(status_base, state=state, timestamp=round(ts + 300.0, 5),
                                      source="SOURCE_EXECUTOR"))
        if app["di"]:
            di_ports = []
            for i, p in enumerate(ports):
                pn = app["di_port_names"][i] if i < len(app["di_port_names"]) else "p%d" % i
                di_ports.append({"number": p, "protocol": app["di_proto"], "name": pn,
                                 "labels": {"labels": [{"key": "VIP_0", "value": "/%s:%d" % (
                                     app["name"], 80 + i)}]}})
            t["discovery"] = {"visibility": "FRAMEWORK", "name": app["name"],
                              "ports": {"ports": di_ports}}
        return t, ports, [ip["ip_address"] for ip in ips]

    # ---- build --------------------------------------------------------------
    def build(self):
        rnd = self.rnd
        agents = self.agents()
        fws = []

        def framework(name, port):
            fw = {"id": "%s-%04d" % (CLUSTER, len(fws)), "name": name,
                  "pid": "scheduler-%s@10.0.0.%d:%d" % (self.uuid(), 2 + len(fws), port),
                  "hostname": "10.0.0.%d" % (2 + len(fws)), "active": True, "role": "*",
                  "user": "root", "failover_timeout": 604800.0, "checkpoint": True,
                  "registered_time": 1710231400.1, "unregistered_time": 0.0,
                  "webui_url": "http://10.0.0.%d:8080" % (2 + len(fws)),
                  "capabilities": ["PARTITION_AWARE"],
                  "tasks": [], "completed_tasks": [], "offers": [], "executors": []}
            fws.append(fw)
            return fw

        marathon = framework("marathon", 15101)
        others = [framework("marathon-user", 15102), framework("chronos", 4400),
                  framework("spark.prod", 7077), framework("kafka", 9090)]
        sizes = self.app_sizes()
        used = set()
        records = {"apps": [], "tasks": []}
        ts0 = 1710300000.0
        for i, k in enumerate(sizes):
            fw = marathon if rnd.random() < 0.88 else rnd.choice(others)
            path = self.app_path(used)
            parts = path.strip("/").split("/")
            name = ".".join(reversed(parts))          # Marathon: "api.payments.prod"
            r = rnd.random()
            ipmode = "host" if r < 0.45 else "netinfo" if r < 0.83 else "dual" if r < 0.93 else "docker"
            app = {
                "name": name, "id_prefix": "_".join(parts), "ver": "1.%d.%d" % (i % 7, i % 13),
                "nports": rnd.choice((1, 1, 2, 2, 2, 3)), "cpus": rnd.choice((0.1, 0.25, 0.5, 1.0, 2.0)),
                "mem": rnd.choice((128.0, 256.0, 512.0, 1024.0, 4096.0)), "ipmode": ipmode,
                "net": i, "seq": 0, "health": rnd.random() < 0.6,
                "di": rnd.random() < 0.33, "di_proto": rnd.choice(("tcp", "tcp", "tcp", "udp")),
                "di_port_names": rnd.sample(("http", "https", "admin", "grpc", "metrics"), 3),
                "labels": ([{"key": "HAPROXY_GROUP", "value": "external"},
                            {"key": "team", "value": parts[1]}] if rnd.random() < 0.4 else None),
            }
            app_rec = {"fw": fw["name"], "label": label(name), "ipmode": ipmode, "di": app["di"],
                       "di_proto": app["di_proto"], "instances": k}
            records["apps"].append(app_rec)
            for j in range(k):
                agent = rnd.choice(agents)
                t, ports, ips = self.task(fw, app, agent, "TASK_RUNNING", ts0 + i + j * 0.01)
                fw["tasks"].append(t)
                records["tasks"].append((fw["name"], app_rec["label"], t["id"], agent["id"]))
            # Killed and failed instances still listed; staging ones not yet running.
            if rnd.random() < 0.12:
                for _ in range(rnd.randint(1, 2)):
                    state = rnd.choice(("TASK_KILLED", "TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"))
                    t, _, _ = self.task(fw, app, rnd.choice(agents), state, ts0 - 3600 + i)
                    fw["tasks"].append(t)
            if rnd.random() < 0.03:
                t, _, _ = self.task(fw, app, rnd.choice(agents), "TASK_STAGING", ts0 + 7200 + i)
                fw["tasks"].append(t)
            if rnd.random() < 0.05:
                t, _, _ = self.task(fw, app, rnd.choice(agents), "TASK_FINISHED", ts0 - 86400 + i)
                fw["completed_tasks"].append(t)
        for a in agents:
            del a["_ip"], a["_next_port"]
        state = {
            "version": "1.11.0", "git_sha": "0ba40f86759307cefab1c8702724debe87007bb0",
            "git_tag": "1.11.0", "build_date": "2024-03-01 10:00:00", "build_time": 1709287200.0,
            "build_user": "root", "start_time": 1710231312.1, "elected_time": 1710231312.9,
            "id": CLUSTER, "pid": "master@10.0.0.1:5050", "hostname": "10.0.0.1",
            "leader": "master@10.0.0.1:5050",
            "leader_info": {"id": CLUSTER, "pid": "master@10.0.0.1:5050", "port": 5050,
                            "hostname": "10.0.0.1",
                            "address": {"hostname": "10.0.0.1", "ip": "10.0.0.1", "port": 5050}},
            "activated_slaves": float(len(agents)), "deactivated_slaves": 0.0,
            "unreachable_slaves": 0.0, "cluster": "bench", "log_dir": "/var/log/mesos",
            "flags": {"cluster": "bench", "quorum": "2", "work_dir": "/var/lib/mesos",
                      "zk": "zk://10.0.0.1:2181/mesos", "port": "5050"},
            "slaves": agents, "frameworks": fws, "completed_frameworks": [],
            "orphan_tasks": [], "unregistered_frameworks": [],
        }
        return state, records

    # ---- queries ------------------------------------------------------------
    def queries(self, records, count):
        rnd = self.rnd
        apps, tasks = records["apps"], records["tasks"]
        v6 = [a for a in apps if a["ipmode"] == "dual"]
        srv_ok = [a for a in apps if not a["di"] or a["di_proto"] == "tcp"]
        infra = ["%s SOA" % DOMAIN, "%s NS" % DOMAIN, "leader.%s A" % DOMAIN,
                 "_leader._tcp.%s SRV" % DOMAIN, "master.%s A" % DOMAIN,
                 "marathon.%s A" % DOMAIN, "_framework._tcp.marathon.%s SRV" % DOMAIN,
                 "ns1.%s A" % DOMAIN, "chronos.%s A" % DOMAIN]
        kinds = [k for k, w in MIX for _ in range(w)]
        out = []
        for _ in range(count):
            kind = rnd.choice(kinds)
            if kind == "app_a":
                a = rnd.choice(apps)
                out.append("%s.%s.%s A" % (a["label"], a["fw"], DOMAIN))
            elif kind == "app_srv":
                a = rnd.choice(srv_ok)
                if rnd.random() < 0.8:
                    out.append("_%s._tcp.%s.%s SRV" % (a["label"], a["fw"], DOMAIN))
                else:
                    out.append("_%s._tcp.%s.slave.%s SRV" % (a["label"], a["fw"], DOMAIN))
            elif kind == "task_a":
                fw, lab, tid, agent = rnd.choice(tasks)
                tail = agent.rsplit("-", 1)[1].lower()
                out.append("%s-%s-%s.%s.%s A" % (lab, zbase32_5(tid), tail, fw, DOMAIN))
            elif kind == "app_aaaa":
                a = rnd.choice(v6) if v6 and rnd.random() < 0.7 else rnd.choice(apps)
                out.append("%s.%s.%s AAAA" % (a["label"], a["fw"], DOMAIN))
            elif kind == "infra":
                out.append(rnd.choice(infra))
            else:
                a = rnd.choice(apps)
                shape = rnd.randrange(4)
                if shape == 0:
                    out.append("%s-%d.%s.%s A" % (a["label"], rnd.randrange(10**6), a["fw"], DOMAIN))
                elif shape == 1:
                    out.append("_%s._tcp.nosuch-%d.%s SRV" % (a["label"], rnd.randrange(10**6), DOMAIN))
                elif shape == 2:
                    out.append("www.%s.%s.%s A" % (a["label"], a["fw"], DOMAIN))
                else:
                    out.append("host-%d.%s AAAA" % (rnd.randrange(10**6), DOMAIN))
        return out


def mutate(state, rnd):
    """The same cluster a little later: ~1% of running tasks replaced by new ones on other agents."""
    agents = state["slaves"]
    for fw in state["frameworks"]:
        for t in fw["tasks"]:
            if t["state"] == "TASK_RUNNING" and rnd.random() < 0.01:
                a = rnd.choice(agents)
                t["id"] = t["id"].rsplit(".", 1)[0] + ".%032x" % rnd.getrandbits(128)
                t["slave_id"] = a["id"]
                for s in t["statuses"]:
                    s["slave_id"] = {"value": a["id"]}
                    s["timestamp"] += 60.0
    return state


def write_busy(path, state):
    """Write the same cluster a second later on a busy master: offers
    outstanding and resources in use changed, no task (so no record) changed.
    state is left as it was."""
    agents = state["slaves"]
    used = [a["used_resources"] for a in agents]
    offers = [fw["offers"] for fw in state["frameworks"]]
    for i, a in enumerate(agents):
        a["used_resources"] = dict(used[i], cpus=used[i]["cpus"] + 0.5)
    for i, fw in enumerate(state["frameworks"]):
        a = agents[(7 * i) % len(agents)]
        fw["offers"] = [{"id": {"value": "%s-O%d" % (fw["id"], i)}, "framework_id": fw["id"],
                         "slave_id": {"value": a["id"]}, "hostname": a["hostname"],
                         "resources": {"cpus": 4.0, "mem": 8192.0, "ports": "[31500-31600]"}}]
    write_json(path, state)
    for i, a in enumerate(agents):
        a["used_resources"] = used[i]
    for fw, o in zip(state["frameworks"], offers):
        fw["offers"] = o


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="10000,100000", help="running task counts, comma-separated")
    ap.add_argument("--seed", default="mesos-dnsd-bench-1")
    ap.add_argument("--queries", type=int, default=200000, help="lines in each query file")
    ap.add_argument("outdir")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for n in (int(x) for x in a.tasks.split(",")):
        g = Gen(n, a.seed)
        state, records = g.build()
        write_json(os.path.join(a.outdir, "state-%d.json" % n), state)
        q = g.queries(records, a.queries)
        with open(os.path.join(a.outdir, "queries-%d.txt" % n), "w") as f:
            f.write("\n".join(q) + "\n")
        write_busy(os.path.join(a.outdir, "state-%d.busy.json" % n), state)
        write_json(os.path.join(a.outdir, "state-%d.alt.json" % n), mutate(state, g.rnd))
        running = len(records["tasks"])
        total = sum(len(fw["tasks"]) for fw in state["frameworks"])
        print("gen_state: %d running tasks (%d listed) in %d apps on %d agents, %d queries -> %s"
              % (running, total, len(records["apps"]), len(state["slaves"]), len(q), a.outdir),
              file=sys.stderr)


if __name__ == "__main__":
    main()
