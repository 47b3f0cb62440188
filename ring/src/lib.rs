//! Key placement for kvorum: which nodes hold a key.
//!
//! A key goes to a partition by a specified hash; a partition goes to an ordered list of nodes
//! by a versioned [`Layout`]. The first `n` nodes of that list are the key's primaries for a
//! namespace with replication factor `n`; the others are fallbacks that stand in for
//! unreachable primaries. `docs/PLACEMENT.md` specifies the hash for client implementers and
//! shows the measured balance and movement.
//!
//! This crate is pure: no I/O, no clocks, no randomness, no async runtime. Every function is a
//! deterministic function of its arguments, so every node (and the simulator) computes the same
//! layout from the same inputs.
//!
//! # Layout of the crate
//!
//! - [`id`]: `NodeId`, `NamespaceId`, `PartitionId` newtypes.
//! - [`hash`]: the key hash (`xxh3_64` of namespace id ‖ key), the partition function (top bits)
//!   and the rendezvous score that orders fallbacks.
//! - [`layout`]: [`Layout`], its constructors, queries, `validate` and movement metrics.
//! - `assign`: the balanced, minimal-movement assignment that builds a layout's rows, one
//!   position at a time; `matching` solves one position as a minimum-cost matching.
//! - [`preference`]: [`PreferenceList`], a borrowed view of one row split at `n`.
//! - [`diff`]: [`PartitionChange`], what a rebalance adds and removes per partition.
//! - `wire`: the versioned serde form of a layout, validated on decode.
//! - [`error`]: the crate's error type, [`RingError`].
//!
//! # Invariants
//!
//! - Every row holds every member node exactly once, so any prefix is a set of distinct nodes.
//! - For every prefix length `n` up to [`Layout::width`], each node appears among the first `n`
//!   positions of `⌊Q·n/K⌋` or `⌈Q·n/K⌉` partitions (`Q` partitions, `K` nodes), whenever
//!   `Q ≥ K` (see `assign` for the degenerate case).
//! - A rebalance moves, at each prefix length, as few replicas as the previous prefix allows;
//!   the tests hold joins and leaves to within 1.3× of the unavoidable minimum.
//! - The same inputs always give the same layout, on every platform (no hash-map iteration, no
//!   randomness, explicit byte order).

pub mod diff;
pub mod error;
pub mod hash;
pub mod id;
pub mod layout;
pub mod preference;

mod assign;
mod matching;
mod wire;

pub use diff::PartitionChange;
pub use error::RingError;
pub use hash::{
    key_hash, partition_of, rendezvous_score, DEFAULT_PARTITION_BITS, MAX_PARTITION_BITS,
};
pub use id::{NamespaceId, NodeId, PartitionId};
pub use layout::{Layout, DEFAULT_WIDTH, MAX_TABLE_ENTRIES};
pub use preference::PreferenceList;
