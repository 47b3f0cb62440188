//! `ADMIN`: what an operator asks a node about itself and the cluster, answered as one JSON
//! document in a bulk string, so that `kvorum admin` (and any script) can parse it without a
//! RESP-to-JSON mapping. Every document carries `"format": 1` ([`FORMAT`]); a field is only
//! ever added under the same format, a change of meaning takes a new one.
//!
//! - `ADMIN STATUS`: this node (id, version, uptime, addresses, layout, replication factor,
//!   partitions) and every peer as this node sees it (addresses, up/down, phi, connected).
//! - `ADMIN RING`: partitions per node, as primary and as any replica, and the imbalance.
//! - `ADMIN HINTS`: hinted-handoff backlog per target node.
//! - `ADMIN KEY db key`: the key's partition, preference list and this node's copy; the other
//!   replicas' copies come from `ADMIN KEY db key LOCAL` on each of them (`kvorum admin key`
//!   asks them), so no node dials another node's RESP port. The preference list has the N of
//!   the key's namespace (the one mapped to the db index), not the cluster's default.
//! - `ADMIN NAMESPACES`: every namespace this node's catalog holds (`default` included) with
//!   its settings as requests see them, the catalog's conflicts, and a digest of the catalog
//!   so that an operator (`kvorum admin namespaces`) can tell whether nodes hold the same one.
//!   [`crate::catalog::namespace_views`] is the catalog-to-operator view it is built on.
//!
//! Every answer is bounded: per-node lists have one entry per cluster node, a version vector is
//! cut at [`MAX_CONTEXT_ENTRIES`] entries, a key is echoed at most 128 bytes long, and the
//! namespace listing has at most one entry per catalog entry (the catalog holds at most
//! [`kvorum_consistency::catalog::MAX_ENTRIES`] of them).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kvorum_consistency::catalog::Stamp;
use kvorum_consistency::{Conflict, Data, Key, NamespacePolicy, Object, Reply};
use kvorum_resp::Frame;
use kvorum_ring::{key_hash, Layout, NamespaceId, NodeId, PartitionId};
use serde_json::{json, Value};

use super::{check_key, is, printable, spec, CommandSpec, Ctx, Outcome, NO_KEYS};
use crate::catalog::{namespace_views, NamespaceView};
use crate::clock;
use crate::config::{NodeConfig, PeerEntry};
use crate::driver::Work;
use crate::session::Shared;

/// Version of every `ADMIN` answer's layout.
pub const FORMAT: u64 = 1;

/// The most version-vector entries shown for one copy of a key (one per node that ever
/// coordinated a write of it); `context_entries` gives the real count.
pub const MAX_CONTEXT_ENTRIES: usize = 64;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[spec(
    "admin",
    -2,
    &["admin", "loading", "stale"],
    NO_KEYS,
    admin,
)];

/// What `ADMIN` reports about the cluster that the rest of the node does not keep at hand:
/// peers' addresses and the layout, computed once from the configuration.
pub struct AdminFacts {
    pub peer_listen: SocketAddr,
    pub peers: Vec<PeerEntry>,
    /// The layout the replication core places keys with (the same function of the config).
    /// `None` only if the config cannot produce one, which start-up has already refused.
    pub layout: Option<Arc<Layout>>,
    /// XXH3-64 (as [`key_hash`] in namespace 0) of the layout's encoding, in hex: nodes with
    /// the same epoch but different memberships show different fingerprints.
    pub layout_fingerprint: String,
}

impl AdminFacts {
    pub fn from_config(config: &NodeConfig) -> AdminFacts {
        let layout = crate::server::cluster_layout(config).ok();
        let layout_fingerprint = layout
            .as_ref()
            .and_then(|l| rmp_serde::to_vec(l).ok())
            .map(|bytes| format!("{:016x}", key_hash(NamespaceId(0), &bytes)))
            .unwrap_or_default();
        AdminFacts {
            peer_listen: config.peer_listen,
            peers: config.peers.clone(),
            layout: layout.map(Arc::new),
            layout_fingerprint,
        }
    }
}

const USAGE: &str = "ERR unknown subcommand or wrong arguments for 'ADMIN'; expected ADMIN \
                     STATUS | RING | HINTS | NAMESPACES | ANTIENTROPY | KEY db key [LOCAL] | \
                     REPAIR [namespace [partition]] | HELP";

