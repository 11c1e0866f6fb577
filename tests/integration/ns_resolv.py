#!/usr/bin/env python3
"""tests/integration/ns_resolv.py -- run by test_forward.py under
`unshare --net --mount --pid --fork --mount-proc`: mesos-dnsd as the system
resolver's nameserver.

In a private network namespace (only lo) and mount namespace:
- NSD serves example.test on 127.0.0.2 port 53;
- /etc/resolv.conf (bind-mounted) lists 127.0.0.1 and 127.0.0.2; mesos-dnsd
  starts on 127.0.0.1 port 53 with "resolvers": [], so it must take 127.0.0.2
  and leave itself (127.0.0.1) out;
- then resolv.conf is replaced (another bind mount) by "nameserver 127.0.0.1"
  alone and getent asks for a task name and an upstream name.
Prints one JSON line with what it saw.  Being PID 1 of its PID namespace,
everything it started dies with it.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from harness import DATA, Daemon, build_dir
from upstreams import Nsd

BUILD = build_dir()
out = {}
tmpfiles = []


def run(*cmd):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    return p.returncode, p.stdout


def bind_resolv(text):
    fd, path = tempfile.mkstemp(prefix="resolv-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmpfiles.append(path)
    rc, msg = run("mount", "--bind", path, "/etc/resolv.conf")
    if rc != 0:
        raise OSError("mount --bind over /etc/resolv.conf: " + msg.strip())
    return path


def main():
    rc, msg = run("ip", "link", "set", "lo", "up")
    if rc != 0:
        out["skip"] = "cannot bring lo up in the namespace: " + msg.strip()
        return
    try:
        Nsd({"example.test": "www IN A 192.0.2.10\n"}, ip="127.0.0.2", port=53)
        bind_resolv("nameserver 127.0.0.1\nnameserver 127.0.0.2\n")
    except OSError as e:
        # The namespace works (lo is up): failing here is a fault, not a skip.
        out["error"] = "cannot start NSD on 127.0.0.2:53 or bind resolv.conf: %s" % e
        return
    d = Daemon(BUILD, {"stateFile": os.path.join(DATA, "fake.json"), "externalon": True,
                       "listener": "127.0.0.1", "port": 53, "resolvers": [], "timeout": 2})
    loaded = d.wait_loaded()
    m = re.search(r"forward: resolvers (127\.0\.0\.2:53) \(from resolv\.conf\)", d.logtext())
    out["resolvers_line"] = m.group(0) if m else None
    out["log"] = d.logtext()[-1500:]
    if not loaded:
        return
    bind_resolv("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    out["task"] = run("getent", "hosts", "nginx.marathon.mesos")[1]
    out["upstream"] = run("getent", "ahosts", "www.example.test")[1]
    d.stop()


try:
    main()
except Exception as e:  # report, never hang the outer test
    out["error"] = repr(e)
finally:
    for p in reversed(tmpfiles):
        run("umount", "/etc/resolv.conf")
        try:
            os.unlink(p)
        except OSError:
            pass
print(json.dumps(out))
sys.stdout.flush()
