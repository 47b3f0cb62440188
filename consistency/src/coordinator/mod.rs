//! The coordinator side: running one client request across the key's replicas.
//!
//! Kinds of operation:
//! - **Read**: ask every reachable primary (this node's own storage if it is one) and merge the
//!   answers. In `eventual` and `quorum` modes the reply goes out after `R` answers; the
//!   operation then waits for the remaining answers (or its deadline) and **repairs** every
//!   replica whose copy differs from the merge, in the background (*read repair*). In `strong`
//!   mode, replicas that disagree get the merge written back *before* the reply, until a
//!   majority holds it (ABD), so no later read can return an older value.
//! - **Learn** (`quorum` and `strong` writes): read R replicas (a majority for `strong`) first,
//!   so the write supersedes every version they knew — every earlier acknowledged write, since
//!   R + W > N.
//!   When R = 1 the coordinator's own copy is the one read, in the same storage step as the
//!   write (the write is applied over what is stored), so there is no separate learning read.
//! - **Write** on a primary: mint the new version in the local storage transaction, send the
//!   resulting state to the other reachable primaries, answer after `W` acknowledgements (the
//!   local one included).
//! - **Forward**: a write that reaches a node that is not a primary of its key goes to the first
//!   reachable primary, which coordinates it; if the message cannot be sent, the next primary is
//!   tried (nothing was applied, so this is safe).
//!
//! Before anything is sent, the number of reachable primaries is compared with what the request
//! needs: too few is [`Reply::Unavailable`], a definite "not applied" (so is a write that could
//! not learn from R replicas in time: it wrote nothing). Once a write has started, failing to
//! gather `W` acknowledgements is [`Reply::Timeout`]: it may have been applied.
//!
//! Files: `mod.rs` (the operation table and the `handle_*` entry points), `read.rs` (reads,
//! read repair, strong write-back), `write.rs` (learning and writing, hints, handoff),
//! `forward.rs` (forwarding writes to a primary, de-duplicating forwards).

use std::collections::{BTreeMap, BTreeSet};

use kvorum_ring::{Layout, NodeId, PartitionId};

use crate::hlc::Hlc;
use crate::io::{Mutation, Now, Outputs, StorageOp, StorageResult, StorageToken};
use crate::level::Mode;
use crate::message::{Command, Key, Message, OpId, Reply, Request, RequestId};
use crate::object::Object;
use crate::op::{Op, Outcome};
use forward::{forward_next, ForwardMemory};

mod forward;
mod read;
mod write;

/// Who waits for an operation's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Local(RequestId),
    /// A write forwarded to this node by `from`, which waits under its own `op`.
    Remote {
        from: NodeId,
        op: OpId,
    },
}

#[derive(Debug)]
struct Operation {
    /// `None` once the reply went out (a read still repairing in the background).
    origin: Option<Origin>,
    deadline_ms: u64,
    needed: usize,
    key: Key,
    partition: PartitionId,
    /// The request's namespace TTL, for the write this operation applies.
    default_ttl_ms: Option<u64>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Read {
        strong: bool,
        pending: BTreeSet<NodeId>,
        answers: BTreeMap<NodeId, Option<Object>>,
        merged: Option<Object>,
        /// `strong` only: the merge being written back to the replicas that disagreed.
        write_back: Option<WriteBack>,
    },
    Learn {
        op: Option<Op>,
        unreached: Vec<NodeId>,
        /// The other reachable primaries, written to after learning.
        targets: Vec<NodeId>,
        pending: BTreeSet<NodeId>,
        answers: usize,
        merged: Option<Object>,
        /// W, for the write phase (`needed` is the learning majority meanwhile).
        write_quorum: usize,
        /// DW, for the write phase.
        dw: usize,
    },
    Write {
        targets: Vec<NodeId>,
        /// Sloppy quorum: (fallback, the unreachable primary it stands in for).
        standins: Vec<(NodeId, NodeId)>,
        /// Primaries this write could not reach; each gets a hint (kept here unless a stand-in
        /// holds it).
        unreached: Vec<NodeId>,
        pending: BTreeSet<NodeId>,
        acks: usize,
        /// Acknowledgements of replicas that had made the write durable.
        durable_acks: usize,
        /// How many durable acknowledgements the request needs (DW).
        dw: usize,
        /// What the op answers, once the local replica applied it.
        outcome: Outcome,
        /// Whether a primary that fails to acknowledge gets a hint (not for handoffs).
        hint_on_failure: bool,
    },
    Forward {
        request: Request,
        candidates: Vec<NodeId>,
        current: Option<NodeId>,
    },
}

