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

# A local S3 server for the chat-s3 tests: s3s-fs, which verifies SigV4 signatures and expiry
# (moto and s3rver do not). Uses the one answering on 127.0.0.1:9000, else starts the installed
# one, else installs it with cargo (it needs rust >= 1.92), then exports what the tests read.
ensure_s3() {
    local port="${S3_TEST_PORT:-9000}"
    local endpoint="http://127.0.0.1:${port}"
    local access_key="${S3_TEST_ACCESS_KEY:-chat-test}"
    local secret_key="${S3_TEST_SECRET_KEY:-chat-test-secret}"
    # A port that takes connections means a server is there (bash's /dev/tcp: no curl needed).
    s3_answers() { (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; }
    if ! s3_answers; then
        if ! command -v s3s-fs >/dev/null 2>&1; then
            cargo install s3s-fs@0.14.1 --features binary --locked
        fi
        local root="${TMPDIR:-/tmp}/chat-s3s-fs"
        mkdir -p "$root"
        # Its own session, so it outlives the shell that started it (as redis-server --daemonize).
        setsid nohup s3s-fs --host 127.0.0.1 --port "$port" --access-key "$access_key" \
            --secret-key "$secret_key" "$root" >"${TMPDIR:-/tmp}/chat-s3s-fs.log" 2>&1 &
        for _ in $(seq 1 50); do s3_answers && break; sleep 0.2; done
        s3_answers || { echo "s3s-fs did not start: see ${TMPDIR:-/tmp}/chat-s3s-fs.log" >&2; return 1; }
    fi
    export S3_TEST_ENDPOINT="$endpoint" S3_TEST_ACCESS_KEY="$access_key" S3_TEST_SECRET_KEY="$secret_key"
    echo "s3 (s3s-fs) is up on $endpoint"
}

# Everything the suite needs, once.
ensure_test_services() {
    ensure_postgres
    ensure_redis
    ensure_s3
}
