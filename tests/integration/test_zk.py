#!/usr/bin/env python3
"""tests/integration/test_zk.py -- leader detection through a real ZooKeeper, and every outage.

One Debian ZooKeeper server (standalone, loopback, free port) for the whole file;
"masters" are fake_master.py HTTP servers on their own loopback addresses
(127.0.0.1x), each registered as an ephemeral sequential json.info_ (or old
protobuf info_) node held by a live session (tests/integration/zkclient.py).
Cases: the initial leader and masterN records, the leader's session closing or
timing out (the next master's records, fetched at once, not at the refresh
timer), ZooKeeper killed (answers go on, degraded after zkDetectionTimeout,
/health says so) and restarted (detection resumes), the daemon's session
expired (a fresh ZooKeeper), one ensemble member dead at start, the whole
ensemble down at start, info_ nodes only, masters failing in every way, a
follower naming another leader, a restart with every master down and a
stateCacheFile, a hanging leader replaced, and masters and agents known only
by hostname.
Waits are on the daemon's log lines, never fixed sleeps.
"""
import json
import os
import re
import signal
import tempfile
import time

from harness import DATA, Daemon, FakeMaster, Tap, build_dir, dig, free_port, health, wait_for
from zkclient import (EPHEMERAL, SEQUENTIAL, ZkServer, ZkSession, master_json, master_protobuf,
                      session_known)

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
TMP = tempfile.mkdtemp(prefix="test-zk-")
t = Tap()

FAILED = r"^\w+: state: refresh failed"
SESSION_MS = 2000            # the masters' sessions: a dropped one ends in ~2 s

# ---- states ------------------------------------------------------------------
_nstates = 0


def make_state(nginx_ip, edit=None):
    """fake.json with the nginx task's IP set (and edit(doc) applied); returns a path."""
    global _nstates
    with open(FAKE) as f:
        doc = json.load(f)
    for fw in doc["frameworks"]:
        for task in fw["tasks"]:
            if task["name"] == "nginx":
                for st in task["statuses"]:
                    for label in st.get("labels", []):
                        if label["key"] == "MesosContainerizer.NetworkSettings.IPAddress":
                            label["value"] = nginx_ip
    if edit:
        edit(doc)
    _nstates += 1
    path = os.path.join(TMP, "state%d.json" % _nstates)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def a(d, name, rtype="A"):
    return dig(d.port, name, rtype).data("ANSWER", rtype)


def nginx(d):
    return a(d, "nginx.marathon.mesos")


def srv_ports(d, name):
    return sorted(int(r.split()[2]) for r in dig(d.port, name, "SRV").data("ANSWER", "SRV"))


def count(d, pattern):
    return len(re.findall(pattern, d.logtext(), re.M))


def last_line(d, pattern):
    lines = [l for l in d.logtext().splitlines() if re.search(pattern, l)]
    return lines[-1] if lines else ""


def esc(hp):
    return re.escape(hp)


# ---- ZooKeeper and masters ------------------------------------------------------
ZKPORT = free_port()
zk = ZkServer(ZKPORT)
if not t.ok(zk.start(), "ZooKeeper (Debian's) answers ruok on 127.0.0.1:%d" % ZKPORT):
    t.done()
admin = ZkSession(ZKPORT)


class Master:
    """A fake master on host (port 0: free) registered under path; nginx answers nginx_ip."""

    def __init__(self, path, host, nginx_ip, kind="json", leader=None, port=0, register=True,
                 state=None):
        extra = ("--leader", leader) if leader else ()
        self.fm = FakeMaster(state or make_state(nginx_ip), extra=extra, host=host, port=port,
                             rewrite=leader is None)
        self.host, self.port, self.nginx = host, self.fm.port, nginx_ip
        self.hostport = "%s:%d" % (host, self.port)
        self.path, self.kind = path, kind
        self.sess = None
        if register:
            self.register()

    def register(self, zkport=None):
        self.sess = ZkSession(zkport or ZKPORT, timeout_ms=SESSION_MS)
        if self.kind == "json":
            data = master_json(self.host, self.port, mid="m-%s" % self.hostport)
            name = "/json.info_"
        else:
            data = master_protobuf(self.host, self.port, mid="m-%s" % self.hostport)
            name = "/info_"
        self.node = self.sess.create(self.path + name, data, EPHEMERAL | SEQUENTIAL)

    def quit(self):
        """The master goes away: its session closes (node gone at once), HTTP stops."""
        if self.sess:
            self.sess.close()
        self.fm.stop()

    def crash(self):
        """The master dies without a word: its node goes when the session times out."""
        if self.sess:
            self.sess.drop()
        self.fm.stop()


