#!/usr/bin/env python3
"""tests/fuzz/make_httppath_seeds.py -- write the seed corpus of fuzz_httppath (tests/fuzz/corpus/httppath/).

Request paths as the HTTP API's router sees them (before '?', still percent-encoded):
every route, names with case and trailing-dot variants, and the hostile ones (traversal,
encoded '/', NUL, bad escapes, non-UTF-8, over-long labels and names).  Run it again after
changing the list; it rewrites the files it owns and leaves others alone.
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "httppath")

SEEDS = {
    "version": b"/v1/version", "config": b"/v1/config", "hosts": b"/v1/hosts/nginx.marathon.mesos",
    "hosts-dot": b"/v1/hosts/NGINX.marathon.mesos.",
    "ports": b"/v1/hosts/nginx-6ud99-0.marathon.slave.mesos/ports",
    "services": b"/v1/services/_liquor-store._tcp.marathon.mesos", "enumerate": b"/v1/enumerate",
    "axfr": b"/v1/axfr", "metrics": b"/metrics", "health": b"/health", "ready": b"/ready",
    "root": b"/", "traversal": b"/v1/hosts/../../etc/passwd",
    "traversal-enc": b"/v1/hosts/%2e%2e/%2e%2e/etc/passwd", "enc-slash": b"/v1/hosts/a%2Fb",
    "nul": b"/v1/hosts/a%00b", "raw-nul": b"/v1/hosts/a\x00b", "bad-escape": b"/v1/hosts/%zz",
    "short-escape": b"/v1/hosts/ab%4", "non-utf8": b"/v1/hosts/\xff\xfe",
    "double-slash": b"//v1/version", "trailing-slash": b"/v1/version/",
    "empty-label": b"/v1/hosts/a..b", "long-label": b"/v1/hosts/" + b"a" * 64 + b".mesos",
    "long-name": b"/v1/hosts/" + (b"a" * 60 + b".") * 5, "no-slash": b"v1/version", "empty": b"",
    "many-segments": b"/a/b/c/d/e/f/g", "services-extra": b"/v1/services/x/y",
    "ports-bad": b"/v1/hosts/x/portz",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