pub fn admin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let sub = &args[1];
    let rest = &args[2..];
    if is(sub, "status") && rest.is_empty() {
        json_reply(&status(ctx.shared))
    } else if is(sub, "ring") && rest.is_empty() {
        json_reply(&ring(ctx.shared))
    } else if is(sub, "hints") && rest.is_empty() {
        json_reply(&hints(ctx.shared))
    } else if is(sub, "key") && (rest.len() == 2 || (rest.len() == 3 && is(&rest[2], "local"))) {
        key(ctx, &rest[0], &rest[1], rest.len() == 3)
    } else if is(sub, "namespaces") && rest.is_empty() {
        json_reply(&namespaces(ctx.shared))
    } else if is(sub, "antientropy") && rest.is_empty() {
        json_reply(&antientropy(ctx.shared))
    } else if is(sub, "repair") && rest.len() <= 2 {
        repair(ctx.shared, rest)
    } else if is(sub, "help") && rest.is_empty() {
        Frame::array(
            [
                "ADMIN STATUS -- this node and its view of every peer (JSON).",
                "ADMIN RING -- partitions per node, as primary and as replica, and imbalance.",
                "ADMIN HINTS -- hinted-handoff backlog per target node.",
                "ADMIN NAMESPACES -- every namespace in this node's catalog, with its settings, \
                 the catalog's conflicts and digest.",
                "ADMIN KEY <db> <key> -- partition, preference list (with the namespace's N), \
                 this node's copy.",
                "ADMIN KEY <db> <key> LOCAL -- only this node's copy of the key.",
                "ADMIN ANTIENTROPY -- anti-entropy counters and this node's digest of each \
                 namespace.",
                "ADMIN REPAIR [<namespace> [<partition>]] -- compare and repair now, with every \
                 other replica; answers what the round did.",
            ]
            .into_iter()
            .map(Frame::simple)
            .collect(),
        )
        .into()
    } else {
        Frame::error(format!("{USAGE} (got '{}')", printable(sub))).into()
    }
}

/// The views `ADMIN` and the HTTP admin listener (`GET /admin/<view>`) both serve; `KEY`, which
/// reads data, is RESP only (the HTTP listener has no authentication).
pub const VIEWS: [&str; 5] = ["status", "ring", "hints", "namespaces", "antientropy"];

/// One of [`VIEWS`] as its JSON document; `None` for another name.
pub fn view(shared: &Shared, name: &str) -> Option<Value> {
    Some(match name {
        "status" => status(shared),
        "ring" => ring(shared),
        "hints" => hints(shared),
        "namespaces" => namespaces(shared),
        "antientropy" => antientropy(shared),
        _ => return None,
    })
}

/// Anti-entropy's counters since start, and this node's digest of each namespace it holds
/// data of (nodes replicating the same partitions hold the same data when digests are equal).
fn antientropy(shared: &Shared) -> Value {
    let ae = &shared.view.antientropy;
    let f = ae.stats.figures();
    let digests: serde_json::Map<String, Value> = ae
        .trees
        .namespaces()
        .into_iter()
        .map(|ns| {
            (
                ns.0.to_string(),
                json!(format!("{:016x}", ae.trees.digest(ns))),
            )
        })
        .collect();
    json!({
        "format": FORMAT,
        "node": shared.node.0,
        "rounds": f.rounds,
        "partitions_compared": f.partitions_compared,
        "partitions_differing": f.partitions_differing,
        "keys_pulled": f.keys_pulled,
        "keys_pushed": f.keys_pushed,
        "tombstones_purged": f.tombstones_purged,
        "corrupt_repaired": f.corrupt_repaired,
        "errors": f.errors,
        "digests": digests,
    })
}

