//! Connections: one QUIC connection per node, shared by every request to that node.
//!
//! Each request is one bidirectional stream on its node's connection carrying one request frame
//! and one reply frame, so requests are multiplexed by QUIC and a slow one never holds up
//! another. A connection is opened on first use and re-opened when it was lost (the first
//! request to a node after a restart dials it again); dialling is single-flight per node, so a
//! burst of requests to a node that just came back opens one connection, not a hundred.
//!
//! Every exchange reports how far it got when it fails ([`Delivery`]): whether the request
//! certainly never left the client, or may have reached the node. That distinction is what
//! makes retries safe ([`crate::retry`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvorum_ring::NodeId;
use kvorum_wire::frame::{encode_frame, read_frame, write_encoded, FrameError};
use kvorum_wire::native::{node_server_name, Applied, Body, Hello, Request, Response};
use tokio::time::timeout_at;

use crate::error::Error;
use crate::tls::{certificate_names_node, SEED_SERVER_NAME};
use crate::topology::Topology;

/// How often a node whose dial failed is dialled again in the background (while requests
/// keep going to the other nodes of their preference lists).
const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// How far a failed exchange got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The request certainly did not reach the node.
    NotSent,
    /// The request may have reached the node; no reply was read.
    Unknown,
}

/// A failed exchange: how far it got and why.
#[derive(Debug)]
pub(crate) struct Failure {
    pub delivery: Delivery,
    pub error: Error,
}

impl Failure {
    fn not_sent(error: Error) -> Failure {
        Failure {
            delivery: Delivery::NotSent,
            error,
        }
    }

    fn lost(node: NodeId, reason: impl ToString) -> Failure {
        Failure {
            delivery: Delivery::Unknown,
            error: Error::ConnectionLost {
                node,
                reason: reason.to_string(),
                applied: Applied::Maybe,
            },
        }
    }
}

/// What every connection needs to open: the endpoint, the hello, the limits.
pub(crate) struct Dialer {
    endpoint: quinn::Endpoint,
    hello: Hello,
    connect_timeout: Duration,
    max_frame: usize,
}

impl Dialer {
    pub fn new(
        endpoint: quinn::Endpoint,
        hello: Hello,
        connect_timeout: Duration,
        max_frame: usize,
    ) -> Dialer {
        Dialer {
            endpoint,
            hello,
            connect_timeout,
            max_frame,
        }
    }

    pub fn endpoint(&self) -> &quinn::Endpoint {
        &self.endpoint
    }

    /// One exchange on a connection this dialer opened (the seed's, before the client has
    /// links).
    pub async fn exchange_on(
        &self,
        conn: &quinn::Connection,
        node: NodeId,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response, Failure> {
        exchange_on(conn, node, request, self.max_frame, deadline).await
    }

    /// Dials a seed (a node of unknown id) and says hello; returns the node's id with the
    /// connection. The certificate must name the node the welcome claims to be.
    pub async fn dial_seed(
        &self,
        addr: SocketAddr,
        deadline: Instant,
    ) -> Result<(NodeId, quinn::Connection), Error> {
        let (conn, welcomed) = self
            .dial_named(None, addr, SEED_SERVER_NAME, deadline)
            .await?;
        if !certificate_names_node(&conn, welcomed.0) {
            conn.close(0u32.into(), b"certificate does not name the node");
            return Err(Error::Connect {
                node: Some(welcomed),
                addr,
                reason: format!(
                    "its certificate does not name the node it says it is ({})",
                    node_server_name(welcomed.0)
                ),
            });
        }
        Ok((welcomed, conn))
    }

    /// Dials node `node` (whose certificate the handshake checks) and says hello.
    async fn dial(
        &self,
        node: NodeId,
        addr: SocketAddr,
        deadline: Instant,
    ) -> Result<quinn::Connection, Error> {
        let (conn, welcomed) = self
            .dial_named(Some(node), addr, &node_server_name(node.0), deadline)
            .await?;
        if welcomed != node {
            conn.close(0u32.into(), b"unexpected node");
            return Err(Error::Connect {
                node: Some(node),
                addr,
                reason: format!("the node there is {welcomed}"),
            });
        }
        Ok(conn)
    }

    async fn dial_named(
        &self,
        node: Option<NodeId>,
        addr: SocketAddr,
        server_name: &str,
        deadline: Instant,
    ) -> Result<(quinn::Connection, NodeId), Error> {
        let limit = deadline.min(Instant::now() + self.connect_timeout);
        let fail = |reason: String| Error::Connect { node, addr, reason };
        let connecting = self
            .endpoint
            .connect(addr, server_name)
            .map_err(|e| fail(e.to_string()))?;
        let conn = match timeout_at(limit.into(), connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("no answer to the handshake in time".into())),
        };
        let hello = Request::Hello(self.hello.clone());
        // Errors of the exchange name the node; a seed's are reworded below, without an id.
        let named = node.unwrap_or(NodeId(0));
        let reply = match exchange_on(&conn, named, &hello, self.max_frame, limit).await {
            Ok(reply) => reply,
            Err(failure) => {
                conn.close(0u32.into(), b"hello failed");
                return Err(fail(format!("hello failed: {}", reason_of(&failure.error))));
            }
        };
        match reply.body {
            Body::Welcome(welcome) => Ok((conn, NodeId(welcome.node))),
            Body::Error(e) => {
                conn.close(0u32.into(), b"hello refused");
                Err(Error::Server {
                    node,
                    kind: e.kind,
                    applied: Applied::No,
                    message: e.message,
                })
            }
            other => {
                conn.close(0u32.into(), b"unexpected reply");
                Err(fail(format!(
                    "unexpected reply to the hello: {}",
                    body_name(&other)
                )))
            }
        }
    }
}