def zk_daemon(path, extra=None, zkhosts=None):
    cfg = {"zk": "zk://%s%s" % (zkhosts or "127.0.0.1:%d" % ZKPORT, path),
           "refreshSeconds": 30, "zkDetectionTimeout": 2}
    cfg.update(extra or {})
    return Daemon(BUILD, cfg)


def leading(hp):
    return r"zk: leading master is %s \(" % esc(hp)


def loaded_from(hp):
    return r"state: loaded from %s:" % esc(hp)


# =============================================================================
# 1. The initial leader; leader.mesos and master0..2.
# =============================================================================
admin.ensure("/mesos")
A = Master("/mesos", "127.0.0.11", "10.3.0.11")
B = Master("/mesos", "127.0.0.12", "10.3.0.12")
C = Master("/mesos", "127.0.0.13", "10.3.0.13")
t.ok(A.node < B.node < C.node, "setup: three masters registered in order", (A.node, B.node, C.node))
admin.create("/mesos/log_replicas")         # a child Mesos also keeps there: ignored
HTTP = free_port()
d = zk_daemon("/mesos", {"httpon": True, "HTTPListener": "127.0.0.1", "httpport": HTTP})
t.ok(d.wait_log(leading(A.hostport)), "initial: the lowest json.info_ is the leader", d.logtext())
t.ok(d.wait_log(loaded_from(A.hostport)), "initial: the leader's state is loaded", d.logtext())
t.eq(nginx(d), ["10.3.0.11"], "initial: nginx.marathon.mesos answers the leader's 10.3.0.11")
t.eq(a(d, "leader.mesos"), ["127.0.0.11"], "initial: leader.mesos A 127.0.0.11")
t.eq(srv_ports(d, "_leader._tcp.mesos"), [A.port], "initial: _leader._tcp.mesos SRV port")
t.eq([a(d, "master%d.mesos" % i) for i in range(4)],
     [["127.0.0.11"], ["127.0.0.12"], ["127.0.0.13"], []],
     "initial: master0..2.mesos are the registered masters, leader first; no master3")
t.eq(a(d, "master.mesos"), ["127.0.0.11", "127.0.0.12", "127.0.0.13"],
     "initial: master.mesos has every registered master")
t.ok("3 masters registered" in last_line(d, r"zk: leading master"),
     "initial: the log counts the registered masters", last_line(d, r"zk: leading master"))
t.eq(count(d, r"log_replicas"), 0, "initial: log_replicas is ignored silently")
t.eq(B.fm.requests() + C.fm.requests(), [], "initial: only the leader was asked")
t.eq(count(d, r"^(?!debug).*zk: client:"), 0,
     "initial: the ZooKeeper C client's own lines stay out of the log (debug only)")

# =============================================================================
# 2. The leader's session ends -> the next master, fetched at once.
# =============================================================================
t0 = time.time()
A.quit()
got = d.wait_log(loaded_from(B.hostport), timeout=32)
took = time.time() - t0
t.ok(got and d.wait_log(leading(B.hostport), timeout=0.1),
     "failover: after the leader's session closed, B leads and its state is loaded", d.logtext())
t.ok(took < 3.0, "failover: in %.2f s, long before refreshSeconds (30): a leader change "
     "fetches at once" % took)
t.eq(nginx(d), ["10.3.0.12"], "failover: nginx.marathon.mesos answers B's 10.3.0.12")
t.eq(a(d, "leader.mesos"), ["127.0.0.12"], "failover: leader.mesos A 127.0.0.12")
t.eq([a(d, "master%d.mesos" % i) for i in range(3)], [["127.0.0.12"], ["127.0.0.13"], []],
     "failover: master0/1 are the masters still registered")

# The leader crashes: its node goes only when its session times out (2 s).
t0 = time.time()
B.crash()
got = d.wait_log(loaded_from(C.hostport), timeout=32)
took = time.time() - t0
t.ok(got, "crash: C's state is loaded after B's session timed out", d.logtext())
t.ok(took < SESSION_MS / 1000.0 + 3.0,
     "crash: within the session timeout (2 s) + 3 s, not at the refresh timer (%.2f s)" % took)
