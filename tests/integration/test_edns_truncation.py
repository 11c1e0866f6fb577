#!/usr/bin/env python3
"""tests/integration/test_edns_truncation.py -- reply size limits, truncation and EDNS (§3).

A generated state (shaped like tests/data/fake.json) holds one Marathon app "big"
with 250 running tasks (distinct IPs 10.1.x.y, distinct ports) on three agents,
and an app "mid" with 8 tasks whose SRV answers fit in 512 bytes while their
additional addresses do not.
"""
import copy
import json
import os
import shutil
import subprocess
import tempfile

from harness import (DATA, Daemon, Tap, build_dir, dig, make_query, opt_rr, parse_msg, reply_counts,
                     reply_edns_version, reply_size, udp_send)

BUILD = build_dir()
NBIG = 250
NMID = 8

t = Tap()


def task(app, i, slave, ip, port):
    tid = "%s.%08x-1111-11e4-a088-c20493233aa5" % (app, i)
    return {
        "executor_id": "", "framework_id": "20140703-014514-3041283216-5050-5348-0000",
        "id": tid, "name": app, "slave_id": slave["id"], "state": "TASK_RUNNING",
        "resources": {"cpus": 0.1, "disk": 0, "mem": 64, "ports": "[%d-%d]" % (port, port)},
        "statuses": [{
            "state": "TASK_RUNNING", "timestamp": 1413572371.0 + i,
            "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": ip}]}]},
        }],
    }


