//! [`Layout`]: which nodes hold which partition, in which order, at which epoch.
//!
//! The table is stored flat, partition-major: row `p` is `table[p·K .. (p+1)·K]` and holds every
//! node exactly once. Positions `0..width` are balanced (see the `assign` module); the rest are
//! fallbacks in rendezvous order. Keeping whole rows (not just the primaries) lets a preference
//! list be two borrowed slices with no allocation on the request path.

use std::fmt;

use crate::assign::{assign, Previous};
use crate::error::RingError;
use crate::hash::{key_hash, partition_of, MAX_PARTITION_BITS};
use crate::id::{NamespaceId, NodeId, PartitionId};
use crate::preference::PreferenceList;

/// Largest table (`partitions × nodes` entries) a layout may have: 4 Mi entries, 32 MiB of node
/// ids. It bounds the memory and the size of a layout sent between nodes; every node must agree
/// on it, so it is a protocol constant. With the default 1024 partitions it allows 4096 nodes.
pub const MAX_TABLE_ENTRIES: usize = 1 << 22;

/// Balanced width used when the operator does not choose: the largest replication factor a
/// namespace may then use.
pub const DEFAULT_WIDTH: u8 = 3;

/// The cluster layout: for every partition, the ordered list of all nodes. Versioned by `epoch`.
///
/// Built only by [`Layout::initial`] and [`Layout::rebalanced`], or decoded (and validated) with
/// serde; every instance therefore satisfies [`Layout::validate`].
#[derive(Clone, PartialEq, Eq)]
pub struct Layout {
    pub(crate) epoch: u64,
    pub(crate) partition_bits: u8,
    /// Configured width. The balanced width in force is `min(width, nodes.len())`; the
    /// configured one is kept so a cluster that shrank below it regains it when it grows.
    pub(crate) width: u8,
    pub(crate) nodes: Vec<NodeId>,
    pub(crate) table: Vec<NodeId>,
}

impl Layout {
    /// The first layout (epoch 1).
    ///
    /// `width` is the number of leading positions kept balanced: the largest replication factor
    /// a namespace may use (default [`DEFAULT_WIDTH`]). It is clamped to the node count while
    /// the cluster is smaller than that.
    pub fn initial(nodes: &[NodeId], partition_bits: u8, width: u8) -> Result<Layout, RingError> {
        if partition_bits > MAX_PARTITION_BITS {
            return Err(RingError::PartitionBits {
                bits: partition_bits,
                max: MAX_PARTITION_BITS,
            });
        }
        if width == 0 {
            return Err(RingError::ZeroWidth);
        }
        let nodes = sorted_members(nodes, 1usize << partition_bits)?;
        let q = 1usize << partition_bits;
        let effective = usize::from(width).min(nodes.len());
        let table = assign(q, &nodes, effective, None);
        Ok(Layout {
            epoch: 1,
            partition_bits,
            width,
            nodes,
            table,
        })
    }

    /// The next layout (epoch + 1) for a new node set, moving as little as possible from `self`.
    ///
    /// Partition count and configured width are kept. Rebalancing to the same node set returns
    /// the same table under the next epoch.
    pub fn rebalanced(&self, nodes: &[NodeId]) -> Result<Layout, RingError> {
        let epoch = self
            .epoch
            .checked_add(1)
            .ok_or(RingError::EpochExhausted { epoch: self.epoch })?;
        let q = self.partition_count() as usize;
        let nodes = sorted_members(nodes, q)?;
        let effective = usize::from(self.width).min(nodes.len());
        let previous = Previous {
            nodes: &self.nodes,
            table: &self.table,
        };
        let table = assign(q, &nodes, effective, Some(previous));
        Ok(Layout {
            epoch,
            partition_bits: self.partition_bits,
            width: self.width,
            nodes,
            table,
        })
    }

    /// Version of this layout; a higher epoch supersedes a lower one.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// `log2` of the partition count.
    pub fn partition_bits(&self) -> u8 {
        self.partition_bits
    }

    /// Number of partitions, `Q = 2^partition_bits`.
    pub fn partition_count(&self) -> u32 {
        1u32 << self.partition_bits
    }

    /// Member nodes, ascending.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Number of leading positions in force that are balanced: the configured width clamped to
    /// the node count. It is the largest replication factor a namespace may use.
    pub fn width(&self) -> u8 {
        // Fits: the result is at most the configured `u8` width.
        usize::from(self.width).min(self.nodes.len()) as u8
    }

    /// Width the layout was created with, before clamping to the node count.
    pub fn configured_width(&self) -> u8 {
        self.width
    }

    /// The partition of `key` in namespace `ns` (see [`key_hash`] and [`partition_of`]).
    pub fn partition_for_key(&self, ns: NamespaceId, key: &[u8]) -> PartitionId {
        partition_of(key_hash(ns, key), self.partition_bits)
    }

    /// The full row of partition `p`: every node once, balanced positions first.
    pub fn row(&self, p: PartitionId) -> Result<&[NodeId], RingError> {
        let k = self.nodes.len();
        let start = p.0 as usize * k;
        self.table
            .get(start..start + k)
            .filter(|_| p.0 < self.partition_count())
            .ok_or(RingError::PartitionOutOfRange {
                partition: p,
                count: self.partition_count(),
            })
    }

