#!/bin/sh
# bench/profile.sh -- where mesos-dnsd spends its time answering: perf at 50,000 q/s, or callgrind.
#
# usage: bench/profile.sh [perf|callgrind|rebuild]     (after `make bench` generated build/bench)
#   perf       (default) mesos-dnsd on CPU 0 with one worker, dnsperf at 50,000 q/s on CPU 1,
#              `perf record -g` (cpu-clock: this VM has no hardware counters) for 8 s;
#              the report, kernel and user space, goes to $BENCH_DIR/profile/perf.txt
#   callgrind  mesos-dnsd under valgrind; 100,000 queries once to warm the reply cache, the
#              counters zeroed, then the same queries at 4,000 q/s; instructions per function (self and inclusive)
#              go to $BENCH_DIR/profile/callgrind.txt -- divide by 100,000 for per-query figures
#   rebuild    mesos-dnsd on state-N.json (N = BENCH_BIG, default 100000), then its stateFile
#              pointed at state-N.alt.json: `perf record -g` of the daemon over that rebuild
#              (and the next refresh, which finds the state unchanged: a parse);
#              the report goes to $BENCH_DIR/profile/rebuild.txt
#   BUILD=build BENCH_DIR=build/bench BENCH_TASKS=10000   as for bench/run.sh
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-perf}
build=${BUILD:-build}
work=${BENCH_DIR:-$build/bench}
tasks=${BENCH_TASKS:-10000}
[ "$mode" = rebuild ] && tasks=${BENCH_BIG:-100000}
state=$root/$work/state-$tasks.json
queries=$root/$work/queries-$tasks.txt
out=$work/profile
PATH=$PATH:/usr/sbin:/sbin

if [ ! -s "$state" ] || [ ! -s "$queries" ]; then
	echo "profile: $state or $queries missing; run make bench (or bench/gen_state.py) first" >&2
	exit 1
fi
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mesos-dnsd-profile.XXXXXX")
daemon_pid=
client_pid=
cleanup() {
	for p in $client_pid $daemon_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
refresh=3600
if [ "$mode" = rebuild ]; then
	# The daemon reads the state through a link, moved to the changed state.
	ln -s "$state" "$tmp/state.json"
	state=$tmp/state.json
	refresh=2
fi
cat >"$tmp/config.json" <<EOF
{"stateFile": "$state", "listener": "127.0.0.1", "port": $port, "httpon": false,
 "externalon": false, "workers": 1, "refreshSeconds": $refresh}
EOF

wait_loaded() { # wait_loaded SECONDS
	i=0
	while ! grep -q "state: loaded" "$tmp/log" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt $(($1 * 10)) ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
			echo "profile: mesos-dnsd did not load the state; log:" >&2
			cat "$tmp/log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

case $mode in
perf)
	taskset -c 0 "$build/bin/mesos-dnsd" -config "$tmp/config.json" >"$tmp/log" 2>&1 &
	daemon_pid=$!
	wait_loaded 120
	taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l 12 -c 4 -q 200 -Q 50000 \
		-O suppress=timeout >"$tmp/dnsperf.out" 2>&1 &
	client_pid=$!
	sleep 1
	perf record -q -F 2000 -g -p "$daemon_pid" -o "$tmp/perf.data" -- sleep 8 >/dev/null 2>&1
	wait "$client_pid" || true
	client_pid=
	{
		echo "# mesos-dnsd, $tasks tasks, 50,000 q/s, perf record -g (cpu-clock), $(date '+%Y-%m-%d %H:%M')"
		grep -E "Queries (per second|lost)" "$tmp/dnsperf.out"
		echo "# by shared object"
		perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -8
		echo "# self, top symbols"
		perf report -i "$tmp/perf.data" --no-children --percent-limit 0.5 --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40
		echo "# with children (system calls and their callers)"
		perf report -i "$tmp/perf.data" --children --percent-limit 3 --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40
	} >"$out/perf.txt"
	cat "$out/perf.txt"
	;;
rebuild)
	alt=$root/$work/state-$tasks.alt.json
	[ -s "$alt" ] || { echo "profile: $alt missing; run make bench first" >&2; exit 1; }
	taskset -c 0 "$build/bin/mesos-dnsd" -config "$tmp/config.json" >"$tmp/log" 2>&1 &
	daemon_pid=$!
	wait_loaded 120
	sleep 0.5
	cat "$alt" >/dev/null	# from memory, as make bench reads it
	perf record -q -F 4000 -g -p "$daemon_pid" -o "$tmp/perf.data" -- sleep 4 >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.2
	ln -s "$alt" "$tmp/state.json.new"
	mv -T "$tmp/state.json.new" "$tmp/state.json"
	wait "$perf_pid"
	{
		echo "# mesos-dnsd, a rebuild of $tasks tasks (and one unchanged refresh), perf record -g (cpu-clock), $(date '+%Y-%m-%d %H:%M')"
		grep "state: loaded" "$tmp/log" | tail -2
		echo "# by shared object"
		perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -8
		echo "# self, top symbols"
		perf report -i "$tmp/perf.data" --no-children --percent-limit 0.5 --sort sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40
	} >"$out/rebuild.txt"
	cat "$out/rebuild.txt"
	;;
callgrind)
	command -v valgrind >/dev/null || { echo "profile: valgrind not installed" >&2; exit 1; }
	head -100000 "$queries" >"$tmp/q.txt"
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		"$build/bin/mesos-dnsd" -config "$tmp/config.json" >"$tmp/log" 2>&1 &
	daemon_pid=$!
	wait_loaded 600
	# A first pass over the same questions, unmeasured: the steady state of a
	# server whose clients ask the same names again (the reply caches full).
	dnsperf -s 127.0.0.1 -p "$port" -d "$tmp/q.txt" -n 1 -Q 8000 -c 4 -q 100 -t 5 \
		-O suppress=timeout >/dev/null 2>&1
	callgrind_control -z "$daemon_pid" >/dev/null
	dnsperf -s 127.0.0.1 -p "$port" -d "$tmp/q.txt" -n 1 -Q 4000 -c 4 -q 100 -t 5 \
		-O suppress=timeout >"$tmp/dnsperf.out" 2>&1
	callgrind_control --dump=queries "$daemon_pid" >/dev/null
	i=0
	while [ ! -s "$tmp/cg.out.1" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	{
		echo "# mesos-dnsd, $tasks tasks, 100,000 queries under callgrind after a first pass over them, $(date '+%Y-%m-%d %H:%M')"
		grep -E "Queries (completed|lost)" "$tmp/dnsperf.out"
		echo "# self"
		callgrind_annotate --threshold=100 --inclusive=no "$tmp/cg.out.1" 2>/dev/null |
			sed -n '/PROGRAM TOTALS/,$p' | head -36
		echo "# inclusive"
		callgrind_annotate --threshold=100 --inclusive=yes "$tmp/cg.out.1" 2>/dev/null |
			sed -n '/PROGRAM TOTALS/,$p' | sed -n '4,34p'
	} >"$out/callgrind.txt"
	cp "$tmp/cg.out.1" "$out/callgrind.out"
	cat "$out/callgrind.txt"
	;;
*)
	echo "usage: bench/profile.sh [perf|callgrind|rebuild]" >&2
	exit 2
	;;
esac