t.eq(nginx(d), ["10.3.0.13"], "crash: nginx.marathon.mesos answers C's 10.3.0.13")
t.eq(a(d, "leader.mesos"), ["127.0.0.13"], "crash: leader.mesos A 127.0.0.13")

# =============================================================================
# 3. ZooKeeper killed: answers go on, degraded after zkDetectionTimeout,
#    /health says so; restarted: detection resumes by itself.
# =============================================================================
D = Master("/mesos", "127.0.0.14", "10.3.0.14")
t.ok(d.wait_log(r"zk: 2 masters registered, leader still %s" % esc(C.hostport)),
     "zk down: a new master is noticed (leader unchanged)", d.logtext())
# C's state is the same as before; the masters are not: the zone is built
# again (a refresh with the same state and the same masters builds nothing).
t.ok(wait_for(lambda: a(d, "master1.mesos") == ["127.0.0.14"], timeout=10),
     "zk down: the new master is master1.mesos, from the same state",
     [a(d, "master%d.mesos" % i) for i in range(3)])
t0 = time.time()
zk.stop()
t.ok(d.wait_log(r"zk: lost the connection to ZooKeeper"), "zk down: the lost connection is logged",
     d.logtext())
t.eq(nginx(d), ["10.3.0.13"], "zk down: answers continue from the last good zone")
t.ok(d.wait_log(r"zk: degraded: no leading master from ZooKeeper", timeout=10),
     "zk down: degraded is logged", d.logtext())
took = time.time() - t0
t.ok(1.9 <= took < 6, "zk down: degraded after zkDetectionTimeout (2 s): %.2f s" % took)
st, body = health(HTTP)
t.ok(st == 503 and "ZooKeeper" in (body or {}).get("reason", ""),
     "zk down: /health answers 503 naming ZooKeeper", (st, body))
t.ok((body or {}).get("zookeeper", {}).get("connected") is False,
     "zk down: /health shows the ZooKeeper connection down", body)
t.eq(a(d, "leader.mesos"), ["127.0.0.13"], "zk down: leader.mesos still answers")
t.ok(d.proc.poll() is None, "zk down: the daemon keeps running (mesos-dns would exit)")

t.ok(zk.start(), "zk back: ZooKeeper restarted with its data")
# Its own session when the outage was shorter than the session timeout (5 s), else a new one.
t.ok(d.wait_log(r"zk: connected to ZooKeeper .*(same|new) session", count=2, timeout=20),
     "zk back: the daemon reconnects by itself", d.logtext())
t.ok(d.wait_log(r"zk: leader detection recovered", timeout=10),
     "zk back: leader detection recovered", d.logtext())
st, body = health(HTTP)
t.ok(st == 200, "zk back: /health answers 200 again", (st, body))
C.quit()
t.ok(d.wait_log(loaded_from(D.hostport), timeout=10),
     "zk back: detection resumed: C's exit makes D the leader, loaded", d.logtext())
t.eq(nginx(d), ["10.3.0.14"], "zk back: nginx.marathon.mesos answers D's 10.3.0.14")

# =============================================================================
# 3a. The daemon's session expires (the daemon was stopped past its timeout).
# =============================================================================
sid = re.findall(r"zk: connected to ZooKeeper .*session (0x[0-9a-f]+)\)", d.logtext())[-1]
NEW_SESSION = r"zk: connected to ZooKeeper .*\(new session"
n_new = count(d, NEW_SESSION)
d.proc.send_signal(signal.SIGSTOP)
gone = wait_for(lambda: not session_known(ZKPORT, sid), timeout=20, step=0.2)
d.proc.send_signal(signal.SIGCONT)
t.ok(gone, "expiry: ZooKeeper dropped the session of the stopped daemon (%s)" % sid)
t.ok(d.wait_log(r"zk: session expired on .*; starting a new session", timeout=10),
     "expiry: the expired session is logged, a new one started", d.logtext())
t.ok(d.wait_log(NEW_SESSION, count=n_new + 1, timeout=10),
     "expiry: a new session is established", d.logtext())
E2 = Master("/mesos", "127.0.0.26", "10.3.0.26")
D.quit()
t.ok(d.wait_log(loaded_from(E2.hostport), timeout=10),
     "expiry: watches re-armed on the new session: D's exit makes E2 the leader", d.logtext())
