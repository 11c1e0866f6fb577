#!/usr/bin/env python3
"""tests/integration/test_builder_sched.py -- rebuilds yield to answering, but are never starved.

The zone builder runs SCHED_IDLE (lib/refresh.c, builder_main), so a DNS
worker sharing its core preempts a rebuild at every query.  A build that
gets under a tenth of a CPU in a second is being starved, and is put back to
SCHED_BATCH until it is done.  Checked here:
- the zone-builder thread's policy is SCHED_IDLE (run as root, as make test
  is; without the right to leave SCHED_IDLE it would be SCHED_BATCH);
- with every thread of the daemon pinned to one CPU and a busy process on
  that CPU, a changed stateFile still gets built and answered within a few
  seconds, and the log says the build was raised.  A build at SCHED_IDLE
  against a busy neighbour gets about 0.3% of the CPU: this state's build
  would then take tens of seconds;
- after that build the builder is back at SCHED_IDLE.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import harness
from harness import ROOT, Daemon, Tap, build_dir, dig

BUILD = build_dir()
SCHED_BATCH, SCHED_IDLE = 3, 5
POLICY = {0: "SCHED_OTHER", SCHED_BATCH: "SCHED_BATCH", SCHED_IDLE: "SCHED_IDLE"}

t = Tap()


def thread_ids(pid, comm):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() == comm:
                    out.append(int(tid))
        except OSError:
            pass
    return out


def policy(tid):
    with open("/proc/%d/stat" % tid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[38])  # field 41 of stat(5), counted after "pid (comm)"


work = tempfile.mkdtemp(prefix="builder-sched-")
gen = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_state.py"), "--tasks", "6000",
                      work], capture_output=True, text=True)
t.ok(gen.returncode == 0, "gen_state: 6,000-task states", gen.stderr[-300:])
state_a = os.path.join(work, "state-6000.json")
state_b = os.path.join(work, "state-6000.alt.json")
link = os.path.join(work, "state.json")
os.symlink(state_a, link)

d = Daemon(BUILD, {"stateFile": link, "refreshSeconds": 2, "workers": 1})
hog = None
try:
    t.ok(d.wait_loaded(1, timeout=60), "the first state is loaded")
    builders = thread_ids(d.proc.pid, "zone-builder")
    t.eq(len(builders), 1, "one zone-builder thread")
    b = builders[0] if builders else 0
    if b:
        t.eq(POLICY.get(policy(b)), "SCHED_IDLE", "the builder waits for answers: SCHED_IDLE")

    # One CPU for every thread of the daemon, shared with a busy process.
    cpu = sorted(os.sched_getaffinity(0))[0]
    for tid in os.listdir("/proc/%d/task" % d.proc.pid):
        os.sched_setaffinity(int(tid), {cpu})
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {cpu})
    time.sleep(0.5)
    changed_before = len([l for l in d.logtext().splitlines()
                          if "state: loaded from" in l and "(unchanged)" not in l])
    t0 = time.monotonic()
    tmp = link + ".tmp"
    os.symlink(state_b, tmp)
    os.replace(tmp, link)
    built = d.wait_log(r"state: loaded from .*tasks, \d+ records, serial \d+$", changed_before + 1,
                       timeout=20)
    took = time.monotonic() - t0
    t.ok(built, "the changed state is built beside a busy process on the same CPU "
         "(%.1f s after the change, refreshSeconds 2)" % took)
    t.ok(took < 12, "... within 12 s (at SCHED_IDLE alone it would take far longer)",
         "took %.1f s" % took)
    t.ok("of a CPU for" in d.logtext(), "the log says the build was raised to SCHED_BATCH")
    r = dig(d.port, "leader.mesos")
    t.ok(r.rcode == "NOERROR", "answers meanwhile and after (leader.mesos: %s)" % r.rcode)
    hog.kill()
    hog.wait()
    hog = None
    # The next refresh runs without a boost: back at SCHED_IDLE once it is done.
    t.ok(harness.wait_for(lambda: policy(b) == SCHED_IDLE, timeout=15),
         "after the raised build the builder is SCHED_IDLE again (%s)" % POLICY.get(policy(b)))
finally:
    if hog:
        hog.kill()
        hog.wait()
    rc = d.stop()
    t.eq(rc, 0, "SIGTERM: exit code 0")
    d.cleanup()
    subprocess.run(["rm", "-rf", work])
t.done()
