#!/usr/bin/env python3
"""tests/integration/test_refresh.py -- the state -> zone pipeline of the real daemon.

fake.json served from local fake masters (tests/integration/fake_master.py) and from
stateFile, queried with dig: the /master/state.json fallback, masters in order, following
a follower's leader field, refresh (new answers on change, old answers and serial kept on
every kind of failure, recovery), the SOA serial rules and SERVFAIL before the first load.
Waits are on the daemon's log lines, never fixed sleeps; refreshSeconds is 1.
"""
import json
import os
import re
import shutil
import signal
import tempfile
import time

import harness
from harness import DATA, Daemon, FakeMaster, Tap, build_dir, dig, free_port, wait_for

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
TMP = tempfile.mkdtemp(prefix="test-refresh-")
t = Tap()

LOADED = r"^\w+: state: loaded from "
CHANGED = LOADED + r".*serial \d+$"
UNCHANGED = LOADED + r".*serial \d+ \(unchanged\)$"
FAILED = r"^\w+: state: refresh failed"
CAR_STORE_SRV = ["0 1 31364 car-store-zinaz-0.marathon.slave.mesos.",
                 "0 1 31365 car-store-zinaz-0.marathon.slave.mesos."]


# ---- states ----------------------------------------------------------------
_nstates = 0


def make_state(nginx_ip="10.3.0.3", leader=None, drop_leader=False):
    """fake.json with the nginx task's IP (and optionally the leader) changed; returns a path."""
    with open(FAKE) as f:
        doc = json.load(f)
    for fw in doc["frameworks"]:
        for task in fw["tasks"]:
            if task["name"] == "nginx":
                for st in task["statuses"]:
                    for label in st.get("labels", []):
                        if label["key"] == "MesosContainerizer.NetworkSettings.IPAddress":
                            label["value"] = nginx_ip
    if leader is not None:
        doc["leader"] = leader
    if drop_leader:
        del doc["leader"]
    return save_state(doc)


def save_state(doc):
    """Write a state document into TMP; returns its path."""
    global _nstates
    _nstates += 1
    path = os.path.join(TMP, "state%d.json" % _nstates)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def busy_state():
    """fake.json a moment later on a busy cluster: other offers outstanding,
    other resources in use, other flags and counters, where the zone does not
    look; returns a path."""
    with open(FAKE) as f:
        doc = json.load(f)
    doc["flags"]["allocation_interval"] = "2secs"
    doc["started_tasks"] += 7
    doc["frameworks"][0]["offers"] = [
        {"id": "offer-%d" % i, "slave_id": doc["slaves"][0]["id"],
         "resources": {"cpus": 1.5 + i, "mem": 512.0, "ports": "[31000-31999]"}}
        for i in range(3)]
    doc["frameworks"][0]["resources"] = {"cpus": 99.0, "mem": 1234.0}
    doc["slaves"][0]["resources"] = {"cpus": 3.0, "mem": 777.0}
    return save_state(doc)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- queries and log -------------------------------------------------------
def a(d, name):
    return dig(d.port, name, "A").data("ANSWER", "A")


def nginx(d):
    return a(d, "nginx.marathon.mesos")


def soa_serial(d):
    r = dig(d.port, "mesos", "SOA")
    soa = r.data("ANSWER", "SOA")
    return int(soa[0].split()[2]) if soa else None


def count(d, pattern):
    return len(re.findall(pattern, d.logtext(), re.M))


def last_line(d, pattern):
    """The last log line matching pattern, or ""."""
    lines = [l for l in d.logtext().splitlines() if re.search(pattern, l)]
    return lines[-1] if lines else ""


