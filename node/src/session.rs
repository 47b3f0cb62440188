//! State shared by every RESP connection of a node ([`Shared`]) and the state of one
//! connection ([`Session`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use kvorum_consistency::{
    Consistency, Key, Level, LevelError, NamespacePolicy, Reply, Request, Spec,
};
use kvorum_resp::{Frame, Protocol};
use kvorum_ring::{NamespaceId, NodeId};
use tokio::sync::oneshot;

use std::sync::Arc;

use crate::driver::{DriverHandle, Work};
use crate::handoff::HandoffCounters;
use crate::storage::hints::HintStore;

/// What every connection of the node uses.
pub struct Shared {
    pub node: NodeId,
    pub driver: DriverHandle,
    pub hints: Arc<HintStore>,
    pub handoff: Arc<HandoffCounters>,
    pub request_timeout_ms: u64,
    /// The `default` namespace's consistency policy.
    pub policy: NamespacePolicy,

    pub max_key_bytes: usize,
    pub fsync: String,
    pub started: Instant,
    pub connected_clients: AtomicUsize,
    next_client_id: AtomicU64,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        node: NodeId,
        driver: DriverHandle,
        hints: Arc<HintStore>,
        handoff: Arc<HandoffCounters>,
        request_timeout_ms: u64,
        policy: NamespacePolicy,

        max_key_bytes: usize,
        fsync: String,
    ) -> Self {
        Shared {
            node,
            driver,
            hints,
            handoff,
            request_timeout_ms,
            policy,

            max_key_bytes,
            fsync,
            started: Instant::now(),
            connected_clients: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
        }
    }

    pub fn new_session(&self) -> Session {
        Session {
            id: self.next_client_id.fetch_add(1, Ordering::Relaxed),
            protocol: Protocol::Resp2,
            name: None,
            lib_name: None,
            lib_ver: None,
            consistency: Spec::default(),
            namespace: NamespaceId::DEFAULT,
            closing: false,
        }
    }

    /// Checks a key against the size limit.
    pub fn check_key(&self, key: &Bytes) -> Result<(), Frame> {
        if key.len() > self.max_key_bytes {
            return Err(Frame::error(format!(
                "ERR key is too large ({} bytes, the limit is {} bytes)",
                key.len(),
                self.max_key_bytes
            )));
        }
        Ok(())
    }

    /// The level and timeout a request of this connection runs with, under `spec` (the
    /// connection's setting, or a per-command one over it): the namespace fills what is left
    /// open and refuses what its floors forbid.
    pub fn resolve(&self, spec: &Spec) -> Result<(Level, u64), LevelError> {
        let level = self.policy.resolve(spec)?;

        let timeout_ms = spec
            .or(&self.policy.default)
            .timeout_ms
            .unwrap_or(self.request_timeout_ms);
        Ok((level, timeout_ms))
    }

    /// Queues a request for the replication driver right away and returns its reply's future.
    pub fn submit(
        &self,
        ns: NamespaceId,
        key: &Bytes,
        command: kvorum_consistency::Command,
        level: Level,
        timeout_ms: u64,
    ) -> impl std::future::Future<Output = Reply> + Send + 'static {
        let request = Request {
            key: Key {
                ns,
                key: key.to_vec(),
            },
            command,
            consistency: Consistency::Explicit(level),
            timeout_ms,
        };
        let queued = self.driver.try_submit(Work::Request(request));
        async move {
            let rx: oneshot::Receiver<Reply> = match queued.await {
                Ok(rx) => rx,
                Err(_) => {
                    return Reply::Failed {
                        reason: "the node is shutting down".into(),
                    }
                }
            };
            rx.await.unwrap_or(Reply::Timeout { acks: 0, needed: 0 })
        }
    }
}

/// One RESP connection's state.
pub struct Session {
    pub id: u64,
    pub protocol: Protocol,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    /// This connection's consistency (`CONSISTENCY ...`); what it leaves open comes from the
    /// namespace default.
    pub consistency: Spec,
    /// The namespace this connection's keys live in (`SELECT n` picks the one of db `n`).
    pub namespace: NamespaceId,
    /// Set by QUIT: close once the replies so far are written.
    pub closing: bool,
}
