#!/usr/bin/env python3
"""bench/freshness.py -- how soon a change in the cluster is answered over DNS (`make bench-freshness`).

With stateSource "stream" the daemon follows the master's operator event stream;
this measures the time from an event leaving the master to the new answer being
visible over DNS, for --events events (default 1,000) against a cluster of --tasks
running tasks (default 2,000, from bench/gen_state.py), and prints the median, p90,
p99 and maximum beside the polling figure for refreshSeconds 60 (the default).

The master is tests/integration/stream_master.py: it timestamps each event with
CLOCK_MONOTONIC right after writing it to the stream; this script, on the same
host, asks the daemon over UDP in a tight loop (one datagram at a time, no sleep)
until the answer changes.  Events: 60% a task launched (TASK_ADDED, running, its own
name and address: wait for the A record), 40% one of them killed (TASK_UPDATED to
TASK_KILLED: wait for NXDOMAIN), each after a random pause of 0-50 ms, so they land
anywhere in the daemon's 50 ms coalescing window.  Every 100 events, and at the
end, the daemon's whole zone (/v1/axfr) is compared with the zone state2zone builds
from the master's /master/state at that moment: a stream-built zone must equal a
full rebuild.

The polling figure is measured, then scaled: the same kind of event against a
daemon with stateSource "poll" and refreshSeconds 1 (--poll-events, default 40).
A poll cycle takes c (fetch + parse + build) and the next starts R seconds after
it ends, so snapshots come every R + c and are answered c later: an event waits
U(0, R + c) + c, mean R/2 + 1.5 c.  The measured mean at R = 1 gives c, and the
figures for R = 60 follow (mean and median R/2 + 1.5 c, p99 0.99 (R + c) + c).
Waiting out real 60-second periods would take an hour for the same numbers.  The
test master is Python: its /master/state takes longer to serve than a Mesos
master's, which makes c (not the stream figures) pessimistic.

usage: freshness.py [--build DIR] [--tasks N] [--events N] [--poll-events N] [--seed S]
"""
import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import (axfr_set, free_port, make_query, parse_msg, state2zone,  # noqa: E402
                     zone_task_set)

