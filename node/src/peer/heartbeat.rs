//! Heartbeats: the steady signal the failure detector of each peer listens to.
//!
//! **Why QUIC datagrams, not the message stream.** Each connector sends a heartbeat every
//! `heartbeat_interval_ms` as an unreliable QUIC DATAGRAM on its outgoing connection. On the
//! ordered stream a heartbeat would wait behind every queued data frame and, worse, behind the
//! receiver: when the node is slow to take messages off the mesh, the reader stops reading and
//! QUIC flow control stalls the stream, so a perfectly healthy peer would look silent to its
//! slow neighbour. Datagrams avoid both: quinn writes them ahead of stream data in each packet,
//! they are not subject to stream flow control, and the receiver reads them in their own loop.
//! They may be lost; to the detector a lost heartbeat is just a longer interval, which is what
//! the accrual model is built to absorb. Each connection still counts as live only while QUIC
//! says so (`is_connected`); heartbeats add "and we keep hearing from the peer" on top.
//!
//! **Wire format.** A datagram is `[version byte = 1][rmp-serde named encoding of Datagram]`, the
//! same body layout as a stream frame without the length prefix (a datagram has its own length).
//! At most [`MAX_DATAGRAM_BYTES`]. The receiver counts *any* datagram from an authenticated peer
//! as a sign of life before decoding it, and ignores (logs at debug) those it cannot decode
//! instead of closing the connection: datagrams are advisory, and a newer build may add kinds an
//! older one does not know during a rolling upgrade.
//!
//! Datagrams flow only from dialer to acceptor, like messages: the dialer never reads any, and
//! its transport advertises room for a single one (see `tls`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use quinn::{Connection, SendDatagramError};
use serde::{Deserialize, Serialize};
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use super::connector::PeerSlot;
use super::error::FrameError;
use super::frame::{decode_frame_body, encode_frame_as, Payload, LENGTH_PREFIX_BYTES};

/// Largest datagram sent or decoded. A heartbeat is about 20 bytes.
pub(super) const MAX_DATAGRAM_BYTES: usize = 256;

/// Incoming datagram bytes quinn buffers per connection before dropping the oldest: room for
/// thousands of heartbeats, and a bound on what a peer can make us hold.
pub(super) const DATAGRAM_RECEIVE_BUFFER_BYTES: usize = 64 * 1024;

/// The mesh's own datagrams (never delivered to the node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Datagram {
    /// "Still here." `seq` counts the heartbeats of one connection from 0; it is only for
    /// diagnostics (loss shows as gaps), arrival time is what the detector uses.
    Heartbeat { seq: u64 },
}

/// Encodes one datagram.
pub(super) fn encode_datagram(datagram: &Datagram) -> Result<Bytes, FrameError> {
    // Stream frame minus the length prefix: same version byte, same payload encoding.
    let frame = encode_frame_as(datagram, MAX_DATAGRAM_BYTES, Payload::Compact)?;
    Ok(frame.slice(LENGTH_PREFIX_BYTES..))
}

/// Decodes one datagram.
pub(super) fn decode_datagram(bytes: &[u8]) -> Result<Datagram, FrameError> {
    if bytes.len() > MAX_DATAGRAM_BYTES {
        return Err(FrameError::TooLarge {
            len: bytes.len() as u64,
            max: MAX_DATAGRAM_BYTES,
        });
    }
    decode_frame_body(bytes)
}

/// Sends a heartbeat on `conn` every `every`, the first one at once. Never returns: when the
/// connection is lost (or cannot carry datagrams) it stops sending and waits, and the caller's
/// other branches notice the loss.
pub(super) async fn send_heartbeats(conn: &Connection, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    // After a stall, send one heartbeat now rather than a burst: a burst would look like many
    // near-zero intervals to the detector.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq: u64 = 0;
    loop {
        ticks.tick().await;
        let datagram = match encode_datagram(&Datagram::Heartbeat { seq }) {
            Ok(datagram) => datagram,
            Err(error) => {
                warn!(%error, "cannot encode a heartbeat; not sending heartbeats");
                break;
            }
        };
        match conn.send_datagram(datagram) {
            Ok(()) => {}
            Err(SendDatagramError::ConnectionLost(_)) => break,
            Err(error) => {
                // A peer that does not take datagrams will see us as down; say so loudly.
                warn!(%error, "cannot send heartbeats on this connection");
                break;
            }
        }
        seq = seq.wrapping_add(1);
    }
    std::future::pending::<()>().await;
}

/// Feeds every datagram arriving on `conn` into the peer's detector. Never returns: when the
/// connection ends it waits, and the caller's stream reader reports the end.
pub(super) async fn receive_heartbeats(conn: &Connection, slot: &Arc<PeerSlot>) {
    while let Ok(bytes) = conn.read_datagram().await {
        let now = Instant::now();
        match decode_datagram(&bytes) {
            Ok(Datagram::Heartbeat { .. }) => slot.record_heartbeat(now),
            Err(error) => {
                // Still proof that the peer is running.
                slot.record_heard(now);
                debug!(%error, len = bytes.len(), "ignoring an undecodable datagram");
            }
        }
    }
    std::future::pending::<()>().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::peer::frame::FRAME_VERSION;

    #[test]
    fn heartbeat_round_trips_with_a_version_byte_and_no_length_prefix() {
        let bytes = encode_datagram(&Datagram::Heartbeat { seq: 42 }).unwrap();
        assert_eq!(bytes.first(), Some(&FRAME_VERSION));
        assert!(bytes.len() < 32, "{} bytes", bytes.len());
        assert_eq!(
            decode_datagram(&bytes).unwrap(),
            Datagram::Heartbeat { seq: 42 }
        );
        // Named encoding, like stream frames.
        assert!(bytes.windows(9).any(|w| w == b"Heartbeat"));
    }

    #[test]
    fn bad_datagrams_are_errors() {
        let good = encode_datagram(&Datagram::Heartbeat { seq: u64::MAX }).unwrap();
        let mut wrong_version = good.to_vec();
        wrong_version[0] = FRAME_VERSION + 1;
        assert!(matches!(
            decode_datagram(&wrong_version),
            Err(FrameError::UnsupportedVersion { .. })
        ));
        assert!(matches!(decode_datagram(&[]), Err(FrameError::Empty)));
        let mut unknown_kind = vec![FRAME_VERSION];
        unknown_kind.extend(rmp_serde::to_vec_named(&"Gossip").unwrap());
        assert!(decode_datagram(&unknown_kind).is_err());
        let huge = vec![FRAME_VERSION; MAX_DATAGRAM_BYTES + 1];
        assert!(matches!(
            decode_datagram(&huge),
            Err(FrameError::TooLarge { .. })
        ));
        for cut in 1..good.len() {
            assert!(decode_datagram(&good[..cut]).is_err(), "cut at {cut}");
        }
    }
}