/// `ADMIN REPAIR [namespace [partition]]`: one anti-entropy round now, over the namespace
/// (by name, or a bare db index) and partition given, with every other replica.
fn repair(shared: &Shared, rest: &[Bytes]) -> Outcome {
    let ns = match rest.first() {
        None => None,
        Some(name) => match namespace_named(shared, name) {
            Some(ns) => Some(ns),
            None => {
                return Frame::error(format!(
                    "ERR no namespace named '{}' (a name, or a db index)",
                    printable(name)
                ))
                .into()
            }
        },
    };
    let partitions = shared
        .view
        .admin
        .layout
        .as_ref()
        .map_or(0, |l| l.partition_count());
    let partition = match rest.get(1) {
        None => None,
        Some(p) => match std::str::from_utf8(p)
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
        {
            Some(p) if p < partitions => Some(PartitionId(p)),
            _ => {
                return Frame::error(format!("ERR partition must be a number below {partitions}"))
                    .into()
            }
        },
    };
    let scope = crate::antientropy::Scope { ns, partition };
    let Some(done) = shared.view.antientropy.repair(scope) else {
        return Frame::error("ERR busy: too many repairs waiting, try again").into();
    };
    let node = shared.node.0;
    Outcome::Later(Box::pin(async move {
        match done.await {
            Ok(report) => Frame::bulk(
                json!({
                    "format": FORMAT,
                    "node": node,
                    "namespace": ns.map(|n| n.0),
                    "partition": partition.map(|p| p.0),
                    "report": report,
                })
                .to_string(),
            ),
            Err(_) => Frame::error("ERR the node is shutting down"),
        }
    }))
}

/// A namespace by name, or a bare db index.
fn namespace_named(shared: &Shared, name: &[u8]) -> Option<NamespaceId> {
    let text = std::str::from_utf8(name).ok()?;
    if let Some(def) = shared.catalog.lookup(text) {
        return Some(def.id);
    }
    text.parse::<u32>()
        .ok()
        .and_then(|db| shared.catalog.select(db))
}

fn json_reply(value: &Value) -> Outcome {
    Frame::bulk(value.to_string()).into()
}

/// A finite phi, or `null` (never heard from: infinite suspicion).
fn phi_json(phi: f64) -> Value {
    if phi.is_finite() {
        json!((phi * 100.0).round() / 100.0)
    } else {
        Value::Null
    }
}

fn layout_json(facts: &AdminFacts) -> Value {
    match &facts.layout {
        Some(l) => json!({
            "epoch": l.epoch(),
            "fingerprint": facts.layout_fingerprint,
            "partition_bits": l.partition_bits(),
            "partitions": l.partition_count(),
            "width": l.width(),
            "nodes": l.nodes().iter().map(|n| n.0).collect::<Vec<_>>(),
        }),
        None => Value::Null,
    }
}

fn status(shared: &Shared) -> Value {
    let view = &shared.view;
    let facts = &view.admin;
    let peers: Vec<Value> = (view.peers)()
        .into_iter()
        .map(|(id, live)| {
            let entry = facts.peers.iter().find(|p| p.id == id);
            json!({
                "id": id,
                "peer": entry.map(|p| p.addr.to_string()),
                "resp": entry.and_then(|p| p.resp).map(|a| a.to_string()),
                "state": if live.up { "up" } else { "down" },
                "phi": phi_json(live.phi),
                "connected": live.connected,
            })
        })
        .collect();
    json!({
        "format": FORMAT,
        "node": {
            "id": shared.node.0,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": shared.started.elapsed().as_secs(),
            "resp": view.resp_listen.to_string(),
            "peer": facts.peer_listen.to_string(),
            "layout": layout_json(facts),
            "replication": shared.policy.n,
            "cluster_nodes": view.cluster_nodes,
        },
        "peers": peers,
    })
}

/// `max / mean` of the counts (1.0 is perfect balance), rounded to 3 decimals.
pub fn imbalance(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    let max = counts.iter().copied().max().unwrap_or(0);
    if total == 0 || counts.is_empty() {
        return 1.0;
    }
    let mean = total as f64 / counts.len() as f64;
    (max as f64 / mean * 1000.0).round() / 1000.0
}

