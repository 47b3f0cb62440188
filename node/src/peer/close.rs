//! QUIC application close codes of the peer protocol.
//!
//! A closed connection carries a code and a short reason, so the other side's logs say *why*
//! (for example "not a configured peer") instead of just "connection closed".

use quinn::{Connection, VarInt};

/// Why we close a peer connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CloseReason {
    /// This node is shutting down.
    Shutdown,
    /// The other side broke the protocol (bad frame, bad hello, handshake timeout).
    Protocol,
    /// The other side is not a configured peer, or its certificate does not name it.
    NotAPeer,
    /// A newer connection from the same peer replaced this one.
    Replaced,
    /// The negotiated ALPN has no handler.
    UnsupportedAlpn,
}

impl CloseReason {
    pub(super) fn code(self) -> VarInt {
        VarInt::from_u32(match self {
            Self::Shutdown => 0,
            Self::Protocol => 1,
            Self::NotAPeer => 2,
            Self::Replaced => 3,
            Self::UnsupportedAlpn => 4,
        })
    }

    pub(super) fn text(self) -> &'static str {
        match self {
            Self::Shutdown => "shutting down",
            Self::Protocol => "protocol error",
            Self::NotAPeer => "not a configured peer",
            Self::Replaced => "replaced by a newer connection",
            Self::UnsupportedAlpn => "unsupported protocol",
        }
    }

    /// Closes `conn` with this reason (no-op if already closed).
    pub(super) fn close(self, conn: &Connection) {
        conn.close(self.code(), self.text().as_bytes());
    }
}