t.eq(nginx(d), ["10.3.0.26"], "expiry: nginx.marathon.mesos answers E2's 10.3.0.26")

# =============================================================================
# 3b. A ZooKeeper restarted with wiped data: the old session can never come back.
# =============================================================================
n_restarts = count(d, r"zk: .*starting a new session")
zk.stop()
t.ok(zk.start(fresh=True), "wiped: ZooKeeper restarted with empty data")
t.ok(d.wait_log(r"zk: .*starting a new session", count=n_restarts + 1, timeout=20),
     "wiped: after a session timeout without a connection, a new session is started",
     d.logtext())
t.ok(d.wait_log(r"zk: /mesos does not exist on", timeout=10),
     "wiped: the new session finds no /mesos yet, and says so", d.logtext())
t.eq(nginx(d), ["10.3.0.26"], "wiped: answers continue from the last good zone")
admin = ZkSession(ZKPORT)
admin.ensure("/mesos")
E2.fm.stop()
E = Master("/mesos", "127.0.0.15", "10.3.0.15")
t.ok(d.wait_log(loaded_from(E.hostport), timeout=10),
     "wiped: a master registering on the new server is found: watches re-armed", d.logtext())
t.eq(nginx(d), ["10.3.0.15"], "wiped: nginx.marathon.mesos answers E's 10.3.0.15")
t.ok(d.proc.poll() is None, "wiped: the daemon is still running")
lines = [l for l in d.logtext().splitlines() if l.strip()]
t.ok(all(re.match(r"(error|warning|info|debug): \S", l) for l in lines),
     "log: every line is one event with its level",
     "\n".join(l for l in lines if not re.match(r"(error|warning|info|debug): ", l))[:2000])
t.eq(d.stop(), 0, "the daemon exits 0 on SIGTERM")

# =============================================================================
# 4. One ensemble member dead at start; the whole ensemble down at start.
# =============================================================================
dead = free_port()
d = zk_daemon("/mesos", zkhosts="127.0.0.1:%d,127.0.0.1:%d" % (dead, ZKPORT))
t.ok(d.wait_log(loaded_from(E.hostport), timeout=20),
     "ensemble: with one of two members dead at start, the leader is found", d.logtext())
t.eq(nginx(d), ["10.3.0.15"], "ensemble: nginx.marathon.mesos answers E's 10.3.0.15")
d.stop()

late_port = free_port()
d = zk_daemon("/late", {"zkDetectionTimeout": 1}, zkhosts="127.0.0.1:%d" % late_port)
t.ok(d.wait_log(r"zk: degraded: no leading master from ZooKeeper .* \(not connected\)", timeout=10),
     "ensemble down at start: degraded after zkDetectionTimeout, not fatal", d.logtext())
t.eq(dig(d.port, "nginx.marathon.mesos").rcode, "SERVFAIL",
     "ensemble down at start: SERVFAIL while no zone was ever loaded")
t.ok(d.proc.poll() is None, "ensemble down at start: the daemon keeps running")
zk2 = ZkServer(late_port)
t.ok(zk2.start(), "ensemble down at start: a ZooKeeper appears on that port")
ZkSession(late_port).ensure("/late")
F = Master("/late", "127.0.0.16", "10.3.0.16", register=False)
F.register(late_port)
t.ok(d.wait_log(loaded_from(F.hostport), timeout=20),
     "ensemble down at start: once it is up, the leader is found without a restart", d.logtext())
t.eq(nginx(d), ["10.3.0.16"], "ensemble down at start: answers F's 10.3.0.16")
t.ok(d.wait_log(r"zk: leader detection recovered"), "ensemble down at start: recovery is logged")
d.stop()
F.quit()
zk2.cleanup()

# =============================================================================
# 5. Old masters: info_ nodes with binary protobuf only.
# =============================================================================
admin.ensure("/old")
G = Master("/old", "127.0.0.17", "10.3.0.17", kind="pb")
H = Master("/old", "127.0.0.18", "10.3.0.18", kind="pb")
d = zk_daemon("/old")
t.ok(d.wait_log(loaded_from(G.hostport)), "protobuf: the lowest info_ node leads, loaded",
     d.logtext())
t.eq(nginx(d), ["10.3.0.17"], "protobuf: nginx.marathon.mesos answers G's 10.3.0.17")
t.eq([a(d, "master%d.mesos" % i) for i in range(3)], [["127.0.0.17"], ["127.0.0.18"], []],
     "protobuf: both info_ masters are known")
