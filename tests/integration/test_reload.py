#!/usr/bin/env python3
"""tests/integration/test_reload.py -- SIGHUP re-reads the config and applies it live.

Under load (a UDP client keeping queries in flight) no query is lost and the
answers switch to the new config; an invalid config keeps the running one; a
storm of SIGHUPs is survived; the zone follows domain and SOA changes at
once; masters, forwarding, recurseFrom and logLevel change live; keys that
need a restart keep their running value and say so.
"""
import json
import os
import re
import select
import signal
import socket
import struct
import time
import urllib.request

from harness import (DATA, Daemon, FakeMaster, Tap, build_dir, dig, free_port, make_query,
                     parse_msg, tcp_connect, tcp_recv_msg, wait_for)
from upstreams import FakeUpstream

BUILD = build_dir()
STATE = os.path.join(DATA, "fake.json")
t = Tap()


def rewrite(d, **changes):
    """Write d's config file again with changes (None deletes a key)."""
    for k, v in changes.items():
        if v is None:
            d.config.pop(k, None)
        else:
            d.config[k] = v
    tmp = d.config_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(d.config, f)
    os.replace(tmp, d.config_path)


def hup(d, expect="done", timeout=10):
    """SIGHUP d and wait for the reload's outcome line ("done" or "failed")."""
    rx = r"main: reload done|main: reload: nothing else changed" if expect == "done" \
        else r"main: reload failed"
    n = len(re.findall(rx, d.logtext()))
    d.proc.send_signal(signal.SIGHUP)
    return d.wait_log(rx, n + 1, timeout)


def hup_rebuild(d):
    """SIGHUP d and wait for the reload and for the zone rebuilt after it."""
    n = len(re.findall(r"zone rebuilt from the last state", d.logtext()))
    return hup(d) and d.wait_log(r"zone rebuilt from the last state", n + 1)


def ttl_of(port, name="leader.mesos"):
    r = dig(port, name)
    return r.answer[0][1] if r.rcode == "NOERROR" and r.answer else None


class Load:
    """UDP queries for one name with at most `window` in flight, paced to
    about `qps`; every reply is kept with the time its query was sent."""

    def __init__(self, port, name="leader.mesos", total=4000, qps=2000, window=32):
        self.port, self.total, self.qps, self.window = port, total, qps, window
        self.qname = name
        self.sent = {}      # id -> send time
        self.replies = {}   # id -> (send time, rcode, ttl)

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        t0 = time.time()
        nxt = 0
        last_progress = time.time()
        while len(self.replies) < self.total and time.time() - last_progress < 3:
            now = time.time()
            while (nxt < self.total and len(self.sent) - len(self.replies) < self.window
                   and nxt <= (now - t0) * self.qps):
                s.sendto(make_query(self.qname, "A", qid=nxt), ("127.0.0.1", self.port))
                self.sent[nxt] = time.time()
                nxt += 1
            r, _, _ = select.select([s], [], [], 0.002)
            while r:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                m = parse_msg(data)
                if m and m.id in self.sent and m.id not in self.replies:
                    ttl = m.answer[0][3] if m.answer else None
                    self.replies[m.id] = (self.sent[m.id], m.rcode, ttl)
                    last_progress = time.time()
        s.close()

    def lost(self):
        return sorted(set(range(self.total)) - set(self.replies))


