#!/usr/bin/env python3
"""tests/integration/test_forward.py -- behaviour.md §4 (forwarding) with real servers.

Upstreams are Debian's NSD (two of them: the general resolver and a
zoneResolvers server) and scripted servers in this process (never answering,
SERVFAIL, REFUSED, spoofing, EDNS, lower-casing).  In front of the daemon:
dig, raw sockets, Debian's BIND as a forwarding server, and the system
resolver (getent) inside a private network namespace with the daemon as its
only nameserver.
"""
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import harness
from harness import (DATA, Daemon, Tap, build_dir, dig, free_port, make_query, opt_rr,
                     parse_msg, tcp_send, udp_send, wire_name)
from upstreams import FakeUpstream, Named, Nsd, opt_of

BUILD = build_dir()
HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(DATA, "fake.json")
DEMO = os.path.join(DATA, "demo", "state.json")

t = Tap()
procs = []  # daemons, NSDs, BIND, fakes: stopped at the end


def keep(x):
    procs.append(x)
    return x


def daemon(args=(), **cfg):
    base = {"stateFile": FAKE, "externalon": True, "timeout": 2}
    base.update(cfg)
    d = keep(Daemon(BUILD, base, args))
    if not d.wait_loaded():
        print("# daemon did not load:\n# " + d.logtext().replace("\n", "\n# "))
    return d


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def a_data(r):
    return r.data("ANSWER", "A")


BIG = 100
nsd1 = keep(Nsd({
    "example.test": "www IN A 192.0.2.10\n"
                    + "".join("big IN A 198.18.0.%d\n" % i for i in range(1, BIG + 1)),
    "corp.test": "www IN A 192.0.2.66\nonly-general IN A 192.0.2.67\n",
    "down.test": "www IN A 192.0.2.68\n",
    # a server that would answer for names of our domain, if we ever asked it
    "mesos": "nope.marathon IN A 203.0.113.99\nnginx.marathon IN A 203.0.113.98\n",
}))
nsd2 = keep(Nsd({"corp.test": "www IN A 192.0.2.77\n"}))
silent = keep(FakeUpstream("silent"))
servfail = keep(FakeUpstream("servfail"))
refused = keep(FakeUpstream("refused"))
spoof = keep(FakeUpstream("spoof"))
edns = keep(FakeUpstream("edns"))
lower = keep(FakeUpstream("lower"))
bare = keep(FakeUpstream("bare-formerr"))
bigup = keep(FakeUpstream("big"))
closed_port = free_port()  # nothing listens there: ICMP port unreachable / RST