fn ring(shared: &Shared) -> Value {
    let facts = &shared.view.admin;
    let Some(layout) = &facts.layout else {
        return json!({ "format": FORMAT, "layout": Value::Null });
    };
    let n = shared.policy.n;
    let primary = layout.ownership(1);
    let replica = layout.ownership(n);
    let nodes: Vec<Value> = primary
        .iter()
        .zip(&replica)
        .map(|((node, p), (_, r))| json!({ "id": node.0, "primary": p, "replica": r }))
        .collect();
    let counts = |o: &[(NodeId, usize)]| o.iter().map(|(_, c)| *c).collect::<Vec<_>>();
    json!({
        "format": FORMAT,
        "node": shared.node.0,
        "layout": layout_json(facts),
        "replication": n,
        "nodes": nodes,
        "imbalance": {
            "primary": imbalance(&counts(&primary)),
            "replica": imbalance(&counts(&replica)),
        },
    })
}

fn hints(shared: &Shared) -> Value {
    let backlog = shared.hints.backlog();
    let targets: Vec<Value> = backlog
        .iter()
        .map(|b| {
            json!({
                "target": b.target,
                "hints": b.hints,
                "bytes": b.bytes,
                "oldest_created_ms": b.oldest_created_ms,
            })
        })
        .collect();
    json!({
        "format": FORMAT,
        "node": shared.node.0,
        "total": {
            "hints": backlog.iter().map(|b| b.hints).sum::<u64>(),
            "bytes": backlog.iter().map(|b| b.bytes).sum::<u64>(),
        },
        "targets": targets,
    })
}

fn stamp_json(stamp: Stamp) -> Value {
    json!({
        "ms": stamp.at.physical_ms,
        "logical": stamp.at.logical,
        "node": stamp.node.0,
    })
}

/// The default consistency a request that says nothing gets, resolved against the namespace's
/// own N (the same resolution requests make), with the spec as written.
fn consistency_json(policy: &NamespacePolicy) -> Value {
    let spec = policy.default.to_string();
    match policy.default.level(policy.n) {
        Ok(level) => json!({
            "mode": level.mode.to_string(),
            "r": level.r,
            "w": level.w,
            "sloppy": level.sloppy,
            "spec": spec,
        }),
        // Only a catalog written by a buggy or newer node gets here; show it, do not hide it.
        Err(e) => json!({
            "mode": "invalid",
            "r": Value::Null,
            "w": Value::Null,
            "sloppy": Value::Null,
            "spec": spec,
            "error": e.to_string(),
        }),
    }
}

fn namespace_json(view: &NamespaceView) -> Value {
    let policy = &view.def.policy;
    json!({
        "name": view.name,
        "id": view.def.id.0,
        "db": view.db,
        "usable": view.usable,
        "n": policy.n,
        "consistency": consistency_json(policy),
        "conflict": match policy.conflict {
            Conflict::Lww => "lww",
            Conflict::Siblings => "siblings",
        },
        "min_r": policy.min_r,
        "min_w": policy.min_w,
        "allow_sloppy": policy.allow_sloppy,
        "ttl_s": view.def.ttl_s,
        "changed": view.changed.map(stamp_json),
    })
}

/// `ADMIN NAMESPACES`. The digest is the one peers compare to decide whether to exchange
/// catalogs ([`kvorum_consistency::Catalog::digest`]), so equal digests on two nodes mean equal catalogs, dropped
/// entries included. It does not cover `default`'s configured definition, which is not in the
/// catalog until altered: compare the `default` entries too (`kvorum admin namespaces` does).
fn namespaces(shared: &Shared) -> Value {
    let catalog = &shared.catalog;
    let snapshot = catalog.snapshot();
    let views = namespace_views(&snapshot, &catalog.default_def());
    let entries = snapshot.entries();
    let live = entries.values().filter(|e| e.def.is_some()).count();
    // At most two per live entry (db and id), so bounded by the catalog's own bound.
    let conflicts: Vec<String> = snapshot
        .conflicts()
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({
        "format": FORMAT,
        "node": shared.node.0,
        "catalog": {
            "digest": format!("{:016x}", snapshot.digest()),
            "entries": entries.len(),
            "live": live,
            "dropped": entries.len() - live,
            "latest_change": snapshot.latest().map(stamp_json),
        },
        "namespaces": views.iter().map(namespace_json).collect::<Vec<_>>(),
        "conflicts": conflicts,
    })
}

