//! Errors of the peer transport.
//!
//! Three types, one per question a caller asks:
//! - [`PeerError`]: "could the mesh (or its certificates) be set up?" — returned by start-up,
//!   certificate and configuration functions;
//! - [`SendError`]: "was this message queued?" — every variant means *definitely not sent*, so a
//!   coordinator can answer `UNAVAILABLE` without guessing;
//! - [`FrameError`]: "is this frame well formed?" — returned by the wire codec; on a live stream it
//!   ends that stream's connection, never the process.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Setting up the peer transport failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A certificate or key file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Creating the CA would overwrite existing files; a CA is never replaced silently because
    /// every node certificate depends on it.
    #[error("refusing to overwrite existing file {path}")]
    AlreadyExists { path: PathBuf },
    /// A PEM file holds no usable certificate or key, or one that does not fit the others.
    #[error("invalid PEM file {path}: {reason}")]
    InvalidPem { path: PathBuf, reason: String },
    /// A node certificate does not belong to the cluster or to the node it is loaded for.
    #[error("certificate {path} is not valid for node {node_id}: {reason}")]
    WrongIdentity {
        path: PathBuf,
        node_id: u64,
        reason: String,
    },
    /// Generating or signing a certificate failed.
    #[error("certificate generation failed: {source}")]
    CertGen {
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused the certificates or keys.
    #[error("TLS configuration failed: {source}")]
    Tls {
        #[source]
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built from the CA.
    #[error("client certificate verifier: {source}")]
    Verifier {
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// The TLS configuration lacks the cipher suite QUIC needs for its initial packets.
    #[error("TLS configuration unusable for QUIC: {source}")]
    QuicCrypto {
        #[source]
        source: quinn::crypto::rustls::NoInitialCipherSuite,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid peer configuration: {field}: {reason}")]
    Config { field: &'static str, reason: String },
    /// The QUIC endpoint could not bind its UDP socket.
    #[error("cannot bind peer endpoint to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The mesh has been shut down; it accepts no new peers.
    #[error("the peer mesh is shut down")]
    Stopped,
}

/// A message was not queued for sending. Every variant means the message was definitely not
/// sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// There is no live, authenticated connection to the peer right now.
    #[error("no connection to peer {peer}")]
    NotConnected { peer: u64 },
    /// The peer's bounded send queue is full (the peer or the network is slower than we are).
    #[error("send queue for peer {peer} is full")]
    QueueFull { peer: u64 },
    /// The node id is not a configured peer (messages to ourselves are never sent over the wire).
    #[error("node {peer} is not a configured peer")]
    UnknownPeer { peer: u64 },
    /// The message could not be framed (too large, or not serializable).
    #[error("cannot frame message for peer {peer}: {source}")]
    Frame {
        peer: u64,
        #[source]
        source: FrameError,
    },
}

pub use kvorum_wire::FrameError;
