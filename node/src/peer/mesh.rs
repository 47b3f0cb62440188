//! [`Mesh`]: the handle the node uses to talk to its peers.
//!
//! **Two connections per pair.** Every node dials every peer and sends on the connection it
//! dialed; it only reads from connections peers dialed to it. So each pair of nodes has two
//! connections, one per direction. The alternative — one shared connection with a tie-break on
//! who dials — needs a protocol to resolve simultaneous dials and a way to hand a connection
//! between the dialing and accepting code paths. With one connection per direction the sender
//! owns its connection outright: its lifetime is what `is_connected` reports, its single stream
//! keeps messages in order, and a restart on either side heals without coordination. The cost, a
//! second QUIC connection per pair, is a few kilobytes and one keep-alive per interval.
//!
//! **Liveness.** Two signals per peer. `is_connected`: our outgoing connection is live, which
//! QUIC only revokes after the idle timeout. `is_up`: connected *and* the peer's failure detector
//! (fed by the heartbeats and messages arriving on the peer's own connection to us) still trusts
//! it. A paused process or a dropped return path keeps a connection nominally open until the
//! idle timeout but silences the peer at once, so `is_up` turns false after a few heartbeat
//! intervals instead. Callers choosing replicas should use `is_up`.
//!
//! **Services.** The endpoint may serve other protocols besides the peer protocol, each by its
//! own ALPN ([`Service`]): the accept loop completes the TLS handshake and hands such a
//! connection, untouched, to the service's channel. The mesh knows nothing of what is said on
//! it (the node's native client protocol is one such service).
//!
//! **Tasks.** `start` spawns the accept loop and one connector per peer. All are owned by the mesh
//! (one `JoinSet`) and all watch the same stop signal: the owner's `watch` channel, or
//! [`Mesh::shutdown`], which also waits for them and releases the UDP port. Dropping the last
//! `Mesh` handle aborts them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, info_span, warn, Instrument};

use super::acceptor::run_accept_loop;
use super::certs::NodeIdentity;
use super::close::CloseReason;
use super::config::PeerConfig;
use super::connector::{run_connector, DialSettings, PeerSlot};
use super::detector::DetectorConfig;
use super::error::{PeerError, SendError};
use super::frame::{encode_frame_as, Payload};
use super::stop::Stop;
use super::tls::{self, ClientCerts, PEER_ALPN};

/// Another protocol served on the mesh's QUIC endpoint: connections that negotiate `alpn` are
/// handed to `connections` once their TLS handshake is complete.
#[derive(Clone, Debug)]
pub struct Service {
    /// The protocol's ALPN; must differ from [`PEER_ALPN`] and from every other service's.
    pub alpn: Vec<u8>,
    /// Whether clients without a certificate of the cluster CA may connect. If any service
    /// allows them, client certificates become optional at the TLS layer; the peer protocol and
    /// services that do not allow them still refuse such connections before anything is read.
    pub anonymous: bool,
    /// Where accepted connections go. A full channel makes the accept task wait (bounded by
    /// `max_incoming`); a closed one gets connections closed.
    pub connections: mpsc::Sender<quinn::Connection>,
}

/// State shared by the mesh handle and the incoming-side tasks.
pub(super) struct Shared<M> {
    pub self_id: u64,
    pub max_frame_bytes: usize,
    pub handshake_timeout: Duration,
    pub max_incoming: usize,
    /// Other protocols served on the endpoint.
    pub services: Vec<Service>,
    /// Configured peers; only these may connect, only these can be sent to.
    peers: RwLock<HashMap<u64, Arc<PeerSlot>>>,
    /// The live incoming connection of each peer.
    incoming: Mutex<HashMap<u64, quinn::Connection>>,
    /// Where received messages go.
    pub inbound: mpsc::Sender<(u64, M)>,
}

impl<M> Shared<M> {
    pub(super) fn is_peer(&self, id: u64) -> bool {
        read(&self.peers).contains_key(&id)
    }

