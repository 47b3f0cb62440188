#!/usr/bin/env bash
# shellcheck disable=SC2016  # RESP frames and the inline script are literal on purpose
# Drives a Redis-protocol server with the real redis-cli and compares its exact output.
#
#   compat/redis-cli.sh HOST PORT [PORT...]
#
# Every check runs one redis-cli command (RESP2, or RESP3 with -3) and compares what redis-cli
# prints with what it prints against Redis 7. Writes go through one port and reads through the
# next, so a cluster is checked across nodes (give every node's port; against a single server the
# same port may be repeated). It also sends 10000 commands through `redis-cli --pipe` and inline
# commands over a raw TCP connection. Set COMPAT_PASSWORD when the target needs a password.
# Exits non-zero when any check fails.
set -u
set -o pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 HOST PORT [PORT...]" >&2
    exit 2
fi
HOST=$1
shift
PORTS=("$@")
NPORTS=${#PORTS[@]}
P0=${PORTS[0]}
P1=${PORTS[$((1 % NPORTS))]}
P2=${PORTS[$((2 % NPORTS))]}
CMD_TIMEOUT=${COMPAT_CLI_TIMEOUT:-15}
SCRATCH_DB=${COMPAT_SCRATCH_DB:-9}
# A prefix of our own: the run never touches keys it did not make.
PFX="compat:cli:$$:$RANDOM"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for tool in redis-cli timeout; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }
done

PASS=0
FAIL=0

# cli PORT [redis-cli options and command...]: one redis-cli call, typed (non-raw) output.
cli() {
    local port=$1
    shift
    local auth=()
    if [[ -n "${COMPAT_PASSWORD:-}" ]]; then
        auth=(--no-auth-warning -a "$COMPAT_PASSWORD")
    fi
    timeout "$CMD_TIMEOUT" redis-cli -h "$HOST" -p "$port" "${auth[@]}" "$@" 2>&1
}

report() {
    local name=$1 expected=$2 got=$3
    if [[ "$got" == "$expected" ]]; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $name"
        echo "  expected: $(printf '%q' "$expected")"
        echo "  got:      $(printf '%q' "$got")"
    fi
}

# The protocol of the current pass: every family runs once in RESP2 and once in RESP3.
PROTO=2

# check NAME EXPECTED PORT ARGS...: one command in the current protocol, redis-cli's typed output.
check() {
    local name=$1 expected=$2 port=$3
    shift 3
    report "$name [resp$PROTO]" "$expected" "$(cli "$port" "-$PROTO" --no-raw "$@")"
}

# check_sorted NAME EXPECTED PORT ARGS...: raw output, lines sorted (members of sets, hashes).
check_sorted() {
    local name=$1 expected=$2 port=$3
    shift 3
    report "$name [resp$PROTO]" "$expected" "$(cli "$port" "-$PROTO" --raw "$@" | LC_ALL=C sort)"
}

# by_proto RESP2_TEXT RESP3_TEXT: what redis-cli prints in the current protocol.
by_proto() {
    if [[ $PROTO == 2 ]]; then printf '%s' "$1"; else printf '%s' "$2"; fi
}

k() { echo "$PFX:resp$PROTO:$1"; }

# check_ttl NAME SECONDS PORT KEY: TTL is SECONDS, or up to 5 s less (time passes between calls).
check_ttl() {
    local name=$1 want=$2 port=$3 key=$4
    local got
    got=$(cli "$port" "-$PROTO" --no-raw TTL "$key")
    if [[ "$got" =~ ^\(integer\)\ ([0-9]+)$ ]]; then
        local seconds=${BASH_REMATCH[1]}
        if ((seconds <= want && seconds >= want - 5)); then
            got="(integer) $want"
        fi
    fi
    report "$name [resp$PROTO]" "(integer) $want" "$got"
}

