#!/usr/bin/env python3
"""tests/integration/test_udp_threads.py -- each worker's UDP thread and loop thread.

A worker answers UDP in its own thread (dns-udpN: blocking recvmmsg, no event
loop) and keeps TCP and the forwarder on its loop thread (dns-workerN); UDP
queries to forward cross from the first to the second (lib/dnsserver.c).
Checked here with 2 workers and Debian's NSD as the upstream: the four
threads are there; UDP queries from a client in recurseFrom are forwarded
from many source ports (so both workers' handovers are used) and counted
once each in /metrics as forwarded, a client outside recurseFrom gets
REFUSED over UDP and names of the domain are answered; with the loop
thread stopped (ptrace, that thread only) a burst of forwarded queries fills
the handover ring and the rest get SERVFAIL at once, counted as
forward_rejected_total, and once it runs again the ring's queries are
forwarded, every query read answered and counted once; SIGTERM while dnsperf floods the daemon with
answered and forwarded queries ends it promptly with exit code 0.
"""
import ctypes
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

import harness
from harness import DATA, Daemon, Tap, build_dir, free_port, make_query, parse_msg
from upstreams import Nsd

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
OUTSIDE = "www.example.test"
INSIDE = "nginx.marathon.mesos"

t = Tap()
procs = []  # daemons, NSD, dnsperf: stopped at the end


def keep(x):
    procs.append(x)
    return x


def daemon(**cfg):
    base = {"stateFile": FAKE, "externalon": True, "timeout": 2, "workers": 2,
            "httpon": True, "HTTPListener": "127.0.0.1", "httpport": free_port()}
    base.update(cfg)
    d = keep(Daemon(BUILD, base))
    if not d.wait_loaded():
        print("# daemon did not load:\n# " + d.logtext().replace("\n", "\n# "))
    return d


def metric(d, name, labels="", strict=False):
    return harness.metric(d.config["httpport"], name, labels, strict=strict)


def threads(pid):
    """{thread id: name} of process pid."""
    names = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names[int(tid)] = f.read().strip()
        except OSError:
            pass
    return names


