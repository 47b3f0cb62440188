//! `ADMIN` and `kvorum admin` against a real 3-node cluster: the JSON documents, the key
//! report across replicas, and a paused node shown as down.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestCluster;

/// The JSON document of a bulk-string reply.
fn document(reply: &str) -> Value {
    let (header, rest) = reply.split_once("\r\n").unwrap();
    assert!(header.starts_with('$'), "not a bulk string: {reply:?}");
    serde_json::from_str(rest.trim_end()).unwrap()
}

fn admin(c: &TestCluster, i: usize, args: &[&str]) -> Value {
    let mut words = vec!["ADMIN"];
    words.extend(args);
    let value = document(&c.command(i, &words, None));
    assert_eq!(value["format"], 1, "{value}");
    value
}

/// Runs the built `kvorum admin ...` against node `i`; returns (success, stdout, stderr).
fn cli(c: &TestCluster, i: usize, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kvorum"))
        .arg("admin")
        .args(args)
        .args([
            "--node",
            &c.nodes[i].resp.to_string(),
            "--timeout-ms",
            "1000",
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn admin_documents_describe_the_node_the_ring_the_hints_and_a_key() {
    let c = TestCluster::start(3, 3);
    c.wait_connected();

    let status = admin(&c, 0, &["STATUS"]);
    assert_eq!(status["node"]["id"], 1);
    assert_eq!(status["node"]["resp"], c.nodes[0].resp.to_string());
    assert_eq!(status["node"]["layout"]["epoch"], 1);
    assert_eq!(status["node"]["layout"]["partitions"], 256);
    assert_eq!(status["node"]["replication"], 3);
    assert!(status["node"]["uptime_s"].is_u64());
    let peers = status["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0]["id"], 2);
    assert_eq!(peers[0]["resp"], c.nodes[1].resp.to_string());
    assert_eq!(peers[0]["state"], "up");
    assert_eq!(peers[0]["connected"], true);
    // Every node computes the same layout.
    let other = admin(&c, 2, &["STATUS"]);
    assert_eq!(
        other["node"]["layout"]["fingerprint"],
        status["node"]["layout"]["fingerprint"]
    );

    let ring = admin(&c, 0, &["RING"]);
    let nodes = ring["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    let primaries: u64 = nodes.iter().map(|n| n["primary"].as_u64().unwrap()).sum();
    assert_eq!(primaries, 256);
    // With N = 3 of 3 nodes every node holds every partition.
    assert!(nodes.iter().all(|n| n["replica"] == 256));
    assert!(ring["imbalance"]["primary"].as_f64().unwrap() < 1.05);

    let hints = admin(&c, 0, &["HINTS"]);
    assert!(hints["total"]["hints"].is_u64());
    assert!(hints["targets"].is_array());

    assert_eq!(c.command(0, &["SET", "k", "v"], Some("ALL")), "+OK\r\n");
    let key = admin(&c, 1, &["KEY", "0", "k"]);
    assert_eq!(key["preference"].as_array().unwrap().len(), 3);
    assert_eq!(key["copy"]["exists"], true);
    assert_eq!(key["copy"]["type"], "string");
    let local = admin(&c, 2, &["KEY", "0", "k", "LOCAL"]);
    assert_eq!(local["partition"], key["partition"]);
    assert_eq!(local["copy"]["siblings"], 1);
    assert!(local.get("preference").is_none());

    // Errors are errors, not documents.
    assert!(c.command(0, &["ADMIN", "NOPE"], None).starts_with("-ERR"));
    assert!(c
        .command(0, &["ADMIN", "KEY", "99", "k"], None)
        .starts_with("-ERR DB index is out of range"));

    // The CLI: every replica's copy of the key, in a table and as JSON.
    let (ok, out, err) = cli(&c, 0, &["key", "0", "k"]);
    assert!(ok, "{err}");
    assert!(out.contains("preference: n"), "{out}");
    assert_eq!(out.matches(" string ").count(), 3, "{out}");
    let (ok, out, err) = cli(&c, 0, &["key", "0", "k", "--json"]);
    assert!(ok, "{err}");
    let merged: Value = serde_json::from_str(&out).unwrap();
    let replicas = merged["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 3);
    for r in replicas {
        assert_eq!(r["copy"]["exists"], true, "{merged}");
        assert_eq!(
            r["copy"]["context"].as_array().unwrap().len(),
            1,
            "{merged}"
        );
    }

    for sub in ["status", "ring", "hints"] {
        let (ok, out, err) = cli(&c, 0, &[sub, "--json"]);
        assert!(ok, "{sub}: {err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["format"], 1);
        let (ok, text, err) = cli(&c, 0, &[sub]);
        assert!(ok && !text.is_empty(), "{sub}: {err}");
    }
    let (_, text, _) = cli(&c, 0, &["status"]);
    assert_eq!(text.matches("reachable").count(), 3, "{text}");
}

#[test]
fn admin_status_shows_a_paused_node_down_within_seconds() {
    let c = TestCluster::start(3, 3);
    c.wait_connected();
    c.pause(2, true);
    let paused_at = Instant::now();
    let merged = loop {
        let (ok, out, err) = cli(&c, 0, &["status", "--json"]);
        assert!(ok, "{err}");
        let merged: Value = serde_json::from_str(&out).unwrap();
        let n1 = &merged["nodes"][0];
        let n3_seen_by_n1 = n1["status"]["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == 3)
            .unwrap()
            .clone();
        if n3_seen_by_n1["state"] == "down" {
            break merged;
        }
        assert!(
            paused_at.elapsed() < Duration::from_secs(10),
            "n3 still up: {merged}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let n3 = merged["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == 3)
        .unwrap();
    assert_eq!(n3["reachable"], false, "{merged}");
    let (ok, text, err) = cli(&c, 0, &["status"]);
    assert!(ok, "{err}");
    assert!(text.contains("unreachable"), "{text}");
    assert!(text.contains("down"), "{text}");
    c.pause(2, false);
}
