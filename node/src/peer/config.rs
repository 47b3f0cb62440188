//! Settings of the peer mesh, with their defaults and the checks that run before anything binds.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::detector::{
    DetectorConfig, DEFAULT_ACCEPTABLE_PAUSE_MS, DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS,
    DEFAULT_MIN_STD_DEV_MS, DEFAULT_PHI_THRESHOLD, DEFAULT_WINDOW_LEN,
};
use super::error::PeerError;
use super::frame::DEFAULT_MAX_FRAME_BYTES;
use super::tls::TransportTuning;

/// Default per-peer send queue length (frames).
pub const DEFAULT_SEND_QUEUE_LEN: usize = 4096;
/// Default length of the queue of received messages handed to the node (all peers together).
pub const DEFAULT_RECV_QUEUE_LEN: usize = 4096;
/// Default keep-alive interval.
pub const DEFAULT_KEEP_ALIVE_MS: u64 = 500;
/// Default idle timeout: a silent peer is declared gone after this long.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 3_000;
/// Default bound on connection set-up (QUIC/TLS handshake plus the hello exchange).
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 3_000;
/// Default reconnect backoff: first retry after `.0` ms, doubling up to `.1` ms.
pub const DEFAULT_RECONNECT_BACKOFF_MS: (u64, u64) = (100, 5_000);
/// Default cap on incoming connections being set up or served at once.
pub const DEFAULT_MAX_INCOMING: usize = 256;
/// Default time `Mesh::shutdown` gives close notifications to reach peers.
pub const DEFAULT_CLOSE_GRACE_MS: u64 = 500;
/// Default interval between two heartbeats to each peer.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 200;
/// Largest accepted `phi_threshold`; beyond about 20 the detector is no faster than the idle
/// timeout anyway.
pub const MAX_PHI_THRESHOLD: f64 = 100.0;

/// Configuration of one node's peer mesh.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerConfig {
    /// This node's id; must match the node certificate.
    pub self_id: u64,
    /// UDP address the QUIC endpoint binds (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The other nodes and their QUIC addresses. Only these may connect to us.
    pub peers: Vec<(u64, SocketAddr)>,
    /// Largest frame body accepted or sent.
    pub max_frame_bytes: usize,
    /// Frames queued per peer before `send` reports `QueueFull`.
    pub send_queue_len: usize,
    /// Received messages buffered before readers stop reading (QUIC flow control then slows the
    /// senders down).
    pub recv_queue_len: usize,
    /// Keep-alive interval of every connection.
    pub keep_alive_ms: u64,
    /// A connection without any packet for this long is dead.
    pub idle_timeout_ms: u64,
    /// Bound on setting up one connection, from dialing to the end of the hello exchange.
    pub handshake_timeout_ms: u64,
    /// `(min, max)` reconnect delay; doubles after each failed attempt.
    pub reconnect_backoff_ms: (u64, u64),
    /// Incoming connections handled at once; further ones are refused.
    pub max_incoming: usize,
    /// How long `Mesh::shutdown` waits for connections to finish closing, so that peers learn
    /// of the shutdown at once instead of after their idle timeout. Connections that were still
    /// being dialed may take longer; they are not waited for.
    pub close_grace_ms: u64,
    /// Interval between two heartbeats this node sends to each connected peer.
    pub heartbeat_interval_ms: u64,
    /// Suspicion level (phi) at which a silent peer counts as down; 8 means the silence had
    /// about a 1 in 10^8 chance of being mere lateness.
    pub phi_threshold: f64,
    /// Lower bound of the standard deviation of heartbeat intervals assumed by the detector.
    pub min_std_dev_ms: u64,
    /// Silence tolerated on top of the mean heartbeat interval before suspicion grows.
    pub acceptable_pause_ms: u64,
    /// Heartbeat interval assumed for a peer before any interval has been measured.
    pub first_heartbeat_estimate_ms: u64,
    /// Heartbeat intervals remembered per peer.
    pub phi_window_len: usize,
}

impl PeerConfig {
    /// A configuration with default limits and no peers yet.
    pub fn new(self_id: u64, listen: SocketAddr) -> Self {
        Self {
            self_id,
            listen,
            peers: Vec::new(),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            send_queue_len: DEFAULT_SEND_QUEUE_LEN,
            recv_queue_len: DEFAULT_RECV_QUEUE_LEN,
            keep_alive_ms: DEFAULT_KEEP_ALIVE_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT_MS,
            reconnect_backoff_ms: DEFAULT_RECONNECT_BACKOFF_MS,
            max_incoming: DEFAULT_MAX_INCOMING,
            close_grace_ms: DEFAULT_CLOSE_GRACE_MS,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            phi_threshold: DEFAULT_PHI_THRESHOLD,
            min_std_dev_ms: DEFAULT_MIN_STD_DEV_MS,
            acceptable_pause_ms: DEFAULT_ACCEPTABLE_PAUSE_MS,
            first_heartbeat_estimate_ms: DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS,
            phi_window_len: DEFAULT_WINDOW_LEN,
        }
    }

