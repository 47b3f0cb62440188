//! Peer transport: authenticated, ordered message delivery between the nodes of a cluster.
//!
//! The node hands [`Mesh`] messages for other nodes and receives theirs; everything about QUIC,
//! TLS, framing and reconnecting stays in here. The module is generic over the message type, so
//! the replication protocol defines its messages elsewhere.
//!
//! # Layout
//!
//! - [`certs`] — the cluster PKI on disk: [`ClusterCa`] issues node certificates,
//!   [`NodeIdentity`] is what a node presents and trusts.
//! - [`tls`] — rustls/quinn server and client configuration, ALPN, keep-alive and idle timeout.
//! - [`frame`] — the wire codec for one message on a stream.
//! - [`config`] — [`PeerConfig`], defaults and validation.
//! - [`mesh`] — [`Mesh`], the handle: start, send, connection state and liveness, shutdown;
//!   [`Service`], another protocol served on the same endpoint by its own ALPN.
//! - [`detector`] — [`PhiAccrual`], the pure phi-accrual failure detector of one peer.
//! - `heartbeat` — the heartbeat datagram: its encoding, the sending and receiving loops.
//! - `connector` — one task per peer that dials, pumps the send queue, sends heartbeats and
//!   reconnects.
//! - `acceptor` — the accept loop and the per-connection readers, which feed the detectors.
//! - `handshake` — the hello exchange that binds a connection to a verified node id.
//! - `close`, `stop` — close codes and the shared stop signal.
//! - [`error`] — [`PeerError`] (set-up), [`SendError`] (not sent), [`FrameError`] (bad frame).
//!
//! # Wire format
//!
//! QUIC with ALPN `kvorum-peer/6` ([`PEER_ALPN`], numbered by the message schema version). The dialer opens one bidirectional stream per
//! connection; each side first sends a `Hello { node_id }` frame, then the dialer sends its
//! messages on that stream, one frame each, in order. A frame is
//! `[u32 big-endian body length][body]` with body `[version byte = 1][rmp-serde payload]`: the
//! messages compact (structs as arrays; the ALPN already pins the schema), the two handshake
//! frames named (structs as maps).
//! A body longer than `max_frame_bytes` (default 64 MiB) is refused before it is read; an unknown
//! version byte or an undecodable payload is an error. Any frame error closes the connection
//! with an application close code; nothing in the process panics.
//!
//! Besides the stream, the dialer sends a heartbeat every `heartbeat_interval_ms` as a QUIC
//! DATAGRAM on the same connection: `[version byte = 1][rmp-serde compact encoding of
//! Datagram::Heartbeat { seq }]` (no length prefix; at most 256 bytes). Heartbeats are mesh
//! internal and never reach the node's receiver. They travel outside the stream so that neither
//! a long send queue nor a receiver applying backpressure delays them (see `heartbeat`). A
//! datagram the receiver cannot decode still counts as a sign of life and is otherwise ignored.
//!
//! # Identity
//!
//! One CA per cluster. Node `id` owns the certificate whose DNS subject alternative name is
//! `n{id}.kvorum.internal`. Both sides of a peer connection present a certificate from the
//! cluster CA: the dialer checks the server certificate against the name of the node it dials;
//! the acceptor checks that the client certificate names the node id the client claims in its
//! hello, and that this id is a configured peer. Connections failing any check are closed before
//! a message is read. When the endpoint also serves a protocol open to clients without a
//! certificate (a [`Service`] with `anonymous`, such as the native client protocol), the TLS
//! layer lets such clients through and the peer protocol refuses them itself (close code
//! "not a configured peer"); a certificate from another CA still fails the TLS handshake.
//!
//! # Delivery semantics
//!
//! Messages from one sender arrive in the order they were sent, at most once. `send` never waits:
//! it fails at once when there is no live connection or the peer's bounded queue is full. Messages
//! queued on a connection that dies are dropped (see `connector`); callers rely on their own
//! timeouts for anything that was accepted by `send` but not answered.
//!
//! # Liveness
//!
//! `is_connected(peer)` is true while our outgoing connection is up; a vanished peer is noticed
//! only after the QUIC idle timeout. `is_up(peer)` additionally asks the peer's phi-accrual
//! failure detector, fed by everything arriving from the peer (heartbeats and messages), so a
//! crashed, paused or cut-off peer counts as down after a few heartbeat intervals, typically
//! well under a second with the defaults, while its connection may still look open.

pub mod certs;
pub mod config;
pub mod detector;
pub mod error;
pub mod frame;
pub mod mesh;
pub mod tls;

mod acceptor;
mod close;
mod connector;
mod handshake;
mod heartbeat;
mod stop;

#[cfg(test)]
mod tests;

pub use certs::{cert_names_node, node_dns_name, ClusterCa, NodeIdentity};
pub use config::PeerConfig;
pub use detector::{DetectorConfig, PhiAccrual};
pub use error::{FrameError, PeerError, SendError};
pub use mesh::{Mesh, PeerLiveness, Service};
pub use tls::{ClientCerts, PEER_ALPN};
