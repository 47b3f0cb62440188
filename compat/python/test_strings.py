"""Strings: SET and its options, GET and its variants, ranges, multi-key reads and writes."""

import time

import pytest
import redis

from wire import Simple


def ttl_near(client, key, seconds):
    ttl = client.ttl(key)
    assert seconds - 5 <= ttl <= seconds, ttl


def pttl_near(client, key, ms):
    pttl = client.pttl(key)
    assert ms - 5000 <= pttl <= ms, pttl


# --- SET ---------------------------------------------------------------------------------------


def test_set_get_roundtrip(r, raw, k):
    assert raw.execute_command("SET", k(), "hello") == "OK"
    assert r.get(k()) == "hello"
    assert r.set(k(), "world") is True
    assert r.get(k()) == "world"


def test_set_replies_simple_ok(wire_proto, k):
    reply = wire_proto.call("SET", k(), "v")
    assert isinstance(reply, Simple) and reply == "OK"


def test_get_missing_is_nil(r, wire_proto, k):
    assert r.get(k("missing")) is None
    assert wire_proto.call("GET", k("missing")) is None


def test_set_binary_safe(rb, k):
    value = bytes(range(256)) + b"\r\n\x00end"
    assert rb.set(k(), value) is True
    assert rb.get(k()) == value
    assert rb.strlen(k()) == len(value)


def test_set_empty_and_large_values(rb, k):
    assert rb.set(k("empty"), b"") is True
    assert rb.get(k("empty")) == b""
    assert rb.exists(k("empty")) == 1
    big = b"x" * (1024 * 1024)
    assert rb.set(k("big"), big) is True
    assert rb.get(k("big")) == big


def test_set_ex_px(r, k):
    assert r.set(k("ex"), "v", ex=100) is True
    ttl_near(r, k("ex"), 100)
    assert r.set(k("px"), "v", px=100000) is True
    pttl_near(r, k("px"), 100000)


def test_set_exat_pxat(r, k):
    at = int(time.time()) + 100
    assert r.set(k("exat"), "v", exat=at) is True
    ttl_near(r, k("exat"), 100)
    assert r.expiretime(k("exat")) == at
    at_ms = int(time.time() * 1000) + 100000
    assert r.set(k("pxat"), "v", pxat=at_ms) is True
    pttl_near(r, k("pxat"), 100000)
    assert r.pexpiretime(k("pxat")) == at_ms


def test_set_overwrite_clears_ttl(r, k):
    r.set(k(), "v", ex=100)
    r.set(k(), "v2")
    assert r.ttl(k()) == -1


def test_set_keepttl(r, k):
    r.set(k(), "v", ex=100)
    assert r.set(k(), "v2", keepttl=True) is True
    assert r.get(k()) == "v2"
    ttl_near(r, k(), 100)


def test_set_nx(r, raw, k):
    assert r.set(k(), "first", nx=True) is True
    assert r.set(k(), "second", nx=True) is None
    assert raw.execute_command("SET", k(), "third", "NX") is None
    assert r.get(k()) == "first"


def test_set_xx(r, k):
    assert r.set(k(), "v", xx=True) is None
    assert r.exists(k()) == 0
    r.set(k(), "v")
    assert r.set(k(), "v2", xx=True) is True
    assert r.get(k()) == "v2"


def test_set_get_option(r, k):
    assert r.set(k(), "one", get=True) is None
    assert r.set(k(), "two", get=True) == "one"
    assert r.get(k()) == "two"


def test_set_nx_get_returns_old_value_and_keeps_it(r, raw, k):
    r.set(k(), "old")
    assert raw.execute_command("SET", k(), "new", "NX", "GET") == "old"
    assert r.get(k()) == "old"
    assert raw.execute_command("SET", k("fresh"), "new", "NX", "GET") is None
    assert r.get(k("fresh")) == "new"


def test_set_xx_get_on_missing(raw, r, k):
    assert raw.execute_command("SET", k(), "v", "XX", "GET") is None
    assert r.exists(k()) == 0


