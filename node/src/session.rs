//! State shared by every RESP connection of a node ([`Shared`]) and the state of one
//! connection ([`Session`]).
//!
//! - [`Shared`]: node-wide handles (replication driver, hints), what the node's configuration
//!   tells clients ([`NodeView`]), the counters `INFO` reports ([`Stats`]) and the registry of
//!   open connections ([`ClientRegistry`]).
//! - [`Session`]: one connection's protocol, database (namespace), consistency, name,
//!   authentication and reply mode. Only its connection's task touches it.
//! - [`ClientEntry`]: what *other* connections may see of, and do to, one connection. `CLIENT
//!   LIST` reads a snapshot ([`ClientView`]) that the connection refreshes after each command
//!   ([`Session::record`]); `CLIENT KILL` raises the entry's kill signal, which the connection's
//!   task watches. There is one entry per open connection (a session removes its own when it is
//!   dropped), so the registry is bounded by `limits.max_connections`.
//!
//! Authentication is enforced in one place, [`Session::auth_refusal`], which the listener calls
//! for every command before dispatching it. It checks in Redis's order: an unknown command or a
//! wrong number of arguments is reported as such, and only then `-NOAUTH`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use kvorum_consistency::{Level, LevelError, NamespacePolicy, Spec};
use kvorum_resp::{Frame, Protocol};
use kvorum_ring::{NamespaceId, NodeId};
use tokio::sync::Notify;

use crate::catalog::{LookupError, NamespaceCatalog};
use crate::commands::CommandSpec;
use crate::config::NodeConfig;
use crate::driver::DriverHandle;
use crate::expiry::PurgeCounters;
use crate::handoff::HandoffCounters;
use crate::peer::PeerLiveness;
use crate::storage::hints::HintStore;

/// The liveness of every configured peer, in ascending id order (the peer mesh's view).
pub type PeerView = Box<dyn Fn() -> Vec<(u64, PeerLiveness)> + Send + Sync>;

/// Counts this node's replica's keys in the given namespaces, `(namespace, keys, expires)` for
/// each that holds any (`INFO keyspace`). It reads storage: call it off the async runtime.
pub type KeyspaceView = Arc<dyn Fn(&[NamespaceId]) -> Vec<(NamespaceId, u64, u64)> + Send + Sync>;

/// What every connection of the node uses.
pub struct Shared {
    pub node: NodeId,
    pub driver: DriverHandle,
    pub hints: Arc<HintStore>,
    pub handoff: Arc<HandoffCounters>,
    pub request_timeout_ms: u64,
    /// The `default` namespace's consistency policy as configured (`[default_namespace]`).
    /// Requests take their namespace's policy from [`Shared::catalog`].
    pub policy: NamespacePolicy,
    /// The namespace catalog: every namespace's id, db index and policy.
    pub catalog: Arc<NamespaceCatalog>,

    pub max_key_bytes: usize,
    pub fsync: String,
    /// Configuration and cluster facts that connection and server commands report.
    pub view: NodeView,
    pub stats: Stats,
    pub clients: Arc<ClientRegistry>,
    pub started: Instant,
    /// A random identifier of this process (`INFO server` `run_id`), 40 hex digits.
    pub run_id: String,
    next_client_id: AtomicU64,
}

/// What the node's configuration says to clients (`CONFIG GET`, `INFO`, `SELECT`, `AUTH`) and
/// its live view of the cluster.
pub struct NodeView {
    /// The `default` user's password; `None`: connections start authenticated.
    pub requirepass: Option<Bytes>,
    /// `SELECT` accepts 0 to `databases - 1`.
    pub databases: u32,
    pub resp_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_connections: usize,
    pub max_bulk_bytes: usize,
    pub max_query_buffer_bytes: usize,
    /// Nodes of the cluster, this one included.
    pub cluster_nodes: usize,
    pub peers: PeerView,
    pub keyspace: KeyspaceView,
    /// What the expiry purger has done (`INFO stats` `expired_keys`).
    pub purge: Arc<PurgeCounters>,
    /// The cluster facts `ADMIN` reports (peers' addresses, layout).
    pub admin: crate::commands::admin::AdminFacts,
    /// Anti-entropy: its trees (`REPLICA DIGEST`), counters and on-demand repairs.
    pub antientropy: crate::antientropy::AntiEntropy,
}

