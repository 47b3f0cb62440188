//! Node configuration: a TOML file, strict (`deny_unknown_fields`), units in field names.
//!
//! Relative paths in the file are resolved against the directory of the file itself, so a cluster
//! folder can be moved as a whole. Every field but `node_id` has a default; docs/CONFIG.md lists
//! them. [`NodeConfig::validate`] runs before anything binds or opens, so a bad value stops the
//! node at start-up with the field's name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use kvorum_consistency::{Conflict, NamespacePolicy, Spec};
use serde::{Deserialize, Serialize};

use crate::storage::Durability;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id: unique in the cluster, and named by its certificate.
    pub node_id: u64,
    /// Where the node keeps its data.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// RESP (Redis protocol) listener.
    #[serde(default = "defaults::resp_listen")]
    pub resp_listen: SocketAddr,
    /// QUIC listener for peers.
    #[serde(default = "defaults::peer_listen")]
    pub peer_listen: SocketAddr,
    /// Every other node of the cluster.
    #[serde(default)]
    pub peers: Vec<PeerEntry>,
    /// Replicas per key (`N`). The same on every node.
    #[serde(default = "defaults::replication_factor")]
    pub replication_factor: usize,
    /// log2 of the number of partitions (`Q = 2^bits`). Fixed at cluster creation.
    #[serde(default = "defaults::partition_bits")]
    pub partition_bits: u8,
    /// Storage engine: `fjall` (the default) or `sled` (on disk, under `data_dir/fjall` and
    /// `data_dir/db`), or `memory` (nothing survives the process; for tests). A node opens only
    /// the configured engine's store and refuses to start beside another on-disk engine's store.
    #[serde(default)]
    pub storage_engine: StorageEngine,
    /// `always` (group commit), `periodic:<ms>`, or `never`.
    #[serde(default = "defaults::fsync")]
    pub fsync: String,
    /// How long a request waits for replicas before answering `-TIMEOUT`.
    #[serde(default = "defaults::request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Databases a RESP connection may `SELECT` (indexes 0 to `databases - 1`); db `n` is the
    /// namespace with id `n`.
    #[serde(default = "defaults::databases")]
    pub databases: u32,
    /// Policy of the `default` namespace (db 0): default consistency and floors.
    #[serde(default)]
    pub default_namespace: DefaultNamespace,
    pub tls: TlsConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub peer: PeerTuning,
    #[serde(default)]
    pub hints: HintsConfig,
    /// The background purge of expired keys' data.
    #[serde(default)]
    pub expiry: ExpiryConfig,
    /// Client authentication (`AUTH`, `HELLO ... AUTH`).
    #[serde(default)]
    pub auth: AuthConfig,
    /// The HTTP admin listener (`/metrics`, `/health`).
    #[serde(default)]
    pub admin: AdminConfig,
    /// The namespace catalog's limits and gossip.
    #[serde(default)]
    pub namespaces: NamespacesConfig,
    /// The native client protocol (QUIC on `peer_listen`, docs/NATIVE.md): its limits.
    #[serde(default)]
    pub native: NativeConfig,
    /// Anti-entropy: replica comparison, repair and tombstone purge (docs/OPERATIONS.md).
    #[serde(default)]
    pub antientropy: AntiEntropyConfig,
    /// The node's async runtime: how many threads serve connections and the driver.
    #[serde(default)]
    pub runtime: RuntimeConfig,
}

/// The async runtime runs the client and peer connections and the replication driver; storage
/// runs on threads of its own (see `limits.max_storage_tasks`). Nodes that share a machine
/// (`kvorum dev`, containers) should share its cores rather than each start a thread per core
/// (docs/BENCHMARKS.md, "Runtime threads").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Threads of the async runtime; 0 (the default) starts one per core.
    pub worker_threads: usize,
    /// Storage reads the replication driver runs itself per turn instead of handing them to
    /// a storage worker (see [`crate::inline_reads`]); 0 hands every read over.
    pub inline_reads: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            worker_threads: 0,
            inline_reads: 16,
        }
    }
}

/// The most inline reads per driver turn a config may ask for.
pub const MAX_INLINE_READS: usize = 4096;

/// The most runtime threads a config may ask for.
pub const MAX_RUNTIME_THREADS: usize = 1024;

impl RuntimeConfig {
    /// The number of runtime threads to start.
    pub fn threads(&self) -> usize {
        match self.worker_threads {
            0 => available_cores(),
            n => n,
        }
    }
}

