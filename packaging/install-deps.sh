#!/bin/sh
# packaging/install-deps.sh -- install every build and test dependency on Debian 12.
#
# Run by the make targets when a dependency is missing (see the Makefile's
# deps check), or by hand: `sudo packaging/install-deps.sh`.  Idempotent.
set -eu

PKGS="
build-essential
pkg-config
libevent-dev
libldns-dev
libcurl4-openssl-dev
libssl-dev
libjansson-dev
libyajl-dev
libxxhash-dev
liburcu-dev
libzookeeper-mt-dev
zookeeper
zookeeper-bin
default-jre-headless
bind9-dnsutils
knot-dnsutils
python3
curl
openssl
clang
libclang-rt-14-dev
nsd
knot
dnsperf
util-linux
prometheus
bind9
iproute2
libsystemd-dev
systemd
dpkg-dev
debhelper
fakeroot
lintian
groff-base
dnsmasq-base
valgrind
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The test servers (NSD, BIND, Knot...) are run by the tests on their own
# ports; keep their packages from starting system services on port 53 (the
# standard policy-rc.d hook), unless the machine already has a policy.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
