//! The node's metrics: a small registry of atomics, rendered as Prometheus text (`GET /metrics`
//! on the admin port, [`crate::http`]) and shown over RESP (`INFO requests`, `INFO
//! replication_stats`, `INFO storage`).
//!
//! - `mod.rs` (this file): the registry ([`Metrics`]), fixed-bucket histograms ([`Histogram`])
//!   and the bounded label sets.
//! - `render.rs`: the Prometheus text format, from the registry plus the figures other parts of
//!   the node already keep ([`NodeFigures`], read at scrape time).
//!
//! Why our own registry rather than the `metrics` crate: its recorder is process-global (tests
//! run several nodes per process in places, and two recorders cannot coexist), it is write-only
//! (`INFO` must read back the very figures `/metrics` shows), and every record hashes a dynamic
//! key. Here every label is an index into a fixed table, so recording a command is one lookup
//! plus three relaxed atomic adds, and no label value can ever come from a client: families
//! (the names of the command tables, [`crate::commands::FAMILIES`], plus `other`),
//! consistency classes and outcomes are closed sets; namespaces are capped at
//! [`MAX_NAMESPACE_LABELS`] distinct values, further ones share `ns="other"`.

mod render;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, OnceLock, RwLock};
use std::time::Duration;

use kvorum_consistency::{Preset, Reply, Spec};

use crate::commands::FAMILIES;
use crate::session::Shared;
use crate::storage::{GroupCommit, Storage};

pub use render::{render, NodeFigures};

/// Upper bounds of the latency buckets, in microseconds (100 µs … 10 s; one more bucket,
/// `+Inf`, holds the rest). Chosen to resolve both a loopback GET (~100 µs) and a request
/// timing out (`request_timeout_ms`, 2 s by default).
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// The `family` label of a command not in any table (an unknown command): the index after the
/// last family of [`crate::commands::FAMILIES`], whose names are the other label values. A
/// fixed number, so the label set is bounded and every namespace's histograms are allocated
/// once.
pub const OTHER_FAMILY: usize = FAMILIES.len();

/// Families whose commands replicate nothing: their `consistency` label is `none`. They run
/// on the connection or the node (connection state, introspection, the catalog, one replica's
/// own copy), never with a read or write consistency.
const LOCAL_FAMILIES: [&str; 7] = [
    "connection",
    "server",
    "consistency",
    "namespace",
    "replica",
    "admin",
    "debug",
];

/// The `family` label value of a family index: its table's name, `other` beyond the tables.
pub fn family_name(family: usize) -> &'static str {
    FAMILIES.get(family).map_or("other", |(name, _)| *name)
}

/// The family (index into [`crate::commands::FAMILIES`], [`OTHER_FAMILY`] if none) of a
/// command by its table name (lower case).
pub fn family_of(command: &str) -> usize {
    static INDEX: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
        FAMILIES
            .iter()
            .enumerate()
            .flat_map(|(family, (_, table))| table.iter().map(move |c| (c.name, family)))
            .collect()
    });
    INDEX.get(command).copied().unwrap_or(OTHER_FAMILY)
}

/// Whether commands of this family replicate nothing (their `consistency` label is `none`).
pub fn is_local_family(family: usize) -> bool {
    LOCAL_FAMILIES.contains(&family_name(family))
}

/// Consistency classes, the `consistency` label: the preset a request ran with, `custom` for
/// explicit `R=`/`W=` settings, `none` for commands that replicate nothing (the families of
/// `LOCAL_FAMILIES`).
pub const CONSISTENCIES: [&str; 8] = [
    "one", "two", "quorum", "all", "eventual", "strong", "custom", "none",
];

/// Index of `none` in [`CONSISTENCIES`].
pub const NO_CONSISTENCY: usize = CONSISTENCIES.len() - 1;

/// The `outcome` label: whether the reply was an error.
pub const OUTCOMES: [&str; 2] = ["ok", "error"];

/// Most distinct `ns` label values; requests of further namespaces count under `ns="other"`.
pub const MAX_NAMESPACE_LABELS: usize = 64;

/// The consistency class of an effective spec (a per-command `WITH` over the connection's over
/// the namespace default).
pub fn consistency_class(spec: &Spec) -> usize {
    if spec.r.is_some() || spec.w.is_some() || spec.dw.is_some() || spec.sloppy.is_some() {
        return 6;
    }
    match spec.preset {
        Some(Preset::One) => 0,
        Some(Preset::Two) => 1,
        Some(Preset::Quorum) | None => 2,
        Some(Preset::All) => 3,
        Some(Preset::Eventual) => 4,
        Some(Preset::Strong) => 5,
    }
}

