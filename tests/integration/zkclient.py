"""tests/integration/zkclient.py -- a ZooKeeper server and a small client for the tests.

ZkServer runs Debian's ZooKeeper (standalone, loopback, temporary data
directory) and waits for `ruok` -> `imok`.  ZkSession speaks just enough of
the ZooKeeper wire protocol (jute over TCP, Python stdlib only) to play Mesos
masters: connect, create (ephemeral, sequential), get children, delete, ping,
and either close the session (its ephemeral nodes vanish at once) or drop the
connection (they vanish when the session times out).
"""
import atexit
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

ZK_JARS = ["/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"]

# request types and flags of the ZooKeeper protocol
OP_CREATE, OP_DELETE, OP_GETDATA, OP_GETCHILDREN, OP_PING, OP_CLOSE = 1, 2, 4, 8, 11, -11
EPHEMERAL, SEQUENTIAL = 1, 2
ERR_NONODE, ERR_NODEEXISTS = -101, -110


class ZkError(Exception):
    def __init__(self, code, what=""):
        super().__init__("ZooKeeper error %d %s" % (code, what))
        self.code = code


def four_letter(port, word, timeout=1.0):
    """A four-letter-word command's answer as text, or None when the server is not there."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode(errors="replace")
                out += chunk
    except OSError:
        return None


def ruok(port, timeout=0.5):
    return four_letter(port, "ruok", timeout) == "imok"


def session_known(port, session_id):
    """Whether the server still lists session_id (e.g. 0x1000...) among its connections."""
    text = four_letter(port, "cons") or ""
    return ("sid=%s" % session_id.lower()) in text.lower()


class ZkServer:
    """A standalone ZooKeeper on 127.0.0.1:port; restartable with the same or fresh data."""

    def __init__(self, port, tick_ms=500):
        self.port = port
        self.tick_ms = tick_ms
        self.dir = tempfile.mkdtemp(prefix="zk-test-")
        self.proc = None
        self.log = None
        self.starts = 0
        atexit.register(self.cleanup)

    def start(self, fresh=False, timeout=30.0):
        """Start the server (fresh: wipe the data first, so every session is unknown to it)."""
        data = os.path.join(self.dir, "data")
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data, exist_ok=True)
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            # minSessionTimeout 2 ticks: the test masters' 1.5-2 s sessions are honoured.
            f.write("tickTime=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                    "admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat,mntr,cons\n"
                    "minSessionTimeout=%d\nmaxSessionTimeout=60000\n"
                    % (self.tick_ms, data, self.port, 2 * self.tick_ms))
        self.starts += 1
        self.log = open(os.path.join(self.dir, "zk-%d.log" % self.starts), "w")
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-cp", ":".join(ZK_JARS), "-Dzookeeper.log.dir=" + self.dir,
             "-Dzookeeper.admin.enableServer=false",
             "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
            stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + timeout
        while time.time() < end:
            if ruok(self.port):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self):
        """Kill the server (SIGKILL: like a crash; clients see the connection drop)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- jute encoding --------------------------------------------------------------
def _int(v):
    return struct.pack("!i", v)


def _long(v):
    return struct.pack("!q", v)


def _buf(b):
    return _int(-1) if b is None else _int(len(b)) + b


def _str(s):
    return _buf(s.encode())


OPEN_ACL = _int(1) + _int(31) + _str("world") + _str("anyone")


class _Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def int(self):
        v = struct.unpack_from("!i", self.d, self.p)[0]
        self.p += 4
        return v

    def long(self):
        v = struct.unpack_from("!q", self.d, self.p)[0]
        self.p += 8
        return v

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def str(self):
        b = self.buf()
        return None if b is None else b.decode()


