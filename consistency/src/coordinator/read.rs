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
        let skip_write_back = self.skips_strong_write_back();
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
        match merged {
            Some(object) if *strong && !stale.is_empty() && !skip_write_back => {
                // ABD: the value returned must be on a majority before anyone sees it.
                let object = object.clone();
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
            _ => {
                // Once every replica answered the same, nothing will need the merge again: the
                // reply takes it rather than a copy.
                let done = pending.is_empty();
                let agreed = stale.is_empty();
                let value = if done && agreed {
                    merged.take()
                } else {
                    merged.clone()
                };
                if let Some(origin) = operation.origin.take() {
                    reply(out, &mut self.forwarded, origin, Reply::Value(value));
                }
                if done {
                    if !agreed {
                        self.repair(out, op);
                    }
                    self.ops.remove(&op);
                }
            }
        }
    }

    /// Sends the merged state to every replica whose answer differed from it (read repair).
    /// Repairs are merges, so a repair racing a newer write does no harm.
    pub(super) fn repair(&mut self, out: &mut Outputs, op: OpId) {
        let skip_write_back = self.skips_strong_write_back();
        let Some(operation) = self.ops.get(&op) else {
            return;
        };
        let Kind::Read {
            strong,
            answers,
            merged: Some(merged),
            ..
        } = &operation.kind
        else {
            return;
        };
        if *strong && skip_write_back {
            return;
        }
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

/// The `strong-skip-writeback` fault, on one core whose peers are played by hand.
#[cfg(all(test, feature = "fault-injection"))]
#[allow(clippy::unwrap_used)]
mod fault_tests {
    use kvorum_ring::{Layout, NamespaceId, NodeId};

    use crate::hlc::Timestamp;
    use crate::io::{Mutation, Now, StorageOp, StorageResult};
    use crate::level::Preset;
    use crate::message::{Command, Consistency, Key, Message, OpId, Reply, Request};
    use crate::op::Op;
    use crate::{Core, CoreConfig, CoreFaults, Object};

    const NOW: Now = Now {
        mono_ms: 0,
        wall_ms: 1_000,
    };

    fn written(value: &str) -> Object {
        let mutation = Mutation::Apply {
            node: NodeId(1),
            ts: Timestamp {
                physical_ms: 900,
                logical: 0,
            },
            op: Op::set(value.to_owned()),
            default_ttl_ms: None,
        };
        mutation.apply(None).unwrap().object
    }

    /// Node 3 coordinates a `strong` read of a key only node 1 holds: its own copy is empty,
    /// node 1 answers `v1`. Returns the core once that majority has answered (node 2 has not),
    /// the merged object and the read's operation id.
    fn strong_read_with_disagreeing_replicas(faults: CoreFaults) -> (Core, Object, OpId) {
        let nodes: Vec<NodeId> = (1..=3).map(NodeId).collect();
        let layout = Layout::initial(&nodes, 6, 3).unwrap();
        let config = CoreConfig {
            node: NodeId(3),
            replication: 3,
            first_op_id: 0,
            durable_writes: true,
        };
        let mut core = Core::new(config, layout);
        core.set_reachable(NodeId(1), true);
        core.set_reachable(NodeId(2), true);
        core.set_faults(faults);
        let request = Request {
            key: Key {
                ns: NamespaceId(0),
                key: b"k".to_vec(),
            },
            command: Command::Get,
            consistency: Consistency::Preset(Preset::Strong),
            timeout_ms: 100,
            n: None,
            default_ttl_ms: None,
        };
        core.handle_request(NOW, 1, request);
        let mut fetch_op = None;
        while let Some(transmit) = core.poll_transmit() {
            if let Message::Fetch { op, .. } = transmit.message {
                fetch_op = Some(op);
            }
        }
        let local = core.poll_storage().unwrap();
        assert_eq!(local.op, StorageOp::Read);
        core.handle_storage(NOW, local.token, StorageResult::Read(None));
        let v1 = written("v1");
        let op = fetch_op.unwrap();
        let fetched = Message::Fetched {
            op,
            result: Ok(Some(v1.clone())),
        };
        core.handle_message(NOW, NodeId(1), fetched);
        (core, v1, op)
    }

    #[test]
    fn without_the_fault_a_strong_read_writes_back_before_answering() {
        let (mut core, v1, _) = strong_read_with_disagreeing_replicas(CoreFaults::default());
        assert_eq!(core.poll_reply(), None);
        let write_back = core.poll_storage().unwrap();
        assert_eq!(write_back.op, StorageOp::Apply(Mutation::Merge(v1)));
    }

    #[test]
    fn with_the_fault_a_strong_read_answers_at_once_and_writes_nothing_back() {
        let faults = CoreFaults {
            skip_strong_write_back: true,
        };
        let (mut core, v1, op) = strong_read_with_disagreeing_replicas(faults);
        assert_eq!(core.faults(), faults);
        assert_eq!(core.poll_reply(), Some((1, Reply::Value(Some(v1)))));
        assert_eq!(core.poll_storage(), None);
        assert_eq!(core.poll_transmit(), None);
        assert_eq!(core.stats().write_backs, 0);
        // Nor is anything repaired once the last replica, stale too, has answered.
        let fetched = Message::Fetched {
            op,
            result: Ok(None),
        };
        core.handle_message(NOW, NodeId(2), fetched);
        assert_eq!(core.poll_storage(), None);
        assert_eq!(core.poll_transmit(), None);
        assert_eq!(core.stats().read_repairs, 0);
        assert_eq!(core.in_flight(), 0);
    }
}
