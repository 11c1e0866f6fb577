#!/usr/bin/env python3
"""tests/integration/test_reverse_health.py -- reverse zones (PTR) and health-aware answers.

The real daemon fed from stateFile (refreshSeconds 1), queried with dig: PTR records for
task, agent and master addresses, IPv4 and IPv6 (dig -x), the one-name rule, the
reverse zones' own SOA, "auto" zones, other reverse names forwarded as before (to a
scripted upstream); healthAware: a task whose health check fails leaves the answers
and comes back when it passes again, between two state fetches, and a name whose
tasks all fail keeps them all.  Waits are on the daemon's log lines.
"""
import json
import os
import re
import subprocess
import tempfile

from harness import Daemon, Reply, Tap, build_dir, dig, parse_msg
from upstreams import FakeUpstream

BUILD = build_dir()
TMP = tempfile.mkdtemp(prefix="test-revhealth-")
t = Tap()

LOADED = r"^\w+: state: loaded from "
CHANGED = LOADED + r".*serial \d+$"


def task(tid, name, ip, health=None, port=31000, agent="A-S0"):
    status = {"state": "TASK_RUNNING", "timestamp": 1,
              "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": a}
                                                                      for a in ip]}]}}
    if health is not None:
        status["healthy"] = health
    return {"id": tid, "name": name, "slave_id": agent, "state": "TASK_RUNNING",
            "resources": {"ports": "[%d-%d]" % (port, port)}, "statuses": [status]}


def state(web2_health=True, web1_health=True, extra=()):
    return {
        "leader": "master@10.7.2.1:5050",
        "slaves": [
            {"id": "A-S0", "hostname": "agent0.dc1.example.org", "pid": "slave(1)@10.7.1.1:5051"},
            {"id": "A-S1", "hostname": "10.7.1.2", "pid": "slave(1)@[2001:db8:7::2]:5051"},
        ],
        "frameworks": [{"name": "marathon", "pid": "scheduler(1)@10.7.2.1:8080", "tasks": [
            task("web.1", "web", ["10.7.0.1", "fd00:7::1"], web1_health, 31001),
            task("web.2", "web", ["10.7.0.2"], web2_health, 31002),
            task("plain.1", "plain", ["10.7.0.3"], None, 31003),
        ] + list(extra)}],
    }


STATE = os.path.join(TMP, "state.json")


def write_state(doc):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, STATE)


def ptr(port, ip):
    """dig -x ip: the PTR query of an address, as an operator types it."""
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "-x", ip, "+noall", "+comments",
                        "+question", "+answer", "+authority", "+time=2", "+tries=1"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return Reply(p.stdout)


def wait_fetches(daemon, n=2):
    """Wait for n more loads, so at least one full fetch began after a state change."""
    have = len(re.findall(LOADED, daemon.logtext(), re.M))
    return daemon.wait_log(LOADED, have + n)


def a_set(port, name):
    return dig(port, name, "A").data("ANSWER", "A")


# ---- PTR ---------------------------------------------------------------------------
write_state(state())
upstream = FakeUpstream("answer")
d = Daemon(BUILD, {
    "stateFile": STATE, "refreshSeconds": 1, "healthAware": True,
    "reverseZones": ["7.10.in-addr.arpa", "7.0.0.0.0.0.d.f.ip6.arpa.", "8.B.D.0.1.0.0.2.ip6.arpa"],
    "externalon": True, "resolvers": [upstream.addr],
})
t.ok(d.wait_loaded(), "daemon loaded the state", d.logtext())

r = ptr(d.port, "10.7.0.1")
t.ok(r.rcode == "NOERROR" and "aa" in r.flags, "PTR of a task address: authoritative", r.text)
web1 = r.data("ANSWER", "PTR")
t.ok(len(web1) == 1 and web1[0].startswith("web-") and web1[0].endswith("-s0.marathon.mesos."),
     "IPv4 PTR names the task's canonical name (%s)" % web1)
t.eq(a_set(d.port, web1[0] if web1 else "x"), ["10.7.0.1"], "and that name resolves back to the address")
t.eq(ptr(d.port, "fd00:7::1").data("ANSWER", "PTR"), web1, "IPv6 PTR (dig -x) names the same task")
t.eq(ptr(d.port, "10.7.1.1").data("ANSWER", "PTR"), ["agent0.dc1.example.org."],
     "an agent's address names its host name")
t.eq(ptr(d.port, "2001:db8:7::2").data("ANSWER", "PTR"), ["slave.mesos."],
     "an agent with a numeric host name: slave.<domain> (IPv6)")
t.eq(ptr(d.port, "10.7.2.1").data("ANSWER", "PTR"), ["master0.mesos."],
     "the leader's address: master0 (no masters list)")
