#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py -- write the seed corpus of fuzz_answer (tests/fuzz/corpus/answer/).

Small hand-made DNS queries, well-formed and malformed, one per file.  Run it
again after changing the list; it rewrites the files it owns and leaves
others (inputs found by the fuzzer) alone.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "answer")

A, NS, SOA, TXT, AAAA, SRV, OPT, AXFR, ANY = 1, 2, 6, 16, 28, 33, 41, 252, 255
IN, CH = 1, 3


def header(qd=1, an=0, ns=0, ar=0, opcode=0, qr=0, rd=1, qid=0x1234):
    flags = (qr << 15) | (opcode << 11) | rd
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(qname, qtype=A, qclass=IN):
    return name(qname) + struct.pack(">HH", qtype, qclass)


def opt(size=1232, version=0, do=0, options=b""):
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\0" + struct.pack(">HHIH", OPT, size, ttl, len(options)) + options


def query(qname, qtype=A, qclass=IN, edns=None, **kw):
    q = question(qname, qtype, qclass)
    if edns is None:
        return header(**kw) + q
    return header(ar=1, **kw) + q + edns


SEEDS = {
    "a": query("nginx.marathon.mesos"),
    "a-0x20": query("NgInX.MaRaThOn.MeSoS"),
    "aaaa": query("nginx.marathon.mesos", AAAA),
    "srv": query("_nginx._tcp.marathon.mesos", SRV, edns=opt()),
    "srv-outside-target": query("_ext._tcp.marathon.mesos", SRV),
    "soa-apex": query("mesos", SOA),
    "ns-apex-edns": query("mesos", NS, edns=opt(4096, do=1)),
    "any-apex": query("mesos", ANY),
    "nxdomain": query("nope.marathon.mesos", SRV),
    "ent": query("marathon.slave.mesos", A),
    "nodata": query("nginx.marathon.mesos", TXT),
    "big-udp": query("big.mesos"),
    "big-edns": query("big.mesos", edns=opt(4096)),
    "badvers": query("nginx.marathon.mesos", edns=opt(version=1)),
    "edns-option": query("mesos", SOA, edns=opt(options=struct.pack(">HH", 10, 8) + b"abcdefgh")),
    "outside": query("www.example.com"),
    "class-ch": query("version.bind", TXT, CH),
    "axfr": query("mesos", AXFR),
    "notify": query("mesos", SOA, opcode=4, an=1) + b"\xc0\x0c\0\x06\0\x01\0\0\0\x3c\0\0",
    "qdcount0": header(qd=0),
    "qdcount2": header(qd=2) + question("mesos") + question("nginx.marathon.mesos"),
    "ancount1": header(an=1) + question("mesos"),
    "qname-pointer": header() + b"\x05nginx\xc0\x0c" + struct.pack(">HH", A, IN),
    "label-0x40": header() + b"\x45mesos\0" + struct.pack(">HH", A, IN),
    "truncated-name": header() + b"\x05nginx\x08mara",
    # additional record whose owner is "\x01x" + a pointer back to its own start: a label loop
    "additional-loop": header(ar=1) + question("mesos")
    + b"\x01x" + struct.pack(">H", 0xC000 | (12 + len(question("mesos")))) + b"\0\x10\0\x01\0\0\0\0\0\0",
    "additional-compressed": header(ar=2) + question("nginx.marathon.mesos")
    + b"\xc0\x0c\0\x10\0\x01\0\0\0\0\0\x02\x01x" + opt(),
    "two-opts": header(ar=2) + question("mesos") + opt() + opt(),
    "opt-truncated": header(ar=1) + question("mesos") + opt()[:7],
    "response": query("mesos", SOA, qr=1),
    "runt": header()[:11],
    "trailing-garbage": query("nginx.marathon.mesos") + b"\xde\xad\xbe\xef",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for key, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, "seed-" + key), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
