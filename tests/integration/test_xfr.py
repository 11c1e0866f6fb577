#!/usr/bin/env python3
"""tests/integration/test_xfr.py -- zone transfers to real secondaries (NSD and Knot).

mesos-dnsd (stateFile, refreshSeconds 1, reverse zones, transferTo 127.0.0.1, notify
both secondaries) is the primary; Debian's NSD and Knot run in the foreground with
temporary configs as secondaries of the domain and two reverse zones.  Checked: both
pick the zones up and answer the same records as mesos-dnsd for a sample of names
(A, AAAA, SRV, PTR, SOA); a state change reaches both within seconds through NOTIFY
and an IXFR of the difference (our log, Knot's log); a large zone crosses in several
messages; a restarted primary without history answers the secondaries' IXFR with the
whole zone; an address outside transferTo (dig -b 127.0.0.2) is refused; IXFR from
the current serial and from an unknown one over raw TCP.  Waits are on log lines and
on the secondaries' answers, never fixed sleeps.
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import harness
from upstreams import ServerProcess
from harness import (Daemon, Msg, Tap, build_dir, dig, dig_batch, free_port, make_query,
                     recv_exact, tcp_connect, wait_for, wire_name)

BUILD = build_dir()
TMP = tempfile.mkdtemp(prefix="test-xfr-")
harness._dirs.append(TMP)
t = Tap()

ZONES = ["mesos", "7.10.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"]
STATE = os.path.join(TMP, "state.json")


# ---- the cluster state ----------------------------------------------------------------
def task(tid, name, ips, port, agent="A-S0", health=None):
    st = {"state": "TASK_RUNNING", "timestamp": 1,
          "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": a} for a in ips]}]}}
    if health is not None:
        st["healthy"] = health
    return {"id": tid, "name": name, "slave_id": agent, "state": "TASK_RUNNING",
            "resources": {"ports": "[%d-%d]" % (port, port)}, "statuses": [st]}


def state(extra=(), many=0):
    tasks = [task("web.1", "web", ["10.7.0.1", "2001:db8:7::101"], 31001),
             task("web.2", "web", ["10.7.0.2"], 31002),
             task("db.1", "db", ["10.7.0.3"], 31003, agent="A-S1")]
    tasks += list(extra)
    for i in range(many):
        tasks.append(task("bulk.%d" % i, "bulk%d" % i, ["10.7.%d.%d" % (10 + i // 250, i % 250 + 1)],
                          32000 + i))
    return {"leader": "master@10.7.2.1:5050",
            "slaves": [{"id": "A-S0", "hostname": "agent0.dc1.example.org", "pid": "slave(1)@10.7.1.1:5051"},
                       {"id": "A-S1", "hostname": "agent1", "pid": "slave(1)@[2001:db8:7::2]:5051"}],
            "frameworks": [{"name": "marathon", "pid": "scheduler(1)@10.7.2.1:8080", "tasks": tasks}]}


def write_state(doc):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, STATE)


# ---- secondaries -----------------------------------------------------------------------
class Secondary(ServerProcess):
    def serial(self, zone):
        r = dig(self.port, zone, "SOA", timeout=1)
        soa = r.data("ANSWER", "SOA")
        return int(soa[0].split()[2]) if r.rcode == "NOERROR" and soa else None


class NsdSecondary(Secondary):
    """NSD with request-xfr and allow-notify pointing at the primary."""

    def __init__(self, primary_port):
        self.dir = tempfile.mkdtemp(prefix="xfr-nsd-", dir=TMP)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "nsd.log")
        d = self.dir
        conf = ("server:\n  ip-address: 127.0.0.1@%d\n  server-count: 1\n  username: \"\"\n"
                "  chroot: \"\"\n  zonesdir: \"%s\"\n  database: \"\"\n  zonelistfile: \"%s/zone.list\"\n"
                "  xfrdfile: \"%s/xfrd.state\"\n  xfrdir: \"%s\"\n  pidfile: \"%s/nsd.pid\"\n"
                "  logfile: \"%s\"\n  verbosity: 2\n  do-ip6: no\n"
                "remote-control:\n  control-enable: no\n"
                "pattern:\n  name: primary\n  request-xfr: 127.0.0.1@%d NOKEY\n"
                "  allow-notify: 127.0.0.1 NOKEY\n"
                % (self.port, d, d, d, d, d, self.log_path, primary_port))
        for z in ZONES:
            conf += "zone:\n  name: %s\n  include-pattern: primary\n" % z
        with open(os.path.join(d, "nsd.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nsd", "-d", "-c", os.path.join(d, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        harness._procs.append(self.proc)


class KnotSecondary(Secondary):
    """knotd in the foreground: remote + acl (notify) + zones with master."""

    def __init__(self, primary_port):
        self.dir = tempfile.mkdtemp(prefix="xfr-knot-", dir=TMP)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "knot.log")
        d = self.dir
        os.makedirs(os.path.join(d, "db"))
        os.makedirs(os.path.join(d, "zones"))
        conf = ("server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%d\n  pidfile: \"%s/knot.pid\"\n"
                "log:\n  - target: stderr\n    any: info\n"
                "database:\n  storage: \"%s/db\"\n"
                "remote:\n  - id: primary\n    address: 127.0.0.1@%d\n"
                "acl:\n  - id: from_primary\n    address: 127.0.0.1\n    action: notify\n"
                "template:\n  - id: default\n    storage: \"%s/zones\"\n    master: primary\n"
                "    acl: from_primary\n"
                "zone:\n" % (d, self.port, d, d, primary_port, d))
        for z in ZONES:
            conf += "  - domain: %s\n" % z
        with open(os.path.join(d, "knot.conf"), "w") as f:
            f.write(conf)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["knotd", "-c", os.path.join(d, "knot.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        harness._procs.append(self.proc)


def all_at(secs, zone, serial, timeout=10):
    return wait_for(lambda: all(s.serial(zone) == serial for s in secs), timeout, 0.05)


def soa_serial(port, zone):
    soa = dig(port, zone, "SOA").data("ANSWER", "SOA")
    return int(soa[0].split()[2]) if soa else None


def sample(port, queries):
    """{(name, type): sorted data} for the queries, from one server."""
    got = dig_batch(port, queries)
    return {k: sorted(r.data("ANSWER", k[1])) for k, r in got.items()}


# ---- start -----------------------------------------------------------------------------
write_state(state())
primary_cfg = {
    "stateFile": STATE, "refreshSeconds": 1,
    "reverseZones": ZONES[1:], "transferTo": ["127.0.0.1/32"],
    "notify": [],  # filled in below, once the secondaries' ports are known
}
port = free_port()
primary_cfg["port"] = port
nsd = NsdSecondary(port)
knot = KnotSecondary(port)
secs = [nsd, knot]
primary_cfg["notify"] = ["127.0.0.1:%d" % nsd.port, "127.0.0.1:%d" % knot.port]
d = Daemon(BUILD, primary_cfg)
t.ok(d.wait_loaded(), "primary loaded the state", d.logtext())
s1 = soa_serial(port, "mesos")

t0 = time.time()
ok = all(all_at(secs, z, soa_serial(port, z), 15) for z in ZONES)
t.ok(ok, "NSD and Knot pick up the three zones (%.1f s)" % (time.time() - t0),
     "nsd: %s\nknot: %s\nnsd log:\n%s\nknot log:\n%s" % (
         [nsd.serial(z) for z in ZONES], [knot.serial(z) for z in ZONES], nsd.logtext()[-2000:],
         knot.logtext()[-2000:]))

web1_ptr = "1.0.7.10.in-addr.arpa"
QUERIES = [("web.marathon.mesos", "A"), ("web.marathon.mesos", "AAAA"),
           ("_web._tcp.marathon.mesos", "SRV"), ("_db._udp.marathon.slave.mesos", "SRV"),
           ("leader.mesos", "A"), ("master0.mesos", "A"), ("slave.mesos", "A"),
           ("slave.mesos", "AAAA"), ("marathon.mesos", "A"), ("mesos", "NS"), ("mesos", "SOA"),
           (web1_ptr, "PTR"), ("3.0.7.10.in-addr.arpa", "PTR"), ("1.1.7.10.in-addr.arpa", "PTR"),
           ("1.2.7.10.in-addr.arpa", "PTR"),
           ("1.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR"),
           ("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR"),
           ("7.10.in-addr.arpa", "SOA")]
ours = sample(port, QUERIES)
t.ok(all(ours.get(q) for q in QUERIES), "the sample has an answer at the primary for each name",
     {q: ours.get(q) for q in QUERIES})
for s, name in ((nsd, "NSD"), (knot, "Knot")):
    theirs = sample(s.port, QUERIES)
    diff = {q: (ours.get(q), theirs.get(q)) for q in QUERIES if ours.get(q) != theirs.get(q)}
    t.ok(not diff, "%s answers the same records as mesos-dnsd (%d names)" % (name, len(QUERIES)),
         diff)

# ---- a change follows within seconds, by NOTIFY and IXFR ---------------------------------
n_ixfr = len(re.findall(r"xfr: IXFR of mesos\. serial \d+ -> \d+", d.logtext()))
write_state(state(extra=[task("api.1", "api", ["10.7.0.9"], 31009)]))
t0 = time.time()
followed = wait_for(lambda: all(dig(s.port, "api.marathon.mesos", "A", timeout=1).data("ANSWER", "A")
                                == ["10.7.0.9"] for s in secs), 10, 0.05)
elapsed = time.time() - t0
t.ok(followed and elapsed < 5, "both secondaries answer a new task within %.2f s of the state "
     "change (refreshSeconds 1)" % elapsed)
s2 = soa_serial(port, "mesos")
t.ok(s2 and s2 != s1 and all_at(secs, "mesos", s2, 5), "both at the new serial %s" % s2)
t.ok(d.wait_log(r"notify: mesos\. serial %d acknowledged by 127\.0\.0\.1:%d" % (s2, nsd.port)) and
     d.wait_log(r"notify: mesos\. serial %d acknowledged by 127\.0\.0\.1:%d" % (s2, knot.port)),
     "NOTIFY for the new serial acknowledged by both", d.logtext()[-3000:])
t.ok(d.wait_log(r"xfr: IXFR of mesos\. serial %d -> %d \(1 version\) to 127\.0\.0\.1" % (s1, s2),
                count=2),
     "the change crossed as IXFR, one per secondary (our log)", d.logtext()[-3000:])
t.ok(wait_for(lambda: re.search(r"\[mesos\.\] IXFR, incoming, remote 127\.0\.0\.1@%d, finished" % port,
                                knot.logtext()), 5),
     "Knot logs an incoming IXFR", knot.logtext()[-2000:])
new_ptr = dig(port, "9.0.7.10.in-addr.arpa", "PTR").data("ANSWER", "PTR")
t.ok(new_ptr and wait_for(lambda: all(dig(s.port, "9.0.7.10.in-addr.arpa", "PTR", timeout=1)
                                      .data("ANSWER", "PTR") == new_ptr for s in secs), 5, 0.05) and
     d.wait_log(r"xfr: IXFR of 7\.10\.in-addr\.arpa\. serial \d+ -> \d+", count=2),
     "the new task's PTR reached both (the reverse zone's own IXFR)")

# ---- refused outside transferTo; AXFR and IXFR by hand ------------------------------------
p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "-b", "127.0.0.2", "mesos", "AXFR",
                    "+time=2", "+tries=1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
t.ok("Transfer failed" in p.stdout and "IN\tA" not in p.stdout,
     "dig -b 127.0.0.2 AXFR: refused (127.0.0.2 is not in transferTo)", p.stdout)


def tcp_xfr(query, source="127.0.0.1"):
    """Send one transfer query over TCP from source; the messages until the closing SOA."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(struct.pack("!H", len(query)) + query)
    msgs, soas = [], 0
    try:
        while True:
            head = recv_exact(s, 2)
            if len(head) < 2:
                break
            m = Msg(recv_exact(s, struct.unpack("!H", head)[0]))
            msgs.append(m)
            soas += sum(1 for r in m.answer if r[1] == 6)
            if m.rcode != "NOERROR" or (soas >= 2 and m.answer and m.answer[-1][1] == 6) or \
                    (soas == 1 and len(m.answer) == 1 and len(msgs) == 1 and query[-4:-2] != b"\0\xfc"):
                break
    finally:
        s.close()
    return msgs


