#!/usr/bin/env bash
# Start a MariaDB server for the MySQL-backend tests without systemd, idempotently.
#
#   source .ci/mariadb.sh      # exports DEVCLOUD_TEST_MYSQL_URL
#   bash .ci/mariadb.sh        # prints `export DEVCLOUD_TEST_MYSQL_URL=...`
#
# The server binds to 127.0.0.1 only; its socket is under /run/mysqld. A database `devcloud` and a user with a
# generated password are created once; the credentials are kept in $DEVCLOUD_CI_MYSQL_ENV (root-only) so a second
# run reuses the running server and the same user. The user may create databases named devcloud_* (the tests
# make a fresh one per session).
# A farm's database (the mariadb role): DEVCLOUD_CI_MYSQL_BIND sets the address mariadbd listens on when this script
# starts it, and DEVCLOUD_CI_MYSQL_CLIENTS (space-separated addresses) are the other management hosts that get the
# same user and grants.
_devcloud_mariadb() {
    set -euo pipefail
    local datadir="${DEVCLOUD_CI_MYSQL_DATADIR:-/var/lib/mysql}"
    local port="${DEVCLOUD_CI_MYSQL_PORT:-3306}"
    local rundir=/run/mysqld
    local sock="$rundir/mysqld.sock"
    local envfile="${DEVCLOUD_CI_MYSQL_ENV:-/var/lib/devcloud-ci/mysql.env}"
    local log="${DEVCLOUD_CI_MYSQL_LOG:-/var/log/devcloud-ci-mariadb.log}"
    local bind="${DEVCLOUD_CI_MYSQL_BIND:-127.0.0.1}"
    local clients="${DEVCLOUD_CI_MYSQL_CLIENTS:-}"

    command -v mariadbd >/dev/null || { echo "mariadbd not installed (apt-get install mariadb-server)" >&2; return 1; }
    mkdir -p "$rundir" "$(dirname "$envfile")"
    chown mysql:mysql "$rundir"

    local root=(mariadb --protocol=socket -S "$sock" -uroot)
    if ! "${root[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
        if [ ! -d "$datadir/mysql" ]; then
            echo "mariadb: initialising $datadir" >&2
            mkdir -p "$datadir"
            chown mysql:mysql "$datadir"
            mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=socket \
                --skip-test-db >/dev/null
        fi
        echo "mariadb: starting mariadbd on $bind:$port (log $log)" >&2
        touch "$log"; chown mysql:mysql "$log"
        # setsid: the server outlives this shell and is not killed with the CI job's process group.
        setsid mariadbd --user=mysql --datadir="$datadir" --socket="$sock" --port="$port" \
            --bind-address="$bind" --pid-file="$rundir/mysqld.pid" --log-error="$log" \
            --skip-name-resolve --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
            --max-connections=500 </dev/null >/dev/null 2>&1 &
        local deadline=$((SECONDS + 60))
        until "${root[@]}" -e 'SELECT 1' >/dev/null 2>&1; do
            if [ $SECONDS -ge $deadline ]; then
                echo "mariadb: did not come up within 60 s; last log lines:" >&2
                tail -n 30 "$log" >&2
                return 1
            fi
            sleep 0.2
        done
    fi
    port="$("${root[@]}" -N -e 'SELECT @@port')"

    local user pass url=""
    if [ -f "$envfile" ]; then
        # shellcheck disable=SC1090
        url="$(. "$envfile"; echo "${DEVCLOUD_TEST_MYSQL_URL:-}")"
    fi
    if [ -n "$url" ]; then
        user="$(sed -E 's#^[^:]+://([^:]+):.*#\1#' <<<"$url")"
        pass="$(sed -E 's#^[^:]+://[^:]+:([^@]+)@.*#\1#' <<<"$url")"
    else
        user=devcloud_ci
        pass="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)"
    fi
    # (Re)create the user and grants every time: cheap, and it repairs a datadir that was reset.
    "${root[@]}" <<SQL
CREATE DATABASE IF NOT EXISTS devcloud CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pass';
ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
ALTER USER '$user'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON \`devcloud%\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`devcloud%\`.* TO '$user'@'localhost';
FLUSH PRIVILEGES;
SQL
    local client
    for client in $clients; do
        "${root[@]}" <<SQL
CREATE USER IF NOT EXISTS '$user'@'$client' IDENTIFIED BY '$pass';
ALTER USER '$user'@'$client' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON \`devcloud%\`.* TO '$user'@'$client';
FLUSH PRIVILEGES;
SQL
    done
    url="mysql+pymysql://$user:$pass@127.0.0.1:$port/devcloud"
    (umask 077; printf 'DEVCLOUD_TEST_MYSQL_URL=%q\n' "$url" >"$envfile")
    export DEVCLOUD_TEST_MYSQL_URL="$url"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    _devcloud_mariadb
    echo "export DEVCLOUD_TEST_MYSQL_URL='$DEVCLOUD_TEST_MYSQL_URL'"
else
    # Sourced: keep the caller's shell options.
    _devcloud_saved_opts="$(set +o)"
    _devcloud_mariadb
    _devcloud_rc=$?
    eval "$_devcloud_saved_opts"
    unset _devcloud_saved_opts
    # shellcheck disable=SC2317
    return $_devcloud_rc 2>/dev/null || true
fi
