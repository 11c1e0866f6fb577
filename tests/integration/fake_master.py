#!/usr/bin/env python3
# tests/integration/fake_master.py -- a Mesos master stand-in serving a state file over HTTP.
"""Serve GET /master/state and /master/state.json from a JSON file, like a Mesos master.

The file is re-read on every request, so a test changes the state by rewriting it.
Its content selects special answers: "HTTP500" -> 500, "HANG" -> no answer for 1000 s,
"HUGE" -> a 300 MB body streamed in chunks (never held in memory or on disk),
"BIG <MiB>" on the first line and a state after it -> that state grown to <MiB> MiB
with finished copies of its frameworks in "completed_frameworks" (what a master with
a long history serves; the records do not change), streamed in chunks.

  fake_master.py --port P --state FILE [--leader-rewrite | --leader PID] [--only-state-json]
                 [--ready-file F] [--log F] [--host|--bind 127.0.0.1] [--basic-auth USER:PASS]
                 [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
                 [--iam-public-key PEM --iam-uid UID [--iam-token-ttl S]]

With --iam-public-key the master also plays the DC/OS IAM login endpoint:
POST /acs/api/v1/auth/login {"uid","token"} is answered 200 {"token": T} when the
token is an RS256 JWT of --iam-uid, not expired, whose signature the openssl CLI
verifies with the public key; else 401.  T is a JWT-shaped token with "exp" set
--iam-token-ttl seconds ahead (default 3600), and state requests must then carry
"Authorization: token=T" (a token this process issued and not expired) or get 401.

--port 0 picks a free port; the port actually bound is written to --ready-file
(atomically) once the server listens.  --log appends one line per request:
"<method> <path>\t<user-agent>\t<accept-encoding>".

The "leader" field of a served JSON object that has one is replaced by
"master@<bound address>:<bound port>" with --leader-rewrite, or by PID with
--leader; without either (or when the state has no "leader") it is served as is.
"""
import argparse
import base64
import gzip
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE_PATHS = ("/master/state", "/master/state.json")
LOGIN_PATH = "/acs/api/v1/auth/login"
HUGE_BYTES = 300 * 1024 * 1024


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(jwt, pubkey):
    """Check an RS256 JWT's signature with the openssl CLI; returns its claims or None."""
    try:
        h64, c64, s64 = jwt.split(".")
        header = json.loads(b64url_decode(h64))
        claims = json.loads(b64url_decode(c64))
        sig = b64url_decode(s64)
    except (ValueError, TypeError):
        return None
    if header.get("alg") != "RS256":
        return None
    with tempfile.NamedTemporaryFile(prefix="jwt-sig-") as f:
        f.write(sig)
        f.flush()
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pubkey, "-signature", f.name],
                           input=("%s.%s" % (h64, c64)).encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    return claims if p.returncode == 0 and b"Verified OK" in p.stdout else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like libprocess
    server_version = "libprocess"  # what Mesos sends; tests need not care
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: tests read --log instead
        pass

    def _log(self):
        opts = self.server.opts
        if not opts.log:
            return
        line = "%s %s\t%s\t%s\n" % (self.command, self.path,
                                     self.headers.get("User-Agent", ""),
                                     self.headers.get("Accept-Encoding", ""))
        with self.server.log_lock, open(opts.log, "a") as f:
            f.write(line)

    def _send(self, code, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        gz = "gzip" in self.headers.get("Accept-Encoding", "")
        if gz:
            body = gzip.compress(body)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _chunked(self, parts):
        """A 200 with a chunked body made of parts (bytes, produced as it goes)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for part in parts:
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up, as it should
        self.close_connection = True

    def _huge(self):
        """HUGE_BYTES of JSON-looking text, generated as it goes."""
        chunk = b" " * (1024 * 1024)
        yield b'{"leader":"master@127.0.0.1:5050","x":"'
        for _ in range(HUGE_BYTES // len(chunk)):
            yield chunk
        yield b'"}'

    @staticmethod
    def _grown(data, size):
        """The state data grown to about size bytes by finished copies of its
        frameworks in completed_frameworks, generated as it goes."""
        doc = json.loads(data)
        done = [dict(fw, tasks=[dict(t, state="TASK_FINISHED") for t in fw.get("tasks", [])])
                for fw in doc.get("frameworks", [])] or [{}]
        item = json.dumps(done).encode()[1:-1]
        head, tail = json.dumps(dict(doc, completed_frameworks=["@PAD@"])).encode().split(
            b'"@PAD@"')
        block = b",".join([item] * max(1, (1 << 20) // len(item)))  # about 1 MiB
        yield head + item
        sent = len(head) + len(item)
        while sent < size:
            yield b"," + block
            sent += 1 + len(block)
        yield tail

    def _token_ok(self):
        auth = self.headers.get("Authorization", "")
        tok = auth[len("token="):] if auth.startswith("token=") else None
        exp = self.server.tokens.get(tok) if tok else None
        return exp is not None and exp > time.time()

    def _state(self):
        opts = self.server.opts
        with open(opts.state, "rb") as f:
            data = f.read()
        text = data.strip()
        if text == b"HTTP500":
            return self._send(500, "Internal Server Error\n", "text/plain")
        if text == b"HANG":
            time.sleep(1000)
            return self._send(503, "gave up\n", "text/plain")
        if text == b"HUGE":
            return self._chunked(self._huge())
        grow = 0
        if text.startswith(b"BIG "):
            first, _, data = text.partition(b"\n")
            grow = int(first.split()[1]) << 20
        if opts.leader_rewrite or opts.leader is not None:
            if opts.leader is not None:
                leader = opts.leader
            else:
                addr, port = self.server.server_address[:2]
                if addr in ("0.0.0.0", ""):
                    addr = "127.0.0.1"
                leader = ("master@[%s]:%d" if ":" in addr else "master@%s:%d") % (addr, port)
            try:
                doc = json.loads(data)
                if isinstance(doc, dict) and "leader" in doc:
                    doc["leader"] = leader
                    data = json.dumps(doc).encode()
            except (ValueError, TypeError):
                pass  # not JSON: serve it unchanged
        if grow:
            return self._chunked(self._grown(data, grow))
        return self._send(200, data)

    def _login(self):
        opts = self.server.opts
        n = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(n) if 0 < n < 1 << 20 else b""
        try:
            req = json.loads(raw)
            uid, jwt = req["uid"], req["token"]
        except (ValueError, KeyError, TypeError):
            return self._send(400, json.dumps({"code": "ERR_BAD_REQUEST"}))
        claims = verify_rs256(jwt, opts.iam_public_key) if isinstance(jwt, str) else None
        if not claims or claims.get("uid") != opts.iam_uid or uid != opts.iam_uid or \
                not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return self._send(401, json.dumps({"code": "ERR_INVALID_CREDENTIALS"}))
        exp = int(time.time()) + opts.iam_token_ttl
        tok = "%s.%s.%s" % (b64url(b'{"alg":"RS256","typ":"JWT"}'),
                            b64url(json.dumps({"uid": uid, "exp": exp}).encode()),
                            b64url(secrets.token_bytes(32)))
        self.server.tokens[tok] = exp
        return self._send(200, json.dumps({"token": tok}))

    def do_POST(self):
        self._log()
        path = self.path.split("?", 1)[0]
        if path == LOGIN_PATH and self.server.opts.iam_public_key:
            return self._login()
        n = int(self.headers.get("Content-Length", "0") or 0)
        if 0 < n < 1 << 20:
            self.rfile.read(n)
        return self._send(405, "", "text/plain")

    def do_GET(self):
        self._log()
        path = self.path.split("?", 1)[0]
        if self.server.opts.iam_public_key and path in STATE_PATHS and not self._token_ok():
            return self._send(401, json.dumps({"code": "ERR_INVALID_TOKEN"}))
        auth = self.server.opts.basic_auth
        if auth and self.headers.get("Authorization", "") != \
                "Basic " + base64.b64encode(auth.encode()).decode():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mesos"')
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if path in STATE_PATHS:
            if path == "/master/state" and self.server.opts.only_state_json:
                return self._send(404, "", "text/plain")
            return self._state()
        if path in ("/health", "/master/health"):
            return self._send(200, "", "text/plain")
        return self._send(404, "", "text/plain")

    do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", "--bind", dest="host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True, help="JSON file served as the state")
    ap.add_argument("--leader-rewrite", action="store_true",
                    help="set leader to master@<bound address>:<bound port>")
    ap.add_argument("--leader", metavar="PID",
                    help="set leader to PID, e.g. master@127.0.0.2:5050 (wins over "
                         "--leader-rewrite)")
    ap.add_argument("--only-state-json", action="store_true",
                    help="404 on /master/state, like a master before Mesos 0.25")
    ap.add_argument("--ready-file", help="write the bound port here once listening")
    ap.add_argument("--log", help="append one line per request here")
    ap.add_argument("--basic-auth", metavar="USER:PASS", help="require these credentials")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    ap.add_argument("--tls-client-ca", help="require a client certificate signed by this CA")
    ap.add_argument("--iam-public-key", help="serve the IAM login endpoint, verifying with this PEM")
    ap.add_argument("--iam-uid", default="dcos-dns", help="the only uid allowed to log in")
    ap.add_argument("--iam-token-ttl", type=int, default=3600, help="life of issued tokens, s")
    opts = ap.parse_args()

    ThreadingHTTPServer.daemon_threads = True  # a HANG must not block exit
    srv = ThreadingHTTPServer((opts.host, opts.port), Handler)
    srv.opts = opts
    srv.log_lock = threading.Lock()
    srv.tokens = {}
    if opts.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
        if opts.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(opts.tls_client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return serve(srv, opts.ready_file)


def serve(srv, ready_file):
    """Write the bound port to ready_file (atomically; None: skip), then serve until
    interrupted.  Shared with stream_master.py."""
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(tmp, ready_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
