//! Several nodes' `ADMIN` documents merged into one (what `--json` prints), and the human
//! rendering of each document. Pure functions of JSON values, so they are tested without a
//! cluster.

use serde_json::{json, Map, Value};

use super::table::{self, render};

/// One node's answer to `ADMIN STATUS`, or why there was none.
pub struct StatusAnswer {
    /// The node's id, if known before asking (peers listed by another node).
    pub id: Option<u64>,
    pub resp: String,
    pub result: Result<Value, String>,
}

/// The merged status: every node asked, each with its own status or the error, by node id
/// (nodes of unknown id last, in the order asked).
pub fn merge_status(asked: &str, answers: Vec<StatusAnswer>) -> Value {
    let mut nodes: Vec<(Option<u64>, Value)> = answers
        .into_iter()
        .map(|a| {
            let id = a
                .result
                .as_ref()
                .ok()
                .and_then(|s| s["node"]["id"].as_u64())
                .or(a.id);
            let entry = match a.result {
                Ok(status) => {
                    json!({ "id": id, "resp": a.resp, "reachable": true, "status": status })
                }
                Err(error) => {
                    json!({ "id": id, "resp": a.resp, "reachable": false, "error": error })
                }
            };
            (id, entry)
        })
        .collect();
    nodes.sort_by_key(|(id, _)| id.unwrap_or(u64::MAX));
    json!({
        "format": crate::commands::admin::FORMAT,
        "asked": asked,
        "nodes": nodes.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    })
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn short_fingerprint(value: &Value) -> String {
    value
        .as_str()
        .map_or("-".to_owned(), |f| f.chars().take(8).collect())
}

/// Every node id the merged status mentions: the nodes asked and every peer they list.
fn all_ids(merged: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    for node in merged["nodes"].as_array().into_iter().flatten() {
        ids.extend(node["id"].as_u64());
        for peer in node["status"]["peers"].as_array().into_iter().flatten() {
            ids.extend(peer["id"].as_u64());
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Two tables: the nodes (address, version, uptime, layout), then liveness as each node sees
/// every other (`up`/`down` with phi; `?` where the observer did not answer).
pub fn status_table(merged: &Value) -> String {
    let nodes = merged["nodes"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let s = &n["status"]["node"];
            let name = n["id"]
                .as_u64()
                .map_or("?".to_owned(), |id| format!("n{id}"));
            if n["reachable"].as_bool() == Some(true) {
                vec![
                    name,
                    text(&s["resp"]),
                    text(&s["peer"]),
                    "reachable".to_owned(),
                    text(&s["version"]),
                    s["uptime_s"]
                        .as_u64()
                        .map_or("-".to_owned(), table::duration),
                    text(&s["layout"]["epoch"]),
                    short_fingerprint(&s["layout"]["fingerprint"]),
                ]
            } else {
                vec![
                    name,
                    text(&n["resp"]),
                    "-".into(),
                    "unreachable".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]
            }
        })
        .collect();
    let mut out = render(
        &[
            "NODE", "RESP", "PEER", "ANSWER", "VERSION", "UPTIME", "EPOCH", "LAYOUT",
        ],
        &rows,
    );
    let ids = all_ids(merged);
    let mut header = vec!["SEEN BY".to_owned()];
    header.extend(ids.iter().map(|id| format!("n{id}")));
    let matrix: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let observer = n["id"].as_u64();
            let mut row = vec![observer.map_or("?".to_owned(), |id| format!("n{id}"))];
            let peers = n["status"]["peers"].as_array().cloned().unwrap_or_default();
            for id in &ids {
                let cell = if Some(*id) == observer {
                    "self".to_owned()
                } else if n["reachable"].as_bool() != Some(true) {
                    "?".to_owned()
                } else {
                    match peers.iter().find(|p| p["id"].as_u64() == Some(*id)) {
                        Some(p) => match p["phi"].as_f64() {
                            Some(phi) => format!("{} ({phi:.1})", text(&p["state"])),
                            None => text(&p["state"]),
                        },
                        None => "-".to_owned(),
                    }
                };
                row.push(cell);
            }
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str("\nLiveness as each node sees the others (state, phi):\n");
    out.push_str(&render(&header, &matrix));
    out
}

/// Partitions per node and the imbalance.
pub fn ring_table(ring: &Value) -> String {
    let layout = &ring["layout"];
    let mut out = format!(
        "layout epoch {} (fingerprint {}), {} partitions, replication {}\n",
        text(&layout["epoch"]),
        text(&layout["fingerprint"]),
        text(&layout["partitions"]),
        text(&ring["replication"]),
    );
    let rows: Vec<Vec<String>> = ring["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            vec![
                format!("n{}", text(&n["id"])),
                text(&n["primary"]),
                text(&n["replica"]),
            ]
        })
        .collect();
    out.push_str(&render(&["NODE", "PRIMARY", "REPLICA"], &rows));
    out.push_str(&format!(
        "imbalance (max/mean): primary {}, replica {}\n",
        text(&ring["imbalance"]["primary"]),
        text(&ring["imbalance"]["replica"]),
    ));
    out
}

/// The hint backlog per target.
pub fn hints_table(hints: &Value) -> String {
    let rows: Vec<Vec<String>> = hints["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            vec![
                format!("n{}", text(&t["target"])),
                text(&t["hints"]),
                text(&t["bytes"]),
                text(&t["oldest_created_ms"]),
            ]
        })
        .collect();
    let mut out = format!(
        "node n{} holds {} hints ({} bytes) for other nodes\n",
        text(&hints["node"]),
        text(&hints["total"]["hints"]),
        text(&hints["total"]["bytes"]),
    );
    if !rows.is_empty() {
        out.push_str(&render(
            &["TARGET", "HINTS", "BYTES", "OLDEST_CREATED_MS"],
            &rows,
        ));
    }
    out
}

