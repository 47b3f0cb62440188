//! Hash and set commands against a real three-node cluster (every key on all three replicas,
//! quorum reads and writes), as Redis clients see them: each write goes through one node and
//! is read back through another.
//!
//! Exact error texts are checked on the wire (raw sockets); structured replies through the
//! `redis` crate, over RESP2 and RESP3.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use redis::Value;
use support::TestCluster;

fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn resp3(c: &TestCluster, i: usize) -> redis::Connection {
    connect(&format!("{}?protocol=resp3", c.url(i)))
}

fn cmd(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd
}

fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    cmd(args)
        .query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The error line a command answers on node `i` (without its `-` and CRLF).
fn error(c: &TestCluster, i: usize, args: &[&str]) -> String {
    let reply = c.command(i, args, None);
    assert!(reply.starts_with('-'), "{args:?} answered {reply:?}");
    reply.trim_start_matches('-').trim_end().to_owned()
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Scans a whole hash or set with `scan` (`HSCAN`/`SSCAN`) through `con`, checking that every
/// page is well formed; returns the items of every page, in order.
fn scan_all(con: &mut redis::Connection, scan: &str, key: &str, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec![scan, key, cursor.as_str()];
        args.extend_from_slice(options);
        let (next, page): (String, Vec<String>) = query(con, &args);
        items.extend(page);
        if next == "0" {
            return items;
        }
        cursor = next;
    }
    panic!("{scan} {key} never finished");
}

