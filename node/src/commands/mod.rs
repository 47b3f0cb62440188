//! RESP commands: one file per command family, each with its own table (`COMMANDS`), looked
//! up through one index. docs/REDIS.md documents every command and how it differs from Redis.
//!
//! - `connection.rs`: PING, ECHO, AUTH, HELLO, QUIT, RESET, SELECT, CLIENT.
//! - `server.rs`: COMMAND, CONFIG, INFO, TIME — what clients call when they connect.
//! - `strings.rs`: GET, SET (all options), GETSET, GETDEL, GETEX, SETNX, SETEX, PSETEX, APPEND,
//!   STRLEN, GETRANGE, SETRANGE, MGET, MSET, MSETNX.
//! - `counters.rs`: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT (a PN-counter).
//! - `keys.rs`: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX.
//! - `ttl.rs`: EXPIRE and its relatives, TTL, PTTL, PERSIST, EXPIRETIME, PEXPIRETIME.
//! - `keyspace.rs`: SCAN, KEYS, DBSIZE, RANDOMKEY, FLUSHDB, FLUSHALL (walks in key-hash order).
//! - `hashes.rs`, `sets.rs`: the H* and S* commands (observed-remove map and add-wins set).
//! - `wait.rs`: WAIT.
//! - `namespace.rs`: NAMESPACE (the namespace catalog);
//! - `consistency.rs`: CONSISTENCY and WITH; `context.rs`: GETCTX, SETCTX; `replica.rs`:
//!   REPLICA GET (kvorum's extensions); `admin.rs`: ADMIN (cluster status as JSON).
//! - `debug.rs`: DEBUG, the test harness's hooks (clock offset, fault switches); only served by
//!   builds with the `fault-injection` feature, an error otherwise.
//! - Helpers: `reply.rs` (replication outcomes to RESP replies and errors), `view.rs` (what a
//!   read sees, typed), `pattern.rs` (glob patterns), and in this file [`Submitter`] with the
//!   request shapes [`single`], [`requests`] and [`steps`].
//!
//! A handler runs synchronously on the connection's task and returns an [`Outcome`]: either the
//! reply itself or a future of it. Data commands queue their requests with the replication
//! driver *before* returning, so the futures of a pipelined batch run concurrently while the
//! connection still writes their replies in order.

pub mod admin;
mod connection;
mod consistency;
mod context;
mod counters;
mod debug;
mod hashes;
mod keys;
mod keyspace;
mod namespace;
mod pattern;
mod replica;
pub(crate) mod reply;
mod server;
mod sets;
mod strings;
mod ttl;
mod view;
mod wait;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use kvorum_consistency::{Command, Consistency, Key, Level, Reply, Request, Spec};
use kvorum_resp::Frame;
use kvorum_ring::NamespaceId;

use crate::driver::{DriverHandle, Work};
use crate::session::{ClientEntry, Session, Shared};
pub use reply::{done, Done};

/// The reply of one command, now or later.
pub enum Outcome {
    Now(Frame),
    Later(Pin<Box<dyn Future<Output = Frame> + Send>>),
}

impl From<Frame> for Outcome {
    fn from(frame: Frame) -> Self {
        Outcome::Now(frame)
    }
}

/// What a handler may use: the node and this connection's state.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    /// A per-command consistency (`WITH ... --`) over the connection's.
    pub command_spec: Option<Spec>,
}

impl<'a> Ctx<'a> {
    pub fn new(shared: &'a Shared, session: &'a mut Session) -> Self {
        Ctx {
            shared,
            session,
            command_spec: None,
        }
    }
}

type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Outcome;

/// One command as `COMMAND` describes it, and its handler.
pub struct CommandSpec {
    pub name: &'static str,
    /// Redis convention: `n` = exactly n arguments including the name; `-n` = at least n.
    pub arity: i64,
    pub flags: &'static [&'static str],
    /// Position of the first key, of the last key (-1: the last argument), and the step.
    pub keys: (i64, i64, i64),
    /// For commands whose keys move with their arguments (`keys` is then `(0, 0, 0)`, as
    /// Redis reports it): finds them.
    movable_keys: Option<KeyFinder>,
    handler: Handler,
}

/// The keys of one command's arguments.
pub type Keys<'a> = Box<dyn Iterator<Item = &'a Bytes> + 'a>;

/// Finds a command's movable keys in its arguments.
type KeyFinder = for<'a> fn(&'a [Bytes]) -> Keys<'a>;

