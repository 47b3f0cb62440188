//! Anti-entropy: replicas find and heal their differences in the background, and purge the
//! tombstones every replica holds.
//!
//! Hinted handoff and read repair heal what they see; anti-entropy heals everything else — a
//! write a replica missed while down with no hint kept for it, a replica rebuilt from an empty
//! data directory, a record found corrupt. Each node keeps a TicTac tree per partition
//! ([`trees`], maintained on every write by the sealed storage) and periodically compares it
//! with the other replicas' ([`exchange`]).
//!
//! Layout:
//! - [`trees`]: the trees and the start-up build; also where corrupt records are queued.
//! - [`exchange`]: one exchange with one peer; [`purge`]: tombstone purge and why it is safe.
//! - [`serve`]: answering peers; [`local`]: this node's side of each step (storage).
//! - [`rpc`]: request/answer over the mesh; [`pace`]: the rate limit.
//!
//! Who exchanges with whom: every round, a node exchanges each partition it replicates with the
//! other primaries of higher node id (so each pair is compared once per round, and the
//! partition's lowest-id primary — its purge coordinator — compares with all of them). On demand
//! (`ADMIN REPAIR`, `kvorum admin repair`) and to repair a corrupt record, a node exchanges with
//! every other primary.
//!
//! Tasks (owner: `crate::server::run`; both stop on the node's shutdown signal):
//! - `antientropy.dispatch`: routes peers' requests to [`serve`] (at most `max_serving` at once)
//!   and answers to waiting calls. Its queue is the driver's bounded channel.
//! - `antientropy.rounds`: the scheduled rounds, on-demand repairs (bounded queue
//!   [`REPAIR_QUEUE`]) and corrupt-record repairs ([`trees::CORRUPT_QUEUE`]), one at a time.

pub mod exchange;
pub mod local;
pub mod pace;
pub mod purge;
pub mod rpc;
pub mod serve;
pub mod trees;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvorum_consistency::Message;
use kvorum_ring::{Layout, NamespaceId, NodeId, PartitionId};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tracing::Instrument;

use crate::catalog::NamespaceCatalog;
use crate::metrics::Metrics;
use crate::peer::Mesh;
use crate::storage::keys::decode_data_key;
use crate::storage::sealed::SealedStorage;
use crate::storage::{GroupCommit, Storage};
use pace::Pacer;
use purge::Candidates;
use rpc::Rpc;
pub use trees::Trees;

/// On-demand repairs waiting; beyond it `ADMIN REPAIR` answers "busy".
pub const REPAIR_QUEUE: usize = 16;

/// The most errors one round report keeps (the count goes on).
const MAX_REPORTED_ERRORS: usize = 16;

/// The `[antientropy]` settings, resolved.
#[derive(Clone, Debug)]
pub struct AeSettings {
    /// Whether scheduled rounds run (peers are answered and `ADMIN REPAIR` works regardless).
    pub enabled: bool,
    pub interval: Duration,
    pub max_keys_per_sec: u32,
    /// Keys per fetch, merge or purge message.
    pub batch_keys: usize,
    /// Records listed per `Keys` page.
    pub scan_page: u32,
    pub timeout: Duration,
    pub purge_tombstones: bool,
    pub max_purge_per_partition: usize,
    /// Peers' requests served at once.
    pub max_serving: usize,
}

/// Counters for `/metrics` and `ADMIN REPAIR`.
#[derive(Debug, Default)]
pub struct AeStats {
    pub rounds: AtomicU64,
    pub partitions_compared: AtomicU64,
    pub partitions_differing: AtomicU64,
    pub keys_pulled: AtomicU64,
    pub keys_pushed: AtomicU64,
    pub tombstones_purged: AtomicU64,
    pub corrupt_repaired: AtomicU64,
    pub errors: AtomicU64,
}

/// A reading of [`AeStats`], for `/metrics` and `INFO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AeFigures {
    pub rounds: u64,
    pub partitions_compared: u64,
    pub partitions_differing: u64,
    pub keys_pulled: u64,
    pub keys_pushed: u64,
    pub tombstones_purged: u64,
    pub corrupt_repaired: u64,
    pub errors: u64,
}

impl AeStats {
    /// The counters now.
    pub fn figures(&self) -> AeFigures {
        AeFigures {
            rounds: self.rounds.load(Relaxed),
            partitions_compared: self.partitions_compared.load(Relaxed),
            partitions_differing: self.partitions_differing.load(Relaxed),
            keys_pulled: self.keys_pulled.load(Relaxed),
            keys_pushed: self.keys_pushed.load(Relaxed),
            tombstones_purged: self.tombstones_purged.load(Relaxed),
            corrupt_repaired: self.corrupt_repaired.load(Relaxed),
            errors: self.errors.load(Relaxed),
        }
    }