/// The cores this process may run on (1 if that cannot be known).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Anti-entropy settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AntiEntropyConfig {
    /// Whether scheduled rounds run. Peers are answered and `ADMIN REPAIR` works either way.
    pub enabled: bool,
    /// Time between the starts of two scheduled rounds.
    pub interval_ms: u64,
    /// Repair work per second, at most: objects moved between replicas, or 16 records listed.
    pub max_keys_per_sec: u32,
    /// Keys per fetch, merge or purge message.
    pub batch_keys: usize,
    /// Records listed per page when comparing the keys of a partition.
    pub scan_page: u32,
    /// How long one exchange step waits for a peer.
    pub timeout_ms: u64,
    /// Whether tombstones every replica holds are purged.
    pub purge_tombstones: bool,
    /// Tombstones one partition's purge considers per round, at most.
    pub max_purge_per_partition: usize,
    /// Peers' anti-entropy requests served at once; more are answered "busy".
    pub max_serving: usize,
}

impl Default for AntiEntropyConfig {
    fn default() -> Self {
        AntiEntropyConfig {
            enabled: true,
            interval_ms: 60_000,
            max_keys_per_sec: 500,
            batch_keys: 128,
            scan_page: 1_024,
            timeout_ms: 10_000,
            purge_tombstones: true,
            max_purge_per_partition: 10_000,
            max_serving: 4,
        }
    }
}

impl AntiEntropyConfig {
    /// The settings the anti-entropy tasks run with.
    pub fn settings(&self) -> crate::antientropy::AeSettings {
        crate::antientropy::AeSettings {
            enabled: self.enabled,
            interval: std::time::Duration::from_millis(self.interval_ms.max(1)),
            max_keys_per_sec: self.max_keys_per_sec,
            batch_keys: self.batch_keys,
            scan_page: self.scan_page,
            timeout: std::time::Duration::from_millis(self.timeout_ms.max(1)),
            purge_tombstones: self.purge_tombstones,
            max_purge_per_partition: self.max_purge_per_partition,
            max_serving: self.max_serving,
        }
    }
}

/// The native client protocol's limits (docs/NATIVE.md). It shares the peer endpoint
/// (`peer_listen`) and its QUIC settings (`[peer] idle_timeout_ms`, `keep_alive_ms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NativeConfig {
    /// `false`: the endpoint does not offer the native protocol's ALPN, so native clients fail
    /// the TLS handshake.
    pub enabled: bool,
    /// Native connections served at once; a further one is closed at once (close code 1).
    pub max_connections: usize,
    /// Requests (streams) one connection may have open at once; QUIC makes the client wait for
    /// more. Before a successful hello, one.
    pub max_streams_per_connection: u32,
    /// Largest request or reply frame body; a larger request is answered with an error without
    /// being read.
    pub max_frame_bytes: usize,
    /// Most operations in one `Batch`.
    pub max_batch: usize,
    /// Most keys one `Scan` page asks for (larger counts are capped).
    pub max_scan_count: u32,
    /// How long the answer to a write is remembered by its request id.
    pub dedup_window_ms: u64,
    /// Most write answers remembered; beyond it the oldest is forgotten, even within the window.
    pub dedup_entries: usize,
    /// Time a new connection has to complete its hello; then it is closed (close code 2).
    pub hello_timeout_ms: u64,
}

impl Default for NativeConfig {
    fn default() -> Self {
        NativeConfig {
            enabled: true,
            max_connections: 1_024,
            max_streams_per_connection: 256,
            max_frame_bytes: kvorum_wire::native::DEFAULT_MAX_NATIVE_FRAME_BYTES,
            max_batch: 1_024,
            max_scan_count: 5_000,
            dedup_window_ms: 60_000,
            dedup_entries: 100_000,
            hello_timeout_ms: 5_000,
        }
    }
}

/// The smallest `native.max_frame_bytes`: room for a hello with a password and a client name.
pub const MIN_NATIVE_FRAME_BYTES: usize = 16 * 1024;

/// The largest `native.max_streams_per_connection` (QUIC could take more; a node could not).
pub const MAX_NATIVE_STREAMS: u32 = 65_536;

/// The namespace catalog (docs/NAMESPACES.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespacesConfig {
    /// `NAMESPACE CREATE` is refused once the catalog holds this many entries (dropped names
    /// count until their data is purged). At most 1024, the catalog format's own bound; give
    /// every node the same value.
    pub max_namespaces: usize,
    /// How often each node sends its whole catalog to every peer (changes are also sent at
    /// once); a node that missed a change catches up within one interval of being reachable.
    pub sync_interval_ms: u64,
}