    pub(super) fn slot(&self, id: u64) -> Option<Arc<PeerSlot>> {
        read(&self.peers).get(&id).cloned()
    }

    /// Records `conn` as the incoming connection of `peer`; returns the one it replaces.
    pub(super) fn register_incoming(
        &self,
        peer: u64,
        conn: &quinn::Connection,
    ) -> Option<quinn::Connection> {
        lock(&self.incoming).insert(peer, conn.clone())
    }

    /// Forgets `conn` unless a newer connection of the same peer already replaced it.
    pub(super) fn deregister_incoming(&self, peer: u64, conn: &quinn::Connection) {
        let mut incoming = lock(&self.incoming);
        if incoming.get(&peer).map(quinn::Connection::stable_id) == Some(conn.stable_id()) {
            incoming.remove(&peer);
        }
    }
}

struct Inner<M> {
    shared: Arc<Shared<M>>,
    dial: Arc<DialSettings>,
    /// Settings of each new peer's failure detector.
    detector: DetectorConfig,
    local_addr: SocketAddr,
    close_grace: Duration,
    stop_tx: watch::Sender<bool>,
    stop: Stop,
    /// The runtime the mesh was started on; `add_peer` spawns there even when called from
    /// outside it.
    runtime: tokio::runtime::Handle,
    /// Every background task of the mesh. Dropping it (with the last handle) aborts them.
    tasks: Mutex<JoinSet<()>>,
    /// Taken by `shutdown`, so the UDP socket is released even while handles remain.
    endpoint: Mutex<Option<quinn::Endpoint>>,
}

/// The peer mesh of one node: authenticated QUIC connections to every configured peer.
///
/// Cheap to clone; all clones drive the same mesh.
pub struct Mesh<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Clone for Mesh<M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Mesh<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("self_id", &self.inner.shared.self_id)
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

