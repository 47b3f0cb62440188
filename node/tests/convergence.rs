//! Convergent data types across a partition, on a real cluster: increments, set adds and
//! removes and hash updates made on both sides are all present, on every replica, after heal.
//!
//! Each side writes while the other side's nodes are stopped (SIGSTOP): both sides' writes are
//! causally concurrent, exactly as across a network partition. Strict quorums (`W=1 STRICT`:
//! the written side keeps hints for the stopped primaries) and sloppy ones (`SLOPPY`: a
//! fallback stands in) are both shown.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::TestCluster;

/// Waits until every running node sees exactly the running ones up and the stopped ones
/// down (`INFO replication`), so no write of the next step waits on a stopped node and every
/// write leaves a hint for the stopped ones.
fn wait_partitioned(c: &TestCluster, running: &[usize], stopped: &[usize]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for &observer in running {
        loop {
            let info = c.command(observer, &["INFO", "replication"], None);
            let sees = |peer: usize, state: &str| {
                peer == observer || info.contains(&format!("peer_n{}:state={state}", peer + 1))
            };
            if running.iter().all(|&p| sees(p, "up")) && stopped.iter().all(|&p| sees(p, "down")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} does not see the partition: {info}",
                observer + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits until a write from node `i` at `consistency` succeeds. A node just resumed from a
/// pause may still be replacing its peer connections; a write sent meanwhile can time out
/// (truthfully, as "may have been applied"), which would make the counted steps ambiguous.
fn wait_writable(c: &TestCluster, i: usize, consistency: &str) {
    let mut words: Vec<&str> = vec!["WITH"];
    words.extend(consistency.split_whitespace());
    words.extend(["--", "SET", "probe", "x"]);
    c.eventually(i, &words, "+OK\r\n", None);
}

/// Runs `args` on node `i` with `consistency` and checks the reply.
fn expect(c: &TestCluster, i: usize, consistency: &str, args: &[&str], reply: &str) {
    let mut words: Vec<&str> = vec!["WITH"];
    words.extend(consistency.split_whitespace());
    words.push("--");
    words.extend(args);
    assert_eq!(
        c.command(i, &words, None),
        reply,
        "node {}: {args:?}",
        i + 1
    );
}

/// Every replica's own copy of the keys, once hinted handoff is done.
fn assert_every_replica_holds(c: &TestCluster, nodes: &[usize], expected: &[(&str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for &i in nodes {
        for (key, value) in expected {
            loop {
                let held = c.command(i, &["REPLICA", "GET", key], None);
                if held == *value {
                    break;
                }
                if Instant::now() > deadline {
                    let infos: Vec<String> = nodes
                        .iter()
                        .map(|&n| c.command(n, &["INFO", "hints"], None))
                        .collect();
                    let log = c.log(0);
                    let tail: String = log.lines().rev().take(80).collect::<Vec<_>>().join("\n");
                    panic!(
                        "node {} holds {key} = {held:?}; hints: {infos:#?}; LOG1 {tail}",
                        i + 1
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn seed(c: &TestCluster) {
    expect(c, 0, "ALL", &["SET", "cnt", "100"], "+OK\r\n");
    expect(c, 0, "ALL", &["SADD", "members", "base", "gone"], ":2\r\n");
    expect(
        c,
        0,
        "ALL",
        &["HSET", "profile", "name", "ann", "old", "x"],
        ":2\r\n",
    );
}

#[test]
fn strict_writes_on_both_sides_of_a_partition_all_survive_the_heal() {
    let c = TestCluster::start(3, 3);
    c.wait_connected();
    seed(&c);

    // Side A: node 1 alone.
    c.pause(1, true);
    c.pause(2, true);
    wait_partitioned(&c, &[0], &[1, 2]);
    let w1 = "R=1 W=1 STRICT";
    expect(&c, 0, w1, &["INCRBY", "cnt", "5"], ":105\r\n");
    expect(&c, 0, w1, &["INCR", "cnt"], ":106\r\n");
    expect(&c, 0, w1, &["SADD", "members", "from-a"], ":1\r\n");
    expect(&c, 0, w1, &["SREM", "members", "gone"], ":1\r\n");
    expect(&c, 0, w1, &["HSET", "profile", "a", "1"], ":1\r\n");

    // Side B: nodes 2 and 3, which never heard of side A's writes.
    c.pause(1, false);
    c.pause(2, false);
    c.pause(0, true);
    wait_partitioned(&c, &[1, 2], &[0]);
    let w2 = "R=2 W=2 STRICT";
    wait_writable(&c, 1, w2);
    wait_writable(&c, 2, w2);
    expect(&c, 1, w2, &["DECRBY", "cnt", "30"], ":70\r\n");
    expect(&c, 2, w2, &["INCRBY", "cnt", "2"], ":72\r\n");
    expect(&c, 1, w2, &["SADD", "members", "from-b"], ":1\r\n");
    expect(&c, 2, w2, &["HSET", "profile", "b", "2"], ":1\r\n");
    expect(&c, 2, w2, &["HDEL", "profile", "old"], ":1\r\n");

    // Heal: 100 + 5 + 1 - 30 + 2; both sides' adds, side A's remove; both sides' fields.
    c.pause(0, false);
    c.eventually(0, &["GET", "cnt"], "$2\r\n78\r\n", Some("ALL"));
    assert_every_replica_holds(
        &c,
        &[0, 1, 2],
        &[
            ("cnt", "$2\r\n78\r\n"),
            (
                "members",
                "*3\r\n$4\r\nbase\r\n$6\r\nfrom-a\r\n$6\r\nfrom-b\r\n",
            ),
            (
                "profile",
                "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$4\r\nname\r\n$3\r\nann\r\n",
            ),
        ],
    );
}

#[test]
fn sloppy_writes_on_both_sides_of_a_partition_all_survive_the_heal() {
    // 4 nodes, N = 3: every key has a fallback that can stand in for a primary.
    let c = TestCluster::start(4, 3);
    c.wait_connected();
    seed(&c);

    // Side A: nodes 1 and 2. `SLOPPY W=3` succeeds only because fallbacks stand in.
    c.pause(2, true);
    c.pause(3, true);
    wait_partitioned(&c, &[0, 1], &[2, 3]);
    let sloppy = "R=1 W=2 SLOPPY";
    expect(&c, 0, sloppy, &["INCRBY", "cnt", "5"], ":105\r\n");
    expect(&c, 1, sloppy, &["SADD", "members", "from-a"], ":1\r\n");
    expect(&c, 0, sloppy, &["SREM", "members", "gone"], ":1\r\n");
    expect(&c, 1, sloppy, &["HSET", "profile", "a", "1"], ":1\r\n");

    // Side B: nodes 3 and 4.
    c.pause(2, false);
    c.pause(3, false);
    c.pause(0, true);
    c.pause(1, true);
    wait_partitioned(&c, &[2, 3], &[0, 1]);
    wait_writable(&c, 2, sloppy);
    wait_writable(&c, 3, sloppy);
    expect(&c, 2, sloppy, &["DECRBY", "cnt", "30"], ":70\r\n");
    expect(&c, 3, sloppy, &["SADD", "members", "from-b"], ":1\r\n");
    expect(&c, 3, sloppy, &["HSET", "profile", "b", "2"], ":1\r\n");
    expect(&c, 2, sloppy, &["HDEL", "profile", "old"], ":1\r\n");

    c.pause(0, false);
    c.pause(1, false);
    c.eventually(0, &["GET", "cnt"], "$2\r\n75\r\n", Some("ALL"));
    // Which three nodes are the primaries depends on the key; every node that holds a copy
    // holds the merged one. (A read at ALL repairs the primaries; hints reach them as well.)
    for key in ["members", "profile"] {
        c.eventually(0, &["EXISTS", key], ":1\r\n", Some("ALL"));
    }
    c.eventually(0, &["SMEMBERS", "members"], "*3\r\n", Some("ALL"));
    expect(
        &c,
        0,
        "ALL",
        &["SMISMEMBER", "members", "base", "from-a", "from-b", "gone"],
        "*4\r\n:1\r\n:1\r\n:1\r\n:0\r\n",
    );
    expect(
        &c,
        0,
        "ALL",
        &["HMGET", "profile", "name", "a", "b", "old"],
        "*4\r\n$3\r\nann\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n",
    );
}