def run_load_with(port, action, **kw):
    """Run a Load in a thread while action() runs; returns the Load."""
    import threading
    ld = Load(port, **kw)
    th = threading.Thread(target=ld.run)
    th.start()
    wait_for(lambda: len(ld.replies) > ld.total // 4, 10)
    action(ld)
    th.join(30)
    return ld


# ---- 1. ttl 60 -> 30 under load -------------------------------------------------
d = Daemon(BUILD, {"stateFile": STATE, "ttl": 60, "refreshSeconds": 3600})
t.ok(d.wait_loaded(), "daemon loaded the state", d.logtext())
port = d.port
t.eq(ttl_of(port), 60, "answers carry ttl 60 before the reload")

marks = {}


def reload_ttl30(ld):
    rewrite(d, ttl=30)
    marks["hup"] = time.time()
    d.proc.send_signal(signal.SIGHUP)
    ok = d.wait_log(r"zone rebuilt from the last state", 1, 10)
    marks["applied"] = time.time()
    marks["ok"] = ok


ld = run_load_with(port, reload_ttl30, total=4000, qps=2000)
t.ok(marks.get("ok"), "SIGHUP rebuilt the zone from the last state", d.logtext())
t.eq(ld.lost(), [], "no query lost across the reload (%d queries over %.1f s)" % (
    ld.total, max(v[0] for v in ld.replies.values()) - min(v[0] for v in ld.replies.values())
    if ld.replies else 0))
t.eq(sorted(set(v[1] for v in ld.replies.values())), ["NOERROR"], "every answer NOERROR")
before = [v[2] for v in ld.replies.values() if v[0] < marks["hup"]]
after = [v[2] for v in ld.replies.values() if v[0] > marks["applied"]]
t.ok(before and set(before) == {60}, "queries sent before SIGHUP: ttl 60 (%d)" % len(before))
t.ok(after and set(after) == {30}, "queries sent once the rebuild was logged: ttl 30 (%d)" % len(after),
     sorted(set(after)))
t.ok(set(v[2] for v in ld.replies.values()) <= {60, 30}, "no other ttl seen")
t.ok("main: reload: changed: ttl" in d.logtext(), "the log names the changed key")

# ---- 2. an invalid config keeps the running one -----------------------------------
with open(d.config_path, "w") as f:
    f.write('{"stateFile": "%s", "ttl": 20, ' % STATE)   # cut short: a JSON error
t.ok(hup(d, "failed"), "a config with a JSON error: reload failed is logged")
t.ok("the running configuration stays" in d.logtext() and "line 1" in d.logtext(),
     "the log says why (the parser's line) and that the old config stays")
t.eq(ttl_of(port), 30, "the running config (ttl 30) still answers")
rewrite(d, ttl=-1)
t.ok(hup(d, "failed"), "an out-of-range value: reload failed")
t.ok('config: ttl: -1' in d.logtext(), "naming the key and value", d.logtext()[-600:])
t.eq(ttl_of(port), 30, "still ttl 30")
t.eq(d.proc.poll(), None, "the daemon keeps running")

# ---- 3. SIGHUP storm under load ---------------------------------------------------
def storm(ld):
    for i in range(20):
        rewrite(d, ttl=31 + i % 3)
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    rewrite(d, ttl=45)
    d.proc.send_signal(signal.SIGHUP)


ld = run_load_with(port, storm, total=4000, qps=2000)
t.eq(d.proc.poll(), None, "20 SIGHUPs in a second: the daemon is alive")
t.eq(ld.lost(), [], "no query lost during the storm (%d queries)" % ld.total)
t.eq(sorted(set(v[1] for v in ld.replies.values())), ["NOERROR"], "every answer NOERROR")
t.ok(set(v[2] for v in ld.replies.values()) <= {30, 31, 32, 33, 45},
     "only ttls of configs written were served", sorted(set(v[2] for v in ld.replies.values())))
t.ok(wait_for(lambda: ttl_of(port) == 45, 10), "the last config wins: ttl 45")

# ---- 4. SOA fields and the domain ---------------------------------------------------
serial0 = dig(port, "mesos", "SOA").answer[0][3].split()[2]
rewrite(d, SOARefresh=77, SOAMinttl=5)
t.ok(hup_rebuild(d), "SOA fields reloaded")
soa = dig(port, "mesos", "SOA")
fields = soa.answer[0][3].split() if soa.answer else []
t.ok(len(fields) == 7 and fields[3] == "77" and fields[6] == "5",
     "the SOA has the new REFRESH and MINIMUM", soa.text)
t.ok(fields and int(fields[2]) > int(serial0), "and a higher serial")
rewrite(d, domain="dc1.example")
t.ok(hup_rebuild(d), "domain reloaded")
soa = dig(port, "dc1.example", "SOA")
t.ok(soa.rcode == "NOERROR" and len(soa.answer) == 1 and soa.answer[0][0] == "dc1.example.",
     "the zone is rebuilt under the new apex", soa.text)
t.eq(dig(port, "leader.dc1.example").data(), ["1.2.3.4"], "names are served under the new domain")
t.eq(dig(port, "leader.mesos").rcode, "REFUSED", "the old domain is outside now (forwarding off: REFUSED)")
d.stop()

# ---- 5. restart-only keys and logLevel ----------------------------------------------
http = free_port()
d = Daemon(BUILD, {"stateFile": STATE, "httpon": True, "HTTPListener": "127.0.0.1",
                   "httpport": http})
t.ok(d.wait_loaded(), "daemon with HTTP loaded")
port = d.port
newport = free_port()
conn = tcp_connect(port)
conn.sendall(struct.pack("!H", len(make_query())) + make_query())
first = parse_msg(tcp_recv_msg(conn))
rewrite(d, port=newport, workers=1, logLevel="debug")
t.ok(hup(d), "reload with port, workers and logLevel changed")
conn.sendall(struct.pack("!H", len(make_query("leader.mesos"))) + make_query("leader.mesos"))
second = parse_msg(tcp_recv_msg(conn))
conn.close()
t.ok(first and second and second.rcode == "NOERROR" and second.answer,
     "a TCP connection open across the reload keeps being answered")
t.ok("port, workers changed; this needs a restart" in d.logtext(),
     "port and workers are reported as needing a restart", d.logtext()[-800:])
t.eq(dig(port, "leader.mesos").data(), ["1.2.3.4"], "still answering on the old port")
t.eq(dig(newport, "leader.mesos", timeout=1).rcode, None, "nothing bound on the new port")
cfg = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/config" % http, timeout=5))
t.ok(cfg.get("port") == port and cfg.get("logLevel") == "debug",
     "/v1/config shows the running port and the new logLevel", cfg)
t.ok(d.wait_log(r"^debug: http: GET /v1/config", 1, 5), "logLevel debug applies at once")
d.stop()

# ---- 6. masters: a changed list fetches at once ----------------------------------
master = FakeMaster(STATE)
dead = "127.0.0.1:%d" % free_port()
d = Daemon(BUILD, {"masters": [dead], "refreshSeconds": 3600})
t.ok(d.wait_log(r"state: refresh failed", 1), "no master answers at first")
t.eq(dig(d.port, "leader.mesos").rcode, "SERVFAIL", "no zone yet: SERVFAIL in the domain")
rewrite(d, masters=[master.hostport])
t0 = time.time()
t.ok(hup(d) and d.wait_loaded(1, 10), "new masters: the state is fetched at once")
t.ok(time.time() - t0 < 10, "well before refreshSeconds (3600 s)")
t.ok(dig(d.port, "leader.mesos").rcode == "NOERROR", "the zone is served")
d.stop()
master.stop()

# ---- 7. forwarding: resolvers and recurseFrom --------------------------------------
up_silent = FakeUpstream("silent")
up_a = FakeUpstream("answer", ip="192.0.2.201")
up_b = FakeUpstream("answer", ip="192.0.2.211")
d = Daemon(BUILD, {"stateFile": STATE, "externalon": True, "resolvers": [up_silent.addr],
                   "timeout": 2, "recurseFrom": ["127.0.0.0/8"], "httpon": True,
                   "HTTPListener": "127.0.0.1", "httpport": free_port()})
t.ok(d.wait_loaded(), "daemon with forwarding loaded")
port = d.port
# A query is out to the silent resolver while the settings change.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(make_query("inflight.example", "A", qid=77), ("127.0.0.1", port))
wait_for(lambda: up_silent.count() >= 1, 5)
rewrite(d, resolvers=[up_a.addr])
t.ok(hup(d), "resolvers changed")
r = dig(port, "www.example")
t.eq(r.data(), ["192.0.2.201"], "new queries go to the new resolver")
try:
    m = parse_msg(s.recvfrom(4096)[0])
except socket.timeout:
    m = None
t.ok(m is not None and m.id == 77 and m.rcode == "SERVFAIL",
     "the query in flight to the old resolver still gets its answer (SERVFAIL after its timeout)")
s.close()
t.ok(up_a.count() == 1, "one query reached the new resolver so far")
rewrite(d, resolvers=[up_silent.addr, up_a.addr])
t.ok(hup(d), "resolvers: the silent one (timed out, marked down) first again")
t0 = time.time()
r = dig(port, "www2.example", timeout=5)
took = time.time() - t0
t.ok(r.data() == ["192.0.2.201"] and took < 1.5,
     "the resolver stays marked down across the reload: answered in %.2f s, not after its 2 s timeout"
     % took, r.text)
metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.config["httpport"],
                                 timeout=5).read().decode()
