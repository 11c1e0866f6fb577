#!/usr/bin/env python3
"""bench/bench.py -- the side-by-side benchmark behind `make bench` (run through bench/run.sh).

Serves the same records from mesos-dnsd (stateFile), NSD and Knot (the zone file
state2zone writes), and from bench/floor (echoes every query: the kernel's own
cost), one at a time on CPU core 0, and loads each with dnsperf on core 1:

  max UDP     dnsperf -l S -c 4 -q 500: answers per second at saturation; again
              with -T 2 (two client threads on the same core: one thread's
              own ceiling is about the floor's rate)
  TCP         dnsperf -m tcp -c 8 -l S: answers per second over 8 connections
  50k load    dnsperf -Q 50000 -q 200 -v: the server's CPU (utime+stime of all its
              processes and threads, /proc/PID/stat) per 100,000 answers; average
              and 99th-percentile latency, computed from dnsperf's per-query lines
              (dnsperf 2.10 has no latency histogram)
  memory      proportional set size summed over the server's processes after the
              runs (one process: its RSS less its share of shared libraries; NSD
              forks its servers from the process that loaded the zone, so adding
              up RSS would count the zone more than once)

then two workers each, neither side pinned (max UDP only), and, on the big
state: load time and memory of each server, the CPU seconds of one mesos-dnsd
refresh that brings a busy master's state (offers and resources moved, no task:
the zone is the same), the CPU seconds and peak RSS of one mesos-dnsd rebuild
(the stateFile changed between two refreshes), and the latency at 50,000 QPS
while the stateFile changes before every refresh.

Every measurement is repeated (--repeats) and the median reported; the servers
take turns within a repetition so that background noise spreads over all.
Every process started is recorded in --pidfile (one pid a line) while it runs,
so run.sh can kill what is left if this script is killed.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT_DIR, "tests", "integration"))
from harness import free_port, make_query, parse_msg, udp_send  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = "0"
CLIENT_CPU = "1"
FIXED_QPS = 50000


# ---- processes ---------------------------------------------------------------
class Procs:
    """The processes this run started, mirrored into a pid file for run.sh's trap."""

    def __init__(self, pidfile):
        self.pidfile = pidfile
        self.live = {}   # pid -> Popen or None (a descendant we did not start directly)

    def _write(self):
        if self.pidfile:
            with open(self.pidfile + ".tmp", "w") as f:
                f.write("".join("%d\n" % p for p in self.live))
            os.replace(self.pidfile + ".tmp", self.pidfile)

    def start(self, argv, log, **kw):
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        self.live[p.pid] = p
        self._write()
        return p

    def note_tree(self, pid):
        for d in descendants(pid):
            self.live.setdefault(d, None)
        self._write()

    def stop(self, p, timeout=10.0):
        kids = descendants(p.pid)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for d in kids:
            if alive(d):
                try:
                    os.kill(d, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.live.pop(d, None)
        self.live.pop(p.pid, None)
        self._write()

    def stop_all(self):
        for pid, p in list(self.live.items()):
            if p is not None:
                self.stop(p, timeout=3.0)
        for pid in list(self.live):
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.live.clear()
        self._write()


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid):
    """Every live process below pid (from the ppid field of /proc/*/stat)."""
    kids = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/stat" % e) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(e))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def warm(path):
    """Read path once so that a server's load or rebuild reads it from memory.

    These machines run DAMON's pageout scheme (kdamond): page cache left alone
    for seconds is dropped even with 23 GB free.  Reading a dropped 178 MB
    state back from the disk cost the daemon ~0.3 CPU-s of its rebuild, which
    a master's state, an HTTP body, never costs; NSD's and Knot's zone files
    get the same treatment before their loads."""
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def cpu_seconds(pid):
    """CPU seconds of pid and its descendants, all threads: utime + stime of
    each live one, and cutime + cstime, what the ones it reaped spent.  NSD
    replaces its server processes at a reload: without the reaped ones' time,
    the CPU they spent would vanish from the count once they end."""
    total = 0
    for p in [pid] + descendants(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime (fields 14-17 of proc(5))
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK


def point_link(link, target):
    """Make link point at target, atomically (a reader sees one or the other)."""
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.abspath(target), tmp)
    os.replace(tmp, link)


