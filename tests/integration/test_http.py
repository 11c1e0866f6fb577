#!/usr/bin/env python3
"""tests/integration/test_http.py -- the HTTP API of the real daemon (behaviour.md §5).

The daemon fetches fake.json from a local fake master (refreshSeconds 1) with httpon true on
a free port.  Every mesos-dns endpoint is compared with values written from the spec and the
fixture's known facts (nginx.marathon.mesos -> 10.3.0.3, the liquor-store services, the
golden zone for /v1/axfr); /metrics passes `promtool check metrics` and its counters move by
exactly the queries sent; /health flips to 503 when the master goes away for more than
3 x refreshSeconds and back to 200 when it returns; bad requests (other methods, long URLs,
unknown paths, traversal, NUL, non-UTF-8) get a 4xx and never hurt the daemon; the
connection cap holds new connections back until one closes; a taken httpport is a clear
startup error.  Waits poll /health or the log, never fixed sleeps.
"""
import http.client
import json
import os
import re
import select
import socket
import subprocess
import sys
import time

from harness import (DATA, ROOT, Daemon, FakeMaster, Tap, build_dir, dig, free_port,
                     load_zone_file, wait_for)

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
GOLDEN = load_zone_file(os.path.join(DATA, "golden", "fake.default.zone"))
t = Tap()


