"""tests/integration/upstreams.py -- real and fake DNS servers around the daemon.

Nsd: Debian's NSD serving zones from a temporary directory on a loopback port.
Named: Debian's BIND (named) with a given named.conf body, in the foreground.
FakeUpstream: a scripted server in this process (UDP and TCP) that records
every query and answers the way a test needs: never, with an rcode, with
spoofed replies first, with EDNS options, with the question lower-cased.

Every process is started with its own config, waited for through its log (no
fixed sleeps) and killed exactly (harness's exit hook covers a crashed test).
"""
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

import harness
from harness import free_port, wait_for


def _track(proc):
    harness._procs.append(proc)  # killed by harness's exit hook if still running


# ---- a server process started by a test ----------------------------------------
class ServerProcess:
    """What every server a test runs has: a log file and a stop that waits,
    then kills.  Subclasses set self.proc and self.log_path."""

    stop_wait = 5

    def logtext(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- NSD ------------------------------------------------------------------------
class Nsd(ServerProcess):
    """NSD on ip:port (port 0: a free one) serving zones {origin: records text}.

    The records text is a master file body without $ORIGIN/SOA: both are added."""

    def __init__(self, zones, ip="127.0.0.1", port=0):
        self.dir = tempfile.mkdtemp(prefix="fwd-nsd-")
        harness._dirs.append(self.dir)
        self.ip = ip
        self.port = port or free_port()
        zone_conf = ""
        for origin, body in zones.items():
            fname = origin.replace("/", "_") + ".zone"
            with open(os.path.join(self.dir, fname), "w") as f:
                f.write("$ORIGIN %s.\n$TTL 300\n"
                        "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                        "@ IN NS ns1\nns1 IN A 127.0.0.1\n%s\n" % (origin, body))
            zone_conf += "zone:\n  name: %s\n  zonefile: %s\n" % (origin, fname)
        d = self.dir
        self.log_path = os.path.join(d, "nsd.log")
        with open(os.path.join(d, "nsd.conf"), "w") as f:
            f.write("server:\n"
                    "  ip-address: %s@%d\n"
                    "  server-count: 1\n"
                    "  username: \"\"\n"
                    "  chroot: \"\"\n"
                    "  zonesdir: \"%s\"\n"
                    "  database: \"\"\n"
                    "  zonelistfile: \"%s/zone.list\"\n"
                    "  xfrdfile: \"%s/xfrd.state\"\n"
                    "  xfrdir: \"%s\"\n"
                    "  pidfile: \"%s/nsd.pid\"\n"
                    "  logfile: \"%s\"\n"
                    "  do-ip6: %s\n"
                    "  do-ip4: %s\n"
                    "remote-control:\n  control-enable: no\n%s"
                    % (ip, self.port, d, d, d, d, d, self.log_path,
                       "yes" if ":" in ip else "no", "no" if ":" in ip else "yes", zone_conf))
        self.proc = subprocess.Popen(["nsd", "-d", "-c", os.path.join(d, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _track(self.proc)
        ok = wait_for(lambda: "nsd started" in self.logtext() or self.proc.poll() is not None, 15)
        if not ok or "nsd started" not in self.logtext():
            self.stop()
            raise OSError("nsd did not start on %s port %d:\n%s" % (ip, self.port, self.logtext()))

    @property
    def addr(self):
        return ("[%s]:%d" if ":" in self.ip else "%s:%d") % (self.ip, self.port)


# ---- BIND -----------------------------------------------------------------------
class Named(ServerProcess):
    """named -g with a config body; DIR in body is replaced by its directory and
    PORT by the port it listens on (127.0.0.1)."""

    def __init__(self, body):
        self.dir = tempfile.mkdtemp(prefix="fwd-named-")
        harness._dirs.append(self.dir)
        self.port = free_port()
        conf = os.path.join(self.dir, "named.conf")
        with open(conf, "w") as f:
            f.write(body.replace("DIR", self.dir).replace("PORT", str(self.port)))
        self.log_path = os.path.join(self.dir, "named.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["named", "-g", "-c", conf, "-u", "root"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        _track(self.proc)
        wait_for(lambda: self.running() or self.proc.poll() is not None, 20)
        if not self.running():
            self.stop()
            raise OSError("named did not start:\n" + self.logtext()[-3000:])

    stop_wait = 10

    def running(self):
        return any(line.endswith(" running") for line in self.logtext().splitlines())

    def stop(self):
        super().stop()
        self.log.close()


# ---- raw DNS helpers ------------------------------------------------------------
def question_end(q):
    """Offset just past the (uncompressed) question of message q."""
    pos = 12
    while q[pos]:
        pos += 1 + q[pos]
    return pos + 5


def a_record(ip, ttl=60):
    return b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(ip)


def reply_to(q, rcode=0, answers=(), qid=None, question=None, additional=b"", arcount=0):
    """A response to query q: its ID (or qid), RD copied, QR and RA set, the
    question as asked (or the given wire question), A records for answers."""
    qe = question_end(q)
    rd = q[2] & 1
    flags = 0x8080 | (rd << 8) | rcode
    an = b"".join(a_record(ip) for ip in answers)
    hdr = struct.pack("!HHHHHH", q[0] << 8 | q[1] if qid is None else qid, flags, 1,
                      len(answers), 0, arcount)
    return hdr + (q[12:qe] if question is None else question) + an + additional


def opt_of(msg):
    """The raw OPT record (owner to the end of its rdata) of a query whose
    only additional record is the OPT, or None."""
    qe = question_end(msg)
    arcount = struct.unpack("!H", msg[10:12])[0]
    if arcount != 1 or len(msg) < qe + 11 or msg[qe] != 0:
        return None
    rdlen = struct.unpack("!H", msg[qe + 9:qe + 11])[0]
    return msg[qe:qe + 11 + rdlen]


# ---- scripted upstream --------------------------------------------------------------
class FakeUpstream:
    """A DNS server in this process on 127.0.0.1 (UDP and TCP on one port).

    mode:
      "silent"   record, never answer (a dead resolver)
      "servfail" / "refused"   that rcode
      "answer"   A 192.0.2.201 (ip=...) for every query
      "spoof"    per UDP query: a reply with another ID, one from another port,
                 one for another question, then the right one (A 192.0.2.200)
      "edns"     A 192.0.2.202 plus an OPT carrying option 65002 "world"
      "lower"    A 192.0.2.203 with the question name lower-cased
      "bare-formerr"   FORMERR with a header only (no question, as some old
                 servers answer a query with an OPT)
      "big"      100 A records (198.18.1.0-99), whatever size the client allows
    self.queries: [(transport, (ip, port), raw bytes), ...]
    """

    SPOOF_IPS = ("10.66.0.1", "10.66.0.2", "10.66.0.3")

    def __init__(self, mode, ip="192.0.2.201"):
        self.mode = mode
        self.ip = ip
        self.queries = []
        self.lock = threading.Lock()
        self.stopped = False
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(64)
        self.tcp.settimeout(0.2)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the "wrong port"
        self.other.bind(("127.0.0.1", 0))
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def count(self):
        with self.lock:
            return len(self.queries)

    def replies(self, q, transport):
        """The messages to send back for query q, in order."""
        m = self.mode
        if m == "silent":
            return []
        if m == "servfail":
            return [reply_to(q, rcode=2)]
        if m == "refused":
            return [reply_to(q, rcode=5)]
        if m == "answer":
            return [reply_to(q, answers=[self.ip])]
        if m == "edns":
            opt = b"\0" + struct.pack("!HHIH", 41, 1400, 0, 9) + struct.pack("!HH", 65002, 5) + b"world"
            return [reply_to(q, answers=["192.0.2.202"], additional=opt, arcount=1)]
        if m == "bare-formerr":
            return [struct.pack("!HHHHHH", q[0] << 8 | q[1], 0x8081 | (q[2] & 1) << 8, 0, 0, 0, 0)]
        if m == "big":
            return [reply_to(q, answers=["198.18.1.%d" % i for i in range(100)])]
        if m == "lower":
            qe = question_end(q)
            return [reply_to(q, answers=["192.0.2.203"], question=q[12:qe].lower())]
        if m == "spoof":
            qid = q[0] << 8 | q[1]
            other_q = harness.wire_name("www.evil.test") + q[question_end(q) - 4:question_end(q)]
            wrong_id = reply_to(q, answers=[self.SPOOF_IPS[0]], qid=(qid + 1) & 0xFFFF)
            wrong_port = ("other", reply_to(q, answers=[self.SPOOF_IPS[1]]))
            wrong_q = reply_to(q, answers=[self.SPOOF_IPS[2]], question=other_q)
            right = reply_to(q, answers=["192.0.2.200"])
            if transport == "tcp":
                return [wrong_id, wrong_q, right]
            return [wrong_id, wrong_port, wrong_q, right]
        raise ValueError(m)

    def _udp_loop(self):
        while not self.stopped:
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.queries.append(("udp", peer, data))
            for r in self.replies(data, "udp"):
                if isinstance(r, tuple):
                    self.other.sendto(r[1], peer)
                else:
                    self.udp.sendto(r, peer)
                time.sleep(0.01)  # keep them in order on the wire

    def _tcp_conn(self, c, peer):
        c.settimeout(5)
        try:
            while not self.stopped:
                head = harness.recv_exact(c, 2)
                if len(head) < 2:
                    return
                data = harness.recv_exact(c, struct.unpack("!H", head)[0])
                with self.lock:
                    self.queries.append(("tcp", peer, data))
                rs = self.replies(data, "tcp")
                if not rs and self.mode == "silent":
                    time.sleep(10)  # hold the connection, answer nothing
                    return
                for r in rs:
                    c.sendall(struct.pack("!H", len(r)) + r)
        except OSError:
            return
        finally:
            c.close()

    def _tcp_loop(self):
        while not self.stopped:
            try:
                c, peer = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(c, peer), daemon=True).start()

    def stop(self):
        self.stopped = True
        for t in self.threads:
            t.join(2)
        for s in (self.udp, self.tcp, self.other):
            s.close()
