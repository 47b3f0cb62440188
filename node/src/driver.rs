//! The replication driver: the one task that owns this node's [`Core`] and performs its I/O.
//!
//! Inputs arrive on bounded channels — client requests from RESP connections (read only while
//! fewer than `max_in_flight` operations are coordinated here), storage completions, and the peer
//! mesh's receiver; after each input the driver drains the core's
//! outputs in the documented order: messages go to the mesh (a message that cannot be sent is
//! handed back, so the core can fail fast), reads run here at once unless
//! [`crate::inline_reads`] says otherwise, other storage work goes to the storage workers
//! ([`crate::storage_workers`], a few threads that run it in batches and report back on the
//! completion channel, writes once durable), replies complete the waiting request. Inputs already
//! queued when the driver wakes are handled in the same turn (each drained in turn), so their
//! storage work reaches the workers together.
//!
//! Owner: `crate::server::run`. Shutdown: when every [`DriverHandle`] is dropped and the
//! shutdown signal is raised, the loop ends and the storage workers are stopped and joined;
//! requests still waiting get dropped senders, which RESP connections report as errors.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvorum_consistency::{
    record, Catalog, Core, Key, KeyPage, Message, Mutation, Now, Object, OpError, Outcome, Reply,
    Request, RequestId, StorageOp, StorageRequest, StorageResult, StorageToken,
};
use kvorum_ring::{NamespaceId, NodeId, PartitionId};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tracing::Instrument;

use crate::inline_reads::{thread_disk_reads, InlineReads};
use crate::keyspace;
use crate::metrics::Metrics;
use crate::peer::Mesh;
use crate::storage::hints::HintStore;
use crate::storage::{keys, GroupCommit, Storage, StorageError};
use crate::storage_workers::{Completion, Execute, Job, StorageWorkers};

/// A client request and where its reply goes.
struct Submitted {
    work: Work,
    reply: oneshot::Sender<Reply>,
}

/// What can be submitted to the driver.
pub enum Work {
    /// A client request.
    Request(Request),
    /// Hand a hint's state to its target; `Written` once acknowledged.
    Handoff {
        target: NodeId,
        key: Key,
        object: Object,
        timeout_ms: u64,
    },
    /// Read this node's own copy of a key, without coordination (`REPLICA GET`).
    LocalRead(Key),
    /// A page of live keys, in hash order from `from_hash`, from the reachable primaries of
    /// the partition that hash falls in (see [`crate::keyspace`]).
    List {
        ns: NamespaceId,
        from_hash: u64,
        limit: u32,
        answer: oneshot::Sender<Result<KeyPage, String>>,
    },
}

/// A listing waiting for its replicas' pages.
struct Listing {
    answer: oneshot::Sender<Result<KeyPage, String>>,
    /// Replicas that have not answered yet.
    pending: usize,
    pages: Vec<KeyPage>,
    error: Option<String>,
    limit: usize,
    /// Where the next partition starts, if there is one: a page that ends its partition
    /// continues there.
    next_partition: Option<u64>,
    started: Instant,
}

/// A listing whose replicas never all answered is forgotten after this long (its client has
/// long timed out by then).
const LISTING_MAX_AGE: Duration = Duration::from_secs(120);

/// The most threads that run storage operations (fewer if `limits.max_storage_tasks` says
/// so). Each takes every queued operation at once (see [`crate::storage_workers`]), so a few
/// suffice to keep a disk busy, and one waiting for an fsync does not stall the others.
pub const MAX_STORAGE_THREADS: usize = 4;

/// Storage threads for this machine: one per core, at least two (so an fsync never stalls
/// every read) and at most [`MAX_STORAGE_THREADS`]. More threads than cores only add context
/// switches, which a profile showed to cost more than the storage work itself.
fn storage_threads() -> usize {
    crate::config::available_cores().clamp(2, MAX_STORAGE_THREADS)
}

/// A cheap, clonable way to submit requests to the driver.
#[derive(Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Submitted>,
    metrics: Arc<Metrics>,
}

/// The driver went away (the node is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the node is shutting down")]
pub struct DriverGone;