impl Default for NamespacesConfig {
    fn default() -> Self {
        NamespacesConfig {
            max_namespaces: kvorum_consistency::catalog::MAX_ENTRIES,
            sync_interval_ms: 2_000,
        }
    }
}

/// The HTTP admin listener: Prometheus metrics and a health check. Loopback by default, since
/// it has no authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `false`: no admin listener.
    pub enabled: bool,
    /// Address of the listener (by convention the RESP port + 3000).
    pub listen: SocketAddr,
    /// Admin connections served at once; more are answered 503.
    pub max_connections: usize,
    /// Largest request head (request line and headers); larger ones are answered 431.
    pub max_request_bytes: usize,
    /// Most header lines in a request; more are answered 431.
    pub max_headers: usize,
    /// Time a client has to send its request head; then 408.
    pub request_timeout_ms: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9379)),
            max_connections: 64,
            max_request_bytes: 8192,
            max_headers: 64,
            request_timeout_ms: 5_000,
        }
    }
}

/// Client authentication: one password for the `default` user, like Redis's `requirepass`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The password every RESP connection must give (`AUTH password`) before any other command.
    /// Absent: connections start authenticated, as with Redis's default `nopass` user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirepass: Option<String>,
}

/// Never prints the password (configs end up in logs and panic messages).
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "requirepass",
                &self.requirepass.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Hinted handoff settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HintsConfig {
    /// Whether this node keeps hints for unreachable primaries (and so can stand in for them in
    /// a sloppy quorum) and hands them off. Off, missed writes are healed by read repair and
    /// anti-entropy alone.
    pub enabled: bool,
    /// Total bytes of hints kept for all targets; over it new hints are refused and counted.
    pub max_bytes: u64,
    /// A target whose oldest hint is older than this gets no new hints (anti-entropy's job).
    pub max_age_ms: u64,
    /// How often the handoff task looks for targets that are back.
    pub handoff_interval_ms: u64,
    /// Hints handed over per target per round.
    pub handoff_batch: usize,
}

impl Default for HintsConfig {
    fn default() -> Self {
        HintsConfig {
            enabled: true,
            max_bytes: crate::storage::hints::DEFAULT_MAX_HINT_BYTES,
            max_age_ms: crate::storage::hints::DEFAULT_MAX_HINT_AGE_MS,
            handoff_interval_ms: 1_000,
            handoff_batch: 256,
        }
    }
}

/// How the expiry purger paces itself (expired keys read as absent at once; this only frees
/// their space).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpiryConfig {
    /// How often the purger examines a batch of stored keys.
    pub purge_interval_ms: u64,
    /// Stored keys examined per round.
    pub purge_batch: usize,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        ExpiryConfig {
            purge_interval_ms: 1_000,
            purge_batch: 1_000,
        }
    }
}

/// Consistency policy of the `default` namespace.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultNamespace {
    /// What a request gets when neither the connection nor the command says: a preset (`ONE`,
    /// `TWO`, `QUORUM`, `ALL`, `EVENTUAL`, `STRONG`) or `R=n W=n [DW=n] [STRICT|SLOPPY]`,
    /// optionally with `TIMEOUT=ms`.
    pub consistency: String,
    /// Requests with a smaller R are refused.
    pub min_r: usize,
    /// Requests with a smaller W are refused.
    pub min_w: usize,
    /// Whether requests may use SLOPPY quorums.
    pub allow_sloppy: bool,
    /// `siblings` (GETCTX shows every concurrent write) or `lww` (reads show only the winner).
    pub conflict: Conflict,
}

impl Default for DefaultNamespace {
    fn default() -> Self {
        DefaultNamespace {
            consistency: "QUORUM".to_owned(),
            min_r: 1,
            min_w: 1,
            allow_sloppy: true,
            conflict: Conflict::Siblings,
        }
    }
}

/// Which [`crate::storage::Storage`] implementation holds the node's data.
///
/// Changing it does not move a node's data: each on-disk engine keeps its own directory under
/// `data_dir`, and `storage::engine::open` refuses to start an engine next to the other one's
/// store (docs/CONFIG.md says how to switch).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    /// sled 0.34 in `data_dir/db`: the first engine (the default until the crash and space tests
    /// chose fjall, docs/DEPENDENCIES.md), unmaintained upstream; kept for existing stores.
    Sled,
    /// fjall 2 (a log-structured merge tree) in `data_dir/fjall`: the default.
    #[default]
    Fjall,
    /// In memory: nothing survives the process (tests, experiments).
    Memory,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    pub id: u64,
    /// The peer's QUIC address.
    pub addr: SocketAddr,
    /// The peer's RESP address, if known: `kvorum admin` asks each node it can reach for its
    /// own view of the cluster, and replicas for their copy of a key. The node itself never
    /// dials it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<SocketAddr>,
}