#[derive(Debug)]
struct WriteBack {
    object: Object,
    pending: BTreeSet<NodeId>,
    /// Replicas known to hold `object`: those whose answer already equalled it, then acks.
    holders: usize,
}

/// The topology facts a coordinator decides with; owned by [`crate::Core`].
pub(crate) struct View<'a> {
    pub node: NodeId,
    pub n: usize,
    pub layout: &'a Layout,
    pub reachable: &'a BTreeSet<NodeId>,
}

impl View<'_> {
    fn is_reachable(&self, node: NodeId) -> bool {
        node == self.node || self.reachable.contains(&node)
    }
}

/// Counters a driver may export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoordinatorStats {
    /// Replicas sent a repair after a read found their copy stale.
    pub read_repairs: u64,
    /// `strong` reads that had to write back before answering.
    pub write_backs: u64,
}

/// Deliberately broken behaviour, for proving that a test harness's checkers catch the bugs they
/// exist for (feature `fault-injection` only; every fault is off by default). The driver sets
/// it with [`crate::Core::set_faults`]; one field per fault.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreFaults {
    /// `strong` reads answer the merge of their R answers at once and write nothing back: no
    /// write-back to a majority before the reply, and no read repair after it. A value read from
    /// a minority of replicas can then be followed by a read of an older one: not linearizable.
    pub skip_strong_write_back: bool,
}

#[derive(Debug)]
pub(crate) struct Coordinator {
    node: NodeId,
    durable_writes: bool,
    #[cfg(feature = "fault-injection")]
    faults: CoreFaults,
    hlc: Hlc,
    next_op: OpId,
    /// Boxed: an operation is a few hundred bytes, and a B-tree moves its neighbours' values on
    /// every insert and remove (a profile showed those moves as ~4% of a read's instructions).
    ops: BTreeMap<OpId, Box<Operation>>,
    storage: BTreeMap<StorageToken, OpId>,
    /// The state each write in flight produced locally, for hints if a primary fails it.
    written: BTreeMap<OpId, Object>,
    forwarded: ForwardMemory,
    stats: CoordinatorStats,
}

impl Coordinator {
    /// `first_op_id`: where this incarnation's operation ids start, so they never repeat
    /// across restarts (peers may still hold answers or duplicates from an earlier one).
    /// `durable_writes`: whether this node's completed storage applies are durable (they count
    /// toward DW).
    pub fn new(node: NodeId, first_op_id: OpId, durable_writes: bool) -> Self {
        Coordinator {
            node,
            durable_writes,
            #[cfg(feature = "fault-injection")]
            faults: CoreFaults::default(),
            hlc: Hlc::new(),
            next_op: first_op_id,
            ops: BTreeMap::new(),
            storage: BTreeMap::new(),
            written: BTreeMap::new(),
            forwarded: ForwardMemory::default(),
            stats: CoordinatorStats::default(),
        }
    }

    #[cfg(feature = "fault-injection")]
    pub fn set_faults(&mut self, faults: CoreFaults) {
        self.faults = faults;
    }

    #[cfg(feature = "fault-injection")]
    pub fn faults(&self) -> CoreFaults {
        self.faults
    }

    /// Whether `strong` reads skip their write-back (and read repair): only ever with the
    /// `strong-skip-writeback` fault of a `fault-injection` build.
    fn skips_strong_write_back(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        {
            self.faults.skip_strong_write_back
        }
        #[cfg(not(feature = "fault-injection"))]
        {
            false
        }
    }

    pub fn hlc_mut(&mut self) -> &mut Hlc {
        &mut self.hlc
    }

    /// Operations not finished yet (including reads repairing after their reply).
    pub fn in_flight(&self) -> usize {
        self.ops.len()
    }

    pub fn stats(&self) -> CoordinatorStats {
        self.stats
    }