def test_set_get_option_wrongtype(r, k):
    r.sadd(k(), "m")
    with pytest.raises(redis.ResponseError) as e:
        r.set(k(), "v", get=True)
    assert str(e.value).startswith("WRONGTYPE")
    assert r.type(k()) == "set"


def test_set_overwrites_other_types(r, k):
    r.hset(k(), "f", "v")
    assert r.set(k(), "s") is True
    assert r.type(k()) == "string"


@pytest.mark.parametrize(
    "args, message",
    [
        (["EX", "0"], "invalid expire time in 'set' command"),
        (["EX", "-5"], "invalid expire time in 'set' command"),
        (["PX", "0"], "invalid expire time in 'set' command"),
        (["EX", "abc"], "value is not an integer or out of range"),
        (["NX", "XX"], "syntax error"),
        (["EX", "10", "PX", "100"], "syntax error"),
        (["KEEPTTL", "EX", "10"], "syntax error"),
        (["EX"], "syntax error"),
        (["BOGUS"], "syntax error"),
    ],
)
def test_set_bad_options(r, k, args, message):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SET", k(), "v", *args)
    assert str(e.value) == message
    assert r.exists(k()) == 0


# --- GET variants ------------------------------------------------------------------------------


def test_getset(r, k):
    assert r.getset(k(), "a") is None
    r.expire(k(), 100)
    assert r.getset(k(), "b") == "a"
    assert r.get(k()) == "b"
    assert r.ttl(k()) == -1


def test_getdel(r, k):
    r.set(k(), "v")
    assert r.getdel(k()) == "v"
    assert r.exists(k()) == 0
    assert r.getdel(k()) is None


def test_getex_without_options_keeps_ttl(r, k):
    r.set(k(), "v", ex=100)
    assert r.getex(k()) == "v"
    ttl_near(r, k(), 100)


def test_getex_options(r, k):
    r.set(k(), "v")
    assert r.getex(k(), ex=100) == "v"
    ttl_near(r, k(), 100)
    assert r.getex(k(), px=200000) == "v"
    pttl_near(r, k(), 200000)
    at = int(time.time()) + 300
    assert r.getex(k(), exat=at) == "v"
    assert r.expiretime(k()) == at
    at_ms = int(time.time() * 1000) + 400000
    assert r.getex(k(), pxat=at_ms) == "v"
    assert r.pexpiretime(k()) == at_ms
    assert r.getex(k(), persist=True) == "v"
    assert r.ttl(k()) == -1


def test_getex_missing_and_errors(r, k):
    assert r.getex(k(), ex=10) is None
    assert r.exists(k()) == 0
    r.set(k(), "v")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("GETEX", k(), "EX", "0")
    assert str(e.value) == "invalid expire time in 'getex' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("GETEX", k(), "EX", "10", "PERSIST")
    assert str(e.value) == "syntax error"


def test_setnx(r, raw, k):
    assert r.setnx(k(), "a") is True
    assert r.setnx(k(), "b") is False
    assert raw.execute_command("SETNX", k(), "c") == 0
    assert r.get(k()) == "a"


def test_setex_psetex(r, raw, k):
    assert raw.execute_command("SETEX", k("s"), "100", "v") == "OK"
    ttl_near(r, k("s"), 100)
    assert r.get(k("s")) == "v"
    assert raw.execute_command("PSETEX", k("p"), "100000", "v") == "OK"
    pttl_near(r, k("p"), 100000)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SETEX", k("bad"), "0", "v")
    assert str(e.value) == "invalid expire time in 'setex' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PSETEX", k("bad"), "-1", "v")
    assert str(e.value) == "invalid expire time in 'psetex' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SETEX", k("bad"), "ten", "v")
    assert str(e.value) == "value is not an integer or out of range"


# --- APPEND, STRLEN, ranges --------------------------------------------------------------------


