#!/usr/bin/env python3
"""tests/integration/test_frontends.py -- dnsmasq in front of mesos-dnsd, as the README shows.

dnsmasq (Debian's dnsmasq-base) listens on its own port and sends only the
Mesos domain to mesos-dnsd with `server=/mesos/127.0.0.1#PORT`; every other
name goes nowhere (no upstream), so a Mesos answer through dnsmasq can only
have come from us.  Skipped, with the reason, without dnsmasq.  (BIND in
front is tested by test_forward.py.)
"""
import os
import shutil
import subprocess

import harness
from harness import DATA, Daemon, Tap, build_dir, dig, free_port, wait_for

BUILD = build_dir()
t = Tap()

dnsmasq = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)
if not dnsmasq:
    t.n += 1
    print("ok %d - dnsmasq in front # SKIP dnsmasq is not installed (dnsmasq-base)" % t.n, flush=True)
    t.done()

d = Daemon(BUILD, {"stateFile": os.path.join(DATA, "demo", "state.json")})
t.ok(d.wait_loaded(), "mesos-dnsd loaded the demo state")
port = free_port()
log = open(os.path.join(d.dir, "dnsmasq.log"), "w")
proc = subprocess.Popen([dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                         "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
                         "--port=%d" % port, "--pid-file=", "--user=%s" % os.environ.get("USER", "root"),
                         "--log-facility=-", "--cache-size=0",
                         "--server=/mesos/127.0.0.1#%d" % d.port],
                        stdout=log, stderr=subprocess.STDOUT)
harness._procs.append(proc)
wait_for(lambda: proc.poll() is not None or dig(port, "leader.mesos", timeout=1).rcode, 10)
t.ok(proc.poll() is None, "dnsmasq runs with server=/mesos/127.0.0.1#%d" % d.port,
     open(os.path.join(d.dir, "dnsmasq.log")).read())
direct = dig(d.port, "nginx.marathon.mesos")
via = dig(port, "nginx.marathon.mesos")
t.ok(via.rcode == "NOERROR" and via.data() == direct.data() and len(direct.data()) >= 1,
     "nginx.marathon.mesos through dnsmasq = our records %s" % direct.data(), via.text)
direct = dig(d.port, "_nginx._tcp.marathon.mesos", "SRV")
via = dig(port, "_nginx._tcp.marathon.mesos", "SRV")
t.ok(via.rcode == "NOERROR" and via.data("ANSWER", "SRV") == direct.data("ANSWER", "SRV"),
     "_nginx._tcp.marathon.mesos SRV through dnsmasq = ours", via.text)
t.eq(dig(port, "nope.marathon.mesos").rcode, "NXDOMAIN", "a missing name: NXDOMAIN through dnsmasq")
proc.terminate()
proc.wait(10)
log.close()
d.stop()
t.done()
