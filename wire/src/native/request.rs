//! What a client asks.

use bytes::Bytes;
use kvorum_consistency::Spec;
use kvorum_ring::NamespaceId;
use serde::{Deserialize, Serialize};

/// One request: the single frame a client sends on a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The first request of a connection: the protocol version and credentials.
    Hello(Hello),
    /// The cluster's membership and layout parameters ([`crate::native::Topology`]).
    Topology,
    /// A namespace's id and replication factor, by name ([`crate::native::NamespaceInfo`]).
    Namespace { name: String },
    /// One operation on one key.
    Op(OpRequest),
    /// Several operations, each answered as if sent alone, in order; they run concurrently and
    /// are not atomic together. At most `[native] max_batch` of them.
    Batch(Vec<OpRequest>),
    /// A page of a namespace's keys in key-hash order.
    Scan(ScanRequest),
}

/// The opening request of a connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`crate::native::NATIVE_PROTOCOL_VERSION`] of the client.
    pub protocol: u8,
    /// The cluster's password (`[auth] requirepass`), if it has one and the client has no
    /// certificate of the cluster CA.
    pub password: Option<String>,
    /// Shown in the node's logs.
    pub client_name: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for Hello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hello")
            .field("protocol", &self.protocol)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("client_name", &self.client_name)
            .finish()
    }
}

/// A client-chosen id, unique per logical request (random 128 bits). A retry of the same
/// request carries the same id, which lets the node answer it without applying it twice.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u128);

/// One operation on one key of a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRequest {
    pub id: RequestId,
    pub ns: NamespaceId,
    pub key: Bytes,
    /// What the request asks for; what it leaves open comes from the namespace's default, and
    /// the namespace's floors refuse what is too weak (as `WITH ... --` over RESP).
    pub consistency: Spec,
    pub op: Op,
}

/// The operations of the native protocol. Reads answer with what every replica they heard
/// from holds, merged; writes answer once `W` replicas hold them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Every sibling of a string key with the causal context they form
    /// ([`crate::native::OpReply::Siblings`]).
    Get,
    /// Writes a string. With `context`, replaces exactly the siblings that context covers
    /// (a context from `Get`); without, replaces what the key holds. `ttl_ms`: expire that
    /// long after the write.
    Set {
        value: Bytes,
        context: Option<String>,
        ttl_ms: Option<u64>,
    },
    /// Deletes the key, whatever its type ([`crate::native::OpReply::Int`]: 1 if it existed).
    Delete,
    /// Adds `delta` to a counter (created at 0): the new value.
    Incr { delta: i64 },
    /// Adds members to a set: how many were new.
    SAdd { members: Vec<Bytes> },
    /// Removes members from a set: how many were there.
    SRem { members: Vec<Bytes> },
    /// A set's members.
    SMembers,
    /// Sets hash fields: how many were new.
    HSet { fields: Vec<(Bytes, Bytes)> },
    /// One hash field's value.
    HGet { field: Bytes },
    /// Every field of a hash with its value.
    HGetAll,
    /// Removes hash fields: how many were there.
    HDel { fields: Vec<Bytes> },
}

impl Op {
    /// Whether the op writes (and so carries a de-duplicated [`RequestId`]).
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Get | Op::SMembers | Op::HGet { .. } | Op::HGetAll)
    }
}

/// A page of keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRequest {
    pub ns: NamespaceId,
    /// Resume at this key hash (0 to start; then the previous page's `next`).
    pub from_hash: u64,
    /// About this many keys (the node caps it at `[native] max_scan_count`).
    pub count: u32,
    pub consistency: Spec,
}