def check_log_serials(d, what):
    """Across the whole log: serials never go backwards, rise exactly on content
    changes, stay on "(unchanged)" loads, and a failure names the serial kept."""
    cur = None
    problems = []
    loads = 0
    for line in d.logtext().splitlines():
        m = re.match(r"\w+: state: loaded from .*serial (\d+)( \(unchanged\))?$", line)
        if m:
            loads += 1
            s, unchanged = int(m.group(1)), bool(m.group(2))
            if cur is None:
                if unchanged:
                    problems.append("first load says unchanged: " + line)
            elif unchanged and s != cur:
                problems.append("unchanged load moved the serial %d -> %d" % (cur, s))
            elif not unchanged and s <= cur:
                problems.append("changed load did not raise the serial %d -> %d" % (cur, s))
            cur = s
            continue
        m = re.match(r"\w+: state: refresh failed, keeping the zone of serial (\d+)", line)
        if m and int(m.group(1)) != cur:
            problems.append("failure names serial %s, current %s" % (m.group(1), cur))
        if re.match(r"\w+: state: refresh failed, no zone loaded yet", line) and cur is not None:
            problems.append("failure says no zone loaded after a load: " + line)
    t.ok(loads > 0 and not problems,
         "%s: the log's serials never go backwards and change exactly with the content" % what,
         "\n".join(problems) or "no load line")


def check_log_shape(d, what, query_words):
    """One line per event, each with its level; nothing per query."""
    lines = [l for l in d.logtext().splitlines() if l.strip()]
    bad = [l for l in lines if not re.match(r"(error|warning|info|debug): \S", l)]
    t.ok(not bad, "%s: every log line is one event with its level" % what, "\n".join(bad[:5]))
    per_query = [l for l in lines if any(w in l.lower() for w in query_words)]
    t.ok(not per_query, "%s: no log line per query" % what, "\n".join(per_query[:5]))


def stop_ok(d, what):
    rc = d.stop(signal.SIGTERM)
    t.eq(rc, 0, "%s: exits 0 on SIGTERM" % what)


QUERY_WORDS = ("nginx", "car-store", "master0", "leader.mesos", "_leader", "query")

# ===========================================================================
# 1. One fake master (leader rewritten to it): answers, refresh, failures.
# ===========================================================================
fm = FakeMaster(FAKE)
d = Daemon(BUILD, {"masters": [fm.hostport], "refreshSeconds": 1})
t.ok(d.wait_loaded(1), "master: the zone loads from a fake master", d.logtext())

r = dig(d.port, "nginx.marathon.mesos")
t.ok(r.rcode == "NOERROR" and "aa" in r.flags and r.data("ANSWER", "A") == ["10.3.0.3"],
     "master: nginx.marathon.mesos A 10.3.0.3, authoritative", r.text)
r = dig(d.port, "_car-store._tcp.marathon.mesos", "SRV")
t.eq(r.data("ANSWER", "SRV"), CAR_STORE_SRV, "master: _car-store._tcp.marathon.mesos SRV ports and target")
t.eq(r.data("ADDITIONAL", "A"), ["1.2.3.11"], "master: the SRV target's A in the additional section")
t.eq(a(d, "leader.mesos"), ["127.0.0.1"], "master: leader.mesos A is the rewritten leader 127.0.0.1")
t.eq(dig(d.port, "_leader._tcp.mesos", "SRV").data("ANSWER", "SRV"),
     ["0 1 %d leader.mesos." % fm.port], "master: _leader._tcp.mesos SRV port is the fake master's")
t.eq(a(d, "master0.mesos"), ["127.0.0.1"], "master: master0.mesos A 127.0.0.1")
t.ok("127.0.0.1" in a(d, "master.mesos"), "master: master.mesos includes the master")
reqs = fm.requests()
t.ok(reqs and all(p == "/master/state" for _, p in reqs),
     "master: fetched from /master/state", reqs)

serials = []        # (serial seen with dig, whether the content changed before it)
s0 = soa_serial(d)
t.ok(s0 is not None and s0 > 0, "master: the apex SOA has a serial", s0)
serials.append((s0, True))

# -- a changed state -> new answers, higher serial
n = count(d, CHANGED)
fm.serve(make_state("10.3.0.99"))
t.ok(d.wait_log(CHANGED, n + 1), "refresh: a changed state is loaded", d.logtext())
t.eq(nginx(d), ["10.3.0.99"], "refresh: nginx.marathon.mesos now answers 10.3.0.99")
t.eq(dig(d.port, "_car-store._tcp.marathon.mesos", "SRV").data("ANSWER", "SRV"), CAR_STORE_SRV,
     "refresh: the other records are still there")
