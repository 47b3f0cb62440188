"""Server commands clients and tools call: COMMAND (what exists, its arity and keys), INFO,
CONFIG GET, TIME and WAIT."""

import time

import pytest
import redis

from conftest import PORTS, SCRATCH_DB
from wire import Map, Verbatim

# name, arity, first key, last key, key step, write/readonly flag — as Redis 7 describes them.
COMMANDS = [
    ("get", 2, 1, 1, 1, "readonly"),
    ("set", -3, 1, 1, 1, "write"),
    ("getset", 3, 1, 1, 1, "write"),
    ("getdel", 2, 1, 1, 1, "write"),
    ("getex", -2, 1, 1, 1, "write"),
    ("setnx", 3, 1, 1, 1, "write"),
    ("setex", 4, 1, 1, 1, "write"),
    ("psetex", 4, 1, 1, 1, "write"),
    ("append", 3, 1, 1, 1, "write"),
    ("strlen", 2, 1, 1, 1, "readonly"),
    ("getrange", 4, 1, 1, 1, "readonly"),
    ("setrange", 4, 1, 1, 1, "write"),
    ("mget", -2, 1, -1, 1, "readonly"),
    ("mset", -3, 1, -1, 2, "write"),
    ("msetnx", -3, 1, -1, 2, "write"),
    ("incr", 2, 1, 1, 1, "write"),
    ("decr", 2, 1, 1, 1, "write"),
    ("incrby", 3, 1, 1, 1, "write"),
    ("decrby", 3, 1, 1, 1, "write"),
    ("incrbyfloat", 3, 1, 1, 1, "write"),
    ("del", -2, 1, -1, 1, "write"),
    ("unlink", -2, 1, -1, 1, "write"),
    ("exists", -2, 1, -1, 1, "readonly"),
    ("type", 2, 1, 1, 1, "readonly"),
    ("expire", -3, 1, 1, 1, "write"),
    ("pexpire", -3, 1, 1, 1, "write"),
    ("expireat", -3, 1, 1, 1, "write"),
    ("pexpireat", -3, 1, 1, 1, "write"),
    ("ttl", 2, 1, 1, 1, "readonly"),
    ("pttl", 2, 1, 1, 1, "readonly"),
    ("persist", 2, 1, 1, 1, "write"),
    ("expiretime", 2, 1, 1, 1, "readonly"),
    ("pexpiretime", 2, 1, 1, 1, "readonly"),
    ("touch", -2, 1, -1, 1, "readonly"),
    ("scan", -2, 0, 0, 0, "readonly"),
    ("keys", 2, 0, 0, 0, "readonly"),
    ("dbsize", 1, 0, 0, 0, "readonly"),
    ("randomkey", 1, 0, 0, 0, "readonly"),
    ("rename", 3, 1, 2, 1, "write"),
    ("renamenx", 3, 1, 2, 1, "write"),
    ("flushdb", -1, 0, 0, 0, "write"),
    ("flushall", -1, 0, 0, 0, "write"),
    ("hset", -4, 1, 1, 1, "write"),
    ("hsetnx", 4, 1, 1, 1, "write"),
    ("hget", 3, 1, 1, 1, "readonly"),
    ("hmget", -3, 1, 1, 1, "readonly"),
    ("hmset", -4, 1, 1, 1, "write"),
    ("hdel", -3, 1, 1, 1, "write"),
    ("hgetall", 2, 1, 1, 1, "readonly"),
    ("hkeys", 2, 1, 1, 1, "readonly"),
    ("hvals", 2, 1, 1, 1, "readonly"),
    ("hlen", 2, 1, 1, 1, "readonly"),
    ("hexists", 3, 1, 1, 1, "readonly"),
    ("hstrlen", 3, 1, 1, 1, "readonly"),
    ("hincrby", 4, 1, 1, 1, "write"),
    ("hincrbyfloat", 4, 1, 1, 1, "write"),
    ("hrandfield", -2, 1, 1, 1, "readonly"),
    ("hscan", -3, 1, 1, 1, "readonly"),
    ("sadd", -3, 1, 1, 1, "write"),
    ("srem", -3, 1, 1, 1, "write"),
    ("smembers", 2, 1, 1, 1, "readonly"),
    ("sismember", 3, 1, 1, 1, "readonly"),
    ("smismember", -3, 1, 1, 1, "readonly"),
    ("scard", 2, 1, 1, 1, "readonly"),
    ("srandmember", -2, 1, 1, 1, "readonly"),
    ("spop", -2, 1, 1, 1, "write"),
    ("smove", 4, 1, 2, 1, "write"),
    ("sinter", -2, 1, -1, 1, "readonly"),
    ("sunion", -2, 1, -1, 1, "readonly"),
    ("sdiff", -2, 1, -1, 1, "readonly"),
    ("sintercard", -3, 0, 0, 0, "readonly"),
    ("sscan", -3, 1, 1, 1, "readonly"),
    ("auth", -2, 0, 0, 0, None),
    ("hello", -1, 0, 0, 0, None),
    ("select", 2, 0, 0, 0, None),
    ("reset", 1, 0, 0, 0, None),
    ("client", -2, 0, 0, 0, None),
    ("command", -1, 0, 0, 0, None),
    ("info", -1, 0, 0, 0, None),
    ("config", -2, 0, 0, 0, None),
    ("time", 1, 0, 0, 0, None),
    ("echo", 2, 0, 0, 0, None),
    ("ping", -1, 0, 0, 0, None),
    ("wait", 3, 0, 0, 0, None),
    ("quit", -1, 0, 0, 0, None),
]