/// One node's connection, opened on demand.
pub(crate) struct NodeLink {
    node: NodeId,
    addr: SocketAddr,
    conn: Mutex<Option<quinn::Connection>>,
    /// Held while dialling: one dial at a time per node.
    dialing: tokio::sync::Mutex<()>,
    /// When the last dial failed (cleared by a successful one): the node is *suspect*, and
    /// requests try it only after the other nodes of their preference list.
    failed_at: Mutex<Option<Instant>>,
    /// A background dial of this suspect node is under way.
    probing: AtomicBool,
}

impl NodeLink {
    fn new(node: NodeId, addr: SocketAddr) -> NodeLink {
        NodeLink {
            node,
            addr,
            conn: Mutex::new(None),
            dialing: tokio::sync::Mutex::new(()),
            failed_at: Mutex::new(None),
            probing: AtomicBool::new(false),
        }
    }

    /// The open connection, if any.
    fn current(&self) -> Option<quinn::Connection> {
        lock(&self.conn)
            .as_ref()
            .filter(|c| c.close_reason().is_none())
            .cloned()
    }

    /// The connection, dialled if there is none (or the last one was lost).
    async fn connection(
        &self,
        dialer: &Dialer,
        deadline: Instant,
    ) -> Result<quinn::Connection, Error> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let timed_out = || Error::Connect {
            node: Some(self.node),
            addr: self.addr,
            reason: "no connection in time".into(),
        };
        let _dialing = timeout_at(deadline.into(), self.dialing.lock())
            .await
            .map_err(|_| timed_out())?;
        // Another request may have dialled while this one waited.
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        match dialer.dial(self.node, self.addr, deadline).await {
            Ok(conn) => {
                *lock(&self.conn) = Some(conn.clone());
                *lock(&self.failed_at) = None;
                Ok(conn)
            }
            Err(e) => {
                *lock(&self.failed_at) = Some(Instant::now());
                Err(e)
            }
        }
    }

    /// Whether the last dial failed and no connection is open.
    fn is_suspect(&self) -> bool {
        self.current().is_none() && lock(&self.failed_at).is_some()
    }

    /// Claims the background dial of a suspect node whose last failure is old enough.
    fn claim_probe(&self, now: Instant) -> bool {
        let due = self.current().is_none()
            && lock(&self.failed_at).is_some_and(|at| now.duration_since(at) >= PROBE_INTERVAL);
        due && !self.probing.swap(true, Ordering::AcqRel)
    }

    /// Dials this node in the background of the requests; a success clears the suspicion.
    pub async fn probe(&self, dialer: &Dialer) {
        let deadline = Instant::now() + dialer.connect_timeout;
        let _ = self.connection(dialer, deadline).await;
        self.probing.store(false, Ordering::Release);
    }

    fn close(&self) {
        if let Some(conn) = lock(&self.conn).take() {
            conn.close(0u32.into(), b"node left the topology");
        }
    }
}

/// Every node's link, kept in step with the topology.
pub(crate) struct Links {
    dialer: Dialer,
    links: RwLock<BTreeMap<NodeId, Arc<NodeLink>>>,
    #[cfg(feature = "test-hooks")]
    drop_replies: std::sync::atomic::AtomicU32,
}