s1 = soa_serial(d)
t.ok(s1 is not None and s1 > s0, "refresh: the SOA serial increased (%s -> %s)" % (s0, s1))
serials.append((s1, True))

# -- the identical state again -> (unchanged), same serial
n = count(d, UNCHANGED)
fm.serve(make_state("10.3.0.99"))
t.ok(d.wait_log(UNCHANGED, n + 1), "refresh: an identical state logs \"(unchanged)\"", d.logtext())
t.ok(last_line(d, UNCHANGED).endswith("serial %d (unchanged)" % s1),
     "refresh: the unchanged load names the same serial", last_line(d, LOADED))
t.eq(soa_serial(d), s1, "refresh: an identical state keeps the serial")
serials.append((soa_serial(d), False))
t.eq(nginx(d), ["10.3.0.99"], "refresh: an identical state keeps the answers")


def failure_case(what, serve, reason_rx, url_once=False):
    """Make the master fail with serve(); expect one 'refresh failed' line matching
    reason_rx, and the previous answers and serial kept."""
    n_fail = count(d, FAILED)
    n_changed = count(d, CHANGED)
    serve()
    got = d.wait_log(FAILED, n_fail + 1)
    line = last_line(d, FAILED)
    t.ok(got, "%s: a \"refresh failed\" line is logged" % what, d.logtext())
    t.ok(re.search(reason_rx, line) is not None and ("serial %d" % s1) in line,
         "%s: the line names the reason and the serial kept" % what, line)
    if url_once:
        url = "http://%s/master/state" % fm.hostport
        t.eq(line.count(url), 1, "%s: the line names the URL once" % what)
    r = dig(d.port, "nginx.marathon.mesos")
    t.ok(r.rcode == "NOERROR" and r.data("ANSWER", "A") == ["10.3.0.99"],
         "%s: the previous answers are kept" % what, r.text)
    s = soa_serial(d)
    t.eq(s, s1, "%s: the serial is kept" % what)
    serials.append((s, False))
    t.eq(count(d, CHANGED), n_changed, "%s: no new zone was published" % what)


failure_case("broken JSON", lambda: fm.serve("{not json", raw=True), r"JSON")
failure_case("no leader field", lambda: fm.serve(make_state("10.3.0.98", drop_leader=True)),
             r"leader")
failure_case("HTTP 500", lambda: fm.serve("HTTP500", raw=True), r"500", url_once=True)
failure_case("master down", fm.stop, r"127\.0\.0\.1:%d" % fm.port, url_once=True)
t.ok(re.search(r"connect|refused", last_line(d, FAILED), re.I) is not None,
     "master down: the reason says the connection failed", last_line(d, FAILED))

# -- a master back on the same port with a new state -> recovers by itself
port = fm.port
fm.cleanup()
n = count(d, CHANGED)
fm = FakeMaster(make_state("10.3.0.42"), port=port)
t.ok(d.wait_log(CHANGED, n + 1), "recovery: the daemon reloads when the master comes back",
     d.logtext())
t.eq(nginx(d), ["10.3.0.42"], "recovery: nginx.marathon.mesos answers the new 10.3.0.42")
s2 = soa_serial(d)
t.ok(s2 is not None and s2 > s1, "recovery: the serial increased (%s -> %s)" % (s1, s2))
serials.append((s2, True))

vals = [s for s, _ in serials]
t.ok(all(b >= a_ for a_, b in zip(vals, vals[1:])) and
     all((b > a_) == changed for (a_, _), (b, changed) in zip(serials, serials[1:])),
     "serial: never backwards, and higher exactly when the content changed", serials)
check_log_serials(d, "master")
check_log_shape(d, "master", QUERY_WORDS)
stop_ok(d, "master")
fm.cleanup()

# ===========================================================================
# 2. /master/state 404 -> /master/state.json, remembered.
# ===========================================================================
fm = FakeMaster(FAKE, extra=("--only-state-json",))
d = Daemon(BUILD, {"masters": [fm.hostport], "refreshSeconds": 1})
t.ok(d.wait_loaded(3), "state.json: three loads from an old master", d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "state.json: nginx.marathon.mesos A 10.3.0.3")
t.eq(a(d, "leader.mesos"), ["127.0.0.1"], "state.json: leader.mesos A 127.0.0.1")
paths = [p for _, p in fm.requests()]
t.ok(paths[:2] == ["/master/state", "/master/state.json"],
     "state.json: the first fetch tries /master/state, then /master/state.json", paths)
