"""Keys and TTLs: deletion, existence, types, every way to set and read an expiry, SCAN and the
whole-keyspace commands (those run in the emptied scratch db)."""

import time

import pytest
import redis

from conftest import PORTS, make_client


def scan_all(client, **kwargs):
    """Every key a full SCAN returns, in order, duplicates kept (so tests can count them)."""
    seen = []
    cursor = 0
    for _ in range(100000):
        cursor, keys = client.scan(cursor=cursor, **kwargs)
        seen.extend(keys)
        if cursor == 0:
            return seen
    raise AssertionError("SCAN did not finish")


# --- DEL, UNLINK, EXISTS, TYPE -----------------------------------------------------------------


def test_del_counts_removed_keys(r, k):
    r.mset({k("a"): "1", k("b"): "2"})
    r.sadd(k("c"), "m")
    assert r.delete(k("a"), k("b"), k("c"), k("missing")) == 3
    assert r.exists(k("a"), k("b"), k("c")) == 0
    assert r.delete(k("a")) == 0


def test_unlink(r, k):
    r.set(k("a"), "1")
    r.hset(k("b"), "f", "v")
    assert r.unlink(k("a"), k("b"), k("missing")) == 2
    assert r.exists(k("a"), k("b")) == 0


def test_del_same_key_twice_counts_once(r, k):
    r.set(k(), "v")
    assert r.delete(k(), k()) == 1


def test_exists_counts_repeats(r, k):
    r.set(k("a"), "1")
    assert r.exists(k("a")) == 1
    assert r.exists(k("a"), k("a"), k("missing")) == 2
    assert r.exists(k("missing")) == 0


def test_type(r, raw, wire_proto, k):
    r.set(k("s"), "v")
    r.hset(k("h"), "f", "v")
    r.sadd(k("set"), "m")
    r.incr(k("n"))
    assert r.type(k("s")) == "string"
    assert r.type(k("h")) == "hash"
    assert r.type(k("set")) == "set"
    assert r.type(k("n")) == "string"
    assert raw.execute_command("TYPE", k("missing")) == "none"
    assert wire_proto.call("TYPE", k("s")) == "string"
    assert type(wire_proto.call("TYPE", k("s"))).__name__ == "Simple"


# --- EXPIRE family -----------------------------------------------------------------------------


def test_expire_ttl_pttl(r, k):
    r.set(k(), "v")
    assert r.ttl(k()) == -1
    assert r.pttl(k()) == -1
    assert r.expire(k(), 100) is True
    assert 95 <= r.ttl(k()) <= 100
    assert 95000 <= r.pttl(k()) <= 100000
    assert r.pexpire(k(), 50000) is True
    assert 45000 <= r.pttl(k()) <= 50000
    assert r.ttl(k("missing")) == -2
    assert r.pttl(k("missing")) == -2


def test_expire_missing_key(r, raw, k):
    assert r.expire(k(), 100) is False
    assert raw.execute_command("EXPIRE", k(), "100") == 0
    assert raw.execute_command("PEXPIRE", k(), "100") == 0
    assert r.exists(k()) == 0


def test_expireat_pexpireat(r, k):
    r.set(k(), "v")
    at = int(time.time()) + 100
    assert r.expireat(k(), at) is True
    assert r.expiretime(k()) == at
    assert r.pexpiretime(k()) == at * 1000
    # EXPIRETIME rounds to the nearest second: .700 rounds up, .300 down.
    at_ms = (int(time.time()) + 200) * 1000 + 700
    assert r.pexpireat(k(), at_ms) is True
    assert r.pexpiretime(k()) == at_ms
    assert r.expiretime(k()) == at_ms // 1000 + 1
    assert r.pexpireat(k(), at_ms - 400) is True
    assert r.expiretime(k()) == at_ms // 1000


