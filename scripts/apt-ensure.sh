#!/bin/sh
# apt-ensure.sh PACKAGE... : installs those of the named Debian packages that are not installed (root; one
# `apt-get update` first, so a fresh machine's empty package lists are no obstacle). Prints nothing when all are there.
set -eu
need=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "devcloud needs these Debian packages:$need — run as root: apt-get install$need" >&2
    exit 1
fi
echo "installing$need"
DEBIAN_FRONTEND=noninteractive apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
