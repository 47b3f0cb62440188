//! What changes between two layouts, partition by partition.
//!
//! Handoff after a rebalance needs to know, for each partition, which nodes must receive a copy
//! and which may drop theirs; [`Layout::changes`] lists exactly that for a replication factor.

use crate::id::{NodeId, PartitionId};
use crate::layout::Layout;

/// How the first `n` replicas of one partition differ between two layouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionChange {
    /// The partition.
    pub partition: PartitionId,
    /// Nodes that are replicas in the new layout but not in the old one (they need the data).
    pub added: Vec<NodeId>,
    /// Nodes that were replicas in the old layout but are not in the new one.
    pub removed: Vec<NodeId>,
}

impl Layout {
    /// Partitions whose set of the first `n` replicas differs from `self` to `next`, in
    /// partition order. `n` is clamped to each layout's node count. Both layouts must have the
    /// same partition count; partitions that only one of them has are reported with an empty
    /// side.
    pub fn changes(&self, next: &Layout, n: usize) -> Vec<PartitionChange> {
        let count = self.partition_count().max(next.partition_count());
        (0..count)
            .filter_map(|p| {
                let p = PartitionId(p);
                let old = self.prefix(p, n);
                let new = next.prefix(p, n);
                let added: Vec<NodeId> = new.iter().filter(|x| !old.contains(x)).copied().collect();
                let removed: Vec<NodeId> =
                    old.iter().filter(|x| !new.contains(x)).copied().collect();
                (!added.is_empty() || !removed.is_empty()).then_some(PartitionChange {
                    partition: p,
                    added,
                    removed,
                })
            })
            .collect()
    }
}
