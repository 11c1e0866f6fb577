#!/bin/sh
# packaging/man/gen.sh CONFIGDOC VERSION -- print mesos-dnsd.8 from its template.
set -eu
dir=$(dirname "$0")
keys=$(mktemp)
trap 'rm -f "$keys"' EXIT
"$1" > "$keys"
sed -e "s/@VERSION@/$2/" "$dir/mesos-dnsd.8.in" | while IFS= read -r line; do
	if [ "$line" = '.\" @CONFIG_KEYS@' ]; then
		cat "$keys"
	else
		printf '%s\n' "$line"
	fi
done
