#!/usr/bin/env python3
# tests/integration/stream_master.py -- a Mesos master stand-in that speaks the operator event stream.
"""A Mesos master with a state that changes on command, served both ways a master serves it.

  GET  /master/state, /master/state.json   the whole state (the poller's view)
  GET  /master/state-summary               frameworks with their pids (the operator API has none)
  POST /api/v1 {"type":"SUBSCRIBE"}        200, a RecordIO stream of JSON events: SUBSCRIBED
                                           (get_state + heartbeat_interval_seconds), then
                                           TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
                                           FRAMEWORK_ADDED/UPDATED/REMOVED as the state changes,
                                           and a HEARTBEAT every interval

Tests change the state with POST /control/<op> (JSON body; the answer is JSON):

  task_add        {"framework_id", "task": <a /master/state task>}         TASK_ADDED
  task_update     {"framework_id", "task_id", "state", "status"?}           TASK_UPDATED
                  (a terminal state also removes the task from /master/state, as an
                  acknowledged one leaves frameworks[].tasks)
  agent_add       {"agent": <a /master/state slave>}                        AGENT_ADDED
  agent_remove    {"id"}: the agent and its tasks go                        AGENT_REMOVED
  framework_add   {"framework": <a /master/state framework, tasks []>}      FRAMEWORK_ADDED
  framework_update {"framework"}                                            FRAMEWORK_UPDATED
  framework_remove {"id"}: the framework and its tasks go                   FRAMEWORK_REMOVED
  batch           {"ops": [{"op": ..., ...}, ...]}: several at once, their events written
                  back to back
  heartbeats      {"on": bool}: pause or resume heartbeats (the stream stays open)
  raw             {"events": [<v1 Event>, ...]}: written to every open stream as they are,
                  the state left alone (a master whose stream lost or garbled an event)
  on_subscribe    {"events": [...], "delay": S, "later": [...], "api": MODE}: the next
                  SUBSCRIBE writes SUBSCRIBED and "events" in one chunk, then after S seconds
                  "later", then sets the api mode (how the SUBSCRIBEs after it are answered)
  cut             close every stream now
  api             {"mode": "ok" | "404" | "503" | "hang" | "nostate"}: how SUBSCRIBE is
                  answered ("nostate": 200, a SUBSCRIBED without get_state, then
                  heartbeats: a snapshot no model takes)
  stats           {} -> {"subscribes", "streams", "events", "heartbeats", "refused"}
                  (heartbeats: HEARTBEAT records written, on every stream)

Each state-changing op answers {"sent": T, "streams": N}: T is time.monotonic() (the
system's CLOCK_MONOTONIC, comparable across processes) right after the event was written to
every open stream (null when none was open), so a test can time event -> DNS answer.

  stream_master.py --port P --state FILE [--host H] [--heartbeat S] [--api MODE]
                   [--ready-file F] [--log F] [--basic-auth USER:PASS] [--iam-uid UID]
                   [--tls-cert PEM --tls-key PEM]

The state file is a /master/state document (tests/data/fake.json): its leader becomes
master@<host>:<port>; a task id repeated within a framework gets ".dup" appended.
With --iam-uid every request but /control/ must carry "Authorization: token=T" where T is
a JWT-shaped token whose claims name that uid and an exp ahead (as fake_master.py's login
endpoint issues them; the signature is that server's business), else 401.  --log appends "<method> <path>" per request.  The v1 shapes of the
same objects come from the functions below, which tests/data/stream/make_events.py also uses
to write the unit test's fixture.
"""
import argparse
import base64
import copy
import json
import os
import queue
import socket
import ssl
import sys
import threading

from fake_master import serve
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


# ---- /master/state shapes -> v1 operator API shapes -------------------------------
def ranges_of(ports):
    """'[31000-31002, 31010-31010]' -> [(31000, 31002), (31010, 31010)]; None if malformed."""
    s = (ports or "").strip()
    if not s:
        return []
    if not (s.startswith("[") and s.endswith("]")):
        return None
    out = []
    for part in s[1:-1].split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            lo, hi = int(lo), int(hi or lo)
        except ValueError:
            return None
        out.append((lo, hi))
    return out


def resources_v1(res):
    out = []
    for name, value in sorted((res or {}).items()):
        if name == "ports":
            rg = ranges_of(value)
            if rg:
                out.append({"name": "ports", "type": "RANGES",
                            "ranges": {"range": [{"begin": a, "end": b} for a, b in rg]}})
        elif isinstance(value, (int, float)):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": value}})
    return out


