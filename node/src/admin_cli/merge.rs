//! Several nodes' `ADMIN` documents merged into one (what `--json` prints), and the human
//! rendering of each document. Pure functions of JSON values, so they are tested without a
//! cluster.
//!
//! - status: every node's `ADMIN STATUS`, and the liveness matrix;
//! - namespaces: every node's `ADMIN NAMESPACES`, compared namespace by namespace with the
//!   node asked first, so a node that missed a change is named with the namespace it differs in;
//! - ring, hints, key: one node's document (key with the other replicas' copies filled in).

use serde_json::{json, Map, Value};

use super::table::{self, render};

/// One node's answer to an `ADMIN` command (`STATUS`, `NAMESPACES`), or why there was none.
pub struct NodeAnswer {
    /// The node's id, if known before asking (peers listed by another node).
    pub id: Option<u64>,
    pub resp: String,
    pub result: Result<Value, String>,
}

/// The merged status: every node asked, each with its own status or the error, by node id
/// (nodes of unknown id last, in the order asked).
pub fn merge_status(asked: &str, answers: Vec<NodeAnswer>) -> Value {
    let nodes = node_entries(answers, "status", |s| s["node"]["id"].as_u64(), |_, _| {});
    json!({
        "format": crate::commands::admin::FORMAT,
        "asked": asked,
        "nodes": nodes,
    })
}

/// Every node's entry, by id (unknown ids last, in the order asked): `{id, resp, reachable}`
/// and its document under `field`, or its `error`. `id_of` finds a node's id in its document
/// (else the id it was asked as); `seen` is shown each document with that id.
fn node_entries(
    answers: Vec<NodeAnswer>,
    field: &str,
    id_of: fn(&Value) -> Option<u64>,
    mut seen: impl FnMut(&Value, Option<u64>),
) -> Vec<Value> {
    let mut nodes: Vec<(Option<u64>, Value)> = answers
        .into_iter()
        .map(|a| {
            let id = a.result.as_ref().ok().and_then(id_of).or(a.id);
            let entry = match a.result {
                Ok(document) => {
                    seen(&document, id);
                    json!({ "id": id, "resp": a.resp, "reachable": true, field: document })
                }
                Err(error) => {
                    json!({ "id": id, "resp": a.resp, "reachable": false, "error": error })
                }
            };
            (id, entry)
        })
        .collect();
    nodes.sort_by_key(|(id, _)| id.unwrap_or(u64::MAX));
    nodes.into_iter().map(|(_, v)| v).collect()
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

/// An `ADMIN REPAIR` answer: what the round did.
pub fn repair_table(answer: &Value) -> String {
    let r = &answer["report"];
    let mut out = format!(
        "node n{}: repair of namespace {} partition {} took {} ms\n",
        text(&answer["node"]),
        text_or(&answer["namespace"], "all"),
        text_or(&answer["partition"], "all"),
        text(&r["duration_ms"]),
    );
    out.push_str(&render(
        &[
            "COMPARED",
            "DIFFERING",
            "IN_SYNC",
            "PULLED",
            "PUSHED",
            "PURGED",
            "ERRORS",
        ],
        &[vec![
            text(&r["partitions_compared"]),
            text(&r["partitions_differing"]),
            text(&r["partitions_in_sync"]),
            text(&r["keys_pulled"]),
            text(&r["keys_pushed"]),
            text(&r["tombstones_purged"]),
            text(&r["errors_total"]),
        ]],
    ));
    for peer in r["peers_down"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "node n{} is down: its partitions were not compared\n",
            text(peer)
        ));
    }
    for e in r["errors"].as_array().into_iter().flatten() {
        out.push_str(&format!("error: {}\n", text(e)));
    }
    out
}