    pub fn keys_pulled(&self, n: u64) {
        self.keys_pulled.fetch_add(n, Relaxed);
    }
    pub fn keys_pushed(&self, n: u64) {
        self.keys_pushed.fetch_add(n, Relaxed);
    }
    pub fn tombstones_purged(&self, n: u64) {
        self.tombstones_purged.fetch_add(n, Relaxed);
    }
    fn add(&self, report: &RoundReport) {
        self.rounds.fetch_add(1, Relaxed);
        self.partitions_compared
            .fetch_add(report.partitions_compared, Relaxed);
        self.partitions_differing
            .fetch_add(report.partitions_differing, Relaxed);
        self.errors.fetch_add(report.errors_total, Relaxed);
    }
}

/// What one round did (the `ADMIN REPAIR` answer).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoundReport {
    pub partitions_compared: u64,
    pub partitions_differing: u64,
    /// (partition, peer) pairs found or brought in sync.
    pub partitions_in_sync: u64,
    pub keys_pulled: u64,
    pub keys_pushed: u64,
    pub tombstones_purged: u64,
    /// Partitions whose purge waited because a node may hold hints of them.
    pub purges_deferred: u64,
    /// Peers skipped because the failure detector says they are down.
    pub peers_down: Vec<u64>,
    pub errors_total: u64,
    pub errors: Vec<String>,
    pub duration_ms: u64,
}

impl RoundReport {
    fn error(&mut self, e: String) {
        self.errors_total += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(e);
        }
    }
}

/// Which partitions a round covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub ns: Option<NamespaceId>,
    pub partition: Option<PartitionId>,
}

/// An on-demand repair and where its report goes.
pub struct RepairRequest {
    pub scope: Scope,
    pub done: oneshot::Sender<RoundReport>,
}

/// What the rest of the node holds of anti-entropy.
#[derive(Clone)]
pub struct AntiEntropy {
    pub trees: Arc<Trees>,
    pub stats: Arc<AeStats>,
    sealed: Arc<SealedStorage>,
    repairs: mpsc::Sender<RepairRequest>,
}

impl AntiEntropy {
    /// Corrupt records met since start (every read that met one counts).
    pub fn corrupt_records(&self) -> u64 {
        self.sealed.corrupt_count()
    }

    /// Corrupts the stored record under `stored_key` (fault-injection tests only; see
    /// `DEBUG DAMAGE-RECORD`). Whether there was a record.
    #[cfg(feature = "fault-injection")]
    pub fn damage_record(&self, stored_key: &[u8]) -> Result<bool, crate::storage::StorageError> {
        self.sealed.damage_record(stored_key)
    }

    /// Queues an on-demand repair; `None` if the queue is full or the task is gone.
    pub fn repair(&self, scope: Scope) -> Option<oneshot::Receiver<RoundReport>> {
        let (done, rx) = oneshot::channel();
        self.repairs.try_send(RepairRequest { scope, done }).ok()?;
        Some(rx)
    }
}

/// Everything an exchange needs.
pub struct Context {
    pub node: NodeId,
    pub layout: Layout,
    pub catalog: Arc<NamespaceCatalog>,
    /// The node's storage (sealed): every change goes through it, so the trees follow.
    pub storage: Arc<dyn Storage>,
    pub sealed: Arc<SealedStorage>,
    pub trees: Arc<Trees>,
    pub commit: GroupCommit,
    pub metrics: Arc<Metrics>,
    pub max_object_bytes: usize,
    pub databases: u32,
    pub settings: AeSettings,
    pub stats: Arc<AeStats>,
    pub rpc: Rpc,
    pub serving: Arc<Semaphore>,
}

/// The parts [`start`] needs.
pub struct Parts {
    pub node: NodeId,
    pub layout: Layout,
    pub catalog: Arc<NamespaceCatalog>,
    pub sealed: Arc<SealedStorage>,
    pub trees: Arc<Trees>,
    pub corrupt: mpsc::Receiver<Vec<u8>>,
    pub commit: GroupCommit,
    pub metrics: Arc<Metrics>,
    pub max_object_bytes: usize,
    pub databases: u32,
    pub settings: AeSettings,
    pub mesh: Mesh<Message>,
    /// Anti-entropy messages from peers, routed by the replication driver.
    pub incoming: mpsc::Receiver<(u64, Message)>,
    pub shutdown: watch::Receiver<bool>,
}