# session PORT [OPTIONS]: the commands on standard input, over one connection, in order.
session() {
    local port=$1
    shift
    cli "$port" "-$PROTO" --no-raw "$@"
}

echo "redis-cli checks against $HOST ports ${PORTS[*]} ($(redis-cli --version))"

families() {
    # --- strings ----------------------------------------------------------------------------------
    check "SET" "OK" "$P0" SET "$(k s)" "hello world"
    check "GET across nodes" '"hello world"' "$P1" GET "$(k s)"
    check "GET missing" "(nil)" "$P2" GET "$(k missing)"
    check "SET NX existing" "(nil)" "$P0" SET "$(k s)" x NX
    check "SET XX missing" "(nil)" "$P0" SET "$(k xx)" x XX
    check "SET GET" '"hello world"' "$P1" SET "$(k s)" "bye" GET
    check "SET EX" "OK" "$P0" SET "$(k ex)" v EX 100
    check_ttl "TTL" 100 "$P1" "$(k ex)"
    check "SET KEEPTTL" "OK" "$P2" SET "$(k ex)" v2 KEEPTTL
    check_ttl "TTL after KEEPTTL" 100 "$P0" "$(k ex)"
    check "SET EX 0" "(error) ERR invalid expire time in 'set' command" "$P0" SET "$(k bad)" v EX 0
    check "SET NX XX" "(error) ERR syntax error" "$P0" SET "$(k bad)" v NX XX
    check "GETSET" '"bye"' "$P0" GETSET "$(k s)" again
    check "GETDEL" '"again"' "$P1" GETDEL "$(k s)"
    check "GETDEL gone" "(nil)" "$P2" GET "$(k s)"
    check "SETNX" "(integer) 1" "$P0" SETNX "$(k nx)" a
    check "SETNX again" "(integer) 0" "$P1" SETNX "$(k nx)" b
    check "GETEX PERSIST" '"v2"' "$P0" GETEX "$(k ex)" PERSIST
    check "TTL after PERSIST" "(integer) -1" "$P1" TTL "$(k ex)"
    check "SETEX" "OK" "$P0" SETEX "$(k setex)" 50 v
    check "PSETEX" "OK" "$P0" PSETEX "$(k psetex)" 50000 v
    check "APPEND" "(integer) 5" "$P0" APPEND "$(k app)" Hello
    check "APPEND more" "(integer) 11" "$P1" APPEND "$(k app)" " World"
    check "STRLEN" "(integer) 11" "$P2" STRLEN "$(k app)"
    check "GETRANGE" '"World"' "$P0" GETRANGE "$(k app)" -5 -1
    check "SETRANGE" "(integer) 11" "$P0" SETRANGE "$(k app)" 6 Redis
    check "after SETRANGE" '"Hello Redis"' "$P1" GET "$(k app)"
    check "MSET" "OK" "$P0" MSET "$(k m1)" 1 "$(k m2)" 2
    check "MGET" $'1) "1"\n2) (nil)\n3) "2"' "$P1" MGET "$(k m1)" "$(k missing)" "$(k m2)"
    check "MSETNX" "(integer) 0" "$P2" MSETNX "$(k m1)" x "$(k m3)" 3
    check "MSETNX left nothing" "(integer) 0" "$P0" EXISTS "$(k m3)"

    # --- counters ---------------------------------------------------------------------------------
    check "INCR new" "(integer) 1" "$P0" INCR "$(k n)"
    check "INCRBY" "(integer) 11" "$P1" INCRBY "$(k n)" 10
    check "DECR" "(integer) 10" "$P2" DECR "$(k n)"
    check "DECRBY" "(integer) 5" "$P0" DECRBY "$(k n)" 5
    check "GET counter" '"5"' "$P1" GET "$(k n)"
    check "SET then INCR" "OK" "$P0" SET "$(k n2)" 41
    check "INCR" "(integer) 42" "$P1" INCR "$(k n2)"
    check "INCR non-integer" "(error) ERR value is not an integer or out of range" "$P0" INCR "$(k app)"
    check "SET max" "OK" "$P0" SET "$(k max)" 9223372036854775807
    check "INCR overflow" "(error) ERR increment or decrement would overflow" "$P1" INCR "$(k max)"
    check "SET float" "OK" "$P0" SET "$(k f)" 10.5
    check "INCRBYFLOAT" '"10.6"' "$P1" INCRBYFLOAT "$(k f)" 0.1
    check "INCRBYFLOAT integral" '"11"' "$P2" INCRBYFLOAT "$(k f)" 0.4
    check "INCRBYFLOAT bad" "(error) ERR value is not a valid float" "$P0" INCRBYFLOAT "$(k app)" 1

    # --- keys and TTL -----------------------------------------------------------------------------
    check "EXISTS" "(integer) 2" "$P0" EXISTS "$(k n)" "$(k n)" "$(k missing)"
    check "TYPE string" "string" "$P1" TYPE "$(k n)"
    check "TYPE none" "none" "$P1" TYPE "$(k missing)"
    check "EXPIRE" "(integer) 1" "$P0" EXPIRE "$(k n)" 100
    check "EXPIRE NX" "(integer) 0" "$P1" EXPIRE "$(k n)" 200 NX
    check "EXPIRE GT" "(integer) 1" "$P2" EXPIRE "$(k n)" 200 GT
    check "EXPIRE LT" "(integer) 0" "$P0" EXPIRE "$(k n)" 300 LT
    check_ttl "TTL" 200 "$P1" "$(k n)"
    check "EXPIRE NX XX" \
        "(error) ERR NX and XX, GT or LT options at the same time are not compatible" \
        "$P0" EXPIRE "$(k n)" 1 NX XX
    check "EXPIREAT" "(integer) 1" "$P0" EXPIREAT "$(k n)" 4102444800
    check "EXPIRETIME" "(integer) 4102444800" "$P1" EXPIRETIME "$(k n)"
    check "PEXPIREAT" "(integer) 1" "$P0" PEXPIREAT "$(k n)" 4102444800123
    check "PEXPIRETIME" "(integer) 4102444800123" "$P2" PEXPIRETIME "$(k n)"
    check "PERSIST" "(integer) 1" "$P0" PERSIST "$(k n)"
    check "PTTL none" "(integer) -1" "$P1" PTTL "$(k n)"
    check "PTTL missing" "(integer) -2" "$P1" PTTL "$(k missing)"
    check "TOUCH" "(integer) 2" "$P0" TOUCH "$(k n)" "$(k n2)" "$(k missing)"
    check "RENAME" "OK" "$P0" RENAME "$(k n2)" "$(k n3)"
    check "RENAME gone" "(nil)" "$P1" GET "$(k n2)"
    check "RENAME arrived" '"42"' "$P2" GET "$(k n3)"
    check "RENAME missing" "(error) ERR no such key" "$P0" RENAME "$(k missing)" "$(k x)"
    check "RENAMENX" "(integer) 0" "$P0" RENAMENX "$(k n3)" "$(k n)"
    check "DEL" "(integer) 2" "$P1" DEL "$(k n)" "$(k n3)" "$(k missing)"
    check "UNLINK" "(integer) 1" "$P2" UNLINK "$(k m1)"
    check "SET PX" "OK" "$P0" SET "$(k short)" v PX 100
    sleep 0.3
    check "expired GET" "(nil)" "$P1" GET "$(k short)"
    check "expired EXISTS" "(integer) 0" "$P2" EXISTS "$(k short)"
    check "expired TTL" "(integer) -2" "$P0" TTL "$(k short)"
    check_sorted "KEYS" "$(k m2)" "$P1" KEYS "$(k m?)"
    check_sorted "SCAN MATCH" "$(k m2)" "$P2" --scan --pattern "$(k "m[0-9]")"

    # Whole-keyspace commands run in the scratch db, which they empty.
    check "FLUSHDB" "OK" "$P0" -n "$SCRATCH_DB" FLUSHDB
    check "DBSIZE empty" "(integer) 0" "$P1" -n "$SCRATCH_DB" DBSIZE
    check "RANDOMKEY empty" "(nil)" "$P2" -n "$SCRATCH_DB" RANDOMKEY
    check "MSET scratch" "OK" "$P0" -n "$SCRATCH_DB" MSET a 1 b 2 c 3
    check "DBSIZE" "(integer) 3" "$P1" -n "$SCRATCH_DB" DBSIZE
    check_sorted "KEYS scratch" $'a\nb\nc' "$P2" -n "$SCRATCH_DB" KEYS '*'
    check "db 0 does not see db $SCRATCH_DB" "(nil)" "$P0" -n 0 GET a
    check "FLUSHDB again" "OK" "$P0" -n "$SCRATCH_DB" FLUSHDB

    # --- hashes -----------------------------------------------------------------------------------
    check "HSET" "(integer) 2" "$P0" HSET "$(k h)" f1 v1 f2 v2
    check "HSET update" "(integer) 0" "$P1" HSET "$(k h)" f1 new
    check "HSETNX" "(integer) 0" "$P2" HSETNX "$(k h)" f1 x
    check "HGET" '"new"' "$P0" HGET "$(k h)" f1
    check "HMGET" $'1) "new"\n2) (nil)' "$P1" HMGET "$(k h)" f1 nope
    check "HMSET" "OK" "$P0" HMSET "$(k h1)" only one
    check "HGETALL" "$(by_proto $'1) "only"\n2) "one"' '1# "only" => "one"')" "$P1" HGETALL "$(k h1)"
    check "HGETALL missing" "$(by_proto "(empty array)" "(empty hash)")" "$P2" HGETALL "$(k missing)"
    check_sorted "HKEYS" $'f1\nf2' "$P2" HKEYS "$(k h)"
    check_sorted "HVALS" $'new\nv2' "$P0" HVALS "$(k h)"
    check "HLEN" "(integer) 2" "$P1" HLEN "$(k h)"
    check "HEXISTS" "(integer) 1" "$P2" HEXISTS "$(k h)" f2
    check "HSTRLEN" "(integer) 3" "$P0" HSTRLEN "$(k h)" f1
    check "HINCRBY" "(integer) 7" "$P0" HINCRBY "$(k h)" n 7
    check "HINCRBY not integer" "(error) ERR hash value is not an integer" "$P1" HINCRBY "$(k h)" f1 1
    check "HINCRBYFLOAT" '"7.5"' "$P2" HINCRBYFLOAT "$(k h)" n 0.5
    check "HDEL" "(integer) 2" "$P0" HDEL "$(k h)" f1 n nope
    check "HRANDFIELD" '"only"' "$P1" HRANDFIELD "$(k h1)"
    check "HRANDFIELD WITHVALUES" "$(by_proto $'1) "only"\n2) "one"' $'1) 1) "only"\n   2) "one"')" \
        "$P2" HRANDFIELD "$(k h1)" 1 WITHVALUES
    check "HRANDFIELD negative" $'1) "only"\n2) "only"' "$P0" HRANDFIELD "$(k h1)" -2
    check "HSCAN" $'1) "0"\n2) 1) "only"\n   2) "one"' "$P0" HSCAN "$(k h1)" 0

    # --- sets -------------------------------------------------------------------------------------
    check "SADD" "(integer) 3" "$P0" SADD "$(k s1)" a b c
    check "SADD again" "(integer) 1" "$P1" SADD "$(k s1)" a d
    check "SREM" "(integer) 1" "$P2" SREM "$(k s1)" d nope
    check_sorted "SMEMBERS" $'a\nb\nc' "$P0" SMEMBERS "$(k s1)"
    check "SADD one" "(integer) 1" "$P0" SADD "$(k s2)" b
    check "SMEMBERS one" "$(by_proto '1) "b"' '1~ "b"')" "$P1" SMEMBERS "$(k s2)"
    check "SMEMBERS missing" "$(by_proto "(empty array)" "(empty set)")" "$P1" SMEMBERS "$(k missing)"
    check "SISMEMBER" "(integer) 1" "$P2" SISMEMBER "$(k s1)" a
    check "SMISMEMBER" $'1) (integer) 1\n2) (integer) 0' "$P0" SMISMEMBER "$(k s1)" a z
    check "SCARD" "(integer) 3" "$P1" SCARD "$(k s1)"
    check "SINTER" "$(by_proto '1) "b"' '1~ "b"')" "$P2" SINTER "$(k s1)" "$(k s2)"
    check_sorted "SUNION" $'a\nb\nc' "$P0" SUNION "$(k s1)" "$(k s2)"
    check_sorted "SDIFF" $'a\nc' "$P1" SDIFF "$(k s1)" "$(k s2)"
    check "SINTERCARD" "(integer) 1" "$P2" SINTERCARD 2 "$(k s1)" "$(k s2)"
    check "SINTERCARD LIMIT" "(integer) 2" "$P0" SINTERCARD 1 "$(k s1)" LIMIT 2
    check "SMOVE" "(integer) 1" "$P0" SMOVE "$(k s2)" "$(k s3)" b
    check "SMOVE emptied source" "(integer) 0" "$P1" EXISTS "$(k s2)"
    check "SRANDMEMBER one" '"b"' "$P2" SRANDMEMBER "$(k s3)"
    check "SRANDMEMBER negative" $'1) "b"\n2) "b"' "$P0" SRANDMEMBER "$(k s3)" -2
    check "SPOP" '"b"' "$P1" SPOP "$(k s3)"
    check "SPOP emptied" "(integer) 0" "$P2" EXISTS "$(k s3)"
    check "SSCAN missing" $'1) "0"\n2) (empty array)' "$P0" SSCAN "$(k missing)" 0
    check "SADD for SSCAN" "(integer) 1" "$P0" SADD "$(k s5)" only
    check "SSCAN one" $'1) "0"\n2) 1) "only"' "$P1" SSCAN "$(k s5)" 0

    # --- errors -----------------------------------------------------------------------------------
    WT="(error) WRONGTYPE Operation against a key holding the wrong kind of value"
    check "WRONGTYPE GET on set" "$WT" "$P0" GET "$(k s1)"
    check "WRONGTYPE SADD on string" "$WT" "$P1" SADD "$(k app)" x
    check "WRONGTYPE HGET on set" "$WT" "$P2" HGET "$(k s1)" f
    check "WRONGTYPE INCR on hash" "$WT" "$P0" INCR "$(k h)"
    check "arity GET" "(error) ERR wrong number of arguments for 'get' command" "$P0" GET
    check "arity HSET" "(error) ERR wrong number of arguments for 'hset' command" "$P1" HSET "$(k h)" f
    check "arity SADD" "(error) ERR wrong number of arguments for 'sadd' command" "$P2" SADD "$(k s1)"
    check "unknown command" "(error) ERR unknown command 'NOSUCH', with args beginning with: 'a' " \
        "$P0" NOSUCH a

    # --- connection and server --------------------------------------------------------------------
    check "PING" "PONG" "$P0" PING
    check "PING message" '"hi"' "$P1" PING hi
    check "ECHO" '"a b"' "$P2" ECHO "a b"
    check "SELECT" "OK" "$P0" SELECT 15
    check "SELECT out of range" "(error) ERR DB index is out of range" "$P0" SELECT 16
    check "CONFIG GET unknown" "$(by_proto "(empty array)" "(empty hash)")" "$P1" CONFIG GET nosuchparameter
    check "CONFIG GET databases" "$(by_proto $'1) "databases"\n2) "16"' '1# "databases" => "16"')" \
        "$P1" CONFIG GET databases
    report "HELLO 3 fields" $'server\nversion\nproto\nid\nmode\nrole\nmodules' \
        "$(cli "$P2" -3 --no-raw HELLO 3 | sed -E 's/^ *[0-9]+# "([a-z]+)" =>.*/\1/')"
    report "HELLO 3 proto" '3# "proto" => (integer) 3' "$(cli "$P2" -3 --no-raw HELLO 3 | grep '"proto"')"
    check "WAIT" "(integer) 0" "$P0" WAIT 0 0
    check "RESET" "RESET" "$P0" RESET
    check "COMMAND INFO nosuch" "1) (nil)" "$P0" COMMAND INFO nosuchcommand
    report "TIME shape" $'1) "N"\n2) "N"' "$(cli "$P1" "-$PROTO" --no-raw TIME | sed -E 's/"[0-9]+"/"N"/g')"
    report "COMMAND COUNT is an integer" "(integer) N" \
        "$(cli "$P2" --no-raw COMMAND COUNT | sed -E 's/[0-9]+/N/')"
    report "INFO keyspace header" "# Keyspace" "$(cli "$P0" INFO keyspace | head -n 1 | tr -d '\r')"
    report "INFO server has redis_version" "1" "$(cli "$P0" INFO server | grep -c '^redis_version:')"

    # One connection, several commands: redis-cli reads them from standard input, one per line.
    report "CLIENT SETNAME then GETNAME" $'OK\n"compat-cli"' \
        "$(printf 'CLIENT SETNAME compat-cli\nCLIENT GETNAME\n' | session "$P0")"
    report "CLIENT INFO names the client" "name=compat-cli" \
        "$(printf 'CLIENT SETNAME compat-cli\nCLIENT INFO\n' | session "$P0" --raw |
            tr ' ' '\n' | grep '^name=')"
    report "SELECT keeps dbs apart" $'OK\nOK\nOK\n(nil)\nOK\n"in db 1"\n(integer) 1' \
        "$(printf 'SELECT 1\nSET %s "in db 1"\nSELECT 0\nGET %s\nSELECT 1\nGET %s\nDEL %s\n' \
            "$(k db)" "$(k db)" "$(k db)" "$(k db)" | session "$P1")"
    report "HELLO switches reply shapes" $'1) "only"\n2) "one"\n1# "only" => "one"' \
        "$(printf 'HGETALL %s\nHELLO 3\nHGETALL %s\n' "$(k h1)" "$(k h1)" |
            cli "$P2" -2 --no-raw | sed -n '1,2p;$p')"
    # RESET also logs the connection out when the default user needs a password.
    local after_reset="(nil)"
    [[ -n "${COMPAT_PASSWORD:-}" ]] && after_reset="(error) NOAUTH Authentication required."
    report "RESET forgets the name" $'OK\nRESET\n'"$after_reset" \
        "$(printf 'CLIENT SETNAME compat-reset\nRESET\nCLIENT GETNAME\n' | session "$P0")"
}