r = ptr(d.port, "10.7.9.9")
t.ok(r.rcode == "NXDOMAIN" and r.authority and r.authority[0][0] == "7.10.in-addr.arpa." and
     r.authority[0][2] == "SOA", "an unknown address in the zone: NXDOMAIN with the reverse SOA", r.text)
soa = dig(d.port, "7.10.in-addr.arpa", "SOA")
t.ok(soa.rcode == "NOERROR" and len(soa.data("ANSWER", "SOA")) == 1 and
     dig(d.port, "7.10.in-addr.arpa", "NS").data("ANSWER", "NS") == ["ns1.mesos."],
     "the reverse zone has its own SOA and NS", soa.text)
r = ptr(d.port, "10.7.0.1")
t.ok(dig(d.port, "1.0.7.10.in-addr.arpa", "PTR", tcp=True).data("ANSWER", "PTR") == web1,
     "PTR over TCP too")

before = upstream.count()
r = ptr(d.port, "192.168.1.1")
fwd = parse_msg(upstream.queries[-1][2]) if upstream.count() > before else None
t.ok(fwd is not None and fwd.question[0][0].lower() == "1.1.168.192.in-addr.arpa." and
     "aa" not in r.flags, "another reverse name is forwarded as before", r.text)

# ---- healthAware ---------------------------------------------------------------------
t.eq(a_set(d.port, "web.marathon.mesos"), ["10.7.0.1", "10.7.0.2"], "both healthy: both answer")
n = len(re.findall(CHANGED, d.logtext(), re.M))
write_state(state(web2_health=False))
t.ok(d.wait_log(CHANGED, n + 1), "the next fetch loads the failed check")
t.eq(a_set(d.port, "web.marathon.mesos"), ["10.7.0.1"], "healthy -> unhealthy: web.2 leaves A")
srv = dig(d.port, "_web._tcp.marathon.mesos", "SRV").data("ANSWER", "SRV")
t.ok(len(srv) == 1 and srv[0].startswith("0 1 31001 "), "and SRV", srv)
t.eq(a_set(d.port, "plain.marathon.mesos"), ["10.7.0.3"], "a task without health checks stays")
t.ok(ptr(d.port, "10.7.0.2").data("ANSWER", "PTR") != [], "its PTR stays (PTR is not A/AAAA/SRV)")

write_state(state(web2_health=False, web1_health=False))
t.ok(d.wait_log(CHANGED, n + 2), "both failing loaded")
t.eq(a_set(d.port, "web.marathon.mesos"), ["10.7.0.1", "10.7.0.2"],
     "every task of the name unhealthy: all served rather than none")

write_state(state(web2_health=True))
t.ok(wait_fetches(d), "passing checks loaded (the same answers as all failing: no new serial)")
t.eq(a_set(d.port, "web.marathon.mesos"), ["10.7.0.1", "10.7.0.2"], "unhealthy -> healthy: back in")
d.stop()

# healthAware off (mesos-dns): failing checks change nothing.
write_state(state(web2_health=False))
d2 = Daemon(BUILD, {"stateFile": STATE, "refreshSeconds": 60})
t.ok(d2.wait_loaded(), "daemon without healthAware loaded")
t.eq(a_set(d2.port, "web.marathon.mesos"), ["10.7.0.1", "10.7.0.2"],
     "healthAware off: an unhealthy task still answers")
t.ok(ptr(d2.port, "10.7.0.1").rcode == "REFUSED", "no reverseZones: PTR names are not ours")
d2.stop()

# ---- auto --------------------------------------------------------------------------
d3 = Daemon(BUILD, {"stateFile": STATE, "refreshSeconds": 60, "reverseZones": "auto"})
t.ok(d3.wait_loaded(), "daemon with reverseZones auto loaded")
auto = ptr(d3.port, "10.7.0.2").data("ANSWER", "PTR")
t.ok(len(auto) == 1 and auto[0].startswith("web-"), "auto: a task address has its PTR", auto)
t.ok(dig(d3.port, "0.7.10.in-addr.arpa", "SOA").rcode == "NOERROR" and
     dig(d3.port, "1.7.10.in-addr.arpa", "SOA").rcode == "NOERROR",
     "auto: one zone per /24 holding an address")
t.ok(dig(d3.port, "7.10.in-addr.arpa", "SOA").rcode == "REFUSED",
     "auto: nothing above the /24")
v6 = ptr(d3.port, "2001:db8:7::2")
t.ok(v6.data("ANSWER", "PTR") == ["slave.mesos."] and
     dig(d3.port, "0.0.0.0.7.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "SOA").rcode == "NOERROR",
     "auto: IPv6 in its /64", v6.text)
d3.stop()
upstream.stopped = True
t.done()
