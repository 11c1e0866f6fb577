#!/usr/bin/env python3
"""tests/integration/test_systemd.py -- the systemd unit, sd_notify and -user.

- packaging/systemd/mesos-dnsd.service passes `systemd-analyze verify` (with
  the binary path pointed at the build, the man page at packaging/man) and
  `systemd-analyze security` rates it OK; reported as skipped, with the
  reason, where systemd-analyze cannot run.
- The daemon speaks the sd_notify protocol to $NOTIFY_SOCKET (a datagram
  socket this test listens on): READY=1 only once a zone is served (fresh or
  from stateCacheFile), STATUS= lines with the zone's size and freshness,
  WATCHDOG=1 at half of $WATCHDOG_USEC, RELOADING=1/READY=1 around a SIGHUP,
  STOPPING=1.
- Started as root with -user nobody on ports below 1024: the sockets are
  bound, then the process runs as nobody (uid, gid, groups, no capability)
  and answers.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from harness import DATA, ROOT, Daemon, Tap, build_dir, dig, wait_for
import harness

BUILD = build_dir()
BIN = os.path.join(BUILD, "bin", "mesos-dnsd")
UNIT = os.path.join(ROOT, "packaging", "systemd", "mesos-dnsd.service")
STATE = os.path.join(DATA, "fake.json")
t = Tap()


def skip(what, why):
    t.n += 1
    print("ok %d - %s # SKIP %s" % (t.n, what, why), flush=True)


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    harness._dirs.append(d)
    return d


# ---- the unit --------------------------------------------------------------------
unit = open(UNIT).read()


def directive(name):
    return [l.split("=", 1)[1] for l in unit.splitlines() if l.startswith(name + "=")]


t.eq(directive("Type"), ["notify"], "Type=notify")
t.ok(any("-checkconf" in v and v.startswith("/usr/sbin/mesos-dnsd") for v in directive("ExecStartPre")),
     "ExecStartPre runs mesos-dnsd -checkconf")
t.eq(directive("ExecReload"), ["/bin/kill -HUP $MAINPID"], "ExecReload sends SIGHUP")
t.eq(directive("User"), ["mesos-dnsd"], "runs as the mesos-dnsd system user")
t.ok(directive("AmbientCapabilities") == ["CAP_NET_BIND_SERVICE"] and
     directive("CapabilityBoundingSet") == ["CAP_NET_BIND_SERVICE"],
     "CAP_NET_BIND_SERVICE and no other capability")
t.eq(directive("StateDirectory"), ["mesos-dnsd"], "StateDirectory for stateCacheFile")
fams = " ".join(directive("RestrictAddressFamilies")).split()
t.ok(set(fams) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"},
     "address families: unix (journal, notify), inet, inet6, netlink (interface list)", fams)
hard = {k: directive(k) for k in ("ProtectSystem", "ProtectHome", "PrivateTmp", "NoNewPrivileges",
                                  "PrivateDevices", "ProtectKernelTunables", "ProtectControlGroups",
                                  "RestrictRealtime", "MemoryDenyWriteExecute", "WatchdogSec")}
t.ok(all(hard.values()) and hard["ProtectSystem"] == ["strict"],
     "hardening as NSD's and Knot's units (ProtectSystem=strict, ProtectHome, PrivateTmp, ...)", hard)
p = subprocess.run([BIN, "-config", os.path.join(ROOT, "config.json.example"), "-checkconf"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
t.eq(p.returncode, 0, "the ExecStartPre command accepts the packaged config (config.json.example)")

analyze = shutil.which("systemd-analyze")
why_not = None
work = tmpdir("unit-")
if not analyze:
    why_not = "systemd-analyze is not installed"
else:
    probe = os.path.join(work, "probe-mesos-dnsd.service")
    with open(probe, "w") as f:
        f.write("[Service]\nExecStart=/bin/true\n")
    p = subprocess.run([analyze, "verify", "--man=no", probe], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        why_not = "systemd-analyze verify fails on a trivial unit here: " + p.stdout.strip()[:200]
if why_not:
    skip("systemd-analyze verify", why_not)
    skip("systemd-analyze security", why_not)
else:
    # The packaged path does not exist on a build machine: point it at the build.
    local = os.path.join(work, "mesos-dnsd.service")
    with open(local, "w") as f:
        f.write(unit.replace("/usr/sbin/mesos-dnsd", BIN))
    man = os.path.join(work, "man", "man8")
    os.makedirs(man)
    shutil.copy(os.path.join(ROOT, "packaging", "man", "mesos-dnsd.8"), man)
    env = dict(os.environ, MANPATH=os.path.join(work, "man"))
    p = subprocess.run([analyze, "verify", local], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env)
    t.ok(p.returncode == 0 and p.stdout.strip() == "",
         "systemd-analyze verify: no error, no warning", p.stdout)
    p = subprocess.run([analyze, "security", "--offline=yes", local], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", p.stdout)
    if m is None and "--offline" in p.stdout:
        skip("systemd-analyze security", "this systemd-analyze has no --offline")
    else:
        t.ok(m is not None and float(m.group(1)) <= 2.0,
             "systemd-analyze security: exposure %s (at most 2.0)" % (m.group(1) if m else "?"),
             p.stdout[-400:])


# ---- sd_notify ---------------------------------------------------------------------
class NotifyListener:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self):
        self.dir = tmpdir("notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.msgs = []   # (time, line)
        self.lock = threading.Lock()
        self.stopped = False
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    def _loop(self):
        while not self.stopped:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.time()
            with self.lock:
                for line in data.decode(errors="replace").splitlines():
                    self.msgs.append((now, line))

    def lines(self, prefix=""):
        with self.lock:
            return [(ts, l) for ts, l in self.msgs if l.startswith(prefix)]

    def wait(self, prefix, count=1, timeout=10):
        return wait_for(lambda: len(self.lines(prefix)) >= count, timeout)

    def stop(self):
        self.stopped = True
        self.th.join(2)
        self.sock.close()


def notify_daemon(config, env_extra):
    """A Daemon started with NOTIFY_SOCKET (and env_extra) in its environment."""
    old = dict(os.environ)
    os.environ.update(env_extra)
    try:
        return Daemon(BUILD, config)
    finally:
        os.environ.clear()
        os.environ.update(old)


# 1. READY waits for the zone; STATUS; WATCHDOG; reload; stop.
n = NotifyListener()
sdir = tmpdir("notify-state-")
state = os.path.join(sdir, "state.json")     # missing at first: the first refreshes fail
d = notify_daemon({"stateFile": state, "refreshSeconds": 1},
                  {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "200000"})
t.ok(d.wait_log(r"state: refresh failed", 1), "the first refresh fails (no state file yet)")
t.ok(n.wait("STATUS=", 2), "STATUS lines arrive before any zone")
t.ok(any("no zone loaded yet" in l for _, l in n.lines("STATUS=")),
     "STATUS says no zone is loaded yet", n.lines())
t.eq(n.lines("READY=1"), [], "no READY=1 while no zone is loaded (listeners alone are not enough)")
shutil.copy(STATE, state + ".tmp")
os.replace(state + ".tmp", state)
created = time.time()
t.ok(n.wait("READY=1", 1, 10), "READY=1 once the state file appears and a zone is built")
r = dig(d.port, "leader.mesos")
t.ok(r.rcode == "NOERROR" and r.data() == ["1.2.3.4"], "right after READY=1 the zone answers", r.text)
ready_at = n.lines("READY=1")[0][0]
t.ok(ready_at >= created, "READY=1 came after the zone could be built")
st = [l for ts, l in n.lines("STATUS=") if ts >= ready_at - 0.5]
t.ok(any(re.search(r"STATUS=mesos: \d+ records, serial \d+; refreshed \d+ s ago", l) for l in st),
     "STATUS gives the zone size, serial and freshness", st)
n.wait("WATCHDOG=1", 8, 5)
pings = [ts for ts, _ in n.lines("WATCHDOG=1")]
gaps = [b - a for a, b in zip(pings, pings[1:])]
t.ok(len(pings) >= 8 and 0.05 <= sorted(gaps)[len(gaps) // 2] <= 0.15,
     "WATCHDOG=1 every ~100 ms for WATCHDOG_USEC=200000 (median gap %.3f s)" %
     (sorted(gaps)[len(gaps) // 2] if gaps else -1))
before = len(n.msgs)
d.proc.send_signal(signal.SIGHUP)
t.ok(d.wait_log(r"main: reload", 1) and n.wait("READY=1", 2), "SIGHUP: READY=1 again when done")
after = [l for _, l in n.msgs[before:] if not l.startswith("WATCHDOG")]
t.ok("RELOADING=1" in after and after.index("RELOADING=1") < after.index("READY=1"),
     "RELOADING=1 then READY=1 around the reload", after)
d.stop()
t.ok(n.wait("STOPPING=1", 1, 2), "STOPPING=1 on SIGTERM")
n.stop()

# 2. A zone from stateCacheFile is enough for READY=1 (masters down); no watchdog asked: no pings.
n = NotifyListener()
cache = os.path.join(sdir, "cache.json")
shutil.copy(STATE, cache)
dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
dead.bind(("127.0.0.1", 0))          # bound, not listening: connection refused
d = notify_daemon({"masters": ["127.0.0.1:%d" % dead.getsockname()[1]], "stateCacheFile": cache,
                   "refreshSeconds": 3600}, {"NOTIFY_SOCKET": n.path})
t.ok(n.wait("READY=1", 1, 10), "READY=1 with the zone of stateCacheFile while no master answers")
t.ok(wait_for(lambda: any("stateCacheFile (stale)" in l for _, l in n.lines("STATUS=")), 5),
     "STATUS says the zone is the cached one (stale)", n.lines("STATUS="))
t.ok(d.wait_log(r"state: refresh failed", 1), "the masters did fail")
t.eq(n.lines("WATCHDOG"), [], "no WATCHDOG_USEC: no pings")
d.stop()
dead.close()
n.stop()

# ---- -user --------------------------------------------------------------------------
def low_port():
    """A port below 1024 free for UDP and TCP on 127.0.0.1."""
    for port in range(853, 1000):
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", port))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
        s.close()
        return port
    return None


nobody = pwd.getpwnam("nobody") if "nobody" in [p.pw_name for p in pwd.getpwall()] else None
if os.geteuid() != 0:
    skip("-user nobody", "the test is not running as root")
elif nobody is None:
    skip("-user nobody", "there is no user nobody")
else:
    pub = tmpdir("user-")
    os.chmod(pub, 0o755)
    shutil.copy(STATE, os.path.join(pub, "state.json"))
    os.chmod(os.path.join(pub, "state.json"), 0o644)
    dport, hport = low_port(), None
    if dport:
        hold = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hold.bind(("127.0.0.1", dport))      # so low_port() picks another one for HTTP
        hport = low_port()
        hold.close()
    d = Daemon(BUILD, {"stateFile": os.path.join(pub, "state.json"), "port": dport,
                       "httpon": True, "HTTPListener": "127.0.0.1", "httpport": hport},
               args=["-user", "nobody"])
    t.ok(d.wait_loaded(), "started as root with -user nobody on ports %s/%s: state loaded" %
         (dport, hport), d.logtext())
    status = open("/proc/%d/status" % d.proc.pid).read()
    field = lambda k: re.search(r"^%s:\s*(.*)$" % k, status, re.M).group(1).split()
    t.eq(field("Uid"), [str(nobody.pw_uid)] * 4, "real, effective, saved and fs uid are nobody's")
    t.eq(field("Gid"), [str(nobody.pw_gid)] * 4, "and the gids nobody's group")
    t.ok(set(field("Groups")) <= {str(g.gr_gid) for g in __import__("grp").getgrall()
                                   if "nobody" in g.gr_mem} | {str(nobody.pw_gid)},
         "supplementary groups: only nobody's own", field("Groups"))
    t.ok(int(field("CapEff")[0], 16) == 0 and int(field("CapPrm")[0], 16) == 0,
         "no capability left")
    # The zone builder runs full rebuilds SCHED_IDLE only where it can be
    # raised back when starved (RLIMIT_NICE 20, which the switch keeps when
    # root may grant it); else SCHED_BATCH.  Chosen as root before the
    # switch, SCHED_IDLE stuck: a busy core starved rebuilds for good.
    lim = re.search(r"^Max nice priority\s+(\S+)", open("/proc/%d/limits" % d.proc.pid).read(), re.M)
    nice20 = lim is not None and lim.group(1) in ("20", "unlimited")
    builder = [tid for tid in os.listdir("/proc/%d/task" % d.proc.pid)
               if open("/proc/%d/task/%s/comm" % (d.proc.pid, tid)).read().strip() == "zone-builder"]
    pol = os.sched_getscheduler(int(builder[0])) if builder else None
    t.ok(builder and (pol == os.SCHED_BATCH or nice20 and pol == os.SCHED_IDLE),
         "the zone builder can leave SCHED_IDLE after the switch (RLIMIT_NICE %s, policy %s)"
         % (lim.group(1) if lim else "?", pol), d.logtext())
    r = dig(dport, "leader.mesos")
    t.eq(r.data(), ["1.2.3.4"], "answers on port %d" % dport)
    try:
        h = urllib.request.urlopen("http://127.0.0.1:%d/v1/version" % hport, timeout=5).status
    except Exception as e:  # noqa: BLE001
        h = str(e)
    t.eq(h, 200, "the HTTP API bound port %d before the switch" % hport)
    d.stop()
    p = subprocess.run([BIN, "-config", d.config_path, "-user", "no-such-user-here"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
    t.ok(p.returncode == 1 and "no-such-user-here" in p.stdout,
         "-user with an unknown user: exit 1 naming it", p.stdout[-300:])

t.done()
