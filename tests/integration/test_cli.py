#!/usr/bin/env python3
"""tests/integration/test_cli.py -- flags and config errors of the real binary."""
import json
import os
import subprocess
import tempfile

from harness import DATA, ROOT, Tap, build_dir

BIN = os.path.join(build_dir(), "bin", "mesos-dnsd")
t = Tap()


def run(*args, config=None):
    d = tempfile.mkdtemp()
    argv = [BIN, *args]
    if config is not None:
        path = os.path.join(d, "config.json")
        with open(path, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
        argv += ["-config", path]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       cwd=ROOT, timeout=10)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run("-version")
t.ok(rc == 0 and out.startswith("mesos-dnsd "), "-version prints the version", out + err)
rc, out, _ = run("--version")
t.ok(rc == 0 and "mesos-dnsd" in out, "--version works too")

good = {"stateFile": os.path.join(DATA, "fake.json"), "port": 8053}
rc, out, err = run("-checkconf", config=good)
t.eq(rc, 0, "-checkconf accepts a valid config")

rc, out, err = run("-checkconf", config=dict(good, refreshSeconds=-5))
t.eq(rc, 2, "-checkconf: an out-of-range value exits 2")
lines = [l for l in err.splitlines() if l.strip()]
t.ok(len(lines) == 1 and "refreshSeconds" in lines[0] and "-5" in lines[0],
     "one line naming the key and the value", err)

rc, out, err = run("-checkconf", config=dict(good, port="fifty"))
t.ok(rc == 2 and "port" in err, "a wrong type exits 2 naming the key", err)

rc, out, err = run("-checkconf", config='{"stateFile": "x", ')
t.ok(rc == 2 and "line" in err, "a JSON syntax error exits 2 with its line", err)

rc, out, err = run("-checkconf", config=dict(good, refreshSecond=5))
t.ok(rc == 0 and "refreshSecond" in err and "refreshSeconds" in err,
     "an unknown key warns with a suggestion and is not an error", err)

rc, out, err = run("-checkconf", config=dict(good, REFRESHSECONDS=5))
t.ok(rc == 0 and "unknown" not in err.lower(), "keys match case-insensitively", err)

rc, out, err = run("-checkconf", config={"port": 8053})
t.ok(rc == 2 and ("masters" in err or "stateFile" in err), "a config with no state source exits 2", err)

rc, out, err = run("-checkconf", "-config", "/nonexistent/config.json")
t.ok(rc == 2 and "/nonexistent/config.json" in err, "a missing config file exits 2 naming it", err)

rc, out, err = run("-bogus")
t.ok(rc == 2 and "bogus" in err, "an unknown flag exits 2", err)

rc, out, err = run("-v=7", config=good)
t.ok(rc == 2, "-v takes 0, 1 or 2", err)

# mesos-dns command lines: glog's integer -v with its value after a space, and
# glog's own flags (DC/OS starts mesos-dns with -logtostderr=true).
for argv in (("-v", "1"), ("--v", "2"), ("-logtostderr=true",), ("-logtostderr",),
             ("-alsologtostderr=false", "-v=1"), ("-log_dir", "/tmp"), ("-stderrthreshold=0",),
             ("-vmodule=x=2",), ("-log_backtrace_at", "x.go:1")):
    rc, out, err = run("-checkconf", *argv, config=good)
    glog = [a for a in argv if a.lstrip("-").split("=")[0] not in ("v", "1", "2")]
    t.ok(rc == 0 and (not glog or "ignored" in err),
         "mesos-dns's %s: accepted%s" % (" ".join(argv), ", with a warning" if glog else ""),
         err)
rc, out, err = run("-checkconf", "-v", "9", config=good)
t.ok(rc == 2, "-v 9: still 0, 1 or 2", err)
rc, out, err = run("-checkconf", "-log_dir")
t.ok(rc == 2 and "log_dir" in err, "-log_dir without its value exits 2", err)

t.done()
