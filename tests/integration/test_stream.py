#!/usr/bin/env python3
"""tests/integration/test_stream.py -- stateSource "stream": the master's operator event stream.

The daemon subscribes (POST /api/v1 SUBSCRIBE) to tests/integration/stream_master.py,
which starts from tests/data/fake.json and sends events on command.  Cases: the
snapshot builds the zone without a single /master/state poll, framework pids come from
/master/state-summary; a task launched, a task killed, an agent removed, a framework
removed and added, each answered over DNS after its event (the time from event to
answer is measured and printed), and after each the daemon's whole zone (/v1/axfr)
equals the zone state2zone builds from the master's /master/state; missed heartbeats
and a cut stream (resubscribed with the changes made meanwhile); no stream for a while
(polling takes over, then rests again); a master without the operator API (HTTP 404:
polling); HTTPS with basic authentication; DC/OS IAM (the login's token on the
stream); and a leader change through ZooKeeper (the stream moves to the new leader);
a stateCacheFile written from the model; an event the model cannot apply (the model
is dropped with the events queued behind it on that connection, and nothing is built
from it); a poll after the stream is lost that finds the state of the poll before the
stream (it builds, keeps its state for a reload, and lets the model go).  /metrics follows along: its stream families
pass `promtool check metrics`, events count by type exactly as sent, connected is 1
while subscribed and 0 while no subscription is possible, subscription outcomes and
disconnect reasons match what happened, and only stream-built zones time their
publication.  Waits are on log lines and answers.
"""
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from harness import (DATA, ROOT, Daemon, FakeMaster, Tap, _dirs, _procs, axfr_set, build_dir,
                     dig, free_port, make_query, parse_msg, state2zone, udp_send, wait_for,
                     zone_task_set)
from zkclient import EPHEMERAL, SEQUENTIAL, ZkServer, ZkSession, master_json
from stream_master import task_v1

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
TMP = tempfile.mkdtemp(prefix="test-stream-")
_dirs.append(TMP)
t = Tap()

MARATHON = "20140703-014514-3041283216-5050-5348-0000"
CHRONOS = "20140703-014514-3041283216-5050-5348-0001"
AGENT0 = "20140916-194712-631065744-5050-4798-2"
AGENT3 = "20140803-194712-3041283216-5050-2116-3"
HEARTBEAT = 0.3     # the masters' heartbeat interval: a silence over 3 x 0.3 + 1 s ends a stream

STREAM_LOADED = r"state: loaded from the event stream of "
POLL_LOADED = r"state: loaded from 127\.0\.0\.\d+:\d+: "


