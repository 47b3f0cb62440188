//! The serde form of a layout: round-trips, carries a format version, and is validated when
//! decoded so a malformed layout from the network is refused instead of routing requests.

mod common;

use common::{nodes, BITS, WIDTH};
use kvorum_ring::{Layout, NodeId};
use serde::Serialize;

/// Mirror of the encoded form, used to craft layouts the constructors would never produce.
#[derive(Serialize, Clone)]
#[serde(rename = "Layout")]
enum Crafted {
    V1(CraftedV1),
    V2(CraftedV1),
}

#[derive(Serialize, Clone)]
struct CraftedV1 {
    epoch: u64,
    partition_bits: u8,
    width: u8,
    nodes: Vec<NodeId>,
    table: Vec<NodeId>,
}

/// A well-formed layout with 2 partitions and nodes 1, 2, 3, in crafted form.
fn good() -> CraftedV1 {
    CraftedV1 {
        epoch: 4,
        partition_bits: 1,
        width: 2,
        nodes: vec![NodeId(1), NodeId(2), NodeId(3)],
        table: [1, 2, 3, 3, 1, 2].into_iter().map(NodeId).collect(),
    }
}

fn decode(crafted: &Crafted) -> Result<Layout, String> {
    let bytes = rmp_serde::to_vec(crafted).map_err(|e| e.to_string())?;
    rmp_serde::from_slice::<Layout>(&bytes).map_err(|e| e.to_string())
}

#[test]
fn layout_round_trips_compact_and_named() {
    let layout = Layout::initial(&nodes(7), BITS, WIDTH)
        .and_then(|l| l.rebalanced(&nodes(8)))
        .expect("layout");
    let compact = rmp_serde::to_vec(&layout).expect("encode");
    assert_eq!(
        rmp_serde::from_slice::<Layout>(&compact).expect("decode"),
        layout
    );
    let named = rmp_serde::to_vec_named(&layout).expect("encode");
    assert_eq!(
        rmp_serde::from_slice::<Layout>(&named).expect("decode"),
        layout
    );
}

#[test]
fn a_well_formed_crafted_layout_is_accepted() {
    let layout = decode(&Crafted::V1(good())).expect("valid");
    assert_eq!(layout.epoch(), 4);
    assert_eq!(layout.partition_count(), 2);
    let list = layout
        .preference_list(kvorum_ring::PartitionId(1), 2)
        .expect("list");
    assert_eq!(list.primaries, &[NodeId(3), NodeId(1)]);
    assert_eq!(list.fallbacks, &[NodeId(2)]);
}

#[test]
fn an_unknown_format_version_is_refused() {
    let err = decode(&Crafted::V2(good())).expect_err("V2 is not known");
    assert!(err.contains("V2") || err.contains("variant"), "{err}");
}

#[test]
fn malformed_layouts_are_refused_with_the_reason() {
    let cases: Vec<(&str, CraftedV1)> = vec![
        ("repeated", {
            let mut c = good();
            c.table[1] = NodeId(1);
            c
        }),
        ("unknown", {
            let mut c = good();
            c.table[4] = NodeId(9);
            c
        }),
        ("entries", {
            let mut c = good();
            c.table.pop();
            c
        }),
        ("ascending", {
            let mut c = good();
            c.nodes.swap(0, 1);
            c
        }),
        ("epoch 0", {
            let mut c = good();
            c.epoch = 0;
            c
        }),
        ("partition bits", {
            let mut c = good();
            c.partition_bits = 17;
            c
        }),
        ("width", {
            let mut c = good();
            c.width = 0;
            c
        }),
        ("at least one node", {
            let mut c = good();
            c.nodes.clear();
            c.table.clear();
            c
        }),
    ];
    for (expected, crafted) in cases {
        let err = decode(&Crafted::V1(crafted)).expect_err(expected);
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    }
}

#[test]
fn truncated_bytes_are_an_error_not_a_panic() {
    let layout = Layout::initial(&nodes(4), 4, WIDTH).expect("layout");
    let bytes = rmp_serde::to_vec(&layout).expect("encode");
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            rmp_serde::from_slice::<Layout>(&bytes[..cut]).is_err(),
            "cut {cut}"
        );
    }
}
