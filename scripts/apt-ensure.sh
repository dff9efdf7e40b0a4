#!/bin/sh
# apt-ensure.sh PACKAGE... : installs those of the named Debian packages that are not installed (root; one
# `apt-get update` first, so a fresh machine's empty package lists are no obstacle). Prints nothing when all are there.
# `make appliance`, scripts/build-deps.sh and scripts/provision-test.sh install through it.
set -eu
# one dpkg-query for all of them; it prints nothing for a package it has never heard of
installed=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "$@" 2>/dev/null || true)"
need=""
for p in "$@"; do
    case "$installed" in
        *" $p:installed "*) ;;
        *) case " $need " in *" $p "*) ;; *) need="$need $p" ;; esac ;;
    esac
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "devcloud needs these Debian packages:$need — run as root: apt-get install$need" >&2
    exit 1
fi
echo "installing$need"
DEBIAN_FRONTEND=noninteractive apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