impl DriverHandle {
    /// Queues a request *now* if the queue has room (so pipelined requests run concurrently);
    /// the returned future waits for room otherwise (back-pressure on clients rather than
    /// unbounded memory), then yields the receiver of the reply.
    pub fn try_submit(&self, work: Work) -> Queued {
        let (reply, rx) = oneshot::channel();
        let pending = match self.tx.try_send(Submitted { work, reply }) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(input)) => Some((self.tx.clone(), input)),
            Err(mpsc::error::TrySendError::Closed(_)) => return futures_ready(Err(DriverGone)),
        };
        Box::pin(async move {
            if let Some((tx, input)) = pending {
                tx.send(input).await.map_err(|_| DriverGone)?;
            }
            Ok(rx)
        })
    }
}

impl DriverHandle {
    /// The node's metrics registry (the driver records replication figures in it; `INFO` reads
    /// it through this handle).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A page of the live keys of `ns` in hash order from `from_hash` on, within one partition;
    /// its `next` is where to continue (`None`: the keyspace is done). See [`crate::keyspace`].
    pub async fn list(
        &self,
        ns: NamespaceId,
        from_hash: u64,
        limit: u32,
    ) -> Result<KeyPage, String> {
        let (answer, rx) = oneshot::channel();
        let work = Work::List {
            ns,
            from_hash,
            limit,
            answer,
        };
        self.try_submit(work).await.map_err(|e| e.to_string())?;
        rx.await
            .map_err(|_| "the node is shutting down".to_owned())?
    }
}

type Queued = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oneshot::Receiver<Reply>, DriverGone>> + Send>,
>;

fn futures_ready(value: Result<oneshot::Receiver<Reply>, DriverGone>) -> Queued {
    Box::pin(std::future::ready(value))
}

pub struct DriverParts {
    pub core: Core,
    pub mesh: Mesh<Message>,
    pub incoming: mpsc::Receiver<(u64, Message)>,
    pub storage: Arc<dyn Storage>,
    pub hints: Arc<HintStore>,
    pub commit: GroupCommit,
    pub queue_len: usize,
    /// Requests this node coordinates at once; more wait in the queue.
    pub max_in_flight: usize,
    /// Storage operations running at once: caps the storage threads (see [`MAX_STORAGE_THREADS`])
    /// and the listing pages read at once.
    pub max_storage_tasks: usize,
    /// Reads the driver runs itself per turn while it falls behind; all of them while it keeps
    /// up, none if 0 (see [`crate::inline_reads`]).
    pub inline_reads: usize,
    /// The largest encoded object a client write may leave (it must fit in a peer frame to
    /// replicate); a write that would grow a key past it is refused.
    pub max_object_bytes: usize,
    /// Where replication figures are recorded.
    pub metrics: Arc<Metrics>,
    /// Where namespace catalogs received from peers go (`crate::catalog`'s sync task); one
    /// that does not fit is dropped, the peer sends it again.
    pub catalogs: mpsc::Sender<(u64, Catalog)>,
    /// Where anti-entropy messages from peers go (`crate::antientropy`'s dispatcher); one that
    /// does not fit is dropped, and its sender's call times out.
    pub antientropy: mpsc::Sender<(u64, Message)>,
    pub shutdown: watch::Receiver<bool>,
}