    pub fn handle_request(
        &mut self,
        view: &View<'_>,
        out: &mut Outputs,
        now: Now,
        origin: Origin,
        request: Request,
    ) {
        if let Origin::Remote { from, op } = origin {
            match self.forwarded.begin(from, op) {
                None => {}
                // A duplicate of a finished forward: answer again, do not write again.
                Some(Some(answer)) => {
                    return out.send(from, Message::Forwarded { op, reply: answer })
                }
                // A duplicate of a running one: its answer will come.
                Some(None) => return,
            }
        }
        // The namespace's N; the layout refuses one above its width (`Failed` below).
        let n = request.n.unwrap_or(view.n);
        let level = match request.consistency.resolve(n).validate(n) {
            Ok(level) => level,
            Err(e) => {
                return reply(
                    out,
                    &mut self.forwarded,
                    origin,
                    Reply::Failed {
                        reason: e.to_string(),
                    },
                )
            }
        };
        let key = request.key.clone();
        let timeout_ms = request.timeout_ms;
        let default_ttl_ms = request.default_ttl_ms;
        let partition = view.layout.partition_for_key(key.ns, &key.key);
        let primaries = match view.layout.preference_list(partition, n) {
            Ok(list) => list.primaries.to_vec(),
            Err(e) => {
                return reply(
                    out,
                    &mut self.forwarded,
                    origin,
                    Reply::Failed {
                        reason: e.to_string(),
                    },
                )
            }
        };
        let reachable: Vec<NodeId> = primaries
            .iter()
            .copied()
            .filter(|&p| view.is_reachable(p))
            .collect();
        let unreached: Vec<NodeId> = primaries
            .iter()
            .copied()
            .filter(|&p| !view.is_reachable(p))
            .collect();
        let strong = level.mode == Mode::Strong;
        // `quorum` and `strong` writes learn the current version from R replicas first: R + W > N,
        // so that read meets every earlier acknowledged write, and the new version supersedes
        // them causally instead of racing them on (possibly skewed) timestamps.
        // A SETCTX write replaces exactly what its context saw, so it only learns in `strong`.
        let learns = match request.command {
            Command::Get => false,
            Command::Write(Op::SetSeen { .. }) => strong,
            Command::Write(_) => level.mode != Mode::Eventual,
        };
        let is_write = request.command.is_write();
        let needed = if is_write { level.w } else { level.r };
        // Sloppy writes: reachable fallbacks, in preference order, stand in for unreachable
        // primaries and keep the write as a hint for them. Reads count primaries only.
        let standins: Vec<(NodeId, NodeId)> = if is_write && level.sloppy {
            let list = view.layout.preference_list(partition, n);
            let fallbacks = list.map(|l| l.fallbacks.to_vec()).unwrap_or_default();
            fallbacks
                .into_iter()
                .filter(|&f| view.is_reachable(f))
                .zip(unreached.iter().copied())
                .collect()
        } else {
            Vec::new()
        };
        let required = if learns { needed.max(level.r) } else { needed };
        // When this node's own copy is all the learning needs (R = 1: N = 1, or a level that
        // reads one), the write is applied over that copy in the same storage step rather than
        // after a separate read: the same state, one storage round trip instead of two.
        let learns_remotely = learns && level.r > 1;
        // A write also needs one reachable primary to mint its version.
        if reachable.len() + standins.len() < required || (is_write && reachable.is_empty()) {
            return reply(
                out,
                &mut self.forwarded,
                origin,
                Reply::Unavailable {
                    needed: required,
                    reachable: reachable.len(),
                },
            );
        }
        self.next_op += 1;
        let op = self.next_op;
        let is_primary = primaries.contains(&view.node);
        let others: Vec<NodeId> = reachable
            .iter()
            .copied()
            .filter(|&p| p != view.node)
            .collect();
        let write_op = match &request.command {
            Command::Write(op) => Some(op.clone()),
            Command::Get => None,
        };
        let (needed, kind) = match &request.command {
            Command::Get => {
                self.fetch_from(out, op, &key, partition, &reachable);
                let kind = Kind::Read {
                    strong,
                    pending: reachable.into_iter().collect(),
                    answers: BTreeMap::new(),
                    merged: None,
                    write_back: None,
                };
                (needed, kind)
            }
            // Such a write supersedes everything the learning quorum knew; a context adds
            // nothing to that.
            _ if is_primary && learns_remotely => {
                self.fetch_from(out, op, &key, partition, &reachable);
                let kind = Kind::Learn {
                    op: write_op,
                    unreached,
                    targets: others,
                    pending: reachable.into_iter().collect(),
                    answers: 0,
                    merged: None,
                    write_quorum: needed,
                    dw: level.dw,
                };
                (level.r, kind)
            }
            Command::Write(write) if is_primary => {
                let mutation = Mutation::Apply {
                    node: view.node,
                    ts: self.hlc.now(now.wall_ms),
                    op: write.clone(),
                    default_ttl_ms: request.default_ttl_ms,
                };
                let token = out.storage(key.clone(), partition, StorageOp::Apply(mutation));
                self.storage.insert(token, op);
                let kind = Kind::Write {
                    targets: others,
                    // A learned write is strict: no fallback stands in for a primary.
                    standins: if learns { Vec::new() } else { standins },
                    unreached,
                    pending: BTreeSet::from([view.node]),
                    acks: 0,
                    durable_acks: 0,
                    dw: level.dw,
                    outcome: Outcome::Done,
                    hint_on_failure: true,
                };
                (needed, kind)
            }
            _ => {
                if matches!(origin, Origin::Remote { .. }) {
                    // The forwarder's layout says we are a primary, ours says not: refuse rather
                    // than forward again (no loops). Nothing was applied.
                    let reason = format!("{} is not a primary of this key", view.node);
                    return reply(out, &mut self.forwarded, origin, Reply::Failed { reason });
                }
                let mut candidates = reachable;
                candidates.reverse(); // popped from the end: first primary first
                let mut kind = Kind::Forward {
                    request,
                    candidates,
                    current: None,
                };
                forward_next(out, op, &mut kind);
                (needed, kind)
            }
        };
        let deadline_ms = now.mono_ms.saturating_add(timeout_ms);
        self.ops.insert(
            op,
            Box::new(Operation {
                origin: Some(origin),
                deadline_ms,
                needed,
                key,
                partition,
                default_ttl_ms,
                kind,
            }),
        );
    }