# --- COMMAND -----------------------------------------------------------------------------------


def test_command_count_matches_command_list(raw):
    count = raw.execute_command("COMMAND", "COUNT")
    assert isinstance(count, int) and count >= len(COMMANDS)
    everything = raw.execute_command("COMMAND")
    assert len(everything) == count
    names = {entry[0] for entry in everything}
    assert {c[0] for c in COMMANDS} <= names


def test_command_info_describes_each_command(raw):
    names = [c[0] for c in COMMANDS]
    replies = raw.execute_command("COMMAND", "INFO", *names)
    assert len(replies) == len(COMMANDS)
    for (name, arity, first, last, step, flag), entry in zip(COMMANDS, replies):
        assert entry is not None, name
        assert entry[0] == name
        assert (entry[1], entry[3], entry[4], entry[5]) == (arity, first, last, step), name
        if flag:
            assert flag in entry[2], name


def test_command_info_is_case_insensitive_and_nil_for_unknown(raw):
    replies = raw.execute_command("COMMAND", "INFO", "GeT", "nosuchcommand")
    assert replies[0][0] == "get"
    assert replies[1] is None


def test_command_docs(wire_proto, protocol):
    reply = wire_proto.call("COMMAND", "DOCS", "get", "hset")
    if protocol == 3:
        assert isinstance(reply, Map)
        docs = {name.decode(): doc for name, doc in reply.items()}
    else:
        assert type(reply) is list
        docs = {}
        for name, doc in zip(reply[::2], reply[1::2]):
            docs[name.decode()] = dict(zip(doc[::2], doc[1::2]))
    assert set(docs) == {"get", "hset"}
    assert docs["get"][b"group"] == b"string"
    assert docs["hset"][b"group"] == b"hash"
    for doc in docs.values():
        assert doc[b"summary"]
        assert doc[b"since"]
    empty = wire_proto.call("COMMAND", "DOCS", "nosuchcommand")
    assert empty == ({} if protocol == 3 else [])


# --- INFO --------------------------------------------------------------------------------------


def test_info_default_sections(r):
    info = r.info()
    for field in (
        "redis_version",
        "tcp_port",
        "connected_clients",
        "used_memory",
        "total_commands_processed",
    ):
        assert field in info, field


@pytest.mark.parametrize(
    "section, fields",
    [
        ("server", ["redis_version", "redis_mode", "tcp_port", "uptime_in_seconds", "run_id"]),
        ("clients", ["connected_clients", "blocked_clients"]),
        ("memory", ["used_memory", "used_memory_human", "maxmemory"]),
        (
            "stats",
            [
                "total_connections_received",
                "total_commands_processed",
                "keyspace_hits",
                "keyspace_misses",
            ],
        ),
    ],
)
def test_info_sections(r, section, fields):
    info = r.info(section)
    for field in fields:
        assert field in info, field