/// A latency histogram with the fixed buckets [`LATENCY_BUCKETS_US`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative), the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

/// A histogram's figures at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Per bucket of [`LATENCY_BUCKETS_US`] plus `+Inf`, not cumulative.
    pub buckets: [u64; LATENCY_BUCKETS_US.len() + 1],
    pub sum_us: u64,
    pub count: u64,
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let i = LATENCY_BUCKETS_US.partition_point(|&bound| bound < us);
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Relaxed);
        }
        self.sum_us.fetch_add(us, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut snapshot = HistogramSnapshot {
            sum_us: self.sum_us.load(Relaxed),
            count: self.count.load(Relaxed),
            ..HistogramSnapshot::default()
        };
        for (out, bucket) in snapshot.buckets.iter_mut().zip(&self.buckets) {
            *out = bucket.load(Relaxed);
        }
        snapshot
    }
}

/// The request histograms of one namespace: one per family × consistency × outcome.
struct NamespaceRequests {
    histograms: Vec<Histogram>,
}

impl NamespaceRequests {
    fn new() -> Self {
        let len = (OTHER_FAMILY + 1) * CONSISTENCIES.len() * OUTCOMES.len();
        NamespaceRequests {
            histograms: (0..len).map(|_| Histogram::default()).collect(),
        }
    }

    fn get(&self, family: usize, consistency: usize, outcome: usize) -> Option<&Histogram> {
        let index = (family * CONSISTENCIES.len() + consistency) * OUTCOMES.len() + outcome;
        self.histograms.get(index)
    }
}

/// The labels of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLabels {
    /// The namespace (db index).
    pub ns: u32,
    /// The command's family ([`family_of`]); any index from [`OTHER_FAMILY`] on counts as
    /// `other`.
    pub family: usize,
    /// Index into [`CONSISTENCIES`].
    pub consistency: usize,
}

/// Kinds of coordinator replies, the `reply` label.
pub const REPLIES: [&str; 6] = [
    "value",
    "written",
    "refused",
    "unavailable",
    "timeout",
    "failed",
];

/// The node's registry. Shared by every task that records (`Arc`); all methods take `&self`.
#[derive(Default)]
pub struct Metrics {
    /// Request histograms per namespace; `None` key: `ns="other"`.
    requests: RwLock<HashMap<Option<u32>, Arc<NamespaceRequests>>>,
    /// Coordinator replies by kind ([`REPLIES`]).
    replies: [AtomicU64; REPLIES.len()],
    /// Replicas counted as holding a write when its client was answered (the coordinator
    /// included), summed over written requests.
    pub write_acks: AtomicU64,
    /// Answers from other replicas: `Fetched` ok/error, `Stored` ok/error.
    pub replica_fetched_ok: AtomicU64,
    pub replica_fetched_error: AtomicU64,
    pub replica_stored_ok: AtomicU64,
    pub replica_stored_error: AtomicU64,
    /// Read repairs and strong write-backs, as the coordinator counts them (a copy, refreshed
    /// by the driver).
    pub read_repairs: AtomicU64,
    pub write_backs: AtomicU64,
    /// Storage reads the driver ran itself, and times a slow one sent reads back to the
    /// storage workers for a while (see [`crate::inline_reads`]; copies, refreshed by the
    /// driver).
    pub inline_reads: AtomicU64,
    pub inline_read_pauses: AtomicU64,
    /// Values added to, and removed from, stored sibling sets by this node's writes and merges.
    pub siblings_created: AtomicU64,
    pub siblings_resolved: AtomicU64,
    /// HTTP admin requests served, and refused for their size or shape.
    pub admin_requests: AtomicU64,
    pub admin_bad_requests: AtomicU64,
    /// Where storage figures are read at scrape time ([`Metrics::attach`]).
    sources: OnceLock<Sources>,
}

/// Parts of the node whose own counters the registry reads when asked.
struct Sources {
    commit: GroupCommit,
    storage: Arc<dyn Storage>,
}

