//! `ADMIN` and `kvorum admin` against a real 3-node cluster: the JSON documents, the key
//! report across replicas, a paused node shown as down, and the namespace listing compared
//! across nodes (with the key report taking its N from the key's namespace).
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{raw, TestCluster};

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
    // The HTTP admin listener serves the same documents.
    for view in ["status", "ring", "hints", "namespaces"] {
        let request = format!("GET /admin/{view} HTTP/1.1\r\nHost: t\r\n\r\n");
        let reply = String::from_utf8_lossy(&raw(c.nodes[0].admin, request.as_bytes()).unwrap())
            .into_owned();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{view}: {head}");
        assert!(head.contains("application/json"), "{view}: {head}");
        let doc: Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["format"], 1, "{view}");
    }
    let http_status: Value = {
        let reply = raw(c.nodes[0].admin, b"GET /admin/status HTTP/1.1\r\n\r\n").unwrap();
        let reply = String::from_utf8_lossy(&reply).into_owned();
        serde_json::from_str(reply.split_once("\r\n\r\n").unwrap().1).unwrap()
    };
    assert_eq!(http_status["node"], {
        let mut fresh = admin(&c, 0, &["STATUS"])["node"].clone();
        // Uptime may have ticked between the two requests.
        fresh["uptime_s"] = http_status["node"]["uptime_s"].clone();
        fresh
    });
    let reply = raw(c.nodes[0].admin, b"GET /admin/key HTTP/1.1\r\n\r\n").unwrap();
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 404"));

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

/// The namespaces of an `ADMIN NAMESPACES` (or merged) document, by name.
fn namespace<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no namespace {name} in {doc}"))
}

#[test]
fn admin_namespaces_lists_every_namespace_and_compares_the_catalogs() {
    let c = TestCluster::start(3, 3);
    // `sessions` has its own N, below the cluster's 3.
    for create in [
        "NAMESPACE CREATE sessions N 2 MODE eventual W 1 CONFLICT lww DB 1 TTL 3600",
        "NAMESPACE CREATE accounts MODE strong MIN_W 2 ALLOW_SLOPPY no DB 2",
    ] {
        let words: Vec<&str> = create.split_whitespace().collect();
        assert_eq!(c.command(0, &words, None), "+OK\r\n", "{create}");
    }
    // The other nodes learn both from n1's catalog pushes.
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 1..3 {
        loop {
            let doc = admin(&c, i, &["NAMESPACES"]);
            let names: Vec<&str> = doc["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|n| n["name"].as_str())
                .collect();
            if names == ["accounts", "default", "sessions"] {
                break;
            }
            assert!(Instant::now() < deadline, "node {}: {doc}", i + 1);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // One node's own document: every namespace with its settings as requests see them.
    let doc = admin(&c, 1, &["NAMESPACES"]);
    assert_eq!(doc["node"], 2);
    assert_eq!(doc["catalog"]["entries"], 2, "{doc}");
    assert_eq!(doc["catalog"]["dropped"], 0, "{doc}");
    assert_eq!(doc["conflicts"], serde_json::json!([]));
    let default = namespace(&doc, "default");
    assert_eq!((&default["id"], &default["db"]), (&0.into(), &0.into()));
    assert_eq!(default["consistency"]["mode"], "quorum");
    assert!(c
        .command(0, &["ADMIN", "NAMESPACES", "extra"], None)
        .starts_with("-ERR"));
    assert!(c
        .command(0, &["ADMIN", "HELP"], None)
        .contains("ADMIN NAMESPACES"));

    // The CLI asks every node and finds the same catalog everywhere.
    let (ok, out, err) = cli(&c, 0, &["namespaces", "--json"]);
    assert!(ok, "{err}");
    let merged: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(merged["format"], 1);
    assert_eq!(merged["identical"], true, "{merged}");
    assert_eq!(merged["differences"], serde_json::json!([]));
    let nodes = merged["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n["reachable"] == true), "{merged}");
    let sessions = namespace(&merged, "sessions");
    assert_eq!(sessions["db"], 1);
    assert_eq!(sessions["usable"], true);
    assert_eq!(sessions["n"], 2);
    assert_eq!(sessions["consistency"]["mode"], "eventual");
    assert_eq!(sessions["consistency"]["w"], 1);
    assert_eq!(sessions["conflict"], "lww");
    assert_eq!(sessions["allow_sloppy"], true);
    assert_eq!(sessions["ttl_s"], 3600);
    let accounts = namespace(&merged, "accounts");
    assert_eq!(accounts["db"], 2);
    assert_eq!(accounts["consistency"]["mode"], "strong");
    assert_eq!(
        (&accounts["consistency"]["r"], &accounts["consistency"]["w"]),
        (&2.into(), &2.into())
    );
    assert_eq!(
        (&accounts["min_r"], &accounts["min_w"]),
        (&1.into(), &2.into())
    );
    assert_eq!(accounts["allow_sloppy"], false);
    assert_eq!(accounts["conflict"], "siblings");
    assert_eq!(accounts["ttl_s"], Value::Null);
    assert!(accounts["id"].as_u64().unwrap() >= 1 << 31);

    // The table: one row per namespace, and the verdict.
    let (ok, text, err) = cli(&c, 0, &["namespaces"]);
    assert!(ok, "{err}");
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {text}"))
            .to_owned()
    };
    let sessions = row("sessions");
    for cell in ["eventual R=1 W=1", "lww", "yes", "1h0m"] {
        assert!(sessions.contains(cell), "{cell}: {text}");
    }
    let accounts = row("accounts");
    for cell in ["strong R=2 W=2", "siblings", "R>=1 W>=2", "no"] {
        assert!(accounts.contains(cell), "{cell}: {text}");
    }
    assert!(row("default").contains("quorum R=2 W=2"), "{text}");
    assert!(text.contains("all 3 nodes hold the same catalog"), "{text}");

    // A key of db 1 belongs to the namespace mapped to it and is placed with that one's N (2,
    // below the cluster's 3): two primaries, the third node a fallback.
    let key = admin(&c, 2, &["KEY", "1", "cart:7"]);
    assert_eq!(key["namespace_name"], "sessions", "{key}");
    assert_eq!(key["namespace"], namespace(&merged, "sessions")["id"]);
    assert_eq!(key["replication"], 2, "{key}");
    assert_eq!(key["preference"].as_array().unwrap().len(), 2, "{key}");
    assert_eq!(key["fallbacks"].as_array().unwrap().len(), 1, "{key}");
    assert_eq!(key["replicas"].as_array().unwrap().len(), 2, "{key}");
    let key = admin(&c, 2, &["KEY", "0", "cart:7"]);
    assert_eq!(key["namespace_name"], "default", "{key}");
    assert_eq!(key["preference"].as_array().unwrap().len(), 3, "{key}");

    // A node that does not answer is reported, and the others are still compared.
    c.pause(2, true);
    let (ok, text, err) = cli(&c, 0, &["namespaces"]);
    c.pause(2, false);
    assert!(ok, "{err}");
    assert!(
        text.contains("n3 (") && text.contains("unreachable"),
        "{text}"
    );
    assert!(
        text.contains("the 2 answering nodes hold the same catalog"),
        "{text}"
    );
}