def test_info_server_reports_the_port(clients):
    for client, port in zip(clients, PORTS):
        assert client.info("server")["tcp_port"] == port


def test_info_clients_counts_this_connection(r):
    assert r.info("clients")["connected_clients"] >= 1


def test_info_stats_counts_commands(r):
    before = r.info("stats")["total_commands_processed"]
    for _ in range(5):
        r.ping()
    after = r.info("stats")["total_commands_processed"]
    assert after >= before + 5


def test_info_keyspace(scratch, protocol):
    assert f"db{SCRATCH_DB}" not in scratch.info("keyspace")
    scratch.set("a", "1")
    scratch.set("b", "2", ex=100)
    scratch.sadd("c", "m")
    entry = scratch.info("keyspace")[f"db{SCRATCH_DB}"]
    assert entry["keys"] == 3
    assert entry["expires"] == 1


def test_info_several_sections_at_once(wire_proto):
    body = bytes(wire_proto.call("INFO", "server", "clients")).decode()
    assert "# Server\r\n" in body and "# Clients\r\n" in body
    assert "# Memory" not in body


def test_info_wire_type(wire_proto, protocol):
    reply = wire_proto.call("INFO", "server")
    if protocol == 3:
        assert isinstance(reply, Verbatim) and reply.format == b"txt"
    else:
        assert type(reply) is bytes
    text = reply.decode()
    assert text.startswith("# Server\r\n")
    assert all(":" in line for line in text.split("\r\n") if line and not line.startswith("#"))


# --- CONFIG GET --------------------------------------------------------------------------------


def test_config_get(r):
    config = r.config_get("maxmemory")
    assert list(config) == ["maxmemory"] and config["maxmemory"].isdigit()
    assert r.config_get("databases") == {"databases": "16"}
    assert r.config_get("appendonly")["appendonly"] in ("yes", "no")
    assert isinstance(r.config_get("save")["save"], str)


def test_config_get_several_and_patterns(raw, protocol):
    reply = raw.execute_command("CONFIG", "GET", "maxmemory", "databases", "appendonly", "save")
    config = reply if protocol == 3 else dict(zip(reply[::2], reply[1::2]))
    assert set(config) == {"maxmemory", "databases", "appendonly", "save"}
    reply = raw.execute_command("CONFIG", "GET", "maxmemory*")
    config = reply if protocol == 3 else dict(zip(reply[::2], reply[1::2]))
    assert {"maxmemory", "maxmemory-policy"} <= set(config)
    assert all(name.startswith("maxmemory") for name in config)


def test_config_get_unknown_is_empty(r):
    assert r.config_get("nosuchparameter") == {}


def test_config_get_wire_type(wire_proto, protocol):
    reply = wire_proto.call("CONFIG", "GET", "databases")
    if protocol == 3:
        assert isinstance(reply, Map) and reply == {b"databases": b"16"}
    else:
        assert reply == [b"databases", b"16"]


# --- TIME, WAIT --------------------------------------------------------------------------------


def test_time(r, raw):
    seconds, micros = raw.execute_command("TIME")
    assert seconds.isdigit() and micros.isdigit()
    assert 0 <= int(micros) < 1_000_000
    assert abs(int(seconds) - time.time()) < 5
    parsed = r.time()
    assert isinstance(parsed, tuple) and abs(parsed[0] - time.time()) < 5


def test_time_on_every_node(clients):
    for client in clients:
        assert abs(client.time()[0] - time.time()) < 5


def test_wait_returns_an_integer(raw, wire_proto):
    assert type(raw.execute_command("WAIT", "0", "0")) is int
    reply = wire_proto.call("WAIT", "0", "100")
    assert type(reply) is int and reply >= 0


def test_wait_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("WAIT", "x", "0")
    assert str(e.value) == "value is not an integer or out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("WAIT", "0", "-1")
    assert str(e.value) == "timeout is negative"


def test_dbsize_is_an_integer(r):
    assert isinstance(r.dbsize(), int)
