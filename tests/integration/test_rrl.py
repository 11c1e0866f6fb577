#!/usr/bin/env python3
"""tests/integration/test_rrl.py -- response rate limiting of UDP replies (rateLimit).

One client sends a burst of 2,000 UDP queries to a daemon limited to 100
replies a second: most go unanswered or come back truncated (TC, no records),
while a client in another /24 and the same client over TCP are answered in
full.  With rateLimitSlip 0 nothing comes back truncated.
"""
import os
import socket
import struct
import time

from harness import (DATA, Daemon, Tap, build_dir, make_query, parse_msg, tcp_connect,
                     tcp_recv_msg)

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
BASE = {"stateFile": FAKE, "IPSources": ["netinfo", "mesos", "host"], "workers": 1}
NAME = "nginx.marathon.mesos"

t = Tap()


def burst(d, n, source="127.0.0.1", chunk=50):
    """Send n queries from one socket bound to source; return (replies, seconds)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.bind((source, 0))
    replies = []
    t0 = time.monotonic()

    def drain(wait):
        s.settimeout(wait)
        while True:
            try:
                replies.append(parse_msg(s.recv(65535)))
            except socket.timeout:
                return
            s.settimeout(0.001 if wait < 0.5 else 0.2)

    try:
        for i in range(n):
            s.sendto(make_query(NAME, qid=i & 0xFFFF), ("127.0.0.1", d.port))
            if i % chunk == chunk - 1:
                drain(0.002)
        elapsed = time.monotonic() - t0
        drain(0.5)
    finally:
        s.close()
    return replies, elapsed


def full(m):
    return m is not None and m.rcode == "NOERROR" and not m.tc and len(m.answer) >= 1


def slipped(m):
    return (m is not None and m.tc and m.ancount == 0 and m.nscount == 0 and m.arcount == 0
            and m.qdcount == 1 and m.question[0][0] == NAME + ".")


def main():
    d = Daemon(BUILD, dict(BASE, rateLimit=100, rateLimitSlip=2))
    nd = Daemon(BUILD, dict(BASE, rateLimit=100, rateLimitSlip=0))
    try:
        t.ok(d.wait_loaded() and nd.wait_loaded(), "daemons loaded the state")
        t.ok(d.wait_log(r"UDP replies limited to 100/s .*1 in 2 limited replies sent truncated"),
             "the limit is logged at start")
        t.ok(nd.wait_log(r"UDP replies limited to 100/s .*limited replies dropped"),
             "and without slip")

        replies, secs = burst(d, 2000)
        nfull = sum(1 for m in replies if full(m))
        nslip = sum(1 for m in replies if slipped(m))
        other = len(replies) - nfull - nslip
        print("# 2000 queries in %.3f s: %d answered, %d slipped, %d dropped, %d other"
              % (secs, nfull, nslip, 2000 - len(replies), other))
        # The bucket holds 100 and refills 100/s; slack for a slow machine.
        t.ok(100 <= nfull <= 100 + 100 * (secs + 0.6) + 20,
             "answers limited to the burst plus the rate (%d in %.2f s)" % (nfull, secs))
        t.ok(nslip >= 300, "about every second limited reply slipped with TC (%d)" % nslip)
        t.ok(2000 - len(replies) >= 300, "the others dropped (%d)" % (2000 - len(replies)))
        t.eq(other, 0, "no reply is anything but a full answer or a slipped one")

        # Another /24 (127.0.1.0/24; 127.0.0.2 would share 127.0.0.1's) has
        # its own bucket, spent by nobody yet.
        replies, _ = burst(d, 50, source="127.0.1.2")
        t.eq(sum(1 for m in replies if full(m)), 50, "a client in another /24 is answered in full")

        # TCP is never limited, also for the client just limited on UDP.
        s = tcp_connect(d.port)
        try:
            for i in range(300):
                q = make_query(NAME, qid=i)
                s.sendall(struct.pack("!H", len(q)) + q)
            got = [parse_msg(tcp_recv_msg(s)) for _ in range(300)]
        finally:
            s.close()
        t.eq(sum(1 for m in got if full(m)), 300, "300 TCP queries from 127.0.0.1 all answered")

        # The bucket refills: a second later the client is answered again.
        time.sleep(1.0)  # the refill itself is what is tested
        replies, _ = burst(d, 20)
        t.eq(sum(1 for m in replies if full(m)), 20, "after a second the client is answered again")

        replies, secs = burst(nd, 600)
        nfull = sum(1 for m in replies if full(m))
        t.eq(sum(1 for m in replies if slipped(m)), 0, "rateLimitSlip 0 slips nothing")
        t.ok(nfull <= 100 + 100 * (secs + 0.6) + 20, "and drops the rest (%d answered)" % nfull)

        t.eq(d.stop(), 0, "exits 0 on SIGTERM")
        t.eq(nd.stop(), 0, "the other one too")
    finally:
        d.cleanup()
        nd.cleanup()


main()
t.done()
