#!/bin/sh
# bench/ab.sh -- CPU per answer of two mesos-dnsd builds and the floor, in turn, N times.
#
# usage: bench/ab.sh OLD_BINARY NEW_BINARY [N]     (after `make bench` generated build/bench)
#
# For comparing a change with what it replaces on a shared, noisy machine: each
# round runs OLD, NEW and bench/floor one after the other, each on CPU 0 with one
# worker, dnsperf on CPU 1 at 50,000 q/s: 3 s unmeasured (the reply caches warm),
# then 8 s measured from /proc/PID/stat (utime + stime).  Prints each round's
# CPU-s per 100,000 answers, then the medians and the median of each round's
# ratios, which side-by-side noise moves least.
#   BUILD=build BENCH_DIR=build/bench BENCH_TASKS=10000   as for bench/run.sh
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
work=${BENCH_DIR:-$build/bench}
tasks=${BENCH_TASKS:-10000}
state=$root/$work/state-$tasks.json
queries=$root/$work/queries-$tasks.txt
floor=$root/$work/floor
[ $# -ge 2 ] || { sed -n '3p' "$0" | sed 's/^# //' >&2; exit 2; }
old=$1
new=$2
rounds=${3:-7}
for f in "$old" "$new" "$floor" "$state" "$queries"; do
	[ -e "$f" ] || { echo "ab: $f missing (run make bench first?)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mesos-dnsd-ab.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() { # load SECONDS: dnsperf at 50,000 q/s on CPU 1; prints the queries completed
	taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l "$1" -t 2 -c 4 -q 200 \
		-Q 50000 -O suppress=timeout 2>&1 | awk '/Queries completed/ { print $3 }'
}
measure() { # measure BINARY|floor: CPU-s per 100,000 answers
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	if [ "$1" = floor ]; then
		taskset -c 0 "$floor" -p "$port" >"$tmp/log" 2>&1 &
		pid=$!
		sleep 0.5
	else
		cat >"$tmp/config.json" <<EOF
{"stateFile": "$state", "listener": "127.0.0.1", "port": $port, "httpon": false,
 "externalon": false, "workers": 1, "refreshSeconds": 3600}
EOF
		taskset -c 0 "$1" -config "$tmp/config.json" >"$tmp/log" 2>&1 &
		pid=$!
		i=0
		until grep -q "state: loaded" "$tmp/log"; do
			i=$((i + 1))
			[ "$i" -lt 600 ] && kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
			sleep 0.1
		done
	fi
	load 3 >/dev/null
	t0=$(ticks "$pid")
	n=$(load 8)
	t1=$(ticks "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	hz=$(getconf CLK_TCK)
	awk -v t="$((t1 - t0))" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.3f", t / hz * 100000 / n }'
}

echo "round  old    new    floor  (CPU-s per 100,000 answers at 50,000 q/s)"
: >"$tmp/rounds"
r=1
while [ "$r" -le "$rounds" ]; do
	a=$(measure "$old")
	b=$(measure "$new")
	f=$(measure floor)
	printf '%-6s %s  %s  %s\n' "$r" "$a" "$b" "$f"
	echo "$a $b $f" >>"$tmp/rounds"
	r=$((r + 1))
done
python3 - "$tmp/rounds" <<'EOF'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
med = lambda xs: statistics.median(xs)
o, n, f = zip(*rows)
print("median old %.3f  new %.3f  floor %.3f" % (med(o), med(n), med(f)))
print("median of the rounds' ratios: new/old %.3f  new/floor %.3f  old/floor %.3f"
      % (med([b / a for a, b, _ in rows]), med([b / c for _, b, c in rows]),
         med([a / c for a, _, c in rows])))
EOF