/// The figures of the node read now (everything but the storage size, which reads the disk:
/// see [`Metrics::storage_bytes`]).
pub fn gather(shared: &Shared, metrics: &Metrics) -> NodeFigures {
    let stats = &shared.stats;
    let mut figures = NodeFigures {
        node_id: shared.node.0,
        uptime_seconds: shared.started.elapsed().as_secs(),
        connections_open: shared.clients.len() as u64,
        connections_received: stats.connections_received.load(Relaxed),
        connections_rejected: stats.rejected_connections.load(Relaxed),
        error_replies: stats.error_replies.load(Relaxed),
        peers: (shared.view.peers)()
            .into_iter()
            .map(|(id, p)| (id, p.up))
            .collect(),
        hints: shared.hints.stats(),
        handoff_failed: shared.handoff.failed.load(Relaxed),
        expired_keys_purged: shared.view.purge.purged.load(Relaxed),
        antientropy: shared.view.antientropy.stats.figures(),
        corrupt_records: shared.view.antientropy.corrupt_records(),
        ..NodeFigures::default()
    };
    if let Some(sources) = metrics.sources.get() {
        let commit = sources.commit.stats();
        figures.fsyncs = commit.syncs;
        figures.fsyncs_failed = commit.failed_syncs;
        figures.fsync_latency = sources.commit.sync_latency();
    }
    figures
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Lets the registry read group commit's and the storage engine's figures.
    pub fn attach(&self, commit: GroupCommit, storage: Arc<dyn Storage>) {
        let _ = self.sources.set(Sources { commit, storage });
    }

    /// Bytes the storage engine occupies on disk; it reads the disk, so call it off the async
    /// runtime. `None` before [`Metrics::attach`] or when the engine cannot tell.
    pub fn storage_bytes(&self) -> Option<u64> {
        self.sources.get()?.storage.size_on_disk().ok()
    }

    /// Records one command whose reply settled `elapsed` after it was dispatched.
    pub fn record_request(&self, labels: RequestLabels, error: bool, elapsed: Duration) {
        let family = labels.family.min(OTHER_FAMILY);
        let consistency = labels.consistency.min(NO_CONSISTENCY);
        if let Some(h) = self
            .namespace(labels.ns)
            .get(family, consistency, usize::from(error))
        {
            h.record(elapsed);
        }
    }

    fn namespace(&self, ns: u32) -> Arc<NamespaceRequests> {
        {
            let map = self.requests.read().unwrap_or_else(|p| p.into_inner());
            if let Some(found) = map.get(&Some(ns)) {
                return found.clone();
            }
        }
        let mut map = self.requests.write().unwrap_or_else(|p| p.into_inner());
        let named = map.keys().filter(|k| k.is_some()).count();
        let key = if map.contains_key(&Some(ns)) || named < MAX_NAMESPACE_LABELS {
            Some(ns)
        } else {
            None
        };
        map.entry(key)
            .or_insert_with(|| Arc::new(NamespaceRequests::new()))
            .clone()
    }

    /// Counts a coordinator reply by kind.
    pub fn record_reply(&self, reply: &Reply) {
        let kind = match reply {
            Reply::Value(_) => 0,
            Reply::Written { acks, .. } => {
                self.write_acks.fetch_add(*acks as u64, Relaxed);
                1
            }
            Reply::Refused(_) => 2,
            Reply::Unavailable { .. } => 3,
            Reply::Timeout { .. } => 4,
            Reply::Failed { .. } => 5,
        };
        if let Some(counter) = self.replies.get(kind) {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Coordinator replies per kind, in [`REPLIES`] order.
    pub fn replies(&self) -> [u64; REPLIES.len()] {
        let mut out = [0; REPLIES.len()];
        for (o, c) in out.iter_mut().zip(&self.replies) {
            *o = c.load(Relaxed);
        }
        out
    }

    /// Counts the change of a stored sibling set from `before` to `after` values.
    pub fn record_siblings(&self, before: usize, after: usize) {
        let (before, after) = (before.max(1) as u64, after.max(1) as u64);
        if after > before {
            self.siblings_created.fetch_add(after - before, Relaxed);
        } else if before > after {
            self.siblings_resolved.fetch_add(before - after, Relaxed);
        }
    }

    /// Every request series that has counted something: `(ns label, family, consistency,
    /// outcome, snapshot)`, sorted by labels.
    pub fn request_series(
        &self,
    ) -> Vec<(
        String,
        &'static str,
        &'static str,
        &'static str,
        HistogramSnapshot,
    )> {
        let map = self.requests.read().unwrap_or_else(|p| p.into_inner());
        let mut namespaces: Vec<(Option<u32>, Arc<NamespaceRequests>)> =
            map.iter().map(|(k, v)| (*k, v.clone())).collect();
        drop(map);
        namespaces.sort_by_key(|(k, _)| k.map_or(u64::MAX, u64::from));
        let mut out = Vec::new();
        for (ns, requests) in namespaces {
            let label = ns.map_or_else(|| "other".to_owned(), |n| n.to_string());
            for f in 0..=OTHER_FAMILY {
                let family = family_name(f);
                for (c, consistency) in CONSISTENCIES.iter().enumerate() {
                    for (o, outcome) in OUTCOMES.iter().enumerate() {
                        let Some(h) = requests.get(f, c, o) else {
                            continue;
                        };
                        let snapshot = h.snapshot();
                        if snapshot.count > 0 {
                            out.push((label.clone(), family, *consistency, *outcome, snapshot));
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_their_bucket_and_the_sum() {
        let h = Histogram::default();
        h.record(Duration::from_micros(100)); // on a bound: that bucket
        h.record(Duration::from_micros(101));
        h.record(Duration::from_secs(60)); // beyond the last bound: +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.sum_us, 100 + 101 + 60_000_000);
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[LATENCY_BUCKETS_US.len()], 1);
    }

    #[test]
    fn namespaces_beyond_the_cap_share_one_label() {
        let m = Metrics::new();
        let labels = |ns| RequestLabels {
            ns,
            family: 2,
            consistency: 2,
        };
        for ns in 0..(MAX_NAMESPACE_LABELS as u32 + 10) {
            m.record_request(labels(ns), false, Duration::from_millis(1));
        }
        let series = m.request_series();
        assert_eq!(series.len(), MAX_NAMESPACE_LABELS + 1);
        let other = series.iter().find(|s| s.0 == "other").map(|s| s.4.count);
        assert_eq!(other, Some(10));
    }

    #[test]
    fn labels_out_of_range_count_as_other_and_none() {
        let m = Metrics::new();
        let labels = RequestLabels {
            ns: 0,
            family: 999,
            consistency: 999,
        };
        m.record_request(labels, true, Duration::from_millis(1));
        let series = m.request_series();
        assert_eq!(series.len(), 1);
        assert_eq!(
            (series[0].1, series[0].2, series[0].3),
            ("other", "none", "error")
        );
    }

    #[test]
    fn sibling_changes_count_values_added_and_removed() {
        let m = Metrics::new();
        m.record_siblings(0, 1);
        m.record_siblings(1, 3);
        m.record_siblings(3, 1);
        m.record_siblings(2, 0);
        assert_eq!(m.siblings_created.load(Relaxed), 2);
        assert_eq!(m.siblings_resolved.load(Relaxed), 3);
    }

    /// Each command counts under the name of the table that serves it, unknown commands under
    /// `other`, and the label set is the tables' names plus `other`, each once.
    #[test]
    fn families_are_the_command_tables() {
        for (i, (name, table)) in FAMILIES.iter().enumerate() {
            assert_eq!(family_name(i), *name);
            assert_ne!(
                *name, "other",
                "a table may not take the unknown commands' label"
            );
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase()),
                "{name}: label values are lower-case words"
            );
            assert_eq!(FAMILIES.iter().filter(|(n, _)| n == name).count(), 1);
            for command in table.iter() {
                assert_eq!(family_name(family_of(command.name)), *name);
            }
        }
        assert_eq!(family_of("nosuch"), OTHER_FAMILY);
        assert_eq!(family_name(OTHER_FAMILY), "other");
        assert_eq!(family_name(family_of("namespace")), "namespace");
        assert_eq!(family_name(family_of("admin")), "admin");
    }

    #[test]
    fn local_families_exist_and_replicating_ones_are_not_local() {
        for name in LOCAL_FAMILIES {
            assert!(FAMILIES.iter().any(|(n, _)| *n == name), "{name}");
        }
        assert!(is_local_family(family_of("namespace")));
        assert!(is_local_family(family_of("ping")));
        assert!(!is_local_family(family_of("get")));
        assert!(!is_local_family(family_of("setctx")));
        assert!(!is_local_family(OTHER_FAMILY));
    }

    #[test]
    fn consistency_classes_follow_the_spec() {
        assert_eq!(CONSISTENCIES[consistency_class(&Spec::default())], "quorum");
        assert_eq!(
            CONSISTENCIES[consistency_class(&Spec::preset(Preset::Strong))],
            "strong"
        );
        let custom = Spec {
            r: Some(1),
            ..Spec::default()
        };
        assert_eq!(CONSISTENCIES[consistency_class(&custom)], "custom");
    }
}
