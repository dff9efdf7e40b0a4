#!/bin/sh
# What `pip install` of devcloud needs from Debian before the venv exists (libvirt-python builds against
# libvirt-dev). Everything else the host needs, `devcloud up` installs itself (appliance/host/prepare.py).
set -eu
exec sh "$(dirname "$0")/apt-ensure.sh" python3-venv libvirt-dev pkg-config gcc
