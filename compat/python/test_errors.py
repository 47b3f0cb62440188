"""Errors clients match on: WRONGTYPE, wrong arity, unknown commands and subcommands; an error
answers only its own command and leaves the connection usable."""

import pytest
import redis

from wire import Error

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

# (type the key holds, command run against it with the key as first key)
WRONGTYPE_CASES = [
    ("set", ["GET"]),
    ("hash", ["GET"]),
    ("set", ["APPEND", "x"]),
    ("hash", ["STRLEN"]),
    ("set", ["GETRANGE", "0", "1"]),
    ("hash", ["SETRANGE", "0", "x"]),
    ("set", ["GETSET", "x"]),
    ("hash", ["GETDEL"]),
    ("set", ["GETEX"]),
    ("hash", ["INCR"]),
    ("set", ["DECRBY", "2"]),
    ("hash", ["INCRBYFLOAT", "1.5"]),
    ("string", ["HSET", "f", "v"]),
    ("set", ["HGET", "f"]),
    ("string", ["HGETALL"]),
    ("set", ["HDEL", "f"]),
    ("string", ["HLEN"]),
    ("string", ["HINCRBY", "f", "1"]),
    ("set", ["HKEYS"]),
    ("string", ["HRANDFIELD"]),
    ("string", ["HSCAN", "0"]),
    ("string", ["SADD", "m"]),
    ("hash", ["SMEMBERS"]),
    ("string", ["SISMEMBER", "m"]),
    ("hash", ["SCARD"]),
    ("string", ["SREM", "m"]),
    ("hash", ["SPOP"]),
    ("string", ["SRANDMEMBER"]),
    ("string", ["SINTER"]),
    ("hash", ["SSCAN", "0"]),
]


def make_key(client, key, kind):
    if kind == "string":
        client.set(key, "12")
    elif kind == "hash":
        client.hset(key, "f", "1")
    elif kind == "set":
        client.sadd(key, "m")


@pytest.mark.parametrize(
    "kind, command", WRONGTYPE_CASES, ids=lambda x: x if isinstance(x, str) else x[0]
)
def test_wrongtype(r, k, kind, command):
    make_key(r, k(), kind)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(command[0], k(), *command[1:])
    assert str(e.value) == WRONGTYPE
    assert r.type(k()) == kind


def test_wrongtype_is_an_error_reply_without_err_prefix(wire_proto, k):
    wire_proto.call("SADD", k(), "m")
    reply = wire_proto.call("GET", k())
    assert isinstance(reply, Error)
    assert reply == WRONGTYPE


def test_wrongtype_on_another_node(node_pairs, k):
    writer, reader = node_pairs[0]
    writer.sadd(k(), "m")
    with pytest.raises(redis.ResponseError) as e:
        reader.incr(k())
    assert str(e.value) == WRONGTYPE


ARITY_CASES = [
    ["GET"],
    ["GET", "a", "b"],
    ["SET", "a"],
    ["GETSET", "a"],
    ["GETDEL"],
    ["SETNX", "a"],
    ["SETEX", "a", "10"],
    ["APPEND", "a"],
    ["STRLEN"],
    ["GETRANGE", "a", "0"],
    ["MGET"],
    ["MSET", "a"],
    ["INCR"],
    ["INCRBY", "a"],
    ["DECRBY", "a", "1", "2"],
    ["INCRBYFLOAT", "a"],
    ["DEL"],
    ["EXISTS"],
    ["TYPE"],
    ["EXPIRE", "a"],
    ["TTL"],
    ["PERSIST"],
    ["RENAME", "a"],
    ["KEYS"],
    ["SCAN"],
    ["DBSIZE", "x"],
    ["HSET", "a", "f"],
    ["HGET", "a"],
    ["HMGET", "a"],
    ["HDEL", "a"],
    ["HGETALL"],
    ["HINCRBY", "a", "f"],
    ["SADD", "a"],
    ["SREM", "a"],
    ["SMEMBERS"],
    ["SISMEMBER", "a"],
    ["SMOVE", "a", "b"],
    ["SINTER"],
    ["ECHO"],
    ["PING", "a", "b"],
    ["SELECT"],
    ["WAIT", "0"],
    ["TIME", "x"],
]


