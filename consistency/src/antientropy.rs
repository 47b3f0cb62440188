//! Anti-entropy: the per-partition hash trees replicas compare, and the messages of an exchange.
//!
//! # The tree
//! Every replica keeps, for each `(namespace, partition)` it holds data of, a TicTac-style tree
//! ([`SegmentTree`]): [`SEGMENTS`] segment hashes, each the XOR of the *record hashes* of the
//! keys in that segment (a key's segment is the low bits of its [`kvorum_ring::key_hash`]). A
//! record hash is the checksum the storage layer seals every record with, a pure function of
//! (stored key, stored bytes), so two replicas holding the same state of a key hold the same
//! record hash, and a segment hash is the same exactly when (with overwhelming probability)
//! every key in it is held in the same state.
//!
//! Why XOR: it makes the tree *incremental* and *order-free*. A write that changes a key's record
//! from hash `a` to `b` updates its segment with `^ a ^ b` (absent = 0), whatever other writes
//! do meanwhile and in whatever order their updates land; no lock orders the updates, and no
//! rebuild is needed after a write. The root is the XOR of the segments, so comparing two
//! partitions costs one `u64` until they differ.
//!
//! # An exchange (one initiating replica, one peer, one namespace)
//! 1. [`AeRequest::Roots`] for every partition both hold a replica of: one message, answered
//!    after the peer's state is durable (a tombstone the peer reports must survive its crash).
//! 2. For each partition whose roots differ: [`AeRequest::Segments`], then
//!    [`AeRequest::Keys`] for the differing segments (`(key, record hash)` pairs, paged).
//! 3. The initiator compares with its own keys, [`AeRequest::Fetch`]es the peer's objects of
//!    the keys that differ, merges them into its own, and sends the merged states back with
//!    [`AeRequest::Merge`]: both replicas then hold the join of the two states.
//! 4. Tombstone purge (by the partition's coordinating replica only, see the node's
//!    `antientropy` module): [`AeRequest::Hints`] to the nodes that may hold hints for the
//!    partition, then [`AeRequest::Purge`] of tombstones every replica is known to hold.
//!
//! Everything here is pure data; the node performs the exchange.

use kvorum_ring::{key_hash, NamespaceId, PartitionId};
use serde::{Deserialize, Serialize};

use crate::object::Object;

/// Segments per partition tree. 256 keeps a tree at 2 KiB and a partition of ~25 000 keys at
/// ~100 keys per segment, so one differing key costs a listing of ~100 `(key, hash)` pairs.
pub const SEGMENTS: usize = 256;

/// The segment of a key: the low bits of its key hash (the top bits are its partition, so the
/// low bits spread a partition's keys evenly over its segments).
pub fn segment_of(ns: NamespaceId, key: &[u8]) -> usize {
    (key_hash(ns, key) as usize) % SEGMENTS
}

/// One partition's tree: the XOR of the record hashes of the keys in each segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentTree {
    segments: Box<[u64; SEGMENTS]>,
    root: u64,
}

impl Default for SegmentTree {
    fn default() -> Self {
        SegmentTree {
            segments: Box::new([0; SEGMENTS]),
            root: 0,
        }
    }
}

impl SegmentTree {
    /// Records that a key of `segment` changed from record hash `before` to `after` (None:
    /// absent). Order-free: any interleaving of the same changes gives the same tree.
    pub fn change(&mut self, segment: usize, before: Option<u64>, after: Option<u64>) {
        let delta = before.unwrap_or(0) ^ after.unwrap_or(0);
        if let Some(slot) = self.segments.get_mut(segment % SEGMENTS) {
            *slot ^= delta;
        }
        self.root ^= delta;
    }

    /// The XOR of every segment: equal roots mean equal partitions.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The segment hashes, in segment order.
    pub fn segments(&self) -> &[u64] {
        &self.segments[..]
    }

    /// Whether the tree holds no key (every segment zero).
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|&s| s == 0)
    }
}

