#!/usr/bin/env bash
# Measures the release binary's size and the embedded server's resident memory when idle.
# Prints a small table; record full runs in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# The same packages as bench-load.sh: a different set unifies other features and rebuilds.
cargo build --release --locked -p chat-server -p chatctl -p chat-loadgen >/dev/null
binary=target/release/chat-server
port=${BENCH_PORT:-18181}
data_dir=$(mktemp -d)
CHAT_LISTEN="127.0.0.1:$port" CHAT_DATA_DIR="$data_dir" RUST_LOG=warn "$binary" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -rf "$data_dir"' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.05
done
sleep 1
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
rss_at_start=$(rss_kib)
# One registration warms the password hasher (19 MiB argon2 buffer) and the allocator.
curl -fs -X POST "http://127.0.0.1:$port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"username":"bench.user","password":"bench password","display_name":"Bench"}' >/dev/null
sleep 1
size_bytes=$(stat -c %s "$binary")
printf '%-34s %s\n' "metric" "value"
printf '%-34s %.1f MiB (%s bytes)\n' "release binary size" "$(echo "$size_bytes / 1048576" | bc -l)" "$size_bytes"
printf '%-34s %s KiB\n' "idle RSS at start" "$rss_at_start"
printf '%-34s %s KiB\n' "idle RSS after 1 registration" "$(rss_kib)"
printf '%-34s %s\n' "threads" "$(awk '/^Threads/ {print $2}' "/proc/$pid/status")"
printf '%-34s %s\n' "machine" "$(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB"
