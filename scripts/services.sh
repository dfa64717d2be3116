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

# ffmpeg and ffprobe for the media worker's video and voice processing (chat-ffmpeg's tests).
ensure_ffmpeg() {
    if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
        as_root_install ffmpeg
    fi
    echo "ffmpeg $(ffmpeg -hide_banner -version | awk 'NR == 1 {print $3}') is installed"
}

# clamd for the chat-clamav tests, on loopback with a signature database the project makes itself
# (freshclam cannot download here): the EICAR test file by its MD5 and size (.hdb) and by its
# body at the start of a file (.ndb, so it is found with trailing bytes too; only at offset 0,
# so the zip test shows clamd unpacked the archive). Neither holds the EICAR string itself.
# Uses the clamd answering PING on 127.0.0.1:${CLAMD_TEST_PORT:-3310}, else starts Debian's
# (installed if missing) with our clamd.conf in its own session, so it outlives the shell,
# and waits for its PONG.
ensure_clamd() {
    local host=127.0.0.1 port="${CLAMD_TEST_PORT:-3310}"
    local dir="${TMPDIR:-/tmp}/chat-clamd"
    clamd_pongs() {
        local reply
        reply=$( (exec 3<>"/dev/tcp/${host}/${port}" && printf 'zPING\0' >&3 && timeout 2 cat <&3 | tr -d '\0') 2>/dev/null)
        [ "$reply" = "PONG" ]
    }
    if ! clamd_pongs; then
        if ! command -v clamd >/dev/null 2>&1 && [ ! -x /usr/sbin/clamd ]; then
            as_root_install clamav-daemon clamav
        fi
        mkdir -p "$dir/db"
        # The EICAR test file (68 bytes): MD5:size:name, and its body in hex.
        echo "44d88612fea8a8f36de82e1278abb02f:68:Chat-Test.EICAR" >"$dir/db/chat-test.hdb"
        echo "Chat-Test.EICAR-Body:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a" >"$dir/db/chat-test.ndb"
        # StreamMaxLength above the 25 MiB file limit; archives unpacked (EICAR inside a zip).
        cat >"$dir/clamd.conf" <<CONF
TCPSocket ${port}
TCPAddr ${host}
LocalSocket ${dir}/clamd.sock
DatabaseDirectory ${dir}/db
LogFile ${dir}/clamd.log
PidFile ${dir}/clamd.pid
Foreground yes
StreamMaxLength 30M
MaxFileSize 30M
ScanArchive yes
CONF
        local clamd_bin
        clamd_bin=$(command -v clamd || echo /usr/sbin/clamd)
        setsid nohup "$clamd_bin" -c "$dir/clamd.conf" >"$dir/clamd.out" 2>&1 &
        for _ in $(seq 1 100); do clamd_pongs && break; sleep 0.2; done
        clamd_pongs || { echo "clamd did not start: see $dir/clamd.out and $dir/clamd.log" >&2; return 1; }
    fi
    export CLAMD_ADDR="${host}:${port}"
    # Our clamd also listens on a unix socket, which the tests use too.
    if [ -S "$dir/clamd.sock" ]; then export CLAMD_TEST_SOCKET="$dir/clamd.sock"; fi
    echo "clamd is up on $CLAMD_ADDR"
}

# heif-convert decodes HEIC/HEIF uploads (chat-image runs it; the server needs it at run time
# too); heif-enc, from the same package with its x265 encoder, makes the tests' HEIC samples.
ensure_heif() {
    if ! command -v heif-convert >/dev/null 2>&1 || ! command -v heif-enc >/dev/null 2>&1; then
        as_root_install libheif-examples
    fi
    heif-enc --list-encoders 2>/dev/null | grep -q x265 || { echo "heif-enc has no HEIC (x265) encoder" >&2; return 1; }
    echo "heif-convert $(heif-convert --help 2>&1 | awk '/libheif version/ {print $4; exit}') is installed"
}

# coturn for the calls tests: each test starts its own turnserver on a free loopback port with
# the TURN REST scheme (use-auth-secret) and checks handed-out credentials with
# turnutils_uclient, so nothing is started here. (On a machine with systemd, Debian's package
# may start its own coturn on 3478; the tests do not use it.)
ensure_coturn() {
    if ! command -v turnserver >/dev/null 2>&1 || ! command -v turnutils_uclient >/dev/null 2>&1; then
        as_root_install coturn
    fi
    echo "coturn $(turnserver --version 2>/dev/null | head -1) is installed"
}

# Debian's chromium for the browser tests (playwright-core drives it; a browser download cannot
# work here). Its wrapper script prints a harmless "[: unexpected operator" on some machines.
ensure_chromium() {
    if [ ! -x /usr/bin/chromium ]; then
        as_root_install chromium
    fi
    echo "$(/usr/bin/chromium --version 2>/dev/null) is installed"
}

# Node.js 20 or later with npm, to run the browser tests (tests/browser).
ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        as_root_install nodejs npm
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" -lt 20 ]; then
        echo "node $(node --version) is too old for the browser tests: they need 20 or later" >&2
        return 1
    fi
    echo "node $(node --version) and npm $(npm --version) are installed"
}

# What tests/browser/run.sh needs besides Postgres (its Redis and coturn it starts itself):
# chromium, Node.js, coturn, redis-server, and unshare and ip for its network namespace.
ensure_browser_test_deps() {
    ensure_chromium
    ensure_node
    ensure_coturn
    if ! command -v redis-server >/dev/null 2>&1; then as_root_install redis-server; fi
    if ! command -v unshare >/dev/null 2>&1; then as_root_install util-linux; fi
    if ! command -v ip >/dev/null 2>&1; then as_root_install iproute2; fi
}

# Everything the suite needs, once.
ensure_test_services() {
    ensure_postgres
    ensure_redis
    ensure_s3
    ensure_ffmpeg
    ensure_clamd
    ensure_heif
    ensure_coturn
}
