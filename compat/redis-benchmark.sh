#!/usr/bin/env bash
# The real redis-benchmark against one node: the supported commands of
# `redis-benchmark -t set,get,incr,lpush,sadd,hset,mset -n 100000 -c 50` must run with no
# error, and the unsupported one (LPUSH: no list type) must answer a clean "unknown command"
# error. redis-benchmark stops at the first error, so the unsupported command runs on its own.
#
#   compat/redis-benchmark.sh HOST PORT [REQUESTS]
set -euo pipefail
HOST=${1:?host}
PORT=${2:?port}
REQUESTS=${3:-100000}

out=$(redis-benchmark -h "$HOST" -p "$PORT" -t set,get,incr,sadd,hset,mset \
    -n "$REQUESTS" -c 50 -q 2>&1 | tr '\r' '\n' || true)
# (here-strings, not `echo | grep -q`: with pipefail, grep closing early fails the pipe)
grep -E 'requests per second' <<<"$out" || true
if grep -qiE 'error' <<<"$out"; then
    echo "redis-benchmark reported an error on a supported command:" >&2
    grep -iE 'error' <<<"$out" >&2
    exit 1
fi
for test in SET GET INCR SADD HSET MSET; do
    if ! grep -qE "^ *${test}[^:]*: [0-9.]+ requests per second" <<<"$out"; then
        echo "redis-benchmark did not finish the $test test" >&2
        exit 1
    fi
done

# redis-benchmark exits non-zero on the error: that is the expected outcome here.
unsupported=$(redis-benchmark -h "$HOST" -p "$PORT" -t lpush -n 10 -c 1 -q 2>&1 | tr '\r' '\n' || true)
if ! grep -q "ERR unknown command 'LPUSH'" <<<"$unsupported"; then
    echo "LPUSH did not answer a clean unknown-command error:" >&2
    echo "$unsupported" >&2
    exit 1
fi
echo "LPUSH (unsupported): ERR unknown command, as expected"