for PROTO in 2 3; do
    families
done
PROTO=2

# --- 10000 commands through redis-cli --pipe ---------------------------------------------------
pipefile="$TMP/pipe.resp"
{
    for ((i = 0; i < 5000; i++)); do
        key="$PFX:pipe:$i"
        printf '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' "${#key}" "$key" "${#i}" "$i"
    done
    key="$PFX:pipe:counter"
    for ((i = 0; i < 5000; i++)); do
        printf '*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n' "${#key}" "$key"
    done
} >"$pipefile"
pipe_out=$(cli "$P0" --pipe --pipe-timeout 60 <"$pipefile" | tr -d '\r')
report "--pipe 10000 replies" "errors: 0, replies: 10000" "$(tail -n 1 <<<"$pipe_out")"
check "--pipe counter" '"5000"' "$P1" GET "$PFX:pipe:counter"
check "--pipe first" '"0"' "$P2" GET "$PFX:pipe:0"
check "--pipe last" '"4999"' "$P1" GET "$PFX:pipe:4999"
report "--pipe every key" "5000" \
    "$(cli "$P2" --raw --scan --pattern "$PFX:pipe:[0-9]*" | LC_ALL=C sort -u | wc -l | tr -d ' ')"

# --- inline commands over raw TCP --------------------------------------------------------------
# raw_exchange PORT INPUT_FILE OUTPUT_FILE: sends the bytes, reads until the server closes.
raw_exchange() {
    local port=$1 input=$2 output=$3
    if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
        timeout "$CMD_TIMEOUT" bash -c '
            exec 3<>"/dev/tcp/$0/$1" || exit 1
            cat "$2" >&3
            cat <&3 >"$3"
        ' "$HOST" "$port" "$input" "$output"
    elif command -v nc >/dev/null; then
        timeout "$CMD_TIMEOUT" nc -q 5 "$HOST" "$port" <"$input" >"$output"
    else
        echo "no /dev/tcp and no nc" >"$output"
        return 1
    fi
}