def test_expiretime_special_values(r, k):
    assert r.expiretime(k()) == -2
    assert r.pexpiretime(k()) == -2
    r.set(k(), "v")
    assert r.expiretime(k()) == -1
    assert r.pexpiretime(k()) == -1


def test_expire_in_the_past_deletes(r, k):
    r.set(k("a"), "v")
    assert r.expire(k("a"), -1) is True
    assert r.exists(k("a")) == 0
    r.set(k("b"), "v")
    assert r.expire(k("b"), 0) is True
    assert r.exists(k("b")) == 0
    r.set(k("c"), "v")
    assert r.expireat(k("c"), int(time.time()) - 10) is True
    assert r.exists(k("c")) == 0
    r.set(k("d"), "v")
    assert r.pexpireat(k("d"), 1) is True
    assert r.get(k("d")) is None


def test_expire_nx_xx(r, k):
    r.set(k(), "v")
    assert r.expire(k(), 100, xx=True) is False
    assert r.ttl(k()) == -1
    assert r.expire(k(), 100, nx=True) is True
    assert r.expire(k(), 200, nx=True) is False
    assert 95 <= r.ttl(k()) <= 100
    assert r.expire(k(), 200, xx=True) is True
    assert 195 <= r.ttl(k()) <= 200


def test_expire_gt_lt(r, k):
    r.set(k(), "v")
    # No TTL counts as an infinite one: GT never wins against it, LT always does.
    assert r.expire(k(), 100, gt=True) is False
    assert r.ttl(k()) == -1
    assert r.expire(k(), 100, lt=True) is True
    assert r.expire(k(), 50, gt=True) is False
    assert r.expire(k(), 200, gt=True) is True
    assert 195 <= r.ttl(k()) <= 200
    assert r.expire(k(), 300, lt=True) is False
    assert r.expire(k(), 150, lt=True) is True
    assert 145 <= r.ttl(k()) <= 150


def test_pexpire_and_expireat_options(r, k):
    r.set(k(), "v")
    assert r.pexpire(k(), 100000, nx=True) is True
    assert r.pexpire(k(), 200000, nx=True) is False
    assert r.pexpire(k(), 200000, gt=True) is True
    now = int(time.time())
    assert r.expireat(k(), now + 100, lt=True) is True
    assert r.expireat(k(), now + 500, lt=True) is False
    assert r.expireat(k(), now + 500, xx=True) is True
    assert r.pexpireat(k(), (now + 600) * 1000, gt=True) is True
    assert r.pexpireat(k(), (now + 10) * 1000, gt=True) is False
    assert r.expiretime(k()) == now + 600


@pytest.mark.parametrize(
    "options, message",
    [
        (["NX", "XX"], "NX and XX, GT or LT options at the same time are not compatible"),
        (["NX", "GT"], "NX and XX, GT or LT options at the same time are not compatible"),
        (["GT", "LT"], "GT and LT options at the same time are not compatible"),
        (["BOGUS"], "Unsupported option BOGUS"),
    ],
)
def test_expire_incompatible_options(r, k, options, message):
    r.set(k(), "v")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("EXPIRE", k(), "100", *options)
    assert str(e.value) == message
    assert r.ttl(k()) == -1


def test_expire_not_an_integer(r, k):
    r.set(k(), "v")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("EXPIRE", k(), "soon")
    assert str(e.value) == "value is not an integer or out of range"


def test_persist(r, k):
    r.set(k(), "v", ex=100)
    assert r.persist(k()) is True
    assert r.ttl(k()) == -1
    assert r.persist(k()) is False
    assert r.persist(k("missing")) is False


def test_touch(r, k):
    r.set(k("a"), "1")
    r.sadd(k("b"), "m")
    assert r.touch(k("a"), k("b"), k("missing")) == 2