impl Links {
    pub fn new(dialer: Dialer) -> Links {
        Links {
            dialer,
            links: RwLock::new(BTreeMap::new()),
            #[cfg(feature = "test-hooks")]
            drop_replies: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub fn dialer(&self) -> &Dialer {
        &self.dialer
    }

    /// Makes the links match `topology`: new nodes get a link, nodes whose address changed get
    /// a new one, nodes that left are closed.
    pub fn sync(&self, topology: &Topology) {
        let mut links = write(&self.links);
        let wanted: BTreeMap<NodeId, SocketAddr> = topology.nodes().collect();
        links.retain(|id, link| {
            let keep = wanted.get(id) == Some(&link.addr);
            if !keep {
                link.close();
            }
            keep
        });
        for (id, addr) in wanted {
            links
                .entry(id)
                .or_insert_with(|| Arc::new(NodeLink::new(id, addr)));
        }
    }

    /// Keeps a connection opened to a seed as the connection of the node it turned out to be,
    /// if that node is in the topology at that address.
    pub fn adopt(&self, node: NodeId, addr: SocketAddr, conn: quinn::Connection) {
        let link = read(&self.links).get(&node).cloned();
        match link {
            Some(link) if link.addr == addr => *lock(&link.conn) = Some(conn),
            _ => conn.close(0u32.into(), b"seed not in topology"),
        }
    }

    fn link(&self, node: NodeId) -> Option<Arc<NodeLink>> {
        read(&self.links).get(&node).cloned()
    }

    /// Moves suspect nodes (whose last dial failed) behind the others, keeping the order
    /// otherwise: the first *reachable* node of a preference list gets the request. Returns
    /// the suspects among `nodes` due for a background dial ([`NodeLink::probe`]).
    pub fn order(&self, nodes: &mut [NodeId]) -> Vec<Arc<NodeLink>> {
        let now = Instant::now();
        let links = read(&self.links);
        nodes.sort_by_key(|n| links.get(n).is_some_and(|l| l.is_suspect()));
        nodes
            .iter()
            .filter_map(|n| links.get(n))
            .filter(|l| l.claim_probe(now))
            .cloned()
            .collect()
    }

    /// Sends `request` to `node` and reads its reply, by `deadline`.
    pub async fn exchange(
        &self,
        node: NodeId,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response, Failure> {
        let link = self.link(node).ok_or_else(|| {
            Failure::not_sent(Error::InvalidRequest(format!(
                "{node} is not in the cluster's topology"
            )))
        })?;
        let conn = link
            .connection(&self.dialer, deadline)
            .await
            .map_err(Failure::not_sent)?;
        let reply = exchange_on(&conn, node, request, self.dialer.max_frame, deadline).await?;
        #[cfg(feature = "test-hooks")]
        if matches!(request, Request::Op(_) | Request::Batch(_)) && self.take_dropped_reply() {
            return Err(Failure::lost(node, "reply dropped by the test hook"));
        }
        Ok(reply)
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        for link in read(&self.links).values() {
            link.close();
        }
    }

    #[cfg(feature = "test-hooks")]
    pub fn drop_next_replies(&self, n: u32) {
        self.drop_replies
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(feature = "test-hooks")]
    fn take_dropped_reply(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.drop_replies
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// One exchange on an open connection: a new stream, the request frame, the reply frame.
async fn exchange_on(
    conn: &quinn::Connection,
    node: NodeId,
    request: &Request,
    max_frame: usize,
    deadline: Instant,
) -> Result<Response, Failure> {
    let frame = encode_frame(request, max_frame).map_err(|e| {
        Failure::not_sent(Error::InvalidRequest(format!(
            "cannot encode the request: {e}"
        )))
    })?;
    let deadline = tokio::time::Instant::from(deadline);
    let (mut send, mut recv) = match timeout_at(deadline, conn.open_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => {
            return Err(Failure::not_sent(Error::Connect {
                node: Some(node),
                addr: conn.remote_address(),
                reason: format!("cannot open a stream: {e}"),
            }))
        }
        Err(_) => {
            return Err(Failure::not_sent(Error::Connect {
                node: Some(node),
                addr: conn.remote_address(),
                reason: "no stream available in time (the node limits concurrent requests)".into(),
            }))
        }
    };
    let exchange = async {
        write_encoded(&mut send, &frame)
            .await
            .map_err(|e| Failure::lost(node, e))?;
        // The request is complete: let the node see the end of the stream.
        send.finish().map_err(|e| Failure::lost(node, e))?;
        match read_frame::<Response>(&mut recv, max_frame).await {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(Failure::lost(
                node,
                "the node closed the stream without a reply",
            )),
            Err(e @ (FrameError::Read { .. } | FrameError::Truncated { .. })) => {
                Err(Failure::lost(node, e))
            }
            Err(e) => Err(Failure {
                delivery: Delivery::Unknown,
                error: Error::Protocol {
                    node,
                    reason: format!("unreadable reply: {e}"),
                    applied: Applied::Maybe,
                },
            }),
        }
    };
    let outcome = timeout_at(deadline, exchange).await;
    match outcome {
        Ok(result) => result,
        Err(_) => {
            // The node may still be working on it; tell it nobody waits for the answer.
            let _ = recv.stop(0u32.into());
            Err(Failure::lost(node, "no reply in time"))
        }
    }
}

/// What went wrong, without the node it went wrong with.
fn reason_of(error: &Error) -> String {
    match error {
        Error::Connect { reason, .. }
        | Error::ConnectionLost { reason, .. }
        | Error::Protocol { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// A short name of a reply's kind, for error messages.
pub(crate) fn body_name(body: &Body) -> &'static str {
    match body {
        Body::Welcome(_) => "welcome",
        Body::Topology(_) => "topology",
        Body::Namespace(_) => "namespace",
        Body::Op(_) => "op",
        Body::Batch(_) => "batch",
        Body::Scan(_) => "scan",
        Body::Error(_) => "error",
    }
}

/// Bytes of a key or value, copied once into the request.
pub(crate) fn bytes(data: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(data.as_ref())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
