#!/usr/bin/env python3
"""tests/integration/test_edge_nsd.py -- DNS edge cases, compared with NSD on the same zone.

The zone of tests/data/fake.json (build/bin/state2zone) is served by
mesos-dnsd and by Debian's NSD (in the foreground, temporary config).  Each raw
packet below goes to both over UDP; whether a reply comes, its rcode and its
QR/opcode/TC/QDCOUNT must agree.  Where we differ from NSD on purpose, the case
says so (DIFF) and asserts our documented behaviour instead, with the reason.
"""
import os
import struct
import subprocess

from harness import (DATA, Daemon, Tap, build_dir, make_query, opt_rr, parse_msg, udp_send,
                     wire_name)
from upstreams import Nsd

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
QUIET = 0.4  # how long "no reply" is waited for

t = Tap()

HDR = struct.Struct("!HHHHHH")
NAME = "nginx.marathon.mesos"
QN = wire_name(NAME)
A_IN = struct.pack("!HH", 1, 1)
A_RR = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 0, 0, 1])


def hdr(qd=1, an=0, ns=0, ar=0, flags=0x0100, qid=0x2468):
    return HDR.pack(qid, flags, qd, an, ns, ar)


def long_name(total):
    """A wire name under mesos. of exactly total bytes (labels of up to 63)."""
    tail = wire_name("mesos")
    left = total - len(tail)
    labels = b""
    while left > 0:
        n = min(63, left - 1)
        labels += bytes([n]) + b"a" * n
        left -= n + 1
    return labels + tail


CASES = [
    ("QDCOUNT 0", hdr(qd=0)),
    ("QDCOUNT 2", hdr(qd=2) + QN + A_IN + QN + A_IN),
    ("truncated name", hdr() + QN[:9]),
    ("question without type and class", hdr() + QN),
    ("compression loop", hdr() + b"\xc0\x0c" + A_IN),
    ("forward pointer", hdr() + b"\xc0\x20" + A_IN + b"\0" * 20),
    ("bad label type 0x40", hdr() + b"\x41x" + A_IN),
    ("bad label type 0x80", hdr() + b"\x81x" + A_IN),
    ("ANCOUNT 1 in a query", hdr(an=1) + QN + A_IN + A_RR),
    ("NSCOUNT 1 in a query", hdr(ns=1) + QN + A_IN + A_RR),
    ("two OPT records", make_query(NAME, arcount=2, additional=opt_rr() + opt_rr())),
    ("OPT with a non-root owner", make_query(NAME, arcount=1,
                                             additional=b"\xc0\x0c" + opt_rr()[1:])),
    ("EDNS version 1", make_query(NAME, arcount=1, additional=opt_rr(version=1))),
    ("unknown opcode 3", make_query(NAME, flags=0x1900)),
    ("opcode STATUS (2)", make_query(NAME, flags=0x1100)),
    ("QR=1", make_query(NAME, flags=0x8100)),
    ("short packet (5 bytes)", hdr()[:5]),
    ("header only, 11 bytes", hdr()[:11]),
    ("empty datagram", b""),
    ("class CH", make_query("version.bind", "TXT", qclass=3)),
    ("class CH in the zone", make_query(NAME, qclass=3)),
    ("class ANY", make_query(NAME, qclass=255)),
    ("qtype ANY", make_query(NAME, "ANY")),
    ("AXFR over UDP", make_query("mesos", "AXFR")),
    ("IXFR over UDP", make_query("mesos", "IXFR")),
    ("0x20 mixed case", make_query("NgInX.MaRaThOn.MeSoS")),
    ("name of 255 bytes", make_query(qname_wire=long_name(255))),
    ("name of 256 bytes", make_query(qname_wire=long_name(256))),
    ("64-byte label", make_query(qname_wire=b"\x40" + b"a" * 64 + wire_name("mesos"))),
    ("63-byte label", make_query(qname_wire=b"\x3f" + b"a" * 63 + wire_name("mesos"))),
    ("trailing garbage", make_query(NAME, tail=b"\xde\xad\xbe\xef")),
    ("outside the zone", make_query("www.example.org")),
    ("name missing from the zone", make_query("nothere.mesos")),
]