impl NodeView {
    pub fn from_config(
        config: &NodeConfig,
        peers: PeerView,
        keyspace: KeyspaceView,
        purge: Arc<PurgeCounters>,
        antientropy: crate::antientropy::AntiEntropy,
    ) -> Self {
        NodeView {
            requirepass: config
                .auth
                .requirepass
                .as_ref()
                .map(|p| Bytes::copy_from_slice(p.as_bytes())),
            databases: config.databases,
            resp_listen: config.resp_listen,
            data_dir: config.data_dir.clone(),
            max_connections: config.limits.max_connections,
            max_bulk_bytes: config.limits.max_bulk_bytes,
            max_query_buffer_bytes: config.limits.max_query_buffer_bytes,
            cluster_nodes: config.peers.len() + 1,
            peers,
            keyspace,
            purge,
            admin: crate::commands::admin::AdminFacts::from_config(config),
            antientropy,
        }
    }
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        node: NodeId,
        driver: DriverHandle,
        hints: Arc<HintStore>,
        handoff: Arc<HandoffCounters>,
        request_timeout_ms: u64,
        policy: NamespacePolicy,
        catalog: Arc<NamespaceCatalog>,
        max_key_bytes: usize,
        fsync: String,
        view: NodeView,
    ) -> Self {
        Shared {
            node,
            driver,
            hints,
            handoff,
            request_timeout_ms,
            policy,
            catalog,

            max_key_bytes,
            fsync,
            view,
            stats: Stats::new(),
            clients: Arc::new(ClientRegistry::default()),
            started: Instant::now(),
            run_id: random_hex_id(),
            next_client_id: AtomicU64::new(1),
        }
    }

    /// The state of a new connection, registered in [`Shared::clients`] until it is dropped.
    /// `fd` is the socket's file descriptor (shown by `CLIENT LIST`).
    pub fn new_session(&self, addr: SocketAddr, laddr: SocketAddr, fd: i64) -> Session {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let authenticated = self.view.requirepass.is_none();
        let now = Instant::now();
        let client = Arc::new(ClientEntry {
            id,
            addr,
            laddr,
            fd,
            created: now,
            view: Mutex::new(ClientView::new(authenticated, now)),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
            last_write_acks: AtomicUsize::new(0),
        });
        self.clients.insert(client.clone());
        Session {
            id,
            protocol: Protocol::Resp2,
            name: None,
            lib_name: None,
            lib_ver: None,
            consistency: Spec::default(),
            namespace: NamespaceId::DEFAULT,
            closing: false,
            authenticated,
            reply: ReplyMode::default(),
            no_evict: false,
            no_touch: false,
            client,
            registry: self.clients.clone(),
        }
    }

    /// Checks a password for a user (`None`: the one-argument `AUTH password` form), as Redis
    /// does with only its `default` user: any other user name is refused, and without a
    /// configured password the `default` user takes any password. The password is compared in
    /// time that does not depend on how much of it is right.
    pub fn authenticate(&self, username: Option<&[u8]>, password: &[u8]) -> Result<(), Frame> {
        let wrong =
            || Frame::error("WRONGPASS invalid username-password pair or user is disabled.");
        if username.is_some_and(|u| u != b"default") {
            return Err(wrong());
        }
        match &self.view.requirepass {
            None if username.is_none() => Err(Frame::error(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            )),
            None => Ok(()),
            Some(expected) if constant_time_eq(expected, password) => Ok(()),
            Some(_) => Err(wrong()),
        }
    }

    /// The level and timeout a request in namespace `ns` runs with, under `spec` (the
    /// connection's setting, or a per-command one over it): the namespace's policy, read from
    /// the catalog on every call so changes apply to the next request, fills what is left open
    /// and refuses what its floors forbid.
    pub fn resolve(&self, ns: NamespaceId, spec: &Spec) -> Result<Resolved, ResolveError> {
        let def = self.catalog.def_of(ns)?;
        let policy = def.policy;
        let level = policy.resolve(spec)?;
        let timeout_ms = spec
            .or(&policy.default)
            .timeout_ms
            .unwrap_or(self.request_timeout_ms);
        Ok(Resolved {
            level,
            timeout_ms,
            n: policy.n,
            default_ttl_ms: def.ttl_s.map(|s| s.saturating_mul(1_000)),
        })
    }
}

/// What a request in a namespace runs with ([`Shared::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub level: Level,
    pub timeout_ms: u64,
    /// The namespace's replication factor.
    pub n: usize,
    /// The namespace's TTL (`NAMESPACE … TTL`), given to every write.
    pub default_ttl_ms: Option<u64>,
}