m = tcp_xfr(make_query("mesos", "AXFR", flags=0), source="127.0.0.2")
t.ok(len(m) == 1 and m[0].rcode == "REFUSED", "raw AXFR from 127.0.0.2: REFUSED")
ax = tcp_xfr(make_query("mesos", "AXFR", flags=0))
recs = [r for msg in ax for r in msg.answer]
t.ok(ax and recs[0][1] == 6 and recs[-1][1] == 6 and sum(1 for r in recs if r[1] == 6) == 2 and
     all(msg.aa for msg in ax), "raw AXFR from 127.0.0.1: SOA first and last, AA set")


def ixfr_query(zone, serial):
    soa = (b"\xc0\x0c" + struct.pack("!HHIH", 6, 1, 0, 22) + b"\0\0" + struct.pack("!IIIII", serial, 0, 0, 0, 0))
    q = make_query(zone, "IXFR", flags=0, nscount=1)
    return q + soa


up = tcp_xfr(ixfr_query("mesos", s2))
t.ok(len(up) == 1 and len(up[0].answer) == 1 and up[0].answer[0][1] == 6,
     "IXFR from the current serial: the SOA alone")
old = tcp_xfr(ixfr_query("mesos", 12345))
recs = [r for msg in old for r in msg.answer]
t.ok(len(recs) > 3 and recs[0][1] == 6 and recs[1][1] != 6,
     "IXFR from a serial we never had: the whole zone (AXFR style)")