TARGET_MEDIAN_MS = 100.0
TARGET_P99_MS = 500.0
DEFAULT_REFRESH = 60


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class Master:
    def __init__(self, procs, state, tmp):
        ready = os.path.join(tmp, "master.port")
        self.proc = procs.start([sys.executable, os.path.join(ROOT, "tests", "integration",
                                                              "stream_master.py"),
                                 "--port", "0", "--state", state, "--heartbeat", "1",
                                 "--ready-file", ready],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 60
        while not (os.path.exists(ready) and open(ready).read().strip()):
            if time.time() > end or self.proc.poll() is not None:
                raise SystemExit("freshness: the test master did not start")
            time.sleep(0.05)
        self.port = int(open(ready).read())
        self.hostport = "127.0.0.1:%d" % self.port

    def call(self, op, **args):
        req = urllib.request.Request("http://%s/control/%s" % (self.hostport, op),
                                     data=json.dumps(args).encode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


class Daemon:
    def __init__(self, procs, build, tmp, name, cfg):
        self.dns = free_port()
        self.http = free_port()
        conf = {"listener": "127.0.0.1", "port": self.dns, "httpon": True,
                "HTTPListener": "127.0.0.1", "httpport": self.http, "externalon": False,
                "workers": 2}
        conf.update(cfg)
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(conf, f)
        self.log = os.path.join(tmp, name + ".log")
        self.proc = procs.start([os.path.join(build, "bin", "mesos-dnsd"), "-config", path],
                                stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", self.dns))
        self.sock.settimeout(1.0)
        self.qid = 0

    def wait_log(self, text, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            with open(self.log) as f:
                if text in f.read():
                    return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return False

    def ask(self, name):
        """(rcode, [A data]) of one query."""
        self.qid = (self.qid + 1) & 0xFFFF
        self.sock.send(make_query(name, "A", qid=self.qid))
        while True:
            try:
                m = parse_msg(self.sock.recv(4096))
            except socket.timeout:
                return None, []
            if m and m.id == self.qid:
                return m.rcode, [".".join(str(b) for b in r[4]) for r in m.answer if r[1] == 1]

    def wait_answer(self, name, want, timeout=30.0):
        """Seconds from now until ask(name) satisfies want; None on timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if want(self.ask(name)):
                return time.monotonic()
        return None


def full_set(build, master, tmp):
    path = os.path.join(tmp, "full.json")
    with urllib.request.urlopen("http://%s/master/state" % master.hostport, timeout=60) as r:
        with open(path, "wb") as f:
            f.write(r.read())
    return zone_task_set(state2zone(build, path, master.hostport))


def zone_matches(build, d, master, tmp):
    # The pids of frameworks come in one summary fetch after their events: a moment.
    for _ in range(20):
        a, b = axfr_set(d.http), full_set(build, master, tmp)
        if a == b:
            return True, len(a)
        time.sleep(0.1)
    return False, len(a)


def run_events(d, master, fw, agents, n, rnd, tag, build=None, tmp=None, check_every=0):
    """n events; returns (latencies in ms, zone checks passed, zone checks run)."""
    alive, lat, checks, passed = [], [], 0, 0
    for i in range(n):
        time.sleep(rnd.uniform(0, 0.05))
        if alive and rnd.random() < 0.4:
            name, tid = alive.pop(rnd.randrange(len(alive)))
            r = master.call("task_update", framework_id=fw, task_id=tid, state="TASK_KILLED")
            got = d.wait_answer(name, lambda g: g[0] == "NXDOMAIN")
        else:
            name = "fresh%s%d.marathon.mesos" % (tag, i)
            ip = "10.%d.%d.%d" % (200 + (i >> 16) % 50, (i >> 8) & 255, i & 255)
            tid = "fresh%s%d.%08x" % (tag, i, rnd.getrandbits(32))
            task = {"id": tid, "name": "fresh%s%d" % (tag, i), "slave_id": rnd.choice(agents),
                    "state": "TASK_RUNNING", "resources": {"cpus": 0.1, "ports": "[31500-31500]"},
                    "statuses": [{"state": "TASK_RUNNING", "timestamp": time.time(),
                                  "container_status": {"network_infos": [
                                      {"ip_addresses": [{"ip_address": ip}]}]}}]}
            r = master.call("task_add", framework_id=fw, task=task)
            got = d.wait_answer(name, lambda g, ip=ip: g[0] == "NOERROR" and g[1] == [ip])
            alive.append((name, tid))
        # A polling daemon has no stream open at the master: time from the control call.
        sent = r["sent"] if r.get("sent") is not None else r.get("_t0")
        if got is None or sent is None:
            print("freshness: event %d was not answered in 30 s (or no stream took it)" % i,
                  file=sys.stderr)
            lat.append(float("inf"))
        else:
            lat.append((got - sent) * 1000.0)
        if check_every and ((i + 1) % check_every == 0 or i + 1 == n):
            ok, _ = zone_matches(build, d, master, tmp)
            checks += 1
            passed += ok
    return lat, passed, checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--poll-events", type=int, default=40)
    ap.add_argument("--seed", default="freshness-1")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="bench-freshness-")
    procs = Procs()
    rnd = random.Random(args.seed)
    try:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_state.py"), "--tasks",
                        str(args.tasks), "--queries", "10", tmp], check=True,
                       stdout=subprocess.DEVNULL)
        state = os.path.join(tmp, "state-%d.json" % args.tasks)
        with open(state) as f:
            doc = json.load(f)
        fw = next(f["id"] for f in doc["frameworks"] if f["name"] == "marathon")
        agents = [a["id"] for a in doc["slaves"]]
        running = sum(1 for f in doc["frameworks"] for t in f["tasks"]
                      if t["state"] == "TASK_RUNNING")
        del doc

        # --- the stream ---------------------------------------------------------------
        master = Master(procs, state, tmp)
        d = Daemon(procs, build, tmp, "stream", {"masters": [master.hostport],
                                                "stateSource": "stream"})
        t0 = time.monotonic()
        if not d.wait_log("state: loaded from the event stream"):
            raise SystemExit("freshness: the daemon did not load the stream; see " + d.log)
        first = time.monotonic() - t0
        # The framework pids (state-summary) follow the snapshot at once.
        zone_matches(build, d, master, tmp)
        lat, passed, checks = run_events(d, master, fw, agents, args.events, rnd, "s", build, tmp,
                                         check_every=100)
        d.proc.kill()

        # --- polling, measured at refreshSeconds 1 and scaled --------------------------
        p = Daemon(procs, build, tmp, "poll", {"masters": [master.hostport],
                                              "stateSource": "poll", "refreshSeconds": 1})
        if not p.wait_log("state: loaded from"):
            raise SystemExit("freshness: the polling daemon did not load; see " + p.log)
        orig_call = master.call

        def timed_call(op, **kw):
            t = time.monotonic()
            r = orig_call(op, **kw)
            r["_t0"] = t
            return r
        master.call = timed_call
        plat, _, _ = run_events(p, master, fw, agents, args.poll_events, rnd, "p")
        master.call = orig_call
        finite = [x for x in plat if x != float("inf")]
        # Snapshots come every R + c (c: fetch + parse + build) and show c later, so
        # an event waits U(0, R + c) + c: mean R/2 + 1.5 c, p99 0.99 (R + c) + c.
        cost_ms = max(0.0, (statistics.mean(finite) - 500.0) / 1.5) if finite else float("nan")
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    good = [x for x in lat if x != float("inf")]
    med, p90, p99 = pct(lat, 50), pct(lat, 90), pct(lat, 99)
    print("freshness: event -> answer over DNS, %d running tasks, %d events "
          "(60%% launches, 40%% kills)" % (running, len(lat)))
    print("  first snapshot loaded in %.2f s after start" % first)
    print("  stream:   median %7.1f ms   p90 %7.1f ms   p99 %7.1f ms   max %7.1f ms   "
          "(%d unanswered)" % (med, p90, p99, max(lat), len(lat) - len(good)))
    print("            target: median < %.0f ms, p99 < %.0f ms: %s" % (
        TARGET_MEDIAN_MS, TARGET_P99_MS,
        "met" if med < TARGET_MEDIAN_MS and p99 < TARGET_P99_MS else "NOT met"))
    c = cost_ms / 1000.0
    poll_mean = DEFAULT_REFRESH / 2 + 1.5 * c
    poll_p99 = 0.99 * (DEFAULT_REFRESH + c) + c
    print("  poll:     refreshSeconds %d (computed): median and mean %.1f s, p99 %.1f s; one refresh "
          "(fetch + parse + build) costs %.0f ms, from %d events measured at refreshSeconds 1 "
          "(median %.0f ms, p99 %.0f ms)" % (DEFAULT_REFRESH, poll_mean, poll_p99, cost_ms,
                                            len(plat), pct(plat, 50), pct(plat, 99)))
    print("  ratio:    the stream's median answer comes %.0fx sooner than polling's" %
          (poll_mean * 1000 / med if med > 0 else float("inf")))
    print("  zone built from events == zone of the full /master/state: %d of %d checks" %
          (passed, checks))
    return 0 if passed == checks and len(good) == len(lat) else 1


if __name__ == "__main__":
    sys.exit(main())
