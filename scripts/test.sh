#!/usr/bin/env bash
# Runs the test suites with node:test through tsx. Node 20 does not expand globs itself,
# so the shell does (globstar). Integration tests need a nats-server binary: this script
# asks scripts/nats-server.mjs for one (env NATS_SERVER_BIN, PATH, or a fetched Debian
# package in .cache/) and exports it as NATS_SERVER_BIN for the harness.
set -euo pipefail
shopt -s globstar nullglob
cd "$(dirname "$0")/.."

suite="${1:-all}"
files=()
case "$suite" in
  unit) files=(test/unit/**/*.test.ts test/model/**/*.test.ts) ;;
  integration) files=(test/integration/**/*.test.ts test/harness/**/*.test.ts) ;;
  all) files=(test/unit/**/*.test.ts test/model/**/*.test.ts test/harness/**/*.test.ts test/integration/**/*.test.ts) ;;
  compat) # KV and harness tests on the oldest supported server line (NATS_SERVER_VERSION, default 2.10);
     # an outer NATS_SERVER_BIN would mask the requested version, so it is dropped here.
     unset NATS_SERVER_BIN
     export NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-2.10}"
     files=(test/integration/kv-*.test.ts test/harness/**/*.test.ts) ;;
  *) # a list of files or globs given by the caller
     files=("$@") ;;
esac

if [ "${#files[@]}" -eq 0 ]; then
  echo "scripts/test.sh: no test files matched for '$suite'" >&2
  exit 1
fi

if [ "$suite" != unit ]; then
  NATS_SERVER_BIN="$(node scripts/nats-server.mjs)"
  export NATS_SERVER_BIN
  echo "using nats-server: $NATS_SERVER_BIN ($("$NATS_SERVER_BIN" --version))" >&2
fi

# A test file whose process never exits (a leaked connection reconnecting forever) would hang
# the run: each test gets a deadline, and the whole run a wall-clock cap.
exec timeout --kill-after=10s "${TEST_WALL_CLOCK:-900}" \
  node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=180000 "${files[@]}"