def test_append_strlen(r, k):
    assert r.append(k(), "Hello") == 5
    assert r.append(k(), " World") == 11
    assert r.get(k()) == "Hello World"
    assert r.strlen(k()) == 11
    assert r.strlen(k("missing")) == 0


def test_append_keeps_ttl(r, k):
    r.set(k(), "a", ex=100)
    r.append(k(), "b")
    ttl_near(r, k(), 100)


def test_getrange(r, k):
    r.set(k(), "Hello World")
    assert r.getrange(k(), 0, 4) == "Hello"
    assert r.getrange(k(), -5, -1) == "World"
    assert r.getrange(k(), 0, -1) == "Hello World"
    assert r.getrange(k(), 6, 1000) == "World"
    assert r.getrange(k(), 100, 200) == ""
    assert r.getrange(k(), 5, 2) == ""
    assert r.getrange(k("missing"), 0, 10) == ""


def test_setrange(r, rb, k):
    r.set(k(), "Hello World")
    assert r.setrange(k(), 6, "Redis") == 11
    assert r.get(k()) == "Hello Redis"
    assert r.setrange(k(), 11, "!!") == 13
    assert r.get(k()) == "Hello Redis!!"
    assert rb.setrange(k("pad"), 5, b"x") == 6
    assert rb.get(k("pad")) == b"\x00\x00\x00\x00\x00x"
    with pytest.raises(redis.ResponseError) as e:
        r.setrange(k(), -1, "x")
    assert str(e.value) == "offset is out of range"


def test_setrange_empty_value_on_missing_key_creates_nothing(r, k):
    assert r.setrange(k(), 3, "") == 0
    assert r.exists(k()) == 0


# --- multi-key ---------------------------------------------------------------------------------


def test_mset_mget(r, raw, k):
    assert raw.execute_command("MSET", k("a"), "1", k("b"), "2", k("c"), "3") == "OK"
    assert r.mget(k("a"), k("missing"), k("b"), k("c")) == ["1", None, "2", "3"]


def test_mget_nil_for_other_types(r, k):
    r.set(k("s"), "v")
    r.sadd(k("set"), "m")
    r.hset(k("h"), "f", "v")
    assert r.mget(k("s"), k("set"), k("h")) == ["v", None, None]


def test_mset_overwrites_and_clears_ttl(r, k):
    r.set(k("a"), "old", ex=100)
    r.mset({k("a"): "new", k("b"): "x"})
    assert r.get(k("a")) == "new"
    assert r.ttl(k("a")) == -1


def test_mset_odd_arguments(r, k):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("MSET", k("a"), "1", k("b"))
    assert str(e.value) == "wrong number of arguments for 'mset' command"
    assert r.exists(k("a")) == 0


def test_msetnx(r, k):
    assert r.msetnx({k("a"): "1", k("b"): "2"}) is True
    assert r.msetnx({k("b"): "x", k("c"): "3"}) is False
    assert r.mget(k("a"), k("b"), k("c")) == ["1", "2", None]


# --- across nodes ------------------------------------------------------------------------------


def test_write_one_node_read_another(node_pairs, k):
    for i, (writer, reader) in enumerate(node_pairs):
        key = k(f"pair{i}")
        assert writer.set(key, f"value{i}") is True
        assert reader.get(key) == f"value{i}"
        assert writer.append(key, "+") == len(f"value{i}") + 1
        assert reader.get(key) == f"value{i}+"
        assert reader.getdel(key) == f"value{i}+"
        assert writer.get(key) is None


def test_mset_one_node_mget_another(node_pairs, k):
    writer, reader = node_pairs[0]
    mapping = {k(f"m{i}"): str(i) for i in range(20)}
    writer.mset(mapping)
    assert reader.mget(list(mapping)) == list(mapping.values())


def test_pipeline_many_commands(r, k):
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(k(str(i)), i)
    for i in range(500):
        pipe.get(k(str(i)))
    replies = pipe.execute()
    assert replies[:500] == [True] * 500
    assert replies[500:] == [str(i) for i in range(500)]