/// Starts the driver task and its storage threads; returns its handle and the task. Fails only
/// if a thread cannot be started.
pub fn spawn(parts: DriverParts) -> std::io::Result<(DriverHandle, tokio::task::JoinHandle<()>)> {
    let (tx, requests) = mpsc::channel(parts.queue_len);
    let handle = DriverHandle {
        tx,
        metrics: parts.metrics.clone(),
    };
    // Each storage worker sends at most two batches per batch it takes (what needed no sync,
    // then its writes), so this bound is never the reason a worker waits for long.
    let (completions_tx, completions) = mpsc::channel(2 * MAX_STORAGE_THREADS);
    let execute: Arc<Execute> = {
        let (storage, hints) = (parts.storage.clone(), parts.hints.clone());
        let (limit, metrics) = (parts.max_object_bytes, parts.metrics.clone());
        Arc::new(move |request: &StorageRequest, now: Now| {
            execute(storage.as_ref(), &hints, request, now, limit, &metrics)
        })
    };
    let threads = parts.max_storage_tasks.clamp(1, storage_threads());
    let workers = StorageWorkers::start(
        threads,
        execute.clone(),
        parts.commit.clone(),
        completions_tx,
    )?;
    // Local listing pages; each listing sends at most one, and listings are few.
    let (listed_tx, listed) = mpsc::channel(LISTED_QUEUE);
    let driver = Driver {
        core: parts.core,
        mesh: parts.mesh,
        storage: parts.storage,
        hints: parts.hints,
        storage_slots: Arc::new(Semaphore::new(parts.max_storage_tasks)),
        workers,
        execute,
        inline_reads: InlineReads::new(parts.inline_reads),
        storage_jobs: Vec::new(),
        waiting: HashMap::new(),
        listings: HashMap::new(),
        next_request: 0,
        started: Instant::now(),
        max_in_flight: parts.max_in_flight,
        max_object_bytes: parts.max_object_bytes,
        metrics: parts.metrics,
        catalogs: parts.catalogs,
        antientropy: parts.antientropy,
        listed_tx,
    };
    let task = tokio::spawn(
        driver
            .run(
                requests,
                completions,
                listed,
                parts.incoming,
                parts.shutdown,
            )
            .instrument(tracing::info_span!("task", name = "replication-driver")),
    );
    Ok((handle, task))
}

struct Driver {
    core: Core,
    mesh: Mesh<Message>,
    storage: Arc<dyn Storage>,
    hints: Arc<HintStore>,
    /// Bounds the listing pages read at once (storage work outside the workers).
    storage_slots: Arc<Semaphore>,
    workers: StorageWorkers,
    /// Runs a storage operation; the driver calls it for the reads it runs itself.
    execute: Arc<Execute>,
    /// Which reads the driver runs itself instead of handing them to the workers.
    inline_reads: InlineReads,
    /// Storage operations the core asked for during the current event, handed to the workers
    /// together at its end.
    storage_jobs: Vec<Job>,
    waiting: HashMap<RequestId, oneshot::Sender<Reply>>,
    listings: HashMap<u64, Listing>,
    next_request: RequestId,
    started: Instant,
    max_in_flight: usize,
    max_object_bytes: usize,
    metrics: Arc<Metrics>,
    catalogs: mpsc::Sender<(u64, Catalog)>,
    antientropy: mpsc::Sender<(u64, Message)>,
    /// For local listing pages to report back on.
    listed_tx: mpsc::Sender<(u64, Result<KeyPage, String>)>,
}

/// The most partitions one listing request covers.
const MAX_LISTING_PARTITIONS: u32 = 4096;

/// Local listing pages waiting for the loop.
const LISTED_QUEUE: usize = 64;

/// The most keys one page of a listing holds (peer frames have a size limit).
const MAX_LISTING_PAGE: usize = 10_000;

/// Most inputs already waiting in the driver's channels that it handles after the one that woke
/// it, before it hands their storage work over and waits again (so timers and shutdown are
/// still looked at between bursts).
const MAX_QUEUED_INPUTS_PER_WAKE: usize = 64;

/// How often peer reachability is re-read from the mesh.
const REACHABILITY_REFRESH: Duration = Duration::from_millis(50);

