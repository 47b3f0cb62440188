//! Test vectors for the key hash and the partition function.
//!
//! The same table is published in docs/PLACEMENT.md for client implementers. The expected
//! values were computed independently with the reference xxh3 implementation (Python
//! `xxhash.xxh3_64_intdigest` over `ns.to_bytes(4, "big") + key`). If this test fails, the
//! placement of every key in every existing cluster would change: do not update the values.

use kvorum_ring::{key_hash, partition_of, Layout, NamespaceId, NodeId, PartitionId};

/// 1000 bytes `i % 251` for `i` in `0..1000`: long enough to take the streaming path.
fn long_key() -> Vec<u8> {
    (0..1000u32).map(|i| (i % 251) as u8).collect()
}

fn vectors() -> Vec<(u32, Vec<u8>, u64, u32)> {
    vec![
        (0, b"".to_vec(), 0x48b2_c926_16fc_193d, 290),
        (0, b"k".to_vec(), 0x8212_2097_7773_1055, 520),
        (0, b"hello".to_vec(), 0xad8a_beed_4e33_5ea2, 694),
        (7, b"user:42".to_vec(), 0xcea2_8a02_d94b_da6c, 826),
        (0, vec![0xff; 64], 0x050d_b79c_0e24_d490, 20),
        (0x0102_0304, b"k".to_vec(), 0xab40_b867_5564_0cdd, 685),
        (3, long_key(), 0x2cfa_0124_e928_9244, 179),
    ]
}

#[test]
fn key_hash_matches_published_vectors() {
    for (ns, key, hash, _) in vectors() {
        assert_eq!(
            key_hash(NamespaceId(ns), &key),
            hash,
            "ns {ns} key {:?}",
            String::from_utf8_lossy(&key)
        );
    }
}

#[test]
fn partitions_for_1024_match_published_vectors() {
    let layout = Layout::initial(&[NodeId(1)], 10, 1).expect("layout");
    for (ns, key, hash, partition) in vectors() {
        assert_eq!(partition_of(hash, 10), PartitionId(partition));
        assert_eq!(
            layout.partition_for_key(NamespaceId(ns), &key),
            PartitionId(partition)
        );
    }
}

#[test]
fn rendezvous_score_matches_published_vectors() {
    // xxh3_64 over partition (4 bytes, big-endian) ‖ node id (8 bytes, big-endian).
    let vectors = [
        (0, 1, 0xe7f8_a348_5c49_4918),
        (5, 8, 0x388c_61b9_c623_5770),
        (1023, 0xffff_ffff_ffff_fff0, 0xb7a0_e0e2_e936_3e7e),
    ];
    for (partition, node, score) in vectors {
        assert_eq!(
            kvorum_ring::rendezvous_score(PartitionId(partition), NodeId(node)),
            score
        );
    }
}