pub(super) const fn spec(
    name: &'static str,
    arity: i64,
    flags: &'static [&'static str],
    keys: (i64, i64, i64),
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        movable_keys: None,
        handler,
    }
}

impl CommandSpec {
    /// The same command with movable keys found by `finder`.
    pub(super) const fn movable(self, finder: KeyFinder) -> CommandSpec {
        CommandSpec {
            movable_keys: Some(finder),
            ..self
        }
    }
}

pub(super) const NO_KEYS: (i64, i64, i64) = (0, 0, 0);

/// Every command family: its name (its file in this module) and its table. The name is also the
/// `family` label of the request metrics, which [`crate::metrics::family_of`] derives from this
/// table, so a family is labelled as soon as it is listed here and never drifts from its table.
pub(crate) static FAMILIES: &[(&str, &[CommandSpec])] = &[
    ("connection", connection::COMMANDS),
    ("server", server::COMMANDS),
    ("strings", strings::COMMANDS),
    ("counters", counters::COMMANDS),
    ("ttl", ttl::COMMANDS),
    ("keyspace", keyspace::COMMANDS),
    ("wait", wait::COMMANDS),
    ("keys", keys::COMMANDS),
    ("hashes", hashes::COMMANDS),
    ("sets", sets::COMMANDS),
    ("consistency", consistency::COMMANDS),
    ("namespace", namespace::COMMANDS),
    ("context", context::COMMANDS),
    ("replica", replica::COMMANDS),
    ("admin", admin::COMMANDS),
    ("debug", debug::COMMANDS),
];

/// Every command the node serves.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    FAMILIES.iter().flat_map(|(_, family)| family.iter())
}

/// The table entry of a command name, in any letter case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: LazyLock<HashMap<&'static str, &'static CommandSpec>> =
        LazyLock::new(|| all().map(|c| (c.name, c)).collect());
    // Lower-cased on the stack: this runs for every command.
    let mut lower = [0u8; 32];
    let lower = lower.get_mut(..name.len())?;
    for (l, c) in lower.iter_mut().zip(name) {
        *l = c.to_ascii_lowercase();
    }
    std::str::from_utf8(lower)
        .ok()
        .and_then(|n| INDEX.get(n).copied())
}

/// Runs one command (`args[0]` is its name).
pub fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let spec = args.first().and_then(|name| lookup(name));
    dispatch_spec(ctx, spec, args)
}

/// [`dispatch`] for a caller that already looked the command up (`spec` is
/// `lookup(&args[0])`): the listener looks every command up once, not once per use.
pub fn dispatch_spec(
    ctx: &mut Ctx<'_>,
    spec: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> Outcome {
    let Some(name) = args.first() else {
        return Frame::error("ERR empty command").into();
    };
    let Some(spec) = spec else {
        return Frame::error(unknown_command(name, &args[1..])).into();
    };
    let n = args.len() as i64;
    if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
        return wrong_arity(spec.name).into();
    }
    (spec.handler)(ctx, args)
}

/// Where a command's requests go and with which consistency: resolved once per command from
/// the connection's settings, cheap to clone into the reply's future for commands that issue
/// requests in steps (`RENAME`, `SMOVE`, `MSETNX`).
#[derive(Clone)]
pub struct Submitter {
    driver: DriverHandle,
    ns: NamespaceId,
    level: Level,
    timeout_ms: u64,
    /// The namespace's replication factor, sent with each request.
    n: usize,
    /// The namespace's TTL, sent with each request.
    default_ttl_ms: Option<u64>,
    max_key_bytes: usize,
    /// The connection, whose last write's acknowledgements `WAIT` reports.
    client: Arc<ClientEntry>,
}

