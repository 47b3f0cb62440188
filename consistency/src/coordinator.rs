//! The coordinator side: running one client request across the key's replicas.
//!
//! Three kinds of operation:
//! - **Read**: ask every reachable primary (the local storage for this node), merge the answers,
//!   answer after `R` of them.
//! - **Write** on a primary: mint the new version in the local storage transaction, send the
//!   resulting state to the other reachable primaries, answer after `W` acknowledgements (the
//!   local one included).
//! - **Forward**: a write that reaches a node that is not a primary of its key goes to the first
//!   reachable primary, which coordinates it; if the message cannot be sent, the next primary is
//!   tried (nothing was applied, so this is safe).
//!
//! Before anything is sent, the number of reachable primaries is compared with what the request
//! needs: too few is [`Reply::Unavailable`], a definite "not applied". Once a write has started,
//! failing to gather `W` acknowledgements is [`Reply::Timeout`]: it may have been applied.

use std::collections::{BTreeMap, BTreeSet};

use kvorum_ring::{Layout, NodeId};

use crate::hlc::Hlc;
use crate::io::{Mutation, Now, Outputs, StorageOp, StorageResult, StorageToken};
use crate::level::Mode;
use crate::message::{Command, Key, Message, OpId, Reply, Request, RequestId};
use crate::object::Object;

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
    origin: Origin,
    deadline_ms: u64,
    needed: usize,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Read {
        pending: BTreeSet<NodeId>,
        answers: usize,
        merged: Option<Object>,
    },
    Write {
        key: Key,
        targets: Vec<NodeId>,
        pending: BTreeSet<NodeId>,
        acks: usize,
        existed: bool,
    },
    Forward {
        request: Request,
        candidates: Vec<NodeId>,
        current: Option<NodeId>,
    },
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

#[derive(Debug)]
pub(crate) struct Coordinator {
    node: NodeId,
    hlc: Hlc,
    next_op: OpId,
    ops: BTreeMap<OpId, Operation>,
    storage: BTreeMap<StorageToken, OpId>,
}

impl Coordinator {
    pub fn new(node: NodeId) -> Self {
        Coordinator {
            node,
            hlc: Hlc::new(),
            next_op: 0,
            ops: BTreeMap::new(),
            storage: BTreeMap::new(),
        }
    }

    pub fn hlc_mut(&mut self) -> &mut Hlc {
        &mut self.hlc
    }

    pub fn in_flight(&self) -> usize {
        self.ops.len()
    }

