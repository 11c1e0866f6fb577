#!/bin/sh
# bench/forwarding.sh -- forwarding overhead: dnsperf through mesos-dnsd to NSD vs straight to NSD.
#
# usage: bench/forwarding.sh          (after `make`; not part of `make test`)
#   BUILD=build          where bin/mesos-dnsd was built
#   FWD_SECONDS=5        length of each dnsperf run
#   FWD_QPS=20000        offered load of the latency runs (dnsperf -Q)
#   FWD_NAMES=1000       names in the upstream zone (queried round-robin)
#
# NSD (one server process) serves FWD_NAMES A records on a free loopback port;
# mesos-dnsd (one worker) forwards to it.  Both run on CPU 0, dnsperf on CPU 1.
# Printed: answers per second at saturation (dnsperf -c 4 -q 500) and p50/p99
# latency at FWD_QPS (from dnsperf -v's per-query lines), direct and through
# us, with the ratios.  Only loopback addresses are used.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
seconds=${FWD_SECONDS:-5}
qps=${FWD_QPS:-20000}
names=${FWD_NAMES:-1000}
PATH=$PATH:/usr/sbin:/sbin
for tool in dnsperf nsd taskset python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "forwarding: $tool not found; run packaging/install-deps.sh" >&2; exit 1; }
done
[ -x "$build/bin/mesos-dnsd" ] || { echo "forwarding: $build/bin/mesos-dnsd is not built (run make)" >&2; exit 1; }

dir=$(mktemp -d /tmp/bench-forwarding-XXXXXX)
pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_answer() {	# port name: until the server answers (10 s at most)
	i=0
	while [ $i -lt 100 ]; do
		dig @127.0.0.1 -p "$1" "$2" +short +time=1 +tries=1 2>/dev/null | grep -q . && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "forwarding: no answer on port $1" >&2
	exit 1
}

nsd_port=$(free_port)
our_port=$(free_port)
{
	printf '$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n'
	i=1
	while [ $i -le "$names" ]; do
		printf 'www%d IN A 198.18.%d.%d\n' $i $((i / 250)) $((i % 250 + 1))
		i=$((i + 1))
	done
} >"$dir/example.zone"
i=1
while [ $i -le "$names" ]; do
	printf 'www%d.example.test A\n' $i
	i=$((i + 1))
done >"$dir/queries"
cat >"$dir/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$nsd_port
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.zone
EOF
cat >"$dir/config.json" <<EOF
{"stateFile": "$root/tests/data/demo/state.json", "listener": "127.0.0.1", "port": $our_port,
 "httpon": false, "externalon": true, "resolvers": ["127.0.0.1:$nsd_port"], "workers": 1,
 "timeout": 2}
EOF
taskset -c 0 nsd -d -c "$dir/nsd.conf" >/dev/null 2>&1 &
pids="$pids $!"
taskset -c 0 "$build/bin/mesos-dnsd" -config "$dir/config.json" >"$dir/daemon.log" 2>&1 &
pids="$pids $!"
wait_answer "$nsd_port" www1.example.test
wait_answer "$our_port" www1.example.test

run() {	# port, extra dnsperf args...: dnsperf output in $dir/out
	port=$1
	shift
	taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries" -l "$seconds" -t 2 \
		-O suppress=timeout "$@" >"$dir/out" 2>&1
}

qps_of() {
	awk '/Queries per second:/ { print $4 }' "$dir/out"
}

lost_of() {
	awk '/Queries lost:/ { print $3 }' "$dir/out"
}

pct_of() {	# percentile of the "> RCODE name type latency" lines, in ms
	grep '^> ' "$dir/out" | awk '{ print $NF }' | sort -g | awk -v p="$1" '
		{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } i = int(p / 100 * NR); if (i < 1) i = 1; printf "%.3f", v[i] * 1000 }'
}

echo "forwarding: $names names, $seconds s per run, latency at $qps QPS" >&2
run "$nsd_port" -c 4 -q 500
nsd_qps=$(qps_of)
run "$our_port" -c 4 -q 500
our_qps=$(qps_of)
run "$nsd_port" -Q "$qps" -q 200 -v
nsd_p50=$(pct_of 50)
nsd_p99=$(pct_of 99)
nsd_lost=$(lost_of)
run "$our_port" -Q "$qps" -q 200 -v
our_p50=$(pct_of 50)
our_p99=$(pct_of 99)
our_lost=$(lost_of)

python3 - "$nsd_qps" "$our_qps" "$nsd_p50" "$our_p50" "$nsd_p99" "$our_p99" "$nsd_lost" "$our_lost" <<'EOF'
import sys
nq, oq, n50, o50, n99, o99, nl, ol = sys.argv[1:]
f = lambda x: float(x) if x not in ("", "nan") else float("nan")
print("%-22s %12s %12s %8s" % ("", "NSD direct", "via us", "ratio"))
print("%-22s %12.0f %12.0f %8.2f" % ("max QPS (UDP)", f(nq), f(oq), f(oq) / f(nq)))
print("%-22s %12.3f %12.3f %8.2f" % ("p50 latency (ms)", f(n50), f(o50), f(o50) / f(n50)))
print("%-22s %12.3f %12.3f %8.2f" % ("p99 latency (ms)", f(n99), f(o99), f(o99) / f(n99)))
print("%-22s %12s %12s" % ("lost at fixed load", nl, ol))
EOF
