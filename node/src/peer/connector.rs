//! The outgoing half of the mesh: one connector task per peer.
//!
//! A connector dials its peer, runs the hello exchange, then pumps frames from the peer's send
//! queue onto the connection's stream until the connection is lost or the mesh stops; then it
//! waits (capped exponential backoff) and dials again.
//!
//! **Queue lifetime.** The send queue lives exactly as long as one live connection: it is created
//! when the hello exchange succeeds and dropped, with whatever is still in it, when the connection
//! ends. While there is no connection, `send` fails at once with `NotConnected`, so a coordinator
//! learns "definitely not sent" immediately and can answer `UNAVAILABLE` or pick another replica
//! instead of waiting for a timeout. Frames queued when a connection dies are in the same state as
//! bytes in flight — maybe delivered — and the caller's request timeout already covers that case;
//! replaying them on a later connection would deliver requests whose coordinator gave up long ago.
//!
//! **Heartbeats.** While a connection is live, the connector also sends heartbeats on it (see
//! `heartbeat`). The slot holds the peer's failure detector, fed by the incoming side.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::close::CloseReason;
use super::detector::{DetectorConfig, PhiAccrual};
use super::error::{FrameError, SendError};
use super::frame::write_encoded_chunks;
use super::handshake::{dial, Dialed};
use super::heartbeat::send_heartbeats;
use super::stop::Stop;

/// What the mesh knows about one peer, shared by `Mesh::send` and the peer's connector.
#[derive(Debug)]
pub(super) struct PeerSlot {
    id: u64,
    addr: SocketAddr,
    /// The sending end of the current connection's queue; `None` while disconnected.
    outbox: Mutex<Option<mpsc::Sender<Bytes>>>,
    /// How suspicious the peer's silence is; fed by its incoming connection, kept across
    /// connections (a new connection does not make old interval samples wrong).
    detector: Mutex<PhiAccrual>,
}

impl PeerSlot {
    pub(super) fn new(id: u64, addr: SocketAddr, detector: DetectorConfig) -> Self {
        Self {
            id,
            addr,
            outbox: Mutex::new(None),
            detector: Mutex::new(PhiAccrual::new(detector)),
        }
    }

    pub(super) fn is_connected(&self) -> bool {
        self.outbox().is_some()
    }

    /// A heartbeat from the peer arrived at `now`.
    pub(super) fn record_heartbeat(&self, now: Instant) {
        self.detector().heartbeat(now);
    }

    /// Something else from the peer (a message, its hello) arrived at `now`.
    pub(super) fn record_heard(&self, now: Instant) {
        self.detector().heard(now);
    }

    /// The detector's suspicion level and verdict at `now`.
    pub(super) fn suspicion(&self, now: Instant) -> (f64, bool) {
        let detector = self.detector();
        (detector.phi(now), detector.is_available(now))
    }

    fn detector(&self) -> MutexGuard<'_, PhiAccrual> {
        // Every detector method leaves it consistent; a poisoned lock is safe to use.
        self.detector.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one encoded frame without waiting.
    pub(super) fn try_send(&self, frame: Bytes) -> Result<(), SendError> {
        let peer = self.id;
        let outbox = self.outbox();
        let sender = outbox.as_ref().ok_or(SendError::NotConnected { peer })?;
        sender.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::QueueFull { peer },
            mpsc::error::TrySendError::Closed(_) => SendError::NotConnected { peer },
        })
    }

    /// Starts a new queue for a fresh connection and returns its receiving end.
    fn open(&self, capacity: usize) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(capacity);
        *self.outbox() = Some(tx);
        rx
    }

    /// Marks the peer disconnected; the current queue is dropped with its receiver.
    fn close(&self) {
        *self.outbox() = None;
    }

    fn outbox(&self) -> MutexGuard<'_, Option<mpsc::Sender<Bytes>>> {
        // The guarded value is a plain Option, always consistent: a panic elsewhere cannot
        // leave it half-written, so a poisoned lock is safe to use.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Settings a connector needs, shared by all connectors of a mesh.
