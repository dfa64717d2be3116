# Tasks for working on the chat backend. `just --list` shows them.

# Run the server in embedded mode (everything in memory) on 127.0.0.1:8080.
run *ARGS:
    cargo run --release -p chat-server -- {{ARGS}}

# The test suite (the README's test command).
test:
    bash scripts/test

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI runs.
ci:
    bash .ci/run

# Benchmarks: release binary size and idle memory, then a short run of every load scenario
# against our server (Postgres + Redis) and the Socket.IO reference (docs/performance.md).
bench:
    bash scripts/bench-footprint.sh
    bash scripts/bench-load.sh

# The message search benchmark (docs/performance.md, "Message search"): seeds 1,000,000 messages
# into a database of its own (a few minutes), then times searches while messages are sent, and
# what the search index costs a send. BENCH_SEARCH_MESSAGES=50000 for a quick look.
bench-search:
    bash scripts/bench-search.sh