def status_v1(st, task_id, agent_id):
    out = copy.deepcopy(st)
    out["task_id"] = {"value": task_id}
    if agent_id:
        out["agent_id"] = {"value": agent_id}
    if isinstance(out.get("labels"), list):  # /master/state: a list; v1: a Labels message
        out["labels"] = {"labels": out["labels"]}
    return out


def task_v1(t, fwid):
    out = {"name": t.get("name", ""), "task_id": {"value": t["id"]},
           "framework_id": {"value": fwid}, "agent_id": {"value": t.get("slave_id", "")},
           "state": t.get("state", "TASK_STAGING"),
           "resources": resources_v1(t.get("resources")),
           "statuses": [status_v1(s, t["id"], t.get("slave_id")) for s in t.get("statuses", [])]}
    if "discovery" in t:
        out["discovery"] = copy.deepcopy(t["discovery"])
    return out


def agent_v1(a):
    host, _, port = (a.get("pid") or "").rpartition(":")
    info = {"hostname": a.get("hostname", ""), "id": {"value": a["id"]}}
    if port.isdigit():
        info["port"] = int(port)
    out = {"agent_info": info, "active": True, "version": "1.11.0"}
    if a.get("pid"):
        out["pid"] = a["pid"]
    return out


def framework_v1(f):
    info = {"user": "root", "name": f["name"], "id": {"value": f["id"]}}
    if f.get("hostname"):
        info["hostname"] = f["hostname"]
    return {"framework_info": info, "active": True, "connected": True, "recovered": False}


def subscribed(state, heartbeat):
    tasks = [task_v1(t, f["id"]) for f in state["frameworks"] for t in f.get("tasks", [])]
    ev = {"type": "SUBSCRIBED", "subscribed": {"get_state": {
        "get_tasks": {"tasks": tasks},
        "get_executors": {},
        "get_frameworks": {"frameworks": [framework_v1(f) for f in state["frameworks"]]},
        "get_agents": {"agents": [agent_v1(a) for a in state["slaves"]]}}}}
    if heartbeat:
        ev["subscribed"]["heartbeat_interval_seconds"] = heartbeat
    return ev


def summary(state):
    return {"hostname": "localhost", "cluster": "test",
            "frameworks": [{"id": f["id"], "name": f["name"], "pid": f.get("pid", ""),
                            "hostname": f.get("hostname", ""), "active": True}
                           for f in state["frameworks"]],
            "slaves": [{"id": a["id"], "pid": a.get("pid", ""), "hostname": a.get("hostname", "")}
                       for a in state["slaves"]]}


# ---- the state and its events ---------------------------------------------------------
def find_framework(state, fwid):
    for f in state["frameworks"]:
        if f["id"] == fwid:
            return f
    raise KeyError("no framework %s" % fwid)


