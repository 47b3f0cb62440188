//! Sloppy quorums and hinted handoff on a real 4-node cluster (N = 3, so each key has a fallback).
#![allow(clippy::unwrap_used)]

mod support;

use kvorum_ring::{Layout, NamespaceId, NodeId};
use support::TestCluster;

#[test]
fn sloppy_writes_survive_a_dead_primary_and_reach_it_when_it_returns() {
    let mut c = TestCluster::start(4, 3);
    // The same placement the nodes compute (4 nodes, 2^8 partitions, width 3).
    let nodes: Vec<NodeId> = (1..=4).map(NodeId).collect();
    let layout = Layout::initial(&nodes, 8, 3).unwrap();
    let dead = NodeId(2);
    let primaries_of = |key: &str| {
        let p = layout.partition_for_key(NamespaceId::DEFAULT, key.as_bytes());
        layout.preference_list(p, 3).unwrap().primaries.to_vec()
    };
    c.kill(1); // node 2

    let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
    let owned: Vec<&String> = keys
        .iter()
        .filter(|k| primaries_of(k).contains(&dead))
        .collect();
    assert!(!owned.is_empty() && owned.len() < keys.len());
    // Wait until node 1 has noticed, then: STRICT W=3 fails fast exactly for the dead node's keys.
    c.eventually(
        0,
        &["WITH", "W=3", "STRICT", "--", "SET", owned[0], "probe"],
        "-UNAVAILABLE",
        None,
    );
    for key in &keys {
        let reply = c.command(
            0,
            &["WITH", "W=3", "STRICT", "--", "SET", key, "strict"],
            None,
        );
        if primaries_of(key).contains(&dead) {
            assert!(reply.starts_with("-UNAVAILABLE"), "{key}: {reply}");
        } else {
            assert_eq!(reply, "+OK\r\n", "{key}");
        }
    }
    // SLOPPY W=3 succeeds for every key: a fallback stands in for the dead primary.
    for key in &keys {
        let reply = c.command(
            0,
            &["WITH", "W=3", "SLOPPY", "--", "SET", key, "sloppy"],
            None,
        );
        assert_eq!(reply, "+OK\r\n", "{key}");
    }
    let info = c.command(0, &["INFO"], None);
    assert!(info.contains("hints_count:"), "{info}");

    // Node 2 returns: hinted handoff gives it every write it missed, for every key it owns.
    c.restart(1);
    for key in &owned {
        c.eventually(1, &["REPLICA", "GET", key], "$6\r\nsloppy\r\n", None);
    }
    // Once delivered, no hint is left for it anywhere.
    for i in [0, 2, 3] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while c.command(i, &["INFO"], None).contains("hints_backlog_n2:") {
            assert!(
                std::time::Instant::now() < deadline,
                "node {} still holds hints for n2",
                i + 1
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
