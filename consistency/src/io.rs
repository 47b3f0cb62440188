//! What the state machines hand to their driver: messages to send, storage work, replies.
//!
//! The state machines never perform I/O. They queue these actions in `Outputs`, and the driver
//! (the node's tokio loop, or the simulator) drains them with the `poll_*` methods of
//! [`crate::Core`] and reports results back with the `handle_*` methods.

use std::collections::VecDeque;

use kvorum_ring::{NodeId, PartitionId};

use crate::hlc::{self, Timestamp};
use crate::message::{Key, Message, Reply, RequestId};
use crate::object::Object;
use crate::op::{self, Applied, Op, OpError, Outcome};

/// The driver's clock readings at the moment of an event.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds (any origin): timeouts are measured on it.
    pub mono_ms: u64,
    /// Wall-clock milliseconds since the Unix epoch: only the HLC uses it.
    pub wall_ms: u64,
}

/// A message for a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: NodeId,
    pub message: Message,
}

/// Names one storage request, so its completion can be matched to it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageToken(pub u64);

/// Storage work for the driver. The driver must perform `Apply` as one atomic read-modify-write
/// of the key (calling [`Mutation::apply`] on the current state) and report completion only once
/// the result is as durable as the node's fsync setting promises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRequest {
    pub token: StorageToken,
    pub key: Key,
    pub partition: PartitionId,
    pub op: StorageOp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageOp {
    Read,
    Apply(Mutation),
    /// Merge `object` into the hint this node keeps for `target` (hinted handoff). Completes
    /// with `Applied { previous: None, current: object }`.
    Hint {
        target: NodeId,
        object: Object,
    },
}

/// A change to one key's stored object, computed inside the storage transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// A client write coordinated by `node` at HLC time `ts`, in a namespace whose TTL is
    /// `default_ttl_ms` (see [`op::default_ttl`]).
    Apply {
        node: NodeId,
        ts: Timestamp,
        op: Op,
        default_ttl_ms: Option<u64>,
    },
    /// Merge a peer's state.
    Merge(Object),
    /// A `quorum`/`strong` write: merge the state learned from R replicas, then apply the op
    /// over all of it, so the new version supersedes every version they knew and conditions
    /// are decided on what they knew.
    ApplyAfter {
        seen: Object,
        node: NodeId,
        ts: Timestamp,
        op: Op,
        default_ttl_ms: Option<u64>,
    },
}

impl Mutation {
    /// The new state of the key given its current state, or why the op was refused (nothing
    /// changes then).
    pub fn apply(&self, current: Option<&Object>) -> Result<Applied, OpError> {
        let empty = Object::new();
        let current = current.unwrap_or(&empty);
        match self {
            Mutation::Apply {
                node,
                ts,
                op,
                default_ttl_ms,
            } => {
                let ts = after_versions(*ts, current);
                let mut applied = op::apply(op, current, *node, ts)?;
                op::default_ttl(&mut applied, ts, *default_ttl_ms);
                Ok(applied)
            }
            Mutation::Merge(other) => {
                let object = current.merge(other);
                Ok(Applied {
                    changed: object != *current,
                    object,
                    outcome: Outcome::Done,
                })
            }
            Mutation::ApplyAfter {
                seen,
                node,
                ts,
                op,
                default_ttl_ms,
            } => {
                let known = current.merge(seen);
                let ts = after_versions(*ts, &known);
                let mut applied = op::apply(op, &known, *node, ts)?;
                op::default_ttl(&mut applied, ts, *default_ttl_ms);
                applied.changed |= known != *current;
                Ok(applied)
            }
        }
    }
}

/// The timestamp a write over `known` gets: `ts`, or the successor of the newest version in
/// `known` if that is not older. The coordinator mints `ts` from its clock, which has observed
/// what it read; a write that did not read first (an `eventual` write, or a `quorum` write that
/// learns from this replica alone, which reads in the same step) may hold a clock behind a
/// version stored here. Either way the new version orders after everything it supersedes, and
/// the coordinator's clock observes it when the storage reports the new state.
fn after_versions(ts: Timestamp, known: &Object) -> Timestamp {
    match known.max_timestamp() {
        Some(newest) if newest >= ts => hlc::successor(newest),
        _ => ts,
    }
}

/// How a storage request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageResult {
    Read(Option<Object>),
    /// The key's state after the change (`changed`: whether it differs from before; an
    /// unchanged key was not rewritten), and what the op answers.
    Applied {
        current: Object,
        changed: bool,
        outcome: Outcome,
    },
    /// The op was refused before anything changed (`INCR` on a set): definitely not applied.
    Refused(OpError),
    /// `may_have_applied`: the change reached the engine but its durability is unknown (e.g. the
    /// fsync failed), as opposed to a failure before anything was written.
    Failed {
        reason: String,
        may_have_applied: bool,
    },
}

/// The queues the state machines fill and the driver drains.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub transmits: VecDeque<Transmit>,
    pub storage: VecDeque<StorageRequest>,
    pub replies: VecDeque<(RequestId, Reply)>,
    next_token: u64,
}

impl Outputs {
    pub fn send(&mut self, to: NodeId, message: Message) {
        self.transmits.push_back(Transmit { to, message });
    }

    pub fn storage(&mut self, key: Key, partition: PartitionId, op: StorageOp) -> StorageToken {
        self.next_token += 1;
        let token = StorageToken(self.next_token);
        self.storage.push_back(StorageRequest {
            token,
            key,
            partition,
            op,
        });
        token
    }
}
