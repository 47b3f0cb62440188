//! The client's errors, each of which says whether the request may have been applied.
//!
//! The one question an application must answer after a failed write is "did it happen?". Every
//! [`Error`] answers it with [`Error::applied`]:
//!
//! - [`Applied::No`]: the request definitely changed nothing (it was never sent, the node refused
//!   it before acting, or it was a read). Retrying it cannot apply it twice.
//! - [`Applied::Maybe`]: a write that may or may not have been applied (the connection was lost
//!   after it was sent, or replicas did not acknowledge it in time). [`Error::is_indeterminate`]
//!   is `true`; the application decides whether to read back, retry or give up. The client has
//!   already re-sent it to the same node with the same request id where that was possible (see
//!   [`crate::retry`]), so such an error means even that did not settle it.

use std::net::SocketAddr;
use std::time::Duration;

pub use kvorum_wire::native::{Applied, ErrorKind};

use kvorum_ring::NodeId;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed client call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly (a missing CA, an unreadable certificate file, no
    /// seeds, …). Nothing was sent.
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// A request's options contradict each other, or it breaks a limit, so it was not sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// No seed node could be reached to learn the cluster's topology.
    #[error("no seed node answered ({})", .attempts.join("; "))]
    NoSeed {
        /// What went wrong with each seed, in the order they were tried.
        attempts: Vec<String>,
    },

    /// A node could not be reached (connection, TLS handshake or hello failed), so the request
    /// was not sent to it. `node` is `None` for a seed, whose id is not known before its hello.
    #[error("cannot reach {} at {addr}: {reason}", who(*.node))]
    Connect {
        node: Option<NodeId>,
        addr: SocketAddr,
        reason: String,
    },

    /// The connection failed after the request was (or may have been) sent, and no reply came.
    #[error("connection to node {node} lost before its reply ({reason}); applied: {applied:?}")]
    ConnectionLost {
        node: NodeId,
        reason: String,
        applied: Applied,
    },

    /// The client's deadline passed before an answer came.
    #[error("no answer within {after:?}; applied: {applied:?}")]
    Timeout { after: Duration, applied: Applied },

    /// A node answered with an error (`node` is `None` for a seed's refused hello).
    #[error("{} answered {kind:?}: {message} (applied: {applied:?})", who(*.node))]
    Server {
        node: Option<NodeId>,
        kind: ErrorKind,
        applied: Applied,
        message: String,
    },

    /// A node answered something this client does not expect (a reply of another request's
    /// kind, a negative count): a bug on one side, or a version mismatch.
    #[error("unexpected answer from node {node}: {reason}")]
    Protocol {
        node: NodeId,
        reason: String,
        applied: Applied,
    },

    /// [`crate::Siblings::value`] was asked for the one value of a key that holds several
    /// concurrent ones. Read them all with [`crate::Siblings::values`] and write the resolved
    /// value back with [`crate::Siblings::context`].
    #[error(
        "the key holds {count} concurrent values: read them with .values() and resolve with \
         .context()"
    )]
    Siblings { count: usize },

    /// The topology names no node (an empty cluster), so no request can be routed.
    #[error("the cluster topology names no node")]
    NoNodes,

    /// The client was closed with [`crate::Client::close`].
    #[error("the client is closed")]
    Closed,
}

/// How messages name a node.
fn who(node: Option<NodeId>) -> String {
    match node {
        Some(node) => format!("node {node}"),
        None => "the seed".to_owned(),
    }
}

impl Error {
    /// Whether the request may have changed data. See the module docs.
    pub fn applied(&self) -> Applied {
        match self {
            Error::ConnectionLost { applied, .. }
            | Error::Timeout { applied, .. }
            | Error::Server { applied, .. }
            | Error::Protocol { applied, .. } => *applied,
            Error::Config(_)
            | Error::InvalidRequest(_)
            | Error::NoSeed { .. }
            | Error::Connect { .. }
            | Error::Siblings { .. }
            | Error::NoNodes
            | Error::Closed => Applied::No,
        }
    }