def memory(pid):
    """(PSS MB summed over the tree, VmRSS MB of pid, VmHWM MB of pid)."""
    pss = 0
    for p in [pid] + descendants(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    rss = hwm = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return pss / 1024.0, rss / 1024.0, hwm / 1024.0


def read_dnsperf(path):
    """dnsperf -v output: the per-query latencies (s) and the other lines."""
    lat, summary = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("> "):
                try:
                    lat.append(float(line.rsplit(None, 1)[1]))
                except ValueError:
                    pass
            else:
                summary.append(line)
    return lat, summary


def probe(port, answer_required=True):
    """One SOA query for the apex: True when a NOERROR reply (with an answer, if required) came."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"\x05mesos\x00" + struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        r, _ = s.recvfrom(4096)
    except OSError:
        return False
    finally:
        s.close()
    if len(r) < 12:
        return False
    rid, flags, _, an = struct.unpack(">HHHH", r[:8])
    return rid == qid and flags & 0x8000 and (flags & 0xF) == 0 and (an > 0 or not answer_required)


def soa_serial(port):
    """The apex SOA's serial the server at port answers with, or None."""
    try:
        m = parse_msg(udp_send(port, make_query("mesos", "SOA", flags=0), timeout=0.2))
    except (struct.error, IndexError, ValueError):   # a reply the parser cannot read
        return None
    if not m or m.rcode_num != 0 or not m.answer or m.answer[0][1] != 6:
        return None
    return struct.unpack(">I", m.answer[0][4][-20:-16])[0]   # serial, then 4 more fields


# ---- servers -------------------------------------------------------------------
class Server:
    name = "?"
    tcp = True

    def __init__(self, bench, workers=1, pinned=True, zone=None, state=None, refresh=3600):
        self.b = bench
        self.workers = workers
        self.pinned = pinned
        self.state = state
        self.refresh = refresh
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="%s-" % self.name, dir=bench.rundir)
        # NSD and Knot read their zone file through a link, which
        # point_zone moves for a reload.
        self.zone = os.path.join(self.dir, "mesos.zone") if zone else None
        if zone:
            os.symlink(os.path.abspath(zone), self.zone)
        # NSD's and Knot's control socket: a unix socket's path has room for
        # about 100 bytes, which the run folder under BENCH_DIR may not leave.
        self.ctl = os.path.join(tempfile.gettempdir(),
                                "mdnsd-bench-%d-%d.ctl" % (os.getpid(), self.port))
        self.logpath = os.path.join(self.dir, "log")
        self.proc = None
        self.t_start = self.t_ready = self.cpu_ready = None

    def argv(self):
        raise NotImplementedError

    def start(self, timeout=300.0):
        argv = self.argv()
        if self.pinned:
            argv = ["taskset", "-c", SERVER_CPU] + argv
        self.log = open(self.logpath, "w")
        self.t_start = time.monotonic()
        self.proc = self.b.procs.start(argv, self.log, cwd=self.dir)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s; log %s:\n%s" % (
                    self.name, self.proc.returncode, self.logpath, open(self.logpath).read()[-2000:]))
            if self.ready():
                self.t_ready = time.monotonic()
                self.cpu_ready = self.cpu()
                self.b.procs.note_tree(self.proc.pid)
                return self
            time.sleep(0.02)
        raise RuntimeError("%s not ready after %.0f s; log %s" % (self.name, timeout, self.logpath))

    def ready(self):
        return probe(self.port)

    def point_zone(self, path):
        point_link(self.zone, path)

    def reload(self):
        """Ask the running server to load its zone file again (NSD, Knot)."""
        raise NotImplementedError

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def memory(self):
        return memory(self.proc.pid)

    def stop(self):
        if self.proc:
            self.b.procs.stop(self.proc)
            self.proc = None
            self.log.close()
        if os.path.lexists(self.ctl):
            os.unlink(self.ctl)


class Ours(Server):
    name = "mesos-dnsd"

    def __init__(self, bench, masters=None, extra=None, **kw):
        """masters: ["host:port"] to poll instead of the stateFile `state`;
        extra: more config keys."""
        self.masters = masters
        self.extra = extra or {}
        super().__init__(bench, **kw)

    def argv(self):
        cfg = {"stateFile": self.state, "listener": "127.0.0.1", "port": self.port,
               "httpon": False, "externalon": False, "workers": self.workers,
               "refreshSeconds": self.refresh}
        if self.masters:
            del cfg["stateFile"]
            cfg["masters"] = self.masters
        cfg.update(self.extra)
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return [self.b.daemon, "-config", path]

    def loads(self):
        """The 'state: loaded' lines logged so far."""
        with open(self.logpath) as f:
            return [l for l in f if "state: loaded from" in l]


class Nsd(Server):
    name = "NSD"

    def argv(self):
        d = self.dir
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write("""server:
    ip-address: 127.0.0.1@%d
    server-count: %d
    reuseport: yes
    round-robin: yes
    username: ""
    chroot: ""
    zonesdir: "%s"
    database: ""
    pidfile: "%s/nsd.pid"
    xfrdfile: "%s/xfrd.state"
    zonelistfile: "%s/zone.list"
    logfile: "%s/nsd.log"
    hide-version: yes
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: yes
    control-interface: "%s"
zone:
    name: "mesos"
    zonefile: "%s"
""" % (self.port, self.workers, d, d, d, d, d, self.ctl, self.zone))
        self.conf = conf
        return ["nsd", "-d", "-c", conf]

    def reload(self):
        subprocess.run(["nsd-control", "-c", self.conf, "reload", "mesos"], check=True,
                       stdout=subprocess.DEVNULL)


class Knot(Server):
    name = "Knot"

    def argv(self):
        d = self.dir
        conf = os.path.join(d, "knot.conf")
        with open(conf, "w") as f:
            f.write("""server:
    rundir: "%s"
    listen: 127.0.0.1@%d
    udp-workers: %d
    tcp-workers: %d
    background-workers: 1
control:
    listen: "%s"
database:
    storage: "%s"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "%s"
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
    semantic-checks: off
zone:
  - domain: mesos
    file: "%s"
""" % (d, self.port, self.workers, self.workers, self.ctl, d, d, self.zone))
        self.conf = conf
        return ["knotd", "-c", conf]

    def reload(self):
        # -b: knotc returns when the zone is loaded.
        subprocess.run(["knotc", "-c", self.conf, "-b", "zone-reload", "mesos"], check=True,
                       stdout=subprocess.DEVNULL)


class Floor(Server):
    name = "floor"
    tcp = False

    def argv(self):
        return [self.b.floor, "-p", str(self.port)]

    def ready(self):
        return probe(self.port, answer_required=False)