class StreamMaster:
    """stream_master.py on host (port 0: a free one), starting from state."""

    def __init__(self, state=FAKE, host="127.0.0.1", extra=()):
        self.dir = tempfile.mkdtemp(prefix="stream-master-", dir=TMP)
        ready = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "requests.log")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "integration", "stream_master.py"),
             "--host", host, "--port", "0", "--state", state, "--heartbeat", str(HEARTBEAT),
             "--ready-file", ready, "--log", self.log_path, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        wait_for(lambda: (os.path.exists(ready) and open(ready).read().strip())
                 or self.proc.poll() is not None, 10)
        self.port = int(open(ready).read().strip())
        self.host = host
        self.hostport = "%s:%d" % (host, self.port)
        self.scheme = "https" if "--tls-cert" in extra else "http"

    def url(self, path):
        # Control requests go over plain HTTP only without TLS; with TLS use the same scheme.
        return "%s://%s%s" % (self.scheme, self.hostport, path)

    def call(self, op, ctx=None, **args):
        req = urllib.request.Request(self.url("/control/" + op), data=json.dumps(args).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return json.loads(r.read())

    def get(self, path, ctx=None):
        with urllib.request.urlopen(self.url(path), timeout=10, context=ctx) as r:
            return json.loads(r.read())

    def requests(self, prefix=""):
        try:
            with open(self.log_path) as f:
                return [l.strip() for l in f if l.startswith(prefix)]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def daemon(masters, extra=None):
    http = free_port()
    cfg = {"masters": masters, "stateSource": "stream", "refreshSeconds": 60,
           "httpon": True, "HTTPListener": "127.0.0.1", "httpport": http}
    cfg.update(extra or {})
    d = Daemon(BUILD, cfg)
    d.http = http
    return d


# ---- DNS, fast: one datagram, no dig process (the timings are about the daemon) ----------
def lookup(port, name, qtype="A"):
    """(rcode, sorted answer data) of one UDP query; SRV data is 'port target'."""
    m = parse_msg(udp_send(port, make_query(name, qtype), timeout=1.0))
    if m is None:
        return None, []
    out = []
    for owner, rtype, _c, _ttl, rdata, off in m.answer:
        if rtype == 1:
            out.append(".".join(str(b) for b in rdata))
        elif rtype == 28:
            out.append(":".join("%x" % int.from_bytes(rdata[i:i + 2], "big")
                                for i in range(0, 16, 2)))
        elif rtype == 33:
            out.append("%d %s" % (int.from_bytes(rdata[4:6], "big"), m.name_at(off + 6)[0]))
    return m.rcode, sorted(out)


def timed(d, sent, name, want, qtype="A", timeout=5.0):
    """Wait until name answers want; returns ms from the event's sending to the answer, or None."""
    end = time.time() + timeout
    while time.time() < end:
        got = lookup(d.port, name, qtype)
        if want(got):
            return (time.monotonic() - sent) * 1000.0 if sent is not None else 0.0
        time.sleep(0.002)
    return None


def has(ips):
    return lambda got: got[0] == "NOERROR" and got[1] == sorted(ips)


def nxdomain(got):
    return got[0] == "NXDOMAIN"


# ---- whole-zone comparison: the daemon's /v1/axfr against state2zone of /master/state ----
def full_set(master, ctx=None, path=None):
    """The records state2zone builds from the master's /master/state (or from path)."""
    if path is None:
        path = os.path.join(TMP, "full-state.json")
        with open(path, "w") as f:
            json.dump(master.get("/master/state", ctx), f)
    return zone_task_set(state2zone(BUILD, path, master.hostport))


def same_zone(d, master, what, ctx=None):
    """The daemon's zone equals the full state's (pids may take one summary fetch: wait)."""
    last = {}

    def check():
        a, b = axfr_set(d.http, timeout=5), full_set(master, ctx)
        last["a"], last["b"] = a, b
        return a == b and len(a) > 0

    ok = wait_for(check, timeout=3.0, step=0.05)
    diag = None
    if not ok:
        diag = "only from the stream: %s\nonly in the full state: %s" % (
            sorted(last["a"] - last["b"])[:8], sorted(last["b"] - last["a"])[:8])
    t.ok(ok, "%s: the zone built from events equals the zone of the full /master/state "
         "(%d records)" % (what, len(last.get("a", ()))), diag)


def count(d, pattern):
    return len(re.findall(pattern, d.logtext(), re.M))


# ---- /metrics -------------------------------------------------------------------------
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
EVENT_TYPES = ("SUBSCRIBED", "TASK_ADDED", "TASK_UPDATED", "AGENT_ADDED", "AGENT_REMOVED",
               "FRAMEWORK_ADDED", "FRAMEWORK_UPDATED", "FRAMEWORK_REMOVED", "HEARTBEAT", "other")
DELAY_COUNT = ("mesosdns_stream_publish_delay_seconds_count", ())


MODEL_REBUILT = r"state: zone rebuilt from the last state \(the event stream's model\)"


def reload_ttl(d, ttl):
    """SIGHUP d with its config's ttl set to ttl."""
    d.config["ttl"] = ttl
    with open(d.config_path + ".tmp", "w") as f:
        json.dump(d.config, f)
    os.replace(d.config_path + ".tmp", d.config_path)
    d.proc.send_signal(signal.SIGHUP)


def scrape(d):
    """({(name, ((label, value), ...) sorted): value}, text) of the daemon's /metrics."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.http, timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out, text


def mval(ms, name, **labels):
    """A sample's value; None when the series is missing."""
    return ms.get((name, tuple(sorted(labels.items()))))


def events(ms):
    return {ty: mval(ms, "mesosdns_stream_events_total", type=ty) for ty in EVENT_TYPES}


def subs(ms, result):
    return mval(ms, "mesosdns_stream_subscriptions_total", result=result)


def ends(ms, reason):
    return mval(ms, "mesosdns_stream_disconnects_total", reason=reason)


def live_balance(ms):
    """ok subscriptions minus disconnects: the subscriptions live now (connected)."""
    n = sum(v for (name, _), v in ms.items() if name == "mesosdns_stream_disconnects_total")
    return subs(ms, "ok") - n


def promtool_ok(text, what):
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t.ok(p.returncode == 0 and not p.stdout.strip(), "%s: promtool check metrics" % what,
         p.stdout.decode(errors="replace"))


timings = []


def step(name, ms):
    timings.append(ms)
    print("# event -> answer: %-44s %s" % (name, "%.1f ms" % ms if ms is not None else "timeout"))


# =============================================================================
# 1. The snapshot: answers without a poll; framework pids from the summary.
# =============================================================================
M = StreamMaster()
CACHE = os.path.join(TMP, "cache.json")
d = daemon([M.hostport], {"stateCacheFile": CACHE})
t.ok(d.wait_log(STREAM_LOADED), "snapshot: the zone is loaded from the event stream", d.logtext())
t.eq(lookup(d.port, "nginx.marathon.mesos"), ("NOERROR", ["10.3.0.3"]),
     "snapshot: nginx.marathon.mesos answers from the SUBSCRIBED state")
t.ok(wait_for(lambda: lookup(d.port, "_framework._tcp.marathon.mesos", "SRV")[1] ==
              ["25501 marathon.mesos."], 3),
     "snapshot: _framework._tcp.marathon.mesos SRV (the pid, from /master/state-summary)",
     lookup(d.port, "_framework._tcp.marathon.mesos", "SRV"))
t.eq(M.requests("GET /master/state "), [], "snapshot: /master/state was never polled")
t.ok(len(M.requests("POST /api/v1")) == 1 and M.requests("GET /master/state-summary"),
     "snapshot: one SUBSCRIBE and a state-summary request", M.requests())
same_zone(d, M, "snapshot")
t.ok(wait_for(lambda: os.path.exists(CACHE), 3) and full_set(M, path=CACHE) == axfr_set(d.http, timeout=5),
     "snapshot: stateCacheFile holds the model as a /master/state that builds the same zone")
ms, text = scrape(d)
promtool_ok(text, "metrics: streaming")
t.eq(mval(ms, "mesosdns_stream_connected"), 1, "metrics: connected 1 while subscribed")
t.eq((subs(ms, "ok"), live_balance(ms)), (1, 1), "metrics: one subscription, ok, live")
ev0 = events(ms)
t.eq((ev0["SUBSCRIBED"], ev0["other"]), (1, 0), "metrics: one SUBSCRIBED event, no other")
delay0 = ms.get(DELAY_COUNT)
t.ok(delay0 is not None and delay0 >= 1, "metrics: the snapshot's publication was timed", delay0)

# =============================================================================
# 2. Scripted events, each answered over DNS; the zone equals a full rebuild.
# =============================================================================
web = {"id": "web.7c1", "name": "web", "slave_id": AGENT0, "state": "TASK_RUNNING",
       "resources": {"cpus": 0.1, "mem": 32, "ports": "[31900-31901]"},
       "statuses": [{"state": "TASK_RUNNING", "timestamp": time.time(),
                     "container_status": {"network_infos": [
                         {"ip_addresses": [{"ip_address": "10.20.0.1"}]}]}}]}
r = M.call("task_add", framework_id=MARATHON, task=web)
step("task launched (TASK_ADDED)", timed(d, r["sent"], "web.marathon.mesos", has(["10.20.0.1"])))
t.ok(timings[-1] is not None, "task launched: web.marathon.mesos answers 10.20.0.1")
t.eq([x.split()[0] for x in lookup(d.port, "_web._tcp.marathon.slave.mesos", "SRV")[1]],
     ["31900", "31901"], "task launched: its two ports as SRV records")
same_zone(d, M, "task launched")

r = M.call("task_update", framework_id=MARATHON, task_id="web.7c1", state="TASK_KILLED")
step("task killed (TASK_UPDATED)", timed(d, r["sent"], "web.marathon.mesos", nxdomain))
t.ok(timings[-1] is not None, "task killed: web.marathon.mesos is NXDOMAIN")
same_zone(d, M, "task killed")

# toy-store runs on AGENT3 (the IPv6 agent).
t.eq(lookup(d.port, "toy-store.ipv6-framework.mesos")[0], "NOERROR",
     "agent: toy-store, on AGENT3, answers")
r = M.call("agent_remove", id=AGENT3)
step("agent removed (AGENT_REMOVED)", timed(d, r["sent"], "toy-store.ipv6-framework.mesos",
                                            nxdomain))
t.ok(timings[-1] is not None, "agent removed: its task is gone (toy-store NXDOMAIN)")
same_zone(d, M, "agent removed")

r = M.call("framework_remove", id=CHRONOS)
chronos_fw = "chronoswithaspaceandmixedcase-2.0.1.mesos"
step("framework removed (FRAMEWORK_REMOVED)", timed(d, r["sent"], "some-box." + chronos_fw,
                                                    nxdomain))
t.ok(timings[-1] is not None, "framework removed: its task and name are gone")
same_zone(d, M, "framework removed")

r = M.call("framework_add", framework={"id": "fw-new-0001", "name": "spark", "hostname": "10.7.0.5",
                                       "pid": "scheduler-1@10.7.0.6:41000"})
step("framework added (FRAMEWORK_ADDED)", timed(d, r["sent"], "spark.mesos", lambda g: g[0] ==
                                                "NOERROR" and g[1]))
t.ok(wait_for(lambda: lookup(d.port, "_framework._tcp.spark.mesos", "SRV")[1] ==
              ["41000 spark.mesos."], 3) and lookup(d.port, "spark.mesos")[1] == ["10.7.0.6"],
     "framework added: its pid (state-summary) gives spark.mesos A 10.7.0.6 and the SRV",
     (lookup(d.port, "spark.mesos"), lookup(d.port, "_framework._tcp.spark.mesos", "SRV")))
same_zone(d, M, "framework added")

r = M.call("agent_add", agent={"id": "agent-new-9", "hostname": "10.8.0.9",
                               "pid": "slave(1)@10.8.0.9:5051"})
step("agent added (AGENT_ADDED)", timed(d, r["sent"], "slave.mesos",
                                        lambda g: "10.8.0.9" in g[1]))
t.ok(timings[-1] is not None, "agent added: slave.mesos has 10.8.0.9")

# A burst: 50 tasks in one write; all answer, in at most a few builds.
ops = [{"op": "task_add", "framework_id": MARATHON,
        "task": dict(web, id="burst.%d" % i, name="burst%d" % i, statuses=[
            {"state": "TASK_RUNNING", "timestamp": time.time(), "container_status": {
                "network_infos": [{"ip_addresses": [{"ip_address": "10.21.0.%d" % (i + 1)}]}]}}])}
       for i in range(50)]
builds_before = count(d, r"^\w+: state: \d+ stream events")
r = M.call("batch", ops=ops)
step("burst of 50 tasks (last one answered)", timed(d, r["sent"], "burst49.marathon.mesos",
                                                    has(["10.21.0.50"])))
t.ok(timings[-1] is not None and lookup(d.port, "burst0.marathon.mesos")[1] == ["10.21.0.1"],
     "burst: the first and the last of 50 tasks answer")
same_zone(d, M, "burst")

# Every event above was answered over DNS, so each was received: the counts are exact.
ms = scrape(d)[0]
ev1 = events(ms)
sent = {"TASK_ADDED": 1 + 50, "TASK_UPDATED": 1, "AGENT_REMOVED": 1, "FRAMEWORK_REMOVED": 1,
        "FRAMEWORK_ADDED": 1, "AGENT_ADDED": 1}
t.eq({ty: ev1[ty] - ev0[ty] for ty in EVENT_TYPES if ty != "HEARTBEAT"},
     {ty: sent.get(ty, 0) for ty in EVENT_TYPES if ty != "HEARTBEAT"},
     "metrics: events_total rose by exactly the events sent, per type")
# Seven steps changed the zone, each published after its event (the burst maybe twice).
delay1 = ms.get(DELAY_COUNT)
t.ok(delay1 is not None and delay1 - delay0 >= 7,
     "metrics: publish delay observed for each zone published from events (%s more)" %
     (delay1 - delay0 if delay1 is not None else None))
t.eq(mval(ms, "mesosdns_stream_publish_delay_seconds_bucket", le="5"), delay1,
     "metrics: every publication within 5 s of its oldest event")

# =============================================================================
# 3. Missed heartbeats and a cut stream: subscribe again, changes included.
# =============================================================================
# Events kept the stream busy so far: let a few heartbeats come first, to be counted.
wait_for(lambda: M.get("/control/stats")["heartbeats"] >= 3, 5)
M.call("heartbeats", on=False)
t0 = time.time()
t.ok(d.wait_log(r"stream: .*no heartbeat for", timeout=5),
     "heartbeats: a silent stream is noticed", d.logtext())
took = time.time() - t0
# The master is silent now (even on a new stream): its count and ours stand still.
ms = scrape(d)[0]
beats = M.get("/control/stats")["heartbeats"]
t.ok(beats >= 3 and events(ms)["HEARTBEAT"] == beats,
     "metrics: HEARTBEAT events as many as the master wrote (%s of %d)" %
     (events(ms)["HEARTBEAT"], beats))
t.eq(ends(ms, "heartbeat_timeout"), 1, "metrics: one disconnect for a heartbeat timeout")
M.call("heartbeats", on=True)
t.ok(took < 3 * HEARTBEAT + 1 + 1.5, "heartbeats: within 3 intervals + 1 s (%.2f s)" % took)
t.ok(wait_for(lambda: M.get("/control/stats")["subscribes"] >= 2, 5) and
     d.wait_log(STREAM_LOADED, count=2), "heartbeats: subscribed again, a fresh snapshot loaded",
     d.logtext())
t.eq(lookup(d.port, "burst49.marathon.mesos")[1], ["10.21.0.50"],
     "heartbeats: answers went on meanwhile")
ms = scrape(d)[0]
t.eq((mval(ms, "mesosdns_stream_connected"), subs(ms, "ok"), live_balance(ms)), (1, 2, 1),
     "metrics: connected again after the second subscription")

M.call("cut")
# Made while no stream is open: only the next snapshot can tell.
M.call("task_update", framework_id=MARATHON, task_id="burst.0", state="TASK_FAILED")
t.ok(d.wait_log(r"stream: .*the master closed the stream; subscribing again", timeout=5),
     "cut: the closed stream is noticed", d.logtext())
t.eq(ends(scrape(d)[0], "closed"), 1, "metrics: one disconnect, closed by the master")
t.ok(wait_for(lambda: lookup(d.port, "burst0.marathon.mesos")[0] == "NXDOMAIN", 5),
     "cut: subscribed again; the change made while cut is in the new snapshot")
r = M.call("task_update", framework_id=MARATHON, task_id="burst.1", state="TASK_FINISHED")
step("after a cut and resubscribe (TASK_UPDATED)", timed(d, r["sent"], "burst1.marathon.mesos",
                                                         nxdomain))
t.ok(timings[-1] is not None, "cut: events flow on the new stream")
same_zone(d, M, "after the cut")
ms = scrape(d)[0]
t.eq((mval(ms, "mesosdns_stream_connected"), subs(ms, "ok"), live_balance(ms)), (1, 3, 1),
     "metrics: connected on the third subscription")
outcomes = {dict(k[1])["result"]: v for k, v in ms.items()
            if k[0] == "mesosdns_stream_subscriptions_total" and v}
t.eq(outcomes, {"ok": 3}, "metrics: no attempt failed")
t.eq(M.requests("GET /master/state "), [], "cut: still no poll (the stream came back in time)")

# The master gone, a reload rebuilds from the model, which holds every event
# applied: the last dump to stateCacheFile was made with the snapshot's summary
# (the zone equalled /master/state, pids and all), before the task "late".
# Twice, with a new ttl each time.
r = M.call("task_add", framework_id=MARATHON, task=dict(web, id="late.1", name="late"))
t.ok(timed(d, r["sent"], "late.marathon.mesos", has(["10.20.0.1"])) is not None,
     "gone: a task launched after the last dump answers")
before = lookup(d.port, "nginx.marathon.mesos")
M.stop()
t.ok(wait_for(lambda: mval(scrape(d)[0], "mesosdns_stream_connected") == 0, 10),
     "gone: the stream is lost with its master")
for k, ttl in enumerate((30, 45)):
    reload_ttl(d, ttl)
    t.ok(d.wait_log(MODEL_REBUILT, k + 1),
         "gone: reload %d rebuilds the zone from the stream's model" % (k + 1), d.logtext())
    got = dig(d.port, "nginx.marathon.mesos")
    t.eq((got.rcode, sorted(got.data()), {a[1] for a in got.answer}),
         (before[0], before[1], {ttl}), "gone: ... the same answer, with the new ttl %d" % ttl)
    t.eq(lookup(d.port, "late.marathon.mesos"), ("NOERROR", ["10.20.0.1"]),
         "gone: ... and the task launched after the last dump")

# =============================================================================
# 4. No stream for a while: polling takes over, then rests again.
# =============================================================================
t.eq(d.stop(), 0, "gone: exits 0 on SIGTERM")
M2 = StreamMaster()
d2 = daemon([M2.hostport], {"refreshSeconds": 1})
t.ok(d2.wait_log(STREAM_LOADED), "fallback: streaming", d2.logtext())
M2.call("api", mode="503")
M2.call("cut")
t.ok(d2.wait_log(r"stream: .*HTTP 503", timeout=5), "fallback: SUBSCRIBE refused with 503",
     d2.logtext())
# The master refuses every SUBSCRIBE until told otherwise: no subscription can be live.
ms = scrape(d2)[0]
t.eq((mval(ms, "mesosdns_stream_connected"), ends(ms, "closed"), live_balance(ms)), (0, 1, 0),
     "metrics: connected 0 once the stream is cut and SUBSCRIBE refused")
t.ok(subs(ms, "http_error") >= 1, "metrics: the refused attempts count as http_error (%s)" %
     subs(ms, "http_error"))
t.ok(d2.wait_log(POLL_LOADED, timeout=6), "fallback: the state is polled meanwhile", d2.logtext())
M2.call("task_add", framework_id=MARATHON, task=dict(web, id="poll.1", name="polled"))
t.ok(wait_for(lambda: lookup(d2.port, "polled.marathon.mesos")[1] == ["10.20.0.1"], 5),
     "fallback: a change shows through the polls (refreshSeconds 1)")
t.eq(scrape(d2)[0].get(DELAY_COUNT), ms.get(DELAY_COUNT),
     "metrics: zones from polls are not counted as stream publications")
# The last zone came from a poll, newer than the stream's model: a reload takes the poll's.
n = count(d2, r"zone rebuilt from the last state for the new configuration")
reload_ttl(d2, 21)
t.ok(d2.wait_log(r"zone rebuilt from the last state for the new configuration", n + 1),
     "fallback: a reload rebuilds from the last poll's state", d2.logtext())
got = dig(d2.port, "polled.marathon.mesos")
t.eq((got.rcode, sorted(got.data()), {a[1] for a in got.answer}), ("NOERROR", ["10.20.0.1"], {21}),
     "fallback: ... the polled change, with the new ttl (not the stream's older model)")
M2.call("api", mode="ok")
t.ok(d2.wait_log(STREAM_LOADED, count=2, timeout=40), "fallback: the stream is back", d2.logtext())
ms = scrape(d2)[0]
t.eq((mval(ms, "mesosdns_stream_connected"), subs(ms, "ok")), (1, 2),
     "metrics: connected again when the stream is back")
polls = len(M2.requests("GET /master/state "))
time.sleep(2.5)     # two refresh periods: no poll may happen while the stream is up
t.eq(len(M2.requests("GET /master/state ")), polls, "fallback: polling rests again")
# No stateCacheFile here.  The zone now holds a stream event on top of the last
# polled state; with the master gone, a reload must not go back to that poll.
r = M2.call("task_add", framework_id=MARATHON, task=dict(web, id="stream.1", name="streamed"))
t.ok(timed(d2, r["sent"], "streamed.marathon.mesos", has(["10.20.0.1"])) is not None,
     "fallback: an event on the stream that came back shows")
M2.stop()
t.ok(wait_for(lambda: mval(scrape(d2)[0], "mesosdns_stream_connected") == 0, 10),
     "fallback: the stream is lost with its master")
reload_ttl(d2, 33)
t.ok(d2.wait_log(MODEL_REBUILT), "fallback: a reload rebuilds from the stream's model",
     d2.logtext())
got = dig(d2.port, "streamed.marathon.mesos")
t.eq((got.rcode, sorted(got.data()), {a[1] for a in got.answer}), ("NOERROR", ["10.20.0.1"], {33}),
     "fallback: ... with the event (not the last poll's state), and the new ttl")
t.eq(lookup(d2.port, "polled.marathon.mesos")[1], ["10.20.0.1"], "fallback: ... and the polled task")
t.eq(d2.stop(), 0, "fallback: exits 0 on SIGTERM")

# A live stream keeps /health fresh through a quiet spell longer than 3 x refreshSeconds,
# even between heartbeats (here every 10 s): the silence watchdog vouches for it.
M6 = StreamMaster(extra=("--heartbeat", "10"))
d6 = daemon([M6.hostport], {"refreshSeconds": 1})
t.ok(d6.wait_log(STREAM_LOADED), "health: streaming", d6.logtext())
time.sleep(4.2)     # the quiet spell is what is tested: no event, no heartbeat, no poll
try:
    with urllib.request.urlopen("http://127.0.0.1:%d/health" % d6.http, timeout=5) as resp:
        status = resp.status
except urllib.error.HTTPError as e:
    status = e.code
t.eq(status, 200, "health: 200 after 4.2 s without a byte from the master (limit 3 s)")
t.eq(M6.requests("GET /master/state "), [], "health: and no poll was made for it")
d6.stop()
M6.stop()

# =============================================================================
# 5. A master without the operator API (HTTP 404): polling, from the start.
# =============================================================================
M3 = StreamMaster(extra=("--api", "404"))
d3 = daemon([M3.hostport], {"refreshSeconds": 1})
t.ok(d3.wait_log(r"stream: .* has no operator API \(HTTP 404", timeout=5),
     "404: the missing operator API is logged", d3.logtext())
t.ok(d3.wait_log(POLL_LOADED, timeout=5), "404: the state is polled at once", d3.logtext())
ms, text = scrape(d3)
promtool_ok(text, "metrics: 404")
t.eq((mval(ms, "mesosdns_stream_connected"), subs(ms, "unsupported"), subs(ms, "ok"),
      ms.get(DELAY_COUNT)), (0, 1, 0, 0),
     "metrics: 404: connected 0, one unsupported attempt, no ok, no stream publication")
t.eq(lookup(d3.port, "nginx.marathon.mesos"), ("NOERROR", ["10.3.0.3"]), "404: answers from polls")
M3.call("task_add", framework_id=MARATHON, task=dict(web, id="poll.2", name="oldmaster"))
t.ok(wait_for(lambda: lookup(d3.port, "oldmaster.marathon.mesos")[1] == ["10.20.0.1"], 5),
     "404: changes arrive with the next poll")
t.eq(len(M3.requests("POST /api/v1")), 1, "404: the stream is not asked again at once")
d3.stop()
M3.stop()

# A master whose snapshots the model refuses (a SUBSCRIBED without get_state): each one is
# asked for again after a growing delay (0.5, 1, 2, 4 s...), not every half second, and
# polls serve meanwhile.
M9 = StreamMaster(extra=("--api", "nostate", "--heartbeat", "1"))
d9 = daemon([M9.hostport], {"refreshSeconds": 1})
t.ok(d9.wait_log(r"the model needs a new snapshot; subscribing again", timeout=10),
     "refused snapshot: a new subscription is asked for", d9.logtext())
t0 = time.time()
n0 = len(M9.requests("POST /api/v1"))
time.sleep(8)
n = len(M9.requests("POST /api/v1")) - n0
t.ok(1 <= n <= 5, "refused snapshot: %d SUBSCRIBEs in the 8 s after the first refusal "
     "(backoff; 17 when every connection started the backoff over)" % n)
delays = [float(x) for x in re.findall(r"model needs a new snapshot; subscribing again in "
                                       r"([\d.]+) s", d9.logtext())]
t.ok(len(delays) >= 3 and delays[-1] > 1.5,
     "refused snapshot: the delays grow (%s s)" % ", ".join("%.1f" % x for x in delays))
t.eq(lookup(d9.port, "nginx.marathon.mesos"), ("NOERROR", ["10.3.0.3"]),
     "refused snapshot: answers from polls meanwhile")
t.eq(d9.stop(), 0, "refused snapshot: exits 0 on SIGTERM")
M9.stop()

# =============================================================================
# 6. HTTPS and basic authentication apply to the stream.
# =============================================================================
cert, key = os.path.join(TMP, "master.pem"), os.path.join(TMP, "master.key")
made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                       "-keyout", key, "-out", cert], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0
t.ok(made, "tls: openssl made a certificate for 127.0.0.1")
ctx = ssl.create_default_context(cafile=cert)
M4 = StreamMaster(extra=("--tls-cert", cert, "--tls-key", key, "--basic-auth", "dns:s3cret"))
d4 = daemon([M4.hostport], {"MesosHTTPSOn": True, "CACertFile": cert,
                            "mesosAuthentication": "basic",
                            "mesosCredentials": {"principal": "dns", "secret": "s3cret"}})
