//! The replication driver: the one task that owns this node's [`Core`] and performs its I/O.
//!
//! Inputs arrive on bounded channels — client requests from RESP connections (read only while
//! fewer than `max_in_flight` operations are coordinated here), storage completions, and the peer
//! mesh's receiver; after each input the driver drains the core's
//! outputs in the documented order: messages go to the mesh (a message that cannot be sent is
//! handed back, so the core can fail fast), storage work is run on the blocking pool (bounded by
//! a semaphore) and reports back on the input channel, replies complete the waiting request.
//!
//! Owner: [`crate::server::Node`]. Shutdown: when every [`DriverHandle`] is dropped and the
//! shutdown signal is raised, the loop ends; requests still waiting get dropped senders, which
//! RESP connections report as errors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kvorum_consistency::{
    record, Core, Key, Message, Mutation, Now, Object, Reply, Request, RequestId, StorageOp,
    StorageRequest, StorageResult, StorageToken,
};
use kvorum_ring::NodeId;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::peer::Mesh;
use crate::storage::hints::HintStore;
use crate::storage::{keys, GroupCommit, Storage, StorageError};

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
}

/// A finished storage operation.
struct Completion {
    token: StorageToken,
    result: StorageResult,
}

/// A cheap, clonable way to submit requests to the driver.
#[derive(Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Submitted>,
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
    pub max_storage_tasks: usize,
    pub shutdown: watch::Receiver<bool>,
}

/// Starts the driver task; returns its handle and the task.
pub fn spawn(parts: DriverParts) -> (DriverHandle, tokio::task::JoinHandle<()>) {
    let (tx, requests) = mpsc::channel(parts.queue_len);
    let handle = DriverHandle { tx };
    // Every storage task holds a slot while it runs and sends one completion, so this bound is
    // never the reason a task waits for long.
    let (completions_tx, completions) = mpsc::channel(parts.max_storage_tasks);
    let driver = Driver {
        core: parts.core,
        mesh: parts.mesh,
        storage: parts.storage,
        hints: parts.hints,
        commit: parts.commit,
        storage_slots: Arc::new(Semaphore::new(parts.max_storage_tasks)),
        waiting: HashMap::new(),
        next_request: 0,
        started: Instant::now(),
        max_in_flight: parts.max_in_flight,
        completions_tx,
    };
    let task = tokio::spawn(driver.run(requests, completions, parts.incoming, parts.shutdown));
    (handle, task)
}

struct Driver {
    core: Core,
    mesh: Mesh<Message>,
    storage: Arc<dyn Storage>,
    hints: Arc<HintStore>,
    commit: GroupCommit,
    storage_slots: Arc<Semaphore>,
    waiting: HashMap<RequestId, oneshot::Sender<Reply>>,
    next_request: RequestId,
    started: Instant,
    max_in_flight: usize,
    /// For storage tasks to report back on.
    completions_tx: mpsc::Sender<Completion>,
}

/// How often peer reachability is re-read from the mesh.
const REACHABILITY_REFRESH: Duration = Duration::from_millis(50);

impl Driver {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Submitted>,
        mut completions: mpsc::Receiver<Completion>,
        mut incoming: mpsc::Receiver<(u64, Message)>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let span = tracing::info_span!("task", name = "replication-driver");
        let _enter = span.enter();
        let mut refresh = tokio::time::interval(REACHABILITY_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self
                .core
                .poll_timeout()
                .map(|ms| self.started + Duration::from_millis(ms));
            tokio::select! {
                submitted = requests.recv(), if self.core.in_flight() < self.max_in_flight => match submitted {
                    Some(submitted) => self.handle_request(submitted),
                    None => break,
                },
                Some(done) = completions.recv() => {
                    let now = self.now();
                    self.core.handle_storage(now, done.token, done.result);
                }
                Some((from, message)) = incoming.recv() => {
                    let now = self.now();
                    self.core.handle_message(now, NodeId(from), message);
                }
                _ = sleep_until(deadline) => {
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
                _ = refresh.tick() => self.refresh_reachability(),
                _ = shutdown.changed() => break,
            }
            self.drain();
        }
        tracing::debug!("replication driver stopped");
    }

    fn now(&self) -> Now {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Now {
            mono_ms: self.started.elapsed().as_millis() as u64,
            wall_ms,
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
                // On the blocking pool, like every storage operation, never in this loop.
                let (storage, hints) = (self.storage.clone(), self.hints.clone());
                tokio::task::spawn_blocking(move || {
                    let reply = match execute(storage.as_ref(), &hints, &request, now) {
                        StorageResult::Read(object) => Reply::Value(object),
                        other => Reply::Failed {
                            reason: format!("local read failed: {other:?}"),
                        },
                    };
                    let _ = submitted.reply.send(reply);
                });
            }
        }
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
                self.run_storage(request);
                continue;
            }
            if let Some((id, reply)) = self.core.poll_reply() {
                if let Some(waiter) = self.waiting.remove(&id) {
                    let _ = waiter.send(reply); // the client may have gone away
                }
                continue;
            }
            break;
        }
    }

    /// Runs one storage request on the blocking pool; the result comes back as an input.
    fn run_storage(&self, request: StorageRequest) {
        let now = self.now();
        let storage = self.storage.clone();
        let hints = self.hints.clone();
        let commit = self.commit.clone();
        let slots = self.storage_slots.clone();
        let tx = self.completions_tx.clone();
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            let token = request.token;
            let is_write = matches!(request.op, StorageOp::Apply(_) | StorageOp::Hint { .. });
            let result = tokio::task::spawn_blocking(move || {
                execute(storage.as_ref(), &hints, &request, now)
            })
            .await
            .unwrap_or_else(|e| StorageResult::Failed {
                reason: format!("storage task failed: {e}"),
                may_have_applied: true,
            });
            let result = match result {
                StorageResult::Applied { .. } if is_write => match commit.durable().await {
                    Ok(()) => result,
                    Err(e) => StorageResult::Failed {
                        reason: format!("fsync failed: {e}"),
                        may_have_applied: true,
                    },
                },
                other => other,
            };
            let _ = tx.send(Completion { token, result }).await;
        });
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
        StorageOp::Apply(mutation) => apply(storage, &key, mutation),
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
            previous: None,
            current: object.clone(),
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

fn apply(storage: &dyn Storage, key: &[u8], mutation: &Mutation) -> StorageResult {
    let mut outcome: Option<(Option<Object>, Object)> = None;
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
        let next = mutation.apply(previous.as_ref());
        let encoded = record::encode_object(&next).map_err(|e| StorageError::Corrupt {
            what: format!("encoding object: {e}"),
        })?;
        outcome = Some((previous, next));
        Ok(Some(encoded))
    });
    match (result, outcome) {
        (Ok(_), Some((previous, current))) => StorageResult::Applied { previous, current },
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
