//! Anti-entropy on real clusters: a replica rebuilt from an empty data dir by anti-entropy
//! alone (no hints), deletes that stay deleted, tombstones purged everywhere, and a replica
//! that was down during the deletes never bringing the keys back.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::TestCluster;

/// Hints off (the "rebuilt by anti-entropy alone"), rounds every second, no rate limit
/// that would make the test slow.
const AE_ONLY: &str =
    "[hints]\nenabled = false\n\n[antientropy]\ninterval_ms = 1000\nmax_keys_per_sec = 100000\n";

fn connection(c: &TestCluster, i: usize) -> redis::Connection {
    let client = redis::Client::open(c.url(i)).unwrap();
    let mut con = client.get_connection().unwrap();
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _: () = redis::cmd("CONSISTENCY")
        .arg("QUORUM")
        .query(&mut con)
        .unwrap();
    con
}

/// `MSET` of `names` (value `v:<name>`), 100 keys per command, at QUORUM.
fn write_all(con: &mut redis::Connection, names: &[String]) {
    for chunk in names.chunks(100) {
        let mut cmd = redis::cmd("MSET");
        for name in chunk {
            cmd.arg(name).arg(format!("v:{name}"));
        }
        let _: () = cmd.query(con).unwrap();
    }
}

/// `DEL` of `names`, 100 per command; every one must have existed.
fn delete_all(con: &mut redis::Connection, names: &[String]) {
    for chunk in names.chunks(100) {
        let deleted: usize = redis::cmd("DEL").arg(chunk).query(con).unwrap();
        assert_eq!(deleted, chunk.len());
    }
}

/// `REPLICA <sub> key` for every name on node `i`, pipelined.
fn replica<T: redis::FromRedisValue>(
    c: &TestCluster,
    i: usize,
    sub: &str,
    names: &[String],
) -> Vec<T> {
    let client = redis::Client::open(c.url(i)).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(500) {
        let mut pipe = redis::pipe();
        for name in chunk {
            pipe.cmd("REPLICA").arg(sub).arg(name);
        }
        let page: Vec<T> = pipe.query(&mut con).unwrap();
        out.extend(page);
    }
    out
}

/// `ADMIN ANTIENTROPY` of node `i`, parsed.
fn ae_view(c: &TestCluster, i: usize) -> serde_json::Value {
    let client = redis::Client::open(c.url(i)).unwrap();
    let mut con = client.get_connection().unwrap();
    let text: String = redis::cmd("ADMIN")
        .arg("ANTIENTROPY")
        .query(&mut con)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Waits (up to `limit`) until `done` holds, checking every 500 ms; panics with `what`.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}:{i}")).collect()
}

/// Every node reports the same digest of namespace 0 (the same records).
fn digests_equal(c: &TestCluster) -> bool {
    let digests: Vec<serde_json::Value> = (0..c.nodes.len())
        .map(|i| ae_view(c, i)["digests"]["0"].clone())
        .collect();
    digests.iter().all(|d| *d == digests[0] && !d.is_null())
}

#[test]
fn a_wiped_replica_is_rebuilt_by_anti_entropy_alone_and_deletes_stay_deleted() {
    let mut c = TestCluster::start_with(3, 3, AE_ONLY);
    let doomed = names("doomed", 1_000);
    let kept = names("key", 10_000);
    let mut con = connection(&c, 0);
    write_all(&mut con, &doomed);

    // n3 down: 10 000 writes and 1 000 deletes at QUORUM reach n1 and n2 only.
    c.kill(2);
    write_all(&mut con, &kept);
    delete_all(&mut con, &doomed);

    // n3 loses everything and comes back with hints disabled cluster-wide.
    let data = c.nodes[2].config_path.with_file_name("data");
    std::fs::remove_dir_all(&data).unwrap();
    c.restart(2);

    wait_for(
        Duration::from_secs(120),
        "n3 rebuilt: equal digests",
        || digests_equal(&c),
    );
    let values: Vec<Option<String>> = replica(&c, 2, "GET", &kept);
    for (name, value) in kept.iter().zip(&values) {
        assert_eq!(
            value.as_deref(),
            Some(format!("v:{name}").as_str()),
            "{name} on n3"
        );
    }
    let pulled_or_pushed: u64 = (0..3)
        .map(|i| {
            let v = ae_view(&c, i);
            v["keys_pulled"].as_u64().unwrap() + v["keys_pushed"].as_u64().unwrap()
        })
        .sum();
    assert!(
        pulled_or_pushed >= 10_000,
        "anti-entropy moved only {pulled_or_pushed} keys"
    );

    // Deleted keys stay deleted on every replica, and their tombstones go away everywhere.
    wait_for(
        Duration::from_secs(120),
        "tombstones purged everywhere",
        || {
            let mut purged = true;
            for i in 0..3 {
                let records: Vec<String> = replica(&c, i, "RECORD", &doomed);
                assert!(
                    records.iter().all(|r| r != "live"),
                    "a deleted key came back on n{}",
                    i + 1
                );
                purged &= records.iter().all(|r| r == "none");
            }
            purged
        },
    );
    let purged: u64 = (0..3)
        .map(|i| ae_view(&c, i)["tombstones_purged"].as_u64().unwrap())
        .sum();
    assert!(
        purged >= 3_000,
        "{purged} tombstones purged, expected 1 000 on each node"
    );
    // The kept keys are untouched by the purge, and the nodes still agree.
    let values: Vec<Option<String>> = replica(&c, 0, "GET", &kept[..100]);
    assert!(values.iter().all(Option::is_some));
    wait_for(
        Duration::from_secs(30),
        "equal digests after the purge",
        || digests_equal(&c),
    );
}

