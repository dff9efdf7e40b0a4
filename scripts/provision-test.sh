#!/usr/bin/env bash
# Everything the test suite needs on this machine, idempotently: one step shared by `make test` and CI (.ci/run).
# Each part checks first and acts only when something is missing, so a second run takes seconds.
#
#   bash scripts/provision-test.sh                 # provision; print the environment the suite needs (export lines)
#   bash scripts/provision-test.sh -- CMD ARGS...  # provision, then exec CMD with that environment
#
# Parts: Debian packages (PKGS), the project venv's libvirt-python, the client-tool venvs ($DEVCLOUD_S3_TOOLS,
# default /opt/s3tools-venv: awscli, s3cmd, moto; $DEVCLOUD_ANSIBLE_TOOLS, default /opt/ansible-tools: ansible-core
# 2.19, ansible-lint, yamllint), `npm ci` in ui/ (playwright-core drives Debian's chromium; no browser download),
# MariaDB started by hand (.ci/mariadb.sh: exports DEVCLOUD_TEST_MYSQL_URL), virtlogd/libvirtd (.ci/services.sh).
# Progress goes to stderr with the seconds each part took; needs root (apt, daemons, /opt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PKGS=(python3-venv libvirt-dev pkg-config gcc libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
      mariadb-server genisoimage extlinux syslinux-common e2fsprogs binutils dnsmasq-base nftables iproute2 haproxy
      nfs-common busybox dnsutils jq openssh-client openssl make ansible python3-cs python3-sshpubkeys awscli
      strongswan-charon strongswan-swanctl libcharon-extra-plugins libcharon-extauth-plugins
      iputils-ping iputils-arping traceroute
      yamllint chromium nodejs prometheus)
# the appliance tier builds images when their inputs change: the same tools `make appliance` installs
mapfile -t -O ${#PKGS[@]} PKGS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/[[:space:]]*$//' scripts/appliance-packages.txt)

say() { echo "provision: $*" >&2; }
_t0=$SECONDS
_step_t0=$SECONDS
step_done() { say "$(printf '%-16s %3d s  %s' "$1" $((SECONDS - _step_t0)) "$2")"; _step_t0=$SECONDS; }

if [ "$(id -u)" -ne 0 ]; then
    say "needs root (apt-get, MariaDB, libvirtd, /opt); run it as root or through sudo"
    exit 1
fi

# ---- Debian packages (the installer `make appliance` uses too)
# npm: Debian's nodejs ships it separately; a nodejs from elsewhere bundles it (and conflicts with Debian's npm)
command -v npm >/dev/null || PKGS+=(npm)
sh scripts/apt-ensure.sh "${PKGS[@]}" >&2  # says "installing ..." when it adds any
step_done packages "all ${#PKGS[@]} installed"

# ---- the project's venv (make's `venv` target builds it; a bare clone gets it here)
if [ ! -x .venv/bin/python ]; then
    sh scripts/build-deps.sh >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip >&2
    .venv/bin/pip install -q -e '.[test,libvirt]' >&2
    touch .venv/.installed
    step_done venv "built .venv"
else
    step_done venv "present"
fi

# ---- client tools that must not share the project's venv (they pin their own botocore)
S3TOOLS=${DEVCLOUD_S3_TOOLS:-/opt/s3tools-venv}
if [ ! -x "$S3TOOLS/bin/s3cmd" ] || [ ! -x "$S3TOOLS/bin/aws" ] || [ ! -x "$S3TOOLS/bin/moto_server" ]; then
    python3 -m venv "$S3TOOLS"
    "$S3TOOLS/bin/pip" install -q awscli s3cmd 'moto[server]' >&2
    step_done s3-tools "built $S3TOOLS"
else
    step_done s3-tools "$S3TOOLS present"
fi
ANSIBLE_TOOLS=${DEVCLOUD_ANSIBLE_TOOLS:-/opt/ansible-tools}
if [ ! -x "$ANSIBLE_TOOLS/bin/ansible-lint" ] || [ ! -x "$ANSIBLE_TOOLS/bin/yamllint" ]; then
    python3 -m venv "$ANSIBLE_TOOLS"
    "$ANSIBLE_TOOLS/bin/pip" install -q -r scripts/ansible-tools.txt >&2
    step_done ansible-tools "built $ANSIBLE_TOOLS"
else
    step_done ansible-tools "$ANSIBLE_TOOLS present"
fi

# ---- the browser tests: playwright-core from the UI's lock file (npm registry only)
if [ ! -f ui/node_modules/playwright-core/package.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error) >&2
    step_done npm "npm ci in ui/"
else
    step_done npm "ui/node_modules up to date"
fi

# ---- MariaDB without systemd (exports DEVCLOUD_TEST_MYSQL_URL)
# shellcheck source=.ci/mariadb.sh
source .ci/mariadb.sh >&2
[ -n "${DEVCLOUD_TEST_MYSQL_URL:-}" ] || { say "MariaDB did not start"; exit 1; }
step_done mariadb "${DEVCLOUD_TEST_MYSQL_URL%%:*}://…@127.0.0.1"

# ---- virtlogd + libvirtd, qemu.conf, storage directories (appliance.host.prepare)
PYTHON="$ROOT/.venv/bin/python" bash .ci/services.sh >/dev/null
step_done libvirt "qemu:///system answers"

say "$(printf '%-16s %3d s' total $((SECONDS - _t0)))"

export DEVCLOUD_TEST_MYSQL_URL DEVCLOUD_S3_TOOLS="$S3TOOLS" DEVCLOUD_ANSIBLE_TOOLS="$ANSIBLE_TOOLS"
export PACKER_CHECKPOINT_DISABLE=1 VAGRANT_CHECKPOINT_DISABLE=1
if [ "${1:-}" = "--" ]; then
    shift
    exec "$@"
fi
for v in DEVCLOUD_TEST_MYSQL_URL DEVCLOUD_S3_TOOLS DEVCLOUD_ANSIBLE_TOOLS PACKER_CHECKPOINT_DISABLE \
         VAGRANT_CHECKPOINT_DISABLE; do
    printf 'export %s=%q\n' "$v" "${!v}"
done