@pytest.mark.parametrize("args", ARITY_CASES, ids=lambda a: "_".join(a))
def test_wrong_arity(r, args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    assert str(e.value) == f"wrong number of arguments for '{args[0].lower()}' command"


def test_wrong_arity_names_the_command_in_lower_case(wire_proto):
    assert wire_proto.call("gEt") == "ERR wrong number of arguments for 'get' command"
    assert wire_proto.call("ping") == "PONG"


@pytest.mark.parametrize(
    "args, name",
    [
        (["CLIENT", "GETNAME", "x"], "client|getname"),
        (["CLIENT", "SETNAME"], "client|setname"),
        (["CONFIG", "GET"], "config|get"),
        (["COMMAND", "COUNT", "x"], "command|count"),
    ],
)
def test_wrong_arity_of_subcommands(r, args, name):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    assert str(e.value) == f"wrong number of arguments for '{name}' command"


def test_unknown_command(r, wire_proto):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("NOSUCHCOMMAND", "a")
    assert str(e.value).startswith("unknown command")
    reply = wire_proto.call("NOSUCHCOMMAND")
    assert isinstance(reply, Error)
    assert reply.startswith("ERR unknown command")


def test_unknown_command_text(wire_proto):
    # The name comes back as sent, then up to the first arguments, each quoted.
    assert (
        wire_proto.call("NoSuch", "a", "b")
        == "ERR unknown command 'NoSuch', with args beginning with: 'a' 'b' "
    )
    assert wire_proto.call("NoSuch") == "ERR unknown command 'NoSuch', with args beginning with: "


@pytest.mark.parametrize("command", ["CLIENT", "COMMAND", "CONFIG"])
def test_unknown_subcommand(r, command):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(command, "NOSUCH")
    assert str(e.value) == f"unknown subcommand 'NOSUCH'. Try {command} HELP."


def test_errors_keep_the_connection_usable(wire_proto, k):
    assert isinstance(wire_proto.call("NOSUCHCOMMAND"), Error)
    assert isinstance(wire_proto.call("GET"), Error)
    assert wire_proto.call("SET", k(), "v") == "OK"
    assert wire_proto.call("GET", k()) == b"v"


def test_errors_in_a_pipeline_stay_in_place(r, k):
    r.sadd(k("set"), "m")
    pipe = r.pipeline(transaction=False)
    pipe.set(k("a"), "1")
    pipe.incr(k("set"))
    pipe.execute_command("NOSUCHCOMMAND")
    pipe.get(k("a"))
    pipe.execute_command("GET")
    pipe.incr(k("a"))
    replies = pipe.execute(raise_on_error=False)
    assert replies[0] is True
    assert isinstance(replies[1], redis.ResponseError) and str(replies[1]) == WRONGTYPE
    assert isinstance(replies[2], redis.ResponseError)
    assert str(replies[2]).startswith("unknown command")
    assert replies[3] == "1"
    assert str(replies[4]) == "wrong number of arguments for 'get' command"
    assert replies[5] == 2


def test_raw_pipeline_of_errors_and_replies(wire_proto, k):
    wire_proto.send(
        b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k()), k().encode())
        + b"*1\r\n$13\r\nNOSUCHCOMMAND\r\n"
        + b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k()), k().encode())
        + b"*1\r\n$4\r\nPING\r\n"
    )
    assert wire_proto.read() == "OK"
    assert wire_proto.read().startswith("ERR unknown command")
    assert wire_proto.read() == b"v"
    assert wire_proto.read() == "PONG"