    /// Checks every value, so that a bad setting fails at start-up with the field's name rather
    /// than as a panic or a silent misbehaviour later.
    pub fn validate(&self) -> Result<(), PeerError> {
        let bad = |field: &'static str, reason: String| Err(PeerError::Config { field, reason });
        if self.max_frame_bytes < 2 || u32::try_from(self.max_frame_bytes).is_err() {
            return bad(
                "max_frame_bytes",
                format!("must be between 2 and {}", u32::MAX),
            );
        }
        for (field, value) in [
            ("send_queue_len", self.send_queue_len),
            ("recv_queue_len", self.recv_queue_len),
            ("max_incoming", self.max_incoming),
            ("phi_window_len", self.phi_window_len),
        ] {
            if value == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        for (field, value) in [
            ("handshake_timeout_ms", self.handshake_timeout_ms),
            ("min_std_dev_ms", self.min_std_dev_ms),
            (
                "first_heartbeat_estimate_ms",
                self.first_heartbeat_estimate_ms,
            ),
        ] {
            if value == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        // Heartbeats slower than the idle timeout would detect nothing QUIC does not already.
        if self.heartbeat_interval_ms == 0 || self.heartbeat_interval_ms >= self.idle_timeout_ms {
            return bad(
                "heartbeat_interval_ms",
                format!(
                    "must be above 0 and below idle_timeout_ms ({}), got {}",
                    self.idle_timeout_ms, self.heartbeat_interval_ms
                ),
            );
        }
        if !(self.phi_threshold > 0.0 && self.phi_threshold <= MAX_PHI_THRESHOLD) {
            return bad(
                "phi_threshold",
                format!(
                    "must be above 0 and at most {MAX_PHI_THRESHOLD}, got {}",
                    self.phi_threshold
                ),
            );
        }
        let (min, max) = self.reconnect_backoff_ms;
        if min == 0 || min > max {
            return bad(
                "reconnect_backoff_ms",
                format!("need 0 < min <= max, got ({min}, {max})"),
            );
        }
        let mut seen = HashSet::new();
        for (id, _) in &self.peers {
            if *id == self.self_id {
                return bad("peers", format!("lists this node itself ({id})"));
            }
            if !seen.insert(*id) {
                return bad("peers", format!("lists node {id} twice"));
            }
        }
        // The keep-alive/idle relation is checked where the transport is built.
        Ok(())
    }

    pub(super) fn tuning(&self) -> TransportTuning {
        TransportTuning {
            keep_alive: Duration::from_millis(self.keep_alive_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
        }
    }

    pub(super) fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    pub(super) fn close_grace(&self) -> Duration {
        Duration::from_millis(self.close_grace_ms)
    }

    pub(super) fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub(super) fn detector(&self) -> DetectorConfig {
        DetectorConfig {
            threshold: self.phi_threshold,
            min_std_dev: Duration::from_millis(self.min_std_dev_ms),
            acceptable_pause: Duration::from_millis(self.acceptable_pause_ms),
            first_heartbeat_estimate: Duration::from_millis(self.first_heartbeat_estimate_ms),
            window_len: self.phi_window_len,
        }
    }

    pub(super) fn backoff(&self) -> (Duration, Duration) {
        let (min, max) = self.reconnect_backoff_ms;
        (Duration::from_millis(min), Duration::from_millis(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PeerConfig {
        PeerConfig::new(1, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    #[test]
    fn defaults_are_valid() {
        assert!(base().validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases: Vec<(&str, PeerConfig)> = vec![
            (
                "send_queue_len",
                PeerConfig {
                    send_queue_len: 0,
                    ..base()
                },
            ),
            (
                "recv_queue_len",
                PeerConfig {
                    recv_queue_len: 0,
                    ..base()
                },
            ),
            (
                "max_frame_bytes",
                PeerConfig {
                    max_frame_bytes: 1,
                    ..base()
                },
            ),
            (
                "reconnect_backoff_ms",
                PeerConfig {
                    reconnect_backoff_ms: (10, 5),
                    ..base()
                },
            ),
            (
                "handshake_timeout_ms",
                PeerConfig {
                    handshake_timeout_ms: 0,
                    ..base()
                },
            ),
            (
                "heartbeat_interval_ms",
                PeerConfig {
                    heartbeat_interval_ms: 0,
                    ..base()
                },
            ),
            (
                "heartbeat_interval_ms",
                PeerConfig {
                    heartbeat_interval_ms: DEFAULT_IDLE_TIMEOUT_MS,
                    ..base()
                },
            ),
            (
                "phi_threshold",
                PeerConfig {
                    phi_threshold: 0.0,
                    ..base()
                },
            ),
            (
                "phi_threshold",
                PeerConfig {
                    phi_threshold: f64::NAN,
                    ..base()
                },
            ),
            (
                "phi_threshold",
                PeerConfig {
                    phi_threshold: f64::INFINITY,
                    ..base()
                },
            ),
            (
                "min_std_dev_ms",
                PeerConfig {
                    min_std_dev_ms: 0,
                    ..base()
                },
            ),
            (
                "first_heartbeat_estimate_ms",
                PeerConfig {
                    first_heartbeat_estimate_ms: 0,
                    ..base()
                },
            ),
            (
                "phi_window_len",
                PeerConfig {
                    phi_window_len: 0,
                    ..base()
                },
            ),
            (
                "peers",
                PeerConfig {
                    peers: vec![(1, base().listen)],
                    ..base()
                },
            ),
            (
                "peers",
                PeerConfig {
                    peers: vec![(2, base().listen), (2, base().listen)],
                    ..base()
                },
            ),
        ];
        for (field, cfg) in cases {
            match cfg.validate() {
                Err(PeerError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
    }
}
