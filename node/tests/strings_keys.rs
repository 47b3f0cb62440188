//! Strings, counters, TTLs, keys and the keyspace walk against a real three-node cluster,
//! through the `redis` crate over RESP2 and RESP3: each write goes through one node and is
//! read back through another. (The redis-py and redis-cli suites in `compat/` cover the same
//! families in more depth; this keeps a Rust client in `cargo test`.)
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use redis::Value;
use support::TestCluster;

fn connect(c: &TestCluster, i: usize, resp3: bool) -> redis::Connection {
    let url = if resp3 {
        format!("{}?protocol=resp3", c.url(i))
    } else {
        c.url(i)
    };
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn error(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(con) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{args:?} answered {v:?}"),
    }
}

#[test]
fn strings_counters_ttls_and_keys_behave_like_redis_across_nodes() {
    let c = TestCluster::start(3, 3);
    for resp3 in [false, true] {
        let p = if resp3 { "r3:" } else { "r2:" };
        let k = |name: &str| format!("{p}{name}");
        let (mut a, mut b) = (connect(&c, 0, resp3), connect(&c, 1, resp3));

        // Strings.
        let s = k("s");
        assert_eq!(query::<String>(&mut a, &["SET", &s, "hello"]), "OK");
        assert_eq!(
            query::<Option<String>>(&mut b, &["GET", &s]).unwrap(),
            "hello"
        );
        assert_eq!(query::<i64>(&mut a, &["APPEND", &s, " world"]), 11);
        assert_eq!(
            query::<String>(&mut b, &["GETRANGE", &s, "-5", "-1"]),
            "world"
        );
        assert_eq!(query::<i64>(&mut b, &["STRLEN", &s]), 11);
        assert_eq!(
            query::<Option<String>>(&mut a, &["SET", &s, "x", "NX"]),
            None
        );
        assert_eq!(
            query::<Option<String>>(&mut a, &["SET", &s, "new", "XX", "GET"]).unwrap(),
            "hello world"
        );
        assert_eq!(query::<i64>(&mut b, &["SETNX", &s, "y"]), 0);
        assert_eq!(
            query::<Option<String>>(&mut b, &["GETDEL", &s]).unwrap(),
            "new"
        );
        assert_eq!(query::<i64>(&mut a, &["EXISTS", &s]), 0);
        let (m1, m2) = (k("m1"), k("m2"));
        assert_eq!(query::<String>(&mut a, &["MSET", &m1, "1", &m2, "2"]), "OK");
        let got: Vec<Option<String>> = query(&mut b, &["MGET", &m1, &k("none"), &m2]);
        assert_eq!(got, vec![Some("1".into()), None, Some("2".into())]);
        assert_eq!(
            query::<i64>(&mut a, &["MSETNX", &m1, "x", &k("m3"), "y"]),
            0
        );

        // Counters: a string holding a number becomes a counter, and reads as a string.
        let n = k("n");
        assert_eq!(query::<String>(&mut a, &["SET", &n, "10"]), "OK");
        assert_eq!(query::<i64>(&mut b, &["INCR", &n]), 11);
        assert_eq!(query::<i64>(&mut a, &["DECRBY", &n, "5"]), 6);
        assert_eq!(query::<String>(&mut b, &["GET", &n]), "6");
        assert_eq!(query::<String>(&mut a, &["INCRBYFLOAT", &n, "0.5"]), "6.5");
        assert_eq!(
            error(&mut b, &["INCR", &n]),
            "An error was signalled by the server - ResponseError: value is not an integer or \
             out of range"
        );
        assert_eq!(query::<String>(&mut b, &["TYPE", &n]), "string");

        // TTLs.
        let t = k("t");
        assert_eq!(
            query::<String>(&mut a, &["SET", &t, "v", "EX", "100"]),
            "OK"
        );
        let ttl: i64 = query(&mut b, &["TTL", &t]);
        assert!((99..=100).contains(&ttl), "{ttl}");
        assert_eq!(query::<i64>(&mut b, &["EXPIRE", &t, "50", "GT"]), 0);
        assert_eq!(query::<i64>(&mut b, &["EXPIRE", &t, "50", "XX", "LT"]), 1);
        assert_eq!(query::<i64>(&mut a, &["PERSIST", &t]), 1);
        assert_eq!(query::<i64>(&mut b, &["TTL", &t]), -1);
        assert_eq!(
            query::<String>(&mut a, &["SET", &t, "v", "PX", "100"]),
            "OK"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(query::<Option<String>>(&mut b, &["GET", &t]), None);
        assert_eq!(query::<i64>(&mut b, &["TTL", &t]), -2);

        // WAIT: the replicas besides the coordinating one that held the last write.
        let w = k("w");
        let _: String = query(&mut a, &["WITH", "ALL", "--", "SET", &w, "v"]);
        assert_eq!(query::<i64>(&mut a, &["WAIT", "2", "0"]), 2);
        // A write that changed nothing needed no other replica.
        let _: Option<String> = query(&mut a, &["SET", &w, "x", "NX"]);
        assert_eq!(query::<i64>(&mut a, &["WAIT", "1", "0"]), 0);

        // Keys.
        let (src, dst) = (k("src"), k("dst"));
        assert_eq!(query::<i64>(&mut a, &["SADD", &src, "x", "y"]), 2);
        assert_eq!(query::<String>(&mut b, &["RENAME", &src, &dst]), "OK");
        assert_eq!(query::<i64>(&mut a, &["SCARD", &dst]), 2);
        assert_eq!(query::<String>(&mut a, &["TYPE", &dst]), "set");
        assert_eq!(query::<String>(&mut a, &["TYPE", &src]), "none");
        assert_eq!(query::<i64>(&mut b, &["DEL", &dst, &m1, &k("none")]), 2);
    }
}

#[test]
fn scan_walks_every_key_once_through_any_node() {
    let c = TestCluster::start(3, 3);
    let mut a = connect(&c, 0, false);
    let mut b = connect(&c, 2, true);
    let written: BTreeSet<String> = (0..60).map(|i| format!("scan:{i}")).collect();
    for key in &written {
        let _: String = query(&mut a, &["SET", key, "v"]);
    }
    let _: i64 = query(&mut a, &["SADD", "scan:set", "m"]);
    // Pages alternate between two nodes: the cursor is valid on every node.
    let mut cursor = "0".to_owned();
    let mut seen = Vec::new();
    for page in 0.. {
        let con = if page % 2 == 0 { &mut a } else { &mut b };
        let (next, keys): (String, Vec<String>) = query(
            con,
            &[
                "SCAN", &cursor, "MATCH", "scan:*", "COUNT", "7", "TYPE", "string",
            ],
        );
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(page < 10_000, "SCAN did not end");
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique, written, "every string key, and only those");
    assert_eq!(
        unique.len(),
        seen.len(),
        "no key twice when nothing changes"
    );
    let mut keys: Vec<String> = query(&mut b, &["KEYS", "scan:*"]);
    keys.sort();
    assert_eq!(keys.len(), 61);
    let size: i64 = query(&mut a, &["DBSIZE"]);
    assert!(size >= 61, "{size}");
    // An expired key's data is purged in the background on every replica (`INFO` counts it).
    let _: String = query(&mut a, &["SET", "scan:short", "v", "PX", "50"]);
    for i in 0..3 {
        let mut con = connect(&c, i, false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let info: String = query(&mut con, &["INFO", "stats"]);
            let purged = info
                .lines()
                .find_map(|l| l.strip_prefix("expired_keys:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if purged >= 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "node {i}: {info}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    assert_eq!(query::<String>(&mut b, &["FLUSHDB"]), "OK");
    // FLUSHDB's deletes are acknowledged at W=2; DBSIZE lists every reachable primary, so the
    // third replica may show a key for the moment its delete is still on the way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while query::<i64>(&mut a, &["DBSIZE"]) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "keys left after FLUSHDB"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(query::<Option<String>>(&mut a, &["RANDOMKEY"]), None);
}
