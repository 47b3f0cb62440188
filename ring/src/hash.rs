//! The key hash and the partition function: the part of placement that clients reproduce.
//!
//! Both are specified byte for byte in `docs/PLACEMENT.md` so that a client in any language can
//! route a key without asking a node. Changing anything here moves every key in every existing
//! cluster; the test vectors in `tests/hash_vectors.rs` exist to make such a change impossible to
//! miss.

use xxhash_rust::xxh3::{xxh3_64, Xxh3Default};

use crate::id::{NamespaceId, NodeId, PartitionId};

/// Partition bits used when the operator does not choose: `Q = 1024` partitions.
pub const DEFAULT_PARTITION_BITS: u8 = 10;

/// Largest supported partition bits (`Q = 65536`). Every node must agree on the partition
/// count, so this is a protocol constant rather than a per-node setting.
pub const MAX_PARTITION_BITS: u8 = 16;

/// Keys up to this length are hashed from one stack buffer; longer keys are streamed. Both paths
/// give the same value (xxh3 streaming equals one-shot), the split only avoids an allocation.
const STACK_HASH_LEN: usize = 256;

/// The stable key hash: `xxh3_64` with seed 0 over the 4 bytes of the namespace id in big-endian
/// order followed by the raw key bytes.
///
/// The namespace id is part of the input so that the same key in two namespaces lands on
/// unrelated partitions, spreading hot key names.
pub fn key_hash(ns: NamespaceId, key: &[u8]) -> u64 {
    let prefix = ns.0.to_be_bytes();
    if key.len() <= STACK_HASH_LEN - prefix.len() {
        let mut buf = [0u8; STACK_HASH_LEN];
        let total = prefix.len() + key.len();
        buf[..prefix.len()].copy_from_slice(&prefix);
        buf[prefix.len()..total].copy_from_slice(key);
        xxh3_64(&buf[..total])
    } else {
        let mut hasher = Xxh3Default::new();
        hasher.update(&prefix);
        hasher.update(key);
        hasher.digest()
    }
}

/// The partition of a hash: its top `partition_bits` bits, read as an unsigned number.
///
/// `0` bits means a single partition, `PartitionId(0)`. Values above 32 behave as 32, since a
/// [`PartitionId`] holds 32 bits; layouts never use more than [`MAX_PARTITION_BITS`].
/// Top bits (not `hash % Q`) are used so that doubling `Q` splits every partition in two.
pub fn partition_of(hash: u64, partition_bits: u8) -> PartitionId {
    let bits = u32::from(partition_bits.min(32));
    if bits == 0 {
        return PartitionId(0);
    }
    // `bits` is in 1..=32, so the shift is in 32..=63 and the result fits in 32 bits.
    PartitionId((hash >> (64 - bits)) as u32)
}

/// Rendezvous score of `node` for `partition`: `xxh3_64` (seed 0) over the partition id as 4
/// big-endian bytes followed by the node id as 8 big-endian bytes.
///
/// Fallback positions (and the starting point of a first layout) order nodes by descending
/// score, ties broken by ascending node id. A node's score does not depend on which other nodes
/// exist, so a join or leave only inserts or removes that node in each order.
pub fn rendezvous_score(partition: PartitionId, node: NodeId) -> u64 {
    let mut buf = [0u8; 12];
    buf[..4].copy_from_slice(&partition.0.to_be_bytes());
    buf[4..].copy_from_slice(&node.0.to_be_bytes());
    xxh3_64(&buf)
}

/// `nodes` sorted into rendezvous order for `partition` (highest score first).
pub(crate) fn rendezvous_order(partition: PartitionId, nodes: &mut [NodeId]) {
    nodes.sort_by(|a, b| {
        rendezvous_score(partition, *b)
            .cmp(&rendezvous_score(partition, *a))
            .then(a.cmp(b))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_the_top_bits() {
        assert_eq!(partition_of(u64::MAX, 10), PartitionId(1023));
        assert_eq!(partition_of(1 << 54, 10), PartitionId(1));
        assert_eq!(partition_of((1 << 54) - 1, 10), PartitionId(0));
        assert_eq!(partition_of(u64::MAX, 0), PartitionId(0));
        assert_eq!(partition_of(u64::MAX, 16), PartitionId(65535));
        assert_eq!(partition_of(u64::MAX, 200), PartitionId(u32::MAX));
    }

    #[test]
    fn doubling_partitions_splits_each_in_two() {
        for key in [&b"a"[..], b"user:1", b"zzz", b""] {
            let h = key_hash(NamespaceId(0), key);
            assert_eq!(partition_of(h, 11).0 >> 1, partition_of(h, 10).0);
        }
    }

    #[test]
    fn stack_and_streaming_paths_agree() {
        // Lengths around the stack/streaming boundary must hash like the one-shot function.
        for len in [0usize, 1, 251, 252, 253, 254, 300, 5000] {
            let key: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut input = 9u32.to_be_bytes().to_vec();
            input.extend_from_slice(&key);
            assert_eq!(key_hash(NamespaceId(9), &key), xxh3_64(&input), "len {len}");
        }
    }

    #[test]
    fn namespace_changes_the_hash() {
        assert_ne!(
            key_hash(NamespaceId(0), b"k"),
            key_hash(NamespaceId(1), b"k")
        );
    }
}