/// Why a request's consistency could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Level(#[from] LevelError),
    #[error(transparent)]
    Namespace(#[from] LookupError),
}

/// One RESP connection's state.
pub struct Session {
    pub id: u64,
    pub protocol: Protocol,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    /// This connection's consistency (`CONSISTENCY ...`); what it leaves open comes from the
    /// namespace default.
    pub consistency: Spec,
    /// The namespace this connection's keys live in (`SELECT n` picks the one of db `n`).
    pub namespace: NamespaceId,
    /// Set by QUIT (and by a `CLIENT KILL` of this very connection): close once the replies so
    /// far are written.
    pub closing: bool,
    /// Whether commands other than AUTH, HELLO, QUIT and RESET may run: always true without a
    /// configured password, else after a successful `AUTH`.
    pub authenticated: bool,
    /// `CLIENT REPLY ON|OFF|SKIP`.
    pub reply: ReplyMode,
    /// `CLIENT NO-EVICT` and `CLIENT NO-TOUCH`: accepted and shown, nothing is evicted or
    /// touched differently.
    pub no_evict: bool,
    pub no_touch: bool,
    /// This connection's entry in the node's client registry.
    pub client: Arc<ClientEntry>,
    registry: Arc<ClientRegistry>,
}

impl Session {
    /// The error that refuses a command on a connection that has not authenticated, `None` if
    /// it may run (or if dispatching it will report an unknown command or a wrong number of
    /// arguments, which Redis reports before authentication). `spec` is the command's table
    /// entry, `argc` its number of arguments including the name.
    pub fn auth_refusal(&self, spec: Option<&CommandSpec>, argc: usize) -> Option<Frame> {
        if self.authenticated {
            return None;
        }
        let spec = spec?;
        let argc = argc as i64;
        let arity_ok = if spec.arity >= 0 {
            argc == spec.arity
        } else {
            argc >= -spec.arity
        };
        if !arity_ok || spec.flags.contains(&"no_auth") {
            return None;
        }
        Some(Frame::error("NOAUTH Authentication required."))
    }

    /// Publishes this connection's state for `CLIENT LIST` after a command ran: `spec` is the
    /// command's table entry (`None` for an unknown one), `args` the command, `qbuf` and
    /// `qbuf_free` the bytes left in, and free in, the read buffer.
    pub fn record(
        &self,
        spec: Option<&'static CommandSpec>,
        args: &[Bytes],
        qbuf: usize,
        qbuf_free: usize,
    ) {
        let view = self.live_view(spec, args, qbuf, qbuf_free);
        *self.client.lock() = view;
    }

    /// This connection's state as `CLIENT LIST` shows it, now, while running `args`.
    pub fn live_view(
        &self,
        spec: Option<&'static CommandSpec>,
        args: &[Bytes],
        qbuf: usize,
        qbuf_free: usize,
    ) -> ClientView {
        ClientView {
            name: self.name.clone(),
            lib_name: self.lib_name.clone(),
            lib_ver: self.lib_ver.clone(),
            db: self.namespace.0,
            resp: match self.protocol {
                Protocol::Resp2 => 2,
                Protocol::Resp3 => 3,
            },
            authenticated: self.authenticated,
            no_evict: self.no_evict,
            no_touch: self.no_touch,
            consistency: self.consistency.clone(),
            command: spec.map(|s| s.name),
            subcommand: spec
                .filter(|s| HAS_SUBCOMMANDS.contains(&s.name))
                .and_then(|_| args.get(1))
                .filter(|sub| sub.len() <= 32)
                .cloned(),
            last_active: Instant::now(),
            qbuf,
            qbuf_free,
            argv_mem: args.iter().map(|a| a.len()).sum(),
        }
    }

