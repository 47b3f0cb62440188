//! Forwarding: a write that reaches a node that is not a primary of its key goes to a
//! primary; primaries recognise duplicated forwards.

use std::collections::{BTreeMap, VecDeque};

use kvorum_ring::NodeId;

use super::Kind;
use crate::io::Outputs;
use crate::message::{Message, OpId, Reply};

pub(super) fn forward_next(out: &mut Outputs, op: OpId, kind: &mut Kind) {
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

/// How many forwarded writes a coordinator remembers, to recognise a duplicated `Forward`.
const FORWARD_MEMORY: usize = 16_384;

/// Forwarded writes seen recently, by the forwarder's (node, op): a duplicated `Forward` (a
/// network that duplicates, a retrying transport) must not run the write a second time with a
/// newer version. A duplicate of a running write is ignored; of a finished one, re-answered.
/// Operation ids are unique across restarts of the forwarder (`CoreConfig::first_op_id`).
#[derive(Debug, Default)]
pub(super) struct ForwardMemory {
    replies: BTreeMap<(NodeId, OpId), Option<Reply>>,
    order: VecDeque<(NodeId, OpId)>,
}

impl ForwardMemory {
    /// Registers a forwarded write; returns the entry of an earlier copy if this is a duplicate.
    pub(super) fn begin(&mut self, from: NodeId, op: OpId) -> Option<Option<Reply>> {
        if let Some(entry) = self.replies.get(&(from, op)) {
            return Some(entry.clone());
        }
        self.replies.insert((from, op), None);
        self.order.push_back((from, op));
        while self.order.len() > FORWARD_MEMORY {
            if let Some(oldest) = self.order.pop_front() {
                self.replies.remove(&oldest);
            }
        }
        None
    }

    pub(super) fn record(&mut self, from: NodeId, op: OpId, answer: Reply) {
        if let Some(entry) = self.replies.get_mut(&(from, op)) {
            *entry = Some(answer);
        }
    }
}