# ---- HTTP helpers --------------------------------------------------------------
def request(port, path, method="GET", headers=None, timeout=5):
    """(status, headers dict with lower-case names, body bytes); the path is sent as is."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", "127.0.0.1")
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def raw_request(port, data, timeout=5):
    """Send raw bytes; return the status code of the reply (None when there is none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
        return int(m.group(1)) if m else None
    except (socket.timeout, ConnectionError):
        return None
    finally:
        s.close()


def get_json(port, path):
    status, hdrs, body = request(port, path)
    try:
        doc = json.loads(body, object_pairs_hook=lambda pairs: pairs)
    except ValueError:
        doc = None
    return status, hdrs, doc


def plain(doc):
    """object_pairs_hook lists -> dicts (recursively), keeping key order visible elsewhere."""
    if isinstance(doc, list) and doc and all(isinstance(p, tuple) and len(p) == 2 for p in doc):
        return {k: plain(v) for k, v in doc}
    if isinstance(doc, list):
        return [plain(x) for x in doc]
    return doc


def keys(obj):
    return [k for k, _ in obj]


def health(port):
    try:
        status, _, doc = get_json(port, "/health")
        return status, plain(doc)
    except OSError:
        return None, None


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def metrics(port):
    """{(name, frozenset of label pairs): value} of a /metrics scrape, and the text."""
    _, _, body = request(port, "/metrics")
    text = body.decode()
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out, text


def metric(ms, name, **labels):
    return ms.get((name, frozenset(labels.items())), 0.0)


# ---- the daemon ----------------------------------------------------------------
fm = FakeMaster(FAKE)
HTTP = free_port()
d = Daemon(BUILD, {"masters": [fm.hostport], "refreshSeconds": 1, "httpon": True,
                   "HTTPListener": "127.0.0.1", "httpport": HTTP,
                   "mesosAuthentication": "basic",
                   "mesosCredentials": {"principal": "dns", "secret": "s3cr3t-value"}})
t.ok(d.wait_loaded(), "the daemon loaded fake.json from the fake master", d.logtext())
t.ok(d.wait_log(r"http: serving on 127\.0\.0\.1 port %d" % HTTP), "HTTP API listening",
     d.logtext())

# -- /v1/version
version = subprocess.run([os.path.join(BUILD, "bin", "mesos-dnsd"), "-version"],
                         stdout=subprocess.PIPE, text=True).stdout.split()[-1]
status, hdrs, doc = get_json(HTTP, "/v1/version")
t.eq(status, 200, "/v1/version: 200")
t.ok(hdrs.get("content-type", "").startswith("application/json"), "/v1/version: JSON type",
     hdrs)
t.eq(keys(doc or []), ["Service", "URL", "Version"], "/v1/version: mesos-dns's keys in order")
t.eq(plain(doc)["Service"], "mesos-dnsd", "/v1/version: Service")
t.eq(plain(doc)["Version"], version, "/v1/version: the version -version prints")
t.ok(plain(doc)["URL"].startswith("https://"), "/v1/version: a project URL", doc)

# -- /v1/config
status, _, body = request(HTTP, "/v1/config")
cfg = json.loads(body)
t.eq(status, 200, "/v1/config: 200")
t.eq((cfg.get("domain"), cfg.get("refreshSeconds"), cfg.get("httpport"), cfg.get("masters")),
     ("mesos", 1, HTTP, [fm.hostport]), "/v1/config: the effective values")
t.eq(cfg.get("mesosCredentials"), {"principal": "dns", "secret": "<redacted>"},
     "/v1/config: the secret is redacted")
t.ok(b"s3cr3t-value" not in body, "/v1/config: the secret appears nowhere")
t.eq(cfg.get("ttl"), 60, "/v1/config: defaults are shown too")

# -- /v1/hosts/{host}
NGINX = [{"host": "nginx.marathon.mesos.", "ip": "10.3.0.3"}]
for name in ("nginx.marathon.mesos", "nginx.marathon.mesos.", "NGINX.Marathon.MESOS",
             "Nginx.marathon.mesos."):
    status, _, doc = get_json(HTTP, "/v1/hosts/" + name)
    t.eq((status, plain(doc)), (200, NGINX), "/v1/hosts/%s" % name)
status, _, doc = get_json(HTTP, "/v1/hosts/nginx.marathon.mesos")
t.eq(keys(doc[0]), ["host", "ip"], "/v1/hosts: keys host, ip")
status, _, doc = get_json(HTTP, "/v1/hosts/toy-store.ipv6-framework.mesos")
t.eq(plain(doc), [{"host": "toy-store.ipv6-framework.mesos.", "ip": "12.0.1.2"},
                  {"host": "toy-store.ipv6-framework.mesos.", "ip": "12.0.1.3"},
                  {"host": "toy-store.ipv6-framework.mesos.", "ip": "fd01:b::1:8000:2"}],
     "/v1/hosts: A records, then AAAA")
for name in ("nope.marathon.mesos", "marathon.slave.mesos", "example.com"):
    status, _, doc = get_json(HTTP, "/v1/hosts/" + name)
    t.eq((status, plain(doc)), (200, [{"host": "", "ip": ""}]),
         "/v1/hosts/%s: unknown -> one object of empty strings (compat)" % name)

# -- /v1/services/{service}
LIQUOR = {("liquor-store-4dfjd-0.marathon.mesos.", "1.2.3.11", "80"),
          ("liquor-store-4dfjd-0.marathon.mesos.", "1.2.3.11", "443"),
          ("liquor-store-zasmd-1.marathon.mesos.", "1.2.3.12", "80"),
          ("liquor-store-zasmd-1.marathon.mesos.", "1.2.3.12", "443")}
for name in ("_liquor-store._tcp.marathon.mesos", "_Liquor-Store._TCP.marathon.mesos."):
    status, _, doc = get_json(HTTP, "/v1/services/" + name)
    got = plain(doc)
    t.eq(status, 200, "/v1/services/%s: 200" % name)
    t.eq(sorted((e["host"], e["ip"], e["port"]) for e in got), sorted(LIQUOR),
         "/v1/services/%s: every target and port with its address" % name)
    t.ok(all(e["service"] == name for e in got), "/v1/services: service is echoed as asked",
         got)
t.eq(keys(doc[0]), ["service", "host", "ip", "port"], "/v1/services: keys in mesos-dns order")
status, _, doc = get_json(HTTP, "/v1/services/_car-store._udp.marathon.slave.mesos")
t.eq(sorted((e["host"], e["ip"], e["port"]) for e in plain(doc)),
     [("car-store-zinaz-0.marathon.slave.mesos.", "1.2.3.11", "31364"),
      ("car-store-zinaz-0.marathon.slave.mesos.", "1.2.3.11", "31365")],
     "/v1/services: agent-side SRV records")
status, _, doc = get_json(HTTP, "/v1/services/_nope._tcp.marathon.mesos")
t.eq((status, plain(doc)), (200, [{"service": "", "host": "", "ip": "", "port": ""}]),
     "/v1/services: unknown -> one object of empty strings (compat)")

# -- /v1/hosts/{host}/ports (expected: the golden zone's SRV records targeting the host)
target = "car-store-zinaz-0.marathon.slave.mesos."
want = sorted((target, "1.2.3.11", data.split()[2], owner)
              for (owner, rtype), rrs in GOLDEN.items() if rtype == "SRV"
              for _, data in rrs if data.split()[3] == target)
status, _, doc = get_json(HTTP, "/v1/hosts/CAR-STORE-zinaz-0.marathon.slave.mesos/ports")
t.eq(status, 200, "/v1/hosts/{host}/ports: 200 (mesos-dns: 501)")
t.eq(sorted((e["host"], e["ip"], e["port"], e["service"]) for e in plain(doc)), want,
     "/v1/hosts/{host}/ports: every SRV record that targets the host (%d)" % len(want))
t.ok(len(want) == 8, "the golden zone has 8 SRV records for car-store", want)
t.eq(keys(doc[0]), ["host", "ip", "port", "service"], "/v1/hosts/{host}/ports: keys")
status, _, doc = get_json(HTTP, "/v1/hosts/nginx.marathon.mesos/ports")
t.eq(plain(doc), [{"host": "", "ip": "", "port": "", "service": ""}],
     "/v1/hosts/{host}/ports: a host without SRV records -> one object of empty strings")

# -- /v1/axfr (expected: the golden zone, with leader/master from the fake master)
status, _, doc = get_json(HTTP, "/v1/axfr")
axfr = plain(doc)
t.eq(status, 200, "/v1/axfr: 200")
t.eq(keys(doc), ["TTL", "Serial", "RefreshSeconds", "Mname", "Rname", "Domain", "Records"],
     "/v1/axfr: mesos-dns's keys in order")
t.eq((axfr["TTL"], axfr["RefreshSeconds"], axfr["Mname"], axfr["Rname"], axfr["Domain"]),
     (60, 1, "ns1.mesos.", "root.ns1.mesos.", "mesos"), "/v1/axfr: zone parameters")
soa = dig(d.port, "mesos", "SOA").data()
t.ok(soa and int(soa[0].split()[2]) == axfr["Serial"], "/v1/axfr: Serial is the SOA serial",
     (soa, axfr["Serial"]))
t.eq(list(axfr["Records"]), ["As", "AAAAs", "SRVs"], "/v1/axfr: record maps")
MOVED = {"leader.mesos.", "master.mesos.", "master0.mesos.", "_leader._tcp.mesos.",
         "_leader._udp.mesos."}


def golden_map(rtype, fmt):
    return {owner: sorted(fmt(data) for _, data in rrs)
            for (owner, rt), rrs in GOLDEN.items() if rt == rtype and owner not in MOVED}


def srv_fmt(data):
    _, _, port, tgt = data.split()
    return "%s:%s" % (tgt, port)


for key, rtype, fmt in (("As", "A", str), ("AAAAs", "AAAA", str), ("SRVs", "SRV", srv_fmt)):
    got = {k: sorted(v) for k, v in axfr["Records"][key].items() if k not in MOVED}
    t.eq(got, golden_map(rtype, fmt), "/v1/axfr: %s equal the golden zone's %s records"
         % (key, rtype))
t.eq(axfr["Records"]["As"].get("leader.mesos."), ["127.0.0.1"], "/v1/axfr: leader.mesos")
t.eq(axfr["Records"]["SRVs"].get("_leader._tcp.mesos."), ["leader.mesos.:%d" % fm.port],
     "/v1/axfr: SRV data is target.:port")

# -- /v1/enumerate
status, _, doc = get_json(HTTP, "/v1/enumerate")
t.eq(status, 200, "/v1/enumerate: 200")
t.eq(keys(doc), ["frameworks"], "/v1/enumerate: {frameworks}")
fws = doc[0][1]
t.ok(fws and all(keys(f) == ["tasks", "name"] for f in fws),
     "/v1/enumerate: framework objects are {tasks, name} as mesos-dns writes them")
with open(FAKE) as f:
    state = json.load(f)
t.eq([plain(f)["name"] for f in fws], [f["name"] for f in state["frameworks"]],
     "/v1/enumerate: every framework of the state, in order, named as the state names it")
agents = {a["id"] for a in state["slaves"]}
want_tasks = [(task["name"], task["id"]) for fw in state["frameworks"] for task in fw["tasks"]
              if task["state"] == "TASK_RUNNING" and task["slave_id"] in agents]
got_tasks = [(plain(tk)["name"], plain(tk)["id"]) for f in fws for tk in plain(f)["tasks"]]
t.eq(got_tasks, want_tasks, "/v1/enumerate: the running tasks on known agents (%d)"
     % len(want_tasks))
t.ok(all(keys(tk) == ["name", "id", "records"] for f in fws for tk in f[0][1]),
     "/v1/enumerate: task objects are {name, id, records}")
nginx = [plain(tk) for f in fws for tk in f[0][1] if plain(tk)["name"] == "nginx"]
t.eq(sorted((r["name"], r["host"], r["rtype"]) for r in nginx[0]["records"]) if nginx else None,
     [("nginx-6ud99-0.marathon.mesos.", "10.3.0.3", "A"),
      ("nginx-6ud99-0.marathon.slave.mesos.", "1.2.3.11", "A"),
      ("nginx.marathon.mesos.", "10.3.0.3", "A"),
      ("nginx.marathon.slave.mesos.", "1.2.3.11", "A")],
     "/v1/enumerate: the nginx task's records")
recs = [plain(r) for f in fws for tk in f[0][1] for r in plain(tk)["records"]]
maps = {"A": axfr["Records"]["As"], "AAAA": axfr["Records"]["AAAAs"],
        "SRV": axfr["Records"]["SRVs"]}
t.ok(recs and all(r["host"] in maps[r["rtype"]].get(r["name"], []) for r in recs),
     "/v1/enumerate: every record listed is in the zone (%d)" % len(recs),
     [r for r in recs if r["host"] not in maps[r["rtype"]].get(r["name"], [])][:5])
t.ok(any(r["rtype"] == "SRV" and re.match(r"^[a-z0-9.-]+\.:\d+$", r["host"]) for r in recs),
     "/v1/enumerate: SRV hosts are target.:port")

# -- /health and /ready
st, h = health(HTTP)
t.eq((st, h and h["status"]), (200, "ok"), "/health: 200 ok with a fresh zone")
t.eq((h or {}).get("serial"), axfr["Serial"], "/health: names the serial")
status, _, doc = get_json(HTTP, "/ready")
t.eq((status, plain(doc)), (200, {"ready": True}), "/ready: 200 once DNS is served")

# ---- /metrics ---------------------------------------------------------------------
status, hdrs, body = request(HTTP, "/metrics")
t.eq(status, 200, "/metrics: 200")
t.ok(hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
     "/metrics: text format 0.0.4", hdrs)
p = subprocess.run(["promtool", "check", "metrics"], input=body, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
t.ok(p.returncode == 0 and not p.stdout.strip(), "promtool check metrics: no problem",
     p.stdout.decode(errors="replace"))
names = set(re.findall(r"^# TYPE (\S+) ", body.decode(), re.M))
for n in ("mesosdns_dns_requests_total", "mesosdns_dns_request_duration_seconds",
          "mesosdns_dns_response_size_bytes", "mesosdns_dns_truncated_responses_total",
          "mesosdns_dns_cache_lookups_total", "mesosdns_dns_cache_bytes",
          "mesosdns_state_fetches_total", "mesosdns_state_fetch_duration_seconds",
          "mesosdns_state_fetch_size_bytes", "mesosdns_zone_build_duration_seconds",
          "mesosdns_zone_builds_skipped_total",
          "mesosdns_zone_records", "mesosdns_zone_serial",
          "mesosdns_last_successful_refresh_age_seconds", "mesosdns_leader_changes_total",
          "mesosdns_build_info"):
    t.ok(n in names, "/metrics: has %s" % n)
t.ok(all(n.startswith("mesosdns_") for n in names), "/metrics: every name has the prefix")

m0, _ = metrics(HTTP)
UDP_A = dict(transport="udp", qtype="A", rcode="NOERROR", source="authoritative")
TCP_SRV = dict(transport="tcp", qtype="SRV", rcode="NOERROR", source="authoritative")
NX = dict(transport="udp", qtype="A", rcode="NXDOMAIN", source="authoritative")
N = 12
# One dig each, so that every reply is seen (a batch's replies to one name
# fold into one result): a CI run once counted 11 of 12 with no way to tell
# whether all 12 had been answered.
rcodes = [dig(d.port, "nginx.marathon.mesos", "A").rcode for _ in range(N)]
t.eq(rcodes, ["NOERROR"] * N, "%d UDP A queries, each answered NOERROR" % N)
for _ in range(3):
    dig(d.port, "_liquor-store._tcp.marathon.mesos", "SRV", tcp=True)
dig(d.port, "nope.marathon.mesos", "A")
m1, _ = metrics(HTTP)
t.eq(metric(m1, "mesosdns_dns_requests_total", **UDP_A) -
     metric(m0, "mesosdns_dns_requests_total", **UDP_A), N,
     "the UDP A NOERROR counter rose by exactly %d" % N)
t.eq(metric(m1, "mesosdns_dns_requests_total", **TCP_SRV) -
     metric(m0, "mesosdns_dns_requests_total", **TCP_SRV), 3, "TCP SRV counter rose by 3")
t.eq(metric(m1, "mesosdns_dns_requests_total", **NX) -
     metric(m0, "mesosdns_dns_requests_total", **NX), 1, "NXDOMAIN counter rose by 1")
# The 12 UDP A queries and the NXDOMAIN went through the UDP threads' reply
# caches: per worker, the first time uncached, the second added (a miss),
# then hits.
looked = {r: metric(m1, "mesosdns_dns_cache_lookups_total", result=r) -
          metric(m0, "mesosdns_dns_cache_lookups_total", result=r)
          for r in ("hit", "miss", "uncached")}
workers = metric(m1, "mesosdns_dns_workers")
t.ok(sum(looked.values()) == N + 1 and 1 <= looked["uncached"] <= workers + 1 and
     looked["hit"] >= N - 2 * workers, "reply cache: %d hits, %d misses, %d uncached for %d UDP "
     "queries" % (looked["hit"], looked["miss"], looked["uncached"], N + 1), looked)
t.ok(metric(m1, "mesosdns_dns_cache_bytes") > 0 and
     metric(m1, "mesosdns_dns_cache_flushes_total") >= 1, "reply cache: bytes held, flushed once loaded")
t.eq(metric(m1, "mesosdns_dns_request_duration_seconds_count", transport="udp") -
     metric(m0, "mesosdns_dns_request_duration_seconds_count", transport="udp"), N + 1,
     "every UDP query was timed")
t.eq(metric(m1, "mesosdns_dns_response_size_bytes_count", transport="tcp") -
     metric(m0, "mesosdns_dns_response_size_bytes_count", transport="tcp"), 3,
     "every TCP reply was sized")
t.eq(metric(m1, "mesosdns_zone_records", type="A"), sum(map(len, axfr["Records"]["As"].values())),
     "zone_records{type=A} counts the zone's A records")
t.eq(metric(m1, "mesosdns_zone_serial"), axfr["Serial"], "zone_serial is the SOA serial")
t.eq(metric(m1, "mesosdns_build_info", version=version), 1, "build_info carries the version")
t.ok(metric(m1, "mesosdns_state_fetches_total", result="success", reason="none") >= 1 and
     metric(m1, "mesosdns_state_fetch_size_bytes_count") >= 1,
     "state fetches counted and sized")
t.ok(0 <= metric(m1, "mesosdns_last_successful_refresh_age_seconds") <= 3,
     "seconds since the last successful refresh is small")

# ---- bad requests ---------------------------------------------------------------------
for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    status, hdrs, body = request(HTTP, "/v1/version", method=method)
    t.ok(status == 405 and hdrs.get("allow") == "GET, HEAD" and json.loads(body)["status"] == 405,
         "%s -> 405 with Allow: GET, HEAD and a JSON body" % method, (status, hdrs, body))
status, _, body = request(HTTP, "/v1/hosts/" + "a" * 10240)
t.eq(status, 414, "a 10 KB URL -> 414")
status, hdrs, body = request(HTTP, "/v1/nothing-here")
t.ok(status == 404 and hdrs.get("content-type", "").startswith("application/json") and
     json.loads(body) == {"error": "no such path", "status": 404},
     "unknown path -> 404 with a JSON body", (status, body))
for path in ("/v1/hosts/../../etc/passwd", "/v1/hosts/%2e%2e", "/v1/hosts/%2e%2e%2f%2e%2e%2fetc",
             "/v1/services/..%2F..%2Fetc%2Fpasswd", "/v1/hosts/a%00b", "/v1/hosts/%zz",
             "/v1/hosts/%ff%fe.mesos", "/../../etc/passwd", "/v1/hosts/a..b", "//v1/version"):
    status, hdrs, body = request(HTTP, path)
    t.ok(400 <= status < 500 and b"root:" not in body,
         "%s -> %d (a 4xx, nothing served from disk)" % (path, status), body[:200])
for raw in (b"GET /v1/hosts/\xff\xfe\x80.mesos HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v1/hosts/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v1/version HTTP/1.1\r\nX-Big: " + b"x" * 40000 + b"\r\n\r\n",
            b"BREW /v1/version HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v1/version HTTP/9.9\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64):
    status = raw_request(HTTP, raw)
    t.ok(status is None or 400 <= status < 600 and status != 500,
         "raw %r... -> %s, no crash" % (raw[:30], status))
status, hdrs, body = request(HTTP, "/v1/version", method="HEAD")
_, ghdrs, gbody = request(HTTP, "/v1/version")
t.ok(status == 200 and body == b"" and hdrs.get("content-length") == str(len(gbody)),
     "HEAD: 200, no body, the GET's Content-Length", (status, hdrs, body))
status, _, body = request(HTTP, "/metrics", method="HEAD")
t.ok(status == 200 and body == b"", "HEAD /metrics: no body")
st, h = health(HTTP)
t.ok(d.proc.poll() is None and st == 200, "the daemon is alive and healthy after bad requests")

# ---- connection cap (128): the 129th waits until one closes ---------------------------
idle = [socket.create_connection(("127.0.0.1", HTTP), timeout=5) for _ in range(127)]
ms, _ = metrics(HTTP)
t.eq(metric(ms, "mesosdns_http_connections"), 128, "127 idle connections + the scrape's = 128")
idle.append(socket.create_connection(("127.0.0.1", HTTP), timeout=5))
t.ok(wait_for(lambda: d.logtext().count("not accepting more") >= 1, 5),
     "at the cap the listener pauses (logged)")
late = socket.create_connection(("127.0.0.1", HTTP), timeout=5)
late.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
late.settimeout(1.0)
try:
    early = late.recv(100)
except socket.timeout:
    early = None
t.eq(early, None, "a connection beyond the cap is not served while the cap holds")
for s in idle[:10]:
    s.close()
late.settimeout(5)
t.ok(late.recv(100).startswith(b"HTTP/1.1 200"), "it is served once connections close")
late.close()
for s in idle[10:]:
    s.close()
t.ok(wait_for(lambda: metric(metrics(HTTP)[0], "mesosdns_http_connections") == 1, 5),
     "every closed connection is uncounted (only the scrape's is open)")

# ---- /health flips with the master ------------------------------------------------------
port = fm.port
fm.cleanup()
t.ok(wait_for(lambda: health(HTTP)[0] == 503, 10), "master gone: /health turns 503")
t_flip = time.time()
st, h = health(HTTP)
# Stale once over 3 x refreshSeconds (3 s) have passed since the last success, in
# whole seconds as the daemon counts them (time(NULL)): not before last + 4.  Timed
# from the master's end instead, this flipped as early as 2 s after it (the last
# poll had come up to a second before).
last = metric(metrics(HTTP)[0], "mesosdns_last_successful_refresh_timestamp_seconds")
t.ok(last > 0 and t_flip >= last + 3.99,
     "not before 3 x refreshSeconds after the last success (%.1f s)" % (t_flip - last))
t.ok(h and h["status"] == "unavailable" and "stale" in h.get("reason", ""),
     "/health: the reason says the zone is stale", h)
t.ok(h and "127.0.0.1:%d" % port in h.get("reason", ""), "/health: it names the last error", h)
t.eq(dig(d.port, "nginx.marathon.mesos").data(), ["10.3.0.3"],
     "the previous zone is still served while unhealthy")
ms, _ = metrics(HTTP)
t.ok(metric(ms, "mesosdns_state_fetches_total", result="failure", reason="connect") >= 1,
     "failed fetches are counted with reason connect")
fm = FakeMaster(FAKE, port=port)
t.ok(wait_for(lambda: health(HTTP)[0] == 200, 10), "master back: /health returns to 200",
     health(HTTP))
d.stop()

# ---- EnumerationOn false, no state yet ----------------------------------------------------
HTTP2 = free_port()
d2 = Daemon(BUILD, {"masters": ["127.0.0.1:%d" % free_port()], "refreshSeconds": 1,
                    "httpon": True, "HTTPListener": "127.0.0.1", "httpport": HTTP2,
                    "EnumerationOn": False})
t.ok(d2.wait_log(r"http: serving on"), "second daemon up", d2.logtext())
t.ok(wait_for(lambda: health(HTTP2)[0] == 503, 5), "no state yet: /health 503")
st, h = health(HTTP2)
t.ok(h and "no zone loaded" in h.get("reason", "") and h["zone_loaded"] is False,
     "/health: the reason says no zone is loaded", h)
status, _, doc = get_json(HTTP2, "/ready")
t.eq(status, 200, "/ready is 200 once DNS is served, zone or not")
for path in ("/v1/enumerate", "/v1/axfr"):
    status, _, doc = get_json(HTTP2, path)
    t.ok(status == 404 and "EnumerationOn" in plain(doc)["error"],
         "%s -> 404 without EnumerationOn" % path, doc)
status, _, doc = get_json(HTTP2, "/v1/hosts/nginx.marathon.mesos")
t.eq(plain(doc), [{"host": "", "ip": ""}], "no zone yet: hosts answers the unknown shape")
d2.stop()

# ---- ZooKeeper without a leader past zkDetectionTimeout --------------------------------
# Nothing listens at the zk address, so no leader is ever seen; the masters list still
# feeds a fresh zone, and /health must say the ZooKeeper side is degraded.
HTTP4 = free_port()
d4 = Daemon(BUILD, {"zk": "zk://127.0.0.1:%d/mesos" % free_port(), "zkDetectionTimeout": 1,
                    "masters": [fm.hostport], "refreshSeconds": 1, "httpon": True,
                    "HTTPListener": "127.0.0.1", "httpport": HTTP4})
t.ok(d4.wait_loaded(), "zk daemon: zone loaded from the masters list", d4.logtext())
t.ok(wait_for(lambda: health(HTTP4)[0] == 503, 10), "zk never names a leader: /health 503")
st, h = health(HTTP4)
t.ok(h and "ZooKeeper" in h.get("reason", "") and h["zone_loaded"] is True,
     "/health: the reason names ZooKeeper while the zone is fresh", h)
t.ok(h and h.get("zookeeper", {}).get("connected") is False, "/health: zookeeper.connected false",
     h)
ms, _ = metrics(HTTP4)
t.ok(("mesosdns_zookeeper_connected", frozenset()) in ms and
     metric(ms, "mesosdns_zookeeper_connected") == 0, "/metrics: zookeeper_connected 0")
d4.stop()

# ---- a client that sends without reading a big reply ----------------------------------------
# While a reply is written, evhttp goes on reading with no request parsed, so its header
# and body limits do not apply: the input waiting must be bounded some other way.  2,000
# tasks make /v1/enumerate a few MB, more than the sockets' buffers hold.
gen = os.path.join(fm.dir, "gen")
subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_state.py"), "--tasks", "2000",
                "--queries", "100", gen], check=True, stdout=subprocess.DEVNULL)
HTTP5 = free_port()
d5 = Daemon(BUILD, {"stateFile": os.path.join(gen, "state-2000.json"), "httpon": True,
                    "HTTPListener": "127.0.0.1", "httpport": HTTP5, "workers": 1})
t.ok(d5.wait_loaded() and d5.wait_log(r"http: serving on"), "flood: the daemon is up",
     d5.logtext())


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS"))


rss0 = rss_mb(d5.proc.pid)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", HTTP5))
s.sendall(b"GET /v1/enumerate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
time.sleep(0.3)     # the reply is being written, and waits for this client to read
s.setblocking(False)
junk, pushed, end = b"x" * 65536, 0, time.time() + 2
while time.time() < end:
    try:
        pushed += s.send(junk)
    except BlockingIOError:
        time.sleep(0.005)
grown = rss_mb(d5.proc.pid) - rss0
t.ok(pushed < 32 << 20, "flood: the daemon stops reading (%d MB taken in 2 s)" % (pushed >> 20))
t.ok(grown < 128, "flood: its memory grew by %d MB (unbounded: ~1 GB)" % grown)
s.close()
t.ok(wait_for(lambda: request(HTTP5, "/health")[0] == 200, 5), "flood: /health answers after")

# ---- request heads trickled a byte a second ----------------------------------------------------
# libevent's timeouts restart with every byte; a request is due whole within 10 s of the last
# reply (or of the accept).  Meanwhile a keep-alive client asking every 4 s keeps its connection
# past those 10 s.
trickle = []
for i in range(3):
    c = socket.create_connection(("127.0.0.1", HTTP5), timeout=5)
    c.sendall(b"GET /v1/version HTTP/1.1\r\nX-Slow: ")
    trickle.append(c)
keep = http.client.HTTPConnection("127.0.0.1", HTTP5, timeout=5)
kept, kept_name, t0, closed, asked = 0, None, time.time(), {}, -4
while (len(closed) < len(trickle) or kept < 4) and time.time() - t0 < 20:
    for i, c in enumerate(trickle):
        if i in closed:
            continue
        try:
            c.sendall(b"x")
            r, _, _ = select.select([c], [], [], 0)
            if r and c.recv(100) == b"":
                closed[i] = time.time() - t0
        except OSError:
            closed[i] = time.time() - t0
    if time.time() - asked >= 4 and kept < 4:
        asked = time.time()
        try:
            keep.request("GET", "/v1/version")
            r = keep.getresponse()
            r.read()
            name = keep.sock.getsockname() if keep.sock else None
            kept += r.status == 200 and name is not None and (kept == 0 or name == kept_name)
            kept_name = name
        except (OSError, http.client.HTTPException):
            kept = 99   # the connection was closed under it
    time.sleep(1)
last = max(closed.values()) if len(closed) == len(trickle) else None
t.ok(last is not None and last <= 14,
     "trickle: three connections trickling a head are closed (%s)" %
     ("the last after %.1f s" % last if last is not None else "%d of 3 in 20 s" % len(closed)))
t.eq(kept, 4, "trickle: a keep-alive client asking every 4 s for 12 s is answered on one "
     "connection")
keep.close()
for c in trickle:
    c.close()
t.eq(d5.stop(), 0, "flood: exits 0 on SIGTERM")

# ---- a taken httpport is a startup error -----------------------------------------------------
blocker = socket.socket()
blocker.bind(("127.0.0.1", 0))
blocker.listen(1)
busy = blocker.getsockname()[1]
d3 = Daemon(BUILD, {"stateFile": FAKE, "httpon": True, "HTTPListener": "127.0.0.1",
                    "httpport": busy})
try:
    rc = d3.proc.wait(10)
except subprocess.TimeoutExpired:
    rc = None
t.eq(rc, 1, "httpport in use: exit status 1")
t.ok(re.search(r"http: cannot bind TCP 127\.0\.0\.1 port %d .*in use" % busy, d3.logtext()),
     "httpport in use: one line naming the address", d3.logtext())
blocker.close()
d3.stop()
fm.cleanup()
t.done()