# Deliberate differences: case -> (our summary, why).  The rest must agree.
# NSD's answer is printed (#) next to ours for every case.
DIFF = {
    # NSD answers CH TXT version.bind (and id.server) itself; we serve no
    # CHAOS names at all: class CH is REFUSED like any class but IN and ANY
    # (behaviour.md §3).
    "class CH": ("REFUSED qr=1 opcode=0 tc=0 qd=1",
                 "we serve no CHAOS names, NSD answers version.bind"),
    # An unknown opcode: both NOTIMP, but we echo the question when it is
    # readable (zone/answer.h), NSD sends the header alone.
    "unknown opcode 3": ("NOTIMP qr=1 opcode=3 tc=0 qd=1",
                         "we echo the question, NSD sends the header only"),
    "opcode STATUS (2)": ("NOTIMP qr=1 opcode=2 tc=0 qd=1",
                          "we echo the question, NSD sends the header only"),
    # IXFR over UDP: NSD REFUSED (no provide-xfr for this client), we NOTIMP
    # like AXFR over UDP, whoever asks (transfers are TCP only, zone/answer.h).
    "IXFR over UDP": ("NOTIMP qr=1 opcode=0 tc=0 qd=1",
                      "we answer IXFR over UDP NOTIMP like AXFR, NSD REFUSED"),
}


def run(port, pkt):
    return parse_msg(udp_send(port, pkt, timeout=QUIET))


def summary(m):
    if m is None:
        return "no reply"
    return "%s qr=%d opcode=%d tc=%d qd=%d" % (m.rcode, m.qr, m.opcode, m.tc, m.qdcount)


def main():
    zone = subprocess.run([os.path.join(BUILD, "bin", "state2zone"), FAKE],
                          check=True, capture_output=True, text=True).stdout
    # Nsd adds the apex SOA/NS and ns1; the rest of the zone is ours.
    body = "\n".join(l for l in zone.splitlines()
                     if l.split("\t")[0] not in ("mesos.", "ns1.mesos."))
    nsd = Nsd({"mesos": body})
    d = Daemon(BUILD, {"stateFile": FAKE, "IPSources": ["netinfo", "mesos", "host"]})
    try:
        t.ok(d.wait_loaded(), "mesos-dnsd loaded the state")
        ours = run(d.port, make_query(NAME))
        theirs = run(nsd.port, make_query(NAME))
        t.ok(ours and theirs and ours.rcode == theirs.rcode == "NOERROR"
             and sorted(r[4] for r in ours.answer) == sorted(r[4] for r in theirs.answer),
             "both serve the same records for %s" % NAME)
        for name, pkt in CASES:
            a, b = run(d.port, pkt), run(nsd.port, pkt)
            print("# %-34s ours: %-40s nsd: %s" % (name, summary(a), summary(b)))
            if a is None:
                # Dropped on purpose, or not answering any more? A good query tells.
                good = run(d.port, make_query(NAME))
                t.ok(good is not None and good.rcode == "NOERROR",
                     "%s: no reply, and a good query right after is answered" % name)
            if name in DIFF:
                want, why = DIFF[name]
                t.eq(summary(a), want, "%s: %s (DIFF: %s)" % (name, want.split()[0], why))
                continue
            t.eq(summary(a), summary(b), "%s: same as NSD" % name)
            if name == "0x20 mixed case" and a and b:
                t.eq(a.question[0][0], b.question[0][0],
                     "0x20: the question's case is echoed as NSD does (%s)" % a.question[0][0])
        t.eq(d.stop(), 0, "mesos-dnsd survived every packet and exits 0")
    finally:
        d.cleanup()
        nsd.stop()


main()
t.done()
