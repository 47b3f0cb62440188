//! Request and answer over the peer mesh for anti-entropy: [`Rpc::call`] sends an
//! [`AeRequest`] and waits (bounded) for the matching [`Message::AeAnswered`], which the
//! replication driver routes back here by its op id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kvorum_consistency::antientropy::{AeAnswer, AeRequest};
use kvorum_consistency::{Message, OpId};
use kvorum_ring::NodeId;
use tokio::sync::oneshot;

use crate::peer::Mesh;

type Waiter = oneshot::Sender<Result<AeAnswer, String>>;

/// Why an exchange step failed. None of them changes anything by itself: an exchange that
/// stops half-way leaves both replicas with a state at least as complete as before.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeError {
    #[error("node {peer} could not be sent to: {reason}")]
    Send { peer: u64, reason: String },
    #[error("node {peer} did not answer within {ms} ms")]
    Timeout { peer: u64, ms: u64 },
    #[error("node {peer} failed: {reason}")]
    Peer { peer: u64, reason: String },
    #[error("node {peer} answered {answer} to a {asked} request")]
    Unexpected {
        peer: u64,
        asked: &'static str,
        answer: String,
    },
    #[error("local storage: {0}")]
    Local(String),
    #[error("the node is shutting down")]
    Stopped,
}

/// Outstanding anti-entropy requests of this node.
pub struct Rpc {
    mesh: Mesh<Message>,
    next: AtomicU64,
    pending: Mutex<HashMap<OpId, Waiter>>,
}

impl Rpc {
    pub fn new(mesh: Mesh<Message>) -> Rpc {
        Rpc {
            mesh,
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<OpId, Waiter>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `request` to `peer` and waits up to `timeout` for its answer.
    pub async fn call(
        &self,
        peer: NodeId,
        request: AeRequest,
        timeout: Duration,
    ) -> Result<AeAnswer, AeError> {
        let op = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending().insert(op, tx);
        if let Err(e) = self.mesh.send(peer.0, &Message::Ae { op, request }) {
            self.pending().remove(&op);
            return Err(AeError::Send {
                peer: peer.0,
                reason: e.to_string(),
            });
        }
        let answer = tokio::time::timeout(timeout, rx).await;
        self.pending().remove(&op);
        match answer {
            Ok(Ok(Ok(answer))) => Ok(answer),
            Ok(Ok(Err(reason))) => Err(AeError::Peer {
                peer: peer.0,
                reason,
            }),
            Ok(Err(_)) => Err(AeError::Stopped),
            Err(_) => Err(AeError::Timeout {
                peer: peer.0,
                ms: timeout.as_millis() as u64,
            }),
        }
    }

    /// Whether the failure detector thinks `peer` is up (exchanges skip peers that are not).
    pub fn is_up(&self, peer: NodeId) -> bool {
        self.mesh.is_up(peer.0)
    }

    /// Completes the call waiting for `op` (a late or unknown answer is dropped).
    pub fn answered(&self, op: OpId, result: Result<AeAnswer, String>) {
        if let Some(waiter) = self.pending().remove(&op) {
            let _ = waiter.send(result);
        }
    }

    /// Sends an answer to a peer's request (dropped if the peer is unreachable: it times out).
    pub fn answer(&self, peer: u64, op: OpId, result: Result<AeAnswer, String>) {
        if let Err(e) = self.mesh.send(peer, &Message::AeAnswered { op, result }) {
            tracing::debug!(peer, error = %e, "anti-entropy answer not sent");
        }
    }
}