t.ok(d4.wait_log(STREAM_LOADED), "tls+basic: subscribed over HTTPS with credentials", d4.logtext())
r = M4.call("task_add", ctx=ctx, framework_id=MARATHON, task=web)
step("task launched, over HTTPS", timed(d4, r["sent"], "web.marathon.mesos", has(["10.20.0.1"])))
t.ok(timings[-1] is not None, "tls+basic: events arrive")
t.eq(M4.requests("GET /master/state "), [], "tls+basic: no poll")
d4.stop()
M4.stop()

# DC/OS IAM: the token of a login (fake_master.py plays the login endpoint) goes with the
# SUBSCRIBE and the state-summary request.
iam_key, iam_pub = os.path.join(TMP, "iam.key"), os.path.join(TMP, "iam.pub")
made = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                       "rsa_keygen_bits:2048", "-out", iam_key], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0 and \
    subprocess.run(["openssl", "pkey", "-in", iam_key, "-pubout", "-out", iam_pub],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
login = FakeMaster(FAKE, extra=("--iam-public-key", iam_pub, "--iam-uid", "dcos-dns"))
iam_conf = os.path.join(TMP, "iam.json")
with open(iam_key) as fh, open(iam_conf, "w") as out:
    json.dump({"scheme": "RS256", "uid": "dcos-dns", "private_key": fh.read(),
               "login_endpoint": "http://%s/acs/api/v1/auth/login" % login.hostport}, out)
M5 = StreamMaster(extra=("--iam-uid", "dcos-dns"))
d5 = daemon([M5.hostport], {"mesosAuthentication": "iam", "IAMConfigFile": iam_conf})
t.ok(made and d5.wait_log(STREAM_LOADED), "iam: subscribed with the token of a login", d5.logtext())
t.ok(wait_for(lambda: lookup(d5.port, "_framework._tcp.marathon.mesos", "SRV")[1] ==
              ["25501 marathon.mesos."], 3), "iam: the state-summary request carried it too")
t.eq(M5.get("/control/stats")["refused"], 0, "iam: the master refused nothing")
t.eq([r for r in login.requests() if r[0] == "POST"], [("POST", "/acs/api/v1/auth/login")],
     "iam: one login")
d5.stop()
M5.stop()
login.stop()

# =============================================================================
# 7. A leader change through ZooKeeper moves the stream.
# =============================================================================

ZKPORT = free_port()
zk = ZkServer(ZKPORT)
if t.ok(zk.start(), "zk: Debian's ZooKeeper answers on 127.0.0.1:%d" % ZKPORT):
    admin = ZkSession(ZKPORT)
    admin.ensure("/mesos")
    with open(FAKE) as f:
        doc = json.load(f)
    for fw in doc["frameworks"]:
        for task in fw["tasks"]:
            for st in task.get("statuses", []):
                for label in st.get("labels", []):
                    if label["value"] == "10.3.0.3":
                        label["value"] = "10.3.0.22"
    state_b = os.path.join(TMP, "state-b.json")
    with open(state_b, "w") as f:
        json.dump(doc, f)
    A = StreamMaster(host="127.0.0.21")
    B = StreamMaster(state=state_b, host="127.0.0.22")
    sa = ZkSession(ZKPORT, timeout_ms=2000)
    sa.create("/mesos/json.info_", master_json(A.host, A.port), EPHEMERAL | SEQUENTIAL)
    sb = ZkSession(ZKPORT, timeout_ms=2000)
    sb.create("/mesos/json.info_", master_json(B.host, B.port), EPHEMERAL | SEQUENTIAL)
    dz = daemon([], {"zk": "zk://127.0.0.1:%d/mesos" % ZKPORT})
    t.ok(dz.wait_log(STREAM_LOADED + re.escape(A.hostport)), "zk: subscribed to the leader A",
         dz.logtext())
    t.eq(lookup(dz.port, "nginx.marathon.mesos")[1], ["10.3.0.3"], "zk: A's state answers")
    t0 = time.monotonic()
    sa.close()      # A's registration goes; its HTTP server (and stream) stays up
    t.ok(dz.wait_log(r"stream: the leader moved to %s" % re.escape(B.hostport), timeout=10),
         "zk: the leader change drops A's stream", dz.logtext())
    t.ok(dz.wait_log(STREAM_LOADED + re.escape(B.hostport), timeout=10),
         "zk: subscribed to the new leader B", dz.logtext())
    ms = timed(dz, t0, "nginx.marathon.mesos", has(["10.3.0.22"]))
    step("leader change (ZooKeeper) to B's answers", ms)
    t.ok(ms is not None, "zk: B's state answers (nginx 10.3.0.22)")
    t.eq(lookup(dz.port, "leader.mesos")[1], ["127.0.0.22"], "zk: leader.mesos is B")
    ms = scrape(dz)[0]
    t.eq((ends(ms, "leader_moved"), subs(ms, "ok"), mval(ms, "mesosdns_stream_connected")),
         (1, 2, 1), "metrics: zk: one disconnect as the leader moved, connected to B")
    t.eq(A.requests("GET /master/state ") + B.requests("GET /master/state "), [],
         "zk: no poll on either master")
    dz.stop()
    sb.close()
    admin.close()
    zk.stop()

# =============================================================================
# 8. A reload while the snapshot is with the builder (a state big enough to take
#    seconds): the reload waits for that job, then rebuilds from the model.
# =============================================================================
subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_state.py"), "--tasks", "20000",
                "--queries", "10", TMP], check=True, stdout=subprocess.DEVNULL)
