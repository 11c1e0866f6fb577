#!/usr/bin/env python3
"""tests/integration/test_answering.py -- behaviour.md §3 (answering) against the real daemon.

Every rule is checked over UDP and over TCP with dig; the full record set of
tests/data/golden/fake.default.zone (and fake.rfc952.zone) is then compared
with what the daemon serves, one RRset at a time.
"""
import json
import os
import re

from harness import (DATA, Daemon, Tap, build_dir, dig, dig_batch, load_zone_file, make_query,
                     parse_msg, tcp_send, udp_send, wire_name)

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
GOLDEN = os.path.join(DATA, "golden", "fake.default.zone")
GOLDEN952 = os.path.join(DATA, "golden", "fake.rfc952.zone")
BASE = {"stateFile": FAKE, "IPSources": ["netinfo", "mesos", "host"]}

t = Tap()
daemons = []


def start(**cfg):
    d = Daemon(BUILD, dict(BASE, **cfg))
    daemons.append(d)
    return d


def recs(r, section="ANSWER", rtype=None):
    """Records of a section as (owner lower-cased, ttl, type, data) tuples, sorted."""
    return sorted((o.lower(), ttl, ty, da) for o, ttl, ty, da in r.records(section, rtype))


def rrs(r, section="ANSWER", rtype=None):
    """Records without TTL: (owner lower-cased, type, data), sorted."""
    return sorted((o.lower(), ty, da) for o, _ttl, ty, da in r.records(section, rtype))


def soa_fields(data):
    """SOA rdata without the serial: mname, rname, refresh, retry, expire, minimum."""
    f = data.split()
    return [f[0].lower(), f[1].lower()] + f[3:]


def is_negative(r, rcode, ttl):
    """rcode, empty answer, exactly the apex SOA in authority with the given TTL."""
    auth = r.authority
    return (r.rcode == rcode and not r.answer and len(auth) == 1 and auth[0][2] == "SOA"
            and auth[0][0].lower() == "mesos." and auth[0][1] == ttl)


def soa_serial_ok(data):
    f = data.split()
    return len(f) == 7 and f[2].isdigit() and int(f[2]) > 0


def owner_spans(m, start):
    """The owner-name bytes of every record of a parsed reply, in wire order;
    start is the offset just past the question."""
    spans, pos = [], start
    for rec in m.answer + m.authority + m.additional:
        spans.append(m.raw[pos:rec[5] - 10])
        pos = rec[5] + len(rec[4])
    return spans


def plain_name_len(raw, pos):
    """Wire length of an uncompressed name at pos, or -1 when it uses a pointer."""
    start = pos
    while raw[pos] != 0:
        if raw[pos] >= 0x40:
            return -1
        pos += 1 + raw[pos]
    return pos + 1 - start


