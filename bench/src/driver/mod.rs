//! Drivers: one connection to one contender, speaking its protocol.
//!
//! The load generator ([`crate::ycsb`]) knows nothing of protocols: every client task
//! [`Target::connect`]s its own [`Conn`] and hands it batches of [`Op`]s. A batch of one is a
//! plain request; a longer batch is sent as one pipeline (all requests written, then all replies
//! read), which is how `--pipeline P` is measured.
//!
//! - `resp.rs`: any Redis-protocol server (kvorum, redis-server), with an optional per-connection
//!   `CONSISTENCY` (kvorum) and an optional `WAIT` after every write (a Redis primary with
//!   replicas).
//! - `native.rs`: kvorum's native protocol through `kvorum-client`.
//! - `etcd.rs`: etcd v3 through its JSON gRPC gateway over HTTP/1.1 keep-alive connections.

pub mod etcd;
pub mod native;
pub mod resp;

/// One request of a workload (the YCSB operations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read one key.
    Read { key: Vec<u8> },
    /// Overwrite an existing key.
    Update { key: Vec<u8>, value: Vec<u8> },
    /// Write a new key.
    Insert { key: Vec<u8>, value: Vec<u8> },
    /// Read up to `count` keys starting at (or, where the store has no order, near) `start`.
    Scan { start: Vec<u8>, count: usize },
    /// Read a key, then write it (two round trips; latency counts both).
    ReadModifyWrite { key: Vec<u8>, value: Vec<u8> },
}

impl Op {
    /// The name used in reports and per-operation statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Update { .. } => "update",
            Op::Insert { .. } => "insert",
            Op::Scan { .. } => "scan",
            Op::ReadModifyWrite { .. } => "rmw",
        }
    }

    /// Whether the operation writes (for write throughput and CPU per write).
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Read { .. } | Op::Scan { .. })
    }
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub enum Target {
    Resp(resp::RespTarget),
    Native(native::NativeTarget),
    Etcd(etcd::EtcdTarget),
}

/// One open connection of one client task.
pub enum Conn {
    Resp(resp::RespConn),
    Native(native::NativeConn),
    Etcd(etcd::EtcdConn),
}

/// Why a driver call failed. The load generator counts errors per operation kind and goes on;
/// a connection that fails is replaced by a new one.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Could not connect (or set up the connection: `CONSISTENCY`, `HELLO`, ...).
    #[error("connecting to {target}: {message}")]
    Connect { target: String, message: String },
    /// The server answered an error (the request may or may not have been applied).
    #[error("server error: {0}")]
    Server(String),
    /// The connection broke or answered something that is not the protocol.
    #[error("connection: {0}")]
    Io(String),
    /// No answer within the driver's timeout.
    #[error("timed out")]
    Timeout,
    /// The contender does not support this operation (e.g. a scan on a store without one).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl DriverError {
    /// Whether the connection can no longer be trusted (broken, out of step with the server, or
    /// never set up): the load generator then replaces it, after a short back-off.
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            DriverError::Connect { .. } | DriverError::Io(_) | DriverError::Timeout
        )
    }
}

impl Target {
    /// Opens one connection (each client task owns its own).
    pub async fn connect(&self) -> Result<Conn, DriverError> {
        Ok(match self {
            Target::Resp(t) => Conn::Resp(t.connect().await?),
            Target::Native(t) => Conn::Native(t.connect().await?),
            Target::Etcd(t) => Conn::Etcd(t.connect().await?),
        })
    }

    /// A short description for reports (`resp 127.0.0.1:6379 QUORUM`).
    pub fn describe(&self) -> String {
        match self {
            Target::Resp(t) => t.describe(),
            Target::Native(t) => t.describe(),
            Target::Etcd(t) => t.describe(),
        }
    }
}

impl Conn {
    /// Runs `ops` as one pipeline (a single op: one plain request) and returns once every reply
    /// is in. `Ok` only if every op succeeded.
    pub async fn execute(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        match self {
            Conn::Resp(c) => c.execute(ops).await,
            Conn::Native(c) => c.execute(ops).await,
            Conn::Etcd(c) => c.execute(ops).await,
        }
    }
}
