#!/usr/bin/env python3
"""tests/integration/test_deb.py -- the Debian package: build, contents, lintian, a run.

Builds the package with `make deb` (dpkg-buildpackage -us -uc -b on a copy of
the tree, then lintian; DEB_BUILD_OPTIONS=nocheck here because `make test`
runs the unit tests itself; `make test-deb` builds with them), or takes
--deb FILE.  Unpacks it with dpkg -x (nothing is installed on this machine),
checks what it ships, and runs the packaged binary against a fixture.
Reported as skipped, with the reason, when the packaging tools are missing.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import harness
from harness import DATA, ROOT, Tap, dig, free_port

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.path.join(ROOT, "build"))
ap.add_argument("--deb", help="a built .deb (default: build one with make deb)")
args = ap.parse_args()
BUILD = os.path.abspath(args.build)
t = Tap()

VERSION = re.search(r"^VERSION\s*:=\s*(\S+)", open(os.path.join(ROOT, "Makefile")).read(), re.M).group(1)

missing = [tool for tool in ("dpkg-buildpackage", "dh", "lintian", "dpkg-deb")
           if not shutil.which(tool)]
if missing and not args.deb:
    t.n += 1
    print("ok %d - the Debian package # SKIP not installed: %s (packaging/install-deps.sh "
          "installs them)" % (t.n, ", ".join(missing)), flush=True)
    t.done()

deb = args.deb
if not deb:
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    p = subprocess.run(["make", "--no-print-directory", "BUILD=" + BUILD, "deb"], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = re.search(r"^deb: built (\S+)", p.stdout, re.M)
    t.ok(p.returncode == 0 and m, "make deb builds the package and lintian reports no error",
         p.stdout[-3000:])
    if not m:
        t.done()
    deb = os.path.join(ROOT, m.group(1))
    warnings = [l for l in p.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    print("# lintian: %s" % ("; ".join(warnings) if warnings else "no error, no warning"))
t.ok(os.path.basename(deb).startswith("mesos-dnsd_%s_" % VERSION),
     "the package version is the Makefile's (%s)" % VERSION, deb)

root = tempfile.mkdtemp(prefix="deb-x-")
harness._dirs.append(root)
subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
ctl = os.path.join(root, "DEBIAN")
subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True)

binary = os.path.join(root, "usr", "sbin", "mesos-dnsd")
t.ok(os.access(binary, os.X_OK), "ships /usr/sbin/mesos-dnsd")
unit = os.path.join(root, "lib", "systemd", "system", "mesos-dnsd.service")
t.ok(os.path.exists(unit) and open(unit).read() ==
     open(os.path.join(ROOT, "packaging", "systemd", "mesos-dnsd.service")).read(),
     "ships packaging/systemd/mesos-dnsd.service as the unit")
conf = os.path.join(root, "etc", "mesos-dnsd", "config.json")
conffiles = open(os.path.join(ctl, "conffiles")).read().split() if os.path.exists(
    os.path.join(ctl, "conffiles")) else []
t.ok("/etc/mesos-dnsd/config.json" in conffiles, "/etc/mesos-dnsd/config.json is a conffile", conffiles)
cfg = json.load(open(conf))
example = json.load(open(os.path.join(ROOT, "config.json.example")))
t.ok(cfg.get("stateCacheFile") == "/var/lib/mesos-dnsd/state.json" and
     {k: v for k, v in cfg.items() if k != "stateCacheFile"} ==
     {k: v for k, v in example.items() if k != "stateCacheFile"},
     "the config is config.json.example with the state cache in the unit's StateDirectory")
p = subprocess.run([binary, "-config", conf, "-checkconf"], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True)
t.eq(p.returncode, 0, "the packaged binary accepts the packaged config (the unit's ExecStartPre)")
man = os.path.join(root, "usr", "share", "man", "man8", "mesos-dnsd.8.gz")
t.ok(os.path.exists(man) and b".SH NAME" in gzip.open(man).read(), "ships the man page mesos-dnsd(8)")
docs = os.path.join(root, "usr", "share", "doc", "mesos-dnsd")
t.ok(os.path.exists(os.path.join(docs, "README.md.gz")) and
     os.path.exists(os.path.join(docs, "copyright")), "ships the README and the copyright file")
postinst = open(os.path.join(ctl, "postinst")).read()
t.ok(re.search(r"adduser .*--system", postinst) and "mesos-dnsd" in postinst,
     "postinst creates the mesos-dnsd system user")
t.ok("deb-systemd-helper update-state 'mesos-dnsd.service'" in postinst and
     "try-restart mesos-dnsd.service" in postinst,
     "postinst registers the unit (dh_installsystemd) and restarts a running server on upgrade")
preinst = open(os.path.join(ctl, "preinst")).read() if os.path.exists(os.path.join(ctl, "preinst")) else ""
t.ok("stop" not in preinst, "an upgrade does not stop the server before the new files are in")

# prerm: a removal stops the server (dh_installsystemd --no-start writes no
# stop of its own); an upgrade leaves it up.  Run as dpkg runs it, on a
# systemd machine (a private /run with /run/systemd/system), with
# deb-systemd-invoke recording its calls.
prerm = os.path.join(ctl, "prerm")
calls_of = {}
if not os.path.exists(prerm):
    t.ok(False, "the package has a prerm")
elif os.geteuid() != 0 or not shutil.which("unshare"):
    t.n += 1
    print("ok %d - prerm stops the server on removal # SKIP not root" % t.n, flush=True)
else:
    stub = tempfile.mkdtemp(prefix="prerm-")
    log = os.path.join(stub, "calls")
    with open(os.path.join(stub, "deb-systemd-invoke"), "w") as fh:
        fh.write('#!/bin/sh\necho "$*" >> %s\n' % log)
    os.chmod(os.path.join(stub, "deb-systemd-invoke"), 0o755)
    for arg in ("remove", "upgrade"):
        if os.path.exists(log):
            os.unlink(log)
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && '
                            'exec sh "$0" "$1"', prerm, arg],
                           env=dict(os.environ, PATH=stub + ":" + os.environ["PATH"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        calls_of[arg] = (r.returncode, open(log).read().split("\n")[:-1]
                         if os.path.exists(log) else [], r.stdout)
    t.ok(calls_of["remove"][0] == 0 and "stop mesos-dnsd.service" in calls_of["remove"][1],
         "prerm remove stops the server", calls_of["remove"])
    t.ok(calls_of["upgrade"][0] == 0 and not any("stop" in c for c in calls_of["upgrade"][1]),
         "prerm upgrade leaves it running (postinst restarts it)", calls_of["upgrade"])
    shutil.rmtree(stub, ignore_errors=True)
ctrl = open(os.path.join(ctl, "control")).read()
deps = re.search(r"^Depends: (.*)$", ctrl, re.M).group(1)
t.ok("adduser" in deps and "libsystemd0" in deps and "libzookeeper-mt2" in deps,
     "Depends names adduser and the shared libraries", deps)

p = subprocess.run([binary, "-version"], stdout=subprocess.PIPE, text=True)
t.eq(p.stdout.strip(), "mesos-dnsd " + VERSION, "the packaged binary's -version")
port = free_port()
d = tempfile.mkdtemp(prefix="deb-run-")
harness._dirs.append(d)
cpath = os.path.join(d, "config.json")
json.dump({"stateFile": os.path.join(DATA, "fake.json"), "listener": "127.0.0.1", "port": port,
           "httpon": False, "externalon": False, "workers": 1}, open(cpath, "w"))
log = open(os.path.join(d, "log"), "w")
proc = subprocess.Popen([binary, "-config", cpath], stdout=log, stderr=subprocess.STDOUT)
harness._procs.append(proc)
loaded = harness.wait_for(lambda: "state: loaded from" in open(os.path.join(d, "log")).read()
                          or proc.poll() is not None, 10)
t.ok(loaded and proc.poll() is None, "the packaged binary loads the fixture",
     open(os.path.join(d, "log")).read())
t.eq(dig(port, "leader.mesos").data(), ["1.2.3.4"], "and answers leader.mesos")
r = dig(port, "_leader._tcp.mesos", "SRV")
t.ok(r.rcode == "NOERROR" and r.answer, "and _leader._tcp.mesos SRV")
proc.terminate()
t.eq(proc.wait(10), 0, "it stops cleanly on SIGTERM")
log.close()
t.done()
