//! `kvorum-client`: the native async Rust client for kvorum.
//!
//! It speaks kvorum's native protocol (QUIC, `kvorum-wire`), routes every request straight to
//! a primary of its key with the nodes' own placement code (`kvorum-ring`), lets each request
//! choose its consistency, returns concurrent writes as siblings with a causal context, and
//! retries only where a retry cannot apply a write twice.
//!
//! # Quick start
//!
//! ```no_run
//! use kvorum_client::{Client, Consistency};
//!
//! # async fn example() -> Result<(), kvorum_client::Error> {
//! // Any node's QUIC address; the CA of a `kvorum dev` cluster.
//! let client = Client::builder(["127.0.0.1:7379"])
//!     .ca_cert_pem("kvorum-data/tls/ca.pem")
//!     .connect()
//!     .await?;
//! let ns = client.namespace("default").await?;
//!
//! ns.set("greeting", "hello").consistency(Consistency::Quorum).await?;
//! let read = ns.get("greeting").await?;
//! assert_eq!(read.value()?.map(|v| v.as_ref()), Some(&b"hello"[..]));
//!
//! let visits = ns.incr("visits", 1).await?;
//! ns.add("tags", ["rust", "quic"]).await?;
//! ns.hset("user:1", [("name", "Ada")]).await?;
//! # let _ = visits;
//! # Ok(()) }
//! ```
//!
//! Runnable programs are in `client/examples/`: `quickstart`, `siblings` (resolving concurrent
//! writes with a context), `counters` and `consistency` (choosing consistency per request).
//!
//! # Concepts
//!
//! - **Namespaces** ([`Namespace`]) are keyspaces with their own replication factor and
//!   default consistency; every request is made on one.
//! - **Requests** are builders ([`request::Call`], [`GetMany`], [`SetMany`], [`Scan`]) with
//!   per-request options (module [`options`]); awaiting one runs it.
//! - **Siblings** ([`Siblings`]): a read returns every concurrent version of a key and the
//!   [`Context`] they form; a write with that context replaces exactly them.
//! - **Routing** (module [`topology`]): the client learns the membership from a seed, computes
//!   the layout the nodes compute, and sends each request to the first reachable primary of
//!   its key. A reply from a node with a newer layout epoch makes it fetch the topology again.
//! - **Errors** ([`Error`]) say whether a failed request may have been applied
//!   ([`Error::is_indeterminate`]); **retries** (module [`retry`]) are automatic only where
//!   safe: reads anywhere, writes that were never sent to the next primary, and writes whose
//!   reply was lost to the *same* node with the *same* request id, which that node
//!   de-duplicates.
//! - **Bounds**: at most [`ClientBuilder::max_in_flight`] requests at once, every call within
//!   its timeout, bounded frames, batches, scan pages and retries.
//!
//! # Placement helpers
//!
//! [`route`] computes where a key lives on a [`Layout`], exactly as the nodes do (the hash is
//! specified in docs/PLACEMENT.md).

mod batch;
mod client;
mod config;
mod connection;
mod error;
mod execute;
mod namespace;
pub mod options;
pub mod request;
pub mod retry;
mod scan;
mod tls;
pub mod topology;
mod value;

pub use batch::{GetMany, SetMany};
pub use client::Client;
pub use config::{ClientBuilder, Pem, CA_CERT_ENV, DEV_CA_CERT};
pub use error::{Applied, Error, ErrorKind, Result};
pub use namespace::Namespace;
pub use options::Consistency;
pub use retry::RetryPolicy;
pub use scan::Scan;
pub use topology::Topology;
pub use value::{Context, Siblings};

pub use bytes::Bytes;
pub use kvorum_consistency::{Preset, Spec};
pub use kvorum_ring::{Layout, NamespaceId, NodeId, PartitionId, RingError};

/// Where a key lives: its partition and the nodes that hold it, primaries first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub partition: PartitionId,
    pub primaries: Vec<NodeId>,
    pub fallbacks: Vec<NodeId>,
}

/// Routes a key of a namespace with replication factor `n` on a layout.
pub fn route(layout: &Layout, ns: NamespaceId, key: &[u8], n: usize) -> Result<Route, RingError> {
    let partition = layout.partition_for_key(ns, key);
    let list = layout.preference_list(partition, n)?;
    Ok(Route {
        partition,
        primaries: list.primaries.to_vec(),
        fallbacks: list.fallbacks.to_vec(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_the_servers_do() {
        let nodes: Vec<NodeId> = (1..=5).map(NodeId).collect();
        let layout = Layout::initial(&nodes, 10, 3).unwrap();
        let r = route(&layout, NamespaceId::DEFAULT, b"user:42", 3).unwrap();
        assert_eq!(
            r.partition,
            kvorum_ring::partition_of(kvorum_ring::key_hash(NamespaceId::DEFAULT, b"user:42"), 10)
        );
        assert_eq!(r.primaries.len(), 3);
        assert_eq!(r.fallbacks.len(), 2);
        assert!(r.primaries.iter().all(|p| !r.fallbacks.contains(p)));
    }
}
