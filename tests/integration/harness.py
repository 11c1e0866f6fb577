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
import urllib.error
import urllib.request

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
_ports_given = set()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, and not handed out before by
    this process: a test often takes several before starting anything on them (a
    primary's and its secondaries'), and the kernel may offer a port again once the
    probe is closed.  Two servers on one port with SO_REUSEPORT (ours, Knot) would
    share its queries."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        if port in _ports_given:
            t.close()
            continue
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        _ports_given.add(port)
        return port
    raise RuntimeError("no free port")


_procs = []
_dirs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def udp_drops(pid):
    """Datagrams the kernel dropped because a UDP socket of process pid had a
    full receive buffer (the "drops" column of /proc/net/udp and udp6)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return 0
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if len(cols) > 12 and cols[9] in inodes:
                        total += int(cols[12])
        except OSError:
            pass
    return total


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

    def __init__(self, build, config, args=(), wrap=()):
        """wrap: a command line the daemon's is appended to (e.g. unshare ...)."""
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="mesos-dnsd-test-")
        _dirs.append(self.dir)
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
            [*wrap, os.path.join(build, "bin", "mesos-dnsd"), "-config", self.config_path, *args],
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

    def __init__(self, state_file, extra=(), host="127.0.0.1", port=0, rewrite=True):
        """host/port: where to listen (port 0: a free one); rewrite: --leader-rewrite
        (the state's leader becomes this master).  Raises OSError when it cannot listen."""
        self.dir = tempfile.mkdtemp(prefix="fake-master-")
        _dirs.append(self.dir)
        self.state = os.path.join(self.dir, "state.json")
        shutil.copy(state_file, self.state)
        ready = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "requests.log")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "integration", "fake_master.py"),
             "--host", host, "--port", str(port), "--state", self.state,
             *(["--leader-rewrite"] if rewrite else []), "--ready-file", ready,
             "--log", self.log_path, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        wait_for(lambda: (os.path.exists(ready) and open(ready).read().strip())
                 or self.proc.poll() is not None, 10)
        if not (os.path.exists(ready) and open(ready).read().strip()):
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise OSError("fake master did not start on %s:%d" % (host, port))
        self.port = int(open(ready).read().strip())
        self.host = host
        self.hostport = "%s:%d" % (host, self.port)

    def requests(self):
        """The request lines logged so far: [(method, path), ...]."""
        try:
            with open(self.log_path) as f:
                return [tuple(l.split("\t")[0].split(" ", 1)) for l in f if l.strip()]
        except FileNotFoundError:
            return []

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