impl Submitter {
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    /// A page of this namespace's live keys from `from_hash` (see [`crate::keyspace`]), within
    /// the request timeout.
    pub async fn list(
        &self,
        from_hash: u64,
        limit: u32,
    ) -> Result<kvorum_consistency::KeyPage, String> {
        let timeout = std::time::Duration::from_millis(self.timeout_ms);
        match tokio::time::timeout(timeout, self.driver.list(self.ns, from_hash, limit)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "TIMEOUT the replicas did not list their keys within {} ms",
                self.timeout_ms
            )),
        }
    }

    /// Checks a key against the size limit.
    pub fn check_key(&self, key: &[u8]) -> Result<(), Frame> {
        check_key(key, self.max_key_bytes)
    }

    /// Queues a request for the replication driver right away (so the requests of a pipeline
    /// run concurrently) and returns its reply's future.
    pub fn submit(
        &self,
        key: &Bytes,
        command: Command,
    ) -> impl Future<Output = Reply> + Send + 'static {
        let request = Request {
            key: Key {
                ns: self.ns,
                key: key.to_vec(),
            },
            command,
            consistency: Consistency::Explicit(self.level),
            timeout_ms: self.timeout_ms,
            n: Some(self.n),
            default_ttl_ms: self.default_ttl_ms,
        };
        let queued = self.driver.try_submit(Work::Request(request));
        let client = self.client.clone();
        async move {
            let reply = match queued.await {
                Ok(rx) => rx.await.unwrap_or(Reply::Failed {
                    reason: "the node is shutting down".into(),
                }),
                Err(_) => Reply::Failed {
                    reason: "the node is shutting down".into(),
                },
            };
            if let Reply::Written { acks, .. } = &reply {
                client.last_write_acks.store(*acks, Ordering::Relaxed);
            }
            reply
        }
    }
}

impl Ctx<'_> {
    /// The submitter of this command: the namespace of the connection, its consistency (or the
    /// per-command one of `WITH`) resolved against the namespace's policy.
    pub fn submitter(&self) -> Result<Submitter, Frame> {
        self.submitter_in(self.session.namespace, &self.request_spec())
    }

    /// The consistency this command asked for: `WITH`'s over the connection's.
    pub fn request_spec(&self) -> Spec {
        match &self.command_spec {
            Some(spec) => spec.or(&self.session.consistency),
            None => self.session.consistency.clone(),
        }
    }

    /// A submitter for namespace `ns` under `spec`, resolved against that namespace's policy
    /// (its defaults, floors and `N`).
    pub fn submitter_in(&self, ns: NamespaceId, spec: &Spec) -> Result<Submitter, Frame> {
        let resolved = self
            .shared
            .resolve(ns, spec)
            .map_err(|e| Frame::error(format!("ERR {e}")))?;
        Ok(Submitter {
            driver: self.shared.driver.clone(),
            ns,
            level: resolved.level,
            timeout_ms: resolved.timeout_ms,
            n: resolved.n,
            default_ttl_ms: resolved.default_ttl_ms,
            max_key_bytes: self.shared.max_key_bytes,
            client: self.session.client.clone(),
        })
    }
}

