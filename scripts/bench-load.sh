#!/usr/bin/env bash
# Load benchmarks (issue #6): our server on Postgres + Redis, then the Socket.IO reference
# (bench/socketio-ref, no persistence), each driven by chat-loadgen through the same
# scenarios: idle (hold connections), chat (steady sending), burst (everyone at once).
# Prints each run and a comparison; JSON lands in target/bench/load/.
#
# The defaults are the short version `just bench` runs (about 2 minutes after the build).
# Full runs set the sizes, e.g.:
#   BENCH_USERS=19500 BENCH_HOLD_SECS=600 BENCH_SCENARIOS=idle scripts/bench-load.sh
#   BENCH_USERS=50000 BENCH_SERVERS=3 BENCH_SCENARIOS=idle scripts/bench-load.sh
#   BENCH_USERS=19500 BENCH_RATE=0.5 BENCH_CHAT_SECS=60 BENCH_SCENARIOS=chat scripts/bench-load.sh
# A scenario may carry its own rate (messages per user per second), to sweep several in
# one run: BENCH_SCENARIOS="chat@0.1 chat@0.2 chat@0.3". BENCH_GROUP_SHARE is the share of
# messages sent to the user's group rather than its direct conversation (default 0.5).
#
# Needs Postgres and Redis (DATABASE_URL / REDIS_URL, default the local ones): it creates a
# throwaway database and a Redis key prefix, and removes both at the end. The reference needs
# Node.js and npm; without them it is skipped, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${BENCH_USERS:-2000}
servers=${BENCH_SERVERS:-1}
hold_secs=${BENCH_HOLD_SECS:-10}
chat_secs=${BENCH_CHAT_SECS:-10}
rate=${BENCH_RATE:-1}
group_size=${BENCH_GROUP_SIZE:-10}
burst=${BENCH_BURST:-5}
group_share=${BENCH_GROUP_SHARE:-0.5}
scenarios=${BENCH_SCENARIOS:-idle chat burst}
reference=${BENCH_REFERENCE:-1}
port=${BENCH_PORT:-18282}
admin_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
out=target/bench/load
mkdir -p "$out"

# Each scenario: extra chat-loadgen arguments.
scenario_args() {
    case $1 in
        idle) echo "--scenario idle --hold-secs $hold_secs" ;;
        chat) echo "--scenario chat --duration-secs $chat_secs --rate $rate --group-share $group_share" ;;
        chat@*) echo "--scenario chat --duration-secs $chat_secs --rate ${1#chat@} --group-share $group_share" ;;
        burst) echo "--scenario burst --burst-messages $burst --burst-spread-ms 200 --group-share $group_share" ;;
        *) echo "*** bench: unknown scenario $1 (idle, chat, chat@RATE, burst) ***" >&2; return 1 ;;
    esac
}
for scenario in $scenarios; do scenario_args "$scenario" >/dev/null; done

cargo build --release --locked -p chat-server -p chatctl -p chat-loadgen >/dev/null
bin=target/release

if ! psql "$admin_url" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    echo "*** bench: Postgres is not reachable at DATABASE_URL ($admin_url); see the README's setup ***" >&2
    exit 1
fi
if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
    echo "*** bench: Redis is not reachable at REDIS_URL ($redis_url); see the README's setup ***" >&2
    exit 1
fi

run_id="bench_$$_$(date +%s)"
database_url="${admin_url%/*}/$run_id"
prefix="$run_id:"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $run_id" 2>/dev/null || true
    redis-cli -u "$redis_url" --scan --pattern "$prefix*" | xargs -r -n 500 redis-cli -u "$redis_url" del >/dev/null || true
}
trap cleanup EXIT

psql "$admin_url" -qc "CREATE DATABASE $run_id"
export JWT_SECRET
JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
DATABASE_URL=$database_url "$bin/chatctl" migrate >/dev/null
DATABASE_URL=$database_url "$bin/chatctl" seed-load --users "$users" --group-size "$group_size" --out "$out/users.json"
# Fresh statistics, as a database in service has: otherwise autovacuum analyses the seeded
# tables in the middle of the first scenario and takes its CPU.
psql "$database_url" -qc 'VACUUM ANALYZE'

wait_for_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "*** bench: nothing listens on port $1 ***" >&2
    return 1
}

reports=()
server_pids=()
reuse=()
[ "$servers" -gt 1 ] && reuse=(--reuse-port)
for n in $(seq 1 "$servers"); do
    # mimalloc purges freed memory only when the process allocates again, so an idle server's
    # RSS still holds the 19 MiB of its start-up password hash, which the first connections
    # release: memory per connection would come out too low. Purging at once makes the
    # baseline what is in use; it cost no measurable CPU (docs/performance.md).
    MIMALLOC_PURGE_DELAY=${MIMALLOC_PURGE_DELAY:-0} \
        DATABASE_URL=$database_url REDIS_URL=$redis_url CHAT_REDIS_PREFIX=$prefix CHAT_LISTEN=127.0.0.1:$port \
        CHAT_DATA_DIR=$(mktemp -d) RUST_LOG=warn "$bin/chat-server" "${reuse[@]}" >"$out/server-$n.log" 2>&1 &
    pids+=($!)
    server_pids+=(--server-pid "$!")
done
wait_for_port "$port"
sleep 1
for scenario in $scenarios; do
    label="ours-$scenario"
    # shellcheck disable=SC2046
    "$bin/chat-loadgen" run --server "127.0.0.1:$port" --users-file "$out/users.json" $(scenario_args "$scenario") \
        "${server_pids[@]}" --watch postgres --watch redis-server --label "$label" --out "$out/$label.json"
    reports+=("$out/$label.json")
    echo
done
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
pids=()

if [ "$reference" = 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d bench/socketio-ref/node_modules ]; then
        (cd bench/socketio-ref && npm ci --silent --no-audit --no-fund)
    fi
    ref_port=$((port + 1))
    node bench/socketio-ref/server.js "$ref_port" >"$out/socketio.log" 2>&1 &
    pids+=($!)
    ref_pid=$!
    wait_for_port "$ref_port"
    sleep 1
    for scenario in $scenarios; do
        label="socketio-$scenario"
        # shellcheck disable=SC2046
        "$bin/chat-loadgen" run --protocol socket-io --server "127.0.0.1:$ref_port" --users "$users" \
            --group-size "$group_size" $(scenario_args "$scenario") --server-pid "$ref_pid" --label "$label" \
            --out "$out/$label.json"
        reports+=("$out/$label.json")
        echo
    done
elif [ "$reference" = 1 ]; then
    echo "*** bench: Socket.IO reference SKIPPED: node and npm are needed (BENCH_REFERENCE=0 silences this) ***" >&2
fi

echo "== summary ($(nproc) cores; $users users; groups of $group_size; $servers server process(es)) =="
"$bin/chat-loadgen" compare "${reports[@]}"
