#!/bin/sh
# tests/golden/run.sh -- regenerate the golden zones with state2zone, diff them, check the fixture facts.
#
# usage: tests/golden/run.sh [BUILD_DIR]        (default: build; or $BUILD)
#        UPDATE=1 tests/golden/run.sh           rewrite the golden files instead of diffing
#
# Prints TAP ("ok N - ...", "not ok N - ...", then "1..N"); exits 1 when a test
# failed.  The command line of each golden file is here and in
# tests/data/golden/README.md; keep the two in step.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${BUILD:-build}}
case $build in /*) ;; *) build=$root/$build ;; esac
s2z=$build/bin/state2zone
data=$root/tests/data
golden=$data/golden
tmp=$(mktemp -d "${TMPDIR:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # check DESCRIPTION COMMAND...: one TAP line from a command's status
	d=$1; shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}

if [ ! -x "$s2z" ]; then
	echo "Bail out! $s2z is not built (make $build/bin/state2zone)"
	exit 1
fi

# "localhost" is the hostname of the framework without pid; pinning it keeps
# the output independent of this machine's /etc/hosts.
gen_default() {
	"$s2z" -host localhost=127.0.0.1 "$data/fake.json"
}
gen_rfc952() {
	"$s2z" -config "$golden/fake.rfc952.config.json" -host localhost=127.0.0.1 "$data/fake.json"
}

# --- golden diffs ----------------------------------------------------------
for g in default rfc952; do
	out=$tmp/fake.$g.zone
	if ! "gen_$g" >"$out" 2>"$tmp/$g.err"; then
		fail "state2zone runs for fake.$g.zone"
		sed 's/^/# /' "$tmp/$g.err"
		continue
	fi
	pass "state2zone runs for fake.$g.zone"
	if [ "${UPDATE:-}" = 1 ]; then
		cp "$out" "$golden/fake.$g.zone"
		pass "fake.$g.zone rewritten (UPDATE=1): review the change with git diff"
	elif diff -u "$golden/fake.$g.zone" "$out" >"$tmp/$g.diff"; then
		pass "fake.$g.zone matches the golden file"
	else
		fail "fake.$g.zone matches the golden file"
		sed 's/^/# /' "$tmp/$g.diff"
	fi
	"gen_$g" >"$tmp/$g.again" 2>/dev/null
	check "fake.$g.zone is the same on a second run" cmp -s "$out" "$tmp/$g.again"
done

# --- facts -----------------------------------------------------------------
# rrset FILE OWNER TYPE: the data of that RRset, sorted, joined with ';'.
rrset() {
	awk -F '\t' -v o="$2" -v t="$3" '$1 == o && $4 == t { print $5 }' "$1" | sort | paste -sd ';' -
}
# is_rrset DESCRIPTION FILE OWNER TYPE WANT: exact RRset content.
is_rrset() {
	got=$(rrset "$2" "$3" "$4")
	if [ "$got" = "$5" ]; then
		pass "$1"
	else
		fail "$1"
		echo "#   got:      '$got'"
		echo "#   expected: '$5'"
	fi
}
# no_name DESCRIPTION FILE PATTERN: no owner matches the (awk) pattern.
no_name() {
	if awk -F '\t' -v p="$3" '$1 ~ p { found = 1 } END { exit found }' "$2"; then
		pass "$1"
	else
		fail "$1"
		awk -F '\t' -v p="$3" '$1 ~ p { print "#   " $0 }' "$2"
	fi
}

d=$tmp/fake.default.zone
r=$tmp/fake.rfc952.zone

# The known facts of tests/fixtures README (default config: RFC 1123,
# IPSources netinfo,mesos,host).
is_rrset "fact: nginx.marathon.mesos A 10.3.0.3 (mesos label)" \
	"$d" nginx.marathon.mesos. A "10.3.0.3"
is_rrset "fact: liquor-store.marathon.mesos A 1.2.3.11, 1.2.3.12 (host)" \
	"$d" liquor-store.marathon.mesos. A "1.2.3.11;1.2.3.12"
is_rrset "fact: toy-store.ipv6-framework.mesos AAAA fd01:b::1:8000:2 (netinfo)" \
	"$d" toy-store.ipv6-framework.mesos. AAAA "fd01:b::1:8000:2"
is_rrset "fact: _liquor-store._tcp.marathon.mesos SRV 80 and 443 on both canonical names" \
	"$d" _liquor-store._tcp.marathon.mesos. SRV \
	"0 1 443 liquor-store-4dfjd-0.marathon.mesos.;0 1 443 liquor-store-zasmd-1.marathon.mesos.;0 1 80 liquor-store-4dfjd-0.marathon.mesos.;0 1 80 liquor-store-zasmd-1.marathon.mesos."
is_rrset "fact: _car-store._udp.marathon.mesos SRV 31364, 31365 on car-store-zinaz-0.marathon.slave.mesos" \
	"$d" _car-store._udp.marathon.mesos. SRV \
	"0 1 31364 car-store-zinaz-0.marathon.slave.mesos.;0 1 31365 car-store-zinaz-0.marathon.slave.mesos."
is_rrset "fact: slave.mesos A 1.2.3.10, 1.2.3.11, 1.2.3.12" \
	"$d" slave.mesos. A "1.2.3.10;1.2.3.11;1.2.3.12"
is_rrset "fact: slave.mesos AAAA 2001:db8::1" \
	"$d" slave.mesos. AAAA "2001:db8::1"
no_name "fact: poseidon.marathon.mesos does not exist (killed task), nor any poseidon name" \
	"$d" "poseidon"

# A few more rules of behaviour.md §2, on the same output.
is_rrset "toy-store: every netinfo IP, v4 and v6" \
	"$d" toy-store-go588-3.ipv6-framework.mesos. A "12.0.1.2;12.0.1.3"
is_rrset "compat: raw DiscoveryInfo name liquor.store.marathon.mesos" \
	"$d" liquor.store.marathon.mesos. A "1.2.3.11;1.2.3.12"
is_rrset "named DI port _http._liquor-store._tcp.marathon.mesos" \
	"$d" _http._liquor-store._tcp.marathon.mesos. SRV \
	"0 1 80 liquor-store-4dfjd-0.marathon.mesos.;0 1 80 liquor-store-zasmd-1.marathon.mesos."
is_rrset "DI task: resource-port SRV only under slave (none under .marathon.mesos)" \
	"$d" _liquor-store._udp.marathon.mesos. SRV ""
is_rrset "framework with spaces: DomainFrag keeps its dots" \
	"$d" chronoswithaspaceandmixedcase-2.0.1.mesos. A "1.2.3.12"
is_rrset "framework without pid: its hostname" "$d" nopid.mesos. A "127.0.0.1"
is_rrset "framework without pid: no SRV" "$d" _framework._tcp.nopid.mesos. SRV ""
is_rrset "IPv6 framework pid: AAAA" "$d" ipv6-framework.mesos. AAAA "2001:db8::1"
is_rrset "leader SRV over udp" "$d" _leader._udp.mesos. SRV "0 1 5050 leader.mesos."
is_rrset "no masters listed: the leader is master0" "$d" master0.mesos. A "1.2.3.4"
is_rrset "one SRV per distinct agent port" "$d" _slave._tcp.mesos. SRV "0 1 5051 slave.mesos."

is_rrset "rfc952: framework label cut to 24" \
	"$r" some-box.chronoswithaspaceandmixe.mesos. A "1.2.3.11"
is_rrset "rfc952: docker source before host (latest running status)" \
	"$r" liquor-store.marathon.mesos. A "10.3.0.1;10.3.0.2"
is_rrset "rfc952: the listed leader keeps its place (master1)" \
	"$r" master1.mesos. A "1.2.3.4"
is_rrset "rfc952: master.mesos is leader + every master" \
	"$r" master.mesos. A "1.2.3.4;1.2.3.5;1.2.3.6"
no_name "rfc952: no master3 (the leader is listed)" "$r" "^master3[.]"

echo "1..$n"
[ "$failed" -eq 0 ]
