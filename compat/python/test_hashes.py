"""Hashes: field writes and reads, counters inside fields, random fields and HSCAN, with the reply
shapes of RESP2 (flat arrays) and RESP3 (maps, nested pairs)."""

import pytest
import redis

from wire import Map


def hscan_all(client, key, **kwargs):
    """Every field and value of a full HSCAN as one flat list; `client` must not parse replies."""
    seen = []
    cursor = 0
    for _ in range(100000):
        cursor, page = client.execute_command("HSCAN", key, cursor, *kwargs_to_args(kwargs))
        seen.extend(page)
        if str(cursor) == "0":
            return seen
    raise AssertionError("HSCAN did not finish")


def kwargs_to_args(kwargs):
    out = []
    for name, value in kwargs.items():
        out += [name.upper(), str(value)]
    return out


def test_hset_counts_new_fields(r, k):
    assert r.hset(k(), mapping={"a": "1", "b": "2"}) == 2
    assert r.hset(k(), mapping={"a": "changed", "c": "3"}) == 1
    assert r.hset(k(), "d", "4") == 1
    assert r.hgetall(k()) == {"a": "changed", "b": "2", "c": "3", "d": "4"}


def test_hsetnx(r, raw, k):
    assert r.hsetnx(k(), "f", "1") == 1
    assert r.hsetnx(k(), "f", "2") == 0
    assert raw.execute_command("HSETNX", k(), "g", "3") == 1
    assert r.hget(k(), "f") == "1"


def test_hget_hmget(r, k):
    r.hset(k(), mapping={"a": "1", "b": "2"})
    assert r.hget(k(), "a") == "1"
    assert r.hget(k(), "missing") is None
    assert r.hget(k("missing"), "a") is None
    assert r.hmget(k(), ["a", "missing", "b"]) == ["1", None, "2"]
    assert r.hmget(k("missing"), ["a", "b"]) == [None, None]


def test_hmset(r, raw, k):
    assert raw.execute_command("HMSET", k(), "a", "1", "b", "2") == "OK"
    assert r.hgetall(k()) == {"a": "1", "b": "2"}
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HMSET", k(), "a", "1", "b")
    assert str(e.value) == "wrong number of arguments for 'hmset' command"


def test_hset_odd_arguments(r, k):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HSET", k(), "a", "1", "b")
    assert str(e.value) == "wrong number of arguments for 'hset' command"
    assert r.exists(k()) == 0


def test_hdel(r, k):
    r.hset(k(), mapping={"a": "1", "b": "2", "c": "3"})
    assert r.hdel(k(), "a", "missing") == 1
    assert r.hdel(k(), "a") == 0
    assert r.hdel(k("missing"), "a") == 0
    assert r.hdel(k(), "b", "c") == 2
    # A hash without fields does not exist.
    assert r.exists(k()) == 0
    assert r.type(k()) == "none"


def test_hgetall_shapes(raw, protocol, k):
    raw.execute_command("HSET", k(), "a", "1")
    reply = raw.execute_command("HGETALL", k())
    if protocol == 2:
        assert reply == ["a", "1"]
    else:
        assert reply == {"a": "1"}


def test_hgetall_wire_types(wire_proto, protocol, k):
    wire_proto.call("HSET", k(), "a", "1")
    reply = wire_proto.call("HGETALL", k())
    if protocol == 3:
        assert isinstance(reply, Map) and reply == {b"a": b"1"}
    else:
        assert type(reply) is list and reply == [b"a", b"1"]
    empty = wire_proto.call("HGETALL", k("missing"))
    assert empty == ({} if protocol == 3 else [])


def test_hgetall_missing_is_empty(r, k):
    assert r.hgetall(k("missing")) == {}


def test_hkeys_hvals_hlen(r, k):
    fields = {f"f{i}": f"v{i}" for i in range(10)}
    r.hset(k(), mapping=fields)
    keys = r.hkeys(k())
    values = r.hvals(k())
    assert isinstance(keys, list) and sorted(keys) == sorted(fields)
    assert isinstance(values, list) and sorted(values) == sorted(fields.values())
    # HKEYS and HVALS walk the hash in the same order.
    assert dict(zip(keys, values)) == fields
    assert r.hlen(k()) == 10
    assert r.hlen(k("missing")) == 0
    assert r.hkeys(k("missing")) == []
    assert r.hvals(k("missing")) == []


def test_hexists_hstrlen(r, raw, k):
    r.hset(k(), "f", "hello")
    assert r.hexists(k(), "f") is True
    assert r.hexists(k(), "g") is False
    assert raw.execute_command("HEXISTS", k(), "f") == 1
    assert r.hstrlen(k(), "f") == 5
    assert r.hstrlen(k(), "g") == 0
    assert r.hstrlen(k("missing"), "f") == 0


