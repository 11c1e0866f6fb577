"""tests/integration/harness.py -- run the real daemon and query it with dig.

Shared by the integration tests: free ports, temporary configs, a daemon that
is started, waited for (by its log lines, never by fixed sleeps) and killed
exactly, dig output parsed into sections, and TAP output.
"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")


# ---- TAP ------------------------------------------------------------------
class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines():
                    print("#   " + line)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:      %r\nexpected: %r" % (got, want))

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


# ---- ports and processes --------------------------------------------------
def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port")


_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_cleanup)


def wait_for(pred, timeout=10.0, step=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Daemon:
    """The real mesos-dnsd with a config written to a temporary directory."""

    def __init__(self, build, config, args=()):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="mesos-dnsd-test-")
        self.config_path = os.path.join(self.dir, "config.json")
        self.config = dict(config)
        self.config.setdefault("listener", "127.0.0.1")
        self.config.setdefault("port", free_port())
        self.config.setdefault("httpon", False)
        self.config.setdefault("externalon", False)
        self.config.setdefault("workers", 2)
        self.port = self.config["port"]
        with open(self.config_path, "w") as f:
            json.dump(self.config, f)
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, "bin", "mesos-dnsd"), "-config", self.config_path, *args],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        _procs.append(self.proc)

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, pattern, count=1, timeout=10.0):
        """Wait until pattern has matched count lines of the log."""
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: len(rx.findall(self.logtext())) >= count or self.proc.poll() is not None
                        and len(rx.findall(self.logtext())) >= count, timeout) and \
            len(rx.findall(self.logtext())) >= count

    def wait_loaded(self, count=1, timeout=10.0):
        return self.wait_log(r"state: loaded from", count, timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class FakeMaster:
    """tests/integration/fake_master.py serving a state file on a free port."""

    def __init__(self, state_file, extra=()):
        self.dir = tempfile.mkdtemp(prefix="fake-master-")
        self.state = os.path.join(self.dir, "state.json")
        shutil.copy(state_file, self.state)
        ready = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "requests.log")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "integration", "fake_master.py"),
             "--port", "0", "--state", self.state, "--leader-rewrite", "--ready-file", ready,
             "--log", self.log_path, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        if not wait_for(lambda: os.path.exists(ready) and open(ready).read().strip(), 10):
            raise RuntimeError("fake master did not start")
        self.port = int(open(ready).read().strip())
        self.hostport = "127.0.0.1:%d" % self.port

    def serve(self, path_or_text, raw=False):
        """Atomically replace what the master serves."""
        tmp = self.state + ".tmp"
        if raw:
            with open(tmp, "w") as f:
                f.write(path_or_text)
        else:
            shutil.copy(path_or_text, tmp)
        os.replace(tmp, self.state)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- dig ------------------------------------------------------------------
class Reply:
    """dig output split into header fields and sections of (name, ttl, type, data)."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"status: (\w+)", text)
        self.rcode = m.group(1) if m else None
        m = re.search(r";; flags:([^;]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.sections = {"QUESTION": [], "ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
        self.opt = ";; OPT PSEUDOSECTION:" in text
        m = re.search(r"; EDNS: version: (\d+), flags:[^;]*; udp: (\d+)", text)
        self.edns_udp = int(m.group(2)) if m else None
        cur = None
        for line in text.splitlines():
            m = re.match(r";; (\w+) SECTION:", line)
            if m:
                cur = m.group(1)
                continue
            if not line.strip():
                cur = None if cur != "QUESTION" else cur
                continue
            if cur == "QUESTION" and line.startswith(";"):
                parts = line[1:].split()
                self.sections["QUESTION"].append(tuple(parts))
                continue
            if cur in self.sections and not line.startswith(";"):
                parts = line.split(None, 4)
                if len(parts) == 5:
                    self.sections[cur].append((parts[0], int(parts[1]), parts[3], parts[4]))

    def records(self, section="ANSWER", rtype=None):
        return [r for r in self.sections[section] if rtype is None or r[2] == rtype]

    def data(self, section="ANSWER", rtype=None):
        return sorted(r[3] for r in self.records(section, rtype))

    @property
    def answer(self):
        return self.sections["ANSWER"]

    @property
    def authority(self):
        return self.sections["AUTHORITY"]

    @property
    def additional(self):
        return self.sections["ADDITIONAL"]


def dig(port, name, rtype="A", tcp=False, extra=(), server="127.0.0.1", timeout=2):
    """Query with dig; returns a Reply (rcode None when dig got no answer)."""
    cmd = ["dig", "@" + server, "-p", str(port), name, rtype, "+noall", "+comments",
           "+question", "+answer", "+authority", "+additional", "+time=%d" % timeout, "+tries=1",
           "+ignore"]
    if tcp:
        cmd.append("+tcp")
    cmd.extend(extra)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return Reply(p.stdout)


def build_dir():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    return os.path.abspath(ap.parse_args().build)
