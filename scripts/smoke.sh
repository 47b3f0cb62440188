#!/usr/bin/env bash
# The quick start, checked end to end with the real redis-cli: start `kvorum dev`, write through one
# node, read through another, kill the node on the second port, and check that QUORUM keeps working
# while CONSISTENCY ALL is refused with -UNAVAILABLE. Cleans up after itself; stops only the processes
# it started, by pid. Usage: scripts/smoke.sh [path-to-kvorum-binary]
set -euo pipefail

bin=${1:-${CARGO_TARGET_DIR:-target}/release/kvorum}
base=${SMOKE_BASE_PORT:-36379}
dir=$(mktemp -d)
dev_pid=""

cleanup() {
  if [[ -n "$dev_pid" ]] && kill -0 "$dev_pid" 2>/dev/null; then
    kill -TERM "$dev_pid"
    for _ in $(seq 1 150); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dev_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "smoke: FAILED: $*" >&2
  for log in "$dir"/data/n*/node.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
  exit 1
}

command -v redis-cli >/dev/null || fail "redis-cli is not installed (apt-get install redis-tools)"
[[ -x "$bin" ]] || fail "no kvorum binary at $bin (cargo build --release -p kvorum-node)"

"$bin" dev --data-dir "$dir/data" --base-port "$base" >"$dir/dev.out" 2>&1 &
dev_pid=$!

cli() { timeout 10 redis-cli -p "$1" "${@:2}"; }
# The last non-empty reply of a piped session (redis-cli adds a blank line after errors).
last() { cli "$1" | grep -v '^$' | tail -n 1; }

for port in "$base" $((base + 1)) $((base + 2)); do
  for _ in $(seq 1 200); do
    [[ "$(cli "$port" PING 2>/dev/null)" == "PONG" ]] && break
    sleep 0.1
  done
  [[ "$(cli "$port" PING 2>/dev/null)" == "PONG" ]] || fail "node on port $port did not start"
done
# Every peer link up: an ALL write succeeds.
for _ in $(seq 1 100); do
  [[ "$(printf 'CONSISTENCY ALL\nSET __ready 1\n' | last "$base")" == "OK" ]] && break
  sleep 0.1
done

[[ "$(cli "$base" SET k v)" == "OK" ]] || fail "SET through the first node"
[[ "$(cli $((base + 2)) GET k)" == "v" ]] || fail "GET through the third node"

# Kill the node on the second port (its pid is the child of `kvorum dev` with that config).
victim=$(pgrep -P "$dev_pid" -f "n2/node.toml") || fail "cannot find the second node's pid"
kill -KILL "$victim"

[[ "$(cli "$base" SET k2 v2)" == "OK" ]] || fail "QUORUM SET with one node down"
[[ "$(cli $((base + 2)) GET k2)" == "v2" ]] || fail "QUORUM GET with one node down"

reply=""
for _ in $(seq 1 100); do
  reply=$(printf 'CONSISTENCY ALL\nSET k3 v3\n' | last "$base")
  [[ "$reply" == UNAVAILABLE* ]] && break
  sleep 0.2
done
[[ "$reply" == UNAVAILABLE* ]] || fail "CONSISTENCY ALL + SET answered '$reply', expected UNAVAILABLE"
grep -q "node n2 exited" "$dir/dev.out" || fail "kvorum dev did not report the killed node"

echo "smoke: ok (SET/GET across nodes; node 2 killed: QUORUM works, ALL -> $reply)"