    pub fn handle_request(
        &mut self,
        view: &View<'_>,
        out: &mut Outputs,
        now: Now,
        origin: Origin,
        request: Request,
    ) {
        let level = request.consistency.resolve(view.n);
        if let Err(e) = level.validate(view.n) {
            return reply(
                out,
                origin,
                Reply::Failed {
                    reason: e.to_string(),
                },
            );
        }
        if level.sloppy || level.mode == Mode::Strong {
            let reason = "SLOPPY quorums and STRONG mode are not available yet".to_owned();
            return reply(out, origin, Reply::Failed { reason });
        }
        let partition = view
            .layout
            .partition_for_key(request.key.ns, &request.key.key);
        let primaries = match view.layout.preference_list(partition, view.n) {
            Ok(list) => list.primaries.to_vec(),
            Err(e) => {
                return reply(
                    out,
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
        let needed = if request.command.is_write() {
            level.w
        } else {
            level.r
        };
        if reachable.len() < needed {
            return reply(
                out,
                origin,
                Reply::Unavailable {
                    needed,
                    reachable: reachable.len(),
                },
            );
        }
        let deadline_ms = now.mono_ms.saturating_add(request.timeout_ms);
        self.next_op += 1;
        let op = self.next_op;
        let key = request.key.clone();
        let kind = match &request.command {
            Command::Get => {
                for &node in &reachable {
                    if node == view.node {
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
                Kind::Read {
                    pending: reachable.into_iter().collect(),
                    answers: 0,
                    merged: None,
                }
            }
            Command::Put { .. } | Command::Delete if primaries.contains(&view.node) => {
                let value = match &request.command {
                    Command::Put { value } => Some(value.clone()),
                    _ => None,
                };
                let ts = self.hlc.now(now.wall_ms);
                let mutation = Mutation::Put {
                    node: view.node,
                    value,
                    ts,
                };
                let token = out.storage(key.clone(), partition, StorageOp::Apply(mutation));
                self.storage.insert(token, op);
                let targets = reachable.into_iter().filter(|&p| p != view.node).collect();
                Kind::Write {
                    key,
                    targets,
                    pending: BTreeSet::from([view.node]),
                    acks: 0,
                    existed: false,
                }
            }
            Command::Put { .. } | Command::Delete => {
                if matches!(origin, Origin::Remote { .. }) {
                    // The forwarder's layout says we are a primary, ours says not: refuse rather
                    // than forward again (no loops). Nothing was applied.
                    return reply(
                        out,
                        origin,
                        Reply::Failed {
                            reason: format!("{} is not a primary of this key", view.node),
                        },
                    );
                }
                let mut candidates = reachable;
                candidates.reverse(); // popped from the end: first primary first
                let mut kind = Kind::Forward {
                    request,
                    candidates,
                    current: None,
                };
                forward_next(out, op, &mut kind);
                kind
            }
        };
        self.ops.insert(
            op,
            Operation {
                origin,
                deadline_ms,
                needed,
                kind,
            },
        );
    }

    pub fn handle_storage(
        &mut self,
        out: &mut Outputs,
        token: StorageToken,
        result: StorageResult,
    ) -> bool {
        let Some(op) = self.storage.remove(&token) else {
            return false;
        };
        let Some(operation) = self.ops.get_mut(&op) else {
            return true; // already answered
        };
        match (&mut operation.kind, result) {
            (Kind::Read { .. }, StorageResult::Read(object)) => {
                self.on_read_answer(out, op, self.node, Some(object))
            }
            (
                Kind::Write {
                    key,
                    targets,
                    pending,
                    acks,
                    existed,
                },
                StorageResult::Applied { previous, current },
            ) => {
                pending.clear();
                *acks = 1;
                *existed = previous.as_ref().and_then(Object::value).is_some();
                for &target in targets.iter() {
                    out.send(
                        target,
                        Message::Store {
                            op,
                            key: key.clone(),
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
            (
                Kind::Write { .. },
                StorageResult::Failed {
                    may_have_applied: true,
                    ..
                },
            ) => {
                let needed = operation.needed;
                self.finish(out, op, Reply::Timeout { acks: 0, needed });
            }
            (Kind::Read { .. }, _) => self.on_read_answer(out, op, self.node, None),
            (_, _) => {}
        }
        true
    }

    pub fn handle_message(&mut self, out: &mut Outputs, from: NodeId, message: Message) {
        match message {
            Message::Fetched { op, result } => self.on_read_answer(out, op, from, result.ok()),
            Message::Stored { op, result } => self.on_store_answer(out, op, from, result.is_ok()),
            Message::Forwarded { op, reply } => {
                if matches!(self.ops.get(&op), Some(Operation { kind: Kind::Forward { current: Some(c), .. }, .. }) if *c == from)
                {
                    self.finish(out, op, reply);
                }
            }
            // Requests are the replica's and Core's business.
            Message::Fetch { .. } | Message::Store { .. } | Message::Forward { .. } => {}
        }
    }

    /// A message could not be sent: the peer is not connected. Nothing reached it.
    pub fn handle_send_failed(&mut self, out: &mut Outputs, to: NodeId, message: &Message) {
        match *message {
            Message::Fetch { op, .. } => self.on_read_answer(out, op, to, None),
            Message::Store { op, .. } => self.on_store_answer(out, op, to, false),
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
            let acks = match &operation.kind {
                Kind::Read { answers, .. } => *answers,
                Kind::Write { acks, .. } => *acks,
                Kind::Forward { .. } => 0,
            };
            let needed = operation.needed;
            self.finish(out, op, Reply::Timeout { acks, needed });
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.ops.values().map(|o| o.deadline_ms).min()
    }

    /// A read answer from `from` (`object` is `None` for a failure).
    fn on_read_answer(
        &mut self,
        out: &mut Outputs,
        op: OpId,
        from: NodeId,
        object: Option<Option<Object>>,
    ) {
        let Some(operation) = self.ops.get_mut(&op) else {
            return;
        };
        let Kind::Read {
            pending,
            answers,
            merged,
        } = &mut operation.kind
        else {
            return;
        };
        if !pending.remove(&from) {
            return;
        }
        if let Some(answer) = object {
            *answers += 1;
            *merged = match (merged.take(), answer) {
                (Some(a), Some(b)) => Some(a.merge(&b)),
                (a, b) => a.or(b),
            };
        }
        let (answers, remaining, needed) = (*answers, pending.len(), operation.needed);
        if answers >= needed {
            let value = match &mut operation.kind {
                Kind::Read { merged, .. } => merged.take(),
                _ => None,
            };
            self.finish(out, op, Reply::Value(value));
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

    fn on_store_answer(&mut self, out: &mut Outputs, op: OpId, from: NodeId, ok: bool) {
        let Some(Operation {
            kind: Kind::Write { pending, acks, .. },
            ..
        }) = self.ops.get_mut(&op)
        else {
            return;
        };
        if !pending.remove(&from) {
            return;
        }
        if ok {
            *acks += 1;
        }
        self.check_write(out, op);
    }

    fn check_write(&mut self, out: &mut Outputs, op: OpId) {
        let Some(Operation {
            kind:
                Kind::Write {
                    pending,
                    acks,
                    existed,
                    ..
                },
            needed,
            ..
        }) = self.ops.get(&op)
        else {
            return;
        };
        let (acks, needed) = (*acks, *needed);
        if acks >= needed {
            let existed = *existed;
            self.finish(out, op, Reply::Written { existed });
        } else if acks + pending.len() < needed {
            // The local write happened, so this is not a definite failure.
            self.finish(out, op, Reply::Timeout { acks, needed });
        }
    }

    fn finish(&mut self, out: &mut Outputs, op: OpId, answer: Reply) {
        if let Some(operation) = self.ops.remove(&op) {
            reply(out, operation.origin, answer);
        }
    }
}

fn forward_next(out: &mut Outputs, op: OpId, kind: &mut Kind) {
    if let Kind::Forward {
        request,
        candidates,
        current,
    } = kind
    {
        *current = candidates.pop();
        if let Some(to) = *current {
            out.send(
                to,
                Message::Forward {
                    op,
                    request: request.clone(),
                },
            );
        }
    }
}

fn reply(out: &mut Outputs, origin: Origin, answer: Reply) {
    match origin {
        Origin::Local(id) => out.replies.push_back((id, answer)),
        Origin::Remote { from, op } => out.send(from, Message::Forwarded { op, reply: answer }),
    }
}