t.ok("node info_" in last_line(d, r"zk: leading master"), "protobuf: the log names the info_ node",
     last_line(d, r"zk: leading master"))
# A json.info_ node wins over info_ ones even with a higher sequence.
J = Master("/old", "127.0.0.19", "10.3.0.19")
t.ok(d.wait_log(loaded_from(J.hostport), timeout=10),
     "protobuf: once a json.info_ node exists, only json.info_ nodes count", d.logtext())
t.eq(nginx(d), ["10.3.0.19"], "protobuf: nginx.marathon.mesos answers J's 10.3.0.19")
# A node that does not decode is skipped with a warning; the others still count.
bad_sess = ZkSession(ZKPORT, timeout_ms=SESSION_MS)
bad_node = bad_sess.create("/old/json.info_", "{not json", EPHEMERAL | SEQUENTIAL)
t.ok(d.wait_log(r"zk: ignoring /old/%s: MasterInfo JSON" % re.escape(bad_node.rsplit("/", 1)[1])),
     "protobuf: an undecodable node is ignored, with the reason", d.logtext())
J.quit()
NOT_USABLE = r"zk: the leading node /old/%s is not usable \(MasterInfo JSON.*no leading master" % \
    re.escape(bad_node.rsplit("/", 1)[1])
t.ok(d.wait_log(NOT_USABLE, timeout=10),
     "protobuf: the broken json.info_ node is now the lowest: no leading master", d.logtext())
t.eq(nginx(d), ["10.3.0.19"], "protobuf: answers continue from the last good zone")
# A good master registering after it is a follower: it is not taken for the leader.
K = Master("/old", "127.0.0.20", "10.3.0.20")
t.ok(d.wait_log(NOT_USABLE, count=2, timeout=10),
     "protobuf: a master registered after the broken lowest node: still no leading master",
     d.logtext())
t.ok(not re.search(r"zk: leading master is %s" % re.escape(K.hostport), d.logtext()),
     "protobuf: ... and the follower is not called the leader", d.logtext())
K.quit()
bad_sess.close()
t.ok(d.wait_log(loaded_from(G.hostport), count=2, timeout=10),
     "protobuf: without json.info_ nodes the info_ ones lead again", d.logtext())
d.stop()
for m in (G, H):
    m.quit()

# =============================================================================
# 6. A master failing in every way: the previous zone is kept, the reason logged.
# =============================================================================
admin.ensure("/bad")
M = Master("/bad", "127.0.0.20", "10.3.0.20")
d = zk_daemon("/bad", {"refreshSeconds": 1, "stateTimeoutSeconds": 2})
t.ok(d.wait_log(loaded_from(M.hostport)), "bad master: the good state loads first", d.logtext())
serial_line = last_line(d, r"state: loaded from")
serial = re.search(r"serial (\d+)", serial_line).group(1)
with open(FAKE) as f:
    fake_text = f.read()