impl<M> Mesh<M>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// Binds the QUIC endpoint (server and client on one UDP socket), starts the accept loop and
    /// one connector per configured peer. Messages from authenticated peers arrive on the
    /// returned receiver as `(sender id, message)`, in order per sender.
    ///
    /// Setting `shutdown` to `true` stops all tasks; dropping its sender does not.
    pub async fn start(
        cfg: PeerConfig,
        identity: NodeIdentity,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Self, mpsc::Receiver<(u64, M)>), PeerError> {
        Self::start_serving(cfg, identity, shutdown, Vec::new()).await
    }

    /// [`Mesh::start`], with other protocols served on the same endpoint ([`Service`]).
    pub async fn start_serving(
        cfg: PeerConfig,
        identity: NodeIdentity,
        shutdown: watch::Receiver<bool>,
        services: Vec<Service>,
    ) -> Result<(Self, mpsc::Receiver<(u64, M)>), PeerError> {
        cfg.validate()?;
        check_services(&services)?;
        if identity.node_id() != cfg.self_id {
            return Err(PeerError::Config {
                field: "self_id",
                reason: format!(
                    "is {} but the node certificate belongs to node {}",
                    cfg.self_id,
                    identity.node_id()
                ),
            });
        }
        let tuning = cfg.tuning();
        let mut alpns: Vec<&[u8]> = vec![PEER_ALPN];
        alpns.extend(services.iter().map(|s| s.alpn.as_slice()));
        let client_certs = match services.iter().any(|s| s.anonymous) {
            true => ClientCerts::Optional,
            false => ClientCerts::Required,
        };
        let server = tls::server_config(&identity, &alpns, client_certs, &tuning)?;
        let client = tls::client_config(&identity, PEER_ALPN, &tuning)?;
        let endpoint =
            quinn::Endpoint::server(server, cfg.listen).map_err(|source| PeerError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let local_addr = endpoint.local_addr().map_err(|source| PeerError::Bind {
            addr: cfg.listen,
            source,
        })?;

        let (inbound_tx, inbound_rx) = mpsc::channel(cfg.recv_queue_len);
        let shared = Arc::new(Shared {
            self_id: cfg.self_id,
            max_frame_bytes: cfg.max_frame_bytes,
            handshake_timeout: cfg.handshake_timeout(),
            max_incoming: cfg.max_incoming,
            services,
            peers: RwLock::new(HashMap::new()),
            incoming: Mutex::new(HashMap::new()),
            inbound: inbound_tx,
        });
        let dial = Arc::new(DialSettings {
            self_id: cfg.self_id,
            client,
            send_queue_len: cfg.send_queue_len,
            handshake_timeout: cfg.handshake_timeout(),
            backoff: cfg.backoff(),
            heartbeat_interval: cfg.heartbeat_interval(),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = Stop::new(stop_rx, shutdown);

        let mut tasks = JoinSet::new();
        let span = info_span!("peer-accept", node = cfg.self_id, addr = %local_addr);
        tasks.spawn(
            run_accept_loop(endpoint.clone(), shared.clone(), stop.clone()).instrument(span),
        );
        let mesh = Self {
            inner: Arc::new(Inner {
                shared,
                dial,
                detector: cfg.detector(),
                local_addr,
                close_grace: cfg.close_grace(),
                stop_tx,
                stop,
                runtime: tokio::runtime::Handle::current(),
                tasks: Mutex::new(tasks),
                endpoint: Mutex::new(Some(endpoint)),
            }),
        };
        for (id, addr) in cfg.peers {
            mesh.add_peer(id, addr)?;
        }
        Ok((mesh, inbound_rx))
    }

    /// Adds a peer: it may connect to us from now on, and a connector starts dialing it.
    pub fn add_peer(&self, id: u64, addr: SocketAddr) -> Result<(), PeerError> {
        let inner = &self.inner;
        let shared = &inner.shared;
        let endpoint = lock(&inner.endpoint).clone().ok_or(PeerError::Stopped)?;
        if inner.stop.is_set() {
            return Err(PeerError::Stopped);
        }
        if id == shared.self_id {
            return Err(PeerError::Config {
                field: "peers",
                reason: format!("cannot add this node itself ({id}) as a peer"),
            });
        }
        let slot = Arc::new(PeerSlot::new(id, addr, inner.detector));
        {
            let mut peers = write(&shared.peers);
            if peers.contains_key(&id) {
                return Err(PeerError::Config {
                    field: "peers",
                    reason: format!("node {id} is already a peer"),
                });
            }
            peers.insert(id, slot.clone());
        }
        let span = info_span!("peer-connector", node = shared.self_id, peer = id, addr = %addr);
        let connector =
            run_connector(slot, endpoint, inner.dial.clone(), inner.stop.clone()).instrument(span);
        lock(&inner.tasks).spawn_on(connector, &inner.runtime);
        Ok(())
    }

    /// Queues `msg` for `to` without waiting. Every error means the message was definitely not
    /// sent: no live connection (`NotConnected`), a full queue (`QueueFull`), an unknown peer, or
    /// a message that cannot be framed. `Ok` means queued on a live connection, not delivered.
    pub fn send(&self, to: u64, msg: &M) -> Result<(), SendError> {
        let slot = self
            .inner
            .shared
            .slot(to)
            .ok_or(SendError::UnknownPeer { peer: to })?;
        // Fail fast before paying for encoding.
        if !slot.is_connected() {
            return Err(SendError::NotConnected { peer: to });
        }
        let frame = encode_frame_as(msg, self.inner.shared.max_frame_bytes, Payload::Compact)
            .map_err(|source| SendError::Frame { peer: to, source })?;
        slot.try_send(frame)
    }
}

impl<M> Mesh<M> {
    /// Whether a live, authenticated connection to `peer` exists right now (one we dialed and the
    /// peer accepted).
    pub fn is_connected(&self, peer: u64) -> bool {
        self.inner
            .shared
            .slot(peer)
            .is_some_and(|slot| slot.is_connected())
    }

    /// The peers [`Mesh::is_connected`] is true for, in ascending order.
    pub fn connected_peers(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = read(&self.inner.shared.peers)
            .iter()
            .filter(|(_, slot)| slot.is_connected())
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether `peer` should be counted on right now: our connection to it is live
    /// ([`Mesh::is_connected`]) and its failure detector has heard from it recently enough
    /// (phi below `phi_threshold`). False for unknown peers and for peers never heard from.
    pub fn is_up(&self, peer: u64) -> bool {
        self.inner.shared.slot(peer).is_some_and(|slot| {
            let (_, available) = slot.suspicion(Instant::now());
            slot.is_connected() && available
        })
    }

    /// The peers [`Mesh::is_up`] is true for, in ascending order.
    pub fn up_peers(&self) -> Vec<u64> {
        self.liveness()
            .into_iter()
            .filter(|(_, liveness)| liveness.up)
            .map(|(id, _)| id)
            .collect()
    }

    /// Liveness of every configured peer, in ascending id order (for status views and logs).
    pub fn liveness(&self) -> Vec<(u64, PeerLiveness)> {
        let now = Instant::now();
        let mut all: Vec<(u64, PeerLiveness)> = read(&self.inner.shared.peers)
            .iter()
            .map(|(id, slot)| {
                let connected = slot.is_connected();
                let (phi, available) = slot.suspicion(now);
                let up = connected && available;
                (*id, PeerLiveness { connected, phi, up })
            })
            .collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// The address the endpoint is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// This node's id.
    pub fn self_id(&self) -> u64 {
        self.inner.shared.self_id
    }

    /// Stops every task, closes all connections and drops the endpoint, which releases the UDP
    /// socket as soon as quinn has finished closing the connections (immediately for live ones;
    /// a few probe timeouts for one that was still being dialed). Waits at most `close_grace_ms`
    /// for that. Queued messages that were not yet written are dropped. Idempotent; other
    /// handles see a stopped mesh.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.stop_tx.send_replace(true);
        let started = tokio::time::Instant::now();
        let mut tasks = std::mem::take(&mut *lock(&inner.tasks));
        while let Some(done) = tasks.join_next().await {
            if let Err(error) = done {
                warn!(node = inner.shared.self_id, %error, "peer task failed");
            }
        }
        debug!(
            node = inner.shared.self_id,
            waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "peer tasks stopped"
        );
        let endpoint = lock(&inner.endpoint).take();
        if let Some(endpoint) = endpoint {
            let shutdown = CloseReason::Shutdown;
            endpoint.close(shutdown.code(), shutdown.text().as_bytes());
            // Let the close frames go out and be acknowledged. Connections still being dialed
            // linger in quinn's closing state for three probe timeouts; they are not waited for
            // beyond the grace period (the UDP socket is released once they are gone).
            let started = tokio::time::Instant::now();
            let idle = tokio::time::timeout(inner.close_grace, endpoint.wait_idle()).await;
            debug!(
                node = inner.shared.self_id,
                drained = idle.is_ok(),
                waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "endpoint closed"
            );
        }
    }
}

/// Services need distinct, non-empty ALPNs other than the peer protocol's.
fn check_services(services: &[Service]) -> Result<(), PeerError> {
    for (i, service) in services.iter().enumerate() {
        let clash = service.alpn == PEER_ALPN
            || services[..i].iter().any(|other| other.alpn == service.alpn);
        if service.alpn.is_empty() || clash {
            return Err(PeerError::Config {
                field: "services",
                reason: format!(
                    "ALPN {:?} is empty or already served",
                    String::from_utf8_lossy(&service.alpn)
                ),
            });
        }
    }
    Ok(())
}

/// What the mesh believes about one peer's liveness.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerLiveness {
    /// Our outgoing connection to the peer is live ([`Mesh::is_connected`]).
    pub connected: bool,
    /// The failure detector's suspicion: near 0 just after hearing from the peer, growing with
    /// its silence; `f64::INFINITY` if the peer was never heard from.
    pub phi: f64,
    /// `connected` and `phi` below the threshold ([`Mesh::is_up`]).
    pub up: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Guarded values are replaced whole, never left half-updated: a poisoned lock is usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