try:
    main = start()
    minttl = start(ttl=60, SOAMinttl=30)
    # ttl below SOAMinttl, RA off, and a name server outside the domain
    short = start(ttl=20, SOAMinttl=60, recurseon=False, SOAMname="ns.example.net")
    with open(os.path.join(DATA, "golden", "fake.rfc952.config.json")) as f:
        cfg952 = json.load(f)
    rfc952 = start(**dict(cfg952, stateFile=FAKE))

    loaded = all(d.wait_loaded() for d in daemons)
    if not t.ok(loaded, "all four daemons loaded tests/data/fake.json",
                "\n".join(d.logtext() for d in daemons)):
        t.done()

    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"

        def q(d, name, rtype="A", extra=()):
            return dig(d.port, name, rtype, tcp=tcp, extra=extra)

        # -- case-insensitive matching, question echoed as asked (0x20)
        r = q(main, "NgInX.MaRaThOn.MeSoS", "A")
        t.ok(r.rcode == "NOERROR" and r.data() == ["10.3.0.3"],
             "[%s] NgInX.MaRaThOn.MeSoS matches nginx.marathon.mesos" % tr, r.text)
        t.ok(r.sections["QUESTION"][:1] == [("NgInX.MaRaThOn.MeSoS.", "IN", "A")],
             "[%s] the question is echoed in the client's case" % tr, r.text)
        t.ok(r.answer and all(rec[0] == "NgInX.MaRaThOn.MeSoS." for rec in r.answer),
             "[%s] the answer owner keeps the client's case" % tr, r.text)
        r = q(main, "_LIQUOR-STORE._Tcp.MARATHON.mesos", "SRV")
        t.ok(r.rcode == "NOERROR" and len(r.answer) == 4
             and all(rec[0] == "_LIQUOR-STORE._Tcp.MARATHON.mesos." for rec in r.answer),
             "[%s] upper-case SRV query answered, owner as asked" % tr, r.text)
        qpkt = make_query("nGiNx.mArAtHoN.mEsOs", "A", qid=0x5a5a)
        raw = (tcp_send if tcp else udp_send)(main.port, qpkt)
        m = parse_msg(raw)
        t.ok(m is not None and m.id == 0x5a5a and raw[12:len(qpkt)] == qpkt[12:]
             and m.ancount == 1 and m.answer[0][0] == "nGiNx.mArAtHoN.mEsOs.",
             "[%s] raw query: question bytes echoed exactly, id copied" % tr, repr(raw))

        # -- names are compressed; SRV targets are not (README decision, RFC 2782)
        qname = "_liquor-store._tcp.marathon.mesos"
        raw = (tcp_send if tcp else udp_send)(main.port, make_query(qname, "SRV", qid=0x6161))
        m = parse_msg(raw)
        spans = owner_spans(m, 12 + len(wire_name(qname)) + 4) if m else []
        an_sp, ad_sp = spans[:m.ancount] if m else [], spans[m.ancount + m.nscount:] if m else []
        t.ok(m is not None and m.ancount == 4 and all(sp == b"\xc0\x0c" for sp in an_sp),
             "[%s] SRV answer owners are pointers to the question" % tr, repr(raw))
        t.ok(m is not None and all(plain_name_len(raw, rec[5] + 6) == len(rec[4]) - 6
                                   for rec in m.answer),
             "[%s] SRV targets are written uncompressed" % tr, repr(raw))
        t.ok(m is not None and ad_sp and all(len(sp) >= 2 and sp[-2] >= 0xc0 for sp in ad_sp
                                             if sp != b"\0"),
             "[%s] additional owners are compressed" % tr, repr(raw))
        raw = (tcp_send if tcp else udp_send)(main.port, make_query("mesos", "NS", qid=0x6162))
        m = parse_msg(raw)
        t.ok(m is not None and m.ancount == 1 and m.answer[0][4][-2] >= 0xc0
             and len(m.answer[0][4]) == 6,
             "[%s] NS data ns1.mesos. is compressed (6 bytes)" % tr, repr(raw))
        raw = (tcp_send if tcp else udp_send)(main.port,
                                              make_query("nope.marathon.mesos", "A", qid=0x6163))
        m = parse_msg(raw)
        spans = owner_spans(m, 12 + len(wire_name("nope.marathon.mesos")) + 4) if m else []
        t.ok(m is not None and m.nscount == 1 and len(spans[0]) == 2 and spans[0][0] >= 0xc0
             and len(m.authority[0][4]) < 20 + len("ns1.mesos.root.ns1.mesos.") + 2,
             "[%s] negative SOA: owner and names in its data compressed" % tr, repr(raw))

        # -- flags
        r = q(main, "nginx.marathon.mesos")
        t.ok({"qr", "aa", "rd", "ra"} <= r.flags and "tc" not in r.flags,
             "[%s] flags qr aa rd ra (recurseon default true)" % tr, r.text)
        r = q(main, "nginx.marathon.mesos", extra=["+nordflag"])
        t.ok("rd" not in r.flags and "aa" in r.flags, "[%s] RD clear is copied" % tr, r.text)
        r = q(main, "nginx.marathon.mesos", extra=["+cdflag"])
        t.ok("cd" in r.flags, "[%s] CD set is copied" % tr, r.text)
        r = q(main, "nginx.marathon.mesos")
        t.ok("cd" not in r.flags, "[%s] CD clear is copied" % tr, r.text)
        r = q(short, "nginx.marathon.mesos")
        t.ok(r.rcode == "NOERROR" and "aa" in r.flags and "ra" not in r.flags and "rd" in r.flags,
             "[%s] recurseon false: aa set, ra clear" % tr, r.text)
        r = q(short, "nope.marathon.mesos")
        t.ok(r.rcode == "NXDOMAIN" and "ra" not in r.flags and "aa" in r.flags,
             "[%s] recurseon false: ra clear on NXDOMAIN too" % tr, r.text)
        r = q(main, "nope.marathon.mesos")
        t.ok(r.rcode == "NXDOMAIN" and "ra" in r.flags and "aa" in r.flags,
             "[%s] recurseon true: aa ra on NXDOMAIN" % tr, r.text)

        # -- A, AAAA, TTL
        r = q(main, "nginx.marathon.mesos")
        t.eq(recs(r), [("nginx.marathon.mesos.", 60, "A", "10.3.0.3")],
             "[%s] nginx.marathon.mesos A 10.3.0.3, TTL 60" % tr)
        r = q(main, "liquor-store.marathon.mesos")
        t.eq(r.data(), ["1.2.3.11", "1.2.3.12"], "[%s] liquor-store.marathon.mesos A (two)" % tr)
        r = q(main, "toy-store.ipv6-framework.mesos", "AAAA")
        t.eq(recs(r), [("toy-store.ipv6-framework.mesos.", 60, "AAAA", "fd01:b::1:8000:2")],
             "[%s] toy-store.ipv6-framework.mesos AAAA" % tr)
        r = q(short, "nginx.marathon.mesos")
        t.eq(recs(r), [("nginx.marathon.mesos.", 20, "A", "10.3.0.3")],
             "[%s] record TTL = ttl (20)" % tr)
        r = q(short, "_liquor-store._tcp.marathon.mesos", "SRV")
        ttls = {rec[1] for rec in r.answer + r.additional}
        t.ok(len(r.answer) == 4 and ttls == {20}, "[%s] SRV and additional TTL = ttl (20)" % tr,
             r.text)

        # -- SRV with additional addresses of each target
        r = q(main, "_liquor-store._tcp.marathon.mesos", "SRV")
        t.eq(r.data(rtype="SRV"),
             sorted(["0 1 80 liquor-store-4dfjd-0.marathon.mesos.",
                     "0 1 80 liquor-store-zasmd-1.marathon.mesos.",
                     "0 1 443 liquor-store-4dfjd-0.marathon.mesos.",
                     "0 1 443 liquor-store-zasmd-1.marathon.mesos."]),
             "[%s] _liquor-store._tcp.marathon.mesos SRV" % tr)
        t.eq(rrs(r, "ADDITIONAL"),
             [("liquor-store-4dfjd-0.marathon.mesos.", "A", "1.2.3.11"),
              ("liquor-store-zasmd-1.marathon.mesos.", "A", "1.2.3.12")],
             "[%s] its additional section: one A per target, no duplicates" % tr)
        r = q(main, "_car-store._udp.marathon.mesos", "SRV")
        t.eq(r.data(rtype="SRV"),
             ["0 1 31364 car-store-zinaz-0.marathon.slave.mesos.",
              "0 1 31365 car-store-zinaz-0.marathon.slave.mesos."],
             "[%s] _car-store._udp.marathon.mesos SRV" % tr)
        t.eq(rrs(r, "ADDITIONAL"), [("car-store-zinaz-0.marathon.slave.mesos.", "A", "1.2.3.11")],
             "[%s] its additional section: the agent A of the target, once" % tr)
        r = q(main, "_toy-store._tcp.ipv6-framework.mesos", "SRV")
        t.ok(len(r.answer) == 2 and rrs(r, "ADDITIONAL") ==
             [("toy-store-go588-3.ipv6-framework.slave.mesos.", "AAAA", "2001:db8::1")],
             "[%s] SRV additional carries AAAA of an IPv6 target" % tr, r.text)

        # -- apex SOA and NS in the ANSWER section
        r = q(main, "mesos", "SOA")
        soa = r.records("ANSWER", "SOA")
        t.ok(r.rcode == "NOERROR" and "aa" in r.flags and len(r.answer) == 1 and len(soa) == 1
             and soa[0][0] == "mesos." and soa[0][1] == 60
             and soa_fields(soa[0][3]) == ["ns1.mesos.", "root.ns1.mesos.", "60", "600", "86400", "60"]
             and soa_serial_ok(soa[0][3]),
             "[%s] apex SOA in the answer section with the configured fields" % tr, r.text)
        r = q(main, "mesos", "NS")
        t.ok(r.rcode == "NOERROR" and recs(r) == [("mesos.", 60, "NS", "ns1.mesos.")],
             "[%s] apex NS in the answer section" % tr, r.text)
        t.ok(("ns1.mesos.", "A", "127.0.0.1") in rrs(r, "ADDITIONAL"),
             "[%s] NS additional: ns1.mesos A 127.0.0.1 (the listener)" % tr, r.text)
        r = q(short, "mesos", "NS")
        t.ok(r.rcode == "NOERROR" and rrs(r) == [("mesos.", "NS", "ns.example.net.")]
             and not r.additional,
             "[%s] SOAMname outside the domain: NS answered, nothing in additional" % tr, r.text)
        r = q(short, "ns.example.net", "A")
        t.eq(r.rcode, "REFUSED", "[%s] SOAMname outside the domain is not served" % tr)
        r = q(main, "ns1.mesos", "A")
        t.eq(rrs(r), [("ns1.mesos.", "A", "127.0.0.1")], "[%s] ns1.mesos A 127.0.0.1" % tr)

        # -- ANY
        r = q(main, "nginx.marathon.mesos", "ANY")
        t.eq(rrs(r), [("nginx.marathon.mesos.", "A", "10.3.0.3")],
             "[%s] ANY at a name with only A" % tr)
        r = q(main, "toy-store.ipv6-framework.mesos", "ANY")
        t.eq(rrs(r), [("toy-store.ipv6-framework.mesos.", "A", "12.0.1.2"),
                      ("toy-store.ipv6-framework.mesos.", "A", "12.0.1.3"),
                      ("toy-store.ipv6-framework.mesos.", "AAAA", "fd01:b::1:8000:2")],
             "[%s] ANY at a name with A and AAAA: all of them" % tr)
        r = q(main, "mesos", "ANY")
        t.ok(r.rcode == "NOERROR" and sorted(rec[2] for rec in r.answer) == ["NS", "SOA"]
             and all(rec[0] == "mesos." for rec in r.answer),
             "[%s] ANY at the apex: SOA and NS" % tr, r.text)

        # -- NODATA with the apex SOA, TTL min(ttl, SOAMinttl)
        for rtype in ("MX", "TXT"):
            r = q(main, "nginx.marathon.mesos", rtype)
            t.ok(is_negative(r, "NOERROR", 60) and "aa" in r.flags,
                 "[%s] NODATA for nginx.marathon.mesos %s, apex SOA in authority" % (tr, rtype),
                 r.text)
        r = q(main, "nginx.marathon.mesos", "AAAA")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] NODATA for an A-only name asked AAAA" % tr, r.text)
        r = q(main, "leader.mesos", "SRV")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] NODATA for leader.mesos SRV" % tr, r.text)
        r = q(minttl, "nginx.marathon.mesos", "MX")
        t.ok(is_negative(r, "NOERROR", 30),
             "[%s] ttl 60, SOAMinttl 30: NODATA SOA TTL 30" % tr, r.text)
        soa = r.records("AUTHORITY", "SOA")
        t.ok(soa and soa[0][3].split()[-1] == "30", "[%s] SOA MINIMUM = SOAMinttl (30)" % tr, r.text)
        r = q(minttl, "nope.marathon.mesos", "A")
        t.ok(is_negative(r, "NXDOMAIN", 30), "[%s] ttl 60, SOAMinttl 30: NXDOMAIN SOA TTL 30" % tr,
             r.text)
        r = q(minttl, "nginx.marathon.mesos", "A")
        t.ok(recs(r) == [("nginx.marathon.mesos.", 60, "A", "10.3.0.3")],
             "[%s] ttl 60, SOAMinttl 30: positive TTL stays 60" % tr, r.text)
        r = q(short, "nginx.marathon.mesos", "TXT")
        t.ok(is_negative(r, "NOERROR", 20), "[%s] ttl 20, SOAMinttl 60: NODATA SOA TTL 20" % tr,
             r.text)
        r = q(short, "nope.marathon.mesos", "SRV")
        t.ok(is_negative(r, "NXDOMAIN", 20), "[%s] ttl 20, SOAMinttl 60: NXDOMAIN SOA TTL 20" % tr,
             r.text)

        # -- empty non-terminals: NODATA, not NXDOMAIN
        r = q(main, "marathon.slave.mesos", "A")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] marathon.slave.mesos A: NODATA (ENT)" % tr, r.text)
        r = q(main, "mesos", "A")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] apex A: NODATA" % tr, r.text)
        r = q(main, "_tcp.marathon.mesos", "SRV")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] _tcp.marathon.mesos SRV: NODATA (ENT)" % tr, r.text)
        r = q(main, "ipv6-framework.slave.mesos", "AAAA")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] ipv6-framework.slave.mesos AAAA: NODATA (ENT)" % tr,
             r.text)

        # -- NXDOMAIN
        for rtype in ("A", "AAAA", "SRV"):
            r = q(main, "nope.marathon.mesos", rtype)
            t.ok(is_negative(r, "NXDOMAIN", 60) and "aa" in r.flags,
                 "[%s] nope.marathon.mesos %s: NXDOMAIN with the apex SOA" % (tr, rtype), r.text)
        r = q(main, "_nope._tcp.marathon.mesos", "SRV")
        t.ok(is_negative(r, "NXDOMAIN", 60), "[%s] _nope._tcp.marathon.mesos SRV: NXDOMAIN" % tr,
             r.text)
        r = q(main, "x.nginx.marathon.mesos", "A")
        t.ok(is_negative(r, "NXDOMAIN", 60), "[%s] below a leaf name: NXDOMAIN" % tr, r.text)
        r = q(main, "poseidon.marathon.mesos", "A")
        t.ok(is_negative(r, "NXDOMAIN", 60), "[%s] poseidon.marathon.mesos (killed): NXDOMAIN" % tr,
             r.text)

        # -- outside the domain: REFUSED (forwarding off)
        for name in ("example.com", "notmesos", "mesos.example.com", "."):
            r = q(main, name, "A")
            t.ok(r.rcode == "REFUSED" and not r.answer and "aa" not in r.flags,
                 "[%s] %s outside the domain: REFUSED, not authoritative" % (tr, name), r.text)

        # -- agents, leader, masters, frameworks
        r = q(main, "slave.mesos", "A")
        t.eq(r.data(), ["1.2.3.10", "1.2.3.11", "1.2.3.12"], "[%s] slave.mesos A" % tr)
        r = q(main, "slave.mesos", "AAAA")
        t.eq(r.data(), ["2001:db8::1"], "[%s] slave.mesos AAAA" % tr)
        r = q(main, "_slave._tcp.mesos", "SRV")
        t.ok(r.data() == ["0 1 5051 slave.mesos."]
             and rrs(r, "ADDITIONAL") == [("slave.mesos.", "A", "1.2.3.10"),
                                          ("slave.mesos.", "A", "1.2.3.11"),
                                          ("slave.mesos.", "A", "1.2.3.12"),
                                          ("slave.mesos.", "AAAA", "2001:db8::1")],
             "[%s] _slave._tcp.mesos SRV with every agent address in additional" % tr, r.text)
        r = q(main, "leader.mesos", "A")
        t.eq(rrs(r), [("leader.mesos.", "A", "1.2.3.4")], "[%s] leader.mesos A" % tr)
        r = q(main, "leader.mesos", "AAAA")
        t.ok(is_negative(r, "NOERROR", 60), "[%s] leader.mesos AAAA: NODATA" % tr, r.text)
        for proto in ("tcp", "udp"):
            r = q(main, "_leader._%s.mesos" % proto, "SRV")
            t.ok(r.data() == ["0 1 5050 leader.mesos."]
                 and rrs(r, "ADDITIONAL") == [("leader.mesos.", "A", "1.2.3.4")],
                 "[%s] _leader._%s.mesos SRV -> leader.mesos:5050, A in additional" % (tr, proto),
                 r.text)
        r = q(main, "master.mesos", "A")
        t.eq(r.data(), ["1.2.3.4"], "[%s] master.mesos A" % tr)
        r = q(main, "master0.mesos", "A")
        t.eq(r.data(), ["1.2.3.4"], "[%s] master0.mesos A (the leader)" % tr)
        r = q(main, "master1.mesos", "A")
        t.ok(is_negative(r, "NXDOMAIN", 60), "[%s] master1.mesos: NXDOMAIN without a masters list" % tr,
             r.text)
        r = q(rfc952, "master1.mesos", "A")
        t.eq(r.data(), ["1.2.3.4"], "[%s] masters list: the leader keeps master1" % tr)
        r = q(rfc952, "master2.mesos", "A")
        t.eq(r.data(), ["1.2.3.6"], "[%s] masters list: master2" % tr)
        r = q(main, "marathon.mesos", "A")
        t.eq(rrs(r), [("marathon.mesos.", "A", "1.2.3.11")], "[%s] framework marathon.mesos A" % tr)
        r = q(main, "_framework._tcp.marathon.mesos", "SRV")
        t.ok(r.data() == ["0 1 25501 marathon.mesos."]
             and rrs(r, "ADDITIONAL") == [("marathon.mesos.", "A", "1.2.3.11")],
             "[%s] _framework._tcp.marathon.mesos SRV, A in additional" % tr, r.text)
        r = q(main, "ipv6-framework.mesos", "AAAA")
        t.eq(r.data(), ["2001:db8::1"], "[%s] framework ipv6-framework.mesos AAAA" % tr)

        # -- RFC 952 mode serves other names than RFC 1123 mode
        for name, rtype, data in (
                ("chronoswithaspaceandmixe.mesos", "A", ["1.2.3.12"]),
                ("_framework._tcp.chronoswithaspaceandmixe.mesos", "SRV",
                 ["0 1 25501 chronoswithaspaceandmixe.mesos."]),
                ("some-box.chronoswithaspaceandmixe.mesos", "A", ["1.2.3.11"])):
            r952 = q(rfc952, name, rtype)
            r1123 = q(main, name, rtype)
            t.ok(r952.rcode == "NOERROR" and r952.data(rtype=rtype) == data
                 and r1123.rcode == "NXDOMAIN",
                 "[%s] %s %s: served in RFC 952 mode only" % (tr, name, rtype),
                 r952.text + r1123.text)
        name = "chronoswithaspaceandmixedcase-2.0.1.mesos"
        r952 = q(rfc952, name)
        r1123 = q(main, name)
        t.ok(r1123.data() == ["1.2.3.12"] and r952.rcode == "NXDOMAIN",
             "[%s] %s: served in RFC 1123 mode only" % (tr, name), r952.text + r1123.text)

        # -- answer order varies between responses
        for name, rtype, n in (("_liquor-store._tcp.marathon.mesos", "SRV", 4),
                               ("slave.mesos", "A", 3)):
            orders = set()
            sets = set()
            for _ in range(20):
                r = q(main, name, rtype)
                got = tuple(rec[3] for rec in r.answer)
                orders.add(got)
                sets.add(tuple(sorted(got)))
            t.ok(len(orders) > 1 and len(sets) == 1 and all(len(o) == n for o in orders),
                 "[%s] %s %s: %d distinct orders in 20 replies, same set" % (tr, name, rtype,
                                                                           len(orders)),
                 "\n".join(map(str, sorted(orders))))

    # -- the full record set against the golden files (UDP)
    def compare_golden(d, path, label, per_rrset):
        golden = load_zone_file(path)
        keys = sorted(golden)
        replies = dig_batch(d.port, [(o.rstrip("."), ty) for o, ty in keys])
        bad = []
        for owner, rtype in keys:
            want = sorted(golden[(owner, rtype)])
            if (owner, rtype) == ("ns1.mesos.", "A"):
                # state2zone pinned the name server to 127.0.0.1; the daemon uses its listener
                want = [(ttl, d.config["listener"]) for ttl, _ in want]
            r = replies.get((owner.rstrip(".").lower(), rtype))
            if r is None:
                got, ok, why = None, False, "no reply"
            else:
                ans = [rec for rec in r.answer if rec[2] == rtype]
                owners_ok = all(rec[0].lower() == owner for rec in r.answer)
                got = sorted((rec[1], rec[3]) for rec in ans)
                if rtype == "SOA":
                    got = [(ttl, soa_fields(da)) for ttl, da in got]
                    want = [(ttl, soa_fields(da)) for ttl, da in want]
                ok = (r.rcode == "NOERROR" and owners_ok and len(ans) == len(r.answer)
                      and got == want)
                why = "rcode %s" % r.rcode
            if per_rrset:
                t.ok(ok, "golden %s: %s %s" % (label, owner, rtype),
                     "%s\ngot:      %r\nexpected: %r" % (why, got, want))
            elif not ok:
                bad.append("%s %s: %s got %r expected %r" % (owner, rtype, why, got, want))
        if not per_rrset:
            t.ok(not bad, "golden %s: all %d RRsets equal (%d differ)" % (label, len(keys), len(bad)),
                 "\n".join(bad))

    compare_golden(main, GOLDEN, "fake.default.zone", per_rrset=True)
    compare_golden(rfc952, GOLDEN952, "fake.rfc952.zone", per_rrset=False)

    # -- nothing unexpected in the log, daemons alive
    t.ok(all(d.proc.poll() is None for d in daemons), "every daemon is still running")
    errs = [l for d in daemons for l in d.logtext().splitlines()
            if re.match(r"(error|fatal|crit)", l, re.I)]
    t.ok(not errs, "no error lines in the daemon logs", "\n".join(errs))
finally:
    for d in daemons:
        d.stop()
    codes = [d.proc.returncode for d in daemons]
    for d in daemons:
        d.cleanup()

t.ok(codes == [0] * len(codes), "every daemon exits 0 on SIGTERM", codes)
t.done()