m = re.search(r'^mesosdns_forward_queries_total\{upstream="%s"\} (\d+)' % re.escape(up_a.addr),
              metrics, re.M)
t.ok(m and int(m.group(1)) == 2, "its per-upstream counter counts the queries of both settings",
     [l for l in metrics.splitlines() if "forward_queries_total" in l])
rewrite(d, recurseFrom=["10.0.0.0/8"])
t.ok(hup(d), "recurseFrom changed")
t.eq(dig(port, "www.example").rcode, "REFUSED", "127.0.0.1 may no longer forward: REFUSED")
rewrite(d, recurseFrom=["127.0.0.0/8"], resolvers=[up_b.addr])
t.ok(hup(d), "recurseFrom and resolvers changed again")
t.eq(dig(port, "www.example").data(), ["192.0.2.211"], "forwarded to the newest resolver")
rewrite(d, externalon=False)
t.ok(hup(d), "externalon turned off")
t.eq(dig(port, "www.example").rcode, "REFUSED", "outside names: REFUSED")
t.eq(dig(port, "leader.mesos").data(), ["1.2.3.4"], "the domain is still answered")
metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.config["httpport"],
                                 timeout=5).read().decode()
fwd_total = [l for l in metrics.splitlines() if l.startswith("mesosdns_forward_requests_total")]
rewrite(d, externalon=True)
t.ok(hup(d), "externalon back on")
t.eq(dig(port, "www.example").data(), ["192.0.2.211"], "forwarding again")
metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.config["httpport"],
                                 timeout=5).read().decode()