/// The segments whose hashes differ between two listings of [`SEGMENTS`] hashes (a listing of
/// another length is treated as all-zero past its end, so a malformed answer costs work, never
/// a missed difference).
pub fn differing_segments(ours: &[u64], theirs: &[u64]) -> Vec<u16> {
    (0..SEGMENTS)
        .filter(|&i| ours.get(i).copied().unwrap_or(0) != theirs.get(i).copied().unwrap_or(0))
        .map(|i| i as u16)
        .collect()
}

/// One key of a [`AeAnswer::Keys`] listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHash {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The key's record hash (see the module docs).
    pub hash: u64,
}

/// One key's state, as [`AeRequest::Fetch`] answers and [`AeRequest::Merge`] sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyObject {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// `None`: the replica holds no record of the key.
    pub object: Option<Object>,
}

/// What an anti-entropy exchange asks of a peer replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AeRequest {
    /// The roots of these partitions of `ns` (0 for a partition the peer holds nothing of).
    Roots {
        ns: NamespaceId,
        partitions: Vec<PartitionId>,
    },
    /// All [`SEGMENTS`] segment hashes of one partition.
    Segments {
        ns: NamespaceId,
        partition: PartitionId,
    },
    /// The `(key, record hash)` pairs of the keys in `segments` of one partition, in stored key
    /// order, starting after the user key `after`, reading at most `limit` stored records.
    Keys {
        ns: NamespaceId,
        partition: PartitionId,
        segments: Vec<u16>,
        #[serde(with = "serde_bytes")]
        after: Option<Vec<u8>>,
        limit: u32,
    },
    /// The stored states of these keys of one partition.
    Fetch {
        ns: NamespaceId,
        partition: PartitionId,
        keys: Vec<Vec<u8>>,
    },
    /// Merge these states into the stored ones (durably, before answering).
    Merge {
        ns: NamespaceId,
        partition: PartitionId,
        objects: Vec<KeyObject>,
    },
    /// Whether the peer holds any hint (for any target) of a key of this partition.
    Hints {
        ns: NamespaceId,
        partition: PartitionId,
    },
    /// Delete these tombstones, each only if its record still has exactly this hash.
    Purge {
        ns: NamespaceId,
        partition: PartitionId,
        tombstones: Vec<KeyHash>,
    },
}

/// A peer's answer to an [`AeRequest`], in the same order of variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AeAnswer {
    Roots(Vec<u64>),
    Segments(Vec<u64>),
    Keys {
        keys: Vec<KeyHash>,
        /// Where to continue (the last user key read), if the partition holds more records.
        #[serde(with = "serde_bytes")]
        next: Option<Vec<u8>>,
    },
    Objects(Vec<KeyObject>),
    Merged {
        /// Keys whose stored state changed.
        changed: u32,
    },
    Hints {
        held: bool,
    },
    Purged {
        removed: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_in_any_order_give_the_same_tree() {
        let changes = [
            (3, None, Some(11)),
            (3, Some(11), Some(12)),
            (200, None, Some(7)),
            (3, Some(12), None),
        ];
        let mut forward = SegmentTree::default();
        for &(s, b, a) in &changes {
            forward.change(s, b, a);
        }
        let mut backward = SegmentTree::default();
        for &(s, b, a) in changes.iter().rev() {
            backward.change(s, b, a);
        }
        assert_eq!(forward, backward);
        // Key in segment 3 was created and deleted: only segment 200's key remains.
        assert_eq!(forward.root(), 7);
        assert_eq!(forward.segments()[3], 0);
        assert!(!forward.is_empty());
    }

    #[test]
    fn differing_segments_are_found_even_in_short_listings() {
        let mut a = vec![0u64; SEGMENTS];
        let b = vec![0u64; SEGMENTS];
        a[5] = 1;
        a[SEGMENTS - 1] = 9;
        assert_eq!(differing_segments(&a, &b), vec![5, (SEGMENTS - 1) as u16]);
        assert_eq!(differing_segments(&a, &[]), vec![5, (SEGMENTS - 1) as u16]);
        assert!(differing_segments(&b, &b).is_empty());
    }

    #[test]
    fn segments_spread_keys() {
        let mut seen = [false; SEGMENTS];
        for i in 0..5000 {
            seen[segment_of(NamespaceId(0), format!("k{i}").as_bytes())] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
