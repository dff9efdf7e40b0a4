#!/bin/sh
# What `pip install` of devcloud needs from Debian before the venv exists (libvirt-python builds against
# libvirt-dev). Everything else the host needs, `devcloud up` installs itself (appliance/host/prepare.py).
set -eu
need=""
for p in python3-venv libvirt-dev pkg-config gcc; do
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