def test_expired_key_is_invisible_immediately(r, k):
    r.set(k(), "v", px=100)
    r.hset(k("h"), "f", "v")
    r.pexpire(k("h"), 100)
    r.sadd(k("s"), "m")
    r.pexpire(k("s"), 100)
    assert r.get(k()) == "v"
    time.sleep(0.3)
    assert r.get(k()) is None
    assert r.exists(k(), k("h"), k("s")) == 0
    assert r.ttl(k()) == -2
    assert r.type(k()) == "none"
    assert r.hgetall(k("h")) == {}
    assert r.smembers(k("s")) == set()
    assert r.keys(k("*")) == []
    assert scan_all(r, match=k("*")) == []
    assert r.incr(k()) == 1


def test_expired_key_invisible_on_every_node(clients, k):
    clients[0].set(k(), "v", px=100)
    time.sleep(0.3)
    for client in clients:
        assert client.get(k()) is None
        assert client.exists(k()) == 0


def test_ttl_set_on_one_node_seen_on_another(node_pairs, k):
    for i, (writer, reader) in enumerate(node_pairs):
        writer.set(k(str(i)), "v")
        assert writer.expire(k(str(i)), 100) is True
        assert 95 <= reader.ttl(k(str(i))) <= 100
        assert reader.persist(k(str(i))) is True
        assert writer.ttl(k(str(i))) == -1


# --- RENAME ------------------------------------------------------------------------------------


def test_rename(r, k):
    r.set(k("src"), "v", ex=100)
    r.set(k("dst"), "old")
    assert r.rename(k("src"), k("dst")) is True
    assert r.exists(k("src")) == 0
    assert r.get(k("dst")) == "v"
    assert 95 <= r.ttl(k("dst")) <= 100


def test_rename_other_types(r, k):
    r.hset(k("h"), mapping={"a": "1", "b": "2"})
    r.rename(k("h"), k("h2"))
    assert r.hgetall(k("h2")) == {"a": "1", "b": "2"}
    r.sadd(k("s"), "x", "y")
    r.set(k("s2"), "string")
    r.rename(k("s"), k("s2"))
    assert r.smembers(k("s2")) == {"x", "y"}
    assert r.type(k("s2")) == "set"


def test_rename_missing_and_self(r, k):
    with pytest.raises(redis.ResponseError) as e:
        r.rename(k("missing"), k("dst"))
    assert str(e.value) == "no such key"
    r.set(k(), "v")
    assert r.rename(k(), k()) is True
    assert r.get(k()) == "v"


def test_renamenx(r, raw, k):
    r.set(k("a"), "1")
    r.set(k("b"), "2")
    assert r.renamenx(k("a"), k("b")) is False
    assert r.mget(k("a"), k("b")) == ["1", "2"]
    assert raw.execute_command("RENAMENX", k("a"), k("c")) == 1
    assert r.mget(k("a"), k("c")) == [None, "1"]
    with pytest.raises(redis.ResponseError) as e:
        r.renamenx(k("missing"), k("d"))
    assert str(e.value) == "no such key"


# --- SCAN --------------------------------------------------------------------------------------


def test_scan_returns_every_key_exactly_once(r, k):
    keys = {k(f"{i:04d}") for i in range(300)}
    r.mset({key: "v" for key in keys})
    everything = scan_all(r, count=10)
    assert len(everything) == len(set(everything)), "a key came back twice"
    assert keys <= set(everything)
    mine = scan_all(r, match=k("*"), count=7)
    assert sorted(mine) == sorted(keys)


def test_scan_match_and_type(r, k):
    r.mset({k("str:1"): "a", k("str:2"): "b"})
    r.hset(k("hash:1"), "f", "v")
    r.sadd(k("set:1"), "m")
    assert sorted(scan_all(r, match=k("str:*"))) == [k("str:1"), k("str:2")]
    assert scan_all(r, match=k("*"), _type="hash") == [k("hash:1")]
    assert scan_all(r, match=k("*"), _type="set") == [k("set:1")]
    assert sorted(scan_all(r, match=k("*"), _type="string")) == [k("str:1"), k("str:2")]
    assert scan_all(r, match=k("nothing*")) == []