class ZkSession:
    """One ZooKeeper session held by a background pinger.

    Requests are synchronous (one at a time, under a lock).  When the
    connection breaks, the pinger reconnects to the same session, so
    ephemeral nodes survive a server restart that keeps its data."""

    def __init__(self, port, timeout_ms=2000, connect_timeout=10.0):
        self.port = port
        self.timeout_ms = timeout_ms
        self.session_id = 0
        self.passwd = b"\0" * 16
        self.sock = None
        self.lock = threading.Lock()
        self.xid = 0
        self.closed = False
        self.expired = False
        end = time.time() + connect_timeout
        while True:
            try:
                self._connect()
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.1)
        self.pinger = threading.Thread(target=self._ping_loop, daemon=True)
        self.pinger.start()

    # -- framing
    def _send(self, payload):
        self.sock.sendall(_int(len(payload)) + payload)

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise OSError("connection closed by ZooKeeper")
            out += chunk
        return out

    def _recv(self):
        (n,) = struct.unpack("!i", self._recv_exact(4))
        return self._recv_exact(n)

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2.0)
        s.settimeout(max(2.0, self.timeout_ms / 1000.0))
        self.sock = s
        try:
            self._send(_int(0) + _long(0) + _int(self.timeout_ms) + _long(self.session_id)
                       + _buf(self.passwd) + b"\0")
            r = _Reader(self._recv())
            r.int()                      # protocol version
            negotiated = r.int()
            sid = r.long()
            passwd = r.buf()
        except (OSError, struct.error):
            s.close()
            self.sock = None
            raise OSError("ZooKeeper connect handshake failed")
        if negotiated <= 0:
            s.close()
            self.sock = None
            self.expired = True
            raise OSError("session expired")
        self.session_id, self.passwd, self.timeout_ms = sid, passwd, negotiated

    def _call(self, op, body, xid=None):
        with self.lock:
            if self.closed or self.sock is None:
                raise OSError("session not connected")
            if xid is None:
                self.xid += 1
                xid = self.xid
            self._send(_int(xid) + _int(op) + body)
            while True:
                r = _Reader(self._recv())
                rxid, _zxid, err = r.int(), r.long(), r.int()
                if rxid == -1:          # a watch notification: we set none, skip
                    continue
                if rxid != xid:
                    continue            # a late ping reply
                if err:
                    raise ZkError(err, "(op %d)" % op)
                return r

    def _ping_loop(self):
        while not self.closed and not self.expired:
            time.sleep(self.timeout_ms / 3000.0)
            if self.closed:
                return
            try:
                if self.sock is None:
                    self._connect()
                else:
                    self._call(OP_PING, b"", xid=-2)
            except (OSError, ZkError, struct.error):
                with self.lock:
                    if self.sock:
                        self.sock.close()
                    self.sock = None

    # -- operations
    def create(self, path, data=b"", flags=0):
        """Create path; returns the name actually created (with the sequence suffix)."""
        if isinstance(data, str):
            data = data.encode()
        r = self._call(OP_CREATE, _str(path) + _buf(data) + OPEN_ACL + _int(flags))
        return r.str()

    def ensure(self, path):
        try:
            self.create(path)
        except ZkError as e:
            if e.code != ERR_NODEEXISTS:
                raise

    def children(self, path):
        r = self._call(OP_GETCHILDREN, _str(path) + b"\0")
        return [r.str() for _ in range(r.int())]

    def get(self, path):
        return self._call(OP_GETDATA, _str(path) + b"\0").buf()

    def delete(self, path):
        self._call(OP_DELETE, _str(path) + _int(-1))

    def close(self):
        """End the session cleanly: its ephemeral nodes vanish at once."""
        if self.closed:
            return
        try:
            self._call(OP_CLOSE, b"")
        except (OSError, ZkError, struct.error):
            pass
        self.closed = True
        with self.lock:
            if self.sock:
                self.sock.close()
            self.sock = None

    def drop(self):
        """Vanish without a word (a crashed master): nodes go when the session times out."""
        self.closed = True
        with self.lock:
            if self.sock:
                self.sock.close()
            self.sock = None


# ---- MasterInfo in both encodings ---------------------------------------------------
def master_json(host, port, mid="master", hostname=None, legacy_only=False, address=True):
    """The json.info_ payload of a master at host:port (host an IPv4 literal or a name)."""
    import json
    try:
        a, b, c, d = (int(x) for x in host.split("."))
        ip = a | b << 8 | c << 16 | d << 24
    except ValueError:
        ip = 0
    doc = {"hostname": hostname or host, "id": mid, "ip": ip, "port": port,
           "pid": "master@%s:%d" % (host, port), "version": "1.11.0"}
    if address and not legacy_only:
        doc["address"] = {"hostname": hostname or host, "port": port}
        if ip:
            doc["address"]["ip"] = host
    return json.dumps(doc)


def _varint(v):
    out = b""
    while True:
        c = v & 0x7F
        v >>= 7
        out += bytes([c | (0x80 if v else 0)])
        if not v:
            return out


def master_protobuf(host, port, mid="master"):
    """The binary MasterInfo of an old (Mesos <= 0.23) info_ node."""
    a, b, c, d = (int(x) for x in host.split("."))
    ip = a | b << 8 | c << 16 | d << 24

    def s(field, text):
        t = text.encode()
        return _varint(field << 3 | 2) + _varint(len(t)) + t

    def u(field, v):
        return _varint(field << 3) + _varint(v)
    return s(1, mid) + u(2, ip) + u(3, port) + s(4, "master@%s:%d" % (host, port)) \
        + s(5, host) + s(6, "0.23.0")