cases = [
    ("HTTP 500", "HTTP500", r"HTTP 500"),
    ("garbage", "\x00\x01garbage\xff" * 100, r"JSON|malformed"),
    ("truncated JSON", fake_text[:len(fake_text) // 2], r"JSON|malformed"),
    ("a 300 MB body", "HUGE", r"larger than 268435456 bytes"),
    ("a hang past stateTimeoutSeconds", "HANG", r"[Tt]imed? ?out"),
]
for what, body, reason in cases:
    # A cycle begun before the switch may still fail the old way: wait for this reason.
    want = FAILED + r".*(?:%s)" % reason
    n = count(d, want)
    t0 = time.time()
    M.fm.serve(body, raw=True)
    got = d.wait_log(want, n + 1, timeout=15)
    line = last_line(d, want) or last_line(d, FAILED)
    t.ok(got and re.search(reason, line) and ("serial %s" % serial) in line,
         "bad master, %s: \"refresh failed\" with the reason and the serial kept" % what, line)
    t.eq(nginx(d), ["10.3.0.20"], "bad master, %s: the previous answers are kept" % what)
    if body == "HANG":
        took = time.time() - t0
        t.ok(took < 2 + 1 + 3, "bad master, hang: given up after stateTimeoutSeconds (%.1f s)" % took)
t.ok(d.proc.poll() is None, "bad master: the daemon survived all of it")
M.fm.serve(make_state("10.3.0.21"))
t.ok(d.wait_log(r"state: loaded from .*serial \d+$", count=2, timeout=10),
     "bad master: a good state again is loaded", d.logtext())
t.eq(nginx(d), ["10.3.0.21"], "bad master: nginx.marathon.mesos answers the new 10.3.0.21")
d.stop()
M.quit()

# =============================================================================
# 7. ZooKeeper's leader is a follower naming another leader: that one is asked.
# =============================================================================
admin.ensure("/follow")
F1 = F2 = None
for _ in range(20):
    p = free_port()
    try:
        F2 = Master("/follow", "127.0.0.22", "10.3.0.22", port=p, register=False)
        F1 = Master("/follow", "127.0.0.21", "10.3.0.21", port=p,
                    leader="master@127.0.0.22:%d" % p)
        break
    except OSError:
        if F2:
            F2.fm.cleanup()
        F1 = F2 = None
if t.ok(F1 and F2, "follow: masters on 127.0.0.21:P (registered) and 127.0.0.22:P"):
    d = zk_daemon("/follow")
    t.ok(d.wait_log(r"state: loaded from 127\.0\.0\.22:%d" % F2.port),
         "follow: the leader named by the registered master is asked and loaded", d.logtext())
    t.ok(re.search(r"%s is not the leader, asking 127\.0\.0\.22:%d" % (esc(F1.hostport), F2.port),
                   d.logtext()), "follow: the log says whom it follows", d.logtext())
    t.eq(nginx(d), ["10.3.0.22"], "follow: nginx.marathon.mesos answers the real leader's")
    t.eq(a(d, "leader.mesos"), ["127.0.0.22"], "follow: leader.mesos A 127.0.0.22")
    d.stop()
    F1.quit()
    F2.quit()

# =============================================================================
# 7b. The leader hangs (stateTimeoutSeconds 300) and loses leadership: the fetch
#     from it is dropped and the new leader asked at once.
# =============================================================================
admin.ensure("/hang")
H1 = Master("/hang", "127.0.0.27", "10.3.0.27")
H1.fm.serve("HANG", raw=True)
d = zk_daemon("/hang", {"stateTimeoutSeconds": 300})
t.ok(wait_for(lambda: H1.fm.requests(), 10), "hang: the leader is asked, and does not answer",
     d.logtext())
H2 = Master("/hang", "127.0.0.28", "10.3.0.28")
t.ok(d.wait_log(r"zk: 2 masters registered"), "hang: a second master registers", d.logtext())
t0 = time.time()
H1.sess.close()                             # no longer leader; its HTTP still hangs
t.ok(d.wait_log(loaded_from(H2.hostport), timeout=10),
     "hang: the new leader's state is loaded", d.logtext())
took = time.time() - t0
t.ok(took < 3.0, "hang: %.2f s after the change, not after stateTimeoutSeconds (300)" % took)
t.ok(re.search(r"state: the leader moved to %s; dropping the fetch from %s"
               % (esc(H2.hostport), esc(H1.hostport)), d.logtext()),
     "hang: the log says the hanging fetch was dropped", d.logtext())
t.eq(nginx(d), ["10.3.0.28"], "hang: nginx.marathon.mesos answers H2's 10.3.0.28")
d.stop()
H1.fm.stop()
H2.quit()

# =============================================================================
# 8. stateCacheFile: written atomically; a restart with every master down answers at once.
# =============================================================================
admin.ensure("/cache")
cdir = tempfile.mkdtemp(prefix="cache-", dir=TMP)
cache = os.path.join(cdir, "state.json")
K = Master("/cache", "127.0.0.23", "10.3.0.23")
HTTP = free_port()
ccfg = {"stateCacheFile": cache, "httpon": True, "HTTPListener": "127.0.0.1", "httpport": HTTP}
d = zk_daemon("/cache", dict(ccfg, refreshSeconds=1))
t.ok(d.wait_log(r"no cached state in %s yet" % re.escape(cache)),
     "cache: the first start says there is no cache yet", d.logtext())
t.ok(d.wait_log(loaded_from(K.hostport)), "cache: the state is loaded from the master", d.logtext())
t.ok(wait_for(lambda: os.path.exists(cache), 5), "cache: stateCacheFile is written")
with open(cache) as f:
    cached = json.load(f)
t.eq(cached.get("leader"), "master@%s" % K.hostport, "cache: it holds the master's state")
t.eq(sorted(os.listdir(cdir)), ["state.json"], "cache: no temporary file is left behind")
# Every state that builds a zone is cached, not only a process's first.
K.fm.serve(make_state("10.3.0.33"))
t.ok(wait_for(lambda: "10.3.0.33" in open(cache).read(), 10),
     "cache: a changed state is cached again")
K.fm.serve(make_state("10.3.0.23"))
t.ok(wait_for(lambda: "10.3.0.33" not in open(cache).read() and
              "10.3.0.23" in open(cache).read(), 10),
     "cache: ... and the first one back again")
t.eq(d.stop(), 0, "cache: first daemon stopped")
K.quit()                                   # every master is gone now

d = zk_daemon("/cache", ccfg)
t0 = time.time()
t.ok(d.wait_log(r"state: answering from the cached state of %s, marked stale" % re.escape(cache),
                timeout=5), "cache: a restart with no master loads the cached state", d.logtext())
r = dig(d.port, "nginx.marathon.mesos")
took = time.time() - t0
t.ok(r.rcode == "NOERROR" and r.data("ANSWER", "A") == ["10.3.0.23"],
     "cache: records answered from the cache (nginx 10.3.0.23)", r.text)
t.ok(took < 2.0, "cache: answered %.2f s after start, without any master" % took)
t.eq(a(d, "leader.mesos"), ["127.0.0.23"], "cache: leader.mesos from the cached state")
st, body = health(HTTP)
t.ok(st == 503 and body and body.get("zone_loaded") is True,
     "cache: /health says 503 (stale: no fetch yet) with a zone loaded", (st, body))
L = Master("/cache", "127.0.0.24", "10.3.0.24")
t.ok(d.wait_log(r"state: fresh state from %s replaces the cached one" % esc(L.hostport),
                timeout=10), "cache: a master appearing replaces the cached state", d.logtext())
t.eq(nginx(d), ["10.3.0.24"], "cache: nginx.marathon.mesos answers the fresh 10.3.0.24")
t.ok(wait_for(lambda: json.load(open(cache)).get("leader") == "master@%s" % L.hostport, 5),
     "cache: the cache file now holds the fresh state")
d.stop()
L.quit()

# =============================================================================
# 9. Hostnames: a master registered by name only, a hostname leader, agents by name.
# =============================================================================
admin.ensure("/names")


def hostnames(doc):
    doc["slaves"][1]["pid"] = "slave(1)@localhost:5051"               # was 1.2.3.11
    doc["slaves"][2]["pid"] = "slave(1)@no-such-host.invalid:5051"    # was 1.2.3.12


NP = free_port()
nfm = FakeMaster(make_state("10.3.0.25", hostnames), port=NP, rewrite=False,
                 extra=("--leader", "master@localhost:%d" % NP))
nsess = ZkSession(ZKPORT, timeout_ms=SESSION_MS)
nsess.create("/names/json.info_", json.dumps({"hostname": "localhost", "port": NP,
                                             "address": {"hostname": "localhost", "port": NP}}),
             EPHEMERAL | SEQUENTIAL)
d = zk_daemon("/names")
t.ok(d.wait_log(r"zk: leading master is localhost:%d" % NP),
     "names: a master registered with a hostname only is the leader", d.logtext())
t.ok(d.wait_log(r"state: loaded from localhost:%d" % NP),
     "names: its state (leader master@localhost:P) is loaded", d.logtext())
t.eq(a(d, "leader.mesos"), ["127.0.0.1"], "names: leader.mesos A is localhost's 127.0.0.1")
t.eq(srv_ports(d, "_leader._tcp.mesos"), [NP], "names: _leader._tcp.mesos SRV port")
slaves = a(d, "slave.mesos")
t.ok("127.0.0.1" in slaves and "1.2.3.10" in slaves and "1.2.3.11" not in slaves
     and "1.2.3.12" not in slaves,
     "names: slave.mesos has the agent named localhost (127.0.0.1), not the unresolvable one",
     slaves)
t.eq(nginx(d), ["10.3.0.25"], "names: records not needing the bad name are all there")
t.ok(re.search(r"cannot resolve host no-such-host\.invalid", d.logtext()),
     "names: the unresolvable host is logged", d.logtext())
t.eq(count(d, FAILED), 0, "names: an unresolvable agent does not fail the refresh")
d.stop()
nsess.close()
nfm.stop()

# =============================================================================
# 10. ZooKeeper by host name, the resolver silent: DNS, HTTP and signals go on.
# =============================================================================
# The daemon in a mount namespace of its own: resolv.conf names a "resolver"
# that takes queries and never answers (4 s a lookup), /etc/hosts knows one
# of the two ZooKeeper names.  The names are resolved off the control loop:
# the daemon answers at once, and finds the leader through the name /etc/hosts
# knows once the other one has timed out.
import shutil
import socket
import subprocess
import urllib.request


def silent_resolver():
    for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((host, 53))
            return s, host
        except OSError:
            s.close()
    return None, None


silent, silent_host = silent_resolver() if os.geteuid() == 0 else (None, None)
if silent is None or not shutil.which("unshare"):
    t.n += 1
    print("ok %d - names: ZooKeeper by host name, silent resolver # SKIP not root, or no free "
          "port 53 on 127.0.0.2-4" % t.n, flush=True)
else:
    admin.ensure("/slowdns")
    S = Master("/slowdns", "127.0.0.14", "10.3.0.14")
    rconf = os.path.join(TMP, "resolv.conf")
    with open(rconf, "w") as fh:
        fh.write("nameserver %s\noptions timeout:4 attempts:1\n" % silent_host)
    hosts = os.path.join(TMP, "hosts")
    with open("/etc/hosts") as src, open(hosts, "w") as fh:
        fh.write(src.read() + "\n127.0.0.1 zkfast.test\n::1 zk6.test\n")
    wrap = ("unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && '
            'exec "$@"', rconf, hosts)
    HTTP2 = free_port()
    t0 = time.monotonic()
    # zk6.test: IPv6 only (our ZooKeeper listens on 127.0.0.1: refused there,
    # the client goes on to the next address).
    d = Daemon(BUILD, {"zk": "zk://zkslow.test:%d,zk6.test:%d,zkfast.test:%d/slowdns"
                             % (ZKPORT, ZKPORT, ZKPORT),
                       "refreshSeconds": 30, "zkDetectionTimeout": 30, "httpon": True,
                       "HTTPListener": "127.0.0.1", "httpport": HTTP2}, wrap=wrap)
    answered = wait_for(lambda: dig(d.port, "leader.mesos", timeout=1).rcode is not None, 3.5)
    first = time.monotonic() - t0
    t.ok(answered and first < 2.5, "slow resolver: DNS answers while the ZooKeeper names are "
         "looked up (first answer after %.1f s; a lookup takes 4 s)" % first, d.logtext())

    def http_ok():
        try:
            return urllib.request.urlopen("http://127.0.0.1:%d/v1/version" % HTTP2,
                                          timeout=0.5).status == 200
        except Exception:  # noqa: BLE001
            return False
    t.ok(wait_for(http_ok, 3.5) and time.monotonic() - t0 < 3.5,
         "slow resolver: the HTTP API answers meanwhile", d.logtext())
    t.ok(d.wait_log(leading(S.hostport), timeout=20),
         "slow resolver: the leader is found through the name /etc/hosts knows", d.logtext())
    t.ok(re.search(r"zk: cannot resolve zkslow\.test", d.logtext()),
         "slow resolver: the name that did not resolve is logged", d.logtext())
    t.eq(count(d, r"cannot start a ZooKeeper client"), 0,
         "slow resolver: the client takes the addresses, IPv6 (zk6.test) included")
    t.ok(d.wait_log(loaded_from(S.hostport)), "slow resolver: its state is loaded", d.logtext())
    d.stop()
    # An IPv6-only name alone: the client starts on its address (nothing
    # listens on ::1 here, so it keeps trying; what counts is that it starts).
    d = Daemon(BUILD, {"zk": "zk://zk6.test:%d/slowdns" % ZKPORT, "refreshSeconds": 30,
                       "zkDetectionTimeout": 30, "logLevel": "debug"}, wrap=wrap)
    t.ok(d.wait_log(r"zk: connecting to ::1:%d " % ZKPORT, timeout=5),
         "IPv6-only name: the client is given ::1:port (no brackets, which it refuses)",
         d.logtext()[-1500:])
    t.eq(count(d, r"cannot start a ZooKeeper client"), 0, "IPv6-only name: the client starts")
    d.stop()
    S.quit()
    silent.close()

admin.close()
zk.cleanup()
t.done()
