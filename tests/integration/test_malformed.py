#!/usr/bin/env python3
"""tests/integration/test_malformed.py -- malformed and unusual queries, TCP framing (§3).

Raw packets over UDP and TCP sockets: FORMERR with just the header, silent
drops, NOTIMP / REFUSED, garbage after the question, TCP pipelining, split
writes, idle timeout, connection limit, SERVFAIL before the first load, and
finally that the daemon survived it all and exits 0 on SIGTERM.
"""
import os
import select
import socket
import struct
import time

from harness import (DATA, Daemon, Tap, build_dir, dig, free_port, make_query, opt_rr, parse_msg,
                     tcp_connect, tcp_recv_msg, tcp_send, udp_send, wait_for, wire_name)

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
BASE = {"stateFile": FAKE, "IPSources": ["netinfo", "mesos", "host"]}
QUIET = 0.3  # how long "no reply" is waited for

t = Tap()

HDR = struct.Struct("!HHHHHH")


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return HDR.pack(qid, flags, qd, an, ns, ar)


QNAME = wire_name("nginx.marathon.mesos")
QTAIL = struct.pack("!HH", 1, 1)  # A IN
A_RR = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 3, 0, 3])


def send(d, pkt, tcp, timeout=1.0):
    return (tcp_send if tcp else udp_send)(d.port, pkt, timeout=timeout)


def good_answer(d, tcp=False, qid=0x4242):
    m = parse_msg(send(d, make_query("nginx.marathon.mesos", "A", qid=qid), tcp))
    return m is not None and m.id == qid and m.rcode == "NOERROR" and m.ancount == 1


def is_formerr(raw, qid):
    m = parse_msg(raw)
    return (raw is not None and len(raw) == 12 and m.qr and m.rcode == "FORMERR" and m.id == qid
            and (m.qdcount, m.ancount, m.nscount, m.arcount) == (0, 0, 0, 0))


def brief(raw):
    m = parse_msg(raw)
    if m is None:
        return "reply: %r" % (raw,)
    return "reply (%d bytes): id %#x rcode %s counts %s %s %s %s: %r" % (
        len(raw), m.id, m.rcode, m.qdcount, m.ancount, m.nscount, m.arcount, raw[:80])