pub(super) struct DialSettings {
    pub self_id: u64,
    pub client: quinn::ClientConfig,
    pub send_queue_len: usize,
    pub handshake_timeout: Duration,
    pub backoff: (Duration, Duration),
    pub heartbeat_interval: Duration,
}

/// The connector task of one peer. Runs until `stop` fires.
pub(super) async fn run_connector(
    slot: Arc<PeerSlot>,
    endpoint: quinn::Endpoint,
    settings: Arc<DialSettings>,
    mut stop: Stop,
) {
    let (min_backoff, max_backoff) = settings.backoff;
    let mut backoff = min_backoff;
    let mut failures: u32 = 0;
    while !stop.is_set() {
        let attempt = tokio::select! {
            () = stop.wait() => break,
            attempt = tokio::time::timeout(
                settings.handshake_timeout,
                dial(
                    &endpoint,
                    &settings.client,
                    settings.self_id,
                    slot.id,
                    slot.addr,
                ),
            ) => attempt,
        };
        let delay = match attempt {
            Ok(Ok(dialed)) => {
                info!("connected");
                failures = 0;
                backoff = min_backoff;
                let reason = run_session(&slot, dialed, &settings, &mut stop).await;
                info!(%reason, "disconnected");
                min_backoff
            }
            Ok(Err(error)) => {
                failures = failures.saturating_add(1);
                log_failure(failures, &error, backoff);
                let delay = backoff;
                backoff = backoff.saturating_mul(2).min(max_backoff);
                delay
            }
            Err(_elapsed) => {
                failures = failures.saturating_add(1);
                log_failure(failures, &"handshake timed out", backoff);
                let delay = backoff;
                backoff = backoff.saturating_mul(2).min(max_backoff);
                delay
            }
        };
        tokio::select! {
            () = stop.wait() => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    slot.close();
    debug!("connector stopped");
}

/// The first failure after a connection (or at start) is worth an info line; the retries that
/// follow while a peer stays down are not.
fn log_failure(failures: u32, error: &dyn std::fmt::Display, retry_in: Duration) {
    let retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
    if failures == 1 {
        info!(%error, retry_in_ms, "cannot connect");
    } else {
        debug!(%error, retry_in_ms, failures, "cannot connect");
    }
}

/// Pumps the queue onto the connection until it ends; returns why it ended.
async fn run_session(
    slot: &PeerSlot,
    dialed: Dialed,
    settings: &DialSettings,
    stop: &mut Stop,
) -> String {
    let Dialed {
        conn,
        mut send,
        recv: _keep_open,
    } = dialed;
    let queue = slot.open(settings.send_queue_len);
    let reason = tokio::select! {
        () = stop.wait() => {
            CloseReason::Shutdown.close(&conn);
            "shutting down".to_string()
        }
        error = conn.closed() => error.to_string(),
        // Never completes; it only runs alongside the pump.
        () = send_heartbeats(&conn, settings.heartbeat_interval) => "heartbeats stopped".to_string(),
        result = pump(queue, &mut send) => {
            // The stream is unusable; a new connection starts a new stream.
            CloseReason::Protocol.close(&conn);
            match result {
                Ok(()) => "send queue closed".to_string(),
                Err(error) => error.to_string(),
            }
        }
    };
    slot.close();
    reason
}

/// Most frames handed to the stream in one write.
const PUMP_BATCH: usize = 64;

/// Moves queued frames to the stream, every frame queued so far in one write: each write
/// locks the connection and wakes its driver, so under load one write of many frames costs
/// about what one frame cost, and the frames leave in as few packets as fit them.
async fn pump(
    mut queue: mpsc::Receiver<Bytes>,
    send: &mut quinn::SendStream,
) -> Result<(), FrameError> {
    let mut batch = Vec::with_capacity(PUMP_BATCH);
    while queue.recv_many(&mut batch, PUMP_BATCH).await > 0 {
        write_encoded_chunks(send, &mut batch).await?;
        batch.clear();
    }
    Ok(())
}
