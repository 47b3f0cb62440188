//! TLS and QUIC configuration for the peer endpoint.
//!
//! Both directions authenticate with the cluster CA and nothing else:
//! - the server side verifies a client certificate against the cluster CA
//!   (`WebPkiClientVerifier`): one from another CA fails the TLS handshake. Whether a client may
//!   present none is [`ClientCerts`]: a node serving only the peer protocol requires one; a node
//!   that also serves a protocol open to clients without one (the native client protocol, which
//!   authenticates with a password instead) makes it optional at the TLS layer, and the peer
//!   protocol then refuses a certificate-less connection itself, before reading anything (see
//!   `handshake`);
//! - the client side trusts only the cluster CA and checks the server certificate against the
//!   name `n{id}.kvorum.internal` of the peer it meant to dial, so it cannot be talked into
//!   sending a peer's messages to another node.
//!
//! The crypto provider is passed explicitly (`builder_with_provider`, ring) instead of relying on
//! a process-wide default: the binary compiles in exactly one provider and never depends on
//! which code happened to install one first. QUIC needs TLS 1.3, so only that version is offered.
//!
//! ALPN selects the protocol spoken on a connection. The server lists every protocol it serves
//! ([`PEER_ALPN`] and those of the mesh's services, such as the native client protocol's), and
//! the accept loop dispatches on the negotiated value. A client offering none of them fails the
//! TLS handshake.

use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::certs::NodeIdentity;
use super::error::PeerError;
use super::heartbeat::{DATAGRAM_RECEIVE_BUFFER_BYTES, MAX_DATAGRAM_BYTES};

/// ALPN of the node-to-node protocol.
///
/// The number is the peer message schema's version
/// ([`kvorum_consistency::message::PEER_PROTOCOL_VERSION`]): nodes of builds that speak different
/// message schemas refuse each other at the handshake instead of failing on every message.
pub const PEER_ALPN: &[u8] = b"kvorum-peer/6";

#[cfg(test)]
mod alpn_tests {
    #[test]
    fn the_alpn_names_the_message_schema_version() {
        let expected = format!(
            "kvorum-peer/{}",
            kvorum_consistency::message::PEER_PROTOCOL_VERSION
        );
        assert_eq!(super::PEER_ALPN, expected.as_bytes());
    }
}

/// Liveness settings of every peer connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportTuning {
    /// How often an otherwise idle connection sends a keep-alive (must be below `idle_timeout`).
    pub keep_alive: Duration,
    /// How long without any packet from the peer before the connection is considered dead. This
    /// bounds how long a crashed or partitioned peer still looks connected.
    pub idle_timeout: Duration,
}

impl Default for TransportTuning {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(3),
        }
    }
}

/// Whether the server side demands a client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCerts {
    /// A client without a certificate of the cluster CA fails the TLS handshake.
    Required,
    /// A client may present none; one it presents must still come from the cluster CA. Every
    /// protocol served must then check for itself whether it needs one.
    Optional,
}

/// The crypto provider used for every peer connection (ring).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server side of the endpoint: presents the node certificate, verifies client certificates
/// against the cluster CA (demanding one or not, per `client_certs`), and offers
/// `alpn_protocols`.
pub fn server_config(
    identity: &NodeIdentity,
    alpn_protocols: &[&[u8]],
    client_certs: ClientCerts,
    tuning: &TransportTuning,
) -> Result<quinn::ServerConfig, PeerError> {
    let provider = crypto_provider();
    let roots = Arc::new(cluster_roots(identity)?);
    let builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
    let builder = match client_certs {
        ClientCerts::Required => builder,
        ClientCerts::Optional => builder.allow_unauthenticated(),
    };
    let verifier = builder
        .build()
        .map_err(|source| PeerError::Verifier { source })?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(tls_err)?;
    tls.alpn_protocols = alpn_protocols.iter().map(|p| p.to_vec()).collect();
    let quic =
        QuicServerConfig::try_from(tls).map_err(|source| PeerError::QuicCrypto { source })?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    // A peer connection carries one client-opened bidirectional stream (see `handshake`); no
    // other streams are allowed, so a peer cannot pile up unread streams. A service that needs
    // more raises the limit on its own connections once it has admitted the client
    // (`quinn::Connection::set_max_concurrent_bi_streams`), so a stranger never gets more.
    let mut transport = transport(tuning)?;
    transport.max_concurrent_bidi_streams(VarInt::from_u32(1));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    // The dialer's heartbeats arrive as datagrams; bound what may be buffered.
    transport.datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER_BYTES));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Client side of the endpoint: presents the node certificate, trusts only the cluster CA and
/// speaks `alpn`.
pub fn client_config(
    identity: &NodeIdentity,
    alpn: &[u8],
    tuning: &TransportTuning,
) -> Result<quinn::ClientConfig, PeerError> {
    let roots = cluster_roots(identity)?;
    let mut tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(tls_err)?;
    tls.alpn_protocols = vec![alpn.to_vec()];
    let quic =
        QuicClientConfig::try_from(tls).map_err(|source| PeerError::QuicCrypto { source })?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    // The server never opens streams towards the dialer, nor sends it datagrams. quinn only
    // lets a side send datagrams if it accepts some, so the smallest useful buffer is kept
    // (nothing reads it; quinn drops the oldest when it is full).
    let mut transport = transport(tuning)?;
    transport.max_concurrent_bidi_streams(VarInt::from_u32(0));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    transport.datagram_receive_buffer_size(Some(MAX_DATAGRAM_BYTES));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// RTT assumed before the first measurement on a connection.
const INITIAL_RTT: Duration = Duration::from_millis(50);

fn transport(tuning: &TransportTuning) -> Result<TransportConfig, PeerError> {
    if tuning.keep_alive.is_zero() || tuning.keep_alive >= tuning.idle_timeout {
        return Err(PeerError::Config {
            field: "keep_alive_ms",
            reason: format!(
                "must be above 0 and below the idle timeout ({} ms), got {} ms",
                tuning.idle_timeout.as_millis(),
                tuning.keep_alive.as_millis()
            ),
        });
    }
    let idle = IdleTimeout::try_from(tuning.idle_timeout).map_err(|e| PeerError::Config {
        field: "idle_timeout_ms",
        reason: e.to_string(),
    })?;
    let mut transport = TransportConfig::default();
    // QUIC's default first RTT guess (333 ms) makes a dial whose first packet is lost (a peer
    // that is just restarting) wait seconds for the retransmission; cluster links are LAN-like.
    transport.initial_rtt(INITIAL_RTT);
    transport.keep_alive_interval(Some(tuning.keep_alive));
    transport.max_idle_timeout(Some(idle));
    Ok(transport)
}

fn cluster_roots(identity: &NodeIdentity) -> Result<RootCertStore, PeerError> {
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca_cert().clone()).map_err(tls_err)?;
    Ok(roots)
}

fn tls_err(source: rustls::Error) -> PeerError {
    PeerError::Tls { source }
}