t.ok(paths.count("/master/state") == 1 and paths.count("/master/state.json") >= 3,
     "state.json: later fetches go straight to /master/state.json", paths)
stop_ok(d, "state.json")
fm.cleanup()

# ===========================================================================
# 3. Masters in order: a dead first master is not fatal.
# ===========================================================================
dead = free_port()
fm = FakeMaster(FAKE)
d = Daemon(BUILD, {"masters": ["127.0.0.1:%d" % dead, fm.hostport], "refreshSeconds": 1})
t.ok(d.wait_loaded(2), "order: the zone loads (twice) from the second master", d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "order: nginx.marathon.mesos A 10.3.0.3")
t.eq(dig(d.port, "_leader._tcp.mesos", "SRV").data("ANSWER", "SRV"),
     ["0 1 %d leader.mesos." % fm.port], "order: the leader is the second master")
t.eq(count(d, r"refresh failed"), 0, "order: the dead first master makes no cycle fail")
stop_ok(d, "order")
fm.cleanup()

# ===========================================================================
# 4. Following the leader: 127.0.0.1:P is a follower naming 127.0.0.2:P.
# ===========================================================================
fa = fb = None
for _ in range(20):
    fa = FakeMaster(make_state("10.3.0.3", leader="master@127.0.0.2:0"), rewrite=False)
    try:
        fb = FakeMaster(make_state("10.3.0.77"), host="127.0.0.2", port=fa.port, rewrite=False)
        break
    except OSError:
        fa.cleanup()
        fa = None
if not (fa and fb):
    t.ok(False, "follow: two fake masters on 127.0.0.1:P and 127.0.0.2:P")
else:
    P = fa.port
    leader2 = "master@127.0.0.2:%d" % P
    fa.serve(make_state("10.3.0.3", leader=leader2))
    fb.serve(make_state("10.3.0.77", leader=leader2))
    d = Daemon(BUILD, {"masters": [fa.hostport], "refreshSeconds": 1})
    t.ok(d.wait_loaded(1), "follow: the zone loads", d.logtext())
    t.eq(nginx(d), ["10.3.0.77"], "follow: the leader's content is served (nginx 10.3.0.77)")
    t.ok(len(fa.requests()) >= 1, "follow: the listed master 127.0.0.1 was asked", fa.requests())
    t.ok(len(fb.requests()) >= 1, "follow: the leader 127.0.0.2 (same port) was asked",
         fb.requests())
    t.ok(re.search(r"not the leader, asking 127\.0\.0\.2:%d" % P, d.logtext()) is not None,
         "follow: the log says whom it follows", d.logtext())
    t.ok(re.search(r"loaded from 127\.0\.0\.2", d.logtext()) is not None,
         "follow: the load names the leader as its source", last_line(d, LOADED))
    t.eq(a(d, "leader.mesos"), ["127.0.0.2"], "follow: leader.mesos A 127.0.0.2")
    t.eq(dig(d.port, "_leader._tcp.mesos", "SRV").data("ANSWER", "SRV"),
         ["0 1 %d leader.mesos." % P], "follow: _leader._tcp.mesos SRV port P")
    t.eq(a(d, "master0.mesos"), ["127.0.0.1"], "follow: master0.mesos is the listed master")
    t.eq(a(d, "master.mesos"), ["127.0.0.1", "127.0.0.2"],
         "follow: master.mesos has the listed master and the leader")

    # The leader's state names yet another leader: followed once only, never a third hop.
    try:
        fc = FakeMaster(make_state("10.3.0.88"), host="127.0.0.3", port=P, rewrite=False)
    except OSError:
        fc = None
    n_fail = count(d, FAILED)
    fb.serve(make_state("10.3.0.78", leader="master@127.0.0.3:%d" % P))
    t.ok(d.wait_log(FAILED, n_fail + 1), "follow: a second leader hop fails the cycle",
         d.logtext())
    t.ok("127.0.0.3" in last_line(d, FAILED), "follow: the failure names the leader not followed",
         last_line(d, FAILED))
    if fc is not None:
        t.eq(fc.requests(), [], "follow: 127.0.0.3 is never asked (the leader is followed once)")
        fc.cleanup()
    t.eq(nginx(d), ["10.3.0.77"], "follow: the previous answers are kept")
    check_log_serials(d, "follow")
    stop_ok(d, "follow")
    fa.cleanup()
    fb.cleanup()