    /// A storage request finished. Gives the result back if the token is not one of the
    /// coordinator's (the replica side's, then), so nobody has to copy it to ask first.
    pub fn handle_storage(
        &mut self,
        out: &mut Outputs,
        now: Now,
        token: StorageToken,
        result: StorageResult,
    ) -> Option<StorageResult> {
        let Some(op) = self.storage.remove(&token) else {
            return Some(result);
        };
        let Some(operation) = self.ops.get_mut(&op) else {
            return None; // already finished
        };
        match (&mut operation.kind, result) {
            (
                Kind::Read {
                    write_back: Some(_),
                    ..
                },
                result,
            ) => {
                let ok = matches!(result, StorageResult::Applied { .. });
                self.on_store_answer(out, op, self.node, ok, self.durable_writes);
            }
            (Kind::Read { .. } | Kind::Learn { .. }, StorageResult::Read(object)) => {
                self.on_read_answer(out, now, op, self.node, Some(object))
            }
            (Kind::Read { .. } | Kind::Learn { .. }, _) => {
                self.on_read_answer(out, now, op, self.node, None)
            }
            (
                Kind::Write {
                    targets,
                    standins,
                    unreached,
                    pending,
                    acks,
                    durable_acks,
                    outcome: answer,
                    ..
                },
                StorageResult::Applied {
                    current,
                    changed,
                    outcome,
                },
            ) => {
                if !changed {
                    // A condition was false, or the key already was this way: nothing to
                    // replicate, and the answer is known.
                    self.finish(out, op, Reply::Written { outcome, acks: 1 });
                    return None;
                }
                *answer = outcome;
                pending.clear();
                *acks = 1;
                *durable_acks = usize::from(self.durable_writes);
                self.written.insert(op, current.clone());
                for &(fallback, target) in standins.iter() {
                    let key = operation.key.clone();
                    out.send(
                        fallback,
                        Message::StoreHint {
                            op,
                            key,
                            object: current.clone(),
                            target,
                        },
                    );
                    pending.insert(fallback);
                }
                // Strict writes (and primaries no stand-in covers): this node keeps the hint.
                // It does not count toward W.
                for &target in unreached.iter().skip(standins.len()) {
                    let hint = StorageOp::Hint {
                        target,
                        object: current.clone(),
                    };
                    out.storage(operation.key.clone(), operation.partition, hint);
                }
                for &target in targets.iter() {
                    out.send(
                        target,
                        Message::Store {
                            op,
                            key: operation.key.clone(),
                            object: current.clone(),
                        },
                    );
                    pending.insert(target);
                }
                self.check_write(out, op);
            }
            (
                Kind::Write { .. },
                StorageResult::Failed {
                    reason,
                    may_have_applied: false,
                },
            ) => {
                self.finish(out, op, Reply::Failed { reason });
            }
            (Kind::Write { .. }, StorageResult::Refused(error)) => {
                self.finish(out, op, Reply::Refused(error));
            }
            (Kind::Write { .. }, _) => {
                let needed = operation.needed;
                self.finish(out, op, Reply::Timeout { acks: 0, needed });
            }
            (Kind::Forward { .. }, _) => {}
        }
        None
    }

