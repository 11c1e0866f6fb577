#!/usr/bin/env python3
"""tests/integration/test_auth.py -- HTTPS and authentication to the masters, end to end.

A test CA, a server certificate for 127.0.0.1 and a client certificate are made
with the openssl CLI; fake_master.py serves HTTPS (requiring the client
certificate), basic auth, or plays the DC/OS IAM login endpoint (verifying the
daemon's RS256 JWT with `openssl dgst -verify`).  Cases: HTTPS with CACertFile
and a client certificate; no CACertFile (a clear warning, and the unknown CA
refused); a wrong CA; no client certificate; basic auth right, then wrong (the
old zone kept); IAM login, the token reused across refreshes, a revoked token
(401 -> one new login, no failed refresh), a short-lived token renewed before
it expires, and a key the login endpoint does not accept.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import DATA, Daemon, FakeMaster, Tap, build_dir, dig, free_port

BUILD = build_dir()
FAKE = os.path.join(DATA, "fake.json")
TMP = tempfile.mkdtemp(prefix="test-auth-")
t = Tap()

LOADED = r"state: loaded from "
FAILED = r"^\w+: state: refresh failed"


def sh(*cmd):
    return subprocess.run(cmd, cwd=TMP, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True).returncode == 0


def f(name):
    return os.path.join(TMP, name)


def count(d, pattern):
    return len(re.findall(pattern, d.logtext(), re.M))


def last_line(d, pattern):
    lines = [l for l in d.logtext().splitlines() if re.search(pattern, l)]
    return lines[-1] if lines else ""


def nginx(d):
    return dig(d.port, "nginx.marathon.mesos").data("ANSWER", "A")


def daemon(masters, extra):
    cfg = {"masters": masters, "refreshSeconds": 1, "stateTimeoutSeconds": 5}
    cfg.update(extra)
    return Daemon(BUILD, cfg)


def make_ca(name):
    return sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
              "-subj", "/CN=%s" % name, "-keyout", f(name + ".key"), "-out", f(name + ".pem"))


def make_cert(name, ca, san):
    with open(f(name + ".ext"), "w") as fh:
        fh.write("subjectAltName=%s\n" % san if san else "basicConstraints=CA:FALSE\n")
    return sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
              "-keyout", f(name + ".key"), "-out", f(name + ".csr")) and \
        sh("openssl", "x509", "-req", "-in", f(name + ".csr"), "-CA", f(ca + ".pem"),
           "-CAkey", f(ca + ".key"), "-CAcreateserial", "-days", "1",
           "-extfile", f(name + ".ext"), "-out", f(name + ".pem"))


# =============================================================================
# 1. HTTPS
# =============================================================================
made = make_ca("ca") and make_ca("other-ca") and make_cert("server", "ca", "IP:127.0.0.1") and \
    make_cert("client", "ca", None)
t.ok(made, "https: openssl made a CA, a server certificate for 127.0.0.1 and a client one")
tls = FakeMaster(FAKE, extra=("--tls-cert", f("server.pem"), "--tls-key", f("server.key"),
                              "--tls-client-ca", f("ca.pem")))
https = {"MesosHTTPSOn": True, "CACertFile": f("ca.pem"), "CertFile": f("client.pem"),
         "KeyFile": f("client.key")}

d = daemon([tls.hostport], https)
t.ok(d.wait_loaded(2), "https: the state loads over TLS with CACertFile and a client certificate",
     d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "https: nginx.marathon.mesos A 10.3.0.3")
t.ok(re.search(r"loaded from 127\.0\.0\.1:%d" % tls.port, d.logtext()), "https: from the TLS master")
t.eq(count(d, r"without CACertFile"), 0, "https: no CA warning when CACertFile is set")
d.stop()

cfg = dict(https)
del cfg["CACertFile"]
d = daemon([tls.hostport], cfg)
t.ok(d.wait_log(FAILED), "https, no CACertFile: the unknown CA makes the fetch fail", d.logtext())
t.ok(d.wait_log(r"warning: fetch: MesosHTTPSOn without CACertFile: .*system CA store"),
     "https, no CACertFile: a clear warning says verification uses the system CA store",
     d.logtext())
t.eq(count(d, r"without CACertFile"), 1, "https, no CACertFile: warned once")
t.ok(re.search(r"certificate|SSL|verif", last_line(d, FAILED), re.I),
     "https, no CACertFile: the reason names the certificate problem", last_line(d, FAILED))
d.stop()

cfg = dict(https, CACertFile=f("other-ca.pem"))
d = daemon([tls.hostport], cfg)
t.ok(d.wait_log(FAILED) and re.search(r"certificate|SSL|verif", last_line(d, FAILED), re.I),
     "https, wrong CA: refused, and the reason says why", last_line(d, FAILED))
t.eq(count(d, LOADED), 0, "https, wrong CA: nothing loaded")
d.stop()

# CACertFile is the one CA trusted: the system store (Debian's libcurl reads
# /etc/ssl/certs as its CA path) is not read beside it, as mesos-dns trusts
# the file's CAs only.  The cluster's CA is put in a system store of the
# daemon's own (a private mount over /etc/ssl/certs).
if os.geteuid() != 0 or not shutil.which("unshare"):
    print("ok %d - https, a system store with the master's CA # SKIP not root" % (t.n + 1))
    t.n += 1
else:
    store = tempfile.mkdtemp(prefix="store-", dir=TMP)
    shutil.copy(f("ca.pem"), store)
    shutil.copy(f("ca.pem"), os.path.join(store, "ca-certificates.crt"))    # the bundle
    sh("openssl", "rehash", store)
    wrap = ("unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/ssl/certs && exec "$@"', store)
    cfg = dict(https)
    del cfg["CACertFile"]
    d = Daemon(BUILD, dict(cfg, masters=[tls.hostport], refreshSeconds=1, stateTimeoutSeconds=5),
               wrap=wrap)
    t.ok(d.wait_loaded(), "https, no CACertFile, the master's CA in the system store: loads "
         "(the private store is read)", d.logtext())
    d.stop()
    d = Daemon(BUILD, dict(https, CACertFile=f("other-ca.pem"), masters=[tls.hostport],
                           refreshSeconds=1, stateTimeoutSeconds=5), wrap=wrap)
    t.ok(d.wait_log(FAILED) and re.search(r"certificate|SSL|verif", last_line(d, FAILED), re.I),
         "https, CACertFile another CA, the master's CA in the system store: refused",
         last_line(d, FAILED))
    t.eq(count(d, LOADED), 0, "https, CACertFile another CA: nothing loaded from the system store")
    d.stop()

cfg = dict(https)
del cfg["CertFile"], cfg["KeyFile"]
d = daemon([tls.hostport], cfg)
t.ok(d.wait_log(FAILED), "https, no client certificate: the master refuses the handshake",
     d.logtext())
t.eq(count(d, LOADED), 0, "https, no client certificate: nothing loaded")
d.stop()
tls.cleanup()

# =============================================================================
# 2. Basic auth: right, then the master changes the password (old zone kept).
# =============================================================================
ba = FakeMaster(FAKE, extra=("--basic-auth", "dns:s3cret"))
basic = {"mesosAuthentication": "basic",
         "mesosCredentials": {"principal": "dns", "secret": "s3cret"}}
d = daemon([ba.hostport], basic)
t.ok(d.wait_loaded(1), "basic: the state loads with the right credentials", d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "basic: nginx.marathon.mesos A 10.3.0.3")
port = ba.port
ba.cleanup()
n = count(d, FAILED)
ba = FakeMaster(FAKE, extra=("--basic-auth", "dns:changed"), port=port)
t.ok(d.wait_log(FAILED + r".*HTTP 401", n + 1), "basic: a wrong password -> \"refresh failed\" "
     "naming HTTP 401", last_line(d, FAILED))
t.ok("keeping the zone of serial" in last_line(d, FAILED), "basic: the old zone is kept",
     last_line(d, FAILED))
t.eq(nginx(d), ["10.3.0.3"], "basic: the old answers are still served")
t.ok(all(p == "/master/state" for _, p in ba.requests()),
     "basic: the 401 does not send us to /master/state.json", ba.requests())
d.stop()
ba.cleanup()

# =============================================================================
# 3. DC/OS IAM: login with an RS256 JWT, token reused, revoked, renewed.
# =============================================================================
t.ok(sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
        "-out", f("iam.key")) and
     sh("openssl", "pkey", "-in", f("iam.key"), "-pubout", "-out", f("iam.pub")) and
     sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
        "-out", f("stranger.key")),
     "iam: openssl made the service account's key pair (and a stranger's key)")


def iam_file(name, key, port, uid="dcos-dns"):
    with open(f(key)) as fh:
        pem = fh.read()
    path = f(name)
    with open(path, "w") as fh:
        json.dump({"scheme": "RS256", "uid": uid, "private_key": pem,
                   "login_endpoint": "http://127.0.0.1:%d/acs/api/v1/auth/login" % port}, fh)
    return path


def iam_master(ttl=3600, port=0):
    return FakeMaster(FAKE, port=port, extra=("--iam-public-key", f("iam.pub"), "--iam-uid",
                                              "dcos-dns", "--iam-token-ttl", str(ttl)))


def logins(m):
    return sum(1 for meth, p in m.requests() if meth == "POST" and p == "/acs/api/v1/auth/login")


im = iam_master()
iam = {"mesosAuthentication": "iam", "IAMConfigFile": iam_file("iam.json", "iam.key", im.port)}
d = daemon([im.hostport], iam)
t.ok(d.wait_loaded(4, timeout=15), "iam: the state loads (four times) behind the IAM login",
     d.logtext())
t.eq(nginx(d), ["10.3.0.3"], "iam: nginx.marathon.mesos A 10.3.0.3")
reqs = im.requests()
t.eq(reqs[:2], [("POST", "/acs/api/v1/auth/login"), ("GET", "/master/state")],
     "iam: a login first, then the state with the token")
t.eq(logins(im), 1, "iam: one login for four fetches: the token is reused")
t.ok(re.search(r"IAM login at http://127\.0\.0\.1:%d/acs/api/v1/auth/login succeeded" % im.port,
               d.logtext()), "iam: the login is logged", d.logtext())
t.eq(count(d, FAILED), 0, "iam: no refresh failed")

# The master restarts and forgets its tokens: 401, one new login, and the same fetch goes on.
port = im.port
n_loaded = count(d, LOADED)
im.cleanup()
im = iam_master(port=port)
t.ok(d.wait_log(r"refused the IAM token \(401\); logging in again"),
     "iam: a revoked token (401) makes the daemon log in again", d.logtext())
t.ok(d.wait_loaded(n_loaded + 2), "iam: and loading goes on", d.logtext())
t.eq(logins(im), 1, "iam: exactly one new login")
paths = [p for _, p in im.requests()]
t.eq(paths[:3], ["/master/state", "/acs/api/v1/auth/login", "/master/state"],
     "iam: 401, login, then the state again")
# (While the master restarts a cycle may fail to connect: that is not the token's doing.)
t.eq(count(d, FAILED + r".*(401|IAM)"), 0, "iam: the revoked token failed no refresh")
d.stop()
im.cleanup()

# A token that lives 3 s is renewed before it runs out, and still reused in between.
im = iam_master(ttl=3)
d = daemon([im.hostport], dict(iam, IAMConfigFile=iam_file("iam3.json", "iam.key", im.port)))
t.ok(d.wait_loaded(7, timeout=20), "iam, short token: seven loads", d.logtext())
n_login, n_get = logins(im), sum(1 for _, p in im.requests() if p == "/master/state")
t.ok(2 <= n_login < n_get, "iam, short token: renewed (%d logins) yet reused (%d fetches)"
     % (n_login, n_get))
t.eq(count(d, FAILED), 0, "iam, short token: no refresh failed, no 401 either")
t.eq(count(d, r"refused the IAM token"), 0, "iam, short token: renewed before expiry, never refused")
d.stop()
im.cleanup()

# A key the IAM server does not know: the login fails and says so.
im = iam_master()
d = daemon([im.hostport], dict(iam, IAMConfigFile=iam_file("bad.json", "stranger.key", im.port)))
t.ok(d.wait_log(FAILED + r".*IAM login at .* failed: HTTP 401"),
     "iam, unknown key: \"refresh failed\" names the refused login", last_line(d, FAILED))
t.eq([p for _, p in im.requests() if p.startswith("/master")], [],
     "iam, unknown key: the state is never asked for without a token")
d.stop()
im.cleanup()

# A reload naming another account file: the next fetch logs in with it at
# once, not when the old account's token runs out (an hour here, days on DC/OS).
im = iam_master()
d = daemon([im.hostport], dict(iam, IAMConfigFile=iam_file("before.json", "iam.key", im.port)))
t.ok(d.wait_loaded(2, timeout=15), "iam, reload: loads with the first account", d.logtext())
dead = free_port()
with open(d.config_path) as fh:
    cfg = json.load(fh)
cfg["IAMConfigFile"] = iam_file("after.json", "iam.key", dead, uid="other-account")
with open(d.config_path, "w") as fh:
    json.dump(cfg, fh)
n_done = count(d, r"main: reload done")
d.proc.send_signal(signal.SIGHUP)
t.ok(d.wait_log(r"main: reload done", n_done + 1), "iam, reload: the new account file is taken",
     d.logtext())
t.ok(d.wait_log(FAILED + r".*IAM login at http://127\.0\.0\.1:%d/" % dead, timeout=15),
     "iam, reload: the next refresh logs in with the new account (its endpoint is down here)",
     last_line(d, FAILED))
t.eq(logins(im), 1, "iam, reload: the first account logged in once, before the reload")
d.stop()
im.cleanup()

# A login endpoint that takes no connection (its accept queue full: connects
# hang as to a host that drops packets): given up after 10 s, as a master's
# connect is, not after stateTimeoutSeconds (30 here).
hole = socket.socket()
hole.bind(("127.0.0.1", 0))
hole.listen(0)
hole_port = hole.getsockname()[1]
fill = []
for _ in range(8):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", hole_port))
    fill.append(c)
t0 = time.monotonic()
d = Daemon(BUILD, {"masters": ["127.0.0.1:1"], "refreshSeconds": 1, "stateTimeoutSeconds": 30,
                   "mesosAuthentication": "iam",
                   "IAMConfigFile": iam_file("hole.json", "iam.key", hole_port)})
got = d.wait_log(FAILED + r".*IAM login", timeout=25)
took = time.monotonic() - t0
t.ok(got and took < 20, "iam, login host takes no connection: the refresh fails after the "
     "10 s connect limit (%.1f s), not stateTimeoutSeconds" % took, last_line(d, FAILED))
d.stop()
for c in fill:
    c.close()
hole.close()

# An unreadable account file: the reason names the file.
d = daemon(["127.0.0.1:1"], dict(iam, IAMConfigFile=f("missing.json")))
t.ok(d.wait_log(FAILED + r".*IAMConfigFile .*missing\.json: No such file"),
     "iam, missing account file: the reason names the file", last_line(d, FAILED))
d.stop()
t.done()
