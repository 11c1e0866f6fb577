#!/usr/bin/env python3
"""tests/run.py -- run every test suite and print one summary line.

Suites: unit tests (TAP binaries), golden zone tests, fuzz corpus replay and
integration tests against the real daemon.  Each suite speaks TAP; this runner
counts "ok" / "not ok" lines and ends with "N passed, N failed".
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def suites(build):
    for b in sorted(glob.glob(os.path.join(build, "tests/unit/test_*"))):
        if os.access(b, os.X_OK) and not b.endswith((".o", ".d")):
            yield "unit", os.path.basename(b), [b]
    for s in sorted(glob.glob(os.path.join(ROOT, "tests/golden/*.sh"))):
        yield "golden", os.path.basename(s), ["sh", s, build]
    for b in sorted(glob.glob(os.path.join(build, "tests/fuzz/fuzz_*-replay"))):
        name = os.path.basename(b)[len("fuzz_"):-len("-replay")]
        corpus = os.path.join(ROOT, "tests/fuzz/corpus", name)
        yield "fuzz", name, [b, corpus]
    for s in sorted(glob.glob(os.path.join(ROOT, "tests/integration/test_*.py"))):
        yield "integration", os.path.basename(s), [sys.executable, s, "--build", build]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", help="unit, golden, fuzz or integration")
    ap.add_argument("-k", help="run only suites whose name contains this")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    passed = failed = 0
    broken = []
    for kind, name, cmd in suites(build):
        if args.only and kind != args.only:
            continue
        if args.k and args.k not in name:
            continue
        t0 = time.time()
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace")
        ok = len(re.findall(r"^ok \d+", p.stdout, re.M))
        nok = len(re.findall(r"^not ok \d+", p.stdout, re.M))
        bad = nok > 0 or p.returncode != 0 or ok == 0
        passed += ok
        failed += nok
        if bad:
            if nok == 0:
                failed += 1  # a suite that died or ran nothing counts as a failure
            broken.append(name)
            print(p.stdout)
        print("%-12s %-32s %4d ok %3d not ok  %5.1fs%s" % (
            kind, name, ok, nok, time.time() - t0,
            "" if not bad else "  FAILED (exit %d)" % p.returncode))
    if broken:
        print("failed suites: " + ", ".join(broken))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