# ===========================================================================
# 5. stateFile: re-read every refreshSeconds.
# ===========================================================================
sdir = tempfile.mkdtemp(prefix="statefile-", dir=TMP)
sfile = os.path.join(sdir, "state.json")
with open(FAKE) as f:
    fake_text = f.read()
write_atomic(sfile, fake_text)
d = Daemon(BUILD, {"stateFile": sfile, "refreshSeconds": 1})
t.ok(d.wait_loaded(1), "stateFile: the zone loads", d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "stateFile: nginx.marathon.mesos A 10.3.0.3")
t.ok(("loaded from " + sfile) in d.logtext(), "stateFile: the load names the file",
     last_line(d, LOADED))
f0 = soa_serial(d)

n = count(d, CHANGED)
with open(make_state("10.3.0.99")) as f:
    write_atomic(sfile, f.read())
t.ok(d.wait_log(CHANGED, n + 1), "stateFile: a rewritten file is loaded", d.logtext())
t.eq(nginx(d), ["10.3.0.99"], "stateFile: nginx.marathon.mesos now answers 10.3.0.99")
f1 = soa_serial(d)
t.ok(f1 is not None and f0 is not None and f1 > f0,
     "stateFile: the serial increased (%s -> %s)" % (f0, f1))

n_fail = count(d, FAILED)
write_atomic(sfile, "{not json")
t.ok(d.wait_log(FAILED, n_fail + 1), "stateFile: garbage logs \"refresh failed\"", d.logtext())
t.ok("JSON" in last_line(d, FAILED), "stateFile: the line names the reason", last_line(d, FAILED))
t.eq(nginx(d), ["10.3.0.99"], "stateFile: garbage keeps the previous answers")
t.eq(soa_serial(d), f1, "stateFile: garbage keeps the serial")

n_fail = count(d, FAILED)
os.unlink(sfile)
t.ok(d.wait_log(FAILED, n_fail + 1), "stateFile: a deleted file logs \"refresh failed\"",
     d.logtext())
line = last_line(d, FAILED)
t.ok(sfile in line and re.search(r"no such file", line, re.I) is not None,
     "stateFile: the line names the file and the reason", line)
t.eq(nginx(d), ["10.3.0.99"], "stateFile: a deleted file keeps the previous answers")
t.eq(soa_serial(d), f1, "stateFile: a deleted file keeps the serial")

n = count(d, CHANGED)
write_atomic(sfile, fake_text)
t.ok(d.wait_log(CHANGED, n + 1), "stateFile: the file back -> reloaded", d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "stateFile: nginx.marathon.mesos answers 10.3.0.3 again")
f2 = soa_serial(d)
t.ok(f2 is not None and f2 > f1, "stateFile: the serial increased again, never backwards "
     "(%s -> %s)" % (f1, f2))
check_log_serials(d, "stateFile")
check_log_shape(d, "stateFile", QUERY_WORDS)
stop_ok(d, "stateFile")

# ===========================================================================
# 5b. Only a name's spelling moved (same records): /v1/enumerate follows it.
# ===========================================================================
def enumerate_names(port):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/enumerate" % port, timeout=10) as r:
        doc = json.loads(r.read())
    return [fw["name"] for fw in doc["frameworks"]], \
        sorted(tk["name"] for fw in doc["frameworks"] for tk in fw["tasks"])


with open(FAKE) as f:
    spelled = json.load(f)
write_atomic(sfile, json.dumps(spelled))
hport = free_port()
d = Daemon(BUILD, {"stateFile": sfile, "refreshSeconds": 1, "httpon": True,
                   "HTTPListener": "127.0.0.1", "httpport": hport})