/// An `ADMIN ANTIENTROPY` document: counters and digests.
pub fn antientropy_table(view: &Value) -> String {
    let mut out = format!(
        "node n{}: {} rounds, {} partitions compared, {} differed; {} keys pulled, {} pushed; \
         {} tombstones purged; {} corrupt records repaired; {} errors\n",
        text(&view["node"]),
        text(&view["rounds"]),
        text(&view["partitions_compared"]),
        text(&view["partitions_differing"]),
        text(&view["keys_pulled"]),
        text(&view["keys_pushed"]),
        text(&view["tombstones_purged"]),
        text(&view["corrupt_repaired"]),
        text(&view["errors"]),
    );
    let rows: Vec<Vec<String>> = view["digests"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(ns, digest)| vec![ns.clone(), text(digest)])
        .collect();
    if !rows.is_empty() {
        out.push_str(&render(&["NAMESPACE_ID", "DIGEST"], &rows));
    }
    out
}

fn text_or(value: &Value, missing: &str) -> String {
    match value {
        Value::Null => missing.to_owned(),
        other => text(other),
    }
}

/// The namespaces of an `ADMIN NAMESPACES` document, by name.
fn namespaces_by_name(document: &Value) -> std::collections::BTreeMap<String, &Value> {
    document["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["name"].as_str().map(|name| (name.to_owned(), n)))
        .collect()
}

/// How `theirs` (node `node`'s document) differs from `reference`: one entry per namespace it
/// lacks, has in addition, or holds with other settings (naming the fields), and one for the
/// catalog as a whole when only dropped entries differ (the digests do, the namespaces not).
fn catalog_differences(reference: &Value, theirs: &Value, node: Option<u64>) -> Vec<Value> {
    let ours = namespaces_by_name(reference);
    let other = namespaces_by_name(theirs);
    let mut names: Vec<&String> = ours.keys().chain(other.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let difference = match (ours.get(name), other.get(name)) {
            (Some(_), None) => json!({ "node": node, "namespace": name, "difference": "missing" }),
            (None, Some(_)) => json!({ "node": node, "namespace": name, "difference": "extra" }),
            (Some(a), Some(b)) if a != b => {
                let mut fields: Vec<&String> = a
                    .as_object()
                    .into_iter()
                    .chain(b.as_object())
                    .flat_map(|m| m.keys())
                    .filter(|k| a.get(k.as_str()) != b.get(k.as_str()))
                    .collect();
                fields.sort();
                fields.dedup();
                json!({ "node": node, "namespace": name, "difference": "settings", "fields": fields })
            }
            _ => continue,
        };
        out.push(difference);
    }
    let (digest, their_digest) = (
        &reference["catalog"]["digest"],
        &theirs["catalog"]["digest"],
    );
    if out.is_empty() && digest != their_digest {
        out.push(json!({
            "node": node,
            "namespace": Value::Null,
            "difference": "dropped",
            "digests": [digest, their_digest],
        }));
    }
    out
}

/// The merged namespace listing: the reference catalog (the first node that answered, the one
/// asked), every node's own document or error, and how each answering node's catalog differs
/// from the reference. Nodes by id (unknown ids last); unreachable nodes take no part in the
/// comparison.
pub fn merge_namespaces(asked: &str, answers: Vec<NodeAnswer>) -> Value {
    let reference = answers
        .iter()
        .find_map(|a| a.result.as_ref().ok())
        .cloned()
        .unwrap_or(Value::Null);
    let mut differences = Vec::new();
    let nodes = node_entries(
        answers,
        "namespaces",
        |d| d["node"].as_u64(),
        |document, id| differences.extend(catalog_differences(&reference, document, id)),
    );
    json!({
        "format": crate::commands::admin::FORMAT,
        "asked": asked,
        "reference": reference["node"],
        "identical": differences.is_empty(),
        "differences": differences,
        "catalog": reference["catalog"],
        "namespaces": reference["namespaces"],
        "conflicts": reference["conflicts"],
        "nodes": nodes,
    })
}

fn node_name(id: &Value) -> String {
    id.as_u64().map_or("?".to_owned(), |id| format!("n{id}"))
}

/// The reference catalog's namespaces as a table, its conflicts, and one line on whether every
/// answering node holds the same catalog (else one line per difference), then the nodes that
/// did not answer.
pub fn namespaces_table(merged: &Value) -> String {
    let rows: Vec<Vec<String>> = merged["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let c = &n["consistency"];
            let mut name = text(&n["name"]);
            if n["usable"].as_bool() == Some(false) {
                name.push_str(" (unusable)");
            }
            vec![
                name,
                text(&n["db"]),
                text(&n["n"]),
                format!(
                    "{} R={} W={}",
                    text(&c["mode"]),
                    text(&c["r"]),
                    text(&c["w"])
                ),
                text(&n["conflict"]),
                format!("R>={} W>={}", text(&n["min_r"]), text(&n["min_w"])),
                yes_no(n.get("allow_sloppy")),
                n["ttl_s"].as_u64().map_or("-".to_owned(), table::duration),
            ]
        })
        .collect();
    let mut out = render(
        &[
            "NAME",
            "DB",
            "N",
            "CONSISTENCY",
            "CONFLICT",
            "FLOORS",
            "SLOPPY",
            "TTL",
        ],
        &rows,
    );
    let conflicts: Vec<String> = merged["conflicts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !conflicts.is_empty() {
        out.push_str("conflicts (the earlier namespace keeps the db index or id):\n");
        for c in &conflicts {
            out.push_str(&format!("  {c}\n"));
        }
    }
    let reference = node_name(&merged["reference"]);
    let catalog = &merged["catalog"];
    out.push_str(&format!(
        "catalog of {reference}: {} entries ({} dropped), digest {}\n",
        text(&catalog["entries"]),
        text(&catalog["dropped"]),
        text(&catalog["digest"]),
    ));
    let nodes = merged["nodes"].as_array().cloned().unwrap_or_default();
    let answering = nodes
        .iter()
        .filter(|n| n["reachable"].as_bool() == Some(true))
        .count();
    let differences = merged["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if differences.is_empty() {
        out.push_str(&match answering {
            0 | 1 => format!("only {reference} answered: no other catalog to compare\n"),
            n if n == nodes.len() => format!("all {n} nodes hold the same catalog\n"),
            n => format!("the {n} answering nodes hold the same catalog\n"),
        });
    } else {
        out.push_str(&format!("catalogs differ from {reference}'s:\n"));
        for d in &differences {
            let node = node_name(&d["node"]);
            let name = text(&d["namespace"]);
            let line = match d["difference"].as_str() {
                Some("missing") => format!("{node} lacks namespace '{name}'"),
                Some("extra") => format!("{node} has namespace '{name}', which {reference} lacks"),
                Some("settings") => {
                    let fields: Vec<String> = d["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect();
                    format!(
                        "{node} holds namespace '{name}' with other {}",
                        fields.join(", ")
                    )
                }
                _ => format!(
                    "{node} holds the same namespaces but other dropped ones (digest {})",
                    text(&d["digests"][1])
                ),
            };
            out.push_str(&format!("  {line}\n"));
        }
    }
    for n in nodes
        .iter()
        .filter(|n| n["reachable"].as_bool() != Some(true))
    {
        out.push_str(&format!(
            "{} ({}) unreachable: {}\n",
            node_name(&n["id"]),
            text(&n["resp"]),
            text(&n["error"]),
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
    // A node older than `namespace_name` gives the id only.
    let namespace = match key["namespace_name"].as_str() {
        Some(name) => format!("{name}, id {}", text(&key["namespace"])),
        None => text(&key["namespace"]),
    };
    let mut out = format!(
        "key {:?} in db {} (namespace {namespace}): partition {}, hash {}, replication {}\n\
         preference: {}   fallbacks: {}\n",
        text(&key["key"]),
        text(&key["db"]),
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
                None => vec![name, "?".into(), "?".into()],
            }
        })
        .collect();
    // Why a replica's copy is unknown goes below the table: a long reason in a cell would
    // widen its column for every row.
    let unknown: Vec<String> = key["replicas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| !r["copy"].is_object())
        .map(|r| {
            format!(
                "n{}: ? ({})\n",
                text(&r["id"]),
                r["error"].as_str().unwrap_or("no answer")
            )
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
    out.extend(unknown);
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
                NodeAnswer {
                    id: Some(3),
                    resp: "127.0.0.1:6381".into(),
                    result: Err("127.0.0.1:6381 did not answer within 1000 ms".into()),
                },
                NodeAnswer {
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
            "format": 1, "key": "k", "partition": 7, "namespace": 0, "namespace_name": "default",
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
        assert!(text.contains("(namespace default, id 0)"), "{text}");
        assert!(text.contains("n1,") || text.contains("n1:2"), "{text}");
        assert!(text.contains("\nn3       ?       ?\n"), "{text}");
        assert!(text.ends_with("\nn3: ? (timeout)\n"), "{text}");
    }

    fn namespace(name: &str, db: Value, ttl: Value) -> Value {
        json!({
            "name": name, "id": 7, "db": db, "usable": true, "n": 3,
            "consistency": { "mode": "quorum", "r": 2, "w": 2, "sloppy": false, "spec": "QUORUM" },
            "conflict": "lww", "min_r": 1, "min_w": 2, "allow_sloppy": false, "ttl_s": ttl,
        })
    }

    fn catalog(node: u64, digest: &str, namespaces: Vec<Value>) -> NodeAnswer {
        NodeAnswer {
            id: Some(node),
            resp: format!("127.0.0.1:{}", 6378 + node),
            result: Ok(json!({
                "format": 1, "node": node,
                "catalog": { "digest": digest, "entries": 2, "live": 1, "dropped": 1 },
                "namespaces": namespaces, "conflicts": [],
            })),
        }
    }

    fn both(ttl: u64) -> Vec<Value> {
        vec![
            namespace("default", json!(0), Value::Null),
            namespace("sessions", json!(1), json!(ttl)),
        ]
    }

    #[test]
    fn equal_catalogs_are_reported_identical_and_silent_nodes_unreachable() {
        let merged = merge_namespaces(
            "127.0.0.1:6379",
            vec![
                catalog(1, "aa", both(3600)),
                NodeAnswer {
                    id: Some(3),
                    resp: "127.0.0.1:6381".into(),
                    result: Err("127.0.0.1:6381 did not answer within 1000 ms".into()),
                },
                catalog(2, "aa", both(3600)),
            ],
        );
        assert_eq!(merged["identical"], json!(true));
        assert_eq!(merged["reference"], json!(1));
        assert_eq!(merged["namespaces"][1]["name"], json!("sessions"));
        assert_eq!(merged["nodes"][2]["reachable"], json!(false));
        let text = namespaces_table(&merged);
        let sessions = text.lines().find(|l| l.starts_with("sessions")).unwrap();
        for cell in ["quorum R=2 W=2", "lww", "R>=1 W>=2", "no", "1h0m"] {
            assert!(sessions.contains(cell), "{cell}: {text}");
        }
        assert!(
            text.contains("the 2 answering nodes hold the same catalog"),
            "{text}"
        );
        assert!(
            text.contains("n3 (127.0.0.1:6381) unreachable: 127.0.0.1:6381 did not answer"),
            "{text}"
        );
    }

    #[test]
    fn a_differing_node_is_named_with_the_namespace_it_differs_in() {
        let merged = merge_namespaces(
            "127.0.0.1:6379",
            vec![
                catalog(1, "aa", both(3600)),
                catalog(2, "bb", vec![namespace("default", json!(0), Value::Null)]),
                catalog(3, "cc", both(60)),
                catalog(4, "dd", both(3600)),
            ],
        );
        assert_eq!(merged["identical"], json!(false));
        let differences = merged["differences"].as_array().unwrap();
        assert_eq!(differences.len(), 3, "{merged}");
        assert_eq!(differences[0]["node"], json!(2));
        assert_eq!(differences[0]["difference"], json!("missing"));
        assert_eq!(differences[1]["fields"], json!(["ttl_s"]));
        assert_eq!(differences[2]["difference"], json!("dropped"));
        let text = namespaces_table(&merged);
        assert!(text.contains("catalogs differ from n1's:"), "{text}");
        assert!(text.contains("n2 lacks namespace 'sessions'"), "{text}");
        assert!(
            text.contains("n3 holds namespace 'sessions' with other ttl_s"),
            "{text}"
        );
        assert!(
            text.contains("n4 holds the same namespaces but other dropped ones"),
            "{text}"
        );
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