/// The key document of the node asked, with each replica's `copy` filled in: this node's own
/// from `head["copy"]`, the others' from their `ADMIN KEY ... LOCAL` answers (or the error).
pub fn merge_key(mut head: Value, copies: Vec<(u64, Result<Value, String>)>) -> Value {
    let own = head.get("copy").cloned().unwrap_or(Value::Null);
    if let Some(replicas) = head.get_mut("replicas").and_then(Value::as_array_mut) {
        for replica in replicas {
            let Some(entry) = replica.as_object_mut() else {
                continue;
            };
            let id = entry.get("id").and_then(Value::as_u64);
            if entry.get("self").and_then(Value::as_bool) == Some(true) {
                entry.insert("copy".into(), own.clone());
                continue;
            }
            let answer = copies.iter().find(|(c, _)| Some(*c) == id);
            match answer {
                Some((_, Ok(doc))) => {
                    entry.insert("copy".into(), doc["copy"].clone());
                }
                Some((_, Err(e))) => {
                    entry.insert("copy".into(), Value::Null);
                    entry.insert("error".into(), Value::String(e.clone()));
                }
                None => {
                    entry.insert("copy".into(), Value::Null);
                    entry.insert(
                        "error".into(),
                        Value::String("no RESP address known for this node".into()),
                    );
                }
            }
        }
    }
    if let Some(map) = head.as_object_mut() {
        map.remove("copy");
    }
    head
}

fn context_text(copy: &Map<String, Value>) -> String {
    let dots: Vec<String> = copy
        .get("context")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| format!("n{}:{}", text(&d["node"]), text(&d["counter"])))
        .collect();
    if dots.is_empty() {
        "-".to_owned()
    } else {
        dots.join(",")
    }
}

/// Where a key lives and what each replica holds of it.
pub fn key_table(key: &Value) -> String {
    let list = |v: &Value| {
        let ids: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| format!("n{}", text(id)))
            .collect();
        if ids.is_empty() {
            "-".to_owned()
        } else {
            ids.join(" ")
        }
    };
    let mut out = format!(
        "key {:?} in db {} (namespace {}): partition {}, hash {}, replication {}\n\
         preference: {}   fallbacks: {}\n",
        text(&key["key"]),
        text(&key["db"]),
        text(&key["namespace"]),
        text(&key["partition"]),
        text(&key["key_hash"]),
        text(&key["replication"]),
        list(&key["preference"]),
        list(&key["fallbacks"]),
    );
    let rows: Vec<Vec<String>> = key["replicas"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let name = format!("n{}", text(&r["id"]));
            match r["copy"].as_object() {
                Some(c) if c.get("stored").and_then(Value::as_bool) == Some(true) => vec![
                    name,
                    "yes".into(),
                    yes_no(c.get("exists")),
                    c.get("type").map_or("-".into(), text),
                    c.get("siblings").map_or("-".into(), text),
                    c.get("entries").map_or("-".into(), text),
                    context_text(c),
                    c.get("expires_at_ms").map_or("-".into(), text),
                ],
                Some(_) => vec![name, "no".into(), "no".into()],
                None => vec![
                    name,
                    format!("? ({})", r["error"].as_str().unwrap_or("no answer")),
                ],
            }
        })
        .collect();
    out.push_str(&render(
        &[
            "REPLICA",
            "STORED",
            "EXISTS",
            "TYPE",
            "SIBLINGS",
            "ENTRIES",
            "CONTEXT",
            "EXPIRES_MS",
        ],
        &rows,
    ));
    out
}