/// The common shape of most data commands: check each key against the size limit, queue one
/// replication request per key *now* (so they run concurrently, also across a pipeline), and
/// build the reply from all the replies, in key order, once they are in.
pub fn requests<'k>(
    ctx: &mut Ctx<'_>,
    requests: impl IntoIterator<Item = (&'k Bytes, Command)>,
    finish: impl FnOnce(Vec<Reply>, u64) -> Frame + Send + 'static,
) -> Outcome {
    let submitter = match ctx.submitter() {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    let requests: Vec<(&Bytes, Command)> = requests.into_iter().collect();
    if let Some(e) = requests
        .iter()
        .find_map(|(k, _)| submitter.check_key(k).err())
    {
        return e.into();
    }
    let pending: Vec<_> = requests
        .into_iter()
        .map(|(key, command)| submitter.submit(key, command))
        .collect();
    let timeout_ms = submitter.timeout_ms;
    Outcome::Later(Box::pin(async move {
        let mut replies = Vec::with_capacity(pending.len());
        for reply in pending {
            replies.push(reply.await);
        }
        finish(replies, timeout_ms)
    }))
}

/// One request on one key; `finish` sees its success ([`Done`]), errors answer themselves.
pub fn single(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    command: Command,
    finish: impl FnOnce(Done) -> Frame + Send + 'static,
) -> Outcome {
    requests(ctx, [(key, command)], |replies, timeout_ms| {
        match replies.into_iter().next().map(|r| done(r, timeout_ms)) {
            Some(Ok(d)) => finish(d),
            Some(Err(e)) => e,
            None => Frame::null(),
        }
    })
}

/// Runs `steps` (an async sequence of requests through the submitter) as the command's reply.
pub fn steps<F>(ctx: &mut Ctx<'_>, steps: impl FnOnce(Submitter) -> F) -> Outcome
where
    F: Future<Output = Frame> + Send + 'static,
{
    match ctx.submitter() {
        Ok(submitter) => Outcome::Later(Box::pin(steps(submitter))),
        Err(e) => e.into(),
    }
}

/// Checks a key against the node's size limit.
pub fn check_key(key: &[u8], max_key_bytes: usize) -> Result<(), Frame> {
    if key.len() > max_key_bytes {
        return Err(Frame::error(format!(
            "ERR key is too large ({} bytes, the limit is {max_key_bytes} bytes)",
            key.len(),
        )));
    }
    Ok(())
}

/// Parses an integer argument; Redis's error otherwise.
pub fn int_arg(arg: &[u8]) -> Result<i64, Frame> {
    kvorum_consistency::crdt::counter::parse_int(arg)
        .ok_or_else(|| Frame::error("ERR value is not an integer or out of range"))
}

/// Parses a float increment; Redis's error otherwise. An infinite increment parses (as in
/// Redis) and is then refused by the op for producing an infinite value.
pub fn float_arg(arg: &[u8]) -> Result<f64, Frame> {
    let infinite = |word: &[u8]| {
        ["inf", "infinity"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
    };
    match arg {
        [b'-', rest @ ..] if infinite(rest) => Ok(f64::NEG_INFINITY),
        [b'+', rest @ ..] if infinite(rest) => Ok(f64::INFINITY),
        word if infinite(word) => Ok(f64::INFINITY),
        _ => kvorum_consistency::crdt::counter::parse_float(arg)
            .ok_or_else(|| Frame::error("ERR value is not a valid float")),
    }
}

/// Whether an argument is `word`, in any letter case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub fn wrong_arity(name: &str) -> Frame {
    Frame::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub fn syntax_error() -> Frame {
    Frame::error("ERR syntax error")
}

fn unknown_command(name: &[u8], rest: &[Bytes]) -> String {
    let mut message = format!(
        "ERR unknown command '{}', with args beginning with: ",
        printable(name)
    );
    for arg in rest.iter().take(8) {
        message.push_str(&format!("'{}' ", printable(arg)));
    }
    message
}

/// Text safe to put in a one-line error: at most 128 bytes, no control characters.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(128)])
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The keys a command touches, from its table entry (none for unknown or keyless commands);
/// for `WITH ... -- command`, the keys of the wrapped command.
pub fn keys_of(args: &[Bytes]) -> Keys<'_> {
    let spec = args.first().and_then(|name| lookup(name));
    keys_of_spec(spec, args)
}

/// [`keys_of`] for a command already looked up (`spec` is `lookup(&args[0])`).
pub fn keys_of_spec<'a>(spec: Option<&'static CommandSpec>, args: &'a [Bytes]) -> Keys<'a> {
    let Some(spec) = spec else {
        return Box::new(std::iter::empty());
    };
    if let Some(find) = spec.movable_keys {
        return find(args);
    }
    let (first, last, step) = spec.keys;
    if first <= 0 || step <= 0 {
        return Box::new(std::iter::empty());
    }
    let last = if last < 0 {
        args.len() as i64 + last
    } else {
        last
    };
    Box::new(
        (first..=last)
            .step_by(step as usize)
            .filter_map(move |i| args.get(i as usize)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&'static str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::from_static(w.as_bytes()))
            .collect()
    }

    fn keys(words: &[&'static str]) -> Vec<Bytes> {
        keys_of(&args(words)).cloned().collect()
    }

    #[test]
    fn keys_follow_the_command_table() {
        assert_eq!(keys(&["GET", "a"]), args(&["a"]));
        assert_eq!(keys(&["mset", "a", "1", "b", "2"]), args(&["a", "b"]));
        assert_eq!(keys(&["DEL", "a", "b", "c"]), args(&["a", "b", "c"]));
        assert!(keys(&["PING"]).is_empty());
        assert!(keys(&["NOSUCH", "a"]).is_empty());
        assert!(keys(&[]).is_empty());
        assert_eq!(
            keys(&["WITH", "R=1", "--", "MGET", "x", "y"]),
            args(&["x", "y"])
        );
        assert!(keys(&["WITH", "R=1", "MGET", "x"]).is_empty());
        assert_eq!(
            keys(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
            args(&["a", "b"])
        );
    }

    #[test]
    fn every_command_is_found_case_insensitively_and_once() {
        for spec in all() {
            assert!(std::ptr::eq(
                lookup(spec.name.to_uppercase().as_bytes()).unwrap_or(spec),
                spec
            ));
            assert_eq!(all().filter(|s| s.name == spec.name).count(), 1);
        }
    }
}