daemons = []
try:
    main = Daemon(BUILD, BASE)
    idle = Daemon(BUILD, dict(BASE, tcpIdleTimeout=1))
    limit = Daemon(BUILD, dict(BASE, tcpMaxConnections=5))
    dead_master = free_port()
    nostate = Daemon(BUILD, {"masters": ["127.0.0.1:%d" % dead_master], "refreshSeconds": 60})
    daemons = [main, idle, limit, nostate]
    ok = all(d.wait_loaded() for d in (main, idle, limit))
    ok = nostate.wait_log(r"refresh failed") and ok
    if not t.ok(ok, "daemons started (three loaded, one failed its first fetch)",
                "\n".join(d.logtext() for d in daemons)):
        t.done()

    # -- FORMERR with just the header
    formerr_cases = [
        ("QDCOUNT 0", header(qid=0x0101, qd=0), 0x0101),
        ("QDCOUNT 0 with a question present", header(qid=0x0102, qd=0) + QNAME + QTAIL, 0x0102),
        ("QDCOUNT 2", header(qid=0x0103, qd=2) + QNAME + QTAIL + QNAME + QTAIL, 0x0103),
        ("QDCOUNT 2, one question present", header(qid=0x0104, qd=2) + QNAME + QTAIL, 0x0104),
        ("QDCOUNT 1 and no question bytes", header(qid=0x0105), 0x0105),
        ("name cut inside a label", header(qid=0x0106) + QNAME[:9], 0x0106),
        ("name without its root label", header(qid=0x0107) + QNAME[:-1], 0x0107),
        ("question without type and class", header(qid=0x0108) + QNAME, 0x0108),
        ("question with half the class", header(qid=0x0109) + QNAME + QTAIL[:3], 0x0109),
        ("compression pointer to itself", header(qid=0x010a) + b"\xc0\x0c" + QTAIL, 0x010a),
        ("two pointers in a loop", header(qid=0x010b) + b"\x01a\xc0\x10\xc0\x0c" + QTAIL, 0x010b),
        ("forward pointer in the qname",
         header(qid=0x010c) + b"\xc0\x12" + QTAIL + QNAME, 0x010c),
        ("pointer cut after one byte", header(qid=0x010e) + b"\x05nginx\xc0", 0x010e),
        ("label type 0x40 (extended)", header(qid=0x010f) + b"\x45nginx\x05mesos\x00" + QTAIL,
         0x010f),
        ("label type 0x80 (reserved)", header(qid=0x0110) + b"\x85nginx\x05mesos\x00" + QTAIL,
         0x0110),
        ("name longer than 255 bytes",
         header(qid=0x0111) + (b"\x3f" + b"a" * 63) * 4 + b"\x05mesos\x00" + QTAIL, 0x0111),
        ("ANCOUNT 1", header(qid=0x0112, an=1) + QNAME + QTAIL + A_RR, 0x0112),
        ("NSCOUNT 1", header(qid=0x0113, ns=1) + QNAME + QTAIL + A_RR, 0x0113),
        ("two OPT records", header(qid=0x0114, ar=2) + QNAME + QTAIL + opt_rr(1232) + opt_rr(1232),
         0x0114),
        ("ARCOUNT 1 but the OPT is cut", header(qid=0x0115, ar=1) + QNAME + QTAIL + opt_rr()[:5],
         0x0115),
    ]
    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"
        for name, pkt, qid in formerr_cases:
            raw = send(main, pkt, tcp)
            t.ok(is_formerr(raw, qid), "[%s] %s: FORMERR, 12-byte header, counts 0, id copied"
                 % (tr, name), brief(raw))

    # -- no reply at all: responses and runts (UDP)
    for name, pkt in (("QR=1 (a response)", make_query(flags=0x8100, qid=0x0201)),
                      ("QR=1 response with an answer",
                       header(qid=0x0202, flags=0x8500, an=1) + QNAME + QTAIL + A_RR),
                      ("0-byte datagram", b""), ("1-byte datagram", b"\x12"),
                      ("11-byte datagram", make_query()[:11])):
        raw = udp_send(main.port, pkt, timeout=QUIET)
        t.ok(raw is None, "[udp] %s: no reply" % name, brief(raw))
        t.ok(good_answer(main), "[udp] ... and a good query right after is answered")
    # over TCP: no reply to them either (the server may close the connection)
    for name, msg in (("QR=1 (a response)", make_query(flags=0x8100, qid=0x0203)),
                      ("zero-length message", b""), ("11-byte message", make_query()[:11])):
        s = tcp_connect(main.port)
        try:
            s.sendall(struct.pack("!H", len(msg)) + msg)
            raw = tcp_recv_msg(s, timeout=QUIET)
            t.ok(raw is None or raw == b"", "[tcp] %s: no reply" % name, brief(raw))
        finally:
            s.close()
        t.ok(good_answer(main, tcp=True), "[tcp] ... and a good query right after is answered")
    # a zero-length message followed by a good query in the same write: either the
    # connection is closed, or the good query is answered -- never anything else
    s = tcp_connect(main.port)
    try:
        s.sendall(b"\x00\x00" + struct.pack("!H", len(make_query(qid=0x0204)))
                  + make_query(qid=0x0204))
        raw = tcp_recv_msg(s, timeout=2)
        m = parse_msg(raw)
        t.ok(raw == b"" or (m is not None and m.id == 0x0204 and m.rcode == "NOERROR"),
             "[tcp] zero-length message then a query: the query's reply or a close", brief(raw))
    finally:
        s.close()

    # -- opcodes, classes, transfers
    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"
        for opcode in (1, 2, 4, 5):
            qid = 0x0300 + opcode
            raw = send(main, make_query(qid=qid, flags=(opcode << 11) | 0x0100), tcp)
            m = parse_msg(raw)
            t.ok(m is not None and m.qr and m.id == qid and m.rcode == "NOTIMP"
                 and m.opcode == opcode and m.ancount == 0,
                 "[%s] opcode %d: NOTIMP" % (tr, opcode), brief(raw))
        # order of checks (README): opcode before FORMERR, BADVERS before class
        for opcode, pkt in ((2, header(qid=0x0311, flags=2 << 11, qd=0)),
                            (5, header(qid=0x0311, flags=5 << 11, ns=1) + wire_name("mesos")
                             + struct.pack("!HH", 6, 1) + A_RR)):
            raw = send(main, pkt, tcp)
            m = parse_msg(raw)
            t.ok(m is not None and m.id == 0x0311 and m.rcode == "NOTIMP",
                 "[%s] opcode %d with sections a QUERY may not have: NOTIMP, not FORMERR"
                 % (tr, opcode), brief(raw))
        raw = send(main, make_query("version.bind", "TXT", qclass=3, qid=0x0312,
                                    additional=opt_rr(1232, version=1)), tcp)
        m = parse_msg(raw)
        t.ok(m is not None and m.id == 0x0312 and m.rcode == "BADVERS",
             "[%s] CH query with EDNS version 1: BADVERS before REFUSED" % tr, brief(raw))
        for cls, cname in ((3, "CH"), (4, "HS"), (254, "NONE")):
            raw = send(main, make_query("nginx.marathon.mesos", "A", qclass=cls, qid=0x0400 + cls),
                       tcp)
            m = parse_msg(raw)
            t.ok(m is not None and m.id == 0x0400 + cls and m.rcode == "REFUSED" and m.ancount == 0,
                 "[%s] class %s: REFUSED" % (tr, cname), brief(raw))
        raw = send(main, make_query("version.bind", "TXT", qclass=3, qid=0x0499), tcp)
        m = parse_msg(raw)
        t.ok(m is not None and m.rcode == "REFUSED" and m.ancount == 0,
             "[%s] version.bind CH TXT: REFUSED" % tr, brief(raw))
        raw = send(main, make_query("nginx.marathon.mesos", "A", qclass=255, qid=0x04ff), tcp)
        m = parse_msg(raw)
        t.ok(m is not None and m.rcode == "NOERROR" and m.ancount == 1 and m.aa
             and m.answer[0][4] == bytes([10, 3, 0, 3]) and m.answer[0][2] == 1
             and m.question == [("nginx.marathon.mesos.", 1, 255)],
             "[%s] class ANY: answered with the IN record, question echoed" % tr, brief(raw))
        for qtype in ("AXFR", "IXFR"):
            want = "REFUSED" if tcp else "NOTIMP"
            raw = send(main, make_query("mesos", qtype, qid=0x0500), tcp)
            m = parse_msg(raw)
            t.ok(m is not None and m.id == 0x0500 and m.rcode == want and m.ancount == 0,
                 "[%s] %s: %s" % (tr, qtype, want), brief(raw))

        # -- bytes after the question and additional records are ignored
        for name, pkt in (
                ("20 garbage bytes after the question", make_query(qid=0x0601) + os.urandom(20)),
                ("20 zero bytes after the question", make_query(qid=0x0601) + b"\0" * 20),
                ("garbage after the OPT", make_query(qid=0x0601, edns=1232) + b"\xff" * 20),
                ("1000 garbage bytes", make_query(qid=0x0601) + b"\xab" * 1000)):
            raw = send(main, pkt, tcp)
            m = parse_msg(raw)
            t.ok(m is not None and m.id == 0x0601 and m.rcode == "NOERROR" and m.ancount == 1,
                 "[%s] %s: still NOERROR with the answer" % (tr, name), brief(raw))
        raw = send(main, make_query("nginx.marathon.mesos", 65280, qid=0x0602), tcp)
        m = parse_msg(raw)
        t.ok(m is not None and m.rcode == "NOERROR" and m.ancount == 0 and m.nscount == 1,
             "[%s] unknown type 65280 at an existing name: NODATA" % tr, brief(raw))

    # -- TCP framing
    qs = [make_query(n, ty, qid=i) for i, (n, ty) in enumerate(
        (("nginx.marathon.mesos", "A"), ("nope.marathon.mesos", "A"),
         ("_leader._tcp.mesos", "SRV")), start=0x0701)]
    s = tcp_connect(main.port)
    try:
        s.sendall(b"".join(struct.pack("!H", len(q)) + q for q in qs))
        replies = [parse_msg(tcp_recv_msg(s, timeout=2)) for _ in qs]
        t.ok(all(replies) and [m.id for m in replies] == [0x0701, 0x0702, 0x0703]
             and [m.rcode for m in replies] == ["NOERROR", "NXDOMAIN", "NOERROR"]
             and [m.question[0][0] for m in replies] ==
             ["nginx.marathon.mesos.", "nope.marathon.mesos.", "_leader._tcp.mesos."],
             "[tcp] 3 pipelined queries in one write: 3 replies in order, matching IDs",
             [m and (hex(m.id), m.rcode) for m in replies])
        # the same connection keeps working
        q = make_query(qid=0x0704)
        s.sendall(struct.pack("!H", len(q)) + q)
        m = parse_msg(tcp_recv_msg(s, timeout=2))
        t.ok(m is not None and m.id == 0x0704, "[tcp] the connection still answers afterwards")
    finally:
        s.close()

    s = tcp_connect(main.port)
    try:
        q = make_query("liquor-store.marathon.mesos", "A", qid=0x0801)
        framed = struct.pack("!H", len(q)) + q
        for piece in (framed[:1], framed[1:2], framed[2:10], framed[10:20], framed[20:]):
            s.sendall(piece)
            time.sleep(0.15)
        m = parse_msg(tcp_recv_msg(s, timeout=2))
        t.ok(m is not None and m.id == 0x0801 and m.rcode == "NOERROR" and m.ancount == 2,
             "[tcp] a message split across 5 writes with pauses is answered", brief(m and m.raw))
    finally:
        s.close()

    # -- TCP idle timeout (tcpIdleTimeout 1)
    s = tcp_connect(idle.port, timeout=5)
    t0 = time.time()
    try:
        s.settimeout(5)
        try:
            data = s.recv(10)
        except (ConnectionError, socket.timeout) as e:
            data = repr(e)
        dt = time.time() - t0
        t.ok(data == b"" and 0.5 <= dt <= 3.0,
             "[tcp] tcpIdleTimeout 1: a silent connection is closed by the server (%.1f s)" % dt,
             repr(data))
    finally:
        s.close()
    s = tcp_connect(idle.port, timeout=5)
    try:
        q = make_query(qid=0x0901)
        s.sendall(struct.pack("!H", len(q)) + q)
        m = parse_msg(tcp_recv_msg(s, timeout=2))
        t0 = time.time()
        s.settimeout(5)
        try:
            data = s.recv(10)
        except (ConnectionError, socket.timeout) as e:
            data = repr(e)
        dt = time.time() - t0
        t.ok(m is not None and m.id == 0x0901 and data == b"" and dt <= 3.0,
             "[tcp] tcpIdleTimeout 1: closed after going idle following a query (%.1f s)" % dt,
             repr(data))
    finally:
        s.close()

    # -- a message trickled a byte at a time: the idle timeout restarts with every
    # byte read, so it is not what ends it; the whole message is due within
    # tcpIdleTimeout of its first byte.
    q = make_query(qid=0x0902)
    wire = struct.pack("!H", len(q)) + q
    s = tcp_connect(idle.port, timeout=5)
    t0 = time.time()
    closed = None
    try:
        for b in wire[:-1]:
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = time.time() - t0
                break
            r, _, _ = select.select([s], [], [], 0.4)
            if r:
                try:
                    data = s.recv(10)
                except OSError:
                    data = b""
                if data == b"":
                    closed = time.time() - t0
                    break
            if time.time() - t0 > 6:
                break
    finally:
        s.close()
    t.ok(closed is not None and closed <= 3.0,
         "[tcp] tcpIdleTimeout 1: a message trickled a byte every 0.4 s is cut off (%s)" %
         ("%.1f s" % closed if closed is not None else "still open after 6 s"))
    # ... while one sent in two parts 0.5 s apart is answered, and so is the next.
    s = tcp_connect(idle.port, timeout=5)
    try:
        s.sendall(wire[:7])
        time.sleep(0.5)
        s.sendall(wire[7:])
        m1 = parse_msg(tcp_recv_msg(s, timeout=2))
        time.sleep(0.5)
        s.sendall(wire[:7])
        time.sleep(0.5)
        s.sendall(wire[7:])
        m2 = parse_msg(tcp_recv_msg(s, timeout=2))
        t.ok(m1 is not None and m2 is not None and m1.id == m2.id == 0x0902,
             "[tcp] tcpIdleTimeout 1: a message in two parts 0.5 s apart is answered, twice")
    finally:
        s.close()

    # -- TCP connection limit (tcpMaxConnections 5)
    conns = []
    try:
        for i in range(5):
            c = tcp_connect(limit.port)
            conns.append(c)
            q = make_query(qid=0x0a00 + i)
            c.sendall(struct.pack("!H", len(q)) + q)
            m = parse_msg(tcp_recv_msg(c, timeout=2))
            t.ok(m is not None and m.id == 0x0a00 + i,
                 "[tcp] tcpMaxConnections 5: connection %d accepted and answered" % (i + 1))
        sixth = tcp_connect(limit.port)
        t0 = time.time()
        try:
            q = make_query(qid=0x0a06)
            try:
                sixth.sendall(struct.pack("!H", len(q)) + q)
            except ConnectionError:
                pass
            raw = tcp_recv_msg(sixth, timeout=2)
        finally:
            sixth.close()
        dt = time.time() - t0
        t.ok(raw == b"" and dt < 1.0,
             "[tcp] the 6th connection is closed at once (%.2f s)" % dt, brief(raw))
        t.ok(good_answer(limit), "[udp] UDP still answers while TCP is full")
        conns.pop().close()

        def reconnect():
            try:
                return good_answer(limit, tcp=True)
            except OSError:
                return False
        t.ok(wait_for(reconnect, timeout=3, step=0.1),
             "[tcp] after one connection closes, a new one is served again")
    finally:
        for c in conns:
            c.close()

    # -- SERVFAIL before the first load; outside names REFUSED
    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"
        r = dig(nostate.port, "nginx.marathon.mesos", "A", tcp=tcp)
        t.ok(r.rcode == "SERVFAIL" and not r.answer,
             "[%s] before the first load: nginx.marathon.mesos SERVFAIL" % tr, r.text)
        r = dig(nostate.port, "mesos", "SOA", tcp=tcp)
        t.eq(r.rcode, "SERVFAIL", "[%s] before the first load: apex SOA SERVFAIL" % tr)
        r = dig(nostate.port, "example.com", "A", tcp=tcp)
        t.ok(r.rcode == "REFUSED", "[%s] before the first load: example.com REFUSED" % tr, r.text)
    t.ok(nostate.proc.poll() is None, "the daemon without state keeps running")

    # -- survived all of it
    t.ok(good_answer(main) and good_answer(main, tcp=True),
         "the daemon still answers over UDP and TCP after all of it")
    t.ok(all(d.proc.poll() is None for d in daemons), "every daemon is still running",
         [d.proc.poll() for d in daemons])
finally:
    for d in daemons:
        d.stop()
    codes = [d.proc.returncode for d in daemons]
    logs = ""
    for d in daemons:
        try:
            logs += d.logtext()
        except OSError:
            pass
        d.cleanup()

t.ok(codes == [0] * len(codes), "every daemon exits 0 on SIGTERM", "%s\n%s" % (codes, logs))
t.done()
