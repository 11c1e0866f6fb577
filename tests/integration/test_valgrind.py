#!/usr/bin/env python3
"""tests/integration/test_valgrind.py -- a whole daemon life under valgrind memcheck.

mesos-dnsd runs under valgrind (--leak-check=full, errors and definite leaks
exit 9) against a FakeMaster serving tests/data/fake.json with
refreshSeconds 1: it starts, fetches, answers dig over UDP and TCP, takes
several changed states (a task added, the state back, tasks removed), answers
again, and on SIGTERM must exit 0 with no memcheck error and nothing
definitely lost.  Rate limiting is on (1000/s, never reached) so its
tables are checked too.  Skipped when valgrind is missing.
"""
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import harness
from harness import DATA, FakeMaster, Tap, build_dir, dig, free_port, wait_for

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")

t = Tap()


def skip(why):
    print("ok 1 - valgrind memcheck # SKIP %s\n1..1" % why)
    sys.exit(0)


def variants(tmp):
    """Changed copies of fake.json: one more task, then marathon's tasks gone."""
    with open(FAKE) as f:
        base = json.load(f)
    more = copy.deepcopy(base)
    fw = [f for f in more["frameworks"] if f["name"] == "marathon"][0]
    extra = copy.deepcopy([x for x in fw["tasks"] if x["name"] == "nginx"][0])
    extra["id"] = "valgrindapp." + extra["id"].split(".", 1)[-1]
    extra["name"] = "valgrindapp"
    fw["tasks"].append(extra)
    fewer = copy.deepcopy(base)
    for f in fewer["frameworks"]:
        if f["name"] == "marathon":
            f["tasks"] = []
    paths = []
    for name, doc in (("more.json", more), ("fewer.json", fewer)):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            json.dump(doc, f)
        paths.append(p)
    return paths


def main():
    if not shutil.which("valgrind"):
        skip("valgrind is not installed")
    with open(os.path.join(BUILD, "bin", "mesos-dnsd"), "rb") as f:
        if re.search(rb"__(asan|tsan)_init", f.read()):
            skip("the daemon is built with a sanitizer, which cannot run under valgrind")
    tmp = tempfile.mkdtemp(prefix="test-valgrind-")
    harness._dirs.append(tmp)
    more, fewer = variants(tmp)
    fm = FakeMaster(FAKE)
    port = free_port()
    cfg = {"masters": [fm.hostport], "refreshSeconds": 1, "listener": "127.0.0.1",
           "port": port, "httpon": False, "externalon": False, "workers": 2,
           "IPSources": ["netinfo", "mesos", "host"], "rateLimit": 1000}
    cfg_path = os.path.join(tmp, "config.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    log_path = os.path.join(tmp, "daemon.log")
    vg_path = os.path.join(tmp, "valgrind.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
         "--error-exitcode=9", "--log-file=" + vg_path,
         os.path.join(BUILD, "bin", "mesos-dnsd"), "-config", cfg_path],
        stdout=log, stderr=subprocess.STDOUT)
    harness._procs.append(proc)

    def logtext():
        with open(log_path) as f:
            return f.read()

    def loaded(n, timeout=20):
        return wait_for(lambda: len(re.findall(r"state: loaded from (?!.*\(unchanged\))", logtext())) >= n
                        or proc.poll() is not None, timeout) and proc.poll() is None

    try:
        t.ok(loaded(1, 30), "started under valgrind and loaded the state", logtext()[-2000:])
        r = dig(port, "nginx.marathon.mesos", timeout=5)
        t.ok(r.rcode == "NOERROR" and r.answer, "UDP answer", r.text)
        r = dig(port, "_big-dog._tcp.marathon.mesos", "SRV", tcp=True, timeout=5)
        t.ok(r.rcode == "NOERROR" and r.answer, "TCP SRV answer", r.text)
        fm.serve(more)
        t.ok(loaded(2), "a changed state (one more task) is loaded")
        r = dig(port, "valgrindapp.marathon.mesos", timeout=5)
        t.ok(r.rcode == "NOERROR" and r.answer, "the new task answers", r.text)
        fm.serve(fewer)
        t.ok(loaded(3), "a changed state (marathon's tasks gone) is loaded")
        r = dig(port, "nginx.marathon.mesos", tcp=True, timeout=5)
        t.eq(r.rcode, "NXDOMAIN", "the removed task is gone (TCP)")
        fm.serve(FAKE)
        t.ok(loaded(4), "the first state again")
        r = dig(port, "nginx.marathon.mesos", timeout=5)
        t.ok(r.rcode == "NOERROR" and r.answer, "answered again", r.text)
        r = dig(port, "nothere.mesos", timeout=5)
        t.eq(r.rcode, "NXDOMAIN", "a missing name")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        with open(vg_path) as f:
            vg = f.read()
        summary = "\n".join(l for l in vg.splitlines()
                            if re.search(r"ERROR SUMMARY|definitely lost|All heap blocks", l))
        print("# " + summary.replace("\n", "\n# "))
        t.eq(rc, 0, "exit 0 after SIGTERM: no memcheck error, no definite leak")
        t.ok("All heap blocks were freed" in vg or re.search(r"definitely lost: 0 bytes", vg),
             "nothing definitely lost", vg[-3000:])
        t.ok(re.search(r"ERROR SUMMARY: 0 errors", vg), "ERROR SUMMARY: 0 errors", vg[-3000:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        fm.cleanup()


main()
t.done()