def test_hincrby(r, k):
    assert r.hincrby(k(), "n", 5) == 5
    assert r.hincrby(k(), "n", -7) == -2
    assert r.hget(k(), "n") == "-2"
    r.hset(k(), "s", "abc")
    with pytest.raises(redis.ResponseError) as e:
        r.hincrby(k(), "s", 1)
    assert str(e.value) == "hash value is not an integer"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HINCRBY", k(), "n", "x")
    assert str(e.value) == "value is not an integer or out of range"
    r.hset(k(), "big", "9223372036854775807")
    with pytest.raises(redis.ResponseError) as e:
        r.hincrby(k(), "big", 1)
    assert str(e.value) == "increment or decrement would overflow"


def test_hincrbyfloat(r, raw, k):
    r.hset(k(), "f", "10.5")
    assert raw.execute_command("HINCRBYFLOAT", k(), "f", "0.1") == "10.6"
    assert r.hget(k(), "f") == "10.6"
    assert raw.execute_command("HINCRBYFLOAT", k(), "g", "3.0") == "3"
    assert r.hincrbyfloat(k(), "g", 1.5) == pytest.approx(4.5)
    r.hset(k(), "s", "abc")
    with pytest.raises(redis.ResponseError) as e:
        r.hincrbyfloat(k(), "s", 1)
    assert str(e.value) == "hash value is not a float"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HINCRBYFLOAT", k(), "f", "x")
    assert str(e.value) == "value is not a valid float"


def test_hrandfield_single(r, k):
    assert r.hrandfield(k("missing")) is None
    r.hset(k(), mapping={"a": "1", "b": "2", "c": "3"})
    for _ in range(10):
        assert r.hrandfield(k()) in {"a", "b", "c"}


def test_hrandfield_count(r, k):
    fields = {"a": "1", "b": "2", "c": "3"}
    r.hset(k(), mapping=fields)
    two = r.hrandfield(k(), 2)
    assert len(two) == 2 and len(set(two)) == 2 and set(two) <= set(fields)
    everything = r.hrandfield(k(), 10)
    assert sorted(everything) == ["a", "b", "c"]
    repeated = r.hrandfield(k(), -7)
    assert len(repeated) == 7 and set(repeated) <= set(fields)
    assert r.hrandfield(k(), 0) == []
    assert r.hrandfield(k("missing"), 3) == []
    assert r.hrandfield(k("missing"), -3) == []


def test_hrandfield_withvalues(raw, protocol, k):
    fields = {"a": "1", "b": "2", "c": "3"}
    raw.execute_command("HSET", k(), *[x for kv in fields.items() for x in kv])
    reply = raw.execute_command("HRANDFIELD", k(), "5", "WITHVALUES")
    if protocol == 2:
        pairs = list(zip(reply[::2], reply[1::2]))
        assert len(reply) == 6
    else:
        # RESP3 nests each field with its value.
        assert all(isinstance(p, list) and len(p) == 2 for p in reply)
        pairs = [tuple(p) for p in reply]
    assert dict(pairs) == fields
    negative = raw.execute_command("HRANDFIELD", k(), "-4", "WITHVALUES")
    if protocol == 2:
        assert len(negative) == 8
        negative = list(zip(negative[::2], negative[1::2]))
    else:
        assert len(negative) == 4
    for field, value in negative:
        assert fields[field] == value


def test_hrandfield_errors(r, k):
    r.hset(k(), "a", "1")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HRANDFIELD", k(), "x")
    assert str(e.value) == "value is not an integer or out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HRANDFIELD", k(), "1", "BOGUS")
    assert str(e.value) == "syntax error"


def test_hscan_full(r, raw, k):
    fields = {f"field{i}": str(i) for i in range(200)}
    r.hset(k(), mapping=fields)
    flat = hscan_all(raw, k(), count=10)
    names = flat[::2]
    assert len(names) == len(set(names)) == 200
    assert dict(zip(flat[::2], flat[1::2])) == fields


def test_hscan_match_and_client_parsing(r, k):
    r.hset(k(), mapping={"apple": "1", "avocado": "2", "banana": "3"})
    cursor, found = r.hscan(k(), 0, match="a*", count=1000)
    assert cursor == 0
    assert found == {"apple": "1", "avocado": "2"}
    assert r.hscan(k("missing"), 0) == (0, {})


def test_hash_across_nodes(node_pairs, k):
    for i, (writer, reader) in enumerate(node_pairs):
        key = k(str(i))
        writer.hset(key, mapping={"a": "1", "b": "2"})
        assert reader.hgetall(key) == {"a": "1", "b": "2"}
        assert reader.hincrby(key, "a", 10) == 11
        assert writer.hdel(key, "b") == 1
        assert reader.hgetall(key) == {"a": "11"}