def apply_op(state, op):
    """Change state (a /master/state document) by op; returns the event, or None."""
    kind = op["op"]
    if kind == "task_add":
        fw = find_framework(state, op["framework_id"])
        t = copy.deepcopy(op["task"])
        fw["tasks"] = [x for x in fw.get("tasks", []) if x["id"] != t["id"]] + [t]
        return {"type": "TASK_ADDED", "task_added": {"task": task_v1(t, fw["id"])}}
    if kind == "task_update":
        fw = find_framework(state, op["framework_id"])
        t = next(x for x in fw["tasks"] if x["id"] == op["task_id"])
        st = copy.deepcopy(op.get("status") or {"state": op["state"], "timestamp": time.time()})
        st.setdefault("state", op["state"])
        t["state"] = op["state"]
        t.setdefault("statuses", []).append(st)
        if op["state"] in TERMINAL:
            fw["tasks"] = [x for x in fw["tasks"] if x["id"] != t["id"]]
        return {"type": "TASK_UPDATED", "task_updated": {
            "framework_id": {"value": fw["id"]},
            "status": status_v1(st, t["id"], t.get("slave_id")), "state": op["state"]}}
    if kind == "agent_add":
        a = copy.deepcopy(op["agent"])
        state["slaves"] = [x for x in state["slaves"] if x["id"] != a["id"]] + [a]
        return {"type": "AGENT_ADDED", "agent_added": {"agent": agent_v1(a)}}
    if kind == "agent_remove":
        state["slaves"] = [x for x in state["slaves"] if x["id"] != op["id"]]
        for f in state["frameworks"]:
            f["tasks"] = [t for t in f.get("tasks", []) if t.get("slave_id") != op["id"]]
        return {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": op["id"]}}}
    if kind in ("framework_add", "framework_update"):
        f = copy.deepcopy(op["framework"])
        old = [x for x in state["frameworks"] if x["id"] == f["id"]]
        f["tasks"] = old[0].get("tasks", []) if old else f.get("tasks", [])
        state["frameworks"] = [x for x in state["frameworks"] if x["id"] != f["id"]] + [f]
        key = "framework_added" if kind == "framework_add" else "framework_updated"
        return {"type": key.upper(), key: {"framework": framework_v1(f)}}
    if kind == "framework_remove":
        f = find_framework(state, op["id"])
        state["frameworks"] = [x for x in state["frameworks"] if x["id"] != op["id"]]
        return {"type": "FRAMEWORK_REMOVED",
                "framework_removed": {"framework_info": framework_v1(f)["framework_info"]}}
    raise ValueError("unknown op %r" % kind)


def unique_task_ids(state):
    """Mesos task ids are unique within a framework, and the stream keys tasks by them;
    fixtures that repeat one (fake.json does) get ".dup" added to the later ones."""
    for fw in state.get("frameworks", []):
        seen = set()
        for t in fw.get("tasks", []):
            while t["id"] in seen:
                t["id"] += ".dup"
            seen.add(t["id"])
    return state


def recordio(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    return b"%d\n" % len(data) + data


# ---- HTTP -----------------------------------------------------------------------------
class Master:
    def __init__(self, opts, state):
        self.opts = opts
        self.state = state
        self.lock = threading.Lock()
        self.subs = []          # queues of the open streams
        self.heartbeats = True
        self.api = opts.api
        self.subscribes = 0
        self.events = 0
        self.beats = 0          # HEARTBEAT records written
        self.refused = 0        # requests refused for want of a token
        self.script = None      # on_subscribe: for the next SUBSCRIBE

    def broadcast(self, records):
        """Hand records to every open stream; wait until each wrote them."""
        with self.lock:
            subs = list(self.subs)
        done = []
        for q in subs:
            ev = threading.Event()
            done.append(ev)
            q.put(("data", b"".join(records), ev))
        sent = None
        for ev in done:
            if ev.wait(2.0):
                sent = time.monotonic()
        self.events += len(records)
        return {"sent": sent, "streams": len(done)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "libprocess"
    sys_version = ""

    def setup(self):
        super().setup()
        # Each event is a small write: without this, Nagle holds it back until the
        # client's delayed ACK of the previous one (up to 40 ms), which is no part of
        # what the tests measure.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    def _log(self):
        if self.server.opts.log:
            with self.server.log_lock, open(self.server.opts.log, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))

    def _send(self, code, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _token_ok(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("token="):
            return False
        try:
            claims = json.loads(base64.urlsafe_b64decode(auth[6:].split(".")[1] + "=="))
        except (ValueError, IndexError):
            return False
        return claims.get("uid") == self.server.opts.iam_uid and claims.get("exp", 0) > time.time()

    def _auth_ok(self):
        auth = self.server.opts.basic_auth
        if self.path.startswith("/control/"):
            return True
        if self.server.opts.iam_uid and not self._token_ok():
            self.server.master.refused += 1
            self._send(401, {"code": "ERR_INVALID_TOKEN"})
            return False
        if not auth:
            return True
        if self.headers.get("Authorization", "") == \
                "Basic " + base64.b64encode(auth.encode()).decode():
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="mesos"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _leader_doc(self):
        m = self.server.master
        with m.lock:
            doc = copy.deepcopy(m.state)
        host, port = self.server.server_address[:2]
        doc["leader"] = "master@%s:%d" % (host, port)
        return doc

    def do_GET(self):
        self._log()
        if not self._auth_ok():
            return
        path = self.path.split("?", 1)[0]
        if path in ("/master/state", "/master/state.json"):
            return self._send(200, self._leader_doc())
        if path == "/master/state-summary":
            m = self.server.master
            with m.lock:
                return self._send(200, summary(m.state))
        if path == "/control/stats":
            m = self.server.master
            with m.lock:
                return self._send(200, {"subscribes": m.subscribes, "streams": len(m.subs),
                                        "events": m.events, "heartbeats": m.beats,
                                        "refused": m.refused})
        return self._send(404, "", "text/plain")

    def do_POST(self):
        self._log()
        if not self._auth_ok():
            return
        path = self.path.split("?", 1)[0]
        body = self._body()
        if path.startswith("/control/"):
            return self._control(path[len("/control/"):], json.loads(body or b"{}"))
        if path == "/api/v1":
            return self._api(body)
        return self._send(404, "", "text/plain")

    def _api(self, body):
        m = self.server.master
        try:
            call = json.loads(body)
        except ValueError:
            return self._send(400, "Failed to parse body", "text/plain")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._send(415, "Expecting 'Content-Type' of application/json", "text/plain")
        if m.api == "404":
            return self._send(404, "", "text/plain")
        if m.api == "503":
            return self._send(503, "No leader elected", "text/plain")
        if call.get("type") != "SUBSCRIBE":
            return self._send(400, "only SUBSCRIBE here", "text/plain")
        if m.api == "hang":
            time.sleep(3600)
            return None
        q = queue.Queue()
        with m.lock:
            m.subscribes += 1
            first = recordio(subscribed(m.state, self.server.opts.heartbeat))
            if m.api == "nostate":
                first = recordio({"type": "SUBSCRIBED", "subscribed": {
                    "heartbeat_interval_seconds": self.server.opts.heartbeat}})
            script, m.script = m.script, None
            m.subs.append(q)
        if script:
            first += b"".join(recordio(e) for e in script.get("events", []))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        hb = recordio({"type": "HEARTBEAT"})
        try:
            self._chunk(first)
            if script:
                time.sleep(script.get("delay", 0))
                later = b"".join(recordio(e) for e in script.get("later", []))
                if later:
                    self._chunk(later)
                m.api = script.get("api", m.api)
            while True:
                try:
                    kind, data, ev = q.get(timeout=self.server.opts.heartbeat or None)
                except queue.Empty:
                    if m.heartbeats:
                        self._chunk(hb)
                        with m.lock:
                            m.beats += 1
                    continue
                if kind == "cut":
                    break
                self._chunk(data)
                ev.set()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        finally:
            with m.lock:
                if q in m.subs:
                    m.subs.remove(q)
        self.close_connection = True
        return None

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def _control(self, op, args):
        m = self.server.master
        if op == "heartbeats":
            m.heartbeats = bool(args.get("on", True))
            return self._send(200, {"heartbeats": m.heartbeats})
        if op == "api":
            m.api = args.get("mode", "ok")
            return self._send(200, {"api": m.api})
        if op == "cut":
            with m.lock:
                subs = list(m.subs)
                m.subs = []
            for q in subs:
                q.put(("cut", b"", None))
            return self._send(200, {"cut": len(subs)})
        if op == "on_subscribe":
            with m.lock:
                m.script = args
            return self._send(200, {"armed": True})
        if op == "raw":
            return self._send(200, m.broadcast([recordio(e) for e in args.get("events", [])]))
        ops = args.get("ops", []) if op == "batch" else [dict(args, op=op)]
        records = []
        try:
            with m.lock:
                for o in ops:
                    ev = apply_op(m.state, o)
                    if ev is not None:
                        records.append(recordio(ev))
        except (KeyError, ValueError, StopIteration) as e:
            return self._send(400, {"error": str(e)})
        return self._send(200, m.broadcast(records))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True, help="/master/state document to start from")
    ap.add_argument("--heartbeat", type=float, default=15.0,
                    help="heartbeat_interval_seconds (0: no heartbeats, like Mesos 1.1)")
    ap.add_argument("--api", default="ok", choices=("ok", "404", "503", "hang", "nostate"))
    ap.add_argument("--ready-file")
    ap.add_argument("--log")
    ap.add_argument("--basic-auth", metavar="USER:PASS")
    ap.add_argument("--iam-uid", help="require a token of this uid (see above)")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    opts = ap.parse_args()
    with open(opts.state) as f:
        state = json.load(f)
    state.setdefault("slaves", [])
    state.setdefault("frameworks", [])
    unique_task_ids(state)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((opts.host, opts.port), Handler)
    srv.opts = opts
    srv.log_lock = threading.Lock()
    srv.master = Master(opts, state)
    if opts.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return serve(srv, opts.ready_file)


if __name__ == "__main__":
    sys.exit(main())