try:
    # ---- failover past a dead first resolver, and not waiting for it again --------
    d = daemon(resolvers=[silent.addr, nsd1.addr],
               zoneResolvers={"corp.test": [nsd2.addr], "down.test": [refused.addr],
                              "spoof.test": [spoof.addr], "edns.test": [edns.addr],
                              "lower.test": [lower.addr]})
    r, took = timed(dig, d.port, "www.example.test", timeout=5)
    t.eq(a_data(r), ["192.0.2.10"], "first query: the silent first resolver, then NSD answers")
    t.ok(1.8 <= took < 3.5, "first query waited for the timeout (2 s) once: %.2f s" % took)
    t.eq(silent.count(), 1, "the silent resolver was asked once")
    t.ok(d.wait_log(r"forward: %s did not answer within 2 s" % silent.addr, timeout=2),
         "the timeout is logged once with the upstream", d.logtext()[-2000:])
    slow = []
    for i in range(6):
        tcp = i % 2 == 1
        r, took = timed(dig, d.port, "www.example.test", tcp=tcp, timeout=5)
        if a_data(r) != ["192.0.2.10"] or took > 1.0:
            slow.append((tcp, a_data(r), round(took, 2)))
    t.eq(slow, [], "next queries (UDP and TCP, both workers) skip the dead resolver: each under half the timeout")
    t.eq(silent.count(), 1, "the dead resolver is not asked again during its down period")
    t.ok(d.wait_log(r"did not answer within", count=1) and
         len([l for l in d.logtext().splitlines() if "did not answer" in l]) == 1,
         "one log line for the outage, not one per query")

    # ---- zoneResolvers ----------------------------------------------------------------
    r = dig(d.port, "www.corp.test")
    t.eq(a_data(r), ["192.0.2.77"], "a zoneResolvers name goes to its zone's server (NSD 2)")
    r = dig(d.port, "WWW.Corp.Test", tcp=True)
    t.eq(a_data(r), ["192.0.2.77"], "... over TCP, any case")
    r = dig(d.port, "only-general.corp.test")
    t.ok(r.rcode == "NXDOMAIN" and not r.answer,
         "a name only the general resolver knows: NXDOMAIN from the zone's server, "
         "never asked of the general resolvers", r.text)
    r = dig(d.port, "www.down.test")
    t.eq(r.rcode, "SERVFAIL", "the zone's only server refuses: SERVFAIL, no fallback to the general resolvers")
    t.eq(refused.count(), 1, "the zone's server was asked")

    # ---- names in our domain are never forwarded ------------------------------------------------
    for tcp in (False, True):
        r = dig(d.port, "nope.marathon.mesos", tcp=tcp)
        t.ok(r.rcode == "NXDOMAIN" and "aa" in r.flags and not r.answer,
             "[%s] a missing name in the domain: our NXDOMAIN, not the upstream's record"
             % ("tcp" if tcp else "udp"), r.text)
        r = dig(d.port, "nginx.marathon.mesos", tcp=tcp)
        t.eq(a_data(r), ["10.3.0.3"], "[%s] a name in the domain: from the zone"
             % ("tcp" if tcp else "udp"))

    # ---- truncation: TC relayed over UDP, the full answer over TCP ------------------------------
    r = dig(d.port, "big.example.test", extra=("+noedns",))
    t.ok("tc" in r.flags and r.rcode == "NOERROR",
         "an RRset too big for UDP: the client gets NSD's TC reply", r.text)
    r = dig(d.port, "big.example.test", extra=("+bufsize=1232",))
    t.ok("tc" in r.flags, "... with EDNS 1232 too", r.text)
    r = dig(d.port, "big.example.test", tcp=True)
    t.eq(len(a_data(r)), BIG, "over TCP through us: all %d records" % BIG)
    t.ok("tc" not in r.flags, "... and no TC")

    # ---- 0x20: the question comes back as the client wrote it ------------------------------------
    q = make_query("WwW.LoWeR.TeSt", "A", qid=0x2020)
    m = parse_msg(udp_send(d.port, q, timeout=3))
    t.ok(m is not None and m.raw[12:12 + len(wire_name("WwW.LoWeR.TeSt"))] == q[12:12 + len(wire_name("WwW.LoWeR.TeSt"))]
         and m.id == 0x2020 and [socket.inet_ntoa(a[4]) for a in m.answer] == ["192.0.2.203"],
         "an upstream that lower-cases the question: the client still sees its own letters and ID")
    r = dig(d.port, "WwW.eXaMpLe.TeSt")
    t.eq(r.sections["QUESTION"][0][0] if r.sections["QUESTION"] else None, "WwW.eXaMpLe.TeSt.",
         "the question echoed exactly (dig would warn otherwise)")

    # ---- EDNS passes through both ways ----------------------------------------------------------
    our_opt = opt_rr(3000, rdata=struct.pack("!HH", 65001, 5) + b"hello")
    q = make_query("www.edns.test", "A", qid=0x0e0e, additional=our_opt)
    m = parse_msg(udp_send(d.port, q, timeout=3))
    got = [x for x in edns.queries if x[0] == "udp"]
    t.ok(got and opt_of(got[-1][2]) == our_opt,
         "the client's OPT (size 3000, option 65001) reaches the upstream unchanged",
         repr(got[-1][2] if got else None))
    t.ok(m is not None and len(m.opt) == 1 and m.opt[0][2] == 1400 and b"world" in m.opt[0][4]
         and [socket.inet_ntoa(a[4]) for a in m.answer] == ["192.0.2.202"],
         "the upstream's OPT (size 1400, option 65002) reaches the client unchanged")

    # ---- spoofed replies are dropped; IDs and ports are random -----------------------------------
    ids, ports = [], []
    for i in range(5):
        n_before = spoof.count()
        q = make_query("www.spoof.test", "A", qid=0x1234)
        m = parse_msg(udp_send(d.port, q, timeout=4))
        ok_ = m is not None and m.id == 0x1234 and \
            [socket.inet_ntoa(a[4]) for a in m.answer] == ["192.0.2.200"]
        if not t.ok(ok_, "spoof round %d: wrong ID, wrong source port and wrong question dropped; "
                    "the right reply relayed" % (i + 1), m and [socket.inet_ntoa(a[4]) for a in m.answer]):
            break
        rec = spoof.queries[n_before]
        ids.append(struct.unpack("!H", rec[2][:2])[0])
        ports.append(rec[1][1])
    t.ok(len(set(ids)) >= 4 and ids != [0x1234] * len(ids),
         "upstream IDs are random, not the client's: %s" % ["%04x" % i for i in ids])
    t.ok(len(set(ports)) >= 4, "a fresh random source port per query: %s" % ports)
    m = parse_msg(tcp_send(d.port, make_query("www.spoof.test", "A", qid=0x4321), timeout=4))
    t.ok(m is not None and m.id == 0x4321 and [socket.inet_ntoa(a[4]) for a in m.answer] == ["192.0.2.200"],
         "over TCP: replies with a wrong ID or question are skipped, the right one relayed")

    # ---- default recurseFrom: loopback is allowed -------------------------------------------------
    r = dig(d.port, "www.example.test", extra=("-b", "127.0.0.2"))
    t.eq(a_data(r), ["192.0.2.10"], "default recurseFrom: a client on 127.0.0.2 (loopback) may forward")
    d.stop()

    # ---- the same with debug logging: the reasons for dropping ------------------------------------
    dv = daemon(args=("-v",), resolvers=[spoof.addr])
    m = parse_msg(udp_send(dv.port, make_query("www.example.test", "A"), timeout=4))
    t.ok(m is not None and [socket.inet_ntoa(a[4]) for a in m.answer] == ["192.0.2.200"], "spoofed: right answer")
    t.ok(dv.wait_log(r"dropped a reply from %s: ID mismatch" % spoof.addr, timeout=2) and
         dv.wait_log(r"dropped a reply from %s: question mismatch" % spoof.addr, timeout=2),
         "debug log: dropped for ID mismatch and question mismatch", dv.logtext()[-2000:])
    dv.stop()

    # ---- network error, SERVFAIL, REFUSED: next upstream at once ---------------------------------
    d = daemon(resolvers=["127.0.0.1:%d" % closed_port, servfail.addr, refused.addr, nsd1.addr])
    for tcp in (False, True):
        sf, rf = servfail.count(), refused.count()
        r, took = timed(dig, d.port, "www.example.test", tcp=tcp, timeout=5)
        tr = "tcp" if tcp else "udp"
        t.eq(a_data(r), ["192.0.2.10"], "[%s] port unreachable, SERVFAIL, REFUSED, then NSD answers" % tr)
        t.ok(took < 1.0, "[%s] ... without waiting for a timeout: %.2f s" % (tr, took))
        t.ok(servfail.count() == sf + 1 and refused.count() == rf + 1,
             "[%s] the SERVFAIL and REFUSED upstreams were each asked once" % tr)
    d.stop()

    # ---- FORMERR without the question: a failed exchange, not silence ---------------------------
    # RFC 1035 does not make a server echo the question; treated as silence, it cost the
    # client the whole timeout and marked the upstream down for everyone.
    d = daemon(resolvers=[bare.addr, nsd1.addr])
    for k in range(2):
        n0 = bare.count()
        r, took = timed(dig, d.port, "www.example.test", timeout=5)
        t.ok(a_data(r) == ["192.0.2.10"] and took < 1.0 and bare.count() == n0 + 1,
             "bare FORMERR, query %d: asked, then NSD answers at once (%.2f s)" % (k + 1, took))
    t.ok("marked down" not in d.logtext(), "bare FORMERR: the upstream is not marked down",
         d.logtext()[-2000:])
    d.stop()

    # ---- an upstream past the client's UDP limit: TC, so the client asks over TCP ----------------
    d = daemon(resolvers=[nsd1.addr], zoneResolvers={"big.test": [bigup.addr]})
    for edns, limit in ((None, 512), (1232, 1232)):
        m = parse_msg(udp_send(d.port, make_query("www.big.test", qid=0x7e57, edns=edns), timeout=3))
        t.ok(m is not None and m.tc and m.size <= limit and not m.answer and m.id == 0x7e57 and
             m.question == [("www.big.test.", 1, 1)] and bool(m.opt) == (edns is not None),
             "[udp, limit %d] a 1.6 KB upstream reply: TC, %s bytes, question kept%s" %
             (limit, m.size if m else None, ", our OPT" if edns else ", no OPT"))
    m = parse_msg(udp_send(d.port, make_query("www.big.test", edns=4096), timeout=3))
    t.ok(m is not None and not m.tc and len(m.answer) == 100,
         "[udp, limit 4096] it fits: relayed whole (%s records)" % (len(m.answer) if m else None))
    r = dig(d.port, "www.big.test", tcp=True)
    t.eq(len(a_data(r)), 100, "[tcp] relayed whole")
    d.stop()

    # ---- a partial TCP message behind a forwarded query ----------------------------------------
    # A connection with a forwarded query out is not idle, but a message begun and not
    # finished within tcpIdleTimeout ends it all the same (at the deadline, not when the
    # forwarded query is over, and without the timeout firing again and again meanwhile).
    quiet = keep(FakeUpstream("silent"))   # not marked down by the sections above
    d = daemon(resolvers=[quiet.addr], tcpIdleTimeout=1, timeout=4, workers=1)
    c = harness.tcp_connect(d.port)
    q = make_query("www.example.test", qid=0x0b0b)
    c.sendall(struct.pack("!H", len(q)) + q)
    time.sleep(0.2)                       # the query is with the (silent) upstream now
    t0 = time.monotonic()
    c.sendall(struct.pack("!H", len(q)) + q[:3])    # a message begun, then nothing
    c.settimeout(6)
    data = b""
    try:
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    took = time.monotonic() - t0
    c.close()
    t.ok(quiet.count() == 1 and data == b"" and took < 2.5,
         "a message left partial behind a forwarded query (still out: %d asked, %d bytes "
         "back): closed after %.1f s (tcpIdleTimeout 1, the upstream's timeout 4)" %
         (quiet.count(), len(data), took))
    d.stop()

    # ---- all fail: SERVFAIL -------------------------------------------------------------------
    d = daemon(resolvers=[servfail.addr, refused.addr])
    for tcp in (False, True):
        r = dig(d.port, "www.example.test", tcp=tcp, extra=("+bufsize=1232",))
        tr = "tcp" if tcp else "udp"
        t.ok(r.rcode == "SERVFAIL" and "ra" in r.flags and r.opt and not r.answer,
             "[%s] every upstream failed: SERVFAIL (RA, OPT echoed)" % tr, r.text)
    r = dig(d.port, "www.example.test", extra=("+noedns",))
    t.ok(r.rcode == "SERVFAIL" and not r.opt, "without EDNS: SERVFAIL without an OPT", r.text)
    d.stop()

    # ---- the in-flight bound ---------------------------------------------------------------------
    d = daemon(resolvers=[silent.addr], workers=1, forwardMaxInflight=2, timeout=2)
    socks = []
    t0 = time.monotonic()
    for i in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(make_query("q%d.example.test" % i, "A", qid=0x100 + i), ("127.0.0.1", d.port))
        socks.append(s)
        time.sleep(0.02)  # in order, so the first two are the ones held
    got = {}
    while len(got) < 4 and time.monotonic() - t0 < 6:
        ready, _, _ = select.select([s for s in socks if s not in got], [], [], 0.1)
        for s in ready:
            m = parse_msg(s.recvfrom(65535)[0])
            got[s] = (m.id, m.rcode, time.monotonic() - t0)
    for s in socks:
        s.close()
    got = sorted(got.values())
    fast = [g for g in got if g[1] == "SERVFAIL" and g[2] < 1.0]
    slow = [g for g in got if g[1] == "SERVFAIL" and g[2] >= 1.9]
    t.ok(sorted(g[0] for g in fast) == [0x102, 0x103] and sorted(g[0] for g in slow) == [0x100, 0x101],
         "bound 2: queries 3 and 4 get SERVFAIL at once, 1 and 2 after the timeout",
         [(hex(g[0]) if g[0] else None, g[1], g[2] and round(g[2], 2)) for g in got])
    # shut down while a UDP and a TCP query wait for the silent upstream
    n0 = silent.count()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(make_query("held.example.test", "A"), ("127.0.0.1", d.port))
    c = harness.tcp_connect(d.port)
    q = make_query("held.example.test", "A")
    c.sendall(struct.pack("!H", len(q)) + q)
    out = harness.wait_for(lambda: silent.count() >= n0 + 2, 2)
    rc, took = timed(d.stop)
    t.ok(out and rc == 0 and took < 2,
         "stopped with forwarded queries out (UDP and TCP): exit %s in %.2f s" % (rc, took),
         d.logtext()[-1500:])
    u.close()
    c.close()

    # ---- recurseFrom --------------------------------------------------------------------------
    d = daemon(resolvers=[nsd1.addr], recurseFrom=["127.0.0.1/32"], recurseon=True)
    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"
        r = dig(d.port, "www.example.test", tcp=tcp, extra=("-b", "127.0.0.2"))
        t.ok(r.rcode == "REFUSED" and not r.answer,
             "[%s] recurseFrom 127.0.0.1/32: a client on 127.0.0.2 gets REFUSED for an outside name" % tr,
             r.text)
        r = dig(d.port, "nginx.marathon.mesos", tcp=tcp, extra=("-b", "127.0.0.2"))
        t.eq(a_data(r), ["10.3.0.3"], "[%s] ... while names in the domain still answer" % tr)
        r = dig(d.port, "www.example.test", tcp=tcp, extra=("-b", "127.0.0.1"))
        t.eq(a_data(r), ["192.0.2.10"], "[%s] the allowed client is forwarded" % tr)
    d.stop()

    # ---- before the first state load: forwarding already works --------------------------------
    d = keep(Daemon(BUILD, {"stateFile": os.path.join(HERE, "no-such-state.json"), "externalon": True,
                            "resolvers": [nsd1.addr]}))
    if t.ok(d.wait_log(r"dns: serving on"), "a daemon without state starts", d.logtext()[-1500:]):
        t.eq(a_data(dig(d.port, "www.example.test")), ["192.0.2.10"],
             "no zone loaded yet: outside names are forwarded")
        t.eq(dig(d.port, "nginx.marathon.mesos").rcode, "SERVFAIL",
             "... while names in the domain get SERVFAIL")
    d.stop()

    # ---- an IPv6 upstream ------------------------------------------------------------------------
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.bind(("::1", 0))
        s6.close()
        have6 = True
    except OSError:
        have6 = False
    if have6:
        nsd6 = keep(Nsd({"example.test": "www IN A 192.0.2.10\n"}, ip="::1"))
        d = daemon(resolvers=[nsd6.addr])
        t.eq(a_data(dig(d.port, "www.example.test")), ["192.0.2.10"], "an IPv6 upstream ([::1]:port), UDP")
        t.eq(a_data(dig(d.port, "www.example.test", tcp=True)), ["192.0.2.10"], "... and TCP")
        d.stop()
    else:
        t.ok(True, "an IPv6 upstream # SKIP no ::1 on this machine")

    # ---- behind BIND -----------------------------------------------------------------------------
    d = daemon(stateFile=DEMO, resolvers=[nsd1.addr])
    conf = """
options {
    directory "DIR";
    pid-file "DIR/named.pid";
    session-keyfile "DIR/session.key";
    managed-keys-directory "DIR";
    listen-on port PORT { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { 127.0.0.1; };
    allow-recursion { 127.0.0.1; };
    dnssec-validation no;
    notify no;
    // everything else goes to us as well, so BIND never asks the internet
    forwarders { 127.0.0.1 port OURS; };
    forward only;
};
controls { };
zone "mesos" { type forward; forward only; forwarders { 127.0.0.1 port OURS; }; };
""".replace("OURS", str(d.port))
    try:
        named = keep(Named(conf))
    except OSError as e:
        named = None
        t.ok(False, "BIND starts", str(e))
    if named:
        direct = dig(d.port, "nginx.marathon.mesos")
        via = dig(named.port, "nginx.marathon.mesos", timeout=5)
        t.ok(via.rcode == "NOERROR" and a_data(via) == a_data(direct) and len(a_data(via)) == 3,
             "BIND forwarding the mesos zone to us: nginx.marathon.mesos A = our records %s"
             % a_data(direct), via.text)
        direct = dig(d.port, "_nginx._tcp.marathon.mesos", "SRV")
        via = dig(named.port, "_nginx._tcp.marathon.mesos", "SRV", timeout=5)
        t.ok(via.rcode == "NOERROR" and via.data("ANSWER", "SRV") == direct.data("ANSWER", "SRV")
             and len(via.data("ANSWER", "SRV")) == 6,
             "BIND: _nginx._tcp.marathon.mesos SRV = our 6 records", via.text)
        via = dig(named.port, "nope.marathon.mesos", timeout=5)
        t.eq(via.rcode, "NXDOMAIN", "BIND: a missing name in the domain is NXDOMAIN")
        via = dig(named.port, "www.example.test", timeout=5)
        t.eq(a_data(via), ["192.0.2.10"], "BIND -> mesos-dnsd -> NSD for an outside name")
        named.stop()
    d.stop()

    # ---- the system resolver, with mesos-dnsd on port 53 as its nameserver ------------------------
    probe = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "true"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if probe.returncode != 0:
        t.n += 1
        print("ok %d # SKIP resolv.conf test: network/mount namespaces not permitted here (%s)"
              % (t.n, probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else
                 "unshare exit %d" % probe.returncode), flush=True)
    else:
        p = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc",
                            sys.executable, os.path.join(HERE, "ns_resolv.py"), "--build", BUILD],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=90)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = None
        if not t.ok(res is not None, "the namespace run reports", p.stdout[-2000:] + p.stderr[-2000:]):
            res = {}
        if res.get("skip"):
            t.n += 1
            print("ok %d # SKIP resolv.conf test: %s" % (t.n, res["skip"]), flush=True)
        elif res.get("error"):
            t.ok(False, "the namespace run sets up NSD and resolv.conf", res["error"])
        elif res:
            t.ok(res.get("resolvers_line"), "resolvers [] took the nameservers of resolv.conf minus this host: %s"
                 % res.get("resolvers_line"), res.get("log"))
            t.ok("10.3.0.3" in res.get("task", ""),
                 "getent hosts nginx.marathon.mesos finds the task through mesos-dnsd on port 53",
                 res.get("task"))
            t.ok("192.0.2.10" in res.get("upstream", ""),
                 "getent ahosts www.example.test finds an upstream name (forwarded to NSD)",
                 res.get("upstream"))
    # -- SIGTERM with a UDP query out to an upstream that never answers: the
    # client gets SERVFAIL at once (it then asks its next server), not silence.
    hush = keep(FakeUpstream("silent"))
    dq = daemon(resolvers=[hush.addr], timeout=5)
    cs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cs.settimeout(3)
    cs.sendto(make_query("www.example.test", qid=0x5151), ("127.0.0.1", dq.port))
    t.ok(harness.wait_for(lambda: hush.count() >= 1, 3), "shutdown: the query is out upstream")
    t0 = time.monotonic()
    dq.proc.send_signal(signal.SIGTERM)
    try:
        reply = cs.recv(4096)
    except socket.timeout:
        reply = b""
    took = time.monotonic() - t0
    t.ok(len(reply) >= 12 and reply[:2] == b"\x51\x51" and (reply[3] & 0x0f) == 2 and took < 2,
         "shutdown: the UDP client of a forwarded query gets SERVFAIL at SIGTERM (%.2f s)" % took,
         reply[:12].hex())
    t.eq(dq.proc.wait(10), 0, "shutdown: and the daemon exits 0")
    cs.close()
finally:
    for x in reversed(procs):
        try:
            x.stop()
        except Exception:
            pass

# Every daemon stopped cleanly on SIGTERM (under ASan: no leak, no error).
bad = [(x.proc.returncode, x.logtext()[-1500:]) for x in procs
       if isinstance(x, Daemon) and x.proc.returncode != 0]
t.ok(not bad, "every daemon exited 0 on SIGTERM (forwarded queries in flight included)",
     "\n".join("exit %s:\n%s" % b for b in bad))
t.done()