t.ok(d.wait_loaded(1), "names: the zone loads", d.logtext())
fws0, tasks0 = enumerate_names(hport)
f0 = soa_serial(d)
t.ok("marathon" in fws0 and "nginx" in tasks0, "names: /v1/enumerate lists marathon and nginx",
     repr((fws0, tasks0)))
for fw in spelled["frameworks"]:
    if fw["name"] == "marathon":
        fw["name"] = "Marathon"       # the same labels: marathon.mesos
        for task in fw["tasks"]:
            if task["name"] == "nginx":
                task["name"] = "NGINX"
write_atomic(sfile, json.dumps(spelled))
NAMES = r"state: framework or task names changed, not the records"
t.ok(d.wait_log(NAMES, 1), "names: a rename of case only is seen", d.logtext())
fws1, tasks1 = enumerate_names(hport)
t.ok("Marathon" in fws1 and "marathon" not in fws1 and "NGINX" in tasks1,
     "names: /v1/enumerate shows the new spelling", repr((fws1, tasks1)))
t.eq(soa_serial(d), f0, "names: the serial is kept (no record changed)")
t.eq(nginx(d), ["10.3.0.3"], "names: nginx.marathon.mesos still answers")
n = count(d, NAMES)
time.sleep(2.5)
t.eq(count(d, NAMES), n, "names: the same file again swaps nothing in")
stop_ok(d, "names")

# ===========================================================================
# 6. SERVFAIL before the first load, then answers without a restart.
# ===========================================================================
q = free_port()
d = Daemon(BUILD, {"masters": ["127.0.0.1:%d" % q], "refreshSeconds": 1})
t.ok(d.wait_log(FAILED, 1), "no zone: the failed first load is logged", d.logtext())
t.ok("no zone loaded yet" in last_line(d, FAILED), "no zone: the line says no zone is loaded",
     last_line(d, FAILED))
r = dig(d.port, "nginx.marathon.mesos")
t.eq(r.rcode, "SERVFAIL", "no zone: nginx.marathon.mesos -> SERVFAIL")
r = dig(d.port, "mesos", "SOA")
t.eq(r.rcode, "SERVFAIL", "no zone: the apex SOA -> SERVFAIL")
r = dig(d.port, "nginx.marathon.mesos", tcp=True)
t.eq(r.rcode, "SERVFAIL", "no zone: SERVFAIL over TCP too")
fm = FakeMaster(FAKE, port=q)
t.ok(d.wait_loaded(1), "no zone: a master appearing on the port is loaded", d.logtext())
r = dig(d.port, "nginx.marathon.mesos")
t.ok(r.rcode == "NOERROR" and r.data("ANSWER", "A") == ["10.3.0.3"],
     "no zone: nginx.marathon.mesos answers without a restart", r.text)
r = dig(d.port, "mesos", "SOA")
t.ok(r.rcode == "NOERROR" and len(r.data("ANSWER", "SOA")) == 1,
     "no zone: the apex SOA answers", r.text)
check_log_serials(d, "no zone")
check_log_shape(d, "no zone", QUERY_WORDS)
stop_ok(d, "no zone")
fm.cleanup()

# ===========================================================================
# 7. The same state again is not built again: the zone stands, and the
#    build counter of /metrics stays put while the fetches go on.  Anything
#    else in the state, or a stateFile touched, builds again.
# ===========================================================================
def metric(d, name, labels="", strict=False):
    return harness.metric(d.config["httpport"], name, labels, strict=strict)


BUILDS = "zone_build_duration_seconds_count"
SKIPPED = "zone_builds_skipped_total"
FETCH_OK = ("state_fetches_total", 'result="success",reason="none"')

fm = FakeMaster(FAKE)
d = Daemon(BUILD, {"masters": [fm.hostport], "refreshSeconds": 1, "httpon": True,
                   "httpport": free_port()})
t.ok(d.wait_loaded(1), "same state: the zone loads", d.logtext())
b0, f0 = metric(d, BUILDS), metric(d, *FETCH_OK)
s0 = soa_serial(d)
n = count(d, UNCHANGED)
t.ok(d.wait_log(UNCHANGED, n + 3), "same state: three refreshes log \"(unchanged)\"",
     d.logtext())
