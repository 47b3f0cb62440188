#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup and the functions it calls run from a trap
# Runs the Redis-compatibility suites (compat/python with redis-py, compat/redis-cli.sh with the
# real redis-cli) against a target this script starts and stops itself.
#
#   compat/run.sh --redis                      a fresh redis-server (validates the suites)
#   compat/run.sh --kvorum PATH_TO_KVORUM      a fresh 3-node `kvorum dev` cluster
#   compat/run.sh --external HOST PORT[,PORT]  a target that is already running (not stopped)
#
# Anything after `--` goes to pytest (e.g. `-- -k strings -x`). Environment:
#   COMPAT_VENV           virtualenv to use/create (default compat/.venv)
#   COMPAT_REDIS_SERVER   redis-server binary for --redis (default: redis-server on PATH)
#   COMPAT_PASSWORD       password of an --external target
#   COMPAT_TARGET         redis or kvorum: what an --external target is (default kvorum)
#   COMPAT_KVORUM_ARGS    extra arguments for `kvorum dev` (e.g. "--fsync never")
#   COMPAT_KEEP=1         keep the temporary folder (logs, data) after the run
# Every step has a time limit; only processes started here are stopped, by pid, also on failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST=127.0.0.1
INSTALL_TIMEOUT=${COMPAT_INSTALL_TIMEOUT:-900}
START_TIMEOUT=${COMPAT_START_TIMEOUT:-60}
PYTEST_TIMEOUT=${COMPAT_PYTEST_TIMEOUT:-1200}
CLI_TIMEOUT=${COMPAT_CLI_SUITE_TIMEOUT:-600}
BENCH_TIMEOUT=${COMPAT_BENCH_TIMEOUT:-900}

usage() {
    # The comment block at the top of this file, after the shellcheck line.
    awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "${BASH_SOURCE[0]}"
    exit 2
}