BIG = os.path.join(TMP, "state-20000.json")
M7 = StreamMaster(state=BIG, extra=("--heartbeat", "0"))   # no beat missed while it sends 35 MB
CACHE7 = os.path.join(TMP, "cache7.json")
for k, (ttl, what) in enumerate(((30, "no zone yet"), (20, "a cached zone"))):
    d7 = daemon([M7.hostport], {"ttl": 60, "stateCacheFile": CACHE7, "stateTimeoutSeconds": 120})
    if k:
        t.ok(d7.wait_log(r"state: loaded from stateCacheFile", timeout=60),
             "snapshot reload: %s: the cached state is served first" % what, d7.logtext())
    t.ok(d7.wait_log(r"stream: snapshot from", timeout=60), "snapshot reload: %s: a snapshot" % what,
         d7.logtext())
    reload_ttl(d7, ttl)
    t.ok(d7.wait_log(MODEL_REBUILT, timeout=120),
         "snapshot reload: %s: the zone is rebuilt from the model after the snapshot" % what,
         d7.logtext())
    got = dig(d7.port, "leader.mesos")
    t.eq({a[1] for a in got.answer}, {ttl}, "snapshot reload: %s: ... with the new ttl" % what)
    t.ok("cannot rebuild" not in d7.logtext(), "snapshot reload: %s: no failed rebuild" % what,
         d7.logtext())
    t.ok(wait_for(lambda: os.path.exists(CACHE7), 30), "snapshot reload: %s: the cache is written" % what)
    t.eq(d7.stop(), 0, "snapshot reload: %s: exits 0 on SIGTERM" % what)
