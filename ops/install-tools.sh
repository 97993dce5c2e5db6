#!/usr/bin/env sh
# Installs the system tools the tests and the demo use, from Debian's packages.
set -e
missing=""
command -v promtool >/dev/null || missing="$missing prometheus"
command -v redis-server >/dev/null || missing="$missing redis-server"
# ip (network namespaces) cuts a worker group off the network in the partition test.
command -v ip >/dev/null || missing="$missing iproute2"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ]; then
    echo "please install:$missing (e.g. sudo apt-get install$missing)" >&2
    exit 1
fi
apt-get update -qq
# The prometheus package would start a server of its own; policy-rc.d keeps it from doing so.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
rm -f /usr/sbin/policy-rc.d
