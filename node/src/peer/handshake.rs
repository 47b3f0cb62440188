//! Connection set-up after TLS: who is on the other end, and do we both agree to talk.
//!
//! The dialer opens the connection's only stream (bidirectional) and sends a [`Hello`] naming
//! itself. The acceptor checks the claim against the TLS client certificate — the certificate,
//! already verified against the cluster CA by the handshake, must name exactly the claimed node,
//! and that node must be a configured peer — then answers with its own [`Hello`] and finishes its
//! half of the stream. Only after that answer does the dialer count the peer as connected, so
//! `is_connected` never reports a connection the other side is about to refuse (with TLS 1.3 the
//! client finishes its handshake before the server has judged the client certificate).
//!
//! The dialer already knows who answered: it dialed with the server name `n{id}.kvorum.internal`
//! and TLS verified the server certificate for that name.
//!
//! After the hello, the same stream carries the dialer's messages in order, one frame each.

use quinn::{Connection, RecvStream, SendStream};
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use super::certs::{cert_names_node, node_dns_name};
use super::close::CloseReason;
use super::error::FrameError;
use super::frame::{read_frame, write_frame};

/// Largest hello frame accepted. Far below `max_frame_bytes`: until the hello has been checked,
/// the other side is only known to hold some certificate of the cluster CA.
pub(super) const HELLO_MAX_FRAME_BYTES: usize = 256;

/// First frame in each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Hello {
    /// The sender's node id.
    pub node_id: u64,
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub(super) enum HandshakeError {
    #[error("cannot dial: {source}")]
    Connect {
        #[source]
        source: quinn::ConnectError,
    },
    #[error("connection failed: {source}")]
    Connection {
        #[source]
        source: quinn::ConnectionError,
    },
    #[error("hello exchange failed: {source}")]
    Frame {
        #[source]
        source: FrameError,
    },
    #[error("stream finished before the hello")]
    NoHello,
    #[error("no client certificate")]
    NoCertificate,
    #[error("node {claimed} is not a configured peer")]
    NotAPeer { claimed: u64 },
    #[error("client certificate does not name node {claimed}")]
    CertificateMismatch { claimed: u64 },
    #[error("expected node {expected} to answer, node {actual} did")]
    WrongPeer { expected: u64, actual: u64 },
}

impl HandshakeError {
    /// The close reason to send to the other side when we reject it.
    pub(super) fn close_reason(&self) -> CloseReason {
        match self {
            Self::NoCertificate | Self::NotAPeer { .. } | Self::CertificateMismatch { .. } => {
                CloseReason::NotAPeer
            }
            _ => CloseReason::Protocol,
        }
    }
}

impl From<FrameError> for HandshakeError {
    fn from(source: FrameError) -> Self {
        Self::Frame { source }
    }
}

impl From<quinn::ConnectionError> for HandshakeError {
    fn from(source: quinn::ConnectionError) -> Self {
        Self::Connection { source }
    }
}

/// A dialed and accepted connection: the stream our messages go out on.
pub(super) struct Dialed {
    pub conn: Connection,
    pub send: SendStream,
    /// Kept open (and unread) so that dropping it does not signal the acceptor to stop sending.
    pub recv: RecvStream,
}

/// Dials `peer` at `addr` and runs the dialer side of the hello exchange. The caller bounds it
/// with a timeout.
pub(super) async fn dial(
    endpoint: &quinn::Endpoint,
    client: &quinn::ClientConfig,
    self_id: u64,
    peer: u64,
    addr: std::net::SocketAddr,
) -> Result<Dialed, HandshakeError> {
    let connecting = endpoint
        .connect_with(client.clone(), addr, &node_dns_name(peer))
        .map_err(|source| HandshakeError::Connect { source })?;
    let conn = connecting.await?;
    let result = async {
        let (mut send, mut recv) = conn.open_bi().await?;
        write_frame(
            &mut send,
            &Hello { node_id: self_id },
            HELLO_MAX_FRAME_BYTES,
        )
        .await?;
        let answer: Hello = read_frame(&mut recv, HELLO_MAX_FRAME_BYTES)
            .await?
            .ok_or(HandshakeError::NoHello)?;
        if answer.node_id != peer {
            return Err(HandshakeError::WrongPeer {
                expected: peer,
                actual: answer.node_id,
            });
        }
        Ok((send, recv))
    }
    .await;
    match result {
        Ok((send, recv)) => Ok(Dialed { conn, send, recv }),
        Err(e) => {
            // If the acceptor refused us, its close reason is the useful part of the error.
            let e = match conn.close_reason() {
                Some(source) => HandshakeError::Connection { source },
                None => e,
            };
            e.close_reason().close(&conn);
            Err(e)
        }
    }
}

/// Runs the acceptor side of the hello exchange on an established connection. Returns the
/// verified peer id and the stream its messages will arrive on. The caller closes the connection
/// (with [`HandshakeError::close_reason`]) on error and bounds the call with a timeout.
pub(super) async fn accept(
    conn: &Connection,
    self_id: u64,
    is_peer: impl Fn(u64) -> bool,
) -> Result<(u64, RecvStream), HandshakeError> {
    let leaf = client_leaf_certificate(conn).ok_or(HandshakeError::NoCertificate)?;
    let (mut send, mut recv) = conn.accept_bi().await?;
    let hello: Hello = read_frame(&mut recv, HELLO_MAX_FRAME_BYTES)
        .await?
        .ok_or(HandshakeError::NoHello)?;
    let claimed = hello.node_id;
    if claimed == self_id || !is_peer(claimed) {
        return Err(HandshakeError::NotAPeer { claimed });
    }
    if !cert_names_node(&leaf, claimed) {
        return Err(HandshakeError::CertificateMismatch { claimed });
    }
    write_frame(
        &mut send,
        &Hello { node_id: self_id },
        HELLO_MAX_FRAME_BYTES,
    )
    .await?;
    // Nothing else goes this way; an error here only means the stream is already gone, which
    // the reader will notice.
    let _ = send.finish();
    Ok((claimed, recv))
}

/// The end-entity certificate the client presented (verified by the TLS handshake).
fn client_leaf_certificate(conn: &Connection) -> Option<CertificateDer<'static>> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    chain.into_iter().next()
}