M7.stop()

# =============================================================================
# 9. A reload that sets stateFile on a stream daemon: the stream was set up at
#    start, and only because no stateFile was set; the file waits for a restart
#    (it must not take over whenever the stream is down).
# =============================================================================
M8 = StreamMaster()
d8 = daemon([M8.hostport], {"refreshSeconds": 1})
t.ok(d8.wait_log(STREAM_LOADED), "stateFile reload: streaming", d8.logtext())
static = os.path.join(TMP, "static-state.json")
with open(FAKE) as f, open(static, "w") as out:
    out.write(f.read().replace("10.3.0.3", "10.9.9.9"))
d8.config["stateFile"] = static
with open(d8.config_path + ".tmp", "w") as f:
    json.dump(d8.config, f)
os.replace(d8.config_path + ".tmp", d8.config_path)
d8.proc.send_signal(signal.SIGHUP)
t.ok(d8.wait_log(r"reload: stateFile \(set or cleared with stateSource \"stream\"\) changed; "
                 r"this needs a restart"), "stateFile reload: logged as needing a restart",
     d8.logtext())
with urllib.request.urlopen("http://127.0.0.1:%d/v1/config" % d8.http, timeout=5) as resp:
    t.eq(json.loads(resp.read()).get("stateFile"), "", "stateFile reload: /v1/config shows the "
         "running value")