impl Driver {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Submitted>,
        mut completions: mpsc::Receiver<Vec<Completion>>,
        mut listed: mpsc::Receiver<(u64, Result<KeyPage, String>)>,
        mut incoming: mpsc::Receiver<(u64, Message)>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut refresh = tokio::time::interval(REACHABILITY_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Test builds: the core's fault switches follow `DEBUG FAULT` from the next event.
            #[cfg(feature = "fault-injection")]
            self.core.set_faults(crate::faults::FAULTS.core());
            let deadline = self
                .core
                .poll_timeout()
                .map(|ms| self.started + Duration::from_millis(ms));
            tokio::select! {
                submitted = requests.recv(), if self.core.in_flight() < self.max_in_flight => match submitted {
                    Some(submitted) => self.handle_request(submitted),
                    None => break,
                },
                Some(batch) = completions.recv() => self.on_completions(batch),
                Some((id, page)) = listed.recv() => self.on_listed(id, page),
                Some((from, message)) = incoming.recv() => self.on_message(from, message),
                _ = sleep_until(deadline) => {
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
                _ = refresh.tick() => self.refresh_reachability(),
                _ = shutdown.changed() => break,
            }
            self.drain();
            // Inputs that are already queued are handled now, each drained in turn, and the
            // storage work they all produced reaches the workers together: one wake-up of the
            // driver and of a worker for the lot, instead of one per input.
            // Whether this turn handled everything that was waiting (else the driver is behind).
            let mut kept_up = false;
            for _ in 0..MAX_QUEUED_INPUTS_PER_WAKE {
                if let Ok(batch) = completions.try_recv() {
                    self.on_completions(batch);
                } else if let Ok((from, message)) = incoming.try_recv() {
                    self.on_message(from, message);
                } else if self.core.in_flight() < self.max_in_flight {
                    match requests.try_recv() {
                        Ok(submitted) => self.handle_request(submitted),
                        Err(_) => {
                            kept_up = true;
                            break;
                        }
                    }
                } else {
                    kept_up = true;
                    break;
                }
                self.drain();
            }
            self.submit_storage();
            self.inline_reads
                .end_turn(Instant::now(), kept_up, thread_disk_reads);
            let stats = self.core.stats();
            self.metrics.read_repairs.store(stats.read_repairs, Relaxed);
            self.metrics.write_backs.store(stats.write_backs, Relaxed);
            let inline = &self.inline_reads;
            self.metrics.inline_reads.store(inline.ran, Relaxed);
            self.metrics
                .inline_read_pauses
                .store(inline.pauses, Relaxed);
        }
        // The workers finish what they run now, and no thread touches the store afterwards.
        drop(completions);
        let mut workers = self.workers;
        let _ = tokio::task::spawn_blocking(move || workers.stop_and_join()).await;
        tracing::debug!("replication driver stopped");
    }

    /// Storage operations finished by a worker.
    fn on_completions(&mut self, batch: Vec<Completion>) {
        let now = self.now();
        for done in batch {
            self.core.handle_storage(now, done.token, done.result);
        }
    }

    /// A message from a peer.
    fn on_message(&mut self, from: u64, message: Message) {
        match message {
            Message::List {
                op,
                ns,
                partition,
                end,
                from_hash,
                limit,
            } => self.serve_listing(from, op, ns, (partition, end), from_hash, limit),
            Message::Listed { op, result } => self.on_listed(op, result),
            Message::Catalog { catalog } => {
                if self.catalogs.try_send((from, catalog)).is_err() {
                    tracing::debug!(from, "namespace catalog dropped: queue full");
                }
            }
            message @ (Message::Ae { .. } | Message::AeAnswered { .. }) => {
                if self.antientropy.try_send((from, message)).is_err() {
                    tracing::debug!(from, "anti-entropy message dropped: queue full");
                }
            }
            message => {
                self.count_answer(&message);
                let now = self.now();
                self.core.handle_message(now, NodeId(from), message);
            }
        }
    }

    /// Hands the storage operations queued by [`Driver::drain`] to the workers.
    fn submit_storage(&mut self) {
        if !self.storage_jobs.is_empty() {
            self.workers.submit(self.storage_jobs.drain(..));
        }
    }

    /// Counts another replica's answer to a read or a write.
    fn count_answer(&self, message: &Message) {
        let m = &self.metrics;
        let counter = match message {
            Message::Fetched { result: Ok(_), .. } => &m.replica_fetched_ok,
            Message::Fetched { result: Err(_), .. } => &m.replica_fetched_error,
            Message::Stored { result: Ok(()), .. } => &m.replica_stored_ok,
            Message::Stored { result: Err(_), .. } => &m.replica_stored_error,
            _ => return,
        };
        counter.fetch_add(1, Relaxed);
    }

    fn now(&self) -> Now {
        Now {
            mono_ms: self.started.elapsed().as_millis() as u64,
            wall_ms: crate::clock::wall_ms(),
        }
    }

    fn refresh_reachability(&mut self) {
        let peers: Vec<NodeId> = self
            .core
            .layout()
            .nodes()
            .iter()
            .copied()
            .filter(|&n| n != self.core.node())
            .collect();
        for peer in peers {
            self.core.set_reachable(peer, self.mesh.is_up(peer.0));
        }
    }

