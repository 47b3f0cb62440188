"""Counters: INCR and friends on string values, their errors, and INCRBYFLOAT's formatting."""

import pytest
import redis

MAX = 9223372036854775807
MIN = -9223372036854775808


def test_incr_from_missing(r, raw, k):
    assert r.incr(k()) == 1
    assert raw.execute_command("INCR", k()) == 2
    assert r.get(k()) == "2"


def test_incr_decr_family(r, k):
    assert r.incrby(k(), 10) == 10
    assert r.decr(k()) == 9
    assert r.decrby(k(), 5) == 4
    assert r.incrby(k(), -10) == -6
    assert r.decrby(k(), -6) == 0
    assert r.decr(k("fresh")) == -1
    assert r.get(k()) == "0"


def test_set_then_incr(r, k):
    r.set(k(), "41")
    assert r.incr(k()) == 42
    assert r.get(k()) == "42"
    r.set(k("neg"), "-5")
    assert r.incrby(k("neg"), 3) == -2


def test_incr_then_get_and_string_commands(r, k):
    r.incrby(k(), 123)
    assert r.get(k()) == "123"
    assert r.type(k()) == "string"
    assert r.strlen(k()) == 3
    assert r.append(k(), "4") == 4
    assert r.incr(k()) == 1235


def test_incr_reply_is_integer(wire_proto, k):
    assert wire_proto.call("INCR", k()) == 1
    assert type(wire_proto.call("INCRBY", k(), "5")) is int


@pytest.mark.parametrize(
    "value", ["abc", "1.5", " 1", "1 ", "", "0x10", "12abc", "99999999999999999999"]
)
def test_incr_on_non_integer(r, k, value):
    r.set(k(), value)
    with pytest.raises(redis.ResponseError) as e:
        r.incr(k())
    assert str(e.value) == "value is not an integer or out of range"
    assert r.get(k()) == value


def test_incrby_non_integer_argument(r, k):
    for bad in ["abc", "1.5", "99999999999999999999"]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("INCRBY", k(), bad)
        assert str(e.value) == "value is not an integer or out of range"
    assert r.exists(k()) == 0


def test_incr_overflow(r, k):
    r.set(k(), str(MAX))
    with pytest.raises(redis.ResponseError) as e:
        r.incr(k())
    assert str(e.value) == "increment or decrement would overflow"
    assert r.get(k()) == str(MAX)
    r.set(k("low"), str(MIN))
    with pytest.raises(redis.ResponseError) as e:
        r.decr(k("low"))
    assert str(e.value) == "increment or decrement would overflow"
    with pytest.raises(redis.ResponseError) as e:
        r.incrby(k("low"), -1)
    assert str(e.value) == "increment or decrement would overflow"


def test_decrby_minimum(r, k):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DECRBY", k(), str(MIN))
    assert str(e.value) == "decrement would overflow"


def test_incr_limits(r, k):
    r.set(k(), str(MAX - 1))
    assert r.incr(k()) == MAX
    r.set(k("low"), str(MIN + 1))
    assert r.decr(k("low")) == MIN


def test_incr_keeps_ttl(r, k):
    r.set(k(), "1", ex=100)
    r.incr(k())
    assert 95 <= r.ttl(k()) <= 100


def test_incr_wrongtype(r, k):
    r.hset(k(), "f", "1")
    with pytest.raises(redis.ResponseError) as e:
        r.incr(k())
    assert str(e.value) == "WRONGTYPE Operation against a key holding the wrong kind of value"


def test_incrbyfloat_formatting(r, raw, k):
    r.set(k(), "10.5")
    assert raw.execute_command("INCRBYFLOAT", k(), "0.1") == "10.6"
    assert r.get(k()) == "10.6"
    assert raw.execute_command("INCRBYFLOAT", k(), "-5.6") == "5"
    assert raw.execute_command("INCRBYFLOAT", k(), "2.0e2") == "205"
    assert raw.execute_command("INCRBYFLOAT", k("fresh"), "3.0") == "3"
    assert raw.execute_command("INCRBYFLOAT", k("fresh"), "1e-3") == "3.001"
    r.set(k("exp"), "5.0e3")
    assert raw.execute_command("INCRBYFLOAT", k("exp"), "200") == "5200"


def test_incrbyfloat_parsed_by_client(r, k):
    r.set(k(), "10.5")
    assert r.incrbyfloat(k(), 0.1) == pytest.approx(10.6)
    assert r.incrbyfloat(k("int"), 3) == 3.0


def test_incrbyfloat_is_bulk_string_in_both_protocols(wire_proto, k):
    wire_proto.call("SET", k(), "1.5")
    reply = wire_proto.call("INCRBYFLOAT", k(), "1")
    assert reply == b"2.5" and type(reply) is bytes


def test_incrbyfloat_errors(r, k):
    r.set(k(), "abc")
    with pytest.raises(redis.ResponseError) as e:
        r.incrbyfloat(k(), 1)
    assert str(e.value) == "value is not a valid float"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("INCRBYFLOAT", k("n"), "x")
    assert str(e.value) == "value is not a valid float"
    r.set(k("n"), "1")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("INCRBYFLOAT", k("n"), "inf")
    assert str(e.value) == "increment would produce NaN or Infinity"
    assert r.get(k("n")) == "1"


def test_incr_after_incrbyfloat_integral(r, k):
    r.incrbyfloat(k(), 2.0)
    assert r.get(k()) == "2"
    assert r.incr(k()) == 3


def test_counter_across_nodes(clients, k):
    total = 0
    for round_ in range(3):
        for i, writer in enumerate(clients):
            total += i + 1
            assert writer.incrby(k(), i + 1) == total
        for reader in clients:
            assert reader.get(k()) == str(total)


def test_pipelined_increments(r, k):
    pipe = r.pipeline(transaction=False)
    for _ in range(200):
        pipe.incr(k())
    assert pipe.execute() == list(range(1, 201))
    assert r.get(k()) == "200"