# ---- dnsperf -------------------------------------------------------------------
def parse_dnsperf(text):
    def num(rx, cast=float, default=0):
        m = re.search(rx, text)
        return cast(m.group(1)) if m else default
    return {
        "sent": num(r"Queries sent:\s+(\d+)", int),
        "completed": num(r"Queries completed:\s+(\d+)", int),
        "lost": num(r"Queries lost:\s+(\d+)", int),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "avg_ms": num(r"Average Latency \(s\):\s+([\d.]+)") * 1000,
        "nxdomain": num(r"NXDOMAIN (\d+)", int),
        "servfail": num(r"SERVFAIL (\d+)", int),
        "resp_bytes": num(r"Average packet size:\s+request \d+, response (\d+)", int),
    }


def tcp_query_file(zone, qfile, out, limit=4000):
    """Write qfile less the questions whose full (TCP) answer would exceed limit bytes.

    dnsperf 2.10 reads a TCP reply into a 4 KB buffer; a larger one (the A or
    SRV set of an app with a few hundred instances) desynchronises the
    connection and every query on it is then lost.  The sizes are estimated
    from the zone file: question, answer records with compressed owners, and
    for SRV the addresses of each target in the additional section.
    Returns (kept, dropped).
    """
    rrs = {}
    with open(zone) as f:
        for line in f:
            p = line.split()
            if len(p) < 5 or line.startswith(";"):
                continue
            rrs.setdefault((p[0].lower(), p[3]), []).append(p[4:])

    def size(name, qtype):
        owner = name.lower().rstrip(".") + "."
        n = 12 + len(owner) + 1 + 4
        for rd in rrs.get((owner, qtype), []):
            if qtype == "A":
                n += 16
            elif qtype == "AAAA":
                n += 28
            elif qtype == "SRV":
                t = rd[3].lower()
                n += 12 + 6 + len(t) + 1
                n += 16 * len(rrs.get((t, "A"), [])) + 28 * len(rrs.get((t, "AAAA"), []))
            else:
                n += 12 + sum(len(x) + 1 for x in rd)
        return n + 60   # room for an SOA in authority

    kept = dropped = 0
    with open(qfile) as f, open(out + ".tmp", "w") as o:
        for line in f:
            p = line.split()
            if len(p) == 2 and size(p[0], p[1]) > limit:
                dropped += 1
                continue
            o.write(line)
            kept += 1
    os.replace(out + ".tmp", out)
    return kept, dropped


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(p / 100.0 * len(sorted_vals)))]