#[test]
fn hashes_behave_like_redis_across_nodes() {
    let c = TestCluster::start(3, 3);
    let mut n0 = connect(&c.url(0));
    let mut n1 = connect(&c.url(1));

    // HSET counts the fields it adds; a later write of a field replaces its value.
    assert_eq!(
        query::<i64>(&mut n0, &["HSET", "h", "f1", "v1", "f2", "v2"]),
        2
    );
    assert_eq!(
        query::<i64>(&mut n0, &["HSET", "h", "f1", "v1b", "f3", "v3"]),
        1
    );
    assert_eq!(
        query::<Option<String>>(&mut n1, &["HGET", "h", "f1"]),
        Some("v1b".into())
    );
    assert_eq!(
        query::<Option<String>>(&mut n1, &["HGET", "h", "nope"]),
        None
    );
    assert_eq!(
        query::<Option<String>>(&mut n1, &["HGET", "none", "f"]),
        None
    );
    assert_eq!(
        query::<Vec<Option<String>>>(&mut n1, &["HMGET", "h", "f1", "nope", "f3"]),
        vec![Some("v1b".into()), None, Some("v3".into())]
    );
    assert_eq!(
        query::<Vec<Option<String>>>(&mut n1, &["HMGET", "none", "a", "b"]),
        vec![None, None]
    );
    assert_eq!(query::<i64>(&mut n1, &["HSETNX", "h", "f1", "x"]), 0);
    assert_eq!(query::<i64>(&mut n1, &["HSETNX", "h", "f4", "v4"]), 1);
    assert_eq!(query::<String>(&mut n1, &["HMSET", "h", "f5", "v5"]), "OK");
    assert_eq!(query::<i64>(&mut n0, &["HLEN", "h"]), 5);
    assert_eq!(query::<i64>(&mut n0, &["HLEN", "none"]), 0);
    assert_eq!(query::<i64>(&mut n0, &["HEXISTS", "h", "f2"]), 1);
    assert_eq!(query::<i64>(&mut n0, &["HEXISTS", "h", "nope"]), 0);
    assert_eq!(query::<i64>(&mut n0, &["HSTRLEN", "h", "f1"]), 3);
    assert_eq!(query::<i64>(&mut n0, &["HSTRLEN", "h", "nope"]), 0);
    assert_eq!(
        query::<Vec<String>>(&mut n0, &["HKEYS", "h"]),
        ["f1", "f2", "f3", "f4", "f5"]
    );
    assert_eq!(
        query::<Vec<String>>(&mut n0, &["HVALS", "h"]),
        ["v1b", "v2", "v3", "v4", "v5"]
    );
    let all: BTreeMap<String, String> = query(&mut n0, &["HGETALL", "h"]);
    assert_eq!(all.len(), 5);
    assert_eq!(all["f1"], "v1b");
    assert!(query::<BTreeMap<String, String>>(&mut n0, &["HGETALL", "none"]).is_empty());
    assert_eq!(query::<String>(&mut n0, &["TYPE", "h"]), "hash");

    // HDEL counts what it removed; removing the last field removes the key.
    assert_eq!(query::<i64>(&mut n1, &["HDEL", "h", "f2", "nope"]), 1);
    assert_eq!(query::<i64>(&mut n0, &["HLEN", "h"]), 4);
    assert_eq!(query::<i64>(&mut n0, &["HDEL", "none", "f"]), 0);
    assert_eq!(query::<i64>(&mut n0, &["HSET", "gone", "only", "1"]), 1);
    assert_eq!(query::<i64>(&mut n1, &["HDEL", "gone", "only"]), 1);
    assert_eq!(query::<i64>(&mut n0, &["EXISTS", "gone"]), 0);

    // Arity: fields and values come in pairs.
    for args in [&["HSET", "h", "f"][..], &["HSET", "h", "f", "v", "g"]] {
        assert_eq!(
            error(&c, 0, args),
            "ERR wrong number of arguments for 'hset' command"
        );
    }
    assert_eq!(
        error(&c, 0, &["HMSET", "h", "f", "v", "g"]),
        "ERR wrong number of arguments for 'hmset' command"
    );

    // Increments.
    assert_eq!(query::<i64>(&mut n0, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(query::<i64>(&mut n1, &["HINCRBY", "h", "n", "-7"]), -2);
    assert_eq!(query::<String>(&mut n0, &["HGET", "h", "n"]), "-2");
    assert_eq!(
        error(&c, 0, &["HINCRBY", "h", "f1", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        error(&c, 0, &["HINCRBY", "h", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        query::<i64>(&mut n0, &["HINCRBY", "h", "big", "9223372036854775807"]),
        i64::MAX
    );
    assert_eq!(
        error(&c, 0, &["HINCRBY", "h", "big", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        query::<String>(&mut n0, &["HINCRBYFLOAT", "h", "fl", "1.5"]),
        "1.5"
    );
    assert_eq!(
        query::<String>(&mut n1, &["HINCRBYFLOAT", "h", "fl", "1e1"]),
        "11.5"
    );
    assert_eq!(
        c.command(2, &["HINCRBYFLOAT", "h", "n", "0.5"], None),
        "$4\r\n-1.5\r\n"
    );
    assert_eq!(
        error(&c, 0, &["HINCRBYFLOAT", "h", "fl", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(
        error(&c, 0, &["HINCRBYFLOAT", "h", "fl", "abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        error(&c, 0, &["HINCRBYFLOAT", "h", "f1", "1"]),
        "ERR hash value is not a float"
    );
}

#[test]
fn hrandfield_and_hscan() {
    let c = TestCluster::start(3, 3);
    let mut n0 = connect(&c.url(0));
    let mut n1 = connect(&c.url(1));
    let fields: BTreeMap<String, String> = (0..100)
        .map(|i| (format!("field:{i}"), format!("value:{i}")))
        .collect();
    let mut hset = vec!["HSET", "big"];
    for (f, v) in &fields {
        hset.extend([f.as_str(), v.as_str()]);
    }
    assert_eq!(query::<i64>(&mut n0, &hset), 100);

    // HRANDFIELD: one field; distinct ones for a positive count; exactly |count| for a
    // negative one; values that belong to their fields.
    let one: String = query(&mut n1, &["HRANDFIELD", "big"]);
    assert!(fields.contains_key(&one));
    assert_eq!(
        query::<Option<String>>(&mut n1, &["HRANDFIELD", "none"]),
        None
    );
    let some: Vec<String> = query(&mut n1, &["HRANDFIELD", "big", "10"]);
    assert_eq!(some.len(), 10);
    assert_eq!(some.iter().collect::<BTreeSet<_>>().len(), 10);
    assert!(some.iter().all(|f| fields.contains_key(f)));
    let every: Vec<String> = query(&mut n1, &["HRANDFIELD", "big", "500"]);
    assert_eq!(every.iter().cloned().collect::<BTreeSet<_>>().len(), 100);
    assert_eq!(every.len(), 100);
    assert_eq!(query::<i64>(&mut n0, &["HSET", "tiny", "a", "1"]), 1);
    let repeated: Vec<String> = query(&mut n1, &["HRANDFIELD", "tiny", "-5"]);
    assert_eq!(repeated, ["a", "a", "a", "a", "a"]);
    assert!(query::<Vec<String>>(&mut n1, &["HRANDFIELD", "big", "0"]).is_empty());
    assert!(query::<Vec<String>>(&mut n1, &["HRANDFIELD", "none", "3"]).is_empty());
    let pairs: Vec<String> = query(&mut n1, &["HRANDFIELD", "big", "3", "WITHVALUES"]);
    assert_eq!(pairs.len(), 6);
    for pair in pairs.chunks(2) {
        assert_eq!(fields[&pair[0]], pair[1]);
    }
    assert_eq!(
        error(&c, 0, &["HRANDFIELD", "big", "3", "WITHVALUE"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&c, 0, &["HRANDFIELD", "big", "x"]),
        "ERR value is not an integer or out of range"
    );

    // HSCAN through another node than the one written: every field exactly once, with its
    // value; MATCH filters; NOVALUES leaves the values out.
    let items = scan_all(&mut n1, "HSCAN", "big", &["COUNT", "7"]);
    let scanned: BTreeMap<String, String> = items
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    assert_eq!(items.len(), 200);
    assert_eq!(scanned, fields);
    let matched = scan_all(&mut n1, "HSCAN", "big", &["MATCH", "field:1?", "NOVALUES"]);
    let expected: Vec<String> = (10..20).map(|i| format!("field:{i}")).collect();
    assert_eq!(
        matched.iter().cloned().collect::<BTreeSet<_>>(),
        expected.into_iter().collect()
    );
    assert_eq!(matched.len(), 10);
    assert_eq!(
        c.command(0, &["HSCAN", "none", "0"], None),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(error(&c, 0, &["HSCAN", "big", "x"]), "ERR invalid cursor");
    assert_eq!(
        error(&c, 0, &["HSCAN", "big", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&c, 0, &["HSCAN", "big", "0", "BOGUS"]),
        "ERR syntax error"
    );

    // Scanning while deleting what each page returned still visits every field.
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    loop {
        let (next, page): (String, Vec<String>) = query(
            &mut n1,
            &["HSCAN", "big", &cursor, "COUNT", "10", "NOVALUES"],
        );
        if !page.is_empty() {
            let mut hdel = vec!["HDEL", "big"];
            hdel.extend(page.iter().map(String::as_str));
            assert_eq!(query::<usize>(&mut n0, &hdel), page.len());
        }
        seen.extend(page);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 100);
    assert_eq!(query::<i64>(&mut n0, &["EXISTS", "big"]), 0);
}

#[test]
fn sets_behave_like_redis_across_nodes() {
    let c = TestCluster::start(3, 3);
    let mut n0 = connect(&c.url(0));
    let mut n1 = connect(&c.url(1));
    let mut n2 = connect(&c.url(2));

    assert_eq!(query::<i64>(&mut n0, &["SADD", "s", "a", "b", "c", "a"]), 3);
    assert_eq!(query::<i64>(&mut n1, &["SADD", "s", "a", "d"]), 1);
    assert_eq!(
        query::<BTreeSet<String>>(&mut n2, &["SMEMBERS", "s"]),
        set_of(&["a", "b", "c", "d"])
    );
    assert!(query::<BTreeSet<String>>(&mut n2, &["SMEMBERS", "none"]).is_empty());
    assert_eq!(query::<i64>(&mut n2, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(query::<i64>(&mut n2, &["SISMEMBER", "s", "z"]), 0);
    assert_eq!(query::<i64>(&mut n2, &["SISMEMBER", "none", "z"]), 0);
    assert_eq!(
        query::<Vec<i64>>(&mut n2, &["SMISMEMBER", "s", "a", "z", "d"]),
        [1, 0, 1]
    );
    assert_eq!(
        query::<Vec<i64>>(&mut n2, &["SMISMEMBER", "none", "a"]),
        [0]
    );
    assert_eq!(query::<i64>(&mut n2, &["SCARD", "s"]), 4);
    assert_eq!(query::<i64>(&mut n2, &["SCARD", "none"]), 0);
    assert_eq!(query::<String>(&mut n2, &["TYPE", "s"]), "set");
    assert_eq!(query::<i64>(&mut n1, &["SREM", "s", "a", "z"]), 1);
    assert_eq!(query::<i64>(&mut n0, &["SCARD", "s"]), 3);
    assert_eq!(query::<i64>(&mut n0, &["SREM", "none", "a"]), 0);

    // SRANDMEMBER.
    let members = set_of(&["b", "c", "d"]);
    assert!(members.contains(&query::<String>(&mut n0, &["SRANDMEMBER", "s"])));
    assert_eq!(
        query::<Option<String>>(&mut n0, &["SRANDMEMBER", "none"]),
        None
    );
    let two: Vec<String> = query(&mut n0, &["SRANDMEMBER", "s", "2"]);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    assert!(two.iter().all(|m| members.contains(m)));
    let all: Vec<String> = query(&mut n0, &["SRANDMEMBER", "s", "10"]);
    assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), members);
    let repeated: Vec<String> = query(&mut n0, &["SRANDMEMBER", "s", "-10"]);
    assert_eq!(repeated.len(), 10);
    assert!(repeated.iter().all(|m| members.contains(m)));
    assert!(query::<Vec<String>>(&mut n0, &["SRANDMEMBER", "s", "0"]).is_empty());
    assert!(query::<Vec<String>>(&mut n0, &["SRANDMEMBER", "none", "5"]).is_empty());
    assert_eq!(
        error(&c, 0, &["SRANDMEMBER", "s", "1", "2"]),
        "ERR syntax error"
    );

    // SPOP removes what it returns, on every replica.
    let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let mut sadd = vec!["SADD", "p"];
    sadd.extend(ten.iter().map(String::as_str));
    assert_eq!(query::<i64>(&mut n0, &sadd), 10);
    let mut popped = vec![query::<String>(&mut n1, &["SPOP", "p"])];
    assert_eq!(query::<i64>(&mut n2, &["SCARD", "p"]), 9);
    popped.extend(query::<Vec<String>>(&mut n1, &["SPOP", "p", "3"]));
    assert_eq!(popped.len(), 4);
    assert_eq!(query::<i64>(&mut n2, &["SCARD", "p"]), 6);
    assert_eq!(
        error(&c, 0, &["SPOP", "p", "-1"]),
        "ERR value is out of range, must be positive"
    );
    popped.extend(query::<Vec<String>>(&mut n1, &["SPOP", "p", "100"]));
    assert_eq!(popped.len(), 10);
    assert_eq!(
        popped.into_iter().collect::<BTreeSet<_>>(),
        ten.into_iter().collect()
    );
    assert_eq!(query::<i64>(&mut n2, &["EXISTS", "p"]), 0);
    assert_eq!(query::<Option<String>>(&mut n2, &["SPOP", "p"]), None);
    assert!(query::<Vec<String>>(&mut n2, &["SPOP", "none", "2"]).is_empty());

    // SMOVE.
    assert_eq!(query::<i64>(&mut n0, &["SADD", "src", "x", "y"]), 2);
    assert_eq!(query::<i64>(&mut n0, &["SMOVE", "src", "dst", "x"]), 1);
    assert_eq!(query::<i64>(&mut n1, &["SISMEMBER", "dst", "x"]), 1);
    assert_eq!(query::<i64>(&mut n2, &["SISMEMBER", "src", "x"]), 0);
    assert_eq!(query::<i64>(&mut n0, &["SMOVE", "src", "dst", "nope"]), 0);
    assert_eq!(query::<i64>(&mut n0, &["SMOVE", "none", "dst", "x"]), 0);
    assert_eq!(query::<i64>(&mut n0, &["SMOVE", "src", "src", "y"]), 1);
    assert_eq!(query::<i64>(&mut n0, &["SMOVE", "src", "src", "x"]), 0);
    assert_eq!(query::<String>(&mut n0, &["SET", "str", "v"]), "OK");
    assert_eq!(error(&c, 1, &["SMOVE", "src", "str", "y"]), WRONGTYPE);
    assert_eq!(error(&c, 1, &["SMOVE", "str", "dst", "y"]), WRONGTYPE);
    assert_eq!(
        query::<i64>(&mut n2, &["SISMEMBER", "src", "y"]),
        1,
        "nothing moved"
    );
    // The last member out empties the source, which then no longer exists.
    assert_eq!(query::<i64>(&mut n0, &["SMOVE", "src", "dst", "y"]), 1);
    assert_eq!(query::<i64>(&mut n1, &["EXISTS", "src"]), 0);
    assert_eq!(
        query::<BTreeSet<String>>(&mut n2, &["SMEMBERS", "dst"]),
        set_of(&["x", "y"])
    );
}

#[test]
fn set_algebra_scans_types_and_resp3() {
    let c = TestCluster::start(3, 3);
    let mut n0 = connect(&c.url(0));
    let mut n1 = connect(&c.url(1));
    query::<i64>(&mut n0, &["SADD", "k1", "a", "b", "c", "d"]);
    query::<i64>(&mut n1, &["SADD", "k2", "c", "d", "e"]);
    query::<i64>(&mut n0, &["SADD", "k3", "a", "c", "e"]);

    let members =
        |con: &mut redis::Connection, args: &[&str]| -> BTreeSet<String> { query(con, args) };
    assert_eq!(
        members(&mut n1, &["SINTER", "k1", "k2"]),
        set_of(&["c", "d"])
    );
    assert_eq!(
        members(&mut n1, &["SINTER", "k1", "k2", "k3"]),
        set_of(&["c"])
    );
    assert!(members(&mut n1, &["SINTER", "k1", "none"]).is_empty());
    assert_eq!(
        members(&mut n1, &["SINTER", "k1"]),
        set_of(&["a", "b", "c", "d"])
    );
    assert_eq!(
        members(&mut n1, &["SUNION", "k1", "k2"]),
        set_of(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        members(&mut n1, &["SUNION", "k2", "none"]),
        set_of(&["c", "d", "e"])
    );
    assert_eq!(
        members(&mut n1, &["SDIFF", "k1", "k2"]),
        set_of(&["a", "b"])
    );
    assert_eq!(
        members(&mut n1, &["SDIFF", "k1", "k2", "k3"]),
        set_of(&["b"])
    );
    assert_eq!(
        members(&mut n1, &["SDIFF", "k1", "none"]),
        set_of(&["a", "b", "c", "d"])
    );
    assert!(members(&mut n1, &["SDIFF", "none", "k1"]).is_empty());

    assert_eq!(query::<i64>(&mut n1, &["SINTERCARD", "2", "k1", "k2"]), 2);
    assert_eq!(
        query::<i64>(&mut n1, &["SINTERCARD", "2", "k1", "k2", "LIMIT", "1"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut n1, &["SINTERCARD", "2", "k1", "k2", "limit", "0"]),
        2
    );
    assert_eq!(query::<i64>(&mut n1, &["SINTERCARD", "2", "k1", "none"]), 0);
    assert_eq!(
        error(&c, 0, &["SINTERCARD", "0", "k1"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        error(&c, 0, &["SINTERCARD", "3", "k1", "k2"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        error(&c, 0, &["SINTERCARD", "1", "k1", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    assert_eq!(
        error(&c, 0, &["SINTERCARD", "1", "k1", "FOO", "1"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&c, 0, &["SINTERCARD", "1", "k1", "LIMIT"]),
        "ERR syntax error"
    );

    // SSCAN: every member once across pages; MATCH filters.
    let hundred: Vec<String> = (0..100).map(|i| format!("member:{i}")).collect();
    let mut sadd = vec!["SADD", "big"];
    sadd.extend(hundred.iter().map(String::as_str));
    assert_eq!(query::<i64>(&mut n0, &sadd), 100);
    let scanned = scan_all(&mut n1, "SSCAN", "big", &["COUNT", "9"]);
    assert_eq!(scanned.len(), 100);
    assert_eq!(
        scanned.into_iter().collect::<BTreeSet<_>>(),
        hundred.iter().cloned().collect()
    );
    let fives = scan_all(&mut n1, "SSCAN", "big", &["MATCH", "member:5*"]);
    assert_eq!(fives.len(), 11);
    assert_eq!(
        error(&c, 0, &["SSCAN", "big", "0", "NOVALUES"]),
        "ERR NOVALUES option can only be used in HSCAN"
    );

    // Pipelined commands on one key run in order.
    let mut pipe = redis::pipe();
    pipe.cmd("SADD").arg("q").arg("x");
    pipe.cmd("SMEMBERS").arg("q");
    pipe.cmd("SREM").arg("q").arg("x");
    pipe.cmd("SCARD").arg("q");
    let (added, seen, removed, left): (i64, Vec<String>, i64, i64) = pipe.query(&mut n0).unwrap();
    assert_eq!(
        (added, seen, removed, left),
        (1, vec!["x".to_string()], 1, 0)
    );

    // WRONGTYPE both ways, and nothing changes.
    query::<i64>(&mut n0, &["HSET", "hash", "f", "v"]);
    query::<String>(&mut n0, &["SET", "str", "v"]);
    for args in [
        &["SADD", "str", "x"][..],
        &["SREM", "str", "x"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "x"],
        &["SMISMEMBER", "str", "x"],
        &["SCARD", "str"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SINTER", "k1", "str"],
        &["SINTER", "none", "str"],
        &["SUNION", "str", "k1"],
        &["SDIFF", "k1", "str"],
        &["SINTERCARD", "2", "k1", "str"],
        &["SSCAN", "str", "0"],
        &["SADD", "hash", "x"],
        &["HSET", "str", "f", "v"],
        &["HSETNX", "str", "f", "v"],
        &["HMSET", "str", "f", "v"],
        &["HGET", "str", "f"],
        &["HMGET", "str", "f"],
        &["HDEL", "str", "f"],
        &["HGETALL", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HLEN", "str"],
        &["HEXISTS", "str", "f"],
        &["HSTRLEN", "str", "f"],
        &["HINCRBY", "str", "f", "1"],
        &["HINCRBYFLOAT", "str", "f", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2", "WITHVALUES"],
        &["HSCAN", "str", "0"],
        &["HGET", "k1", "f"],
        &["GET", "k1"],
        &["GET", "hash"],
    ] {
        assert_eq!(error(&c, 2, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(query::<String>(&mut n1, &["GET", "str"]), "v");
    assert_eq!(query::<i64>(&mut n1, &["HLEN", "hash"]), 1);

    // RESP3: HGETALL is a map, SMEMBERS / SINTER / SPOP with a count are sets, HRANDFIELD
    // WITHVALUES is an array of [field, value] pairs.
    let mut r3 = resp3(&c, 2);
    query::<i64>(&mut n0, &["HSET", "h3", "a", "1", "b", "2"]);
    match query::<Value>(&mut r3, &["HGETALL", "h3"]) {
        Value::Map(pairs) => {
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(k, v)| {
                    (
                        redis::from_redis_value(&k).unwrap(),
                        redis::from_redis_value(&v).unwrap(),
                    )
                })
                .collect();
            let expected = [("a", "1"), ("b", "2")].map(|(k, v)| (k.to_string(), v.to_string()));
            assert_eq!(pairs, expected);
        }
        other => panic!("HGETALL answered {other:?}"),
    }
    assert!(matches!(
        query::<Value>(&mut r3, &["HGETALL", "none"]),
        Value::Map(m) if m.is_empty()
    ));
    match query::<Value>(&mut r3, &["HRANDFIELD", "h3", "-3", "WITHVALUES"]) {
        Value::Array(items) => {
            assert_eq!(items.len(), 3);
            for item in items {
                let pair: (String, String) = redis::from_redis_value(&item).unwrap();
                assert!(pair == ("a".into(), "1".into()) || pair == ("b".into(), "2".into()));
            }
        }
        other => panic!("HRANDFIELD answered {other:?}"),
    }
    for args in [
        &["SMEMBERS", "k1"][..],
        &["SINTER", "k1", "k2"],
        &["SUNION", "k1", "k2"],
        &["SDIFF", "k1", "k2"],
    ] {
        assert!(
            matches!(query::<Value>(&mut r3, args), Value::Set(ref s) if !s.is_empty()),
            "{args:?}"
        );
    }
    assert!(matches!(
        query::<Value>(&mut r3, &["SMEMBERS", "none"]),
        Value::Set(s) if s.is_empty()
    ));
    assert!(matches!(
        query::<Value>(&mut r3, &["SPOP", "k3", "1"]),
        Value::Set(s) if s.len() == 1
    ));
    assert!(matches!(
        query::<Value>(&mut r3, &["HINCRBYFLOAT", "h3", "a", "0.5"]),
        Value::BulkString(b) if b == b"1.5"
    ));
}