    /// Ordered replicas of a partition: the first `n` are primaries, the rest are fallbacks in
    /// a deterministic order. Fails if `n == 0`, `n > width` (which is never above the node
    /// count) or the partition does not exist.
    pub fn preference_list(
        &self,
        p: PartitionId,
        n: usize,
    ) -> Result<PreferenceList<'_>, RingError> {
        let max = usize::from(self.width());
        if n == 0 || n > max {
            return Err(RingError::ReplicationFactor {
                n,
                max,
                width: self.width,
                nodes: self.nodes.len(),
            });
        }
        let row = self.row(p)?;
        let (primaries, fallbacks) = row.split_at(n);
        Ok(PreferenceList {
            primaries,
            fallbacks,
        })
    }

    /// Number of partition-replica slots among the first `n` positions (compared as sets per
    /// partition) that `other` holds on a node that `self` does not: the replicas a change from
    /// `self` to `other` must copy. `n` is clamped to each layout's node count. Partitions are
    /// matched by id (a cluster never changes its partition count).
    pub fn moved_replicas(&self, other: &Layout, n: usize) -> usize {
        let count = self.partition_count().max(other.partition_count());
        (0..count)
            .map(PartitionId)
            .map(|p| {
                let mine = self.prefix(p, n);
                let theirs = other.prefix(p, n);
                theirs.iter().filter(|node| !mine.contains(node)).count()
            })
            .sum()
    }

    /// For every member, how many partitions hold it among their first `n` positions, in node
    /// order. With `n = 1` this is each node's primary share.
    pub fn ownership(&self, n: usize) -> Vec<(NodeId, usize)> {
        let k = self.nodes.len();
        let n = n.min(k);
        let mut counts = vec![0usize; k];
        for row in self.table.chunks_exact(k.max(1)) {
            for node in row.iter().take(n) {
                if let Ok(i) = self.nodes.binary_search(node) {
                    counts[i] += 1;
                }
            }
        }
        self.nodes.iter().copied().zip(counts).collect()
    }

    /// Checks the shape of a layout received from elsewhere: epoch at least 1, supported
    /// partition bits, width at least 1, a strictly ascending non-empty node list, a table of
    /// `partitions × nodes` entries in which every row holds every node exactly once.
    pub fn validate(&self) -> Result<(), RingError> {
        if self.epoch == 0 {
            return Err(RingError::ZeroEpoch);
        }
        if self.partition_bits > MAX_PARTITION_BITS {
            return Err(RingError::PartitionBits {
                bits: self.partition_bits,
                max: MAX_PARTITION_BITS,
            });
        }
        if self.width == 0 {
            return Err(RingError::ZeroWidth);
        }
        let k = self.nodes.len();
        if k == 0 {
            return Err(RingError::NoNodes);
        }
        check_table_size(self.partition_count() as usize, k)?;
        for (index, pair) in self.nodes.windows(2).enumerate() {
            if pair[0] >= pair[1] {
                return Err(RingError::UnsortedNodes {
                    index: index + 1,
                    node: pair[1],
                });
            }
        }
        let expected = self.partition_count() as usize * k;
        if self.table.len() != expected {
            return Err(RingError::TableSize {
                expected,
                actual: self.table.len(),
            });
        }
        let mut seen_in = vec![u32::MAX; k];
        for (p, row) in self.table.chunks_exact(k).enumerate() {
            for (position, node) in row.iter().enumerate() {
                let fresh = match self.nodes.binary_search(node) {
                    Ok(i) if seen_in[i] != p as u32 => {
                        seen_in[i] = p as u32;
                        true
                    }
                    _ => false,
                };
                if !fresh {
                    return Err(RingError::BadRow {
                        partition: PartitionId(p as u32),
                        position,
                        node: *node,
                    });
                }
            }
        }
        Ok(())
    }

    /// The first `n` entries of partition `p`'s row (empty for a partition out of range).
    pub(crate) fn prefix(&self, p: PartitionId, n: usize) -> &[NodeId] {
        self.row(p)
            .map(|row| row.get(..n.min(row.len())).unwrap_or(row))
            .unwrap_or(&[])
    }
}

impl fmt::Debug for Layout {
    /// Summarises instead of printing thousands of table entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout")
            .field("epoch", &self.epoch)
            .field("partition_bits", &self.partition_bits)
            .field("width", &self.width)
            .field("nodes", &self.nodes)
            .field("table_entries", &self.table.len())
            .finish()
    }
}

/// `nodes` sorted, rejecting an empty list, duplicates and tables over the size limit.
fn sorted_members(nodes: &[NodeId], partitions: usize) -> Result<Vec<NodeId>, RingError> {
    if nodes.is_empty() {
        return Err(RingError::NoNodes);
    }
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(RingError::DuplicateNode { node: pair[0] });
    }
    check_table_size(partitions, sorted.len())?;
    Ok(sorted)
}

fn check_table_size(partitions: usize, nodes: usize) -> Result<(), RingError> {
    if partitions.saturating_mul(nodes) > MAX_TABLE_ENTRIES {
        return Err(RingError::TableTooLarge {
            partitions: partitions as u32,
            nodes,
            max: MAX_TABLE_ENTRIES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_cannot_wrap() {
        let mut layout = Layout::initial(&[NodeId(1)], 2, 1).expect("layout");
        layout.epoch = u64::MAX;
        assert_eq!(
            layout.rebalanced(&[NodeId(1)]),
            Err(RingError::EpochExhausted { epoch: u64::MAX })
        );
    }
}
