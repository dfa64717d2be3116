#!/usr/bin/env bash
# Message search benchmark (issue #15, docs/performance.md "Message search").
#
# 1. A dedicated database (BENCH_SEARCH_DB, default chat_search_bench) migrated and seeded by
#    `chatctl seed-search` (BENCH_SEARCH_MESSAGES messages, default 1,000,000; a benchmark
#    user in 100 conversations holding 5% of them; 500 senders, each in a group of its own
#    that the benchmark user is not in; BENCH_SEED_ARGS adds arguments, e.g.
#    "--senders-in-bench-groups"), then VACUUM ANALYZE.
# 2. The sizes of `messages` and its indexes.
# 3. The release server on it (Postgres + Redis under a key prefix of its own), then
#    `chat-loadgen search`: the benchmark user's queries at BENCH_SEARCH_RATE a second
#    (default 0.95, which the server's default limit of 60 searches a minute per user
#    sustains) for BENCH_SEARCH_SECS (default 600), first alone, then while the senders send
#    BENCH_SEND_RATE messages a second (default 500).
# 4. What the search columns and indexes cost a send: the same sends for BENCH_SEND_SECS
#    (default 60) with no searches, with migration 000006's schema; then with `search_vector`
#    and the indexes 000006 added dropped by hand (`search_text` stays: this server writes
#    it); then with them made again (so the "without" run sits between two "with" runs).
#    Same binary throughout.
# 5. The plans of every search statement (auto_explain), where Postgres's log is readable.
#
# BENCH_SEARCH_KEEP_DB=1 keeps the database for a look afterwards (drop it yourself).
# Results (JSON) land in target/bench/search/.
set -euo pipefail
cd "$(dirname "$0")/.."

messages=${BENCH_SEARCH_MESSAGES:-1000000}
seed=${BENCH_SEARCH_SEED:-42}
secs=${BENCH_SEARCH_SECS:-600}
search_rate=${BENCH_SEARCH_RATE:-0.95}
send_secs=${BENCH_SEND_SECS:-60}
send_rate=${BENCH_SEND_RATE:-500}
database=${BENCH_SEARCH_DB:-chat_search_bench}
port=${BENCH_PORT:-18383}
admin_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
out=target/bench/search
mkdir -p "$out"
: >"$out/server.log"

cargo build --release --locked -p chat-server -p chatctl -p chat-loadgen >/dev/null
# Where cargo put them (CARGO_TARGET_DIR, when set, moves them).
bin=${CARGO_TARGET_DIR:-target}/release

if ! psql "$admin_url" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    echo "*** bench: Postgres is not reachable at DATABASE_URL ($admin_url); see the README's setup ***" >&2
    exit 1
fi
if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
    echo "*** bench: Redis is not reachable at REDIS_URL ($redis_url); see the README's setup ***" >&2
    exit 1
fi

database_url="${admin_url%/*}/$database"
prefix="search_bench_$$:"
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ "${BENCH_SEARCH_KEEP_DB:-0}" != 1 ]; then
        psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database" 2>/dev/null || true
    fi
    redis-cli -u "$redis_url" --scan --pattern "$prefix*" | xargs -r -n 500 redis-cli -u "$redis_url" del >/dev/null || true
}
trap cleanup EXIT

psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database"
psql "$admin_url" -qc "CREATE DATABASE $database"
export JWT_SECRET
JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
DATABASE_URL=$database_url "$bin/chatctl" migrate >/dev/null
# shellcheck disable=SC2086 # BENCH_SEED_ARGS is a list of arguments
DATABASE_URL=$database_url CHAT_DATA_DIR=$(mktemp -d) "$bin/chatctl" seed-search --messages "$messages" --seed "$seed" \
    --out "$out/seed.json" ${BENCH_SEED_ARGS:-} | tee "$out/seed.txt"
# Fresh statistics and visibility maps, and the GIN indexes' pending lists merged, as in a
# database in service.
psql "$database_url" -qc 'VACUUM ANALYZE'

echo "== sizes =="
sizes() {
    psql "$database_url" -P footer=off -c "
        SELECT c.relname AS relation, pg_size_pretty(pg_relation_size(c.oid)) AS size, pg_relation_size(c.oid) AS bytes
        FROM pg_class c
        WHERE c.oid = 'messages'::regclass
           OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'messages'::regclass)
           OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'messages'::regclass)
        ORDER BY bytes DESC" -c "
        SELECT pg_size_pretty(pg_table_size('messages')) AS table_with_toast,
               pg_size_pretty(pg_indexes_size('messages')) AS all_indexes,
               pg_size_pretty(pg_total_relation_size('messages')) AS total,
               (SELECT count(*) FROM messages) AS rows"
}
sizes | tee "$out/sizes.txt"

# The senders send BENCH_SEND_RATE / 500 a second each (one a second by default, the whole
# of the default limit of 60 a minute, so the limit is raised to refuse none). The search
# limit (60 a minute per user by default) is raised too when the server has a setting for
# it and BENCH_SEARCH_LIMIT_ENV names it, for search rates above 1 a second.
limits=(CHAT_RATE_MESSAGES_PER_MINUTE=60000)
if [ -n "${BENCH_SEARCH_LIMIT_ENV:-}" ]; then
    "$bin/chat-server" --help | grep -q "$BENCH_SEARCH_LIMIT_ENV" || {
        echo "*** bench: chat-server has no setting $BENCH_SEARCH_LIMIT_ENV ***" >&2
        exit 1
    }
    limits+=("$BENCH_SEARCH_LIMIT_ENV=1000000")
