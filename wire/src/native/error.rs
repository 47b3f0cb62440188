//! Errors the native protocol reports, each with what is known about whether it was applied.

use serde::{Deserialize, Serialize};

/// A failed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?} ({applied:?}): {message}")]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub applied: Applied,
    /// The node's explanation, as RESP would give it (`UNAVAILABLE not enough replicas …`).
    pub message: String,
}

/// Whether a failed request changed anything.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// Definitely not applied: retrying cannot apply it twice.
    No,
    /// A write that may have been applied (some replicas may hold it).
    Maybe,
}

/// What went wrong.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Too few replicas reachable to try (`UNAVAILABLE`); nothing was sent.
    Unavailable,
    /// Replicas did not answer in time (`TIMEOUT`); a write may have been applied.
    Timeout,
    /// The operation does not fit the key's type (`WRONGTYPE`).
    WrongType,
    /// The operation was refused before anything changed (not an integer, overflow, a
    /// consistency below the namespace's floor, a value too large, …).
    Refused,
    /// No namespace of that name or id.
    NoSuchNamespace,
    /// The connection has not said hello, or its credentials were wrong.
    Auth,
    /// The request could not be decoded or breaks a limit.
    Invalid,
    /// The node is at a limit (connections, streams, queued requests): try again later.
    Overloaded,
    /// Anything else (the node is shutting down, storage failed, …).
    Internal,
}
