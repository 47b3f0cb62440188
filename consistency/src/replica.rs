//! The replica side: serving `Fetch` and `Store` from coordinators.
//!
//! A replica does no deciding: it reads or merges the key in storage and answers the asker with
//! the asker's `OpId`. Stores are state merges, so a repeated or reordered `Store` is harmless.

use std::collections::BTreeMap;

use kvorum_ring::{Layout, NodeId};

use crate::io::{Outputs, StorageOp, StorageResult, StorageToken};
use crate::message::{Key, Message, OpId};

/// What a pending storage request will answer.
#[derive(Debug)]
enum Pending {
    Fetch { from: NodeId, op: OpId },
    Store { from: NodeId, op: OpId },
}

/// Replica state: the storage requests in flight on behalf of peers.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    pending: BTreeMap<StorageToken, Pending>,
}

impl Replica {
    /// Queues the storage work a peer asked for (`Fetch`: a read; `Store`: a merge;
    /// `StoreHint`: a hint); the answer goes back when it completes.
    pub fn serve(
        &mut self,
        layout: &Layout,
        out: &mut Outputs,
        from: NodeId,
        op: OpId,
        key: Key,
        work: StorageOp,
    ) {
        let pending = match work {
            StorageOp::Read => Pending::Fetch { from, op },
            StorageOp::Apply(_) | StorageOp::Hint { .. } => Pending::Store { from, op },
        };
        let partition = layout.partition_for_key(key.ns, &key.key);
        let token = out.storage(key, partition, work);
        self.pending.insert(token, pending);
    }

    /// Returns false if the token is not the replica's.
    /// `durable`: whether an applied change is on stable storage when reported.
    pub fn handle_storage(
        &mut self,
        out: &mut Outputs,
        token: StorageToken,
        result: StorageResult,
        durable: bool,
    ) -> bool {
        let Some(pending) = self.pending.remove(&token) else {
            return false;
        };
        match (pending, result) {
            (Pending::Fetch { from, op }, StorageResult::Read(object)) => out.send(
                from,
                Message::Fetched {
                    op,
                    result: Ok(object),
                },
            ),
            (Pending::Store { from, op }, StorageResult::Applied { .. }) => out.send(
                from,
                Message::Stored {
                    op,
                    result: Ok(()),
                    durable,
                },
            ),
            (Pending::Fetch { from, op }, other) => out.send(
                from,
                Message::Fetched {
                    op,
                    result: Err(describe_failure(other)),
                },
            ),
            (Pending::Store { from, op }, other) => out.send(
                from,
                Message::Stored {
                    op,
                    result: Err(describe_failure(other)),
                    durable: false,
                },
            ),
        }
        true
    }
}

fn describe_failure(result: StorageResult) -> String {
    match result {
        StorageResult::Failed { reason, .. } => reason,
        other => format!("unexpected storage result {other:?}"),
    }
}
