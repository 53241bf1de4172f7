#!/usr/bin/env bash
# A throwaway PostgreSQL server for the catalog tests.
#
# Sourced (what .ci/run does):
#     source .ci/postgres.sh
#     vitrina_pg_start          # installs Debian's postgresql if missing, starts a cluster,
#                               # exports VITRINA_TEST_PG_URL and VITRINA_PG_DIR
#     ...run the tests...
#     vitrina_pg_stop           # stops the cluster and deletes its directory
#
# Executed:
#     eval "$(.ci/postgres.sh start)"   # prints the export lines
#     .ci/postgres.sh stop "$VITRINA_PG_DIR"
#
# The cluster lives in a temp dir, listens on 127.0.0.1 only, on a free port, with a
# random password; nothing of the system's own PostgreSQL service is touched.

vitrina_pg_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

vitrina_pg_install() {
    if [ -n "$(vitrina_pg_bindir)" ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "postgres.sh: installing Debian's postgresql package" >&2
    $sudo apt-get update >&2 &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
            postgresql >&2
}

# Run a PostgreSQL binary as the cluster owner: initdb and postgres refuse to run as root.
_vitrina_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

vitrina_pg_start() {
    vitrina_pg_install || { echo "postgres.sh: could not install postgresql" >&2; return 1; }
    local bindir dir port password
    bindir="$(vitrina_pg_bindir)"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/vitrina-pg.XXXXXX")"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    printf '%s\n' "$password" >"$dir/pwfile"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$dir"
    fi
    _vitrina_pg_as_owner "$bindir/initdb" -D "$dir/data" -U vitrina --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; return 1; }
    rm -f "$dir/pwfile"
    _vitrina_pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
        start >&2 || { cat "$dir/server.log" >&2; return 1; }
    PGPASSWORD="$password" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U vitrina vitrina_test ||
        return 1
    export VITRINA_PG_DIR="$dir"
    export VITRINA_TEST_PG_URL="postgresql+psycopg://vitrina:$password@127.0.0.1:$port/vitrina_test"
    echo "postgres.sh: PostgreSQL on 127.0.0.1:$port (data in $dir)" >&2
}

vitrina_pg_stop() {
    local dir="${1:-$VITRINA_PG_DIR}"
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        return 0
    fi
    _vitrina_pg_as_owner "$(vitrina_pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    rm -rf "$dir"
    unset VITRINA_PG_DIR VITRINA_TEST_PG_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            vitrina_pg_start
            printf 'export VITRINA_PG_DIR=%q\nexport VITRINA_TEST_PG_URL=%q\n' \
                "$VITRINA_PG_DIR" "$VITRINA_TEST_PG_URL"
            ;;
        stop) vitrina_pg_stop "${2:-}" ;;
        *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
    esac
fi