/// PEM files of the cluster PKI (`kvorum dev` creates them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The cluster CA certificate: peers must present a certificate it signed.
    pub ca_cert: PathBuf,
    /// Directory holding this node's `node.pem` and `node-key.pem`.
    pub node_dir: PathBuf,
}

/// Hard limits; a request over one is refused with an error naming it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open RESP connections; further ones get `-ERR max number of clients reached`.
    pub max_connections: usize,
    /// Largest RESP bulk string (a value or an argument).
    pub max_bulk_bytes: usize,
    /// Most elements in one RESP command.
    pub max_array_len: usize,
    /// Unparsed input buffered per connection before it is closed.
    pub max_query_buffer_bytes: usize,
    /// Largest key. At most what the storage engine can store behind kvorum's own key
    /// headers ([`crate::storage::engine::max_user_key_bytes`]).
    pub max_key_bytes: usize,
    /// Commands of one connection in flight at once (pipelining depth).
    pub max_pipeline: usize,
    /// Requests queued for the replication core, all connections together.
    pub max_queued_requests: usize,
    /// Requests this node coordinates at once (the rest wait in the queue).
    pub max_in_flight_requests: usize,
    /// Storage operations running at once.
    pub max_storage_tasks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_bulk_bytes: 64 << 20,
            max_array_len: 1 << 20,
            max_query_buffer_bytes: 256 << 20,
            max_key_bytes: 64_000,
            max_pipeline: 1024,
            max_queued_requests: 16_384,
            max_in_flight_requests: 8_192,
            max_storage_tasks: 256,
        }
    }
}

/// Peer transport settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerTuning {
    pub keep_alive_ms: u64,
    /// A connection silent for this long is closed.
    pub idle_timeout_ms: u64,
    pub max_frame_bytes: usize,
    pub send_queue_len: usize,
    /// Heartbeats feed the phi-accrual failure detector, which marks a silent peer down long
    /// before the idle timeout.
    pub heartbeat_interval_ms: u64,
    pub phi_threshold: f64,
    pub min_std_dev_ms: u64,
    pub acceptable_pause_ms: u64,
    pub first_heartbeat_estimate_ms: u64,
    pub phi_window_len: usize,
}

impl Default for PeerTuning {
    fn default() -> Self {
        PeerTuning {
            keep_alive_ms: crate::peer::config::DEFAULT_KEEP_ALIVE_MS,
            idle_timeout_ms: crate::peer::config::DEFAULT_IDLE_TIMEOUT_MS,
            max_frame_bytes: 80 << 20,
            heartbeat_interval_ms: crate::peer::config::DEFAULT_HEARTBEAT_INTERVAL_MS,
            phi_threshold: crate::peer::detector::DEFAULT_PHI_THRESHOLD,
            min_std_dev_ms: crate::peer::detector::DEFAULT_MIN_STD_DEV_MS,
            acceptable_pause_ms: crate::peer::detector::DEFAULT_ACCEPTABLE_PAUSE_MS,
            first_heartbeat_estimate_ms: crate::peer::detector::DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS,
            phi_window_len: crate::peer::detector::DEFAULT_WINDOW_LEN,
            send_queue_len: crate::peer::config::DEFAULT_SEND_QUEUE_LEN,
        }
    }
}

/// Longest accepted `auth.requirepass`.
pub const MAX_PASSWORD_BYTES: usize = 4096;

mod defaults {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub fn data_dir() -> PathBuf {
        PathBuf::from("data")
    }
    pub fn resp_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 6379))
    }
    pub fn peer_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 7379))
    }
    pub fn replication_factor() -> usize {
        3
    }
    pub fn partition_bits() -> u8 {
        kvorum_ring::DEFAULT_PARTITION_BITS
    }
    pub fn fsync() -> String {
        "always".to_owned()
    }
    pub fn request_timeout_ms() -> u64 {
        2_000
    }
    pub fn databases() -> u32 {
        16
    }
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// The smallest `admin.max_request_bytes`: room for a plain `GET /metrics` with a few headers.
const MIN_ADMIN_REQUEST_BYTES: usize = 256;