MODE=""
KVORUM_BIN=""
EXTERNAL_PORTS=""
PYTEST_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --redis) MODE=redis; shift ;;
        --kvorum)
            [[ $# -ge 2 ]] || usage
            MODE=kvorum; KVORUM_BIN=$2; shift 2 ;;
        --external)
            [[ $# -ge 3 ]] || usage
            MODE=external; HOST=$2; EXTERNAL_PORTS=$3; shift 3 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
[[ -n "$MODE" ]] || usage

log() { echo "[compat] $*"; }

# --- what the run needs ------------------------------------------------------------------------

apt_install() {
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "missing: $* (install the Debian packages $*)" >&2
        exit 2
    fi
    log "installing $*"
    timeout "$INSTALL_TIMEOUT" apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" apt-get install -y -q "$@" >/dev/null
}

if ! command -v redis-cli >/dev/null; then
    apt_install redis-tools
fi
REDIS_SERVER=${COMPAT_REDIS_SERVER:-redis-server}
if [[ $MODE == redis ]] && ! command -v "$REDIS_SERVER" >/dev/null; then
    apt_install redis-server redis-tools
fi
if [[ $MODE == kvorum ]]; then
    [[ -x "$KVORUM_BIN" ]] || { echo "not an executable: $KVORUM_BIN" >&2; exit 2; }
    KVORUM_BIN=$(cd "$(dirname "$KVORUM_BIN")" && pwd)/$(basename "$KVORUM_BIN")
fi

VENV=${COMPAT_VENV:-$HERE/.venv}
STAMP="$VENV/.compat-requirements"
if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s "$HERE/requirements.txt" "$STAMP"; then
    log "preparing the virtualenv in $VENV"
    if ! timeout "$INSTALL_TIMEOUT" python3 -m venv --clear "$VENV"; then
        apt_install python3-venv
        timeout "$INSTALL_TIMEOUT" python3 -m venv --clear "$VENV"
    fi
    timeout "$INSTALL_TIMEOUT" "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$STAMP"
fi

# --- processes we start, and how they stop -----------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvorum-compat.XXXXXX")
STARTED=()       # pids of processes this script started
STEP_PID=""      # the suite running now
NODE_PIDS=()     # pids of the nodes `kvorum dev` started (stopped by it; killed only as a fallback)

alive() { kill -0 "$1" 2>/dev/null; }

stop_pid() {
    local pid=$1 grace=$2
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    log "pid $pid did not stop within ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$STEP_PID" ]]; then
        stop_pid "$STEP_PID" 5
    fi
    for pid in "${STARTED[@]}"; do
        stop_pid "$pid" 15
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${NODE_PIDS[@]}"; do
        # Only if the pid still runs a node of this run's cluster folder.
        if alive "$pid" && grep -qs "$WORK" "/proc/$pid/cmdline"; then
            stop_pid "$pid" 5
        fi
    done
    if [[ $status -ne 0 ]]; then
        for logfile in "$WORK"/*.log "$WORK"/kvorum/n*/node.log; do
            [[ -f "$logfile" ]] || continue
            echo "--- last lines of $logfile"
            tail -n 20 "$logfile"
        done
    fi
    if [[ "${COMPAT_KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_ports OFFSET...: a base port p such that p+OFFSET is free on loopback, for TCP and UDP.
free_base() {
    "$VENV/bin/python" - "$@" <<'EOF'
import random, socket, sys
offsets = [int(x) for x in sys.argv[1:]]
for _ in range(200):
    base = random.randrange(20000, 30000)
    sockets = []
    try:
        for off in offsets:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                sockets.append(s)
                s.bind(("127.0.0.1", base + off))
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free ports found")
EOF
}

# wait_ready PORT [PASSWORD]: until the target answers PING on PORT.
wait_ready() {
    local port=$1 password=${2:-}
    local auth=()
    [[ -n "$password" ]] && auth=(--no-auth-warning -a "$password")
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if [[ "$(timeout 5 redis-cli -h "$HOST" -p "$port" "${auth[@]}" PING 2>/dev/null)" == PONG ]]; then
            return 0
        fi
        for pid in "${STARTED[@]}"; do
            alive "$pid" || { log "a process this run started (pid $pid) has exited"; return 1; }
        done
        sleep 0.2
    done
    log "port $port did not answer PING within ${START_TIMEOUT}s"
    return 1
}

# wait_writable PORT: until a write succeeds through PORT (a cluster answers PING before its
# nodes have found each other, and writes need a quorum of them).
wait_writable() {
    local port=$1
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        local reply
        reply=$(timeout 5 redis-cli -h "$HOST" -p "$port" SET "compat:ready:$port" 1 2>/dev/null || true)
        if [[ "$reply" == OK ]]; then
            timeout 5 redis-cli -h "$HOST" -p "$port" DEL "compat:ready:$port" >/dev/null 2>&1 || true
            return 0
        fi
        sleep 0.5
    done
    log "port $port did not accept a write within ${START_TIMEOUT}s"
    return 1
}

start_redis() {
    local port=$1 name=$2
    shift 2
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$WORK" --logfile "$WORK/$name.log" "$@" </dev/null &
    STARTED+=($!)
}

PASSWORD_PORT=""
PASSWORD=""
case $MODE in
    redis)
        base=$(free_base 0 1)
        PORTS=("$base" "$base" "$base")
        PASSWORD_PORT=$((base + 1))
        PASSWORD="compat-$RANDOM$RANDOM"
        TARGET=redis
        log "starting $("$REDIS_SERVER" --version | cut -d' ' -f1-3) on port $base"
        start_redis "$base" redis
        log "starting a redis-server with a password on port $PASSWORD_PORT"
        start_redis "$PASSWORD_PORT" redis-auth --requirepass "$PASSWORD"
        wait_ready "$base"
        wait_ready "$PASSWORD_PORT" "$PASSWORD"
        ;;
    kvorum)
        base=$(free_base 0 1 2 1000 1001 1002 3000 3001 3002)
        PORTS=("$base" $((base + 1)) $((base + 2)))
        TARGET=kvorum
        log "starting a 3-node kvorum dev cluster on ports ${PORTS[*]}"
        # shellcheck disable=SC2086 # COMPAT_KVORUM_ARGS is a list of words
        "$KVORUM_BIN" dev --nodes 3 --base-port "$base" --data-dir "$WORK/kvorum" \
            ${COMPAT_KVORUM_ARGS:-} </dev/null >"$WORK/kvorum-dev.log" 2>&1 &
        STARTED+=($!)
        for port in "${PORTS[@]}"; do
            wait_ready "$port"
        done
        mapfile -t NODE_PIDS < <(grep -oE 'pid +[0-9]+' "$WORK/kvorum-dev.log" | grep -oE '[0-9]+')
        for port in "${PORTS[@]}"; do
            wait_writable "$port"
        done
        # A second, one-node cluster with a password, for the AUTH suite.
        PASSWORD_PORT=$(free_base 0 1000 3000)
        PASSWORD="compat-$RANDOM$RANDOM"
        log "starting a 1-node kvorum dev cluster with a password on port $PASSWORD_PORT"
        "$KVORUM_BIN" dev --nodes 1 --replication 1 --base-port "$PASSWORD_PORT" \
            --data-dir "$WORK/kvorum-auth" --requirepass "$PASSWORD" \
            </dev/null >"$WORK/kvorum-auth-dev.log" 2>&1 &
        STARTED+=($!)
        wait_ready "$PASSWORD_PORT" "$PASSWORD"
        mapfile -t -O "${#NODE_PIDS[@]}" NODE_PIDS \
            < <(grep -oE 'pid +[0-9]+' "$WORK/kvorum-auth-dev.log" | grep -oE '[0-9]+')
        ;;
    external)
        IFS=, read -r -a PORTS <<<"$EXTERNAL_PORTS"
        TARGET=${COMPAT_TARGET:-kvorum}
        PASSWORD=${COMPAT_PASSWORD:-}
        for port in "${PORTS[@]}"; do
            wait_ready "$port" "$PASSWORD"
        done
        ;;
esac

# --- the suites --------------------------------------------------------------------------------

FAILED=()
# run_step NAME COMMAND...: runs one suite in the background and waits for it, so that a signal
# to this script is handled at once (cleanup stops the suite too).
run_step() {
    local name=$1
    shift
    log "== $name"
    "$@" </dev/null &
    STEP_PID=$!
    if wait "$STEP_PID"; then
        log "== $name: passed"
    else
        log "== $name: FAILED (exit $?)"
        FAILED+=("$name")
    fi
}

ports_csv=$(IFS=,; echo "${PORTS[*]}")
export COMPAT_HOST=$HOST COMPAT_TARGET=$TARGET
main_password=""
[[ $MODE == external ]] && main_password=$PASSWORD

run_step "redis-py suites (RESP2 and RESP3)" \
    env COMPAT_PORTS="$ports_csv" COMPAT_PASSWORD="$main_password" \
    timeout "$PYTEST_TIMEOUT" "$VENV/bin/python" -m pytest "$HERE/python" -q "${PYTEST_ARGS[@]}"

run_step "redis-cli suite" \
    env COMPAT_PASSWORD="$main_password" \
    timeout "$CLI_TIMEOUT" "$HERE/redis-cli.sh" "$HOST" "${PORTS[@]}"

if [[ -n "$PASSWORD_PORT" ]]; then
    run_step "AUTH suite (target with a password)" \
        env COMPAT_PORTS="$PASSWORD_PORT" COMPAT_PASSWORD="$PASSWORD" \
        timeout "$PYTEST_TIMEOUT" "$VENV/bin/python" -m pytest "$HERE/python/test_auth.py" -q
    run_step "redis-cli suite (target with a password)" \
        env COMPAT_PASSWORD="$PASSWORD" \
        timeout "$CLI_TIMEOUT" "$HERE/redis-cli.sh" "$HOST" "$PASSWORD_PORT"
fi

if [[ $MODE == kvorum ]]; then
    run_step "redis-benchmark" timeout "$BENCH_TIMEOUT" "$HERE/redis-benchmark.sh" "$HOST" "${PORTS[0]}"
fi

if [[ ${#FAILED[@]} -eq 0 ]]; then
    log "every step passed"
    exit 0
fi
log "failed steps: ${FAILED[*]}"
exit 1