line = [l for l in metrics.splitlines() if l.startswith("mesosdns_forward_requests_total")]
t.ok(line and int(float(line[0].split()[-1])) >= 4,
     "forwarded queries counted across the replaced settings (totals carried over)", line + fwd_total)
d.stop()
for u in (up_silent, up_a, up_b):
    u.stop()

# ---- 8. a polled or cached state rebuilds with its master gone --------------------
# The builder keeps the parsed state of a polled or cached build (not its text),
# and a reload rebuilds from it without asking a master.  Twice: the first
# rebuild must leave the kept state for the next.
TASK = "some-box.chronoswithaspaceandmixedcase-2.0.1.mesos"


def answers(port):
    return {n: sorted(dig(port, n).data()) for n in (TASK, "leader.mesos")}


def rebuilds_twice(d, what, before):
    """Reload d twice with a new ttl; each time the zone is rebuilt from the kept state."""
    for k, ttl in enumerate((30, 45)):
        rewrite(d, ttl=ttl)
        t.ok(hup_rebuild(d), "%s: reload %d rebuilds from the kept state" % (what, k + 1),
             d.logtext())
        t.eq(ttl_of(d.port), ttl, "%s: ... with the new ttl %d" % (what, ttl))
        t.eq(answers(d.port), before, "%s: ... and the same records" % what)


master = FakeMaster(STATE)
cdir = os.path.join(master.dir, "cache")
os.mkdir(cdir)
cache = os.path.join(cdir, "state.json")
d = Daemon(BUILD, {"masters": [master.hostport], "refreshSeconds": 3600, "ttl": 60,
                   "stateCacheFile": cache})