b1, f1 = metric(d, BUILDS), metric(d, *FETCH_OK)
t.ok(b0 is not None and f0 is not None and f1 >= f0 + 3,
     "same state: the fetches go on (%s -> %s)" % (f0, f1))
t.eq(b1, b0, "same state: no zone was built for them (builds %s -> %s)" % (b0, b1))
skipped = metric(d, SKIPPED, 'reason="same_state"')
t.ok(skipped is not None and skipped >= 3,
     "same state: counted as skipped builds, the same state (%s)" % skipped)
t.eq(metric(d, SKIPPED, 'reason="same_model"', strict=True), 0,
     "same state: ... none for the same model")
t.eq(soa_serial(d), s0, "same state: the serial stands")
t.eq(nginx(d), ["10.3.0.3"], "same state: the answers stand")
# Another document that differs only where the zone does not look (offers,
# resources, flags, counters): parsed, its model's fingerprint is the last
# build's, so it is not built either.
n = count(d, UNCHANGED)
fm.serve(busy_state())
t.ok(d.wait_log(UNCHANGED, n + 2), "busy state: two refreshes log \"(unchanged)\"",
     d.logtext())
t.eq(metric(d, BUILDS), b1, "busy state: no zone was built for it (builds %s)" % b1)
t.eq(metric(d, SKIPPED, 'reason="same_model"'), 1,
     "busy state: its first refresh counted as a skipped build, the same model; then "
     "the same state")
t.eq(soa_serial(d), s0, "busy state: the serial stands")
t.eq(nginx(d), ["10.3.0.3"], "busy state: the answers stand")
n = count(d, CHANGED)
fm.serve(make_state("10.3.0.77"))
t.ok(d.wait_log(CHANGED, n + 1), "same state: a changed one is built", d.logtext())
t.eq(nginx(d), ["10.3.0.77"], "same state: ... and answered")
t.ok(metric(d, BUILDS) == b1 + 1, "same state: one build for it (%s)" % metric(d, BUILDS))
n = count(d, CHANGED)
fm.serve(FAKE)
t.ok(d.wait_log(CHANGED, n + 1), "same state: the first one back is built again", d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "same state: ... and answered")
check_log_serials(d, "same state")
stop_ok(d, "same state")
fm.cleanup()

# refreshSeconds 3: a write seen by the next refresh is then over two seconds
# old, so only the file's identity and times can tell it (file_settled).
sfile = os.path.join(sdir, "same.json")
write_atomic(sfile, fake_text)
d = Daemon(BUILD, {"stateFile": sfile, "refreshSeconds": 3, "httpon": True,
                   "httpport": free_port()})
t.ok(d.wait_loaded(1), "same file: the zone loads", d.logtext())
# Just written, the file is read and built again once more; then it is settled.
t.ok(d.wait_log(UNCHANGED, 2, timeout=15), "same file: two refreshes log \"(unchanged)\"",
     d.logtext())
b0 = metric(d, BUILDS)
t.ok(d.wait_log(UNCHANGED, 3, timeout=15), "same file: a third", d.logtext())
t.eq(metric(d, BUILDS), b0, "same file: no zone was built for it (builds %s)" % b0)
# Rewritten in place (same inode, same size), its mtime put back: only the
# ctime, which no one can set, still tells.
st = os.stat(sfile)
n = count(d, CHANGED)
with open(sfile, "r+") as f:
    f.write(fake_text.replace('"10.3.0.3"', '"10.3.0.9"'))
os.utime(sfile, ns=(st.st_atime_ns, st.st_mtime_ns))
st2 = os.stat(sfile)
t.ok(st2.st_size == st.st_size and st2.st_mtime_ns == st.st_mtime_ns and st2.st_ino == st.st_ino,
     "same file: rewritten with the same inode, size and mtime")
t.ok(d.wait_log(CHANGED, n + 1, timeout=15), "same file: ... it is read and built",
     d.logtext())
t.eq(nginx(d), ["10.3.0.9"], "same file: ... and answered")
check_log_serials(d, "same file")
stop_ok(d, "same file")

# A state over 256 MiB is not tested here: tests/unit/test_fetch.c covers the limit.
shutil.rmtree(TMP, ignore_errors=True)
t.done()
