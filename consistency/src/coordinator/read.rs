//! Reads: gathering answers, replying at R, read repair, and `strong` write-back.

use std::collections::BTreeSet;

use kvorum_ring::{NodeId, PartitionId};

use super::{reply, Coordinator, Kind, WriteBack};
use crate::io::{Mutation, Now, Outputs, StorageOp};
use crate::message::{Key, Message, OpId, Reply};
use crate::object::Object;

impl Coordinator {
    /// Asks each node for its copy: the local storage for this node, `Fetch` for the others.
    pub(super) fn fetch_from(
        &mut self,
        out: &mut Outputs,
        op: OpId,
        key: &Key,
        partition: PartitionId,
        nodes: &[NodeId],
    ) {
        for &node in nodes {
            if node == self.node {
                let token = out.storage(key.clone(), partition, StorageOp::Read);
                self.storage.insert(token, op);
            } else {
                out.send(
                    node,
                    Message::Fetch {
                        op,
                        key: key.clone(),
                    },
                );
            }
        }
    }

    /// A read answer from `from` (`object` is `None` for a failure), for a read or a learn.
    pub(super) fn on_read_answer(
        &mut self,
        out: &mut Outputs,
        now: Now,
        op: OpId,
        from: NodeId,
        object: Option<Option<Object>>,
    ) {
        let Some(operation) = self.ops.get_mut(&op) else {
            return;
        };
        let needed = operation.needed;
        match &mut operation.kind {
            Kind::Read {
                pending,
                answers,
                merged,
                ..
            } => {
                if !pending.remove(&from) {
                    return;
                }
                if let Some(answer) = object {
                    *merged = merge_into(merged.take(), answer.as_ref());
                    answers.insert(from, answer);
                }
                self.check_read(out, op);
            }
            Kind::Learn {
                pending,
                answers,
                merged,
                ..
            } => {
                if !pending.remove(&from) {
                    return;
                }
                if let Some(answer) = object {
                    *answers += 1;
                    *merged = merge_into(merged.take(), answer.as_ref());
                }
                let (answers, remaining) = (*answers, pending.len());
                if answers >= needed {
                    self.start_learned_write(out, now, op);
                } else if answers + remaining < needed {
                    self.finish(
                        out,
                        op,
                        Reply::Unavailable {
                            needed,
                            reachable: answers + remaining,
                        },
                    );
                }
            }
            _ => {}
        }
    }

    /// Decides what a read does after an answer: reply, write back, repair, or keep waiting.
    pub(super) fn check_read(&mut self, out: &mut Outputs, op: OpId) {
        let Some(operation) = self.ops.get_mut(&op) else {
            return;
        };
        let needed = operation.needed;
        let replied = operation.origin.is_none();
        let Kind::Read {
            strong,
            pending,
            answers,
            merged,
            write_back,
        } = &mut operation.kind
        else {
            return;
        };
        if write_back.is_some() {
            return; // the write-back decides now
        }
        if replied {
            if pending.is_empty() {
                self.repair(out, op);
                self.ops.remove(&op);
            }
            return;
        }
        if answers.len() + pending.len() < needed {
            let reachable = answers.len() + pending.len();
            return self.finish(out, op, Reply::Unavailable { needed, reachable });
        }
        if answers.len() < needed {
            return;
        }
        let stale: BTreeSet<NodeId> = answers
            .iter()
            .filter(|(_, copy)| copy.as_ref() != merged.as_ref())
            .map(|(&n, _)| n)
            .collect();
        match merged.clone() {
            Some(object) if *strong && !stale.is_empty() => {
                // ABD: the value returned must be on a majority before anyone sees it.
                let holders = answers.len() - stale.len();
                *write_back = Some(WriteBack {
                    object: object.clone(),
                    pending: stale.clone(),
                    holders,
                });
                self.stats.write_backs += 1;
                let (key, partition) = (operation.key.clone(), operation.partition);
                for node in stale {
                    if node == self.node {
                        let op_kind = StorageOp::Apply(Mutation::Merge(object.clone()));
                        let token = out.storage(key.clone(), partition, op_kind);
                        self.storage.insert(token, op);
                    } else {
                        out.send(
                            node,
                            Message::Store {
                                op,
                                key: key.clone(),
                                object: object.clone(),
                            },
                        );
                    }
                }
                self.check_write_back(out, op);
            }
            merged => {
                let answer = Reply::Value(merged);
                if let Some(origin) = operation.origin.take() {
                    reply(out, &mut self.forwarded, origin, answer);
                }
                if pending.is_empty() {
                    self.repair(out, op);
                    self.ops.remove(&op);
                }
            }
        }
    }

    /// Sends the merged state to every replica whose answer differed from it (read repair).
    /// Repairs are merges, so a repair racing a newer write does no harm.
    pub(super) fn repair(&mut self, out: &mut Outputs, op: OpId) {
        let Some(operation) = self.ops.get(&op) else {
            return;
        };
        let Kind::Read {
            answers,
            merged: Some(merged),
            ..
        } = &operation.kind
        else {
            return;
        };
        for (&node, copy) in answers {
            if copy.as_ref() == Some(merged) {
                continue;
            }
            self.stats.read_repairs += 1;
            if node == self.node {
                // Not tracked: its completion is ignored.
                let mutation = StorageOp::Apply(Mutation::Merge(merged.clone()));
                out.storage(operation.key.clone(), operation.partition, mutation);
            } else {
                // Answered under an operation id that no longer exists: ignored.
                out.send(
                    node,
                    Message::Store {
                        op,
                        key: operation.key.clone(),
                        object: merged.clone(),
                    },
                );
            }
        }
    }

    pub(super) fn check_write_back(&mut self, out: &mut Outputs, op: OpId) {
        let Some(operation) = self.ops.get(&op) else {
            return;
        };
        let Kind::Read {
            write_back: Some(wb),
            ..
        } = &operation.kind
        else {
            return;
        };
        let needed = operation.needed;
        if wb.holders >= needed {
            let answer = Reply::Value(Some(wb.object.clone()));
            self.finish(out, op, answer);
        } else if wb.holders + wb.pending.len() < needed {
            // The write-back may have reached some replicas: indeterminate.
            let acks = wb.holders;
            self.finish(out, op, Reply::Timeout { acks, needed });
        }
    }
}

/// The causal merge of what a read has gathered so far with one more answer.
fn merge_into(merged: Option<Object>, answer: Option<&Object>) -> Option<Object> {
    match (merged, answer) {
        (Some(a), Some(b)) => Some(a.merge(b)),
        (a, b) => a.or_else(|| b.cloned()),
    }
}