class Bench:
    def __init__(self, a):
        self.a = a
        self.daemon = os.path.join(a.build, "bin", "mesos-dnsd")
        self.floor = os.path.join(a.build, "bench", "floor")
        self.work = a.work
        self.procs = Procs(a.pidfile)
        self.rundir = tempfile.mkdtemp(prefix="run-", dir=a.work)
        self.results = {}   # key -> list of values
        self.runs = 0
        self.notes = []

    def add(self, key, value):
        self.results.setdefault(key, []).append(value)

    def med(self, key):
        v = [x for x in self.results.get(key, []) if x == x]
        return statistics.median(v) if v else float("nan")

    def say(self, msg):
        print("bench: " + msg, file=sys.stderr, flush=True)

    def dnsperf(self, port, qfile, seconds, extra, pinned=True, verbose=False):
        argv = ["taskset", "-c", CLIENT_CPU] if pinned else []
        argv += ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(seconds),
                 "-t", "2", "-O", "suppress=timeout"] + extra
        if verbose:
            argv.append("-v")
        out = os.path.join(self.rundir, "dnsperf.out")
        with open(out, "w") as f:
            p = self.procs.start(argv, f)
            try:
                p.wait(seconds + 30)
            finally:
                self.procs.stop(p)
        lat, summary = read_dnsperf(out)
        r = parse_dnsperf("".join(summary))
        # Keep each run's statistics (not the per-query lines) for a look afterwards.
        self.runs += 1
        with open(os.path.join(self.rundir, "dnsperf-%03d.txt" % self.runs), "w") as f:
            f.write("".join(summary))
        if verbose:
            lat.sort()
            r["p50_ms"] = percentile(lat, 50) * 1000
            r["p99_ms"] = percentile(lat, 99) * 1000
            r["p999_ms"] = percentile(lat, 99.9) * 1000
        if r["completed"] == 0:
            raise RuntimeError("dnsperf got no answers: %s" % "".join(summary)[-1500:])
        return r

    # ---- one server, pinned: max UDP, TCP, fixed load ------------------------
    def pinned_round(self, srv, qfile, tcp_qfile):
        a = self.a
        n = srv.name
        srv.start()
        try:
            r = self.dnsperf(srv.port, qfile, a.seconds, ["-c", "4", "-q", "500"])
            self.add((n, "udp_qps"), r["qps"])
            self.add((n, "udp_lost_pct"), 100.0 * r["lost"] / max(1, r["sent"]))
            # One dnsperf thread tops out near the floor's rate: two threads
            # (still on the one client core) lift that ceiling by ~10%.
            r = self.dnsperf(srv.port, qfile, a.seconds, ["-T", "2", "-c", "4", "-q", "500"])
            self.add((n, "udp_t2_qps"), r["qps"])
            if srv.tcp:
                r = self.dnsperf(srv.port, tcp_qfile, a.seconds, ["-m", "tcp", "-c", "8", "-q", "500"])
                self.add((n, "tcp_qps"), r["qps"])
            c0 = srv.cpu()
            r = self.dnsperf(srv.port, qfile, a.seconds, ["-c", "4", "-q", "200", "-Q", str(FIXED_QPS)],
                             verbose=True)
            c1 = srv.cpu()
            self.add((n, "fixed_qps"), r["qps"])
            self.add((n, "cpu_per_100k"), (c1 - c0) / max(1, r["completed"]) * 1e5)
            self.add((n, "avg_ms"), r["avg_ms"])
            self.add((n, "p99_ms"), r["p99_ms"])
            self.add((n, "fixed_lost"), r["lost"])
            if n != "floor":
                self.add((n, "nx_pct"), 100.0 * r["nxdomain"] / max(1, r["completed"]))
            pss, rss, hwm = srv.memory()
            self.add((n, "mem_mb"), pss)
            self.add((n, "resp_bytes"), r["resp_bytes"])
            self.say("%-10s udp %7.0f/s  tcp %7s/s  50k: %.2f CPU-s/100k, avg %.2f ms, p99 %.2f ms, %.0f MB"
                     % (n, self.results[(n, "udp_qps")][-1],
                        "%.0f" % self.results[(n, "tcp_qps")][-1] if srv.tcp else "-",
                        self.results[(n, "cpu_per_100k")][-1], r["avg_ms"], r["p99_ms"], pss))
        finally:
            srv.stop()

    def unpinned_round(self, srv, qfile):
        srv.start()
        try:
            r = self.dnsperf(srv.port, qfile, self.a.seconds, ["-c", "8", "-q", "500"], pinned=False)
            self.add((srv.name, "udp2_qps"), r["qps"])
            self.say("%-10s two workers unpinned: udp %.0f/s" % (srv.name, r["qps"]))
        finally:
            srv.stop()

    # ---- big state: loads and rebuilds -----------------------------------------
    def alt_zone(self, big_alt):
        """The zone file of big_alt (the same cluster a moment later), serial 2
        where the big zone has 1, written once into the work folder."""
        out = os.path.join(self.work, os.path.basename(big_alt)[:-len(".json")] + ".zone")
        s2z = os.path.join(self.a.build, "bin", "state2zone")
        if not os.path.exists(out) or os.path.getmtime(out) < max(
                os.path.getmtime(big_alt), os.path.getmtime(s2z)):
            text = subprocess.run([s2z, big_alt], check=True, stdout=subprocess.PIPE).stdout
            first, rest = text.split(b"\n", 1)
            f = first.split()
            if len(f) != 11 or f[3] != b"SOA" or f[6] != b"1":
                raise RuntimeError("state2zone: unexpected first line %r" % first)
            f[6] = b"2"
            with open(out + ".tmp", "wb") as o:
                o.write(b"\t".join(f[:4]) + b"\t" + b" ".join(f[4:]) + b"\n" + rest)
            os.replace(out + ".tmp", out)
        return out

    def zone_reload(self, srv, alt):
        """CPU seconds NSD or Knot spends loading alt in place of its zone."""
        warm(alt)
        time.sleep(0.3)
        c0 = srv.cpu()
        srv.point_zone(alt)
        srv.reload()
        end = time.monotonic() + 300
        while soa_serial(srv.port) != 2:
            if time.monotonic() > end or srv.proc.poll() is not None:
                raise RuntimeError("%s: the reload did not take; log %s" % (srv.name, srv.logpath))
            time.sleep(0.02)
        time.sleep(0.3)   # as after our rebuild: the old zone freed
        return srv.cpu() - c0

    def big_loads(self, big_state, big_zone, big_q, big_alt):
        """Load time, CPU and memory of each server on the big zone; ours also idle
        latency; NSD and Knot then reload the zone of big_alt (ours rebuilds in
        rebuilds())."""
        for cls, kw in ((Ours, {"state": big_state}), (Nsd, {"zone": big_zone}), (Knot, {"zone": big_zone})):
            warm(kw.get("state") or kw.get("zone"))
            srv = cls(self, **kw)
            srv.start()
            try:
                n = srv.name
                self.add((n, "big_load_s"), srv.t_ready - srv.t_start)
                self.add((n, "big_load_cpu"), srv.cpu_ready)
                time.sleep(0.5)
                pss, rss, hwm = srv.memory()
                self.add((n, "big_mem_mb"), pss)
                r = self.dnsperf(srv.port, big_q, self.a.seconds, ["-c", "4", "-q", "500"])
                self.add((n, "big_udp_qps"), r["qps"])
                if isinstance(srv, Ours):
                    self.add((n, "big_hwm_mb"), hwm)
                    r = self.dnsperf(srv.port, big_q, self.a.seconds,
                                     ["-c", "4", "-q", "200", "-Q", str(FIXED_QPS)], verbose=True)
                    self.add((n, "idle_p99_ms"), r["p99_ms"])
                    self.add((n, "idle_avg_ms"), r["avg_ms"])
                self.say("%-10s big zone: ready in %.2f s, %.2f CPU-s, %.0f MB, udp %.0f/s"
                         % (n, srv.t_ready - srv.t_start, srv.cpu_ready, pss,
                            self.results[(n, "big_udp_qps")][-1]))
                if not isinstance(srv, Ours):
                    try:
                        cpu = self.zone_reload(srv, self.alt_zone(big_alt))
                    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                        self.notes.append("%s reload not measured: %s" % (n, e))
                        self.say("%-10s reload not measured: %s" % (n, e))
                    else:
                        self.add((n, "big_reload_cpu"), cpu)
                        self.say("%-10s reload of the changed zone: %.2f CPU-s" % (n, cpu))
            finally:
                srv.stop()

    def start_master(self, script, args):
        """tests/integration/<script> on the client CPU, on a free port: (process, port,
        its folder, its log file) once it listens; stop with stop_master."""
        mdir = tempfile.mkdtemp(prefix=script.split(".")[0] + "-", dir=self.rundir)
        ready = os.path.join(mdir, "port")
        mlog = open(os.path.join(mdir, "log"), "w")
        master = self.procs.start(
            ["taskset", "-c", CLIENT_CPU, sys.executable,
             os.path.join(ROOT_DIR, "tests", "integration", script), "--port", "0",
             "--ready-file", ready] + args, mlog)
        end = time.monotonic() + 60
        while not (os.path.exists(ready) and open(ready).read().strip()):
            if time.monotonic() > end or master.poll() is not None:
                self.stop_master(master, mlog)
                raise RuntimeError("bench: %s did not start" % script)
            time.sleep(0.05)
        return master, int(open(ready).read().strip()), mdir, mlog

    def stop_master(self, master, mlog):
        self.procs.stop(master)
        mlog.close()

    def polled(self, big_state):
        """The big state polled from a master, as operators run it: the load's CPU,
        the steady RSS (what the daemon keeps of a polled state shows here, not with a
        stateFile), and the CPU of a refresh that brings the same body again."""
        master, mport, mdir, mlog = self.start_master(
            "fake_master.py", ["--state", big_state, "--leader-rewrite"])
        try:
            warm(big_state)
            # With stateCacheFile, as the Debian package sets it.
            srv = Ours(self, masters=["127.0.0.1:%d" % mport],
                       extra={"stateCacheFile": os.path.join(mdir, "cache.json")},
                       refresh=self.a.refresh)
            srv.start()
            try:
                def wait_loads(k):
                    end = time.monotonic() + self.a.refresh + 120
                    while len(srv.loads()) < k:
                        if time.monotonic() > end or srv.proc.poll() is not None:
                            raise RuntimeError("mesos-dnsd: %d polled loads not seen; log %s"
                                               % (k, srv.logpath))
                        time.sleep(0.01)
                wait_loads(1)
                time.sleep(0.5)
                c0 = srv.cpu()
                self.add(("mesos-dnsd", "polled_load_cpu"), srv.cpu_ready)
                pss, rss, hwm = srv.memory()
                self.add(("mesos-dnsd", "polled_rss_mb"), rss)
                self.add(("mesos-dnsd", "polled_hwm_mb"), hwm)
                wait_loads(2)
                time.sleep(0.3)
                self.add(("mesos-dnsd", "polled_same_cpu"), srv.cpu() - c0)
                self.say("mesos-dnsd polled: load %.2f CPU-s, peak RSS %.0f MB, steady RSS %.0f MB, "
                         "the same body again %.2f CPU-s" % (srv.cpu_ready, hwm, rss, srv.cpu() - c0))
            finally:
                srv.stop()
        finally:
            self.stop_master(master, mlog)

    def streamed(self, big_state, events=3):
        """The big state followed as an event stream (stateSource "stream", with
        stateCacheFile): the snapshot's load CPU, the steady RSS once the snapshot and
        the framework pids are built, and the CPU and RSS of a task launched (each
        event builds the whole zone)."""
        # No heartbeats: the Python master cannot beat while it writes a 200 MB snapshot.
        master, mport, mdir, mlog = self.start_master(
            "stream_master.py", ["--state", big_state, "--heartbeat", "0"])
        try:
            cache = os.path.join(mdir, "cache.json")
            srv = Ours(self, masters=["127.0.0.1:%d" % mport],
                       extra={"stateSource": "stream", "stateCacheFile": cache,
                              "stateTimeoutSeconds": 300, "logLevel": "debug"},
                       refresh=self.a.refresh)
            srv.start()
            try:
                def log():
                    with open(srv.logpath) as f:
                        return f.read()

                def wait(pred, what):
                    end = time.monotonic() + 180
                    while not pred():
                        if time.monotonic() > end or srv.proc.poll() is not None:
                            raise RuntimeError("mesos-dnsd: %s not seen; log %s" % (what, srv.logpath))
                        time.sleep(0.05)
                # Loaded, then the framework pids (state-summary) built and cached.
                wait(lambda: "loaded from the event stream" in log(), "the snapshot's load")
                load_cpu = srv.cpu()
                wait(lambda: os.path.exists(cache) and log().count("stream events:") >= 1,
                     "the state-summary build")
                time.sleep(1.0)
                _pss, rss, _hwm = srv.memory()
                with open(big_state) as f:
                    doc = json.load(f)
                fw, agent = doc["frameworks"][0]["id"], doc["slaves"][0]["id"]
                del doc
                c0, n0 = srv.cpu(), log().count("stream events:")
                for i in range(events):
                    task = {"id": "bench-%d" % i, "name": "bench%d" % i, "slave_id": agent,
                            "state": "TASK_RUNNING", "resources": {"ports": "[31000-31000]"},
                            "statuses": [{"state": "TASK_RUNNING", "timestamp": time.time()}]}
                    req = urllib.request.Request(
                        "http://127.0.0.1:%d/control/task_add" % mport,
                        data=json.dumps({"framework_id": fw, "task": task}).encode(),
                        headers={"Content-Type": "application/json"})
                    urllib.request.urlopen(req, timeout=60).read()
                    wait(lambda: log().count("stream events:") >= n0 + i + 1, "event %d's build" % i)
                time.sleep(0.3)
                ev_cpu = (srv.cpu() - c0) / events
                _pss, ev_rss, ev_hwm = srv.memory()
                self.add(("mesos-dnsd", "stream_load_cpu"), load_cpu)
                self.add(("mesos-dnsd", "stream_rss_mb"), rss)
                self.add(("mesos-dnsd", "stream_event_cpu"), ev_cpu)
                self.add(("mesos-dnsd", "stream_event_rss_mb"), ev_rss)
                self.add(("mesos-dnsd", "stream_hwm_mb"), ev_hwm)
                self.say("mesos-dnsd streamed: load %.2f CPU-s, steady RSS %.0f MB; a task launched: "
                         "%.2f CPU-s, RSS after %.0f MB, peak %.0f MB"
                         % (load_cpu, rss, ev_cpu, ev_rss, ev_hwm))
            finally:
                srv.stop()
        finally:
            self.stop_master(master, mlog)

    def rebuilds(self, big_state, big_alt, big_busy, big_q):
        """One timed refresh of a busy master's state (no task changed), one timed
        rebuild, then latency under a changed state before every refresh."""
        a = self.a
        link = os.path.join(self.rundir, "state.json")

        def point(target):
            point_link(link, target)

        point(big_state)
        srv = Ours(self, state=link, refresh=a.refresh)
        srv.start()
        try:
            def wait_loads(k, timeout):
                end = time.monotonic() + timeout
                while time.monotonic() < end:
                    ls = srv.loads()
                    if len(ls) >= k:
                        return ls
                    if srv.proc.poll() is not None:
                        break
                    time.sleep(0.01)
                raise RuntimeError("mesos-dnsd: %d loads not seen; log %s" % (k, srv.logpath))

            def warm_before_tick(path, t_last):
                # The daemon reads the file at its next refresh, refreshSeconds
                # after the last load: warm it just before, as NSD's and Knot's
                # zone files are warmed just before their reloads (zone_reload):
                # page cache left for seconds may be dropped here (see warm()).
                delay = t_last + a.refresh - 0.6 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                warm(path)

            wait_loads(1, 60)
            t_last = time.monotonic()
            time.sleep(0.3)
            # Offers and resources moved, no task: parsed, and not built.
            c0 = srv.cpu()
            point(big_busy)
            warm_before_tick(big_busy, t_last)
            ls = wait_loads(2, a.refresh + 120)
            t_last = time.monotonic()
            if "(unchanged)" not in ls[1]:
                self.notes.append("busy refresh: the state was built (a zone change was logged)")
            time.sleep(0.3)
            self.add(("mesos-dnsd", "busy_cpu"), srv.cpu() - c0)
            c0 = srv.cpu()
            point(big_alt)
            warm_before_tick(big_alt, t_last)
            ls = wait_loads(3, a.refresh + 120)
            if "(unchanged)" in ls[2]:
                self.notes.append("rebuild: the changed state was reported unchanged")
            time.sleep(0.3)
            c1 = srv.cpu()
            pss, rss, hwm = srv.memory()
            self.add(("mesos-dnsd", "rebuild_cpu"), c1 - c0)
            self.add(("mesos-dnsd", "rebuild_hwm_mb"), hwm)
            self.add(("mesos-dnsd", "rebuild_rss_mb"), rss)

            # Under load: point the stateFile at the other state before every
            # refresh, so each one rebuilds; stop dnsperf (SIGINT: it prints its
            # statistics) half a second after the last wanted rebuild.
            argv = ["taskset", "-c", CLIENT_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(srv.port),
                    "-d", big_q, "-l", "3600", "-t", "2", "-O", "suppress=timeout",
                    "-c", "4", "-q", "200", "-Q", str(FIXED_QPS), "-v"]
            out = os.path.join(self.rundir, "dnsperf.out")
            seen = len(srv.loads())
            flips = 0
            cur = big_state
            point(cur)
            deadline = time.monotonic() + a.rebuilds * (a.refresh + 60)
            with open(out, "w") as f:
                p = self.procs.start(argv, f)
                try:
                    t_run = time.monotonic()
                    while p.poll() is None and flips < a.rebuilds and time.monotonic() < deadline:
                        ls = srv.loads()
                        if len(ls) > seen:
                            seen = len(ls)
                            if "(unchanged)" not in ls[-1]:
                                flips += 1
                            cur = big_state if cur == big_alt else big_alt
                            point(cur)
                        time.sleep(0.01)
                    time.sleep(0.5)
                    if p.poll() is None:
                        p.send_signal(signal.SIGINT)
                        p.wait(30)
                    t_run = time.monotonic() - t_run
                finally:
                    self.procs.stop(p)
            lat, summary = read_dnsperf(out)
            r = parse_dnsperf("".join(summary))
            lat.sort()
            self.add(("mesos-dnsd", "reb_p99_ms"), percentile(lat, 99) * 1000)
            self.add(("mesos-dnsd", "reb_avg_ms"), r["avg_ms"])
            self.add(("mesos-dnsd", "reb_lost"), r["lost"])
            self.add(("mesos-dnsd", "reb_qps"), r["qps"])
            self.add(("mesos-dnsd", "reb_count"), flips)
            self.add(("mesos-dnsd", "reb_seconds"), t_run)
            self.say("mesos-dnsd rebuild: %.2f CPU-s, peak RSS %.0f MB; under load: %d rebuilds, "
                     "lost %d, avg %.2f ms, p99 %.2f ms" % (c1 - c0, hwm, flips, r["lost"],
                                                           r["avg_ms"], percentile(lat, 99) * 1000))
        finally:
            srv.stop()


