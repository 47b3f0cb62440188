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
                hint_on_failure,
                ..
            } => {
                if !pending.remove(&from) {
                    return;
                }
                if ok {
                    *acks += 1;
                    *durable_acks += usize::from(durable);
                } else if *hint_on_failure && targets.contains(&from) {
                    // The primary did not take it: keep a hint so it gets the write later.
                    self.hint_locally(out, op, from);
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
            ..
        }) = self.ops.get(&op)
        else {
            return;
        };
        let (acks, needed) = (*acks, *needed);
        if acks >= needed && *durable_acks >= *dw {
            let outcome = outcome.clone();
            self.finish(out, op, Reply::Written { outcome });
        } else if acks + pending.len() < needed || durable_acks + pending.len() < *dw {
            // The local write happened, so this is not a definite failure.
            self.finish(out, op, Reply::Timeout { acks, needed });
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
            Operation {
                origin: Some(origin),
                deadline_ms,
                needed: 1,
                key,
                partition,
                kind,
            },
        );
    }
}
