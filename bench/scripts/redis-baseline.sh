#!/usr/bin/env bash
# redis-baseline.sh: runs `redis-benchmark -t set,get` against a local 3-node kvorum cluster
# and against redis-server on the same machine in the same run, and reports throughput, the
# kvorum/redis ratios and server CPU seconds per 100k operations.
#
# Why ratios: the machines this runs on are shared and noisy, so absolute figures drift
# between runs; only contenders measured side by side, alternating, are comparable.
#
# Contenders:
#   kvorum            `kvorum dev`: 3 nodes, N=3, QUORUM (2 of 3), fsync=always (group commit)
#   redis             redis-server without persistence (--save '' --appendonly no)
#   redis-aof-always  redis-server with --appendonly yes --appendfsync always, the closest
#                     redis setting to kvorum's fsync of every write
#
# Everything runs on loopback, on ports away from the defaults (kvorum 26379-26381 RESP,
# 27379-27381 QUIC; redis 26479 and 26480), in a fresh temporary folder, so a cluster or
# redis-server the user runs on the usual ports is never touched. Only processes this script
# started are stopped, by pid.
#
# Settings (environment):
#   KVORUM_BIN   kvorum binary to use; when unset, `cargo build --release -p kvorum-node`
#   REQUESTS     requests per test (default 100000)
#   CLIENTS      parallel connections (default 50)
#   PIPELINES    pipeline depths to run (default "1 16")
#   REPEAT       repetitions of every (contender, pipeline); the table shows medians (default 3)
#   KEYSPACE     when set, adds `-r KEYSPACE` (random keys); unset, every request uses one key,
#                as the plain `redis-benchmark -t set,get` does
#   RUN_TIMEOUT  seconds one redis-benchmark run may take before the script fails (default 300)
#   OUT          JSON results file (default bench-results/redis-baseline.json)
#
# Needs: bash, coreutils, awk, redis-server/redis-cli/redis-benchmark (installed with apt-get
# when missing), cargo unless KVORUM_BIN is set.

set -euo pipefail

REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
REPEAT=${REPEAT:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
KEYSPACE=${KEYSPACE:-}
KVORUM_PORT=26379
REDIS_PORT=26479
REDIS_AOF_PORT=26480
NODES=3
CONTENDERS=(kvorum redis redis-aof-always)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/bench-results/redis-baseline.json}

say() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'redis-baseline: FAILED: %s\n' "$*" >&2
	exit 1
}

# --- tools -------------------------------------------------------------------------------