M8.call("api", mode="503")
M8.call("cut")
t.ok(d8.wait_log(POLL_LOADED, timeout=8), "stateFile reload: with the stream down, the master is "
     "polled", d8.logtext())
time.sleep(1.5)
t.eq(lookup(d8.port, "nginx.marathon.mesos"), ("NOERROR", ["10.3.0.3"]),
     "stateFile reload: ... and its state answers, not the file's")
t.eq(d8.stop(), 0, "stateFile reload: exits 0 on SIGTERM")
M8.stop()

# =============================================================================
# 10. Events the model cannot apply (a master's stream that lost one): the model is
#     dropped until a new snapshot, and events queued behind that one on the same
#     connection with it.  The bad event comes right after a 20,000-task snapshot
#     (one job, about a second), the next event while that job runs; the master
#     refuses the resubscription, so only a poll can build the zone.
# =============================================================================
with open(BIG) as f:
    big = json.load(f)
bfw = next(fw for fw in big["frameworks"] if fw["name"] == "marathon")
btask = next(x for x in bfw["tasks"] if x["state"] == "TASK_RUNNING")
del big
M9 = StreamMaster(state=BIG, extra=("--heartbeat", "0"))
lost = {"type": "TASK_UPDATED", "task_updated": {
    "framework_id": {"value": bfw["id"]}, "state": "TASK_RUNNING",
    "status": {"task_id": {"value": "never-added.1"}, "state": "TASK_RUNNING",
               "agent_id": {"value": btask["slave_id"]}}}}