#[test]
fn a_replica_down_during_deletes_never_resurrects_them() {
    let mut c = TestCluster::start_with(3, 3, AE_ONLY);
    let doomed = names("gone", 300);
    let mut con = connection(&c, 0);
    write_all(&mut con, &doomed);

    // n3 keeps the live values while n1 and n2 delete them, and stays down for several rounds:
    // n1 and n2 agree, but n3 does not hold the tombstones, so nothing may be purged.
    c.kill(2);
    delete_all(&mut con, &doomed);
    std::thread::sleep(Duration::from_secs(4));
    for i in 0..2 {
        assert_eq!(
            ae_view(&c, i)["tombstones_purged"],
            0,
            "purged with a replica down"
        );
        let records: Vec<String> = replica(&c, i, "RECORD", &doomed);
        assert!(
            records.iter().all(|r| r == "tombstone"),
            "n{}: {records:?}",
            i + 1
        );
    }
    c.restart(2);

    wait_for(Duration::from_secs(60), "every replica in sync", || {
        digests_equal(&c)
    });
    let mut con3 = connection(&c, 2);
    for chunk in doomed.chunks(100) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut con3).unwrap();
        assert!(
            values.iter().all(Option::is_none),
            "a deleted key reads back through n3"
        );
    }
    wait_for(
        Duration::from_secs(60),
        "tombstones purged everywhere",
        || {
            (0..3).all(|i| {
                let records: Vec<String> = replica(&c, i, "RECORD", &doomed);
                assert!(
                    records.iter().all(|r| r != "live"),
                    "resurrected on n{}",
                    i + 1
                );
                records.iter().all(|r| r == "none")
            })
        },
    );
    // Writing a purged key again starts it afresh, on every replica.
    let _: () = redis::cmd("SET")
        .arg(&doomed[0])
        .arg("again")
        .query(&mut con3)
        .unwrap();
    let value: Option<String> = redis::cmd("GET").arg(&doomed[0]).query(&mut con).unwrap();
    assert_eq!(value.as_deref(), Some("again"));
}

#[test]
fn admin_repair_reports_what_it_did_and_refuses_bad_scopes() {
    let c = TestCluster::start_with(3, 3, "[antientropy]\nenabled = false\n");
    let client = redis::Client::open(c.url(0)).unwrap();
    let mut con = client.get_connection().unwrap();
    let text: String = redis::cmd("ADMIN").arg("REPAIR").query(&mut con).unwrap();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let report = &answer["report"];
    // 256 partitions (partition_bits = 8), each compared with both other nodes, in 16 dbs.
    assert!(report["partitions_compared"].as_u64().unwrap() >= 2 * 256);
    assert_eq!(report["errors_total"], 0, "{answer}");
    let text: String = redis::cmd("ADMIN")
        .arg("REPAIR")
        .arg("default")
        .arg("7")
        .query(&mut con)
        .unwrap();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["partition"], 7);
    assert_eq!(answer["report"]["partitions_compared"], 2);
    for bad in [
        vec!["nosuchns"],
        vec!["default", "99999"],
        vec!["default", "x"],
    ] {
        let err = redis::cmd("ADMIN")
            .arg("REPAIR")
            .arg(&bad)
            .query::<String>(&mut con)
            .unwrap_err();
        assert!(
            err.to_string().contains("namespace") || err.to_string().contains("partition"),
            "{err}"
        );
    }
}