    pub fn handle_message(&mut self, out: &mut Outputs, now: Now, from: NodeId, message: Message) {
        match message {
            Message::Fetched { op, result } => self.on_read_answer(out, now, op, from, result.ok()),
            Message::Stored {
                op,
                result,
                durable,
            } => self.on_store_answer(out, op, from, result.is_ok(), durable),
            Message::Forwarded { op, reply } => {
                if matches!(self.ops.get(&op).map(Box::as_ref), Some(Operation { kind: Kind::Forward { current: Some(c), .. }, .. }) if *c == from)
                {
                    self.finish(out, op, reply);
                }
            }
            // Requests are the replica's and Core's business.
            Message::Fetch { .. }
            | Message::Store { .. }
            | Message::StoreHint { .. }
            | Message::Forward { .. } => {}
            // Listings are the node's (they only read storage).
            Message::List { .. } | Message::Listed { .. } => {}
            // The namespace catalog is the node's.
            Message::Catalog { .. } => {}
            // Anti-entropy is the node's too.
            Message::Ae { .. } | Message::AeAnswered { .. } => {}
        }
    }

    /// A message could not be sent: the peer is not connected. Nothing reached it.
    pub fn handle_send_failed(
        &mut self,
        out: &mut Outputs,
        now: Now,
        to: NodeId,
        message: &Message,
    ) {
        match *message {
            Message::Fetch { op, .. } => self.on_read_answer(out, now, op, to, None),
            Message::Store { op, .. } | Message::StoreHint { op, .. } => {
                self.on_store_answer(out, op, to, false, false)
            }
            Message::Forward { op, .. } => {
                let Some(operation) = self.ops.get_mut(&op) else {
                    return;
                };
                if let Kind::Forward { candidates, .. } = &operation.kind {
                    if candidates.is_empty() {
                        // No primary could be reached: nothing was applied anywhere.
                        let needed = operation.needed;
                        return self.finish(
                            out,
                            op,
                            Reply::Unavailable {
                                needed,
                                reachable: 0,
                            },
                        );
                    }
                }
                forward_next(out, op, &mut operation.kind);
            }
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, out: &mut Outputs, now: Now) {
        let expired: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| o.deadline_ms <= now.mono_ms)
            .map(|(&op, _)| op)
            .collect();
        for op in expired {
            let Some(operation) = self.ops.get(&op) else {
                continue;
            };
            let needed = operation.needed;
            let answer = match &operation.kind {
                Kind::Read {
                    answers,
                    write_back: None,
                    ..
                } if operation.origin.is_some() => {
                    let acks = answers.len();
                    // Whatever did answer can still be repaired.
                    self.repair(out, op);
                    Reply::Timeout { acks, needed }
                }
                Kind::Read {
                    write_back: Some(wb),
                    ..
                } => Reply::Timeout {
                    acks: wb.holders,
                    needed,
                },
                // Answered already: repair what the answers that came show, then forget it.
                Kind::Read { .. } => {
                    self.repair(out, op);
                    self.ops.remove(&op);
                    continue;
                }
                // Nothing was written while learning.
                Kind::Learn { answers, .. } => Reply::Unavailable {
                    needed,
                    reachable: *answers,
                },
                Kind::Write { acks, .. } => {
                    let acks = *acks;
                    self.hint_unacknowledged(out, op);
                    Reply::Timeout { acks, needed }
                }
                Kind::Forward { .. } => Reply::Timeout { acks: 0, needed },
            };
            self.finish(out, op, answer);
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.ops.values().map(|o| o.deadline_ms).min()
    }

    /// Replies to the operation's client now; the operation itself stays (see
    /// [`Coordinator::check_write`]).
    fn answer(&mut self, out: &mut Outputs, op: OpId, answer: Reply) {
        if let Some(origin) = self.ops.get_mut(&op).and_then(|o| o.origin.take()) {
            reply(out, &mut self.forwarded, origin, answer);
        }
    }

    /// Replies (unless already answered) and forgets the operation.
    fn finish(&mut self, out: &mut Outputs, op: OpId, answer: Reply) {
        self.written.remove(&op);
        if let Some(operation) = self.ops.remove(&op) {
            if let Some(origin) = operation.origin {
                reply(out, &mut self.forwarded, origin, answer);
            }
        }
    }
}

fn reply(out: &mut Outputs, forwarded: &mut ForwardMemory, origin: Origin, answer: Reply) {
    match origin {
        Origin::Local(id) => out.replies.push_back((id, answer)),
        Origin::Remote { from, op } => {
            forwarded.record(from, op, answer.clone());
            out.send(from, Message::Forwarded { op, reply: answer })
        }
    }
}
