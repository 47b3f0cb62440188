//! The native client protocol, node side (docs/NATIVE.md; the messages are
//! [`kvorum_wire::native`]).
//!
//! Native clients reach the node on its peer endpoint (`peer_listen`): the peer mesh accepts the
//! QUIC connection, sees the ALPN [`NATIVE_ALPN`] and hands the connection over through a
//! [`crate::peer::Service`] channel, without ever learning the native messages. [`run`] takes
//! them from there:
//!
//! - `mod.rs` (this file): [`Native`], the node-wide state every connection shares, the task
//!   that accepts connections up to `[native] max_connections`, and the close codes.
//! - `connection.rs`: one connection: the hello deadline, then one task per bidirectional stream
//!   (one request frame in, one response frame out), at most `max_streams_per_connection` at
//!   once (QUIC's own stream limit, raised from one only after a successful hello).
//! - `hello.rs`: the hello's checks (protocol version, password or client certificate).
//! - `exec.rs`: operations, batches and scans, submitted to the replication driver exactly as
//!   RESP commands are: the request's consistency resolved against its namespace's policy
//!   (defaults, floors, `N`, TTL), replies turned into answers that say whether a failed write
//!   may have been applied.
//! - `dedup.rs`: the answers to recent writes by request id, so a client that lost a reply can
//!   resend the very same write and get the first answer instead of applying it twice.
//! - `topology.rs`: what a client routes with: the cluster's layout parameters and members, and
//!   a namespace's id and replication factor.
//!
//! Nothing a client sends can crash the node: a frame that cannot be read or decoded is
//! answered with an [`ErrorKind::Invalid`](kvorum_wire::native::ErrorKind::Invalid) error on its
//! own stream, which then ends; the connection and every other stream carry on.

mod connection;
mod dedup;
mod exec;
mod hello;
mod topology;

use std::sync::Arc;
use std::time::Duration;

use kvorum_wire::native::Topology;
use quinn::VarInt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::config::NativeConfig;
use crate::session::Shared;

pub use kvorum_wire::native::NATIVE_ALPN;
pub use topology::topology_of;

use dedup::Dedup;

/// Connections the peer endpoint may hand over before the native server has taken them (the
/// accept tasks wait beyond it).
pub const CONNECTION_QUEUE: usize = 64;

/// Application close codes of native connections (the QUIC `CONNECTION_CLOSE` error code).
pub mod close {
    /// The node is shutting down.
    pub const SHUTTING_DOWN: u32 = 0;
    /// The node serves `[native] max_connections` connections already.
    pub const TOO_MANY_CONNECTIONS: u32 = 1;
    /// No successful hello within `[native] hello_timeout_ms`.
    pub const HELLO_TIMEOUT: u32 = 2;
}

/// Closes `conn` with one of the [`close`] codes.
fn close_with(conn: &quinn::Connection, code: u32, reason: &str) {
    conn.close(VarInt::from_u32(code), reason.as_bytes());
}

/// The native protocol's limits, from `[native]`.
#[derive(Clone, Debug)]
pub struct NativeLimits {
    pub max_connections: usize,
    pub max_streams_per_connection: u32,
    pub max_frame_bytes: usize,
    pub max_batch: usize,
    pub max_scan_count: u32,
    pub dedup_window: Duration,
    pub dedup_entries: usize,
    pub hello_timeout: Duration,
}

impl From<&NativeConfig> for NativeLimits {
    fn from(c: &NativeConfig) -> Self {
        NativeLimits {
            max_connections: c.max_connections,
            max_streams_per_connection: c.max_streams_per_connection,
            max_frame_bytes: c.max_frame_bytes,
            max_batch: c.max_batch,
            max_scan_count: c.max_scan_count,
            dedup_window: Duration::from_millis(c.dedup_window_ms),
            dedup_entries: c.dedup_entries,
            hello_timeout: Duration::from_millis(c.hello_timeout_ms),
        }
    }
}

/// What every native connection of the node shares.
pub struct Native {
    /// The node: driver, catalog, policy resolution, password.
    shared: Arc<Shared>,
    limits: NativeLimits,
    /// The answer to `Topology`; fixed while membership changes are not supported.
    topology: Topology,
    dedup: Dedup,
}

impl Native {
    pub fn new(shared: Arc<Shared>, limits: NativeLimits, topology: Topology) -> Native {
        let dedup = Dedup::new(limits.dedup_window, limits.dedup_entries);
        Native {
            shared,
            limits,
            topology,
            dedup,
        }
    }

    /// The epoch every response carries: the layout keys are placed with.
    fn epoch(&self) -> u64 {
        self.topology.epoch
    }
}

/// Serves the connections the peer endpoint hands over on `connections` until `shutdown` turns
/// true, then closes them all and waits for their tasks.
pub async fn run(
    native: Arc<Native>,
    mut connections: mpsc::Receiver<quinn::Connection>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        while let Some(done) = tasks.try_join_next() {
            if let Err(error) = done {
                warn!(%error, "native connection task failed");
            }
        }
        let conn = tokio::select! {
            changed = shutdown.wait_for(|stop| *stop) => {
                // A dropped sender never says stop; treat it as one, the node is going away.
                let _ = changed;
                break;
            }
            conn = connections.recv() => match conn {
                Some(conn) => conn,
                None => break,
            },
        };
        if tasks.len() >= native.limits.max_connections {
            info!(
                remote = %conn.remote_address(),
                limit = native.limits.max_connections,
                "too many native connections; closing the new one"
            );
            close_with(&conn, close::TOO_MANY_CONNECTIONS, "too many connections");
            continue;
        }
        let span = info_span!("native", remote = %conn.remote_address());
        tasks.spawn(connection::serve(native.clone(), conn, shutdown.clone()).instrument(span));
    }
    // Refuse what is still queued, then let the connections close themselves (they watch the
    // same signal).
    connections.close();
    while let Some(conn) = connections.recv().await {
        close_with(&conn, close::SHUTTING_DOWN, "shutting down");
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(error) = done {
            warn!(%error, "native connection task failed");
        }
    }
    debug!("native server stopped");
}