    /// `true` for a write that may have been applied: the client cannot tell whether it
    /// happened. Reads are never indeterminate.
    pub fn is_indeterminate(&self) -> bool {
        self.applied() == Applied::Maybe
    }

    /// The node's error kind, for errors a node answered.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Server { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether the same call may succeed if the application tries again later: the cluster was
    /// unreachable, overloaded or slow, as opposed to a request that is wrong in itself
    /// (`WRONGTYPE`, a refused value, bad credentials, a bad option). Says nothing about
    /// whether a write was applied: check [`Error::is_indeterminate`] first.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Server { kind, .. } => crate::retry::is_transient(*kind),
            Error::NoSeed { .. }
            | Error::Connect { .. }
            | Error::ConnectionLost { .. }
            | Error::Timeout { .. } => true,
            Error::Config(_)
            | Error::InvalidRequest(_)
            | Error::Protocol { .. }
            | Error::Siblings { .. }
            | Error::NoNodes
            | Error::Closed => false,
        }
    }

    /// The same error as the answer to a read: a read changes nothing, whatever befell it.
    pub(crate) fn for_read(self) -> Error {
        match self {
            Error::ConnectionLost { node, reason, .. } => Error::ConnectionLost {
                node,
                reason,
                applied: Applied::No,
            },
            Error::Timeout { after, .. } => Error::Timeout {
                after,
                applied: Applied::No,
            },
            Error::Protocol { node, reason, .. } => Error::Protocol {
                node,
                reason,
                applied: Applied::No,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(kind: ErrorKind, applied: Applied) -> Error {
        Error::Server {
            node: Some(NodeId(2)),
            kind,
            applied,
            message: "m".into(),
        }
    }

    #[test]
    fn a_write_lost_after_sending_is_indeterminate_and_a_refused_one_is_not() {
        let lost = Error::ConnectionLost {
            node: NodeId(1),
            reason: "reset".into(),
            applied: Applied::Maybe,
        };
        assert!(lost.is_indeterminate());
        assert!(lost.is_transient());
        let connect = Error::Connect {
            node: None,
            addr: ([127, 0, 0, 1], 1).into(),
            reason: "refused".into(),
        };
        assert!(!connect.is_indeterminate());
        assert!(connect
            .to_string()
            .starts_with("cannot reach the seed at 127.0.0.1:1"));
        assert!(server(ErrorKind::Timeout, Applied::Maybe).is_indeterminate());
        assert!(!server(ErrorKind::Unavailable, Applied::No).is_indeterminate());
        assert!(!server(ErrorKind::WrongType, Applied::No).is_transient());
        assert!(server(ErrorKind::Overloaded, Applied::No).is_transient());
        assert_eq!(
            server(ErrorKind::WrongType, Applied::No).kind(),
            Some(ErrorKind::WrongType)
        );
    }

    #[test]
    fn a_read_is_never_indeterminate() {
        let lost = Error::ConnectionLost {
            node: NodeId(1),
            reason: "reset".into(),
            applied: Applied::Maybe,
        };
        assert!(!lost.for_read().is_indeterminate());
        let timeout = Error::Timeout {
            after: Duration::from_secs(1),
            applied: Applied::Maybe,
        };
        assert!(!timeout.for_read().is_indeterminate());
    }

    #[test]
    fn messages_name_the_node_and_the_outcome() {
        let text = server(ErrorKind::Unavailable, Applied::No).to_string();
        assert!(
            text.contains("node 2") || text.contains("node n2"),
            "{text}"
        );
        assert!(
            text.contains("Unavailable") && text.contains("No"),
            "{text}"
        );
        let siblings = Error::Siblings { count: 3 }.to_string();
        assert!(siblings.contains("3 concurrent values"), "{siblings}");
    }
}
