//! Writes: writing over a learned state, gathering acknowledgements, hints and handoff.

use std::collections::BTreeSet;

use kvorum_ring::{NodeId, PartitionId};

use super::{Coordinator, Kind, Operation, Origin};
use crate::io::{Mutation, Now, Outputs, StorageOp};
use crate::message::{Key, Message, OpId, Reply};
use crate::object::Object;
use crate::op::Outcome;

impl Coordinator {
    /// `quorum` / `strong` write: the current state is learned from R replicas; write over it.
    pub(super) fn start_learned_write(&mut self, out: &mut Outputs, now: Now, op: OpId) {
        // The local read of the learning phase may still be running: its completion must not be
        // taken for the write's.
        self.storage.retain(|_, waiting| *waiting != op);
        let Some(operation) = self.ops.get_mut(&op) else {
            return;
        };
        let Kind::Learn {
            op: write_op,
            unreached,
            targets,
            merged,
            write_quorum,
            dw,
            ..
        } = &mut operation.kind
        else {
            return;
        };
        let dw = *dw;
        // The clock has observed every fetched version, so this timestamp orders after them.
        let ts = self.hlc.now(now.wall_ms);
        let seen = merged.take().unwrap_or_default();
        let Some(write_op) = write_op.take() else {
            return;
        };
        let mutation = Mutation::ApplyAfter {
            seen,
            node: self.node,
            ts,
            op: write_op,
            default_ttl_ms: operation.default_ttl_ms,
        };
        let token = out.storage(
            operation.key.clone(),
            operation.partition,
            StorageOp::Apply(mutation),
        );
        self.storage.insert(token, op);
        operation.needed = *write_quorum;
        operation.kind = Kind::Write {
            targets: std::mem::take(targets),
            standins: Vec::new(),
            unreached: std::mem::take(unreached),
            pending: BTreeSet::from([self.node]),
            acks: 0,
            durable_acks: 0,
            dw,
            outcome: Outcome::Done,
            hint_on_failure: true,
        };
    }

    /// `durable`: the replica said the state is on stable storage.
    pub(super) fn on_store_answer(
        &mut self,
        out: &mut Outputs,
        op: OpId,
        from: NodeId,
        ok: bool,
        durable: bool,
    ) {
        let Some(operation) = self.ops.get_mut(&op) else {
            return;
        };
        match &mut operation.kind {
            Kind::Write {
                pending,
                acks,
                durable_acks,
                targets,
                standins,
                hint_on_failure,
                ..
            } => {
                if !pending.remove(&from) {
                    return;
                }
                // Who gets a hint here if `from` failed: a primary itself, or the primary a
                // fallback was standing in for.
                let missed = if targets.contains(&from) {
                    Some(from)
                } else {
                    standins
                        .iter()
                        .find(|&&(fallback, _)| fallback == from)
                        .map(|&(_, primary)| primary)
                };
                if ok {
                    *acks += 1;
                    *durable_acks += usize::from(durable);
                } else if let Some(primary) = missed.filter(|_| *hint_on_failure) {
                    // It did not take the write: keep a hint so the primary gets it later.
                    self.hint_locally(out, op, primary);
                }
                self.check_write(out, op);
            }
            Kind::Read {
                write_back: Some(wb),
                ..
            } => {
                if !wb.pending.remove(&from) {
                    return;
                }
                if ok {
                    wb.holders += 1;
                }
                self.check_write_back(out, op);
            }
            _ => {}
        }
    }

    /// Answers the client once W (and DW) acknowledgements are in, or once they no longer can
    /// be. The operation stays until every replica it wrote to answered or its deadline passed:
    /// a replica that fails after the client got its answer still gets a hint.
    pub(super) fn check_write(&mut self, out: &mut Outputs, op: OpId) {
        let Some(Operation {
            kind:
                Kind::Write {
                    pending,
                    acks,
                    durable_acks,
                    dw,
                    outcome,
                    ..
                },
            needed,
            origin,
            ..
        }) = self.ops.get(&op).map(Box::as_ref)
        else {
            return;
        };
        let (acks, needed) = (*acks, *needed);
        let settled = pending.is_empty();
        let answer = if origin.is_none() {
            None
        } else if acks >= needed && *durable_acks >= *dw {
            Some(Reply::Written {
                outcome: outcome.clone(),
                acks,
            })
        } else if acks + pending.len() < needed || durable_acks + pending.len() < *dw {
            // The local write happened, so this is not a definite failure.
            Some(Reply::Timeout { acks, needed })
        } else {
            None
        };
        if let Some(answer) = answer {
            self.answer(out, op, answer);
        }
        let answered = self.ops.get(&op).is_some_and(|o| o.origin.is_none());
        if settled && answered {
            self.finish(out, op, Reply::Timeout { acks, needed });
        }
    }

    /// A write's deadline passed: every replica that has not acknowledged gets a hint (it may
    /// have applied the write; a hint of a state it holds merges to nothing).
    pub(super) fn hint_unacknowledged(&mut self, out: &mut Outputs, op: OpId) {
        let Some(Operation {
            kind:
                Kind::Write {
                    pending,
                    targets,
                    standins,
                    hint_on_failure: true,
                    ..
                },
            ..
        }) = self.ops.get(&op).map(Box::as_ref)
        else {
            return;
        };
        let missing: Vec<NodeId> = pending
            .iter()
            .filter_map(|&node| {
                if targets.contains(&node) {
                    Some(node)
                } else {
                    // A fallback that did not confirm its stand-in: keep the hint here.
                    standins
                        .iter()
                        .find(|&&(fallback, _)| fallback == node)
                        .map(|&(_, target)| target)
                }
            })
            .collect();
        for target in missing {
            self.hint_locally(out, op, target);
        }
    }

    /// Keeps a hint on this node for `target` with the state this write produced.
    pub(super) fn hint_locally(&mut self, out: &mut Outputs, op: OpId, target: NodeId) {
        let (Some(operation), Some(object)) = (self.ops.get(&op), self.written.get(&op)) else {
            return;
        };
        let hint = StorageOp::Hint {
            target,
            object: object.clone(),
        };
        out.storage(operation.key.clone(), operation.partition, hint);
    }

    /// Hinted handoff: sends a hint's state to its target; see [`crate::Core::handle_handoff`].
    #[allow(clippy::too_many_arguments)]
    pub fn handle_handoff(
        &mut self,
        out: &mut Outputs,
        now: Now,
        origin: Origin,
        target: NodeId,
        key: Key,
        partition: PartitionId,
        object: Object,
        timeout_ms: u64,
    ) {
        self.next_op += 1;
        let op = self.next_op;
        out.send(
            target,
            Message::Store {
                op,
                key: key.clone(),
                object,
            },
        );
        let kind = Kind::Write {
            targets: vec![target],
            standins: Vec::new(),
            unreached: Vec::new(),
            pending: BTreeSet::from([target]),
            acks: 0,
            durable_acks: 0,
            dw: 0,
            outcome: Outcome::Done,
            hint_on_failure: false,
        };
        let deadline_ms = now.mono_ms.saturating_add(timeout_ms);
        self.ops.insert(
            op,
            Box::new(Operation {
                origin: Some(origin),
                deadline_ms,
                needed: 1,
                key,
                partition,
                default_ttl_ms: None,
                kind,
            }),
        );
    }
}