ghost = {k: v for k, v in btask.items() if k != "discovery"}
ghost.update(id="ghost.1", name="ghost")
M9.call("on_subscribe", events=[lost], delay=0.05, later=[{"type": "TASK_ADDED", "task_added": {
    "task": task_v1(ghost, bfw["id"])}}], api="503")
d9 = daemon([M9.hostport], {"refreshSeconds": 5, "stateTimeoutSeconds": 120, "logLevel": "debug"})
t.ok(d9.wait_log(r"stream: the events no longer match the model", timeout=60),
     "desync: the event for a task never added is found out", d9.logtext())
t.ok(d9.wait_log(r"stream: 1 records of connection \d+ dropped", timeout=5),
     "desync: the event queued behind it is dropped", d9.logtext())
seen = wait_for(lambda: lookup(d9.port, "ghost.marathon.mesos")[0] == "NOERROR", 3)
t.ok(not seen, "desync: the event after it on that connection is not applied (no zone from "
     "the stale model)", d9.logtext())
t.ok(d9.wait_log(POLL_LOADED, timeout=30), "desync: with no new snapshot, a poll builds the zone",
     d9.logtext())
t.eq(lookup(d9.port, "ghost.marathon.mesos")[0], "NXDOMAIN",
     "desync: ... without the event the master never applied")