    fn handle_request(&mut self, submitted: Submitted) {
        let now = self.now();
        self.next_request += 1;
        let id = self.next_request;
        match submitted.work {
            Work::Request(request) => {
                self.waiting.insert(id, submitted.reply);
                self.core.handle_request(now, id, request);
            }
            Work::Handoff {
                target,
                key,
                object,
                timeout_ms,
            } => {
                self.waiting.insert(id, submitted.reply);
                self.core
                    .handle_handoff(now, id, target, key, object, timeout_ms);
            }
            Work::LocalRead(key) => {
                let partition = self.core.layout().partition_for_key(key.ns, &key.key);
                let request = StorageRequest {
                    token: StorageToken(0),
                    key,
                    partition,
                    op: StorageOp::Read,
                };
                // Off this loop, like every storage operation (rare: the blocking pool will do).
                let (storage, hints) = (self.storage.clone(), self.hints.clone());
                let limit = self.max_object_bytes;
                let metrics = self.metrics.clone();
                tokio::task::spawn_blocking(move || {
                    let reply =
                        match execute(storage.as_ref(), &hints, &request, now, limit, &metrics) {
                            StorageResult::Read(object) => Reply::Value(object),
                            other => Reply::Failed {
                                reason: format!("local read failed: {other:?}"),
                            },
                        };
                    let _ = submitted.reply.send(reply);
                });
            }
            Work::List {
                ns,
                from_hash,
                limit,
                answer,
            } => self.start_listing(id, ns, from_hash, limit, answer),
        }
    }

    /// Asks every reachable primary of the partition (this node's storage directly) for a page.
    fn start_listing(
        &mut self,
        id: u64,
        ns: NamespaceId,
        from_hash: u64,
        limit: u32,
        answer: oneshot::Sender<Result<KeyPage, String>>,
    ) {
        let started = Instant::now();
        self.listings
            .retain(|_, l| started.duration_since(l.started) < LISTING_MAX_AGE);
        let me = self.core.node();
        let n = self.core.replication();
        let layout = self.core.layout();
        let bits = layout.partition_bits();
        let partition = kvorum_ring::partition_of(from_hash, bits);
        let primaries_of = |p: u32| -> Result<Vec<NodeId>, String> {
            let list = layout
                .preference_list(PartitionId(p), n)
                .map_err(|e| e.to_string())?;
            let mut set = list.primaries.to_vec();
            set.sort();
            Ok(set)
        };
        let primaries = match primaries_of(partition.0) {
            Ok(primaries) => primaries,
            Err(e) => {
                let _ = answer.send(Err(e));
                return;
            }
        };
        // Later partitions with the same primaries are listed by the same request (in a small
        // cluster, often all of them): one round trip instead of one per partition.
        let mut end = partition.0 + 1;
        while end < layout.partition_count()
            && end - partition.0 < MAX_LISTING_PARTITIONS
            && primaries_of(end).as_ref() == Ok(&primaries)
        {
            end += 1;
        }
        let next_partition =
            (end < layout.partition_count()).then(|| keyspace::partition_start(end, bits));
        let end = PartitionId(end);
        let targets: Vec<NodeId> = primaries
            .into_iter()
            .filter(|&p| p == me || self.mesh.is_up(p.0))
            .collect();
        if targets.is_empty() {
            let _ = answer.send(Err(format!(
                "UNAVAILABLE no replica of partition {} is reachable",
                partition.0
            )));
            return;
        }
        self.listings.insert(
            id,
            Listing {
                answer,
                pending: targets.len(),
                pages: Vec::new(),
                error: None,
                limit: (limit as usize).min(MAX_LISTING_PAGE),
                next_partition,
                started,
            },
        );
        for target in targets {
            if target == me {
                let tx = self.listed_tx.clone();
                self.list_page(ns, (partition, end), from_hash, limit, move |page| {
                    let _ = tx.blocking_send((id, page));
                });
            } else {
                let message = Message::List {
                    op: id,
                    ns,
                    partition,
                    end,
                    from_hash,
                    limit,
                };
                if let Err(e) = self.mesh.send(target.0, &message) {
                    self.on_listed(id, Err(format!("node {target} not reachable: {e}")));
                }
            }
        }
    }