def test_scan_cursor_is_a_string_in_the_reply(raw, k):
    raw.execute_command("SET", k(), "v")
    cursor, keys = raw.execute_command("SCAN", "0", "MATCH", k("*"), "COUNT", "1000")
    assert isinstance(cursor, str) and cursor.isdigit()
    assert isinstance(keys, list)


def test_scan_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SCAN", "notacursor")
    assert str(e.value) == "invalid cursor"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SCAN", "0", "COUNT", "0")
    assert str(e.value) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SCAN", "0", "BOGUS", "1")
    assert str(e.value) == "syntax error"


def test_scan_sees_writes_of_other_nodes(clients, k):
    for i, client in enumerate(clients):
        client.set(k(str(i)), "v")
    expected = sorted({k(str(i)) for i in range(len(clients))})
    for client in clients:
        assert sorted(set(scan_all(client, match=k("*")))) == expected


# --- whole keyspace (scratch db) ---------------------------------------------------------------


def test_keys_patterns(scratch):
    scratch.mset(
        {"hello": "1", "hallo": "2", "hxllo": "3", "hllo": "4", "heeeello": "5", "h*llo": "6"}
    )
    assert sorted(scratch.keys("h?llo")) == ["h*llo", "hallo", "hello", "hxllo"]
    assert sorted(scratch.keys("h*llo")) == ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]
    assert sorted(scratch.keys("h[ae]llo")) == ["hallo", "hello"]
    assert sorted(scratch.keys("h[^e]llo")) == ["h*llo", "hallo", "hxllo"]
    assert sorted(scratch.keys("h[a-b]llo")) == ["hallo"]
    assert scratch.keys("h\\*llo") == ["h*llo"]
    assert len(scratch.keys("*")) == 6
    assert scratch.keys("nothing*") == []


def test_dbsize(scratch):
    assert scratch.dbsize() == 0
    scratch.mset({f"key{i}": "v" for i in range(25)})
    scratch.sadd("set", "m")
    assert scratch.dbsize() == 26
    scratch.delete("key0")
    assert scratch.dbsize() == 25


def test_randomkey(scratch, raw):
    assert scratch.randomkey() is None
    scratch.set("only", "v")
    assert scratch.randomkey() == "only"
    scratch.mset({"a": "1", "b": "2"})
    for _ in range(10):
        assert scratch.randomkey() in {"only", "a", "b"}


def test_scan_full_iteration_in_empty_db(scratch):
    keys = {f"k{i}" for i in range(200)}
    scratch.mset({key: "v" for key in keys})
    everything = scan_all(scratch, count=10)
    assert sorted(everything) == sorted(keys)


def test_flushdb_empties_only_its_db(scratch, r, raw, k):
    r.set(k(), "in db 0")
    scratch.mset({"a": "1", "b": "2"})
    assert scratch.flushdb() is True
    assert scratch.dbsize() == 0
    assert scratch.keys("*") == []
    assert r.get(k()) == "in db 0"
    scratch.set("c", "3")
    assert scratch.execute_command("FLUSHDB", "SYNC") is True
    assert scratch.dbsize() == 0
    scratch.set("d", "4")
    assert scratch.execute_command("FLUSHDB", "ASYNC") is True
    assert scratch.dbsize() == 0


def test_flushall_empties_every_db(scratch, r, k, protocol):
    # Runs last in this file (pytest keeps file order) so the keys it drops are no other test's.
    r.set(k(), "in db 0")
    scratch.set("scratch", "v")
    assert r.flushall() is True
    assert r.exists(k()) == 0
    assert scratch.exists("scratch") == 0
    assert r.dbsize() == 0
    others = [make_client(port, protocol) for port in PORTS]
    try:
        for other in others:
            assert other.exists(k()) == 0
    finally:
        for other in others:
            other.close()