fi
start_server() {
    env "${limits[@]}" \
        DATABASE_URL=$database_url REDIS_URL=$redis_url CHAT_REDIS_PREFIX=$prefix CHAT_LISTEN=127.0.0.1:$port \
        CHAT_DATA_DIR=$(mktemp -d) RUST_LOG=warn "$bin/chat-server" >>"$out/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "*** bench: the server did not start; see $out/server.log ***" >&2
    return 1
}
stop_server() {
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    server_pid=
}
loadgen() {
    local label=$1
    shift
    "$bin/chat-loadgen" search --server "127.0.0.1:$port" --seed-file "$out/seed.json" \
        --server-pid "$server_pid" --watch postgres --watch redis-server --label "$label" --out "$out/$label.json" "$@"
    echo
}

start_server
loadgen search-alone --duration-secs "$secs" --search-rate "$search_rate" --send-rate 0
loadgen search-while-sending --duration-secs "$secs" --search-rate "$search_rate" --send-rate "$send_rate"
loadgen sends-with-index --duration-secs "$send_secs" --search-rate 0 --send-rate "$send_rate"
stop_server

# Without the index: drop what 000006 added for search except `search_text`, keeping the
# definitions to make them again.
psql "$database_url" -Atqc "
    SELECT indexdef || ';' FROM pg_indexes
    WHERE tablename = 'messages' AND indexname IN ('messages_search_text_trgm', 'messages_conversation_time')" \
    >"$out/indexes.sql"
generated=$(psql "$database_url" -Atqc "
    SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
    JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
    WHERE d.adrelid = 'messages'::regclass AND a.attname = 'search_vector'")
gin=$(psql "$database_url" -Atqc "SELECT indexdef || ';' FROM pg_indexes WHERE tablename = 'messages' AND indexname = 'messages_search_vector'")
[ -n "$generated" ] && [ -n "$gin" ] && [ "$(wc -l <"$out/indexes.sql")" = 2 ] || {
    echo "*** bench: migration 000006's columns and indexes are not as this script expects ***" >&2
    exit 1
}
psql "$database_url" -qc "DROP INDEX messages_search_text_trgm, messages_conversation_time" \
    -c "ALTER TABLE messages DROP COLUMN search_vector" -c "VACUUM ANALYZE messages"
echo "== sizes without the search index =="
sizes | tee "$out/sizes-without.txt"
start_server
loadgen sends-without-index --duration-secs "$send_secs" --search-rate 0 --send-rate "$send_rate"
stop_server

psql "$database_url" -qc "ALTER TABLE messages ADD COLUMN search_vector tsvector NOT NULL GENERATED ALWAYS AS ($generated) STORED" \
    -c "$gin" -f "$out/indexes.sql" -c "VACUUM ANALYZE messages"
start_server
loadgen sends-with-index-again --duration-secs "$send_secs" --search-rate 0 --send-rate "$send_rate"
stop_server

# The plans of every query shape, as the server runs them: auto_explain logs each statement
# with ANALYZE and BUFFERS into Postgres's log, from which the benchmark database's entries
# are copied (only where this user may read that log).
log_file=$(psql "$admin_url" -Atqc "SELECT coalesce(current_setting('data_directory') || '/' || pg_current_logfile(), '')" 2>/dev/null || true)
[ -r "$log_file" ] || log_file=$(ls -t /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -1 || true)
if [ -n "$log_file" ] && [ -r "$log_file" ]; then
    psql "$admin_url" -qc "ALTER DATABASE $database SET session_preload_libraries = 'auto_explain'" \
        -c "ALTER DATABASE $database SET auto_explain.log_min_duration = 0" \
        -c "ALTER DATABASE $database SET auto_explain.log_analyze = on" \
        -c "ALTER DATABASE $database SET auto_explain.log_buffers = on" \
        -c "ALTER DATABASE $database SET auto_explain.log_nested_statements = on"
    log_start=$(stat -c %s "$log_file")
    start_server
    # The check before the run searches each shape once; the run itself, one more round.
    "$bin/chat-loadgen" search --server "127.0.0.1:$port" --seed-file "$out/seed.json" --duration-secs 1 \
        --search-rate 8 --send-rate 0 --label explain >/dev/null
    stop_server
    tail -c +"$((log_start + 1))" "$log_file" | awk -v db="@$database " '
        /^[0-9]{4}-[0-9]{2}-[0-9]{2} / { keep = index($0, db) > 0 && index($0, "plan:") > 0 }
        keep' >"$out/explain.log"
    psql "$admin_url" -qc "ALTER DATABASE $database RESET ALL"
    echo "== plans of every search statement (auto_explain, ANALYZE, BUFFERS) in $out/explain.log =="
else
    echo "*** bench: Postgres's log is not readable here: no plans (see docs/performance.md for how to get them) ***" >&2
fi

echo "== summary ($(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(psql "$admin_url" -Atc 'SHOW server_version')) =="
jq -r '
    .label as $run | .shapes[] |
    [$run, .shape + (if .second_page then ", page 2" else "" end), .q, .p50_ms, .p95_ms, .p99_ms] | @tsv' \
    "$out/search-alone.json" "$out/search-while-sending.json" | column -t -s $'\t'
echo
jq -r '
    .label as $run | .sends | select(. != null) |
    [$run, "\(.acked_per_sec | floor)/s acked", "ack p50 \(.ack_latency.p50_ms) ms", "p99 \(.ack_latency.p99_ms) ms",
     "server \(.server_cpu_percent | floor)%", "postgres \(.watched_cpu_percent.postgres | floor)%",
     "postgres \((.watched_cpu_percent.postgres / 100 * .window_secs * 1000 / .acked * 1000 | floor) / 1000) CPU-ms/msg"] | @tsv' \
    "$out"/search-while-sending.json "$out"/sends-with-index.json "$out"/sends-without-index.json \
    "$out"/sends-with-index-again.json | column -t -s $'\t'
