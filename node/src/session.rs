//! State shared by every RESP connection of a node ([`Shared`]) and the state of one
//! connection ([`Session`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use kvorum_consistency::{Consistency, Key, Preset, Reply, Request};
use kvorum_resp::{Frame, Protocol};
use kvorum_ring::{NamespaceId, NodeId};
use tokio::sync::oneshot;

use crate::driver::DriverHandle;

/// What every connection of the node uses.
pub struct Shared {
    pub node: NodeId,
    pub driver: DriverHandle,
    pub request_timeout_ms: u64,
    pub default_consistency: Preset,
    pub max_key_bytes: usize,
    pub replication_factor: usize,
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
        request_timeout_ms: u64,
        default_consistency: Preset,
        max_key_bytes: usize,
        replication_factor: usize,
        fsync: String,
    ) -> Self {
        Shared {
            node,
            driver,
            request_timeout_ms,
            default_consistency,
            max_key_bytes,
            replication_factor,
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
            consistency: self.default_consistency,
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

    /// Queues a request for the replication driver right away and returns its reply's future.
    pub fn submit(
        &self,
        session: &Session,
        key: &Bytes,
        command: kvorum_consistency::Command,
    ) -> impl std::future::Future<Output = Reply> + Send + 'static {
        let request = Request {
            key: Key {
                ns: NamespaceId::DEFAULT,
                key: key.to_vec(),
            },
            command,
            consistency: Consistency::Preset(session.consistency),
            timeout_ms: self.request_timeout_ms,
        };
        let queued = self.driver.try_submit(request);
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
    pub consistency: Preset,
    /// Set by QUIT: close once the replies so far are written.
    pub closing: bool,
}