    /// A replica's page (or failure) for listing `id`; answers once every replica did.
    fn on_listed(&mut self, id: u64, result: Result<KeyPage, String>) {
        let Some(listing) = self.listings.get_mut(&id) else {
            return;
        };
        match result {
            Ok(page) => listing.pages.push(page),
            Err(e) => listing.error = Some(e),
        }
        listing.pending = listing.pending.saturating_sub(1);
        if listing.pending > 0 {
            return;
        }
        let Some(listing) = self.listings.remove(&id) else {
            return;
        };
        let result = if listing.pages.is_empty() {
            Err(listing
                .error
                .unwrap_or_else(|| "no replica answered".into()))
        } else {
            let mut page = keyspace::union(listing.pages, listing.limit);
            if page.next.is_none() {
                page.next = listing.next_partition;
            }
            Ok(page)
        };
        let _ = listing.answer.send(result);
    }

    /// A peer asked for a page of a partition this node holds.
    fn serve_listing(
        &self,
        from: u64,
        op: u64,
        ns: NamespaceId,
        (partition, end): (PartitionId, PartitionId),
        from_hash: u64,
        limit: u32,
    ) {
        let mesh = self.mesh.clone();
        // A peer's request is bounded like our own: at most so many partitions per page.
        let end = PartitionId(
            end.0
                .min(partition.0.saturating_add(MAX_LISTING_PARTITIONS)),
        );
        self.list_page(ns, (partition, end), from_hash, limit, move |result| {
            if let Err(e) = mesh.send(from, &Message::Listed { op, result }) {
                tracing::debug!(to = from, error = %e, "listing answer not sent");
            }
        });
    }