/// Starts the two tasks; returns the handle and their join handles.
pub fn start(parts: Parts) -> (AntiEntropy, Vec<tokio::task::JoinHandle<()>>) {
    let stats = Arc::new(AeStats::default());
    let (repairs_tx, repairs) = mpsc::channel(REPAIR_QUEUE);
    let ctx = Arc::new(Context {
        node: parts.node,
        layout: parts.layout,
        catalog: parts.catalog,
        storage: parts.sealed.clone(),
        sealed: parts.sealed,
        trees: parts.trees.clone(),
        commit: parts.commit,
        metrics: parts.metrics,
        max_object_bytes: parts.max_object_bytes,
        databases: parts.databases,
        serving: Arc::new(Semaphore::new(parts.settings.max_serving.max(1))),
        settings: parts.settings,
        stats: stats.clone(),
        rpc: Rpc::new(parts.mesh),
    });
    let dispatch = tokio::spawn(
        dispatch(ctx.clone(), parts.incoming, parts.shutdown.clone())
            .instrument(tracing::info_span!("task", name = "antientropy.dispatch")),
    );
    let sealed = ctx.sealed.clone();
    let rounds = tokio::spawn(
        rounds(ctx, repairs, parts.corrupt, parts.shutdown)
            .instrument(tracing::info_span!("task", name = "antientropy.rounds")),
    );
    let handle = AntiEntropy {
        trees: parts.trees,
        stats,
        sealed,
        repairs: repairs_tx,
    };
    (handle, vec![dispatch, rounds])
}