# ---- report ----------------------------------------------------------------------
def fmt(v, spec):
    return "-" if v != v else spec % v


def qps(v):
    return "-" if v != v else "{:,.0f}".format(v)


def report(b, meta):
    m = b.med
    names = ["mesos-dnsd", "NSD", "Knot", "floor"]
    L = []
    L.append("Side by side, %s running tasks (median of %d; server on CPU %s, dnsperf on CPU %s):"
             % (meta["tasks"], meta["repeats"], SERVER_CPU, CLIENT_CPU))
    L.append("")
    L.append("| server | max UDP q/s | max UDP q/s, dnsperf -T 2 | TCP q/s (8 conn) "
             "| CPU-s per 100k answers at 50k q/s "
             "| avg ms | p99 ms | memory MB | 2 workers unpinned, UDP q/s |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in names:
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, qps(m((n, "udp_qps"))), qps(m((n, "udp_t2_qps"))), qps(m((n, "tcp_qps"))),
            fmt(m((n, "cpu_per_100k")), "%.2f"), fmt(m((n, "avg_ms")), "%.2f"),
            fmt(m((n, "p99_ms")), "%.2f"), fmt(m((n, "mem_mb")), "%.0f"),
            qps(m((n, "udp2_qps")))))
    L.append("")
    L.append("Ratios (mesos-dnsd / other; for CPU, latency and memory lower is better, "
             "for q/s higher is better):")
    L.append("")
    L.append("| metric | / floor | / NSD | / Knot |")
    L.append("|---|---:|---:|---:|")
    for key, label in (("cpu_per_100k", "CPU per answer at 50k q/s"), ("udp_qps", "max UDP q/s"),
                       ("udp_t2_qps", "max UDP q/s, dnsperf -T 2"), ("tcp_qps", "TCP q/s"), ("p99_ms", "p99 latency at 50k q/s"),
                       ("mem_mb", "memory"), ("udp2_qps", "2 workers, UDP q/s")):
        ours = m(("mesos-dnsd", key))
        L.append("| %s | %s | %s | %s |" % (label, *[
            fmt(ours / m((o, key)) if m((o, key)) and not (o == "floor" and key == "mem_mb")
                else float("nan"), "%.2f")
            for o in ("floor", "NSD", "Knot")]))
    if meta.get("big"):
        L.append("")
        L.append("Big state, %s running tasks:" % meta["big"])
        L.append("")
        L.append("| server | load: wall s | load: CPU-s | memory MB | max UDP q/s |")
        L.append("|---|---:|---:|---:|---:|")
        for n in names[:3]:
            L.append("| %s | %s | %s | %s | %s |" % (
                n, fmt(m((n, "big_load_s")), "%.2f"), fmt(m((n, "big_load_cpu")), "%.2f"),
                fmt(m((n, "big_mem_mb")), "%.0f"), qps(m((n, "big_udp_qps")))))
        L.append("")
        reb = m(("mesos-dnsd", "rebuild_cpu"))

        def per(other):
            return reb / other if other > 0 else float("nan")   # NaN > 0 is False
        L.append("mesos-dnsd rebuild (state changed, parse + build + publish): %s CPU-s, "
                 "peak RSS %s MB, RSS after %s MB. The same change as a zone file reloaded "
                 "(serial 1 -> 2): NSD %s CPU-s, Knot %s CPU-s; rebuild / NSD %s, / Knot %s."
                 % (fmt(reb, "%.2f"),
                    fmt(m(("mesos-dnsd", "rebuild_hwm_mb")), "%.0f"),
                    fmt(m(("mesos-dnsd", "rebuild_rss_mb")), "%.0f"),
                    fmt(m(("NSD", "big_reload_cpu")), "%.2f"),
                    fmt(m(("Knot", "big_reload_cpu")), "%.2f"),
                    fmt(per(m(("NSD", "big_reload_cpu"))), "%.2f"),
                    fmt(per(m(("Knot", "big_reload_cpu"))), "%.2f")))
        L.append("mesos-dnsd polling a master (tests/integration/fake_master.py serving the same "
                 "state over HTTP, on CPU %s; stateCacheFile set, as the Debian package does): "
                 "load %s CPU-s, peak RSS %s MB, steady RSS %s MB (Knot's memory on the zone "
                 "above: %s MB); a refresh bringing the same body: %s CPU-s."
                 % (CLIENT_CPU, fmt(m(("mesos-dnsd", "polled_load_cpu")), "%.2f"),
                    fmt(m(("mesos-dnsd", "polled_hwm_mb")), "%.0f"),
                    fmt(m(("mesos-dnsd", "polled_rss_mb")), "%.0f"),
                    fmt(m(("Knot", "big_mem_mb")), "%.0f"),
                    fmt(m(("mesos-dnsd", "polled_same_cpu")), "%.2f")))
        L.append("mesos-dnsd following the same state as an event stream "
                 "(tests/integration/stream_master.py on CPU %s, stateCacheFile set): snapshot "
                 "load %s CPU-s, steady RSS %s MB; a task launched (the whole zone built again): "
                 "%s CPU-s, RSS after %s MB, peak RSS %s MB."
                 % (CLIENT_CPU, fmt(m(("mesos-dnsd", "stream_load_cpu")), "%.2f"),
                    fmt(m(("mesos-dnsd", "stream_rss_mb")), "%.0f"),
                    fmt(m(("mesos-dnsd", "stream_event_cpu")), "%.2f"),
                    fmt(m(("mesos-dnsd", "stream_event_rss_mb")), "%.0f"),
                    fmt(m(("mesos-dnsd", "stream_hwm_mb")), "%.0f")))
        L.append("mesos-dnsd refresh of a busy master's state (offers and resources in use "
                 "changed, no task: parsed, not built): %s CPU-s."
                 % fmt(m(("mesos-dnsd", "busy_cpu")), "%.2f"))
        L.append("At 50k q/s: idle avg %s ms, p99 %s ms; with the state changed before every "
                 "refresh (refreshSeconds %d; %s rebuilds in %s s): avg %s ms, p99 %s ms (%s x idle), "
                 "%s lost, %s q/s."
                 % (fmt(m(("mesos-dnsd", "idle_avg_ms")), "%.2f"),
                    fmt(m(("mesos-dnsd", "idle_p99_ms")), "%.2f"), meta["refresh"],
                    fmt(m(("mesos-dnsd", "reb_count")), "%.0f"),
                    fmt(m(("mesos-dnsd", "reb_seconds")), "%.0f"),
                    fmt(m(("mesos-dnsd", "reb_avg_ms")), "%.2f"),
                    fmt(m(("mesos-dnsd", "reb_p99_ms")), "%.2f"),
                    fmt(m(("mesos-dnsd", "reb_p99_ms")) / m(("mesos-dnsd", "idle_p99_ms")), "%.2f"),
                    fmt(m(("mesos-dnsd", "reb_lost")), "%.0f"),
                    qps(m(("mesos-dnsd", "reb_qps")))))
    L.append("")
    L.append("NXDOMAIN share of answers (expected about 15%%): %s. Fixed-load runs reached %s q/s "
             "(lowest median); lost at 50k q/s: %s."
             % (", ".join("%s %s%%" % (n, fmt(m((n, "nx_pct")), "%.1f")) for n in names[:3]),
                qps(min(m((n, "fixed_qps")) for n in names)),
                ", ".join("%s %s" % (n, fmt(m((n, "fixed_lost")), "%.0f")) for n in names)))
    L.append("Average UDP reply size (bytes; NSD and Knot empty the answer of a reply over 512 bytes): %s."
             % ", ".join("%s %s" % (n, fmt(m((n, "resp_bytes")), "%.0f")) for n in names[:3]))
    L.append("")
    L.append("%s; %s; load average %s before the run, %s after; %.0f s; `%s`." % (
        meta["date"], meta["machine"], meta["load"], meta["load_after"], meta["seconds"],
        meta["command"]))
    for note in b.notes:
        L.append("Note: " + note)
    return "\n".join(L) + "\n"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%d x %s, %.0f GiB, Linux %s" % (os.cpu_count(), model, mem, platform.release())


