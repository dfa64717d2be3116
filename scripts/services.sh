#!/usr/bin/env bash
# The services the test suite talks to, brought up once for `scripts/test` and `.ci/run`:
# each `ensure_*` uses the one already running, else starts the installed one, else (as root)
# installs it from Debian's packages and starts it, then exports the URL the tests read.
# Sourced, not run. A service the coming issues need (an S3 server, clamd, ...) gets its
# `ensure_*` here and one line in `ensure_test_services`.

as_root_install() {
    if [ "$(id -u)" != "0" ]; then
        echo "missing: $* (install it, or run this script as root to have it installed)" >&2
        return 1
    fi
    if [ -z "${_apt_updated:-}" ]; then
        apt-get update -qq
        _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Postgres with pg_trgm and unaccent (the migrations create them).
ensure_postgres() {
    local url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    if ! command -v psql >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
        if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
            as_root_install postgresql postgresql-contrib
        fi
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
        for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
    fi
    if ! psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
        # A fresh Debian cluster wants a password on TCP: give the postgres role one for tests.
        su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null
        url="postgres://postgres:postgres@127.0.0.1:5432/postgres"
    fi
    psql "$url" -Atqc 'SELECT 1' >/dev/null
    local extensions
    extensions=$(psql "$url" -Atqc "SELECT count(*) FROM pg_available_extensions WHERE name IN ('pg_trgm', 'unaccent')")
    if [ "$extensions" != "2" ]; then
        as_root_install postgresql-contrib
    fi
    export DATABASE_URL="$url"
    echo "postgres $(psql "$url" -Atqc "SHOW server_version") is up on 127.0.0.1:5432"
}

# Redis for the shared-services tests (the tests also start redis-server processes of their own).
ensure_redis() {
    local url="${REDIS_URL:-redis://127.0.0.1:6379}"
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        as_root_install redis-server
    fi
    if ! redis-cli -u "$url" ping >/dev/null 2>&1; then
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log
        for _ in $(seq 1 50); do redis-cli -u "$url" ping >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    export REDIS_URL="$url"
    echo "redis $(redis-cli -u "$url" info server | awk -F: '/^redis_version/ {print $2}' | tr -d '\r') is up"
}

# Everything the suite needs, once.
ensure_test_services() {
    ensure_postgres
    ensure_redis
}
