//! kvorum's native protocol through `kvorum-client`: each request is routed straight to a
//! primary of its key and carries its own consistency.
//!
//! Each connection of the load generator is its own [`Client`] (its own QUIC connections), as
//! each RESP connection is its own TCP connection, so a broken one is replaced alone. A batch of
//! several operations (`--pipeline`) is sent as that many concurrent requests on the client's
//! multiplexed connections, which is what pipelining means for a multiplexed protocol.
//!
//! Operations: read → `get`; update and insert → `set`; read-modify-write → `get`, then a `set`
//! with the read's causal context; scan → the first `count` keys of a namespace scan (in key-hash
//! order: like RESP's `SCAN`, an approximation of YCSB's ordered scan; the start key is ignored).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use kvorum_client::{Client, Consistency, Namespace};

use super::{DriverError, Op};

#[derive(Clone, Debug)]
pub struct NativeTarget {
    /// QUIC addresses of one or more nodes.
    pub seeds: Vec<String>,
    /// The cluster CA certificate (PEM file path).
    pub ca: String,
    /// `one`, `quorum`, `all`, `strong`, ... (per request).
    pub consistency: String,
    pub password: Option<String>,
}

pub struct NativeConn {
    client: Client,
    ns: Namespace,
    consistency: Consistency,
}

impl NativeTarget {
    pub async fn connect(&self) -> Result<NativeConn, DriverError> {
        let fail = |message: String| DriverError::Connect {
            target: self.seeds.join(","),
            message,
        };
        let consistency: Consistency = self
            .consistency
            .parse()
            .map_err(|e| fail(format!("consistency {:?}: {e}", self.consistency)))?;
        let mut builder = Client::builder(self.seeds.iter()).ca_cert_pem(self.ca.as_str());
        if let Some(password) = &self.password {
            builder = builder.password(password.as_str());
        }
        let client = builder.connect().await.map_err(|e| fail(e.to_string()))?;
        let ns = match client.namespace("default").await {
            Ok(ns) => ns,
            Err(e) => {
                client.close().await;
                return Err(fail(e.to_string()));
            }
        };
        Ok(NativeConn {
            client,
            ns,
            consistency,
        })
    }

    pub fn describe(&self) -> String {
        format!("native {} {}", self.seeds.join(","), self.consistency)
    }
}

type OpFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DriverError>> + Send + 'a>>;

impl NativeConn {
    pub async fn execute(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        if let [op] = ops {
            return self.one(op).await;
        }
        let mut pending: Vec<Option<OpFuture<'_>>> = ops
            .iter()
            .map(|op| Some(Box::pin(self.one(op)) as _))
            .collect();
        let mut first_error = None;
        // Drive every request at once; the batch is done when the last answer is in.
        std::future::poll_fn(|cx| {
            let mut open = false;
            for slot in pending.iter_mut() {
                if let Some(fut) = slot {
                    match fut.as_mut().poll(cx) {
                        Poll::Ready(result) => {
                            if let Err(e) = result {
                                first_error.get_or_insert(e);
                            }
                            *slot = None;
                        }
                        Poll::Pending => open = true,
                    }
                }
            }
            if open {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        first_error.map_or(Ok(()), Err)
    }

    async fn one(&self, op: &Op) -> Result<(), DriverError> {
        let ns = &self.ns;
        let level = self.consistency;
        match op {
            Op::Read { key } => {
                ns.get(key).consistency(level).await.map_err(map_error)?;
            }
            Op::Update { key, value } | Op::Insert { key, value } => {
                ns.set(key, value)
                    .consistency(level)
                    .await
                    .map_err(map_error)?;
            }
            Op::ReadModifyWrite { key, value } => {
                let read = ns.get(key).consistency(level).await.map_err(map_error)?;
                ns.set(key, value)
                    .context(read.context())
                    .consistency(level)
                    .await
                    .map_err(map_error)?;
            }
            Op::Scan { count, .. } => {
                let mut scan = ns
                    .scan()
                    .page_size(u32::try_from(*count).unwrap_or(u32::MAX))
                    .consistency(level);
                for _ in 0..*count {
                    match scan.next().await {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(map_error(e)),
                        None => break,
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for NativeConn {
    fn drop(&mut self) {
        // Close the QUIC connections without waiting for the nodes' acknowledgement (a
        // replaced connection must not keep the old one's endpoint busy).
        let client = self.client.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { client.close().await });
        }
    }
}

/// Connection-level failures replace the connection; answers from a node are counted as errors.
fn map_error(e: kvorum_client::Error) -> DriverError {
    use kvorum_client::Error as E;
    match e {
        E::Timeout { .. } => DriverError::Timeout,
        E::Connect { .. } | E::NoSeed { .. } | E::ConnectionLost { .. } | E::Closed => {
            DriverError::Io(e.to_string())
        }
        other => DriverError::Server(other.to_string()),
    }
}
