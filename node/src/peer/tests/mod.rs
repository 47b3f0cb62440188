//! End-to-end tests of the mesh over loopback QUIC, with certificates from throwaway CAs.
//!
//! Every test binds `127.0.0.1:0` and wires peers together with the real addresses. Timings are
//! shortened (keep-alive 100 ms, idle timeout 1 s) so failure detection is exercised quickly;
//! waits poll a condition against a generous deadline and never assert on speed.

#![allow(clippy::unwrap_used)]

mod auth;
mod compact;
mod exchange;
mod limits;
mod liveness;
mod reconnect;
mod relay;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicClientConfig;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::handshake::{Hello, HELLO_MAX_FRAME_BYTES};
use super::tls::crypto_provider;
use super::{frame, ClusterCa, Mesh, NodeIdentity, PeerConfig, PEER_ALPN};

/// The message type the tests send around.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Msg {
    pub seq: u64,
    pub text: String,
}

pub(super) fn msg(seq: u64) -> Msg {
    Msg {
        seq,
        text: format!("message {seq}"),
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub(super) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_ansi(false)
        .with_test_writer()
        .try_init();
}

/// A throwaway cluster CA in a temporary directory.
pub(super) struct Pki {
    dir: tempfile::TempDir,
    ca: ClusterCa,
    issued: AtomicU64,
}

impl Pki {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create(&dir.path().join("ca")).unwrap();
        Self {
            dir,
            ca,
            issued: AtomicU64::new(0),
        }
    }

    /// Issues a fresh certificate for `node_id`.
    pub(super) fn identity(&self, node_id: u64) -> NodeIdentity {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let dir: PathBuf = self.dir.path().join(format!("n{node_id}-{n}"));
        self.ca.issue_node(node_id, &dir).unwrap()
    }

    pub(super) fn ca_cert(&self) -> &CertificateDer<'static> {
        self.ca.cert_der()
    }
}

/// Short timings so that failure detection is quick in tests.
pub(super) fn fast_config(self_id: u64) -> PeerConfig {
    PeerConfig {
        keep_alive_ms: 100,
        idle_timeout_ms: 1_000,
        handshake_timeout_ms: 1_000,
        reconnect_backoff_ms: (20, 200),
        ..PeerConfig::new(self_id, SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

/// A started mesh with its receiver and shutdown signal.
pub(super) struct Node {
    pub mesh: Mesh<Msg>,
    pub rx: mpsc::Receiver<(u64, Msg)>,
    pub shutdown: watch::Sender<bool>,
}

impl Node {
    pub(super) async fn start(cfg: PeerConfig, identity: NodeIdentity) -> Self {
        init_tracing();
        let (shutdown, signal) = watch::channel(false);
        let (mesh, rx) = Mesh::start(cfg, identity, signal).await.unwrap();
        Self { mesh, rx, shutdown }
    }

    pub(super) fn id(&self) -> u64 {
        self.mesh.self_id()
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.mesh.local_addr()
    }
}

/// Makes every node a peer of every other.
pub(super) fn connect_all(nodes: &[&Node]) {
    for a in nodes {
        for b in nodes {
            if a.id() != b.id() {
                a.mesh.add_peer(b.id(), b.addr()).unwrap();
            }
        }
    }
}

/// Polls `cond` until it holds; panics with `what` after `within`.
pub(super) async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next received message; panics if none arrives within `within`.
pub(super) async fn recv(rx: &mut mpsc::Receiver<(u64, Msg)>, within: Duration) -> (u64, Msg) {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("timed out waiting for a message")
        .expect("receiver closed")
}

/// A client endpoint that is not a mesh: trusts `ca` and presents `cert` (or nothing).
pub(super) fn raw_client(
    ca: &CertificateDer<'static>,
    cert: Option<&NodeIdentity>,
) -> (quinn::Endpoint, quinn::ClientConfig) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
    let mut tls = match cert {
        Some(id) => builder
            .with_client_auth_cert(id.cert_chain().to_vec(), id.key().clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![PEER_ALPN.to_vec()];
    let config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    let endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    (endpoint, config)
}

/// A connection that completed the hello exchange by hand.
pub(super) struct RawSession {
    pub conn: quinn::Connection,
    pub send: quinn::SendStream,
    pub _recv: quinn::RecvStream,
    pub answer: Hello,
}

/// Dials node `server` at `addr` and sends a hello claiming to be `claimed`. On failure returns
/// why the connection ended, as seen by the client.
pub(super) async fn raw_hello(
    endpoint: &quinn::Endpoint,
    config: &quinn::ClientConfig,
    addr: SocketAddr,
    server: u64,
    claimed: u64,
) -> Result<RawSession, quinn::ConnectionError> {
    let name = super::node_dns_name(server);
    let conn = endpoint
        .connect_with(config.clone(), addr, &name)
        .unwrap()
        .await?;
    let attempt = async {
        let (mut send, mut recv) = conn.open_bi().await.ok()?;
        frame::write_frame(
            &mut send,
            &Hello { node_id: claimed },
            HELLO_MAX_FRAME_BYTES,
        )
        .await
        .ok()?;
        let answer: Hello = frame::read_frame(&mut recv, HELLO_MAX_FRAME_BYTES)
            .await
            .ok()??;
        Some((send, recv, answer))
    };
    match tokio::time::timeout(Duration::from_secs(3), attempt).await {
        Ok(Some((send, recv, answer))) => Ok(RawSession {
            conn,
            send,
            _recv: recv,
            answer,
        }),
        _ => Err(conn.closed().await),
    }
}