    /// `RESET`: back to a new connection's state (RESP2, db 0, no name, the namespace's
    /// consistency, replies on, unauthenticated if a password is configured). The library name
    /// and version stay: they still describe the client behind the connection.
    pub fn reset(&mut self, shared: &Shared) {
        self.protocol = Protocol::Resp2;
        self.name = None;
        self.consistency = Spec::default();
        self.namespace = NamespaceId::DEFAULT;
        self.authenticated = shared.view.requirepass.is_none();
        self.reply = ReplyMode::default();
        self.no_evict = false;
        self.no_touch = false;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// Commands whose first argument is a subcommand, shown as `command|subcommand` in `CLIENT
/// LIST`, as Redis does.
const HAS_SUBCOMMANDS: &[&str] = &["client", "command", "config", "namespace", "replica"];

/// `CLIENT REPLY`: whether replies are sent.
///
/// `OFF` silences every reply, its own included, until `ON`; `SKIP` silences its own reply and
/// the next command's. The listener asks [`ReplyMode::finish`] after each command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyMode {
    off: bool,
    skip_next: bool,
    skip_current: bool,
}

impl ReplyMode {
    /// `CLIENT REPLY ON`: its own reply is sent, even right after a `SKIP`.
    pub fn on(&mut self) {
        *self = ReplyMode::default();
    }

    pub fn off(&mut self) {
        self.off = true;
    }

    /// `CLIENT REPLY SKIP` (no effect while replies are off).
    pub fn skip(&mut self) {
        if !self.off {
            self.skip_next = true;
        }
    }

    /// After a command ran: whether its reply is sent.
    pub fn finish(&mut self) -> bool {
        let send = !(self.off || self.skip_current || self.skip_next);
        self.skip_current = std::mem::take(&mut self.skip_next);
        send
    }
}

/// One open connection as other connections see it.
pub struct ClientEntry {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i64,
    pub created: Instant,
    view: Mutex<ClientView>,
    killed: AtomicBool,
    kill_signal: Notify,
    /// Replicas that held this connection's last write when it was acknowledged (`WAIT`).
    pub last_write_acks: AtomicUsize,
}

impl ClientEntry {
    /// The connection's state after its last command.
    pub fn view(&self) -> ClientView {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, ClientView> {
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Asks the connection to close (`CLIENT KILL`): it stops running commands, drops the
    /// replies it has not written and closes.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_signal.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves once [`ClientEntry::kill`] was called.
    pub async fn killed(&self) {
        if self.is_killed() {
            return;
        }
        // `notify_one` leaves a permit when nobody waits, so a kill between the check above
        // and this wait is not lost.
        self.kill_signal.notified().await;
    }
}

/// A connection's state as `CLIENT LIST` shows it.
#[derive(Clone, Debug)]
pub struct ClientView {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub db: u32,
    pub resp: u8,
    pub authenticated: bool,
    pub no_evict: bool,
    pub no_touch: bool,
    pub consistency: Spec,
    /// The last command's name (`None` before the first known command).
    pub command: Option<&'static str>,
    /// Its subcommand, for commands that have them.
    pub subcommand: Option<Bytes>,
    pub last_active: Instant,
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub argv_mem: usize,
}

impl ClientView {
    fn new(authenticated: bool, now: Instant) -> Self {
        ClientView {
            name: None,
            lib_name: None,
            lib_ver: None,
            db: 0,
            resp: 2,
            authenticated,
            no_evict: false,
            no_touch: false,
            consistency: Spec::default(),
            command: None,
            subcommand: None,
            last_active: now,
            qbuf: 0,
            qbuf_free: 0,
            argv_mem: 0,
        }
    }
}

/// Every open connection of the node, by id (ids grow, so this is also connection order).
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientEntry>>>,
}

impl ClientRegistry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ClientEntry>>> {
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, entry: Arc<ClientEntry>) {
        self.lock().insert(entry.id, entry);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientEntry>> {
        self.lock().get(&id).cloned()
    }

    /// Every open connection, in id order.
    pub fn all(&self) -> Vec<Arc<ClientEntry>> {
        self.lock().values().cloned().collect()
    }
}

/// Most distinct error codes `INFO errorstats` tracks (as Redis); later codes only count in
/// `total_error_replies`.
pub const MAX_ERROR_CODES: usize = 128;

/// Node-wide counters for `INFO stats`, `INFO errorstats` and `INFO commandstats`;
/// `CONFIG RESETSTAT` zeroes them.
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    pub error_replies: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Per command name: calls, and calls refused before running (`-NOAUTH`).
    commands: HashMap<&'static str, (AtomicU64, AtomicU64)>,
}

/// One command's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandStat {
    pub name: &'static str,
    pub calls: u64,
    pub rejected_calls: u64,
}

impl Stats {
    fn new() -> Self {
        Stats {
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            reads_processed: AtomicU64::new(0),
            writes_processed: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            commands: crate::commands::all()
                .map(|c| (c.name, (AtomicU64::new(0), AtomicU64::new(0))))
                .collect(),
        }
    }