t.eq(count(d9, r"no longer match"), 1, "desync: logged once")
t.ok(STREAM_LOADED not in d9.logtext() and "stream events" not in d9.logtext(),
     "desync: no zone was built from the stream", d9.logtext())
t.eq(d9.stop(), 0, "desync: exits 0 on SIGTERM")
M9.stop()

# =============================================================================
# 11. Polled, then streamed (the same state: the zone comes out the same), then
#     polled again once the stream is lost: that poll builds and keeps its state
#     (a reload rebuilds from it), and the stream's model is let go.  Frameworks
#     without pids: the snapshot's zone is whole (no summary to wait for).
# =============================================================================
with open(FAKE) as f:
    nopid = json.load(f)
for fw in nopid["frameworks"]:
    fw.pop("pid", None)
NOPID = os.path.join(TMP, "nopid.json")
with open(NOPID, "w") as f:
    json.dump(nopid, f)
M10 = StreamMaster(state=NOPID, extra=("--api", "503"))
d10 = daemon([M10.hostport], {"refreshSeconds": 1})
t.ok(d10.wait_log(POLL_LOADED, timeout=10), "poll, stream, poll: polled first", d10.logtext())
M10.call("api", mode="ok")
t.ok(d10.wait_log(STREAM_LOADED, timeout=20), "poll, stream, poll: then streamed", d10.logtext())
t.ok(re.search(STREAM_LOADED + r".*\(unchanged\)", d10.logtext()),
     "poll, stream, poll: the stream's zone is the polled one", d10.logtext())
M10.call("api", mode="503")
M10.call("cut")
n = count(d10, POLL_LOADED)
t.ok(d10.wait_log(POLL_LOADED, count=n + 1, timeout=10), "poll, stream, poll: polled again",
     d10.logtext())
t.ok(d10.wait_log(r"the event stream's model is dropped for the polled state", timeout=5),
     "poll, stream, poll: the model is let go once a poll built the zone", d10.logtext())
reload_ttl(d10, 44)
t.ok(d10.wait_log(r"zone rebuilt from the last state for the new configuration", timeout=10),
     "poll, stream, poll: a reload rebuilds from the poll's state", d10.logtext())
t.ok("no state to rebuild" not in d10.logtext(), "poll, stream, poll: ... which was kept",
     d10.logtext())
t.eq({a[1] for a in dig(d10.port, "nginx.marathon.mesos").answer}, {44},
     "poll, stream, poll: ... with the new ttl")
t.eq(d10.stop(), 0, "poll, stream, poll: exits 0 on SIGTERM")
M10.stop()

good = [x for x in timings if x is not None]
if good:
    print("# event -> answer over %d steps: max %.1f ms, mean %.1f ms" %
          (len(good), max(good), sum(good) / len(good)))
t.done()