    /// Reads one listing page on the blocking pool and hands it to `done` there. It holds a
    /// storage slot meanwhile, like every storage task, so neither our own walks nor a peer's
    /// requests can queue unbounded work on the pool.
    fn list_page(
        &self,
        ns: NamespaceId,
        range: (PartitionId, PartitionId),
        from_hash: u64,
        limit: u32,
        done: impl FnOnce(Result<KeyPage, String>) + Send + 'static,
    ) {
        let storage = self.storage.clone();
        let slots = self.storage_slots.clone();
        let now_ms = self.now().wall_ms;
        let bits = self.core.layout().partition_bits();
        let limit = (limit as usize).min(MAX_LISTING_PAGE);
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return; // shutting down
            };
            let _ = tokio::task::spawn_blocking(move || {
                done(keyspace::list_local(
                    storage.as_ref(),
                    ns,
                    range,
                    bits,
                    from_hash,
                    limit,
                    now_ms,
                ))
            })
            .await;
        });
    }

    /// Drains the core's outputs in the order its docs prescribe.
    fn drain(&mut self) {
        loop {
            if let Some(transmit) = self.core.poll_transmit() {
                if let Err(e) = self.mesh.send(transmit.to.0, &transmit.message) {
                    tracing::debug!(to = %transmit.to, error = %e, "peer message not sent");
                    let now = self.now();
                    self.core.handle_send_failed(now, transmit);
                }
                continue;
            }
            if let Some(request) = self.core.poll_storage() {
                let now = self.now();
                if matches!(request.op, StorageOp::Read)
                    && self.inline_reads.admit(Instant::now(), thread_disk_reads)
                {
                    // Run here: cheaper than two hand-offs (see `crate::inline_reads`).
                    let result = (self.execute)(&request, now);
                    self.core.handle_storage(now, request.token, result);
                    continue;
                }
                // Queued here, handed to the workers once the current burst of inputs is
                // handled (`submit_storage`).
                self.storage_jobs.push(Job { request, now });
                continue;
            }
            if let Some((id, reply)) = self.core.poll_reply() {
                self.metrics.record_reply(&reply);
                if let Some(waiter) = self.waiting.remove(&id) {
                    let _ = waiter.send(reply); // the client may have gone away
                }
                continue;
            }
            break;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Performs one storage request against the engine. Pure apart from the engine calls, so it can
/// run on the blocking pool.
fn execute(
    storage: &dyn Storage,
    hints: &HintStore,
    request: &StorageRequest,
    now: Now,
    max_object_bytes: usize,
    metrics: &Metrics,
) -> StorageResult {
    let key = keys::encode_data_key(request.key.ns.0, request.partition.0, &request.key.key);
    match &request.op {
        StorageOp::Read => match storage.get(&key) {
            Ok(None) => StorageResult::Read(None),
            Ok(Some(bytes)) => match record::decode_object(&bytes) {
                Ok(object) => StorageResult::Read(Some(object)),
                Err(e) => {
                    tracing::error!(error = %e, "corrupt record");
                    StorageResult::Failed {
                        reason: format!("corrupt record: {e}"),
                        may_have_applied: false,
                    }
                }
            },
            Err(e) => StorageResult::Failed {
                reason: e.to_string(),
                may_have_applied: false,
            },
        },
        StorageOp::Apply(mutation) => apply(storage, &key, mutation, max_object_bytes, metrics),
        StorageOp::Hint { target, object } => hint(hints, target.0, &key, object, now),
    }
}

/// Merges `object` into the hint kept for `target` (one hint per key and target).
fn hint(
    hints: &HintStore,
    target: u64,
    data_key: &[u8],
    object: &Object,
    now: Now,
) -> StorageResult {
    let result = hints.add(target, data_key, now.wall_ms, &mut |existing| {
        let merged = match existing {
            Some(bytes) => record::decode_object(bytes)
                .map_err(|e| StorageError::Corrupt {
                    what: format!("hinted object: {e}"),
                })?
                .merge(object),
            None => object.clone(),
        };
        record::encode_object(&merged).map_err(|e| StorageError::Corrupt {
            what: format!("encoding a hint: {e}"),
        })
    });
    match result {
        Ok(()) => StorageResult::Applied {
            current: object.clone(),
            changed: true,
            outcome: Outcome::Done,
        },
        Err(e) => {
            tracing::debug!(target_node = target, error = %e, "hint not stored");
            StorageResult::Failed {
                reason: e.to_string(),
                may_have_applied: false,
            }
        }
    }
}

/// Runs a mutation as one atomic read-modify-write. A client write that would leave an object
/// over `max_object_bytes` is refused (nothing changes); a merge of replicated state is never
/// refused, or replicas would disagree.
pub(crate) fn apply(
    storage: &dyn Storage,
    key: &[u8],
    mutation: &Mutation,
    max_object_bytes: usize,
    metrics: &Metrics,
) -> StorageResult {
    // The closure may run more than once (an engine retries a lost race): the last run's result
    // is the one that took effect, and so are its sibling counts (before, after).
    let mut last: Option<StorageResult> = None;
    let mut siblings = (0, 0);
    let result = storage.update(key, &mut |current| {
        let previous = match current {
            Some(bytes) => {
                Some(
                    record::decode_object(bytes).map_err(|e| StorageError::Corrupt {
                        what: format!("stored object: {e}"),
                    })?,
                )
            }
            None => None,
        };
        let applied = match mutation.apply(previous.as_ref()) {
            Ok(applied) => applied,
            Err(refused) => {
                last = Some(StorageResult::Refused(refused));
                siblings = (0, 0);
                return Ok(None);
            }
        };
        siblings = (0, 0);
        let encoded = if applied.changed {
            Some(
                record::encode_object(&applied.object).map_err(|e| StorageError::Corrupt {
                    what: format!("encoding object: {e}"),
                })?,
            )
        } else {
            None
        };
        let client_write = !matches!(mutation, Mutation::Merge(_));
        if let Some(bytes) = encoded
            .as_ref()
            .filter(|b| client_write && b.len() > max_object_bytes)
        {
            last = Some(StorageResult::Refused(OpError::Limit(format!(
                "the key's value would grow to {} bytes, over the {max_object_bytes}-byte limit \
                 of one replicated object",
                bytes.len()
            ))));
            return Ok(None);
        }
        if applied.changed {
            siblings = (
                previous.as_ref().map_or(0, |p| p.siblings().len()),
                applied.object.siblings().len(),
            );
        }
        last = Some(StorageResult::Applied {
            current: applied.object,
            changed: applied.changed,
            outcome: applied.outcome,
        });
        Ok(encoded)
    });
    match (result, last) {
        (Ok(_), Some(result)) => {
            metrics.record_siblings(siblings.0, siblings.1);
            result
        }
        (Ok(_), None) => StorageResult::Failed {
            reason: "update did not run".into(),
            may_have_applied: false,
        },
        (Err(e), _) => StorageResult::Failed {
            reason: e.to_string(),
            may_have_applied: false,
        },
    }
}