/// `ADMIN KEY db key [LOCAL]`. The database is a db index, as `SELECT` takes (`ADMIN
/// NAMESPACES` lists which namespace each index maps to). The preference list has the N of
/// that namespace's policy: placement follows the namespace, so once namespaces have their own
/// N a key of a namespace with N = 2 has two primaries here too.
fn key(ctx: &mut Ctx<'_>, db: &Bytes, key: &Bytes, local_only: bool) -> Outcome {
    let Some(ns) = std::str::from_utf8(db)
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
        .and_then(|d| ctx.shared.catalog.select(d))
    else {
        return Frame::error("ERR DB index is out of range").into();
    };
    if let Err(e) = check_key(key, ctx.shared.max_key_bytes) {
        return e.into();
    }
    let shared = ctx.shared;
    let facts = &shared.view.admin;
    let Some(layout) = &facts.layout else {
        return Frame::error("ERR this node has no layout").into();
    };
    let (ns_name, n) = match shared.catalog.by_id(ns) {
        Ok((name, def)) => (name, def.policy.n),
        Err(e) => return Frame::error(format!("ERR {e}")).into(),
    };
    let partition = layout.partition_for_key(ns, key);
    let me = shared.node;
    let mut head = json!({
        "format": FORMAT,
        "node": me.0,
        "db": db_index(db),
        "namespace": ns.0,
        "namespace_name": ns_name,
        "key": printable(key),
        "partition": partition.0,
    });
    if !local_only {
        let (primaries, fallbacks) = match preference(layout, partition, n) {
            Ok(p) => p,
            Err(e) => return Frame::error(format!("ERR {e}")).into(),
        };
        let replicas: Vec<Value> = primaries
            .iter()
            .map(|&id| {
                let resp = if id == me.0 {
                    Some(shared.view.resp_listen)
                } else {
                    facts.peers.iter().find(|p| p.id == id).and_then(|p| p.resp)
                };
                json!({ "id": id, "resp": resp.map(|a| a.to_string()), "self": id == me.0 })
            })
            .collect();
        if let Value::Object(map) = &mut head {
            map.insert(
                "key_hash".into(),
                json!(format!("{:016x}", key_hash(ns, key))),
            );
            map.insert("replication".into(), json!(n));
            map.insert("preference".into(), json!(primaries));
            map.insert("fallbacks".into(), json!(fallbacks));
            map.insert("replicas".into(), Value::Array(replicas));
        }
    }
    let queued = shared.driver.try_submit(Work::LocalRead(Key {
        ns,
        key: key.to_vec(),
    }));
    Outcome::Later(Box::pin(async move {
        let reply = match queued.await {
            Ok(rx) => rx.await.ok(),
            Err(_) => None,
        };
        let copy = match reply {
            Some(Reply::Value(object)) => copy_summary(object.as_ref(), clock::wall_ms()),
            Some(Reply::Failed { reason }) => return Frame::error(format!("ERR {reason}")),
            _ => return Frame::error("ERR the node is shutting down"),
        };
        if let Value::Object(map) = &mut head {
            map.insert("copy".into(), copy);
        }
        Frame::bulk(head.to_string())
    }))
}

fn db_index(db: &[u8]) -> Value {
    std::str::from_utf8(db)
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
        .map_or(Value::Null, |d| json!(d))
}

/// The primaries and fallbacks of a partition, as node ids.
fn preference(
    layout: &Layout,
    partition: PartitionId,
    n: usize,
) -> Result<(Vec<u64>, Vec<u64>), kvorum_ring::RingError> {
    let list = layout.preference_list(partition, n)?;
    Ok((
        list.primaries.iter().map(|n| n.0).collect(),
        list.fallbacks.iter().map(|n| n.0).collect(),
    ))
}