/// The `antientropy.dispatch` task.
async fn dispatch(
    ctx: Arc<Context>,
    mut incoming: mpsc::Receiver<(u64, Message)>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            message = incoming.recv() => match message {
                Some((from, Message::Ae { op, request })) => {
                    tokio::spawn(serve::serve(ctx.clone(), from, op, request));
                }
                Some((_, Message::AeAnswered { op, result })) => ctx.rpc.answered(op, result),
                Some(_) => {}
                None => return,
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// The `antientropy.rounds` task.
async fn rounds(
    ctx: Arc<Context>,
    mut repairs: mpsc::Receiver<RepairRequest>,
    mut corrupt: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut pacer = Pacer::new(ctx.settings.max_keys_per_sec);
    let mut candidates = Candidates::new();
    let mut tick = tokio::time::interval(ctx.settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: give peers time to connect first
    loop {
        // Each piece of work is dropped half-way if the node shuts down: nothing it leaves
        // behind is inconsistent (every step is a complete merge or purge of some keys).
        let work = tokio::select! {
            _ = tick.tick(), if ctx.settings.enabled => Work::Scheduled,
            Some(request) = repairs.recv() => Work::Requested(request),
            Some(key) = corrupt.recv() => Work::Corrupt(key),
            _ = shutdown.changed() => return,
        };
        let run = async {
            match work {
                Work::Scheduled => {
                    let report =
                        round(&ctx, &mut pacer, &mut candidates, Scope::default(), false).await;
                    log_round("scheduled", &report);
                }
                Work::Requested(request) => {
                    let report =
                        round(&ctx, &mut pacer, &mut candidates, request.scope, true).await;
                    log_round("requested", &report);
                    let _ = request.done.send(report);
                }
                Work::Corrupt(key) => {
                    repair_corrupt(&ctx, &mut pacer, &mut candidates, key, &mut corrupt).await
                }
            }
        };
        tokio::select! {
            _ = run => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// What the rounds task does next.
enum Work {
    Scheduled,
    Requested(RepairRequest),
    Corrupt(Vec<u8>),
}

fn log_round(kind: &str, r: &RoundReport) {
    if r.partitions_differing > 0 || r.tombstones_purged > 0 || r.errors_total > 0 {
        tracing::info!(
            kind,
            compared = r.partitions_compared,
            differing = r.partitions_differing,
            pulled = r.keys_pulled,
            pushed = r.keys_pushed,
            purged = r.tombstones_purged,
            errors = r.errors_total,
            ms = r.duration_ms,
            "anti-entropy round"
        );
    }
}

/// Quarantines every queued corrupt record and exchanges their partitions with every other
/// replica, which brings the keys back from them.
async fn repair_corrupt(
    ctx: &Arc<Context>,
    pacer: &mut Pacer,
    candidates: &mut Candidates,
    first: Vec<u8>,
    queue: &mut mpsc::Receiver<Vec<u8>>,
) {
    let mut keys = vec![first];
    while let Ok(key) = queue.try_recv() {
        keys.push(key);
    }
    let mut scopes = BTreeSet::new();
    for key in keys {
        let Ok((ns, partition, _)) = decode_data_key(&key) else {
            continue;
        };
        let sealed = ctx.sealed.clone();
        let quarantined = tokio::task::spawn_blocking(move || sealed.quarantine(&key)).await;
        match quarantined {
            Ok(Ok(true)) => {
                ctx.stats.corrupt_repaired.fetch_add(1, Relaxed);
                scopes.insert((ns, partition));
            }
            Ok(Ok(false)) => {} // already replaced
            Ok(Err(e)) => tracing::warn!(error = %e, "corrupt record not quarantined"),
            Err(e) => tracing::warn!(error = %e, "quarantine task failed"),
        }
    }
    for (ns, partition) in scopes {
        let scope = Scope {
            ns: Some(NamespaceId(ns)),
            partition: Some(PartitionId(partition)),
        };
        let report = round(ctx, pacer, candidates, scope, true).await;
        log_round("corrupt record repair", &report);
    }
}

/// One round over `scope`: exchanges with the other primaries (all of them if `all_peers`, an
/// on-demand round; otherwise those of higher id, a scheduled round), then, in a scheduled
/// round, purges tombstones where this node coordinates.
async fn round(
    ctx: &Arc<Context>,
    pacer: &mut Pacer,
    candidates: &mut Candidates,
    scope: Scope,
    all_peers: bool,
) -> RoundReport {
    let started = Instant::now();
    let mut report = RoundReport::default();
    let mut down = BTreeSet::new();
    for ns in namespaces(ctx, scope.ns) {
        let Ok(def) = ctx.catalog.def_of(ns) else {
            continue;
        };
        let n = def.policy.n;
        let mut by_peer: BTreeMap<NodeId, Vec<PartitionId>> = BTreeMap::new();
        let mut coordinated: BTreeMap<PartitionId, Vec<NodeId>> = BTreeMap::new();
        let partitions: Vec<PartitionId> = match scope.partition {
            Some(p) => vec![p],
            None => (0..ctx.layout.partition_count()).map(PartitionId).collect(),
        };
        for p in partitions {
            let Ok(list) = ctx.layout.preference_list(p, n) else {
                continue;
            };
            if !list.is_primary(ctx.node) {
                continue;
            }
            for &q in list.primaries {
                if q != ctx.node && (all_peers || q > ctx.node) {
                    by_peer.entry(q).or_default().push(p);
                }
            }
            if list.primaries.iter().min() == Some(&ctx.node) {
                coordinated.insert(p, list.primaries.to_vec());
            }
        }
        let mut in_sync: HashMap<PartitionId, usize> = HashMap::new();
        for (peer, parts) in by_peer {
            if !ctx.rpc.is_up(peer) {
                down.insert(peer.0);
                continue;
            }
            match exchange::with_peer(ctx, pacer, peer, ns, &parts, &mut report).await {
                Ok(synced) => {
                    report.partitions_in_sync += synced.len() as u64;
                    for p in synced {
                        *in_sync.entry(p).or_default() += 1;
                    }
                }
                Err(e) => report.error(format!("exchange with node {}: {e}", peer.0)),
            }
        }
        // Only scheduled rounds purge: their spacing is what gives writes in flight time to
        // land (condition 3 in `purge`); on-demand rounds may follow each other closely.
        if all_peers || !ctx.settings.purge_tombstones {
            continue;
        }
        for (p, primaries) in coordinated {
            let others = primaries.len() - 1;
            if in_sync.get(&p).copied().unwrap_or(0) == others {
                purge::partition(ctx, pacer, ns, p, &primaries, candidates, &mut report).await;
            }
        }
    }
    report.peers_down = down.into_iter().collect();
    report.duration_ms = started.elapsed().as_millis() as u64;
    ctx.stats.add(&report);
    report
}

/// The namespaces a round covers: the one asked for, or every namespace that exists or that
/// this node holds data of.
fn namespaces(ctx: &Context, only: Option<NamespaceId>) -> BTreeSet<NamespaceId> {
    if let Some(ns) = only {
        return BTreeSet::from([ns]);
    }
    let mut all = ctx.trees.namespaces();
    all.extend((0..ctx.databases).map(NamespaceId));
    all.extend(ctx.catalog.views().into_iter().map(|v| v.def.id));
    all
}
