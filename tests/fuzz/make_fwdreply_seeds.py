#!/usr/bin/env python3
"""tests/fuzz/make_fwdreply_seeds.py -- write the seed corpus of fuzz_fwdreply (tests/fuzz/corpus/fwdreply/).

Each seed is a 2-byte query length, the client's query, then an upstream
reply: right ones, and each way a reply can be wrong.  Run it again after
changing the list; it rewrites the files it owns and leaves others alone.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fwdreply")

A, AAAA, OPT = 1, 28, 41


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def msg(qid, flags, qname, qtype=A, qclass=1, qd=1, an=0, ar=0, body=b""):
    return struct.pack(">HHHHHH", qid, flags, qd, an, 0, ar) + name(qname) + \
        struct.pack(">HH", qtype, qclass) + body


def opt(size=1232, options=b""):
    return b"\0" + struct.pack(">HHIH", OPT, size, 0, len(options)) + options


def a_rr(ip=(192, 0, 2, 1)):
    return b"\xc0\x0c" + struct.pack(">HHIH", A, 1, 60, 4) + bytes(ip)


def pair(query, reply):
    return struct.pack(">H", len(query)) + query + reply


Q = msg(0x1234, 0x0100, "WwW.Example.COM")
QE = msg(0x1234, 0x0100, "www.example.com", ar=1, body=opt(4096, struct.pack(">HH", 10, 8) + b"cookie!!"))

SEEDS = {
    "ok": pair(Q, msg(0x1234, 0x8180, "www.example.com", an=1, body=a_rr())),
    "ok-same-case": pair(Q, msg(0x1234, 0x8180, "WwW.Example.COM", an=1, body=a_rr())),
    "ok-edns": pair(QE, msg(0x1234, 0x8180, "www.example.com", an=1, ar=1, body=a_rr() + opt())),
    "ok-tc": pair(Q, msg(0x1234, 0x8380, "www.example.com")),
    "ok-nxdomain": pair(Q, msg(0x1234, 0x8183, "www.example.com")),
    "servfail": pair(Q, msg(0x1234, 0x8182, "www.example.com")),
    "refused": pair(Q, msg(0x1234, 0x8105, "www.example.com")),
    "wrong-id": pair(Q, msg(0x1235, 0x8180, "www.example.com", an=1, body=a_rr())),
    "wrong-name": pair(Q, msg(0x1234, 0x8180, "www.example.org", an=1, body=a_rr())),
    "wrong-type": pair(Q, msg(0x1234, 0x8180, "www.example.com", qtype=AAAA)),
    "wrong-class": pair(Q, msg(0x1234, 0x8180, "www.example.com", qclass=3)),
    "not-response": pair(Q, Q),
    "opcode-notify": pair(Q, msg(0x1234, 0xa180, "www.example.com")),
    "no-question": pair(Q, struct.pack(">HHHHHH", 0x1234, 0x8181, 0, 0, 0, 0)),
    "two-questions": pair(Q, msg(0x1234, 0x8180, "www.example.com", qd=2)),
    "pointer-question": pair(Q, struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1"),
    "cut-reply": pair(Q, msg(0x1234, 0x8180, "www.example.com")[:20]),
    "runt-reply": pair(Q, b"\x12\x34\x81"),
    "root-query": pair(msg(7, 0x0100, ".", qtype=2), msg(7, 0x8180, ".", qtype=2)),
    "long-name": pair(msg(9, 0, ".".join(["a" * 63] * 3 + ["b" * 61])),
                      msg(9, 0x8180, ".".join(["A" * 63] * 3 + ["B" * 61]))),
    "bad-query": pair(b"\x12\x34\x01\x00\x00\x02", msg(0x1234, 0x8180, "www.example.com")),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for key, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, "seed-" + key), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
