#!/usr/bin/env python3
"""bench/rebuild_ab.py -- what one rebuild of a big state costs, build against build.

usage: bench/rebuild_ab.py [--rounds N] [--tasks N] [--work DIR] DAEMON [DAEMON...]

For each round and each daemon in turn (every other round in reverse
order): start it on CPU 0 with one worker and a stateFile pointing at
state-N.json (from `make bench`), wait for the load, point the stateFile at
state-N.alt.json (the same cluster a moment later, read once beforehand so
it comes from memory: bench.warm), wait for the rebuild, and read the CPU
the daemon spent in between (utime + stime of every thread, from /proc), as
`make bench` measures its rebuild.  Prints each run, then each daemon's
median and the median of its rounds' ratios to the first daemon's.  On this
shared machine the speed of a core changes from minute to minute, so only
daemons measured in turn, in the same run, compare.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import cpu_seconds, point_link as point, warm  # noqa: E402  (make bench's own)


def loads(log):
    with open(log) as f:
        return [l for l in f if "state: loaded from" in l]


def wait_loads(proc, log, k, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if len(loads(log)) >= k:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    sys.exit("rebuild_ab: %d loads not seen; see %s" % (k, log))


def one(daemon, state, alt, rundir, port):
    link = os.path.join(rundir, "state.json")
    point(link, state)
    cfg = os.path.join(rundir, "config.json")
    with open(cfg, "w") as f:
        json.dump({"stateFile": link, "listener": "127.0.0.1", "port": port, "httpon": False,
                   "externalon": False, "workers": 1, "refreshSeconds": 5}, f)
    log = os.path.join(rundir, "log")
    with open(log, "w") as out:
        proc = subprocess.Popen(["taskset", "-c", "0", daemon, "-config", cfg],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_loads(proc, log, 1, 120)
        time.sleep(0.3)
        warm(alt)   # from memory, as make bench reads it (bench.warm)
        c0 = cpu_seconds(proc.pid)
        point(link, alt)
        wait_loads(proc, log, 2, 120)
        if "(unchanged)" in loads(log)[1]:
            sys.exit("rebuild_ab: the changed state was reported unchanged")
        time.sleep(0.3)
        return cpu_seconds(proc.pid) - c0
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--work", default="build/bench")
    ap.add_argument("--port", type=int, default=18153)
    ap.add_argument("daemons", nargs="+")
    a = ap.parse_args()
    state = os.path.join(a.work, "state-%d.json" % a.tasks)
    alt = os.path.join(a.work, "state-%d.alt.json" % a.tasks)
    for p in (state, alt):
        if not os.path.isfile(p):
            sys.exit("rebuild_ab: %s missing; run make bench first" % p)
    res = {d: [] for d in a.daemons}
    with tempfile.TemporaryDirectory(prefix="mesos-dnsd-rebuild.") as rundir:
        for k in range(a.rounds):
            # Every other round in reverse order: neither runs always first.
            for d in (a.daemons if k % 2 == 0 else a.daemons[::-1]):
                s = one(d, state, alt, rundir, a.port)
                res[d].append(s)
                print("%-50s %.2f CPU-s" % (d, s), flush=True)
    first = a.daemons[0]
    for d in a.daemons:
        v = res[d]
        # Each round's ratio to the first daemon: the two ran a minute apart
        # at most, so the core's speed moved less between them.
        r = sorted(x / y for x, y in zip(v, res[first]))
        v = sorted(v)
        print("median %-43s %.2f CPU-s  (%s)" % (d, v[len(v) // 2],
                                                " ".join("%.2f" % x for x in v)))
        if d != first:
            print("       median of the rounds' ratios to the first: %.3f" % r[len(r) // 2])


if __name__ == "__main__":
    main()