/// What one replica holds of a key, without its values: whether a read sees it, its type, how
/// many siblings (or members, fields), its causal context, its TTL.
pub fn copy_summary(object: Option<&Object>, now_ms: u64) -> Value {
    let Some(object) = object.filter(|o| !o.is_pristine()) else {
        return json!({ "stored": false, "exists": false });
    };
    let (siblings, entries) = match object.data() {
        Data::Register(s) => (s.len(), s.len()),
        Data::Counter(_) => (1, 1),
        Data::Set(s) => (1, s.len()),
        Data::Hash(h) => (1, h.len()),
    };
    let context: Vec<Value> = object
        .context()
        .iter()
        .take(MAX_CONTEXT_ENTRIES)
        .map(|dot| json!({ "node": dot.node.0, "counter": dot.counter }))
        .collect();
    let incarnation = object.incarnation();
    json!({
        "stored": true,
        "exists": object.exists(now_ms),
        "type": object.kind().redis_type(),
        "kind": format!("{:?}", object.kind()).to_lowercase(),
        "siblings": siblings,
        "entries": entries,
        "context": context,
        "context_entries": object.context().iter().count(),
        "incarnation_ms": incarnation.ts.physical_ms,
        "expires_at_ms": object.expiry().at_ms,
        "expired": object.expiry().is_expired(now_ms),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kvorum_consistency::catalog::{Catalog, NamespaceDef};

    #[test]
    fn imbalance_is_max_over_mean() {
        assert_eq!(imbalance(&[10, 10, 10]), 1.0);
        assert_eq!(imbalance(&[20, 10, 0]), 2.0);
        assert_eq!(imbalance(&[]), 1.0);
        assert_eq!(imbalance(&[0, 0]), 1.0);
    }

    #[test]
    fn a_missing_copy_says_so_and_a_pristine_one_too() {
        assert_eq!(copy_summary(None, 0)["stored"], json!(false));
        assert_eq!(
            copy_summary(Some(&Object::new()), 0)["exists"],
            json!(false)
        );
    }

    #[test]
    fn a_written_copy_shows_its_type_siblings_and_context() {
        let (object, _) = Object::new().write(
            NodeId(2),
            &Default::default(),
            Some(Bytes::from_static(b"v")),
            kvorum_consistency::Timestamp {
                physical_ms: 5,
                logical: 0,
            },
        );
        let summary = copy_summary(Some(&object), 10);
        assert_eq!(summary["exists"], json!(true));
        assert_eq!(summary["type"], json!("string"));
        assert_eq!(summary["siblings"], json!(1));
        assert_eq!(summary["context"], json!([{ "node": 2, "counter": 1 }]));
        assert_eq!(summary["expires_at_ms"], Value::Null);
    }

    fn stamp(ms: u64, node: u64) -> Stamp {
        Stamp {
            at: kvorum_consistency::Timestamp {
                physical_ms: ms,
                logical: 0,
            },
            node: NodeId(node),
        }
    }

    fn def(db: Option<u32>) -> NamespaceDef {
        NamespaceDef {
            id: NamespaceId::DEFAULT,
            db,
            policy: NamespacePolicy::new(3),
            ttl_s: None,
            created: stamp(0, 0),
        }
    }

    #[test]
    fn namespace_views_apply_the_conflict_rule_and_always_hold_default() {
        // Two nodes concurrently map db 3: the earlier creation keeps it.
        let mut catalog = Catalog::new();
        catalog
            .create("sessions", def(Some(3)), stamp(10, 1))
            .unwrap();
        let mut other = Catalog::new();
        other.create("carts", def(Some(3)), stamp(20, 2)).unwrap();
        catalog.merge(&other);
        let default_def = NamespaceDef {
            db: Some(0),
            ..def(None)
        };
        let views = namespace_views(&catalog, &default_def);
        let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["carts", "default", "sessions"]);
        assert_eq!((views[0].db, views[0].usable), (None, true));
        assert_eq!((views[1].db, views[1].changed), (Some(0), None));
        assert_eq!(views[2].db, Some(3));
        assert_eq!(views[2].changed, Some(stamp(10, 1)));
        assert_eq!(catalog.conflicts().len(), 1);

        let shown = namespace_json(&views[2]);
        assert_eq!(shown["db"], json!(3));
        assert_eq!(shown["n"], json!(3));
        assert_eq!(shown["consistency"]["mode"], json!("quorum"));
        assert_eq!(
            (&shown["consistency"]["r"], &shown["consistency"]["w"]),
            (&json!(2), &json!(2))
        );
        assert_eq!(shown["conflict"], json!("siblings"));
        assert_eq!(shown["ttl_s"], Value::Null);
        assert_eq!(shown["changed"]["node"], json!(1));
    }

    #[test]
    fn phi_is_null_when_infinite() {
        assert_eq!(phi_json(f64::INFINITY), Value::Null);
        assert_eq!(phi_json(0.123), json!(0.12));
    }
}
