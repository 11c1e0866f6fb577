#!/usr/bin/env python3
"""tests/fuzz/make_masterinfo_seeds.py -- write the seed corpus of fuzz_masterinfo.

MasterInfo nodes as Mesos masters write them to ZooKeeper (JSON for json.info_,
binary protobuf for the old info_ nodes), well-formed and malformed, one per
file in tests/fuzz/corpus/masterinfo/.  Rewrites its own files, leaves others.
"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "masterinfo")


def varint(v):
    out = b""
    while True:
        c = v & 0x7F
        v >>= 7
        out += bytes([c | (0x80 if v else 0)])
        if not v:
            return out


def key(field, wt):
    return varint(field << 3 | wt)


def s(field, text):
    b = text.encode() if isinstance(text, str) else text
    return key(field, 2) + varint(len(b)) + b


def u(field, v):
    return key(field, 0) + varint(v)


ADDR = s(1, "m1") + s(2, "127.0.0.1") + u(3, 5050)
PB = s(1, "20150101-1") + u(2, 16777343) + u(3, 5050) + s(4, "master@127.0.0.1:5050") \
    + s(5, "localhost") + s(6, "0.23.0")
MESOS_JSON = {"address": {"hostname": "m1", "ip": "127.0.0.1", "port": 5050}, "hostname": "m1",
              "id": "abc", "ip": 16777343, "pid": "master@127.0.0.1:5050", "port": 5050,
              "version": "1.11.0"}

SEEDS = {
    "json-mesos": json.dumps(MESOS_JSON).encode(),
    "json-legacy-only": b'{"ip":16777343,"port":5051}',
    "json-ipv6": b'{"address":{"ip":"::1","port":5050}}',
    "json-hostname": b'{"address":{"hostname":"master.example","port":5050}}',
    "json-bad-types": b'{"ip":"1.2.3.4","port":"x","address":[]}',
    "json-truncated": json.dumps(MESOS_JSON).encode()[:40],
    "json-nul": b'{"hostname":"a\\u0000b","ip":1}',
    "pb-023": PB,
    "pb-address": PB + s(7, ADDR),
    "pb-unknown-fields": PB + key(20, 1) + b"12345678" + key(21, 5) + b"1234" + s(22, "x"),
    "pb-negative-port": s(7, s(2, "127.0.0.9") + u(3, (1 << 64) - 1)) + u(2, 16777343),
    "pb-length-past-end": b"\x0a\x05ab",
    "pb-long-varint": b"\x10" + b"\xff" * 10 + b"\x01",
    "pb-group": b"\x0b\x0c",
    "pb-nested-past-end": b"\x3a\x03\x12\x05a",
    "name-json": b"json.info_0000000012",
    "name-pb": b"info_-2147483647",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