t.ok(d.wait_loaded(1, 10), "polled: the state is loaded from the master", d.logtext())
before = answers(d.port)
t.ok(all(before.values()), "polled: the task and the leader are answered", before)
t.ok(wait_for(lambda: os.path.exists(cache), 5), "polled: stateCacheFile is written")
master.stop()
rebuilds_twice(d, "polled, master gone", before)
t.eq(len(re.findall(r"state: loaded from", d.logtext())), 1, "polled: no other load")
t.eq(d.stop(), 0, "polled: exits 0 on SIGTERM (under ASan: no leak, no use after free)")

dead = "127.0.0.1:%d" % free_port()
d = Daemon(BUILD, {"masters": [dead], "refreshSeconds": 3600, "ttl": 60, "stateCacheFile": cache})
t.ok(d.wait_log(r"answering from the cached state", 1, 10), "cached: served from stateCacheFile",
     d.logtext())
t.eq(answers(d.port), before, "cached: the same records")
rebuilds_twice(d, "cached, no master", before)
t.eq(d.stop(), 0, "cached: exits 0 on SIGTERM")
master.cleanup()

# ---- 9. a reload while the secondaries are asked for their serials -------------------
# With notify set, the daemon first asks the secondaries which serials they hold
# (up to a second when one is silent) and only then starts: the stateCacheFile
# job, then the first poll.  A refresh asked for in that second (here a reload
# naming a new master; ZooKeeper's first leader is the other case) waits for
# that start.  It used to start a poll at once, which the start then ran the
# cache job beside: two builds on the same previous zone (a use after free
# under ASan), and the older cached state published over the master's.
master = FakeMaster(STATE)
old = json.load(open(STATE))
for fw in old["frameworks"]:
    if fw["name"] == "marathon":
        fw["name"] = "oldmarathon"
cdir = os.path.join(master.dir, "cache9")
os.mkdir(cdir)
cache = os.path.join(cdir, "state.json")
with open(cache, "w") as f:
    json.dump(old, f)
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # a secondary that never answers
silent.bind(("127.0.0.1", 0))
dead = "127.0.0.1:%d" % free_port()
d = Daemon(BUILD, {"masters": [dead], "refreshSeconds": 3600, "stateCacheFile": cache,
                   "notify": ["127.0.0.1:%d" % silent.getsockname()[1]]})
t.ok(d.wait_log(r"main: |dns: |http: ", 1, 10), "probe: the daemon is up", d.logtext())
rewrite(d, masters=[master.hostport])
t.ok(hup(d), "probe: the reload is taken", d.logtext())
t.ok(d.wait_log(r"notify: no serial from the secondaries", 1, 10) and
     d.wait_log(r"state: loaded from " + re.escape(master.hostport), 1, 10),
     "probe: the probe ends, then the master's state loads", d.logtext())
log = d.logtext()


def first(rx):
    m = re.search(rx, log, re.M)
    return m.start() if m else -1


reload_at, probe_at = first(r"main: reload done"), first(r"notify: no serial from the secondaries")
cached_at = first(r"answering from the cached state")
loaded_at = first(r"state: loaded from " + re.escape(master.hostport))
t.ok(0 <= reload_at < probe_at, "probe: the reload came while the secondaries were asked", log)
t.ok(0 <= probe_at < cached_at < loaded_at,
     "probe: nothing built before the start; the cached state, then the master's", log)
t.eq(len(re.findall(r"answering from the cached state", log)), 1, "probe: the cache is read once")
t.ok(wait_for(lambda: dig(d.port, "nginx.marathon.mesos").rcode == "NOERROR", 5) and
     dig(d.port, "nginx.oldmarathon.mesos").rcode == "NXDOMAIN",
     "probe: the master's state is served, not the cached one")
t.eq(d.stop(), 0, "probe: exits 0 on SIGTERM (under ASan: no use after free)")
silent.close()
master.cleanup()

t.done()