ensure_redis_tools() {
	local missing=0 tool
	for tool in redis-server redis-cli redis-benchmark; do
		command -v "$tool" >/dev/null 2>&1 || missing=1
	done
	[[ $missing -eq 0 ]] && return 0
	say "installing redis-server and redis-tools with apt-get"
	local sudo=()
	if [[ $EUID -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "redis-server/redis-tools are missing and this is not root (no sudo)"
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y redis-server redis-tools
}

ensure_kvorum_bin() {
	if [[ -n ${KVORUM_BIN:-} ]]; then
		[[ -x $KVORUM_BIN ]] || die "KVORUM_BIN=$KVORUM_BIN is not an executable"
		return 0
	fi
	say "building kvorum (cargo build --release -p kvorum-node)"
	(cd "$ROOT" && cargo build --release -p kvorum-node)
	local target=${CARGO_TARGET_DIR:-target}
	[[ $target == /* ]] || target=$ROOT/$target
	KVORUM_BIN=$target/release/kvorum
	[[ -x $KVORUM_BIN ]] || die "build finished but $KVORUM_BIN is missing"
}

# --- processes ---------------------------------------------------------------------------

WORK=""
DEV_PID=""
BENCH_PID=""
KVORUM_PIDS=()
declare -A SERVER_PID=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
		# `timeout` passes the signal on to its redis-benchmark.
		kill -TERM "$BENCH_PID" 2>/dev/null || true
		wait "$BENCH_PID" 2>/dev/null || true
	fi
	if [[ -n $DEV_PID ]] && kill -0 "$DEV_PID" 2>/dev/null; then
		say "stopping kvorum dev (pid $DEV_PID)"
		kill -TERM "$DEV_PID" 2>/dev/null || true
		# `kvorum dev` stops its nodes itself (SIGTERM, then SIGKILL after 10 s).
		local waited=0
		while kill -0 "$DEV_PID" 2>/dev/null && [[ $waited -lt 30 ]]; do
			sleep 1
			waited=$((waited + 1))
		done
		if kill -0 "$DEV_PID" 2>/dev/null; then
			say "kvorum dev did not stop within 30 s; killing it and its nodes"
			local node
			for node in "${KVORUM_PIDS[@]}"; do
				# Only a pid that is still our dev process's child is one of our nodes.
				if [[ $(awk '{sub(/.*\) /, ""); print $2}' "/proc/$node/stat" 2>/dev/null) == "$DEV_PID" ]]; then
					kill -KILL "$node" 2>/dev/null || true
				fi
			done
			kill -KILL "$DEV_PID" 2>/dev/null || true
		fi
		wait "$DEV_PID" 2>/dev/null || true
	fi
	local name pid
	for name in "${!SERVER_PID[@]}"; do
		pid=${SERVER_PID[$name]}
		if kill -0 "$pid" 2>/dev/null; then
			say "stopping $name (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ $rc -ne 0 ]]; then
			# Keep the logs of a failed run where the user can read them.
			local keep
			keep=$ROOT/bench-results/redis-baseline-failed-logs
			rm -rf "$keep"
			mkdir -p "$keep"
			(cd "$WORK" && find . \( -name '*.log' -o -name '*.out' -o -name '*.err' \) \
				-exec cp --parents {} "$keep" \;) 2>/dev/null || true
			say "logs of the failed run copied to $keep"
		fi
		rm -rf "$WORK"
	fi
	exit "$rc"
}

wait_for_ping() {
	local port=$1 what=$2 i
	for ((i = 0; i < 300; i++)); do
		if [[ $(redis-cli -p "$port" ping 2>/dev/null || true) == PONG ]]; then
			return 0
		fi
		sleep 0.1
	done
	die "$what on port $port did not answer PING within 30 s"
}

# Fails when something already listens on a TCP port of ours: PING would reach that server
# and the figures would be someone else's.
ensure_port_free() {
	local port=$1
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "port $port is already in use; stop what listens there and run again"
	fi
}

start_kvorum() {
	local i
	for ((i = 0; i < NODES; i++)); do
		ensure_port_free $((KVORUM_PORT + i))
	done
	say "starting kvorum dev ($NODES nodes, RESP ports $KVORUM_PORT-$((KVORUM_PORT + NODES - 1)))"
	"$KVORUM_BIN" dev --nodes "$NODES" --base-port "$KVORUM_PORT" --data-dir "$WORK/kvorum" \
		>"$WORK/kvorum-dev.log" 2>&1 &
	DEV_PID=$!
	for ((i = 0; i < 300; i++)); do
		mapfile -t KVORUM_PIDS < <(grep -oE 'pid +[0-9]+' "$WORK/kvorum-dev.log" 2>/dev/null | awk '{print $2}')
		[[ ${#KVORUM_PIDS[@]} -ge $NODES ]] && break
		kill -0 "$DEV_PID" 2>/dev/null || die "kvorum dev exited: $(cat "$WORK/kvorum-dev.log")"
		sleep 0.1
	done
	[[ ${#KVORUM_PIDS[@]} -eq $NODES ]] || die "kvorum dev printed no pids for $NODES nodes"
	local pid ppid
	for pid in "${KVORUM_PIDS[@]}"; do
		ppid=$(proc_field "$pid" 4)
		[[ $ppid == "$DEV_PID" ]] || die "pid $pid is not a child of kvorum dev ($DEV_PID)"
	done
	for ((i = 0; i < NODES; i++)); do
		wait_for_ping $((KVORUM_PORT + i)) "kvorum node n$((i + 1))"
		kill -0 "${KVORUM_PIDS[$i]}" 2>/dev/null || die "kvorum node n$((i + 1)) exited; see its node.log"
	done
	# PING answers before the nodes have reached each other; a quorum write proves they have.
	for ((i = 0; i < NODES; i++)); do
		local port=$((KVORUM_PORT + i)) ok=0 j
		for ((j = 0; j < 300; j++)); do
			if [[ $(redis-cli -p "$port" set redis-baseline:ready "$i" 2>/dev/null || true) == OK ]]; then
				ok=1
				break
			fi
			sleep 0.1
		done
		[[ $ok -eq 1 ]] || die "kvorum node on port $port did not accept a quorum write within 30 s"
	done
	say "kvorum nodes up: pids ${KVORUM_PIDS[*]}"
}

start_redis() {
	local name=$1 port=$2
	shift 2
	ensure_port_free "$port"
	mkdir -p "$WORK/$name"
	redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/$name" --save '' "$@" \
		--logfile "$WORK/$name/redis.log" &
	SERVER_PID[$name]=$!
	wait_for_ping "$port" "$name"
	kill -0 "${SERVER_PID[$name]}" 2>/dev/null || die "$name exited: $(cat "$WORK/$name/redis.log")"
	say "$name up on port $port (pid ${SERVER_PID[$name]}): $*"
}

# --- measuring ---------------------------------------------------------------------------

# Field N (1-based, as in proc(5)) of /proc/<pid>/stat; the command name may hold spaces, so
# fields are counted from after its closing parenthesis.
proc_field() {
	local pid=$1 n=$2 stat rest
	stat=$(<"/proc/$pid/stat") || die "process $pid is gone"
	rest=${stat##*) }
	local -a f
	read -r -a f <<<"$rest"
	echo "${f[$((n - 3))]}"
}

# "utime stime", in clock ticks, of all the given pids together.
cpu_ticks() {
	local user=0 sys=0 pid
	for pid in "$@"; do
		user=$((user + $(proc_field "$pid" 14)))
		sys=$((sys + $(proc_field "$pid" 15)))
	done
	echo "$user $sys"
}

pids_of() {
	case $1 in
	kvorum) echo "${KVORUM_PIDS[*]}" ;;
	*) echo "${SERVER_PID[$1]}" ;;
	esac
}

port_of() {
	case $1 in
	kvorum) echo "$KVORUM_PORT" ;;
	redis) echo "$REDIS_PORT" ;;
	redis-aof-always) echo "$REDIS_AOF_PORT" ;;
	esac
}

# Results: one line per run, "contender pipeline repetition set_ops get_ops cpu_s wall_s".
RUNS=()

run_one() {
	local contender=$1 pipeline=$2 rep=$3
	local port pids before after t0 t1 out err rc
	port=$(port_of "$contender")
	read -r -a pids <<<"$(pids_of "$contender")"
	local cmd=(redis-benchmark -p "$port" -t "set,get" -n "$REQUESTS" -c "$CLIENTS")
	[[ $pipeline -gt 1 ]] && cmd+=(-P "$pipeline")
	[[ -n $KEYSPACE ]] && cmd+=(-r "$KEYSPACE")
	cmd+=(--csv)
	out=$WORK/run-$contender-P$pipeline-$rep.out
	err=$WORK/run-$contender-P$pipeline-$rep.err
	say "run $rep/$REPEAT  $contender  -P $pipeline:  ${cmd[*]}"
	before=$(cpu_ticks "${pids[@]}")
	t0=$(date +%s.%N)
	rc=0
	# In the background and waited for, so that a signal to this script is acted on at once.
	timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$out" 2>"$err" &
	BENCH_PID=$!
	wait "$BENCH_PID" || rc=$?
	BENCH_PID=""
	t1=$(date +%s.%N)
	after=$(cpu_ticks "${pids[@]}")
	if [[ $rc -eq 124 ]]; then
		die "$contender -P $pipeline: redis-benchmark did not finish within $RUN_TIMEOUT s"
	fi
	# redis-benchmark 7 exits non-zero on the first error reply ("Error from server: ...").
	if [[ $rc -ne 0 ]] || grep -qiE 'error|ERR ' "$out" "$err"; then
		cat "$out" "$err" >&2
		die "$contender -P $pipeline: redis-benchmark exited $rc or reported errors (above)"
	fi
	if [[ -s $err ]]; then
		say "redis-benchmark said on stderr: $(tr '\n' ' ' <"$err")"
	fi
	local set_ops get_ops
	set_ops=$(awk -F'"' '$2 == "SET" {print $4}' "$out")
	get_ops=$(awk -F'"' '$2 == "GET" {print $4}' "$out")
	[[ -n $set_ops && -n $get_ops ]] || {
		cat "$out" >&2
		die "$contender -P $pipeline: no SET/GET figures in the CSV output"
	}
	local cpu_s user_s sys_s wall_s b a
	read -r -a b <<<"$before"
	read -r -a a <<<"$after"
	user_s=$(awk -v d=$((a[0] - b[0])) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d / hz}')
	sys_s=$(awk -v d=$((a[1] - b[1])) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d / hz}')
	cpu_s=$(awk -v u="$user_s" -v s="$sys_s" 'BEGIN {printf "%.2f", u + s}')
	wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
	say "    SET $set_ops ops/s, GET $get_ops ops/s, server CPU $cpu_s s (user $user_s, system $sys_s), wall $wall_s s"
	RUNS+=("$contender $pipeline $rep $set_ops $get_ops $cpu_s $wall_s $user_s $sys_s")
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Median of column `col` (4 = SET, 5 = GET, 6 = CPU s) over the repetitions of one contender
# and pipeline.
stat_of() {
	local contender=$1 pipeline=$2 col=$3
	printf '%s\n' "${RUNS[@]}" | awk -v c="$contender" -v p="$pipeline" -v k="$col" \
		'$1 == c && $2 == p {print $k}' | median
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "null"}'; }

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# --- main --------------------------------------------------------------------------------

main() {
	local v
	for v in REQUESTS CLIENTS REPEAT RUN_TIMEOUT; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
	done
	[[ -z $KEYSPACE || $KEYSPACE =~ ^[1-9][0-9]*$ ]] || die "KEYSPACE must be a positive integer"
	for v in $PIPELINES; do
		[[ $v =~ ^[1-9][0-9]*$ ]] || die "PIPELINES must hold positive integers (got '$v')"
	done
	ensure_redis_tools
	# The commit is read before the build, so that it names what is built; "uncommitted changes"
	# means changes in the sources the binary is built from.
	local commit
	commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n ${KVORUM_BIN:-} ]]; then
		commit="$commit checked out; kvorum binary given by KVORUM_BIN"
	elif [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- \
		Cargo.toml Cargo.lock ring consistency resp node 2>/dev/null || true) ]]; then
		commit="$commit (with uncommitted changes)"
	fi
	ensure_kvorum_bin
	CLK_TCK=$(getconf CLK_TCK)

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvorum-redis-baseline.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	# The machine, as the report needs it.
	local cpu_model mem_gib os fs redis_version kvorum_version date_utc
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem_gib=$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
	# shellcheck source=/dev/null
	os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}" || echo unknown)
	fs=$(df -PT "$WORK" | awk 'NR == 2 {print $2}')
	redis_version=$(redis-server --version | awk '{print $3}')
	redis_version=${redis_version#v=}
	kvorum_version=$("$KVORUM_BIN" --version)
	date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)

	start_kvorum
	start_redis redis "$REDIS_PORT" --appendonly no
	start_redis redis-aof-always "$REDIS_AOF_PORT" --appendonly yes --appendfsync always

	# Alternate contenders inside every repetition so drift of the machine hits all alike.
	local rep pipeline contender
	for ((rep = 1; rep <= REPEAT; rep++)); do
		for pipeline in $PIPELINES; do
			for contender in "${CONTENDERS[@]}"; do
				run_one "$contender" "$pipeline" "$rep"
			done
		done
	done

	# Every server must still be up: a node that died mid-run would make the figures lie.
	local pid
	for pid in "${KVORUM_PIDS[@]}" "${SERVER_PID[@]}"; do
		kill -0 "$pid" 2>/dev/null || die "server pid $pid exited during the benchmark"
	done

	# Warnings and errors the nodes logged during the run are part of the result.
	local log warnings=0 n
	for log in "$WORK"/kvorum/n*/node.log; do
		n=$(grep -cE '\b(WARN|ERROR)\b' "$log" || true)
		if [[ $n -gt 0 ]]; then
			say "$n warning/error lines in ${log#"$WORK"/}; the first ones:"
			grep -E '\b(WARN|ERROR)\b' "$log" | head -n 5 >&2
		fi
		warnings=$((warnings + n))
	done

	# --- report ---
	local ops_per_run=$((2 * REQUESTS))
	local table rows_json="" runs_json="" line
	table="| contender | pipeline | SET ops/s | GET ops/s | SET vs redis | GET vs redis | SET vs redis-aof-always | GET vs redis-aof-always | server CPU s per 100k ops |"
	table+=$'\n'"|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for pipeline in $PIPELINES; do
		local base_set base_get aof_set aof_get
		base_set=$(stat_of redis "$pipeline" 4)
		base_get=$(stat_of redis "$pipeline" 5)
		aof_set=$(stat_of redis-aof-always "$pipeline" 4)
		aof_get=$(stat_of redis-aof-always "$pipeline" 5)
		for contender in "${CONTENDERS[@]}"; do
			local s g cpu cpu100k rs rg as ag
			s=$(stat_of "$contender" "$pipeline" 4)
			g=$(stat_of "$contender" "$pipeline" 5)
			cpu=$(stat_of "$contender" "$pipeline" 6)
			cpu100k=$(awk -v c="$cpu" -v n="$ops_per_run" 'BEGIN {printf "%.2f", c * 100000 / n}')
			rs=$(ratio "$s" "$base_set")
			rg=$(ratio "$g" "$base_get")
			as=$(ratio "$s" "$aof_set")
			ag=$(ratio "$g" "$aof_get")
			table+=$'\n'"| $contender | $pipeline | $(printf '%.0f' "$s") | $(printf '%.0f' "$g") | $rs | $rg | $as | $ag | $cpu100k |"
			[[ -n $rows_json ]] && rows_json+=","
			rows_json+=$'\n'"    {\"contender\": \"$contender\", \"pipeline\": $pipeline, \"set_ops_per_s\": $s, \"get_ops_per_s\": $g, \"set_ratio_to_redis\": $rs, \"get_ratio_to_redis\": $rg, \"set_ratio_to_redis_aof_always\": $as, \"get_ratio_to_redis_aof_always\": $ag, \"server_cpu_s\": $cpu, \"server_cpu_s_per_100k_ops\": $cpu100k}"
		done
	done
	for line in "${RUNS[@]}"; do
		local f
		read -r -a f <<<"$line"
		[[ -n $runs_json ]] && runs_json+=","
		runs_json+=$'\n'"    {\"contender\": \"${f[0]}\", \"pipeline\": ${f[1]}, \"repetition\": ${f[2]}, \"set_ops_per_s\": ${f[3]}, \"get_ops_per_s\": ${f[4]}, \"server_cpu_s\": ${f[5]}, \"server_user_s\": ${f[7]}, \"server_system_s\": ${f[8]}, \"wall_s\": ${f[6]}}"
	done

	local machine
	machine=$(
		cat <<EOF
- command: \`bench/scripts/redis-baseline.sh\` (REQUESTS=$REQUESTS CLIENTS=$CLIENTS PIPELINES="$PIPELINES" REPEAT=$REPEAT${KEYSPACE:+ KEYSPACE=$KEYSPACE})
- date: $date_utc
- commit: $commit ($kvorum_version)
- cpu: $(nproc) cores, $cpu_model
- memory: $mem_gib GiB
- kernel: $(uname -r), $os
- data folder filesystem: $fs
- redis-server: $redis_version
EOF
	)
	printf '\n%s\n\n%s\n\n' "$machine" "$table"
	echo "kvorum node logs: $warnings warning/error line(s)."
	echo "Figures are medians of $REPEAT repetition(s); server CPU is utime+stime of the server processes (all $NODES kvorum nodes together), per 100k operations (SET and GET runs together: $ops_per_run operations per run)."

	mkdir -p "$(dirname "$OUT")"
	cat >"$OUT" <<EOF
{
  "format": 1,
  "command": "bench/scripts/redis-baseline.sh",
  "settings": {"requests": $REQUESTS, "clients": $CLIENTS, "pipelines": $(json_str "$PIPELINES"), "repeat": $REPEAT, "keyspace": ${KEYSPACE:-null}, "nodes": $NODES},
  "kvorum_node_log_warnings": $warnings,
  "machine": {
    "date": $(json_str "$date_utc"),
    "commit": $(json_str "$commit"),
    "kvorum_version": $(json_str "$kvorum_version"),
    "cores": $(nproc),
    "cpu_model": $(json_str "$cpu_model"),
    "memory_gib": $mem_gib,
    "kernel": $(json_str "$(uname -r)"),
    "os": $(json_str "$os"),
    "data_filesystem": $(json_str "$fs"),
    "redis_server_version": $(json_str "$redis_version")
  },
  "contenders": {
    "kvorum": "kvorum dev: $NODES nodes, replication 3, consistency QUORUM, fsync always (group commit)",
    "redis": "redis-server --save '' --appendonly no",
    "redis-aof-always": "redis-server --save '' --appendonly yes --appendfsync always"
  },
  "summary": [$rows_json
  ],
  "runs": [$runs_json
  ]
}
EOF
	say "results written to $OUT"
}

main "$@"