def health(port, timeout=2):
    """(status, JSON body) of GET /health on 127.0.0.1:port, or (None, None)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except (OSError, ValueError):
        return None, None


def metric(http_port, name, labels="", timeout=5, strict=False):
    """The sum of the /metrics samples of mesosdns_<name> (on 127.0.0.1:http_port)
    whose labels contain `labels`; None when /metrics cannot be read, and with
    strict when no sample matched (so that "is 0" cannot pass on a metric that
    is not there at all)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port,
                                    timeout=timeout) as r:
            text = r.read().decode()
    except OSError:
        return None
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.match(r"mesosdns_%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
        if m and labels in (m.group(1) or ""):
            total += float(m.group(2))
            found = True
    return None if strict and not found else total


def build_dir():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    return os.path.abspath(ap.parse_args().build)


# ---- more dig: counts, sizes, batches ---------------------------------------
_COUNTS_RX = re.compile(r"QUERY: (\d+), ANSWER: (\d+), AUTHORITY: (\d+), ADDITIONAL: (\d+)")


def reply_counts(reply):
    """(QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT) from dig's header line, or None."""
    m = _COUNTS_RX.search(reply.text)
    return tuple(int(x) for x in m.groups()) if m else None


def reply_size(reply):
    """The reply size dig printed (needs +stats), or None."""
    m = re.search(r"MSG SIZE\s+rcvd: (\d+)", reply.text)
    return int(m.group(1)) if m else None


def reply_edns_version(reply):
    m = re.search(r"; EDNS: version: (\d+)", reply.text)
    return int(m.group(1)) if m else None


def dig_batch(port, queries, tcp=False, extra=(), server="127.0.0.1", timeout=2):
    """Run many queries with one `dig -f`; queries are (name, type) pairs.

    Returns {(name.lower() without trailing dot, TYPE): Reply}; a query that
    got no answer is missing from the result.
    """
    fd, path = tempfile.mkstemp(prefix="dig-batch-", suffix=".txt")
    try:
        with os.fdopen(fd, "w") as f:
            for name, rtype in queries:
                f.write("%s %s\n" % (name, rtype))
        cmd = ["dig", "@" + server, "-p", str(port), "-f", path, "+noall", "+comments",
               "+question", "+answer", "+authority", "+additional", "+time=%d" % timeout,
               "+tries=1", "+ignore"]
        if tcp:
            cmd.append("+tcp")
        cmd.extend(extra)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        os.unlink(path)
    out = {}
    for chunk in re.split(r"^;; Got answer:\s*$", p.stdout, flags=re.M)[1:]:
        r = Reply(chunk)
        if r.sections["QUESTION"]:
            q = r.sections["QUESTION"][0]
            out[(q[0].rstrip(".").lower(), q[-1].upper())] = r
    return out


def zone_records(text):
    """(owner, ttl, TYPE, data) of each record of a master file as state2zone prints it."""
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        owner, ttl, _cls, rtype, data = line.split(None, 4)
        yield owner, int(ttl), rtype.upper(), data.strip()


def load_zone_file(path):
    """A master file as printed by state2zone: {(owner, TYPE): [(ttl, data), ...]}."""
    rrsets = {}
    with open(path) as f:
        for owner, ttl, rtype, data in zone_records(f.read()):
            rrsets.setdefault((owner.lower(), rtype), []).append((ttl, data))
    return rrsets


def state2zone(build, state_path, masters):
    """The master file build/bin/state2zone writes for a state served by masters (host:port)."""
    p = subprocess.run([os.path.join(build, "bin", "state2zone"), "-masters", masters,
                        "-ns-ip", "127.0.0.1", state_path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=True)
    return p.stdout


def zone_task_set(text):
    """The A, AAAA and SRV records of a master file as /v1/axfr lists them:
    {(owner, TYPE, data)}, SRV data "target:port", all lower-case, no trailing dots
    on owners."""
    out = set()
    for owner, _ttl, rtype, data in zone_records(text):
        owner = owner.rstrip(".").lower()
        if rtype in ("A", "AAAA"):
            out.add((owner, rtype, data.lower()))
        elif rtype == "SRV":
            _prio, _weight, port, target = data.split()
            out.add((owner, "SRV", "%s:%s" % (target.lower(), port)))
    return out


def axfr_set(http_port, timeout=30):
    """The daemon's /v1/axfr as {(owner, TYPE, data)}, comparable with zone_task_set."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/axfr" % http_port,
                                timeout=timeout) as r:
        doc = json.loads(r.read())
    out = set()
    for key, rtype in (("As", "A"), ("AAAAs", "AAAA"), ("SRVs", "SRV")):
        for name, datas in doc["Records"][key].items():
            for data in datas:
                out.add((name.rstrip(".").lower(), rtype, data.lower()))
    return out


# ---- raw DNS messages --------------------------------------------------------
import struct  # noqa: E402

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
          "SRV": 33, "OPT": 41, "IXFR": 251, "AXFR": 252, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          16: "BADVERS"}


def wire_name(name):
    """Uncompressed wire form of a dotted name ("" or "." is the root)."""
    out = b""
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\0"


def opt_rr(udp_size=1232, version=0, do=False, rdata=b""):
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\0" + struct.pack("!HHIH", 41, udp_size, ttl, len(rdata)) + rdata


def make_query(name="nginx.marathon.mesos", qtype="A", qclass=1, qid=0x1234, flags=0x0100,
               qdcount=None, ancount=0, nscount=0, arcount=None, edns=None, additional=b"",
               qname_wire=None, tail=b""):
    """A query message.  flags is the 16-bit flags word (default RD); edns is
    None (no OPT) or a udp size; counts default to what the message holds."""
    qt = QTYPES[qtype] if isinstance(qtype, str) else qtype
    qn = qname_wire if qname_wire is not None else wire_name(name)
    ar = additional
    if edns is not None:
        ar += opt_rr(edns)
    if arcount is None:
        arcount = (1 if edns is not None else 0) + (1 if additional else 0)
    if qdcount is None:
        qdcount = 1
    hdr = struct.pack("!HHHHHH", qid, flags, qdcount, ancount, nscount, arcount)
    return hdr + qn + struct.pack("!HH", qt, qclass) + ar + tail


class Msg:
    """A parsed DNS message: header fields, question and sections of
    (owner, type, class, ttl, rdata bytes, rdata offset)."""

    def __init__(self, data):
        self.raw = data
        self.size = len(data)
        (self.id, self.flags, self.qdcount, self.ancount, self.nscount,
         self.arcount) = struct.unpack("!HHHHHH", data[:12])
        f = self.flags
        self.qr = bool(f & 0x8000)
        self.opcode = (f >> 11) & 0xF
        self.aa = bool(f & 0x0400)
        self.tc = bool(f & 0x0200)
        self.rd = bool(f & 0x0100)
        self.ra = bool(f & 0x0080)
        self.ad = bool(f & 0x0020)
        self.cd = bool(f & 0x0010)
        self.rcode_num = f & 0xF
        pos = 12
        self.question = []
        for _ in range(self.qdcount):
            n, pos = self.name_at(pos)
            qt, qc = struct.unpack("!HH", data[pos:pos + 4])
            pos += 4
            self.question.append((n, qt, qc))
        self.sections = []
        for count in (self.ancount, self.nscount, self.arcount):
            sec = []
            for _ in range(count):
                n, pos = self.name_at(pos)
                t, c, ttl, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
                pos += 10
                sec.append((n, t, c, ttl, data[pos:pos + rdlen], pos))
                pos += rdlen
            self.sections.append(sec)
        self.answer, self.authority, self.additional = self.sections
        self.end = pos
        self.opt = [r for r in self.additional if r[1] == 41]
        ext = self.opt[0][3] >> 24 if self.opt else 0
        self.rcode_full = (ext << 4) | self.rcode_num
        self.rcode = RCODES.get(self.rcode_full, str(self.rcode_full))

    def name_at(self, pos):
        """Decode a (possibly compressed) name; returns (text, position after it)."""
        labels, end, hops = [], None, 0
        data = self.raw
        while True:
            ln = data[pos]
            if ln & 0xC0 == 0xC0:
                if end is None:
                    end = pos + 2
                pos = ((ln & 0x3F) << 8) | data[pos + 1]
                hops += 1
                if hops > 100:
                    raise ValueError("compression loop in reply")
                continue
            if ln == 0:
                pos += 1
                break
            labels.append(data[pos + 1:pos + 1 + ln].decode("latin-1"))
            pos += 1 + ln
        return ".".join(labels) + ".", (end if end is not None else pos)


def parse_msg(data):
    return Msg(data) if data is not None and len(data) >= 12 else None


def udp_send(port, pkt, timeout=1.0, server="127.0.0.1"):
    """Send one datagram; return the reply bytes, or None after timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(pkt, (server, port))
        try:
            return s.recvfrom(65535)[0]
        except socket.timeout:
            return None
    finally:
        s.close()


def tcp_connect(port, server="127.0.0.1", timeout=2.0):
    s = socket.create_connection((server, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n):
    """n bytes from sock; fewer when the peer closed (b'' at once on EOF)."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def tcp_recv_msg(sock, timeout=2.0):
    """One length-prefixed message; None on timeout, b'' when the server closed."""
    sock.settimeout(timeout)
    try:
        head = recv_exact(sock, 2)
        if len(head) < 2:
            return b""
        (n,) = struct.unpack("!H", head)
        body = recv_exact(sock, n)
        return body if len(body) == n else b""
    except socket.timeout:
        return None
    except ConnectionError:
        return b""


def tcp_send(port, pkt, timeout=2.0, server="127.0.0.1"):
    """One query over a fresh TCP connection; returns the reply bytes, None or b''."""
    s = tcp_connect(port, server, timeout)
    try:
        s.sendall(struct.pack("!H", len(pkt)) + pkt)
        return tcp_recv_msg(s, timeout)
    finally:
        s.close()