def make_state(path):
    with open(os.path.join(DATA, "fake.json")) as f:
        base = json.load(f)
    state = copy.deepcopy(base)
    agents = [a for a in base["slaves"] if ":" not in a["hostname"]][:3]
    state["slaves"] = agents
    fw = copy.deepcopy([f for f in base["frameworks"] if f["name"] == "marathon"][0])
    tasks = []
    for i in range(NBIG):
        tasks.append(task("big", i, agents[i % len(agents)],
                          "10.1.%d.%d" % (i // 200, i % 200 + 1), 31000 + i))
    for i in range(NMID):
        tasks.append(task("mid", i, agents[i % len(agents)], "10.2.0.%d" % (i + 1), 32000 + i))
    fw["tasks"] = tasks
    fw["completed_tasks"] = []
    state["frameworks"] = [fw]
    with open(path, "w") as f:
        json.dump(state, f)


def q(d, name, rtype="A", extra=(), tcp=False):
    return dig(d.port, name, rtype, tcp=tcp, extra=["+stats", *extra])


def nans(r):
    c = reply_counts(r)
    return c[1] if c else None


def nadd(r):
    """Additional records other than the OPT pseudo-record."""
    c = reply_counts(r)
    return c[3] - (1 if r.opt else 0) if c else None


tmp = tempfile.mkdtemp(prefix="edns-test-")
daemons = []
try:
    state = os.path.join(tmp, "state.json")
    make_state(state)
    base = {"stateFile": state, "IPSources": ["netinfo", "mesos", "host"]}
    main = Daemon(BUILD, base)
    notc = Daemon(BUILD, dict(base, SetTruncateBit=False))
    big4k = Daemon(BUILD, dict(base, ednsUDPSize=4096))
    daemons = [main, notc, big4k]
    if not t.ok(all(d.wait_loaded() for d in daemons), "daemons loaded the generated state",
                "\n".join(d.logtext() for d in daemons)):
        t.done()

    # -- preconditions: over TCP everything arrives
    r = q(main, "big.marathon.mesos", tcp=True)
    t.ok(r.rcode == "NOERROR" and nans(r) == NBIG and len(set(r.data())) == NBIG
         and "tc" not in r.flags,
         "TCP: all %d A records of big.marathon.mesos, no TC" % NBIG, r.text[:3000])
    full_a = r.data()
    r = q(main, "_big._tcp.marathon.mesos", "SRV", tcp=True)
    t.ok(r.rcode == "NOERROR" and nans(r) == NBIG and nadd(r) == NBIG and "tc" not in r.flags,
         "TCP: all %d SRV records and their %d additional addresses, no TC" % (NBIG, NBIG),
         r.text[:3000])
    t.ok(reply_size(r) is not None and reply_size(r) > 4096,
         "TCP: the SRV reply is larger than any UDP limit (%s bytes)" % reply_size(r))
    r = q(main, "big.marathon.mesos", tcp=True, extra=["+noedns"])
    t.ok(nans(r) == NBIG and "tc" not in r.flags and not r.opt,
         "TCP without EDNS: still all %d records (limit 65535)" % NBIG, r.text[:2000])

    # -- no EDNS: 512 bytes
    r = q(main, "big.marathon.mesos", extra=["+noedns"])
    size, n = reply_size(r), nans(r)
    t.ok(r.rcode == "NOERROR" and size is not None and size <= 512,
         "UDP no EDNS: reply <= 512 bytes (%s)" % size, r.text[:2000])
    t.ok("tc" in r.flags, "UDP no EDNS: TC set", r.text[:600])
    t.ok(n is not None and 0 < n < NBIG and set(r.data()) <= set(full_a),
         "UDP no EDNS: fewer records (%s) than %d, all of them real" % (n, NBIG))
    t.ok(size is not None and size + 16 > 512,
         "UDP no EDNS: trimmed by whole records only as far as needed (%s bytes)" % size)
    t.ok(not r.opt, "UDP no EDNS: no OPT in the reply", r.text[:600])

    # -- SetTruncateBit false
    r = q(notc, "big.marathon.mesos", extra=["+noedns"])
    size, n = reply_size(r), nans(r)
    t.ok(size is not None and size <= 512 and n is not None and 0 < n < NBIG,
         "SetTruncateBit false: still trimmed to 512 (%s bytes, %s records)" % (size, n), r.text[:600])
    t.ok("tc" not in r.flags, "SetTruncateBit false: TC not set", r.text[:600])
    r = q(notc, "big.marathon.mesos", extra=["+bufsize=4096"])
    t.ok(reply_size(r) <= 1232 and "tc" not in r.flags and nans(r) < NBIG,
         "SetTruncateBit false with EDNS: trimmed to 1232, TC not set", r.text[:600])

    # -- EDNS: the client's size capped at 1232
    r = q(main, "big.marathon.mesos", extra=["+bufsize=4096"])
    size, n1232 = reply_size(r), nans(r)
    t.eq(r.edns_udp, 1232, "EDNS bufsize 4096: the reply's OPT advertises udp 1232 (our cap)")
    t.ok(size is not None and 512 < size <= 1232 and size + 16 > 1232,
         "EDNS bufsize 4096: reply filled up to the 1232 cap (%s bytes)" % size, r.text[:600])
    t.ok("tc" in r.flags and n1232 < NBIG, "EDNS bufsize 4096: TC set, %s records" % n1232)
    r = q(main, "big.marathon.mesos", extra=["+bufsize=800"])
    size = reply_size(r)
    t.ok(size is not None and 512 < size <= 800 and "tc" in r.flags,
         "EDNS bufsize 800 (below the cap): reply <= 800 bytes (%s), TC" % size, r.text[:600])
    r = q(main, "big.marathon.mesos", extra=["+bufsize=100"])
    size = reply_size(r)
    t.ok(size is not None and 496 < size <= 512 and "tc" in r.flags,
         "EDNS bufsize 100 is treated as 512 (RFC 6891): %s bytes, TC" % size, r.text[:600])

    # -- ednsUDPSize 4096 in the config
    r = q(big4k, "big.marathon.mesos", extra=["+bufsize=4096"])
    size, n4k = reply_size(r), nans(r)
    t.eq(r.edns_udp, 4096, "ednsUDPSize 4096: the OPT advertises 4096")
    t.ok(size is not None and size <= 4096 and n4k is not None and n4k > n1232,
         "ednsUDPSize 4096 and bufsize 4096: more records fit (%s > %s, %s bytes)" % (n4k, n1232, size),
         r.text[:600])
    r = q(big4k, "big.marathon.mesos", extra=["+bufsize=2000"])
    size = reply_size(r)
    t.ok(size is not None and 1232 < size <= 2000 and "tc" in r.flags and r.edns_udp == 4096,
         "ednsUDPSize 4096, bufsize 2000: reply <= 2000 bytes (%s), TC" % size, r.text[:600])
    r = q(big4k, "_big._tcp.marathon.mesos", "SRV", extra=["+bufsize=4096"])
    size = reply_size(r)
    t.ok(size is not None and size <= 4096 and "tc" in r.flags and nadd(r) == 0 and nans(r) < NBIG,
         "ednsUDPSize 4096: truncated SRV reply <= 4096 bytes, no additional records",
         r.text[:600])

    # -- SRV: the additional section goes first
    for extra, label in ((["+noedns"], "no EDNS"), (["+bufsize=1232"], "EDNS 1232")):
        r = q(main, "_big._tcp.marathon.mesos", "SRV", extra=extra)
        t.ok("tc" in r.flags and 0 < nans(r) < NBIG and nadd(r) == 0
             and all(rec[2] == "SRV" for rec in r.answer),
             "SRV %s: truncated answer (TC, %s of %d SRVs) has no additional records"
             % (label, nans(r), NBIG), r.text[:1500])
    r = q(main, "_mid._tcp.marathon.mesos", "SRV", tcp=True, extra=["+noedns"])
    mid_full = reply_size(r)
    mid_srv = r.data(rtype="SRV")
    t.ok(nans(r) == NMID and nadd(r) == NMID and mid_full is not None and mid_full > 512,
         "precondition: _mid._tcp has %d SRVs and %d additionals, %s bytes in all (> 512)"
         % (NMID, NMID, mid_full), r.text)
    r = q(main, "_mid._tcp.marathon.mesos", "SRV", extra=["+noedns"])
    t.ok(r.rcode == "NOERROR" and nans(r) == NMID and r.data(rtype="SRV") == mid_srv,
         "SRV answers fit in 512 but not all additionals: all %d answers present" % NMID,
         r.text)
    t.ok(nadd(r) is not None and nadd(r) < NMID and reply_size(r) <= 512,
         "... and the additional section was cut (%s of %d, %s bytes)"
         % (nadd(r), NMID, reply_size(r)), r.text)
    t.ok("tc" not in r.flags,
         "... and TC is not set: only additional data was dropped (README, RFC 2181 9)", r.text)
    r = q(main, "_mid._tcp.marathon.mesos", "SRV", extra=["+bufsize=4096"])
    t.ok(nans(r) == NMID and nadd(r) == NMID and "tc" not in r.flags,
         "with EDNS 1232 the whole _mid._tcp reply fits: %d SRVs, %d additionals" % (NMID, NMID),
         r.text)
    r = q(main, "_mid._tcp.marathon.mesos", "SRV", extra=["+noedns"])
    t.ok(set(rrs[3] for rrs in r.additional) <= {"1.2.3.10", "1.2.3.11", "1.2.3.12"},
         "... what additional records remain are real agent addresses", r.text)

    # -- EDNS echo, versions, DO
    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"
        r = q(main, "mid.marathon.mesos", extra=["+edns=0"], tcp=tcp)
        t.ok(r.rcode == "NOERROR" and r.opt and reply_edns_version(r) == 0,
             "[%s] EDNS query: OPT echoed with version 0" % tr, r.text)
        r = q(main, "mid.marathon.mesos", extra=["+noedns"], tcp=tcp)
        t.ok(r.rcode == "NOERROR" and not r.opt, "[%s] no EDNS in, no OPT out" % tr, r.text)
        r = q(main, "mid.marathon.mesos", extra=["+edns=1", "+noednsnegotiation"], tcp=tcp)
        t.ok(r.rcode == "BADVERS" and not r.answer and r.opt and reply_edns_version(r) == 0,
             "[%s] EDNS version 1: BADVERS with an OPT of version 0, no answer" % tr, r.text)
        r = q(main, "mid.marathon.mesos", extra=["+dnssec"], tcp=tcp)
        t.ok(r.rcode == "NOERROR" and r.opt and " do" not in r.text.split("; EDNS:")[1].split("\n")[0],
             "[%s] DO bit not echoed (README decision)" % tr, r.text)
        r = q(main, "nope.marathon.mesos", extra=["+edns=0"], tcp=tcp)
        t.ok(r.rcode == "NXDOMAIN" and r.opt, "[%s] NXDOMAIN carries the OPT too" % tr, r.text)

    # -- raw check of the OPT: root owner, class = our size, version 0, rcode bits
    m = parse_msg(udp_send(main.port, make_query("big.marathon.mesos", "A", edns=4096)))
    opt = m.opt if m else []
    t.ok(m is not None and len(opt) == 1 and opt[0][0] == "." and opt[0][2] == 1232
         and (opt[0][3] >> 16) & 0xFF == 0 and m.tc and m.size <= 1232
         and m.additional[-1][1] == 41,
         "raw: one OPT, last in the reply, owner root, udp 1232, version 0; %s bytes with TC"
         % (m.size if m else None), repr(m and m.raw[:64]))
    m = parse_msg(udp_send(main.port, make_query("mid.marathon.mesos", "A",
                                                 additional=opt_rr(1232, version=2))))
    t.ok(m is not None and m.rcode == "BADVERS" and m.opt and m.ancount == 0,
         "raw: EDNS version 2 -> BADVERS (extended rcode 16 in the OPT)",
         repr(m and m.raw))

    # -- kdig agrees
    if shutil.which("kdig"):
        p = subprocess.run(["kdig", "@127.0.0.1", "-p", str(main.port), "big.marathon.mesos", "A",
                            "+bufsize=4096", "+notcp", "+ignore", "+time=2", "+retry=0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = p.stdout
        t.ok("Version: 0;" in out and "UDP size: 1232 B" in out and " tc" in out.split("Flags:")[1].split("\n")[0],
             "kdig +bufsize=4096: EDNS version 0, UDP size 1232, TC", out[:1200])
        p = subprocess.run(["kdig", "@127.0.0.1", "-p", str(main.port), "mid.marathon.mesos",
                            "A", "+edns=1", "+time=2", "+retry=0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t.ok("status: BADVERS" in p.stdout, "kdig +edns=1: BADVERS", p.stdout)
    else:
        t.ok(True, "# SKIP kdig not installed")

    t.ok(all(d.proc.poll() is None for d in daemons), "every daemon is still running")
finally:
    for d in daemons:
        d.stop()
    codes = [d.proc.returncode for d in daemons]
    for d in daemons:
        d.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)

t.ok(codes == [0] * len(codes), "every daemon exits 0 on SIGTERM", codes)
t.done()