CRLF=$'\r\n'
auth_inline=""
auth_reply=""
if [[ -n "${COMPAT_PASSWORD:-}" ]]; then
    auth_inline="AUTH $COMPAT_PASSWORD$CRLF"
    auth_reply="+OK$CRLF"
fi

# check_inline NAME PORT INPUT EXPECTED: exact bytes back, compared as `od -c` dumps.
check_inline() {
    local name=$1 port=$2 input=$3 expected=$4
    printf '%s' "$auth_inline$input" >"$TMP/inline.in"
    printf '%s' "$auth_reply$expected" >"$TMP/inline.want"
    raw_exchange "$port" "$TMP/inline.in" "$TMP/inline.got"
    report "$name" "$(od -c "$TMP/inline.want")" "$(od -c "$TMP/inline.got")"
}

ik="$PFX:inline"
# Inline commands, an empty line (ignored), a wrong arity, then a RESP command on the same stream.
send="PING${CRLF}SET $ik \"hello world\"${CRLF}GET $ik${CRLF}ECHO 'a b'${CRLF}${CRLF}"
send+="EXISTS $ik nope${CRLF}set $ik${CRLF}"
send+="*2${CRLF}\$3${CRLF}GET${CRLF}\$${#ik}${CRLF}$ik${CRLF}QUIT${CRLF}"
want="+PONG${CRLF}+OK${CRLF}\$11${CRLF}hello world${CRLF}\$3${CRLF}a b${CRLF}:1${CRLF}"
want+="-ERR wrong number of arguments for 'set' command${CRLF}"
want+="\$11${CRLF}hello world${CRLF}+OK${CRLF}"
check_inline "inline commands" "$P1" "$send" "$want"
check_inline "inline unbalanced quotes closes the connection" "$P2" \
    "PING${CRLF}SET $ik \"unbalanced${CRLF}PING${CRLF}" \
    "+PONG${CRLF}-ERR Protocol error: unbalanced quotes in request${CRLF}"
check_inline "inline unknown command" "$P0" \
    "NOSUCH a${CRLF}QUIT${CRLF}" \
    "-ERR unknown command 'NOSUCH', with args beginning with: 'a' ${CRLF}+OK${CRLF}"

# Clean up the keys this run made (the scratch db was emptied above).
mapfile -t made < <(cli "$P0" --raw --scan --pattern "$PFX:*")
for ((i = 0; i < ${#made[@]}; i += 500)); do
    cli "$P0" DEL "${made[@]:i:500}" >/dev/null
done

echo "redis-cli: $PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