# ---- a large zone crosses in several messages -------------------------------------------
write_state(state(extra=[task("api.1", "api", ["10.7.0.9"], 31009)], many=1500))
t.ok(wait_for(lambda: soa_serial(port, "mesos") != s2, 10), "large state loaded")
s3 = soa_serial(port, "mesos")
p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "mesos", "AXFR", "+time=5", "+tries=1"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
msize = re.search(r"XFR size: (\d+) records \(messages (\d+)", p.stdout)
t.ok(msize and int(msize.group(2)) > 1 and int(msize.group(1)) > 6000,
     "dig AXFR of the large zone: %s records in %s messages" % (msize.group(1) if msize else "?",
                                                               msize.group(2) if msize else "?"))
t0 = time.time()
t.ok(all_at(secs, "mesos", s3, 15) and all_at(secs, "7.10.in-addr.arpa",
                                             soa_serial(port, "7.10.in-addr.arpa"), 15),
     "both secondaries take the large zone (%.1f s)" % (time.time() - t0))
big = [("bulk%d.marathon.mesos" % i, "A") for i in (0, 700, 1499)] + \
      [("%d.%d.7.10.in-addr.arpa" % (i % 250 + 1, 10 + i // 250), "PTR") for i in (0, 1499)]
ours = sample(port, big)
t.ok(all(ours.get(q) for q in big) and all(sample(s.port, big) == ours for s in secs),
     "the large zone answers the same everywhere", ours)

# ---- a slow transfer spans a zone swap: it keeps sending the zone it started ---------------
def read_msg(sock):
    head = recv_exact(sock, 2)
    return Msg(recv_exact(sock, struct.unpack("!H", head)[0])) if len(head) == 2 else None


slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader that lags
slow.settimeout(10)
slow.connect(("127.0.0.1", port))
q = make_query("mesos", "AXFR", flags=0)
slow.sendall(struct.pack("!H", len(q)) + q)
first = read_msg(slow)
write_state(state(extra=[task("api.1", "api", ["10.7.0.11"], 31009)], many=1500))
t.ok(wait_for(lambda: soa_serial(port, "mesos") not in (s3, None), 10), "the zone changed meanwhile")
s3b = soa_serial(port, "mesos")
msgs = [first]
while msgs[-1] is not None and not (len(msgs) > 1 and msgs[-1].answer and msgs[-1].answer[-1][1] == 6):
    msgs.append(read_msg(slow))
slow.close()
recs = [r for m in msgs if m for r in m.answer]
serials = [struct.unpack("!I", r[4][-20:-16])[0] for r in recs if r[1] == 6]
t.ok(serials == [s3, s3] and len(recs) == int(msize.group(1)) and
     not any(r[0] == "api.marathon.mesos." and r[4] == bytes([10, 7, 0, 11]) for r in recs),
     "the transfer started before the swap ends with the old zone, whole (%d records in %d "
     "messages, serial %s -> %s meanwhile)" % (len(recs), len(msgs), s3, s3b))
t.ok(d.wait_log(r"xfr: AXFR of mesos\. serial %d to 127\.0\.0\.1: %d records" % (s3, len(recs))),
     "and our log says so")
t.ok(all_at(secs, "mesos", s3b, 10), "the secondaries follow the swap")

# ---- a restarted primary has no history: IXFR answered with the whole zone ---------------
s3 = s3b
d.stop()
write_state(state(extra=[task("api.1", "api", ["10.7.0.10"], 31009)], many=1500))
d = Daemon(BUILD, primary_cfg)
t.ok(d.wait_loaded(), "primary restarted")
s4 = soa_serial(port, "mesos")
t.ok(d.wait_log(r"notify: the secondaries hold serials up to %d" % s3) and (s4 - s3) % 2**32 < 2**31,
     "the restarted primary asked the secondaries first and starts above their serial "
     "(%d > %d, though its clock may say less)" % (s4, s3), d.logtext()[:2000])
t.ok(all_at(secs, "mesos", s4, 15) and
     all(dig(s.port, "api.marathon.mesos", "A").data("ANSWER", "A") == ["10.7.0.10"] for s in secs),
     "after a restart both follow again (NOTIFY from the new process)")
t.ok(d.wait_log(r"xfr: IXFR of mesos\. from serial %d, not in the history: whole zone" % s3),
     "an IXFR from before the restart gets the whole zone (our log)", d.logtext()[-2000:])
t.ok(re.search(r"\[mesos\.\] IXFR, incoming, remote 127\.0\.0\.1@%d, receiving AXFR-style IXFR" % port,
               knot.logtext()) is not None, "Knot: AXFR-style IXFR", knot.logtext()[-1500:])

d.stop()
for s in secs:
    s.stop()
knot.log.close()
t.done()
