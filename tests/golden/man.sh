#!/bin/sh
# tests/golden/man.sh BUILD -- the man page matches the config table and documents every flag.
BUILD=${1:-build}
n=0; fail=0
check() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }

ver=$(sed -n 's/^VERSION *:= *//p' Makefile)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sh packaging/man/gen.sh "$BUILD/bin/configdoc" "$ver" > "$tmp"
cmp -s "$tmp" packaging/man/mesos-dnsd.8
check $? "packaging/man/mesos-dnsd.8 is up to date with the config table (run: make man)"

missing=""
for k in $("$BUILD/bin/configdoc" -names); do
	grep -q "^\.B $(printf '%s' "$k" | sed 's/-/\\\\-/g') " packaging/man/mesos-dnsd.8 || missing="$missing $k"
done
[ -z "$missing" ]; check $? "every config key has an entry in the man page${missing:+ (missing:$missing)}"

# Every flag the daemon's usage text names is documented.
for f in $("$BUILD/bin/mesos-dnsd" -h | grep -oE -- '(^|[ [|])-[a-z][a-z=0-9]*' | tr -d ' [|' | sort -u); do
	esc=$(printf '%s' "$f" | sed 's/-/\\\\-/g')
	grep -q -- "$esc" packaging/man/mesos-dnsd.8; check $? "flag $f is documented"
done

if command -v groff >/dev/null 2>&1; then
	warn=$(groff -man -Tutf8 -ww packaging/man/mesos-dnsd.8 2>&1 >/dev/null)
	[ -z "$warn" ]; check $? "groff renders the page without warnings${warn:+: $warn}"
fi
echo "1..$n"
exit $fail
