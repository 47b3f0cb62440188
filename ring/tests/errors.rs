//! Every misuse is a typed error that names the offending value.

mod common;

use common::{nodes, BITS, WIDTH};
use kvorum_ring::{Layout, NodeId, PartitionId, RingError, MAX_PARTITION_BITS};

#[test]
fn building_a_layout_rejects_bad_inputs() {
    assert_eq!(Layout::initial(&[], BITS, WIDTH), Err(RingError::NoNodes));
    assert_eq!(
        Layout::initial(&[NodeId(4), NodeId(2), NodeId(4)], BITS, WIDTH),
        Err(RingError::DuplicateNode { node: NodeId(4) })
    );
    assert_eq!(
        Layout::initial(&nodes(3), MAX_PARTITION_BITS + 1, WIDTH),
        Err(RingError::PartitionBits {
            bits: 17,
            max: MAX_PARTITION_BITS
        })
    );
    assert_eq!(
        Layout::initial(&nodes(3), BITS, 0),
        Err(RingError::ZeroWidth)
    );
    assert!(matches!(
        Layout::initial(&nodes(65), MAX_PARTITION_BITS, WIDTH),
        Err(RingError::TableTooLarge {
            partitions: 65536,
            nodes: 65,
            ..
        })
    ));
    let layout = Layout::initial(&nodes(3), BITS, WIDTH).expect("layout");
    assert_eq!(layout.rebalanced(&[]), Err(RingError::NoNodes));
    assert_eq!(
        layout.rebalanced(&[NodeId(1), NodeId(1)]),
        Err(RingError::DuplicateNode { node: NodeId(1) })
    );
}

#[test]
fn preference_lists_reject_bad_replication_factors_and_partitions() {
    let layout = Layout::initial(&nodes(5), BITS, WIDTH).expect("layout");
    for n in [0, 4, 6] {
        assert_eq!(
            layout.preference_list(PartitionId(0), n),
            Err(RingError::ReplicationFactor {
                n,
                max: 3,
                width: 3,
                nodes: 5
            })
        );
    }
    assert_eq!(
        layout.preference_list(PartitionId(1024), 1),
        Err(RingError::PartitionOutOfRange {
            partition: PartitionId(1024),
            count: 1024
        })
    );
    // With fewer nodes than the width, n is capped by the node count.
    let small = Layout::initial(&nodes(2), BITS, WIDTH).expect("layout");
    assert!(small.preference_list(PartitionId(0), 2).is_ok());
    assert!(matches!(
        small.preference_list(PartitionId(0), 3),
        Err(RingError::ReplicationFactor { max: 2, .. })
    ));
}

#[test]
fn errors_read_well() {
    let err = RingError::ReplicationFactor {
        n: 4,
        max: 3,
        width: 3,
        nodes: 5,
    };
    assert_eq!(
        err.to_string(),
        "replication factor 4 is outside 1..=3 (layout width 3, 5 nodes)"
    );
    assert_eq!(
        RingError::DuplicateNode { node: NodeId(4) }.to_string(),
        "node n4 is listed more than once"
    );
}

#[test]
fn preference_list_helpers() {
    let layout = Layout::initial(&nodes(5), BITS, WIDTH).expect("layout");
    let p = layout.partition_for_key(kvorum_ring::NamespaceId(0), b"user:42");
    let list = layout.preference_list(p, 2).expect("list");
    let all: Vec<NodeId> = list.iter().collect();
    assert_eq!(all.len(), 5);
    assert_eq!(&all[..2], list.primaries);
    assert!(list.is_primary(all[0]) && list.is_primary(all[1]));
    assert!(!list.is_primary(all[2]));
    assert_eq!(layout.row(p).expect("row"), all.as_slice());
}

#[test]
fn debug_output_summarises_the_table() {
    let layout = Layout::initial(&nodes(3), BITS, WIDTH).expect("layout");
    let text = format!("{layout:?}");
    assert!(text.contains("table_entries: 3072"), "{text}");
    assert!(text.len() < 300, "{text}");
}