def main():
    ap = argparse.ArgumentParser(description="side-by-side DNS benchmark (see bench/run.sh)")
    ap.add_argument("--build", default="build")
    ap.add_argument("--work", required=True, help="folder with the generated states, zones, queries")
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--big", type=int, default=100000, help="task count of the rebuild state; 0: skip")
    ap.add_argument("--seconds", type=int, default=5, help="length of each dnsperf run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--refresh", type=int, default=5, help="refreshSeconds for the rebuild runs")
    ap.add_argument("--rebuilds", type=int, default=2, help="rebuilds in the run under load")
    ap.add_argument("--only", default="", help="comma-separated subset of ours,nsd,knot,floor")
    ap.add_argument("--pidfile", default="")
    ap.add_argument("--command", default="make bench")
    ap.add_argument("--report", default="", help="only print the report of a results.json")
    a = ap.parse_args()
    if a.report:
        with open(a.report) as f:
            saved = json.load(f)
        b = Bench.__new__(Bench)
        b.results = {tuple(k.split("/", 1)): v for k, v in saved["results"].items()}
        b.notes = saved.get("notes", [])
        print(report(b, saved["meta"]), end="")
        return
    a.build, a.work = os.path.abspath(a.build), os.path.abspath(a.work)
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs two CPUs (server on one, dnsperf on the other)")

    b = Bench(a)

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    w = a.work
    st, zn, qf = (os.path.join(w, "%s-%d.%s" % (k, a.tasks, e))
                  for k, e in (("state", "json"), ("zone", "zone"), ("queries", "txt")))
    meta = {"tasks": a.tasks, "repeats": a.repeats, "refresh": a.refresh, "big": a.big,
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(),
            "load": "%.2f" % os.getloadavg()[0], "command": a.command}
    qf_tcp = os.path.join(b.rundir, "queries-tcp.txt")
    kept, dropped = tcp_query_file(zn, qf, qf_tcp)
    b.notes.append("TCP runs use the query file less the %d of %d questions whose answer exceeds "
                   "4 KB, which dnsperf 2.10 cannot read over TCP." % (dropped, kept + dropped))
    only = set(a.only.split(",")) if a.only else {"ours", "nsd", "knot", "floor"}
    t0 = time.monotonic()
    try:
        for rep in range(a.repeats):
            b.say("repetition %d of %d" % (rep + 1, a.repeats))
            order = [(Ours, "ours", {"state": st}), (Nsd, "nsd", {"zone": zn}),
                     (Knot, "knot", {"zone": zn}), (Floor, "floor", {})]
            for cls, key, kw in order[rep % 4:] + order[:rep % 4]:
                if key in only:
                    b.pinned_round(cls(b, **kw), qf, qf_tcp)
            for cls, key, kw in order[:3]:
                if key in only:
                    b.unpinned_round(cls(b, workers=2, pinned=False, **kw), qf)
            if a.big:
                bs, bz, bq, ba, bb = (os.path.join(w, "%s-%d.%s" % (k, a.big, e)) for k, e in (
                    ("state", "json"), ("zone", "zone"), ("queries", "txt"), ("state", "alt.json"),
                    ("state", "busy.json")))
                b.big_loads(bs, bz, bq, ba)
                b.polled(bs)
                b.streamed(bs)
                b.rebuilds(bs, ba, bb, bq)
    finally:
        b.procs.stop_all()
    meta["load_after"] = "%.2f" % os.getloadavg()[0]
    meta["seconds"] = time.monotonic() - t0
    text = report(b, meta)
    with open(os.path.join(w, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(w, "results.json"), "w") as f:
        json.dump({"meta": meta, "notes": b.notes,
                   "results": {"%s/%s" % k: v for k, v in b.results.items()}}, f, indent=1)
    print(text)
    b.say("done in %.0f s; results in %s/results.md" % (time.monotonic() - t0, w))


if __name__ == "__main__":
    main()
