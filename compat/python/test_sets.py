"""Sets: membership, random members and pops, moves, the algebra commands and SSCAN, with RESP3
set replies where Redis sends them."""

import pytest
import redis

from wire import RSet


def sscan_all(raw, key, *args):
    """Every member a full SSCAN returns, duplicates kept; `raw` must not parse replies."""
    seen = []
    cursor = "0"
    for _ in range(100000):
        cursor, page = raw.execute_command("SSCAN", key, cursor, *args)
        seen.extend(page)
        if str(cursor) == "0":
            return seen
    raise AssertionError("SSCAN did not finish")


def test_sadd_srem_smembers(r, k):
    assert r.sadd(k(), "a", "b", "c") == 3
    assert r.sadd(k(), "a", "d", "d") == 1
    assert r.smembers(k()) == {"a", "b", "c", "d"}
    assert r.srem(k(), "a", "missing") == 1
    assert r.srem(k(), "a") == 0
    assert r.srem(k("missing"), "a") == 0
    assert r.smembers(k()) == {"b", "c", "d"}
    assert r.smembers(k("missing")) == set()


def test_removing_last_member_removes_key(r, k):
    r.sadd(k(), "only")
    assert r.srem(k(), "only") == 1
    assert r.exists(k()) == 0
    assert r.type(k()) == "none"


def test_set_replies_are_resp3_sets(wire_proto, protocol, k):
    wire_proto.call("SADD", k("a"), "x", "y")
    wire_proto.call("SADD", k("b"), "y", "z")
    for args in [
        ("SMEMBERS", k("a")),
        ("SINTER", k("a"), k("b")),
        ("SUNION", k("a"), k("b")),
        ("SDIFF", k("a"), k("b")),
        ("SMEMBERS", k("missing")),
    ]:
        reply = wire_proto.call(*args)
        if protocol == 3:
            assert isinstance(reply, RSet), args
        else:
            assert type(reply) is list, args
    assert sorted(wire_proto.call("SUNION", k("a"), k("b"))) == [b"x", b"y", b"z"]


def test_sismember_smismember(r, raw, k):
    r.sadd(k(), "a", "b")
    assert r.sismember(k(), "a") == 1
    assert r.sismember(k(), "z") == 0
    assert raw.execute_command("SISMEMBER", k(), "a") == 1
    assert raw.execute_command("SISMEMBER", k("missing"), "a") == 0
    assert raw.execute_command("SMISMEMBER", k(), "a", "z", "b") == [1, 0, 1]
    assert raw.execute_command("SMISMEMBER", k("missing"), "a", "b") == [0, 0]


def test_scard(r, k):
    r.sadd(k(), *[str(i) for i in range(50)])
    assert r.scard(k()) == 50
    assert r.scard(k("missing")) == 0


def test_srandmember(r, raw, k):
    members = {"a", "b", "c"}
    assert r.srandmember(k()) is None
    assert r.srandmember(k(), 3) == []
    r.sadd(k(), *members)
    assert r.srandmember(k()) in members
    two = r.srandmember(k(), 2)
    assert isinstance(two, list) and len(two) == 2 and len(set(two)) == 2 and set(two) <= members
    assert sorted(r.srandmember(k(), 10)) == ["a", "b", "c"]
    repeated = r.srandmember(k(), -8)
    assert len(repeated) == 8 and set(repeated) <= members
    assert r.srandmember(k(), 0) == []
    assert r.scard(k()) == 3
    with pytest.raises(redis.ResponseError) as e:
        raw.execute_command("SRANDMEMBER", k(), "x")
    assert str(e.value) == "value is not an integer or out of range"


def test_spop(r, raw, protocol, k):
    members = {"a", "b", "c", "d"}
    r.sadd(k(), *members)
    one = r.spop(k())
    assert one in members
    assert r.sismember(k(), one) == 0
    two = r.spop(k(), 2)
    assert len(two) == 2 and set(two) <= members - {one}
    assert r.scard(k()) == 1
    rest = r.spop(k(), 10)
    assert len(rest) == 1
    assert {one, *two, *rest} == members
    assert r.exists(k()) == 0
    assert r.spop(k()) is None
    assert raw.execute_command("SPOP", k(), "3") == []
    with pytest.raises(redis.ResponseError) as e:
        raw.execute_command("SPOP", k(), "-1")
    assert str(e.value) == "value is out of range, must be positive"