def ask(port, name, source="127.0.0.1"):
    """One UDP query from a fresh socket (a new source port) bound to source."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        s.settimeout(3)
        s.sendto(make_query(name, "A"), ("127.0.0.1", port))
        try:
            return parse_msg(s.recv(65535))
        except socket.timeout:
            return None
    finally:
        s.close()


def a_records(m):
    return sorted(socket.inet_ntoa(r[4]) for r in m.answer if r[1] == 1) if m else None


UDP = 'transport="udp"'
FORWARDED = UDP + ',qtype="A",rcode="upstream",source="forwarded"'

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207


def thread_stop(tid):
    """Stop one thread of a child process (the others run on)."""
    if _libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0:
        print("# ptrace: %s" % os.strerror(ctypes.get_errno()))
        return False
    _libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
    os.waitpid(tid, 0x40000000)  # __WALL
    return True


def thread_resume(tid):
    _libc.ptrace(PTRACE_DETACH, tid, None, None)


try:
    nsd = keep(Nsd({"example.test": "www IN A 192.0.2.10\n"}))

    # ---- threads, forwarding and REFUSED over UDP, counted once each ------------------------
    d = daemon(resolvers=[nsd.addr], recurseFrom=["127.0.0.1/32"])
    t.eq(sorted(n for n in threads(d.proc.pid).values() if n.startswith("dns-")),
         ["dns-udp0", "dns-udp1", "dns-worker0", "dns-worker1"],
         "workers 2: a UDP thread and a loop thread each (/proc/PID/task/*/comm)")
    N_FWD, N_REF, N_IN = 40, 20, 10
    got = [a_records(ask(d.port, OUTSIDE)) for _ in range(N_FWD)]
    t.eq([g for g in got if g != ["192.0.2.10"]], [],
         "%d UDP queries from 127.0.0.1 (recurseFrom), each from its own port: all "
         "forwarded to NSD and relayed" % N_FWD)
    got = [ask(d.port, OUTSIDE, "127.0.0.2") for _ in range(N_REF)]
    t.eq([m and m.rcode for m in got], ["REFUSED"] * N_REF,
         "%d from 127.0.0.2 (not in recurseFrom): REFUSED over UDP" % N_REF)
    got = [a_records(ask(d.port, INSIDE, src)) for src in ("127.0.0.1", "127.0.0.2")
           for _ in range(N_IN)]
    t.eq([g for g in got if g != ["10.3.0.3"]], [], "names of the domain answered for both")
    t.eq(metric(d, "dns_requests_total", UDP), N_FWD + N_REF + 2 * N_IN,
         "/metrics: every UDP query counted once")
    t.eq(metric(d, "dns_requests_total", FORWARDED), N_FWD,
         "... the forwarded ones as forwarded (counted on the loop threads)")
    t.eq(metric(d, "dns_requests_total", UDP + ',qtype="A",rcode="REFUSED"'), N_REF,
         "... the refused ones as REFUSED replies")
    t.eq(metric(d, "forward_requests_total"), N_FWD, "forward_requests_total")
    t.eq(metric(d, "forward_rejected_total", strict=True), 0, "nothing rejected")
    t.eq(metric(d, "dns_workers"), 2, "dns_workers is still the number of workers")
    t.eq(metric(d, "dns_cache_capacity_bytes"), 2 * 8 << 20,
         "reply caches: 8 MiB for each of 2 UDP threads")
    t.eq(d.stop(), 0, "SIGTERM: exit 0")

    # ---- the reply caches share 64 MiB -------------------------------------------------------
    for workers, each in ((16, 4 << 20), (96, 1 << 20)):
        d = daemon(workers=workers)
        ask(d.port, INSIDE)
        # Each UDP thread publishes its cache's capacity as it starts: under ASan,
        # 96 of them on two cores may still be starting when the daemon answers.
        harness.wait_for(lambda: metric(d, "dns_cache_capacity_bytes") == workers * each, 10)
        t.eq(metric(d, "dns_cache_capacity_bytes"), workers * each,
             "reply caches with %d workers: %d MiB each" % (workers, each >> 20))
        t.eq(d.stop(), 0, "SIGTERM: exit 0 (%d workers)" % workers)

    # ---- the handover ring full ------------------------------------------------------------
    # The loop thread (dns-worker0) is stopped on its own with ptrace (PTRACE_SEIZE +
    # PTRACE_INTERRUPT stop one thread, not the process) while a burst of forwarded
    # queries arrives: the UDP thread fills the ring (256 KiB, some 2,500 of these
    # queries), the rest get SERVFAIL at once, counted as forward_rejected_total.  Once
    # the loop thread runs again it forwards what the ring holds.
    d = daemon(resolvers=[nsd.addr], recurseFrom=["127.0.0.1/32"], workers=1,
               forwardMaxInflight=1000000)
    loop_tid = [tid for tid, name in threads(d.proc.pid).items() if name == "dns-worker0"]
    stopped = len(loop_tid) == 1 and thread_stop(loop_tid[0])
    t.ok(stopped, "the loop thread dns-worker0 is stopped (ptrace), the rest of the daemon runs")
    N = 4000
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    replies = {}
    dup = [0]

    def drain(wait):
        while select.select([s], [], [], wait)[0]:
            m = parse_msg(s.recv(65535))
            dup[0] += m.id in replies
            replies[m.id] = m
            wait = 0.05
    for i in range(N):
        s.sendto(make_query(OUTSIDE, "A", qid=i), ("127.0.0.1", d.port))
        if i % 500 == 499:
            drain(0)
    drain(0.5)
    at_once = dict(replies)
    rejected = metric(d, "forward_rejected_total")
    t.ok(stopped and 0 < len(at_once) < N and rejected == len(at_once) and
         all(m.rcode == "SERVFAIL" for m in at_once.values()),
         "ring full: %d of %d queries got SERVFAIL at once, as many counted in "
         "forward_rejected_total (%d)" % (len(at_once), N, rejected))
    t.eq(metric(d, "forward_requests_total", strict=True), 0,
         "... none reached the stopped forwarder")
    if stopped:
        thread_resume(loop_tid[0])
    read = N - harness.udp_drops(d.proc.pid)
    end = time.time() + 10   # upstream timeouts (2 s) included
    while len(replies) < read and time.time() < end:
        drain(0.2)
    s.close()
    rcodes = {}
    for m in replies.values():
        rcodes[m.rcode] = rcodes.get(m.rcode, 0) + 1
    taken = metric(d, "forward_requests_total")
    counted = metric(d, "dns_requests_total", FORWARDED)
    print("# %d read by the daemon, replies %r, %d rejected, %d forwarded"
          % (read, rcodes, rejected, taken))
    t.ok(len(replies) == read and dup[0] == 0 and set(rcodes) <= {"NOERROR", "SERVFAIL"},
         "resumed: the ring's queries forwarded; one reply per query read (relayed or SERVFAIL)",
         (len(replies), read, dup[0], rcodes))
    t.eq(counted, read, "each query read counted once as forwarded")
    t.eq((taken, metric(d, "forward_rejected_total")), (read - rejected, rejected),
         "the rest were taken by the forwarder")
    t.eq(d.stop(), 0, "SIGTERM: exit 0")

    # ---- SIGTERM under a UDP flood --------------------------------------------------------
    d = daemon(resolvers=[nsd.addr], recurseFrom=["127.0.0.1/32"])
    qfile = os.path.join(tempfile.mkdtemp(prefix="udp-threads-"), "queries")
    harness._dirs.append(os.path.dirname(qfile))
    with open(qfile, "w") as f:
        f.write("%s A\n%s SRV\nnothere.mesos A\n%s A\n" % (INSIDE, "_nginx._tcp.marathon.mesos",
                                                            OUTSIDE))
    perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(d.port), "-d", qfile,
                             "-l", "30", "-c", "4", "-q", "200", "-t", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness._procs.append(perf)
    loaded = harness.wait_for(lambda: metric(d, "dns_requests_total", UDP) > 5000, 10)
    t.ok(loaded, "dnsperf floods the daemon over UDP")
    time.sleep(0.5)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    t.ok(rc == 0 and took < 5,
         "SIGTERM during the flood: exit %s in %.2f s"
         % (rc, took), d.logtext()[-1500:])
    perf.kill()
    perf.wait()
finally:
    for p in procs:
        try:
            p.stop()
        except Exception:
            pass
t.done()
