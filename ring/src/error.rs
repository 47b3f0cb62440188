//! The one error type of the crate.
//!
//! Variants carry the offending values by name so callers (and operators reading a log line)
//! see what was wrong without re-deriving it. Every variant is a caller or input mistake; the
//! assignment itself cannot fail once its inputs are valid.

use crate::id::{NodeId, PartitionId};

/// Why a layout could not be built, queried or accepted.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RingError {
    /// A layout needs at least one node.
    #[error("a layout needs at least one node")]
    NoNodes,
    /// The same node id was given twice.
    #[error("node {node} is listed more than once")]
    DuplicateNode {
        /// The repeated node.
        node: NodeId,
    },
    /// Partition bits above the supported maximum.
    #[error("partition bits {bits} exceed the maximum of {max}")]
    PartitionBits {
        /// Requested bits.
        bits: u8,
        /// [`crate::MAX_PARTITION_BITS`].
        max: u8,
    },
    /// A width of zero balances nothing and leaves no primaries.
    #[error("layout width must be at least 1")]
    ZeroWidth,
    /// The table (`partitions × nodes` entries) would exceed the size limit.
    #[error(
        "layout table of {partitions} partitions x {nodes} nodes exceeds the limit of {max} entries"
    )]
    TableTooLarge {
        /// Partition count.
        partitions: u32,
        /// Node count.
        nodes: usize,
        /// [`crate::MAX_TABLE_ENTRIES`].
        max: usize,
    },
    /// A replication factor outside `1..=min(width, nodes)`.
    #[error("replication factor {n} is outside 1..={max} (layout width {width}, {nodes} nodes)")]
    ReplicationFactor {
        /// Requested replication factor.
        n: usize,
        /// Largest usable value: `min(width, nodes)`.
        max: usize,
        /// The layout's balanced width.
        width: u8,
        /// The layout's node count.
        nodes: usize,
    },
    /// A partition id that the layout does not have.
    #[error("partition {partition} is outside 0..{count}")]
    PartitionOutOfRange {
        /// The requested partition.
        partition: PartitionId,
        /// The layout's partition count.
        count: u32,
    },
    /// The epoch cannot advance any further.
    #[error("layout epoch {epoch} cannot be advanced")]
    EpochExhausted {
        /// The current epoch.
        epoch: u64,
    },
    /// A received layout has epoch 0, which no layout is ever given.
    #[error("layout epoch 0 is not valid (the first layout has epoch 1)")]
    ZeroEpoch,
    /// A received layout lists its nodes out of order or twice.
    #[error("layout node list is not strictly ascending at index {index} ({node})")]
    UnsortedNodes {
        /// Index of the first out-of-order entry.
        index: usize,
        /// The entry found there.
        node: NodeId,
    },
    /// A received layout declares more balanced positions than nodes.
    #[error("layout width {width} exceeds its node count {nodes}")]
    WidthExceedsNodes {
        /// Declared width.
        width: u8,
        /// Node count.
        nodes: usize,
    },
    /// A received layout's table does not have `partitions × nodes` entries.
    #[error("layout table has {actual} entries, expected {expected}")]
    TableSize {
        /// `partitions × nodes`.
        expected: usize,
        /// Entries present.
        actual: usize,
    },
    /// A row of a received layout names a node that is not a member, or names one twice.
    #[error("partition {partition} position {position}: {node} is unknown or repeated")]
    BadRow {
        /// The partition whose row is wrong.
        partition: PartitionId,
        /// Position of the offending entry within the row.
        position: usize,
        /// The offending entry.
        node: NodeId,
    },
}
