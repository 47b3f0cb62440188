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
    /// Streams whose last exchange ended cleanly, ready for the next request, with the
    /// `stable_id` of the connection they belong to (at most [`MAX_IDLE_STREAMS`]).
    idle: Mutex<Vec<IdleStream>>,
}

/// A stream kept for the next request: its connection's `stable_id` and its two halves.
type IdleStream = (usize, quinn::SendStream, quinn::RecvStream);

/// Idle streams kept per node. A stream is reused for request after request (the node serves
/// a stream's requests one after another), which spares opening and accepting one per request:
/// measurably less latency on every exchange (docs/BENCHMARKS.md). Each idle stream holds one
/// of the node's `[native] max_streams_per_connection` slots.
const MAX_IDLE_STREAMS: usize = 32;

impl NodeLink {
    fn new(node: NodeId, addr: SocketAddr) -> NodeLink {
        NodeLink {
            node,
            addr,
            conn: Mutex::new(None),
            dialing: tokio::sync::Mutex::new(()),
            failed_at: Mutex::new(None),
            probing: AtomicBool::new(false),
            idle: Mutex::new(Vec::new()),
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

    /// An idle stream of `conn`, if one is kept (streams of an older connection are dropped).
    fn idle_stream(&self, conn: &quinn::Connection) -> Option<Streams> {
        let mut idle = lock(&self.idle);
        idle.retain(|(id, _, _)| *id == conn.stable_id());
        idle.pop().map(|(_, send, recv)| (send, recv))
    }

    /// Keeps a stream whose exchange ended cleanly for the next request.
    fn keep_stream(&self, conn: &quinn::Connection, (send, recv): Streams) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE_STREAMS {
            idle.push((conn.stable_id(), send, recv));
        }
    }

    fn close(&self) {
        lock(&self.idle).clear();
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
        let stream = match link.idle_stream(&conn) {
            Some(stream) => stream,
            None => open_stream(&conn, node, deadline).await?,
        };
        let max = self.dialer.max_frame;
        let (reply, stream) = exchange_stream(node, stream, request, max, deadline).await?;
        link.keep_stream(&conn, stream);
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

/// The two halves of a bidirectional stream.
type Streams = (quinn::SendStream, quinn::RecvStream);

/// One exchange on a fresh stream of `conn`, finished after the request (the hello, and
/// requests to a seed before the client has links).
async fn exchange_on(
    conn: &quinn::Connection,
    node: NodeId,
    request: &Request,
    max_frame: usize,
    deadline: Instant,
) -> Result<Response, Failure> {
    let (mut send, recv) = open_stream(conn, node, deadline).await?;
    send_request(node, &mut send, request, max_frame, deadline).await?;
    // The request is complete: let the node see the end of the stream.
    send.finish().map_err(|e| Failure::lost(node, e))?;
    read_reply(node, recv, max_frame, deadline)
        .await
        .map(|(reply, _)| reply)
}

/// Opens a stream on `conn` by `deadline`; nothing is sent yet.
async fn open_stream(
    conn: &quinn::Connection,
    node: NodeId,
    deadline: Instant,
) -> Result<Streams, Failure> {
    match timeout_at(deadline.into(), conn.open_bi()).await {
        Ok(Ok(streams)) => Ok(streams),
        Ok(Err(e)) => Err(Failure::not_sent(Error::Connect {
            node: Some(node),
            addr: conn.remote_address(),
            reason: format!("cannot open a stream: {e}"),
        })),
        Err(_) => Err(Failure::not_sent(Error::Connect {
            node: Some(node),
            addr: conn.remote_address(),
            reason: "no stream available in time (the node limits concurrent requests)".into(),
        })),
    }
}

fn encode(request: &Request, max_frame: usize) -> Result<bytes::Bytes, Failure> {
    encode_frame(request, max_frame).map_err(|e| {
        Failure::not_sent(Error::InvalidRequest(format!(
            "cannot encode the request: {e}"
        )))
    })
}

/// Sends `request` on an open stream (fresh or kept) and reads its reply, by `deadline`; gives
/// the stream back for the next request when the exchange ended cleanly.
async fn exchange_stream(
    node: NodeId,
    (mut send, recv): Streams,
    request: &Request,
    max_frame: usize,
    deadline: Instant,
) -> Result<(Response, Streams), Failure> {
    send_request(node, &mut send, request, max_frame, deadline).await?;
    let (reply, recv) = read_reply(node, recv, max_frame, deadline).await?;
    Ok((reply, (send, recv)))
}

/// Writes one request frame by `deadline`.
async fn send_request(
    node: NodeId,
    send: &mut quinn::SendStream,
    request: &Request,
    max_frame: usize,
    deadline: Instant,
) -> Result<(), Failure> {
    let frame = encode(request, max_frame)?;
    match timeout_at(deadline.into(), write_encoded(send, &frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::lost(node, e)),
        Err(_) => Err(Failure::lost(node, "no reply in time")),
    }
}

/// Reads one reply frame by `deadline`. A stream whose read failed in any way is stopped and
/// dropped: a late reply must never be read as the answer to a later request.
async fn read_reply(
    node: NodeId,
    mut recv: quinn::RecvStream,
    max_frame: usize,
    deadline: Instant,
) -> Result<(Response, quinn::RecvStream), Failure> {
    let read = timeout_at(
        deadline.into(),
        read_frame::<Response>(&mut recv, max_frame),
    )
    .await;
    let failure = match read {
        Ok(Ok(Some(reply))) => return Ok((reply, recv)),
        Ok(Ok(None)) => Failure::lost(node, "the node closed the stream without a reply"),
        Ok(Err(e @ (FrameError::Read { .. } | FrameError::Truncated { .. }))) => {
            Failure::lost(node, e)
        }
        Ok(Err(e)) => Failure {
            delivery: Delivery::Unknown,
            error: Error::Protocol {
                node,
                reason: format!("unreadable reply: {e}"),
                applied: Applied::Maybe,
            },
        },
        // The node may still be working on it.
        Err(_) => Failure::lost(node, "no reply in time"),
    };
    // Tell the node nobody waits for this stream's answer.
    let _ = recv.stop(0u32.into());
    Err(failure)
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
