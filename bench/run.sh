#!/bin/sh
# bench/run.sh -- `make bench`: mesos-dnsd side by side with NSD, Knot and the floor responder.
#
# usage: bench/run.sh                      (what `make bench` runs)
#   BUILD=build              where the daemon, state2zone and bench/floor were built
#   BENCH_TASKS=10000        running tasks of the state every server is measured on
#   BENCH_BIG_TASKS=100000   running tasks of the rebuild state (0: skip the rebuild part)
#   BENCH_QUICK=1            one repetition of 3 s runs and a 20,000-task rebuild state (~2 min;
#                            the full run takes about 10 min while a 100,000-task rebuild costs
#                            ~11 CPU-s, less as rebuilds get faster)
#   BENCH_SECONDS, BENCH_REPEATS, BENCH_REFRESH, BENCH_REBUILDS   override the length of
#                            each dnsperf run (5), the repetitions (3; medians are reported),
#                            refreshSeconds of the rebuild runs (5) and the rebuilds timed
#                            under load in each repetition (2)
#   BENCH_ONLY=ours,nsd      measure a subset of ours, nsd, knot, floor
#   BENCH_DIR=build/bench    where generated states, zones, queries and results go
#   BENCH_README=1           also write the results into README.md's Performance section
#
# Generated files are kept in BENCH_DIR and reused while bench/gen_state.py is
# unchanged; they are large (about 1.7 kB of state per task) and never committed.
# Needs two CPUs: servers run on CPU 0, dnsperf on CPU 1 (taskset).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
work=${BENCH_DIR:-$build/bench}
tasks=${BENCH_TASKS:-10000}
if [ -n "${BENCH_QUICK:-}" ]; then
	big=${BENCH_BIG_TASKS:-20000}
	seconds=${BENCH_SECONDS:-3}
	repeats=${BENCH_REPEATS:-1}
	refresh=${BENCH_REFRESH:-2}
	rebuilds=${BENCH_REBUILDS:-2}
else
	big=${BENCH_BIG_TASKS:-100000}
	seconds=${BENCH_SECONDS:-5}
	repeats=${BENCH_REPEATS:-3}
	refresh=${BENCH_REFRESH:-5}
	rebuilds=${BENCH_REBUILDS:-2}
fi

PATH=$PATH:/usr/sbin:/sbin
for tool in dnsperf nsd nsd-control knotd knotc taskset; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench: $tool not found; run packaging/install-deps.sh" >&2
		exit 1
	fi
done
for f in "$build/bin/mesos-dnsd" "$build/bin/state2zone" "$build/bench/floor"; do
	if [ ! -x "$f" ]; then
		echo "bench: $f is not built (make bench builds it)" >&2
		exit 1
	fi
done

mkdir -p "$work"
pidfile=$work/pids
rm -rf "$work"/run-*

# On the way out stop bench.py (it stops the servers and dnsperf it started);
# whatever it could not stop (it was killed, say) is listed in the pid file:
# end exactly those processes.
bench_pid=
cleanup() {
	if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	if [ -f "$pidfile" ]; then
		while read -r pid; do
			kill -9 "$pid" 2>/dev/null || true
		done <"$pidfile"
		rm -f "$pidfile"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews the figures)" >&2

# Generate each state, its changed twin, its queries and its zone file once.
counts=$tasks
[ "$big" -gt 0 ] && [ "$big" != "$tasks" ] && counts="$counts $big"
for n in $counts; do
	if [ ! -s "$work/queries-$n.txt" ] || [ bench/gen_state.py -nt "$work/queries-$n.txt" ]; then
		python3 bench/gen_state.py --tasks "$n" "$work"
	fi
	if [ ! -s "$work/zone-$n.zone" ] || [ "$work/state-$n.json" -nt "$work/zone-$n.zone" ] ||
		[ "$build/bin/state2zone" -nt "$work/zone-$n.zone" ]; then
		"$build/bin/state2zone" -stats "$work/state-$n.json" >"$work/zone-$n.zone.tmp"
		mv "$work/zone-$n.zone.tmp" "$work/zone-$n.zone"
	fi
done

cmd="make bench"
[ -n "${BENCH_QUICK:-}" ] && cmd="$cmd BENCH_QUICK=1"
[ "$tasks" != 10000 ] && cmd="$cmd BENCH_TASKS=$tasks"
python3 bench/bench.py --build "$build" --work "$work" --tasks "$tasks" --big "$big" \
	--seconds "$seconds" --repeats "$repeats" --refresh "$refresh" --rebuilds "$rebuilds" \
	--only "${BENCH_ONLY:-}" --pidfile "$pidfile" --command "$cmd" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=
[ "$status" -eq 0 ] || exit "$status"

if [ -n "${BENCH_README:-}" ]; then
	python3 bench/readme.py README.md "$work/results.md"
fi

# Forwarding overhead (issue 4): through mesos-dnsd to NSD vs straight to NSD.
if [ -z "${BENCH_ONLY:-}" ]; then
	echo "bench: forwarding overhead"
	BUILD="$build" sh bench/forwarding.sh
fi