    fn errors(&self) -> MutexGuard<'_, BTreeMap<String, u64>> {
        self.errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a command that runs (`rejected = false`) or is refused before running.
    pub fn command(&self, spec: &CommandSpec, rejected: bool) {
        if let Some((calls, refused)) = self.commands.get(spec.name) {
            if rejected {
                refused.fetch_add(1, Ordering::Relaxed);
            } else {
                calls.fetch_add(1, Ordering::Relaxed);
                self.commands_processed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts an error reply by its code (its first word: `ERR`, `NOAUTH`, ...).
    pub fn error_reply(&self, message: &[u8]) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let code = message.split(|&b| b == b' ').next().unwrap_or_default();
        let code = String::from_utf8_lossy(&code[..code.len().min(32)]).into_owned();
        let mut errors = self.errors();
        let tracked = errors.len();
        match errors.get_mut(&code) {
            Some(count) => *count += 1,
            None if tracked < MAX_ERROR_CODES => {
                errors.insert(code, 1);
            }
            None => {}
        }
    }

    /// Error replies by code, in code order.
    pub fn error_codes(&self) -> Vec<(String, u64)> {
        self.errors()
            .iter()
            .map(|(code, count)| (code.clone(), *count))
            .collect()
    }

    /// Commands called at least once (or refused), by name.
    pub fn command_stats(&self) -> Vec<CommandStat> {
        let mut stats: Vec<CommandStat> = self
            .commands
            .iter()
            .map(|(name, (calls, rejected))| CommandStat {
                name,
                calls: calls.load(Ordering::Relaxed),
                rejected_calls: rejected.load(Ordering::Relaxed),
            })
            .filter(|s| s.calls > 0 || s.rejected_calls > 0)
            .collect();
        stats.sort_unstable_by_key(|s| s.name);
        stats
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.reads_processed,
            &self.writes_processed,
            &self.error_replies,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        for (calls, rejected) in self.commands.values() {
            calls.store(0, Ordering::Relaxed);
            rejected.store(0, Ordering::Relaxed);
        }
        self.errors().clear();
    }
}

/// Whether two byte strings are equal, in time that depends only on `expected`'s length: the
/// loop always runs over every byte of `expected` and never stops at the first difference.
pub fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, &e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(!e);
    }
    std::hint::black_box(diff) == 0
}

/// 40 hex digits that differ from process to process: the standard library's per-process
/// random hash keys over the process id and the start time.
fn random_hex_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut id = String::with_capacity(48);
    for round in 0u64..3 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(round);
        hasher.write_u32(std::process::id());
        hasher.write_u128(nanos);
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id.truncate(40);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(!constant_time_eq(b"secret", b""));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn reply_skip_silences_itself_and_the_next_command_only() {
        let mut mode = ReplyMode::default();
        assert!(mode.finish());
        mode.skip();
        assert!(!mode.finish(), "SKIP has no reply");
        assert!(!mode.finish(), "the command after SKIP has none");
        assert!(mode.finish());
        mode.off();
        assert!(!mode.finish());
        mode.skip();
        assert!(!mode.finish());
        assert!(!mode.finish(), "still off");
        mode.on();
        assert!(mode.finish(), "ON answers");
        mode.skip();
        assert!(!mode.finish());
        mode.on();
        assert!(mode.finish(), "ON right after SKIP answers");
        assert!(mode.finish());
    }

    #[test]
    fn run_ids_are_40_hex_digits_and_differ() {
        let a = random_hex_id();
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_hex_id());
    }

    #[test]
    fn errors_count_by_code_up_to_a_bound() {
        let stats = Stats::new();
        stats.error_reply(b"ERR syntax error");
        stats.error_reply(b"ERR wrong");
        stats.error_reply(b"NOAUTH Authentication required.");
        assert_eq!(
            stats.error_codes(),
            vec![("ERR".to_owned(), 2), ("NOAUTH".to_owned(), 1)]
        );
        for i in 0..2 * MAX_ERROR_CODES {
            stats.error_reply(format!("E{i} x").as_bytes());
        }
        assert_eq!(stats.error_codes().len(), MAX_ERROR_CODES);
        assert_eq!(
            stats.error_replies.load(Ordering::Relaxed),
            3 + 2 * MAX_ERROR_CODES as u64
        );
        stats.reset();
        assert!(stats.error_codes().is_empty());
    }
}
