#!/usr/bin/env bash
# Runs the browser tests (calls.test.js) against target/debug/chat-server, or $CHAT_SERVER_BIN.
# Needs Debian's chromium, Node.js with npm, coturn, redis-server and a local Postgres; scripts/test
# ensures them (ensure_browser_test_deps in scripts/services.sh) and builds the server first.
#
# The tests run in a network namespace of their own whose only interface is loopback (as root,
# or as a user where unprivileged user namespaces are allowed): the browsers' ICE candidates can
# then only be loopback addresses, so no call leaves 127.0.0.1 whatever interfaces the machine
# has. The server's Postgres is reached over its unix socket, which a namespace does not hide;
# Redis and coturn are started inside by the tests.
set -euo pipefail
cd "$(dirname "$0")"

# The pinned playwright-core from package-lock.json; it drives the system chromium, downloading no browser.
npm ci --no-audit --no-fund --loglevel=error

run_tests='ip link set lo up && exec node --test --test-concurrency=1 --test-timeout=120000'
if unshare --net true 2>/dev/null; then
    exec unshare --net sh -c "$run_tests"
elif unshare --user --map-root-user --net true 2>/dev/null; then
    exec unshare --user --map-root-user --net sh -c "$run_tests"
else
    echo "browser tests: cannot make a network namespace here; running on the machine's own network" >&2
    exec node --test --test-concurrency=1 --test-timeout=120000
fi
