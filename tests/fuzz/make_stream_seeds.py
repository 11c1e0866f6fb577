#!/usr/bin/env python3
"""tests/fuzz/make_stream_seeds.py -- write the seed corpus of fuzz_stream.

RecordIO streams as a master's SUBSCRIBE response carries them, built from the
scripted sequence of tests/data/stream/make_events.py (summaries as records
starting with '!'), whole and cut, read in various splits (the first byte),
plus broken framing.  One per file in tests/fuzz/corpus/stream/; rewrites its
own files, leaves others.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus", "stream")


def rec(data):
    return b"%d\n" % len(data) + data


def main():
    steps = json.loads(subprocess.run([sys.executable, os.path.join(ROOT, "tests", "data",
                                                                    "stream", "make_events.py")],
                                      check=True, stdout=subprocess.PIPE).stdout)["steps"]
    recs = []
    for s in steps:
        body = json.dumps(s["record"], separators=(",", ":")).encode()
        recs.append(rec(b"!" + body if s["kind"] == "summary" else body))
    small = rec(json.dumps({"type": "SUBSCRIBED", "subscribed": {"get_state": {
        "get_agents": {"agents": [{"agent_info": {"id": {"value": "A"}, "hostname": "h"},
                                   "pid": "slave(1)@10.0.0.2:5051"}]},
        "get_frameworks": {"frameworks": [{"framework_info": {"id": {"value": "F"},
                                                              "name": "fw"}}]},
        "get_tasks": {"tasks": [{"task_id": {"value": "T"}, "framework_id": {"value": "F"},
                                 "agent_id": {"value": "A"}, "name": "t",
                                 "state": "TASK_RUNNING",
                                 "resources": [{"name": "ports", "type": "RANGES", "ranges": {
                                     "range": [{"begin": 31000, "end": 31001}]}}]}]}}}},
        separators=(",", ":")).encode())
    seeds = {
        "script-whole": b"\x00" + b"".join(recs),
        "script-7": b"\x07" + b"".join(recs),
        "script-first3": b"\x01" + b"".join(recs[:3]),
        "small-snapshot": b"\x00" + small + rec(b'{"type":"HEARTBEAT"}'),
        "small-then-removed": b"\x03" + small + rec(json.dumps(
            {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": "A"}}}).encode()),
        "event-before-snapshot": b"\x00" + rec(b'{"type":"TASK_ADDED","task_added":{}}') + small,
        "bad-length": b"\x00" + b"12x\n{}",
        "short-record": b"\x00" + b"100\n{\"type\":\"SUBSCRIBED\"}",
    }
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