impl NodeConfig {
    /// Reads, parses, resolves relative paths and validates a config file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.data_dir,
            &mut config.tls.ca_cert,
            &mut config.tls.node_dir,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: String| Err(ConfigError::Invalid { field, reason });
        let nodes = self.peers.len() + 1;
        if self.replication_factor == 0 || self.replication_factor > nodes {
            return invalid(
                "replication_factor",
                format!(
                    "must be between 1 and the number of nodes ({nodes}), got {}",
                    self.replication_factor
                ),
            );
        }
        if self.partition_bits > kvorum_ring::MAX_PARTITION_BITS {
            return invalid(
                "partition_bits",
                format!("must be at most {}", kvorum_ring::MAX_PARTITION_BITS),
            );
        }
        if let Err(e) = self.durability() {
            return invalid("fsync", e);
        }
        if self.runtime.worker_threads > MAX_RUNTIME_THREADS {
            return invalid(
                "runtime.worker_threads",
                format!(
                    "must be at most {MAX_RUNTIME_THREADS} (0: one per core), got {}",
                    self.runtime.worker_threads
                ),
            );
        }
        if self.runtime.inline_reads > MAX_INLINE_READS {
            return invalid(
                "runtime.inline_reads",
                format!(
                    "must be at most {MAX_INLINE_READS} (0: every read on the storage workers), \
                     got {}",
                    self.runtime.inline_reads
                ),
            );
        }
        let engine_max = crate::storage::engine::max_user_key_bytes(self.storage_engine);
        if self.limits.max_key_bytes > engine_max {
            return invalid(
                "limits.max_key_bytes",
                format!(
                    "must be at most {engine_max} with storage_engine {:?} (its longest key, \
                     less kvorum's key headers), got {}",
                    self.storage_engine, self.limits.max_key_bytes
                ),
            );
        }
        if let Err(e) = self.policy() {
            return invalid("default_namespace", e);
        }
        if self.request_timeout_ms == 0 {
            return invalid("request_timeout_ms", "must be at least 1".into());
        }
        if self.databases == 0 {
            return invalid("databases", "must be at least 1".into());
        }
        if let Some(password) = &self.auth.requirepass {
            if password.is_empty() {
                return invalid(
                    "auth.requirepass",
                    "must not be empty; leave it out to require no password".into(),
                );
            }
            if password.len() > MAX_PASSWORD_BYTES {
                return invalid(
                    "auth.requirepass",
                    format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
                );
            }
        }
        let l = &self.limits;
        for (field, value) in [
            ("limits.max_connections", l.max_connections),
            ("limits.max_bulk_bytes", l.max_bulk_bytes),
            ("limits.max_array_len", l.max_array_len),
            ("limits.max_query_buffer_bytes", l.max_query_buffer_bytes),
            ("limits.max_key_bytes", l.max_key_bytes),
            ("limits.max_pipeline", l.max_pipeline),
            ("limits.max_queued_requests", l.max_queued_requests),
            ("limits.max_in_flight_requests", l.max_in_flight_requests),
            ("limits.max_storage_tasks", l.max_storage_tasks),
            ("hints.handoff_batch", self.hints.handoff_batch),
            (
                "hints.handoff_interval_ms",
                self.hints.handoff_interval_ms as usize,
            ),
            ("expiry.purge_batch", self.expiry.purge_batch),
            ("admin.max_connections", self.admin.max_connections),
            ("admin.max_headers", self.admin.max_headers),
            (
                "admin.request_timeout_ms",
                self.admin.request_timeout_ms as usize,
            ),
            (
                "expiry.purge_interval_ms",
                self.expiry.purge_interval_ms as usize,
            ),
        ] {
            if value == 0 {
                return invalid(field, "must be at least 1".into());
            }
        }
        let max = kvorum_consistency::catalog::MAX_ENTRIES;
        if !(1..=max).contains(&self.namespaces.max_namespaces) {
            return invalid(
                "namespaces.max_namespaces",
                format!(
                    "must be between 1 and {max}, got {}",
                    self.namespaces.max_namespaces
                ),
            );
        }
        if !(100..=600_000).contains(&self.namespaces.sync_interval_ms) {
            return invalid(
                "namespaces.sync_interval_ms",
                format!(
                    "must be between 100 and 600000 (ms), got {}",
                    self.namespaces.sync_interval_ms
                ),
            );
        }
        self.validate_native()?;
        self.validate_antientropy()?;
        if self.admin.max_request_bytes < MIN_ADMIN_REQUEST_BYTES {
            return invalid(
                "admin.max_request_bytes",
                format!("must be at least {MIN_ADMIN_REQUEST_BYTES}"),
            );
        }
        if self.admin.enabled && self.admin.listen == self.resp_listen {
            return invalid("admin.listen", "must differ from resp_listen".into());
        }
        for peer in &self.peers {
            if let Some(resp) = peer.resp {
                if resp.port() == 0 {
                    return invalid(
                        "peers.resp",
                        format!("peer {}: port must not be 0", peer.id),
                    );
                }
                if resp == self.resp_listen {
                    return invalid(
                        "peers.resp",
                        format!("peer {}: {resp} is this node's own resp_listen", peer.id),
                    );
                }
            }
        }
        if self.peer.max_frame_bytes <= l.max_bulk_bytes {
            return invalid(
                "peer.max_frame_bytes",
                "must be larger than limits.max_bulk_bytes, or a large value could not be replicated".into(),
            );
        }
        Ok(())
    }

    fn validate_antientropy(&self) -> Result<(), ConfigError> {
        let a = &self.antientropy;
        for (field, value, max) in [
            ("antientropy.interval_ms", a.interval_ms, u64::MAX),
            (
                "antientropy.max_keys_per_sec",
                u64::from(a.max_keys_per_sec),
                u64::MAX,
            ),
            ("antientropy.timeout_ms", a.timeout_ms, u64::MAX),
            ("antientropy.max_serving", a.max_serving as u64, 1024),
            (
                "antientropy.max_purge_per_partition",
                a.max_purge_per_partition as u64,
                u64::MAX,
            ),
            // A message must stay far below a peer frame: bounded by what one request may carry.
            (
                "antientropy.batch_keys",
                a.batch_keys as u64,
                crate::antientropy::serve::MAX_KEYS_PER_REQUEST as u64,
            ),
            (
                "antientropy.scan_page",
                u64::from(a.scan_page),
                crate::antientropy::serve::MAX_KEYS_PER_REQUEST as u64,
            ),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::Invalid {
                    field,
                    reason: format!("must be between 1 and {max}, got {value}"),
                });
            }
        }
        Ok(())
    }

    fn validate_native(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: String| Err(ConfigError::Invalid { field, reason });
        let n = &self.native;
        for (field, value) in [
            ("native.max_connections", n.max_connections as u64),
            ("native.max_batch", n.max_batch as u64),
            ("native.max_scan_count", u64::from(n.max_scan_count)),
            ("native.dedup_window_ms", n.dedup_window_ms),
            ("native.dedup_entries", n.dedup_entries as u64),
            ("native.hello_timeout_ms", n.hello_timeout_ms),
        ] {
            if value == 0 {
                return invalid(field, "must be at least 1".into());
            }
        }
        if !(1..=MAX_NATIVE_STREAMS).contains(&n.max_streams_per_connection) {
            return invalid(
                "native.max_streams_per_connection",
                format!(
                    "must be between 1 and {MAX_NATIVE_STREAMS}, got {}",
                    n.max_streams_per_connection
                ),
            );
        }
        let max_frame = u32::MAX as usize;
        if !(MIN_NATIVE_FRAME_BYTES..=max_frame).contains(&n.max_frame_bytes) {
            return invalid(
                "native.max_frame_bytes",
                format!(
                    "must be between {MIN_NATIVE_FRAME_BYTES} and {max_frame}, got {}",
                    n.max_frame_bytes
                ),
            );
        }
        Ok(())
    }

    pub fn durability(&self) -> Result<Durability, String> {
        self.fsync.parse::<Durability>().map_err(|e| e.to_string())
    }

    /// The `default` namespace's policy.
    pub fn policy(&self) -> Result<NamespacePolicy, String> {
        let ns = &self.default_namespace;
        let words: Vec<&str> = ns.consistency.split_whitespace().collect();
        let default = Spec::parse(&words).map_err(|e| format!("consistency: {e}"))?;
        let policy = NamespacePolicy {
            n: self.replication_factor,
            default,
            min_r: ns.min_r,
            min_w: ns.min_w,
            allow_sloppy: ns.allow_sloppy,
            conflict: ns.conflict,
        };
        policy.validate().map_err(|e| e.to_string())?;
        Ok(policy)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
node_id = 1
[tls]
ca_cert = "tls/ca.pem"
node_dir = "tls/n1"
"#;

    fn load(text: &str) -> Result<NodeConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        NodeConfig::load(&path)
    }

    #[test]
    fn defaults_fill_everything_but_the_id_and_relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        let c = NodeConfig::load(&path).unwrap();
        assert_eq!(c.resp_listen.port(), 6379);
        assert_eq!(c.fsync, "always");
        assert_eq!(c.tls.ca_cert, dir.path().join("tls/ca.pem"));
        assert_eq!(c.data_dir, dir.path().join("data"));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused_by_name() {
        let err = load(&format!(
            "replication_factor = 1\nfsinc = \"never\"\n{MINIMAL}"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("fsinc"), "{err}");
        // Three replicas need three nodes.
        let err = load(MINIMAL).unwrap_err();
        assert!(err.to_string().contains("replication_factor"), "{err}");
        let err = load(&format!(
            "replication_factor = 1\nfsync = \"sometimes\"\n{MINIMAL}"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("fsync"), "{err}");
        let err = load(&format!(
            "replication_factor = 1\n{MINIMAL}[default_namespace]\nconsistency = \"MOST\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("default_namespace"), "{err}");
        let err = load(&format!(
            "replication_factor = 1\n{MINIMAL}[limits]\nmax_pipeline = 0\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("limits.max_pipeline"), "{err}");
        for (section, field) in [
            ("max_namespaces = 0", "namespaces.max_namespaces"),
            ("max_namespaces = 1025", "namespaces.max_namespaces"),
            ("sync_interval_ms = 10", "namespaces.sync_interval_ms"),
            ("sync_interval = 10", "sync_interval"),
        ] {
            let err = load(&format!(
                "replication_factor = 1\n{MINIMAL}[namespaces]\n{section}\n"
            ))
            .unwrap_err();
            assert!(err.to_string().contains(field), "{section}: {err}");
        }
        let c = load(&format!(
            "replication_factor = 1\n{MINIMAL}[namespaces]\nmax_namespaces = 10\n"
        ))
        .unwrap();
        assert_eq!(c.namespaces.max_namespaces, 10);
        assert_eq!(c.namespaces.sync_interval_ms, 2_000);
    }

    #[test]
    fn native_limits_are_read_and_checked_by_name() {
        let c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        assert_eq!(c.native, NativeConfig::default());
        assert!(c.native.enabled);
        let c = load(&format!(
            "replication_factor = 1\n{MINIMAL}[native]\nenabled = false\nmax_batch = 7\n"
        ))
        .unwrap();
        assert!(!c.native.enabled);
        assert_eq!(c.native.max_batch, 7);
        for (line, field) in [
            ("max_connections = 0", "native.max_connections"),
            (
                "max_streams_per_connection = 0",
                "native.max_streams_per_connection",
            ),
            (
                "max_streams_per_connection = 70000",
                "native.max_streams_per_connection",
            ),
            ("max_frame_bytes = 100", "native.max_frame_bytes"),
            ("max_frame_bytes = 5000000000", "native.max_frame_bytes"),
            ("max_batch = 0", "native.max_batch"),
            ("max_scan_count = 0", "native.max_scan_count"),
            ("dedup_window_ms = 0", "native.dedup_window_ms"),
            ("dedup_entries = 0", "native.dedup_entries"),
            ("hello_timeout_ms = 0", "native.hello_timeout_ms"),
            ("max_conections = 3", "max_conections"),
        ] {
            let err = load(&format!(
                "replication_factor = 1\n{MINIMAL}[native]\n{line}\n"
            ))
            .unwrap_err();
            assert!(err.to_string().contains(field), "{line}: {err}");
        }
    }

    #[test]
    fn a_key_limit_over_what_the_engine_stores_is_refused() {
        let c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        assert_eq!(c.limits.max_key_bytes, 64_000);
        let err = load(&format!(
            "replication_factor = 1\n{MINIMAL}[limits]\nmax_key_bytes = 65536\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("limits.max_key_bytes"), "{err}");
        let c = load(&format!(
            "replication_factor = 1\nstorage_engine = \"sled\"\n{MINIMAL}[limits]\nmax_key_bytes = 65536\n"
        ))
        .unwrap();
        assert_eq!(c.limits.max_key_bytes, 65_536);
    }

    #[test]
    fn antientropy_settings_are_read_and_checked_by_name() {
        let c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        assert!(c.antientropy.enabled && c.antientropy.purge_tombstones && c.hints.enabled);
        let c = load(&format!(
            "replication_factor = 1\n{MINIMAL}[antientropy]\nenabled = false\ninterval_ms = 500\n\
             [hints]\nenabled = false\n"
        ))
        .unwrap();
        assert!(!c.antientropy.enabled && !c.hints.enabled);
        assert_eq!(c.antientropy.settings().interval.as_millis(), 500);
        for (line, field) in [
            ("interval_ms = 0", "antientropy.interval_ms"),
            ("max_keys_per_sec = 0", "antientropy.max_keys_per_sec"),
            ("batch_keys = 0", "antientropy.batch_keys"),
            ("batch_keys = 5000", "antientropy.batch_keys"),
            ("scan_page = 100000", "antientropy.scan_page"),
            ("max_serving = 0", "antientropy.max_serving"),
            ("timeout_ms = 0", "antientropy.timeout_ms"),
            (
                "max_purge_per_partition = 0",
                "antientropy.max_purge_per_partition",
            ),
            ("intervall_ms = 3", "intervall_ms"),
        ] {
            let err = load(&format!(
                "replication_factor = 1\n{MINIMAL}[antientropy]\n{line}\n"
            ))
            .unwrap_err();
            assert!(err.to_string().contains(field), "{line}: {err}");
        }
    }

    #[test]
    fn runtime_threads_are_read_checked_and_default_to_one_per_core() {
        let c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        assert_eq!(c.runtime.worker_threads, 0);
        assert_eq!(c.runtime.threads(), available_cores());
        let text = format!("replication_factor = 1\n{MINIMAL}\n[runtime]\nworker_threads = 3\n");
        assert_eq!(load(&text).unwrap().runtime.threads(), 3);
        let text = format!("replication_factor = 1\n{MINIMAL}\n[runtime]\nworker_threads = 5000\n");
        let err = load(&text).unwrap_err();
        assert!(err.to_string().contains("runtime.worker_threads"), "{err}");
    }

    #[test]
    fn inline_reads_are_read_checked_and_default_to_sixteen() {
        let c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        assert_eq!(c.runtime.inline_reads, 16);
        let text = format!("replication_factor = 1\n{MINIMAL}\n[runtime]\ninline_reads = 0\n");
        assert_eq!(load(&text).unwrap().runtime.inline_reads, 0);
        let text = format!("replication_factor = 1\n{MINIMAL}\n[runtime]\ninline_reads = 5000\n");
        let err = load(&text).unwrap_err();
        assert!(err.to_string().contains("runtime.inline_reads"), "{err}");
    }

    /// Every field a config can hold (each section's, by name) has a row in docs/CONFIG.md.
    #[test]
    fn every_field_is_documented() {
        let mut c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        c.auth.requirepass = Some("x".into());
        c.peers.push(PeerEntry {
            id: 2,
            addr: "127.0.0.1:7380".parse().unwrap(),
            resp: Some("127.0.0.1:6380".parse().unwrap()),
        });
        let doc = include_str!("../../docs/CONFIG.md");
        let toml::Value::Table(top) = toml::Value::try_from(&c).unwrap() else {
            panic!("a config serialises to a table");
        };
        // (what the doc must contain, the field it stands for)
        let mut wanted: Vec<(String, String)> = Vec::new();
        for (name, value) in &top {
            let tables: Vec<&toml::Table> = match value {
                toml::Value::Table(t) => {
                    wanted.push((format!("## `[{name}]`"), format!("[{name}]")));
                    vec![t]
                }
                toml::Value::Array(a) => {
                    wanted.push((format!("| `{name}` |"), name.clone()));
                    a.iter().filter_map(|v| v.as_table()).collect()
                }
                _ => {
                    wanted.push((format!("| `{name}` |"), name.clone()));
                    Vec::new()
                }
            };
            for field in tables.iter().flat_map(|t| t.keys()) {
                // A list's entries (`peers`) are described in the list's own row.
                let pattern = if value.is_array() {
                    format!("`{field}`")
                } else {
                    format!("| `{field}` |")
                };
                wanted.push((pattern, format!("{name}.{field}")));
            }
        }
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|(pattern, _)| !doc.contains(pattern.as_str()))
            .map(|(_, field)| field)
            .collect();
        assert!(missing.is_empty(), "not in docs/CONFIG.md: {missing:?}");
    }

    #[test]
    fn the_password_and_databases_are_read_checked_and_never_printed() {
        let c = load(&format!("replication_factor = 1\n{MINIMAL}")).unwrap();
        assert_eq!(c.auth.requirepass, None);
        assert_eq!(c.databases, 16);
        let c = load(&format!(
            "replication_factor = 1\ndatabases = 4\n{MINIMAL}[auth]\nrequirepass = \"hunter2\"\n"
        ))
        .unwrap();
        assert_eq!(c.auth.requirepass.as_deref(), Some("hunter2"));
        assert_eq!(c.databases, 4);
        assert!(!format!("{c:?}").contains("hunter2"));
        let err = load(&format!(
            "replication_factor = 1\n{MINIMAL}[auth]\nrequirepass = \"\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("auth.requirepass"), "{err}");
        let err = load(&format!(
            "replication_factor = 1\n{MINIMAL}[auth]\npassword = \"x\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        let err = load(&format!("replication_factor = 1\ndatabases = 0\n{MINIMAL}")).unwrap_err();
        assert!(err.to_string().contains("databases"), "{err}");
    }
}