fn yes_no(value: Option<&Value>) -> String {
    match value.and_then(Value::as_bool) {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "-".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn status(id: u64, peers: Value) -> Value {
        json!({
            "format": 1,
            "node": { "id": id, "version": "0.1.0", "uptime_s": 65, "resp": format!("127.0.0.1:{}", 6378 + id),
                      "peer": "127.0.0.1:7379", "layout": { "epoch": 1, "fingerprint": "0123456789abcdef" } },
            "peers": peers,
        })
    }

    fn merged() -> Value {
        merge_status(
            "127.0.0.1:6379",
            vec![
                StatusAnswer {
                    id: Some(3),
                    resp: "127.0.0.1:6381".into(),
                    result: Err("127.0.0.1:6381 did not answer within 1000 ms".into()),
                },
                StatusAnswer {
                    id: None,
                    resp: "127.0.0.1:6379".into(),
                    result: Ok(status(
                        1,
                        json!([
                            { "id": 2, "state": "up", "phi": 0.25, "connected": true },
                            { "id": 3, "state": "down", "phi": null, "connected": false },
                        ]),
                    )),
                },
            ],
        )
    }

    #[test]
    fn status_merge_orders_by_id_and_keeps_unreachable_nodes() {
        let m = merged();
        assert_eq!(m["format"], json!(1));
        let nodes = m["nodes"].as_array().unwrap();
        assert_eq!(nodes[0]["id"], json!(1));
        assert_eq!(nodes[0]["reachable"], json!(true));
        assert_eq!(nodes[1]["id"], json!(3));
        assert_eq!(nodes[1]["reachable"], json!(false));
        assert!(nodes[1]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer"));
    }

    #[test]
    fn status_table_shows_each_observer_s_view() {
        let text = status_table(&merged());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("n1    127.0.0.1:6379"), "{text}");
        assert!(
            lines[1].contains("1m5s") && lines[1].contains("01234567"),
            "{text}"
        );
        assert!(lines[2].contains("unreachable"), "{text}");
        let n1 = lines.iter().find(|l| l.starts_with("n1       ")).unwrap();
        assert!(
            n1.contains("self") && n1.contains("up (0.2)") && n1.contains("down"),
            "{text}"
        );
        let n3 = lines.iter().rev().find(|l| l.starts_with("n3")).unwrap();
        assert!(n3.contains('?') && n3.contains("self"), "{text}");
    }

    #[test]
    fn key_merge_fills_every_replica_s_copy() {
        let head = json!({
            "format": 1, "key": "k", "partition": 7,
            "preference": [2, 1, 3],
            "replicas": [
                { "id": 2, "resp": "a", "self": false },
                { "id": 1, "resp": "b", "self": true },
                { "id": 3, "resp": "c", "self": false },
            ],
            "copy": { "stored": true, "exists": true, "type": "string", "siblings": 1,
                      "context": [{ "node": 1, "counter": 2 }] },
        });
        let merged = merge_key(
            head,
            vec![
                (
                    2,
                    Ok(json!({ "copy": { "stored": false, "exists": false } })),
                ),
                (3, Err("timeout".into())),
            ],
        );
        assert!(merged.get("copy").is_none());
        let r = merged["replicas"].as_array().unwrap();
        assert_eq!(r[0]["copy"]["stored"], json!(false));
        assert_eq!(r[1]["copy"]["type"], json!("string"));
        assert_eq!(r[2]["error"], json!("timeout"));
        let text = key_table(&merged);
        assert!(text.contains("n1,") || text.contains("n1:2"), "{text}");
        assert!(text.contains("? (timeout)"), "{text}");
    }

    #[test]
    fn ring_and_hints_render_their_numbers() {
        let ring = json!({
            "layout": { "epoch": 1, "fingerprint": "ab", "partitions": 4 }, "replication": 2,
            "nodes": [{ "id": 1, "primary": 2, "replica": 4 }, { "id": 2, "primary": 2, "replica": 4 }],
            "imbalance": { "primary": 1.0, "replica": 1.0 },
        });
        let text = ring_table(&ring);
        assert!(text.contains("n1    2        4"), "{text}");
        let hints = json!({ "node": 1, "total": { "hints": 3, "bytes": 90 },
                            "targets": [{ "target": 2, "hints": 3, "bytes": 90, "oldest_created_ms": 5 }] });
        let text = hints_table(&hints);
        assert!(text.contains("holds 3 hints (90 bytes)"), "{text}");
        assert!(text.contains("n2      3      90"), "{text}");
    }
}
