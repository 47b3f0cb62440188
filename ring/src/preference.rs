//! [`PreferenceList`]: the replicas of one partition for one replication factor.
//!
//! It borrows from the [`crate::Layout`] row, so building one on the request path costs two
//! slice splits and no allocation.

use crate::id::NodeId;

/// Ordered replicas of a partition for a replication factor `n`.
///
/// `primaries` are the `n` nodes that own the partition; `fallbacks` are every other node, in
/// the order in which they stand in for unreachable primaries (sloppy quorums, hinted handoff).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PreferenceList<'a> {
    /// The `n` owners, distinct.
    pub primaries: &'a [NodeId],
    /// All remaining nodes, distinct from the primaries, in stand-in order.
    pub fallbacks: &'a [NodeId],
}

impl<'a> PreferenceList<'a> {
    /// Primaries, then fallbacks.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + 'a {
        self.primaries.iter().chain(self.fallbacks.iter()).copied()
    }

    /// Whether `node` is one of the primaries.
    pub fn is_primary(&self, node: NodeId) -> bool {
        self.primaries.contains(&node)
    }
}
