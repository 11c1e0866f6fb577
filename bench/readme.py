#!/usr/bin/env python3
"""bench/readme.py -- put the latest `make bench` results into README.md's Performance section.

usage: readme.py README.md RESULTS.md

Replaces the text between the lines "<!-- bench:begin -->" and
"<!-- bench:end -->" with RESULTS.md; the rest of the README is left as is.
Exits 1, changing nothing, when the markers are missing.
"""
import sys

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def main():
    readme, results = sys.argv[1], sys.argv[2]
    text = open(readme).read()
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        sys.exit("readme.py: %s has no %s ... %s markers" % (readme, BEGIN, END))
    body = open(results).read().strip("\n")
    new = text[:i + len(BEGIN)] + "\n" + body + "\n" + text[j:]
    with open(readme + ".tmp", "w") as f:
        f.write(new)
    import os
    os.replace(readme + ".tmp", readme)
    print("readme.py: %s updated" % readme, file=sys.stderr)


if __name__ == "__main__":
    main()
