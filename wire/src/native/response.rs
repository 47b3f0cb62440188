//! What a node answers.

use std::net::SocketAddr;

use bytes::Bytes;
use kvorum_consistency::Spec;
use kvorum_ring::NamespaceId;
use serde::{Deserialize, Serialize};

use super::error::ErrorReply;

/// The single frame a node sends back on a request's stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The epoch of the layout the answering node places keys with. A client holding an older
    /// one fetches [`crate::native::Request::Topology`] again.
    pub epoch: u64,
    pub body: Body,
}

/// The answer to each kind of request, in the order of [`crate::native::Request`]'s variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    Welcome(Welcome),
    Topology(Topology),
    Namespace(NamespaceInfo),
    Op(Result<OpReply, ErrorReply>),
    Batch(Vec<Result<OpReply, ErrorReply>>),
    Scan(ScanPage),
    /// The request as a whole failed (not authenticated, malformed, unknown namespace,
    /// overloaded).
    Error(ErrorReply),
}

/// A successful hello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The answering node's id.
    pub node: u64,
    /// Its build's version (`CARGO_PKG_VERSION`).
    pub version: String,
}

/// The cluster as the answering node knows it: enough for a client to compute the layout with
/// [`kvorum_ring::Layout::initial`] exactly as every node does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub epoch: u64,
    pub partition_bits: u8,
    /// The layout's configured width (balanced positions).
    pub width: u8,
    /// The cluster's replication factor (`N` of `default`).
    pub replication: usize,
    /// Every node, the answering one included, with the address its native protocol listens on.
    pub nodes: Vec<TopologyNode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyNode {
    pub id: u64,
    pub addr: SocketAddr,
}

/// A namespace as a client routes and reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    pub id: NamespaceId,
    /// Its replication factor: a key's primaries are the first `n` of its preference list.
    pub n: usize,
    /// Its default consistency.
    pub default: Spec,
    /// `true` for `CONFLICT lww`: reads show only the winning sibling.
    pub lww: bool,
}

/// A successful operation's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpReply {
    /// `Get`: the causal context (hand it to `Set` to resolve) and every sibling's value
    /// (`None` for a sibling that is a delete); empty if the key is absent.
    Siblings {
        context: String,
        values: Vec<Option<Bytes>>,
    },
    /// A write that answers nothing more.
    Done,
    /// A count or a counter's value.
    Int(i64),
    /// `SMembers`.
    Members(Vec<Bytes>),
    /// `HGet`.
    Field(Option<Bytes>),
    /// `HGetAll`.
    Fields(Vec<(Bytes, Bytes)>),
}

/// A page of keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPage {
    pub keys: Vec<Bytes>,
    /// Where the next page starts; `None` when the walk is complete.
    pub next: Option<u64>,
}
