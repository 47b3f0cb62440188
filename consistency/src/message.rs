//! Requests, replies and the peer messages of protocol version 6 (version 3 added
//! [`Message::Catalog`], version 4 a request's own replication factor and default TTL, [`Request::n`]
//! and [`Request::default_ttl_ms`], version 5 anti-entropy's [`Message::Ae`], version 6 writes
//! them compactly: structs as arrays of their fields, not maps of field names).
//!
//! Peer messages are carried by the node's transport inside frames that start with a protocol
//! version byte ([`PEER_PROTOCOL_VERSION`]); these types are that version's schema. A message only
//! ever names an operation by the sender's [`OpId`], so any node can answer any other without
//! shared state, and a late answer to an operation that already finished is simply ignored.

use kvorum_ring::{NamespaceId, NodeId, PartitionId};
use serde::{Deserialize, Serialize};

use crate::antientropy::{AeAnswer, AeRequest};
use crate::catalog::Catalog;
use crate::level::{Level, Preset};
use crate::object::{Kind, Object};
use crate::op::{Op, OpError, Outcome};

/// The peer protocol version these message types describe.
pub const PEER_PROTOCOL_VERSION: u8 = 6;

/// Names one operation of the node that sent a message; unique per node while it runs.
pub type OpId = u64;

/// Names one client request of the local driver; chosen by the driver.
pub type RequestId = u64;

/// A key inside its namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub ns: NamespaceId,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
}

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Get,
    Write(Op),
}

impl Command {
    pub fn is_write(&self) -> bool {
        !matches!(self, Command::Get)
    }
}

/// How many replicas a request needs: a named preset or explicit counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    Preset(Preset),
    Explicit(Level),
}

impl Consistency {
    pub fn resolve(self, n: usize) -> Level {
        match self {
            Consistency::Preset(p) => p.resolve(n),
            Consistency::Explicit(level) => level,
        }
    }
}

/// One client request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub key: Key,
    pub command: Command,
    pub consistency: Consistency,
    /// How long the coordinator waits for replicas before answering `Timeout`.
    pub timeout_ms: u64,
    /// The key's replication factor: its namespace's `N`, which may be below the cluster's
    /// (the key's primaries are then the first `n` of its partition's preference list). `None`
    /// takes the cluster's replication factor. It travels with the request so that a forwarded
    /// request is placed exactly as its first coordinator placed it.
    pub n: Option<usize>,
    /// The namespace's TTL in milliseconds: a write that leaves the key live without an expiry
    /// gives it one this far after the write's timestamp (Cassandra's `default_time_to_live`).
    pub default_ttl_ms: Option<u64>,
}

/// The outcome of a request. The error variants say what is known about a write:
/// [`Reply::Unavailable`] and [`Reply::Failed`] mean it was definitely not applied, while
/// [`Reply::Timeout`] means it may have been applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// A read's merged state (`None`: no replica holds the key).
    Value(Option<Object>),
    /// A write reached W replicas (or changed nothing and needed no replica), with what the op
    /// answers.
    Written {
        outcome: Outcome,
        /// Replicas known to hold the write when the client was answered, the coordinator's
        /// own included (1 for a write that changed nothing and so needed no other).
        acks: usize,
    },
    /// The op was refused before anything changed (`INCR` on a set): definitely not applied.
    Refused(OpError),
    /// Too few replicas were reachable to try; nothing was sent or applied.
    Unavailable { needed: usize, reachable: usize },
    /// Not enough replicas answered in time (or some failed after the write began): the write
    /// may have been applied on some replicas.
    Timeout { acks: usize, needed: usize },
    /// Refused before anything was applied (bad request, local storage failure before writing).
    Failed { reason: String },
}

/// Replica-to-replica messages. Answers carry the asker's `OpId`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Read the local state of a key.
    Fetch { op: OpId, key: Key },
    /// Answer to `Fetch`.
    Fetched {
        op: OpId,
        result: Result<Option<Object>, String>,
    },
    /// Merge this state of a key into the local one.
    Store { op: OpId, key: Key, object: Object },
    /// Keep this state of a key as a hint for `target`, a primary that could not be reached
    /// (sloppy quorum): the receiver is a fallback and hands it to `target` later. Answered by
    /// `Stored`.
    StoreHint {
        op: OpId,
        key: Key,
        object: Object,
        target: NodeId,
    },
    /// Answer to `Store` and `StoreHint`: the state is merged (and durable, per the node's fsync
    /// setting).
    Stored {
        op: OpId,
        result: Result<(), String>,
        /// Whether the state is on stable storage (the replica fsyncs before acknowledging).
        #[serde(default)]
        durable: bool,
    },
    /// Coordinate this write: sent by a node that is not a primary of the key to one that is.
    Forward { op: OpId, request: Request },
    /// Answer to `Forward`.
    Forwarded { op: OpId, reply: Reply },
    /// List the live keys this replica holds in partitions `partition..end` of `ns` (which
    /// share their primaries), in hash order, from `from_hash` on, at most about `limit`
    /// (`SCAN`, `KEYS`, `DBSIZE`). Served by the node, not the core: it reads storage only.
    List {
        op: OpId,
        ns: NamespaceId,
        partition: PartitionId,
        end: PartitionId,
        from_hash: u64,
        limit: u32,
    },
    /// Answer to `List`.
    Listed {
        op: OpId,
        result: Result<KeyPage, String>,
    },
    /// The sender's whole namespace catalog, sent on every change and periodically; the
    /// receiver merges it into its own (see [`crate::catalog`]). Served by the node, not the
    /// core. Unanswered; a receiver whose merged catalog differs sends its own back.
    Catalog { catalog: Catalog },
    /// An anti-entropy request (see [`crate::antientropy`]). Served by the node, not the core.
    Ae { op: OpId, request: AeRequest },
    /// Answer to `Ae`.
    AeAnswered {
        op: OpId,
        result: Result<AeAnswer, String>,
    },
}

/// A page of a partition's live keys, sorted by key hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPage {
    pub keys: Vec<ListedKey>,
    /// Where the next page starts (a hash), if the partition holds more keys.
    pub next: Option<u64>,
}

/// One live key of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedKey {
    /// The key's [`kvorum_ring::key_hash`]: listings are ordered by it, so a cursor is a hash.
    pub hash: u64,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    pub kind: Kind,
}
