//! `kvorum-client`: the native async Rust client for kvorum.
//!
//! The full client (QUIC with its own ALPN, per-request consistency, causal contexts and
//! siblings, token-aware routing, safe retries) is planned; today this crate holds what a
//! client shares with the servers, so that routing can never drift from placement:
//!
//! - [`route`]: which partition and which primaries serve a key, computed with exactly the
//!   hash and layout the nodes use (`kvorum-ring`; the hash is specified in docs/PLACEMENT.md).
//! - Re-exports of the request vocabulary of `kvorum-consistency` ([`Consistency`], [`Preset`]).

pub use kvorum_consistency::{Consistency, Preset};
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