def test_spop_count_is_a_resp3_set(wire_proto, protocol, k):
    wire_proto.call("SADD", k(), "a", "b", "c")
    reply = wire_proto.call("SPOP", k(), "2")
    assert isinstance(reply, RSet) if protocol == 3 else type(reply) is list
    assert len(reply) == 2


def test_smove(r, raw, k):
    r.sadd(k("src"), "a", "b")
    r.sadd(k("dst"), "c")
    assert r.smove(k("src"), k("dst"), "a") is True
    assert r.smembers(k("src")) == {"b"}
    assert r.smembers(k("dst")) == {"a", "c"}
    assert raw.execute_command("SMOVE", k("src"), k("dst"), "missing") == 0
    assert r.smove(k("src"), k("new"), "b") is True
    assert r.exists(k("src")) == 0
    assert r.smembers(k("new")) == {"b"}
    assert r.smove(k("missing"), k("dst"), "a") is False
    r.set(k("str"), "v")
    with pytest.raises(redis.ResponseError) as e:
        r.smove(k("dst"), k("str"), "a")
    assert str(e.value).startswith("WRONGTYPE")
    assert r.sismember(k("dst"), "a") == 1


def test_sinter_sunion_sdiff(r, k):
    r.sadd(k("a"), "1", "2", "3", "4")
    r.sadd(k("b"), "3", "4", "5")
    r.sadd(k("c"), "4", "6")
    assert r.sinter(k("a"), k("b")) == {"3", "4"}
    assert r.sinter(k("a"), k("b"), k("c")) == {"4"}
    assert r.sinter(k("a"), k("missing")) == set()
    assert r.sunion(k("a"), k("b"), k("c")) == {"1", "2", "3", "4", "5", "6"}
    assert r.sunion(k("missing"), k("c")) == {"4", "6"}
    assert r.sdiff(k("a"), k("b")) == {"1", "2"}
    assert r.sdiff(k("a"), k("b"), k("c")) == {"1", "2"}
    assert r.sdiff(k("missing"), k("a")) == set()
    assert r.sdiff(k("a"), k("missing")) == {"1", "2", "3", "4"}


def test_set_algebra_wrongtype(r, k):
    r.sadd(k("a"), "1")
    r.set(k("s"), "v")
    for command in ("SINTER", "SUNION", "SDIFF"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(command, k("a"), k("s"))
        assert str(e.value).startswith("WRONGTYPE"), command


def test_sintercard(r, raw, k):
    r.sadd(k("a"), "1", "2", "3", "4")
    r.sadd(k("b"), "2", "3", "4", "5")
    assert raw.execute_command("SINTERCARD", "2", k("a"), k("b")) == 3
    assert raw.execute_command("SINTERCARD", "2", k("a"), k("b"), "LIMIT", "2") == 2
    assert raw.execute_command("SINTERCARD", "2", k("a"), k("b"), "LIMIT", "0") == 3
    assert raw.execute_command("SINTERCARD", "1", k("a")) == 4
    assert raw.execute_command("SINTERCARD", "2", k("a"), k("missing")) == 0
    assert r.sintercard(2, [k("a"), k("b")]) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["0", "a"], "numkeys should be greater than 0"),
        (["3", "a", "b"], "Number of keys can't be greater than number of args"),
        (["x", "a"], "numkeys should be greater than 0"),
        (["1", "a", "LIMIT", "-1"], "LIMIT can't be negative"),
        (["1", "a", "BOGUS"], "syntax error"),
    ],
)
def test_sintercard_errors(r, args, message):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SINTERCARD", *args)
    assert str(e.value) == message


def test_sscan(r, raw, k):
    members = {f"m{i}" for i in range(300)}
    r.sadd(k(), *members)
    seen = sscan_all(raw, k(), "COUNT", "10")
    assert len(seen) == len(set(seen)) == 300
    assert set(seen) == members
    assert sorted(sscan_all(raw, k(), "MATCH", "m1?")) == [f"m1{i}" for i in range(10)]
    assert sscan_all(raw, k("missing")) == []
    cursor, page = r.sscan(k(), 0, match="m29?", count=1000)
    assert cursor == 0 and sorted(page) == sorted(f"m29{i}" for i in range(10))


def test_sets_across_nodes(node_pairs, k):
    for i, (writer, reader) in enumerate(node_pairs):
        key = k(str(i))
        writer.sadd(key, "a", "b", "c")
        assert reader.smembers(key) == {"a", "b", "c"}
        assert reader.srem(key, "b") == 1
        assert writer.smembers(key) == {"a", "c"}
        assert writer.sismember(key, "b") == 0
        assert reader.scard(key) == 2
